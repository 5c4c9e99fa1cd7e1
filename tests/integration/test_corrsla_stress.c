/*
 * test_corrsla_stress.c - runs the stress_corrsla program (SLA clocks on
 * sharded engines) and reads its verdict.  With TOCSIN_BUILD=build/thread
 * (after `make SANITIZER=thread`) the program is the ThreadSanitizer build
 * and a race report fails the run.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tests/support/proc.h"

Test(corrsla_stress, sharded_clocks_match_per_shard_engines)
{
	char path[512];
	char *argv[] = { path, NULL };
	struct proc_result r;

	snprintf(path, sizeof(path), "%s",
	    proc_build_path("stress/stress_corrsla"));
	cr_assert_eq(proc_run(argv, 120000, &r), 0, "cannot run %s", path);
	cr_expect_eq(r.status, 0, "%s: exit %d\n%s%s", path, r.status, r.out,
	    r.err);
	cr_expect(strstr(r.out, "stress_corrsla: same ") != NULL, "%s", r.out);
	cr_expect_null(strstr(r.err, "WARNING: ThreadSanitizer"), "%s", r.err);
	proc_result_free(&r);
}
