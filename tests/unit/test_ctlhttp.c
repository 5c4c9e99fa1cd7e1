/*
 * test_ctlhttp.c - daemon/ctlhttp, tocsinctl's HTTP client: the response
 * parser on canned bytes (Content-Length, chunked, until close, 1xx,
 * 204, every malformed form it refuses, and the same result for any
 * split of the input), the URL reader and the escaper; then whole
 * requests against tocsind's own HTTP server (daemon/http on a free
 * loopback port) and against nothing (refused) and a silent listener
 * (timed out, bounded).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/ctlhttp.h"
#include "daemon/http.h"
#include "tests/support/tenv.h"

struct got {
	char	 body[4096];
	size_t	 len;
	int	 calls;
};

static void
got_body(void *arg, const char *p, size_t n)
{
	struct got *g = arg;

	cr_assert_lt(g->len + n, sizeof(g->body));
	memcpy(g->body + g->len, p, n);
	g->len += n;
	g->body[g->len] = '\0';
	g->calls++;
}

/* Feeds raw in pieces of step bytes (0: at once), then EOF when eof. */
static int
parse(const char *raw, size_t step, int eof, struct ctlhttp_parser *p,
    struct got *g)
{
	size_t n = strlen(raw), off = 0;
	int rc = 0;

	memset(g, 0, sizeof(*g));
	ctlhttp_parser_init(p, got_body, g);
	if (step == 0)
		step = n ? n : 1;
	while (off < n && rc == 0) {
		size_t k = n - off < step ? n - off : step;

		rc = ctlhttp_parser_feed(p, raw + off, k);
		off += k;
	}
	if (rc == 0 && eof)
		rc = ctlhttp_parser_eof(p);
	return rc;
}

Test(ctlhttp, content_length)
{
	struct ctlhttp_parser p;
	struct got g;

	cr_assert_eq(parse("HTTP/1.1 200 OK\r\nContent-Type: application/json"
	    "\r\ncontent-length: 7\r\nRetry-After: 3\r\n\r\n{\"a\":1}trailing",
	    0, 0, &p, &g), 0);
	cr_assert_eq(p.status, 200);
	cr_assert_eq(p.state, CTLHTTP_DONE);
	cr_assert_str_eq(g.body, "{\"a\":1}");
	cr_assert_str_eq(p.ctype, "application/json");
	cr_assert_eq(p.retry_after, 3);
	/* LF-only lines are read too */
	cr_assert_eq(parse("HTTP/1.0 404 Not Found\nContent-Length: 2\n\nno",
	    0, 0, &p, &g), 0);
	cr_assert_eq(p.status, 404);
	cr_assert_str_eq(g.body, "no");
}

Test(ctlhttp, chunked_and_close)
{
	struct ctlhttp_parser p;
	struct got g;
	static const char ch[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\n"
	    "X-Trailer: y\r\n\r\n";

	cr_assert_eq(parse(ch, 0, 0, &p, &g), 0);
	cr_assert_eq(p.state, CTLHTTP_DONE);
	cr_assert_str_eq(g.body, "hello 0123456789");
	/* no length: the body runs until the peer closes */
	cr_assert_eq(parse("HTTP/1.1 200 OK\r\n\r\nuntil close", 0, 0, &p,
	    &g), 0);
	cr_assert_eq(p.state, CTLHTTP_BODY_CLOSE);
	cr_assert_eq(ctlhttp_parser_eof(&p), 0);
	cr_assert_str_eq(g.body, "until close");
	/* truncated bodies are errors at EOF */
	cr_assert_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort",
	    0, 1, &p, &g), -EPROTO);
	cr_assert_eq(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n5\r\nhel", 0, 1, &p, &g), -EPROTO);
	cr_assert_eq(parse("HTTP/1.1 200 OK\r\nContent-", 0, 1, &p, &g),
	    -EPROTO);
}

Test(ctlhttp, informational_and_empty)
{
	struct ctlhttp_parser p;
	struct got g;

	cr_assert_eq(parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created"
	    "\r\nContent-Length: 2\r\n\r\n{}", 0, 0, &p, &g), 0);
	cr_assert_eq(p.status, 201);
	cr_assert_str_eq(g.body, "{}");
	cr_assert_eq(parse("HTTP/1.1 204 No Content\r\n\r\n", 0, 0, &p, &g),
	    0);
	cr_assert_eq(p.state, CTLHTTP_DONE);
	cr_assert_eq(g.len, 0);
}

Test(ctlhttp, malformed)
{
	static const char *const bad[] = {
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 099 Odd\r\n\r\n",
		"SMTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n"
		    "\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n"
		    "\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
		    "Content-Length: 3\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
		"HTTP/1.1 200 OK\r\n folded: header\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "11111111111111111\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "2\r\nabX\r\n",
	};
	struct ctlhttp_parser p;
	struct got g;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(parse(bad[i], 0, 0, &p, &g), -EPROTO, "%s",
		    bad[i]);
		/* broken stays broken */
		cr_expect_eq(ctlhttp_parser_feed(&p, "\r\n", 2), -EPROTO);
	}
}

Test(ctlhttp, bounds)
{
	struct ctlhttp_parser p;
	struct got g;
	char *raw = malloc(CTLHTTP_LINE_MAX + 64);
	size_t off;

	off = (size_t)sprintf(raw, "HTTP/1.1 200 OK\r\nX: ");
	memset(raw + off, 'a', CTLHTTP_LINE_MAX);
	strcpy(raw + off + CTLHTTP_LINE_MAX, "\r\n\r\n");
	cr_assert_eq(parse(raw, 0, 0, &p, &g), -EPROTO);
	free(raw);
	raw = malloc(20 * (CTLHTTP_HEADERS_MAX + 2) + 64);
	off = (size_t)sprintf(raw, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i <= CTLHTTP_HEADERS_MAX; i++)
		off += (size_t)sprintf(raw + off, "X-%d: y\r\n", i);
	strcpy(raw + off, "\r\n");
	cr_assert_eq(parse(raw, 0, 0, &p, &g), -EPROTO);
	free(raw);
}

/* Any split of the input gives the same body and state. */
Test(ctlhttp, any_split)
{
	static const char *const in[] = {
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc"
		    "\r\n4\r\ndefg\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
		    "Content-Length: 1\r\n\r\nx",
	};
	struct ctlhttp_parser p;
	struct got g, whole;

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		cr_assert_eq(parse(in[i], 0, 0, &p, &whole), 0);
		cr_assert_eq(p.state, CTLHTTP_DONE);
		for (size_t step = 1; step < strlen(in[i]); step++) {
			cr_assert_eq(parse(in[i], step, 0, &p, &g), 0);
			cr_assert_eq(p.state, CTLHTTP_DONE, "step %zu", step);
			cr_assert_str_eq(g.body, whole.body, "step %zu", step);
		}
	}
}

Test(ctlhttp, url)
{
	struct ctlhttp_url u;
	const char *why;

	cr_assert_eq(ctlhttp_url_parse("http://127.0.0.1:8471", &u, &why), 0);
	cr_assert_str_eq(u.host, "127.0.0.1");
	cr_assert_eq(u.port, 8471);
	cr_assert_eq(ctlhttp_url_parse("HTTP://noc.example/", &u, &why), 0);
	cr_assert_str_eq(u.host, "noc.example");
	cr_assert_eq(u.port, 80);
	cr_assert_eq(ctlhttp_url_parse("http://[::1]:9/", &u, &why), 0);
	cr_assert_str_eq(u.host, "::1");
	cr_assert_eq(u.port, 9);
	cr_assert_eq(ctlhttp_url_parse("https://h", &u, &why), -EINVAL);
	cr_assert(strstr(why, "https") != NULL);
	cr_assert_eq(ctlhttp_url_parse("127.0.0.1:8471", &u, &why), -EINVAL);
	cr_assert_eq(ctlhttp_url_parse("http://:80", &u, &why), -EINVAL);
	cr_assert_eq(ctlhttp_url_parse("http://h:0", &u, &why), -EINVAL);
	cr_assert_eq(ctlhttp_url_parse("http://h:65536", &u, &why), -EINVAL);
	cr_assert_eq(ctlhttp_url_parse("http://h:x", &u, &why), -EINVAL);
	cr_assert_eq(ctlhttp_url_parse("http://h/api", &u, &why), -EINVAL);
	cr_assert_eq(ctlhttp_url_parse("http://h h", &u, &why), -EINVAL);
	cr_assert_eq(ctlhttp_url_parse("http://[::1", &u, &why), -EINVAL);
}

Test(ctlhttp, escape)
{
	char b[64];

	cr_assert_eq(ctlhttp_escape("INC-0-1", b, sizeof(b)), 7);
	cr_assert_str_eq(b, "INC-0-1");
	cr_assert_eq(ctlhttp_escape("a b/c?d&e=%", b, sizeof(b)), 23);
	cr_assert_str_eq(b, "a%20b%2Fc%3Fd%26e%3D%25");
	cr_assert_eq(ctlhttp_escape("\xc3\xa9", b, 4), 6);	/* cut */
	cr_assert_str_eq(b, "%C3");
}

/* ---- against tocsind's own server ---- */

static void
h_json(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	http_resp_json(rs, 200, json_pack("{s:s, s:s, s:s}", "method",
	    rq->method, "path", rq->path, "body", rq->body));
}

static void
h_big(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	rs->ctype = "text/plain";
	for (int i = 0; i < 20000; i++)
		http_resp_printf(rs, "line %05d\n", i);
}

static const struct http_route routes[] = {
	{ "GET", "/j/*", 0, h_json, NULL },
	{ "POST", "/j/*", HTTP_JSON, h_json, NULL },
	{ "GET", "/big", 0, h_big, NULL },
};

#define TOKEN	"ctl-test-token-0123456789"

static struct http_server *
server(struct ctlhttp_url *u)
{
	struct http_config c;
	struct http_server *s;
	char err[256];
	const char *why;
	char url[64];

	http_config_defaults(&c);
	c.listen = "127.0.0.1:0";
	cr_assert_eq(http_start(&c, routes, 3, TOKEN, &s, err, sizeof(err)),
	    0, "%s", err);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", http_port(s));
	cr_assert_eq(ctlhttp_url_parse(url, u, &why), 0);
	return s;
}

Test(ctlhttp, requests)
{
	struct ctlhttp_url u;
	struct http_server *s = server(&u);
	struct ctlhttp_resp r;
	char err[256];
	json_t *j;

	cr_assert_eq(ctlhttp_request(&u, "GET", "/j/INC-0-1", NULL, NULL, 5000,
	    &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.ctype, "application/json");
	j = json_loads(r.body, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(j, "path")),
	    "/j/INC-0-1");
	json_decref(j);
	ctlhttp_resp_fini(&r);
	/* a write with the token and a JSON body */
	cr_assert_eq(ctlhttp_request(&u, "POST", "/j/a", TOKEN,
	    "{\"actor\":\"op\"}", 5000, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert(strstr(r.body, "{\\\"actor\\\":\\\"op\\\"}") != NULL, "%s",
	    r.body);
	ctlhttp_resp_fini(&r);
	/* a wrong token and an unknown path: the server's answers */
	cr_assert_eq(ctlhttp_request(&u, "POST", "/j/a", "wrong-token-000000",
	    "{}", 5000, &r, err, sizeof(err)), 0);
	cr_assert_eq(r.status, 401);
	ctlhttp_resp_fini(&r);
	cr_assert_eq(ctlhttp_request(&u, "GET", "/nope", NULL, NULL, 5000, &r,
	    err, sizeof(err)), 0);
	cr_assert_eq(r.status, 404);
	cr_assert(strstr(r.body, "\"status\":404") != NULL);
	ctlhttp_resp_fini(&r);
	/* a body larger than any one read */
	cr_assert_eq(ctlhttp_request(&u, "GET", "/big", NULL, NULL, 5000, &r,
	    err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.len, 20000 * 11);
	cr_assert_eq(memcmp(r.body + r.len - 11, "line 19999\n", 11), 0);
	ctlhttp_resp_fini(&r);
	http_stop(s);
}

Test(ctlhttp, unreachable_and_silent)
{
	struct ctlhttp_url u;
	struct ctlhttp_resp r;
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	char err[256], url[64];
	const char *why;
	int port = tenv_free_port("127.0.0.1"), ls;
	int64_t t0;

	cr_assert_gt(port, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	cr_assert_eq(ctlhttp_url_parse(url, &u, &why), 0);
	cr_assert_eq(ctlhttp_request(&u, "GET", "/", NULL, NULL, 2000, &r, err,
	    sizeof(err)), -ECONNREFUSED);
	cr_assert(strstr(err, "cannot connect to 127.0.0.1:") != NULL, "%s",
	    err);
	/* a listener that never answers: the timeout, not a hang */
	ls = socket(AF_INET, SOCK_STREAM, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(ls, 4), 0);
	getsockname(ls, (struct sockaddr *)&a, &al);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(a.sin_port));
	cr_assert_eq(ctlhttp_url_parse(url, &u, &why), 0);
	t0 = tenv_mono_ms();
	cr_assert_eq(ctlhttp_request(&u, "GET", "/", "secret-never-shown",
	    NULL, 300, &r, err, sizeof(err)), -ETIMEDOUT);
	cr_assert_lt(tenv_mono_ms() - t0, 5000);
	cr_assert(strstr(err, "secret") == NULL);
	close(ls);
}
