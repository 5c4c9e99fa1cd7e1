/*
 * test_calendar.c - working-time arithmetic: 24x7, a UTC+8 working-day
 * calendar across a weekend and a holiday, add/between agreeing, and the
 * configuration checks (inverted, overlapping periods, unknown zones).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "correlator/calendar.h"
#include "daemon/utc.h"

#define H CAL_MS_PER_HOUR
#define M CAL_MS_PER_MIN

/* UTC instant of a local civil time at offset off_min. */
static int64_t
at(int y, unsigned mo, unsigned d, int h, int mi, int off_min)
{
	return (int64_t)utc_days_from_civil(y, mo, d) * CAL_MS_PER_DAY +
	    h * H + mi * M - (int64_t)off_min * M;
}

static void
workday(struct calendar *c)
{
	int32_t hol;

	calendar_init_workdays(c, "workday", 480);
	cr_assert_eq(calendar_add_period(c, 9 * 60, 12 * 60), 0);
	cr_assert_eq(calendar_add_period(c, 13 * 60, 18 * 60), 0);
	cr_assert_eq(calendar_parse_date("2026-11-23", &hol), 0);	/* a Monday */
	calendar_add_holiday(c, hol);
}

Test(calendar, civil_round_trip_and_weekday)
{
	unsigned m, d;
	int y;
	char buf[32];

	cr_assert_eq(utc_days_from_civil(1970, 1, 1), 0);
	utc_civil_from_days(utc_days_from_civil(2026, 11, 23), &y, &m, &d);
	cr_assert(y == 2026 && m == 11 && d == 23);
	utc_civil_from_days(-1, &y, &m, &d);
	cr_assert(y == 1969 && m == 12 && d == 31);
	utc_format(at(2026, 11, 23, 14, 2, 0) + 35123, buf);
	cr_assert_str_eq(buf, "2026-11-23T14:02:35.123Z");
}

Test(calendar, always_is_plain_time)
{
	struct calendar c;

	calendar_init_24x7(&c, "24x7");
	cr_assert_eq(calendar_add(&c, 1000, 5000), 6000);
	cr_assert_eq(calendar_between(&c, 1000, 6000), 5000);
	cr_assert_eq(calendar_between(&c, 6000, 1000), 0);
	cr_assert_eq(calendar_add(&c, 1000, 0), 1000);
	calendar_fini(&c);
}

Test(calendar, weekend_and_holiday_are_skipped)
{
	struct calendar c;
	/* Friday 2026-11-20 16:00 local; 8 h working time per day here */
	int64_t t0 = at(2026, 11, 20, 16, 0, 480);

	workday(&c);
	/* Fri 16-18 (2 h), Sat/Sun off, Mon holiday, Tue 9-12 13-18 (8 h),
	 * Wed 8 h, Thu 9-12 (3 h) + 13:00-15:00 (2 h): 23 h lands Thu 15:00 */
	cr_assert_eq(calendar_add(&c, t0, 23 * H), at(2026, 11, 26, 15, 0, 480));
	cr_assert_eq(calendar_between(&c, t0, at(2026, 11, 26, 15, 0, 480)), 23 * H);
	/* nothing counts over the weekend and the holiday */
	cr_assert_eq(calendar_between(&c, at(2026, 11, 20, 18, 0, 480),
	    at(2026, 11, 24, 9, 0, 480)), 0);
	/* 2 h from Friday 16:00 ends exactly at 18:00, not after the weekend */
	cr_assert_eq(calendar_add(&c, t0, 2 * H), at(2026, 11, 20, 18, 0, 480));
	/* 2 h + 1 ms goes to Tuesday 09:00:00.001 */
	cr_assert_eq(calendar_add(&c, t0, 2 * H + 1), at(2026, 11, 24, 9, 0, 480) + 1);
	/* lunch break is skipped */
	cr_assert_eq(calendar_add(&c, at(2026, 11, 24, 11, 0, 480), 2 * H),
	    at(2026, 11, 24, 14, 0, 480));
	/* starting outside hours (Tue 03:00 local) starts the count at 09:00 */
	cr_assert_eq(calendar_add(&c, at(2026, 11, 24, 3, 0, 480), 1),
	    at(2026, 11, 24, 9, 0, 480) + 1);
	calendar_fini(&c);
}

Test(calendar, add_and_between_agree)
{
	struct calendar c;
	int64_t t0 = at(2026, 11, 18, 7, 13, 480) + 17;
	int64_t w;

	workday(&c);
	for (w = 1; w < 60 * H; w += 37 * M + 11) {
		int64_t x = calendar_add(&c, t0, w);

		cr_assert_eq(calendar_between(&c, t0, x), w, "w=%lld", (long long)w);
		cr_assert_lt(calendar_between(&c, t0, x - 1), w);
	}
	calendar_fini(&c);
}

Test(calendar, validation_reasons)
{
	struct calendar c;
	const char *why = NULL;

	calendar_init_workdays(&c, "x", 480);
	cr_assert_eq(calendar_validate(&c, &why), -EINVAL);
	cr_assert(strstr(why, "no working period"));

	calendar_add_period(&c, 18 * 60, 9 * 60);
	cr_assert_eq(calendar_validate(&c, &why), -EINVAL);
	cr_assert(strstr(why, "inverted"), "%s", why);

	calendar_init_workdays(&c, "x", 480);
	calendar_add_period(&c, 9 * 60, 13 * 60);
	calendar_add_period(&c, 12 * 60, 18 * 60);
	cr_assert_eq(calendar_validate(&c, &why), -EINVAL);
	cr_assert(strstr(why, "overlapping"), "%s", why);

	calendar_init_workdays(&c, "x", 480);
	calendar_add_period(&c, 9 * 60, 18 * 60);
	cr_assert_eq(calendar_validate(&c, &why), 0);
	c.weekdays = 0;
	cr_assert_eq(calendar_validate(&c, &why), -EINVAL);
	cr_assert(strstr(why, "weekday"));
	c.weekdays = CAL_WEEKDAYS_MON_FRI;
	c.utc_offset_min = 15 * 60;
	cr_assert_eq(calendar_validate(&c, &why), -EINVAL);
	cr_assert_eq(calendar_add_period(&c, 0, 1), 0);
	cr_assert_eq(calendar_add_period(&c, 2, 3), 0);
	cr_assert_eq(calendar_add_period(&c, 4, 5), 0);
	cr_assert_eq(calendar_add_period(&c, 6, 7), -ENOSPC);
}

Test(calendar, zones)
{
	int32_t off = 0;
	const char *why = NULL;

	cr_assert_eq(calendar_parse_zone("UTC+8", &off, &why), 0);
	cr_assert_eq(off, 480);
	cr_assert_eq(calendar_parse_zone("Asia/Shanghai", &off, &why), 0);
	cr_assert_eq(off, 480);
	cr_assert_eq(calendar_parse_zone("UTC-03:30", &off, &why), 0);
	cr_assert_eq(off, -210);
	cr_assert_eq(calendar_parse_zone("+05:45", &off, &why), 0);
	cr_assert_eq(off, 345);
	cr_assert_eq(calendar_parse_zone("UTC", &off, &why), 0);
	cr_assert_eq(off, 0);
	cr_assert_eq(calendar_parse_zone("Mars/Olympus", &off, &why), -EINVAL);
	cr_assert(strstr(why, "unknown time zone"), "%s", why);
	cr_assert_eq(calendar_parse_zone("Europe/Paris", &off, &why), -EINVAL);
	cr_assert_eq(calendar_parse_zone("UTC+15", &off, &why), -EINVAL);
	cr_assert_eq(calendar_parse_zone("UTC+8x", &off, &why), -EINVAL);
}

Test(calendar, dates)
{
	int32_t d;

	cr_assert_eq(calendar_parse_date("2024-02-29", &d), 0);
	cr_assert_eq(calendar_parse_date("2026-02-29", &d), -EINVAL);
	cr_assert_eq(calendar_parse_date("2026-13-01", &d), -EINVAL);
	cr_assert_eq(calendar_parse_date("2026-1-01", &d), -EINVAL);
	cr_assert_eq(calendar_parse_date("2026-01-01x", &d), -EINVAL);
}
