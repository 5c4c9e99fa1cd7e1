/*
 * test_mem.c - the allocator as tocsind ships it: jemalloc with its
 * background purge on (daemon/mem.c), so memory a burst freed leaves the
 * allocator's resident pages within its decay time even when nothing
 * allocates again; the statistics the /metrics gauges read.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/mem.h"

#define MiB	(1024 * 1024)

Test(mem, freed_pages_leave_without_another_allocation, .timeout = 60)
{
#ifdef TOCSIN_JEMALLOC
	enum { N = 4096, SZ = 16 * 1024 };	/* 64 MiB of engine-sized tables */
	static void *p[N];
	size_t base, full, now = 0;
	struct timespec t0, t1;
	double waited;

	cr_assert(strstr(mem_allocator(), "background purge") != NULL, "%s",
	    mem_allocator());
	base = mem_resident();
	cr_assert_gt(base, 0);
	for (int i = 0; i < N; i++) {
		p[i] = xmalloc(SZ);
		memset(p[i], 0xa5, SZ);
	}
	full = mem_resident();
	cr_assert_geq(full, base + 60 * MiB, "resident %zu -> %zu", base, full);
	cr_assert_geq(mem_allocated(), (size_t)N * SZ);
	for (int i = 0; i < N; i++)
		xfree(p[i]);
	/* nothing allocates from here: only the background thread purges
	 * (dirty_decay_ms 10 s: most is gone well before 30 s) */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		usleep(250000);
		now = mem_resident();
		clock_gettime(CLOCK_MONOTONIC, &t1);
		waited = (double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	} while (now > base + 8 * MiB && waited < 30);
	cr_assert_leq(now, base + 8 * MiB, "resident %zu MiB 30 s after "
	    "freeing 64 MiB (base %zu MiB)", now / MiB, base / MiB);
	cr_log_info("64 MiB freed: resident back within 8 MiB of its base in "
	    "%.1f s", waited);
#else
	cr_skip_test("a build without jemalloc (sanitizers): libc malloc");
#endif
}
