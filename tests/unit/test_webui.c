/*
 * test_webui.c - daemon/webui through http_handle() without a socket: the
 * page at / and at a deep link /incident/<id>, its assets with their
 * types, a strong ETag and a 304 for If-None-Match, the CSP that allows
 * this origin only, a 404 for an unknown asset; and that the page's
 * files reference nothing outside this origin (no http:, https: or //
 * URL in the HTML, the CSS or the script).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "daemon/http.h"
#include "daemon/webui.h"

static struct http_route routes[WEBUI_NROUTES];

static void
setup(void)
{
	cr_assert_eq(webui_routes(routes), WEBUI_NROUTES);
}

TestSuite(webui, .init = setup);

/* The request's one header: If-None-Match, when the test gives it. */
static const char *
inm_header(void *ctx, const char *name)
{
	return strcasecmp(name, "If-None-Match") == 0 ? ctx : NULL;
}

/* GET url, with If-None-Match: inm unless NULL. */
static void
get_if(const char *url, const char *inm, struct http_resp *rs)
{
	struct http_in in = { .method = "GET", .url = url, .body = "",
	    .header = inm_header, .header_ctx = (void *)(uintptr_t)inm };

	http_handle(routes, WEBUI_NROUTES, NULL, 1024, &in, rs);
}

static void
get(const char *url, struct http_resp *rs)
{
	struct http_in in = { .method = "GET", .url = url, .body = "" };

	http_handle(routes, WEBUI_NROUTES, NULL, 1024, &in, rs);
}

static const char *
hdr(const struct http_resp *rs, const char *name)
{
	for (size_t i = 0; i < rs->nhdr; i++)
		if (strcasecmp(rs->hdr[i].name, name) == 0)
			return rs->hdr[i].value;
	return NULL;
}

Test(webui, the_page_at_root_and_at_a_deep_link)
{
	struct http_resp a, b;

	get("/", &a);
	get("/incident/INC-0-17?area=north", &b);
	cr_assert_eq(a.status, 200);
	cr_assert_eq(b.status, 200);
	cr_expect_str_eq(a.ctype, "text/html; charset=utf-8");
	cr_expect_eq(a.len, b.len);
	cr_expect(memcmp(a.body, b.body, a.len) == 0);
	cr_expect(strstr(a.body, "<script src=\"/assets/app.js\"") != NULL,
	    "assets are absolute, so a deep link finds them");
	cr_expect_str_eq(hdr(&a, "Cache-Control"), "no-cache");
	cr_expect_str_eq(hdr(&a, "Content-Security-Policy"), webui_csp);
	cr_expect(strstr(webui_csp, "default-src 'none'") != NULL);
	cr_expect(strstr(webui_csp, "connect-src 'self'") != NULL);
	cr_expect_str_eq(hdr(&a, "X-Content-Type-Options"), "nosniff");
	http_resp_fini(&a);
	http_resp_fini(&b);
}

Test(webui, assets_with_types_etags_and_304)
{
	static const struct { const char *url, *ctype; } t[] = {
		{ "/assets/app.js", "text/javascript; charset=utf-8" },
		{ "/assets/app.css", "text/css; charset=utf-8" },
		{ "/assets/favicon.svg", "image/svg+xml" },
		{ "/favicon.ico", "image/svg+xml" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct http_resp rs, again, other;
		const char *etag;
		char list[128];

		get(t[i].url, &rs);
		cr_assert_eq(rs.status, 200, "%s", t[i].url);
		cr_expect_str_eq(rs.ctype, t[i].ctype, "%s", t[i].url);
		cr_expect_gt(rs.len, 0);
		etag = hdr(&rs, "ETag");
		cr_assert_not_null(etag);
		cr_expect(etag[0] == '"' && etag[strlen(etag) - 1] == '"' &&
		    strlen(etag) == 18, "a strong, quoted tag: %s", etag);
		get_if(t[i].url, etag, &again);
		cr_expect_eq(again.status, 304, "%s with its ETag", t[i].url);
		cr_expect_eq(again.len, 0);
		cr_expect_str_eq(hdr(&again, "ETag"), etag);
		http_resp_fini(&again);
		snprintf(list, sizeof(list), "\"0000000000000000\", %s", etag);
		get_if(t[i].url, list, &again);
		cr_expect_eq(again.status, 304, "a list naming it");
		get_if(t[i].url, "\"0000000000000000\"", &other);
		cr_expect_eq(other.status, 200, "another tag: the body");
		cr_expect_eq(other.len, rs.len);
		http_resp_fini(&rs);
		http_resp_fini(&again);
		http_resp_fini(&other);
	}
}

Test(webui, unknown_assets_and_methods)
{
	struct http_resp rs;
	struct http_in in = { .method = "POST", .url = "/", .body = "",
	    .authorization = "Bearer x" };

	get("/assets/nope.js", &rs);
	cr_expect_eq(rs.status, 404);
	cr_expect_str_eq(rs.ctype, "application/json");
	http_resp_fini(&rs);
	get("/assets/", &rs);
	cr_expect_eq(rs.status, 404);
	http_resp_fini(&rs);
	http_handle(routes, WEBUI_NROUTES, "x-token-that-is-long", 1024, &in,
	    &rs);
	cr_expect_eq(rs.status, 401);
	http_resp_fini(&rs);
}

/* Nothing from the internet: no absolute URL in the page's files. */
Test(webui, nothing_outside_this_origin)
{
	static const char *const urls[] = { "/", "/assets/app.js",
	    "/assets/app.css" };

	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		struct http_resp rs;

		get(urls[i], &rs);
		cr_assert_eq(rs.status, 200);
		cr_expect(strstr(rs.body, "http://") == NULL &&
		    strstr(rs.body, "https://") == NULL &&
		    strstr(rs.body, "src=\"//") == NULL &&
		    strstr(rs.body, "href=\"//") == NULL &&
		    strstr(rs.body, "url(") == NULL, "%s names another origin",
		    urls[i]);
		http_resp_fini(&rs);
	}
}
