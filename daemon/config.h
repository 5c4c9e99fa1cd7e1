/*
 * config.h - tocsind's configuration: one YAML file (libyaml), optionally an
 * inventory CSV of devices, loaded into plain structs and the fleet model.
 *
 * Every key is data (one table per section: name, type, range, default,
 * field offset, read by the key-table engine in cfgkey.c), so defaults,
 * range checks and "did you mean" suggestions come from one place.  The
 * sections are read by the modules config.c (daemon, modbus, kafka, redis,
 * http, output), cfgfleet.c (profiles, sites, devices), cfgcsv.c (the
 * inventory CSV), cfgcorr.c (correlation) and cfgsla.c (sla); this header
 * is all the rest of tocsin needs.  Loading never stops at the first
 * problem: every error is collected as "FILE:LINE:COLUMN: key: message"
 * (key is the dotted path, e.g. profiles.rectifier.points[2].address) and
 * the caller prints them all, which is what `tocsind -n` does.
 *
 * Durations are int64 milliseconds and accept "500ms", "90s", "2h", "3d",
 * "1h30m"; sizes accept "64MiB", "10k".
 */
#ifndef TOCSIN_CONFIG_H
#define TOCSIN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "correlator/corr.h"
#include "correlator/fleet.h"
#include "correlator/sla.h"
#include "drivers/kafka/kafka.h"
#include "drivers/modbus/mbclient.h"
#include "drivers/redis/redis.h"
#include "daemon/http.h"
#include "drivers/modbus/mbmap.h"

/* daemon.role (docs/scaleout.md) */
enum cfg_role {
	CFG_ROLE_ALL,			/* poll and correlate: one instance */
	CFG_ROLE_CORRELATOR,		/* correlate tocsin.alarms' partitions
					 * it is assigned (daemon/crole) */
	CFG_ROLE_POLLER,		/* poll its share, alarm transitions to
					 * kafka.alarms, no incident output */
};

struct cfg_daemon {
	int		 role;		/* enum cfg_role */
	uint32_t	 poll_shares;	/* the fleet split in this many... */
	uint32_t	 poll_share;	/* ... of which this instance polls
					 * this one (poller_config.share) */
	char		*state_dir;	/* journals, spill files */
	int		 log_level;	/* enum log_level */
	char		*log_file;	/* NULL: stderr */
	uint32_t	 shards;	/* correlator shard threads */
	int		 fsync;		/* enum store_fsync: batch, always */
	uint32_t	 fsync_ms;	/* batch: sync at least this often */
	uint32_t	 snapshot_mb;	/* journal past the last snapshot that
					 * makes the next one; 0: never */
	uint32_t	 history_months; /* months of closed incidents kept
					  * before the current one; 0: all */
};

/*
 * The `modbus:` section: the client's settings, read through the driver's
 * one table (mbclient_settings[]), and the one key whose value is the
 * alarm rules' (correlator/almrule.h).  Its keys, ranges and defaults are
 * config_modbus_key()'s; nothing here repeats them.
 */
struct cfg_modbus {
	struct mbclient_config client;	/* first: its offsets are this
					   struct's (config_modbus_key) */
	uint32_t	 comm_loss_misses; /* failed polls before COMM_LOSS,
					      almrule_config's */
};

/*
 * The `kafka:` section: the driver's settings (kafka_settings[], the one
 * table of their keys, defaults and meanings; strings owned here) and the
 * librdkafka properties passed through.
 */
struct cfg_kafka {
	struct kafka_config client;	/* first: kafka_settings' offsets;
					 * its props, the librdkafka
					 * properties passed through (at most
					 * KAFKA_MAX_PROPS: the loader says),
					 * are owned here too */
	/* the producer's message.max.bytes among them (0: not set), where
	 * it was given and under which key: a correlator checks it against
	 * its changelog's pieces (daemon/clvalue) */
	long		 max_msg;
	uint32_t	 max_msg_line, max_msg_col;
	int		 max_msg_producer; /* "producer." prefixed */
};

/*
 * The `redis:` section: the driver's settings (redis_settings[], the one
 * table of their ranges, defaults and meanings, plus its host, unix_path
 * and prefix strings, owned here) and two keys of the daemon's.
 */
struct cfg_redis {
	struct redis_config client;	/* first: redis_settings' offsets */
	int		 enabled;	/* false: no Redis publisher */
	char		*password_file;	/* secret read from a file, never logged */
	uint32_t	 feed_records;	/* daemon.role correlator: records its
					 * hand-off to Redis holds before a
					 * partition folds (daemon/cfeed) */
	int		 seq_guard;	/* daemon.role correlator: each record
					 * one script that writes only over an
					 * older seq (docs/redis.md) */
};

/*
 * The `http:` section: the server's settings (http_settings[], the one
 * table of the numeric keys' ranges, defaults and meanings; listen and
 * token_file strings owned here) and enabled.
 */
struct cfg_http {
	struct http_config server;	/* first: http_settings' offsets */
	int		 enabled;	/* false, or listen "": no server */
};

/* 1 if the configuration runs an HTTP server (enabled, a listen set). */
int	 config_http_on(const struct cfg_http *h);
/* A secret from a file (redis.password_file): its first line, to
 * xfree(), or NULL (logged, never the secret itself). */
char	*config_read_secret(const char *path);

struct cfg_output {
	char		*file;		/* incident events, JSON lines, appended;
					 * NULL or "-": stdout */
	uint32_t	 rotate_mb;	/* rotate past this size; 0: never */
	uint32_t	 keep;		/* rotated files kept */
	int		 sync;		/* fdatasync before its position is
					 * saved (drivers/file's sync) */
};

struct config {
	char		*path;		/* as given */
	struct cfg_daemon daemon;
	struct cfg_modbus modbus;
	struct corr_config correlation;	/* correlator/corr.h, defaults + file */
	struct sla_config sla;		/* correlator/sla.h, defaults + file */
	struct cfg_kafka kafka;
	struct cfg_redis redis;
	struct cfg_http	 http;
	struct cfg_output output;	/* the file sink (drivers/file) */
	struct fleet	*fleet;
	struct mbmap	*mbmap;		/* where the Modbus driver finds each
					 * profile point (drivers/modbus/mbmap.h) */
};

/* The errors of one load, each "FILE:LINE:COLUMN: key: message". */
struct config_errors {
	char		**msg;
	size_t		 n;
};

/*
 * Loads FILE.  Returns the configuration (free with config_free()) when
 * there was no error; otherwise NULL, with every error appended to errs
 * (free with config_errors_free()), a file that cannot be read included.
 */
struct config *config_load(const char *path, struct config_errors *errs);
/* The same from a buffer; name is used in messages and for relative paths. */
struct config *config_load_buffer(const char *name, const char *buf,
	    size_t len, struct config_errors *errs);
void	 config_free(struct config *cfg);
void	 config_errors_free(struct config_errors *errs);

/* One-line census: "12 sites, 60 devices, 7 profiles, 540 points, ...". */
void	 config_census(const struct config *cfg, char *buf, size_t len);

/*
 * The keys of the `modbus:` section in the order docs/configuration.md
 * lists them: the client's settings (mbclient_settings[]), then
 * comm_loss_misses (range 1-1000, default almrule.h's
 * ALMRULE_COMM_LOSS_MISSES).  Each entry's off is its uint32_t's offset in
 * struct cfg_modbus.  Returns key i, or NULL past the last.  The loader
 * reads the section with them and tests/unit/test_config_doc.c checks the
 * page against them.
 */
const struct setting *config_modbus_key(size_t i);
/*
 * Checks a modbus section: every key against its range, then the client's
 * rules across keys (mbclient_config_check()).  Calls report(arg, key, why)
 * for each problem, key the dotted path ("modbus.timeout"); report may be
 * NULL.  Returns 0, or -EINVAL.  What config_load() gives has passed it; a
 * section built by hand may not.
 */
int	 config_modbus_check(const struct cfg_modbus *m,
	    setting_report_cb report, void *arg);

/*
 * Value parsers, exported for tests and other readers.  Each returns 0, or
 * -EINVAL with *why set to a static explanation.
 */
int	 config_parse_duration(const char *s, int64_t *ms, const char **why);
int	 config_parse_size(const char *s, uint64_t *bytes, const char **why);
/*
 * Modicon notation: 00001-09999 coils, 10001-19999 discrete inputs,
 * 30001-39999 input registers, 40001-49999 holding registers, and the
 * six-digit forms 000001-065536 ... 400001-465536.  Gives the table and the
 * 0-based address.
 */
int	 config_parse_modicon(const char *s, enum mbmap_table *table,
	    uint16_t *address, const char **why);

#endif
