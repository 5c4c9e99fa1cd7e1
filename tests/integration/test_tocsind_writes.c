/*
 * test_tocsind_writes.c - the write routes and GET /api/v1/sites/<id> of a
 * real tocsind, as a NOC tool meets them.
 *
 * The fleet of test_tocsind_api: three sites (T1 north premium c1, T2
 * north c2, T3 south c3), one rectifier each at 127.2.Y.1-3 on a port
 * where nothing listens, so each site opens a COMM_LOSS incident.  Kafka
 * is tocsind's embedded mock cluster (its address read from the log),
 * the token a 0600 file.
 *
 * Checked: writes without the token or with a wrong one 401; bad JSON,
 * an unknown field, a missing actor, a pause without a reason, a
 * satisfaction on an ack 400; an unknown action or id 404; an ack with
 * the token 200 with the new state and seq, and GET /api/v1/incidents/<id>
 * then shows it acknowledged with the actor on the timeline; the same
 * ack again 409 with the engine's reason, a close before resolve 409; an
 * ack through tocsin.actions (kcat, as ticketing would) on the timeline
 * of another incident; a maintenance window created (201), listed,
 * refused when its site is unknown, its end not after its start or
 * already past; after SIGKILL and a restart still listed with its actor,
 * a new one gets a new id, then deleted (200) and gone (404);
 * GET /api/v1/sites/T1 with its tenants, its device (comm lost) and its
 * open incident; an unknown site 404.  SIGTERM: exit 0.
 *
 * Bounds: the port line 10 s; /readyz 15 s; the incidents 20 s; the view
 * showing a write 10 s; kcat 60 s; children stopped by PID.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/dfix.h"
#include "tests/support/httpfix.h"
#include "tests/support/pubfix.h"
#include "tests/support/tenv.h"

#define TOKEN	"tocsin-writes-token-8d2e61b0"
#define AUTH	"Authorization: Bearer " TOKEN "\r\n"

static struct {
	struct dfix d;
	char	 net[32];	/* "127.2.Y." */
	int	 modport;	/* nothing listens there */
} W;

static void
wenv_fini(void)
{
	dfix_fini(&W.d, "test_tocsind_writes");
}

TestSuite(tocsind_writes, .fini = wenv_fini, .timeout = 240);

static void
setup(void)
{
	unsigned r = tenv_seed(31);
	char a[40], yaml[4096];
	size_t n;

	dfix_init(&W.d, "writes");
	snprintf(W.net, sizeof(W.net), "127.2.%u.", (r >> 8) % 250 + 1);
	snprintf(a, sizeof(a), "%s1", W.net);
	W.modport = tenv_free_port(a);
	cr_assert_gt(W.modport, 0);
	dfix_token(W.d.dir, TOKEN, 0600);
	n = dfix_cfg_head(yaml, sizeof(yaml), W.d.dir, W.modport, 0, 1, NULL);
	snprintf(yaml + n, sizeof(yaml) - n,
	    "sites:\n"
	    "  - {id: T1, area: north, region: A, tenants: "
	    "[{customer: c1, tier: premium}]}\n"
	    "  - {id: T2, area: north, region: A, tenants: "
	    "[{customer: c2, tier: standard}]}\n"
	    "  - {id: T3, area: south, region: B, tenants: "
	    "[{customer: c3, tier: standard}]}\n"
	    "devices:\n"
	    "  - {id: T1-rect, site: T1, profile: rect, host: %s1}\n"
	    "  - {id: T2-rect, site: T2, profile: rect, host: %s2}\n"
	    "  - {id: T3-rect, site: T3, profile: rect, host: %s3}\n",
	    W.net, W.net, W.net);
	tenv_write_file(W.d.dir, "t.yaml", yaml);
}

static void
daemon_up(void)
{
	dfix_up(&W.d, "t.yaml", 10000, 15000);
}

/* A write that must fail with status want and an error naming needle. */
static void
expect_refused(int want, const char *path, const char *hdrs,
    const char *body, const char *needle)
{
	json_t *j;
	int st = dfix_json(&W.d, "POST", path, hdrs, body, &j);
	const char *e = json_string_value(json_object_get(j, "error"));

	cr_expect_eq(st, want, "POST %s %s: %d, not %d (%s)", path, body, st,
	    want, e);
	cr_expect_eq(json_integer_value(json_object_get(j, "status")), want);
	cr_expect(e != NULL && strstr(e, needle) != NULL, "POST %s %s: "
	    "\"%s\" lacks \"%s\"", path, body, e, needle);
	json_decref(j);
}

/* The id of site's incident, waiting (20 s) for it to be listed. */
static void
id_of(const char *site, char *out, size_t len)
{
	char path[128];
	int64_t end = tenv_mono_ms() + 20000;
	json_t *j, *a;

	snprintf(path, sizeof(path), "/api/v1/incidents?site=%s", site);
	for (;;) {
		cr_assert_eq(dfix_json(&W.d, "GET", path, NULL, NULL, &j), 200);
		a = json_object_get(j, "incidents");
		if (json_array_size(a) == 1)
			break;
		json_decref(j);
		cr_assert_lt(tenv_mono_ms(), end, "no incident at %s in 20 s",
		    site);
		usleep(200000);
	}
	snprintf(out, len, "%s", json_string_value(json_object_get(
	    json_object_get(json_array_get(a, 0), "incident"), "id")));
	json_decref(j);
}

/*
 * Waits (10 s) for GET /api/v1/incidents/<id> to say state with a
 * timeline step of actor doing action.
 */
static void
expect_shown(const char *id, const char *state, const char *actor,
    const char *action)
{
	char path[128];
	int64_t end = tenv_mono_ms() + 10000;
	json_t *j = NULL, *tl, *st;
	size_t i;
	int found = 0;

	snprintf(path, sizeof(path), "/api/v1/incidents/%s", id);
	while (!found && tenv_mono_ms() < end) {
		json_decref(j);
		/* 404 until the view has it (after a restart: the dumps) */
		if (dfix_json(&W.d, "GET", path, NULL, NULL, &j) != 200 ||
		    strcmp(json_string_value(json_object_get(json_object_get(j,
		    "incident"), "state")), state) != 0) {
			usleep(100000);
			continue;
		}
		tl = json_object_get(j, "timeline");
		json_array_foreach(tl, i, st)
			if (strcmp(json_string_value(json_object_get(st,
			    "actor")), actor) == 0 && strcmp(json_string_value(
			    json_object_get(st, "action")), action) == 0)
				found = 1;
		if (!found)
			usleep(100000);
	}
	cr_expect(found, "%s: not %s with %s by %s within 10 s: %s", id, state,
	    action, actor, json_dumps(j, JSON_COMPACT));
	json_decref(j);
}

/* RFC 3339 of now + off_s. */
static void
stamp(long off_s, char *buf, size_t len)
{
	time_t t = time(NULL) + off_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The ids of GET /api/v1/maintenance, comma-joined. */
static void
windows(char *buf, size_t len, json_t **first)
{
	json_t *j, *w;
	size_t i, o = 0;

	cr_assert_eq(dfix_json(&W.d, "GET", "/api/v1/maintenance", NULL, NULL,
	    &j), 200);
	buf[0] = '\0';
	json_array_foreach(json_object_get(j, "windows"), i, w)
		o += (size_t)snprintf(buf + o, len - o, "%s%lld", o ? "," : "",
		    (long long)json_integer_value(json_object_get(w, "id")));
	if (first != NULL)
		*first = json_incref(json_array_get(json_object_get(j,
		    "windows"), 0));
	json_decref(j);
}

Test(tocsind_writes, actions_windows_and_sites)
{
	char t1[64], t2[64], t3[64], path[160], body[512], s[32], e[32];
	char cmd[1024], boot[128], lpath[128], ids[128], want[128];
	json_t *j, *w;
	long long wid, seq;
	int st;

	setup();
	daemon_up();
	id_of("T1", t1, sizeof(t1));
	id_of("T2", t2, sizeof(t2));
	id_of("T3", t3, sizeof(t3));

	/* the gates and the body checks */
	snprintf(path, sizeof(path), "/api/v1/incidents/%s/ack", t1);
	expect_refused(401, path, NULL, "{\"actor\":\"amy\"}", "Bearer");
	expect_refused(401, path, "Authorization: Bearer not-the-token\r\n",
	    "{\"actor\":\"amy\"}", "token");
	expect_refused(400, path, AUTH, "{\"actor\":", "not JSON");
	expect_refused(400, path, AUTH, "{\"actor\":\"amy\",\"nite\":\"x\"}",
	    "unknown field");
	expect_refused(400, path, AUTH, "{\"note\":\"x\"}", "actor");
	expect_refused(400, path, AUTH, "{\"actor\":\"amy\","
	    "\"satisfaction\":4}", "satisfaction");
	snprintf(path, sizeof(path), "/api/v1/incidents/%s/pause", t1);
	expect_refused(400, path, AUTH, "{\"actor\":\"amy\"}", "note");
	snprintf(path, sizeof(path), "/api/v1/incidents/%s/fly", t1);
	expect_refused(404, path, AUTH, "{\"actor\":\"amy\"}", "no action");
	expect_refused(404, "/api/v1/incidents/INC-0-999999/ack", AUTH,
	    "{\"actor\":\"amy\"}", "unknown incident");
	expect_refused(404, "/api/v1/incidents/nope/ack", AUTH,
	    "{\"actor\":\"amy\"}", "no open incident");

	/* an ack: 200 after the journal, then the view shows it */
	snprintf(path, sizeof(path), "/api/v1/incidents/%s/ack", t1);
	st = dfix_json(&W.d, "POST", path, AUTH, "{\"actor\":\"amy\","
	    "\"note\":\"on it\"}", &j);
	cr_assert_eq(st, 200, "%s", json_dumps(j, JSON_COMPACT));
	cr_expect_str_eq(json_string_value(json_object_get(j, "incident")), t1);
	cr_expect_str_eq(json_string_value(json_object_get(j, "action")),
	    "ack");
	cr_expect_str_eq(json_string_value(json_object_get(j, "state")),
	    "acknowledged");
	seq = json_integer_value(json_object_get(j, "seq"));
	cr_expect_gt(seq, 1);
	json_decref(j);
	expect_shown(t1, "acknowledged", "amy", "acknowledged");
	/* the same again, and a close before resolve: the engine says no */
	expect_refused(409, path, AUTH, "{\"actor\":\"bob\"}",
	    "already acknowledged by amy");
	snprintf(path, sizeof(path), "/api/v1/incidents/%s/close", t2);
	expect_refused(409, path, AUTH, "{\"actor\":\"bob\","
	    "\"satisfaction\":5}", "not resolved");
	/* a note is one more step */
	snprintf(path, sizeof(path), "/api/v1/incidents/%s/note", t1);
	cr_expect_eq(dfix_json(&W.d, "POST", path, AUTH, "{\"actor\":\"amy\","
	    "\"note\":\"generator on the way\"}", &j), 200);
	cr_expect_eq(json_integer_value(json_object_get(j, "seq")), seq + 1);
	json_decref(j);

	/* counted by outcome in /metrics */
	{
		struct httpfix_resp r;

		cr_assert_eq(httpfix_do(W.d.port, "GET", "/metrics", NULL, NULL,
		    &r), 200);
		cr_expect(strstr(r.body, "tocsin_http_writes_total{result=\"done\"} "
		    "2\n") != NULL, "%s", r.body);
		cr_expect(strstr(r.body, "tocsin_http_writes_total{result="
		    "\"refused\"}") != NULL);
		httpfix_free(&r);
	}

	/* an ack through tocsin.actions reaches the same timelines */
	snprintf(lpath, sizeof(lpath), "%s/tocsind.err", W.d.dir);
	if (!tenv_kafka()) {
		fprintf(stderr, "test_tocsind_writes: no Kafka with TSan\n");
	} else {
		cr_assert_eq(pubfix_mock_bootstrap(lpath, boot, sizeof(boot),
		    10000), 0, "no mock bootstrap in the log");
		snprintf(cmd, sizeof(cmd), "printf '%%s\\n' "
		    "'{\"incident\":\"%s\",\"action\":\"ack\",\"actor\":"
		    "\"ticket-42\"}' | kcat -P -b %s -t tocsin.actions "
		    "-X enable.idempotence=true -X acks=all", t3, boot);
		free(pubfix_sh(cmd, 60000));
		expect_shown(t3, "acknowledged", "ticket-42", "acknowledged");
	}

	/* maintenance: made, listed, checked */
	stamp(-60, s, sizeof(s));
	stamp(3600, e, sizeof(e));
	snprintf(body, sizeof(body), "{\"site\":\"T2\",\"start\":\"%s\","
	    "\"end\":\"%s\",\"reason\":\"rectifier swap\",\"actor\":\"amy\"}",
	    s, e);
	st = dfix_json(&W.d, "POST", "/api/v1/maintenance", AUTH, body, &j);
	cr_assert_eq(st, 201, "%s", json_dumps(j, JSON_COMPACT));
	wid = json_integer_value(json_object_get(j, "id"));
	cr_expect_gt(wid, 0);
	cr_expect_str_eq(json_string_value(json_object_get(j, "site")), "T2");
	cr_expect(json_is_null(json_object_get(j, "area")));
	cr_expect_str_eq(json_string_value(json_object_get(j, "actor")), "amy");
	json_decref(j);
	snprintf(want, sizeof(want), "%lld", wid);
	windows(ids, sizeof(ids), NULL);
	cr_expect_str_eq(ids, want);
	snprintf(body, sizeof(body), "{\"site\":\"T9\",\"start\":\"%s\","
	    "\"end\":\"%s\",\"reason\":\"x\",\"actor\":\"amy\"}", s, e);
	expect_refused(400, "/api/v1/maintenance", AUTH, body, "no site");
	snprintf(body, sizeof(body), "{\"area\":\"north\",\"start\":\"%s\","
	    "\"end\":\"%s\",\"reason\":\"x\",\"actor\":\"amy\"}", e, s);
	expect_refused(400, "/api/v1/maintenance", AUTH, body, "after start");
	stamp(-7200, e, sizeof(e));
	stamp(-3600, s, sizeof(s));
	snprintf(body, sizeof(body), "{\"area\":\"north\",\"start\":\"%s\","
	    "\"end\":\"%s\",\"reason\":\"x\",\"actor\":\"amy\"}", e, s);
	expect_refused(400, "/api/v1/maintenance", AUTH, body, "ended");
	stamp(0, s, sizeof(s));
	stamp(60, e, sizeof(e));
	snprintf(body, sizeof(body), "{\"area\":\"north\",\"start\":\"%s\","
	    "\"end\":\"%s\",\"reason\":\"x\"}", s, e);
	expect_refused(400, "/api/v1/maintenance", AUTH, body, "actor");

	/* the site; its device's state is the poll thread's copy, made
	 * once a second: wait for it (5 s) */
	for (int64_t end = tenv_mono_ms() + 5000; ; usleep(100000)) {
		cr_assert_eq(dfix_json(&W.d, "GET", "/api/v1/sites/T1", NULL,
		    NULL, &j), 200);
		w = json_object_get(json_array_get(json_object_get(
		    json_object_get(j, "site"), "devices"), 0), "comm");
		if (strcmp(json_string_value(w), "lost") == 0 ||
		    tenv_mono_ms() >= end)
			break;
		json_decref(j);
	}
	w = json_object_get(j, "site");
	cr_expect_str_eq(json_string_value(json_object_get(w, "id")), "T1");
	cr_expect_str_eq(json_string_value(json_object_get(w, "area")),
	    "north");
	cr_expect_str_eq(json_string_value(json_object_get(w, "tier")),
	    "premium");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(w, "tenants"), 0), "id")), "c1");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(w, "devices"), 0), "id")), "T1-rect");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(w, "devices"), 0), "comm")), "lost");
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(
	    json_array_get(json_object_get(j, "incidents"), 0), "incident"),
	    "id")), t1);
	json_decref(j);
	cr_expect_eq(dfix_json(&W.d, "GET", "/api/v1/sites/T9", NULL, NULL, &j),
	    404);
	json_decref(j);

	/* SIGKILL, restart: the window is still there, with its actor */
	pubfix_stop(&W.d.daemon, SIGKILL);
	daemon_up();
	windows(ids, sizeof(ids), &w);
	cr_expect_str_eq(ids, want);
	cr_expect_str_eq(json_string_value(json_object_get(w, "actor")), "amy");
	cr_expect_str_eq(json_string_value(json_object_get(w, "reason")),
	    "rectifier swap");
	json_decref(w);
	expect_shown(t1, "acknowledged", "amy", "acknowledged");
	/* a new window after the restart gets a new id */
	stamp(-60, s, sizeof(s));
	stamp(7200, e, sizeof(e));
	snprintf(body, sizeof(body), "{\"area\":\"south\",\"start\":\"%s\","
	    "\"end\":\"%s\",\"reason\":\"grid works\",\"actor\":\"bob\"}", s,
	    e);
	cr_assert_eq(dfix_json(&W.d, "POST", "/api/v1/maintenance", AUTH, body,
	    &j), 201);
	cr_expect_neq(json_integer_value(json_object_get(j, "id")), wid);
	snprintf(want, sizeof(want), "%lld",
	    (long long)json_integer_value(json_object_get(j, "id")));
	cr_expect_str_eq(json_string_value(json_object_get(j, "area")),
	    "south");
	json_decref(j);
	/* deleted: 200, then no longer listed, and 404 */
	snprintf(path, sizeof(path), "/api/v1/maintenance/%lld", wid);
	cr_expect_eq(dfix_json(&W.d, "DELETE", path, AUTH, NULL, &j), 200);
	cr_expect_eq(json_integer_value(json_object_get(j, "id")), wid);
	json_decref(j);
	windows(ids, sizeof(ids), NULL);
	cr_expect_str_eq(ids, want, "only the new window is left");
	cr_expect_eq(dfix_json(&W.d, "DELETE", path, AUTH, NULL, &j), 404);
	json_decref(j);

	/* SIGTERM: exit 0; neither run logged the token or a
	 * ThreadSanitizer report */
	dfix_stop_clean(&W.d, TOKEN);
}
