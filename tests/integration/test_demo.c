/*
 * test_demo.c - `make demo`'s script as a new user sees it: it checks the
 * demo configuration, starts the simulator, runs `tocsind -c` live, and
 * within a short run shows the scripted faults as incidents (the door at a
 * Suzhou site, the mains failure at SH-001 with its premium customer), then
 * stops everything it started.  It runs on its own loopback block
 * (127.X.0.N, X in 20-49, a free port: DEMO_CONFIG, the shipped file with
 * only hosts and port moved) so that other tests running the demo fleet at
 * the same time never answer its polls.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/proc.h"
#include "tests/support/tenv.h"

Test(demo, short_run_shows_incidents)
{
	char build[512];
	const char *b = getenv("TOCSIN_BUILD");
	char *argv[] = { "sh", "etc/demo.sh", build, NULL };
	struct proc_result r;
	char dir[] = "/tmp/tocsin-demo-test-XXXXXX", cfg[64], addr[32];
	unsigned x = 20 + tenv_seed(7) % 30;
	int port;
	char *yaml;

	snprintf(build, sizeof(build), "%s", b && *b ? b : "build/default");
	/* MAINS_FAIL needs 5 s + its 5 s debounce + a 5 s poll: 30 s leaves
	 * room for a loaded machine or a sanitizer build */
	setenv("DEMO_SECONDS", "30", 1);
	snprintf(addr, sizeof(addr), "127.%u.0.1", x);
	port = tenv_free_port(addr);
	cr_assert_gt(port, 0, "no free port on %s", addr);
	yaml = tenv_demo_yaml(x, port, 0);
	cr_assert_not_null(yaml, "etc/demo.yaml not found or not port 1502");
	cr_assert_not_null(mkdtemp(dir));
	tenv_write_file(dir, "demo.yaml", yaml);
	free(yaml);
	snprintf(cfg, sizeof(cfg), "%s/demo.yaml", dir);
	setenv("DEMO_CONFIG", cfg, 1);
	cr_assert_eq(proc_run(argv, 60000, &r), 0);
	cr_expect_eq(r.status, 0, "exit %d\n%s\n%s", r.status, r.out, r.err);
	cr_expect(strstr(r.out, "configuration OK: 12 sites") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, "devsim") != NULL);
	cr_expect(strstr(r.out, "DOOR_OPEN on SZ-002-fsu") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, "MAINS_FAIL on SH-001-rect") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, "customers: china-mobile (premium); site tier premium")
	    != NULL, "%s", r.out);
	/* tocsind -c ran live and stopped on its -d, nothing lost */
	cr_expect(strstr(r.out, "== tocsind: stop reason=duration") != NULL,
	    "%s", r.out);
	cr_expect(strstr(r.out, " alarms_pending=0 ") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, " write_errors=0 ") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, " alarms_queued=") != NULL, "%s", r.out);
	proc_result_free(&r);
	unlink(cfg);
	rmdir(dir);
}
