/*
 * test_view.c - daemon/view, the incident read API's memory, fed by hand
 * with pub_recs as the pump would offer them (tocsin.incident/1 events
 * with step spans, dumps) and read through its routes with http_handle()
 * (no socket): the SLA-urgency order, every filter and the 400 for an
 * unknown value, cursor pages that resume after their last item while
 * items come, go and move, the timeline across events, replays ignored,
 * dumps that replace timelines and drop stale incidents, closed incidents
 * dropped, done for every record.  Also http_query_next's decoding.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "correlator/corr.h"
#include "correlator/fleet.h"
#include "daemon/http.h"
#include "daemon/store.h"
#include "daemon/view.h"

static struct fleet *F;
static struct view *V;
static struct pub_sink *VS;	/* V's sink */
static struct http_route R[VIEW_NROUTES];
static uint64_t done_pos[4];
static unsigned ndone;

static void
h_done(void *arg, unsigned shard, uint64_t pos)
{
	(void)arg;
	cr_assert_lt(shard, 4u);
	/* never back (a dump handed over at start is at one position) */
	cr_assert(ndone == 0 || pos >= done_pos[shard] || done_pos[shard] == 0,
	    "done out of order");
	done_pos[shard] = pos;
	ndone++;
}

static void h_nop(void *arg) { (void)arg; }
static void h_rewind(void *arg, unsigned s, uint64_t p)
{
	(void)arg; (void)s; (void)p;
	cr_assert_fail("the view never rewinds");
}

static const struct pub_host H = {
	.ready = h_nop, .done = h_done, .rewind = h_rewind, .resync = h_nop,
};

static void
setup(void)
{
	uint32_t s;

	F = fleet_new();
	s = fleet_add(F, FLEET_SITE, "S1");
	F->sites[s].area = fleet_area(F, "north");
	fleet_site_add_tenant(&F->sites[s], "c1", TIER_PREMIUM);
	s = fleet_add(F, FLEET_SITE, "S2");
	F->sites[s].area = fleet_area(F, "south");
	fleet_site_add_tenant(&F->sites[s], "c2", TIER_STANDARD);
	fleet_site_add_tenant(&F->sites[s], "c1", TIER_STANDARD);
	V = view_new(F);
	VS = view_sink(V, &H);
	cr_assert_eq(view_routes(V, R), VIEW_NROUTES);
	memset(done_pos, 0, sizeof(done_pos));
	ndone = 0;
}

static void
teardown(void)
{
	view_free(V);
	fleet_free(F);
}

TestSuite(view, .init = setup, .fini = teardown);

/* What an incident is in a fake record. */
struct inc {
	const char	*id;
	unsigned	 shard;
	const char	*site, *area, *state, *sev, *tier, *cust;
	int		 planned, flapping, chronic;
	int64_t		 opened, deadline;
};

static uint64_t P = 1;		/* journal positions */
static int Fill;		/* offer through view_fill_sink(): no done */

/* The sink offer() and offer_kind() go through; checks what it reports. */
static void
offer_rec(const struct pub_rec *r)
{
	struct pub_sink *s = Fill ? view_fill_sink(V) : view_sink(V, &H);
	unsigned was = ndone;

	cr_assert_eq(s->ops->offer(s, r), 0);
	if (Fill)
		cr_assert_eq(ndone, was, "the fill's sink reported done");
	else
		cr_assert_eq(done_pos[r->shard], r->pos, "done at once");
}

/*
 * Offers one record of kind for in, seq, with nsteps steps named
 * "<seq>.<i>", live or not.
 */
static void
offer(uint8_t kind, const struct inc *in, uint64_t seq, unsigned nsteps,
    int live)
{
	char json[4096];
	struct pub_span sp[16];
	struct pub_rec r;
	enum corr_state st = CORR_OPEN;
	enum severity sev = SEV_MAJOR;
	size_t n;

	for (unsigned i = 0; i < CORR_STATE__COUNT; i++)
		if (in->state && strcmp(corr_state_name(i), in->state) == 0)
			st = (enum corr_state)i;
	if (in->sev)
		cr_assert_eq(fleet_severity_parse(in->sev, &sev), 0);
	n = (size_t)snprintf(json, sizeof(json),
	    "{\"schema\":\"tocsin.incident/1\",\"event\":\"updated\","
	    "\"seq\":%" PRIu64 ",\"at\":\"2026-12-04T10:00:00.000Z\","
	    "\"incident\":{\"id\":\"%s\",\"site\":\"%s\",\"area\":\"%s\","
	    "\"severity\":\"%s\",\"state\":\"%s\",\"customers\":"
	    "[{\"id\":\"%s\",\"tier\":\"%s\"}],\"tier\":\"%s\","
	    "\"planned\":%s,\"chronic\":%s,\"flapping\":%s},\"steps\":[",
	    seq, in->id, in->site, in->area, fleet_severity_name(sev),
	    corr_state_name(st), in->cust ? in->cust : "c1",
	    in->tier ? in->tier : "standard", in->tier ? in->tier : "standard",
	    in->planned ? "true" : "false", in->chronic ? "true" : "false",
	    in->flapping ? "true" : "false");
	for (unsigned i = 0; i < nsteps; i++) {
		size_t at = n + (i > 0);

		n += (size_t)snprintf(json + n, sizeof(json) - n, "%s{\"at\":"
		    "\"2026-12-04T10:00:00.000Z\",\"actor\":\"t\",\"action\":"
		    "\"%" PRIu64 ".%u\",\"note\":null}", i > 0 ? "," : "",
		    seq, i);
		sp[i].off = (uint32_t)at;
		sp[i].len = (uint32_t)(n - at);
	}
	n += (size_t)snprintf(json + n, sizeof(json) - n, "]}");
	memset(&r, 0, sizeof(r));
	r.pos = P++;
	r.shard = in->shard;
	r.kind = kind;
	r.state = (uint8_t)st;
	r.severity = (uint8_t)sev;
	r.live = (uint8_t)live;
	r.seq = seq;
	r.opened_at = in->opened;
	r.deadline = in->deadline;
	r.id = in->id;
	r.site = in->site;
	r.area = in->area;
	r.json = json;
	r.jsonlen = n;
	r.steps = sp;
	r.nsteps = nsteps;
	offer_rec(&r);
}

static void
offer_kind(uint8_t kind, unsigned shard)
{
	struct pub_rec r;

	memset(&r, 0, sizeof(r));
	r.pos = P++;
	r.shard = shard;
	r.kind = kind;
	offer_rec(&r);
}

/* GET url through the routes: the status, the body parsed into *out. */
static int
get(const char *url, json_t **out)
{
	struct http_in in = { "GET", url, NULL, "", 0, 0, NULL, NULL };
	struct http_resp rs;
	json_error_t je;
	int st;

	http_handle(R, VIEW_NROUTES, NULL, 65536, &in, &rs);
	st = rs.status;
	*out = json_loadb(rs.body, rs.len, 0, &je);
	cr_assert_not_null(*out, "%s: not JSON (%s): %.*s", url, je.text,
	    (int)rs.len, rs.body);
	http_resp_fini(&rs);
	return st;
}

/* The ids a list answer holds, comma-joined into buf. */
static const char *
ids(json_t *j, char *buf, size_t len)
{
	json_t *a = json_object_get(j, "incidents"), *it;
	size_t i, o = 0;

	buf[0] = '\0';
	cr_assert(json_is_array(a));
	json_array_foreach(a, i, it) {
		const char *id = json_string_value(json_object_get(
		    json_object_get(it, "incident"), "id"));

		cr_assert_not_null(id);
		cr_assert_null(json_object_get(it, "steps"), "no steps in a "
		    "list item");
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "",
		    id);
	}
	return buf;
}

static const char *
list(const char *url, char *buf, size_t len, char *cursor, size_t clen)
{
	json_t *j;
	json_t *c;

	cr_assert_eq(get(url, &j), 200, "%s", url);
	ids(j, buf, len);
	c = json_object_get(j, "next_cursor");
	if (cursor != NULL)
		snprintf(cursor, clen, "%s", json_is_string(c) ?
		    json_string_value(c) : "");
	cr_assert_eq(json_integer_value(json_object_get(j, "count")),
	    (json_int_t)json_array_size(json_object_get(j, "incidents")));
	json_decref(j);
	return buf;
}

static const struct inc I1 = { "INC-0-1", 0, "S1", "north", "open",
	"critical", "premium", "c1", 0, 0, 0, 1000, 5000 };
static const struct inc I2 = { "INC-1-1", 1, "S2", "south", "acknowledged",
	"major", "standard", "c2", 0, 1, 0, 2000, 3000 };
static const struct inc I3 = { "INC-0-2", 0, "S1", "north", "dispatched",
	"minor", "premium", "c1", 1, 0, 0, 500, 0 };
static const struct inc I4 = { "INC-1-2", 1, "S2", "south", "open",
	"warning", "standard", "c2", 0, 0, 1, 100, 0 };

static void
four(void)
{
	offer(PUB_EVENT, &I1, 1, 1, 1);
	offer(PUB_EVENT, &I2, 1, 1, 1);
	offer(PUB_EVENT, &I3, 1, 1, 1);
	offer(PUB_EVENT, &I4, 1, 1, 1);
	cr_assert_eq(view_count(V), 4);
}

Test(view, nearest_running_deadline_first_then_oldest_opened)
{
	char b[256];

	four();
	/* deadlines 3000 (I2) and 5000 (I1); then opened 100 (I4), 500 */
	cr_expect_str_eq(list("/api/v1/incidents", b, sizeof(b), NULL, 0),
	    "INC-1-1,INC-0-1,INC-1-2,INC-0-2");
	/* a deadline that moves moves the incident */
	{
		struct inc i1 = I1;

		i1.deadline = 2500;
		offer(PUB_EVENT, &i1, 2, 1, 1);
	}
	cr_expect_str_eq(list("/api/v1/incidents", b, sizeof(b), NULL, 0),
	    "INC-0-1,INC-1-1,INC-1-2,INC-0-2");
}

Test(view, filters)
{
	char b[256];
	static const struct { const char *q, *want; } t[] = {
		{ "state=open", "INC-0-1,INC-1-2" },
		{ "state=acknowledged,dispatched", "INC-1-1,INC-0-2" },
		{ "state=closed", "" },
		{ "severity=critical", "INC-0-1" },
		{ "severity=minor,warning", "INC-1-2,INC-0-2" },
		{ "site=S2", "INC-1-1,INC-1-2" },
		{ "area=north", "INC-0-1,INC-0-2" },
		{ "customer=c2", "INC-1-1,INC-1-2" },
		{ "customer=c1", "INC-0-1,INC-0-2" },
		{ "tier=premium", "INC-0-1,INC-0-2" },
		{ "planned=true", "INC-0-2" },
		{ "planned=false", "INC-1-1,INC-0-1,INC-1-2" },
		{ "flapping=true", "INC-1-1" },
		{ "chronic=true", "INC-1-2" },
		{ "site=S1&state=open", "INC-0-1" },
		{ "site=S1&state=acknowledged", "" },
		{ "state=open%2Cdispatched&area=north", "INC-0-1,INC-0-2" },
	};
	char url[256];

	four();
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(url, sizeof(url), "/api/v1/incidents?%s", t[i].q);
		cr_expect_str_eq(list(url, b, sizeof(b), NULL, 0), t[i].want,
		    "%s", t[i].q);
	}
}

Test(view, unknown_filter_values_are_400)
{
	static const char *const bad[] = {
		"state=bogus", "state=open,bogus", "state=", "severity=huge",
		"tier=gold", "site=NOPE", "area=west", "customer=nobody",
		"planned=maybe", "flapping=1", "limit=0", "limit=1001",
		"limit=x", "limit=-1", "cursor=zz", "cursor=", "cursor=3030",
		"colour=red", "state=%zz", "state=%0a", "site=%00",
	};
	char url[256];
	json_t *j;

	four();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(url, sizeof(url), "/api/v1/incidents?%s", bad[i]);
		cr_expect_eq(get(url, &j), 400, "%s", bad[i]);
		cr_expect(json_is_string(json_object_get(j, "error")), "%s",
		    bad[i]);
		cr_expect_eq(json_integer_value(json_object_get(j, "status")),
		    400);
		json_decref(j);
	}
	cr_expect_eq(get("/api/v1/incidents?limit=1000", &j), 200);
	json_decref(j);
}

Test(view, cursor_pages_resume_after_their_last_item)
{
	char b[256], cur[600], url[800];
	struct inc a[6];

	for (unsigned i = 0; i < 6; i++) {
		static char idb[6][16];

		a[i] = I1;
		snprintf(idb[i], sizeof(idb[i]), "INC-0-%u", 10 + i);
		a[i].id = idb[i];
		a[i].deadline = 1000 * (i + 1);
		if (i < 5)
			offer(PUB_EVENT, &a[i], 1, 1, 1);
	}
	cr_expect_str_eq(list("/api/v1/incidents?limit=2", b, sizeof(b), cur,
	    sizeof(cur)), "INC-0-10,INC-0-11");
	cr_assert_neq(cur[0], '\0');
	/* meanwhile: the first closes, one arrives before the cursor, one
	 * after the end, and the third moves behind the fourth */
	offer(PUB_EVENT, &a[0], 2, 1, 0);
	{
		struct inc early = I2, moved = a[2];

		early.deadline = 10;
		offer(PUB_EVENT, &early, 1, 1, 1);
		moved.deadline = 4500;
		offer(PUB_EVENT, &moved, 2, 1, 1);
	}
	a[5].deadline = 9000;
	offer(PUB_EVENT, &a[5], 1, 1, 1);
	snprintf(url, sizeof(url), "/api/v1/incidents?limit=2&cursor=%s", cur);
	cr_expect_str_eq(list(url, b, sizeof(b), cur, sizeof(cur)),
	    "INC-0-13,INC-0-12");
	snprintf(url, sizeof(url), "/api/v1/incidents?cursor=%s&limit=2", cur);
	cr_expect_str_eq(list(url, b, sizeof(b), cur, sizeof(cur)),
	    "INC-0-14,INC-0-15");
	cr_expect_str_eq(cur, "", "the last page has no next_cursor");
	/* a cursor keeps working after its own item closed */
	cr_expect_str_eq(list("/api/v1/incidents?limit=3", b, sizeof(b), cur,
	    sizeof(cur)), "INC-1-1,INC-0-11,INC-0-13");
	offer(PUB_EVENT, &a[3], 2, 1, 0);
	snprintf(url, sizeof(url), "/api/v1/incidents?limit=3&cursor=%s", cur);
	cr_expect_str_eq(list(url, b, sizeof(b), NULL, 0),
	    "INC-0-12,INC-0-14,INC-0-15");
}

/* The detail's timeline actions, comma-joined. */
static const char *
timeline(const char *id, char *buf, size_t len, json_t **keep)
{
	char url[128];
	json_t *j, *tl, *s;
	size_t i, o = 0;

	snprintf(url, sizeof(url), "/api/v1/incidents/%s", id);
	cr_assert_eq(get(url, &j), 200, "%s", url);
	tl = json_object_get(j, "timeline");
	cr_assert(json_is_array(tl));
	cr_assert_null(json_object_get(j, "steps"));
	buf[0] = '\0';
	json_array_foreach(tl, i, s)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "",
		    json_string_value(json_object_get(s, "action")));
	if (keep != NULL)
		*keep = j;
	else
		json_decref(j);
	return buf;
}

Test(view, the_detail_has_the_whole_timeline_and_replays_are_ignored)
{
	char b[256];
	json_t *j;
	struct inc i1 = I1;

	offer(PUB_EVENT, &I1, 1, 2, 1);
	offer(PUB_EVENT, &I1, 2, 1, 1);
	offer(PUB_EVENT, &I1, 2, 1, 1);		/* a replay */
	offer(PUB_EVENT, &I1, 1, 2, 1);		/* an older replay */
	i1.state = "acknowledged";
	offer(PUB_EVENT, &i1, 3, 1, 1);
	cr_expect_str_eq(timeline("INC-0-1", b, sizeof(b), &j),
	    "1.0,1.1,2.0,3.0");
	cr_expect_eq(json_integer_value(json_object_get(j, "seq")), 3);
	cr_expect(json_is_true(json_object_get(j, "timeline_complete")));
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j,
	    "incident"), "state")), "acknowledged");
	json_decref(j);
	cr_expect_eq(get("/api/v1/incidents/INC-9-9", &j), 404);
	cr_expect(json_is_string(json_object_get(j, "error")));
	json_decref(j);
}

Test(view, a_dump_replaces_timelines_and_drops_stale_incidents)
{
	char b[256];

	four();
	offer(PUB_EVENT, &I1, 2, 1, 1);
	/* shard 0 dumps: I1 with its whole timeline (3 steps), not I3 */
	offer_kind(PUB_DUMP_BEGIN, 0);
	offer(PUB_STATE, &I1, 2, 3, 1);
	offer_kind(PUB_DUMP_END, 0);
	cr_expect_eq(view_count(V), 3);
	cr_expect_str_eq(list("/api/v1/incidents", b, sizeof(b), NULL, 0),
	    "INC-1-1,INC-0-1,INC-1-2", "I3 was stale; shard 1 untouched");
	cr_expect_str_eq(timeline("INC-0-1", b, sizeof(b), NULL),
	    "2.0,2.1,2.2");
	/* an event of the dump's shard between BEGIN and END keeps it */
	offer_kind(PUB_DUMP_BEGIN, 1);
	offer(PUB_EVENT, &I2, 2, 1, 1);
	offer_kind(PUB_DUMP_END, 1);
	cr_expect_str_eq(list("/api/v1/incidents", b, sizeof(b), NULL, 0),
	    "INC-1-1,INC-0-1");
	/* an END with no BEGIN removes nothing */
	offer_kind(PUB_DUMP_END, 0);
	offer_kind(PUB_DUMP_END, 1);
	cr_expect_eq(view_count(V), 2);
	/* an incident the view never heard of comes in by a dump */
	offer_kind(PUB_DUMP_BEGIN, 0);
	offer(PUB_STATE, &I1, 2, 3, 1);
	offer(PUB_STATE, &I3, 7, 4, 1);
	offer_kind(PUB_DUMP_END, 0);
	cr_expect_str_eq(timeline("INC-0-2", b, sizeof(b), NULL),
	    "7.0,7.1,7.2,7.3");
}

/* /readyz's condition: every shard has ended a whole dump since start. */
Test(view, whole_once_every_shard_ended_a_dump)
{
	cr_expect(view_whole(V, 0));
	cr_expect(!view_whole(V, 2));
	offer(PUB_EVENT, &I1, 1, 1, 1);	/* events alone do not */
	cr_expect(!view_whole(V, 1));
	offer_kind(PUB_DUMP_END, 0);		/* an END with no BEGIN */
	cr_expect(!view_whole(V, 1));
	offer_kind(PUB_DUMP_BEGIN, 0);
	cr_expect(!view_whole(V, 1), "a dump still open");
	offer(PUB_STATE, &I1, 1, 1, 1);
	offer_kind(PUB_DUMP_END, 0);
	cr_expect(view_whole(V, 1));
	cr_expect(!view_whole(V, 2), "shard 1 has not dumped");
	offer_kind(PUB_DUMP_BEGIN, 1);
	offer_kind(PUB_DUMP_END, 1);		/* an empty shard */
	cr_expect(view_whole(V, 2));
	offer_kind(PUB_DUMP_BEGIN, 0);		/* a later dump: still whole */
	cr_expect(view_whole(V, 2));
}

/*
 * The start's fill (daemon/live, on a thread of its own) goes through
 * view_fill_sink(): the same view, and nothing reported done to the pump,
 * whose reader for the view starts at the journal's end; the ordinary
 * sink, after it, still reports.
 */
Test(view, the_fill_sink_fills_the_same_view_and_reports_nothing)
{
	char b[256];

	Fill = 1;
	offer_kind(PUB_DUMP_BEGIN, 0);
	offer(PUB_STATE, &I1, 2, 3, 1);
	offer(PUB_STATE, &I3, 5, 1, 1);
	offer_kind(PUB_DUMP_END, 0);
	offer_kind(PUB_DUMP_BEGIN, 1);
	offer(PUB_STATE, &I2, 4, 2, 1);
	offer_kind(PUB_DUMP_END, 1);
	Fill = 0;
	cr_expect_eq(ndone, 0);
	cr_expect(view_whole(V, 2));
	cr_expect_eq(view_count(V), 3);
	cr_expect_str_eq(timeline("INC-0-1", b, sizeof(b), NULL), "2.0,2.1,2.2");
	offer(PUB_EVENT, &I1, 3, 1, 1);		/* the pump's, after it */
	cr_expect_eq(ndone, 1);
	cr_expect_str_eq(timeline("INC-0-1", b, sizeof(b), NULL),
	    "2.0,2.1,2.2,3.0");
}

Test(view, a_timeline_heard_from_the_middle_is_incomplete_until_a_dump)
{
	char b[256];
	json_t *j;

	offer(PUB_EVENT, &I1, 4, 1, 1);
	cr_expect_str_eq(timeline("INC-0-1", b, sizeof(b), &j), "4.0");
	cr_expect(json_is_false(json_object_get(j, "timeline_complete")));
	json_decref(j);
	offer_kind(PUB_DUMP_BEGIN, 0);
	offer(PUB_STATE, &I1, 4, 4, 1);
	offer_kind(PUB_DUMP_END, 0);
	cr_expect_str_eq(timeline("INC-0-1", b, sizeof(b), &j),
	    "4.0,4.1,4.2,4.3");
	cr_expect(json_is_true(json_object_get(j, "timeline_complete")));
	json_decref(j);
	/* a skipped seq makes it incomplete again */
	offer(PUB_EVENT, &I1, 6, 1, 1);
	timeline("INC-0-1", b, sizeof(b), &j);
	cr_expect(json_is_false(json_object_get(j, "timeline_complete")));
	json_decref(j);
}

Test(view, closed_incidents_are_dropped)
{
	char b[256];
	json_t *j;

	four();
	offer(PUB_EVENT, &I2, 2, 1, 0);
	cr_expect_eq(view_count(V), 3);
	cr_expect_eq(get("/api/v1/incidents/INC-1-1", &j), 404);
	json_decref(j);
	cr_expect_str_eq(list("/api/v1/incidents", b, sizeof(b), NULL, 0),
	    "INC-0-1,INC-1-2,INC-0-2");
	/* a close of one the view never held is nothing */
	{
		struct inc x = I1;

		x.id = "INC-0-77";
		offer(PUB_EVENT, &x, 5, 1, 0);
	}
	cr_expect_eq(view_count(V), 3);
}

Test(view, other_records_are_done_and_ignored)
{
	offer_kind(PUB_ALARM, 2);
	offer_kind(PUB_ACTION, 2);
	offer_kind(PUB_REJECTED, 3);
	cr_expect_eq(view_count(V), 0);
	cr_expect_eq(ndone, 3);
	cr_expect(view_sink(V, &H)->ops->healthy(view_sink(V, &H)));
}

Test(view, an_empty_view_answers)
{
	char b[64], cur[64];

	cr_expect_str_eq(list("/api/v1/incidents", b, sizeof(b), cur,
	    sizeof(cur)), "");
	cr_expect_str_eq(cur, "");
}

/* ---- http_query_next ---- */

TestSuite(http_query);

Test(http_query, decodes_pairs)
{
	const char *q = "a=1&&b=x%20y+z&c&%41=%2c&=v&";
	char n[16], v[16];

	cr_assert_eq(http_query_next(&q, n, sizeof(n), v, sizeof(v)), 1);
	cr_expect_str_eq(n, "a");
	cr_expect_str_eq(v, "1");
	cr_assert_eq(http_query_next(&q, n, sizeof(n), v, sizeof(v)), 1);
	cr_expect_str_eq(n, "b");
	cr_expect_str_eq(v, "x y z");
	cr_assert_eq(http_query_next(&q, n, sizeof(n), v, sizeof(v)), 1);
	cr_expect_str_eq(n, "c");
	cr_expect_str_eq(v, "");
	cr_assert_eq(http_query_next(&q, n, sizeof(n), v, sizeof(v)), 1);
	cr_expect_str_eq(n, "A");
	cr_expect_str_eq(v, ",");
	cr_assert_eq(http_query_next(&q, n, sizeof(n), v, sizeof(v)), 1);
	cr_expect_str_eq(n, "");
	cr_expect_str_eq(v, "v");
	cr_expect_eq(http_query_next(&q, n, sizeof(n), v, sizeof(v)), 0);
	cr_expect_eq(http_query_next(&q, n, sizeof(n), v, sizeof(v)), 0);
}

Test(http_query, refuses_bad_escapes_control_bytes_and_long_values)
{
	static const char *const bad[] = {
		"a=%", "a=%4", "a=%4g", "a=%00", "a=%1f", "a=%7F", "a=x\ty",
		"a=0123456789abcdef", "0123456789abcdef=1",
	};
	char n[16], v[16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *q = bad[i];

		cr_expect_eq(http_query_next(&q, n, sizeof(n), v, sizeof(v)),
		    -EINVAL, "%s", bad[i]);
		cr_expect_eq(*q, '\0', "%s: at the end after an error",
		    bad[i]);
	}
}

/* ---- the writer's account against the scan ---- */

/* A sink that hands records on to `to` without their writer's account. */
struct strip {
	struct pub_sink	 base;
	struct pub_sink	*to;
	unsigned	 accounted;	/* records that came with one */
};

static int
strip_offer(struct pub_sink *s, const struct pub_rec *r)
{
	struct strip *st = (struct strip *)s;
	struct pub_rec c = *r;

	st->accounted += r->scan != NULL;
	c.scan = NULL;
	c.cust = NULL;
	return st->to->ops->offer(st->to, &c);
}

static const struct pub_ops strip_ops = { "strip", strip_offer, NULL, NULL,
    NULL };

/* The body of GET url on the routes rt, as text (malloc'd). */
static char *
get_text(const struct http_route *rt, const char *url)
{
	struct http_in in = { "GET", url, NULL, "", 0, 0, NULL, NULL };
	struct http_resp rs;
	char *s;

	http_handle(rt, VIEW_NROUTES, NULL, 65536, &in, &rs);
	cr_assert_eq(rs.status, 200, "%s: %d", url, rs.status);
	s = strndup(rs.body, rs.len);
	http_resp_fini(&rs);
	return s;
}

static void
nop_event(void *arg, const struct corr_event *ev)
{
	(void)arg;
	(void)ev;
}

static const struct corr_sink_ops nop_ops = { .event = nop_event };

/*
 * store_dump_sink() hands the view each state with its writer's account
 * (no scan); a view fed the same records without it scans them: both
 * answer every list, filter and detail with the same bytes.  The engine's
 * incidents: one at a premium site with one tenant, one at a site with
 * two, the second acknowledged with an owner.
 */
Test(view, the_writers_account_reads_as_the_scan)
{
	struct corr_config cc;
	struct corr_sink sink = { &nop_ops, NULL };
	struct corr_engine *e;
	struct store_dumper d;
	struct view *v2 = view_new(F);
	struct http_route r2[VIEW_NROUTES];
	struct strip st = { { &strip_ops }, NULL, 0 };
	const char *urls[] = { "/api/v1/incidents", "/api/v1/incidents?tier="
	    "premium", "/api/v1/incidents?customer=c1", "/api/v1/incidents?"
	    "customer=c2", "/api/v1/incidents?area=south",
	    "/api/v1/incidents?state=acknowledged" };
	struct alarm_event ev = { 0 };
	const int64_t t = 1795000000000LL;
	struct corr_action a = { "INC-0-2", CORR_ACT_ACK, "ops \"night\"",
	    "a note\nwith \\ escapes", t + 3000, 0 };
	char list[512], url[128];
	json_t *j;

	st.to = view_sink(v2, &H);
	cr_assert_eq(view_routes(v2, r2), VIEW_NROUTES);
	for (uint32_t s = 0; s < 2; s++) {
		char dev[16];
		uint32_t dv;

		snprintf(dev, sizeof(dev), "S%u-pwr", s + 1);
		dv = fleet_add(F, FLEET_DEVICE, dev);
		F->devices[dv].site = s;
	}
	ev.code = fleet_code(F, "MAINS_FAIL");
	corr_config_defaults(&cc);
	e = corr_engine_new(F, &cc, 0, &sink);
	for (uint32_t dv = 0; dv < 2; dv++) {
		ev.device = dv;
		ev.site = F->devices[dv].site;
		ev.at_ms = t + dv * 1000;
		ev.edge = ALARM_RAISE;
		ev.severity = SEV_CRITICAL;
		cr_assert_eq(corr_engine_alarm(e, &ev), 0);
	}
	cr_assert_eq(corr_engine_action(e, &a, NULL, 0), 0);
	cr_assert_eq(get("/api/v1/incidents", &j), 200);	/* empty yet */
	json_decref(j);
	store_dumper_init(&d);
	cr_assert_eq(store_dump_sink(&d, VS, 0, 7, e, F, t + 5000), 0);
	cr_assert_eq(store_dump_sink(&d, &st.base, 0, 7, e, F, t + 5000), 0);
	store_dumper_fini(&d);
	cr_assert_eq(st.accounted, 2, "states with their account: %u",
	    st.accounted);
	cr_assert_eq(get("/api/v1/incidents", &j), 200);
	ids(j, list, sizeof(list));
	json_decref(j);
	cr_assert_str_eq(list, "INC-0-1,INC-0-2");
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		char *x = get_text(R, urls[i]), *y = get_text(r2, urls[i]);

		cr_expect_str_eq(x, y, "%s", urls[i]);
		free(x);
		free(y);
	}
	for (char *id = strtok(list, ","); id != NULL; id = strtok(NULL, ",")) {
		char *x, *y;

		snprintf(url, sizeof(url), "/api/v1/incidents/%s", id);
		x = get_text(R, url);
		y = get_text(r2, url);
		cr_expect_str_eq(x, y, "%s", url);
		free(x);
		free(y);
	}
	corr_engine_free(e);
	view_free(v2);
}

/* corr_engine_dump()'s callback: each state as the journal's record. */
struct state_enc {
	struct snapbuf	*rec;
	struct incjson_buf *jb;
	const struct fleet *f;
};

static void
state_of(void *arg, const struct corr_event *ev)
{
	struct state_enc *se = arg;

	se->rec->n = 0;
	store_event_encode(se->rec, se->jb, se->f, ev);
}

/*
 * An engine with one incident, INC-0-1 (MAINS_FAIL raised at t), that
 * ticketing noted n times (note, one a millisecond after it).
 */
static struct corr_engine *
noted_engine(int64_t t, uint32_t n, const char *note)
{
	static struct corr_sink sink = { &nop_ops, NULL };
	struct corr_config cc;
	struct corr_engine *e;
	struct alarm_event ev = { 0 };
	struct corr_action a = { "INC-0-1", CORR_ACT_NOTE, "ticketing", note,
	    t, 0 };
	uint32_t dv;

	dv = fleet_add(F, FLEET_DEVICE, "S1-pwr");
	F->devices[dv].site = 0;
	ev.code = fleet_code(F, "MAINS_FAIL");
	ev.device = dv;
	ev.site = 0;
	ev.at_ms = t;
	ev.edge = ALARM_RAISE;
	ev.severity = SEV_CRITICAL;
	corr_config_defaults(&cc);
	e = corr_engine_new(F, &cc, 0, &sink);
	cr_assert_eq(corr_engine_alarm(e, &ev), 0);
	for (uint32_t i = 0; i < n; i++) {
		a.at = t + 1 + i;
		cr_assert_eq(corr_engine_action(e, &a, NULL, 0), 0);
	}
	return e;
}

/* e's live set dumped into V at `at` (the start's fill); INC-0-1's detail. */
static json_t *
filled_detail(struct corr_engine *e, int64_t at)
{
	struct store_dumper d;
	json_t *j;

	store_dumper_init(&d);
	cr_assert_eq(store_dump_sink(&d, VS, 0, 7, e, F, at), 0);
	store_dumper_fini(&d);
	cr_assert_eq(get("/api/v1/incidents/INC-0-1", &j), 200);
	return j;
}

/*
 * An incident open for months gathers a long timeline (operators' notes,
 * every re-raise of a slow flap): its state record has no step limit.
 * Decoded (store_pub_rec, as the pump decodes the journal's record for
 * Redis' resync) it carries every step, and a dump lists it in the view
 * with its whole timeline.  Until 2026-12-06 a record of more than 8192
 * steps did not decode: passed by, it was missing from a resync and from
 * the read API after a restart.
 */
Test(view, a_timeline_of_ten_thousand_steps_is_dumped_and_decoded_whole)
{
	const int64_t t = 1795000000000LL;
	const uint32_t nnotes = 10000;
	struct corr_engine *e = noted_engine(t, nnotes,
	    "customer called again");
	const struct corr_incident *inc;
	struct incjson_buf jb;
	struct snapbuf rec;
	struct journal_rec jr;
	struct pub_rec pr;
	struct store_spans sp = { NULL, 0 };
	json_t *j, *tl;

	inc = corr_engine_find(e, "INC-0-1");
	cr_assert_not_null(inc);
	cr_assert_gt(inc->nsteps, nnotes);

	/* the journal's record, decoded as the pump decodes it */
	snapbuf_init(&rec);
	incjson_buf_init(&jb);
	jb.spans_on = 1;
	corr_engine_dump(e, t + nnotes + 1, state_of, &(struct state_enc){
	    &rec, &jb, F });
	jr = (struct journal_rec){ .type = STORE_STATE, .p = rec.p,
	    .n = (uint32_t)rec.n, .pos = 9, .next = 10 };
	cr_assert_eq(store_pub_rec(&jr, 0, &pr, &sp), 1);
	cr_assert_eq(pr.nsteps, inc->nsteps);
	cr_assert_geq(sp.cap, inc->nsteps);
	cr_assert_eq(memcmp(pr.json + pr.steps[pr.nsteps - 1].off,
	    "{\"at\"", 5), 0);
	free(sp.v);
	incjson_buf_fini(&jb);
	snapbuf_fini(&rec);

	/* the start's fill: listed, with every step */
	j = filled_detail(e, t + nnotes + 1);
	tl = json_object_get(j, "timeline");
	cr_assert_eq(json_array_size(tl), inc->nsteps);
	cr_expect(json_is_true(json_object_get(j, "timeline_complete")));
	json_decref(j);
	corr_engine_free(e);
}

/*
 * A timeline whose JSON alone passes what one journal record holds
 * (JOURNAL_REC_MAX, 16 MiB: here 9,000 notes of 1,023 quotes, each
 * escaped to two bytes): the state record leaves its oldest steps out
 * and says how many (pub_rec.cut), so it fits and reads back from a
 * journal; the newest steps are all there; the view lists the incident
 * and says its timeline is not complete.  Until 2026-12-06 the record was
 * written whole and a journal's reader took it for a corrupt tail: cut
 * at the next open, with every record after it.
 */
Test(view, a_state_too_large_for_a_record_leaves_its_oldest_steps_out)
{
	const int64_t t = 1795000000000LL;
	const uint32_t nnotes = 9000;
	static char note[CORR_NOTE_MAX + 1];
	struct corr_engine *e;
	const struct corr_incident *inc;
	struct incjson_buf jb;
	struct snapbuf rec;
	struct journal_config jc = { 0 };
	struct journal_info info;
	struct journal *jr;
	struct journal_reader *rd;
	struct journal_rec r;
	struct pub_rec pr;
	struct store_spans sp = { NULL, 0 };
	char dir[] = "/tmp/tocsin-view-XXXXXX", err[256], cmd[64];
	json_t *j;

	memset(note, '"', CORR_NOTE_MAX);
	e = noted_engine(t, nnotes, note);
	inc = corr_engine_find(e, "INC-0-1");
	cr_assert_not_null(inc);

	snapbuf_init(&rec);
	incjson_buf_init(&jb);
	corr_engine_dump(e, t + nnotes + 1, state_of, &(struct state_enc){
	    &rec, &jb, F });
	cr_assert_leq(rec.n, JOURNAL_REC_MAX, "a record of %zu bytes", rec.n);
	cr_assert_geq(rec.n, JOURNAL_REC_MAX - (1u << 20),
	    "only what does not fit is left out: %zu bytes", rec.n);

	/* journaled, reopened, read back whole */
	cr_assert_not_null(mkdtemp(dir));
	jc.dir = dir;
	cr_assert_eq(journal_open(&jr, &jc, &info, err, sizeof(err)), 0, "%s",
	    err);
	(void)journal_append(jr, STORE_STATE, rec.p, rec.n);
	(void)journal_append(jr, STORE_DUMP_END, "", 0);
	cr_assert_eq(journal_flush(jr, 1), 0);
	journal_close(jr);
	cr_assert_eq(journal_open(&jr, &jc, &info, err, sizeof(err)), 0, "%s",
	    err);
	cr_expect_eq(info.cut, 0, "cut at reopen: %s", info.why);
	rd = journal_reader_new(jr, 0);
	cr_assert_eq(journal_read(rd, 0, &r), 1);
	cr_assert_eq(r.type, STORE_STATE);
	cr_assert_eq(store_pub_rec(&r, 0, &pr, &sp), 1);
	cr_expect_gt(pr.cut, 0);
	cr_expect_eq(pr.cut + pr.nsteps, inc->nsteps, "%u + %u steps of %u",
	    pr.cut, pr.nsteps, inc->nsteps);
	cr_expect(memmem(pr.json + pr.steps[pr.nsteps - 1].off,
	    pr.steps[pr.nsteps - 1].len, "\"note\"", 6) != NULL);
	cr_assert_eq(journal_read(rd, 0, &r), 1, "the record after it");
	cr_expect_eq(r.type, STORE_DUMP_END);
	journal_reader_free(rd);
	journal_close(jr);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)system(cmd);
	free(sp.v);
	incjson_buf_fini(&jb);
	snapbuf_fini(&rec);

	/* the start's fill: listed, the timeline said to be incomplete */
	j = filled_detail(e, t + nnotes + 1);
	cr_expect_lt(json_array_size(json_object_get(j, "timeline")),
	    inc->nsteps);
	cr_expect(json_is_false(json_object_get(j, "timeline_complete")));
	json_decref(j);
	corr_engine_free(e);
}
