/*
 * test_ctlopt.c - daemon/ctlopt: tocsinctl's command lines (every
 * command, options before and after it, --opt=value, the usage errors:
 * unknown, misplaced, missing, extra, out of range) and where the server,
 * the token file and the actor come from (flag over environment over
 * config file over default; the file's errors with FILE:LINE).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/ctlopt.h"
#include "tests/support/tenv.h"

/* Parses a command line given as one string of words. */
static int
parse(const char *line, struct ctlopt *o, char *err, size_t errlen)
{
	/* o points into the words: they live until 32 calls later */
	static char copies[32][512];
	static unsigned next;
	char *copy = copies[next++ % 32], *argv[32], *tok, *save = NULL;
	int argc = 0, rc;

	snprintf(copy, sizeof(copies[0]), "%s", line);

	argv[argc++] = "tocsinctl";
	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ",
	    &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	err[0] = '\0';
	rc = ctlopt_parse(argc, argv, o, err, errlen);
	return rc;
}

Test(ctlopt, commands)
{
	struct ctlopt o;
	char err[256];

	cr_assert_eq(parse("status", &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(o.cmd, CTL_STATUS);
	cr_assert_eq(o.timeout_ms, 10000);
	cr_assert_eq(parse("-s http://h:1 incidents --state open,acknowledged "
	    "--site=T1 --planned --limit 5 --json", &o, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(o.cmd, CTL_INCIDENTS);
	cr_assert_str_eq(o.server, "http://h:1");
	cr_assert_str_eq(o.state, "open,acknowledged");
	cr_assert_str_eq(o.site, "T1");
	cr_assert_eq(o.planned, 1);
	cr_assert_eq(o.limit, 5);
	cr_assert_eq(o.json, 1);
	cr_assert_eq(parse("site T1", &o, err, sizeof(err)), 0);
	cr_assert_eq(o.cmd, CTL_SITE);
	cr_assert_str_eq(o.arg[0], "T1");
	cr_assert_eq(parse("show INC-0-1", &o, err, sizeof(err)), 0);
	cr_assert_str_eq(o.arg[0], "INC-0-1");
	cr_assert_eq(parse("on-site X --actor bob -tTOK", &o, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(o.cmd, CTL_ON_SITE);
	cr_assert_str_eq(ctlopt_action(o.cmd), "on_site");
	cr_assert_str_eq(o.actor, "bob");
	cr_assert_str_eq(o.token_file, "TOK");
	cr_assert_eq(parse("close X --satisfaction 4", &o, err, sizeof(err)),
	    0);
	cr_assert_eq(o.satisfaction, 4);
	cr_assert_eq(parse("note X generator on its way", &o, err,
	    sizeof(err)), 0);
	cr_assert_str_eq(o.arg[1], "generator on its way");
	ctlopt_fini(&o);
	cr_assert_eq(parse("pause X -- --waiting for the key", &o, err,
	    sizeof(err)), 0);
	cr_assert_str_eq(o.arg[1], "--waiting for the key");
	ctlopt_fini(&o);
	cr_assert_eq(parse("complaint --customer c1 --site T1 calls drop at "
	    "night --severity minor", &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(o.cmd, CTL_COMPLAINT);
	cr_assert_str_eq(o.arg[0], "calls drop at night");
	cr_assert_str_eq(o.severity, "minor");
	ctlopt_fini(&o);
	cr_assert_eq(parse("maintenance add --area north --start now --end +2h "
	    "--reason mains", &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(o.cmd, CTL_MAINT_ADD);
	cr_assert_str_eq(o.area, "north");
	cr_assert_eq(parse("maintenance list", &o, err, sizeof(err)), 0);
	cr_assert_eq(o.cmd, CTL_MAINT_LIST);
	cr_assert_eq(parse("maintenance delete 3", &o, err, sizeof(err)), 0);
	cr_assert_str_eq(o.arg[0], "3");
	cr_assert_eq(parse("command T1-dg dg_start --incident INC-0-1", &o,
	    err, sizeof(err)), 0);
	cr_assert_str_eq(o.arg[1], "dg_start");
	cr_assert_str_eq(o.incident, "INC-0-1");
	cr_assert_eq(parse("watch --plain --once --timeout 3", &o, err,
	    sizeof(err)), 0);
	cr_assert_eq(o.plain + o.once, 2);
	cr_assert_eq(o.timeout_ms, 3000);
	cr_assert_eq(parse("incidents --help", &o, err, sizeof(err)), 0);
	cr_assert_eq(o.cmd, CTL_HELP);
	cr_assert_eq(parse("-V", &o, err, sizeof(err)), 0);
	cr_assert_eq(o.cmd, CTL_VERSION);
}

Test(ctlopt, usage_errors)
{
	static const struct {
		const char *line, *err;
	} t[] = {
		{ "", "no command (tocsinctl --help lists them)" },
		{ "frobnicate", "unknown command \"frobnicate\"" },
		{ "status --bogus", "unknown option --bogus" },
		{ "status -x", "unknown option -x" },
		{ "show", "usage: tocsinctl show ID" },
		{ "show A B", "usage: tocsinctl show ID" },
		{ "note A", "usage: tocsinctl note ID TEXT" },
		{ "complaint --customer c --site T1",
		    "usage: tocsinctl complaint --customer C --site X TEXT" },
		{ "complaint --site T1 no customer",
		    "usage: tocsinctl complaint --customer C --site X" },
		{ "command dev", "usage: tocsinctl command DEVICE NAME" },
		{ "maintenance", "maintenance needs add, list or delete" },
		{ "maintenance purge", "unknown command \"maintenance purge\"" },
		{ "maintenance add --site T1 --area a --start now --end now "
		    "--reason r", "usage: tocsinctl maintenance add" },
		{ "maintenance add --site T1 --start now --reason r",
		    "usage: tocsinctl maintenance add" },
		{ "ack X --satisfaction 3",
		    "--satisfaction does not apply to ack" },
		{ "incidents --state", "--state needs a value" },
		{ "watch --json", "--json does not apply to watch" },
		{ "close X --satisfaction 6",
		    "--satisfaction: \"6\" is not a number from 1 to 5" },
		{ "incidents --limit 0",
		    "--limit: \"0\" is not a number from 1 to 1000000" },
		{ "incidents --limit", "--limit needs a value" },
		{ "incidents --planned=yes", "--planned takes no value" },
	};
	struct ctlopt o;
	char err[256];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cr_expect_eq(parse(t[i].line, &o, err, sizeof(err)), -EINVAL,
		    "%s", t[i].line);
		cr_expect(strncmp(err, t[i].err, strlen(t[i].err)) == 0,
		    "%s: %s", t[i].line, err);
		ctlopt_fini(&o);
	}
}

Test(ctlopt, precedence)
{
	char dir[] = "/tmp/tocsin-ctlopt-XXXXXX", path[128], err[512];
	struct ctlopt_env env;
	struct ctlopt o;

	cr_assert_not_null(mkdtemp(dir));
	tenv_write_file(dir, "ctl.conf", "# mine\nserver = http://file:3\n"
	    "token_file = /f/token\nactor = Ann Operator\n");
	snprintf(path, sizeof(path), "%s/ctl.conf", dir);
	memset(&env, 0, sizeof(env));
	/* nothing set anywhere: the default */
	env.home = "/nonexistent";
	cr_assert_eq(parse("status", &o, err, sizeof(err)), 0);
	cr_assert_eq(ctlopt_resolve(&o, &env, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(o.server, CTLOPT_DEFAULT_SERVER);
	cr_assert_null(o.token_file);
	cr_assert_null(o.actor);
	/* the file */
	env.config = path;
	env.user = "ann";
	cr_assert_eq(parse("status", &o, err, sizeof(err)), 0);
	cr_assert_eq(ctlopt_resolve(&o, &env, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(o.server, "http://file:3");
	cr_assert_str_eq(o.token_file, "/f/token");
	cr_assert_str_eq(o.actor, "Ann Operator", "the file's over $USER");
	cr_assert_str_eq(o.f_where, path);
	/* the environment over the file */
	env.server = "http://env:2";
	env.token_file = "/e/token";
	cr_assert_eq(parse("status", &o, err, sizeof(err)), 0);
	cr_assert_eq(ctlopt_resolve(&o, &env, err, sizeof(err)), 0);
	cr_assert_str_eq(o.server, "http://env:2");
	cr_assert_str_eq(o.token_file, "/e/token");
	cr_assert_str_eq(o.f_where, "TOCSIN_SERVER");
	/* the flags over both */
	cr_assert_eq(parse("-s http://flag:1 -t /t/token ack X --actor bo",
	    &o, err, sizeof(err)), 0);
	cr_assert_eq(ctlopt_resolve(&o, &env, err, sizeof(err)), 0);
	cr_assert_str_eq(o.server, "http://flag:1");
	cr_assert_str_eq(o.token_file, "/t/token");
	cr_assert_str_eq(o.actor, "bo");
	/* the default file under $HOME, then XDG_CONFIG_HOME */
	memset(&env, 0, sizeof(env));
	unlink(path);
	snprintf(path, sizeof(path), "mkdir -p %s/h/.config/tocsin %s/x/tocsin",
	    dir, dir);
	cr_assert_eq(system(path), 0);
	snprintf(path, sizeof(path), "%s/h/.config/tocsin", dir);
	tenv_write_file(path, "ctl.conf", "server = http://home:4\n");
	snprintf(path, sizeof(path), "%s/x/tocsin", dir);
	tenv_write_file(path, "ctl.conf", "server = http://xdg:5\n");
	snprintf(path, sizeof(path), "%s/h", dir);
	env.home = path;
	cr_assert_eq(parse("status", &o, err, sizeof(err)), 0);
	cr_assert_eq(ctlopt_resolve(&o, &env, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(o.server, "http://home:4");
	{
		char x[128];

		snprintf(x, sizeof(x), "%s/x", dir);
		env.xdg_config_home = x;
		cr_assert_eq(parse("status", &o, err, sizeof(err)), 0);
		cr_assert_eq(ctlopt_resolve(&o, &env, err, sizeof(err)), 0);
		cr_assert_str_eq(o.server, "http://xdg:5");
	}
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	cr_assert_eq(system(path), 0);
}

Test(ctlopt, config_errors)
{
	char dir[] = "/tmp/tocsin-ctlopt-XXXXXX", path[128], err[512];
	struct ctlopt_env env;
	struct ctlopt o;

	cr_assert_not_null(mkdtemp(dir));
	memset(&env, 0, sizeof(env));
	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	env.config = path;
	cr_assert_eq(parse("status", &o, err, sizeof(err)), 0);
	cr_assert_eq(ctlopt_resolve(&o, &env, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "missing.conf: No such file") != NULL, "%s",
	    err);
	tenv_write_file(dir, "bad.conf", "server = http://h:1\n\ncolour = red\n");
	snprintf(path, sizeof(path), "%s/bad.conf", dir);
	cr_assert_eq(ctlopt_resolve(&o, &env, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "bad.conf:3: unknown key \"colour\"") != NULL,
	    "%s", err);
	/* --config wins over $TOCSIN_CTL_CONFIG */
	tenv_write_file(dir, "good.conf", "server = http://good:9\n");
	cr_assert_eq(parse("status --config /nonexistent/x", &o, err,
	    sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/good.conf", dir);
	cr_assert_eq(ctlopt_resolve(&o, &env, err, sizeof(err)), -EINVAL);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	cr_assert_eq(system(path), 0);
}
