/*
 * test_soak.c - a 3-minute smoke of the soak harness (suite soak; issue
 * 15, docs/testing.md "Soak"): tests/soak/soak.py with 2,000 devices and
 * seed 1 runs tocsind, devsim, the real Kafka broker (the embedded mock
 * where Java is missing, said so) and redis-server under the same faults
 * and chaos as `make soak`, only fewer and shorter, then the independent
 * checker, tests/soak/check.py, on the run directory; its exit status is
 * the harness's.  The test wants exit 0 and the checker's verdict lines
 * (each check's `check NAME: ok`, and `soak check: PASS`), and the run
 * directory the checker read: faults.jsonl, chaos.jsonl, samples.csv and
 * incidents.jsonl not empty, and run.json.
 *
 * The harness bounds everything it starts and stops it by PID; this test
 * bounds the harness (8 minutes: the broker can take half a minute to
 * start under a loaded make test), on the loopback block 127.255.* and, for
 * the namespaced shard, 198.18-19.* inside the namespace it makes.
 * TOCSIN_KEEP=1 keeps the run directory.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/proc.h"
#include "tests/support/tenv.h"

#define SOAK_BOUND_MS	(8 * 60 * 1000)

/* The size of dir/name, or -1 if it is not there. */
static long
file_size(const char *dir, const char *name)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

Test(soak, three_minutes_of_chaos_pass_the_checker, .timeout = 600)
{
	const char *b = getenv("TOCSIN_BUILD");
	char build[512], dir[] = "/tmp/tocsin-soak-XXXXXX", cmd[640];
	/* the harness stops everything it started by its own --bound, before
	 * this test's bound kills it (which would leave the broker to its
	 * lifetime and the tmpfs mounted) */
	char *argv[] = { "python3", "tests/soak/soak.py", "--duration", "3m",
	    "--devices", "2000", "--seed", "1", "--build", build, "--out", dir,
	    "--bound", "450", NULL };
	static const char *const checks[] = { "check faults: ok",
	    "check seq: ok", "check redis: ok", "check clocks: ok",
	    "check resources: ok" };
	static const char *const files[] = { "faults.jsonl", "chaos.jsonl",
	    "samples.csv", "incidents.jsonl" };
	struct proc_result r;

	if (system("command -v redis-server >/dev/null 2>&1") != 0)
		cr_skip_test("redis-server is not installed (make deps installs "
		    "it): the soak needs a real Redis");
	if (system("command -v python3 >/dev/null 2>&1") != 0)
		cr_skip_test("python3 is not installed (make deps installs it)");
	if (!tenv_kafka())
		cr_skip_test("a ThreadSanitizer tocsind has no Kafka publisher "
		    "(librdkafka's threads are invisible to TSan), and the soak "
		    "reads tocsin.incidents");
	snprintf(build, sizeof(build), "%s", b && *b ? b : "build/default");
	cr_assert_not_null(mkdtemp(dir));

	cr_assert_eq(proc_run(argv, SOAK_BOUND_MS, &r), 0);
	cr_assert_eq(r.status, 0, "soak exit %d after %.0f s (run directory "
	    "%s)\n%s\n%s", r.status, r.seconds, dir, r.out, r.err);
	/* the harness's own report */
	cr_expect(strstr(r.out, "faults injected by kind:") != NULL, "%s",
	    r.out);
	cr_expect(strstr(r.out, "chaos actions by kind:") != NULL, "%s",
	    r.out);
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
		cr_expect(strstr(r.out, checks[i]) != NULL,
		    "no \"%s\" in the report:\n%s", checks[i], r.out);
	cr_expect(strstr(r.out, "soak check: PASS") != NULL, "%s", r.out);
	/* the run directory a checker reads */
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		cr_expect_gt(file_size(dir, files[i]), 0, "%s/%s missing or "
		    "empty", dir, files[i]);
	cr_expect_gt(file_size(dir, "run.json"), 0);
	proc_result_free(&r);
	if (getenv("TOCSIN_KEEP") != NULL) {
		fprintf(stderr, "soak: kept %s\n", dir);
		return;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)system(cmd);
}
