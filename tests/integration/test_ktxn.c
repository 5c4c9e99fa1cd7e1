/*
 * test_ktxn.c - drivers/kafka/ktxn against the real broker: a stage that
 * copies 3,000 records of a 3-partition topic to another, each output in
 * the transaction that commits its input's offset, is killed with SIGKILL
 * twice in the middle (an open transaction with produced outputs each
 * time) and started again with the same transactional.id; a
 * read_committed reader of the output then finds every input exactly once,
 * in its partition's order.
 *
 * The stages are child processes (fork before any librdkafka thread of
 * the test's own), killed and waited for by PID; every wait is bounded.
 * Without a broker (no java or mvn: tests/kafka/broker.sh) the test is
 * skipped, saying so: transactions are checked against a real broker only
 * (and under ThreadSanitizer, which cannot see librdkafka's threads).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "drivers/kafka/ktxn.h"
#include "tests/support/kbroker.h"
#include "tests/support/ktxnfix.h"
#include "tests/support/pubfix.h"
#include "tests/support/tenv.h"

#define N_IN	3000
#define PARTS	3

static char bootstrap[128];
static atomic_int stop_flag;

static void
on_term(int sig)
{
	(void)sig;
	atomic_store(&stop_flag, 1);
}

/* The stage: "v<i>" in, "out:v<i>" to the same partition of ktxn.out. */
static int
copy_record(void *arg, struct ktxn *t, const rd_kafka_message_t *m)
{
	char out[64];
	int n;

	(void)arg;
	n = snprintf(out, sizeof(out), "out:%.*s", (int)m->len,
	    (const char *)m->payload);
	usleep(5000);	/* 3,000 inputs take 15 s: a kill lands mid-stream */
	return ktxn_produce(t, "ktxn.out", m->partition, m->key, m->key_len,
	    out, (size_t)n);
}

/* The next child stage's name (its group instance and transactional.id),
 * commit interval and size, and log file (NULL: the test's stderr). */
static const char *stage_name = "ktxn-stage-1";
static uint32_t stage_commit_ms = 100, stage_commit_records = 200;
static const char *stage_log;

/* Child: runs the stage until SIGTERM; exit 0, or 1 with the reason. */
static void
stage_main(void)
{
	static const struct ktxn_ops ops = { .record = copy_record };
	/* static membership: a restarted stage takes its place in the group
	 * at once, not after the dead one's session times out */
	const struct kafka_prop props[] = {
		{ "consumer.group.instance.id", stage_name },
		{ "consumer.session.timeout.ms", "6000" },
	};
	struct ktxn_config cfg = {
		.brokers = bootstrap, .group = "ktxn-stage", .input = "ktxn.in",
		.txn_id = stage_name, .client_id = "ktxn-test",
		.commit_ms = stage_commit_ms,
		.commit_records = stage_commit_records,
		.props = props, .nprops = 2,
	};
	struct ktxn_stats st;
	struct ktxn *t;
	char err[512];
	int rc;

	if (stage_log != NULL) {
		if (freopen(stage_log, "w", stderr) == NULL)
			_exit(1);
		setvbuf(stderr, NULL, _IONBF, 0);	/* _exit flushes nothing */
	}
	signal(SIGTERM, on_term);
	if (ktxn_new(&cfg, &ops, NULL, &t, err, sizeof(err)) != 0) {
		fprintf(stderr, "stage: %s\n", err);
		_exit(1);
	}
	rc = ktxn_run(t, &stop_flag);
	ktxn_stats(t, &st);
	fprintf(stderr, "stage: consumed=%llu produced=%llu commits=%llu "
	    "aborts=%llu\n", (unsigned long long)st.consumed,
	    (unsigned long long)st.produced, (unsigned long long)st.commits,
	    (unsigned long long)st.aborts);
	ktxn_free(t);
	_exit(rc == 0 ? 0 : 1);
}

/* The topics, and the input: keys k0..k6, values v0..v2999 (by key). */
static void
make_input(void)
{
	static const struct ktxnfix_topic t[] = {
		{ "ktxn.in", PARTS, NULL }, { "ktxn.out", PARTS, NULL },
	};
	char path[256], cmd[512];
	FILE *fp;

	ktxnfix_topics(bootstrap, t, 2);
	snprintf(path, sizeof(path), "/tmp/ktxn-in-%d", (int)getpid());
	fp = fopen(path, "w");
	cr_assert_not_null(fp);
	for (int i = 0; i < N_IN; i++)
		fprintf(fp, "k%d|v%d\n", i % 7, i);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "kcat -P -b %s -t ktxn.in -K'|' -X "
	    "enable.idempotence=true -X acks=all -l %s 2>&1", bootstrap, path);
	free(pubfix_sh(cmd, 60000));
	unlink(path);
}

/* A read_committed reader of the output finds every input exactly once,
 * in its partition's order. */
static void
check_every_input_once(int have)
{
	unsigned char *seen = calloc(N_IN, 1);
	char *out, *save, *l;
	int last[PARTS], seen_n = 0;

	out = ktxnfix_read(bootstrap, "ktxn.out", "read_committed", "%p|%s\\n");
	for (int p = 0; p < PARTS; p++)
		last[p] = -1;
	for (l = strtok_r(out, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		int p, i;

		cr_assert_eq(sscanf(l, "%d|out:v%d", &p, &i), 2, "%s", l);
		cr_assert(p >= 0 && p < PARTS && i >= 0 && i < N_IN, "%s", l);
		cr_assert_eq(seen[i], 0, "v%d twice on the output", i);
		seen[i] = 1;
		seen_n++;
		cr_assert_gt(i, last[p], "partition %d: v%d after v%d", p, i,
		    last[p]);
		last[p] = i;
	}
	cr_assert_eq(seen_n, N_IN, "%d of %d inputs on the output (%d when "
	    "the last stage stopped)", seen_n, N_IN, have);
	free(out);
	free(seen);
}

Test(ktxn, sigkill_twice_every_input_once, .fini = broker_fini,
    .timeout = 300)
{
	const char *why;
	int have;
	pid_t pid;

	if ((why = ktxnfix_broker(bootstrap, sizeof(bootstrap))) != NULL) {
		cr_skip_test("%s", why);
		return;
	}
	make_input();

	/* killed twice mid-stream, then run to the end */
	for (int k = 0; k < 2; k++) {
		pid = ktxnfix_child(stage_main);
		have = ktxnfix_wait_committed(bootstrap, "ktxn.out",
		    (k + 1) * N_IN / 4, 90000);
		cr_assert_eq(kill(pid, SIGKILL), 0);
		cr_assert_geq(have, (k + 1) * N_IN / 4, "stage %d: %d committed",
		    k, have);
		/* mid-stream: inputs left, a transaction open */
		cr_assert_lt(have, N_IN, "stage %d finished before its kill", k);
		cr_log_info("stage %d killed with %d outputs committed", k, have);
		cr_assert_eq(ktxnfix_wait(pid, 10000), 128 + SIGKILL);
	}
	pid = ktxnfix_child(stage_main);
	have = ktxnfix_wait_committed(bootstrap, "ktxn.out", N_IN, 120000);
	cr_assert_eq(kill(pid, SIGTERM), 0);
	cr_assert_eq(ktxnfix_wait(pid, 60000), 0, "the last stage's exit");

	check_every_input_once(have);
}

/*
 * A second stage joins the group while the first has a transaction open
 * (a 10 s commit interval): the revocation commits what the first one
 * consumed (its log says so, it aborts nothing), the two then share the
 * partitions, and the output has every input exactly once.
 */
Test(ktxn, revocation_commits_the_open_transaction, .fini = broker_fini,
    .timeout = 300)
{
	const char *why;
	char loga[256], *text;
	pid_t a, b;
	int have;

	if ((why = ktxnfix_broker(bootstrap, sizeof(bootstrap))) != NULL) {
		cr_skip_test("%s", why);
		return;
	}
	make_input();
	snprintf(loga, sizeof(loga), "/tmp/ktxn-a-%d.log", (int)getpid());
	stage_name = "ktxn-a";
	stage_commit_ms = 10000;
	stage_commit_records = 100000;
	stage_log = loga;
	a = ktxnfix_child(stage_main);
	/* a is at work: records consumed, its transaction open */
	{
		int64_t end = tenv_mono_ms() + 60000;

		for (;;) {
			text = tenv_read_file(loga);
			if (strstr(text, "assigned partitions=3") != NULL ||
			    tenv_mono_ms() > end)
				break;
			free(text);
			usleep(100000);
		}
		free(text);
	}
	usleep(1500000);
	cr_assert_eq(ktxnfix_count(bootstrap, "ktxn.out", "read_committed"), 0,
	    "the first stage committed before the second joined");
	stage_name = "ktxn-b";
	stage_commit_ms = 100;
	stage_commit_records = 200;
	stage_log = NULL;
	b = ktxnfix_child(stage_main);
	have = ktxnfix_wait_committed(bootstrap, "ktxn.out", N_IN, 120000);
	cr_assert_eq(kill(a, SIGTERM), 0);
	cr_assert_eq(kill(b, SIGTERM), 0);
	cr_assert_eq(ktxnfix_wait(a, 60000), 0);
	cr_assert_eq(ktxnfix_wait(b, 60000), 0);
	text = tenv_read_file(loga);
	cr_log_info("%s", text);
	cr_assert_not_null(strstr(text, "(the open transaction commits "
	    "first)"), "%s", text);
	cr_assert_null(strstr(text, "aborted at the revocation"), "%s", text);
	cr_assert_not_null(strstr(text, " aborts=0\n"), "%s", text);
	free(text);
	unlink(loga);
	check_every_input_once(have);
}
