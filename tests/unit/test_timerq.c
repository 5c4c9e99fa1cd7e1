/*
 * test_timerq.c - the timer heap fires every timer exactly at its deadline,
 * in deadline order, however far `now` jumps; cancel and re-arm keep the
 * heap consistent (checked against a brute-force model).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "correlator/timerq.h"

#define N 5000

struct rec {
	struct timerq_node	 tn;
	int			 id;
};

static struct rec	 recs[N];
static int64_t		 fired_at[N];	/* deadline passed to the callback, or -1 */
static int		 order[N];
static size_t		 nfired;
static int64_t		 last_at;
static int		 out_of_order;

static void
on_fire(struct timerq_node *t, int64_t at, void *arg)
{
	struct rec *r = (struct rec *)t;

	(void)arg;
	cr_assert(!timerq_pending(t));
	if (at < last_at)
		out_of_order = 1;
	last_at = at;
	fired_at[r->id] = at;
	order[nfired++] = r->id;
}

static void
reset(void)
{
	int i;

	for (i = 0; i < N; i++) {
		timerq_node_init(&recs[i].tn);
		recs[i].id = i;
		fired_at[i] = -1;
	}
	nfired = 0;
	last_at = INT64_MIN;
	out_of_order = 0;
}

Test(timerq, fires_at_deadline_in_order_on_big_jump)
{
	struct timerq q;
	int64_t dl[N];
	int i;

	reset();
	timerq_init(&q, 0);
	srand(7);
	for (i = 0; i < N; i++) {
		dl[i] = 1000 + (int64_t)(rand() % 172800) * 1000 + rand() % 1000;
		timerq_add(&q, &recs[i].tn, dl[i]);
	}
	cr_assert_eq(timerq_count(&q), N);
	cr_assert_eq(timerq_advance(&q, 999, on_fire, NULL), 0);
	/* one jump over 48 hours */
	cr_assert_eq(timerq_advance(&q, 1000 + 172800LL * 1000, on_fire, NULL), N);
	cr_assert_eq(out_of_order, 0);
	for (i = 0; i < N; i++)
		cr_assert_eq(fired_at[i], dl[i], "timer %d fired at %lld not %lld",
		    i, (long long)fired_at[i], (long long)dl[i]);
	cr_assert_eq(timerq_count(&q), 0);
	cr_assert_eq(timerq_next(&q), INT64_MAX);
	timerq_fini(&q);
}

Test(timerq, not_before_deadline)
{
	struct timerq q;

	reset();
	timerq_init(&q, 4);
	timerq_add(&q, &recs[0].tn, 5000);
	cr_assert_eq(timerq_advance(&q, 4999, on_fire, NULL), 0);
	cr_assert_eq(timerq_next(&q), 5000);
	cr_assert_eq(timerq_advance(&q, 5000, on_fire, NULL), 1);
	cr_assert_eq(fired_at[0], 5000);
	timerq_fini(&q);
}

Test(timerq, cancel_and_rearm_match_model)
{
	struct timerq q;
	int64_t model[N];	/* deadline, or -1 when not queued */
	size_t expect = 0, got;
	int i, step;

	reset();
	timerq_init(&q, 0);
	srand(11);
	for (i = 0; i < N; i++)
		model[i] = -1;
	for (step = 0; step < 4 * N; step++) {
		i = rand() % N;
		switch (rand() % 3) {
		case 0:
		case 1:
			model[i] = 100 + rand() % 100000;
			timerq_add(&q, &recs[i].tn, model[i]);
			break;
		case 2:
			timerq_cancel(&q, &recs[i].tn);
			timerq_cancel(&q, &recs[i].tn);	/* twice is safe */
			model[i] = -1;
			break;
		}
	}
	for (i = 0; i < N; i++)
		expect += model[i] >= 0;
	cr_assert_eq(timerq_count(&q), expect);
	got = timerq_advance(&q, INT64_MAX - 1, on_fire, NULL);
	cr_assert_eq(got, expect);
	cr_assert_eq(nfired, expect);
	cr_assert_eq(out_of_order, 0);
	for (i = 0; i < N; i++)
		cr_assert_eq(fired_at[i], model[i], "timer %d", i);
	timerq_fini(&q);
}

static struct timerq	*chain_q;

static void
on_fire_chain(struct timerq_node *t, int64_t at, void *arg)
{
	struct rec *r = (struct rec *)t;

	on_fire(t, at, arg);
	/* re-arm three more times, 10 ms apart, into the same advance */
	if (r->id < 3)
		timerq_add(chain_q, &recs[r->id + 1].tn, at + 10);
}

Test(timerq, callback_rearm_fires_in_same_advance)
{
	struct timerq q;

	reset();
	timerq_init(&q, 0);
	chain_q = &q;
	timerq_add(&q, &recs[0].tn, 100);
	timerq_add(&q, &recs[10].tn, 125);
	cr_assert_eq(timerq_advance(&q, 1000, on_fire_chain, NULL), 5);
	cr_assert_eq(order[0], 0);
	cr_assert_eq(order[1], 1);
	cr_assert_eq(order[2], 2);
	cr_assert_eq(order[3], 10);	/* 125 comes before 130 */
	cr_assert_eq(order[4], 3);
	cr_assert_eq(fired_at[3], 130);
	timerq_fini(&q);
}

/*
 * Timers due at the same instant fire in their tie keys' order, whatever
 * order they were queued, re-armed and cancelled in: two queues holding
 * the same timers after different histories fire the same sequence (what
 * makes an engine rebuilt from saved state equal to one that never
 * stopped).
 */
Test(timerq, equal_deadlines_fire_in_tie_order_whatever_the_history)
{
	static int first[N];
	struct timerq q;
	int i;

	for (int pass = 0; pass < 2; pass++) {
		reset();
		timerq_init(&q, 0);
		srand(11 + (unsigned)pass);
		for (i = 0; i < N; i++)
			recs[i].tn.tie = (uint64_t)((i * 7919) % N);
		/* pass 0 queues in id order; pass 1 in reverse, each at a
		 * random deadline first, then moved to one of three instants */
		for (int k = 0; k < N; k++) {
			i = pass == 0 ? k : N - 1 - k;
			timerq_add(&q, &recs[i].tn, 1000 + rand() % 5000);
		}
		for (int k = 0; k < N; k++) {
			i = pass == 0 ? k : N - 1 - k;
			if (i % 97 == 0)
				timerq_cancel(&q, &recs[i].tn);
			timerq_add(&q, &recs[i].tn, 10000 + (i % 3) * 1000);
		}
		cr_assert_eq(timerq_advance(&q, 20000, on_fire, NULL), N);
		cr_assert_eq(out_of_order, 0);
		for (size_t k = 1; k < nfired; k++) {
			const struct rec *a = &recs[order[k - 1]], *b =
			    &recs[order[k]];

			if (fired_at[a->id] == fired_at[b->id])
				cr_assert_lt(a->tn.tie, b->tn.tie,
				    "ties %llu then %llu at %lld",
				    (unsigned long long)a->tn.tie,
				    (unsigned long long)b->tn.tie,
				    (long long)fired_at[a->id]);
		}
		if (pass == 0)
			memcpy(first, order, sizeof(first));
		else
			cr_assert_eq(memcmp(first, order, sizeof(first)), 0,
			    "another history, another order");
		timerq_fini(&q);
	}
}

/* ---- a callback that cancels, frees or re-arms another due timer ---- */

struct own {
	struct timerq_node	 tn;
	struct timerq		*q;
	struct own		*victim;	/* cancelled and freed by this one */
	struct own		*moved;		/* re-armed to later by this one */
	int			 fired;
};

static void
own_fire(struct timerq_node *t, int64_t at, void *arg)
{
	struct own *o = (struct own *)t;

	(void)at;
	(void)arg;
	o->fired++;
	if (o->victim != NULL) {
		timerq_cancel(o->q, &o->victim->tn);
		free(o->victim);	/* ASan: never read after this */
		o->victim = NULL;
	}
	if (o->moved != NULL)
		timerq_add(o->q, &o->moved->tn, 9000);
}

/*
 * Timers due at one instant fire in tie order; one that an earlier one's
 * callback cancels (and frees) does not fire and is not touched again,
 * one it re-arms fires at its new deadline instead.
 */
Test(timerq, a_due_timer_cancelled_or_moved_by_an_earlier_one)
{
	struct timerq q;
	struct own a, c, *b = calloc(1, sizeof(*b));

	timerq_init(&q, 0);
	memset(&a, 0, sizeof(a));
	memset(&c, 0, sizeof(c));
	timerq_node_init(&a.tn);
	timerq_node_init(&b->tn);
	timerq_node_init(&c.tn);
	a.tn.tie = 1;
	b->tn.tie = 2;
	c.tn.tie = 3;
	a.q = b->q = c.q = &q;
	a.victim = b;
	a.moved = &c;
	/* queued in reverse: the heap's order is not the tie order */
	timerq_add(&q, &c.tn, 5000);
	timerq_add(&q, &b->tn, 5000);
	timerq_add(&q, &a.tn, 5000);
	a.moved = &c;
	cr_assert_eq(timerq_advance(&q, 5000, own_fire, NULL), 1);
	cr_assert_eq(a.fired, 1);
	cr_assert_eq(c.fired, 0, "re-armed to 9000: not at 5000");
	cr_assert(timerq_pending(&c.tn));
	cr_assert_eq(timerq_next(&q), 9000);
	a.moved = NULL;
	cr_assert_eq(timerq_advance(&q, 9000, own_fire, NULL), 1);
	cr_assert_eq(c.fired, 1);
	cr_assert_eq(timerq_count(&q), 0);
	timerq_fini(&q);
}
