/*
 * report.h - the monthly per-customer SLA report (`tocsinctl report`), a
 * projection of the history tocsind writes: one `closed` event
 * (tocsin.incident/1) per incident in state_dir/history/closed-YYYY-MM.jsonl
 * (docs/journal.md "Bounded by the open set").
 *
 * The report is a pure function of those files: the same files give the
 * same bytes (no clock read, no locale, every order a total one), which is
 * what lets a test compare two runs byte for byte and lets an auditor
 * recompute a month.  Three steps, each callable alone:
 *
 *	report_month_load()	the month's closed incidents, and the two months
 *				before it (trend, repeat repairs)
 *	report_figures()	every number of one customer's report as rows
 *				(section, group, item, measure, value)
 *	report_write_csv()	the rows as CSV; reporthtml.h draws the same
 *				rows as one self-contained HTML page with
 *				inline SVG charts, so every number in a chart
 *				is in the CSV
 *
 * tocsinctl.c runs them (`tocsinctl report`).
 *
 * docs/report.md lists every row, how each number is computed and the
 * choices where the brief was silent.
 */
#ifndef TOCSIN_REPORT_H
#define TOCSIN_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "correlator/sla.h"

enum report_kind { REPORT_SITE, REPORT_AREA, REPORT_COMPLAINT };

/* One clock of a closed incident, as its closed event left it. */
struct report_clock {
	uint8_t		 ran;		/* started (not idle) */
	uint8_t		 stopped;	/* stopped by the step it waits for */
	uint8_t		 met, breached;
	int64_t		 budget_ms;	/* budget_ms */
	int64_t		 used_ms;	/* budget_ms - remaining_ms */
};

/* One closed incident: the fields of its closed event the report reads. */
struct report_inc {
	char		*id, *site, *area;
	char		*cause;		/* root alarm code, "COMPLAINT", or
					 * "UNKNOWN" (no root) */
	char		*device;	/* the root alarm's device, or NULL */
	char		*planned_reason; /* NULL: none */
	char		*close_note;	/* the closing step's note, or NULL */
	char		**customers;
	size_t		 ncustomers;
	enum report_kind kind;
	uint64_t	 seq;
	int64_t		 opened_ms, closed_ms;
	int64_t		 restored_ms;	/* the last alarm clear, else closed */
	int64_t		 power_ms;	/* MAINS_FAIL time, raise to clear */
	uint32_t	 power_n;	/* MAINS_FAIL alarms with both times */
	uint8_t		 sev;		/* enum severity */
	uint8_t		 tier;		/* enum tier */
	uint8_t		 region;	/* enum region; REGION__COUNT: none
					 * (an area incident) */
	uint8_t		 planned, chronic;
	int8_t		 level;		/* escalation level, -1: none */
	/* Planned work runs no customer clock (DOMAIN.md 2): a planned
	 * incident is read with its clocks idle, no score and no grade,
	 * whatever the engine's never-started clocks say. */
	uint8_t		 score;		/* response score, 0: none */
	uint8_t		 grade;		/* enum sla_grade; SLA_GRADE_NONE */
	uint8_t		 satisfaction;	/* 1-5, 0: not rated */
	struct report_clock clk[SLA__NCLOCKS];
	uint64_t	 links_total;	/* area incidents */
	char		*file;		/* where it was read, for messages */
	uint64_t	 line;
};

/* A month of closed incidents, sorted by id, one per id. */
struct report_set {
	struct report_inc *v;
	size_t		 n, cap;
	int		 y;
	unsigned	 m;
	/* what reading met */
	uint64_t	 lines, closed, other_events, outside, duplicates,
			 malformed;
	char		 first_bad[256]; /* FILE:LINE: reason of the first */
	int		 missing;	/* the month's file does not exist */
};

/*
 * Parses one line of a history file.  1: a closed event, in *out (free
 * with report_inc_fini); 0: a valid event of another kind (skipped);
 * -1: malformed, with the reason in why.  Never reads past len.
 */
int	 report_parse_line(const char *line, size_t len,
	    struct report_inc *out, char *why, size_t whylen);
void	 report_inc_fini(struct report_inc *r);

/*
 * Reads DIR/closed-YYYY-MM.jsonl into s (zeroed first): the month's closed
 * events; a later event of the same incident (higher seq) replaces an
 * earlier one, an exact repeat (a sink that re-sent after a restart) is
 * counted in duplicates.  A missing file is an empty month (s->missing);
 * any other read error is -errno with a message in err.
 */
int	 report_load(struct report_set *s, const char *dir, int y, unsigned m,
	    char *err, size_t errlen);
void	 report_set_fini(struct report_set *s);

/*
 * What reading s met, as one line for people ("2026-11: 24 closed
 * incidents from 24 lines, 1 malformed line skipped (first: ...)"), for
 * tocsinctl's output and the page's header alike.
 */
void	 report_set_said(const struct report_set *s, char *buf, size_t len);

/* "YYYY-MM" -> y, m; 0 or -EINVAL. */
int	 report_month_parse(const char *s, int *y, unsigned *m);

/* The customers named by any incident of s, sorted; free the array (not
 * the strings, which s owns). */
const char **report_customers(const struct report_set *s, size_t *n);

/*
 * A figure: one number of a customer's report.  value is its exact text
 * (integers, or fixed decimals computed in integers), "" when undefined
 * (an average of nothing); num is the same number for drawing.
 */
struct report_row {
	const char	*section;	/* static */
	char		*group, *item;
	const char	*measure;	/* static */
	char		 value[24];
	double		 num;
	uint8_t		 defined;
};

struct report_rows {
	struct report_row *v;
	size_t		 n, cap;
};

/*
 * The rows of customer's report for month cur, with prev (the month
 * before) for the trend and hist[0..nhist) (the months before cur, most
 * recent first) for repeat repairs.  Rows come in a fixed order
 * (docs/report.md).
 */
void	 report_figures(const struct report_set *cur,
	    const struct report_set *const *hist, size_t nhist,
	    const char *customer, struct report_rows *out);
void	 report_rows_fini(struct report_rows *r);

/* The first row of (section, group, item, measure), any of them NULL for
 * "any", or NULL. */
const struct report_row *report_row_find(const struct report_rows *r,
	    const char *section, const char *group, const char *item,
	    const char *measure);

/*
 * The incidents of customer in cur in closing order, as pointers into cur
 * (free the array).
 */
const struct report_inc **report_incidents(const struct report_set *cur,
	    const char *customer, size_t *n);

/* ms as h:mm:ss (0:04:00, 30:00:00), past 100 h as NdHHh: ctlboard's
 * countdown with the hour always written. */
void	 report_dur(int64_t ms, char *buf, size_t len);

/* A breach's reason in words ("acknowledged 0:12:30 late; escalated to
 * headquarters"), "" when the incident has none. */
void	 report_breach_reason(const struct report_inc *r, char *buf,
	    size_t len);

/* CSV: RFC 4180 fields, UTF-8, "\n" line ends, one header line. */
#define REPORT_CSV_HEADER \
	"month,customer,section,group,item,measure,value\n"
#define REPORT_INC_CSV_HEADER \
	"month,customer,incident,kind,site,area,region,tier,severity,cause," \
	"opened_at,closed_at,planned,chronic,escalation,response_score," \
	"resolution_grade,satisfaction,ack_s,ack,arrive_s,arrive," \
	"resolve_s,resolve,outage_s,breach_reason\n"

/* The rows of one customer as CSV lines (no header). */
void	 report_write_csv(FILE *fp, const char *month, const char *customer,
	    const struct report_rows *rows);
/* The incidents of one customer as CSV lines (no header). */
void	 report_write_inc_csv(FILE *fp, const char *month,
	    const char *customer, const struct report_inc *const *v, size_t n);
/* s as one CSV field (quoted when it holds a comma, quote or newline). */
void	 report_csv_field(FILE *fp, const char *s);

#endif
