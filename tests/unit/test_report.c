/*
 * test_report.c - the monthly SLA report's pure parts on hand-written
 * closed events: the history line parser (every field of a site close, a
 * line of another kind, each way a line can be malformed, an older line
 * without budget_ms), a month's file (repeats folded, the later close of
 * an incident kept, malformed lines counted and the first named by
 * file:line, other events and other months skipped, a month with nothing
 * closed, a missing month), the figures (complaint clocks, area storms
 * counted apart, nearest-rank percentiles, half-up rounding, an undefined
 * trend), CSV quoting, HTML escaping and the breach reason in words.
 *
 * The events are built with jansson from a struct tev whose defaults are a
 * close tocsind writes (the demo's SH-001 mains failure), so each test
 * says only what it changes; the whole-month path, from a replay through
 * `tocsinctl report`, is the integration suite `report`.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon/mem.h"
#include "daemon/report.h"
#include "daemon/reporthtml.h"
#include "tests/support/incoracle.h"
#include "tests/support/tenv.h"

#define S	INT64_C(1000)
#define MIN	(60 * S)
#define HOUR	(60 * MIN)
#define T0	INT64_C(1795428000000)	/* 2026-11-23T10:00:00Z */
#define OCT31	(T0 - 23 * 24 * HOUR)	/* 2026-10-31T10:00:00Z */

/* buf: what stmt wrote to fp, a memory stream (free() it). */
#define CAPTURE(buf, stmt) do {						\
	size_t capture_len_;						\
	FILE *fp = open_memstream(&(buf), &capture_len_);		\
									\
	cr_assert_not_null(fp);						\
	stmt;								\
	cr_assert_eq(fclose(fp), 0);					\
} while (0)

/* ---- building closed events ---- */

struct tclock {
	const char	*state;		/* NULL: not in "clocks" */
	int		 met, breached;
	int64_t		 budget, remaining;
	int		 nobudget;	/* an older line: no budget_ms */
};

struct talarm {
	const char	*device, *code;
	int64_t		 raised;
	int64_t		 cleared;	/* < 0: active */
};

struct tev {
	const char	*event, *id, *kind, *site, *area, *region;
	const char	*severity, *tier;
	uint64_t	 seq;
	int64_t		 opened, at;
	const char	*customers[4];	/* NULL-terminated */
	const char	*root_dev;
	const char	*root_code;	/* NULL: "root_cause":null */
	struct talarm	 alarms[3];
	size_t		 nalarms;
	struct tclock	 clk[3];	/* ack, arrive, resolve */
	int		 level;		/* -1: null */
	int		 score;		/* 0: null */
	int		 satisfaction;	/* 0: absent */
	const char	*grade;		/* NULL: null */
	const char	*note;		/* closing step's note, NULL: null */
	int		 planned, chronic;
};

/*
 * A site incident closed at `at` with tocsind's shape: MAINS_FAIL at T0
 * cleared an hour later (the root), a battery alarm cleared 30 s after it,
 * all three clocks stopped in time, escalated to the station.
 */
static struct tev
site_ev(const char *id, uint64_t seq, int64_t at)
{
	return (struct tev){
		.event = "closed", .id = id, .kind = "site", .site = "SH-001",
		.area = "shanghai-pudong", .region = "A",
		.severity = "critical", .tier = "premium", .seq = seq,
		.opened = T0, .at = at,
		.customers = { "china-mobile", "china-unicom" },
		.root_dev = "SH-001-rect", .root_code = "MAINS_FAIL",
		.alarms = {
			{ "SH-001-rect", "MAINS_FAIL", T0, T0 + HOUR },
			{ "SH-001-batt", "BATT_DISCHARGE", T0 + 5 * MIN,
			    T0 + HOUR + 30 * S },
		},
		.nalarms = 2,
		.clk = {
			{ "stopped", 1, 0, 60 * S, 20 * S, 0 },
			{ "stopped", 1, 0, 2 * HOUR, 72 * MIN, 0 },
			{ "stopped", 1, 0, 24 * HOUR, 23 * HOUR, 0 },
		},
		.level = 0, .score = 5, .grade = "immediate",
		.note = "follow-up call done",
	};
}

/* A complaint: no root, no alarms, clocks ack (respond) and resolve. */
static struct tev
complaint_ev(const char *id, const char *customer, int64_t at)
{
	struct tev e = site_ev(id, 3, at);

	e.kind = "complaint";
	e.customers[0] = customer;
	e.customers[1] = NULL;
	e.root_dev = e.root_code = NULL;
	e.nalarms = 0;
	e.clk[1].state = NULL;
	e.level = -1;
	return e;
}

/* An area storm over customer's sites: no site, no region, no clocks. */
static struct tev
area_ev(const char *id, const char *customer, int64_t at)
{
	struct tev e = complaint_ev(id, customer, at);

	e.kind = "area";
	e.site = NULL;
	e.region = NULL;
	e.clk[0].state = e.clk[2].state = NULL;
	e.score = 0;
	e.grade = NULL;
	return e;
}

static json_t *
jstr_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *
tev_json(const struct tev *e)
{
	static const char *const names[3] = { "ack", "arrive", "resolve" };
	json_t *o = json_object(), *inc = json_object(), *a = json_array(),
	    *cs = json_array(), *clocks = json_object(), *steps = json_array();

	json_object_set_new(o, "schema", json_string("tocsin.incident/1"));
	json_object_set_new(o, "event", json_string(e->event));
	json_object_set_new(o, "seq", json_integer((json_int_t)e->seq));
	json_object_set_new(o, "at", incoracle_time(e->at));
	json_object_set_new(inc, "id", json_string(e->id));
	json_object_set_new(inc, "kind", json_string(e->kind));
	json_object_set_new(inc, "site", jstr_or_null(e->site));
	json_object_set_new(inc, "area", json_string(e->area));
	json_object_set_new(inc, "region", jstr_or_null(e->region));
	json_object_set_new(inc, "severity", json_string(e->severity));
	json_object_set_new(inc, "state", json_string("closed"));
	json_object_set_new(inc, "opened_at", incoracle_time(e->opened));
	if (e->root_code != NULL)
		json_object_set_new(inc, "root_cause",
		    json_pack("{s:s,s:s,s:o}", "device", e->root_dev, "alarm",
		    e->root_code, "raised_at", incoracle_time(e->opened)));
	else
		json_object_set_new(inc, "root_cause", json_null());
	for (size_t i = 0; i < e->nalarms; i++) {
		const struct talarm *l = &e->alarms[i];

		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:b,s:o,s:o}",
		    "device", l->device, "code", l->code, "severity",
		    "critical", "active", l->cleared < 0, "raised_at",
		    incoracle_time(l->raised), "cleared_at", l->cleared < 0 ?
		    json_null() : incoracle_time(l->cleared)));
	}
	json_object_set_new(inc, "alarms", a);
	for (size_t i = 0; e->customers[i] != NULL; i++)
		json_array_append_new(cs, json_pack("{s:s,s:s}", "id",
		    e->customers[i], "tier", "standard"));
	json_object_set_new(inc, "customers", cs);
	json_object_set_new(inc, "tier", json_string(e->tier));
	json_object_set_new(inc, "planned", json_boolean(e->planned));
	json_object_set_new(inc, "chronic", json_boolean(e->chronic));
	if (e->satisfaction != 0)
		json_object_set_new(inc, "satisfaction",
		    json_integer(e->satisfaction));
	for (int k = 0; k < 3; k++) {
		const struct tclock *c = &e->clk[k];
		json_t *j;

		if (c->state == NULL)
			continue;
		j = json_pack("{s:s,s:I,s:b,s:b,s:b}", "state", c->state,
		    "remaining_ms", (json_int_t)c->remaining, "paused", 0,
		    "met", c->met, "breached", c->breached);
		if (!c->nobudget)
			json_object_set_new(j, "budget_ms",
			    json_integer(c->budget));
		json_object_set_new(clocks, names[k], j);
	}
	json_object_set_new(inc, "clocks", clocks);
	json_object_set_new(inc, "escalation_level", e->level >= 0 ?
	    json_integer(e->level) : json_null());
	json_object_set_new(inc, "response_score", e->score > 0 ?
	    json_integer(e->score) : json_null());
	json_object_set_new(inc, "resolution_grade", jstr_or_null(e->grade));
	json_object_set_new(o, "incident", inc);
	/* an earlier step with a note: the close_note is the closing one's */
	json_array_append_new(steps, json_pack("{s:o,s:s,s:s,s:s}", "at",
	    incoracle_time(e->opened), "actor", "li.wei", "action",
	    "acknowledged", "note", "not the closing note"));
	json_array_append_new(steps, json_pack("{s:o,s:s,s:s,s:o}", "at",
	    incoracle_time(e->at), "actor", "li.wei", "action", "closed",
	    "note", jstr_or_null(e->note)));
	json_object_set_new(o, "steps", steps);
	return o;
}

/* The event as one line (no newline); free(). */
static char *
dump(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);

	cr_assert_not_null(s);
	json_decref(o);
	return s;
}

static char *
tev_line(const struct tev *e)
{
	return dump(tev_json(e));
}

/*
 * e with one value replaced: path is dotted keys from the top
 * ("incident.clocks.ack.met"), value JSON text, NULL to delete the key.
 */
static char *
tev_mutate(const struct tev *e, const char *path, const char *value)
{
	json_t *o = tev_json(e), *at = o;
	char buf[128], *key, *next;

	snprintf(buf, sizeof(buf), "%s", path);
	for (key = buf; (next = strchr(key, '.')) != NULL; key = next + 1) {
		*next = '\0';
		at = json_object_get(at, key);
		cr_assert(json_is_object(at), "%s: %s", path, key);
	}
	if (value == NULL) {
		cr_assert_eq(json_object_del(at, key), 0, "%s", path);
	} else {
		json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);

		cr_assert_not_null(v, "%s", value);
		json_object_set_new(at, key, v);
	}
	return dump(o);
}

static int
parse(const char *line, struct report_inc *r, char *why)
{
	why[0] = '\0';
	return report_parse_line(line, strlen(line), r, why, 192);
}

/* line, which must be a closed event, into r (report_inc_fini() it). */
static void
parse_closed(char *line, struct report_inc *r)
{
	char why[192];

	cr_assert_eq(parse(line, r, why), 1, "%s: %s", line, why);
	free(line);
}

/*
 * line is rejected with a reason of one line holding want, and leaves
 * nothing to free.  Frees line.
 */
static void
parse_bad(char *line, const char *want)
{
	struct report_inc r;
	char why[192];

	cr_assert_eq(parse(line, &r, why), -1, "'%s' accepted", line);
	cr_expect(strstr(why, want) != NULL, "'%s': reason \"%s\", want "
	    "\"%s\"", line, why, want);
	cr_expect(strchr(why, '\n') == NULL, "'%s': %s", line, why);
	cr_expect_null(r.id, "'%s'", line);
	cr_expect_null(r.customers, "'%s'", line);
	free(line);
}

/* Parses e into a new incident of s (the caller adds ids in order). */
static void
set_add(struct report_set *s, const struct tev *e)
{
	s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
	parse_closed(tev_line(e), &s->v[s->n]);
	s->cap = ++s->n;
}

/* The value of a row, which must exist. */
static const char *
val(const struct report_rows *rows, const char *section, const char *group,
    const char *item, const char *measure)
{
	const struct report_row *w = report_row_find(rows, section, group,
	    item, measure);

	cr_assert_not_null(w, "no row %s,%s,%s,%s", section, group, item,
	    measure);
	cr_assert_eq(w->defined, w->value[0] != '\0', "%s,%s,%s,%s",
	    section, group, item, measure);
	return w->value;
}

/* A row of a customer's figures and the value it must have. */
struct want {
	const char	*section, *group, *item, *measure;
	const char	*value;		/* "": undefined */
};

/* Each row of want, up to a { 0 }, has its value in rows (by val()). */
static void
rows_are(const struct report_rows *rows, const struct want *want)
{
	for (const struct want *w = want; w->section != NULL; w++)
		cr_assert_str_eq(val(rows, w->section, w->group, w->item,
		    w->measure), w->value, "%s,%s,%s,%s", w->section,
		    w->group, w->item, w->measure);
}

/* customer's figures of s, with hist[0..nhist) before it, are want. */
static void
figures_are(const struct report_set *s, const struct report_set *const *hist,
    size_t nhist, const char *customer, const struct want *want)
{
	struct report_rows rows = { 0 };

	report_figures(s, hist, nhist, customer, &rows);
	rows_are(&rows, want);
	report_rows_fini(&rows);
}

/* ---- one line ---- */

Test(report_unit, parses_every_field_of_a_site_close)
{
	struct tev e = site_ev("DEMO-0-2", 11, T0 + 4 * HOUR);
	struct report_inc r;

	e.customers[2] = "china-telecom";
	/* resolve stopped late: used 1 h of a 50 min budget */
	e.clk[2] = (struct tclock){ "stopped", 0, 1, 50 * MIN, -10 * MIN, 0 };
	e.level = 1;
	e.score = 4;
	e.grade = "within_a_day";
	e.satisfaction = 3;
	e.chronic = 1;
	parse_closed(tev_line(&e), &r);
	cr_assert_str_eq(r.id, "DEMO-0-2");
	cr_assert_eq(r.kind, REPORT_SITE);
	cr_assert_str_eq(r.site, "SH-001");
	cr_assert_str_eq(r.area, "shanghai-pudong");
	cr_assert_eq(r.region, REGION_A);
	cr_assert_eq(r.sev, SEV_CRITICAL);
	cr_assert_eq(r.tier, TIER_PREMIUM);
	cr_assert_str_eq(r.cause, "MAINS_FAIL");
	cr_assert_str_eq(r.device, "SH-001-rect");
	cr_assert_null(r.planned_reason);
	cr_assert_eq(r.grade, SLA_GRADE_DAY);
	cr_assert_str_eq(r.close_note, "follow-up call done");
	cr_assert_eq(r.ncustomers, 3);
	cr_assert_str_eq(r.customers[0], "china-mobile");
	cr_assert_str_eq(r.customers[1], "china-unicom");
	cr_assert_str_eq(r.customers[2], "china-telecom");
	cr_assert_eq(r.seq, 11);
	cr_assert_eq(r.opened_ms, T0);
	cr_assert_eq(r.closed_ms, T0 + 4 * HOUR);
	/* service came back with the last clear, not the close */
	cr_assert_eq(r.restored_ms, T0 + HOUR + 30 * S);
	/* only MAINS_FAIL is power time */
	cr_assert_eq(r.power_ms, HOUR);
	cr_assert_eq(r.power_n, 1);
	cr_assert_eq(r.planned, 0);
	cr_assert_eq(r.chronic, 1);
	cr_assert_eq(r.level, 1);
	cr_assert_eq(r.score, 4);
	cr_assert_eq(r.satisfaction, 3);
	cr_assert_eq(r.links_total, 0);
	/* used = budget - remaining */
	cr_assert_eq(r.clk[SLA_ACK].ran, 1);
	cr_assert_eq(r.clk[SLA_ACK].stopped, 1);
	cr_assert_eq(r.clk[SLA_ACK].met, 1);
	cr_assert_eq(r.clk[SLA_ACK].breached, 0);
	cr_assert_eq(r.clk[SLA_ACK].budget_ms, 60 * S);
	cr_assert_eq(r.clk[SLA_ACK].used_ms, 40 * S);
	cr_assert_eq(r.clk[SLA_ARRIVE].budget_ms, 2 * HOUR);
	cr_assert_eq(r.clk[SLA_ARRIVE].used_ms, 48 * MIN);
	cr_assert_eq(r.clk[SLA_RESOLVE].met, 0);
	cr_assert_eq(r.clk[SLA_RESOLVE].breached, 1);
	cr_assert_eq(r.clk[SLA_RESOLVE].budget_ms, 50 * MIN);
	cr_assert_eq(r.clk[SLA_RESOLVE].used_ms, HOUR);
	report_inc_fini(&r);
	cr_assert_null(r.id);
}

Test(report_unit, open_alarms_idle_clocks_and_nulls)
{
	struct tev e = site_ev("I-1", 2, T0 + 3 * HOUR);
	struct report_inc r;

	/* the battery alarm still active at the close: restored = closed */
	e.alarms[1].cleared = -1;
	e.clk[1] = (struct tclock){ "idle", 0, 0, 2 * HOUR, 2 * HOUR, 0 };
	e.clk[2] = (struct tclock){ "running", 0, 0, 24 * HOUR, 21 * HOUR,
	    0 };
	e.level = -1;
	e.score = 0;
	e.grade = NULL;
	e.note = NULL;
	parse_closed(tev_line(&e), &r);
	cr_assert_eq(r.restored_ms, T0 + 3 * HOUR);
	cr_assert_eq(r.power_ms, HOUR);
	cr_assert_eq(r.clk[SLA_ARRIVE].ran, 0);
	cr_assert_eq(r.clk[SLA_RESOLVE].ran, 1);
	cr_assert_eq(r.clk[SLA_RESOLVE].stopped, 0);
	cr_assert_eq(r.clk[SLA_RESOLVE].used_ms, 3 * HOUR);
	cr_assert_eq(r.level, -1);
	cr_assert_eq(r.score, 0);
	cr_assert_eq(r.satisfaction, 0);
	cr_assert_eq(r.grade, SLA_GRADE_NONE);
	cr_assert_null(r.close_note);
	cr_assert_eq(r.planned, 0);
	report_inc_fini(&r);

	/* the same incident inside announced work: it ran no customer
	 * clock, whatever its clocks say, and has no score and no grade */
	e.planned = 1;
	e.score = 5;
	e.grade = "immediate";
	parse_closed(tev_line(&e), &r);
	cr_assert_eq(r.planned, 1);
	for (unsigned k = 0; k < SLA__NCLOCKS; k++)
		cr_assert_eq(r.clk[k].ran + r.clk[k].met + r.clk[k].breached,
		    0, "clock %u", k);
	cr_assert_eq(r.score, 0);
	cr_assert_eq(r.grade, SLA_GRADE_NONE);
	report_inc_fini(&r);

	/* a complaint: its cause is COMPLAINT, it has no arrive clock */
	e = complaint_ev("C-1", "china-mobile", T0 + HOUR);
	parse_closed(tev_line(&e), &r);
	cr_assert_eq(r.kind, REPORT_COMPLAINT);
	cr_assert_str_eq(r.cause, "COMPLAINT");
	cr_assert_null(r.device);
	cr_assert_eq(r.clk[SLA_ARRIVE].ran, 0);
	cr_assert_eq(r.restored_ms, T0 + HOUR);
	report_inc_fini(&r);

	/* an area storm: no site, no region, no root (UNKNOWN) */
	e = area_ev("A-1", "china-mobile", T0 + HOUR);
	parse_closed(tev_mutate(&e, "incident.links_total", "3"), &r);
	cr_assert_eq(r.kind, REPORT_AREA);
	cr_assert_null(r.site);
	cr_assert_eq(r.region, REGION__COUNT);
	cr_assert_str_eq(r.cause, "UNKNOWN");
	cr_assert_eq(r.links_total, 3);
	report_inc_fini(&r);
}

Test(report_unit, an_event_of_another_kind_is_skipped)
{
	struct tev e = site_ev("I-1", 1, T0 + HOUR);
	struct report_inc r;
	char why[192], *line;

	e.event = "opened";
	line = tev_line(&e);
	cr_assert_eq(parse(line, &r, why), 0);
	cr_assert_null(r.id);
	free(line);
	/* another kind is not checked further: a bad incident is no error */
	e.event = "updated";
	line = tev_mutate(&e, "incident.kind", "\"tower\"");
	cr_assert_eq(parse(line, &r, why), 0);
	free(line);
}

Test(report_unit, malformed_lines_say_why)
{
	static const struct {
		const char	*raw;	/* the whole line, or NULL */
		const char	*path, *value; /* else this change */
		const char	*why;	/* a part of the reason */
	} bad[] = {
		{ "{\"schema\":\"tocsin.incident/1\",", NULL, NULL,
		    "not JSON" },
		{ "", NULL, NULL, "not JSON" },
		{ "[1,2]", NULL, NULL, "not a JSON object" },
		{ "\"closed\"", NULL, NULL, "not JSON" },
		{ NULL, "schema", "\"tocsin.incident/2\"", "schema is not" },
		{ NULL, "schema", NULL, "schema is not" },
		{ NULL, "event", "1", "no \"event\"" },
		{ NULL, "seq", "0", "\"seq\"" },
		{ NULL, "at", "\"yesterday\"", "\"at\"" },
		{ NULL, "incident", "[]", "no \"incident\" object" },
		{ NULL, "incident.id", NULL, "no incident \"id\"" },
		{ NULL, "incident.id", "\"\"", "no incident \"id\"" },
		{ NULL, "incident.kind", "\"tower\"", "\"kind\" is not site, "
		    "area or complaint" },
		{ NULL, "incident.site", "null", "\"site\" does not match the "
		    "kind" },
		{ NULL, "incident.area", NULL, "no \"area\"" },
		{ NULL, "incident.severity", "\"disaster\"", "\"severity\" is "
		    "not a severity" },
		{ NULL, "incident.tier", "\"gold\"", "\"tier\" is not a tier" },
		{ NULL, "incident.region", "\"D\"", "\"region\" is not A, B or "
		    "C" },
		{ NULL, "incident.opened_at", "\"2026-11-23T14:00:00.001Z\"",
		    "\"opened_at\" is not a time before \"at\"" },
		{ NULL, "incident.clocks.ack.breached", "true", "clock \"ack\" "
		    "is malformed" },
		{ NULL, "incident.clocks.resolve.state", "\"paused\"", "clock "
		    "\"resolve\" is malformed" },
		{ NULL, "incident.clocks", "[]", "\"clocks\" is not an "
		    "object" },
		{ NULL, "incident.response_score", "6", "\"response_score\" is "
		    "not 1-5" },
		{ NULL, "incident.satisfaction", "0", "\"satisfaction\" is not "
		    "1-5" },
		{ NULL, "incident.satisfaction", "9", "\"satisfaction\" is not "
		    "1-5" },
		{ NULL, "incident.satisfaction", "\"4\"", "\"satisfaction\"" },
		{ NULL, "incident.escalation_level", "3",
		    "\"escalation_level\" is not a level" },
		{ NULL, "incident.resolution_grade", "\"soon\"",
		    "\"resolution_grade\" is not a grade" },
		{ NULL, "incident.root_cause", "\"MAINS_FAIL\"",
		    "\"root_cause\" is not an object or null" },
		{ NULL, "incident.root_cause", "{\"alarm\":\"MAINS_FAIL\"}",
		    "\"root_cause\" lacks" },
		{ NULL, "incident.alarms", "{}", "\"alarms\" is not an array" },
		{ NULL, "incident.alarms", "[{\"code\":\"X\"}]", "alarm 0: no "
		    "\"raised_at\"" },
		{ NULL, "incident.customers", NULL, "no \"customers\" array" },
		{ NULL, "incident.customers", "[{\"tier\":\"premium\"}]",
		    "customer 0 has no \"id\"" },
		{ NULL, "incident.links_total", "-1", "\"links_total\"" },
	};
	struct tev e = site_ev("I-1", 9, T0 + 4 * HOUR);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_bad(bad[i].raw != NULL ? strdup(bad[i].raw) :
		    tev_mutate(&e, bad[i].path, bad[i].value), bad[i].why);
	/* a site on an area incident is the same mismatch */
	e = area_ev("A-1", "c", T0 + HOUR);
	parse_bad(tev_mutate(&e, "incident.site", "\"SH-001\""),
	    "does not match");
}

Test(report_unit, a_line_without_budget_counts_outcomes_only)
{
	struct tev e = site_ev("OLD-1", 4, T0 + 4 * HOUR);
	struct report_set s = { .y = 2026, .m = 11 };
	const struct report_inc *r;

	e.clk[0].nobudget = e.clk[1].nobudget = e.clk[2].nobudget = 1;
	e.clk[0].met = 0;
	e.clk[0].breached = 1;
	e.clk[0].remaining = -5 * S;
	set_add(&s, &e);
	r = &s.v[0];
	for (int k = 0; k < SLA__NCLOCKS; k++) {
		cr_assert_eq(r->clk[k].used_ms, -1, "clock %d", k);
		cr_assert_eq(r->clk[k].budget_ms, -1, "clock %d", k);
		cr_assert_eq(r->clk[k].ran, 1, "clock %d", k);
	}
	cr_assert_eq(r->clk[SLA_ACK].breached, 1);
	cr_assert_eq(r->clk[SLA_RESOLVE].met, 1);
	figures_are(&s, NULL, 0, "china-mobile", (const struct want[]){
		{ "clock", "ack", "all", "met", "0" },
		{ "clock", "ack", "all", "breached", "1" },
		{ "clock", "ack", "all", "attainment_pct", "0.0" },
		{ "clock", "ack", "all", "p50_s", "" },
		{ "clock", "resolve", "all", "met", "1" },
		{ "clock", "resolve", "all", "max_s", "" },
		{ "summary", "all", "all", "breached_incidents", "1" },
		{ 0 },
	});
	report_set_fini(&s);
}

/* ---- a month's file ---- */

static char dir[64];

static void
mkdir_tmp(void)
{
	snprintf(dir, sizeof(dir), "/tmp/tocsin-report-unit-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void
rm_tmp(void)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)system(cmd);
}

/* Writes lines (up to a NULL) as dir's November file and loads it. */
static void
load_nov(struct report_set *s, const char *const *lines)
{
	char err[256] = "", *text;

	CAPTURE(text, while (*lines != NULL) fprintf(fp, "%s\n", *lines++));
	tenv_write_file(dir, "closed-2026-11.jsonl", text);
	free(text);
	cr_assert_eq(report_load(s, dir, 2026, 11, err, sizeof(err)), 0,
	    "%s", err);
}

Test(report_unit, load_folds_repeats_and_counts_what_it_skips,
    .init = mkdir_tmp, .fini = rm_tmp)
{
	struct tev a = site_ev("INC-A", 5, T0 + 2 * HOUR),
	    b = site_ev("INC-B", 9, T0 + 3 * HOUR),
	    b2 = site_ev("INC-B", 14, T0 + 30 * HOUR),
	    open = site_ev("INC-D", 2, T0),
	    oct = site_ev("INC-C", 7, OCT31 + HOUR);
	char path[128], *la, *lb, *lb2, *lbad, *lopen, *loct;
	struct report_set s;
	char err[256] = "";

	b2.note = "closed again after the re-open";
	open.event = "opened";
	oct.opened = OCT31;
	oct.alarms[0].raised = OCT31;
	oct.alarms[0].cleared = OCT31 + 10 * MIN;
	oct.nalarms = 1;
	la = tev_line(&a);
	lb = tev_line(&b);
	lb2 = tev_line(&b2);
	lbad = tev_mutate(&a, "incident.satisfaction", "9");
	lopen = tev_line(&open);
	loct = tev_line(&oct);
	snprintf(path, sizeof(path), "%s/closed-2026-11.jsonl", dir);
	/* line 4 is the malformed one; line 6 is blank (CRLF) */
	load_nov(&s, (const char *[]){ la, la, lb, lbad, lopen, "\r", lb2,
	    loct, NULL });
	cr_assert_eq(s.missing, 0);
	cr_assert_eq(s.y, 2026);
	cr_assert_eq(s.m, 11);
	cr_assert_eq(s.lines, 8);
	cr_assert_eq(s.closed, 4, "A, A again, B at 9, B at 14");
	/* each closed event folded into another counts: A's exact repeat and
	 * B's earlier close ("repeated closed events folded") */
	cr_assert_eq(s.duplicates, 2);
	cr_assert_eq(s.malformed, 1);
	cr_assert_str_eq(s.first_bad, "closed-2026-11.jsonl:4: "
	    "\"satisfaction\" is not 1-5");
	cr_assert_eq(s.other_events, 1);
	cr_assert_eq(s.outside, 1);
	cr_assert_eq(s.n, 2);
	cr_assert_str_eq(s.v[0].id, "INC-A");
	cr_assert_eq(s.v[0].seq, 5);
	/* which copy of an exact repeat is kept is qsort's choice (the
	 * comparison ends at id, seq); the copies are the same bytes */
	cr_assert(s.v[0].line == 1 || s.v[0].line == 2);
	cr_assert_str_eq(s.v[0].file, path);
	cr_assert_str_eq(s.v[1].id, "INC-B");
	cr_assert_eq(s.v[1].seq, 14, "the later close is kept");
	cr_assert_eq(s.v[1].line, 7);
	cr_assert_eq(s.v[1].closed_ms, T0 + 30 * HOUR);
	cr_assert_str_eq(s.v[1].close_note, "closed again after the re-open");
	report_set_fini(&s);
	cr_assert_null(s.v);

	/* the month with no file: empty, not an error */
	cr_assert_eq(report_load(&s, dir, 2026, 12, err, sizeof(err)), 0);
	cr_assert_eq(s.missing, 1);
	cr_assert_eq(s.n, 0);
	cr_assert_eq(s.lines, 0);
	cr_assert_str_eq(err, "");
	report_set_fini(&s);

	/* the order in the file does not matter: 14 before 9 keeps 14 */
	load_nov(&s, (const char *[]){ lb2, lb, NULL });
	cr_assert_eq(s.n, 1);
	cr_assert_eq(s.v[0].seq, 14);
	report_set_fini(&s);

	/* a file with no closed event of the month: an empty set */
	load_nov(&s, (const char *[]){ lbad, lopen, loct, NULL });
	cr_assert_eq(s.missing, 0);
	cr_assert_eq(s.n, 0);
	cr_assert_eq(s.closed, 0);
	cr_assert_eq(s.malformed, 1);
	cr_assert_eq(s.other_events, 1);
	cr_assert_eq(s.outside, 1);
	cr_assert_str_eq(s.first_bad, "closed-2026-11.jsonl:1: "
	    "\"satisfaction\" is not 1-5");
	report_set_fini(&s);
	free(la);
	free(lb);
	free(lb2);
	free(lbad);
	free(lopen);
	free(loct);
}

Test(report_unit, month_names)
{
	int y;
	unsigned m;

	cr_assert_eq(report_month_parse("2026-11", &y, &m), 0);
	cr_assert_eq(y, 2026);
	cr_assert_eq(m, 11);
	cr_assert_eq(report_month_parse("2026-13", &y, &m), -EINVAL);
	cr_assert_eq(report_month_parse("2026-00", &y, &m), -EINVAL);
	cr_assert_eq(report_month_parse("2026-1", &y, &m), -EINVAL);
	cr_assert_eq(report_month_parse("2026/11", &y, &m), -EINVAL);
	cr_assert_eq(report_month_parse("1969-12", &y, &m), -EINVAL);
}

/* ---- figures ---- */

Test(report_unit, complaints_fill_their_own_section)
{
	/* respond used 10 s, 20 s (met), 90 s (breached, budget 60 s);
	 * resolve met twice, the third still running in time at the close */
	static const int64_t ack[3] = { 20 * S, 90 * S, 10 * S };
	struct report_set s = { .y = 2026, .m = 11 };
	char why[512];

	for (int i = 0; i < 3; i++) {
		char id[16];
		struct tev e;

		snprintf(id, sizeof(id), "C-%d", i);
		e = complaint_ev(id, "china-mobile", T0 + (i + 1) * HOUR);
		e.clk[0].remaining = 60 * S - ack[i];
		e.clk[0].met = ack[i] <= 60 * S;
		e.clk[0].breached = !e.clk[0].met;
		if (i == 2)
			e.clk[2] = (struct tclock){ "running", 0, 0, 8 * HOUR,
			    7 * HOUR, 0 };
		set_add(&s, &e);
	}
	figures_are(&s, NULL, 0, "china-mobile", (const struct want[]){
		{ "summary", "all", "all", "incidents", "3" },
		{ "summary", "all", "all", "complaints", "3" },
		{ "summary", "all", "all", "site_incidents", "0" },
		{ "complaint", "ack", "all", "met", "2" },
		{ "complaint", "ack", "all", "breached", "1" },
		{ "complaint", "ack", "all", "attainment_pct", "66.7" },
		{ "complaint", "ack", "all", "p50_s", "20" },
		{ "complaint", "ack", "all", "p90_s", "90" },
		{ "complaint", "ack", "all", "max_s", "90" },
		{ "complaint", "resolve", "all", "met", "2" },
		{ "complaint", "resolve", "all", "breached", "0" },
		{ "complaint", "resolve", "all", "attainment_pct", "100.0" },
		{ "complaint", "resolve", "all", "max_s", "3600" },
		/* the site clocks are not the complaints' */
		{ "clock", "ack", "all", "met", "0" },
		{ "clock", "ack", "all", "breached", "0" },
		{ "clock", "ack", "all", "attainment_pct", "" },
		{ "by_cause", "COMPLAINT", "all", "incidents", "3" },
		{ 0 },
	});
	/* a customer the complaints do not name has none */
	figures_are(&s, NULL, 0, "china-unicom", (const struct want[]){
		{ "complaint", "ack", "all", "met", "0" },
		{ "summary", "all", "all", "incidents", "0" },
		{ 0 },
	});
	/* the breached respond clock in words */
	report_breach_reason(&s.v[1], why, sizeof(why));
	cr_assert_str_eq(why, "responded 0:00:30 late");
	report_set_fini(&s);
}

Test(report_unit, area_storms_count_only_in_the_summary)
{
	struct report_set s = { .y = 2026, .m = 11 };
	struct report_rows rows = { 0 };
	struct tev e;

	e = area_ev("A-1", "china-mobile", T0 + 2 * HOUR);
	e.opened = T0 - 10 * HOUR;	/* longer than the site's outage */
	set_add(&s, &e);
	e = site_ev("S-1", 3, T0 + 2 * HOUR);
	e.customers[1] = NULL;
	set_add(&s, &e);
	report_figures(&s, NULL, 0, "china-mobile", &rows);
	rows_are(&rows, (const struct want[]){
		{ "summary", "all", "all", "area_storms", "1" },
		{ "summary", "all", "all", "incidents", "1" },
		{ "summary", "all", "all", "site_incidents", "1" },
		{ "trend", "incidents", "current", "value", "1" },
		{ "by_cause", "MAINS_FAIL", "all", "incidents", "1" },
		{ "clock", "ack", "all", "met", "1" },
		{ "outage", "longest", "S-1", "seconds", "3630" },
		{ 0 },
	});
	cr_assert_null(report_row_find(&rows, "by_cause", "UNKNOWN", NULL,
	    NULL));
	cr_assert_not_null(report_row_find(&rows, "outage", "longest", "S-1",
	    "seconds"));
	report_rows_fini(&rows);
	report_set_fini(&s);
}

Test(report_unit, percentiles_are_nearest_rank)
{
	/* sorted: 1 3 7 8 12 15 22 30 45 90: p50 the 5th, p90 the 9th */
	static const int64_t used[10] = { 7, 3, 12, 45, 1, 30, 8, 22, 90, 15 };
	struct report_set s = { .y = 2026, .m = 11 };

	for (int i = 0; i < 10; i++) {
		char id[16];
		struct tev e;

		snprintf(id, sizeof(id), "S-%02d", i);
		e = site_ev(id, 1, T0 + HOUR);
		e.clk[0].budget = 100 * S;
		e.clk[0].remaining = 100 * S - used[i] * S;
		set_add(&s, &e);
	}
	figures_are(&s, NULL, 0, "china-mobile", (const struct want[]){
		{ "clock", "ack", "all", "met", "10" },
		{ "clock", "ack", "all", "p50_s", "12" },
		{ "clock", "ack", "all", "p90_s", "45" },
		{ "clock", "ack", "all", "max_s", "90" },
		/* and by tier/region class */
		{ "clock", "ack", "premium/A", "p50_s", "12" },
		{ 0 },
	});

	/* seconds round half up: 1.499 s -> 1, 1.5 s -> 2 */
	s.v[0].clk[0].used_ms = 1499;
	for (size_t i = 1; i < s.n; i++)
		s.v[i].clk[0].used_ms = 1500;
	figures_are(&s, NULL, 0, "china-mobile", (const struct want[]){
		{ "clock", "ack", "all", "p50_s", "2" },
		{ "clock", "ack", "all", "max_s", "2" },
		{ 0 },
	});
	for (size_t i = 1; i < s.n; i++)
		s.v[i].clk[0].used_ms = 1499;
	figures_are(&s, NULL, 0, "china-mobile", (const struct want[]){
		{ "clock", "ack", "all", "max_s", "1" },
		{ 0 },
	});
	report_set_fini(&s);
}

Test(report_unit, ratios_round_half_up)
{
	/* ack: 1 met of 8 = 12.5 %; scores 5 5 5 5 4 4 4 1: 33/8 = 4.125 */
	static const int score[8] = { 5, 5, 5, 5, 4, 4, 4, 1 };
	/* three rated 2, 2 and 1: 5/3 = 1.666... -> 1.67 */
	static const int sat[8] = { 2, 0, 2, 0, 1, 0, 0, 0 };
	struct report_set s = { .y = 2026, .m = 11 };

	for (int i = 0; i < 8; i++) {
		char id[16];
		struct tev e;

		snprintf(id, sizeof(id), "S-%d", i);
		e = site_ev(id, 1, T0 + HOUR);
		if (i > 0) {
			e.clk[0].met = 0;
			e.clk[0].breached = 1;
			e.clk[0].remaining = -S;
		}
		e.score = score[i];
		e.satisfaction = sat[i];
		set_add(&s, &e);
	}
	figures_are(&s, NULL, 0, "china-mobile", (const struct want[]){
		{ "clock", "ack", "all", "attainment_pct", "12.5" },
		{ "trend", "ack_attainment_pct", "current", "value", "12.5" },
		{ "response_score", "all", "all", "average", "4.13" },
		{ "response_score", "all", "all", "scored", "8" },
		{ "response_score", "all", "5", "incidents", "4" },
		{ "trend", "response_score_average", "current", "value",
		    "4.13" },
		{ "satisfaction", "all", "all", "average", "1.67" },
		{ "satisfaction", "all", "all", "rated", "3" },
		{ "summary", "all", "all", "breached_incidents", "7" },
		{ 0 },
	});
	report_set_fini(&s);
}

Test(report_unit, trend_previous_is_undefined_without_history)
{
	struct report_set s = { .y = 2026, .m = 11 },
	    prev = { .y = 2026, .m = 10, .missing = 1 };
	const struct report_set *hist[1] = { &prev };
	struct tev e = site_ev("S-1", 1, T0 + HOUR);

	set_add(&s, &e);
	/* "" is undefined: val() finds the row and checks it is not defined */
	figures_are(&s, hist, 1, "china-mobile", (const struct want[]){
		{ "trend", "incidents", "previous", "value", "" },
		{ "trend", "incidents", "current", "value", "1" },
		{ "trend", "ack_attainment_pct", "previous", "value", "" },
		{ 0 },
	});

	/* a month that was read but is empty: 0 incidents, no attainment */
	prev.missing = 0;
	figures_are(&s, hist, 1, "china-mobile", (const struct want[]){
		{ "trend", "incidents", "previous", "value", "0" },
		{ "trend", "ack_attainment_pct", "previous", "value", "" },
		{ 0 },
	});

	/* no history at all: the same as a missing month */
	figures_are(&s, NULL, 0, "china-mobile", (const struct want[]){
		{ "trend", "incidents", "previous", "value", "" },
		{ 0 },
	});
	report_set_fini(&s);
}

/* ---- CSV, HTML, words ---- */

static char *
csv_field(const char *s)
{
	char *out;

	CAPTURE(out, report_csv_field(fp, s));
	return out;
}

Test(report_unit, csv_fields_are_quoted_when_they_must_be)
{
	static const struct {
		const char	*in, *out;
	} v[] = {
		{ "plain", "plain" },
		{ "", "" },
		{ "a,b", "\"a,b\"" },
		{ "say \"hi\"", "\"say \"\"hi\"\"\"" },
		{ "two\nlines", "\"two\nlines\"" },
		{ "cr\r", "\"cr\r\"" },
		{ "\"", "\"\"\"\"" },
		{ "caf\xc3\xa9 ok", "caf\xc3\xa9 ok" },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *got = csv_field(v[i].in);

		cr_expect_str_eq(got, v[i].out, "%zu", i);
		free(got);
	}
}

Test(report_unit, csv_of_a_customer_with_a_comma)
{
	struct report_set s = { .y = 2026, .m = 11 };
	struct report_rows rows = { 0 };
	struct tev e = site_ev("S-1", 1, T0 + HOUR);
	const char *prefix = "2026-11,\"acme, \"\"east\"\"\",",
	    *first = "2026-11,\"acme, \"\"east\"\"\",summary,all,all,"
	    "incidents,1\n";
	char *csv, *line, *save = NULL;
	size_t n = 0;

	e.customers[0] = "acme, \"east\"";
	e.customers[1] = NULL;
	set_add(&s, &e);
	report_figures(&s, NULL, 0, "acme, \"east\"", &rows);
	cr_assert_gt(rows.n, 10);
	CAPTURE(csv, report_write_csv(fp, "2026-11", "acme, \"east\"", &rows));
	cr_assert(strncmp(csv, first, strlen(first)) == 0, "%s", csv);
	for (line = strtok_r(csv, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save), n++)
		cr_expect(strncmp(line, prefix, strlen(prefix)) == 0, "%s",
		    line);
	cr_assert_eq(n, rows.n, "one line a row");
	free(csv);
	report_rows_fini(&rows);
	report_set_fini(&s);
}

Test(report_unit, html_escapes_markup)
{
	char *out;

	CAPTURE(out, reporthtml_escape(fp, "<script>&\"'"));
	cr_assert_str_eq(out, "&lt;script&gt;&amp;&quot;&#39;");
	free(out);
	CAPTURE(out, reporthtml_escape(fp, "caf\xc3\xa9 A-1"));
	cr_assert_str_eq(out, "caf\xc3\xa9 A-1");
	free(out);
}

/* The breach reason of e, parsed, in buf. */
static const char *
breach_reason(const struct tev *e, char *buf, size_t len)
{
	struct report_inc r;

	parse_closed(tev_line(e), &r);
	report_breach_reason(&r, buf, len);
	report_inc_fini(&r);
	return buf;
}

Test(report_unit, durations_and_breach_reasons_in_words)
{
	struct tev e = site_ev("S-1", 1, T0 + 30 * HOUR);
	char buf[256];

	report_dur(4 * MIN, buf, sizeof(buf));
	cr_assert_str_eq(buf, "0:04:00");
	report_dur(30 * HOUR, buf, sizeof(buf));
	cr_assert_str_eq(buf, "30:00:00");
	report_dur(0, buf, sizeof(buf));
	cr_assert_str_eq(buf, "0:00:00");

	/* acknowledged 4 min past a 1 min budget, escalated to the branch */
	e.clk[0] = (struct tclock){ "stopped", 0, 1, MIN, -4 * MIN, 0 };
	e.level = 1;
	cr_assert_str_eq(breach_reason(&e, buf, sizeof(buf)),
	    "acknowledged 0:04:00 late; escalated to branch");

	/* a breached clock still running at the close; resolve 30 h late */
	e.clk[0] = (struct tclock){ "stopped", 1, 0, MIN, 30 * S, 0 };
	e.clk[1] = (struct tclock){ "running", 0, 1, 2 * HOUR, -HOUR, 0 };
	e.clk[2] = (struct tclock){ "stopped", 0, 1, HOUR, -30 * HOUR, 0 };
	e.level = 2;
	cr_assert_str_eq(breach_reason(&e, buf, sizeof(buf)), "not on site "
	    "in time; resolved 30:00:00 late; escalated to headquarters");
	/* a short buffer is cut, never overrun */
	cr_assert_eq(strlen(breach_reason(&e, buf, 12)), 11);

	/* an older line: late, by how much unknown */
	e.clk[1] = (struct tclock){ "stopped", 1, 0, 2 * HOUR, HOUR, 1 };
	e.clk[2].nobudget = 1;
	e.level = -1;
	cr_assert_str_eq(breach_reason(&e, buf, sizeof(buf)), "resolved late");

	/* nothing breached: no reason, even when escalated */
	e = site_ev("S-2", 1, T0 + HOUR);
	e.level = 0;
	cr_assert_str_eq(breach_reason(&e, buf, sizeof(buf)), "");
}
