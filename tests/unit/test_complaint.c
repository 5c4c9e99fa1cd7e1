/*
 * test_complaint.c - POST /api/v1/complaints without a server: the body's
 * checks and their 400 reasons (an unknown site, a customer that is not a
 * tenant anywhere or not at that site, text and actor limits, severity),
 * the route (daemon/opapi, through http_handle() so the token and JSON
 * gates apply): 400 before anything is queued, 503 without a correlator,
 * and through a real router the deferred 201 with the id the shard gave
 * the incident; and the reply complaint_answer() writes from an outcome.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include <time.h>

#include "daemon/complaint.h"
#include "daemon/mem.h"
#include "daemon/opapi.h"
#include "daemon/router.h"
#include "daemon/store.h"

static struct fleet *F;

static void
setup(void)
{
	uint32_t s;

	F = fleet_new();
	s = fleet_add(F, FLEET_SITE, "T1");
	F->sites[s].area = fleet_area(F, "north");
	fleet_site_add_tenant(&F->sites[s], "C1", TIER_STANDARD);
	fleet_site_add_tenant(&F->sites[s], "C3", TIER_PREMIUM);
	s = fleet_add(F, FLEET_SITE, "T2");
	F->sites[s].area = fleet_area(F, "north");
	fleet_site_add_tenant(&F->sites[s], "C2", TIER_STANDARD);
}

static void
teardown(void)
{
	fleet_free(F);
}

TestSuite(complaint, .init = setup, .fini = teardown);

/* Parses text as the body; the reason in err. */
static int
parse(const char *text, struct corr_complaint *c, char *err)
{
	json_error_t je;
	json_t *o = json_loads(text, JSON_DECODE_ANY, &je);
	int rc;

	cr_assert_not_null(o, "%s: %s", text, je.text);
	err[0] = '\0';
	rc = complaint_parse(o, F, c, err, 512);
	json_decref(o);
	return rc;
}

Test(complaint, a_good_body)
{
	struct corr_complaint c;
	json_t *o = json_loads("{\"customer\":\"C3\",\"site\":\"T1\",\"text\":"
	    "\"no signal\",\"actor\":\"desk-1\"}", 0, NULL);
	char err[512];

	cr_assert_eq(complaint_parse(o, F, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.site, fleet_find(F, FLEET_SITE, "T1"));
	cr_assert_str_eq(c.customer, "C3");
	cr_assert_str_eq(c.text, "no signal");
	cr_assert_str_eq(c.actor, "desk-1");
	cr_assert_eq(c.severity, COMPLAINT_SEVERITY);
	cr_assert_eq(c.at, 0, "the daemon stamps it");
	json_decref(o);
	cr_assert_eq(parse("{\"customer\":\"C1\",\"site\":\"T1\",\"text\":\"x\","
	    "\"actor\":\"a\",\"severity\":\"critical\"}", &c, err), 0, "%s", err);
	cr_assert_eq(c.severity, SEV_CRITICAL);
}

Test(complaint, bad_bodies_name_what_is_wrong)
{
	static const struct {
		const char *body, *why;
	} bad[] = {
		{ "[]", "the body must be a JSON object" },
		{ "{\"site\":\"T1\",\"customer\":\"C1\",\"txt\":\"x\","
		    "\"actor\":\"a\"}", "unknown key \"txt\" (customer, site, "
		    "text, actor, severity)" },
		{ "{\"customer\":\"C1\",\"text\":\"x\",\"actor\":\"a\"}",
		    "site: required" },
		{ "{\"site\":7,\"customer\":\"C1\",\"text\":\"x\",\"actor\":\"a\"}",
		    "site: required" },
		{ "{\"site\":\"T9\",\"customer\":\"C1\",\"text\":\"x\","
		    "\"actor\":\"a\"}", "site \"T9\" is not in the configuration" },
		{ "{\"site\":\"T1\",\"text\":\"x\",\"actor\":\"a\"}",
		    "customer: required" },
		{ "{\"site\":\"T1\",\"customer\":\"C9\",\"text\":\"x\","
		    "\"actor\":\"a\"}", "customer \"C9\" is not a tenant of any "
		    "site" },
		{ "{\"site\":\"T1\",\"customer\":\"C2\",\"text\":\"x\","
		    "\"actor\":\"a\"}", "customer \"C2\" is not a tenant of site "
		    "\"T1\" (tenants: C1, C3)" },
		{ "{\"site\":\"T1\",\"customer\":\"C1\",\"actor\":\"a\"}",
		    "text: required, 1 to 1023 bytes" },
		{ "{\"site\":\"T1\",\"customer\":\"C1\",\"text\":\"\","
		    "\"actor\":\"a\"}", "text: required, 1 to 1023 bytes" },
		{ "{\"site\":\"T1\",\"customer\":\"C1\",\"text\":\"a\\u0000b\","
		    "\"actor\":\"a\"}", "text: required" },
		{ "{\"site\":\"T1\",\"customer\":\"C1\",\"text\":\"x\"}",
		    "actor: required, 1 to 127 bytes" },
		{ "{\"site\":\"T1\",\"customer\":\"C1\",\"text\":\"x\","
		    "\"actor\":\"a\",\"severity\":\"urgent\"}",
		    "severity: warning, minor, major or critical" },
		{ "{\"site\":\"T1\",\"customer\":\"C1\",\"text\":\"x\","
		    "\"actor\":\"a\",\"severity\":3}", "severity: " },
	};
	struct corr_complaint c;
	char err[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *o = json_loads(bad[i].body, JSON_DECODE_ANY |
		    JSON_ALLOW_NUL, NULL);

		cr_assert_not_null(o, "row %zu", i);
		err[0] = '\0';
		cr_assert_eq(complaint_parse(o, F, &c, err, sizeof(err)),
		    -EINVAL, "row %zu", i);
		cr_assert(strncmp(err, bad[i].why, strlen(bad[i].why)) == 0,
		    "row %zu: %s", i, err);
		json_decref(o);
	}
}

Test(complaint, text_and_actor_limits)
{
	char text[CORR_NOTE_MAX + 2], actor[CORR_ACTOR_MAX + 2], err[512];
	struct corr_complaint c;
	json_t *o;

	memset(text, 'a', sizeof(text));
	text[CORR_NOTE_MAX] = '\0';
	memset(actor, 'b', sizeof(actor));
	actor[CORR_ACTOR_MAX] = '\0';
	o = json_pack("{s:s, s:s, s:s, s:s}", "site", "T1", "customer", "C1",
	    "text", text, "actor", actor);
	cr_assert_eq(complaint_parse(o, F, &c, err, sizeof(err)), 0, "%s", err);
	json_decref(o);
	text[CORR_NOTE_MAX] = 'a';
	text[CORR_NOTE_MAX + 1] = '\0';
	o = json_pack("{s:s, s:s, s:s, s:s}", "site", "T1", "customer", "C1",
	    "text", text, "actor", actor);
	cr_assert_eq(complaint_parse(o, F, &c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "text:") == err, "%s", err);
	json_decref(o);
	text[CORR_NOTE_MAX] = '\0';
	actor[CORR_ACTOR_MAX] = 'b';
	actor[CORR_ACTOR_MAX + 1] = '\0';
	o = json_pack("{s:s, s:s, s:s, s:s}", "site", "T1", "customer", "C1",
	    "text", text, "actor", actor);
	cr_assert_eq(complaint_parse(o, F, &c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "actor:") == err, "%s", err);
	json_decref(o);
}

/* ---- the route (daemon/opapi) ---- */

#define TOKEN	"0123456789abcdef0123"

static struct opapi *OR;
static struct http_route R[OPAPI_NROUTES];

/* The shard's end hook as daemon/store reports it, without a journal. */
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
ev_count(void *arg, const struct corr_event *ev)
{
	if (ev->inc->kind == CORR_KIND_COMPLAINT)
		(*(int *)arg)++;
}

static const struct corr_sink_ops sink_count = { ev_count, NULL };

static void
post(const char *auth, const char *body, struct http_resp *rs)
{
	struct http_in in = { "POST", COMPLAINT_PATH, auth, body,
	    strlen(body), strlen(body), NULL, NULL };

	http_handle(R, OPAPI_NROUTES, TOKEN, 65536, &in, rs);
}

static const char *const GOOD = "{\"customer\":\"C3\",\"site\":\"T1\","
    "\"text\":\"no signal\",\"actor\":\"desk-1\"}";

Test(complaint, the_route_checks_before_anything_is_queued)
{
	struct http_resp rs;

	OR = opapi_new(&(struct opapi_config){ F, "INC-", 1, NULL, 1, NULL,
	    NULL });
	cr_assert_eq(opapi_routes(OR, R), OPAPI_NROUTES);
	post(NULL, GOOD, &rs);
	cr_assert_eq(rs.status, 401, "a write needs the token");
	http_resp_fini(&rs);
	post("Bearer " TOKEN, "{\"customer\":\"C2\",\"site\":\"T1\",\"text\":"
	    "\"x\",\"actor\":\"a\"}", &rs);
	cr_assert_null(rs.pending);
	cr_assert_eq(rs.status, 400);
	cr_assert(strstr(rs.body, "\\\"C2\\\" is not a tenant of site") !=
	    NULL, "%s", rs.body);
	http_resp_fini(&rs);
	post("Bearer " TOKEN, "{\"customer\":\"C1\"", &rs);
	cr_assert_eq(rs.status, 400, "not JSON");
	http_resp_fini(&rs);
	/* a good one with no correlator to take it */
	post("Bearer " TOKEN, GOOD, &rs);
	cr_assert_null(rs.pending);
	cr_assert_eq(rs.status, 503);
	cr_assert_gt(rs.retry_after, 0);
	http_resp_fini(&rs);
	opapi_free(OR);
}

Test(complaint, the_route_answers_201_with_the_incident_the_shard_opened)
{
	struct corr_config cc;
	int opened = 0;
	struct corr_sink sink = { &sink_count, &opened };
	struct timespec ts = { 0, 20 * 1000000L };
	struct router *r;
	struct http_resp rs;
	char err[256];
	json_t *o;
	int k;

	corr_config_defaults(&cc);
	r = router_new(F, &cc, 1, 2, 4, &sink, err, sizeof(err));
	cr_assert_not_null(r, "%s", err);
	OR = opapi_new(&(struct opapi_config){ F, "INC-", 1, r, 1, NULL,
	    NULL });
	router_set_room(r, 1, opapi_room, OR);
	router_set_hooks(r, &reply_hooks, NULL);
	cr_assert_eq(opapi_routes(OR, R), OPAPI_NROUTES);
	cr_assert_eq(router_start(r), 0);
	cr_assert_eq(opapi_start(OR), 0);
	post("Bearer " TOKEN, GOOD, &rs);
	cr_assert_not_null(rs.pending, "deferred: %d %s", rs.status, rs.body);
	for (k = 0; k < 500 && !http_resp_ready(&rs); k++)
		nanosleep(&ts, NULL);
	cr_assert_lt(k, 500, "not answered in 10 s");
	cr_assert_eq(rs.status, 201, "%s", rs.body);
	o = json_loadb(rs.body, rs.len, 0, NULL);
	cr_assert_not_null(o);
	cr_assert_str_eq(json_string_value(json_object_get(o, "incident")),
	    "INC-0-1");
	cr_assert_str_eq(json_string_value(json_object_get(o, "customer")),
	    "C3");
	cr_assert_str_eq(json_string_value(json_object_get(o, "severity")),
	    "major");
	json_decref(o);
	http_resp_fini(&rs);
	opapi_stop(OR);
	router_stop(r);
	cr_assert_eq(opened, 1);
	router_free(r);
	opapi_free(OR);
}

Test(complaint, the_answer_carries_the_new_incident)
{
	struct corr_complaint c = { 1, "C2", "x", "a", SEV_MINOR, 0 };
	struct http_resp rs;
	json_t *o;

	http_resp_init(&rs);
	complaint_answer(F, &c, 0, "INC-1-7", "", &rs);
	cr_assert_eq(rs.status, 201);
	o = json_loadb(rs.body, rs.len, 0, NULL);
	cr_assert_not_null(o);
	cr_assert_str_eq(json_string_value(json_object_get(o, "incident")),
	    "INC-1-7");
	cr_assert_str_eq(json_string_value(json_object_get(o, "kind")),
	    "complaint");
	cr_assert_str_eq(json_string_value(json_object_get(o, "site")), "T2");
	cr_assert_str_eq(json_string_value(json_object_get(o, "customer")),
	    "C2");
	cr_assert_str_eq(json_string_value(json_object_get(o, "state")), "open");
	cr_assert_str_eq(json_string_value(json_object_get(o, "severity")),
	    "minor");
	json_decref(o);
	http_resp_fini(&rs);
	http_resp_init(&rs);
	complaint_answer(F, &c, -EINVAL, "", "customer is not a tenant of the "
	    "site", &rs);
	cr_assert_eq(rs.status, 400);
	cr_assert(strstr(rs.body, "not a tenant") != NULL);
	http_resp_fini(&rs);
}

Test(complaint, a_reason_is_one_line_whatever_the_client_sent)
{
	struct corr_complaint c;
	char err[512];

	cr_assert_eq(parse("{\"site\":\"a\\nb\\u0001\",\"customer\":\"C1\","
	    "\"text\":\"x\",\"actor\":\"a\"}", &c, err), -EINVAL);
	cr_assert_str_eq(err, "site \"a?b?\" is not in the configuration");
}
