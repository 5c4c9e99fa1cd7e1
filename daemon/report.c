/*
 * report.c - see report.h.  Reading is jansson (one parser for every JSON
 * tocsin reads); numbers are computed in integers and written as fixed
 * decimals, so a figure's text never depends on floating-point rounding
 * or the locale.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "correlator/fleet.h"
#include "correlator/sla.h"
#include "daemon/ctlboard.h"
#include "daemon/mem.h"
#include "daemon/report.h"
#include "daemon/utc.h"

#define NCLK	SLA__NCLOCKS

/* ---- one line ---- */

void
report_inc_fini(struct report_inc *r)
{
	xfree(r->id);
	xfree(r->site);
	xfree(r->area);
	xfree(r->cause);
	xfree(r->device);
	xfree(r->planned_reason);
	xfree(r->close_note);
	for (size_t i = 0; i < r->ncustomers; i++)
		xfree(r->customers[i]);
	xfree(r->customers);
	xfree(r->file);
	memset(r, 0, sizeof(*r));
}

/* A copy of o[key] if it is a string, else NULL. */
static char *
jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? xstrdup(s) : NULL;
}

/* o[key] as an instant; 0 and *ms, or -1. */
static int
jtime(json_t *o, const char *key, int64_t *ms)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		return -1;
	return utc_parse(json_string_value(v), json_string_length(v), ms) == 0
	    ? 0 : -1;
}

/* o[key] as an integer in lo..hi, null: dflt; 0, or -1. */
static int
jint(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t dflt,
    int64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL || json_is_null(v)) {
		*out = dflt;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return -1;
	*out = json_integer_value(v);
	return 0;
}

#define BAD(...) do { snprintf(why, whylen, __VA_ARGS__); goto bad; } while (0)

static int
parse_clock(json_t *c, struct report_clock *k)
{
	const char *st = json_string_value(json_object_get(c, "state"));
	json_t *b = json_object_get(c, "budget_ms"),
	    *r = json_object_get(c, "remaining_ms");

	if (st == NULL || !json_is_integer(r) ||
	    !json_is_boolean(json_object_get(c, "met")) ||
	    !json_is_boolean(json_object_get(c, "breached")))
		return -1;
	if (strcmp(st, "idle") != 0 && strcmp(st, "running") != 0 &&
	    strcmp(st, "stopped") != 0)
		return -1;
	k->ran = strcmp(st, "idle") != 0;
	k->stopped = strcmp(st, "stopped") == 0;
	k->met = json_is_true(json_object_get(c, "met"));
	k->breached = json_is_true(json_object_get(c, "breached"));
	if (k->met && k->breached)
		return -1;
	/* budget_ms came with the report; older lines leave times unknown */
	if (json_is_integer(b) && json_integer_value(b) >= 0 &&
	    json_integer_value(b) < INT64_MAX / 4 &&
	    json_integer_value(r) > -INT64_MAX / 4 &&
	    json_integer_value(r) <= json_integer_value(b)) {
		k->budget_ms = json_integer_value(b);
		k->used_ms = k->budget_ms - json_integer_value(r);
	} else {
		k->budget_ms = k->used_ms = -1;
	}
	return 0;
}

int
report_parse_line(const char *line, size_t len, struct report_inc *r,
    char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *j, *inc, *v, *a;
	const char *s;
	enum severity sev;
	enum tier tier;
	enum region reg = REGION__COUNT;
	enum sla_grade grade = SLA_GRADE_NONE;
	int64_t n;
	size_t i;

	memset(r, 0, sizeof(*r));
	j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		/* jansson quotes the input near the error: keep it one line */
		for (char *p = jerr.text; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
		snprintf(why, whylen, "not JSON: %s (column %d)", jerr.text,
		    jerr.column);
		return -1;
	}
	if (!json_is_object(j))
		BAD("not a JSON object");
	s = json_string_value(json_object_get(j, "schema"));
	if (s == NULL || strcmp(s, "tocsin.incident/1") != 0)
		BAD("schema is not \"tocsin.incident/1\"");
	s = json_string_value(json_object_get(j, "event"));
	if (s == NULL)
		BAD("no \"event\"");
	if (strcmp(s, "closed") != 0) {
		json_decref(j);
		return 0;
	}
	if (jint(j, "seq", 1, INT64_MAX, 0, &n) < 0 || n == 0)
		BAD("\"seq\" is not a number from 1");
	r->seq = (uint64_t)n;
	if (jtime(j, "at", &r->closed_ms) < 0)
		BAD("\"at\" is not an RFC 3339 UTC time");
	inc = json_object_get(j, "incident");
	if (!json_is_object(inc))
		BAD("no \"incident\" object");
	if ((r->id = jstr(inc, "id")) == NULL || r->id[0] == '\0')
		BAD("no incident \"id\"");
	s = json_string_value(json_object_get(inc, "kind"));
	if (s != NULL && strcmp(s, "site") == 0)
		r->kind = REPORT_SITE;
	else if (s != NULL && strcmp(s, "area") == 0)
		r->kind = REPORT_AREA;
	else if (s != NULL && strcmp(s, "complaint") == 0)
		r->kind = REPORT_COMPLAINT;
	else
		BAD("\"kind\" is not site, area or complaint");
	r->site = jstr(inc, "site");
	if ((r->site == NULL) != (r->kind == REPORT_AREA))
		BAD("\"site\" does not match the kind");
	if ((r->area = jstr(inc, "area")) == NULL)
		BAD("no \"area\"");
	/* The names are tocsin's own: one not in its tables is a bad line,
	 * not a new row of the report. */
	if ((s = json_string_value(json_object_get(inc, "region"))) != NULL &&
	    fleet_region_parse(s, &reg) < 0)
		BAD("\"region\" is not A, B or C");
	if ((s = json_string_value(json_object_get(inc, "severity"))) ==
	    NULL || fleet_severity_parse(s, &sev) < 0)
		BAD("\"severity\" is not a severity");
	if ((s = json_string_value(json_object_get(inc, "tier"))) == NULL ||
	    fleet_tier_parse(s, &tier) < 0)
		BAD("\"tier\" is not a tier");
	r->region = (uint8_t)reg;
	r->sev = (uint8_t)sev;
	r->tier = (uint8_t)tier;
	if (jtime(inc, "opened_at", &r->opened_ms) < 0 ||
	    r->opened_ms > r->closed_ms)
		BAD("\"opened_at\" is not a time before \"at\"");
	v = json_object_get(inc, "root_cause");
	if (json_is_object(v)) {
		if ((r->cause = jstr(v, "alarm")) == NULL ||
		    (r->device = jstr(v, "device")) == NULL)
			BAD("\"root_cause\" lacks \"alarm\" or \"device\"");
	} else if (v != NULL && !json_is_null(v)) {
		BAD("\"root_cause\" is not an object or null");
	}
	if (r->cause == NULL)
		r->cause = xstrdup(r->kind == REPORT_COMPLAINT ? "COMPLAINT" :
		    "UNKNOWN");
	/* the alarms: when service came back, and mains time */
	r->restored_ms = 0;
	a = json_object_get(inc, "alarms");
	if (a != NULL && !json_is_array(a))
		BAD("\"alarms\" is not an array");
	json_array_foreach(a, i, v) {
		int64_t ra, cl;
		int open = json_is_true(json_object_get(v, "active")) ||
		    json_is_null(json_object_get(v, "cleared_at"));

		if (jtime(v, "raised_at", &ra) < 0)
			BAD("alarm %zu: no \"raised_at\"", i);
		if (open) {
			r->restored_ms = r->closed_ms;
			continue;
		}
		if (jtime(v, "cleared_at", &cl) < 0)
			BAD("alarm %zu: \"cleared_at\" is not a time", i);
		if (cl > r->restored_ms)
			r->restored_ms = cl;
		s = json_string_value(json_object_get(v, "code"));
		if (s != NULL && strcmp(s, "MAINS_FAIL") == 0 && cl >= ra) {
			r->power_ms += cl - ra;
			r->power_n++;
		}
	}
	if (r->restored_ms == 0 || r->restored_ms > r->closed_ms)
		r->restored_ms = r->closed_ms;
	if (r->restored_ms < r->opened_ms)
		r->restored_ms = r->opened_ms;
	a = json_object_get(inc, "customers");
	if (!json_is_array(a))
		BAD("no \"customers\" array");
	r->customers = xcalloc(json_array_size(a) + 1, sizeof(char *));
	json_array_foreach(a, i, v) {
		if ((r->customers[i] = jstr(v, "id")) == NULL)
			BAD("customer %zu has no \"id\"", i);
		r->ncustomers = i + 1;
	}
	r->planned = json_is_true(json_object_get(inc, "planned"));
	r->chronic = json_is_true(json_object_get(inc, "chronic"));
	r->planned_reason = jstr(inc, "planned_reason");
	v = json_object_get(inc, "clocks");
	if (v != NULL && !json_is_object(v))
		BAD("\"clocks\" is not an object");
	for (unsigned k = 0; k < NCLK; k++) {
		json_t *c = json_object_get(v,
		    sla_clock_name((enum sla_clock_kind)k));

		if (c != NULL && parse_clock(c, &r->clk[k]) < 0)
			BAD("clock \"%s\" is malformed",
			    sla_clock_name((enum sla_clock_kind)k));
	}
	if (jint(inc, "escalation_level", 0, SLA_LEVEL__COUNT - 1, -1, &n) < 0)
		BAD("\"escalation_level\" is not a level");
	r->level = (int8_t)n;
	if (jint(inc, "response_score", 1, 5, 0, &n) < 0)
		BAD("\"response_score\" is not 1-5");
	r->score = (uint8_t)n;
	if ((s = json_string_value(json_object_get(inc, "resolution_grade")))
	    != NULL && (sla_grade_parse(s, &grade) < 0 ||
	    grade == SLA_GRADE_NONE))
		BAD("\"resolution_grade\" is not a grade");
	r->grade = (uint8_t)grade;
	if (r->planned) {
		memset(r->clk, 0, sizeof(r->clk));
		r->score = 0;
		r->grade = SLA_GRADE_NONE;
	}
	if (jint(inc, "satisfaction", 1, 5, 0, &n) < 0)
		BAD("\"satisfaction\" is not 1-5");
	r->satisfaction = (uint8_t)n;
	if (jint(inc, "links_total", 0, INT64_MAX, 0, &n) < 0)
		BAD("\"links_total\" is not a count");
	r->links_total = (uint64_t)n;
	json_array_foreach(json_object_get(j, "steps"), i, v) {
		s = json_string_value(json_object_get(v, "action"));
		if (s != NULL && strcmp(s, "closed") == 0) {
			xfree(r->close_note);
			r->close_note = jstr(v, "note");
		}
	}
	json_decref(j);
	return 1;
bad:
	json_decref(j);
	report_inc_fini(r);
	return -1;
}

/* ---- a month ---- */

int
report_month_parse(const char *s, int *y, unsigned *m)
{
	if (strlen(s) != 7 || s[4] != '-')
		return -EINVAL;
	for (int i = 0; i < 7; i++)
		if (i != 4 && (s[i] < '0' || s[i] > '9'))
			return -EINVAL;
	*y = atoi(s);
	*m = (unsigned)atoi(s + 5);
	if (*y < 1970 || *m < 1 || *m > 12)
		return -EINVAL;
	return 0;
}

static int
inc_cmp_id_seq(const void *a, const void *b)
{
	const struct report_inc *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	if (c != 0)
		return c;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	/* an exact repeat: the later line is kept (a total order) */
	return x->line < y->line ? -1 : x->line > y->line;
}

int
report_load(struct report_set *s, const char *dir, int y, unsigned m,
    char *err, size_t errlen)
{
	char path[4096], why[192];
	char *line = NULL;
	size_t cap = 0, w;
	ssize_t len;
	int64_t start, end;
	FILE *fp;

	memset(s, 0, sizeof(*s));
	s->y = y;
	s->m = m;
	start = utc_days_from_civil(y, m, 1) * 86400000;
	end = start + (int64_t)utc_days_in_month(y, m) * 86400000;
	snprintf(path, sizeof(path), "%s/closed-%04d-%02u.jsonl", dir, y, m);
	if ((fp = fopen(path, "r")) == NULL) {
		if (errno == ENOENT) {
			s->missing = 1;
			return 0;
		}
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while ((len = getline(&line, &cap, fp)) > 0) {
		struct report_inc r;
		int rc;

		s->lines++;
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			len--;
		if (len == 0)
			continue;
		rc = report_parse_line(line, (size_t)len, &r, why,
		    sizeof(why));
		if (rc < 0) {
			if (s->malformed++ == 0)
				snprintf(s->first_bad, sizeof(s->first_bad),
				    "%.60s:%" PRIu64 ": %s", strrchr(path, '/') + 1,
				    s->lines, why);
			continue;
		}
		if (rc == 0) {
			s->other_events++;
			continue;
		}
		if (r.closed_ms < start || r.closed_ms >= end) {
			s->outside++;
			report_inc_fini(&r);
			continue;
		}
		s->closed++;
		r.file = xstrdup(path);
		r.line = s->lines;
		if (s->n == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 256;
			s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
		}
		s->v[s->n++] = r;
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		fclose(fp);
		free(line);
		report_set_fini(s);
		return -EIO;
	}
	fclose(fp);
	free(line);
	/* one incident, one entry: the latest closed event of each id
	 * (qsort's array must not be NULL even when empty: C11 7.1.4) */
	if (s->n > 0)
		qsort(s->v, s->n, sizeof(*s->v), inc_cmp_id_seq);
	w = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (w > 0 && strcmp(s->v[w - 1].id, s->v[i].id) == 0) {
			report_inc_fini(&s->v[w - 1]);
			s->duplicates++;
			w--;
		}
		if (w != i)
			s->v[w] = s->v[i];
		w++;
	}
	s->n = w;
	return 0;
}

void
report_set_fini(struct report_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		report_inc_fini(&s->v[i]);
	xfree(s->v);
	memset(s, 0, sizeof(*s));
}

void
report_set_said(const struct report_set *s, char *buf, size_t len)
{
	int n;

	if (s->missing) {
		snprintf(buf, len, "%04d-%02u: no history file "
		    "closed-%04d-%02u.jsonl (no incident closed, or tocsind did "
		    "not run)", s->y, s->m, s->y, s->m);
		return;
	}
	n = snprintf(buf, len, "%04d-%02u: %zu closed incidents from %" PRIu64
	    " lines", s->y, s->m, s->n, s->lines);
	if (s->duplicates > 0 && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, ", %" PRIu64 " repeated "
		    "closed events folded", s->duplicates);
	if (s->malformed > 0 && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ", %" PRIu64 " malformed "
		    "line%s skipped (first: %s)", s->malformed,
		    s->malformed == 1 ? "" : "s", s->first_bad);
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **
report_customers(const struct report_set *s, size_t *n)
{
	const char **v;
	size_t k = 0, w = 0;

	for (size_t i = 0; i < s->n; i++)
		k += s->v[i].ncustomers;
	v = xcalloc(k + 1, sizeof(*v));
	for (size_t i = 0; i < s->n; i++)
		for (size_t c = 0; c < s->v[i].ncustomers; c++)
			v[w++] = s->v[i].customers[c];
	qsort(v, w, sizeof(*v), str_cmp);
	k = 0;
	for (size_t i = 0; i < w; i++)
		if (k == 0 || strcmp(v[k - 1], v[i]) != 0)
			v[k++] = v[i];
	*n = k;
	return v;
}

static int
names_customer(const struct report_inc *r, const char *customer)
{
	for (size_t i = 0; i < r->ncustomers; i++)
		if (strcmp(r->customers[i], customer) == 0)
			return 1;
	return 0;
}

static int
inc_cmp_closed(const void *a, const void *b)
{
	const struct report_inc *x = *(const struct report_inc *const *)a,
	    *y = *(const struct report_inc *const *)b;

	if (x->closed_ms != y->closed_ms)
		return x->closed_ms < y->closed_ms ? -1 : 1;
	return strcmp(x->id, y->id);
}

const struct report_inc **
report_incidents(const struct report_set *cur, const char *customer,
    size_t *n)
{
	const struct report_inc **v = xcalloc(cur->n + 1, sizeof(*v));
	size_t k = 0;

	for (size_t i = 0; i < cur->n; i++)
		if (names_customer(&cur->v[i], customer))
			v[k++] = &cur->v[i];
	qsort(v, k, sizeof(*v), inc_cmp_closed);
	*n = k;
	return v;
}

/* ---- figures ---- */

/* A clock's outcomes over a set of incidents. */
struct tally {
	uint64_t	 met, breached;
	int64_t		*used;		/* known clock times, ms */
	size_t		 nused, cap;
};

static void
tally_add(struct tally *t, const struct report_clock *k)
{
	if (!k->ran || (!k->met && !k->breached))
		return;		/* idle, or running and in time at close */
	if (k->met)
		t->met++;
	else
		t->breached++;
	if (k->used_ms < 0)
		return;
	if (t->nused == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->used = xreallocarray(t->used, t->cap, sizeof(*t->used));
	}
	t->used[t->nused++] = k->used_ms;
}

static void
tally_fini(struct tally *t)
{
	xfree(t->used);
	memset(t, 0, sizeof(*t));
}

static int
i64_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest value with at least pct % at or below it. */
static int64_t
tally_pct(const struct tally *t, unsigned pct)
{
	size_t rank = (pct * t->nused + 99) / 100;

	return t->used[rank > 0 ? rank - 1 : 0];
}

static struct report_row *
row_new(struct report_rows *r, const char *section, const char *group,
    const char *item, const char *measure)
{
	struct report_row *w;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->v = xreallocarray(r->v, r->cap, sizeof(*r->v));
	}
	w = &r->v[r->n++];
	memset(w, 0, sizeof(*w));
	w->section = section;
	w->group = xstrdup(group);
	w->item = xstrdup(item);
	w->measure = measure;
	return w;
}

static void
row_int(struct report_rows *r, const char *section, const char *group,
    const char *item, const char *measure, int64_t v)
{
	struct report_row *w = row_new(r, section, group, item, measure);

	snprintf(w->value, sizeof(w->value), "%" PRId64, v);
	w->num = (double)v;
	w->defined = 1;
}

static void
row_undef(struct report_rows *r, const char *section, const char *group,
    const char *item, const char *measure)
{
	(void)row_new(r, section, group, item, measure);
}

/* num / den with `places` decimals (1 or 2), rounded half up, in integers;
 * undefined when den is 0. */
static void
row_ratio(struct report_rows *r, const char *section, const char *group,
    const char *item, const char *measure, int64_t num, int64_t den,
    unsigned places)
{
	struct report_row *w = row_new(r, section, group, item, measure);
	int64_t scale = places == 1 ? 10 : 100, q;

	if (den <= 0)
		return;
	q = (num * scale * 2 + den) / (2 * den);
	snprintf(w->value, sizeof(w->value), "%" PRId64 ".%0*" PRId64,
	    q / scale, (int)places, q % scale);
	w->num = (double)q / (double)scale;
	w->defined = 1;
}

/* ms as whole seconds, rounded half up */
static int64_t
secs(int64_t ms)
{
	return (ms + 500) / 1000;
}

static void
rows_tally(struct report_rows *r, const char *section, const char *group,
    const char *item, struct tally *t)
{
	uint64_t tot = t->met + t->breached;

	row_int(r, section, group, item, "met", (int64_t)t->met);
	row_int(r, section, group, item, "breached", (int64_t)t->breached);
	row_ratio(r, section, group, item, "attainment_pct",
	    (int64_t)t->met * 100, (int64_t)tot, 1);
	if (t->nused == 0) {
		row_undef(r, section, group, item, "p50_s");
		row_undef(r, section, group, item, "p90_s");
		row_undef(r, section, group, item, "max_s");
		return;
	}
	qsort(t->used, t->nused, sizeof(*t->used), i64_cmp);
	row_int(r, section, group, item, "p50_s", secs(tally_pct(t, 50)));
	row_int(r, section, group, item, "p90_s", secs(tally_pct(t, 90)));
	row_int(r, section, group, item, "max_s",
	    secs(t->used[t->nused - 1]));
}

/*
 * The counts the summary, the averages and the trend share, for one
 * customer's month: one pass, one place that says what counts.
 */
enum {
	H_INCIDENTS, H_BREACHED, H_ACK_MET, H_ACK_N, H_RES_MET, H_RES_N,
	H_SCORE_SUM, H_SCORED, H_RATING_SUM, H_RATED, H__COUNT
};

static int
breached_any(const struct report_inc *r)
{
	for (unsigned k = 0; k < NCLK; k++)
		if (r->clk[k].breached)
			return 1;
	return 0;
}

static void
headline_of(const struct report_set *s, const char *customer,
    int64_t h[H__COUNT])
{
	memset(h, 0, H__COUNT * sizeof(h[0]));
	for (size_t i = 0; i < s->n; i++) {
		const struct report_inc *r = &s->v[i];
		const struct report_clock *a = &r->clk[SLA_ACK],
		    *z = &r->clk[SLA_RESOLVE];

		if (r->kind == REPORT_AREA || !names_customer(r, customer))
			continue;
		h[H_INCIDENTS]++;
		h[H_BREACHED] += breached_any(r);
		h[H_SCORED] += r->score > 0;
		h[H_SCORE_SUM] += r->score;
		h[H_RATED] += r->satisfaction > 0;
		h[H_RATING_SUM] += r->satisfaction;
		if (r->kind != REPORT_SITE)
			continue;	/* complaints have their own section */
		h[H_ACK_MET] += a->met;
		h[H_ACK_N] += a->met || a->breached;
		h[H_RES_MET] += z->met;
		h[H_RES_N] += z->met || z->breached;
	}
}

/* The trend's measures: a count (den < 0) or num * scale / den. */
static const struct {
	const char	*name;
	int		 num, den, scale, places;
} trends[] = {
	{ "incidents", H_INCIDENTS, -1, 1, 0 },
	{ "breached_incidents", H_BREACHED, -1, 1, 0 },
	{ "ack_attainment_pct", H_ACK_MET, H_ACK_N, 100, 1 },
	{ "resolve_attainment_pct", H_RES_MET, H_RES_N, 100, 1 },
	{ "response_score_average", H_SCORE_SUM, H_SCORED, 1, 2 },
	{ "satisfaction_average", H_RATING_SUM, H_RATED, 1, 2 },
};

/* A (key1, key2) -> count table, for causes, chronic and repeat rows. */
struct pair {
	const char	*a, *b;
	int64_t		 n, cur;
};

struct pairs {
	struct pair	*v;
	size_t		 n, cap;
};

static void
pairs_add(struct pairs *p, const char *a, const char *b, int cur)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->v = xreallocarray(p->v, p->cap, sizeof(*p->v));
	}
	p->v[p->n++] = (struct pair){ a, b, 1, cur != 0 };
}

static int
pair_name_cmp(const void *x, const void *y)
{
	const struct pair *p = x, *q = y;
	int c = strcmp(p->a, q->a);

	return c != 0 ? c : strcmp(p->b, q->b);
}

static int pair_cmp(const void *, const void *);

/* One entry per (a, b) with its counts, most first: sorting, not a
 * search per entry, so a month of 100,000 devices stays O(n log n). */
static void
pairs_fold(struct pairs *p)
{
	size_t w = 0;

	if (p->n == 0)
		return;		/* p->v is NULL: not for qsort (C11 7.1.4) */
	qsort(p->v, p->n, sizeof(*p->v), pair_name_cmp);
	for (size_t i = 0; i < p->n; i++) {
		if (w > 0 && pair_name_cmp(&p->v[w - 1], &p->v[i]) == 0) {
			p->v[w - 1].n += p->v[i].n;
			p->v[w - 1].cur += p->v[i].cur;
			continue;
		}
		p->v[w++] = p->v[i];
	}
	p->n = w;
	qsort(p->v, p->n, sizeof(*p->v), pair_cmp);
}

/* most first, then by name: a total order */
static int
pair_cmp(const void *x, const void *y)
{
	const struct pair *p = x, *q = y;
	int c;

	if (p->n != q->n)
		return p->n > q->n ? -1 : 1;
	if ((c = strcmp(p->a, q->a)) != 0)
		return c;
	return strcmp(p->b, q->b);
}

static void
rows_causes(struct report_rows *out, const struct report_set *s,
    const char *customer)
{
	struct pairs tot = { 0 }, by = { 0 };

	for (size_t i = 0; i < s->n; i++) {
		const struct report_inc *r = &s->v[i];

		if (r->kind == REPORT_AREA || !names_customer(r, customer))
			continue;
		pairs_add(&tot, r->cause, "", 0);
		pairs_add(&by, r->cause,
		    fleet_severity_name((enum severity)r->sev), 0);
	}
	pairs_fold(&tot);
	pairs_fold(&by);
	for (size_t i = 0; i < tot.n; i++) {
		row_int(out, "by_cause", tot.v[i].a, "all", "incidents",
		    tot.v[i].n);
		/* most severe first */
		for (int sv = SEV__COUNT - 1; sv >= 0; sv--) {
			const char *name = fleet_severity_name(
			    (enum severity)sv);

			for (size_t k = 0; k < by.n; k++)
				if (strcmp(by.v[k].a, tot.v[i].a) == 0 &&
				    strcmp(by.v[k].b, name) == 0)
					row_int(out, "by_cause", tot.v[i].a,
					    name, "incidents", by.v[k].n);
		}
	}
	xfree(tot.v);
	xfree(by.v);
}

static void
rows_clocks(struct report_rows *out, const struct report_set *s,
    const char *customer)
{
	for (unsigned k = 0; k < NCLK; k++) {
		const char *clk = sla_clock_name((enum sla_clock_kind)k);
		struct tally all = { 0 }, tr[TIER__COUNT][REGION__COUNT];

		memset(tr, 0, sizeof(tr));
		for (size_t i = 0; i < s->n; i++) {
			const struct report_inc *r = &s->v[i];

			if (r->kind != REPORT_SITE ||
			    !names_customer(r, customer))
				continue;
			tally_add(&all, &r->clk[k]);
			if (r->region < REGION__COUNT)
				tally_add(&tr[r->tier][r->region], &r->clk[k]);
		}
		rows_tally(out, "clock", clk, "all", &all);
		tally_fini(&all);
		for (unsigned t = 0; t < TIER__COUNT; t++)
			for (unsigned g = 0; g < REGION__COUNT; g++) {
				char item[32];

				if (tr[t][g].met + tr[t][g].breached > 0) {
					snprintf(item, sizeof(item), "%s/%s",
					    fleet_tier_name((enum tier)t),
					    fleet_region_name((enum region)g));
					rows_tally(out, "clock", clk, item,
					    &tr[t][g]);
				}
				tally_fini(&tr[t][g]);
			}
	}
}

static void
rows_sla_marks(struct report_rows *out, const struct report_set *s,
    const char *customer, const int64_t h[H__COUNT])
{
	int64_t score[6] = { 0 }, grade[SLA_GRADE__COUNT] = { 0 },
	    level[SLA_LEVEL__COUNT] = { 0 }, sat[6] = { 0 };

	for (size_t i = 0; i < s->n; i++) {
		const struct report_inc *r = &s->v[i];

		if (r->kind == REPORT_AREA || !names_customer(r, customer))
			continue;
		score[r->score]++;
		grade[r->grade]++;
		if (r->level >= 0)
			level[r->level]++;
		sat[r->satisfaction]++;
	}
	for (int v = 5; v >= 1; v--) {
		char item[4];

		snprintf(item, sizeof(item), "%d", v);
		row_int(out, "response_score", "all", item, "incidents",
		    score[v]);
	}
	row_int(out, "response_score", "all", "all", "scored", h[H_SCORED]);
	row_ratio(out, "response_score", "all", "all", "average",
	    h[H_SCORE_SUM], h[H_SCORED], 2);
	for (unsigned g = SLA_GRADE_IMMEDIATE; g < SLA_GRADE__COUNT; g++)
		row_int(out, "resolution_grade", "all",
		    sla_grade_name((enum sla_grade)g), "incidents", grade[g]);
	for (unsigned l = 0; l < SLA_LEVEL__COUNT; l++)
		row_int(out, "escalation", "all",
		    sla_level_name((enum sla_level)l), "incidents", level[l]);
	for (int v = 5; v >= 1; v--) {
		char item[4];

		snprintf(item, sizeof(item), "%d", v);
		row_int(out, "satisfaction", "all", item, "closes", sat[v]);
	}
	row_int(out, "satisfaction", "all", "all", "rated", h[H_RATED]);
	row_ratio(out, "satisfaction", "all", "all", "average",
	    h[H_RATING_SUM], h[H_RATED], 2);
}

static void
rows_outage(struct report_rows *out, const struct report_set *s,
    const char *customer)
{
	const struct report_inc *longest = NULL;
	int64_t pms = 0, pn = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct report_inc *r = &s->v[i];

		if (r->kind != REPORT_SITE || !names_customer(r, customer))
			continue;
		/* ties: the first by id (s is sorted by id) */
		if (longest == NULL || r->restored_ms - r->opened_ms >
		    longest->restored_ms - longest->opened_ms)
			longest = r;
		pms += r->power_ms;
		pn += r->power_n;
	}
	if (longest != NULL)
		row_int(out, "outage", "longest", longest->id, "seconds",
		    secs(longest->restored_ms - longest->opened_ms));
	else
		row_undef(out, "outage", "longest", "-", "seconds");
	row_int(out, "outage", "power_loss", "all", "alarms", pn);
	row_ratio(out, "outage", "power_loss", "all", "average_s", pms,
	    pn * 1000, 1);
}

static void
rows_sites(struct report_rows *out, const struct report_set *cur,
    const struct report_set *const *hist, size_t nhist, const char *customer)
{
	struct pairs chronic = { 0 }, planned = { 0 }, repeat = { 0 };

	for (size_t h = 0; h <= nhist; h++) {
		const struct report_set *s = h == 0 ? cur : hist[h - 1];

		for (size_t i = 0; i < s->n; i++) {
			const struct report_inc *r = &s->v[i];

			if (r->kind != REPORT_SITE ||
			    !names_customer(r, customer))
				continue;
			if (r->device != NULL)
				pairs_add(&repeat, r->device, r->cause, h == 0);
			if (h > 0)
				continue;
			if (r->chronic)
				pairs_add(&chronic, r->site, r->cause, 0);
			if (r->planned)
				pairs_add(&planned, r->site,
				    r->planned_reason != NULL ?
				    r->planned_reason : "", 0);
		}
	}
	pairs_fold(&chronic);
	pairs_fold(&planned);
	pairs_fold(&repeat);
	for (size_t i = 0; i < chronic.n; i++)
		row_int(out, "chronic", chronic.v[i].a, chronic.v[i].b,
		    "incidents", chronic.v[i].n);
	/* a fault of this month on a device that had it before */
	for (size_t i = 0; i < repeat.n; i++)
		if (repeat.v[i].n >= 2 && repeat.v[i].cur > 0)
			row_int(out, "repeat", repeat.v[i].a, repeat.v[i].b,
			    "incidents_3m", repeat.v[i].n);
	for (size_t i = 0; i < planned.n; i++)
		row_int(out, "planned", planned.v[i].a, planned.v[i].b,
		    "incidents", planned.v[i].n);
	xfree(chronic.v);
	xfree(planned.v);
	xfree(repeat.v);
}

static void
rows_complaints(struct report_rows *out, const struct report_set *s,
    const char *customer)
{
	static const enum sla_clock_kind ck[2] = { SLA_ACK, SLA_RESOLVE };

	for (unsigned k = 0; k < 2; k++) {
		struct tally t = { 0 };

		for (size_t i = 0; i < s->n; i++)
			if (s->v[i].kind == REPORT_COMPLAINT &&
			    names_customer(&s->v[i], customer))
				tally_add(&t, &s->v[i].clk[ck[k]]);
		rows_tally(out, "complaint", sla_clock_name(ck[k]), "all", &t);
		tally_fini(&t);
	}
}

void
report_figures(const struct report_set *cur,
    const struct report_set *const *hist, size_t nhist, const char *customer,
    struct report_rows *out)
{
	static const char *const when[2] = { "previous", "current" };
	int64_t h[2][H__COUNT];
	int64_t site = 0, compl = 0, area = 0, planned = 0, chronic = 0,
	    escal = 0;
	int have_prev = nhist > 0 && !hist[0]->missing;

	for (size_t i = 0; i < cur->n; i++) {
		const struct report_inc *r = &cur->v[i];

		if (!names_customer(r, customer))
			continue;
		site += r->kind == REPORT_SITE;
		compl += r->kind == REPORT_COMPLAINT;
		area += r->kind == REPORT_AREA;
		if (r->kind == REPORT_AREA)
			continue;
		planned += r->planned;
		chronic += r->chronic;
		escal += r->level >= 0;
	}
	headline_of(cur, customer, h[1]);
	if (have_prev)
		headline_of(hist[0], customer, h[0]);
	row_int(out, "summary", "all", "all", "incidents", site + compl);
	row_int(out, "summary", "all", "all", "site_incidents", site);
	row_int(out, "summary", "all", "all", "complaints", compl);
	row_int(out, "summary", "all", "all", "area_storms", area);
	row_int(out, "summary", "all", "all", "planned", planned);
	row_int(out, "summary", "all", "all", "chronic", chronic);
	row_int(out, "summary", "all", "all", "breached_incidents",
	    h[1][H_BREACHED]);
	row_int(out, "summary", "all", "all", "escalated", escal);
	rows_causes(out, cur, customer);
	rows_clocks(out, cur, customer);
	rows_sla_marks(out, cur, customer, h[1]);
	rows_outage(out, cur, customer);
	rows_sites(out, cur, hist, nhist, customer);
	rows_complaints(out, cur, customer);
	for (size_t t = 0; t < sizeof(trends) / sizeof(trends[0]); t++)
		for (int w = 0; w < 2; w++) {
			const int64_t *v = h[w];

			if (w == 0 && !have_prev)
				row_undef(out, "trend", trends[t].name,
				    when[w], "value");
			else if (trends[t].den < 0)
				row_int(out, "trend", trends[t].name, when[w],
				    "value", v[trends[t].num]);
			else
				row_ratio(out, "trend", trends[t].name,
				    when[w], "value",
				    v[trends[t].num] * trends[t].scale,
				    v[trends[t].den],
				    (unsigned)trends[t].places);
		}
}

void
report_rows_fini(struct report_rows *r)
{
	for (size_t i = 0; i < r->n; i++) {
		xfree(r->v[i].group);
		xfree(r->v[i].item);
	}
	xfree(r->v);
	memset(r, 0, sizeof(*r));
}

const struct report_row *
report_row_find(const struct report_rows *r, const char *section,
    const char *group, const char *item, const char *measure)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct report_row *w = &r->v[i];

		if ((section == NULL || strcmp(w->section, section) == 0) &&
		    (group == NULL || strcmp(w->group, group) == 0) &&
		    (item == NULL || strcmp(w->item, item) == 0) &&
		    (measure == NULL || strcmp(w->measure, measure) == 0))
			return w;
	}
	return NULL;
}

/* ---- words and CSV ---- */

void
report_dur(int64_t ms, char *buf, size_t len)
{
	char b[32];

	ctlboard_countdown(ms, 0, b, sizeof(b));
	snprintf(buf, len, "%s%s", ms >= 0 && ms / 1000 < 3600 ? "0:" : "", b);
}

void
report_breach_reason(const struct report_inc *r, char *buf, size_t len)
{
	static const char *const done[NCLK] = { "acknowledged", "on site",
	    "resolved" };
	static const char *const never[NCLK] = { "not acknowledged",
	    "not on site", "not resolved" };
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned k = 0; k < NCLK && n < len; k++) {
		const struct report_clock *c = &r->clk[k];
		const char *sep = n > 0 ? "; " : "";
		char late[48];

		if (!c->breached)
			continue;
		if (!c->stopped) {
			n += (size_t)snprintf(buf + n, len - n, "%s%s in time",
			    sep, never[k]);
		} else if (c->used_ms >= 0) {
			report_dur(c->used_ms - c->budget_ms, late,
			    sizeof(late));
			n += (size_t)snprintf(buf + n, len - n, "%s%s %s late",
			    sep, r->kind == REPORT_COMPLAINT && k == SLA_ACK ?
			    "responded" : done[k], late);
		} else {
			n += (size_t)snprintf(buf + n, len - n, "%s%s late",
			    sep, done[k]);
		}
	}
	if (n > 0 && n < len && r->level >= 0)
		snprintf(buf + n, len - n, "; escalated to %s",
		    sla_level_name((enum sla_level)r->level));
}

void
report_csv_field(FILE *fp, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, fp);
		return;
	}
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			fputc('"', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

void
report_write_csv(FILE *fp, const char *month, const char *customer,
    const struct report_rows *rows)
{
	for (size_t i = 0; i < rows->n; i++) {
		const struct report_row *w = &rows->v[i];

		fprintf(fp, "%s,", month);
		report_csv_field(fp, customer);
		fprintf(fp, ",%s,", w->section);
		report_csv_field(fp, w->group);
		fputc(',', fp);
		report_csv_field(fp, w->item);
		fprintf(fp, ",%s,%s\n", w->measure, w->value);
	}
}

static void
csv_clock(FILE *fp, const struct report_clock *c)
{
	if (c->ran && c->used_ms >= 0 && (c->met || c->breached))
		fprintf(fp, ",%" PRId64, secs(c->used_ms));
	else
		fputc(',', fp);
	fprintf(fp, ",%s", c->met ? "met" : c->breached ? "breached" : "");
}

void
report_write_inc_csv(FILE *fp, const char *month, const char *customer,
    const struct report_inc *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct report_inc *r = v[i];
		char o[UTC_LEN], c[UTC_LEN], why[512];

		utc_format(r->opened_ms, o);
		utc_format(r->closed_ms, c);
		fprintf(fp, "%s,", month);
		report_csv_field(fp, customer);
		fputc(',', fp);
		report_csv_field(fp, r->id);
		fprintf(fp, ",%s,", r->kind == REPORT_SITE ? "site" :
		    r->kind == REPORT_AREA ? "area" : "complaint");
		report_csv_field(fp, r->site != NULL ? r->site : "");
		fputc(',', fp);
		report_csv_field(fp, r->area);
		fprintf(fp, ",%s,%s,%s,", r->region < REGION__COUNT ?
		    fleet_region_name((enum region)r->region) : "",
		    fleet_tier_name((enum tier)r->tier),
		    fleet_severity_name((enum severity)r->sev));
		report_csv_field(fp, r->cause);
		fprintf(fp, ",%s,%s,%d,%d,%s,", o, c, r->planned, r->chronic,
		    r->level >= 0 ? sla_level_name((enum sla_level)r->level) :
		    "");
		if (r->score > 0)
			fprintf(fp, "%u", r->score);
		fprintf(fp, ",%s,", r->grade != SLA_GRADE_NONE ?
		    sla_grade_name((enum sla_grade)r->grade) : "");
		if (r->satisfaction > 0)
			fprintf(fp, "%u", r->satisfaction);
		for (unsigned k = 0; k < NCLK; k++)
			csv_clock(fp, &r->clk[k]);
		if (r->kind == REPORT_SITE)
			fprintf(fp, ",%" PRId64 ",",
			    secs(r->restored_ms - r->opened_ms));
		else
			fputs(",,", fp);
		report_breach_reason(r, why, sizeof(why));
		report_csv_field(fp, why);
		fputc('\n', fp);
	}
}
