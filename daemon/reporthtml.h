/*
 * reporthtml.h - the monthly report as one self-contained HTML page: no
 * script, no external file, inline CSS and SVG, printable (a page per
 * customer).  Every chart is drawn from report_figures() rows, and each
 * bar carries its row (data-row="section|group|item|measure", data-value)
 * so a test can find every drawn number in the CSV.
 */
#ifndef TOCSIN_REPORTHTML_H
#define TOCSIN_REPORTHTML_H

#include <stdio.h>

#include "daemon/report.h"

/* Breached incidents the page lists, most overdue first (the
 * incidents CSV has them all). */
#define REPORTHTML_BREACHES	100

/* What the page says about its input. */
struct reporthtml_src {
	const char	*month;		/* "YYYY-MM" */
	const char	*history;	/* the directory read */
	const struct report_set *cur, *prev;
};

/* The page's head and opening (title, what was read, the customers). */
void	 reporthtml_begin(FILE *fp, const struct reporthtml_src *src,
	    const char *const *customers, size_t ncustomers);
/* One customer's section: its rows and its incidents (closing order). */
void	 reporthtml_customer(FILE *fp, const char *customer,
	    const struct report_rows *rows, const struct report_inc *const *incs,
	    size_t nincs);
void	 reporthtml_end(FILE *fp);

/* s with &, <, >, " and ' escaped. */
void	 reporthtml_escape(FILE *fp, const char *s);

#endif
