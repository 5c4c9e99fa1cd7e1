/*
 * proc.h - run a program for an integration test, bounded in time, and
 * capture what a user would read: its exit status, stdout and stderr.
 */
#ifndef TOCSIN_TEST_PROC_H
#define TOCSIN_TEST_PROC_H

#include <stddef.h>

struct proc_result {
	int	 status;	/* exit code; 128+N for signal N; -1 on timeout */
	char	*out;		/* NUL-terminated, malloc'd */
	char	*err;
	double	 seconds;	/* wall time */
};

/*
 * Runs argv (argv[0] found on PATH or given as a path) with stdin from
 * /dev/null; kills it with SIGKILL after timeout_ms.  Returns 0, or -errno
 * if it could not be started.  Free the result with proc_result_free().
 */
int	proc_run(char *const argv[], int timeout_ms, struct proc_result *r);
void	proc_result_free(struct proc_result *r);
/* "$TOCSIN_BUILD/name", default build/default/name, in a static buffer. */
const char *proc_build_path(const char *name);
/*
 * The build's tocsind on config cfg for `-d seconds`, as proc_run (the
 * run a user starts by hand: tocsind -c CFG -d SECONDS).
 */
int	proc_tocsind(const char *cfg, const char *seconds, int timeout_ms,
	    struct proc_result *r);

#endif
