/*
 * pointbench.c - cost of turning registers into values, alarms and
 * telemetry, per point, against a plain memcpy-and-compare loop.
 *
 * Fixed work: D devices (default 10,000) of one power-unit profile (12
 * points over 23 holding registers, 8 alarm rules, deadbands on the analog
 * points), P polls each (default 100) on a virtual clock 5 s apart.  Each
 * poll's registers come from one of 64 frames pre-encoded with mbdecode's
 * encoder, values swinging across the thresholds so rules do transition.
 *
 * Phases, each timed on its own (wall ns per point and CPU seconds):
 *	baseline	memcpy each point's registers into an integer and
 *			compare it with a raw threshold: the floor any decoder
 *			pays to look at the data
 *	decode		mbdecode_regs() per point (types, orders, scale,
 *			quality)
 *	decode+rules	mbdecode_regs() + almrule_sample() per point (rules,
 *			debounce, deadband, sink callbacks)
 *	memory		almrule_dev_new() for 100,000 devices: bytes/device
 * Each phase runs ROUNDS times interleaved with the others; the best time
 * of each is kept.  Ratios are against the baseline of the same run.
 *
 * usage: pointbench [devices [polls]]
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench/pb_stats.h"
#include "correlator/fleet.h"
#include "correlator/almrule.h"
#include "daemon/mem.h"
#include "drivers/modbus/mbdecode.h"

#define NFRAMES		64
#define NREGS		23
#define MEM_DEVICES	100000

struct pdef {
	const char	*name;
	enum mbmap_type	 type;
	enum mbmap_order	 order;
	uint16_t	 addr;
	double		 scale;
	double		 deadband;
	int8_t		 bit;
	double		 lo, hi;	/* the frames swing between these */
};

static const struct pdef pdefs[] = {
	{ "temp",    MBMAP_FLOAT32, MBMAP_ABCD,  0, 1,    0.5, -1, 20, 50 },
	{ "hum",     MBMAP_FLOAT32, MBMAP_CDAB,  2, 1,    1.0, -1, 30, 95 },
	{ "batt_v",  MBMAP_UINT16,  MBMAP_ABCD,  4, 0.01, 0.1, -1, 44, 54 },
	{ "batt_i",  MBMAP_INT16,   MBMAP_BADC,  5, 0.1,  0.5, -1, -50, 50 },
	{ "energy",  MBMAP_UINT32,  MBMAP_CDAB,  6, 1,    10,  -1, 1e6, 2e6 },
	{ "runtime", MBMAP_UINT64,  MBMAP_DCBA,  8, 1,    60,  -1, 1e7, 2e7 },
	{ "power",   MBMAP_FLOAT64, MBMAP_BADC, 12, 1,    5,   -1, 0, 3000 },
	{ "status",  MBMAP_UINT16,  MBMAP_ABCD, 16, 1,    0,   -1, 0, 15 },
	{ "door",    MBMAP_BOOL,    MBMAP_ABCD, 17, 1,    0,    3, 0, 1 },
	{ "mode",    MBMAP_UINT16,  MBMAP_ABCD, 18, 1,    0,   -1, 0, 3 },
	{ "freq",    MBMAP_INT32,   MBMAP_ABCD, 19, 0.01, 0.1, -1, 49, 51 },
	{ "mains_v", MBMAP_FLOAT32, MBMAP_DCBA, 21, 1,    2,   -1, 0, 240 },
};
#define NPOINTS (sizeof(pdefs) / sizeof(pdefs[0]))

struct adef {
	const char	*code;
	unsigned	 point;
	enum alarm_cond	 cond;
	double		 thr, clr;
	uint32_t	 on, off;
	uint8_t		 bit;
};

static const struct adef adefs[] = {
	{ "HIGH_TEMP",  0, AC_ABOVE,  40, 38, 0, 0, 0 },
	{ "HIGH_HUM",   1, AC_ABOVE,  90, 85, 30000, 30000, 0 },
	{ "BATT_LOW",   2, AC_BELOW,  46, 48, 10000, 5000, 0 },
	{ "BATT_DISCHARGE", 3, AC_BELOW, -5, 0, 0, 0, 0 },
	{ "RECT_FAIL",  7, AC_BIT_SET, 0, 0, 0, 0, 2 },
	{ "DOOR_OPEN",  8, AC_EQUALS, 1, 1, 0, 0, 0 },
	{ "DG_FAIL",    9, AC_EQUALS, 2, 2, 0, 10000, 0 },
	{ "MAINS_FAIL", 11, AC_BELOW, 180, 200, 5000, 5000, 0 },
};
#define NALARMS (sizeof(adefs) / sizeof(adefs[0]))

static uint16_t frames[NFRAMES][NREGS];
static uint64_t raw_thr[NPOINTS];	/* baseline: raw thresholds */
static unsigned long long alarms_seen, samples_seen;




static void
on_alarm(void *arg, const struct alarm_event *ev)
{
	alarms_seen++;
}

static void
on_sample(void *arg, const struct almrule_sample *s)
{
	samples_seen++;
}

/* The profile's Modbus point map (one profile: NPOINTS points). */
static struct mbmap_point map_points[NPOINTS];
static struct mbmap_profile map_profile = { .points = map_points,
    .npoints = NPOINTS };

static struct fleet *
build_fleet(size_t ndev)
{
	struct fleet *f = fleet_new();
	struct fleet_profile *p;
	uint32_t pr, site;
	char id[32];

	pr = fleet_add(f, FLEET_PROFILE, "psu");
	site = fleet_add(f, FLEET_SITE, "S0");
	p = &f->profiles[pr];
	p->points = xcalloc(NPOINTS, sizeof(*p->points));
	p->npoints = NPOINTS;
	for (size_t i = 0; i < NPOINTS; i++) {
		struct mbmap_point *q = &map_points[i];

		p->points[i].name = xstrdup(pdefs[i].name);
		p->points[i].deadband = pdefs[i].deadband;
		mbmap_point_init(q);
		q->type = pdefs[i].type;
		q->order = pdefs[i].order;
		q->address = pdefs[i].addr;
		q->scale = pdefs[i].scale;
		q->bit = pdefs[i].bit;
		q->table = MBMAP_HOLDING;
	}
	p->alarms = xcalloc(NALARMS, sizeof(*p->alarms));
	p->nalarms = NALARMS;
	for (size_t i = 0; i < NALARMS; i++) {
		struct fleet_alarm *a = &p->alarms[i];

		a->code = xstrdup(adefs[i].code);
		a->code_id = fleet_code(f, adefs[i].code);
		a->point = adefs[i].point;
		a->cond = adefs[i].cond;
		a->severity = SEV_MAJOR;
		a->threshold = adefs[i].thr;
		a->clear = adefs[i].clr;
		a->delay_on_ms = adefs[i].on;
		a->delay_off_ms = adefs[i].off;
		a->bit = adefs[i].bit;
	}
	for (size_t d = 0; d < ndev; d++) {
		uint32_t di;

		snprintf(id, sizeof(id), "D%zu", d);
		di = fleet_add(f, FLEET_DEVICE, id);
		f->devices[di].profile = pr;
		f->devices[di].site = site;
	}
	return f;
}

/* Frames: each point's value swings lo..hi over the 64 frames. */
static void
build_frames(const struct mbmap_profile *p)
{
	for (int k = 0; k < NFRAMES; k++) {
		double phase = (1 + sin(2 * M_PI * k / NFRAMES)) / 2;

		for (size_t i = 0; i < NPOINTS; i++) {
			double v = pdefs[i].lo + phase * (pdefs[i].hi - pdefs[i].lo);
			int rc;

			if (pdefs[i].type != MBMAP_FLOAT32 &&
			    pdefs[i].type != MBMAP_FLOAT64)
				v = round(v / pdefs[i].scale) * pdefs[i].scale;
			if (pdefs[i].type == MBMAP_BOOL)
				v = k % 8 < 2;
			rc = mbdecode_encode(&p->points[i], v, frames[k], NREGS,
			    0);
			if (rc != 0) {
				fprintf(stderr, "encode %s: %s\n", pdefs[i].name,
				    strerror(-rc));
				exit(1);
			}
		}
	}
	/* the baseline compares raw integers with the raw mid-range */
	for (size_t i = 0; i < NPOINTS; i++)
		raw_thr[i] = (uint64_t)((pdefs[i].lo + pdefs[i].hi) / 2 /
		    pdefs[i].scale);
}

#define ROUNDS 3

struct bench {
	size_t		 ndev;
	unsigned	 npolls;
	const struct mbmap_profile *p;	/* the profile's point map */
	const struct fleet_profile *prof; /* the profile */
	struct almrule	 ar;
	struct almrule_dev **devs;
	unsigned	 round;		/* decode+rules rounds run so far */
	volatile uint64_t hits;		/* baseline: keeps its loop alive */
	double		 good;		/* decode: good-quality values */
};

struct phase {
	const char	*name;
	void		(*run)(struct bench *);
	double		 wall, cpu;	/* best of ROUNDS */
};

/* memcpy each point's registers into an integer, compare with raw limit */
static void
run_baseline(struct bench *b)
{
	for (unsigned k = 0; k < b->npolls; k++) {
		for (size_t d = 0; d < b->ndev; d++) {
			const uint16_t *r = frames[(d * 7 + k) % NFRAMES];
			uint64_t h = 0;

			for (size_t i = 0; i < NPOINTS; i++) {
				uint64_t v = 0;

				memcpy(&v, r + pdefs[i].addr,
				    2 * mbmap_point_width(&b->p->points[i]));
				h += v > raw_thr[i];
			}
			b->hits += h;
		}
	}
}

static void
run_decode(struct bench *b)
{
	for (unsigned k = 0; k < b->npolls; k++) {
		for (size_t d = 0; d < b->ndev; d++) {
			const uint16_t *r = frames[(d * 7 + k) % NFRAMES];

			for (size_t i = 0; i < NPOINTS; i++) {
				struct mbdecode_value v;

				if (mbdecode_regs(&b->p->points[i], r, NREGS,
				    0, &v) == 0 && v.quality == FLEET_Q_GOOD)
					b->good++;
			}
		}
	}
}

/* a whole poll per device: poll_ok, then decode and sample each point */
static void
run_rules(struct bench *b)
{
	int64_t t0 = 1700000000000 + (int64_t)b->round++ * b->npolls * 5000;

	for (unsigned k = 0; k < b->npolls; k++) {
		int64_t now = t0 + (int64_t)k * 5000;

		for (size_t d = 0; d < b->ndev; d++) {
			const uint16_t *r = frames[(d * 7 + k) % NFRAMES];

			almrule_poll_ok(&b->ar, b->devs[d], now);
			for (size_t i = 0; i < NPOINTS; i++) {
				struct mbdecode_value v;

				if (mbdecode_regs(&b->p->points[i], r, NREGS,
				    0, &v) == 0)
					almrule_sample(&b->ar, b->devs[d],
					    (uint32_t)i, v.value,
					    (enum fleet_quality)v.quality, now);
			}
		}
	}
}

static void
report(const struct phase *ph, const struct phase *base, double npts)
{
	printf("%-13s %7.3f s wall %7.3f s cpu %7.2f ns/point   x%.2f wall "
	    "x%.2f cpu of baseline\n", ph->name, ph->wall, ph->cpu,
	    ph->wall * 1e9 / npts, ph->wall / base->wall,
	    base->cpu > 0 ? ph->cpu / base->cpu : 0);
}

int
main(int argc, char **argv)
{
	struct bench b;
	struct fleet *f;
	static const struct almrule_sink_ops sink_ops = {
		.alarm = on_alarm, .sample = on_sample,
	};
	struct almrule_sink sink = { &sink_ops, NULL };
	struct almrule_dev **mdevs;
	struct phase ph[] = {
		{ "baseline", run_baseline, 0, 0 },
		{ "decode", run_decode, 0, 0 },
		{ "decode+rules", run_rules, 0, 0 },
	};
	double t, c, npts;
	size_t before, after;

	memset(&b, 0, sizeof(b));
	b.ndev = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	b.npolls = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 100;
	if (b.ndev == 0 || b.npolls == 0) {
		fprintf(stderr, "usage: pointbench [devices [polls]]\n");
		return 2;
	}
	f = build_fleet(b.ndev > MEM_DEVICES ? b.ndev : MEM_DEVICES);
	b.p = &map_profile;
	b.prof = &f->profiles[0];
	build_frames(b.p);
	almrule_init(&b.ar, f, NULL, &sink);
	b.devs = xcalloc(b.ndev, sizeof(*b.devs));
	for (size_t d = 0; d < b.ndev; d++)
		b.devs[d] = almrule_dev_new(&b.ar, (uint32_t)d);
	npts = (double)b.ndev * b.npolls * NPOINTS;
	printf("pointbench: %zu devices x %u polls x %zu points = %.0f "
	    "point evaluations per phase, %zu rules/device, best of %d "
	    "interleaved rounds, allocator %s\n", b.ndev, b.npolls, NPOINTS,
	    npts, NALARMS, ROUNDS, mem_allocator());

	for (int r = 0; r < ROUNDS; r++) {
		for (size_t i = 0; i < sizeof(ph) / sizeof(ph[0]); i++) {
			t = pb_wall_s();
			c = pb_cpu_s(RUSAGE_SELF);
			ph[i].run(&b);
			t = pb_wall_s() - t;
			c = pb_cpu_s(RUSAGE_SELF) - c;
			if (r == 0 || t < ph[i].wall)
				ph[i].wall = t;
			if (r == 0 || c < ph[i].cpu)
				ph[i].cpu = c;
		}
	}
	for (size_t i = 0; i < sizeof(ph) / sizeof(ph[0]); i++)
		report(&ph[i], &ph[0], npts);
	printf("checks (all rounds): baseline hits %llu, good decodes "
	    "%.0f/%.0f, alarms %llu (raised %llu cleared %llu), samples "
	    "published %llu suppressed %llu, bad %llu\n",
	    (unsigned long long)b.hits, b.good, npts * ROUNDS, alarms_seen,
	    (unsigned long long)b.ar.stats.raised,
	    (unsigned long long)b.ar.stats.cleared, samples_seen,
	    (unsigned long long)b.ar.stats.suppressed,
	    (unsigned long long)b.ar.stats.bad_samples);
	for (size_t d = 0; d < b.ndev; d++)
		almrule_dev_free(b.devs[d]);
	xfree(b.devs);

	/* memory: state for a region's worth of devices */
	mdevs = xcalloc(MEM_DEVICES, sizeof(*mdevs));
	before = mem_allocated();
	t = pb_wall_s();
	for (size_t d = 0; d < MEM_DEVICES; d++)
		mdevs[d] = almrule_dev_new(&b.ar, (uint32_t)d);
	t = pb_wall_s() - t;
	after = mem_allocated();
	printf("memory: almrule_dev_size %zu bytes/device (32 + 9 x %zu "
	    "rules+points); %d devices allocated in %.3f s",
	    almrule_dev_size(b.prof), NALARMS + NPOINTS, MEM_DEVICES, t);
	if (after > before)
		printf(", allocator reports %.1f bytes/device",
		    (double)(after - before) / MEM_DEVICES);
	printf("\n");
	for (size_t d = 0; d < MEM_DEVICES; d++)
		almrule_dev_free(mdevs[d]);
	xfree(mdevs);
	printf("process: cpu %.3f s, peak RSS %ld KiB\n", pb_cpu_s(RUSAGE_SELF),
	    pb_maxrss_kib());
	fleet_free(f);
	return 0;
}
