/*
 * test_opapi.c - daemon/opapi's routes without a socket and without a
 * correlator (router NULL): every check a write body meets (a valid one
 * then gets 503, since nothing would take it), the maintenance list from
 * restored engines, GET /api/v1/sites/<id> from a hand-made fleet and
 * device states; and the core's half of `close`'s satisfaction (the
 * engine keeps it, the closed event carries it, 6 is refused).  The path
 * through the shards and the journal is test_tocsind_writes'.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "correlator/corr.h"
#include "correlator/fleet.h"
#include "correlator/incjson.h"
#include "daemon/http.h"
#include "daemon/mem.h"
#include "daemon/opapi.h"
#include "daemon/router.h"
#include "daemon/stats.h"
#include "daemon/view.h"
#include "tests/support/corrfix.h"

#define TOKEN	"s3cret-token-0123456789"

static struct fleet *F;
static struct opapi *O;
static struct stats *S;
static struct view *V;
static struct http_route R[OPAPI_NROUTES];

static void
setup(void)
{
	uint32_t s, d, p;
	uint8_t comm[2] = { STATS_COMM_LOST, STATS_COMM_UNKNOWN };

	F = fleet_new();
	p = fleet_add(F, FLEET_PROFILE, "rect");
	s = fleet_add(F, FLEET_SITE, "S1");
	F->sites[s].area = fleet_area(F, "north");
	F->sites[s].station = "st-1";
	fleet_site_add_tenant(&F->sites[s], "c1", TIER_PREMIUM);
	F->sites[s].tier = TIER_PREMIUM;
	d = fleet_add(F, FLEET_DEVICE, "S1-rect");
	F->devices[d].site = s;
	F->devices[d].profile = p;
	s = fleet_add(F, FLEET_SITE, "S2");
	F->sites[s].area = fleet_area(F, "south");
	d = fleet_add(F, FLEET_DEVICE, "S2-rect");
	F->devices[d].site = s;
	F->devices[d].profile = p;
	S = stats_new(1, F->nareas, 0);
	stats_put_comm(S, comm, 2);
	V = view_new(F);
	O = opapi_new(&(struct opapi_config){ F, "INC-", 2, NULL, 1, S, V });
	cr_assert_eq(opapi_routes(O, R), OPAPI_NROUTES);
}

static void
teardown(void)
{
	opapi_free(O);
	view_free(V);
	stats_free(S);
	F->sites[0].station = NULL;	/* not the fleet's to free */
	fleet_free(F);
}

TestSuite(opapi, .init = setup, .fini = teardown);

/* One request; its status, and the body parsed into *j (may be NULL). */
static int
handle(const char *method, const char *url, const char *body, json_t **j)
{
	struct http_in in = { method, url, "Bearer " TOKEN, body,
	    body != NULL ? strlen(body) : 0, body != NULL ? strlen(body) : 0,
	    NULL, NULL };
	struct http_resp rs;
	int st;

	http_handle(R, OPAPI_NROUTES, TOKEN, 65536, &in, &rs);
	cr_assert_null(rs.pending, "%s %s deferred without a router", method,
	    url);
	st = rs.status;
	if (j != NULL) {
		*j = json_loadb(rs.body, rs.len, 0, NULL);
		cr_assert_not_null(*j, "%s %s: not JSON: %s", method, url,
		    rs.body);
	}
	if (st == 503)
		cr_expect_gt(rs.retry_after, 0);
	http_resp_fini(&rs);
	return st;
}

static void
expect(int want, const char *method, const char *url, const char *body,
    const char *needle)
{
	json_t *j;
	int st = handle(method, url, body, &j);
	const char *e = json_string_value(json_object_get(j, "error"));

	cr_expect_eq(st, want, "%s %s %s: %d, not %d (%s)", method, url,
	    body ? body : "", st, want, e ? e : "");
	if (st >= 400)
		cr_expect(e != NULL && strstr(e, needle) != NULL,
		    "%s %s %s: \"%s\" lacks \"%s\"", method, url, body ? body :
		    "", e, needle);
	json_decref(j);
}

Test(opapi, action_bodies)
{
	const char *ack = "/api/v1/incidents/INC-1-7/ack";

	expect(503, "POST", ack, "{\"actor\":\"amy\"}", "not running");
	expect(503, "POST", ack, "{\"actor\":\"amy\",\"note\":\"x\"}",
	    "not running");
	expect(400, "POST", ack, "{}", "actor: missing");
	expect(400, "POST", ack, "{\"actor\":\"\"}", "actor: must not be empty");
	expect(400, "POST", ack, "{\"actor\":7}", "actor: must be a string");
	expect(400, "POST", ack, "{\"actor\":\"a\\u0000b\"}", "NUL");
	{
		char body[256];

		snprintf(body, sizeof(body), "{\"actor\":\"%0128d\"}", 0);
		expect(400, "POST", ack, body, "actor: too long");
		snprintf(body, sizeof(body), "{\"actor\":\"%0127d\"}", 0);
		expect(503, "POST", ack, body, "not running");
	}
	expect(400, "POST", ack, "{\"actor\":\"amy\",\"Actor\":\"x\"}",
	    "unknown field \"Actor\"");
	expect(400, "POST", ack, "{\"actor\":\"amy\",\"note\":5}", "note");
	expect(400, "POST", ack, "[1]", "JSON object");
	expect(400, "POST", ack, "{\"actor\":\"amy\",}", "not JSON");
	expect(400, "POST", "/api/v1/incidents/INC-1-7/note",
	    "{\"actor\":\"amy\"}", "note: missing");
	expect(400, "POST", "/api/v1/incidents/INC-1-7/pause",
	    "{\"actor\":\"amy\",\"note\":null}", "note: missing");
	expect(503, "POST", "/api/v1/incidents/INC-1-7/pause",
	    "{\"actor\":\"amy\",\"note\":\"waiting for the landlord\"}",
	    "not running");
	/* satisfaction: close only, 1-5 */
	expect(400, "POST", ack, "{\"actor\":\"amy\",\"satisfaction\":3}",
	    "only close");
	for (int i = 0; i <= 6; i++) {
		char body[64];

		snprintf(body, sizeof(body), "{\"actor\":\"amy\","
		    "\"satisfaction\":%d}", i);
		expect(i >= 1 && i <= 5 ? 503 : 400, "POST",
		    "/api/v1/incidents/INC-1-7/close", body, i >= 1 && i <= 5 ?
		    "not running" : "satisfaction");
	}
	expect(400, "POST", "/api/v1/incidents/INC-1-7/close",
	    "{\"actor\":\"amy\",\"satisfaction\":4.5}", "satisfaction");
	expect(400, "POST", "/api/v1/incidents/INC-1-7/close",
	    "{\"actor\":\"amy\",\"satisfaction\":\"4\"}", "satisfaction");
	/* the verb and the id before the body */
	expect(404, "POST", "/api/v1/incidents/INC-1-7/fly", "{}", "no action");
	expect(404, "POST", "/api/v1/incidents/INC-9-7/ack",
	    "{\"actor\":\"amy\"}", "no open incident");	/* shard 9 of 2 */
	expect(404, "POST", "/api/v1/incidents/X-1/ack", "{}",
	    "no open incident");
	expect(405, "GET", ack, NULL, "POST");
	for (const char *const *v = (const char *const []){ "ack", "dispatch",
	    "on_site", "resolve", "close", "note", "pause", "resume", NULL };
	    *v != NULL; v++) {
		char url[128];

		snprintf(url, sizeof(url), "/api/v1/incidents/INC-0-1/%s", *v);
		expect(503, "POST", url, "{\"actor\":\"amy\",\"note\":\"n\"}",
		    "not running");
	}
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

Test(opapi, maintenance_bodies)
{
	char s[32], e[32], past[32], body[512];
	json_t *j;

	stamp(-60, s, sizeof(s));
	stamp(3600, e, sizeof(e));
	stamp(-30, past, sizeof(past));
#define W(fmt, ...) (snprintf(body, sizeof(body), fmt, __VA_ARGS__), body)
	expect(503, "POST", "/api/v1/maintenance", W("{\"site\":\"S1\","
	    "\"start\":\"%s\",\"end\":\"%s\",\"reason\":\"r\",\"actor\":\"a\"}",
	    s, e), "not running");
	expect(503, "POST", "/api/v1/maintenance", W("{\"area\":\"south\","
	    "\"start\":\"%s\",\"end\":\"%s\",\"reason\":\"r\",\"actor\":\"a\"}",
	    s, e), "not running");
	expect(400, "POST", "/api/v1/maintenance", W("{\"site\":\"S1\","
	    "\"area\":\"north\",\"start\":\"%s\",\"end\":\"%s\",\"reason\":"
	    "\"r\",\"actor\":\"a\"}", s, e), "either site or area");
	expect(400, "POST", "/api/v1/maintenance", W("{\"start\":\"%s\","
	    "\"end\":\"%s\",\"reason\":\"r\",\"actor\":\"a\"}", s, e),
	    "either site or area");
	expect(400, "POST", "/api/v1/maintenance", W("{\"site\":\"S9\","
	    "\"start\":\"%s\",\"end\":\"%s\",\"reason\":\"r\",\"actor\":\"a\"}",
	    s, e), "no site \"S9\"");
	expect(400, "POST", "/api/v1/maintenance", W("{\"area\":\"west\","
	    "\"start\":\"%s\",\"end\":\"%s\",\"reason\":\"r\",\"actor\":\"a\"}",
	    s, e), "no area \"west\"");
	expect(400, "POST", "/api/v1/maintenance", W("{\"site\":\"S1\","
	    "\"start\":\"%s\",\"end\":\"%s\",\"reason\":\"r\",\"actor\":\"a\"}",
	    e, s), "end must be after start");
	expect(400, "POST", "/api/v1/maintenance", W("{\"site\":\"S1\","
	    "\"start\":\"%s\",\"end\":\"%s\",\"reason\":\"r\",\"actor\":\"a\"}",
	    s, past), "already ended");
	expect(400, "POST", "/api/v1/maintenance", W("{\"site\":\"S1\","
	    "\"start\":\"%s\",\"end\":\"tomorrow\",\"reason\":\"r\","
	    "\"actor\":\"a\"}", s), "end: not an RFC 3339");
	expect(400, "POST", "/api/v1/maintenance", W("{\"site\":\"S1\","
	    "\"end\":\"%s\",\"reason\":\"r\",\"actor\":\"a\"}", e),
	    "start: missing");
	expect(400, "POST", "/api/v1/maintenance", W("{\"site\":\"S1\","
	    "\"start\":\"%s\",\"end\":\"%s\",\"actor\":\"a\"}", s, e),
	    "reason: missing");
	expect(400, "POST", "/api/v1/maintenance", W("{\"site\":\"S1\","
	    "\"start\":\"%s\",\"end\":\"%s\",\"reason\":\"r\"}", s, e),
	    "actor: missing");
	expect(400, "POST", "/api/v1/maintenance", W("{\"site\":\"S1\","
	    "\"start\":\"%s\",\"end\":\"%s\",\"reason\":\"r\",\"actor\":\"a\","
	    "\"why\":1}", s, e), "unknown field \"why\"");
#undef W
	expect(404, "DELETE", "/api/v1/maintenance/7", NULL, "no maintenance");
	expect(404, "DELETE", "/api/v1/maintenance/x7", NULL, "no maintenance");
	expect(404, "DELETE", "/api/v1/maintenance/0", NULL, "no maintenance");
	cr_assert_eq(handle("GET", "/api/v1/maintenance", NULL, &j), 200);
	cr_expect_eq(json_array_size(json_object_get(j, "windows")), 0);
	json_decref(j);
}

static void
nop_event(void *arg, const struct corr_event *ev)
{
	(void)arg;
	(void)ev;
}

static const struct corr_sink_ops nop_ops = { nop_event, corrfix_rejected };

Test(opapi, windows_listed_from_restored_engines)
{
	struct corr_config cc;
	struct corr_engine *e;
	char rej[CORRFIX_REJ_LEN];
	int64_t now = (int64_t)time(NULL) * 1000;
	struct corr_maint m = { 0, FLEET_NONE, now - 60000, now + 3600000,
	    "rectifier swap", "amy" };
	json_t *j, *w;

	corr_config_defaults(&cc);
	e = corrfix_engine(F, &cc, &nop_ops, rej);
	cr_assert_eq(corr_engine_maint_put(e, 4, &m), 0);
	m.site = FLEET_NONE;
	m.area = 1;
	m.end_ms = now - 1000;		/* ended: not listed */
	m.actor = NULL;
	cr_assert_eq(corr_engine_maint_put(e, 5, &m), 0);
	m.end_ms = now + 60000;
	cr_assert_eq(corr_engine_maint_put(e, 2, &m), 0);
	/* through a snapshot, as a restart has them: the actor too */
	{
		struct corr_engine *e2 = corrfix_engine(F, &cc, &nop_ops, rej);
		char *p, err[160];
		size_t n;

		cr_assert_eq(corr_engine_save(e, &p, &n), 0);
		cr_assert_eq(corr_engine_load(e2, p, n, err, sizeof(err)), 0,
		    "%s", err);
		xfree(p);
		corr_engine_free(e);
		e = e2;
	}
	opapi_restore(O, e);
	corr_engine_free(e);
	cr_assert_eq(handle("GET", "/api/v1/maintenance", NULL, &j), 200);
	w = json_object_get(j, "windows");
	cr_assert_eq(json_array_size(w), 2, "%s", json_dumps(j, 0));
	/* by id */
	cr_expect_eq(json_integer_value(json_object_get(json_array_get(w, 0),
	    "id")), 2);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(w,
	    0), "area")), "south");
	cr_expect(json_is_null(json_object_get(json_array_get(w, 0), "site")));
	cr_expect(json_is_null(json_object_get(json_array_get(w, 0),
	    "actor")));
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(w,
	    1), "site")), "S1");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(w,
	    1), "actor")), "amy");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(w,
	    1), "reason")), "rectifier swap");
	cr_expect_eq(strlen(json_string_value(json_object_get(json_array_get(
	    w, 1), "start"))), 24);
	json_decref(j);
	/* a listed one is found for DELETE (then 503: nothing takes it) */
	expect(503, "DELETE", "/api/v1/maintenance/4", NULL, "not running");
}

Test(opapi, site)
{
	json_t *j, *s, *d;

	cr_assert_eq(handle("GET", "/api/v1/sites/S1", NULL, &j), 200);
	s = json_object_get(j, "site");
	cr_expect_str_eq(json_string_value(json_object_get(s, "id")), "S1");
	cr_expect_str_eq(json_string_value(json_object_get(s, "area")),
	    "north");
	cr_expect_str_eq(json_string_value(json_object_get(s, "tier")),
	    "premium");
	cr_expect_str_eq(json_string_value(json_object_get(s, "station")),
	    "st-1");
	cr_expect(json_is_null(json_object_get(s, "branch")));
	cr_expect(json_is_string(json_object_get(s, "region")));
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(s, "tenants"), 0), "tier")), "premium");
	d = json_object_get(s, "devices");
	cr_assert_eq(json_array_size(d), 1);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(d,
	    0), "id")), "S1-rect");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(d,
	    0), "profile")), "rect");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(d,
	    0), "comm")), "lost");
	cr_expect_eq(json_array_size(json_object_get(j, "incidents")), 0);
	json_decref(j);
	cr_assert_eq(handle("GET", "/api/v1/sites/S2", NULL, &j), 200);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(json_object_get(j, "site"), "devices"), 0),
	    "comm")), "unknown");
	cr_expect_eq(json_array_size(json_object_get(json_object_get(j,
	    "site"), "tenants")), 0);
	json_decref(j);
	expect(404, "GET", "/api/v1/sites/S9", NULL, "no site");
}

/* ---- the core's half of close's satisfaction ---- */

static char Closed[8192];

static void
keep_closed(void *arg, const struct corr_event *ev)
{
	struct incjson_buf b;

	(void)arg;
	if (ev->type != CORR_EV_CLOSED)
		return;
	incjson_buf_init(&b);
	incjson_append(&b, F, ev);
	snprintf(Closed, sizeof(Closed), "%.*s", (int)b.n, b.p);
	incjson_buf_fini(&b);
}

static const struct corr_sink_ops keep_ops = { keep_closed, corrfix_rejected };

/* An incident at S1, raised, cleared and resolved: its id. */
static void
resolved_incident(struct corr_engine *e, char *rej, int64_t t, char *id,
    size_t len)
{
	corrfix_edge(e, F, "S1-rect", "MAINS_FAIL", t, ALARM_RAISE, SEV_MAJOR);
	corrfix_edge(e, F, "S1-rect", "MAINS_FAIL", t + 1000, ALARM_CLEAR,
	    SEV_MAJOR);
	corr_id_format(id, len, "INC-", 0, 0);
	for (uint64_t n = 1; n < 100; n++) {
		corr_id_format(id, len, "INC-", 0, n);
		if (corr_engine_find(e, id) != NULL)
			break;
	}
	cr_assert_eq(corrfix_act(e, rej, id, CORR_ACT_RESOLVE, "amy", NULL,
	    t + 2000), 0, "%s", rej);
}

Test(opapi, close_keeps_the_satisfaction)
{
	struct corr_config cc;
	struct corr_engine *e;
	char rej[CORRFIX_REJ_LEN], id[CORR_ID_LEN];
	struct corr_action a;
	int64_t t = 1796000000000LL;
	json_t *j;

	(void)fleet_code(F, "MAINS_FAIL");
	corr_config_defaults(&cc);
	e = corrfix_engine(F, &cc, &keep_ops, rej);
	resolved_incident(e, rej, t, id, sizeof(id));
	memset(&a, 0, sizeof(a));
	a.incident = id;
	a.type = CORR_ACT_CLOSE;
	a.actor = "amy";
	a.at = t + 3000;
	a.satisfaction = 6;
	cr_expect_eq(corr_engine_action(e, &a, rej, sizeof(rej)), -EINVAL);
	cr_expect(strstr(rej, "satisfaction") != NULL, "%s", rej);
	a.satisfaction = 4;
	cr_assert_eq(corr_engine_action(e, &a, rej, sizeof(rej)), 0, "%s", rej);
	j = json_loads(Closed, 0, NULL);
	cr_assert_not_null(j, "%s", Closed);
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(j,
	    "incident"), "satisfaction")), 4, "%s", Closed);
	json_decref(j);
	/* without one, the field is absent */
	Closed[0] = '\0';
	resolved_incident(e, rej, t + 60000, id, sizeof(id));
	a.incident = id;
	a.satisfaction = 0;
	a.at = t + 63000;
	cr_assert_eq(corr_engine_action(e, &a, rej, sizeof(rej)), 0, "%s", rej);
	cr_expect(strstr(Closed, "\"closed\"") != NULL, "%s", Closed);
	cr_expect(strstr(Closed, "satisfaction") == NULL, "%s", Closed);
	corr_engine_free(e);
}

/* ---- through a real router: the writes thread, full rings, room ---- */

static struct opapi *OR;	/* the opapi of the router tests */

/* The shard's end hook as daemon/store reports it (without a journal):
 * every input with a reply token gets its engine's answer. */
static void
reply_end(void *arg, unsigned shard, struct corr_engine *e,
    const struct router_input *in)
{
	struct store_outcome o;

	(void)arg;
	(void)shard;
	(void)e;
	if (in->reply == NULL)
		return;
	store_outcome_of(in, &o);
	opapi_replied(OR, in->reply, &o);
}

static const struct router_hooks reply_hooks = { .end = reply_end };

static void
ev_nop(void *arg, const struct corr_event *ev)
{
	(void)arg;
	(void)ev;
}

static const struct corr_sink_ops sink_nop = { ev_nop, NULL };

/* A one-shard router with 4-slot rings, not started, and OR on it. */
static struct router *
router_with_opapi(void)
{
	struct corr_config cc;
	struct corr_sink sink = { &sink_nop, NULL };
	struct router *r;
	char err[256];

	corr_config_defaults(&cc);
	r = router_new(F, &cc, 1, 2, 4, &sink, err, sizeof(err));
	cr_assert_not_null(r, "%s", err);
	OR = opapi_new(&(struct opapi_config){ F, "INC-", 1, r, 1, NULL,
	    NULL });
	router_set_room(r, 1, opapi_room, OR);
	router_set_hooks(r, &reply_hooks, NULL);
	cr_assert_eq(opapi_routes(OR, R), OPAPI_NROUTES);
	cr_assert_eq(opapi_start(OR), 0);
	return r;
}

/* Sends n acks (deferred); rs[i] hold them. */
static void
send_acks(struct http_resp *rs, int n)
{
	for (int i = 0; i < n; i++) {
		char url[64];
		const char *body = "{\"actor\":\"amy\"}";
		struct http_in in = { "POST", url, "Bearer " TOKEN, body,
		    strlen(body), strlen(body), NULL, NULL };

		snprintf(url, sizeof(url), "/api/v1/incidents/INC-0-%d/ack",
		    i + 1);
		http_handle(R, OPAPI_NROUTES, TOKEN, 65536, &in, &rs[i]);
		cr_assert_not_null(rs[i].pending, "ack %d not deferred: %d %s",
		    i, rs[i].status, rs[i].body);
	}
}

/* Waits (10 s) until every rs[0, n) is answered. */
static void
wait_answers(struct http_resp *rs, int n)
{
	struct timespec ts = { 0, 20 * 1000000L };

	for (int k = 0; k < 500; k++) {
		int ready = 0;

		for (int i = 0; i < n; i++)
			ready += http_resp_ready(&rs[i]);
		if (ready == n)
			return;
		nanosleep(&ts, NULL);
	}
	cr_assert_fail("not every write answered in 10 s");
}

Test(opapi, full_ring_waits_for_room_then_the_engine_answers)
{
	struct router *r = router_with_opapi();
	struct http_resp rs[7];
	struct timespec ts = { 0, 300 * 1000000L };
	struct opapi_stats os;

	send_acks(rs, 7);		/* 4 fit the ring, 3 wait */
	nanosleep(&ts, NULL);
	opapi_stats(OR, &os);
	cr_expect_eq(os.waiting, 3);
	cr_assert_eq(router_start(r), 0);	/* room: all 7 reach the engine */
	wait_answers(rs, 7);
	for (int i = 0; i < 7; i++) {
		cr_expect_eq(rs[i].status, 404, "%d: %s", i, rs[i].body);
		cr_expect(strstr(rs[i].body, "unknown incident INC-0-") != NULL,
		    "%s", rs[i].body);
		http_resp_fini(&rs[i]);
	}
	opapi_stats(OR, &os);
	cr_expect_eq(os.waiting, 0);
	cr_expect_eq(os.refused, 7);
	cr_expect_eq(os.busy, 0);
	opapi_stop(OR);
	router_free(r);
	opapi_free(OR);
}

Test(opapi, no_room_in_time_is_503_and_never_applied)
{
	struct router *r = router_with_opapi();
	struct http_resp rs[6];
	struct opapi_stats os;

	send_acks(rs, 6);		/* 4 queued, 2 wait and time out */
	wait_answers(rs + 4, 2);
	for (int i = 4; i < 6; i++) {
		cr_expect_eq(rs[i].status, 503, "%d: %s", i, rs[i].body);
		cr_expect_eq(rs[i].retry_after, OPAPI_RETRY_S);
		cr_expect(strstr(rs[i].body, "queue stayed full") != NULL,
		    "%s", rs[i].body);
		http_resp_fini(&rs[i]);
	}
	for (int i = 0; i < 4; i++)
		cr_expect_eq(http_resp_ready(&rs[i]), 0, "%d answered early", i);
	/* the queued ones are not lost: they run once the shard does */
	cr_assert_eq(router_start(r), 0);
	wait_answers(rs, 4);
	for (int i = 0; i < 4; i++) {
		cr_expect_eq(rs[i].status, 404, "%d: %s", i, rs[i].body);
		http_resp_fini(&rs[i]);
	}
	opapi_stats(OR, &os);
	cr_expect_eq(os.busy, 2);
	/* stopped: new writes are 503 at once */
	opapi_stop(OR);
	{
		const char *body = "{\"actor\":\"amy\"}";
		struct http_in in = { "POST", "/api/v1/incidents/INC-0-1/ack",
		    "Bearer " TOKEN, body, strlen(body), strlen(body), NULL,
		    NULL };
		struct http_resp x;

		http_handle(R, OPAPI_NROUTES, TOKEN, 65536, &in, &x);
		cr_expect_null(x.pending);
		cr_expect_eq(x.status, 503);
		cr_expect(strstr(x.body, "stopping") != NULL, "%s", x.body);
		http_resp_fini(&x);
	}
	router_free(r);
	opapi_free(OR);
}
