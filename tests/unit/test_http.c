/*
 * test_http.c - daemon/http (the gates of http.h: path, token, body size,
 * routing, JSON) through http_handle() without a socket, then a real
 * server on a free loopback port for what needs one (the connection
 * limit, a body larger than max_body as it arrives, HEAD, a streamed
 * response that is suspended while it has nothing, woken from another
 * thread, ended, and ended by a stop while suspended); the token
 * file's checks; daemon/monitor's health verdicts and its /metrics text
 * read by a strict Prometheus text parser (tests/support/promtext).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/clock.h"
#include "daemon/http.h"
#include "daemon/monitor.h"
#include "daemon/ring.h"
#include "daemon/stats.h"
#include "tests/support/httpfix.h"
#include "tests/support/promtext.h"

#define TOKEN	"s3cret-token-0123456789"

static void
h_echo(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	(void)arg;
	http_resp_json(rs, 200, json_pack("{s:s, s:O, s:i}", "path", rq->path,
	    "body", rq->json, "nseg", (int)rq->nseg));
}

static void
h_seg(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	(void)arg;
	http_resp_json(rs, 200, json_pack("{s:s, s:s}", "id", rq->seg[0],
	    "q", rq->query));
}

static void
h_text(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	(void)arg;
	(void)rq;
	rs->ctype = "text/plain";
	http_resp_printf(rs, "hello\n");
}

static const struct http_route routes[] = {
	{ "GET", "/text", 0, h_text, NULL },
	{ "POST", "/echo", HTTP_JSON, h_echo, NULL },
	{ "GET", "/items/*", 0, h_seg, NULL },
	{ "DELETE", "/items/*", 0, h_seg, NULL },
};
#define NROUTES	(sizeof(routes) / sizeof(routes[0]))

/* One request through the gates; the body parsed as JSON when it is. */
static int
handle(const char *method, const char *url, const char *auth,
    const char *body, struct http_resp *rs, json_t **j)
{
	struct http_in in = { method, url, auth, body,
	    body != NULL ? strlen(body) : 0, body != NULL ? strlen(body) : 0,
	    NULL, NULL };

	http_handle(routes, NROUTES, TOKEN, 64, &in, rs);
	if (j != NULL)
		*j = json_loadb(rs->body, rs->len, 0, NULL);
	return rs->status;
}

/* The status of an error and that its body is {"error", "status"}. */
static void
expect_error(int want, const char *method, const char *url, const char *auth,
    const char *body, const char *needle)
{
	struct http_resp rs;
	json_t *j;

	cr_assert_eq(handle(method, url, auth, body, &rs, &j), want,
	    "%s %s: %d, not %d: %s", method, url, rs.status, want, rs.body);
	cr_assert_not_null(j, "%s %s: the body is not JSON: %s", method, url,
	    rs.body);
	cr_assert_eq(json_integer_value(json_object_get(j, "status")), want);
	cr_assert(strstr(json_string_value(json_object_get(j, "error")),
	    needle) != NULL, "%s %s: \"%s\" lacks \"%s\"", method, url,
	    json_string_value(json_object_get(j, "error")), needle);
	json_decref(j);
	http_resp_fini(&rs);
}

Test(http, routes_and_errors)
{
	struct http_resp rs;
	json_t *j;

	cr_assert_eq(handle("GET", "/text", NULL, NULL, &rs, NULL), 200);
	cr_assert_str_eq(rs.body, "hello\n");
	http_resp_fini(&rs);
	cr_assert_eq(handle("GET", "/items/abc?x=1", NULL, NULL, &rs, &j), 200);
	cr_assert_str_eq(json_string_value(json_object_get(j, "id")), "abc");
	cr_assert_str_eq(json_string_value(json_object_get(j, "q")), "x=1");
	json_decref(j);
	http_resp_fini(&rs);
	cr_assert_eq(handle("HEAD", "/text", NULL, NULL, &rs, NULL), 200);
	http_resp_fini(&rs);

	expect_error(404, "GET", "/nope", NULL, NULL, "no such resource");
	expect_error(404, "GET", "/items/a/b", NULL, NULL, "no such");
	expect_error(404, "GET", "/items/", NULL, NULL, "no such");
	expect_error(405, "PUT", "/text", "Bearer " TOKEN, NULL, "not allowed");
	handle("GET", "/echo", NULL, NULL, &rs, NULL);
	cr_assert_eq(rs.status, 405);
	cr_assert_str_eq(rs.allow, "POST");
	http_resp_fini(&rs);
	handle("POST", "/items/x", "Bearer " TOKEN, NULL, &rs, NULL);
	cr_assert_eq(rs.status, 405);
	cr_assert_str_eq(rs.allow, "GET, HEAD, DELETE");
	http_resp_fini(&rs);
	expect_error(400, "GET", "/a/../text", NULL, NULL, ". or ..");
	expect_error(400, "GET", "//text", NULL, NULL, "empty");
	expect_error(400, "GET", "text", NULL, NULL, "start with /");
	expect_error(400, "GET", "/te\x01xt", NULL, NULL, "control");
	expect_error(400, "get", "/text", NULL, NULL, "method");
	expect_error(400, "P\x90UT", "/text", "Bearer " TOKEN, NULL, "method");
	expect_error(405, "FOO", "/text", NULL, NULL, "FOO is not allowed");
}

Test(http, writes_need_the_token_before_anything_else)
{
	struct http_resp rs;
	json_t *j;

	expect_error(401, "POST", "/echo", NULL, "{}", "needs Authorization");
	expect_error(401, "POST", "/nope", NULL, "{}", "needs Authorization");
	expect_error(401, "DELETE", "/items/1", "Basic eDp5", NULL,
	    "needs Authorization");
	expect_error(401, "POST", "/echo", "Bearer wrong", "{}", "not the "
	    "configured");
	expect_error(401, "POST", "/echo", "Bearer " TOKEN "x", "{}", "not the");
	expect_error(401, "POST", "/echo", "Bearer s3cret", "{}", "not the");
	handle("POST", "/echo", NULL, "{}", &rs, NULL);
	cr_assert_eq(rs.auth_challenge, 1);
	cr_assert(strstr(rs.body, TOKEN) == NULL);
	http_resp_fini(&rs);

	/* with it: routing, the body's size and JSON */
	cr_assert_eq(handle("POST", "/echo", "bearer " TOKEN, "{\"a\": 1}",
	    &rs, &j), 200, "%s", rs.body);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(j,
	    "body"), "a")), 1);
	json_decref(j);
	http_resp_fini(&rs);
	expect_error(404, "POST", "/nope", "Bearer " TOKEN, "{}", "no such");
	expect_error(400, "POST", "/echo", "Bearer " TOKEN, "{\"a\": ", "not "
	    "JSON: line 1");
	expect_error(400, "POST", "/echo", "Bearer " TOKEN, "[1]", "object");
	expect_error(400, "POST", "/echo", "Bearer " TOKEN, "", "not JSON");
	expect_error(413, "POST", "/echo", "Bearer " TOKEN, "{\"pad\": \""
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
	    "max_body");

	/* no token configured: every write refused, reads served */
	{
		struct http_in in = { "POST", "/echo", "Bearer " TOKEN, "{}", 2,
		    2, NULL, NULL };

		http_handle(routes, NROUTES, NULL, 64, &in, &rs);
		cr_assert_eq(rs.status, 401);
		cr_assert(strstr(rs.body, "no token is configured") != NULL);
		http_resp_fini(&rs);
	}
}

Test(http, token_compare)
{
	cr_assert(http_token_equal("abcdef", "abcdef", 6));
	cr_assert_not(http_token_equal("abcdef", "abcdeg", 6));
	cr_assert_not(http_token_equal("abcdef", "abcde", 5));
	cr_assert_not(http_token_equal("abcdef", "abcdefg", 7));
	cr_assert_not(http_token_equal("abcdef", "", 0));
}

static void
write_mode(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	cr_assert_eq(chmod(path, mode), 0);
}

Test(http, token_file_must_be_the_owners_alone)
{
	char dir[] = "/tmp/tocsin-http-XXXXXX", path[64], err[256];
	char *tok = NULL;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/token", dir);
	write_mode(path, TOKEN "\nignored\n", 0600);
	cr_assert_eq(http_token_load(path, &tok, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_str_eq(tok, TOKEN);
	http_token_free(tok);

	write_mode(path, TOKEN "\n", 0640);
	cr_assert_eq(http_token_load(path, &tok, err, sizeof(err)), -EPERM);
	cr_assert_null(tok);
	cr_assert(strstr(err, "mode 0640 lets group or others read it") !=
	    NULL, "%s", err);
	cr_assert(strstr(err, "chmod 600") != NULL, "%s", err);
	cr_assert(strstr(err, TOKEN) == NULL, "the token leaked: %s", err);
	write_mode(path, TOKEN "\n", 0602);
	cr_assert_eq(http_token_load(path, &tok, err, sizeof(err)), -EPERM);
	cr_assert(strstr(err, "write it") != NULL, "%s", err);

	write_mode(path, "short\n", 0600);
	cr_assert_eq(http_token_load(path, &tok, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "short") == NULL, "the token leaked: %s", err);
	write_mode(path, "has a space in it 0123\n", 0600);
	cr_assert_eq(http_token_load(path, &tok, err, sizeof(err)), -EINVAL);
	snprintf(path, sizeof(path), "%s/none", dir);
	cr_assert_eq(http_token_load(path, &tok, err, sizeof(err)), -ENOENT);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	cr_assert_eq(system(path), 0);
}

Test(http, listen_forms)
{
	char host[64];
	unsigned port;
	const char *why;

	cr_assert_eq(http_listen_parse("127.0.0.1:8471", host, sizeof(host),
	    &port, &why), 0);
	cr_assert_str_eq(host, "127.0.0.1");
	cr_assert_eq(port, 8471);
	cr_assert_eq(http_listen_parse("[::1]:0", host, sizeof(host), &port,
	    &why), 0);
	cr_assert_str_eq(host, "::1");
	cr_assert_eq(port, 0);
	cr_assert_eq(http_listen_parse("::1:80", host, sizeof(host), &port,
	    &why), -EINVAL);
	cr_assert_eq(http_listen_parse("h:", host, sizeof(host), &port, &why),
	    -EINVAL);
	cr_assert_eq(http_listen_parse(":80", host, sizeof(host), &port, &why),
	    -EINVAL);
	cr_assert_eq(http_listen_parse("h:70000", host, sizeof(host), &port,
	    &why), -EINVAL);
}

/* ---- a real server ---- */

static struct http_server *
serve(uint32_t max_conns, uint32_t max_body)
{
	struct http_config c;
	struct http_server *s;
	char err[256];

	memset(&c, 0, sizeof(c));
	http_config_defaults(&c);
	c.listen = "127.0.0.1:0";
	c.max_connections = max_conns;
	c.max_body = max_body;
	cr_assert_eq(http_start(&c, routes, NROUTES, TOKEN, &s, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_gt(http_port(s), 0);
	return s;
}

Test(http, server_limits)
{
	struct http_server *s = serve(2, 1024);
	int port = (int)http_port(s), idle[2];
	struct httpfix_resp r;
	struct http_stats hs;
	char hdr[64], *big;
	json_t *j;

	cr_assert_eq(httpfix_do(port, "GET", "/text", NULL, NULL, &r), 200);
	cr_assert_str_eq(r.body, "hello\n");
	httpfix_free(&r);
	cr_assert_eq(httpfix_do(port, "HEAD", "/text", NULL, NULL, &r), 200);
	cr_assert_str_eq(r.body, "");
	cr_assert_str_eq(httpfix_header(&r, "Content-Length", hdr, sizeof(hdr)),
	    "6");
	httpfix_free(&r);
	cr_assert_eq(httpfix_do(port, "GET", "/echo", NULL, NULL, &r), 405);
	cr_assert_str_eq(httpfix_header(&r, "Allow", hdr, sizeof(hdr)), "POST");
	httpfix_free(&r);
	/* the handler sees the raw query (libmicrohttpd cuts it off the
	 * path it hands over; the URI log callback keeps it) */
	cr_assert_eq(httpfix_do(port, "GET", "/items/x%2By?state=open%2Cack&"
	    "a=b+c", NULL, NULL, &r), 200);
	j = json_loads(r.body, 0, NULL);
	cr_assert_not_null(j, "%s", r.body);
	cr_expect_str_eq(json_string_value(json_object_get(j, "q")),
	    "state=open%2Cack&a=b+c");
	cr_expect_str_eq(json_string_value(json_object_get(j, "id")), "x+y");
	json_decref(j);
	httpfix_free(&r);
	cr_assert_eq(httpfix_do(port, "GET", "/items/x", NULL, NULL, &r), 200);
	j = json_loads(r.body, 0, NULL);
	cr_expect_str_eq(json_string_value(json_object_get(j, "q")), "");
	json_decref(j);
	httpfix_free(&r);
	cr_assert_eq(httpfix_do(port, "POST", "/echo", NULL, "{}", &r), 401);
	cr_assert_str_eq(httpfix_header(&r, "WWW-Authenticate", hdr,
	    sizeof(hdr)), "Bearer realm=\"tocsin\"");
	httpfix_free(&r);
	cr_assert_eq(httpfix_do(port, "POST", "/echo", "Authorization: Bearer "
	    TOKEN "\r\n", "{\"k\": \"v\"}", &r), 200, "%s", r.body);
	httpfix_free(&r);

	/* a body over max_body: by its Content-Length, and chunked */
	big = malloc(4096);
	memset(big, 'x', 4095);
	big[4095] = '\0';
	cr_assert_eq(httpfix_do(port, "POST", "/echo", "Authorization: Bearer "
	    TOKEN "\r\n", big, &r), 413);
	j = json_loads(r.body, 0, NULL);
	cr_assert_not_null(j, "%s", r.body);
	json_decref(j);
	httpfix_free(&r);
	{
		char *req = NULL;
		int n = asprintf(&req, "POST /echo HTTP/1.1\r\nHost: x\r\n"
		    "Authorization: Bearer " TOKEN "\r\nConnection: close\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n",
		    4095, big);

		cr_assert_gt(n, 0);
		cr_assert_eq(httpfix_raw(port, req, (size_t)n, &r, 5000), 413,
		    "%d %s", r.status, r.body);
		httpfix_free(&r);
		free(req);
	}
	free(big);

	/* max_connections open and idle: the next request gets 503 */
	idle[0] = httpfix_connect(port);
	idle[1] = httpfix_connect(port);
	cr_assert(idle[0] >= 0 && idle[1] >= 0);
	usleep(100000);
	cr_assert_eq(httpfix_do(port, "GET", "/text", NULL, NULL, &r), 503,
	    "%d %s", r.status, r.body);
	cr_assert_str_eq(httpfix_header(&r, "Retry-After", hdr, sizeof(hdr)),
	    "1");
	cr_assert(strstr(r.body, "too many connections") != NULL);
	httpfix_free(&r);
	close(idle[0]);
	close(idle[1]);
	usleep(200000);
	cr_assert_eq(httpfix_do(port, "GET", "/text", NULL, NULL, &r), 200);
	httpfix_free(&r);
	http_stats(s, &hs);
	cr_assert_eq(hs.busy, 1);
	cr_assert_eq(hs.unauthorized, 1);
	cr_assert_eq(hs.too_large, 2);
	http_stop(s);
}

Test(http, address_in_use_is_a_clear_error)
{
	struct http_server *s = serve(4, 1024), *s2;
	struct http_config c;
	char listen[32], err[256];

	memset(&c, 0, sizeof(c));
	http_config_defaults(&c);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", http_port(s));
	c.listen = listen;
	cr_assert_lt(http_start(&c, routes, NROUTES, NULL, &s2, err,
	    sizeof(err)), 0);
	cr_assert(strstr(err, "cannot listen") != NULL, "%s", err);
	c.listen = "example.org:80";
	cr_assert_eq(http_start(&c, routes, NROUTES, NULL, &s2, err,
	    sizeof(err)), -EINVAL);
	http_stop(s);
}

/* ---- daemon/monitor ---- */

/* A view of a running daemon, healthy: two shards, two sinks. */
static void
view_init(struct stats_view *v, struct stats *st)
{
	struct stats_poll p;
	struct stats_shard sh;
	uint32_t areas[2] = { 1, 0 };

	memset(&p, 0, sizeof(p));
	p.at_ms = clock_mono_ms();
	p.pc.devices = 3;
	p.comm[STATS_COMM_OK] = 2;
	p.comm[STATS_COMM_LOST] = 1;
	p.rtt[0] = 5;
	p.rtt[STATS_RTT_BUCKETS] = 1;
	p.rtt_count = 6;
	p.rtt_sum_s = 7.5;
	p.nsinks = 2;
	snprintf(p.sinks[0].name, sizeof(p.sinks[0].name), "file");
	p.sinks[0].healthy = 1;
	snprintf(p.sinks[1].name, sizeof(p.sinks[1].name), "redis");
	p.sinks[1].healthy = 1;
	p.sinks[1].lag = 100;
	stats_put_poll(st, &p);
	memset(&sh, 0, sizeof(sh));
	sh.at_ms = clock_mono_ms();
	sh.ss.healthy = 1;
	sh.live[CORR_OPEN][TIER_PREMIUM] = 1;
	sh.by_area = areas;
	stats_put_shard(st, 0, &sh);
	stats_put_shard(st, 1, &sh);
	stats_set_phase(st, STATS_RUNNING);
	stats_view(st, v);
}

static int
health(const struct stats_view *v, uint64_t lag, char *reasons, size_t len)
{
	json_t *j, *r;
	size_t i;
	int st = monitor_health(v, lag, &j);
	char *s;

	reasons[0] = '\0';
	json_array_foreach(json_object_get(j, "reasons"), i, r)
		snprintf(reasons + strlen(reasons), len - strlen(reasons),
		    "%s;", json_string_value(r));
	cr_assert_str_eq(json_string_value(json_object_get(j, "status")),
	    st == 200 ? "ok" : "unhealthy");
	s = json_dumps(j, 0);
	cr_assert_not_null(s);
	free(s);
	json_decref(j);
	return st;
}

Test(monitor, health_names_every_reason)
{
	struct stats *st = stats_new(2, 2, 1796000000000LL);
	struct stats_view v;
	char why[1024];

	stats_view(st, &v);
	cr_assert_eq(health(&v, 0, why, sizeof(why)), 503);
	cr_assert(strstr(why, "daemon is starting") != NULL, "%s", why);
	stats_view_fini(&v);

	view_init(&v, st);
	cr_assert_eq(health(&v, 1000, why, sizeof(why)), 200, "%s", why);
	cr_assert_eq(health(&v, 0, why, sizeof(why)), 200, "%s", why);
	cr_assert_eq(health(&v, 99, why, sizeof(why)), 503);
	cr_assert_str_eq(why, "sink redis: 100 journal bytes behind, over "
	    "http.max_sink_lag 99;");
	v.poll.sinks[1].healthy = 0;
	v.shards[1].ss.healthy = 0;
	v.shards[0].at_ms -= MONITOR_STALE_MS + 1;
	v.poll.at_ms -= MONITOR_STALE_MS + 1;
	cr_assert_eq(health(&v, 0, why, sizeof(why)), 503);
	cr_assert_str_eq(why, "poller: the poll thread has not reported for "
	    "over 5 s;shard 0: no heartbeat for over 5 s;shard 1: journal "
	    "writes refused (disk full, read-only or failing); 0 bytes held;"
	    "sink redis: not reachable or not writable;");
	v.phase = STATS_STOPPING;
	cr_assert_eq(health(&v, 0, why, sizeof(why)), 503);
	cr_assert(strncmp(why, "daemon is stopping;", 19) == 0, "%s", why);
	stats_view_fini(&v);
	stats_free(st);
}

Test(monitor, metrics_parse_as_prometheus_text)
{
	struct stats *st = stats_new(2, 2, 1796000000000LL);
	struct fleet f;
	char *areas[2] = { "north", "so\"uth" };
	struct stats_view v;
	struct http_stats hs;
	struct http_resp rs;
	char why[256], type[32];
	int ns, nf;
	double d;

	memset(&f, 0, sizeof(f));
	f.areas = areas;
	f.nareas = 2;
	memset(&hs, 0, sizeof(hs));
	hs.by_class[2] = 7;
	view_init(&v, st);
	http_resp_init(&rs);
	monitor_metrics(&v, &f, &hs, 1, &rs);
	cr_assert_eq(promtext_check(rs.body, "device", &ns, &nf, why,
	    sizeof(why)), 0, "%s", why);
	cr_assert_eq(promtext_value(rs.body, "tocsin_ready", &d), 0);
	cr_assert_eq(d, 1);
	cr_assert_gt(nf, 40);
	cr_assert_str_eq(rs.ctype, "text/plain; version=0.0.4; charset=utf-8");
	cr_assert_eq(promtext_value(rs.body, "tocsin_modbus_devices{comm=\"lost\"}",
	    &d), 0);
	cr_assert_eq(d, 1);
	cr_assert_eq(promtext_value(rs.body,
	    "tocsin_incidents{state=\"open\",tier=\"premium\"}", &d), 0);
	cr_assert_eq(d, 2);
	cr_assert_eq(promtext_value(rs.body,
	    "tocsin_incidents_by_area{area=\"north\"}", &d), 0);
	cr_assert_eq(d, 2);
	cr_assert_eq(promtext_value(rs.body,
	    "tocsin_incidents_by_area{area=\"so\\\"uth\"}", &d), 0);
	cr_assert_eq(promtext_value(rs.body,
	    "tocsin_modbus_rtt_seconds_bucket{le=\"0.001\"}", &d), 0);
	cr_assert_eq(d, 5);
	cr_assert_eq(promtext_value(rs.body,
	    "tocsin_modbus_rtt_seconds_bucket{le=\"+Inf\"}", &d), 0);
	cr_assert_eq(d, 6);
	cr_assert_eq(promtext_value(rs.body, "tocsin_modbus_rtt_seconds_count",
	    &d), 0);
	cr_assert_eq(d, 6);
	cr_assert_eq(promtext_value(rs.body,
	    "tocsin_sink_lag_bytes{sink=\"redis\"}", &d), 0);
	cr_assert_eq(d, 100);
	cr_assert_eq(promtext_value(rs.body,
	    "tocsin_http_requests_total{code=\"2xx\"}", &d), 0);
	cr_assert_eq(d, 7);
	cr_assert_str_eq(promtext_type(rs.body, "tocsin_modbus_rtt_seconds",
	    type, sizeof(type)), "histogram");

	/* the checker refuses what Prometheus would */
	cr_assert_neq(promtext_check("x 1\n", NULL, &ns, &nf, why,
	    sizeof(why)), 0);
	cr_assert_str_eq(why, "line 1: sample x has no TYPE before it");
	cr_assert_neq(promtext_check("# TYPE x gauge\nx{device=\"d1\"} 1\n",
	    "device", &ns, &nf, why, sizeof(why)), 0);
	cr_assert_neq(promtext_check("# TYPE x counter\nx 1\n", NULL, &ns,
	    &nf, why, sizeof(why)), 0);
	cr_assert_neq(promtext_check("# TYPE x gauge\nx{a=\"1} 1\n", NULL,
	    &ns, &nf, why, sizeof(why)), 0);
	cr_assert_neq(promtext_check("# TYPE x gauge\nx one\n", NULL, &ns,
	    &nf, why, sizeof(why)), 0);
	http_resp_fini(&rs);
	stats_view_fini(&v);
	stats_free(st);
}

/* ---- streamed responses ---- */

/* A stream's owner: bytes to send, whether it ended, how often read. */
struct strm {
	pthread_mutex_t	 mu;
	char		 q[64];
	size_t		 n;
	int		 end, reads, fins;
	struct http_stream *hs;
};

static ssize_t
strm_read(void *arg, char *buf, size_t max)
{
	struct strm *t = arg;
	ssize_t n = 0;

	pthread_mutex_lock(&t->mu);
	t->reads++;
	if (t->n > 0) {
		n = (ssize_t)(t->n < max ? t->n : max);
		memcpy(buf, t->q, (size_t)n);
		memmove(t->q, t->q + n, t->n - (size_t)n);
		t->n -= (size_t)n;
	} else if (t->end)
		n = HTTP_STREAM_END;
	pthread_mutex_unlock(&t->mu);
	return n;
}

static void
strm_fin(void *arg)
{
	struct strm *t = arg;

	pthread_mutex_lock(&t->mu);
	t->fins++;
	t->hs = NULL;
	pthread_mutex_unlock(&t->mu);
}

/* GET /stream: sends the X-Test header's value, then what is put. */
static void
strm_route(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	struct strm *t = arg;
	const char *h = http_req_header(rq, "X-Test");

	pthread_mutex_lock(&t->mu);
	t->n = (size_t)snprintf(t->q, sizeof(t->q), "%s;", h ? h : "-");
	t->end = 0;
	t->hs = http_resp_stream(rs, "text/plain", strm_read, strm_fin, t);
	pthread_mutex_unlock(&t->mu);
}

static void
strm_put(struct strm *t, const char *p, int end)
{
	pthread_mutex_lock(&t->mu);
	memcpy(t->q + t->n, p, strlen(p));
	t->n += strlen(p);
	t->end = end;
	http_stream_wake(t->hs);
	pthread_mutex_unlock(&t->mu);
}

/* Reads fd into buf (NUL-terminated) until want is in it or 5 s pass;
 * 1 when found. */
static int
read_until(int fd, char *buf, size_t len, size_t *n, const char *want)
{
	for (int i = 0; i < 500 && strstr(buf, want) == NULL; i++) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t k;

		if (poll(&pfd, 1, 10) <= 0)
			continue;
		if ((k = read(fd, buf + *n, len - *n - 1)) <= 0)
			break;
		*n += (size_t)k;
		buf[*n] = '\0';
	}
	return strstr(buf, want) != NULL;
}

Test(http, streamed_response_suspends_wakes_and_ends)
{
	static struct strm t = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct http_route r[1] = { { "GET", "/stream", 0, strm_route, &t } };
	static const char req[] = "GET /stream HTTP/1.1\r\nHost: x\r\n"
	    "X-Test: hi\r\n\r\n";
	struct http_config c;
	struct http_server *s;
	char err[256], buf[4096] = "";
	size_t n = 0;
	int fd, reads;

	memset(&c, 0, sizeof(c));
	http_config_defaults(&c);
	c.listen = "127.0.0.1:0";
	cr_assert_eq(http_start(&c, r, 1, NULL, &s, err, sizeof(err)), 0,
	    "%s", err);
	fd = httpfix_connect((int)http_port(s));
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	cr_assert(read_until(fd, buf, sizeof(buf), &n, "hi;"), "%s", buf);
	cr_assert(strstr(buf, "Content-Type: text/plain") != NULL, "%s", buf);
	cr_assert(strstr(buf, "Connection: close") != NULL, "%s", buf);
	/* nothing to send: suspended, so read() is not asked in a loop */
	usleep(300000);
	pthread_mutex_lock(&t.mu);
	reads = t.reads;
	pthread_mutex_unlock(&t.mu);
	cr_assert_leq(reads, 3, "read() asked %d times while idle", reads);
	strm_put(&t, "more;", 0);
	cr_assert(read_until(fd, buf, sizeof(buf), &n, "more;"), "%s", buf);
	strm_put(&t, "last", 1);
	cr_assert(read_until(fd, buf, sizeof(buf), &n, "\r\n0\r\n"),
	    "the last chunk: %s", buf);
	close(fd);
	for (int i = 0; i < 200 && t.fins == 0; i++)
		usleep(10000);
	pthread_mutex_lock(&t.mu);
	cr_assert_eq(t.fins, 1);
	pthread_mutex_unlock(&t.mu);

	/* a suspended stream at the stop: ended, not left hanging */
	n = 0;
	buf[0] = '\0';
	fd = httpfix_connect((int)http_port(s));
	cr_assert_eq(write(fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	cr_assert(read_until(fd, buf, sizeof(buf), &n, "hi;"), "%s", buf);
	usleep(100000);
	http_stop(s);
	cr_assert_eq(t.fins, 2);
	close(fd);
}
