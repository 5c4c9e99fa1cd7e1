/*
 * test_telem.c - daemon/telem, telemetry folded into the latest value of
 * every point: one batch per device with its unsent points, sent before
 * the loop sleeps; an output that is full for a long storm costs no
 * memory beyond one value a point, and when it takes again every point's
 * latest value goes out, the older ones counted as folded; a lost batch
 * is sent again; a refused one is counted and dropped; nothing runs while
 * nothing waits.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <jansson.h>

#include "daemon/mem.h"
#include "daemon/telem.h"

#define NDEV	50

/* The fake output: what it took, and what it says next. */
struct out {
	int	 answer;		/* what send() returns */
	unsigned calls;
	json_t	*batches;		/* every batch taken, parsed */
};

static int
out_send(void *arg, uint32_t device, const char *key, const char *json,
    size_t len)
{
	struct out *o = arg;
	json_t *b;

	o->calls++;
	if (o->answer != 0)
		return o->answer;
	b = json_loadb(json, len, 0, NULL);
	cr_assert_not_null(b, "not JSON: %.*s", (int)len, json);
	cr_assert_str_eq(json_string_value(json_object_get(b, "device")), key);
	json_object_set_new(b, "dev_index", json_integer(device));
	json_array_append_new(o->batches, b);
	return 0;
}

static const struct telem_out_ops out_ops = { out_send };

/* NDEV devices of one two-point profile at sites S0..S9. */
static struct fleet *
make_fleet(void)
{
	struct fleet *f = fleet_new();
	struct fleet_profile *p;
	uint32_t pi = fleet_add(f, FLEET_PROFILE, "rect");

	p = &f->profiles[pi];
	p->npoints = 2;
	p->points = xcalloc(2, sizeof(*p->points));
	p->points[0].name = xstrdup("volts");
	p->points[0].unit = xstrdup("V");
	p->points[1].name = xstrdup("temp");
	for (int s = 0; s < 10; s++) {
		char id[16];
		uint32_t si, ai;

		snprintf(id, sizeof(id), "S%d", s);
		si = fleet_add(f, FLEET_SITE, id);
		ai = fleet_area(f, "north");
		f->sites[si].area = ai;
	}
	for (int d = 0; d < NDEV; d++) {
		char id[16];
		uint32_t di;

		snprintf(id, sizeof(id), "D%d", d);
		di = fleet_add(f, FLEET_DEVICE, id);
		f->devices[di].site = (uint32_t)(d % 10);
		f->devices[di].profile = pi;
	}
	return f;
}

static void
sample(struct telem *t, uint32_t dev, uint32_t point, double v, int64_t at)
{
	struct almrule_sample s = { at, v, dev, point, FLEET_Q_GOOD };

	telem_sample(t, &s);
}

/* Runs the loop once without blocking: the ev_prepare flushes. */
static void
turn(struct ev_loop *loop)
{
	ev_run(loop, EVRUN_NOWAIT);
}

static const json_t *
point_of(const json_t *batch, const char *name)
{
	size_t i;
	json_t *s;

	json_array_foreach(json_object_get(batch, "samples"), i, s)
		if (strcmp(json_string_value(json_object_get(s, "point")),
		    name) == 0)
			return s;
	return NULL;
}

Test(telem, one_batch_per_device_with_its_unsent_points)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fleet *f = make_fleet();
	struct out o = { 0, 0, json_array() };
	struct telem_out to = { &out_ops, &o };
	struct telem *t = telem_new(loop, f, &to, 50);
	struct telem_stats st;
	const json_t *b, *p;

	sample(t, 3, 0, 48.5, 1000);
	sample(t, 3, 1, 21.0, 1000);
	sample(t, 7, 1, NAN, 1001);
	turn(loop);
	cr_assert_eq(json_array_size(o.batches), 2);
	b = json_array_get(o.batches, 0);
	cr_assert_str_eq(json_string_value(json_object_get(b, "device")), "D3");
	cr_assert_str_eq(json_string_value(json_object_get(b, "site")), "S3");
	cr_assert_eq(json_array_size(json_object_get(b, "samples")), 2);
	p = point_of(b, "volts");
	cr_assert_not_null(p);
	cr_assert_float_eq(json_number_value(json_object_get(p, "value")), 48.5,
	    1e-12);
	cr_assert_str_eq(json_string_value(json_object_get(p, "unit")), "V");
	cr_assert_str_eq(json_string_value(json_object_get(p, "quality")),
	    "good");
	cr_assert_str_eq(json_string_value(json_object_get(p, "at")),
	    "1970-01-01T00:00:01.000Z");
	cr_assert(json_is_null(json_object_get(point_of(b, "temp"), "unit")));
	/* a value that is not a number is null, not a bad token */
	b = json_array_get(o.batches, 1);
	cr_assert(json_is_null(json_object_get(point_of(b, "temp"), "value")));
	/* sent points are not sent again; a new sample is, alone */
	sample(t, 3, 0, 49.0, 2000);
	turn(loop);
	cr_assert_eq(json_array_size(o.batches), 3);
	b = json_array_get(o.batches, 2);
	cr_assert_eq(json_array_size(json_object_get(b, "samples")), 1);
	telem_stats(t, &st);
	cr_assert_eq(st.samples, 4);
	cr_assert_eq(st.batches, 3);
	cr_assert_eq(st.sent, 4);
	cr_assert_eq(st.folded, 0);
	cr_assert_eq(st.waiting, 0);
	telem_free(t);
	json_decref(o.batches);
	fleet_free(f);
	ev_loop_destroy(loop);
}

/*
 * The output full through a storm of 100,000 samples: nothing grows, the
 * retry timer is the only thing that runs, and once it takes again every
 * point's latest value goes out, once.
 */
Test(telem, full_output_folds_to_the_latest_and_converges)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fleet *f = make_fleet();
	struct out o = { -EAGAIN, 0, json_array() };
	struct telem_out to = { &out_ops, &o };
	struct telem *t = telem_new(loop, f, &to, 20);
	struct telem_stats st;
	double last[NDEV][2];
	int64_t at = 1000;
	unsigned calls;

	for (int k = 0; k < 1000; k++) {
		for (uint32_t d = 0; d < NDEV; d++)
			for (uint32_t p = 0; p < 2; p++) {
				last[d][p] = k * 1000.0 + d * 2 + p;
				sample(t, d, p, last[d][p], at++);
			}
		turn(loop);
	}
	telem_stats(t, &st);
	cr_assert_eq(st.samples, 100000);
	cr_assert_eq(st.folded, 100000 - NDEV * 2);
	cr_assert_eq(st.waiting, NDEV);
	cr_assert_eq(st.batches, 0);
	/* blocked: one try, then only the timer's */
	calls = o.calls;
	cr_assert_lt(calls, 1000, "%u sends while full", calls);
	o.answer = 0;
	for (int i = 0; i < 50 && json_array_size(o.batches) < NDEV; i++)
		ev_run(loop, EVRUN_ONCE);
	cr_assert_eq(json_array_size(o.batches), NDEV);
	for (size_t i = 0; i < NDEV; i++) {
		const json_t *b = json_array_get(o.batches, i);
		uint32_t d = (uint32_t)json_integer_value(json_object_get(b,
		    "dev_index"));

		cr_assert_float_eq(json_number_value(json_object_get(point_of(b,
		    "volts"), "value")), last[d][0], 1e-9);
		cr_assert_float_eq(json_number_value(json_object_get(point_of(b,
		    "temp"), "value")), last[d][1], 1e-9);
	}
	telem_stats(t, &st);
	cr_assert_eq(st.waiting, 0);
	cr_assert_eq(st.sent, NDEV * 2);
	/* idle: nothing active on the loop but what the test left */
	cr_assert_eq(ev_pending_count(loop), 0);
	cr_assert_eq(ev_run(loop, EVRUN_NOWAIT), 0, "a watcher still runs");
	telem_free(t);
	json_decref(o.batches);
	fleet_free(f);
	ev_loop_destroy(loop);
}

Test(telem, lost_batch_is_sent_again_refused_one_is_dropped)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fleet *f = make_fleet();
	struct out o = { 0, 0, json_array() };
	struct telem_out to = { &out_ops, &o };
	struct telem *t = telem_new(loop, f, &to, 20);
	struct telem_stats st;
	const json_t *b;

	sample(t, 5, 0, 1.0, 1000);
	sample(t, 5, 1, 2.0, 1000);
	turn(loop);
	cr_assert_eq(json_array_size(o.batches), 1);
	telem_lost(t, 5);
	telem_lost(t, 6);		/* never sampled: nothing to send */
	turn(loop);
	cr_assert_eq(json_array_size(o.batches), 2);
	b = json_array_get(o.batches, 1);
	cr_assert_eq(json_array_size(json_object_get(b, "samples")), 2);
	o.answer = -EMSGSIZE;
	sample(t, 8, 0, 3.0, 2000);
	turn(loop);
	telem_stats(t, &st);
	cr_assert_eq(st.resent, 1);
	cr_assert_eq(st.refused, 1);
	cr_assert_eq(st.waiting, 0);
	telem_free(t);
	json_decref(o.batches);
	fleet_free(f);
	ev_loop_destroy(loop);
}
