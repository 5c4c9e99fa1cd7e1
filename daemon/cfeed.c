/*
 * cfeed.c - see cfeed.h.
 *
 * A record crosses as one allocation (struct cf_rec: the pub_rec, then its
 * step spans, then its strings and JSON, the pointers into its own bytes),
 * its pointer in a ring slot.  A dump crosses as one message too: the
 * stage gathers its records from PUB_DUMP_BEGIN to PUB_DUMP_END and
 * queues them in one slot (a cf_rec whose `sub` are the records), so a
 * partition larger than the ring can still be dumped, and a dump is
 * never half queued.  The loop reads the oldest slot in place,
 * offers it, and releases the slot only once the sink took it, so the
 * ring is the whole queue of what waits: a sink that refuses leaves it
 * full and the stage folds.  Taken records wait for done() in a deque per
 * partition; a rewind moves them back, to the front of `redo`, which the
 * loop offers before the ring.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <ev.h>

#include "daemon/cfeed.h"
#include "daemon/deque.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/ring.h"

struct cf_rec {
	size_t		 size;		/* bytes, for cfeed.bytes */
	uint32_t	 epoch;		/* its partition's, when queued */
	uint32_t	 nsub, capsub;	/* a dump: its records, in order */
	struct cf_rec	**sub;
	struct pub_rec	 r;		/* pos: 1, 2, ... per partition */
};

struct cfeed {
	struct ring	 ring;		/* first: on a cache line boundary */
	/* the stage's */
	struct pub_sink	 in;		/* cfeed_stage_sink() */
	uint64_t	 pos[CFEED_MAX_PARTS]; /* last given */
	uint8_t		 folded[CFEED_MAX_PARTS];
	struct cf_rec	*dump[CFEED_MAX_PARTS]; /* a dump being gathered */
	struct log_rl	 rl_fold;
	size_t		 max_bytes;
	unsigned	 slots;
	/* both */
	_Atomic uint32_t epoch[CFEED_MAX_PARTS]; /* the stage's release */
	_Atomic uint64_t wanted;	/* partitions owing a dump */
	_Atomic uint64_t bytes, queued;
	_Atomic uint64_t records, folded_n, folds; /* the stage's */
	_Atomic uint64_t revoked, late, offered, refused_n, done, rewinds,
			 resyncs;	/* the loop's */
	/* the loop's */
	struct ev_loop	*loop;
	ev_async	 wake;		/* the stage queued */
	ev_idle		 run;		/* a turn of offers */
	struct pub_sink	*sink;
	struct pub_host	 host;
	int		 refused;	/* -EAGAIN: wait for ready() */
	int		 late_events;	/* cfeed_late_events(): a revoked
					 * partition's events offered all the
					 * same */
	uint32_t	 sub_i;		/* the oldest slot's dump: its next */
	struct deque	 redo;		/* rewound, offered first */
	struct deque	 fly[CFEED_MAX_PARTS]; /* taken, not done */
};

/* ---- records ---- */

/* s (n bytes) and a NUL at *at, which moves past them; NULL for NULL. */
static char *
cf_put(char **at, const char *s, size_t n)
{
	char *d = *at;

	if (s == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	*at += n + 1;
	return d;
}

static char *
cf_str(char **at, const char *s)
{
	return cf_put(at, s, s != NULL ? strlen(s) : 0);
}

static size_t
cf_len(const char *s)
{
	return s != NULL ? strlen(s) + 1 : 0;
}

/* A copy of r owning every byte it points to (scan and cust dropped: a
 * sink on the loop scans the JSON itself). */
static struct cf_rec *
cf_copy(const struct pub_rec *r, uint64_t pos, uint32_t epoch)
{
	size_t nsp = (size_t)r->nsteps * sizeof(*r->steps);
	size_t size = sizeof(struct cf_rec) + nsp + cf_len(r->id) +
	    cf_len(r->site) + cf_len(r->area) + cf_len(r->device) +
	    cf_len(r->code) + (r->json != NULL ? r->jsonlen + 1 : 0);
	struct cf_rec *c = xmalloc(size);
	char *at = (char *)(c + 1);

	c->size = size;
	c->epoch = epoch;
	c->nsub = c->capsub = 0;
	c->sub = NULL;
	c->r = *r;
	c->r.pos = pos;
	c->r.next = pos + 1;
	c->r.scan = NULL;
	c->r.cust = NULL;
	if (r->nsteps > 0 && r->steps != NULL) {
		memcpy(at, r->steps, nsp);
		c->r.steps = (const struct pub_span *)(void *)at;
		at += nsp;
	} else
		c->r.steps = NULL;
	c->r.id = cf_str(&at, r->id);
	c->r.site = cf_str(&at, r->site);
	c->r.area = cf_str(&at, r->area);
	c->r.device = cf_str(&at, r->device);
	c->r.code = cf_str(&at, r->code);
	c->r.json = cf_put(&at, r->json, r->jsonlen);
	return c;
}

static void
cf_free_rec(struct cfeed *f, struct cf_rec *c)
{
	atomic_fetch_sub_explicit(&f->bytes, c->size, memory_order_relaxed);
	atomic_fetch_sub_explicit(&f->queued, 1, memory_order_relaxed);
	xfree(c);
}

/* A dump's message and its records from the from'th on (those before it
 * were offered: they are freed when done). */
static void
cf_free_dump(struct cfeed *f, struct cf_rec *d, uint32_t from)
{
	for (uint32_t i = from; i < d->nsub; i++)
		cf_free_rec(f, d->sub[i]);
	xfree(d->sub);
	xfree(d);
}

/* ---- deques of records (daemon/deque of struct cf_rec *) ---- */

static void
dq_push_back(struct deque *q, struct cf_rec *c)
{
	*(struct cf_rec **)deque_push_back(q) = c;
}

static void
dq_push_front(struct deque *q, struct cf_rec *c)
{
	*(struct cf_rec **)deque_push_front(q) = c;
}

static struct cf_rec *
dq_front(const struct deque *q)
{
	return *(struct cf_rec **)deque_front(q);
}

static struct cf_rec *
dq_pop_front(struct deque *q)
{
	struct cf_rec *c = dq_front(q);

	deque_pop_front(q);
	return c;
}

static struct cf_rec *
dq_pop_back(struct deque *q)
{
	struct cf_rec *c = *(struct cf_rec **)deque_back(q);

	deque_pop_back(q);
	return c;
}

/* ---- the stage's side ---- */

static void
cf_fold(struct cfeed *f, unsigned p)
{
	uint64_t quiet;

	f->folded[p] = 1;
	ring_add_owned(&f->folds, 1);
	atomic_fetch_or(&f->wanted, UINT64_C(1) << p);
	if (log_rl_ok(&f->rl_fold, &quiet))
		log_warnx("cfeed: partition=%u: the sink's hand-off is full "
		    "(records=%" PRIu64 " bytes=%" PRIu64 "): folding until "
		    "its dump fits (folds=%" PRIu64 " folded=%" PRIu64
		    " not_logged=%" PRIu64 ")", p, ring_backlog(&f->ring),
		    atomic_load_explicit(&f->bytes, memory_order_relaxed),
		    ring_load_relaxed(&f->folds),
		    ring_load_relaxed(&f->folded_n), quiet);
}

/* Queues c (a record, or a dump's message) in slot, which
 * ring_reserve() gave. */
static void
cf_queue(struct cfeed *f, void *slot, struct cf_rec *c)
{
	uint64_t n = c->nsub > 0 ? c->nsub : 1;	/* c is the loop's once
						 * published */

	memcpy(slot, &c, sizeof(c));
	ring_commit(&f->ring);
	ring_publish(&f->ring);
	ring_add_owned(&f->records, n);
	ev_async_send(f->loop, &f->wake);
}

static struct cf_rec *
cf_new(struct cfeed *f, const struct pub_rec *r, unsigned p)
{
	struct cf_rec *c = cf_copy(r, ++f->pos[p],
	    atomic_load_explicit(&f->epoch[p], memory_order_relaxed));

	atomic_fetch_add_explicit(&f->bytes, c->size, memory_order_relaxed);
	atomic_fetch_add_explicit(&f->queued, 1, memory_order_relaxed);
	return c;
}

static int
cf_offer(struct pub_sink *s, const struct pub_rec *r)
{
	struct cfeed *f = container_of(s, struct cfeed, in);
	unsigned p = r->shard;
	struct cf_rec *d;
	void *slot;

	if (p >= CFEED_MAX_PARTS)
		return 0;	/* the stage has no such partition */
	if (r->kind == PUB_DUMP_BEGIN) {
		f->folded[p] = 0;	/* the dump replaces what folded */
		if (f->dump[p] != NULL)	/* a dump without its END */
			cf_free_dump(f, f->dump[p], 0);
		f->dump[p] = xcalloc(1, sizeof(*f->dump[p]));
	}
	if ((d = f->dump[p]) != NULL) {
		/* gathered, queued whole at its END */
		if (d->nsub == d->capsub) {
			d->capsub = d->capsub ? d->capsub * 2 : 64;
			d->sub = xreallocarray(d->sub, d->capsub,
			    sizeof(*d->sub));
		}
		d->sub[d->nsub++] = cf_new(f, r, p);
		if (r->kind != PUB_DUMP_END)
			return 0;
		f->dump[p] = NULL;
		if ((slot = ring_reserve(&f->ring)) != NULL)
			cf_queue(f, slot, d);
		else {
			ring_add_owned(&f->folded_n, d->nsub);
			cf_free_dump(f, d, 0);
			cf_fold(f, p);
		}
		return 0;
	}
	if (f->folded[p]) {
		ring_add_owned(&f->folded_n, 1);
		return 0;
	}
	if (atomic_load_explicit(&f->bytes, memory_order_relaxed) >
	    f->max_bytes || (slot = ring_reserve(&f->ring)) == NULL) {
		ring_add_owned(&f->folded_n, 1);
		cf_fold(f, p);
		return 0;
	}
	cf_queue(f, slot, cf_new(f, r, p));
	return 0;
}

static int
cf_healthy(const struct pub_sink *s)
{
	(void)s;
	return 1;
}

static void
cf_close(struct pub_sink *s, int timeout_ms)
{
	(void)s;
	(void)timeout_ms;
}

static const struct pub_ops cf_stage_ops = {
	.name = "feed",
	.offer = cf_offer,
	.healthy = cf_healthy,
	.close = cf_close,
};

struct pub_sink *
cfeed_stage_sink(struct cfeed *f)
{
	return &f->in;
}

uint64_t
cfeed_wanted(struct cfeed *f)
{
	return atomic_exchange(&f->wanted, 0);
}

void
cfeed_want(struct cfeed *f, unsigned p)
{
	if (p < CFEED_MAX_PARTS)
		atomic_fetch_or(&f->wanted, UINT64_C(1) << p);
}

int
cfeed_room(struct cfeed *f)
{
	return ring_backlog(&f->ring) < f->slots &&
	    atomic_load_explicit(&f->bytes, memory_order_relaxed) <=
	    f->max_bytes / 2;
}

void
cfeed_late_events(struct cfeed *f, int on)
{
	f->late_events = on != 0;
}

void
cfeed_revoked(struct cfeed *f, unsigned p)
{
	if (p >= CFEED_MAX_PARTS)
		return;
	f->folded[p] = 0;
	if (f->dump[p] != NULL) {
		cf_free_dump(f, f->dump[p], 0);
		f->dump[p] = NULL;
	}
	atomic_fetch_and(&f->wanted, ~(UINT64_C(1) << p));
	ring_store_release(&f->epoch[p],
	    atomic_load_explicit(&f->epoch[p], memory_order_relaxed) + 1);
}

/* ---- the loop's side ---- */

/* Offers up to CFEED_TURN records; the idle watcher runs while more wait
 * and the sink takes them. */
static void
cf_pump(struct cfeed *f)
{
	for (int n = 0; n < CFEED_TURN; n++) {
		struct cf_rec *c, *d = NULL;
		int ring = 0, cur;
		unsigned p;

		if (deque_len(&f->redo) > 0)
			c = dq_front(&f->redo);
		else if (ring_peek(&f->ring) > 0) {
			memcpy(&c, ring_slot(&f->ring, 0), sizeof(c));
			ring = 1;
			if (c->nsub > 0) {	/* a dump: its next record */
				d = c;
				c = d->sub[f->sub_i];
			}
		} else {
			ev_idle_stop(f->loop, &f->run);
			return;
		}
		p = c->r.shard;
		cur = c->epoch == ring_load_acquire(&f->epoch[p]);
		if (!cur && f->late_events && c->r.kind == PUB_EVENT) {
			cur = 1;	/* the sink keeps only the newer state */
			ring_add_owned(&f->late, 1);
		}
		if (cur &&
		    (f->sink == NULL ||
		    f->sink->ops->offer(f->sink, &c->r) == -EAGAIN)) {
			ring_add_owned(&f->refused_n, 1);
			f->refused = 1;
			ev_idle_stop(f->loop, &f->run);
			return;
		}
		if (!ring)
			(void)dq_pop_front(&f->redo);
		else if (d == NULL)
			ring_release(&f->ring, 1);
		else if (++f->sub_i == d->nsub) {	/* the dump's last */
			ring_release(&f->ring, 1);
			f->sub_i = 0;
			cf_free_dump(f, d, d->nsub);
		}
		if (!cur) {
			/* its partition moved away since it was queued:
			 * not offered */
			ring_add_owned(&f->revoked, 1);
			cf_free_rec(f, c);
		} else {
			ring_add_owned(&f->offered, 1);
			dq_push_back(&f->fly[p], c);
		}
	}
}

static void
cf_wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct cfeed *f = container_of(w, struct cfeed, wake);

	(void)loop;
	(void)revents;
	if (!f->refused)
		ev_idle_start(f->loop, &f->run);
}

static void
cf_run_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	(void)loop;
	(void)revents;
	cf_pump(container_of(w, struct cfeed, run));
}

static void
cf_ready(void *arg)
{
	struct cfeed *f = arg;

	f->refused = 0;
	ev_idle_start(f->loop, &f->run);
}

static void
cf_done(void *arg, unsigned shard, uint64_t pos)
{
	struct cfeed *f = arg;
	struct deque *q;

	if (shard >= CFEED_MAX_PARTS)
		return;
	q = &f->fly[shard];
	while (deque_len(q) > 0 && dq_front(q)->r.pos <= pos) {
		cf_free_rec(f, dq_pop_front(q));
		ring_add_owned(&f->done, 1);
	}
}

/* Every record of shard from pos on is offered again, before the ring's
 * (all of the shard's in flight come after what is done, and before what
 * redo already holds of it). */
static void
cf_rewind(void *arg, unsigned shard, uint64_t pos)
{
	struct cfeed *f = arg;
	struct deque *q;

	if (shard >= CFEED_MAX_PARTS)
		return;
	q = &f->fly[shard];
	ring_add_owned(&f->rewinds, 1);
	while (deque_len(q) > 0) {
		struct cf_rec *c = dq_pop_back(q);

		if (c->r.pos < pos) {
			dq_push_back(q, c);
			break;
		}
		dq_push_front(&f->redo, c);
	}
}

static void
cf_resync(void *arg)
{
	struct cfeed *f = arg;

	ring_add_owned(&f->resyncs, 1);
	atomic_fetch_or(&f->wanted, UINT64_MAX);
}

struct cfeed *
cfeed_new(struct ev_loop *loop, unsigned slots, size_t max_bytes)
{
	struct cfeed *f = mem_calloc_lines(1, sizeof(*f));

	if (ring_init(&f->ring, slots, sizeof(struct cf_rec *)) != 0)
		fatalx("cfeed: %u slots: not a power of two", slots);
	f->slots = slots;
	f->max_bytes = max_bytes;
	f->in.ops = &cf_stage_ops;
	f->loop = loop;
	f->host = (struct pub_host){ .ready = cf_ready, .done = cf_done,
	    .rewind = cf_rewind, .resync = cf_resync, .arg = f };
	ev_async_init(&f->wake, cf_wake_cb);
	ev_async_start(loop, &f->wake);
	ev_idle_init(&f->run, cf_run_cb);
	deque_init(&f->redo, sizeof(struct cf_rec *));
	for (unsigned p = 0; p < CFEED_MAX_PARTS; p++)
		deque_init(&f->fly[p], sizeof(struct cf_rec *));
	return f;
}

const struct pub_host *
cfeed_host(struct cfeed *f)
{
	return &f->host;
}

void
cfeed_attach(struct cfeed *f, struct pub_sink *s)
{
	f->sink = s;
}

void
cfeed_stats(struct cfeed *f, struct cfeed_stats *o)
{
	o->records = ring_load_relaxed(&f->records);
	o->folded = ring_load_relaxed(&f->folded_n);
	o->folds = ring_load_relaxed(&f->folds);
	o->revoked = ring_load_relaxed(&f->revoked);
	o->late = ring_load_relaxed(&f->late);
	o->offered = ring_load_relaxed(&f->offered);
	o->refused = ring_load_relaxed(&f->refused_n);
	o->done = ring_load_relaxed(&f->done);
	o->rewinds = ring_load_relaxed(&f->rewinds);
	o->resyncs = ring_load_relaxed(&f->resyncs);
	o->queued = ring_load_relaxed(&f->queued);
	o->bytes = ring_load_relaxed(&f->bytes);
}

static void
dq_free(struct cfeed *f, struct deque *q)
{
	while (deque_len(q) > 0)
		cf_free_rec(f, dq_pop_front(q));
	deque_free(q);
}

void
cfeed_free(struct cfeed *f)
{
	size_t n;

	if (f == NULL)
		return;
	ev_async_stop(f->loop, &f->wake);
	ev_idle_stop(f->loop, &f->run);
	while ((n = ring_peek(&f->ring)) > 0) {
		for (size_t i = 0; i < n; i++) {
			struct cf_rec *c;

			memcpy(&c, ring_slot(&f->ring, i), sizeof(c));
			if (c->nsub > 0)
				cf_free_dump(f, c, i == 0 ? f->sub_i : 0);
			else
				cf_free_rec(f, c);
		}
		f->sub_i = 0;
		ring_release(&f->ring, n);
	}
	for (unsigned p = 0; p < CFEED_MAX_PARTS; p++)
		if (f->dump[p] != NULL)
			cf_free_dump(f, f->dump[p], 0);
	dq_free(f, &f->redo);
	for (unsigned p = 0; p < CFEED_MAX_PARTS; p++)
		dq_free(f, &f->fly[p]);
	ring_fini(&f->ring);
	xfree(f);
}
