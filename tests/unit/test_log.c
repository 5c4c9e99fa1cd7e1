/*
 * test_log.c - log lines are one line, carry the level, and log_warn appends
 * the errno text while log_warnx does not.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon/log.h"

static char *
capture(void (*fn)(void))
{
	static char buf[4096];
	int p[2];
	ssize_t n;

	cr_assert_eq(pipe(p), 0);
	log_init(p[1], LOG_LVL_DEBUG);
	fn();
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	log_init(2, LOG_LVL_INFO);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

static void do_warn(void) { errno = ENOENT; log_warn("open file=%s", "x.yaml"); }
static void do_warnx(void) { errno = ENOENT; log_warnx("bad key=%s", "k"); }

Test(log, warn_appends_errno)
{
	char *s = capture(do_warn);
	cr_assert(strstr(s, "level=warn open file=x.yaml err=\"No such file or directory\"\n"), "%s", s);
	cr_assert_eq(strchr(s, '\n'), s + strlen(s) - 1);
}

Test(log, warnx_has_no_errno)
{
	char *s = capture(do_warnx);
	cr_assert(strstr(s, "level=warn bad key=k\n"), "%s", s);
	cr_assert_null(strstr(s, "err="));
}

Test(log, level_parse)
{
	enum log_level l;
	cr_assert_eq(log_level_parse("debug", &l), 0);
	cr_assert_eq(l, LOG_LVL_DEBUG);
	cr_assert_eq(log_level_parse("loud", &l), -EINVAL);
}
