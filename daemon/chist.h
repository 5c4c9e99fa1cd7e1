/*
 * chist.h - the history of closed incidents in a scale-out: the monthly
 * report's input (docs/report.md), kept by a `daemon.role: correlator`
 * from tocsin.incidents (docs/scaleout.md, "The history").
 *
 * A `role: all` instance writes each closed event to
 * state_dir/history/closed-YYYY-MM.jsonl from its journals (a file sink,
 * drivers/file).  A correlator has no journal; every closed event of the
 * deployment is on tocsin.incidents, exactly once to a read_committed
 * consumer.  So a correlator consumes that topic in a consumer group of
 * its own (kafka.history_group; by default <client_id>.history, so each
 * instance keeps a whole copy) and appends each event whose "event" is
 * "closed" to the same files, by the month of its "at" (UTC), line for
 * line as the topic has it.  At least once, and nothing before it is
 * safe:
 *
 *   - a batch of records (what comes within CHIST_LINGER_MS of its first,
 *     up to CHIST_BATCH records or CHIST_BATCH_BYTES of lines) is
 *     written, each month's file fdatasync'd, and only then are the
 *     batch's offsets committed (synchronously);
 *   - a kill -9 between the write and the commit writes those lines again
 *     after the restart: a repeated closed event, which the report folds
 *     (the latest per incident); a torn last line is cut when the file is
 *     opened (filesink_month_open);
 *   - a write or sync that fails (disk full, EIO) is counted, logged
 *     (rate-limited) and retried every CHIST_RETRY_S with nothing more
 *     consumed and nothing committed; a stop in between leaves the batch
 *     to the next start.  A failed fdatasync stops the history until a
 *     restart (what the page cache kept is unknown after one).  A record
 *     that names "closed" and is not an event (not JSON, no "event" or
 *     "at"), or that holds a newline, is counted, logged and passed by.
 *
 * state_dir/history/lock is held (flock) while it runs: two instances
 * cannot append to one directory.
 *
 * Runs on a thread of its own (blocking calls, the consumer's poll a
 * second at a time for the stop flag: an idle history costs no CPU).
 */
#ifndef TOCSIN_CHIST_H
#define TOCSIN_CHIST_H

#include <stddef.h>
#include <stdint.h>

#include "drivers/kafka/kafka.h"

#define CHIST_BATCH	10000		/* records written per commit, at most */
#define CHIST_BATCH_BYTES (8u << 20)	/* ... and bytes of closed lines */
#define CHIST_RETRY_S	1		/* a failed write is retried */
#define CHIST_LINGER_MS	200		/* a batch gathers this long after
					 * its first record (so at most five
					 * syncs and commits a second) */

struct chist_config {
	const char	*brokers;
	const char	*group;		/* its consumer group */
	const char	*topic;		/* tocsin.incidents */
	const char	*client_id;
	const char	*dir;		/* state_dir/history */
	const struct kafka_prop *props;	/* "consumer." ones and common */
	size_t		 nprops;
	unsigned	 keep_months;	/* daemon.history_months (filesink's
					 * filesink_month_open) */
};

struct chist_stats {
	uint64_t	 consumed;	/* records read from the topic (added
					 * a batch at a time) */
	uint64_t	 lines;		/* closed events written (not yet
					 * synced included) */
	uint64_t	 bytes;
	uint64_t	 commits;	/* offsets committed after a sync */
	uint64_t	 commit_errors;	/* (the lines are written: a restart
					 * writes them again) */
	uint64_t	 write_errors;	/* writes and syncs that failed */
	uint64_t	 bad;		/* records that are not events */
	uint64_t	 torn_cut;	/* bytes of torn lines cut at open */
	int		 failing;	/* the last write or sync failed */
};

struct chist;

/*
 * The lock taken, the consumer subscribed, its thread started: 0, or
 * -errno with the reason in err.  cfg's strings must outlive it.
 */
int	 chist_start(const struct chist_config *cfg, struct chist **out,
	    char *err, size_t errlen);
/*
 * A record of the topic: 1 if it is a closed event (its "at" in *at, ms),
 * 0 if it is another (one without the word "closed" is not looked into
 * further: ours are compact JSON), -1 if it names "closed" and is not an
 * event (not JSON, no "event" or "at") or holds a line break.
 */
int	 chist_closed(const void *p, size_t len, int64_t *at);
/* Its counters (any thread). */
void	 chist_stats(struct chist *h, struct chist_stats *out);
/* Stops (what is consumed and not yet written is read again at the next
 * start), joins and frees.  NULL: nothing. */
void	 chist_stop(struct chist *h);

#endif
