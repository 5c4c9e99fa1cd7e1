/*
 * fuzz_actbody.c - libFuzzer target for the write routes' bodies
 * (daemon/opapi: POST /api/v1/incidents/<id>/<action> and
 * POST /api/v1/maintenance) through http_handle, the real route table
 * and its gates, without a socket or a correlator (router NULL, so a body
 * that passes every check is answered 503).  Input: one byte choosing
 * the route (the eight actions, then the window), then the body.  Any
 * bytes: the answer is a JSON error object with its status, 400, 404 or
 * 503 (413 past max_body), never deferred, never a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "correlator/fleet.h"
#include "daemon/http.h"
#include "daemon/opapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TOKEN	"fuzz-token-0123456789"

static struct fleet *F;
static struct opapi *O;
static struct http_route R[OPAPI_NROUTES];

static void
fz_init(void)
{
	uint32_t si, d;

	F = fleet_new();
	si = fleet_add(F, FLEET_SITE, "S1");
	F->sites[si].area = fleet_area(F, "north");
	fleet_site_add_tenant(&F->sites[si], "c1", TIER_PREMIUM);
	d = fleet_add(F, FLEET_DEVICE, "S1-rect");
	F->devices[d].site = si;
	si = fleet_add(F, FLEET_SITE, "S2");
	F->sites[si].area = fleet_area(F, "south");
	O = opapi_new(&(struct opapi_config){ F, "INC-", 2, NULL, 1, NULL,
	    NULL });
	opapi_routes(O, R);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const urls[] = {
		"/api/v1/incidents/INC-0-1/ack",
		"/api/v1/incidents/INC-0-1/dispatch",
		"/api/v1/incidents/INC-1-2/on_site",
		"/api/v1/incidents/INC-1-2/resolve",
		"/api/v1/incidents/INC-0-3/close",
		"/api/v1/incidents/INC-0-3/note",
		"/api/v1/incidents/INC-1-4/pause",
		"/api/v1/incidents/INC-1-4/resume",
		"/api/v1/maintenance",
	};
	struct http_in in;
	struct http_resp rs;
	char *body;
	json_t *j;

	if (F == NULL)
		fz_init();
	if (size == 0)
		return 0;
	body = malloc(size);
	memcpy(body, data + 1, size - 1);
	body[size - 1] = '\0';
	memset(&in, 0, sizeof(in));
	in.method = "POST";
	in.url = urls[data[0] % (sizeof(urls) / sizeof(urls[0]))];
	in.authorization = "Bearer " TOKEN;
	in.body = body;
	in.bodylen = size - 1;
	in.declared_len = size - 1;
	http_handle(R, OPAPI_NROUTES, TOKEN, 4096, &in, &rs);
	if (rs.pending != NULL)
		abort();	/* nothing may be deferred without a router */
	if (rs.status != 400 && rs.status != 404 && rs.status != 503 &&
	    rs.status != 413)
		abort();
	j = json_loadb(rs.body, rs.len, 0, NULL);
	if (j == NULL || !json_is_string(json_object_get(j, "error")) ||
	    json_integer_value(json_object_get(j, "status")) != rs.status)
		abort();
	json_decref(j);
	http_resp_fini(&rs);
	free(body);
	return 0;
}
