/*
 * test_stress.c - runs every stress program of the build under test
 * ($TOCSIN_BUILD/stress/, default build/default/stress/) as a user would:
 * each must exit 0 within its bound, and its stderr must carry no sanitizer
 * report.  Under `make SANITIZER=thread` the Makefile points TOCSIN_BUILD
 * at build/thread, so this is how ThreadSanitizer checks the threaded code
 * (Criterion itself cannot start under TSan).  No stress program built is
 * a failure, not a vacuous pass.  A program whose source is gone from
 * tests/stress/ (left in a build directory by a rename) is skipped with a
 * warning: it would test code that no longer exists.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/support/proc.h"

#define STRESS_TIMEOUT_MS	180000	/* TSan runs several times slower */

static const char *const reports[] = {
	"ThreadSanitizer", "AddressSanitizer", "LeakSanitizer",
	"runtime error", NULL,
};

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

Test(stress, every_stress_program_passes)
{
	char dir[512], *names[64];
	size_t n = 0;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s", proc_build_path("stress"));
	d = opendir(dir);
	cr_assert_not_null(d, "no stress programs built in %s (make all)",
	    dir);
	while ((de = readdir(d)) != NULL && n < 64) {
		char path[1024];
		struct stat sb;

		if (strncmp(de->d_name, "stress_", 7) != 0)
			continue;
		snprintf(path, sizeof(path), "tests/stress/%s.c", de->d_name);
		if (stat(path, &sb) != 0) {
			cr_log_info("%s/%s: no %s, a stale build; skipped", dir,
			    de->d_name, path);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    (sb.st_mode & S_IXUSR))
			names[n++] = strdup(path);
	}
	closedir(d);
	cr_assert_gt(n, 0, "no stress_* program in %s", dir);
	qsort(names, n, sizeof(names[0]), by_name);
	for (size_t i = 0; i < n; i++) {
		char *argv[] = { names[i], NULL };
		struct proc_result r;

		cr_assert_eq(proc_run(argv, STRESS_TIMEOUT_MS, &r), 0,
		    "cannot run %s", names[i]);
		cr_expect_eq(r.status, 0, "%s: exit %d after %.1f s\n%s",
		    names[i], r.status, r.seconds, r.err);
		for (int k = 0; reports[k] != NULL; k++)
			cr_expect(strstr(r.err, reports[k]) == NULL,
			    "%s: %s report:\n%s", names[i], reports[k], r.err);
		proc_result_free(&r);
		free(names[i]);
	}
}
