/*
 * cfeed.h - a correlator's feed of the sinks on its libev loop (Redis):
 * what the stage commits, handed from the stage's thread to the loop's
 * (docs/scaleout.md "Redis fed by a correlator").
 *
 * A `role: all` daemon's sinks read the shards' journals from their own
 * positions (daemon/publish), so a sink that is down costs disk.  A
 * correlator has no journal: its events are durable on tocsin.incidents,
 * its state on tocsin.changelog.  So its loop's sink is fed through one
 * daemon/ring (SPSC, stage to loop) of record copies, bounded in slots and
 * in bytes, and a sink that is down or slow folds instead of spilling:
 *
 *   - the stage offers, through cfeed_stage_sink(), each transaction's
 *     incident events once it committed and a partition's whole live set
 *     (PUB_DUMP_BEGIN, a PUB_STATE per live incident, PUB_DUMP_END) after
 *     each rebuild; offer() copies the record and never says -EAGAIN;
 *   - when the ring is full or holds more than max_bytes, the record is
 *     not queued and its partition folds: every later record of it is
 *     dropped too (counted, logged rate-limited) and the partition owes a
 *     dump (cfeed_wanted());
 *   - between transactions the stage takes cfeed_wanted() and dumps each
 *     named partition it owns once cfeed_room() says a dump fits: a dump
 *     (PUB_DUMP_BEGIN to PUB_DUMP_END) is queued whole as one message,
 *     whatever its size and past the byte limit, so it is never cut and
 *     a partition larger than the ring is dumped too; its PUB_DUMP_BEGIN
 *     ends the fold.  The dump makes the sink
 *     equal the partition's live set (for Redis: its stale check), so
 *     the sink's state converges; what folded is missing only from what
 *     keeps every event (Redis' stream), which tocsin.incidents has;
 *   - the sink's resync() (Redis reconnected) asks a dump of every
 *     partition, served the same way;
 *   - cfeed_revoked(p): the partition moved away.  Its records not yet
 *     offered are dropped (an epoch per partition: the loop drops a record
 *     of an older one), so this instance's old state never lands after
 *     the new owner's dump.  Nothing is removed from the sink: the sink
 *     is shared and the new owner's dump replaces the partition.  With
 *     cfeed_late_events() on (a sink that writes a state only over an
 *     older one: Redis' seq guard) its events are offered all the same,
 *     so that the sink's every-event part (the stream) has them; only
 *     its dumps are dropped (an old live set must never meet a newer
 *     owner's incidents).
 *
 * On the loop the feed is the sink's pump (pub.h's host): it offers the
 * ring's records in order, keeps each offered record until the sink says
 * it is done, offers again from a rewind, and waits for ready() after an
 * -EAGAIN.  Positions are per partition, 1, 2, ... as the stage offered.
 *
 * Threads: cfeed_stage_sink()'s offer, cfeed_revoked(), cfeed_wanted(),
 * cfeed_room() on the stage's thread; cfeed_attach(), the host's
 * callbacks and cfeed_close() on the loop's; cfeed_stats() any thread.
 */
#ifndef TOCSIN_CFEED_H
#define TOCSIN_CFEED_H

#include <stddef.h>
#include <stdint.h>

#include "drivers/pub.h"

struct ev_loop;
struct cfeed;

#define CFEED_MAX_PARTS	64		/* as CSTAGE_MAX_PARTS */
#define CFEED_BYTES	(256u << 20)	/* their bytes, at most */
#define CFEED_TURN	512		/* records a loop iteration offers */

struct cfeed_stats {
	uint64_t	 records;	/* queued by the stage */
	uint64_t	 folded;	/* not queued: their partition folded */
	uint64_t	 folds;		/* times a partition began to fold */
	uint64_t	 revoked;	/* dropped: their partition moved away */
	uint64_t	 late;		/* events offered although their
					 * partition moved away
					 * (cfeed_late_events) */
	uint64_t	 offered;	/* taken by the sink (again after a
					 * rewind included) */
	uint64_t	 refused;	/* offers the sink answered -EAGAIN */
	uint64_t	 done;		/* reported done by the sink */
	uint64_t	 rewinds;
	uint64_t	 resyncs;	/* the sink asked for every partition */
	uint64_t	 queued;	/* records alive: ring, in flight */
	uint64_t	 bytes;		/* ... their bytes */
};

/*
 * A feed on loop (its async watcher is started here: make it before the
 * loop's thread runs).  slots: a power of two (redis.feed_records, rounded
 * up), max_bytes (CFEED_BYTES).  Never NULL.
 */
struct cfeed *cfeed_new(struct ev_loop *loop, unsigned slots,
	    size_t max_bytes);
/* The host to hand the sink's constructor (callbacks on the loop). */
const struct pub_host *cfeed_host(struct cfeed *f);
/* The sink fed (loop's thread, before the stage offers). */
void	 cfeed_attach(struct cfeed *f, struct pub_sink *s);
/* A revoked partition's queued events offered all the same (above); set
 * before the loop runs. */
void	 cfeed_late_events(struct cfeed *f, int on);

/* Stage's thread: */
struct pub_sink *cfeed_stage_sink(struct cfeed *f);
/* The partitions owing a dump (bit p), taken: each is asked once. */
uint64_t cfeed_wanted(struct cfeed *f);
/* Asks partition p's dump again (one cfeed_room() refused). */
void	 cfeed_want(struct cfeed *f, unsigned p);
/* 1 if a dump fits now (a free slot, half the byte limit free): then it
 * does not fold. */
int	 cfeed_room(struct cfeed *f);
void	 cfeed_revoked(struct cfeed *f, unsigned p);

void	 cfeed_stats(struct cfeed *f, struct cfeed_stats *out);
/* Loop's thread, the stage stopped: frees every record still held (the
 * sink must be closed first) and the feed. */
void	 cfeed_free(struct cfeed *f);

#endif
