/*
 * test_tocsind_e2e.c - one register change, every way out: devsim drops a
 * site's mains voltage and the one MAINS_FAIL incident it causes reaches,
 * from the same journal, every place a user reads it: the HTTP API
 * (GET /api/v1/incidents/<id>), the SSE stream a client had open before
 * the change (GET /api/v1/events), the Kafka topic tocsin.incidents on
 * the embedded cluster (kcat), Redis (incident:<id>, incidents:open) and
 * the file output, all with the same id and the same latest seq.  An ack
 * through HTTP then shows on each of them too.  SIGTERM then loses
 * nothing: the stop line has no pending alarm or publish lag, and a
 * restarted tocsind lists the incident with the same seq and timeline.
 *
 * Loopback: 127.0.210-219.* (docs/testing.md), devsim's.  Bounds: every
 * wait 20 s or less; children stopped by PID.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "tests/support/dfix.h"
#include "tests/support/httpfix.h"
#include "tests/support/pubfix.h"
#include "tests/support/ssefix.h"
#include "tests/support/tenv.h"

#define TOKEN	"tocsin-e2e-token-7c2d9e4b1a"

static struct {
	struct dfix d;
	char	 net[32];	/* "127.0.Y." */
	int	 modport;	/* devsim's */
	int	 rport;		/* redis */
	pid_t	 redis;
} E;

static void
eenv_fini(void)
{
	pubfix_stop(&E.d.sim, SIGKILL);
	pubfix_stop(&E.redis, SIGKILL);
	dfix_fini(&E.d, "test_tocsind_e2e");
}

TestSuite(tocsind_e2e, .fini = eenv_fini, .timeout = 240);

static void
eenv_init(void)
{
	unsigned r = tenv_seed(211);
	char a[40];

	E.redis = -1;
	dfix_init(&E.d, "e2e");
	snprintf(E.net, sizeof(E.net), "127.0.%u.", 210 + r % 10);
	snprintf(a, sizeof(a), "%s1", E.net);
	E.modport = tenv_free_port(a);
	E.rport = tenv_free_port("127.0.0.1");
	cr_assert(E.modport > 0 && E.rport > 0);
	dfix_token(E.d.dir, TOKEN, 0600);
	E.redis = pubfix_redis_start(E.d.dir, E.rport, "redis.err");
	cr_assert_gt(E.redis, 0);
}

static void
config(void)
{
	char yaml[4096];

	snprintf(yaml, sizeof(yaml),
	    "daemon: {shards: 2, state_dir: %s/state}\n"
	    "modbus: {port: %d, timeout: 200ms, interval: 300ms, "
	    "comm_loss_misses: 3, backoff_min: 100ms, backoff_max: 500ms}\n"
	    "output: {file: %s/out.jsonl}\n"
	    "kafka: {brokers: \"\"}\n"
	    "redis: {enabled: true, port: %d, backoff_min: 100ms, "
	    "backoff_max: 500ms}\n"
	    "http: {listen: \"127.0.0.1:0\", token_file: %s/token}\n"
	    "profiles:\n"
	    "  rectifier:\n    points:\n"
	    "      - {name: mains_voltage, address: 30001, type: uint16, "
	    "scale: 0.1, min: 0, max: 500}\n"
	    "    alarms:\n"
	    "      - {code: MAINS_FAIL, point: mains_voltage, condition: "
	    "below, threshold: 170, clear: 190, severity: critical}\n"
	    "sites:\n"
	    "  - {id: T1, area: north, region: A, tenants: [{customer: cmcc, "
	    "tier: premium}]}\n"
	    "  - {id: T2, area: south, region: B, tenants: [{customer: ctcc, "
	    "tier: standard}]}\n"
	    "devices:\n"
	    "  - {id: T1-rect, site: T1, profile: rectifier, host: %s1}\n"
	    "  - {id: T2-rect, site: T2, profile: rectifier, host: %s2}\n",
	    E.d.dir, E.modport, E.d.dir, E.rport, E.d.dir, E.net, E.net);
	tenv_write_file(E.d.dir, "t.yaml", yaml);
}

/* the register change comes once the daemon and the stream are up */
static void
sim_start(void)
{
	tenv_write_file(E.d.dir, "scen.txt", "4s site:T1 mains_fail\n");
	dfix_sim_start(&E.d, "t.yaml", "scen.txt");
}

static void
daemon_up(void)
{
	dfix_up(&E.d, "t.yaml", 20000, 20000);
}

/*
 * The MAINS_FAIL incident's id once the API lists it (20 s).  Its root
 * names it: a consequence the same poll decoded first opens an incident
 * of its own, which the late root adopts (closed as merged) moments
 * later.
 */
static void
wait_incident(char *id, size_t len)
{
	int64_t end = tenv_mono_ms() + 20000;

	while (tenv_mono_ms() < end) {
		json_t *j = NULL, *items, *it;
		size_t i;

		if (dfix_json(&E.d, "GET", "/api/v1/incidents?site=T1", NULL,
		    NULL, &j) == 200 &&
		    (items = json_object_get(j, "incidents")) != NULL)
			json_array_foreach(items, i, it) {
				const char *a = json_string_value(
				    json_object_get(json_object_get(
				    json_object_get(it, "incident"),
				    "root_cause"), "alarm"));

				if (a == NULL || strcmp(a, "MAINS_FAIL") != 0)
					continue;
				snprintf(id, len, "%s", pubfix_inc_str(it,
				    "id"));
				json_decref(j);
				return;
			}
		json_decref(j);
		usleep(200 * 1000);
	}
	cr_assert_fail("no MAINS_FAIL incident at T1 in the API within 20 s");
}

/* The API's latest seq of id. */
static long long
api_seq(const char *id)
{
	char path[128];
	json_t *j = NULL;
	long long seq;

	snprintf(path, sizeof(path), "/api/v1/incidents/%s", id);
	cr_assert_eq(dfix_json(&E.d, "GET", path, NULL, NULL, &j), 200,
	    "GET %s", path);
	seq = pubfix_seq(j);
	json_decref(j);
	return seq;
}

/* Reads the stream until an event of id with seq >= want (20 s). */
static void
sse_until(struct ssefix *s, const char *id, long long want, char *root,
    size_t rootlen)
{
	int64_t end = tenv_mono_ms() + 20000;

	while (tenv_mono_ms() < end) {
		struct ssefix_block b;
		json_t *ev;
		int rc = ssefix_next(s, &b, 1000);

		cr_assert_neq(rc, -1, "the stream closed");
		if (rc == 0)
			continue;
		ev = b.data != NULL && strcmp(b.event, "incident") == 0 ?
		    json_loads(b.data, 0, NULL) : NULL;
		ssefix_block_free(&b);
		if (ev != NULL && strcmp(pubfix_inc_str(ev, "id"), id) == 0 &&
		    pubfix_seq(ev) >= want) {
			json_t *rc2 = json_object_get(json_object_get(ev,
			    "incident"), "root_cause");

			snprintf(root, rootlen, "%s", json_string_value(
			    json_object_get(rc2, "alarm")) ?
			    json_string_value(json_object_get(rc2, "alarm")) :
			    "");
			json_decref(ev);
			return;
		}
		json_decref(ev);
	}
	cr_assert_fail("%s seq %lld not on the stream in 20 s", id, want);
}

/* The highest seq of id on the Kafka topic, once it is >= want (20 s). */
static long long
kafka_seq(const char *bootstrap, const char *id, long long want)
{
	int64_t end = tenv_mono_ms() + 20000;
	long long best = -1;

	while (tenv_mono_ms() < end) {
		int bad = 0;
		json_t *evs = pubfix_kafka_events(bootstrap, "tocsin.incidents",
		    &bad);
		size_t i;
		json_t *ev;

		cr_expect_eq(bad, 0, "messages that are not events");
		json_array_foreach(evs, i, ev)
			if (strcmp(pubfix_inc_str(ev, "id"), id) == 0 &&
			    pubfix_seq(ev) > best)
				best = pubfix_seq(ev);
		json_decref(evs);
		if (best >= want)
			return best;
		usleep(300 * 1000);
	}
	return best;
}

/* Redis' incident:<id> hash field, once present (20 s); malloc'd. */
static char *
redis_field(const char *id, const char *field, long long want_seq)
{
	int64_t end = tenv_mono_ms() + 20000;
	char line[512];

	snprintf(line, sizeof(line), "redis-cli -p %d HGET 'tocsin:incident:%s' "
	    "%s", E.rport, id, field);
	while (tenv_mono_ms() < end) {
		char *v = pubfix_sh(line, 5000), *seq;
		char sl[512];

		snprintf(sl, sizeof(sl), "redis-cli -p %d HGET "
		    "'tocsin:incident:%s' seq", E.rport, id);
		seq = pubfix_sh(sl, 5000);
		if (v[0] != '\0' && v[0] != '\n' && atoll(seq) >= want_seq) {
			free(seq);
			return v;
		}
		free(seq);
		free(v);
		usleep(300 * 1000);
	}
	return strdup("");
}

Test(tocsind_e2e, one_register_change_reaches_every_reader)
{
	char id[64], root[64], boot[128], log[128], line[256], out[128];
	struct ssefix *s;
	struct httpfix_resp r;
	long long seq, kseq;
	char *v, *open;
	json_t *evs, *last = NULL;
	int kept = 0, kafka;

	eenv_init();
	config();
	sim_start();
	daemon_up();
	/* a client watching before anything happened */
	s = ssefix_open(E.d.port, NULL, NULL, 10000);
	cr_assert_not_null(s, "cannot open the stream");
	cr_assert_eq(ssefix_status(s), 200);

	/* devsim's register change -> the incident, in the API */
	wait_incident(id, sizeof(id));
	seq = api_seq(id);
	/* ... on the stream */
	sse_until(s, id, seq, root, sizeof(root));
	cr_expect_str_eq(root, "MAINS_FAIL");
	/* ... on Kafka (a ThreadSanitizer tocsind has no Kafka publisher:
	 * librdkafka's threads are invisible to TSan) */
	snprintf(log, sizeof(log), "%s/tocsind.err", E.d.dir);
	kafka = tenv_kafka();
	if (kafka) {
		cr_assert_eq(pubfix_mock_bootstrap(log, boot, sizeof(boot),
		    10000), 0);
		kseq = kafka_seq(boot, id, seq);
		cr_expect_geq(kseq, seq, "Kafka has %s up to seq %lld, the API "
		    "%lld", id, kseq, seq);
	}
	/* ... in Redis */
	v = redis_field(id, "state", seq);
	cr_expect_str_eq(v, "open\n", "redis state of %s: %s", id, v);
	free(v);
	snprintf(line, sizeof(line), "redis-cli -p %d ZSCORE "
	    "tocsin:incidents:open '%s'", E.rport, id);
	open = pubfix_sh(line, 5000);
	cr_expect(open[0] >= '0' && open[0] <= '9', "%s not in the open set",
	    id);
	free(open);

	/* an ack through HTTP reaches every reader too */
	snprintf(line, sizeof(line), "/api/v1/incidents/%s/ack", id);
	cr_assert_eq(httpfix_do(E.d.port, "POST", line, "Authorization: Bearer "
	    TOKEN "\r\nContent-Type: application/json\r\n",
	    "{\"actor\":\"e2e-ann\"}", &r), 200, "ack: %s", r.body);
	{
		/* the answer's seq is the ack's event (journaled); the view
		 * and every sink get it from the journal, a moment later */
		json_t *a = json_loads(r.body, 0, NULL);
		int64_t end = tenv_mono_ms() + 20000;

		seq = pubfix_seq(a);
		json_decref(a);
		cr_assert_gt(seq, 0, "ack answer: %s", r.body);
		while (api_seq(id) < seq && tenv_mono_ms() < end)
			usleep(100 * 1000);
		cr_expect_eq(api_seq(id), seq, "the API has the ack's seq");
	}
	httpfix_free(&r);
	sse_until(s, id, seq, root, sizeof(root));
	if (kafka)
		cr_expect_geq(kafka_seq(boot, id, seq), seq);
	v = redis_field(id, "state", seq);
	cr_expect_str_eq(v, "acknowledged\n", "redis state: %s", v);
	free(v);
	ssefix_close(s);

	/* SIGTERM: nothing pending, nothing lagging; the file has it all */
	dfix_stop_clean(&E.d, TOKEN);
	v = dfix_log(&E.d, 0);
	cr_expect_eq(pubfix_stop_counter(v, "alarms_pending"), 0, "%s", v);
	cr_expect_eq(pubfix_stop_counter(v, "publish_lag_bytes"), 0);
	free(v);
	snprintf(out, sizeof(out), "%s/out.jsonl", E.d.dir);
	evs = pubfix_file_events(out, NULL);
	cr_expect_eq(pubfix_dedup(evs, &last, &kept, line, sizeof(line)), 0,
	    "a gap in the file: %s", line);
	cr_expect_eq(pubfix_seq(json_object_get(last, id)), seq,
	    "the file's last seq of %s", id);
	json_decref(evs);
	json_decref(last);
	/* the restarted daemon has it, same seq, as soon as /readyz says
	 * so: it waits for the read API to hold the shards' start dumps
	 * (docs/http.md, "After a restart") */
	daemon_up();
	cr_expect_eq(api_seq(id), seq, "seq after a restart");
	dfix_stop_clean(&E.d, TOKEN);
}
