/*
 * lsanhook.c - where LeakSanitizer looks in `make SANITIZER=address`.
 *
 * Criterion's runner (the parent process, libcriterion.so.3 2.4) leaks a
 * 48-byte calloc of its own for some long tests (tocsind_faults shows one
 * in five; a whole run about seven), and LeakSanitizer at the runner's
 * exit turns that into a failed run although every test passed.  The
 * Makefile therefore starts the runner with LSAN_OPTIONS=detect_leaks=0
 * (TOCSIN_LSAN_RUNNER=off marks it), and this hook, which runs in the
 * runner before any test process is spawned, turns leak detection back on
 * for everything started after it: each test's process (Criterion execs
 * it) and every program a test runs (tocsind, devsim, tocsinctl...), whose
 * leak reports are what the sanitizer run is for.  Nothing of tocsin runs
 * in the runner itself.
 */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <stdlib.h>
#include <string.h>

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
	const char *off = getenv("TOCSIN_LSAN_RUNNER");

	(void)set;
	if (off != NULL && strcmp(off, "off") == 0)
		setenv("LSAN_OPTIONS", "detect_leaks=1", 1);
}
