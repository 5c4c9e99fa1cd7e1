/*
 * test_cfgcorr.c - the correlation section read by cfgcorr on its own:
 * rules that replace the defaults, storms, flapping, chronic faults, the id
 * prefix, every code checked against the codes the profiles raise, and the
 * engine's own check of the whole section.  Profiles are read first with
 * cfgfleet, as config_load_buffer() does, and the codes resolved after.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "daemon/cfgcorr.h"
#include "daemon/cfgfleet.h"
#include "daemon/config.h"
#include "tests/support/cfgfix.h"

/* A minimal valid fleet that each test extends or breaks. */
#define PROFILE \
	"profiles:\n" \
	"  rect:\n" \
	"    points:\n" \
	"      - {name: mains, address: 30001, scale: 0.1}\n" \
	"    alarms:\n" \
	"      - {code: MAINS_FAIL, point: mains, condition: below, threshold: 170}\n"

static struct config_errors errs;
static struct cfgkey_ctx cx;
static int cx_live;
static struct fleet *fleet;
static struct mbmap *map;		/* the fleet's Modbus point map */
static struct corr_config cc_read;

static void
reset(void)
{
	if (cx_live)
		cfgkey_fini(&cx);
	cx_live = 0;
	if (fleet != NULL)
		fleet_free(fleet);
	fleet = NULL;
	mbmap_free(map);
	map = NULL;
	config_errors_free(&errs);
}

static const struct cfg_key top_keys[] = {
	KFN("profiles", cfgkey_nop),
	KFN("correlation", cfgkey_nop),
	K_END
};

/*
 * Reads yaml ("t.yaml"): profiles, then correlation over base (the
 * defaults when NULL), then the codes.  Returns the result (valid until
 * the next load) or NULL when there was an error.
 */
static const struct corr_config *
load_over(const char *yaml, const struct corr_config *base)
{
	yaml_node_t *root, *at[2];

	reset();
	cfgkey_init(&cx, "t.yaml", &errs);
	cx_live = 1;
	fleet = fleet_new();
	map = mbmap_new();
	if (base != NULL)
		cc_read = *base;
	else
		corr_config_defaults(&cc_read);
	if (cfgkey_parse(&cx, yaml, strlen(yaml), &root) == 0 &&
	    cfgkey_map(&cx, root, top_keys, NULL, "", at) == 0) {
		cfgfleet_read(&cx, fleet, map, at[0], NULL, NULL);
		if (at[1] != NULL)
			cfgcorr_read(&cx, at[1], &cc_read, "correlation");
	}
	cfgfleet_resolve(&cx, fleet);
	return errs.n == 0 ? &cc_read : NULL;
}

static const struct corr_config *
load(const char *yaml)
{
	return load_over(yaml, NULL);
}

/* Loading failed?  (cfgfix_load_fn) */
static int
failed(const char *yaml, const struct config_errors **e)
{
	*e = &errs;
	return load(yaml) == NULL;
}

#define expect_error(yaml, want)	cfgfix_expect_error(failed, yaml, want)
#define expect_at(yaml, needle, rest)	\
	cfgfix_expect_at(failed, yaml, needle, rest)

TestSuite(cfgcorr, .fini = reset);

/* ------------------------------------------------------------------ */
/* Moved from test_config.c */

Test(cfgcorr, correlation_rules)
{
	const struct corr_config *cc = load(PROFILE "  fsu:\n    gateway: true\n"
	    "    points: [{name: d, address: 10001}]\n"
	    "    alarms: [{code: DOOR_OPEN, point: d, condition: equals, threshold: 1}]\n"
	    "correlation:\n"
	    "  rules:\n"
	    "    - {root: MAINS_FAIL, explains: [DOOR_OPEN], window: 1h, before: 1m}\n"
	    "    - {root: COMM_LOSS, explains: [COMM_LOSS], scope: gateway}\n"
	    "  storm: {code: MAINS_FAIL, sites: 3, window: 5m, event_links: 7}\n"
	    "  flapping: {cycles: 5}\n"
	    "  chronic: {count: 4, period: 30d}\n"
	    "  reopen_hold: 10m\n"
	    "  auto_resolve: true\n"
	    "  id_prefix: SH-\n");

	cr_assert_not_null(cc, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(cc->nrules, 2);
	cr_assert_str_eq(cc->rules[0].children[0], "DOOR_OPEN");
	cr_assert_eq(cc->rules[0].window_ms, 3600000);
	cr_assert_eq(cc->rules[0].before_ms, 60000);
	cr_assert_eq(cc->rules[1].scope, CORR_SCOPE_GATEWAY);
	cr_assert_eq(cc->storm_sites, 3);
	cr_assert_eq(cc->storm_window_ms, 300000);
	cr_assert_eq(cc->storm_event_links, 7);
	cr_assert_eq(cc->flap_cycles, 5);
	cr_assert_eq(cc->flap_window_ms, 3600000, "unset keeps the default");
	cr_assert_eq(cc->chronic_count, 4);
	cr_assert_eq(cc->chronic_period_ms, 30LL * 86400000);
	cr_assert_eq(cc->reopen_hold_ms, 600000);
	cr_assert_eq(cc->auto_resolve, 1);
	cr_assert_str_eq(cc->id_prefix, "SH-");
	expect_at(PROFILE "correlation:\n  flapping: {cycles: 99}\n",
	    "99", "correlation.flapping.cycles: 99 is out of range [2, 32]");
	expect_at(PROFILE "correlation:\n  storm: {event_links: 1001}\n",
	    "1001", "correlation.storm.event_links: 1001 is out of range "
	    "[0, 1000]");
	cr_assert_eq(load(PROFILE "correlation:\n  storm: {sites: 4}\n")->
	    storm_event_links, 50, "unset keeps corr_config_defaults()'s");
	expect_at(PROFILE "correlation:\n  storm: {code: MAINS_FAILURE}\n",
	    "MAINS_FAILURE", "correlation.storm.code: alarm code MAINS_FAILURE "
	    "is raised by no profile");
}

/* Moved from test_config.c's dangling_references. */
Test(cfgcorr, unknown_code)
{
	expect_at(PROFILE "correlation:\n  rules:\n"
	    "    - {root: MAINS_FAIL, explains: [BATT_LOW]}\n",
	    "BATT_LOW]", "correlation.rules[0].explains[0]: alarm code "
	    "BATT_LOW is raised by no profile");
}

/* ------------------------------------------------------------------ */
/* The module's own contract */

Test(cfgcorr, rules_replace_the_defaults)
{
	const struct corr_config *cc = load(PROFILE "correlation:\n  rules:\n"
	    "    - {root: COMM_LOSS, explains: [MAINS_FAIL]}\n");

	cr_assert_not_null(cc, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(cc->nrules, 1);
	cr_assert_eq(cc->rules[0].scope, CORR_SCOPE_SITE, "the default scope");
	cr_assert_eq(cc->rules[0].window_ms, 30 * 60000);
	cr_assert_eq(cc->rules[0].before_ms, 5 * 60000);
	cc = load(PROFILE "correlation:\n  rules: []\n");
	cr_assert_not_null(cc, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(cc->nrules, 0, "an empty list: no root-cause rules");
	cc = load(PROFILE "correlation:\n  auto_resolve: true\n");
	cr_assert_not_null(cc, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(cc->nrules, 2, "no list: the default rules");
}

Test(cfgcorr, rule_errors)
{
	expect_at(PROFILE "correlation:\n  rules:\n    - {root: MAINS_FAIL}\n",
	    "{root", "correlation.rules[0]: a root-cause rule needs root and "
	    "explains");
	expect_at(PROFILE "correlation:\n  rules:\n"
	    "    - {root: MAINS_FAIL, explains: []}\n",
	    "[]", "correlation.rules[0].explains: a rule must explain at least "
	    "one code");
	expect_at(PROFILE "correlation:\n  rules:\n"
	    "    - {root: mains, explains: [COMM_LOSS]}\n",
	    "mains,", "correlation.rules[0].root: alarm codes are upper case "
	    "letters, digits and _ (like MAINS_FAIL), at most 31, got \"mains\"");
	expect_at(PROFILE "correlation:\n  rules:\n"
	    "    - {root: MAINS_FAIL, explains: COMM_LOSS}\n",
	    "COMM_LOSS}", "correlation.rules[0].explains: expected a list, got a "
	    "scalar");
	expect_at(PROFILE "correlation:\n  rules:\n"
	    "    - {root: MAINS_FAIL, explains: [COMM_LOSS], scope: area}\n",
	    "area", "correlation.rules[0].scope: unknown value \"area\" (one of: "
	    "site, gateway)");
}

Test(cfgcorr, at_most_so_many)
{
	char yaml[4096];
	size_t n;

	n = (size_t)snprintf(yaml, sizeof(yaml), "%s", PROFILE
	    "correlation:\n  rules:\n    - {root: MAINS_FAIL, explains: [");
	for (int i = 0; i <= CORR_MAX_CHILDREN; i++)
		n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "%sCOMM_LOSS",
		    i ? ", " : "");
	snprintf(yaml + n, sizeof(yaml) - n, "]}\n");
	/* the 17th code, at column 36 + 16 * 11 + 1 */
	expect_error(yaml, "t.yaml:9:213: correlation.rules[0].explains[16]: "
	    "a rule explains at most 16 codes");
	cr_assert_eq(errs.n, 1);

	n = (size_t)snprintf(yaml, sizeof(yaml), "%s", PROFILE
	    "correlation:\n  rules:\n");
	for (int i = 0; i <= CORR_MAX_RULES; i++)
		n += (size_t)snprintf(yaml + n, sizeof(yaml) - n,
		    "    - {root: MAINS_FAIL, explains: [COMM_LOSS]}\n");
	expect_error(yaml, "t.yaml:25:7: correlation.rules[16]: at most 16 "
	    "root-cause rules");
	cr_assert_eq(errs.n, 1);
}

Test(cfgcorr, id_prefix)
{
	expect_at(PROFILE "correlation:\n  id_prefix: \"A B\"\n", "\"A B\"",
	    "correlation.id_prefix: an id prefix has at most 15 characters and "
	    "no spaces, quotes or slashes, got \"A B\"");
	expect_at(PROFILE "correlation:\n  id_prefix: ABCDEFGHIJKLMNOP\n",
	    "ABCD", "correlation.id_prefix: an id prefix has at most 15");
	cr_assert_str_eq(load(PROFILE "correlation:\n  id_prefix: "
	    "ABCDEFGHIJKLMNO\n")->id_prefix, "ABCDEFGHIJKLMNO");
}

Test(cfgcorr, storm_code_is_checked_like_a_rules)
{
	expect_at(PROFILE "correlation:\n  storm: {code: mains_fail}\n",
	    "mains_fail", "correlation.storm.code: alarm codes are upper case");
	cr_assert_str_eq(load(PROFILE "correlation:\n  storm: {code: "
	    "COMM_LOSS}\n")->storm_code, "COMM_LOSS");
}

Test(cfgcorr, the_engine_judges_a_clean_read)
{
	struct corr_config base;

	/* a value no key can give, so only corr_config_check() sees it */
	corr_config_defaults(&base);
	base.id_start = 0;
	cr_assert_null(load_over(PROFILE "correlation:\n  auto_resolve: true\n",
	    &base));
	cr_assert_eq(errs.n, 1);
	cr_assert_str_eq(errs.msg[0], "t.yaml:8:3: correlation: id_start: want "
	    "> 0");
	/* and it says nothing when the keys already complained */
	cr_assert_null(load_over(PROFILE "correlation:\n  reopen_hold: 2d\n",
	    &base));
	cr_assert_eq(errs.n, 1);
	cr_assert(strstr(errs.msg[0], "reopen_hold: 2d is out of range") != NULL,
	    "%s", errs.msg[0]);
}
