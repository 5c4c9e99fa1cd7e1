/*
 * corr.c - the correlation core of one shard; see corr.h for the rules.
 *
 * State, all owned by the engine and touched by its thread only:
 *   alarms     (device << 16 | code) -> struct corr_alarm *: the latest
 *              record of each alarm key.  A record stays mapped after it
 *              clears (so a re-raise within reopen_hold_ms finds it) until
 *              its incident closes or a later raise starts a new record.
 *   incidents  number -> struct corr_incident *: every incident not yet
 *              closed.  Closing emits the last event and frees it.
 *   sites      site -> first live site incident (site_next list): root
 *              look-ups for site-scoped rules scan the few live incidents
 *              of one site.
 *   areas      area -> recent storm-code incidents (time window T) and the
 *              open area incident.
 *   chronic    (site << 16 | code) -> numbers and times of the last
 *              chronic_count - 1 incidents of that fault.
 *   gateways   CSR arrays of devices by `via`, built once, for late roots.
 *
 *   sla        the SLA clock engine (cc.sla set): one timer per running
 *              clock of every site incident, whose struct sla_incident is
 *              embedded in the incident (container_of back from events).
 *
 * Time: `now` is the latest time the engine was given (alarm, action or
 * advance).  Every entry point first advances to its time, so SLA marks and
 * window ends due before an alarm come out before it, in deadline order.
 *
 * Invariants: an alarm record belongs to exactly one incident (a->inc),
 * which holds one record per (device, code) (a re-raise within the hold,
 * or explained again into the same incident, re-uses it); inc->nactive
 * counts its active alarms (area incidents: linked incidents with nactive
 * > 0; one link per site); inc->seq grows by one per emitted event; every
 * state change emits one event and appends a timeline step, except the
 * clear/re-raise cycles of a flapping alarm, which are counted
 * (inc->flap_cycles); each event carries the steps since the incident's
 * previous one (inc->sent_steps).  So neither an incident nor an event
 * grows with chatter (docs/correlation.md, "Bounds").  Memory per active
 * alarm: the 48-byte record, 32 bytes of map and an 8-byte slot in its
 * incident (docs/correlation.md has the measured figures).
 *
 * Why one file of about 2,800 lines: every rule reads and writes the same
 * maps and the same incident invariants (an alarm's one incident, nactive,
 * seq, the append-only timeline), and an SLA mark, a window end, a
 * re-raise and an adoption can each reach the others' code in one call.
 * The snapshot code (about 900 lines) stays here too: it writes and
 * rebuilds every private structure above (records, histories, storm
 * tracking, the index and site lists), and a corrsnap.c would need them
 * all in a header.  The parts with their own state and contract are
 * modules of their own: the SLA clocks (sla, which saves its own part),
 * their timer heap (timerq), calendars, the maps (u64map), the event
 * encoding (incjson), the alarm rules (almrule) and the snapshot byte
 * codec (snapbuf).  Sections below: names, configuration, ids,
 * incidents, SLA clocks, rules, actions, maintenance windows, engine,
 * restart (dump, catch-up), snapshots.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correlator/corr.h"
#include "correlator/snapbuf.h"
#include "daemon/mem.h"
#include "daemon/names.h"
#include "daemon/utc.h"

#define CORR_STR_(x)	#x
#define CORR_STR(x)	CORR_STR_(x)	/* a number macro as a string */
#define CORR_MIN	((int64_t)60 * 1000)
#define CORR_HOUR	(60 * CORR_MIN)
#define CORR_DAY	(24 * CORR_HOUR)

struct corr_rule_rt {
	uint16_t root;				/* code id */
	uint16_t children[CORR_MAX_CHILDREN];	/* code ids */
	unsigned nchildren;
	uint8_t	 scope;				/* enum corr_scope */
	int64_t	 window_ms;
	int64_t	 before_ms;
};

struct corr_storm_ent {
	int64_t	 at;		/* when its storm-code incident opened */
	uint32_t site;
	uint64_t num;		/* that incident */
};

struct corr_area_rt {
	struct corr_storm_ent *ents;	/* within storm_window_ms, oldest first */
	uint32_t n, cap;
	uint64_t open_num;		/* open area incident, 0 = none */
};

/* Sized for chronic_count - 1 entries: a few bytes per site and fault. */
struct corr_chronic {
	uint32_t n;			/* used entries, oldest first */
	struct {
		int64_t	 at;		/* opened_at of an earlier incident */
		uint64_t num;		/* its number */
	} e[];
};

struct corr_mwin {
	uint32_t id;		/* > 0 */
	struct corr_maint m;	/* m.reason points at reason */
	char	*reason;	/* owned */
	char	*actor;		/* owned, or NULL */
	uint8_t	 ended;		/* its end has been handled (incidents unplanned) */
};

struct corr_engine {
	struct fleet	*fleet;		/* shared, read-only after new */
	struct corr_config cc;
	unsigned	 shard;
	struct corr_sink sink;
	struct corr_rule_rt rules[CORR_MAX_RULES];
	unsigned	 nrules;
	uint32_t	*child_rules;	/* code -> bitmask of rules it is a child of */
	uint32_t	*root_rules;	/* code -> bitmask of rules it is root of */
	size_t		 ncodes;	/* entries of the two arrays */
	int		 storm_code;	/* code id or -1 */
	struct u64map	 alarms;
	struct u64map	 incidents;
	struct u64map	 sites;
	struct u64map	 areas;
	struct u64map	 chronic;
	uint32_t	*gw_start;	/* ndevices + 1 offsets into gw_list */
	uint32_t	*gw_list;	/* devices grouped by via */
	struct corr_mwin *maint;
	uint32_t	 nmaint, capmaint, next_maint;
	uint64_t	 next_num;
	struct corr_stats st;
	struct sla_engine sla;		/* valid when has_sla */
	int		 has_sla;	/* cc.sla was set */
	int64_t		 now;		/* latest time given; INT64_MIN before any */
	int64_t		 late_before;	/* corr_engine_catch_up(): marks and
					 * window ends due before it are late;
					 * INT64_MIN otherwise */
	int		 track;		/* corr_engine_track() */
	uint64_t	*changed;	/* numbers noted since the last
					 * corr_engine_changed() */
	uint32_t	 nchanged, capchanged;
};

/* The record every active alarm costs; keep it in jemalloc's 48-byte class. */
_Static_assert(sizeof(struct corr_alarm) <= 48, "corr_alarm grew");

/* ---- names ---- */

static const char *const corr_state_names[CORR_STATE__COUNT] = {
	"open", "acknowledged", "dispatched", "on_site", "cleared",
	"resolved", "closed", "reopened",
};
static const char *const corr_evtype_names[CORR_EV__COUNT] = {
	"opened", "updated", "acknowledged", "dispatched", "on_site",
	"resolved", "closed", "reopened", "sla_warning", "sla_breached",
	"escalated",
};
static const char *const corr_action_names[CORR_ACT__COUNT] = {
	"ack", "dispatch", "on_site", "resolve", "close", "note", "pause",
	"resume",
};

NAMES_FNS(corr_state_name, corr_state_parse, enum corr_state,
    corr_state_names, CORR_STATE__COUNT)
NAMES_GET_FN(corr_evtype_name, enum corr_evtype, corr_evtype_names,
    CORR_EV__COUNT)
NAMES_FNS(corr_action_name, corr_action_parse, enum corr_action_type,
    corr_action_names, CORR_ACT__COUNT)

/* ---- configuration ---- */

static void
corr_rule_set(struct corr_rule *r, const char *root, enum corr_scope scope,
    int64_t window_ms, int64_t before_ms, const char *const *children)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->root, sizeof(r->root), "%s", root);
	r->scope = (uint8_t)scope;
	r->window_ms = window_ms;
	r->before_ms = before_ms;
	for (; *children != NULL; children++)
		snprintf(r->children[r->nchildren++], CORR_CODE_LEN, "%s",
		    *children);
}

void
corr_config_defaults(struct corr_config *cc)
{
	static const char *const power[] = { "BATT_DISCHARGE", "BATT_LOW",
	    "RECT_FAIL", "AC_FAIL", "HIGH_TEMP", NULL };
	static const char *const comm[] = { "COMM_LOSS", NULL };

	memset(cc, 0, sizeof(*cc));
	/*
	 * Batteries carry a tower site 2-4 h, so BATT_LOW can follow the
	 * mains failure by hours; 4 h covers the usual autonomy.
	 */
	corr_rule_set(&cc->rules[0], "MAINS_FAIL", CORR_SCOPE_SITE,
	    4 * CORR_HOUR, 5 * CORR_MIN, power);
	corr_rule_set(&cc->rules[1], "COMM_LOSS", CORR_SCOPE_GATEWAY,
	    10 * CORR_MIN, 5 * CORR_MIN, comm);
	cc->nrules = 2;
	snprintf(cc->storm_code, sizeof(cc->storm_code), "MAINS_FAIL");
	cc->storm_sites = 5;
	cc->storm_window_ms = 10 * CORR_MIN;
	/*
	 * Fifty ids are about 1 KB: a grid outage of hundreds of sites is
	 * named by its first fifty and counted (links_total).
	 */
	cc->storm_event_links = 50;
	cc->flap_cycles = 3;
	cc->flap_window_ms = CORR_HOUR;
	cc->reopen_hold_ms = 15 * CORR_MIN;
	cc->chronic_count = 3;
	cc->chronic_period_ms = 90 * CORR_DAY;
	cc->auto_resolve = 0;
	snprintf(cc->id_prefix, sizeof(cc->id_prefix), "INC-");
	cc->id_start = 1;
	cc->sla = NULL;
	/* Critical faults are the ones that need a technician on site. */
	cc->complex_severity = SEV_CRITICAL;
}

int
corr_config_check(const struct corr_config *cc, char *err, size_t errlen)
{
#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); return -EINVAL; } while (0)
	if (cc->nrules > CORR_MAX_RULES)
		BAD("rules: %u rules, at most %d", cc->nrules, CORR_MAX_RULES);
	for (unsigned i = 0; i < cc->nrules; i++) {
		const struct corr_rule *r = &cc->rules[i];
		if (r->root[0] == '\0')
			BAD("rules[%u].root: empty", i);
		if (r->nchildren == 0 || r->nchildren > CORR_MAX_CHILDREN)
			BAD("rules[%u].children: %u codes, want 1-%d", i,
			    r->nchildren, CORR_MAX_CHILDREN);
		if (r->scope > CORR_SCOPE_GATEWAY)
			BAD("rules[%u].scope: %u", i, r->scope);
		if (r->window_ms < 0 || r->before_ms < 0)
			BAD("rules[%u].window_ms/before_ms: negative", i);
	}
	if (cc->storm_sites < 2)
		BAD("storm_sites: %u, want >= 2", cc->storm_sites);
	if (cc->storm_window_ms <= 0)
		BAD("storm_window_ms: %" PRId64 ", want > 0", cc->storm_window_ms);
	if (cc->storm_event_links > CORR_MAX_EVENT_LINKS)
		BAD("storm_event_links: %u, want 0-%d", cc->storm_event_links,
		    CORR_MAX_EVENT_LINKS);
	if (cc->flap_cycles < 1 || cc->flap_cycles > CORR_MAX_FLAP)
		BAD("flap_cycles: %u, want 1-%d", cc->flap_cycles, CORR_MAX_FLAP);
	if (cc->flap_window_ms <= 0 || cc->reopen_hold_ms < 0)
		BAD("flap_window_ms/reopen_hold_ms: out of range");
	if (cc->chronic_count == 1 || cc->chronic_count > CORR_MAX_CHRONIC)
		BAD("chronic_count: %u, want 0 (off) or 2-%d",
		    cc->chronic_count, CORR_MAX_CHRONIC);
	if (cc->chronic_period_ms <= 0)
		BAD("chronic_period_ms: want > 0");
	if (memchr(cc->id_prefix, '\0', sizeof(cc->id_prefix)) == NULL ||
	    strlen(cc->id_prefix) > 15)
		BAD("id_prefix: too long");
	if (cc->id_start == 0)
		BAD("id_start: want > 0");
	if (cc->complex_severity > SEV__COUNT)
		BAD("complex_severity: %u", cc->complex_severity);
	if (cc->sla != NULL) {
		struct sla_config_error se;

		if (sla_config_validate(cc->sla, &se, 1) != 0)
			BAD("%s: %s", se.field, se.reason);
	}
	return 0;
#undef BAD
}

/* ---- ids ---- */

/*
 * "%s%u-%" PRIu64 cut to len - 1 bytes as snprintf would, written by hand:
 * snprintf was 6% of loading a snapshot (an id per incident).
 */
void
corr_id_format(char *buf, size_t len, const char *prefix, unsigned shard,
    uint64_t num)
{
	char tmp[32], *t = tmp + sizeof(tmp);	/* "4294967295-" + 20 digits */
	size_t np, nt;

	if (len == 0)
		return;
	do {
		*--t = (char)('0' + num % 10);
		num /= 10;
	} while (num != 0);
	*--t = '-';
	do {
		*--t = (char)('0' + shard % 10);
		shard /= 10;
	} while (shard != 0);
	np = strnlen(prefix, len - 1);
	nt = (size_t)(tmp + sizeof(tmp) - t);
	if (nt > len - 1 - np)
		nt = len - 1 - np;
	memcpy(buf, prefix, np);
	memcpy(buf + np, t, nt);
	buf[np + nt] = '\0';
}

static int
corr_parse_u64(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*p = s;
	*out = v;
	return 0;
}

int
corr_id_parse(const char *prefix, const char *id, unsigned *shard,
    uint64_t *num)
{
	size_t pl = strlen(prefix);
	uint64_t sh;

	if (id == NULL || strncmp(id, prefix, pl) != 0)
		return -EINVAL;
	id += pl;
	if (corr_parse_u64(&id, &sh) != 0 || sh > 65535 || *id++ != '-' ||
	    corr_parse_u64(&id, num) != 0 || *id != '\0')
		return -EINVAL;
	*shard = (unsigned)sh;
	return 0;
}

/* ---- incidents ---- */

static uint64_t
corr_akey(uint32_t device, uint16_t code)
{
	return ((uint64_t)device << 16) | code;
}

static const char *
corr_code_name(const struct corr_engine *e, uint16_t code)
{
	return code < e->fleet->ncodes ? e->fleet->codes[code] : "?";
}

/*
 * Room for element n of an array with room for *cap elements of size
 * bytes: when it is full, *cap doubles (first: 0 -> first) and the array
 * is resized.  Returns the array, which may have moved.  Inline: the alarm
 * path grows its arrays through it.
 */
static inline void *
corr_grow(void *arr, uint32_t n, uint32_t *cap, uint32_t first, size_t size)
{
	if (n < *cap)
		return arr;
	*cap = *cap ? *cap * 2 : first;
	return xreallocarray(arr, *cap, size);
}

/* inc's record may change: noted once until corr_engine_changed(). */
static inline void
corr_touch(struct corr_engine *e, struct corr_incident *inc)
{
	if (!e->track || inc->changed)
		return;
	inc->changed = 1;
	e->changed = corr_grow(e->changed, e->nchanged, &e->capchanged, 64,
	    sizeof(*e->changed));
	e->changed[e->nchanged++] = inc->num;
}

/* System steps share one actor string: no copy per step. */
static const char corr_system[] = CORR_ACTOR_SYSTEM;

static void
corr_step(struct corr_incident *inc, int64_t at, const char *actor,
    const char *action, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Appends an empty step (note NULL) to the append-only timeline. */
static struct corr_step *
corr_step_push(struct corr_incident *inc, int64_t at, const char *actor,
    const char *action)
{
	struct corr_step *s;

	inc->steps = corr_grow(inc->steps, inc->nsteps, &inc->capsteps, 4,
	    sizeof(*inc->steps));
	s = &inc->steps[inc->nsteps++];
	s->at = at;
	s->actor = actor == corr_system ? corr_system : xstrdup(actor);
	s->action = action;
	s->note = NULL;
	return s;
}

/* Appends a step whose note (or NULL) is already written. */
static void
corr_step_note(struct corr_incident *inc, int64_t at, const char *actor,
    const char *action, const char *note)
{
	corr_step_push(inc, at, actor, action)->note =
	    note != NULL ? xstrdup(note) : NULL;
}

/*
 * The length of s cut to at most max bytes on a UTF-8 character boundary:
 * a prefix of valid UTF-8 (what vsnprintf leaves of a longer note) ends
 * inside a character when its last lead byte lacks continuation bytes.
 */
static size_t
corr_utf8_cut(const char *s, size_t max)
{
	size_t n = strnlen(s, max), i = n, k = 0, need;
	unsigned char lead;

	while (i > 0 && k < 3 && ((unsigned char)s[i - 1] & 0xc0) == 0x80) {
		i--;
		k++;
	}
	if (i == 0 || (lead = (unsigned char)s[i - 1]) < 0xc0)
		return n;
	need = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : 1;
	return k >= need ? n : i - 1;
}

/* Appends a system step; its note is cut to CORR_SYSNOTE_MAX bytes. */
static void
corr_step(struct corr_incident *inc, int64_t at, const char *actor,
    const char *action, const char *fmt, ...)
{
	struct corr_step *s = corr_step_push(inc, at, actor, action);
	char note[CORR_SYSNOTE_MAX + 1];
	va_list ap;

	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(note, sizeof(note), fmt, ap);
		va_end(ap);
		/* names longer than the note cut it: never inside a character */
		note[corr_utf8_cut(note, CORR_SYSNOTE_MAX)] = '\0';
		s->note = xstrdup(note);
	}
}

/* An event on inc's current state: what emits and dumps both describe. */
static void
corr_event_fill(const struct corr_engine *e, const struct corr_incident *inc,
    struct corr_event *ev, enum corr_evtype type, int64_t at, uint8_t clock)
{
	ev->type = (uint8_t)type;
	ev->seq = inc->seq;
	ev->at = at;
	ev->inc = inc;
	ev->first_step = inc->sent_steps;
	ev->prefix = e->cc.id_prefix;
	ev->shard = e->shard;
	ev->links_max = e->cc.storm_event_links;
	ev->sla = inc->has_sla ? &e->sla : NULL;
	ev->clock = clock;
	ev->level = inc->has_sla ? inc->sla.level : -1;
}

static void
corr_emit_clock(struct corr_engine *e, struct corr_incident *inc,
    enum corr_evtype type, int64_t at, uint8_t clock)
{
	struct corr_event ev;

	corr_touch(e, inc);
	inc->seq++;
	inc->updated_at = at;
	corr_event_fill(e, inc, &ev, type, at, clock);
	inc->sent_steps = inc->nsteps;
	e->st.events++;
	e->sink.ops->event(e->sink.arg, &ev);
}

static void
corr_emit(struct corr_engine *e, struct corr_incident *inc,
    enum corr_evtype type, int64_t at)
{
	corr_emit_clock(e, inc, type, at, 0);
}

static struct corr_incident *
corr_inc_new(struct corr_engine *e, enum corr_kind kind, uint32_t site,
    uint32_t area, int64_t now)
{
	struct corr_incident *inc = xcalloc(1, sizeof(*inc));

	inc->num = e->next_num++;
	corr_id_format(inc->id, sizeof(inc->id), e->cc.id_prefix, e->shard,
	    inc->num);
	inc->kind = (uint8_t)kind;
	inc->site = site;
	inc->area = area;
	inc->opened_at = now;
	inc->updated_at = now;
	inc->state = CORR_OPEN;
	inc->stage = CORR_OPEN;
	u64map_put(&e->incidents, inc->num, inc);
	corr_touch(e, inc);
	if (kind == CORR_KIND_SITE) {
		inc->site_next = u64map_get(&e->sites, site);
		u64map_put(&e->sites, site, inc);
	}
	e->st.opened++;
	e->st.live_incidents++;
	return inc;
}

static void
corr_inc_add_alarm(struct corr_incident *inc, struct corr_alarm *a)
{
	inc->alarms = corr_grow(inc->alarms, inc->nalarms, &inc->capalarms, 2,
	    sizeof(*inc->alarms));
	inc->alarms[inc->nalarms++] = a;
	a->inc = inc;
	if (a->active)
		inc->nactive++;
	if (a->severity > inc->severity)
		inc->severity = a->severity;
}

static void
corr_alarm_free(struct corr_engine *e, struct corr_alarm *a)
{
	uint64_t k = corr_akey(a->device, a->code);

	if (u64map_get(&e->alarms, k) == a)
		u64map_del(&e->alarms, k);
	xfree(a->flap);
	xfree(a);
	e->st.live_alarms--;
}

static void
corr_site_unlink(struct corr_engine *e, struct corr_incident *inc)
{
	struct corr_incident *head = u64map_get(&e->sites, inc->site), **pp;

	if (head == inc) {
		if (inc->site_next != NULL)
			u64map_put(&e->sites, inc->site, inc->site_next);
		else
			u64map_del(&e->sites, inc->site);
		return;
	}
	for (pp = &head; *pp != NULL; pp = &(*pp)->site_next) {
		if (*pp == inc) {
			*pp = inc->site_next;
			return;
		}
	}
}

static void
corr_inc_free(struct corr_engine *e, struct corr_incident *inc)
{
	corr_touch(e, inc);		/* gone */
	u64map_del(&e->incidents, inc->num);
	if (inc->has_sla)
		sla_close(&e->sla, &inc->sla);
	if (inc->kind == CORR_KIND_SITE)
		corr_site_unlink(e, inc);
	for (uint32_t i = 0; i < inc->nalarms; i++)
		corr_alarm_free(e, inc->alarms[i]);
	for (uint32_t i = 0; i < inc->nsteps; i++) {
		if (inc->steps[i].actor != corr_system)
			xfree((char *)inc->steps[i].actor);
		xfree(inc->steps[i].note);
	}
	xfree(inc->steps);
	xfree(inc->alarms);
	xfree(inc->chronic_of);
	xfree(inc->links);
	xfree(inc->owner);
	xfree(inc->planned_reason);
	xfree(inc->customer);
	xfree(inc);
	e->st.live_incidents--;
}

static struct corr_alarm *
corr_alarm_new(struct corr_engine *e, const struct alarm_event *ev)
{
	struct corr_alarm *a = xcalloc(1, sizeof(*a));

	a->device = ev->device;
	a->code = ev->code;
	a->severity = ev->severity;
	a->raised_at = ev->at_ms;
	a->active = 1;
	u64map_put(&e->alarms, corr_akey(ev->device, ev->code), a);
	e->st.live_alarms++;
	return a;
}

static int
corr_inc_done(const struct corr_incident *inc)
{
	return inc->state == CORR_RESOLVED || inc->state == CORR_CLOSED;
}

/* The incident's work state once alarms are active again. */
static uint8_t
corr_stage_state(const struct corr_incident *inc)
{
	return inc->stage;
}

/* ---- SLA clocks ---- */

static struct corr_incident *
corr_of_sla(struct sla_incident *si)
{
	return (struct corr_incident *)((char *)si -
	    offsetof(struct corr_incident, sla));
}

/* sla.fired while tracking: a mark fired on inc's clocks, emitted or not. */
static void
corr_sla_fired(struct sla_incident *si, void *arg)
{
	corr_touch(arg, corr_of_sla(si));
}

/* Who a level names: the site's station or branch, else the level itself. */
static const char *
corr_level_who(const struct corr_engine *e, const struct corr_incident *inc,
    int level)
{
	const struct fleet_site *s = &e->fleet->sites[inc->site];

	if (level == SLA_LEVEL_STATION && s->station != NULL)
		return s->station;
	if (level == SLA_LEVEL_BRANCH && s->branch != NULL)
		return s->branch;
	return sla_level_name((enum sla_level)level);
}

/*
 * Notes of SLA steps are written by hand: with printf they were a third of
 * the core's time on a replayed day (tens of thousands of marks).
 */
struct corr_note {
	char	 s[256];
	size_t	 n;
};

static void
corr_note_str(struct corr_note *b, const char *str)
{
	size_t l = strlen(str);

	if (l > sizeof(b->s) - 1 - b->n)
		l = sizeof(b->s) - 1 - b->n;
	memcpy(b->s + b->n, str, l);
	b->n += l;
	b->s[b->n] = '\0';
}

static void
corr_note_uint(struct corr_note *b, unsigned v)
{
	char tmp[12];
	int i = sizeof(tmp) - 1;

	tmp[i] = '\0';
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0 && i > 0);
	corr_note_str(b, tmp + i);
}

/* RFC 3339 UTC with ms, as every instant in tocsin is written. */
static void
corr_note_time(struct corr_note *b, int64_t t)
{
	char buf[UTC_LEN];

	utc_format(t, buf);
	corr_note_str(b, buf);
}

/*
 * The "opened" step, "CODE on DEVICE (SEVERITY)", as corr_step() would
 * write it (cut to CORR_SYSNOTE_MAX bytes, never inside a character), by
 * hand: every incident opens with it, and a restore replays them all.
 */
static void
corr_step_opened(struct corr_incident *inc, int64_t at, const char *code,
    const char *device, const char *severity)
{
	struct corr_note b = { { 0 }, 0 };
	size_t n;
	char *note;

	_Static_assert(sizeof(b.s) == CORR_SYSNOTE_MAX + 1,
	    "a note is cut where corr_step() cuts it");
	corr_note_str(&b, code);
	corr_note_str(&b, " on ");
	corr_note_str(&b, device);
	corr_note_str(&b, " (");
	corr_note_str(&b, severity);
	corr_note_str(&b, ")");
	n = corr_utf8_cut(b.s, CORR_SYSNOTE_MAX);
	note = xmalloc(n + 1);
	memcpy(note, b.s, n);
	note[n] = '\0';
	corr_step_push(inc, at, corr_system, "opened")->note = note;
}

#define CORR_LATE_LEN	(UTC_LEN + 40)	/* corr_late()'s text */

/*
 * The late marker of a mark or window end due at `at` while
 * corr_engine_catch_up() runs: "" unless at is before the catch-up's now,
 * else " (late: fired at NOW after a restart)" written into buf.
 */
static const char *
corr_late(const struct corr_engine *e, int64_t at, char buf[CORR_LATE_LEN])
{
	char t[UTC_LEN];

	if (at >= e->late_before)
		return "";
	utc_format(e->late_before, t);
	snprintf(buf, CORR_LATE_LEN, " (late: fired at %s after a restart)", t);
	return buf;
}

/* Each SLA mark's incident event and timeline action. */
static const struct {
	uint8_t		 type;		/* enum corr_evtype */
	const char	*action;
} corr_sla_marks[] = {
	[SLA_EV_WARNING] = { CORR_EV_SLA_WARNING, "sla_warning" },
	[SLA_EV_BREACHED] = { CORR_EV_SLA_BREACHED, "sla_breached" },
	[SLA_EV_ESCALATED] = { CORR_EV_ESCALATED, "escalated" },
};

/* The SLA engine's callback: one mark becomes one incident event. */
static void
corr_sla_event(const struct sla_event *sev, void *arg)
{
	struct corr_engine *e = arg;
	struct corr_incident *inc = corr_of_sla(sev->inc);
	const char *clock = sla_clock_name((enum sla_clock_kind)sev->clock);
	struct corr_note b = { { 0 }, 0 };
	enum corr_evtype type = corr_sla_marks[sev->type].type;
	char late[CORR_LATE_LEN];
	const char *lt;
	size_t nl;
	char *note;

	switch (sev->type) {
	case SLA_EV_WARNING:	/* "ack clock at 50%, deadline T" */
		corr_note_str(&b, clock);
		corr_note_str(&b, " clock at ");
		corr_note_uint(&b, (unsigned)(sev->fraction * 100.0 + 0.5));
		corr_note_str(&b, "%, deadline ");
		e->st.sla_warnings++;
		break;
	case SLA_EV_BREACHED:	/* "ack clock breached, deadline T" */
		corr_note_str(&b, clock);
		corr_note_str(&b, " clock breached, deadline ");
		e->st.sla_breaches++;
		break;
	default:	/* "level 1 branch: WHO (ack clock, deadline T)" */
		corr_note_str(&b, "level ");
		corr_note_uint(&b, (unsigned)sev->level);
		corr_note_str(&b, " ");
		corr_note_str(&b, sla_level_name((enum sla_level)sev->level));
		corr_note_str(&b, ": ");
		corr_note_str(&b, corr_level_who(e, inc, sev->level));
		corr_note_str(&b, " (");
		corr_note_str(&b, clock);
		corr_note_str(&b, " clock, deadline ");
		e->st.escalations++;
		break;
	}
	corr_note_time(&b, sev->deadline_ms);
	if (type == CORR_EV_ESCALATED)
		corr_note_str(&b, ")");
	/* the late marker goes after the cut note, so it is never cut; the
	 * note is copied once, at its known length (every mark of a replayed
	 * journal passes here) */
	lt = corr_late(e, sev->at_ms, late);
	nl = strlen(lt);
	note = xmalloc(b.n + nl + 1);
	memcpy(note, b.s, b.n);
	memcpy(note + b.n, lt, nl + 1);
	corr_step_push(inc, sev->at_ms, corr_system,
	    corr_sla_marks[sev->type].action)->note = note;
	corr_emit_clock(e, inc, type, sev->at_ms, sev->clock);
}

/*
 * Opens a site or complaint incident's clocks at the engine's now (no-op
 * without SLA); a complaint's come from the complaint tables.
 */
static void
corr_sla_open(struct corr_engine *e, struct corr_incident *inc)
{
	struct sla_params p;

	if (!e->has_sla || inc->kind == CORR_KIND_AREA)
		return;
	sla_params_for_site(&p, &e->fleet->sites[inc->site],
	    (enum severity)inc->severity,
	    inc->severity >= e->cc.complex_severity, inc->planned);
	p.complaint = inc->kind == CORR_KIND_COMPLAINT;
	p.key = inc->num;
	inc->has_sla = sla_open(&e->sla, &inc->sla, e->now, &p) == 0;
}

/* A step of the work; a clock already stopped (or started) is no error. */
static void
corr_sla_step(struct corr_engine *e, struct corr_incident *inc,
    enum sla_step step)
{
	const char *why;

	if (inc->has_sla)
		(void)sla_step(&e->sla, &inc->sla, step, e->now, &why);
}

/* After a resolve: the scores on the timeline (a reopen starts them over). */
static void
corr_sla_scored(struct corr_incident *inc, int64_t at)
{
	if (!inc->has_sla)
		return;
	corr_step(inc, at, corr_system, "scored",
	    "response score %d, resolution %s", inc->sla.response_score,
	    sla_grade_name((enum sla_grade)inc->sla.grade));
}

/*
 * A resolved incident came back: its clocks start over at now as a new
 * cycle.  The owner keeps it (first-contact ownership), so an owned
 * incident's ack clock stops at once and keeps the first response's score.
 */
static void
corr_sla_reopen(struct corr_engine *e, struct corr_incident *inc)
{
	int8_t score = inc->sla.response_score;

	if (!inc->has_sla)
		return;
	sla_close(&e->sla, &inc->sla);
	inc->has_sla = 0;
	corr_sla_open(e, inc);
	if (inc->has_sla && inc->owner != NULL) {
		corr_sla_step(e, inc, SLA_STEP_ACK);
		inc->sla.response_score = score;
	}
}

static int
corr_num_cmp(const void *a, const void *b)
{
	uint64_t x = (*(struct corr_incident *const *)a)->num;
	uint64_t y = (*(struct corr_incident *const *)b)->num;

	return x < y ? -1 : x > y;
}

/* Another window than id covering the site at `at`, or NULL. */
static const struct corr_mwin *
corr_maint_other(const struct corr_engine *e, uint32_t id, uint32_t site,
    int64_t at)
{
	uint32_t area = e->fleet->sites[site].area;

	for (uint32_t i = 0; i < e->nmaint; i++) {
		const struct corr_mwin *w = &e->maint[i];

		if (w->id == id || w->ended || at < w->m.start_ms ||
		    at >= w->m.end_ms)
			continue;
		if (w->m.site == site ||
		    (w->m.site == FLEET_NONE && w->m.area == area))
			return w;
	}
	return NULL;
}

/*
 * Window id is over at `at`: its planned incidents that are still being
 * worked stop being planned and their clocks start, in incident order; one
 * still covered by another window moves to that window silently.  Windows
 * end rarely, so a scan of the live incidents is cheap enough.
 */
static void
corr_unplan(struct corr_engine *e, uint32_t id, int64_t at, const char *why)
{
	struct corr_incident **v = NULL;
	size_t n = 0, cap = 0, pos = 0;
	void *p;
	const char *r;
	char late[CORR_LATE_LEN];

	while (u64map_next(&e->incidents, &pos, NULL, &p)) {
		struct corr_incident *inc = p;

		if (!inc->planned || inc->planned_win != id ||
		    inc->state == CORR_RESOLVED || inc->state == CORR_CLOSED)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = inc;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), corr_num_cmp);
	for (size_t i = 0; i < n; i++) {
		const struct corr_mwin *o = corr_maint_other(e, id, v[i]->site,
		    at);

		if (o != NULL) {
			v[i]->planned_win = o->id;
			continue;
		}
		v[i]->planned = 0;
		v[i]->planned_win = 0;
		if (v[i]->has_sla)
			(void)sla_resume(&e->sla, &v[i]->sla, SLA_PAUSE_PLANNED,
			    e->now, &r);
		corr_step(v[i], at, corr_system, "unplanned",
		    "maintenance window %u %s; SLA clocks run%s", id, why,
		    corr_late(e, at, late));
		corr_emit(e, v[i], CORR_EV_UPDATED, at);
	}
	xfree(v);
}

/* The un-ended window with the earliest end at or before now, or NULL. */
static struct corr_mwin *
corr_maint_due(struct corr_engine *e, int64_t now)
{
	struct corr_mwin *best = NULL;

	for (uint32_t i = 0; i < e->nmaint; i++) {
		struct corr_mwin *w = &e->maint[i];

		if (!w->ended && w->m.end_ms <= now &&
		    (best == NULL || w->m.end_ms < best->m.end_ms))
			best = w;
	}
	return best;
}

void
corr_engine_advance(struct corr_engine *e, int64_t now)
{
	struct corr_mwin *w;

	if (now < e->now)
		return;
	while ((w = corr_maint_due(e, now)) != NULL) {
		int64_t end = w->m.end_ms > e->now ? w->m.end_ms : e->now;

		/* Marks due before the window's end come out first. */
		if (e->has_sla)
			sla_advance(&e->sla, end);
		e->now = end;
		w->ended = 1;
		corr_unplan(e, w->id, end, "ended");
	}
	if (e->has_sla)
		sla_advance(&e->sla, now);
	e->now = now;
}

int64_t
corr_engine_next(const struct corr_engine *e)
{
	int64_t next = e->has_sla ? sla_next(&e->sla) : INT64_MAX;

	for (uint32_t i = 0; i < e->nmaint; i++)
		if (!e->maint[i].ended && e->maint[i].m.end_ms < next)
			next = e->maint[i].m.end_ms;
	return next;
}

/*
 * nactive went 0 -> 1: wake the incident and its area incident.  quiet: a
 * flapping alarm's re-raise did it, which is counted (flap_cycles), not
 * stepped; a resolved incident's reopen is stepped all the same (its
 * clocks start over, and only a resolve, by an operator once flapping,
 * can come before it).
 */
static void
corr_became_active(struct corr_engine *e, struct corr_incident *inc,
    int64_t now, const char *why, int quiet)
{
	struct corr_incident *ai;

	if (inc->state == CORR_CLEARED) {
		inc->state = corr_stage_state(inc);
		if (!quiet)
			corr_step(inc, now, corr_system, "reraised", "%s", why);
		corr_emit(e, inc, CORR_EV_UPDATED, now);
	} else if (inc->state == CORR_RESOLVED) {
		inc->state = CORR_REOPENED;
		corr_sla_reopen(e, inc);
		corr_step(inc, now, corr_system, "reopened", "%s", why);
		corr_emit(e, inc, CORR_EV_REOPENED, now);
	} else {
		corr_emit(e, inc, CORR_EV_UPDATED, now);
	}
	if (inc->area_num != 0 &&
	    (ai = u64map_get(&e->incidents, inc->area_num)) != NULL &&
	    ai->nactive++ == 0)
		corr_became_active(e, ai, now, inc->id, quiet);
}

/*
 * nactive went 1 -> 0.  quiet: a flapping alarm's clear did it (no step).
 * auto_resolve does not resolve a flapping incident: a resolve there would
 * be followed by a reopen and a new cycle of clocks at every flap; it waits
 * in cleared for a person to verify it.
 */
static void
corr_became_clear(struct corr_engine *e, struct corr_incident *inc,
    int64_t now, int quiet)
{
	struct corr_incident *ai;

	if (e->cc.auto_resolve && !inc->flapping && !quiet) {
		inc->state = CORR_RESOLVED;
		corr_sla_step(e, inc, SLA_STEP_RESOLVE);
		corr_step(inc, now, corr_system, "resolved",
		    "all alarms cleared");
		corr_sla_scored(inc, now);
		corr_emit(e, inc, CORR_EV_RESOLVED, now);
	} else {
		inc->state = CORR_CLEARED;
		if (!quiet)
			corr_step(inc, now, corr_system, "cleared",
			    "all alarms cleared, awaiting verification");
		corr_emit(e, inc, CORR_EV_UPDATED, now);
	}
	if (inc->area_num != 0 &&
	    (ai = u64map_get(&e->incidents, inc->area_num)) != NULL &&
	    ai->nactive > 0 && --ai->nactive == 0)
		corr_became_clear(e, ai, now, quiet);
}

/* ---- rules ---- */

static uint32_t
corr_mask(const uint32_t *arr, size_t n, uint16_t code)
{
	return code < n ? arr[code] : 0;
}

static int
corr_in_window(int64_t root_at, int64_t child_at, const struct corr_rule_rt *r,
    int late_root)
{
	if (late_root)
		return root_at >= child_at && root_at - child_at <= r->before_ms;
	return child_at >= root_at && child_at - root_at <= r->window_ms;
}

/* The active alarm that explains a new raise of (device, code), or NULL. */
static struct corr_alarm *
corr_explain(struct corr_engine *e, const struct alarm_event *ev)
{
	uint32_t mask = corr_mask(e->child_rules, e->ncodes, ev->code);

	for (unsigned i = 0; mask != 0 && i < e->nrules; i++) {
		const struct corr_rule_rt *r = &e->rules[i];
		struct corr_incident *inc;
		struct corr_alarm *ra;
		uint32_t via;

		if ((mask & (1u << i)) == 0)
			continue;
		if (r->scope == CORR_SCOPE_SITE) {
			for (inc = u64map_get(&e->sites, ev->site); inc != NULL;
			    inc = inc->site_next) {
				ra = inc->root;
				if (ra != NULL && ra->code == r->root &&
				    ra->active && !corr_inc_done(inc) &&
				    corr_in_window(ra->raised_at, ev->at_ms, r, 0))
					return ra;
			}
		} else {
			via = e->fleet->devices[ev->device].via;
			if (via == FLEET_NONE || via == ev->device)
				continue;
			ra = u64map_get(&e->alarms, corr_akey(via, r->root));
			if (ra != NULL && ra->active && !corr_inc_done(ra->inc) &&
			    corr_in_window(ra->raised_at, ev->at_ms, r, 0))
				return ra;
		}
	}
	return NULL;
}

static void
corr_chronic_forget(struct corr_engine *e, const struct corr_incident *inc)
{
	struct corr_chronic *h;

	if (inc->root == NULL)
		return;
	h = u64map_get(&e->chronic,
	    ((uint64_t)inc->site << 16) | inc->root->code);
	if (h == NULL)
		return;
	for (uint32_t i = 0; i < h->n; i++) {
		if (h->e[i].num == inc->num) {
			memmove(&h->e[i], &h->e[i + 1],
			    (h->n - i - 1) * sizeof(h->e[0]));
			h->n--;
			return;
		}
	}
}

/* Moves every alarm of an untouched early incident under a late root. */
static void
corr_merge(struct corr_engine *e, struct corr_incident *ci,
    struct corr_incident *ri, int64_t now)
{
	struct corr_alarm *a = ci->root;

	corr_chronic_forget(e, ci);
	for (uint32_t i = 0; i < ci->nalarms; i++)
		corr_inc_add_alarm(ri, ci->alarms[i]);
	corr_step(ri, now, corr_system, "adopted",
	    "%s on %s from %s", corr_code_name(e, a->code),
	    e->fleet->devices[a->device].id, ci->id);
	ci->nalarms = 0;
	ci->nactive = 0;
	ci->root = NULL;
	ci->state = CORR_CLOSED;
	corr_step(ci, now, corr_system, "merged", "into %s (late root)",
	    ri->id);
	corr_emit(e, ci, CORR_EV_CLOSED, now);
	corr_inc_free(e, ci);
	e->st.reparented++;
}

static int
corr_adoptable(const struct corr_incident *ci, const struct corr_incident *ri,
    const struct corr_rule_rt *r, int64_t now)
{
	const struct corr_alarm *ca = ci->root;

	if (ci == ri || ci->kind != CORR_KIND_SITE || ca == NULL ||
	    ci->state != CORR_OPEN || ci->stage != CORR_OPEN ||
	    ci->area_num != 0 || ci->planned != ri->planned)
		return 0;
	for (unsigned k = 0; k < r->nchildren; k++)
		if (ca->code == r->children[k])
			return corr_in_window(now, ca->raised_at, r, 1);
	return 0;
}

/* A new root at ri adopts children that arrived up to before_ms earlier. */
static void
corr_adopt(struct corr_engine *e, struct corr_incident *ri, int64_t now)
{
	const struct corr_alarm *ra = ri->root;
	uint32_t mask = corr_mask(e->root_rules, e->ncodes, ra->code);

	for (unsigned i = 0; mask != 0 && i < e->nrules; i++) {
		const struct corr_rule_rt *r = &e->rules[i];

		if ((mask & (1u << i)) == 0)
			continue;
		if (r->scope == CORR_SCOPE_SITE) {
			struct corr_incident *ci, *next;

			for (ci = u64map_get(&e->sites, ri->site); ci != NULL;
			    ci = next) {
				next = ci->site_next;
				if (corr_adoptable(ci, ri, r, now))
					corr_merge(e, ci, ri, now);
			}
			continue;
		}
		for (uint32_t j = e->gw_start[ra->device];
		    j < e->gw_start[ra->device + 1]; j++) {
			uint32_t dev = e->gw_list[j];

			for (unsigned k = 0; k < r->nchildren; k++) {
				struct corr_alarm *ca = u64map_get(&e->alarms,
				    corr_akey(dev, r->children[k]));

				if (ca != NULL && ca->inc->root == ca &&
				    corr_adoptable(ca->inc, ri, r, now))
					corr_merge(e, ca->inc, ri, now);
			}
		}
	}
}

static const struct corr_mwin *
corr_maint_find(const struct corr_engine *e, uint32_t site, int64_t now)
{
	uint32_t area = e->fleet->sites[site].area;

	for (uint32_t i = 0; i < e->nmaint; i++) {
		const struct corr_maint *m = &e->maint[i].m;

		if (now < m->start_ms || now >= m->end_ms)
			continue;
		if (m->site == site || (m->site == FLEET_NONE && m->area == area))
			return &e->maint[i];
	}
	return NULL;
}

static void
corr_chronic_check(struct corr_engine *e, struct corr_incident *inc,
    int64_t now)
{
	uint64_t key = ((uint64_t)inc->site << 16) | inc->root->code;
	struct corr_chronic *h;
	uint32_t keep, drop = 0;

	if (e->cc.chronic_count == 0)
		return;
	keep = e->cc.chronic_count - 1;
	if ((h = u64map_get(&e->chronic, key)) == NULL) {
		h = xcalloc(1, sizeof(*h) + keep * sizeof(h->e[0]));
		u64map_put(&e->chronic, key, h);
	}
	while (drop < h->n && h->e[drop].at < now - e->cc.chronic_period_ms)
		drop++;
	if (drop > 0) {
		memmove(h->e, h->e + drop, (h->n - drop) * sizeof(h->e[0]));
		h->n -= drop;
	}
	/*
	 * The same fault while an earlier one is still active is the same
	 * outage (several devices of the site at once), not a recurrence: it
	 * is neither chronic nor counted.
	 */
	for (uint32_t i = 0; i < h->n; i++) {
		const struct corr_incident *o = u64map_get(&e->incidents,
		    h->e[i].num);

		if (o != NULL && o->nactive > 0)
			return;
	}
	if (h->n + 1 >= e->cc.chronic_count) {
		inc->chronic = 1;
		inc->nchronic = h->n;
		inc->chronic_of = xreallocarray(NULL, h->n, sizeof(uint64_t));
		for (uint32_t i = 0; i < h->n; i++)
			inc->chronic_of[i] = h->e[i].num;
		corr_step(inc, now, corr_system, "chronic",
		    "%s at this site %u times within %" PRId64 " days",
		    corr_code_name(e, inc->root->code), h->n + 1,
		    e->cc.chronic_period_ms / CORR_DAY);
	}
	if (h->n == keep) {	/* full: the oldest leaves */
		memmove(h->e, h->e + 1, (h->n - 1) * sizeof(h->e[0]));
		h->n--;
	}
	h->e[h->n].at = now;
	h->e[h->n].num = inc->num;
	h->n++;
}

/*
 * Links site incident si to area incident ai.  A site already linked keeps
 * its place and now names si: one entry per site, so the area incident
 * grows with the sites of its area, not with how often one of them
 * re-opens (a scan of the links, on storm-code openings only).
 */
static void
corr_link(struct corr_incident *ai, struct corr_incident *si)
{
	uint32_t i;

	for (i = 0; i < ai->nlinks && ai->links[i].site != si->site; i++)
		;
	if (i == ai->nlinks) {
		ai->links = xreallocarray(ai->links, ai->nlinks + 1u,
		    sizeof(*ai->links));
		ai->links[i].site = si->site;
		ai->nlinks++;
	}
	ai->links[i].num = si->num;
	si->area_num = ai->num;
	if (si->nactive > 0)
		ai->nactive++;
	if (si->severity > ai->severity)
		ai->severity = si->severity;
}

/*
 * A new storm-code incident: record it for its area; link it to the open
 * area incident, or open one when K sites are in the window.  Returns the
 * area incident to announce after the site incident (opened or updated).
 */
static struct corr_incident *
corr_storm(struct corr_engine *e, struct corr_incident *si, int64_t now,
    int *opened)
{
	struct corr_area_rt *ar = u64map_get(&e->areas, si->area);
	struct corr_incident *ai;
	uint32_t drop = 0, i;

	*opened = 0;
	if (ar == NULL) {
		ar = xcalloc(1, sizeof(*ar));
		u64map_put(&e->areas, si->area, ar);
	}
	while (drop < ar->n && ar->ents[drop].at < now - e->cc.storm_window_ms)
		drop++;
	if (drop > 0) {
		memmove(ar->ents, ar->ents + drop,
		    (ar->n - drop) * sizeof(*ar->ents));
		ar->n -= drop;
	}
	for (i = 0; i < ar->n && ar->ents[i].site != si->site; i++)
		;
	if (i < ar->n) {
		/* Same site again: keep one entry, the newest, at the end. */
		memmove(ar->ents + i, ar->ents + i + 1,
		    (ar->n - i - 1) * sizeof(*ar->ents));
		ar->n--;
	}
	ar->ents = corr_grow(ar->ents, ar->n, &ar->cap, 8, sizeof(*ar->ents));
	ar->ents[ar->n].at = now;
	ar->ents[ar->n].site = si->site;
	ar->ents[ar->n].num = si->num;
	ar->n++;

	/*
	 * Join the area incident only while it is active: once all its sites
	 * have cleared, the next storm in the area is a new grid event.
	 */
	if (ar->open_num != 0 &&
	    (ai = u64map_get(&e->incidents, ar->open_num)) != NULL &&
	    !corr_inc_done(ai) && ai->nactive > 0) {
		corr_link(ai, si);
		return ai;
	}
	ar->open_num = 0;
	if (ar->n < e->cc.storm_sites)
		return NULL;
	ai = corr_inc_new(e, CORR_KIND_AREA, FLEET_NONE, si->area, now);
	e->st.area_opened++;
	for (i = 0; i < ar->n; i++) {
		struct corr_incident *s = u64map_get(&e->incidents,
		    ar->ents[i].num);
		if (s != NULL && s->area_num == 0)
			corr_link(ai, s);
	}
	corr_step(ai, now, corr_system, "opened",
	    "area storm: %s at %u sites of %s within %" PRId64 " min",
	    corr_code_name(e, (uint16_t)e->storm_code), ai->nlinks,
	    e->fleet->areas[si->area], e->cc.storm_window_ms / CORR_MIN);
	ar->open_num = ai->num;
	*opened = 1;
	return ai;
}

/* A raise that no rule explains: open a new incident rooted at a. */
static void
corr_open(struct corr_engine *e, struct corr_alarm *a,
    const struct alarm_event *ev)
{
	const struct fleet_site *s = &e->fleet->sites[ev->site];
	const struct corr_mwin *w = corr_maint_find(e, ev->site, ev->at_ms);
	struct corr_incident *inc, *ai = NULL;
	int area_opened = 0;

	inc = corr_inc_new(e, CORR_KIND_SITE, ev->site, s->area, ev->at_ms);
	inc->root = a;
	corr_inc_add_alarm(inc, a);
	corr_step_opened(inc, ev->at_ms, corr_code_name(e, a->code),
	    e->fleet->devices[a->device].id,
	    fleet_severity_name((enum severity)a->severity));
	if (w != NULL) {
		inc->planned = 1;
		inc->planned_reason = xstrdup(w->reason);
		inc->planned_win = w->id;
		corr_step(inc, ev->at_ms, corr_system, "planned",
		    "maintenance window %u: %s", w->id, w->reason);
	} else {
		corr_chronic_check(e, inc, ev->at_ms);
	}
	corr_adopt(e, inc, ev->at_ms);
	corr_sla_open(e, inc);
	if (!inc->planned && e->storm_code >= 0 && a->code == e->storm_code)
		ai = corr_storm(e, inc, ev->at_ms, &area_opened);
	corr_emit(e, inc, CORR_EV_OPENED, ev->at_ms);
	if (ai == NULL)
		return;
	if (area_opened) {
		corr_emit(e, ai, CORR_EV_OPENED, ev->at_ms);
		/* The site incidents linked now learn their area incident. */
		for (uint32_t i = 0; i < ai->nlinks; i++) {
			struct corr_incident *l = u64map_get(&e->incidents,
			    ai->links[i].num);
			if (l != NULL && l != inc) {
				corr_step(l, ev->at_ms, corr_system,
				    "linked", "area storm %s", ai->id);
				corr_emit(e, l, CORR_EV_UPDATED, ev->at_ms);
			}
		}
	} else {
		corr_emit(e, ai, CORR_EV_UPDATED, ev->at_ms);
	}
}

/*
 * A cleared alarm raised again on its incident: within reopen_hold_ms, or
 * explained again by a root of the same incident.  The cycle that makes
 * the alarm flapping is stepped ("flapping", then "reraised" if the
 * incident had cleared); later cycles of a flapping alarm are counted in
 * inc->flap_cycles and step nothing, so chatter cannot grow the timeline.
 */
static void
corr_reraise(struct corr_engine *e, struct corr_alarm *a, int64_t now)
{
	struct corr_incident *inc = a->inc;
	unsigned n = e->cc.flap_cycles, recent = 0;
	int quiet = a->flapping;

	if (a->flap == NULL)
		a->flap = xcalloc(n, sizeof(*a->flap));
	a->flap[a->cycles % n] = now;
	a->cycles++;
	a->active = 1;
	e->st.reraised++;
	if (quiet) {
		inc->flap_cycles++;
	} else {
		for (unsigned i = 0; i < n && i < a->cycles; i++)
			if (now - a->flap[i] <= e->cc.flap_window_ms)
				recent++;
		if (recent >= n) {
			a->flapping = 1;
			inc->flapping = 1;
			corr_step(inc, now, corr_system, "flapping",
			    "%s on %s: %u cycles within %" PRId64 " min",
			    corr_code_name(e, a->code),
			    e->fleet->devices[a->device].id, recent,
			    e->cc.flap_window_ms / CORR_MIN);
		}
	}
	if (inc->nactive++ == 0)
		corr_became_active(e, inc, now, corr_code_name(e, a->code),
		    quiet);
	else
		corr_emit(e, inc, CORR_EV_UPDATED, now);
}

static void
corr_raise(struct corr_engine *e, const struct alarm_event *ev)
{
	uint64_t key = corr_akey(ev->device, ev->code);
	struct corr_alarm *a = u64map_get(&e->alarms, key), *ra;
	struct corr_incident *inc;

	e->st.raises++;
	if (a != NULL)		/* counted, raised again or replaced */
		corr_touch(e, a->inc);
	if (a != NULL && a->active) {
		a->repeats++;
		a->inc->repeats++;
		e->st.repeats++;
		if (ev->severity > a->severity) {
			a->severity = ev->severity;
			if (ev->severity > a->inc->severity)
				a->inc->severity = ev->severity;
			corr_emit(e, a->inc, CORR_EV_UPDATED, ev->at_ms);
		}
		return;
	}
	ra = NULL;
	if (a != NULL && ((a->inc->state != CORR_CLOSED &&
	    ev->at_ms - a->cleared_at <= e->cc.reopen_hold_ms) ||
	    ((ra = corr_explain(e, ev)) != NULL && ra->inc == a->inc))) {
		/*
		 * Within the hold, or explained again by a root of the
		 * incident that holds its record: the same alarm come back,
		 * so an incident holds one record per (device, code).
		 */
		if (ev->severity > a->severity)
			a->severity = ev->severity;
		if (a->severity > a->inc->severity)
			a->inc->severity = a->severity;
		corr_reraise(e, a, ev->at_ms);
		return;
	}
	if (a != NULL)		/* the old record stays on its incident */
		u64map_del(&e->alarms, key);
	else
		ra = corr_explain(e, ev);
	a = corr_alarm_new(e, ev);
	if (ra == NULL) {
		corr_open(e, a, ev);
		return;
	}
	inc = ra->inc;
	corr_inc_add_alarm(inc, a);
	e->st.explained++;
	corr_step(inc, ev->at_ms, corr_system, "alarm",
	    "%s on %s explained by %s on %s", corr_code_name(e, a->code),
	    e->fleet->devices[a->device].id, corr_code_name(e, ra->code),
	    e->fleet->devices[ra->device].id);
	corr_emit(e, inc, CORR_EV_UPDATED, ev->at_ms);
}

static void
corr_clear(struct corr_engine *e, const struct alarm_event *ev)
{
	struct corr_alarm *a = u64map_get(&e->alarms,
	    corr_akey(ev->device, ev->code));
	struct corr_incident *inc;

	e->st.clears++;
	if (a == NULL || !a->active) {
		e->st.stray_clears++;
		return;
	}
	a->active = 0;
	a->cleared_at = ev->at_ms;
	inc = a->inc;
	corr_touch(e, inc);
	if (--inc->nactive == 0)
		corr_became_clear(e, inc, ev->at_ms, a->flapping);
	else
		corr_emit(e, inc, CORR_EV_UPDATED, ev->at_ms);
}

int
corr_engine_alarm(struct corr_engine *e, const struct alarm_event *ev)
{
	const struct fleet *f = e->fleet;

	if (ev->device >= f->ndevices || ev->site >= f->nsites ||
	    f->devices[ev->device].site != ev->site || ev->code >= f->ncodes ||
	    ev->edge > ALARM_CLEAR || ev->severity >= SEV__COUNT) {
		e->st.bad_input++;
		return -EINVAL;
	}
	corr_engine_advance(e, ev->at_ms);
	if (ev->edge == ALARM_RAISE)
		corr_raise(e, ev);
	else
		corr_clear(e, ev);
	return 0;
}

/* ---- actions ---- */

static int
corr_reject(struct corr_engine *e, const struct corr_action *a, int rc,
    char *reason, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int
corr_reject(struct corr_engine *e, const struct corr_action *a, int rc,
    char *reason, size_t len, const char *fmt, ...)
{
	char buf[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	e->st.rejected++;
	if (reason != NULL && len > 0)
		snprintf(reason, len, "%s", buf);
	if (e->sink.ops->rejected != NULL)
		e->sink.ops->rejected(e->sink.arg, a, buf);
	return rc;
}

/* Active states move with the work stage; cleared stays cleared. */
static void
corr_advance(struct corr_incident *inc, uint8_t stage)
{
	inc->stage = stage;
	if (inc->state != CORR_CLEARED)
		inc->state = stage;
}

/*
 * What an action does once its checks pass (docs/correlation.md has the
 * transition table): the event it emits, the work stage it moves to, the
 * SLA step it takes, and its timeline text when that is not the event's
 * name.
 */
static const struct corr_act_effect {
	uint8_t		 ev;		/* enum corr_evtype */
	uint8_t		 stage;		/* enum corr_state; CORR_OPEN: none */
	int8_t		 step;		/* enum sla_step, or -1 */
	const char	*what;		/* NULL: the event's name */
} corr_act_effects[CORR_ACT__COUNT] = {
	[CORR_ACT_ACK] = { CORR_EV_ACKNOWLEDGED, CORR_ACKNOWLEDGED,
	    SLA_STEP_ACK, NULL },
	[CORR_ACT_DISPATCH] = { CORR_EV_DISPATCHED, CORR_DISPATCHED,
	    SLA_STEP_DISPATCH, NULL },
	[CORR_ACT_ON_SITE] = { CORR_EV_ON_SITE, CORR_ON_SITE,
	    SLA_STEP_ON_SITE, NULL },
	[CORR_ACT_RESOLVE] = { CORR_EV_RESOLVED, CORR_OPEN, SLA_STEP_RESOLVE,
	    NULL },
	[CORR_ACT_CLOSE] = { CORR_EV_CLOSED, CORR_OPEN, -1, NULL },
	[CORR_ACT_NOTE] = { CORR_EV_UPDATED, CORR_OPEN, -1, "note" },
	[CORR_ACT_PAUSE] = { CORR_EV_UPDATED, CORR_OPEN, -1, "paused" },
	[CORR_ACT_RESUME] = { CORR_EV_UPDATED, CORR_OPEN, -1, "resumed" },
};

int
corr_engine_action(struct corr_engine *e, const struct corr_action *a,
    char *reason, size_t len)
{
	struct corr_incident *inc = NULL;
	const struct corr_act_effect *fx;
	unsigned shard;
	uint64_t num;
	const char *note = a->note != NULL && a->note[0] != '\0' ? a->note : NULL;
	const char *why;
	enum corr_evtype ev;

#define REJECT(rc, ...) return corr_reject(e, a, rc, reason, len, __VA_ARGS__)
	corr_engine_advance(e, a->at);
	if (corr_id_parse(e->cc.id_prefix, a->incident, &shard, &num) == 0 &&
	    shard == e->shard)
		inc = u64map_get(&e->incidents, num);
	if (inc == NULL)
		REJECT(-ENOENT, "unknown incident %s",
		    a->incident != NULL ? a->incident : "(null)");
	corr_touch(e, inc);
	if (a->type >= CORR_ACT__COUNT)
		REJECT(-EINVAL, "unknown action %u", a->type);
	if (a->actor == NULL || a->actor[0] == '\0')
		REJECT(-EINVAL, "missing actor");
	if (strlen(a->actor) > CORR_ACTOR_MAX)
		REJECT(-EINVAL, "actor longer than %d bytes", CORR_ACTOR_MAX);
	if (note != NULL && strlen(note) > CORR_NOTE_MAX)
		REJECT(-EINVAL, "note longer than %d bytes", CORR_NOTE_MAX);
	if (inc->state == CORR_CLOSED)
		REJECT(-EPERM, "incident closed");
	fx = &corr_act_effects[a->type];
	/* the work stage no longer moves once the incident is resolved */
	if (fx->stage != CORR_OPEN && inc->state == CORR_RESOLVED)
		REJECT(-EPERM, "incident resolved");
	/* what must hold for the action, and what is its own */
	switch (a->type) {
	case CORR_ACT_ACK:
		if (inc->stage != CORR_OPEN)
			REJECT(-EPERM, "already acknowledged by %s", inc->owner);
		inc->owner = xstrdup(a->actor);
		break;
	case CORR_ACT_DISPATCH:
		if (inc->kind == CORR_KIND_COMPLAINT)
			REJECT(-EPERM, "a complaint has no dispatch (no "
			    "arrival clock)");
		if (inc->stage == CORR_OPEN)
			REJECT(-EPERM, "not acknowledged");
		if (inc->stage != CORR_ACKNOWLEDGED)
			REJECT(-EPERM, "already dispatched");
		break;
	case CORR_ACT_ON_SITE:
		if (inc->kind == CORR_KIND_COMPLAINT)
			REJECT(-EPERM, "a complaint has no on-site step (no "
			    "arrival clock)");
		if (inc->stage < CORR_DISPATCHED)
			REJECT(-EPERM, "not dispatched");
		if (inc->stage == CORR_ON_SITE)
			REJECT(-EPERM, "already on site");
		break;
	case CORR_ACT_RESOLVE:
		if (inc->state == CORR_RESOLVED)
			REJECT(-EPERM, "already resolved");
		if (inc->nactive > 0)
			REJECT(-EPERM, "%u %s still active", inc->nactive,
			    inc->kind == CORR_KIND_AREA ? "linked incident(s)" :
			    "alarm(s)");
		inc->state = CORR_RESOLVED;
		break;
	case CORR_ACT_CLOSE:
		if (a->satisfaction > 5)
			REJECT(-EINVAL, "satisfaction %u is not 1-5",
			    a->satisfaction);
		if (inc->state != CORR_RESOLVED)
			REJECT(-EPERM, "not resolved");
		inc->state = CORR_CLOSED;
		inc->satisfaction = a->satisfaction;
		break;
	case CORR_ACT_PAUSE:
		if (note == NULL)
			REJECT(-EINVAL, "pause needs a note with the reason");
		if (!inc->has_sla)
			REJECT(-EPERM, "no SLA clocks on this incident");
		if (sla_pause(&e->sla, &inc->sla, SLA_PAUSE_OPERATOR, e->now,
		    note, &why) != 0)
			REJECT(-EPERM, "%s", why);
		break;
	case CORR_ACT_RESUME:
		if (!inc->has_sla)
			REJECT(-EPERM, "no SLA clocks on this incident");
		if (sla_resume(&e->sla, &inc->sla, SLA_PAUSE_OPERATOR, e->now,
		    &why) != 0)
			REJECT(-EPERM, "clocks not paused by an operator");
		break;
	default:	/* CORR_ACT_NOTE */
		if (note == NULL)
			REJECT(-EINVAL, "empty note");
		break;
	}
#undef REJECT
	if (fx->stage != CORR_OPEN)
		corr_advance(inc, fx->stage);
	if (fx->step >= 0)
		corr_sla_step(e, inc, (enum sla_step)fx->step);
	ev = (enum corr_evtype)fx->ev;
	corr_step_note(inc, a->at, a->actor, fx->what != NULL ? fx->what :
	    corr_evtype_name(ev), note);
	if (ev == CORR_EV_RESOLVED)
		corr_sla_scored(inc, a->at);
	corr_emit(e, inc, ev, a->at);
	if (inc->state == CORR_CLOSED)
		corr_inc_free(e, inc);
	return 0;
}

/* ---- complaints ---- */

/* The tenant entry of customer at site s, or NULL. */
static const struct fleet_tenant *
corr_tenant(const struct fleet_site *s, const char *customer)
{
	for (size_t i = 0; i < s->ntenants; i++)
		if (strcmp(s->tenants[i].customer, customer) == 0)
			return &s->tenants[i];
	return NULL;
}

int
corr_engine_complaint(struct corr_engine *e, const struct corr_complaint *c,
    char *id, size_t idlen, char *reason, size_t len)
{
	const struct fleet *f = e->fleet;
	struct corr_incident *inc;
	const char *why = NULL;

	if (c->site >= f->nsites)
		why = "unknown site";
	else if (c->customer == NULL || c->customer[0] == '\0')
		why = "missing customer";
	else if (corr_tenant(&f->sites[c->site], c->customer) == NULL)
		why = "customer is not a tenant of the site";
	else if (c->text == NULL || c->text[0] == '\0')
		why = "missing text";
	else if (strlen(c->text) > CORR_NOTE_MAX)
		why = "text longer than " CORR_STR(CORR_NOTE_MAX) " bytes";
	else if (c->actor == NULL || c->actor[0] == '\0')
		why = "missing actor";
	else if (strlen(c->actor) > CORR_ACTOR_MAX)
		why = "actor longer than " CORR_STR(CORR_ACTOR_MAX) " bytes";
	else if (c->severity >= SEV__COUNT)
		why = "severity out of range";
	if (why != NULL) {
		e->st.bad_input++;
		if (reason != NULL && len > 0)
			snprintf(reason, len, "%s", why);
		return -EINVAL;
	}
	corr_engine_advance(e, c->at);
	/*
	 * Not on the site's list: that list is where alarms look for roots
	 * and adoptable incidents, and a complaint is neither.
	 */
	inc = corr_inc_new(e, CORR_KIND_COMPLAINT, c->site,
	    f->sites[c->site].area, c->at);
	inc->severity = c->severity;
	inc->customer = xstrdup(c->customer);
	corr_step_note(inc, c->at, c->actor, "opened", c->text);
	corr_sla_open(e, inc);
	corr_emit(e, inc, CORR_EV_OPENED, c->at);
	if (id != NULL && idlen > 0)
		snprintf(id, idlen, "%s", inc->id);
	return 0;
}

/* ---- maintenance windows ---- */

int
corr_engine_maint_put(struct corr_engine *e, uint32_t id,
    const struct corr_maint *m)
{
	struct corr_mwin *w;

	if (id == 0)
		return -EINVAL;
	for (uint32_t i = 0; i < e->nmaint; i++)
		if (e->maint[i].id == id)
			return -EEXIST;
	e->maint = corr_grow(e->maint, e->nmaint, &e->capmaint, 4,
	    sizeof(*e->maint));
	w = &e->maint[e->nmaint++];
	w->id = id;
	w->m = *m;
	/* kept on every incident it plans and in their events: bounded */
	w->reason = m->reason != NULL ? xstrndup(m->reason,
	    corr_utf8_cut(m->reason, CORR_NOTE_MAX)) : xstrdup("");
	w->m.reason = w->reason;
	w->actor = m->actor != NULL ? xstrndup(m->actor,
	    corr_utf8_cut(m->actor, CORR_ACTOR_MAX)) : NULL;
	w->m.actor = w->actor;
	w->ended = 0;
	if (id > e->next_maint)
		e->next_maint = id;
	return 0;
}

uint32_t
corr_engine_maint_add(struct corr_engine *e, const struct corr_maint *m)
{
	uint32_t id = e->next_maint + 1;

	corr_engine_maint_put(e, id, m);
	return id;
}

int
corr_engine_maint_remove(struct corr_engine *e, uint32_t id)
{
	for (uint32_t i = 0; i < e->nmaint; i++) {
		if (e->maint[i].id != id)
			continue;
		if (!e->maint[i].ended)
			corr_unplan(e, id, e->now, "removed");
		xfree(e->maint[i].reason);
		xfree(e->maint[i].actor);
		memmove(&e->maint[i], &e->maint[i + 1],
		    (e->nmaint - i - 1) * sizeof(*e->maint));
		e->nmaint--;
		return 0;
	}
	return -ENOENT;
}

void
corr_engine_maint_each(const struct corr_engine *e,
    void (*fn)(void *arg, uint32_t id, const struct corr_maint *m, int ended),
    void *arg)
{
	for (uint32_t i = 0; i < e->nmaint; i++)
		fn(arg, e->maint[i].id, &e->maint[i].m, e->maint[i].ended);
}

/* ---- engine ---- */

static void
corr_build_gateways(struct corr_engine *e)
{
	const struct fleet *f = e->fleet;
	size_t n = f->ndevices;

	e->gw_start = xcalloc(n + 1, sizeof(*e->gw_start));
	e->gw_list = xcalloc(n ? n : 1, sizeof(*e->gw_list));
	for (size_t d = 0; d < n; d++)
		if (f->devices[d].via < n)
			e->gw_start[f->devices[d].via + 1]++;
	for (size_t d = 0; d < n; d++)
		e->gw_start[d + 1] += e->gw_start[d];
	{
		uint32_t *fill = xcalloc(n ? n : 1, sizeof(*fill));
		for (size_t d = 0; d < n; d++) {
			uint32_t via = f->devices[d].via;
			if (via < n)
				e->gw_list[e->gw_start[via] + fill[via]++] =
				    (uint32_t)d;
		}
		xfree(fill);
	}
}

struct corr_engine *
corr_engine_new(struct fleet *fleet, const struct corr_config *cc,
    unsigned shard, const struct corr_sink *sink)
{
	struct corr_engine *e = xcalloc(1, sizeof(*e));

	e->fleet = fleet;
	e->cc = *cc;
	e->shard = shard;
	e->sink = *sink;
	e->next_num = cc->id_start;
	e->now = INT64_MIN;
	e->late_before = INT64_MIN;
	if (cc->sla != NULL) {
		if (sla_engine_init(&e->sla, cc->sla, corr_sla_event, e, 0) != 0) {
			xfree(e);
			return NULL;
		}
		e->has_sla = 1;
	}
	e->nrules = cc->nrules;
	for (unsigned i = 0; i < cc->nrules; i++) {
		const struct corr_rule *r = &cc->rules[i];
		struct corr_rule_rt *rt = &e->rules[i];

		rt->root = fleet_code(fleet, r->root);
		rt->nchildren = r->nchildren;
		for (unsigned k = 0; k < r->nchildren; k++)
			rt->children[k] = fleet_code(fleet, r->children[k]);
		rt->scope = r->scope;
		rt->window_ms = r->window_ms;
		rt->before_ms = r->before_ms;
	}
	e->storm_code = cc->storm_code[0] != '\0' ?
	    fleet_code(fleet, cc->storm_code) : -1;
	e->ncodes = fleet->ncodes;
	e->child_rules = xcalloc(e->ncodes, sizeof(*e->child_rules));
	e->root_rules = xcalloc(e->ncodes, sizeof(*e->root_rules));
	for (unsigned i = 0; i < e->nrules; i++) {
		e->root_rules[e->rules[i].root] |= 1u << i;
		for (unsigned k = 0; k < e->rules[i].nchildren; k++)
			e->child_rules[e->rules[i].children[k]] |= 1u << i;
	}
	u64map_init(&e->alarms);
	u64map_init(&e->incidents);
	u64map_init(&e->sites);
	u64map_init(&e->areas);
	u64map_init(&e->chronic);
	corr_build_gateways(e);
	return e;
}

void
corr_engine_track(struct corr_engine *e, int on)
{
	e->track = on != 0;
	e->sla.fired = e->track && e->has_sla ? corr_sla_fired : NULL;
}

void
corr_engine_changed(struct corr_engine *e,
    void (*fn)(void *arg, uint64_t num, const struct corr_incident *inc),
    void *arg)
{
	for (uint32_t i = 0; i < e->nchanged; i++) {
		struct corr_incident *inc = u64map_get(&e->incidents,
		    e->changed[i]);

		if (inc != NULL)
			inc->changed = 0;
		if (fn != NULL)
			fn(arg, e->changed[i], inc);
	}
	e->nchanged = 0;
}

void
corr_engine_free(struct corr_engine *e)
{
	size_t pos = 0;
	void *v;

	if (e == NULL)
		return;
	{
		size_t n = 0, cap = e->incidents.used;
		struct corr_incident **all = xcalloc(cap ? cap : 1,
		    sizeof(*all));

		while (n < cap && u64map_next(&e->incidents, &pos, NULL, &v))
			all[n++] = v;
		for (size_t i = 0; i < n; i++)
			corr_inc_free(e, all[i]);
		xfree(all);
	}
	/* Records detached from the map by a later raise died with their
	 * incidents above; anything still mapped belonged to one of them. */
	for (pos = 0; u64map_next(&e->areas, &pos, NULL, &v); ) {
		struct corr_area_rt *ar = v;
		xfree(ar->ents);
		xfree(ar);
	}
	for (pos = 0; u64map_next(&e->chronic, &pos, NULL, &v); )
		xfree(v);
	for (uint32_t i = 0; i < e->nmaint; i++) {
		xfree(e->maint[i].reason);
		xfree(e->maint[i].actor);
	}
	xfree(e->maint);
	xfree(e->changed);
	if (e->has_sla)
		sla_engine_fini(&e->sla);
	u64map_fini(&e->alarms);
	u64map_fini(&e->incidents);
	u64map_fini(&e->sites);
	u64map_fini(&e->areas);
	u64map_fini(&e->chronic);
	xfree(e->child_rules);
	xfree(e->root_rules);
	xfree(e->gw_start);
	xfree(e->gw_list);
	xfree(e);
}

const struct corr_incident *
corr_engine_find(const struct corr_engine *e, const char *id)
{
	unsigned shard;
	uint64_t num;

	if (corr_id_parse(e->cc.id_prefix, id, &shard, &num) != 0 ||
	    shard != e->shard)
		return NULL;
	return u64map_get(&e->incidents, num);
}

void
corr_engine_stats(const struct corr_engine *e, struct corr_stats *out)
{
	*out = e->st;
}

static size_t
corr_strbytes(const char *s)
{
	return s != NULL ? strlen(s) + 1 : 0;
}

size_t
corr_engine_incident_bytes(const struct corr_engine *e,
    const struct corr_incident *inc)
{
	size_t n = sizeof(*inc);

	n += (size_t)inc->capalarms * sizeof(*inc->alarms);
	for (uint32_t i = 0; i < inc->nalarms; i++) {
		n += sizeof(*inc->alarms[i]);
		if (inc->alarms[i]->flap != NULL)
			n += e->cc.flap_cycles * sizeof(int64_t);
	}
	n += (size_t)inc->capsteps * sizeof(*inc->steps);
	for (uint32_t i = 0; i < inc->nsteps; i++) {
		if (inc->steps[i].actor != corr_system)
			n += corr_strbytes(inc->steps[i].actor);
		n += corr_strbytes(inc->steps[i].note);
	}
	n += (size_t)inc->nchronic * sizeof(*inc->chronic_of);
	n += (size_t)inc->nlinks * sizeof(*inc->links);
	n += corr_strbytes(inc->owner) + corr_strbytes(inc->planned_reason);
	n += corr_strbytes(inc->customer);
	return n;
}

/* ---- restart: dump, catch-up ---- */

int64_t
corr_engine_now(const struct corr_engine *e)
{
	return e->now == INT64_MIN ? 0 : e->now;
}

void
corr_engine_catch_up(struct corr_engine *e, int64_t now)
{
	e->late_before = now;
	corr_engine_advance(e, now);
	e->late_before = INT64_MIN;
}

/* An incident and its number, sorted by the number alone. */
struct corr_numinc {
	uint64_t	 num;
	struct corr_incident *inc;
};

static int
corr_numinc_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct corr_numinc *)a)->num;
	uint64_t y = ((const struct corr_numinc *)b)->num;

	return x < y ? -1 : x > y;
}

/*
 * The live incidents in number order, each beside its number; the caller
 * frees the array.  The sort compares the map's keys, not inc->num through
 * the pointers, which missed the cache at nearly every compare (perf of a
 * start with 100,000 open incidents: corr_num_cmp was 3% of the daemon's
 * CPU until /readyz, and the stats copy sorted once a second).
 */
static struct corr_numinc *
corr_sorted(const struct corr_engine *e, size_t *n)
{
	size_t cap = e->incidents.used, pos = 0;
	struct corr_numinc *k = xcalloc(cap ? cap : 1, sizeof(*k));
	uint64_t num;
	void *p;

	*n = 0;
	while (*n < cap && u64map_next(&e->incidents, &pos, &num, &p)) {
		k[*n].num = num;
		k[(*n)++].inc = p;
	}
	if (*n > 1)
		qsort(k, *n, sizeof(*k), corr_numinc_cmp);
	return k;
}

void
corr_engine_each(const struct corr_engine *e,
    void (*fn)(void *arg, const struct corr_incident *inc), void *arg)
{
	size_t pos = 0;
	void *p;

	while (u64map_next(&e->incidents, &pos, NULL, &p))
		fn(arg, p);
}

void
corr_engine_dump(const struct corr_engine *e, int64_t at,
    void (*fn)(void *arg, const struct corr_event *ev), void *arg)
{
	size_t n;
	struct corr_numinc *v = corr_sorted(e, &n);
	struct corr_event ev;

	for (size_t i = 0; i < n; i++) {
		corr_event_fill(e, v[i].inc, &ev, CORR_EV_UPDATED, at, 0);
		ev.first_step = 0;	/* the whole timeline */
		fn(arg, &ev);
	}
	xfree(v);
}

/* ---- snapshots ----
 *
 * Layout (docs/correlation.md, "Snapshot"): header, name table, body.
 * Fleet objects are named, never indexed: a reference is a u32 position
 * in the name table (UINT32_MAX: none), each entry a kind byte and the
 * id, so a snapshot outlives a fleet reordered by a config reload.  The
 * body is the windows, the incidents in number order (each with its alarm
 * records, timeline, links and clocks), the chronic histories and the
 * storm tracking, each list sorted by name so that equal engines save
 * equal bytes whatever their maps' insertion history.  What is derived
 * (the site lists, the alarm index, nactive, the live counters) is
 * rebuilt, not stored.
 */

#define CORR_SNAP_MAGIC		"TCSNAP1"	/* 8 bytes with its NUL */
/*
 * Version 2 added a window's actor, version 3 complaint incidents (their
 * customer after the planned reason); everything else is version 1's
 * bytes, so older snapshots load as they always did (they hold no
 * complaint).
 */
#define CORR_SNAP_VERSION	3u
#define CORR_SNAP_VERSION_MIN	1u
#define CORR_SNAP_V_COMPLAINT	3u	/* the first with complaints */
#define CORR_SNAP_NAME_MAX	1024		/* bytes of a fleet id */
#define CORR_SNAP_NONE		UINT32_MAX	/* no name */
#define CORR_NSTATS	(sizeof(struct corr_stats) / sizeof(uint64_t))

_Static_assert(sizeof(struct corr_stats) % sizeof(uint64_t) == 0,
    "corr_stats is uint64_t counters only");

/*
 * Every timeline action the engine writes; a loaded step points at these,
 * as a live one points at its literal (incjson writes it unescaped).
 */
static const char *const corr_snap_actions[] = {
	"opened", "planned", "chronic", "alarm", "adopted", "merged",
	"linked", "flapping", "reraised", "reopened", "resolved", "cleared",
	"scored", "unplanned", "acknowledged", "dispatched", "on_site",
	"closed", "note", "paused", "resumed", "sla_warning", "sla_breached",
	"escalated", "updated",
};

struct corr_snapw {
	const struct fleet *f;
	struct snapbuf names;		/* the name table's entries */
	struct snapbuf body;
	struct u64map ix;		/* kind << 32 | index -> position + 1 */
	uint32_t nnames;
	int	 one;			/* a record of one incident */
};

static const char *
corr_fleet_name(const struct fleet *f, enum fleet_kind k, uint32_t i)
{
	switch (k) {
	case FLEET_SITE:
		return f->sites[i].id;
	case FLEET_DEVICE:
		return f->devices[i].id;
	case FLEET_AREA:
		return f->areas[i];
	default:
		return f->codes[i];
	}
}

static size_t
corr_fleet_count(const struct fleet *f, enum fleet_kind k)
{
	switch (k) {
	case FLEET_SITE:
		return f->nsites;
	case FLEET_DEVICE:
		return f->ndevices;
	case FLEET_AREA:
		return f->nareas;
	default:
		return f->ncodes;
	}
}

/* Writes a reference to fleet object i of kind k (none if out of range). */
static void
corr_snap_ref(struct corr_snapw *w, enum fleet_kind k, uint32_t i)
{
	uint64_t key = ((uint64_t)k << 32) | i;
	uintptr_t pos;

	if (i == FLEET_NONE || i >= corr_fleet_count(w->f, k)) {
		snapbuf_put_u32(&w->body, CORR_SNAP_NONE);
		return;
	}
	pos = (uintptr_t)u64map_get(&w->ix, key);
	if (pos == 0) {
		pos = ++w->nnames;
		u64map_put(&w->ix, key, (void *)pos);
		snapbuf_put_u8(&w->names, (uint8_t)k);
		snapbuf_put_str(&w->names, corr_fleet_name(w->f, k, i));
	}
	snapbuf_put_u32(&w->body, (uint32_t)(pos - 1));
}

static void
corr_snap_save_alarm(struct corr_snapw *w, const struct corr_engine *e,
    const struct corr_alarm *a)
{
	struct snapbuf *b = &w->body;
	unsigned nflap = a->flap != NULL ? e->cc.flap_cycles : 0;

	corr_snap_ref(w, FLEET_DEVICE, a->device);
	corr_snap_ref(w, FLEET_CODE, a->code);
	snapbuf_put_i64(b, a->raised_at);
	snapbuf_put_i64(b, a->cleared_at);
	snapbuf_put_u32(b, a->repeats);
	snapbuf_put_u32(b, a->cycles);
	snapbuf_put_u8(b, a->severity);
	snapbuf_put_u8(b, (uint8_t)(a->active | a->flapping << 1 |
	    (u64map_get(&e->alarms, corr_akey(a->device, a->code)) == a) << 2));
	snapbuf_put_u32(b, nflap);
	for (unsigned i = 0; i < nflap; i++)
		snapbuf_put_i64(b, a->flap[i]);
}

static void
corr_snap_save_inc(struct corr_snapw *w, const struct corr_engine *e,
    const struct corr_incident *inc)
{
	struct snapbuf *b = &w->body;
	uint32_t root = CORR_SNAP_NONE;

	snapbuf_put_u64(b, inc->num);
	snapbuf_put_u64(b, inc->seq);
	snapbuf_put_i64(b, inc->opened_at);
	snapbuf_put_i64(b, inc->updated_at);
	snapbuf_put_u8(b, inc->kind);
	snapbuf_put_u8(b, inc->state);
	snapbuf_put_u8(b, inc->stage);
	snapbuf_put_u8(b, inc->severity);
	snapbuf_put_u8(b, inc->planned);
	snapbuf_put_u8(b, inc->flapping);
	snapbuf_put_u8(b, inc->chronic);
	snapbuf_put_u8(b, inc->has_sla);
	corr_snap_ref(w, FLEET_SITE, inc->site);
	corr_snap_ref(w, FLEET_AREA, inc->area);
	snapbuf_put_u32(b, inc->planned_win);
	snapbuf_put_str(b, inc->owner);
	snapbuf_put_str(b, inc->planned_reason);
	if (inc->kind == CORR_KIND_COMPLAINT)
		snapbuf_put_str(b, inc->customer);
	for (uint32_t i = 0; i < inc->nalarms; i++)
		if (inc->alarms[i] == inc->root)
			root = i;
	snapbuf_put_u32(b, root);
	snapbuf_put_u32(b, inc->nalarms);
	for (uint32_t i = 0; i < inc->nalarms; i++)
		corr_snap_save_alarm(w, e, inc->alarms[i]);
	snapbuf_put_u32(b, inc->nsteps);
	for (uint32_t i = 0; i < inc->nsteps; i++) {
		const struct corr_step *st = &inc->steps[i];

		snapbuf_put_i64(b, st->at);
		snapbuf_put_str(b, st->actor == corr_system ? NULL : st->actor);
		snapbuf_put_str(b, st->action);
		snapbuf_put_str(b, st->note);
	}
	snapbuf_put_u32(b, inc->sent_steps);
	snapbuf_put_u32(b, inc->nchronic);
	for (uint32_t i = 0; i < inc->nchronic; i++)
		snapbuf_put_u64(b, inc->chronic_of[i]);
	snapbuf_put_u32(b, inc->nlinks);
	for (uint32_t i = 0; i < inc->nlinks; i++) {
		snapbuf_put_u64(b, inc->links[i].num);
		corr_snap_ref(w, FLEET_SITE, inc->links[i].site);
	}
	snapbuf_put_u64(b, inc->area_num);
	snapbuf_put_u64(b, inc->repeats);
	snapbuf_put_u64(b, inc->flap_cycles);
	if (inc->has_sla)
		sla_incident_save(&inc->sla, b, !w->one);
}

/* Map entries sorted by the names their key stands for. */
struct corr_snap_ent {
	const struct fleet *f;
	uint64_t key;
	void	*val;
};

/* chronic keys are site << 16 | code; area keys are the area */
static int
corr_snap_chronic_cmp(const void *pa, const void *pb)
{
	const struct corr_snap_ent *a = pa, *b = pb;
	int c = strcmp(a->f->sites[a->key >> 16].id, b->f->sites[b->key >> 16].id);

	return c != 0 ? c : strcmp(a->f->codes[a->key & 0xffff],
	    b->f->codes[b->key & 0xffff]);
}

static int
corr_snap_area_cmp(const void *pa, const void *pb)
{
	const struct corr_snap_ent *a = pa, *b = pb;

	return strcmp(a->f->areas[a->key], b->f->areas[b->key]);
}

static struct corr_snap_ent *
corr_snap_entries(const struct corr_engine *e, const struct u64map *m,
    int (*cmp)(const void *, const void *))
{
	struct corr_snap_ent *v = xcalloc(m->used ? m->used : 1, sizeof(*v));
	size_t n = 0, pos = 0;
	uint64_t k;
	void *p;

	while (n < m->used && u64map_next(m, &pos, &k, &p)) {
		v[n].f = e->fleet;
		v[n].key = k;
		v[n++].val = p;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp);
	return v;
}

/*
 * What a snapshot holds: the whole engine (corr_engine_save), its head
 * alone (every section but the incidents: corr_engine_save_head) or one
 * incident with empty other sections (corr_engine_save_incident).  The
 * header (time, next numbers, counters) is in each.
 */
enum corr_snap_what { CORR_SNAP_ALL, CORR_SNAP_HEAD, CORR_SNAP_ONE };

static int
corr_snap_write(const struct corr_engine *e, enum corr_snap_what what,
    const struct corr_incident *one, char **out, size_t *outlen)
{
	struct corr_snapw w;
	struct snapbuf hdr;
	struct corr_numinc *incs;
	struct corr_snap_ent *ents;
	uint64_t stats[CORR_NSTATS];
	uint32_t nmaint = what == CORR_SNAP_ONE ? 0 : e->nmaint;
	size_t n;

	memset(&w, 0, sizeof(w));
	w.f = e->fleet;
	w.one = what == CORR_SNAP_ONE;
	u64map_init(&w.ix);
	snapbuf_init(&hdr);

	snapbuf_put_u32(&w.body, nmaint);
	for (uint32_t i = 0; i < nmaint; i++) {
		const struct corr_mwin *mw = &e->maint[i];

		snapbuf_put_u32(&w.body, mw->id);
		corr_snap_ref(&w, FLEET_SITE, mw->m.site);
		/* an area names the window's place only without a site */
		corr_snap_ref(&w, FLEET_AREA, mw->m.site == FLEET_NONE ?
		    mw->m.area : FLEET_NONE);
		snapbuf_put_i64(&w.body, mw->m.start_ms);
		snapbuf_put_i64(&w.body, mw->m.end_ms);
		snapbuf_put_str(&w.body, mw->reason);
		snapbuf_put_u8(&w.body, mw->ended);
		snapbuf_put_str(&w.body, mw->actor);	/* version 2 */
	}

	if (what == CORR_SNAP_ALL) {
		incs = corr_sorted(e, &n);
		snapbuf_put_u32(&w.body, (uint32_t)n);
		for (size_t i = 0; i < n; i++)
			corr_snap_save_inc(&w, e, incs[i].inc);
		xfree(incs);
	} else if (what == CORR_SNAP_ONE) {
		snapbuf_put_u32(&w.body, 1);
		corr_snap_save_inc(&w, e, one);
	} else
		snapbuf_put_u32(&w.body, 0);
	if (what == CORR_SNAP_ONE) {
		snapbuf_put_u32(&w.body, 0);	/* chronic */
		snapbuf_put_u32(&w.body, 0);	/* areas */
		goto header;
	}

	ents = corr_snap_entries(e, &e->chronic, corr_snap_chronic_cmp);
	snapbuf_put_u32(&w.body, (uint32_t)e->chronic.used);
	for (size_t i = 0; i < e->chronic.used; i++) {
		const struct corr_chronic *h = ents[i].val;

		corr_snap_ref(&w, FLEET_SITE, (uint32_t)(ents[i].key >> 16));
		corr_snap_ref(&w, FLEET_CODE, (uint32_t)(ents[i].key & 0xffff));
		snapbuf_put_u32(&w.body, h->n);
		for (uint32_t k = 0; k < h->n; k++) {
			snapbuf_put_i64(&w.body, h->e[k].at);
			snapbuf_put_u64(&w.body, h->e[k].num);
		}
	}
	xfree(ents);

	ents = corr_snap_entries(e, &e->areas, corr_snap_area_cmp);
	snapbuf_put_u32(&w.body, (uint32_t)e->areas.used);
	for (size_t i = 0; i < e->areas.used; i++) {
		const struct corr_area_rt *ar = ents[i].val;

		corr_snap_ref(&w, FLEET_AREA, (uint32_t)ents[i].key);
		snapbuf_put_u64(&w.body, ar->open_num);
		snapbuf_put_u32(&w.body, ar->n);
		for (uint32_t k = 0; k < ar->n; k++) {
			snapbuf_put_i64(&w.body, ar->ents[k].at);
			corr_snap_ref(&w, FLEET_SITE, ar->ents[k].site);
			snapbuf_put_u64(&w.body, ar->ents[k].num);
		}
	}
	xfree(ents);

header:
	snapbuf_put_bytes(&hdr, CORR_SNAP_MAGIC, sizeof(CORR_SNAP_MAGIC));
	snapbuf_put_u32(&hdr, CORR_SNAP_VERSION);
	snapbuf_put_u32(&hdr, e->shard);
	snapbuf_put_str(&hdr, e->cc.id_prefix);
	if (what == CORR_SNAP_ONE) {
		/* an incident's record holds the incident alone: the
		 * engine's time, numbers and counters are the head's (a
		 * load checks these, keeps none), so that the record
		 * changes only when the incident does */
		snapbuf_put_i64(&hdr, INT64_MIN);
		snapbuf_put_u64(&hdr, e->cc.id_start);
		snapbuf_put_u32(&hdr, 0);
		snapbuf_put_u32(&hdr, 0);
	} else {
		snapbuf_put_i64(&hdr, e->now);
		snapbuf_put_u64(&hdr, e->next_num);
		snapbuf_put_u32(&hdr, e->next_maint);
		memcpy(stats, &e->st, sizeof(stats));
		snapbuf_put_u32(&hdr, (uint32_t)CORR_NSTATS);
		for (size_t i = 0; i < CORR_NSTATS; i++)
			snapbuf_put_u64(&hdr, stats[i]);
	}
	snapbuf_put_u32(&hdr, w.nnames);
	snapbuf_put_bytes(&hdr, w.names.p, w.names.n);
	snapbuf_put_bytes(&hdr, w.body.p, w.body.n);

	snapbuf_fini(&w.names);
	snapbuf_fini(&w.body);
	u64map_fini(&w.ix);
	*out = hdr.p;
	*outlen = hdr.n;
	return 0;
}

int
corr_engine_save(const struct corr_engine *e, char **out, size_t *outlen)
{
	return corr_snap_write(e, CORR_SNAP_ALL, NULL, out, outlen);
}

int
corr_engine_save_head(const struct corr_engine *e, char **out,
    size_t *outlen)
{
	return corr_snap_write(e, CORR_SNAP_HEAD, NULL, out, outlen);
}

int
corr_engine_save_incident(const struct corr_engine *e, const char *id,
    char **out, size_t *outlen)
{
	const struct corr_incident *inc = corr_engine_find(e, id);

	if (inc == NULL)
		return -ENOENT;
	return corr_snap_write(e, CORR_SNAP_ONE, inc, out, outlen);
}

/* Puts a load holds back, to make at once (corr_snap_flush). */
struct corr_snap_puts {
	struct u64map_slot *v;
	size_t		 n, cap;
};

struct corr_snapr {
	struct snapbuf_rd r;
	uint32_t version;	/* of the snapshot being read */
	uint32_t nnames;
	uint8_t	*kinds;		/* per name: enum fleet_kind */
	uint32_t *idx;		/* its index in this fleet, or FLEET_NONE */
	struct corr_snap_puts incs, alarms;	/* e->incidents', e->alarms' */
};

static void
corr_snap_put(struct corr_snap_puts *p, uint64_t key, void *val)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 256;
		p->v = xreallocarray(p->v, p->cap, sizeof(*p->v));
	}
	p->v[p->n].key = key;
	p->v[p->n].val = val;
	p->n++;
}

/*
 * Makes the puts held back: the incidents' and alarms' maps are only put
 * to while a snapshot is read (nothing gets from them before the read
 * ends), so the load holds their puts and makes them in one batch each,
 * in table order (u64map_put_batch).  Flushed before anything that needs
 * the maps whole: the free of a dropped incident, the read's end (a
 * failure's too: corr_engine_free() then finds every incident read).
 */
static void
corr_snap_flush(struct corr_engine *e, struct corr_snapr *sr)
{
	u64map_put_batch(&e->incidents, sr->incs.v, sr->incs.n);
	u64map_put_batch(&e->alarms, sr->alarms.v, sr->alarms.n);
	sr->incs.n = sr->alarms.n = 0;
}

enum { CORR_REF_OK, CORR_REF_UNKNOWN };

/*
 * Reads a reference of kind k: CORR_REF_OK with *i the object (FLEET_NONE
 * for none, refused unless optional), CORR_REF_UNKNOWN when this fleet
 * does not know the name, or -1.
 */
static int
corr_snap_get_ref(struct corr_snapr *sr, enum fleet_kind k, int optional,
    uint32_t *i)
{
	uint32_t pos = snapbuf_get_u32(&sr->r);

	*i = FLEET_NONE;
	if (snapbuf_ok(&sr->r) != 0)
		return -1;
	if (pos == CORR_SNAP_NONE)
		return optional ? CORR_REF_OK :
		    snapbuf_fail(&sr->r, "missing fleet name");
	if (pos >= sr->nnames || sr->kinds[pos] != k)
		return snapbuf_fail(&sr->r, "bad fleet name reference");
	*i = sr->idx[pos];
	return *i == FLEET_NONE ? CORR_REF_UNKNOWN : CORR_REF_OK;
}

/* The capacity corr_grow() reaches for n elements from `first`. */
static uint32_t
corr_cap_for(uint32_t n, uint32_t first)
{
	uint32_t cap = n ? first : 0;

	while (cap < n)
		cap *= 2;
	return cap;
}

/*
 * Reads one alarm record: 0 with *out the record (attached to nothing) or
 * NULL when the fleet no longer knows its device or code, or -1.
 */
static int
corr_snap_load_alarm(struct corr_engine *e, struct corr_snapr *sr,
    struct corr_alarm **out, uint8_t *mapped)
{
	struct snapbuf_rd *r = &sr->r;
	struct corr_alarm a;
	uint32_t dev, code, nflap;
	int rd, rc;
	uint8_t flags;
	int64_t *flap = NULL;

	*out = NULL;
	memset(&a, 0, sizeof(a));
	if ((rd = corr_snap_get_ref(sr, FLEET_DEVICE, 0, &dev)) < 0 ||
	    (rc = corr_snap_get_ref(sr, FLEET_CODE, 0, &code)) < 0)
		return -1;
	a.raised_at = snapbuf_get_time(r);
	a.cleared_at = snapbuf_get_i64(r);
	a.repeats = snapbuf_get_u32(r);
	a.cycles = snapbuf_get_u32(r);
	a.severity = snapbuf_get_u8(r);
	flags = snapbuf_get_u8(r);
	nflap = snapbuf_get_count(r, sizeof(int64_t));
	if (snapbuf_ok(r) != 0)
		return -1;
	if (a.severity >= SEV__COUNT || flags > 7 ||
	    (a.cleared_at != 0 && (a.cleared_at < SNAPBUF_T_MIN ||
	    a.cleared_at > SNAPBUF_T_MAX)))
		return snapbuf_fail(r, "alarm record field out of range");
	if (nflap != 0 && nflap != e->cc.flap_cycles)
		return snapbuf_fail(r, "flap ring is not flap_cycles long");
	if (nflap != 0) {
		flap = xcalloc(nflap, sizeof(*flap));
		for (uint32_t i = 0; i < nflap; i++)
			flap[i] = snapbuf_get_i64(r);
		if (snapbuf_ok(r) != 0) {
			xfree(flap);
			return -1;
		}
	}
	if (rd == CORR_REF_UNKNOWN || rc == CORR_REF_UNKNOWN ||
	    code > UINT16_MAX) {
		xfree(flap);
		return 0;
	}
	*out = xcalloc(1, sizeof(**out));
	**out = a;
	(*out)->device = dev;
	(*out)->code = (uint16_t)code;
	(*out)->active = flags & 1;
	(*out)->flapping = (flags >> 1) & 1;
	(*out)->flap = flap;
	*mapped = (flags >> 2) & 1;
	return 0;
}

/* The action named by the n bytes at s (not NUL-terminated), or NULL. */
static const char *
corr_snap_action(const char *s, uint32_t n)
{
	for (size_t i = 0; i < sizeof(corr_snap_actions) /
	    sizeof(corr_snap_actions[0]); i++)
		if (n > 0 && corr_snap_actions[i][0] == s[0] &&
		    strncmp(s, corr_snap_actions[i], n) == 0 &&
		    corr_snap_actions[i][n] == '\0')
			return corr_snap_actions[i];
	return NULL;
}

/* Appends one timeline step read from r to inc: 0 or -1.  The action is
 * matched in place: a copy per step only to free it was waste. */
static int
corr_snap_load_step(struct corr_snapr *sr, struct corr_incident *inc)
{
	struct snapbuf_rd *r = &sr->r;
	char *actor = NULL, *note = NULL;
	const char *act = NULL, *action;
	uint32_t n = 0;
	struct corr_step *st;
	int64_t at = snapbuf_get_time(r);

	if (snapbuf_get_str(r, CORR_ACTOR_MAX, 1, &actor) != 0 ||
	    (action = snapbuf_get_strview(r, 32, &n)) == NULL ||
	    snapbuf_get_str(r, CORR_NOTE_MAX, 1, &note) != 0 ||
	    (act = corr_snap_action(action, n)) == NULL) {
		snapbuf_fail(r, "unknown timeline action");
		xfree(actor);
		xfree(note);
		return -1;
	}
	inc->steps = corr_grow(inc->steps, inc->nsteps, &inc->capsteps, 4,
	    sizeof(*inc->steps));
	st = &inc->steps[inc->nsteps++];
	st->at = at;
	st->actor = actor != NULL ? actor : corr_system;
	st->action = act;
	st->note = note;
	return 0;
}

/*
 * Reads an incident's site and area: 0 with *drop set when the fleet lost
 * the place that defines it (site and complaint incidents: the site; area
 * incident: its area), or -1.  One whose area is gone takes its site's.
 */
static int
corr_snap_load_place(struct corr_engine *e, struct corr_snapr *sr,
    struct corr_incident *inc, int *drop)
{
	uint32_t site, area;
	int rs, ra;

	if ((rs = corr_snap_get_ref(sr, FLEET_SITE, 1, &site)) < 0 ||
	    (ra = corr_snap_get_ref(sr, FLEET_AREA, 1, &area)) < 0)
		return -1;
	if (inc->kind != CORR_KIND_AREA) {
		if (rs == CORR_REF_OK && site == FLEET_NONE)
			return snapbuf_fail(&sr->r, "site incident without a site");
		if (rs == CORR_REF_OK && (ra != CORR_REF_OK || area == FLEET_NONE))
			area = e->fleet->sites[site].area;
		*drop = rs == CORR_REF_UNKNOWN;
	} else {
		if (rs != CORR_REF_OK || site != FLEET_NONE ||
		    (ra == CORR_REF_OK && area == FLEET_NONE))
			return snapbuf_fail(&sr->r, "area incident not of one area");
		*drop = ra == CORR_REF_UNKNOWN;
	}
	inc->site = site;
	inc->area = area;
	return 0;
}

/*
 * Reads an incident's alarm records; one whose device or code the fleet
 * lost is dropped (*dropped counts them), and so is the incident (*drop)
 * when that was its root.  Returns 0 or -1.
 */
static int
corr_snap_load_alarms(struct corr_engine *e, struct corr_snapr *sr,
    struct corr_incident *inc, int *drop, uint32_t *dropped)
{
	struct snapbuf_rd *r = &sr->r;
	uint32_t root = snapbuf_get_u32(r);
	uint32_t n = snapbuf_get_count(r, 38);	/* smallest record */

	if (snapbuf_ok(r) != 0)
		return -1;
	if (inc->kind == CORR_KIND_SITE ? root >= n :
	    root != CORR_SNAP_NONE || n != 0)	/* area, complaint: none */
		return snapbuf_fail(r, "incident root alarm out of range");
	if (n > 0) {	/* the room corr_grow() would reach, at once */
		inc->capalarms = corr_cap_for(n, 2);
		inc->alarms = xreallocarray(NULL, inc->capalarms,
		    sizeof(*inc->alarms));
	}
	for (uint32_t i = 0; i < n; i++) {
		struct corr_alarm *a;
		uint8_t mapped = 0;

		if (corr_snap_load_alarm(e, sr, &a, &mapped) != 0)
			return -1;
		if (a == NULL) {
			(*dropped)++;
			*drop |= i == root;	/* an incident is its root */
			continue;
		}
		inc->alarms = corr_grow(inc->alarms, inc->nalarms,
		    &inc->capalarms, 2, sizeof(*inc->alarms));
		inc->alarms[inc->nalarms++] = a;
		a->inc = inc;
		if (i == root)
			inc->root = a;
		if (mapped)
			corr_snap_put(&sr->alarms, corr_akey(a->device,
			    a->code), a);
	}
	return 0;
}

/* Reads an incident's chronic_of and area links (unknown sites forgotten). */
static int
corr_snap_load_related(struct corr_snapr *sr, struct corr_incident *inc)
{
	struct snapbuf_rd *r = &sr->r;
	uint32_t n = snapbuf_get_count(r, sizeof(uint64_t)), site;

	if (n > 0) {
		inc->chronic_of = xcalloc(n, sizeof(uint64_t));
		for (; inc->nchronic < n; inc->nchronic++)
			inc->chronic_of[inc->nchronic] = snapbuf_get_u64(r);
	}
	n = snapbuf_get_count(r, 12);	/* number and site */
	if (n > 0)
		inc->links = xcalloc(n, sizeof(*inc->links));
	for (uint32_t i = 0; i < n; i++) {
		uint64_t num = snapbuf_get_u64(r);
		int k = corr_snap_get_ref(sr, FLEET_SITE, 0, &site);

		if (k < 0)
			return -1;
		if (k == CORR_REF_OK) {
			inc->links[inc->nlinks].num = num;
			inc->links[inc->nlinks++].site = site;
		}
	}
	return snapbuf_ok(r);
}

/*
 * Reads one incident (numbers strictly after *prev) into the engine.
 * Returns 0 (kept, or dropped and counted) or -1.  The incident is put to
 * the incidents map from its first field on (held in sr until the read
 * ends: corr_snap_flush), every array consistent with its count and its
 * clocks' timers idle, so a failure halfway leaves it for
 * corr_engine_free().  A kept incident joins its site's list (loaded in
 * number order, so the list is newest first as the engine keeps it) and
 * its running clocks wait in rq for their slots.
 */
static int
corr_snap_load_inc(struct corr_engine *e, struct corr_snapr *sr,
    uint64_t *prev, struct sla_requeue *rq)
{
	struct snapbuf_rd *r = &sr->r;
	struct corr_incident *inc;
	uint32_t n, slot[SLA__NCLOCKS], dropped = 0;
	uint8_t has_sla;
	int drop = 0;
	uint64_t num = snapbuf_get_u64(r);

	if (snapbuf_ok(r) != 0)
		return -1;
	if (num <= *prev || num >= e->next_num)
		return snapbuf_fail(r, "incident numbers not ascending below "
		    "the next number");
	*prev = num;
	inc = xcalloc(1, sizeof(*inc));
	inc->num = num;
	inc->site = inc->area = FLEET_NONE;
	corr_snap_put(&sr->incs, num, inc);
	corr_id_format(inc->id, sizeof(inc->id), e->cc.id_prefix, e->shard, num);
	inc->seq = snapbuf_get_u64(r);
	inc->opened_at = snapbuf_get_time(r);
	inc->updated_at = snapbuf_get_time(r);
	inc->kind = snapbuf_get_u8(r);
	inc->state = snapbuf_get_u8(r);
	inc->stage = snapbuf_get_u8(r);
	inc->severity = snapbuf_get_u8(r);
	inc->planned = snapbuf_get_u8(r);
	inc->flapping = snapbuf_get_u8(r);
	inc->chronic = snapbuf_get_u8(r);
	has_sla = snapbuf_get_u8(r);
	if (snapbuf_ok(r) != 0)
		return -1;
	/* closed incidents are freed at once: never in a snapshot */
	if (inc->kind > (sr->version >= CORR_SNAP_V_COMPLAINT ?
	    CORR_KIND_COMPLAINT : CORR_KIND_AREA) ||
	    inc->state >= CORR_STATE__COUNT ||
	    inc->state == CORR_CLOSED || inc->stage > CORR_ON_SITE ||
	    inc->severity >= SEV__COUNT || inc->planned > 1 ||
	    inc->flapping > 1 || inc->chronic > 1 || has_sla > 1 ||
	    (has_sla && (!e->has_sla || inc->kind == CORR_KIND_AREA)) ||
	    (inc->kind == CORR_KIND_COMPLAINT && (inc->planned ||
	    inc->flapping || inc->chronic)))
		return snapbuf_fail(r, "incident field out of range");
	if (corr_snap_load_place(e, sr, inc, &drop) != 0)
		return -1;
	inc->planned_win = snapbuf_get_u32(r);
	if (snapbuf_get_str(r, CORR_ACTOR_MAX, 1, &inc->owner) != 0 ||
	    snapbuf_get_str(r, CORR_NOTE_MAX, 1, &inc->planned_reason) != 0)
		return -1;
	if (inc->kind == CORR_KIND_COMPLAINT &&
	    snapbuf_get_str(r, CORR_SNAP_NAME_MAX, 0, &inc->customer) != 0)
		return -1;
	/* the one ack sets the owner and moves the stage on: an owner at
	 * stage open would be overwritten (and leaked) by the next ack */
	if (inc->owner != NULL && inc->stage == CORR_OPEN)
		return snapbuf_fail(r, "owner of an incident not acknowledged");
	if (corr_snap_load_alarms(e, sr, inc, &drop, &dropped) != 0)
		return -1;
	n = snapbuf_get_count(r, 20);	/* smallest step */
	if (n > 0) {	/* the room corr_grow() would reach, at once */
		inc->capsteps = corr_cap_for(n, 4);
		inc->steps = xreallocarray(NULL, inc->capsteps,
		    sizeof(*inc->steps));
	}
	for (uint32_t i = 0; i < n; i++)
		if (corr_snap_load_step(sr, inc) != 0)
			return -1;
	inc->sent_steps = snapbuf_get_u32(r);
	if (snapbuf_ok(r) == 0 && inc->sent_steps > inc->nsteps)
		return snapbuf_fail(r, "sent steps past the timeline");
	/* its text and actor are its first step's (the JSON reads them) */
	if (snapbuf_ok(r) == 0 && inc->kind == CORR_KIND_COMPLAINT &&
	    (inc->nsteps == 0 || inc->steps[0].note == NULL ||
	    inc->steps[0].actor == corr_system ||
	    strcmp(inc->steps[0].action, "opened") != 0))
		return snapbuf_fail(r, "complaint without its opening step");
	if (corr_snap_load_related(sr, inc) != 0)
		return -1;
	inc->area_num = snapbuf_get_u64(r);
	inc->repeats = snapbuf_get_u64(r);
	inc->flap_cycles = snapbuf_get_u64(r);
	if (snapbuf_ok(r) != 0)
		return -1;
	if (has_sla) {
		if (sla_incident_load(&e->sla, &inc->sla, r, slot) != 0)
			return -1;
		sla_incident_key(&inc->sla, inc->num);
		inc->has_sla = 1;
	}
	if (drop) {
		e->st.snap_dropped_incidents++;
		e->st.snap_dropped_alarms += inc->nalarms + dropped;
		corr_snap_flush(e, sr);
		corr_inc_free(e, inc);
		return 0;
	}
	e->st.snap_dropped_alarms += dropped;
	if (inc->kind == CORR_KIND_SITE) {
		inc->site_next = u64map_get(&e->sites, inc->site);
		u64map_put(&e->sites, inc->site, inc);
		for (uint32_t i = 0; i < inc->nalarms; i++)
			inc->nactive += inc->alarms[i]->active;
	}
	if (inc->has_sla)
		sla_requeue_add(rq, &inc->sla, slot);
	return 0;
}

static int
corr_snap_load_maint(struct corr_engine *e, struct corr_snapr *sr)
{
	struct snapbuf_rd *r = &sr->r;
	struct corr_maint m;
	uint32_t id = snapbuf_get_u32(r);
	char *reason = NULL, *actor = NULL;
	uint8_t ended;
	int rs, ra;

	memset(&m, 0, sizeof(m));
	if ((rs = corr_snap_get_ref(sr, FLEET_SITE, 1, &m.site)) < 0 ||
	    (ra = corr_snap_get_ref(sr, FLEET_AREA, 1, &m.area)) < 0)
		return -1;
	m.start_ms = snapbuf_get_time(r);
	m.end_ms = snapbuf_get_time(r);
	if (snapbuf_get_str(r, CORR_NOTE_MAX, 0, &reason) != 0)
		return -1;
	ended = snapbuf_get_u8(r);
	if (sr->version >= 2 &&
	    snapbuf_get_str(r, CORR_ACTOR_MAX, 1, &actor) != 0) {
		xfree(reason);
		return -1;
	}
	if (snapbuf_ok(r) != 0 || ended > 1 || id == 0 ||
	    id > e->next_maint) {
		xfree(reason);
		xfree(actor);
		return snapbuf_fail(r, "maintenance window field out of range");
	}
	/* a place the fleet lost: the window covers nothing, still ends */
	if (rs == CORR_REF_UNKNOWN || ra == CORR_REF_UNKNOWN)
		m.site = m.area = FLEET_NONE;
	m.reason = reason;
	m.actor = actor;
	if (corr_engine_maint_put(e, id, &m) != 0) {
		xfree(reason);
		xfree(actor);
		return snapbuf_fail(r, "maintenance window id twice");
	}
	e->maint[e->nmaint - 1].ended = ended;
	xfree(reason);
	xfree(actor);
	return 0;
}

static int
corr_snap_load_chronic(struct corr_engine *e, struct corr_snapr *sr)
{
	struct snapbuf_rd *r = &sr->r;
	uint32_t site, code, n, keep;
	int rs, rc;
	struct corr_chronic *h;
	uint64_t key;

	keep = e->cc.chronic_count > 0 ? e->cc.chronic_count - 1 : 0;
	if ((rs = corr_snap_get_ref(sr, FLEET_SITE, 0, &site)) < 0 ||
	    (rc = corr_snap_get_ref(sr, FLEET_CODE, 0, &code)) < 0)
		return -1;
	n = snapbuf_get_count(r, 16);
	if (snapbuf_ok(r) != 0)
		return -1;
	if (n > keep || (e->cc.chronic_count == 0))
		return snapbuf_fail(r, "chronic history longer than "
		    "chronic_count keeps");
	h = xcalloc(1, sizeof(*h) + keep * sizeof(h->e[0]));
	for (; h->n < n; h->n++) {
		h->e[h->n].at = snapbuf_get_time(r);
		h->e[h->n].num = snapbuf_get_u64(r);
	}
	key = ((uint64_t)site << 16) | code;
	if (snapbuf_ok(r) != 0 || rs == CORR_REF_UNKNOWN ||
	    rc == CORR_REF_UNKNOWN || code > UINT16_MAX) {
		xfree(h);
		return snapbuf_ok(r);
	}
	if (u64map_get(&e->chronic, key) != NULL) {
		xfree(h);
		return snapbuf_fail(r, "chronic history twice");
	}
	u64map_put(&e->chronic, key, h);
	return 0;
}

static int
corr_snap_load_area(struct corr_engine *e, struct corr_snapr *sr)
{
	struct snapbuf_rd *r = &sr->r;
	struct corr_area_rt *ar;
	uint32_t area, site, n;
	int ra, rs;

	if ((ra = corr_snap_get_ref(sr, FLEET_AREA, 0, &area)) < 0)
		return -1;
	ar = xcalloc(1, sizeof(*ar));
	ar->open_num = snapbuf_get_u64(r);
	n = snapbuf_get_count(r, 20);
	if (snapbuf_ok(r) == 0 && n > 0) {
		ar->cap = corr_cap_for(n, 8);
		ar->ents = xcalloc(ar->cap, sizeof(*ar->ents));
	}
	for (uint32_t i = 0; i < n; i++) {
		int64_t at = snapbuf_get_time(r);

		if ((rs = corr_snap_get_ref(sr, FLEET_SITE, 0, &site)) < 0)
			break;
		ar->ents[ar->n].at = at;
		ar->ents[ar->n].site = site;
		ar->ents[ar->n].num = snapbuf_get_u64(r);
		if (rs == CORR_REF_OK)
			ar->n++;
	}
	if (snapbuf_ok(r) != 0 || ra == CORR_REF_UNKNOWN ||
	    u64map_get(&e->areas, area) != NULL) {
		xfree(ar->ents);
		xfree(ar);
		if (snapbuf_ok(r) == 0 && ra != CORR_REF_UNKNOWN)
			return snapbuf_fail(r, "storm area twice");
		return snapbuf_ok(r);
	}
	u64map_put(&e->areas, area, ar);
	return 0;
}

/*
 * Reads the header and the name table (resolved against e's fleet); the
 * engine's time, next numbers and counters are kept only from a whole
 * snapshot or a head (part 0; part 1: checked, not kept).
 */
static int
corr_snap_load_head(struct corr_engine *e, struct corr_snapr *sr, int part)
{
	struct snapbuf_rd *r = &sr->r;
	char magic[sizeof(CORR_SNAP_MAGIC)], *prefix = NULL;
	const char **names;
	uint32_t *lens;
	uint64_t stats[CORR_NSTATS], next_num;
	uint32_t version, shard, nstats, next_maint;
	int64_t now;

	if (snapbuf_get_bytes(r, magic, sizeof(magic)) != 0 ||
	    memcmp(magic, CORR_SNAP_MAGIC, sizeof(magic)) != 0)
		return snapbuf_fail(r, "not a tocsin engine snapshot (magic)");
	version = snapbuf_get_u32(r);
	if (snapbuf_ok(r) == 0 && (version < CORR_SNAP_VERSION_MIN ||
	    version > CORR_SNAP_VERSION))
		return snapbuf_fail(r, "unsupported snapshot version");
	sr->version = version;
	shard = snapbuf_get_u32(r);
	if (snapbuf_get_str(r, sizeof(e->cc.id_prefix) - 1, 0, &prefix) != 0)
		return -1;
	if (shard != e->shard || strcmp(prefix, e->cc.id_prefix) != 0) {
		xfree(prefix);
		return snapbuf_fail(r, "snapshot of another shard or id prefix");
	}
	xfree(prefix);
	now = snapbuf_get_i64(r);
	next_num = snapbuf_get_u64(r);
	next_maint = snapbuf_get_u32(r);
	nstats = snapbuf_get_u32(r);
	if (snapbuf_ok(r) != 0)
		return -1;
	if (now != INT64_MIN && (now < SNAPBUF_T_MIN || now > SNAPBUF_T_MAX))
		return snapbuf_fail(r, "engine time out of range");
	if (next_num < e->cc.id_start || next_num == UINT64_MAX)
		return snapbuf_fail(r, "next incident number out of range");
	if (nstats > CORR_NSTATS)
		return snapbuf_fail(r, "more counters than this version has");
	memset(stats, 0, sizeof(stats));
	for (uint32_t i = 0; i < nstats; i++)
		stats[i] = snapbuf_get_u64(r);
	if (!part) {
		e->now = now;
		e->next_num = next_num;
		e->next_maint = next_maint;
		memcpy(&e->st, stats, sizeof(stats));
	}
	sr->nnames = snapbuf_get_count(r, 5);
	if (snapbuf_ok(r) != 0)
		return -1;
	sr->kinds = xcalloc(sr->nnames ? sr->nnames : 1, sizeof(*sr->kinds));
	sr->idx = xcalloc(sr->nnames ? sr->nnames : 1, sizeof(*sr->idx));
	/* the names in place, then looked up together (fleet_find_many) */
	names = xcalloc(sr->nnames ? sr->nnames : 1, sizeof(*names));
	lens = xcalloc(sr->nnames ? sr->nnames : 1, sizeof(*lens));
	for (uint32_t i = 0; i < sr->nnames; i++) {
		uint8_t k = snapbuf_get_u8(r);

		if (snapbuf_ok(r) == 0 && k != FLEET_SITE && k != FLEET_DEVICE &&
		    k != FLEET_AREA && k != FLEET_CODE) {
			snapbuf_fail(r, "unknown fleet name kind");
			break;
		}
		if ((names[i] = snapbuf_get_strview(r, CORR_SNAP_NAME_MAX,
		    &lens[i])) == NULL)
			break;
		sr->kinds[i] = k;
	}
	if (snapbuf_ok(r) == 0)
		fleet_find_many(e->fleet, sr->kinds, names, lens, sr->nnames,
		    sr->idx);
	xfree(names);
	xfree(lens);
	return snapbuf_ok(r);
}

/* The incident numbered num if it is held and not of kind k. */
static int
corr_snap_not(const struct corr_engine *e, uint64_t num, enum corr_kind k)
{
	const struct corr_incident *inc = u64map_get(&e->incidents, num);

	return inc != NULL && inc->kind != k;
}

/*
 * What is derived from the loaded incidents: the live counters and each
 * area incident's nactive (its site incidents with active alarms).  The
 * numbers that name an area or site incident must name one of that kind
 * when it is held (a number of a forgotten incident is fine: every use
 * looks it up); -1 otherwise.
 */
static int
corr_snap_finish(struct corr_engine *e, struct snapbuf_rd *r)
{
	size_t pos = 0;
	uint64_t k;
	void *p;

	/* one pass: each incident is a cache miss here */
	e->st.live_alarms = 0;
	while (u64map_next(&e->incidents, &pos, NULL, &p)) {
		struct corr_incident *si = p, *ai;

		e->st.live_alarms += si->nalarms;
		if (si->area_num == 0)
			continue;
		if (si->kind != CORR_KIND_SITE ||
		    corr_snap_not(e, si->area_num, CORR_KIND_AREA))
			return snapbuf_fail(r, "area link to a site incident");
		if (si->nactive > 0 &&
		    (ai = u64map_get(&e->incidents, si->area_num)) != NULL)
			ai->nactive++;
	}
	for (pos = 0; u64map_next(&e->areas, &pos, &k, &p); ) {
		const struct corr_area_rt *ar = p;

		if (corr_snap_not(e, ar->open_num, CORR_KIND_AREA))
			return snapbuf_fail(r, "storm area names a site incident");
		for (uint32_t i = 0; i < ar->n; i++)
			if (corr_snap_not(e, ar->ents[i].num, CORR_KIND_SITE))
				return snapbuf_fail(r,
				    "storm entry names an area incident");
	}
	e->st.live_incidents = e->incidents.used;
	return 0;
}

/*
 * Reads one snapshot at p into e: the whole engine or its head (part 0),
 * or one incident record (part 1: its header checked, not kept; no
 * window, chronic or storm entry; *prev the number of the incident
 * before, which it must exceed).  No finish: the caller runs
 * corr_snap_finish once everything is read.
 */
static int
corr_snap_read(struct corr_engine *e, const void *p, size_t len, int part,
    uint64_t *prev, struct sla_requeue *rq, char *err, size_t errlen)
{
	struct corr_snapr sr;
	uint32_t n;
	int rc = -1;

	memset(&sr, 0, sizeof(sr));
	snapbuf_rd_init(&sr.r, p, len);
	if (corr_snap_load_head(e, &sr, part) != 0)
		goto out;
	n = snapbuf_get_count(&sr.r, 33);
	if (part && n != 0 && snapbuf_ok(&sr.r) == 0)
		snapbuf_fail(&sr.r, "an incident record with windows");
	for (uint32_t i = 0; i < n; i++)
		if (corr_snap_load_maint(e, &sr) != 0)
			goto out;
	n = snapbuf_get_count(&sr.r, 60);
	if (part && n != 1 && snapbuf_ok(&sr.r) == 0)
		snapbuf_fail(&sr.r, "an incident record without one incident");
	/* the maps grow once, at the flush (u64map_put_batch reserves) */
	for (uint32_t i = 0; i < n; i++)
		if (corr_snap_load_inc(e, &sr, prev, rq) != 0)
			goto out;
	n = snapbuf_get_count(&sr.r, 12);
	if (part && n != 0 && snapbuf_ok(&sr.r) == 0)
		snapbuf_fail(&sr.r, "an incident record with chronic history");
	u64map_reserve(&e->chronic, n);
	for (uint32_t i = 0; i < n; i++)
		if (corr_snap_load_chronic(e, &sr) != 0)
			goto out;
	n = snapbuf_get_count(&sr.r, 16);
	if (part && n != 0 && snapbuf_ok(&sr.r) == 0)
		snapbuf_fail(&sr.r, "an incident record with storm windows");
	for (uint32_t i = 0; i < n; i++)
		if (corr_snap_load_area(e, &sr) != 0)
			goto out;
	if (snapbuf_ok(&sr.r) == 0 && snapbuf_left(&sr.r) != 0)
		snapbuf_fail(&sr.r, "trailing bytes");
	if (snapbuf_ok(&sr.r) == 0)
		rc = 0;
out:
	corr_snap_flush(e, &sr);
	if (rc != 0)
		snprintf(err, errlen, "snapshot: %s at byte %zu",
		    sr.r.err != NULL ? sr.r.err : "corrupt", sr.r.erroff);
	xfree(sr.kinds);
	xfree(sr.idx);
	xfree(sr.incs.v);
	xfree(sr.alarms.v);
	return rc;
}

static int
corr_snap_fresh(const struct corr_engine *e, char *err, size_t errlen)
{
	if (e->now != INT64_MIN || e->incidents.used != 0 || e->nmaint != 0 ||
	    e->alarms.used != 0) {
		snprintf(err, errlen, "snapshot: the engine is not fresh");
		return -1;
	}
	return 0;
}

/* What every load ends with: the derived counts, then the clocks queued
 * in their saved order (nothing is queued on failure: every loaded clock
 * is idle, freeable). */
static int
corr_snap_done(struct corr_engine *e, struct sla_requeue *rq, int rc,
    char *err, size_t errlen)
{
	struct snapbuf_rd r;

	snapbuf_rd_init(&r, "", 0);
	if (rc == 0 && corr_snap_finish(e, &r) != 0) {
		snprintf(err, errlen, "snapshot: %s", r.err != NULL ? r.err :
		    "corrupt");
		rc = -1;
	}
	if (rc == 0 && e->has_sla)
		sla_requeue_run(&e->sla, rq);
	sla_requeue_fini(rq);
	return rc == 0 ? 0 : -EINVAL;
}

int
corr_engine_load(struct corr_engine *e, const void *p, size_t len, char *err,
    size_t errlen)
{
	struct sla_requeue rq;
	uint64_t prev = 0;

	if (corr_snap_fresh(e, err, errlen) != 0)
		return -EINVAL;
	memset(&rq, 0, sizeof(rq));
	return corr_snap_done(e, &rq, corr_snap_read(e, p, len, 0, &prev, &rq,
	    err, errlen), err, errlen);
}

/* The number of the incident an incident record holds, or 0 (not one,
 * or bad bytes: corr_snap_read says why).  The header is read as the
 * loader reads it (kept nothing: part 1). */
static uint64_t
corr_part_num(struct corr_engine *e, const struct corr_part *pt)
{
	struct corr_snapr sr;
	uint64_t num = 0;

	memset(&sr, 0, sizeof(sr));
	snapbuf_rd_init(&sr.r, pt->p, pt->n);
	if (corr_snap_load_head(e, &sr, 1) == 0 &&
	    snapbuf_get_u32(&sr.r) == 0 && snapbuf_get_u32(&sr.r) == 1)
		num = snapbuf_get_u64(&sr.r);
	xfree(sr.kinds);
	xfree(sr.idx);
	return num;
}

struct corr_part_ord {
	uint64_t num;
	const struct corr_part *pt;
};

static int
corr_part_cmp(const void *pa, const void *pb)
{
	const struct corr_part_ord *a = pa, *b = pb;

	return a->num < b->num ? -1 : a->num > b->num;
}

int
corr_engine_load_parts(struct corr_engine *e, const struct corr_part *head,
    const struct corr_part *incs, size_t n, char *err, size_t errlen)
{
	struct sla_requeue rq;
	struct corr_part_ord *ord;
	uint64_t prev = 0;
	int rc;

	if (corr_snap_fresh(e, err, errlen) != 0)
		return -EINVAL;
	memset(&rq, 0, sizeof(rq));
	rc = corr_snap_read(e, head->p, head->n, 0, &prev, &rq, err, errlen);
	if (rc == 0 && e->incidents.used != 0) {
		snprintf(err, errlen, "snapshot: a head with incidents");
		rc = -1;
	}
	/* in number order, as a whole snapshot holds them: a site's
	 * incidents chain in the order they are loaded */
	ord = xcalloc(n ? n : 1, sizeof(*ord));
	for (size_t i = 0; i < n; i++) {
		ord[i].num = corr_part_num(e, &incs[i]);
		ord[i].pt = &incs[i];
	}
	qsort(ord, n, sizeof(*ord), corr_part_cmp);
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = corr_snap_read(e, ord[i].pt->p, ord[i].pt->n, 1, &prev, &rq,
		    err, errlen);
		if (rc != 0) {
			char why[160];

			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen, "incident record %zu: %s",
			    (size_t)(ord[i].pt - incs), why);
		}
	}
	xfree(ord);
	return corr_snap_done(e, &rq, rc, err, errlen);
}
