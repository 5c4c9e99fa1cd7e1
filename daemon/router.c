/*
 * router.c - see router.h.
 *
 * Rings.  rings[producer * nshards + shard] is a daemon/ring of struct
 * router_msg by value (48 bytes: the 32-byte alarm event, an owned
 * pointer, kind, id), so an alarm crosses threads with no allocation; an
 * action or window is one heap block freed by the shard; a tick is the
 * producer's `now` in ev.at_ms, so it is ordered with the alarms of the
 * same ring.  ring.h says how a ring keeps its two sides on their own
 * cache lines and which memory orders carry a message across, and why it
 * is ours rather than ck_ring (bench/ringbench).
 *
 * Producer side: router_push() writes one message in place and publishes
 * it; router_push_batch() writes a run of messages into their rings and
 * publishes each touched ring once at the end (a bit per shard in a
 * uint64_t says which).  The ring re-reads the shard's head only when its
 * cached copy says full.
 *
 * Routing is one byte load: site_shard[site] is filled at creation from
 * the hash of the site's area *name* (fleet_area_shard), so the mapping
 * does not depend on the order the configuration lists areas in: a
 * restart or a reload that adds an area moves no other area.  Two
 * exceptions keep every live incident with its alarms: a site pinned
 * before start (router_pin_site: the restored journals hold its live
 * incidents on another shard), and across router_reload() every site
 * that existed before keeps the shard it had (a site moved to another
 * area follows its new area only after a restart).
 *
 * Reload.  router_reload() is a message like a tick, one per shard, all
 * or nothing: each shard reaches it after every message queued before it
 * (old fleet indexes) and before any queued after it (new ones), and
 * swaps its engine there (router_reload_shard): the old engine's
 * snapshot (corr_engine_save, fleet objects by name) is loaded into the
 * new engine made over the new fleet.  Nothing stops: no thread waits
 * for another, and the producer's side of the swap (its site map) is
 * done when router_reload() returns.
 *
 * A shard thread drains its rings round-robin, at most ROUTER_BATCH
 * messages from one ring (handled in place, then released with one store)
 * before looking at the next, so one busy producer cannot starve the
 * others.  With nothing to do it sleeps on its bell (ring.h), which every
 * producer rings after it publishes: an idle shard costs no CPU at all and
 * wakes as soon as a message is there.  Stop is a release store of a flag
 * and a ring of every shard's bell after producers are done; a shard that
 * acquires it drains once more and exits, so nothing queued is lost.
 *
 * Room.  A push that finds its ring full raises the ring's `want` flag
 * (and looks once more, so a slot freed meanwhile is not missed); the
 * shard, after releasing slots of a ring whose flag is up, lowers it,
 * rings the producer's room bell (router_push_wait() sleeps on it) and
 * calls the producer's room callback (the poll loop's ev_async).  So a
 * producer told -EAGAIN always hears when there is room again, and none
 * of them polls for it.
 *
 * This is the daemon's side of the core: it creates the threads, reads
 * the monotonic clock for push_wait's deadline and blocks, none of which
 * correlator/ may do; the engines it runs only ever see the time the
 * producers put in their messages.
 */
#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "daemon/clock.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/ring.h"
#include "daemon/router.h"

#define ROUTER_BATCH	256	/* messages from one ring per turn */

enum router_msg_kind {
	ROUTER_MSG_ALARM,	/* ev */
	ROUTER_MSG_ACTION,	/* ptr: struct corr_action + strings, owned */
	ROUTER_MSG_MAINT_ADD,	/* ptr: struct router_maint + strings, owned; id */
	ROUTER_MSG_MAINT_DEL,	/* id */
	ROUTER_MSG_TICK,	/* ev.at_ms: time passed, no alarm */
	ROUTER_MSG_DUMP,	/* ev.at_ms: journal the live incidents */
	ROUTER_MSG_COMPLAINT,	/* ptr: struct router_complaint + strings */
	ROUTER_MSG_RELOAD,	/* ptr: struct router_reload, borrowed */
};

/* What a COMPLAINT message's ptr holds: the complaint, the producer's
 * reply token, then its strings. */
struct router_complaint {
	struct corr_complaint c;
	void	*reply;
	const struct fleet *fleet;	/* the fleet c.site is an index of */
};

/* What an ACTION message's ptr holds: the action, where it came from,
 * then its strings. */
struct router_action {
	struct corr_action a;
	int32_t	 kpart;
	int64_t	 koffset;
	void	*reply;		/* the producer's token, or NULL */
};

/* What a MAINT_ADD message's ptr holds: the window, then its strings;
 * a MAINT_DEL's (the owner's, with a reply token only) is reply alone. */
struct router_maint {
	struct corr_maint m;
	void	*reply;
	const struct fleet *fleet;	/* MAINT_ADD: the fleet m's site and
					 * area indexes are of (a reload may
					 * come between the push and the
					 * shard: then by name) */
};

/*
 * What producers other than the reloading one route by: the fleet and
 * the site map of one configuration, published whole (router_reload) and
 * never changed after, so another producer's thread reads a consistent
 * pair with one acquire load.  Old ones stay until router_free.
 */
struct router_route {
	struct router_route *prev;	/* the one it replaced */
	const struct fleet *fleet;
	uint32_t	 nsites;
	uint8_t		 shard[];	/* nsites */
};

struct router_msg {
	struct alarm_event ev;	/* ROUTER_MSG_ALARM */
	void	*ptr;		/* owned heap block, or NULL */
	uint32_t kind;		/* enum router_msg_kind */
	uint32_t id;		/* maintenance window id */
};

_Static_assert(sizeof(struct router_msg) == 48, "router_msg is 48 bytes");
_Static_assert(ROUTER_MSG_ALARM == (int)ROUTER_IN_ALARM &&
    ROUTER_MSG_ACTION == (int)ROUTER_IN_ACTION &&
    ROUTER_MSG_MAINT_ADD == (int)ROUTER_IN_MAINT_ADD &&
    ROUTER_MSG_MAINT_DEL == (int)ROUTER_IN_MAINT_DEL &&
    ROUTER_MSG_TICK == (int)ROUTER_IN_TICK &&
    ROUTER_MSG_COMPLAINT == (int)ROUTER_IN_COMPLAINT, "inputs are messages");
_Static_assert(ROUTER_MSG_ALARM == 0 &&
    offsetof(struct router_msg, ptr) == 32,
    "an alarm message is its event and 16 zero bytes");

/* One producer's counters (written by its thread) and its room bell. */
struct router_producer {
	alignas(MEM_LINE) _Atomic uint64_t full; /* pushes refused: ring full */
	_Atomic uint64_t waits;		/* push_wait sleeps for room */
	_Atomic uint64_t timeouts;	/* push_wait calls that gave up */
	_Atomic uint64_t bad;		/* events refused: bad site */
	struct ring_bell room;		/* rung by a shard that freed room */
	router_room_fn	*room_fn;	/* or NULL; set before start */
	void		*room_arg;
};

_Static_assert(sizeof(struct router_producer) == MEM_LINE,
    "producer counters fill one cache line");

struct router_shard {
	alignas(MEM_LINE) struct router *r; /* owner */
	unsigned	 id;		/* shard number */
	struct corr_engine *engine;	/* touched only by the thread */
	const struct fleet *fleet;	/* the engine's (thread) */
	pthread_t	 thread;
	_Atomic uint64_t sleeps;	/* times it found nothing and slept */
	_Atomic uint64_t reloaded;	/* generation of its last reload */
	alignas(MEM_LINE) struct ring_bell bell; /* rung by producers */
};

_Static_assert(sizeof(struct router_shard) % MEM_LINE == 0,
    "shards do not share cache lines");

struct router {
	struct fleet	*fleet;		/* the producers' (the last reload's) */
	struct corr_config cc;
	unsigned	 nshards, nproducers, slots;
	uint32_t	 nsites;	/* = route->nsites */
	uint8_t		*site_shard;	/* = route->shard: owning shard of
					 * each site */
	struct router_route *route;	/* the reloading producer's */
	struct router_route *_Atomic pub; /* the others': route, published */
	struct ring	*rings;		/* nproducers * nshards, aligned */
	_Atomic uint32_t *want;		/* per ring: its producer wants room */
	struct router_producer *prod;	/* nproducers, aligned */
	struct router_shard *shards;	/* nshards, aligned */
	router_tap_fn	*tap;		/* or NULL */
	void		*tap_arg;
	const struct router_hooks *hooks; /* or NULL */
	void		*hooks_arg;
	_Atomic int	 stop;		/* 1: drain and exit */
	_Atomic unsigned next_maint;	/* maintenance window ids handed out */
	uint64_t	 reload_gen;	/* generations handed out */
	int		 running;	/* threads started and not joined */
};

_Static_assert(ROUTER_MAX_SHARDS <= 256, "site_shard is a byte");
_Static_assert(ROUTER_MAX_SHARDS <= 64, "dirty shards fit a uint64_t");

static struct ring *
router_ring_of(struct router *r, unsigned producer, unsigned shard)
{
	return &r->rings[producer * r->nshards + shard];
}

/* Producer: makes what it published in shard's rings known to the shard. */
static inline void
router_wake_shard(struct router *r, unsigned shard)
{
	ring_bell_ring(&r->shards[shard].bell);
}

/*
 * Producer, ring full: raise the ring's flag so that the shard says when
 * it frees a slot, then look once more (the shard may have freed one
 * before it could see the flag).  Returns the slot, or NULL: still full,
 * and the shard will call.
 */
static void *
router_reserve_slow(struct router *r, unsigned producer, unsigned shard,
    uint64_t *pos)
{
	struct ring *rg = router_ring_of(r, producer, shard);

	atomic_store_explicit(&r->want[producer * r->nshards + shard], 1,
	    memory_order_seq_cst);
	ring_fence();
	return ring_reserve_at(rg, sizeof(struct router_msg), pos);
}

/* Shard: it released slots of (producer, shard); tell a waiting producer. */
static void
router_room(struct router *r, unsigned producer, unsigned shard)
{
	_Atomic uint32_t *w = &r->want[producer * r->nshards + shard];
	struct router_producer *pr = &r->prod[producer];

	ring_fence();
	if (ring_load_relaxed(w) == 0 ||
	    atomic_exchange_explicit(w, 0, memory_order_acq_rel) == 0)
		return;
	ring_bell_ring(&pr->room);
	if (pr->room_fn != NULL)
		pr->room_fn(pr->room_arg, shard);
}

/*
 * Shard: the reload message.  The engine's state moves by its snapshot
 * into the engine made over the new fleet; if that one refuses it (a
 * config the snapshot does not fit: the caller checks for that first),
 * into the fallback made with the old config over the new fleet, so the
 * shard never keeps an engine whose indexes are the old fleet's.
 */
static void
router_reload_shard(struct router_shard *s, struct router_reload *rl)
{
	struct router *r = s->r;
	const struct router_hooks *h = r->hooks;
	struct corr_engine *old = s->engine, *e = rl->engines[s->id];
	struct corr_engine *fb = rl->fallback[s->id];
	char *snap, err[256];
	size_t n;
	int how = 0;

	(void)corr_engine_save(old, &snap, &n);
	if (corr_engine_load(e, snap, n, err, sizeof(err)) != 0) {
		snprintf(rl->err[s->id], sizeof(rl->err[s->id]), "%s", err);
		corr_engine_free(e);
		e = fb;
		fb = NULL;
		how = 1;
		/* the old config loads its own engine's snapshot; if it
		 * ever did not, the journal still holds everything and a
		 * restart restores it: better than a shard on a wrong fleet */
		if (corr_engine_load(e, snap, n, err, sizeof(err)) != 0)
			fatalx("reload shard=%u: snapshot does not load into "
			    "its own config: %s", s->id, err);
	}
	xfree(snap);
	corr_engine_free(fb);
	rl->engines[s->id] = rl->fallback[s->id] = NULL;
	s->engine = e;
	s->fleet = rl->fleet;
	corr_engine_free(old);
	rl->outcome[s->id] = (uint8_t)how;
	if (h != NULL && h->reload != NULL)
		h->reload(r->hooks_arg, s->id, s->engine, rl);
	ring_store_release(&s->reloaded, rl->gen);
}

/*
 * Shard: a window queued with another fleet's indexes than the engine's
 * (a reload came between the push and here) names its place by name in
 * the engine's fleet; a place that fleet lacks covers nothing.
 */
static void
router_maint_place(struct router_shard *s, struct router_maint *rm)
{
	const struct fleet *of = rm->fleet, *nf = s->fleet;
	struct corr_maint *mw = &rm->m;

	if (of == NULL || of == nf)
		return;
	if (mw->site != FLEET_NONE)
		mw->site = mw->site < of->nsites ? fleet_find(nf, FLEET_SITE,
		    of->sites[mw->site].id) : FLEET_NONE;
	else if (mw->area != FLEET_NONE)
		mw->area = mw->area < of->nareas ? fleet_find(nf, FLEET_AREA,
		    of->areas[mw->area]) : FLEET_NONE;
	rm->fleet = nf;
}

/* Shard: the same for a complaint's site (a site the engine's fleet
 * lacks is FLEET_NONE: the engine refuses it, and its reply says so). */
static void
router_complaint_place(struct router_shard *s, struct router_complaint *rc)
{
	const struct fleet *of = rc->fleet, *nf = s->fleet;

	if (of == NULL || of == nf)
		return;
	rc->c.site = rc->c.site < of->nsites ? fleet_find(nf, FLEET_SITE,
	    of->sites[rc->c.site].id) : FLEET_NONE;
	rc->fleet = nf;
}

static void
router_shard_handle(struct router_shard *s, struct router_msg *m)
{
	struct router *r = s->r;
	const struct router_hooks *h = r->hooks;
	struct router_input in;

	_Static_assert(offsetof(struct router_input, reason) >
	    offsetof(struct router_input, rc) &&
	    offsetof(struct router_input, opened) >
	    offsetof(struct router_input, reason),
	    "router_input: the text buffers come last");
	/* every message: zero the fields, not the 300 bytes of text buffers
	 * only a refused action or an opened complaint fills */
	memset(&in, 0, offsetof(struct router_input, reason));
	in.reason[0] = '\0';
	in.opened[0] = '\0';
	in.kind = (uint8_t)m->kind;
	in.id = m->id;
	in.now = m->ev.at_ms;
	in.kpart = -1;
	in.koffset = -1;
	switch (m->kind) {
	case ROUTER_MSG_ALARM:
		in.ev = &m->ev;
		break;
	case ROUTER_MSG_ACTION: {
		struct router_action *ra = m->ptr;

		in.act = &ra->a;
		in.kpart = ra->kpart;
		in.koffset = ra->koffset;
		in.reply = ra->reply;
		break;
	}
	case ROUTER_MSG_MAINT_ADD:
		router_maint_place(s, m->ptr);
		in.maint = &((struct router_maint *)m->ptr)->m;
		in.reply = ((struct router_maint *)m->ptr)->reply;
		break;
	case ROUTER_MSG_MAINT_DEL:
		in.now = corr_engine_now(s->engine);
		if (m->ptr != NULL)
			in.reply = ((struct router_maint *)m->ptr)->reply;
		break;
	case ROUTER_MSG_COMPLAINT:
		router_complaint_place(s, m->ptr);
		in.complaint = &((struct router_complaint *)m->ptr)->c;
		in.reply = ((struct router_complaint *)m->ptr)->reply;
		break;
	case ROUTER_MSG_DUMP:
		if (h != NULL && h->dump != NULL)
			h->dump(r->hooks_arg, s->id, s->engine, m->ev.at_ms);
		return;
	case ROUTER_MSG_RELOAD: {
		struct router_reload *rl;

		memcpy(&rl, &m->ev, sizeof(rl));
		router_reload_shard(s, rl);
		return;
	}
	}
	if (h != NULL && h->begin != NULL)
		h->begin(r->hooks_arg, s->id, s->engine, &in);
	switch (m->kind) {
	case ROUTER_MSG_ALARM:
		if (r->tap != NULL)
			r->tap(r->tap_arg, s->id, &m->ev);
		corr_engine_alarm(s->engine, &m->ev);
		break;
	case ROUTER_MSG_ACTION:
		in.rc = corr_engine_action(s->engine, in.act, in.reason,
		    sizeof(in.reason));
		break;
	case ROUTER_MSG_MAINT_ADD:
		in.rc = corr_engine_maint_put(s->engine, m->id, in.maint);
		break;
	case ROUTER_MSG_MAINT_DEL:
		/* Sent to every shard; only the owner knows the id. */
		in.rc = corr_engine_maint_remove(s->engine, m->id);
		break;
	case ROUTER_MSG_TICK:
		corr_engine_advance(s->engine, m->ev.at_ms);
		break;
	case ROUTER_MSG_COMPLAINT:
		in.rc = corr_engine_complaint(s->engine, in.complaint,
		    in.opened, sizeof(in.opened), in.reason, sizeof(in.reason));
		break;
	}
	if (h != NULL && h->end != NULL)
		h->end(r->hooks_arg, s->id, s->engine, &in);
	if (m->ptr != NULL)
		FREE_NULL(m->ptr);
}

/* Shard: handle up to ROUTER_BATCH messages of producer p's ring. */
static unsigned
router_ring_drain(struct router_shard *s, unsigned p)
{
	struct ring *cr = router_ring_of(s->r, p, s->id);
	size_t n = ring_peek(cr);

	if (n == 0)
		return 0;
	if (n > ROUTER_BATCH)
		n = ROUTER_BATCH;
	for (size_t i = 0; i < n; i++)
		router_shard_handle(s, ring_slot(cr, i));
	ring_release(cr, n);
	router_room(s->r, p, s->id);
	return (unsigned)n;
}

static unsigned
router_shard_drain(struct router_shard *s)
{
	struct router *r = s->r;
	unsigned total = 0;

	for (unsigned p = 0; p < r->nproducers; p++)
		total += router_ring_drain(s, p);
	return total;
}

/* Shard: is anything queued for it (a second look before sleeping)? */
static int
router_shard_ready(struct router_shard *s)
{
	struct router *r = s->r;

	for (unsigned p = 0; p < r->nproducers; p++)
		if (ring_peek(router_ring_of(r, p, s->id)) > 0)
			return 1;
	return ring_load_acquire(&r->stop);
}

static void *
router_shard_main(void *arg)
{
	struct router_shard *s = arg;

	const struct router_hooks *h = s->r->hooks;

	for (;;) {
		int sleep_ms = -1;
		uint32_t t;

		if (router_shard_drain(s) > 0) {
			if (h != NULL && h->batch != NULL)
				h->batch(s->r->hooks_arg, s->id, s->engine, 0);
			continue;
		}
		if (ring_load_acquire(&s->r->stop)) {
			while (router_shard_drain(s) > 0)
				;
			if (h != NULL && h->batch != NULL)
				h->batch(s->r->hooks_arg, s->id, s->engine, 1);
			break;
		}
		if (h != NULL && h->batch != NULL)
			sleep_ms = h->batch(s->r->hooks_arg, s->id, s->engine, 1);
		t = ring_bell_prepare(&s->bell);
		if (router_shard_ready(s)) {
			ring_bell_cancel(&s->bell);
			continue;
		}
		ring_add_relaxed(&s->sleeps, 1);
		(void)ring_bell_wait(&s->bell, t, sleep_ms);
	}
	return NULL;
}

/* The shard of area index a of fleet f. */
static unsigned
router_area_of(const struct router *r, const struct fleet *f, uint32_t a)
{
	return a < f->nareas ? fleet_area_shard(f->areas[a], r->nshards) : 0;
}

struct router *
router_new(struct fleet *fleet, const struct corr_config *cc,
    unsigned nshards, unsigned nproducers, unsigned ring_slots,
    const struct corr_sink *sinks, char *err, size_t errlen)
{
	struct router *r;
	size_t nrings = (size_t)nshards * nproducers;

	if (nshards < 1 || nshards > ROUTER_MAX_SHARDS) {
		snprintf(err, errlen, "shards: %u, want 1-%d", nshards,
		    ROUTER_MAX_SHARDS);
		return NULL;
	}
	if (nproducers < 1 || nproducers > ROUTER_MAX_PRODUCERS) {
		snprintf(err, errlen, "producers: %u, want 1-%d", nproducers,
		    ROUTER_MAX_PRODUCERS);
		return NULL;
	}
	if (ring_slots < 4 || (ring_slots & (ring_slots - 1)) != 0) {
		snprintf(err, errlen, "ring_slots: %u, want a power of two >= 4",
		    ring_slots);
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	r->fleet = fleet;
	r->cc = *cc;
	r->nshards = nshards;
	r->nproducers = nproducers;
	r->slots = ring_slots;
	r->nsites = (uint32_t)fleet->nsites;
	r->route = xcalloc(1, sizeof(*r->route) + r->nsites + 1);
	r->route->fleet = fleet;
	r->route->nsites = r->nsites;
	r->site_shard = r->route->shard;
	ring_store_release(&r->pub, r->route);
	for (uint32_t i = 0; i < r->nsites; i++)
		r->site_shard[i] = (uint8_t)router_area_of(r, fleet,
		    fleet->sites[i].area);
	r->rings = mem_calloc_lines(nrings, sizeof(*r->rings));
	r->want = xcalloc(nrings, sizeof(*r->want));
	for (size_t i = 0; i < nrings; i++)
		/* cannot fail: ring_slots is a power of two >= 4 */
		(void)ring_init(&r->rings[i], ring_slots,
		    sizeof(struct router_msg));
	/* zeroed counters and flags are valid atomics (0, no window yet) */
	r->prod = mem_calloc_lines(nproducers, sizeof(*r->prod));
	r->shards = mem_calloc_lines(nshards, sizeof(*r->shards));
	for (unsigned i = 0; i < nshards; i++) {
		r->shards[i].r = r;
		r->shards[i].id = i;
		r->shards[i].engine = corr_engine_new(fleet, cc, i, &sinks[i]);
		r->shards[i].fleet = fleet;
	}
	return r;
}

void
router_set_room(struct router *r, unsigned producer, router_room_fn *fn,
    void *arg)
{
	if (producer >= r->nproducers)
		return;
	r->prod[producer].room_fn = fn;
	r->prod[producer].room_arg = arg;
}

void
router_set_hooks(struct router *r, const struct router_hooks *h, void *arg)
{
	r->hooks = h;
	r->hooks_arg = arg;
}

struct corr_engine *
router_engine(struct router *r, unsigned shard)
{
	return shard < r->nshards ? r->shards[shard].engine : NULL;
}

void
router_set_tap(struct router *r, router_tap_fn *fn, void *arg)
{
	r->tap = fn;
	r->tap_arg = arg;
}

/* corr_engine_maint_each callback: the highest window id. */
static void
router_max_maint(void *arg, uint32_t id, const struct corr_maint *m,
    int ended)
{
	unsigned *max = arg;

	(void)m;
	(void)ended;
	if (id > *max)
		*max = id;
}

int
router_start(struct router *r)
{
	unsigned i, max = 0;
	int rc;

	/* a restored engine's windows keep their ids: new ones go after */
	for (i = 0; i < r->nshards; i++)
		corr_engine_maint_each(r->shards[i].engine, router_max_maint,
		    &max);
	if (max > ring_load_relaxed(&r->next_maint))
		atomic_store(&r->next_maint, max);
	ring_store_release(&r->stop, 0);
	for (i = 0; i < r->nshards; i++) {
		rc = pthread_create(&r->shards[i].thread, NULL, router_shard_main,
		    &r->shards[i]);
		if (rc != 0)
			goto err;
	}
	r->running = 1;
	return 0;
err:
	ring_store_release(&r->stop, 1);
	while (i-- > 0)
		pthread_join(r->shards[i].thread, NULL);
	return -rc;
}

unsigned
router_nshards(const struct router *r)
{
	return r->nshards;
}

unsigned
router_shard_of(const struct router *r, uint32_t site)
{
	if (site < r->nsites)
		return r->site_shard[site];
	return router_area_of(r, r->fleet, r->fleet->sites[site].area);
}

int
router_pin_site(struct router *r, uint32_t site, unsigned shard)
{
	if (r->running || site >= r->nsites || shard >= r->nshards)
		return -EINVAL;
	r->site_shard[site] = (uint8_t)shard;
	return 0;
}

struct router_pin {
	struct router	*r;
	unsigned	 shard;
	int		 n;
};

static void
router_pin_one(void *arg, const struct corr_event *ev)
{
	struct router_pin *p = arg;
	uint32_t site = ev->inc->site;

	if (ev->inc->kind == CORR_KIND_SITE && site < p->r->nsites &&
	    p->r->site_shard[site] != p->shard) {
		p->r->site_shard[site] = (uint8_t)p->shard;
		p->n++;
	}
}

int
router_pin_restored(struct router *r)
{
	struct router_pin p = { r, 0, 0 };

	if (r->running)
		return -EINVAL;
	for (p.shard = 0; p.shard < r->nshards; p.shard++)
		corr_engine_dump(r->shards[p.shard].engine,
		    corr_engine_now(r->shards[p.shard].engine),
		    router_pin_one, &p);
	return p.n;
}

int
router_reload(struct router *r, unsigned producer, struct router_reload *rl)
{
	const struct fleet *of = r->fleet, *nf = rl->fleet;
	struct router_route *rt;
	struct router_msg m;

	if (producer >= r->nproducers)
		return -EINVAL;
	/* all or nothing, as router_maint_remove() */
	for (unsigned s = 0; s < r->nshards; s++)
		if (ring_reserve(router_ring_of(r, producer, s)) == NULL) {
			ring_add_relaxed(&r->prod[producer].full, 1);
			return -EAGAIN;
		}
	/* a site keeps its shard (its live incidents are there); a new one
	 * goes by its area's name */
	rt = xcalloc(1, sizeof(*rt) + nf->nsites + 1);
	rt->prev = r->route;
	rt->fleet = nf;
	rt->nsites = (uint32_t)nf->nsites;
	for (uint32_t i = 0; i < nf->nsites; i++) {
		uint32_t o = fleet_find(of, FLEET_SITE, nf->sites[i].id);

		rt->shard[i] = (uint8_t)(o < r->nsites ? r->site_shard[o] :
		    router_area_of(r, nf, nf->sites[i].area));
	}
	/* where every other producer's ring is: what they queued before
	 * may name the old fleet (router_reload_drained) */
	for (unsigned p = 0; p < r->nproducers && p < ROUTER_MAX_PRODUCERS;
	    p++)
		for (unsigned sh = 0; sh < r->nshards; sh++)
			rl->pushed[p][sh] = p == producer ? 0 :
			    ring_pushed(router_ring_of(r, p, sh));
	rl->gen = ++r->reload_gen;
	memset(&m, 0, sizeof(m));
	m.kind = ROUTER_MSG_RELOAD;
	/* the pointer rides in ev's bytes: ptr is for blocks the shard
	 * frees, and rl is the caller's until router_reloaded() passes it */
	memcpy(&m.ev, &rl, sizeof(rl));
	for (unsigned s = 0; s < r->nshards; s++) {
		(void)ring_push(router_ring_of(r, producer, s), &m);
		router_wake_shard(r, s);
	}
	r->route = rt;
	r->site_shard = rt->shard;
	r->nsites = rt->nsites;
	r->fleet = rl->fleet;
	ring_store_release(&r->pub, rt);
	/* r->cc stays: producers read only its id_prefix, which a reload
	 * cannot change (daemon/reload.h), and another producer's thread
	 * may be reading it now */
	return 0;
}

int
router_reload_drained(struct router *r, const struct router_reload *rl)
{
	for (unsigned p = 0; p < r->nproducers && p < ROUTER_MAX_PRODUCERS;
	    p++)
		for (unsigned sh = 0; sh < r->nshards; sh++) {
			struct ring *rg = router_ring_of(r, p, sh);

			if (ring_pushed(rg) - ring_backlog(rg) <
			    rl->pushed[p][sh])
				return 0;
		}
	return 1;
}

uint64_t
router_reloaded(struct router *r)
{
	uint64_t g = UINT64_MAX;

	for (unsigned s = 0; s < r->nshards; s++) {
		uint64_t x = ring_load_acquire(&r->shards[s].reloaded);

		if (x < g)
			g = x;
	}
	return g;
}

int
router_push(struct router *r, unsigned producer,
    const struct alarm_event *ev)
{
	struct ring *cr;
	struct router_msg *m;
	uint64_t pos;
	unsigned sh;

	/* router_push_batch() for one event, without its loop */
	if (producer >= r->nproducers || ev->site >= r->nsites) {
		if (producer < r->nproducers)
			ring_add_relaxed(&r->prod[producer].bad, 1);
		return -EINVAL;
	}
	sh = r->site_shard[ev->site];
	cr = router_ring_of(r, producer, sh);
	if ((m = ring_reserve_at(cr, sizeof(*m), &pos)) == NULL &&
	    (m = router_reserve_slow(r, producer, sh, &pos)) == NULL) {
		ring_add_relaxed(&r->prod[producer].full, 1);
		return -EAGAIN;
	}
	m->ev = *ev;
	m->ptr = NULL;
	m->kind = ROUTER_MSG_ALARM;
	m->id = 0;
	ring_commit_at(cr, pos);
	ring_publish(cr);
	router_wake_shard(r, sh);
	return 0;
}

int
router_push_batch(struct router *r, unsigned producer,
    const struct alarm_event *evs, size_t n)
{
	const uint8_t *site_shard = r->site_shard;
	const uint32_t nsites = r->nsites;
	struct ring *base;
	uint64_t dirty = 0;
	size_t i;
	int rc = 0;

	if (producer >= r->nproducers)
		return -EINVAL;
	/*
	 * The hot loop: locals for what the message stores could alias, one
	 * byte load to route, ring_reserve_at() (inline: the cached head says
	 * whether there is room; the position stays in a local), and the
	 * message's tail (ptr, kind = ROUTER_MSG_ALARM, id) zeroed in one
	 * 16-byte store.
	 */
	base = &r->rings[producer * r->nshards];
	for (i = 0; i < n; i++) {
		const uint32_t site = evs[i].site;
		struct router_msg *m;
		struct ring *rg;
		uint64_t t;
		unsigned sh;

		if (site >= nsites) {
			rc = -EINVAL;
			break;
		}
		sh = site_shard[site];
		rg = &base[sh];
		m = ring_reserve_at(rg, sizeof(struct router_msg), &t);
		if (m == NULL &&
		    (m = router_reserve_slow(r, producer, sh, &t)) == NULL) {
			rc = -EAGAIN;
			break;
		}
		memcpy(&m->ev, &evs[i], sizeof(m->ev));
		memset((char *)m + offsetof(struct router_msg, ptr), 0,
		    sizeof(*m) - offsetof(struct router_msg, ptr));
		ring_commit_at(rg, t);
		dirty |= 1ULL << sh;
	}
	while (dirty != 0) {
		unsigned sh = (unsigned)__builtin_ctzll(dirty);

		ring_publish(&base[sh]);
		router_wake_shard(r, sh);
		dirty &= dirty - 1;
	}
	if (i > 0 || n == 0)
		return (int)(i < (size_t)INT32_MAX ? i : INT32_MAX);
	if (rc == -EAGAIN)
		ring_add_relaxed(&r->prod[producer].full, 1);
	else
		ring_add_relaxed(&r->prod[producer].bad, 1);
	return rc;
}

int
router_push_wait(struct router *r, unsigned producer,
    const struct alarm_event *evs, size_t n, int timeout_ms, size_t *done)
{
	struct router_producer *pr;
	int64_t now, deadline = -1;
	size_t i = 0;

	if (producer >= r->nproducers)
		return -EINVAL;
	pr = &r->prod[producer];
	while (i < n) {
		size_t chunk = n - i < INT32_MAX ? n - i : INT32_MAX;
		int rc = router_push_batch(r, producer, evs + i, chunk);
		struct ring *rg;

		if (rc > 0) {
			i += (size_t)rc;
			continue;
		}
		if (rc == -EINVAL) {
			i++;	/* counted in `bad` by push_batch */
			continue;
		}
		/* -EAGAIN: evs[i]'s ring is full and its want flag is up */
		now = clock_mono_ms();
		if (deadline < 0)
			deadline = now + (timeout_ms > 0 ? timeout_ms : 0);
		if (now >= deadline) {
			ring_add_relaxed(&pr->timeouts, 1);
			if (done != NULL)
				*done = i;
			return -ETIMEDOUT;
		}
		rg = router_ring_of(r, producer, r->site_shard[evs[i].site]);
		ring_add_relaxed(&pr->waits, 1);
		(void)ring_wait_room(rg, &pr->room, (int)(deadline - now));
	}
	if (done != NULL)
		*done = i;
	return 0;
}

static char *
router_copy_str(char **dst, const char *s)
{
	size_t n;

	if (s == NULL)
		return NULL;
	n = strlen(s) + 1;
	memcpy(*dst, s, n);
	*dst += n;
	return *dst - n;
}

/*
 * Queues m, whose heap block m->ptr the shard will own, for shard.  When
 * the ring is full the block is freed here and the producer's `full`
 * counted.  Returns 0 or -EAGAIN.
 */
static int
router_push_owned(struct router *r, unsigned producer, unsigned shard,
    const struct router_msg *m)
{
	if (ring_push(router_ring_of(r, producer, shard), m) == 0) {
		router_wake_shard(r, shard);
		return 0;
	}
	xfree(m->ptr);
	ring_add_relaxed(&r->prod[producer].full, 1);
	return -EAGAIN;
}

int
router_action(struct router *r, unsigned producer,
    const struct corr_action *a)
{
	return router_action_from(r, producer, a, -1, -1);
}

static int router_action_msg(struct router *r, unsigned producer,
    const struct corr_action *a, int32_t kpart, int64_t koffset, void *reply);

int
router_action_from(struct router *r, unsigned producer,
    const struct corr_action *a, int32_t kpart, int64_t koffset)
{
	return router_action_msg(r, producer, a, kpart, koffset, NULL);
}

int
router_action_reply(struct router *r, unsigned producer,
    const struct corr_action *a, void *reply)
{
	return router_action_msg(r, producer, a, -1, -1, reply);
}

static int
router_action_msg(struct router *r, unsigned producer,
    const struct corr_action *a, int32_t kpart, int64_t koffset, void *reply)
{
	struct router_action *copy;
	struct router_msg m;
	unsigned shard;
	uint64_t num;
	size_t need;
	char *p;

	if (producer >= r->nproducers || a->incident == NULL ||
	    corr_id_parse(r->cc.id_prefix, a->incident, &shard, &num) != 0 ||
	    shard >= r->nshards)
		return -ENOENT;
	need = sizeof(*copy) + strlen(a->incident) + 1 +
	    (a->actor ? strlen(a->actor) + 1 : 0) +
	    (a->note ? strlen(a->note) + 1 : 0);
	copy = xmalloc(need);
	copy->a = *a;
	copy->kpart = kpart;
	copy->koffset = koffset;
	copy->reply = reply;
	p = (char *)(copy + 1);
	copy->a.incident = router_copy_str(&p, a->incident);
	copy->a.actor = router_copy_str(&p, a->actor);
	copy->a.note = router_copy_str(&p, a->note);
	memset(&m, 0, sizeof(m));
	m.ptr = copy;
	m.kind = ROUTER_MSG_ACTION;
	return router_push_owned(r, producer, shard, &m);
}

/*
 * The shard owning a place (site, or area when site is FLEET_NONE), by
 * the published route (any producer's thread); the indexes are of fleet f
 * (NULL: the route's, else matched by name).  0 and *shard, or -EINVAL.
 */
static int
router_place_shard(struct router *r, const struct fleet *f, uint32_t site,
    uint32_t area, unsigned *shard)
{
	const struct router_route *rt = ring_load_acquire(&r->pub);
	uint32_t i;

	if (f == NULL)
		f = rt->fleet;
	if (site != FLEET_NONE) {
		if (site >= f->nsites)
			return -EINVAL;
		i = f == rt->fleet ? site : fleet_find(rt->fleet,
		    FLEET_SITE, f->sites[site].id);
		*shard = i < rt->nsites ? rt->shard[i] :
		    router_area_of(r, f, f->sites[site].area);
	} else {
		if (area >= f->nareas)
			return -EINVAL;
		*shard = router_area_of(r, f, area);
	}
	return 0;
}

unsigned
router_site_shard(struct router *r, const struct fleet *f, uint32_t site)
{
	unsigned shard = 0;

	(void)router_place_shard(r, f, site, FLEET_NONE, &shard);
	return shard;
}

static int
router_maint_shard(struct router *r, const struct corr_maint *mw,
    const struct fleet *f, unsigned *shard)
{
	return router_place_shard(r, f, mw->site, mw->area, shard);
}

const struct fleet *
router_fleet(struct router *r)
{
	return ((const struct router_route *)ring_load_acquire(&r->pub))->fleet;
}

int
router_complaint(struct router *r, unsigned producer,
    const struct fleet *f, const struct corr_complaint *c, void *reply)
{
	struct router_complaint *copy;
	struct router_msg m;
	unsigned shard;
	size_t need;
	char *p;

	if (producer >= r->nproducers || c->site == FLEET_NONE ||
	    router_place_shard(r, f, c->site, FLEET_NONE, &shard) != 0)
		return -EINVAL;
	need = sizeof(*copy) + (c->customer ? strlen(c->customer) + 1 : 0) +
	    (c->text ? strlen(c->text) + 1 : 0) +
	    (c->actor ? strlen(c->actor) + 1 : 0);
	copy = xmalloc(need);
	copy->c = *c;
	copy->reply = reply;
	copy->fleet = f != NULL ? f : router_fleet(r);
	p = (char *)(copy + 1);
	copy->c.customer = router_copy_str(&p, c->customer);
	copy->c.text = router_copy_str(&p, c->text);
	copy->c.actor = router_copy_str(&p, c->actor);
	memset(&m, 0, sizeof(m));
	m.ptr = copy;
	m.kind = ROUTER_MSG_COMPLAINT;
	return router_push_owned(r, producer, shard, &m);
}

int
router_maint_add(struct router *r, unsigned producer,
    const struct corr_maint *mw, uint32_t *id)
{
	return router_maint_add_reply(r, producer, NULL, mw, id, NULL);
}

int
router_maint_add_reply(struct router *r, unsigned producer,
    const struct fleet *f, const struct corr_maint *mw, uint32_t *id,
    void *reply)
{
	const char *reason = mw->reason != NULL ? mw->reason : "";
	struct router_maint *copy;
	struct router_msg m;
	unsigned shard;
	char *p;

	if (producer >= r->nproducers ||
	    router_maint_shard(r, mw, f, &shard) != 0)
		return -EINVAL;
	if (f == NULL)
		f = router_fleet(r);
	copy = xmalloc(sizeof(*copy) + strlen(reason) + 1 +
	    (mw->actor != NULL ? strlen(mw->actor) + 1 : 0));
	copy->m = *mw;
	copy->reply = reply;
	copy->fleet = f;
	p = (char *)(copy + 1);
	copy->m.reason = router_copy_str(&p, reason);
	copy->m.actor = router_copy_str(&p, mw->actor);
	memset(&m, 0, sizeof(m));
	m.ptr = copy;
	m.kind = ROUTER_MSG_MAINT_ADD;
	m.id = (uint32_t)ring_add_relaxed(&r->next_maint, 1) + 1;
	if (router_push_owned(r, producer, shard, &m) != 0)
		return -EAGAIN;
	*id = m.id;
	return 0;
}

int
router_maint_remove(struct router *r, unsigned producer, uint32_t id)
{
	return router_maint_remove_reply(r, producer, id, NULL, NULL, NULL);
}

int
router_maint_remove_reply(struct router *r, unsigned producer, uint32_t id,
    const struct fleet *f, const struct corr_maint *where, void *reply)
{
	struct router_msg m;
	unsigned owner = 0;

	if (producer >= r->nproducers || (where != NULL &&
	    router_maint_shard(r, where, f, &owner) != 0))
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	m.kind = ROUTER_MSG_MAINT_DEL;
	m.id = id;
	/* All or nothing: check room in every ring first (we are its only
	 * producer, so the room can only grow meanwhile). */
	for (unsigned s = 0; s < r->nshards; s++) {
		if (ring_reserve(router_ring_of(r, producer, s)) == NULL) {
			ring_add_relaxed(&r->prod[producer].full, 1);
			return -EAGAIN;
		}
	}
	for (unsigned s = 0; s < r->nshards; s++) {
		m.ptr = NULL;
		if (reply != NULL && s == owner) {
			struct router_maint *rm = xcalloc(1, sizeof(*rm));

			rm->reply = reply;
			m.ptr = rm;
		}
		(void)ring_push(router_ring_of(r, producer, s), &m);
		router_wake_shard(r, s);
	}
	return 0;
}

/* Queues a message with no payload but a time to one shard. */
static int
router_push_time(struct router *r, unsigned producer, unsigned shard,
    uint32_t kind, int64_t now)
{
	struct router_msg m;

	if (producer >= r->nproducers || shard >= r->nshards)
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	m.kind = kind;
	m.ev.at_ms = now;
	if (ring_push(router_ring_of(r, producer, shard), &m) != 0)
		return -EAGAIN;
	router_wake_shard(r, shard);
	return 0;
}

int
router_tick_shard(struct router *r, unsigned producer, unsigned shard,
    int64_t now)
{
	return router_push_time(r, producer, shard, ROUTER_MSG_TICK, now);
}

int
router_dump_shard(struct router *r, unsigned producer, unsigned shard,
    int64_t now)
{
	return router_push_time(r, producer, shard, ROUTER_MSG_DUMP, now);
}

int
router_tick(struct router *r, unsigned producer, int64_t now)
{
	int missed = 0;

	if (producer >= r->nproducers)
		return -EINVAL;
	/*
	 * Not all or nothing: a shard whose ring is full is busy with
	 * alarms, each of which advances its engine anyway, and the next
	 * tick carries a later time.
	 */
	for (unsigned s = 0; s < r->nshards; s++)
		if (router_tick_shard(r, producer, s, now) != 0)
			missed++;
	if (missed > 0)
		ring_add_relaxed(&r->prod[producer].full, 1);
	return missed;
}

void
router_stop(struct router *r)
{
	if (!r->running)
		return;
	ring_store_release(&r->stop, 1);
	for (unsigned i = 0; i < r->nshards; i++)
		router_wake_shard(r, i);
	for (unsigned i = 0; i < r->nshards; i++)
		pthread_join(r->shards[i].thread, NULL);
	r->running = 0;
}

_Static_assert(sizeof(struct corr_stats) % sizeof(uint64_t) == 0,
    "corr_stats is uint64_t counters only");

void
router_stats(const struct router *r, struct corr_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < r->nshards; i++) {
		struct corr_stats st;
		uint64_t *dst = (uint64_t *)out;
		const uint64_t *src = (const uint64_t *)&st;

		corr_engine_stats(r->shards[i].engine, &st);
		/* Every field of corr_stats is a uint64_t counter. */
		for (size_t k = 0; k < sizeof(st) / sizeof(uint64_t); k++)
			dst[k] += src[k];
	}
}

uint64_t
router_backlog(struct router *r)
{
	uint64_t n = 0;

	for (size_t i = 0; i < (size_t)r->nshards * r->nproducers; i++)
		n += ring_backlog(&r->rings[i]);
	return n;
}

uint64_t
router_sleeps(struct router *r)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < r->nshards; i++)
		n += ring_load_relaxed(&r->shards[i].sleeps);
	return n;
}

void
router_producer_stats(struct router *r, unsigned producer,
    struct router_pstats *out)
{
	struct router_producer *pr;

	memset(out, 0, sizeof(*out));
	if (producer >= r->nproducers)
		return;
	pr = &r->prod[producer];
	for (unsigned s = 0; s < r->nshards; s++)
		out->queued += ring_pushed(router_ring_of(r, producer, s));
	out->full = ring_load_relaxed(&pr->full);
	out->waits = ring_load_relaxed(&pr->waits);
	out->timeouts = ring_load_relaxed(&pr->timeouts);
	out->bad = ring_load_relaxed(&pr->bad);
}

void
router_free(struct router *r)
{
	if (r == NULL)
		return;
	router_stop(r);
	for (size_t i = 0; i < (size_t)r->nshards * r->nproducers; i++) {
		struct ring *cr = &r->rings[i];
		size_t n;

		/* Messages queued but never run (threads never started). */
		while ((n = ring_peek(cr)) > 0) {
			for (size_t k = 0; k < n; k++) {
				struct router_msg *m = ring_slot(cr, k);

				xfree(m->ptr);
			}
			ring_release(cr, n);
		}
		ring_fini(cr);
	}
	for (unsigned i = 0; i < r->nshards; i++)
		corr_engine_free(r->shards[i].engine);
	xfree(r->shards);
	xfree(r->prod);
	xfree(r->rings);
	xfree(r->want);
	while (r->route != NULL) {
		struct router_route *rt = r->route;

		r->route = rt->prev;
		xfree(rt);
	}
	xfree(r);
}
