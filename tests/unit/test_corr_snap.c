/*
 * test_corr_snap.c - engine snapshots (corr_engine_save/load), the dump of
 * live incidents and the late catch-up after a restart.
 *
 * The key property is differential: engine A runs a long deterministic
 * stream (raises, clears, repeats, flapping, roots and children, area
 * storms, windows added and removed, customers' complaints, every operator
 * action, advances over SLA warnings, breaches, escalations and chronic
 * recurrences); for many
 * cut points k, B runs the stream's first k inputs and saves, C is a fresh
 * engine that loads B's bytes and runs the rest.  C's events must be A's
 * events after the cut byte for byte (incjson text), and C's final
 * snapshot and counters must be A's.  The same holds for a fleet built in
 * the opposite order; a fleet without one site drops that site's
 * incidents and counts them.  Hostile bytes (every truncation, flipped
 * bytes, wrong magic or version) are refused with -EINVAL and a reason.
 * The changelog's records (a head and one per live incident, loaded in
 * any order) rebuild the same engine byte for byte.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correlator/corr.h"
#include "correlator/incjson.h"
#include "correlator/sla.h"
#include "correlator/u64map.h"
#include "daemon/mem.h"
#include "tests/support/snapfix.h"

#define MIN	((int64_t)60 * 1000)
#define HOUR	(60 * MIN)
#define NOPS	1500

/* Every event of one engine, as incjson text. */
struct evlog {
	struct fleet *f;
	char	**v;
	size_t	 n, cap;
	uint64_t maxnum;	/* highest incident number seen */
};

static void
evlog_event(void *arg, const struct corr_event *ev)
{
	struct evlog *l = arg;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n++] = incjson_encode(l->f, ev);
	if (ev->inc->num > l->maxnum)
		l->maxnum = ev->inc->num;
}

static void
evlog_free(struct evlog *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	xfree(l->v);
	memset(l, 0, sizeof(*l));
}

static const struct corr_sink_ops evlog_ops = { .event = evlog_event };

static struct corr_config CC;
static struct sla_config SC;
#define NOPS_MAX	(NOPS + 256)	/* and the complaints among them */
static struct snapfix_op OPS[NOPS_MAX];
static size_t NOPS_USED;
static size_t EVAT[NOPS_MAX + 1];	/* A's event count before op k */
static struct evlog ALOG;
static struct fleet *F;		/* A's fleet */
static struct corr_engine *A;

static struct corr_engine *
engine(struct fleet *f, struct evlog *l)
{
	struct corr_sink sink = { &evlog_ops, l };
	char err[160];
	struct corr_engine *e;

	cr_assert_eq(corr_config_check(&CC, err, sizeof(err)), 0, "%s", err);
	memset(l, 0, sizeof(*l));
	l->f = f;
	e = corr_engine_new(f, &CC, 0, &sink);
	cr_assert_not_null(e);
	return e;
}

/* ---- the stream ---- */

static uint64_t RNG, RNG2;

static uint32_t
rnd_of(uint64_t *x, uint32_t n)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return (uint32_t)(*x % n);
}

static uint32_t
rnd(uint32_t n)
{
	return rnd_of(&RNG, n);
}

/*
 * The complaints' own generator: they are inserted between the other
 * inputs, whose stream stays what it was before complaints existed.
 */
static uint32_t
rnd2(uint32_t n)
{
	return rnd_of(&RNG2, n);
}


/* Raised alarms the stream has not cleared, to clear one of them. */
static struct { int site; const char *kind, *code; } UP[4096];
static size_t NUP;

static const char *const CODES_PWR[] = { "MAINS_FAIL", "BATT_LOW",
    "HIGH_TEMP", "RECT_FAIL", "DOOR_OPEN" };

static struct snapfix_op *
op_new(enum snapfix_kind kind, int64_t at)
{
	struct snapfix_op *op;

	cr_assert_lt(NOPS_USED, sizeof(OPS) / sizeof(OPS[0]));
	EVAT[NOPS_USED] = ALOG.n;
	op = &OPS[NOPS_USED];
	memset(op, 0, sizeof(*op));
	op->kind = (uint8_t)kind;
	op->at = at;
	return op;
}

/* Feeds the op just built to A and keeps it. */
static void
op_run(void)
{
	snapfix_apply(A, F, &OPS[NOPS_USED]);
	NOPS_USED++;
	EVAT[NOPS_USED] = ALOG.n;
}

/*
 * A customer's complaint at t; half of them handled at once to the end
 * (ack, note, resolve, close), the rest left to their clocks.
 */
static void
op_complaint(int64_t t)
{
	static const uint8_t loop[] = { CORR_ACT_ACK, CORR_ACT_NOTE,
	    CORR_ACT_RESOLVE, CORR_ACT_CLOSE };
	int site = (int)rnd2(SNAPFIX_NSITES);
	struct snapfix_op *op = op_new(SNAPFIX_COMPLAINT, t);
	uint64_t num = ALOG.maxnum;

	snprintf(op->msite, sizeof(op->msite), "S%02d", site);
	/* ctcc is a tenant only where site % 4 == 0: else refused */
	snprintf(op->cust, sizeof(op->cust), "%s",
	    rnd2(3) == 0 ? "ctcc" : "cmcc");
	op->note = "no signal since the morning";
	op->actor = rnd2(2) ? "carol" : "dave";
	op->sev = (uint8_t)rnd2(SEV__COUNT);
	op_run();
	if (ALOG.maxnum == num || rnd2(2) != 0)
		return;
	for (size_t i = 0; i < sizeof(loop); i++) {
		op = op_new(SNAPFIX_ACTION, t);
		op->act = loop[i];
		op->num = ALOG.maxnum;
		op->actor = "erin";
		op->note = loop[i] == CORR_ACT_NOTE ?
		    "called the customer back" : NULL;
		op_run();
	}
}

static void
op_alarm(int site, const char *kind, const char *code, int edge, int64_t at)
{
	struct snapfix_op *op = op_new(SNAPFIX_ALARM, at);

	snprintf(op->dev, sizeof(op->dev), "S%02d-%s", site, kind);
	snprintf(op->code, sizeof(op->code), "%s", code);
	op->edge = (uint8_t)edge;
	if (edge == ALARM_RAISE && NUP < sizeof(UP) / sizeof(UP[0])) {
		UP[NUP].site = site;
		UP[NUP].kind = kind;
		UP[NUP++].code = code;
	}
	op->sev = (uint8_t)rnd(SEV__COUNT);
	op_run();
}


static void
op_random_clear(int64_t at)
{
	size_t i;

	if (NUP == 0)
		return;
	i = rnd((uint32_t)NUP);
	op_alarm(UP[i].site, UP[i].kind, UP[i].code, ALARM_CLEAR, at);
	UP[i] = UP[--NUP];
}

static void
op_random_alarm(int edge, int64_t at)
{
	int site = (int)rnd(SNAPFIX_NSITES);

	if (edge == ALARM_CLEAR && rnd(8) != 0) {
		op_random_clear(at);
		return;
	}

	switch (rnd(4)) {
	case 0:
		op_alarm(site, "fsu", "COMM_LOSS", edge, at);
		break;
	case 1:
		op_alarm(site, "rru", "COMM_LOSS", edge, at);
		break;
	default:
		op_alarm(site, "pwr", CODES_PWR[rnd(5)], edge, at);
		break;
	}
}

/* An operator action on one of the last incidents A opened. */
static void
op_random_action(const uint8_t *acts, size_t nacts, int64_t t)
{
	struct snapfix_op *op = op_new(SNAPFIX_ACTION, t);

	op->act = acts[rnd((uint32_t)nacts)];
	op->num = ALOG.maxnum > 0 ? ALOG.maxnum -
	    rnd((uint32_t)(ALOG.maxnum < 12 ? ALOG.maxnum : 12)) : 1;
	op->actor = rnd(2) ? "alice" : "bob";
	op->note = op->act == CORR_ACT_NOTE || op->act == CORR_ACT_PAUSE ?
	    "waiting for parts" : NULL;
	op_run();
}

/*
 * Generates the stream while A runs it: actions pick incidents A has
 * opened.  Fixed seed: the same stream every run.
 */
static void
stream_build(void)
{
	static const uint8_t acts[] = { CORR_ACT_ACK, CORR_ACT_ACK,
	    CORR_ACT_DISPATCH, CORR_ACT_ON_SITE, CORR_ACT_RESOLVE,
	    CORR_ACT_RESOLVE, CORR_ACT_CLOSE, CORR_ACT_NOTE, CORR_ACT_PAUSE,
	    CORR_ACT_RESUME };
	int64_t t = SNAPFIX_T0;
	uint32_t mid = 0;
	size_t ncompl = 0;	/* ops of complaints */

	RNG = 0x9e3779b97f4a7c15ull;
	RNG2 = 0x2545f4914f6cdd1dull;
	NOPS_USED = 0;
	NUP = 0;
	/* the main stream's op count decides its length, as before */
	while (NOPS_USED - ncompl < NOPS) {
		uint32_t r = rnd(100);
		struct snapfix_op *op;

		t += rnd(4) == 0 ? 0 : (int64_t)rnd(5 * 60) * 1000;
		if (r < 30) {
			op_random_alarm(ALARM_RAISE, t);
		} else if (r < 52) {
			op_random_alarm(ALARM_CLEAR, t);
		} else if (r < 56) {		/* flapping */
			int site = (int)rnd(SNAPFIX_NSITES);
			const char *code = CODES_PWR[rnd(5)];

			for (int i = 0; i < 4; i++) {
				op_alarm(site, "pwr", code, ALARM_RAISE, t);
				t += (1 + rnd(3)) * MIN;
				op_alarm(site, "pwr", code, ALARM_CLEAR, t);
				t += (1 + rnd(3)) * MIN;
			}
		} else if (r < 57) {		/* root, children, late root */
			int site = (int)rnd(SNAPFIX_NSITES), early = rnd(3) == 0;

			if (early)
				op_alarm(site, "pwr", "BATT_LOW", ALARM_RAISE, t);
			t += rnd(120) * 1000;
			op_alarm(site, "pwr", "MAINS_FAIL", ALARM_RAISE, t);
			t += rnd(600) * 1000;
			op_alarm(site, "pwr", CODES_PWR[1 + rnd(3)], ALARM_RAISE, t);
			if (rnd(2)) {
				op_alarm(site, "fsu", "COMM_LOSS", ALARM_RAISE, t);
				t += rnd(300) * 1000;
				op_alarm(site, "rru", "COMM_LOSS", ALARM_RAISE, t);
			}
		} else if (r < 59) {		/* area storm */
			int area = (int)rnd(3);

			for (int i = 0; i < 6; i++) {
				op_alarm(area + 3 * i, "pwr", "MAINS_FAIL",
				    ALARM_RAISE, t);
				t += rnd(60) * 1000;
			}
		} else if (r < 62) {		/* window */
			op = op_new(SNAPFIX_MAINT_ADD, t - HOUR + rnd(3) * HOUR);
			op->maint = ++mid;
			op->end = op->at + (1 + rnd(4)) * HOUR;
			if (rnd(3) == 0)
				snprintf(op->marea, sizeof(op->marea), "%s",
				    rnd(2) ? "north" : "east");
			else
				snprintf(op->msite, sizeof(op->msite), "S%02u",
				    rnd(SNAPFIX_NSITES));
			op_run();
		} else if (r < 64) {
			op = op_new(SNAPFIX_MAINT_DEL, t);
			op->maint = 1 + rnd(mid + 1);
			op_run();
		} else if (r < 86) {		/* operator */
			op_random_action(acts, sizeof(acts), t);
		} else if (r < 96) {
			t += rnd(3 * 60) * MIN;
			op_new(SNAPFIX_ADVANCE, t);
			op_run();
		} else {
			t += (6 + rnd(24)) * HOUR;
			op_new(SNAPFIX_ADVANCE, t);
			op_run();
		}
		if (rnd2(40) == 0) {
			size_t before = NOPS_USED;

			op_complaint(t);
			ncompl += NOPS_USED - before;
		}
	}
}

static void
setup(void)
{
	snapfix_config(&CC, &SC);
	F = snapfix_fleet(0);
	A = engine(F, &ALOG);
	stream_build();
}

static void
teardown(void)
{
	corr_engine_free(A);
	evlog_free(&ALOG);
	fleet_free(F);
	sla_config_fini(&SC);
}

TestSuite(corr_snap, .init = setup, .fini = teardown, .timeout = 300);

/* ---- helpers ---- */

static void
run(struct corr_engine *e, struct fleet *f, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		snapfix_apply(e, f, &OPS[i]);
}

/* The snapshot of an engine that ran the first k inputs over f. */
static char *
snap_at(size_t k, struct fleet *f, size_t *len)
{
	struct evlog l;
	struct corr_engine *b = engine(f, &l);
	char *p;

	run(b, f, 0, k);
	cr_assert_eq(corr_engine_save(b, &p, len), 0);
	corr_engine_free(b);
	evlog_free(&l);
	return p;
}

static struct corr_engine *
loaded(struct fleet *f, struct evlog *l, const char *p, size_t n)
{
	struct corr_engine *c = engine(f, l);
	char err[160] = "";

	cr_assert_eq(corr_engine_load(c, p, n, err, sizeof(err)), 0, "%s", err);
	return c;
}

static void
assert_same_bytes(const char *p, size_t n, const char *q, size_t m,
    const char *what)
{
	char why[160];

	cr_assert_null(snapfix_bytes_differ(what, p, n, q, m, why,
	    sizeof(why)), "%s", why);
}

/* C, restored at cut k over f with its events going to *lc, must continue
 * exactly as A did; frees C and *lc. */
static void
continues_as_a(struct corr_engine *c, struct evlog *lc, size_t k,
    struct fleet *f)
{
	struct corr_stats sa, sc;
	char *q, *pa;
	size_t m, na;

	run(c, f, k, NOPS_USED);	/* its events go to *lc */
	cr_assert_eq(lc->n, ALOG.n - EVAT[k], "cut %zu: %zu events, A had %zu",
	    k, lc->n, ALOG.n - EVAT[k]);
	for (size_t i = 0; i < lc->n; i++)
		cr_assert_str_eq(lc->v[i], ALOG.v[EVAT[k] + i],
		    "cut %zu, event %zu after it", k, i);
	cr_assert_eq(corr_engine_save(c, &q, &m), 0);
	cr_assert_eq(corr_engine_save(A, &pa, &na), 0);
	assert_same_bytes(pa, na, q, m, "save(C) vs save(A) at the end");
	corr_engine_stats(A, &sa);
	corr_engine_stats(c, &sc);
	cr_assert_eq(memcmp(&sa, &sc, sizeof(sa)), 0, "cut %zu: stats differ", k);
	cr_assert_eq(corr_engine_now(c), corr_engine_now(A));
	xfree(q);
	xfree(pa);
	corr_engine_free(c);
	evlog_free(lc);
}

/* C resumed at cut k over f must continue exactly as A did. */
static void
check_cut(size_t k, struct fleet *f, int compare_snap)
{
	struct evlog cl;
	struct corr_engine *c;
	char *p, *q;
	size_t n, m;

	p = snap_at(k, F, &n);
	c = loaded(f, &cl, p, n);
	if (compare_snap) {
		cr_assert_eq(corr_engine_save(c, &q, &m), 0);
		assert_same_bytes(p, n, q, m, "save(load(s)) at the cut");
		xfree(q);
	}
	continues_as_a(c, &cl, k, f);
	xfree(p);
}

/* ---- tests ---- */

Test(corr_snap, stream_covers_the_rules)
{
	struct corr_stats st;

	corr_engine_stats(A, &st);
	cr_log_info("stream: %zu inputs, %zu events, %lu opened, %lu explained, "
	    "%lu reparented, %lu breaches", NOPS_USED, ALOG.n,
	    (unsigned long)st.opened, (unsigned long)st.explained,
	    (unsigned long)st.reparented, (unsigned long)st.sla_breaches);
	cr_assert_gt(st.sla_warnings, 20);
	cr_assert_gt(st.sla_breaches, 10);
	cr_assert_gt(st.escalations, 10);
	cr_assert_gt(st.area_opened, 1);
	cr_assert_gt(st.explained, 5);
	cr_assert_gt(st.reparented, 0);
	cr_assert_gt(st.reraised, 20);
	cr_assert_gt(st.repeats, 5);
	cr_assert_gt(st.rejected, 10);
	cr_assert_gt(st.live_incidents, 5);
	{
		int chronic = 0, flapping = 0, unplanned = 0, paused = 0;
		int complaint = 0, complaint_breach = 0, complaint_closed = 0;

		for (size_t i = 0; i < ALOG.n; i++) {
			int c = strstr(ALOG.v[i], "\"kind\":\"complaint\"") != NULL;

			chronic |= strstr(ALOG.v[i], "\"chronic\"") != NULL;
			flapping |= strstr(ALOG.v[i], "\"flapping\"") != NULL;
			unplanned |= strstr(ALOG.v[i], "\"unplanned\"") != NULL;
			paused |= strstr(ALOG.v[i], "\"paused\"") != NULL;
			complaint += c;
			complaint_breach |= c && strstr(ALOG.v[i],
			    "\"event\":\"sla_breached\"") != NULL;
			complaint_closed |= c && strstr(ALOG.v[i],
			    "\"event\":\"closed\"") != NULL;
		}
		cr_assert(chronic && flapping && unplanned && paused,
		    "chronic %d flapping %d unplanned %d paused %d", chronic,
		    flapping, unplanned, paused);
		cr_log_info("complaint events %d", complaint);
		cr_assert(complaint > 20 && complaint_breach && complaint_closed,
		    "complaint events %d, breach %d, closed %d", complaint,
		    complaint_breach, complaint_closed);
	}
}

Test(corr_snap, resumed_engine_matches_at_every_cut)
{
	for (size_t k = 0; k <= NOPS_USED; k += 47)
		check_cut(k, F, 1);
	check_cut(NOPS_USED, F, 1);
}

Test(corr_snap, reordered_fleet_behaves_the_same)
{
	struct fleet *r = snapfix_fleet(SNAPFIX_REVERSED);

	cr_assert_neq(fleet_find(r, FLEET_SITE, "S00"),
	    fleet_find(F, FLEET_SITE, "S00"));
	for (size_t k = 31; k <= NOPS_USED; k += 211)
		check_cut(k, r, 1);
	fleet_free(r);
}

struct s05 {
	struct fleet *f;
	uint64_t incidents, alarms, others;
};

static void
count_s05(void *arg, const struct corr_event *ev)
{
	struct s05 *c = arg;

	if (ev->inc->kind != CORR_KIND_AREA &&
	    strcmp(c->f->sites[ev->inc->site].id, "S05") == 0) {
		c->incidents++;
		c->alarms += ev->inc->nalarms;
	} else {
		c->others++;
	}
}

Test(corr_snap, fleet_missing_a_site_drops_its_incidents)
{
	struct fleet *g = snapfix_fleet(SNAPFIX_NO_S05);
	struct s05 before = { F, 0, 0, 0 }, after = { g, 0, 0, 0 };
	struct corr_stats st;
	struct evlog l, bl;
	struct corr_engine *b = NULL, *c;
	size_t k = 0, n;
	char *p;

	/* a cut where S05 holds incidents */
	for (k = NOPS_USED / 2; k < NOPS_USED; k += 7) {
		b = engine(F, &bl);
		run(b, F, 0, k);
		memset(&before, 0, sizeof(before));
		before.f = F;
		corr_engine_dump(b, corr_engine_now(b), count_s05, &before);
		if (before.incidents > 0)
			break;
		corr_engine_free(b);
		evlog_free(&bl);
		b = NULL;
	}
	cr_assert_not_null(b);
	cr_assert_eq(corr_engine_save(b, &p, &n), 0);
	c = loaded(g, &l, p, n);
	corr_engine_stats(c, &st);
	cr_assert_eq(st.snap_dropped_incidents, before.incidents);
	cr_assert_eq(st.snap_dropped_alarms, before.alarms);
	corr_engine_dump(c, corr_engine_now(c), count_s05, &after);
	cr_assert_eq(after.incidents, 0);
	cr_assert_eq(after.others, before.others);
	cr_assert_eq(st.live_incidents, before.others);
	/* it runs on, S05's inputs skipped */
	run(c, g, k, NOPS_USED);
	xfree(p);
	corr_engine_free(b);
	corr_engine_free(c);
	evlog_free(&l);
	evlog_free(&bl);
	fleet_free(g);
}

/* A snapshot of moderate size for the byte-level tests. */
static char *
small_snap(size_t *n)
{
	return snap_at(30, F, n);
}

static int
load_bytes(const char *p, size_t n, char *err, size_t errlen, int exercise)
{
	struct evlog l;
	struct corr_engine *c = engine(F, &l);
	int rc = corr_engine_load(c, p, n, err, errlen);

	if (rc == 0 && exercise) {
		char *q;
		size_t m;

		run(c, F, 30, 50);
		corr_engine_catch_up(c, corr_engine_now(c) + HOUR);
		corr_engine_save(c, &q, &m);
		xfree(q);
	}
	corr_engine_free(c);
	evlog_free(&l);
	return rc;
}

Test(corr_snap, every_truncation_is_refused)
{
	size_t n;
	char *p = small_snap(&n), err[160];

	cr_assert_gt(n, 1000);
	cr_log_info("truncations of a %zu-byte snapshot", n);
	for (size_t len = 0; len < n; len++) {
		char *cut = xmalloc(len ? len : 1);

		memcpy(cut, p, len);
		err[0] = '\0';
		cr_assert_eq(load_bytes(cut, len, err, sizeof(err), 0), -EINVAL,
		    "truncated to %zu of %zu loaded", len, n);
		cr_assert_neq(err[0], '\0');
		cr_assert_null(strchr(err, '\n'));
		xfree(cut);
	}
	cr_assert_eq(load_bytes(p, n, err, sizeof(err), 0), 0, "%s", err);
	xfree(p);
}

Test(corr_snap, flipped_bytes_never_crash)
{
	size_t n, ok = 0;
	char *p = small_snap(&n), err[160];

	for (size_t i = 0; i < n; i++) {
		static const unsigned char flips[] = { 0xff, 0x01 };

		for (size_t f = 0; f < sizeof(flips); f++) {
			p[i] ^= (char)flips[f];
			if (load_bytes(p, n, err, sizeof(err), 1) == 0)
				ok++;
			else
				cr_assert_neq(err[0], '\0');
			p[i] ^= (char)flips[f];
		}
	}
	/* some flips land in data the loader cannot check (times, counters) */
	cr_assert_gt(ok, 0);
	xfree(p);
}

Test(corr_snap, wrong_magic_or_version_is_refused)
{
	size_t n;
	char *p = small_snap(&n), err[160];

	p[0] = 'X';
	cr_assert_eq(load_bytes(p, n, err, sizeof(err), 0), -EINVAL);
	cr_assert(strstr(err, "magic") != NULL, "%s", err);
	p[0] = 'T';
	p[8] = 4;	/* version, little-endian u32 after the 8-byte magic */
	cr_assert_eq(load_bytes(p, n, err, sizeof(err), 0), -EINVAL);
	cr_assert(strstr(err, "version") != NULL, "%s", err);
	p[8] = 0;
	cr_assert_eq(load_bytes(p, n, err, sizeof(err), 0), -EINVAL);
	cr_assert(strstr(err, "version") != NULL, "%s", err);
	p[8] = 3;
	cr_assert_eq(load_bytes(p, n, err, sizeof(err), 0), 0, "%s", err);
	/* into an engine that has run: refused */
	{
		char *q;
		size_t m;

		q = snap_at(10, F, &m);
		cr_assert_eq(corr_engine_load(A, q, m, err, sizeof(err)),
		    -EINVAL);
		cr_assert(strstr(err, "fresh") != NULL, "%s", err);
		xfree(q);
	}
	xfree(p);
}

/* ---- dump ---- */

struct dumped {
	size_t	 n;
	uint64_t last;
	int64_t	 at;
	char	*json[1024];
	struct fleet *f;
};

/* ---- the changelog's records (docs/scaleout.md) ---- */

static void
parts_of(const struct corr_engine *b, struct snapfix_parts *pt)
{
	cr_assert_eq(snapfix_parts_of(b, pt), 0);
}

/* Two engines' records (snapfix_parts_of) are the same bytes. */
static void
assert_same_parts(const struct snapfix_parts *x, const struct snapfix_parts *y,
    const char *what)
{
	char why[160];

	cr_assert_null(snapfix_parts_differ(x, y, why, sizeof(why)), "%s: %s",
	    what, why);
}

/* The incident id of an incjson event, as a string to compare ("..."). */
static const char *
ev_id(const char *json, size_t *len)
{
	const char *p = strstr(json, "\"id\":\"");

	cr_assert_not_null(p, "%s", json);
	p += 6;
	*len = (size_t)(strchr(p, '"') - p);
	return p;
}

/* v[from..to) ordered by incident, each incident's events in their order. */
static size_t *
by_incident(char *const *v, size_t from, size_t to)
{
	size_t n = to - from, *ix = xcalloc(n ? n : 1, sizeof(*ix));

	for (size_t i = 0; i < n; i++)
		ix[i] = from + i;
	for (size_t i = 1; i < n; i++) {	/* stable insertion sort */
		size_t x = ix[i], j = i, lx, ly;
		const char *a = ev_id(v[x], &lx);

		while (j > 0) {
			const char *b = ev_id(v[ix[j - 1]], &ly);
			int c = memcmp(a, b, lx < ly ? lx : ly);

			if (c > 0 || (c == 0 && lx >= ly))
				break;
			ix[j] = ix[j - 1];
			j--;
		}
		ix[j] = x;
	}
	return ix;
}

/*
 * C, rebuilt from the records at cut k, goes on as A did, incident by
 * incident: each incident's events after the cut are A's, byte for byte
 * and in order; both end with the same records and counters.  Marks due
 * at one instant on different incidents may come out in another order
 * (a record does not hold its timer's place in the heap).  Frees C, *lc.
 */
static void
continues_by_incident(struct corr_engine *c, struct evlog *lc, size_t k)
{
	struct snapfix_parts pa, pc;
	struct corr_stats sa, sc;
	size_t *ia, *ic, na = ALOG.n - EVAT[k];

	run(c, F, k, NOPS_USED);
	cr_assert_eq(lc->n, na, "cut %zu: %zu events, A had %zu", k, lc->n, na);
	ia = by_incident(ALOG.v, EVAT[k], ALOG.n);
	ic = by_incident(lc->v, 0, lc->n);
	for (size_t i = 0; i < na; i++)
		cr_assert_str_eq(lc->v[ic[i]], ALOG.v[ia[i]], "cut %zu", k);
	xfree(ia);
	xfree(ic);
	parts_of(A, &pa);
	parts_of(c, &pc);
	assert_same_parts(&pa, &pc, "records of A and C at the end");
	corr_engine_stats(A, &sa);
	corr_engine_stats(c, &sc);
	cr_assert_eq(memcmp(&sa, &sc, sizeof(sa)), 0, "cut %zu: stats differ", k);
	snapfix_parts_free(&pa);
	snapfix_parts_free(&pc);
	corr_engine_free(c);
	evlog_free(lc);
}

/*
 * At many cuts: the head and every live incident's record, loaded in
 * reverse order, rebuild an engine whose records are the same bytes, and
 * it goes on as A did, incident by incident.  An incident's record holds
 * neither the engine's time and counters (the head's) nor its timers'
 * places in the heap: it changes only when the incident does, which
 * daemon/cstage's changelog relies on (changed_covers_every_record_that_
 * changed).
 */
Test(corr_snap, changelog_records_rebuild_the_engine)
{
	size_t most = 0;

	for (size_t k = 0; k <= NOPS_USED; k += 97) {
		struct evlog bl, cl;
		struct corr_engine *b = engine(F, &bl), *c;
		struct snapfix_parts pt, again;
		char err[160] = "";

		run(b, F, 0, k);
		parts_of(b, &pt);
		if (pt.n > most)
			most = pt.n;
		c = engine(F, &cl);
		cr_assert_eq(snapfix_parts_load(c, &pt, err, sizeof(err)), 0,
		    "cut %zu: %s", k, err);
		parts_of(c, &again);
		assert_same_parts(&pt, &again, "parts(load_parts) vs parts");
		cr_assert_eq(corr_engine_now(c), corr_engine_now(b));
		if (k % (97 * 4) == 0)
			continues_by_incident(c, &cl, k);
		else {
			corr_engine_free(c);
			evlog_free(&cl);
		}
		snapfix_parts_free(&again);
		snapfix_parts_free(&pt);
		corr_engine_free(b);
		evlog_free(&bl);
	}
	cr_assert_gt(most, 5, "some cut had live incidents (%zu)", most);
}

/* A record of one incident twice, a whole snapshot as the head, a head
 * as an incident record, an unknown id, and every truncation of an
 * incident record: refused with a reason, never a crash. */
/* The records refused by a fresh engine, with a reason that holds want. */
static void
parts_refused(const struct corr_part *head, const struct corr_part *incs,
    size_t n, const char *want)
{
	struct evlog cl;
	struct corr_engine *c = engine(F, &cl);
	char err[160] = "";

	cr_assert_eq(corr_engine_load_parts(c, head, incs, n, err, sizeof(err)),
	    -EINVAL, "loaded (%s)", want);
	cr_assert(err[0] != '\0' && strstr(err, want) != NULL, "%s", err);
	corr_engine_free(c);
	evlog_free(&cl);
}

Test(corr_snap, changelog_records_bad_ones_are_refused)
{
	struct evlog bl;
	struct corr_engine *b = engine(F, &bl);
	struct snapfix_parts pt;
	struct corr_part two[2], head, whole;
	char *wp, *p;
	size_t wn, len;

	run(b, F, 0, 300);
	parts_of(b, &pt);
	cr_assert_geq(pt.n, 2);
	cr_assert_eq(corr_engine_save_incident(b, "INC-0-999999", &p, &len),
	    -ENOENT);
	cr_assert_eq(corr_engine_save(b, &wp, &wn), 0);
	head = (struct corr_part){ pt.head, pt.nhead };
	whole = (struct corr_part){ wp, wn };
	two[0] = two[1] = pt.inc[0];
	parts_refused(&head, two, 2, "incident record");
	parts_refused(&whole, NULL, 0, "a head with incidents");
	parts_refused(&head, &head, 1, "incident record 0");
	for (len = 0; len < pt.inc[0].n; len++) {
		struct corr_part cut = { pt.inc[0].p, len };

		parts_refused(&head, &cut, 1, "snapshot");
	}
	xfree(wp);
	snapfix_parts_free(&pt);
	corr_engine_free(b);
	evlog_free(&bl);
}

static void
dump_event(void *arg, const struct corr_event *ev)
{
	struct dumped *d = arg;

	cr_assert_eq(ev->type, CORR_EV_UPDATED);
	cr_assert_eq(ev->seq, ev->inc->seq);
	cr_assert_eq(ev->at, d->at);
	cr_assert_eq(ev->first_step, 0);
	cr_assert_gt(ev->inc->num, d->last, "not in number order");
	cr_assert_eq(ev->prefix[0], 'I');
	cr_assert_eq(ev->links_max, CC.storm_event_links);
	cr_assert_eq(ev->sla != NULL, ev->inc->has_sla != 0);
	d->last = ev->inc->num;
	cr_assert_lt(d->n, 1024);
	d->json[d->n++] = incjson_encode(d->f, ev);
}

Test(corr_snap, dump_is_every_live_incident_whole_and_pure)
{
	struct dumped d = { .f = F };
	struct corr_stats s0, s1;
	char *p, *q, want[64];
	size_t n, m;

	d.at = corr_engine_now(A) + 1000;
	corr_engine_stats(A, &s0);
	cr_assert_eq(corr_engine_save(A, &p, &n), 0);
	corr_engine_dump(A, d.at, dump_event, &d);
	cr_assert_eq(corr_engine_save(A, &q, &m), 0);
	corr_engine_stats(A, &s1);
	assert_same_bytes(p, n, q, m, "dump changed the engine");
	cr_assert_eq(memcmp(&s0, &s1, sizeof(s0)), 0);
	cr_assert_eq(d.n, s0.live_incidents);
	cr_assert_gt(d.n, 0);
	for (size_t i = 0; i < d.n; i++) {
		const char *steps = strstr(d.json[i], "\"steps\":[");
		const char *len = strstr(d.json[i], "\"timeline_len\":");
		size_t nsteps = 0;

		cr_assert_not_null(steps);
		cr_assert_not_null(len);
		for (const char *s = steps; (s = strstr(s, "\"action\":")) != NULL; s++)
			nsteps++;
		snprintf(want, sizeof(want), "\"timeline_len\":%zu", nsteps);
		cr_assert(strncmp(len, want, strlen(want)) == 0,
		    "steps are not the whole timeline: %s", d.json[i]);
		cr_assert(strstr(d.json[i], "\"event\":\"updated\"") != NULL);
		free(d.json[i]);
	}
	xfree(p);
	xfree(q);
}

/* ---- change tracking (corr_engine_track) ---- */

/* Each live incident's record, by number, as it was after the last op. */
struct recs {
	struct corr_engine *e;
	struct u64map	 by_num;	/* num -> struct rec */
	uint64_t	 op;		/* the op just run */
	uint64_t	*noted;		/* corr_engine_changed()'s numbers */
	size_t		 nnoted, capnoted;
	size_t		 changed;	/* records that changed, over the run */
};

struct rec {
	char	*p;
	size_t	 n;
	uint64_t op;		/* the last op that saw it live */
};

static int
recs_noted(const struct recs *r, uint64_t num)
{
	for (size_t i = 0; i < r->nnoted; i++)
		if (r->noted[i] == num)
			return 1;
	return 0;
}

static void
recs_note(void *arg, uint64_t num, const struct corr_incident *inc)
{
	struct recs *r = arg;

	cr_assert(inc == NULL || inc->num == num);
	cr_assert(!recs_noted(r, num), "%llu noted twice",
	    (unsigned long long)num);
	if (r->nnoted == r->capnoted) {
		r->capnoted = r->capnoted ? 2 * r->capnoted : 64;
		r->noted = xreallocarray(r->noted, r->capnoted,
		    sizeof(*r->noted));
	}
	r->noted[r->nnoted++] = num;
}

static void
recs_check(void *arg, const struct corr_event *ev)
{
	struct recs *r = arg;
	struct rec *old = u64map_get(&r->by_num, ev->inc->num);
	char *p;
	size_t n;

	cr_assert_eq(corr_engine_save_incident(r->e, ev->inc->id, &p, &n), 0);
	if (old != NULL && old->n == n && memcmp(old->p, p, n) == 0) {
		old->op = r->op;
		xfree(p);
		return;
	}
	r->changed++;
	cr_assert(recs_noted(r, ev->inc->num), "op %llu (kind %u): %s %s, "
	    "not noted", (unsigned long long)r->op, OPS[r->op - 1].kind,
	    ev->inc->id, old != NULL ? "changed" : "is new");
	if (old == NULL) {
		old = xcalloc(1, sizeof(*old));
		u64map_put(&r->by_num, ev->inc->num, old);
	} else
		xfree(old->p);
	old->p = p;
	old->n = n;
	old->op = r->op;
}

/*
 * The whole rules stream into an engine that tracks: after every op,
 * every incident whose record changed, appeared or went is among those
 * corr_engine_changed() names; and it names far fewer than all live.
 */
Test(corr_snap, changed_covers_every_record_that_changed)
{
	struct recs r = { 0 };
	struct evlog l;
	size_t live = 0, noted = 0;

	r.e = engine(F, &l);
	corr_engine_track(r.e, 1);
	u64map_init(&r.by_num);
	for (size_t i = 0; i < NOPS_USED; i++) {
		uint64_t num, gone[64];
		size_t pos = 0, ngone = 0;
		void *v;

		snapfix_apply(r.e, F, &OPS[i]);
		r.op = i + 1;
		r.nnoted = 0;
		corr_engine_changed(r.e, recs_note, &r);
		corr_engine_dump(r.e, corr_engine_now(r.e), recs_check, &r);
		while (u64map_next(&r.by_num, &pos, &num, &v))
			if (((struct rec *)v)->op != r.op) {
				cr_assert(recs_noted(&r, num), "op %zu: "
				    "incident %llu gone, not noted", i + 1,
				    (unsigned long long)num);
				cr_assert_lt(ngone, 64);
				gone[ngone++] = num;
			}
		for (size_t g = 0; g < ngone; g++) {
			struct rec *rc = u64map_del(&r.by_num, gone[g]);

			xfree(rc->p);
			xfree(rc);
			r.changed++;
		}
		live += r.by_num.used;
		noted += r.nnoted;
	}
	cr_log_info("tracking: %zu ops, %zu records changed, %zu noted, "
	    "%zu live-incident checks", NOPS_USED, r.changed, noted, live);
	cr_assert_gt(r.changed, 1000);
	cr_assert_lt(noted, live / 10, "noted %zu of %zu: not selective",
	    noted, live);
	{
		size_t pos = 0;
		void *v;

		while (u64map_next(&r.by_num, &pos, NULL, &v)) {
			xfree(((struct rec *)v)->p);
			xfree(v);
		}
	}
	u64map_fini(&r.by_num);
	xfree(r.noted);
	corr_engine_free(r.e);
	evlog_free(&l);
}

/* ---- catch-up after a restart ---- */

static int
has_step(const struct corr_incident *inc, const char *action,
    const char *note_part, int64_t at)
{
	for (uint32_t i = 0; i < inc->nsteps; i++)
		if (strcmp(inc->steps[i].action, action) == 0 &&
		    inc->steps[i].at == at && inc->steps[i].note != NULL &&
		    (note_part == NULL ? strstr(inc->steps[i].note, "late") == NULL :
		    strstr(inc->steps[i].note, note_part) != NULL))
			return 1;
	return 0;
}

Test(corr_snap, catch_up_marks_late_marks)
{
	struct fleet *f = snapfix_fleet(0);
	struct evlog bl, cl;
	struct corr_engine *b = engine(f, &bl), *c;
	const struct corr_incident *inc, *pl;
	struct snapfix_op op;
	int64_t t0 = SNAPFIX_T0, down = t0 + 60 * MIN;	/* ack deadline: 1 h */
	char *p, late[96], t[UTC_LEN];
	size_t n, before;

	/* S01: standard, ack 1 h (warnings 30, 48 min; breach 60 min) */
	memset(&op, 0, sizeof(op));
	op.kind = SNAPFIX_ALARM;
	op.at = t0;
	snprintf(op.dev, sizeof(op.dev), "S01-pwr");
	snprintf(op.code, sizeof(op.code), "HIGH_TEMP");
	op.sev = SEV_MAJOR;
	cr_assert_eq(snapfix_apply(b, f, &op), 0);
	/* S02 in a window that ends during the downtime */
	memset(&op, 0, sizeof(op));
	op.kind = SNAPFIX_MAINT_ADD;
	op.at = t0;
	op.end = t0 + 20 * MIN;
	op.maint = 1;
	snprintf(op.msite, sizeof(op.msite), "S02");
	cr_assert_eq(snapfix_apply(b, f, &op), 0);
	memset(&op, 0, sizeof(op));
	op.kind = SNAPFIX_ALARM;
	op.at = t0 + MIN;
	snprintf(op.dev, sizeof(op.dev), "S02-pwr");
	snprintf(op.code, sizeof(op.code), "DOOR_OPEN");
	op.sev = SEV_MINOR;
	cr_assert_eq(snapfix_apply(b, f, &op), 0);
	corr_engine_advance(b, t0 + 10 * MIN);
	cr_assert_eq(corr_engine_save(b, &p, &n), 0);

	/* killed at t0 + 10 min, back at the ack deadline */
	c = loaded(f, &cl, p, n);
	cr_assert_eq(corr_engine_now(c), t0 + 10 * MIN);
	corr_engine_catch_up(c, down);
	inc = corr_engine_find(c, "INC-0-1");
	pl = corr_engine_find(c, "INC-0-2");
	cr_assert_not_null(inc);
	cr_assert_not_null(pl);
	utc_format(down, t);
	snprintf(late, sizeof(late), " (late: fired at %s after a restart)", t);
	cr_assert(has_step(inc, "sla_warning", late, t0 + 30 * MIN));
	cr_assert(has_step(inc, "sla_warning", late, t0 + 48 * MIN));
	cr_assert(has_step(inc, "escalated", late, t0 + 30 * MIN));
	/* due exactly at now: on time */
	cr_assert(has_step(inc, "sla_breached", NULL, down));
	cr_assert(has_step(pl, "unplanned", late, t0 + 20 * MIN));
	for (uint32_t i = 0; i < inc->nsteps; i++)
		if (inc->steps[i].note != NULL &&
		    strstr(inc->steps[i].note, "(late:") != NULL)
			cr_assert(strstr(inc->steps[i].note, late) ==
			    inc->steps[i].note + strlen(inc->steps[i].note) -
			    strlen(late), "suffix not at the end");
	/* events carry the marks' own instants, nothing after now fired */
	for (size_t i = 0; i < cl.n; i++)
		cr_assert_null(strstr(cl.v[i], "resolve clock at"));
	before = cl.n;
	cr_assert_gt(before, 4);
	cr_assert_lt(corr_engine_next(c), INT64_MAX);
	cr_assert_gt(corr_engine_next(c), down);
	/* a later plain advance is not late */
	corr_engine_advance(c, t0 + 5 * HOUR);
	cr_assert_gt(cl.n, before);
	for (size_t i = before; i < cl.n; i++)
		cr_assert_null(strstr(cl.v[i], "(late:"), "%s", cl.v[i]);
	xfree(p);
	corr_engine_free(b);
	corr_engine_free(c);
	evlog_free(&bl);
	evlog_free(&cl);
	fleet_free(f);
}

Test(corr_snap, fresh_engine_now_is_zero_and_empty_snapshot_round_trips)
{
	struct evlog l, l2;
	struct corr_engine *e = engine(F, &l), *c;
	char *p, *q;
	size_t n, m;

	cr_assert_eq(corr_engine_now(e), 0);
	cr_assert_eq(corr_engine_save(e, &p, &n), 0);
	c = loaded(F, &l2, p, n);
	cr_assert_eq(corr_engine_now(c), 0);
	cr_assert_eq(corr_engine_save(c, &q, &m), 0);
	assert_same_bytes(p, n, q, m, "empty engine");
	xfree(p);
	xfree(q);
	corr_engine_free(e);
	corr_engine_free(c);
	evlog_free(&l);
	evlog_free(&l2);
}

/*
 * The fuzz target's seeds (tests/fuzz/seeds/fuzz_corrsnap/): real
 * snapshots of the stream's start, small enough to mutate quickly.
 * Written only when TOCSIN_SNAP_SEEDS names a directory:
 *   TOCSIN_SNAP_SEEDS=tests/fuzz/seeds/fuzz_corrsnap \
 *       build/default/tests/tocsin-tests --filter corr_snap/write_fuzz_seeds
 */
Test(corr_snap, write_fuzz_seeds)
{
	static const size_t cuts[] = { 0, 9, 12, 16, 25 };
	const char *dir = getenv("TOCSIN_SNAP_SEEDS");

	if (dir == NULL)
		cr_skip_test("TOCSIN_SNAP_SEEDS not set");
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		char path[512], *p;
		size_t n;
		FILE *fp;

		p = snap_at(cuts[i], F, &n);
		snprintf(path, sizeof(path), "%s/storm-%02zu.snap", dir, cuts[i]);
		fp = fopen(path, "wb");
		cr_assert_not_null(fp, "%s", path);
		cr_assert_eq(fwrite(p, 1, n, fp), n);
		cr_assert_eq(fclose(fp), 0);
		xfree(p);
	}
	/* and one holding a complaint (version 2): just after the first */
	for (size_t k = 0; k < NOPS_USED; k++) {
		char path[512], *p;
		size_t n;
		FILE *fp;

		if (OPS[k].kind != SNAPFIX_COMPLAINT)
			continue;
		p = snap_at(k + 1, F, &n);
		snprintf(path, sizeof(path), "%s/complaint.snap", dir);
		fp = fopen(path, "wb");
		cr_assert_not_null(fp, "%s", path);
		cr_assert_eq(fwrite(p, 1, n, fp), n);
		cr_assert_eq(fclose(fp), 0);
		xfree(p);
		break;
	}
}
