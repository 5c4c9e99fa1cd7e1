/*
 * publish.c - see publish.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <ev.h>

#include "daemon/deque.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/publish.h"

/* One sink's view of one shard's journal. */
struct pub_reader {
	struct journal_reader *rd;
	struct deque	 fly;		/* positions offered, not done */
	uint64_t	 done;		/* done through the record at done ... */
	int		 has_done;	/* ... when set */
	int		 dirty;		/* done moved since the last save */
};

struct pub_slot {
	char		 name[32];
	struct pub_sink	*sink;
	struct pub_host	 host;
	struct publish	*p;
	struct pub_reader *rs;		/* nshards */
	int		 blocked;	/* offer() said -EAGAIN */
	int		 live;		/* publish_set_live(): from each
					 * journal's end, position not saved */
	uint64_t	 offered, refused, rewinds, skipped;
	struct log_rl	 sync_rl;
};

struct publish {
	struct ev_loop	*loop;
	struct store	**stores;
	unsigned	 nshards;
	struct pub_slot	 slots[PUBLISH_MAX_SINKS];
	unsigned	 nslots;
	publish_resync_fn *resync;
	void		*resync_arg;
	ev_async	 kick;		/* shards: new durable records */
	ev_idle		 more;		/* a turn left records to offer */
	ev_timer	 save;		/* one-shot: save positions, trim */
	struct store_spans spans;	/* a record's steps, decoded */
	int		 started;
};

/* The oldest (newest) position in flight (deque_len(&r->fly) > 0). */
static uint64_t
fly_front(const struct pub_reader *r)
{
	return *(const uint64_t *)deque_front(&r->fly);
}

static uint64_t
fly_back(const struct pub_reader *r)
{
	return *(const uint64_t *)deque_back(&r->fly);
}

static void
publish_save_later(struct publish *p)
{
	if (!ev_is_active(&p->save)) {
		ev_timer_set(&p->save, PUBLISH_SAVE_S, 0.);
		ev_timer_start(p->loop, &p->save);
	}
}

/* ---- what sinks call ---- */

static void
host_ready(void *arg)
{
	struct pub_slot *s = arg;

	s->blocked = 0;
	ev_async_send(s->p->loop, &s->p->kick);
}

static void
host_done(void *arg, unsigned shard, uint64_t pos)
{
	struct pub_slot *s = arg;
	struct pub_reader *r;

	if (shard >= s->p->nshards)
		return;
	r = &s->rs[shard];
	while (deque_len(&r->fly) > 0 && fly_front(r) <= pos)
		deque_pop_front(&r->fly);
	if (!r->has_done || pos > r->done) {
		r->done = pos;
		r->has_done = 1;
		r->dirty = 1;
		publish_save_later(s->p);
	}
}

static void
host_rewind(void *arg, unsigned shard, uint64_t pos)
{
	struct pub_slot *s = arg;
	struct pub_reader *r;

	if (shard >= s->p->nshards)
		return;
	r = &s->rs[shard];
	journal_reader_seek(r->rd, pos);
	/* what was offered from pos on is offered again */
	while (deque_len(&r->fly) > 0 && fly_back(r) >= pos)
		deque_pop_back(&r->fly);
	s->rewinds++;
	ev_async_send(s->p->loop, &s->p->kick);
}

static void
host_resync(void *arg)
{
	struct pub_slot *s = arg;

	if (s->p->resync != NULL)
		s->p->resync(s->p->resync_arg);
}

/* ---- pumping ---- */

/* A record the sink is not offered: with nothing in flight, the sink's
 * position moves past it. */
static void
pub_pass(struct pub_reader *r, uint64_t pos)
{
	if (deque_len(&r->fly) == 0) {
		r->done = pos;
		r->has_done = 1;
		r->dirty = 1;
	}
}

/*
 * Offers up to PUBLISH_TURN records of one shard to one sink: 1 when it
 * stopped with more to offer, 0 when it caught up or the sink is blocked.
 */
static int
publish_turn(struct publish *p, struct pub_slot *s, unsigned shard)
{
	struct pub_reader *r = &s->rs[shard];
	struct journal *j = store_journal(p->stores[shard]);
	uint64_t limit = journal_durable(j);
	struct journal_rec rec;
	struct pub_rec pr;
	int rc;

	for (unsigned k = 0; k < PUBLISH_TURN; k++) {
		uint64_t at = journal_reader_tell(r->rd);

		if ((rc = journal_read(r->rd, limit, &rec)) == -EBADMSG) {
			/* a bit flipped on disk after the start: this record
			 * is lost to the sink, not the ones after it */
			log_warnx("publish %s shard=%u: record at %" PRIu64
			    " does not check (checksum or header); skipped, "
			    "reading on at %" PRIu64, s->name, shard, at,
			    rec.next);
			s->skipped++;
			journal_reader_seek(r->rd, rec.next);
			pub_pass(r, rec.pos);
			continue;
		}
		if (rc <= 0) {
			if (rc < 0) {
				log_warnx("publish %s shard=%u: journal read "
				    "at %" PRIu64 ": %s; reading on at %" PRIu64
				    " (what is durable now)", s->name, shard,
				    at, strerror(-rc), limit);
				s->skipped++;
				journal_reader_seek(r->rd, limit);
			}
			return 0;
		}
		rc = store_pub_rec(&rec, shard, &pr, &p->spans);
		if (rc <= 0) {
			if (rc < 0) {
				log_warnx("publish %s shard=%u: record at %"
				    PRIu64 " does not decode; skipped",
				    s->name, shard, rec.pos);
				s->skipped++;
			}
			pub_pass(r, rec.pos);
			continue;
		}
		*(uint64_t *)deque_push_back(&r->fly) = rec.pos;
		if (s->sink->ops->offer(s->sink, &pr) < 0) {
			deque_pop_back(&r->fly);
			journal_reader_seek(r->rd, rec.pos);
			s->blocked = 1;
			s->refused++;
			return 0;
		}
		s->offered++;
		if (s->blocked)		/* rewound or blocked by a callback */
			return 0;
	}
	return 1;
}

void
publish_pump(struct publish *p)
{
	int more = 0;

	for (unsigned i = 0; i < p->nslots; i++) {
		struct pub_slot *s = &p->slots[i];

		for (unsigned sh = 0; sh < p->nshards && !s->blocked; sh++)
			more |= publish_turn(p, s, sh);
	}
	for (unsigned i = 0; i < p->nslots; i++)
		for (unsigned sh = 0; sh < p->nshards; sh++)
			if (p->slots[i].rs[sh].dirty) {
				publish_save_later(p);
				break;
			}
	if (more && !ev_is_active(&p->more))
		ev_idle_start(p->loop, &p->more);
	else if (!more && ev_is_active(&p->more))
		ev_idle_stop(p->loop, &p->more);
}

static void
publish_kick_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	publish_pump(w->data);
}

static void
publish_more_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	publish_pump(w->data);
}

/*
 * A sink with a sync op (the history file) makes what it reported done
 * durable before its positions are: 0, or -1 (not saved this time).
 */
static int
publish_sync(struct publish *p, struct pub_slot *s)
{
	int rc, dirty = 0;
	uint64_t quiet;

	if (s->sink == NULL || s->sink->ops->sync == NULL || s->live)
		return 0;
	for (unsigned sh = 0; sh < p->nshards; sh++)
		dirty |= s->rs[sh].dirty;
	if (!dirty)
		return 0;
	if ((rc = s->sink->ops->sync(s->sink)) == 0)
		return 0;
	if (log_rl_ok(&s->sync_rl, &quiet))
		log_warnx("publish: sink %s: sync: %s; its positions are not "
		    "saved and the journals keep its records (not_logged=%"
		    PRIu64 ")", s->name, strerror(-rc), quiet);
	return -1;
}

/* Saves moved positions and trims each journal below its slowest sink. */
static void
publish_save(struct publish *p)
{
	int unsynced[PUBLISH_MAX_SINKS];

	for (unsigned i = 0; i < p->nslots; i++)
		unsynced[i] = publish_sync(p, &p->slots[i]) < 0;
	for (unsigned sh = 0; sh < p->nshards; sh++) {
		struct journal *j = store_journal(p->stores[sh]);
		uint64_t keep = UINT64_MAX;

		for (unsigned i = 0; i < p->nslots; i++) {
			struct pub_slot *s = &p->slots[i];
			struct pub_reader *r = &s->rs[sh];

			if (unsynced[i])
				keep = 0;	/* its saved position is older */
			else if (r->dirty && r->has_done && !s->live &&
			    journal_pos_put(j, s->name, r->done) == 0)
				r->dirty = 0;
			if (!r->has_done)
				keep = 0;
			else if (r->done < keep)
				keep = r->done;
		}
		if (keep != 0)
			(void)journal_trim(j, keep);
	}
}

static void
publish_save_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	publish_save(w->data);
}

/* ---- life ---- */

struct publish *
publish_new(struct ev_loop *loop, struct store **stores, unsigned nshards,
    publish_resync_fn *resync, void *resync_arg)
{
	struct publish *p = xcalloc(1, sizeof(*p));

	p->loop = loop;
	p->stores = stores;
	p->nshards = nshards;
	p->resync = resync;
	p->resync_arg = resync_arg;
	ev_async_init(&p->kick, publish_kick_cb);
	p->kick.data = p;
	ev_idle_init(&p->more, publish_more_cb);
	p->more.data = p;
	ev_timer_init(&p->save, publish_save_cb, PUBLISH_SAVE_S, 0.);
	p->save.data = p;
	return p;
}

int
publish_add(struct publish *p, const char *name)
{
	struct pub_slot *s;

	if (p->nslots == PUBLISH_MAX_SINKS)
		return -ENOSPC;
	s = &p->slots[p->nslots];
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->p = p;
	s->host.ready = host_ready;
	s->host.done = host_done;
	s->host.rewind = host_rewind;
	s->host.resync = host_resync;
	s->host.arg = s;
	s->rs = xcalloc(p->nshards, sizeof(*s->rs));
	for (unsigned sh = 0; sh < p->nshards; sh++)
		deque_init(&s->rs[sh].fly, sizeof(uint64_t));
	return (int)p->nslots++;
}

void
publish_set_live(struct publish *p, int idx)
{
	p->slots[idx].live = 1;
}

const struct pub_host *
publish_host(struct publish *p, int idx)
{
	return &p->slots[idx].host;
}

void
publish_attach(struct publish *p, int idx, struct pub_sink *s)
{
	p->slots[idx].sink = s;
}

void
publish_replace(struct publish *p, int idx, struct pub_sink *sink)
{
	struct pub_slot *s = &p->slots[idx];

	s->sink = sink;
	s->blocked = 0;
	for (unsigned sh = 0; sh < p->nshards && p->started; sh++) {
		struct pub_reader *r = &s->rs[sh];

		if (deque_len(&r->fly) > 0) {
			journal_reader_seek(r->rd, fly_front(r));
			deque_clear(&r->fly);
			s->rewinds++;
		}
	}
	if (p->started)
		ev_async_send(p->loop, &p->kick);
}

void
publish_start(struct publish *p)
{
	for (unsigned i = 0; i < p->nslots; i++) {
		struct pub_slot *s = &p->slots[i];

		for (unsigned sh = 0; sh < p->nshards; sh++) {
			struct journal *j = store_journal(p->stores[sh]);
			struct pub_reader *r = &s->rs[sh];
			struct journal_rec rec;
			uint64_t pos;

			/* a start after a stop reads from its new position */
			journal_reader_free(r->rd);
			r->rd = NULL;
			if (s->live) {
				/* filled from the engines at the start
				 * (live_fill_view): only what comes after */
				pos = journal_written(j);
				r->rd = journal_reader_new(j, pos);
				r->done = pos;
				r->has_done = 1;
			} else if (journal_pos_get(j, s->name, &pos) == 0) {
				/* done through the record at pos: after it */
				r->rd = journal_reader_new(j, pos);
				if (journal_reader_tell(r->rd) == pos)
					(void)journal_read(r->rd,
					    journal_written(j), &rec);
				r->done = pos;
				r->has_done = 1;
			} else
				/* a new sink: everything still on disk */
				r->rd = journal_reader_new(j, 0);
		}
	}
	ev_async_start(p->loop, &p->kick);
	p->started = 1;
	ev_async_send(p->loop, &p->kick);
}

void
publish_kick(struct publish *p, unsigned shard)
{
	ev_async_send(p->loop, &p->kick);
}

int
publish_idle(struct publish *p)
{
	for (unsigned i = 0; i < p->nslots; i++)
		for (unsigned sh = 0; sh < p->nshards; sh++) {
			struct pub_reader *r = &p->slots[i].rs[sh];
			struct journal *j = store_journal(p->stores[sh]);

			if (deque_len(&r->fly) > 0 ||
			    journal_reader_tell(r->rd) <
			    journal_durable(j))
				return 0;
		}
	return 1;
}

void
publish_stop(struct publish *p)
{
	if (!p->started)
		return;
	publish_save(p);
	ev_async_stop(p->loop, &p->kick);
	ev_idle_stop(p->loop, &p->more);
	ev_timer_stop(p->loop, &p->save);
	p->started = 0;
}

void
publish_free(struct publish *p)
{
	if (p == NULL)
		return;
	publish_stop(p);
	for (unsigned i = 0; i < p->nslots; i++) {
		struct pub_slot *s = &p->slots[i];

		for (unsigned sh = 0; sh < p->nshards; sh++) {
			journal_reader_free(s->rs[sh].rd);
			deque_free(&s->rs[sh].fly);
		}
		xfree(s->rs);
	}
	xfree(p->spans.v);
	xfree(p);
}

unsigned
publish_nsinks(const struct publish *p)
{
	return p->nslots;
}

void
publish_sink_stats(const struct publish *p, int idx,
    struct publish_sink_stats *out)
{
	const struct pub_slot *s = &p->slots[idx];

	memset(out, 0, sizeof(*out));
	out->name = s->name;
	out->offered = s->offered;
	out->refused = s->refused;
	out->rewinds = s->rewinds;
	out->skipped = s->skipped;
	for (unsigned sh = 0; sh < p->nshards; sh++) {
		struct journal *j = store_journal(p->stores[sh]);
		const struct pub_reader *r = &s->rs[sh];
		uint64_t d = journal_durable(j);
		uint64_t at = deque_len(&r->fly) > 0 ? fly_front(r) :
		    (r->rd != NULL ? journal_reader_tell(r->rd) : 0);

		if (d > at)
			out->lag += d - at;
	}
	out->healthy = s->sink != NULL && (s->sink->ops->healthy == NULL ||
	    s->sink->ops->healthy(s->sink));
}
