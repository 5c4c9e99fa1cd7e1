/*
 * ctlsse.h - a parser of a server-sent events stream (text/event-stream,
 * WHATWG HTML "Server-sent events" 9.2.6), as tocsinctl watch reads
 * GET /api/v1/events: fed the response body as it arrives, in pieces of
 * any size, it calls back once per dispatched event.
 *
 * The rules kept: lines end in CRLF, LF or CR; a line starting with ':'
 * is a comment (the server's keepalive); "field: value" with one space
 * after the colon dropped; `data` lines are joined with '\n'; `event`
 * names the type (default "message"); `id` sets the last event id (kept
 * across events, not set by an id holding a NUL); `retry` is read as a
 * reconnection delay in ms; an empty line dispatches the event when it
 * has data.  A UTF-8 BOM at the very start is skipped.
 *
 * Bounded: a line longer than CTLSSE_LINE_MAX or an event's data over
 * CTLSSE_DATA_MAX is -EMSGSIZE, and that event is dropped (the caller
 * should reconnect: the stream is not what tocsind sends).  Fuzzed by
 * tests/fuzz/fuzz_ctlsse.c.
 */
#ifndef TOCSIN_CTLSSE_H
#define TOCSIN_CTLSSE_H

#include <stddef.h>

#define CTLSSE_LINE_MAX	(1u << 20)	/* bytes of one line */
#define CTLSSE_DATA_MAX	(1u << 20)	/* bytes of one event's data */
#define CTLSSE_ID_MAX	1024		/* bytes of an event id (tocsind's:
					 * up to 64 shards x 14) */

/* One event: type ("message" if none was named), its data (NUL-ended,
 * datalen bytes) and the last event id ("" when none yet). */
typedef void ctlsse_event_fn(void *arg, const char *type, const char *data,
	    size_t datalen, const char *id);

struct ctlsse {
	char		*line;		/* the line being read (malloc'd) */
	size_t		 linelen, linecap;
	int		 cr;		/* the last byte was a CR */
	int		 started;	/* a byte has been read (BOM check) */
	int		 bom;		/* BOM bytes matched so far */
	int		 toolong;	/* the current line is being dropped */
	char		*data;		/* the event's data so far */
	size_t		 datalen, datacap;
	int		 hasdata;	/* a data field was seen */
	int		 dropping;	/* the event outgrew its bound: its
					 * data is skipped until its end */
	char		 type[64];	/* the event field, or "" */
	char		 id[CTLSSE_ID_MAX]; /* the last event id */
	long		 retry_ms;	/* the last retry field, or -1 */
	ctlsse_event_fn	*fn;
	void		*arg;
};

/* A parser at the start of a stream; fn(arg, ...) gets each event. */
void	 ctlsse_init(struct ctlsse *s, ctlsse_event_fn *fn, void *arg);
/* Frees its buffers (s may be inited again). */
void	 ctlsse_fini(struct ctlsse *s);
/*
 * Takes n bytes of the stream; 0, or -EMSGSIZE when a line or an event
 * was over its bound (everything else in the bytes is still taken).
 */
int	 ctlsse_feed(struct ctlsse *s, const char *p, size_t n);

#endif
