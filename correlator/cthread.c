/*
 * cthread.c - see cthread.h.
 */
#include <sched.h>
#include <time.h>

#include "correlator/cthread.h"
#include "daemon/mem.h"

void *
cthread_alloc_lines(size_t n, size_t size, void **mem)
{
	uintptr_t p;

	*mem = xcalloc(1, n * size + CTHREAD_LINE);
	p = ((uintptr_t)*mem + CTHREAD_LINE - 1) &
	    ~(uintptr_t)(CTHREAD_LINE - 1);
	return (void *)p;
}

int64_t
cthread_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
cthread_backoff(unsigned round)
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
