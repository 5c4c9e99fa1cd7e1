/*
 * fuzz_config.c - libFuzzer target for the configuration loader: any bytes
 * must give either a configuration or a list of errors, never a crash, a
 * leak or undefined behaviour.
 */
#include <stddef.h>
#include <stdint.h>

#include "daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors errs = { NULL, 0 };
	struct config *cfg;

	/* "fuzz/x.yaml": an inventory named in the input resolves under fuzz/ */
	cfg = config_load_buffer("fuzz/x.yaml", (const char *)data, size, &errs);
	if (cfg != NULL) {
		char census[256];

		config_census(cfg, census, sizeof(census));
		config_free(cfg);
	}
	config_errors_free(&errs);
	return 0;
}
