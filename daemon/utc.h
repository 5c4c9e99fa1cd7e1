/*
 * utc.h - instants as text and civil dates: the one place tocsin turns
 * int64 ms since the Unix epoch into "2026-11-23T13:45:01.123Z" and back,
 * and a day number into a year, month and day.
 *
 * Base layer: pure arithmetic, no libc time-zone state, no clock read, so
 * the correlation core, the SLA calendars, the log, the event encoder and
 * the replay reader all use it and all agree to the byte.  Civil dates are
 * proleptic Gregorian (Howard Hinnant's days_from_civil / civil_from_days,
 * public-domain algorithms); day 0 is 1970-01-01 and days before it are
 * negative.
 */
#ifndef TOCSIN_UTC_H
#define TOCSIN_UTC_H

#include <stddef.h>
#include <stdint.h>

#define UTC_MS_PER_DAY	86400000LL
#define UTC_LEN		25	/* "2026-11-23T13:45:01.123Z" + NUL */

/* Day number (days since 1970-01-01) of year y, month m (1-12), day d. */
int64_t	 utc_days_from_civil(int y, unsigned m, unsigned d);
/* The inverse: the civil date of day number z. */
void	 utc_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d);
/* Days in month m (1-12) of year y: 28-31; 0 for a month out of range. */
unsigned utc_days_in_month(int y, unsigned m);
/* The month of instant ms as one number, y * 12 + m - 1 (the history
 * files' month). */
int	 utc_month(int64_t ms);

/*
 * Writes instant ms as RFC 3339 UTC with milliseconds,
 * "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 characters and a NUL) into buf, which
 * holds UTC_LEN bytes.  RFC 3339 has four-digit years only, so an instant
 * before 0000-01-01 or after 9999-12-31 is written as that bound.  Returns
 * 24, the length written.  Never fails, never allocates.
 */
size_t	 utc_format(int64_t ms, char buf[UTC_LEN]);

/*
 * Parses "YYYY-MM-DDTHH:MM:SS[.fff]Z" (len bytes, no NUL needed; 'T', 't'
 * or a space between date and time; 'Z' or 'z', or a "+hh:mm"/"-hh:mm"
 * offset) into ms since the epoch; digits past milliseconds are truncated,
 * a leap second (:60) is taken as the next second's start.  Returns 0, or
 * -EINVAL for anything else (never reads past s + len).
 */
int	 utc_parse(const char *s, size_t len, int64_t *out);

/*
 * What utc_parse_memo() remembers between calls: the date of the last
 * time it read in the layout utc_format() writes.  Zero it before the
 * first call (UTC_MEMO_INIT); one per thread of parsing.
 */
struct utc_memo {
	char	 date[10];	/* "YYYY-MM-DD", valid when ok */
	int	 ok;		/* date and day_ms hold a parsed date */
	int64_t	 day_ms;	/* that date's 00:00:00.000Z */
};
#define UTC_MEMO_INIT	{ { 0 }, 0, 0 }

/*
 * utc_parse() with a memo: the same result (0 and *out, or -EINVAL) for
 * every input, whatever m holds.  A time in exactly the layout of
 * utc_format(), "YYYY-MM-DDTHH:MM:SS.mmmZ", on the date of the last such
 * time has only its time of day read (every digit and separator still
 * checked); any other input goes through utc_parse() and, in that layout,
 * becomes the memo.  For readers of recorded days, where every line
 * carries the same date.
 */
int	 utc_parse_memo(const char *s, size_t len, struct utc_memo *m,
	    int64_t *out);

#endif
