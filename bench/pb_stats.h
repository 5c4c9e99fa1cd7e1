/*
 * pb_stats.h - how bench/pollbench measures a Modbus poller, shared by the
 * baselines (pollbase_libmodbus, pollbase_epoll) and, later, the tocsin
 * client, so that every line is measured the same way.
 *
 * A run counts transactions, errors and timeouts, keeps two latency
 * histograms (RTT, poll-start jitter) and the process's CPU time and peak
 * RSS over the measured phase, then prints one machine-readable line:
 *
 *   pollbench client=NAME devices=D conns=C interval_ms=I tx=N errors=E
 *     timeouts=T secs=S tps=X cpu_s=C cpu_s_per_1k=Y maxrss_kb=K
 *     rtt_p50_us=A rtt_p99_us=B jitter=schedule|gap jitter_p99_us=J
 *     polls=P missed=M
 *
 * A poll is one device's turn (one transaction for the baselines, one per
 * block of the profile for tocsin); missed counts polls that did not bring
 * data in their slot: for the baselines their timeouts and errors, for
 * tocsin with an interval the slots of its window without a good poll.
 *
 * Jitter: with an interval, how late (or early) each poll started against
 * its schedule; at maximum rate (interval 0) there is no schedule, so it is
 * the spread of each device's gap between two polls: p99(gap) - p50(gap).
 *
 * Histograms are log-linear (exact below 64 us, then 32 sub-buckets per
 * power of two: at most 3 % error), fixed size, no allocation per sample.
 */
#ifndef PB_STATS_H
#define PB_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>

#define PB_HIST_BUCKETS	(64 + 40 * 32)

struct pb_hist {
	uint64_t	 count[PB_HIST_BUCKETS];
	uint64_t	 n;		/* samples */
	uint64_t	 max;		/* largest sample, exact */
};

struct pb_run {
	const char	*client;	/* "libmodbus", "epoll", "tocsin" */
	size_t		 devices;
	size_t		 conns;
	unsigned	 interval_ms;	/* 0 = maximum rate */
	uint64_t	 tx;		/* good transactions */
	uint64_t	 errors;	/* exceptions, bad frames, I/O errors */
	uint64_t	 timeouts;
	uint64_t	 polls;		/* 0: one transaction per poll */
	int64_t		 missed;	/* slots without a good poll; < 0 (the
					   default): timeouts + errors */
	struct pb_hist	 rtt;		/* us */
	struct pb_hist	 jitter;	/* us, |start - due| (interval > 0) */
	struct pb_hist	 gap;		/* us, start - previous start (max rate) */
	int64_t		*last;		/* per device: previous poll start, us */
	int64_t		 t0, t1;	/* us, monotonic: measured phase */
	struct rusage	 ru0, ru1;
};

/* Monotonic clock in microseconds. */
int64_t	 pb_now_us(void);

void	 pb_hist_add(struct pb_hist *h, uint64_t v);
/* The value at quantile q (0..1), 0 for an empty histogram. */
uint64_t pb_hist_quantile(const struct pb_hist *h, double q);

/* Zeroes r and allocates the per-device state; free with pb_run_fini(). */
void	 pb_run_init(struct pb_run *r, const char *client, size_t devices,
	    size_t conns, unsigned interval_ms);
void	 pb_run_fini(struct pb_run *r);
/*
 * Forgets the warm-up: zeroes the transaction, error and timeout counts and
 * the three histograms (not the per-device state, nor polls or missed).
 */
void	 pb_run_reset(struct pb_run *r);
/* Marks the start and the end of the measured phase (time and rusage). */
void	 pb_run_start(struct pb_run *r);
void	 pb_run_stop(struct pb_run *r);
/*
 * A poll of device dev starts at start_us (pb_now_us()); due_us is when its
 * schedule wanted it, or < 0 at maximum rate.
 */
void	 pb_run_poll(struct pb_run *r, size_t dev, int64_t start_us,
	    int64_t due_us);
/* A good transaction took rtt_us. */
void	 pb_run_done(struct pb_run *r, int64_t rtt_us);
/* The one result line, newline-terminated. */
void	 pb_run_print(const struct pb_run *r, FILE *fp);

/* Raises RLIMIT_NOFILE to the hard limit; returns the soft limit now. */
unsigned long pb_raise_nofile(void);
/* Monotonic wall clock in seconds. */
double	pb_wall_s(void);
/* User + system CPU seconds of who (RUSAGE_SELF, RUSAGE_CHILDREN). */
double	pb_cpu_s(int who);
/* User + system CPU seconds in ru (from getrusage() or wait4()). */
double	pb_rusage_cpu_s(const struct rusage *ru);
/*
 * CPU seconds of the calling thread (CLOCK_THREAD_CPUTIME_ID, ns): a
 * producer's own cost, immune to the other threads and to other users'
 * load.
 */
double	pb_thread_cpu_s(void);
/* Peak resident set of this process, KiB (ru_maxrss). */
long	pb_maxrss_kib(void);
/*
 * A numeric command-line value of prog's option opt within [lo, hi]; exits
 * with "prog bad option=... value=... range=lo..hi" otherwise.
 */
double	pb_num_arg(const char *prog, const char *opt, const char *s, double lo,
	    double hi);

/*
 * The first two CPUs this process may run on in cpu[0], cpu[1] (a producer
 * and a consumer thread's), or -1s with fewer; returns how many it found.
 */
int	pb_first_cpus(int cpu[2]);
/* Pins the calling thread to cpu; cpu < 0: leaves it where it is. */
void	pb_pin_self(int cpu);
/* Median of v[0..n), n >= 1 (sorts a copy); the range in *lo, *hi if not NULL. */
double	pb_median(const double *v, int n, double *lo, double *hi);

/*
 * The wait of tocsin's threads before the bell (daemon/ring.h), kept for
 * benchmarks: the same wait for every ring bench/ringbench compares, and
 * bench/wakebench's context row.  pb_spin_backoff(round): a producer on a
 * full ring, 16 short spins, 16 sched_yield()s, then sleeps from 2 us
 * doubling to 1 ms.  pb_spin_idle(round): a consumer on an empty ring, 63
 * sched_yield()s, then 50 us sleeps.
 */
void	 pb_spin_backoff(unsigned round);
void	 pb_spin_idle(unsigned round);

#endif
