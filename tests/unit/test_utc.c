/*
 * test_utc.c - the one time formatter and civil-date routine: RFC 3339
 * with milliseconds both ways, offsets, leap days, instants before 1970,
 * the four-digit year bounds, and day numbers against known dates.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "daemon/utc.h"

static int64_t
parse(const char *s)
{
	int64_t t = 0;

	cr_assert_eq(utc_parse(s, strlen(s), &t), 0, "%s", s);
	return t;
}

Test(utc, format_known_instants)
{
	char buf[UTC_LEN];

	cr_assert_eq(utc_format(0, buf), 24);
	cr_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
	utc_format(1709251199999LL, buf);
	cr_assert_str_eq(buf, "2024-02-29T23:59:59.999Z");
	utc_format(-1, buf);
	cr_assert_str_eq(buf, "1969-12-31T23:59:59.999Z");
	utc_format(1795000000000LL, buf);
	cr_assert_str_eq(buf, "2026-11-18T11:06:40.000Z");
}

Test(utc, format_clamps_to_four_digit_years)
{
	char buf[UTC_LEN];

	utc_format(INT64_MAX, buf);
	cr_assert_str_eq(buf, "9999-12-31T23:59:59.999Z");
	utc_format(INT64_MIN, buf);
	cr_assert_str_eq(buf, "0000-01-01T00:00:00.000Z");
}

Test(utc, parse_forms)
{
	int64_t t;

	cr_assert_eq(parse("1970-01-01T00:00:00Z"), 0);
	cr_assert_eq(parse("1970-01-01t00:00:00.5z"), 500);
	cr_assert_eq(parse("1970-01-01 00:00:00.1239Z"), 123);
	cr_assert_eq(parse("1970-01-01T08:00:00+08:00"), 0);
	cr_assert_eq(parse("1969-12-31T22:30:00-01:30"), 0);
	cr_assert_eq(parse("2024-02-29T23:59:59.999Z"), 1709251199999LL);
	cr_assert_eq(parse("1970-01-01T00:00:60Z"), 60000);
	cr_assert_eq(utc_parse("2023-02-29T00:00:00Z", 20, &t), -EINVAL);
	cr_assert_eq(utc_parse("2023-13-01T00:00:00Z", 20, &t), -EINVAL);
	cr_assert_eq(utc_parse("2023-01-01T24:00:00Z", 20, &t), -EINVAL);
	cr_assert_eq(utc_parse("2023-01-01T00:00:00", 19, &t), -EINVAL);
	cr_assert_eq(utc_parse("2023-01-01T00:00:00.Z", 21, &t), -EINVAL);
	cr_assert_eq(utc_parse("2023-01-01T00:00:00+0800", 24, &t), -EINVAL);
	cr_assert_eq(utc_parse("2023-01-01T00:00:00Zx", 21, &t), -EINVAL);
	/* len bounds the read: the Z past it does not count */
	cr_assert_eq(utc_parse("2023-01-01T00:00:00Z", 19, &t), -EINVAL);
}

Test(utc, round_trip)
{
	char buf[UTC_LEN];

	for (int64_t t = -86400000LL * 800; t < 86400000LL * 800000;
	    t += 86400000LL * 37 + 3601013) {
		utc_format(t, buf);
		cr_assert_eq(parse(buf), t, "%s", buf);
	}
}

Test(utc, civil_dates)
{
	unsigned m, d;
	int y;

	cr_assert_eq(utc_days_from_civil(1970, 1, 1), 0);
	cr_assert_eq(utc_days_from_civil(2000, 3, 1), 11017);
	utc_civil_from_days(utc_days_from_civil(2026, 11, 23), &y, &m, &d);
	cr_assert(y == 2026 && m == 11 && d == 23);
	utc_civil_from_days(-1, &y, &m, &d);
	cr_assert(y == 1969 && m == 12 && d == 31);
	for (int64_t z = -800000; z < 800000; z += 997) {
		utc_civil_from_days(z, &y, &m, &d);
		cr_assert_eq(utc_days_from_civil(y, m, d), z);
	}
	cr_assert_eq(utc_days_in_month(2024, 2), 29);
	cr_assert_eq(utc_days_in_month(2023, 2), 28);
	cr_assert_eq(utc_days_in_month(1900, 2), 28);
	cr_assert_eq(utc_days_in_month(2000, 2), 29);
	cr_assert_eq(utc_days_in_month(2023, 4), 30);
	cr_assert_eq(utc_days_in_month(2023, 13), 0);
	cr_assert_eq(utc_days_in_month(2023, 0), 0);
}

/* utc_parse_memo() must answer as utc_parse() does, whatever it holds. */
static void
memo_agrees(struct utc_memo *m, const char *s)
{
	int64_t a = -1, b = -2;
	int ra = utc_parse(s, strlen(s), &a), rb = utc_parse_memo(s, strlen(s),
	    m, &b);

	cr_assert_eq(rb, ra, "%s", s);
	if (ra == 0)
		cr_assert_eq(b, a, "%s", s);
}

Test(utc, memo_same_answers)
{
	static const char *const lines[] = {
		"2026-11-23T10:00:00.123Z",	/* fills the memo */
		"2026-11-23T10:00:00.124Z",	/* a hit */
		"2026-11-23T23:59:60.999Z",	/* leap second, a hit */
		"2026-11-23T24:00:00.000Z",	/* hour out of range */
		"2026-11-23T10:60:00.000Z",
		"2026-11-23T10:00:61.000Z",
		"2026-11-23T1a:00:00.000Z",	/* a digit that is not */
		"2026-11-23T10:00:00.12aZ",
		"2026-11-23T10:00:00,123Z",	/* separators */
		"2026-11-23T10-00:00.123Z",
		"2026-11-23T10:00:00.123z",	/* other forms: the slow path */
		"2026-11-23t10:00:00.123Z",
		"2026-11-23 10:00:00.123Z",
		"2026-11-23T10:00:00.123+00:00",
		"2026-11-23T10:00:00Z",
		"2026-11-23T10:00:00.1234Z",
		"2026-11-24T00:00:00.000Z",	/* the next day replaces it */
		"2026-11-23T10:00:00.000Z",
		"2023-02-29T10:00:00.000Z",	/* no such day: never cached */
		"2023-02-29T10:00:00.001Z",
		"2024-02-29T10:00:00.000Z",
		"2024-02-29T10:00:00.001Z",
		"1969-12-31T23:59:59.999Z",	/* before the epoch */
		"1969-12-31T00:00:00.000Z",
	};
	struct utc_memo m = UTC_MEMO_INIT;

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		memo_agrees(&m, lines[i]);
	/* a zeroed memo never matches bytes that happen to be zeros */
	{
		struct utc_memo z = UTC_MEMO_INIT;
		char nul[24] = { 0 };
		int64_t t;

		memcpy(nul + 10, "T10:00:00.000Z", 14);
		cr_assert_eq(utc_parse_memo(nul, 24, &z, &t), -EINVAL);
	}
}

/* The month of an instant (the history files'), at the edges too. */
Test(utc, month_of_an_instant)
{
	/* 2026-11-30T23:59:59.999Z, 2026-12-01T00:00:00.000Z */
	cr_assert_eq(utc_month(1796083199999LL), 2026 * 12 + 10);
	cr_assert_eq(utc_month(1796083200000LL), 2026 * 12 + 11);
	cr_assert_eq(utc_month(0), 1970 * 12);
	cr_assert_eq(utc_month(-1), 1969 * 12 + 11);
}
