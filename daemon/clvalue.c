/*
 * clvalue.c - see clvalue.h.  The head's integers go through the
 * snapshot codec (correlator/snapbuf), as every other record's do.
 */
#include <stdio.h>
#include <string.h>

#include "correlator/snapbuf.h"
#include "daemon/clvalue.h"
#include "daemon/journal.h"
#include "daemon/mem.h"

#define CLVALUE_MAGIC	"TCPIECE"	/* 8 bytes with its NUL */

/* The pieces of a value of n bytes, in 64 bits: a head's length is read
 * from the log, and its count must not be cut to one that matches. */
static uint64_t
clvalue_count(uint64_t n)
{
	return n <= CLVALUE_PIECE ? 0 : (n + CLVALUE_PIECE - 1) / CLVALUE_PIECE;
}

uint32_t
clvalue_pieces(size_t n)
{
	return (uint32_t)clvalue_count(n);
}

size_t
clvalue_piece(size_t n, uint32_t k, size_t *len)
{
	size_t off = (size_t)(k - 1) * CLVALUE_PIECE;

	*len = n - off < CLVALUE_PIECE ? n - off : CLVALUE_PIECE;
	return off;
}

void
clvalue_head(unsigned char out[CLVALUE_HEAD], const void *v, size_t n)
{
	struct snapbuf b;

	snapbuf_init(&b);
	snapbuf_put_bytes(&b, CLVALUE_MAGIC, sizeof(CLVALUE_MAGIC));
	snapbuf_put_u32(&b, CLVALUE_PIECE);
	snapbuf_put_u32(&b, clvalue_pieces(n));
	snapbuf_put_u64(&b, n);
	snapbuf_put_u32(&b, journal_crc32c(0, v, n));
	memcpy(out, b.p, CLVALUE_HEAD);
	snapbuf_fini(&b);
}

void
clvalue_key(char *out, size_t len, const char *key, uint32_t k)
{
	snprintf(out, len, "%s#%u", key, k);
}

int
clvalue_is_piece_key(const char *key)
{
	size_t n = strlen(key);

	while (n > 0 && key[n - 1] >= '0' && key[n - 1] <= '9')
		n--;
	return n > 0 && key[n - 1] == '#' && key[n] != '\0';
}

/* Whether v starts with the head's magic. */
static int
clvalue_magic(const void *v, size_t n)
{
	return n >= sizeof(CLVALUE_MAGIC) && memcmp(v, CLVALUE_MAGIC,
	    sizeof(CLVALUE_MAGIC)) == 0;
}

/* The head's fields, checked; -1 with why. */
static int
clvalue_read_head(const void *v, size_t n, uint32_t *pieces, uint64_t *len,
    uint32_t *crc, char *why, size_t whylen)
{
	struct snapbuf_rd r;
	char magic[sizeof(CLVALUE_MAGIC)];
	uint32_t psize;

	snapbuf_rd_init(&r, v, n);
	(void)snapbuf_get_bytes(&r, magic, sizeof(magic));
	psize = snapbuf_get_u32(&r);
	*pieces = snapbuf_get_u32(&r);
	*len = snapbuf_get_u64(&r);
	*crc = snapbuf_get_u32(&r);
	if (n != CLVALUE_HEAD || snapbuf_ok(&r) != 0) {
		snprintf(why, whylen, "a head of %zu bytes, not %d", n,
		    CLVALUE_HEAD);
		return -1;
	}
	if (psize != CLVALUE_PIECE) {
		snprintf(why, whylen, "pieces of %u bytes, not %d", psize,
		    CLVALUE_PIECE);
		return -1;
	}
	if (*len <= CLVALUE_PIECE || *len > SIZE_MAX / 2 ||
	    clvalue_count(*len) != *pieces) {
		snprintf(why, whylen, "%u pieces for %llu bytes", *pieces,
		    (unsigned long long)*len);
		return -1;
	}
	return 0;
}

int
clvalue_is_head(const void *v, size_t n, uint32_t *pieces, char *why,
    size_t whylen)
{
	uint64_t len;
	uint32_t crc;

	*pieces = 0;
	if (!clvalue_magic(v, n))
		return 0;
	return clvalue_read_head(v, n, pieces, &len, &crc, why, whylen) == 0 ?
	    1 : -1;
}

int
clvalue_join(const void *head, size_t hn, const struct clvalue_part *pc,
    uint32_t npc, char **out, size_t *outlen, char *why, size_t whylen)
{
	uint32_t pieces, crc;
	uint64_t len;
	char *v;

	*out = NULL;
	*outlen = 0;
	if (!clvalue_magic(head, hn)) {
		snprintf(why, whylen, "not a head");
		return -1;
	}
	if (clvalue_read_head(head, hn, &pieces, &len, &crc, why, whylen) != 0)
		return -1;
	if (npc != pieces) {
		snprintf(why, whylen, "%u pieces of %u", npc, pieces);
		return -1;
	}
	/* every piece there and of its length before the value's memory */
	for (uint32_t k = 1; k <= pieces; k++) {
		size_t want;

		(void)clvalue_piece((size_t)len, k, &want);
		if (pc[k - 1].p == NULL) {
			snprintf(why, whylen, "piece %u of %u missing", k,
			    pieces);
			return -1;
		}
		if (pc[k - 1].n != want) {
			snprintf(why, whylen, "piece %u of %u: %zu bytes, not "
			    "%zu", k, pieces, pc[k - 1].n, want);
			return -1;
		}
	}
	v = xmalloc((size_t)len);
	for (uint32_t k = 1; k <= pieces; k++) {
		size_t plen, off = clvalue_piece((size_t)len, k, &plen);

		memcpy(v + off, pc[k - 1].p, plen);
	}
	if (journal_crc32c(0, v, (size_t)len) != crc) {
		xfree(v);
		snprintf(why, whylen, "the pieces' CRC does not match the "
		    "head's");
		return -1;
	}
	*out = v;
	*outlen = (size_t)len;
	return 0;
}
