/*
 * cstage.h - the correlator of a scale-out (docs/scaleout.md): the
 * partitions of tocsin.alarms this instance is assigned, one engine each,
 * made as the shard of the partition's number; their incident events to
 * tocsin.incidents and their state to tocsin.changelog, in the Kafka
 * transaction that commits the alarms they came from (drivers/kafka/ktxn).
 *
 * Input: the lines tocsind --replay reads (daemon/replay's parser and its
 * appliers): alarm transitions, ticks, operator actions and maintenance
 * windows, applied in offset order; a record behind the engine's time is
 * applied with its own `at` (the engine does not go back).  A line that
 * does not parse, or names a device or site the fleet lacks, is counted,
 * logged (rate-limited) and passed by; an action the engine refuses goes
 * to the rejected topic in the same transaction, as the live daemon's
 * consumer sends a bad action; a refused window is counted and logged.
 *
 * State: before each commit, for every owned partition that took input,
 * the engine's head (corr_engine_save_head, key "meta:<p>") and every live
 * incident whose record differs from the one last written ("inc:<id>",
 * corr_engine_save_incident) go to tocsin.changelog partition p; an
 * incident gone from the engine gets a tombstone.  A value larger than
 * CLVALUE_PIECE goes as a head and its pieces (daemon/clvalue: a Kafka
 * message has a limit, an incident's timeline has none), and only the
 * pieces whose bytes changed are written again.  On assignment, and
 * after an abort, partition p's engine is rebuilt from that partition of
 * the changelog read to its end (read_committed, the latest value of each
 * key: corr_engine_load_parts), so it is exactly the engine of the last
 * commit and the inputs after that commit come again into it.
 *
 * Each commit also records where that state is in the input ("pos:<p>",
 * the offset the commit sends), and a rebuild reads the changelog until it
 * reaches the group's stable committed offset: the markers of a commit
 * may become readable after its offsets, and a killed instance's open
 * transaction holds readers back until the broker aborts it.  The
 * partition then resumes where its state is.
 *
 * What is committed also goes to the read API's sink when there is one
 * (cstage_config.reads: daemon/view): each transaction's events once it
 * commits, a partition's live set when it is rebuilt or revoked.
 *
 * The same goes to the loop's sinks (cstage_config.feed: Redis), with
 * their dumps on request (docs/scaleout.md "Redis fed by a correlator").
 *
 * Run by `daemon.role: correlator` (daemon/crole, whose read sink is the
 * view and the event stream).  Not yet: the file sink of a correlator
 * (docs/scaleout.md).
 */
#ifndef TOCSIN_CSTAGE_H
#define TOCSIN_CSTAGE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "correlator/corr.h"
#include "correlator/fleet.h"
#include "drivers/kafka/kafka.h"
#include "drivers/pub.h"

struct cfeed;

#define CSTAGE_MAX_PARTS	64	/* as daemon.shards */

struct cstage_config {
	const char	*brokers;
	const char	*group;		/* the correlators' consumer group */
	const char	*alarms;	/* tocsin.alarms */
	const char	*incidents;	/* tocsin.incidents */
	const char	*history;	/* closed events again; NULL or "":
					 * none (daemon/chist) */
	const char	*changelog;	/* tocsin.changelog, partitioned like
					 * alarms */
	const char	*rejected;	/* refused actions; NULL or "": none */
	const char	*txn_id;	/* this instance's transactional.id */
	const char	*client_id;
	struct fleet	*fleet;		/* codes may be interned */
	const struct corr_config *cc;
	uint32_t	 commit_ms;	/* 0: ktxn's default */
	const struct kafka_prop *props;
	size_t		 nprops;
	/*
	 * The read API's sink (daemon/view), or NULL.  Offered, on the
	 * stage's thread, what is committed only: each transaction's
	 * incident events once it commits (in the order they were made);
	 * each partition's whole live set when it is rebuilt (on
	 * assignment, after an abort: PUB_DUMP_BEGIN, a PUB_STATE per live
	 * incident, PUB_DUMP_END, shard = the partition); an empty dump of a
	 * revoked partition.  Its offer() must take every record.
	 */
	struct pub_sink	*reads;
	/*
	 * The feed of the sinks on this instance's loop (daemon/cfeed:
	 * Redis), or NULL.  Offered, on the stage's thread, what `reads` is
	 * (each commit's events, a rebuilt partition's live set) when it has
	 * room, but for a revoked partition: cfeed_revoked() instead of an
	 * empty dump (Redis is shared; the new owner's dump replaces the
	 * partition there).  Between transactions the stage dumps each owned
	 * partition cfeed_wanted() names (a fold, a Redis reconnect).
	 */
	struct cfeed	*feed;
};

struct cstage_stats {
	uint64_t	 records;	/* input records applied */
	uint64_t	 ticks;		/* ... of which ticks */
	uint64_t	 bad;		/* passed by: unparsable or unknown */
	uint64_t	 actions;	/* operator actions applied */
	uint64_t	 actions_rejected; /* ... refused (to `rejected`) */
	uint64_t	 maint;		/* maintenance lines applied */
	uint64_t	 maint_rejected; /* ... refused */
	uint64_t	 events;	/* incident events produced */
	uint64_t	 changelog;	/* changelog records produced */
	uint64_t	 split;		/* ... of which heads of values
					 * written in pieces (daemon/clvalue) */
	uint64_t	 rebuilds;	/* partitions rebuilt from the changelog */
	uint64_t	 rebuild_ms;	/* the last rebuild's time */
	uint64_t	 feed_dumps;	/* partitions dumped to the feed */
	uint64_t	 commits, aborts;
};

/* One owned partition, as cstage_view() shows it. */
struct cstage_part_view {
	int32_t		 partition;
	uint64_t	 incidents;	/* live incidents in its engine */
	int64_t		 offset;	/* input offset of its last commit's
					 * state, -1: none yet */
	int64_t		 lag;		/* input records its committed state has
					 * not taken in: the end the consumer
					 * last heard of less offset (when
					 * viewed), -1: not known yet */
	uint64_t	 rebuild_ms;	/* its last rebuild from the changelog */
	uint64_t	 rebuild_records; /* changelog records that read */
};

struct cstage_view {
	struct cstage_stats st;
	uint64_t	 assigned;	/* assignments so far (0: not yet
					 * in the group) */
	size_t		 nparts;
	struct cstage_part_view parts[CSTAGE_MAX_PARTS];
};

struct cstage;

/*
 * Both Kafka clients, the producer's transactions initialised (a
 * previous incarnation's open transaction aborted): 0, or -errno with the
 * reason in err.  cfg must outlive the stage.
 */
int	 cstage_new(const struct cstage_config *cfg, struct cstage **out,
	    char *err, size_t errlen);
/*
 * Runs the stage, on the calling thread (its calls block, with bounds),
 * until *stop: 0, or -errno with the reason in err (a fatal Kafka error,
 * a changelog that does not load).
 */
int	 cstage_run(struct cstage *cs, const atomic_int *stop, char *err,
	    size_t errlen);
/* Its state as of the last commit or rebalance (any thread). */
void	 cstage_view(struct cstage *cs, struct cstage_view *out);
/*
 * The correlators' group as the broker has it (any thread; blocks up to
 * timeout_ms): an array of {"client_id", "host", "partitions": [...]}
 * (the partitions of the alarms topic each member owns), or NULL with the
 * reason in err.
 */
json_t	*cstage_members(struct cstage *cs, int timeout_ms, char *err,
	    size_t errlen);
/* Leaves the group (an open transaction is aborted) and frees. */
void	 cstage_free(struct cstage *cs);

#endif
