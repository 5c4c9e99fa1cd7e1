/*
 * publish.h - the pump: every shard's journal, read from each sink's own
 * position, offered to that sink (drivers/pub.h), on the libev loop.
 *
 * Per sink and shard the pump keeps a journal reader and the positions of
 * the records offered and not yet reported done (a FIFO).  A sink that
 * says -EAGAIN is left alone until it calls ready(); one that is slow or
 * down only lets its readers fall behind: the records wait on disk, the
 * pump holds nothing but positions.  done() moves the sink's position,
 * which is saved (<sink>.pos in each shard's journal directory) at most
 * once a second, and the journal is trimmed below the slowest sink and the
 * snapshot.  After a restart each sink resumes after its saved position:
 * at least once, in order per shard (per incident, since an incident lives
 * on one shard).
 *
 * The pump runs when a shard says records became durable (publish_kick,
 * any thread) and when a sink is ready again; it offers at most
 * PUBLISH_TURN records per reader per turn and continues in an ev_idle
 * watcher, so polling is never starved.  Idle, it has no timer running.
 */
#ifndef TOCSIN_PUBLISH_H
#define TOCSIN_PUBLISH_H

#include <stdint.h>

#include "daemon/store.h"
#include "drivers/pub.h"

struct ev_loop;
struct publish;

#define PUBLISH_MAX_SINKS	8	/* file, history, view, sse, redis,
					 * kafka, and room */
#define PUBLISH_TURN		512
#define PUBLISH_SAVE_S		1.0	/* positions saved this often */

/* A sink asked for a resync: the daemon asks the shards for dumps. */
typedef void publish_resync_fn(void *arg);

struct publish_sink_stats {
	const char	*name;
	uint64_t	 offered;	/* records taken by offer() */
	uint64_t	 refused;	/* offer() said -EAGAIN */
	uint64_t	 rewinds;
	uint64_t	 skipped;	/* records passed over: they do not
					 * check (CRC) or decode */
	uint64_t	 lag;		/* journal bytes not yet done, all shards */
	int		 healthy;
};

struct publish *publish_new(struct ev_loop *loop, struct store **stores,
	    unsigned nshards, publish_resync_fn *resync, void *resync_arg);
/*
 * Adds a sink (before publish_start): its host (pass it to the sink's
 * constructor) is publish_host(); call publish_attach() with the sink made.
 * Returns the sink's index, or -ENOSPC.
 */
int	 publish_add(struct publish *p, const char *name);
/*
 * Makes sink idx a memory sink (before publish_start): one that holds
 * nothing a restart must resume (the incident view, the event stream's
 * tail), rebuilt from the live set each shard dumps at every start.  It
 * starts at each journal's end, its position is never saved, and it holds
 * no journal back.
 */
void	 publish_set_live(struct publish *p, int idx);
const struct pub_host *publish_host(struct publish *p, int idx);
void	 publish_attach(struct publish *p, int idx, struct pub_sink *s);
/*
 * Puts s in idx's place after its old sink was closed (a Kafka producer
 * that hit a fatal error is replaced so): every record offered to the old
 * one and not reported done is offered to s again, from each shard's
 * oldest, in order.
 */
void	 publish_replace(struct publish *p, int idx, struct pub_sink *s);
/* Loads saved positions and starts pumping. */
void	 publish_start(struct publish *p);
/* New durable records on shard (any thread; async-signal unsafe). */
void	 publish_kick(struct publish *p, unsigned shard);
/* Pumps everything durable now, on the loop (shutdown, tests). */
void	 publish_pump(struct publish *p);
/* 1 when every sink has reported done up to every journal's end. */
int	 publish_idle(struct publish *p);
/* Saves positions now; stops watchers. */
void	 publish_stop(struct publish *p);
void	 publish_free(struct publish *p);
unsigned publish_nsinks(const struct publish *p);
void	 publish_sink_stats(const struct publish *p, int idx,
	    struct publish_sink_stats *out);

#endif
