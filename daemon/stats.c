/*
 * stats.c - see stats.h.
 */
#include <pthread.h>
#include <string.h>

#include "daemon/clock.h"
#include "daemon/mem.h"
#include "daemon/ring.h"
#include "daemon/stats.h"

/* From 1 ms (a LAN device) to 5 s (past any sane timeout). */
const double stats_rtt_le[STATS_RTT_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5
};

struct stats {
	pthread_mutex_t	 lock;		/* guards everything below but phase */
	_Atomic int	 phase;		/* enum stats_phase */
	int64_t		 started_ms;
	int		 have_poll;
	struct stats_poll poll;
	unsigned	 nshards;
	size_t		 nareas;
	const struct fleet *fleet;	/* whose areas by_area counts, or NULL */
	struct stats_shard *shards;	/* by_area arrays owned here */
	struct stats_reload reload;
	uint8_t		*comm;		/* per device (stats_put_comm) */
	size_t		 ncomm;
};

struct stats *
stats_new(unsigned nshards, size_t nareas, int64_t started_ms)
{
	struct stats *st = xcalloc(1, sizeof(*st));

	pthread_mutex_init(&st->lock, NULL);
	st->nshards = nshards;
	st->nareas = nareas;
	st->started_ms = started_ms;
	st->reload.last_ok_ms = started_ms;
	st->reload.last_result = -1;
	st->shards = xcalloc(nshards, sizeof(*st->shards));
	for (unsigned i = 0; i < nshards; i++)
		st->shards[i].by_area = xcalloc(nareas + 1, sizeof(uint32_t));
	return st;
}

void
stats_free(struct stats *st)
{
	if (st == NULL)
		return;
	for (unsigned i = 0; i < st->nshards; i++)
		xfree(st->shards[i].by_area);
	xfree(st->shards);
	xfree(st->comm);
	pthread_mutex_destroy(&st->lock);
	xfree(st);
}

void
stats_set_phase(struct stats *st, enum stats_phase p)
{
	ring_store_release(&st->phase, (int)p);
}

int
stats_phase(const struct stats *st)
{
	return ring_load_acquire(&((struct stats *)(uintptr_t)st)->phase);
}

void
stats_put_poll(struct stats *st, const struct stats_poll *p)
{
	pthread_mutex_lock(&st->lock);
	st->poll = *p;
	st->have_poll = 1;
	pthread_mutex_unlock(&st->lock);
}

void
stats_put_comm(struct stats *st, const uint8_t *comm, size_t n)
{
	pthread_mutex_lock(&st->lock);
	if (st->ncomm != n) {
		st->comm = xrealloc(st->comm, n + 1);
		st->ncomm = n;
	}
	memcpy(st->comm, comm, n);
	pthread_mutex_unlock(&st->lock);
}

uint8_t
stats_comm(struct stats *st, uint32_t d)
{
	uint8_t c = STATS_COMM_UNKNOWN;

	pthread_mutex_lock(&st->lock);
	if (d < st->ncomm)
		c = st->comm[d];
	pthread_mutex_unlock(&st->lock);
	return c;
}

const char *
stats_comm_name(uint8_t c)
{
	static const char *const names[STATS_COMM__COUNT] = {
		"unknown", "ok", "lost"
	};

	return c < STATS_COMM__COUNT ? names[c] : "unknown";
}

/* Copies s into d, keeping d's by_area array. */
static void
stats_shard_copy(struct stats_shard *d, const struct stats_shard *s,
    size_t nareas)
{
	uint32_t *keep = d->by_area;

	*d = *s;
	d->by_area = keep;
	if (s->by_area != NULL)
		memcpy(keep, s->by_area, nareas * sizeof(uint32_t));
	else
		memset(keep, 0, nareas * sizeof(uint32_t));
}

void
stats_put_shard(struct stats *st, unsigned shard, const struct stats_shard *s)
{
	struct stats_shard c;

	if (shard >= st->nshards)
		return;
	pthread_mutex_lock(&st->lock);
	c = *s;
	/* counted over another fleet (a reload under way): no areas */
	if (s->fleet != st->fleet)
		c.by_area = NULL;
	stats_shard_copy(&st->shards[shard], &c, st->nareas);
	pthread_mutex_unlock(&st->lock);
}

void
stats_put_reload(struct stats *st, const struct stats_reload *r)
{
	pthread_mutex_lock(&st->lock);
	st->reload = *r;
	pthread_mutex_unlock(&st->lock);
}

void
stats_set_fleet(struct stats *st, const struct fleet *f)
{
	pthread_mutex_lock(&st->lock);
	st->fleet = f;
	st->nareas = f->nareas;
	for (unsigned i = 0; i < st->nshards; i++) {
		xfree(st->shards[i].by_area);
		st->shards[i].by_area = xcalloc(st->nareas + 1,
		    sizeof(uint32_t));
	}
	pthread_mutex_unlock(&st->lock);
}

void
stats_view(struct stats *st, struct stats_view *out)
{
	memset(out, 0, sizeof(*out));
	out->nshards = st->nshards;
	out->started_ms = st->started_ms;
	out->shards = xcalloc(st->nshards, sizeof(*out->shards));
	out->phase = stats_phase(st);
	pthread_mutex_lock(&st->lock);
	out->nareas = st->nareas;
	out->fleet = st->fleet;
	out->reload = st->reload;
	for (unsigned i = 0; i < st->nshards; i++)
		out->shards[i].by_area = xcalloc(st->nareas + 1,
		    sizeof(uint32_t));
	out->have_poll = st->have_poll;
	out->poll = st->poll;
	for (unsigned i = 0; i < st->nshards; i++)
		stats_shard_copy(&out->shards[i], &st->shards[i], st->nareas);
	pthread_mutex_unlock(&st->lock);
	out->now_ms = clock_mono_ms();
}

void
stats_view_fini(struct stats_view *v)
{
	for (unsigned i = 0; v->shards != NULL && i < v->nshards; i++)
		xfree(v->shards[i].by_area);
	FREE_NULL(v->shards);
}

unsigned
stats_rtt_bucket(uint32_t rtt_us)
{
	double s = rtt_us / 1e6;
	unsigned b = 0;

	while (b < STATS_RTT_BUCKETS && s > stats_rtt_le[b])
		b++;
	return b;
}
