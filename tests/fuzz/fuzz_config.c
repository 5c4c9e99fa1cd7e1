/*
 * fuzz_config.c - libFuzzer target for the configuration loader: any bytes
 * must give either a configuration or a list of errors, never a crash, a
 * leak or undefined behaviour.
 *
 * The input is loaded as if it were a file in tests/fuzz/seeds/
 * fuzz_inventory/, so that an `inventory:` it names resolves to one of the
 * inventory target's seeds (the YAML seeds here name them: gateways.csv,
 * fleet-devices.csv, ...) and the loader goes on into the CSV parser and
 * the fleet checks behind it.  The directory is found from the program's
 * own path (build/fuzz/fuzz_config, three names below the repository), so
 * the target works from any working directory; when that fails, the
 * relative path serves a run from the repository's root, as `make fuzz`
 * does.  The loader only reads what an input names.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"

#define SEEDS	"tests/fuzz/seeds/fuzz_inventory"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char name[PATH_MAX] = SEEDS "/fuzz.yaml";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char exe[PATH_MAX], dir[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct stat st;

	if (n <= 0)
		return 0;
	exe[n] = '\0';
	for (int up = 0; up < 3; up++) {
		char *slash = strrchr(exe, '/');

		if (slash == NULL)
			return 0;
		*slash = '\0';
	}
	if (snprintf(dir, sizeof(dir), "%s/" SEEDS, exe) >= (int)sizeof(dir) ||
	    stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return 0;
	snprintf(name, sizeof(name), "%s/fuzz.yaml", dir);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors errs = { NULL, 0 };
	struct config *cfg;

	cfg = config_load_buffer(name, (const char *)data, size, &errs);
	if (cfg != NULL) {
		char census[256];

		config_census(cfg, census, sizeof(census));
		config_free(cfg);
	}
	config_errors_free(&errs);
	return 0;
}
