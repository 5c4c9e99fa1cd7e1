/*
 * afwd.h - the action forwarder of a scale-out (docs/scaleout.md,
 * "Actions"): ticketing's actions (kafka.actions, whatever partitioner its
 * client has) go to the partition of kafka.alarms their incident id names
 * (INC-p-n: partition p), as the action lines a replay reads, so that an
 * action is part of its engine's one ordered input with the alarms and
 * the ticks, and a replay of the partition reproduces it.  Exactly once:
 * each action is consumed, forwarded and its offset committed in one Kafka
 * transaction (drivers/kafka/ktxn).  One that does not parse
 * (kafka_action_parse, the live consumer's parser), or whose id names no
 * partition of the topic, goes to kafka.rejected in the same transaction,
 * as the live consumer rejects it; an action the engine refuses is
 * rejected by the correlator that owns it (daemon/cstage).
 *
 * A missing "at" is the time the forwarder reads the action, written into
 * the line: the partition, not the correlator's clock, holds it.
 *
 * Run by `daemon.role: poller` (every poller of a deployment, one consumer
 * group: ticketing's partitions are shared among them) on a thread of its
 * own.
 */
#ifndef TOCSIN_AFWD_H
#define TOCSIN_AFWD_H

#include <stddef.h>
#include <stdint.h>

#include "drivers/kafka/kafka.h"

struct afwd_config {
	const char	*brokers;
	const char	*group;		/* the forwarders' consumer group */
	const char	*actions;	/* consumed: ticketing's actions */
	const char	*alarms;	/* produced: the partitions */
	const char	*rejected;	/* refused actions; "": none */
	const char	*txn_id;	/* this forwarder's transactional.id */
	const char	*client_id;
	const char	*id_prefix;	/* incident ids' (correlation.id_prefix) */
	uint32_t	 partitions;	/* of alarms: the shards */
	const struct kafka_prop *props;
	size_t		 nprops;
};

struct afwd_stats {
	uint64_t	 forwarded;
	uint64_t	 rejected;
};

struct afwd;

/* Its clients, its thread started: 0, or -errno with the reason in err.
 * cfg's strings must outlive it. */
int	 afwd_start(const struct afwd_config *cfg, struct afwd **out, char *err,
	    size_t errlen);
/* Its counters (any thread). */
void	 afwd_stats(struct afwd *f, struct afwd_stats *out);
/* Stops (the open transaction commits), joins and frees. */
void	 afwd_stop(struct afwd *f);

#endif
