/*
 * test_corr_sla.c - SLA clocks on the correlator's incidents, with a
 * virtual clock: the premium rule through tenants, ack / arrive / resolve
 * deadlines met 1 ms before and breached at them, planned incidents, the
 * operator pause, the escalation ladder as events, scores, reopen, the JSON
 * clocks object, and replay producing SLA events in event time.
 *
 * Every event the sink sees is encoded both ways (incjson_encode and
 * json_dumps(incoracle_build), tests/support) and the bytes must match, so each SLA state the
 * tests reach is also a byte-identity check of the two encoders.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "correlator/corr.h"
#include "correlator/incjson.h"
#include "tests/support/incoracle.h"
#include "correlator/sla.h"
#include "daemon/mem.h"
#include "daemon/replay.h"
#include "tests/support/corrfix.h"

#define T0	((int64_t)1795000000000)	/* 2026-11-18T11:06:40Z */
#define SEC	((int64_t)1000)
#define MIN	(60 * SEC)
#define HOUR	(60 * MIN)

#define MAXEV	512


static struct fleet *F;
static struct corr_engine *E;
static struct corr_config CC;
static struct sla_config SC;
static struct corrfix_ev EV[MAXEV];
static int NEV;
static char REJ[CORRFIX_REJ_LEN];

static void
rec_event(void *arg, const struct corr_event *ev)
{
	(void)arg;
	cr_assert_lt(NEV, MAXEV);
	corrfix_ev_take(&EV[NEV++], F, ev);
}

static const struct corr_sink_ops rec_ops = {
	.event = rec_event,
	.rejected = corrfix_rejected,
};

static void
add_site(const char *id, const char *area, enum region region, int premium)
{
	(void)corrfix_site(F, id, area, region, premium);
}

/*
 * PREM: premium through its second tenant, region A.  STD: standard,
 * region A.  REMC: standard, region C.  G1..G5: an area for a storm.
 */
static void
setup(void)
{
	char id[8];

	F = fleet_new();
	add_site("PREM", "east", REGION_A, 1);
	add_site("STD", "east", REGION_A, 0);
	add_site("REMC", "west", REGION_C, 0);
	for (int i = 1; i <= 5; i++) {
		snprintf(id, sizeof(id), "G%d", i);
		add_site(id, "grid", REGION_B, 0);
	}
	sla_config_defaults(&SC);
	corr_config_defaults(&CC);
	CC.sla = &SC;
	E = corrfix_engine(F, &CC, &rec_ops, REJ);
	cr_assert_not_null(E);
	NEV = 0;
}

static void
teardown(void)
{
	corr_engine_free(E);
	fleet_free(F);
	sla_config_fini(&SC);
	for (int i = 0; i < NEV; i++)
		free(EV[i].json);
	NEV = 0;
}

TestSuite(corr_sla, .init = setup, .fini = teardown);

static void
raise_(const char *dev, int64_t at)
{
	corrfix_edge(E, F, dev, "MAINS_FAIL", at, ALARM_RAISE, SEV_MAJOR);
}

static void
clear_(const char *dev, int64_t at)
{
	corrfix_edge(E, F, dev, "MAINS_FAIL", at, ALARM_CLEAR, SEV_MAJOR);
}

static int
act(const char *id, enum corr_action_type t, const char *note, int64_t at)
{
	return corrfix_act(E, REJ, id, t, "amy", note, at);
}

/* Index of the n-th (from 0) event of type on clock (-1: any), or -1. */
static int
find(int type, int clock, int n)
{
	for (int i = 0; i < NEV; i++)
		if (EV[i].type == type && (clock < 0 || EV[i].clock == clock) &&
		    n-- == 0)
			return i;
	return -1;
}

static int
count(int type)
{
	int n = 0;

	for (int i = 0; i < NEV; i++)
		n += EV[i].type == type;
	return n;
}

static const struct corr_incident *
inc1(void)
{
	const struct corr_incident *inc = corr_engine_find(E, "INC-0-1");

	cr_assert_not_null(inc);
	return inc;
}

/* incident.clocks.<clock> of the last event. */
static json_t *
last_clock(json_t **root, const char *clock)
{
	json_t *o = json_loads(EV[NEV - 1].json, 0, NULL);

	cr_assert_not_null(o);
	*root = o;
	return json_object_get(json_object_get(json_object_get(o, "incident"),
	    "clocks"), clock);
}

static json_t *
last_inc(json_t **root)
{
	json_t *o = json_loads(EV[NEV - 1].json, 0, NULL);

	cr_assert_not_null(o);
	*root = o;
	return json_object_get(o, "incident");
}

Test(corr_sla, premium_through_tenants_breaches_ack_at_60s)
{
	int b;

	raise_("PREM-pwr", T0);
	cr_assert_eq(inc1()->sla.tier, TIER_PREMIUM);
	cr_assert_eq(inc1()->sla.clocks[SLA_ACK].duration_ms, 60 * SEC);
	corr_engine_advance(E, T0 + 60 * SEC - 1);
	cr_assert_eq(find(CORR_EV_SLA_BREACHED, -1, 0), -1, "no breach at 59.999 s");
	cr_assert_eq(EV[find(CORR_EV_SLA_WARNING, SLA_ACK, 0)].at, T0 + 30 * SEC);
	cr_assert_eq(EV[find(CORR_EV_SLA_WARNING, SLA_ACK, 1)].at, T0 + 48 * SEC);
	corr_engine_advance(E, T0 + 60 * SEC);
	b = find(CORR_EV_SLA_BREACHED, SLA_ACK, 0);
	cr_assert_geq(b, 0);
	cr_assert_eq(EV[b].at, T0 + 60 * SEC, "breach exactly at the deadline");
	cr_assert_str_eq(EV[b].id, "INC-0-1");
	cr_assert(strstr(EV[b].json, "\"event\":\"sla_breached\"") != NULL);
	cr_assert(strstr(EV[b].json, "\"action\":\"sla_breached\",\"note\":"
	    "\"ack clock breached, deadline 2026-11-18T11:07:40.000Z\"") != NULL);
	cr_assert(strstr(EV[find(CORR_EV_SLA_WARNING, SLA_ACK, 1)].json,
	    "\"note\":\"ack clock at 80%, deadline 2026-11-18T11:07:40.000Z\"")
	    != NULL);
	{
		json_t *root, *c = last_clock(&root, "ack");

		cr_assert(json_is_true(json_object_get(c, "breached")));
		cr_assert(json_is_false(json_object_get(c, "met")));
		cr_assert_eq(json_integer_value(json_object_get(c,
		    "remaining_ms")), 0);
		cr_assert_str_eq(json_string_value(json_object_get(c,
		    "deadline")), "2026-11-18T11:07:40.000Z");
		json_decref(root);
	}
}

Test(corr_sla, premium_ack_at_59999_is_met)
{
	json_t *root, *c, *inc;

	raise_("PREM-pwr", T0);
	cr_assert_eq(act("INC-0-1", CORR_ACT_ACK, NULL, T0 + 59999), 0);
	c = last_clock(&root, "ack");
	cr_assert(json_is_true(json_object_get(c, "met")));
	cr_assert(json_is_false(json_object_get(c, "breached")));
	cr_assert_str_eq(json_string_value(json_object_get(c, "state")),
	    "stopped");
	cr_assert_eq(json_integer_value(json_object_get(c, "remaining_ms")), 1);
	inc = json_object_get(json_object_get(root, "incident"), "response_score");
	cr_assert_eq(json_integer_value(inc), 5);
	json_decref(root);
	corr_engine_advance(E, T0 + 2 * HOUR);
	cr_assert_eq(find(CORR_EV_SLA_BREACHED, SLA_ACK, 0), -1);
	cr_assert_eq(count(CORR_EV_SLA_BREACHED), 0,
	    "premium resolve is 24 h: nothing breached at 2 h");
}

Test(corr_sla, standard_ack_is_one_hour)
{
	raise_("STD-pwr", T0);
	cr_assert_eq(inc1()->sla.tier, TIER_STANDARD);
	corr_engine_advance(E, T0 + HOUR - 1);
	cr_assert_eq(count(CORR_EV_SLA_BREACHED), 0);
	corr_engine_advance(E, T0 + HOUR);
	cr_assert_eq(count(CORR_EV_SLA_BREACHED), 1);
	cr_assert_eq(EV[find(CORR_EV_SLA_BREACHED, SLA_ACK, 0)].at, T0 + HOUR);
}

Test(corr_sla, region_c_arrival_48h_after_dispatch)
{
	int64_t disp = T0 + 10 * MIN;

	raise_("REMC-pwr", T0);
	cr_assert_eq(act("INC-0-1", CORR_ACT_ACK, NULL, T0 + MIN), 0);
	cr_assert_eq(act("INC-0-1", CORR_ACT_DISPATCH, NULL, disp), 0);
	cr_assert_eq(inc1()->sla.clocks[SLA_ARRIVE].state, SLA_CLOCK_RUNNING);
	corr_engine_advance(E, disp + 48 * HOUR - 1);
	cr_assert_eq(find(CORR_EV_SLA_BREACHED, SLA_ARRIVE, 0), -1);
	corr_engine_advance(E, disp + 48 * HOUR);
	cr_assert_eq(EV[find(CORR_EV_SLA_BREACHED, SLA_ARRIVE, 0)].at,
	    disp + 48 * HOUR);
}

Test(corr_sla, arrival_met_one_ms_before)
{
	int64_t disp = T0 + 10 * MIN;

	raise_("REMC-pwr", T0);
	cr_assert_eq(act("INC-0-1", CORR_ACT_ACK, NULL, T0 + MIN), 0);
	cr_assert_eq(act("INC-0-1", CORR_ACT_DISPATCH, NULL, disp), 0);
	cr_assert_eq(act("INC-0-1", CORR_ACT_ON_SITE, NULL,
	    disp + 48 * HOUR - 1), 0);
	corr_engine_advance(E, disp + 60 * HOUR);
	cr_assert_eq(find(CORR_EV_SLA_BREACHED, SLA_ARRIVE, 0), -1);
	{
		json_t *root, *c = last_clock(&root, "arrive");

		cr_assert(json_is_true(json_object_get(c, "met")));
		json_decref(root);
	}
}

Test(corr_sla, planned_runs_no_clock_then_resumes_when_window_ends)
{
	struct corr_maint m = { FLEET_NONE, 0, T0, T0 + 72 * HOUR, "battery swap", NULL };
	json_t *root, *c;
	int u;

	m.site = fleet_find(F, FLEET_SITE, "STD");
	cr_assert_gt(corr_engine_maint_add(E, &m), 0);
	raise_("STD-pwr", T0 + HOUR);
	cr_assert(inc1()->planned);
	corr_engine_advance(E, T0 + HOUR + 48 * HOUR);
	cr_assert_eq(count(CORR_EV_SLA_WARNING) + count(CORR_EV_SLA_BREACHED) +
	    count(CORR_EV_ESCALATED), 0, "no SLA event over 48 h");
	cr_assert_eq(NEV, 1, "only the opening");
	c = last_clock(&root, "ack");
	cr_assert(json_is_true(json_object_get(c, "paused")));
	cr_assert(json_is_null(json_object_get(c, "deadline")));
	cr_assert_eq(json_integer_value(json_object_get(c, "remaining_ms")),
	    HOUR);
	json_decref(root);

	/* The window ends: no longer planned, clocks run from its end. */
	corr_engine_advance(E, T0 + 72 * HOUR);
	u = NEV - 1;
	cr_assert_eq(EV[u].type, CORR_EV_UPDATED);
	cr_assert_eq(EV[u].at, T0 + 72 * HOUR);
	cr_assert(!inc1()->planned);
	cr_assert(strstr(EV[u].json, "\"action\":\"unplanned\"") != NULL);
	corr_engine_advance(E, T0 + 73 * HOUR);
	cr_assert_eq(EV[find(CORR_EV_SLA_BREACHED, SLA_ACK, 0)].at,
	    T0 + 73 * HOUR);
}

Test(corr_sla, removing_the_window_resumes_at_engine_time)
{
	struct corr_maint m = { FLEET_NONE, 0, T0, T0 + 72 * HOUR, "works", NULL };
	uint32_t id;

	m.site = fleet_find(F, FLEET_SITE, "STD");
	id = corr_engine_maint_add(E, &m);
	raise_("STD-pwr", T0 + HOUR);
	corr_engine_advance(E, T0 + 2 * HOUR);
	cr_assert_eq(corr_engine_maint_remove(E, id), 0);
	cr_assert(!inc1()->planned);
	cr_assert_eq(EV[NEV - 1].at, T0 + 2 * HOUR);
	corr_engine_advance(E, T0 + 3 * HOUR);
	cr_assert_eq(EV[find(CORR_EV_SLA_BREACHED, SLA_ACK, 0)].at,
	    T0 + 3 * HOUR);
}

Test(corr_sla, pause_resume_shifts_deadline_exactly)
{
	json_t *root, *c;
	const struct corr_incident *inc;

	raise_("STD-pwr", T0);
	cr_assert_eq(act("INC-0-1", CORR_ACT_PAUSE, NULL, T0 + 10 * MIN),
	    -EINVAL);
	cr_assert_str_eq(REJ, "pause needs a note with the reason");
	cr_assert_eq(act("INC-0-1", CORR_ACT_RESUME, NULL, T0 + 10 * MIN),
	    -EPERM);
	cr_assert_eq(act("INC-0-1", CORR_ACT_PAUSE, "customer site closed",
	    T0 + 10 * MIN), 0);
	cr_assert_eq(EV[NEV - 1].type, CORR_EV_UPDATED);
	cr_assert(strstr(EV[NEV - 1].json, "\"action\":\"paused\",\"note\":"
	    "\"customer site closed\"") != NULL);
	cr_assert_eq(act("INC-0-1", CORR_ACT_PAUSE, "again", T0 + 11 * MIN),
	    -EPERM);
	corr_engine_advance(E, T0 + 5 * HOUR);
	cr_assert_eq(count(CORR_EV_SLA_WARNING), 0, "paused before 50 %%");
	c = last_clock(&root, "ack");
	cr_assert(json_is_true(json_object_get(c, "paused")));
	json_decref(root);
	cr_assert_eq(act("INC-0-1", CORR_ACT_RESUME, NULL, T0 + 5 * HOUR), 0);
	cr_assert(strstr(EV[NEV - 1].json, "\"action\":\"resumed\"") != NULL);
	inc = inc1();
	cr_assert_eq(inc->sla.clocks[SLA_ACK].deadline_ms,
	    T0 + HOUR + 5 * HOUR - 10 * MIN, "deadline moved by the pause");
	c = last_clock(&root, "ack");
	cr_assert_eq(json_integer_value(json_object_get(c, "remaining_ms")),
	    50 * MIN);
	cr_assert(json_is_false(json_object_get(c, "paused")));
	json_decref(root);
	corr_engine_advance(E, T0 + 6 * HOUR - 10 * MIN - 1);
	cr_assert_eq(find(CORR_EV_SLA_BREACHED, SLA_ACK, 0), -1);
	corr_engine_advance(E, T0 + 6 * HOUR - 10 * MIN);
	cr_assert_eq(EV[find(CORR_EV_SLA_BREACHED, SLA_ACK, 0)].at,
	    T0 + 6 * HOUR - 10 * MIN);
}

Test(corr_sla, pause_rejected_when_all_clocks_stopped)
{
	clear_("STD-pwr", T0);	/* stray, ignored */
	raise_("STD-pwr", T0);
	clear_("STD-pwr", T0 + MIN);
	cr_assert_eq(act("INC-0-1", CORR_ACT_RESOLVE, NULL, T0 + 2 * MIN), 0);
	cr_assert_eq(act("INC-0-1", CORR_ACT_PAUSE, "waiting for parts",
	    T0 + 3 * MIN), -EPERM);
	cr_assert_str_eq(REJ, "every clock of the incident has stopped");
}

Test(corr_sla, full_ladder_station_branch_headquarters)
{
	int idx[3], prev = -1;
	uint64_t seq = 0;

	raise_("STD-pwr", T0);
	corr_engine_advance(E, T0 + 6 * HOUR);
	for (int l = 0; l < 3; l++) {
		idx[l] = find(CORR_EV_ESCALATED, -1, l);
		cr_assert_geq(idx[l], 0, "rung %d", l);
		cr_assert_eq(EV[idx[l]].level, l);
		cr_assert_gt(idx[l], prev);
		prev = idx[l];
	}
	cr_assert_eq(find(CORR_EV_ESCALATED, -1, 3), -1, "a level is reached once");
	cr_assert_eq(EV[idx[0]].at, T0 + 30 * MIN, "station on the first warning");
	cr_assert_eq(EV[idx[1]].at, T0 + HOUR, "branch on the breach");
	cr_assert_eq(EV[idx[2]].at, T0 + 5 * HOUR, "headquarters 4 h later");
	cr_assert(strstr(EV[idx[0]].json, "\"action\":\"escalated\",\"note\":"
	    "\"level 0 station: Nanshan Station (ack clock") != NULL);
	cr_assert(strstr(EV[idx[1]].json, "level 1 branch: Shenzhen Branch")
	    != NULL);
	cr_assert(strstr(EV[idx[2]].json, "level 2 headquarters: headquarters")
	    != NULL);
	cr_assert(strstr(EV[idx[2]].json, "\"escalation_level\":2") != NULL);
	/* seq + 1 each, in deadline order, one incident. */
	for (int i = 0; i < NEV; i++) {
		cr_assert_str_eq(EV[i].id, "INC-0-1");
		cr_assert_eq(EV[i].seq, ++seq);
		if (i > 0)
			cr_assert_geq(EV[i].at, EV[i - 1].at);
	}
	/* ack: 2 warnings and the breach; resolve (8 h): its 50 % at 4 h */
	cr_assert_eq(count(CORR_EV_SLA_WARNING), 3);
	cr_assert_eq(count(CORR_EV_SLA_BREACHED), 1);
	cr_assert_eq(inc1()->nsteps, (uint32_t)NEV, "one timeline entry each");
}

Test(corr_sla, scores_after_ack_and_resolve)
{
	json_t *root, *inc;

	raise_("STD-pwr", T0);
	cr_assert_eq(act("INC-0-1", CORR_ACT_ACK, NULL, T0 + 2 * HOUR), 0);
	inc = last_inc(&root);
	cr_assert_eq(json_integer_value(json_object_get(inc,
	    "response_score")), 4, "1-3 h band");
	cr_assert(json_is_null(json_object_get(inc, "resolution_grade")));
	json_decref(root);
	clear_("STD-pwr", T0 + 3 * HOUR);
	cr_assert_eq(act("INC-0-1", CORR_ACT_RESOLVE, NULL, T0 + 5 * HOUR), 0);
	inc = last_inc(&root);
	cr_assert_str_eq(json_string_value(json_object_get(inc,
	    "resolution_grade")), "within_a_day");
	cr_assert_eq(json_integer_value(json_object_get(inc,
	    "response_score")), 4);
	cr_assert(strstr(EV[NEV - 1].json, "\"action\":\"scored\",\"note\":"
	    "\"response score 4, resolution within_a_day\"") != NULL);
	json_decref(root);
	cr_assert_eq(inc1()->sla.response_score, 4);
	cr_assert_eq(inc1()->sla.grade, SLA_GRADE_DAY);
}

Test(corr_sla, json_clocks_content)
{
	json_t *root, *c, *clocks;

	raise_("STD-pwr", T0);
	cr_assert_eq(act("INC-0-1", CORR_ACT_ACK, NULL, T0 + 20 * MIN), 0);
	cr_assert_eq(act("INC-0-1", CORR_ACT_DISPATCH, NULL, T0 + 30 * MIN), 0);
	c = last_clock(&root, "ack");
	clocks = json_object_get(json_object_get(root, "incident"), "clocks");
	cr_assert_eq(json_object_size(clocks), 3);
	cr_assert_str_eq(json_string_value(json_object_get(c, "state")),
	    "stopped");
	cr_assert(json_is_true(json_object_get(c, "met")));
	cr_assert_eq(json_integer_value(json_object_get(c, "remaining_ms")),
	    40 * MIN);
	c = json_object_get(clocks, "arrive");
	cr_assert_str_eq(json_string_value(json_object_get(c, "state")),
	    "running");
	cr_assert_str_eq(json_string_value(json_object_get(c, "deadline")),
	    "2026-11-18T13:36:40.000Z", "region A: 2 h after dispatch");
	cr_assert_eq(json_integer_value(json_object_get(c, "remaining_ms")),
	    2 * HOUR);
	cr_assert(json_is_false(json_object_get(c, "paused")));
	cr_assert(json_is_false(json_object_get(c, "met")));
	cr_assert(json_is_false(json_object_get(c, "breached")));
	c = json_object_get(clocks, "resolve");
	cr_assert_str_eq(json_string_value(json_object_get(c, "deadline")),
	    "2026-11-18T19:06:40.000Z", "standard general resolve: 8 h");
	cr_assert_eq(json_integer_value(json_object_get(c, "remaining_ms")),
	    8 * HOUR - 30 * MIN);
	cr_assert(json_is_null(json_object_get(json_object_get(root,
	    "incident"), "escalation_level")));
	json_decref(root);
	/* After the breach remaining goes negative. */
	corr_engine_advance(E, T0 + 30 * MIN + 2 * HOUR);
	cr_assert_eq(EV[NEV - 1].type, CORR_EV_ESCALATED);
	cr_assert_eq(act("INC-0-1", CORR_ACT_NOTE, "stuck in traffic",
	    T0 + 30 * MIN + 2 * HOUR + 5 * SEC), 0);
	c = last_clock(&root, "arrive");
	cr_assert(json_is_true(json_object_get(c, "breached")));
	cr_assert_eq(json_integer_value(json_object_get(c, "remaining_ms")),
	    -5 * SEC);
	json_decref(root);
}

Test(corr_sla, critical_is_graded_complex)
{
	corrfix_edge(E, F, "STD-pwr", "MAINS_FAIL", T0, ALARM_RAISE,
	    SEV_CRITICAL);
	cr_assert(inc1()->sla.complex);
	cr_assert_eq(inc1()->sla.clocks[SLA_RESOLVE].duration_ms, 27 * HOUR,
	    "3 working days of the workday calendar");
	corrfix_edge(E, F, "PREM-pwr", "MAINS_FAIL", T0, ALARM_RAISE,
	    SEV_MAJOR);
	cr_assert(!corr_engine_find(E, "INC-0-2")->sla.complex);
}

Test(corr_sla, area_incident_runs_no_clock)
{
	char dev[16];
	int opened = -1;

	for (int i = 1; i <= 5; i++) {
		snprintf(dev, sizeof(dev), "G%d-pwr", i);
		raise_(dev, T0 + i * SEC);
	}
	for (int i = 0; i < NEV; i++)
		if (strstr(EV[i].json, "\"kind\":\"area\"") != NULL)
			opened = i;
	cr_assert_geq(opened, 0);
	cr_assert(strstr(EV[opened].json, "\"clocks\":{},\"escalation_level\":"
	    "null") != NULL);
	cr_assert(corr_engine_find(E, EV[opened].id)->has_sla == 0);
	cr_assert_eq(act(EV[opened].id, CORR_ACT_PAUSE, "storm", T0 + MIN),
	    -EPERM);
	cr_assert_str_eq(REJ, "no SLA clocks on this incident");
	/* Each site incident runs its own (region B) clocks. */
	cr_assert(corr_engine_find(E, "INC-0-1")->has_sla);
}

Test(corr_sla, reopen_restarts_resolve_and_keeps_owner)
{
	const struct corr_incident *inc;

	raise_("STD-pwr", T0);
	cr_assert_eq(act("INC-0-1", CORR_ACT_ACK, NULL, T0 + 90 * MIN), 0);
	clear_("STD-pwr", T0 + 2 * HOUR);
	cr_assert_eq(act("INC-0-1", CORR_ACT_RESOLVE, NULL, T0 + 2 * HOUR), 0);
	raise_("STD-pwr", T0 + 2 * HOUR + 5 * MIN);
	inc = inc1();
	cr_assert_eq(inc->state, CORR_REOPENED);
	cr_assert_eq(inc->sla.clocks[SLA_RESOLVE].state, SLA_CLOCK_RUNNING);
	cr_assert_eq(inc->sla.clocks[SLA_RESOLVE].deadline_ms,
	    T0 + 2 * HOUR + 5 * MIN + 8 * HOUR);
	cr_assert_eq(inc->sla.clocks[SLA_ACK].state, SLA_CLOCK_STOPPED);
	cr_assert_eq(inc->sla.response_score, 4, "the first response's score");
	cr_assert_eq(inc->sla.grade, SLA_GRADE_NONE);
	corr_engine_advance(E, T0 + 2 * HOUR + 5 * MIN + 8 * HOUR);
	cr_assert_eq(EV[find(CORR_EV_SLA_BREACHED, SLA_RESOLVE, 0)].at,
	    T0 + 2 * HOUR + 5 * MIN + 8 * HOUR);
	/* The first cycle's ack breach (at 1 h) is the only one. */
	cr_assert_eq(EV[find(CORR_EV_SLA_BREACHED, SLA_ACK, 0)].at, T0 + HOUR);
	cr_assert_eq(find(CORR_EV_SLA_BREACHED, SLA_ACK, 1), -1);
}

Test(corr_sla, close_drops_the_clocks)
{
	raise_("STD-pwr", T0);
	clear_("STD-pwr", T0 + MIN);
	cr_assert_eq(act("INC-0-1", CORR_ACT_RESOLVE, NULL, T0 + 2 * MIN), 0);
	cr_assert_eq(act("INC-0-1", CORR_ACT_CLOSE, NULL, T0 + 3 * MIN), 0);
	cr_assert_eq(corr_engine_next(E), INT64_MAX);
	corr_engine_advance(E, T0 + 100 * HOUR);
	cr_assert_eq(count(CORR_EV_SLA_WARNING) + count(CORR_EV_SLA_BREACHED), 0);
}

Test(corr_sla, next_is_the_earliest_mark)
{
	cr_assert_eq(corr_engine_next(E), INT64_MAX);
	raise_("PREM-pwr", T0);
	cr_assert_eq(corr_engine_next(E), T0 + 30 * SEC);
	corr_engine_advance(E, T0 + 30 * SEC);
	cr_assert_eq(corr_engine_next(E), T0 + 48 * SEC);
}

/* Replays text through a fresh engine; returns the events (free()). */
static char *
replay_text(const char *text)
{
	char path[] = "/tmp/test_corr_sla.XXXXXX";
	FILE *in, *out, *err;
	char *buf = NULL, *ebuf = NULL;
	size_t len = 0, elen = 0;
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	in = fdopen(fd, "w");
	fputs(text, in);
	fclose(in);
	out = open_memstream(&buf, &len);
	err = open_memstream(&ebuf, &elen);
	cr_assert_eq(replay_run(path, F, &CC, 1, out, err), 0);
	fclose(out);
	fclose(err);
	unlink(path);
	cr_assert(strstr(ebuf, " sla_breaches=") != NULL);
	free(ebuf);
	return buf;
}

Test(corr_sla, replay_emits_sla_events_in_event_time)
{
	static const char day[] =
	    "{\"at\":\"2026-11-18T00:00:00Z\",\"device\":\"STD-pwr\","
	    "\"code\":\"MAINS_FAIL\",\"edge\":\"raise\"}\n"
	    "{\"at\":\"2026-11-18T00:59:59.999Z\",\"device\":\"REMC-pwr\","
	    "\"code\":\"DOOR_OPEN\",\"edge\":\"raise\"}\n"
	    "{\"at\":\"2026-11-18T02:00:00Z\",\"device\":\"REMC-pwr\","
	    "\"code\":\"DOOR_OPEN\",\"edge\":\"clear\"}\n";
	char *a = replay_text(day), *b = replay_text(day), *p;

	cr_assert_str_eq(a, b, "byte-identical run to run");
	p = strstr(a, "\"event\":\"sla_breached\",\"seq\":5,"
	    "\"at\":\"2026-11-18T01:00:00.000Z\"");
	cr_assert_not_null(p, "%s", a);
	/* The breach comes after the 00:59:59.999 line's event. */
	cr_assert(strstr(a, "\"at\":\"2026-11-18T00:59:59.999Z\"") < p);
	/* Input ends at 02:00: the 8 h resolve breach is not invented. */
	cr_assert_null(strstr(a, "\"at\":\"2026-11-18T08:00:00.000Z\""));
	free(a);
	free(b);
}

Test(corr_sla, overlapping_window_keeps_the_incident_planned)
{
	struct corr_maint a = { FLEET_NONE, 0, T0, T0 + 2 * HOUR, "site works", NULL };
	struct corr_maint b = { FLEET_NONE, 0, T0, T0 + 4 * HOUR, "area works", NULL };

	a.site = fleet_find(F, FLEET_SITE, "STD");
	b.area = F->sites[a.site].area;
	cr_assert_gt(corr_engine_maint_add(E, &a), 0);
	cr_assert_gt(corr_engine_maint_add(E, &b), 0);
	raise_("STD-pwr", T0 + MIN);
	corr_engine_advance(E, T0 + 3 * HOUR);
	cr_assert(inc1()->planned, "the area window still holds");
	cr_assert_eq(NEV, 1);
	corr_engine_advance(E, T0 + 4 * HOUR);
	cr_assert(!inc1()->planned);
	cr_assert_eq(EV[NEV - 1].at, T0 + 4 * HOUR);
	corr_engine_advance(E, T0 + 5 * HOUR);
	cr_assert_eq(EV[find(CORR_EV_SLA_BREACHED, SLA_ACK, 0)].at,
	    T0 + 5 * HOUR);
}
