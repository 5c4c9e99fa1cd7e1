/*
 * config.c - the configuration's public API and its flat sections (see
 * config.h).
 *
 * Design.  The loader is split by what it reads, each part a module:
 *
 *	cfgkey.c	the key-table engine, errors, value parsers
 *	cfgfleet.c	profiles, sites, devices; names across the fleet
 *	cfgcsv.c	the device inventory CSV, parsed from a buffer
 *	cfgcorr.c	the correlation section
 *	cfgsla.c	the sla section
 *	config.c	this file: the top-level table, the flat sections
 *			(daemon, modbus, kafka, redis, http, output), the
 *			checks across sections, loading and freeing
 *
 * Dependencies point one way: cfgkey is used by all and calls none of them
 * (config.h gives it struct config_errors, the public list errors go to);
 * cfgcsv, cfgfleet, cfgcorr and cfgsla each read their part; config.c calls
 * them and is the only one that knows struct config as a whole.  (cfgcorr
 * uses cfgfleet for alarm codes, which are the fleet's.)  The flat sections
 * live here, not in a module of their own: they are nothing but tables the
 * engine reads without help (Kafka's pass-through properties are the one
 * function), and the checks across sections below read them.  The modbus
 * section is the exception that has no table here: its keys are the
 * driver's one table of client settings (mbclient_settings[]) plus
 * comm_loss_misses, made into a key table when the section is read, and
 * its rules across keys are the driver's mbclient_config_check(), so the
 * driver, the loader and docs/configuration.md cannot disagree.
 *
 * The walk reads profiles, sites, devices, correlation and sla in that
 * order whatever their order in the file, so a device's site and profile
 * resolve as it is read; what can only be checked with the whole file
 * (gateways named before they are defined, alarm codes a rule names,
 * devices at one address, the modbus and http cross-field rules) runs
 * after the walk, the checks across sections only when nothing else failed
 * so one mistake is not reported twice.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correlator/almrule.h"
#include "daemon/cfgcorr.h"
#include "daemon/cfgfleet.h"
#include "daemon/cfgkey.h"
#include "daemon/cfgsla.h"
#include "daemon/clvalue.h"
#include "daemon/config.h"
#include "daemon/log.h"
#include "daemon/mem.h"

/*
 * The least message.max.bytes a correlator's producer may have: a
 * changelog piece, its key ("inc:<id>#<k>") and room to spare.  The
 * topic's max.message.bytes must allow as much (docs/scaleout.md).
 */
#define CFG_CHANGELOG_MSG_MIN	(CLVALUE_PIECE + 1024)

/* ------------------------------------------------------------------ */
/* daemon, modbus, kafka, redis, http, output: flat tables */

static const char *
n_log(int i)
{
	static const char *const v[] = { "debug", "info", "warn", "error" };
	return i < 4 ? v[i] : NULL;
}

static const char *
n_fsync(int i)
{
	static const char *const v[] = { "batch", "always" };
	return i < 2 ? v[i] : NULL;
}

static const char *
n_role(int i)
{
	static const char *const v[] = { "all", "correlator", "poller" };
	return i < 3 ? v[i] : NULL;
}

static const struct cfg_key daemon_keys[] = {
	KENUM("role", struct cfg_daemon, role, n_role, "all"),
	KU32("poll_shares", struct cfg_daemon, poll_shares, 1, 64, "1"),
	KU32("poll_share", struct cfg_daemon, poll_share, 0, 63, "0"),
	KSTR("state_dir", struct cfg_daemon, state_dir, "/var/lib/tocsin"),
	KENUM("log_level", struct cfg_daemon, log_level, n_log, "info"),
	KSTR("log_file", struct cfg_daemon, log_file, NULL),
	KU32("shards", struct cfg_daemon, shards, 1, 64, "2"),
	KENUM("fsync", struct cfg_daemon, fsync, n_fsync, "batch"),
	KDUR32("fsync_interval", struct cfg_daemon, fsync_ms, 0.001, 10, "50ms"),
	KU32("snapshot_mb", struct cfg_daemon, snapshot_mb, 0, 65536, "64"),
	KU32("history_months", struct cfg_daemon, history_months, 0, 1200,
	    "0"),
	K_END
};

/*
 * The modbus section has no table here: its keys are the client's
 * settings (mbclient_settings[], the one table of their ranges, defaults
 * and meanings, shared with the driver and docs/configuration.md) plus
 * comm_loss_misses.  That one is a key of the section because an operator
 * sets it with the polling, but its value is the alarm rules': almrule.h
 * owns its default (ALMRULE_COMM_LOSS_MISSES, which almrule also applies
 * to a 0), this entry its range and meaning; described like a client
 * setting so the loader, the check and the docs test treat it as one more
 * row.
 */
static const struct setting cfg_comm_loss = {
	"comm_loss_misses", SETTING_COUNT,
	offsetof(struct cfg_modbus, comm_loss_misses), 1, 1000,
	ALMRULE_COMM_LOSS_MISSES, "failed polls in a row that raise COMM_LOSS "
	"(read by the alarm rules, not the client)"
};

/* mbclient_settings' offsets are mbclient_config's: client comes first. */
_Static_assert(offsetof(struct cfg_modbus, client) == 0,
    "cfg_modbus.client must be its first member");

const struct setting *
config_modbus_key(size_t i)
{
	for (size_t n = 0; ; n++) {
		if (mbclient_settings[n].key == NULL)
			return i == n ? &cfg_comm_loss : NULL;
		if (n == i)
			return &mbclient_settings[n];
	}
}

static void
cfg_modbus_defaults(struct cfg_modbus *m)
{
	mbclient_config_defaults(&m->client);
	m->comm_loss_misses = cfg_comm_loss.def;
}

/*
 * Reads the modbus section with a key table made from config_modbus_key()
 * on the stack, so unknown keys, suggestions, duplicates and every value
 * message are the engine's, as for every other section.
 */
static void
cfg_modbus_read(struct cfgkey_ctx *cx, yaml_node_t *n, void *base,
    const char *path)
{
	struct config *cfg = base;
	struct cfg_key keys[CFGKEY_KEYS_MAX];
	const struct setting *s;
	size_t i;

	for (i = 0; (s = config_modbus_key(i)) != NULL; i++) {
		if (i + 1 >= CFGKEY_KEYS_MAX)
			fatalx("config: more modbus keys than CFGKEY_KEYS_MAX");
		keys[i] = (struct cfg_key){
			.name = s->key,
			.type = s->kind == SETTING_MS ? CT_DUR32 : CT_U32,
			.off = s->off, .min = s->min, .max = s->max,
		};
	}
	keys[i] = (struct cfg_key)K_END;
	cfgkey_map(cx, n, keys, &cfg->modbus, path, NULL);
}

/* Hands one problem of config_modbus_check() to the error list. */
static void
cfg_modbus_report(void *arg, const char *key, const char *why)
{
	cfgkey_error_at(arg, NULL, key, "%s", why);
}

int
config_modbus_check(const struct cfg_modbus *m, setting_report_cb report,
    void *arg)
{
	int rc = mbclient_config_check(&m->client, "modbus.", report, arg);
	uint32_t v = m->comm_loss_misses;

	if (v < cfg_comm_loss.min || v > cfg_comm_loss.max) {
		char why[64];

		snprintf(why, sizeof(why), "%u is out of range [%u, %u]", v,
		    cfg_comm_loss.min, cfg_comm_loss.max);
		if (report != NULL)
			report(arg, "modbus.comm_loss_misses", why);
		rc = -EINVAL;
	}
	return rc;
}

static void
cfg_kafka_property(struct cfgkey_ctx *cx, yaml_node_t *kn, const char *key,
    yaml_node_t *vn, void *arg, const char *path)
{
	/* Properties tocsin sets itself: delivery guarantees are not optional. */
	static const char *const owned[] = {
		"bootstrap.servers", "metadata.broker.list", "enable.idempotence",
		"acks", "request.required.acks",
	};
	struct cfg_kafka *k = arg;
	struct kafka_prop *v;
	const char *val;

	if ((val = cfgkey_scalar(cx, vn, path)) == NULL)
		return;
	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
		if (strcmp(key, owned[i]) == 0) {
			cfgkey_error(cx, kn, path, "set by tocsin (use "
			    "kafka.brokers; the producer is always idempotent "
			    "with acks=all)");
			return;
		}
	}
	if (k->client.nprops >= KAFKA_MAX_PROPS) {
		cfgkey_error(cx, kn, path, "over %d properties",
		    KAFKA_MAX_PROPS);
		return;
	}
	if (strcmp(key, "message.max.bytes") == 0 ||
	    strcmp(key, "producer.message.max.bytes") == 0) {
		struct cfgkey_loc at = cfgkey_loc(cx, kn);

		k->max_msg = strtol(val, NULL, 10);
		k->max_msg_line = at.line;
		k->max_msg_col = at.col;
		k->max_msg_producer = key[0] == 'p';
	}
	/* the clients' own list (kafka_config.props), strings owned here */
	v = xreallocarray((void *)k->client.props, k->client.nprops + 1,
	    sizeof(*v));
	v[k->client.nprops].key = xstrdup(key);
	v[k->client.nprops].value = xstrdup(val);
	k->client.props = v;
	k->client.nprops++;
}

static void
cfg_kafka_properties(struct cfgkey_ctx *cx, yaml_node_t *n, void *base,
    const char *path)
{
	cfgkey_pairs(cx, n, path, cfg_kafka_property, base);
}

/*
 * The kafka section's keys: the driver's settings (kafka_settings[]) as
 * strings at their offsets in cfg_kafka.client, then `properties`.  Built
 * on the stack for reading, defaults and freeing alike, so a setting added
 * to the driver is read, defaulted and freed here with no change.
 */
static void
cfg_kafka_keys(struct cfg_key keys[CFGKEY_KEYS_MAX])
{
	size_t i = 0;

	for (const struct kafka_setting *s = kafka_settings; s->key != NULL;
	    s++, i++) {
		if (i + 2 >= CFGKEY_KEYS_MAX)
			fatalx("config: more kafka keys than CFGKEY_KEYS_MAX");
		keys[i] = (struct cfg_key){ .name = s->key, .type = CT_STR,
		    .off = s->off, .def = s->def };
	}
	keys[i++] = (struct cfg_key)KFN("properties", cfg_kafka_properties);
	keys[i] = (struct cfg_key)K_END;
}

_Static_assert(offsetof(struct cfg_kafka, client) == 0,
    "cfg_kafka.client must be its first member");

static void
cfg_kafka_read(struct cfgkey_ctx *cx, yaml_node_t *n, void *base,
    const char *path)
{
	struct config *cfg = base;
	struct cfg_key keys[CFGKEY_KEYS_MAX];

	cfg_kafka_keys(keys);
	cfgkey_map(cx, n, keys, &cfg->kafka, path, NULL);
}

/*
 * The redis section's keys: the driver's scalar settings (redis_settings[]:
 * ranges and meanings; counts read as sizes, "100k"), its strings, then
 * the daemon's own two.  Built on the stack for reading and freeing, like
 * the kafka section's; the defaults are redis_config_defaults()'.
 */
static void
cfg_redis_keys(struct cfg_key keys[CFGKEY_KEYS_MAX])
{
	size_t i = 0;

	for (const struct setting *s = redis_settings; s->key != NULL;
	    s++, i++) {
		if (i + 8 >= CFGKEY_KEYS_MAX)
			fatalx("config: more redis keys than CFGKEY_KEYS_MAX");
		keys[i] = (struct cfg_key){ .name = s->key,
		    .type = s->kind == SETTING_MS ? CT_DUR32 : CT_SIZE,
		    .off = s->off, .min = s->min, .max = s->max };
	}
	keys[i++] = (struct cfg_key)KSTR("host", struct cfg_redis,
	    client.host, NULL);
	keys[i++] = (struct cfg_key)KSTR("unix_path", struct cfg_redis,
	    client.unix_path, NULL);
	keys[i++] = (struct cfg_key)KSTR("prefix", struct cfg_redis,
	    client.prefix, NULL);
	keys[i++] = (struct cfg_key)KBOOL("enabled", struct cfg_redis, enabled,
	    "false");
	keys[i++] = (struct cfg_key)KSTR("password_file", struct cfg_redis,
	    password_file, NULL);
	keys[i++] = (struct cfg_key)KU32("feed_records", struct cfg_redis,
	    feed_records, 64, 1u << 24, "131072");
	keys[i++] = (struct cfg_key)KBOOL("seq_guard", struct cfg_redis,
	    seq_guard, "true");
	keys[i] = (struct cfg_key)K_END;
}

_Static_assert(offsetof(struct cfg_redis, client) == 0,
    "cfg_redis.client must be its first member");

/* The driver's defaults, its strings owned (cfgkey_free frees them). */
static void
cfg_redis_defaults(struct cfgkey_ctx *cx, struct cfg_redis *r)
{
	struct cfg_key keys[CFGKEY_KEYS_MAX];

	redis_config_defaults(&r->client);
	r->client.host = xstrdup(r->client.host);
	r->client.prefix = xstrdup(r->client.prefix);
	cfg_redis_keys(keys);
	cfgkey_defaults(cx, keys, r);
}

static void
cfg_redis_read(struct cfgkey_ctx *cx, yaml_node_t *n, void *base,
    const char *path)
{
	struct config *cfg = base;
	struct cfg_key keys[CFGKEY_KEYS_MAX];

	cfg_redis_keys(keys);
	cfgkey_map(cx, n, keys, &cfg->redis, path, NULL);
}


/*
 * The http section's keys: the server's numeric settings (http_settings[];
 * sizes read as sizes, "64k"), then its strings and `enabled`.  Built on
 * the stack for reading, defaults and freeing, like the redis section's.
 */
static void
cfg_http_keys(struct cfg_key keys[CFGKEY_KEYS_MAX])
{
	size_t i = 0;

	for (const struct setting *s = http_settings; s->key != NULL;
	    s++, i++) {
		if (i + 4 >= CFGKEY_KEYS_MAX)
			fatalx("config: more http keys than CFGKEY_KEYS_MAX");
		keys[i] = (struct cfg_key){ .name = s->key,
		    .type = s->kind == SETTING_MS ? CT_DUR32 : CT_SIZE,
		    .off = s->off, .min = s->min, .max = s->max };
	}
	keys[i++] = (struct cfg_key)KSTR("listen", struct cfg_http,
	    server.listen, HTTP_DEFAULT_LISTEN);
	keys[i++] = (struct cfg_key)KSTR("token_file", struct cfg_http,
	    server.token_file, NULL);
	keys[i++] = (struct cfg_key)KBOOL("enabled", struct cfg_http, enabled,
	    "true");
	keys[i] = (struct cfg_key)K_END;
}

_Static_assert(offsetof(struct cfg_http, server) == 0,
    "cfg_http.server must be its first member");

static void
cfg_http_defaults(struct cfgkey_ctx *cx, struct cfg_http *h)
{
	struct cfg_key keys[CFGKEY_KEYS_MAX];

	http_config_defaults(&h->server);
	cfg_http_keys(keys);
	cfgkey_defaults(cx, keys, h);
}

static void
cfg_http_read(struct cfgkey_ctx *cx, yaml_node_t *n, void *base,
    const char *path)
{
	struct config *cfg = base;
	struct cfg_key keys[CFGKEY_KEYS_MAX];

	cfg_http_keys(keys);
	cfgkey_map(cx, n, keys, &cfg->http, path, NULL);
}

/*
 * http.listen: its form, and beyond loopback only with a token file
 * (reads need none, so an open listener would show everything).
 */
int
config_http_on(const struct cfg_http *h)
{
	return h->enabled && h->server.listen != NULL &&
	    h->server.listen[0] != '\0';
}

static void
cfg_http_check(struct cfgkey_ctx *cx, const struct cfg_http *h)
{
	char host[256];
	unsigned port;
	const char *why;

	if (!config_http_on(h))
		return;
	if (http_listen_parse(h->server.listen, host, sizeof(host), &port,
	    &why) != 0) {
		cfgkey_error_at(cx, NULL, "http.listen", "\"%s\": %s",
		    h->server.listen, why);
		return;
	}
	if (strncmp(host, "127.", 4) != 0 && strcmp(host, "::1") != 0 &&
	    strcmp(host, "localhost") != 0 && h->server.token_file == NULL)
		cfgkey_error_at(cx, NULL, "http.listen", "listening on %s "
		    "beyond loopback needs http.token_file", host);
}

static const struct cfg_key output_keys[] = {
	KSTR("file", struct cfg_output, file, NULL),
	KU32("rotate_mb", struct cfg_output, rotate_mb, 0, 1048576, "0"),
	KU32("keep", struct cfg_output, keep, 1, 1000, "5"),
	KBOOL("sync", struct cfg_output, sync, "false"),
	K_END
};


enum { TK_DAEMON, TK_MODBUS, TK_PROFILES, TK_SITES, TK_DEVICES,
    TK_CORRELATION, TK_SLA, TK_KAFKA, TK_REDIS, TK_HTTP, TK_OUTPUT, TK__N };

static const struct cfg_key top_keys[] = {
	[TK_DAEMON] = KSEC("daemon", struct config, daemon, daemon_keys),
	[TK_MODBUS] = KFN("modbus", cfg_modbus_read),
	[TK_PROFILES] = KFN("profiles", cfgkey_nop),
	[TK_SITES] = KFN("sites", cfgkey_nop),
	[TK_DEVICES] = KFN("devices", cfgkey_nop),
	[TK_CORRELATION] = KFN("correlation", cfgkey_nop),
	[TK_SLA] = KFN("sla", cfgkey_nop),
	[TK_KAFKA] = KFN("kafka", cfg_kafka_read),
	[TK_REDIS] = KFN("redis", cfg_redis_read),
	[TK_HTTP] = KFN("http", cfg_http_read),
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
	cfgfleet_read(cx, cfg->fleet, cfg->mbmap, at[TK_PROFILES], at[TK_SITES],
	    at[TK_DEVICES]);
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
	cfgfleet_check_addresses(cx, cfg->fleet, cfg->modbus.client.port,
	    cfg->modbus.client.unit);
	/* the ranges passed as the values were read; this adds the rules
	 * across keys, from the client's one check */
	config_modbus_check(&cfg->modbus, cfg_modbus_report, cx);
	cfg_http_check(cx, &cfg->http);
	if (cfg->daemon.poll_share >= cfg->daemon.poll_shares)
		cfgkey_error_at(cx, NULL, "daemon.poll_share", "%u: the shares "
		    "are 0 to daemon.poll_shares - 1 (%u)",
		    cfg->daemon.poll_share, cfg->daemon.poll_shares - 1);
	if (cfg->daemon.role == CFG_ROLE_POLLER &&
	    (cfg->kafka.client.alarms == NULL ||
	    cfg->kafka.client.alarms[0] == '\0'))
		cfgkey_error_at(cx, NULL, "daemon.role", "poller: its alarm "
		    "transitions go to kafka.alarms, which is not set");
	if (cfg->daemon.role == CFG_ROLE_CORRELATOR && cfg->kafka.max_msg > 0 &&
	    cfg->kafka.max_msg < CFG_CHANGELOG_MSG_MIN) {
		struct cfgkey_loc at = { cx->file, cfg->kafka.max_msg_line,
		    cfg->kafka.max_msg_col };

		cfgkey_error_at(cx, &at, cfg->kafka.max_msg_producer ?
		    "kafka.properties.producer.message.max.bytes" :
		    "kafka.properties.message.max.bytes", "%ld: a correlator "
		    "writes its changelog in values of up to %d bytes (an "
		    "incident in pieces: docs/scaleout.md), which need a "
		    "message of at least %d", cfg->kafka.max_msg,
		    CLVALUE_PIECE, CFG_CHANGELOG_MSG_MIN);
	}
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
	cfg->mbmap = mbmap_new();
	cfgkey_defaults(&cx, top_keys, cfg);
	cfg_modbus_defaults(&cfg->modbus);
	{
		struct cfg_key keys[CFGKEY_KEYS_MAX];

		cfg_kafka_keys(keys);
		cfgkey_defaults(&cx, keys, &cfg->kafka);
	}
	cfg_redis_defaults(&cx, &cfg->redis);
	cfg_http_defaults(&cx, &cfg->http);
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
	/* the flat sections' strings */
	cfgkey_free(top_keys, cfg);
	{
		struct cfg_key keys[CFGKEY_KEYS_MAX];

		cfg_kafka_keys(keys);
		cfgkey_free(keys, &cfg->kafka);
		cfg_redis_keys(keys);
		cfgkey_free(keys, &cfg->redis);
		cfg_http_keys(keys);
		cfgkey_free(keys, &cfg->http);
	}
	sla_config_fini(&cfg->sla);
	for (size_t i = 0; i < cfg->kafka.client.nprops; i++) {
		xfree((char *)cfg->kafka.client.props[i].key);
		xfree((char *)cfg->kafka.client.props[i].value);
	}
	xfree((void *)cfg->kafka.client.props);
	fleet_free(cfg->fleet);
	mbmap_free(cfg->mbmap);
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
config_parse_modicon(const char *s, enum mbmap_table *table, uint16_t *address,
    const char **why)
{
	return cfgfleet_parse_modicon(s, table, address, why);
}

char *
config_read_secret(const char *path)
{
	char buf[1024];
	FILE *fp;
	size_t n;

	if (path == NULL || *path == '\0')
		return NULL;
	if ((fp = fopen(path, "r")) == NULL) {
		log_warn("secret file %s", path);
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return xstrdup(buf);
}
