/*
 * test_tocsind_live.c - `tocsind -c CONFIG` live, as an operator runs it:
 * devsim serves a small fleet and plays a scenario, tocsind polls it,
 * correlates on its shard threads and appends incident events (JSON lines)
 * to the file named by output.file; the test reads that file.
 *
 * The fleet: two sites in two areas, one rectifier each (T1 premium
 * through one of its tenants, T2 standard), on 127.X.Y.1-2 at a port
 * free there (X in 50-99, clear of test_devsim's 100-199 and
 * test_poller's 200-249).  The premium ack clock is 2 s, so SLA events
 * come due while no alarm moves: only the live tick can emit them.
 *
 * Bounds: devsim's ready line 10 s; each wait for a line in the output
 * 20 s; tocsind gets 15 s to exit after SIGTERM, then SIGKILL; devsim is
 * stopped by PID (SIGTERM, SIGKILL after 3 s) and has PR_SET_PDEATHSIG,
 * and so has tocsind.  Child output goes to files, never to pipes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
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

#include "correlator/fleet.h"
#include "daemon/utc.h"
#include "tests/support/httpfix.h"
#include "tests/support/kbroker.h"
#include "tests/support/ktxnfix.h"
#include "tests/support/proc.h"
#include "tests/support/pubfix.h"
#include "tests/support/tenv.h"

struct env {
	char	 dir[64];	/* mkdtemp */
	char	 net[32];	/* "127.X.Y." */
	int	 port;		/* free on 127.X.Y.1 when picked */
	pid_t	 sim;		/* devsim, or 0 */
	pid_t	 daemon;	/* tocsind, or 0 */
};

static void
env_init(struct env *e, unsigned salt)
{
	unsigned r = tenv_seed(salt);
	char a[40];

	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/tocsin-live-XXXXXX");
	cr_assert_not_null(mkdtemp(e->dir));
	snprintf(e->net, sizeof(e->net), "127.%u.%u.", 50 + r % 50,
	    (r >> 8) % 250);
	snprintf(a, sizeof(a), "%s1", e->net);
	e->port = tenv_free_port(a);
	cr_assert_gt(e->port, 0, "no free port on %s", a);
}

static void
env_path(const struct env *e, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", e->dir, name);
}


static char *
read_env_file(const struct env *e, const char *name)
{
	char path[128];

	env_path(e, name, path, sizeof(path));
	return tenv_read_file(path);
}

/* Starts argv with stdout/stderr to files out/err in the test's dir. */
static pid_t
spawn(const struct env *e, const char *const *argv, const char *out,
    const char *err)
{
	cr_assert_eq(access(argv[0], X_OK), 0, "no program at %s (set "
	    "TOCSIN_BUILD)", argv[0]);
	return pubfix_spawn(e->dir, (char *const *)argv, out, err);
}

/* Starts devsim -c cfg --scenario scen and waits (10 s) for "ready". */
static void
sim_start(struct env *e, const char *cfg, const char *scen)
{
	char prog[512], c[128], s[128];
	const char *argv[8];
	int64_t end = tenv_mono_ms() + 10000;

	snprintf(prog, sizeof(prog), "%s", proc_build_path("bench/devsim"));
	env_path(e, cfg, c, sizeof(c));
	env_path(e, scen, s, sizeof(s));
	argv[0] = prog;
	argv[1] = "-c";
	argv[2] = c;
	argv[3] = "--scenario";
	argv[4] = s;
	argv[5] = NULL;
	e->sim = spawn(e, argv, "devsim.out", "devsim.err");
	while (tenv_mono_ms() < end) {
		char *text = read_env_file(e, "devsim.out");
		int ready = strstr(text, "devsim ready") != NULL, status;

		free(text);
		if (ready)
			return;
		if (waitpid(e->sim, &status, WNOHANG) == e->sim) {
			e->sim = 0;
			text = read_env_file(e, "devsim.err");
			cr_assert_fail("devsim exited: %s", text);
		}
		usleep(20000);
	}
	cr_assert_fail("devsim not ready in 10 s");
}

/*
 * Sends sig and waits at most ms for the exit; SIGKILL after that.
 * Returns the exit code, 128+N for signal N, -1 if it had to be killed.
 */
static int
stop_pid(pid_t *pid, int sig, int ms)
{
	int64_t end = tenv_mono_ms() + ms;
	int status;

	if (*pid <= 0)
		return -1;
	kill(*pid, sig);
	while (tenv_mono_ms() < end) {
		if (waitpid(*pid, &status, WNOHANG) == *pid) {
			*pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) :
			    128 + WTERMSIG(status);
		}
		usleep(10000);
	}
	kill(*pid, SIGKILL);
	waitpid(*pid, &status, 0);
	*pid = 0;
	return -1;
}

static void
env_fini(struct env *e)
{
	char cmd[128];

	stop_pid(&e->daemon, SIGKILL, 3000);
	stop_pid(&e->sim, SIGTERM, 3000);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "test_tocsind_live: could not remove %s\n",
		    e->dir);
}

/*
 * The test fleet, its incident lines going to `output`.  With
 * down_device, T9-rect at 127.X.Y.9 (nothing listens there) joins T2.
 */
static void
fleet_yaml(const struct env *e, const char *name, const char *output,
    int down_device)
{
	char yaml[4096];

	snprintf(yaml, sizeof(yaml),
	    "daemon:\n  shards: 2\n  log_level: info\n"
	    "  state_dir: %s/state\n"
	    "modbus:\n  port: %d\n  timeout: 200ms\n  interval: 300ms\n"
	    "  comm_loss_misses: 2\n  backoff_min: 100ms\n"
	    "  backoff_max: 500ms\n"
	    "output:\n  file: %s\n"
	    "http:\n  listen: \"127.0.0.1:0\"\n"
	    "profiles:\n"
	    "  rectifier:\n    points:\n"
	    "      - {name: mains_voltage, address: 30001, type: uint16, "
	    "scale: 0.1, min: 0, max: 500}\n"
	    "    alarms:\n"
	    "      - {code: MAINS_FAIL, point: mains_voltage, condition: "
	    "below, threshold: 170, clear: 190, severity: critical}\n"
	    "sites:\n"
	    "  - {id: T1, area: north, region: A, tenants: [{customer: cmcc, "
	    "tier: standard}, {customer: cucc, tier: premium}]}\n"
	    "  - {id: T2, area: south, region: B, tenants: [{customer: ctcc, "
	    "tier: standard}]}\n"
	    "devices:\n"
	    "  - {id: T1-rect, site: T1, profile: rectifier, host: %s1}\n"
	    "  - {id: T2-rect, site: T2, profile: rectifier, host: %s2}\n"
	    "%s%s%s"
	    "sla:\n  clocks:\n"
	    "    - {clock: ack, tier: premium, duration: 2s}\n"
	    "    - {clock: ack, tier: standard, duration: 1h}\n"
	    "    - {clock: arrive, duration: 2h}\n"
	    "    - {clock: resolve, duration: 8h}\n"
	    "    - {clock: resolve_complex, duration: 24h}\n",
	    e->dir, e->port, output, e->net, e->net,
	    down_device ? "  - {id: T9-rect, site: T2, profile: rectifier, "
	    "host: " : "", down_device ? e->net : "",
	    down_device ? "9}\n" : "");
	tenv_write_file(e->dir, name, yaml);
}

/* Starts tocsind -c cfg (with more args) in the background. */
static void
daemon_start(struct env *e, const char *cfg, const char *const *extra)
{
	char prog[512], c[128];
	const char *argv[12];
	int n = 0;

	snprintf(prog, sizeof(prog), "%s", proc_build_path("tocsind"));
	env_path(e, cfg, c, sizeof(c));
	argv[n++] = prog;
	argv[n++] = "-c";
	argv[n++] = c;
	for (; extra != NULL && *extra != NULL && n < 11; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	e->daemon = spawn(e, argv, "tocsind.out", "tocsind.err");
}

/*
 * Every line of the file as a JSON event; the array is a new reference.
 * Read while the daemon writes (wait_for): a last line without its
 * newline is not whole yet and waits for the next read (pubfix).
 */
static json_t *
events(const struct env *e, const char *name)
{
	char path[128];
	json_t *a, *o;
	size_t i;
	int bad;

	env_path(e, name, path, sizeof(path));
	a = pubfix_file_events(path, &bad);
	cr_assert_eq(bad, 0, "%d lines of %s are not JSON objects", bad, name);
	json_array_foreach(a, i, o)
		cr_assert_str_eq(json_string_value(json_object_get(o,
		    "schema")), "tocsin.incident/1");
	return a;
}

static const char *
istr(const json_t *ev, const char *key)
{
	const char *s = json_string_value(json_object_get(
	    json_object_get(ev, "incident"), key));

	return s != NULL ? s : "";
}

static const char *
root_str(const json_t *ev, const char *key)
{
	const char *s = json_string_value(json_object_get(json_object_get(
	    json_object_get(ev, "incident"), "root_cause"), key));

	return s != NULL ? s : "";
}

/*
 * The first event of evs with this event name, site (or NULL: any) and
 * root cause code (or NULL), and incident id (or NULL); borrowed.
 */
static json_t *
find(json_t *evs, const char *event, const char *site, const char *code,
    const char *id)
{
	size_t i;
	json_t *ev;

	json_array_foreach(evs, i, ev) {
		if (strcmp(json_string_value(json_object_get(ev, "event")),
		    event) != 0)
			continue;
		if (site != NULL && strcmp(istr(ev, "site"), site) != 0)
			continue;
		if (code != NULL && strcmp(root_str(ev, "alarm"), code) != 0)
			continue;
		if (id != NULL && strcmp(istr(ev, "id"), id) != 0)
			continue;
		return ev;
	}
	return NULL;
}

/* An event with this incident id and state, or NULL. */
static json_t *
find_state(json_t *evs, const char *id, const char *state)
{
	size_t i;
	json_t *ev;

	json_array_foreach(evs, i, ev)
		if (strcmp(istr(ev, "id"), id) == 0 &&
		    strcmp(istr(ev, "state"), state) == 0)
			return ev;
	return NULL;
}

/*
 * Waits (20 s at most) until pred(events) holds; returns the events (a
 * new reference).  Fails naming what, with the daemon's log, otherwise.
 */
static json_t *
wait_for(struct env *e, const char *file, const char *what,
    int (*pred)(json_t *, void *), void *arg)
{
	int64_t end = tenv_mono_ms() + 20000;

	for (;;) {
		json_t *evs = events(e, file);
		char *log;
		int status;

		if (pred(evs, arg))
			return evs;
		json_decref(evs);
		if (e->daemon > 0 && waitpid(e->daemon, &status,
		    WNOHANG) == e->daemon) {
			e->daemon = 0;
			log = read_env_file(e, "tocsind.err");
			cr_assert_fail("tocsind exited (status %d) before %s:\n%s",
			    status, what, log);
		}
		if (tenv_mono_ms() >= end) {
			log = read_env_file(e, "tocsind.err");
			cr_assert_fail("no %s in 20 s; tocsind log:\n%s", what,
			    log);
		}
		usleep(50000);
	}
}

static int
has_mains_opened(json_t *evs, void *arg)
{
	(void)arg;
	return find(evs, "opened", "T1", "MAINS_FAIL", NULL) != NULL;
}

static int
has_event(json_t *evs, void *arg)
{
	const char **want = arg;

	return find(evs, want[1], NULL, NULL, want[0]) != NULL;
}

static int
has_state(json_t *evs, void *arg)
{
	const char **want = arg;

	return find_state(evs, want[0], want[1]) != NULL;
}

/* A sanitizer's report in a log, or NULL. */
static const char *
sanitizer_report(const char *log)
{
	static const char *const marks[] = { "ThreadSanitizer",
	    "AddressSanitizer", "LeakSanitizer", "runtime error" };

	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
		if (strstr(log, marks[i]) != NULL)
			return marks[i];
	return NULL;
}

/*
 * Mains fails at T1 at 500 ms and comes back at 8 s.  Expected in the
 * output file: T1's incident opened with MAINS_FAIL on T1-rect as root
 * cause, naming both tenants and the site's premium tier; while the alarm
 * stands, the 2 s premium ack clock warns and breaches (emitted by the
 * shard's tick, no alarm moves then); after the restore the incident
 * moves to "cleared" (auto_resolve is off, as in replay); nothing at T2.
 * SIGTERM then stops tocsind with exit 0 within 15 s, the stop line
 * saying why, nothing refused or dropped.
 */
Test(tocsind_live, mains_fail_opens_and_clears_then_sigterm)
{
	struct env e;
	char out[128], *log;
	const char *want[2];
	json_t *evs, *op, *cust, *c, *ev;
	int64_t t0;
	size_t i;
	int seen[2] = { 0, 0 }, rc;

	env_init(&e, 1);
	env_path(&e, "incidents.jsonl", out, sizeof(out));
	fleet_yaml(&e, "live.yaml", out, 0);
	tenv_write_file(e.dir, "scen", "500ms site:T1 mains_fail\n"
	    "8s site:T1 mains_restore\n");
	sim_start(&e, "live.yaml", "scen");
	daemon_start(&e, "live.yaml", NULL);

	evs = wait_for(&e, "incidents.jsonl", "MAINS_FAIL incident at T1",
	    has_mains_opened, NULL);
	op = find(evs, "opened", "T1", "MAINS_FAIL", NULL);
	cr_expect_str_eq(root_str(op, "device"), "T1-rect");
	cr_expect_str_eq(istr(op, "tier"), "premium");
	cr_expect_str_eq(istr(op, "state"), "open");
	cust = json_object_get(json_object_get(op, "incident"), "customers");
	cr_expect_eq(json_array_size(cust), 2, "customers of T1");
	json_array_foreach(cust, i, c) {
		const char *id = json_string_value(json_object_get(c, "id"));
		const char *tier = json_string_value(json_object_get(c, "tier"));

		if (strcmp(id, "cmcc") == 0 && strcmp(tier, "standard") == 0)
			seen[0] = 1;
		if (strcmp(id, "cucc") == 0 && strcmp(tier, "premium") == 0)
			seen[1] = 1;
	}
	cr_expect(seen[0] && seen[1], "tenants of T1 not named");
	want[0] = strdup(istr(op, "id"));
	json_decref(evs);

	/*
	 * The breach is written while the alarm still stands: the tick, not
	 * the clear's own advance of the engine, brought it out.
	 */
	want[1] = "sla_breached";
	evs = wait_for(&e, "incidents.jsonl", "sla_breached at T1",
	    has_event, want);
	cr_expect_null(find_state(evs, want[0], "cleared"),
	    "the breach came out only with the clear: no live tick");
	json_decref(evs);

	want[1] = "cleared";

	evs = wait_for(&e, "incidents.jsonl", "cleared incident at T1",
	    has_state, want);
	/* the ack clock (2 s) warned and breached before the restore */
	cr_expect_not_null(find(evs, "sla_warning", "T1", NULL, want[0]),
	    "no sla_warning from the tick");
	cr_expect_not_null(find(evs, "sla_breached", "T1", NULL, want[0]),
	    "no sla_breached from the tick");
	/* one incident, seq 1, 2, 3, ... in file order; nothing at T2 */
	{
		json_int_t seq = 0;

		json_array_foreach(evs, i, ev) {
			cr_expect_str_eq(istr(ev, "id"), want[0]);
			cr_expect_eq(json_integer_value(json_object_get(ev,
			    "seq")), ++seq, "seq gap");
		}
	}
	json_decref(evs);

	t0 = tenv_mono_ms();
	rc = stop_pid(&e.daemon, SIGTERM, 15000);
	log = read_env_file(&e, "tocsind.err");
	cr_expect_eq(rc, 0, "tocsind exit %d after SIGTERM:\n%s", rc, log);
	cr_expect_lt(tenv_mono_ms() - t0, 15000);
	cr_expect(strstr(log, "level=info start ") != NULL, "%s", log);
	cr_expect(strstr(log, "stop reason=SIGTERM census=\"2 sites") != NULL,
	    "%s", log);
	cr_expect_eq(pubfix_stop_counter(log, "alarms_pending"), 0, "%s", log);
	cr_expect_geq(pubfix_stop_counter(log, "alarms_queued"), 1, "%s", log);
	cr_expect_eq(pubfix_stop_counter(log, "write_errors"), 0, "%s", log);
	cr_expect_geq(pubfix_stop_counter(log, "incidents_opened"), 1, "%s", log);
	cr_expect_null(sanitizer_report(log), "%s", log);
	free((char *)want[0]);
	free(log);
	/* nothing went to stdout: output.file was set */
	log = read_env_file(&e, "tocsind.out");
	cr_expect_str_eq(log, "");
	free(log);
	env_fini(&e);
}

/*
 * Device T9-rect is down (nothing listens at its address): its polls
 * fail, COMM_LOSS is raised after two misses and reaches the output as an
 * incident at T2 with COMM_LOSS on T9-rect as root cause.  T1-rect and
 * T2-rect answer, and raise nothing.  `-d 5` stops it: exit 0.
 */
Test(tocsind_live, down_device_raises_comm_loss_to_the_output)
{
	struct env e;
	char out[128], cfg[128];
	struct proc_result r;
	json_t *evs, *op;

	env_init(&e, 2);
	env_path(&e, "incidents.jsonl", out, sizeof(out));
	/* devsim serves T1 and T2 only; tocsind also polls T9 */
	fleet_yaml(&e, "sim.yaml", out, 0);
	fleet_yaml(&e, "live.yaml", out, 1);
	tenv_write_file(e.dir, "scen", "# nothing happens\n");
	sim_start(&e, "sim.yaml", "scen");
	env_path(&e, "live.yaml", cfg, sizeof(cfg));
	cr_assert_eq(proc_tocsind(cfg, "5", 40000, &r), 0);
	cr_expect_eq(r.status, 0, "exit %d:\n%s", r.status, r.err);
	cr_expect(strstr(r.err, "stop reason=duration") != NULL, "%s", r.err);
	cr_expect_null(sanitizer_report(r.err), "%s", r.err);
	evs = events(&e, "incidents.jsonl");
	op = find(evs, "opened", "T2", "COMM_LOSS", NULL);
	cr_expect_not_null(op, "no COMM_LOSS incident:\n%s\n%s",
	    json_dumps(evs, 0), r.err);
	if (op != NULL)
		cr_expect_str_eq(root_str(op, "device"), "T9-rect");
	cr_expect_null(find(evs, "opened", "T1", NULL, NULL),
	    "T1 answers and raised something");
	cr_expect_null(find(evs, "opened", NULL, "MAINS_FAIL", NULL));
	cr_expect_geq(pubfix_stop_counter(r.err, "comm_loss_raised"), 1, "%s", r.err);
	json_decref(evs);
	proc_result_free(&r);
	env_fini(&e);
}

/*
 * The output cannot take the lines (/dev/full: every write fails with
 * ENOSPC): the failures are counted and logged, tocsind keeps running and
 * stops cleanly, saying the rest waits in the journal.  Started again with
 * a file that takes them, it writes every event of the first run: each
 * incident's seq from 1 with no gap (the journal is the outbox).  A file
 * that cannot be opened stops the start with exit 1 and a line naming it.
 * No simulator: the down device makes the events.
 */
Test(tocsind_live, write_errors_are_counted_not_fatal)
{
	long long first;
	struct env e;
	char cfg[128];
	struct proc_result r;

	env_init(&e, 3);
	fleet_yaml(&e, "full.yaml", "/dev/full", 1);
	env_path(&e, "full.yaml", cfg, sizeof(cfg));
	cr_assert_eq(proc_tocsind(cfg, "4", 40000, &r), 0);
	cr_expect_eq(r.status, 0, "exit %d:\n%s", r.status, r.err);
	cr_expect_geq(pubfix_stop_counter(r.err, "incident_events"), 1, "%s", r.err);
	cr_expect_geq(pubfix_stop_counter(r.err, "write_errors"), 1, "%s", r.err);
	cr_expect(strstr(r.err, "filesink write failed path=/dev/full") != NULL,
	    "%s", r.err);
	/* kept in the journal; at the stop, said so */
	cr_expect(strstr(r.err, "the rest stays in the journal") != NULL,
	    "%s", r.err);
	cr_expect_null(sanitizer_report(r.err), "%s", r.err);
	first = pubfix_stop_counter(r.err, "incident_events");
	proc_result_free(&r);

	/* the same state dir, an output that works: the first run's events */
	{
		char out[128];
		json_t *evs, *last = json_object();
		size_t i;
		json_t *ev;

		env_path(&e, "later.jsonl", out, sizeof(out));
		fleet_yaml(&e, "later.yaml", out, 1);
		env_path(&e, "later.yaml", cfg, sizeof(cfg));
		cr_assert_eq(proc_tocsind(cfg, "2", 40000, &r), 0);
		cr_expect_eq(r.status, 0, "exit %d:\n%s", r.status, r.err);
		cr_expect(strstr(r.err, "restored shard=") != NULL, "%s", r.err);
		evs = events(&e, "later.jsonl");
		cr_expect_geq(json_array_size(evs), (size_t)first,
		    "every event of the first run written after the restart");
		json_array_foreach(evs, i, ev) {
			const char *id = istr(ev, "id");
			json_int_t seq = json_integer_value(json_object_get(ev,
			    "seq"));
			json_int_t prev = json_integer_value(json_object_get(
			    last, id));

			cr_expect_eq(seq, prev + 1, "%s: seq %lld after %lld",
			    id, (long long)seq, (long long)prev);
			json_object_set_new(last, id, json_integer(seq));
		}
		json_decref(last);
		json_decref(evs);
		proc_result_free(&r);
	}

	fleet_yaml(&e, "nodir.yaml", "/nonexistent-tocsin-dir/out.jsonl", 0);
	env_path(&e, "nodir.yaml", cfg, sizeof(cfg));
	cr_assert_eq(proc_tocsind(cfg, "4", 40000, &r), 0);
	cr_expect_eq(r.status, 1, "exit %d:\n%s", r.status, r.err);
	cr_expect(strstr(r.err, "start failed: output "
	    "file /nonexistent-tocsin-dir/out.jsonl: No such file") != NULL,
	    "%s", r.err);
	proc_result_free(&r);
	env_fini(&e);
}

/*
 * The lines of a topic, "%k %s" each, once it has at least n and, unless
 * NULL, the text needle (20 s).
 */
static char *
topic_lines(const char *bootstrap, const char *topic, int n,
    const char *needle)
{
	char cmd[512];
	int64_t end = tenv_mono_ms() + 20000;

	snprintf(cmd, sizeof(cmd), "kcat -C -b %s -t %s -o beginning -e -q "
	    "-f '%%k %%s\\n' 2>/dev/null", bootstrap, topic);
	for (;;) {
		char *out = pubfix_sh(cmd, 15000);

		if ((pubfix_count_lines(out) >= n && (needle == NULL ||
		    strstr(out, needle) != NULL)) || tenv_mono_ms() >= end)
			return out;
		free(out);
		usleep(200000);
	}
}

/*
 * The two-site fleet with the line kafka appended (k.yaml: the embedded
 * cluster), the simulator on the scenario scen, tocsind started on k.yaml;
 * the cluster's bootstrap in bootstrap.
 */
static void
kafka_daemon(struct env *e, const char *kafka, const char *scen,
    char *bootstrap, size_t len)
{
	char out[128], path[128], *yaml, *k;

	env_init(e, 5);
	env_path(e, "incidents.jsonl", out, sizeof(out));
	fleet_yaml(e, "live.yaml", out, 0);
	yaml = read_env_file(e, "live.yaml");
	k = malloc(strlen(yaml) + strlen(kafka) + 1);
	cr_assert_not_null(k);
	strcpy(k, yaml);
	strcat(k, kafka);
	tenv_write_file(e->dir, "k.yaml", k);
	free(k);
	free(yaml);
	tenv_write_file(e->dir, "scen", scen);
	sim_start(e, "live.yaml", "scen");
	daemon_start(e, "k.yaml", NULL);
	env_path(e, "tocsind.err", path, sizeof(path));
	cr_assert_eq(pubfix_mock_bootstrap(path, bootstrap, len, 10000), 0,
	    "no mock bootstrap in the log");
}

/*
 * kafka.alarms and kafka.telemetry set (the embedded cluster): mains
 * fails at T1 at 500 ms and comes back at 3 s.  tocsin.alarms has T1's
 * MAINS_FAIL raise and then its clear, keyed by T1's area, in the form
 * --replay reads; tocsin.telemetry has batches of T1-rect keyed by the
 * device, the voltage below the threshold while mains was away and above
 * the clear level after it came back; T2-rect's batches say nothing of a
 * failure.  The stop line counts the batches.
 */
Test(tocsind_live, kafka_gets_raw_alarms_and_telemetry)
{
	struct env e;
	char bootstrap[128], *log, *alarms, *tel;
	const char *want[2];
	json_t *evs, *op;
	int low = 0, high = 0, t2 = 0, bad = 0;
	char *save = NULL, *raise_at, *clear_at;

	if (!tenv_kafka()) {
		cr_skip_test("a ThreadSanitizer tocsind has no Kafka publisher "
		    "(librdkafka's threads are invisible to TSan)");
		return;
	}
	kafka_daemon(&e, "kafka: {alarms: tocsin.alarms, telemetry: "
	    "tocsin.telemetry}\n", "500ms site:T1 mains_fail\n"
	    "3s site:T1 mains_restore\n", bootstrap, sizeof(bootstrap));

	evs = wait_for(&e, "incidents.jsonl", "MAINS_FAIL incident at T1",
	    has_mains_opened, NULL);
	op = find(evs, "opened", "T1", "MAINS_FAIL", NULL);
	want[0] = strdup(istr(op, "id"));
	json_decref(evs);
	want[1] = "cleared";
	json_decref(wait_for(&e, "incidents.jsonl", "cleared incident at T1",
	    has_state, want));
	free((char *)want[0]);

	/* ticks come too (a tick a second per shard, docs/scaleout.md) */
	alarms = topic_lines(bootstrap, "tocsin.alarms", 2,
	    "\"code\":\"MAINS_FAIL\",\"edge\":\"clear\"");
	raise_at = strstr(alarms, "north {\"at\":\"");
	cr_assert_not_null(raise_at, "tocsin.alarms:\n%s", alarms);
	cr_expect_not_null(strstr(raise_at, "\",\"device\":\"T1-rect\","
	    "\"site\":\"T1\",\"code\":\"MAINS_FAIL\",\"edge\":\"raise\","
	    "\"severity\":\"critical\",\"value\":"), "%s", alarms);
	clear_at = strstr(alarms, "\"code\":\"MAINS_FAIL\",\"edge\":\"clear\"");
	cr_expect(clear_at != NULL && clear_at > raise_at,
	    "no clear after the raise:\n%s", alarms);
	free(alarms);

	tel = topic_lines(bootstrap, "tocsin.telemetry", 4, NULL);
	for (char *l = strtok_r(tel, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(l, ' ');
		json_t *b, *s;
		size_t i;

		cr_assert_not_null(sp, "%s", l);
		*sp = '\0';
		b = json_loads(sp + 1, 0, NULL);
		cr_assert_not_null(b, "not JSON on tocsin.telemetry: %s", sp + 1);
		cr_expect_str_eq(json_string_value(json_object_get(b,
		    "device")), l, "key = device id");
		json_array_foreach(json_object_get(b, "samples"), i, s) {
			double v = json_number_value(json_object_get(s,
			    "value"));

			cr_expect_str_eq(json_string_value(json_object_get(s,
			    "point")), "mains_voltage");
			if (strcmp(l, "T1-rect") == 0) {
				low += v < 170;
				high += v >= 190;
			} else {
				t2++;
				bad += v < 190;
			}
		}
		json_decref(b);
	}
	cr_expect_gt(low, 0, "no low voltage of T1 on tocsin.telemetry");
	cr_expect_gt(high, 0, "no normal voltage of T1 on tocsin.telemetry");
	cr_expect_gt(t2, 0, "nothing of T2 on tocsin.telemetry");
	cr_expect_eq(bad, 0, "T2's mains never failed");
	free(tel);

	cr_expect_eq(stop_pid(&e.daemon, SIGTERM, 15000), 0);
	log = read_env_file(&e, "tocsind.err");
	cr_expect_not_null(strstr(log, "stop reason=SIGTERM"), "%s", log);
	cr_expect_not_null(strstr(log, " telemetry samples="), "%s", log);
	cr_expect_null(sanitizer_report(log), "%s", log);
	free(log);
	env_fini(&e);
}

/* "%p|%s" lines of topic's partition part, in offset order (no wait). */
static char *
partition_values(const char *bootstrap, const char *topic, int part)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "kcat -C -b %s -t %s -p %d -o beginning "
	    "-e -q -f '%%s\\n' 2>/dev/null", bootstrap, topic, part);
	return pubfix_sh(cmd, 15000);
}

/* The largest "at" of a tick line in text (ms), or 0. */
static int64_t
last_tick(const char *text)
{
	const char *p = text;
	int64_t best = 0;

	while ((p = strstr(p, "{\"at\":\"")) != NULL) {
		const char *q = strchr(p + 7, '"');
		int64_t at;

		if (q != NULL && strncmp(q, "\",\"tick\":", 9) == 0 &&
		    utc_parse(p + 7, (size_t)(q - p - 7), &at) == 0 && at > best)
			best = at;
		p += 7;
	}
	return best;
}

/* The lines of text whose event "at" is at or before t, concatenated. */
static char *
events_until(const char *text, int64_t t)
{
	char *out = calloc(1, strlen(text) + 1), *copy = strdup(text), *save;

	for (char *l = strtok_r(copy, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		json_t *o = json_loads(l, 0, NULL);
		const char *at = o != NULL ? json_string_value(json_object_get(o,
		    "at")) : NULL;
		int64_t ms;

		cr_assert_not_null(at, "not an event: %s", l);
		cr_assert_eq(utc_parse(at, strlen(at), &ms), 0, "%s", l);
		if (ms <= t) {
			strcat(out, l);
			strcat(out, "\n");
		}
		json_decref(o);
	}
	free(copy);
	return out;
}

/*
 * Stream time (docs/scaleout.md): with kafka.alarms set, every shard puts
 * a tick a second on tocsin.alarms, on the partition of its number (the
 * embedded cluster makes one per shard), after its alarms.  Both sites'
 * areas (north, south) are shard 1's: partition 1 then holds, in time
 * order, T1's raise and the ticks, and `tocsind --replay --shard 1` of
 * that partition alone gives, byte for byte, the events the live shard
 * wrote up to the last tick read: the opening, then the premium ack clock's
 * warning and breach and what follows them, all due after the last alarm
 * of the partition (mains stays away): only the ticks carry the time
 * there, and without them a replay stops at the raise.
 */
Test(tocsind_live, tocsin_alarms_partition_replays_to_the_same_events)
{
	struct env e;
	char bootstrap[128], *p, *vals = NULL;
	char *live, *got, *want, *rout;
	const char *want_ev[2] = { NULL, "sla_breached" };
	int64_t breach_at = 0, tick = 0, end;
	struct proc_result r;
	json_t *evs, *br;

	if (!tenv_kafka()) {
		cr_skip_test("a ThreadSanitizer tocsind has no Kafka publisher "
		    "(librdkafka's threads are invisible to TSan)");
		return;
	}
	kafka_daemon(&e, "kafka: {alarms: tocsin.alarms}\n",
	    "500ms site:T1 mains_fail\n", bootstrap, sizeof(bootstrap));

	evs = wait_for(&e, "incidents.jsonl", "MAINS_FAIL incident at T1",
	    has_mains_opened, NULL);
	want_ev[0] = strdup(istr(find(evs, "opened", "T1", "MAINS_FAIL",
	    NULL), "id"));
	json_decref(evs);
	evs = wait_for(&e, "incidents.jsonl", "sla_breached at T1", has_event,
	    want_ev);
	br = find(evs, "sla_breached", NULL, NULL, want_ev[0]);
	cr_assert_eq(utc_parse(json_string_value(json_object_get(br, "at")),
	    24, &breach_at), 0);
	json_decref(evs);
	free((char *)want_ev[0]);

	/* the partition, once a tick well past the breach is on it */
	end = tenv_mono_ms() + 20000;
	for (;;) {
		vals = partition_values(bootstrap, "tocsin.alarms", 1);
		tick = last_tick(vals);
		if (tick > breach_at + 3000 || tenv_mono_ms() >= end)
			break;
		free(vals);
		usleep(300000);
	}
	cr_assert_gt(tick, breach_at + 3000, "no tick 3 s past the breach on "
	    "partition 1 in 20 s:\n%s", vals);
	cr_assert_null(strstr(vals, "\"edge\":\"clear\""), "%s", vals);
	p = partition_values(bootstrap, "tocsin.alarms", 0);
	cr_expect_null(strstr(p, "\"site\":\"T1\""), "shard 1's alarms on "
	    "partition 0: %s", p);
	cr_expect_not_null(strstr(p, "\"tick\":\"tocsind\""), "no tick of "
	    "shard 0 on its partition: %s", p);
	free(p);

	/* the partition alone, replayed */
	tenv_write_file(e.dir, "part1.jsonl", vals);
	{
		char prog[512], cfg[128], in[128];
		char *argv[] = { prog, "--replay", in, "-c", cfg, "--strict",
		    "--shard", "1", NULL };

		snprintf(prog, sizeof(prog), "%s", proc_build_path("tocsind"));
		env_path(&e, "k.yaml", cfg, sizeof(cfg));
		env_path(&e, "part1.jsonl", in, sizeof(in));
		cr_assert_eq(proc_run(argv, 30000, &r), 0);
		cr_assert_eq(r.status, 0, "%s", r.err);
		cr_expect_not_null(strstr(r.err, " out_of_order=0 "), "%s", r.err);
		cr_expect_null(strstr(r.err, " ticks=0\n"), "%s", r.err);
		rout = strdup(r.out);
		proc_result_free(&r);
	}
	live = read_env_file(&e, "incidents.jsonl");
	want = events_until(live, tick);
	got = events_until(rout, tick);
	cr_expect(strstr(want, "\"event\":\"sla_breached\"") != NULL, "%s",
	    want);
	cr_expect(strstr(want, "\"id\":\"INC-1-1\"") != NULL, "%s", want);
	cr_expect_str_eq(got, want, "replay of partition 1 up to %" PRId64,
	    tick);
	{
		int nev = 0;

		for (const char *q = want; (q = strchr(q, '\n')) != NULL; q++)
			nev++;
		cr_log_info("partition 1: %d events equal up to its last tick "
		    "(%.1f s after the breach)", nev,
		    (double)(tick - breach_at) / 1000);
	}
	free(want); free(got); free(live); free(rout); free(vals);
	cr_expect_eq(stop_pid(&e.daemon, SIGTERM, 15000), 0);
	env_fini(&e);
}

/* ---- daemon.role: poller (docs/scaleout.md) ---- */

/*
 * The two-site fleet as a poller: role poller, the share of 2 that T1's
 * site is in, kafka line appended (brokers or the embedded cluster),
 * written as p.yaml.  Returns how many of the fleet's 2 devices the
 * share polls.
 */
static int
poller_yaml(struct env *e, const char *kafka)
{
	char out[128], daemon[160], *yaml, *rest, *k;
	unsigned share = fleet_area_shard_n("T1", 2, 2);
	int mine = 1 + (fleet_area_shard_n("T2", 2, 2) == share);

	env_path(e, "incidents.jsonl", out, sizeof(out));
	fleet_yaml(e, "live.yaml", out, 0);
	yaml = read_env_file(e, "live.yaml");
	rest = strstr(yaml, "  shards: 2\n");
	cr_assert_not_null(rest, "%s", yaml);
	snprintf(daemon, sizeof(daemon), "daemon:\n  role: poller\n"
	    "  poll_shares: 2\n  poll_share: %u\n", share);
	k = malloc(strlen(daemon) + strlen(rest) + strlen(kafka) + 1);
	cr_assert_not_null(k);
	strcpy(k, daemon);
	strcat(k, rest);
	strcat(k, kafka);
	tenv_write_file(e->dir, "p.yaml", k);
	free(k);
	free(yaml);
	return mine;
}

/*
 * The poller_yaml poller (tail appended) on the embedded cluster, with
 * T1's mains failing at 0.5 s and back at 3 s: the simulator and tocsind
 * started, the cluster's bootstrap read from the log (path: the log).
 * Returns poller_yaml's count.
 */
static int
poller_up(struct env *e, const char *tail, char *bootstrap, size_t len,
    char *path, size_t plen)
{
	int mine = poller_yaml(e, tail);

	tenv_write_file(e->dir, "scen", "500ms site:T1 mains_fail\n"
	    "3s site:T1 mains_restore\n");
	sim_start(e, "live.yaml", "scen");
	daemon_start(e, "p.yaml", NULL);
	env_path(e, "tocsind.err", path, plen);
	cr_assert_eq(pubfix_mock_bootstrap(path, bootstrap, len, 10000), 0,
	    "no mock bootstrap in the log");
	return mine;
}

/*
 * A poller (the embedded cluster): T1's mains fails and comes back; its
 * raise and its clear are on tocsin.alarms, on the partition of T1's
 * area, with ticks on every partition; no incident anywhere (the
 * incidents topic, the output file), no incident routes on its HTTP
 * server, and its start line names its share.
 */
Test(tocsind_live, poller_produces_alarms_and_ticks_and_no_incidents)
{
	struct env e;
	char bootstrap[128], path[128], *alarms, *log, *p;
	int mine, port;
	struct httpfix_resp r;
	char want[96];

	if (!tenv_kafka()) {
		cr_skip_test("a ThreadSanitizer tocsind has no Kafka publisher "
		    "(librdkafka's threads are invisible to TSan)");
		return;
	}
	env_init(&e, 11);
	mine = poller_up(&e, "kafka: {alarms: tocsin.alarms}\n", bootstrap,
	    sizeof(bootstrap), path, sizeof(path));

	alarms = topic_lines(bootstrap, "tocsin.alarms", 2,
	    "\"code\":\"MAINS_FAIL\",\"edge\":\"clear\"");
	cr_assert_not_null(strstr(alarms, "\"site\":\"T1\",\"code\":"
	    "\"MAINS_FAIL\",\"edge\":\"raise\""), "%s", alarms);
	cr_assert_not_null(strstr(alarms, "\"code\":\"MAINS_FAIL\",\"edge\":"
	    "\"clear\""), "%s", alarms);
	free(alarms);
	for (int part = 0; part < 2; part++) {
		p = partition_values(bootstrap, "tocsin.alarms", part);
		cr_assert_not_null(strstr(p, "\"tick\":\"tocsind\""), "no tick "
		    "on partition %d: %s", part, p);
		free(p);
	}
	/* the shards made an incident of it, kept for the restart's alarm
	 * state; nothing of it left the daemon */
	p = topic_lines(bootstrap, "tocsin.incidents", 0, NULL);
	cr_assert_eq(pubfix_count_lines(p), 0, "%s", p);
	free(p);
	cr_assert(access(path, R_OK) == 0);
	{
		char o[128];
		FILE *fp;
		long size = 0;

		env_path(&e, "incidents.jsonl", o, sizeof(o));
		if ((fp = fopen(o, "r")) != NULL) {
			fseek(fp, 0, SEEK_END);
			size = ftell(fp);
			fclose(fp);
		}
		cr_assert_eq(size, 0, "incident lines in the poller's output");
	}
	port = httpfix_port_from_log(path, 10000);
	cr_assert_gt(port, 0);
	cr_assert_eq(httpfix_do(port, "GET", "/api/v1/incidents", NULL, NULL,
	    &r), 404, "%s", r.body);
	httpfix_free(&r);
	cr_assert_eq(httpfix_do(port, "GET", "/healthz", NULL, NULL, &r), 200,
	    "%s", r.body);
	httpfix_free(&r);

	cr_assert_eq(stop_pid(&e.daemon, SIGTERM, 15000), 0);
	log = read_env_file(&e, "tocsind.err");
	snprintf(want, sizeof(want), "role poller share=%u/2 devices=%d of 2 ",
	    fleet_area_shard_n("T1", 2, 2), mine);
	cr_assert_not_null(strstr(log, want), "%s", log);
	cr_expect_null(sanitizer_report(log), "%s", log);
	free(log);
	env_fini(&e);
}

static pid_t Redis = -1;	/* the poller's redis-server, or -1 */

static void
redis_fini(void)
{
	pubfix_stop(&Redis, SIGTERM);
}

/* redis-cli -p port ARGS: its output (free it). */
static char *
rcli(int port, const char *args)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "redis-cli -p %d %s", port, args);
	return pubfix_sh(cmd, 10000);
}

/* Waits (ms) until redis-cli -p port ARGS prints want. */
static int
rcli_wait(int port, const char *args, const char *want, int ms)
{
	int64_t end = tenv_mono_ms() + ms;

	for (;;) {
		char *out = rcli(port, args);
		int ok = out != NULL && strcmp(out, want) == 0;

		free(out);
		if (ok)
			return 1;
		if (tenv_mono_ms() >= end)
			return 0;
		usleep(100000);
	}
}

/*
 * A poller with redis.enabled (docs/scaleout.md, "Device keys"): the Redis
 * every instance shares already holds two correlators' incidents; the
 * poller writes the hashes of the devices of its share and nothing else,
 * while its own engines make an incident of T1's mains failure (kept for
 * its alarm state, published nowhere): the incidents are left as they
 * were (a poller's reconnect asks no dump, so no stale check of empty
 * engines removes them).  Redis stopped: /healthz says so (503); started
 * again, empty: the device hashes are written again and /healthz is 200.
 */
Test(tocsind_live, poller_writes_its_devices_to_redis_and_leaves_incidents,
    .fini = redis_fini)
{
	struct env e;
	char bootstrap[128], path[128], tail[192], *alarms, *out, *log;
	int mine, rport, hport;
	size_t nkeys;

	if (!tenv_kafka()) {
		cr_skip_test("a ThreadSanitizer tocsind has no Kafka publisher "
		    "(librdkafka's threads are invisible to TSan)");
		return;
	}
	env_init(&e, 17);
	rport = tenv_free_port("127.0.0.1");
	cr_assert_gt(rport, 0);
	Redis = pubfix_redis_start(e.dir, rport, "redis.err");
	cr_assert_gt(Redis, 0, "no redis-server");
	/* what two correlators wrote (partitions 0 and 1) */
	free(rcli(rport, "SADD tocsin:incidents:open INC-0-7 INC-1-9"));
	free(rcli(rport, "HSET tocsin:incident:INC-0-7 seq 3"));
	free(rcli(rport, "HSET tocsin:incident:INC-1-9 seq 5"));
	snprintf(tail, sizeof(tail), "kafka: {alarms: tocsin.alarms}\n"
	    "redis: {enabled: true, port: %d}\n", rport);
	mine = poller_up(&e, tail, bootstrap, sizeof(bootstrap), path,
	    sizeof(path));
	cr_assert(rcli_wait(rport, "HGET tocsin:device:T1-rect comm", "ok\n",
	    15000), "no device hash for T1-rect in 15 s");
	/* the raise and the clear went by (an incident in the poller) */
	alarms = topic_lines(bootstrap, "tocsin.alarms", 2,
	    "\"code\":\"MAINS_FAIL\",\"edge\":\"clear\"");
	cr_assert_not_null(strstr(alarms, "\"edge\":\"clear\""), "%s", alarms);
	free(alarms);
	out = rcli(rport, "--scan");
	nkeys = (size_t)pubfix_count_lines(out);
	cr_expect_eq(nkeys, 3u + (size_t)mine, "keys: %s", out);
	cr_expect_not_null(strstr(out, "tocsin:device:T1-rect\n"), "%s", out);
	if (mine == 2)
		cr_expect_not_null(strstr(out, "tocsin:device:T2-rect\n"),
		    "%s", out);
	else
		cr_expect_null(strstr(out, "device:T2-rect"), "not the "
		    "poller's share: %s", out);
	free(out);
	out = rcli(rport, "SMEMBERS tocsin:incidents:open");
	cr_expect(strstr(out, "INC-0-7") != NULL && strstr(out, "INC-1-9") !=
	    NULL && pubfix_count_lines(out) == 2, "%s", out);
	free(out);
	out = rcli(rport, "HGET tocsin:incident:INC-1-9 seq");
	cr_expect_str_eq(out, "5\n");
	free(out);

	/* Redis gone, then back empty: said, then written again */
	hport = httpfix_port_from_log(path, 10000);
	cr_assert_gt(hport, 0);
	pubfix_stop(&Redis, SIGTERM);
	/* fails the test past 10 s, with the last answer */
	free(httpfix_health_until(hport, 503, "sink redis", 10000));
	Redis = pubfix_redis_start(e.dir, rport, "redis2.err");
	cr_assert_gt(Redis, 0, "no redis-server the second time");
	cr_expect(rcli_wait(rport, "HGET tocsin:device:T1-rect comm", "ok\n",
	    15000), "T1-rect's hash not written again in 15 s");
	free(httpfix_health_until(hport, 200, NULL, 10000));
	out = rcli(rport, "--scan");
	cr_expect_eq(pubfix_count_lines(out), mine, "only device hashes: %s",
	    out);
	free(out);

	cr_assert_eq(stop_pid(&e.daemon, SIGTERM, 15000), 0);
	log = read_env_file(&e, "tocsind.err");
	cr_expect_not_null(strstr(log, "redis devices host="), "%s", log);
	cr_expect_null(sanitizer_report(log), "%s", log);
	free(log);
	env_fini(&e);
}

/*
 * A poller killed with SIGKILL while T1's mains is failed, and started
 * again after mains came back (the real broker: the topic outlives the
 * process): the clear that happened while it was down is on tocsin.alarms
 * after the restart (the alarm state comes back from its journal before
 * the first poll).
 */
Test(tocsind_live, poller_restart_sends_the_clear_that_came_while_down,
    .fini = broker_fini)
{
	struct env e;
	char bootstrap[128], kafka[256], *alarms, *log;
	const char *why;
	int64_t t0;

	if ((why = ktxnfix_broker(bootstrap, sizeof(bootstrap))) != NULL) {
		cr_skip_test("%s", why);
		return;
	}
	env_init(&e, 13);
	snprintf(kafka, sizeof(kafka), "kafka: {brokers: \"%s\", alarms: "
	    "tocsin.alarms, actions: \"\"}\n", bootstrap);
	(void)poller_yaml(&e, kafka);
	tenv_write_file(e.dir, "scen", "1s site:T1 mains_fail\n"
	    "12s site:T1 mains_restore\n");
	{
		const struct ktxnfix_topic t[] = {
			{ "tocsin.alarms", 2, NULL },
			{ "tocsin.incidents", 1, NULL },
		};

		ktxnfix_topics(bootstrap, t, 2);
	}
	sim_start(&e, "live.yaml", "scen");
	t0 = tenv_mono_ms();
	daemon_start(&e, "p.yaml", NULL);
	alarms = topic_lines(bootstrap, "tocsin.alarms", 1,
	    "\"code\":\"MAINS_FAIL\",\"edge\":\"raise\"");
	cr_assert_not_null(strstr(alarms, "\"edge\":\"raise\""), "%s", alarms);
	cr_assert_null(strstr(alarms, "\"edge\":\"clear\""), "%s", alarms);
	free(alarms);
	cr_assert_lt(tenv_mono_ms() - t0, 11000, "the raise came too late to "
	    "kill the poller before mains comes back");
	cr_assert_eq(stop_pid(&e.daemon, SIGKILL, 5000), 128 + SIGKILL);
	/* mains comes back at 12 s of the simulator's scenario */
	while (tenv_mono_ms() - t0 < 14000)
		usleep(100000);
	daemon_start(&e, "p.yaml", NULL);
	alarms = topic_lines(bootstrap, "tocsin.alarms", 2,
	    "\"code\":\"MAINS_FAIL\",\"edge\":\"clear\"");
	cr_assert_not_null(strstr(alarms, "\"code\":\"MAINS_FAIL\",\"edge\":"
	    "\"clear\""), "the clear that came while the poller was down: "
	    "%s", alarms);
	free(alarms);
	cr_assert_eq(stop_pid(&e.daemon, SIGTERM, 15000), 0);
	log = read_env_file(&e, "tocsind.err");
	cr_expect_null(sanitizer_report(log), "%s", log);
	free(log);
	env_fini(&e);
}
