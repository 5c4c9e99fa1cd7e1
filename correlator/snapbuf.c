/*
 * snapbuf.c - the snapshot byte codec; see snapbuf.h.
 *
 * One put and one get do every integer width, so the byte order is
 * written down in exactly two loops.
 */
#include <stdint.h>
#include <string.h>

#include "correlator/snapbuf.h"
#include "daemon/mem.h"

void
snapbuf_init(struct snapbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void
snapbuf_fini(struct snapbuf *b)
{
	FREE_NULL(b->p);
	b->n = b->cap = 0;
}

void
snapbuf_put_bytes(struct snapbuf *b, const void *p, size_t n)
{
	if (b->cap - b->n < n) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap - b->n < n)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

void
snapbuf_put(struct snapbuf *b, uint64_t v, unsigned bytes)
{
	unsigned char le[8];

	for (unsigned i = 0; i < bytes; i++)
		le[i] = (unsigned char)(v >> (8 * i));
	snapbuf_put_bytes(b, le, bytes);
}

void
snapbuf_put_str(struct snapbuf *b, const char *s)
{
	size_t n;

	if (s == NULL) {
		snapbuf_put_u32(b, SNAPBUF_NOSTR);
		return;
	}
	n = strlen(s);
	snapbuf_put_u32(b, (uint32_t)n);
	snapbuf_put_bytes(b, s, n);
}

void
snapbuf_rd_init(struct snapbuf_rd *r, const void *p, size_t n)
{
	memset(r, 0, sizeof(*r));
	r->p = p;
	r->n = n;
}

int
snapbuf_fail(struct snapbuf_rd *r, const char *why)
{
	if (r->err == NULL) {
		r->err = why;
		r->erroff = r->off;
	}
	return -1;
}

int
snapbuf_get_bytes(struct snapbuf_rd *r, void *out, size_t n)
{
	if (r->err != NULL || snapbuf_left(r) < n) {
		memset(out, 0, n);
		return snapbuf_fail(r, "truncated");
	}
	memcpy(out, r->p + r->off, n);
	r->off += n;
	return 0;
}

uint64_t
snapbuf_get_le(struct snapbuf_rd *r, unsigned bytes)
{
	unsigned char le[8];
	uint64_t v = 0;

	if (snapbuf_get_bytes(r, le, bytes) != 0)
		return 0;
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)le[i] << (8 * i);
	return v;
}

int64_t
snapbuf_get_time(struct snapbuf_rd *r)
{
	int64_t t = snapbuf_get_i64(r);

	if (t < SNAPBUF_T_MIN || t > SNAPBUF_T_MAX) {
		snapbuf_fail(r, "instant out of range");
		return 0;
	}
	return t;
}

int64_t
snapbuf_get_span(struct snapbuf_rd *r)
{
	int64_t t = snapbuf_get_i64(r);

	if (t < 0 || t > SNAPBUF_T_MAX - SNAPBUF_T_MIN) {
		snapbuf_fail(r, "duration out of range");
		return 0;
	}
	return t;
}

uint32_t
snapbuf_get_count(struct snapbuf_rd *r, size_t min_size)
{
	uint32_t n = snapbuf_get_u32(r);

	if (r->err != NULL)
		return 0;
	if (min_size > 0 && n > snapbuf_left(r) / min_size) {
		snapbuf_fail(r, "count larger than the bytes left");
		return 0;
	}
	return n;
}

const char *
snapbuf_get_view(struct snapbuf_rd *r, uint32_t *len)
{
	const char *p;

	*len = snapbuf_get_u32(r);
	if (r->err != NULL || *len == SNAPBUF_NOSTR)
		return NULL;
	if (snapbuf_left(r) < *len) {
		snapbuf_fail(r, "truncated");
		return NULL;
	}
	p = (const char *)r->p + r->off;
	r->off += *len;
	return p;
}

/*
 * A string's bytes left in place, checked as snapbuf_get_str() checks
 * them: the bytes and *len, or NULL with *len 0 for an absent string when
 * nullable (no failure), or NULL after a failure (recorded).
 */
static const char *
snapbuf_str(struct snapbuf_rd *r, size_t max, int nullable, uint32_t *len)
{
	uint32_t n = snapbuf_get_u32(r);
	const char *p;

	*len = 0;
	if (r->err != NULL)
		return NULL;
	if (n == SNAPBUF_NOSTR) {
		if (!nullable)
			snapbuf_fail(r, "missing string");
		return NULL;
	}
	if (n > max) {
		snapbuf_fail(r, "string too long");
		return NULL;
	}
	if (snapbuf_left(r) < n) {
		snapbuf_fail(r, "truncated");
		return NULL;
	}
	p = (const char *)r->p + r->off;
	if (memchr(p, '\0', n) != NULL) {
		snapbuf_fail(r, "NUL byte in a string");
		return NULL;
	}
	r->off += n;
	*len = n;
	return p;
}

const char *
snapbuf_get_strview(struct snapbuf_rd *r, size_t max, uint32_t *len)
{
	return snapbuf_str(r, max, 0, len);
}

int
snapbuf_get_str(struct snapbuf_rd *r, size_t max, int nullable, char **out)
{
	uint32_t n;
	const char *p = snapbuf_str(r, max, nullable, &n);
	char *s;

	*out = NULL;
	if (p == NULL)
		return r->err != NULL ? -1 : 0;
	s = xmalloc((size_t)n + 1);
	memcpy(s, p, n);
	s[n] = '\0';
	*out = s;
	return 0;
}
