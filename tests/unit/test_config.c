/*
 * test_config.c - the configuration as a whole, through config.h: defaults
 * of every section, the flat sections (daemon, modbus, kafka, redis, http),
 * the key engine's messages as a user meets them, files that cannot be
 * read, the correlation and sla sections.  The engine, the inventory CSV
 * and the fleet sections are tested with their modules: test_cfgkey.c,
 * test_cfgcsv.c and test_cfgfleet.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/poller.h"

/* A minimal valid fleet that each test extends or breaks. */
#define PROFILE \
	"profiles:\n" \
	"  rect:\n" \
	"    points:\n" \
	"      - {name: mains, address: 30001, scale: 0.1}\n" \
	"    alarms:\n" \
	"      - {code: MAINS_FAIL, point: mains, condition: below, threshold: 170}\n"

static struct config_errors errs;

static void
reset(void)
{
	config_errors_free(&errs);
}

static struct config *
load(const char *yaml)
{
	reset();
	return config_load_buffer("t.yaml", yaml, strlen(yaml), &errs);
}

/* Asserts that loading fails with an error line starting with want. */
static void
expect_error(const char *yaml, const char *want)
{
	struct config *cfg = load(yaml);
	int found = 0;

	cr_assert_null(cfg, "expected an error \"%s\"", want);
	for (size_t i = 0; i < errs.n; i++)
		if (strncmp(errs.msg[i], want, strlen(want)) == 0)
			found = 1;
	if (!found)
		for (size_t i = 0; i < errs.n; i++)
			cr_log_error("got: %s", errs.msg[i]);
	cr_assert(found, "no error starting \"%s\" among %zu", want, errs.n);
}

/*
 * Asserts an error whose position is the last occurrence of needle in
 * yaml (line and column, 1-based) and whose text after it starts with rest.
 */
static void
expect_at(const char *yaml, const char *needle, const char *rest)
{
	const char *hit = NULL, *p;
	unsigned line = 1, col = 1;
	char want[512];

	/* the last occurrence: the broken part follows the shared PROFILE */
	for (p = strstr(yaml, needle); p != NULL; p = strstr(p + 1, needle))
		hit = p;
	cr_assert_not_null(hit, "needle \"%s\" not in the test's YAML", needle);
	for (p = yaml; p < hit; p++) {
		if (*p == '\n') {
			line++;
			col = 1;
		} else
			col++;
	}
	snprintf(want, sizeof(want), "t.yaml:%u:%u: %s", line, col, rest);
	expect_error(yaml, want);
}

TestSuite(config, .fini = reset);

Test(config, defaults_when_unset)
{
	struct config *cfg = load(PROFILE);

	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(cfg->modbus.port, 502);
	cr_assert_eq(cfg->modbus.unit, 1);
	cr_assert_eq(cfg->modbus.timeout_ms, 1000);
	cr_assert_eq(cfg->modbus.inflight, 1);
	cr_assert_eq(cfg->modbus.max_registers, 125);
	cr_assert_eq(cfg->daemon.shards, 2);
	cr_assert_str_eq(cfg->http.bind, "127.0.0.1");
	cr_assert_eq(cfg->correlation.chronic_count, 3);
	cr_assert_eq(cfg->correlation.chronic_period_ms, 90LL * 86400000);
	cr_assert_eq(cfg->correlation.nrules, 2);
	cr_assert_str_eq(cfg->correlation.rules[0].root, "MAINS_FAIL");
	cr_assert_eq(cfg->correlation.rules[0].nchildren, 5);
	cr_assert_eq(cfg->correlation.rules[1].scope, CORR_SCOPE_GATEWAY);
	/* DOMAIN.md 3, from sla_config_defaults() */
	cr_assert_eq(cfg->sla.dur[SLA_ACK][TIER_PREMIUM][SEV_MAJOR][REGION_C].ms, 60000);
	cr_assert_eq(cfg->sla.dur[SLA_ACK][TIER_STANDARD][SEV_MINOR][REGION_A].ms, 3600000);
	cr_assert_eq(cfg->sla.dur[SLA_ARRIVE][TIER_STANDARD][SEV_MINOR][REGION_B].ms, 12 * 3600000);
	cr_assert_eq(cfg->sla.nrungs, 3);
	cr_assert_eq(cfg->sla.nwarnings, 2);
	cr_assert_float_eq(cfg->sla.warn_at[1], 0.8, 1e-9);
	cr_assert_eq(cfg->sla.nscore_bands, 4);
	cr_assert_eq(cfg->sla.score_bands[0].score, 5);
	cr_assert_eq(cfg->sla.score_bands[0].below_ms, 3600000);
	config_free(cfg);
}

Test(config, unknown_key_did_you_mean)
{
	expect_at(PROFILE "modbus:\n  timout: 2s\n",
	    "timout", "modbus.timout: unknown key (did you mean \"timeout\"?)");
	expect_at(PROFILE "modbus:\n  zzzzzz: 2s\n",
	    "zzzzzz", "modbus.zzzzzz: unknown key");
	expect_at("colour: red\n",
	    "colour", "colour: unknown key");
}

Test(config, wrong_type)
{
	expect_at(PROFILE "modbus:\n  port: [1, 2]\n",
	    "[1, 2]", "modbus.port: expected a value, got a list");
	expect_at(PROFILE "modbus:\n  port: fast\n",
	    "fast", "modbus.port: expected an integer, got \"fast\"");
	expect_at(PROFILE "modbus: 5\n",
	    "5\n", "modbus: expected a mapping, got a scalar");
	expect_at(PROFILE "redis:\n  enabled: maybe\n",
	    "maybe", "redis.enabled: expected true or false");
	expect_at(PROFILE "modbus:\n  interval: 5\n",
	    "5\n", "modbus.interval: a duration needs a unit");
}

Test(config, out_of_range)
{
	expect_at(PROFILE "modbus:\n  port: 70000\n",
	    "70000", "modbus.port: 70000 is out of range [1, 65535]");
	expect_at(PROFILE "modbus:\n  max_registers: 126\n",
	    "126", "modbus.max_registers: 126 is out of range [1, 125]");
	expect_at(PROFILE "daemon:\n  shards: 0\n",
	    "0\n", "daemon.shards: 0 is out of range [1, 64]");
	expect_at(PROFILE "modbus:\n  timeout: 2m\n",
	    "2m", "modbus.timeout: 2m is out of range");
}

Test(config, duplicate_key)
{
	/* moved from duplicate_ids; the ids are test_cfgfleet.c's */
	expect_at(PROFILE "modbus:\n  port: 1\n  port: 2\n",
	    "port: 2", "modbus.port: duplicate key (first at line 8)");
}

Test(config, every_error_is_reported)
{
	struct config *cfg = load(PROFILE
	    "modbus:\n  port: 0\n  unit: 999\n  timout: 1s\n"
	    "sites:\n  - {id: S1, area: a, region: Q}\n"
	    "devices:\n  - {id: d, site: S2, profile: nope, host: h}\n");

	cr_assert_null(cfg);
	cr_assert_eq(errs.n, 6, "got %zu errors", errs.n);
}

Test(config, kafka_properties)
{
	struct config *cfg = load(PROFILE "kafka:\n  properties:\n    linger.ms: 5\n");

	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(cfg->kafka.nproperties, 1);
	cr_assert_str_eq(cfg->kafka.properties[0].value, "5");
	config_free(cfg);
	expect_at(PROFILE "kafka:\n  properties:\n    acks: \"1\"\n",
	    "acks", "kafka.properties.acks: set by tocsin");
}

Test(config, yaml_syntax_error)
{
	/* libyaml reports where it gave up: the end of the input */
	expect_error("modbus:\n  port: [1, 2\n", "t.yaml:3:1: yaml: did not find "
	    "expected ',' or ']'");
}

Test(config, unreadable_file)
{
	struct config *cfg;

	reset();
	cfg = config_load("/nonexistent/tocsin.yaml", &errs);
	cr_assert_null(cfg);
	cr_assert_eq(errs.n, 1);
	cr_assert(strstr(errs.msg[0], "/nonexistent/tocsin.yaml: cannot read: "
	    "No such file or directory"), "%s", errs.msg[0]);
}

Test(config, counts_take_suffixes)
{
	struct config *cfg = load(PROFILE "kafka:\n  queue_max: 250k\n"
	    "redis:\n  stream_maxlen: 1M\n");

	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(cfg->kafka.queue_max, 250000);
	cr_assert_eq(cfg->redis.stream_maxlen, 1000000);
	cr_assert_eq(cfg->redis.queue_max, 100000);
	config_free(cfg);
	expect_at(PROFILE "kafka:\n  queue_max: 1G\n",
	    "1G", "kafka.queue_max: 1G is out of range [16, 100000000]");
	expect_at(PROFILE "kafka:\n  queue_max: lots\n",
	    "lots", "kafka.queue_max: expected a size such as 1000, 64k or 16MiB");
}

Test(config, modbus_section_reaches_the_client)
{
	struct config *cfg = load(PROFILE "modbus:\n  port: 1502\n  timeout: 800ms\n"
	    "  connect_timeout: 2s\n  stall_timeouts: 5\n  frames_per_wakeup: 8\n"
	    "  connect_burst_per_host: 2\n  max_gap: 0\n  timer_slack: 2ms\n");
	struct mb_config mc;

	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(poller_mb_config(&cfg->modbus, &mc), 0);
	cr_assert_eq(mc.port, 1502);
	cr_assert_eq(mc.timeout_ms, 800);
	cr_assert_eq(mc.connect_timeout_ms, 2000);
	cr_assert_eq(mc.stall_timeouts, 5);
	cr_assert_eq(mc.max_frames_per_wakeup, 8);
	cr_assert_eq(mc.host_connect_burst, 2);
	cr_assert_eq(mc.max_gap, 0);
	cr_assert_eq(mc.timer_slack_ms, 2);
	cr_assert_eq(mc.allow_writes, 0, "no write unless an operator configures one");
	config_free(cfg);
}

Test(config, sla_errors)
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

Test(config, sla_calendar_parsed)
{
	struct config *cfg = load(PROFILE "sla:\n  calendars:\n"
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

	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(cfg->sla.ncalendars, 3);	/* 24x7, workday, w */
	c = &cfg->sla.calendars[2];
	cr_assert_str_eq(c->name, "w");
	cr_assert_eq(c->utc_offset_min, 480);
	cr_assert_eq(c->weekdays, (1 << CAL_MON) | (1 << CAL_FRI));
	cr_assert_eq(c->nperiods, 1);
	cr_assert_eq(c->periods[0].start_min, 540);
	cr_assert_eq(c->periods[0].end_min, 1080);
	/* the most specific row wins */
	cr_assert_eq(cfg->sla.dur[SLA_ACK][TIER_STANDARD][SEV_MAJOR][REGION_C].ms, 3600000);
	cr_assert_eq(cfg->sla.dur[SLA_ACK][TIER_PREMIUM][SEV_MAJOR][REGION_A].ms, 60000);
	cr_assert_eq(cfg->sla.dur[SLA_ACK][TIER_PREMIUM][SEV_MAJOR][REGION_C].ms, 120000);
	cr_assert_eq(cfg->sla.complex_resolve[TIER_PREMIUM][SEV_MINOR][REGION_B].calendar, 2);
	cr_assert_eq(c->nholidays, 2);
	cr_assert_eq(c->holidays[0], 20727);	/* 2026-10-01 */
	cr_assert_eq(c->holidays[1], 20728);
	config_free(cfg);
}

Test(config, correlation_rules)
{
	struct config *cfg = load(PROFILE "  fsu:\n    gateway: true\n"
	    "    points: [{name: d, address: 10001}]\n"
	    "    alarms: [{code: DOOR_OPEN, point: d, condition: equals, threshold: 1}]\n"
	    "correlation:\n"
	    "  rules:\n"
	    "    - {root: MAINS_FAIL, explains: [DOOR_OPEN], window: 1h, before: 1m}\n"
	    "    - {root: COMM_LOSS, explains: [COMM_LOSS], scope: gateway}\n"
	    "  storm: {code: MAINS_FAIL, sites: 3, window: 5m}\n"
	    "  flapping: {cycles: 5}\n"
	    "  chronic: {count: 4, period: 30d}\n"
	    "  reopen_hold: 10m\n"
	    "  auto_resolve: true\n"
	    "  id_prefix: SH-\n");
	const struct corr_config *cc;

	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	cc = &cfg->correlation;
	cr_assert_eq(cc->nrules, 2);
	cr_assert_str_eq(cc->rules[0].children[0], "DOOR_OPEN");
	cr_assert_eq(cc->rules[0].window_ms, 3600000);
	cr_assert_eq(cc->rules[0].before_ms, 60000);
	cr_assert_eq(cc->rules[1].scope, CORR_SCOPE_GATEWAY);
	cr_assert_eq(cc->storm_sites, 3);
	cr_assert_eq(cc->storm_window_ms, 300000);
	cr_assert_eq(cc->flap_cycles, 5);
	cr_assert_eq(cc->flap_window_ms, 3600000, "unset keeps the default");
	cr_assert_eq(cc->chronic_count, 4);
	cr_assert_eq(cc->chronic_period_ms, 30LL * 86400000);
	cr_assert_eq(cc->reopen_hold_ms, 600000);
	cr_assert_eq(cc->auto_resolve, 1);
	cr_assert_str_eq(cc->id_prefix, "SH-");
	config_free(cfg);
	expect_at(PROFILE "correlation:\n  flapping: {cycles: 99}\n",
	    "99", "correlation.flapping.cycles: 99 is out of range [2, 32]");
	expect_at(PROFILE "correlation:\n  storm: {code: MAINS_FAILURE}\n",
	    "MAINS_FAILURE", "correlation.storm.code: alarm code MAINS_FAILURE "
	    "is raised by no profile");
}

Test(config, unknown_code)
{
	/* moved from dangling_references; the rest is test_cfgfleet.c's */
	expect_at(PROFILE "correlation:\n  rules:\n"
	    "    - {root: MAINS_FAIL, explains: [BATT_LOW]}\n",
	    "BATT_LOW]", "correlation.rules[0].explains[0]: alarm code "
	    "BATT_LOW is raised by no profile");
}
