/*
 * test_outbox.c - the lossless, level-triggered alarm path (issue 11):
 * a storm of thousands of edges while a shard is stalled for 10 s; then
 * released.  (A stalled publisher no longer holds the shards back: they
 * journal and go on; test_store and test_publish cover that.)  Every (device, code)
 * state the shards were given must equal the poller's, no incident may be
 * left open with its alarms all clear, and the waits must be counted.
 * Also: idle shards sleep (no spinning), and the outbox's own rules
 * (fold, skip what ends where it began, keep a held shard in order).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "correlator/incjson.h"
#include "correlator/u64map.h"
#include "daemon/clock.h"
#include "daemon/mem.h"
#include "daemon/outbox.h"
#include "daemon/ring.h"
#include "daemon/router.h"

#define NSITES		300
#define NAREAS		30
#define NDEV		(2 * NSITES)
#define NCODES		4		/* COMM_LOSS + the profile's three */
#define NSHARDS		2
#define SLOTS		64		/* small rings: the storm fills them */
#define STALL_MS	10000
#define T0		1795000000000LL

static const char *codes[] = { "MAINS_FAIL", "DOOR_OPEN", "HIGH_TEMP" };

/* What the test's shards were given, and what their incidents say. */
struct view {
	signed char	 seen[NDEV][NCODES];	/* -1 never, 0 clear, 1 raised */
	uint16_t	 code_id[NCODES];
	struct u64map	 open[NSHARDS];	/* incident -> nactive + 1 */
	_Atomic int	 stall;		/* 1: shard 0 stops handling */
	_Atomic uint64_t events;
	_Atomic int	 room;		/* the router said: room again */
	long		 put_queued;	/* outbox_put() returned 0 */
	long		 put_held;	/* returned 1 */
	struct router	*r;
	struct fleet	*f;
};

static struct view V;

static int
code_slot(uint16_t code)
{
	for (int i = 0; i < NCODES; i++)
		if (V.code_id[i] == code)
			return i;
	cr_assert_fail("code %u is not the fleet's", code);
	return -1;
}

static struct fleet *
storm_fleet(void)
{
	struct fleet *f = fleet_new();
	struct fleet_profile *p;
	uint32_t pi;
	char id[32];

	pi = fleet_add(f, FLEET_PROFILE, "rect");
	p = &f->profiles[pi];
	p->alarms = xcalloc(3, sizeof(*p->alarms));
	p->nalarms = 3;
	V.code_id[0] = FLEET_CODE_COMM_LOSS;
	for (int i = 0; i < 3; i++) {
		p->alarms[i].code = xstrdup(codes[i]);
		p->alarms[i].code_id = fleet_code(f, codes[i]);
		p->alarms[i].severity = SEV_MAJOR;
		V.code_id[i + 1] = p->alarms[i].code_id;
	}
	for (int i = 0; i < NSITES; i++) {
		uint32_t s, d;

		snprintf(id, sizeof(id), "S%d", i);
		s = fleet_add(f, FLEET_SITE, id);
		snprintf(id, sizeof(id), "area%d", i % NAREAS);
		f->sites[s].area = fleet_area(f, id);
		fleet_site_add_tenant(&f->sites[s], "cmcc", TIER_STANDARD);
		for (int k = 0; k < 2; k++) {
			snprintf(id, sizeof(id), "S%d-d%d", i, k);
			d = fleet_add(f, FLEET_DEVICE, id);
			f->devices[d].site = s;
			f->devices[d].profile = pi;
		}
	}
	return f;
}

/* Shard thread: the engine is about to see ev.  Shard 0 may be stuck. */
static void
tap(void *arg, unsigned shard, const struct alarm_event *ev)
{
	(void)arg;
	while (shard == 0 && atomic_load(&V.stall))
		usleep(1000);
	V.seen[ev->device][code_slot(ev->code)] = ev->edge == ALARM_RAISE;
}

static void
sink_event(void *arg, const struct corr_event *ev)
{
	unsigned shard = (unsigned)(uintptr_t)arg, sh;
	uint64_t num;

	cr_assert_eq(corr_id_parse("INC-", ev->inc->id, &sh, &num), 0,
	    "id %s", ev->inc->id);
	u64map_put(&V.open[shard], num,
	    (void *)(uintptr_t)(ev->inc->nactive + 1));
	atomic_fetch_add(&V.events, 1);
}

static const struct corr_sink_ops sink_ops = { .event = sink_event };

static void
room_cb(void *arg, unsigned shard)
{
	(void)arg;
	(void)shard;
	atomic_store(&V.room, 1);
}

static int64_t
mono_ms(void)
{
	return clock_mono_ms();
}

static void
setup(void)
{
	struct corr_config cc;
	struct corr_sink sinks[NSHARDS];
	char err[128];

	memset(&V, 0, sizeof(V));
	memset(V.seen, -1, sizeof(V.seen));
	V.f = storm_fleet();
	corr_config_defaults(&cc);
	for (unsigned i = 0; i < NSHARDS; i++) {
		sinks[i] = (struct corr_sink){ &sink_ops,
		    (void *)(uintptr_t)i };
		u64map_init(&V.open[i]);
	}
	V.r = router_new(V.f, &cc, NSHARDS, 1, SLOTS, sinks, err,
	    sizeof(err));
	cr_assert_not_null(V.r, "%s", err);
	router_set_tap(V.r, tap, NULL);
	router_set_room(V.r, 0, room_cb, NULL);
}

static void
teardown(void)
{
	router_free(V.r);
	for (unsigned i = 0; i < NSHARDS; i++)
		u64map_fini(&V.open[i]);
	fleet_free(V.f);
}

/* xorshift: the storm is the same every run */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * The poll loop's side of a storm: for run_ms, edges on random keys,
 * flushes when the router calls and every 50 ms (the daemon's tick); the
 * stall ends at stall_ms.  `pump` is the file sink's writer (NULL: none).
 * Returns the edges made.  truth[][] is the poller's state.
 */
static long
storm(struct outbox *o, signed char truth[NDEV][NCODES], int64_t run_ms,
    int64_t stall_ms, int pump_from_start)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	int64_t start = mono_ms(), last_flush = start, now;
	int64_t at = T0;
	long edges = 0;
	int stalled = atomic_load(&V.stall);

	while ((now = mono_ms()) - start < run_ms) {
		for (int k = 0; k < 20; k++) {
			uint64_t x = rnd(&seed);
			uint32_t dev = (uint32_t)(x % NDEV);
			int c = (int)((x >> 20) % NCODES);
			struct alarm_event ev = { 0 };

			ev.at_ms = at += 7;
			ev.device = dev;
			ev.site = V.f->devices[dev].site;
			ev.code = V.code_id[c];
			ev.severity = SEV_MAJOR;
			ev.point = FLEET_NONE;
			ev.edge = truth[dev][c] == 1 ? ALARM_CLEAR : ALARM_RAISE;
			truth[dev][c] = ev.edge == ALARM_RAISE;
			if (outbox_put(o, &ev) == 0)
				V.put_queued++;
			else
				V.put_held++;
			edges++;
		}
		if (stalled && now - start >= stall_ms) {
			atomic_store(&V.stall, 0);
			stalled = 0;
		}
		if (atomic_exchange(&V.room, 0) || now - last_flush >= 50) {
			outbox_flush(o);
			last_flush = now;
		}
		usleep(2000);	/* ~10,000 edges a second */
	}
	return edges;
}

/* Everything clear, flushed, handled: bounded. */
static void
settle(struct outbox *o, signed char truth[NDEV][NCODES])
{
	int64_t deadline;

	for (uint32_t d = 0; d < NDEV; d++)
		for (int c = 0; c < NCODES; c++) {
			struct alarm_event ev = { 0 };

			if (truth[d][c] != 1)
				continue;
			ev.at_ms = T0 + 3600 * 1000;
			ev.device = d;
			ev.site = V.f->devices[d].site;
			ev.code = V.code_id[c];
			ev.severity = SEV_MAJOR;
			ev.edge = ALARM_CLEAR;
			truth[d][c] = 0;
			cr_assert_geq(outbox_put(o, &ev), 0);
		}
	deadline = mono_ms() + 20000;
	while (outbox_flush(o) > 0 || router_backlog(V.r) > 0) {
		cr_assert_lt(mono_ms(), deadline, "no convergence: pending=%zu "
		    "backlog=%llu", outbox_flush(o),
		    (unsigned long long)router_backlog(V.r));
		usleep(1000);
	}
	router_stop(V.r);
}

static void
check_converged(struct outbox *o, signed char truth[NDEV][NCODES])
{
	int differ = 0, open = 0;

	for (uint32_t d = 0; d < NDEV; d++)
		for (int c = 0; c < NCODES; c++) {
			int want = truth[d][c] == 1;
			int got = V.seen[d][c] == 1;

			differ += want != got;
			cr_expect_eq(outbox_sent(o, d, V.code_id[c]) == 1, want);
		}
	cr_expect_eq(differ, 0, "%d keys differ between poller and shards",
	    differ);
	for (unsigned s = 0; s < NSHARDS; s++) {
		size_t pos = 0;
		uint64_t key;
		void *val;

		while (u64map_next(&V.open[s], &pos, &key, &val))
			open += (uintptr_t)val > 1;
	}
	cr_expect_eq(open, 0, "%d incidents left with active alarms", open);
}

Test(outbox, shard_stalled_10s_in_a_storm_converges, .init = setup,
    .fini = teardown, .timeout = 90)
{
	static signed char truth[NDEV][NCODES];
	struct outbox *o = outbox_new(V.f, V.r, 0);
	struct outbox_stats st;
	struct router_pstats ps;
	long edges;

	memset(truth, 0, sizeof(truth));
	cr_assert_eq(router_start(V.r), 0);
	atomic_store(&V.stall, 1);
	edges = storm(o, truth, STALL_MS + 2000, STALL_MS, 1);
	outbox_stats(o, &st);
	cr_expect_eq(V.put_queued + V.put_held, edges);
	cr_expect_eq((uint64_t)V.put_queued, st.queued, "queued at once");
	settle(o, truth);
	outbox_stats(o, &st);
	router_producer_stats(V.r, 0, &ps);
	cr_log_info("edges=%ld queued=%llu held=%llu folded=%llu resent=%llu "
	    "pending_max=%llu stalls=%llu full=%llu keys=%llu bytes=%llu",
	    edges, (unsigned long long)st.queued, (unsigned long long)st.held,
	    (unsigned long long)st.folded, (unsigned long long)st.resent,
	    (unsigned long long)st.pending_max,
	    (unsigned long long)st.stalls, (unsigned long long)ps.full,
	    (unsigned long long)st.keys, (unsigned long long)st.bytes);
	cr_assert_gt(edges, 5000, "a storm of thousands of edges");
	cr_expect_gt(st.held, 1000, "the stall held edges");
	cr_expect_gt(st.folded, 0, "edges folded while held");
	cr_expect_gt(st.resent, 0);
	cr_expect_gt(ps.full, 0, "full rings counted");
	cr_expect_eq(st.pending, 0);
	cr_expect_leq(st.pending_max, st.keys, "memory bounded by the keys");
	cr_expect_gt(V.put_held, 0);
	check_converged(o, truth);
	outbox_free(o);
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

Test(outbox, idle_shards_sleep, .init = setup, .fini = teardown,
    .timeout = 30)
{
	struct outbox *o = outbox_new(V.f, V.r, 0);
	struct alarm_event ev = { 0 };
	double c0;
	uint64_t sleeps;

	cr_assert_eq(router_start(V.r), 0);
	usleep(100000);
	sleeps = router_sleeps(V.r);
	c0 = cpu_s();
	usleep(1000000);
	cr_expect_lt(cpu_s() - c0, 0.02, "idle shards used %.3f CPU s in 1 s",
	    cpu_s() - c0);
	cr_expect_eq(router_sleeps(V.r), sleeps, "an idle shard stays asleep");
	/* and wakes for work */
	ev.at_ms = T0;
	ev.device = 0;
	ev.site = V.f->devices[0].site;
	ev.code = V.code_id[1];
	ev.severity = SEV_MAJOR;
	ev.edge = ALARM_RAISE;
	cr_assert_eq(outbox_put(o, &ev), 0);
	for (int i = 0; i < 2000 && V.seen[0][1] != 1; i++)
		usleep(1000);
	router_stop(V.r);
	cr_expect_eq(V.seen[0][1], 1, "the shard woke for the alarm");
	outbox_free(o);
}

/* Without threads: holding, folding, skipping, order. */
Test(outbox, holds_folds_and_keeps_order, .init = setup, .fini = teardown)
{
	struct outbox *o = outbox_new(V.f, V.r, 0);
	struct outbox_stats st;
	struct alarm_event ev = { 0 };
	uint32_t d0 = 0;
	int n = 0;

	ev.device = d0;
	ev.site = V.f->devices[d0].site;
	ev.code = V.code_id[2];
	ev.severity = SEV_MAJOR;
	/* fill the shard's ring: threads are not started */
	for (n = 0; n < SLOTS; n++) {
		ev.at_ms = T0 + n;
		ev.edge = n % 2 ? ALARM_CLEAR : ALARM_RAISE;
		cr_assert_eq(outbox_put(o, &ev), 0, "edge %d", n);
	}
	cr_assert_eq(outbox_sent(o, d0, ev.code), 0, "last queued: clear");
	/* full: raise, clear, raise fold into one held raise */
	for (int k = 0; k < 3; k++) {
		ev.at_ms = T0 + SLOTS + k;
		ev.edge = k % 2 ? ALARM_CLEAR : ALARM_RAISE;
		cr_assert_eq(outbox_put(o, &ev), 1);
	}
	/* another key of the same shard waits behind it */
	ev.code = V.code_id[3];
	ev.edge = ALARM_RAISE;
	cr_assert_eq(outbox_put(o, &ev), 1);
	outbox_stats(o, &st);
	cr_expect_eq(st.queued, SLOTS);
	cr_expect_eq(st.held, 2);
	cr_expect_eq(st.folded, 2);
	cr_expect_eq(st.pending, 2);
	cr_expect_eq(outbox_pending(o, router_shard_of(V.r, ev.site)), 2);
	cr_expect_eq(outbox_flush(o), 2, "still full: nothing goes");
	/* a raise and a clear that end where they began send nothing */
	ev.code = V.code_id[3];
	ev.edge = ALARM_CLEAR;
	cr_assert_eq(outbox_put(o, &ev), 1);
	cr_expect_eq(outbox_sent(o, d0, V.code_id[3]), -1, "never queued");
	/* unknown keys are refused and counted */
	ev.code = fleet_code(V.f, "NOT_IN_PROFILE");
	cr_expect_eq(outbox_put(o, &ev), -EINVAL);
	outbox_stats(o, &st);
	cr_expect_eq(st.unknown, 1);
	outbox_free(o);
}
