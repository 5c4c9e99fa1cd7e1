/*
 * wakebench - how an idle shard thread should wait for work (issue 11:
 * "eventfd, futex or a condition variable: measure which"), on the
 * daemon's real pattern: one producer thread pushes 48-byte messages, one
 * per push, into a daemon/ring of 4096 slots (the router's); one consumer
 * thread drains up to 256 per turn (the router's batch) and, when the
 * ring is empty, waits with mechanism M.
 *
 *   wakebench [-n messages] [-s sparse] [-g gap_us] [-i idle_s] [-r reps]
 *             [-m futex,eventfd,condvar,spin]
 *   defaults: 8388608, 20000, 200, 2, 5, all four
 *
 * The blocking mechanisms share one event-count protocol, so that they
 * differ only in the sleep and the wake themselves:
 *   consumer  ring empty: (futex: key = seq) sleeping = 1; seq_cst fence;
 *             look at the ring again; still empty: sleep with M; then
 *             sleeping = 0 and drain.
 *   producer  after each ring_publish(): seq_cst fence; if sleeping is set,
 *             exchange it to 0 and, when this call cleared it, wake with
 *             M (one wake per sleep, however many pushes see the flag).
 * The two fences are Dekker's: either the consumer's second look sees the
 * message or the producer sees the flag, so no wake is lost.  What the
 * protocol costs the producer when nobody sleeps is the fence and a load
 * per push (the saturated workload shows it).
 *   futex    FUTEX_WAIT_PRIVATE on a 32-bit sequence the producer bumps
 *            before FUTEX_WAKE_PRIVATE (a wake between the consumer's key
 *            and its wait makes the wait return at once: EAGAIN);
 *   eventfd  a blocking read(2) of an eventfd, write(2) of 1 to wake (a
 *            stale count makes the next read return at once: harmless);
 *   condvar  pthread_cond_wait on a pending flag under a mutex (the flag
 *            set and the second look under it), lock + signal to wake;
 *   spin     the shard before the bell (context, not a candidate): pb_spin_idle(), 63
 *            sched_yield()s then 50 us sleeps; the producer does nothing.
 * A full ring makes the producer wait as the router did before the bell
 * (pb_spin_backoff(): spin, yield, sleep; counted as waits).
 *
 * Workloads (fixed work, the same for every mechanism):
 *   saturated  n messages, the producer never pauses: messages/s, CPU s
 *              of each thread (CLOCK_THREAD_CPUTIME_ID), wakes issued,
 *              sleeps entered.
 *   sparse     s messages, one every gap_us (the producer sleeps to an
 *              absolute deadline, timer slack 1 us): wake latency = the
 *              consumer's CLOCK_MONOTONIC when it reads a message minus
 *              the producer's just before ring_publish() (in the message),
 *              p50/p99/max; CPU s of each thread.
 *   idle       the consumer waits idle_s seconds for one message: its CPU
 *              s (a blocking mechanism's must be ~0).
 * Every message carries its sequence number and the consumer checks the
 * order, so a lost or duplicated message fails the run (exit 1); a lost
 * wake would hang it, so the whole program stops itself after a bound
 * (alarm(2): 60 s per run).  Producer and consumer are pinned to the first
 * two CPUs the process may use.
 *
 * Each repetition runs every (workload, mechanism) once, the mechanisms in
 * a rotated order, after one warm-up pass of each, so load from other
 * users of the machine falls on all of them alike.  Per (workload,
 * mechanism): the median and [min..max] over the repetitions of each
 * figure, and the ratio of its median to futex's (figure / futex's).
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench/pb_stats.h"
#include "daemon/mem.h"
#include "daemon/ring.h"

#define WB_SLOTS	4096	/* the router's ring (daemon/live.c) */
#define WB_BATCH	256	/* the router's messages per ring per turn */
#define WB_MAXREPS	64
#define WB_RUN_BOUND_S	60	/* a run longer than this is a lost wake */

/*
 * The protocol's two orders that ring.h does not name (STYLE.md 9): the
 * fence on each side of the Dekker pair, and the producer's claim of the
 * flag.  When the daemon adopts a wake, these move into ring.h.
 */
#define wb_fence_seq_cst()	ring_fence()	/* ring.h: a fence, or its TSan stand-in */
#define wb_store_relaxed(p, v) \
	atomic_store_explicit((p), (v), memory_order_relaxed)
#define wb_exchange_relaxed(p, v) \
	atomic_exchange_explicit((p), (v), memory_order_relaxed)

/* 48 bytes, the router's message size; seq and stamp where it has the alarm. */
struct wb_msg {
	uint64_t seq;		/* 0, 1, 2, ...: the consumer checks order */
	int64_t	 sent_ns;	/* CLOCK_MONOTONIC before ring_publish() */
	uint32_t device;	/* payload the consumer reads */
	uint32_t site;
	uint32_t point;
	uint16_t code;
	uint8_t	 edge;
	uint8_t	 severity;
	void	*ptr;		/* the router's owned block: NULL here */
	uint32_t kind;
	uint32_t id;
};

_Static_assert(sizeof(struct wb_msg) == 48, "the router's 48 bytes");

enum wb_mech { WB_FUTEX, WB_EVENTFD, WB_CONDVAR, WB_SPIN, WB_NMECHS };
enum wb_load { WB_SATURATED, WB_SPARSE, WB_IDLE, WB_NLOADS };

static const char *const mech_names[WB_NMECHS] = {
	"futex", "eventfd", "condvar", "spin",
};

/* One run: a ring, its two threads, the waiting state, what they saw. */
struct wb_run {
	enum wb_mech	 mech;
	enum wb_load	 load;
	uint64_t	 n;		/* messages to carry */
	int64_t		 gap_ns;	/* sparse: between two pushes */
	int64_t		 idle_ns;	/* idle: before the one push */
	struct ring	*ring;
	int		 cpu[2];	/* producer, consumer; -1: unpinned */
	/* the wake: written by both threads */
	alignas(MEM_LINE) _Atomic uint32_t sleeping; /* consumer is going to sleep */
	alignas(MEM_LINE) _Atomic uint32_t seq;	/* futex word */
	int		 efd;		/* eventfd */
	pthread_mutex_t	 mu;		/* condvar: guards pending */
	pthread_cond_t	 cv;
	int		 pending;	/* condvar: a wake not yet seen */
	/* the producer's results */
	alignas(MEM_LINE) double prod_cpu;	/* s */
	uint64_t	 wakes;		/* wake calls made */
	uint64_t	 waits;		/* pb_spin_backoff() rounds, ring full */
	/* the consumer's results */
	alignas(MEM_LINE) double cons_cpu;	/* s */
	uint64_t	 sleeps;	/* blocking calls (spin: idle rounds) */
	uint64_t	 bad;		/* messages out of order */
	uint64_t	 sum;		/* of the payload read */
	int64_t		*lat_ns;	/* sparse: per message */
};

/* What one (workload, mechanism) measured over the repetitions. */
struct wb_result {
	double	 rate[WB_MAXREPS];	/* messages/s */
	double	 cpu[WB_MAXREPS];	/* both threads, s */
	double	 pcpu[WB_MAXREPS];	/* producer, s */
	double	 ccpu[WB_MAXREPS];	/* consumer, s */
	double	 wakes[WB_MAXREPS];
	double	 sleeps[WB_MAXREPS];
	double	 waits[WB_MAXREPS];	/* producer, ring full */
	double	 p50[WB_MAXREPS];	/* latency, us */
	double	 p99[WB_MAXREPS];
	double	 max[WB_MAXREPS];
	int	 reps;
};

static int64_t
wb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long
wb_futex(_Atomic uint32_t *word, int op, uint32_t val)
{
	return syscall(SYS_futex, (uint32_t *)word, op, val, NULL, NULL, 0);
}

/*
 * Producer, after ring_publish(): wakes the consumer if it announced a
 * sleep.  The fence orders the publish before the load of the flag.
 */
static inline void
wb_wake(struct wb_run *r)
{
	uint64_t one = 1;

	if (r->mech == WB_SPIN)
		return;
	wb_fence_seq_cst();
	if (ring_load_relaxed(&r->sleeping) == 0 ||
	    wb_exchange_relaxed(&r->sleeping, 0) == 0)
		return;
	r->wakes++;
	switch (r->mech) {
	case WB_FUTEX:
		ring_add_relaxed(&r->seq, 1);
		if (wb_futex(&r->seq, FUTEX_WAKE_PRIVATE, 1) < 0)
			abort();
		break;
	case WB_EVENTFD:
		if (write(r->efd, &one, sizeof(one)) != sizeof(one))
			abort();
		break;
	case WB_CONDVAR:
		pthread_mutex_lock(&r->mu);
		r->pending = 1;
		pthread_cond_signal(&r->cv);
		pthread_mutex_unlock(&r->mu);
		break;
	default:
		abort();
	}
}

/*
 * Consumer, ring found empty: waits for a message (or returns early: a
 * stale wake, a signal).  The caller looks at the ring again either way.
 */
static void
wb_sleep(struct wb_run *r, unsigned *idle)
{
	uint64_t v;
	uint32_t key;

	switch (r->mech) {
	case WB_SPIN:
		r->sleeps++;
		pb_spin_idle((*idle)++);
		return;
	case WB_FUTEX:
		key = ring_load_acquire(&r->seq);
		wb_store_relaxed(&r->sleeping, 1);
		wb_fence_seq_cst();
		if (ring_peek(r->ring) == 0) {
			r->sleeps++;
			if (wb_futex(&r->seq, FUTEX_WAIT_PRIVATE, key) < 0 &&
			    errno != EAGAIN && errno != EINTR)
				abort();
		}
		break;
	case WB_EVENTFD:
		wb_store_relaxed(&r->sleeping, 1);
		wb_fence_seq_cst();
		if (ring_peek(r->ring) == 0) {
			r->sleeps++;
			if (read(r->efd, &v, sizeof(v)) != sizeof(v) &&
			    errno != EINTR)
				abort();
		}
		break;
	case WB_CONDVAR:
		pthread_mutex_lock(&r->mu);
		wb_store_relaxed(&r->sleeping, 1);
		wb_fence_seq_cst();
		if (ring_peek(r->ring) == 0) {
			r->sleeps++;
			while (!r->pending)
				pthread_cond_wait(&r->cv, &r->mu);
		}
		r->pending = 0;
		pthread_mutex_unlock(&r->mu);
		break;
	default:
		abort();
	}
	/* awake: pushes need not wake us (a stale exchange is harmless) */
	wb_store_relaxed(&r->sleeping, 0);
}

static void *
wb_producer(void *arg)
{
	struct wb_run *r = arg;
	struct timespec ts;
	int64_t t0 = 0;
	double c;

	pb_pin_self(r->cpu[0]);
	/* the pacing sleeps end on time: the gap is the workload */
	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	c = pb_thread_cpu_s();
	if (r->load != WB_SATURATED)
		t0 = wb_now_ns();
	for (uint64_t i = 0; i < r->n; i++) {
		unsigned round = 0;
		struct wb_msg *m;
		int64_t due;

		if (r->load != WB_SATURATED) {
			due = t0 + (r->load == WB_SPARSE ?
			    (int64_t)(i + 1) * r->gap_ns : r->idle_ns);
			ts.tv_sec = due / 1000000000;
			ts.tv_nsec = due % 1000000000;
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME,
			    &ts, NULL) == EINTR)
				;
		}
		while ((m = ring_reserve(r->ring)) == NULL)
			pb_spin_backoff(round++);
		r->waits += round;
		m->seq = i;
		m->device = (uint32_t)i & 0xffff;
		m->site = (uint32_t)i & 0xfff;
		m->point = 3;
		m->code = 7;
		m->edge = (uint8_t)(i & 1);
		m->severity = 2;
		m->ptr = NULL;
		m->kind = 0;
		m->id = 0;
		ring_commit(r->ring);
		m->sent_ns = r->load == WB_SATURATED ? 0 : wb_now_ns();
		ring_publish(r->ring);
		wb_wake(r);
	}
	r->prod_cpu = pb_thread_cpu_s() - c;
	return NULL;
}

static void *
wb_consumer(void *arg)
{
	struct wb_run *r = arg;
	uint64_t next = 0;
	unsigned idle = 0;
	double c;

	pb_pin_self(r->cpu[1]);
	c = pb_thread_cpu_s();
	while (next < r->n) {
		size_t k = ring_peek(r->ring);
		int64_t now;

		if (k == 0) {
			wb_sleep(r, &idle);
			continue;
		}
		idle = 0;
		k = k < WB_BATCH ? k : WB_BATCH;
		now = r->lat_ns != NULL ? wb_now_ns() : 0;
		for (size_t j = 0; j < k; j++) {
			const struct wb_msg *m = ring_slot(r->ring, j);

			r->bad += m->seq != next;
			r->sum += m->device + m->code;
			if (r->lat_ns != NULL && next < r->n)
				r->lat_ns[next] = now - m->sent_ns;
			next++;
		}
		ring_release(r->ring, k);
	}
	r->cons_cpu = pb_thread_cpu_s() - c;
	return NULL;
}

static int
wb_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* One run; adds its figures to res (NULL: a warm-up).  Exits on a failure. */
static void
wb_once(enum wb_load load, enum wb_mech mech, uint64_t n, int64_t gap_ns,
    int64_t idle_ns, const int cpu[2], struct wb_result *res)
{
	struct wb_run *r = mem_calloc_lines(1, sizeof(*r));
	pthread_t pt, ct;
	double w;
	int i;

	r->mech = mech;
	r->load = load;
	r->n = n;
	r->gap_ns = gap_ns;
	r->idle_ns = idle_ns;
	r->cpu[0] = cpu[0];
	r->cpu[1] = cpu[1];
	r->ring = mem_calloc_lines(1, sizeof(*r->ring));
	if (ring_init(r->ring, WB_SLOTS, sizeof(struct wb_msg)) != 0)
		abort();
	atomic_init(&r->sleeping, 0);
	atomic_init(&r->seq, 0);
	if ((r->efd = eventfd(0, EFD_CLOEXEC)) < 0) {
		perror("wakebench: eventfd");
		exit(1);
	}
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	if (load == WB_SPARSE)
		r->lat_ns = xcalloc(n, sizeof(*r->lat_ns));
	alarm(WB_RUN_BOUND_S + (unsigned)((double)n * gap_ns / 1e9 +
	    idle_ns / 1e9));
	w = pb_wall_s();
	if (pthread_create(&ct, NULL, wb_consumer, r) != 0 ||
	    pthread_create(&pt, NULL, wb_producer, r) != 0) {
		fprintf(stderr, "wakebench: pthread_create failed\n");
		exit(1);
	}
	pthread_join(pt, NULL);
	pthread_join(ct, NULL);
	w = pb_wall_s() - w;
	alarm(0);
	if (r->bad != 0) {
		fprintf(stderr, "wakebench: %s: %" PRIu64 " messages out of "
		    "order\n", mech_names[mech], r->bad);
		exit(1);
	}
	if (res != NULL) {
		i = res->reps++;
		res->rate[i] = (double)n / w;
		res->pcpu[i] = r->prod_cpu;
		res->ccpu[i] = r->cons_cpu;
		res->cpu[i] = r->prod_cpu + r->cons_cpu;
		res->wakes[i] = (double)r->wakes;
		res->sleeps[i] = (double)r->sleeps;
		res->waits[i] = (double)r->waits;
		if (r->lat_ns != NULL) {
			qsort(r->lat_ns, n, sizeof(*r->lat_ns), wb_cmp_i64);
			res->p50[i] = r->lat_ns[n / 2] / 1e3;
			res->p99[i] = r->lat_ns[(n * 99) / 100] / 1e3;
			res->max[i] = r->lat_ns[n - 1] / 1e3;
		}
	}
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	close(r->efd);
	ring_fini(r->ring);
	xfree(r->ring);
	xfree(r->lat_ns);
	xfree(r);
}

/* One cell: "median [min..max]", each with prec decimals. */
static void
wb_cell(int prec, const double *v, int n, double scale)
{
	char a[32], b[32], c[32], cell[100];
	double lo, hi, m = pb_median(v, n, &lo, &hi);

	snprintf(a, sizeof(a), "%.*f", prec, m * scale);
	snprintf(b, sizeof(b), "%.*f", prec, lo * scale);
	snprintf(c, sizeof(c), "%.*f", prec, hi * scale);
	snprintf(cell, sizeof(cell), "%s [%s..%s]", a, b, c);
	printf(" %-24s", cell);
}

/* One column of a workload's table: a figure of struct wb_result. */
struct wb_col {
	const char	*name;
	size_t		 off;		/* offsetof(struct wb_result, figure) */
	int		 prec;		/* decimals */
	double		 scale;		/* printed = figure x scale */
	int		 ratio;		/* also printed as median / futex's */
};

#define WB_COL(name, f, prec, scale, ratio) \
	{ name, offsetof(struct wb_result, f), prec, scale, ratio }

static const struct wb_col wb_cols[WB_NLOADS][7] = {
	[WB_SATURATED] = {
		WB_COL("Mmsg/s", rate, 1, 1e-6, 1),
		WB_COL("cpu_s both", cpu, 3, 1, 1),
		WB_COL("prod_s", pcpu, 3, 1, 0),
		WB_COL("cons_s", ccpu, 3, 1, 0),
		WB_COL("wakes", wakes, 0, 1, 0),
		WB_COL("sleeps", sleeps, 0, 1, 0),
	},
	[WB_SPARSE] = {
		WB_COL("p50_us", p50, 1, 1, 1),
		WB_COL("p99_us", p99, 1, 1, 1),
		WB_COL("max_us", max, 0, 1, 0),
		WB_COL("cpu_s both", cpu, 3, 1, 1),
		WB_COL("prod_s", pcpu, 3, 1, 0),
		WB_COL("cons_s", ccpu, 3, 1, 0),
	},
	[WB_IDLE] = {
		WB_COL("cons_s", ccpu, 4, 1, 1),
		WB_COL("prod_s", pcpu, 4, 1, 0),
		WB_COL("sleeps", sleeps, 0, 1, 0),
		WB_COL("wakes", wakes, 0, 1, 0),
	},
};

static const double *
wb_fig(const struct wb_result *r, const struct wb_col *c)
{
	return (const double *)(const void *)((const char *)r + c->off);
}

/*
 * A workload's table: per mechanism each column's median [min..max], then
 * the ratio columns, median / futex's ("inf" or "=" when futex's is 0).
 */
static void
wb_table(enum wb_load load, const struct wb_result *res, const int *mechs,
    int nmechs)
{
	const struct wb_col *cols = wb_cols[load], *c;
	const struct wb_result *fx = &res[WB_FUTEX];

	printf("  %-8s", "mech");
	for (c = cols; c->name != NULL; c++)
		printf(" %-24s", c->name);
	for (c = cols; c->name != NULL; c++)
		if (c->ratio)
			printf(" %7.7s/fx", c->name);
	printf("\n");
	for (int k = 0; k < nmechs; k++) {
		const struct wb_result *r = &res[mechs[k]];
		int n = r->reps;

		printf("  %-8s", mech_names[mechs[k]]);
		for (c = cols; c->name != NULL; c++)
			wb_cell(c->prec, wb_fig(r, c), n, c->scale);
		for (c = cols; c->name != NULL && fx->reps == n; c++) {
			double a, b;

			if (!c->ratio)
				continue;
			a = pb_median(wb_fig(r, c), n, NULL, NULL);
			b = pb_median(wb_fig(fx, c), n, NULL, NULL);
			if (b > 0)
				printf(" %9.2fx", a / b);
			else
				printf(" %10s", a > 0 ? "inf" : "=");
		}
		printf("\n");
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: wakebench [-n messages] [-s sparse] "
	    "[-g gap_us] [-i idle_s] [-r reps]\n"
	    "                 [-m futex,eventfd,condvar,spin]\n");
	exit(2);
}

/* -m LIST: the mechanisms to run, in order; returns how many. */
static int
wb_parse_mechs(char *list, int *mechs)
{
	int n = 0;

	for (char *t = strtok(list, ","); t != NULL; t = strtok(NULL, ",")) {
		int m;

		for (m = 0; m < WB_NMECHS; m++)
			if (strcmp(t, mech_names[m]) == 0)
				break;
		if (m == WB_NMECHS || n == WB_NMECHS)
			usage();
		mechs[n++] = m;
	}
	if (n == 0)
		usage();
	return n;
}

int
main(int argc, char **argv)
{
	static const char *const load_names[WB_NLOADS] = {
		"saturated", "sparse", "idle",
	};
	static struct wb_result res[WB_NLOADS][WB_NMECHS];
	int mechs[WB_NMECHS] = { WB_FUTEX, WB_EVENTFD, WB_CONDVAR, WB_SPIN };
	uint64_t n = 8388608, sparse = 20000;
	int64_t gap_ns = 200000, idle_ns = 2000000000;
	int reps = 5, nmechs = WB_NMECHS, cpu[2], ncpu, opt;
	double load[3] = { 0, 0, 0 };
	time_t now = time(NULL);
	char date[32];

	while ((opt = getopt(argc, argv, "n:s:g:i:r:m:")) != -1) {
		switch (opt) {
		case 'n':
			n = (uint64_t)pb_num_arg("wakebench", "-n", optarg,
			    1000, 1e11);
			break;
		case 's':
			sparse = (uint64_t)pb_num_arg("wakebench", "-s",
			    optarg, 100, 1e8);
			break;
		case 'g':
			gap_ns = (int64_t)pb_num_arg("wakebench", "-g", optarg,
			    1, 1e6) * 1000;
			break;
		case 'i':
			idle_ns = (int64_t)(pb_num_arg("wakebench", "-i",
			    optarg, 0.01, 30) * 1e9);
			break;
		case 'r':
			reps = (int)pb_num_arg("wakebench", "-r", optarg, 1,
			    WB_MAXREPS);
			break;
		case 'm':
			nmechs = wb_parse_mechs(optarg, mechs);
			break;
		default:
			usage();
		}
	}
	if (optind < argc)
		usage();
	/* a lost wake hangs a run: the default action ends the process */
	signal(SIGALRM, SIG_DFL);
	ncpu = pb_first_cpus(cpu);
	(void)getloadavg(load, 3);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	printf("wakebench: %s load %.2f %.2f %.2f; ring of %d x %zu B, "
	    "consumer drains <= %d; producer on cpu %d, consumer on cpu %d%s\n",
	    date, load[0], load[1], load[2], WB_SLOTS, sizeof(struct wb_msg),
	    WB_BATCH, cpu[0], cpu[1],
	    ncpu < 2 ? " (fewer than 2 CPUs: not pinned)" : "");
	printf("wakebench: saturated %" PRIu64 " messages; sparse %" PRIu64
	    " messages, one per %" PRId64 " us; idle %.2f s; %d repetitions "
	    "interleaved\n", n, sparse, gap_ns / 1000, idle_ns / 1e9, reps);

	/* a warm-up pass of each: code, page faults, CPU frequency */
	for (int k = 0; k < nmechs; k++) {
		wb_once(WB_SATURATED, mechs[k], n / 8, 0, 0, cpu, NULL);
		wb_once(WB_SPARSE, mechs[k], sparse / 20 + 1, gap_ns, 0, cpu,
		    NULL);
	}
	for (int rep = 0; rep < reps; rep++)
		for (int l = 0; l < WB_NLOADS; l++)
			for (int j = 0; j < nmechs; j++) {
				int m = mechs[(j + rep) % nmechs];

				wb_once(l, m, l == WB_SATURATED ? n :
				    l == WB_SPARSE ? sparse : 1,
				    l == WB_SPARSE ? gap_ns : 0,
				    l == WB_IDLE ? idle_ns : 0, cpu,
				    &res[l][m]);
			}

	for (int l = 0; l < WB_NLOADS; l++) {
		printf("\n  %s", load_names[l]);
		if (l == WB_SATURATED)
			printf(" (%" PRIu64 " messages, producer never "
			    "pauses)\n", n);
		else if (l == WB_SPARSE)
			printf(" (%" PRIu64 " messages, one per %" PRId64
			    " us; latency = publish to read)\n", sparse,
			    gap_ns / 1000);
		else
			printf(" (one message after %.2f s)\n", idle_ns / 1e9);
		wb_table(l, res[l], mechs, nmechs);
	}
	printf("\n  median [min..max] over %d repetitions; cpu_s both = "
	    "producer + consumer thread CPU (CLOCK_THREAD_CPUTIME_ID); "
	    "/fx: median / futex's median (rate: >1 faster; the others: <1 "
	    "less)\n", reps);
	return 0;
}
