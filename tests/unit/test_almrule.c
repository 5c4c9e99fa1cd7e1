/*
 * test_almrule.c - alarm rules and deadband with a virtual clock: hysteresis
 * edges exactly at threshold and clear, delay-on not met then met, delay-off,
 * flapping under debounce, equals, bit_set, COMM_LOSS after N misses and
 * cleared by the first good poll, bad quality ignored, telemetry deadband.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "correlator/almrule.h"
#include "daemon/mem.h"

enum { P_TEMP, P_BATT, P_STATUS, P_MODE, NPOINTS };
enum { A_HIGH_TEMP, A_BATT_LOW, A_DOOR_OPEN, A_DG_FAIL, NALARMS };

#define MAXEV 256

static struct fleet *fl;
static struct almrule ar;
static struct almrule_dev *dev;
static struct alarm_event ev[MAXEV];
static size_t nev;
static struct almrule_sample smp[MAXEV];
static size_t nsmp;
static uint16_t code_high_temp, code_batt_low, code_door, code_dg;

static void
on_alarm(void *arg, const struct alarm_event *e)
{
	cr_assert_eq(arg, &ar);
	cr_assert_lt(nev, MAXEV);
	ev[nev++] = *e;
}

static void
on_sample(void *arg, const struct almrule_sample *s)
{
	cr_assert_lt(nsmp, MAXEV);
	smp[nsmp++] = *s;
}

static const struct almrule_sink_ops sink_ops = {
	.alarm = on_alarm, .sample = on_sample,
};
static const struct almrule_sink_ops alarm_only_ops = { .alarm = on_alarm };

static void
set_point(struct fleet_point *p, const char *name, double deadband)
{
	p->name = xstrdup(name);
	p->deadband = deadband;
}

static void
set_alarm(struct fleet_alarm *a, const char *code, uint32_t point,
    enum alarm_cond c, enum severity sev, double thr, double clr)
{
	a->code = xstrdup(code);
	a->code_id = fleet_code(fl, code);
	a->point = point;
	a->cond = c;
	a->severity = sev;
	a->threshold = thr;
	a->clear = clr;
}

static void
setup(void)
{
	struct fleet_profile *p;
	struct almrule_sink sink = { &sink_ops, &ar };
	struct almrule_config cfg = { 3, SEV_CRITICAL };
	uint32_t s, d, pr;

	nev = nsmp = 0;
	fl = fleet_new();
	fleet_add(fl, FLEET_SITE, "S0");
	s = fleet_add(fl, FLEET_SITE, "S1");
	fleet_add(fl, FLEET_DEVICE, "D0");
	d = fleet_add(fl, FLEET_DEVICE, "D1");
	pr = fleet_add(fl, FLEET_PROFILE, "psu");
	fl->devices[0].site = 0;
	fl->devices[0].profile = pr;
	fl->devices[d].site = s;
	fl->devices[d].profile = pr;
	p = &fl->profiles[pr];
	p->points = xcalloc(NPOINTS, sizeof(*p->points));
	p->npoints = NPOINTS;
	set_point(&p->points[P_TEMP], "temp", 0.5);
	set_point(&p->points[P_BATT], "batt_v", 0);
	set_point(&p->points[P_STATUS], "status", 0);
	set_point(&p->points[P_MODE], "mode", 0);
	p->alarms = xcalloc(NALARMS, sizeof(*p->alarms));
	p->nalarms = NALARMS;
	set_alarm(&p->alarms[A_HIGH_TEMP], "HIGH_TEMP", P_TEMP, AC_ABOVE,
	    SEV_MAJOR, 40, 38);
	set_alarm(&p->alarms[A_BATT_LOW], "BATT_LOW", P_BATT, AC_BELOW,
	    SEV_CRITICAL, 46, 48);
	p->alarms[A_BATT_LOW].delay_on_ms = 10000;
	p->alarms[A_BATT_LOW].delay_off_ms = 5000;
	set_alarm(&p->alarms[A_DOOR_OPEN], "DOOR_OPEN", P_STATUS, AC_BIT_SET,
	    SEV_MINOR, 0, 0);
	p->alarms[A_DOOR_OPEN].bit = 3;
	set_alarm(&p->alarms[A_DG_FAIL], "DG_FAIL", P_MODE, AC_EQUALS,
	    SEV_MAJOR, 2, 2);
	code_high_temp = p->alarms[A_HIGH_TEMP].code_id;
	code_batt_low = p->alarms[A_BATT_LOW].code_id;
	code_door = p->alarms[A_DOOR_OPEN].code_id;
	code_dg = p->alarms[A_DG_FAIL].code_id;
	almrule_init(&ar, fl, &cfg, &sink);
	dev = almrule_dev_new(&ar, d);
	cr_assert_not_null(dev);
}

static void
teardown(void)
{
	almrule_dev_free(dev);
	fleet_free(fl);
}

static void
feedq(uint32_t point, double v, enum fleet_quality q, int64_t now)
{
	cr_assert_eq(almrule_sample(&ar, dev, point, v, q, now), 0);
}

static void
feed(uint32_t point, double v, int64_t now)
{
	feedq(point, v, FLEET_Q_GOOD, now);
}

/* Feeds one sample, then asserts that nev_want alarm events were seen. */
static void
feedq_nev(uint32_t point, double v, enum fleet_quality q, int64_t now,
    size_t nev_want)
{
	feedq(point, v, q, now);
	cr_assert_eq(nev, nev_want);
}

static void
feed_nev(uint32_t point, double v, int64_t now, size_t nev_want)
{
	feedq_nev(point, v, FLEET_Q_GOOD, now, nev_want);
}

static void
expect_event(size_t i, uint16_t code, enum alarm_edge edge, double v,
    int64_t at)
{
	cr_assert_gt(nev, i, "event %zu missing (have %zu)", i, nev);
	cr_assert_eq(ev[i].code, code, "event %zu code", i);
	cr_assert_eq(ev[i].edge, edge, "event %zu edge", i);
	if (isnan(v))
		cr_assert(isnan(ev[i].value));
	else
		cr_assert_eq(ev[i].value, v, "event %zu value %g", i,
		    ev[i].value);
	cr_assert_eq(ev[i].at_ms, at, "event %zu at %lld", i,
	    (long long)ev[i].at_ms);
	cr_assert_eq(ev[i].device, 1);
	cr_assert_eq(ev[i].site, 1);
}

TestSuite(almrule, .init = setup, .fini = teardown);

Test(almrule, hysteresis_edges_above)
{
	int64_t t = 1700000000000;

	feed_nev(P_TEMP, 39.999, t, 0);
	/* exactly at threshold: raise */
	feed_nev(P_TEMP, 40.0, t += 1000, 1);
	expect_event(0, code_high_temp, ALARM_RAISE, 40.0, t);
	cr_assert_eq(ev[0].point, P_TEMP);
	cr_assert_eq(ev[0].severity, SEV_MAJOR);
	cr_assert(almrule_dev_active(dev, A_HIGH_TEMP));
	feed(P_TEMP, 45.0, t += 1000);		/* no second raise */
	feed(P_TEMP, 39.0, t += 1000);		/* inside the band: holds */
	feed_nev(P_TEMP, 38.0, t += 1000, 1);	/* exactly at clear: holds */
	feed_nev(P_TEMP, 37.99, t += 1000, 2);	/* below clear: clears */
	expect_event(1, code_high_temp, ALARM_CLEAR, 37.99, t);
	cr_assert_not(almrule_dev_active(dev, A_HIGH_TEMP));
	feed_nev(P_TEMP, 39.5, t += 1000, 2);	/* band from below: no raise */
	feed(P_TEMP, 40.0, t += 1000);
	expect_event(2, code_high_temp, ALARM_RAISE, 40.0, t);
}

Test(almrule, hysteresis_edges_below)
{
	int64_t t = 0;

	fl->profiles[0].alarms[A_BATT_LOW].delay_on_ms = 0;
	fl->profiles[0].alarms[A_BATT_LOW].delay_off_ms = 0;
	feed_nev(P_BATT, 46.01, t += 1000, 0);
	feed(P_BATT, 46.0, t += 1000);
	expect_event(0, code_batt_low, ALARM_RAISE, 46.0, t);
	feed_nev(P_BATT, 48.0, t += 1000, 1);	/* at clear: holds */
	feed(P_BATT, 48.01, t += 1000);
	expect_event(1, code_batt_low, ALARM_CLEAR, 48.01, t);
}

Test(almrule, clear_on_wrong_side_is_threshold)
{
	int64_t t = 0;

	/* a clear threshold above an "above" threshold would flap: ignored */
	fl->profiles[0].alarms[A_HIGH_TEMP].clear = 45;
	feed_nev(P_TEMP, 41, t += 1000, 1);
	feed_nev(P_TEMP, 40, t += 1000, 1);
	feed_nev(P_TEMP, 39.9, t += 1000, 2);
	expect_event(1, code_high_temp, ALARM_CLEAR, 39.9, t);
	/* and an unset (NaN) clear is the threshold */
	fl->profiles[0].alarms[A_HIGH_TEMP].clear = NAN;
	feed(P_TEMP, 40, t += 1000);
	feed_nev(P_TEMP, 39.9, t += 1000, 4);
}

Test(almrule, delay_on_not_met_then_met)
{
	int64_t t0 = 5000000;

	feed(P_BATT, 45, t0);			/* wait starts */
	feed(P_BATT, 45, t0 + 5000);
	feed(P_BATT, 47, t0 + 6000);		/* in band: not the condition */
	feed_nev(P_BATT, 45, t0 + 10000, 0);	/* would have met: restarted */
	feed_nev(P_BATT, 44, t0 + 19999, 0);	/* 9,999 ms since restart */
	feed_nev(P_BATT, 44, t0 + 20000, 1);	/* exactly the delay */
	expect_event(0, code_batt_low, ALARM_RAISE, 44, t0 + 20000);
	cr_assert_eq(ev[0].severity, SEV_CRITICAL);
}

Test(almrule, delay_off)
{
	int64_t t = 0;

	feed(P_BATT, 45, t);
	feed_nev(P_BATT, 45, t += 10000, 1);
	feed(P_BATT, 49, t += 1000);		/* clear wait starts */
	feed_nev(P_BATT, 49, t + 4999, 1);
	feed(P_BATT, 47.5, t + 4999 + 1);	/* back in band: restart */
	feed(P_BATT, 49, t += 6000);
	feed_nev(P_BATT, 49, t + 4999, 1);
	feed_nev(P_BATT, 50, t + 5000, 2);
	expect_event(1, code_batt_low, ALARM_CLEAR, 50, t + 5000);
}

Test(almrule, flapping_under_debounce)
{
	/* low every other second for a minute: never 10 s in a row */
	for (int64_t t = 0; t < 60000; t += 1000)
		feed(P_BATT, (t / 1000) % 2 ? 47 : 45, t);
	cr_assert_eq(nev, 0);
	/* and once it holds, it raises exactly once */
	for (int64_t t = 60000; t <= 80000; t += 1000)
		feed(P_BATT, 45, t);
	cr_assert_eq(nev, 1);
	expect_event(0, code_batt_low, ALARM_RAISE, 45, 70000);
}

Test(almrule, equals)
{
	feed(P_MODE, 1, 1000);
	feed_nev(P_MODE, 2.0000001, 2000, 0);
	feed(P_MODE, 2, 3000);
	expect_event(0, code_dg, ALARM_RAISE, 2, 3000);
	feed_nev(P_MODE, 2, 4000, 1);
	feed(P_MODE, 3, 5000);
	expect_event(1, code_dg, ALARM_CLEAR, 3, 5000);
}

Test(almrule, bit_set)
{
	feed_nev(P_STATUS, 0xFFF7, 1000, 0);	/* every bit but 3 */
	feed(P_STATUS, 0x0008, 2000);
	expect_event(0, code_door, ALARM_RAISE, 8, 2000);
	cr_assert_eq(ev[0].severity, SEV_MINOR);
	feed_nev(P_STATUS, 0x0009, 3000, 1);
	feed(P_STATUS, 0x0001, 4000);
	expect_event(1, code_door, ALARM_CLEAR, 1, 4000);
	/* a negative status word reads as two's complement: -8 has bit 3 */
	feed_nev(P_STATUS, -8, 5000, 3);
	/* bit 40 of a large value */
	fl->profiles[0].alarms[A_DOOR_OPEN].bit = 40;
	feed_nev(P_STATUS, 0, 6000, 4);
	feed_nev(P_STATUS, 1099511627776.0, 7000, 5);	/* 2^40 */
}

Test(almrule, comm_loss_after_n_and_first_good)
{
	int64_t t = 100;

	almrule_poll_failed(&ar, dev, t += 1000);
	almrule_poll_failed(&ar, dev, t += 1000);
	almrule_poll_ok(&ar, dev, t += 1000);	/* resets the count */
	almrule_poll_failed(&ar, dev, t += 1000);
	almrule_poll_failed(&ar, dev, t += 1000);
	cr_assert_eq(nev, 0);
	cr_assert_eq(almrule_dev_misses(dev), 2);
	almrule_poll_failed(&ar, dev, t += 1000);	/* third in a row */
	cr_assert_eq(nev, 1);
	expect_event(0, FLEET_CODE_COMM_LOSS, ALARM_RAISE, NAN, t);
	cr_assert_eq(ev[0].point, FLEET_NONE);
	cr_assert_eq(ev[0].severity, SEV_CRITICAL);
	cr_assert(almrule_dev_comm_lost(dev));
	almrule_poll_failed(&ar, dev, t += 1000);
	almrule_poll_failed(&ar, dev, t += 1000);
	cr_assert_eq(nev, 1);			/* raised once */
	almrule_poll_ok(&ar, dev, t += 1000);
	cr_assert_eq(nev, 2);
	expect_event(1, FLEET_CODE_COMM_LOSS, ALARM_CLEAR, NAN, t);
	almrule_poll_ok(&ar, dev, t += 1000);
	cr_assert_eq(nev, 2);
	cr_assert_not(almrule_dev_comm_lost(dev));
	cr_assert_eq(ar.stats.comm_loss_raised, 1);
	cr_assert_eq(ar.stats.polls_failed, 7);
}

Test(almrule, comm_loss_defaults)
{
	struct almrule a2;
	struct almrule_sink sink = { &alarm_only_ops, &ar };
	struct almrule_dev *d2;

	almrule_init(&a2, fl, NULL, &sink);
	cr_assert_eq(a2.cfg.comm_loss_misses, ALMRULE_COMM_LOSS_MISSES);
	cr_assert_eq(a2.cfg.comm_loss_severity, SEV_MAJOR);
	d2 = almrule_dev_new(&a2, 0);
	for (int i = 0; i < ALMRULE_COMM_LOSS_MISSES; i++)
		almrule_poll_failed(&a2, d2, i);
	cr_assert_eq(nev, 1);
	cr_assert_eq(ev[0].device, 0);
	cr_assert_eq(ev[0].site, 0);
	cr_assert_eq(ev[0].severity, SEV_MAJOR);
	almrule_dev_free(d2);
	cr_assert_null(almrule_dev_new(&a2, 2));
}

Test(almrule, bad_quality_ignored)
{
	int64_t t = 0;

	feed_nev(P_TEMP, 50, t += 1000, 1);
	feedq(P_TEMP, NAN, FLEET_Q_BAD_NAN, t += 1000);
	feedq(P_TEMP, INFINITY, FLEET_Q_BAD_INF, t += 1000);
	/* would clear */
	feedq_nev(P_TEMP, -300, FLEET_Q_BAD_RANGE, t += 1000, 1);
	cr_assert(almrule_dev_active(dev, A_HIGH_TEMP));
	cr_assert_eq(ar.stats.bad_samples, 3);
	cr_assert_eq(almrule_dev_bad(dev), 3);
	/* a bad value would raise: it does not */
	feedq_nev(P_MODE, 2, FLEET_Q_BAD_RANGE, t += 1000, 1);
	/* and it neither restarts nor breaks a debounce wait */
	feed(P_BATT, 45, 100000);
	feedq(P_BATT, 99, FLEET_Q_BAD_RANGE, 105000);
	feed_nev(P_BATT, 45, 110000, 2);
	expect_event(1, code_batt_low, ALARM_RAISE, 45, 110000);
	cr_assert_eq(ar.stats.raised, 2);
	cr_assert_eq(ar.stats.cleared, 0);
}

Test(almrule, deadband)
{
	int64_t t = 0;

	feed(P_TEMP, 20.0, t += 1000);		/* first sample */
	cr_assert_eq(nsmp, 1);
	cr_assert_eq(smp[0].value, 20.0);
	cr_assert_eq(smp[0].device, 1);
	cr_assert_eq(smp[0].point, P_TEMP);
	cr_assert_eq(smp[0].at_ms, t);
	cr_assert_eq(smp[0].quality, FLEET_Q_GOOD);
	feed(P_TEMP, 20.2, t += 1000);
	feed(P_TEMP, 20.4, t += 1000);
	cr_assert_eq(nsmp, 1);
	feed(P_TEMP, 20.5, t += 1000);		/* exactly the deadband */
	cr_assert_eq(nsmp, 2);
	feed(P_TEMP, 20.1, t += 1000);		/* creeps against the last */
	feed(P_TEMP, 20.0, t += 1000);		/* published, not the last read */
	cr_assert_eq(nsmp, 3);
	cr_assert_eq(smp[2].value, 20.0);
	feedq(P_TEMP, NAN, FLEET_Q_BAD_NAN, t += 1000);	/* quality change */
	cr_assert_eq(nsmp, 4);
	cr_assert_eq(smp[3].quality, FLEET_Q_BAD_NAN);
	feedq(P_TEMP, NAN, FLEET_Q_BAD_NAN, t += 1000);	/* still bad */
	cr_assert_eq(nsmp, 4);
	feedq(P_TEMP, 1e9, FLEET_Q_BAD_RANGE, t += 1000);	/* another reason */
	cr_assert_eq(nsmp, 5);
	feed(P_TEMP, 20.0, t += 1000);		/* good again, same value */
	cr_assert_eq(nsmp, 6);
	cr_assert_eq(smp[5].quality, FLEET_Q_GOOD);
	cr_assert_eq(ar.stats.published, 6);
	cr_assert_eq(ar.stats.suppressed, 4);
	/* deadband 0: every sample */
	feed(P_MODE, 1, t += 1000);
	feed(P_MODE, 1, t += 1000);
	cr_assert_eq(nsmp, 8);
}

Test(almrule, whole_poll_and_bounds)
{
	static const double v[NPOINTS] = { 41, 50, 8, 0 };

	almrule_poll_failed(&ar, dev, 1);
	almrule_poll_failed(&ar, dev, 2);
	almrule_poll_failed(&ar, dev, 3);
	/* a whole good poll, as daemon/poller hands it over */
	almrule_poll_ok(&ar, dev, 4);
	for (uint32_t i = 0; i < NPOINTS; i++)
		cr_assert_eq(almrule_sample(&ar, dev, i, v[i], FLEET_Q_GOOD, 4),
		    0);
	/* COMM_LOSS raise, its clear first, then HIGH_TEMP and DOOR_OPEN */
	cr_assert_eq(nev, 4);
	expect_event(1, FLEET_CODE_COMM_LOSS, ALARM_CLEAR, NAN, 4);
	expect_event(2, code_high_temp, ALARM_RAISE, 41, 4);
	expect_event(3, code_door, ALARM_RAISE, 8, 4);
	cr_assert_eq(nsmp, NPOINTS);
	cr_assert_eq(almrule_sample(&ar, dev, NPOINTS, 1, FLEET_Q_GOOD, 5),
	    -EINVAL);
	cr_assert_eq(almrule_dev_size(&fl->profiles[0]),
	    32 + 9 * (NPOINTS + NALARMS));
}

Test(almrule, two_rules_one_point_in_profile_order)
{
	struct fleet_alarm *dis = &fl->profiles[0].alarms[A_DG_FAIL];

	/* turn the last rule into a discharge warning on the battery */
	dis->point = P_BATT;
	dis->cond = AC_BELOW;
	dis->threshold = 50;
	dis->clear = 51;
	feed(P_BATT, 45, 0);
	cr_assert_eq(nev, 1);			/* discharge: no delay */
	cr_assert_eq(ev[0].code, code_dg);
	feed_nev(P_BATT, 45, 10000, 2);		/* low: after its 10 s */
	expect_event(1, code_batt_low, ALARM_RAISE, 45, 10000);
	feed(P_BATT, 52, 11000);
	feed(P_BATT, 52, 16000);
	/* discharge clears at once, low after its 5 s delay-off */
	cr_assert_eq(nev, 4);
	expect_event(2, code_dg, ALARM_CLEAR, 52, 11000);
	expect_event(3, code_batt_low, ALARM_CLEAR, 52, 16000);
}
