/*
 * test_corr_complaint.c - complaint incidents in the correlation core
 * (corr_engine_complaint, DOMAIN.md section 3: "complaint: respond and
 * resolve 48 h"), with a virtual clock: the two 48 h clocks from the SLA
 * config's complaint tables, warnings, breaches and the escalation ladder
 * at their instants, the actions that fit a complaint and those refused,
 * refused input, that a complaint never mixes with alarm incidents (not
 * explained, adopted, chronic or planned), the JSON it is published as,
 * and a snapshot taken mid-life resuming to the same events to the ms.
 *
 * Every event is encoded both ways (incjson_encode and json_dumps of
 * incoracle_build) and the bytes must match.
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

#define MAXEV	256


struct log {
	struct corrfix_ev v[MAXEV];
	int	 n;
};

static struct fleet *F;
static struct corr_config CC;
static struct sla_config SC;
static struct corr_engine *E;
static struct log L;
static char REJ[CORRFIX_REJ_LEN];

static void
rec_event(void *arg, const struct corr_event *ev)
{
	struct log *l = arg == (void *)REJ ? &L : arg;

	cr_assert_lt(l->n, MAXEV);
	corrfix_ev_take(&l->v[l->n++], F, ev);
}

static const struct corr_sink_ops rec_ops = {
	.event = rec_event,
	.rejected = corrfix_rejected,
};

static void
log_free(struct log *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i].json);
	l->n = 0;
}

static void
add_site(const char *id, const char *area, enum region region, int premium)
{
	(void)corrfix_site(F, id, area, region, premium);
}

/* PREM: cmcc standard + ctcc premium, region A.  STD: cmcc only, region C. */
static void
setup(void)
{
	F = fleet_new();
	add_site("PREM", "east", REGION_A, 1);
	add_site("STD", "east", REGION_C, 0);
	sla_config_defaults(&SC);
	corr_config_defaults(&CC);
	CC.sla = &SC;
	E = corrfix_engine(F, &CC, &rec_ops, REJ);
	cr_assert_not_null(E);
	L.n = 0;
}

static void
teardown(void)
{
	corr_engine_free(E);
	fleet_free(F);
	sla_config_fini(&SC);
	log_free(&L);
}

TestSuite(corr_complaint, .init = setup, .fini = teardown);

/* Files a complaint; returns the engine's result, the id in id. */
static int
complain(const char *site, const char *customer, const char *text,
    const char *actor, int64_t at, char *id, char *why)
{
	struct corr_complaint c;

	memset(&c, 0, sizeof(c));
	c.site = fleet_find(F, FLEET_SITE, site);
	c.customer = customer;
	c.text = text;
	c.actor = actor;
	c.severity = SEV_MAJOR;
	c.at = at;
	return corr_engine_complaint(E, &c, id, id != NULL ? CORR_ID_LEN : 0,
	    why, why != NULL ? 160 : 0);
}

static int
act(const char *id, enum corr_action_type t, const char *note, int64_t at)
{
	return corrfix_act(E, REJ, id, t, "amy", note, at);
}

static int
find(int type, int clock, int n)
{
	for (int i = 0; i < L.n; i++)
		if (L.v[i].type == type && (clock < 0 || L.v[i].clock == clock) &&
		    n-- == 0)
			return i;
	return -1;
}

static int
count(int type)
{
	int n = 0;

	for (int i = 0; i < L.n; i++)
		n += L.v[i].type == type;
	return n;
}

static json_t *
inc_of(const char *json, json_t **root)
{
	*root = json_loads(json, 0, NULL);
	cr_assert_not_null(*root, "%s", json);
	return json_object_get(*root, "incident");
}

Test(corr_complaint, opens_with_48h_respond_and_resolve_clocks)
{
	char id[CORR_ID_LEN];
	const struct corr_incident *inc;
	json_t *root, *o, *c;

	cr_assert_eq(complain("PREM", "ctcc", "slow data at night", "nina",
	    T0, id, NULL), 0);
	cr_assert_str_eq(id, "INC-0-1");
	cr_assert_eq(L.n, 1);
	cr_assert_eq(L.v[0].type, CORR_EV_OPENED);
	cr_assert_eq(L.v[0].at, T0);
	inc = corr_engine_find(E, id);
	cr_assert_not_null(inc);
	cr_assert_eq(inc->kind, CORR_KIND_COMPLAINT);
	cr_assert_eq(inc->nalarms, 0);
	cr_assert_null(inc->root);
	cr_assert_eq(inc->sla.clocks[SLA_ACK].duration_ms, 48 * HOUR);
	cr_assert_eq(inc->sla.clocks[SLA_RESOLVE].duration_ms, 48 * HOUR);
	cr_assert_eq(inc->sla.clocks[SLA_ACK].deadline_ms, T0 + 48 * HOUR);
	cr_assert_eq(inc->sla.clocks[SLA_RESOLVE].deadline_ms, T0 + 48 * HOUR);
	cr_assert_eq(inc->sla.clocks[SLA_ARRIVE].state, SLA_CLOCK_IDLE);
	cr_assert_eq(inc->nsteps, 1);
	cr_assert_str_eq(inc->steps[0].action, "opened");
	cr_assert_str_eq(inc->steps[0].actor, "nina");
	cr_assert_str_eq(inc->steps[0].note, "slow data at night");

	o = inc_of(L.v[0].json, &root);
	cr_assert_str_eq(json_string_value(json_object_get(o, "kind")),
	    "complaint");
	cr_assert_str_eq(json_string_value(json_object_get(o, "site")), "PREM");
	cr_assert_str_eq(json_string_value(json_object_get(o, "area")), "east");
	cr_assert(json_is_null(json_object_get(o, "root_cause")));
	cr_assert_eq(json_array_size(json_object_get(o, "alarms")), 0);
	c = json_object_get(o, "customers");
	cr_assert_eq(json_array_size(c), 1, "only the complaining customer");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(c, 0),
	    "id")), "ctcc");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(c, 0),
	    "tier")), "premium");
	cr_assert_str_eq(json_string_value(json_object_get(o, "tier")),
	    "premium");
	c = json_object_get(o, "complaint");
	cr_assert_str_eq(json_string_value(json_object_get(c, "customer")),
	    "ctcc");
	cr_assert_str_eq(json_string_value(json_object_get(c, "text")),
	    "slow data at night");
	cr_assert_str_eq(json_string_value(json_object_get(c, "actor")), "nina");
	c = json_object_get(o, "clocks");
	cr_assert_null(json_object_get(c, "arrive"), "no arrival clock");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(c,
	    "ack"), "deadline")), "2026-11-20T11:06:40.000Z");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(c,
	    "resolve"), "deadline")), "2026-11-20T11:06:40.000Z");
	cr_assert(json_is_false(json_object_get(o, "planned")));
	cr_assert(json_is_false(json_object_get(o, "chronic")));
	json_decref(root);
	/* the event's step: opened by the actor, the text as its note */
	cr_assert(strstr(L.v[0].json, "\"steps\":[{\"at\":\"2026-11-18T11:06:40."
	    "000Z\",\"actor\":\"nina\",\"action\":\"opened\",\"note\":\"slow "
	    "data at night\"}]") != NULL, "%s", L.v[0].json);
}

Test(corr_complaint, a_standard_tenant_at_a_premium_site_runs_premium_clocks)
{
	json_t *root, *o, *c;

	SC.complaint_ack[TIER_PREMIUM][SEV_MAJOR][REGION_A].ms = 4 * HOUR;
	cr_assert_eq(complain("PREM", "cmcc", "noise", "nina", T0, NULL, NULL),
	    0);
	cr_assert_eq(corr_engine_find(E, "INC-0-1")->sla.clocks[SLA_ACK]
	    .duration_ms, 4 * HOUR, "the site's effective tier");
	o = inc_of(L.v[0].json, &root);
	c = json_array_get(json_object_get(o, "customers"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(c, "id")), "cmcc");
	cr_assert_str_eq(json_string_value(json_object_get(c, "tier")),
	    "standard", "the customer's own tier there");
	cr_assert_str_eq(json_string_value(json_object_get(o, "tier")),
	    "premium");
	json_decref(root);
}

Test(corr_complaint, warnings_breach_and_escalation_at_their_instants)
{
	int i;

	cr_assert_eq(complain("STD", "cmcc", "no coverage", "nina", T0, NULL,
	    NULL), 0);
	corr_engine_advance(E, T0 + 24 * HOUR - 1);
	cr_assert_eq(L.n, 1, "nothing before 50 %%");
	corr_engine_advance(E, T0 + 24 * HOUR);
	/* both clocks at 50 %, the station told once */
	cr_assert_eq(L.v[find(CORR_EV_SLA_WARNING, SLA_ACK, 0)].at,
	    T0 + 24 * HOUR);
	cr_assert_eq(L.v[find(CORR_EV_SLA_WARNING, SLA_RESOLVE, 0)].at,
	    T0 + 24 * HOUR);
	cr_assert_eq(count(CORR_EV_ESCALATED), 1);
	i = find(CORR_EV_ESCALATED, -1, 0);
	cr_assert_eq(L.v[i].at, T0 + 24 * HOUR);
	cr_assert_eq(L.v[i].level, SLA_LEVEL_STATION);
	cr_assert(strstr(L.v[i].json, "level 0 station: Nanshan Station") !=
	    NULL, "%s", L.v[i].json);
	corr_engine_advance(E, T0 + 48 * HOUR - 1);
	cr_assert_eq(L.v[find(CORR_EV_SLA_WARNING, SLA_ACK, 1)].at,
	    T0 + 48 * HOUR * 8 / 10);
	cr_assert_eq(count(CORR_EV_SLA_BREACHED), 0);
	corr_engine_advance(E, T0 + 48 * HOUR);
	cr_assert_eq(L.v[find(CORR_EV_SLA_BREACHED, SLA_ACK, 0)].at,
	    T0 + 48 * HOUR);
	cr_assert_eq(L.v[find(CORR_EV_SLA_BREACHED, SLA_RESOLVE, 0)].at,
	    T0 + 48 * HOUR);
	cr_assert(strstr(L.v[find(CORR_EV_SLA_BREACHED, SLA_ACK, 0)].json,
	    "\"note\":\"ack clock breached, deadline 2026-11-20T11:06:40.000Z\"")
	    != NULL);
	i = find(CORR_EV_ESCALATED, -1, 1);
	cr_assert_eq(L.v[i].at, T0 + 48 * HOUR);
	cr_assert_eq(L.v[i].level, SLA_LEVEL_BRANCH);
	corr_engine_advance(E, T0 + 52 * HOUR - 1);
	cr_assert_eq(count(CORR_EV_ESCALATED), 2);
	corr_engine_advance(E, T0 + 52 * HOUR);
	i = find(CORR_EV_ESCALATED, -1, 2);
	cr_assert_eq(L.v[i].at, T0 + 52 * HOUR);
	cr_assert_eq(L.v[i].level, SLA_LEVEL_HQ);
	for (i = 0; i < L.n; i++)
		cr_assert(L.v[i].type == CORR_EV_OPENED ||
		    L.v[i].clock != SLA_ARRIVE, "a mark of the arrival clock");
}

Test(corr_complaint, respond_note_pause_resume_resolve_close)
{
	const struct corr_incident *inc;
	json_t *root, *o, *c;

	cr_assert_eq(complain("STD", "cmcc", "no coverage", "nina", T0, NULL,
	    NULL), 0);
	/* dispatch and on_site do not fit a complaint */
	cr_assert_eq(act("INC-0-1", CORR_ACT_DISPATCH, NULL, T0 + MIN), -EPERM);
	cr_assert(strstr(REJ, "complaint") != NULL, "%s", REJ);
	cr_assert_eq(act("INC-0-1", CORR_ACT_ON_SITE, NULL, T0 + MIN), -EPERM);
	cr_assert(strstr(REJ, "complaint") != NULL, "%s", REJ);
	cr_assert_eq(L.n, 1);
	/* respond after 2 h: the ack clock is met, scored 4 */
	cr_assert_eq(act("INC-0-1", CORR_ACT_ACK, NULL, T0 + 2 * HOUR), 0, "%s",
	    REJ);
	inc = corr_engine_find(E, "INC-0-1");
	cr_assert_eq(inc->state, CORR_ACKNOWLEDGED);
	cr_assert_str_eq(inc->owner, "amy");
	cr_assert_eq(inc->sla.clocks[SLA_ACK].state, SLA_CLOCK_STOPPED);
	cr_assert_eq(inc->sla.response_score, 4);
	o = inc_of(L.v[L.n - 1].json, &root);
	c = json_object_get(json_object_get(o, "clocks"), "ack");
	cr_assert(json_is_true(json_object_get(c, "met")));
	cr_assert_eq(json_integer_value(json_object_get(c, "remaining_ms")),
	    46 * HOUR);
	json_decref(root);
	cr_assert_eq(act("INC-0-1", CORR_ACT_ACK, NULL, T0 + 3 * HOUR), -EPERM);
	cr_assert_eq(act("INC-0-1", CORR_ACT_NOTE, "called back",
	    T0 + 3 * HOUR), 0);
	/* a documented pause of 10 h moves the resolve deadline by 10 h */
	cr_assert_eq(act("INC-0-1", CORR_ACT_PAUSE, "customer abroad",
	    T0 + 4 * HOUR), 0, "%s", REJ);
	corr_engine_advance(E, T0 + 14 * HOUR);
	cr_assert_eq(act("INC-0-1", CORR_ACT_RESUME, NULL, T0 + 14 * HOUR), 0,
	    "%s", REJ);
	cr_assert_eq(inc->sla.clocks[SLA_RESOLVE].deadline_ms, T0 + 58 * HOUR);
	corr_engine_advance(E, T0 + 48 * HOUR);
	cr_assert_eq(count(CORR_EV_SLA_BREACHED), 0, "the pause moved it");
	corr_engine_advance(E, T0 + 58 * HOUR - 1);
	cr_assert_eq(count(CORR_EV_SLA_BREACHED), 0);
	cr_assert_eq(act("INC-0-1", CORR_ACT_RESOLVE, "new antenna",
	    T0 + 58 * HOUR - 1), 0, "%s", REJ);
	cr_assert_eq(inc->state, CORR_RESOLVED);
	cr_assert_eq(inc->sla.grade, SLA_GRADE_OVER_DAY);
	corr_engine_advance(E, T0 + 100 * HOUR);
	cr_assert_eq(count(CORR_EV_SLA_BREACHED), 0, "met 1 ms before");
	cr_assert_eq(act("INC-0-1", CORR_ACT_CLOSE, NULL, T0 + 100 * HOUR), 0);
	cr_assert_eq(L.v[L.n - 1].type, CORR_EV_CLOSED);
	cr_assert_null(corr_engine_find(E, "INC-0-1"), "closed: freed");
	cr_assert_eq(act("INC-0-1", CORR_ACT_NOTE, "late", T0 + 101 * HOUR),
	    -ENOENT);
}

Test(corr_complaint, resolve_without_respond_stops_both_clocks)
{
	const struct corr_incident *inc;

	cr_assert_eq(complain("STD", "cmcc", "bill", "nina", T0, NULL, NULL), 0);
	cr_assert_eq(act("INC-0-1", CORR_ACT_RESOLVE, "refunded", T0 + HOUR), 0,
	    "%s", REJ);
	inc = corr_engine_find(E, "INC-0-1");
	cr_assert_eq(inc->sla.clocks[SLA_ACK].state, SLA_CLOCK_STOPPED);
	cr_assert_eq(inc->sla.clocks[SLA_RESOLVE].state, SLA_CLOCK_STOPPED);
	corr_engine_advance(E, T0 + 100 * HOUR);
	cr_assert_eq(count(CORR_EV_SLA_BREACHED), 0);
}

Test(corr_complaint, bad_input_is_refused_and_changes_nothing)
{
	static const struct {
		const char *site, *customer, *text, *actor, *why;
	} bad[] = {
		{ "STD", "ctcc", "x", "nina", "not a tenant" },
		{ "STD", "nobody", "x", "nina", "not a tenant" },
		{ "STD", "", "x", "nina", "missing customer" },
		{ "STD", NULL, "x", "nina", "missing customer" },
		{ "STD", "cmcc", "", "nina", "missing text" },
		{ "STD", "cmcc", NULL, "nina", "missing text" },
		{ "STD", "cmcc", "x", "", "missing actor" },
		{ "STD", "cmcc", "x", NULL, "missing actor" },
		{ "NOPE", "cmcc", "x", "nina", "unknown site" },
	};
	char why[160], big[CORR_NOTE_MAX + 2];
	struct corr_stats st;
	struct corr_complaint c;

	corr_engine_advance(E, T0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		cr_assert_eq(complain(bad[i].site, bad[i].customer, bad[i].text,
		    bad[i].actor, T0 + HOUR, NULL, why), -EINVAL, "row %zu", i);
		cr_assert(strstr(why, bad[i].why) != NULL, "row %zu: %s", i, why);
	}
	memset(big, 'a', sizeof(big));
	big[CORR_NOTE_MAX + 1] = '\0';
	cr_assert_eq(complain("STD", "cmcc", big, "nina", T0, NULL, why),
	    -EINVAL);
	cr_assert(strstr(why, "text longer than 1023 bytes") != NULL, "%s", why);
	big[CORR_NOTE_MAX] = '\0';	/* exactly the limit: taken whole */
	big[CORR_ACTOR_MAX + 1] = '\0';
	cr_assert_eq(complain("STD", "cmcc", "x", big, T0, NULL, why), -EINVAL);
	cr_assert(strstr(why, "actor longer than 127 bytes") != NULL, "%s", why);
	memset(&c, 0, sizeof(c));
	c.site = 0;
	c.customer = "cmcc";
	c.text = c.actor = "x";
	c.severity = SEV__COUNT;
	c.at = T0;
	cr_assert_eq(corr_engine_complaint(E, &c, NULL, 0, NULL, 0), -EINVAL);
	corr_engine_stats(E, &st);
	cr_assert_eq(st.bad_input, 12);
	cr_assert_eq(st.opened, 0);
	cr_assert_eq(L.n, 0);
	cr_assert_eq(corr_engine_now(E), T0, "time did not move");
	memset(big, 'a', sizeof(big));
	big[CORR_NOTE_MAX] = '\0';
	cr_assert_eq(complain("STD", "cmcc", big, "nina", T0, NULL, why), 0,
	    "%s", why);
	cr_assert_eq(strlen(corr_engine_find(E, "INC-0-1")->steps[0].note),
	    CORR_NOTE_MAX);
}

Test(corr_complaint, never_mixed_with_alarm_incidents)
{
	const struct corr_incident *cp, *a;
	struct corr_stats st;

	/* an early child, then the complaint, then the late root */
	corrfix_edge(E, F, "STD-pwr", "BATT_LOW", T0, ALARM_RAISE, SEV_MAJOR);
	cr_assert_eq(complain("STD", "cmcc", "outage", "nina", T0 + MIN, NULL,
	    NULL), 0);
	corrfix_edge(E, F, "STD-pwr", "MAINS_FAIL", T0 + 2 * MIN, ALARM_RAISE,
	    SEV_CRITICAL);
	corrfix_edge(E, F, "STD-pwr", "HIGH_TEMP", T0 + 3 * MIN, ALARM_RAISE,
	    SEV_MAJOR);
	corr_engine_stats(E, &st);
	cr_assert_eq(st.reparented, 1, "the early child moved to its root");
	cr_assert_eq(st.explained, 1);
	cp = corr_engine_find(E, "INC-0-2");
	cr_assert_not_null(cp);
	cr_assert_eq(cp->kind, CORR_KIND_COMPLAINT);
	cr_assert_eq(cp->nalarms, 0);
	cr_assert_eq(cp->nsteps, 1, "untouched by the alarms");
	cr_assert_eq(cp->state, CORR_OPEN);
	a = corr_engine_find(E, "INC-0-3");
	cr_assert_not_null(a);
	cr_assert_eq(a->nalarms, 3);
	/* complaints about the same site make nothing chronic */
	for (int i = 0; i < 3; i++)
		cr_assert_eq(complain("STD", "cmcc", "again", "nina",
		    T0 + (4 + i) * MIN, NULL, NULL), 0);
	corrfix_edge(E, F, "STD-pwr", "DOOR_OPEN", T0 + 10 * MIN, ALARM_RAISE,
	    SEV_MINOR);
	corr_engine_stats(E, &st);
	a = corr_engine_find(E, "INC-0-7");
	cr_assert_not_null(a);
	cr_assert_eq(a->kind, CORR_KIND_SITE);
	cr_assert_eq(a->chronic, 0);
	cr_assert_eq(st.opened, 7);
}

Test(corr_complaint, planned_work_does_not_pause_a_complaint)
{
	struct corr_maint m = { FLEET_NONE, 0, T0, T0 + 72 * HOUR, "works",
	    "amy" };
	const struct corr_incident *inc;

	m.site = fleet_find(F, FLEET_SITE, "STD");
	cr_assert_gt(corr_engine_maint_add(E, &m), 0);
	cr_assert_eq(complain("STD", "cmcc", "noise", "nina", T0 + HOUR, NULL,
	    NULL), 0);
	inc = corr_engine_find(E, "INC-0-1");
	cr_assert_eq(inc->planned, 0);
	cr_assert_eq(inc->sla.pause, 0);
	corr_engine_advance(E, T0 + 49 * HOUR);
	cr_assert_eq(count(CORR_EV_SLA_BREACHED), 2);
	corr_engine_advance(E, T0 + 80 * HOUR);	/* the window's end */
	cr_assert_eq(count(CORR_EV_UPDATED), 0, "not unplanned");
}

Test(corr_complaint, without_sla_clocks_it_still_opens)
{
	struct corr_engine *e;
	struct corr_config cc;
	struct corr_complaint c;
	char id[CORR_ID_LEN];

	corr_config_defaults(&cc);
	e = corrfix_engine(F, &cc, &rec_ops, REJ);
	memset(&c, 0, sizeof(c));
	c.site = 0;
	c.customer = "cmcc";
	c.text = "x";
	c.actor = "nina";
	c.at = T0;
	cr_assert_eq(corr_engine_complaint(e, &c, id, sizeof(id), NULL, 0), 0);
	cr_assert_eq(L.n, 1);
	cr_assert(strstr(L.v[0].json, "\"clocks\":{}") != NULL);
	cr_assert_eq(corrfix_act(e, REJ, id, CORR_ACT_PAUSE, "amy", "why",
	    T0 + 1), -EPERM);
	cr_assert_eq(corrfix_act(e, REJ, id, CORR_ACT_RESOLVE, "amy", NULL,
	    T0 + 2), 0);
	corr_engine_free(e);
}

/* ---- restart ---- */

static const struct corr_sink_ops log_ops = { .event = rec_event };

static struct corr_engine *
engine_logged(struct log *l)
{
	struct corr_sink sink = { &log_ops, l };

	l->n = 0;
	return corr_engine_new(F, &CC, 0, &sink);
}

/* The scenario, from input `from` on, to engine e. */
static void
scenario(struct corr_engine *e, int from, int to)
{
	struct corr_complaint c;
	struct corr_action a;
	int k = 0;

	memset(&c, 0, sizeof(c));
	c.site = fleet_find(F, FLEET_SITE, "PREM");
	c.customer = "ctcc";
	c.text = "dropped calls";
	c.actor = "nina";
	c.severity = SEV_CRITICAL;
	memset(&a, 0, sizeof(a));
	a.actor = "amy";
#define STEP(x)	do { if (k >= from && k < to) { x; } k++; } while (0)
	STEP(c.at = T0; corr_engine_complaint(e, &c, NULL, 0, NULL, 0));
	STEP(c.at = T0 + 5 * HOUR + 7; c.site = fleet_find(F, FLEET_SITE,
	    "STD"); c.customer = "cmcc";
	    corr_engine_complaint(e, &c, NULL, 0, NULL, 0));
	STEP(corr_engine_advance(e, T0 + 20 * HOUR + 3));
	STEP(a.incident = "INC-0-2"; a.type = CORR_ACT_PAUSE;
	    a.note = "customer on leave"; a.at = T0 + 21 * HOUR;
	    corr_engine_action(e, &a, NULL, 0));
	STEP(corr_engine_advance(e, T0 + 30 * HOUR + 11));
	STEP(a.incident = "INC-0-1"; a.type = CORR_ACT_ACK; a.note = NULL;
	    a.at = T0 + 31 * HOUR; corr_engine_action(e, &a, NULL, 0));
	STEP(a.incident = "INC-0-2"; a.type = CORR_ACT_RESUME;
	    a.at = T0 + 33 * HOUR + 5; corr_engine_action(e, &a, NULL, 0));
	STEP(corr_engine_advance(e, T0 + 70 * HOUR));
	STEP(a.incident = "INC-0-1"; a.type = CORR_ACT_RESOLVE;
	    a.at = T0 + 71 * HOUR; corr_engine_action(e, &a, NULL, 0));
	STEP(corr_engine_advance(e, T0 + 90 * HOUR));
#undef STEP
}

#define NSTEPS	10

Test(corr_complaint, snapshot_resumes_exactly_as_an_uninterrupted_run)
{
	struct log *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b)),
	    *c = calloc(1, sizeof(*c));
	struct corr_engine *ea = engine_logged(a);
	int breaches = 0;

	scenario(ea, 0, NSTEPS);
	for (int i = 0; i < a->n; i++)
		breaches += a->v[i].type == CORR_EV_SLA_BREACHED;
	cr_assert_gt(breaches, 1, "the run reaches breaches");
	for (int cut = 0; cut <= NSTEPS; cut++) {
		struct corr_engine *eb = engine_logged(b), *ec;
		char *p, *q, *r, err[160];
		size_t n, m, nr;
		int skip;

		scenario(eb, 0, cut);
		cr_assert_eq(corr_engine_save(eb, &p, &n), 0);
		ec = engine_logged(c);
		cr_assert_eq(corr_engine_load(ec, p, n, err, sizeof(err)), 0,
		    "cut %d: %s", cut, err);
		cr_assert_eq(corr_engine_save(ec, &q, &m), 0);
		cr_assert(n == m && memcmp(p, q, n) == 0, "cut %d: save(load)",
		    cut);
		skip = b->n;
		scenario(ec, cut, NSTEPS);
		cr_assert_eq(skip + c->n, a->n, "cut %d", cut);
		for (int i = 0; i < c->n; i++) {
			cr_assert_eq(c->v[i].at, a->v[skip + i].at);
			cr_assert_str_eq(c->v[i].json, a->v[skip + i].json,
			    "cut %d, event %d", cut, i);
		}
		xfree(q);
		cr_assert_eq(corr_engine_save(ec, &q, &m), 0);
		cr_assert_eq(corr_engine_save(ea, &r, &nr), 0);
		cr_assert(nr == m && memcmp(r, q, m) == 0, "cut %d: final", cut);
		xfree(p);
		xfree(q);
		xfree(r);
		corr_engine_free(eb);
		corr_engine_free(ec);
		log_free(b);
		log_free(c);
	}
	corr_engine_free(ea);
	log_free(a);
	free(a);
	free(b);
	free(c);
}

Test(corr_complaint, older_snapshots_still_load_but_hold_no_complaint)
{
	struct log *l = calloc(1, sizeof(*l));
	struct corr_engine *e;
	char *p, *q, err[160];
	size_t n, m;

	/* an alarm incident and no window: its bytes are versions 1's and
	 * 2's (which added the windows' actor) */
	corrfix_edge(E, F, "STD-pwr", "DOOR_OPEN", T0, ALARM_RAISE, SEV_MINOR);
	cr_assert_eq(corr_engine_save(E, &p, &n), 0);
	cr_assert_eq(p[8], 3, "written as version 3");
	for (char v = 1; v <= 2; v++) {
		p[8] = v;
		e = engine_logged(l);
		cr_assert_eq(corr_engine_load(e, p, n, err, sizeof(err)), 0,
		    "version %d: %s", v, err);
		cr_assert_eq(corr_engine_save(e, &q, &m), 0);
		p[8] = 3;
		cr_assert(n == m && memcmp(p, q, n) == 0);
		corr_engine_free(e);
		xfree(q);
	}
	xfree(p);
	/* a complaint cannot be in a snapshot older than version 3 */
	cr_assert_eq(complain("STD", "cmcc", "x", "nina", T0 + 1, NULL, NULL), 0);
	cr_assert_eq(corr_engine_save(E, &p, &n), 0);
	for (char v = 1; v <= 2; v++) {
		p[8] = v;
		e = engine_logged(l);
		cr_assert_eq(corr_engine_load(e, p, n, err, sizeof(err)),
		    -EINVAL);
		cr_assert(strstr(err, "out of range") != NULL, "%s", err);
		corr_engine_free(e);
	}
	xfree(p);
	log_free(l);
	free(l);
}
