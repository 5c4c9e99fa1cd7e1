/*
 * cthread.h - what threads that talk through lock-free rings share: arrays
 * laid on cache-line boundaries (so two threads never write one line), a
 * monotonic clock for a waiter's deadline, and the backoff a producer
 * waits with while its consumer frees room.  Used by the correlator's
 * shard rings (corrshard.c) and the file sink's line rings
 * (drivers/file/filesink.c); the atomics themselves are catomic.h's.
 */
#ifndef TOCSIN_CTHREAD_H
#define TOCSIN_CTHREAD_H

#include <stddef.h>
#include <stdint.h>

#define CTHREAD_LINE	64	/* cache line, bytes */

/*
 * n zeroed objects of size bytes at a CTHREAD_LINE boundary; *mem gets
 * what to pass to xfree().  Never NULL (xcalloc aborts on OOM).
 */
void	*cthread_alloc_lines(size_t n, size_t size, void **mem);

/* CLOCK_MONOTONIC in ms: deadlines of bounded waits. */
int64_t	 cthread_mono_ms(void);

/*
 * One round of a producer's wait, round 0, 1, 2, ...: a short spin for
 * the first 16 (the consumer is usually about to free a slot), a
 * sched_yield() for the next 16, then sleeps from 2 us doubling to 1 ms.
 */
void	 cthread_backoff(unsigned round);

#endif
