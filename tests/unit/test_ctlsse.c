/*
 * test_ctlsse.c - daemon/ctlsse, the event-stream parser of tocsinctl
 * watch, on canned streams: the shared contract's events (incident,
 * reset, keepalive comments), every line end, multi-line data, the last
 * id kept across events, retry, a BOM, events without data, and the same
 * events for any split of the stream; the bounds (a line or an event too
 * large is -EMSGSIZE, the stream goes on after it).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ctlsse.h"

struct evs {
	int	 n;
	char	 type[8][64];
	char	 data[8][256];
	char	 id[8][64];
};

static void
on_event(void *arg, const char *type, const char *data, size_t len,
    const char *id)
{
	struct evs *e = arg;

	cr_assert_lt(e->n, 8);
	cr_assert_eq(strlen(data), len);
	snprintf(e->type[e->n], sizeof(e->type[0]), "%s", type);
	snprintf(e->data[e->n], sizeof(e->data[0]), "%s", data);
	snprintf(e->id[e->n], sizeof(e->id[0]), "%s", id);
	e->n++;
}

/* Parses s in pieces of step bytes (0: at once). */
static int
run(const char *s, size_t len, size_t step, struct evs *e, struct ctlsse *p)
{
	int rc = 0, r;

	memset(e, 0, sizeof(*e));
	ctlsse_init(p, on_event, e);
	if (step == 0)
		step = len ? len : 1;
	for (size_t off = 0; off < len; off += step)
		if ((r = ctlsse_feed(p, s + off, len - off < step ? len - off :
		    step)) < 0)
			rc = r;
	return rc;
}

static const char contract[] =
	": keepalive\n\n"
	"id: 0:1:17\nevent: incident\ndata: {\"seq\":1,\"incident\":"
	"{\"id\":\"INC-0-1\"}}\n\n"
	": keepalive\n"
	"id: 0:1:42\nevent: incident\ndata: {\"seq\":2}\n\n"
	"event: reset\ndata: {\"reason\":\"journal rotated\"}\n\n";

Test(ctlsse, contract_stream)
{
	struct ctlsse p;
	struct evs e;

	cr_assert_eq(run(contract, strlen(contract), 0, &e, &p), 0);
	cr_assert_eq(e.n, 3);
	cr_assert_str_eq(e.type[0], "incident");
	cr_assert_str_eq(e.data[0], "{\"seq\":1,\"incident\":"
	    "{\"id\":\"INC-0-1\"}}");
	cr_assert_str_eq(e.id[0], "0:1:17");
	cr_assert_str_eq(e.id[1], "0:1:42");
	cr_assert_str_eq(e.type[2], "reset");
	cr_assert_str_eq(e.data[2], "{\"reason\":\"journal rotated\"}");
	cr_assert_str_eq(e.id[2], "0:1:42", "the last id stays");
	ctlsse_fini(&p);
}

Test(ctlsse, any_split_same_events)
{
	struct ctlsse p;
	struct evs whole, e;

	run(contract, strlen(contract), 0, &whole, &p);
	ctlsse_fini(&p);
	for (size_t step = 1; step < sizeof(contract); step++) {
		cr_assert_eq(run(contract, strlen(contract), step, &e, &p), 0);
		cr_assert_eq(e.n, whole.n, "step %zu", step);
		for (int i = 0; i < e.n; i++) {
			cr_assert_str_eq(e.data[i], whole.data[i]);
			cr_assert_str_eq(e.type[i], whole.type[i]);
			cr_assert_str_eq(e.id[i], whole.id[i]);
		}
		ctlsse_fini(&p);
	}
}

Test(ctlsse, line_ends_and_fields)
{
	static const char s[] =
		"\xef\xbb\xbf" "data:a\r\ndata:  b\rdata\n\r\n"	/* BOM, CR */
		"event: x\nid: 7\nretry: 2500\n\n"		/* no data */
		"data: y\nfoo: ignored\nid: bad\0id\n\n";
	struct ctlsse p;
	struct evs e;

	/* CRLF split across feeds is one line end, not two */
	for (size_t step = 0; step < 6; step++) {
		cr_assert_eq(run(s, sizeof(s) - 1, step, &e, &p), 0);
		cr_assert_eq(e.n, 2, "step %zu", step);
		cr_assert_str_eq(e.type[0], "message");
		cr_assert_str_eq(e.data[0], "a\n b\n");
		cr_assert_str_eq(e.type[1], "message", "event x had no data");
		cr_assert_str_eq(e.data[1], "y");
		cr_assert_str_eq(e.id[1], "7", "an id with a NUL is ignored");
		cr_assert_eq(p.retry_ms, 2500);
		ctlsse_fini(&p);
	}
}

Test(ctlsse, not_a_bom)
{
	static const char s[] = "\xef" "data: z\n\n";
	struct ctlsse p;
	struct evs e;

	cr_assert_eq(run(s, sizeof(s) - 1, 1, &e, &p), 0);
	cr_assert_eq(e.n, 0, "\\xefdata is an unknown field");
	ctlsse_fini(&p);
}

Test(ctlsse, bounds)
{
	size_t big = CTLSSE_LINE_MAX + 10;
	char *s = malloc(big + 64);
	struct ctlsse p;
	struct evs e;
	size_t off;

	/* a line over the bound: -EMSGSIZE, the stream goes on */
	memcpy(s, "data: ", 6);
	memset(s + 6, 'x', big);
	off = 6 + big;
	off += (size_t)sprintf(s + off, "\n\ndata: ok\n\n");
	cr_assert_eq(run(s, off, 4096, &e, &p), -EMSGSIZE);
	cr_assert_eq(e.n, 1);
	cr_assert_str_eq(e.data[0], "ok");
	ctlsse_fini(&p);
	/* many data lines over the event bound: dropped */
	ctlsse_init(&p, on_event, &e);
	memset(&e, 0, sizeof(e));
	memset(s, 'y', 1000);
	memcpy(s, "data: ", 6);
	s[1000] = '\n';
	for (int i = 0; i < (int)(CTLSSE_DATA_MAX / 900) + 10; i++)
		(void)ctlsse_feed(&p, s, 1001);
	cr_assert_eq(ctlsse_feed(&p, "\ndata: after\n\n", 14), 0);
	cr_assert_eq(e.n, 1);
	cr_assert_str_eq(e.data[0], "after");
	ctlsse_fini(&p);
	free(s);
}
