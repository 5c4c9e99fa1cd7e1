/*
 * clvalue.h - a changelog value, whole or in pieces (docs/scaleout.md,
 * "The changelog": a value larger than a Kafka message).
 *
 * A Kafka message has a limit (librdkafka's message.max.bytes and the
 * topic's max.message.bytes, both about 1 MB by default) and an
 * incident's record has none: its timeline grows with every operator
 * note.  So a value of at most CLVALUE_PIECE bytes goes whole under its
 * key, and a larger one goes in pieces: piece k (1, 2, ...) holds the
 * value's bytes [(k - 1) * CLVALUE_PIECE, k * CLVALUE_PIECE) under the key
 * "<key>#<k>", and the key itself holds a head of CLVALUE_HEAD bytes:
 *
 *	"TCPIECE\0"  u32 piece size  u32 pieces  u64 value's length
 *	u32 CRC-32C of the value		(little-endian)
 *
 * The writer puts a head and its pieces in one transaction, with
 * tombstones for the pieces a shorter value no longer has, so a
 * read_committed reader sees a head only with the pieces it names.  A
 * whole value never starts with the magic (an engine record starts with
 * "TCSNAP1\0", an offset with a digit).  Pure: no Kafka here.
 */
#ifndef TOCSIN_CLVALUE_H
#define TOCSIN_CLVALUE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The piece size: well inside both 1 MB defaults with a key and the
 * record's overhead; and a change to an incident of many pieces rewrites
 * only the pieces whose bytes changed (a new step changes the record's
 * first and last pieces), so a small piece keeps that rewrite small.
 */
#define CLVALUE_PIECE	(64 * 1024)
#define CLVALUE_HEAD	28		/* bytes of a head */
#define CLVALUE_SFX_LEN	12		/* "#" and a u32 in decimal, NUL */

/* One piece as read: its bytes, not owned. */
struct clvalue_part {
	const void	*p;
	size_t		 n;
};

/* The pieces a value of n bytes goes in: 0 when it goes whole. */
uint32_t clvalue_pieces(size_t n);
/* Piece k's (1..clvalue_pieces(n)) offset in the value; its length in *len. */
size_t	 clvalue_piece(size_t n, uint32_t k, size_t *len);
/* The head of the value v (n bytes, clvalue_pieces(n) > 0) into out. */
void	 clvalue_head(unsigned char out[CLVALUE_HEAD], const void *v,
	    size_t n);
/* The key of piece k of key: "<key>#<k>" into out (truncated to len). */
void	 clvalue_key(char *out, size_t len, const char *key, uint32_t k);
/*
 * Whether key is a piece's (what clvalue_key() writes): its last
 * character that is not a digit is '#', with a digit after it.  A head's
 * key never is one where it ends in a number after another character (an
 * incident id ends in "-<num>", "meta:<p>" in ":<p>"), whatever '#' its
 * prefix holds.
 */
int	 clvalue_is_piece_key(const char *key);

/*
 * What v (n bytes) is: 0, a whole value; 1, a head (its pieces in
 * *pieces); -1, a value with the magic that is not a head this code reads
 * (its reason in why): a bad length, a piece size other than
 * CLVALUE_PIECE, a count that does not cover the length.
 */
int	 clvalue_is_head(const void *v, size_t n, uint32_t *pieces,
	    char *why, size_t whylen);
/*
 * The value a head and its pieces pc[0..npc) (piece 1 first) make:
 * xmalloc'd in *out (*outlen bytes), 0; or -1 with the reason in why: a bad
 * head, a piece missing (pc[i].p NULL) or of the wrong length, a CRC that
 * does not match.
 */
int	 clvalue_join(const void *head, size_t hn,
	    const struct clvalue_part *pc, uint32_t npc, char **out,
	    size_t *outlen, char *why, size_t whylen);

#endif
