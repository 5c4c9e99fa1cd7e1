/*
 * test_openapi.c - etc/openapi.json, the HTTP API's OpenAPI document,
 * against the routes a running tocsind really has: every (method, path)
 * the server logs at start ("http route method=... path=...", debug
 * level: the table http_start() was given) is documented, and every
 * documented one is served.  A path's `*` segment is the document's
 * `{param}`.  The document itself must hang together: OpenAPI 3.x, every
 * $ref resolves, every operation has responses, every write names the
 * bearer scheme and documents 401.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "tests/support/dfix.h"
#include "tests/support/tenv.h"

#define DOC	"etc/openapi.json"

static struct dfix D;

static void
oenv_init(void)
{
	dfix_init(&D, "openapi");
}

static void
oenv_fini(void)
{
	dfix_fini(&D, "test_openapi");
}

TestSuite(openapi, .init = oenv_init, .fini = oenv_fini, .timeout = 120);

static json_t *
load_doc(void)
{
	json_error_t e;
	json_t *doc = json_load_file(DOC, 0, &e);

	cr_assert_not_null(doc, DOC ":%d:%d: %s", e.line, e.column, e.text);
	return doc;
}

/* "/api/v1/incidents/{id}/ack" -> "/api/v1/incidents/ * /ack" (no spaces) */
static void
doc_to_route(const char *path, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = path; *p != '\0' && o + 2 < len; p++) {
		if (*p == '{') {
			out[o++] = '*';
			while (*p != '\0' && *p != '}')
				p++;
			if (*p == '\0')
				break;
		} else
			out[o++] = *p;
	}
	out[o] = '\0';
}

/* Follows "#/components/schemas/X" in doc: 1 if it resolves. */
static int
ref_ok(json_t *doc, const char *ref)
{
	char buf[256], *save = NULL;
	json_t *at = doc;

	if (strncmp(ref, "#/", 2) != 0)
		return 0;
	snprintf(buf, sizeof(buf), "%s", ref + 2);
	for (char *t = strtok_r(buf, "/", &save); t != NULL;
	    t = strtok_r(NULL, "/", &save))
		if ((at = json_object_get(at, t)) == NULL)
			return 0;
	return 1;
}

static int
refs_check(json_t *doc, json_t *v, char *bad, size_t len)
{
	const char *k;
	json_t *c;
	size_t i;
	int n = 0;

	if (json_is_object(v)) {
		json_object_foreach(v, k, c) {
			if (strcmp(k, "$ref") == 0 && json_is_string(c) &&
			    !ref_ok(doc, json_string_value(c))) {
				snprintf(bad, len, "%s", json_string_value(c));
				n++;
			} else
				n += refs_check(doc, c, bad, len);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, c)
			n += refs_check(doc, c, bad, len);
	}
	return n;
}

Test(openapi, the_document_hangs_together)
{
	json_t *doc = load_doc(), *paths, *ops, *op;
	const char *path, *m;
	char bad[256] = "";
	int nops = 0;

	cr_assert(strncmp(json_string_value(json_object_get(doc, "openapi")),
	    "3.", 2) == 0, "not OpenAPI 3");
	paths = json_object_get(doc, "paths");
	cr_assert(json_is_object(paths));
	json_object_foreach(paths, path, ops) {
		cr_expect(path[0] == '/', "path %s", path);
		json_object_foreach(ops, m, op) {
			int write = strcmp(m, "post") == 0 ||
			    strcmp(m, "delete") == 0 || strcmp(m, "put") == 0;
			json_t *rs = json_object_get(op, "responses");

			nops++;
			cr_expect(json_is_object(rs) && json_object_size(rs) > 0,
			    "%s %s: no responses", m, path);
			cr_expect_not_null(json_object_get(op, "summary"),
			    "%s %s: no summary", m, path);
			if (write) {
				cr_expect_not_null(json_object_get(op, "security"),
				    "%s %s: a write without security", m, path);
				cr_expect_not_null(json_object_get(rs, "401"),
				    "%s %s: a write without 401", m, path);
			}
		}
	}
	cr_expect_gt(nops, 10);
	cr_expect_eq(refs_check(doc, doc, bad, sizeof(bad)), 0,
	    "unresolved $ref, e.g. %s", bad);
	json_decref(doc);
}

/* Waits (bounded) for tocsind's start line; returns the log. */
static char *
wait_started(const char *log)
{
	int64_t end = tenv_mono_ms() + 60000;
	char *s;

	for (;;) {
		s = tenv_read_file(log);
		if (strstr(s, " start version=") != NULL ||
		    strstr(s, "start failed") != NULL || tenv_mono_ms() > end)
			return s;
		free(s);
		usleep(100 * 1000);
	}
}

Test(openapi, documents_exactly_the_routes_the_server_has)
{
	char log[128], yaml[2048], want[512];
	json_t *doc = load_doc(), *served = json_object(), *ops, *op;
	const char *path, *m;
	char *text, *p;
	int port, nserved = 0;

	port = tenv_free_port("127.0.0.1");
	snprintf(yaml, sizeof(yaml),
	    "daemon: {shards: 1, state_dir: %s/state, log_level: debug}\n"
	    "modbus: {port: %d, timeout: 100ms, interval: 1s}\n"
	    "output: {file: %s/out.jsonl}\n"
	    "kafka: {brokers: \"\"}\n"
	    "http: {listen: \"127.0.0.1:0\"}\n"
	    "profiles:\n  rect:\n    points:\n"
	    "      - {name: v, address: 30001}\n"
	    "sites:\n  - {id: T1, area: north, region: A, tenants: "
	    "[{customer: c1, tier: standard}]}\n"
	    "devices:\n  - {id: T1-rect, site: T1, profile: rect, "
	    "host: 127.0.0.1}\n", D.dir, port, D.dir);
	tenv_write_file(D.dir, "t.yaml", yaml);
	snprintf(log, sizeof(log), "%s/tocsind.err", D.dir);
	dfix_start(&D, NULL, "t.yaml");
	text = wait_started(log);
	cr_assert_not_null(strstr(text, " start version="), "no start:\n%s",
	    text);

	/* served -> documented */
	for (p = text; (p = strstr(p, "http route method=")) != NULL; p++) {
		char meth[16], route[400], lower[16], key[600];
		json_t *dops;
		int found = 0;

		cr_assert_eq(sscanf(p, "http route method=%15s path=%399s", meth,
		    route), 2);
		for (size_t i = 0; i <= strlen(meth); i++)
			lower[i] = (char)(meth[i] >= 'A' && meth[i] <= 'Z' ?
			    meth[i] + 32 : meth[i]);
		snprintf(key, sizeof(key), "%s %s", lower, route);
		json_object_set_new(served, key, json_true());
		nserved++;
		json_object_foreach(json_object_get(doc, "paths"), path, dops) {
			doc_to_route(path, want, sizeof(want));
			if (strcmp(want, route) == 0 &&
			    json_object_get(dops, lower) != NULL)
				found = 1;
		}
		cr_expect(found, "%s %s is served but not in " DOC, meth, route);
	}
	cr_assert_gt(nserved, 3, "no route lines in the log");
	/* documented -> served */
	json_object_foreach(json_object_get(doc, "paths"), path, ops) {
		json_object_foreach(ops, m, op) {
			char key[600];

			(void)op;
			doc_to_route(path, want, sizeof(want));
			snprintf(key, sizeof(key), "%s %s", m, want);
			cr_expect_not_null(json_object_get(served, key),
			    "%s %s is in " DOC " but tocsind does not serve it",
			    m, path);
		}
	}
	free(text);
	json_decref(served);
	json_decref(doc);
	dfix_stop_clean(&D, NULL);
}
