/*
 * test_ring.c - the one SPSC ring (daemon/ring): sizes it refuses, full
 * and empty, indexes wrapping the slot array many times, order kept from
 * a producer thread to a consumer thread, messages invisible until
 * published (several published at once), the backlog and pushed counts,
 * and the cache-line allocator the ring users lay their structs with.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "daemon/clock.h"
#include "daemon/mem.h"
#include "daemon/ring.h"

/* A message the size of the router's, with its sequence number. */
struct msg {
	uint64_t seq;
	char	 pad[40];
};

static struct ring *
new_ring(unsigned slots, size_t esize)
{
	struct ring *r = mem_calloc_lines(1, sizeof(*r));

	cr_assert_eq(ring_init(r, slots, esize), 0);
	return r;
}

static void
free_ring(struct ring *r)
{
	ring_fini(r);
	ring_fini(r);	/* twice is safe */
	xfree(r);
}

/* Producer side: one message, reserve + fill + commit, no publish. */
static int
put(struct ring *r, uint64_t seq)
{
	struct msg *m = ring_reserve(r);

	if (m == NULL)
		return -EAGAIN;
	memset(m, 0, sizeof(*m));
	m->seq = seq;
	ring_commit(r);
	return 0;
}

Test(ring, refuses_bad_sizes)
{
	struct ring *r = mem_calloc_lines(1, sizeof(*r));

	cr_assert_eq(ring_init(r, 0, 8), -EINVAL);
	cr_assert_eq(ring_init(r, 1, 8), -EINVAL);
	cr_assert_eq(ring_init(r, 6, 8), -EINVAL);
	cr_assert_eq(ring_init(r, 1000, 8), -EINVAL);
	cr_assert_eq(ring_init(r, 8, 0), -EINVAL);
	ring_fini(r);	/* a failed ring frees nothing */
	cr_assert_eq(ring_init(r, 2, 1), 0);
	ring_fini(r);
	xfree(r);
}

Test(ring, full_and_empty)
{
	struct ring *r = new_ring(8, sizeof(struct msg));
	struct msg m;

	cr_assert_eq(ring_peek(r), 0, "a new ring is empty");
	cr_assert_eq(ring_backlog(r), 0);
	for (uint64_t i = 0; i < 8; i++) {
		m.seq = i;
		cr_assert_eq(ring_push(r, &m), 0, "slot %llu of 8",
		    (unsigned long long)i);
	}
	cr_assert_eq(ring_push(r, &m), -EAGAIN, "9th message into 8 slots");
	cr_assert_null(ring_reserve(r));
	cr_assert_eq(ring_backlog(r), 8);
	cr_assert_eq(ring_peek(r), 8);
	/* one released slot is room for exactly one more */
	cr_assert_eq(((struct msg *)ring_slot(r, 0))->seq, 0);
	ring_release(r, 1);
	m.seq = 8;
	cr_assert_eq(ring_push(r, &m), 0);
	cr_assert_eq(ring_push(r, &m), -EAGAIN);
	/* drain: 1..8 in order, then empty */
	for (uint64_t want = 1; want <= 8; want++) {
		cr_assert_gt(ring_peek(r), 0);
		cr_assert_eq(((struct msg *)ring_slot(r, 0))->seq, want);
		ring_release(r, 1);
	}
	cr_assert_eq(ring_peek(r), 0);
	cr_assert_eq(ring_backlog(r), 0);
	cr_assert_eq(ring_pushed(r), 9);
	free_ring(r);
}

Test(ring, wraparound_keeps_order)
{
	struct ring *r = new_ring(4, sizeof(struct msg));
	uint64_t next_in = 0, next_out = 0;
	size_t seen = 0;	/* what the last peek showed, minus releases */

	/* uneven batches so the written and read ends cross the array's
	 * end at every offset, 1000 times round */
	for (int round = 0; round < 1000; round++) {
		unsigned nin = 1 + (unsigned)round % 4;
		size_t n, take;

		for (unsigned i = 0; i < nin && put(r, next_in) == 0; i++)
			next_in++;
		ring_publish(r);
		n = ring_peek(r);
		/* the consumer re-reads tail only once its view is used up */
		if (seen == 0)
			cr_assert_eq(n, next_in - next_out);
		else
			cr_assert_eq(n, seen);
		cr_assert_gt(n, 0);
		take = 1 + (size_t)round % 3 < n ? 1 + (size_t)round % 3 : n;
		for (size_t i = 0; i < take; i++)
			cr_assert_eq(((struct msg *)ring_slot(r, i))->seq,
			    next_out + i, "round %d message %zu", round, i);
		ring_release(r, take);
		next_out += take;
		seen = n - take;
		cr_assert_eq(ring_backlog(r), next_in - next_out);
	}
	cr_assert_gt(next_out, 4 * 100, "the indexes went round many times");
	free_ring(r);
}

Test(ring, batch_is_invisible_until_published)
{
	struct ring *r = new_ring(16, sizeof(struct msg));

	for (uint64_t i = 0; i < 5; i++)
		cr_assert_eq(put(r, i), 0);
	cr_assert_eq(ring_peek(r), 0, "committed, not published");
	cr_assert_eq(ring_backlog(r), 0);
	cr_assert_eq(ring_pushed(r), 0);
	ring_publish(r);
	cr_assert_eq(ring_backlog(r), 5, "one publish makes all five visible");
	cr_assert_eq(ring_pushed(r), 5);
	cr_assert_eq(ring_peek(r), 5);
	for (size_t i = 0; i < 5; i++)
		cr_assert_eq(((struct msg *)ring_slot(r, i))->seq, i);
	/* the consumer may release part of what it saw */
	ring_release(r, 2);
	cr_assert_eq(ring_backlog(r), 3);
	cr_assert_eq(ring_peek(r), 3);
	cr_assert_eq(((struct msg *)ring_slot(r, 0))->seq, 2);
	ring_release(r, 3);
	cr_assert_eq(ring_backlog(r), 0);
	free_ring(r);
}

Test(ring, pointer_slots)
{
	struct ring *r = new_ring(4, sizeof(char *));
	static char lines[3][8] = { "one", "two", "three" };

	for (int i = 0; i < 3; i++) {
		char *p = lines[i];

		cr_assert_eq(ring_push(r, &p), 0);
	}
	cr_assert_eq(ring_peek(r), 3);
	for (size_t i = 0; i < 3; i++)
		cr_assert_str_eq(*(char **)ring_slot(r, i), lines[i]);
	ring_release(r, 3);
	free_ring(r);
}

#define XT_MSGS	200000

struct xt {
	struct ring	*r;
	struct ring_bell room;		/* rung by the consumer */
	struct ring_bell work;		/* rung by the producer */
	uint64_t	 bad;		/* consumer: messages out of order */
	uint64_t	 got;
	uint64_t	 waits;		/* producer: sleeps for room */
	uint64_t	 sleeps;	/* consumer: sleeps for messages */
};

static void *
xt_producer(void *arg)
{
	struct xt *x = arg;

	for (uint64_t i = 0; i < XT_MSGS; ) {
		unsigned k = 0;

		/* batches of 1-7 under one publish */
		while (k < 1 + i % 7 && i < XT_MSGS && put(x->r, i) == 0) {
			i++;
			k++;
		}
		ring_publish(x->r);
		ring_bell_ring(&x->work);
		if (k == 0) {
			x->waits++;
			(void)ring_wait_room(x->r, &x->room, -1);
		}
	}
	return NULL;
}

static void *
xt_consumer(void *arg)
{
	struct xt *x = arg;

	while (x->got < XT_MSGS) {
		size_t n = ring_peek(x->r);

		if (n == 0) {
			x->sleeps++;
			(void)ring_wait_data(x->r, &x->work, -1);
			continue;
		}
		n = n > 5 ? 5 : n;
		for (size_t i = 0; i < n; i++) {
			const struct msg *m = ring_slot(x->r, i);

			x->bad += m->seq != x->got;
			x->got++;
		}
		ring_release(x->r, n);
		ring_bell_ring(&x->room);
	}
	return NULL;
}

Test(ring, threads_keep_order, .timeout = 60)
{
	struct xt x = { .r = new_ring(64, sizeof(struct msg)) };
	pthread_t p, c;

	cr_assert_eq(pthread_create(&c, NULL, xt_consumer, &x), 0);
	cr_assert_eq(pthread_create(&p, NULL, xt_producer, &x), 0);
	pthread_join(p, NULL);
	pthread_join(c, NULL);
	cr_assert_eq(x.got, XT_MSGS);
	cr_assert_eq(x.bad, 0, "%llu messages out of order",
	    (unsigned long long)x.bad);
	cr_assert_eq(ring_backlog(x.r), 0);
	cr_assert_eq(ring_pushed(x.r), XT_MSGS);
	free_ring(x.r);
}

Test(ring, lines_are_aligned_and_zeroed)
{
	for (size_t size = 1; size <= 3 * MEM_LINE; size += 37) {
		unsigned char *p = mem_calloc_lines(5, size);

		cr_assert_eq((uintptr_t)p % MEM_LINE, 0, "size %zu", size);
		for (size_t i = 0; i < 5 * size; i++)
			cr_assert_eq(p[i], 0);
		xfree(p);
	}
	xfree(mem_calloc_lines(0, 8));
}

Test(ring, mono_clock_moves_forward)
{
	int64_t a = clock_mono_ms(), b;

	usleep(2000);
	b = clock_mono_ms();
	cr_assert_geq(b, a);
	cr_assert_gt(a, 0);
}
