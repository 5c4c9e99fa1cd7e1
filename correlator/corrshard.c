/*
 * corrshard.c - see corrshard.h.
 *
 * Ring layout: rings[producer * nshards + shard], each a ck_ring of
 * struct corr_msg by value (40 bytes: the 32-byte alarm event plus an
 * action pointer), so an alarm crosses threads with no allocation.  An
 * action is one heap block (struct + its strings) freed by the shard.
 *
 * A shard thread drains its rings round-robin, at most CORR_BATCH messages
 * from one ring before looking at the next, so one busy producer cannot
 * starve the others.  With nothing to do it spins briefly, then sleeps
 * 50 us: a shard idles at near zero CPU and wakes within a poll interval's
 * rounding error.  Stop is a release-store of a flag after producers are
 * done; a shard that acquires it drains once more and exits, so nothing
 * queued is lost.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <ck_ring.h>

#include "correlator/catomic.h"
#include "correlator/corrshard.h"
#include "daemon/mem.h"

#define CORR_BATCH	256	/* messages from one ring per turn */
#define CORR_SPINS	64	/* idle turns before sleeping */

enum corr_msg_kind {
	CORR_MSG_ALARM,		/* ev */
	CORR_MSG_ACTION,	/* ptr: struct corr_action + strings, owned */
	CORR_MSG_MAINT_ADD,	/* ptr: struct corr_maint + reason, owned; id */
	CORR_MSG_MAINT_DEL,	/* id */
};

struct corr_msg {
	struct alarm_event ev;	/* CORR_MSG_ALARM */
	void	*ptr;		/* owned heap block, or NULL */
	uint32_t kind;		/* enum corr_msg_kind */
	uint32_t id;		/* maintenance window id */
};

CK_RING_PROTOTYPE(corrmsg, corr_msg)

struct corr_ring {
	struct ck_ring	 ring;
	struct corr_msg	*buf;		/* ring_slots messages */
	char		 pad[64];	/* keep neighbouring rings' lines apart */
};

struct corr_shard {
	struct corr_router *r;
	unsigned	 id;
	struct corr_engine *engine;	/* touched only by the thread */
	pthread_t	 thread;
};

struct corr_router {
	struct fleet	*fleet;
	struct corr_config cc;
	unsigned	 nshards, nproducers, slots;
	struct corr_ring *rings;	/* nproducers * nshards */
	struct corr_shard *shards;
	atomic_int	 stop;		/* 1: drain and exit */
	atomic_uint	 next_maint;	/* last maintenance window id handed out */
	int		 running;	/* threads started and not joined */
};

static struct corr_ring *
corr_ring_of(struct corr_router *r, unsigned producer, unsigned shard)
{
	return &r->rings[producer * r->nshards + shard];
}

static void
corr_shard_handle(struct corr_shard *s, struct corr_msg *m)
{
	switch (m->kind) {
	case CORR_MSG_ALARM:
		corr_engine_alarm(s->engine, &m->ev);
		break;
	case CORR_MSG_ACTION:
		corr_engine_action(s->engine, m->ptr, NULL, 0);
		break;
	case CORR_MSG_MAINT_ADD:
		corr_engine_maint_put(s->engine, m->id, m->ptr);
		break;
	case CORR_MSG_MAINT_DEL:
		/* Sent to every shard; only the owner knows the id. */
		corr_engine_maint_remove(s->engine, m->id);
		break;
	}
	xfree(m->ptr);
}

static unsigned
corr_shard_drain(struct corr_shard *s)
{
	struct corr_router *r = s->r;
	unsigned total = 0;

	for (unsigned p = 0; p < r->nproducers; p++) {
		struct corr_ring *cr = corr_ring_of(r, p, s->id);
		struct corr_msg m;
		unsigned n = 0;

		while (n < CORR_BATCH &&
		    ck_ring_dequeue_spsc_corrmsg(&cr->ring, cr->buf, &m)) {
			corr_shard_handle(s, &m);
			n++;
		}
		total += n;
	}
	return total;
}

static void *
corr_shard_main(void *arg)
{
	struct corr_shard *s = arg;
	unsigned idle = 0;

	for (;;) {
		if (corr_shard_drain(s) > 0) {
			idle = 0;
			continue;
		}
		if (catomic_load_acquire(&s->r->stop)) {
			while (corr_shard_drain(s) > 0)
				;
			break;
		}
		if (++idle < CORR_SPINS) {
			sched_yield();
		} else {
			struct timespec ts = { 0, 50 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

struct corr_router *
corr_router_new(struct fleet *fleet, const struct corr_config *cc,
    unsigned nshards, unsigned nproducers, unsigned ring_slots,
    const struct corr_sink *sinks, char *err, size_t errlen)
{
	struct corr_router *r;

	if (nshards < 1 || nshards > CORR_ROUTER_MAX_SHARDS) {
		snprintf(err, errlen, "shards: %u, want 1-%d", nshards,
		    CORR_ROUTER_MAX_SHARDS);
		return NULL;
	}
	if (nproducers < 1 || nproducers > CORR_ROUTER_MAX_PRODUCERS) {
		snprintf(err, errlen, "producers: %u, want 1-%d", nproducers,
		    CORR_ROUTER_MAX_PRODUCERS);
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
	r->rings = xcalloc((size_t)nshards * nproducers, sizeof(*r->rings));
	for (size_t i = 0; i < (size_t)nshards * nproducers; i++) {
		r->rings[i].buf = xcalloc(ring_slots, sizeof(struct corr_msg));
		ck_ring_init(&r->rings[i].ring, ring_slots);
	}
	r->shards = xcalloc(nshards, sizeof(*r->shards));
	for (unsigned i = 0; i < nshards; i++) {
		r->shards[i].r = r;
		r->shards[i].id = i;
		r->shards[i].engine = corr_engine_new(fleet, cc, i, &sinks[i]);
	}
	atomic_init(&r->stop, 0);
	atomic_init(&r->next_maint, 1);
	return r;
}

int
corr_router_start(struct corr_router *r)
{
	unsigned i;
	int rc;

	catomic_store_release(&r->stop, 0);
	for (i = 0; i < r->nshards; i++) {
		rc = pthread_create(&r->shards[i].thread, NULL, corr_shard_main,
		    &r->shards[i]);
		if (rc != 0)
			goto err;
	}
	r->running = 1;
	return 0;
err:
	catomic_store_release(&r->stop, 1);
	while (i-- > 0)
		pthread_join(r->shards[i].thread, NULL);
	return -rc;
}

static uint64_t
corr_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

unsigned
corr_router_shard_of(const struct corr_router *r, uint32_t site)
{
	return (unsigned)(corr_mix(r->fleet->sites[site].area) % r->nshards);
}

int
corr_router_push(struct corr_router *r, unsigned producer,
    const struct alarm_event *ev)
{
	struct corr_ring *cr;
	struct corr_msg m;

	if (ev->site >= r->fleet->nsites || producer >= r->nproducers)
		return -EINVAL;
	cr = corr_ring_of(r, producer, corr_router_shard_of(r, ev->site));
	m.ev = *ev;
	m.ptr = NULL;
	m.kind = CORR_MSG_ALARM;
	m.id = 0;
	return ck_ring_enqueue_spsc_corrmsg(&cr->ring, cr->buf, &m) ?
	    0 : -EAGAIN;
}

static char *
corr_copy_str(char **dst, const char *s)
{
	size_t n;

	if (s == NULL)
		return NULL;
	n = strlen(s) + 1;
	memcpy(*dst, s, n);
	*dst += n;
	return *dst - n;
}

int
corr_router_action(struct corr_router *r, unsigned producer,
    const struct corr_action *a)
{
	struct corr_action *copy;
	struct corr_ring *cr;
	struct corr_msg m;
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
	*copy = *a;
	p = (char *)(copy + 1);
	copy->incident = corr_copy_str(&p, a->incident);
	copy->actor = corr_copy_str(&p, a->actor);
	copy->note = corr_copy_str(&p, a->note);
	memset(&m, 0, sizeof(m));
	m.ptr = copy;
	m.kind = CORR_MSG_ACTION;
	cr = corr_ring_of(r, producer, shard);
	if (!ck_ring_enqueue_spsc_corrmsg(&cr->ring, cr->buf, &m)) {
		xfree(copy);
		return -EAGAIN;
	}
	return 0;
}

int
corr_router_maint_add(struct corr_router *r, unsigned producer,
    const struct corr_maint *mw, uint32_t *id)
{
	const char *reason = mw->reason != NULL ? mw->reason : "";
	struct corr_maint *copy;
	struct corr_ring *cr;
	struct corr_msg m;
	unsigned shard;

	if (producer >= r->nproducers)
		return -EINVAL;
	if (mw->site != FLEET_NONE) {
		if (mw->site >= r->fleet->nsites)
			return -EINVAL;
		shard = corr_router_shard_of(r, mw->site);
	} else {
		if (mw->area >= r->fleet->nareas)
			return -EINVAL;
		shard = (unsigned)(corr_mix(mw->area) % r->nshards);
	}
	copy = xmalloc(sizeof(*copy) + strlen(reason) + 1);
	*copy = *mw;
	copy->reason = memcpy(copy + 1, reason, strlen(reason) + 1);
	memset(&m, 0, sizeof(m));
	m.ptr = copy;
	m.kind = CORR_MSG_MAINT_ADD;
	m.id = (uint32_t)catomic_add_relaxed(&r->next_maint, 1);
	cr = corr_ring_of(r, producer, shard);
	if (!ck_ring_enqueue_spsc_corrmsg(&cr->ring, cr->buf, &m)) {
		xfree(copy);
		return -EAGAIN;
	}
	*id = m.id;
	return 0;
}

int
corr_router_maint_remove(struct corr_router *r, unsigned producer,
    uint32_t id)
{
	struct corr_msg m;

	if (producer >= r->nproducers)
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	m.kind = CORR_MSG_MAINT_DEL;
	m.id = id;
	/* All or nothing: check room in every ring first (we are its only
	 * producer, so the room can only grow meanwhile). */
	for (unsigned s = 0; s < r->nshards; s++) {
		struct corr_ring *cr = corr_ring_of(r, producer, s);
		if (ck_ring_size(&cr->ring) + 1 >= ck_ring_capacity(&cr->ring))
			return -EAGAIN;
	}
	for (unsigned s = 0; s < r->nshards; s++) {
		struct corr_ring *cr = corr_ring_of(r, producer, s);
		ck_ring_enqueue_spsc_corrmsg(&cr->ring, cr->buf, &m);
	}
	return 0;
}

void
corr_router_stop(struct corr_router *r)
{
	if (!r->running)
		return;
	catomic_store_release(&r->stop, 1);
	for (unsigned i = 0; i < r->nshards; i++)
		pthread_join(r->shards[i].thread, NULL);
	r->running = 0;
}

_Static_assert(sizeof(struct corr_stats) % sizeof(uint64_t) == 0,
    "corr_stats is uint64_t counters only");

void
corr_router_stats(const struct corr_router *r, struct corr_stats *out)
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

void
corr_router_free(struct corr_router *r)
{
	if (r == NULL)
		return;
	corr_router_stop(r);
	for (size_t i = 0; i < (size_t)r->nshards * r->nproducers; i++) {
		struct corr_msg m;

		/* Messages queued but never run (threads never started). */
		while (ck_ring_dequeue_spsc_corrmsg(&r->rings[i].ring,
		    r->rings[i].buf, &m))
			xfree(m.ptr);
		xfree(r->rings[i].buf);
	}
	for (unsigned i = 0; i < r->nshards; i++)
		corr_engine_free(r->shards[i].engine);
	xfree(r->shards);
	xfree(r->rings);
	xfree(r);
}
