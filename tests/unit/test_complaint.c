/*
 * test_complaint.c - POST /api/v1/complaints without a server: the body's
 * checks and their 400 reasons (an unknown site, a customer that is not a
 * tenant anywhere or not at that site, text and actor limits, severity),
 * the route's answer when the daemon holds the request and when it
 * cannot, and the reply complaint_answer() writes from the shard's
 * outcome, through http_handle() so the token and JSON gates apply.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "daemon/complaint.h"
#include "daemon/mem.h"

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

/* ---- the route ---- */

struct held {
	int	 n;
	int	 rc;		/* what submit returns */
	struct corr_complaint c;
	char	 text[64];
};

static int
fake_submit(void *arg, struct corr_complaint *c, const struct http_req *rq,
    struct http_resp *rs)
{
	struct held *h = arg;

	(void)rq;
	h->n++;
	h->c = *c;
	snprintf(h->text, sizeof(h->text), "%s", c->text);
	if (h->rc == -EAGAIN) {
		rs->retry_after = 1;
		http_resp_error(rs, 503, "busy");
	}
	return h->rc;
}

static const struct complaint_ops fake_ops = { .submit = fake_submit };

static void
post(struct complaint_route *cr, const char *auth, const char *body,
    struct http_resp *rs)
{
	struct http_route routes[1] = {
		{ "POST", COMPLAINT_PATH, HTTP_JSON, complaint_handle, cr },
	};
	struct http_in in = { "POST", COMPLAINT_PATH, auth, body,
	    strlen(body), strlen(body) };

	http_resp_init(rs);
	http_handle(routes, 1, "0123456789abcdef0123", 65536, &in, rs);
}

Test(complaint, the_route_holds_a_good_request_and_answers_bad_ones)
{
	struct held h = { 0 };
	struct complaint_route cr = { NULL, &fake_ops, &h };
	struct http_resp rs;
	const char *good = "{\"customer\":\"C1\",\"site\":\"T1\",\"text\":"
	    "\"no signal\",\"actor\":\"desk-1\"}";

	cr.fleet = F;
	post(&cr, "Bearer 0123456789abcdef0123", good, &rs);
	cr_assert_eq(h.n, 1);
	cr_assert_str_eq(h.text, "no signal");
	http_resp_fini(&rs);
	post(&cr, NULL, good, &rs);
	cr_assert_eq(rs.status, 401, "a write needs the token");
	cr_assert_eq(h.n, 1);
	http_resp_fini(&rs);
	post(&cr, "Bearer 0123456789abcdef0123", "{\"customer\":\"C2\","
	    "\"site\":\"T1\",\"text\":\"x\",\"actor\":\"a\"}", &rs);
	cr_assert_eq(rs.status, 400);
	cr_assert(strstr(rs.body, "\\\"C2\\\" is not a tenant of site") !=
	    NULL, "%s", rs.body);
	cr_assert_eq(h.n, 1, "never queued");
	http_resp_fini(&rs);
	h.rc = -EAGAIN;
	post(&cr, "Bearer 0123456789abcdef0123", good, &rs);
	cr_assert_eq(rs.status, 503);
	cr_assert_eq(rs.retry_after, 1);
	http_resp_fini(&rs);
	cr.ops = NULL;
	post(&cr, "Bearer 0123456789abcdef0123", good, &rs);
	cr_assert_eq(rs.status, 503);
	cr_assert(strstr(rs.body, "not available") != NULL, "%s", rs.body);
	http_resp_fini(&rs);
}

Test(complaint, the_answer_carries_the_new_incident)
{
	struct corr_complaint c = { 1, "C2", "x", "a", SEV_MINOR, 0 };
	struct router_input in;
	struct http_resp rs;
	json_t *o;

	memset(&in, 0, sizeof(in));
	in.kind = ROUTER_IN_COMPLAINT;
	in.complaint = &c;
	in.opened = "INC-1-7";
	http_resp_init(&rs);
	complaint_answer(F, &in, &rs);
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
	in.rc = -EINVAL;
	in.opened = NULL;
	in.reason = "customer is not a tenant of the site";
	http_resp_init(&rs);
	complaint_answer(F, &in, &rs);
	cr_assert_eq(rs.status, 400);
	cr_assert(strstr(rs.body, "not a tenant") != NULL);
	http_resp_fini(&rs);
}
