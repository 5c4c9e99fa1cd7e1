/*
 * fuzz_retired.c - libFuzzer target for the retired objects' file
 * (daemon/reload.c, reload_retired_parse: STATE_DIR/retired.json, read at
 * start), fed the input directly over a small fleet.
 *
 * Besides "no crash, no leak, no undefined behaviour": a refusal has a
 * reason, every device it adds is retired and at a site the fleet knows,
 * and parsing the same bytes again adds no device (ids already there are
 * left alone).  A broken promise abort()s.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "correlator/fleet.h"
#include "daemon/reload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fleet *f = fleet_new();
	char err[256];
	uint32_t s;
	size_t before;
	int n;

	s = fleet_add(f, FLEET_SITE, "T1");
	f->sites[s].area = fleet_area(f, "north");
	before = f->ndevices;
	err[0] = '\0';
	n = reload_retired_parse(f, (const char *)data, size, err, sizeof(err));
	if (n < 0 && (n != -EINVAL || err[0] == '\0'))
		abort();
	if (n >= 0) {
		if (f->ndevices - before != (size_t)n)
			abort();
		for (size_t i = before; i < f->ndevices; i++)
			if (!reload_retired(f, (uint32_t)i) ||
			    f->devices[i].site >= f->nsites)
				abort();
		if (reload_retired_parse(f, (const char *)data, size, err,
		    sizeof(err)) != 0)
			abort();
	}
	fleet_free(f);
	return 0;
}
