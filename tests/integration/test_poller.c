/*
 * test_poller.c - the poller end to end, as an operator would run it:
 * `devsim -c CONFIG` serves a configuration's devices, `tocsinpoll -c
 * CONFIG` polls them through daemon/poller.c, and the test reads the alarm
 * transitions (JSON lines on stdout) and the summary line (stderr).
 *
 * Addresses: every test moves its fleet to a loopback block of its own
 * (127.X.*, X picked from the pid, the time and a salt) and a port that was
 * free there, so tests running in parallel, or another engineer's demo on
 * 127.0.1.N:1502, never collide.  The demo test rewrites only the hosts and
 * the modbus port of etc/demo.yaml; everything else is the shipped file.
 *
 * Bounds: devsim's ready line 10 s, tocsinpoll runs for a fixed time and is
 * killed by proc_run() 30 s after it should have ended, devsim is stopped
 * by PID (SIGTERM, then SIGKILL after 3 s) and has PR_SET_PDEATHSIG.  No
 * Criterion .timeout (see test_devsim.c).  devsim's stdout and stderr go
 * to files, never to pipes nobody drains.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tests/support/proc.h"
#include "tests/support/tenv.h"

struct env {
	char	 dir[64];	/* mkdtemp */
	unsigned x;		/* second octet of the block */
	int	 port;		/* free on 127.x.0.1 when picked */
	pid_t	 sim;		/* devsim, or 0 */
};

static void
env_init(struct env *e, unsigned salt)
{
	unsigned r = tenv_seed(salt);
	char a[32];

	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/tocsin-poller-XXXXXX");
	cr_assert_not_null(mkdtemp(e->dir));
	/* 127.200-249.*: clear of devsim's defaults and test_devsim's */
	e->x = 200 + (r >> 4) % 50;
	snprintf(a, sizeof(a), "127.%u.0.1", e->x);
	e->port = tenv_free_port(a);
	cr_assert_gt(e->port, 0, "no free port on %s", a);
}

static void
env_path(const struct env *e, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", e->dir, name);
}


static const char *
build_path(const char *prog)
{
	static char path[512];
	const char *b = getenv("TOCSIN_BUILD");

	snprintf(path, sizeof(path), "%s/bench/%s",
	    b != NULL && *b != '\0' ? b : "build/default", prog);
	return path;
}

/* Starts devsim with argv[1..] and waits (10 s at most) for "ready". */
static void
sim_start(struct env *e, const char *const *args)
{
	const char *argv[24];
	char out[128], err[128];
	int64_t end = tenv_mono_ms() + 10000;
	int n = 0;
	pid_t pid;

	argv[n++] = build_path("devsim");
	for (; *args != NULL && n < 22; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	cr_assert_eq(access(argv[0], X_OK), 0, "no simulator at %s (set "
	    "TOCSIN_BUILD)", argv[0]);
	env_path(e, "devsim.out", out, sizeof(out));
	env_path(e, "devsim.err", err, sizeof(err));
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int r = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (o < 0 || r < 0)
			_exit(126);
		dup2(o, 1);
		dup2(r, 2);
		close_range(3, ~0U, 0);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	e->sim = pid;
	while (tenv_mono_ms() < end) {
		char *text = tenv_read_file(out);
		int ready = strstr(text, "devsim ready") != NULL;
		int status;

		free(text);
		if (ready)
			return;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			e->sim = 0;
			text = tenv_read_file(err);
			cr_assert_fail("devsim exited: %s", text);
		}
		usleep(20000);
	}
	cr_assert_fail("devsim not ready in 10 s");
}

/* SIGTERM, 3 s at most, then SIGKILL. */
static void
sim_stop(struct env *e)
{
	int64_t end = tenv_mono_ms() + 3000;
	int status;

	if (e->sim <= 0)
		return;
	kill(e->sim, SIGTERM);
	while (tenv_mono_ms() < end) {
		if (waitpid(e->sim, &status, WNOHANG) == e->sim) {
			e->sim = 0;
			return;
		}
		usleep(10000);
	}
	kill(e->sim, SIGKILL);
	waitpid(e->sim, &status, 0);
	e->sim = 0;
}

static void
env_fini(struct env *e)
{
	char cmd[128];

	sim_stop(e);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "test_poller: could not remove %s\n", e->dir);
}

/* Runs tocsinpoll on config file `name` for secs (plus extra args). */
static void
poll_run(const struct env *e, const char *name, const char *secs,
    const char *const *extra, struct proc_result *r)
{
	char cfg[128];
	const char *argv[16];
	int n = 0;

	env_path(e, name, cfg, sizeof(cfg));
	argv[n++] = build_path("tocsinpoll");
	argv[n++] = "-c";
	argv[n++] = cfg;
	argv[n++] = "-d";
	argv[n++] = secs;
	argv[n++] = "-v";
	for (; extra != NULL && *extra != NULL && n < 15; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	cr_assert_eq(proc_run((char *const *)argv, (atoi(secs) + 30) * 1000,
	    r), 0);
	cr_assert_eq(r->status, 0, "tocsinpoll status %d: %s", r->status,
	    r->err);
}

/* A key of the summary line, or -1. */
static long
summary(const struct proc_result *r, const char *key)
{
	const char *s = strstr(r->err, "tocsinpoll summary ");
	char k[64];

	if (s == NULL)
		return -1;
	snprintf(k, sizeof(k), " %s=", key);
	if ((s = strstr(s, k)) == NULL)
		return -1;
	return strtol(s + strlen(k), NULL, 10);
}

struct devline {
	long	 polls, good, missed, comm_lost;
};

/* The -v line of device id; cr_assert if there is none. */
static struct devline
device(const struct proc_result *r, const char *id)
{
	char k[96];
	const char *s;
	struct devline d;

	snprintf(k, sizeof(k), "tocsinpoll device id=%s ", id);
	s = strstr(r->err, k);
	cr_assert_not_null(s, "no line for device %s", id);
	cr_assert_eq(sscanf(s + strlen(k), "polls=%ld good=%ld missed=%ld "
	    "comm_lost=%ld", &d.polls, &d.good, &d.missed, &d.comm_lost), 4);
	return d;
}

struct transition {
	char	 device[32], site[16], code[32], edge[8];
	double	 value;
	int64_t	 order;		/* line number */
};

/* Parses stdout's JSON lines; every line must be a transition. */
static size_t
transitions(const struct proc_result *r, struct transition *t, size_t max)
{
	size_t n = 0;
	char *copy = strdup(r->out), *save = NULL;

	for (char *l = strtok_r(copy, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		json_error_t je;
		json_t *o = json_loads(l, 0, &je), *v;

		cr_assert_not_null(o, "not JSON: %s", l);
		cr_assert(n < max, "too many transitions");
		snprintf(t[n].device, sizeof(t[n].device), "%s",
		    json_string_value(json_object_get(o, "device")));
		snprintf(t[n].site, sizeof(t[n].site), "%s",
		    json_string_value(json_object_get(o, "site")));
		snprintf(t[n].code, sizeof(t[n].code), "%s",
		    json_string_value(json_object_get(o, "code")));
		snprintf(t[n].edge, sizeof(t[n].edge), "%s",
		    json_string_value(json_object_get(o, "edge")));
		cr_assert_not_null(json_object_get(o, "at"));
		cr_assert_not_null(json_object_get(o, "severity"));
		v = json_object_get(o, "value");
		t[n].value = json_is_number(v) ? json_number_value(v) : -1e300;
		t[n].order = (int64_t)n;
		json_decref(o);
		n++;
	}
	free(copy);
	return n;
}

static const struct transition *
find(const struct transition *t, size_t n, const char *device,
    const char *code, const char *edge)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].device, device) == 0 &&
		    strcmp(t[i].code, code) == 0 &&
		    strcmp(t[i].edge, edge) == 0)
			return &t[i];
	return NULL;
}

/*
 * etc/demo.yaml moved to this test's block: hosts 127.0.1.N become
 * 127.X.0.N and the modbus port the free one; with shortdelay every
 * delay_on becomes 1s (the debounce shrunk so the chain fits in a test).
 */
static void
demo_copy(const struct env *e, const char *name, int shortdelay)
{
	char *out = tenv_demo_yaml(e->x, e->port, shortdelay);
	char port[32];

	cr_assert_not_null(out, "etc/demo.yaml not found (run from the "
	    "repository root) or its modbus port is not 1502");
	snprintf(port, sizeof(port), "  port: %d\n", e->port);
	cr_assert(strstr(out, port) != NULL, "demo.yaml modbus port not 1502");
	tenv_write_file(e->dir, name, out);
	free(out);
}

/*
 * (1) The demo fleet as shipped (debounce included): mains fails at
 * SH-001 half a second in; the rectifier's mains_voltage drops and after
 * MAINS_FAIL's 5 s delay_on the poller raises it, for SH-001-rect only.
 * Battery, air-con and temperature alarms have 30-60 s delays, so in 9 s
 * nothing else may appear anywhere.
 */
Test(poller_e2e, demo_mains_fail_raises_at_that_site_only)
{
	struct env e;
	struct proc_result r;
	struct transition t[16];
	char cfg[128], scen[128];
	const struct transition *mf;
	const char *extra[] = { "--interval", "500", "--timeout", "400",
	    NULL };
	size_t n;

	env_init(&e, 1);
	demo_copy(&e, "demo.yaml", 0);
	tenv_write_file(e.dir, "scen", "500ms site:SH-001 mains_fail\n");
	env_path(&e, "demo.yaml", cfg, sizeof(cfg));
	env_path(&e, "scen", scen, sizeof(scen));
	sim_start(&e, (const char *[]){ "-c", cfg, "--scenario", scen, NULL });
	poll_run(&e, "demo.yaml", "9", extra, &r);
	n = transitions(&r, t, 16);
	mf = find(t, n, "SH-001-rect", "MAINS_FAIL", "raise");
	cr_assert_not_null(mf, "no MAINS_FAIL raise: %s", r.out);
	cr_expect_str_eq(mf->site, "SH-001");
	cr_expect_lt(mf->value, 170, "raised at %g V", mf->value);
	cr_expect_eq(n, 1, "other transitions too: %s", r.out);
	/* every device answered every poll, all points decoded */
	cr_expect_eq(summary(&r, "devices"), 57);
	cr_expect_eq(summary(&r, "good_devices"), 57, "%s", r.err);
	cr_expect_eq(summary(&r, "polls_failed"), 0);
	cr_expect_eq(summary(&r, "decode_errors"), 0);
	cr_expect_eq(summary(&r, "points_bad"), 0);
	cr_expect_eq(summary(&r, "missed_polls"), 0);
	/* 12 FSUs, one connection each, units 1-5 behind it */
	cr_expect_eq(summary(&r, "connected"), 12);
	cr_expect_geq(device(&r, "SH-001-rect").polls, 15);
	proc_result_free(&r);
	env_fini(&e);
}

/*
 * (1b) The same fleet with every delay_on shortened to 1 s and the
 * simulator's physics sped up (300x, a 30-minute battery): the whole
 * DOMAIN.md chain follows the mains failure at SH-001 within seconds
 * (battery discharge, battery low, air-con failure, high temperature),
 * MAINS_FAIL first, and no other site raises anything.
 */
Test(poller_e2e, demo_mains_fail_chain_with_time_scale)
{
	struct env e;
	struct proc_result r;
	struct transition t[32];
	char cfg[128], scen[128];
	const char *extra[] = { "--interval", "300", "--timeout", "250",
	    NULL };
	static const char *const chain[][2] = {
		{ "SH-001-batt", "BATT_DISCHARGE" },
		{ "SH-001-batt", "BATT_LOW" },
		{ "SH-001-ac", "AC_FAIL" },
		{ "SH-001-ac", "HIGH_TEMP" },
	};
	const struct transition *mf;
	size_t n, raises = 0;

	env_init(&e, 2);
	demo_copy(&e, "demo.yaml", 1);
	tenv_write_file(e.dir, "scen", "500ms site:SH-001 mains_fail\n");
	env_path(&e, "demo.yaml", cfg, sizeof(cfg));
	env_path(&e, "scen", scen, sizeof(scen));
	sim_start(&e, (const char *[]){ "-c", cfg, "--scenario", scen,
	    "--time-scale", "300", "--batt-runtime", "1800", NULL });
	poll_run(&e, "demo.yaml", "9", extra, &r);
	n = transitions(&r, t, 32);
	mf = find(t, n, "SH-001-rect", "MAINS_FAIL", "raise");
	cr_assert_not_null(mf, "no MAINS_FAIL raise: %s", r.out);
	for (size_t i = 0; i < sizeof(chain) / sizeof(chain[0]); i++) {
		const struct transition *c = find(t, n, chain[i][0],
		    chain[i][1], "raise");

		cr_assert_not_null(c, "no %s raise at %s: %s", chain[i][1],
		    chain[i][0], r.out);
		cr_expect_gt(c->order, mf->order, "%s before MAINS_FAIL",
		    chain[i][1]);
	}
	/*
	 * The battery is flat 6 s after the failure (--batt-runtime 1800 at
	 * 300x), its current drops to 0 and BATT_DISCHARGE rightly clears:
	 * the one clear allowed.
	 */
	for (size_t i = 0; i < n; i++) {
		cr_expect_str_eq(t[i].site, "SH-001", "alarm elsewhere: %s %s",
		    t[i].device, t[i].code);
		if (strcmp(t[i].edge, "clear") == 0)
			cr_expect_str_eq(t[i].code, "BATT_DISCHARGE");
		else
			raises++;
	}
	cr_expect_eq(raises, 5, "unexpected transitions: %s", r.out);
	cr_expect_eq(summary(&r, "polls_failed"), 0);
	proc_result_free(&r);
	env_fini(&e);
}

/*
 * (3) A gateway with 8 unit ids on one connection: an FSU at unit 1 and
 * seven rectifiers at units 2-8, all at one host:port.  Unit 8 never
 * answers; the door opens at 300 ms.  Expected: exactly one TCP connection
 * (client connects and devsim accepts), units 1-7 polled every interval
 * with every poll answered, DOOR_OPEN from the FSU, COMM_LOSS for unit 8
 * only (its breaker keeps it from costing the others their rate).
 */
Test(poller_e2e, gateway_eight_units_one_connection)
{
	struct env e;
	struct proc_result r;
	struct transition t[16];
	char yaml[4096], cfg[128], scen[128], out[128], *stats;
	const char *extra[] = { "--interval", "500", "--timeout", "200",
	    NULL };
	int len;
	size_t n;

	env_init(&e, 3);
	len = snprintf(yaml, sizeof(yaml),
	    "modbus:\n  port: %d\n"
	    "profiles:\n"
	    "  fsu:\n    gateway: true\n    points:\n"
	    "      - {name: uptime, address: 30001, type: uint32, unit: s}\n"
	    "      - {name: door, address: 10001}\n"
	    "    alarms:\n"
	    "      - {code: DOOR_OPEN, point: door, condition: equals, "
	    "threshold: 1, severity: minor}\n"
	    "  rectifier:\n    points:\n"
	    "      - {name: mains_voltage, address: 30001, type: uint16, "
	    "scale: 0.1, min: 0, max: 500}\n"
	    "      - {name: load_current, address: 30003, type: float32, "
	    "order: CDAB, min: 0, max: 2000}\n"
	    "      - {name: status, address: 40001, type: uint16}\n"
	    "    alarms:\n"
	    "      - {code: MAINS_FAIL, point: mains_voltage, condition: "
	    "below, threshold: 170, clear: 190, severity: critical}\n"
	    "      - {code: RECT_FAIL, point: status, condition: bit_set, "
	    "bit: 0, severity: major}\n"
	    "sites:\n  - {id: GW, area: a, region: A}\n"
	    "devices:\n"
	    "  - {id: GW-u1, site: GW, profile: fsu, host: 127.%u.0.1, "
	    "unit: 1}\n", e.port, e.x);
	for (int u = 2; u <= 8; u++)
		len += snprintf(yaml + len, sizeof(yaml) - (size_t)len,
		    "  - {id: GW-u%d, site: GW, profile: rectifier, "
		    "via: GW-u1, unit: %d}\n", u, u);
	tenv_write_file(e.dir, "gw.yaml", yaml);
	tenv_write_file(e.dir, "scen", "0ms dev:GW-u8 silent\n"
	    "300ms site:GW door_open\n");
	env_path(&e, "gw.yaml", cfg, sizeof(cfg));
	env_path(&e, "scen", scen, sizeof(scen));
	sim_start(&e, (const char *[]){ "-c", cfg, "--scenario", scen, NULL });
	poll_run(&e, "gw.yaml", "4", extra, &r);
	sim_stop(&e);
	n = transitions(&r, t, 16);
	cr_expect_not_null(find(t, n, "GW-u1", "DOOR_OPEN", "raise"), "%s",
	    r.out);
	cr_expect_not_null(find(t, n, "GW-u8", "COMM_LOSS", "raise"), "%s",
	    r.out);
	cr_expect_eq(n, 2, "unexpected transitions: %s", r.out);
	for (int u = 1; u <= 7; u++) {
		char id[16];
		struct devline d;

		snprintf(id, sizeof(id), "GW-u%d", u);
		d = device(&r, id);
		cr_expect_geq(d.polls, 7, "%s polls %ld", id, d.polls);
		cr_expect_eq(d.good, d.polls, "%s failed polls", id);
		cr_expect_eq(d.missed, 0, "%s missed polls", id);
		cr_expect_eq(d.comm_lost, 0);
	}
	cr_expect_eq(device(&r, "GW-u8").good, 0);
	cr_expect_eq(device(&r, "GW-u8").comm_lost, 1);
	cr_expect_eq(summary(&r, "connected"), 1, "%s", r.err);
	env_path(&e, "devsim.out", out, sizeof(out));
	stats = tenv_read_file(out);
	cr_expect(strstr(stats, " accepted=1 ") != NULL, "devsim: %s", stats);
	free(stats);
	proc_result_free(&r);
	env_fini(&e);
}

/*
 * (2) 5,000 devices from one poller process, each on its own endpoint
 * (127.X.0-19.*), so the poller holds ~5,000 descriptors, far above
 * select()'s 1024.  Three misbehave: D0010 never answers, D0020 answers
 * one byte per second, REFUSED has nothing listening.  Interval 1 s,
 * request timeout 500 ms, 9 s run of which the first 2 s are warm-up
 * (5,000 cold connects at once: timing counts from the second poll on).
 *
 * Expected: the three raise COMM_LOSS and nothing else does; every other
 * device answers every poll with no missed poll; and their poll-start
 * jitter (|gap between two poll starts - interval|) has p99 under 250 ms.
 * Why 250 ms: a loop that waited on the silent or trickling peer, or on a
 * connect, would delay everyone by a request timeout (500 ms) or a byte
 * interval (1 s), so the bound sits at half the smallest stall the test
 * must catch; measured p99 is ~15 ms (release) on the shared 2-core
 * machine, so the bound leaves room for sanitizer builds and neighbours'
 * load without letting a real stall pass.
 */
Test(poller_e2e, five_thousand_devices_misbehaving_three)
{
	struct env e;
	struct proc_result r;
	struct transition t[16];
	char sim[128], poll[128], scen[128];
	FILE *fs, *fp;
	size_t n;

	env_init(&e, 4);
	env_path(&e, "sim.yaml", sim, sizeof(sim));
	env_path(&e, "poll.yaml", poll, sizeof(poll));
	fs = fopen(sim, "w");
	fp = fopen(poll, "w");
	cr_assert(fs != NULL && fp != NULL);
	for (int k = 0; k < 2; k++) {
		FILE *f = k ? fp : fs;

		fprintf(f, "modbus:\n  port: %d\n  timeout: 500ms\n"
		    "  interval: 1s\n  connect_rate: 20000\n"
		    "profiles:\n  meter:\n    points:\n"
		    "      - {name: mains_voltage, address: 30001, type: "
		    "uint16, scale: 0.1, min: 0, max: 500}\n"
		    "      - {name: load_current, address: 30002, type: "
		    "float32, order: CDAB, min: 0, max: 2000}\n"
		    "      - {name: status, address: 40001, type: uint16}\n"
		    "    alarms:\n"
		    "      - {code: MAINS_FAIL, point: mains_voltage, "
		    "condition: below, threshold: 170, clear: 190, "
		    "severity: critical}\n"
		    "      - {code: RECT_FAIL, point: status, condition: "
		    "bit_set, bit: 0, severity: major}\n"
		    "sites:\n", e.port);
		for (int s = 0; s < 50; s++)
			fprintf(f, "  - {id: S%02d, area: a%d, region: A}\n", s,
			    s % 5);
		fprintf(f, "devices:\n");
		for (int i = 0; i < 4999; i++)
			fprintf(f, "  - {id: D%04d, site: S%02d, profile: meter, "
			    "host: 127.%u.%d.%d}\n", i, i % 50, e.x, i / 250,
			    i % 250 + 1);
		if (k)
			fprintf(f, "  - {id: REFUSED, site: S00, profile: meter, "
			    "host: 127.%u.99.1}\n", e.x);
		cr_assert_eq(fclose(f), 0);
	}
	tenv_write_file(e.dir, "scen", "0ms dev:D0010 silent\n"
	    "0ms dev:D0020 trickle 1000\n");
	env_path(&e, "scen", scen, sizeof(scen));
	sim_start(&e, (const char *[]){ "-c", sim, "--scenario", scen, NULL });
	poll_run(&e, "poll.yaml", "9", (const char *[]){ "--warmup", "2000",
	    NULL }, &r);
	n = transitions(&r, t, 16);
	cr_expect_eq(n, 3, "transitions: %s", r.out);
	cr_expect_not_null(find(t, n, "D0010", "COMM_LOSS", "raise"));
	cr_expect_not_null(find(t, n, "D0020", "COMM_LOSS", "raise"));
	cr_expect_not_null(find(t, n, "REFUSED", "COMM_LOSS", "raise"));
	cr_expect_eq(summary(&r, "devices"), 5000);
	cr_expect_eq(summary(&r, "polled"), 5000);
	cr_expect_eq(summary(&r, "good_devices"), 4997, "%s",
	    strstr(r.err, "tocsinpoll summary"));
	cr_expect_eq(summary(&r, "missed_polls"), 0);
	cr_expect_geq(summary(&r, "min_polls_good"), 7);
	cr_expect_geq(summary(&r, "connected"), 4999);
	cr_expect_gt(summary(&r, "max_fd"), 4000, "descriptors stayed low");
	cr_expect_geq(summary(&r, "jitter_n"), 4997 * 5);
	cr_expect_lt(summary(&r, "jitter_p99_ms"), 250, "%s",
	    strstr(r.err, "tocsinpoll summary"));
	cr_expect_eq(device(&r, "D0010").good, 0);
	cr_expect_eq(device(&r, "D0020").good, 0);
	cr_expect_eq(device(&r, "REFUSED").good, 0);
	cr_expect_eq(device(&r, "D0011").good, device(&r, "D0011").polls);
	proc_result_free(&r);
	env_fini(&e);
}
