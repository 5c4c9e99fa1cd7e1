/*
 * test_command.c - the command route's checks and its queue to the poll
 * thread, without a device (daemon/command.c): what is answered at once
 * on the HTTP thread (404 for an unknown device, an undeclared command or
 * an incident the view does not hold; 400 for a bad body; 503 when the
 * queue is full), and that every queued request is answered exactly once
 * from the poll thread (503 before the poller is set, or once stopping).
 * The outcomes themselves, with a device, are test_poller.c's and
 * test_tocsind_command.c's.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "daemon/command.h"
#include "daemon/config.h"
#include "daemon/view.h"

static const char yaml[] =
    "profiles:\n"
    "  dg:\n"
    "    points: [{name: run_cmd, address: 40001}]\n"
    "    commands:\n"
    "      - {name: dg_start, function: 6, address: 40001, value: 1}\n"
    "  plain: {points: [{name: v, address: 30001}]}\n"
    "sites: [{id: T1, area: north, region: A}]\n"
    "devices:\n"
    "  - {id: G1, site: T1, profile: dg, host: 127.0.0.1}\n"
    "  - {id: P1, site: T1, profile: plain, host: 127.0.0.2}\n";

static struct {
	struct config	*cfg;
	struct ev_loop	*loop;
	struct view	*view;
	struct command	*c;
	int		 deferred;
	int		 replies;
	int		 status[128];
	char		*body[128];
} T;

static void
setup(void)
{
	struct config_errors errs = { NULL, 0 };

	memset(&T, 0, sizeof(T));
	T.cfg = config_load_buffer("t.yaml", yaml, strlen(yaml), &errs);
	cr_assert_not_null(T.cfg, "%s", errs.n ? errs.msg[0] : "");
	T.loop = ev_loop_new(EVFLAG_AUTO);
	T.view = view_new(T.cfg->fleet);
	T.c = command_new(T.loop, T.cfg->fleet, T.cfg->mbmap, NULL, NULL, 0,
	    T.view);
}

static void
teardown(void)
{
	command_free(T.c);
	view_free(T.view);
	ev_loop_destroy(T.loop);
	config_free(T.cfg);
	for (int i = 0; i < T.replies && i < 128; i++)
		free(T.body[i]);
}

TestSuite(command, .init = setup, .fini = teardown);

static void *
t_defer(struct http_resp *rs)
{
	T.deferred++;
	return rs;
}

static void
t_reply(void *arg, int status, char *body)
{
	if (T.replies < 128) {
		T.status[T.replies] = status;
		T.body[T.replies] = body;
	} else
		free(body);
	T.replies++;
}

/* command_http with a device, a name and a body; the status when
 * answered at once (rs's), or 0 when queued. */
static int
post(const char *dev, const char *name, const char *body, char *err,
    size_t len)
{
	struct http_req rq;
	struct http_resp rs;
	int r, st;

	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.path = "/api/v1/devices/x/commands/y";
	rq.query = "";
	rq.seg[0] = dev;
	rq.seg[1] = name;
	rq.nseg = 2;
	rq.body = body;
	rq.bodylen = strlen(body);
	rq.json = json_loads(body, 0, NULL);
	http_resp_init(&rs);
	r = command_http(T.c, &rq, &rs, t_defer, t_reply);
	st = r == 1 ? 0 : rs.status;
	if (err != NULL)
		snprintf(err, len, "%s", rs.body != NULL ? rs.body : "");
	if (r == 0)
		cr_assert(rs.body != NULL && strstr(rs.body, "\"error\"") !=
		    NULL);
	http_resp_fini(&rs);
	json_decref(rq.json);
	return st;
}

Test(command, checks_answered_at_once)
{
	char err[512];

	cr_assert_eq(post("NOPE", "dg_start", "{\"actor\":\"a\"}", err,
	    sizeof(err)), 404);
	cr_expect(strstr(err, "no device") != NULL, "%s", err);
	cr_assert_eq(post("G1", "rm_rf", "{\"actor\":\"a\"}", err,
	    sizeof(err)), 404);
	cr_expect(strstr(err, "device G1 (profile dg) declares no command") !=
	    NULL, "%s", err);
	cr_assert_eq(post("P1", "dg_start", "{\"actor\":\"a\"}", NULL, 0), 404,
	    "a profile without commands has none");
	cr_assert_eq(post("G1", "dg_start", "{}", err, sizeof(err)), 400);
	cr_expect(strstr(err, "actor") != NULL, "%s", err);
	cr_assert_eq(post("G1", "dg_start", "{\"actor\":\"\"}", NULL, 0), 400);
	cr_assert_eq(post("G1", "dg_start", "{\"actor\":\"a\\nb\"}", NULL, 0),
	    400, "a control byte in the actor");
	cr_assert_eq(post("G1", "dg_start", "{\"actor\":7}", NULL, 0), 400);
	cr_assert_eq(post("G1", "dg_start", "{\"actor\":\"a\",\"incident_id\":"
	    "\"x\"}", NULL, 0), 400, "unknown key");
	cr_assert_eq(post("G1", "dg_start", "{\"actor\":\"a\",\"incident\":"
	    "\"INC 1\"}", NULL, 0), 400);
	cr_assert_eq(post("G1", "dg_start", "[1]", NULL, 0), 400);
	cr_assert_eq(post("G1", "dg_start", "{\"actor\":\"a\",\"incident\":"
	    "\"INC-0-1\"}", err, sizeof(err)), 404);
	cr_expect(strstr(err, "no open incident") != NULL, "%s", err);
	cr_assert_eq(T.deferred, 0);
	ev_run(T.loop, EVRUN_NOWAIT);
	cr_assert_eq(T.replies, 0, "nothing was queued");
}

Test(command, queue_is_bounded_and_every_request_answered_once)
{
	struct command_stats st;
	int i;

	for (i = 0; i < COMMAND_QUEUE; i++)
		cr_assert_eq(post("G1", "dg_start", "{\"actor\":\"a\","
		    "\"incident\":null}", NULL, 0), 0, "request %d", i);
	cr_assert_eq(post("G1", "dg_start", "{\"actor\":\"a\"}", NULL, 0),
	    503, "the queue is full");
	cr_assert_eq(T.deferred, COMMAND_QUEUE);
	command_stats(T.c, &st);
	cr_assert_eq(st.requests, COMMAND_QUEUE);
	cr_assert_eq(st.refused_busy, 1);
	/* the poll thread: no poller yet, each answered 503 once */
	ev_run(T.loop, EVRUN_NOWAIT);
	cr_assert_eq(T.replies, COMMAND_QUEUE);
	for (i = 0; i < COMMAND_QUEUE; i++) {
		cr_assert_eq(T.status[i], 503);
		cr_assert(strstr(T.body[i], "starting") != NULL, "%s",
		    T.body[i]);
	}
	/* room again; once stopping, queued requests get 503 stopping */
	cr_assert_eq(post("G1", "dg_start", "{\"actor\":\"a\"}", NULL, 0), 0);
	command_stop(T.c);
	cr_assert_eq(T.replies, COMMAND_QUEUE + 1);
	cr_assert_eq(T.status[COMMAND_QUEUE], 503);
	cr_assert(strstr(T.body[COMMAND_QUEUE], "stopping") != NULL);
}
