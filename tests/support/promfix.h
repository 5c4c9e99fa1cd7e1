/*
 * promfix.h - a real Prometheus (Debian's package prometheus) scraping the
 * tocsind under test, for the tests that check what tocsind exports as a
 * scraper reads it (test_tocsind_http.c, test_grafana.c): its
 * prometheus.yml written into the test's directory, the server started on
 * a free loopback port, a bounded wait until it reports the target up and
 * has its series, its HTTP API read as JSON, and a stop by PID.
 *
 * Files in dir: prometheus.yml, prom/ (the TSDB), prom.out, prom.err (its
 * log: the place to look when a wait fails).
 */
#ifndef TOCSIN_TEST_PROMFIX_H
#define TOCSIN_TEST_PROMFIX_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#define PROMFIX_BIN	"/usr/bin/prometheus"

/*
 * Skips the calling test (cr_skip_test, which does not return) when
 * PROMFIX_BIN is not installed.
 */
void	 promfix_require(void);

/*
 * Writes dir/prometheus.yml (job "tocsind" scraping 127.0.0.1:target
 * every second; rules, unless NULL, loaded and evaluated every second,
 * made absolute first as Prometheus reads it relative to the config's
 * directory), starts PROMFIX_BIN on a free port of 127.0.0.1 (*pid, *port;
 * it gets SIGKILL if the test dies), and waits up to up_ms until the
 * target is up and tocsin_modbus_polls_total has a result: asserted, the
 * target up.  Stop it with promfix_stop.
 */
void	 promfix_start(const char *dir, int target, const char *rules,
	    int up_ms, pid_t *pid, int *port);
/* SIGTERM, SIGKILL after 30 s (pubfix_stop); *pid = -1; safe when it is
 * not running.  Its exit code, as pubfix_stop's. */
int	 promfix_stop(pid_t *pid);

/* GET path of the API on port: the JSON of a 200, or NULL. */
json_t	*promfix_get(int port, const char *path);
/*
 * An instant query (POST /api/v1/query, form-encoded: any PromQL, no
 * URL to escape): the JSON answer whatever its status (an error's JSON
 * says why), or NULL if it is not JSON.
 */
json_t	*promfix_query(int port, const char *query);
/* The number of results of an instant query; 0 if it failed. */
size_t	 promfix_results(int port, const char *query);

#endif
