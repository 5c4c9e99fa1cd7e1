/*
 * dfix.c - see dfix.h.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/dfix.h"
#include "tests/support/httpfix.h"
#include "tests/support/proc.h"
#include "tests/support/pubfix.h"
#include "tests/support/tenv.h"

void
dfix_init(struct dfix *d, const char *name)
{
	memset(d, 0, sizeof(*d));
	d->daemon = d->sim = -1;
	snprintf(d->dir, sizeof(d->dir), "/tmp/tocsin-%s-XXXXXX", name);
	cr_assert_not_null(mkdtemp(d->dir), "mkdtemp %s", d->dir);
}

void
dfix_fini(struct dfix *d, const char *who)
{
	char cmd[128];

	pubfix_stop(&d->daemon, SIGKILL);
	pubfix_stop(&d->sim, SIGTERM);
	if (d->dir[0] == '\0')
		return;
	if (getenv("TOCSIN_KEEP") != NULL) {	/* for a post-mortem */
		fprintf(stderr, "%s: kept %s\n", who, d->dir);
		return;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "%s: cannot remove %s\n", who, d->dir);
}

void
dfix_token(const char *dir, const char *token, mode_t mode)
{
	char text[256], path[192];

	snprintf(text, sizeof(text), "%s\n", token);
	tenv_write_file(dir, "token", text);
	snprintf(path, sizeof(path), "%s/token", dir);
	cr_assert_eq(chmod(path, mode), 0, "chmod %s", path);
}

size_t
dfix_cfg_head(char *buf, size_t len, const char *dir, int modport,
    int rport, int token, const char *http)
{
	char redis[128] = "", tok[128] = "";
	int n;

	if (rport > 0)
		snprintf(redis, sizeof(redis), "redis: {enabled: true, "
		    "port: %d, backoff_min: 100ms, backoff_max: 500ms}\n",
		    rport);
	if (token)
		snprintf(tok, sizeof(tok), ", token_file: %s/token", dir);
	n = snprintf(buf, len,
	    "daemon: {shards: 2, state_dir: %s/state}\n"
	    "modbus: {port: %d, timeout: 100ms, interval: 300ms, "
	    "comm_loss_misses: 1, backoff_min: 100ms, backoff_max: 300ms}\n"
	    "output: {file: %s/out.jsonl}\n"
	    "kafka: {brokers: \"\"}\n"
	    "%s"
	    "http: {listen: \"127.0.0.1:0\"%s%s%s}\n"
	    "profiles:\n  rect:\n    points:\n"
	    "      - {name: v, address: 30001}\n"
	    "    alarms:\n      - {code: MAINS_FAIL, point: v, condition: "
	    "below, threshold: 170, clear: 190, severity: critical}\n",
	    dir, modport, dir, redis, tok,
	    http != NULL ? ", " : "", http != NULL ? http : "");

	cr_assert(n > 0 && (size_t)n < len, "a config head of %d bytes in %zu",
	    n, len);
	return (size_t)n;
}

void
dfix_start(struct dfix *d, const char *prog, const char *cfg)
{
	char p[512], c[192], log[128], prev[140];
	char *argv[] = { p, "-c", c, NULL };

	snprintf(p, sizeof(p), "%s", prog != NULL ? prog :
	    proc_build_path("tocsind"));
	snprintf(c, sizeof(c), "%s/%s", d->dir, cfg);
	cr_assert_eq(access(p, X_OK), 0, "no %s (set TOCSIN_BUILD)", p);
	/* the child truncates the log only once it runs: a restart must
	 * not read the previous run's port line meanwhile */
	snprintf(log, sizeof(log), "%s/tocsind.err", d->dir);
	snprintf(prev, sizeof(prev), "%s.prev", log);
	(void)rename(log, prev);
	d->daemon = pubfix_spawn(d->dir, argv, "tocsind.out", "tocsind.err");
	cr_assert_gt(d->daemon, 0);
}

void
dfix_up(struct dfix *d, const char *cfg, int port_ms, int ready_ms)
{
	char log[128];
	struct httpfix_resp r;
	int64_t end;
	int st;

	dfix_start(d, NULL, cfg);
	if (port_ms > 0) {
		snprintf(log, sizeof(log), "%s/tocsind.err", d->dir);
		d->port = httpfix_port_from_log(log, port_ms);
		if (d->port <= 0)
			cr_assert_fail("no \"http listening on\" line in %d s: "
			    "%s", port_ms / 1000, dfix_log(d, 0));
	}
	end = tenv_mono_ms() + ready_ms;
	for (;;) {
		st = httpfix_do(d->port, "GET", "/readyz", NULL, NULL, &r);
		if (st == 200 || tenv_mono_ms() >= end)
			break;
		httpfix_free(&r);
		usleep(100000);
	}
	if (st != 200)
		cr_assert_fail("tocsind not ready on %d in %d s: /readyz: %d "
		    "%s\n%s", d->port, ready_ms / 1000, st, r.body,
		    dfix_log(d, 0));
	httpfix_free(&r);
}

int
dfix_json(const struct dfix *d, const char *method, const char *path,
    const char *hdrs, const char *body, json_t **out)
{
	struct httpfix_resp r;
	int st = httpfix_do(d->port, method, path, hdrs, body, &r);
	char buf[64];
	const char *ct = httpfix_header(&r, "Content-Type", buf, sizeof(buf));

	*out = json_loads(r.body, 0, NULL);
	cr_assert_not_null(*out, "%s %s: %d, not JSON: %s", method, path, st,
	    r.body);
	cr_expect(ct != NULL && strcmp(ct, "application/json") == 0,
	    "%s %s: Content-Type %s", method, path, ct != NULL ? ct : "none");
	if (st == 503)
		cr_expect_not_null(strstr(r.headers, "Retry-After"),
		    "%s %s: 503 without Retry-After", method, path);
	httpfix_free(&r);
	return st;
}

char *
dfix_log(const struct dfix *d, int prev)
{
	char path[140];

	snprintf(path, sizeof(path), "%s/tocsind.err%s", d->dir,
	    prev ? ".prev" : "");
	return tenv_read_file(path);
}

int
dfix_stop_clean(struct dfix *d, const char *token)
{
	int rc = pubfix_stop(&d->daemon, SIGTERM);
	char *log = dfix_log(d, 0), *prev = dfix_log(d, 1);

	cr_assert(log != NULL && prev != NULL, "the logs in %s", d->dir);
	cr_expect_eq(rc, 0, "tocsind exit %d: %s", rc, log);
	cr_expect(strstr(log, " stop reason=SIGTERM") != NULL, "%s", log);
	cr_expect(strstr(log, "ThreadSanitizer") == NULL, "%s", log);
	cr_expect(strstr(prev, "ThreadSanitizer") == NULL, "%s", prev);
	if (token != NULL)
		cr_expect(strstr(log, token) == NULL &&
		    strstr(prev, token) == NULL, "the token is logged");
	free(log);
	free(prev);
	return rc;
}

void
dfix_sim_start(struct dfix *d, const char *cfg, const char *scen)
{
	char prog[512], c[192], sc[192], out[128];
	char *argv[] = { prog, "-c", c, scen != NULL ? "--scenario" : NULL,
	    sc, NULL };
	int64_t end = tenv_mono_ms() + 10000;

	snprintf(prog, sizeof(prog), "%s", proc_build_path("bench/devsim"));
	snprintf(c, sizeof(c), "%s/%s", d->dir, cfg);
	snprintf(sc, sizeof(sc), "%s/%s", d->dir, scen != NULL ? scen : "");
	snprintf(out, sizeof(out), "%s/devsim.out", d->dir);
	cr_assert_eq(access(prog, X_OK), 0, "no %s (set TOCSIN_BUILD)", prog);
	d->sim = pubfix_spawn(d->dir, argv, "devsim.out", "devsim.err");
	cr_assert_gt(d->sim, 0);
	while (tenv_mono_ms() < end) {
		char *text = tenv_read_file(out);
		int ready = strstr(text, "devsim ready") != NULL;

		free(text);
		if (ready)
			return;
		usleep(50000);
	}
	cr_assert_fail("devsim not ready in 10 s");
}
