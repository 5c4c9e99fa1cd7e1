/*
 * test_tocsind_http.c - tocsind's HTTP server as an operator and a
 * scraper meet it: a real tocsind on a free loopback port (http.listen
 * 127.0.0.1:0, the port read from its "http listening on" line), read
 * with a raw-socket client (tests/support/httpfix).
 *
 * The fleet: one site, one rectifier at 127.X.Y.1 (X 18-19, this test's
 * loopback block, docs/testing.md) on a port where nothing
 * listens, so its polls fail, COMM_LOSS is raised after one miss and an
 * incident opens: journal records and sink traffic without a simulator.
 * Redis, when a test wants it, is a real redis-server on a free port.
 *
 * Checked: /readyz and /healthz 200 on a healthy daemon; /healthz 503
 * naming the sink when Redis stops (and 200 again when it is back), and
 * naming the lag when a sink is further behind than http.max_sink_lag;
 * /metrics read by a strict Prometheus text parser (tests/support/
 * promtext) with no per-device label and no device id anywhere; writes
 * 401 without and with a wrong token, and reach routing with the right
 * one; 404, 405 (Allow), 413 as JSON errors; max_connections idle
 * connections make the next request 503; a token file the group can read
 * stops the start with a clear line; and, when Debian's prometheus is
 * installed, a real Prometheus (tests/support/promfix) scrapes the
 * target and reports it up with tocsin series.  Every tocsind must stop
 * on SIGTERM with exit 0 and no ThreadSanitizer report
 * (TOCSIN_BUILD=build/thread runs the TSan tocsind).
 *
 * Bounds: the port line 10 s; /healthz 200 15 s; Redis' stop seen 20 s;
 * Prometheus up 40 s; each child stopped by PID (pubfix_stop: SIGTERM,
 * SIGKILL after 30 s) and has PR_SET_PDEATHSIG.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/dfix.h"
#include "tests/support/httpfix.h"
#include "tests/support/proc.h"
#include "tests/support/promfix.h"
#include "tests/support/promtext.h"
#include "tests/support/pubfix.h"
#include "tests/support/tenv.h"

#define TOKEN	"tocsin-test-token-4f1c9a7e2b"

static struct {
	struct dfix d;
	char	 net[32];	/* "127.X.Y." */
	int	 modport;	/* nothing listens there */
	int	 rport;		/* Redis, or 0 */
	pid_t	 redis;
	pid_t	 prom;
} E;

static void
henv_init(unsigned salt)
{
	unsigned r = tenv_seed(salt);
	char a[40];

	memset(&E, 0, sizeof(E));
	E.redis = E.prom = -1;
	dfix_init(&E.d, "http");
	snprintf(E.net, sizeof(E.net), "127.%u.%u.", 18 + r % 2,
	    (r >> 8) % 250 + 1);
	snprintf(a, sizeof(a), "%s1", E.net);
	E.modport = tenv_free_port(a);
	cr_assert_gt(E.modport, 0);
}

static void
henv_fini(void)
{
	promfix_stop(&E.prom);
	pubfix_stop(&E.redis, SIGKILL);
	dfix_fini(&E.d, "test_tocsind_http");
}

TestSuite(tocsind_http, .fini = henv_fini, .timeout = 180);

/* The config: `http_extra` and `redis` go into their sections. */
static void
config(const char *http_extra, int redis)
{
	char yaml[4096];
	size_t n = dfix_cfg_head(yaml, sizeof(yaml), E.d.dir, E.modport,
	    redis ? E.rport : 0, 1, http_extra);

	snprintf(yaml + n, sizeof(yaml) - n,
	    "sites:\n  - {id: T1, area: north, region: A, tenants: "
	    "[{customer: c1, tier: premium}]}\n"
	    "devices:\n  - {id: T1-rect, site: T1, profile: rect, host: %s1}\n",
	    E.net);
	tenv_write_file(E.d.dir, "t.yaml", yaml);
}

/* Starts tocsind and waits for its port and /readyz 200. */
static void
daemon_up(void)
{
	dfix_up(&E.d, "t.yaml", 10000, 15000);
}

/* Polls /healthz until want (and needle): the last body (malloc'd). */
static char *
health_until(int want, const char *needle, int ms)
{
	return httpfix_health_until(E.d.port, want, needle, ms);
}

static void
expect_json_error(const struct httpfix_resp *r, int status)
{
	json_t *j = json_loads(r->body, 0, NULL);
	char ct[64];

	cr_assert_eq(r->status, status, "%d, not %d: %s", r->status, status,
	    r->body);
	cr_assert_not_null(j, "not JSON: %s", r->body);
	cr_expect_eq(json_integer_value(json_object_get(j, "status")), status);
	cr_expect(json_is_string(json_object_get(j, "error")));
	cr_expect_str_eq(httpfix_header(r, "Content-Type", ct, sizeof(ct)),
	    "application/json");
	json_decref(j);
}

Test(tocsind_http, health_metrics_writes_and_errors)
{
	struct httpfix_resp r;
	char hdr[128], why[256], *body, *big;
	int idle[3], ns, nf;
	double v;
	json_t *j;

	henv_init(91);
	dfix_token(E.d.dir, TOKEN, 0600);
	config("max_connections: 3, max_body: 1k", 0);
	daemon_up();

	body = health_until(200, NULL, 15000);
	j = json_loads(body, 0, NULL);
	cr_assert_not_null(j, "%s", body);
	cr_expect_str_eq(json_string_value(json_object_get(j, "status")), "ok");
	cr_expect_eq(json_array_size(json_object_get(j, "shards")), 2);
	cr_expect_geq(json_array_size(json_object_get(j, "sinks")), 2, "%s",
	    body);
	json_decref(j);
	free(body);

	/* /metrics: after the COMM_LOSS incident is counted */
	{
		int64_t end = tenv_mono_ms() + 15000;

		do {
			cr_assert_eq(httpfix_do(E.d.port, "GET", "/metrics",
			    NULL, NULL, &r), 200);
			if (promtext_value(r.body, "tocsin_incidents{state="
			    "\"open\",tier=\"premium\"}", &v) == 0 && v >= 1)
				break;
			httpfix_free(&r);
			usleep(300000);
		} while (tenv_mono_ms() < end);
	}
	cr_assert_eq(promtext_check(r.body, "device", &ns, &nf, why,
	    sizeof(why)), 0, "%s", why);
	cr_expect(strstr(r.body, "T1-rect") == NULL, "a device id in /metrics");
	cr_expect_eq(promtext_value(r.body, "tocsin_incidents{state=\"open\","
	    "tier=\"premium\"}", &v), 0);
	cr_expect_geq(v, 1, "no open premium incident: %s", r.body);
	cr_expect_eq(promtext_value(r.body,
	    "tocsin_incidents_by_area{area=\"north\"}", &v), 0);
	cr_expect_geq(v, 1);
	cr_expect_eq(promtext_value(r.body,
	    "tocsin_modbus_devices{comm=\"lost\"}", &v), 0);
	cr_expect_eq(v, 1);
	cr_expect_eq(promtext_value(r.body,
	    "tocsin_modbus_polls_total{result=\"connect\"}", &v), 0);
	cr_expect_geq(v, 1);
	cr_expect_eq(promtext_value(r.body,
	    "tocsin_journal_bytes_total{shard=\"0\"}", &v) +
	    promtext_value(r.body, "tocsin_journal_bytes_total{shard=\"1\"}",
	    &v), 0);
	cr_expect_eq(promtext_value(r.body,
	    "tocsin_sink_lag_bytes{sink=\"file\"}", &v), 0);
	cr_expect_eq(promtext_value(r.body,
	    "tocsin_alarm_transitions_total{edge=\"raise\"}", &v), 0);
	cr_expect_geq(v, 1);
	cr_expect_str_eq(promtext_type(r.body, "tocsin_modbus_rtt_seconds",
	    hdr, sizeof(hdr)), "histogram");
	cr_expect(strncmp(httpfix_header(&r, "Content-Type", hdr, sizeof(hdr)),
	    "text/plain; version=0.0.4", 25) == 0, "%s", hdr);
	httpfix_free(&r);

	/* writes: 401 without and with a wrong token, routing with it */
	httpfix_do(E.d.port, "POST", "/api/v1/incidents/X-1/ack", NULL, "{}",
	    &r);
	expect_json_error(&r, 401);
	cr_expect_str_eq(httpfix_header(&r, "WWW-Authenticate", hdr,
	    sizeof(hdr)), "Bearer realm=\"tocsin\"");
	httpfix_free(&r);
	httpfix_do(E.d.port, "POST", "/api/v1/incidents/X-1/ack",
	    "Authorization: Bearer not-the-token-at-all\r\n", "{}", &r);
	expect_json_error(&r, 401);
	cr_expect_str_eq(httpfix_header(&r, "WWW-Authenticate", hdr,
	    sizeof(hdr)), "Bearer realm=\"tocsin\"");
	httpfix_free(&r);
	httpfix_do(E.d.port, "DELETE", "/metrics", NULL, NULL, &r);
	expect_json_error(&r, 401);
	httpfix_free(&r);
	httpfix_do(E.d.port, "POST", "/api/v1/incidents/X-1/ack",
	    "Authorization: Bearer " TOKEN "\r\n", "{}", &r);
	expect_json_error(&r, 404);
	httpfix_free(&r);

	/* 404, 405 with Allow, 413 */
	httpfix_do(E.d.port, "GET", "/no/such/thing", NULL, NULL, &r);
	expect_json_error(&r, 404);
	httpfix_free(&r);
	httpfix_do(E.d.port, "DELETE", "/metrics",
	    "Authorization: Bearer " TOKEN "\r\n", NULL, &r);
	expect_json_error(&r, 405);
	cr_expect_str_eq(httpfix_header(&r, "Allow", hdr, sizeof(hdr)),
	    "GET, HEAD");
	httpfix_free(&r);
	big = malloc(8192);
	memset(big, 'a', 8191);
	big[8191] = '\0';
	httpfix_do(E.d.port, "POST", "/api/v1/maintenance",
	    "Authorization: Bearer " TOKEN "\r\n", big, &r);
	free(big);
	expect_json_error(&r, 413);
	httpfix_free(&r);

	/* max_connections idle connections: the next request gets 503 */
	for (int i = 0; i < 3; i++) {
		idle[i] = httpfix_connect(E.d.port);
		cr_assert_geq(idle[i], 0);
	}
	usleep(200000);
	httpfix_do(E.d.port, "GET", "/healthz", NULL, NULL, &r);
	expect_json_error(&r, 503);
	cr_expect(strstr(r.body, "too many connections") != NULL, "%s", r.body);
	cr_expect_str_eq(httpfix_header(&r, "Retry-After", hdr, sizeof(hdr)),
	    "1");
	httpfix_free(&r);
	for (int i = 0; i < 3; i++)
		close(idle[i]);
	usleep(300000);
	free(health_until(200, NULL, 5000));
	cr_assert_eq(httpfix_do(E.d.port, "GET", "/metrics", NULL, NULL, &r),
	    200);
	cr_expect_eq(promtext_value(r.body,
	    "tocsin_http_refused_total{reason=\"busy\"}", &v), 0);
	cr_expect_eq(v, 1);
	cr_expect_eq(promtext_value(r.body,
	    "tocsin_http_refused_total{reason=\"unauthorized\"}", &v), 0);
	cr_expect_eq(v, 3);
	httpfix_free(&r);
	/* exit 0, a stop line, no TSan report, the token never logged */
	dfix_stop_clean(&E.d, TOKEN);
}

Test(tocsind_http, healthz_503_while_redis_is_down)
{
	char *body;

	henv_init(92);
	dfix_token(E.d.dir, TOKEN, 0600);
	E.rport = tenv_free_port("127.0.0.1");
	cr_assert_gt(E.rport, 0);
	E.redis = pubfix_redis_start(E.d.dir, E.rport, "redis.err");
	config(NULL, 1);
	daemon_up();
	free(health_until(200, NULL, 15000));
	/* every sink has its figures, Kafka's too: with Redis there are six
	 * (file, history, view, sse, redis, kafka), and the stats once kept
	 * five, so Kafka's lag was in neither /metrics nor /healthz (found
	 * by the soak, tests/soak/) */
	if (tenv_kafka()) {
		struct httpfix_resp r;
		double v;

		cr_assert_eq(httpfix_do(E.d.port, "GET", "/metrics", NULL, NULL,
		    &r), 200);
		cr_expect_eq(promtext_value(r.body,
		    "tocsin_sink_lag_bytes{sink=\"kafka\"}", &v), 0, "%s",
		    r.body);
		cr_expect_eq(promtext_value(r.body,
		    "tocsin_sink_lag_bytes{sink=\"redis\"}", &v), 0, "%s",
		    r.body);
		httpfix_free(&r);
	}

	pubfix_stop(&E.redis, SIGTERM);
	body = health_until(503, "sink redis: not reachable", 20000);
	cr_expect(strstr(body, "\"status\":\"unhealthy\"") != NULL, "%s", body);
	free(body);

	/* back: healthy again */
	E.redis = pubfix_redis_start(E.d.dir, E.rport, "redis2.err");
	free(health_until(200, NULL, 20000));
	/* exit 0, a stop line, no TSan report, the token never logged */
	dfix_stop_clean(&E.d, TOKEN);
}

Test(tocsind_http, healthz_503_when_a_sink_lags)
{
	char *body;

	henv_init(93);
	dfix_token(E.d.dir, TOKEN, 0600);
	/* Redis configured where nothing listens: its records wait */
	E.rport = tenv_free_port("127.0.0.1");
	config("max_sink_lag: 64", 1);
	daemon_up();
	body = health_until(503, "sink redis: ", 15000);
	free(body);
	body = health_until(503, "journal bytes behind, over "
	    "http.max_sink_lag 64", 15000);
	cr_expect(strstr(body, "\"lagging\":true") != NULL, "%s", body);
	free(body);
	/* exit 0, a stop line, no TSan report, the token never logged */
	dfix_stop_clean(&E.d, TOKEN);
}

Test(tocsind_http, a_token_file_others_can_read_stops_the_start)
{
	char *log, want[256];
	int rc;

	henv_init(94);
	dfix_token(E.d.dir, TOKEN, 0640);
	config(NULL, 0);
	dfix_start(&E.d, NULL, "t.yaml");
	for (int i = 0; i < 100; i++) {
		int st;

		if (waitpid(E.d.daemon, &st, WNOHANG) == E.d.daemon) {
			E.d.daemon = -1;
			rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
			log = dfix_log(&E.d, 0);
			cr_expect_eq(rc, 1, "exit %d: %s", rc, log);
			snprintf(want, sizeof(want), "start failed: "
			    "http.token_file %s/token: mode 0640 lets group or "
			    "others read it", E.d.dir);
			cr_expect(strstr(log, want) != NULL, "%s", log);
			cr_expect(strstr(log, TOKEN) == NULL);
			cr_expect(strstr(log, " start version=") == NULL);
			free(log);
			return;
		}
		usleep(100000);
	}
	cr_assert_fail("tocsind still runs with a group-readable token file");
}

/*
 * A second tocsind on the state_dir of a running one (a unit started
 * twice, a test run beside production) refuses to start, naming the
 * first one's pid, and the first goes on as if nothing happened: two
 * writers would interleave their records in one journal.
 */
Test(tocsind_http, a_second_tocsind_on_the_same_state_dir_stops_at_start)
{
	char cfg[128], want[256];
	struct proc_result r;
	json_t *j = NULL;

	henv_init(96);
	dfix_token(E.d.dir, TOKEN, 0600);
	config(NULL, 0);
	daemon_up();
	snprintf(cfg, sizeof(cfg), "%s/t.yaml", E.d.dir);
	cr_assert_eq(proc_tocsind(cfg, "5", 20000, &r), 0);
	cr_expect_eq(r.status, 1, "exit %d:\n%s", r.status, r.err);
	snprintf(want, sizeof(want), "start failed: journal %s/state/shard-0: "
	    "in use by another process (pid %ld): one tocsind per state_dir",
	    E.d.dir, (long)E.d.daemon);
	cr_expect(strstr(r.err, want) != NULL, "%s\nnot in:\n%s", want,
	    r.err);
	proc_result_free(&r);
	/* the first one is still whole */
	cr_expect_eq(dfix_json(&E.d, "GET", "/readyz", NULL, NULL, &j), 200);
	json_decref(j);
	cr_expect_eq(dfix_stop_clean(&E.d, TOKEN), 0);
}

Test(tocsind_http, prometheus_scrapes_the_target, .timeout = 240)
{
	int pport;

	promfix_require();
	henv_init(95);
	dfix_token(E.d.dir, TOKEN, 0600);
	config(NULL, 0);
	daemon_up();
	promfix_start(E.d.dir, E.d.port, NULL, 40000, &E.prom, &pport);
	cr_expect_eq(promfix_results(pport, "up{job=\"tocsind\"}==1"), 1);
	cr_expect_eq(promfix_results(pport, "tocsin_build_info"), 1);
	cr_expect_eq(promfix_results(pport, "tocsin_modbus_polls_total"),
	    7);	/* one per poll result, MBCLIENT__STATUS_COUNT */
	cr_expect_gt(promfix_results(pport,
	    "tocsin_modbus_rtt_seconds_bucket"), 0);
	cr_expect_gt(promfix_results(pport, "tocsin_journal_bytes_total"), 0);
	cr_expect_gt(promfix_results(pport, "tocsin_incidents"), 0);
	cr_expect_eq(promfix_results(pport,
	    "scrape_samples_post_metric_relabeling{job=\"tocsind\"}"), 1);
	promfix_stop(&E.prom);
	/* exit 0, a stop line, no TSan report, the token never logged */
	dfix_stop_clean(&E.d, TOKEN);
}

Test(tocsind_http, enabled_false_listens_nowhere)
{
	int64_t end;
	char *log = NULL;

	henv_init(96);
	/* group-readable, not read: the server is off */
	dfix_token(E.d.dir, TOKEN, 0640);
	config("enabled: false", 0);
	dfix_start(&E.d, NULL, "t.yaml");
	end = tenv_mono_ms() + 15000;
	while (tenv_mono_ms() < end) {
		free(log);
		log = dfix_log(&E.d, 0);
		if (strstr(log, " start version=") != NULL)
			break;
		usleep(100000);
	}
	cr_expect(strstr(log, " start version=") != NULL, "%s", log);
	cr_expect(strstr(log, "http off (http.enabled false") != NULL, "%s",
	    log);
	cr_expect(strstr(log, "http listening") == NULL, "%s", log);
	free(log);
	/* exit 0, a stop line, no TSan report, the token never logged */
	dfix_stop_clean(&E.d, TOKEN);
}
