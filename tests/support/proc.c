/*
 * proc.c - see proc.h.  One poll(2) loop drains both pipes so a chatty child
 * cannot block on a full pipe; the deadline bounds every test that uses it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/proc.h"

static double
proc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
proc_append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
	/* doubling: a realloc per read of a long output is quadratic where
	 * realloc always copies (AddressSanitizer's allocator) */
	if (*len + n + 1 > *cap) {
		while (*len + n + 1 > *cap)
			*cap = *cap ? *cap * 2 : 65536;
		*buf = realloc(*buf, *cap);
		if (*buf == NULL)
			abort();
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
}

int
proc_run(char *const argv[], int timeout_ms, struct proc_result *r)
{
	int po[2], pe[2], st = 0, open_fds = 2;
	size_t lo = 0, le = 0, co = 0, ce = 0;
	double start = proc_now(), deadline = start + timeout_ms / 1000.0;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	r->out = calloc(1, 1);
	r->err = calloc(1, 1);
	if (pipe(po) != 0 || pipe(pe) != 0)
		return -errno;
	if ((pid = fork()) < 0)
		return -errno;
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		dup2(nul, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		/* only fds 1 and 2 hold the pipes: a daemon the child
		 * leaves behind must not keep them open (the read never
		 * ends) */
		close(po[1]);
		close(pe[1]);
		if (nul > 2)
			close(nul);
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	while (open_fds > 0) {
		struct pollfd pf[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
		int left = (int)((deadline - proc_now()) * 1000);
		char buf[8192];

		if (left <= 0)
			break;
		if (pf[0].fd < 0 && pf[1].fd < 0)
			break;
		if (poll(pf, 2, left) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (pf[i].fd < 0 || pf[i].revents == 0)
				continue;
			n = read(pf[i].fd, buf, sizeof(buf));
			if (n > 0) {
				if (i == 0)
					proc_append(&r->out, &lo, &co, buf,
					    (size_t)n);
				else
					proc_append(&r->err, &le, &ce, buf,
					    (size_t)n);
			} else {
				close(i == 0 ? po[0] : pe[0]);
				if (i == 0)
					po[0] = -1;
				else
					pe[0] = -1;
				open_fds--;
			}
		}
	}
	if (open_fds > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		r->status = -1;
	} else {
		/* pipes closed; the child is exiting: wait, still bounded */
		while (waitpid(pid, &st, WNOHANG) == 0) {
			if (proc_now() > deadline) {
				kill(pid, SIGKILL);
				waitpid(pid, &st, 0);
				r->status = -1;
				goto done;
			}
			usleep(1000);
		}
		r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
done:
	if (po[0] >= 0)
		close(po[0]);
	if (pe[0] >= 0)
		close(pe[0]);
	r->seconds = proc_now() - start;
	return 0;
}

void
proc_result_free(struct proc_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

const char *
proc_build_path(const char *name)
{
	static char path[512];
	const char *b = getenv("TOCSIN_BUILD");

	snprintf(path, sizeof(path), "%s/%s", b && *b ? b : "build/default", name);
	return path;
}

int
proc_tocsind(const char *cfg, const char *seconds, int timeout_ms,
    struct proc_result *r)
{
	char prog[512];
	const char *argv[] = { prog, "-c", cfg, "-d", seconds, NULL };

	snprintf(prog, sizeof(prog), "%s", proc_build_path("tocsind"));
	return proc_run((char *const *)argv, timeout_ms, r);
}
