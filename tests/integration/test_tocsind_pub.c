/*
 * test_tocsind_pub.c - tocsind publishing to the real systems users run
 * (issue 12): a redis-server and an Apache Kafka broker started here on
 * loopback (tests/kafka/broker.sh; where Java is missing, tocsind's own
 * embedded mock cluster, said on stderr).  Devices that never answer make
 * COMM_LOSS incidents; ticketing acknowledges one through tocsin.actions
 * and sends two bad actions.  Read as a client would (kcat, redis-cli):
 * tocsin.incidents has every event the file has, per incident seq 1, 2, 3
 * with no gap; the good action is on the incident's timeline; the bad ones
 * are on tocsin.actions.rejected with their reasons; tocsin.alarms has
 * each device's COMM_LOSS raise keyed by its area; Redis' open set is
 * exactly the open incidents, and device:<id> says the device is lost.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "tests/support/kbroker.h"
#include "tests/support/proc.h"
#include "tests/support/pubfix.h"
#include "tests/support/tenv.h"

static char dir[64];
static pid_t redis_pid = -1, daemon_pid = -1;

static void
fini(void)
{
	char cmd[128];

	pubfix_stop(&daemon_pid, SIGTERM);
	pubfix_stop(&redis_pid, SIGTERM);
	broker_fini();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)system(cmd);
}

/* The output file's events. */
static json_t *
file_events(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/out.jsonl", dir);
	return pubfix_file_events(path, NULL);
}

static void
roundtrip(void)
{
	char bootstrap[128], yaml[4096], cmd[1024], cfg[128];
	const char *b;
	char *out, *net;
	int port = 0, modport, n_file = 0, n_kafka = -1;
	unsigned x = tenv_seed(77) % 200 + 20;
	json_t *evs, *ev, *last = json_object(), *state = json_object();
	const char *acked = NULL;
	size_t i;
	char id[64] = "";

	if (!tenv_kafka()) {
		cr_skip_test("a ThreadSanitizer tocsind has no Kafka publisher "
		    "(librdkafka's threads are invisible to TSan)");
		return;
	}
	strcpy(dir, "/tmp/tocsin-pub-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	/* Redis */
	port = tenv_free_port("127.0.0.1");
	cr_assert_gt(port, 0);
	redis_pid = pubfix_redis_start(dir, port, "redis.err");
	/* Kafka: a real broker, or tocsind's embedded mock */
	b = broker_start(bootstrap, sizeof(bootstrap));

	net = NULL;
	if (asprintf(&net, "127.%u.%u.", x, tenv_seed(78) % 250 + 1) < 0)
		abort();
	modport = tenv_free_port("127.0.0.1");
	snprintf(yaml, sizeof(yaml),
	    "daemon: {shards: 2, state_dir: %s/state}\n"
	    "modbus: {port: %d, timeout: 100ms, interval: 200ms, "
	    "comm_loss_misses: 1, backoff_min: 100ms, backoff_max: 300ms}\n"
	    "output: {file: %s/out.jsonl}\n"
	    "http: {listen: \"127.0.0.1:0\"}\n"
	    "redis: {enabled: true, port: %d}\n"
	    "kafka: {brokers: \"%s\", alarms: tocsin.alarms}\n"
	    "profiles:\n  rect:\n    points:\n"
	    "      - {name: v, address: 30001}\n"
	    "    alarms:\n      - {code: MAINS_FAIL, point: v, condition: "
	    "below, threshold: 170, clear: 190, severity: critical}\n"
	    "sites:\n"
	    "  - {id: P1, area: north, region: A, tenants: [{customer: c1, "
	    "tier: premium}]}\n"
	    "  - {id: P2, area: south, region: B, tenants: [{customer: c2, "
	    "tier: standard}]}\n"
	    "  - {id: P3, area: east, region: C, tenants: [{customer: c3, "
	    "tier: standard}]}\n"
	    "devices:\n"
	    "  - {id: P1-rect, site: P1, profile: rect, host: %s1}\n"
	    "  - {id: P2-rect, site: P2, profile: rect, host: %s2}\n"
	    "  - {id: P3-rect, site: P3, profile: rect, host: %s3}\n",
	    dir, modport, dir, port, b, net, net, net);
	free(net);
	tenv_write_file(dir, "t.yaml", yaml);
	snprintf(cfg, sizeof(cfg), "%s/t.yaml", dir);
	{
		char prog[512];
		char *argv[] = { prog, "-c", cfg, "-d", "120", NULL };

		snprintf(prog, sizeof(prog), "%s", proc_build_path("tocsind"));
		daemon_pid = pubfix_spawn(dir, argv, "tocsind.out",
		    "tocsind.err");
	}
	if (b[0] == '\0') {
		/* the embedded mock's address, from tocsind's log */
		char path[128];

		snprintf(path, sizeof(path), "%s/tocsind.err", dir);
		cr_assert_eq(pubfix_mock_bootstrap(path, bootstrap,
		    sizeof(bootstrap), 10000), 0, "no mock bootstrap in the log");
	}

	/* three COMM_LOSS incidents, opened and published */
	for (int t = 0; t < 200; t++) {
		evs = file_events();
		n_file = (int)json_array_size(evs);
		json_array_foreach(evs, i, ev)
			if (strcmp(json_string_value(json_object_get(ev,
			    "event")), "opened") == 0 && id[0] == '\0')
				snprintf(id, sizeof(id), "%s",
				    pubfix_inc_str(ev, "id"));
		json_decref(evs);
		if (n_file >= 3 && id[0] != '\0')
			break;
		usleep(100000);
	}
	cr_assert_neq(id[0], '\0', "no incident opened");

	/* ticketing: one good action, two bad ones */
	snprintf(cmd, sizeof(cmd), "printf '%%s\\n' "
	    "'{\"incident\":\"%s\",\"action\":\"ack\",\"actor\":\"ticket-42\","
	    "\"note\":\"on it\"}' 'not json at all' "
	    "'{\"incident\":\"%s\",\"action\":\"fly\",\"actor\":\"x\"}' | "
	    "kcat -P -b %s -t tocsin.actions -X enable.idempotence=true "
	    "-X acks=all", id, id, bootstrap);
	free(pubfix_sh(cmd, 60000));
	for (int k = 0; k < 300 && acked == NULL; k++) {
		evs = file_events();
		json_array_foreach(evs, i, ev)
			if (strcmp(json_string_value(json_object_get(ev,
			    "event")), "acknowledged") == 0)
				acked = "yes";
		json_decref(evs);
		usleep(100000);
	}
	cr_expect_not_null(acked, "the good action reached the incident");

	/* tocsin.incidents catches up with the file */
	for (int k = 0; k < 300; k++) {
		evs = file_events();
		n_file = (int)json_array_size(evs);
		json_decref(evs);
		snprintf(cmd, sizeof(cmd), "kcat -C -b %s -t tocsin.incidents "
		    "-o beginning -e -q -f '%%k %%s\\n' 2>/dev/null", bootstrap);
		out = pubfix_sh(cmd, 30000);
		n_kafka = pubfix_count_lines(out);
		if (n_kafka >= n_file && n_file > 0)
			break;
		free(out);
		out = NULL;
		usleep(200000);
	}
	cr_assert_not_null(out, "tocsin.incidents has %d of %d events",
	    n_kafka, n_file);
	/* per key, seq 1, 2, 3 ... (a repeat would be dropped by seq) */
	{
		char *save = NULL;

		for (char *l = strtok_r(out, "\n", &save); l != NULL;
		    l = strtok_r(NULL, "\n", &save)) {
			char *sp = strchr(l, ' ');
			json_t *o;
			json_int_t seq, prev;

			cr_assert_not_null(sp);
			*sp = '\0';
			o = json_loads(sp + 1, 0, NULL);
			cr_assert_not_null(o, "not JSON on the topic: %s", sp + 1);
			cr_expect_str_eq(pubfix_inc_str(o, "id"), l, "key = incident id");
			seq = json_integer_value(json_object_get(o, "seq"));
			prev = json_integer_value(json_object_get(last, l));
			if (seq <= prev)
				continue;	/* a repeat: dropped by seq */
			cr_expect_eq(seq, prev + 1, "%s: seq %lld after %lld", l,
			    (long long)seq, (long long)prev);
			json_object_set_new(last, l, json_integer(seq));
			json_object_set_new(state, l, json_string(pubfix_inc_str(o,
			    "state")));
			json_decref(o);
		}
		free(out);
	}
	/* the bad actions, with their reasons */
	snprintf(cmd, sizeof(cmd), "kcat -C -b %s -t tocsin.actions.rejected "
	    "-o beginning -e -q 2>/dev/null", bootstrap);
	for (int k = 0; k < 100; k++) {
		out = pubfix_sh(cmd, 30000);
		if (pubfix_count_lines(out) >= 2)
			break;
		free(out);
		out = NULL;
		usleep(200000);
	}
	cr_assert_not_null(out, "tocsin.actions.rejected has not both");
	cr_expect(strstr(out, "not json at all") != NULL, "%s", out);
	cr_expect(strstr(out, "fly") != NULL, "%s", out);
	free(out);
	/* the raw transitions: each device's COMM_LOSS raise, keyed by area */
	snprintf(cmd, sizeof(cmd), "kcat -C -b %s -t tocsin.alarms "
	    "-o beginning -e -q -f '%%k %%s\\n' 2>/dev/null", bootstrap);
	for (int k = 0; k < 100; k++) {
		int raises = 0;

		out = pubfix_sh(cmd, 30000);
		/* ticks come too, when the partitions are the shards */
		for (const char *q = out; (q = strstr(q, "\"COMM_LOSS\","
		    "\"edge\":\"raise\"")) != NULL; q++)
			raises++;
		if (raises >= 3)
			break;
		free(out);
		out = NULL;
		usleep(200000);
	}
	cr_assert_not_null(out, "tocsin.alarms has not the three raises");
	{
		static const char *const want[] = {
			"north {\"at\":", "\"device\":\"P1-rect\",\"site\":"
			"\"P1\",\"code\":\"COMM_LOSS\",\"edge\":\"raise\"",
			"south {\"at\":", "\"device\":\"P2-rect\",\"site\":"
			"\"P2\",\"code\":\"COMM_LOSS\",\"edge\":\"raise\"",
			"east {\"at\":", "\"device\":\"P3-rect\",\"site\":"
			"\"P3\",\"code\":\"COMM_LOSS\",\"edge\":\"raise\"",
		};

		for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++)
			cr_expect(strstr(out, want[w]) != NULL, "no %s in:\n%s",
			    want[w], out);
	}
	free(out);
	/* Redis: exactly the open incidents */
	snprintf(cmd, sizeof(cmd), "redis-cli -p %d ZRANGE tocsin:incidents:open "
	    "0 -1", port);
	for (int k = 0; k < 100; k++) {
		const char *key;
		json_t *v;
		int want = 0, missing = 0;

		out = pubfix_sh(cmd, 10000);
		json_object_foreach(state, key, v)
			if (strcmp(json_string_value(v), "closed") != 0) {
				want++;
				if (strstr(out, key) == NULL)
					missing++;
			}
		if (missing == 0 && pubfix_count_lines(out) == want)
			break;
		free(out);
		out = NULL;
		usleep(200000);
	}
	cr_expect_not_null(out, "Redis' open set is not the open incidents");
	free(out);
	/* the devices' communication state, written when it changed */
	snprintf(cmd, sizeof(cmd), "redis-cli -p %d HGET tocsin:device:P1-rect "
	    "comm", port);
	out = pubfix_sh(cmd, 10000);
	cr_expect_str_eq(out, "lost\n");
	free(out);
	json_decref(last);
	json_decref(state);
	pubfix_stop(&daemon_pid, SIGTERM);
}

Test(tocsind_pub, kafka_and_redis_see_what_the_file_sees, .fini = fini,
    .timeout = 400)
{
	roundtrip();
}

/*
 * The same where broker.sh finds no Java (TOCSIN_KAFKA_MOCK=1 walks that
 * path here): the test falls back to tocsind's embedded mock cluster,
 * whose address it reads from tocsind's log, and every check holds.
 */
Test(tocsind_pub, without_java_the_embedded_cluster_serves, .fini = fini,
    .timeout = 400)
{
	setenv("TOCSIN_KAFKA_MOCK", "1", 1);
	roundtrip();
}
