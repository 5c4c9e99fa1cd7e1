/*
 * timerq.c - 4-ary min-heap timer queue with index back-pointers.
 *
 * Layout: one array of 16-byte entries {deadline, node*}.  Keeping the
 * deadline in the entry means sifting compares only heap memory (the four
 * children of a slot share one 64-byte cache line), and touches a node only
 * to update its back-pointer.  A 4-ary heap is half as deep as a binary one.
 * Measured with bench/timerqbench (3 million timers over 48 h, second pass
 * of each, shared 2-core machine): re-arm and cancel 1.7x faster than a
 * binary heap of the same layout, advance 0.99-1.28x, the whole workload
 * 0.99-1.27x over three runs; so the gain is modest and mostly in re-arms,
 * which pause/resume and every fired SLA mark do.  A hierarchical timing
 * wheel would make add O(1) but needs a list link per timer (16 more bytes)
 * and cascades, and firing strictly in deadline order after a 48-hour jump
 * would mean sorting each cascaded slot; it was not built.
 *
 * Equal deadlines are ordered by the nodes' tie keys in every sift, read
 * from the node only when two deadlines are equal.  Its cost, old and new
 * alternating: bench/slabench's advance (marks sharing instants by the
 * hundred thousand) 2.22-2.60 s -> 2.63-2.73 s, bench/timerqbench's
 * 4-ary total about 3%.  Copying the keys into 24-byte entries made the
 * first 3.2-3.3 s; gathering the timers due at one instant and sorting
 * them at firing made timerqbench's advance 25% slower and slabench's
 * worst step 30 -> 53 ms.
 *
 * Invariants: for every slot i > 0, heap[(i-1)/4] does not fire after
 * heap[i] ((deadline, node->tie) order); heap[i].node->slot == i;
 * heap[i].deadline == heap[i].node->deadline.
 */
#include <stdint.h>
#include <string.h>

#include "correlator/timerq.h"
#include "daemon/mem.h"

#define D 4

void
timerq_init(struct timerq *q, size_t hint)
{
	memset(q, 0, sizeof(*q));
	if (hint > 0) {
		q->heap = xcalloc(hint, sizeof(*q->heap));
		q->cap = (uint32_t)hint;
	}
}

void
timerq_fini(struct timerq *q)
{
	uint32_t i;

	for (i = 0; i < q->n; i++)
		q->heap[i].node->slot = TIMERQ_IDLE;
	FREE_NULL(q->heap);
	q->n = q->cap = 0;
}

/*
 * a fires before b: the earlier deadline, and at equal deadlines the
 * smaller tie key (rare: only then is the node read).
 */
static inline int
before(struct timerq_entry a, struct timerq_entry b)
{
	return a.deadline < b.deadline || (a.deadline == b.deadline &&
	    a.node->tie < b.node->tie);
}

static void
place(struct timerq *q, uint32_t i, struct timerq_entry e)
{
	q->heap[i] = e;
	e.node->slot = i;
}

/*
 * Both sifts move a hole rather than the entry: each step copies one
 * neighbour into the hole, and the entry is written once, where the hole
 * stops.  Returns the hole's new slot, from.
 */
static uint32_t
hole_move(struct timerq *q, uint32_t hole, uint32_t from)
{
	place(q, hole, q->heap[from]);
	return from;
}

static void
sift_up(struct timerq *q, uint32_t i, struct timerq_entry e)
{
	while (i > 0) {
		uint32_t p = (i - 1) / D;

		if (!before(e, q->heap[p]))
			break;
		i = hole_move(q, i, p);
	}
	place(q, i, e);
}

static void
sift_down(struct timerq *q, uint32_t i, struct timerq_entry e)
{
	for (;;) {
		uint32_t c = i * D + 1, best, k, end;

		if (c >= q->n)
			break;
		end = c + D < q->n ? c + D : q->n;
		best = c;
		for (k = c + 1; k < end; k++)
			if (before(q->heap[k], q->heap[best]))
				best = k;
		if (!before(q->heap[best], e))
			break;
		i = hole_move(q, i, best);
	}
	place(q, i, e);
}

/* Puts e at slot i (a hole) and restores heap order around it. */
static void
fix(struct timerq *q, uint32_t i, struct timerq_entry e)
{
	if (i > 0 && before(e, q->heap[(i - 1) / D]))
		sift_up(q, i, e);
	else
		sift_down(q, i, e);
}

void
timerq_add(struct timerq *q, struct timerq_node *t, int64_t deadline)
{
	struct timerq_entry e = { deadline, t };

	t->deadline = deadline;
	if (t->slot != TIMERQ_IDLE) {
		fix(q, t->slot, e);
		return;
	}
	if (q->n == q->cap) {
		uint32_t ncap = q->cap < 64 ? 64 : q->cap * 2;

		q->heap = xreallocarray(q->heap, ncap, sizeof(*q->heap));
		q->cap = ncap;
	}
	sift_up(q, q->n++, e);
}

void
timerq_cancel(struct timerq *q, struct timerq_node *t)
{
	uint32_t i = t->slot;
	struct timerq_entry last;

	if (i == TIMERQ_IDLE)
		return;
	t->slot = TIMERQ_IDLE;
	last = q->heap[--q->n];
	if (i < q->n)
		fix(q, i, last);
}

int64_t
timerq_next(const struct timerq *q)
{
	return q->n > 0 ? q->heap[0].deadline : INT64_MAX;
}

size_t
timerq_advance(struct timerq *q, int64_t now, timerq_fire_fn *fn, void *arg)
{
	size_t fired = 0;

	while (q->n > 0 && q->heap[0].deadline <= now) {
		struct timerq_node *t = q->heap[0].node;
		int64_t at = q->heap[0].deadline;

		timerq_cancel(q, t);
		fired++;
		fn(t, at, arg);
	}
	return fired;
}
