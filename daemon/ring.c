/*
 * ring.c - see ring.h.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "daemon/mem.h"
#include "daemon/ring.h"

#define RING_IDLE_YIELDS	63	/* idle rounds that yield, then sleep */
#define RING_IDLE_SLEEP_NS	50000	/* an idle consumer's sleep */

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

int64_t
ring_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
ring_backoff(unsigned round)
{
	if (round < 16) {
		for (volatile unsigned k = 0; k < 64; k++)
			;
	} else if (round < 32) {
		sched_yield();
	} else {
		unsigned shift = round - 32 < 9 ? round - 32 : 9;
		struct timespec ts = { 0, (long)(2000u << shift) };

		nanosleep(&ts, NULL);
	}
}

void
ring_idle(unsigned round)
{
	if (round < RING_IDLE_YIELDS) {
		sched_yield();
	} else {
		struct timespec ts = { 0, RING_IDLE_SLEEP_NS };

		nanosleep(&ts, NULL);
	}
}
