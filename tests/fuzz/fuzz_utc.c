/*
 * fuzz_utc.c - libFuzzer target for the one RFC 3339 reader and writer
 * (daemon/utc): any bytes either parse or are refused, never read past
 * their end; an instant that parses writes back as 24 characters that
 * parse to the same instant (the writer is UTC with ms, so the round trip
 * goes through its own form, not the input's).  utc_parse_memo(), its
 * memo kept across inputs, gives utc_parse()'s answer on every input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/utc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct utc_memo memo = UTC_MEMO_INIT;
	char *s, buf[UTC_LEN];
	int64_t t, back, tm;
	int rc;

	/* an exact-size copy: ASan sees any read past the end */
	s = malloc(size ? size : 1);
	memcpy(s, data, size);
	rc = utc_parse(s, size, &t);
	if (utc_parse_memo(s, size, &memo, &tm) != rc || (rc == 0 && tm != t))
		abort();
	if (rc == 0 && t >= 0 && t < 253402300800000LL) {
		if (utc_format(t, buf) != 24 || buf[24] != '\0')
			abort();
		if (utc_parse(buf, 24, &back) != 0 || back != t)
			abort();
	}
	free(s);
	return 0;
}
