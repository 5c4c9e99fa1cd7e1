/*
 * pb_fleet.h - what the three pollbench clients (pollbase_libmodbus,
 * pollbase_epoll, pollbench) share besides how they measure (pb_stats.h):
 * the options that size a run and name devsim's fleet, and the walk over
 * that fleet's gateways.  One place, so the clients cannot drift apart in
 * what --count means or which address gateway g has; bench/pollbench.sh
 * passes them all the same command line.
 *
 * The fleet options are devsim's own (DEVSIM_CFG_OPTIONS,
 * devsim_cfg_option()), so a client names exactly the endpoints that the
 * simulator started with the same options serves.
 */
#ifndef PB_FLEET_H
#define PB_FLEET_H

#include <arpa/inet.h>
#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/devsim_model.h"

struct pb_opts {
	struct devsim_cfg cfg;		/* --devices ... --ports-per-addr */
	uint64_t	 count;		/* --count: transactions measured */
	uint64_t	 warmup;	/* --warmup: transactions before */
	double		 duration;	/* --duration: seconds; 0 = --count */
	unsigned	 interval_ms;	/* --interval-ms: 0 = maximum rate */
	unsigned	 timeout_ms;	/* --timeout-ms: per transaction */
	unsigned	 regs;		/* --regs (baselines): registers a read */
};

/*
 * The options every client takes, as getopt_long entries: the fleet's
 * (letters n, k, a, p, m) and the run's (c, d, i, t, w).
 */
#define PB_FLEET_OPTIONS						\
	DEVSIM_CFG_OPTIONS,						\
	{ "count", required_argument, NULL, 'c' },			\
	{ "duration", required_argument, NULL, 'd' },			\
	{ "interval-ms", required_argument, NULL, 'i' },		\
	{ "timeout-ms", required_argument, NULL, 't' },			\
	{ "warmup", required_argument, NULL, 'w' }

/*
 * Fills o with devsim's fleet defaults, count transactions, no warm-up, no
 * duration, maximum rate, a 1000 ms timeout and 10 registers a read.
 */
void	 pb_opts_default(struct pb_opts *o, uint64_t count);

/*
 * Applies option ch (one of PB_FLEET_OPTIONS, or 'r' for --regs) with value
 * arg to o.  Returns 0, or -1 when ch is none of them; exits naming prog on
 * a bad value ("prog bad option=... value=... range=...").
 */
int	 pb_opts_option(struct pb_opts *o, const char *prog, int ch,
	    const char *arg);

/*
 * The baselines' whole command line: PB_FLEET_OPTIONS and --regs R, no
 * operands.  Calls usage(), which must not return, on anything else.
 */
void	 pb_opts_parse(struct pb_opts *o, const char *prog, int argc,
	    char *argv[], void (*usage)(void));

/* When a --duration run whose measured phase began at t0_us ends (us,
 * pb_now_us()); 0 for a --count run. */
int64_t	 pb_opts_end_us(const struct pb_opts *o, int64_t t0_us);

/* Gateways (= connections, one per endpoint) of cfg's fleet. */
size_t	 pb_fleet_ngateways(const struct devsim_cfg *cfg);

/* Devices behind gateway g (units 1..n); its first device is g * units. */
unsigned pb_fleet_units(const struct devsim_cfg *cfg, size_t g);

/*
 * Gateway g's address and port (host order), and when host is not NULL
 * the address as text; exits with "prog endpoint=g out of range" when
 * the fleet's addressing has no such endpoint.
 */
void	 pb_fleet_endpoint(const struct devsim_cfg *cfg, const char *prog,
	    size_t g, struct in_addr *addr, uint16_t *port,
	    char host[INET_ADDRSTRLEN]);

#endif
