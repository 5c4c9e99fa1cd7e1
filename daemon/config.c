/*
 * config.c - the YAML configuration loader (see config.h).
 *
 * Design.  The key-table engine is in cfgkey.c, the fleet sections
 * (profiles, sites, devices and their inventory CSV) in cfgfleet.c and
 * cfgcsv.c, the sla section in cfgsla.c; this file holds the correlation
 * section, the flat sections and the top level, and loads and frees the
 * whole.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/cfgfleet.h"
#include "daemon/cfgkey.h"
#include "daemon/cfgsla.h"
#include "daemon/config.h"
#include "daemon/mem.h"

static const char *
n_scope(int i)
{
	static const char *const v[] = { "site", "gateway" };
	return i < 2 ? v[i] : NULL;
}

struct rule_in {
	int		 scope;
	int64_t		 window, before;
};

enum { RL_ROOT, RL_EXPLAINS, RL_SCOPE, RL_WINDOW, RL_BEFORE, RL__N };

static const struct cfg_key rule_keys[] = {
	[RL_ROOT] = KFN("root", cfgkey_nop),
	[RL_EXPLAINS] = KFN("explains", cfgkey_nop),
	[RL_SCOPE] = KENUM("scope", struct rule_in, scope, n_scope, "site"),
	[RL_WINDOW] = KDUR("window", struct rule_in, window, 1, 7 * K_DAY, "30m"),
	[RL_BEFORE] = KDUR("before", struct rule_in, before, 0, K_DAY, "5m"),
	[RL__N] = K_END
};

static void
cfg_rule(struct cfgkey_ctx *cx, yaml_node_t *n, void *arg, const char *path)
{
	struct corr_config *cc = arg;
	struct rule_in in;
	yaml_node_t *at[RL__N];
	struct corr_rule r;
	char kp[CFGKEY_PATH_MAX];
	size_t i = 0;

	memset(&in, 0, sizeof(in));
	cfgkey_defaults(cx, rule_keys, &in);
	if (cfgkey_map(cx, n, rule_keys, &in, path, at) != 0)
		return;
	if (at[RL_ROOT] == NULL || at[RL_EXPLAINS] == NULL) {
		cfgkey_error(cx, n, path, "a root-cause rule needs root and "
		    "explains");
		return;
	}
	if (cc->nrules == CORR_MAX_RULES) {
		cfgkey_error(cx, n, path, "at most %d root-cause rules",
		    CORR_MAX_RULES);
		return;
	}
	memset(&r, 0, sizeof(r));
	cfgkey_path(kp, sizeof(kp), path, "root");
	if (cfgfleet_read_code(cx, at[RL_ROOT], kp, r.root,
	    sizeof(r.root)) != 0)
		return;
	r.scope = (uint8_t)in.scope;
	r.window_ms = in.window;
	r.before_ms = in.before;
	cfgkey_path(kp, sizeof(kp), path, "explains");
	if (cfgkey_expect(cx, at[RL_EXPLAINS], YAML_SEQUENCE_NODE, kp) != 0)
		return;
	for (yaml_node_item_t *it = at[RL_EXPLAINS]->data.sequence.items.start;
	    it < at[RL_EXPLAINS]->data.sequence.items.top; it++, i++) {
		char ip[CFGKEY_PATH_MAX];

		cfgkey_fmt(ip, sizeof(ip), "%s[%zu]", kp, i);
		if (r.nchildren == CORR_MAX_CHILDREN) {
			cfgkey_error(cx, cfgkey_node(cx, *it), ip, "a rule "
			    "explains at most %d codes", CORR_MAX_CHILDREN);
			return;
		}
		if (cfgfleet_read_code(cx, cfgkey_node(cx, *it), ip,
		    r.children[r.nchildren], CORR_CODE_LEN) == 0)
			r.nchildren++;
	}
	if (r.nchildren == 0) {
		cfgkey_error(cx, at[RL_EXPLAINS], kp, "a rule must explain at "
		    "least one code");
		return;
	}
	cc->rules[cc->nrules++] = r;
}

static void
cfg_rules(struct cfgkey_ctx *cx, yaml_node_t *n, void *base, const char *path)
{
	struct corr_config *cc = base;

	cc->nrules = 0;
	cfgkey_list(cx, n, path, cfg_rule, cc);
}

static void
cfg_storm_code(struct cfgkey_ctx *cx, yaml_node_t *n, void *base,
    const char *path)
{
	struct corr_config *cc = base;

	cfgfleet_read_code(cx, n, path, cc->storm_code, sizeof(cc->storm_code));
}

static void
cfg_id_prefix(struct cfgkey_ctx *cx, yaml_node_t *n, void *base,
    const char *path)
{
	struct corr_config *cc = base;
	const char *s = cfgkey_scalar(cx, n, path);

	if (s == NULL)
		return;
	if (strlen(s) >= sizeof(cc->id_prefix) || strpbrk(s, " \t\"\\/") != NULL)
		cfgkey_error(cx, n, path, "an id prefix has at most %zu "
		    "characters and no spaces, quotes or slashes, got \"%s\"",
		    sizeof(cc->id_prefix) - 1, s);
	else
		snprintf(cc->id_prefix, sizeof(cc->id_prefix), "%s", s);
}

_Static_assert(sizeof(unsigned) == sizeof(uint32_t), "CT_U32 fields");

static const struct cfg_key storm_keys[] = {
	KFN("code", cfg_storm_code),
	KU32("sites", struct corr_config, storm_sites, 2, 100000, NULL),
	KDUR("window", struct corr_config, storm_window_ms, 1, K_DAY, NULL),
	K_END
};

static const struct cfg_key flapping_keys[] = {
	KU32("cycles", struct corr_config, flap_cycles, 2, CORR_MAX_FLAP, NULL),
	KDUR("window", struct corr_config, flap_window_ms, 1, K_DAY, NULL),
	K_END
};

static const struct cfg_key chronic_keys[] = {
	KU32("count", struct corr_config, chronic_count, 2, CORR_MAX_CHRONIC, NULL),
	KDUR("period", struct corr_config, chronic_period_ms, 60, 3650 * K_DAY,
	    NULL),
	K_END
};

/* Defaults come from corr_config_defaults(), so no key here has one. */
static const struct cfg_key correlation_keys[] = {
	KFN("rules", cfg_rules),
	KFLAT("storm", storm_keys),
	KFLAT("flapping", flapping_keys),
	KFLAT("chronic", chronic_keys),
	KDUR("reopen_hold", struct corr_config, reopen_hold_ms, 0, K_DAY, NULL),
	KBOOL("auto_resolve", struct corr_config, auto_resolve, NULL),
	KFN("id_prefix", cfg_id_prefix),
	K_END
};

static void
cfgcorr_read(struct cfgkey_ctx *cx, yaml_node_t *n, struct corr_config *cc,
    const char *path)
{
	size_t before = cfgkey_nerrors(cx);
	char why[256];

	if (cfgkey_map(cx, n, correlation_keys, cc, path, NULL) != 0)
		return;
	if (cfgkey_nerrors(cx) == before &&
	    corr_config_check(cc, why, sizeof(why)) != 0)
		cfgkey_error(cx, n, path, "%s", why);
}


/* ------------------------------------------------------------------ */
/* daemon, modbus, kafka, redis, http, output: flat tables */

static const char *
n_log(int i)
{
	static const char *const v[] = { "debug", "info", "warn", "error" };
	return i < 4 ? v[i] : NULL;
}

static const struct cfg_key daemon_keys[] = {
	KSTR("state_dir", struct cfg_daemon, state_dir, "/var/lib/tocsin"),
	KENUM("log_level", struct cfg_daemon, log_level, n_log, "info"),
	KSTR("log_file", struct cfg_daemon, log_file, NULL),
	KU32("shards", struct cfg_daemon, shards, 1, 64, "2"),
	K_END
};

static const struct cfg_key modbus_keys[] = {
	KU32("port", struct cfg_modbus, port, 1, 65535, "502"),
	KU32("unit", struct cfg_modbus, unit, 0, 255, "1"),
	KDUR("timeout", struct cfg_modbus, timeout_ms, 0.01, 60, "1s"),
	KDUR("interval", struct cfg_modbus, interval_ms, 0.1, 3600, "5s"),
	KU32("max_registers", struct cfg_modbus, max_registers, 1, 125, "125"),
	KU32("max_bits", struct cfg_modbus, max_bits, 1, 2000, "2000"),
	KU32("max_gap", struct cfg_modbus, max_gap, 0, 124, "8"),
	KU32("inflight", struct cfg_modbus, inflight, 1, 16, "1"),
	KDUR("backoff_min", struct cfg_modbus, backoff_min_ms, 0.01, 3600, "1s"),
	KDUR("backoff_max", struct cfg_modbus, backoff_max_ms, 0.01, 86400, "60s"),
	KU32("comm_loss_misses", struct cfg_modbus, comm_loss_misses, 1, 1000, "3"),
	KU32("connections_per_host", struct cfg_modbus, connections_per_host, 1, 16, "1"),
	KU32("connect_rate", struct cfg_modbus, connect_rate, 1, 1000000, "500"),
	KU32("connect_rate_per_host", struct cfg_modbus, connect_rate_per_host, 1, 1000, "2"),
	KU32("breaker_failures", struct cfg_modbus, breaker_failures, 1, 1000, "3"),
	KDUR("breaker_cooldown", struct cfg_modbus, breaker_cooldown_ms, 0.1, 86400, "30s"),
	KDUR("connect_timeout", struct cfg_modbus, connect_timeout_ms, 0.1, 60, "3s"),
	KDUR("timer_slack", struct cfg_modbus, timer_slack_ms, 0, 0.1, "5ms"),
	KU32("stall_timeouts", struct cfg_modbus, stall_timeouts, 1, 100, "3"),
	KU32("frames_per_wakeup", struct cfg_modbus, frames_per_wakeup, 1, 1024, "16"),
	KU32("connect_burst_per_host", struct cfg_modbus, connect_burst_per_host, 1, 1000, "4"),
	K_END
};

static void
cfg_kafka_properties(struct cfgkey_ctx *cx, yaml_node_t *n, void *base,
    const char *path)
{
	/* Properties tocsin sets itself: delivery guarantees are not optional. */
	static const char *const owned[] = {
		"bootstrap.servers", "metadata.broker.list", "enable.idempotence",
		"acks", "request.required.acks",
	};
	struct cfg_kafka *k = base;

	if (cfgkey_expect(cx, n, YAML_MAPPING_NODE, path) != 0)
		return;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	    p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = cfgkey_node(cx, p->key);
		yaml_node_t *vn = cfgkey_node(cx, p->value);
		const char *key = cfgkey_scalar(cx, kn, path), *val;
		char kp[CFGKEY_PATH_MAX];
		int bad = 0;

		if (key == NULL)
			continue;
		cfgkey_path(kp, sizeof(kp), path, key);
		if ((val = cfgkey_scalar(cx, vn, kp)) == NULL)
			continue;
		for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
			if (strcmp(key, owned[i]) == 0)
				bad = 1;
		if (bad) {
			cfgkey_error(cx, kn, kp, "set by tocsin (use "
			    "kafka.brokers; the producer is always idempotent "
			    "with acks=all)");
			continue;
		}
		k->properties = xreallocarray(k->properties, k->nproperties + 1,
		    sizeof(*k->properties));
		k->properties[k->nproperties].key = xstrdup(key);
		k->properties[k->nproperties].value = xstrdup(val);
		k->nproperties++;
	}
}

static const struct cfg_key kafka_keys[] = {
	KSTR("brokers", struct cfg_kafka, brokers, ""),
	KSTR("topic_incidents", struct cfg_kafka, topic_incidents, "tocsin.incidents"),
	KSTR("topic_alarms", struct cfg_kafka, topic_alarms, "tocsin.alarms"),
	KSTR("topic_telemetry", struct cfg_kafka, topic_telemetry, "tocsin.telemetry"),
	KSTR("topic_actions", struct cfg_kafka, topic_actions, "tocsin.actions"),
	KSTR("topic_rejected", struct cfg_kafka, topic_rejected, "tocsin.actions.rejected"),
	KSTR("group_id", struct cfg_kafka, group_id, "tocsin"),
	KBOOL("publish_alarms", struct cfg_kafka, publish_alarms, "false"),
	KBOOL("publish_telemetry", struct cfg_kafka, publish_telemetry, "false"),
	KSIZE("queue_max", struct cfg_kafka, queue_max, 16, 100000000, "100k"),
	KFN("properties", cfg_kafka_properties),
	K_END
};

static const struct cfg_key redis_keys[] = {
	KBOOL("enabled", struct cfg_redis, enabled, "true"),
	KSTR("host", struct cfg_redis, host, "127.0.0.1"),
	KU32("port", struct cfg_redis, port, 1, 65535, "6379"),
	KSTR("prefix", struct cfg_redis, prefix, "tocsin:"),
	KSTR("password_file", struct cfg_redis, password_file, NULL),
	KSIZE("stream_maxlen", struct cfg_redis, stream_maxlen, 100, 100000000, "100k"),
	KSIZE("queue_max", struct cfg_redis, queue_max, 16, 100000000, "100k"),
	K_END
};

static const struct cfg_key http_keys[] = {
	KBOOL("enabled", struct cfg_http, enabled, "true"),
	KSTR("bind", struct cfg_http, bind, "127.0.0.1"),
	KU32("port", struct cfg_http, port, 1, 65535, "8080"),
	KSTR("token_file", struct cfg_http, token_file, NULL),
	K_END
};

static const struct cfg_key output_keys[] = {
	KSTR("file", struct cfg_output, file, NULL),
	K_END
};


enum { TK_DAEMON, TK_MODBUS, TK_PROFILES, TK_SITES, TK_DEVICES,
    TK_CORRELATION, TK_SLA, TK_KAFKA, TK_REDIS, TK_HTTP, TK_OUTPUT, TK__N };

static const struct cfg_key top_keys[] = {
	[TK_DAEMON] = KSEC("daemon", struct config, daemon, daemon_keys),
	[TK_MODBUS] = KSEC("modbus", struct config, modbus, modbus_keys),
	[TK_PROFILES] = KFN("profiles", cfgkey_nop),
	[TK_SITES] = KFN("sites", cfgkey_nop),
	[TK_DEVICES] = KFN("devices", cfgkey_nop),
	[TK_CORRELATION] = KFN("correlation", cfgkey_nop),
	[TK_SLA] = KFN("sla", cfgkey_nop),
	[TK_KAFKA] = KSEC("kafka", struct config, kafka, kafka_keys),
	[TK_REDIS] = KSEC("redis", struct config, redis, redis_keys),
	[TK_HTTP] = KSEC("http", struct config, http, http_keys),
	[TK_OUTPUT] = KSEC("output", struct config, output, output_keys),
	[TK__N] = K_END
};

/* ------------------------------------------------------------------ */
/* The whole file */

/* Parses buf and walks it into cfg; errors go to cx. */
static void
cfg_walk(struct cfgkey_ctx *cx, struct config *cfg, const char *buf,
    size_t len)
{
	yaml_node_t *root, *at[TK__N];

	if (cfgkey_parse(cx, buf, len, &root) != 0)
		return;
	if (cfgkey_map(cx, root, top_keys, cfg, "", at) != 0)
		return;
	if (at[TK_PROFILES] != NULL)
		cfgfleet_read_profiles(cx, cfg->fleet, at[TK_PROFILES],
		    "profiles");
	if (at[TK_SITES] != NULL)
		cfgfleet_read_sites(cx, cfg->fleet, at[TK_SITES], "sites");
	if (at[TK_DEVICES] != NULL)
		cfgfleet_read_devices(cx, cfg->fleet, at[TK_DEVICES], "devices");
	if (at[TK_CORRELATION] != NULL)
		cfgcorr_read(cx, at[TK_CORRELATION], &cfg->correlation,
		    "correlation");
	if (at[TK_SLA] != NULL)
		cfgsla_read(cx, at[TK_SLA], &cfg->sla, "sla");
}


/* Checks across sections, once every section read cleanly. */
static void
cfg_cross_checks(struct cfgkey_ctx *cx, const struct config *cfg)
{
	cfgfleet_check_addresses(cx, cfg->fleet, cfg->modbus.port,
	    cfg->modbus.unit);
	if (cfg->modbus.backoff_min_ms > cfg->modbus.backoff_max_ms)
		cfgkey_error_at(cx, NULL, "modbus.backoff_min", "above "
		    "modbus.backoff_max");
	if (cfg->modbus.timeout_ms > cfg->modbus.interval_ms)
		cfgkey_error_at(cx, NULL, "modbus.timeout", "longer than "
		    "modbus.interval: a poll would overlap the next one");
	if (strcmp(cfg->http.bind, "127.0.0.1") != 0 &&
	    strcmp(cfg->http.bind, "::1") != 0 &&
	    strcmp(cfg->http.bind, "localhost") != 0 &&
	    cfg->http.token_file == NULL)
		cfgkey_error_at(cx, NULL, "http.bind", "binding %s beyond "
		    "loopback needs http.token_file", cfg->http.bind);
}

struct config *
config_load_buffer(const char *name, const char *buf, size_t len,
    struct config_errors *errs)
{
	struct cfgkey_ctx cx;
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	size_t before = errs->n;

	cfgkey_init(&cx, name, errs);
	cfg->path = xstrdup(name);
	cfg->fleet = fleet_new();
	cfgkey_defaults(&cx, top_keys, cfg);
	corr_config_defaults(&cfg->correlation);
	sla_config_defaults(&cfg->sla);

	cfg_walk(&cx, cfg, buf, len);
	cfgfleet_resolve(&cx, cfg->fleet);
	/* the incidents' clocks run on the sla section */
	cfg->correlation.sla = &cfg->sla;
	if (errs->n == before)
		cfg_cross_checks(&cx, cfg);
	cfgkey_fini(&cx);
	if (errs->n != before) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

struct config *
config_load(const char *path, struct config_errors *errs)
{
	struct config *cfg;
	char *buf;
	size_t len;
	FILE *fp;
	int r;

	if ((fp = fopen(path, "r")) == NULL) {
		cfgkey_errors_add(errs, "%s: cannot read: %s", path,
		    strerror(errno));
		return NULL;
	}
	r = cfgkey_read(fp, &buf, &len);
	fclose(fp);
	if (r != 0) {
		cfgkey_errors_add(errs, "%s: cannot read: %s", path,
		    strerror(-r));
		xfree(buf);
		return NULL;
	}
	cfg = config_load_buffer(path, buf, len, errs);
	xfree(buf);
	return cfg;
}

void
config_errors_free(struct config_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		xfree(errs->msg[i]);
	FREE_NULL(errs->msg);
	errs->n = 0;
}

static void
config_free_parts(struct config *cfg)
{
	xfree(cfg->path);
	xfree(cfg->daemon.state_dir);
	xfree(cfg->daemon.log_file);
	sla_config_fini(&cfg->sla);
	xfree(cfg->kafka.brokers);
	xfree(cfg->kafka.topic_incidents);
	xfree(cfg->kafka.topic_alarms);
	xfree(cfg->kafka.topic_telemetry);
	xfree(cfg->kafka.topic_actions);
	xfree(cfg->kafka.topic_rejected);
	xfree(cfg->kafka.group_id);
	for (size_t i = 0; i < cfg->kafka.nproperties; i++) {
		xfree(cfg->kafka.properties[i].key);
		xfree(cfg->kafka.properties[i].value);
	}
	xfree(cfg->kafka.properties);
	xfree(cfg->redis.host);
	xfree(cfg->redis.prefix);
	xfree(cfg->redis.password_file);
	xfree(cfg->http.bind);
	xfree(cfg->http.token_file);
	xfree(cfg->output.file);
	fleet_free(cfg->fleet);
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	config_free_parts(cfg);
	xfree(cfg);
}

void
config_census(const struct config *cfg, char *buf, size_t len)
{
	const struct fleet *f = cfg->fleet;
	size_t points = 0, rules = 0;

	for (size_t i = 0; i < f->ndevices; i++) {
		const struct fleet_profile *p = &f->profiles[f->devices[i].profile];
		points += p->npoints;
		rules += p->nalarms;
	}
	snprintf(buf, len, "%zu sites, %zu areas, %zu devices, %zu profiles, "
	    "%zu points, %zu alarm rules", f->nsites, f->nareas, f->ndevices,
	    f->nprofiles, points, rules);
}

/* The value parsers' public names: one implementation, in the module that
 * reads the values. */
int
config_parse_duration(const char *s, int64_t *ms, const char **why)
{
	return cfgkey_parse_duration(s, ms, why);
}

int
config_parse_size(const char *s, uint64_t *bytes, const char **why)
{
	return cfgkey_parse_size(s, bytes, why);
}

int
config_parse_modicon(const char *s, enum mb_table *table, uint16_t *address,
    const char **why)
{
	return cfgfleet_parse_modicon(s, table, address, why);
}
