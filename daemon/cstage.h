/*
 * cstage.h - the correlator of a scale-out (docs/scaleout.md): the
 * partitions of tocsin.alarms this instance is assigned, one engine each,
 * made as the shard of the partition's number; their incident events to
 * tocsin.incidents and their state to tocsin.changelog, in the Kafka
 * transaction that commits the alarms they came from (drivers/kafka/ktxn).
 *
 * Input: tocsin.alarms/1 lines (an alarm transition or a tick, the lines
 * tocsind --replay reads: daemon/replay's parser), applied in offset
 * order; a record behind the engine's time is applied with its own `at`
 * (the engine does not go back).  A line that does not parse, or names a
 * device or site the fleet lacks, is counted and passed by.
 *
 * State: before each commit, for every owned partition that took input,
 * the engine's head (corr_engine_save_head, key "meta:<p>") and every live
 * incident whose record differs from the one last written ("inc:<id>",
 * corr_engine_save_incident) go to tocsin.changelog partition p; an
 * incident gone from the engine gets a tombstone.  On assignment, and
 * after an abort, partition p's engine is rebuilt from that partition of
 * the changelog read to its end (read_committed, the latest value of each
 * key: corr_engine_load_parts), so it is exactly the engine of the last
 * commit and the inputs after that commit come again into it.
 *
 * Not yet: operator actions (forwarded into the alarms partitions by the
 * pollers, docs/scaleout.md), maintenance windows, the daemon wiring
 * (daemon.role), Redis and HTTP fed from the incidents topic.
 */
#ifndef TOCSIN_CSTAGE_H
#define TOCSIN_CSTAGE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "correlator/corr.h"
#include "correlator/fleet.h"
#include "drivers/kafka/kafka.h"

#define CSTAGE_MAX_PARTS	64	/* as daemon.shards */

struct cstage_config {
	const char	*brokers;
	const char	*group;		/* the correlators' consumer group */
	const char	*alarms;	/* tocsin.alarms */
	const char	*incidents;	/* tocsin.incidents */
	const char	*changelog;	/* tocsin.changelog, partitioned like
					 * alarms */
	const char	*txn_id;	/* this instance's transactional.id */
	const char	*client_id;
	struct fleet	*fleet;		/* codes may be interned */
	const struct corr_config *cc;
	uint32_t	 commit_ms;	/* 0: ktxn's default */
	const struct kafka_prop *props;
	size_t		 nprops;
};

struct cstage_stats {
	uint64_t	 records;	/* input records applied */
	uint64_t	 ticks;		/* ... of which ticks */
	uint64_t	 bad;		/* passed by: unparsable or unknown */
	uint64_t	 events;	/* incident events produced */
	uint64_t	 changelog;	/* changelog records produced */
	uint64_t	 rebuilds;	/* partitions rebuilt from the changelog */
	uint64_t	 rebuild_ms;	/* the last rebuild's time */
	uint64_t	 commits, aborts;
};

/*
 * Runs the stage until *stop: 0, or -errno with the reason in err (a
 * fatal Kafka error, a changelog that does not load).  st, if not NULL,
 * gets its counters at the end.
 */
int	 cstage_run(const struct cstage_config *cfg, const atomic_int *stop,
	    struct cstage_stats *st, char *err, size_t errlen);

#endif
