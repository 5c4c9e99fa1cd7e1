/*
 * test_soakcheck.c - the soak's independent checker (tests/soak/check.py)
 * judged by its own tests (tests/soak/test_check.py): a clean synthetic run
 * passes, and each broken one (a missing seq, a seq applied twice, a fault
 * with no incident, an incident with no fault, a Redis ghost, a deadline
 * moved across a restart, growing RSS, ...) fails the check it should.  A
 * checker that cannot fail proves nothing, so `make test` runs this even
 * though the soak itself (`make soak`) is too long for it.
 *
 * Runs python3 (standard library only; -B: no __pycache__ in the tree) from
 * the repository's root, as `make test` does; bounded at 120 s.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tests/support/proc.h"

Test(soakcheck, checker_passes_clean_and_fails_each_broken_run,
    .timeout = 150)
{
	char *argv[] = { "python3", "-B", "-m", "unittest",
	    "tests/soak/test_check.py", NULL };
	struct proc_result r;

	cr_assert_eq(proc_run(argv, 120000, &r), 0, "cannot run python3");
	cr_expect_eq(r.status, 0, "python3 -m unittest tests/soak/"
	    "test_check.py: %s %d\n%s%s", r.status == -1 ?
	    "timed out after 120 s, status" : "exit", r.status, r.out, r.err);
	/* unittest's summary: "Ran N tests in S" then "OK" on its own line */
	cr_expect(strstr(r.err, "\nOK\n") != NULL ||
	    strncmp(r.err, "OK\n", 3) == 0, "no OK line:\n%s", r.err);
	cr_expect(strstr(r.err, "Ran ") != NULL, "%s", r.err);
	proc_result_free(&r);
}
