/*
 * stats.h - the daemon's numbers, handed from the threads that own them to
 * the HTTP thread (/metrics, /healthz, /readyz: daemon/monitor).
 *
 * The poller's state belongs to the libev thread and each engine to its
 * shard thread; the HTTP thread never reads their fields.  Instead each
 * owner publishes a copy now and then (STATS_PERIOD_MS): the poll thread
 * from a libev timer, each shard from its batch hook (after a round of
 * messages; ticks make one at least every 250 ms).  A copy goes in under
 * one mutex, and stats_view() takes all of them out under it, so the HTTP
 * thread sees each owner's numbers as of one moment.  The time of a
 * shard's last copy is its heartbeat: a shard that stops reporting is
 * stuck.  The phase (starting, running, stopping) is one atomic.
 *
 * The lock is held for a memcpy of a few KiB once a second per thread and
 * once per scrape; no thread ever waits on anything else while holding it.
 */
#ifndef TOCSIN_STATS_H
#define TOCSIN_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "correlator/corr.h"
#include "daemon/outbox.h"
#include "daemon/poller.h"
#include "daemon/publish.h"
#include "daemon/router.h"
#include "daemon/store.h"

#define STATS_PERIOD_MS		1000	/* owners publish this often */
#define STATS_RTT_BUCKETS	12	/* poll RTT histogram, + the +Inf one */
#define STATS_MAX_SINKS		PUBLISH_MAX_SINKS /* every sink the pump has */
#define STATS_TIERS		(TIER__COUNT + 1) /* + "none" (area incidents) */

/* Upper bounds of the RTT buckets, seconds. */
extern const double stats_rtt_le[STATS_RTT_BUCKETS];

enum stats_phase {
	STATS_STARTING,		/* restoring journals, poller not started */
	STATS_RUNNING,		/* restore done, poller started */
	STATS_STOPPING		/* a stop began */
};

/* Devices by communication state. */
enum stats_comm { STATS_COMM_UNKNOWN, STATS_COMM_OK, STATS_COMM_LOST,
    STATS_COMM__COUNT };

/* One publisher, from the pump and the sink's own counters. */
struct stats_sink {
	char		 name[16];	/* "file", "history", "redis", "kafka" */
	uint64_t	 offered;	/* records taken */
	uint64_t	 refused;	/* offers answered -EAGAIN (full, down) */
	uint64_t	 rewinds;
	uint64_t	 skipped;	/* records passed over: they do not
					 * check or decode */
	uint64_t	 lag;		/* journal bytes not yet done */
	uint64_t	 inflight;	/* records taken, not yet out (Redis
					 * replies awaited, Kafka delivery
					 * reports; 0 for the files) */
	uint64_t	 errors;	/* the sink's failures (write errors,
					 * error replies, failed deliveries) */
	int		 healthy;	/* ops->healthy */
};

/* The poll thread's copy. */
struct stats_poll {
	int64_t		 at_ms;		/* clock_mono_ms() when made */
	struct poller_counters pc;
	struct outbox_stats os;
	struct router_pstats rp;	/* the poll thread's producer */
	uint64_t	 backlog;	/* router_backlog() */
	uint64_t	 sleeps;	/* router_sleeps() */
	uint64_t	 ticks, ticks_skipped;
	uint64_t	 comm[STATS_COMM__COUNT];
	uint64_t	 rtt[STATS_RTT_BUCKETS + 1]; /* per bucket, last +Inf */
	uint64_t	 rtt_count;
	double		 rtt_sum_s;
	unsigned	 nsinks;
	struct stats_sink sinks[STATS_MAX_SINKS];
};

/* A shard's copy. */
struct stats_shard {
	int64_t		 at_ms;		/* clock_mono_ms() when made: heartbeat */
	struct corr_stats cs;
	struct store_stats ss;
	uint32_t	 live[CORR_STATE__COUNT][STATS_TIERS]; /* by state, tier */
	uint32_t	*by_area;	/* live incidents per fleet area
					 * (nareas); owned by the copy */
	const struct fleet *fleet;	/* the fleet by_area counts over */
};

/* What the HTTP thread gets: every copy at once. */
/* Configuration reloads (daemon/reload): the poll thread's. */
struct stats_reload {
	uint64_t	 ok;		/* reloads applied */
	uint64_t	 invalid;	/* refused: the file has errors */
	uint64_t	 failed;	/* refused: a change needs a restart, or
					 * the swap could not be queued */
	int64_t		 last_ok_ms;	/* epoch ms of the last applied one, or
					 * of the start */
	int		 last_result;	/* 0 ok, 1 invalid, 2 failed; -1 none */
	uint32_t	 last_ms;	/* how long the last one took, ms */
	int		 retired_unsaved; /* retired.json could not be written
					 * since the last reload (retried) */
};

struct stats_view {
	int		 phase;		/* enum stats_phase */
	int64_t		 now_ms;	/* clock_mono_ms() at the view */
	int64_t		 started_ms;	/* wall clock, epoch ms, of the start */
	int		 have_poll;	/* 0 before the first copy */
	struct stats_poll poll;
	unsigned	 nshards;
	size_t		 nareas;
	const struct fleet *fleet;	/* whose areas (stats_set_fleet) */
	struct stats_shard *shards;	/* nshards; at_ms 0: none yet */
	struct stats_reload reload;
};

struct stats;

/* For nshards shards and nareas fleet areas.  Free with stats_free(). */
struct stats *stats_new(unsigned nshards, size_t nareas, int64_t started_ms);
void	 stats_free(struct stats *st);

void	 stats_set_phase(struct stats *st, enum stats_phase p);
int	 stats_phase(const struct stats *st);

/* Owners: publish a copy (by_area read from s, nareas entries). */
void	 stats_put_poll(struct stats *st, const struct stats_poll *p);
void	 stats_put_shard(struct stats *st, unsigned shard,
	    const struct stats_shard *s);
/*
 * The fleet whose areas the shards' by_area counts name (at start, and at
 * each reload): zeroes them; a shard's copy counted over another fleet
 * (s->fleet) keeps its other numbers but not its areas until the shard
 * has reloaded.  The fleet must outlive every view taken after.
 */
void	 stats_set_fleet(struct stats *st, const struct fleet *f);
/* The reload counters (poll thread). */
void	 stats_put_reload(struct stats *st, const struct stats_reload *r);

/*
 * The poll thread: its per-device communication state (enum stats_comm,
 * n devices, indexed as the fleet's), copied under the lock.  GET
 * /api/v1/sites/<id> reads it with stats_comm().
 */
void	 stats_put_comm(struct stats *st, const uint8_t *comm, size_t n);
/* Any thread: the state of device d as last put (STATS_COMM_UNKNOWN
 * before any copy or past its end). */
uint8_t	 stats_comm(struct stats *st, uint32_t d);
/* Its name in JSON: "unknown", "ok", "lost". */
const char *stats_comm_name(uint8_t c);

/* Takes every copy (release with stats_view_fini). */
void	 stats_view(struct stats *st, struct stats_view *out);
void	 stats_view_fini(struct stats_view *v);

/* The bucket of an RTT (us) in stats_poll.rtt. */
unsigned stats_rtt_bucket(uint32_t rtt_us);

#endif
