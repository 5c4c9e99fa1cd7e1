/*
 * deque.c - see deque.h.
 *
 * Why not a library: ConcurrencyKit's queues are linked lists or bounded
 * rings for sharing between threads, and a deque here is one thread's,
 * unbounded and answered from either end; a circular array is the leanest
 * form of that (one copy in, no allocation per element, the
 * elements next to each other for the walks a rewind does).
 */
#include <string.h>

#include "daemon/deque.h"
#include "daemon/mem.h"

#define DEQUE_MIN	64	/* elements at the first push */

void
deque_init(struct deque *q, size_t size)
{
	memset(q, 0, sizeof(*q));
	q->size = size;
}

void
deque_free(struct deque *q)
{
	xfree(q->v);
	deque_init(q, q->size);
}

/* Doubles the array, the elements first in it again. */
void
deque_grow(struct deque *q)
{
	size_t cap = q->cap ? q->cap * 2 : DEQUE_MIN;
	char *v = xreallocarray(NULL, cap, q->size);
	size_t first = q->cap - q->head;	/* from head to the end */

	if (q->n > 0) {
		if (first > q->n)
			first = q->n;
		memcpy(v, q->v + q->head * q->size, first * q->size);
		memcpy(v + first * q->size, q->v, (q->n - first) * q->size);
	}
	xfree(q->v);
	q->v = v;
	q->cap = cap;
	q->head = 0;
}
