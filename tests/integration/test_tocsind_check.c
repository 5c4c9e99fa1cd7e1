/*
 * test_tocsind_check.c - `tocsind -n` as an operator runs it: every shipped
 * configuration under etc/ is OK, and every broken one under
 * tests/configs/bad/ prints the FILE:LINE:COLUMN line its first comment
 * expects ("# expect: ...") and exits 1.
 */
#include <criterion/criterion.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/proc.h"

static void
run_check(const char *file, struct proc_result *r)
{
	char tocsind[512];
	char *argv[] = { tocsind, "-n", "-c", (char *)file, NULL };

	snprintf(tocsind, sizeof(tocsind), "%s", proc_build_path("tocsind"));
	cr_assert_eq(proc_run(argv, 30000, r), 0, "cannot run %s", tocsind);
}

Test(tocsind_check, shipped_configs_are_ok)
{
	glob_t g;
	size_t n = 0;

	cr_assert_eq(glob("etc/*.yaml", 0, NULL, &g), 0, "no etc/*.yaml");
	for (size_t i = 0; i < g.gl_pathc; i++, n++) {
		struct proc_result r;

		run_check(g.gl_pathv[i], &r);
		cr_expect_eq(r.status, 0, "%s: exit %d\n%s", g.gl_pathv[i],
		    r.status, r.err);
		cr_expect(strncmp(r.out, "configuration OK: ", 18) == 0,
		    "%s: %s", g.gl_pathv[i], r.out);
		proc_result_free(&r);
	}
	globfree(&g);
	cr_assert_geq(n, 1);
}

Test(tocsind_check, broken_configs_name_file_line_column)
{
	glob_t g;

	cr_assert_eq(glob("tests/configs/bad/*.yaml", 0, NULL, &g), 0);
	cr_assert_geq(g.gl_pathc, 10);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *path = g.gl_pathv[i], *slash = strrchr(path, '/');
		char line[1024], want[1200];
		struct proc_result r;
		FILE *f = fopen(path, "r");

		cr_assert_not_null(f);
		cr_assert_not_null(fgets(line, sizeof(line), f));
		fclose(f);
		cr_assert(strncmp(line, "# expect: ", 10) == 0, "%s: no expect line",
		    path);
		line[strcspn(line, "\n")] = '\0';
		/* the expected line names the file relative to its directory */
		snprintf(want, sizeof(want), "%.*s%s", (int)(slash - path + 1),
		    path, line + 10);
		run_check(path, &r);
		cr_expect_eq(r.status, 1, "%s: exit %d", path, r.status);
		cr_expect(strstr(r.err, want) != NULL, "%s:\nwant: %s\ngot:  %s",
		    path, want, r.err);
		cr_expect_null(strstr(r.out, "configuration OK"), "%s", path);
		proc_result_free(&r);
	}
	globfree(&g);
}

Test(tocsind_check, usage_and_version)
{
	char tocsind[512];
	char *v[] = { tocsind, "--version", NULL };
	char *bad[] = { tocsind, "--bogus", NULL };
	char *none[] = { tocsind, "-n", NULL };
	struct proc_result r;

	snprintf(tocsind, sizeof(tocsind), "%s", proc_build_path("tocsind"));
	cr_assert_eq(proc_run(v, 10000, &r), 0);
	cr_expect_eq(r.status, 0);
	cr_expect(strncmp(r.out, "tocsind ", 8) == 0, "%s", r.out);
	proc_result_free(&r);
	cr_assert_eq(proc_run(bad, 10000, &r), 0);
	cr_expect_eq(r.status, 2);
	cr_expect(strstr(r.err, "usage:") != NULL, "%s", r.err);
	proc_result_free(&r);
	/* no -c: the default path, which this machine does not have */
	cr_assert_eq(proc_run(none, 10000, &r), 0);
	cr_expect_eq(r.status, 1);
	cr_expect(strstr(r.err, "/etc/tocsin/tocsin.yaml: cannot read") != NULL,
	    "%s", r.err);
	proc_result_free(&r);
}

/* etc/genfleet.py (the benchmarks' big fleet) must stay a valid config. */
Test(tocsind_check, generated_fleet_is_ok)
{
	char dir[] = "/tmp/tocsin-genfleet-XXXXXX", yaml[128], tocsind[512];
	char *gen[] = { "python3", "etc/genfleet.py", dir, "--sites", "60", NULL };
	char *chk[] = { tocsind, "-n", "-c", yaml, NULL };
	char *rm[] = { "rm", "-rf", dir, NULL };
	struct proc_result r;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(yaml, sizeof(yaml), "%s/fleet.yaml", dir);
	snprintf(tocsind, sizeof(tocsind), "%s", proc_build_path("tocsind"));
	cr_assert_eq(proc_run(gen, 30000, &r), 0);
	cr_expect_eq(r.status, 0, "%s", r.err);
	proc_result_free(&r);
	cr_assert_eq(proc_run(chk, 30000, &r), 0);
	cr_expect_eq(r.status, 0, "%s", r.err);
	cr_expect(strstr(r.out, "configuration OK: 60 sites, 60 areas, 600 devices")
	    != NULL, "%s", r.out);
	proc_result_free(&r);
	cr_assert_eq(proc_run(rm, 10000, &r), 0);
	proc_result_free(&r);
}
