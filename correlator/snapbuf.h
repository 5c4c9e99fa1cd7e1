/*
 * snapbuf.h - the byte codec of engine snapshots: a growing little-endian
 * writer and a bounded reader, written once for every module that saves
 * its part of a correlation engine (corr, sla).
 *
 * Every field is a fixed-width little-endian integer (1, 2, 4 or 8 bytes)
 * or a string as a u32 length and its bytes (UINT32_MAX: absent, NULL).
 * The reader never reads past its end and never trusts a length or count:
 * a string is only copied when its bytes are there, and a count is refused
 * unless that many elements of their smallest size fit in what is left, so
 * hostile input cannot make it allocate more than a few times its own size.
 * The first failure sticks (later reads return 0) with its reason and
 * offset, so a loader checks once per record instead of once per field.
 * Pure and allocation-light: strings come back xmalloc'd (daemon/mem.h).
 */
#ifndef TOCSIN_SNAPBUF_H
#define TOCSIN_SNAPBUF_H

#include <stddef.h>
#include <stdint.h>

#define SNAPBUF_NOSTR	UINT32_MAX	/* string length of an absent string */
/* The instants a snapshot may hold: the years utc_format() can write. */
#define SNAPBUF_T_MIN	(-62167219200000LL)	/* 0000-01-01T00:00:00.000Z */
#define SNAPBUF_T_MAX	253402300799999LL	/* 9999-12-31T23:59:59.999Z */

/* A writer; zero it (or snapbuf_init) and put; p is xmalloc'd. */
struct snapbuf {
	char	*p;		/* the bytes written */
	size_t	 n, cap;	/* used, allocated */
};

/* A reader over n bytes it does not own. */
struct snapbuf_rd {
	const unsigned char *p;
	size_t	 n;		/* bytes in all */
	size_t	 off;		/* next byte to read */
	const char *err;	/* first failure (static text), or NULL */
	size_t	 erroff;	/* where it happened */
};

void	 snapbuf_init(struct snapbuf *b);
/* Frees the bytes; the writer is empty again. */
void	 snapbuf_fini(struct snapbuf *b);
/* Appends n raw bytes. */
void	 snapbuf_put_bytes(struct snapbuf *b, const void *p, size_t n);
/* Appends the low `bytes` (1, 2, 4 or 8) bytes of v, little-endian. */
void	 snapbuf_put(struct snapbuf *b, uint64_t v, unsigned bytes);
/* Appends a string (length-prefixed, no NUL), or SNAPBUF_NOSTR for NULL. */
void	 snapbuf_put_str(struct snapbuf *b, const char *s);

static inline void snapbuf_put_u8(struct snapbuf *b, uint8_t v) { snapbuf_put(b, v, 1); }
static inline void snapbuf_put_u16(struct snapbuf *b, uint16_t v) { snapbuf_put(b, v, 2); }
static inline void snapbuf_put_u32(struct snapbuf *b, uint32_t v) { snapbuf_put(b, v, 4); }
static inline void snapbuf_put_u64(struct snapbuf *b, uint64_t v) { snapbuf_put(b, v, 8); }
static inline void snapbuf_put_i64(struct snapbuf *b, int64_t v) { snapbuf_put(b, (uint64_t)v, 8); }

void	 snapbuf_rd_init(struct snapbuf_rd *r, const void *p, size_t n);
/*
 * Records the reader's first failure (why: static text) at its offset;
 * returns -1 so a loader can `return snapbuf_fail(r, "...")`.
 */
int	 snapbuf_fail(struct snapbuf_rd *r, const char *why);
/* 0 while every read so far succeeded, else -1. */
static inline int snapbuf_ok(const struct snapbuf_rd *r) { return r->err == NULL ? 0 : -1; }
/* Bytes not yet read. */
static inline size_t snapbuf_left(const struct snapbuf_rd *r) { return r->n - r->off; }
/* Copies n raw bytes into out; fails (out zeroed) if they are not there. */
int	 snapbuf_get_bytes(struct snapbuf_rd *r, void *out, size_t n);
/* The next `bytes`-byte little-endian integer; 0 once the reader failed. */
uint64_t snapbuf_get_le(struct snapbuf_rd *r, unsigned bytes);
/*
 * The same, inline: every field of a snapshot is read through it, and a
 * call per field was a tenth of loading one.  On a little-endian machine
 * the bytes are the integer; the rest (a failure, too few bytes, another
 * byte order) is snapbuf_get_le's.
 */
static inline uint64_t
snapbuf_get(struct snapbuf_rd *r, unsigned bytes)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (r->err == NULL && bytes <= 8 && r->n - r->off >= bytes) {
		uint64_t v = 0;

		__builtin_memcpy(&v, r->p + r->off, bytes);
		r->off += bytes;
		return v;
	}
#endif
	return snapbuf_get_le(r, bytes);
}
/*
 * A count of elements each taking at least min_size bytes: fails unless
 * count * min_size bytes are left, so a count can never ask for more
 * memory than the input could describe.
 */
uint32_t snapbuf_get_count(struct snapbuf_rd *r, size_t min_size);
/*
 * A string of at most max bytes without NUL bytes: 0 and *out an
 * xmalloc'd copy (NULL for an absent string, refused unless nullable), or
 * -1 (failure recorded, *out NULL).
 */
int	 snapbuf_get_str(struct snapbuf_rd *r, size_t max, int nullable,
	    char **out);

/*
 * snapbuf_get_str() of a string that must be there, without the copy: its
 * bytes in place (not NUL-terminated) and *len, or NULL (failure recorded).
 * Valid while the reader's bytes are.
 */
const char *snapbuf_get_strview(struct snapbuf_rd *r, size_t max,
	    uint32_t *len);

/*
 * A string left in place (no copy, not NUL-terminated): its bytes and
 * *len; NULL with *len SNAPBUF_NOSTR for an absent string, NULL after a
 * failure (recorded).  Valid while the reader's bytes are.
 */
const char *snapbuf_get_view(struct snapbuf_rd *r, uint32_t *len);

/* An instant in [SNAPBUF_T_MIN, SNAPBUF_T_MAX]; anything else fails. */
int64_t	 snapbuf_get_time(struct snapbuf_rd *r);
/* A count of ms in [0, SNAPBUF_T_MAX - SNAPBUF_T_MIN]; anything else fails. */
int64_t	 snapbuf_get_span(struct snapbuf_rd *r);

static inline uint8_t snapbuf_get_u8(struct snapbuf_rd *r) { return (uint8_t)snapbuf_get(r, 1); }
static inline uint16_t snapbuf_get_u16(struct snapbuf_rd *r) { return (uint16_t)snapbuf_get(r, 2); }
static inline uint32_t snapbuf_get_u32(struct snapbuf_rd *r) { return (uint32_t)snapbuf_get(r, 4); }
static inline uint64_t snapbuf_get_u64(struct snapbuf_rd *r) { return snapbuf_get(r, 8); }
static inline int64_t snapbuf_get_i64(struct snapbuf_rd *r) { return (int64_t)snapbuf_get(r, 8); }

#endif
