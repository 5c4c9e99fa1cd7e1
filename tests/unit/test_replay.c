/*
 * test_replay.c - the replay line parser (alarm, action and maintenance
 * lines, every kind of bad line, alarm codes checked by fleet_code_check()),
 * RFC3339 times, and whole replays: deterministic bytes, bad lines reported
 * by number and skipped, --strict stopping with -EINVAL, unknown ids
 * counted, operator actions and maintenance windows applied in event time
 * and their rejections reported by line.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "correlator/incjson.h"
#include "correlator/sla.h"
#include "daemon/config.h"
#include "daemon/replay.h"
#include "daemon/utc.h"

static int
parse(const char *s, struct replay_rec *r, char *err)
{
	return replay_parse_line(s, strlen(s), r, err, 160);
}

Test(replay, parses_a_full_line)
{
	struct replay_rec r;
	char err[160];

	cr_assert_eq(parse("{\"at\":\"2026-11-23T10:00:00.123Z\",\"device\":"
	    "\"S1-pwr\",\"site\":\"S1\",\"code\":\"MAINS_FAIL\",\"edge\":"
	    "\"raise\",\"severity\":\"critical\",\"value\":-1.5e2}\n", &r,
	    err), 0, "%s", err);
	cr_assert_eq(r.at_ms, 1795428000123LL);
	cr_assert_str_eq(r.device, "S1-pwr");
	cr_assert_str_eq(r.site, "S1");
	cr_assert_str_eq(r.code, "MAINS_FAIL");
	cr_assert_eq(r.edge, ALARM_RAISE);
	cr_assert_eq(r.severity, SEV_CRITICAL);
	cr_assert_float_eq(r.value, -150.0, 1e-9);
}

Test(replay, optional_fields_and_unknown_keys)
{
	struct replay_rec r;
	char err[160];

	cr_assert_eq(parse(" { \"edge\" : \"clear\", \"code\":\"X\", \"extra\":"
	    "[1], \"device\":\"d\\u00e9\", \"at\":\"2026-01-01T00:00:00Z\"}",
	    &r, err), -EINVAL, "nested unknown values are refused");
	cr_assert_eq(parse("{\"edge\":\"clear\",\"code\":\"X\",\"extra\":true,"
	    "\"n\":null,\"device\":\"d\\u00e9\\\"\",\"at\":"
	    "\"2026-01-01T08:00:00+08:00\",\"value\":null}", &r, err), 0, "%s",
	    err);
	cr_assert_str_eq(r.device, "d\xc3\xa9\"");
	cr_assert_eq(r.at_ms, 1767225600000LL);
	cr_assert_eq(r.edge, ALARM_CLEAR);
	cr_assert_eq(r.severity, SEV_MAJOR);
	cr_assert(isnan(r.value));
	cr_assert_str_eq(r.site, "");
}

Test(replay, rejects_bad_lines)
{
	static const char *bad[] = {
		"",
		"[]",
		"{}",
		"{\"at\":\"2026-11-23T10:00:00Z\",\"device\":\"d\",\"code\":\"C\"}",
		"{\"at\":\"2026-11-23T10:00:00Z\",\"device\":\"d\",\"code\":\"C\","
		    "\"edge\":\"up\"}",
		"{\"at\":\"2026-02-30T10:00:00Z\",\"device\":\"d\",\"code\":\"C\","
		    "\"edge\":\"raise\"}",
		"{\"at\":\"2026-11-23 10:00\",\"device\":\"d\",\"code\":\"C\","
		    "\"edge\":\"raise\"}",
		"{\"at\":\"2026-11-23T10:00:00Z\",\"device\":\"d\",\"code\":\"C\","
		    "\"edge\":\"raise\",}",
		"{\"at\":\"2026-11-23T10:00:00Z\",\"device\":\"d\",\"code\":\"C\","
		    "\"edge\":\"raise\"} x",
		"{\"at\":\"2026-11-23T10:00:00Z\",\"device\":\"d\",\"code\":\"C\","
		    "\"edge\":\"raise\",\"severity\":\"loud\"}",
		"{\"at\":\"2026-11-23T10:00:00Z\",\"device\":\"d\",\"code\":\"C\","
		    "\"edge\":\"raise\",\"value\":01}",
		"{\"at\":\"2026-11-23T10:00:00Z\",\"device\":\"d\\q\",\"code\":"
		    "\"C\",\"edge\":\"raise\"}",
		"{\"at\":\"2026-11-23T10:00:00Z\",\"device\":\"d\",\"code\":\"C\","
		    "\"edge\":\"raise\"",
		"{\"at\":\"2026-11-23T10:00:00Z\",\"device\":\"d\",\"code\":"
		    "\"CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC\",\"edge\":\"raise\"}",
		"{\"at\":\"2026-11-23T10:00:00Z\",\"device\":\"\",\"code\":\"C\","
		    "\"edge\":\"raise\"}",
		"{\"at\":\"2026-11-23T10:00:00Z\",\"device\":\"d\xff\",\"code\":"
		    "\"C\",\"edge\":\"raise\"}",
		"{\"at\":\"2026-11-23T10:00:00Z\",\"device\":\"\xc0\xaf\",\"code\":"
		    "\"C\",\"edge\":\"raise\"}",
	};
	struct replay_rec r;
	char err[160];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(parse(bad[i], &r, err), -EINVAL, "line %zu: %s",
		    i, bad[i]);
		cr_assert_neq(err[0], '\0');
	}
}

Test(replay, time_forms)
{
	int64_t t;

	cr_assert_eq(utc_parse("1970-01-01T00:00:00Z", 20, &t), 0);
	cr_assert_eq(t, 0);
	cr_assert_eq(utc_parse("2024-02-29T23:59:59.9999Z", 25, &t), 0);
	cr_assert_eq(t, 1709251199999LL);
	cr_assert_eq(utc_parse("2023-02-29T00:00:00Z", 20, &t), -EINVAL);
	cr_assert_eq(utc_parse("2023-01-01T00:00:00", 19, &t), -EINVAL);
	cr_assert_eq(utc_parse("2023-01-01T00:00:00.Z", 21, &t), -EINVAL);
	cr_assert_eq(utc_parse("2023-01-01T00:00:00-01:30", 25, &t), 0);
	cr_assert_eq(t, 1672536600000LL);
}

/* A two-site fleet: S1 (premium tenant) in north, S2 in north. */
static struct fleet *
small_fleet(void)
{
	struct fleet *f = fleet_new();
	const char *sites[] = { "S1", "S2" };

	for (int i = 0; i < 2; i++) {
		uint32_t s = fleet_add(f, FLEET_SITE, sites[i]);
		char id[16];
		uint32_t d;

		f->sites[s].area = fleet_area(f, "north");
		fleet_site_add_tenant(&f->sites[s], "cmcc",
		    i == 0 ? TIER_PREMIUM : TIER_STANDARD);
		snprintf(id, sizeof(id), "%s-pwr", sites[i]);
		d = fleet_add(f, FLEET_DEVICE, id);
		f->devices[d].site = s;
		snprintf(id, sizeof(id), "%s-bat", sites[i]);
		d = fleet_add(f, FLEET_DEVICE, id);
		f->devices[d].site = s;
	}
	return f;
}

static const char *input =
    "{\"at\":\"2026-11-23T10:00:00.000Z\",\"device\":\"S1-pwr\",\"site\":\"S1\","
    "\"code\":\"MAINS_FAIL\",\"edge\":\"raise\",\"severity\":\"critical\"}\n"
    "\n"
    "{\"at\":\"2026-11-23T10:00:01.000Z\",\"device\":\"S1-pwr\",\"code\":"
    "\"MAINS_FAIL\",\"edge\":\"raise\",\"severity\":\"critical\"}\n"
    "this is not json\n"
    "{\"at\":\"2026-11-23T10:05:00.000Z\",\"device\":\"S1-bat\",\"code\":"
    "\"BATT_LOW\",\"edge\":\"raise\",\"severity\":\"major\"}\n"
    "{\"at\":\"2026-11-23T10:04:00.000Z\",\"device\":\"S1-bat\",\"code\":"
    "\"BATT_LOW\",\"edge\":\"clear\"}\n"
    "{\"at\":\"2026-11-23T10:06:00.000Z\",\"device\":\"ghost\",\"code\":"
    "\"BATT_LOW\",\"edge\":\"raise\"}\n"
    "{\"at\":\"2026-11-23T10:06:00.000Z\",\"device\":\"S2-pwr\",\"site\":"
    "\"S9\",\"code\":\"DOOR_OPEN\",\"edge\":\"raise\"}\n"
    "{\"at\":\"2026-11-23T10:06:00.000Z\",\"device\":\"S2-pwr\",\"site\":"
    "\"S1\",\"code\":\"DOOR_OPEN\",\"edge\":\"raise\"}\n"
    "{\"at\":\"2026-11-23T10:07:00.000Z\",\"device\":\"S2-pwr\",\"code\":"
    "\"WATER_LEAK\",\"edge\":\"clear\"}\n";

/*
 * Runs `in` through replay_run() on fleet fl (not freed) with cc (NULL: the
 * defaults): the events written, malloc'd; *errtext the reports.
 */
static char *
run_cc(struct fleet *fl, const char *in, const struct corr_config *ccp,
    int strict, int *rc, char **errtext)
{
	char path[] = "/tmp/test_replay_XXXXXX";
	int fd = mkstemp(path);
	FILE *f, *out, *err;
	char *obuf = NULL, *ebuf = NULL;
	size_t olen = 0, elen = 0;
	struct corr_config cc;

	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	fputs(in, f);
	fclose(f);
	out = open_memstream(&obuf, &olen);
	err = open_memstream(&ebuf, &elen);
	corr_config_defaults(&cc);
	*rc = replay_run(path, fl, ccp != NULL ? ccp : &cc, strict, out, err);
	fclose(out);
	fclose(err);
	unlink(path);
	*errtext = ebuf;
	return obuf;
}

static char *
run_on(struct fleet *fl, const char *in, int strict, int *rc, char **errtext)
{
	return run_cc(fl, in, NULL, strict, rc, errtext);
}

/* The same on small_fleet(). */
static char *
run(const char *in, int strict, int *rc, char **errtext)
{
	struct fleet *fl = small_fleet();
	char *o = run_on(fl, in, strict, rc, errtext);

	fleet_free(fl);
	return o;
}

Test(replay, run_reports_and_is_deterministic)
{
	char *e1, *e2, *o1, *o2;
	int rc;

	o1 = run(input, 0, &rc, &e1);
	cr_assert_eq(rc, 0, "%s", e1);
	o2 = run(input, 0, &rc, &e2);
	cr_assert_str_eq(o1, o2, "same input, same bytes");
	cr_assert_str_eq(e1, e2);
	cr_assert(strstr(e1, "line 4: malformed: not a JSON object") != NULL, "%s", e1);
	cr_assert(strstr(e1, "line 6: out of order") != NULL, "%s", e1);
	cr_assert(strstr(e1, "line 7: unknown device ghost") != NULL, "%s", e1);
	cr_assert(strstr(e1, "line 8: unknown site S9") != NULL, "%s", e1);
	cr_assert(strstr(e1, "line 9: device S2-pwr is not at site S1") != NULL, "%s", e1);
	cr_assert(strstr(e1, "replay: lines=10 alarms=4 malformed=1 out_of_order=1 "
	    "unknown_device=1 unknown_site=1 site_mismatch=1 incidents=1 "
	    "area_incidents=0 events=2 repeats=1 stray_clears=1") != NULL, "%s", e1);
	/* Two events: MAINS_FAIL opened, BATT_LOW joined it. */
	{
		static const char head[] = "{\"schema\":\"tocsin.incident/1\","
		    "\"event\":\"opened\",\"seq\":1,\"at\":"
		    "\"2026-11-23T10:00:00.000Z\"";
		cr_assert(strncmp(o1, head, sizeof(head) - 1) == 0, "%s", o1);
	}
	cr_assert(strstr(o1, "\n{\"schema\":\"tocsin.incident/1\",\"event\":\"updated\","
	    "\"seq\":2,") != NULL, "%s", o1);
	cr_assert(strstr(o1, "\"tier\":\"premium\"") != NULL);
	free(o1); free(o2); free(e1); free(e2);
}

Test(replay, strict_stops_at_first_bad_line)
{
	char *e, *o;
	int rc;

	o = run(input, 1, &rc, &e);
	cr_assert_eq(rc, -EINVAL);
	cr_assert(strstr(e, "line 4: malformed") != NULL, "%s", e);
	cr_assert_null(strstr(e, "line 6:"), "%s", e);
	cr_assert(strstr(e, "replay: lines=4 alarms=2 ") != NULL, "%s", e);
	free(o); free(e);
}

Test(replay, missing_file)
{
	struct fleet *fl = small_fleet();
	struct corr_config cc;
	char *ebuf = NULL;
	size_t elen = 0;
	FILE *err = open_memstream(&ebuf, &elen);

	corr_config_defaults(&cc);
	cr_assert_eq(replay_run("/nonexistent/x.jsonl", fl, &cc, 0, stdout, err),
	    -ENOENT);
	fclose(err);
	cr_assert(strstr(ebuf, "No such file") != NULL);
	free(ebuf);
	fleet_free(fl);
}

/*
 * A day held in memory by replay_read_all() from text: writes text to a
 * temporary file, reads it (not strict) into *evs and *n with the reports
 * in *ebuf, then checks that --strict refuses it; removes the file.  The
 * caller frees *evs and *ebuf.
 */
static void
read_all_of(const char *text, struct fleet *fl, struct alarm_event **evs,
    size_t *n, char **ebuf)
{
	char path[] = "/tmp/test_replay_XXXXXX";
	int fd = mkstemp(path);
	struct alarm_event *strict;
	size_t elen = 0, sn;
	FILE *f, *err;

	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	*ebuf = NULL;
	err = open_memstream(ebuf, &elen);
	cr_assert_eq(replay_read_all(path, fl, 0, evs, n, err), 0);
	cr_assert_eq(replay_read_all(path, fl, 1, &strict, &sn, err), -EINVAL);
	cr_assert_null(strict);
	fclose(err);
	unlink(path);
}

Test(replay, read_all_into_memory)
{
	struct fleet *fl = small_fleet();
	struct alarm_event *evs;
	char *ebuf;
	size_t n;

	read_all_of(input, fl, &evs, &n, &ebuf);
	/* 10 lines: 1 blank, 1 malformed, 1 out of order, 3 unknown ids. */
	cr_assert_eq(n, 4);
	cr_assert_eq(evs[0].edge, ALARM_RAISE);
	cr_assert_eq(evs[0].device, fleet_find(fl, FLEET_DEVICE, "S1-pwr"));
	cr_assert_eq(evs[3].edge, ALARM_CLEAR);
	cr_assert_eq(evs[3].code, fleet_find_code(fl, "WATER_LEAK"));
	free(evs);
	free(ebuf);
	fleet_free(fl);
}

/* ---- operator actions and maintenance windows (tocsin.actions fields) ---- */

Test(replay, parses_action_lines)
{
	static const char *names[] = { "ack", "dispatch", "on_site", "resolve",
	    "close", "note", "pause", "resume" };
	struct replay_rec r;
	char err[160], line[256];

	cr_assert_eq(parse("{\"at\":\"2026-11-23T10:00:40.000Z\",\"incident\":"
	    "\"INC-0-1\",\"action\":\"ack\",\"actor\":\"li.wei\",\"note\":"
	    "\"calling the station\"}\n", &r, err), 0, "%s", err);
	cr_assert_eq(r.kind, REPLAY_ACTION);
	cr_assert_eq(r.at_ms, 1795428040000LL);
	cr_assert_str_eq(r.incident, "INC-0-1");
	cr_assert_eq(r.action, CORR_ACT_ACK);
	cr_assert_str_eq(r.actor, "li.wei");
	cr_assert_str_eq(r.note, "calling the station");
	/* every action of the HTTP API; the note is optional */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(line, sizeof(line), "{\"at\":\"2026-11-23T10:00:00Z\","
		    "\"incident\":\"INC-0-1\",\"action\":\"%s\",\"actor\":\"a\"}",
		    names[i]);
		cr_assert_eq(parse(line, &r, err), 0, "%s: %s", line, err);
		cr_assert_eq(r.kind, REPLAY_ACTION);
		cr_assert_eq(r.action, i, "%s", names[i]);
		cr_assert_str_eq(r.note, "");
	}
	/* any key order, an offset time, unknown keys ignored */
	cr_assert_eq(parse("{\"actor\":\"a\",\"source\":\"ticketing\",\"action\":"
	    "\"close\",\"incident\":\"DEMO-0-12\",\"at\":"
	    "\"2026-11-23T18:00:00+08:00\"}", &r, err), 0, "%s", err);
	cr_assert_eq(r.kind, REPLAY_ACTION);
	cr_assert_eq(r.action, CORR_ACT_CLOSE);
	cr_assert_str_eq(r.incident, "DEMO-0-12");
	cr_assert_eq(r.at_ms, 1795428000000LL);
	cr_assert_eq(r.satisfaction, 0);
	/* a close may carry the customer's rating, as on tocsin.actions */
	cr_assert_eq(parse("{\"at\":\"2026-11-23T18:00:00Z\",\"incident\":"
	    "\"DEMO-0-12\",\"action\":\"close\",\"actor\":\"a\","
	    "\"satisfaction\":4}", &r, err), 0, "%s", err);
	cr_assert_eq(r.satisfaction, 4);
	/* a line without action or maintenance is still an alarm */
	cr_assert_eq(parse("{\"at\":\"2026-11-23T10:00:00Z\",\"device\":\"d\","
	    "\"code\":\"C\",\"edge\":\"raise\"}", &r, err), 0, "%s", err);
	cr_assert_eq(r.kind, REPLAY_ALARM);
}

Test(replay, parses_maintenance_lines)
{
	struct replay_rec r;
	char err[160];

	cr_assert_eq(parse("{\"at\":\"2026-11-23T08:00:00Z\",\"maintenance\":"
	    "\"add\",\"id\":7,\"site\":\"S1\",\"start\":\"2026-11-23T09:00:00Z\","
	    "\"end\":\"2026-11-23T12:00:00Z\",\"reason\":\"rectifier swap\"}",
	    &r, err), 0, "%s", err);
	cr_assert_eq(r.kind, REPLAY_MAINT_ADD);
	cr_assert_eq(r.at_ms, 1795420800000LL);
	cr_assert_eq(r.maint_id, 7);
	cr_assert_str_eq(r.site, "S1");
	cr_assert_str_eq(r.area, "");
	cr_assert_eq(r.start_ms, 1795424400000LL);
	cr_assert_eq(r.end_ms, 1795435200000LL);
	cr_assert_str_eq(r.note, "rectifier swap");

	cr_assert_eq(parse("{\"at\":\"2026-11-23T08:00:00Z\",\"maintenance\":"
	    "\"add\",\"id\":4294967295,\"area\":\"north\",\"start\":"
	    "\"2026-11-23T09:00:00Z\",\"end\":\"2026-11-23T09:00:00.001Z\"}",
	    &r, err), 0, "%s", err);
	cr_assert_eq(r.kind, REPLAY_MAINT_ADD);
	cr_assert_eq(r.maint_id, UINT32_MAX);
	cr_assert_str_eq(r.area, "north");
	cr_assert_str_eq(r.site, "");
	cr_assert_str_eq(r.note, "");
	cr_assert_eq(r.end_ms - r.start_ms, 1);

	cr_assert_eq(parse("{\"at\":\"2026-11-23T11:30:00Z\",\"maintenance\":"
	    "\"remove\",\"id\":7}", &r, err), 0, "%s", err);
	cr_assert_eq(r.kind, REPLAY_MAINT_REMOVE);
	cr_assert_eq(r.maint_id, 7);
	cr_assert_eq(r.at_ms, 1795435200000LL - 30 * 60000);
}

#define AT	"{\"at\":\"2026-11-23T10:00:00Z\","
#define ACT	AT "\"incident\":\"INC-0-1\",\"action\":\"ack\",\"actor\":\"a\""
#define MADD	AT "\"maintenance\":\"add\",\"id\":7,"
#define WIN	"\"start\":\"2026-11-23T09:00:00Z\",\"end\":\"2026-11-23T12:00:00Z\""

Test(replay, rejects_bad_action_and_maintenance_lines)
{
	static const struct {
		const char *line;
		const char *why;	/* in the reason */
	} bad[] = {
		{ AT "\"incident\":\"INC-0-1\",\"action\":\"approve\",\"actor\":"
		    "\"a\"}", "action: unknown: approve" },
		{ AT "\"incident\":\"INC-0-1\",\"action\":1,\"actor\":\"a\"}",
		    "action: not a string" },
		{ AT "\"action\":\"ack\",\"actor\":\"a\"}", "missing incident" },
		{ AT "\"incident\":\"INC-0-1\",\"action\":\"ack\"}",
		    "missing actor" },
		{ "{\"incident\":\"INC-0-1\",\"action\":\"ack\",\"actor\":\"a\"}",
		    "missing at" },
		{ AT "\"incident\":\"INC-0-1\",\"action\":\"ack\",\"actor\":\"\"}",
		    "actor: empty" },
		{ AT "\"incident\":\"\",\"action\":\"ack\",\"actor\":\"a\"}",
		    "incident: empty" },
		{ AT "\"incident\":\"INC-0-1234567890123456789012345678901234567890123"
		    "890\",\"action\":\"ack\",\"actor\":\"a\"}",
		    "incident: longer than 47 bytes" },
		{ ACT ",\"edge\":\"raise\"}", "edge: not a key of action lines" },
		{ ACT ",\"reason\":\"x\"}", "reason: not a key of action lines "
		    "(an action's text is \"note\")" },
		{ ACT ",\"maintenance\":\"add\"}",
		    "action and maintenance on one line" },
		{ ACT ",\"note\":7}", "note: not a string" },
		{ ACT ",\"satisfaction\":4}", "satisfaction: only a close" },
		{ AT "\"incident\":\"I-1\",\"action\":\"close\",\"actor\":\"a\","
		    "\"satisfaction\":6}", "satisfaction: want an integer from 1" },
		{ AT "\"incident\":\"I-1\",\"action\":\"close\",\"actor\":\"a\","
		    "\"satisfaction\":\"5\"}", "satisfaction: want an integer" },
		{ AT "\"maintenance\":\"edit\",\"id\":7}",
		    "maintenance: want add or remove" },
		{ AT "\"maintenance\":\"remove\"}", "missing id" },
		{ AT "\"maintenance\":\"remove\",\"id\":0}",
		    "id: want an integer from 1 to 4294967295" },
		{ AT "\"maintenance\":\"remove\",\"id\":-1}", "id: want an integer" },
		{ AT "\"maintenance\":\"remove\",\"id\":1.5}", "id: want an integer" },
		{ AT "\"maintenance\":\"remove\",\"id\":4294967296}",
		    "id: want an integer" },
		{ AT "\"maintenance\":\"remove\",\"id\":\"7\"}",
		    "id: want an integer" },
		{ AT "\"maintenance\":\"remove\",\"id\":7,\"site\":\"S1\"}",
		    "site: not a key of maintenance remove lines" },
		{ MADD "\"site\":\"S1\",\"start\":\"2026-11-23T09:00:00Z\"}",
		    "missing end" },
		{ MADD "\"site\":\"S1\",\"end\":\"2026-11-23T09:00:00Z\"}",
		    "missing start" },
		{ MADD WIN "}", "needs a site or an area" },
		{ MADD "\"site\":\"S1\",\"area\":\"north\"," WIN "}",
		    "a site or an area, not both" },
		{ MADD "\"site\":\"\"," WIN "}", "site: empty" },
		{ MADD "\"site\":\"S1\",\"start\":\"2026-11-23T12:00:00Z\","
		    "\"end\":\"2026-11-23T12:00:00Z\"}", "end: not after start" },
		{ MADD "\"site\":\"S1\",\"start\":\"tomorrow\","
		    "\"end\":\"2026-11-23T12:00:00Z\"}",
		    "start: not an RFC3339 time" },
		{ MADD "\"site\":\"S1\"," WIN ",\"note\":\"x\"}",
		    "note: not a key of maintenance add lines (a window's text "
		    "is \"reason\")" },
		{ AT "\"device\":\"d\",\"code\":\"C\",\"edge\":\"raise\","
		    "\"actor\":\"x\"}", "actor: not a key of alarm lines" },
		{ AT "\"device\":\"d\",\"code\":\"C\",\"edge\":\"raise\","
		    "\"id\":3}", "id: not a key of alarm lines" },
	};
	struct replay_rec r;
	char err[160];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(parse(bad[i].line, &r, err), -EINVAL, "%zu: %s", i,
		    bad[i].line);
		cr_assert(strstr(err, bad[i].why) != NULL, "%zu: want \"%s\", "
		    "got \"%s\"", i, bad[i].why, err);
	}
}

/* ---- alarm codes: one check, the model's (fleet_code_check) ---- */

Test(replay, alarm_codes_are_checked_like_the_config)
{
	static const char *good[] = { "MAINS_FAIL", "COMM_LOSS", "A", "X_1",
	    "_", "0123456789012345678901234567890" /* 31 */ };
	static const char *badc[] = { "", "mains_fail", "mains fail",
	    "MAINS-FAIL", "MAINS FAIL", "MAINS_FAIL\n", "\xc3\x89T\xc3\x89",
	    "01234567890123456789012345678901" /* 32 */ };
	struct replay_rec r;
	char err[160], line[256];

	cr_assert_eq(FLEET_CODE_MAX, 31);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert_eq(fleet_code_check(good[i]), 0, "%s", good[i]);
	for (size_t i = 0; i < sizeof(badc) / sizeof(badc[0]); i++)
		cr_assert_eq(fleet_code_check(badc[i]), -EINVAL, "%s", badc[i]);
	/* the limit agrees with the engine's rule codes: every valid code fits */
	cr_assert_lt(FLEET_CODE_MAX, CORR_CODE_LEN);

	cr_assert_eq(parse(AT "\"device\":\"d\",\"code\":\"mains fail\","
	    "\"edge\":\"raise\"}", &r, err), -EINVAL);
	cr_assert(strstr(err, "bad alarm code \"mains fail\" (A-Z, 0-9 and _ "
	    "only, 1-31 bytes)") != NULL, "%s", err);
	snprintf(line, sizeof(line), AT "\"device\":\"d\",\"code\":\"%s\","
	    "\"edge\":\"raise\"}", good[5]);
	cr_assert_eq(parse(line, &r, err), 0, "%s", err);
	cr_assert_str_eq(r.code, good[5]);
	snprintf(line, sizeof(line), AT "\"device\":\"d\",\"code\":\"%s\","
	    "\"edge\":\"raise\"}", badc[7]);
	cr_assert_eq(parse(line, &r, err), -EINVAL);
	cr_assert(strstr(err, "bad alarm code \"0123") != NULL, "%s", err);
	/* a code far over any buffer is refused the same way */
	cr_assert_eq(parse(AT "\"device\":\"d\",\"code\":\"AAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAA\",\"edge\":\"raise\"}", &r, err), -EINVAL);
	cr_assert(strstr(err, "bad alarm code") != NULL, "%s", err);
	/* the reason stays one line whatever the code holds */
	cr_assert_eq(parse(AT "\"device\":\"d\",\"code\":\"A\\nB\","
	    "\"edge\":\"raise\"}", &r, err), -EINVAL);
	cr_assert(strstr(err, "bad alarm code") != NULL, "%s", err);
	cr_assert_null(strchr(err, '\n'), "%s", err);
}

#define T(hms)	"{\"at\":\"2026-11-23T" hms ".000Z\","

static const char *bad_code_input =
    T("10:00:00") "\"device\":\"S1-pwr\",\"code\":\"MAINS_FAIL\",\"edge\":"
    "\"raise\",\"severity\":\"critical\"}\n"
    T("10:01:00") "\"device\":\"S1-bat\",\"code\":\"BATT_LOW\",\"edge\":"
    "\"raise\"}\n"
    "\n"
    T("10:02:00") "\"device\":\"S2-pwr\",\"code\":\"DOOR_OPEN\",\"edge\":"
    "\"raise\"}\n"
    T("10:03:00") "\"device\":\"S2-bat\",\"code\":\"mains fail\",\"edge\":"
    "\"raise\"}\n"
    T("10:04:00") "\"device\":\"S2-pwr\",\"code\":\"DOOR_OPEN\",\"edge\":"
    "\"clear\"}\n";

Test(replay, run_refuses_a_bad_code_with_its_line)
{
	struct fleet *fl = small_fleet();
	char *e, *o;
	int rc;

	o = run_on(fl, bad_code_input, 0, &rc, &e);
	cr_assert_eq(rc, 0, "%s", e);
	cr_assert(strstr(e, "replay: line 5: malformed: bad alarm code "
	    "\"mains fail\" (A-Z, 0-9 and _ only, 1-31 bytes)\n") != NULL,
	    "%s", e);
	cr_assert(strstr(e, "replay: lines=6 alarms=4 malformed=1 ") != NULL,
	    "%s", e);
	/* never interned, never an incident: S1's and S2's only */
	cr_assert_eq(fleet_find_code(fl, "mains fail"), -ENOENT);
	cr_assert(strstr(e, " incidents=2 ") != NULL, "%s", e);
	cr_assert_null(strstr(o, "mains fail"));
	free(o); free(e);

	o = run_on(fl, bad_code_input, 1, &rc, &e);
	cr_assert_eq(rc, -EINVAL);
	cr_assert(strstr(e, "replay: line 5: malformed: bad alarm code") != NULL,
	    "%s", e);
	cr_assert(strstr(e, "replay: lines=5 alarms=3 ") != NULL, "%s", e);
	free(o); free(e);
	fleet_free(fl);
}

/*
 * A morning at S1 and S2 with its operators: S2's planned work (window 7)
 * makes S2's alarm a planned incident (INC-0-1); S1's mains failure
 * (INC-0-2) is acknowledged, dispatched, worked on site and resolved.
 * Lines 5, 6, 8, 13, 14, 15 and 17 are refused by the engine; line 9 is
 * malformed.
 */
static const char *ops_input =
    /* 1 */ T("08:00:00") "\"maintenance\":\"add\",\"id\":7,\"site\":\"S2\","
    "\"start\":\"2026-11-23T09:00:00.000Z\",\"end\":\"2026-11-23T12:00:00.000Z\","
    "\"reason\":\"rectifier swap\"}\n"
    /* 2 */ T("09:30:00") "\"device\":\"S2-pwr\",\"code\":\"RECT_FAIL\","
    "\"edge\":\"raise\"}\n"
    /* 3 */ T("10:00:00") "\"device\":\"S1-pwr\",\"code\":\"MAINS_FAIL\","
    "\"edge\":\"raise\",\"severity\":\"critical\"}\n"
    /* 4 */ T("10:01:00") "\"incident\":\"INC-0-2\",\"action\":\"ack\","
    "\"actor\":\"li.wei\",\"note\":\"calling the station\"}\n"
    /* 5 */ T("10:02:00") "\"incident\":\"INC-0-2\",\"action\":\"ack\","
    "\"actor\":\"zhang.min\"}\n"
    /* 6 */ T("10:03:00") "\"incident\":\"INC-0-9\",\"action\":\"dispatch\","
    "\"actor\":\"li.wei\"}\n"
    /* 7 */ T("10:04:00") "\"incident\":\"INC-0-2\",\"action\":\"dispatch\","
    "\"actor\":\"li.wei\",\"note\":\"crew 3\"}\n"
    /* 8 */ T("10:05:00") "\"incident\":\"INC-0-2\",\"action\":\"note\","
    "\"actor\":\"li.wei\"}\n"
    /* 9 */ T("10:06:00") "\"incident\":\"INC-0-2\",\"action\":\"ack\"}\n"
    /* 10 */ T("10:50:00") "\"incident\":\"INC-0-2\",\"action\":\"on_site\","
    "\"actor\":\"wang.jun\"}\n"
    /* 11 */ T("11:00:00") "\"device\":\"S1-pwr\",\"code\":\"MAINS_FAIL\","
    "\"edge\":\"clear\"}\n"
    /* 12 */ T("11:10:00") "\"incident\":\"INC-0-2\",\"action\":\"resolve\","
    "\"actor\":\"wang.jun\",\"note\":\"grid back\"}\n"
    /* 13 */ T("11:20:00") "\"maintenance\":\"add\",\"id\":7,\"area\":"
    "\"north\",\"start\":\"2026-11-23T13:00:00Z\",\"end\":"
    "\"2026-11-23T14:00:00Z\"}\n"
    /* 14 */ T("11:21:00") "\"maintenance\":\"add\",\"id\":8,\"site\":\"S9\","
    "\"start\":\"2026-11-23T13:00:00Z\",\"end\":\"2026-11-23T14:00:00Z\"}\n"
    /* 15 */ T("11:22:00") "\"maintenance\":\"add\",\"id\":9,\"area\":"
    "\"south\",\"start\":\"2026-11-23T13:00:00Z\",\"end\":"
    "\"2026-11-23T14:00:00Z\"}\n"
    /* 16 */ T("11:30:00") "\"maintenance\":\"remove\",\"id\":7}\n"
    /* 17 */ T("11:31:00") "\"maintenance\":\"remove\",\"id\":7}\n";

Test(replay, run_applies_actions_and_maintenance_in_event_time)
{
	struct fleet *fl = small_fleet();
	char *e1, *e2, *o1, *o2, *p;
	int rc;

	o1 = run_on(fl, ops_input, 0, &rc, &e1);
	cr_assert_eq(rc, 0, "%s", e1);
	o2 = run_on(fl, ops_input, 0, &rc, &e2);
	cr_assert_str_eq(o1, o2, "same input, same bytes");
	cr_assert_str_eq(e1, e2);
	/* refusals name the line, the action and the engine's reason */
	cr_assert(strstr(e1, "replay: line 5: action ack on INC-0-2 rejected: "
	    "already acknowledged by li.wei\n") != NULL, "%s", e1);
	cr_assert(strstr(e1, "replay: line 6: action dispatch on INC-0-9 "
	    "rejected: unknown incident INC-0-9\n") != NULL, "%s", e1);
	cr_assert(strstr(e1, "replay: line 8: action note on INC-0-2 rejected: "
	    "empty note\n") != NULL, "%s", e1);
	cr_assert(strstr(e1, "replay: line 9: malformed: missing actor\n") !=
	    NULL, "%s", e1);
	cr_assert(strstr(e1, "replay: line 13: maintenance add 7 rejected: "
	    "id 7 is taken\n") != NULL, "%s", e1);
	cr_assert(strstr(e1, "replay: line 14: maintenance add 8 rejected: "
	    "unknown site S9\n") != NULL, "%s", e1);
	cr_assert(strstr(e1, "replay: line 15: maintenance add 9 rejected: "
	    "unknown area south\n") != NULL, "%s", e1);
	cr_assert(strstr(e1, "replay: line 17: maintenance remove 7 rejected: "
	    "no window 7\n") != NULL, "%s", e1);
	cr_assert(strstr(e1, "replay: lines=17 alarms=3 malformed=1 "
	    "out_of_order=0 ") != NULL, "%s", e1);
	cr_assert(strstr(e1, " actions=4 actions_rejected=3 maintenance=2 "
	    "maintenance_rejected=4 ticks=0\n") != NULL, "%s", e1);

	/* S2's alarm inside window 7 opened a planned incident */
	{
		static const char head[] = "{\"schema\":\"tocsin.incident/1\","
		    "\"event\":\"opened\",\"seq\":1,\"at\":"
		    "\"2026-11-23T09:30:00.000Z\",\"incident\":{\"id\":\"INC-0-1\"";
		cr_assert(strncmp(o1, head, sizeof(head) - 1) == 0, "%s", o1);
	}
	p = strchr(o1, '\n');
	cr_assert_not_null(p);
	*p = '\0';
	cr_assert(strstr(o1, "\"planned\":true,\"planned_reason\":"
	    "\"rectifier swap\"") != NULL, "%s", o1);
	*p = '\n';
	/* the operator's steps, with their actor, note and time */
	cr_assert(strstr(o1, "\"event\":\"acknowledged\",\"seq\":2,\"at\":"
	    "\"2026-11-23T10:01:00.000Z\",\"incident\":{\"id\":\"INC-0-2\"") !=
	    NULL, "%s", o1);
	cr_assert(strstr(o1, "\"owner\":\"li.wei\"") != NULL);
	cr_assert(strstr(o1, "{\"at\":\"2026-11-23T10:01:00.000Z\",\"actor\":"
	    "\"li.wei\",\"action\":\"acknowledged\",\"note\":\"calling the "
	    "station\"}") != NULL, "%s", o1);
	cr_assert(strstr(o1, "\"event\":\"dispatched\",\"seq\":3,") != NULL);
	cr_assert(strstr(o1, "{\"at\":\"2026-11-23T10:04:00.000Z\",\"actor\":"
	    "\"li.wei\",\"action\":\"dispatched\",\"note\":\"crew 3\"}") != NULL);
	cr_assert(strstr(o1, "\"event\":\"on_site\",\"seq\":4,") != NULL);
	cr_assert(strstr(o1, "{\"at\":\"2026-11-23T10:50:00.000Z\",\"actor\":"
	    "\"wang.jun\",\"action\":\"on_site\",\"note\":null}") != NULL);
	cr_assert(strstr(o1, "\"event\":\"resolved\",\"seq\":6,\"at\":"
	    "\"2026-11-23T11:10:00.000Z\"") != NULL, "%s", o1);
	cr_assert(strstr(o1, "{\"at\":\"2026-11-23T11:10:00.000Z\",\"actor\":"
	    "\"wang.jun\",\"action\":\"resolved\",\"note\":\"grid back\"}") !=
	    NULL);
	/* removing window 7 at 11:30 ends INC-0-1's planned status */
	cr_assert(strstr(o1, "\"event\":\"updated\",\"seq\":2,\"at\":"
	    "\"2026-11-23T11:30:00.000Z\",\"incident\":{\"id\":\"INC-0-1\"") !=
	    NULL, "%s", o1);
	cr_assert(strstr(o1, "\"action\":\"unplanned\",\"note\":\"maintenance "
	    "window 7 removed; SLA clocks run\"}") != NULL, "%s", o1);
	/* nothing a refused line asked for happened */
	cr_assert_null(strstr(o1, "zhang.min"));
	cr_assert_null(strstr(o1, "INC-0-9"));
	cr_assert_null(strstr(o1, "\"event\":\"acknowledged\",\"seq\":3"));
	free(o1); free(o2); free(e1); free(e2);
	fleet_free(fl);
}

Test(replay, strict_stops_at_a_malformed_action_not_a_rejected_one)
{
	struct fleet *fl = small_fleet();
	char *e, *o;
	int rc;

	o = run_on(fl, ops_input, 1, &rc, &e);
	cr_assert_eq(rc, -EINVAL);
	cr_assert(strstr(e, "replay: line 8: action note on INC-0-2 rejected")
	    != NULL, "%s", e);
	cr_assert(strstr(e, "replay: line 9: malformed: missing actor") != NULL,
	    "%s", e);
	cr_assert_null(strstr(e, "line 13:"), "%s", e);
	cr_assert(strstr(e, "replay: lines=9 alarms=2 ") != NULL, "%s", e);
	cr_assert(strstr(e, " actions=2 actions_rejected=3 maintenance=1 "
	    "maintenance_rejected=0 ticks=0\n") != NULL, "%s", e);
	cr_assert_null(strstr(o, "\"event\":\"on_site\""));
	free(o); free(e);
	fleet_free(fl);
}

Test(replay, actions_keep_the_time_order)
{
	static const char *in =
	    T("10:00:00") "\"device\":\"S1-pwr\",\"code\":\"MAINS_FAIL\","
	    "\"edge\":\"raise\"}\n"
	    T("10:05:00") "\"incident\":\"INC-0-1\",\"action\":\"ack\","
	    "\"actor\":\"li.wei\"}\n"
	    T("10:04:00") "\"maintenance\":\"remove\",\"id\":1}\n"
	    T("10:05:00") "\"incident\":\"INC-0-1\",\"action\":\"dispatch\","
	    "\"actor\":\"li.wei\"}\n";
	struct fleet *fl = small_fleet();
	char *e, *o;
	int rc;

	o = run_on(fl, in, 0, &rc, &e);
	cr_assert_eq(rc, 0, "%s", e);
	cr_assert(strstr(e, "replay: line 3: out of order") != NULL, "%s", e);
	cr_assert(strstr(e, " actions=2 actions_rejected=0 maintenance=0 "
	    "maintenance_rejected=0 ticks=0\n") != NULL, "%s", e);
	cr_assert(strstr(o, "\"event\":\"dispatched\"") != NULL, "%s", o);
	free(o); free(e);
	fleet_free(fl);
}

Test(replay, read_all_keeps_the_alarms_of_an_ops_file)
{
	struct fleet *fl = small_fleet();
	struct alarm_event *evs;
	char *ebuf;
	size_t n;

	read_all_of(ops_input, fl, &evs, &n, &ebuf);
	/* lines 2, 3 and 11; actions and windows need an engine */
	cr_assert_eq(n, 3);
	cr_assert_eq(evs[0].device, fleet_find(fl, FLEET_DEVICE, "S2-pwr"));
	cr_assert_eq(evs[2].edge, ALARM_CLEAR);
	cr_assert(strstr(ebuf, "replay: line 9: malformed: missing actor") !=
	    NULL, "%s", ebuf);
	free(evs);
	free(ebuf);
	fleet_free(fl);
}

/* Found by fuzz_replay: an unescaped key went into the reason verbatim. */
Test(replay, reasons_stay_one_line)
{
	static const char *bad[] = {
		"{\"code\\nd\":sour\"X\"}",
		"{\"a\\r\\nb\":[1]}",
		"{\"at\":\"2026-11-23T10:00:00Z\",\"device\":\"d\",\"code\":\"C\","
		    "\"edge\":\"up\\n\"}",
		"{\"at\":\"2026-11-23T10:00:00Z\",\"incident\":\"I\",\"action\":"
		    "\"a\\u000ab\",\"actor\":\"x\"}",
	};
	struct replay_rec r;
	char err[160];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(parse(bad[i], &r, err), -EINVAL, "%s", bad[i]);
		cr_assert_null(strpbrk(err, "\r\n"), "%zu: %s", i, err);
	}
}

/*
 * The reader takes the file in 1 MiB blocks: lines that straddle a block,
 * a line longer than a block (a 2 MiB note: malformed, and the lines after
 * it still count) and a last line without a newline are all read whole,
 * with their numbers, and the same bytes come out of two runs.  (The
 * alarm repeats: a raise/clear chatter would make events that grow with
 * the timeline, which is issue 11's other part.)
 */
Test(replay, lines_across_read_blocks)
{
	size_t cap = 8u << 20, n = 0, lines = 0;
	char *in = malloc(cap), *e1, *e2, *o1, *o2, want[96];
	int rc;

	cr_assert_not_null(in);
	for (int i = 0; n < (3u << 20); i++, lines++)
		n += (size_t)snprintf(in + n, cap - n, "{\"at\":\"2026-11-23T10:"
		    "%02d:%02d.%03dZ\",\"device\":\"S1-pwr\",\"code\":\"DOOR_OPEN\","
		    "\"edge\":\"raise\"}\n", i / 60000 % 60, i / 1000 % 60,
		    i % 1000);
	n += (size_t)snprintf(in + n, cap - n, "{\"at\":\"2026-11-23T11:00:00Z\","
	    "\"incident\":\"X-0-1\",\"action\":\"note\",\"actor\":\"a\","
	    "\"note\":\"");
	memset(in + n, 'x', 2u << 20);
	n += 2u << 20;
	n += (size_t)snprintf(in + n, cap - n, "\"}\n");
	lines++;
	n += (size_t)snprintf(in + n, cap - n, "{\"at\":\"2026-11-23T11:00:01Z\","
	    "\"device\":\"S1-bat\",\"code\":\"BATT_LOW\",\"edge\":\"raise\"}");
	lines++;
	o1 = run(in, 0, &rc, &e1);
	cr_assert_eq(rc, 0, "%s", e1);
	snprintf(want, sizeof(want), "replay: line %zu: malformed: note: longer "
	    "than 1023 bytes", lines - 1);
	cr_expect(strstr(e1, want) != NULL, "%.300s", e1);
	snprintf(want, sizeof(want), "replay: lines=%zu alarms=%zu malformed=1 ",
	    lines, lines - 1);
	cr_expect(strstr(e1, want) != NULL, "want %s in %.300s", want, e1);
	cr_expect(strstr(o1, "\"BATT_LOW\"") != NULL);
	o2 = run(in, 0, &rc, &e2);
	cr_expect_str_eq(o1, o2, "replay output differs between runs");
	cr_expect_str_eq(e1, e2);
	free(o1);
	free(o2);
	free(e1);
	free(e2);
	free(in);
}

/*
 * Two threads (the default) and REPLAY_ONE_THREAD: the same bytes on out
 * and on err, the same result, with and without REPLAY_STRICT.  Each run
 * gets a fleet of its own (a run interns the codes it meets).
 */
static void
same_both_ways(struct fleet *(*mkfleet)(void), const struct corr_config *cc,
    const char *path, const char *what)
{
	for (int strict = 0; strict <= REPLAY_STRICT; strict += REPLAY_STRICT) {
		char *o[2], *e[2];
		size_t on[2], en[2];
		int rc[2];

		for (int k = 0; k < 2; k++) {
			struct fleet *fl = mkfleet();
			FILE *out = open_memstream(&o[k], &on[k]);
			FILE *err = open_memstream(&e[k], &en[k]);

			rc[k] = replay_run(path, fl, cc, strict |
			    (k ? REPLAY_ONE_THREAD : 0), out, err);
			fclose(out);
			fclose(err);
			fleet_free(fl);
		}
		cr_expect_eq(rc[0], rc[1], "%s strict=%d: result", what, strict);
		cr_expect(on[0] == on[1] && memcmp(o[0], o[1], on[0]) == 0,
		    "%s strict=%d: events differ (%zu and %zu bytes)", what,
		    strict, on[0], on[1]);
		cr_expect(en[0] == en[1] && memcmp(e[0], e[1], en[0]) == 0,
		    "%s strict=%d: reports differ:\n%.2000s\n---\n%.2000s", what,
		    strict, e[0], e[1]);
		cr_expect_gt(on[0], 0, "%s: no events", what);
		free(o[0]); free(o[1]); free(e[0]); free(e[1]);
	}
}

static const char *demo_yaml = "etc/demo.yaml";

static struct fleet *
demo_fleet(void)
{
	struct config_errors errs = { NULL, 0 };
	struct config *cfg = config_load(demo_yaml, &errs);
	struct fleet *f;

	cr_assert_not_null(cfg, "%s", errs.n ? errs.msg[0] : "?");
	f = cfg->fleet;
	cfg->fleet = NULL;	/* the caller's now */
	config_free(cfg);
	return f;
}

Test(replay, two_threads_same_bytes_on_recorded_days)
{
	static const char *days[] = { "tests/data/demo-alarms.jsonl",
	    "tests/data/demo-day-ops.jsonl" };
	struct config_errors errs = { NULL, 0 };
	struct config *cfg = config_load(demo_yaml, &errs);

	cr_assert_not_null(cfg);
	for (size_t i = 0; i < sizeof(days) / sizeof(days[0]); i++)
		same_both_ways(demo_fleet, &cfg->correlation, days[i], days[i]);
	config_free(cfg);
}

/*
 * A generated day on the small fleet, long enough to cross read blocks and
 * fill the ring many times: alarms that open, join, clear and repeat,
 * unknown devices and sites, malformed and out-of-order lines, codes the
 * fleet does not know (each one makes the reader wait for the engine),
 * actions on the incidents it opens and maintenance windows.
 */
Test(replay, two_threads_same_bytes_on_a_generated_day)
{
	static const char *devs[] = { "S1-pwr", "S1-bat", "S2-pwr", "S2-bat",
	    "ghost" };
	static const char *codes[] = { "MAINS_FAIL", "BATT_LOW", "DOOR_OPEN",
	    "HIGH_TEMP" };
	static const char *acts[] = { "ack", "dispatch", "note", "resolve",
	    "close" };
	char path[] = "/tmp/test_replay_XXXXXX";
	int fd = mkstemp(path);
	FILE *f;
	uint64_t x = 20261204;
	int64_t t = 0;
	struct corr_config cc;

	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	for (int i = 0; i < 200000; i++) {
		unsigned r;
		int64_t ms;

		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		r = (unsigned)(x >> 11);
		t += r % 800;
		ms = r % 997 == 0 ? t - 5000 : t;	/* now and then out of order */
		fprintf(f, "{\"at\":\"2026-11-23T%02d:%02d:%02d.%03dZ\",",
		    (int)(ms / 3600000 % 24), (int)(ms / 60000 % 60),
		    (int)(ms / 1000 % 60), (int)(ms % 1000));
		switch (r % 1000) {
		case 0:
			fprintf(f, "\"device\":\"S1-pwr\"\n");	/* cut */
			continue;
		case 1:
			fprintf(f, "\"device\":\"S2-bat\",\"site\":\"S%u\",\"code\":"
			    "\"BATT_LOW\",\"edge\":\"raise\"}\n", r / 1000 % 4);
			continue;
		case 2:
			fprintf(f, "\"device\":\"S1-bat\",\"code\":\"NEW_%u\","
			    "\"edge\":\"raise\"}\n", r / 1000 % 64);
			continue;
		case 3: case 4: case 5: case 6:
			fprintf(f, "\"incident\":\"INC-0-%u\",\"action\":\"%s\","
			    "\"actor\":\"op\",\"note\":\"n%u\"}\n", r / 1000 % 50 + 1,
			    acts[r / 7 % 5], r);
			continue;
		case 7:
			fprintf(f, "\"maintenance\":\"add\",\"id\":%u,\"site\":"
			    "\"S%u\",\"start\":\"2026-11-23T00:00:00Z\",\"end\":"
			    "\"2026-11-24T00:00:00Z\",\"reason\":\"w\"}\n",
			    r / 1000 % 5 + 1, r / 3 % 3);
			continue;
		case 8:
			fprintf(f, "\"maintenance\":\"remove\",\"id\":%u}\n",
			    r / 1000 % 5 + 1);
			continue;
		}
		fprintf(f, "\"device\":\"%s\",\"code\":\"%s\",\"edge\":\"%s\","
		    "\"severity\":\"%s\",\"value\":%u}\n", devs[r / 8 % 5 == 4 &&
		    r % 53 != 0 ? 0 : r / 8 % 5], codes[r / 64 % 4],
		    r / 256 % 3 ? "raise" : "clear", r / 1024 % 2 ? "major" :
		    "critical", r % 100);
	}
	fclose(f);
	corr_config_defaults(&cc);
	same_both_ways(small_fleet, &cc, path, "generated day");
	unlink(path);
}

Test(replay, parses_tick_lines)
{
	static const struct {
		const char *line;
		const char *why;	/* in the reason */
	} bad[] = {
		{ AT "\"tick\":\"\"}", "tick: empty" },
		{ AT "\"tick\":7}", "tick: not a string" },
		{ "{\"tick\":\"p1\"}", "missing at" },
		{ AT "\"tick\":\"p1\",\"device\":\"D1\"}",
		    "device: not a key of tick lines" },
		{ AT "\"tick\":\"p1\",\"action\":\"ack\",\"incident\":\"I\","
		    "\"actor\":\"a\"}", "tick: not a key of action lines" },
	};
	struct replay_rec r;
	char err[160];

	cr_assert_eq(parse("{\"at\":\"2026-11-23T10:00:00Z\",\"tick\":"
	    "\"poller-a\"}", &r, err), 0, "%s", err);
	cr_assert_eq(r.kind, REPLAY_TICK);
	cr_assert_eq(r.at_ms, 1795428000000LL);
	cr_assert_str_eq(r.actor, "poller-a");
	/* key order never matters */
	cr_assert_eq(parse("{\"tick\":\"p\",\"at\":\"2026-11-23T10:00:00Z\"}",
	    &r, err), 0, "%s", err);
	cr_assert_eq(r.kind, REPLAY_TICK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(parse(bad[i].line, &r, err), -EINVAL, "%s",
		    bad[i].line);
		cr_assert(strstr(err, bad[i].why) != NULL, "%s: %s",
		    bad[i].line, err);
	}
}

/*
 * Stream time (docs/scaleout.md): a replay stops its clocks at its last
 * line, so an incident with nothing after its raise never comes due; tick
 * lines carry the time on, and what comes due fires at the same point of
 * the sequence, whatever the wall clock did.
 */
Test(replay, ticks_move_time_on_a_quiet_stream)
{
	static const char raise[] =
	    T("10:00:00") "\"device\":\"S1-pwr\",\"code\":\"MAINS_FAIL\","
	    "\"edge\":\"raise\",\"severity\":\"critical\"}\n";
	struct fleet *fl = small_fleet();
	struct corr_config cc;
	struct sla_config sc;
	char in[1024], *e0, *e1, *o0, *o1, *o2, *e2;
	int rc;

	sla_config_defaults(&sc);
	corr_config_defaults(&cc);
	cc.sla = &sc;
	o0 = run_cc(fl, raise, &cc, 0, &rc, &e0);
	cr_assert_eq(rc, 0, "%s", e0);
	cr_assert_null(strstr(o0, "\"event\":\"sla_"), "%s", o0);
	cr_assert(strstr(e0, " ticks=0\n") != NULL, "%s", e0);

	snprintf(in, sizeof(in), "%s%s%s%s", raise,
	    T("11:00:00") "\"tick\":\"poller-a\"}\n",
	    T("10:59:00") "\"tick\":\"poller-b\"}\n",	/* out of order */
	    T("23:00:00") "\"tick\":\"poller-a\"}\n");
	o1 = run_cc(fl, in, &cc, 0, &rc, &e1);
	cr_assert_eq(rc, 0, "%s", e1);
	cr_assert(strstr(o1, "\"event\":\"sla_warning\"") != NULL, "%s", o1);
	cr_assert(strstr(o1, "\"event\":\"sla_breach") != NULL, "%s", o1);
	cr_assert(strstr(e1, "replay: line 3: out of order") != NULL, "%s", e1);
	cr_assert(strstr(e1, "replay: lines=4 alarms=1 malformed=0 "
	    "out_of_order=1 ") != NULL, "%s", e1);
	cr_assert(strstr(e1, " ticks=2\n") != NULL, "%s", e1);
	/* the same records, the same bytes */
	o2 = run_cc(fl, in, &cc, 0, &rc, &e2);
	cr_assert_str_eq(o1, o2);
	free(o0); free(o1); free(o2); free(e0); free(e1); free(e2);
	sla_config_fini(&sc);
	fleet_free(fl);
}

/* What tocsin writes on tocsin.alarms (correlator/incjson), replay reads. */
Test(replay, reads_what_incjson_writes)
{
	const struct incjson_alarm a = { 1795428000123LL, "S1-pwr", "S1",
	    "MAINS_FAIL", ALARM_CLEAR, SEV_MAJOR, 48.25 };
	struct incjson_buf b;
	struct replay_rec r;
	char err[160];

	incjson_buf_init(&b);
	incjson_alarm(&b, &a);
	cr_assert_eq(replay_parse_line(b.p, b.n, &r, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(r.kind, REPLAY_ALARM);
	cr_assert_eq(r.at_ms, a.at);
	cr_assert_str_eq(r.device, "S1-pwr");
	cr_assert_str_eq(r.site, "S1");
	cr_assert_str_eq(r.code, "MAINS_FAIL");
	cr_assert_eq(r.edge, ALARM_CLEAR);
	cr_assert_eq(r.severity, SEV_MAJOR);
	cr_assert_eq(r.value, 48.25);
	b.n = 0;
	cr_assert_eq(incjson_tick(&b, 1795428001000LL, "poller \"a\""),
	    b.n);
	cr_assert_eq(replay_parse_line(b.p, b.n, &r, err, sizeof(err)), 0,
	    "%.*s: %s", (int)b.n, b.p, err);
	cr_assert_eq(r.kind, REPLAY_TICK);
	cr_assert_eq(r.at_ms, 1795428001000LL);
	cr_assert_str_eq(r.actor, "poller \"a\"");
	incjson_buf_fini(&b);
}

/* REPLAY_SHARD(n): the engine is shard n's, so are its incident ids. */
Test(replay, shard_flag_names_the_ids)
{
	static const char in[] =
	    T("10:00:00") "\"device\":\"S1-pwr\",\"code\":\"MAINS_FAIL\","
	    "\"edge\":\"raise\",\"severity\":\"critical\"}\n";
	struct fleet *fl = small_fleet();
	char *e, *o;
	int rc;

	o = run_on(fl, in, REPLAY_SHARD(5), &rc, &e);
	cr_assert_eq(rc, 0, "%s", e);
	cr_assert(strstr(o, "\"id\":\"INC-5-1\"") != NULL, "%s", o);
	cr_assert_null(strstr(o, "INC-0-"), "%s", o);
	free(o); free(e);
	o = run_on(fl, in, REPLAY_STRICT | REPLAY_SHARD(63), &rc, &e);
	cr_assert_eq(rc, 0, "%s", e);
	cr_assert(strstr(o, "\"id\":\"INC-63-1\"") != NULL, "%s", o);
	free(o); free(e);
	fleet_free(fl);
}

/*
 * REPLAY_LATE: a line behind an earlier one (a second poller's alarm
 * after the first's later tick) is applied at its own time, not skipped:
 * its incident opens with its own raise time; without the flag it is out
 * of order and skipped.
 */
Test(replay, late_flag_applies_lines_behind_stream_time)
{
	static const char in[] =
	    T("10:00:00") "\"device\":\"S1-pwr\",\"code\":\"MAINS_FAIL\","
	    "\"edge\":\"raise\",\"severity\":\"critical\"}\n"
	    T("10:05:00") "\"tick\":\"poller-a\"}\n"
	    T("10:04:58") "\"device\":\"S2-pwr\",\"code\":\"MAINS_FAIL\","
	    "\"edge\":\"raise\",\"severity\":\"critical\"}\n";
	struct fleet *fl = small_fleet();
	char *e, *o;
	int rc;

	o = run_on(fl, in, REPLAY_LATE | REPLAY_STRICT, &rc, &e);
	cr_assert_eq(rc, 0, "%s", e);
	cr_assert(strstr(e, " out_of_order=0 ") != NULL, "%s", e);
	cr_assert(strstr(e, "replay: late=1 ") != NULL, "%s", e);
	cr_assert(strstr(o, "\"site\":\"S2\"") != NULL, "%s", o);
	cr_assert(strstr(o, "\"raised_at\":\"2026-11-23T10:04:58.000Z\"") !=
	    NULL, "%s", o);
	free(o); free(e);
	o = run_on(fl, in, 0, &rc, &e);
	cr_assert_eq(rc, 0, "%s", e);
	cr_assert(strstr(e, " out_of_order=1 ") != NULL, "%s", e);
	cr_assert_null(strstr(e, "late="), "%s", e);
	cr_assert_null(strstr(o, "\"site\":\"S2\""), "%s", o);
	free(o); free(e);
	fleet_free(fl);
}
