/*
 * test_deque.c - the one growable deque (daemon/deque): order kept from
 * both ends while it doubles with its elements wrapped around the end of
 * the array, elements of an odd size copied whole, and a random mix of
 * every operation checked step by step against a plain array.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/deque.h"

/* An element of an odd size, as a record in flight is. */
struct el {
	uint64_t v;
	char	 tag[13];
};

static void
put(struct el *e, uint64_t v)
{
	memset(e, 0, sizeof(*e));
	e->v = v;
	snprintf(e->tag, sizeof(e->tag), "e%llu", (unsigned long long)v);
}

static void
check(const struct el *e, uint64_t v)
{
	char tag[13];

	snprintf(tag, sizeof(tag), "e%llu", (unsigned long long)v);
	cr_assert_eq(e->v, v, "element %llu where %llu was",
	    (unsigned long long)e->v, (unsigned long long)v);
	cr_assert_str_eq(e->tag, tag);
}

Test(deque, empty_until_pushed_and_reusable_after_free)
{
	struct deque q;

	deque_init(&q, sizeof(struct el));
	cr_assert_eq(deque_len(&q), 0);
	deque_free(&q);		/* nothing allocated: fine */
	put(deque_push_back(&q), 7);
	cr_assert_eq(deque_len(&q), 1);
	check(deque_front(&q), 7);
	check(deque_back(&q), 7);
	deque_free(&q);
	cr_assert_eq(deque_len(&q), 0);
	cr_assert_eq(q.size, sizeof(struct el));
	put(deque_push_front(&q), 8);	/* the first push may be at the front */
	check(deque_front(&q), 8);
	deque_clear(&q);
	cr_assert_eq(deque_len(&q), 0);
	deque_free(&q);
}

/* Wrapped around the array's end when it doubles: order kept. */
Test(deque, grows_while_wrapped_and_keeps_order)
{
	struct deque q;
	uint64_t next = 0, first = 0;

	deque_init(&q, sizeof(struct el));
	/* fill, take half from the front, fill past the end: wrapped */
	for (int round = 0; round < 12; round++) {
		size_t add = (size_t)40 << (round / 2);

		for (size_t i = 0; i < add; i++)
			put(deque_push_back(&q), next++);
		for (size_t i = 0; i < add / 2; i++) {
			check(deque_front(&q), first++);
			deque_pop_front(&q);
		}
		cr_assert_eq(deque_len(&q), next - first);
		for (size_t i = 0; i < deque_len(&q); i++)
			check(deque_at(&q, i), first + i);
	}
	cr_assert_geq(q.cap, 4096u);	/* doubled six times */
	deque_free(&q);
}

/* Pushed at the front from empty and across a doubling. */
Test(deque, the_front_grows_backwards)
{
	struct deque q;

	deque_init(&q, sizeof(uint64_t));
	for (uint64_t i = 0; i < 1000; i++)
		*(uint64_t *)deque_push_front(&q) = i;
	for (uint64_t i = 0; i < 1000; i++)
		cr_assert_eq(*(uint64_t *)deque_at(&q, i), 999 - i);
	for (uint64_t i = 0; i < 1000; i++) {
		cr_assert_eq(*(uint64_t *)deque_back(&q), i);
		deque_pop_back(&q);
	}
	cr_assert_eq(deque_len(&q), 0);
	deque_free(&q);
}

/* Every operation at random against a plain array, 200,000 steps. */
Test(deque, random_operations_equal_a_plain_array)
{
	struct deque q;
	size_t cap = 1 << 16, lo = cap / 2, hi = cap / 2; /* model [lo, hi) */
	uint64_t *m = calloc(cap, sizeof(*m)), v = 1;
	unsigned seed = 4242;

	cr_assert_not_null(m);
	deque_init(&q, sizeof(struct el));
	for (int step = 0; step < 200000; step++) {
		unsigned op = (unsigned)rand_r(&seed) % 10;
		size_t n = hi - lo;

		if (op < 3 && hi < cap) {
			put(deque_push_back(&q), v);
			m[hi++] = v++;
		} else if (op < 6 && lo > 0) {
			put(deque_push_front(&q), v);
			m[--lo] = v++;
		} else if (op < 8 && n > 0) {
			check(deque_front(&q), m[lo]);
			deque_pop_front(&q);
			lo++;
		} else if (op < 9 && n > 0) {
			check(deque_back(&q), m[hi - 1]);
			deque_pop_back(&q);
			hi--;
		} else if (n > 0) {
			size_t i = (size_t)rand_r(&seed) % n;

			check(deque_at(&q, i), m[lo + i]);
		}
		cr_assert_eq(deque_len(&q), hi - lo);
		if (step % 50000 == 49999) {	/* and cleared now and then */
			deque_clear(&q);
			lo = hi = cap / 2;
		}
	}
	for (size_t i = 0; i < hi - lo; i++)
		check(deque_at(&q, i), m[lo + i]);
	deque_free(&q);
	free(m);
}
