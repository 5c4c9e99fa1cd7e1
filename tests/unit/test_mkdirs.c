/*
 * test_mkdirs.c - daemon/mkdirs: a directory and every missing parent;
 * one already there is no error; a file in the way and an empty path are.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "daemon/mkdirs.h"
#include "tests/support/tenv.h"

Test(mkdirs, parents_made_and_again_no_error)
{
	char dir[64], path[160], cmd[96];
	struct stat st;

	snprintf(dir, sizeof(dir), "/tmp/tocsin-mkdirs-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	cr_assert_eq(mkdirs(path), 0);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(mkdirs(path), 0, "a directory already there");
	snprintf(path, sizeof(path), "%s/a/b/c/", dir);
	cr_assert_eq(mkdirs(path), 0, "a trailing slash");
	tenv_write_file(dir, "f", "x");
	snprintf(path, sizeof(path), "%s/f/g", dir);
	cr_assert_eq(mkdirs(path), -ENOTDIR);
	cr_assert_eq(mkdirs(""), -ENAMETOOLONG);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}
