/*
 * kbroker.h - a real Apache Kafka broker for a test (tests/kafka/broker.sh:
 * single node, KRaft, loopback, a fresh directory, stopped by PID), or ""
 * where the machine cannot run one (no java or mvn: broker.sh exits 3 and
 * the caller falls back to librdkafka's mock cluster, saying so).
 */
#ifndef TOCSIN_TEST_KBROKER_H
#define TOCSIN_TEST_KBROKER_H

#include <stddef.h>
#include <sys/types.h>

extern char broker_dir[64];	/* the running broker's directory, or "" */

/* Starts one (bounded); its bootstrap in bootstrap, or "" for none. */
const char *broker_start(char *bootstrap, size_t len);
/* Its PID (for SIGSTOP and kill tests). */
pid_t	 broker_pid(void);
/* Stops it and removes its directory; a Criterion .fini. */
void	 broker_fini(void);

#endif
