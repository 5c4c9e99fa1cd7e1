/*
 * stress_router - the shard router under real threads, for
 * ThreadSanitizer (Criterion cannot start under TSan) and for every other
 * build: tests/integration/test_stress.c runs it.
 *
 * One round: a generated fleet (12 areas, 96 sites, a gateway and two
 * devices behind it per site) and a fixed stream of alarm transitions from
 * a seeded generator (re-sends, clears, storms of MAINS_FAIL across an
 * area, gateway COMM_LOSS).  Each event carries its stream index in
 * `value`.  The round runs in three phases on N shards with small rings
 * (the producers hit -EAGAIN and back off):
 *   A  alarms; with two producers each thread pushes the areas of its
 *      parity (a site keeps one producer, so its order is defined);
 *   B  after the backlog drains: actions (ack, dispatch, note, resolve) on
 *      the incidents open in "quiet" areas (area % 3 == 0), pushed by the
 *      last producer thread while
 *   C  producer 0 pushes the rest of the stream for the other areas.
 * Checks: every alarm reaches the tap exactly once, on the shard owning its
 * site, in stream order per site; the summed shard counters and, per site
 * and per area, a digest of the emitted events (type, seq, state, severity,
 * alarm count, flags; ids differ by design) equal one engine fed the same
 * phases in order.  Rounds repeat with new seeds and shard / producer
 * counts until the time bound (-t seconds, default 1; at least one round
 * of each configuration).  Exit 0, or 1 with a message on stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/mem.h"
#include "daemon/router.h"

#define NAREAS		12
#define NSITES		96
#define NEVENTS		12000
#define MAXSHARDS	4
#define RING_SLOTS	64
#define PUSH_TIMEOUT_MS	20000
#define MAXACTS		4096

struct codes {
	uint16_t mains, low, dis, rect, door;
};

/* One incident as the sinks saw it. */
struct seen {
	int64_t	 opened_at;
	uint32_t site;		/* FLEET_NONE for an area incident */
	char	 id[CORR_ID_LEN];
	uint8_t	 state;		/* after the last event */
	uint8_t	 used;		/* an incident has this number */
};

/* What a sink records; one per shard (or the reference engine). */
struct rec {
	struct seen *inc;	/* by incident number - base */
	size_t	 ninc;		/* entries of inc */
	uint64_t base;		/* the config's id_start */
	uint64_t *site_digest;	/* NSITES; shared array, disjoint sites */
	uint64_t *area_digest;	/* NAREAS; shared, disjoint areas */
	uint64_t events;
};

/* The tap's view: written by shard threads, disjoint by site. */
struct tap {
	struct router *r;
	unsigned char *delivered;	/* NEVENTS counters */
	int64_t	 last[NSITES];		/* last stream index per site */
	int	 bad[MAXSHARDS];	/* per shard: order / shard errors */
};

struct producer_arg {
	struct router *r;
	unsigned id;
	const struct alarm_event *evs;
	const int *sel;		/* indexes into evs to push, in order */
	size_t	 nsel;
	const struct corr_action *acts;
	size_t	 nacts;
	uint64_t seed;
	int	 failed;
};

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t
mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h * 0x100000001b3ULL;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct fleet *
make_fleet(struct codes *c)
{
	struct fleet *f = fleet_new();
	char id[32];

	for (int i = 0; i < NSITES; i++) {
		uint32_t s, gw, d;

		snprintf(id, sizeof(id), "S%d", i);
		s = fleet_add(f, FLEET_SITE, id);
		snprintf(id, sizeof(id), "area%d", i % NAREAS);
		f->sites[s].area = fleet_area(f, id);
		fleet_site_add_tenant(&f->sites[s], "cmcc",
		    i % 5 == 0 ? TIER_PREMIUM : TIER_STANDARD);
		snprintf(id, sizeof(id), "S%d-fsu", i);
		gw = fleet_add(f, FLEET_DEVICE, id);
		f->devices[gw].site = s;
		f->devices[gw].via = FLEET_NONE;
		snprintf(id, sizeof(id), "S%d-pwr", i);
		d = fleet_add(f, FLEET_DEVICE, id);
		f->devices[d].site = s;
		f->devices[d].via = gw;
		snprintf(id, sizeof(id), "S%d-bat", i);
		d = fleet_add(f, FLEET_DEVICE, id);
		f->devices[d].site = s;
		f->devices[d].via = gw;
	}
	c->mains = fleet_code(f, "MAINS_FAIL");
	c->low = fleet_code(f, "BATT_LOW");
	c->dis = fleet_code(f, "BATT_DISCHARGE");
	c->rect = fleet_code(f, "RECT_FAIL");
	c->door = fleet_code(f, "DOOR_OPEN");
	return f;
}

/* The fixed stream of one seed; times grow strictly. */
static void
make_stream(const struct codes *c, uint64_t seed, struct alarm_event *evs)
{
	int64_t t = 1795000000000LL;
	uint64_t s = mix(seed, 1) | 1;
	int i = 0;

	while (i < NEVENTS) {
		struct alarm_event e = { 0 };
		uint32_t site = (uint32_t)(rnd(&s) % NSITES);
		unsigned kind = (unsigned)(rnd(&s) % 16);

		t += 1 + (int64_t)(rnd(&s) % 90000);
		if (kind == 0 && i + NSITES / NAREAS <= NEVENTS) {
			/* storm: MAINS_FAIL at every site of one area */
			for (uint32_t k = site % NAREAS; k < NSITES; k += NAREAS) {
				e.at_ms = t += 1000;
				e.site = k;
				e.device = 3 * k + 1;
				e.code = c->mains;
				e.severity = SEV_CRITICAL;
				e.edge = ALARM_RAISE;
				e.value = i;
				evs[i++] = e;
			}
			continue;
		}
		e.at_ms = t;
		e.site = site;
		e.edge = rnd(&s) % 5 < 3 ? ALARM_RAISE : ALARM_CLEAR;
		e.severity = (uint8_t)(rnd(&s) % 4);
		switch (kind % 6) {
		case 0:
			e.device = 3 * site;
			e.code = FLEET_CODE_COMM_LOSS;
			break;
		case 1:
			e.device = 3 * site + 1 + (uint32_t)(rnd(&s) % 2);
			e.code = FLEET_CODE_COMM_LOSS;
			break;
		case 2:
			e.device = 3 * site + 1;
			e.code = rnd(&s) % 2 ? c->mains : c->rect;
			break;
		case 3:
			e.device = 3 * site + 2;
			e.code = rnd(&s) % 2 ? c->low : c->dis;
			break;
		default:
			e.device = 3 * site + (uint32_t)(rnd(&s) % 3);
			e.code = c->door;
			break;
		}
		e.value = i;
		evs[i++] = e;
	}
}

static void
rec_event(void *arg, const struct corr_event *ev)
{
	struct rec *rc = arg;
	const struct corr_incident *inc = ev->inc;
	uint64_t h;

	size_t k = (size_t)(inc->num - rc->base);

	rc->events++;
	if (k >= rc->ninc) {
		size_t n = k + 64;

		rc->inc = xreallocarray(rc->inc, n, sizeof(*rc->inc));
		memset(rc->inc + rc->ninc, 0, (n - rc->ninc) * sizeof(*rc->inc));
		rc->ninc = n;
	}
	if (!rc->inc[k].used) {
		rc->inc[k].used = 1;
		rc->inc[k].opened_at = inc->opened_at;
		rc->inc[k].site = inc->site;
		snprintf(rc->inc[k].id, CORR_ID_LEN, "%s", inc->id);
	}
	rc->inc[k].state = inc->state;
	h = mix(0, ev->type);
	h = mix(h, ev->seq);
	h = mix(h, (uint64_t)ev->at);
	h = mix(h, inc->state);
	h = mix(h, inc->severity);
	h = mix(h, inc->nalarms);
	h = mix(h, (uint64_t)inc->opened_at);
	h = mix(h, (uint64_t)inc->planned << 2 | (uint64_t)inc->flapping << 1 |
	    inc->chronic);
	if (inc->kind == CORR_KIND_AREA) {
		h = mix(h, inc->nlinks);
		rc->area_digest[inc->area] = mix(rc->area_digest[inc->area], h);
	} else {
		rc->site_digest[inc->site] = mix(rc->site_digest[inc->site], h);
	}
}

static const struct corr_sink_ops rec_ops = { .event = rec_event };

static void
tap_fn(void *arg, unsigned shard, const struct alarm_event *ev)
{
	struct tap *tp = arg;
	int64_t idx = (int64_t)ev->value;

	if (idx < 0 || idx >= NEVENTS || ev->site >= NSITES ||
	    router_shard_of(tp->r, ev->site) != shard ||
	    idx <= tp->last[ev->site]) {
		tp->bad[shard]++;
		return;
	}
	tp->last[ev->site] = idx;
	if (tp->delivered[idx] < 255)
		tp->delivered[idx]++;
}

static void *
producer_main(void *arg)
{
	struct producer_arg *pa = arg;
	struct alarm_event batch[32];
	uint64_t s = pa->seed | 1;
	size_t i = 0;

	for (size_t k = 0; k < pa->nacts; k++) {
		double deadline = now_s() + PUSH_TIMEOUT_MS / 1000.0;
		int rc;

		/* a full ring: wait, bounded like the alarms' push_wait */
		while ((rc = router_action(pa->r, pa->id,
		    &pa->acts[k])) == -EAGAIN && now_s() < deadline) {
			struct timespec ts = { 0, 20 * 1000 };
			nanosleep(&ts, NULL);
		}
		if (rc != 0) {
			fprintf(stderr, "stress_router: action %zu: %d\n",
			    k, rc);
			pa->failed = 1;
			return NULL;
		}
	}
	while (i < pa->nsel) {
		size_t n = 1 + (size_t)(rnd(&s) % 32), done;

		if (n > pa->nsel - i)
			n = pa->nsel - i;
		for (size_t k = 0; k < n; k++)
			batch[k] = pa->evs[pa->sel[i + k]];
		if (router_push_wait(pa->r, pa->id, batch, n,
		    PUSH_TIMEOUT_MS, &done) != 0) {
			fprintf(stderr, "stress_router: producer %u: shards "
			    "stalled for %d ms (%zu of %zu queued)\n", pa->id,
			    PUSH_TIMEOUT_MS, done, n);
			pa->failed = 1;
			return NULL;
		}
		i += n;
	}
	return NULL;
}

/* Runs producers (one thread each) to completion: 0 or -1. */
static int
run_producers(struct producer_arg *pa, unsigned n)
{
	pthread_t th[2];
	int failed = 0;

	for (unsigned i = 0; i < n; i++) {
		if (pthread_create(&th[i], NULL, producer_main, &pa[i]) != 0) {
			fprintf(stderr, "stress_router: pthread_create\n");
			exit(1);
		}
	}
	for (unsigned i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		failed |= pa[i].failed;
	}
	return failed ? -1 : 0;
}

/* Bounded wait until every queued message is handled: 0 or -1. */
static int
wait_drained(struct router *r)
{
	for (int i = 0; i < 20000; i++) {
		struct timespec ts = { 0, 1000 * 1000 };

		if (router_backlog(r) == 0)
			return 0;
		nanosleep(&ts, NULL);
	}
	return -1;
}

static int
quiet_area(uint32_t area)
{
	return area % 3 == 0;
}

/*
 * The actions of phase B, built from the incidents the sharded run opened
 * in quiet areas (sorted by opening time, the same order both runs see).
 */
static size_t
make_actions(const struct fleet *f, struct seen *open, size_t nopen,
    int64_t at, struct corr_action *acts)
{
	size_t n = 0;

	for (size_t i = 0; i < nopen && n + 4 <= MAXACTS; i++) {
		struct corr_action a = { open[i].id, CORR_ACT_ACK, "amy", NULL,
		    at + (int64_t)i, 0 };

		if (open[i].site == FLEET_NONE ||
		    !quiet_area(f->sites[open[i].site].area))
			continue;
		acts[n++] = a;
		a.type = i % 2 ? CORR_ACT_DISPATCH : CORR_ACT_NOTE;
		a.note = "generator check";
		acts[n++] = a;
		a.type = CORR_ACT_ACK;	/* twice: rejected in both runs */
		a.note = NULL;
		a.actor = "bob";
		acts[n++] = a;
		if (i % 3 == 0) {
			a.type = CORR_ACT_RESOLVE;
			acts[n++] = a;
		}
	}
	return n;
}

static int
by_open(const void *a, const void *b)
{
	const struct seen *x = a, *y = b;

	if (x->opened_at != y->opened_at)
		return x->opened_at < y->opened_at ? -1 : 1;
	return x->site < y->site ? -1 : x->site > y->site;
}

static void
stats_add(struct corr_stats *sum, const struct corr_stats *st)
{
	sum->raises += st->raises;
	sum->clears += st->clears;
	sum->repeats += st->repeats;
	sum->stray_clears += st->stray_clears;
	sum->opened += st->opened;
	sum->area_opened += st->area_opened;
	sum->explained += st->explained;
	sum->reparented += st->reparented;
	sum->reraised += st->reraised;
	sum->events += st->events;
	sum->rejected += st->rejected;
	sum->bad_input += st->bad_input;
	sum->live_incidents += st->live_incidents;
	sum->live_alarms += st->live_alarms;
}

static int
stats_equal(const struct corr_stats *a, const struct corr_stats *b)
{
	return a->raises == b->raises && a->clears == b->clears &&
	    a->repeats == b->repeats && a->stray_clears == b->stray_clears &&
	    a->opened == b->opened && a->area_opened == b->area_opened &&
	    a->explained == b->explained && a->reparented == b->reparented &&
	    a->reraised == b->reraised && a->events == b->events &&
	    a->rejected == b->rejected && a->bad_input == b->bad_input &&
	    a->live_incidents == b->live_incidents &&
	    a->live_alarms == b->live_alarms;
}

/* One round; returns 0 or -1 with a message printed. */
static int
round_run(unsigned nshards, unsigned nprod, uint64_t seed)
{
	static struct alarm_event evs[NEVENTS];
	static int sel[2][NEVENTS];
	static struct corr_action acts[MAXACTS];
	static uint64_t sd[2][NSITES], ad[2][NAREAS];
	struct rec recs[MAXSHARDS + 1];
	struct corr_sink sinks[MAXSHARDS], refsink;
	struct producer_arg pa[2];
	struct tap tp;
	struct codes c;
	struct corr_config cc;
	struct corr_stats sum, st, ref;
	struct router *r;
	struct corr_engine *e;
	struct router_pstats ps;
	struct seen *open = NULL;
	size_t nopen = 0, nacts, nsel[2], half = NEVENTS / 2;
	struct fleet *f = make_fleet(&c);
	char err[128];
	int rc = -1;

	corr_config_defaults(&cc);
	cc.storm_sites = 3;
	make_stream(&c, seed, evs);
	memset(recs, 0, sizeof(recs));
	memset(sd, 0, sizeof(sd));
	memset(ad, 0, sizeof(ad));
	for (unsigned i = 0; i < nshards; i++) {
		recs[i].site_digest = sd[0];
		recs[i].area_digest = ad[0];
		recs[i].base = cc.id_start;
		sinks[i] = (struct corr_sink){ &rec_ops, &recs[i] };
	}
	r = router_new(f, &cc, nshards, nprod, RING_SLOTS, sinks, err,
	    sizeof(err));
	if (r == NULL) {
		fprintf(stderr, "stress_router: %s\n", err);
		goto out;
	}
	memset(&tp, 0, sizeof(tp));
	tp.r = r;
	tp.delivered = xcalloc(NEVENTS, 1);
	for (int i = 0; i < NSITES; i++)
		tp.last[i] = -1;
	router_set_tap(r, tap_fn, &tp);
	if (router_start(r) != 0) {
		fprintf(stderr, "stress_router: cannot start shards\n");
		goto out;
	}

	/* A: first half, split by area parity over the producers */
	nsel[0] = nsel[1] = 0;
	for (size_t i = 0; i < half; i++) {
		unsigned p = nprod == 2 ? f->sites[evs[i].site].area % 2 : 0;
		sel[p][nsel[p]++] = (int)i;
	}
	memset(pa, 0, sizeof(pa));
	for (unsigned p = 0; p < nprod; p++) {
		pa[p] = (struct producer_arg){ r, p, evs, sel[p], nsel[p], NULL,
		    0, seed + p, 0 };
	}
	if (run_producers(pa, nprod) != 0)
		goto stop;
	if (wait_drained(r) != 0) {
		fprintf(stderr, "stress_router: phase A did not drain\n");
		goto stop;
	}

	/* B + C: actions on quiet areas while the rest of the stream flows */
	for (unsigned i = 0; i < nshards; i++) {
		for (size_t k = 0; k < recs[i].ninc; k++) {
			if (!recs[i].inc[k].used ||
			    recs[i].inc[k].state == CORR_CLOSED)
				continue;
			open = xreallocarray(open, nopen + 1, sizeof(*open));
			open[nopen++] = recs[i].inc[k];
		}
	}
	qsort(open, nopen, sizeof(*open), by_open);
	nacts = make_actions(f, open, nopen, evs[half - 1].at_ms + 1, acts);
	nsel[0] = 0;
	for (size_t i = half; i < NEVENTS; i++) {
		if (!quiet_area(f->sites[evs[i].site].area))
			sel[0][nsel[0]++] = (int)i;
	}
	pa[0] = (struct producer_arg){ r, 0, evs, sel[0], nsel[0], NULL, 0,
	    seed, 0 };
	if (nprod == 2) {
		pa[1] = (struct producer_arg){ r, 1, evs, NULL, 0, acts, nacts,
		    seed + 1, 0 };
	} else {
		pa[0].acts = acts;	/* one producer: actions, then alarms */
		pa[0].nacts = nacts;
	}
	if (run_producers(pa, nprod) != 0)
		goto stop;
	router_stop(r);

	/* delivery */
	for (unsigned i = 0; i < nshards; i++) {
		if (tp.bad[i] != 0) {
			fprintf(stderr, "stress_router: shard %u saw %d alarms "
			    "out of site order or of another shard\n", i,
			    tp.bad[i]);
			goto out;
		}
	}
	for (size_t i = 0; i < NEVENTS; i++) {
		int want = i < half ||
		    !quiet_area(f->sites[evs[i].site].area);

		if (tp.delivered[i] != want) {
			fprintf(stderr, "stress_router: event %zu delivered "
			    "%d times, want %d\n", i, tp.delivered[i], want);
			goto out;
		}
	}
	router_producer_stats(r, 0, &ps);

	/* the same phases through one engine */
	recs[MAXSHARDS].site_digest = sd[1];
	recs[MAXSHARDS].area_digest = ad[1];
	recs[MAXSHARDS].base = cc.id_start;
	refsink = (struct corr_sink){ &rec_ops, &recs[MAXSHARDS] };
	e = corr_engine_new(f, &cc, 0, &refsink);
	for (size_t i = 0; i < half; i++)
		corr_engine_alarm(e, &evs[i]);
	for (size_t k = 0; k < nacts; k++) {
		struct corr_action a = acts[k];
		const struct seen *want = NULL;
		struct rec *rr = &recs[MAXSHARDS];

		/* the same incident: site and opening time */
		for (size_t j = 0; j < nopen && want == NULL; j++)
			if (strcmp(open[j].id, a.incident) == 0)
				want = &open[j];
		a.incident = NULL;
		for (size_t j = 0; want != NULL && j < rr->ninc; j++) {
			if (rr->inc[j].used && rr->inc[j].site == want->site &&
			    rr->inc[j].opened_at == want->opened_at)
				a.incident = rr->inc[j].id;
		}
		if (a.incident == NULL) {
			fprintf(stderr, "stress_router: incident %s has no "
			    "twin in the single engine\n", acts[k].incident);
			corr_engine_free(e);
			goto out;
		}
		corr_engine_action(e, &a, NULL, 0);
	}
	for (size_t i = half; i < NEVENTS; i++) {
		if (!quiet_area(f->sites[evs[i].site].area))
			corr_engine_alarm(e, &evs[i]);
	}
	corr_engine_stats(e, &ref);
	corr_engine_free(e);
	router_stats(r, &sum);
	memset(&st, 0, sizeof(st));
	stats_add(&st, &sum);
	if (!stats_equal(&st, &ref)) {
		fprintf(stderr, "stress_router: counters differ from one "
		    "engine: opened %" PRIu64 "/%" PRIu64 " events %" PRIu64
		    "/%" PRIu64 " rejected %" PRIu64 "/%" PRIu64 "\n",
		    st.opened, ref.opened, st.events, ref.events, st.rejected,
		    ref.rejected);
		goto out;
	}
	if (memcmp(sd[0], sd[1], sizeof(sd[0])) != 0 ||
	    memcmp(ad[0], ad[1], sizeof(ad[0])) != 0) {
		fprintf(stderr, "stress_router: per-site or per-area events "
		    "differ from one engine\n");
		goto out;
	}
	if (ref.area_opened == 0 || ref.explained == 0 || nacts == 0 ||
	    ref.rejected == 0) {
		fprintf(stderr, "stress_router: the stream did not exercise "
		    "storms, root causes and actions\n");
		goto out;
	}
	printf("stress_router: shards=%u producers=%u seed=%" PRIu64
	    " alarms=%" PRIu64 " actions=%zu events=%" PRIu64 " full=%" PRIu64
	    " waits=%" PRIu64 " ok\n", nshards, nprod, seed,
	    ref.raises + ref.clears, nacts, ref.events, ps.full, ps.waits);
	rc = 0;
	goto out;
stop:
	router_stop(r);
out:
	router_free(r);
	for (unsigned i = 0; i <= MAXSHARDS; i++)
		xfree(recs[i].inc);
	xfree(open);
	if (r != NULL)
		xfree(tp.delivered);
	fleet_free(f);
	return rc;
}

int
main(int argc, char **argv)
{
	static const unsigned conf[][2] = {
		{ 1, 1 }, { 2, 1 }, { 2, 2 }, { 3, 2 }, { 4, 2 },
	};
	double limit = 1.0, t0 = now_s();
	uint64_t seed = 20261123;
	unsigned rounds = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
			limit = atof(argv[++i]);
		else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: stress_router [-t seconds] "
			    "[-s seed]\n");
			return 2;
		}
	}
	do {
		const unsigned *c = conf[rounds % 5];

		if (round_run(c[0], c[1], seed + rounds) != 0) {
			fprintf(stderr, "stress_router: FAILED (shards=%u "
			    "producers=%u seed=%" PRIu64 ")\n", c[0], c[1],
			    seed + rounds);
			return 1;
		}
		rounds++;
	} while (rounds < 5 || now_s() - t0 < limit);
	printf("stress_router: %u rounds in %.2f s: ok\n", rounds,
	    now_s() - t0);
	return 0;
}
