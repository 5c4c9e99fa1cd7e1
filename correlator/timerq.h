/*
 * timerq.h - a timer queue for millions of SLA clocks.
 *
 * A 4-ary min-heap of (deadline, node) pairs with a back-pointer in each node
 * (its heap slot), so add, cancel and re-arm are O(log4 n) and the earliest
 * deadline is O(1).  The node is embedded in the object that owns the timer
 * (get the owner back with container_of); the queue allocates nothing per
 * timer beyond its 16-byte heap entry.  Time is an input: timerq_advance()
 * fires every timer whose deadline is <= now, in deadline order, passing each
 * its own deadline as the firing instant, however far now jumped.  Timers
 * with equal deadlines fire in the order of their nodes' tie keys, which
 * the owner sets (equal keys too: unspecified).  So the order is the
 * queue's contents', not its history's: an engine rebuilt from saved
 * state fires what an engine that never stopped fires, in the same order.
 *
 * Not thread-safe: one queue belongs to one correlator shard.
 */
#ifndef TOCSIN_TIMERQ_H
#define TOCSIN_TIMERQ_H

#include <stddef.h>
#include <stdint.h>

#define TIMERQ_IDLE UINT32_MAX		/* node.slot when not queued */

struct timerq_node {
	int64_t		 deadline;	/* ms since the epoch, valid while queued */
	uint64_t	 tie;		/* orders equal deadlines; the owner's */
	uint32_t	 slot;		/* heap index, or TIMERQ_IDLE */
};

struct timerq_entry {
	int64_t		 deadline;	/* copy of node->deadline: compares stay in the heap */
	struct timerq_node *node;
};

struct timerq {
	struct timerq_entry *heap;	/* heap[0] is the earliest */
	uint32_t	 n;		/* queued timers */
	uint32_t	 cap;		/* allocated entries */
};

/*
 * Called for each expired timer, which is already off the queue; the
 * callback may add, re-arm or cancel any timer (including this one), and a
 * timer it adds with a deadline <= now fires in the same advance.
 */
typedef void timerq_fire_fn(struct timerq_node *node, int64_t deadline,
    void *arg);

/* An empty queue with room for hint timers (0: grows on demand). */
void	 timerq_init(struct timerq *q, size_t hint);
/* Frees the heap; queued nodes are left idle-marked but not touched further. */
void	 timerq_fini(struct timerq *q);
/* Marks a node not queued, tie key 0; call once before first use. */
static inline void
timerq_node_init(struct timerq_node *t)
{
	t->deadline = 0;
	t->tie = 0;
	t->slot = TIMERQ_IDLE;
}
static inline int
timerq_pending(const struct timerq_node *t)
{
	return t->slot != TIMERQ_IDLE;
}
/* Queues t at deadline, or moves it there if already queued.  O(log n). */
void	 timerq_add(struct timerq *q, struct timerq_node *t, int64_t deadline);
/* Removes t if queued; safe to call twice.  O(log n). */
void	 timerq_cancel(struct timerq *q, struct timerq_node *t);
/* The earliest deadline, or INT64_MAX when empty. */
int64_t	 timerq_next(const struct timerq *q);
/* Fires every timer with deadline <= now, in deadline order; returns how many. */
size_t	 timerq_advance(struct timerq *q, int64_t now, timerq_fire_fn *fn,
	    void *arg);
static inline size_t
timerq_count(const struct timerq *q)
{
	return q->n;
}

#endif
