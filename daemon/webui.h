/*
 * webui.h - the NOC page (web/) served by tocsind: GET / and
 * GET /incident/<id> answer the page, GET /assets/<name> its script,
 * style sheet and icon.  docs/noc.md is the operator's page.
 *
 * The files are compiled into the binary: the Makefile runs web/embed.py
 * over web/ *.html, *.css, *.js and *.svg into build/gen/webassets.inc,
 * which daemon/webui.c includes, so an installed tocsind needs nothing
 * beside it and serves exactly the page it was built with.  Nothing is
 * loaded from anywhere else: every answer carries a Content-Security-Policy
 * that allows this origin only.
 *
 * Caching: every answer has a strong ETag (a hash of the file) and
 * `Cache-Control: no-cache`, so a browser asks again at each load, gets a
 * 304 without a body while the file is the same, and never mixes a
 * rebuilt daemon's page with an old one's.
 */
#ifndef TOCSIN_WEBUI_H
#define TOCSIN_WEBUI_H

#include <stddef.h>

#include "daemon/http.h"

#define WEBUI_NROUTES		4

/* The CSP every page answer carries (docs/noc.md). */
extern const char webui_csp[];

/* Fills out[0, WEBUI_NROUTES) with the routes; returns WEBUI_NROUTES. */
size_t	 webui_routes(struct http_route *out);

#endif
