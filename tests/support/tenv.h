/*
 * tenv.h - what the integration tests need around the processes they start:
 * a monotonic clock, a free port on a loopback address, and small files in
 * the test's temporary directory.
 */
#ifndef TOCSIN_TEST_TENV_H
#define TOCSIN_TEST_TENV_H

#include <stdint.h>

/* CLOCK_MONOTONIC in ms. */
int64_t	 tenv_mono_ms(void);

/*
 * A number that differs between test processes, tests (salt) and runs: for
 * picking a random 127.X.Y.0/24 so that parallel tests stay apart.
 */
unsigned tenv_seed(unsigned salt);

/* A TCP port free on IPv4 literal addr right now, or -errno. */
int	 tenv_free_port(const char *addr);

/*
 * Writes text to dir/name (replacing it).  A test cannot go on without its
 * file: on failure it says why on stderr and aborts (Criterion reports the
 * crash with the message).
 */
void	 tenv_write_file(const char *dir, const char *name, const char *text);

/*
 * The whole file, malloc'd and NUL-terminated; "" if it cannot be read
 * (a process that has not written it yet).  Aborts only if out of memory.
 */
char	*tenv_read_file(const char *path);

/*
 * etc/demo.yaml (read from the repository root) moved to a test's own
 * loopback block: hosts 127.0.1.N become 127.X.0.N and the modbus port 1502
 * becomes port, and http.listen 127.0.0.1:8471 becomes 127.0.0.1:0 (any
 * free port), so that tests running at once never share an address;
 * with shortdelay every delay_on becomes 1s.  Malloc'd; NULL if the file
 * cannot be read or is not the demo fleet (no port 1502 to move).
 */
char	*tenv_demo_yaml(unsigned x, int port, int shortdelay);

/*
 * 1 if the tocsind under test publishes to Kafka; 0 for the
 * ThreadSanitizer build (TOCSIN_SANITIZER=thread), which has no Kafka
 * publisher: librdkafka's threads are invisible to TSan.
 */
int	 tenv_kafka(void);

#endif
