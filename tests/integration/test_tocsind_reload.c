/*
 * test_tocsind_reload.c - SIGHUP on a real tocsind (docs/configuration.md,
 * "Reload"): devices added and removed while an incident is open with its
 * clocks running, an invalid file refused, two reloads in a row.
 *
 * The fleet: T1 (north, premium) with T1-rect on a port where nothing
 * listens (every poll fails, COMM_LOSS after one miss: an incident with
 * running SLA clocks) and T2 (south) with T2-gone on a port where this
 * test listens and never answers (COMM_LOSS too, and the test sees the
 * poller's connections).  The reload removes T2-gone and adds site T3
 * with T3-new (nothing listens: its COMM_LOSS incident must appear).
 *
 * Checked after the reload: the log's "reloaded" line with its counts and
 * the "reload done by every shard" line; T1's incident is the same id,
 * still open, with every clock's deadline unchanged to the millisecond
 * and its timeline intact (the old steps are a prefix of the new ones);
 * T2's incident stays listed, its alarm cleared with the note that its
 * device was removed; retired.json, refused at first (its temporary name
 * taken by a directory), is said, shown by tocsin_config_retired_unsaved
 * and written by itself once it can be; T2-gone is no longer polled (no connection in 2 s
 * while a poll every 300 ms would reconnect); T3-new's incident appears.
 * An invalid file: the log names FILE:LINE:COLUMN and the key, the running
 * configuration is kept (T3 stays polled), /metrics counts it "invalid".
 * Two SIGHUPs in a row (the second as soon as the first is logged, its
 * shards perhaps still swapping): both applied, nothing lost.  SIGTERM:
 * exit 0.  A restart on the same file and state dir: the retired device
 * comes back from state_dir/retired.json, T2's incident with its note and
 * T1's deadlines are restored.
 *
 * Loopback: 127.1.251-254.* (docs/testing.md: each test its own block).
 * Bounds: the port line 10 s; /readyz 15 s; incidents 20 s; log lines
 * 10 s; children stopped by PID (pubfix_stop).
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/dfix.h"
#include "tests/support/httpfix.h"
#include "tests/support/promtext.h"
#include "tests/support/pubfix.h"
#include "tests/support/tenv.h"

static struct {
	struct dfix d;
	char	 net[32];	/* "127.1.Y." */
	int	 deadport;	/* nothing listens there */
	int	 lport;		/* the test listens there (T2-gone) */
	int	 lfd;
} R;

static void
renv_fini(void)
{
	if (R.lfd >= 0)
		close(R.lfd);
	dfix_fini(&R.d, "test_tocsind_reload");
}

TestSuite(tocsind_reload, .fini = renv_fini, .timeout = 180);

/* A listening socket on net+"2":port (port 0: any), non-blocking. */
static int
listen_on(const char *host, int *port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;

	cr_assert_geq(fd, 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = 0;
	cr_assert_eq(inet_pton(AF_INET, host, &sa.sin_addr), 1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0,
	    "bind %s: %s", host, strerror(errno));
	cr_assert_eq(listen(fd, 64), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void
setup_salt(unsigned salt)
{
	unsigned r = tenv_seed(salt);
	char a[40];

	R.lfd = -1;
	dfix_init(&R.d, "reload");
	/* docs/testing.md: 127.1.251-254.*, the first test 251 or 253, the
	 * second 252 or 254 */
	snprintf(R.net, sizeof(R.net), "127.1.%u.", (salt == 131 ? 251u : 252u)
	    + 2 * ((r >> 8) & 1));
	snprintf(a, sizeof(a), "%s1", R.net);
	R.deadport = tenv_free_port(a);
	cr_assert_gt(R.deadport, 0);
	snprintf(a, sizeof(a), "%s2", R.net);
	R.lfd = listen_on(a, &R.lport);
}

static void
setup(void)
{
	setup_salt(131);
}

#define TOKEN	"tocsin-reload-token-5f0c2a"
#define AUTH	"Authorization: Bearer " TOKEN "\r\n"

/*
 * The config: which = 0 before (T1-rect, T2-gone), 1 after (T1-rect,
 * T3-new; T3 listed first, so every site's index moves), 2 invalid (line
 * 2: modbus.timeout "banana").
 */
static void
config(int which)
{
	char yaml[4096];
	size_t n;

	dfix_token(R.d.dir, TOKEN, 0600);
	n = (size_t)snprintf(yaml, sizeof(yaml),
	    "daemon: {shards: 2, state_dir: %s/state}\n"
	    "modbus: {port: %d, timeout: %s, interval: 300ms, "
	    "comm_loss_misses: 1, backoff_min: 100ms, backoff_max: 300ms}\n"
	    "output: {file: %s/out.jsonl}\n"
	    "kafka: {brokers: \"\"}\n"
	    "http: {listen: \"127.0.0.1:0\", token_file: %s/token}\n"
	    "profiles:\n  rect:\n    points:\n"
	    "      - {name: v, address: 30001}\n"
	    "    alarms:\n      - {code: MAINS_FAIL, point: v, condition: "
	    "below, threshold: 170, clear: 190, severity: critical}\n"
	    "sites:\n%s"
	    "  - {id: T1, area: north, region: A, tenants: "
	    "[{customer: c1, tier: premium}]}\n"
	    "  - {id: T2, area: south, region: A, tenants: "
	    "[{customer: c2, tier: standard}]}\n",
	    R.d.dir, R.deadport, which == 2 ? "banana" : "100ms", R.d.dir,
	    R.d.dir,
	    which != 0 ? "  - {id: T3, area: east, region: B, tenants: "
	    "[{customer: c3, tier: standard}]}\n" : "");
	n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "devices:\n"
	    "  - {id: T1-rect, site: T1, profile: rect, host: %s1}\n", R.net);
	if (which == 0)
		n += (size_t)snprintf(yaml + n, sizeof(yaml) - n,
		    "  - {id: T2-gone, site: T2, profile: rect, host: %s2, "
		    "port: %d}\n", R.net, R.lport);
	else
		(void)snprintf(yaml + n, sizeof(yaml) - n,
		    "  - {id: T3-new, site: T3, profile: rect, host: %s3}\n",
		    R.net);
	tenv_write_file(R.d.dir, "t.yaml", yaml);
}

/* Occurrences of s in the log. */
static int
log_count_of(const char *s)
{
	char *log = dfix_log(&R.d, 0);
	int n = 0;

	for (const char *p = log; (p = strstr(p, s)) != NULL; p += strlen(s))
		n++;
	free(log);
	return n;
}

/* Waits (10 s) for the log to hold s at least n times. */
static void
wait_log(const char *s, int n)
{
	int64_t end = tenv_mono_ms() + 10000;

	while (log_count_of(s) < n && tenv_mono_ms() < end)
		usleep(50000);
	if (log_count_of(s) < n) {
		char *log = dfix_log(&R.d, 0);

		cr_assert_fail("no %d x \"%s\" in 10 s: %s", n, s, log);
	}
}

static void
daemon_up(void)
{
	dfix_up(&R.d, "t.yaml", 10000, 15000);
}

static json_t *
get_json(const char *path, int want)
{
	json_t *j;
	int st = dfix_json(&R.d, "GET", path, NULL, NULL, &j);

	cr_assert_eq(st, want, "%s: %d %s", path, st, json_dumps(j,
	    JSON_COMPACT));
	return j;
}

/* Waits (20 s) for an incident at site; its id into out. */
static void
wait_incident(const char *site, char *out, size_t len)
{
	char path[128];
	int64_t end = tenv_mono_ms() + 20000;

	snprintf(path, sizeof(path), "/api/v1/incidents?site=%s", site);
	for (;;) {
		json_t *j = get_json(path, 200), *a = json_object_get(j,
		    "incidents");

		if (json_array_size(a) > 0) {
			snprintf(out, len, "%s", json_string_value(
			    json_object_get(json_object_get(json_array_get(a,
			    0), "incident"), "id")));
			json_decref(j);
			return;
		}
		json_decref(j);
		if (tenv_mono_ms() >= end) {
			char *log = dfix_log(&R.d, 0);

			cr_assert_fail("no incident at %s in 20 s: %s", site,
			    log);
		}
		usleep(200000);
	}
}

/* GET /api/v1/incidents/<id> once its timeline is complete. */
static json_t *
detail(const char *id)
{
	char path[128];
	int64_t end = tenv_mono_ms() + 10000;
	json_t *j;

	snprintf(path, sizeof(path), "/api/v1/incidents/%s", id);
	for (;;) {
		j = get_json(path, 200);
		if (json_is_true(json_object_get(j, "timeline_complete")) ||
		    tenv_mono_ms() >= end)
			return j;
		json_decref(j);
		usleep(100000);
	}
}

/* Accepts and closes what is queued; returns how many connections. */
static int
drain_accepts(void)
{
	int n = 0, fd;

	while ((fd = accept(R.lfd, NULL, NULL)) >= 0) {
		close(fd);
		n++;
	}
	return n;
}

/* A connection to the listener within ms? */
static int
connected_within(int ms)
{
	struct pollfd p = { R.lfd, POLLIN, 0 };

	return poll(&p, 1, ms) > 0;
}

static double
metric(const char *series)
{
	struct httpfix_resp r;
	double v = -1;

	cr_assert_eq(httpfix_do(R.d.port, "GET", "/metrics", NULL, NULL, &r),
	    200);
	if (promtext_value(r.body, series, &v) != 0)
		v = -1;
	httpfix_free(&r);
	return v;
}

/* The clocks' deadlines of an incident's detail, "kind=deadline;...". */
static void
deadlines(json_t *d, char *buf, size_t len)
{
	json_t *clocks = json_object_get(json_object_get(d, "incident"),
	    "clocks"), *c;
	const char *k;
	size_t o = 0;

	buf[0] = '\0';
	json_object_foreach(clocks, k, c) {
		json_t *dl = json_object_get(c, "deadline");

		o += (size_t)snprintf(buf + o, len - o, "%s=%s;", k,
		    json_is_string(dl) ? json_string_value(dl) : "-");
	}
}

Test(tocsind_reload, add_remove_keep_incident_invalid_twice)
{
	char t1[64], t2[64], t3[64], dl0[512], dl1[512], *s0, *s1, tmp[160];
	json_t *d0, *d1, *tl0, *tl1, *d2, *st;
	const char *state;
	size_t i;
	int found;

	setup();
	config(0);
	daemon_up();
	wait_incident("T1", t1, sizeof(t1));
	wait_incident("T2", t2, sizeof(t2));
	cr_expect(connected_within(3000), "T2-gone is polled");
	d0 = detail(t1);
	deadlines(d0, dl0, sizeof(dl0));
	cr_assert(strstr(dl0, "ack=20") != NULL, "T1's clocks run: %s", dl0);
	tl0 = json_object_get(d0, "timeline");
	/* a planned-work window at T2 (HTTP), listed by name after a reload
	 * that moves every site's index */
	{
		struct httpfix_resp hr;

		cr_assert_eq(httpfix_do(R.d.port, "POST", "/api/v1/maintenance",
		    AUTH, "{\"site\":\"T2\",\"start\":"
		    "\"2030-01-01T00:00:00Z\",\"end\":\"2030-01-02T00:00:00Z\","
		    "\"reason\":\"rectifier swap\",\"actor\":\"amy\"}", &hr),
		    201, "%s", hr.body);
		httpfix_free(&hr);
	}

	/* remove T2-gone, add T3 and T3-new; retired.json cannot be written
	 * at first (its temporary name is a directory: refused as a full
	 * disk would refuse it) */
	snprintf(tmp, sizeof(tmp), "%s/state/retired.json.tmp", R.d.dir);
	cr_assert_eq(mkdir(tmp, 0755), 0, "%s: %s", tmp, strerror(errno));
	config(1);
	cr_assert_eq(kill(R.d.daemon, SIGHUP), 0);
	wait_log("reloaded config=", 1);
	wait_log("reload done by every shard", 1);
	/* said, shown, and written by itself once it can be: a restart now
	 * keeps T2's incident without another reload */
	wait_log("reload: cannot write", 1);
	cr_expect_eq(metric("tocsin_config_retired_unsaved"), 1);
	cr_assert_eq(rmdir(tmp), 0);
	wait_log("retired.json written after", 1);
	cr_expect_eq(metric("tocsin_config_retired_unsaved"), 0);
	tmp[strlen(tmp) - 4] = '\0';
	cr_expect_eq(access(tmp, R_OK), 0, "%s", tmp);
	cr_expect_eq(log_count_of("devices_added=1 devices_removed=1 "
	    "devices_changed=0 devices_kept=1 devices_retired=1"), 1);
	/* T2-gone: its connection closed, no new one while polls would
	 * come every 300 ms */
	usleep(500000);
	(void)drain_accepts();
	cr_expect(!connected_within(2000), "T2-gone still polled after the "
	    "reload");
	/* T3-new polled: its COMM_LOSS incident */
	wait_incident("T3", t3, sizeof(t3));

	/* T1's incident: the same, its clocks' deadlines to the ms, its
	 * timeline a continuation of the one before */
	d1 = detail(t1);
	deadlines(d1, dl1, sizeof(dl1));
	cr_expect_str_eq(dl1, dl0, "deadlines moved");
	state = json_string_value(json_object_get(json_object_get(d1,
	    "incident"), "state"));
	cr_expect_str_eq(state, "open");
	tl1 = json_object_get(d1, "timeline");
	cr_assert_geq(json_array_size(tl1), json_array_size(tl0));
	for (i = 0; i < json_array_size(tl0); i++) {
		s0 = json_dumps(json_array_get(tl0, i), JSON_SORT_KEYS);
		s1 = json_dumps(json_array_get(tl1, i), JSON_SORT_KEYS);
		cr_expect_str_eq(s1, s0, "timeline step %zu", i);
		free(s0);
		free(s1);
	}

	/* T2's incident: still there, cleared, the note on its timeline */
	d2 = detail(t2);
	state = json_string_value(json_object_get(json_object_get(d2,
	    "incident"), "state"));
	cr_expect(strcmp(state, "cleared") == 0 || strcmp(state,
	    "resolved") == 0, "T2 state %s", state);
	found = 0;
	json_array_foreach(json_object_get(d2, "timeline"), i, st) {
		json_t *note = json_object_get(st, "note");

		if (json_is_string(note) && strstr(json_string_value(note),
		    "T2-gone removed from the configuration") != NULL)
			found = 1;
	}
	cr_expect(found, "the removal is noted on T2's timeline");
	json_decref(d0);
	json_decref(d1);
	json_decref(d2);
	cr_expect_eq(metric("tocsin_config_reloads_total{result=\"ok\"}"), 1);
	/* the HTTP routes read the new fleet: the window still at T2, the
	 * new site known, the removed device not listed at its site */
	d2 = get_json("/api/v1/maintenance", 200);
	st = json_array_get(json_object_get(d2, "windows"), 0);
	cr_expect_str_eq(json_string_value(json_object_get(st, "site")), "T2");
	json_decref(d2);
	d2 = get_json("/api/v1/sites/T3", 200);
	st = json_array_get(json_object_get(json_object_get(d2, "site"),
	    "devices"), 0);
	cr_expect_str_eq(json_string_value(json_object_get(st, "id")),
	    "T3-new");
	json_decref(d2);
	d2 = get_json("/api/v1/sites/T2", 200);
	cr_expect_eq(json_array_size(json_object_get(json_object_get(d2,
	    "site"), "devices")), 0, "T2-gone is retired");
	json_decref(d2);

	/* an invalid file: refused, named, counted; the running one stays */
	config(2);
	cr_assert_eq(kill(R.d.daemon, SIGHUP), 0);
	wait_log("reload refused:", 1);
	wait_log("t.yaml:2:", 1);
	cr_expect_geq(log_count_of("modbus.timeout"), 1);
	usleep(300000);
	cr_expect_eq(metric("tocsin_config_reloads_total{result=\"invalid\"}"),
	    1);
	cr_expect_eq(metric("tocsin_config_last_reload_successful"), 0);
	wait_incident("T3", t3, sizeof(t3));
	wait_incident("T1", t1, sizeof(t1));

	/* twice in a row, the valid file again: the second while the
	 * shards may still be swapping for the first (two signals sent at
	 * once are one, as Unix coalesces them) */
	config(1);
	cr_assert_eq(kill(R.d.daemon, SIGHUP), 0);
	wait_log("reloaded config=", 2);
	cr_assert_eq(kill(R.d.daemon, SIGHUP), 0);
	wait_log("reloaded config=", 3);
	wait_log("reload done by every shard", 3);
	usleep(1200000);
	cr_expect_eq(metric("tocsin_config_reloads_total{result=\"ok\"}"), 3);
	cr_expect_eq(metric("tocsin_config_last_reload_successful"), 1);
	d1 = detail(t1);
	deadlines(d1, dl1, sizeof(dl1));
	cr_expect_str_eq(dl1, dl0, "deadlines moved after two reloads");
	json_decref(d1);

	/* exit 0, no ThreadSanitizer report, the token not logged */
	dfix_stop_clean(&R.d, TOKEN);

	/* a restart reads the file alone: the retired device comes back
	 * from the state dir, so T2's incident is restored, note and all */
	{
		char prev[160], path[128];

		snprintf(path, sizeof(path), "%s/tocsind.err", R.d.dir);
		snprintf(prev, sizeof(prev), "%s.1", path);
		cr_assert_eq(rename(path, prev), 0);
	}
	daemon_up();
	wait_log("retired devices=1 kept from earlier reloads", 1);
	wait_incident("T2", t3, sizeof(t3));
	cr_expect_str_eq(t3, t2);
	d2 = detail(t2);
	found = 0;
	json_array_foreach(json_object_get(d2, "timeline"), i, st) {
		json_t *note = json_object_get(st, "note");

		if (json_is_string(note) && strstr(json_string_value(note),
		    "T2-gone removed from the configuration") != NULL)
			found = 1;
	}
	cr_expect(found, "T2's incident and its note after a restart");
	json_decref(d2);
	d1 = detail(t1);
	deadlines(d1, dl1, sizeof(dl1));
	cr_expect_str_eq(dl1, dl0, "deadlines moved across the restart");
	json_decref(d1);
	/* exit 0, no ThreadSanitizer report, the token not logged */
	dfix_stop_clean(&R.d, TOKEN);
}

/* ---- connections of unchanged devices ---- */

/*
 * devsim serves T1-rect (it answers: comm ok).  A reload that adds a
 * device keeps T1-rect's connection (no new connect: the client is
 * reloaded in place, "connections=kept"); one that changes the modbus
 * section reopens it ("connections=reopened", one more connect).
 */
static void
sim_config(int which)
{
	char yaml[2048];

	snprintf(yaml, sizeof(yaml),
	    "daemon: {shards: 2, state_dir: %s/state}\n"
	    "modbus: {port: %d, timeout: 200ms, interval: %s, "
	    "comm_loss_misses: 2, backoff_min: 100ms, backoff_max: 500ms}\n"
	    "output: {file: %s/out.jsonl}\n"
	    "kafka: {brokers: \"\"}\n"
	    "http: {listen: \"127.0.0.1:0\"}\n"
	    "profiles:\n  rect:\n    points:\n"
	    "      - {name: mains_voltage, address: 30001, type: uint16, "
	    "scale: 0.1, min: 0, max: 500}\n"
	    "sites:\n"
	    "  - {id: T1, area: north, region: A, tenants: "
	    "[{customer: c1, tier: premium}]}\n"
	    "devices:\n"
	    "  - {id: T1-rect, site: T1, profile: rect, host: %s1}\n%s%s%s",
	    R.d.dir, R.deadport, which == 2 ? "400ms" : "300ms", R.d.dir, R.net,
	    which != 0 ? "  - {id: T1-dead, site: T1, profile: rect, host: " :
	    "", which != 0 ? R.net : "", which != 0 ? "9}\n" : "");
	tenv_write_file(R.d.dir, "t.yaml", yaml);
}

/* Waits (10 s) for a metric to reach v. */
static void
wait_metric(const char *series, double v)
{
	int64_t end = tenv_mono_ms() + 10000;

	while (metric(series) != v && tenv_mono_ms() < end)
		usleep(100000);
	cr_assert_eq(metric(series), v, "%s", series);
}

Test(tocsind_reload, unchanged_devices_keep_their_connection)
{
	const char *ok = "tocsin_modbus_connects_total{result=\"ok\"}";
	double c0;

	setup_salt(137);
	sim_config(0);
	dfix_sim_start(&R.d, "t.yaml", NULL);
	daemon_up();
	wait_metric("tocsin_modbus_devices{comm=\"ok\"}", 1);
	usleep(1000000);
	c0 = metric(ok);
	cr_assert_geq(c0, 1);

	sim_config(1);
	cr_assert_eq(kill(R.d.daemon, SIGHUP), 0);
	wait_log("reload done by every shard", 1);
	cr_expect_eq(log_count_of("connections=kept"), 1);
	usleep(1500000);
	cr_expect_eq(metric(ok), c0, "T1-rect reconnected at a reload");
	cr_expect_eq(metric("tocsin_modbus_devices{comm=\"ok\"}"), 1);
	cr_expect_geq(metric("tocsin_modbus_connects_total{result="
	    "\"failed\"}"), 1, "T1-dead is polled");

	/* the modbus section changed: the client is made anew */
	sim_config(2);
	cr_assert_eq(kill(R.d.daemon, SIGHUP), 0);
	wait_log("reload done by every shard", 2);
	cr_expect_eq(log_count_of("connections=reopened"), 1);
	wait_metric(ok, c0 + 1);
	/* exit 0, no ThreadSanitizer report */
	dfix_stop_clean(&R.d, NULL);
}
