/*
 * ctlsse.c - see ctlsse.h.  Bytes are gathered into a line; each whole
 * line is interpreted at once.  A CR ends a line by itself, and a LF just
 * after a CR is the same line end (cr remembers a CR across feeds, so a
 * CRLF split between two reads is one line end, not two).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ctlsse.h"
#include "daemon/mem.h"

void
ctlsse_init(struct ctlsse *s, ctlsse_event_fn *fn, void *arg)
{
	memset(s, 0, sizeof(*s));
	s->retry_ms = -1;
	s->fn = fn;
	s->arg = arg;
}

void
ctlsse_fini(struct ctlsse *s)
{
	FREE_NULL(s->line);
	FREE_NULL(s->data);
	s->linecap = s->datacap = s->linelen = s->datalen = 0;
}

static void
sse_reset_event(struct ctlsse *s)
{
	s->datalen = 0;
	s->hasdata = 0;
	s->type[0] = '\0';
}

static int
sse_dispatch(struct ctlsse *s)
{
	if (!s->hasdata || s->dropping) {
		s->dropping = 0;
		sse_reset_event(s);
		return 0;
	}
	if (s->datalen > 0 && s->data[s->datalen - 1] == '\n')
		s->datalen--;		/* the last data line's '\n' */
	if (s->data == NULL)
		s->data = xmalloc(s->datacap = 64);
	s->data[s->datalen] = '\0';
	s->fn(s->arg, s->type[0] ? s->type : "message", s->data, s->datalen,
	    s->id);
	sse_reset_event(s);
	return 0;
}

static int
sse_data(struct ctlsse *s, const char *v, size_t vl)
{
	if (s->dropping)
		return 0;
	if (s->datalen + vl + 2 > CTLSSE_DATA_MAX) {
		sse_reset_event(s);	/* the event is dropped */
		s->dropping = 1;
		return -EMSGSIZE;
	}
	if (s->datalen + vl + 2 > s->datacap) {
		s->datacap = (s->datalen + vl + 2) * 2;
		s->data = xrealloc(s->data, s->datacap);
	}
	memcpy(s->data + s->datalen, v, vl);
	s->datalen += vl;
	s->data[s->datalen++] = '\n';
	s->hasdata = 1;
	return 0;
}

/* One whole line (without its end). */
static int
sse_line(struct ctlsse *s, const char *l, size_t n)
{
	const char *colon, *v;
	size_t fl, vl;

	if (n == 0)
		return sse_dispatch(s);
	if (l[0] == ':')
		return 0;		/* a comment: the keepalive */
	colon = memchr(l, ':', n);
	fl = colon ? (size_t)(colon - l) : n;
	v = colon ? colon + 1 : l + n;
	vl = n - (size_t)(v - l);
	if (vl > 0 && *v == ' ') {
		v++;
		vl--;
	}
	if (fl == 4 && memcmp(l, "data", 4) == 0)
		return sse_data(s, v, vl);
	if (fl == 5 && memcmp(l, "event", 5) == 0) {
		size_t k = vl < sizeof(s->type) - 1 ? vl : sizeof(s->type) - 1;

		memcpy(s->type, v, k);
		s->type[k] = '\0';
		if (memchr(s->type, '\0', k) != NULL)
			s->type[0] = '\0';
	} else if (fl == 2 && memcmp(l, "id", 2) == 0) {
		if (memchr(v, '\0', vl) == NULL && vl < sizeof(s->id)) {
			memcpy(s->id, v, vl);
			s->id[vl] = '\0';
		}
	} else if (fl == 5 && memcmp(l, "retry", 5) == 0) {
		long ms = 0;
		size_t i;

		for (i = 0; i < vl && v[i] >= '0' && v[i] <= '9' &&
		    ms < 100000000; i++)
			ms = ms * 10 + (v[i] - '0');
		if (vl > 0 && i == vl)
			s->retry_ms = ms;
	}
	return 0;			/* unknown fields are ignored */
}

static int
sse_end_line(struct ctlsse *s)
{
	int rc = 0;

	if (s->toolong) {
		s->toolong = 0;
		rc = -EMSGSIZE;
	} else {
		rc = sse_line(s, s->line ? s->line : "", s->linelen);
	}
	s->linelen = 0;
	return rc;
}

int
ctlsse_feed(struct ctlsse *s, const char *p, size_t n)
{
	static const unsigned char bom[3] = { 0xef, 0xbb, 0xbf };
	int rc = 0, r;

	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (!s->started) {
			if ((unsigned char)c == bom[s->bom]) {
				if (++s->bom == 3)
					s->started = 1;
				continue;
			}
			s->started = 1;
			if (s->bom > 0) {	/* not a BOM after all */
				int k = s->bom;

				s->bom = 0;
				if ((r = ctlsse_feed(s, (const char *)bom,
				    (size_t)k)) < 0)
					rc = r;
			}
		}
		if (c == '\n' && s->cr) {
			s->cr = 0;
			continue;
		}
		s->cr = c == '\r';
		if (c == '\n' || c == '\r') {
			if ((r = sse_end_line(s)) < 0)
				rc = r;
			continue;
		}
		if (s->toolong)
			continue;
		if (s->linelen + 1 >= CTLSSE_LINE_MAX) {
			s->toolong = 1;
			s->linelen = 0;
			continue;
		}
		if (s->linelen + 1 >= s->linecap) {
			s->linecap = s->linecap ? s->linecap * 2 : 256;
			s->line = xrealloc(s->line, s->linecap);
		}
		s->line[s->linelen++] = c;
	}
	return rc;
}
