/*
 * ring.h - tocsin's one single-producer single-consumer ring, the atomics
 * every thread-shared variable goes through, and what a producer waiting
 * for room, or a consumer for messages, uses (a monotonic ms clock and
 * a bell, an event count on a futex).
 *
 * Base layer (with daemon/log and daemon/mem): it includes nothing of
 * tocsin's but mem.h, and everything that crosses threads uses it: the
 * router's shard rings (daemon/router.c, 48-byte messages by value) and the
 * file sink's line rings (drivers/file/filesink.c, char * by value).
 *
 * A ring is fixed-size slots of esize bytes, `slots` of them (a power of
 * two); indexes are free-running 64-bit counters (they never wrap in
 * practice), slot = index & mask, and the ring holds exactly `slots`
 * messages.  The struct is four cache lines, each written by one side only:
 *   line 0  tail        published end: the producer's release store
 *   line 1  producer    ptail (written, not yet published), head_cache
 *   line 2  head        freed end: the consumer's release store
 *   line 3  consumer    chead (next to read), tail_cache
 * Messages are written and read in place.  The producer writes slots
 * (ring_reserve(), ring_commit()) and makes any number of them visible with
 * one release store of tail (ring_publish()); it re-reads head (acquire)
 * only when its cached copy says full.  The consumer sees how many are
 * readable (ring_peek(), which re-reads tail only when its cached copy says
 * empty), reads them in place (ring_slot()) and frees any number with one
 * release store of head (ring_release()).  Release on tail makes a
 * message's bytes visible before its index; release on head makes the
 * consumer's reads of a slot (and whatever it wrote while handling it)
 * happen before the producer reuses it and before ring_backlog() reports
 * it gone.
 *
 * Why our own ring and not ConcurrencyKit's ck_ring (libck 0.7, a listed
 * dependency, which we would use unless a hand-written ring were at least
 * 1.3x faster on the daemon's real push patterns): bench/ringbench
 * carries both patterns from a producer thread to a consumer thread
 * pinned to 2 cores, one message per push, 8.4 M messages a run, 7
 * repetitions of each ring interleaved.  Six runs (2026-12-04 09:39-09:48
 * UTC, shared 2-vCPU machine, load 2.5-3.8), median rate of each run:
 *   alarm, 48 B by value, shard drains <= 256: this ring 19-29 Mmsg/s;
 *     ck_ring 3.6-10 (typed by-value enqueue) and 5.0-8.8 (in-place
 *     reserve/commit); 2.1x-3.9x the faster ck variant of the same run;
 *     0.20-0.32 CPU s against 0.71-1.39 (both threads).
 *   line, char *, writer drains all: this ring 23-44 Mmsg/s, ck_ring
 *     7.6-10.5; 2.6x-4.4x; 0.14-0.23 CPU s against 0.62-0.81.
 * Single repetitions swing both ways with the other load (0.5x to 13x),
 * so the decision is on each run's medians: every one is above 1.3x.
 * The reason is structural: ck_ring's SPSC enqueue loads the consumer's
 * index on every push and its dequeue stores it on every message (ck 0.7
 * has no batch dequeue and caches neither index), so that cache line
 * crosses between the cores twice a message; here each side reads the
 * other's index only when its cached copy runs out, and the consumer
 * releases a whole batch with one store.
 *
 * Thread roles: a ring has one producer thread and one consumer thread at
 * a time; the ring_reserve/commit/publish/push calls are the producer's,
 * ring_peek/slot/release the consumer's, ring_backlog and ring_pushed any
 * thread's.  Between threads, hand a ring over with a synchronising call
 * (pthread_create, pthread_join).
 */
#ifndef TOCSIN_RING_H
#define TOCSIN_RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/mem.h"

/*
 * The atomics of tocsin, each naming its memory order (STYLE.md 9):
 * readers of a flag or index see everything written before its release
 * store; statistics are relaxed: no ordering, just no torn values.
 */
#define ring_load_acquire(p)	atomic_load_explicit((p), memory_order_acquire)
#define ring_store_release(p, v) \
	atomic_store_explicit((p), (v), memory_order_release)
#define ring_load_relaxed(p)	atomic_load_explicit((p), memory_order_relaxed)
#define ring_add_relaxed(p, v) \
	atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
/*
 * A counter only one thread adds to (others only read it): a load and a
 * store, no locked instruction.  A locked add costs ~20 cycles alone and
 * far more when another thread's counter shares the line; a shard's
 * counters are bumped for every record and event it handles.
 */
#define ring_add_owned(p, v) \
	atomic_store_explicit((p), atomic_load_explicit((p), \
	    memory_order_relaxed) + (v), memory_order_relaxed)

/*
 * A full barrier between a thread's store and its next load (the two
 * sides of a bell, a `want` flag and the ring it is about).
 * ThreadSanitizer does not model fences (gcc refuses them under
 * -fsanitize=thread), so there a seq_cst read-modify-write of a dummy
 * word stands in: a locked instruction, a full barrier on every target
 * tocsin builds for, and one TSan understands.
 */
#if defined(__SANITIZE_THREAD__)
#define RING_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RING_TSAN 1
#endif
#endif
#ifdef RING_TSAN
extern _Atomic unsigned ring_fence_word;
#define ring_fence() ((void)atomic_fetch_add_explicit(&ring_fence_word, 0, \
	memory_order_seq_cst))
#else
#define ring_fence() atomic_thread_fence(memory_order_seq_cst)
#endif

struct ring {
	alignas(MEM_LINE) _Atomic uint64_t tail; /* published end (producer) */
	alignas(MEM_LINE) uint64_t ptail; /* producer: written end */
	uint64_t	 head_cache;	/* producer: last head it read */
	char		*pbuf;		/* producer's copy of buf */
	uint64_t	 pmask;		/* producer's copy of slots - 1 */
	size_t		 pesize;	/* producer's copy of esize */
	alignas(MEM_LINE) _Atomic uint64_t head; /* freed end (consumer) */
	alignas(MEM_LINE) uint64_t chead; /* consumer: next to read */
	uint64_t	 tail_cache;	/* consumer: last tail it read */
	char		*cbuf;		/* consumer's copy of buf */
	uint64_t	 cmask;		/* consumer's copy of slots - 1 */
	size_t		 cesize;	/* consumer's copy of esize */
};

_Static_assert(sizeof(struct ring) == 4 * MEM_LINE,
    "a ring is four cache lines");
_Static_assert(offsetof(struct ring, ptail) == 1 * MEM_LINE &&
    offsetof(struct ring, head) == 2 * MEM_LINE &&
    offsetof(struct ring, chead) == 3 * MEM_LINE,
    "each side of a ring on its own cache line");

/*
 * Sets up an empty ring of `slots` messages of esize bytes (zeroed) in r,
 * which is on a MEM_LINE boundary (mem_calloc_lines(), or a static or
 * automatic struct ring: its alignment says so).  Returns 0, or -EINVAL
 * when slots is not a power of two >= 2 or esize is 0 (r is then left
 * empty and ring_fini() is a no-op on it).  Before any thread uses it.
 */
int	 ring_init(struct ring *r, unsigned slots, size_t esize);
/*
 * Frees the slots.  Messages still in the ring are not looked at: the
 * caller drains what it owns first (ring_peek()/ring_slot() on one
 * thread).  Safe on a zeroed or failed ring and to call twice.
 */
void	 ring_fini(struct ring *r);

/*
 * Producer: the slot at the written end to fill, or NULL when the ring is
 * full.  The slot holds whatever was there; it joins the ring at
 * ring_commit().
 *
 * ring_reserve_at() and ring_commit_at() are the same pair for a hot loop:
 * the caller passes esize as a constant and keeps the position in a local,
 * so the compiler neither multiplies nor reloads ptail after the caller's
 * stores into the slot (which, through a char pointer, may alias the
 * ring).  Measured on the router's batch push (corrbench, producer phase,
 * 64 events a push): 7.2 ns an event with ring_reserve()/ring_commit(), 5.1
 * with the pair, the same as the hand-written loop it replaced.
 */
static inline void *
ring_reserve_at(struct ring *r, size_t esize, uint64_t *pos)
{
	uint64_t t = r->ptail;

	if (t - r->head_cache > r->pmask) {
		r->head_cache = ring_load_acquire(&r->head);
		if (t - r->head_cache > r->pmask)
			return NULL;
	}
	*pos = t;
	return r->pbuf + (size_t)(t & r->pmask) * esize;
}

/* Producer: the slot ring_reserve_at() gave at pos is written. */
static inline void
ring_commit_at(struct ring *r, uint64_t pos)
{
	r->ptail = pos + 1;
}

static inline void *
ring_reserve(struct ring *r)
{
	uint64_t pos;

	return ring_reserve_at(r, r->pesize, &pos);
}

/* Producer: the slot ring_reserve() returned is written; not yet visible. */
static inline void
ring_commit(struct ring *r)
{
	r->ptail++;
}

/* Producer: makes every committed message visible to the consumer. */
static inline void
ring_publish(struct ring *r)
{
	ring_store_release(&r->tail, r->ptail);
}

/*
 * Producer: copies esize bytes from msg into the ring and publishes it:
 * 0, or -EAGAIN when the ring is full (nothing queued).
 */
int	 ring_push(struct ring *r, const void *msg);

/*
 * Consumer: how many messages can be read in place now (0: empty).  While
 * messages it counted are unreleased it returns what is left of that
 * count without looking at the producer's tail; once all are released it
 * re-reads tail.  So a consumer reading in batches touches the producer's
 * cache line once per batch, and one that wants everything published so
 * far calls it again after ring_release().
 */
static inline size_t
ring_peek(struct ring *r)
{
	if (r->chead == r->tail_cache)
		r->tail_cache = ring_load_acquire(&r->tail);
	return (size_t)(r->tail_cache - r->chead);
}

/* Consumer: message i (i < ring_peek()) counted from the oldest, in place. */
static inline void *
ring_slot(struct ring *r, size_t i)
{
	return r->cbuf + (size_t)((r->chead + i) & r->cmask) * r->cesize;
}

/*
 * Consumer: the n oldest messages (n <= ring_peek()) are handled; their
 * slots go back to the producer.
 */
static inline void
ring_release(struct ring *r, size_t n)
{
	r->chead += n;
	ring_store_release(&r->head, r->chead);
}

/*
 * Messages published and not yet released; any thread.  0 means the
 * consumer has released everything published so far, and what it wrote
 * before releasing is visible to the caller.
 */
uint64_t ring_backlog(struct ring *r);
/* Messages published since ring_init(); any thread. */
uint64_t ring_pushed(struct ring *r);

/*
 * A bell: how a thread waits for another (a shard for messages, a producer
 * for room) without spinning and without sleeping blind.  It is an event
 * count on a futex word: the waiter takes a ticket, looks once more at
 * what it waits for, and sleeps in the kernel only if that is still not
 * there; the notifier, after making it so (ring_publish(),
 * ring_release()), rings, which costs one fence and one load when nobody
 * waits and a FUTEX_WAKE when someone does.
 *
 *	waiter					notifier
 *	t = ring_bell_prepare(b);		(publish or release)
 *	if (ready()) ring_bell_cancel(b);	ring_bell_ring(b);
 *	else ring_bell_wait(b, t, ms);
 *
 * Either the waiter's second look sees the notifier's work, or the
 * notifier sees the waiter counted and moves the sequence on, so the
 * futex wait returns at once or is woken: no wake-up is lost (the two
 * seq_cst fences order each side's store before its load).  Why a futex
 * rather than an eventfd or a condition variable: bench/wakebench.
 */
struct ring_bell {
	_Atomic uint32_t seq;		/* moved on by a ring with waiters */
	_Atomic uint32_t waiters;	/* threads between prepare and wait */
};

/* Waiter: counts itself and returns the ticket for ring_bell_wait(). */
uint32_t ring_bell_prepare(struct ring_bell *b);
/* Waiter: what it waits for came after all (after prepare). */
void	 ring_bell_cancel(struct ring_bell *b);
/*
 * Waiter: sleeps until the bell rings after ticket t was taken, or for at
 * most timeout_ms (< 0: no limit).  Returns 0 when rung (or rung before
 * the call), -ETIMEDOUT, or -EINTR (a signal: look again).  Uncounts the
 * waiter either way.
 */
int	 ring_bell_wait(struct ring_bell *b, uint32_t t, int timeout_ms);
/* Notifier: wakes every waiter; the slow half of ring_bell_ring(). */
void	 ring_bell_wake(struct ring_bell *b);

/* Notifier: after making what a waiter wants visible. */
static inline void
ring_bell_ring(struct ring_bell *b)
{
	ring_fence();
	if (ring_load_relaxed(&b->waiters) != 0)
		ring_bell_wake(b);
}

/*
 * The two waits every user of a ring needs, the protocol above written
 * once.  A bell is zeroed when its struct is (xcalloc, static, `= { 0 }`).
 *
 * Producer: returns 1 when r has a free slot, else sleeps on `room` (which
 * the consumer rings after ring_release()) until rung or for timeout_ms
 * (< 0: no limit), then returns whether r has a free slot now.  It sleeps
 * at most once: a caller with other things to watch (a flag, a deadline,
 * a log line) does them between calls.
 */
int	 ring_wait_room(struct ring *r, struct ring_bell *room, int timeout_ms);
/*
 * Consumer: returns ring_peek(r) when it is not 0, else sleeps once on
 * `data` (which the producer rings after ring_publish()) as above and
 * returns ring_peek(r) then (0 after a timeout or a signal).
 */
size_t	 ring_wait_data(struct ring *r, struct ring_bell *data, int timeout_ms);

#endif
