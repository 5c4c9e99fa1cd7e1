/*
 * stress_cfeed.c - a correlator's hand-off to its loop (daemon/cfeed) on
 * two threads, as tocsind runs it: a stage thread offers events of four
 * partitions and serves the dumps the feed asks for; the loop (the main
 * thread) offers them to a sink that takes at most 300 records before
 * they are reported done and stalls after every 20,000 until the stage
 * has folded (Redis frozen), so the small hand-off (1,024 slots) fills
 * and folds however the two threads are timed.  Under SANITIZER=thread this is how ThreadSanitizer
 * sees the feed: a correlator itself cannot run under it (librdkafka's
 * threads are invisible to GCC's TSan, docs/testing.md).
 *
 *   stress_cfeed [-n EVENTS]
 *
 * Checks at the end: every record offered was queued or folded; every
 * queued one was offered once, in its partition's order, and freed when
 * done; the hand-off folded and its dumps came.  Exit 0, or 1 with a
 * message.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "daemon/cfeed.h"
#include "daemon/mem.h"

#define NPARTS	4
#define SLOTS	1024
#define TAKES	300	/* records the sink takes before they are done */
#define STALL	20000	/* the sink stalls after this many, until a fold */

struct sink {
	struct pub_sink	 base;
	uint64_t	 last[NPARTS];	/* last pos offered, per partition */
	uint64_t	 taken, disorder, dumps;
	int		 refused;
	uint64_t	 stall;		/* folds when it stalled, +1; 0: not */
};

static struct cfeed *feed;
static const struct pub_host *host;
static _Atomic int producing = 1;
static long nevents = 200000;
static uint64_t attempted;	/* the stage's: records it offered */

static struct cfeed_stats
stats(void)
{
	struct cfeed_stats st;

	cfeed_stats(feed, &st);
	return st;
}

static int
sink_offer(struct pub_sink *s, const struct pub_rec *r)
{
	struct sink *k = (struct sink *)s;

	if (k->stall > 0 || k->taken - stats().done >= TAKES) {
		k->refused = 1;
		return -EAGAIN;
	}
	if (r->shard >= NPARTS || r->pos <= k->last[r->shard])
		k->disorder++;
	else
		k->last[r->shard] = r->pos;
	k->taken++;
	if (k->taken % STALL == 0)
		k->stall = stats().folds + 1;
	if (r->kind == PUB_DUMP_BEGIN)
		k->dumps++;
	return 0;
}

static int
sink_healthy(const struct pub_sink *s)
{
	(void)s;
	return 1;
}

static void
sink_close(struct pub_sink *s, int timeout_ms)
{
	(void)s;
	(void)timeout_ms;
}

static const struct pub_ops sink_ops = {
	.name = "stress", .offer = sink_offer, .healthy = sink_healthy,
	.close = sink_close,
};

static void
offer(struct pub_rec *r)
{
	(void)cfeed_stage_sink(feed)->ops->offer(cfeed_stage_sink(feed), r);
	attempted++;
}

/* An event as the stage makes it: a record on the stack, its JSON in a
 * buffer reused for the next one (the feed copies). */
static void
event(unsigned p, long i)
{
	char id[32], json[96];
	struct pub_span sp;
	struct pub_rec r;

	snprintf(id, sizeof(id), "INC-%u-%ld", p, i);
	snprintf(json, sizeof(json), "{\"id\":\"%s\",\"timeline\":[{\"s\":1}]}",
	    id);
	sp.off = (uint32_t)(strstr(json, "{\"s\"") - json);
	sp.len = 7;
	memset(&r, 0, sizeof(r));
	r.kind = PUB_EVENT;
	r.shard = p;
	r.id = id;
	r.json = json;
	r.jsonlen = strlen(json);
	r.steps = &sp;
	r.nsteps = 1;
	offer(&r);
}

static void
dump(unsigned p)
{
	struct pub_rec r;

	memset(&r, 0, sizeof(r));
	r.shard = p;
	r.kind = PUB_DUMP_BEGIN;
	offer(&r);
	r.kind = PUB_STATE;
	r.id = "INC-0-0";
	r.json = "{}";
	r.jsonlen = 2;
	offer(&r);
	memset(&r, 0, sizeof(r));
	r.shard = p;
	r.kind = PUB_DUMP_END;
	offer(&r);
}

static void *
stage(void *arg)
{
	(void)arg;
	for (long i = 0; i < nevents; i++) {
		event((unsigned)(i % NPARTS), i);
		if ((i & 127) == 0) {
			uint64_t w = cfeed_wanted(feed);

			for (unsigned q = 0; q < NPARTS; q++) {
				if (!(w >> q & 1))
					continue;
				if (cfeed_room(feed))
					dump(q);
				else
					cfeed_want(feed, q);
			}
		}
	}
	atomic_store(&producing, 0);
	return NULL;
}

static void
tick_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
}

static int
fail(const char *what, uint64_t got, uint64_t want)
{
	fprintf(stderr, "stress_cfeed: %s: %" PRIu64 ", want %" PRIu64 "\n",
	    what, got, want);
	return 1;
}

int
main(int argc, char **argv)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	static struct sink k;
	struct cfeed_stats st;
	pthread_t thr;
	ev_timer tick;
	int c;

	while ((c = getopt(argc, argv, "n:")) != -1)
		if (c == 'n')
			nevents = atol(optarg);
	if (loop == NULL || nevents <= 0) {
		fprintf(stderr, "usage: stress_cfeed [-n EVENTS]\n");
		return 2;
	}
	feed = cfeed_new(loop, SLOTS, 1u << 20);
	host = cfeed_host(feed);
	k.base.ops = &sink_ops;
	cfeed_attach(feed, &k.base);
	/* the loop wakes for the stage's records; the tick bounds a sleep
	 * after the last one, when the sink's done comes from here */
	ev_timer_init(&tick, tick_cb, 0.005, 0.005);
	ev_timer_start(loop, &tick);
	if (pthread_create(&thr, NULL, stage, NULL) != 0)
		return fail("pthread_create", 0, 0);
	for (;;) {
		int more = atomic_load(&producing);

		ev_run(loop, EVRUN_ONCE);
		for (unsigned p = 0; p < NPARTS; p++)	/* Redis answered */
			if (k.last[p] > 0)
				host->done(host->arg, p, k.last[p]);
		if (k.stall > 0 && (stats().folds >= k.stall || !more))
			k.stall = 0;	/* the stage folded: thawed */
		if (k.refused && k.stall == 0) {
			k.refused = 0;
			host->ready(host->arg);
		}
		if (!more && stats().queued == 0)
			break;
	}
	pthread_join(thr, NULL);
	ev_timer_stop(loop, &tick);
	st = stats();
	if (st.records + st.folded != attempted)
		return fail("queued and folded", st.records + st.folded,
		    attempted);
	if (st.offered != st.records || k.taken != st.records)
		return fail("offered", st.offered, st.records);
	if (st.done != st.records || st.bytes != 0)
		return fail("done", st.done, st.records);
	if (k.disorder != 0)
		return fail("offered out of order", k.disorder, 0);
	if (st.folds == 0 || k.dumps == 0)
		return fail("folds and dumps (none: the check checked nothing)",
		    st.folds, 1);
	printf("stress_cfeed: %" PRIu64 " records queued, %" PRIu64
	    " folded in %" PRIu64 " folds, %" PRIu64 " dumps: all offered in "
	    "order and done\n", st.records, st.folded, st.folds, k.dumps);
	cfeed_free(feed);
	ev_loop_destroy(loop);
	return 0;
}
