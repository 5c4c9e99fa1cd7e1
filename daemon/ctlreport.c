/*
 * ctlreport.c - see ctlreport.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/ctlopt.h"
#include "daemon/ctlreport.h"
#include "daemon/mem.h"
#include "daemon/report.h"
#include "daemon/reporthtml.h"

/* One output file, written aside and renamed into place when whole. */
struct outf {
	char	 path[4096], tmp[4200];
	FILE	*fp;
};

static int
outf_open(struct outf *o, const char *dir, const char *base,
    const char *suffix, FILE *err)
{
	snprintf(o->path, sizeof(o->path), "%s/%s%s", dir, base, suffix);
	snprintf(o->tmp, sizeof(o->tmp), "%s.tmp", o->path);
	if ((o->fp = fopen(o->tmp, "w")) == NULL) {
		fprintf(err, "tocsinctl: %s: %s\n", o->tmp, strerror(errno));
		return -1;
	}
	return 0;
}

static int
outf_close(struct outf *o, int keep, FILE *err)
{
	int bad;

	if (o->fp == NULL)
		return 0;
	bad = ferror(o->fp);
	if (fclose(o->fp) != 0)
		bad = 1;
	o->fp = NULL;
	if (bad && keep)
		fprintf(err, "tocsinctl: %s: %s\n", o->tmp, strerror(errno));
	if (bad || !keep) {
		(void)unlink(o->tmp);
		return bad ? -1 : 0;
	}
	if (rename(o->tmp, o->path) < 0) {
		fprintf(err, "tocsinctl: %s: %s\n", o->path, strerror(errno));
		(void)unlink(o->tmp);
		return -1;
	}
	return 0;
}

/* The month n months before y-m. */
static void
month_back(int y, unsigned m, unsigned n, int *py, unsigned *pm)
{
	int k = y * 12 + (int)m - 1 - (int)n;

	*py = k / 12;
	*pm = (unsigned)(k % 12) + 1;
}

/* a customer id as a file name's part: [A-Za-z0-9._-], others '_' */
static void
name_part(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		    c == '_' ? (char)c : '_';
	}
	buf[i] = '\0';
}

/* What was read, on msg; malformed lines also on err. */
static void
read_said(FILE *msg, FILE *err, const struct report_set *s)
{
	char line[600];

	report_set_said(s, line, sizeof(line));
	fprintf(msg, "%s\n", line);
	if (s->malformed > 0)
		fprintf(err, "tocsinctl: %s\n", line);
}

int
ctlreport_run(const struct ctlreport_cfg *cfg, FILE *msg, FILE *err)
{
	struct report_set sets[3];
	const struct report_set *hist[2];
	const char **custs = NULL, *one[1];
	size_t ncust = 0;
	struct outf html = { 0 }, csv = { 0 }, incs = { 0 };
	struct reporthtml_src src;
	char base[256], part[128], e[512];
	struct stat st;
	int y, rc = CTL_EXIT_USAGE, loaded = 0;
	unsigned m;

	if (report_month_parse(cfg->month, &y, &m) < 0) {
		fprintf(err, "tocsinctl: --month \"%.32s\" is not YYYY-MM\n",
		    cfg->month);
		return CTL_EXIT_USAGE;
	}
	if (stat(cfg->history, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(err, "tocsinctl: history directory %s: %s (--history, "
		    "or `history` in the settings file; tocsind writes it in "
		    "daemon.state_dir/history)\n", cfg->history,
		    stat(cfg->history, &st) < 0 ? strerror(errno) :
		    "not a directory");
		return CTL_EXIT_USAGE;
	}
	for (; loaded < 3; loaded++) {
		int yy;
		unsigned mm;

		month_back(y, m, (unsigned)loaded, &yy, &mm);
		if (report_load(&sets[loaded], cfg->history, yy, mm, e,
		    sizeof(e)) < 0) {
			fprintf(err, "tocsinctl: %s\n", e);
			goto out;
		}
	}
	read_said(msg, err, &sets[0]);
	read_said(msg, err, &sets[1]);
	hist[0] = &sets[1];
	hist[1] = &sets[2];
	if (cfg->customer != NULL) {
		int found = 0;

		custs = report_customers(&sets[0], &ncust);
		for (size_t i = 0; i < ncust; i++)
			found |= strcmp(custs[i], cfg->customer) == 0;
		if (!found)
			fprintf(err, "tocsinctl: no incident of customer %s "
			    "closed in %s: the report says so\n",
			    cfg->customer, cfg->month);
		xfree(custs);
		one[0] = cfg->customer;
		custs = one;
		ncust = 1;
		name_part(cfg->customer, part, sizeof(part));
		snprintf(base, sizeof(base), "tocsin-report-%s-%s",
		    cfg->month, part);
	} else {
		custs = report_customers(&sets[0], &ncust);
		snprintf(base, sizeof(base), "tocsin-report-%s", cfg->month);
	}
	if (outf_open(&html, cfg->out, base, ".html", err) < 0 ||
	    outf_open(&csv, cfg->out, base, ".csv", err) < 0 ||
	    outf_open(&incs, cfg->out, base, "-incidents.csv", err) < 0)
		goto out;
	src.month = cfg->month;
	src.history = cfg->history;
	src.cur = &sets[0];
	src.prev = &sets[1];
	fputs(REPORT_CSV_HEADER, csv.fp);
	fputs(REPORT_INC_CSV_HEADER, incs.fp);
	reporthtml_begin(html.fp, &src, custs, ncust);
	for (size_t i = 0; i < ncust; i++) {
		struct report_rows rows = { 0 };
		const struct report_inc **v;
		size_t n;

		report_figures(&sets[0], hist, 2, custs[i], &rows);
		v = report_incidents(&sets[0], custs[i], &n);
		report_write_csv(csv.fp, cfg->month, custs[i], &rows);
		report_write_inc_csv(incs.fp, cfg->month, custs[i], v, n);
		reporthtml_customer(html.fp, custs[i], &rows, v, n);
		xfree(v);
		report_rows_fini(&rows);
	}
	reporthtml_end(html.fp);
	rc = CTL_EXIT_OK;
out:
	{
		/* every file closed, each renamed only when all were whole */
		int keep = rc == CTL_EXIT_OK, bad = 0;
		struct outf *f[3] = { &csv, &incs, &html };

		for (int i = 0; i < 3; i++)
			if (f[i]->fp != NULL && (ferror(f[i]->fp) ||
			    fflush(f[i]->fp) != 0))
				bad = 1;
		for (int i = 0; i < 3; i++)
			if (outf_close(f[i], keep && !bad, err) < 0)
				bad = 1;
		if (bad)
			rc = CTL_EXIT_USAGE;
	}
	if (rc == CTL_EXIT_OK)
		fprintf(msg, "wrote %s/%s.html, .csv and -incidents.csv: %zu "
		    "customer%s\n", cfg->out, base, ncust, ncust == 1 ? "" :
		    "s");
	if (custs != one)
		xfree(custs);
	while (loaded > 0)
		report_set_fini(&sets[--loaded]);
	return rc;
}
