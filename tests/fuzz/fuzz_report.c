/*
 * fuzz_report.c - libFuzzer target for the monthly report's history line
 * parser (report_parse_line) and what the report does with one incident.
 * The input is handed over with its exact length and no NUL terminator, so
 * a read past the line is caught by ASan.
 *
 * Any bytes give a closed incident (1), another event (0, nothing kept) or
 * a refusal (-1, nothing kept, the reason one line of text).  A parsed
 * incident must hold what the figures rely on (report.h): an id, an area,
 * a severity, a tier and a cause; a site unless it is an area storm;
 * opened <= restored <= closed; no clock both met and breached, and a
 * clock time either unknown (-1, budget too) or 0..; level, score and
 * satisfaction in range.  Its breach reason fits any buffer; its figures,
 * its CSV lines and its HTML section are then written (to /dev/null) for
 * each customer it names, so the arithmetic and the writers see every
 * shape the parser lets through.  report_inc_fini leaves it zeroed.
 *
 * Seeds (tests/fuzz/seeds/fuzz_report): closed events `tocsind --replay`
 * wrote for the demo fleet (site, planned, breached and escalated, area
 * storm), a complaint, an older line without budget_ms, another event and
 * malformed lines.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/mem.h"
#include "daemon/report.h"
#include "daemon/reporthtml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

static int
zeroed(const struct report_inc *r)
{
	static const struct report_inc zero;

	return memcmp(r, &zero, sizeof(zero)) == 0;
}

static int
inc_ok(const struct report_inc *r)
{
	if (r->id == NULL || r->id[0] == '\0' || r->area == NULL ||
	    r->sev >= SEV__COUNT || r->tier >= TIER__COUNT ||
	    r->region > REGION__COUNT || r->grade >= SLA_GRADE__COUNT ||
	    r->cause == NULL ||
	    (r->site == NULL) != (r->kind == REPORT_AREA) ||
	    r->kind > REPORT_COMPLAINT || r->seq == 0)
		return 0;
	if (r->opened_ms > r->restored_ms || r->restored_ms > r->closed_ms ||
	    r->power_ms < 0)
		return 0;
	if (r->level < -1 || r->level > 2 || r->score > 5 ||
	    r->satisfaction > 5 || r->planned > 1 || r->chronic > 1)
		return 0;
	if (r->ncustomers > 0 && r->customers == NULL)
		return 0;
	for (size_t i = 0; i < r->ncustomers; i++)
		if (r->customers[i] == NULL)
			return 0;
	for (int k = 0; k < SLA__NCLOCKS; k++) {
		const struct report_clock *c = &r->clk[k];

		if ((c->met && c->breached) || (c->stopped && !c->ran) ||
		    ((c->used_ms < 0) != (c->budget_ms < 0)) ||
		    (c->used_ms < -1 || c->budget_ms < -1))
			return 0;
	}
	return 1;
}

/* The reason in words, whole and cut short: always a terminated string. */
static void
reasons(const struct report_inc *r)
{
	char big[1024], small[13];

	memset(small, 'x', sizeof(small));
	report_breach_reason(r, big, sizeof(big));
	report_breach_reason(r, small, sizeof(small));
	if (memchr(big, '\0', sizeof(big)) == NULL ||
	    memchr(small, '\0', sizeof(small)) == NULL ||
	    strncmp(big, small, strlen(small)) != 0)
		abort();
}

/* The report of a month holding only r, for each customer it names. */
static void
report_of(struct report_inc *r)
{
	struct report_set cur = { .v = r, .n = 1, .cap = 1, .y = 2026,
	    .m = 11 }, prev = { .y = 2026, .m = 10, .missing = 1 };
	const struct report_set *hist[2] = { &prev, &cur };
	const struct reporthtml_src src = { "2026-11", "history", &cur,
	    &prev };
	const char **cust;
	size_t nc;

	cust = report_customers(&cur, &nc);
	if (nc > r->ncustomers)
		abort();
	reporthtml_begin(devnull, &src, cust, nc);
	for (size_t i = 0; i < nc; i++) {
		struct report_rows rows = { 0 };
		const struct report_inc **incs;
		size_t ni;

		/* the month as its own history too: a repeat of itself */
		report_figures(&cur, hist, 2, cust[i], &rows);
		for (size_t w = 0; w < rows.n; w++)
			if (memchr(rows.v[w].value, '\0',
			    sizeof(rows.v[w].value)) == NULL ||
			    (rows.v[w].defined != 0) !=
			    (rows.v[w].value[0] != '\0'))
				abort();
		incs = report_incidents(&cur, cust[i], &ni);
		if (ni != 1)
			abort();
		report_write_csv(devnull, "2026-11", cust[i], &rows);
		report_write_inc_csv(devnull, "2026-11", cust[i], incs, ni);
		reporthtml_customer(devnull, cust[i], &rows, incs, ni);
		xfree(incs);
		report_rows_fini(&rows);
	}
	xfree(cust);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report_inc r;
	char why[192];
	char *copy = malloc(size ? size : 1);
	int rc;

	if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	memcpy(copy, data, size);
	memset(why, 'x', sizeof(why));
	rc = report_parse_line(copy, size, &r, why, sizeof(why));
	if (rc < 0) {
		if (!zeroed(&r) || memchr(why, '\0', sizeof(why)) == NULL ||
		    strchr(why, '\n') != NULL || strchr(why, '\r') != NULL)
			abort();
	} else if (rc == 0) {
		if (!zeroed(&r))
			abort();
	} else if (rc == 1) {
		if (!inc_ok(&r))
			abort();
		reasons(&r);
		report_of(&r);
		report_inc_fini(&r);
		if (!zeroed(&r))
			abort();
	} else {
		abort();
	}
	free(copy);
	return 0;
}
