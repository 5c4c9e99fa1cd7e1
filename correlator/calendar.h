/*
 * calendar.h - service calendars: when an SLA clock's time counts.
 *
 * A calendar is either 24x7 (every millisecond counts) or a working-day
 * calendar: a set of weekdays, up to CALENDAR_MAX_PERIODS working periods per
 * working day (minutes of the local day, half-open [start, end)), a sorted
 * list of holidays (local dates on which nothing counts) and one fixed UTC
 * offset for the region.  Everything is pure arithmetic on int64 ms since the
 * Unix epoch: no libc time-zone state is ever read, so a calendar gives the
 * same answer in tests, replay and live.  Named zones are resolved to a fixed
 * offset by calendar_parse_zone() (a small table of zones without daylight
 * saving; anything else is an error the config reports).
 */
#ifndef TOCSIN_CALENDAR_H
#define TOCSIN_CALENDAR_H

#include <stddef.h>
#include <stdint.h>

#define CALENDAR_MAX_PERIODS	4
#define CALENDAR_NAME_MAX	32
#define CAL_MS_PER_MIN		60000LL
#define CAL_MS_PER_HOUR		3600000LL
#define CAL_MS_PER_DAY		86400000LL

/* Weekday bits; bit 0 is Sunday as in struct tm. */
enum cal_weekday { CAL_SUN, CAL_MON, CAL_TUE, CAL_WED, CAL_THU, CAL_FRI, CAL_SAT };
#define CAL_WEEKDAYS_MON_FRI	0x3e

struct cal_period {
	uint16_t	 start_min;	/* minute of the local day, 0-1439 */
	uint16_t	 end_min;	/* exclusive, start_min+1 .. 1440 */
};

struct calendar {
	char		 name[CALENDAR_NAME_MAX];	/* "24x7", "workday-cn" */
	int		 always;	/* 1: 24x7, the other fields are ignored */
	int32_t		 utc_offset_min; /* local = UTC + offset; -840..840 */
	uint8_t		 weekdays;	/* bit n set: weekday n works (0 = Sunday) */
	uint8_t		 nperiods;	/* used entries of periods[] */
	struct cal_period periods[CALENDAR_MAX_PERIODS]; /* ascending, disjoint */
	int32_t		*holidays;	/* local day numbers (days since 1970-01-01), sorted, owned */
	size_t		 nholidays;
};

/* Makes c the 24x7 calendar named name. */
void	 calendar_init_24x7(struct calendar *c, const char *name);
/*
 * Makes c a working-day calendar with no periods and no holidays: Monday to
 * Friday, offset utc_offset_min.  Add periods and holidays, then validate.
 */
void	 calendar_init_workdays(struct calendar *c, const char *name,
	    int32_t utc_offset_min);
/* Frees the holiday list (the struct itself belongs to the caller). */
void	 calendar_fini(struct calendar *c);
/* Deep copy of src into dst (dst is overwritten, not freed first). */
void	 calendar_copy(struct calendar *dst, const struct calendar *src);

/*
 * Appends a working period [start_min, end_min); order and overlap are
 * checked by calendar_validate().  Returns 0, or -ENOSPC when full.
 */
int	 calendar_add_period(struct calendar *c, unsigned start_min,
	    unsigned end_min);
/* Adds a holiday (local day number), keeping the list sorted; duplicates are ignored. */
void	 calendar_add_holiday(struct calendar *c, int32_t day);

/*
 * Checks a calendar.  Returns 0, or -EINVAL with *why set to a static
 * sentence naming the problem: an inverted or empty period, periods that
 * overlap or are out of order, a period outside the day, no working weekday,
 * an offset beyond +-14 h.
 */
int	 calendar_validate(const struct calendar *c, const char **why);

/*
 * Parses a zone: "UTC", "Z", "UTC+8", "UTC-03:30", "+08:00", or a name from
 * the built-in table of zones without daylight saving (Asia/Shanghai, ...).
 * Returns 0 and the offset in minutes, or -EINVAL with *why set.
 */
int	 calendar_parse_zone(const char *s, int32_t *offset_min, const char **why);
/* Parses "YYYY-MM-DD" into a day number.  Returns 0 or -EINVAL. */
int	 calendar_parse_date(const char *s, int32_t *day);


/*
 * The instant at which work_ms of working time has elapsed since t: the
 * smallest x >= t with calendar_between(c, t, x) == work_ms.  work_ms <= 0
 * returns t.  Returns INT64_MAX if the calendar has no working time in the
 * next ten years (a validated calendar always has some).
 */
int64_t	 calendar_add(const struct calendar *c, int64_t t, int64_t work_ms);
/* Working time in [a, b); 0 when b <= a. */
int64_t	 calendar_between(const struct calendar *c, int64_t a, int64_t b);

#endif
