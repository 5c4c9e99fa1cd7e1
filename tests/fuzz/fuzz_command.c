/*
 * fuzz_command.c - libFuzzer target for the command route's request
 * checks (daemon/command.c: command_http): the device id, the command
 * name and the JSON body of POST /api/v1/devices/<id>/commands/<name>.
 * Input: a device line, a name line, then the body.  Any bytes get a JSON
 * error (400, 404) or are queued (then answered once, here with 503: no
 * poller runs), never a crash; a queued request must name a declared
 * command of a known device and carry an actor.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "daemon/command.h"
#include "daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char yaml[] =
    "profiles:\n"
    "  dg:\n"
    "    points: [{name: run_cmd, address: 40001}]\n"
    "    commands:\n"
    "      - {name: dg_start, function: 6, address: 40001, value: 1}\n"
    "      - {name: dg_coil, function: 5, coil: 0, value: 1}\n"
    "  plain: {points: [{name: v, address: 30001}]}\n"
    "sites: [{id: T1, area: north, region: A}]\n"
    "devices:\n"
    "  - {id: G1, site: T1, profile: dg, host: 127.0.0.1}\n"
    "  - {id: P1, site: T1, profile: plain, host: 127.0.0.2}\n";

static struct config *cfg;
static struct command *cmd;
static struct ev_loop *loop;
static int replies, deferred;

static void *
f_defer(struct http_resp *rs)
{
	deferred++;
	return rs;
}

static void
f_reply(void *arg, int status, char *body)
{
	(void)arg;
	if (status != 503 || body == NULL || strstr(body, "\"error\"") == NULL)
		abort();
	free(body);
	replies++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *dev, *name, *body, *nl;
	struct http_req rq;
	struct http_resp rs;
	json_error_t je;
	int r;

	if (cfg == NULL) {
		struct config_errors errs = { NULL, 0 };

		cfg = config_load_buffer("fuzz.yaml", yaml, strlen(yaml), &errs);
		if (cfg == NULL)
			abort();
		loop = ev_default_loop(0);
		cmd = command_new(loop, cfg->fleet, cfg->mbmap, NULL, NULL, 0,
		    NULL);
	}
	memcpy(buf, data, size);
	buf[size] = '\0';
	dev = buf;
	if ((nl = strchr(dev, '\n')) == NULL)
		goto out;
	*nl = '\0';
	name = nl + 1;
	if ((nl = strchr(name, '\n')) == NULL)
		goto out;
	*nl = '\0';
	body = nl + 1;
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.path = "/api/v1/devices/x/commands/y";
	rq.query = "";
	rq.seg[0] = dev;
	rq.seg[1] = name;
	rq.nseg = 2;
	rq.body = body;
	rq.bodylen = strlen(body);
	rq.json = json_loads(body, JSON_REJECT_DUPLICATES, &je);
	if (rq.json != NULL && !json_is_object(rq.json)) {
		json_decref(rq.json);
		rq.json = NULL;
	}
	http_resp_init(&rs);
	deferred = replies = 0;
	r = command_http(cmd, &rq, &rs, f_defer, f_reply);
	if (r == 0) {
		if ((rs.status != 400 && rs.status != 404 && rs.status != 503) ||
		    rs.body == NULL || strstr(rs.body, "\"error\"") == NULL ||
		    deferred != 0)
			abort();
	} else {
		if (r != 1 || deferred != 1 || (strcmp(dev, "G1") != 0) ||
		    (strcmp(name, "dg_start") != 0 &&
		    strcmp(name, "dg_coil") != 0))
			abort();
		/* no poller: the poll thread answers 503, once */
		while (replies == 0)
			ev_run(loop, EVRUN_ONCE);
		if (replies != 1)
			abort();
	}
	http_resp_fini(&rs);
	json_decref(rq.json);
out:
	free(buf);
	return 0;
}
