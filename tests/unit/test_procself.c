/*
 * test_procself.c - the process_* numbers are this process's own: open
 * descriptors move by exactly the ones the test opens and closes, the
 * limit is getrlimit's soft limit, resident memory grows by a buffer the
 * test touches, and CPU time grows while the test spins.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "daemon/procself.h"

Test(procself, descriptors_are_counted_and_limited)
{
	struct procself a, b;
	struct rlimit rl;
	int fd[3];

	cr_assert_eq(procself_read(&a), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_geq(fd[i] = open("/dev/null", O_RDONLY), 0);
	cr_assert_eq(procself_read(&b), 0);
	cr_expect_eq(b.open_fds, a.open_fds + 3, "%llu then %llu",
	    (unsigned long long)a.open_fds, (unsigned long long)b.open_fds);
	for (int i = 0; i < 3; i++)
		close(fd[i]);
	cr_assert_eq(procself_read(&b), 0);
	cr_expect_eq(b.open_fds, a.open_fds);
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	cr_expect_eq(b.max_fds, (uint64_t)rl.rlim_cur);
	cr_expect_geq(b.open_fds, 3);	/* stdin, stdout, stderr at least */
}

Test(procself, memory_and_cpu_are_this_process)
{
	struct procself a, b;
	size_t len = 32u << 20;
	struct timespec t0, t;
	volatile unsigned long spin = 0;
	char *p;

	cr_assert_eq(procself_read(&a), 0);
	cr_expect_gt(a.rss_bytes, 0);
	cr_expect_geq(a.vsize_bytes, a.rss_bytes);
	p = malloc(len);
	cr_assert_not_null(p);
	memset(p, 1, len);		/* resident now */
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	do {				/* 300 ms of CPU: 30 ticks at 100 Hz */
		spin++;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) /
	    1000000 < 300);
	cr_assert_eq(procself_read(&b), 0);
	cr_expect_geq(b.rss_bytes, a.rss_bytes + len / 2, "%llu then %llu",
	    (unsigned long long)a.rss_bytes, (unsigned long long)b.rss_bytes);
	cr_expect_geq(b.cpu_seconds - a.cpu_seconds, 0.2, "%.3f then %.3f",
	    a.cpu_seconds, b.cpu_seconds);
	p[len - 1] = (char)spin;
	free(p);
}
