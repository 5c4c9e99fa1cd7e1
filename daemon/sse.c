/*
 * sse.c - see sse.h; docs/http.md "The event stream".
 *
 * State, under e->mu:
 *   front[s]      every record of shard s before front[s] was offered (or
 *                 was durable before sse_start): the live edge;
 *   tail          the last SSE_TAIL_EVENTS events (at most SSE_TAIL_BYTES
 *                 of JSON), all shards, in the order offered;
 *   tail_base[s]  every event of shard s in [tail_base[s], front[s]) is
 *                 in the tail (evicting one moves it to that one's end);
 *   clients       each with cur[s] (its id: it has every event of shard s
 *                 before cur[s]), a buffer of frames not yet written, and
 *                 a mode:
 *     LIVE     offer() appends every new event with pos >= cur[s] and
 *              moves cur[s] past every record (any kind), so the ids stay
 *              fresh;
 *     CATCHUP  its cursor is behind the tail: read() (HTTP thread) reads
 *              the journals from cur[s] itself, outside the mutex, and
 *              becomes LIVE once the tail covers the rest and it fits in
 *              the buffer (reading up to the durable end always gets
 *              there: durable >= front);
 *     CLOSING  its buffer would have gone past SSE_CLIENT_BUF: what is
 *              queued goes out, then the stream ends.  Its last id is
 *              exact, so it resumes from the journal.
 * The stream is a memory sink (publish_set_live): the pump offers it only
 * what is journaled after the start; what was durable at sse_start is
 * reached through the journal only.  A record that still lies before
 * front[] is skipped.  A record of the journal that no longer checks is
 * passed over by a catch-up (counted, logged), unless it is the first one
 * at a client's own id: that may be an id this server never gave, and
 * the client is reset.
 *
 * Without journals (sse_start_memory: a correlator, docs/scaleout.md)
 * there is one position, the count of records offered since the start,
 * and the ids carry the start's epoch before it; a resume the tail does
 * not cover (or of another epoch) is reset instead of read from a
 * journal (a CATCHUP client reads the tail in turns instead), and so is
 * every live client when a partition's incidents are replaced without
 * events (a dump: assigned, rebuilt, revoked).
 *
 * Costs: an event costs a copy of its JSON into the tail and one frame
 * (id + JSON) per live client; a quick resume copies from the tail under
 * the mutex (at most SSE_CLIENT_BUF); a journal resume reads every record
 * of the shards from the id on (inputs too), at most SSE_CATCHUP_TURN of
 * frames per read() call, on the HTTP thread.  docs/http.md has numbers.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <jansson.h>

#include "daemon/journal.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/sse.h"
#include "daemon/store.h"

enum { SSE_LIVE, SSE_CATCHUP, SSE_CLOSING };

/* One event of the tail; its JSON (no newline) is in tbuf at off. */
struct sse_tev {
	uint64_t	 pos, next;	/* its record */
	uint32_t	 off, len;
	unsigned	 shard;
};

struct sse_client {
	struct sse_client *prev, *next;	/* e->clients */
	struct sse	*e;
	struct http_stream *hs;		/* to wake, or NULL (tests) */
	char		*buf;		/* frames [off, len) to write */
	size_t		 off, len, cap;
	uint64_t	*cur;		/* nshards: its id */
	uint64_t	 told;		/* bit s: cur[s] is the client's own
					 * (Last-Event-ID), no record read
					 * there yet: it may not be one */
	int		 mode;		/* SSE_LIVE ... */
	/* CATCHUP, the HTTP thread's alone: a reader per shard, lazily */
	struct journal_reader **rd;
};

struct sse {
	struct pub_sink	 base;		/* first: the sink */
	struct pub_host	 host;
	unsigned	 nshards;
	uint32_t	 max_streams;
	pthread_mutex_t	 mu;
	int		 started;	/* sse_start ran */
	struct journal	**j;		/* nshards */
	uint64_t	*front;		/* nshards */
	uint64_t	*tail_base;	/* nshards */
	struct sse_tev	*tail;		/* ring of SSE_TAIL_EVENTS */
	size_t		 thead, tn;
	char		*tbuf;		/* SSE_TAIL_BYTES: the events' JSON,
					 * one after another, wrapping */
	struct sse_client *clients;
	unsigned	 nclients;
	struct sse_stats st;		/* streams = nclients */
	struct store_spans spans;	/* the HTTP thread's journal
					 * reads' */
	struct ev_loop	*loop;
	ev_timer	 keep;
	uint64_t	 epoch;		/* memory mode's (sse_start_memory): ids
					 * "<epoch>.<n>"; 0: the journals' */
	uint64_t	 replaced;	/* memory mode: the position after the
					 * last dump's end (a resume from
					 * before it is reset) */
};

/* ---- ids ---- */

static const char sse_digits[] = "0123456789abcdefghijklmnopqrstuv";

size_t
sse_id_format(const uint64_t *v, unsigned n, char *buf)
{
	size_t o = 0;

	for (unsigned i = 0; i < n && i < SSE_MAX_SHARDS; i++) {
		char t[14];
		size_t k = 0;
		uint64_t x = v[i];

		if (i > 0)
			buf[o++] = '.';
		do {
			t[k++] = sse_digits[x & 31];
			x >>= 5;
		} while (x != 0);
		while (k > 0)
			buf[o++] = t[--k];
	}
	buf[o] = '\0';
	return o;
}

static int
sse_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'v')
		return c - 'a' + 10;
	return -1;
}

int
sse_id_parse(const char *s, size_t len, uint64_t *v, unsigned n,
    unsigned *got)
{
	size_t i = 0;
	unsigned k = 0;

	*got = 0;
	if (len == 0 || len >= SSE_ID_MAX)
		return -EINVAL;
	for (;;) {
		size_t start = i;
		uint64_t x = 0;
		int d;

		while (i < len && (d = sse_digit((unsigned char)s[i])) >= 0) {
			if ((x >> 59) != 0)
				return -EINVAL;		/* past 64 bits */
			x = x * 32 + (uint64_t)d;
			i++;
		}
		/* one spelling per id: no empty part, no leading zero */
		if (i == start || (i - start > 1 && s[start] == '0'))
			return -EINVAL;
		if (k == SSE_MAX_SHARDS)
			return -EINVAL;
		if (k < n)
			v[k] = x;
		k++;
		if (i == len)
			break;
		if (s[i] != '.' || i + 1 == len)
			return -EINVAL;
		i++;
	}
	*got = k;
	return k == n ? 0 : -ERANGE;
}

/* ---- client buffers (e->mu, or the HTTP thread's in CATCHUP) ---- */

/*
 * Room for n more bytes: 0, or -ENOSPC past SSE_CLIENT_BUF (an empty
 * buffer takes any one frame, so one huge event cannot stall a stream).
 */
static int
client_reserve(struct sse_client *c, size_t n)
{
	size_t pending = c->len - c->off;

	if (pending > 0 && pending + n > SSE_CLIENT_BUF)
		return -ENOSPC;
	if (c->off > 0 && c->len + n > c->cap) {
		memmove(c->buf, c->buf + c->off, pending);
		c->off = 0;
		c->len = pending;
	}
	if (c->len + n > c->cap) {
		size_t cap = c->cap ? c->cap : 4096;

		while (cap < c->len + n)
			cap *= 2;
		c->buf = xrealloc(c->buf, cap);
		c->cap = cap;
	}
	return 0;
}

static void
client_add(struct sse_client *c, const char *p, size_t n)
{
	memcpy(c->buf + c->len, p, n);
	c->len += n;
}

/* "id: <cur>\n" and what follows; -ENOSPC (nothing added). */
static int
client_frame(struct sse_client *c, const char *head, const char *json,
    size_t jlen, const char *end)
{
	char id[SSE_ID_MAX];
	uint64_t mem[2] = { c->e->epoch, c->cur[0] };
	size_t k = c->e->epoch != 0 ? sse_id_format(mem, 2, id) :
	    sse_id_format(c->cur, c->e->nshards, id);
	size_t hl = strlen(head), el = strlen(end);

	if (client_reserve(c, 4 + k + 1 + hl + jlen + el) != 0)
		return -ENOSPC;
	client_add(c, "id: ", 4);
	client_add(c, id, k);
	client_add(c, "\n", 1);
	client_add(c, head, hl);
	client_add(c, json, jlen);
	client_add(c, end, el);
	return 0;
}

/* An incident event, cur already past it. */
static int
client_event(struct sse_client *c, const char *json, size_t len)
{
	return client_frame(c, "event: incident\ndata: ", json, len, "\n\n");
}

/* An id-only block: moves the client's Last-Event-ID, dispatches
 * nothing (an event without data is not one). */
static int
client_idmark(struct sse_client *c, const char *comment)
{
	return client_frame(c, comment, "", 0, "\n");
}

static void
client_readers_free(struct sse_client *c)
{
	if (c->rd == NULL)
		return;
	for (unsigned s = 0; s < c->e->nshards; s++)
		journal_reader_free(c->rd[s]);
	FREE_NULL(c->rd);
}

/*
 * Cannot resume exactly: `event: reset` with why, then live from the
 * edge, with an id-only block for the new position (e->mu held).
 */
static void
client_reset(struct sse_client *c, const char *why)
{
	struct sse *e = c->e;
	json_t *o = json_pack("{s:s}", "reason", why);
	char *js = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	const char *data = js != NULL ? js : "{\"reason\":\"unknown\"}";
	size_t n = strlen(data);

	json_decref(o);
	client_readers_free(c);
	/* whatever is queued is whole frames of before; the reset follows,
	 * or, with no room for it, the stream ends and the client's next
	 * try meets the same reason */
	if (client_reserve(c, 32 + n + SSE_ID_MAX) != 0) {
		free(js);
		c->mode = SSE_CLOSING;
		e->st.slow_closed++;
		return;
	}
	log_info("sse: reset a stream: %s", why);
	client_add(c, "event: reset\ndata: ", 19);
	client_add(c, data, n);
	client_add(c, "\n\n", 2);
	free(js);
	memcpy(c->cur, e->front, e->nshards * sizeof(*c->cur));
	c->told = 0;
	(void)client_idmark(c, "");
	c->mode = SSE_LIVE;
	e->st.resets++;
}

static void
client_wake(struct sse_client *c)
{
	if (c->hs != NULL)
		http_stream_wake(c->hs);
}

/* ---- the tail (e->mu) ---- */

/*
 * The tail's JSON lives in one buffer of SSE_TAIL_BYTES, allocated and
 * written through at the start, each event's bytes after the last one's
 * and back at 0 when they would not fit before the end: no allocation per
 * event, and the daemon's memory does not climb for hours while the tail
 * fills (the soak's resources check read that climb as a slope).
 */
static void
tail_evict(struct sse *e)
{
	struct sse_tev *t = &e->tail[e->thead];

	e->tail_base[t->shard] = t->next;
	e->thead = (e->thead + 1) % SSE_TAIL_EVENTS;
	e->tn--;
}

static const struct sse_tev *
tail_at(const struct sse *e, size_t i)
{
	return &e->tail[(e->thead + i) % SSE_TAIL_EVENTS];
}

/* Where len bytes go after the newest event, or -1 (evict first). */
static int64_t
tail_room(const struct sse *e, size_t len)
{
	const struct sse_tev *old, *neu;
	size_t end;

	if (e->tn == 0)
		return 0;
	if (e->tn == SSE_TAIL_EVENTS)
		return -1;
	old = tail_at(e, 0);
	neu = tail_at(e, e->tn - 1);
	end = (size_t)neu->off + neu->len;
	if (end > old->off) {		/* [old, end): after it, or at 0 */
		if (end + len <= SSE_TAIL_BYTES)
			return (int64_t)end;
		return len <= old->off ? 0 : -1;
	}
	/* wrapped: [old, the end) and [0, end) */
	return end + len <= old->off ? (int64_t)end : -1;
}

static void
tail_push(struct sse *e, const struct pub_rec *r)
{
	struct sse_tev *t;
	int64_t off;

	if (r->jsonlen > SSE_TAIL_BYTES / 4) {
		/* not kept (events are far smaller, docs/correlation.md
		 * "Bounds"): the tail then starts after it */
		while (e->tn > 0)
			tail_evict(e);
		for (unsigned s = 0; s < e->nshards; s++)
			e->tail_base[s] = e->front[s];
		e->tail_base[r->shard] = r->next;
		return;
	}
	while ((off = tail_room(e, r->jsonlen)) < 0)
		tail_evict(e);
	t = &e->tail[(e->thead + e->tn) % SSE_TAIL_EVENTS];
	t->pos = r->pos;
	t->next = r->next;
	t->shard = r->shard;
	t->off = (uint32_t)off;
	t->len = (uint32_t)r->jsonlen;
	memcpy(e->tbuf + off, r->json, r->jsonlen);
	e->tn++;
}

/*
 * The client's cursor is covered by the tail and what it still needs of
 * it fits in the buffer: queue it and go live (0); else -EAGAIN.
 */
static int
client_from_tail(struct sse_client *c)
{
	struct sse *e = c->e;
	size_t need = 0;

	for (unsigned s = 0; s < e->nshards; s++)
		if (c->cur[s] < e->tail_base[s])
			return -EAGAIN;
	for (size_t i = 0; i < e->tn; i++) {
		const struct sse_tev *t = tail_at(e, i);

		if (t->pos >= c->cur[t->shard])
			need += t->len + 40 + SSE_ID_MAX;
	}
	if (need > 0 && (c->len - c->off) + need > SSE_CLIENT_BUF)
		return -EAGAIN;
	for (size_t i = 0; i < e->tn; i++) {
		const struct sse_tev *t = tail_at(e, i);

		if (t->pos < c->cur[t->shard])
			continue;
		c->cur[t->shard] = t->next;
		/* room checked */
		(void)client_event(c, e->tbuf + t->off, t->len);
		e->st.events++;
	}
	for (unsigned s = 0; s < e->nshards; s++)
		if (c->cur[s] < e->front[s])
			c->cur[s] = e->front[s];
	client_readers_free(c);
	c->told = 0;
	c->mode = SSE_LIVE;
	return 0;
}

/* ---- the journal catch-up (HTTP thread, outside e->mu) ---- */

/*
 * Appends the events of every shard's journal from cur[s], up to
 * SSE_CATCHUP_TURN bytes of frames.  0, or -EIO with why (the journal no
 * longer holds a position, or it is not a record's start).
 */
static int
client_catchup(struct sse_client *c, char *why, size_t whylen)
{
	struct sse *e = c->e;
	size_t start = c->len - c->off;
	uint64_t sent = 0, skipped = 0;
	int rc = 0;

	if (c->rd == NULL)
		c->rd = xcalloc(e->nshards, sizeof(*c->rd));
	for (unsigned s = 0; s < e->nshards && rc == 0; s++) {
		uint64_t limit = journal_durable(e->j[s]);
		struct journal_rec rec;
		struct pub_rec pr;
		int k;

		if (c->rd[s] == NULL) {
			c->rd[s] = journal_reader_new(e->j[s], c->cur[s]);
			if (journal_reader_tell(c->rd[s]) != c->cur[s]) {
				snprintf(why, whylen, "shard %u's journal no "
				    "longer holds position %" PRIu64 " (trimmed "
				    "after a snapshot)", s, c->cur[s]);
				rc = -EIO;
				break;
			}
		}
		while (c->len - c->off - start < SSE_CATCHUP_TURN) {
			if ((k = journal_read(c->rd[s], limit, &rec)) == 0)
				break;
			if (k == -EBADMSG && !(c->told >> s & 1)) {
				/* a record that no longer checks at a place
				 * reached from a record read before: lost to
				 * this client alone, not the rest */
				log_warnx("sse: shard %u record at %" PRIu64
				    " does not check (checksum or header); "
				    "skipped, reading on at %" PRIu64, s,
				    rec.pos, rec.next);
				skipped++;
				c->cur[s] = rec.next;
				journal_reader_seek(c->rd[s], rec.next);
				continue;
			}
			if (k < 0) {
				snprintf(why, whylen, "shard %u's journal does "
				    "not read at %" PRIu64 " (%s): not a "
				    "position of this journal", s,
				    journal_reader_tell(c->rd[s]),
				    strerror(-k));
				rc = -EIO;
				break;
			}
			/* past every record, inputs too: the id stays exact */
			c->cur[s] = rec.next;
			c->told &= ~(1ULL << s);
			if (rec.type != STORE_EVENT || store_pub_rec(&rec, s,
			    &pr, &e->spans) != 1)
				continue;
			if (client_event(c, pr.json, pr.jsonlen) != 0) {
				/* a huge one: again once the buffer is out
				 * (an empty buffer takes any one event) */
				c->cur[s] = rec.pos;
				journal_reader_seek(c->rd[s], rec.pos);
				break;
			}
			sent++;
		}
	}
	pthread_mutex_lock(&e->mu);
	e->st.events += sent;
	e->st.skipped += skipped;
	pthread_mutex_unlock(&e->mu);
	return rc;
}

/* ---- clients ---- */

/*
 * Memory mode's resume (e->mu): exact from the tail when the id is this
 * start's and the tail still holds what follows it and that fits in the
 * buffer; else a reset that says why.
 */
static void
client_open_memory(struct sse_client *c, const char *last_id)
{
	struct sse *e = c->e;
	uint64_t v[2];
	unsigned got;
	const char *why = NULL;

	if (sse_id_parse(last_id, strlen(last_id), v, 2, &got) != 0)
		why = "the Last-Event-ID is not an id this server gives";
	else if (v[0] != e->epoch)
		why = "the Last-Event-ID is of another start of this "
		    "correlator, or of another instance";
	else if (v[1] > e->front[0])
		why = "the Last-Event-ID is ahead of this stream";
	else if (v[1] < e->tail_base[0])
		why = "the events after the Last-Event-ID are no longer in "
		    "memory (a correlator has no journal to read them from)";
	else if (v[1] < e->replaced)
		why = "a partition's incidents were replaced (assigned, "
		    "rebuilt or revoked) since the Last-Event-ID: read them "
		    "again";
	if (why == NULL) {
		c->cur[0] = v[1];
		e->st.resumed_tail++;
		if (client_from_tail(c) != 0)
			c->mode = SSE_CATCHUP;	/* the tail in turns: read() */
		return;
	}
	client_reset(c, why);
}

/*
 * Memory mode's catch-up (e->mu, the buffer empty): the tail's events
 * from cur on, up to SSE_CATCHUP_TURN bytes of frames (at least one: an
 * empty buffer takes any).  0, or -1 when the tail no longer covers cur
 * (the client fell behind its evictions).
 */
static int
client_tail_turn(struct sse_client *c)
{
	struct sse *e = c->e;
	size_t start = c->len - c->off;

	if (c->cur[0] < e->tail_base[0])
		return -1;
	for (size_t i = 0; i < e->tn; i++) {
		const struct sse_tev *t = tail_at(e, i);

		if (t->pos < c->cur[0])
			continue;
		if (c->len - c->off - start >= SSE_CATCHUP_TURN ||
		    client_event(c, e->tbuf + t->off, t->len) != 0)
			break;
		c->cur[0] = t->next;
		e->st.events++;
	}
	return 0;
}

int
sse_client_open(struct sse *e, const char *last_id, struct sse_client **out)
{
	struct sse_client *c;
	uint64_t v[SSE_MAX_SHARDS];
	char why[192];
	unsigned got;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&e->mu);
	if (!e->started) {
		pthread_mutex_unlock(&e->mu);
		return -EAGAIN;
	}
	if (e->nclients >= e->max_streams) {
		e->st.refused++;
		pthread_mutex_unlock(&e->mu);
		return -EBUSY;
	}
	c = xcalloc(1, sizeof(*c));
	c->e = e;
	c->cur = xcalloc(e->nshards, sizeof(*c->cur));
	memcpy(c->cur, e->front, e->nshards * sizeof(*c->cur));
	c->next = e->clients;
	if (e->clients != NULL)
		e->clients->prev = c;
	e->clients = c;
	e->nclients++;
	e->st.opened++;
	why[0] = '\0';
	if (last_id == NULL) {
		(void)client_idmark(c, ": tocsin events\n");
		goto done;
	}
	if (e->epoch != 0) {
		client_open_memory(c, last_id);
		goto done;
	}
	rc = sse_id_parse(last_id, strlen(last_id), v, e->nshards, &got);
	if (rc == -ERANGE)
		snprintf(why, sizeof(why), "the Last-Event-ID names %u shards; "
		    "this daemon has %u (another configuration)", got,
		    e->nshards);
	else if (rc != 0)
		snprintf(why, sizeof(why), "the Last-Event-ID is not an id "
		    "this server gives");
	for (unsigned s = 0; rc == 0 && s < e->nshards; s++) {
		if (v[s] > journal_durable(e->j[s])) {
			snprintf(why, sizeof(why), "the Last-Event-ID is ahead "
			    "of shard %u's journal (another state directory?)",
			    s);
			rc = -EINVAL;
		} else if (v[s] < journal_start(e->j[s]) &&
		    v[s] < e->tail_base[s]) {
			snprintf(why, sizeof(why), "shard %u's journal no "
			    "longer holds position %" PRIu64 " (trimmed after "
			    "a snapshot)", s, v[s]);
			rc = -EINVAL;
		}
	}
	if (rc != 0) {
		client_reset(c, why);
		goto done;
	}
	memcpy(c->cur, v, e->nshards * sizeof(*c->cur));
	c->told = e->nshards < 64 ? (1ULL << e->nshards) - 1 : UINT64_MAX;
	if (client_from_tail(c) == 0) {
		e->st.resumed_tail++;
	} else {
		c->mode = SSE_CATCHUP;
		e->st.resumed_journal++;
	}
done:
	pthread_mutex_unlock(&e->mu);
	*out = c;
	return 0;
}

void
sse_client_attach(struct sse_client *c, struct http_stream *hs)
{
	pthread_mutex_lock(&c->e->mu);
	c->hs = hs;
	pthread_mutex_unlock(&c->e->mu);
}

ssize_t
sse_client_read(void *arg, char *buf, size_t max)
{
	struct sse_client *c = arg;
	struct sse *e = c->e;
	char why[256];

	pthread_mutex_lock(&e->mu);
	for (;;) {
		size_t n = c->len - c->off;

		if (n > 0) {
			if (n > max)
				n = max;
			memcpy(buf, c->buf + c->off, n);
			c->off += n;
			if (c->off == c->len)
				c->off = c->len = 0;
			pthread_mutex_unlock(&e->mu);
			return (ssize_t)n;
		}
		if (c->mode == SSE_CLOSING) {
			pthread_mutex_unlock(&e->mu);
			return HTTP_STREAM_END;
		}
		if (c->mode == SSE_LIVE) {
			pthread_mutex_unlock(&e->mu);
			return 0;
		}
		if (client_from_tail(c) == 0)
			continue;
		if (e->epoch != 0) {
			if (client_tail_turn(c) != 0)
				client_reset(c, "the events after the "
				    "Last-Event-ID left memory while the "
				    "client caught up (a correlator has no "
				    "journal to read them from)");
			continue;
		}
		/* CATCHUP: offer() leaves this client alone meanwhile */
		pthread_mutex_unlock(&e->mu);
		if (client_catchup(c, why, sizeof(why)) != 0) {
			pthread_mutex_lock(&e->mu);
			client_reset(c, why);
			continue;
		}
		pthread_mutex_lock(&e->mu);
	}
}

void
sse_client_close(void *arg)
{
	struct sse_client *c = arg;
	struct sse *e = c->e;

	pthread_mutex_lock(&e->mu);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		e->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	e->nclients--;
	pthread_mutex_unlock(&e->mu);
	client_readers_free(c);
	xfree(c->buf);
	xfree(c->cur);
	xfree(c);
}

void
sse_keepalive(struct sse *e)
{
	pthread_mutex_lock(&e->mu);
	for (struct sse_client *c = e->clients; c != NULL; c = c->next)
		if (c->mode == SSE_LIVE && c->len == c->off &&
		    client_idmark(c, ": keepalive\n") == 0)
			client_wake(c);
	pthread_mutex_unlock(&e->mu);
}

static void
sse_keep_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	sse_keepalive(w->data);
}

/* ---- the sink ---- */

/*
 * A new record for a live client (e->mu): past cur[shard] it moves cur
 * there, and an event is queued; one that does not fit closes the client
 * (its id stays at the last event it got).  1 when it has something new.
 */
static int
client_live(struct sse_client *c, const struct pub_rec *r)
{
	struct sse *e = c->e;
	uint64_t was = c->cur[r->shard];

	if (c->mode != SSE_LIVE || r->pos < was)
		return 0;
	c->cur[r->shard] = r->next;
	if (r->kind != PUB_EVENT)
		return 0;
	if (client_event(c, r->json, r->jsonlen) == 0) {
		e->st.events++;
		return 1;
	}
	/* too far behind: out with what it has; it resumes from its id */
	c->cur[r->shard] = was;
	c->mode = SSE_CLOSING;
	e->st.slow_closed++;
	log_info("sse: closing a stream %zu bytes behind (slow client); it "
	    "resumes from %s", c->len - c->off, e->epoch != 0 ? "its last "
	    "id" : "the journal");
	return 1;
}

/*
 * Memory mode's offer (e->mu): each record is the next position of the
 * one shard; a dump's end resets every live client, as the partition's
 * incidents changed without events (their next snapshot has them).
 */
static void
sse_offer_memory(struct sse *e, const struct pub_rec *r)
{
	struct pub_rec m = *r;
	char why[128];

	m.shard = 0;
	m.pos = e->front[0];
	m.next = m.pos + 1;
	if (m.kind == PUB_EVENT)
		tail_push(e, &m);
	for (struct sse_client *c = e->clients; c != NULL; c = c->next)
		if (client_live(c, &m))
			client_wake(c);
	e->front[0] = m.next;
	if (m.kind != PUB_DUMP_END)
		return;
	e->replaced = m.next;
	snprintf(why, sizeof(why), "partition %u's incidents were replaced "
	    "(assigned, rebuilt or revoked): read them again", r->shard);
	for (struct sse_client *c = e->clients; c != NULL; c = c->next)
		if (c->mode != SSE_CLOSING) {	/* live or catching up */
			client_reset(c, why);
			client_wake(c);
		}
}

static int
sse_offer(struct pub_sink *s, const struct pub_rec *r)
{
	struct sse *e = container_of(s, struct sse, base);
	unsigned sh = r->shard;

	pthread_mutex_lock(&e->mu);
	if (e->epoch != 0) {		/* set by sse_start_memory */
		sse_offer_memory(e, r);
		pthread_mutex_unlock(&e->mu);
		return 0;	/* no journal: nothing to report done */
	}
	if (e->started && sh < e->nshards && r->pos >= e->front[sh]) {
		if (r->kind == PUB_EVENT)
			tail_push(e, r);
		for (struct sse_client *c = e->clients; c != NULL; c = c->next)
			if (client_live(c, r))
				client_wake(c);
		e->front[sh] = r->next;
	}
	pthread_mutex_unlock(&e->mu);
	if (e->host.done != NULL)	/* a memory mode's before its start */
		e->host.done(e->host.arg, r->shard, r->pos);
	return 0;
}

static int
sse_healthy(const struct pub_sink *s)
{
	(void)s;
	return 1;		/* memory: nothing far to reach */
}

static void
sse_close_sink(struct pub_sink *s, int timeout_ms)
{
	(void)s;
	(void)timeout_ms;	/* sse_free frees */
}

static const struct pub_ops sse_ops = {
	.name = "sse",
	.offer = sse_offer,
	.healthy = sse_healthy,
	.close = sse_close_sink,
};

/* ---- the route ---- */

static void
sse_route(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	struct sse *e = arg;
	const char *last = http_req_header(rq, "Last-Event-ID");
	const char *q = rq->query;
	char name[32], val[2 * SSE_ID_MAX];
	struct sse_client *c;
	struct http_stream *hs;
	int rc;

	/* the header (a reconnecting EventSource's) wins over the query */
	while ((rc = http_query_next(&q, name, sizeof(name), val,
	    sizeof(val))) != 0) {
		if (rc < 0) {
			http_resp_error(rs, 400, "the query does not decode "
			    "(bad escape, control byte or too long)");
			return;
		}
		if (strcmp(name, "last_event_id") == 0 && last == NULL)
			last = val;
	}
	if (strcmp(rq->method, "HEAD") == 0) {
		rs->ctype = "text/event-stream";
		return;
	}
	rc = sse_client_open(e, last, &c);
	if (rc == -EAGAIN) {
		rs->retry_after = 1;
		http_resp_error(rs, 503, "the daemon is starting: the stream "
		    "opens once the journals are restored");
		return;
	}
	if (rc == -EBUSY) {
		rs->retry_after = 5;
		http_resp_error(rs, 503, "too many event streams (http."
		    "max_streams is %u); try again", e->max_streams);
		return;
	}
	hs = http_resp_stream(rs, "text/event-stream", sse_client_read,
	    sse_client_close, c);
	sse_client_attach(c, hs);
}

size_t
sse_routes(struct sse *e, struct http_route *out)
{
	out[0] = (struct http_route){ "GET", "/api/v1/events", 0, sse_route,
	    e };
	return SSE_NROUTES;
}

/* ---- life ---- */

struct sse *
sse_new(unsigned nshards, uint32_t max_streams)
{
	struct sse *e = xcalloc(1, sizeof(*e));

	if (nshards > SSE_MAX_SHARDS)
		nshards = SSE_MAX_SHARDS;	/* live.c allows no more */
	e->base.ops = &sse_ops;
	e->nshards = nshards;
	e->max_streams = max_streams;
	pthread_mutex_init(&e->mu, NULL);
	e->j = xcalloc(nshards, sizeof(*e->j));
	e->front = xcalloc(nshards, sizeof(*e->front));
	e->tail_base = xcalloc(nshards, sizeof(*e->tail_base));
	/* both written through now: resident from the start (above) */
	e->tail = xmalloc(SSE_TAIL_EVENTS * sizeof(*e->tail));
	memset(e->tail, 0, SSE_TAIL_EVENTS * sizeof(*e->tail));
	e->tbuf = xmalloc(SSE_TAIL_BYTES);
	memset(e->tbuf, 0, SSE_TAIL_BYTES);
	ev_timer_init(&e->keep, sse_keep_cb, SSE_KEEPALIVE_S,
	    SSE_KEEPALIVE_S);
	e->keep.data = e;
	return e;
}

struct pub_sink *
sse_sink(struct sse *e, const struct pub_host *host)
{
	e->host = *host;
	return &e->base;
}

void
sse_start(struct sse *e, struct ev_loop *loop, struct journal *const *j)
{
	pthread_mutex_lock(&e->mu);
	for (unsigned s = 0; s < e->nshards; s++) {
		e->j[s] = j[s];
		e->front[s] = e->tail_base[s] = journal_durable(j[s]);
	}
	e->started = 1;
	pthread_mutex_unlock(&e->mu);
	e->loop = loop;
	if (loop != NULL)
		ev_timer_start(loop, &e->keep);
}

void
sse_start_memory(struct sse *e, uint64_t epoch)
{
	pthread_mutex_lock(&e->mu);
	e->epoch = epoch != 0 ? epoch : 1;
	e->front[0] = e->tail_base[0] = 0;
	e->started = 1;
	pthread_mutex_unlock(&e->mu);
}

void
sse_stop(struct sse *e)
{
	if (e != NULL && e->loop != NULL)
		ev_timer_stop(e->loop, &e->keep);
}

void
sse_stats(struct sse *e, struct sse_stats *out)
{
	pthread_mutex_lock(&e->mu);
	*out = e->st;
	out->streams = e->nclients;
	pthread_mutex_unlock(&e->mu);
}

void
sse_free(struct sse *e)
{
	if (e == NULL)
		return;
	sse_stop(e);
	while (e->clients != NULL)	/* tests: clients never attached */
		sse_client_close(e->clients);
	while (e->tn > 0)
		tail_evict(e);
	pthread_mutex_destroy(&e->mu);
	xfree(e->spans.v);
	xfree(e->tail);
	xfree(e->tbuf);
	xfree(e->tail_base);
	xfree(e->front);
	xfree(e->j);
	xfree(e);
}
