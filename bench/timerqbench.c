/*
 * timerqbench.c - why timerq is a 4-ary heap: the same timer workload on
 * timerq and on a binary heap of the same layout (16-byte entries, index
 * back-pointers), built here as the baseline.
 *
 *   timerqbench [timers [hours]]	defaults 3000000 48
 *
 * Work (fixed, same random sequence for both): add every timer at a random
 * deadline within the horizon; re-arm every timer once (a pause/resume);
 * cancel one in three (clocks that stop); then advance in 1 s steps over the
 * horizon, each fired timer re-arming itself once more half the time (the
 * next mark of an SLA clock).  Each phase is timed; results are the binary
 * heap's time over timerq's (>1: timerq faster), with CPU seconds and peak
 * RSS for the run.  Each structure runs the workload twice and the second
 * pass is reported, so run order and first-touch page faults do not bias it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench/pb_stats.h"
#include "correlator/timerq.h"
#include "daemon/mem.h"

#define SEC 1000LL

/*
 * ---- baseline: binary heap, same entries and back-pointers ----
 *
 * Its add and cancel read like timerq_add() and timerq_cancel() on
 * purpose: the two structures must differ in the arity of the heap and in
 * nothing else, or the ratio would measure something besides arity.  It
 * cannot call timerq (which has no arity to set: that would time timerq
 * against itself), so it is a copy, kept here with the bench.
 */

struct bheap {
	struct timerq_entry *heap;
	uint32_t	 n, cap;
};

/* timerq's order: deadline, then the node's tie key (timerq.h). */
static inline int
bh_before(struct timerq_entry a, struct timerq_entry b)
{
	return a.deadline < b.deadline || (a.deadline == b.deadline &&
	    a.node->tie < b.node->tie);
}

static void
bh_place(struct bheap *q, uint32_t i, struct timerq_entry e)
{
	q->heap[i] = e;
	e.node->slot = i;
}

static void
bh_fix(struct bheap *q, uint32_t i, struct timerq_entry e)
{
	while (i > 0 && bh_before(e, q->heap[(i - 1) / 2])) {
		bh_place(q, i, q->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= q->n)
			break;
		if (c + 1 < q->n && bh_before(q->heap[c + 1], q->heap[c]))
			c++;
		if (!bh_before(q->heap[c], e))
			break;
		bh_place(q, i, q->heap[c]);
		i = c;
	}
	bh_place(q, i, e);
}

static void
bh_add(struct bheap *q, struct timerq_node *t, int64_t dl)
{
	struct timerq_entry e = { dl, t };

	t->deadline = dl;
	if (t->slot != TIMERQ_IDLE) {
		bh_fix(q, t->slot, e);
		return;
	}
	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 64;
		q->heap = xreallocarray(q->heap, q->cap, sizeof(*q->heap));
	}
	bh_fix(q, q->n++, e);
}

static void
bh_cancel(struct bheap *q, struct timerq_node *t)
{
	uint32_t i = t->slot;
	struct timerq_entry last;

	if (i == TIMERQ_IDLE)
		return;
	t->slot = TIMERQ_IDLE;
	last = q->heap[--q->n];
	if (i < q->n)
		bh_fix(q, i, last);
}

/* ---- the workload ---- */

struct run {
	struct timerq	 tq;
	struct bheap	 bh;
	int		 binary;
	uint64_t	 rng;
	int64_t		 horizon;
	uint64_t	 fired;
};

static uint64_t
next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void
add(struct run *r, struct timerq_node *t, int64_t dl)
{
	if (r->binary)
		bh_add(&r->bh, t, dl);
	else
		timerq_add(&r->tq, t, dl);
}

static void
on_fire(struct timerq_node *t, int64_t at, void *arg)
{
	struct run *r = arg;
	uint64_t x = next_rand(&r->rng);

	r->fired++;
	if (x & 1)
		add(r, t, at + 1 + (int64_t)((x >> 1) % (4 * 3600 * SEC)));
}



static void
workload(struct run *r, struct timerq_node *nodes, size_t n, double ph[4])
{
	size_t i;
	int64_t now;
	double t;

	/* start empty: a previous pass leaves late timers queued */
	r->bh.n = 0;
	timerq_fini(&r->tq);
	timerq_init(&r->tq, 0);
	r->rng = 88172645463325252ULL;
	r->fired = 0;
	for (i = 0; i < n; i++)
		timerq_node_init(&nodes[i]);
	t = pb_wall_s();
	for (i = 0; i < n; i++)
		add(r, &nodes[i], 1 + (int64_t)(next_rand(&r->rng) % r->horizon));
	ph[0] = pb_wall_s() - t;
	t = pb_wall_s();
	for (i = 0; i < n; i++)
		add(r, &nodes[i], 1 + (int64_t)(next_rand(&r->rng) % r->horizon));
	ph[1] = pb_wall_s() - t;
	t = pb_wall_s();
	for (i = 0; i < n; i += 3) {
		if (r->binary)
			bh_cancel(&r->bh, &nodes[i]);
		else
			timerq_cancel(&r->tq, &nodes[i]);
	}
	ph[2] = pb_wall_s() - t;
	t = pb_wall_s();
	for (now = SEC; now <= r->horizon + 4 * 3600 * SEC; now += SEC) {
		if (r->binary) {
			/* the same loop as timerq_advance() */
			while (r->bh.n > 0 && r->bh.heap[0].deadline <= now) {
				struct timerq_node *x = r->bh.heap[0].node;
				int64_t at = r->bh.heap[0].deadline;

				bh_cancel(&r->bh, x);
				on_fire(x, at, r);
			}
		} else
			timerq_advance(&r->tq, now, on_fire, r);
	}
	ph[3] = pb_wall_s() - t;
}

int
main(int argc, char **argv)
{
	static const char *const names[4] = { "add", "re-arm", "cancel 1/3",
	    "advance 1 s steps" };
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 3000000;
	long hours = argc > 2 ? strtol(argv[2], NULL, 10) : 48;
	struct timerq_node *nodes;
	struct run r4, r2;
	double p4[4], p2[4], c0, c1, c2, t4 = 0, t2 = 0;
	int i;

	if (n == 0 || hours < 1) {
		fprintf(stderr, "usage: timerqbench [timers [hours]]\n");
		return 2;
	}
	nodes = xcalloc(n, sizeof(*nodes));
	memset(&r4, 0, sizeof(r4));
	memset(&r2, 0, sizeof(r2));
	r4.horizon = r2.horizon = hours * 3600 * SEC;
	r2.binary = 1;
	timerq_init(&r4.tq, 0);

	printf("timerqbench: %zu timers over %ld h (warm-up pass of each, then "
	    "the measured pass)\n", n, hours);
	/* a warm-up pass of each first, so neither pays the first page faults */
	workload(&r2, nodes, n, p2);
	workload(&r4, nodes, n, p4);
	c0 = pb_cpu_s(RUSAGE_SELF);
	workload(&r2, nodes, n, p2);
	c1 = pb_cpu_s(RUSAGE_SELF);
	workload(&r4, nodes, n, p4);
	c2 = pb_cpu_s(RUSAGE_SELF);
	if (r2.fired != r4.fired) {
		fprintf(stderr, "timerqbench: fired %llu vs %llu: heaps disagree\n",
		    (unsigned long long)r2.fired, (unsigned long long)r4.fired);
		return 1;
	}
	for (i = 0; i < 4; i++) {
		printf("  %-18s binary %8.3f s  4-ary %8.3f s  ratio %.2fx\n",
		    names[i], p2[i], p4[i], p2[i] / p4[i]);
		t2 += p2[i];
		t4 += p4[i];
	}
	printf("  %-18s binary %8.3f s  4-ary %8.3f s  ratio %.2fx\n", "total",
	    t2, t4, t2 / t4);
	printf("  fired %llu each; cpu binary %.3f s, 4-ary %.3f s; peak RSS %ld KB\n",
	    (unsigned long long)r4.fired, c1 - c0, c2 - c1, pb_maxrss_kib());
	timerq_fini(&r4.tq);
	xfree(r2.bh.heap);
	xfree(nodes);
	return 0;
}
