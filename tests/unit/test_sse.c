/*
 * test_sse.c - daemon/sse, the event stream, without a socket: ids
 * (format, parse, one spelling, another shard count); and the resume
 * logic on real journals (two shards' stores) fed through the real pump
 * (daemon/publish) with hand-made EVENT records: a fresh client gets
 * what comes after it connected; a client resuming from any event's id
 * gets exactly the events after it, per shard in order, from the memory
 * tail or, once the tail has moved past it, from the journals; a
 * "restarted" stream (a new sse over the same journals, the pump offering
 * old records again) resumes an old id exactly and skips the replays; a
 * malformed id, another shard count, a position ahead of the journal,
 * one inside a record or one the journal trimmed after a snapshot get
 * `event: reset` and then live events; a client that
 * does not read is closed after SSE_CLIENT_BUF and resumes exactly from
 * the last id it got; max_streams; keepalive blocks carry a fresh id;
 * the route through http_handle (503 before the start, the header over
 * the query, HEAD, a bad query 400, the client gone with the response).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "correlator/fleet.h"
#include "daemon/clock.h"
#include "daemon/journal.h"
#include "daemon/mem.h"
#include "daemon/publish.h"
#include "daemon/sse.h"
#include "daemon/store.h"

/* ---- ids ---- */

Test(sse, id_round_trip_and_one_spelling)
{
	uint64_t v[3] = { 0, 31, UINT64_MAX }, w[3];
	char buf[SSE_ID_MAX];
	unsigned got;
	size_t n = sse_id_format(v, 3, buf);

	cr_assert_str_eq(buf, "0.v.fvvvvvvvvvvvv");
	cr_assert_eq(n, strlen(buf));
	cr_assert_eq(sse_id_parse(buf, n, w, 3, &got), 0);
	cr_assert_eq(got, 3);
	cr_assert_arr_eq(v, w, sizeof(v));
	/* another shard count: well formed, -ERANGE with the count */
	cr_assert_eq(sse_id_parse(buf, n, w, 2, &got), -ERANGE);
	cr_assert_eq(got, 3);
	cr_assert_eq(sse_id_parse("10", 2, w, 1, &got), 0);
	cr_assert_eq(w[0], 32);
	{
		static const char *const bad[] = { "", ".", "1.", ".1", "1..2",
		    "01", "00", "1.02", "A", "1,2", "w", "1 2", " 1",
		    "g000000000000" /* 2^64 */, "1-2", "1.2\n" };

		for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
			cr_expect_eq(sse_id_parse(bad[i], strlen(bad[i]), w, 2,
			    &got), -EINVAL, "\"%s\"", bad[i]);
	}
	{
		char many[SSE_ID_MAX + 8];
		size_t o = 0;

		for (int i = 0; i < SSE_MAX_SHARDS + 1; i++)
			o += (size_t)snprintf(many + o, sizeof(many) - o,
			    "%s1", i ? "." : "");
		cr_expect_eq(sse_id_parse(many, o, w, 2, &got), -EINVAL,
		    "more shards than a daemon has");
	}
}

/* ---- a stream over real journals ---- */

#define NSH	2

static char Dir[] = "/tmp/tocsin-sse-XXXXXX";
static struct ev_loop *Loop;
static struct fleet *Fl;
static struct store *St[NSH];
static struct publish *P;
static struct sse *E;
static unsigned Seq[NSH][4];	/* per (shard, incident): last seq */

static void
stores_open(void)
{
	char err[256], d[64];

	for (unsigned s = 0; s < NSH; s++) {
		struct store_config sc;

		memset(&sc, 0, sizeof(sc));
		snprintf(d, sizeof(d), "%s/shard-%u", Dir, s);
		sc.dir = d;
		sc.segment_bytes = 64u << 10;	/* so a trim removes some */
		St[s] = store_open(&sc, s, Fl, err, sizeof(err));
		cr_assert_not_null(St[s], "%s", err);
	}
}

/* A new stream (and pump) over the journals, as tocsind starts one. */
static void
stream_start(uint32_t max_streams)
{
	struct journal *js[NSH];
	int idx;

	E = sse_new(NSH, max_streams);
	P = publish_new(Loop, St, NSH, NULL, NULL);
	idx = publish_add(P, "sse");
	publish_attach(P, idx, sse_sink(E, publish_host(P, idx)));
	for (unsigned s = 0; s < NSH; s++)
		js[s] = store_journal(St[s]);
	sse_start(E, Loop, js);
	publish_start(P);
	publish_pump(P);
}

static void
stream_stop(void)
{
	publish_free(P);
	sse_free(E);
	P = NULL;
	E = NULL;
}

static void
setup(void)
{
	cr_assert_not_null(mkdtemp(Dir));
	Loop = ev_loop_new(EVFLAG_AUTO);
	Fl = fleet_new();
	memset(Seq, 0, sizeof(Seq));
	stores_open();
	stream_start(4);
}

static void
teardown(void)
{
	char cmd[128];

	stream_stop();
	for (unsigned s = 0; s < NSH; s++)
		store_close(St[s]);
	fleet_free(Fl);
	ev_loop_destroy(Loop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", Dir);
	cr_expect_eq(system(cmd), 0);
	strcpy(Dir, "/tmp/tocsin-sse-XXXXXX");
}

TestSuite(sse_stream, .init = setup, .fini = teardown, .timeout = 60);

/* Appends v's n bytes to p at *o. */
static void
put(uint8_t *p, size_t *o, const void *v, size_t n)
{
	memcpy(p + *o, v, n);
	*o += n;
}

static void
put_cstr(uint8_t *p, size_t *o, const char *s)
{
	uint32_t n = (uint32_t)strlen(s) + 1;

	put(p, o, &n, sizeof(n));
	put(p, o, s, n);
}

/*
 * Journals an EVENT record on shard s for incident k (its next seq), as
 * daemon/store lays one out (store_put_event), and a tick after it (an
 * input: the stream passes it by); pad bytes of JSON.
 */
static uint64_t
event(unsigned s, unsigned k, size_t pad)
{
	struct journal *j = store_journal(St[s]);
	uint8_t b[8192], tick[sizeof(int64_t) + 1];
	char json[4096], id[32];
	size_t o = 0;
	uint8_t u8 = 0;
	uint64_t seq = ++Seq[s][k];
	int64_t t = 1000;
	uint32_t len, nspans = 0;
	uint64_t pos;

	cr_assert_lt(pad, 3000);
	snprintf(id, sizeof(id), "INC-%u-%u", s, k);
	len = (uint32_t)snprintf(json, sizeof(json), "{\"schema\":\"tocsin."
	    "incident/1\",\"seq\":%" PRIu64 ",\"incident\":{\"id\":\"%s\"},"
	    "\"pad\":\"%*s\"}", seq, id, (int)pad, "");
	for (int i = 0; i < 4; i++)
		put(b, &o, &u8, 1);	/* type, state, severity, live */
	put(b, &o, &seq, sizeof(seq));
	for (int i = 0; i < 3; i++)
		put(b, &o, &t, sizeof(t));
	put_cstr(b, &o, id);
	put_cstr(b, &o, "S1");
	put_cstr(b, &o, "north");
	put(b, &o, &len, sizeof(len));
	put(b, &o, json, len);
	put(b, &o, &nspans, sizeof(nspans));
	pos = journal_append(j, STORE_EVENT, b, o);
	/* an input between the events, as the store writes a tick: its
	 * time and the catch-up flag */
	memcpy(tick, &t, sizeof(t));
	tick[sizeof(t)] = 0;
	(void)journal_append(j, STORE_TICK, tick, sizeof(tick));
	return pos;
}

/* Makes what was journaled durable and offers it (the pump). */
static void
flush(void)
{
	for (unsigned s = 0; s < NSH; s++)
		cr_assert_eq(journal_flush(store_journal(St[s]), 1), 0);
	publish_pump(P);
	while (!publish_idle(P))
		publish_pump(P);
}

/* What a client read, parsed into SSE blocks. */
struct got {
	char	 last_id[SSE_ID_MAX];	/* the EventSource's Last-Event-ID */
	char	 ev_id[64][SSE_ID_MAX];	/* the id after event i (first 64) */
	unsigned ev_s[64], ev_k[64], ev_seq[64]; /* and its incident, seq */
	unsigned n;			/* incident events */
	unsigned seq[NSH][4];		/* last seq per incident */
	unsigned resets, keepalives;
	int	 ended;			/* read() said END */
	char	 reason[256];
	int	 gaps_ok;		/* an incident's seq may jump ahead */
	unsigned gaps;			/* ... and did, so many times */
};

/*
 * Reads c until it has nothing (0) or ends; parses each block and checks
 * every incident's seq is the one after the last (nothing missed, nothing
 * twice) starting from g->seq.
 */
static void
drain(struct sse_client *c, struct got *g)
{
	static char buf[1 << 22];
	size_t n = 0;
	ssize_t k;
	char *p, *blk;

	while ((k = sse_client_read(c, buf + n, 1000)) > 0) {
		n += (size_t)k;
		cr_assert_lt(n + 1000, sizeof(buf));
	}
	if (k == HTTP_STREAM_END)
		g->ended = 1;
	buf[n] = '\0';
	for (p = buf; (blk = strstr(p, "\n\n")) != NULL || *p != '\0';
	    p = blk + 2) {
		char *line, *save = NULL, id[SSE_ID_MAX] = "", ev[32] = "";
		char *data = NULL;

		cr_assert_not_null(blk, "a partial block: %s", p);
		*blk = '\0';
		for (line = strtok_r(p, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save)) {
			if (strncmp(line, "id: ", 4) == 0)
				snprintf(id, sizeof(id), "%s", line + 4);
			else if (strncmp(line, "event: ", 7) == 0)
				snprintf(ev, sizeof(ev), "%s", line + 7);
			else if (strncmp(line, "data: ", 6) == 0)
				data = line + 6;
			else if (strcmp(line, ": keepalive") == 0)
				g->keepalives++;
		}
		if (id[0] != '\0')
			snprintf(g->last_id, sizeof(g->last_id), "%s", id);
		if (strcmp(ev, "reset") == 0) {
			json_t *j = json_loads(data, 0, NULL);

			cr_assert_not_null(j, "reset data: %s", data);
			snprintf(g->reason, sizeof(g->reason), "%s",
			    json_string_value(json_object_get(j, "reason")));
			json_decref(j);
			g->resets++;
		} else if (strcmp(ev, "incident") == 0) {
			json_t *j = json_loads(data, 0, NULL);
			unsigned s, kk, seq;

			cr_assert_not_null(j, "event data: %s", data);
			cr_assert_neq(id[0], '\0', "an event without an id");
			cr_assert_eq(sscanf(json_string_value(json_object_get(
			    json_object_get(j, "incident"), "id")), "INC-%u-%u",
			    &s, &kk), 2);
			seq = (unsigned)json_integer_value(json_object_get(j,
			    "seq"));
			if (g->gaps_ok && seq > g->seq[s][kk] + 1)
				g->gaps++;
			else
				cr_assert_eq(seq, g->seq[s][kk] + 1, "INC-%u-%u: "
				    "seq %u after %u", s, kk, seq,
				    g->seq[s][kk]);
			g->seq[s][kk] = seq;
			if (g->n < 64) {
				snprintf(g->ev_id[g->n], SSE_ID_MAX, "%s", id);
				g->ev_s[g->n] = s;
				g->ev_k[g->n] = kk;
				g->ev_seq[g->n] = seq;
			}
			g->n++;
			json_decref(j);
		}
	}
}

/* Every incident's seq in g is the last journaled: nothing missing. */
static void
expect_all(const struct got *g)
{
	for (unsigned s = 0; s < NSH; s++)
		for (unsigned k = 0; k < 4; k++)
			cr_expect_eq(g->seq[s][k], Seq[s][k], "INC-%u-%u: got "
			    "up to %u of %u", s, k, g->seq[s][k], Seq[s][k]);
}

static struct sse_client *
open_c(const char *last)
{
	struct sse_client *c;

	cr_assert_eq(sse_client_open(E, last, &c), 0);
	return c;
}

Test(sse_stream, fresh_client_gets_what_comes_after_it)
{
	struct sse_client *c;
	struct got g;

	event(0, 0, 0);
	flush();
	memset(&g, 0, sizeof(g));
	c = open_c(NULL);
	drain(c, &g);
	cr_assert_eq(g.n, 0, "before it connected");
	cr_assert_neq(g.last_id[0], '\0', "an id-only block at the start");
	/* the client starts after INC-0-0 seq 1 */
	g.seq[0][0] = 1;
	for (int i = 0; i < 5; i++)
		event((unsigned)i % NSH, 1, 10);
	flush();
	drain(c, &g);
	cr_assert_eq(g.n, 5);
	expect_all(&g);
	sse_keepalive(E);
	drain(c, &g);
	cr_assert_eq(g.keepalives, 1);
	sse_client_close(c);
}

/*
 * From every event's id, a resume gets exactly the events after it
 * (from memory: the tail covers all of them).
 */
Test(sse_stream, resume_from_any_id_from_memory)
{
	struct sse_client *c;
	struct got g, all;
	struct sse_stats x;

	memset(&all, 0, sizeof(all));
	c = open_c(NULL);
	for (int i = 0; i < 20; i++)
		event((unsigned)(i * 7) % NSH, (unsigned)i % 4, (size_t)i);
	flush();
	drain(c, &all);
	sse_client_close(c);
	cr_assert_eq(all.n, 20);
	for (unsigned i = 0; i < all.n; i++) {
		memset(&g, 0, sizeof(g));
		/* events up to i were seen: the seq check starts there */
		for (unsigned k = 0; k <= i; k++)
			g.seq[all.ev_s[k]][all.ev_k[k]] = all.ev_seq[k];
		c = open_c(all.ev_id[i]);
		drain(c, &g);
		cr_assert_eq(g.n, 19 - i, "from event %u: %u events", i, g.n);
		cr_assert_eq(g.resets, 0);
		expect_all(&g);
		sse_client_close(c);
	}
	sse_stats(E, &x);
	cr_assert_eq(x.resumed_tail, 20);
	cr_assert_eq(x.resumed_journal, 0);
	cr_assert_eq(x.streams, 0);
}

/*
 * The seq check of drain() across two connections: the second starts
 * with the first's seqs, so a missed or repeated event fails it.
 */
static void
resume_exact(const char *id, struct got *g, int want_journal)
{
	struct sse_stats before, after;
	struct sse_client *c;

	sse_stats(E, &before);
	c = open_c(id);
	drain(c, g);
	sse_stats(E, &after);
	cr_assert_eq(g->resets, 0, "reset: %s", g->reason);
	if (want_journal)
		cr_assert_eq(after.resumed_journal, before.resumed_journal + 1);
	else
		cr_assert_eq(after.resumed_tail, before.resumed_tail + 1);
	/* still live after the catch-up */
	event(1, 2, 5);
	event(0, 3, 5);
	flush();
	drain(c, g);
	expect_all(g);
	sse_client_close(c);
}

/* A new client that got 10 small events (incident i % k of shard i % NSH),
 * recorded in g. */
static struct sse_client *
ten_events(struct got *g, unsigned k)
{
	struct sse_client *c;

	memset(g, 0, sizeof(*g));
	c = open_c(NULL);
	for (int i = 0; i < 10; i++)
		event((unsigned)i % NSH, (unsigned)i % k, 0);
	flush();
	drain(c, g);
	cr_assert_eq(g->n, 10);
	return c;
}

Test(sse_stream, resume_from_the_journal_once_the_tail_moved_past)
{
	struct got g;

	sse_client_close(ten_events(&g, 3));
	/* more than the tail holds, some of it big */
	for (int i = 0; i < SSE_TAIL_EVENTS + 500; i++) {
		event((unsigned)(i / 3) % NSH, (unsigned)i % 4,
		    i % 100 == 0 ? 2500 : 0);
		if (i % 1000 == 0)
			flush();
	}
	flush();
	resume_exact(g.last_id, &g, 1);
}

/*
 * Events of 1.5-3 KB: more bytes than the tail's buffer holds, far fewer
 * events than it counts, so their JSON wraps around the buffer.  An id
 * from just before the last 300 still resumes from memory, exactly (a
 * resume from before what the tail holds is the test above).
 */
Test(sse_stream, the_tail_wraps_its_bytes)
{
	struct sse_client *c;
	struct got old, mid;
	size_t bytes = 0;

	c = ten_events(&old, 4);
	mid = old;
	mid.n = 0;
	for (int i = 0; i < 2000; i++) {
		size_t pad = 1500 + (size_t)(i * 37) % 1400;

		event((unsigned)i % NSH, (unsigned)(i / NSH) % 4, pad);
		bytes += pad + 100;
		if (i % 100 == 99) {	/* the live client keeps up */
			flush();
			drain(c, &mid);
		}
	}
	flush();
	drain(c, &mid);
	sse_client_close(c);
	cr_assert_eq(mid.n, 2000);
	cr_assert_gt(bytes, SSE_TAIL_BYTES, "the bytes wrap");
	for (int i = 0; i < 300; i++)
		event((unsigned)i % NSH, (unsigned)i % 4, 2000);
	flush();
	resume_exact(mid.last_id, &mid, 0);
}

Test(sse_stream, resume_across_a_restart_skips_the_pump_replays)
{
	struct sse_client *c;
	struct got g;

	memset(&g, 0, sizeof(g));
	c = open_c(NULL);
	for (int i = 0; i < 6; i++)
		event((unsigned)i % NSH, 0, 0);
	flush();
	drain(c, &g);
	sse_client_close(c);
	cr_assert_eq(g.n, 6);
	/* missed while "down": journaled, not offered */
	for (int i = 0; i < 7; i++)
		event((unsigned)i % NSH, 1, 0);
	for (unsigned s = 0; s < NSH; s++)
		cr_assert_eq(journal_flush(store_journal(St[s]), 1), 0);
	/* a new stream and pump, its saved position lost: the pump offers
	 * everything again, which the stream must not send twice */
	stream_stop();
	for (unsigned s = 0; s < NSH; s++) {
		char path[128];

		snprintf(path, sizeof(path), "%s/shard-%u/sse.pos", Dir, s);
		(void)unlink(path);
	}
	stream_start(4);
	resume_exact(g.last_id, &g, 1);
}

static void
expect_reset(const char *id, const char *why)
{
	struct sse_client *c = open_c(id);
	struct got g;

	memset(&g, 0, sizeof(g));
	g.seq[0][0] = Seq[0][0];
	drain(c, &g);
	cr_assert_eq(g.resets, 1, "%s", id);
	cr_assert(strstr(g.reason, why) != NULL, "%s: %s", id, g.reason);
	cr_assert_neq(g.last_id[0], '\0', "an id after the reset");
	/* then live */
	event(0, 0, 0);
	flush();
	drain(c, &g);
	cr_assert_eq(g.n, 1);
	sse_client_close(c);
}

Test(sse_stream, ids_that_cannot_resume_get_a_reset)
{
	char id[SSE_ID_MAX];
	uint64_t v[NSH];
	struct sse_stats x;

	event(0, 0, 0);
	flush();
	stream_stop();			/* so the tail covers nothing */
	stream_start(4);
	expect_reset("zz", "not an id");
	expect_reset("0.0.0", "names 3 shards");
	v[0] = journal_durable(store_journal(St[0])) + 100;
	v[1] = 0;
	sse_id_format(v, NSH, id);
	expect_reset(id, "ahead of shard 0");
	expect_reset("1.0", "not a position of this journal");
	sse_stats(E, &x);
	cr_assert_eq(x.resets, 4);
}

Test(sse_stream, an_id_the_journal_trimmed_gets_a_reset)
{
	struct sse_client *c;
	struct got g;
	static const char blob[] = "engine";

	memset(&g, 0, sizeof(g));
	c = open_c(NULL);
	event(0, 0, 0);
	event(1, 0, 0);
	flush();
	drain(c, &g);
	sse_client_close(c);
	/* a snapshot after more than a segment, and the trim after it */
	for (int i = 0; i < 300; i++)
		event(0, 1, 500);
	flush();
	cr_assert_eq(journal_snapshot(store_journal(St[0]), blob,
	    sizeof(blob)), 0);
	cr_assert_gt(journal_trim(store_journal(St[0]), UINT64_MAX), 0);
	stream_stop();			/* the tail covers nothing */
	stream_start(4);
	expect_reset(g.last_id, "no longer holds position");
}

Test(sse_stream, a_client_that_does_not_read_is_closed_and_resumes)
{
	struct sse_client *c, *c2;
	struct got g;
	struct sse_stats x;
	unsigned n = 0;

	memset(&g, 0, sizeof(g));
	c = open_c(NULL);
	drain(c, &g);
	/* 2.5 KB events until the client's buffer is full */
	for (;;) {
		event(n % NSH, n % 4, 2500);
		n++;
		if (n % 50 == 0) {
			flush();
			sse_stats(E, &x);
			if (x.slow_closed > 0)
				break;
		}
		cr_assert_lt(n, 10000);
	}
	for (int i = 0; i < 30; i++)
		event((unsigned)i % NSH, 3, 0);
	flush();
	/* what it had queued, then the end */
	drain(c, &g);
	cr_assert(g.ended);
	cr_assert_lt(g.n, n + 30);
	cr_assert_gt(g.n, 100);
	sse_client_close(c);
	/* the rest from its last id: nothing missed, nothing twice */
	c2 = open_c(g.last_id);
	drain(c2, &g);
	cr_assert_eq(g.resets, 0);
	expect_all(&g);
	cr_assert_eq(g.n, n + 30);
	sse_client_close(c2);
}

/*
 * Overwrites one byte at position pos of shard s's journal, in the
 * segment that holds it (a segment's name is its first position).
 */
static void
flip(unsigned s, uint64_t pos)
{
	char path[160];
	unsigned char b = 0;
	uint64_t seg = 0;
	struct dirent *de;
	DIR *d;
	int fd;

	snprintf(path, sizeof(path), "%s/shard-%u", Dir, s);
	cr_assert_not_null(d = opendir(path));
	while ((de = readdir(d)) != NULL) {
		unsigned long long v;
		char tail[8];

		if (sscanf(de->d_name, "%16llx.%4s", &v, tail) == 2 &&
		    strcmp(tail, "jnl") == 0 && v <= pos && v >= seg)
			seg = v;
	}
	closedir(d);
	snprintf(path, sizeof(path), "%s/shard-%u/%016llx.jnl", Dir, s,
	    (unsigned long long)seg);
	cr_assert_geq(fd = open(path, O_RDWR), 0, "%s", path);
	cr_assert_eq(pread(fd, &b, 1, (off_t)(pos - seg)), 1);
	b ^= 0xff;
	cr_assert_eq(pwrite(fd, &b, 1, (off_t)(pos - seg)), 1);
	close(fd);
}

/*
 * A record that no longer checks (a bit flipped on disk after the start),
 * met by a resume from the journal after records it read: that event is
 * lost to the client, logged and counted, and every event after it still
 * comes, without a reset (before, the client was reset and lost every
 * event it was catching up on).
 */
Test(sse_stream, a_record_that_does_not_check_costs_a_resume_that_event_alone)
{
	struct sse_stats before, after;
	struct sse_client *c;
	struct got g;
	uint64_t bad = 0;

	sse_client_close(ten_events(&g, 3));
	for (int i = 0; i < SSE_TAIL_EVENTS + 500; i++) {
		uint64_t pos = event((unsigned)i % NSH, (unsigned)i % 4, 0);

		if (i == 101)
			bad = pos;	/* shard 1 */
		if (i % 1000 == 0)
			flush();
	}
	flush();
	flip(1, bad + JOURNAL_HDR + 20);
	sse_stats(E, &before);
	g.gaps_ok = 1;
	c = open_c(g.last_id);
	drain(c, &g);
	sse_stats(E, &after);
	cr_assert_eq(g.resets, 0, "reset: %s", g.reason);
	cr_assert_eq(after.resumed_journal, before.resumed_journal + 1);
	cr_assert_eq(after.skipped, before.skipped + 1);
	cr_assert_eq(g.gaps, 1, "seq jumped %u times", g.gaps);
	cr_assert_eq(g.n, 10 + SSE_TAIL_EVENTS + 500 - 1, "got %u", g.n);
	/* and live after it */
	event(1, 2, 5);
	flush();
	drain(c, &g);
	expect_all(&g);
	sse_client_close(c);
}

/*
 * The same at the client's own id, before any record was read there:
 * nothing tells a flipped bit from a position this server never gave, so
 * the client is reset (docs/http.md "Reset").
 */
Test(sse_stream, a_bad_record_at_the_id_itself_gets_a_reset)
{
	uint64_t v[NSH];
	unsigned got;
	struct got g;

	sse_client_close(ten_events(&g, 3));
	for (int i = 0; i < SSE_TAIL_EVENTS + 10; i++)
		(void)event((unsigned)i % NSH, (unsigned)i % 4, 0);
	flush();
	cr_assert_eq(sse_id_parse(g.last_id, strlen(g.last_id), v, NSH, &got),
	    0);
	flip(0, v[0] + JOURNAL_HDR);
	expect_reset(g.last_id, "not a position of this journal");
}

/* The route through http_handle (no socket), a header table for it. */
static const char *Hdr;

static const char *
hdr(void *ctx, const char *name)
{
	(void)ctx;
	return strcasecmp(name, "Last-Event-ID") == 0 ? Hdr : NULL;
}

static int
route(const char *method, const char *url, const char *last,
    struct http_resp *rs)
{
	struct http_route r[SSE_NROUTES];
	struct http_in in = { method, url, NULL, "", 0, 0, hdr, NULL };

	Hdr = last;
	cr_assert_eq(sse_routes(E, r), SSE_NROUTES);
	http_handle(r, SSE_NROUTES, NULL, 1024, &in, rs);
	return rs->status;
}

Test(sse_stream, the_route)
{
	struct http_resp rs;
	struct sse_stats x;
	struct sse *started = E;

	/* before sse_start: 503 */
	E = sse_new(NSH, 4);
	cr_assert_eq(route("GET", "/api/v1/events", NULL, &rs), 503);
	cr_assert_gt(rs.retry_after, 0);
	http_resp_fini(&rs);
	sse_free(E);
	E = started;
	cr_assert_eq(route("GET", "/api/v1/events", NULL, &rs), 200);
	cr_assert_str_eq(rs.ctype, "text/event-stream");
	cr_assert_not_null(rs.stream);
	sse_stats(E, &x);
	cr_assert_eq(x.streams, 1);
	http_resp_fini(&rs);		/* never sent: the client is gone */
	sse_stats(E, &x);
	cr_assert_eq(x.streams, 0);
	cr_assert_eq(x.opened, 1);
	/* the header wins over the query; each way a bad id is a reset */
	cr_assert_eq(route("GET", "/api/v1/events?last_event_id=zz", "0.0",
	    &rs), 200);
	http_resp_fini(&rs);
	sse_stats(E, &x);
	cr_assert_eq(x.resets, 0);
	cr_assert_eq(route("GET", "/api/v1/events?last_event_id=zz", NULL,
	    &rs), 200);
	http_resp_fini(&rs);
	cr_assert_eq(route("GET", "/api/v1/events", "zz", &rs), 200);
	http_resp_fini(&rs);
	sse_stats(E, &x);
	cr_assert_eq(x.resets, 2);
	/* HEAD: the headers, no stream; a query that does not decode: 400 */
	cr_assert_eq(route("HEAD", "/api/v1/events", NULL, &rs), 200);
	cr_assert_null(rs.stream);
	http_resp_fini(&rs);
	cr_assert_eq(route("GET", "/api/v1/events?last_event_id=%zz", NULL,
	    &rs), 400);
	http_resp_fini(&rs);
	sse_stats(E, &x);
	cr_assert_eq(x.opened, 4);
	cr_assert_eq(x.streams, 0);
}

Test(sse_stream, max_streams)
{
	struct sse_client *c[4], *x;
	struct sse_stats st;

	for (int i = 0; i < 4; i++)
		c[i] = open_c(NULL);
	cr_assert_eq(sse_client_open(E, NULL, &x), -EBUSY);
	sse_client_close(c[0]);
	c[0] = open_c(NULL);
	sse_stats(E, &st);
	cr_assert_eq(st.refused, 1);
	cr_assert_eq(st.streams, 4);
	for (int i = 0; i < 4; i++)
		sse_client_close(c[i]);
}

/* ---- memory mode: a correlator's stream, no journal ---- */

#define EPOCH	((uint64_t)1796500000000 << 16 | 4242)

static struct pub_sink *Msink;

static void
msetup(void)
{
	static const struct pub_host host;	/* nothing done to report */

	memset(Seq, 0, sizeof(Seq));
	E = sse_new(1, 4);
	Msink = sse_sink(E, &host);
	sse_start_memory(E, EPOCH);
}

static void
mteardown(void)
{
	sse_free(E);
	E = NULL;
}

TestSuite(sse_memory, .init = msetup, .fini = mteardown, .timeout = 60);

/* Offers a record of partition p as the stage hands it over (pos 0). */
static void
moffer(unsigned p, uint8_t kind, const char *json)
{
	struct pub_rec r;

	memset(&r, 0, sizeof(r));
	r.shard = p;
	r.kind = kind;
	r.json = json;
	r.jsonlen = json != NULL ? strlen(json) : 0;
	cr_assert_eq(Msink->ops->offer(Msink, &r), 0);
}

/* The next event of incident INC-p-k, as the stage commits it, with pad
 * bytes of padding. */
static void
mevent_pad(unsigned p, unsigned k, int pad)
{
	char json[4096];

	cr_assert_lt(pad, 3000);
	snprintf(json, sizeof(json), "{\"schema\":\"tocsin.incident/1\","
	    "\"seq\":%u,\"incident\":{\"id\":\"INC-%u-%u\"},\"pad\":"
	    "\"%*s\"}", ++Seq[p][k], p, k, pad, "");
	moffer(p, PUB_EVENT, json);
}

static void
mevent(unsigned p, unsigned k)
{
	mevent_pad(p, k, 0);
}

/*
 * Ids are "<epoch>.<n>"; a resume from any event's id gets exactly the
 * events after it from memory; an id of another start, one ahead, one
 * of the journals' shape or not an id at all gets a reset and then the
 * live events.
 */
Test(sse_memory, ids_carry_the_start_and_resume_from_memory)
{
	struct sse_client *c;
	struct got g, h;
	char want[SSE_ID_MAX], bad[4][SSE_ID_MAX];
	uint64_t v[2];
	const char *why[4] = { "another start", "ahead", "not an id",
	    "not an id" };

	memset(&g, 0, sizeof(g));
	c = open_c(NULL);
	for (unsigned i = 0; i < 12; i++)
		mevent(i % 2, i % 4);
	drain(c, &g);
	cr_assert_eq(g.n, 12);
	expect_all(&g);
	v[0] = EPOCH;
	v[1] = 12;
	sse_id_format(v, 2, want);
	cr_expect_str_eq(g.last_id, want);
	sse_client_close(c);

	for (unsigned from = 0; from < 12; from++) {
		memset(&h, 0, sizeof(h));
		/* what the client had: the events up to `from` */
		for (unsigned i = 0; i <= from; i++)
			h.seq[g.ev_s[i]][g.ev_k[i]] = g.ev_seq[i];
		c = open_c(g.ev_id[from]);
		drain(c, &h);
		cr_expect_eq(h.resets, 0);
		cr_expect_eq(h.n, 11 - from, "from event %u", from);
		expect_all(&h);
		sse_client_close(c);
	}

	v[0] = EPOCH + 1;
	v[1] = 3;
	sse_id_format(v, 2, bad[0]);
	v[0] = EPOCH;
	v[1] = 1000;
	sse_id_format(v, 2, bad[1]);
	snprintf(bad[2], SSE_ID_MAX, "5");	/* a journal's one shard */
	snprintf(bad[3], SSE_ID_MAX, "x.y");
	for (int i = 0; i < 4; i++) {
		memset(&h, 0, sizeof(h));
		memcpy(h.seq, Seq, sizeof(h.seq));
		c = open_c(bad[i]);
		mevent(1, 3);
		drain(c, &h);
		cr_expect_eq(h.resets, 1, "%s", bad[i]);
		cr_expect(strstr(h.reason, why[i]) != NULL, "%s: %s", bad[i],
		    h.reason);
		cr_expect_eq(h.n, 1, "live after the reset");
		sse_client_close(c);
	}
}

/*
 * A partition's dump (its incidents replaced without events: assigned,
 * rebuilt, revoked) resets every live client once its end comes; the
 * dump's states are not events; the stream goes on live after it.  A
 * client away during the dump is reset when it comes back, though the
 * tail still holds its id.
 */
Test(sse_memory, a_dump_resets_live_clients)
{
	struct sse_client *c[2], *away;
	struct got g[2], a;
	struct sse_stats st;

	for (int i = 0; i < 2; i++) {
		memset(&g[i], 0, sizeof(g[i]));
		c[i] = open_c(NULL);
	}
	memset(&a, 0, sizeof(a));
	away = open_c(NULL);
	mevent(0, 0);
	drain(away, &a);
	sse_client_close(away);
	moffer(1, PUB_DUMP_BEGIN, NULL);
	moffer(1, PUB_STATE, "{\"incident\":{\"id\":\"INC-1-0\"}}");
	for (int i = 0; i < 2; i++) {
		drain(c[i], &g[i]);
		cr_expect_eq(g[i].resets, 0, "not before the dump's end");
	}
	moffer(1, PUB_DUMP_END, NULL);
	mevent(0, 0);
	for (int i = 0; i < 2; i++) {
		drain(c[i], &g[i]);
		cr_expect_eq(g[i].resets, 1);
		cr_expect(strstr(g[i].reason, "partition 1's incidents were "
		    "replaced") != NULL, "%s", g[i].reason);
		cr_expect_eq(g[i].n, 2, "the events around it, no state");
		expect_all(&g[i]);
		sse_client_close(c[i]);
	}
	away = open_c(a.last_id);
	drain(away, &a);
	cr_expect_eq(a.resets, 1);
	cr_expect(strstr(a.reason, "replaced (assigned, rebuilt or revoked) "
	    "since the Last-Event-ID") != NULL, "%s", a.reason);
	cr_expect_eq(a.n, 1, "not the event after the dump, but its reset");
	sse_client_close(away);
	sse_stats(E, &st);
	cr_expect_eq(st.resets, 3);
}

/*
 * A resume whose missed events are more than a client's buffer (a slow
 * client closed, coming back) is served from the tail in turns, exactly;
 * one that the tail's evictions overtake meanwhile is reset.
 */
Test(sse_memory, a_resume_larger_than_the_buffer_comes_in_turns)
{
	struct sse_client *c;
	struct got g, h;
	struct sse_stats st;
	char *buf = xmalloc(SSE_CATCHUP_TURN + 8192);
	ssize_t k;
	int turns = 0;

	memset(&g, 0, sizeof(g));
	c = open_c(NULL);
	mevent(0, 0);
	drain(c, &g);
	sse_client_close(c);
	/* 3 MiB of events after it: more than SSE_CLIENT_BUF, in the tail */
	for (unsigned i = 0; i < 1500; i++)
		mevent_pad(1, i % 4, 2000);
	memset(&h, 0, sizeof(h));
	memcpy(h.seq, g.seq, sizeof(h.seq));
	c = open_c(g.last_id);
	drain(c, &h);
	cr_expect_eq(h.resets, 0, "%s", h.reason);
	cr_expect_eq(h.n, 1500);
	expect_all(&h);
	sse_client_close(c);
	sse_stats(E, &st);
	cr_expect_eq(st.resumed_tail, 1);

	/* again, and the tail evicts past the client between its reads */
	c = open_c(g.last_id);
	while ((k = sse_client_read(c, buf, SSE_CATCHUP_TURN + 8192)) > 0 &&
	    ++turns < 2)
		;
	for (unsigned i = 0; i < SSE_TAIL_EVENTS; i++)
		mevent(0, 1);
	memset(&h, 0, sizeof(h));
	memcpy(h.seq, Seq, sizeof(h.seq));
	h.gaps_ok = 1;
	drain(c, &h);
	cr_expect_eq(h.resets, 1);
	cr_expect(strstr(h.reason, "left memory while the client caught up") !=
	    NULL, "%s", h.reason);
	sse_client_close(c);
	free(buf);
}

/*
 * Once the tail no longer holds what follows an id, there is no journal
 * to read it from: a reset saying so.
 */
Test(sse_memory, an_id_the_tail_left_behind_gets_a_reset)
{
	struct sse_client *c;
	struct got g, h;

	memset(&g, 0, sizeof(g));
	c = open_c(NULL);
	mevent(0, 0);
	drain(c, &g);
	sse_client_close(c);
	cr_assert_eq(g.n, 1);
	for (unsigned i = 0; i < SSE_TAIL_EVENTS + 10; i++)
		mevent(1, i % 4);
	memset(&h, 0, sizeof(h));
	memcpy(h.seq, Seq, sizeof(h.seq));
	c = open_c(g.ev_id[0]);
	drain(c, &h);
	cr_expect_eq(h.resets, 1);
	cr_expect(strstr(h.reason, "no longer in memory") != NULL, "%s",
	    h.reason);
	cr_expect_eq(h.n, 0);
	sse_client_close(c);
}

/*
 * The costs docs/http.md quotes ("The event stream": costs), measured
 * with 1 KB events on two shards, only when TOCSIN_SSE_MEASURE is set
 * (it takes a few seconds and prints, it checks nothing; unset, it
 * passes at once):
 * the pump's offer per event with 0 and 16 live clients (each drained),
 * a resume from the journal's start (every record read, every event
 * sent) and a resume from the memory tail.
 */
static double
now_s(void)
{
	return clock_mono_us() / 1e6;
}

TestSuite(sse_measure, .timeout = 300);

Test(sse_measure, costs)
{
	enum { N = 50000 };
	struct sse_client *c[16], *r;
	struct got g;
	char first[SSE_ID_MAX];
	double t0, t1;
	static char buf[65536];
	ssize_t k;
	size_t bytes = 0;

	/* not cr_skip_test(): a skip leaks 48 bytes inside Criterion's
	 * runner, which LeakSanitizer turns into a failed ASan run */
	if (getenv("TOCSIN_SSE_MEASURE") == NULL)
		return;
	setup();
	stream_stop();
	stream_start(16);
	for (int nc = 0; nc <= 16; nc += 16) {
		for (int i = 0; i < nc; i++)
			c[i] = open_c(NULL);
		for (int i = 0; i < N; i++)
			event((unsigned)i % NSH, (unsigned)i % 4, 900);
		for (unsigned s = 0; s < NSH; s++)
			journal_flush(store_journal(St[s]), 1);
		t0 = now_s();
		publish_pump(P);
		while (!publish_idle(P)) {
			publish_pump(P);
			for (int i = 0; i < nc; i++)
				while (sse_client_read(c[i], buf, sizeof(buf)) > 0)
					;
		}
		t1 = now_s();
		fprintf(stderr, "MEASURE offer+drain %d clients: %.2f "
		    "us/event\n", nc, (t1 - t0) / N * 1e6);
		for (int i = 0; i < nc; i++)
			sse_client_close(c[i]);
	}
	/* resume from the journal: every event of the second batch */
	memset(&g, 0, sizeof(g));
	stream_stop();
	stream_start(16);
	{
		uint64_t v[NSH] = { 0, 0 };
		sse_id_format(v, NSH, first);
	}
	r = open_c(first);
	t0 = now_s();
	while ((k = sse_client_read(r, buf, sizeof(buf))) > 0)
		bytes += (size_t)k;
	t1 = now_s();
	{
		double jb = (double)(journal_durable(store_journal(St[0])) +
		    journal_durable(store_journal(St[1])));

		fprintf(stderr, "MEASURE journal resume of %d events (%.1f MB "
		    "journal, %.1f MB sent): %.3f s, %.2f us/event, %.0f MB/s "
		    "of journal\n", 2 * N, jb / 1e6, (double)bytes / 1e6,
		    t1 - t0, (t1 - t0) / (2 * N) * 1e6, jb / 1e6 / (t1 - t0));
	}
	sse_client_close(r);
	/* tail resume: the tail holds the last events */
	for (int i = 0; i < 2000; i++)
		event((unsigned)i % NSH, (unsigned)i % 4, 900);
	for (unsigned s = 0; s < NSH; s++)
		journal_flush(store_journal(St[s]), 1);
	{
		struct sse_client *a = open_c(NULL);
		char id0[SSE_ID_MAX];

		drain(a, &g);
		snprintf(id0, sizeof(id0), "%s", g.last_id);
		publish_pump(P);
		while (!publish_idle(P))
			publish_pump(P);
		sse_client_close(a);
		bytes = 0;
		t0 = now_s();
		r = open_c(id0);
		while ((k = sse_client_read(r, buf, sizeof(buf))) > 0)
			bytes += (size_t)k;
		t1 = now_s();
		fprintf(stderr, "MEASURE tail resume of %.1f MB: %.3f ms\n",
		    (double)bytes / 1e6, (t1 - t0) * 1e3);
		sse_client_close(r);
	}
	teardown();
}
