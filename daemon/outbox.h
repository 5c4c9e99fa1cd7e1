/*
 * outbox.h - the poll thread's level-triggered way to the correlator
 * shards: no alarm transition is ever lost, and the poll loop never waits.
 *
 * The poll side (almrule) owns the truth of each (device, alarm code)
 * state.  The outbox remembers, for every such key, the state it last
 * queued to the key's shard.  A transition goes straight into the shard's
 * ring (router_push()) when it can; when the ring is full, or when older
 * held keys of the same shard are still waiting, the key is marked dirty
 * (put on its shard's FIFO once) and its newest transition kept in place.
 * outbox_flush() later queues the current state of dirty keys, oldest
 * first, while their shard has room: the router calls back when it does
 * (router_set_room()), and the daemon's tick retries as a backstop.
 *
 * So while a shard is stalled, memory stays bounded (one slot per key,
 * allocated up front), a raise and a clear that both happened meanwhile
 * fold into the last state (counted in `folded`; a key whose last state is
 * the one already queued sends nothing), and after any stall the shard
 * converges to the poller's state: level-triggered, as DESIGN.md asks.
 *
 * A held shard keeps its order: nothing of that shard overtakes a held
 * key, and outbox_pending() tells the caller not to send that shard a tick
 * either (a tick must not carry its clock past alarms still waiting).
 *
 * Threading: one outbox belongs to one producer thread (the poll loop).
 */
#ifndef TOCSIN_OUTBOX_H
#define TOCSIN_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "correlator/alarm.h"
#include "correlator/fleet.h"
#include "daemon/router.h"

struct outbox;

struct outbox_stats {
	uint64_t	 queued;	/* transitions queued at once */
	uint64_t	 held;		/* transitions that found their shard full
					 * or behind, and were kept */
	uint64_t	 folded;	/* held transitions a later one replaced,
					 * or that ended where they began */
	uint64_t	 resent;	/* held states queued by outbox_flush() */
	uint64_t	 stalls;	/* times a shard went from flowing to held */
	uint64_t	 pending;	/* keys held now */
	uint64_t	 pending_max;	/* most keys held at once */
	uint64_t	 unknown;	/* transitions for a key the fleet lacks
					 * (bad device or code): not sent */
	uint64_t	 keys;		/* (device, code) keys, fixed at creation */
	uint64_t	 bytes;		/* memory they take, fixed at creation */
};

/*
 * An outbox for producer `producer` of router r over fleet f (both must
 * outlive it).  One key per device and distinct alarm code of its profile,
 * plus COMM_LOSS: allocated here, never later.
 */
struct outbox *outbox_new(const struct fleet *f, struct router *r,
	    unsigned producer);
void	 outbox_free(struct outbox *o);
/*
 * A configuration reload, after router_reload(): a new outbox over fleet
 * f for old's router and producer.  map[i] is the new index of old's
 * device i or FLEET_NONE.  Each key kept (same device id and code name)
 * keeps the state last queued to its shard; keys held in old are held in
 * the new one, in their order, under the new indexes (those of a removed
 * device are dropped: its shard keeps the last state it had); counters
 * go on.  The caller frees old.
 */
struct outbox *outbox_remap(const struct outbox *old, const struct fleet *f,
	    const uint32_t *map);

/*
 * A transition from the rules.  Returns 0 when it was queued to its shard,
 * 1 when it is held (its shard's ring is full or behind: outbox_flush()
 * will send the key's state), -EINVAL for a device or code outside the
 * fleet (counted in `unknown`).
 */
int	 outbox_put(struct outbox *o, const struct alarm_event *ev);

/*
 * Queues the current state of held keys, oldest first, shard by shard,
 * until each shard's ring is full again.  Returns the keys still held.
 */
size_t	 outbox_flush(struct outbox *o);

/* Keys of shard `shard` held now (0: that shard is flowing). */
size_t	 outbox_pending(const struct outbox *o, unsigned shard);

/* The key's state as last queued to its shard: 1 raised, 0 clear, -1
 * never queued or no such key (tests compare it with the shard's view). */
int	 outbox_sent(const struct outbox *o, uint32_t device, uint16_t code);

void	 outbox_stats(const struct outbox *o, struct outbox_stats *out);

#endif
