/*
 * test_tocsind_complaints.c - POST /api/v1/complaints on a real tocsind,
 * as a service desk meets it, and the complaint incident it opens through
 * a kill -9.
 *
 * The fleet: T1 (north, premium c1) with one rectifier on a loopback
 * address where nothing listens (it opens a COMM_LOSS incident, the
 * alarm incident beside the complaint), T2 (south, region C, standard c2
 * and c4) without devices, so the only incident there is the complaint.
 * Loopback 127.19.Y.* (shared with test_tocsind_http: nothing listens in
 * either).  The token a 0600 file; no Kafka broker (kafka.brokers "").
 *
 * Checked: a complaint without the token 401; a customer that is no
 * tenant anywhere, or not at the site, a missing text, an unknown key
 * 400 naming it; a good one 201 with the incident's id, listed by
 * GET /api/v1/incidents?customer=c2 as kind complaint with c2 its one
 * customer, no root cause, no alarms, respond (ack) and resolve clocks
 * both due 48 h after it opened, and written to the file sink; dispatch
 * 409; ack 200 (acknowledged, the desk's owner); after SIGKILL and a
 * restart it is listed again, acknowledged, its ack clock met and
 * stopped, its resolve clock still running to the same deadline, its
 * timeline opened (the complaint's actor and text) then acknowledged.
 * Resolved and closed with the customer's rating 4: the closed event is
 * in the history file of its month, and `tocsinctl report` of that month
 * for c2 counts one complaint, responded and resolved in time, rated 4.
 * SIGTERM: exit 0; neither run logged the token or a ThreadSanitizer
 * report (TOCSIN_BUILD=build/thread runs it on the TSan tocsind).
 *
 * Bounds: the port line 10 s; /readyz 15 s; the view showing the
 * complaint, a write or the history file 10 s; the report 30 s; children stopped by PID.
 */
#include <criterion/criterion.h>
#include <glob.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/mkdirs.h"
#include "daemon/utc.h"
#include "tests/support/dfix.h"
#include "tests/support/proc.h"
#include "tests/support/pubfix.h"
#include "tests/support/tenv.h"

#define TOKEN	"tocsin-complaints-token-5f0c2a9e"
#define AUTH	"Authorization: Bearer " TOKEN "\r\n"
#define H48	((int64_t)48 * 3600 * 1000)

static struct {
	struct dfix d;
	char	 net[32];	/* "127.19.Y." */
	int	 modport;	/* nothing listens there */
} C;

static void
cenv_fini(void)
{
	dfix_fini(&C.d, "test_tocsind_complaints");
}

TestSuite(tocsind_complaints, .fini = cenv_fini, .timeout = 180);

/*
 * daemon.history_months: 12 in the head's daemon line, and a month's
 * history long past in state/history: the closed complaint's month file
 * is then the only one (report_of_history() waits for exactly one).
 */
static size_t
with_history_months(char *yaml, size_t size, size_t n)
{
	static const char key[] = ", history_months: 12";
	char *end = strstr(yaml, "/state}"), hist[96];

	cr_assert_not_null(end, "no state_dir in the head: %s", yaml);
	end += strlen("/state");
	cr_assert_lt(n + sizeof(key), size);
	memmove(end + sizeof(key) - 1, end, n - (size_t)(end - yaml) + 1);
	memcpy(end, key, sizeof(key) - 1);
	snprintf(hist, sizeof(hist), "%s/state/history", C.d.dir);
	cr_assert_eq(mkdirs(hist), 0);
	tenv_write_file(hist, "closed-2020-01.jsonl", "{\"n\":0}\n");
	return n + sizeof(key) - 1;
}

static void
setup(void)
{
	unsigned r = tenv_seed(47);
	char a[40], yaml[4096];
	size_t n;

	dfix_init(&C.d, "complaints");
	snprintf(C.net, sizeof(C.net), "127.19.%u.", (r >> 8) % 250 + 1);
	snprintf(a, sizeof(a), "%s1", C.net);
	C.modport = tenv_free_port(a);
	cr_assert_gt(C.modport, 0);
	dfix_token(C.d.dir, TOKEN, 0600);
	n = dfix_cfg_head(yaml, sizeof(yaml), C.d.dir, C.modport, 0, 1, NULL);
	n = with_history_months(yaml, sizeof(yaml), n);
	snprintf(yaml + n, sizeof(yaml) - n,
	    "sites:\n"
	    "  - {id: T1, area: north, region: A, tenants: "
	    "[{customer: c1, tier: premium}]}\n"
	    "  - {id: T2, area: south, region: C, tenants: "
	    "[{customer: c2, tier: standard}, {customer: c4, tier: standard}]}\n"
	    "devices:\n"
	    "  - {id: T1-rect, site: T1, profile: rect, host: %s1}\n",
	    C.net);
	tenv_write_file(C.d.dir, "t.yaml", yaml);
}

static void
daemon_up(void)
{
	dfix_up(&C.d, "t.yaml", 10000, 15000);
}

static void
expect_refused(int want, const char *path, const char *hdrs,
    const char *body, const char *needle)
{
	json_t *j;
	int st = dfix_json(&C.d, "POST", path, hdrs, body, &j);
	const char *e = json_string_value(json_object_get(j, "error"));

	cr_expect_eq(st, want, "POST %s %s: %d, not %d (%s)", path, body, st,
	    want, e);
	cr_expect(e != NULL && strstr(e, needle) != NULL, "POST %s %s: "
	    "\"%s\" lacks \"%s\"", path, body, e, needle);
	json_decref(j);
}

/*
 * GET /api/v1/incidents?customer=c2 until (10 s) its one item is in
 * state; returns that item's incident object (the caller decrefs *root).
 */
static json_t *
listed(const char *state, json_t **root)
{
	int64_t end = tenv_mono_ms() + 10000;
	json_t *j = NULL, *inc = NULL;

	for (;;) {
		cr_assert_eq(dfix_json(&C.d, "GET",
		    "/api/v1/incidents?customer=c2", NULL, NULL, &j), 200);
		if (json_array_size(json_object_get(j, "incidents")) == 1) {
			inc = json_object_get(json_array_get(json_object_get(j,
			    "incidents"), 0), "incident");
			if (strcmp(json_string_value(json_object_get(inc,
			    "state")), state) == 0)
				break;
		}
		cr_assert_lt(tenv_mono_ms(), end, "customer=c2 not one %s "
		    "incident in 10 s: %s", state, json_dumps(j, JSON_COMPACT));
		json_decref(j);
		usleep(100000);
	}
	*root = j;
	return inc;
}

static int64_t
time_of(json_t *v)
{
	int64_t ms = 0;

	cr_assert(json_is_string(v));
	cr_assert_eq(utc_parse(json_string_value(v), json_string_length(v),
	    &ms), 0, "%s", json_string_value(v));
	return ms;
}

/* The clock's deadline and state of incident object inc. */
static int64_t
clock_of(json_t *inc, const char *clock, const char **state, int *met)
{
	json_t *c = json_object_get(json_object_get(inc, "clocks"), clock);

	cr_assert_not_null(c, "no %s clock", clock);
	*state = json_string_value(json_object_get(c, "state"));
	*met = json_is_true(json_object_get(c, "met"));
	return time_of(json_object_get(c, "deadline"));
}

/*
 * The closed complaint in tocsind's history file (state/history/
 * closed-YYYY-MM.jsonl, written by the history sink within 10 s), and
 * `tocsinctl report` of that month for its customer.
 */
static void
report_of_history(const char *id)
{
	char pat[128], hist[96], out[96], month[8], ctl[512], want[96];
	char *argv[] = { ctl, "report", "--month", month, "--history", hist,
	    "--out", out, "--customer", "c2", NULL };
	struct proc_result r;
	glob_t g;
	char *text = NULL, *csv;
	const char *base;

	snprintf(hist, sizeof(hist), "%s/state/history", C.d.dir);
	snprintf(pat, sizeof(pat), "%s/closed-*.jsonl", hist);
	snprintf(want, sizeof(want), "\"event\":\"closed\",\"seq\"");
	for (int64_t end = tenv_mono_ms() + 10000; ; usleep(100000)) {
		memset(&g, 0, sizeof(g));
		if (glob(pat, 0, NULL, &g) == 0 && g.gl_pathc == 1) {
			text = tenv_read_file(g.gl_pathv[0]);
			if (strstr(text, want) != NULL && strstr(text, id) != NULL)
				break;
			free(text);
			text = NULL;
		}
		globfree(&g);
		if (tenv_mono_ms() >= end)
			break;
	}
	cr_assert_not_null(text, "no closed event of %s in %s within 10 s, "
	    "or closed-2020-01.jsonl not removed (history_months)", id, pat);
	base = strrchr(g.gl_pathv[0], '/') + strlen("/closed-");
	snprintf(month, sizeof(month), "%.7s", base);
	globfree(&g);
	free(text);
	snprintf(out, sizeof(out), "%s/report", C.d.dir);
	cr_assert_eq(mkdir(out, 0755), 0);
	snprintf(ctl, sizeof(ctl), "%s", proc_build_path("tocsinctl"));
	cr_assert_eq(proc_run(argv, 30000, &r), 0);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	snprintf(pat, sizeof(pat), "%s/tocsin-report-%s-c2.csv", out, month);
	csv = tenv_read_file(pat);
	/* one complaint, responded and resolved in time, rated 4 */
	cr_expect(strstr(csv, ",c2,summary,all,all,complaints,1\n") != NULL,
	    "%s", csv);
	cr_expect(strstr(csv, ",c2,complaint,ack,all,met,1\n") != NULL);
	cr_expect(strstr(csv, ",c2,complaint,resolve,all,met,1\n") != NULL);
	cr_expect(strstr(csv, ",c2,complaint,resolve,all,breached,0\n") != NULL);
	cr_expect(strstr(csv, ",c2,satisfaction,all,4,closes,1\n") != NULL);
	cr_expect(strstr(csv, ",c2,by_cause,COMPLAINT,all,incidents,1\n") !=
	    NULL);
	free(csv);
	proc_result_free(&r);
}

Test(tocsind_complaints, a_complaint_opens_an_incident_that_survives_kill9)
{
	const char *good = "{\"customer\":\"c2\",\"site\":\"T2\",\"text\":"
	    "\"calls drop every evening\",\"actor\":\"desk-7\"}";
	char id[64], path[160], fpath[128];
	const char *state;
	json_t *j, *root, *inc, *c;
	int64_t opened, ack_dl, res_dl;
	int met, st;
	char *out;

	setup();
	daemon_up();

	/* the gates and the checks */
	expect_refused(401, "/api/v1/complaints", NULL, good, "Bearer");
	expect_refused(400, "/api/v1/complaints", AUTH, "{\"customer\":\"c9\","
	    "\"site\":\"T2\",\"text\":\"x\",\"actor\":\"a\"}",
	    "customer \"c9\" is not a tenant of any site");
	expect_refused(400, "/api/v1/complaints", AUTH, "{\"customer\":\"c1\","
	    "\"site\":\"T2\",\"text\":\"x\",\"actor\":\"a\"}",
	    "customer \"c1\" is not a tenant of site \"T2\" (tenants: c2, c4)");
	expect_refused(400, "/api/v1/complaints", AUTH, "{\"customer\":\"c2\","
	    "\"site\":\"T2\",\"actor\":\"a\"}", "text: required");
	expect_refused(400, "/api/v1/complaints", AUTH, "{\"customer\":\"c2\","
	    "\"site\":\"T2\",\"text\":\"x\",\"actor\":\"a\",\"at\":1}",
	    "unknown key \"at\"");

	/* filed: 201 with the id, once the shard has journaled it */
	st = dfix_json(&C.d, "POST", "/api/v1/complaints", AUTH, good, &j);
	cr_assert_eq(st, 201, "%s", json_dumps(j, JSON_COMPACT));
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(j,
	    "incident")));
	cr_expect_str_eq(json_string_value(json_object_get(j, "kind")),
	    "complaint");
	cr_expect_str_eq(json_string_value(json_object_get(j, "customer")),
	    "c2");
	json_decref(j);

	/* listed for its customer with its 48 h clocks */
	inc = listed("open", &root);
	cr_expect_str_eq(json_string_value(json_object_get(inc, "id")), id);
	cr_expect_str_eq(json_string_value(json_object_get(inc, "kind")),
	    "complaint");
	cr_expect_str_eq(json_string_value(json_object_get(inc, "site")), "T2");
	cr_expect(json_is_null(json_object_get(inc, "root_cause")));
	cr_expect_eq(json_array_size(json_object_get(inc, "alarms")), 0);
	c = json_object_get(inc, "customers");
	cr_expect_eq(json_array_size(c), 1);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(c, 0),
	    "id")), "c2");
	c = json_object_get(inc, "complaint");
	cr_expect_str_eq(json_string_value(json_object_get(c, "text")),
	    "calls drop every evening");
	cr_expect_str_eq(json_string_value(json_object_get(c, "actor")),
	    "desk-7");
	opened = time_of(json_object_get(inc, "opened_at"));
	ack_dl = clock_of(inc, "ack", &state, &met);
	cr_expect_str_eq(state, "running");
	res_dl = clock_of(inc, "resolve", &state, &met);
	cr_expect_str_eq(state, "running");
	cr_expect_eq(ack_dl, opened + H48, "respond in 48 h");
	cr_expect_eq(res_dl, opened + H48, "resolve in 48 h");
	cr_expect_null(json_object_get(json_object_get(inc, "clocks"),
	    "arrive"));
	json_decref(root);
	/* on the file sink too */
	snprintf(fpath, sizeof(fpath), "%s/out.jsonl", C.d.dir);
	for (int64_t end = tenv_mono_ms() + 10000; ; usleep(100000)) {
		out = tenv_read_file(fpath);
		if ((out != NULL && strstr(out, "\"kind\":\"complaint\"") != NULL)
		    || tenv_mono_ms() >= end)
			break;
		free(out);
	}
	cr_expect(out != NULL && strstr(out, "\"kind\":\"complaint\"") != NULL,
	    "the complaint is not in the file sink");
	free(out);

	/* handled like any incident: no dispatch, an ack */
	snprintf(path, sizeof(path), "/api/v1/incidents/%s/dispatch", id);
	expect_refused(409, path, AUTH, "{\"actor\":\"amy\"}",
	    "a complaint has no dispatch");
	snprintf(path, sizeof(path), "/api/v1/incidents/%s/ack", id);
	st = dfix_json(&C.d, "POST", path, AUTH, "{\"actor\":\"amy\","
	    "\"note\":\"called back\"}", &j);
	cr_assert_eq(st, 200, "%s", json_dumps(j, JSON_COMPACT));
	cr_expect_str_eq(json_string_value(json_object_get(j, "state")),
	    "acknowledged");
	json_decref(j);
	inc = listed("acknowledged", &root);
	cr_expect_str_eq(json_string_value(json_object_get(inc, "owner")),
	    "amy");
	json_decref(root);

	/* kill -9 and back: still open, acknowledged, the same clocks */
	pubfix_stop(&C.d.daemon, SIGKILL);
	daemon_up();
	inc = listed("acknowledged", &root);
	cr_expect_str_eq(json_string_value(json_object_get(inc, "id")), id);
	cr_expect_str_eq(json_string_value(json_object_get(inc, "owner")),
	    "amy");
	cr_expect_eq(time_of(json_object_get(inc, "opened_at")), opened);
	clock_of(inc, "ack", &state, &met);
	cr_expect_str_eq(state, "stopped");
	cr_expect(met, "responded within 48 h");
	cr_expect_eq(clock_of(inc, "resolve", &state, &met), res_dl);
	cr_expect_str_eq(state, "running");
	json_decref(root);
	snprintf(path, sizeof(path), "/api/v1/incidents/%s", id);
	cr_assert_eq(dfix_json(&C.d, "GET", path, NULL, NULL, &j), 200);
	c = json_object_get(j, "timeline");
	cr_assert_geq(json_array_size(c), 2);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(c, 0),
	    "action")), "opened");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(c, 0),
	    "actor")), "desk-7");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(c, 0),
	    "note")), "calls drop every evening");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(c, 1),
	    "action")), "acknowledged");
	json_decref(j);

	/* resolved and closed with the customer's rating: into the history,
	 * and from it into the monthly report (docs/report.md) */
	snprintf(path, sizeof(path), "/api/v1/incidents/%s/resolve", id);
	cr_assert_eq(dfix_json(&C.d, "POST", path, AUTH, "{\"actor\":\"amy\"}",
	    &j), 200);
	json_decref(j);
	snprintf(path, sizeof(path), "/api/v1/incidents/%s/close", id);
	cr_assert_eq(dfix_json(&C.d, "POST", path, AUTH, "{\"actor\":\"amy\","
	    "\"note\":\"customer called back\",\"satisfaction\":4}", &j), 200);
	json_decref(j);
	report_of_history(id);

	/* SIGTERM: exit 0; neither run's log has the token or a
	 * ThreadSanitizer report (with TOCSIN_BUILD=build/thread this ran
	 * on the TSan tocsind) */
	dfix_stop_clean(&C.d, TOKEN);
}
