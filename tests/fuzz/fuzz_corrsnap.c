/*
 * fuzz_corrsnap.c - libFuzzer target for corr_engine_load().
 *
 * The input is a snapshot, handed over with its exact length (any read
 * past it is caught by ASan) into a fresh engine over the snapshot tests'
 * fleet and config (tests/support/snapfix.h), so the seeds, real
 * snapshots of a small storm written by the corr_snap tests, resolve
 * their names.  A refusal must come with a one-line reason; a snapshot
 * that loads must leave an engine that takes alarms, actions, an advance
 * over SLA marks and window ends, a catch-up, a dump and a save, and then
 * frees (LeakSanitizer checks that nothing a partial load built is lost).
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct corr_sink sink = { &fz_ops, NULL };
	struct corr_engine *e;
	struct snapfix_op op;
	char err[160], *p;
	size_t n;
	int64_t t;

	if (fleet == NULL) {
		fleet = snapfix_fleet(0);
		snapfix_config(&cc, &sc);
	}
	e = corr_engine_new(fleet, &cc, 0, &sink);
	err[0] = '\0';
	if (corr_engine_load(e, data, size, err, sizeof(err)) != 0) {
		if (err[0] == '\0' || strchr(err, '\n') != NULL)
			abort();
		corr_engine_free(e);
		return 0;
	}
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
	return 0;
}
