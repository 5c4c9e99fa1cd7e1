/*
 * utc.c - see utc.h.
 *
 * The formatter writes digits by hand into a fixed template, two at a
 * time from a table: it runs for every instant of every incident event
 * (opened_at, raised_at, steps, deadlines), and snprintf() was a tenth of
 * a replay's time when it was used here; the pair table took it from
 * 246 to 138 instructions a call, plus 92 in utc_civil_from_days()
 * (callgrind, the encoder's run in docs/correlation.md).
 */
#include <errno.h>
#include <string.h>

#include "daemon/utc.h"

/* Floor division: instants before 1970 belong to the day before. */
static int64_t
utc_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t
utc_days_from_civil(int y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * ((int64_t)m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void
utc_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

unsigned
utc_days_in_month(int y, unsigned m)
{
	static const unsigned char mdays[12] =
	    { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m < 1 || m > 12)
		return 0;
	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return mdays[m - 1];
}

/* "00" to "99": two digits per table load (~8 instants an event). */
static const char utc_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";

/* v (0-99) as two digits at p. */
static void
utc_two(char *p, unsigned v)
{
	memcpy(p, utc_pairs + 2 * v, 2);
}

size_t
utc_format(int64_t ms, char buf[UTC_LEN])
{
	static const int64_t lo = -62167219200000LL;	/* 0000-01-01 */
	static const int64_t hi = 253402300799999LL;	/* 9999-12-31 end */
	int64_t day, rem;
	unsigned m, d;
	int y;

	if (ms < lo)
		ms = lo;
	else if (ms > hi)
		ms = hi;
	day = utc_floor_div(ms, UTC_MS_PER_DAY);
	rem = ms - day * UTC_MS_PER_DAY;
	utc_civil_from_days(day, &y, &m, &d);
	memcpy(buf, "0000-00-00T00:00:00.000Z", UTC_LEN);
	utc_two(buf, (unsigned)y / 100);
	utc_two(buf + 2, (unsigned)y % 100);
	utc_two(buf + 5, m);
	utc_two(buf + 8, d);
	utc_two(buf + 11, (unsigned)(rem / 3600000));
	utc_two(buf + 14, (unsigned)(rem / 60000 % 60));
	utc_two(buf + 17, (unsigned)(rem / 1000 % 60));
	buf[20] = (char)('0' + rem % 1000 / 100);
	utc_two(buf + 21, (unsigned)(rem % 100));
	return UTC_LEN - 1;
}

/* n decimal digits at s; 0 or -EINVAL. */
static int
utc_num(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int
utc_parse(const char *s, size_t len, int64_t *out)
{
	int y, mo, d, h, mi, sec, ms = 0, off = 0;
	size_t i = 19;

	if (len < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
	    s[16] != ':' || utc_num(s, 4, &y) || utc_num(s + 5, 2, &mo) ||
	    utc_num(s + 8, 2, &d) || utc_num(s + 11, 2, &h) ||
	    utc_num(s + 14, 2, &mi) || utc_num(s + 17, 2, &sec))
		return -EINVAL;
	if (d < 1 || (unsigned)d > utc_days_in_month(y, (unsigned)mo) ||
	    h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	if (s[i] == '.') {
		int nd = 0;

		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, nd++)
			if (nd < 3)
				ms = ms * 10 + (s[i] - '0');
		if (nd == 0)
			return -EINVAL;
		for (; nd < 3; nd++)
			ms *= 10;
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i + 6 == len && (s[i] == '+' || s[i] == '-') &&
	    s[i + 3] == ':') {
		int oh, om;

		if (utc_num(s + i + 1, 2, &oh) || utc_num(s + i + 4, 2, &om) ||
		    oh > 23 || om > 59)
			return -EINVAL;
		off = (oh * 60 + om) * (s[i] == '+' ? 1 : -1);
		i += 6;
	} else {
		return -EINVAL;
	}
	if (i != len)
		return -EINVAL;
	*out = ((utc_days_from_civil(y, (unsigned)mo, (unsigned)d) * 24 + h) *
	    60 + mi - off) * 60000LL + (int64_t)sec * 1000 + ms;
	return 0;
}
