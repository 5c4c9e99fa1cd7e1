/*
 * test_kafka_broker.c - drivers/kafka against a real Apache Kafka broker
 * (tests/kafka/broker.sh: single node, KRaft, loopback, stopped by PID),
 * read back with kcat as a user would.
 *
 *   - the broker is SIGSTOPped for 10 s while records are offered: after
 *     SIGCONT every record is delivered, in order, once; done reaches the
 *     end and nothing is rewound (librdkafka's own retries carry it);
 *     a record over the producer's message.max.bytes is counted refused
 *     and done, and the records after it still go out;
 *   - actions written with kcat reach the host; bad ones land on the
 *     rejected topic with the reason; the committed offset covers the
 *     journaled actions.
 *
 * Where java or mvn is missing (broker.sh exits 3, "bootstrap=mock") the
 * tests run against the embedded mock cluster instead and say so on
 * stderr; the SIGSTOP part then cannot run and is skipped, said as well.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "drivers/kafka/kafka.h"
#include "tests/support/kafkafix.h"
#include "tests/support/kbroker.h"
#include "tests/support/kbroker.h"
#include "tests/support/proc.h"
#include "tests/support/tenv.h"

static void
offer_seqs(struct kfx *x, unsigned shards, unsigned keys, unsigned from,
    unsigned to)
{
	for (unsigned seq = from; seq <= to; seq++)
		for (unsigned k = 0; k < keys; k++)
			for (unsigned s = 0; s < shards; s++)
				cr_assert_eq(kfx_offer_event(x, s, k, seq, 300),
				    0);
}

Test(kafka_broker, sigstop_10s_loses_nothing_and_needs_no_rewind,
    .fini = broker_fini, .timeout = 300)
{
	char bootstrap[128], why[256];
	struct kafka_stats st;
	struct kfx x;
	const char *b = broker_start(bootstrap, sizeof(bootstrap));
	pid_t pid;
	char *dump;
	int64_t t0;

	kfx_init(&x, b, "stop");
	kfx_prop(&x, "producer.message.max.bytes", "100000");
	cr_assert_eq(kfx_open(&x, 0), 0, "%s", x.err);
	b = kafka_bootstrap(x.sink);
	t0 = tenv_mono_ms();
	offer_seqs(&x, 3, 10, 1, 5);
	cr_assert(kfx_wait(&x, kfx_all_done, 60000), "first batch not done");
	fprintf(stderr, "kafka_broker: first 150 records done in %lld ms\n",
	    (long long)(tenv_mono_ms() - t0));
	if (broker_dir[0] != '\0') {
		pid = broker_pid();
		cr_assert_gt(pid, 0);
		cr_assert_eq(kill(pid, SIGSTOP), 0);
		offer_seqs(&x, 3, 10, 6, 10);
		kfx_run_for(&x, 10000);
		cr_assert_not(kfx_all_done(&x), "done while the broker slept");
		cr_assert_eq(kill(pid, SIGCONT), 0);
		t0 = tenv_mono_ms();
	} else {
		fprintf(stderr, "kafka_broker: mock cluster: SIGSTOP part "
		    "skipped\n");
		offer_seqs(&x, 3, 10, 6, 10);
	}
	/* a record the producer refuses for good, then more */
	cr_assert_eq(kfx_offer_event(&x, 0, 0, 99, 200000), 0);
	offer_seqs(&x, 3, 10, 11, 12);
	cr_assert(kfx_wait(&x, kfx_all_done, 120000), "not done after resume");
	fprintf(stderr, "kafka_broker: done %lld ms after SIGCONT\n",
	    (long long)(tenv_mono_ms() - t0));
	kafka_stats(x.sink, &st);
	cr_assert_eq(x.nrewind, 0);
	cr_assert_eq(st.failed, 0);
	cr_assert_eq(st.refused, 1);
	cr_assert_eq(st.delivered, 3 * 10 * 12);
	cr_assert_eq(x.done_backwards, 0);
	cr_assert(x.sink->ops->healthy(x.sink));
	dump = kfx_kcat_read(b, x.incidents, 60000);
	cr_assert_not_null(dump);
	cr_assert_eq(kfx_check_events(dump, 3, 10, 12, 0, why, sizeof(why)),
	    0, "%s", why);
	free(dump);
	kfx_close(&x, 10000);
}

static int
two_in(struct kfx *x)
{
	struct kafka_stats st;

	kafka_stats(x->sink, &st);
	return st.actions_in >= 3;
}

Test(kafka_broker, actions_roundtrip, .fini = broker_fini, .timeout = 300)
{
	const char *lines[] = {
		"INC-0-7|{\"incident\":\"INC-0-7\",\"action\":\"dispatch\","
		    "\"actor\":\"noc-1\",\"note\":\"van 12\","
		    "\"at\":\"2026-11-23T13:45:01Z\"}",
		"INC-0-7|{\"incident\":\"INC-0-7\",\"action\":\"fly\","
		    "\"actor\":\"noc-1\"}",
		"INC-0-7|{\"incident\":\"INC-0-7\",\"action\":\"close\","
		    "\"actor\":\"noc-2\"}",
	};
	char bootstrap[128];
	struct kfx x;
	const char *b = broker_start(bootstrap, sizeof(bootstrap));
	char *dump = NULL;
	int64_t want;

	kfx_init(&x, b, "acts");
	if (b[0] != '\0')
		/* the topic exists before the consumer subscribes */
		cr_assert_eq(kfx_kcat_write(b, x.actions, lines, 3), 0);
	cr_assert_eq(kfx_open(&x, 1), 0, "%s", x.err);
	b = kafka_bootstrap(x.sink);
	if (bootstrap[0] == '\0')
		cr_assert_eq(kfx_kcat_write(b, x.actions, lines, 3), 0);
	cr_assert(kfx_wait(&x, two_in, 60000), "acts %u", x.nacts);
	cr_assert_eq(x.nacts, 2);
	cr_assert_eq(x.acts[0].type, CORR_ACT_DISPATCH);
	cr_assert_str_eq(x.acts[0].note, "van 12");
	cr_assert_eq(x.acts[1].type, CORR_ACT_CLOSE);
	for (int i = 0; i < 100; i++) {
		free(dump);
		kfx_run_for(&x, 200);
		dump = kfx_kcat_read(b, x.rejected, 30000);
		if (dump != NULL && strstr(dump, "unknown action") != NULL)
			break;
	}
	cr_assert_not_null(dump);
	cr_assert_not_null(strstr(dump, "INC-0-7 {\"reason\":\"unknown action\""),
	    "%s", dump);
	free(dump);
	cr_assert_eq(kfx_offer_kind(&x, 0, PUB_ACTION, x.acts[0].part,
	    x.acts[0].offset), 0);
	cr_assert_eq(kfx_offer_kind(&x, 1, PUB_ACTION, x.acts[1].part,
	    x.acts[1].offset), 0);
	want = x.acts[1].offset + 1;
	for (int i = 0; i < 40; i++) {
		kfx_run_for(&x, 250);
		if (kfx_committed(b, x.group, x.actions, x.acts[0].part) == want)
			break;
	}
	cr_assert_eq(kfx_committed(b, x.group, x.actions, x.acts[0].part),
	    want);
	kfx_close(&x, 10000);
}
