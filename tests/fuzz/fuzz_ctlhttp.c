/*
 * fuzz_ctlhttp.c - libFuzzer target for tocsinctl's HTTP response parser
 * and URL reader (daemon/ctlhttp).  Input: a response as a server could
 * send it.  Any bytes: the parser takes them or says -EPROTO, never reads
 * past them, and gives the same verdict, state, status and body whether
 * fed at once or one byte at a time (so a split read can never change
 * what tocsinctl sees); a body is never longer than the input.  The
 * input's first line, as a URL, parses or is refused with a reason, and a
 * parsed host is never empty.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ctlhttp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_body {
	char	*p;
	size_t	 len;
};

static void
fz_add(void *arg, const char *p, size_t n)
{
	struct fz_body *b = arg;

	b->p = realloc(b->p, b->len + n + 1);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctlhttp_parser *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	struct fz_body ba = { NULL, 0 }, bb = { NULL, 0 };
	struct ctlhttp_url u;
	const char *why;
	char *s = malloc(size + 1);
	int ra, rb = 0, ea, eb;
	size_t nl;

	memcpy(s, data, size);
	s[size] = '\0';
	ctlhttp_parser_init(a, fz_add, &ba);
	ctlhttp_parser_init(b, fz_add, &bb);
	ra = ctlhttp_parser_feed(a, s, size);
	for (size_t i = 0; i < size && rb == 0; i++)
		rb = ctlhttp_parser_feed(b, s + i, 1);
	if (ra != rb || (ra != 0 && ra != -EPROTO))
		abort();
	if (ra == 0) {
		ea = ctlhttp_parser_eof(a);
		eb = ctlhttp_parser_eof(b);
		if (ea != eb || a->state != b->state ||
		    a->status != b->status || ba.len != bb.len ||
		    (ba.len && memcmp(ba.p, bb.p, ba.len) != 0) ||
		    ba.len > size)
			abort();
		if (ctlhttp_parser_has_headers(a) && (a->status < 100 ||
		    a->status > 999))
			abort();
	}
	/* the first line as a server address */
	nl = strcspn(s, "\n");
	s[nl] = '\0';
	if (ctlhttp_url_parse(s, &u, &why) == 0) {
		if (u.host[0] == '\0' || u.port == 0 || u.port > 65535)
			abort();
	} else if (why == NULL || why[0] == '\0') {
		abort();
	}
	free(ba.p);
	free(bb.p);
	free(a);
	free(b);
	free(s);
	return 0;
}
