/*
 * slabench.c - a million open incidents, three SLA clocks each, 48 hours of
 * virtual time in one-second steps.
 *
 *   slabench [incidents [hours [baseline_steps]]]	defaults 1000000 48 300
 *
 * Work (fixed): incidents open evenly over the first hour (arrive starts at
 * opening, so three clocks run from the start); 7 in 8 are acknowledged at
 * 0-90 min, 5 in 6 reach the site at 0-20 h; none is resolved, so every
 * resolve clock runs through its warnings, breach and the whole escalation
 * ladder.  Tiers, severities and regions are mixed; one in ten is graded
 * complex (a working-day calendar clock, UTC+8).
 *
 * Phases, each timed: (1) the timer-heap engine over all steps: sla_advance()
 * per step timed apart from the steps' actions (open, ack, on-site);
 * (2) the baseline over the same incidents: a plain scan of every clock at
 * every step, reading the clock and comparing its next instant with now.
 * The scan runs over fewer steps (baseline_steps) because at full size it
 * would take hours; it is compared per step.  The baseline does not even fire
 * what it finds (that work is left out), so its cost is a lower bound and the
 * reported ratio is conservative.
 *
 * Prints time per step, totals, CPU seconds (getrusage), peak RSS
 * (ru_maxrss), bytes per clock, and the ratio against the baseline.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench/pb_stats.h"
#include "correlator/sla.h"
#include "daemon/mem.h"

#define SEC	1000LL

struct counts {
	uint64_t	 ev[3];		/* by enum sla_event_type */
	uint64_t	 early;		/* events before the step's window: bugs */
	int64_t		 lo, hi;	/* the step's window (lo, hi] */
};




static void
on_event(const struct sla_event *ev, void *arg)
{
	struct counts *c = arg;

	c->ev[ev->type]++;
	if (ev->at_ms <= c->lo || ev->at_ms > c->hi)
		c->early++;
}

static void
params_of(size_t i, struct sla_params *p)
{
	memset(p, 0, sizeof(*p));
	p->tier = i % 5 == 0 ? TIER_PREMIUM : TIER_STANDARD;
	p->severity = (uint8_t)(i % SEV__COUNT);
	p->region = (uint8_t)((i / 7) % REGION__COUNT);
	p->complex = i % 10 == 3;
}

int
main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	long hours = argc > 2 ? strtol(argv[2], NULL, 10) : 48;
	long bsteps = argc > 3 ? strtol(argv[3], NULL, 10) : 300;
	const int64_t t0 = 1795046400000LL;	/* 2026-11-18T00:00:00Z */
	const long steps = hours * 3600, open_steps = 3600;
	struct sla_config cfg;
	struct sla_engine eng;
	struct sla_incident *inc;
	struct counts cnt;
	double t_adv = 0, t_act = 0, worst = 0, cpu0, cpu1, wall0, wall1;
	double b_total, b_step, h_step;
	uint64_t fired = 0, due = 0;
	long s, k;
	size_t i;

	if (n < open_steps || steps < open_steps || bsteps < 1) {
		fprintf(stderr, "usage: slabench [incidents>=3600 [hours>=1 "
		    "[baseline_steps>=1]]]\n");
		return 2;
	}
	sla_config_defaults(&cfg);
	cfg.arrive_start = SLA_ARRIVE_AT_OPEN;
	memset(&cnt, 0, sizeof(cnt));
	if (sla_engine_init(&eng, &cfg, on_event, &cnt, 3 * n) != 0) {
		fprintf(stderr, "slabench: default config does not validate\n");
		return 1;
	}
	inc = xcalloc(n, sizeof(*inc));
	printf("slabench: %zu incidents x 3 clocks, %ld steps of 1 s (%ld h), "
	    "allocator %s\n", n, steps, hours, mem_allocator());

	/* Phase 1: the engine. */
	cpu0 = pb_cpu_s(RUSAGE_SELF);
	wall0 = pb_wall_s();
	for (s = 1; s <= steps; s++) {
		int64_t now = t0 + s * SEC;
		const char *why;
		double a = pb_wall_s(), b, step;

		cnt.lo = now - SEC;	/* actions fire their incident's due marks too */
		cnt.hi = now;
		/* actions due this second */
		if (s <= open_steps) {
			size_t lo = n * (size_t)(s - 1) / open_steps;
			size_t hi = n * (size_t)s / open_steps;
			struct sla_params p;

			for (i = lo; i < hi; i++) {
				params_of(i, &p);
				sla_open(&eng, &inc[i], now, &p);
			}
		}
		/* ack: incident i (i % 8 = k < 7) at open + k * 15 min */
		for (k = 0; k < 7; k++) {
			long o = s - k * 900;

			if (o < 1 || o > open_steps)
				continue;
			for (i = n * (size_t)(o - 1) / open_steps;
			    i < n * (size_t)o / open_steps; i++)
				if (i % 8 == (size_t)k)
					sla_step(&eng, &inc[i], SLA_STEP_ACK,
					    now, &why);
		}
		/* on site: incident i (i % 6 = k < 5) at open + k * 4 h + 1 s */
		for (k = 0; k < 5; k++) {
			long o = s - k * 14400 - 1;

			if (o < 1 || o > open_steps)
				continue;
			for (i = n * (size_t)(o - 1) / open_steps;
			    i < n * (size_t)o / open_steps; i++)
				if (i % 6 == (size_t)k)
					sla_step(&eng, &inc[i], SLA_STEP_ON_SITE,
					    now, &why);
		}
		b = pb_wall_s();
		fired += sla_advance(&eng, now);
		step = pb_wall_s() - b;
		t_act += b - a;
		t_adv += step;
		if (step > worst)
			worst = step;
	}
	wall1 = pb_wall_s();
	cpu1 = pb_cpu_s(RUSAGE_SELF);
	h_step = t_adv / steps;
	printf("engine:   %ld steps, advance %.3f s (%.2f us/step, worst %.3f ms), "
	    "actions %.3f s, total %.3f s, cpu %.3f s\n", steps, t_adv,
	    h_step * 1e6, worst * 1e3, t_act, wall1 - wall0, cpu1 - cpu0);
	printf("          fired %" PRIu64 " marks: %" PRIu64 " warnings, %" PRIu64
	    " breaches, %" PRIu64 " escalations; outside their step: %" PRIu64
	    "; still queued %zu\n", fired, cnt.ev[SLA_EV_WARNING],
	    cnt.ev[SLA_EV_BREACHED], cnt.ev[SLA_EV_ESCALATED], cnt.early,
	    timerq_count(&eng.tq));

	/* Phase 2: the baseline, a plain scan of every clock per step. */
	cpu0 = pb_cpu_s(RUSAGE_SELF);
	wall0 = pb_wall_s();
	for (s = 1; s <= bsteps; s++) {
		int64_t now = t0 + (steps + s) * SEC;

		for (i = 0; i < n; i++)
			for (k = 0; k < SLA__NCLOCKS; k++) {
				const struct sla_clock *c = &inc[i].clocks[k];

				if (c->state == SLA_CLOCK_RUNNING &&
				    inc[i].pause == 0 &&
				    timerq_pending(&c->tn) &&
				    c->tn.deadline <= now)
					due++;
			}
	}
	wall1 = pb_wall_s();
	b_total = wall1 - wall0;
	b_step = b_total / bsteps;
	printf("baseline: %ld steps of a plain scan, %.3f s (%.2f us/step), "
	    "cpu %.3f s, due seen %" PRIu64 "; at %ld steps it would take %.0f s\n",
	    bsteps, b_total, b_step * 1e6, pb_cpu_s(RUSAGE_SELF) - cpu0, due, steps,
	    b_step * steps);
	printf("ratio:    engine advance is %.0fx the baseline's throughput "
	    "(per step: %.2f us vs %.2f us); with actions %.0fx\n",
	    b_step / h_step, h_step * 1e6, b_step * 1e6,
	    b_step / ((t_adv + t_act) / steps));
	printf("memory:   struct sla_incident %zu B, sla_clock %zu B, heap entry "
	    "%zu B: %.1f B per clock (target <= 128); peak RSS %ld KB = %.1f B "
	    "per clock\n", sizeof(struct sla_incident), sizeof(struct sla_clock),
	    sizeof(struct timerq_entry),
	    (double)(sizeof(struct sla_incident) * n +
	    sizeof(struct timerq_entry) * eng.tq.cap) / (3.0 * n),
	    pb_maxrss_kib(), pb_maxrss_kib() * 1024.0 / (3.0 * n));

	sla_engine_fini(&eng);
	xfree(inc);
	sla_config_fini(&cfg);
	return cnt.early == 0 ? 0 : 1;
}
