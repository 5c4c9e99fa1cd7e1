/*
 * test_ctlboard.c - daemon/ctlboard, the board of tocsinctl watch and the
 * table of tocsinctl incidents, with hand-made tocsin.incident/1 events
 * and a fixed `now`: what an event's clocks make its deadline, the order
 * (running deadlines first, nearest first, then oldest opened), the
 * colour of every state and of planned work, the countdown's text, the
 * lines and the frame for a list and an instant (cut to the width,
 * scrolled to the selection, coloured rows, one title and status line),
 * the stream's events (newer seq replaces, replay ignored, closed
 * leaves), the filter and the keys, and that text from the server cannot
 * put an escape byte on the terminal.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ctlboard.h"
#include "daemon/utc.h"

#define T0	1764800000000LL		/* 2025-12-03T22:13:20Z */

/* An event: deadline (ms, 0: no running clock) on the clock named. */
static char *
ev(const char *id, const char *state, int seq, int64_t deadline,
    int64_t opened, int planned, const char *site)
{
	char d[UTC_LEN], o[UTC_LEN], *s = malloc(2048);

	utc_format(deadline, d);
	utc_format(opened, o);
	snprintf(s, 2048,
	    "{\"schema\":\"tocsin.incident/1\",\"event\":\"updated\","
	    "\"seq\":%d,\"incident\":{\"id\":\"%s\",\"kind\":\"site\","
	    "\"site\":\"%s\",\"area\":\"north\",\"severity\":\"critical\","
	    "\"state\":\"%s\",\"opened_at\":\"%s\",\"root_cause\":{\"device\":"
	    "\"d\",\"alarm\":\"MAINS_FAIL\"},\"customers\":[{\"id\":\"c1\","
	    "\"tier\":\"premium\"},{\"id\":\"c2\",\"tier\":\"standard\"}],"
	    "\"tier\":\"premium\",\"planned\":%s,\"chronic\":false,"
	    "\"flapping\":false,\"clocks\":{"
	    "\"ack\":{\"state\":\"stopped\",\"deadline\":\"%s\",\"paused\":false,"
	    "\"met\":true,\"breached\":false},"
	    "\"arrive\":{\"state\":\"idle\",\"deadline\":null,\"paused\":false,"
	    "\"met\":false,\"breached\":false},"
	    "\"resolve\":{\"state\":\"%s\",\"deadline\":%s%s%s,\"paused\":false,"
	    "\"met\":false,\"breached\":false}}}}",
	    seq, id, site, state, o, planned ? "true" : "false", o,
	    deadline ? "running" : "idle", deadline ? "\"" : "",
	    deadline ? d : "null", deadline ? "\"" : "");
	return s;
}

static void
apply(struct ctlboard *b, char *json, int want)
{
	cr_assert_eq(ctlboard_apply(b, json, strlen(json)), want, "%s", json);
	free(json);
}

Test(ctlboard, parse_event)
{
	char *s = ev("INC-0-1", "open", 3, T0 + 90000, T0 - 1000, 0, "T1");
	json_t *j = json_loads(s, 0, NULL);
	struct ctlboard_inc e;

	cr_assert_eq(ctlboard_inc_parse(j, &e), 0);
	cr_assert_str_eq(e.id, "INC-0-1");
	cr_assert_str_eq(e.state, "open");
	cr_assert_str_eq(e.site, "T1");
	cr_assert_str_eq(e.root, "MAINS_FAIL");
	cr_assert_str_eq(e.customers, "c1,c2");
	cr_assert_eq(e.seq, 3);
	cr_assert_eq(e.deadline, T0 + 90000, "the met ack clock is skipped");
	cr_assert_str_eq(e.clock, "resolve");
	cr_assert_eq(e.opened_at, T0 - 1000);
	json_decref(j);
	free(s);
	/* an incident without a root cause shows its kind */
	j = json_loads("{\"incident\":{\"id\":\"C\",\"kind\":\"complaint\","
	    "\"state\":\"open\",\"root_cause\":null}}", 0, NULL);
	cr_assert_eq(ctlboard_inc_parse(j, &e), 0);
	cr_assert_str_eq(e.root, "complaint");
	json_decref(j);
	j = json_loads("{\"incident\":{\"state\":\"open\"}}", 0, NULL);
	cr_assert_eq(ctlboard_inc_parse(j, &e), -EINVAL);
	json_decref(j);
	/* a breached or paused clock has no countdown */
	j = json_loads("{\"incident\":{\"id\":\"X\",\"state\":\"open\","
	    "\"clocks\":{\"ack\":{\"state\":\"running\",\"deadline\":"
	    "\"2025-12-03T22:00:00.000Z\",\"breached\":true},\"resolve\":"
	    "{\"state\":\"running\",\"deadline\":\"2025-12-03T23:00:00.000Z\","
	    "\"paused\":true}}}}", 0, NULL);
	cr_assert_eq(ctlboard_inc_parse(j, &e), 0);
	cr_assert_eq(e.deadline, 0);
	cr_assert_eq(e.breached, 1);
	json_decref(j);
}

Test(ctlboard, colours)
{
	static const struct {
		const char *state;
		enum ctlboard_colour c;
	} t[] = {
		{ "open", CTLBOARD_RED }, { "reopened", CTLBOARD_RED },
		{ "acknowledged", CTLBOARD_YELLOW },
		{ "dispatched", CTLBOARD_YELLOW }, { "on_site", CTLBOARD_YELLOW },
		{ "cleared", CTLBOARD_GREEN }, { "resolved", CTLBOARD_GREEN },
		{ "closed", CTLBOARD_GREEN }, { "novel", CTLBOARD_RED },
	};
	struct ctlboard_inc e;

	memset(&e, 0, sizeof(e));
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(e.state, sizeof(e.state), "%s", t[i].state);
		e.planned = 0;
		cr_expect_eq(ctlboard_colour_of(&e), t[i].c, "%s", t[i].state);
		e.planned = 1;
		cr_expect_eq(ctlboard_colour_of(&e), CTLBOARD_GREY);
	}
	cr_assert_str_eq(ctlboard_colour_name(CTLBOARD_YELLOW), "yellow");
}

Test(ctlboard, countdown)
{
	char b[32];

	ctlboard_countdown(T0 + 59000, T0, b, sizeof(b));
	cr_assert_str_eq(b, "00:59");
	ctlboard_countdown(T0 + 58400, T0, b, sizeof(b));
	cr_assert_str_eq(b, "00:59", "a started second still shows");
	ctlboard_countdown(T0 + 3600000, T0, b, sizeof(b));
	cr_assert_str_eq(b, "1:00:00");
	ctlboard_countdown(T0 + 47 * 3600000LL + 61000, T0, b, sizeof(b));
	cr_assert_str_eq(b, "47:01:01");
	ctlboard_countdown(T0 + 5 * 86400000LL + 7200000, T0, b, sizeof(b));
	cr_assert_str_eq(b, "5d02h");
	ctlboard_countdown(T0 - 125000, T0, b, sizeof(b));
	cr_assert_str_eq(b, "-02:05");
	ctlboard_countdown(T0, T0, b, sizeof(b));
	cr_assert_str_eq(b, "00:00");
}

/* Three incidents: two with deadlines (the later one first added), one
 * without; and their order. */
static void
three(struct ctlboard *b)
{
	ctlboard_init(b);
	apply(b, ev("INC-0-2", "acknowledged", 2, T0 + 600000, T0 - 5000, 0,
	    "T2"), 1);
	apply(b, ev("INC-1-1", "open", 1, T0 + 60000, T0 - 1000, 0, "T1"), 1);
	apply(b, ev("INC-0-3", "cleared", 4, 0, T0 - 9000, 0, "T3"), 1);
}

Test(ctlboard, order_and_stream)
{
	struct ctlboard b;

	three(&b);
	cr_assert_eq(b.n, 3);
	cr_assert_str_eq(b.v[0].id, "INC-1-1");
	cr_assert_str_eq(b.v[1].id, "INC-0-2");
	cr_assert_str_eq(b.v[2].id, "INC-0-3");
	/* an older or equal seq changes nothing */
	apply(&b, ev("INC-1-1", "resolved", 1, 0, T0 - 1000, 0, "T1"), 0);
	/* a newer one moves it (no deadline: after the running ones, but
	 * opened before INC-0-3? no: INC-0-3 opened earlier) */
	apply(&b, ev("INC-1-1", "acknowledged", 2, 0, T0 - 1000, 0, "T1"), 1);
	cr_assert_str_eq(b.v[0].id, "INC-0-2");
	cr_assert_str_eq(b.v[1].id, "INC-0-3");
	cr_assert_str_eq(b.v[2].id, "INC-1-1");
	cr_assert_str_eq(b.v[2].state, "acknowledged");
	/* closed leaves; a closed one never seen is nothing */
	apply(&b, ev("INC-0-3", "closed", 5, 0, T0 - 9000, 0, "T3"), 1);
	apply(&b, ev("INC-9-9", "closed", 5, 0, T0, 0, "T3"), 0);
	cr_assert_eq(b.n, 2);
	cr_assert_eq(ctlboard_apply(&b, "not json", 8), -EINVAL);
	cr_assert_eq(ctlboard_apply(&b, "{\"reason\":\"x\"}", 14), -EINVAL);
	ctlboard_fini(&b);
}

Test(ctlboard, load_list)
{
	struct ctlboard b;
	char *a = ev("A", "open", 1, T0 + 5000, T0, 0, "T1");
	char *c = ev("C", "dispatched", 1, T0 + 1000, T0, 0, "T1");
	char list[5000];
	json_t *j;

	snprintf(list, sizeof(list), "{\"incidents\":[%s,%s],\"count\":2,"
	    "\"next_cursor\":null}", a, c);
	j = json_loads(list, 0, NULL);
	three(&b);
	cr_assert_eq(ctlboard_load(&b, j), 0);
	cr_assert_eq(b.n, 2, "the list replaces the board");
	cr_assert_str_eq(b.v[0].id, "C");
	json_decref(j);
	j = json_loads("{\"error\":\"x\"}", 0, NULL);
	cr_assert_eq(ctlboard_load(&b, j), -EINVAL);
	cr_assert_eq(b.n, 2);
	json_decref(j);
	free(a);
	free(c);
	ctlboard_fini(&b);
}

Test(ctlboard, lines)
{
	struct ctlboard b;
	char l[512], h[512];

	three(&b);
	ctlboard_header(h, sizeof(h));
	cr_assert(strncmp(h, "ID ", 3) == 0, "%s", h);
	cr_assert(strstr(h, "STATE") && strstr(h, "DUE"));
	ctlboard_line(&b.v[0], T0, l, sizeof(l));
	cr_assert_str_eq(l, "INC-1-1          open         critical T1         "
	    "north        premium  resolve 01:00    MAINS_FAIL c1,c2");
	/* the column positions match the header's */
	cr_assert_eq(strstr(l, "open") - l, strstr(h, "STATE") - h);
	cr_assert_eq(strstr(l, "resolve") - l, strstr(h, "DUE") - h);
	/* a second later the countdown moved */
	ctlboard_line(&b.v[0], T0 + 1000, l, sizeof(l));
	cr_assert(strstr(l, "resolve 00:59") != NULL, "%s", l);
	ctlboard_line(&b.v[2], T0, l, sizeof(l));
	cr_assert(strstr(l, "cleared") != NULL);
	cr_assert(strstr(l, " - ") != NULL, "no deadline: %s", l);
	ctlboard_fini(&b);
}

Test(ctlboard, no_escape_bytes)
{
	struct ctlboard b;
	char *s = ev("INC\\u001b[31m", "open", 1, T0 + 1000, T0, 0,
	    "T\\u0007\xc3\xa9");
	char l[512];

	ctlboard_init(&b);
	apply(&b, s, 1);
	ctlboard_line(&b.v[0], T0, l, sizeof(l));
	for (const char *p = l; *p; p++)
		cr_assert((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f,
		    "byte %02x in %s", (unsigned char)*p, l);
	cr_assert(strncmp(l, "INC?[31m", 8) == 0, "%s", l);
	ctlboard_fini(&b);
}

/* Line n (0-based) of a frame, without its trailing clear and CRLF. */
static void
frame_line(const char *f, int n, char *out, size_t len)
{
	const char *p = f + 3;		/* after cursor home */

	for (int i = 0; i < n; i++) {
		p = strstr(p, "\r\n");
		cr_assert_not_null(p, "no line %d", n);
		p += 2;
	}
	snprintf(out, len, "%.*s", (int)(strstr(p, "\x1b[K") - p), p);
}

Test(ctlboard, frame_plain)
{
	struct ctlboard b;
	size_t len;
	char *f, l[512];
	int crlf = 0;

	three(&b);
	f = ctlboard_frame(&b, T0, 60, 8, 0, "srv", &len);
	cr_assert_eq(strlen(f), len);
	cr_assert(strncmp(f, "\x1b[H", 3) == 0);
	for (const char *p = f; (p = strstr(p, "\r\n")) != NULL; p += 2)
		crlf++;
	cr_assert_eq(crlf, 7, "8 rows, the last without CRLF");
	cr_assert(strchr(f, '\x1b' + 0) != NULL);
	cr_assert(strstr(f, "\x1b[3") == NULL, "no colour");
	frame_line(f, 0, l, sizeof(l));
	cr_assert(strstr(l, "tocsin watch  srv  3 incidents") == l, "%s", l);
	cr_assert(strstr(l, "22:13:20 UTC") != NULL, "%s", l);
	frame_line(f, 2, l, sizeof(l));
	cr_assert_eq(strlen(l), 60, "cut to the width: %s", l);
	cr_assert(strncmp(l, "> INC-1-1", 9) == 0, "selected first: %s", l);
	frame_line(f, 3, l, sizeof(l));
	cr_assert(strncmp(l, "  INC-0-2", 9) == 0, "%s", l);
	frame_line(f, 7, l, sizeof(l));
	cr_assert(strstr(f + len - 80, "q quit") != NULL);
	free(f);
	ctlboard_fini(&b);
}

Test(ctlboard, frame_colours_and_scroll)
{
	struct ctlboard b;
	size_t len, used;
	char *f, l[512];

	three(&b);
	f = ctlboard_frame(&b, T0, 120, 10, 1, "srv", &len);
	frame_line(f, 2, l, sizeof(l));
	cr_assert(strncmp(l, "\x1b[31m\x1b[7m> INC-1-1", 14) == 0,
	    "red, reversed: %s", l);
	frame_line(f, 3, l, sizeof(l));
	cr_assert(strncmp(l, "\x1b[33m  INC-0-2", 14) == 0, "yellow: %s", l);
	frame_line(f, 4, l, sizeof(l));
	cr_assert(strncmp(l, "\x1b[32m  INC-0-3", 14) == 0, "green: %s", l);
	free(f);
	/* 5 rows: 2 for incidents; selecting the third scrolls */
	cr_assert_eq(ctlboard_key(&b, "j", 1, &used), CTLBOARD_REDRAW);
	cr_assert_eq(ctlboard_key(&b, "\x1b[B", 3, &used), CTLBOARD_REDRAW);
	cr_assert_eq(used, 3);
	f = ctlboard_frame(&b, T0, 120, 5, 0, "srv", &len);
	frame_line(f, 2, l, sizeof(l));
	cr_assert(strncmp(l, "  INC-0-2", 9) == 0, "%s", l);
	frame_line(f, 3, l, sizeof(l));
	cr_assert(strncmp(l, "> INC-0-3", 9) == 0, "%s", l);
	free(f);
	cr_assert_str_eq(ctlboard_selected(&b)->id, "INC-0-3");
	ctlboard_fini(&b);
}

Test(ctlboard, keys_and_filter)
{
	struct ctlboard b;
	size_t used, len;
	char *f;

	three(&b);
	free(ctlboard_frame(&b, T0, 100, 10, 0, "s", &len));
	cr_assert_str_eq(ctlboard_selected(&b)->id, "INC-1-1");
	cr_assert_eq(ctlboard_key(&b, "k", 1, &used), CTLBOARD_REDRAW);
	cr_assert_str_eq(ctlboard_selected(&b)->id, "INC-1-1", "top stays");
	cr_assert_eq(ctlboard_key(&b, "a", 1, &used), CTLBOARD_ACK);
	cr_assert_eq(ctlboard_key(&b, "?", 1, &used), CTLBOARD_REDRAW);
	cr_assert_eq(b.help, 1);
	f = ctlboard_frame(&b, T0, 100, 20, 0, "s", &len);
	cr_assert(strstr(f, "acknowledge the selected") != NULL);
	free(f);
	cr_assert_eq(ctlboard_key(&b, "x", 1, &used), CTLBOARD_REDRAW);
	cr_assert_eq(b.help, 0);
	/* / T2 Enter: only INC-0-2, and it is selected */
	cr_assert_eq(ctlboard_key(&b, "/", 1, &used), CTLBOARD_REDRAW);
	cr_assert_eq(ctlboard_key(&b, "T", 1, &used), CTLBOARD_REDRAW);
	cr_assert_eq(ctlboard_key(&b, "q", 1, &used), CTLBOARD_REDRAW,
	    "q is text while editing");
	cr_assert_eq(ctlboard_key(&b, "\x7f", 1, &used), CTLBOARD_REDRAW);
	cr_assert_eq(ctlboard_key(&b, "2", 1, &used), CTLBOARD_REDRAW);
	cr_assert_eq(ctlboard_key(&b, "\r", 1, &used), CTLBOARD_REDRAW);
	cr_assert_str_eq(b.filter, "T2");
	f = ctlboard_frame(&b, T0, 100, 10, 0, "s", &len);
	cr_assert(strstr(f, "1 incident matching \"T2\"") != NULL);
	cr_assert(strstr(f, "INC-1-1") == NULL);
	free(f);
	cr_assert_str_eq(ctlboard_selected(&b)->id, "INC-0-2");
	/* a filter nothing matches, then Esc drops it */
	snprintf(b.filter, sizeof(b.filter), "zzz");
	f = ctlboard_frame(&b, T0, 100, 10, 0, "s", &len);
	cr_assert(strstr(f, "no incident matches") != NULL);
	free(f);
	cr_assert_null(ctlboard_selected(&b));
	cr_assert_eq(ctlboard_key(&b, "a", 1, &used), CTLBOARD_NONE);
	cr_assert_eq(ctlboard_key(&b, "\x1b", 1, &used), CTLBOARD_REDRAW);
	cr_assert_str_eq(b.filter, "");
	cr_assert_eq(ctlboard_key(&b, "q", 1, &used), CTLBOARD_QUIT);
	cr_assert_eq(ctlboard_key(&b, "\x1b[5~", 4, &used), CTLBOARD_NONE);
	cr_assert_eq(used, 4, "an unknown sequence is swallowed whole");
	ctlboard_fini(&b);
}

Test(ctlboard, digest)
{
	struct ctlboard b;
	uint64_t d;

	three(&b);
	d = ctlboard_digest(&b);
	apply(&b, ev("INC-1-1", "open", 1, T0 + 60000, T0 - 1000, 0, "T1"), 0);
	cr_assert_eq(ctlboard_digest(&b), d);
	apply(&b, ev("INC-1-1", "acknowledged", 2, T0 + 60000, T0 - 1000, 0,
	    "T1"), 1);
	cr_assert_neq(ctlboard_digest(&b), d);
	ctlboard_fini(&b);
}
