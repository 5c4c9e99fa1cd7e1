/*
 * test_config.c - the configuration as a whole, through config.h: defaults
 * of every section, the flat sections (daemon, modbus, kafka, redis, http),
 * the key engine's messages as a user meets them, the order errors come in
 * across sections, the checks across sections, files that cannot be read,
 * and the public value parsers.  Each section's own rules are tested with
 * its module: test_cfgkey.c, test_cfgfleet.c, test_cfgcsv.c, test_cfgcorr.c
 * and test_cfgsla.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/config.h"
#include "tests/support/cfgfix.h"
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

TestSuite(config, .fini = reset);

Test(config, defaults_when_unset)
{
	struct config *cfg = load(PROFILE);

	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(cfg->modbus.client.port, 502);
	cr_assert_eq(cfg->modbus.client.unit, 1);
	cr_assert_eq(cfg->modbus.client.timeout_ms, 1000);
	cr_assert_eq(cfg->modbus.client.inflight, 1);
	cr_assert_eq(cfg->modbus.client.max_registers, 125);
	cr_assert_eq(cfg->daemon.shards, 2);
	cr_assert_str_eq(cfg->http.server.listen, HTTP_DEFAULT_LISTEN);
	cr_assert_eq(cfg->http.enabled, 1);
	cr_assert_eq(cfg->http.server.max_body, 64u << 10);
	cr_assert_null(cfg->http.server.token_file);
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
	/* the clients take them from the driver's config, the one list */
	cr_assert_eq(cfg->kafka.client.nprops, 1);
	cr_assert_str_eq(cfg->kafka.client.props[0].value, "5");
	cr_assert_str_eq(cfg->kafka.client.props[0].key, "linger.ms");
	config_free(cfg);
	expect_at(PROFILE "kafka:\n  properties:\n    acks: \"1\"\n",
	    "acks", "kafka.properties.acks: set by tocsin");
	{
		/* one more than a client takes: refused where it is */
		char yaml[8192];
		size_t o = (size_t)snprintf(yaml, sizeof(yaml), "%s",
		    PROFILE "kafka:\n  properties:\n");

		for (int i = 0; i <= KAFKA_MAX_PROPS; i++)
			o += (size_t)snprintf(yaml + o, sizeof(yaml) - o,
			    "    x.p%d: \"1\"\n", i);
		cr_assert_null(load(yaml));
		cr_assert_eq(errs.n, 1);
		cr_assert_not_null(strstr(errs.msg[0], "over 64 properties"),
		    "%s", errs.msg[0]);
	}
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
	struct config *cfg = load(PROFILE "redis:\n  stream_maxlen: 1M\n");

	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(cfg->redis.client.stream_maxlen, 1000000);
	config_free(cfg);
	cfg = load(PROFILE "redis:\n  stream_maxlen: 250k\n");
	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(cfg->redis.client.stream_maxlen, 250000);
	config_free(cfg);
	expect_at(PROFILE "redis:\n  stream_maxlen: 1G\n",
	    "1G", "redis.stream_maxlen: 1G is out of range [100, 100000000]");
	expect_at(PROFILE "redis:\n  stream_maxlen: lots\n",
	    "lots", "redis.stream_maxlen: expected a size such as 1000, 64k or 16MiB");
}

/* The http section: the server's table, listen's form, enabled. */
Test(config, http_section)
{
	struct config *cfg = load(PROFILE "http:\n  listen: \"[::1]:0\"\n"
	    "  max_body: 1MiB\n  max_connections: 8\n  idle_timeout: 5s\n"
	    "  max_sink_lag: 16MiB\n  token_file: /etc/tocsin/token\n");

	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_str_eq(cfg->http.server.listen, "[::1]:0");
	cr_assert_eq(cfg->http.server.max_body, 1u << 20);
	cr_assert_eq(cfg->http.server.max_connections, 8);
	cr_assert_eq(cfg->http.server.idle_timeout_ms, 5000);
	cr_assert_eq(cfg->http.server.max_sink_lag, 16u << 20);
	cr_assert_str_eq(cfg->http.server.token_file, "/etc/tocsin/token");
	config_free(cfg);
	cfg = load(PROFILE "http: {enabled: false, listen: \"\"}\n");
	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(cfg->http.enabled, 0);
	config_free(cfg);
	expect_at(PROFILE "http:\n  max_body: 1G\n", "1G",
	    "http.max_body: 1G is out of range [64, 16777216]");
	expect_error(PROFILE "http:\n  listen: \"127.0.0.1\"\n",
	    "t.yaml: http.listen: \"127.0.0.1\": want HOST:PORT (IPv6 as "
	    "[ADDRESS]:PORT)");
	expect_error(PROFILE "http:\n  listen: \"127.0.0.1:99999\"\n",
	    "t.yaml: http.listen: \"127.0.0.1:99999\": the port must be a "
	    "number 0-65535 (0: any free port)");
}

Test(config, modbus_section_reaches_the_client)
{
	struct config *cfg = load(PROFILE "modbus:\n  port: 1502\n  timeout: 800ms\n"
	    "  connect_timeout: 2s\n  stall_timeouts: 5\n  frames_per_wakeup: 8\n"
	    "  connect_burst_per_host: 2\n  max_gap: 0\n  timer_slack: 2ms\n");
	struct poller_config pc;
	struct mbclient_config *mc = &pc.mb;

	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(poller_config_from(&cfg->modbus, &pc), 0);
	cr_assert_eq(mc->port, 1502);
	cr_assert_eq(mc->timeout_ms, 800);
	cr_assert_eq(mc->connect_timeout_ms, 2000);
	cr_assert_eq(mc->stall_timeouts, 5);
	cr_assert_eq(mc->frames_per_wakeup, 8);
	cr_assert_eq(mc->connect_burst_per_host, 2);
	cr_assert_eq(mc->max_gap, 0);
	cr_assert_eq(mc->timer_slack_ms, 2);
	cr_assert_eq(mc->allow_writes, 0, "no write unless an operator configures one");
	config_free(cfg);
}

/* The section's keys are the client's table plus comm_loss_misses. */
Test(config, modbus_keys_come_from_the_client_table)
{
	struct config *cfg = load(PROFILE);
	struct mbclient_config def;
	size_t n = 0;

	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	mbclient_config_defaults(&def);
	for (size_t i = 0; mbclient_settings[i].key != NULL; i++, n++)
		cr_assert_eq(config_modbus_key(i), &mbclient_settings[i]);
	cr_assert_str_eq(config_modbus_key(n)->key, "comm_loss_misses");
	cr_assert_null(config_modbus_key(n + 1));
	cr_assert_null(config_modbus_key(n + 100));
	cr_assert_eq(memcmp(&cfg->modbus.client, &def, sizeof(def)), 0,
	    "an empty section is the client's defaults, field for field");
	cr_assert_eq(cfg->modbus.comm_loss_misses, ALMRULE_COMM_LOSS_MISSES);
	config_free(cfg);

	cfg = load(PROFILE "modbus:\n  timer_slack: 0\n  backoff_max: 1d\n"
	    "  comm_loss_misses: 1000\n  connect_rate: 1000000\n");
	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(cfg->modbus.client.timer_slack_ms, 0);
	cr_assert_eq(cfg->modbus.client.backoff_max_ms, 86400000);
	cr_assert_eq(cfg->modbus.comm_loss_misses, 1000);
	cr_assert_eq(cfg->modbus.client.connect_rate, 1000000);
	config_free(cfg);

	/* the messages of every other section, from the same engine */
	expect_at(PROFILE "modbus:\n  comm_loss_misses: 0\n", "0\n",
	    "modbus.comm_loss_misses: 0 is out of range [1, 1000]");
	expect_at(PROFILE "modbus:\n  comm_los_misses: 2\n", "comm_los",
	    "modbus.comm_los_misses: unknown key (did you mean "
	    "\"comm_loss_misses\"?)");
	expect_at(PROFILE "modbus:\n  timeout: 2m\n", "2m",
	    "modbus.timeout: 2m is out of range [0.01s, 60s]");
	expect_at(PROFILE "modbus:\n  timer_slack: 101ms\n", "101ms",
	    "modbus.timer_slack: 101ms is out of range [0s, 0.1s]");
	expect_at(PROFILE "modbus:\n  backoff_max: 2d\n", "2d",
	    "modbus.backoff_max: 2d is out of range [0.01s, 86400s]");
	/* the client's fields that are not YAML keys stay that way */
	expect_at(PROFILE "modbus:\n  connect_burst: 5\n", "connect_burst:",
	    "modbus.connect_burst: unknown key");
	expect_at(PROFILE "modbus:\n  seed: 5\n", "seed",
	    "modbus.seed: unknown key");
}

struct problems {
	char		 msg[8][128];
	size_t		 n;
};

static void
collect(void *arg, const char *key, const char *why)
{
	struct problems *p = arg;

	if (p->n < 8)
		snprintf(p->msg[p->n++], sizeof(p->msg[0]), "%s: %s", key, why);
}

/* A section built by hand meets the loader's rules in one check. */
Test(config, modbus_check_reports_every_problem)
{
	struct cfg_modbus m;
	struct problems p = { .n = 0 };

	mbclient_config_defaults(&m.client);
	m.comm_loss_misses = ALMRULE_COMM_LOSS_MISSES;
	cr_assert_eq(config_modbus_check(&m, collect, &p), 0);
	cr_assert_eq(p.n, 0);
	m.client.port = 0;
	m.client.timeout_ms = 60001;
	m.client.backoff_min_ms = 120000;
	m.client.backoff_max_ms = 60000;
	m.comm_loss_misses = 0;
	cr_assert_eq(config_modbus_check(&m, collect, &p), -EINVAL);
	cr_assert_eq(p.n, 5);
	cr_assert_str_eq(p.msg[0], "modbus.port: 0 is out of range [1, 65535]");
	cr_assert_str_eq(p.msg[1], "modbus.timeout: 60001ms is out of range "
	    "[10ms, 60000ms]");
	cr_assert_str_eq(p.msg[2], "modbus.backoff_min: above "
	    "modbus.backoff_max");
	cr_assert_str_eq(p.msg[3], "modbus.timeout: longer than "
	    "modbus.interval: a poll would overlap the next one");
	cr_assert_str_eq(p.msg[4], "modbus.comm_loss_misses: 0 is out of "
	    "range [1, 1000]");
	cr_assert_eq(config_modbus_check(&m, NULL, NULL), -EINVAL,
	    "no report: the result alone");
	/* the client's own check, as another caller spells its keys */
	p.n = 0;
	cr_assert_eq(mbclient_config_check(&m.client, "", collect, &p),
	    -EINVAL);
	cr_assert_eq(p.n, 4);
	cr_assert_str_eq(p.msg[2], "backoff_min: above backoff_max");
}

/* ------------------------------------------------------------------ */
/* The whole file across the modules */

Test(config, public_value_parsers)
{
	int64_t ms;
	uint64_t b;
	enum mbmap_table t;
	uint16_t a;
	const char *why = NULL;

	/* config.h's names for the parsers cfgkey and cfgfleet own */
	cr_assert_eq(config_parse_duration("1h30m", &ms, &why), 0);
	cr_assert_eq(ms, 5400000);
	cr_assert_eq(config_parse_duration("90", &ms, &why), -EINVAL);
	cr_assert_not_null(why);
	cr_assert_eq(config_parse_size("16MiB", &b, &why), 0);
	cr_assert_eq(b, 16u << 20);
	cr_assert_eq(config_parse_size("16q", &b, &why), -EINVAL);
	cr_assert_eq(config_parse_modicon("40010", &t, &a, &why), 0);
	cr_assert_eq(t, MBMAP_HOLDING);
	cr_assert_eq(a, 9);
	cr_assert_eq(config_parse_modicon("20001", &t, &a, &why), -EINVAL);
}

/*
 * The order errors come in is part of what `tocsind -n` prints: the
 * top-level keys in file order, then profiles, sites, devices, correlation
 * and sla whatever their order in the file, then the names that had to
 * wait.  (Taken from the loader before it was split into modules.)
 */
Test(config, errors_in_walk_order)
{
	static const char *const want[] = {
		"t.yaml:7:9: modbus.port: 0 is out of range [1, 65535]",
		"t.yaml:18:1: colour: unknown key",
		"t.yaml:16:40: profiles.rect.alarms[0].point: profile rect has no "
		    "point \"w\"",
		"t.yaml:5:20: devices[1].site: device d2 names unknown site \"S9\"",
		"t.yaml:2:19: sla.warnings[1]: warning fractions must be ascending",
		"t.yaml:4:44: devices[0].via: device d1 is reached via unknown "
		    "device \"gw\"",
		"t.yaml:10:14: correlation.rules[0].root: alarm code MAINS_FAIL is "
		    "raised by no profile",
		"t.yaml:10:37: correlation.rules[0].explains[0]: alarm code NOPE is "
		    "raised by no profile",
	};
	struct config *cfg = load(
	    "sla:\n  warnings: [0.9, 0.5]\n"
	    "devices:\n"
	    "  - {id: d1, site: S1, profile: rect, via: gw}\n"
	    "  - {id: d2, site: S9, profile: rect, host: h}\n"
	    "modbus:\n  port: 0\n"
	    "correlation:\n  rules:\n"
	    "    - {root: MAINS_FAIL, explains: [NOPE]}\n"
	    "sites:\n  - {id: S1, area: a, region: A}\n"
	    "profiles:\n  rect:\n"
	    "    points: [{name: v, address: 30001}]\n"
	    "    alarms: [{code: MAINS_FAIL, point: w, condition: above, "
	    "threshold: 1}]\n"
	    "  fsu: {gateway: true, points: [{name: d, address: 10001}]}\n"
	    "colour: red\n");

	cr_assert_null(cfg);
	for (size_t i = 0; i < errs.n; i++)
		cr_log_info("got: %s", errs.msg[i]);
	cr_assert_eq(errs.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < errs.n; i++)
		cr_assert_str_eq(errs.msg[i], want[i]);
}

Test(config, cross_checks_after_a_clean_read)
{
	static const char *const want[] = {
		"t.yaml: devices: devices a and b have the same address h:502 unit 1",
		"t.yaml: modbus.backoff_min: above modbus.backoff_max",
		"t.yaml: modbus.timeout: longer than modbus.interval: a poll would "
		    "overlap the next one",
		"t.yaml: http.listen: listening on 0.0.0.0 beyond loopback "
		    "needs http.token_file",
	};
	const char *yaml = "profiles:\n  rect: {points: [{name: v, address: 30001}]}\n"
	    "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n  - {id: a, site: S1, profile: rect, host: h}\n"
	    "  - {id: b, site: S1, profile: rect, host: h}\n"
	    "modbus: {backoff_min: 2m, backoff_max: 1m, timeout: 10s, "
	    "interval: 5s}\n"
	    "http: {listen: \"0.0.0.0:8471\"}\n";
	char broken[1024];

	cr_assert_null(load(yaml));
	cr_assert_eq(errs.n, 4);
	for (size_t i = 0; i < errs.n; i++)
		cr_assert_str_eq(errs.msg[i], want[i]);
	/* another error first: the checks across sections keep quiet */
	snprintf(broken, sizeof(broken), "%sredis: {port: 0}\n", yaml);
	cr_assert_null(load(broken));
	cr_assert_eq(errs.n, 1, "%s", errs.msg[0]);
	cr_assert_str_eq(errs.msg[0], "t.yaml:10:15: redis.port: 0 is out of "
	    "range [1, 65535]");
	/* a token file makes any address acceptable */
	snprintf(broken, sizeof(broken), "%s", PROFILE
	    "http: {listen: \"0.0.0.0:8471\", token_file: /etc/tocsin/token}\n");
	config_free(load(broken));
	cr_assert_eq(errs.n, 0, "%s", errs.n ? errs.msg[0] : "");
}

Test(config, every_section_reaches_the_config)
{
	struct config *cfg = load(PROFILE
	    "daemon: {state_dir: /srv/tocsin, log_level: debug, shards: 4}\n"
	    "sites:\n  - {id: S1, area: a, region: C, tenants: [{customer: x, "
	    "tier: premium}]}\n"
	    "devices:\n  - {id: d, site: S1, profile: rect, host: 127.0.0.1}\n"
	    "correlation: {reopen_hold: 1m}\n"
	    "sla: {warnings: [0.7]}\n"
	    "output: {file: /tmp/events.jsonl, sync: true}\n");
	char census[256];

	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_str_eq(cfg->path, "t.yaml");
	cr_assert_str_eq(cfg->daemon.state_dir, "/srv/tocsin");
	cr_assert_eq(cfg->daemon.log_level, 0);
	cr_assert_eq(cfg->daemon.shards, 4);
	cr_assert_eq(cfg->fleet->ndevices, 1);
	cr_assert_eq(cfg->fleet->sites[0].tier, TIER_PREMIUM);
	cr_assert_eq(cfg->correlation.reopen_hold_ms, 60000);
	cr_assert_eq(cfg->correlation.sla, &cfg->sla,
	    "the incidents' clocks run on the sla section");
	cr_assert_eq(cfg->sla.nwarnings, 1);
	cr_assert_str_eq(cfg->output.file, "/tmp/events.jsonl");
	cr_assert_eq(cfg->output.sync, 1);
	cr_assert_str_eq(cfg->kafka.client.incidents, "tocsin.incidents");
	cr_assert_str_eq(cfg->kafka.client.history_group, "");
	cr_assert_str_eq(cfg->kafka.client.group, "tocsind");
	config_census(cfg, census, sizeof(census));
	cr_assert_str_eq(census, "1 sites, 1 areas, 1 devices, 1 profiles, "
	    "1 points, 1 alarm rules");
	config_free(cfg);
}

Test(config, empty_and_unreadable)
{
	struct config *cfg;

	expect_error("", "t.yaml: yaml: the file is empty");
	cr_assert_eq(errs.n, 1);
	expect_error("- a\n", "t.yaml:1:1: : expected a mapping, got a list");
	reset();
	cfg = config_load("/", &errs);
	cr_assert_null(cfg);
	cr_assert_eq(errs.n, 1);
	cr_assert_str_eq(errs.msg[0], "/: cannot read: Is a directory");
	config_free(NULL);
}

/* daemon.role: all by default, correlator and poller read, anything else
 * refused with where it is and what is accepted; a poller's share and
 * what it needs. */
Test(config, daemon_role)
{
	struct config *cfg = load(PROFILE "daemon: {role: correlator}\n"
	    "kafka: {changelog: c.log, correlator_group: g}\n");

	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(cfg->daemon.role, CFG_ROLE_CORRELATOR);
	cr_assert_str_eq(cfg->kafka.client.changelog, "c.log");
	cr_assert_str_eq(cfg->kafka.client.correlator_group, "g");
	config_free(cfg);
	cfg = load(PROFILE);
	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(cfg->daemon.role, CFG_ROLE_ALL);
	cr_assert_str_eq(cfg->kafka.client.changelog, "tocsin.changelog");
	cr_assert_str_eq(cfg->kafka.client.correlator_group,
	    "tocsin-correlators");
	config_free(cfg);
	cr_assert_null(load(PROFILE "daemon: {role: everything}\n"));
	cr_assert_eq(errs.n, 1);
	cr_assert_not_null(strstr(errs.msg[0], "daemon.role"), "%s",
	    errs.msg[0]);
	cr_assert_not_null(strstr(errs.msg[0], "all, correlator, poller"),
	    "%s", errs.msg[0]);
	/* a poller: its share, and the topic its transitions go to */
	cfg = load(PROFILE "daemon: {role: poller, poll_shares: 3, "
	    "poll_share: 2}\nkafka: {alarms: tocsin.alarms}\n");
	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(cfg->daemon.role, CFG_ROLE_POLLER);
	cr_assert_eq(cfg->daemon.poll_shares, 3);
	cr_assert_eq(cfg->daemon.poll_share, 2);
	config_free(cfg);
	cr_assert_null(load(PROFILE "daemon: {role: poller}\n"));
	cr_assert_eq(errs.n, 1);
	cr_assert_not_null(strstr(errs.msg[0], "kafka.alarms"), "%s",
	    errs.msg[0]);
	cr_assert_null(load(PROFILE "daemon: {role: poller, poll_shares: 2, "
	    "poll_share: 2}\nkafka: {alarms: a}\n"));
	cr_assert_eq(errs.n, 1);
	cr_assert_not_null(strstr(errs.msg[0], "daemon.poll_share: 2"), "%s",
	    errs.msg[0]);
	/* a poller's Redis: its devices' hashes (docs/scaleout.md) */
	cfg = load(PROFILE "daemon: {role: poller}\nkafka: {alarms: a}\n"
	    "redis: {enabled: true}\n");
	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "");
	cr_assert(cfg->redis.enabled);
	config_free(cfg);
}
