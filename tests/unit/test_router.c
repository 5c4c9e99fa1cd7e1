/*
 * test_router.c - the router: sites of one area stay on one shard, the
 * sharded run correlates exactly like one engine, actions reach the shard
 * named in the id, stop loses nothing queued, batched pushes correlate like
 * single ones, and a full ring is refused, counted and waited out.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "daemon/ring.h"
#include "daemon/router.h"

#define NAREAS	6
#define NSITES	48
#define MAXSH	4

struct shard_sink {
	_Atomic int	 events;	/* written by the shard thread only */
	int		 wrong_shard;	/* events of a site not of this shard */
	int		 acks;
	char		 first_id[CORR_ID_LEN];
	unsigned	 id;
	struct router **r;
	struct fleet	*f;
};

static struct fleet *
area_fleet(void)
{
	struct fleet *f = fleet_new();
	char id[32];

	for (int i = 0; i < NSITES; i++) {
		uint32_t s, d;

		snprintf(id, sizeof(id), "S%d", i);
		s = fleet_add(f, FLEET_SITE, id);
		snprintf(id, sizeof(id), "area%d", i % NAREAS);
		f->sites[s].area = fleet_area(f, id);
		fleet_site_add_tenant(&f->sites[s], "cmcc", TIER_STANDARD);
		snprintf(id, sizeof(id), "S%d-pwr", i);
		d = fleet_add(f, FLEET_DEVICE, id);
		f->devices[d].site = s;
		snprintf(id, sizeof(id), "S%d-bat", i);
		d = fleet_add(f, FLEET_DEVICE, id);
		f->devices[d].site = s;
	}
	return f;
}

static void
sink_event(void *arg, const struct corr_event *ev)
{
	struct shard_sink *s = arg;

	if (ev->inc->site != FLEET_NONE &&
	    router_shard_of(*s->r, ev->inc->site) != s->id)
		s->wrong_shard++;
	if (ev->type == CORR_EV_ACKNOWLEDGED)
		s->acks++;
	if (s->first_id[0] == '\0')
		snprintf(s->first_id, sizeof(s->first_id), "%s", ev->inc->id);
	/* release: first_id and the rest are visible to who sees it */
	ring_store_release(&s->events, ring_load_relaxed(&s->events) + 1);
}

static const struct corr_sink_ops sink_ops = { .event = sink_event };

static void
count_event(void *arg, const struct corr_event *ev)
{
	(void)ev;
	(*(int *)arg)++;
}

static const struct corr_sink_ops count_ops = { .event = count_event };

/* A deterministic stream: storms, children, repeats, clears. */
static int
make_stream(struct fleet *f, struct alarm_event *out, int max)
{
	uint16_t mains = fleet_code(f, "MAINS_FAIL"), low = fleet_code(f, "BATT_LOW");
	int64_t t = 1795000000000LL;
	int n = 0;

	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < NSITES && n + 4 <= max; i++) {
			struct alarm_event e = { 0 };

			e.at_ms = t += 1000;
			e.site = (uint32_t)i;
			e.device = (uint32_t)(2 * i);
			e.code = mains;
			e.severity = SEV_CRITICAL;
			e.edge = ALARM_RAISE;
			out[n++] = e;
			out[n++] = e;		/* a re-send */
			e.device++;
			e.code = low;
			e.at_ms = t += 1000;
			out[n++] = e;
			if ((i + round) % 3 == 0) {
				e.edge = ALARM_CLEAR;
				e.at_ms = t += 1000;
				out[n++] = e;
			}
		}
		t += 3600 * 1000;
		for (int i = 0; i < NSITES && n + 1 <= max; i++) {
			struct alarm_event e = { 0 };

			e.at_ms = t += 1000;
			e.site = (uint32_t)i;
			e.device = (uint32_t)(2 * i);
			e.code = mains;
			e.edge = ALARM_CLEAR;
			out[n++] = e;
		}
		t += 3600 * 1000;
	}
	return n;
}

/* Runs evs[0..n) through one engine on cc: its stats, *events counted. */
static void
single_engine(struct fleet *f, const struct corr_config *cc,
    const struct alarm_event *evs, int n, int *events, struct corr_stats *st)
{
	struct corr_sink one = { &count_ops, events };
	struct corr_engine *e = corr_engine_new(f, cc, 0, &one);

	for (int i = 0; i < n; i++)
		cr_assert_eq(corr_engine_alarm(e, &evs[i]), 0);
	corr_engine_stats(e, st);
	corr_engine_free(e);
}

/* The router's totals b match the single engine's a. */
static void
assert_same_stats(const struct corr_stats *a, const struct corr_stats *b)
{
	cr_assert_eq(b->raises, a->raises);
	cr_assert_eq(b->repeats, a->repeats);
	cr_assert_eq(b->opened, a->opened);
	cr_assert_eq(b->area_opened, a->area_opened);
	cr_assert_eq(b->explained, a->explained);
	cr_assert_eq(b->events, a->events);
}

/* router_new(), asserted to succeed. */
static struct router *
new_router(struct fleet *f, const struct corr_config *cc, unsigned nshards,
    unsigned nproducers, unsigned ring_slots, const struct corr_sink *sinks)
{
	struct router *r;
	char err[128];

	r = router_new(f, cc, nshards, nproducers, ring_slots, sinks, err,
	    sizeof(err));
	cr_assert_not_null(r, "%s", err);
	return r;
}

/* Sinks 0..n-1 as shard_sinks ss[0..n-1] of the router *r will point at. */
static void
shard_sinks(struct shard_sink *ss, struct corr_sink *sinks, unsigned n,
    struct router **r)
{
	memset(ss, 0, n * sizeof(*ss));
	for (unsigned i = 0; i < n; i++) {
		ss[i].id = i;
		ss[i].r = r;
		sinks[i] = (struct corr_sink){ &sink_ops, &ss[i] };
	}
}

/* An alarm of code at site's first device (2 * site: area_fleet()). */
static struct alarm_event
site_alarm(struct fleet *f, uint32_t site, const char *code, int64_t at)
{
	struct alarm_event ev = { 0 };

	ev.at_ms = at;
	ev.site = site;
	ev.device = 2 * site;
	ev.code = fleet_code(f, code);
	return ev;
}

Test(router, area_stays_on_one_shard)
{
	struct fleet *f = area_fleet();
	struct corr_config cc;
	struct corr_sink sinks[MAXSH];
	struct router *r;
	char err[128];

	corr_config_defaults(&cc);
	for (int i = 0; i < MAXSH; i++)
		sinks[i] = (struct corr_sink){ &count_ops, NULL };
	r = router_new(f, &cc, 4, 1, 64, sinks, err, sizeof(err));
	cr_assert_not_null(r, "%s", err);
	for (int i = 0; i < NSITES; i++)
		cr_assert_eq(router_shard_of(r, (uint32_t)i),
		    router_shard_of(r, (uint32_t)(i % NAREAS)));
	router_free(r);
	cr_assert_null(router_new(f, &cc, 2, 1, 100, sinks, err,
	    sizeof(err)));
	cr_assert(strstr(err, "power of two") != NULL);
	fleet_free(f);
}

Test(router, sharded_equals_single_engine)
{
	static struct alarm_event evs[1024];
	struct fleet *f = area_fleet();
	struct corr_config cc;
	struct shard_sink ss[MAXSH];
	struct corr_sink sinks[MAXSH];
	struct router *r;
	struct corr_stats a, b;
	int n, single = 0, total = 0;

	corr_config_defaults(&cc);
	cc.storm_sites = 3;
	n = make_stream(f, evs, 1024);
	single_engine(f, &cc, evs, n, &single, &a);
	shard_sinks(ss, sinks, 3, &r);
	/* Small rings: the producer must see -EAGAIN and retry. */
	r = new_router(f, &cc, 3, 1, 16, sinks);
	cr_assert_eq(router_start(r), 0);
	for (int i = 0; i < n; i++) {
		int rc;
		while ((rc = router_push(r, 0, &evs[i])) == -EAGAIN)
			;
		cr_assert_eq(rc, 0);
	}
	router_stop(r);
	router_stats(r, &b);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(ss[i].wrong_shard, 0);
		total += ring_load_acquire(&ss[i].events);
	}
	assert_same_stats(&a, &b);
	cr_assert_gt(a.area_opened, 0);
	cr_assert_eq(total, single);
	router_free(r);
	fleet_free(f);
}

Test(router, actions_reach_the_owning_shard)
{
	struct fleet *f = area_fleet();
	struct corr_config cc;
	struct shard_sink ss[2];
	struct corr_sink sinks[2];
	struct router *r;
	struct alarm_event ev;
	struct corr_action a = { NULL, CORR_ACT_ACK, "amy", NULL, 0, 0 };
	unsigned sh;

	corr_config_defaults(&cc);
	shard_sinks(ss, sinks, 2, &r);
	r = new_router(f, &cc, 2, 2, 64, sinks);
	cr_assert_eq(router_start(r), 0);
	ev = site_alarm(f, 5, "DOOR_OPEN", 1795000000000LL);
	cr_assert_eq(router_push(r, 0, &ev), 0);
	sh = router_shard_of(r, 5);
	/* Bounded wait for the opened event (the shard thread is async). */
	for (int i = 0; i < 2000 && ring_load_acquire(&ss[sh].events) == 0; i++) {
		struct timespec ts = { 0, 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	cr_assert_eq(ring_load_acquire(&ss[sh].events), 1);
	a.incident = ss[sh].first_id;
	a.at = ev.at_ms + 1000;
	cr_assert_eq(router_action(r, 1, &a), 0);
	a.incident = "INC-9-1";
	cr_assert_eq(router_action(r, 1, &a), -ENOENT);
	a.incident = "nonsense";
	cr_assert_eq(router_action(r, 1, &a), -ENOENT);
	router_stop(r);
	cr_assert_eq(ss[sh].acks, 1);
	router_free(r);
	fleet_free(f);
}

struct planned_sink {
	int	 planned;
	int	 unplanned;
};

static void
planned_event(void *arg, const struct corr_event *ev)
{
	struct planned_sink *p = arg;

	if (ev->type != CORR_EV_OPENED)
		return;
	if (ev->inc->planned)
		p->planned++;
	else
		p->unplanned++;
}

static const struct corr_sink_ops planned_ops = { .event = planned_event };

Test(router, maintenance_windows_routed)
{
	struct fleet *f = area_fleet();
	struct corr_config cc;
	struct planned_sink ps[3];
	struct corr_sink sinks[3];
	struct router *r;
	struct corr_maint m = { FLEET_NONE, 0, 0, 0, "grid work", NULL };
	struct alarm_event ev = { 0 };
	uint32_t id1, id2;
	int planned = 0, unplanned = 0;

	corr_config_defaults(&cc);
	memset(ps, 0, sizeof(ps));
	for (int i = 0; i < 3; i++)
		sinks[i] = (struct corr_sink){ &planned_ops, &ps[i] };
	r = new_router(f, &cc, 3, 1, 64, sinks);
	/* Queued before start: applied in order with the alarms. */
	m.area = f->sites[1].area;
	m.start_ms = 1000;
	m.end_ms = 5000;
	cr_assert_eq(router_maint_add(r, 0, &m, &id1), 0);
	m.area = FLEET_NONE;
	m.site = 2;
	m.reason = "site work";
	cr_assert_eq(router_maint_add(r, 0, &m, &id2), 0);
	cr_assert_neq(id1, id2);
	m.site = 9999;
	cr_assert_eq(router_maint_add(r, 0, &m, &id2), -EINVAL);
	ev.code = fleet_code(f, "DOOR_OPEN");
	for (uint32_t s = 0; s < 3; s++) {	/* sites 0, 1, 2 at t=2000 */
		ev.at_ms = 2000;
		ev.site = s;
		ev.device = 2 * s;
		cr_assert_eq(router_push(r, 0, &ev), 0);
	}
	cr_assert_eq(router_maint_remove(r, 0, id1), 0);
	ev.at_ms = 3000;
	ev.site = 1;
	ev.device = 3;			/* S1-bat: a new alarm, window removed */
	cr_assert_eq(router_push(r, 0, &ev), 0);
	cr_assert_eq(router_start(r), 0);
	router_stop(r);
	for (int i = 0; i < 3; i++) {
		planned += ps[i].planned;
		unplanned += ps[i].unplanned;
	}
	/* site 1 (area window) and site 2 (site window) planned; site 0 and
	 * the late S1-bat alarm after the removal not. */
	cr_assert_eq(planned, 2);
	cr_assert_eq(unplanned, 2);
	router_free(r);
	fleet_free(f);
}

/* Sites of shard `sh` (of r), in order, into out; returns how many. */
static int
sites_of_shard(struct router *r, unsigned sh, uint32_t *out)
{
	int n = 0;

	for (uint32_t s = 0; s < NSITES; s++)
		if (router_shard_of(r, s) == sh)
			out[n++] = s;
	return n;
}

Test(router, ring_full_is_refused_and_counted)
{
	struct fleet *f = area_fleet();
	struct corr_config cc;
	struct corr_sink sinks[2];
	struct router *r;
	struct router_pstats ps;
	struct corr_stats st;
	struct alarm_event evs[10];
	uint32_t s0[NSITES];
	int counts[2] = { 0, 0 }, n0;
	size_t done = 99;

	corr_config_defaults(&cc);
	for (int i = 0; i < 2; i++)
		sinks[i] = (struct corr_sink){ &count_ops, &counts[i] };
	r = new_router(f, &cc, 2, 1, 4, sinks);
	n0 = sites_of_shard(r, 0, s0);
	cr_assert_gt(n0, 0);
	for (int i = 0; i < 10; i++) {
		evs[i] = site_alarm(f, s0[0], "DOOR_OPEN", 1795000000000LL + i);
		evs[i].edge = i % 2 ? ALARM_CLEAR : ALARM_RAISE;
	}
	/* Threads not started: shard 0's ring holds exactly 4. */
	cr_assert_eq(router_push(r, 0, &evs[0]), 0);
	cr_assert_eq(router_push_batch(r, 0, &evs[1], 9), 3,
	    "a batch queues the prefix that fits");
	cr_assert_eq(router_push(r, 0, &evs[4]), -EAGAIN);
	cr_assert_eq(router_push_batch(r, 0, &evs[4], 6), -EAGAIN);
	cr_assert_eq(router_push_wait(r, 0, &evs[4], 6, 5, &done),
	    -ETIMEDOUT);
	cr_assert_eq(done, 0);
	router_producer_stats(r, 0, &ps);
	cr_assert_eq(ps.queued, 4);
	/* 2 above, and push_wait's tries: one per wait plus the last */
	cr_assert_eq(ps.full, 2 + ps.waits + 1, "every refused push counted");
	cr_assert_gt(ps.waits, 0);
	cr_assert_eq(ps.timeouts, 1);
	cr_assert_eq(ps.bad, 0);
	cr_assert_eq(router_backlog(r), 4);
	/* A bad site: refused, counted, skipped by push_wait. */
	evs[5].site = 9999;
	cr_assert_eq(router_push(r, 0, &evs[5]), -EINVAL);
	/* Shards running: push_wait waits for room and queues the rest. */
	cr_assert_eq(router_start(r), 0);
	cr_assert_eq(router_push_wait(r, 0, &evs[4], 6, 10000, &done), 0);
	cr_assert_eq(done, 6);
	router_stop(r);
	cr_assert_eq(router_backlog(r), 0);
	router_producer_stats(r, 0, &ps);
	cr_assert_eq(ps.queued, 9, "10 events, one with a bad site");
	cr_assert_eq(ps.bad, 2);
	router_stats(r, &st);
	cr_assert_eq(st.raises + st.clears, 9);
	cr_assert_eq(st.bad_input, 0);
	router_free(r);
	fleet_free(f);
}

Test(router, batched_pushes_equal_single_engine)
{
	static struct alarm_event evs[1024];
	struct fleet *f = area_fleet();
	struct corr_config cc;
	struct corr_sink sinks[MAXSH];
	struct router *r;
	struct corr_stats a, b;
	int n, single = 0, counts[MAXSH] = { 0 }, total = 0;

	corr_config_defaults(&cc);
	cc.storm_sites = 3;
	n = make_stream(f, evs, 1024);
	single_engine(f, &cc, evs, n, &single, &a);
	for (int i = 0; i < MAXSH; i++)
		sinks[i] = (struct corr_sink){ &count_ops, &counts[i] };
	r = new_router(f, &cc, 4, 1, 8, sinks);
	cr_assert_eq(router_start(r), 0);
	for (int i = 0; i < n; i += 37) {
		size_t k = n - i < 37 ? (size_t)(n - i) : 37, done;

		cr_assert_eq(router_push_wait(r, 0, &evs[i], k, 10000,
		    &done), 0);
		cr_assert_eq(done, k);
	}
	router_stop(r);
	router_stats(r, &b);
	for (int i = 0; i < MAXSH; i++)
		total += counts[i];
	cr_assert_eq(total, single);
	assert_same_stats(&a, &b);
	router_free(r);
	fleet_free(f);
}

/* Counts SLA events (sla_warning, sla_breached, escalated) of a shard. */
static void
sla_count_event(void *arg, const struct corr_event *ev)
{
	if (ev->type == CORR_EV_SLA_WARNING || ev->type == CORR_EV_SLA_BREACHED ||
	    ev->type == CORR_EV_ESCALATED) {
		_Atomic int *n = arg;	/* this shard's: one writer */

		ring_store_release(n, ring_load_relaxed(n) + 1);
	}
}

static const struct corr_sink_ops sla_count_ops = { .event = sla_count_event };

static void
wait_backlog(struct router *r)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < 10000 && router_backlog(r) > 0; i++)
		nanosleep(&ms, NULL);
	cr_assert_eq(router_backlog(r), 0, "shards did not drain in 10 s");
}

/*
 * router_tick(): time passes with no alarm and each shard's engine
 * advances to it, so an incident's SLA marks come due on the shard; a
 * tick earlier than the engine's time does nothing; a full ring skips the
 * tick on that shard, says how many shards missed it and counts it.
 */
Test(router, tick_advances_every_shard)
{
	struct fleet *f = area_fleet();
	struct sla_config sla;
	struct corr_config cc;
	struct corr_sink sinks[2];
	struct router *r;
	struct router_pstats ps;
	struct alarm_event ev;
	_Atomic int sla_ev[2] = { 0, 0 };
	int64_t t0 = 1795000000000LL;
	uint32_t s0[NSITES];
	char err[128];

	sla_config_defaults(&sla);
	corr_config_defaults(&cc);
	cc.sla = &sla;
	cr_assert_eq(corr_config_check(&cc, err, sizeof(err)), 0, "%s", err);
	for (int i = 0; i < 2; i++)
		sinks[i] = (struct corr_sink){ &sla_count_ops, &sla_ev[i] };
	r = new_router(f, &cc, 2, 1, 4, sinks);
	cr_assert(sites_of_shard(r, 0, s0) > 0);
	ev = site_alarm(f, s0[0], "MAINS_FAIL", t0);
	ev.severity = SEV_CRITICAL;
	ev.edge = ALARM_RAISE;
	cr_assert_eq(router_push(r, 0, &ev), 0);
	/* the ring of shard 0 holds 4: the alarm and 3 ticks fit */
	for (int i = 0; i < 3; i++)
		cr_assert_eq(router_tick(r, 0, t0 + 1000), 0);
	cr_assert_eq(router_tick(r, 0, t0 + 1000), 1,
	    "shard 0's ring is full: it misses this tick, shard 1 does not");
	router_producer_stats(r, 0, &ps);
	cr_assert_eq(ps.full, 1);
	cr_assert_eq(router_tick(r, 7, t0), -EINVAL);
	cr_assert_eq(router_start(r), 0);
	wait_backlog(r);
	cr_assert_eq(ring_load_acquire(&sla_ev[0]), 0, "nothing due 1 s in");
	/* earlier than the engine's time: nothing */
	cr_assert_eq(router_tick(r, 0, t0 - 5000), 0);
	wait_backlog(r);
	cr_assert_eq(ring_load_acquire(&sla_ev[0]), 0);
	/* two days on, no alarm: the standard 1 h ack clock warned and breached */
	cr_assert_eq(router_tick(r, 0, t0 + 2 * 86400000LL), 0);
	wait_backlog(r);
	cr_assert_geq(ring_load_acquire(&sla_ev[0]), 2, "SLA events from the tick");
	cr_assert_eq(ring_load_acquire(&sla_ev[1]), 0, "shard 1 has no incident");
	router_free(r);
	sla_config_fini(&sla);
	fleet_free(f);
}

/* What the end hook saw of each complaint (shard threads; read after stop). */
struct complaint_seen {
	int	 n;
	void	*reply[4];
	int	 rc[4];
	unsigned shard[4];
	char	 id[4][CORR_ID_LEN];
	char	 reason[4][ROUTER_REASON_MAX];
};

static void
complaint_end(void *arg, unsigned shard, struct corr_engine *e,
    const struct router_input *in)
{
	struct complaint_seen *c = arg;

	(void)e;
	if (in->kind != ROUTER_IN_COMPLAINT || c->n >= 4)
		return;
	cr_assert_not_null(in->complaint);
	c->reply[c->n] = in->reply;
	c->rc[c->n] = in->rc;
	c->shard[c->n] = shard;
	snprintf(c->id[c->n], CORR_ID_LEN, "%s", in->opened);
	snprintf(c->reason[c->n], ROUTER_REASON_MAX, "%s", in->reason);
	c->n++;
}

static const struct router_hooks complaint_hooks = { .end = complaint_end };

Test(router, complaints_reach_their_sites_shard_and_the_hook_sees_the_id)
{
	struct fleet *f = area_fleet();
	struct corr_config cc;
	struct shard_sink ss[2];
	struct corr_sink sinks[2];
	struct complaint_seen seen;
	struct router *r;
	struct corr_complaint c = { 7, "cmcc", "no signal", "desk", SEV_MAJOR,
	    1795000000000LL };
	char want[CORR_ID_LEN];
	unsigned sh;

	memset(&seen, 0, sizeof(seen));
	corr_config_defaults(&cc);
	shard_sinks(ss, sinks, 2, &r);
	r = new_router(f, &cc, 2, 1, 64, sinks);
	router_set_hooks(r, &complaint_hooks, &seen);
	cr_assert_eq(router_start(r), 0);
	sh = router_shard_of(r, 7);
	cr_assert_eq(router_complaint(r, 0, NULL, &c, &seen.n), 0);
	c.customer = "ctcc";	/* no tenant of S7 */
	cr_assert_eq(router_complaint(r, 0, NULL, &c, NULL), 0);
	c.site = NSITES;
	cr_assert_eq(router_complaint(r, 0, NULL, &c, &seen), -EINVAL);
	router_stop(r);
	cr_assert_eq(seen.n, 2);
	corr_id_format(want, sizeof(want), "INC-", sh, 1);
	cr_assert_eq(seen.reply[0], &seen.n);
	cr_assert_eq(seen.rc[0], 0);
	cr_assert_eq(seen.shard[0], sh);
	cr_assert_str_eq(seen.id[0], want);
	cr_assert_null(seen.reply[1]);
	cr_assert_eq(seen.rc[1], -EINVAL);
	cr_assert_str_eq(seen.id[1], "");
	cr_assert(strstr(seen.reason[1], "not a tenant") != NULL, "%s",
	    seen.reason[1]);
	cr_assert_eq(ring_load_acquire(&ss[sh].events), 1);
	cr_assert_eq(ss[sh].wrong_shard, 0);
	router_free(r);
	fleet_free(f);
}
