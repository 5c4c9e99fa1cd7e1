/*
 * fuzz_replay.c - libFuzzer target for the replay line parser and the
 * RFC3339 time parser.  The input is handed over with its exact length and
 * no NUL terminator, so any read past the line is caught by ASan.  A parsed
 * record must hold NUL-terminated, in-bounds strings.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct replay_rec r;
	char err[160];
	char *copy = malloc(size ? size : 1);
	int64_t t;

	memcpy(copy, data, size);
	if (replay_parse_line(copy, size, &r, err, sizeof(err)) == 0) {
		if (strlen(r.device) >= sizeof(r.device) ||
		    strlen(r.code) >= sizeof(r.code) ||
		    strlen(r.site) >= sizeof(r.site) || r.device[0] == '\0' ||
		    r.edge > 1 || r.severity > 3)
			abort();
	} else if (memchr(err, '\0', sizeof(err)) == NULL) {
		abort();
	}
	(void)replay_parse_time(copy, size, &t);
	free(copy);
	return 0;
}
