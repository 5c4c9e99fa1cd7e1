/*
 * pubfix.h - what the tests of a running tocsind and its publishers share
 * (test_tocsind_pub.c, test_tocsind_faults.c): child processes with their
 * output in files, a redis-server on a free port, the events a user reads
 * back from the output file and from a Kafka topic (kcat), and the check
 * every reader of tocsin.incident/1 makes: drop a repeated (id, seq), see
 * no gap.  Every wait is bounded.
 */
#ifndef TOCSIN_TEST_PUBFIX_H
#define TOCSIN_TEST_PUBFIX_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

/*
 * Starts argv (found on PATH or a path) with stdin /dev/null and stdout,
 * stderr to new files dir/out, dir/err; it gets SIGKILL if the test dies.
 */
pid_t	 pubfix_spawn(const char *dir, char *const argv[], const char *out,
	    const char *err);
/* Sends sig, waits up to 30 s, then SIGKILL; *pid = -1.  Exit code, 128+N
 * for signal N, -1 if it had to be killed or was not running. */
int	 pubfix_stop(pid_t *pid, int sig);
/* Runs a shell command line (bounded); its stdout, malloc'd. */
char	*pubfix_sh(const char *line, int timeout_ms);
int	 pubfix_count_lines(const char *s);

/* redis-server on 127.0.0.1:port, no persistence, answering PING (10 s). */
pid_t	 pubfix_redis_start(const char *dir, int port, const char *err);

/* Every parsable line of a JSON-lines file; *bad (if not NULL) counts
 * lines that are not JSON.  A last line without its newline is being
 * written: left out, not bad.  A new reference. */
json_t	*pubfix_file_events(const char *path, int *bad);
/* Every event on topic (kcat from the beginning to the end); *bad counts
 * messages that are not JSON or whose key is not the incident id. */
json_t	*pubfix_kafka_events(const char *bootstrap, const char *topic,
	    int *bad);
/* tocsind's embedded mock cluster's bootstrap, from its log (ms bound):
 * 0, or -1. */
int	 pubfix_mock_bootstrap(const char *logpath, char *buf, size_t len,
	    int ms);

/* "key=N" of tocsind's stop line in log, or -1. */
long	 pubfix_stop_counter(const char *log, const char *key);

/* ev.incident.<k> as a string ("" if absent), ev.seq. */
const char *pubfix_inc_str(const json_t *ev, const char *k);
long long pubfix_seq(const json_t *ev);

/*
 * Reads evs as a consumer does: an event whose seq is not above the last
 * one kept for its incident is a repeat (dropped); one more than that is
 * kept; anything else is a gap.  *last (new object): id -> the last event
 * kept.  Returns the number of gaps, the first described in why; *kept
 * (if not NULL) the events kept.
 */
int	 pubfix_dedup(json_t *evs, json_t **last, int *kept, char *why,
	    size_t len);

#endif
