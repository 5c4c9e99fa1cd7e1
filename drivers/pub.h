/*
 * pub.h - what a publisher (Kafka, Redis, file) is handed, and how it says
 * a record is safely out.  An interface only: no pub.c.
 *
 * The journal is the outbox (DESIGN.md "When a part fails"): every shard
 * writes its incident events to its own journal first, and the daemon's
 * pump (daemon/publish) reads each journal from every sink's own position
 * and offers the records to that sink, one shard's records in journal
 * order.  A sink never owns a record's bytes: offer() copies what it keeps
 * (into librdkafka's queue, hiredis' output buffer, a write buffer).
 *
 * Delivery, per sink and per shard, is at least once and in order:
 *   - offer() returns 0 (taken) or -EAGAIN (full, down, reconnecting: the
 *     pump stops offering to this sink until it calls host->ready());
 *   - when every record of a shard up to and including `pos` is durably
 *     out (Kafka delivery report without error, Redis replies, write
 *     returned), the sink calls host->done(shard, pos); calls for one shard
 *     never go back in pos;
 *   - after a definite failure (a Kafka delivery report with an error) the
 *     sink calls host->rewind(shard, pos): the pump offers again every
 *     record of that shard from pos on (so later records that did go out
 *     are sent twice: consumers drop a repeated (incident, seq));
 *   - a record the far end refuses for good (too large, unauthorised) is
 *     logged and counted by the sink, which reports it done and carries on.
 * The pump saves each sink's done position, so after a restart a sink
 * resumes right after the last record it reported done.
 *
 * All of it runs on the daemon's libev loop thread.
 */
#ifndef TOCSIN_PUB_H
#define TOCSIN_PUB_H

#include <stddef.h>
#include <stdint.h>

struct incjson_scan;
struct incjson_span;

/* Kinds of journal records a sink is offered. */
enum pub_kind {
	PUB_EVENT,	/* a tocsin.incident/1 event (Kafka, Redis, file) */
	PUB_STATE,	/* an incident's whole state, its full timeline in
			 * "steps" (the JSON of an event with every step), sent
			 * between PUB_DUMP_BEGIN and PUB_DUMP_END of a dump */
	PUB_DUMP_BEGIN,	/* a shard starts dumping its live incidents */
	PUB_DUMP_END,	/* ... and is done: with the STATE records in between
			 * it is the shard's whole live set at that point */
	PUB_REJECTED,	/* an action the engine refused: json is the
			 * tocsin.actions.rejected value */
	PUB_ACTION,	/* an action taken from tocsin.actions is journaled:
			 * the Kafka consumer may commit kpart/koffset */
	PUB_ALARM,	/* an alarm transition the shard took in, as it was
			 * journaled (tocsin.alarms; other sinks skip it) */
	PUB_TICK,	/* the shard's engine reached `at` (a tick the shard
			 * journaled): stream time on tocsin.alarms; other
			 * sinks skip it */
	PUB__COUNT
};

/* A step's JSON object inside json: json[off, off + len). */
struct pub_span {
	uint32_t	 off, len;
};

/* One record; valid during offer() only. */
struct pub_rec {
	uint64_t	 pos;		/* journal position, for done/rewind */
	uint64_t	 next;		/* where the next record starts (a
					 * resume point: daemon/sse's ids) */
	unsigned	 shard;
	uint8_t		 kind;		/* enum pub_kind */
	/* PUB_EVENT, PUB_STATE: */
	uint8_t		 type;		/* enum corr_evtype */
	uint8_t		 state;		/* enum corr_state */
	uint8_t		 severity;	/* enum severity */
	uint8_t		 live;		/* 0 once the incident is closed */
	uint64_t	 seq;		/* the event's seq */
	int64_t		 at;		/* event time, ms */
	int64_t		 opened_at;	/* ms */
	int64_t		 deadline;	/* next SLA deadline (ms), 0: none */
	const char	*id;		/* incident id, NUL-terminated */
	const char	*site;		/* site id ("" for an area incident) */
	const char	*area;		/* area id */
	/* PUB_EVENT, PUB_STATE, PUB_REJECTED: */
	const char	*json;		/* compact JSON, no newline */
	size_t		 jsonlen;
	/* PUB_EVENT, PUB_STATE: the timeline steps it carries, and how many
	 * of the event's steps before them it leaves out (0 but for a
	 * timeline too large for one journal record: its oldest steps) */
	const struct pub_span *steps;
	uint32_t	 nsteps;
	uint32_t	 cut;
	/* PUB_EVENT, PUB_STATE handed over by their writer, not read from a
	 * journal (store_dump_sink): what incjson_scan() finds in json, the
	 * customers' ids at cust[0, scan->ncust); else NULL */
	const struct incjson_scan *scan;
	const struct incjson_span *cust;
	/* PUB_ALARM (site and area above, "" in a journal written before
	 * they were kept; at and severity above too): */
	const char	*device;	/* device id */
	const char	*code;		/* alarm code */
	double		 value;		/* the point's value; NAN: none */
	uint8_t		 edge;		/* enum alarm_edge */
	/* PUB_ACTION, PUB_REJECTED: where the action came from, or -1 */
	int32_t		 kpart;		/* tocsin.actions partition */
	int64_t		 koffset;	/* its offset there */
};

/* What a sink calls back; the pump fills it in. */
struct pub_host {
	void	(*ready)(void *arg);	/* offer() may take records again */
	void	(*done)(void *arg, unsigned shard, uint64_t pos);
	void	(*rewind)(void *arg, unsigned shard, uint64_t pos);
	/* The far end lost its state (Redis restarted, reconnect): have every
	 * shard journal a dump of its live incidents (PUB_DUMP_BEGIN, one
	 * PUB_STATE each, PUB_DUMP_END), offered to every sink in order. */
	void	(*resync)(void *arg);
	void	*arg;
};

struct pub_sink;

/* A sink's ops; the instance's first member points here (STYLE.md 2). */
struct pub_ops {
	const char	*name;		/* "kafka", "redis", "file" */
	/* Takes one record: 0, or -EAGAIN (nothing taken; wait for ready). */
	int	(*offer)(struct pub_sink *s, const struct pub_rec *r);
	/* 1 while the far end is reachable and writable (for /healthz). */
	int	(*healthy)(const struct pub_sink *s);
	/* Flushes what it can in at most timeout_ms (0: do not wait) and
	 * frees everything; records not reported done are simply offered
	 * again after the next start. */
	void	(*close)(struct pub_sink *s, int timeout_ms);
	/* Makes what it reported done durable on this machine's disk (a
	 * file sink's fdatasync), called before the pump saves its
	 * positions: 0, or -errno (they are not saved, nor the journal
	 * trimmed below them, until a later call succeeds).  May be NULL:
	 * the far end keeps what it took (Kafka, Redis), or a power loss
	 * may cost the sink's last lines (docs/journal.md). */
	int	(*sync)(struct pub_sink *s);
};

struct pub_sink {
	const struct pub_ops *ops;
};

#endif
