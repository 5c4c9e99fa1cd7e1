/*
 * test_replay_cli.c - `tocsind --replay FILE -c etc/demo.yaml` as an
 * operator runs it: incident events on stdout (root cause with its child on
 * one incident, the site's tenants and premium tier), problems with their
 * line number and a summary on stderr, byte-identical output run to run, and
 * --strict stopping at the first bad line; and a recorded day with its
 * operators (tests/data/demo-day-ops.jsonl: actions and maintenance windows
 * between the alarms) replaying to the same acknowledged, dispatched,
 * on_site, resolved and planned events every time.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/proc.h"

#define ALARMS	"tests/data/demo-alarms.jsonl"
#define OPSDAY	"tests/data/demo-day-ops.jsonl"

static void
replay_file(const char *file, int strict, struct proc_result *r)
{
	char tocsind[512];
	char *argv[] = { tocsind, "--replay", (char *)file, "-c",
	    "etc/demo.yaml", strict ? "--strict" : NULL, NULL };

	snprintf(tocsind, sizeof(tocsind), "%s", proc_build_path("tocsind"));
	cr_assert_eq(proc_run(argv, 30000, r), 0);
}

static void
replay(int strict, struct proc_result *r)
{
	replay_file(ALARMS, strict, r);
}

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

Test(replay_cli, demo_day)
{
	struct proc_result a, b;

	replay(0, &a);
	cr_assert_eq(a.status, 0, "exit %d: %s", a.status, a.err);
	/* two sites, two incidents: SH-001's battery joins its mains failure */
	cr_expect_eq(count(a.out, "\"event\":\"opened\""), 2, "%s", a.out);
	/* the premium site's 60 s ack clock breaches exactly at 10:01, with
	 * warnings at 50 % and 80 % and the ladder's first two climbs */
	cr_expect(strstr(a.out, "\"event\":\"sla_breached\",\"seq\":5,"
	    "\"at\":\"2026-11-23T10:01:00.000Z\",\"incident\":{\"id\":\"DEMO-0-1\"")
	    != NULL, "%s", a.out);
	cr_expect(strstr(a.out, "\"event\":\"sla_warning\",\"seq\":2,"
	    "\"at\":\"2026-11-23T10:00:30.000Z\"") != NULL);
	cr_expect_eq(count(a.out, "\"event\":\"escalated\""), 4, "%s", a.out);
	/* the first written record of the fault is made when it is detected
	 * (DOMAIN.md 3 asks for it within 24 h) */
	cr_expect(strstr(a.out, "\"timeline_len\":1},\"steps\":[{\"at\":"
	    "\"2026-11-23T10:00:00.000Z\",\"actor\":\"tocsin\",\"action\":"
	    "\"opened\"") != NULL, "%s", a.out);
	cr_expect(strstr(a.out, "\"root_cause\":{\"device\":\"SH-001-rect\","
	    "\"alarm\":\"MAINS_FAIL\"") != NULL);
	cr_expect(strstr(a.out, "{\"device\":\"SH-001-batt\",\"code\":"
	    "\"BATT_DISCHARGE\"") != NULL);
	/* SH-001 has one premium tenant; SZ-002 is premium through china-unicom */
	cr_expect(strstr(a.out, "\"customers\":[{\"id\":\"china-mobile\","
	    "\"tier\":\"premium\"}],\"tier\":\"premium\"") != NULL, "%s", a.out);
	cr_expect(strstr(a.out, "{\"id\":\"china-unicom\",\"tier\":\"premium\"}") != NULL);
	cr_expect(strstr(a.err, "replay: line 4: malformed") != NULL, "%s", a.err);
	cr_expect(strstr(a.err, "malformed=1") != NULL, "%s", a.err);
	replay(0, &b);
	cr_expect_str_eq(a.out, b.out, "replay output differs between runs");
	proc_result_free(&a);
	proc_result_free(&b);
}

Test(replay_cli, strict_stops)
{
	struct proc_result r;

	replay(1, &r);
	cr_expect_eq(r.status, 1, "exit %d", r.status);
	cr_expect(strstr(r.err, "replay: line 4: malformed") != NULL, "%s", r.err);
	/* nothing after line 4 was replayed: the clear never arrived */
	cr_expect_null(strstr(r.out, "\"cleared_at\":\"2026-11-23T11:00:00.000Z\""));
	proc_result_free(&r);
}

Test(replay_cli, bad_config_is_reported)
{
	char tocsind[512];
	char *argv[] = { tocsind, "--replay", ALARMS, "-c",
	    "tests/configs/bad/unknown-key.yaml", NULL };
	struct proc_result r;

	snprintf(tocsind, sizeof(tocsind), "%s", proc_build_path("tocsind"));
	cr_assert_eq(proc_run(argv, 30000, &r), 0);
	cr_expect_eq(r.status, 1);
	cr_expect(strstr(r.err, "unknown-key.yaml:4:3: modbus.timout") != NULL,
	    "%s", r.err);
	cr_expect_str_eq(r.out, "");
	proc_result_free(&r);
}

/* The event line of incident `id` whose "event" is `ev`, or NULL. */
static char *
event_line(const char *out, const char *ev, const char *id)
{
	char want[128], idk[64];

	snprintf(want, sizeof(want), "\"event\":\"%s\"", ev);
	snprintf(idk, sizeof(idk), "\"incident\":{\"id\":\"%s\"", id);
	for (const char *l = out; *l != '\0'; ) {
		const char *nl = strchr(l, '\n');
		size_t n = nl != NULL ? (size_t)(nl - l) : strlen(l);
		char *line = strndup(l, n);

		if (strstr(line, want) != NULL && strstr(line, idk) != NULL)
			return line;
		free(line);
		l += n + (nl != NULL);
	}
	return NULL;
}

Test(replay_cli, recorded_day_with_operators)
{
	struct proc_result a, b;
	char *l;

	replay_file(OPSDAY, 0, &a);
	cr_assert_eq(a.status, 0, "exit %d: %s", a.status, a.err);
	cr_expect_eq(count(a.out, "\"event\":\"opened\""), 3, "%s", a.out);

	/* window 7 (site SZ-003) makes the rectifier fault planned work */
	l = event_line(a.out, "opened", "DEMO-0-1");
	cr_assert_not_null(l, "%s", a.out);
	cr_expect(strstr(l, "\"planned\":true,\"planned_reason\":\"rectifier "
	    "module swap, notice of 2026-11-18\"") != NULL, "%s", l);
	free(l);
	/* window 8 (area gansu-dingxi) covers DX-002's night mains failure */
	l = event_line(a.out, "opened", "DEMO-0-3");
	cr_assert_not_null(l, "%s", a.out);
	cr_expect(strstr(l, "\"planned\":true,\"planned_reason\":\"grid works "
	    "announced by the utility\"") != NULL, "%s", l);
	free(l);
	/* SH-001's mains failure is not planned */
	l = event_line(a.out, "opened", "DEMO-0-2");
	cr_assert_not_null(l, "%s", a.out);
	cr_expect(strstr(l, "\"planned\":false") != NULL, "%s", l);
	free(l);

	/* the closed loop of DOMAIN.md 4, each step with its person and note */
	l = event_line(a.out, "acknowledged", "DEMO-0-2");
	cr_assert_not_null(l, "%s", a.out);
	cr_expect(strstr(l, "\"at\":\"2026-11-23T10:00:40.000Z\"") != NULL);
	cr_expect(strstr(l, "\"owner\":\"li.wei\"") != NULL, "%s", l);
	cr_expect(strstr(l, "{\"at\":\"2026-11-23T10:00:40.000Z\",\"actor\":"
	    "\"li.wei\",\"action\":\"acknowledged\",\"note\":\"NOC shift B, "
	    "calling pudong-station\"}") != NULL, "%s", l);
	free(l);
	l = event_line(a.out, "dispatched", "DEMO-0-2");
	cr_assert_not_null(l, "%s", a.out);
	cr_expect(strstr(l, "{\"at\":\"2026-11-23T10:02:00.000Z\",\"actor\":"
	    "\"li.wei\",\"action\":\"dispatched\",\"note\":\"crew 3 with a "
	    "mobile generator\"}") != NULL, "%s", l);
	free(l);
	l = event_line(a.out, "on_site", "DEMO-0-2");
	cr_assert_not_null(l, "%s", a.out);
	cr_expect(strstr(l, "{\"at\":\"2026-11-23T10:50:00.000Z\",\"actor\":"
	    "\"wang.jun\",\"action\":\"on_site\",\"note\":\"generator "
	    "connected\"}") != NULL, "%s", l);
	free(l);
	l = event_line(a.out, "resolved", "DEMO-0-2");
	cr_assert_not_null(l, "%s", a.out);
	cr_expect(strstr(l, "{\"at\":\"2026-11-23T11:10:00.000Z\",\"actor\":"
	    "\"wang.jun\",\"action\":\"resolved\",\"note\":\"grid back, "
	    "batteries recharging\"}") != NULL, "%s", l);
	cr_expect(strstr(l, "\"state\":\"resolved\"") != NULL, "%s", l);
	free(l);
	l = event_line(a.out, "closed", "DEMO-0-2");
	cr_assert_not_null(l, "%s", a.out);
	cr_expect(strstr(l, "\"actor\":\"li.wei\",\"action\":\"closed\"") !=
	    NULL, "%s", l);
	free(l);
	/* the planned incident is worked by its own operator */
	l = event_line(a.out, "acknowledged", "DEMO-0-1");
	cr_assert_not_null(l, "%s", a.out);
	cr_expect(strstr(l, "\"owner\":\"zhang.min\"") != NULL, "%s", l);
	free(l);
	l = event_line(a.out, "resolved", "DEMO-0-1");
	cr_assert_not_null(l, "%s", a.out);
	cr_expect(strstr(l, "\"actor\":\"zhang.min\",\"action\":\"resolved\","
	    "\"note\":\"module replaced\"") != NULL, "%s", l);
	free(l);

	/* refused actions: reported with their line, never applied */
	cr_expect(strstr(a.err, "replay: line 8: action ack on DEMO-0-9 "
	    "rejected: unknown incident DEMO-0-9\n") != NULL, "%s", a.err);
	cr_expect(strstr(a.err, "replay: line 10: action on_site on DEMO-0-1 "
	    "rejected: not dispatched\n") != NULL, "%s", a.err);
	cr_expect_null(strstr(a.out, "DEMO-0-9"));
	cr_expect_null(event_line(a.out, "on_site", "DEMO-0-1"));
	cr_expect(strstr(a.err, "replay: lines=20 alarms=8 malformed=0 "
	    "out_of_order=0 ") != NULL, "%s", a.err);
	cr_expect(strstr(a.err, " incidents=3 ") != NULL, "%s", a.err);
	cr_expect(strstr(a.err, " actions=7 actions_rejected=2 maintenance=3 "
	    "maintenance_rejected=0 ticks=0\n") != NULL, "%s", a.err);

	/* the same day twice: the same bytes */
	replay_file(OPSDAY, 0, &b);
	cr_expect_eq(b.status, 0);
	cr_expect_str_eq(a.out, b.out, "replay output differs between runs");
	cr_expect_str_eq(a.err, b.err);
	proc_result_free(&b);
	/* a refused action is not a bad line: --strict replays the whole day */
	replay_file(OPSDAY, 1, &b);
	cr_expect_eq(b.status, 0, "exit %d: %s", b.status, b.err);
	cr_expect_str_eq(a.out, b.out);
	proc_result_free(&a);
	proc_result_free(&b);
}

Test(replay_cli, bad_code_is_refused_with_its_line)
{
	char path[] = "/tmp/test_replay_cli_XXXXXX";
	int fd = mkstemp(path);
	FILE *f;
	struct proc_result r;

	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	fputs("{\"at\":\"2026-11-23T10:00:00.000Z\",\"device\":\"SH-001-rect\","
	    "\"code\":\"mains fail\",\"edge\":\"raise\"}\n", f);
	fclose(f);
	replay_file(path, 0, &r);
	cr_expect_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	cr_expect(strstr(r.err, "replay: line 1: malformed: bad alarm code "
	    "\"mains fail\" (A-Z, 0-9 and _ only, 1-31 bytes)") != NULL, "%s",
	    r.err);
	cr_expect_str_eq(r.out, "");
	proc_result_free(&r);
	replay_file(path, 1, &r);
	cr_expect_eq(r.status, 1, "exit %d: %s", r.status, r.err);
	proc_result_free(&r);
	unlink(path);
}
