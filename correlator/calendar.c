/*
 * calendar.c - working-time arithmetic for SLA clocks.
 *
 * Design.  An instant is int64 ms since the epoch (UTC).  A calendar shifts
 * it by its fixed offset into "local ms", splits that into a local day number
 * (floor division, so instants before 1970 work too) and the ms within the
 * day, and walks day by day: a day counts if its weekday bit is set and it is
 * not a holiday (binary search in the sorted list); within a counting day only
 * the periods count.  The walk is bounded (CAL_MAX_WALK_DAYS) so a calendar
 * with no working time cannot hang the core; validation rejects such
 * calendars anyway.
 *
 * Why a day walk and not a closed form: SLA durations are hours to a few
 * working days, so the walk visits a handful of days (3 working days across a
 * weekend and a holiday: 6 days, well under a microsecond), and holidays make
 * a closed form fiddly.  24x7 calendars never walk: they are plain addition.
 *
 * Civil dates (weekdays, holidays) come from daemon/utc, which needs no
 * libc time-zone state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correlator/calendar.h"
#include "daemon/mem.h"
#include "daemon/utc.h"

#define CAL_MAX_WALK_DAYS	3660	/* ten years */

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

void
calendar_init_24x7(struct calendar *c, const char *name)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->always = 1;
	c->weekdays = 0x7f;
	c->nperiods = 1;
	c->periods[0].start_min = 0;
	c->periods[0].end_min = 1440;
}

void
calendar_init_workdays(struct calendar *c, const char *name,
    int32_t utc_offset_min)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->utc_offset_min = utc_offset_min;
	c->weekdays = CAL_WEEKDAYS_MON_FRI;
}

void
calendar_fini(struct calendar *c)
{
	FREE_NULL(c->holidays);
	c->nholidays = 0;
}

void
calendar_copy(struct calendar *dst, const struct calendar *src)
{
	*dst = *src;
	dst->holidays = NULL;
	if (src->nholidays > 0) {
		dst->holidays = xcalloc(src->nholidays, sizeof(*dst->holidays));
		memcpy(dst->holidays, src->holidays,
		    src->nholidays * sizeof(*dst->holidays));
	}
}

int
calendar_add_period(struct calendar *c, unsigned start_min, unsigned end_min)
{
	if (c->nperiods >= CALENDAR_MAX_PERIODS)
		return -ENOSPC;
	/* Out-of-range values are kept (clamped to 16 bits) for validate. */
	c->periods[c->nperiods].start_min = start_min > 0xffff ? 0xffff : start_min;
	c->periods[c->nperiods].end_min = end_min > 0xffff ? 0xffff : end_min;
	c->nperiods++;
	return 0;
}

/* Index of the first holiday >= day. */
static size_t
holiday_lower_bound(const struct calendar *c, int32_t day)
{
	size_t lo = 0, hi = c->nholidays;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->holidays[mid] < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void
calendar_add_holiday(struct calendar *c, int32_t day)
{
	size_t i = holiday_lower_bound(c, day);

	if (i < c->nholidays && c->holidays[i] == day)
		return;
	c->holidays = xreallocarray(c->holidays, c->nholidays + 1,
	    sizeof(*c->holidays));
	memmove(&c->holidays[i + 1], &c->holidays[i],
	    (c->nholidays - i) * sizeof(*c->holidays));
	c->holidays[i] = day;
	c->nholidays++;
}

int
calendar_validate(const struct calendar *c, const char **why)
{
	unsigned i;

	if (c->always)
		return 0;
	if (c->utc_offset_min < -14 * 60 || c->utc_offset_min > 14 * 60) {
		*why = "utc offset beyond +-14 h";
		return -EINVAL;
	}
	if ((c->weekdays & 0x7f) == 0) {
		*why = "no working weekday";
		return -EINVAL;
	}
	if (c->nperiods == 0) {
		*why = "no working period";
		return -EINVAL;
	}
	for (i = 0; i < c->nperiods; i++) {
		const struct cal_period *p = &c->periods[i];

		if (p->start_min >= 1440 || p->end_min > 1440) {
			*why = "working period outside 00:00-24:00";
			return -EINVAL;
		}
		if (p->end_min <= p->start_min) {
			*why = "inverted or empty working period (end not after start)";
			return -EINVAL;
		}
		if (i > 0 && p->start_min < c->periods[i - 1].end_min) {
			*why = p->start_min >= c->periods[i - 1].start_min ?
			    "overlapping working periods" :
			    "working periods out of order or overlapping";
			return -EINVAL;
		}
	}
	return 0;
}

static int
day_works(const struct calendar *c, int64_t day)
{
	int wd = (int)((day % 7 + 7 + 4) % 7);	/* 1970-01-01 was a Thursday */
	size_t i;

	if (!(c->weekdays & (1u << wd)))
		return 0;
	if (day < INT32_MIN || day > INT32_MAX)
		return 1;
	i = holiday_lower_bound(c, (int32_t)day);
	return !(i < c->nholidays && c->holidays[i] == day);
}

/* Working period i of local day `day` as local ms, [*s, *e). */
static void
period_span(const struct calendar *c, int64_t day, unsigned i, int64_t *s,
    int64_t *e)
{
	int64_t base = day * CAL_MS_PER_DAY;

	*s = base + c->periods[i].start_min * CAL_MS_PER_MIN;
	*e = base + c->periods[i].end_min * CAL_MS_PER_MIN;
}

int64_t
calendar_add(const struct calendar *c, int64_t t, int64_t work_ms)
{
	int64_t local, day, n;
	unsigned i;

	if (work_ms <= 0)
		return t;
	if (c->always)
		return t + work_ms;
	local = t + (int64_t)c->utc_offset_min * CAL_MS_PER_MIN;
	day = floor_div(local, CAL_MS_PER_DAY);
	for (n = 0; n < CAL_MAX_WALK_DAYS; n++, day++) {
		if (!day_works(c, day))
			continue;
		for (i = 0; i < c->nperiods; i++) {
			int64_t s, e;

			period_span(c, day, i, &s, &e);
			if (e <= local)
				continue;
			if (s < local)
				s = local;
			if (e - s >= work_ms)
				return s + work_ms -
				    (int64_t)c->utc_offset_min * CAL_MS_PER_MIN;
			work_ms -= e - s;
		}
	}
	return INT64_MAX;
}

int64_t
calendar_between(const struct calendar *c, int64_t a, int64_t b)
{
	int64_t off, la, lb, day, last, sum = 0;
	unsigned i;

	if (b <= a)
		return 0;
	if (c->always)
		return b - a;
	off = (int64_t)c->utc_offset_min * CAL_MS_PER_MIN;
	la = a + off;
	lb = b + off;
	day = floor_div(la, CAL_MS_PER_DAY);
	last = floor_div(lb - 1, CAL_MS_PER_DAY);
	for (; day <= last; day++) {
		if (!day_works(c, day))
			continue;
		for (i = 0; i < c->nperiods; i++) {
			int64_t s, e;

			period_span(c, day, i, &s, &e);
			if (s < la)
				s = la;
			if (e > lb)
				e = lb;
			if (e > s)
				sum += e - s;
		}
	}
	return sum;
}

int
calendar_parse_date(const char *s, int32_t *day)
{
	unsigned y, m, d;
	int n = 0;

	if (sscanf(s, "%4u-%2u-%2u%n", &y, &m, &d, &n) != 3 || n != 10 ||
	    s[n] != '\0' || d < 1 || d > utc_days_in_month((int)y, m))
		return -EINVAL;
	*day = (int32_t)utc_days_from_civil((int)y, m, d);
	return 0;
}

/* Zones without daylight saving, so one offset is always right. */
static const struct {
	const char	*name;
	int32_t		 offset_min;
} fixed_zones[] = {
	{ "Asia/Shanghai",	480 },
	{ "Asia/Chongqing",	480 },
	{ "Asia/Hong_Kong",	480 },
	{ "Asia/Macau",		480 },
	{ "Asia/Taipei",	480 },
	{ "Asia/Singapore",	480 },
	{ "Asia/Kuala_Lumpur",	480 },
	{ "Asia/Manila",	480 },
	{ "Asia/Tokyo",		540 },
	{ "Asia/Seoul",		540 },
	{ "Asia/Kolkata",	330 },
	{ "Asia/Dubai",		240 },
	{ "Etc/UTC",		0 },
	{ "UTC",		0 },
	{ "Z",			0 },
};

int
calendar_parse_zone(const char *s, int32_t *offset_min, const char **why)
{
	unsigned hh = 0, mm = 0;
	const char *p = s;
	int sign, n = 0;
	size_t i;

	for (i = 0; i < sizeof(fixed_zones) / sizeof(fixed_zones[0]); i++) {
		if (strcmp(s, fixed_zones[i].name) == 0) {
			*offset_min = fixed_zones[i].offset_min;
			return 0;
		}
	}
	if (strncmp(p, "UTC", 3) == 0 || strncmp(p, "GMT", 3) == 0)
		p += 3;
	if (*p != '+' && *p != '-') {
		*why = "unknown time zone (use UTC+HH[:MM] or a zone without "
		    "daylight saving such as Asia/Shanghai)";
		return -EINVAL;
	}
	sign = *p == '-' ? -1 : 1;
	p++;
	if (sscanf(p, "%2u%n", &hh, &n) != 1)
		goto bad;
	p += n;
	if (*p == ':') {
		if (sscanf(p + 1, "%2u%n", &mm, &n) != 1 || n != 2)
			goto bad;
		p += 1 + n;
	}
	if (*p != '\0' || hh > 14 || mm > 59 || hh * 60 + mm > 14 * 60)
		goto bad;
	*offset_min = sign * (int32_t)(hh * 60 + mm);
	return 0;
bad:
	*why = "malformed utc offset (want UTC+HH or UTC+HH:MM, at most 14 h)";
	return -EINVAL;
}
