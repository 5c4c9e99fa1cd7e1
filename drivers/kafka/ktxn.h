/*
 * ktxn.h - an exactly-once stage on Kafka: consume a topic in a consumer
 * group, hand each record to the caller, produce what the caller makes of
 * it, and commit the consumed offsets in the same Kafka transaction
 * (librdkafka's transactional producer, send_offsets_to_transaction).
 *
 * A crash anywhere leaves either a whole transaction (its outputs and the
 * offsets of its inputs) or none of it: a read_committed consumer of the
 * outputs sees each input's outputs exactly once, and a restarted stage
 * (the same transactional.id: its first init aborts what the dead one left
 * open and fences it) starts from the committed offsets.  This is the loop
 * a scale-out correlator runs (docs/scaleout.md, "correlator").
 *
 * Transactions: one is open while records are consumed; it commits after
 * commit_records inputs or commit_ms after its first input, whichever
 * comes first.  An error that requires an abort (a lost fence, a timed out
 * produce) aborts it, seeks every assigned partition back to its committed
 * offset and tells the caller (ops->aborted): whatever it built from the
 * inputs since that commit is to be dropped, as those inputs come again.
 * A revocation commits the open transaction before the partitions go
 * (flush first; if the commit fails it aborts and the next owner consumes
 * those inputs again; then ops->revoked, not ->aborted);
 * an assigned partition is announced before it is consumed, and the
 * caller may say where it starts (its state's own record of the offset).  A fatal error ends ktxn_run().  An
 * output the broker refuses for good (too large) aborts its transaction
 * each time its input comes again, logged each time: the caller keeps its
 * outputs within what the topic takes.
 *
 * Blocking calls with bounded timeouts (KTXN_TIMEOUT_MS): run it on a
 * thread of its own, never on an event loop.  An idle stage waits in the
 * consumer's poll (up to a second at a time, for the stop flag): no spin.
 */
#ifndef TOCSIN_KTXN_H
#define TOCSIN_KTXN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "drivers/kafka/kafka.h"

#define KTXN_TIMEOUT_MS	30000	/* init, commit, abort, offsets */
#define KTXN_TXN_TIMEOUT "10000" /* transaction.timeout.ms (props may
				 * set another) */

struct ktxn;

struct ktxn_config {
	const char	*brokers;	/* bootstrap list */
	const char	*group;		/* consumer group of the input */
	const char	*input;		/* the topic consumed */
	const char	*txn_id;	/* transactional.id: one per stage
					 * instance, the same across its
					 * restarts */
	const char	*client_id;
	uint32_t	 commit_ms;	/* 0: 100 */
	uint32_t	 commit_records; /* 0: 20000 (each commit is a broker
					 * round trip: bench/scalebench.py) */
	const struct kafka_prop *props;	/* passed through, last */
	size_t		 nprops;
};

struct ktxn_ops {
	/* One input record, in partition order; what it produces goes
	 * through ktxn_produce().  0, or -1 to abort the transaction (as
	 * on an abortable error). */
	int	(*record)(void *arg, struct ktxn *t,
		    const rd_kafka_message_t *m);
	/* Before the open transaction commits: the outputs that depend on
	 * every input of it (a state's latest record).  0, or -1 to abort.
	 * May be NULL. */
	int	(*flush)(void *arg, struct ktxn *t);
	/* The open transaction committed: what it produced is readable
	 * (read_committed) from now on.  May be NULL. */
	void	(*committed)(void *arg, struct ktxn *t);
	/* The open transaction was aborted: inputs since the last commit
	 * come again (every assigned partition is back at its committed
	 * offset).  May be NULL. */
	void	(*aborted)(void *arg, struct ktxn *t);
	/* Partitions assigned to this instance, before they are consumed:
	 * the hook may set each one's offset (where it starts; left as it
	 * is, the group's committed offset).  Revoked: every partition
	 * goes (eager rebalancing), after the open transaction is committed
	 * (or aborted, if that fails); aborted() is not called for it.  May
	 * be NULL. */
	void	(*assigned)(void *arg, struct ktxn *t,
		    rd_kafka_topic_partition_list_t *parts);
	void	(*revoked)(void *arg, struct ktxn *t,
		    const rd_kafka_topic_partition_list_t *parts);
	/* No transaction is open (after a commit, and at each poll of an
	 * idle stage: at least once a second then): the engines are
	 * the last commit's, for work that must see only committed state.
	 * May be NULL. */
	void	(*between)(void *arg, struct ktxn *t);
};

struct ktxn_stats {
	uint64_t	 consumed;	/* input records handed to record() */
	uint64_t	 produced;	/* outputs handed to the producer */
	uint64_t	 commits;	/* transactions committed */
	uint64_t	 aborts;	/* ... aborted */
	uint64_t	 rebalances;	/* assignments and revocations */
};

/* Both clients, subscribed, the producer's transactions initialised:
 * 0, or -errno with a reason in err. */
int	 ktxn_new(const struct ktxn_config *cfg, const struct ktxn_ops *ops,
	    void *arg, struct ktxn **out, char *err, size_t errlen);
/* Consumes, processes and commits until *stop (checked at least every
 * second), then commits what is open.  0, or -EIO after a fatal error
 * (logged). */
int	 ktxn_run(struct ktxn *t, const atomic_int *stop);
/* Produces an output in the open transaction (partition -1: the topic's
 * partitioner).  0, or -errno (the transaction then aborts at its end). */
int	 ktxn_produce(struct ktxn *t, const char *topic, int32_t partition,
	    const void *key, size_t keylen, const void *val, size_t len);
/* The next offset the stage consumes from partition of its input, or
 * -1 (not assigned, or not known yet): what the next commit sends. */
int64_t	 ktxn_position(struct ktxn *t, int32_t partition);
/* The input partition's first and end offsets as the consumer last heard
 * of them from its fetches (for read_committed, the end is the last
 * stable offset): 0, or -1 when not known yet.  Any thread; no request. */
int	 ktxn_watermarks(struct ktxn *t, int32_t partition, int64_t *lo,
	    int64_t *hi);
/* Input m refused for why: its rejection (kafka_rejection(), the live
 * action consumer's record) to topic, keyed as m, in the open transaction
 * (so once); topic NULL or "": none.  0, or -errno as ktxn_produce(). */
int	 ktxn_reject(struct ktxn *t, const char *topic,
	    const rd_kafka_message_t *m, const char *why);
/* From the stage's own thread (a hook): ktxn_run() returns after the
 * current record, without committing what is open. */
void	 ktxn_stop(struct ktxn *t);
void	 ktxn_stats(const struct ktxn *t, struct ktxn_stats *st);
/* Leaves the group and frees; an open transaction is aborted. */
void	 ktxn_free(struct ktxn *t);

#endif
