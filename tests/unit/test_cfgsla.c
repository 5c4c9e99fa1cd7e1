/*
 * test_cfgsla.c - the sla section read by cfgsla on its own: calendars,
 * clock rows and the most specific row winning, warnings, the escalation
 * ladder, the score bands, and the engine's validation run only on a clean
 * read.  The YAML of the tests moved from test_config.c starts with the
 * shared PROFILE; the sla section names no fleet object, so the harness
 * skips `profiles`.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "daemon/cfgsla.h"
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
static int live;
static struct sla_config sla_read;

static void
reset(void)
{
	if (live) {
		cfgkey_fini(&cx);
		sla_config_fini(&sla_read);
	}
	live = 0;
	config_errors_free(&errs);
}

static const struct cfg_key top_keys[] = {
	KFN("profiles", cfgkey_nop),
	KFN("sla", cfgkey_nop),
	K_END
};

/*
 * Reads the sla section of yaml ("t.yaml") over sla_config_defaults().
 * Returns the result (valid until reset()) or NULL when there was an error.
 */
static struct sla_config *
load(const char *yaml)
{
	yaml_node_t *root, *at[2];

	reset();
	cfgkey_init(&cx, "t.yaml", &errs);
	sla_config_defaults(&sla_read);
	live = 1;
	if (cfgkey_parse(&cx, yaml, strlen(yaml), &root) == 0 &&
	    cfgkey_map(&cx, root, top_keys, NULL, "", at) == 0 && at[1] != NULL)
		cfgsla_read(&cx, at[1], &sla_read, "sla");
	return errs.n == 0 ? &sla_read : NULL;
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

TestSuite(cfgsla, .fini = reset);

/* ------------------------------------------------------------------ */
/* Moved from test_config.c */

Test(cfgsla, sla_errors)
{
	expect_at(PROFILE "sla:\n  clocks:\n    - {clock: ack, duration: 0}\n",
	    "0}", "sla.clocks[0].duration: a clock's duration must be positive");
	expect_at(PROFILE "sla:\n  clocks:\n    - {clock: ack, duration: -5m}\n",
	    "-5m", "sla.clocks[0].duration: a clock's duration must be positive");
	expect_at(PROFILE "sla:\n  clocks:\n    - {clock: ack, tier: premium, duration: 60s}\n",
	    "- {clock: ack, tier: premium", "sla.clocks: no duration for the ack clock of tier standard");
	expect_at(PROFILE "sla:\n  calendars:\n    w: {timezone: Mars/Olympus}\n",
	    "Mars/Olympus", "sla.calendars.w.timezone: ");
	expect_at(PROFILE "sla:\n  calendars:\n    w: {hours: \"18:00-09:00\"}\n",
	    "\"18:00-09:00\"", "sla.calendars.w.hours: working hours \"18:00-09:00\" are inverted");
	expect_at(PROFILE "sla:\n  calendars:\n    w: {weekdays: [mon, mon]}\n",
	    "mon]", "sla.calendars.w.weekdays[1]: weekday mon given twice");
	expect_at(PROFILE "sla:\n  calendars:\n    w: {holidays: [2026-02-30]}\n",
	    "2026-02-30", "sla.calendars.w.holidays[0]: expected a date");
	expect_at(PROFILE "sla:\n  clocks:\n    - {clock: ack, duration: 1h, calendar: nine-to-five}\n",
	    "nine-to-five", "sla.clocks[0].calendar: unknown calendar \"nine-to-five\"");
	expect_at(PROFILE "sla:\n  warnings: [0.8, 0.5]\n",
	    "0.5]", "sla.warnings[1]: warning fractions must be ascending");
	expect_at(PROFILE "sla:\n  escalation:\n    - {level: regional, on: breach}\n",
	    "regional", "sla.escalation[0].level: unknown value \"regional\"");
	expect_at(PROFILE "sla:\n  escalation:\n    - {level: branch, on: warning, warning: 3}\n",
	    "escalation:", "sla.escalation[0].warning: no such warning");
}

Test(cfgsla, sla_calendar_parsed)
{
	struct sla_config *sla = load(PROFILE "sla:\n  calendars:\n"
	    "    w: {timezone: \"+08:00\", weekdays: [mon, fri], hours: \"09:00-18:00\","
	    " holidays: [2026-10-02, 2026-10-01]}\n"
	    "  clocks:\n"
	    "    - {clock: ack, duration: 1h}\n"
	    "    - {clock: ack, tier: premium, duration: 60s}\n"
	    "    - {clock: ack, tier: premium, region: C, duration: 2m}\n"
	    "    - {clock: arrive, duration: 2h}\n"
	    "    - {clock: resolve, duration: 8h}\n"
	    "    - {clock: resolve_complex, duration: 3d, calendar: w}\n");
	struct calendar *c;

	cr_assert_not_null(sla, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(sla->ncalendars, 3);	/* 24x7, workday, w */
	c = &sla->calendars[2];
	cr_assert_str_eq(c->name, "w");
	cr_assert_eq(c->utc_offset_min, 480);
	cr_assert_eq(c->weekdays, (1 << CAL_MON) | (1 << CAL_FRI));
	cr_assert_eq(c->nperiods, 1);
	cr_assert_eq(c->periods[0].start_min, 540);
	cr_assert_eq(c->periods[0].end_min, 1080);
	/* the most specific row wins */
	cr_assert_eq(sla->dur[SLA_ACK][TIER_STANDARD][SEV_MAJOR][REGION_C].ms, 3600000);
	cr_assert_eq(sla->dur[SLA_ACK][TIER_PREMIUM][SEV_MAJOR][REGION_A].ms, 60000);
	cr_assert_eq(sla->dur[SLA_ACK][TIER_PREMIUM][SEV_MAJOR][REGION_C].ms, 120000);
	cr_assert_eq(sla->complex_resolve[TIER_PREMIUM][SEV_MINOR][REGION_B].calendar, 2);
	cr_assert_eq(c->nholidays, 2);
	cr_assert_eq(c->holidays[0], 20727);	/* 2026-10-01 */
	cr_assert_eq(c->holidays[1], 20728);
}

/* ------------------------------------------------------------------ */
/* The module's own contract */

Test(cfgsla, absent_section_keeps_the_defaults)
{
	struct sla_config def, *sla;

	sla_config_defaults(&def);
	sla = load("sla:\n");
	cr_assert_not_null(sla, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(sla->nwarnings, def.nwarnings);
	cr_assert_eq(sla->nrungs, def.nrungs);
	cr_assert_eq(sla->ncalendars, 2);
	cr_assert_eq(memcmp(sla->dur, def.dur, sizeof(def.dur)), 0);
	sla_config_fini(&def);
}

Test(cfgsla, warnings_replace_the_defaults)
{
	struct sla_config *sla = load("sla:\n  warnings: [0.25, 0.5, 0.9]\n");

	cr_assert_not_null(sla, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(sla->nwarnings, 3);
	cr_assert_float_eq(sla->warn_at[2], 0.9, 1e-12);
	expect_at("sla:\n  warnings: [0.5, 1.5]\n", "1.5",
	    "sla.warnings[1]: 1.5 is out of range [0.01, 0.99]");
	expect_at("sla:\n  warnings: [0.1, 0.2, 0.3, 0.4, 0.5]\n", "0.5",
	    "sla.warnings[4]: at most 4 warnings");
}

Test(cfgsla, arrive_starts)
{
	cr_assert_eq(load("sla: {arrive_starts: open}\n")->arrive_start,
	    SLA_ARRIVE_AT_OPEN);
	cr_assert_eq(load("sla: {arrive_starts: dispatch}\n")->arrive_start,
	    SLA_ARRIVE_AT_DISPATCH);
	expect_at("sla: {arrive_starts: later}\n", "later",
	    "sla.arrive_starts: unknown value \"later\" (one of: dispatch, open)");
}

Test(cfgsla, escalation_ladder)
{
	struct sla_config *sla = load("sla:\n  escalation:\n"
	    "    - {level: station, on: warning}\n"
	    "    - {level: headquarters, on: breach, after: 4h, "
	    "clocks: [arrive, resolve]}\n");

	cr_assert_not_null(sla, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(sla->nrungs, 2, "the list replaces the default ladder");
	cr_assert_eq(sla->rungs[0].level, SLA_LEVEL_STATION);
	cr_assert_eq(sla->rungs[0].clocks, 0, "no clocks: all of them");
	cr_assert_eq(sla->rungs[1].level, SLA_LEVEL_HQ);
	cr_assert_eq(sla->rungs[1].after_ms, 4 * 3600000LL);
	cr_assert_eq(sla->rungs[1].clocks,
	    (1u << SLA_ARRIVE) | (1u << SLA_RESOLVE));
	expect_at("sla:\n  escalation:\n    - {level: branch, on: breach, "
	    "clocks: [ack, arive]}\n", "arive",
	    "sla.escalation[0].clocks[1]: unknown clock \"arive\" (did you mean "
	    "\"arrive\"?)");
	expect_at("sla:\n  escalation:\n    - {level: branch}\n", "{level",
	    "sla.escalation[0]: an escalation step needs level (station, "
	    "branch, headquarters) and on (warning or breach)");
}

Test(cfgsla, score_bands)
{
	struct sla_config *sla = load("sla:\n  scores:\n"
	    "    response: [{under: 30m, points: 5}, {under: 2h, points: 3}, "
	    "{points: 0}]\n"
	    "    resolution: [{under: 4h, grade: immediate}, "
	    "{grade: over_a_day}]\n");

	cr_assert_not_null(sla, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(sla->nscore_bands, 3);
	cr_assert_eq(sla->score_bands[0].below_ms, 1800000);
	cr_assert_eq(sla->score_bands[0].score, 5);
	cr_assert_eq(sla->score_bands[2].below_ms, INT64_MAX);
	cr_assert_eq(sla->ngrade_bands, 2);
	cr_assert_eq(sla->grade_bands[0].grade, SLA_GRADE_IMMEDIATE);
	cr_assert_eq(sla->grade_bands[1].grade, SLA_GRADE_OVER_DAY);
	expect_at("sla:\n  scores:\n    response: [{under: 1h, points: 5}]\n",
	    "[{under", "sla.scores.response: the last band must have no under "
	    "(it takes everything slower)");
	expect_at("sla:\n  scores:\n    response: [{under: 2h, points: 5}, "
	    "{under: 1h, points: 3}, {points: 0}]\n", "1h, points",
	    "sla.scores.response[1]: bands must be ascending in under");
	expect_at("sla:\n  scores:\n    response: [{points: 5}, {points: 3}]\n",
	    "{points: 3}", "sla.scores.response[1]: a band after the open-ended "
	    "last band");
	expect_at("sla:\n  scores:\n    resolution: [{under: 1h}]\n", "{under",
	    "sla.scores.resolution[0]: a resolution band needs grade");
	expect_at("sla:\n  scores:\n    resolution: [{grade: none}]\n", "none",
	    "sla.scores.resolution[0].grade: unknown value \"none\"");
}

Test(cfgsla, calendars)
{
	struct sla_config *sla = load("sla:\n  calendars:\n"
	    "    workday: {hours: [\"08:00-12:00\", \"13:00-17:00\"]}\n"
	    "    night: {weekdays: [sun, sat], hours: \"00:00-24:00\"}\n");

	cr_assert_not_null(sla, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(sla->ncalendars, 3, "workday redefined, night added");
	cr_assert_str_eq(sla->calendars[1].name, "workday");
	cr_assert_eq(sla->calendars[1].nperiods, 2);
	cr_assert_eq(sla->calendars[1].periods[1].start_min, 13 * 60);
	cr_assert_eq(sla->calendars[1].utc_offset_min, 0,
	    "a redefined calendar starts afresh");
	cr_assert_eq(sla->calendars[2].weekdays, (1 << CAL_SUN) | (1 << CAL_SAT));
	cr_assert_eq(sla->calendars[2].periods[0].end_min, 24 * 60);
	expect_at("sla:\n  calendars:\n    24x7: {}\n", "24x7",
	    "sla.calendars.24x7: 24x7 is built in and cannot be redefined");
	expect_at("sla:\n  calendars:\n    w: {hours: \"9-17\"}\n", "\"9-17\"",
	    "sla.calendars.w.hours: expected working hours such as "
	    "\"09:00-18:00\", got \"9-17\"");
	expect_at("sla:\n  calendars:\n    w: {weekdays: [mon, funday]}\n",
	    "funday", "sla.calendars.w.weekdays[1]: unknown weekday \"funday\"");
}

Test(cfgsla, every_general_clock_or_none)
{
	/* one row of a general clock rebuilds all three general tables */
	expect_at("sla:\n  clocks:\n    - {clock: resolve_complex, duration: 3d}\n",
	    "- {clock", "sla.clocks: no duration for the ack clock of tier "
	    "standard, severity warning, region A");
	/* at most five cells are named */
	cr_assert_eq(errs.n, 5);
	cr_assert_not_null(load("sla:\n  clocks:\n"
	    "    - {clock: ack, duration: 1h}\n"
	    "    - {clock: arrive, duration: 2h}\n"
	    "    - {clock: resolve, duration: 8h}\n"), "%s",
	    errs.n ? errs.msg[0] : "");
	cr_assert_eq(sla_read.complex_resolve[TIER_PREMIUM][SEV_MAJOR][REGION_A].set,
	    1, "the complex table is not mentioned: its defaults stay");
	expect_at("sla:\n  clocks:\n    - {duration: 1h}\n", "{duration",
	    "sla.clocks[0]: a clock row needs clock and duration");
	expect_at("sla:\n  clocks:\n    - {clock: ack, duration: 400d}\n",
	    "400d", "sla.clocks[0].duration: a clock's duration must be "
	    "positive and at most 366d, got \"400d\"");
}

Test(cfgsla, validation_waits_for_a_clean_read)
{
	/* the rung's missing warning is not reported beside the bad calendar */
	expect_at("sla:\n  calendars:\n    w: {timezone: Nowhere}\n"
	    "  escalation:\n    - {level: branch, on: warning, warning: 3}\n",
	    "Nowhere", "sla.calendars.w.timezone: ");
	cr_assert_eq(errs.n, 1);
}

Test(cfgsla, complaint_rows_set_respond_and_resolve)
{
	struct sla_config *sla;

	/* the defaults: 48 h both, every cell (DOMAIN.md section 3) */
	sla = load(PROFILE);
	cr_assert_not_null(sla, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(sla->complaint_ack[TIER_PREMIUM][SEV_CRITICAL][REGION_C].ms,
	    48 * 3600000LL);
	cr_assert_eq(sla->complaint_resolve[TIER_STANDARD][SEV_WARNING][REGION_A]
	    .ms, 48 * 3600000LL);
	/* `complaint` is both clocks; a later, as specific row wins for one */
	sla = load(PROFILE "sla:\n  clocks:\n"
	    "    - {clock: ack, duration: 1h}\n"
	    "    - {clock: arrive, duration: 2h}\n"
	    "    - {clock: resolve, duration: 8h}\n"
	    "    - {clock: complaint, duration: 24h}\n"
	    "    - {clock: complaint_ack, tier: premium, duration: 4h}\n"
	    "    - {clock: complaint_resolve, duration: 3d, calendar: workday}\n");
	cr_assert_not_null(sla, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(sla->complaint_ack[TIER_STANDARD][SEV_MAJOR][REGION_B].ms,
	    24 * 3600000LL);
	cr_assert_eq(sla->complaint_ack[TIER_PREMIUM][SEV_MAJOR][REGION_B].ms,
	    4 * 3600000LL);
	cr_assert_eq(sla->complaint_resolve[TIER_PREMIUM][SEV_MAJOR][REGION_B]
	    .ms, 72 * 3600000LL);
	cr_assert_eq(sla->complaint_resolve[TIER_PREMIUM][SEV_MAJOR][REGION_B]
	    .calendar, 1);
	/* a complaint row alone keeps the complaint table it does not name */
	sla = load(PROFILE "sla:\n  clocks:\n"
	    "    - {clock: ack, duration: 1h}\n"
	    "    - {clock: arrive, duration: 2h}\n"
	    "    - {clock: resolve, duration: 8h}\n"
	    "    - {clock: complaint_ack, duration: 2h}\n");
	cr_assert_not_null(sla, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(sla->complaint_ack[TIER_STANDARD][SEV_MAJOR][REGION_B].ms,
	    2 * 3600000LL);
	cr_assert_eq(sla->complaint_resolve[TIER_STANDARD][SEV_MAJOR][REGION_B]
	    .ms, 48 * 3600000LL);
	/* a table that is named must be covered */
	expect_at("sla:\n  clocks:\n"
	    "    - {clock: ack, duration: 1h}\n"
	    "    - {clock: arrive, duration: 2h}\n"
	    "    - {clock: resolve, duration: 8h}\n"
	    "    - {clock: complaint, tier: premium, duration: 2h}\n",
	    "- {clock: ack", "sla.clocks: no duration for the complaint_ack clock of "
	    "tier standard, severity warning, region A");
	expect_at("sla:\n  clocks:\n    - {clock: complain, duration: 2h}\n",
	    "complain", "sla.clocks[0].clock: ");
}
