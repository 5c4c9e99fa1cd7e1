/*
 * pb_stats.c - see pb_stats.h.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/pb_stats.h"
#include "daemon/log.h"
#include "daemon/mem.h"

int64_t
pb_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

double
pb_wall_s(void)
{
	return (double)pb_now_us() / 1e6;
}

double
pb_rusage_cpu_s(const struct rusage *ru)
{
	return (double)ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6 +
	    (double)ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6;
}

double
pb_cpu_s(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return pb_rusage_cpu_s(&ru);
}

double
pb_thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long
pb_maxrss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static unsigned
hist_index(uint64_t v)
{
	unsigned e;

	if (v < 64)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);	/* >= 6 */
	if (e >= 6 + 40)
		return PB_HIST_BUCKETS - 1;
	return 64 + (e - 6) * 32 + (unsigned)((v >> (e - 5)) & 31);
}

/* The middle of bucket i. */
static uint64_t
hist_value(unsigned i)
{
	unsigned e, sub;
	uint64_t lo;

	if (i < 64)
		return i;
	e = (i - 64) / 32 + 6;
	sub = (i - 64) % 32;
	lo = (1ULL << e) + ((uint64_t)sub << (e - 5));
	return lo + (1ULL << (e - 5)) / 2;
}

void
pb_hist_add(struct pb_hist *h, uint64_t v)
{
	h->count[hist_index(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

uint64_t
pb_hist_quantile(const struct pb_hist *h, double q)
{
	uint64_t want, seen = 0, v;

	if (h->n == 0)
		return 0;
	want = (uint64_t)(q * (double)h->n + 0.5);
	want = want < 1 ? 1 : want > h->n ? h->n : want;
	for (unsigned i = 0; i < PB_HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen >= want) {
			v = hist_value(i);
			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

void
pb_run_init(struct pb_run *r, const char *client, size_t devices,
    size_t conns, unsigned interval_ms)
{
	memset(r, 0, sizeof(*r));
	r->client = client;
	r->devices = devices;
	r->conns = conns;
	r->interval_ms = interval_ms;
	r->missed = -1;
	r->last = xcalloc(devices, sizeof(*r->last));
	for (size_t i = 0; i < devices; i++)
		r->last[i] = -1;
}

void
pb_run_fini(struct pb_run *r)
{
	FREE_NULL(r->last);
}

void
pb_run_reset(struct pb_run *r)
{
	r->tx = r->errors = r->timeouts = 0;
	memset(&r->rtt, 0, sizeof(r->rtt));
	memset(&r->gap, 0, sizeof(r->gap));
	memset(&r->jitter, 0, sizeof(r->jitter));
}

void
pb_run_start(struct pb_run *r)
{
	getrusage(RUSAGE_SELF, &r->ru0);
	r->t0 = pb_now_us();
}

void
pb_run_stop(struct pb_run *r)
{
	r->t1 = pb_now_us();
	getrusage(RUSAGE_SELF, &r->ru1);
}

void
pb_run_poll(struct pb_run *r, size_t dev, int64_t start_us, int64_t due_us)
{
	if (due_us >= 0) {
		pb_hist_add(&r->jitter, (uint64_t)llabs(start_us - due_us));
	} else {
		if (r->last[dev] >= 0 && start_us >= r->last[dev])
			pb_hist_add(&r->gap, (uint64_t)(start_us -
			    r->last[dev]));
		r->last[dev] = start_us;
	}
}

void
pb_run_done(struct pb_run *r, int64_t rtt_us)
{
	r->tx++;
	pb_hist_add(&r->rtt, rtt_us > 0 ? (uint64_t)rtt_us : 0);
}

void
pb_run_print(const struct pb_run *r, FILE *fp)
{
	double secs = (double)(r->t1 - r->t0) / 1e6;
	double cpu = pb_rusage_cpu_s(&r->ru1) - pb_rusage_cpu_s(&r->ru0);
	uint64_t jit;

	if (r->interval_ms > 0) {
		jit = pb_hist_quantile(&r->jitter, 0.99);
	} else {
		uint64_t p99 = pb_hist_quantile(&r->gap, 0.99);
		uint64_t p50 = pb_hist_quantile(&r->gap, 0.50);

		jit = p99 > p50 ? p99 - p50 : 0;
	}
	fprintf(fp, "pollbench client=%s devices=%zu conns=%zu interval_ms=%u "
	    "tx=%llu errors=%llu timeouts=%llu secs=%.3f tps=%.0f cpu_s=%.3f "
	    "cpu_s_per_1k=%.5f maxrss_kb=%ld rtt_p50_us=%llu rtt_p99_us=%llu "
	    "jitter=%s jitter_p99_us=%llu polls=%llu missed=%llu\n", r->client, r->devices, r->conns,
	    r->interval_ms, (unsigned long long)r->tx,
	    (unsigned long long)r->errors, (unsigned long long)r->timeouts,
	    secs, secs > 0 ? (double)r->tx / secs : 0.0, cpu,
	    r->tx > 0 ? cpu / (double)r->tx * 1000.0 : 0.0, r->ru1.ru_maxrss,
	    (unsigned long long)pb_hist_quantile(&r->rtt, 0.50),
	    (unsigned long long)pb_hist_quantile(&r->rtt, 0.99),
	    r->interval_ms > 0 ? "schedule" : "gap",
	    (unsigned long long)jit, (unsigned long long)(r->polls ? r->polls :
	    r->tx + r->errors + r->timeouts), (unsigned long long)(r->missed >= 0 ?
	    (uint64_t)r->missed : r->timeouts + r->errors));
	fflush(fp);
}

unsigned long
pb_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit nofile=%lu", (unsigned long)rl.rlim_max);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return (unsigned long)rl.rlim_cur;
}

double
pb_num_arg(const char *prog, const char *opt, const char *s, double lo,
    double hi)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || !(v >= lo && v <= hi))
		fatalx("%s bad option=%s value=\"%s\" range=%g..%g", prog, opt, s,
		    lo, hi);
	return v;
}

int
pb_first_cpus(int cpu[2])
{
	cpu_set_t set;
	int k = 0;

	cpu[0] = cpu[1] = -1;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 0;
	for (int i = 0; i < CPU_SETSIZE && k < 2; i++)
		if (CPU_ISSET(i, &set))
			cpu[k++] = i;
	if (k < 2)
		cpu[0] = cpu[1] = -1;
	return k;
}

void
pb_pin_self(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static int
pb_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double
pb_median(const double *v, int n, double *lo, double *hi)
{
	double *s = xmalloc((size_t)n * sizeof(*s)), m;

	memcpy(s, v, (size_t)n * sizeof(*s));
	qsort(s, (size_t)n, sizeof(*s), pb_cmp_double);
	if (lo != NULL)
		*lo = s[0];
	if (hi != NULL)
		*hi = s[n - 1];
	m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	xfree(s);
	return m;
}

void
pb_spin_backoff(unsigned round)
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
pb_spin_idle(unsigned round)
{
	struct timespec ts = { 0, 50000 };

	if (round < 63)
		sched_yield();
	else
		nanosleep(&ts, NULL);
}
