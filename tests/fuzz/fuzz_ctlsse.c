/*
 * fuzz_ctlsse.c - libFuzzer target for tocsinctl's event-stream parser
 * (daemon/ctlsse).  Input: any bytes as the body of GET /api/v1/events.
 * Fed at once and fed in pieces (sizes taken from the input's first
 * byte), the parser dispatches the same events (type, data, last id),
 * each event's data holds exactly its length with a NUL after it, a type
 * is never empty, and the verdict is 0 or -EMSGSIZE.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ctlsse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_log {
	uint64_t	 hash;		/* FNV-1a over every event */
	unsigned	 n;
};

static void
fz_mix(struct fz_log *l, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		l->hash = (l->hash ^ (unsigned char)p[i]) * 1099511628211ULL;
	l->hash = (l->hash ^ 0xff) * 1099511628211ULL;
}

static void
fz_event(void *arg, const char *type, const char *d, size_t len,
    const char *id)
{
	struct fz_log *l = arg;

	if (type[0] == '\0' || d[len] != '\0' || strlen(id) >= CTLSSE_ID_MAX)
		abort();
	fz_mix(l, type, strlen(type));
	fz_mix(l, d, len);
	fz_mix(l, id, strlen(id));
	l->n++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctlsse a, b;
	struct fz_log la = { 14695981039346656037ULL, 0 }, lb = la;
	const char *s = (const char *)data;
	size_t step = size ? (size_t)data[0] % 7 + 1 : 1;
	int ra, rb = 0, r;

	ctlsse_init(&a, fz_event, &la);
	ctlsse_init(&b, fz_event, &lb);
	ra = ctlsse_feed(&a, s, size);
	for (size_t off = 0; off < size; off += step)
		if ((r = ctlsse_feed(&b, s + off, size - off < step ?
		    size - off : step)) < 0)
			rb = r;
	if ((ra != 0 && ra != -EMSGSIZE) || ra != rb || la.n != lb.n ||
	    la.hash != lb.hash || a.retry_ms != b.retry_ms ||
	    strcmp(a.id, b.id) != 0)
		abort();
	ctlsse_fini(&a);
	ctlsse_fini(&b);
	return 0;
}
