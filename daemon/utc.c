/*
 * utc.c - see utc.h.
 *
 * The formatter writes digits by hand into a fixed template, two at a
 * time from a table: it runs for every instant of every incident event
 * (opened_at, raised_at, steps, deadlines), and snprintf() was a tenth of
 * a replay's time when it was used here; the pair table took it from
 * 246 to 138 instructions a call, plus 92 in utc_civil_from_days()
 * (callgrind, the encoder's run in docs/correlation.md).
 *
 * utc_parse_memo() is the same parser for readers of recorded days: a
 * line's time in utc_format()'s layout on the date of the line before
 * costs a compare of the date and nine digit checks, not the date's
 * validation and days_from_civil() (302 -> 96 instructions a line,
 * callgrind on corrbench's day; docs/replay.md).  Only a date utc_parse()
 * accepted is remembered, so what it accepts stays the one rule.
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

int
utc_month(int64_t ms)
{
	unsigned m, d;
	int y;

	utc_civil_from_days(utc_floor_div(ms, UTC_MS_PER_DAY), &y, &m, &d);
	return y * 12 + (int)m - 1;
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

/* 8 bytes at s as a little-endian word (the first byte lowest). */
static uint64_t
utc_word(const char *s)
{
	uint64_t w;

	memcpy(&w, s, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w = __builtin_bswap64(w);
#endif
	return w;
}

#define UTC_HI	0xf0f0f0f0f0f0f0f0ULL	/* each byte's high nibble */

/*
 * The time of day of a string in utc_format()'s layout (len 24 checked by
 * the caller) in ms, or -1 if a separator, a digit or a range is wrong;
 * the same rules as utc_parse() (:60 is the next second's start).  Two
 * words, "HH:MM:SS" and ":SS.mmmZ", each XORed with its template: a digit
 * becomes 0-9 and a separator 0, and adding 6 to a digit's byte (15 to a
 * separator's) carries into the high nibble exactly when it is not (the
 * byte-by-byte loop was 150 instructions).
 */
static int64_t
utc_fixed_tod(const char *s)
{
	uint64_t a, b;
	unsigned h, mi, sec, ms;

	a = utc_word(s + 11) ^ utc_word("00:00:00");
	b = utc_word(s + 16) ^ utc_word(":00.000Z");
	if (s[10] != 'T' ||
	    ((a | (a + 0x06060f06060f0606ULL)) & UTC_HI) != 0 ||
	    ((b | (b + 0x0f0606060f06060fULL)) & UTC_HI) != 0)
		return -1;
	h = (unsigned)(a & 0xf) * 10 + (unsigned)(a >> 8 & 0xf);
	mi = (unsigned)(a >> 24 & 0xf) * 10 + (unsigned)(a >> 32 & 0xf);
	sec = (unsigned)(a >> 48 & 0xf) * 10 + (unsigned)(a >> 56 & 0xf);
	ms = (unsigned)(b >> 32 & 0xf) * 100 + (unsigned)(b >> 40 & 0xf) * 10 +
	    (unsigned)(b >> 48 & 0xf);
	if (h > 23 || mi > 59 || sec > 60)
		return -1;
	return ((int64_t)h * 60 + mi) * 60000 + (int64_t)sec * 1000 + ms;
}

int
utc_parse_memo(const char *s, size_t len, struct utc_memo *m, int64_t *out)
{
	int64_t tod;
	int rc;

	if (len == 24 && m->ok && memcmp(s, m->date, sizeof(m->date)) == 0 &&
	    (tod = utc_fixed_tod(s)) >= 0) {
		*out = m->day_ms + tod;
		return 0;
	}
	if ((rc = utc_parse(s, len, out)) != 0)
		return rc;
	if (len == 24 && (tod = utc_fixed_tod(s)) >= 0) {
		memcpy(m->date, s, sizeof(m->date));
		m->day_ms = *out - tod;
		m->ok = 1;
	}
	return 0;
}
