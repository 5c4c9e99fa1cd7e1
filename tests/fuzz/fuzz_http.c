/*
 * fuzz_http.c - libFuzzer target for daemon/http's request handling
 * without a socket (http_handle: the path check, the bearer token, the
 * body limit, routing with '*' segments, JSON bodies) and its listen
 * parser.  Input: a method line, a URL line, an Authorization line ("-"
 * for none), then the body.  Any bytes get one of the documented statuses
 * with a JSON body (errors as {"error", "status"}), never a crash; a 405
 * names what is allowed; a 200 only comes from a route that matched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
h_json(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	(void)arg;
	if (rq->json == NULL || !json_is_object(rq->json))
		abort();
	http_resp_json(rs, 200, json_pack("{s:s}", "path", rq->path));
}

static void
h_seg(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	(void)arg;
	if (rq->nseg != 2 || strlen(rq->seg[0]) == 0 ||
	    strchr(rq->seg[0], '/') != NULL || strchr(rq->seg[1], '/') != NULL)
		abort();
	http_resp_json(rs, 200, json_pack("{s:s, s:s}", "id", rq->seg[0],
	    "verb", rq->seg[1]));
}

static void
h_plain(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	(void)arg;
	if (rq->nseg != 0 || strcmp(rq->path, "/metrics") != 0)
		abort();
	rs->ctype = "text/plain";
	http_resp_printf(rs, "{}\n");
}

static const struct http_route routes[] = {
	{ "GET", "/metrics", 0, h_plain, NULL },
	{ "POST", "/api/v1/incidents/*/*", HTTP_JSON, h_json, NULL },
	{ "GET", "/api/v1/incidents/*/*", 0, h_seg, NULL },
	{ "DELETE", "/api/v1/maintenance/*", 0, h_json, NULL },
};

/* The next line of [*p, end) as a NUL-terminated copy, or NULL. */
static char *
line(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	char *s;

	if (nl == NULL)
		return NULL;
	s = malloc((size_t)(nl - *p) + 1);
	memcpy(s, *p, (size_t)(nl - *p));
	s[nl - *p] = '\0';
	*p = nl + 1;
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	char *method, *url = NULL, *auth = NULL, *body, host[64];
	struct http_resp rs;
	struct http_in in;
	unsigned port;
	const char *why;
	json_t *j;

	if ((method = line(&p, end)) == NULL)
		return 0;
	if ((url = line(&p, end)) == NULL || (auth = line(&p, end)) == NULL)
		goto out;
	if (http_listen_parse(url, host, sizeof(host), &port, &why) == 0 &&
	    (port > 65535 || strlen(host) == 0))
		abort();
	body = malloc((size_t)(end - p) + 1);
	memcpy(body, p, (size_t)(end - p));
	body[end - p] = '\0';
	memset(&in, 0, sizeof(in));
	in.method = method;
	in.url = url;
	in.authorization = strcmp(auth, "-") == 0 ? NULL : auth;
	in.body = body;
	in.bodylen = (size_t)(end - p);
	in.declared_len = in.bodylen;
	http_handle(routes, sizeof(routes) / sizeof(routes[0]),
	    "fuzz-token-0123456789", 256, &in, &rs);
	switch (rs.status) {
	case 200: case 400: case 401: case 404: case 405: case 413:
		break;
	default:
		abort();
	}
	if ((rs.status == 405) != (rs.allow[0] != '\0'))
		abort();
	if (rs.status == 401 && !rs.auth_challenge)
		abort();
	j = json_loadb(rs.body, rs.len, 0, NULL);
	if (j == NULL || (rs.status != 200 && json_integer_value(
	    json_object_get(j, "status")) != rs.status))
		abort();
	json_decref(j);
	http_resp_fini(&rs);
	free(body);
out:
	free(auth);
	free(url);
	free(method);
	return 0;
}
