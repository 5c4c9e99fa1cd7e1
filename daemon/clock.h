/*
 * clock.h - the one place tocsin reads a clock (apart from libev's cached
 * loop time): the monotonic clock for bounded waits, timeouts and
 * durations, and the wall clock for what a person or another system reads
 * (timestamps in logs, events and actions).
 *
 * Base layer, any thread.  The correlation core never reads a clock: the
 * daemon passes it `now` (DESIGN.md).  Instants as text are daemon/utc's.
 */
#ifndef TOCSIN_CLOCK_H
#define TOCSIN_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in ms: deadlines of bounded waits, durations. */
int64_t	 clock_mono_ms(void);
/* ... in µs: finer durations (restore and reload times, sd_notify's
 * MONOTONIC_USEC). */
int64_t	 clock_mono_us(void);
/* CLOCK_REALTIME in ms since the Unix epoch. */
int64_t	 clock_wall_ms(void);
/* ... in µs (latency benchmarks). */
int64_t	 clock_wall_us(void);

#endif
