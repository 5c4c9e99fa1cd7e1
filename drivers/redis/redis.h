/*
 * redis.h - the Redis publisher: incident events and device state written
 * to Redis for the NOC screens (DESIGN.md "Outside contracts: Redis"),
 * with hiredis' asynchronous API on the daemon's libev loop.
 *
 * It is a pub_sink (drivers/pub.h): the pump offers journal records, the
 * sink appends each record's commands to one pipelined connection and
 * returns at once, and reports a record done when the reply to its last
 * command arrives.  Replies come back in order on one connection, so one
 * FIFO of records in flight is the whole bookkeeping.  docs/redis.md has
 * the keys and fields, the resync protocol and the failure behaviour;
 * this header is the C contract.
 *
 * Delivery (pub.h):
 *   - offer() returns -EAGAIN while the sink is not connected (connecting,
 *     authenticating, backing off) and while max_inflight records are in
 *     flight; it calls host->ready() when the backlog falls below half of
 *     that, and after every (re)connect;
 *   - on every (re)connect, once AUTH and SELECT (when configured) are
 *     answered, the sink calls host->resync() and then host->ready(): the
 *     shards dump their live incidents and the dump makes Redis equal the
 *     live set, whatever Redis lost or kept meanwhile;
 *   - when the connection breaks, the records in flight are not done: for
 *     each shard with records in flight the sink calls host->rewind(shard,
 *     first pos in flight), and they are offered again after the
 *     reconnect (their commands are idempotent or repaired by the dump);
 *   - a command Redis answers with an error (WRONGTYPE, OOM) is logged
 *     (rate-limited), counted in `errors`, and its record is done anyway:
 *     the far end refused it for good (pub.h);
 *   - records the sink has nothing to write for (PUB_REJECTED, PUB_ACTION,
 *     PUB_DUMP_BEGIN) are done in order with the shard's other records:
 *     when the record before them is, or in the loop's next iteration
 *     when nothing is in flight; done() is never called from inside
 *     offer(), so the pump may count a record taken after offer() returns.
 *
 * The process must ignore SIGPIPE (hiredis 0.14 writes with write(2)).
 * A host name is resolved with a blocking getaddrinfo() at each connect
 * (hiredis 0.14): give an address literal or a unix socket.
 *
 * Everything runs on the loop's thread.  The adapter is reached through
 * its ops table (STYLE.md 2); hiredis stays inside redis.c.
 */
#ifndef TOCSIN_REDIS_H
#define TOCSIN_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/setting.h"
#include "drivers/pub.h"

struct ev_loop;

/*
 * Settings.  The uint32_t fields are the scalar keys of the YAML `redis:`
 * section (field name without _ms), and the one table redis_settings[]
 * gives each its range and default; the strings are borrowed by
 * redis_config_defaults() and copied by redis_new().
 */
/* The sink's Lua scripts (redis_script_text()). */
enum redis_script {
	REDIS_SCRIPT_SITE,	/* a site hash's worst open state */
	REDIS_SCRIPT_STALE,	/* a dump's stale check */
	REDIS_SCRIPT_GUARD,	/* an incident record under seq_guard */
	REDIS_NSCRIPTS
};

struct redis_config {
	const char	*host;		/* "127.0.0.1"; ignored with unix_path */
	const char	*unix_path;	/* unix socket path, or NULL (TCP) */
	const char	*password;	/* AUTH, or NULL; never logged */
	const char	*prefix;	/* of every key, "tocsin:" */
	const char	*id_prefix;	/* incident ids' prefix, "INC-" (the
					 * correlator's id_prefix): says which
					 * shard a stale id belongs to */
	uint32_t	 port;		/* TCP port, 6379 */
	uint32_t	 db;		/* SELECT this when not 0 */
	uint32_t	 stream_maxlen;	/* XADD MAXLEN ~ this */
	uint32_t	 closed_ttl_ms;	/* a closed incident's hash and
					 * timeline expire after this */
	uint32_t	 max_inflight;	/* records in flight before -EAGAIN */
	uint32_t	 backoff_min_ms; /* first reconnect delay */
	uint32_t	 backoff_max_ms; /* reconnect delay cap */
	uint32_t	 connect_timeout_ms; /* a connect (and AUTH/SELECT)
					      gives up after this */
	/* not YAML keys: */
	uint32_t	 seed;		/* jitter PRNG seed; 0: from the time */
	uint32_t	 seq_guard;	/* 1: every incident record is one
					 * script that writes its state only
					 * over an older seq (a correlator's
					 * redis.seq_guard: a partition has two
					 * writers while it moves;
					 * docs/redis.md) */
	char		 script_sha[REDIS_NSCRIPTS][41];
					/* each script's SHA1 (hex) as SCRIPT
					 * LOAD answered it: EVALSHA; "": EVAL
					 * of its text (the sink sets them at
					 * every connect) */
};

/* The scalar settings, in docs order; the last has key NULL. */
extern const struct setting redis_settings[];

/*
 * Fills c with every scalar setting's default, the string defaults above
 * (static strings; password and unix_path NULL) and seed 0.
 */
void	 redis_config_defaults(struct redis_config *c);


/*
 * Checks every scalar setting against its range, then that backoff_min
 * does not exceed backoff_max and that host (or unix_path), prefix and
 * id_prefix are set, calling report(arg, prefix + key, why) for each
 * problem (report may be NULL).  Returns 0 or -EINVAL.  redis_new() does
 * not check; its callers do.
 */
int	 redis_config_check(const struct redis_config *c, const char *prefix,
	    setting_report_cb report, void *arg);

/* Counters; read on the loop's thread. */
struct redis_stats {
	uint64_t	 records;	/* records taken by offer() */
	uint64_t	 commands;	/* commands sent */
	uint64_t	 replies;	/* replies received (errors included) */
	uint64_t	 errors;	/* error replies (and handshake errors) */
	uint64_t	 reconnects;	/* connections made after the first */
	uint64_t	 resyncs;	/* host->resync() calls */
	uint64_t	 stale_removed;	/* incidents a dump found stale */
	uint64_t	 older_skipped;	/* seq_guard: records whose state was
					 * not newer than Redis' hash (their
					 * stream entry still added) */
	uint64_t	 inflight;	/* records taken and not yet done */
	uint64_t	 connect_failures; /* attempts that failed or timed out */
	uint64_t	 disconnects;	/* established connections lost */
};

/*
 * Makes the sink on loop and starts connecting (the first attempt is made
 * here; its outcome arrives on the loop).  cfg and its strings are
 * copied; *host is copied and host->arg must outlive the sink; its
 * callbacks are called on the loop's thread.  host NULL makes a sink for
 * redis_device_put() alone, which no pump offers records to and which
 * asks no dump after a (re)connect (a poller's: docs/scaleout.md, "Device
 * keys").  Returns 0 and sets *out, or -EINVAL (NULL arguments but host,
 * a host without every callback, no host nor unix_path).
 * Free with (*out)->ops->close(*out, timeout_ms): it waits up to
 * timeout_ms for the replies in flight (driving hiredis itself, not the
 * loop) and reports them done.  Never call close() from inside a host
 * callback (hiredis is in the middle of a reply then).
 */
int	 redis_new(struct ev_loop *loop, const struct redis_config *cfg,
	    const struct pub_host *host, struct pub_sink **out);

/* Copies the sink's counters into *out. */
void	 redis_stats(const struct pub_sink *s, struct redis_stats *out);

/*
 * A device's communication state changed: writes hash prefix +
 * "device:<device_id>" (fields comm, last_poll_ms, rtt_ms).  The daemon
 * calls it on change only, so the sink keeps every device's last value
 * and writes them all again after each (re)connect; while disconnected
 * the value is only kept.  comm is "ok" or "lost".  Returns 0 (written or
 * kept), or -EINVAL (NULL or empty id, comm not "ok"/"lost").  Not
 * reported through done(): the device hash is state, not journal.
 */
int	 redis_device_put(struct pub_sink *s, const char *device_id,
	    const char *comm, int64_t last_poll_ms, int64_t rtt_ms);

/*
 * The commands of one record, as argument vectors (binary safe): command
 * i is argv[first[i] .. first[i] + argc[i]) with lengths argvlen[].  The
 * arguments point into the record (json, step spans) and into the
 * struct's own buffer, so they are valid until the next build or fini and
 * while the record is.  One struct is reused from record to record.
 */
struct redis_argv {
	unsigned	 ncmd;		/* commands */
	unsigned	*first;		/* ncmd: index of each's first argument */
	unsigned	*argc;		/* ncmd: its number of arguments */
	const char	**argv;		/* all arguments */
	size_t		*argvlen;	/* their lengths */
	/* private: */
	unsigned	 nargs, capargs, capcmd;
	size_t		*argoff;	/* own arguments: offset in buf, or
					 * SIZE_MAX (argv[] set directly) */
	char		*buf;		/* keys and numbers, back to back */
	size_t		 buflen, bufcap;
	int		 nest;		/* seq_guard: commands are lines of
					 * the guard script being built */
	unsigned	*lines;		/* each line's count argument */
	unsigned	 nlines, caplines;
	unsigned	 nlines_at;	/* the argument counting the lines */
};

void	 redis_argv_init(struct redis_argv *a);
void	 redis_argv_fini(struct redis_argv *a);

/*
 * Builds into a (emptied first) the commands the sink sends for record r
 * under cfg (prefix, stream_maxlen, closed_ttl_ms): for PUB_EVENT HSET of
 * the incident hash, RPUSH of its steps to the timeline, ZADD/ZREM of
 * incidents:open and deadlines, XADD to the stream, the site update
 * (EVAL) and, once closed, EXPIRE of hash and timeline; for PUB_STATE
 * the same without XADD, the timeline rewritten (DEL, RPUSH); for
 * PUB_DUMP_END the stale check (EVAL); nothing for the other kinds.
 * With cfg->seq_guard an incident record is instead one EVAL of the
 * guard script carrying those commands (the site update as a SITE
 * line): Redis runs them only if the record's seq is newer than the
 * hash's (or equal, for PUB_STATE), but XADD always.  Scripts go by
 * EVALSHA once cfg->script_sha names them.  docs/redis.md lists them.
 * The sink and bench/redisbase both send exactly these.  Returns the number of commands (>= 0), or
 * -EINVAL for a record without id or json where one is needed.
 */
int	 redis_record_argv(const struct redis_config *cfg,
	    const struct pub_rec *r, struct redis_argv *a);

/*
 * The text of script i (enum redis_script), for SCRIPT LOAD; the sink
 * loads them on every connect and sends EVALSHA (a record's EVAL of the
 * text made Redis hash 1-2 KB per call: docs/redis.md).
 */
const char *redis_script_text(enum redis_script i);

#endif
