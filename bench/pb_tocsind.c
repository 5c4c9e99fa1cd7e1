/*
 * pb_tocsind.c - see pb_tocsind.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/pb_redis.h"
#include "bench/pb_stats.h"
#include "bench/pb_tocsind.h"
#include "daemon/ctlhttp.h"

#define PB_STOP_S	30	/* SIGTERM to exit, then SIGKILL */
#define PB_READY_S	60	/* the start line to /readyz 200 */

/* VmHWM of pid in KiB, or -1. */
static long
pb_hwm_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(fp);
	return kib;
}

/* The number after "key=" in line, or -1. */
static double
pb_field(const char *line, const char *key)
{
	const char *p = strstr(line, key);

	return p != NULL ? strtod(p + strlen(key), NULL) : -1;
}

/* GET /readyz of 127.0.0.1:port (tocsinctl's client): its status, or
 * -1 when no answer came within a second. */
static int
pb_readyz(int port)
{
	struct ctlhttp_url u;
	struct ctlhttp_resp r;
	char err[256];
	int st;

	snprintf(u.host, sizeof(u.host), "127.0.0.1");
	u.port = (unsigned)port;
	if (ctlhttp_request(&u, "GET", "/readyz", NULL, NULL, 1000, &r, err,
	    sizeof(err)) != 0)
		return -1;
	st = r.status;
	ctlhttp_resp_fini(&r);
	return st;
}

/* One log line of the child: 1 at its start line, else 0. */
static int
pb_line(const char *line, pid_t pid, double t0, struct pb_start *out)
{
	const char *h = strstr(line, " http listening on 127.0.0.1:");

	if (h != NULL) {
		out->port = atoi(h + strlen(" http listening on 127.0.0.1:"));
		return 0;
	}
	if (strstr(line, " restored shard=") != NULL) {
		double ms = pb_field(line, " restore_ms=");
		double in = pb_field(line, " inputs_replayed=");

		if (ms / 1000.0 > out->restore_s)
			out->restore_s = ms / 1000.0;
		if (in > 0)
			out->inputs += (unsigned)in;
		out->restored++;
		return 0;
	}
	if (strstr(line, " start version=") == NULL)
		return 0;
	out->wall_s = pb_wall_s() - t0;
	out->cpu_s = pb_proc_cpu_s(pid);
	out->rss_kib = pb_hwm_kib(pid);
	return 1;
}

int
pb_tocsind_start(const char *prog, const char *cfg, int bound_s,
    struct pb_start *out, char *err, size_t errlen)
{
	char buf[8192], last[512] = "";
	size_t have = 0;
	int fds[2], started = 0, waiting = 0;
	double t0, end;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	if (pipe(fds) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	t0 = pb_wall_s();
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 1);
		dup2(fds[1], 2);
		close(fds[0]);
		execl(prog, "tocsind", "-c", cfg, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	end = t0 + bound_s;
	/* its log, line by line, until the start line (then on to EOF, so
	 * that it never blocks on a full pipe while it stops) */
	for (;;) {
		struct pollfd pf = { fds[0], POLLIN, 0 };
		double left = end - pb_wall_s();
		ssize_t n;
		char *nl;

		if (left <= 0) {
			if (!started)
				snprintf(err, errlen, "no start line in %d s; "
				    "last: %s", bound_s, last);
			break;
		}
		/* once started, /readyz is asked every millisecond, and the
		 * log read on meanwhile (a full pipe would stop the daemon) */
		if (waiting) {
			int st = pb_readyz(out->port);

			if (st == 200 || pb_wall_s() >= end) {
				out->ready_s = st == 200 ? pb_wall_s() - t0 : -1;
				waiting = 0;
				kill(pid, SIGTERM);
				end = pb_wall_s() + PB_STOP_S;
				continue;
			}
		}
		if (poll(&pf, 1, waiting ? 1 : (int)(left * 1000) + 1) <= 0)
			continue;
		if ((n = read(fds[0], buf + have, sizeof(buf) - 1 - have)) <= 0) {
			if (!started)
				snprintf(err, errlen, "it ended before its start "
				    "line; last: %s", last);
			break;
		}
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = strchr(buf, '\n')) != NULL) {
			*nl = '\0';
			snprintf(last, sizeof(last), "%.*s",
			    (int)sizeof(last) - 1, buf);
			if (!started && pb_line(buf, pid, t0, out)) {
				started = 1;
				out->ready_s = -1;
				if (out->port > 0) {
					waiting = 1;
					end = pb_wall_s() + PB_READY_S;
				} else {
					kill(pid, SIGTERM);
					end = pb_wall_s() + PB_STOP_S;
				}
			}
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have + 1);
		}
		if (have == sizeof(buf) - 1)
			have = 0;	/* a line longer than buf: dropped */
	}
	close(fds[0]);
	pb_proc_stop(pid, PB_STOP_S);
	return started ? 0 : -1;
}
