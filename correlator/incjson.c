/*
 * incjson.c - see incjson.h.
 *
 * Built with jansson's object API (insertion order is kept, so the bytes
 * are stable for replay diffs).  Customers of an area incident are the union
 * of its linked sites' tenants, each at the highest tier it holds there.
 *
 * SLA fields: a site incident with clocks (ev->sla set) carries "clocks"
 * as sla_clocks_json() writes it at the event's time, "escalation_level"
 * (0 station, 1 branch, 2 headquarters, null before any climb),
 * "response_score" (null until the ack clock stops) and
 * "resolution_grade" (null until the resolve clock stops).  Without clocks
 * (area incidents, engines without an SLA config) "clocks" is {} and the
 * other three are null.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "correlator/calendar.h"
#include "correlator/incjson.h"
#include "correlator/sla.h"

static void
incjson_digits(char *p, unsigned v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

void
incjson_time(char *buf, size_t len, int64_t ms)
{
	int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	int msec = (int)(ms - sec * 1000);
	time_t t = (time_t)sec;
	struct tm tm;

	if (len < 25)
		return;
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 ||
	    tm.tm_year + 1900 < 0) {
		memcpy(buf, "1970-01-01T00:00:00.000Z", 25);
		return;
	}
	/* By hand: snprintf was a tenth of replay's time. */
	memcpy(buf, "0000-00-00T00:00:00.000Z", 25);
	incjson_digits(buf, (unsigned)(tm.tm_year + 1900), 4);
	incjson_digits(buf + 5, (unsigned)tm.tm_mon + 1, 2);
	incjson_digits(buf + 8, (unsigned)tm.tm_mday, 2);
	incjson_digits(buf + 11, (unsigned)tm.tm_hour, 2);
	incjson_digits(buf + 14, (unsigned)tm.tm_min, 2);
	incjson_digits(buf + 17, (unsigned)tm.tm_sec, 2);
	incjson_digits(buf + 20, (unsigned)msec, 3);
}

static json_t *
incjson_timeval(int64_t ms)
{
	char buf[INCJSON_TIMELEN];

	incjson_time(buf, sizeof(buf), ms);
	return json_string(buf);
}

static json_t *
incjson_alarm(const struct fleet *f, const struct corr_alarm *a)
{
	json_t *o = json_object();

	json_object_set_new(o, "device", json_string(f->devices[a->device].id));
	json_object_set_new(o, "code", json_string(f->codes[a->code]));
	json_object_set_new(o, "severity",
	    json_string(severity_name((enum severity)a->severity)));
	json_object_set_new(o, "active", json_boolean(a->active));
	json_object_set_new(o, "raised_at", incjson_timeval(a->raised_at));
	json_object_set_new(o, "cleared_at", a->cleared_at != 0 ?
	    incjson_timeval(a->cleared_at) : json_null());
	json_object_set_new(o, "repeats", json_integer(a->repeats));
	json_object_set_new(o, "cycles", json_integer(a->cycles));
	return o;
}

static void
incjson_add_customer(json_t *arr, const char *id, enum tier tier)
{
	size_t i;
	json_t *c;

	json_array_foreach(arr, i, c) {
		if (strcmp(json_string_value(json_object_get(c, "id")), id) != 0)
			continue;
		if (tier == TIER_PREMIUM)
			json_object_set_new(c, "tier",
			    json_string(tier_name(tier)));
		return;
	}
	c = json_object();
	json_object_set_new(c, "id", json_string(id));
	json_object_set_new(c, "tier", json_string(tier_name(tier)));
	json_array_append_new(arr, c);
}

static void
incjson_customers(json_t *inc, const struct fleet *f,
    const struct corr_incident *ci)
{
	json_t *arr = json_array();
	enum tier eff = TIER_STANDARD;

	if (ci->kind == CORR_KIND_SITE) {
		const struct fleet_site *s = &f->sites[ci->site];

		for (size_t i = 0; i < s->ntenants; i++)
			incjson_add_customer(arr, s->tenants[i].customer,
			    (enum tier)s->tenants[i].tier);
		eff = (enum tier)s->tier;
	} else {
		for (uint32_t l = 0; l < ci->nlinks; l++) {
			const struct fleet_site *s = &f->sites[ci->links[l].site];

			for (size_t i = 0; i < s->ntenants; i++)
				incjson_add_customer(arr, s->tenants[i].customer,
				    (enum tier)s->tenants[i].tier);
			if (s->tier > eff)
				eff = (enum tier)s->tier;
		}
	}
	json_object_set_new(inc, "customers", arr);
	json_object_set_new(inc, "tier", json_string(tier_name(eff)));
}

static json_t *
incjson_id(const struct corr_event *ev, uint64_t num)
{
	char id[CORR_ID_LEN];

	corr_id_format(id, sizeof(id), ev->prefix, ev->shard, num);
	return json_string(id);
}

json_t *
incjson_build(const struct fleet *f, const struct corr_event *ev)
{
	const struct corr_incident *ci = ev->inc;
	json_t *o, *inc, *arr;

	if ((o = json_object()) == NULL)
		return NULL;
	inc = json_object();
	json_object_set_new(o, "schema", json_string(INCJSON_SCHEMA));
	json_object_set_new(o, "event",
	    json_string(corr_evtype_name((enum corr_evtype)ev->type)));
	json_object_set_new(o, "seq", json_integer((json_int_t)ev->seq));
	json_object_set_new(o, "at", incjson_timeval(ev->at));
	json_object_set_new(o, "incident", inc);

	json_object_set_new(inc, "id", json_string(ci->id));
	json_object_set_new(inc, "kind",
	    json_string(ci->kind == CORR_KIND_SITE ? "site" : "area"));
	json_object_set_new(inc, "site", ci->kind == CORR_KIND_SITE ?
	    json_string(f->sites[ci->site].id) : json_null());
	json_object_set_new(inc, "area", json_string(f->areas[ci->area]));
	json_object_set_new(inc, "severity",
	    json_string(severity_name((enum severity)ci->severity)));
	json_object_set_new(inc, "state",
	    json_string(corr_state_name((enum corr_state)ci->state)));
	json_object_set_new(inc, "owner",
	    ci->owner != NULL ? json_string(ci->owner) : json_null());
	json_object_set_new(inc, "opened_at", incjson_timeval(ci->opened_at));
	if (ci->root != NULL) {
		json_t *rc = json_object();

		json_object_set_new(rc, "device",
		    json_string(f->devices[ci->root->device].id));
		json_object_set_new(rc, "alarm",
		    json_string(f->codes[ci->root->code]));
		json_object_set_new(rc, "raised_at",
		    incjson_timeval(ci->root->raised_at));
		json_object_set_new(inc, "root_cause", rc);
	} else {
		json_object_set_new(inc, "root_cause", json_null());
	}
	arr = json_array();
	for (uint32_t i = 0; i < ci->nalarms; i++)
		json_array_append_new(arr, incjson_alarm(f, ci->alarms[i]));
	json_object_set_new(inc, "alarms", arr);
	incjson_customers(inc, f, ci);
	json_object_set_new(inc, "planned", json_boolean(ci->planned));
	if (ci->planned_reason != NULL)
		json_object_set_new(inc, "planned_reason",
		    json_string(ci->planned_reason));
	json_object_set_new(inc, "chronic", json_boolean(ci->chronic));
	arr = json_array();
	for (uint32_t i = 0; i < ci->nchronic; i++)
		json_array_append_new(arr, incjson_id(ev, ci->chronic_of[i]));
	json_object_set_new(inc, "chronic_of", arr);
	json_object_set_new(inc, "flapping", json_boolean(ci->flapping));
	json_object_set_new(inc, "repeats", json_integer((json_int_t)ci->repeats));
	if (ev->sla != NULL && ci->has_sla) {
		const struct sla_incident *si = &ci->sla;

		json_object_set_new(inc, "clocks",
		    sla_clocks_json(ev->sla, si, ev->at));
		json_object_set_new(inc, "escalation_level", si->level >= 0 ?
		    json_integer(si->level) : json_null());
		json_object_set_new(inc, "response_score",
		    si->response_score > 0 ?
		    json_integer(si->response_score) : json_null());
		json_object_set_new(inc, "resolution_grade",
		    si->grade != SLA_GRADE_NONE ?
		    json_string(sla_grade_name((enum sla_grade)si->grade)) :
		    json_null());
	} else {
		json_object_set_new(inc, "clocks", json_object());
		json_object_set_new(inc, "escalation_level", json_null());
		json_object_set_new(inc, "response_score", json_null());
		json_object_set_new(inc, "resolution_grade", json_null());
	}
	json_object_set_new(inc, "area_incident", ci->area_num != 0 ?
	    incjson_id(ev, ci->area_num) : json_null());
	if (ci->kind == CORR_KIND_AREA) {
		arr = json_array();
		for (uint32_t i = 0; i < ci->nlinks; i++)
			json_array_append_new(arr,
			    incjson_id(ev, ci->links[i].num));
		json_object_set_new(inc, "links", arr);
	}
	arr = json_array();
	for (uint32_t i = 0; i < ci->nsteps; i++) {
		const struct corr_step *s = &ci->steps[i];
		json_t *st = json_object();

		json_object_set_new(st, "at", incjson_timeval(s->at));
		json_object_set_new(st, "actor", json_string(s->actor));
		json_object_set_new(st, "action", json_string(s->action));
		json_object_set_new(st, "note",
		    s->note != NULL ? json_string(s->note) : json_null());
		json_array_append_new(arr, st);
	}
	json_object_set_new(inc, "timeline", arr);
	return o;
}

/*
 * The direct encoder.  It writes the same bytes as
 * json_dumps(incjson_build(), JSON_COMPACT) (test_incjson checks this on
 * every kind of incident) without building a tree: on a replayed day the
 * tree cost about 27 us an event, most of replay's time.  Strings are
 * escaped as jansson escapes them; they are valid UTF-8 by the time they
 * get here (config, replay and action parsers check it).
 */
struct ij_buf {
	char	*p;
	size_t	 n, cap;
};

static void
ij_grow(struct ij_buf *b, size_t more)
{
	if (b->n + more <= b->cap)
		return;
	while (b->n + more > b->cap)
		b->cap = b->cap ? b->cap * 2 : 1024;
	b->p = realloc(b->p, b->cap);
	if (b->p == NULL)
		abort();	/* as xmalloc: out of memory is not handled */
}

static void
ij_raw(struct ij_buf *b, const char *s, size_t n)
{
	ij_grow(b, n);
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

#define IJ_LIT(b, s)	ij_raw((b), (s), sizeof(s) - 1)

static void
ij_str(struct ij_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *u = (const unsigned char *)s;

	ij_grow(b, 2);
	b->p[b->n++] = '"';
	for (; *u != '\0'; u++) {
		const unsigned char *run = u;

		while (*u >= 0x20 && *u != '"' && *u != '\\')
			u++;
		if (u > run)
			ij_raw(b, (const char *)run, (size_t)(u - run));
		if (*u == '\0')
			break;
		ij_grow(b, 6);
		b->p[b->n++] = '\\';
		switch (*u) {
		case '"': b->p[b->n++] = '"'; break;
		case '\\': b->p[b->n++] = '\\'; break;
		case '\b': b->p[b->n++] = 'b'; break;
		case '\f': b->p[b->n++] = 'f'; break;
		case '\n': b->p[b->n++] = 'n'; break;
		case '\r': b->p[b->n++] = 'r'; break;
		case '\t': b->p[b->n++] = 't'; break;
		default:
			b->p[b->n++] = 'u';
			b->p[b->n++] = '0';
			b->p[b->n++] = '0';
			b->p[b->n++] = hex[*u >> 4];
			b->p[b->n++] = hex[*u & 15];
			break;
		}
	}
	ij_grow(b, 1);
	b->p[b->n++] = '"';
}

static void
ij_u64(struct ij_buf *b, uint64_t v)
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
ij_i64(struct ij_buf *b, int64_t v)
{
	if (v < 0) {
		IJ_LIT(b, "-");
		ij_u64(b, (uint64_t)0 - (uint64_t)v);
	} else {
		ij_u64(b, (uint64_t)v);
	}
}

static void
ij_bool(struct ij_buf *b, int v)
{
	if (v)
		IJ_LIT(b, "true");
	else
		IJ_LIT(b, "false");
}

static void
ij_time(struct ij_buf *b, int64_t ms)
{
	char buf[INCJSON_TIMELEN];

	incjson_time(buf, sizeof(buf), ms);
	ij_str(b, buf);
}

static void
ij_id(struct ij_buf *b, const struct corr_event *ev, uint64_t num)
{
	char id[CORR_ID_LEN];

	corr_id_format(id, sizeof(id), ev->prefix, ev->shard, num);
	ij_str(b, id);
}

/* The bytes of sla_clocks_json() and the three fields after it. */
static void
ij_sla(struct ij_buf *b, const struct corr_event *ev)
{
	static const char *const states[] = { "idle", "running", "stopped" };
	const struct sla_incident *si = &ev->inc->sla;

	IJ_LIT(b, ",\"clocks\":{");
	for (unsigned k = 0; k < SLA__NCLOCKS; k++) {
		struct sla_clock_view v;
		char ts[32];

		sla_clock_view(ev->sla, si, (enum sla_clock_kind)k, ev->at, &v);
		if (k > 0)
			IJ_LIT(b, ",");
		ij_str(b, sla_clock_name((enum sla_clock_kind)k));
		IJ_LIT(b, ":{\"state\":");
		ij_str(b, v.state < 3 ? states[v.state] : "?");
		IJ_LIT(b, ",\"deadline\":");
		if (v.has_deadline) {
			/* incjson_time writes the same bytes, faster, in its years */
			if (v.deadline_ms >= 0 &&
			    v.deadline_ms < INT64_C(253402300800000))
				incjson_time(ts, sizeof(ts), v.deadline_ms);
			else
				calendar_format_rfc3339(v.deadline_ms, ts,
				    sizeof(ts));
			ij_str(b, ts);
		} else {
			IJ_LIT(b, "null");
		}
		IJ_LIT(b, ",\"remaining_ms\":");
		ij_i64(b, v.remaining_ms);
		IJ_LIT(b, ",\"paused\":");
		ij_bool(b, v.paused);
		IJ_LIT(b, ",\"met\":");
		ij_bool(b, v.met);
		IJ_LIT(b, ",\"breached\":");
		ij_bool(b, v.breached);
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
		ij_str(b, sla_grade_name((enum sla_grade)si->grade));
	else
		IJ_LIT(b, "null");
}

struct ij_cust {
	const char *id;
	enum tier tier;
};

static void
ij_customers(struct ij_buf *b, const struct fleet *f,
    const struct corr_incident *ci)
{
	struct ij_cust stackc[16], *cs = stackc;
	size_t n = 0, cap = 16;
	enum tier eff = TIER_STANDARD;
	uint32_t nsites = ci->kind == CORR_KIND_SITE ? 1 : ci->nlinks;

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
				struct ij_cust *bigger = malloc(cap * 2 *
				    sizeof(*cs));
				if (bigger == NULL)
					abort();
				memcpy(bigger, cs, n * sizeof(*cs));
				if (cs != stackc)
					free(cs);
				cs = bigger;
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
		ij_str(b, cs[k].id);
		IJ_LIT(b, ",\"tier\":");
		ij_str(b, tier_name(cs[k].tier));
		IJ_LIT(b, "}");
	}
	IJ_LIT(b, "],\"tier\":");
	ij_str(b, tier_name(eff));
	if (cs != stackc)
		free(cs);
}

static void
ij_alarm(struct ij_buf *b, const struct fleet *f, const struct corr_alarm *a)
{
	IJ_LIT(b, "{\"device\":");
	ij_str(b, f->devices[a->device].id);
	IJ_LIT(b, ",\"code\":");
	ij_str(b, f->codes[a->code]);
	IJ_LIT(b, ",\"severity\":");
	ij_str(b, severity_name((enum severity)a->severity));
	IJ_LIT(b, ",\"active\":");
	ij_bool(b, a->active);
	IJ_LIT(b, ",\"raised_at\":");
	ij_time(b, a->raised_at);
	IJ_LIT(b, ",\"cleared_at\":");
	if (a->cleared_at != 0)
		ij_time(b, a->cleared_at);
	else
		IJ_LIT(b, "null");
	IJ_LIT(b, ",\"repeats\":");
	ij_u64(b, a->repeats);
	IJ_LIT(b, ",\"cycles\":");
	ij_u64(b, a->cycles);
	IJ_LIT(b, "}");
}

char *
incjson_encode(const struct fleet *f, const struct corr_event *ev)
{
	const struct corr_incident *ci = ev->inc;
	struct ij_buf b = { NULL, 0, 0 };

	IJ_LIT(&b, "{\"schema\":\"" INCJSON_SCHEMA "\",\"event\":");
	ij_str(&b, corr_evtype_name((enum corr_evtype)ev->type));
	IJ_LIT(&b, ",\"seq\":");
	ij_u64(&b, ev->seq);
	IJ_LIT(&b, ",\"at\":");
	ij_time(&b, ev->at);
	IJ_LIT(&b, ",\"incident\":{\"id\":");
	ij_str(&b, ci->id);
	IJ_LIT(&b, ",\"kind\":");
	ij_str(&b, ci->kind == CORR_KIND_SITE ? "site" : "area");
	IJ_LIT(&b, ",\"site\":");
	if (ci->kind == CORR_KIND_SITE)
		ij_str(&b, f->sites[ci->site].id);
	else
		IJ_LIT(&b, "null");
	IJ_LIT(&b, ",\"area\":");
	ij_str(&b, f->areas[ci->area]);
	IJ_LIT(&b, ",\"severity\":");
	ij_str(&b, severity_name((enum severity)ci->severity));
	IJ_LIT(&b, ",\"state\":");
	ij_str(&b, corr_state_name((enum corr_state)ci->state));
	IJ_LIT(&b, ",\"owner\":");
	if (ci->owner != NULL)
		ij_str(&b, ci->owner);
	else
		IJ_LIT(&b, "null");
	IJ_LIT(&b, ",\"opened_at\":");
	ij_time(&b, ci->opened_at);
	IJ_LIT(&b, ",\"root_cause\":");
	if (ci->root != NULL) {
		IJ_LIT(&b, "{\"device\":");
		ij_str(&b, f->devices[ci->root->device].id);
		IJ_LIT(&b, ",\"alarm\":");
		ij_str(&b, f->codes[ci->root->code]);
		IJ_LIT(&b, ",\"raised_at\":");
		ij_time(&b, ci->root->raised_at);
		IJ_LIT(&b, "}");
	} else {
		IJ_LIT(&b, "null");
	}
	IJ_LIT(&b, ",\"alarms\":[");
	for (uint32_t i = 0; i < ci->nalarms; i++) {
		if (i > 0)
			IJ_LIT(&b, ",");
		ij_alarm(&b, f, ci->alarms[i]);
	}
	IJ_LIT(&b, "]");
	ij_customers(&b, f, ci);
	IJ_LIT(&b, ",\"planned\":");
	ij_bool(&b, ci->planned);
	if (ci->planned_reason != NULL) {
		IJ_LIT(&b, ",\"planned_reason\":");
		ij_str(&b, ci->planned_reason);
	}
	IJ_LIT(&b, ",\"chronic\":");
	ij_bool(&b, ci->chronic);
	IJ_LIT(&b, ",\"chronic_of\":[");
	for (uint32_t i = 0; i < ci->nchronic; i++) {
		if (i > 0)
			IJ_LIT(&b, ",");
		ij_id(&b, ev, ci->chronic_of[i]);
	}
	IJ_LIT(&b, "],\"flapping\":");
	ij_bool(&b, ci->flapping);
	IJ_LIT(&b, ",\"repeats\":");
	ij_u64(&b, ci->repeats);
	if (ev->sla != NULL && ci->has_sla)
		ij_sla(&b, ev);
	else
		IJ_LIT(&b, ",\"clocks\":{},\"escalation_level\":null,"
		    "\"response_score\":null,\"resolution_grade\":null");
	IJ_LIT(&b, ",\"area_incident\":");
	if (ci->area_num != 0)
		ij_id(&b, ev, ci->area_num);
	else
		IJ_LIT(&b, "null");
	if (ci->kind == CORR_KIND_AREA) {
		IJ_LIT(&b, ",\"links\":[");
		for (uint32_t i = 0; i < ci->nlinks; i++) {
			if (i > 0)
				IJ_LIT(&b, ",");
			ij_id(&b, ev, ci->links[i].num);
		}
		IJ_LIT(&b, "]");
	}
	IJ_LIT(&b, ",\"timeline\":[");
	for (uint32_t i = 0; i < ci->nsteps; i++) {
		const struct corr_step *s = &ci->steps[i];

		if (i > 0)
			IJ_LIT(&b, ",");
		IJ_LIT(&b, "{\"at\":");
		ij_time(&b, s->at);
		IJ_LIT(&b, ",\"actor\":");
		ij_str(&b, s->actor);
		IJ_LIT(&b, ",\"action\":");
		ij_str(&b, s->action);
		IJ_LIT(&b, ",\"note\":");
		if (s->note != NULL)
			ij_str(&b, s->note);
		else
			IJ_LIT(&b, "null");
		IJ_LIT(&b, "}");
	}
	IJ_LIT(&b, "]}}");
	ij_grow(&b, 1);
	b.p[b.n] = '\0';
	return b.p;
}
