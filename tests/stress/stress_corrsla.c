/*
 * stress_corrsla - SLA clocks on sharded correlation engines.
 *
 * The shard threads share the fleet and one struct sla_config (read-only,
 * calendars included) and each runs its own clocks.  Under
 * SANITIZER=thread this is how ThreadSanitizer sees that sharing.  Fixed
 * work: a generated 12-hour day of 40,000 transitions on 240 sites (a third
 * premium, regions A/B/C) pushed through a 2-shard router by one producer;
 * then the same transitions, split by shard, through one engine per shard
 * on this thread.  Both must give the same counts of events, warnings,
 * breaches and escalations (a shard's clocks only move with its own
 * alarms, so per-shard engines are the like-for-like reference).
 * Prints one line; exits 0 when they agree, 1 otherwise.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correlator/corr.h"
#include "correlator/sla.h"
#include "daemon/mem.h"
#include "daemon/router.h"

#define NSITES	240
#define NEVENTS	40000
#define NSHARDS	2

static uint64_t rng = 20261123;

static uint32_t
next_rand(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rng >> 33);
}

static void
count_event(void *arg, const struct corr_event *ev)
{
	(void)ev;
	(*(uint64_t *)arg)++;
}

static const struct corr_sink_ops count_ops = { .event = count_event };

static struct fleet *
make_fleet(void)
{
	struct fleet *f = fleet_new();
	char id[32];

	for (int i = 0; i < NSITES; i++) {
		uint32_t s, d;

		snprintf(id, sizeof(id), "S%03d", i);
		s = fleet_add(f, FLEET_SITE, id);
		snprintf(id, sizeof(id), "area%d", i % 24);
		f->sites[s].area = fleet_area(f, id);
		f->sites[s].region = (uint8_t)(i % REGION__COUNT);
		f->sites[s].station = xstrdup("station");
		f->sites[s].branch = xstrdup("branch");
		fleet_site_add_tenant(&f->sites[s], "cmcc", TIER_STANDARD);
		if (i % 3 == 0)
			fleet_site_add_tenant(&f->sites[s], "ctcc", TIER_PREMIUM);
		snprintf(id, sizeof(id), "S%03d-pwr", i);
		d = fleet_add(f, FLEET_DEVICE, id);
		f->devices[d].site = s;
	}
	fleet_code(f, "MAINS_FAIL");
	fleet_code(f, "DOOR_OPEN");
	return f;
}

static void
make_day(struct fleet *f, struct alarm_event *evs)
{
	static uint8_t active[NSITES][2];
	int64_t t = 1795392000000LL;	/* 2026-11-24T00:00:00Z */

	for (int i = 0; i < NEVENTS; i++) {
		uint32_t site = next_rand() % NSITES, c = next_rand() % 2;

		t += next_rand() % 2160;	/* ~12 h in all */
		memset(&evs[i], 0, sizeof(evs[i]));
		evs[i].at_ms = t;
		evs[i].device = site;		/* one device per site, same index */
		evs[i].site = site;
		evs[i].code = (uint16_t)fleet_find_code(f, c ? "DOOR_OPEN" :
		    "MAINS_FAIL");
		evs[i].edge = active[site][c] ? ALARM_CLEAR : ALARM_RAISE;
		evs[i].severity = (uint8_t)(next_rand() % SEV__COUNT);
		active[site][c] ^= 1;
	}
}

int
main(void)
{
	struct fleet *f = make_fleet();
	struct alarm_event *evs = xcalloc(NEVENTS, sizeof(*evs));
	struct corr_sink sinks[NSHARDS];
	uint64_t nev[NSHARDS] = { 0 }, ref_ev = 0;
	struct corr_config cc;
	struct sla_config sc;
	struct corr_stats st, ref = { 0 };
	struct router *r;
	char err[160];
	int ok;

	make_day(f, evs);
	corr_config_defaults(&cc);
	sla_config_defaults(&sc);
	cc.sla = &sc;
	for (int i = 0; i < NSHARDS; i++) {
		sinks[i].ops = &count_ops;
		sinks[i].arg = &nev[i];
	}
	if ((r = router_new(f, &cc, NSHARDS, 1, 1024, sinks, err,
	    sizeof(err))) == NULL || router_start(r) != 0) {
		fprintf(stderr, "stress_corrsla: router: %s\n", err);
		return 1;
	}
	for (int i = 0; i < NEVENTS; i++) {
		long spins = 0;
		int rc;

		while ((rc = router_push(r, 0, &evs[i])) == -EAGAIN) {
			if (++spins > 100000000L) {
				fprintf(stderr, "stress_corrsla: ring stuck\n");
				return 1;
			}
			sched_yield();
		}
		if (rc != 0) {
			fprintf(stderr, "stress_corrsla: push: %d\n", rc);
			return 1;
		}
	}
	router_stop(r);
	router_stats(r, &st);

	for (unsigned s = 0; s < NSHARDS; s++) {
		struct corr_sink sink = { &count_ops, &ref_ev };
		struct corr_engine *e = corr_engine_new(f, &cc, s, &sink);
		struct corr_stats one;

		for (int i = 0; i < NEVENTS; i++)
			if (router_shard_of(r, evs[i].site) == s)
				corr_engine_alarm(e, &evs[i]);
		corr_engine_stats(e, &one);
		ref.events += one.events;
		ref.sla_warnings += one.sla_warnings;
		ref.sla_breaches += one.sla_breaches;
		ref.escalations += one.escalations;
		corr_engine_free(e);
	}
	ok = st.events == ref.events && nev[0] + nev[1] == ref_ev &&
	    st.sla_warnings == ref.sla_warnings &&
	    st.sla_breaches == ref.sla_breaches &&
	    st.escalations == ref.escalations && st.sla_breaches > 0;
	printf("stress_corrsla: %s events=%" PRIu64 "/%" PRIu64 " warnings=%"
	    PRIu64 "/%" PRIu64 " breaches=%" PRIu64 "/%" PRIu64
	    " escalations=%" PRIu64 "/%" PRIu64 " (sharded/reference)\n",
	    ok ? "same" : "DIFFER", st.events, ref.events, st.sla_warnings,
	    ref.sla_warnings, st.sla_breaches, ref.sla_breaches,
	    st.escalations, ref.escalations);
	router_free(r);
	sla_config_fini(&sc);
	xfree(evs);
	fleet_free(f);
	return ok ? 0 : 1;
}
