/*
 * test_demo.c - `make demo`'s script as a new user sees it without a
 * terminal (DEMO_SECONDS): it builds the demo fleet (about 300 sites and
 * 2,900 devices), starts redis-server, the simulator and tocsind with its
 * embedded Kafka, announces planned work with tocsinctl, prints where the
 * HTTP API, the NOC page, Kafka and Redis are, and shows the board
 * (tocsinctl watch --plain) while the scripted faults become incidents:
 * the door at a Suzhou site, the mains failure at SH-001 with its premium
 * customer, the grid outage of the Pudong area as one area incident, the
 * fault at SZ-004 marked planned.  Then it stops tocsind with SIGTERM
 * (nothing pending, nothing lost) and everything else it started.  It
 * runs on its own loopback block (127.X.0-3.N, X in 20-49, a free port:
 * DEMO_CONFIG, the shipped file with only hosts and port moved) so that
 * other tests running the demo fleet at the same time never answer its
 * polls.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/proc.h"
#include "tests/support/tenv.h"

/* 1 if some line of out holds every one of the words. */
static int
line_with(const char *out, const char *a, const char *b, const char *c)
{
	const char *l = out;

	while (l != NULL && *l != '\0') {
		const char *e = strchr(l, '\n');
		size_t n = e != NULL ? (size_t)(e - l) : strlen(l);
		char buf[1024];

		snprintf(buf, sizeof(buf), "%.*s", (int)n, l);
		if (strstr(buf, a) != NULL && strstr(buf, b) != NULL &&
		    (c == NULL || strstr(buf, c) != NULL))
			return 1;
		l = e != NULL ? e + 1 : NULL;
	}
	return 0;
}

Test(demo, short_run_shows_incidents, .timeout = 240)
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
	/* MAINS_FAIL needs 15 s + its 5 s debounce + a 5 s poll, and the
	 * area outage 3 sites: 40 s leaves room for a loaded machine or a
	 * sanitizer build */
	setenv("DEMO_SECONDS", "40", 1);
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
	cr_assert_eq(proc_run(argv, 200000, &r), 0);
	cr_expect_eq(r.status, 0, "exit %d\n%s\n%s", r.status, r.out, r.err);
	cr_expect(strstr(r.out, "configuration OK: 300 sites, 15 areas, "
	    "2937 devices") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, "devsim") != NULL);
	cr_expect(line_with(r.out, "== planned work: ", "SZ-004", NULL),
	    "%s", r.out);
	cr_expect(strstr(r.out, "   NOC page:      http://127.0.0.1:") != NULL,
	    "%s", r.out);
	/* a ThreadSanitizer tocsind has no Kafka publisher, so no bootstrap */
	if (tenv_kafka())
		cr_expect(strstr(r.out, "   Kafka:         kcat -b 127.0.0.1:") !=
		    NULL, "%s", r.out);
	/* the board, plain */
	cr_expect(line_with(r.out, " SZ-002 ", "DOOR_OPEN", NULL), "%s", r.out);
	cr_expect(line_with(r.out, " SH-001 ", "MAINS_FAIL china-mobile",
	    "premium"), "%s", r.out);
	cr_expect(line_with(r.out, " SZ-004 ", "MAINS_FAIL", "planned"), "%s",
	    r.out);
	cr_expect(line_with(r.out, " shanghai-pudong ", " area ", NULL), "%s",
	    r.out);
	cr_expect(line_with(r.out, " DX-003 ", "COMM_LOSS", NULL), "%s", r.out);
	/* tocsind stopped on SIGTERM, nothing pending or lost */
	cr_expect(strstr(r.out, "== tocsind: stop reason=SIGTERM") != NULL,
	    "%s", r.out);
	cr_expect(strstr(r.out, " alarms_pending=0 ") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, " write_errors=0 ") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, " publish_lag_bytes=0 ") != NULL, "%s", r.out);
	proc_result_free(&r);
	unlink(cfg);
	rmdir(dir);
}
