/*
 * ring.c - see ring.h.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "daemon/mem.h"
#include "daemon/ring.h"

#ifdef RING_TSAN
_Atomic unsigned ring_fence_word;
#endif

int
ring_init(struct ring *r, unsigned slots, size_t esize)
{
	memset(r, 0, sizeof(*r));
	atomic_init(&r->tail, 0);
	atomic_init(&r->head, 0);
	if (slots < 2 || (slots & (slots - 1)) != 0 || esize == 0)
		return -EINVAL;
	r->pbuf = r->cbuf = xcalloc(slots, esize);
	r->pmask = r->cmask = slots - 1;
	r->pesize = r->cesize = esize;
	return 0;
}

void
ring_fini(struct ring *r)
{
	FREE_NULL(r->pbuf);
	r->cbuf = NULL;
}

int
ring_push(struct ring *r, const void *msg)
{
	void *slot = ring_reserve(r);

	if (slot == NULL)
		return -EAGAIN;
	memcpy(slot, msg, r->pesize);
	ring_commit(r);
	ring_publish(r);
	return 0;
}

uint64_t
ring_backlog(struct ring *r)
{
	/* head first: a tail read after it is never behind it */
	uint64_t h = ring_load_acquire(&r->head);

	return ring_load_acquire(&r->tail) - h;
}

uint64_t
ring_pushed(struct ring *r)
{
	return ring_load_acquire(&r->tail);
}

uint32_t
ring_bell_prepare(struct ring_bell *b)
{
	uint32_t t;

	atomic_fetch_add_explicit(&b->waiters, 1, memory_order_seq_cst);
	t = atomic_load_explicit(&b->seq, memory_order_seq_cst);
	/* the caller's second look must not move above the count */
	ring_fence();
	return t;
}

void
ring_bell_cancel(struct ring_bell *b)
{
	atomic_fetch_sub_explicit(&b->waiters, 1, memory_order_relaxed);
}

int
ring_bell_wait(struct ring_bell *b, uint32_t t, int timeout_ms)
{
	struct timespec ts, *tsp = NULL;
	int rc = 0;

	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
		tsp = &ts;
	}
	/* the kernel compares seq with t and sleeps only if equal */
	if (syscall(SYS_futex, &b->seq, FUTEX_WAIT_PRIVATE, t, tsp, NULL,
	    0) != 0) {
		if (errno == ETIMEDOUT)
			rc = -ETIMEDOUT;
		else if (errno == EINTR)
			rc = -EINTR;
		/* EAGAIN: rung between prepare and here */
	}
	atomic_fetch_sub_explicit(&b->waiters, 1, memory_order_relaxed);
	return rc;
}

void
ring_bell_wake(struct ring_bell *b)
{
	atomic_fetch_add_explicit(&b->seq, 1, memory_order_seq_cst);
	syscall(SYS_futex, &b->seq, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL,
	    NULL, 0);
}

int
ring_wait_room(struct ring *r, struct ring_bell *room, int timeout_ms)
{
	uint32_t t;

	if (ring_reserve(r) != NULL)
		return 1;
	t = ring_bell_prepare(room);
	if (ring_reserve(r) != NULL) {	/* freed before we were counted */
		ring_bell_cancel(room);
		return 1;
	}
	(void)ring_bell_wait(room, t, timeout_ms);
	return ring_reserve(r) != NULL;
}

size_t
ring_wait_data(struct ring *r, struct ring_bell *data, int timeout_ms)
{
	size_t n;
	uint32_t t;

	if ((n = ring_peek(r)) != 0)
		return n;
	t = ring_bell_prepare(data);
	if ((n = ring_peek(r)) != 0) {
		ring_bell_cancel(data);
		return n;
	}
	(void)ring_bell_wait(data, t, timeout_ms);
	return ring_peek(r);
}
