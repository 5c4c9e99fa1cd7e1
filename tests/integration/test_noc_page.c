/*
 * test_noc_page.c - the NOC page (web/, daemon/webui) in headless
 * Chromium against a real tocsind fed by devsim (issue 14's browser
 * checks; docs/noc.md "Tests").
 *
 * This test owns the processes: tocsind (on a fixed free loopback port, so
 * the page reconnects to the same address after the restart) and devsim;
 * tests/browser/noc.mjs drives Chromium through playwright-core and says
 * when to start the scenario, when to kill -9 tocsind and when to start
 * it again, through files in ctl/ (described in noc.mjs).  Its checks come
 * back in ctl/result.json, each ok, fail (this test fails with its
 * detail) or skip (printed with its reason: an API route the page needs
 * that this tocsind does not serve yet).
 *
 * The fleet: T1 (north, premium tenant), T2 (south), E1-E3 (east), one
 * rectifier each on devsim at 127.0.Y.1-5 (this test's loopback block,
 * docs/testing.md); a storm is 3 MAINS_FAIL sites of an area in a
 * minute; the SLA warnings are at 5 % and 10 % (T1's premium 2 m ack
 * clock warns at 6 s and 12 s), not the defaults, so the page's bars
 * must follow the configuration.  devsim starts first (so no device is ever lost: no COMM_LOSS
 * incidents), then tocsind, then the browser; the scenario, from devsim's
 * ready line: T1 fails at 10 s (the page is up by then; the check times
 * the red row from devsim's log line of the fault), T2 at 11 s, E1-E3 at
 * 12 s.  Redis is configured on a port where nothing
 * listens: a dead sink must not blank the board.
 *
 * Skipped, saying why, without Chromium (Debian `chromium`), node or
 * tests/browser/node_modules (`make deps` installs all three).
 * Screenshots go to build/artefacts/noc/.  Bounds: /readyz 15 s, devsim
 * ready 10 s, the browser run 240 s (killed past it), the stale mark 10 s.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/dfix.h"
#include "tests/support/pubfix.h"
#include "tests/support/tenv.h"

static struct {
	struct dfix d;		/* port: http.listen's, kept on restart */
	char	 net[32];	/* "127.0.Y." */
	char	 token[64];
	int	 modport;	/* devsim's */
	pid_t	 node;
} N;

static void
nenv_fini(void)
{
	pubfix_stop(&N.node, SIGKILL);
	dfix_fini(&N.d, "test_noc_page");
}

TestSuite(noc_page, .fini = nenv_fini, .timeout = 360);

static const char *
chromium_path(void)
{
	const char *c = getenv("TOCSIN_CHROMIUM");

	return c != NULL && c[0] != '\0' ? c : "/usr/bin/chromium";
}

/* NULL when the browser tests can run, else why not. */
static const char *
missing(void)
{
	char *out;
	int ok;

	if (access(chromium_path(), X_OK) != 0)
		return "no Chromium (apt-get install chromium, or make deps)";
	out = pubfix_sh("command -v node >/dev/null && echo yes", 5000);
	ok = strstr(out, "yes") != NULL;
	free(out);
	if (!ok)
		return "no node (apt-get install nodejs npm, or make deps)";
	if (access("tests/browser/node_modules/playwright-core/package.json",
	    R_OK) != 0)
		return "no tests/browser/node_modules (make deps runs npm ci "
		    "there)";
	return NULL;
}

static void
setup(void)
{
	unsigned r = tenv_seed(14);
	char a[40];

	N.node = -1;
	dfix_init(&N.d, "noc");
	snprintf(N.net, sizeof(N.net), "127.0.%u.", 220 + (r >> 8) % 30);
	snprintf(a, sizeof(a), "%s1", N.net);
	N.modport = tenv_free_port(a);
	N.d.port = tenv_free_port("127.0.0.1");
	cr_assert_gt(N.modport, 0);
	cr_assert_gt(N.d.port, 0);
	/* a token nobody guesses: the test's seed and pid, twice */
	snprintf(N.token, sizeof(N.token), "noc-%08x-%08x-%08x", r,
	    (unsigned)getpid(), r ^ 0x5a5a5a5au);
	dfix_token(N.d.dir, N.token, 0600);
	{
		char yaml[4096];
		int dead = tenv_free_port("127.0.0.1");

		snprintf(yaml, sizeof(yaml),
		    "daemon: {shards: 2, state_dir: %s/state}\n"
		    "modbus: {port: %d, timeout: 200ms, interval: 500ms, "
		    "comm_loss_misses: 2, backoff_min: 100ms, backoff_max: "
		    "500ms}\n"
		    "output: {file: %s/out.jsonl}\n"
		    "kafka: {brokers: \"\"}\n"
		    "redis: {enabled: true, port: %d}\n"
		    "http: {listen: \"127.0.0.1:%d\", token_file: %s/token}\n"
		    "correlation:\n  storm: {code: MAINS_FAIL, sites: 3, "
		    "window: 1m}\n"
		    "profiles:\n  rectifier:\n    points:\n"
		    "      - {name: mains_voltage, address: 30001, type: "
		    "uint16, scale: 0.1, min: 0, max: 500}\n"
		    "    alarms:\n      - {code: MAINS_FAIL, point: "
		    "mains_voltage, condition: below, threshold: 170, clear: "
		    "190, severity: critical}\n"
		    "sites:\n"
		    "  - {id: T1, area: north, region: A, tenants: [{customer: "
		    "cmcc, tier: standard}, {customer: cucc, tier: premium}]}\n"
		    "  - {id: T2, area: south, region: B, tenants: [{customer: "
		    "ctcc, tier: standard}]}\n"
		    "  - {id: E1, area: east, region: A, tenants: [{customer: "
		    "cmcc, tier: standard}]}\n"
		    "  - {id: E2, area: east, region: A, tenants: [{customer: "
		    "ctcc, tier: standard}]}\n"
		    "  - {id: E3, area: east, region: A, tenants: [{customer: "
		    "cucc, tier: standard}]}\n"
		    "devices:\n"
		    "  - {id: T1-rect, site: T1, profile: rectifier, "
		    "host: %s1}\n"
		    "  - {id: T2-rect, site: T2, profile: rectifier, "
		    "host: %s2}\n"
		    "  - {id: E1-rect, site: E1, profile: rectifier, "
		    "host: %s3}\n"
		    "  - {id: E2-rect, site: E2, profile: rectifier, "
		    "host: %s4}\n"
		    "  - {id: E3-rect, site: E3, profile: rectifier, "
		    "host: %s5}\n"
		    "sla:\n  warnings: [0.05, 0.1]\n  clocks:\n"
		    "    - {clock: ack, tier: premium, duration: 2m}\n"
		    "    - {clock: ack, tier: standard, duration: 1h}\n"
		    "    - {clock: arrive, duration: 2h}\n"
		    "    - {clock: resolve, duration: 8h}\n"
		    "    - {clock: resolve_complex, duration: 24h}\n",
		    N.d.dir, N.modport, N.d.dir, dead, N.d.port, N.d.dir, N.net,
		    N.net, N.net, N.net, N.net);
		tenv_write_file(N.d.dir, "t.yaml", yaml);
	}
}

/* Starts tocsind and waits for /readyz 200 on the fixed port. */
static void
daemon_up(void)
{
	dfix_up(&N.d, "t.yaml", 0, 15000);
}

static int
ctl_has(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/ctl/%s", N.d.dir, name);
	return access(path, F_OK) == 0;
}

/* Runs noc.mjs, serving its requests, until it exits (240 s). */
static void
run_browser(void)
{
	char cwd[PATH_MAX], script[PATH_MAX + 64], cfgpath[128];
	char art[PATH_MAX + 32];
	char *argv[] = { "node", script, cfgpath, NULL };
	int64_t end = tenv_mono_ms() + 240000, killed = 0;
	int restarted = 0, st;
	json_t *c;

	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	snprintf(script, sizeof(script), "%s/tests/browser/noc.mjs", cwd);
	snprintf(art, sizeof(art), "%s/build/artefacts/noc", cwd);
	snprintf(cfgpath, sizeof(cfgpath), "%s/noc.json", N.d.dir);
	{
		char path[128];

		snprintf(path, sizeof(path), "%s/ctl", N.d.dir);
		cr_assert_eq(mkdir(path, 0700), 0);
	}
	{
		char base[64], ctl[96], simlog[96];

		snprintf(base, sizeof(base), "http://127.0.0.1:%d", N.d.port);
		snprintf(ctl, sizeof(ctl), "%s/ctl", N.d.dir);
		snprintf(simlog, sizeof(simlog), "%s/devsim.err", N.d.dir);
		c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s}",
		    "base", base, "token", N.token, "artefacts", art,
		    "ctl", ctl, "devsimLog", simlog, "pollMs", 500,
		    "chromium", chromium_path());
	}
	cr_assert_not_null(c);
	cr_assert_eq(json_dump_file(c, cfgpath, 0), 0);
	json_decref(c);
	N.node = pubfix_spawn(N.d.dir, argv, "node.out", "node.err");
	for (;;) {
		if (waitpid(N.node, &st, WNOHANG) == N.node) {
			N.node = -1;
			break;
		}
		if (tenv_mono_ms() >= end) {
			pubfix_stop(&N.node, SIGKILL);
			cr_expect_fail("the browser run took over 240 s");
			break;
		}
		if (!killed && ctl_has("kill")) {
			(void)pubfix_stop(&N.d.daemon, SIGKILL);
			killed = tenv_mono_ms();
		}
		if (killed && !restarted && (ctl_has("stale") ||
		    tenv_mono_ms() - killed > 10000)) {
			daemon_up();
			tenv_write_file(N.d.dir, "ctl/restarted", "1");
			restarted = 1;
		}
		usleep(50000);
	}
}

Test(noc_page, the_board_in_chromium_against_tocsind_and_devsim)
{
	const char *why = missing();
	char path[128], *out, *err;
	json_t *res, *checks, *ck;
	size_t i;

	if (why != NULL)
		cr_skip_test("NOC page browser tests skipped: %s", why);
	setup();
	tenv_write_file(N.d.dir, "scen", "10s site:T1 mains_fail\n"
	    "11s site:T2 mains_fail\n12s site:E1 mains_fail\n"
	    "12s site:E2 mains_fail\n12s site:E3 mains_fail\n");
	dfix_sim_start(&N.d, "t.yaml", "scen");
	daemon_up();
	run_browser();

	snprintf(path, sizeof(path), "%s/node.out", N.d.dir);
	out = tenv_read_file(path);
	snprintf(path, sizeof(path), "%s/node.err", N.d.dir);
	err = tenv_read_file(path);
	fprintf(stderr, "%s%s", out, err);
	snprintf(path, sizeof(path), "%s/ctl/result.json", N.d.dir);
	res = json_load_file(path, 0, NULL);
	cr_assert_not_null(res, "noc.mjs left no result: %s %s", out, err);
	checks = json_object_get(res, "checks");
	cr_expect_geq(json_array_size(checks), 8, "%s", out);
	json_array_foreach(checks, i, ck) {
		const char *name = json_string_value(json_object_get(ck,
		    "name"));
		const char *status = json_string_value(json_object_get(ck,
		    "status"));
		const char *detail = json_string_value(json_object_get(ck,
		    "detail"));

		if (strcmp(status, "skip") == 0)
			cr_log_warn("noc_page %s skipped: %s", name, detail);
		else
			cr_expect_str_eq(status, "ok", "%s: %s", name, detail);
	}
	json_decref(res);
	free(out);
	free(err);
	dfix_stop_clean(&N.d, N.token);
}
