/*
 * test_clvalue.c - a changelog value in pieces (daemon/clvalue): a value
 * goes whole up to CLVALUE_PIECE bytes and in pieces past it; a head and
 * its pieces join back to the very bytes; a missing, short, stale or
 * foreign piece, and a head that is not one, are refused with a reason.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/clvalue.h"

/* n bytes that differ from piece to piece and from seed to seed. */
static char *
value(size_t n, unsigned seed)
{
	char *v = malloc(n ? n : 1);

	cr_assert_not_null(v);
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		v[i] = (char)(seed >> 16);
	}
	return v;
}

/* v split as the writer splits it: the head into h, the pieces into pc. */
static uint32_t
split(const char *v, size_t n, unsigned char h[CLVALUE_HEAD],
    struct clvalue_part *pc)
{
	uint32_t k, pieces = clvalue_pieces(n);

	clvalue_head(h, v, n);
	for (k = 1; k <= pieces; k++) {
		size_t len, off = clvalue_piece(n, k, &len);

		pc[k - 1].p = v + off;
		pc[k - 1].n = len;
	}
	return pieces;
}

Test(clvalue, a_value_goes_whole_up_to_a_piece_and_in_pieces_past_it)
{
	size_t len;

	cr_assert_eq(clvalue_pieces(0), 0);
	cr_assert_eq(clvalue_pieces(CLVALUE_PIECE), 0);
	cr_assert_eq(clvalue_pieces(CLVALUE_PIECE + 1), 2);
	cr_assert_eq(clvalue_pieces(3 * CLVALUE_PIECE), 3);
	cr_assert_eq(clvalue_pieces(3 * CLVALUE_PIECE + 1), 4);
	/* the last piece holds the rest, every other a whole piece */
	cr_assert_eq(clvalue_piece(CLVALUE_PIECE + 1, 1, &len), 0);
	cr_assert_eq(len, CLVALUE_PIECE);
	cr_assert_eq(clvalue_piece(CLVALUE_PIECE + 1, 2, &len), CLVALUE_PIECE);
	cr_assert_eq(len, 1);
}

Test(clvalue, a_head_and_its_pieces_join_to_the_very_bytes)
{
	static const size_t sizes[] = { CLVALUE_PIECE + 1, 2 * CLVALUE_PIECE,
	    2 * CLVALUE_PIECE + 7, 20 * CLVALUE_PIECE - 1 };
	struct clvalue_part pc[20];
	unsigned char h[CLVALUE_HEAD];
	char why[128], *out;
	size_t outlen;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *v = value(sizes[i], (unsigned)i);
		uint32_t pieces = split(v, sizes[i], h, pc), got;

		cr_assert_eq(clvalue_is_head(h, sizeof(h), &got, why,
		    sizeof(why)), 1, "%s", why);
		cr_assert_eq(got, pieces);
		cr_assert_eq(clvalue_join(h, sizeof(h), pc, pieces, &out,
		    &outlen, why, sizeof(why)), 0, "%zu bytes: %s", sizes[i],
		    why);
		cr_assert_eq(outlen, sizes[i]);
		cr_assert_eq(memcmp(out, v, outlen), 0);
		free(out);
		free(v);
	}
}

Test(clvalue, a_whole_value_is_not_a_head)
{
	static const char rec[] = "TCSNAP1\0\1\0\0\0", off[] = "12345";
	uint32_t pieces = 7;
	char why[128];

	cr_assert_eq(clvalue_is_head(rec, sizeof(rec), &pieces, why,
	    sizeof(why)), 0);
	cr_assert_eq(pieces, 0);
	cr_assert_eq(clvalue_is_head(off, 5, &pieces, why, sizeof(why)), 0);
	cr_assert_eq(clvalue_is_head("", 0, &pieces, why, sizeof(why)), 0);
}

Test(clvalue, a_missing_short_or_stale_piece_is_refused)
{
	size_t n = 3 * CLVALUE_PIECE + 100;
	char *v = value(n, 1), *old = value(n, 2), why[128], *out;
	struct clvalue_part pc[4], bad[4];
	unsigned char h[CLVALUE_HEAD];
	size_t outlen;
	uint32_t pieces = split(v, n, h, pc);

	cr_assert_eq(pieces, 4);
	/* missing: a tombstone or never written */
	memcpy(bad, pc, sizeof(bad));
	bad[2].p = NULL;
	cr_assert_eq(clvalue_join(h, sizeof(h), bad, 4, &out, &outlen, why,
	    sizeof(why)), -1);
	cr_assert_null(out);
	cr_assert_not_null(strstr(why, "piece 3 of 4 missing"), "%s", why);
	/* too few named */
	cr_assert_eq(clvalue_join(h, sizeof(h), pc, 3, &out, &outlen, why,
	    sizeof(why)), -1);
	cr_assert_not_null(strstr(why, "3 pieces of 4"), "%s", why);
	/* one of another length */
	memcpy(bad, pc, sizeof(bad));
	bad[3].n--;
	cr_assert_eq(clvalue_join(h, sizeof(h), bad, 4, &out, &outlen, why,
	    sizeof(why)), -1);
	cr_assert_not_null(strstr(why, "piece 4 of 4: 99 bytes, not 100"),
	    "%s", why);
	/* a piece of an older value of the key, of the right length */
	memcpy(bad, pc, sizeof(bad));
	bad[1].p = old + CLVALUE_PIECE;
	cr_assert_eq(clvalue_join(h, sizeof(h), bad, 4, &out, &outlen, why,
	    sizeof(why)), -1);
	cr_assert_not_null(strstr(why, "CRC"), "%s", why);
	free(v);
	free(old);
}

Test(clvalue, a_head_that_is_not_one_is_refused)
{
	size_t n = 2 * CLVALUE_PIECE;
	char *v = value(n, 3), why[128], *out;
	struct clvalue_part pc[2];
	unsigned char h[CLVALUE_HEAD], bad[CLVALUE_HEAD + 1];
	uint32_t pieces;
	size_t outlen;

	(void)split(v, n, h, pc);
	/* a head cut short, or one byte long */
	cr_assert_eq(clvalue_is_head(h, CLVALUE_HEAD - 1, &pieces, why,
	    sizeof(why)), -1);
	memcpy(bad, h, sizeof(h));
	bad[CLVALUE_HEAD] = 0;
	cr_assert_eq(clvalue_is_head(bad, sizeof(bad), &pieces, why,
	    sizeof(why)), -1);
	cr_assert_not_null(strstr(why, "a head of 29 bytes"), "%s", why);
	/* pieces of another size (bytes 8..11) */
	memcpy(bad, h, sizeof(h));
	bad[9] ^= 1;
	cr_assert_eq(clvalue_is_head(bad, CLVALUE_HEAD, &pieces, why,
	    sizeof(why)), -1);
	cr_assert_not_null(strstr(why, "pieces of"), "%s", why);
	/* a count that does not cover the length (bytes 12..15) */
	memcpy(bad, h, sizeof(h));
	bad[12] = 3;
	cr_assert_eq(clvalue_is_head(bad, CLVALUE_HEAD, &pieces, why,
	    sizeof(why)), -1);
	cr_assert_not_null(strstr(why, "3 pieces for 131072 bytes"), "%s", why);
	cr_assert_eq(clvalue_join(bad, CLVALUE_HEAD, pc, 2, &out, &outlen, why,
	    sizeof(why)), -1);
	/* a length a single piece holds: never written in pieces */
	memcpy(bad, h, sizeof(h));
	memset(bad + 16, 0, 8);
	bad[16] = 10;
	cr_assert_eq(clvalue_is_head(bad, CLVALUE_HEAD, &pieces, why,
	    sizeof(why)), -1);
	/* a length whose count of pieces, cut to 32 bits, is the head's
	 * (found by fuzz_clvalue) */
	memcpy(bad, h, sizeof(h));
	memset(bad + 16, 0, 8);
	bad[16] = 1;
	bad[18] = 1;
	bad[23] = 0x20;		/* 0x2000000000010001 bytes */
	cr_assert_eq(clvalue_is_head(bad, CLVALUE_HEAD, &pieces, why,
	    sizeof(why)), -1);
	cr_assert_not_null(strstr(why, "2 pieces for"), "%s", why);
	/* the right head joins */
	cr_assert_eq(clvalue_join(h, CLVALUE_HEAD, pc, 2, &out, &outlen, why,
	    sizeof(why)), 0, "%s", why);
	free(out);
	free(v);
}

Test(clvalue, a_piece_key_is_its_key_and_number)
{
	char k[64];

	clvalue_key(k, sizeof(k), "inc:INC-0-12", 3);
	cr_assert_str_eq(k, "inc:INC-0-12#3");
	clvalue_key(k, sizeof(k), "meta:1", 4294967295u);
	cr_assert_str_eq(k, "meta:1#4294967295");
	cr_assert_lt(strlen("#4294967295"), CLVALUE_SFX_LEN);
	/* and read back as one: a head's key is not, whatever '#' a prefix
	 * of its incident ids holds */
	clvalue_key(k, sizeof(k), "inc:A#-0-12", 7);
	cr_assert(clvalue_is_piece_key(k));
	cr_assert(clvalue_is_piece_key("meta:1#3"));
	cr_assert_not(clvalue_is_piece_key("inc:A#-0-12"));
	cr_assert_not(clvalue_is_piece_key("inc:INC-0-12"));
	cr_assert_not(clvalue_is_piece_key("meta:1"));
	cr_assert_not(clvalue_is_piece_key("inc:X#"));
	cr_assert_not(clvalue_is_piece_key("pos:0"));
}
