/*
 * fuzz_clvalue.c - libFuzzer target for a changelog value in pieces
 * (daemon/clvalue), the bytes a rebuild reads from tocsin.changelog: any
 * bytes are a whole value, a head or a refused head, never read past
 * their end; a head joins only pieces of the lengths it names, and only
 * when their CRC is its own.  And the round trip: the input made into a
 * value larger than a piece, split as the writer splits it, joins back
 * to the same bytes, and refuses the pieces with one byte changed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/clvalue.h"
#include "daemon/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A head as read: pieces of the lengths it names (one a byte short when
 * its last byte is odd), filled from the input. */
static void
as_head(const uint8_t *s, size_t size)
{
	struct clvalue_part pc[64];
	char why[128], *out, *buf;
	uint32_t pieces;
	uint64_t total = 0;
	size_t outlen, len, off;
	int h = clvalue_is_head(s, size, &pieces, why, sizeof(why));

	if (h < -1 || h > 1)
		abort();
	if (h != 1)
		return;
	if (size != CLVALUE_HEAD || pieces < 2)
		abort();
	if (pieces > 64)
		return;		/* more memory than a fuzz run needs */
	for (int i = 7; i >= 0; i--)	/* the value's length, bytes 16..23 */
		total = total << 8 | s[16 + i];
	buf = xmalloc((size_t)total);
	for (size_t i = 0; i < (size_t)total; i++)
		buf[i] = (char)s[i % size];
	for (uint32_t k = 1; k <= pieces; k++) {
		off = clvalue_piece((size_t)total, k, &len);
		pc[k - 1].p = buf + off;
		pc[k - 1].n = len - (k == pieces && (s[size - 1] & 1));
	}
	if (clvalue_join(s, size, pc, pieces, &out, &outlen, why,
	    sizeof(why)) == 0) {
		if (outlen != total || (s[size - 1] & 1) ||
		    memcmp(out, buf, outlen) != 0)
			abort();
		xfree(out);
	}
	xfree(buf);
}

/* The input, repeated past a piece, split and joined again. */
static void
round_trip(const uint8_t *s, size_t size)
{
	size_t n = CLVALUE_PIECE + 1 + size * 37, len;
	struct clvalue_part pc[64];
	unsigned char h[CLVALUE_HEAD];
	char why[128], *v, *out;
	uint32_t pieces = clvalue_pieces(n), k;
	size_t outlen;

	if (size == 0 || pieces > 64)
		return;
	v = xmalloc(n);
	for (size_t i = 0; i < n; i++)
		v[i] = (char)(s[i % size] + i / size);
	clvalue_head(h, v, n);
	for (k = 1; k <= pieces; k++) {
		size_t off = clvalue_piece(n, k, &len);

		pc[k - 1].p = v + off;
		pc[k - 1].n = len;
	}
	if (clvalue_join(h, sizeof(h), pc, pieces, &out, &outlen, why,
	    sizeof(why)) != 0 || outlen != n || memcmp(out, v, n) != 0)
		abort();
	xfree(out);
	v[s[0] % n] ^= 0x40;	/* one byte of one piece */
	if (clvalue_join(h, sizeof(h), pc, pieces, &out, &outlen, why,
	    sizeof(why)) == 0)
		abort();
	xfree(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy: ASan sees any read past the end */
	uint8_t *s = malloc(size ? size : 1);

	memcpy(s, data, size);
	as_head(s, size);
	round_trip(s, size);
	free(s);
	return 0;
}
