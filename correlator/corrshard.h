/*
 * corrshard.h - the correlator's threads: sites hashed to N shards, each a
 * thread owning one struct corr_engine, fed by lock-free SPSC rings.
 *
 * Every producer thread (the poll loop, the action consumer, a replay
 * reader) gets its own ring to every shard, so each ring has exactly one
 * writer and one reader (ck_ring SPSC).  A site belongs to the shard of its
 * *area* (hash of the area index): an area storm is then decided inside one
 * shard and no correlation state is shared.  Actions are routed by the shard
 * number inside the incident id.  Each shard reports through its own sink,
 * called on the shard thread.
 */
#ifndef TOCSIN_CORRSHARD_H
#define TOCSIN_CORRSHARD_H

#include <stddef.h>
#include <stdint.h>

#include "correlator/alarm.h"
#include "correlator/corr.h"
#include "correlator/fleet.h"

#define CORR_ROUTER_MAX_SHARDS		64
#define CORR_ROUTER_MAX_PRODUCERS	16

struct corr_router;

/*
 * Creates nshards engines (shard i reports to sinks[i]) and the rings of
 * nproducers producers, ring_slots messages each (a power of two >= 4).
 * Threads start with corr_router_start().  Returns NULL with a reason in err
 * for bad sizes.  Free with corr_router_free().
 */
struct corr_router *corr_router_new(struct fleet *fleet,
	    const struct corr_config *cc, unsigned nshards, unsigned nproducers,
	    unsigned ring_slots, const struct corr_sink *sinks, char *err,
	    size_t errlen);
/* Starts the shard threads: 0 or -errno (then no thread runs). */
int	 corr_router_start(struct corr_router *r);
/* The shard owning a site. */
unsigned corr_router_shard_of(const struct corr_router *r, uint32_t site);
/*
 * Queues an alarm transition from producer `producer` (each producer is one
 * thread) to the owning shard.  Returns 0, -EAGAIN when that ring is full
 * (nothing queued: retry or count a drop), -EINVAL for a bad site.
 */
int	 corr_router_push(struct corr_router *r, unsigned producer,
	    const struct alarm_event *ev);
/*
 * Queues a copy of an action for the shard named in its incident id.
 * Returns 0, -EAGAIN (ring full), or -ENOENT when the id names no shard
 * (the caller rejects it; the engine rejects unknown incidents itself).
 */
int	 corr_router_action(struct corr_router *r, unsigned producer,
	    const struct corr_action *a);
/*
 * Queues a planned-work window for the shard owning its site (or area) and
 * sets *id, unique across shards, for corr_router_maint_remove().  Returns
 * 0, -EAGAIN (ring full, nothing queued) or -EINVAL (bad site/area).  Like
 * every queued message it applies to alarms the shard sees after it.
 */
int	 corr_router_maint_add(struct corr_router *r, unsigned producer,
	    const struct corr_maint *m, uint32_t *id);
/* Queues the removal of a window on every shard: 0 or -EAGAIN. */
int	 corr_router_maint_remove(struct corr_router *r, unsigned producer,
	    uint32_t id);
/*
 * Stops after every queued message is processed and joins the threads.
 * Producers must have stopped pushing.  Safe to call twice.
 */
void	 corr_router_stop(struct corr_router *r);
/* Sums the shards' counters (call after corr_router_stop). */
void	 corr_router_stats(const struct corr_router *r, struct corr_stats *out);
/* Stops if needed and frees everything. */
void	 corr_router_free(struct corr_router *r);

#endif
