/*
 * fuzz_query.c - libFuzzer target for the hand-written query-string
 * parser (daemon/http http_query_next) and what reads it: the incident
 * list's filters, limit and cursor (daemon/view) through http_handle on a
 * view holding a few incidents.  Input: the query string (after '?').
 * Any bytes: every pair decodes to bytes without control characters that
 * fit their buffers, the parser always moves on and ends; the list answers
 * 200 with a list or 400 with a JSON error, never anything else.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "correlator/fleet.h"
#include "daemon/http.h"
#include "daemon/view.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fleet *F;
static struct view *V;
static struct http_route R[VIEW_NROUTES];

static void fz_nop(void *arg) { (void)arg; }
static void fz_done(void *arg, unsigned s, uint64_t p)
{
	(void)arg; (void)s; (void)p;
}
static void fz_rewind(void *arg, unsigned s, uint64_t p)
{
	(void)arg; (void)s; (void)p;
}

static const struct pub_host H = {
	.ready = fz_nop, .done = fz_done, .rewind = fz_rewind,
	.resync = fz_nop,
};

/* A fleet of two sites and a view with three incidents, once. */
static void
fz_init(void)
{
	static const char *const ids[] = { "INC-0-1", "INC-0-2", "INC-1-1" };
	struct pub_sink *s;
	uint32_t si;

	F = fleet_new();
	si = fleet_add(F, FLEET_SITE, "S1");
	F->sites[si].area = fleet_area(F, "north");
	fleet_site_add_tenant(&F->sites[si], "c1", TIER_PREMIUM);
	si = fleet_add(F, FLEET_SITE, "S2");
	F->sites[si].area = fleet_area(F, "south");
	fleet_site_add_tenant(&F->sites[si], "c2", TIER_STANDARD);
	V = view_new(F);
	s = view_sink(V, &H);
	view_routes(V, R);
	for (unsigned i = 0; i < 3; i++) {
		char json[512];
		struct pub_rec r;

		memset(&r, 0, sizeof(r));
		r.pos = i + 1;
		r.shard = i / 2;
		r.kind = PUB_EVENT;
		r.live = 1;
		r.seq = 1;
		r.opened_at = 100 * i;
		r.deadline = i == 1 ? 0 : 1000 * (3 - i);
		r.id = ids[i];
		r.site = i == 2 ? "S2" : "S1";
		r.area = i == 2 ? "south" : "north";
		r.jsonlen = (size_t)snprintf(json, sizeof(json),
		    "{\"seq\":1,\"incident\":{\"id\":\"%s\",\"customers\":"
		    "[{\"id\":\"%s\",\"tier\":\"premium\"}],\"tier\":\"premium\","
		    "\"planned\":%s,\"chronic\":false,\"flapping\":true},"
		    "\"steps\":[]}", ids[i], i == 2 ? "c2" : "c1",
		    i ? "true" : "false");
		r.json = json;
		s->ops->offer(s, &r);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *q, url[HTTP_PATH_MAX + 64], name[32], val[256];
	const char *p;
	struct http_in in;
	struct http_resp rs;
	json_t *j;
	int rc, n = 0;

	if (V == NULL)
		fz_init();
	q = malloc(size + 1);
	memcpy(q, data, size);
	q[size] = '\0';
	p = q;
	while ((rc = http_query_next(&p, name, sizeof(name), val,
	    sizeof(val))) == 1) {
		for (const char *c = name; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				abort();
		for (const char *c = val; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				abort();
		if (++n > (int)size + 1)
			abort();	/* no progress */
	}
	if (rc != 0 && rc != -22)
		abort();
	if (*p != '\0')
		abort();
	/* the list route (a query is everything after the first '?') */
	if (strlen(q) < HTTP_PATH_MAX) {
		snprintf(url, sizeof(url), "/api/v1/incidents?%s", q);
		memset(&in, 0, sizeof(in));
		in.method = "GET";
		in.url = url;
		in.body = "";
		http_handle(R, VIEW_NROUTES, NULL, 1024, &in, &rs);
		if (rs.status != 200 && rs.status != 400)
			abort();
		j = json_loadb(rs.body, rs.len, 0, NULL);
		if (j == NULL || (rs.status == 200 &&
		    !json_is_array(json_object_get(j, "incidents"))) ||
		    (rs.status == 400 && !json_is_string(json_object_get(j,
		    "error"))))
			abort();
		json_decref(j);
		http_resp_fini(&rs);
	}
	free(q);
	return 0;
}
