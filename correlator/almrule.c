/*
 * almrule.c - alarm rules (threshold, hysteresis, equals, bit_set, debounce,
 * COMM_LOSS) and the telemetry deadband, on a small per-device state.
 *
 * Memory.  A region runs ~100,000 devices, so the per-device state is one
 * allocation sized by its profile:
 *
 *	struct almrule_dev	32 bytes (profile, ids, miss and bad counts)
 *	slot[nalarms]		8 bytes per rule: when its wait began
 *	slot[npoints]		8 bytes per point: last published value
 *	flag[nalarms]		1 byte per rule: ACTIVE
 *	flag[npoints]		1 byte per point: last published quality
 *
 * i.e. 32 + 9 * (rules + points) bytes, rounded up to 8: a power unit with
 * 20 points and 10 rules costs 304 bytes, 100,000 of them ~30 MB.  The
 * rules themselves (thresholds, delays) stay in the shared read-only
 * profile, never copied per device.
 *
 * Debounce is a single timestamp per rule: "since" is when the rule's
 * pending condition (raise if idle, clear if active) was first seen, or
 * NO_WAIT.  The transition fires on the first sample at which the condition
 * has held for the delay; there are no timers, so the resolution is the
 * poll interval (a delay shorter than the interval fires on the second
 * sample that shows the condition; a delay of 0 on the first).
 *
 * Rules are found by scanning the profile's alarms for the sampled point:
 * profiles have a handful of rules, and the scan touches only the shared
 * read-only array, which stays hot in cache across devices of a profile.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "correlator/almrule.h"
#include "daemon/mem.h"

#define NO_WAIT		INT64_MIN	/* slot.since: no condition pending */
#define NEVER		0xFF		/* point flag: nothing published yet */
#define ACTIVE		0x01		/* rule flag: the alarm is raised */

union almrule_slot {
	int64_t		 since;		/* rule: wait start, or NO_WAIT */
	double		 last;		/* point: last published value */
};

struct almrule_dev {
	const struct fleet_profile *profile; /* shared, read-only */
	uint32_t	 device;	/* fleet device index */
	uint32_t	 site;		/* its site, copied into events */
	uint32_t	 misses;	/* failed polls in a row */
	uint32_t	 bad;		/* bad-quality samples seen */
	uint16_t	 nalarms;	/* = profile->nalarms */
	uint16_t	 npoints;	/* = profile->npoints */
	uint8_t		 comm_lost;	/* COMM_LOSS is raised */
	union almrule_slot slot[];	/* nalarms rules, then npoints points,
					   then the flag bytes */
};

_Static_assert(sizeof(struct almrule_dev) == 32, "almrule_dev header");

static uint8_t *
dev_flags(struct almrule_dev *d)
{
	return (uint8_t *)(d->slot + d->nalarms + d->npoints);
}

static const uint8_t *
dev_flags_const(const struct almrule_dev *d)
{
	return (const uint8_t *)(d->slot + d->nalarms + d->npoints);
}

void
almrule_init(struct almrule *ar, const struct fleet *f,
    const struct almrule_config *cfg, const struct almrule_sink *sink)
{
	memset(ar, 0, sizeof(*ar));
	ar->fleet = f;
	ar->cfg.comm_loss_misses = ALMRULE_COMM_LOSS_MISSES;
	ar->cfg.comm_loss_severity = SEV_MAJOR;
	if (cfg != NULL) {
		if (cfg->comm_loss_misses > 0)
			ar->cfg.comm_loss_misses = cfg->comm_loss_misses;
		if (cfg->comm_loss_severity < SEV__COUNT)
			ar->cfg.comm_loss_severity = cfg->comm_loss_severity;
	}
	ar->sink = *sink;
}

size_t
almrule_dev_size(const struct fleet_profile *p)
{
	size_t n = p->nalarms + p->npoints;
	size_t sz = sizeof(struct almrule_dev) + n * (sizeof(union almrule_slot) + 1);

	return (sz + 7) & ~(size_t)7;
}

struct almrule_dev *
almrule_dev_new(const struct almrule *ar, uint32_t device)
{
	const struct fleet_device *fd;
	const struct fleet_profile *p;
	struct almrule_dev *d;

	if (device >= ar->fleet->ndevices)
		return NULL;
	fd = &ar->fleet->devices[device];
	if (fd->profile >= ar->fleet->nprofiles)
		return NULL;
	p = &ar->fleet->profiles[fd->profile];
	if (p->nalarms > UINT16_MAX || p->npoints > UINT16_MAX)
		return NULL;
	d = xcalloc(1, almrule_dev_size(p));
	d->profile = p;
	d->device = device;
	d->site = fd->site;
	d->nalarms = (uint16_t)p->nalarms;
	d->npoints = (uint16_t)p->npoints;
	for (size_t i = 0; i < d->nalarms; i++)
		d->slot[i].since = NO_WAIT;
	memset(dev_flags(d) + d->nalarms, NEVER, d->npoints);
	return d;
}

void
almrule_dev_free(struct almrule_dev *d)
{
	xfree(d);
}

static void
emit(struct almrule *ar, const struct almrule_dev *d, uint32_t point,
    uint16_t code, enum severity sev, enum alarm_edge edge, double value,
    int64_t now)
{
	struct alarm_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.at_ms = now;
	ev.value = value;
	ev.device = d->device;
	ev.site = d->site;
	ev.point = point;
	ev.code = code;
	ev.edge = edge;
	ev.severity = sev;
	if (edge == ALARM_RAISE)
		ar->stats.raised++;
	else
		ar->stats.cleared++;
	ar->sink.ops->alarm(ar->sink.arg, &ev);
}

/* Bit b of v read as a two's-complement integer; 0 if v has no such form. */
static int
bit_of(double v, unsigned b)
{
	uint64_t u;

	if (b > 63)
		return 0;
	if (v >= 0 && v < 18446744073709551616.0)
		u = (uint64_t)v;
	else if (v < 0 && v >= -9223372036854775808.0)
		u = (uint64_t)(int64_t)v;
	else
		return 0;
	return (int)((u >> b) & 1);
}

/*
 * The clear threshold on the safe side of the raise threshold: a clear
 * threshold past it (or unset, NaN) would make a value both raise and clear.
 */
static double
clear_level(const struct fleet_alarm *a)
{
	if (isnan(a->clear))
		return a->threshold;
	if (a->cond == AC_ABOVE)
		return a->clear < a->threshold ? a->clear : a->threshold;
	return a->clear > a->threshold ? a->clear : a->threshold;
}

/* Does v call for the transition away from the rule's current state? */
static int
wants_change(const struct fleet_alarm *a, int active, double v)
{
	switch (a->cond) {
	case AC_ABOVE:
		return active ? v < clear_level(a) : v >= a->threshold;
	case AC_BELOW:
		return active ? v > clear_level(a) : v <= a->threshold;
	case AC_EQUALS:
		return active ? v != a->threshold : v == a->threshold;
	case AC_BIT_SET:
		return active ? !bit_of(v, a->bit) : bit_of(v, a->bit);
	default:
		return 0;
	}
}

static void
eval_rule(struct almrule *ar, struct almrule_dev *d, uint32_t i, double v,
    int64_t now)
{
	const struct fleet_alarm *a = &d->profile->alarms[i];
	uint8_t *flag = dev_flags(d) + i;
	int64_t *since = &d->slot[i].since;
	int active = *flag & ACTIVE;
	uint32_t delay;

	if (!wants_change(a, active, v)) {
		*since = NO_WAIT;
		return;
	}
	if (*since == NO_WAIT || *since > now)
		*since = now;	/* a clock that stepped back restarts the wait */
	delay = active ? a->delay_off_ms : a->delay_on_ms;
	if (now - *since < (int64_t)delay)
		return;
	*since = NO_WAIT;
	*flag ^= ACTIVE;
	emit(ar, d, a->point, a->code_id, a->severity,
	    active ? ALARM_CLEAR : ALARM_RAISE, v, now);
}

static void
deadband(struct almrule *ar, struct almrule_dev *d, uint32_t point,
    double value, enum fleet_quality quality, int64_t now)
{
	const struct fleet_point *p = &d->profile->points[point];
	uint8_t *pq = dev_flags(d) + d->nalarms + point;
	double *last = &d->slot[d->nalarms + point].last;
	struct almrule_sample s;
	double db = p->deadband;
	int publish;

	if (ar->sink.ops->sample == NULL)
		return;
	if (*pq != quality)		/* first sample (NEVER) or a change */
		publish = 1;
	else if (quality != FLEET_Q_GOOD)
		publish = 0;		/* still bad: nothing new to say */
	else				/* deadband 0, negative or NaN: all */
		publish = !(db > 0) || fabs(value - *last) >= db;
	if (!publish) {
		ar->stats.suppressed++;
		return;
	}
	*pq = (uint8_t)quality;
	*last = value;
	s.at_ms = now;
	s.value = value;
	s.device = d->device;
	s.point = point;
	s.quality = (uint8_t)quality;
	ar->stats.published++;
	ar->sink.ops->sample(ar->sink.arg, &s);
}

int
almrule_sample(struct almrule *ar, struct almrule_dev *d, uint32_t point,
    double value, enum fleet_quality quality, int64_t now)
{
	if (point >= d->npoints)
		return -EINVAL;
	deadband(ar, d, point, value, quality, now);
	if (quality != FLEET_Q_GOOD) {
		/* keeps every rule's state and wait: a glitch is not news */
		ar->stats.bad_samples++;
		d->bad++;
		return 0;
	}
	for (uint32_t i = 0; i < d->nalarms; i++) {
		if (d->profile->alarms[i].point == point)
			eval_rule(ar, d, i, value, now);
	}
	return 0;
}

/* Raises (lost) or clears the device's COMM_LOSS, and counts it. */
static void
comm_loss_set(struct almrule *ar, struct almrule_dev *d, int lost, int64_t now)
{
	d->comm_lost = (uint8_t)lost;
	if (lost)
		ar->stats.comm_loss_raised++;
	else
		ar->stats.comm_loss_cleared++;
	emit(ar, d, FLEET_NONE, FLEET_CODE_COMM_LOSS, ar->cfg.comm_loss_severity,
	    lost ? ALARM_RAISE : ALARM_CLEAR, NAN, now);
}

void
almrule_poll_ok(struct almrule *ar, struct almrule_dev *d, int64_t now)
{
	d->misses = 0;
	if (d->comm_lost)
		comm_loss_set(ar, d, 0, now);
}

void
almrule_poll_failed(struct almrule *ar, struct almrule_dev *d, int64_t now)
{
	ar->stats.polls_failed++;
	if (d->misses < UINT32_MAX)
		d->misses++;
	if (!d->comm_lost && d->misses >= ar->cfg.comm_loss_misses)
		comm_loss_set(ar, d, 1, now);
}

int
almrule_dev_restore(struct almrule_dev *d, uint16_t code,
    uint32_t comm_loss_misses)
{
	int n = 0;

	if (code == FLEET_CODE_COMM_LOSS) {
		d->comm_lost = 1;
		d->misses = comm_loss_misses;
		return 1;
	}
	for (uint32_t a = 0; a < d->nalarms; a++)
		if (d->profile->alarms[a].code_id == code) {
			dev_flags(d)[a] |= ACTIVE;
			d->slot[a].since = NO_WAIT;
			n++;
		}
	return n;
}

int
almrule_dev_active(const struct almrule_dev *d, uint32_t alarm)
{
	if (alarm >= d->nalarms)
		return 0;
	return dev_flags_const(d)[alarm] & ACTIVE;
}

int
almrule_dev_comm_lost(const struct almrule_dev *d)
{
	return d->comm_lost;
}

uint32_t
almrule_dev_misses(const struct almrule_dev *d)
{
	return d->misses;
}

uint32_t
almrule_dev_bad(const struct almrule_dev *d)
{
	return d->bad;
}
