/*
 * webui.c - serves the NOC page compiled in from web/ (webui.h).
 *
 * The assets are byte arrays in build/gen/webassets.inc (web/embed.py);
 * a request looks its name up in that table (a handful of entries, so a
 * linear scan), answers with the type its extension names, a strong ETag
 * and the page's security headers, or 304 without a body when
 * If-None-Match already names that ETag.  The page itself is index.html; / and
 * /incident/<id> (deep links, read by the page's script) both answer it.
 * No state, no locks: the tables are constant.
 */
#include <string.h>

#include "daemon/webui.h"

struct webui_asset {
	const char		*name;	/* base name: /assets/<name> */
	const unsigned char	*data;
	size_t			 len;
	const char		*etag;	/* quoted */
};

#include "build/gen/webassets.inc"

const char webui_csp[] =
	"default-src 'none'; script-src 'self'; style-src 'self'; "
	"img-src 'self' data:; connect-src 'self'; font-src 'self'; "
	"manifest-src 'self'; base-uri 'none'; form-action 'none'; "
	"frame-ancestors 'none'";

/* Content types by extension; anything else is not served as a page. */
static const struct {
	const char	*ext;
	const char	*ctype;
} webui_types[] = {
	{ ".html",	"text/html; charset=utf-8" },
	{ ".css",	"text/css; charset=utf-8" },
	{ ".js",	"text/javascript; charset=utf-8" },
	{ ".svg",	"image/svg+xml" },
};

static const char *
webui_type(const char *name)
{
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot != NULL &&
	    i < sizeof(webui_types) / sizeof(webui_types[0]); i++)
		if (strcmp(dot, webui_types[i].ext) == 0)
			return webui_types[i].ctype;
	return "application/octet-stream";
}

static const struct webui_asset *
webui_find(const char *name)
{
	for (size_t i = 0; i < sizeof(webui_assets) / sizeof(webui_assets[0]);
	    i++)
		if (strcmp(webui_assets[i].name, name) == 0)
			return &webui_assets[i];
	return NULL;
}

/* 1 when If-None-Match (a list of tags, or *) names etag. */
static int
webui_fresh(const char *inm, const char *etag)
{
	if (inm == NULL)
		return 0;
	while (*inm == ' ')
		inm++;
	return strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL;
}

static void
webui_send(const struct webui_asset *a, const struct http_req *rq,
    struct http_resp *rs)
{
	if (a == NULL) {
		http_resp_error(rs, 404, "no such asset: %s", rq->path);
		return;
	}
	http_resp_header(rs, "ETag", a->etag);
	http_resp_header(rs, "Cache-Control", "no-cache");
	http_resp_header(rs, "Content-Security-Policy", webui_csp);
	http_resp_header(rs, "X-Content-Type-Options", "nosniff");
	http_resp_header(rs, "Referrer-Policy", "no-referrer");
	rs->ctype = webui_type(a->name);
	if (webui_fresh(http_req_header(rq, "If-None-Match"), a->etag)) {
		rs->status = 304;
		return;
	}
	http_resp_append(rs, (const char *)a->data, a->len);
}

static void
webui_page(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	(void)arg;
	webui_send(webui_find("index.html"), rq, rs);
}

static void
webui_asset_route(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	(void)arg;
	webui_send(webui_find(rq->seg[0]), rq, rs);
}

static void
webui_favicon(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	(void)arg;
	webui_send(webui_find("favicon.svg"), rq, rs);
}

size_t
webui_routes(struct http_route *out)
{
	static const struct http_route r[WEBUI_NROUTES] = {
		{ "GET", "/", 0, webui_page, NULL },
		{ "GET", "/incident/*", 0, webui_page, NULL },
		{ "GET", "/assets/*", 0, webui_asset_route, NULL },
		{ "GET", "/favicon.ico", 0, webui_favicon, NULL },
	};

	memcpy(out, r, sizeof(r));
	return WEBUI_NROUTES;
}
