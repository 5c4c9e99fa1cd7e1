/*
 * incjson.c - see incjson.h.
 *
 * Written directly into a growing buffer, keys in a fixed order, so the
 * bytes are stable for replay diffs.  Customers of an area incident are the
 * union of its linked sites' tenants, each at the highest tier it holds
 * there.
 *
 * SLA fields: a site incident with clocks (ev->sla set) carries "clocks"
 * (each clock's sla_clock_view() at the event's time), "escalation_level"
 * (0 station, 1 branch, 2 headquarters, null before any climb),
 * "response_score" (null until the ack clock stops) and
 * "resolution_grade" (null until the resolve clock stops).  Without clocks
 * (area incidents, engines without an SLA config) "clocks" is {} and the
 * other three are null.
 *
 * A complaint incident ("kind":"complaint") has its site, "root_cause":
 * null, "alarms": [], its one customer, clocks ack and resolve only, and
 * "complaint": {customer, text, actor} after "area_incident".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correlator/alarm.h"
#include "correlator/incjson.h"
#include "correlator/sla.h"
#include "daemon/mem.h"
#include "daemon/utc.h"

/*
 * The encoder writes the bytes jansson's json_dumps(JSON_COMPACT) would
 * write for the same tree (test_incjson checks this on every kind of
 * incident against an independent jansson-built oracle in tests/support)
 * without building a tree: on a replayed day the tree cost about 27 us an
 * event, most of replay's time.  Strings are
 * escaped as jansson escapes them; they are valid UTF-8 by the time they
 * get here (config, replay and action parsers check it).
 */
/*
 * Where the time of an event went (callgrind, 1,000-site generated day,
 * 9,133 events, before this layout): escaping strings byte by byte with
 * three compares per byte 44 %, formatting times 18 % (each instant
 * formatted, then scanned again as a string to escape), the capacity
 * check and realloc behind every write 10 %.  So: a capacity check that
 * inlines (the realloc is out of line, the first block is 2 KB, most
 * events fit), a 256-byte table that tells which bytes need escaping,
 * fixed strings of our own (enum names) copied without a scan, and times
 * written straight into the buffer from a four-entry cache of the last
 * instants formatted (an event repeats a few: at, opened_at, raised_at).
 * Measured before/after in docs/correlation.md ("Events").
 */
#define IJ_FIRST	2048	/* first block: most events fit */

static void __attribute__((noinline))
ij_grow(struct incjson_buf *b, size_t more)
{
	while (b->n + more > b->cap)
		b->cap = b->cap ? b->cap * 2 : IJ_FIRST;
	b->p = xrealloc(b->p, b->cap);
}

/* Room for `more` bytes after b->n. */
static inline void
ij_need(struct incjson_buf *b, size_t more)
{
	if (b->n + more > b->cap)
		ij_grow(b, more);
}

static inline void
ij_raw(struct incjson_buf *b, const char *s, size_t n)
{
	ij_need(b, n);
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

#define IJ_LIT(b, s)	ij_raw((b), (s), sizeof(s) - 1)

/*
 * Bytes jansson escapes: 0 none, else the letter after the backslash, or
 * 'u' for \u00XX.  Everything from 0x20 up but '"' and '\\' is copied as
 * is (UTF-8 included).
 */
static const unsigned char ij_esc[256] = {
	['\0'] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u', [0x04] = 'u',
	[0x05] = 'u', [0x06] = 'u', [0x07] = 'u', ['\b'] = 'b', ['\t'] = 't',
	['\n'] = 'n', [0x0b] = 'u', ['\f'] = 'f', ['\r'] = 'r', [0x0e] = 'u',
	[0x0f] = 'u', [0x10] = 'u', [0x11] = 'u', [0x12] = 'u', [0x13] = 'u',
	[0x14] = 'u', [0x15] = 'u', [0x16] = 'u', [0x17] = 'u', [0x18] = 'u',
	[0x19] = 'u', [0x1a] = 'u', [0x1b] = 'u', [0x1c] = 'u', [0x1d] = 'u',
	[0x1e] = 'u', [0x1f] = 'u', ['"'] = '"', ['\\'] = '\\',
};

/* A string of the caller's data, escaped. */
static void
ij_str(struct incjson_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strlen(s), i;
	char *o;

	ij_need(b, 2 + 6 * len);	/* every byte escaped, at worst */
	o = b->p + b->n;
	*o++ = '"';
	for (i = 0; i < len && ij_esc[u[i]] == 0; i++)
		;
	memcpy(o, s, i);		/* the usual case: all of it */
	o += i;
	for (; i < len; i++) {
		unsigned char e = ij_esc[u[i]];

		if (e == 0) {
			*o++ = (char)u[i];
			continue;
		}
		*o++ = '\\';
		*o++ = (char)e;
		if (e == 'u') {
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[u[i] >> 4];
			*o++ = hex[u[i] & 15];
		}
	}
	*o++ = '"';
	b->n = (size_t)(o - b->p);
}

/* One of our own names (enum tables): nothing in it to escape. */
static void
ij_name(struct incjson_buf *b, const char *s)
{
	size_t len = strlen(s);

	ij_need(b, len + 2);
	b->p[b->n] = '"';
	memcpy(b->p + b->n + 1, s, len);
	b->p[b->n + 1 + len] = '"';
	b->n += len + 2;
}

/*
 * A customer id, and with acct_on its place in the account.  One ij_str()
 * escaped (a backslash in the text: it writes none of its own) is one the
 * scan leaves to jansson.
 */
static void
ij_cust_id(struct incjson_buf *b, const char *id)
{
	size_t at = b->n, len;
	struct incjson_span *sp;

	ij_str(b, id);
	if (!b->acct_on)
		return;
	len = b->n - at - 2;		/* without its quotes */
	if (b->acct.ncust == b->capcust) {
		b->capcust = b->capcust ? b->capcust * 2 : 16;
		b->acct_cust = xreallocarray(b->acct_cust, b->capcust,
		    sizeof(*b->acct_cust));
	}
	sp = &b->acct_cust[b->acct.ncust++];
	sp->off = (uint32_t)(at + 1 - b->acct_start);
	sp->len = (uint32_t)len;
	if (memchr(b->p + at + 1, '\\', len) != NULL)
		b->acct_ok = 0;
}

/* The incident's tier (one of our names), and with acct_on its place. */
static void
ij_tier(struct incjson_buf *b, const char *name)
{
	size_t at = b->n;

	ij_name(b, name);
	if (!b->acct_on)
		return;
	b->acct.tier.off = (uint32_t)(at + 1 - b->acct_start);
	b->acct.tier.len = (uint32_t)(b->n - at - 2);
	b->acct.has_tier = 1;
}

static void
ij_u64(struct incjson_buf *b, uint64_t v)
{
	char tmp[24];
	int i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	ij_raw(b, tmp + i, sizeof(tmp) - (size_t)i);
}

static void
ij_i64(struct incjson_buf *b, int64_t v)
{
	if (v < 0) {
		IJ_LIT(b, "-");
		ij_u64(b, (uint64_t)0 - (uint64_t)v);
	} else {
		ij_u64(b, (uint64_t)v);
	}
}

static void
ij_bool(struct incjson_buf *b, int v)
{
	if (v)
		IJ_LIT(b, "true");
	else
		IJ_LIT(b, "false");
}

/* An instant as a JSON string: utc_format()'s text, quoted. */
static void
ij_time(struct incjson_buf *b, int64_t ms)
{
	unsigned k = (unsigned)ms & 3;

	if (b->tms[k] != ms) {
		utc_format(ms, b->tstr[k]);
		b->tms[k] = ms;
	}
	ij_need(b, UTC_LEN + 1);
	b->p[b->n] = '"';
	memcpy(b->p + b->n + 1, b->tstr[k], UTC_LEN - 1);
	b->p[b->n + UTC_LEN] = '"';
	b->n += UTC_LEN + 1;
}

static void
ij_id(struct incjson_buf *b, const struct corr_event *ev, uint64_t num)
{
	char id[CORR_ID_LEN];

	corr_id_format(id, sizeof(id), ev->prefix, ev->shard, num);
	ij_str(b, id);
}

/* A string, or null for NULL. */
static void
ij_nstr(struct incjson_buf *b, const char *s)
{
	if (s != NULL)
		ij_str(b, s);
	else
		IJ_LIT(b, "null");
}

/*
 * A member: k is the literal before the value, its key with the comma or
 * brace ahead of it (",\"seq\":"), so each member is one line and one
 * copy of constant bytes, as before.
 */
#define IJ_KSTR(b, k, s)	(IJ_LIT(b, k), ij_str((b), (s)))
#define IJ_KNSTR(b, k, s)	(IJ_LIT(b, k), ij_nstr((b), (s)))
#define IJ_KNAME(b, k, s)	(IJ_LIT(b, k), ij_name((b), (s)))
#define IJ_KU64(b, k, v)	(IJ_LIT(b, k), ij_u64((b), (v)))
#define IJ_KBOOL(b, k, v)	(IJ_LIT(b, k), ij_bool((b), (v)))
#define IJ_KTIME(b, k, ms)	(IJ_LIT(b, k), ij_time((b), (ms)))

/*
 * The bytes of sla_clocks_json() and the three fields after it.  A
 * complaint has no arrival clock: its "clocks" are ack (respond) and
 * resolve.
 */
static void
ij_sla(struct incjson_buf *b, const struct corr_event *ev)
{
	const struct sla_incident *si = &ev->inc->sla;
	int complaint = ev->inc->kind == CORR_KIND_COMPLAINT;

	IJ_LIT(b, ",\"clocks\":{");
	for (unsigned k = 0; k < SLA__NCLOCKS; k++) {
		struct sla_clock_view v;

		if (complaint && k == SLA_ARRIVE)
			continue;
		sla_clock_view(ev->sla, si, (enum sla_clock_kind)k, ev->at, &v);
		if (k > 0)
			IJ_LIT(b, ",");
		ij_name(b, sla_clock_name((enum sla_clock_kind)k));
		IJ_KNAME(b, ":{\"state\":",
		    sla_clock_state_name((enum sla_clock_state)v.state));
		IJ_LIT(b, ",\"deadline\":");
		if (v.has_deadline)
			ij_time(b, v.deadline_ms);
		else
			IJ_LIT(b, "null");
		IJ_LIT(b, ",\"budget_ms\":");
		ij_i64(b, v.duration_ms);
		IJ_LIT(b, ",\"remaining_ms\":");
		ij_i64(b, v.remaining_ms);
		IJ_KBOOL(b, ",\"paused\":", v.paused);
		IJ_KBOOL(b, ",\"met\":", v.met);
		IJ_KBOOL(b, ",\"breached\":", v.breached);
		IJ_LIT(b, ",\"warnings\":");
		ij_u64(b, v.warnings);
		IJ_LIT(b, "}");
	}
	IJ_LIT(b, "},\"escalation_level\":");
	if (si->level >= 0)
		ij_u64(b, (uint64_t)si->level);
	else
		IJ_LIT(b, "null");
	IJ_LIT(b, ",\"response_score\":");
	if (si->response_score > 0)
		ij_u64(b, (uint64_t)si->response_score);
	else
		IJ_LIT(b, "null");
	IJ_LIT(b, ",\"resolution_grade\":");
	if (si->grade != SLA_GRADE_NONE)
		ij_name(b, sla_grade_name((enum sla_grade)si->grade));
	else
		IJ_LIT(b, "null");
}

struct ij_cust {
	const char *id;
	enum tier tier;
};

/*
 * A complaint names its one customer, with its tier at the site (the
 * site's effective tier if the configuration no longer lists it there);
 * the incident's tier is the site's, which runs its clocks.
 */
static void
ij_complaint_customers(struct incjson_buf *b, const struct fleet *f,
    const struct corr_incident *ci)
{
	const struct fleet_site *s = &f->sites[ci->site];
	enum tier tier = (enum tier)s->tier;

	for (size_t i = 0; i < s->ntenants; i++)
		if (strcmp(s->tenants[i].customer, ci->customer) == 0) {
			tier = (enum tier)s->tenants[i].tier;
			break;
		}
	IJ_LIT(b, ",\"customers\":[{\"id\":");
	ij_cust_id(b, ci->customer);
	IJ_KNAME(b, ",\"tier\":", fleet_tier_name(tier));
	IJ_LIT(b, "}],\"tier\":");
	ij_tier(b, fleet_tier_name((enum tier)s->tier));
}

static void
ij_customers(struct incjson_buf *b, const struct fleet *f,
    const struct corr_incident *ci)
{
	struct ij_cust stackc[16], *cs = stackc;
	size_t n = 0, cap = 16;
	enum tier eff = TIER_STANDARD;
	uint32_t nsites = ci->kind == CORR_KIND_AREA ? ci->nlinks : 1;

	if (ci->kind == CORR_KIND_COMPLAINT) {
		ij_complaint_customers(b, f, ci);
		return;
	}
	for (uint32_t l = 0; l < nsites; l++) {
		const struct fleet_site *s = &f->sites[ci->kind == CORR_KIND_SITE ?
		    ci->site : ci->links[l].site];

		for (size_t i = 0; i < s->ntenants; i++) {
			size_t k;

			for (k = 0; k < n; k++)
				if (strcmp(cs[k].id, s->tenants[i].customer) == 0)
					break;
			if (k < n) {
				if (s->tenants[i].tier == TIER_PREMIUM)
					cs[k].tier = TIER_PREMIUM;
				continue;
			}
			if (n == cap) {
				cs = cs == stackc ? memcpy(xmalloc(2 * cap *
				    sizeof(*cs)), stackc, sizeof(stackc)) :
				    xreallocarray(cs, 2 * cap, sizeof(*cs));
				cap *= 2;
			}
			cs[n].id = s->tenants[i].customer;
			cs[n].tier = (enum tier)s->tenants[i].tier;
			n++;
		}
		if (s->tier > eff)
			eff = (enum tier)s->tier;
	}
	IJ_LIT(b, ",\"customers\":[");
	for (size_t k = 0; k < n; k++) {
		if (k > 0)
			IJ_LIT(b, ",");
		IJ_LIT(b, "{\"id\":");
		ij_cust_id(b, cs[k].id);
		IJ_KNAME(b, ",\"tier\":", fleet_tier_name(cs[k].tier));
		IJ_LIT(b, "}");
	}
	IJ_LIT(b, "],\"tier\":");
	ij_tier(b, fleet_tier_name(eff));
	if (cs != stackc)
		xfree(cs);
}

static void
ij_alarm(struct incjson_buf *b, const struct fleet *f, const struct corr_alarm *a)
{
	IJ_KSTR(b, "{\"device\":", f->devices[a->device].id);
	IJ_KSTR(b, ",\"code\":", f->codes[a->code]);
	IJ_KNAME(b, ",\"severity\":",
	    fleet_severity_name((enum severity)a->severity));
	IJ_KBOOL(b, ",\"active\":", a->active);
	IJ_KTIME(b, ",\"raised_at\":", a->raised_at);
	IJ_LIT(b, ",\"cleared_at\":");
	if (a->cleared_at != 0)
		ij_time(b, a->cleared_at);
	else
		IJ_LIT(b, "null");
	IJ_KU64(b, ",\"repeats\":", a->repeats);
	IJ_KU64(b, ",\"cycles\":", a->cycles);
	IJ_KBOOL(b, ",\"flapping\":", a->flapping);
	IJ_LIT(b, "}");
}

void
incjson_buf_init(struct incjson_buf *b)
{
	memset(b, 0, sizeof(*b));
	for (unsigned k = 0; k < 4; k++)
		b->tms[k] = k + 1;	/* slot k never holds k + 1: empty */
}

void
incjson_buf_fini(struct incjson_buf *b)
{
	xfree(b->p);
	xfree(b->spans);
	xfree(b->acct_cust);
	b->p = NULL;
	b->spans = NULL;
	b->acct_cust = NULL;
	b->n = b->cap = 0;
	b->nspans = b->capspans = 0;
	b->capcust = 0;
	b->acct.ncust = 0;
}

size_t
incjson_append(struct incjson_buf *b, const struct fleet *f,
    const struct corr_event *ev)
{
	const struct corr_incident *ci = ev->inc;
	size_t start = b->n, steps_at;

	if (b->acct_on) {
		memset(&b->acct, 0, sizeof(b->acct));
		b->acct.has_incident = 1;
		b->acct.planned = ci->planned;
		b->acct.flapping = ci->flapping;
		b->acct.chronic = ci->chronic;
		b->acct_ok = 1;
		b->acct_start = start;
	}
	IJ_KNAME(b, "{\"schema\":\"" INCJSON_SCHEMA "\",\"event\":",
	    corr_evtype_name((enum corr_evtype)ev->type));
	IJ_KU64(b, ",\"seq\":", ev->seq);
	IJ_KTIME(b, ",\"at\":", ev->at);
	IJ_KSTR(b, ",\"incident\":{\"id\":", ci->id);
	IJ_KNAME(b, ",\"kind\":", ci->kind == CORR_KIND_SITE ? "site" :
	    ci->kind == CORR_KIND_AREA ? "area" : "complaint");
	IJ_KNSTR(b, ",\"site\":", ci->kind != CORR_KIND_AREA ?
	    f->sites[ci->site].id : NULL);
	IJ_KSTR(b, ",\"area\":", f->areas[ci->area]);
	IJ_LIT(b, ",\"region\":");
	if (ci->kind != CORR_KIND_AREA)
		ij_name(b, fleet_region_name(
		    (enum region)f->sites[ci->site].region));
	else
		IJ_LIT(b, "null");
	IJ_KNAME(b, ",\"severity\":",
	    fleet_severity_name((enum severity)ci->severity));
	IJ_KNAME(b, ",\"state\":", corr_state_name((enum corr_state)ci->state));
	IJ_KNSTR(b, ",\"owner\":", ci->owner);
	IJ_KTIME(b, ",\"opened_at\":", ci->opened_at);
	IJ_LIT(b, ",\"root_cause\":");
	if (ci->root != NULL) {
		IJ_KSTR(b, "{\"device\":", f->devices[ci->root->device].id);
		IJ_KSTR(b, ",\"alarm\":", f->codes[ci->root->code]);
		IJ_KTIME(b, ",\"raised_at\":", ci->root->raised_at);
		IJ_LIT(b, "}");
	} else {
		IJ_LIT(b, "null");
	}
	IJ_LIT(b, ",\"alarms\":[");
	for (uint32_t i = 0; i < ci->nalarms; i++) {
		if (i > 0)
			IJ_LIT(b, ",");
		ij_alarm(b, f, ci->alarms[i]);
	}
	IJ_LIT(b, "]");
	ij_customers(b, f, ci);
	IJ_KBOOL(b, ",\"planned\":", ci->planned);
	if (ci->planned_reason != NULL)
		IJ_KSTR(b, ",\"planned_reason\":", ci->planned_reason);
	IJ_KBOOL(b, ",\"chronic\":", ci->chronic);
	IJ_LIT(b, ",\"chronic_of\":[");
	for (uint32_t i = 0; i < ci->nchronic; i++) {
		if (i > 0)
			IJ_LIT(b, ",");
		ij_id(b, ev, ci->chronic_of[i]);
	}
	IJ_KBOOL(b, "],\"flapping\":", ci->flapping);
	IJ_KU64(b, ",\"flap_cycles\":", ci->flap_cycles);
	IJ_KU64(b, ",\"repeats\":", ci->repeats);
	/* only on a close that carried one (docs/correlation.md) */
	if (ci->satisfaction != 0)
		IJ_KU64(b, ",\"satisfaction\":", ci->satisfaction);
	if (ev->sla != NULL && ci->has_sla)
		ij_sla(b, ev);
	else
		IJ_LIT(b, ",\"clocks\":{},\"escalation_level\":null,"
		    "\"response_score\":null,\"resolution_grade\":null");
	IJ_LIT(b, ",\"area_incident\":");
	if (ci->area_num != 0)
		ij_id(b, ev, ci->area_num);
	else
		IJ_LIT(b, "null");
	if (ci->kind == CORR_KIND_AREA) {
		IJ_LIT(b, ",\"links\":[");
		for (uint32_t i = 0; i < ci->nlinks && i < ev->links_max; i++) {
			if (i > 0)
				IJ_LIT(b, ",");
			ij_id(b, ev, ci->links[i].num);
		}
		IJ_KU64(b, "],\"links_total\":", ci->nlinks);
	} else if (ci->kind == CORR_KIND_COMPLAINT) {
		/* what the customer said, as taken: the opening step's */
		IJ_KSTR(b, ",\"complaint\":{\"customer\":", ci->customer);
		IJ_KSTR(b, ",\"text\":", ci->steps[0].note);
		IJ_KSTR(b, ",\"actor\":", ci->steps[0].actor);
		IJ_LIT(b, "}");
	}
	IJ_KU64(b, ",\"timeline_len\":", ci->nsteps);
	steps_at = b->n + 1;	/* its ',' */
	IJ_LIT(b, "},\"steps\":[");
	b->nspans = 0;
	if (b->spans_on && b->capspans < ci->nsteps - ev->first_step) {
		b->capspans = ci->nsteps - ev->first_step;
		b->spans = xreallocarray(b->spans, b->capspans,
		    sizeof(*b->spans));
	}
	for (uint32_t i = ev->first_step; i < ci->nsteps; i++) {
		const struct corr_step *s = &ci->steps[i];
		size_t at;

		if (i > ev->first_step)
			IJ_LIT(b, ",");
		at = b->n;
		IJ_KTIME(b, "{\"at\":", s->at);
		IJ_KSTR(b, ",\"actor\":", s->actor);
		IJ_KNAME(b, ",\"action\":", s->action);	/* static, ours */
		IJ_KNSTR(b, ",\"note\":", s->note);
		IJ_LIT(b, "}");
		if (b->spans_on) {
			b->spans[b->nspans].off = (uint32_t)(at - start);
			b->spans[b->nspans].len = (uint32_t)(b->n - at);
			b->nspans++;
		}
	}
	if (b->acct_on) {	/* the member, ',' to ']' */
		b->acct.steps.off = (uint32_t)(steps_at - start);
		b->acct.steps.len = (uint32_t)(b->n + 1 - steps_at);
	}
	IJ_LIT(b, "]}\n");
	return b->n - start;
}

char *
incjson_encode(const struct fleet *f, const struct corr_event *ev)
{
	struct incjson_buf b;

	incjson_buf_init(&b);
	incjson_append(&b, f, ev);
	b.p[b.n - 1] = '\0';	/* the newline */
	return b.p;		/* the time cache dies with b; p is the caller's */
}

/* A number with %.17g (it reads back as the same double), or null. */
static void
ij_real(struct incjson_buf *b, double v)
{
	char tmp[32];
	int n;

	if (!isfinite(v)) {
		IJ_LIT(b, "null");
		return;
	}
	n = snprintf(tmp, sizeof(tmp), "%.17g", v);
	ij_raw(b, tmp, (size_t)n);
}

size_t
incjson_alarm(struct incjson_buf *b, const struct incjson_alarm *a)
{
	size_t n0 = b->n;

	IJ_KTIME(b, "{\"at\":", a->at);
	IJ_KSTR(b, ",\"device\":", a->device);
	IJ_KSTR(b, ",\"site\":", a->site);
	IJ_KSTR(b, ",\"code\":", a->code);
	IJ_KNAME(b, ",\"edge\":", a->edge == ALARM_RAISE ? "raise" : "clear");
	IJ_KNAME(b, ",\"severity\":",
	    fleet_severity_name((enum severity)a->severity));
	IJ_LIT(b, ",\"value\":");
	ij_real(b, a->value);
	IJ_LIT(b, "}");
	return b->n - n0;
}

size_t
incjson_tick(struct incjson_buf *b, int64_t at, const char *source)
{
	size_t n0 = b->n;

	IJ_KTIME(b, "{\"at\":", at);
	IJ_KSTR(b, ",\"tick\":", source);
	IJ_LIT(b, "}");
	return b->n - n0;
}

size_t
incjson_telemetry(struct incjson_buf *b, const char *device, const char *site,
    const struct incjson_sample *s, size_t n)
{
	size_t n0 = b->n;

	IJ_KSTR(b, "{\"device\":", device);
	IJ_KSTR(b, ",\"site\":", site);
	IJ_LIT(b, ",\"samples\":[");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			IJ_LIT(b, ",");
		IJ_KSTR(b, "{\"point\":", s[i].name);
		IJ_LIT(b, ",\"value\":");
		ij_real(b, s[i].value);
		IJ_KNSTR(b, ",\"unit\":", s[i].unit);
		IJ_KNAME(b, ",\"quality\":",
		    fleet_quality_name((enum fleet_quality)s[i].quality));
		IJ_KTIME(b, ",\"at\":", s[i].at);
		IJ_LIT(b, "}");
	}
	IJ_LIT(b, "]}");
	return b->n - n0;
}

/* ---- the reader of what incjson_append writes (incjson_scan) ---- */

struct ijr_rd {
	const char	*p, *end;
};

static void
ijr_ws(struct ijr_rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' ||
	    *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

/*
 * Past one string (at its '"'); its body in [*s, *s + *n), *esc set if it
 * has an escape.  0, or -1.  Found by memchr, not byte by byte (the walk
 * was the scan's largest cost in perf of a restart's start dumps); raw
 * control bytes are not looked for here (ijr_plain does, in what it hands
 * out).
 */
static int
ijr_str(struct ijr_rd *r, const char **s, size_t *n, int *esc)
{
	const char *q, *b;

	if (r->p == r->end || *r->p != '"')
		return -1;
	*s = ++r->p;
	*esc = 0;
	for (;;) {
		if ((q = memchr(r->p, '"', (size_t)(r->end - r->p))) == NULL)
			return -1;
		if ((b = memchr(r->p, '\\', (size_t)(q - r->p))) == NULL)
			break;
		*esc = 1;
		if (b + 1 == r->end)
			return -1;
		r->p = b + 2;	/* past the escaped byte, a '"' too */
		if (r->p > r->end)
			return -1;
	}
	*n = (size_t)(q - *s);
	r->p = q + 1;
	return 0;
}

/* Past one value of any kind, not decoded.  0, or -1. */
static int
ijr_skip(struct ijr_rd *r)
{
	const char *s;
	size_t n;
	int esc, depth = 0;

	ijr_ws(r);
	if (r->p == r->end)
		return -1;
	if (*r->p != '{' && *r->p != '[') {
		if (*r->p == '"')
			return ijr_str(r, &s, &n, &esc);
		s = r->p;
		while (r->p < r->end && *r->p != ',' && *r->p != '}' &&
		    *r->p != ']' && *r->p != ' ' && *r->p != '\n')
			r->p++;
		return r->p > s ? 0 : -1;
	}
	do {
		if (r->p == r->end)
			return -1;
		switch (*r->p) {
		case '"':
			if (ijr_str(r, &s, &n, &esc) != 0)
				return -1;
			continue;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			depth--;
			break;
		}
		r->p++;
	} while (depth > 0);
	return 0;
}

/* Past "true" or "false": *v; -1 for anything else (jansson's
 * json_is_true is false then, but the scan leaves it to the caller). */
static int
ijr_bool(struct ijr_rd *r, uint8_t *v)
{
	ijr_ws(r);
	if (r->end - r->p >= 4 && memcmp(r->p, "true", 4) == 0) {
		r->p += 4;
		*v = 1;
	} else if (r->end - r->p >= 5 && memcmp(r->p, "false", 5) == 0) {
		r->p += 5;
		*v = 0;
	} else
		return -1;
	return 0;
}

/* After a member or an element: 1 past the close that ends them, 0 past
 * the ',' before the next one, or -1. */
static int
ijr_next(struct ijr_rd *r, char close)
{
	ijr_ws(r);
	if (r->p == r->end)
		return -1;
	if (*r->p == close) {
		r->p++;
		return 1;
	}
	return *r->p++ == ',' ? 0 : -1;
}

/*
 * The members of one object (at its '{'): fn(arg, r, key, keylen) for
 * each, r at the value, which fn must pass (ijr_skip at least).  0, or
 * -1.
 */
static int
ijr_members(struct ijr_rd *r, int (*fn)(void *, struct ijr_rd *, const char *,
    size_t), void *arg)
{
	const char *k;
	size_t kn;
	int esc, rc;

	ijr_ws(r);
	if (r->p == r->end || *r->p != '{')
		return -1;
	r->p++;
	ijr_ws(r);
	if (r->p < r->end && *r->p == '}') {
		r->p++;
		return 0;
	}
	for (;;) {
		ijr_ws(r);
		if (ijr_str(r, &k, &kn, &esc) != 0 || esc)
			return -1;
		ijr_ws(r);
		if (r->p == r->end || *r->p++ != ':')
			return -1;
		ijr_ws(r);
		if (fn(arg, r, k, kn) != 0)
			return -1;
		if ((rc = ijr_next(r, '}')) != 0)
			return rc < 0 ? -1 : 0;
	}
}

#define IJR_KEY(k, kn, lit) ((kn) == sizeof(lit) - 1 && \
	memcmp((k), (lit), sizeof(lit) - 1) == 0)

struct ijr_scan {
	const char	*base;
	struct incjson_scan *out;
	struct incjson_span *cust;
	size_t		 maxcust;
};

/* Past a string with no escape (what the scan hands out is the bytes):
 * its place in *out; -1 for anything else. */
static int
ijr_plain(const struct ijr_scan *sc, struct ijr_rd *r,
    struct incjson_span *out)
{
	const char *s;
	size_t n;
	int esc;

	if (ijr_str(r, &s, &n, &esc) != 0 || esc)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20)
			return -1;	/* not JSON: the tree refuses it */
	out->off = (uint32_t)(s - sc->base);
	out->len = (uint32_t)n;
	return 0;
}

static int
ijr_customer(void *arg, struct ijr_rd *r, const char *k, size_t kn)
{
	struct ijr_scan *sc = arg;
	struct incjson_scan *o = sc->out;

	if (!IJR_KEY(k, kn, "id"))
		return ijr_skip(r);
	/* not a plain string (jansson skips a non-string): the tree's */
	if (o->ncust == sc->maxcust ||
	    ijr_plain(sc, r, &sc->cust[o->ncust]) != 0)
		return -1;
	o->ncust++;
	return 0;
}

static int
ijr_inc(void *arg, struct ijr_rd *r, const char *k, size_t kn)
{
	struct ijr_scan *sc = arg;
	struct incjson_scan *o = sc->out;
	int rc;

	if (IJR_KEY(k, kn, "planned"))
		return ijr_bool(r, &o->planned);
	if (IJR_KEY(k, kn, "flapping"))
		return ijr_bool(r, &o->flapping);
	if (IJR_KEY(k, kn, "chronic"))
		return ijr_bool(r, &o->chronic);
	if (IJR_KEY(k, kn, "tier")) {
		if (ijr_plain(sc, r, &o->tier) != 0)
			return -1;
		o->has_tier = 1;
		return 0;
	}
	if (IJR_KEY(k, kn, "customers")) {
		if (o->ncust > 0 || r->p == r->end || *r->p++ != '[')
			return -1;
		ijr_ws(r);
		if (r->p < r->end && *r->p == ']') {
			r->p++;
			return 0;
		}
		for (;;) {
			uint32_t before = o->ncust;

			if (ijr_members(r, ijr_customer, sc) != 0 ||
			    o->ncust != before + 1)
				return -1;	/* no id, or two */
			if ((rc = ijr_next(r, ']')) != 0)
				return rc < 0 ? -1 : 0;
		}
	}
	return ijr_skip(r);
}

static int
ijr_event(void *arg, struct ijr_rd *r, const char *k, size_t kn)
{
	struct ijr_scan *sc = arg;
	struct incjson_scan *o = sc->out;
	const char *at;

	if (IJR_KEY(k, kn, "incident")) {
		if (o->has_incident)
			return -1;
		o->has_incident = 1;
		return ijr_members(r, ijr_inc, sc);
	}
	if (IJR_KEY(k, kn, "steps")) {
		/* the member from the ',' before its key to its value's end;
		 * as the first member (no ',' before), not cut here */
		at = k - 1;
		while (at > sc->base && *at != ',' && *at != '{')
			at--;
		if (o->steps.len != 0 || *at != ',')
			return -1;
		o->steps.off = (uint32_t)(at - sc->base);
		if (ijr_skip(r) != 0)
			return -1;
		o->steps.len = (uint32_t)(r->p - at);
		return 0;
	}
	return ijr_skip(r);
}

int
incjson_scan(const char *json, size_t n, struct incjson_scan *out,
    struct incjson_span *cust, size_t maxcust)
{
	struct ijr_rd r = { json, json + n };
	struct ijr_scan sc = { json, out, cust, maxcust };

	memset(out, 0, sizeof(*out));
	if (n > UINT32_MAX || ijr_members(&r, ijr_event, &sc) != 0)
		return -1;
	ijr_ws(&r);
	if (r.p != r.end || !out->has_incident)
		return -1;
	return 0;
}
