/*
 * test_tocsind_faults.c - tocsind through the faults its neighbours have
 * (suite tocsind_faults): Redis stopped and started again empty, the
 * Kafka broker frozen (SIGSTOP) and killed and restarted, tocsind itself
 * killed with SIGKILL over and over, its disk refusing journal writes or
 * read-only when it starts.
 *
 * Every test runs a storm: 90 devices over 30 sites in 4 areas at
 * 127.X.S.D, where nothing listens, with comm_loss_misses 1, so 90
 * COMM_LOSS incidents open within a second; short SLA clocks (premium ack
 * 3 s, standard ack 12 s, resolve 25 s / 40 s, headquarters 5 s after a
 * breach) keep warnings, breaches and escalations coming for about 40 s:
 * some 700 events.  A real redis-server and a real Kafka broker
 * (tests/kafka/broker.sh; the embedded mock where Java is missing, said
 * on stderr) are read back as a user would, with redis-cli and kcat.  The
 * checks are what a consumer relies on: after dropping a repeated
 * (incident, seq), each incident's seq runs from 1 with no gap and ends at
 * the file's last; Redis holds exactly the open incidents at their latest
 * seq.
 *
 * Every wait is bounded; everything is stopped by PID in .fini.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "tests/support/httpfix.h"
#include "tests/support/kbroker.h"
#include "tests/support/proc.h"
#include "tests/support/pubfix.h"
#include "tests/support/tenv.h"

#define NSITES		30
#define NDEVS		3	/* per site */
#define MIN_EVENTS	200	/* "hundreds, not a handful" */

static struct {
	char	 dir[64];
	unsigned x;		/* devices at 127.x.S.D */
	int	 modport;
	int	 rport;		/* redis-server's, or 0: no Redis */
	int	 kafka;		/* Kafka checks wanted */
	int	 real;		/* a real broker (else the embedded mock) */
	char	 bootstrap[128];
	int	 shards;
	pid_t	 redis, daemon;
	int	 runs;		/* tocsind starts: run N logs to tocsind.N.err */
} F;

static void
fx_fini(void)
{
	char cmd[128];

	pubfix_stop(&F.daemon, SIGKILL);
	pubfix_stop(&F.redis, SIGTERM);
	if (getenv("TOCSIN_KEEP") != NULL) {	/* for a post-mortem */
		fprintf(stderr, "tocsind_faults: kept %s and %s\n", F.dir,
		    broker_dir);
		return;
	}
	broker_fini();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F.dir);
	(void)system(cmd);
}

static void
fx_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", F.dir, name);
}

/* The storm's configuration, F.dir/storm.yaml. */
static void
fx_yaml(void)
{
	static const char *const areas[] = { "north", "south", "east", "west" };
	char *y = NULL;
	size_t n = 0;
	FILE *fp = open_memstream(&y, &n);

	cr_assert_not_null(fp);
	fprintf(fp, "daemon: {shards: %d, state_dir: %s/state}\n"
	    "modbus: {port: %d, timeout: 100ms, interval: 300ms, "
	    "comm_loss_misses: 1, backoff_min: 100ms, backoff_max: 300ms}\n"
	    "output: {file: %s/out.jsonl}\n"
	    "http: {listen: \"127.0.0.1:0\"}\n", F.shards, F.dir, F.modport,
	    F.dir);
	if (F.rport > 0)
		fprintf(fp, "redis: {enabled: true, port: %d}\n", F.rport);
	fprintf(fp, "kafka: {brokers: \"%s\"}\n"
	    "profiles:\n  rect:\n    points:\n"
	    "      - {name: v, address: 30001}\n"
	    "    alarms:\n      - {code: MAINS_FAIL, point: v, condition: "
	    "below, threshold: 170, clear: 190, severity: critical}\n"
	    "sla:\n  clocks:\n"
	    "    - {clock: ack, tier: premium, duration: 3s}\n"
	    "    - {clock: ack, tier: standard, duration: 12s}\n"
	    "    - {clock: arrive, duration: 1h}\n"
	    "    - {clock: resolve, tier: premium, duration: 25s}\n"
	    "    - {clock: resolve, tier: standard, duration: 40s}\n"
	    "    - {clock: resolve_complex, duration: 1h}\n"
	    "  escalation:\n"
	    "    - {level: station, on: warning}\n"
	    "    - {level: branch, on: breach}\n"
	    "    - {level: headquarters, on: breach, after: 5s}\n"
	    "sites:\n", F.real ? F.bootstrap : "");
	for (int s = 0; s < NSITES; s++)
		fprintf(fp, "  - {id: S%02d, area: %s, region: A, tenants: "
		    "[{customer: c%d, tier: %s}]}\n", s, areas[s % 4], s,
		    s % 2 ? "premium" : "standard");
	fprintf(fp, "devices:\n");
	for (int s = 0; s < NSITES; s++)
		for (int d = 0; d < NDEVS; d++)
			fprintf(fp, "  - {id: S%02d-d%d, site: S%02d, profile: "
			    "rect, host: 127.%u.%d.%d}\n", s, d, s, F.x, s + 1,
			    d + 1);
	cr_assert_eq(fclose(fp), 0);
	tenv_write_file(F.dir, "storm.yaml", y);
	free(y);
}

/*
 * A fresh directory, Redis (redis), a broker (kafka), the storm's config.
 * X in 2-17: clear of the other suites' blocks (docs/testing.md); nothing
 * listens there.
 */
static void
fx_init(unsigned salt, int redis, int kafka, int shards)
{
	if (kafka && !tenv_kafka())
		cr_skip_test("a ThreadSanitizer tocsind has no Kafka publisher "
		    "(librdkafka's threads are invisible to TSan), and this "
		    "test reads tocsin.incidents");
	memset(&F, 0, sizeof(F));
	F.redis = F.daemon = -1;
	F.shards = shards;
	F.kafka = kafka;
	F.x = 2 + tenv_seed(salt) % 16;
	snprintf(F.dir, sizeof(F.dir), "/tmp/tocsin-faults-XXXXXX");
	cr_assert_not_null(mkdtemp(F.dir));
	F.modport = tenv_free_port("127.0.0.1");
	cr_assert_gt(F.modport, 0);
	if (redis) {
		F.rport = tenv_free_port("127.0.0.1");
		cr_assert_gt(F.rport, 0);
		F.redis = pubfix_redis_start(F.dir, F.rport, "redis.0.err");
	}
	if (kafka)
		F.real = broker_start(F.bootstrap, sizeof(F.bootstrap))[0] !=
		    '\0';
	fx_yaml();
}

static char *
fx_log(int run)
{
	char name[32], path[128];

	snprintf(name, sizeof(name), "tocsind.%d.err", run);
	fx_path(name, path, sizeof(path));
	return tenv_read_file(path);
}

/* Fails, with the last run's log, if tocsind has exited. */
static void
fx_alive(const char *when)
{
	int st;

	if (F.daemon > 0 && waitpid(F.daemon, &st, WNOHANG) == F.daemon) {
		char *log = fx_log(F.runs - 1);

		F.daemon = -1;
		cr_assert_fail("tocsind exited (status 0x%x) %s:\n%s", st,
		    when, log);
	}
}

/* Waits (ms) for needle in run's log; fails with the log otherwise. */
static void
fx_wait_log(int run, const char *needle, int ms)
{
	int64_t end = tenv_mono_ms() + ms;

	for (;;) {
		char *log = fx_log(run);
		int found = strstr(log, needle) != NULL;

		if (found) {
			free(log);
			return;
		}
		fx_alive(needle);
		cr_assert_lt(tenv_mono_ms(), end, "no \"%s\" in %d ms:\n%s",
		    needle, ms, log);
		free(log);
		usleep(50000);
	}
}

/*
 * Starts tocsind on the storm (prefix: a command line tocsind runs under,
 * e.g. prlimit; or NULL), its log tocsind.N.err; on the mock, learns the
 * mock's bootstrap (a new one each start).  Returns N.
 */
static int
fx_daemon(char *const prefix[])
{
	char prog[512], cfg[128], log[32];
	char *argv[16];
	int n = 0;

	snprintf(prog, sizeof(prog), "%s", proc_build_path("tocsind"));
	fx_path("storm.yaml", cfg, sizeof(cfg));
	for (; prefix != NULL && *prefix != NULL; prefix++)
		argv[n++] = *prefix;
	argv[n++] = prog;
	argv[n++] = "-c";
	argv[n++] = cfg;
	argv[n++] = "-d";
	argv[n++] = "600";	/* a forgotten one ends on its own */
	argv[n] = NULL;
	snprintf(log, sizeof(log), "tocsind.%d.err", F.runs);
	F.daemon = pubfix_spawn(F.dir, argv, "tocsind.out", log);
	if (F.kafka && !F.real) {
		char path[128];

		fx_path(log, path, sizeof(path));
		cr_assert_eq(pubfix_mock_bootstrap(path, F.bootstrap,
		    sizeof(F.bootstrap), 15000), 0, "no mock bootstrap");
	}
	return F.runs++;
}

/* The output file's events (a line that is not JSON fails the test). */
static json_t *
fx_file(void)
{
	char path[128];
	json_t *evs;
	int bad;

	fx_path("out.jsonl", path, sizeof(path));
	evs = pubfix_file_events(path, &bad);
	cr_assert_eq(bad, 0, "%d lines of the output are not JSON", bad);
	return evs;
}

static size_t
fx_file_count(void)
{
	json_t *evs = fx_file();
	size_t n = json_array_size(evs);

	json_decref(evs);
	return n;
}

/* Waits (ms) until the file holds n events, tocsind alive. */
static void
fx_wait_events(size_t n, int ms)
{
	int64_t end = tenv_mono_ms() + ms;
	size_t have;

	while ((have = fx_file_count()) < n) {
		fx_alive("while waiting for events");
		cr_assert_lt(tenv_mono_ms(), end, "%zu of %zu events in %d ms",
		    have, n, ms);
		usleep(100000);
	}
}

/* Sleeps ms while the storm goes on; returns the events it added. */
static size_t
fx_storm_for(int ms)
{
	size_t before = fx_file_count();
	int64_t end = tenv_mono_ms() + ms;

	while (tenv_mono_ms() < end) {
		fx_alive("during the fault");
		usleep(200000);
	}
	return fx_file_count() - before;
}

/* The file as a consumer reads it: no gap; *last: id -> last event (new
 * reference); the number of distinct events. */
static int
fx_file_last(json_t **last)
{
	json_t *evs = fx_file();
	char why[256];
	int kept, gaps = pubfix_dedup(evs, last, &kept, why, sizeof(why));

	cr_expect_eq(gaps, 0, "the file has %d gaps: %s", gaps, why);
	json_decref(evs);
	return kept;
}

/* First incident of want whose last seq in have is not want's, or NULL. */
static const char *
fx_behind(json_t *want, json_t *have, long long *w, long long *h)
{
	const char *id;
	json_t *ev;

	json_object_foreach(want, id, ev) {
		*w = pubfix_seq(ev);
		*h = pubfix_seq(json_object_get(have, id));
		if (*h != *w)
			return id;
	}
	return NULL;
}

/*
 * Waits (ms) until what (read by get, deduplicated) ends every incident
 * at the file's last seq, then checks it has no gap: every event the file
 * has, per incident seq contiguous from 1.
 */
static void
fx_check_seqs(const char *what, json_t *(*get)(void), int ms)
{
	int64_t end = tenv_mono_ms() + ms;
	char why[256];
	const char *id;
	long long w = 0, h = 0;
	int gaps, kept;

	for (;;) {
		json_t *flast, *evs = NULL, *last;

		fx_file_last(&flast);
		evs = get();
		gaps = pubfix_dedup(evs, &last, &kept, why, sizeof(why));
		id = fx_behind(flast, last, &w, &h);
		json_decref(evs);
		json_decref(last);
		json_decref(flast);
		if (id == NULL || tenv_mono_ms() >= end)
			break;
		fx_alive(what);
		usleep(500000);
	}
	cr_expect_null(id, "%s: %s at seq %lld, the file at %lld (after %d "
	    "ms)", what, id, h, w, ms);
	cr_expect_eq(gaps, 0, "%s: %d gaps, first %s", what, gaps, why);
	cr_expect_geq(kept, MIN_EVENTS, "%s: %d events", what, kept);
	fprintf(stderr, "tocsind_faults: %s: %d distinct events, %d gaps\n",
	    what, kept, gaps);
}

static json_t *
fx_kafka(void)
{
	int bad;
	json_t *evs = pubfix_kafka_events(F.bootstrap, "tocsin.incidents",
	    &bad);

	cr_expect_eq(bad, 0, "%d messages on tocsin.incidents are not an "
	    "event keyed by its incident", bad);
	return evs;
}

/* tocsin:stream:incidents as events {incident: {id}, seq}, in order. */
static json_t *
fx_stream(void)
{
	char cmd[512], *out, *save = NULL;
	json_t *a = json_array();

	/* EVAL_RO: answered while writes are paused */
	snprintf(cmd, sizeof(cmd), "redis-cli -p %d EVAL_RO \"local r={} for "
	    "_,e in ipairs(redis.call('XRANGE',KEYS[1],'-','+')) do "
	    "r[#r+1]=e[2][2]..' '..e[2][4] end return r\" 1 "
	    "tocsin:stream:incidents", F.rport);
	out = pubfix_sh(cmd, 30000);
	for (char *l = strtok_r(out, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		char id[64];
		long long seq;

		if (sscanf(l, "%63s %lld", id, &seq) == 2)
			json_array_append_new(a, json_pack("{s:{s:s},s:I}",
			    "incident", "id", id, "seq", (json_int_t)seq));
	}
	free(out);
	return a;
}

/* The stream the old Redis had (read just before its stop), followed by
 * the one the new Redis has now. */
static json_t *stream_before;

static json_t *
fx_streams(void)
{
	json_t *a = json_copy(stream_before), *now = fx_stream();

	json_array_extend(a, now);
	json_decref(now);
	return a;
}

/*
 * Redis as a NOC screen reads it: incidents:open is exactly the file's
 * open incidents, each hash at the file's last seq.  NULL when so, else
 * what differs (malloc'd).
 */
static char *
fx_redis_diff(void)
{
	char cmd[256], path[128], *open_ids, *seqs, *diff = NULL, *save = NULL;
	json_t *flast, *ev;
	const char *id;
	FILE *fp;
	int nopen = 0;
	char *l;

	fx_file_last(&flast);
	fx_path("hget.txt", path, sizeof(path));
	cr_assert_not_null(fp = fopen(path, "w"));
	json_object_foreach(flast, id, ev)
		if (strcmp(pubfix_inc_str(ev, "state"), "closed") != 0) {
			fprintf(fp, "HGET tocsin:incident:%s seq\n", id);
			nopen++;
		}
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "redis-cli -p %d ZRANGE "
	    "tocsin:incidents:open 0 -1", F.rport);
	l = pubfix_sh(cmd, 30000);
	/* "\nID\n" per member, for an exact search */
	if (asprintf(&open_ids, "\n%s", l) < 0)
		abort();
	free(l);
	snprintf(cmd, sizeof(cmd), "redis-cli -p %d < %s", F.rport, path);
	seqs = pubfix_sh(cmd, 30000);
	if (pubfix_count_lines(open_ids) - 1 != nopen &&
	    asprintf(&diff, "incidents:open has %d members, the file %d open",
	    pubfix_count_lines(open_ids) - 1, nopen) < 0)
		abort();
	l = strtok_r(seqs, "\n", &save);
	json_object_foreach(flast, id, ev) {
		char want[24], member[80];

		if (diff != NULL || strcmp(pubfix_inc_str(ev, "state"),
		    "closed") == 0)
			continue;
		snprintf(want, sizeof(want), "%lld", pubfix_seq(ev));
		if ((l == NULL || strcmp(l, want) != 0) && asprintf(&diff,
		    "incident:%s seq %s, the file %s", id, l ? l : "(none)",
		    want) < 0)
			abort();
		snprintf(member, sizeof(member), "\n%s\n", id);
		if (diff == NULL && strstr(open_ids, member) == NULL &&
		    asprintf(&diff, "%s not in incidents:open", id) < 0)
			abort();
		l = strtok_r(NULL, "\n", &save);
	}
	free(open_ids);
	free(seqs);
	json_decref(flast);
	return diff;
}

/* Waits (ms) until Redis agrees with the file. */
static void
fx_check_redis(int ms)
{
	int64_t end = tenv_mono_ms() + ms;
	char *diff;

	while ((diff = fx_redis_diff()) != NULL && tenv_mono_ms() < end) {
		free(diff);
		fx_alive("waiting for Redis");
		usleep(500000);
	}
	cr_expect_null(diff, "Redis after %d ms: %s", ms, diff);
	free(diff);
}

/* SIGTERM: exit 0, nothing left held; the stop line (malloc'd). */
static char *
fx_stop_clean(void)
{
	int run = F.runs - 1, rc = pubfix_stop(&F.daemon, SIGTERM);
	char *log = fx_log(run);

	cr_expect_eq(rc, 0, "tocsind exit %d after SIGTERM:\n%s", rc, log);
	cr_expect_eq(pubfix_stop_counter(log, "alarms_pending"), 0, "%s", log);
	return log;
}

static void
fx_need_real_broker(void)
{
	if (!F.real)
		cr_skip_test("no real Kafka broker here (broker.sh fell back "
		    "to the mock, which lives inside tocsind): this fault "
		    "cannot be made");
}

/*
 * Redis is stopped for 30 s during the storm and comes back empty on the
 * same port.  Before the stop the test freezes Redis' writes (CLIENT
 * PAUSE WRITE) and reads the stream, so what the old Redis acknowledged is
 * known exactly.  After: incidents:open is the open set, each hash at the
 * latest seq (the resync dump), and the stream the new Redis holds begins
 * where the old one stopped: the old stream followed by the new one has
 * every event, per incident seq from 1 with no gap (docs/redis.md, "After
 * a Redis restart").
 */
Test(tocsind_faults, redis_stopped_30s_then_back, .fini = fx_fini,
    .timeout = 300)
{
	char cmd[256];
	json_t *s1;
	size_t during;

	fx_init(1, 1, 1, 2);
	fx_daemon(NULL);
	fx_wait_events(50, 30000);
	snprintf(cmd, sizeof(cmd), "redis-cli -p %d CLIENT PAUSE 60000 WRITE",
	    F.rport);
	free(pubfix_sh(cmd, 10000));
	stream_before = fx_stream();
	cr_assert_gt(json_array_size(stream_before), 0,
	    "nothing reached Redis before the stop");
	pubfix_stop(&F.redis, SIGTERM);
	during = fx_storm_for(30000);
	cr_expect_gt(during, 50, "the storm went on: %zu events", during);
	F.redis = pubfix_redis_start(F.dir, F.rport, "redis.1.err");
	fx_check_redis(60000);
	/* the stream: the old Redis' entries, then the new one's */
	fx_check_seqs("old + new stream", fx_streams, 30000);
	s1 = fx_stream();
	fprintf(stderr, "tocsind_faults: stream: %zu entries before the "
	    "stop, %zu after the restart\n", json_array_size(stream_before),
	    json_array_size(s1));
	json_decref(s1);
	json_decref(stream_before);
	stream_before = NULL;
	fx_check_seqs("tocsin.incidents", fx_kafka, 60000);
	free(fx_stop_clean());
}

/*
 * The broker is frozen (SIGSTOP) for 30 s during the storm, then
 * continued: tocsin.incidents has every event the file has, per incident
 * seq from 1 with no gap (librdkafka's own retries; no rewind needed).
 */
Test(tocsind_faults, broker_sigstop_30s, .fini = fx_fini, .timeout = 300)
{
	pid_t bp;
	size_t during;

	fx_init(2, 0, 1, 2);
	fx_need_real_broker();
	fx_daemon(NULL);
	fx_wait_events(50, 30000);
	bp = broker_pid();
	cr_assert_gt(bp, 0);
	cr_assert_eq(kill(bp, SIGSTOP), 0);
	during = fx_storm_for(30000);
	cr_assert_eq(kill(bp, SIGCONT), 0);
	cr_expect_gt(during, 50, "the storm went on: %zu events", during);
	fx_check_seqs("tocsin.incidents", fx_kafka, 90000);
	free(fx_stop_clean());
}

/* broker.sh kill DIR or restart DIR, bounded. */
static void
fx_broker(const char *what)
{
	char *argv[] = { "sh", "tests/kafka/broker.sh", (char *)what,
	    broker_dir, NULL };
	struct proc_result r;

	cr_assert_eq(proc_run(argv, 120000, &r), 0);
	cr_assert_eq(r.status, 0, "broker.sh %s: %d\n%s\n%s", what, r.status,
	    r.out, r.err);
	proc_result_free(&r);
}

/*
 * The broker is killed (SIGKILL) during the storm, left down 5 s and
 * restarted on the same port and log dir: tocsin.incidents has every
 * event the file has, per incident seq from 1 with no gap.
 */
Test(tocsind_faults, broker_killed_and_restarted, .fini = fx_fini,
    .timeout = 300)
{
	size_t during;

	fx_init(3, 0, 1, 2);
	fx_need_real_broker();
	fx_daemon(NULL);
	fx_wait_events(50, 30000);
	fx_broker("kill");
	during = fx_storm_for(5000);
	fx_broker("restart");
	cr_expect_gt(during, 0, "the storm went on");
	fx_check_seqs("tocsin.incidents", fx_kafka, 90000);
	free(fx_stop_clean());
}

/*
 * tocsind is killed with SIGKILL 20 times at random moments of the storm
 * (each run restored from the journals, then killed 0-1.5 s later), then
 * runs and stops cleanly.  Every restart logs `restored shard=`; the
 * file, tocsin.incidents (real broker: the mock dies with tocsind) and
 * Redis agree: every event, per incident seq from 1 with no gap, the same
 * open incidents.
 */
Test(tocsind_faults, tocsind_kill9_loop, .fini = fx_fini, .timeout = 300)
{
	unsigned seed = tenv_seed(4);
	int run;

	fx_init(4, 1, 1, 2);
	fx_daemon(NULL);
	fx_wait_events(20, 30000);
	pubfix_stop(&F.daemon, SIGKILL);
	for (int i = 0; i < 20; i++) {
		run = fx_daemon(NULL);
		fx_wait_log(run, "restored shard=", 20000);
		usleep((useconds_t)(rand_r(&seed) % 1500) * 1000);
		fx_alive("before its kill");
		pubfix_stop(&F.daemon, SIGKILL);
	}
	run = fx_daemon(NULL);
	fx_wait_log(run, "restored shard=", 20000);
	fx_wait_log(run, "level=info start ", 20000);
	if (F.real)
		fx_check_seqs("tocsin.incidents", fx_kafka, 60000);
	else
		fprintf(stderr, "tocsind_faults: tocsind_kill9_loop: "
		    "tocsin.incidents NOT CHECKED: on the mock cluster the "
		    "topic dies with each tocsind\n");
	fx_check_redis(60000);
	free(fx_stop_clean());
	{
		json_t *last;

		cr_expect_geq(fx_file_last(&last), MIN_EVENTS);
		json_decref(last);
	}
}

/* Runs cmd (10 s at most) and fails unless its output has word. */
static void
fx_sh_says(const char *cmd, const char *word)
{
	char *out = pubfix_sh(cmd, 10000);

	cr_assert(strstr(out, word) != NULL, "%s: %s", cmd, out);
	free(out);
}

/*
 * After a fault and a clean stop: the file as a consumer reads it, no gap,
 * at least MIN_EVENTS distinct events (*kept).  Returns the events (a new
 * reference).
 */
static json_t *
fx_file_whole(int *kept)
{
	json_t *evs = fx_file(), *last;
	char why[256];

	cr_expect_eq(pubfix_dedup(evs, &last, kept, why, sizeof(why)), 0,
	    "the file: %s", why);
	cr_expect_geq(*kept, MIN_EVENTS);
	json_decref(last);
	return evs;
}

/* /healthz of run's daemon until it answers want with needle (or any);
 * fails with its last answer, and at once if tocsind exited. */
static void
fx_wait_health(int run, int want, const char *needle, int ms)
{
	char name[32], path[128];
	int port;

	snprintf(name, sizeof(name), "tocsind.%d.err", run);
	fx_path(name, path, sizeof(path));
	port = httpfix_port_from_log(path, 10000);
	cr_assert_gt(port, 0, "no http port in %s", path);
	fx_alive("before /healthz");
	free(httpfix_health_until(port, want, needle, ms));
}

/*
 * The state directory read-only when tocsind starts (a read-only bind
 * mount of it, in a mount namespace of the daemon's own): it restores
 * what is there, says it cannot write, correlates on with /healthz
 * unhealthy; once the mount is writable again (nsenter) it writes, and
 * every event reaches the file with seq contiguous.  Root only (the mount
 * namespace): skipped otherwise.
 */
Test(tocsind_faults, state_dir_read_only_at_start_then_writable,
    .fini = fx_fini, .timeout = 180)
{
	char state[128], cmd[512], *log;
	char *ro[] = { "unshare", "-m", "sh", "-c", "mount --bind \"$0\" "
	    "\"$0\" && mount -o remount,bind,ro \"$0\" && exec \"$@\"",
	    state, NULL };
	json_t *evs;
	int run, kept;
	size_t before;

	log = pubfix_sh("unshare -m true && echo can", 10000);
	if (strstr(log, "can") == NULL) {
		free(log);
		cr_skip_test("no mount namespace here (unshare -m): needs root");
	}
	free(log);
	fx_init(7, 0, 0, 2);
	fx_path("state", state, sizeof(state));
	/* a first run leaves open incidents in the journal */
	run = fx_daemon(NULL);
	fx_wait_events(MIN_EVENTS / 2, 60000);
	free(fx_stop_clean());
	before = fx_file_count();

	run = fx_daemon(ro);
	fx_wait_log(run, "journal shard=0: ", 30000);
	fx_wait_log(run, "cannot be written: Read-only file system", 30000);
	fx_wait_log(run, " start version=", 30000);
	fx_wait_health(run, 503, "shard 0: journal writes refused", 15000);
	fx_storm_for(3000);	/* refused, and alive */
	snprintf(cmd, sizeof(cmd), "nsenter -t %d -m mount -o remount,bind,rw "
	    "'%s' && echo writable", (int)F.daemon, state);
	fx_sh_says(cmd, "writable");
	fx_wait_log(run, "journal shard=0: writing again", 15000);
	fx_wait_log(run, "journal shard=1: writing again", 15000);
	fx_wait_health(run, 200, NULL, 15000);
	fx_storm_for(2000);
	log = fx_stop_clean();
	cr_expect_geq(pubfix_stop_counter(log, "journal_errors"), 1, "%s", log);
	evs = fx_file_whole(&kept);
	cr_expect_gt(json_array_size(evs), before, "the second run's events "
	    "(%zu lines before it)", before);
	json_decref(evs);
	free(log);
}

/*
 * tocsind runs with a 256 KiB file-size limit (RLIMIT_FSIZE, one shard
 * so the journal is the largest file): its journal's writes fail with
 * EFBIG (SIGXFSZ ignored); it keeps running and says so.  The limit is
 * lifted on the running process (prlimit --pid): it writes again, and at
 * the stop nothing is held and the file has every event, seq from 1 with
 * no gap.
 */
Test(tocsind_faults, journal_disk_refuses_then_recovers, .fini = fx_fini,
    .timeout = 180)
{
	char *const limit[] = { "prlimit", "--fsize=262144:unlimited", "--",
	    NULL };
	char cmd[128], *log;
	json_t *evs;
	int run, kept;

	fx_init(5, 0, 0, 1);
	run = fx_daemon(limit);
	fx_wait_log(run, "journal shard=0: write failed: File too large",
	    60000);
	fx_storm_for(3000);	/* refused, and alive */
	snprintf(cmd, sizeof(cmd), "prlimit --pid %d --fsize=unlimited && "
	    "echo lifted", (int)F.daemon);
	fx_sh_says(cmd, "lifted");
	fx_wait_log(run, "journal shard=0: writing again", 15000);
	fx_storm_for(2000);
	log = fx_stop_clean();
	cr_expect_geq(pubfix_stop_counter(log, "journal_errors"), 1, "%s", log);
	evs = fx_file_whole(&kept);
	cr_expect_eq(kept, pubfix_stop_counter(log, "incident_events"),
	    "the file has %d of the run's events:\n%s", kept, log);
	json_decref(evs);
	free(log);
}
