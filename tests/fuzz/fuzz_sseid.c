/*
 * fuzz_sseid.c - libFuzzer target for the event stream's Last-Event-ID
 * parser (daemon/sse): any bytes either parse or are refused, never read
 * past their end; an id that parses (for its own shard count) formats
 * back to the very bytes it came from (one spelling per id), and a shard
 * count other than its own is -ERANGE naming the count it holds.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t v[SSE_MAX_SHARDS], w[SSE_MAX_SHARDS];
	char back[SSE_ID_MAX];
	unsigned got, got2;
	char *s;
	int rc;

	/* an exact-size copy: ASan sees any read past the end */
	s = malloc(size ? size : 1);
	memcpy(s, data, size);
	rc = sse_id_parse(s, size, v, 1, &got);
	if (rc != 0 && rc != -ERANGE && rc != -EINVAL)
		abort();
	if (rc == -ERANGE) {
		if (got == 1 || got > SSE_MAX_SHARDS)
			abort();
		if (sse_id_parse(s, size, v, got, &got2) != 0 || got2 != got)
			abort();
		rc = 0;
	}
	if (rc == 0) {
		size_t n = sse_id_format(v, got, back);

		if (n != size || memcmp(back, s, size) != 0)
			abort();
		if (sse_id_parse(back, n, w, got, &got2) != 0 ||
		    memcmp(v, w, got * sizeof(*v)) != 0)
			abort();
	}
	free(s);
	return 0;
}
