/*
 * fuzz_calendar.c - libFuzzer target for calendar parsing and arithmetic.
 *
 * The first 40 bytes build a calendar (offset, weekdays, up to four
 * periods, up to four holidays) and an instant and a working duration; the
 * rest is a string for calendar_parse_zone() and calendar_parse_date().
 * When the calendar validates, calendar_add() and calendar_between() must
 * agree: between(t, add(t, w)) == w and add() returns the earliest instant.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "correlator/calendar.h"
#include "daemon/utc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint16_t
u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct calendar c;
	const char *why;
	char *s;
	int32_t off, day;
	int64_t t, w, x;
	unsigned i, np, nh;

	if (size < 40)
		return 0;
	calendar_init_workdays(&c, "fuzz", (int16_t)u16(data) % 1000);
	c.weekdays = data[2];
	np = data[3] % (CALENDAR_MAX_PERIODS + 1);
	for (i = 0; i < np; i++)
		calendar_add_period(&c, u16(data + 4 + 4 * i) % 1500,
		    u16(data + 6 + 4 * i) % 1500);
	nh = data[20] % 5;
	for (i = 0; i < nh; i++)
		calendar_add_holiday(&c, 20400 + (int16_t)u16(data + 21 + 2 * i) % 60);
	t = ((int64_t)u16(data + 29) << 24 | (int64_t)u16(data + 31) << 8 |
	    data[33]) + 1700000000000LL;
	w = ((int64_t)u16(data + 34) << 16 | u16(data + 36)) % (30LL * CAL_MS_PER_DAY);
	if (data[38] & 1)
		c.always = 1;
	if (calendar_validate(&c, &why) == 0) {
		x = calendar_add(&c, t, w);
		if (x != INT64_MAX) {
			if (calendar_between(&c, t, x) != w)
				abort();
			if (w > 0 && calendar_between(&c, t, x - 1) >= w)
				abort();
		}
	}
	calendar_fini(&c);

	s = malloc(size - 39 + 1);
	memcpy(s, data + 39, size - 39);
	s[size - 39] = '\0';
	if (calendar_parse_zone(s, &off, &why) == 0 &&
	    (off < -14 * 60 || off > 14 * 60))
		abort();
	if (calendar_parse_date(s, &day) == 0) {
		int y;
		unsigned m, d;

		utc_civil_from_days(day, &y, &m, &d);
		if (utc_days_from_civil(y, m, d) != day)
			abort();
	}
	free(s);
	return 0;
}
