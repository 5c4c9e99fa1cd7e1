/*
 * reporthtml.c - see reporthtml.h.  Charts are horizontal bars: a label
 * column, bars scaled to the largest value of the chart, the value's text
 * after the bar (the CSV's text, never re-rounded).  Colours follow the NOC
 * page's (web/app.css): red breached or critical, green met.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correlator/fleet.h"
#include "correlator/sla.h"
#include "daemon/mem.h"
#include "daemon/reporthtml.h"
#include "daemon/utc.h"

#define W_LABEL		190	/* px: label column */
#define W_BAR		360	/* px: the longest bar */
#define W_SVG		(W_LABEL + W_BAR + 90)
#define H_BAR		18
#define H_GAP		6

static const char css[] =
"body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;"
"color:#1b1f24;margin:2em auto;max-width:60em;padding:0 1em}"
"h1{font-size:1.6em;margin-bottom:.2em}"
"h2{font-size:1.3em;border-bottom:2px solid #1b1f24;margin-top:2em}"
"h3{font-size:1.05em;margin:1.6em 0 .4em}"
"table{border-collapse:collapse;margin:.4em 0 1em;font-variant-numeric:"
"tabular-nums}"
"th,td{border:1px solid #c8ccd1;padding:.2em .5em;text-align:left;"
"vertical-align:top}"
"td.n,th.n{text-align:right}"
"th{background:#eef0f2}"
".tiles{display:flex;flex-wrap:wrap;gap:.6em;margin:1em 0}"
".tile{border:1px solid #c8ccd1;border-radius:4px;padding:.4em .8em;"
"min-width:8em}"
".tile b{display:block;font-size:1.5em}"
".muted{color:#5b636b}"
"svg text{font:12px system-ui,sans-serif;fill:#1b1f24}"
".bar{fill:#4a6fa5}.met{fill:#2e7d32}.breached{fill:#c62828}"
".sev-critical{fill:#c62828}.sev-major{fill:#ef6c00}"
".sev-minor{fill:#f9a825}.sev-warning{fill:#9e9e9e}"
".prev{fill:#9aa5b1}"
"@media print{section.customer{break-before:page}nav{display:none}}";

void
reporthtml_escape(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++)
		switch (*s) {
		case '&': fputs("&amp;", fp); break;
		case '<': fputs("&lt;", fp); break;
		case '>': fputs("&gt;", fp); break;
		case '"': fputs("&quot;", fp); break;
		case '\'': fputs("&#39;", fp); break;
		default: fputc(*s, fp);
		}
}

#define E(s)	reporthtml_escape(fp, (s))

/* seconds as h:mm:ss (report_dur) */
static void
dur(FILE *fp, const struct report_row *w)
{
	char b[32];

	if (w == NULL || !w->defined) {
		fputs("&ndash;", fp);
		return;
	}
	report_dur((int64_t)(w->num * 1000), b, sizeof(b));
	fputs(b, fp);
}

static void
val(FILE *fp, const struct report_row *w)
{
	if (w == NULL || !w->defined)
		fputs("&ndash;", fp);
	else
		fputs(w->value, fp);
}

static const char *
valtxt(const struct report_row *w)
{
	return w != NULL && w->defined ? w->value : "\xe2\x80\x93";
}

/* the row a bar draws, for the test that finds it in the CSV */
static void
data_row(FILE *fp, const struct report_row *w)
{
	fprintf(fp, " data-row=\"%s|", w->section);
	E(w->group);
	fputc('|', fp);
	E(w->item);
	fprintf(fp, "|%s\" data-value=\"%s\"", w->measure, w->value);
}

/* ---- charts ---- */

/* One bar of a chart: its label, and the rows stacked in it. */
struct bar {
	const char	*label;
	const struct report_row *seg[SEV__COUNT + 1];
	const char	*cls[SEV__COUNT + 1];
	size_t		 nseg;
	const struct report_row *text;	/* the value written after it */
};

static void
chart(FILE *fp, const char *title, const struct bar *b, size_t n)
{
	double max = 0;
	int h = (int)n * (H_BAR + H_GAP) + H_GAP;

	for (size_t i = 0; i < n; i++) {
		double t = 0;

		for (size_t k = 0; k < b[i].nseg; k++)
			if (b[i].seg[k]->defined)
				t += b[i].seg[k]->num;
		if (t > max)
			max = t;
	}
	fprintf(fp, "<svg role=\"img\" width=\"%d\" height=\"%d\" viewBox=\"0 0 "
	    "%d %d\"><title>", W_SVG, h, W_SVG, h);
	E(title);
	fputs("</title>\n", fp);
	for (size_t i = 0; i < n; i++) {
		int y = H_GAP + (int)i * (H_BAR + H_GAP);
		double x = W_LABEL;

		fprintf(fp, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">",
		    W_LABEL - 6, y + 13);
		E(b[i].label);
		fputs("</text>", fp);
		for (size_t k = 0; k < b[i].nseg; k++) {
			const struct report_row *w = b[i].seg[k];
			double wd = max > 0 && w->defined ?
			    w->num / max * W_BAR : 0;

			fprintf(fp, "<rect class=\"%s\" x=\"%.1f\" y=\"%d\" "
			    "width=\"%.1f\" height=\"%d\"", b[i].cls[k], x, y,
			    wd, H_BAR);
			data_row(fp, w);
			fputs("><title>", fp);
			E(w->item);
			fputs(": ", fp);
			E(valtxt(w));
			fputs("</title></rect>", fp);
			x += wd;
		}
		fprintf(fp, "<text x=\"%.1f\" y=\"%d\">", x + 6, y + 13);
		E(valtxt(b[i].text));
		fputs("</text>\n", fp);
	}
	fputs("</svg>\n", fp);
}

/* A chart of one bar per row of (section, "all", *, measure). */
static void
chart_rows(FILE *fp, const char *title, const struct report_rows *rows,
    const char *section, const char *measure)
{
	struct bar *b = xcalloc(rows->n + 1, sizeof(*b));
	size_t n = 0;

	for (size_t i = 0; i < rows->n; i++) {
		const struct report_row *w = &rows->v[i];

		if (strcmp(w->section, section) != 0 ||
		    strcmp(w->group, "all") != 0 ||
		    strcmp(w->measure, measure) != 0)
			continue;
		b[n].label = w->item;
		b[n].seg[0] = b[n].text = w;
		b[n].cls[0] = "bar";
		b[n].nseg = 1;
		n++;
	}
	if (n > 0)
		chart(fp, title, b, n);
	xfree(b);
}

/* ---- sections ---- */

static void
tile(FILE *fp, const char *label, const struct report_row *w)
{
	fputs("<div class=\"tile\"><b>", fp);
	val(fp, w);
	fputs("</b>", fp);
	E(label);
	fputs("</div>", fp);
}

#define R(s, g, i, m)	report_row_find(rows, (s), (g), (i), (m))

static void
sec_summary(FILE *fp, const struct report_rows *rows)
{
	fputs("<div class=\"tiles\">", fp);
	tile(fp, "incidents", R("summary", "all", "all", "incidents"));
	tile(fp, "complaints", R("summary", "all", "all", "complaints"));
	tile(fp, "with a breach", R("summary", "all", "all",
	    "breached_incidents"));
	tile(fp, "escalated", R("summary", "all", "all", "escalated"));
	tile(fp, "area storms", R("summary", "all", "all", "area_storms"));
	tile(fp, "planned", R("summary", "all", "all", "planned"));
	tile(fp, "chronic", R("summary", "all", "all", "chronic"));
	tile(fp, "response score (avg)", R("response_score", "all", "all",
	    "average"));
	tile(fp, "satisfaction (avg)", R("satisfaction", "all", "all",
	    "average"));
	fputs("</div>\n", fp);
}

/* enum severity's order */
static const char *const sevcls[SEV__COUNT] = { "sev-warning", "sev-minor",
    "sev-major", "sev-critical" };

static void
sec_causes(FILE *fp, const struct report_rows *rows)
{
	struct bar *b = xcalloc(rows->n + 1, sizeof(*b));
	size_t n = 0;

	fputs("<h3>Incidents by cause and severity</h3>\n", fp);
	for (size_t i = 0; i < rows->n; i++) {
		const struct report_row *w = &rows->v[i];

		if (strcmp(w->section, "by_cause") != 0)
			continue;
		if (strcmp(w->item, "all") == 0) {
			b[n].label = w->group;
			b[n].text = w;
			n++;
		} else if (n > 0 && b[n - 1].nseg < SEV__COUNT) {
			enum severity sv;

			if (fleet_severity_parse(w->item, &sv) < 0)
				continue;
			b[n - 1].seg[b[n - 1].nseg] = w;
			b[n - 1].cls[b[n - 1].nseg++] = sevcls[sv];
		}
	}
	if (n == 0)
		fputs("<p class=\"muted\">No incidents.</p>\n", fp);
	else
		chart(fp, "Incidents by cause, stacked by severity", b, n);
	xfree(b);
	if (n > 0) {
		fputs("<table><tr><th>cause</th>", fp);
		for (int sv = SEV__COUNT - 1; sv >= 0; sv--)
			fprintf(fp, "<th class=\"n\">%s</th>",
			    fleet_severity_name((enum severity)sv));
		fputs("<th class=\"n\">all</th></tr>\n", fp);
		for (size_t i = 0; i < rows->n; i++) {
			const struct report_row *w = &rows->v[i];

			if (strcmp(w->section, "by_cause") != 0 ||
			    strcmp(w->item, "all") != 0)
				continue;
			fputs("<tr><td>", fp);
			E(w->group);
			fputs("</td>", fp);
			for (int sv = SEV__COUNT - 1; sv >= 0; sv--) {
				const struct report_row *c = R("by_cause",
				    w->group, fleet_severity_name(
				    (enum severity)sv), "incidents");

				fprintf(fp, "<td class=\"n\">%s</td>",
				    c != NULL ? c->value : "0");
			}
			fprintf(fp, "<td class=\"n\">%s</td></tr>\n", w->value);
		}
		fputs("</table>\n", fp);
	}
}

/* met/breached bars and a table by tier/region for section's clocks */
static void
sec_clocks(FILE *fp, const struct report_rows *rows, const char *section,
    const char *const *clocks, const char *const *labels, size_t nclk)
{
	struct bar b[SLA__NCLOCKS];
	size_t n = 0;

	for (size_t k = 0; k < nclk; k++) {
		const struct report_row *m = R(section, clocks[k], "all", "met"),
		    *x = R(section, clocks[k], "all", "breached");

		if (m == NULL || x == NULL)
			continue;
		memset(&b[n], 0, sizeof(b[n]));
		b[n].label = labels[k];
		b[n].seg[0] = m;
		b[n].cls[0] = "met";
		b[n].seg[1] = x;
		b[n].cls[1] = "breached";
		b[n].nseg = 2;
		b[n].text = R(section, clocks[k], "all", "attainment_pct");
		n++;
	}
	chart(fp, "Clocks met (green) and breached (red), attainment %",
	    b, n);
	fputs("<table><tr><th>clock</th><th>tier / region</th>"
	    "<th class=\"n\">met</th><th class=\"n\">breached</th>"
	    "<th class=\"n\">attainment %</th><th class=\"n\">p50</th>"
	    "<th class=\"n\">p90</th><th class=\"n\">max</th></tr>\n", fp);
	for (size_t k = 0; k < nclk; k++)
		for (size_t i = 0; i < rows->n; i++) {
			const struct report_row *w = &rows->v[i];

			if (strcmp(w->section, section) != 0 ||
			    strcmp(w->group, clocks[k]) != 0 ||
			    strcmp(w->measure, "met") != 0)
				continue;
			fputs("<tr><td>", fp);
			E(labels[k]);
			fputs("</td><td>", fp);
			E(w->item);
			fprintf(fp, "</td><td class=\"n\">%s</td>", w->value);
			fputs("<td class=\"n\">", fp);
			val(fp, R(section, clocks[k], w->item, "breached"));
			fputs("</td><td class=\"n\">", fp);
			val(fp, R(section, clocks[k], w->item,
			    "attainment_pct"));
			fputs("</td><td class=\"n\">", fp);
			dur(fp, R(section, clocks[k], w->item, "p50_s"));
			fputs("</td><td class=\"n\">", fp);
			dur(fp, R(section, clocks[k], w->item, "p90_s"));
			fputs("</td><td class=\"n\">", fp);
			dur(fp, R(section, clocks[k], w->item, "max_s"));
			fputs("</td></tr>\n", fp);
		}
	fputs("</table>\n", fp);
}

/* how late an incident's worst breached clock was, ms (0: unknown) */
static int64_t
overrun(const struct report_inc *r)
{
	int64_t w = -1;

	for (unsigned c = 0; c < SLA__NCLOCKS; c++) {
		const struct report_clock *k = &r->clk[c];

		if (k->breached && w < 0)
			w = 0;
		if (k->breached && k->used_ms >= 0 &&
		    k->used_ms - k->budget_ms > w)
			w = k->used_ms - k->budget_ms;
	}
	return w;
}

static int
overrun_cmp(const void *a, const void *b)
{
	const struct report_inc *x = *(const struct report_inc *const *)a,
	    *y = *(const struct report_inc *const *)b;
	int64_t ox = overrun(x), oy = overrun(y);

	if (ox != oy)
		return ox > oy ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* The worst breaches first; the page lists at most REPORTHTML_BREACHES,
 * the incidents CSV every one. */
static void
sec_breaches(FILE *fp, const struct report_inc *const *incs, size_t n)
{
	const struct report_inc **v = xcalloc(n + 1, sizeof(*v));
	size_t k = 0;

	fputs("<h3>Breaches and their reasons</h3>\n", fp);
	for (size_t i = 0; i < n; i++)
		if (overrun(incs[i]) >= 0)
			v[k++] = incs[i];
	qsort(v, k, sizeof(*v), overrun_cmp);
	if (k == 0)
		fputs("<p class=\"muted\">No clock was breached.</p>\n", fp);
	else if (k > REPORTHTML_BREACHES)
		fprintf(fp, "<p class=\"muted\">The %d most overdue of %zu breached "
		    "incidents; the incidents CSV has every one "
		    "(<code>breach_reason</code>).</p>\n", REPORTHTML_BREACHES,
		    k);
	for (size_t i = 0; i < k && i < REPORTHTML_BREACHES; i++) {
		const struct report_inc *r = v[i];
		char why[512], t[UTC_LEN];

		if (i == 0)
			fputs("<table><tr><th>incident</th><th>site</th>"
			    "<th>tier</th><th>region</th><th>cause</th>"
			    "<th>opened (UTC)</th><th>reason</th>"
			    "<th>closing note</th></tr>\n", fp);
		report_breach_reason(r, why, sizeof(why));
		utc_format(r->opened_ms, t);
		t[16] = '\0';		/* to the minute */
		fputs("<tr><td>", fp);
		E(r->id);
		fputs("</td><td>", fp);
		E(r->site != NULL ? r->site : r->area);
		fputs("</td><td>", fp);
		E(fleet_tier_name((enum tier)r->tier));
		fputs("</td><td>", fp);
		E(r->region < REGION__COUNT ?
		    fleet_region_name((enum region)r->region) : "");
		fputs("</td><td>", fp);
		E(r->cause);
		fputs("</td><td>", fp);
		E(t);
		fputs("</td><td>", fp);
		E(why);
		fputs("</td><td>", fp);
		E(r->close_note != NULL ? r->close_note : "");
		fputs("</td></tr>\n", fp);
	}
	if (k > 0)
		fputs("</table>\n", fp);
	xfree(v);
}

/* a table of the rows of section: group, item, value */
static void
sec_pairs(FILE *fp, const struct report_rows *rows, const char *section,
    const char *h1, const char *h2, const char *h3, const char *none,
    unsigned mark_at, const char *mark)
{
	size_t k = 0;

	for (size_t i = 0; i < rows->n; i++) {
		const struct report_row *w = &rows->v[i];

		if (strcmp(w->section, section) != 0)
			continue;
		if (k++ == 0)
			fprintf(fp, "<table><tr><th>%s</th><th>%s</th>"
			    "<th class=\"n\">%s</th>%s</tr>\n", h1, h2, h3,
			    mark != NULL ? "<th></th>" : "");
		fputs("<tr><td>", fp);
		E(w->group);
		fputs("</td><td>", fp);
		E(w->item);
		fprintf(fp, "</td><td class=\"n\">%s</td>", w->value);
		if (mark != NULL)
			fprintf(fp, "<td>%s</td>", w->num >= mark_at ? mark :
			    "");
		fputs("</tr>\n", fp);
	}
	if (k == 0)
		fprintf(fp, "<p class=\"muted\">%s</p>\n", none);
	else
		fputs("</table>\n", fp);
}

/* the trend's measures in words */
static const char *
trend_label(const char *m)
{
	static const char *const l[][2] = {
		{ "incidents", "incidents" },
		{ "breached_incidents", "incidents with a breach" },
		{ "ack_attainment_pct", "acknowledged in time, %" },
		{ "resolve_attainment_pct", "resolved in time, %" },
		{ "response_score_average", "response score, average" },
		{ "satisfaction_average", "satisfaction, average" },
	};

	for (size_t i = 0; i < sizeof(l) / sizeof(l[0]); i++)
		if (strcmp(l[i][0], m) == 0)
			return l[i][1];
	return m;
}

static void
sec_trend(FILE *fp, const struct report_rows *rows)
{
	fputs("<h3>Trend against the previous month</h3>\n<table><tr>"
	    "<th>measure</th><th class=\"n\">previous</th>"
	    "<th class=\"n\">this month</th><th></th></tr>\n", fp);
	for (size_t i = 0; i < rows->n; i++) {
		const struct report_row *p = &rows->v[i], *c;
		double max;

		if (strcmp(p->section, "trend") != 0 ||
		    strcmp(p->item, "previous") != 0)
			continue;
		c = R("trend", p->group, "current", "value");
		fputs("<tr><td>", fp);
		E(trend_label(p->group));
		fputs("</td><td class=\"n\">", fp);
		val(fp, p);
		fputs("</td><td class=\"n\">", fp);
		val(fp, c);
		fputs("</td><td><svg width=\"130\" height=\"24\">", fp);
		max = (p->defined ? p->num : 0);
		if (c != NULL && c->defined && c->num > max)
			max = c->num;
		if (p->defined) {
			fprintf(fp, "<rect class=\"prev\" x=\"0\" y=\"2\" "
			    "width=\"%.1f\" height=\"9\"", max > 0 ? p->num /
			    max * 120 : 0);
			data_row(fp, p);
			fputs("/>", fp);
		}
		if (c != NULL && c->defined) {
			fprintf(fp, "<rect class=\"bar\" x=\"0\" y=\"13\" "
			    "width=\"%.1f\" height=\"9\"", max > 0 ? c->num /
			    max * 120 : 0);
			data_row(fp, c);
			fputs("/>", fp);
		}
		fputs("</svg></td></tr>\n", fp);
	}
	fputs("</table>\n", fp);
}

/* A 5-to-1 distribution, its average and how many it counts. */
static void
sec_distribution(FILE *fp, const struct report_rows *rows, const char *head,
    const char *title, const char *section, const char *measure,
    const char *counted, const char *what)
{
	fprintf(fp, "<h3>%s</h3>\n", head);
	chart_rows(fp, title, rows, section, measure);
	fputs("<p>Average ", fp);
	val(fp, R(section, "all", "all", "average"));
	fputs(" over ", fp);
	val(fp, R(section, "all", "all", counted));
	fprintf(fp, " %s.</p>\n", what);
}

/* ---- the page ---- */

static void
month_name(const char *month, char *buf, size_t len)
{
	static const char *const names[12] = { "January", "February",
	    "March", "April", "May", "June", "July", "August", "September",
	    "October", "November", "December" };
	int y;
	unsigned m;

	if (report_month_parse(month, &y, &m) == 0)
		snprintf(buf, len, "%s %d", names[m - 1], y);
	else
		snprintf(buf, len, "%s", month);
}

static void
anchor(FILE *fp, const char *customer)
{
	fputs("c-", fp);
	for (const unsigned char *s = (const unsigned char *)customer; *s;
	    s++)
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_')
			fputc(*s, fp);
		else
			fprintf(fp, ".%02x", *s);
}

static void
read_note(FILE *fp, const char *what, const struct report_set *s)
{
	char line[600];

	if (s == NULL)
		return;
	report_set_said(s, line, sizeof(line));
	fprintf(fp, "<li>%s ", what);
	E(line);
	fputs("</li>\n", fp);
}

void
reporthtml_begin(FILE *fp, const struct reporthtml_src *src,
    const char *const *customers, size_t n)
{
	char mn[32];

	month_name(src->month, mn, sizeof(mn));
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width\">\n"
	    "<title>tocsin operation analysis ", fp);
	E(src->month);
	fprintf(fp, "</title>\n<style>%s</style>\n</head>\n<body>\n<header>\n"
	    "<h1>Operation analysis report, %s</h1>\n"
	    "<p class=\"muted\">Incidents closed in the month (UTC), from "
	    "tocsind's history in <code>", css, mn);
	E(src->history);
	fputs("</code>. Durations are h:mm:ss of SLA clock time "
	    "(paused time and a clock's calendar excluded); p50/p90 are "
	    "nearest-rank percentiles. Every number here is in the CSV files "
	    "written beside this page.</p>\n<ul class=\"muted\">\n", fp);
	read_note(fp, "read", src->cur);
	read_note(fp, "compared with", src->prev);
	fputs("</ul>\n<nav><p>Customers:", fp);
	for (size_t i = 0; i < n; i++) {
		fputs(i > 0 ? ", " : " ", fp);
		fputs("<a href=\"#", fp);
		anchor(fp, customers[i]);
		fputs("\">", fp);
		E(customers[i]);
		fputs("</a>", fp);
	}
	if (n == 0)
		fputs(" none: no incident closed in the month.", fp);
	fputs("</p></nav>\n</header>\n", fp);
}

void
reporthtml_customer(FILE *fp, const char *customer,
    const struct report_rows *rows, const struct report_inc *const *incs,
    size_t nincs)
{
	static const char *const clocks[SLA__NCLOCKS] = { "ack", "arrive",
	    "resolve" };
	static const char *const clabels[SLA__NCLOCKS] = { "acknowledge",
	    "arrive on site", "resolve" };
	static const char *const kclocks[2] = { "ack", "resolve" };
	static const char *const klabels[2] = { "respond", "resolve" };
	const struct report_row *w;

	fputs("<section class=\"customer\" id=\"", fp);
	anchor(fp, customer);
	fputs("\">\n<h2>Customer ", fp);
	E(customer);
	fputs("</h2>\n", fp);
	sec_summary(fp, rows);
	sec_causes(fp, rows);

	fputs("<h3>SLA attainment by clock, tier and region class</h3>\n"
	    "<p class=\"muted\">Site incidents outside planned work; a clock "
	    "counts once it was met or breached.</p>\n", fp);
	sec_clocks(fp, rows, "clock", clocks, clabels, SLA__NCLOCKS);

	sec_distribution(fp, rows, "Response score", "Incidents by response "
	    "score (points)", "response_score", "incidents", "scored",
	    "scored incidents");
	fputs("<h3>Resolution grade</h3>\n", fp);
	chart_rows(fp, "Incidents by resolution grade", rows,
	    "resolution_grade", "incidents");

	sec_breaches(fp, incs, nincs);

	fputs("<h3>Outages and power</h3>\n<p>Longest outage: ", fp);
	w = R("outage", "longest", NULL, "seconds");
	dur(fp, w);
	if (w != NULL && w->defined) {
		fputs(" (incident ", fp);
		E(w->item);
		fputs(")", fp);
	}
	fputs(". Average site power-loss time: ", fp);
	dur(fp, R("outage", "power_loss", "all", "average_s"));
	fputs(" over ", fp);
	val(fp, R("outage", "power_loss", "all", "alarms"));
	fputs(" mains failures.</p>\n", fp);

	fputs("<h3>Chronic sites and repeat devices</h3>\n", fp);
	sec_pairs(fp, rows, "chronic", "site", "fault", "chronic incidents",
	    "No chronic site.", 0, NULL);
	sec_pairs(fp, rows, "repeat", "device", "fault",
	    "incidents in 3 months", "No device failed twice in three months.",
	    3, "replace the device");

	fputs("<h3>Planned work</h3>\n", fp);
	sec_pairs(fp, rows, "planned", "site", "reason", "incidents",
	    "No planned work.", 0, NULL);

	fputs("<h3>Escalations</h3>\n", fp);
	chart_rows(fp, "Incidents by the highest escalation level", rows,
	    "escalation", "incidents");

	fputs("<h3>Complaints</h3>\n", fp);
	w = R("summary", "all", "all", "complaints");
	if (w != NULL && w->num > 0)
		sec_clocks(fp, rows, "complaint", kclocks, klabels, 2);
	else
		fputs("<p class=\"muted\">No complaint.</p>\n", fp);

	sec_distribution(fp, rows, "Satisfaction from follow-up visits",
	    "Closes by the customer's rating (1-5)", "satisfaction", "closes",
	    "rated", "rated closes");

	sec_trend(fp, rows);
	fputs("</section>\n", fp);
}

void
reporthtml_end(FILE *fp)
{
	fputs("<footer class=\"muted\"><p>tocsin " TOCSIN_VERSION
	    "; docs/report.md says how each number is computed.</p>"
	    "</footer>\n</body>\n</html>\n", fp);
}
