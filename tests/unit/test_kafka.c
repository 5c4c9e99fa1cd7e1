/*
 * test_kafka.c - drivers/kafka against librdkafka's mock cluster (the real
 * wire protocol on loopback ports): records reach the topic as kcat reads
 * it, every key in order; done is monotone per shard and never passes a
 * record still in flight, also when partitions answer out of order;
 * records that are not produced are done in their turn; a definite
 * failure rewinds to the oldest record not done; a refused record is
 * counted and done and the rest go out; a full queue says -EAGAIN and
 * then ready once; actions reach the host with their fields, bad ones land
 * on the rejected topic with the reason, and the committed offset covers
 * journaled actions and never passes an unfinished one; a full shard
 * pauses its partition and nothing is lost or doubled on resume; an idle
 * sink uses no CPU.
 *
 * Tests that need to bend the cluster (latency, a broker down) start their
 * own mock cluster and hand its bootstrap to the sink as `brokers`.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <ev.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "correlator/fleet.h"
#include "daemon/utc.h"
#include "drivers/kafka/kafka.h"
#include "tests/support/kafkafix.h"
#include "tests/support/tenv.h"

/* A mock cluster of the test's own. */
struct mock {
	rd_kafka_t	*rk;
	rd_kafka_mock_cluster_t *mc;
	char		 bootstrap[256];
};

static void
mock_start(struct mock *m, int brokers)
{
	char e[256];

	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	(void)rd_kafka_conf_set(conf, "log_level", "4", e, sizeof(e));
	m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
	cr_assert_not_null(m->rk, "%s", e);
	m->mc = rd_kafka_mock_cluster_new(m->rk, brokers);
	cr_assert_not_null(m->mc);
	snprintf(m->bootstrap, sizeof(m->bootstrap), "%s",
	    rd_kafka_mock_cluster_bootstraps(m->mc));
}

static void
mock_stop(struct mock *m)
{
	rd_kafka_mock_cluster_destroy(m->mc);
	rd_kafka_destroy(m->rk);
}

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Offers per_key events to keys incidents of each of shards shards. */
static void
offer_events(struct kfx *x, unsigned shards, unsigned keys, unsigned per_key)
{
	for (unsigned seq = 1; seq <= per_key; seq++)
		for (unsigned k = 0; k < keys; k++)
			for (unsigned s = 0; s < shards; s++)
				cr_assert_eq(kfx_offer_event(x, s, k, seq, 0),
				    0);
}

static void
check_topic(struct kfx *x, const char *brokers, unsigned shards,
    unsigned keys, unsigned per_key, int dups)
{
	char *dump = kfx_kcat_read(brokers, x->incidents, 30000);
	char why[256];

	cr_assert_not_null(dump, "kcat could not read %s", x->incidents);
	cr_assert_eq(kfx_check_events(dump, shards, keys, per_key, dups, why,
	    sizeof(why)), 0, "%s", why);
	free(dump);
}

Test(kafka, settings_table_and_secrets)
{
	struct kafka_config c;

	kafka_config_defaults(&c);
	cr_assert_str_eq(c.brokers, "");
	cr_assert_str_eq(c.incidents, "tocsin.incidents");
	cr_assert_str_eq(c.actions, "tocsin.actions");
	cr_assert_str_eq(c.rejected, "tocsin.actions.rejected");
	cr_assert_str_eq(c.alarms, "");
	cr_assert_str_eq(c.group, "tocsind");
	cr_assert_eq(c.nprops, 0);
	for (const struct kafka_setting *s = kafka_settings; s->key; s++)
		cr_assert(s->doc != NULL && s->doc[0] != '\0', "%s", s->key);
	cr_assert(kafka_prop_secret("sasl.password"));
	cr_assert(kafka_prop_secret("sasl.username"));
	cr_assert(kafka_prop_secret("ssl.key.password"));
	cr_assert(kafka_prop_secret("ssl.key.pem"));
	cr_assert(kafka_prop_secret("producer.ssl.key.location"));
	cr_assert(kafka_prop_secret("sasl.oauthbearer.client.secret"));
	cr_assert(kafka_prop_secret("sasl.oauthbearer.token.endpoint.url"));
	cr_assert_not(kafka_prop_secret("linger.ms"));
	cr_assert_not(kafka_prop_secret("security.protocol"));
	cr_assert_not(kafka_prop_secret("ssl.ca.location"));
}

/* docs/kafka.md's settings table is kafka_settings[], row for row. */
Test(kafka, docs_table_is_the_settings_table)
{
	char *doc = tenv_read_file("docs/kafka.md");

	cr_assert_neq(doc[0], '\0', "docs/kafka.md not found");
	for (const struct kafka_setting *s = kafka_settings; s->key; s++) {
		char row[512];

		snprintf(row, sizeof(row), "| `%s` | %s | %s |\n", s->key,
		    s->def[0] ? s->def : "\"\"", s->doc);
		cr_assert_not_null(strstr(doc, row), "docs/kafka.md lacks the "
		    "row:\n%s", row);
	}
	free(doc);
}

Test(kafka, bad_property_refused_with_its_key)
{
	struct kfx x;

	kfx_init(&x, "", "badprop");
	kfx_prop(&x, "no.such.property", "1");
	cr_assert_eq(kfx_open(&x, 1), -EINVAL);
	cr_assert_not_null(strstr(x.err, "no.such.property"), "%s", x.err);
	cr_assert_null(x.sink);
	kfx_close(&x, 0);
}

Test(kafka, embedded_mock_delivers_every_record_in_order)
{
	struct kafka_stats st;
	struct kfx x;

	kfx_init(&x, "", "embedded");
	cr_assert_eq(kfx_open(&x, 0), 0, "%s", x.err);
	cr_assert_eq(strncmp(kafka_bootstrap(x.sink), "127.0.0.1:", 10), 0,
	    "%s", kafka_bootstrap(x.sink));
	offer_events(&x, 3, 20, 10);
	cr_assert(kfx_wait(&x, kfx_all_done, 30000), "done %llu %llu %llu",
	    (unsigned long long)x.done[0], (unsigned long long)x.done[1],
	    (unsigned long long)x.done[2]);
	cr_assert_eq(x.done_backwards, 0);
	cr_assert_eq(x.nrewind, 0);
	kafka_stats(x.sink, &st);
	cr_assert_eq(st.produced, 600);
	cr_assert_eq(st.delivered, 600);
	cr_assert_eq(st.failed + st.refused + st.rewinds, 0);
	cr_assert_eq(st.inflight, 0, "%llu in flight after every report",
	    (unsigned long long)st.inflight);
	cr_assert(x.sink->ops->healthy(x.sink));
	check_topic(&x, kafka_bootstrap(x.sink), 3, 20, 10, 0);
	kfx_close(&x, 5000);
}

/*
 * With `alarms` set, the alarm transitions the shards journaled go to that
 * topic as tocsin.alarms/1 (the line --replay reads), keyed by area, on
 * the area's partition (fleet_area_shard of the mock's 3: north and east
 * on 2, south on 1, where librdkafka's own partitioner would put north on
 * 0 and east on 1), in journal order within an area, done in their turn
 * among the events; without it they are done without a message.
 */
Test(kafka, alarms_topic_gets_each_transition_keyed_by_area)
{
	static const char *const areas[] = { "north", "south", "east" };
	struct kafka_stats st;
	char *dump, *line, *save;
	unsigned next[3] = { 0, 0, 0 }, nlines = 0;
	struct kfx x;

	kfx_init(&x, "", "alarms");
	x.cfg.alarms = x.alarms;
	cr_assert_eq(kfx_open(&x, 0), 0, "%s", x.err);
	for (unsigned n = 0; n < 90; n++) {
		cr_assert_eq(kfx_offer_alarm(&x, n % 2, areas[n % 3], n), 0);
		if (n % 10 == 0)
			cr_assert_eq(kfx_offer_event(&x, n % 2, n, 1, 0), 0);
	}
	cr_assert(kfx_wait(&x, kfx_all_done, 30000));
	cr_assert_eq(x.done_backwards, 0);
	kafka_stats(x.sink, &st);
	cr_assert_eq(st.produced, 90 + 9);
	cr_assert_eq(st.delivered, 90 + 9);
	dump = kfx_kcat_read_fmt(kafka_bootstrap(x.sink), x.alarms,
	    "%p %k %s\n", 30000);
	cr_assert_not_null(dump);
	for (line = strtok_r(dump, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char want[512], val[32], *sp;
		unsigned a, n, part;

		cr_assert_eq(sscanf(line, "%u ", &part), 1, "%s", line);
		line = strchr(line, ' ') + 1;
		sp = strchr(line, ' ');
		cr_assert_not_null(sp, "%s", line);
		*sp = '\0';
		cr_assert_eq(part, fleet_area_shard(line, 3), "%s on %u", line,
		    part);
		for (a = 0; a < 3 && strcmp(line, areas[a]) != 0; a++)
			;
		cr_assert_lt(a, 3, "key %s", line);
		n = next[a] * 3 + a;	/* the area's transitions in order */
		next[a]++;
		if (n % 7 == 0)
			snprintf(val, sizeof(val), "null");
		else
			snprintf(val, sizeof(val), "%.17g", n / 2.0);
		snprintf(want, sizeof(want), "{\"at\":\"2023-11-14T22:13:20."
		    "%03uZ\",\"device\":\"D%u\",\"site\":\"S%u\",\"code\":"
		    "\"MAINS_FAIL\",\"edge\":\"%s\",\"severity\":\"critical\","
		    "\"value\":%s}", n, n, n, n % 2 == 0 ? "raise" : "clear", val);
		cr_assert_str_eq(sp + 1, want);
		nlines++;
	}
	cr_assert_eq(nlines, 90);
	cr_assert_eq(kafka_area_partition("north", 5, 3), 2);
	cr_assert_eq(kafka_area_partition("south", 5, 3), 1);
	cr_assert_eq(kafka_area_partition("north", 5, 0), -1);
	free(dump);
	kfx_close(&x, 5000);

	/* off: done in their turn, nothing produced */
	kfx_init(&x, "", "noalarms");
	cr_assert_eq(kfx_open(&x, 0), 0, "%s", x.err);
	for (unsigned n = 0; n < 10; n++)
		cr_assert_eq(kfx_offer_alarm(&x, 0, "north", n), 0);
	cr_assert_eq(kfx_offer_event(&x, 0, 1, 1, 0), 0);
	cr_assert(kfx_wait(&x, kfx_all_done, 30000));
	kafka_stats(x.sink, &st);
	cr_assert_eq(st.produced, 1);
	kfx_close(&x, 5000);
}

/* An area name whose fleet_area_shard() of n is shard. */
static void
area_of(unsigned shard, unsigned n, char *buf, size_t len)
{
	for (unsigned i = 0;; i++) {
		snprintf(buf, len, "area%u", i);
		if (fleet_area_shard(buf, n) == shard)
			return;
	}
}

/*
 * Stream time (docs/scaleout.md): with shards set and the topic holding
 * that many partitions (the embedded cluster makes it so), each shard's
 * ticks go to the partition of its number, in its journal order among its
 * alarms, as {"at":..,"tick":client.id} with no key; a partition read
 * alone is then alarms and ticks in time order.  Before the partitioner
 * has seen the count a tick is done unproduced; so is every tick of a
 * sink whose shards are not the topic's partitions (said once).
 */
Test(kafka, ticks_follow_each_shards_alarms_on_its_partition)
{
	const int64_t t0 = 1700000000000LL;
	struct kafka_stats st;
	char area[2][16], *dump, *line, *save;
	int64_t last[2] = { 0, 0 };
	unsigned nticks[2] = { 0, 0 }, nalarms[2] = { 0, 0 }, offered = 0;
	struct kfx x, y;

	area_of(0, 2, area[0], sizeof(area[0]));
	area_of(1, 2, area[1], sizeof(area[1]));
	kfx_init(&x, "", "ticks");
	x.cfg.alarms = x.alarms;
	x.cfg.shards = 2;
	cr_assert_eq(kfx_open(&x, 0), 0, "%s", x.err);
	/* nothing produced to it yet: the count is not known */
	cr_assert_eq(kfx_offer_tick(&x, 0, t0), 0);
	cr_assert_eq(kfx_offer_alarm(&x, 0, area[0], 0), 0);
	cr_assert(kfx_wait(&x, kfx_all_done, 30000));
	kafka_stats(x.sink, &st);
	cr_assert_eq(st.ticks_skipped, 1);
	cr_assert_eq(st.ticks_produced, 0);
	for (unsigned n = 1; n < 60; n++) {
		cr_assert_eq(kfx_offer_alarm(&x, n % 2, area[n % 2], n), 0);
		if (n % 5 == 0) {
			cr_assert_eq(kfx_offer_tick(&x, 0, t0 + n), 0);
			cr_assert_eq(kfx_offer_tick(&x, 1, t0 + n), 0);
			offered += 2;
		}
	}
	cr_assert(kfx_wait(&x, kfx_all_done, 30000));
	kafka_stats(x.sink, &st);
	cr_assert_eq(st.ticks_produced, offered);
	cr_assert_eq(st.ticks_skipped, 1);
	cr_assert_eq(x.done_backwards, 0);
	dump = kfx_kcat_read_fmt(kafka_bootstrap(x.sink), x.alarms,
	    "%p|%k|%s\n", 30000);
	cr_assert_not_null(dump);
	for (line = strtok_r(dump, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char key[32] = "", *val;
		unsigned part;
		json_t *o;
		int64_t at;

		cr_assert_eq(sscanf(line, "%u|", &part), 1, "%s", line);
		cr_assert_lt(part, 2, "%s", line);
		val = strchr(strchr(line, '|') + 1, '|');
		cr_assert_not_null(val, "%s", line);
		memcpy(key, strchr(line, '|') + 1, (size_t)(val - strchr(line,
		    '|') - 1));
		o = json_loads(val + 1, 0, NULL);
		cr_assert_not_null(o, "%s", line);
		cr_assert_eq(utc_parse(json_string_value(json_object_get(o,
		    "at")), strlen(json_string_value(json_object_get(o, "at"))),
		    &at), 0, "%s", line);
		cr_assert_geq(at, last[part], "partition %u goes back in time "
		    "at %s", part, line);
		last[part] = at;
		if (json_object_get(o, "tick") != NULL) {
			char want[128];

			snprintf(want, sizeof(want), "{\"at\":\"%s\",\"tick\":"
			    "\"tocsind\"}", json_string_value(json_object_get(o,
			    "at")));
			cr_assert_str_eq(val + 1, want);
			cr_assert_str_eq(key, "", "a tick has no key: %s", line);
			nticks[part]++;
		} else {
			cr_assert_str_eq(key, area[part], "%s", line);
			nalarms[part]++;
		}
		json_decref(o);
	}
	cr_assert_eq(nticks[0], offered / 2);
	cr_assert_eq(nticks[1], offered / 2);
	cr_assert_eq(nalarms[0] + nalarms[1], 60);
	free(dump);

	/* a sink of 4 shards on this 2-partition topic: no ticks */
	kfx_init(&y, kafka_bootstrap(x.sink), "ticks4");
	snprintf(y.alarms, sizeof(y.alarms), "%s", x.alarms);
	y.cfg.alarms = y.alarms;
	y.cfg.shards = 4;
	cr_assert_eq(kfx_open(&y, 0), 0, "%s", y.err);
	cr_assert_eq(kfx_offer_alarm(&y, 3, area[1], 61), 0);
	cr_assert(kfx_wait(&y, kfx_all_done, 30000));
	for (unsigned s = 0; s < 4; s++)
		cr_assert_eq(kfx_offer_tick(&y, s, t0 + 100), 0);
	cr_assert(kfx_wait(&y, kfx_all_done, 30000));
	kafka_stats(y.sink, &st);
	cr_assert_eq(st.ticks_produced, 0);
	cr_assert_eq(st.ticks_skipped, 4);
	cr_assert_eq(st.produced, 1);
	kfx_close(&y, 5000);
	kfx_close(&x, 5000);
}

static int
kfx_fatal(struct kfx *x)
{
	return kafka_fatal(x->sink);
}

/*
 * A fatal producer error (the idempotent producer cannot keep order any
 * more): the sink says so, refuses every offer with -EAGAIN (the records
 * stay in the journal) and is unhealthy, so the daemon replaces it
 * (test_publish covers the replacement's resend).
 */
Test(kafka, fatal_producer_refuses_everything_and_says_so)
{
	struct kfx x;

	kfx_init(&x, "", "fatal");
	cr_assert_eq(kfx_open(&x, 0), 0, "%s", x.err);
	offer_events(&x, 1, 5, 2);
	cr_assert(kfx_wait(&x, kfx_all_done, 30000));
	cr_assert_not(kafka_fatal(x.sink));
	kafka_test_fatal(x.sink);
	cr_assert(kfx_wait(&x, kfx_fatal, 10000), "no fatal error seen");
	cr_assert_eq(kfx_offer_event(&x, 0, 1, 3, 0), -EAGAIN);
	cr_assert_not(x.sink->ops->healthy(x.sink));
	kfx_close(&x, 0);
}

Test(kafka, done_waits_for_the_slowest_partition)
{
	struct mock m;
	struct kfx x;

	/* 3 brokers, partitions led by each; broker 2 answers 400 ms late */
	mock_start(&m, 3);
	cr_assert_eq(rd_kafka_mock_topic_create(m.mc, "t.slow", 6, 1), 0);
	for (int p = 0; p < 6; p++)
		rd_kafka_mock_partition_set_leader(m.mc, "t.slow", p, 1 + p % 3);
	rd_kafka_mock_broker_set_rtt(m.mc, 2, 400);
	kfx_init(&x, m.bootstrap, "slow");
	snprintf(x.incidents, sizeof(x.incidents), "t.slow");
	cr_assert_eq(kfx_open(&x, 0), 0, "%s", x.err);
	offer_events(&x, 2, 12, 5);
	/* non-produced kinds queue behind in-flight records, in order */
	cr_assert_eq(kfx_offer_kind(&x, 0, PUB_DUMP_BEGIN, -1, -1), 0);
	cr_assert_eq(kfx_offer_kind(&x, 0, PUB_STATE, -1, -1), 0);
	cr_assert_eq(kfx_offer_kind(&x, 0, PUB_DUMP_END, -1, -1), 0);
	cr_assert_eq(x.ndone[0], 0, "done before anything was delivered");
	{
		struct kafka_stats st;

		/* nothing reported yet: every produced record is in flight
		 * (/metrics' tocsin_sink_inflight) */
		kafka_stats(x.sink, &st);
		cr_assert_eq(st.inflight, st.produced, "%llu of %llu",
		    (unsigned long long)st.inflight,
		    (unsigned long long)st.produced);
		cr_assert_eq(st.produced, 2 * 12 * 5);
		cr_assert(kfx_wait(&x, kfx_all_done, 30000));
		kafka_stats(x.sink, &st);
		cr_assert_eq(st.inflight, 0);
	}
	cr_assert_eq(x.done_backwards, 0);
	cr_assert_eq(x.nrewind, 0);
	check_topic(&x, m.bootstrap, 2, 12, 5, 0);
	kfx_close(&x, 5000);
	mock_stop(&m);
}

static int
rewound(struct kfx *x)
{
	return x->nrewind > 0;
}

Test(kafka, definite_failure_rewinds_to_the_oldest_not_done)
{
	struct kafka_stats st;
	struct mock m;
	struct kfx x;

	mock_start(&m, 1);
	kfx_init(&x, m.bootstrap, "fail");
	kfx_prop(&x, "producer.message.timeout.ms", "1500");
	cr_assert_eq(kfx_open(&x, 0), 0, "%s", x.err);
	offer_events(&x, 1, 1, 1);
	cr_assert(kfx_wait(&x, kfx_all_done, 20000));
	/* the broker goes away: these time out, a definite failure */
	rd_kafka_mock_broker_set_down(m.mc, 1);
	for (unsigned seq = 2; seq <= 6; seq++)
		cr_assert_eq(kfx_offer_event(&x, 0, 0, seq, 0), 0);
	cr_assert(kfx_wait(&x, rewound, 20000));
	cr_assert_eq(x.rewind_pos[0], 1 + 1, "rewind to pos 1, the first "
	    "record not done");
	cr_assert_eq(x.done[0], 1);
	/* the rest of the batch fails too: one rewind covers them */
	kfx_run_for(&x, 500);
	cr_assert_eq(x.nrewind, 1);
	kafka_stats(x.sink, &st);
	cr_assert_geq(st.failed, 1);
	cr_assert_eq(st.rewinds, 1);
	/* the pump offers again from pos 1 once the broker is back */
	rd_kafka_mock_broker_set_up(m.mc, 1);
	x.next_pos[0] = 1;
	for (unsigned seq = 2; seq <= 6; seq++)
		cr_assert_eq(kfx_offer_event(&x, 0, 0, seq, 0), 0);
	cr_assert(kfx_wait(&x, kfx_all_done, 30000));
	cr_assert_eq(x.done[0], 6);
	check_topic(&x, m.bootstrap, 1, 1, 6, 1);
	kfx_close(&x, 5000);
	mock_stop(&m);
}

Test(kafka, refused_record_is_counted_done_and_the_rest_go_out)
{
	struct kafka_stats st;
	struct kfx x;

	kfx_init(&x, "", "refused");
	kfx_prop(&x, "producer.message.max.bytes", "4000");
	cr_assert_eq(kfx_open(&x, 0), 0, "%s", x.err);
	cr_assert_eq(kfx_offer_event(&x, 0, 0, 1, 0), 0);
	cr_assert_eq(kfx_offer_event(&x, 0, 1, 1, 20000), 0);	/* too big */
	cr_assert_eq(kfx_offer_event(&x, 0, 0, 2, 0), 0);
	cr_assert(kfx_wait(&x, kfx_all_done, 20000));
	cr_assert_eq(x.done[0], 3);
	kafka_stats(x.sink, &st);
	cr_assert_eq(st.refused, 1);
	cr_assert_eq(st.delivered, 2);
	cr_assert_eq(x.nrewind, 0);
	{
		char *dump = kfx_kcat_read(kafka_bootstrap(x.sink),
		    x.incidents, 30000);

		cr_assert_not_null(dump);
		cr_assert_null(strstr(dump, "INC-0-1 "));
		cr_assert_not_null(strstr(dump, "INC-0-0 "));
		free(dump);
	}
	kfx_close(&x, 5000);
}

static int
got_ready(struct kfx *x)
{
	return x->nready > 0;
}

Test(kafka, full_queue_says_eagain_then_ready_once)
{
	struct kafka_stats st;
	struct kfx x;
	unsigned taken = 0;
	int rc = 0;

	kfx_init(&x, "", "qfull");
	kfx_prop(&x, "producer.queue.buffering.max.messages", "20");
	kfx_prop(&x, "producer.linger.ms", "100");
	cr_assert_eq(kfx_open(&x, 0), 0, "%s", x.err);
	while (taken < 100 && (rc = kfx_offer_event(&x, 0, 0, taken + 1,
	    0)) == 0)
		taken++;
	cr_assert_eq(rc, -EAGAIN);
	cr_assert_eq(taken, 20);
	/* the pump stops offering until ready */
	cr_assert(kfx_wait(&x, got_ready, 20000));
	cr_assert_eq(x.nready, 1);
	while (taken < 40)
		cr_assert_eq(kfx_offer_event(&x, 0, 0, ++taken, 0), 0);
	cr_assert(kfx_wait(&x, kfx_all_done, 20000));
	kafka_stats(x.sink, &st);
	cr_assert_eq(st.queue_full, 1);
	check_topic(&x, kafka_bootstrap(x.sink), 1, 1, 40, 0);
	kfx_close(&x, 5000);
}

static int
kfx_assigned(struct kfx *x)
{
	struct kafka_stats st;

	kafka_stats(x->sink, &st);
	return st.actions_assigned > 0;
}

static void
stop_loop(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

Test(kafka, idle_sink_uses_no_cpu)
{
	struct kfx x;
	double c0, used;
	unsigned iters;

	kfx_init(&x, "", "idle");
	/* librdkafka's default, not the fixture's quick commits */
	kfx_prop(&x, "consumer.auto.commit.interval.ms", "5000");
	cr_assert_eq(kfx_open(&x, 1), 0, "%s", x.err);
	offer_events(&x, 1, 1, 3);
	cr_assert(kfx_wait(&x, kfx_all_done, 20000));
	/* the group join (about 3 s on the mock) wakes the loop for its
	 * rebalance: measure after it, not through it */
	cr_assert(kfx_wait(&x, kfx_assigned, 20000), "never assigned");
	kfx_run_for(&x, 1000);
	c0 = cpu_seconds();
	iters = ev_iteration(x.loop);
	{
		/* no harness tick: only the sink's own watchers run */
		ev_timer end;

		ev_timer_init(&end, stop_loop, 2.0, 0);
		ev_timer_start(x.loop, &end);
		ev_run(x.loop, 0);
	}
	used = cpu_seconds() - c0;
	iters = ev_iteration(x.loop) - iters;
	fprintf(stderr, "kafka idle: cpu_s=%.4f over 2 s (%.2f%% of a core, "
	    "librdkafka and mock threads included), loop wakeups=%u\n", used,
	    used / 2 * 100, iters);
	/* the end timer (1 seen in every run once the join is over; the
	 * 3-11 seen before were the join's rebalance ops) */
	cr_assert_leq(iters, 3, "the loop woke %u times while idle", iters);
	cr_assert_lt(used, 0.1, "idle sink used %.3f s of CPU in 2 s", used);
	kfx_close(&x, 1000);
}

/* -- actions --------------------------------------------------------- */

static int
three_acts(struct kfx *x)
{
	return x->nacts >= 3;
}

static int64_t
wait_committed(struct kfx *x, const char *brokers, int32_t part,
    int64_t want, int timeout_ms)
{
	int64_t end = tenv_mono_ms() + timeout_ms, got;

	for (;;) {
		kfx_run_for(x, 300);
		got = kfx_committed(brokers, x->group, x->actions, part);
		if (got == want || tenv_mono_ms() > end)
			return got;
	}
}

Test(kafka_actions, good_actions_reach_the_host_and_commit_when_journaled)
{
	const char *lines[] = {
		"INC-0-1|{\"incident\":\"INC-0-1\",\"action\":\"ack\","
		    "\"actor\":\"alice\",\"at\":\"2026-11-23T13:45:01.123Z\"}",
		"INC-0-1|{\"incident\":\"INC-0-1\",\"action\":\"note\","
		    "\"actor\":\"bob\",\"note\":\"on my way\",\"at\":1700000000000}",
		"INC-0-1|{\"incident\":\"INC-0-1\",\"action\":\"resolve\","
		    "\"actor\":\"carol\"}",
	};
	struct kafka_stats st;
	struct kfx x;
	const char *b;

	kfx_init(&x, "", "good");
	cr_assert_eq(kfx_open(&x, 1), 0, "%s", x.err);
	b = kafka_bootstrap(x.sink);
	cr_assert_eq(kfx_kcat_write(b, x.actions, lines, 3), 0);
	cr_assert(kfx_wait(&x, three_acts, 30000), "acts %u", x.nacts);
	cr_assert_eq(x.nacts, 3);
	cr_assert_str_eq(x.acts[0].incident, "INC-0-1");
	cr_assert_eq(x.acts[0].type, CORR_ACT_ACK);
	cr_assert_str_eq(x.acts[0].actor, "alice");
	cr_assert_eq(x.acts[0].at, 1795441501123LL);
	cr_assert_eq(x.acts[1].type, CORR_ACT_NOTE);
	cr_assert_str_eq(x.acts[1].note, "on my way");
	cr_assert_eq(x.acts[1].at, 1700000000000LL);
	cr_assert_eq(x.acts[2].type, CORR_ACT_RESOLVE);
	cr_assert_gt(x.acts[2].at, 1700000000000LL, "no at: now");
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(x.acts[i].part, x.acts[0].part, "one key");
		cr_assert_eq(x.acts[i].offset, x.acts[0].offset + i);
	}
	/* nothing journaled yet: nothing committed */
	kfx_run_for(&x, 800);
	cr_assert_lt(kfx_committed(b, x.group, x.actions, x.acts[0].part), 0);
	/* the shards journal #0 and #2: only #0 is safe to commit */
	cr_assert_eq(kfx_offer_kind(&x, 1, PUB_ACTION, x.acts[0].part,
	    x.acts[0].offset), 0);
	cr_assert_eq(kfx_offer_kind(&x, 2, PUB_ACTION, x.acts[2].part,
	    x.acts[2].offset), 0);
	cr_assert_eq(x.done[1], 1, "PUB_ACTION is done at once");
	cr_assert_eq(wait_committed(&x, b, x.acts[0].part,
	    x.acts[0].offset + 1, 10000), x.acts[0].offset + 1);
	kfx_run_for(&x, 800);
	cr_assert_eq(kfx_committed(b, x.group, x.actions, x.acts[0].part),
	    x.acts[0].offset + 1, "never past the unfinished #1");
	/* #1 journaled: the offset moves past #2 */
	cr_assert_eq(kfx_offer_kind(&x, 1, PUB_ACTION, x.acts[1].part,
	    x.acts[1].offset), 0);
	cr_assert_eq(wait_committed(&x, b, x.acts[0].part,
	    x.acts[2].offset + 1, 10000), x.acts[2].offset + 1);
	kafka_stats(x.sink, &st);
	cr_assert_eq(st.actions_in, 3);
	cr_assert_eq(st.actions_rejected, 0);
	kfx_close(&x, 5000);
}

/* The rejected topic's values, as kcat reads them, by reason. */
static int
has_rejection(const char *dump, const char *reason, const char *value_part)
{
	const char *p = dump;

	while (p != NULL && *p != '\0') {
		const char *nl = strchr(p, '\n'), *v = strchr(p, ' ');
		json_t *o;
		int hit = 0;

		if (v != NULL && (nl == NULL || v < nl) &&
		    (o = json_loadb(v + 1, (size_t)((nl ? nl : v + strlen(v)) -
		    v - 1), 0, NULL)) != NULL) {
			const char *r = json_string_value(json_object_get(o,
			    "reason"));
			const char *val = json_string_value(json_object_get(o,
			    "value"));

			hit = r != NULL && strcmp(r, reason) == 0 &&
			    val != NULL && strstr(val, value_part) != NULL &&
			    json_is_integer(json_object_get(o, "partition")) &&
			    json_is_integer(json_object_get(o, "offset"));
			json_decref(o);
		}
		if (hit)
			return 1;
		p = nl ? nl + 1 : NULL;
	}
	return 0;
}

static int
nine_in(struct kfx *x)
{
	struct kafka_stats st;

	kafka_stats(x->sink, &st);
	return st.actions_in >= 10;
}

Test(kafka_actions, bad_actions_land_on_rejected_with_the_reason)
{
	const char *lines[] = {
		"k|not json at all",
		"k|[1,2,3]",
		"k|{\"action\":\"ack\",\"actor\":\"a\"}",
		"k|{\"incident\":\"INC-0-1\",\"action\":\"dance\",\"actor\":\"a\"}",
		"k|{\"incident\":\"INC-0-1\",\"actor\":\"a\"}",
		"k|{\"incident\":\"INC-0-1\",\"action\":\"ack\"}",
		"k|{\"incident\":\"INC-0-1\",\"action\":\"ack\",\"actor\":\"a\","
		    "\"at\":\"yesterday\"}",
		"k|{\"incident\":\"INC-0-1\",\"action\":\"note\",\"actor\":\"a\"}",
		"k|{\"incident\":\"NOPE-9\",\"action\":\"ack\",\"actor\":\"a\"}",
		"k|{\"incident\":\"INC-0-2\",\"action\":\"close\",\"actor\":\"z\"}",
	};
	const struct { const char *reason, *part; } want[] = {
		{ "not JSON", "not json at all" },
		{ "not an object", "[1,2,3]" },
		{ "missing incident", "\"actor\":\"a\"}" },
		{ "unknown action", "dance" },
		{ "missing action", "{\"incident\":\"INC-0-1\",\"actor\"" },
		{ "missing actor", "\"action\":\"ack\"}" },
		{ "bad at", "yesterday" },
		{ "missing note", "\"note\"" },
		{ "unknown incident", "NOPE-9" },
	};
	struct kafka_stats st;
	struct kfx x;
	const char *b;
	char *dump = NULL;
	int32_t part;
	int64_t last;

	kfx_init(&x, "", "bad");
	x.enoent_prefix = 1;
	cr_assert_eq(kfx_open(&x, 1), 0, "%s", x.err);
	b = kafka_bootstrap(x.sink);
	cr_assert_eq(kfx_kcat_write(b, x.actions, lines, 10), 0);
	cr_assert(kfx_wait(&x, nine_in, 30000));
	cr_assert_eq(x.nacts, 1, "the one good action reached the host");
	cr_assert_str_eq(x.acts[0].incident, "INC-0-2");
	part = x.acts[0].part;
	last = x.acts[0].offset;
	kafka_stats(x.sink, &st);
	cr_assert_eq(st.actions_rejected, 9);
	for (int tries = 0; tries < 50; tries++) {
		free(dump);
		kfx_run_for(&x, 200);
		dump = kfx_kcat_read(b, x.rejected, 30000);
		if (dump != NULL && has_rejection(dump, "unknown incident",
		    "NOPE-9"))
			break;
	}
	cr_assert_not_null(dump);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert(has_rejection(dump, want[i].reason, want[i].part),
		    "no rejection \"%s\" in:\n%s", want[i].reason, dump);
	cr_assert_not_null(strstr(dump, "k {"), "keyed as the original");
	free(dump);
	/* the rejections are delivered; the good one is not journaled yet */
	kfx_run_for(&x, 800);
	cr_assert_eq(kfx_committed(b, x.group, x.actions, part), last,
	    "committed up to the unfinished good action");
	cr_assert_eq(kfx_offer_kind(&x, 0, PUB_ACTION, part, last), 0);
	cr_assert_eq(wait_committed(&x, b, part, last + 1, 10000), last + 1);
	kfx_close(&x, 5000);
}

static int
five_acts(struct kfx *x)
{
	return x->nacts >= 5;
}

static int
two_calls(struct kfx *x)
{
	return x->calls >= 2;
}

Test(kafka_actions, full_shard_pauses_the_partition_and_loses_nothing)
{
	const char *lines[5];
	char buf[5][160];
	struct kafka_stats st;
	struct kfx x;

	for (int i = 0; i < 5; i++) {
		snprintf(buf[i], sizeof(buf[i]), "INC-1-1|{\"incident\":"
		    "\"INC-1-1\",\"action\":\"note\",\"actor\":\"a\","
		    "\"note\":\"n%d\"}", i);
		lines[i] = buf[i];
	}
	kfx_init(&x, "", "pause");
	x.eagain_at = 2;	/* the second action finds the shard full */
	cr_assert_eq(kfx_open(&x, 1), 0, "%s", x.err);
	cr_assert_eq(kfx_kcat_write(kafka_bootstrap(x.sink), x.actions,
	    lines, 5), 0);
	cr_assert(kfx_wait(&x, two_calls, 20000));
	kfx_run_for(&x, 1000);
	cr_assert_eq(x.nacts, 1, "paused after the first: %u acts, %u calls", x.nacts, x.calls);
	kafka_stats(x.sink, &st);
	cr_assert_eq(st.actions_paused, 1);
	kafka_actions_resume(x.sink);
	cr_assert(kfx_wait(&x, five_acts, 20000), "acts %u", x.nacts);
	kfx_run_for(&x, 500);
	cr_assert_eq(x.nacts, 5, "no action twice");
	for (int i = 0; i < 5; i++) {
		char n[8];

		snprintf(n, sizeof(n), "n%d", i);
		cr_assert_str_eq(x.acts[i].note, n);
		cr_assert_eq(x.acts[i].offset, x.acts[0].offset + i);
	}
	kfx_close(&x, 5000);
}

static int
one_act(struct kfx *x)
{
	return x->nacts >= 1;
}

Test(kafka_actions, engine_rejection_is_produced_and_commits_on_delivery)
{
	const char *lines[] = {
		"INC-2-5|{\"incident\":\"INC-2-5\",\"action\":\"resolve\","
		    "\"actor\":\"dave\"}",
	};
	struct pub_rec r;
	struct kfx x;
	const char *b;
	char *dump = NULL;

	kfx_init(&x, "", "engrej");
	cr_assert_eq(kfx_open(&x, 1), 0, "%s", x.err);
	b = kafka_bootstrap(x.sink);
	cr_assert_eq(kfx_kcat_write(b, x.actions, lines, 1), 0);
	cr_assert(kfx_wait(&x, one_act, 30000));
	/* the shard refuses it (closed incident) and journals a rejection */
	memset(&r, 0, sizeof(r));
	r.pos = x.next_pos[3]++;
	r.shard = 3;
	r.kind = PUB_REJECTED;
	r.id = "INC-2-5";
	r.json = "{\"reason\":\"incident closed\",\"partition\":0}";
	r.jsonlen = strlen(r.json);
	r.kpart = x.acts[0].part;
	r.koffset = x.acts[0].offset;
	cr_assert_eq(x.sink->ops->offer(x.sink, &r), 0);
	cr_assert(kfx_wait(&x, kfx_all_done, 20000));
	cr_assert_eq(wait_committed(&x, b, x.acts[0].part,
	    x.acts[0].offset + 1, 10000), x.acts[0].offset + 1);
	dump = kfx_kcat_read(b, x.rejected, 30000);
	cr_assert_not_null(dump);
	cr_assert_not_null(strstr(dump, "INC-2-5 {\"reason\":\"incident "
	    "closed\""), "%s", dump);
	free(dump);
	kfx_close(&x, 5000);
}

/* tocsin.actions takes close's satisfaction as the HTTP route does. */
Test(kafka, action_satisfaction_on_close_only)
{
	static const struct { const char *v; const char *why; int sat; } c[] = {
		{ "{\"incident\":\"INC-0-1\",\"action\":\"close\",\"actor\":"
		  "\"amy\",\"satisfaction\":4}", NULL, 4 },
		{ "{\"incident\":\"INC-0-1\",\"action\":\"close\",\"actor\":"
		  "\"amy\"}", NULL, 0 },
		{ "{\"incident\":\"INC-0-1\",\"action\":\"close\",\"actor\":"
		  "\"amy\",\"satisfaction\":6}", "bad satisfaction", 0 },
		{ "{\"incident\":\"INC-0-1\",\"action\":\"close\",\"actor\":"
		  "\"amy\",\"satisfaction\":\"4\"}", "bad satisfaction", 0 },
		{ "{\"incident\":\"INC-0-1\",\"action\":\"ack\",\"actor\":"
		  "\"amy\",\"satisfaction\":4}", "bad satisfaction", 0 },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct corr_action a;
		json_t *root;
		const char *why = kafka_action_parse(c[i].v, strlen(c[i].v),
		    1796000000000LL, &root, &a);

		if (c[i].why == NULL) {
			cr_expect_null(why, "%s: %s", c[i].v, why);
			cr_expect_eq(a.satisfaction, c[i].sat, "%s", c[i].v);
		} else
			cr_expect(why != NULL && strcmp(why, c[i].why) == 0,
			    "%s: %s", c[i].v, why ? why : "accepted");
		json_decref(root);
	}
}
