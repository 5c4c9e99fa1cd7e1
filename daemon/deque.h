/*
 * deque.h - the one growable double-ended queue: a circular array of
 * fixed-size elements that doubles when full.
 *
 * Its users keep what a consumer has not answered yet, oldest first: the
 * pump's positions offered to a sink (daemon/publish), the Redis sink's
 * records in flight (drivers/redis), a correlator's feed records taken and
 * not done (daemon/cfeed).  Each pops the front as answers come, pops the
 * back to rewind, and a rewind may push a record back at the front.  One
 * thread owns a deque; the SPSC hand-off between threads is daemon/ring.
 *
 * Elements are copied in and handed out as pointers into the array, valid
 * until the next push (which may move them).  The capacity is a power of
 * two, so an index is a mask, not a division; it never shrinks (a deque
 * holds what is in flight, which its owner bounds).
 */
#ifndef TOCSIN_DEQUE_H
#define TOCSIN_DEQUE_H

#include <stddef.h>

struct deque {
	char	*v;		/* cap elements of size bytes */
	size_t	 size;
	size_t	 head, n, cap;	/* cap: 0 or a power of two */
};

/* An empty deque of elements of size bytes (no allocation yet). */
void	 deque_init(struct deque *q, size_t size);
/* Frees the array; q is empty again and may be reused. */
void	 deque_free(struct deque *q);

/* Doubles the array (the push functions' slow path). */
void	 deque_grow(struct deque *q);

/*
 * The rest is inline: a push or a pop runs per record offered, in the
 * pump, the Redis sink and the correlator feed.
 */
static inline size_t
deque_len(const struct deque *q)
{
	return q->n;
}

/* The i-th element from the front, i < deque_len(q). */
static inline void *
deque_at(const struct deque *q, size_t i)
{
	return q->v + ((q->head + i) & (q->cap - 1)) * q->size;
}

static inline void *
deque_front(const struct deque *q)
{
	return deque_at(q, 0);
}

static inline void *
deque_back(const struct deque *q)
{
	return deque_at(q, q->n - 1);
}

/* A new slot at the back (or the front), uninitialised; never NULL. */
static inline void *
deque_push_back(struct deque *q)
{
	if (q->n == q->cap)
		deque_grow(q);
	return deque_at(q, q->n++);
}

static inline void *
deque_push_front(struct deque *q)
{
	if (q->n == q->cap)
		deque_grow(q);
	q->head = (q->head + q->cap - 1) & (q->cap - 1);
	q->n++;
	return deque_front(q);
}

/* Removes the first (last) element; q must not be empty. */
static inline void
deque_pop_front(struct deque *q)
{
	q->head = (q->head + 1) & (q->cap - 1);
	q->n--;
}

static inline void
deque_pop_back(struct deque *q)
{
	q->n--;
}

/* Removes every element, keeping the array. */
static inline void
deque_clear(struct deque *q)
{
	q->head = q->n = 0;
}

#endif
