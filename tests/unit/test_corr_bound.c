/*
 * test_corr_bound.c - incidents and their events stay bounded whatever the
 * chatter (docs/correlation.md, "Bounds"): an event carries only the
 * timeline steps it appended and the timeline's length; a flapping alarm's
 * cycles are counted, not stepped; an area incident's event names at most
 * storm_event_links sites and counts them all; a child explained again
 * re-uses its record.  The 100,000-cycle door sensor checks the documented
 * formulas, written here as doc_event_bound() and doc_incident_bound(),
 * against every event and against the incident's memory.
 *
 * Every event is also checked for the contract a consumer relies on: its
 * steps are exactly the timeline entries since the previous event of its
 * incident (so concatenating steps in seq order rebuilds the timeline) and
 * timeline_len is the length after it.  Small runs also compare the direct
 * encoder with the jansson oracle byte for byte.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correlator/corr.h"
#include "correlator/incjson.h"
#include "correlator/sla.h"
#include "daemon/mem.h"
#include "tests/support/corrfix.h"
#include "tests/support/incoracle.h"

#define T0	((int64_t)1795000000000)	/* 2026-11-18T11:06:40Z */
#define SEC	((int64_t)1000)
#define MIN	(60 * SEC)
#define HOUR	(60 * MIN)

#define MAXINC	64

static struct fleet *F;
static struct corr_engine *E;
static struct corr_config CC;
static struct sla_config SC;
static char REJ[CORRFIX_REJ_LEN];

/* What the sink saw. */
static struct {
	uint64_t events;
	size_t	 max_len;		/* longest event line */
	size_t	 max_len_bound;		/* doc_event_bound() of that event */
	int	 max_over;		/* an event longer than its bound */
	int	 oracle;		/* compare every event with the oracle */
	char	 last_id[CORR_ID_LEN];
	uint32_t last_nsteps;		/* steps of the last event */
	char	*last_json;
	struct {
		char	 id[CORR_ID_LEN];
		uint32_t len;		/* timeline_len of its last event */
	} seen[MAXINC];			/* per incident */
	int	 nseen;
} S;

/* The JSON-escaped length of s, without quotes: J(s) in the docs. */
static size_t
jlen(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return 0;
	for (const unsigned char *u = (const unsigned char *)s; *u; u++)
		n += *u == '"' || *u == '\\' || *u == '\b' || *u == '\f' ||
		    *u == '\n' || *u == '\r' || *u == '\t' ? 2 :
		    *u < 0x20 ? 6 : 1;
	return n;
}

/*
 * docs/correlation.md, "Bounds", the event: 1,152 bytes of fixed text and
 * numbers, the incident's own strings, 198 + J(device) + J(code) per
 * alarm, 28 + J(id) per customer, 50 per incident id it names (itself,
 * its area incident, chronic_of, at most storm_event_links links), and
 * 67 + J(actor) + J(action) + J(note) per step of this event.
 */
static size_t
doc_event_bound(const struct corr_event *ev)
{
	const struct corr_incident *ci = ev->inc;
	size_t b = 1152, ncust = 0, nlinks;

	b += ci->kind == CORR_KIND_SITE ? jlen(F->sites[ci->site].id) : 0;
	b += jlen(F->areas[ci->area]) + jlen(ci->owner) +
	    jlen(ci->planned_reason);
	if (ci->root != NULL)
		b += jlen(F->devices[ci->root->device].id) +
		    jlen(F->codes[ci->root->code]);
	for (uint32_t i = 0; i < ci->nalarms; i++)
		b += 198 + jlen(F->devices[ci->alarms[i]->device].id) +
		    jlen(F->codes[ci->alarms[i]->code]);
	/* customers: at most every tenant of every site it covers */
	for (uint32_t l = 0; l < (ci->kind == CORR_KIND_SITE ? 1 : ci->nlinks);
	    l++) {
		const struct fleet_site *s = &F->sites[ci->kind == CORR_KIND_SITE ?
		    ci->site : ci->links[l].site];

		for (size_t t = 0; t < s->ntenants; t++, ncust++)
			b += 28 + jlen(s->tenants[t].customer);
	}
	(void)ncust;
	nlinks = ci->nlinks < ev->links_max ? ci->nlinks : ev->links_max;
	b += 50 * (CC.chronic_count + 1 + nlinks);
	for (uint32_t i = ev->first_step; i < ci->nsteps; i++)
		b += 67 + jlen(ci->steps[i].actor) +
		    jlen(ci->steps[i].action) + jlen(ci->steps[i].note);
	return b;
}

/*
 * docs/correlation.md, "Bounds", memory: the struct, per alarm its record,
 * two array slots and its flap ring, per step two array slots (capacity
 * doubles) and its strings, the chronic and link arrays, owner and reason.
 */
static size_t
doc_incident_bound(const struct corr_incident *ci)
{
	size_t b = sizeof(*ci), t = ci->nsteps < 4 ? 4 : ci->nsteps;

	b += (size_t)ci->nalarms * (48 + 16 + 8 * CC.flap_cycles);
	b += 64 * t;
	for (uint32_t i = 0; i < ci->nsteps; i++) {
		b += ci->steps[i].note != NULL ?
		    strlen(ci->steps[i].note) + 1 : 0;
		if (strcmp(ci->steps[i].actor, CORR_ACTOR_SYSTEM) != 0)
			b += strlen(ci->steps[i].actor) + 1;
	}
	b += 8 * (CC.chronic_count ? CC.chronic_count - 1 : 0);
	b += 16 * (size_t)ci->nlinks;
	b += (ci->owner ? strlen(ci->owner) + 1 : 0) +
	    (ci->planned_reason ? strlen(ci->planned_reason) + 1 : 0);
	return b;
}

/* The value of "key": N in line, or -1. */
static long long
json_num(const char *line, const char *key)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), "\"%s\":", key);
	if ((p = strstr(line, k)) == NULL)
		return -1;
	return strtoll(p + strlen(k), NULL, 10);
}

/* Occurrences of needle in hay. */
static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p != NULL;
	    p = strstr(p + 1, needle))
		n++;
	return n;
}

static void
check_event(void *arg, const struct corr_event *ev)
{
	const struct corr_incident *ci = ev->inc;
	char *line = incjson_encode(F, ev);
	const char *steps;
	size_t len = strlen(line);
	int k;

	(void)arg;
	S.events++;
	if (len > S.max_len) {
		S.max_len = len;
		S.max_len_bound = doc_event_bound(ev);
	}
	if (len > doc_event_bound(ev))
		S.max_over++;
	/* its steps: the timeline since the incident's previous event */
	for (k = 0; k < S.nseen && strcmp(S.seen[k].id, ci->id) != 0; k++)
		;
	if (k == S.nseen) {
		cr_assert_lt(S.nseen, MAXINC);
		snprintf(S.seen[S.nseen++].id, CORR_ID_LEN, "%s", ci->id);
	}
	cr_assert_eq(ev->first_step, S.seen[k].len, "%s seq %llu", ci->id,
	    (unsigned long long)ev->seq);
	cr_assert_eq(json_num(line, "timeline_len"), (long long)ci->nsteps);
	steps = strstr(line, "},\"steps\":[");
	cr_assert_not_null(steps, "%s", line);
	cr_assert_eq(count(steps, "\"action\":"), ci->nsteps - S.seen[k].len);
	for (uint32_t i = S.seen[k].len; i < ci->nsteps; i++) {
		char want[128];

		snprintf(want, sizeof(want), "\"action\":\"%s\"",
		    ci->steps[i].action);
		cr_assert_not_null(strstr(steps, want), "%s", line);
	}
	S.last_nsteps = ci->nsteps - S.seen[k].len;
	S.seen[k].len = ci->nsteps;
	snprintf(S.last_id, sizeof(S.last_id), "%s", ci->id);
	if (S.oracle) {
		json_t *o = incoracle_build(F, ev);
		char *want = json_dumps(o, JSON_COMPACT);

		cr_assert_str_eq(line, want);
		free(want);
		json_decref(o);
	}
	free(S.last_json);
	S.last_json = line;
}

static const struct corr_sink_ops check_ops = {
	.event = check_event,
	.rejected = corrfix_rejected,
};

/*
 * D1: a site of two tenants (one premium) with a door sensor, a power unit
 * and a battery monitor.  P1..P8: an area "grid" of one power unit each.
 */
static void
add_site(const char *id, const char *area, int premium)
{
	uint32_t s = fleet_add(F, FLEET_SITE, id), d;
	const char *kinds[] = { "door", "pwr", "bat" };
	char dev[64];

	F->sites[s].area = fleet_area(F, area);
	F->sites[s].region = REGION_A;
	fleet_site_add_tenant(&F->sites[s], "china-mobile", TIER_STANDARD);
	if (premium)
		fleet_site_add_tenant(&F->sites[s], "china-telecom",
		    TIER_PREMIUM);
	for (int i = 0; i < 3; i++) {
		snprintf(dev, sizeof(dev), "%s-%s", id, kinds[i]);
		d = fleet_add(F, FLEET_DEVICE, dev);
		F->devices[d].site = s;
	}
}

static void
setup_with(int auto_resolve, unsigned links_max)
{
	static const char *const grid[] = { "P1", "P2", "P3", "P4", "P5",
	    "P6", "P7", "P8" };

	F = fleet_new();
	add_site("D1", "east", 1);
	for (size_t i = 0; i < sizeof(grid) / sizeof(grid[0]); i++)
		add_site(grid[i], "grid", 0);
	fleet_code(F, "DOOR_OPEN");
	sla_config_defaults(&SC);
	corr_config_defaults(&CC);
	CC.sla = &SC;
	CC.auto_resolve = auto_resolve;
	CC.storm_event_links = links_max;
	E = corrfix_engine(F, &CC, &check_ops, REJ);
	cr_assert_not_null(E);
	memset(&S, 0, sizeof(S));
	S.oracle = 1;
}

static void
setup(void)
{
	setup_with(0, 50);
}

static void
teardown(void)
{
	corr_engine_free(E);
	fleet_free(F);
	sla_config_fini(&SC);
	free(S.last_json);
	memset(&S, 0, sizeof(S));
}

static void
edge(const char *dev, const char *code, int64_t at, int raise)
{
	corrfix_edge(E, F, dev, code, at, raise ? ALARM_RAISE : ALARM_CLEAR,
	    SEV_MAJOR);
}

TestSuite(corr_bound, .init = setup, .fini = teardown);
TestSuite(corr_bound_cfg, .fini = teardown);

/*
 * A door sensor chattering 100,000 times (open 1 s, closed 1 s: well within
 * the 15 min hold) on a premium site with the default clocks.  After the
 * third cycle it is flapping: the incident's timeline and memory stop
 * growing, and every event stays under the documented bound.
 */
Test(corr_bound, chatter_100k_cycles_stays_bounded)
{
	const uint32_t ncycles = 100000;
	const struct corr_incident *inc;
	struct corr_stats st;
	size_t bytes_at_100 = 0, bytes, bound;
	uint32_t steps_at_100 = 0;
	int64_t t = T0;

	S.oracle = 0;		/* 200,000 events: the oracle runs below */
	edge("D1-door", "DOOR_OPEN", t, 1);
	for (uint32_t c = 1; c <= ncycles; c++) {
		edge("D1-door", "DOOR_OPEN", t += SEC, 0);
		edge("D1-door", "DOOR_OPEN", t += SEC, 1);
		if (c == 100) {
			inc = corr_engine_find(E, "INC-0-1");
			bytes_at_100 = corr_engine_incident_bytes(E, inc);
			steps_at_100 = inc->nsteps;
		}
		if (c == ncycles - 1)
			S.oracle = 1;	/* the last two events, both ways */
	}
	inc = corr_engine_find(E, "INC-0-1");
	cr_assert_not_null(inc);
	bytes = corr_engine_incident_bytes(E, inc);
	bound = doc_incident_bound(inc);
	cr_log_info("chatter: %u cycles, %llu events, timeline %u steps "
	    "(%u at cycle 100), incident %zu B (%zu B at cycle 100, bound "
	    "%zu B), largest event %zu B (bound for it %zu B)", ncycles,
	    (unsigned long long)S.events, inc->nsteps, steps_at_100, bytes,
	    bytes_at_100, bound, S.max_len, S.max_len_bound);
	corr_engine_stats(E, &st);
	cr_assert_eq(S.events, 1 + 2ull * ncycles + st.sla_warnings +
	    st.sla_breaches + st.escalations, "one event per change");
	cr_assert(inc->flapping);
	cr_assert_eq(inc->alarms[0]->cycles, ncycles);
	cr_assert_eq(inc->flap_cycles, ncycles - CC.flap_cycles,
	    "cycles after the flapping one are counted");
	/* Between cycle 100 and 100,000 only time passed on the clocks. */
	cr_assert_leq(inc->nsteps, steps_at_100 + 20, "%u steps", inc->nsteps);
	cr_assert_leq(bytes, bytes_at_100 + 20 * (64 + 256));
	cr_assert_leq(bytes, bound, "%zu B > documented %zu B", bytes, bound);
	cr_assert_eq(S.max_over, 0, "an event over its documented bound");
	cr_assert_lt(S.max_len, 4096, "largest event %zu B", S.max_len);
	cr_assert_eq(S.last_nsteps, 0, "a counted cycle appends no step");
	cr_assert(strstr(S.last_json, "\"flap_cycles\":99997,") != NULL);
	cr_assert(strstr(S.last_json, "\"cycles\":100000,\"flapping\":true}")
	    != NULL, "%s", S.last_json);
}

/*
 * Cycles 1-2 are stepped; the third makes it flapping; then counted (within
 * seconds, before the first SLA mark).
 */
Test(corr_bound, flapping_cycles_are_counted_not_stepped)
{
	static const char *const want[] = { "opened", "cleared", "reraised",
	    "cleared", "reraised", "cleared", "flapping", "reraised" };
	const struct corr_incident *inc;
	int64_t t = T0;

	edge("D1-door", "DOOR_OPEN", t, 1);
	for (int c = 1; c <= 5; c++) {
		edge("D1-door", "DOOR_OPEN", t += SEC, 0);
		edge("D1-door", "DOOR_OPEN", t += SEC, 1);
	}
	inc = corr_engine_find(E, "INC-0-1");
	cr_assert_eq(inc->nsteps, sizeof(want) / sizeof(want[0]));
	for (uint32_t i = 0; i < inc->nsteps; i++)
		cr_assert_str_eq(inc->steps[i].action, want[i]);
	cr_assert_eq(inc->flap_cycles, 2);
	cr_assert_eq(S.events, 11, "every change still emits");
	/* a counted cycle still moves the state: cleared and back */
	edge("D1-door", "DOOR_OPEN", t += SEC, 0);
	cr_assert_eq(inc->state, CORR_CLEARED);
	cr_assert_eq(S.last_nsteps, 0);
	cr_assert(strstr(S.last_json, "\"state\":\"cleared\"") != NULL);
	cr_assert(strstr(S.last_json, "\"flapping\":true,\"flap_cycles\":2,")
	    != NULL, "%s", S.last_json);
	cr_assert(strstr(S.last_json, "\"steps\":[]}") != NULL);
	cr_assert_eq(inc->nsteps, 8);
}

/*
 * With auto_resolve a flapping incident is not resolved at each clear
 * (which would reopen it and start its clocks over at each flap): it
 * waits in cleared.
 */
Test(corr_bound_cfg, auto_resolve_leaves_flapping_incident_cleared)
{
	const struct corr_incident *inc;
	int64_t t = T0;

	setup_with(1, 50);
	edge("D1-door", "DOOR_OPEN", t, 1);
	for (int c = 1; c <= 1000; c++) {
		edge("D1-door", "DOOR_OPEN", t += 40 * SEC, 0);
		edge("D1-door", "DOOR_OPEN", t += 40 * SEC, 1);
	}
	edge("D1-door", "DOOR_OPEN", t += 40 * SEC, 0);
	inc = corr_engine_find(E, "INC-0-1");
	cr_assert_eq(inc->state, CORR_CLEARED);
	/* two resolve/reopen cycles, then the flapping one, then nothing */
	cr_assert_lt(inc->nsteps, 60, "%u steps", inc->nsteps);
	cr_assert_eq(inc->flap_cycles, 1000 - CC.flap_cycles);
}

/*
 * The event's own steps and the timeline's length, event by event (within
 * seconds: the premium ack clock marks nothing before 30 s).
 */
Test(corr_bound, event_carries_only_its_own_steps)
{
	const struct corr_incident *inc;

	edge("D1-pwr", "MAINS_FAIL", T0, 1);
	cr_assert_eq(S.last_nsteps, 1);
	edge("D1-bat", "BATT_LOW", T0 + SEC, 1);	/* explained: "alarm" */
	cr_assert_eq(S.last_nsteps, 1);
	cr_assert(strstr(S.last_json, "\"timeline_len\":2},\"steps\":[{") !=
	    NULL, "%s", S.last_json);
	edge("D1-bat", "BATT_LOW", T0 + 2 * SEC, 0);	/* no step */
	cr_assert_eq(S.last_nsteps, 0);
	cr_assert(strstr(S.last_json, "\"timeline_len\":2},\"steps\":[]}") !=
	    NULL, "%s", S.last_json);
	cr_assert_eq(corrfix_act(E, REJ, "INC-0-1", CORR_ACT_ACK, "li.wei",
	    "on it", T0 + 3 * SEC), 0);
	cr_assert_eq(S.last_nsteps, 1);
	edge("D1-pwr", "MAINS_FAIL", T0 + 4 * SEC, 0);	/* cleared */
	cr_assert_eq(corrfix_act(E, REJ, "INC-0-1", CORR_ACT_RESOLVE, "li.wei",
	    NULL, T0 + 5 * SEC), 0);
	cr_assert_eq(S.last_nsteps, 2, "resolved and scored");
	inc = corr_engine_find(E, "INC-0-1");
	cr_assert(strstr(S.last_json, "\"action\":\"resolved\"") != NULL);
	cr_assert(strstr(S.last_json, "\"action\":\"scored\"") != NULL);
	cr_assert_null(strstr(S.last_json, "\"action\":\"opened\""));
	cr_assert_eq(json_num(S.last_json, "timeline_len"), inc->nsteps);
}

/*
 * A child that clears and comes back after the hold, while its root still
 * explains it, is the same alarm on the same incident: one record.
 */
Test(corr_bound, child_explained_again_reuses_its_record)
{
	const struct corr_incident *inc;
	int64_t t = T0;

	edge("D1-pwr", "MAINS_FAIL", t, 1);
	for (int c = 0; c < 50; c++) {
		edge("D1-bat", "BATT_LOW", t += MIN, 1);
		edge("D1-bat", "BATT_LOW", t += MIN, 0);
		t += 20 * MIN;				/* past the hold */
		if (t - T0 > 3 * HOUR)
			break;
	}
	inc = corr_engine_find(E, "INC-0-1");
	cr_assert_eq(inc->nalarms, 2);
	cr_assert_geq(inc->alarms[1]->cycles, 7);
	cr_assert_eq(inc->alarms[1]->inc, inc);
}

/*
 * An area incident of 8 sites with storm_event_links 3: its events name
 * three links and count eight; a site whose mains fails again (a new site
 * incident) keeps its one link.
 */
Test(corr_bound_cfg, area_event_names_at_most_the_cap)
{
	const struct corr_incident *ai;
	char dev[16];
	json_t *o, *inc;

	setup_with(0, 3);
	for (int i = 1; i <= 8; i++) {
		snprintf(dev, sizeof(dev), "P%d-pwr", i);
		edge(dev, "MAINS_FAIL", T0 + i * SEC, 1);
	}
	ai = corr_engine_find(E, "INC-0-6");
	cr_assert_not_null(ai);
	cr_assert_eq(ai->kind, CORR_KIND_AREA);
	cr_assert_eq(ai->nlinks, 8);
	cr_assert_str_eq(S.last_id, "INC-0-6");
	o = json_loads(S.last_json, 0, NULL);
	inc = json_object_get(o, "incident");
	cr_assert_eq(json_array_size(json_object_get(inc, "links")), 3);
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(inc,
	    "links"), 0)), "INC-0-1");
	cr_assert_eq(json_integer_value(json_object_get(inc, "links_total")), 8);
	/* customers still come from every linked site */
	cr_assert_eq(json_array_size(json_object_get(inc, "customers")), 1);
	json_decref(o);
	/* P1 clears and fails again after the hold: a new incident, one link */
	edge("P1-pwr", "MAINS_FAIL", T0 + MIN, 0);
	edge("P1-pwr", "MAINS_FAIL", T0 + 20 * MIN, 1);
	cr_assert_str_eq(S.last_id, "INC-0-6");
	cr_assert_eq(ai->nlinks, 8);
	cr_assert(strstr(S.last_json, "\"links\":[\"INC-0-10\",\"INC-0-2\","
	    "\"INC-0-3\"],\"links_total\":8,") != NULL, "%s", S.last_json);
}

/*
 * What a step holds is bounded by refusing, not cutting, what an operator
 * wrote (the audit trail keeps it whole), and system notes are cut on a
 * UTF-8 character boundary.
 */
Test(corr_bound, operator_text_is_bounded_and_kept_whole)
{
	static char note[CORR_NOTE_MAX + 2], actor[CORR_ACTOR_MAX + 2];
	const struct corr_incident *inc;
	char dev[512];
	uint32_t d;
	size_t n;

	edge("D1-pwr", "MAINS_FAIL", T0, 1);
	memset(note, 'n', CORR_NOTE_MAX + 1);
	memset(actor, 'a', CORR_ACTOR_MAX + 1);
	cr_assert_eq(corrfix_act(E, REJ, "INC-0-1", CORR_ACT_NOTE, "li.wei",
	    note, T0 + 1), -EINVAL);
	cr_assert_str_eq(REJ, "note longer than 1023 bytes");
	cr_assert_eq(corrfix_act(E, REJ, "INC-0-1", CORR_ACT_NOTE, actor,
	    "x", T0 + 1), -EINVAL);
	cr_assert_str_eq(REJ, "actor longer than 127 bytes");
	note[CORR_NOTE_MAX] = '\0';
	actor[CORR_ACTOR_MAX] = '\0';
	cr_assert_eq(corrfix_act(E, REJ, "INC-0-1", CORR_ACT_NOTE, actor,
	    note, T0 + 2), 0);
	inc = corr_engine_find(E, "INC-0-1");
	cr_assert_eq(strlen(inc->steps[inc->nsteps - 1].note), CORR_NOTE_MAX);

	/*
	 * A device named with 150 two-byte characters: "WATER_LEAK on " is
	 * 14 bytes, so 255 bytes end inside a character.
	 */
	for (n = 0; n < 300; n += 2)
		memcpy(dev + n, "\xc3\xa9", 2);
	dev[n] = '\0';
	d = fleet_add(F, FLEET_DEVICE, dev);
	F->devices[d].site = fleet_find(F, FLEET_SITE, "D1");
	fleet_code(F, "WATER_LEAK");
	edge(dev, "WATER_LEAK", T0 + 3, 1);
	inc = corr_engine_find(E, "INC-0-2");
	cr_assert_not_null(inc);
	n = strlen(inc->steps[0].note);
	cr_assert_eq(n, CORR_SYSNOTE_MAX - 1, "%zu", n);
	cr_assert_eq((unsigned char)inc->steps[0].note[n - 1], 0xa9);
}
