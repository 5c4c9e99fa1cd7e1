/*
 * ctlreport.h - `tocsinctl report`: reads tocsind's history for a month and
 * the two before it (daemon/report), and writes the report's three files
 * into a directory, each replaced whole (written aside, then renamed):
 *
 *	tocsin-report-YYYY-MM[-CUSTOMER].html		the page (reporthtml)
 *	tocsin-report-YYYY-MM[-CUSTOMER].csv		every figure
 *	tocsin-report-YYYY-MM[-CUSTOMER]-incidents.csv	every incident
 */
#ifndef TOCSIN_CTLREPORT_H
#define TOCSIN_CTLREPORT_H

#include <stdio.h>

struct ctlreport_cfg {
	const char	*history;	/* the directory of closed-*.jsonl */
	const char	*month;		/* YYYY-MM */
	const char	*customer;	/* one customer, or NULL: all */
	const char	*out;		/* the directory written */
};

/* 0 done; 2 usage or a file that cannot be read or written (enum
 * ctl_exit).  What was read and written goes to msg, problems to err. */
int	 ctlreport_run(const struct ctlreport_cfg *cfg, FILE *msg, FILE *err);

#endif
