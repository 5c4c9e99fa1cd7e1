/*
 * test_sla.c - SLA clocks on a virtual clock: every clock row of DOMAIN.md
 * section 3 is met 1 ms before its deadline and breached at it; the premium
 * rule through a site's tenants; pause/resume exact to the ms; planned
 * incidents run no clock; a working-day clock across a weekend and a holiday;
 * the escalation ladder; score band edges; config validation; the JSON view.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "correlator/fleet.h"
#include "correlator/sla.h"
#include "daemon/utc.h"
#include "tests/support/incoracle.h"

#define S	1000LL
#define MIN	CAL_MS_PER_MIN
#define H	CAL_MS_PER_HOUR

#define MAXEV	256
static struct sla_event	 evs[MAXEV];
static size_t		 nev;

static void
record(const struct sla_event *ev, void *arg)
{
	(void)arg;
	cr_assert_lt(nev, MAXEV);
	evs[nev++] = *ev;
}

/* UTC instant of a civil time at offset off_min. */
static int64_t
at(int y, unsigned mo, unsigned d, int h, int mi, int off_min)
{
	return (int64_t)utc_days_from_civil(y, mo, d) * CAL_MS_PER_DAY +
	    h * H + mi * MIN - (int64_t)off_min * MIN;
}

/* Wednesday 2026-11-18 08:00 UTC: no weekend within 48 h. */
#define T0 at(2026, 11, 18, 8, 0, 0)

static struct sla_config	 cfg;
static struct sla_engine	 eng;

static void
setup_cfg(void)
{
	nev = 0;
	sla_config_defaults(&cfg);
}

static void
start_engine(void)
{
	cr_assert_eq(sla_engine_init(&eng, &cfg, record, NULL, 0), 0);
}

static void
teardown(void)
{
	sla_engine_fini(&eng);
	sla_config_fini(&cfg);
}

static void
setup(void)
{
	setup_cfg();
	start_engine();
}

static struct sla_params
params(enum tier t, enum severity s, enum region r, int complex)
{
	struct sla_params p;

	memset(&p, 0, sizeof(p));
	p.tier = t;
	p.severity = s;
	p.region = r;
	p.complex = complex;
	return p;
}

static size_t
count(const struct sla_incident *inc, enum sla_event_type type, int clock)
{
	size_t i, n = 0;

	for (i = 0; i < nev; i++)
		if (evs[i].inc == inc && evs[i].type == type &&
		    (clock < 0 || evs[i].clock == clock))
			n++;
	return n;
}

static const struct sla_event *
find(const struct sla_incident *inc, enum sla_event_type type, int clock)
{
	size_t i;

	for (i = 0; i < nev; i++)
		if (evs[i].inc == inc && evs[i].type == type &&
		    evs[i].clock == clock)
			return &evs[i];
	return NULL;
}

static enum sla_step
stop_step(enum sla_clock_kind k)
{
	return k == SLA_ACK ? SLA_STEP_ACK : k == SLA_ARRIVE ?
	    SLA_STEP_ON_SITE : SLA_STEP_RESOLVE;
}

/*
 * Two incidents opened at t0 with p: one stops clock k 1 ms before the
 * deadline (met, never breached), the other is breached exactly at it.
 */
static void
met_then_breached(const struct sla_params *p, enum sla_clock_kind k,
    int64_t t0, int64_t deadline)
{
	struct sla_incident a, b;
	struct sla_clock_view v;
	const struct sla_event *ev;
	const char *why;

	nev = 0;	/* a and b may reuse the last call's addresses */
	cr_assert_eq(sla_open(&eng, &a, t0, p), 0);
	cr_assert_eq(sla_open(&eng, &b, t0, p), 0);
	if (k == SLA_ARRIVE && cfg.arrive_start == SLA_ARRIVE_AT_DISPATCH) {
		cr_assert_eq(sla_step(&eng, &a, SLA_STEP_DISPATCH, t0, &why), 0);
		cr_assert_eq(sla_step(&eng, &b, SLA_STEP_DISPATCH, t0, &why), 0);
	}
	sla_clock_view(&eng, &a, k, t0, &v);
	cr_assert_eq(v.deadline_ms, deadline, "%s deadline %lld, want %lld",
	    sla_clock_name(k), (long long)v.deadline_ms, (long long)deadline);

	sla_advance(&eng, deadline - 1);
	cr_assert_eq(count(&b, SLA_EV_BREACHED, k), 0);
	sla_clock_view(&eng, &b, k, deadline - 1, &v);
	cr_assert_eq(v.remaining_ms, 1);
	cr_assert_eq(sla_step(&eng, &a, stop_step(k), deadline - 1, &why), 0);
	sla_clock_view(&eng, &a, k, deadline + 10 * H, &v);
	cr_assert(v.met && !v.breached, "%s not met", sla_clock_name(k));
	cr_assert_eq(v.remaining_ms, 1);

	sla_advance(&eng, deadline);
	ev = find(&b, SLA_EV_BREACHED, k);
	cr_assert_not_null(ev, "%s: no breach at the deadline", sla_clock_name(k));
	cr_assert_eq(ev->at_ms, deadline);
	cr_assert_eq(sla_step(&eng, &b, stop_step(k), deadline, &why), 0);
	sla_clock_view(&eng, &b, k, deadline, &v);
	cr_assert(v.breached && !v.met);
	cr_assert_eq(v.remaining_ms, 0);

	sla_advance(&eng, deadline + 100 * H);
	cr_assert_eq(count(&a, SLA_EV_BREACHED, k), 0);
	cr_assert_eq(count(&b, SLA_EV_BREACHED, k), 1);
	sla_close(&eng, &a);
	sla_close(&eng, &b);
}

TestSuite(sla, .init = setup, .fini = teardown);

Test(sla, defaults_validate)
{
	struct sla_config_error err[4];

	cr_assert_eq(sla_config_validate(&cfg, err, 4), 0,
	    "%s: %s", err[0].field, err[0].reason);
}

Test(sla, ack_standard_1h)
{
	struct sla_params p = params(TIER_STANDARD, SEV_MAJOR, REGION_A, 0);

	met_then_breached(&p, SLA_ACK, T0, T0 + 1 * H);
}

Test(sla, ack_premium_60s_through_tenants)
{
	struct fleet *f = fleet_new();
	uint32_t i = fleet_add(f, FLEET_SITE, "S1"), j = fleet_add(f, FLEET_SITE, "S2");
	struct sla_params p;

	/* a standard tenant shares the site with a premium one */
	fleet_site_add_tenant(&f->sites[i], "cmcc", TIER_STANDARD);
	fleet_site_add_tenant(&f->sites[i], "cucc", TIER_PREMIUM);
	f->sites[i].region = REGION_B;
	fleet_site_add_tenant(&f->sites[j], "ctcc", TIER_STANDARD);
	sla_params_for_site(&p, &f->sites[i], SEV_CRITICAL, 0, 0);
	cr_assert_eq(p.tier, TIER_PREMIUM);
	cr_assert_eq(p.region, REGION_B);
	met_then_breached(&p, SLA_ACK, T0, T0 + 60 * S);
	sla_params_for_site(&p, &f->sites[j], SEV_CRITICAL, 0, 0);
	cr_assert_eq(p.tier, TIER_STANDARD);
	met_then_breached(&p, SLA_ACK, T0, T0 + 1 * H);
	fleet_free(f);
}

Test(sla, arrive_by_region_from_dispatch)
{
	static const int64_t want[REGION__COUNT] = { 2 * H, 12 * H, 48 * H };
	int t, r;

	for (t = 0; t < TIER__COUNT; t++)
		for (r = 0; r < REGION__COUNT; r++) {
			struct sla_params p = params(t, SEV_MINOR, r, 0);

			met_then_breached(&p, SLA_ARRIVE, T0, T0 + want[r]);
		}
}

Test(sla, arrive_from_open_when_configured, .init = setup_cfg)
{
	struct sla_incident inc;
	struct sla_params p = params(TIER_STANDARD, SEV_MAJOR, REGION_C, 0);
	struct sla_clock_view v;
	const char *why;

	cfg.arrive_start = SLA_ARRIVE_AT_OPEN;
	start_engine();
	cr_assert_eq(sla_open(&eng, &inc, T0, &p), 0);
	sla_clock_view(&eng, &inc, SLA_ARRIVE, T0, &v);
	cr_assert_eq(v.state, SLA_CLOCK_RUNNING);
	cr_assert_eq(sla_step(&eng, &inc, SLA_STEP_DISPATCH, T0, &why), -EALREADY);
	sla_close(&eng, &inc);
	met_then_breached(&p, SLA_ARRIVE, T0 + 5, T0 + 5 + 48 * H);
}

Test(sla, arrive_waits_for_dispatch)
{
	struct sla_incident inc;
	struct sla_params p = params(TIER_STANDARD, SEV_MAJOR, REGION_A, 0);
	struct sla_clock_view v;

	cr_assert_eq(sla_open(&eng, &inc, T0, &p), 0);
	sla_advance(&eng, T0 + 30 * H);
	cr_assert_eq(count(&inc, SLA_EV_BREACHED, SLA_ARRIVE), 0);
	sla_clock_view(&eng, &inc, SLA_ARRIVE, T0 + 30 * H, &v);
	cr_assert_eq(v.state, SLA_CLOCK_IDLE);
	cr_assert_eq(v.has_deadline, 0);
	sla_close(&eng, &inc);
}

Test(sla, resolve_standard_8h_premium_24h)
{
	struct sla_params s = params(TIER_STANDARD, SEV_CRITICAL, REGION_C, 0);
	struct sla_params p = params(TIER_PREMIUM, SEV_CRITICAL, REGION_C, 0);

	met_then_breached(&s, SLA_RESOLVE, T0, T0 + 8 * H);
	met_then_breached(&p, SLA_RESOLVE, T0, T0 + 24 * H);
}

Test(sla, complex_resolve_working_days_over_weekend_and_holiday, .init = setup_cfg)
{
	struct sla_params p = params(TIER_STANDARD, SEV_MAJOR, REGION_A, 1);
	int32_t hol;

	cr_assert_str_eq(cfg.calendars[1].name, "workday");
	cr_assert_eq(calendar_parse_date("2026-11-23", &hol), 0);	/* Monday */
	calendar_add_holiday(&cfg.calendars[1], hol);
	start_engine();
	/* Fri 16:00 UTC+8: Fri 2 h, Sat, Sun, holiday Mon, Tue 9 h, Wed 9 h,
	 * Thu 7 h = 27 h (3 working days of 9 h) -> Thu 16:00 UTC+8 */
	met_then_breached(&p, SLA_RESOLVE, at(2026, 11, 20, 16, 0, 480),
	    at(2026, 11, 26, 16, 0, 480));
}

Test(sla, premium_complex_resolve_is_24h)
{
	struct sla_params p = params(TIER_PREMIUM, SEV_MAJOR, REGION_A, 1);

	met_then_breached(&p, SLA_RESOLVE, T0, T0 + 24 * H);
}

Test(sla, warnings_and_full_ladder_on_one_jump)
{
	static const struct {
		int type, clock, level;
		int64_t at;
	} want[] = {
		{ SLA_EV_WARNING, SLA_ACK, -1, 30 * MIN },
		{ SLA_EV_ESCALATED, SLA_ACK, SLA_LEVEL_STATION, 30 * MIN },
		{ SLA_EV_WARNING, SLA_ACK, 0, 48 * MIN },
		{ SLA_EV_BREACHED, SLA_ACK, 0, 60 * MIN },
		{ SLA_EV_ESCALATED, SLA_ACK, SLA_LEVEL_BRANCH, 60 * MIN },
		{ SLA_EV_WARNING, SLA_RESOLVE, 1, 4 * H },
		{ SLA_EV_ESCALATED, SLA_ACK, SLA_LEVEL_HQ, 5 * H },
		{ SLA_EV_WARNING, SLA_RESOLVE, 2, 6 * H + 24 * MIN },
		{ SLA_EV_BREACHED, SLA_RESOLVE, 2, 8 * H },
	};
	struct sla_incident inc;
	struct sla_params p = params(TIER_STANDARD, SEV_MAJOR, REGION_A, 0);
	size_t i;

	cr_assert_eq(sla_open(&eng, &inc, T0, &p), 0);
	cr_assert_eq(sla_next(&eng), T0 + 30 * MIN);
	cr_assert_eq(sla_advance(&eng, T0 + 30 * MIN - 1), 0);
	sla_advance(&eng, T0 + 48 * H);	/* one jump over every mark */
	cr_assert_eq(nev, sizeof(want) / sizeof(want[0]), "%zu events", nev);
	for (i = 0; i < nev; i++) {
		cr_assert_eq(evs[i].type, want[i].type, "event %zu", i);
		cr_assert_eq(evs[i].clock, want[i].clock, "event %zu", i);
		cr_assert_eq(evs[i].at_ms, T0 + want[i].at, "event %zu at %lld",
		    i, (long long)(evs[i].at_ms - T0));
		if (evs[i].type == SLA_EV_ESCALATED)
			cr_assert_eq(evs[i].level, want[i].level, "event %zu", i);
	}
	cr_assert_eq(evs[0].warning, 0);
	cr_assert_float_eq(evs[2].fraction, 0.8, 1e-9);
	cr_assert_eq(inc.level, SLA_LEVEL_HQ);
	cr_assert_eq(sla_next(&eng), INT64_MAX);
	cr_assert_str_eq(sla_level_name(SLA_LEVEL_BRANCH), "branch");
	sla_close(&eng, &inc);
}

/* The engine advanced to t, then clock k's view of inc at t: warnings. */
static unsigned
warnings_at(struct sla_incident *inc, enum sla_clock_kind k, int64_t t)
{
	struct sla_clock_view v;

	sla_advance(&eng, t);
	sla_clock_view(&eng, inc, k, t, &v);
	return v.warnings;
}

/*
 * The view says how many warnings a clock has passed, as its events did
 * (the NOC page colours its bars by it): none before the first, one at
 * it, both at the second, both once stopped; 0 while idle.
 */
Test(sla, view_counts_the_warnings_passed)
{
	struct sla_incident inc;
	struct sla_params p = params(TIER_STANDARD, SEV_MAJOR, REGION_A, 0);
	const char *why;

	cr_assert_eq(sla_open(&eng, &inc, T0, &p), 0);
	cr_expect_eq(warnings_at(&inc, SLA_ACK, T0 + 30 * MIN - 1), 0);
	cr_expect_eq(warnings_at(&inc, SLA_ACK, T0 + 30 * MIN), 1,
	    "at the 50 %% mark");
	cr_expect_eq(warnings_at(&inc, SLA_ACK, T0 + 48 * MIN), 2,
	    "at the 80 %% mark");
	cr_expect_eq(warnings_at(&inc, SLA_ARRIVE, T0 + 48 * MIN), 0,
	    "arrive waits for the dispatch");
	cr_assert_eq(sla_step(&eng, &inc, SLA_STEP_ACK, T0 + 50 * MIN, &why), 0);
	cr_expect_eq(warnings_at(&inc, SLA_ACK, T0 + 3 * H), 2,
	    "kept once stopped");
	cr_expect_eq(warnings_at(&inc, SLA_RESOLVE, T0 + 3 * H), 0,
	    "resolve's first is at 4 h");
	cr_expect_eq(warnings_at(&inc, SLA_RESOLVE, T0 + 4 * H), 1);
	sla_close(&eng, &inc);
}

Test(sla, ack_in_time_stops_its_ladder)
{
	struct sla_incident inc;
	struct sla_params p = params(TIER_STANDARD, SEV_MAJOR, REGION_A, 0);
	const char *why;

	cr_assert_eq(sla_open(&eng, &inc, T0, &p), 0);
	sla_advance(&eng, T0 + 40 * MIN);
	cr_assert_eq(count(&inc, SLA_EV_WARNING, SLA_ACK), 1);
	cr_assert_eq(inc.level, SLA_LEVEL_STATION);
	cr_assert_eq(sla_step(&eng, &inc, SLA_STEP_ACK, T0 + 40 * MIN, &why), 0);
	cr_assert_eq(sla_step(&eng, &inc, SLA_STEP_ACK, T0 + 41 * MIN, &why),
	    -EALREADY);
	cr_assert_eq(sla_step(&eng, &inc, SLA_STEP_RESOLVE, T0 + 2 * H, &why), 0);
	sla_advance(&eng, T0 + 48 * H);
	cr_assert_eq(count(&inc, SLA_EV_WARNING, SLA_ACK), 1);
	cr_assert_eq(count(&inc, SLA_EV_BREACHED, -1), 0);
	cr_assert_eq(inc.level, SLA_LEVEL_STATION);
	cr_assert_eq(inc.response_score, 5);
	cr_assert_eq(inc.grade, SLA_GRADE_DAY);
	cr_assert_eq(sla_next(&eng), INT64_MAX);
}

Test(sla, ladder_on_the_second_warning_and_per_clock, .init = setup_cfg)
{
	struct sla_incident inc;
	struct sla_params p = params(TIER_STANDARD, SEV_MAJOR, REGION_A, 0);

	/* branch at the 80 % warning of resolve only; HQ 1 h after its breach */
	cfg.nrungs = 2;
	cfg.rungs[0] = (struct sla_rung){ SLA_LEVEL_BRANCH, SLA_ON_WARNING, 1,
	    1u << SLA_RESOLVE, 0 };
	cfg.rungs[1] = (struct sla_rung){ SLA_LEVEL_HQ, SLA_ON_BREACH, 0,
	    1u << SLA_RESOLVE, 1 * H };
	start_engine();
	cr_assert_eq(sla_open(&eng, &inc, T0, &p), 0);
	sla_advance(&eng, T0 + 6 * H);
	cr_assert_eq(count(&inc, SLA_EV_ESCALATED, -1), 0);	/* ack breached: no rung */
	cr_assert_eq(count(&inc, SLA_EV_BREACHED, SLA_ACK), 1);
	sla_advance(&eng, T0 + 9 * H - 1);
	cr_assert_eq(count(&inc, SLA_EV_ESCALATED, SLA_RESOLVE), 1);
	cr_assert_eq(find(&inc, SLA_EV_ESCALATED, SLA_RESOLVE)->at_ms,
	    T0 + 6 * H + 24 * MIN);
	cr_assert_eq(inc.level, SLA_LEVEL_BRANCH);
	sla_advance(&eng, T0 + 9 * H);
	cr_assert_eq(inc.level, SLA_LEVEL_HQ);
	cr_assert_eq(evs[nev - 1].at_ms, T0 + 9 * H);
	sla_close(&eng, &inc);
}

Test(sla, pause_and_resume_keep_remaining_to_the_ms)
{
	struct sla_incident inc;
	struct sla_params p = params(TIER_STANDARD, SEV_MAJOR, REGION_A, 0);
	struct sla_clock_view v;
	const char *why = NULL;

	cr_assert_eq(sla_open(&eng, &inc, T0, &p), 0);
	cr_assert_eq(sla_step(&eng, &inc, SLA_STEP_ACK, T0 + 10 * MIN, &why), 0);
	sla_advance(&eng, T0 + 1 * H + 7);
	cr_assert_eq(sla_pause(&eng, &inc, SLA_PAUSE_OPERATOR, T0 + 1 * H + 7,
	    NULL, &why), -EINVAL);
	cr_assert(strstr(why, "reason"), "%s", why);
	cr_assert_eq(sla_pause(&eng, &inc, SLA_PAUSE_OPERATOR, T0 + 1 * H + 7,
	    "customer denied site access until 14:00", &why), 0);
	cr_assert_eq(sla_pause(&eng, &inc, SLA_PAUSE_OPERATOR, T0 + 2 * H,
	    "again", &why), -EINVAL);
	sla_clock_view(&eng, &inc, SLA_RESOLVE, T0 + 2 * H, &v);
	cr_assert(v.paused && !v.has_deadline);
	cr_assert_eq(v.remaining_ms, 7 * H - 7);
	sla_advance(&eng, T0 + 20 * H);
	cr_assert_eq(count(&inc, SLA_EV_BREACHED, SLA_RESOLVE), 0);
	cr_assert_eq(sla_resume(&eng, &inc, SLA_PAUSE_PLANNED, T0 + 3 * H, &why),
	    -EINVAL);
	/* resumed 3 h 333 ms later than paused: the deadline moves by that */
	cr_assert_eq(sla_resume(&eng, &inc, SLA_PAUSE_OPERATOR, T0 + 20 * H + 340,
	    &why), 0);
	sla_clock_view(&eng, &inc, SLA_RESOLVE, T0 + 20 * H + 340, &v);
	cr_assert_eq(v.remaining_ms, 7 * H - 7);
	cr_assert_eq(v.deadline_ms, T0 + 27 * H + 333);
	sla_advance(&eng, T0 + 27 * H + 332);
	cr_assert_eq(count(&inc, SLA_EV_BREACHED, SLA_RESOLVE), 0);
	sla_advance(&eng, T0 + 27 * H + 333);
	cr_assert_eq(find(&inc, SLA_EV_BREACHED, SLA_RESOLVE)->at_ms,
	    T0 + 27 * H + 333);
	cr_assert_eq(sla_step(&eng, &inc, SLA_STEP_RESOLVE, T0 + 28 * H, &why), 0);
	/* a pause on an incident whose clocks have all stopped is rejected */
	cr_assert_eq(sla_pause(&eng, &inc, SLA_PAUSE_OPERATOR, T0 + 29 * H,
	    "late", &why), -EINVAL);
	cr_assert(strstr(why, "stopped"), "%s", why);
	/* active time only: (1 h + 7 ms) + (8 h - 340 ms), within a day */
	cr_assert_eq(inc.grade, SLA_GRADE_DAY);
	sla_clock_view(&eng, &inc, SLA_RESOLVE, T0 + 30 * H, &v);
	cr_assert(v.breached && !v.met);
	cr_assert_eq(v.remaining_ms, -(28 * H - (27 * H + 333)));
}

Test(sla, pause_in_a_warning_instant_fires_it_first)
{
	struct sla_incident inc;
	struct sla_params p = params(TIER_STANDARD, SEV_MAJOR, REGION_A, 0);
	const char *why;

	cr_assert_eq(sla_open(&eng, &inc, T0, &p), 0);
	/* no advance: the pause at the 50 % instant still sees the warning */
	cr_assert_eq(sla_pause(&eng, &inc, SLA_PAUSE_OPERATOR, T0 + 30 * MIN,
	    "storm", &why), 0);
	cr_assert_eq(count(&inc, SLA_EV_WARNING, SLA_ACK), 1);
	cr_assert_eq(find(&inc, SLA_EV_WARNING, SLA_ACK)->at_ms, T0 + 30 * MIN);
	sla_close(&eng, &inc);
}

Test(sla, planned_incident_runs_no_clock)
{
	struct sla_incident inc;
	struct sla_params p = params(TIER_PREMIUM, SEV_CRITICAL, REGION_A, 0);
	struct sla_clock_view v;
	const char *why;

	p.planned = 1;
	cr_assert_eq(sla_open(&eng, &inc, T0, &p), 0);
	cr_assert_eq(sla_step(&eng, &inc, SLA_STEP_DISPATCH, T0 + H, &why), 0);
	sla_advance(&eng, T0 + 72 * H);
	cr_assert_eq(nev, 0);
	cr_assert_eq(sla_next(&eng), INT64_MAX);
	sla_clock_view(&eng, &inc, SLA_ACK, T0 + 72 * H, &v);
	cr_assert(v.paused);
	cr_assert_eq(v.remaining_ms, 60 * S);
	/* the work window ends without a resolution: clocks start counting */
	cr_assert_eq(sla_resume(&eng, &inc, SLA_PAUSE_PLANNED, T0 + 72 * H, &why), 0);
	sla_clock_view(&eng, &inc, SLA_ACK, T0 + 72 * H, &v);
	cr_assert_eq(v.deadline_ms, T0 + 72 * H + 60 * S);
	sla_clock_view(&eng, &inc, SLA_ARRIVE, T0 + 72 * H, &v);
	cr_assert_eq(v.deadline_ms, T0 + 74 * H);
	sla_close(&eng, &inc);
}

Test(sla, close_cancels_timers)
{
	struct sla_incident inc[3];
	struct sla_params p = params(TIER_STANDARD, SEV_MAJOR, REGION_A, 0);
	int i;

	for (i = 0; i < 3; i++)
		cr_assert_eq(sla_open(&eng, &inc[i], T0 + i, &p), 0);
	sla_close(&eng, &inc[1]);
	sla_advance(&eng, T0 + 48 * H);
	cr_assert_eq(count(&inc[1], SLA_EV_WARNING, -1), 0);
	cr_assert_eq(count(&inc[0], SLA_EV_BREACHED, -1), 2);
	cr_assert_eq(count(&inc[2], SLA_EV_BREACHED, -1), 2);
}

Test(sla, score_band_edges)
{
	cr_assert_eq(sla_response_score(&cfg, 0), 5);
	cr_assert_eq(sla_response_score(&cfg, 1 * H - 1), 5);
	cr_assert_eq(sla_response_score(&cfg, 1 * H), 4);
	cr_assert_eq(sla_response_score(&cfg, 3 * H - 1), 4);
	cr_assert_eq(sla_response_score(&cfg, 3 * H), 3);
	cr_assert_eq(sla_response_score(&cfg, 24 * H - 1), 3);
	cr_assert_eq(sla_response_score(&cfg, 24 * H), 1);
	cr_assert_eq(sla_resolution_grade(&cfg, 1 * H - 1), SLA_GRADE_IMMEDIATE);
	cr_assert_eq(sla_resolution_grade(&cfg, 1 * H), SLA_GRADE_DAY);
	cr_assert_eq(sla_resolution_grade(&cfg, 24 * H - 1), SLA_GRADE_DAY);
	cr_assert_eq(sla_resolution_grade(&cfg, 24 * H), SLA_GRADE_OVER_DAY);
	cr_assert_str_eq(sla_grade_name(SLA_GRADE_OVER_DAY), "over_a_day");
}

Test(sla, scores_kept_when_clocks_end)
{
	static const struct { int64_t ack; int score; } rows[] = {
		{ 1 * H - 1, 5 }, { 1 * H, 4 }, { 3 * H - 1, 4 }, { 3 * H, 3 },
		{ 24 * H - 1, 3 }, { 24 * H, 1 },
	};
	struct sla_incident inc;
	struct sla_params p = params(TIER_STANDARD, SEV_MAJOR, REGION_A, 0);
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		cr_assert_eq(sla_open(&eng, &inc, T0, &p), 0);
		cr_assert_eq(inc.response_score, 0);
		cr_assert_eq(sla_step(&eng, &inc, SLA_STEP_ACK, T0 + rows[i].ack,
		    &why), 0);
		cr_assert_eq(inc.response_score, rows[i].score, "ack after %lld",
		    (long long)rows[i].ack);
		cr_assert_eq(sla_step(&eng, &inc, SLA_STEP_RESOLVE, T0 + 30 * MIN,
		    &why), 0);
		cr_assert_eq(inc.grade, SLA_GRADE_IMMEDIATE);
		sla_close(&eng, &inc);
	}
	/* paused time does not count against the response */
	cr_assert_eq(sla_open(&eng, &inc, T0, &p), 0);
	cr_assert_eq(sla_pause(&eng, &inc, SLA_PAUSE_OPERATOR, T0 + 50 * MIN,
	    "site flooded, access closed", &why), 0);
	cr_assert_eq(sla_resume(&eng, &inc, SLA_PAUSE_OPERATOR, T0 + 5 * H, &why), 0);
	cr_assert_eq(sla_step(&eng, &inc, SLA_STEP_ACK, T0 + 5 * H + 10 * MIN - 1,
	    &why), 0);
	cr_assert_eq(inc.response_score, 5);
	sla_close(&eng, &inc);
}

Test(sla, configured_bands, .init = setup_cfg)
{
	cfg.nscore_bands = 2;
	cfg.score_bands[0] = (struct sla_score_band){ 15 * MIN, 10 };
	cfg.score_bands[1] = (struct sla_score_band){ INT64_MAX, 2 };
	start_engine();
	cr_assert_eq(sla_response_score(&cfg, 15 * MIN - 1), 10);
	cr_assert_eq(sla_response_score(&cfg, 15 * MIN), 2);
}

static int
has_error(const struct sla_config_error *e, size_t n, const char *field,
    const char *reason)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(e[i].field, field) == 0 && strstr(e[i].reason, reason))
			return 1;
	return 0;
}

Test(sla, validation_names_the_field, .init = setup_cfg)
{
	struct sla_config_error err[16];
	struct sla_engine e2;
	size_t n;

	cfg.dur[SLA_ACK][TIER_PREMIUM][SEV_CRITICAL][REGION_B].set = 0;
	cfg.dur[SLA_ARRIVE][TIER_STANDARD][SEV_MINOR][REGION_C].ms = 0;
	cfg.dur[SLA_RESOLVE][TIER_STANDARD][SEV_WARNING][REGION_A].ms = -5;
	cfg.complex_resolve[TIER_STANDARD][SEV_MAJOR][REGION_A].calendar = 7;
	cfg.calendars[1].periods[0].end_min = 8 * 60;	/* 09:00-08:00 */
	cfg.warn_at[1] = 0.4;
	cfg.rungs[2].after_ms = -1;
	cfg.score_bands[3].below_ms = 48 * H;
	cfg.dur[SLA_ACK][TIER_STANDARD][SEV_MINOR][REGION_A].ms = 400LL * 24 * H;
	n = sla_config_validate(&cfg, err, 16);
	cr_assert_eq(n, 9, "%zu errors", n);
	cr_assert(has_error(err, n, "sla.clocks.ack.standard.minor.A", "year"));
	cr_assert(has_error(err, n, "sla.clocks.ack.premium.critical.B", "no duration"));
	cr_assert(has_error(err, n, "sla.clocks.arrive.standard.minor.C", "positive"));
	cr_assert(has_error(err, n, "sla.clocks.resolve.standard.warning.A", "positive"));
	cr_assert(has_error(err, n, "sla.clocks.resolve_complex.standard.major.A",
	    "unknown calendar"));
	cr_assert(has_error(err, n, "sla.calendars.workday", "inverted"));
	cr_assert(has_error(err, n, "sla.warnings[1]", "ascend"));
	cr_assert(has_error(err, n, "sla.escalation[2].after", "negative"));
	cr_assert(has_error(err, n, "sla.scores.response[3]", "no upper bound"));
	cr_assert_eq(sla_engine_init(&e2, &cfg, record, NULL, 0), -EINVAL);
	/* keep teardown's engine valid */
	sla_config_fini(&cfg);
	setup();
}

Test(sla, overlapping_calendar_rejected, .init = setup_cfg)
{
	struct sla_config_error err[4];

	calendar_add_period(&cfg.calendars[1], 17 * 60, 20 * 60);
	cr_assert_eq(sla_config_validate(&cfg, err, 4), 1);
	cr_assert_str_eq(err[0].field, "sla.calendars.workday");
	cr_assert(strstr(err[0].reason, "overlapping"), "%s", err[0].reason);
	sla_config_fini(&cfg);
	setup();
}

Test(sla, clocks_json)
{
	struct sla_incident inc;
	struct sla_params p = params(TIER_STANDARD, SEV_MAJOR, REGION_A, 0);
	const char *why;
	json_t *o, *ack, *arr, *res;

	cr_assert_eq(sla_open(&eng, &inc, T0, &p), 0);
	cr_assert_eq(sla_step(&eng, &inc, SLA_STEP_ACK, T0 + 20 * MIN, &why), 0);
	o = incoracle_clocks(&eng, &inc, T0 + 2 * H);
	ack = json_object_get(o, "ack");
	arr = json_object_get(o, "arrive");
	res = json_object_get(o, "resolve");
	cr_assert(ack && arr && res);
	cr_assert_str_eq(json_string_value(json_object_get(ack, "state")), "stopped");
	cr_assert(json_is_true(json_object_get(ack, "met")));
	cr_assert(json_is_false(json_object_get(ack, "breached")));
	cr_assert_eq(json_integer_value(json_object_get(ack, "remaining_ms")), 40 * MIN);
	cr_assert(json_is_null(json_object_get(arr, "deadline")));
	cr_assert_str_eq(json_string_value(json_object_get(arr, "state")), "idle");
	cr_assert_str_eq(json_string_value(json_object_get(res, "deadline")),
	    "2026-11-18T16:00:00.000Z");
	cr_assert_eq(json_integer_value(json_object_get(res, "remaining_ms")), 6 * H);
	cr_assert(json_is_false(json_object_get(res, "paused")));
	json_decref(o);
	sla_close(&eng, &inc);
}

/*
 * Random pause/resume sequences on a working-day clock against a model that
 * sums the working time of the running stretches: remaining time, and the
 * breach instant, agree to the ms.
 */
Test(sla, random_pauses_match_model)
{
	struct sla_params p = params(TIER_STANDARD, SEV_MAJOR, REGION_A, 1);
	const struct calendar *cal = &cfg.calendars[1];
	unsigned seed, breached = 0;

	for (seed = 1; seed <= 20; seed++) {
		struct sla_incident inc;
		struct sla_clock_view v;
		int64_t now = T0, stretch = T0, used = 0, want_breach = -1;
		int64_t d = cfg.complex_resolve[TIER_STANDARD][SEV_MAJOR][REGION_A].ms;
		const struct sla_event *ev;
		int paused = 0, i;
		const char *why;

		srand(seed);
		nev = 0;
		cr_assert_eq(sla_open(&eng, &inc, now, &p), 0);
		for (i = 0; i < 60; i++) {
			int64_t next = now + (int64_t)(rand() % (6 * 3600)) * S +
			    rand() % 1000;

			/* the model's breach, if it happens in this stretch */
			if (!paused && want_breach < 0 &&
			    used + calendar_between(cal, stretch, next) >= d)
				want_breach = calendar_add(cal, stretch, d - used);
			sla_advance(&eng, next);
			now = next;
			if (paused) {
				cr_assert_eq(sla_resume(&eng, &inc,
				    SLA_PAUSE_OPERATOR, now, &why), 0);
				stretch = now;
			} else {
				used += calendar_between(cal, stretch, now);
				cr_assert_eq(sla_pause(&eng, &inc,
				    SLA_PAUSE_OPERATOR, now, "waiting for parts",
				    &why), 0);
			}
			paused = !paused;
			sla_clock_view(&eng, &inc, SLA_RESOLVE, now, &v);
			cr_assert_eq(v.remaining_ms, d - used, "seed %u step %d",
			    seed, i);
			cr_assert_eq(v.paused, paused);
		}
		ev = find(&inc, SLA_EV_BREACHED, SLA_RESOLVE);
		if (want_breach < 0)
			cr_assert_null(ev, "seed %u: unexpected breach", seed);
		else {
			cr_assert_not_null(ev, "seed %u: no breach", seed);
			cr_assert_eq(ev->at_ms, want_breach, "seed %u", seed);
			breached++;
		}
		sla_close(&eng, &inc);
	}
	/* the sequences must exercise both outcomes */
	cr_assert(breached > 0 && breached < 20, "%u of 20 breached", breached);
}

/*
 * Each step refuses a second time with its own reason, leaves the clocks
 * as they were, and on site without a dispatch starts and stops the
 * arrival clock at once.
 */
Test(sla, every_step_refuses_twice_with_its_reason)
{
	static const struct {
		enum sla_step step;
		const char *why;
	} steps[] = {
		{ SLA_STEP_ACK, "already acknowledged" },
		{ SLA_STEP_DISPATCH, "arrival clock already started" },
		{ SLA_STEP_ON_SITE, "already on site" },
		{ SLA_STEP_RESOLVE, "already resolved" },
	};
	struct sla_params p = params(TIER_STANDARD, SEV_MAJOR, REGION_A, 0);
	struct sla_incident inc, direct;
	struct sla_clock_view v;
	const char *why = NULL;

	cr_assert_eq(sla_open(&eng, &inc, T0, &p), 0);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		cr_assert_eq(sla_step(&eng, &inc, steps[i].step, T0 + MIN, &why),
		    0, "%s", steps[i].why);
		cr_assert_eq(sla_step(&eng, &inc, steps[i].step, T0 + 2 * MIN,
		    &why), -EALREADY);
		cr_assert_str_eq(why, steps[i].why);
	}
	for (int k = 0; k < SLA__NCLOCKS; k++) {
		sla_clock_view(&eng, &inc, (enum sla_clock_kind)k, T0 + H, &v);
		cr_assert_eq(v.state, SLA_CLOCK_STOPPED, "clock %d", k);
	}
	cr_assert_eq(sla_step(&eng, &inc, (enum sla_step)99, T0, &why), -EINVAL);
	cr_assert_str_eq(why, "unknown step");
	sla_close(&eng, &inc);

	cr_assert_eq(sla_open(&eng, &direct, T0, &p), 0);
	cr_assert_eq(sla_step(&eng, &direct, SLA_STEP_ON_SITE, T0 + MIN, &why), 0);
	sla_clock_view(&eng, &direct, SLA_ARRIVE, T0 + H, &v);
	cr_assert_eq(v.state, SLA_CLOCK_STOPPED);
	cr_assert_eq(sla_step(&eng, &direct, SLA_STEP_DISPATCH, T0 + H, &why),
	    -EALREADY, "arrival stopped: too late to dispatch");
	sla_close(&eng, &direct);
}
