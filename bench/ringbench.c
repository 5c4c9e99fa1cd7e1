/*
 * ringbench - tocsin's SPSC ring (daemon/ring) against ConcurrencyKit's
 * ck_ring (libck 0.7, a listed dependency), both carrying the daemon's
 * two real push patterns from a producer thread to a consumer thread on
 * two cores, in the same run.  The rule: use ck_ring unless a
 * hand-written ring is at least 1.3x faster here.
 *
 *   ringbench [-n messages] [-r repetitions]	defaults 8388608, 7
 *
 * Patterns (fixed work: n messages, the same for every ring):
 *   alarm  the poll thread -> a shard (daemon/live.c pushes each alarm
 *          alone): one 48-byte message per push, the router's layout (a
 *          struct alarm_event, then pointer, kind and id, zero for an
 *          alarm), written and published one at a time; the consumer
 *          takes up to 256 per turn (the router's batch).
 *   line   a shard -> the file sink's writer: one char * per put; the
 *          consumer takes everything there is each turn.
 * Rings, 4096 slots each (the daemon's sizes for both):
 *   tocsin      daemon/ring: ring_reserve(), fill the slot in place,
 *               ring_commit(), ring_publish() per message; the consumer
 *               ring_peek()s, reads in place, ring_release()s per turn.
 *   ck          ck_ring SPSC: the typed by-value enqueue of
 *               CK_RING_PROTOTYPE (alarm; a copy of a message built on
 *               the stack, as ck's API takes one) or the pointer enqueue
 *               (line); dequeue is one message at a time (ck 0.7 has no
 *               batch dequeue), copied out.
 *   ck-reserve  (alarm) ck's enqueue_reserve + enqueue_commit: the slot
 *               filled in place, as tocsin's push does.
 * Both sides wait the same way for every ring, so the rings are compared
 * and not the waits: the producer on a full ring with pb_spin_backoff()
 * (spin, yield, sleep), the consumer on an empty one with pb_spin_idle()
 * (yields, then 50 us sleeps).  The daemon itself sleeps on a ring_bell instead
 * (bench/wakebench measures that), which neither ring here would change.  Every message carries its sequence number and the consumer
 * checks the order, so a broken ring fails the run.  Producer and
 * consumer are pinned to the first two CPUs the process may use.
 *
 * Each repetition runs every (pattern, ring) once, in turn, after one
 * warm-up pass of each, so load from other users of the machine falls on
 * all of them alike.  Per (pattern, ring): the median and range over the
 * repetitions of messages/s, the median CPU seconds (both threads, and the
 * producer's own), and the ratio of tocsin's median rate to each ck
 * variant's (>1: tocsin faster).  The last line states the decision.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <ck_ring.h>

#include "bench/pb_stats.h"
#include "correlator/alarm.h"
#include "daemon/mem.h"
#include "daemon/ring.h"

#define RB_SLOTS	4096	/* the router's and the file sink's rings */
#define RB_BATCH	256	/* the router's messages per ring per turn */
#define RB_LINES	65536	/* distinct line pointers (one byte each) */
#define RB_RULE		1.3	/* the threshold for our own ring */
#define RB_MAXREPS	64

/* The router's message: an alarm by value and a 16-byte tail. */
struct rb_msg {
	struct alarm_event ev;	/* at_ms: the sequence number */
	void	*ptr;		/* an owned block (actions), NULL here */
	uint32_t kind;		/* 0: alarm */
	uint32_t id;		/* maintenance window id */
};

_Static_assert(sizeof(struct rb_msg) == 48, "the router's 48 bytes");

CK_RING_PROTOTYPE(rb_msg, rb_msg)

enum rb_pattern { RB_ALARM, RB_LINE, RB_NPATTERNS };
enum rb_kind { RB_TOCSIN, RB_CK, RB_CK_RESERVE, RB_NKINDS };

static const char *const pattern_names[RB_NPATTERNS] = {
	"alarm (48 B by value, 1 per push; shard drains <= 256)",
	"line (char *, 1 per put; writer drains all)",
};
static const char *const kind_names[RB_NKINDS] = {
	"tocsin", "ck", "ck-reserve",
};

/* One run: a ring of one kind, its two threads, what they measured. */
struct rb_run {
	enum rb_pattern	 pattern;
	enum rb_kind	 kind;
	uint64_t	 n;		/* messages to carry */
	struct ring	*ring;		/* RB_TOCSIN */
	struct ck_ring	 ck;		/* RB_CK, RB_CK_RESERVE */
	struct rb_msg	*ckmsgs;	/* ck's slots, alarm */
	struct ck_ring_buffer *ckptrs;	/* ck's slots, line */
	char		*lines;		/* RB_LINES bytes the pointers aim at */
	int		 cpu[2];	/* producer, consumer; -1: unpinned */
	/* results */
	double		 prod_cpu;	/* producer thread, s */
	double		 cons_cpu;	/* consumer thread, s */
	uint64_t	 bad;		/* messages out of order */
	uint64_t	 sum;		/* of what the consumer read */
	uint64_t	 waits;		/* producer backoff rounds */
};

/* What one (pattern, ring) measured over the repetitions. */
struct rb_result {
	double	 rate[RB_MAXREPS];	/* messages/s */
	double	 cpu[RB_MAXREPS];	/* both threads, s */
	double	 pcpu[RB_MAXREPS];	/* producer, s */
	uint64_t waits[RB_MAXREPS];
	int	 reps;
};

static inline void
rb_fill(struct rb_msg *m, uint64_t i)
{
	m->ev.at_ms = (int64_t)i;
	m->ev.value = 1.0;
	m->ev.device = (uint32_t)i & 0xffff;
	m->ev.site = (uint32_t)i & 0xfff;
	m->ev.point = 3;
	m->ev.code = 7;
	m->ev.edge = (uint8_t)(i & 1);
	m->ev.severity = 2;
	m->ptr = NULL;
	m->kind = 0;
	m->id = 0;
}

static void *
rb_producer(void *arg)
{
	struct rb_run *r = arg;
	char *line;
	double t;

	pb_pin_self(r->cpu[0]);
	t = pb_thread_cpu_s();
	for (uint64_t i = 0; i < r->n; i++) {
		unsigned round = 0;
		struct rb_msg msg, *m;
		void *slot;

		switch (r->pattern * RB_NKINDS + r->kind) {
		case RB_ALARM * RB_NKINDS + RB_TOCSIN:
			while ((m = ring_reserve(r->ring)) == NULL)
				pb_spin_backoff(round++);
			rb_fill(m, i);
			ring_commit(r->ring);
			ring_publish(r->ring);
			break;
		case RB_ALARM * RB_NKINDS + RB_CK:
			rb_fill(&msg, i);
			while (!ck_ring_enqueue_spsc_rb_msg(&r->ck, r->ckmsgs,
			    &msg))
				pb_spin_backoff(round++);
			break;
		case RB_ALARM * RB_NKINDS + RB_CK_RESERVE:
			while ((m = ck_ring_enqueue_reserve_spsc_rb_msg(&r->ck,
			    r->ckmsgs)) == NULL)
				pb_spin_backoff(round++);
			rb_fill(m, i);
			ck_ring_enqueue_commit_spsc(&r->ck);
			break;
		case RB_LINE * RB_NKINDS + RB_TOCSIN:
			line = r->lines + (i & (RB_LINES - 1));
			while ((slot = ring_reserve(r->ring)) == NULL)
				pb_spin_backoff(round++);
			*(char **)slot = line;
			ring_commit(r->ring);
			ring_publish(r->ring);
			break;
		case RB_LINE * RB_NKINDS + RB_CK:
			line = r->lines + (i & (RB_LINES - 1));
			while (!ck_ring_enqueue_spsc(&r->ck, r->ckptrs, line))
				pb_spin_backoff(round++);
			break;
		default:
			abort();
		}
		r->waits += round;
	}
	r->prod_cpu = pb_thread_cpu_s() - t;
	return NULL;
}

/* The consumer's check and work on one message: order, and a read. */
static inline void
rb_alarm_got(struct rb_run *r, const struct rb_msg *m, uint64_t *next)
{
	r->bad += (uint64_t)m->ev.at_ms != *next;
	r->sum += m->ev.device + m->ev.code;
	(*next)++;
}

static inline void
rb_line_got(struct rb_run *r, const char *line, uint64_t *next)
{
	r->bad += line != r->lines + (*next & (RB_LINES - 1));
	r->sum += (unsigned char)*line;
	(*next)++;
}

static void *
rb_consumer(void *arg)
{
	struct rb_run *r = arg;
	uint64_t next = 0;
	unsigned idle = 0;
	double t;

	pb_pin_self(r->cpu[1]);
	t = pb_thread_cpu_s();
	while (next < r->n) {
		struct rb_msg msg;
		size_t k = 0;
		char *line;

		switch (r->pattern * RB_NKINDS + r->kind) {
		case RB_ALARM * RB_NKINDS + RB_TOCSIN:
			k = ring_peek(r->ring);
			k = k < RB_BATCH ? k : RB_BATCH;
			for (size_t j = 0; j < k; j++)
				rb_alarm_got(r, ring_slot(r->ring, j), &next);
			if (k > 0)
				ring_release(r->ring, k);
			break;
		case RB_ALARM * RB_NKINDS + RB_CK:
		case RB_ALARM * RB_NKINDS + RB_CK_RESERVE:
			while (k < RB_BATCH &&
			    ck_ring_dequeue_spsc_rb_msg(&r->ck, r->ckmsgs,
			    &msg)) {
				rb_alarm_got(r, &msg, &next);
				k++;
			}
			break;
		case RB_LINE * RB_NKINDS + RB_TOCSIN:
			k = ring_peek(r->ring);
			for (size_t j = 0; j < k; j++)
				rb_line_got(r, *(char **)ring_slot(r->ring, j),
				    &next);
			if (k > 0)
				ring_release(r->ring, k);
			break;
		case RB_LINE * RB_NKINDS + RB_CK:
			while (ck_ring_dequeue_spsc(&r->ck, r->ckptrs, &line)) {
				rb_line_got(r, line, &next);
				k++;
			}
			break;
		default:
			abort();
		}
		if (k > 0)
			idle = 0;
		else
			pb_spin_idle(idle++);
	}
	r->cons_cpu = pb_thread_cpu_s() - t;
	return NULL;
}

/* One run of n messages; adds its figures to res.  Exits on a failure. */
static void
rb_once(enum rb_pattern pattern, enum rb_kind kind, uint64_t n,
    const int cpu[2], char *lines, struct rb_result *res)
{
	struct rb_run r;
	pthread_t pt, ct;
	double w, c;

	memset(&r, 0, sizeof(r));
	r.pattern = pattern;
	r.kind = kind;
	r.n = n;
	r.lines = lines;
	r.cpu[0] = cpu[0];
	r.cpu[1] = cpu[1];
	if (kind == RB_TOCSIN) {
		r.ring = mem_calloc_lines(1, sizeof(*r.ring));
		if (ring_init(r.ring, RB_SLOTS, pattern == RB_ALARM ?
		    sizeof(struct rb_msg) : sizeof(char *)) != 0)
			abort();
	} else {
		ck_ring_init(&r.ck, RB_SLOTS);
		r.ckmsgs = mem_calloc_lines(RB_SLOTS, sizeof(*r.ckmsgs));
		r.ckptrs = mem_calloc_lines(RB_SLOTS, sizeof(*r.ckptrs));
	}
	w = pb_wall_s();
	c = pb_cpu_s(RUSAGE_SELF);
	if (pthread_create(&ct, NULL, rb_consumer, &r) != 0 ||
	    pthread_create(&pt, NULL, rb_producer, &r) != 0) {
		fprintf(stderr, "ringbench: pthread_create failed\n");
		exit(1);
	}
	pthread_join(pt, NULL);
	pthread_join(ct, NULL);
	w = pb_wall_s() - w;
	c = pb_cpu_s(RUSAGE_SELF) - c;
	if (r.bad != 0) {
		fprintf(stderr, "ringbench: %s / %s: %llu messages out of "
		    "order\n", pattern_names[pattern], kind_names[kind],
		    (unsigned long long)r.bad);
		exit(1);
	}
	if (res != NULL) {
		res->rate[res->reps] = (double)n / w;
		res->cpu[res->reps] = c;
		res->pcpu[res->reps] = r.prod_cpu;
		res->waits[res->reps] = r.waits;
		res->reps++;
	}
	if (r.ring != NULL) {
		ring_fini(r.ring);
		xfree(r.ring);
	}
	xfree(r.ckmsgs);
	xfree(r.ckptrs);
}

int
main(int argc, char **argv)
{
	static const enum rb_kind kinds[RB_NPATTERNS][RB_NKINDS] = {
		{ RB_TOCSIN, RB_CK, RB_CK_RESERVE },
		{ RB_TOCSIN, RB_CK, RB_NKINDS },
	};
	static struct rb_result res[RB_NPATTERNS][RB_NKINDS];
	uint64_t n = 8388608;
	int reps = 7, cpu[2], ncpu, opt;
	double worst = 0;
	char *lines;

	while ((opt = getopt(argc, argv, "n:r:")) != -1) {
		switch (opt) {
		case 'n':
			n = (uint64_t)pb_num_arg("ringbench", "-n", optarg,
			    1000, 1e11);
			break;
		case 'r':
			reps = (int)pb_num_arg("ringbench", "-r", optarg, 1,
			    RB_MAXREPS);
			break;
		default:
			fprintf(stderr, "usage: ringbench [-n messages] "
			    "[-r repetitions]\n");
			return 2;
		}
	}
	ncpu = pb_first_cpus(cpu);
	lines = xmalloc(RB_LINES);
	for (int i = 0; i < RB_LINES; i++)
		lines[i] = (char)('a' + i % 26);
	printf("ringbench: %llu messages per run, %d repetitions, rings of %d "
	    "slots; producer on cpu %d, consumer on cpu %d%s\n",
	    (unsigned long long)n, reps, RB_SLOTS, cpu[0], cpu[1],
	    ncpu < 2 ? " (fewer than 2 CPUs: not pinned)" : "");

	/* a warm-up pass of each: code, page faults, CPU frequency */
	for (int p = 0; p < RB_NPATTERNS; p++)
		for (int k = 0; k < RB_NKINDS && kinds[p][k] != RB_NKINDS; k++)
			rb_once(p, kinds[p][k], n / 4, cpu, lines, NULL);
	for (int rep = 0; rep < reps; rep++)
		for (int p = 0; p < RB_NPATTERNS; p++)
			for (int k = 0; k < RB_NKINDS &&
			    kinds[p][k] != RB_NKINDS; k++)
				rb_once(p, kinds[p][k], n, cpu, lines,
				    &res[p][kinds[p][k]]);

	for (int p = 0; p < RB_NPATTERNS; p++) {
		double ours = 0;

		printf("\n  %s\n", pattern_names[p]);
		printf("  %-11s %10s %22s %8s %8s %9s %8s\n", "ring",
		    "Mmsg/s", "range", "cpu_s", "prod_s", "ns/msg", "ratio");
		for (int k = 0; k < RB_NKINDS && kinds[p][k] != RB_NKINDS;
		    k++) {
			struct rb_result *r = &res[p][kinds[p][k]];
			double lo, hi, rate, cpu_s, pcpu;

			rate = pb_median(r->rate, r->reps, &lo, &hi);
			cpu_s = pb_median(r->cpu, r->reps, NULL, NULL);
			pcpu = pb_median(r->pcpu, r->reps, NULL, NULL);
			if (k == 0)
				ours = rate;
			printf("  %-11s %10.1f %10.1f .. %-9.1f %8.3f %8.3f "
			    "%9.2f %7.2fx\n", kind_names[kinds[p][k]],
			    rate / 1e6, lo / 1e6, hi / 1e6, cpu_s, pcpu,
			    1e9 / rate, ours / rate);
			if (k > 0 && (worst == 0 || ours / rate < worst))
				worst = ours / rate;
		}
		printf("  per repetition, tocsin / ck:");
		for (int i = 0; i < res[p][RB_TOCSIN].reps; i++)
			printf(" %.2f", res[p][RB_TOCSIN].rate[i] /
			    res[p][RB_CK].rate[i]);
		printf("\n");
	}
	printf("\n  cpu_s: both threads (getrusage); prod_s: the producer "
	    "thread alone; ns/msg: 1 / median rate; ratio: tocsin's median "
	    "rate over this ring's (>1: tocsin faster)\n");
	if (worst >= RB_RULE)
		printf("decision: tocsin's ring, at least %.2fx the best "
		    "ck_ring variant on every pattern (rule: >= %.1fx)\n",
		    worst, RB_RULE);
	else
		printf("decision: ck_ring: tocsin's ring is only %.2fx the "
		    "best ck_ring variant on some pattern (rule: >= %.1fx)\n",
		    worst, RB_RULE);
	xfree(lines);
	return 0;
}
