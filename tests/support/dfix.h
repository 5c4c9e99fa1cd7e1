/*
 * dfix.h - a tocsind (and devsim) under test: the test's own directory,
 * the 0600 token file, the opening most tests' configs share, tocsind
 * started on a config in that directory with its HTTP port read from its
 * log and /readyz waited for, JSON requests to it, its log, a clean stop
 * checked, and devsim started on a scenario.
 * Every wait is bounded; a test keeps its own loopback block and bounds
 * and passes them in.  The building blocks stay where they were
 * (pubfix_spawn/stop, httpfix_do/port_from_log, tenv_*): this is the
 * sequence every test of a running tocsind repeated around them.
 *
 * Files in dir: tocsind.out, tocsind.err (this run's log; the previous
 * run's moves to tocsind.err.prev, so a restart never reads the old port
 * line), devsim.out, devsim.err.
 */
#ifndef TOCSIN_TEST_DFIX_H
#define TOCSIN_TEST_DFIX_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

struct dfix {
	char	 dir[64];	/* mkdtemp'd; "" before dfix_init */
	pid_t	 daemon;	/* tocsind, or -1 */
	pid_t	 sim;		/* devsim, or -1 */
	int	 port;		/* tocsind's HTTP port, 0: not known */
};

/*
 * Makes /tmp/tocsin-<name>-XXXXXX (asserted) and sets no process
 * running.  Call first: dfix_fini relies on it.
 */
void	 dfix_init(struct dfix *d, const char *name);
/*
 * For a suite's .fini: SIGKILL tocsind, SIGTERM devsim (each only if
 * running), remove dir (who names the test in the message if that
 * fails).  A test stops its other children first.  Safe on a zeroed
 * struct that dfix_init never saw.
 */
void	 dfix_fini(struct dfix *d, const char *who);

/* dir/token holding token and a newline, chmod mode (asserted); 0600 is
 * the mode tocsind accepts. */
void	 dfix_token(const char *dir, const char *token, mode_t mode);

/*
 * The opening of a config for a tocsind on a few rectifiers nobody serves
 * (polls fail fast, one miss raises COMM_LOSS), written into buf
 * (asserted to fit); returns its length, for the caller to append the
 * sites and devices, or first more of the rect profile (the head ends
 * inside it):
 *
 *   daemon: {shards: 2, state_dir: DIR/state}
 *   modbus: {port: MODPORT, timeout: 100ms, interval: 300ms,
 *     comm_loss_misses: 1, backoff_min: 100ms, backoff_max: 300ms}
 *   output: {file: DIR/out.jsonl}
 *   kafka: {brokers: ""}
 *   redis: {enabled: true, port: RPORT, backoff_min: 100ms,
 *     backoff_max: 500ms}
 *   http: {listen: "127.0.0.1:0"[, token_file: DIR/token][, HTTP]}
 *   profiles:
 *     rect:
 *       points:
 *         - {name: v, address: 30001}
 *       alarms:
 *         - {code: MAINS_FAIL, point: v, condition: below, threshold: 170,
 *           clear: 190, severity: critical}
 *
 * rport 0 leaves the redis line out (Redis, where a test wants it, is
 * tried fast); token 0 leaves token_file out (dfix_token writes the
 * file); http: more keys of the http section ("max_body: 1k"), or NULL.
 */
size_t	 dfix_cfg_head(char *buf, size_t len, const char *dir, int modport,
	    int rport, int token, const char *http);

/*
 * Starts prog (NULL: the build's tocsind, asserted executable) with
 * "-c dir/cfg"; the previous log moves to tocsind.err.prev.
 */
void	 dfix_start(struct dfix *d, const char *prog, const char *cfg);
/*
 * dfix_start, then waits up to port_ms for the "http listening on" line
 * (port_ms 0: d->port is the fixed port of the config's http.listen)
 * and up to ready_ms for GET /readyz 200; asserts both, with the log.
 */
void	 dfix_up(struct dfix *d, const char *cfg, int port_ms,
	    int ready_ms);

/*
 * METHOD path on tocsind with headers (each ending in "\r\n", or NULL)
 * and body (or NULL).  Returns the status; *out is the body parsed
 * (asserted JSON, Content-Type application/json).  A 503 must name
 * Retry-After (docs/http.md).
 */
int	 dfix_json(const struct dfix *d, const char *method,
	    const char *path, const char *hdrs, const char *body, json_t **out);

/* This run's log (prev 0) or the previous run's (1); malloc'd, "" if
 * none (tenv_read_file). */
char	*dfix_log(const struct dfix *d, int prev);
/*
 * SIGTERM and checks the stop: exit 0, a " stop reason=SIGTERM" line,
 * no ThreadSanitizer report in this run's log or the previous run's,
 * and token (unless NULL) in neither.  Returns the exit code.
 */
int	 dfix_stop_clean(struct dfix *d, const char *token);

/*
 * Starts devsim on dir/cfg, with --scenario dir/scen unless scen is
 * NULL, and waits (10 s, asserted) for "devsim ready" on its stdout.
 */
void	 dfix_sim_start(struct dfix *d, const char *cfg, const char *scen);

#endif
