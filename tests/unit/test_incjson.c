/*
 * test_incjson.c - the direct encoder writes exactly the bytes jansson
 * writes for the tree of the same event, for every kind of incident the
 * core produces (site, area, merged, chronic, planned, owned, with notes
 * that need escaping), and times print as RFC3339 UTC milliseconds.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correlator/corr.h"
#include "correlator/incjson.h"
#include "daemon/utc.h"
#include "tests/support/incoracle.h"

static struct fleet *F;
static int NCHECKED;
static int NBIGAREA;		/* area events over more than 16 sites */
static int NSCANNED, NSCANLEFT;	/* incjson_scan read / left to jansson */
static int NACCOUNTED;		/* writer's accounts equal to the scan */
static struct incjson_buf JB;	/* spans_on: the writer's account */

/*
 * The writer's account of the line it wrote (spans_on) is what
 * incjson_scan() finds in it: acct_ok exactly when the scan reads it
 * (with room for every customer), and then every field and span equal.
 */
static void
check_account(const char *got, const struct corr_event *ev)
{
	struct incjson_span cust[256];
	struct incjson_scan sc;
	size_t n;
	int rc;

	JB.n = 0;
	JB.spans_on = 1;
	JB.acct_on = 1;
	n = incjson_append(&JB, F, ev) - 1;
	cr_assert_eq(n, strlen(got));
	cr_assert_eq(memcmp(JB.p, got, n), 0);
	rc = incjson_scan(got, n, &sc, cust, 256);
	cr_assert_eq(JB.acct_ok, rc == 0, "account ok %d, scan %d: %s",
	    JB.acct_ok, rc, got);
	if (rc != 0)
		return;
	cr_assert_eq(JB.acct.steps.off, sc.steps.off, "%s", got);
	cr_assert_eq(JB.acct.steps.len, sc.steps.len, "%s", got);
	cr_assert_eq(JB.acct.tier.off, sc.tier.off);
	cr_assert_eq(JB.acct.tier.len, sc.tier.len);
	cr_assert_eq(JB.acct.has_incident, sc.has_incident);
	cr_assert_eq(JB.acct.has_tier, sc.has_tier);
	cr_assert_eq(JB.acct.planned, sc.planned);
	cr_assert_eq(JB.acct.flapping, sc.flapping);
	cr_assert_eq(JB.acct.chronic, sc.chronic);
	cr_assert_eq(JB.acct.ncust, sc.ncust);
	for (uint32_t i = 0; i < sc.ncust; i++) {
		cr_assert_eq(JB.acct_cust[i].off, cust[i].off);
		cr_assert_eq(JB.acct_cust[i].len, cust[i].len);
	}
	NACCOUNTED++;
}

/*
 * incjson_scan() on the line got reads what jansson reads in tree (the
 * view's fields and the event without "steps", the same bytes as
 * jansson writes it), or leaves a line to jansson only when a customer
 * id needs decoding.
 */
static void
check_scan(const char *got, json_t *tree)
{
	struct incjson_span cust[64];
	struct incjson_scan sc;
	json_t *inc = json_object_get(tree, "incident");
	json_t *cs = json_object_get(inc, "customers"), *c, *copy;
	char *item, *cut;
	size_t n = strlen(got), i;
	int escaped = 0;

	json_array_foreach(cs, i, c) {
		const char *id = json_string_value(json_object_get(c, "id"));

		escaped |= strpbrk(id, "\"\\/\x01\x1f") != NULL;
	}
	if (incjson_scan(got, n, &sc, cust, 64) != 0) {
		cr_assert(escaped || json_array_size(cs) > 64,
		    "scan refused a plain line: %s", got);
		NSCANLEFT++;
		return;
	}
	cr_assert_eq(sc.has_incident, 1);
	cr_assert_eq(sc.ncust, json_array_size(cs), "%s", got);
	json_array_foreach(cs, i, c) {
		const char *id = json_string_value(json_object_get(c, "id"));

		cr_assert_eq(cust[i].len, strlen(id));
		cr_assert_eq(memcmp(got + cust[i].off, id, cust[i].len), 0);
	}
	cr_assert_eq(sc.has_tier, 1);
	cr_assert_eq(sc.tier.len, strlen(json_string_value(json_object_get(inc,
	    "tier"))));
	cr_assert_eq(memcmp(got + sc.tier.off, json_string_value(
	    json_object_get(inc, "tier")), sc.tier.len), 0);
	cr_assert_eq(sc.planned, json_is_true(json_object_get(inc, "planned")));
	cr_assert_eq(sc.flapping, json_is_true(json_object_get(inc,
	    "flapping")));
	cr_assert_eq(sc.chronic, json_is_true(json_object_get(inc, "chronic")));
	copy = json_deep_copy(tree);
	cr_assert_eq(json_object_del(copy, "steps"), 0);
	item = json_dumps(copy, JSON_COMPACT);
	cr_assert_gt(sc.steps.len, 0);
	cut = malloc(n + 1);
	memcpy(cut, got, sc.steps.off);
	memcpy(cut + sc.steps.off, got + sc.steps.off + sc.steps.len,
	    n - sc.steps.off - sc.steps.len);
	cut[n - sc.steps.len] = '\0';
	cr_assert_str_eq(cut, item);
	free(cut);
	free(item);
	json_decref(copy);
	NSCANNED++;
}

static void
check_event(void *arg, const struct corr_event *ev)
{
	json_t *tree = incoracle_build(F, ev);
	char *want, *got;

	(void)arg;
	cr_assert_not_null(tree);
	want = json_dumps(tree, JSON_COMPACT);
	got = incjson_encode(F, ev);
	cr_assert_str_eq(got, want);
	check_scan(got, tree);
	check_account(got, ev);
	free(want);
	free(got);
	json_decref(tree);
	NCHECKED++;
	NBIGAREA += ev->inc->kind == CORR_KIND_AREA && ev->inc->nlinks > 16;
}

static const struct corr_sink_ops check_ops = { .event = check_event };

static void
edge(struct corr_engine *e, const char *dev, const char *code, int64_t at,
    int edge)
{
	struct alarm_event ev = { 0 };

	ev.device = fleet_find(F, FLEET_DEVICE, dev);
	ev.site = F->devices[ev.device].site;
	ev.code = fleet_code(F, code);
	ev.at_ms = at;
	ev.edge = (uint8_t)edge;
	ev.severity = SEV_CRITICAL;
	cr_assert_eq(corr_engine_alarm(e, &ev), 0);
}

Test(incjson, direct_encoder_matches_jansson)
{
	const int64_t t = 1795000000000LL, min = 60000;
	struct corr_sink sink = { &check_ops, NULL };
	struct corr_config cc;
	struct corr_engine *e;
	struct corr_maint m;
	char id[16];

	F = fleet_new();
	incjson_buf_init(&JB);
	for (int i = 0; i < 6; i++) {
		uint32_t s, d;

		snprintf(id, sizeof(id), "S%d", i);
		s = fleet_add(F, FLEET_SITE, id);
		F->sites[s].area = fleet_area(F, "r\xc3\xa9gion \"1\"");
		fleet_site_add_tenant(&F->sites[s], "cmcc", TIER_STANDARD);
		fleet_site_add_tenant(&F->sites[s], i % 2 ? "ctcc" : "cucc",
		    i == 3 ? TIER_PREMIUM : TIER_STANDARD);
		if (i == 5)	/* an id the scan leaves to jansson */
			fleet_site_add_tenant(&F->sites[s], "q\"uote",
			    TIER_STANDARD);
		snprintf(id, sizeof(id), "S%d-pwr", i);
		d = fleet_add(F, FLEET_DEVICE, id);
		F->devices[d].site = s;
		snprintf(id, sizeof(id), "S%d-ac", i);
		d = fleet_add(F, FLEET_DEVICE, id);
		F->devices[d].site = s;
	}
	corr_config_defaults(&cc);
	e = corr_engine_new(F, &cc, 7, &sink);
	m = (struct corr_maint){ 5, FLEET_NONE, t, t + 60 * min,
	    "tab\there \"quoted\"\nline\x01", NULL };
	corr_engine_maint_add(e, &m);
	edge(e, "S0-ac", "HIGH_TEMP", t, ALARM_RAISE);		/* late child */
	for (int i = 0; i < 6; i++) {
		snprintf(id, sizeof(id), "S%d-pwr", i);
		edge(e, id, "MAINS_FAIL", t + i * min, ALARM_RAISE);
	}
	edge(e, "S1-ac", "BATT_LOW", t + 7 * min, ALARM_RAISE);
	edge(e, "S1-ac", "HIGH_TEMP", t + 7 * min, ALARM_RAISE);
	for (int k = 0; k < 4; k++) {				/* flapping */
		edge(e, "S2-ac", "DOOR_OPEN", t + (10 + 2 * k) * min, ALARM_RAISE);
		edge(e, "S2-ac", "DOOR_OPEN", t + (11 + 2 * k) * min, ALARM_CLEAR);
	}
	for (int k = 0; k < 3; k++) {				/* chronic */
		edge(e, "S4-ac", "SMOKE", t + k * 86400000LL, ALARM_RAISE);
		edge(e, "S4-ac", "SMOKE", t + k * 86400000LL + min, ALARM_CLEAR);
	}
	{
		struct corr_action a = { "INC-7-3", CORR_ACT_ACK,
		    "\xe5\xbc\xa0\xe4\xb8\x89 <ops>", "\\ back\\slash /", t + 8 * min, 0 };
		cr_assert_eq(corr_engine_action(e, &a, NULL, 0), 0);
		a.type = CORR_ACT_NOTE;
		a.note = "\x1f control";
		cr_assert_eq(corr_engine_action(e, &a, NULL, 0), 0);
	}
	for (int i = 0; i < 6; i++) {
		snprintf(id, sizeof(id), "S%d-pwr", i);
		edge(e, id, "MAINS_FAIL", t + 3 * 3600000LL, ALARM_CLEAR);
	}
	corr_engine_free(e);
	fleet_free(F);
	incjson_buf_fini(&JB);
	cr_assert_gt(NCHECKED, 30, "%d events", NCHECKED);
	cr_assert_gt(NSCANNED, 30, "%d scanned", NSCANNED);
	cr_assert_gt(NSCANLEFT, 0, "the quoted id's events left to jansson");
	cr_assert_eq(NACCOUNTED, NSCANNED, "every line the scan read has "
	    "its writer's equal account");
}

Test(incjson, times)
{
	char buf[UTC_LEN];

	utc_format(0, buf);
	cr_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
	utc_format(1709251199999LL, buf);
	cr_assert_str_eq(buf, "2024-02-29T23:59:59.999Z");
	utc_format(-1, buf);
	cr_assert_str_eq(buf, "1969-12-31T23:59:59.999Z");
}

/*
 * An area incident over more customers than the encoder's 16 on the stack
 * (its customers are the union of its sites'): the grown list writes the
 * same bytes as jansson.
 */
Test(incjson, area_with_many_customers_matches_jansson)
{
	const int64_t t = 1795000000000LL, min = 60000;
	struct corr_sink sink = { &check_ops, NULL };
	struct corr_config cc;
	struct corr_engine *e;
	char id[16];

	F = fleet_new();
	incjson_buf_init(&JB);
	NCHECKED = 0;
	for (int i = 0; i < 24; i++) {
		uint32_t s, d;

		snprintf(id, sizeof(id), "S%d", i);
		s = fleet_add(F, FLEET_SITE, id);
		F->sites[s].area = fleet_area(F, "north");
		snprintf(id, sizeof(id), "tenant%d", i);
		fleet_site_add_tenant(&F->sites[s], id,
		    i % 5 ? TIER_STANDARD : TIER_PREMIUM);
		snprintf(id, sizeof(id), "S%d-pwr", i);
		d = fleet_add(F, FLEET_DEVICE, id);
		F->devices[d].site = s;
	}
	corr_config_defaults(&cc);
	e = corr_engine_new(F, &cc, 0, &sink);
	for (int i = 0; i < 24; i++) {
		snprintf(id, sizeof(id), "S%d-pwr", i);
		edge(e, id, "MAINS_FAIL", t + i * 1000, ALARM_RAISE);
	}
	edge(e, "S0-pwr", "MAINS_FAIL", t + 30 * min, ALARM_CLEAR);
	corr_engine_free(e);
	fleet_free(F);
	incjson_buf_fini(&JB);
	cr_assert_gt(NCHECKED, 24, "%d events", NCHECKED);
	cr_assert_gt(NBIGAREA, 0, "no area event with over 16 sites' customers");
}
