/*
 * ktxnfix.h - for tests of Kafka stages in child processes (test_ktxn,
 * test_cstage): topics made by a child (no librdkafka thread in the test
 * process, which forks the stages), children waited for by PID with a
 * bound, topics read as kcat reads them at an isolation level.
 */
#ifndef TOCSIN_TEST_KTXNFIX_H
#define TOCSIN_TEST_KTXNFIX_H

#include <stddef.h>
#include <sys/types.h>

struct ktxnfix_topic {
	const char	*name;
	int		 partitions;
	const char	*cleanup;	/* cleanup.policy, or NULL */
};

/* A real broker for the test (tests/support/kbroker; the suite's .fini
 * is broker_fini): NULL, its bootstrap in bootstrap, or why the test is
 * skipped (ThreadSanitizer, which cannot see librdkafka's threads; no
 * java or mvn for tests/kafka/broker.sh). */
const char *ktxnfix_broker(char *bootstrap, size_t len);
/* Makes the topics on the broker at bootstrap (a child, 60 s at most);
 * asserts they were made. */
void	 ktxnfix_topics(const char *bootstrap, const struct ktxnfix_topic *t,
	    size_t n);
/* pid's exit status (128 + the signal for a kill), or -1 after timeout_ms
 * (then it is killed). */
int	 ktxnfix_wait(pid_t pid, int timeout_ms);
/* The whole topic, kcat's fmt per message, at isolation ("read_committed"
 * or "read_uncommitted"); malloc'd. */
char	*ktxnfix_read(const char *bootstrap, const char *topic,
	    const char *isolation, const char *fmt);
/* Its message count at isolation. */
int	 ktxnfix_count(const char *bootstrap, const char *topic,
	    const char *isolation);
/* Waits (timeout_ms at most) until read_committed counts at least n
 * messages on topic; returns the last count. */
int	 ktxnfix_wait_committed(const char *bootstrap, const char *topic, int n,
	    int timeout_ms);
/* fork(): fn in the child (it must not return), its PID here. */
pid_t	 ktxnfix_child(void (*fn)(void));

#endif
