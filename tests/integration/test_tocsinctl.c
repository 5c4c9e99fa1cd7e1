/*
 * test_tocsinctl.c - tocsinctl as an operator and a script meet it, run
 * as a process against a real tocsind (and, for the event stream, a
 * canned server while tocsind has no /api/v1/events).
 *
 * The fleet is test_tocsind_api's: three sites, one rectifier each at
 * 127.0.Y.1-3 (Y in 204-207: this test's block, docs/testing.md) on a
 * port where nothing listens, so each site opens a COMM_LOSS incident
 * (T1's is premium: a 60 s ack clock that counts down on the board).
 *
 * Checked: `incidents` (the table, --json, a filter, a 400 as exit 1),
 * `show` (the timeline; 404 as exit 1; --json), `site`, `status`, the
 * server from TOCSIN_SERVER and from a config file, an unreachable server
 * as exit 3, a usage error as exit 2, a token file others can read refused
 * (exit 2) without the token in the message, `ack` (done; again: the
 * engine's 409 as exit 1), `note` on the timeline, `complaint` (and its
 * 400), `command` (unreachable device: exit 1; undeclared: 404),
 * maintenance add, list and delete (again: 404, exit 1), and `watch
 * --once`.  Then `watch` in tmux (skipped, saying so, without tmux), fed
 * live by tocsind's event stream: the T1 incident's row is red and its
 * countdown moves between two captures and it uses under 0.3 s of CPU in 3
 * s (it does not spin); after a resize the board fits the new size; the `a`
 * key acknowledges it and the row turns yellow; q ends the session. And
 * `watch --plain` against a canned SSE server: the list, an event applied,
 * the stream lost and resumed with Last-Event-ID, `reset` and every
 * reconnection re-reading the list; `incidents --json` walking two pages of
 * the same server by their cursor; `command`'s request and its outcome as
 * the exit code.
 *
 * Bounds: every tocsinctl run 20 s; the port line 10 s; /readyz 15 s;
 * the incidents 20 s; a tmux change 10 s.  tocsind stops by PID, tmux
 * by its own socket in the test's directory (kill-server).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/dfix.h"
#include "tests/support/httpfix.h"
#include "tests/support/proc.h"
#include "tests/support/pubfix.h"
#include "tests/support/tenv.h"

#define TOKEN	"ctl-integration-token-0123456789"

static struct {
	struct dfix d;
	char	 net[32];		/* "127.0.Y." */
	char	 url[64];		/* http://127.0.0.1:PORT */
	int	 modport;		/* nothing listens there */
	int	 tmux;			/* a tmux server was started */
} C;

static void
ctl_fini(void)
{
	char cmd[256];

	if (C.tmux) {
		snprintf(cmd, sizeof(cmd), "tmux -S '%s/tmux.sock' kill-server "
		    ">/dev/null 2>&1", C.d.dir);
		free(pubfix_sh(cmd, 10000));
	}
	dfix_fini(&C.d, "test_tocsinctl");
}

TestSuite(tocsinctl, .fini = ctl_fini, .timeout = 180);

static void
setup_dir(void)
{
	memset(&C, 0, sizeof(C));
	dfix_init(&C.d, "ctl");
}

/* tocsind on the three dead rectifiers, with a token file; waits for
 * its port, /readyz and the three incidents. */
static void
daemon_up(void)
{
	char yaml[4096], a[40];
	int64_t end;
	size_t len;

	snprintf(C.net, sizeof(C.net), "127.0.%u.", 204 + tenv_seed(31) % 4);
	snprintf(a, sizeof(a), "%s1", C.net);
	C.modport = tenv_free_port(a);
	cr_assert_gt(C.modport, 0);
	dfix_token(C.d.dir, TOKEN, 0600);
	len = dfix_cfg_head(yaml, sizeof(yaml), C.d.dir, C.modport, 0, 1, NULL);
	snprintf(yaml + len, sizeof(yaml) - len,
	    "    commands:\n      - {name: reset, function: 6, address: "
	    "40001, value: 1}\n"
	    "sites:\n"
	    "  - {id: T1, area: north, region: A, tenants: "
	    "[{customer: c1, tier: premium}]}\n"
	    "  - {id: T2, area: north, region: A, tenants: "
	    "[{customer: c2, tier: standard}]}\n"
	    "  - {id: T3, area: south, region: B, tenants: "
	    "[{customer: c3, tier: standard}]}\n"
	    "devices:\n"
	    "  - {id: T1-rect, site: T1, profile: rect, host: %s1}\n"
	    "  - {id: T2-rect, site: T2, profile: rect, host: %s2}\n"
	    "  - {id: T3-rect, site: T3, profile: rect, host: %s3}\n",
	    C.net, C.net, C.net);
	tenv_write_file(C.d.dir, "t.yaml", yaml);
	dfix_up(&C.d, "t.yaml", 10000, 15000);
	snprintf(C.url, sizeof(C.url), "http://127.0.0.1:%d", C.d.port);
	end = tenv_mono_ms() + 20000;
	for (;;) {
		json_t *j;
		int n;

		cr_assert_eq(dfix_json(&C.d, "GET", "/api/v1/incidents", NULL,
		    NULL, &j), 200);
		n = (int)json_array_size(json_object_get(j, "incidents"));
		json_decref(j);
		if (n >= 3)
			break;
		cr_assert_lt(tenv_mono_ms(), end, "%d incidents in 20 s", n);
		usleep(200000);
	}
}

/* Runs tocsinctl with the words of args (space-separated; a word may
 * not hold a space) after env assignments (NULL: none), for at most
 * timeout_ms (then it is killed: status -1). */
static int
ctl_for(const char *envs, const char *args, int timeout_ms,
    struct proc_result *r)
{
	char line[2048], *argv[48], *save = NULL, *tok;
	static char prog[512];
	int argc = 0;

	snprintf(prog, sizeof(prog), "%s", proc_build_path("tocsinctl"));
	cr_assert_eq(access(prog, X_OK), 0, "no %s", prog);
	snprintf(line, sizeof(line), "%s", envs ? envs : "");
	argv[argc++] = "env";
	argv[argc++] = "-u";
	argv[argc++] = "TOCSIN_SERVER";
	argv[argc++] = "-u";
	argv[argc++] = "TOCSIN_TOKEN_FILE";
	argv[argc++] = "-u";
	argv[argc++] = "TOCSIN_CTL_CONFIG";
	argv[argc++] = "HOME=/nonexistent";
	argv[argc++] = "XDG_CONFIG_HOME=";
	for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ",
	    &save))
		argv[argc++] = tok;
	argv[argc++] = prog;
	{
		static char words[2048];

		snprintf(words, sizeof(words), "%s", args);
		for (tok = strtok_r(words, " ", &save); tok; tok =
		    strtok_r(NULL, " ", &save))
			argv[argc++] = tok;
	}
	argv[argc] = NULL;
	cr_assert_eq(proc_run(argv, timeout_ms, r), 0);
	return r->status;
}

static int
ctl(const char *envs, const char *args, struct proc_result *r)
{
	return ctl_for(envs, args, 20000, r);
}

/* ctl() without env assignments, the words formatted from fmt. */
static int __attribute__((format(printf, 2, 3)))
ctlf(struct proc_result *r, const char *fmt, ...)
{
	char args[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	return ctl(NULL, args, r);
}

static int
count_lines_with(const char *s, const char *needle)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* The id of site's open incident (the list filtered by site), in buf. */
static void
site_incident(const char *site, char *buf, size_t len)
{
	struct httpfix_resp r;
	char path[64];
	json_t *j;
	int port = atoi(strrchr(C.url, ':') + 1);

	snprintf(path, sizeof(path), "/api/v1/incidents?site=%s", site);
	cr_assert_eq(httpfix_do(port, "GET", path, NULL, NULL, &r), 200);
	j = json_loads(r.body, 0, NULL);
	snprintf(buf, len, "%s", json_string_value(json_object_get(
	    json_object_get(json_array_get(json_object_get(j, "incidents"), 0),
	    "incident"), "id")));
	cr_assert(strncmp(buf, "INC-", 4) == 0, "%s: %s", site, r.body);
	json_decref(j);
	httpfix_free(&r);
}

Test(tocsinctl, commands_and_exit_codes)
{
	struct proc_result r;
	char args[512], envs[256], path[128], t1[32], t2[32], t3[32], want[96];
	int64_t end;
	json_t *j;

	setup_dir();
	daemon_up();
	site_incident("T1", t1, sizeof(t1));
	site_incident("T2", t2, sizeof(t2));
	site_incident("T3", t3, sizeof(t3));
	/* incidents: the table */
	cr_assert_eq(ctlf(&r, "-s %s incidents", C.url), 0, "%s", r.err);
	cr_assert(strncmp(r.out, "ID ", 3) == 0, "%s", r.out);
	cr_assert_eq(count_lines_with(r.out, "\nINC-"), 3, "%s", r.out);
	cr_assert_eq(count_lines_with(r.out, " open "), 3, "%s", r.out);
	cr_assert(strstr(r.out, "COMM_LOSS") != NULL, "%s", r.out);
	proc_result_free(&r);
	/* --json: the server's items, every page */
	cr_assert_eq(ctlf(&r, "-s %s incidents --json", C.url), 0);
	j = json_loads(r.out, 0, NULL);
	cr_assert_not_null(j, "%s", r.out);
	cr_assert_eq(json_integer_value(json_object_get(j, "count")), 3);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(j, "incidents"), 0), "schema")),
	    "tocsin.incident/1");
	json_decref(j);
	proc_result_free(&r);
	/* pages of one give the same three */
	cr_assert_eq(ctlf(&r, "-s %s incidents --limit 2 --json",
	    C.url), 0);
	j = json_loads(r.out, 0, NULL);
	cr_assert_eq(json_integer_value(json_object_get(j, "count")), 2);
	json_decref(j);
	proc_result_free(&r);
	/* a filter; a bad value is the server's 400: exit 1 */
	cr_assert_eq(ctlf(&r, "-s %s incidents --site T1 --tier premium",
	    C.url), 0);
	cr_assert_eq(count_lines_with(r.out, "\nINC-"), 1, "%s", r.out);
	cr_assert(strstr(r.out, " T1 ") != NULL, "%s", r.out);
	proc_result_free(&r);
	cr_assert_eq(ctlf(&r, "-s %s incidents --state bogus", C.url), 1);
	cr_assert(strstr(r.err, "HTTP 400") != NULL, "%s", r.err);
	proc_result_free(&r);
	/* show: the timeline; an unknown id 404: exit 1 */
	cr_assert_eq(ctlf(&r, "-s %s show %s", C.url, t1), 0, "%s", r.err);
	snprintf(want, sizeof(want), "incident   %s", t1);
	cr_assert(strstr(r.out, want) != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "timeline   ") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, " opened ") != NULL, "%s", r.out);
	proc_result_free(&r);
	cr_assert_eq(ctlf(&r, "-s %s show %s --json", C.url, t1), 0);
	j = json_loads(r.out, 0, NULL);
	cr_assert(json_is_array(json_object_get(j, "timeline")), "%s", r.out);
	json_decref(j);
	proc_result_free(&r);
	cr_assert_eq(ctlf(&r, "-s %s show INC-9-99", C.url), 1);
	cr_assert(strstr(r.err, "404") != NULL, "%s", r.err);
	cr_assert_str_eq(r.out, "");
	proc_result_free(&r);
	/* site: its facts, devices and incidents; an unknown one 404 */
	cr_assert_eq(ctlf(&r, "-s %s site T1", C.url), 0, "%s", r.err);
	cr_assert(strstr(r.out, "site       T1, area north, region A") != NULL,
	    "%s", r.out);
	cr_assert(strstr(r.out, "tenants    c1 (premium)") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "device     T1-rect") != NULL, "%s", r.out);
	cr_assert_eq(count_lines_with(r.out, "\nINC-"), 1, "%s", r.out);
	proc_result_free(&r);
	cr_assert_eq(ctlf(&r, "-s %s site T9", C.url), 1);
	cr_assert(strstr(r.err, "404") != NULL, "%s", r.err);
	proc_result_free(&r);
	/* status (the shards publish their numbers once a second: wait) */
	snprintf(args, sizeof(args), "-s %s status", C.url);
	end = tenv_mono_ms() + 10000;
	for (;;) {
		cr_assert_eq(ctl(NULL, args, &r), 0, "%s%s", r.out, r.err);
		if (strstr(r.out, "incidents  3 open (open 3)") != NULL &&
		    strstr(r.out, "3 lost") != NULL)
			break;
		cr_assert_lt(tenv_mono_ms(), end, "%s", r.out);
		proc_result_free(&r);
		usleep(300000);
	}
	cr_assert(strstr(r.out, "health     ok") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "ready      ready") != NULL, "%s", r.out);
	proc_result_free(&r);
	/* the server from the environment, then from a config file */
	snprintf(envs, sizeof(envs), "TOCSIN_SERVER=%s", C.url);
	cr_assert_eq(ctl(envs, "incidents --json", &r), 0, "%s", r.err);
	proc_result_free(&r);
	snprintf(args, sizeof(args), "server = %s\n", C.url);
	tenv_write_file(C.d.dir, "ctl.conf", args);
	snprintf(envs, sizeof(envs), "TOCSIN_CTL_CONFIG=%s/ctl.conf", C.d.dir);
	cr_assert_eq(ctl(envs, "incidents --json", &r), 0, "%s", r.err);
	proc_result_free(&r);
	/* unreachable: exit 3, naming where the address came from */
	cr_assert_eq(ctlf(&r, "-s http://127.0.0.1:%d incidents",
	    tenv_free_port("127.0.0.1")), 3);
	cr_assert(strstr(r.err, "cannot connect") != NULL, "%s", r.err);
	cr_assert(strstr(r.err, "--server") != NULL, "%s", r.err);
	proc_result_free(&r);
	/* usage: exit 2 */
	cr_assert_eq(ctl(NULL, "frobnicate", &r), 2);
	cr_assert(strstr(r.err, "unknown command") != NULL, "%s", r.err);
	proc_result_free(&r);
	cr_assert_eq(ctl(NULL, "--help", &r), 0);
	cr_assert(strstr(r.out, "exit: 0 done") != NULL);
	proc_result_free(&r);
	/* a token file others can read: refused before any request */
	tenv_write_file(C.d.dir, "open.token", TOKEN "\n");
	snprintf(path, sizeof(path), "%s/open.token", C.d.dir);
	cr_assert_eq(chmod(path, 0644), 0);
	cr_assert_eq(ctlf(&r, "-s %s -t %s ack %s --actor noc",
	    C.url, path, t1), 2);
	cr_assert(strstr(r.err, "0644") != NULL, "%s", r.err);
	cr_assert(strstr(r.err, TOKEN) == NULL && strstr(r.out, TOKEN) == NULL);
	proc_result_free(&r);
	/* a write without any token file: exit 2, saying how to give one */
	cr_assert_eq(ctlf(&r, "-s %s resolve %s --actor noc",
	    C.url, t1), 2);
	cr_assert(strstr(r.err, "--token-file") != NULL, "%s", r.err);
	proc_result_free(&r);
	/* ack with the token: done, and shown; a second ack is the
	 * engine's 409: exit 1 with its reason */
	snprintf(args, sizeof(args), "-s %s -t %s/token ack %s --actor noc",
	    C.url, C.d.dir, t3);
	cr_assert_eq(ctl(NULL, args, &r), 0, "%s", r.err);
	snprintf(want, sizeof(want), "%s ack: acknowledged", t3);
	cr_assert(strstr(r.out, want) != NULL, "%s", r.out);
	proc_result_free(&r);
	cr_assert_eq(ctl(NULL, args, &r), 1, "%s", r.err);
	cr_assert(strstr(r.err, "409") != NULL, "%s", r.err);
	proc_result_free(&r);
	cr_assert_eq(ctlf(&r, "-s %s -t %s/token note %s --actor noc "
	    "on the way", C.url, C.d.dir, t3), 0, "%s", r.err);
	proc_result_free(&r);
	cr_assert_eq(ctlf(&r, "-s %s show %s", C.url, t3), 0, "%s", r.err);
	cr_assert(strstr(r.out, "state      acknowledged (yellow)") != NULL,
	    "%s", r.out);
	cr_assert(strstr(r.out, " noc          note         on the way") !=
	    NULL, "%s", r.out);
	cr_assert(strstr(r.err, TOKEN) == NULL && strstr(r.out, TOKEN) == NULL);
	proc_result_free(&r);
	/* a complaint opens an incident naming its customer */
	cr_assert_eq(ctlf(&r, "-s %s -t %s/token complaint --customer c2 "
	    "--site T2 --actor desk calls drop every evening", C.url, C.d.dir),
	    0, "%s", r.err);
	cr_assert(strstr(r.out, ": complaint of c2 about T2, major, open") !=
	    NULL, "%s", r.out);
	proc_result_free(&r);
	cr_assert_eq(ctlf(&r, "-s %s incidents --customer c2", C.url),
	    0, "%s", r.err);
	cr_assert_eq(count_lines_with(r.out, "\nINC-"), 2, "%s", r.out);
	proc_result_free(&r);
	cr_assert_eq(ctlf(&r, "-s %s -t %s/token complaint --customer c3 "
	    "--site T2 --actor desk wrong site", C.url, C.d.dir), 1, "%s", r.err);
	cr_assert(strstr(r.err, "400") != NULL, "%s", r.err);
	proc_result_free(&r);
	/* a declared command to a device that does not answer: not done
	 * (exit 1), the outcome and its detail printed; an undeclared one:
	 * the server's 404 */
	cr_assert_eq(ctlf(&r, "-s %s -t %s/token --actor noc command "
	    "T2-rect reset --incident %s", C.url, C.d.dir, t2),
	    1, "%s%s", r.out, r.err);
	snprintf(want, sizeof(want), "noted on %s", t2);
	cr_assert(strncmp(r.out, "T2-rect reset: ", 15) == 0 &&
	    strstr(r.out, want) != NULL, "%s", r.out);
	cr_assert(strstr(r.out, ": done") == NULL, "%s", r.out);
	proc_result_free(&r);
	cr_assert_eq(ctlf(&r, "-s %s -t %s/token --actor noc command "
	    "T3-rect dg_start", C.url, C.d.dir), 1, "%s", r.err);
	cr_assert(strstr(r.err, "404") != NULL, "%s", r.err);
	proc_result_free(&r);
	/* maintenance: add, list, delete (a DELETE carries the token too:
	 * without it the gate's 401), a second delete 404 */
	cr_assert_eq(ctlf(&r, "-s %s -t %s/token maintenance add --site "
	    "T3 --start now --end +1h --reason works --actor noc", C.url,
	    C.d.dir), 0, "%s", r.err);
	cr_assert(strncmp(r.out, "1 ", 2) == 0 && strstr(r.out, " T3 ") &&
	    strstr(r.out, "works"), "%s", r.out);
	proc_result_free(&r);
	cr_assert_eq(ctlf(&r, "-s %s maintenance list --json", C.url),
	    0, "%s", r.err);
	j = json_loads(r.out, 0, NULL);
	cr_assert_eq(json_array_size(json_object_get(j, "windows")), 1, "%s",
	    r.out);
	json_decref(j);
	proc_result_free(&r);
	snprintf(args, sizeof(args), "-s %s -t %s/token maintenance delete 1",
	    C.url, C.d.dir);
	cr_assert_eq(ctl(NULL, args, &r), 0, "%s", r.err);
	cr_assert_str_eq(r.out, "maintenance window 1 deleted\n");
	proc_result_free(&r);
	cr_assert_eq(ctl(NULL, args, &r), 1);
	cr_assert(strstr(r.err, "404") != NULL, "%s", r.err);
	proc_result_free(&r);
	cr_assert_eq(ctlf(&r, "-s %s -t %s/token maintenance add --site "
	    "T3 --start soon --end +1h --reason x --actor noc", C.url, C.d.dir),
	    2);
	cr_assert(strstr(r.err, "RFC 3339") != NULL, "%s", r.err);
	proc_result_free(&r);
	/* watch --once: one plain board, the nearest deadline first */
	snprintf(args, sizeof(args), "-s %s watch --once", C.url);
	cr_assert_eq(ctl("NO_COLOR=1", args, &r), 0, "%s", r.err);
	cr_assert(strstr(r.out, "4 incidents") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, " complaint c2") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "\x1b") == NULL);
	cr_assert(strstr(r.out, "\nINC-") != NULL, "%s", r.out);
	cr_assert(strstr(strstr(r.out, "\nINC-"), " T1 ") <
	    strstr(r.out, " T2 ") || strstr(r.out, "acknowledged"),
	    "T1's 60 s clock first: %s", r.out);
	proc_result_free(&r);
}

/* ---- watch in tmux ---- */

/* Runs "tmux -S DIR/tmux.sock sub"; its stdout (free it). */
static char *
tmux(const char *sub)
{
	char cmd[1400];

	snprintf(cmd, sizeof(cmd), "tmux -S '%s/tmux.sock' %s", C.d.dir, sub);
	return pubfix_sh(cmd, 10000);
}

/* The captured line (with escapes) that holds needle, copied; "". */
static void
pane_line(const char *needle, char *out, size_t len)
{
	char *cap = tmux("capture-pane -p -e -t ctl"), *p, *e;

	out[0] = '\0';
	if ((p = strstr(cap, needle)) != NULL) {
		while (p > cap && p[-1] != '\n')
			p--;
		e = strchr(p, '\n');
		snprintf(out, len, "%.*s", e ? (int)(e - p) : (int)strlen(p), p);
	}
	free(cap);
}

/* The countdown after "ack " on a line, or "". */
static void
countdown(const char *line, char *out, size_t len)
{
	const char *p = strstr(line, " ack ");

	out[0] = '\0';
	if (p)
		snprintf(out, len, "%.*s", (int)strcspn(p + 5, " "), p + 5);
}

/* CPU seconds (user + system) process pid has used; -1 if gone. */
static double
cpu_seconds(pid_t pid)
{
	char path[64], *st, *p;
	unsigned long ut, stime;
	double sec = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	st = tenv_read_file(path);
	/* after "(comm)": state ppid ... field 14 utime, 15 stime */
	if ((p = strrchr(st, ')')) != NULL && sscanf(p + 2, "%*c %*d %*d %*d "
	    "%*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stime) == 2)
		sec = (double)(ut + stime) / (double)sysconf(_SC_CLK_TCK);
	free(st);
	return sec;
}

/* The tocsinctl of the pane: its pid, or the pid of its child when the
 * pane runs a shell that did not exec. */
static pid_t
pane_ctl_pid(void)
{
	char *s = tmux("display-message -p -t ctl '#{pane_pid}'"), path[96];
	pid_t pid = (pid_t)atoi(s), child;
	char *comm, *kids;

	free(s);
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	comm = tenv_read_file(path);
	if (strncmp(comm, "tocsinctl", 9) != 0) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children",
		    (int)pid, (int)pid);
		kids = tenv_read_file(path);
		child = (pid_t)atoi(kids);
		free(kids);
		pid = child;
	}
	free(comm);
	return pid;
}

Test(tocsinctl, watch_in_tmux)
{
	char cmd[1024], l1[512], l2[512], c1[32], c2[32], *s;
	int64_t end;

	if (system("command -v tmux >/dev/null 2>&1") != 0)
		cr_skip_test("tmux is not installed (make deps installs it): "
		    "the board is not checked through a terminal");
	setup_dir();
	daemon_up();
	snprintf(cmd, sizeof(cmd), "-f /dev/null new-session -d -s ctl -x 150 "
	    "-y 20 \"env -u NO_COLOR TERM=xterm %s -s %s -t %s/token "
	    "--actor noc watch\"", proc_build_path("tocsinctl"), C.url,
	    C.d.dir);
	free(tmux(cmd));
	C.tmux = 1;
	/* the T1 row, red, with a countdown */
	end = tenv_mono_ms() + 10000;
	do {
		usleep(200000);
		pane_line(" T1 ", l1, sizeof(l1));
	} while (strstr(l1, " ack ") == NULL && tenv_mono_ms() < end);
	s = tmux("capture-pane -p -t ctl");
	cr_assert(strstr(l1, " ack ") != NULL, "no T1 row with a countdown:\n"
	    "%s", s);
	cr_assert(strstr(s, "tocsin watch") != NULL, "%s", s);
	/* fed by the event stream (so the a key's change below arrives as
	 * an event, not by re-reading the list) */
	end = tenv_mono_ms() + 10000;
	while (strstr(s, "[live]") == NULL && tenv_mono_ms() < end) {
		free(s);
		usleep(200000);
		s = tmux("capture-pane -p -t ctl");
	}
	cr_assert(strstr(s, "[live]") != NULL, "not on the stream: %s", s);
	cr_assert(strstr(s, "q quit") != NULL, "%s", s);
	free(s);
	cr_assert(strstr(l1, "31m") != NULL && strstr(l1, "31m") <
	    strstr(l1, "INC-"), "T1 is not red: %s", l1);
	cr_assert(strstr(l1, " open ") != NULL, "%s", l1);
	countdown(l1, c1, sizeof(c1));
	/* the countdown moves by itself */
	end = tenv_mono_ms() + 10000;
	do {
		usleep(500000);
		pane_line(" T1 ", l2, sizeof(l2));
		countdown(l2, c2, sizeof(c2));
	} while (strcmp(c1, c2) == 0 && tenv_mono_ms() < end);
	cr_assert_str_neq(c1, c2, "the countdown did not move: %s", l2);
	/* it does not spin: an idle board costs almost no CPU */
	{
		pid_t pid = pane_ctl_pid();
		double c0 = cpu_seconds(pid), cpu;
		int64_t t0 = tenv_mono_ms();

		cr_assert_geq(c0, 0, "no tocsinctl process in the pane");
		sleep(3);
		cpu = cpu_seconds(pid) - c0;
		cr_assert_lt(cpu, 0.3, "%.2f s of CPU in %.1f s of watching",
		    cpu, (double)(tenv_mono_ms() - t0) / 1000);
	}
	/* the board follows the terminal's size (SIGWINCH): 80 x 12, the
	 * status line on the last row, no row wider */
	free(tmux("resize-window -t ctl -x 80 -y 12"));
	end = tenv_mono_ms() + 10000;
	for (;;) {
		int rows = 0, wide = 0, last_ok = 0;
		char *line, *nl;

		usleep(300000);
		s = tmux("capture-pane -p -t ctl");
		for (line = s; (nl = strchr(line, '\n')) != NULL;
		    line = nl + 1) {
			*nl = '\0';
			rows++;
			wide |= strlen(line) > 80;
			last_ok = strstr(line, "q quit") != NULL;
		}
		free(s);
		if ((rows == 12 && !wide && last_ok) || tenv_mono_ms() > end) {
			cr_assert(rows == 12 && !wide && last_ok, "after the "
			    "resize: %d rows, wider than 80: %d, status line "
			    "last: %d", rows, wide, last_ok);
			break;
		}
	}
	/* select T1 (k to the top: it has the nearest deadline) and ack */
	free(tmux("send-keys -t ctl k k k"));
	usleep(300000);
	pane_line("> ", l1, sizeof(l1));
	cr_assert(strstr(l1, " T1 ") != NULL, "T1 is not selected: %s", l1);
	free(tmux("send-keys -t ctl a"));
	end = tenv_mono_ms() + 10000;
	do {
		usleep(300000);
		pane_line(" T1 ", l1, sizeof(l1));
		pane_line("ack INC-", l2, sizeof(l2));
	} while (strstr(l1, "acknowledged") == NULL && l2[0] == '\0' &&
	    tenv_mono_ms() < end);
	cr_assert(strstr(l1, "acknowledged") != NULL, "%s / %s", l1, l2);
	cr_assert(strstr(l1, "33m") != NULL && strstr(l1, "33m") <
	    strstr(l1, "INC-"), "not yellow: %s", l1);
	/* q quits and restores the terminal */
	free(tmux("send-keys -t ctl q"));
	end = tenv_mono_ms() + 10000;
	do {
		usleep(200000);
		s = tmux("list-sessions 2>&1");
		if (strstr(s, "ctl:") == NULL) {
			free(s);
			break;
		}
		free(s);
	} while (tenv_mono_ms() < end);
	s = tmux("list-sessions 2>&1");
	cr_assert(strstr(s, "ctl:") == NULL, "q did not quit: %s", s);
	free(s);
}

/* ---- watch against a canned event stream ---- */

/*
 * A server that answers like tocsind with the event stream: the list
 * (A open; after the first stream ends, A acknowledged and B), and
 * /api/v1/events: the first stream sends two events (ids 7, 8) and is
 * cut after 500 ms; the next one records its Last-Event-ID and sends
 * `event: reset`, then a keepalive, and stays open.
 */
static struct {
	int	 ls, stop[2];
	int	 lists;			/* list requests answered */
	int	 streams;		/* stream requests */
	char	 last_id[64];		/* the second stream's Last-Event-ID */
	int	 paged;			/* lists: two pages, cursor "c/1" */
	char	 post[1024];		/* the last POST, headers and body */
	pthread_t th;
} F;

static const char ev_a1[] = "{\"seq\":1,\"incident\":{\"id\":\"A\",\"state\":"
	"\"open\",\"site\":\"T1\",\"area\":\"north\",\"severity\":\"major\"}}";
static const char ev_a2[] = "{\"seq\":2,\"incident\":{\"id\":\"A\",\"state\":"
	"\"acknowledged\",\"site\":\"T1\",\"area\":\"north\",\"severity\":"
	"\"major\"}}";
static const char ev_b1[] = "{\"seq\":1,\"incident\":{\"id\":\"B\",\"state\":"
	"\"open\",\"site\":\"T2\",\"area\":\"north\",\"severity\":\"minor\"}}";

static void
f_write(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* One chunk of a chunked body. */
static void
f_chunk(int fd, const char *s)
{
	char h[32];

	snprintf(h, sizeof(h), "%zx\r\n", strlen(s));
	f_write(fd, h);
	f_write(fd, s);
	f_write(fd, "\r\n");
}

static void *
f_main(void *arg)
{
	int s1 = -1, s2 = -1;
	int64_t s1_at = 0;

	(void)arg;
	for (;;) {
		struct pollfd pf[2] = { { F.ls, POLLIN, 0 },
		    { F.stop[0], POLLIN, 0 } };
		char req[4096], body[2048], *h;
		size_t n = 0;
		int fd;

		if (poll(pf, 2, 100) < 0)
			break;
		if (pf[1].revents)
			break;
		if (s1 >= 0 && tenv_mono_ms() - s1_at > 500) {
			close(s1);	/* the stream is lost */
			s1 = -2;
		}
		if (!pf[0].revents)
			continue;
		if ((fd = accept(F.ls, NULL, NULL)) < 0)
			continue;
		req[0] = '\0';
		while (n < sizeof(req) - 1 && strstr(req, "\r\n\r\n") == NULL) {
			struct pollfd p = { fd, POLLIN, 0 };
			ssize_t k;

			if (poll(&p, 1, 2000) <= 0)
				break;
			if ((k = read(fd, req + n, sizeof(req) - 1 - n)) <= 0)
				break;
			n += (size_t)k;
			req[n] = '\0';
		}
		req[n] = '\0';
		if (strncmp(req, "GET /api/v1/incidents", 21) == 0) {
			char resp[2400];

			F.lists++;
			if (F.paged && strstr(req, "&cursor=c%2F1 ") != NULL)
				snprintf(body, sizeof(body), "{\"incidents\":[%s],"
				    "\"count\":1,\"next_cursor\":null}", ev_b1);
			else if (F.paged)
				snprintf(body, sizeof(body), "{\"incidents\":[%s],"
				    "\"count\":1,\"next_cursor\":\"c/1\"}", ev_a1);
			else if (s1 == -2)
				snprintf(body, sizeof(body), "{\"incidents\":[%s,"
				    "%s],\"count\":2,\"next_cursor\":null}",
				    ev_a2, ev_b1);
			else
				snprintf(body, sizeof(body), "{\"incidents\":[%s],"
				    "\"count\":1,\"next_cursor\":null}", ev_a1);
			snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\n"
			    "Content-Type: application/json\r\nContent-Length: "
			    "%zu\r\nConnection: close\r\n\r\n%s", strlen(body),
			    body);
			f_write(fd, resp);
			close(fd);
		} else if (strncmp(req, "GET /api/v1/events", 18) == 0) {
			F.streams++;
			f_write(fd, "HTTP/1.1 200 OK\r\nContent-Type: "
			    "text/event-stream\r\nTransfer-Encoding: chunked\r\n"
			    "Cache-Control: no-cache\r\n\r\n");
			if (F.streams == 1) {
				snprintf(body, sizeof(body), ": hello\n\nid: 7\n"
				    "event: incident\ndata: %s\n\n", ev_b1);
				f_chunk(fd, body);
				snprintf(body, sizeof(body), "id: 8\nevent: "
				    "incident\ndata: %s\n\n", ev_a2);
				f_chunk(fd, body);
				s1 = fd;
				s1_at = tenv_mono_ms();
			} else {
				if ((h = strstr(req, "Last-Event-ID: ")) != NULL)
					snprintf(F.last_id, sizeof(F.last_id),
					    "%.*s", (int)strcspn(h + 15, "\r\n"),
					    h + 15);
				f_chunk(fd, "event: reset\ndata: {\"reason\":"
				    "\"test\"}\n\n: keepalive\n\n");
				if (s2 >= 0)
					close(s2);
				s2 = fd;
			}
		} else if (strncmp(req, "POST /api/v1/devices/", 21) == 0) {
			const char *ans = strstr(req, "/commands/dg_start ") ?
			    "{\"device\":\"T1-dg\",\"command\":\"dg_start\","
			    "\"outcome\":\"done\",\"actor\":\"amy\","
			    "\"function\":6,\"address\":\"holding 0\","
			    "\"elapsed_ms\":412,\"readback\":{\"address\":"
			    "\"discrete 0\",\"expected\":1,\"reads\":2,"
			    "\"value\":1},\"incident\":\"INC-0-1\","
			    "\"timeline\":\"queued\"}" :
			    "{\"device\":\"T1-dg\",\"command\":\"reset\","
			    "\"outcome\":\"refused\",\"exception\":{\"code\":2,"
			    "\"name\":\"illegal data address\"},"
			    "\"elapsed_ms\":9}";
			char resp[512];
			struct pollfd p = { fd, POLLIN, 0 };
			ssize_t k;

			/* the body follows the headers, maybe in a later read */
			if (poll(&p, 1, 200) > 0 && (k = read(fd, req + n,
			    sizeof(req) - 1 - n)) > 0)
				req[n + (size_t)k] = '\0';
			snprintf(F.post, sizeof(F.post), "%s", req);
			snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\n"
			    "Content-Type: application/json\r\nContent-Length: "
			    "%zu\r\n\r\n%s", strlen(ans), ans);
			f_write(fd, resp);
			close(fd);
		} else {
			f_write(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 2"
			    "\r\n\r\n{}");
			close(fd);
		}
	}
	if (s1 >= 0)
		close(s1);
	if (s2 >= 0)
		close(s2);
	return NULL;
}

/* The canned server on a free port; returns its port. */
static int
f_start(int paged)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);

	memset(&F, 0, sizeof(F));
	F.paged = paged;
	F.ls = socket(AF_INET, SOCK_STREAM, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(F.ls, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(F.ls, 16), 0);
	getsockname(F.ls, (struct sockaddr *)&a, &al);
	cr_assert_eq(pipe(F.stop), 0);
	cr_assert_eq(pthread_create(&F.th, NULL, f_main, NULL), 0);
	return ntohs(a.sin_port);
}

static void
f_stop(void)
{
	cr_assert_eq(write(F.stop[1], "x", 1), 1);
	pthread_join(F.th, NULL);
	close(F.ls);
	close(F.stop[0]);
	close(F.stop[1]);
}

Test(tocsinctl, incidents_pages_canned)
{
	struct proc_result r;
	json_t *j;

	cr_assert_eq(ctlf(&r, "-s http://127.0.0.1:%d incidents --json",
	    f_start(1)), 0, "%s", r.err);
	f_stop();
	j = json_loads(r.out, 0, NULL);
	cr_assert_not_null(j, "%s", r.out);
	cr_assert_eq(json_integer_value(json_object_get(j, "count")), 2,
	    "%s", r.out);
	cr_assert_eq(F.lists, 2);
	json_decref(j);
	proc_result_free(&r);
}

/* command: the request (token, actor, incident) and the outcome as the
 * exit code (done 0, anything else 1). */
Test(tocsinctl, command_canned)
{
	struct proc_result r;
	char args[512], dir[] = "/tmp/tocsin-ctlcmd-XXXXXX", path[64];
	int port = f_start(0);

	cr_assert_not_null(mkdtemp(dir));
	dfix_token(dir, TOKEN, 0600);
	snprintf(path, sizeof(path), "%s/token", dir);
	cr_assert_eq(ctlf(&r, "-s http://127.0.0.1:%d -t %s --actor amy "
	    "command T1-dg dg_start --incident INC-0-1", port, path),
	    0, "%s", r.err);
	cr_assert_str_eq(r.out, "T1-dg dg_start: done, read-back 1 (expected "
	    "1, 2 reads), 412 ms, noted on INC-0-1 (queued)\n");
	cr_assert(strstr(F.post, "Authorization: Bearer " TOKEN "\r\n") !=
	    NULL, "%s", F.post);
	cr_assert(strstr(F.post, "{\"actor\":\"amy\",\"incident\":"
	    "\"INC-0-1\"}") != NULL, "%s", F.post);
	proc_result_free(&r);
	cr_assert_eq(ctlf(&r, "-s http://127.0.0.1:%d -t %s --actor amy "
	    "command T1-dg reset", port, path), 1, "%s", r.err);
	cr_assert_str_eq(r.out, "T1-dg reset: refused, exception 2 illegal "
	    "data address, 9 ms\n");
	proc_result_free(&r);
	cr_assert_eq(ctlf(&r, "-s http://127.0.0.1:%d -t %s --actor amy "
	    "--json command T1-dg reset", port, path), 1);
	cr_assert(strncmp(r.out, "{\"device\":\"T1-dg\"", 17) == 0, "%s",
	    r.out);
	proc_result_free(&r);
	f_stop();
	snprintf(args, sizeof(args), "rm -rf '%s'", dir);
	cr_assert_eq(system(args), 0);
}

Test(tocsinctl, watch_stream_canned)
{
	struct proc_result r;
	char args[128], *b1, *b2;
	int port = f_start(0);

	/* runs until killed: 4 s covers the cut, the 1 s retry and the
	 * reset */
	snprintf(args, sizeof(args), "-s http://127.0.0.1:%d watch --plain",
	    port);
	cr_assert_eq(ctl_for(NULL, args, 4000, &r), -1, "%s", r.err);
	f_stop();
	/* the list first: A open */
	b1 = strstr(r.out, "# ");
	cr_assert_not_null(b1, "%s", r.out);
	cr_assert(strstr(b1, "1 incident ") != NULL, "%s", r.out);
	cr_assert(strstr(b1, "\nA                open") != NULL, "%s", r.out);
	/* then the stream's events: B added, A acknowledged */
	b2 = strstr(b1 + 1, "\n# ");
	cr_assert_not_null(b2, "no second block: %s", r.out);
	cr_assert(strstr(b2, "2 incidents") != NULL, "%s", r.out);
	cr_assert(strstr(b2, "\nA                acknowledged") != NULL, "%s",
	    r.out);
	cr_assert(strstr(b2, "\nB                open") != NULL, "%s", r.out);
	/* nothing else changed: no third block */
	cr_assert_null(strstr(b2 + 1, "\n# "), "%s", r.out);
	/* the lost stream resumed after the last id; the list read at the
	 * start, after the reconnection and after the reset */
	cr_assert_eq(F.streams, 2, "%d streams", F.streams);
	cr_assert_str_eq(F.last_id, "8");
	cr_assert_geq(F.lists, 3, "%d list reads", F.lists);
	proc_result_free(&r);
}
