/*
 * fuzz_corrsnap.c - libFuzzer target for corr_engine_load() and the
 * changelog's records (corr_engine_load_parts()).
 *
 * The input is a snapshot, handed over with its exact length (any read
 * past it is caught by ASan) into a fresh engine over the snapshot tests'
 * fleet and config (tests/support/snapfix.h), so the seeds, real
 * snapshots of a small storm written by the corr_snap tests, resolve
 * their names.  A refusal must come with a one-line reason; a snapshot
 * that loads must leave an engine that takes alarms, actions, an advance
 * over SLA marks and window ends, a catch-up, a dump and a save, and then
 * frees (LeakSanitizer checks that nothing a partial load built is lost).
 *
 * The changelog: a snapshot that loads is also cut into its head and one
 * record per live incident, which must load into an engine whose records
 * are the same bytes (a record does not keep its timers' heap slots, so
 * the whole save may differ there); and the input is also tried as one
 * incident record after a
 * head of a small engine (refused with a one-line reason, or it loads and
 * is exercised like a whole snapshot).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "correlator/corr.h"
#include "daemon/mem.h"
#include "tests/support/snapfix.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fleet *fleet;
static struct corr_config cc;
static struct sla_config sc;

static void
fz_event(void *arg, const struct corr_event *ev)
{
	(void)arg;
	if (ev->inc == NULL || ev->seq != ev->inc->seq)
		abort();
}

static const struct corr_sink_ops fz_ops = { .event = fz_event };

static void
fz_alarm(struct corr_engine *e, const char *dev, const char *code, int edge,
    int64_t at)
{
	struct snapfix_op op;

	memset(&op, 0, sizeof(op));
	op.kind = SNAPFIX_ALARM;
	op.at = at;
	strcpy(op.dev, dev);
	strcpy(op.code, code);
	op.edge = (uint8_t)edge;
	op.sev = SEV_MAJOR;
	snapfix_apply(e, fleet, &op);
}

static void
fz_exercise(struct corr_engine *e);

/* e's head and incident records must rebuild an engine with the same
 * records. */
static void
fz_split(const struct corr_engine *e)
{
	struct corr_sink sink = { &fz_ops, NULL };
	struct snapfix_parts pt, again;
	struct corr_engine *c;
	char err[160];

	if (snapfix_parts_of(e, &pt) != 0)
		abort();
	c = corr_engine_new(fleet, &cc, 0, &sink);
	if (snapfix_parts_load(c, &pt, err, sizeof(err)) != 0 ||
	    snapfix_parts_of(c, &again) != 0 ||
	    snapfix_parts_differ(&pt, &again, err, sizeof(err)) != NULL)
		abort();
	snapfix_parts_free(&again);
	snapfix_parts_free(&pt);
	corr_engine_free(c);
}

/* The input as one incident record after the head of a small engine. */
static void
fz_record(const uint8_t *data, size_t size)
{
	static char *hp;
	static size_t hn;
	struct corr_sink sink = { &fz_ops, NULL };
	struct corr_part head, rec = { data, size };
	struct corr_engine *e;
	char err[160];

	if (hp == NULL) {
		/* its next number leaves room for any a seed's incidents
		 * have (a record's must be below the head's) */
		struct corr_config big = cc;

		big.id_start = 1000000;
		e = corr_engine_new(fleet, &big, 0, &sink);
		fz_alarm(e, "S00-pwr", "MAINS_FAIL", ALARM_RAISE, SNAPFIX_T0);
		corr_engine_save_head(e, &hp, &hn);
		corr_engine_free(e);
	}
	head = (struct corr_part){ hp, hn };
	e = corr_engine_new(fleet, &cc, 0, &sink);
	err[0] = '\0';
	if (corr_engine_load_parts(e, &head, &rec, 1, err, sizeof(err)) != 0) {
		if (err[0] == '\0' || strchr(err, '\n') != NULL)
			abort();
		corr_engine_free(e);
		return;
	}
	fz_exercise(e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct corr_sink sink = { &fz_ops, NULL };
	struct corr_engine *e;
	char err[160];

	if (fleet == NULL) {
		fleet = snapfix_fleet(0);
		snapfix_config(&cc, &sc);
	}
	fz_record(data, size);
	e = corr_engine_new(fleet, &cc, 0, &sink);
	err[0] = '\0';
	if (corr_engine_load(e, data, size, err, sizeof(err)) != 0) {
		if (err[0] == '\0' || strchr(err, '\n') != NULL)
			abort();
		corr_engine_free(e);
		return 0;
	}
	fz_split(e);
	fz_exercise(e);
	return 0;
}

/* Feeds a loaded engine everything, then saves and frees it. */
static void
fz_exercise(struct corr_engine *e)
{
	struct snapfix_op op;
	char *p;
	size_t n;
	int64_t t;

	t = corr_engine_now(e);
	if (t < SNAPFIX_T0)
		t = SNAPFIX_T0;
	fz_alarm(e, "S00-pwr", "MAINS_FAIL", ALARM_RAISE, t + 1000);
	fz_alarm(e, "S03-pwr", "BATT_LOW", ALARM_RAISE, t + 2000);
	fz_alarm(e, "S01-rru", "COMM_LOSS", ALARM_RAISE, t + 3000);
	fz_alarm(e, "S00-pwr", "MAINS_FAIL", ALARM_CLEAR, t + 4000);
	memset(&op, 0, sizeof(op));
	op.kind = SNAPFIX_ACTION;
	op.actor = "fuzz";
	op.note = "fuzz";
	for (uint64_t num = 1; num <= 4; num++) {
		op.num = num;
		op.at = t + 5000;
		for (uint8_t a = 0; a < CORR_ACT__COUNT; a++) {
			op.act = a;
			snapfix_apply(e, fleet, &op);
		}
	}
	corr_engine_advance(e, t + 3600 * 1000);
	corr_engine_catch_up(e, t + 30 * 3600 * 1000LL);
	corr_engine_dump(e, corr_engine_now(e), fz_event, NULL);
	corr_engine_save(e, &p, &n);
	xfree(p);
	corr_engine_free(e);
}
