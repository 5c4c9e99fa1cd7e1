/*
 * ktxnfix.c - see ktxnfix.h.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "tests/support/kbroker.h"
#include "tests/support/ktxnfix.h"
#include "tests/support/pubfix.h"
#include "tests/support/tenv.h"

/* The child: the admin request, exit 0 when every topic was made. */
static void __attribute__((noreturn))
topics_child(const char *bootstrap, const struct ktxnfix_topic *t, size_t n)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_NewTopic_t *nt[8];
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	char e[512];
	rd_kafka_t *rk;
	int ok = 0;

	if (n > 8)
		_exit(1);
	rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, e, sizeof(e));
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e))) ==
	    NULL)
		_exit(1);
	for (size_t i = 0; i < n; i++) {
		nt[i] = rd_kafka_NewTopic_new(t[i].name, t[i].partitions, 1, e,
		    sizeof(e));
		if (t[i].cleanup != NULL)
			rd_kafka_NewTopic_set_config(nt[i], "cleanup.policy",
			    t[i].cleanup);
	}
	q = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, nt, n, NULL, q);
	if ((ev = rd_kafka_queue_poll(q, 30000)) != NULL) {
		size_t got = 0;
		const rd_kafka_topic_result_t **tr =
		    rd_kafka_CreateTopics_result_topics(
		    rd_kafka_event_CreateTopics_result(ev), &got);

		ok = rd_kafka_event_error(ev) == 0 && got == n;
		for (size_t i = 0; ok && i < got; i++)
			ok = rd_kafka_topic_result_error(tr[i]) == 0;
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_NewTopic_destroy_array(nt, n);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	_exit(ok ? 0 : 1);
}

void
ktxnfix_topics(const char *bootstrap, const struct ktxnfix_topic *t, size_t n)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0)
		topics_child(bootstrap, t, n);
	cr_assert_eq(ktxnfix_wait(pid, 60000), 0, "topics not made");
}

int
ktxnfix_wait(pid_t pid, int timeout_ms)
{
	int64_t end = tenv_mono_ms() + timeout_ms;
	int status;

	for (;;) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 +
			    WTERMSIG(status);
		if (tenv_mono_ms() >= end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		usleep(20000);
	}
}

char *
ktxnfix_read(const char *bootstrap, const char *topic, const char *isolation,
    const char *fmt)
{
	char cmd[768];

	snprintf(cmd, sizeof(cmd), "kcat -C -b %s -t %s -o beginning -e -q -X "
	    "isolation.level=%s -f '%s' 2>/dev/null", bootstrap, topic,
	    isolation, fmt);
	return pubfix_sh(cmd, 120000);
}

int
ktxnfix_count(const char *bootstrap, const char *topic, const char *isolation)
{
	char *out = ktxnfix_read(bootstrap, topic, isolation, "%o\\n");
	int n = pubfix_count_lines(out);

	free(out);
	return n;
}


int
ktxnfix_wait_committed(const char *bootstrap, const char *topic, int n,
    int timeout_ms)
{
	int64_t end = tenv_mono_ms() + timeout_ms;

	for (;;) {
		int have = ktxnfix_count(bootstrap, topic, "read_committed");

		if (have >= n || tenv_mono_ms() >= end)
			return have;
		usleep(100000);
	}
}

pid_t
ktxnfix_child(void (*fn)(void))
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		fn();
		_exit(127);
	}
	return pid;
}

const char *
ktxnfix_broker(char *bootstrap, size_t len)
{
	if (!tenv_kafka())
		return "ThreadSanitizer: librdkafka's threads are invisible to it";
	if (broker_start(bootstrap, len)[0] == '\0')
		return "no Kafka broker here (tests/kafka/broker.sh needs java "
		    "and mvn): transactions are checked against a real one only";
	return NULL;
}
