/*
 * store.h - a shard's durable state: what its engine is given and what it
 * decides, written to the shard's journal (daemon/journal.h) before anyone
 * sees it, and the engine rebuilt from it after a restart.
 *
 * The journal holds, in the order the shard handled them:
 *   inputs   ALARM, ACTION, MAINT_ADD, MAINT_DEL, TICK (a tick when it
 *            changed something, or when tick_keep_ms passed since the
 *            last one kept: the stream time tocsin.alarms carries; any
 *            other is taken back), COMPLAINT (a customer's complaint: it
 *            opens an incident);
 *   outputs  EVENT (tocsin.incident/1 JSON plus the fields Redis keys on),
 *            REJECTED (an action the engine refused, with the reason),
 *            STATE between DUMP_BEGIN and DUMP_END (a Redis resync);
 * An ACTION record ends with the close's satisfaction (one byte) and a
 * MAINT_ADD record with the window's actor; records written before these
 * fields existed end before them and read as 0 and no actor.
 * And, every so often, a snapshot of the whole engine (corr_engine_save)
 * after which older segments may go (journal_trim).  The engine is pure
 * and takes `now` from its inputs, so inputs replayed into the engine
 * restored from the snapshot rebuild exactly the state it had; outputs are
 * what the publishers read (daemon/publish).  Devices, sites, areas and
 * codes are written by name, so a journal survives a config that orders
 * the fleet differently.
 *
 * Durability (daemon.fsync): "always" syncs at the end of every round of
 * messages a shard handles (group commit) before readers may see any of
 * it; "batch" writes each round at once and syncs at most every fsync_ms
 * while busy and at once when the shard goes idle.  Either way nothing is
 * published before it is synced, so a power loss never takes back an
 * event a sink already sent; it can take back at most the last fsync_ms
 * of inputs and their events ("batch"), or nothing acknowledged
 * ("always").  A kill -9 loses nothing written, synced or not.
 *
 * A disk that refuses (full, read-only, EIO): the shard keeps its records
 * in memory and retries every STORE_RETRY_MS; past STORE_BUFFER_MAX bytes
 * it stops taking input (its rings fill, the poller folds alarm state:
 * nothing is lost) and sleeps between retries.  store_healthy() says so.
 */
#ifndef TOCSIN_STORE_H
#define TOCSIN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "correlator/corr.h"
#include "correlator/fleet.h"
#include "correlator/incjson.h"
#include "correlator/snapbuf.h"
#include "daemon/journal.h"
#include "daemon/router.h"
#include "drivers/pub.h"

#define STORE_RETRY_MS		1000		/* a refused write is retried */
#define STORE_BUFFER_MAX	(64u << 20)	/* bytes held while refused */

/* Record types (the journal's type byte). */
enum store_type {
	STORE_ALARM = 1, STORE_ACTION, STORE_MAINT_ADD, STORE_MAINT_DEL,
	STORE_TICK, STORE_COMPLAINT,
	STORE_EVENT = 16, STORE_STATE, STORE_DUMP_BEGIN, STORE_DUMP_END,
	STORE_REJECTED
};

enum store_fsync { STORE_FSYNC_BATCH, STORE_FSYNC_ALWAYS };

/*
 * What a shard reports for an input that carried a reply token
 * (router_input.reply), once that input and what it produced are written
 * to the journal (a kill -9 then loses none of it; the sync follows
 * daemon.fsync as for every record).
 */
struct store_outcome {
	uint8_t		 kind;		/* enum router_input_kind */
	int		 rc;		/* the engine's answer (router_input.rc) */
	const char	*reason;	/* ACTION, COMPLAINT refused: why;
					 * else "" */
	uint8_t		 state;		/* ACTION done: the incident's state */
	uint64_t	 seq;		/* ACTION done: its event's seq */
	uint32_t	 id;		/* MAINT_*: the window id */
	char		 incident[CORR_ID_LEN]; /* COMPLAINT done: the incident
					 * it opened; else "" */
};

/*
 * The outcome of input in as the shard's end hook left it (kind, rc,
 * reason (in's buffer: "" when accepted), window id, opened incident);
 * state and seq are the store's, 0 here.  What store reports, and what a
 * test without a journal reports the same way.
 */
void	 store_outcome_of(const struct router_input *in,
	    struct store_outcome *o);

struct store_config {
	const char	*dir;		/* this shard's journal directory */
	uint8_t		 fsync;		/* enum store_fsync */
	uint32_t	 fsync_ms;	/* batch: sync at least this often */
	uint64_t	 segment_bytes;	/* journal segment size; 0: default */
	uint64_t	 snapshot_bytes; /* snapshot once this much journal
					  * follows the last one; 0: never */
	uint32_t	 tick_keep_ms;	/* keep a tick this long after the
					 * last one kept even if it fired
					 * nothing (published as PUB_TICK);
					 * 0: only ticks that fired */
	/* Called on the shard thread when new records became durable
	 * (ev_async_send to the pump); may be NULL. */
	void		(*durable)(void *arg, unsigned shard);
	void		*durable_arg;
	/* Called on the shard thread with each reply token and its input's
	 * outcome, after the input's records are written (the batch hook);
	 * may be NULL.  Tokens of inputs whose records the disk refuses wait
	 * until it takes them. */
	void		(*replied)(void *arg, void *reply,
			    const struct store_outcome *o);
	void		*replied_arg;
};

/* Counters; any thread, may lag a little. */
struct store_stats {
	uint64_t	 records;	/* appended */
	uint64_t	 bytes;		/* appended, headers included */
	uint64_t	 syncs;
	uint64_t	 write_errors;	/* refused writes and syncs */
	uint64_t	 snapshots;
	uint64_t	 snapshot_bytes; /* size of the last snapshot */
	uint64_t	 held_bytes;	/* buffered while the disk refuses */
	uint64_t	 restored_inputs; /* inputs replayed at restore */
	uint64_t	 restored_events; /* events the restore wrote anew (a
					   * torn tail's) */
	uint64_t	 restore_ms;	/* restore time (store_open_all: with
					 * the journal's check, done in the
					 * same pass) */
	int		 healthy;	/* 0 while the disk refuses */
};

struct store;

/*
 * Opens shard `shard`'s journal (cutting a torn tail, logged).  Returns
 * NULL with a reason in err.
 */
struct store *store_open(const struct store_config *c, unsigned shard,
	    struct fleet *fleet, char *err, size_t errlen);
void	 store_close(struct store *st);
struct journal *store_journal(struct store *st);

/*
 * Rebuilds engine e (new, nothing fed) from the snapshot and the inputs
 * after it, before any thread runs: events the journal already holds are
 * not written again; those of a last input whose events were cut off are.
 * Then catches the engine up to now (corr_engine_catch_up: marks that came
 * due while the daemon was down fire at once, noted late), journaled like
 * a tick.  e's sink must be one that hands events to store_event() (the
 * store suppresses the replayed ones itself).  0, or -errno with a reason
 * in err (a snapshot that does not load).
 */
int	 store_restore(struct store *st, struct corr_engine *e, int64_t now,
	    char *err, size_t errlen);

/*
 * Opens and restores shards 0..n-1 at once, as tocsind starts: shard i's
 * journal (c[i]) is opened on a thread of its own (the caller's for the
 * last) and every record journal_open() checks goes straight into
 * engines[i] (the snapshot first, then the inputs, as store_restore() would
 * feed them), so each journal is read once and n shards use up to n cores.
 * Engine i and store i are touched by that one thread only, and every
 * thread is joined before this returns: the caller's threads (the shard
 * threads, the poller it seeds after) then see the restored state.
 * out[i] is shard i's store, or NULL where it did not open, set by its
 * thread before the first record (so engines[i]'s sink may look it up
 * there at event time); the caller closes every non-NULL one, after a
 * failure too.  0, or the failure of the lowest failing shard as -errno,
 * its reason in err (journal_open's, or "restore shard=N: " and why: a
 * snapshot that does not load, a journal that does not sync); the other
 * shards are still run to their end.
 */
int	 store_open_all(const struct store_config *c, unsigned n,
	    struct fleet *fleet, struct corr_engine *const *engines,
	    int64_t now, struct store **out, char *err, size_t errlen);

/* The router hooks that journal every input (arg: the struct store *
 * array, indexed by shard). */
extern const struct router_hooks store_hooks;

/* A shard's sink calls these for every event and every rejection. */
void	 store_event(struct store *st, const struct corr_event *ev);
void	 store_rejected(struct store *st, const struct corr_action *a,
	    const char *reason);
/*
 * Shard thread, a configuration reload (router_hooks.reload): names are
 * written from `fleet` from now on, and a snapshot of e (the engine over
 * it) goes into the journal at once, so a restart restores the state the
 * reload made instead of replaying older inputs against the new file.
 * 0, or -errno (logged; the reload stands, the next snapshot comes as
 * usual).
 */
int	 store_reload(struct store *st, struct corr_engine *e,
	    struct fleet *fleet);
/* Flushes and syncs whatever is buffered, now (shutdown, tests). */
int	 store_sync(struct store *st);

void	 store_stats(const struct store *st, struct store_stats *out);

/*
 * Where store_pub_rec() decodes a record's step spans: grown to the
 * largest count it met (a record's own bytes bound it, 8 a span), kept
 * for the next record.  Zero it to start; xfree(v) at the end.
 */
struct store_spans {
	struct pub_span	*v;
	uint32_t	 cap;
};

/*
 * Appends to b the payload of an EVENT or STATE record for ev (its JSON
 * made in jb): the fields publishers key on, the JSON, its steps' spans;
 * what store_pub_rec() decodes.  The journal's records, and what a
 * correlator hands its read API after a commit (daemon/cstage).
 */
void	 store_event_encode(struct snapbuf *b, struct incjson_buf *jb,
	    const struct fleet *f, const struct corr_event *ev);
/*
 * Decodes an output record for the publishers: 1 and *r (pointing into
 * rec's bytes and into sp's spans, valid until sp's next use), 0 for an
 * input record (not published but PUB_ACTION for an action that came
 * from Kafka), -EINVAL for a record that does not decode.  A timeline
 * has no step limit: every step of a state record is in r.
 */
int	 store_pub_rec(const struct journal_rec *rec, unsigned shard,
	    struct pub_rec *r, struct store_spans *sp);

/*
 * A shard's whole live set straight to a memory sink (the incident view),
 * not through the journal: what a resync dump in the journal gives it
 * (PUB_DUMP_BEGIN, a PUB_STATE per live incident in number order,
 * PUB_DUMP_END, each made by store_event_encode() and store_pub_rec()),
 * every record at journal position pos (the state is the journal's up to
 * there).  For a sink that needs the set when nothing else does: a
 * daemon's start (the journal already holds every state; Redis dumps
 * through the journal when it connects), a correlator's partition.
 */
struct store_dumper {
	struct snapbuf	 rec;		/* one record's payload */
	struct incjson_buf jb;		/* its JSON */
	struct store_spans spans;	/* its steps, decoded */
};

void	 store_dumper_init(struct store_dumper *d);
void	 store_dumper_fini(struct store_dumper *d);
/*
 * Offers the dump of engine e (NULL: an empty one, which takes the
 * shard's incidents out of the sink) at time `at`.  Returns how many
 * incidents were passed by because their record did not decode (none:
 * that would be a bug of the encoding; the caller counts and logs them).
 */
uint64_t store_dump_sink(struct store_dumper *d, struct pub_sink *s,
	    unsigned shard, uint64_t pos, const struct corr_engine *e,
	    const struct fleet *f, int64_t at);
/*
 * Offers one EVENT or STATE payload (store_event_encode) to s, decoded
 * into d's spans, with its writer's account (incjson_buf.acct; NULL: none,
 * the sink scans the JSON): 0, or -EINVAL when it cannot be decoded (as
 * store_dump_sink).
 */
int	 store_offer_payload(struct store_dumper *d, struct pub_sink *s,
	    unsigned shard, uint64_t pos, uint8_t type, const void *p,
	    size_t n, const struct incjson_scan *acct,
	    const struct incjson_span *cust);

#endif
