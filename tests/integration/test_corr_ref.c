/*
 * test_corr_ref.c - the C correlator against bench/refcorr.py, an
 * independent reference correlator, on generated days (bench/corrgen.py) of
 * several seeds: the final state of every incident must be the same.  The C
 * side is `tocsind --replay` on the day's fleet as a tocsin configuration
 * (so the YAML loader, the default rules and the default SLA clocks are in
 * the loop, as in the daemon); the clocks must not change a correlation
 * decision (the reference skips their events).
 *
 * Runs real processes (python3, tocsind), so it lives under integration/.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/proc.h"

static void
run(char *const argv[], const char *what)
{
	struct proc_result r;

	cr_assert_eq(proc_run(argv, 120000, &r), 0, "cannot run %s", what);
	cr_assert_eq(r.status, 0, "%s: exit %d\n%s", what, r.status, r.err);
	proc_result_free(&r);
}

static void
check_seed(int seed, int sites)
{
	char dir[] = "/tmp/test_corr_ref_XXXXXX", fpath[256], cpath[256],
	    apath[256], epath[256], seedarg[16], sitesarg[16], tocsind[512];
	struct proc_result r;
	FILE *out;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(fpath, sizeof(fpath), "%s/fleet.json", dir);
	snprintf(cpath, sizeof(cpath), "%s/fleet.yaml", dir);
	snprintf(apath, sizeof(apath), "%s/alarms.jsonl", dir);
	snprintf(epath, sizeof(epath), "%s/events.jsonl", dir);
	snprintf(seedarg, sizeof(seedarg), "%d", seed);
	snprintf(sitesarg, sizeof(sitesarg), "%d", sites);
	snprintf(tocsind, sizeof(tocsind), "%s", proc_build_path("tocsind"));
	{
		char *gen[] = { "python3", "bench/corrgen.py", "--seed", seedarg,
		    "--sites", sitesarg, "--devices-per-site", "8", "--fleet",
		    fpath, "--config", cpath, "--alarms", apath, NULL };
		run(gen, "corrgen.py");
	}
	{
		char *rep[] = { tocsind, "--replay", apath, "-c", cpath, NULL };

		cr_assert_eq(proc_run(rep, 120000, &r), 0);
		cr_assert_eq(r.status, 0, "tocsind --replay: exit %d\n%s",
		    r.status, r.err);
		cr_assert_not_null(out = fopen(epath, "w"));
		fputs(r.out, out);
		fclose(out);
		proc_result_free(&r);
	}
	{
		char *cmp[] = { "python3", "bench/refcorr.py", fpath, apath,
		    "--compare", epath, NULL };

		cr_assert_eq(proc_run(cmp, 120000, &r), 0);
		cr_assert_eq(r.status, 0, "seed %d: C and reference differ (files "
		    "in %s)\n%s", seed, dir, r.err);
		proc_result_free(&r);
	}
	{
		char *rm[] = { "rm", "-rf", dir, NULL };
		run(rm, "rm");
	}
}

Test(corr_ref, same_incidents_as_reference)
{
	static const int seeds[] = { 1, 2, 3, 20261123 };

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		check_seed(seeds[i], 400);
}
