/*
 * test_config.c - the configuration loader: value parsers, every error class
 * with its FILE:LINE:COLUMN, defaults, the premium rule and the inventory.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

Test(config, modicon_edges)
{
	static const struct {
		const char *s;
		int ok;
		enum mb_table t;
		unsigned a;
	} cases[] = {
		{ "0", 0, 0, 0 }, { "1", 1, MB_COIL, 0 },
		{ "00001", 1, MB_COIL, 0 }, { "9999", 1, MB_COIL, 9998 },
		{ "10000", 0, 0, 0 }, { "10001", 1, MB_DISCRETE, 0 },
		{ "19999", 1, MB_DISCRETE, 9998 }, { "20001", 0, 0, 0 },
		{ "30001", 1, MB_INPUT, 0 }, { "40001", 1, MB_HOLDING, 0 },
		{ "49999", 1, MB_HOLDING, 9998 }, { "400000", 0, 0, 0 },
		{ "400001", 1, MB_HOLDING, 0 }, { "465536", 1, MB_HOLDING, 65535 },
		{ "465537", 0, 0, 0 }, { "000001", 1, MB_COIL, 0 },
		{ "065536", 1, MB_COIL, 65535 }, { "300001", 1, MB_INPUT, 0 },
		{ "4000001", 0, 0, 0 }, { "4x001", 0, 0, 0 }, { "", 0, 0, 0 },
		{ "-40001", 0, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum mb_table t = MB__COUNT;
		uint16_t a = 0;
		const char *why = NULL;
		int r = config_parse_modicon(cases[i].s, &t, &a, &why);

		cr_assert_eq(r == 0, cases[i].ok, "%s", cases[i].s);
		if (cases[i].ok) {
			cr_assert_eq(t, cases[i].t, "%s", cases[i].s);
			cr_assert_eq(a, cases[i].a, "%s", cases[i].s);
		} else
			cr_assert_not_null(why);
	}
}

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

Test(config, premium_rule)
{
	struct config *cfg = load(PROFILE
	    "sites:\n"
	    "  - {id: S1, area: a, region: A, tenants: [{customer: cm, tier: standard},"
	    " {customer: cu, tier: premium}, {customer: ct}]}\n"
	    "  - {id: S2, area: a, region: B, tenants: [{customer: cm}, {customer: cu}]}\n"
	    "  - {id: S3, area: b, region: C}\n");

	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(cfg->fleet->nsites, 3);
	cr_assert_eq(cfg->fleet->sites[0].tier, TIER_PREMIUM);
	cr_assert_eq(cfg->fleet->sites[0].ntenants, 3);
	cr_assert_eq(cfg->fleet->sites[0].tenants[2].tier, TIER_STANDARD);
	cr_assert_eq(cfg->fleet->sites[1].tier, TIER_STANDARD);
	cr_assert_eq(cfg->fleet->sites[2].tier, TIER_STANDARD);
	cr_assert_eq(cfg->fleet->sites[2].region, REGION_C);
	cr_assert_eq(cfg->fleet->nareas, 2);
	config_free(cfg);
}

Test(config, point_forms)
{
	struct config *cfg = load(
	    "profiles:\n"
	    "  p:\n"
	    "    points:\n"
	    "      - {name: a, address: 40001}\n"
	    "      - {name: b, holding: 1, type: float32, order: CDAB}\n"
	    "      - {name: c, table: input, address: 0, type: int16}\n"
	    "      - {name: d, address: 465535, type: uint16}\n"
	    "      - {name: e, address: 00001}\n"
	    "      - {name: f, holding: 10, type: bool, bit: 3}\n"
	    "      - {name: g, holding: 10, type: bool, bit: 4}\n");
	const struct fleet_profile *p;

	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	p = &cfg->fleet->profiles[0];
	cr_assert_eq(p->npoints, 7);
	cr_assert_eq(p->points[0].table, MB_HOLDING);
	cr_assert_eq(p->points[0].address, 0);
	cr_assert_eq(p->points[0].type, PT_UINT16);
	cr_assert_eq(p->points[1].address, 1);
	cr_assert_eq(p->points[1].order, PT_CDAB);
	cr_assert_eq(p->points[2].table, MB_INPUT);
	cr_assert_eq(p->points[3].address, 65534);
	cr_assert_eq(p->points[4].table, MB_COIL);
	cr_assert_eq(p->points[4].type, PT_BOOL);
	cr_assert_eq(p->points[5].bit, 3);
	config_free(cfg);
}

Test(config, point_poll_class)
{
	struct config *cfg = load(
	    "profiles:\n"
	    "  p:\n"
	    "    points:\n"
	    "      - {name: v, input: 0}\n"
	    "      - {name: setpoint, holding: 0, interval: 1h}\n"
	    "      - {name: relay, coil: 0, interval: 10s}\n");

	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(cfg->fleet->profiles[0].points[0].interval_ms, 0);
	cr_assert_eq(cfg->fleet->profiles[0].points[1].interval_ms, 3600000);
	cr_assert_eq(cfg->fleet->profiles[0].points[2].interval_ms, 10000);
	config_free(cfg);
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: v, input: 0, interval: 50ms}\n",
	    "50ms", "profiles.p.points[0].interval: 50ms is out of range");
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: v, input: 0, interval: often}\n",
	    "often", "profiles.p.points[0].interval: expected a duration");
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

Test(config, enum_values)
{
	expect_at(PROFILE "sites:\n  - {id: S1, area: a, region: D}\n",
	    "D}", "sites[0].region: unknown value \"D\" (one of: A, B, C)");
	expect_at(PROFILE "sites:\n  - {id: S1, area: a, region: A, "
	    "tenants: [{customer: x, tier: premum}]}\n",
	    "premum", "sites[0].tenants[0].tier: unknown value \"premum\" "
	    "(did you mean \"premium\"?)");
}

Test(config, duplicate_ids)
{
	expect_at(PROFILE "sites:\n  - {id: S1, area: a, region: A}\n"
	    "  - {id: S1, area: b, region: B}\n",
	    "S1, area: b", "sites[1].id: duplicate site id \"S1\"");
	expect_at(PROFILE "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n  - {id: d, site: S1, profile: rect, host: 127.0.0.1}\n"
	    "  - {id: d, site: S1, profile: rect, host: 127.0.0.2}\n",
	    "{id: d, site: S1, profile: rect, host: 127.0.0.2", "devices[1]: duplicate device id \"d\"");
	expect_at(PROFILE "  rect:\n    points: [{name: x, address: 1}]\n",
	    "rect:\n    points: [", "profiles.rect: duplicate profile id \"rect\"");
	expect_at(PROFILE "modbus:\n  port: 1\n  port: 2\n",
	    "port: 2", "modbus.port: duplicate key (first at line 8)");
}

Test(config, dangling_references)
{
	expect_at(PROFILE "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n  - {id: d, site: S9, profile: rect, host: 127.0.0.1}\n",
	    "S9", "devices[0].site: device d names unknown site \"S9\"");
	expect_at(PROFILE "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n  - {id: d, site: S1, profile: rectt, host: 127.0.0.1}\n",
	    "rectt", "devices[0].profile: device d names unknown profile "
	    "\"rectt\" (did you mean \"rect\"?)");
	expect_at(PROFILE "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n  - {id: d, site: S1, profile: rect, via: gw}\n",
	    "gw}", "devices[0].via: device d is reached via unknown device");
	expect_at(PROFILE "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n  - {id: g, site: S1, profile: rect, host: 127.0.0.1}\n"
	    "  - {id: d, site: S1, profile: rect, via: g}\n",
	    "g}", "devices[1].via: device d is reached via g, whose "
	    "profile rect is not a gateway");
	expect_at(PROFILE "correlation:\n  rules:\n"
	    "    - {root: MAINS_FAIL, explains: [BATT_LOW]}\n",
	    "BATT_LOW]", "correlation.rules[0].explains[0]: alarm code "
	    "BATT_LOW is raised by no profile");
}

Test(config, gateway_gives_host)
{
	struct config *cfg = load(
	    "profiles:\n"
	    "  fsu: {gateway: true, points: [{name: door, address: 10001}]}\n"
	    "  rect: {points: [{name: v, address: 30001}]}\n"
	    "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n"
	    "  - {id: d, site: S1, profile: rect, via: g, unit: 2}\n"
	    "  - {id: g, site: S1, profile: fsu, host: 127.0.0.9, port: 1502}\n");

	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_str_eq(cfg->fleet->devices[0].host, "127.0.0.9");
	cr_assert_eq(cfg->fleet->devices[0].port, 1502);
	cr_assert_eq(cfg->fleet->devices[0].unit, 2);
	cr_assert_eq(cfg->fleet->devices[0].via, 1);
	cr_assert_eq(cfg->fleet->devices[1].unit, -1, "unset unit is not the default");
	config_free(cfg);
}

Test(config, address_outside_table)
{
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: f, holding: 65535, type: float32}\n",
	    "65535", "profiles.p.points[0].holding: a float32 at holding "
	    "address 65535 runs past the end of the table");
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: f, address: 465536, type: uint32}\n",
	    "465536", "profiles.p.points[0].address: a uint32 at holding "
	    "address 65535 runs past");
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: f, address: 465537}\n",
	    "465537", "profiles.p.points[0].address: six-digit Modicon "
	    "address out of range");
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: f, table: holding, address: 65536}\n",
	    "65536", "profiles.p.points[0].address: expected an offset 0-65535");
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: f, address: 00001, type: uint16}\n",
	    "uint16}", "profiles.p.points[0].type: a coil holds single bits");
}

Test(config, overlapping_points)
{
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: a, address: 40001, type: float32}\n"
	    "      - {name: b, address: 40002}\n",
	    "{name: b", "profiles.p.points[1]: point \"b\" (holding 1-1) overlaps "
	    "point \"a\" (holding 0-1)");
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: a, holding: 5, type: bool, bit: 1}\n"
	    "      - {name: b, holding: 5, type: bool, bit: 1}\n",
	    "{name: b", "profiles.p.points[1]: point \"b\" (holding 5-5) overlaps");
}

Test(config, alarm_rules)
{
	expect_at("profiles:\n  p:\n    points: [{name: t, address: 30001}]\n"
	    "    alarms:\n      - {code: HIGH_TEMP, point: t, condition: above, "
	    "threshold: 35, clear: 40}\n",
	    "40}", "profiles.p.alarms[0].clear: clear 40 must not be above");
	expect_at("profiles:\n  p:\n    points: [{name: t, address: 30001}]\n"
	    "    alarms:\n      - {code: high_temp, point: t, condition: above, "
	    "threshold: 35}\n",
	    "high_temp", "profiles.p.alarms[0].code: alarm codes are upper case");
	expect_at("profiles:\n  p:\n    points: [{name: t, address: 30001}]\n"
	    "    alarms:\n      - {code: X, point: t, condition: bit_set}\n",
	    "{code: X", "profiles.p.alarms[0]: condition bit_set needs bit");
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

static char tmpdir[64];

static void
write_file(const char *name, const char *text)
{
	char p[128];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static struct config *
load_dir(const char *yaml)
{
	char p[128];

	write_file("c.yaml", yaml);
	snprintf(p, sizeof(p), "%s/c.yaml", tmpdir);
	reset();
	return config_load(p, &errs);
}

static void
mk_tmp(void)
{
	strcpy(tmpdir, "/tmp/tocsin-cfgtest-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void
rm_tmp(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", tmpdir);
	reset();
}

#define INVENTORY_CFG \
	"profiles:\n" \
	"  fsu: {gateway: true, points: [{name: door, address: 10001}]}\n" \
	"  rect: {points: [{name: v, address: 30001}]}\n" \
	"sites:\n  - {id: S1, area: a, region: A}\n" \
	"devices:\n  - inventory: inv.csv\n"

Test(config, inventory_csv, .init = mk_tmp, .fini = rm_tmp)
{
	struct config *cfg;

	write_file("inv.csv", "id,site,profile,host,port,unit,via\n"
	    "# gateway first\n"
	    "g1,S1,fsu,127.0.0.5,1502,1,\n"
	    "d1,S1,rect,,,2,g1\n"
	    "d2,S1,rect,127.0.0.6,,,\n");
	cfg = load_dir(INVENTORY_CFG);
	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(cfg->fleet->ndevices, 3);
	cr_assert_str_eq(cfg->fleet->devices[1].host, "127.0.0.5");
	cr_assert_eq(cfg->fleet->devices[1].unit, 2);
	cr_assert_eq(cfg->fleet->devices[2].port, 0);
	cr_assert_eq(cfg->fleet->devices[2].unit, -1);
	config_free(cfg);
}

Test(config, inventory_errors, .init = mk_tmp, .fini = rm_tmp)
{
	char want[256];
	int found = 0;

	write_file("inv.csv", "id,site,profile,host,port,unit,via\n"
	    "g1,S1,fsu,127.0.0.5,1502,1\n"
	    "d1,S9,rect,,,2,g1\n"
	    "d2,S1,rect,127.0.0.6,99999,,\n");
	cr_assert_null(load_dir(INVENTORY_CFG));
	cr_assert_eq(errs.n, 4, "got %zu errors", errs.n);
	snprintf(want, sizeof(want), "%s/inv.csv:2:1: devices[0].inventory: "
	    "inventory row has 6 columns, expected 7", tmpdir);
	for (size_t i = 0; i < errs.n; i++)
		found += strncmp(errs.msg[i], want, strlen(want)) == 0;
	snprintf(want, sizeof(want), "%s/inv.csv:3:4: devices[0].inventory.site: "
	    "device d1 names unknown site \"S9\"", tmpdir);
	for (size_t i = 0; i < errs.n; i++)
		found += strncmp(errs.msg[i], want, strlen(want)) == 0;
	snprintf(want, sizeof(want), "%s/inv.csv:4:22: devices[0].inventory: "
	    "port must be 1-65535", tmpdir);
	for (size_t i = 0; i < errs.n; i++)
		found += strncmp(errs.msg[i], want, strlen(want)) == 0;
	for (size_t i = 0; i < errs.n; i++)
		cr_log_info("%s", errs.msg[i]);
	cr_assert_eq(found, 3);
}

Test(config, inventory_unreadable, .init = mk_tmp, .fini = rm_tmp)
{
	cr_assert_null(load_dir(INVENTORY_CFG));
	cr_assert_eq(errs.n, 1);
	/* line 7, column 16: the value of "  - inventory: inv.csv" */
	cr_assert(strstr(errs.msg[0], "c.yaml:7:16: devices[0].inventory: cannot "
	    "read inventory"), "%s", errs.msg[0]);
}

Test(config, gateway_chains_rejected)
{
	struct config *cfg = load(
	    "profiles:\n"
	    "  fsu: {gateway: true, points: [{name: door, address: 10001}]}\n"
	    "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n"
	    "  - {id: g2, site: S1, profile: fsu, via: g1}\n"
	    "  - {id: g1, site: S1, profile: fsu, via: g0}\n"
	    "  - {id: g0, site: S1, profile: fsu, host: 127.0.0.1}\n"
	    "  - {id: me, site: S1, profile: fsu, via: me}\n");
	int chain = 0, self = 0;

	cr_assert_null(cfg);
	for (size_t i = 0; i < errs.n; i++) {
		chain += strstr(errs.msg[i], "t.yaml:6:43: devices[0].via: device g2 "
		    "is reached via g1, which is itself behind a gateway") != NULL;
		self += strstr(errs.msg[i], "t.yaml:9:43: devices[3].via: device me "
		    "is reached via itself") != NULL;
	}
	cr_assert_eq(chain, 1);
	cr_assert_eq(self, 1);
}

Test(config, same_address_twice)
{
	expect_error(PROFILE "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n"
	    "  - {id: a, site: S1, profile: rect, host: 127.0.0.1}\n"
	    "  - {id: b, site: S1, profile: rect, host: 127.0.0.1, port: 502, unit: 1}\n"
	    "  - {id: c, site: S1, profile: rect, host: 127.0.0.1, unit: 2}\n",
	    "t.yaml: devices: devices a and b have the same address 127.0.0.1:502 unit 1");
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
