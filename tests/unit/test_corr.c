/*
 * test_corr.c - the correlation core with a virtual clock: every rule of
 * corr.h (dedup, root cause in and out of its window, late root, gateway,
 * area storm threshold, flapping, reopen, chronic, planned work), the
 * premium rule, and every action in every state.
 *
 * Time is a plain variable: T0 is an arbitrary instant and rules are driven
 * by passing T0 + offsets, so a 90-day chronic period costs nothing.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "correlator/corr.h"
#include "correlator/incjson.h"
#include "daemon/mem.h"
#include "tests/support/corrfix.h"

#define T0	((int64_t)1795000000000)	/* 2026-11-18 */
#define SEC	((int64_t)1000)
#define MIN	(60 * SEC)
#define HOUR	(60 * MIN)
#define DAY	(24 * HOUR)

#define MAXEV	256

struct rec {
	int	 type;
	uint64_t seq;
	char	 id[CORR_ID_LEN];
	int	 state;
	uint32_t nalarms;
	char	*json;
};

static struct fleet *F;
static struct corr_engine *E;
static struct corr_config CC;
static struct rec EV[MAXEV];
static int NEV;
static char REJ[CORRFIX_REJ_LEN];

static void
rec_event(void *arg, const struct corr_event *ev)
{
	struct rec *r;

	(void)arg;
	cr_assert_lt(NEV, MAXEV);
	r = &EV[NEV++];
	r->type = ev->type;
	r->seq = ev->seq;
	snprintf(r->id, sizeof(r->id), "%s", ev->inc->id);
	r->state = ev->inc->state;
	r->nalarms = ev->inc->nalarms;
	r->json = incjson_encode(F, ev);
	cr_assert_not_null(r->json);
}

static const struct corr_sink_ops rec_ops = {
	.event = rec_event,
	.rejected = corrfix_rejected,
};

/*
 * Fleet: areas north (S1, S2) and south (P1..P6).  S1 hosts a standard and
 * a premium customer, S2 a standard one.  Each site has a power unit
 * (-pwr), a gateway FSU (-fsu) and a battery monitor and an air-con behind
 * the FSU (-bat, -ac).
 */
static void
add_site(const char *id, const char *area, int premium)
{
	uint32_t s = fleet_add(F, FLEET_SITE, id);
	const char *kinds[] = { "pwr", "fsu", "bat", "ac" };
	uint32_t fsu = FLEET_NONE;
	char dev[64];

	F->sites[s].area = fleet_area(F, area);
	fleet_site_add_tenant(&F->sites[s], "cmcc", TIER_STANDARD);
	if (premium)
		fleet_site_add_tenant(&F->sites[s], "ctcc", TIER_PREMIUM);
	for (int i = 0; i < 4; i++) {
		uint32_t d;

		snprintf(dev, sizeof(dev), "%s-%s", id, kinds[i]);
		d = fleet_add(F, FLEET_DEVICE, dev);
		F->devices[d].site = s;
		if (i == 1)
			fsu = d;
		else if (i > 1)
			F->devices[d].via = fsu;
	}
}

static void
setup_with(void (*tweak)(struct corr_config *))
{
	char id[8];

	F = fleet_new();
	add_site("S1", "north", 1);
	add_site("S2", "north", 0);
	for (int i = 1; i <= 6; i++) {
		snprintf(id, sizeof(id), "P%d", i);
		add_site(id, "south", 0);
	}
	fleet_code(F, "DOOR_OPEN");
	corr_config_defaults(&CC);
	if (tweak != NULL)
		tweak(&CC);
	E = corrfix_engine(F, &CC, &rec_ops, REJ);
	NEV = 0;
}

static void
setup(void)
{
	setup_with(NULL);
}

static void
teardown(void)
{
	corr_engine_free(E);
	fleet_free(F);
	for (int i = 0; i < NEV; i++)
		free(EV[i].json);
}

static void
raise_(const char *dev, const char *code, int64_t at)
{
	corrfix_edge(E, F, dev, code, at, ALARM_RAISE, SEV_MAJOR);
}

static void
clear_(const char *dev, const char *code, int64_t at)
{
	corrfix_edge(E, F, dev, code, at, ALARM_CLEAR, SEV_MAJOR);
}

static int
act(const char *id, enum corr_action_type t, const char *actor,
    const char *note, int64_t at)
{
	return corrfix_act(E, REJ, id, t, actor, note, at);
}

static const struct rec *
last(void)
{
	cr_assert_gt(NEV, 0);
	return &EV[NEV - 1];
}

static struct corr_stats
stats(void)
{
	struct corr_stats st;

	corr_engine_stats(E, &st);
	return st;
}

static json_t *
last_json(void)
{
	json_error_t jerr;
	json_t *o = json_loads(last()->json, 0, &jerr);

	cr_assert_not_null(o, "%s", jerr.text);
	return o;
}

TestSuite(corr, .init = setup, .fini = teardown);
/* Tests that build their engine with a tweaked config. */
TestSuite(corr_cfg, .fini = teardown);

Test(corr, defaults_match_domain)
{
	cr_assert_eq(CC.nrules, 2);
	cr_assert_str_eq(CC.rules[0].root, "MAINS_FAIL");
	cr_assert_eq(CC.rules[0].nchildren, 5);
	cr_assert_str_eq(CC.rules[1].root, "COMM_LOSS");
	cr_assert_eq(CC.rules[1].scope, CORR_SCOPE_GATEWAY);
	cr_assert_eq(CC.chronic_count, 3);
	cr_assert_eq(CC.chronic_period_ms, 90 * DAY);
	cr_assert_eq(CC.auto_resolve, 0);
}

Test(corr, config_check_rejects_bad_values)
{
	struct corr_config c;
	char err[128];

	corr_config_defaults(&c);
	c.flap_cycles = 0;
	cr_assert_eq(corr_config_check(&c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "flap_cycles") != NULL, "%s", err);
	corr_config_defaults(&c);
	c.storm_sites = 1;
	cr_assert_eq(corr_config_check(&c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "storm_sites") != NULL, "%s", err);
}

Test(corr, id_format_and_parse)
{
	char id[CORR_ID_LEN];
	unsigned sh;
	uint64_t n;

	corr_id_format(id, sizeof(id), "INC-", 3, 1234567);
	cr_assert_str_eq(id, "INC-3-1234567");
	cr_assert_eq(corr_id_parse("INC-", id, &sh, &n), 0);
	cr_assert_eq(sh, 3);
	cr_assert_eq(n, 1234567);
	cr_assert_eq(corr_id_parse("INC-", "INC-3-", &sh, &n), -EINVAL);
	cr_assert_eq(corr_id_parse("INC-", "INC-3-12x", &sh, &n), -EINVAL);
	cr_assert_eq(corr_id_parse("INC-", "ABC-3-1", &sh, &n), -EINVAL);
}

Test(corr, premium_rule_names_every_customer)
{
	json_t *o, *inc, *cust;

	raise_("S1-pwr", "DOOR_OPEN", T0);
	o = last_json();
	inc = json_object_get(o, "incident");
	cust = json_object_get(inc, "customers");
	cr_assert_eq(json_array_size(cust), 2);
	cr_assert_str_eq(json_string_value(json_object_get(
	    json_array_get(cust, 0), "id")), "cmcc");
	cr_assert_str_eq(json_string_value(json_object_get(
	    json_array_get(cust, 0), "tier")), "standard");
	cr_assert_str_eq(json_string_value(json_object_get(
	    json_array_get(cust, 1), "tier")), "premium");
	/* One premium tenant makes the whole site premium. */
	cr_assert_str_eq(json_string_value(json_object_get(inc, "tier")),
	    "premium");
	json_decref(o);

	raise_("S2-pwr", "DOOR_OPEN", T0);
	o = last_json();
	inc = json_object_get(o, "incident");
	cr_assert_str_eq(json_string_value(json_object_get(inc, "tier")),
	    "standard");
	json_decref(o);
}

Test(corr, event_schema)
{
	json_t *o, *inc;

	raise_("S2-pwr", "MAINS_FAIL", T0 + 123);
	o = last_json();
	cr_assert_str_eq(json_string_value(json_object_get(o, "schema")),
	    "tocsin.incident/1");
	cr_assert_str_eq(json_string_value(json_object_get(o, "event")),
	    "opened");
	cr_assert_eq(json_integer_value(json_object_get(o, "seq")), 1);
	cr_assert_str_eq(json_string_value(json_object_get(o, "at")),
	    "2026-11-18T11:06:40.123Z");
	inc = json_object_get(o, "incident");
	cr_assert_str_eq(json_string_value(json_object_get(inc, "id")),
	    "INC-0-1");
	cr_assert_str_eq(json_string_value(json_object_get(inc, "site")), "S2");
	cr_assert_str_eq(json_string_value(json_object_get(inc, "area")),
	    "north");
	cr_assert_str_eq(json_string_value(json_object_get(inc, "state")),
	    "open");
	cr_assert_str_eq(json_string_value(json_object_get(inc, "severity")),
	    "major");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(inc,
	    "root_cause"), "alarm")), "MAINS_FAIL");
	cr_assert(json_is_object(json_object_get(inc, "clocks")));
	cr_assert_eq(json_object_size(json_object_get(inc, "clocks")), 0);
	/* No SLA config in this suite: no clocks (test_corr_sla has them). */
	cr_assert(json_is_null(json_object_get(inc, "escalation_level")));
	cr_assert(json_is_null(json_object_get(inc, "response_score")));
	cr_assert(json_is_false(json_object_get(inc, "planned")));
	/* The event carries its own step and the timeline's length. */
	cr_assert_null(json_object_get(inc, "timeline"));
	cr_assert_eq(json_integer_value(json_object_get(inc, "timeline_len")), 1);
	cr_assert_eq(json_array_size(json_object_get(o, "steps")), 1);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(o, "steps"), 0), "action")), "opened");
	json_decref(o);
}

Test(corr, dedup_counts_repeats_and_stray_clears)
{
	raise_("S2-pwr", "DOOR_OPEN", T0);
	raise_("S2-pwr", "DOOR_OPEN", T0 + SEC);
	raise_("S2-pwr", "DOOR_OPEN", T0 + 2 * SEC);
	cr_assert_eq(NEV, 1, "re-sends emit nothing");
	cr_assert_eq(stats().repeats, 2);
	cr_assert_eq(corr_engine_find(E, "INC-0-1")->repeats, 2);
	clear_("S2-ac", "HIGH_TEMP", T0 + 3 * SEC);
	cr_assert_eq(stats().stray_clears, 1);
	clear_("S2-pwr", "DOOR_OPEN", T0 + 4 * SEC);
	clear_("S2-pwr", "DOOR_OPEN", T0 + 5 * SEC);
	cr_assert_eq(stats().stray_clears, 2);
	cr_assert_eq(last()->state, CORR_CLEARED);
	cr_assert_eq(stats().opened, 1);
}

Test(corr, higher_severity_resend_updates)
{
	corrfix_edge(E, F, "S2-pwr", "DOOR_OPEN", T0, ALARM_RAISE, SEV_MINOR);
	corrfix_edge(E, F, "S2-pwr", "DOOR_OPEN", T0 + SEC, ALARM_RAISE,
	    SEV_CRITICAL);
	cr_assert_eq(NEV, 2);
	cr_assert_eq(corr_engine_find(E, "INC-0-1")->severity, SEV_CRITICAL);
}

Test(corr, child_inside_window_joins_root)
{
	raise_("S1-pwr", "MAINS_FAIL", T0);
	raise_("S1-bat", "BATT_DISCHARGE", T0 + 2 * MIN);
	raise_("S1-bat", "BATT_LOW", T0 + 3 * HOUR);
	raise_("S1-ac", "HIGH_TEMP", T0 + 3 * HOUR + MIN);
	cr_assert_eq(stats().opened, 1);
	cr_assert_eq(stats().explained, 3);
	cr_assert_eq(last()->nalarms, 4);
	cr_assert_eq(last()->type, CORR_EV_UPDATED);
	cr_assert_eq(last()->seq, 4, "seq grows by one per event");
}

Test(corr, child_outside_window_opens_own)
{
	raise_("S1-pwr", "MAINS_FAIL", T0);
	raise_("S1-bat", "BATT_LOW", T0 + 4 * HOUR + SEC);
	cr_assert_eq(stats().opened, 2);
	cr_assert_str_eq(last()->id, "INC-0-2");
	cr_assert_eq(last()->nalarms, 1);
}

Test(corr, child_at_other_site_or_unrelated_code_opens_own)
{
	raise_("S1-pwr", "MAINS_FAIL", T0);
	raise_("S2-bat", "BATT_LOW", T0 + MIN);
	raise_("S1-pwr", "DOOR_OPEN", T0 + MIN);
	cr_assert_eq(stats().opened, 3);
	cr_assert_eq(stats().explained, 0);
}

Test(corr, cleared_root_explains_nothing)
{
	raise_("S1-pwr", "MAINS_FAIL", T0);
	clear_("S1-pwr", "MAINS_FAIL", T0 + MIN);
	raise_("S1-bat", "BATT_LOW", T0 + 2 * MIN);
	cr_assert_eq(stats().opened, 2);
}

Test(corr, late_root_adopts_early_child)
{
	raise_("S1-ac", "HIGH_TEMP", T0);
	cr_assert_str_eq(last()->id, "INC-0-1");
	raise_("S1-pwr", "MAINS_FAIL", T0 + 4 * MIN);
	/* The child's incident is closed as merged, then the root opens. */
	cr_assert_eq(NEV, 3);
	cr_assert_str_eq(EV[1].id, "INC-0-1");
	cr_assert_eq(EV[1].type, CORR_EV_CLOSED);
	cr_assert_eq(EV[1].seq, 2);
	cr_assert(strstr(EV[1].json, "into INC-0-2") != NULL, "%s", EV[1].json);
	cr_assert_str_eq(EV[2].id, "INC-0-2");
	cr_assert_eq(EV[2].type, CORR_EV_OPENED);
	cr_assert_eq(EV[2].nalarms, 2);
	cr_assert_eq(stats().reparented, 1);
	cr_assert_null(corr_engine_find(E, "INC-0-1"));
	/* The adopted alarm's clear now counts on the root's incident. */
	clear_("S1-ac", "HIGH_TEMP", T0 + 5 * MIN);
	cr_assert_str_eq(last()->id, "INC-0-2");
	cr_assert_eq(stats().stray_clears, 0);
}

Test(corr, late_root_outside_window_adopts_nothing)
{
	raise_("S1-ac", "HIGH_TEMP", T0);
	raise_("S1-pwr", "MAINS_FAIL", T0 + 5 * MIN + 1);
	cr_assert_eq(stats().reparented, 0);
	cr_assert_eq(stats().opened, 2);
	cr_assert_not_null(corr_engine_find(E, "INC-0-1"));
}

Test(corr, late_root_leaves_acknowledged_child_alone)
{
	raise_("S1-ac", "HIGH_TEMP", T0);
	cr_assert_eq(act("INC-0-1", CORR_ACT_ACK, "ops", NULL, T0 + SEC), 0);
	raise_("S1-pwr", "MAINS_FAIL", T0 + MIN);
	cr_assert_eq(stats().reparented, 0);
	cr_assert_eq(stats().opened, 2);
}

Test(corr, gateway_comm_loss_explains_devices_behind_it)
{
	raise_("S1-fsu", "COMM_LOSS", T0);
	raise_("S1-bat", "COMM_LOSS", T0 + 30 * SEC);
	raise_("S1-ac", "COMM_LOSS", T0 + 40 * SEC);
	cr_assert_eq(stats().opened, 1);
	cr_assert_eq(last()->nalarms, 3);
	/* The power unit is not behind the FSU. */
	raise_("S1-pwr", "COMM_LOSS", T0 + 50 * SEC);
	cr_assert_eq(stats().opened, 2);
	/* A device behind another site's gateway is not explained. */
	raise_("S2-bat", "COMM_LOSS", T0 + 50 * SEC);
	cr_assert_eq(stats().opened, 3);
}

Test(corr, gateway_late_root)
{
	raise_("S1-bat", "COMM_LOSS", T0);
	raise_("S1-ac", "COMM_LOSS", T0 + SEC);
	raise_("S1-fsu", "COMM_LOSS", T0 + 2 * MIN);
	cr_assert_eq(stats().reparented, 2);
	cr_assert_str_eq(last()->id, "INC-0-3");
	cr_assert_eq(last()->nalarms, 3);
	cr_assert_eq(stats().live_incidents, 1);
}

Test(corr, gateway_child_outside_window)
{
	raise_("S1-fsu", "COMM_LOSS", T0);
	raise_("S1-bat", "COMM_LOSS", T0 + 10 * MIN + 1);
	cr_assert_eq(stats().opened, 2);
}

static void
storm(int nsites, int64_t step)
{
	char dev[16];

	for (int i = 1; i <= nsites; i++) {
		snprintf(dev, sizeof(dev), "P%d-pwr", i);
		raise_(dev, "MAINS_FAIL", T0 + (i - 1) * step);
	}
}

Test(corr, area_storm_below_threshold)
{
	storm(4, MIN);		/* K - 1 = 4 sites */
	cr_assert_eq(stats().area_opened, 0);
	cr_assert_eq(stats().opened, 4);
}

Test(corr, area_storm_at_threshold_links_sites)
{
	json_t *o, *inc;
	int area_ev = -1;

	storm(5, MIN);
	cr_assert_eq(stats().area_opened, 1);
	for (int i = 0; i < NEV; i++)
		if (strstr(EV[i].json, "\"kind\":\"area\"") != NULL &&
		    EV[i].type == CORR_EV_OPENED)
			area_ev = i;
	cr_assert_geq(area_ev, 0);
	o = json_loads(EV[area_ev].json, 0, NULL);
	inc = json_object_get(o, "incident");
	cr_assert_eq(json_array_size(json_object_get(inc, "links")), 5);
	cr_assert(json_is_null(json_object_get(inc, "site")));
	cr_assert_str_eq(json_string_value(json_object_get(inc, "area")),
	    "south");
	/* Customers: the union of the linked sites' tenants, once each. */
	cr_assert_eq(json_array_size(json_object_get(inc, "customers")), 1);
	cr_assert_str_eq(json_string_value(json_object_get(inc, "tier")),
	    "standard");
	cr_assert_eq(stats().live_incidents, 6);
	json_decref(o);
	/* The 4 earlier site incidents are told of their area incident. */
	cr_assert_eq(NEV, 5 + 1 + 4);
	cr_assert(strstr(last()->json, "\"area_incident\":\"INC-0-6\"") != NULL);
	/* A sixth site joins the open area incident. */
	raise_("P6-pwr", "MAINS_FAIL", T0 + 6 * MIN);
	cr_assert_eq(stats().area_opened, 1);
	cr_assert_str_eq(last()->id, "INC-0-6");
	cr_assert_eq(last()->type, CORR_EV_UPDATED);
}

Test(corr, area_storm_window_expires)
{
	storm(5, 3 * MIN);	/* first and fifth 12 min apart: T is 10 min */
	cr_assert_eq(stats().area_opened, 0);
}

Test(corr, area_incident_clears_with_its_sites)
{
	char dev[16];

	storm(5, MIN);
	for (int i = 1; i <= 5; i++) {
		snprintf(dev, sizeof(dev), "P%d-pwr", i);
		clear_(dev, "MAINS_FAIL", T0 + HOUR + i);
	}
	cr_assert_eq(corr_engine_find(E, "INC-0-6")->state, CORR_CLEARED);
	/* A later storm in the area is a new grid event, not the old one. */
	raise_("P6-pwr", "MAINS_FAIL", T0 + 2 * HOUR);
	cr_assert_eq(corr_engine_find(E, "INC-0-7")->area_num, 0);
	cr_assert_eq(act("INC-0-6", CORR_ACT_RESOLVE, "ops", NULL, T0 + 2 * HOUR), 0);
}

static void
hold_tweak(struct corr_config *c)
{
	c->auto_resolve = 1;
}

Test(corr, flapping_is_one_incident)
{
	for (int i = 0; i < 4; i++) {
		raise_("S2-pwr", "DOOR_OPEN", T0 + i * 4 * MIN);
		clear_("S2-pwr", "DOOR_OPEN", T0 + i * 4 * MIN + MIN);
	}
	cr_assert_eq(stats().opened, 1);
	cr_assert_eq(stats().reraised, 3);
	cr_assert(corr_engine_find(E, "INC-0-1")->flapping);
	cr_assert(strstr(last()->json, "\"flapping\":true") != NULL);
}

Test(corr, slow_cycles_are_not_flapping)
{
	/* Re-raises 14 min after each clear (within hold), 31 min apart:
	 * 3 cycles span 62 min, more than the 1 h flap window. */
	for (int i = 0; i < 4; i++) {
		raise_("S2-pwr", "DOOR_OPEN", T0 + i * 31 * MIN);
		clear_("S2-pwr", "DOOR_OPEN", T0 + i * 31 * MIN + 17 * MIN);
	}
	cr_assert_eq(stats().opened, 1);
	cr_assert_not(corr_engine_find(E, "INC-0-1")->flapping);
}

Test(corr_cfg, reraise_within_hold_reopens)
{
	setup_with(hold_tweak);
	raise_("S2-pwr", "DOOR_OPEN", T0);
	clear_("S2-pwr", "DOOR_OPEN", T0 + MIN);
	cr_assert_eq(last()->type, CORR_EV_RESOLVED);
	raise_("S2-pwr", "DOOR_OPEN", T0 + 16 * MIN);
	cr_assert_eq(last()->type, CORR_EV_REOPENED);
	cr_assert_eq(last()->state, CORR_REOPENED);
	cr_assert_str_eq(last()->id, "INC-0-1");
	clear_("S2-pwr", "DOOR_OPEN", T0 + 17 * MIN);
	/* Beyond the hold a new incident opens. */
	raise_("S2-pwr", "DOOR_OPEN", T0 + 17 * MIN + 15 * MIN + 1);
	cr_assert_eq(last()->type, CORR_EV_OPENED);
	cr_assert_str_eq(last()->id, "INC-0-2");
}

Test(corr, chronic_after_three_in_period)
{
	for (int i = 0; i < 2; i++) {
		raise_("S2-pwr", "RECT_FAIL", T0 + i * 30 * DAY);
		clear_("S2-pwr", "RECT_FAIL", T0 + i * 30 * DAY + HOUR);
	}
	cr_assert_eq(stats().opened, 2);
	cr_assert(strstr(last()->json, "\"chronic\":false") != NULL);
	raise_("S2-pwr", "RECT_FAIL", T0 + 60 * DAY);
	cr_assert(strstr(last()->json, "\"chronic\":true") != NULL);
	cr_assert(strstr(last()->json,
	    "\"chronic_of\":[\"INC-0-1\",\"INC-0-2\"]") != NULL, "%s",
	    last()->json);
}

Test(corr, concurrent_same_fault_is_not_chronic)
{
	/* three devices of one site lose contact at once: one outage */
	raise_("S2-pwr", "COMM_LOSS", T0);
	raise_("S2-ac", "COMM_LOSS", T0 + SEC);
	raise_("S2-bat", "COMM_LOSS", T0 + 2 * SEC);
	cr_assert(strstr(last()->json, "\"chronic\":false") != NULL, "%s",
	    last()->json);
	clear_("S2-pwr", "COMM_LOSS", T0 + HOUR);
	clear_("S2-ac", "COMM_LOSS", T0 + HOUR);
	clear_("S2-bat", "COMM_LOSS", T0 + HOUR);
	/* the second and third outages: the third is chronic */
	raise_("S2-pwr", "COMM_LOSS", T0 + 2 * DAY);
	cr_assert(strstr(last()->json, "\"chronic\":false") != NULL);
	clear_("S2-pwr", "COMM_LOSS", T0 + 2 * DAY + HOUR);
	raise_("S2-ac", "COMM_LOSS", T0 + 4 * DAY);
	cr_assert(strstr(last()->json, "\"chronic\":true") != NULL, "%s",
	    last()->json);
	cr_assert(strstr(last()->json, "\"chronic_of\":[\"INC-0-1\",\"INC-0-4\"]")
	    != NULL, "%s", last()->json);
}

Test(corr, chronic_period_expires)
{
	raise_("S2-pwr", "RECT_FAIL", T0);
	clear_("S2-pwr", "RECT_FAIL", T0 + HOUR);
	raise_("S2-pwr", "RECT_FAIL", T0 + 50 * DAY);
	clear_("S2-pwr", "RECT_FAIL", T0 + 50 * DAY + HOUR);
	raise_("S2-pwr", "RECT_FAIL", T0 + 91 * DAY);
	cr_assert(strstr(last()->json, "\"chronic\":false") != NULL);
	/* Other faults or sites do not count. */
	raise_("S1-pwr", "RECT_FAIL", T0 + 92 * DAY);
	cr_assert(strstr(last()->json, "\"chronic\":false") != NULL);
}

Test(corr, planned_window_site_and_area)
{
	struct corr_maint m = { fleet_find(F, FLEET_SITE, "S2"), FLEET_NONE,
	    T0, T0 + 2 * HOUR, "rectifier swap", NULL };
	uint32_t id = corr_engine_maint_add(E, &m);

	raise_("S2-pwr", "RECT_FAIL", T0 + MIN);
	cr_assert(strstr(last()->json, "\"planned\":true") != NULL);
	cr_assert(strstr(last()->json, "rectifier swap") != NULL);
	raise_("S1-pwr", "RECT_FAIL", T0 + MIN);
	cr_assert(strstr(last()->json, "\"planned\":false") != NULL);
	raise_("S2-pwr", "DOOR_OPEN", T0 + 2 * HOUR);	/* end is exclusive */
	cr_assert(strstr(last()->json, "\"planned\":false") != NULL);
	cr_assert_eq(corr_engine_maint_put(E, id, &m), -EEXIST);
	cr_assert_eq(corr_engine_maint_put(E, 0, &m), -EINVAL);
	cr_assert_eq(corr_engine_maint_remove(E, id), 0);
	cr_assert_eq(corr_engine_maint_remove(E, id), -ENOENT);
	raise_("S2-ac", "HIGH_TEMP", T0 + 2 * MIN);
	cr_assert(strstr(last()->json, "\"planned\":false") != NULL);

	m.site = FLEET_NONE;
	m.area = fleet_find(F, FLEET_AREA, "south");
	m.reason = "grid work";
	corr_engine_maint_add(E, &m);
	raise_("P3-pwr", "MAINS_FAIL", T0 + 3 * MIN);
	cr_assert(strstr(last()->json, "grid work") != NULL);
}

Test(corr, planned_mains_does_not_storm)
{
	struct corr_maint m = { FLEET_NONE, 0, T0, T0 + HOUR, "grid work", NULL };

	m.area = fleet_find(F, FLEET_AREA, "south");
	corr_engine_maint_add(E, &m);
	storm(6, MIN);
	cr_assert_eq(stats().area_opened, 0);
}

Test(corr, bad_input_rejected)
{
	struct alarm_event ev = { 0 };

	ev.device = 99999;
	cr_assert_eq(corr_engine_alarm(E, &ev), -EINVAL);
	ev.device = fleet_find(F, FLEET_DEVICE, "S1-pwr");
	ev.site = fleet_find(F, FLEET_SITE, "S2");
	cr_assert_eq(corr_engine_alarm(E, &ev), -EINVAL);
	cr_assert_eq(stats().bad_input, 2);
	cr_assert_eq(NEV, 0);
}

/* ---- lifecycle: every action in every state ---- */

enum { ST_OPEN, ST_ACK, ST_DISP, ST_ONSITE, ST_CLEARED, ST_RESOLVED,
    ST_CLOSED, ST_REOPENED, ST__N };

/* Drives INC-0-1 (DOOR_OPEN at S2) into a state; returns the time used. */
static int64_t
drive(int st)
{
	int64_t t = T0;

	raise_("S2-pwr", "DOOR_OPEN", t);
	switch (st) {
	case ST_DISP: case ST_ONSITE:
		cr_assert_eq(act("INC-0-1", CORR_ACT_ACK, "amy", NULL, ++t), 0);
		cr_assert_eq(act("INC-0-1", CORR_ACT_DISPATCH, "amy", NULL, ++t), 0);
		if (st == ST_ONSITE)
			cr_assert_eq(act("INC-0-1", CORR_ACT_ON_SITE, "bob", NULL,
			    ++t), 0);
		break;
	case ST_ACK:
		cr_assert_eq(act("INC-0-1", CORR_ACT_ACK, "amy", NULL, ++t), 0);
		break;
	case ST_CLEARED:
		clear_("S2-pwr", "DOOR_OPEN", ++t);
		break;
	case ST_RESOLVED: case ST_CLOSED: case ST_REOPENED:
		cr_assert_eq(act("INC-0-1", CORR_ACT_ACK, "amy", NULL, ++t), 0);
		clear_("S2-pwr", "DOOR_OPEN", ++t);
		cr_assert_eq(act("INC-0-1", CORR_ACT_RESOLVE, "amy", NULL, ++t), 0);
		if (st == ST_CLOSED)
			cr_assert_eq(act("INC-0-1", CORR_ACT_CLOSE, "amy", "visit ok",
			    ++t), 0);
		if (st == ST_REOPENED)
			raise_("S2-pwr", "DOOR_OPEN", ++t);
		break;
	}
	return t;
}

static const int expect_state[ST__N] = {
	CORR_OPEN, CORR_ACKNOWLEDGED, CORR_DISPATCHED, CORR_ON_SITE,
	CORR_CLEARED, CORR_RESOLVED, CORR_CLOSED, CORR_REOPENED,
};

/*
 * Result of each action (columns: ack dispatch on_site resolve close note
 * pause resume).  This engine has no SLA config, so pause and resume find
 * no clocks (test_corr_sla covers them with clocks).
 */
static const int expect_rc[ST__N][CORR_ACT__COUNT] = {
	[ST_OPEN] =	{ 0, -EPERM, -EPERM, -EPERM, -EPERM, 0, -EPERM, -EPERM },
	[ST_ACK] =	{ -EPERM, 0, -EPERM, -EPERM, -EPERM, 0, -EPERM, -EPERM },
	[ST_DISP] =	{ -EPERM, -EPERM, 0, -EPERM, -EPERM, 0, -EPERM, -EPERM },
	[ST_ONSITE] =	{ -EPERM, -EPERM, -EPERM, -EPERM, -EPERM, 0, -EPERM,
			  -EPERM },
	[ST_CLEARED] =	{ 0, -EPERM, -EPERM, 0, -EPERM, 0, -EPERM, -EPERM },
	[ST_RESOLVED] =	{ -EPERM, -EPERM, -EPERM, -EPERM, 0, 0, -EPERM, -EPERM },
	[ST_CLOSED] =	{ -ENOENT, -ENOENT, -ENOENT, -ENOENT, -ENOENT, -ENOENT,
			  -ENOENT, -ENOENT },
	[ST_REOPENED] =	{ -EPERM, 0, -EPERM, -EPERM, -EPERM, 0, -EPERM, -EPERM },
};

/* State after a successful action, or -1 for "unchanged". */
static const int expect_after[ST__N][CORR_ACT__COUNT] = {
	[ST_OPEN] =	{ CORR_ACKNOWLEDGED, -1, -1, -1, -1, -1 },
	[ST_ACK] =	{ -1, CORR_DISPATCHED, -1, -1, -1, -1 },
	[ST_DISP] =	{ -1, -1, CORR_ON_SITE, -1, -1, -1 },
	[ST_ONSITE] =	{ -1, -1, -1, -1, -1, -1 },
	[ST_CLEARED] =	{ CORR_CLEARED, -1, -1, CORR_RESOLVED, -1, -1 },
	[ST_RESOLVED] =	{ -1, -1, -1, -1, CORR_CLOSED, -1 },
	[ST_CLOSED] =	{ -1, -1, -1, -1, -1, -1 },
	[ST_REOPENED] =	{ -1, CORR_DISPATCHED, -1, -1, -1, -1 },
};
_Static_assert(CORR_ACT__COUNT == 8, "a new action needs its table column");

static const int expect_event[CORR_ACT__COUNT] = {
	CORR_EV_ACKNOWLEDGED, CORR_EV_DISPATCHED, CORR_EV_ON_SITE,
	CORR_EV_RESOLVED, CORR_EV_CLOSED, CORR_EV_UPDATED, CORR_EV_UPDATED,
	CORR_EV_UPDATED,
};

Test(corr, every_action_in_every_state)
{
	for (int st = 0; st < ST__N; st++) {
		for (int a = 0; a < CORR_ACT__COUNT; a++) {
			const struct corr_incident *inc;
			int64_t t;
			int rc, nev;
			uint64_t seq;

			teardown();
			setup();
			t = drive(st);
			inc = corr_engine_find(E, "INC-0-1");
			if (st == ST_CLOSED) {
				cr_assert_null(inc);
			} else {
				cr_assert_not_null(inc);
				cr_assert_eq(inc->state, expect_state[st],
				    "state %d: %s", st,
				    corr_state_name(inc->state));
			}
			nev = NEV;
			seq = inc != NULL ? inc->seq : 0;
			rc = act("INC-0-1", (enum corr_action_type)a, "cara",
			    "checked", t + 1);
			cr_assert_eq(rc, expect_rc[st][a],
			    "state %s action %s: rc %d (%s)",
			    corr_state_name(expect_state[st]),
			    corr_action_name(a), rc, REJ);
			if (rc != 0) {
				cr_assert_neq(REJ[0], '\0', "a reason is given");
				cr_assert_eq(NEV, nev, "a rejection emits nothing");
				if (inc != NULL)
					cr_assert_eq(inc->seq, seq);
				continue;
			}
			cr_assert_eq(NEV, nev + 1, "one event per action");
			cr_assert_eq(last()->type, expect_event[a]);
			cr_assert_eq(last()->seq, seq + 1);
			cr_assert_eq(last()->state, expect_after[st][a] >= 0 ?
			    expect_after[st][a] : expect_state[st]);
			cr_assert(strstr(last()->json, "\"actor\":\"cara\"") != NULL);
		}
	}
}

Test(corr, ack_makes_owner_and_rejects_second)
{
	raise_("S2-pwr", "DOOR_OPEN", T0);
	cr_assert_eq(act("INC-0-1", CORR_ACT_ACK, "amy", NULL, T0 + 1), 0);
	cr_assert_str_eq(corr_engine_find(E, "INC-0-1")->owner, "amy");
	cr_assert_eq(act("INC-0-1", CORR_ACT_ACK, "bob", NULL, T0 + 2), -EPERM);
	cr_assert_str_eq(REJ, "already acknowledged by amy");
	cr_assert_str_eq(corr_engine_find(E, "INC-0-1")->owner, "amy");
}

Test(corr, action_validation)
{
	raise_("S2-pwr", "DOOR_OPEN", T0);
	cr_assert_eq(act("INC-0-1", CORR_ACT_ACK, "", NULL, T0 + 1), -EINVAL);
	cr_assert_str_eq(REJ, "missing actor");
	cr_assert_eq(act("INC-0-1", CORR_ACT_NOTE, "amy", "", T0 + 1), -EINVAL);
	cr_assert_eq(act("INC-0-9", CORR_ACT_NOTE, "amy", "x", T0 + 1), -ENOENT);
	cr_assert_eq(act("INC-1-1", CORR_ACT_NOTE, "amy", "x", T0 + 1), -ENOENT,
	    "another shard's id");
	cr_assert_eq(act("junk", CORR_ACT_NOTE, "amy", "x", T0 + 1), -ENOENT);
	cr_assert_eq(stats().rejected, 5);
	cr_assert_eq(NEV, 1);
}

/*
 * The whole timeline stays with the incident; each event carries the steps
 * it appended, so the events' steps concatenated in seq order are the
 * timeline.
 */
Test(corr, timeline_is_append_only_audit)
{
	const struct corr_incident *inc;
	json_t *o, *tl;

	raise_("S2-pwr", "DOOR_OPEN", T0);
	act("INC-0-1", CORR_ACT_ACK, "amy", "on it", T0 + MIN);
	act("INC-0-1", CORR_ACT_NOTE, "amy", "called site", T0 + 2 * MIN);
	inc = corr_engine_find(E, "INC-0-1");
	cr_assert_eq(inc->nsteps, 3);
	cr_assert_str_eq(inc->steps[1].action, "acknowledged");
	cr_assert_str_eq(inc->steps[1].note, "on it");
	cr_assert_str_eq(inc->steps[2].action, "note");
	cr_assert_eq(NEV, 3);
	for (int i = 0; i < NEV; i++) {
		o = json_loads(EV[i].json, 0, NULL);
		cr_assert_not_null(o);
		tl = json_object_get(o, "steps");
		cr_assert_eq(json_array_size(tl), 1, "event %d", i);
		cr_assert_str_eq(json_string_value(json_object_get(
		    json_array_get(tl, 0), "action")), inc->steps[i].action);
		cr_assert_eq(json_integer_value(json_object_get(
		    json_object_get(o, "incident"), "timeline_len")), i + 1);
		json_decref(o);
	}
	o = last_json();
	tl = json_object_get(o, "steps");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(tl, 0),
	    "note")), "called site");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(tl, 0),
	    "at")), "2026-11-18T11:08:40.000Z");
	json_decref(o);
}

static void
auto_tweak(struct corr_config *c)
{
	c->auto_resolve = 1;
	c->id_start = 500;
	snprintf(c->id_prefix, sizeof(c->id_prefix), "T");
}

Test(corr_cfg, auto_resolve_and_id_start)
{
	setup_with(auto_tweak);
	raise_("S2-pwr", "DOOR_OPEN", T0);
	cr_assert_str_eq(last()->id, "T0-500");
	clear_("S2-pwr", "DOOR_OPEN", T0 + MIN);
	cr_assert_eq(last()->type, CORR_EV_RESOLVED);
	cr_assert(strstr(last()->json, "\"actor\":\"tocsin\"") != NULL);
	cr_assert_eq(act("T0-500", CORR_ACT_CLOSE, "amy", NULL, T0 + 2 * MIN), 0);
	cr_assert_eq(stats().live_incidents, 0);
	cr_assert_eq(stats().live_alarms, 0);
}
