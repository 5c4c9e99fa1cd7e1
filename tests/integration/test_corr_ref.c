/*
 * test_corr_ref.c - the C core against bench/refcorr.py, an independent
 * reference correlator, on generated days (bench/corrgen.py) of several
 * seeds: the final state of every incident must be the same.  The C side
 * runs with the default SLA clocks, as the daemon does: the clocks must not
 * change a correlation decision (the reference skips their events).
 *
 * Runs real processes (python3), so it lives under integration/.  The
 * repository root is the current directory or $TOCSIN_SRC.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "correlator/corr.h"
#include "daemon/fleetjson.h"
#include "daemon/replay.h"

static const char *
srcdir(void)
{
	const char *s = getenv("TOCSIN_SRC");

	return s != NULL ? s : ".";
}

static int
sh(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
check_seed(int seed, int sites)
{
	char dir[] = "/tmp/test_corr_ref_XXXXXX", cmd[1024], fpath[256],
	    apath[256], epath[256], err[256];
	struct corr_config cc;
	struct sla_config sc;
	struct fleet *f;
	FILE *out, *errf;
	int rc;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(fpath, sizeof(fpath), "%s/fleet.json", dir);
	snprintf(apath, sizeof(apath), "%s/alarms.jsonl", dir);
	snprintf(epath, sizeof(epath), "%s/events.jsonl", dir);
	snprintf(cmd, sizeof(cmd), "python3 %s/bench/corrgen.py --seed %d "
	    "--sites %d --devices-per-site 8 --fleet %s --alarms %s 2>/dev/null",
	    srcdir(), seed, sites, fpath, apath);
	cr_assert_eq(sh(cmd), 0, "corrgen failed: %s", cmd);
	f = fleetjson_load(fpath, err, sizeof(err));
	cr_assert_not_null(f, "%s", err);
	corr_config_defaults(&cc);
	sla_config_defaults(&sc);
	cc.sla = &sc;
	out = fopen(epath, "w");
	errf = fopen("/dev/null", "w");
	cr_assert_not_null(out);
	rc = replay_run(apath, f, &cc, 1, out, errf);
	fclose(out);
	fclose(errf);
	fleet_free(f);
	sla_config_fini(&sc);
	cr_assert_eq(rc, 0);
	snprintf(cmd, sizeof(cmd), "python3 %s/bench/refcorr.py %s %s "
	    "--compare %s", srcdir(), fpath, apath, epath);
	rc = sh(cmd);
	cr_assert_eq(rc, 0, "seed %d: C and reference differ (files in %s)",
	    seed, dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	sh(cmd);
}

Test(corr_ref, same_incidents_as_reference, .timeout = 60)
{
	static const int seeds[] = { 1, 2, 3, 20261123 };

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		check_seed(seeds[i], 400);
}
