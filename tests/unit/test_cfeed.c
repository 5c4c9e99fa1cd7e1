/*
 * test_cfeed.c - daemon/cfeed, a correlator's hand-off to its loop's sink
 * (Redis): records reach the sink in order and are kept until done; a
 * full hand-off folds the partition (its later records dropped, counted)
 * and asks its dump, whose BEGIN ends the fold; a dump goes through whole
 * past the byte limit; a rewind offers again from its position; a revoked
 * partition's queued records are never offered; a resync asks for every
 * partition.  Both sides run on the test's thread here (the loop turned
 * with EVRUN_NOWAIT); tests/stress/stress_cfeed.c runs them on two
 * threads, and tests/integration/test_cstage.c in correlators.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <ev.h>

#include "daemon/cfeed.h"
#include "daemon/mem.h"

#define MAXREC	256

/* A sink that keeps what it is offered (id, shard, pos, kind); refuses
 * while `refuse` is set. */
struct fake {
	struct pub_sink	 base;
	char		 id[MAXREC][32];
	unsigned	 shard[MAXREC];
	uint64_t	 pos[MAXREC];
	uint8_t		 kind[MAXREC];
	unsigned	 n;
	int		 refuse;
	unsigned	 limit;		/* refuses once n reaches it; 0: no */
};

static int
fake_offer(struct pub_sink *s, const struct pub_rec *r)
{
	struct fake *f = (struct fake *)s;

	if (f->refuse || (f->limit > 0 && f->n >= f->limit))
		return -EAGAIN;
	cr_assert_lt(f->n, MAXREC);
	snprintf(f->id[f->n], sizeof(f->id[0]), "%s", r->id ? r->id : "");
	f->shard[f->n] = r->shard;
	f->pos[f->n] = r->pos;
	f->kind[f->n] = r->kind;
	if (r->kind == PUB_EVENT) {
		/* the copy owns its bytes: the JSON and a step inside it */
		cr_assert_eq(r->jsonlen, strlen(r->json));
		cr_assert_eq(r->nsteps, 1);
		cr_assert_eq(strncmp(r->json + r->steps[0].off, "{\"s\"", 4), 0);
	}
	f->n++;
	return 0;
}

static int
fake_healthy(const struct pub_sink *s)
{
	(void)s;
	return 1;
}

static void
fake_close(struct pub_sink *s, int timeout_ms)
{
	(void)s;
	(void)timeout_ms;
}

static const struct pub_ops fake_ops = {
	.name = "fake", .offer = fake_offer, .healthy = fake_healthy,
	.close = fake_close,
};

static struct ev_loop *loop;
static struct cfeed *feed;
static struct fake sink;
static const struct pub_host *host;

static void
setup_n(unsigned slots, size_t bytes)
{
	loop = ev_loop_new(EVFLAG_AUTO);
	cr_assert_not_null(loop);
	feed = cfeed_new(loop, slots, bytes);
	memset(&sink, 0, sizeof(sink));
	sink.base.ops = &fake_ops;
	host = cfeed_host(feed);
	cfeed_attach(feed, &sink.base);
}

static void
teardown(void)
{
	cfeed_free(feed);
	ev_loop_destroy(loop);
}

/* The loop's turns until nothing more is offered. */
static void
turn(void)
{
	for (int i = 0; i < 16; i++)
		ev_run(loop, EVRUN_NOWAIT);
}

/* An incident event of partition p; the stage's pub_rec is built on the
 * stack, as store_offer_payload() does: the feed must copy it. */
static void
event(unsigned p, const char *id)
{
	char json[128];
	struct pub_span sp;
	struct pub_rec r;

	snprintf(json, sizeof(json), "{\"id\":\"%s\",\"timeline\":[{\"s\":1}]}",
	    id);
	sp.off = (uint32_t)(strstr(json, "{\"s\"") - json);
	sp.len = 7;
	memset(&r, 0, sizeof(r));
	r.kind = PUB_EVENT;
	r.shard = p;
	r.id = id;
	r.site = "S1";
	r.area = "A1";
	r.json = json;
	r.jsonlen = strlen(json);
	r.steps = &sp;
	r.nsteps = 1;
	cr_assert_eq(cfeed_stage_sink(feed)->ops->offer(cfeed_stage_sink(feed),
	    &r), 0);
	memset(json, 'x', sizeof(json) - 1);	/* the stage's buffer reused */
}

static void
dump(unsigned p, int n)
{
	struct pub_rec r;
	char id[32], json[64];

	memset(&r, 0, sizeof(r));
	r.shard = p;
	r.kind = PUB_DUMP_BEGIN;
	(void)cfeed_stage_sink(feed)->ops->offer(cfeed_stage_sink(feed), &r);
	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "INC-%u-%d", p, 100 + i);
		snprintf(json, sizeof(json), "{\"id\":\"%s\"}", id);
		memset(&r, 0, sizeof(r));
		r.shard = p;
		r.kind = PUB_STATE;
		r.id = id;
		r.json = json;
		r.jsonlen = strlen(json);
		(void)cfeed_stage_sink(feed)->ops->offer(
		    cfeed_stage_sink(feed), &r);
	}
	memset(&r, 0, sizeof(r));
	r.shard = p;
	r.kind = PUB_DUMP_END;
	(void)cfeed_stage_sink(feed)->ops->offer(cfeed_stage_sink(feed), &r);
}

static struct cfeed_stats
stats(void)
{
	struct cfeed_stats st;

	cfeed_stats(feed, &st);
	return st;
}

Test(cfeed, records_reach_the_sink_in_order_and_wait_for_done)
{
	setup_n(64, 1 << 20);
	event(0, "INC-0-1");
	event(1, "INC-1-1");
	event(0, "INC-0-2");
	turn();
	cr_assert_eq(sink.n, 3);
	cr_assert_str_eq(sink.id[0], "INC-0-1");
	cr_assert_str_eq(sink.id[1], "INC-1-1");
	cr_assert_str_eq(sink.id[2], "INC-0-2");
	/* positions count per partition, from 1 */
	cr_assert_eq(sink.pos[0], 1);
	cr_assert_eq(sink.pos[1], 1);
	cr_assert_eq(sink.pos[2], 2);
	cr_assert_eq(stats().queued, 3);
	host->done(host->arg, 0, 1);
	cr_assert_eq(stats().queued, 2);
	host->done(host->arg, 0, 2);
	host->done(host->arg, 1, 1);
	cr_assert_eq(stats().queued, 0);
	cr_assert_eq(stats().bytes, 0);
	cr_assert_eq(stats().done, 3);
	cr_assert_eq(cfeed_wanted(feed), 0, "nothing folded, no dump owed");
	teardown();
}

Test(cfeed, a_full_hand_off_folds_the_partition_until_its_dump)
{
	setup_n(4, 1 << 20);
	sink.refuse = 1;		/* Redis down */
	for (int i = 1; i <= 6; i++) {
		char id[32];

		snprintf(id, sizeof(id), "INC-2-%d", i);
		event(2, id);
	}
	event(3, "INC-3-1");		/* another partition folds too */
	turn();
	cr_assert_eq(sink.n, 0);
	cr_assert_eq(stats().records, 4);
	cr_assert_eq(stats().folded, 3);
	cr_assert_eq(stats().folds, 2);
	cr_assert_eq(cfeed_wanted(feed), (UINT64_C(1) << 2) |
	    (UINT64_C(1) << 3));
	cr_assert_eq(cfeed_wanted(feed), 0, "taken: asked once");
	cr_assert(!cfeed_room(feed), "a dump of one incident does not fit");
	/* folded: later records of the partition are dropped, even with room */
	sink.refuse = 0;
	host->ready(host->arg);
	turn();
	cr_assert_eq(sink.n, 4);
	for (unsigned i = 0; i < 4; i++)
		host->done(host->arg, 2, sink.pos[i]);
	cr_assert(cfeed_room(feed));
	event(2, "INC-2-7");
	cr_assert_eq(stats().folded, 4, "still folded until the dump");
	/* the dump ends the fold; what follows it goes again */
	dump(2, 1);
	event(2, "INC-2-8");
	turn();
	cr_assert_eq(sink.n, 8);
	cr_assert_eq(sink.kind[4], PUB_DUMP_BEGIN);
	cr_assert_eq(sink.kind[5], PUB_STATE);
	cr_assert_str_eq(sink.id[5], "INC-2-100");
	cr_assert_eq(sink.kind[6], PUB_DUMP_END);
	cr_assert_str_eq(sink.id[7], "INC-2-8");
	cr_assert_eq(sink.pos[7], 8, "positions go on across the fold");
	teardown();
}

Test(cfeed, a_dump_goes_through_whole_past_the_byte_limit)
{
	setup_n(64, 1);			/* any queued byte is too many */
	sink.refuse = 1;
	event(4, "INC-4-1");
	event(4, "INC-4-2");		/* over the limit: folds */
	cr_assert_eq(stats().records, 1);
	cr_assert_eq(stats().folded, 1);
	dump(4, 5);			/* 7 records, each over the limit */
	cr_assert_eq(stats().records, 8);
	cr_assert_eq(stats().folds, 1);
	sink.refuse = 0;
	host->ready(host->arg);
	turn();
	cr_assert_eq(sink.n, 8);
	cr_assert_eq(sink.kind[7], PUB_DUMP_END);
	teardown();
}

Test(cfeed, a_rewind_offers_again_from_its_position_before_newer_ones)
{
	setup_n(64, 1 << 20);
	event(0, "INC-0-1");
	event(0, "INC-0-2");
	event(0, "INC-0-3");
	event(1, "INC-1-1");
	turn();
	cr_assert_eq(sink.n, 4);
	host->done(host->arg, 0, 1);
	/* the connection broke: 2 and 3 of partition 0, 1 of 1, in flight */
	sink.refuse = 1;
	host->rewind(host->arg, 0, 2);
	host->rewind(host->arg, 1, 1);
	event(0, "INC-0-4");
	turn();
	cr_assert_eq(sink.n, 4);
	sink.refuse = 0;
	host->ready(host->arg);
	turn();
	cr_assert_eq(sink.n, 8);
	/* each partition's rewound records in order, before the new one */
	cr_assert_str_eq(sink.id[4], "INC-1-1");
	cr_assert_str_eq(sink.id[5], "INC-0-2");
	cr_assert_str_eq(sink.id[6], "INC-0-3");
	cr_assert_str_eq(sink.id[7], "INC-0-4");
	cr_assert_eq(stats().rewinds, 2);
	teardown();
}

Test(cfeed, a_revoked_partitions_queued_records_are_never_offered)
{
	setup_n(64, 1 << 20);
	sink.refuse = 1;
	event(5, "INC-5-1");
	event(5, "INC-5-2");
	event(6, "INC-6-1");
	cfeed_revoked(feed, 5);
	/* assigned again: its rebuild's dump and events go */
	dump(5, 1);
	sink.refuse = 0;
	host->ready(host->arg);
	turn();
	cr_assert_eq(stats().revoked, 2);
	cr_assert_eq(sink.n, 4);
	cr_assert_str_eq(sink.id[0], "INC-6-1");
	cr_assert_eq(sink.kind[1], PUB_DUMP_BEGIN);
	cr_assert_str_eq(sink.id[2], "INC-5-100");
	cr_assert_eq(stats().queued, 4, "the revoked ones are freed");
	teardown();
}

/*
 * A sink that guards its state by seq (Redis' seq guard): a revoked
 * partition's queued events are offered all the same, for the stream;
 * its queued dump is dropped, an old live set never meets the new
 * owner's incidents.
 */
Test(cfeed, a_guarding_sink_gets_a_revoked_partitions_events_not_its_dump)
{
	setup_n(64, 1 << 20);
	cfeed_late_events(feed, 1);
	sink.refuse = 1;
	event(5, "INC-5-1");
	dump(5, 2);
	event(5, "INC-5-2");
	event(6, "INC-6-1");
	cfeed_revoked(feed, 5);
	sink.refuse = 0;
	host->ready(host->arg);
	turn();
	cr_assert_eq(sink.n, 3);
	cr_assert_str_eq(sink.id[0], "INC-5-1");
	cr_assert_str_eq(sink.id[1], "INC-5-2");
	cr_assert_str_eq(sink.id[2], "INC-6-1");
	for (unsigned i = 0; i < sink.n; i++)
		cr_assert_eq(sink.kind[i], PUB_EVENT);
	cr_assert_eq(stats().late, 2);
	cr_assert_eq(stats().revoked, 4, "the dump's BEGIN, 2 states, END");
	teardown();
}

Test(cfeed, a_revocation_forgets_the_partitions_fold_and_dump)
{
	setup_n(2, 1 << 20);
	sink.refuse = 1;
	event(7, "INC-7-1");
	event(7, "INC-7-2");
	event(7, "INC-7-3");		/* folds */
	cr_assert_eq(stats().folds, 1);
	cfeed_revoked(feed, 7);
	cr_assert_eq(cfeed_wanted(feed), 0, "not ours: no dump owed");
	teardown();
}

Test(cfeed, a_resync_asks_a_dump_of_every_partition)
{
	setup_n(64, 1 << 20);
	host->resync(host->arg);
	cr_assert_eq(cfeed_wanted(feed), UINT64_MAX);
	cr_assert_eq(cfeed_wanted(feed), 0);
	cfeed_want(feed, 9);
	cr_assert_eq(cfeed_wanted(feed), UINT64_C(1) << 9);
	cr_assert_eq(stats().resyncs, 1);
	teardown();
}


Test(cfeed, a_dump_larger_than_the_hand_off_goes_as_one_message)
{
	setup_n(4, 1 << 20);
	sink.refuse = 1;
	event(8, "INC-8-1");
	event(8, "INC-8-2");
	event(8, "INC-8-3");
	cr_assert(cfeed_room(feed));
	dump(8, 40);		/* 42 records, 1 slot */
	cr_assert(!cfeed_room(feed), "4 of 4 slots taken");
	cr_assert_eq(stats().records, 45);
	cr_assert_eq(stats().folds, 0);
	/* the sink takes them one by one, in order, the dump's too */
	sink.refuse = 0;
	host->ready(host->arg);
	turn();
	cr_assert_eq(sink.n, 45);
	cr_assert_eq(sink.kind[3], PUB_DUMP_BEGIN);
	cr_assert_str_eq(sink.id[4], "INC-8-100");
	cr_assert_str_eq(sink.id[43], "INC-8-139");
	cr_assert_eq(sink.kind[44], PUB_DUMP_END);
	for (unsigned i = 0; i < sink.n; i++)
		cr_assert_eq(sink.pos[i], i + 1);
	host->done(host->arg, 8, 45);
	cr_assert_eq(stats().queued, 0);
	cr_assert_eq(stats().bytes, 0);
	teardown();
}

Test(cfeed, a_dump_half_offered_when_the_sink_refuses_goes_on_where_it_was)
{
	setup_n(8, 1 << 20);
	sink.limit = 5;			/* refuses inside the dump */
	dump(9, 10);
	event(9, "INC-9-1");
	turn();
	cr_assert_eq(sink.n, 5);
	sink.limit = 0;
	host->ready(host->arg);
	turn();
	cr_assert_eq(sink.n, 13);
	for (unsigned i = 0; i < 13; i++)
		cr_assert_eq(sink.pos[i], i + 1);
	cr_assert_eq(sink.kind[11], PUB_DUMP_END);
	cr_assert_str_eq(sink.id[12], "INC-9-1");
	/* a connection broke after the dump's first 3 were done: the rest
	 * again, in order */
	host->done(host->arg, 9, 3);
	host->rewind(host->arg, 9, 4);
	host->ready(host->arg);
	turn();
	cr_assert_eq(sink.n, 23);
	for (unsigned i = 13; i < 23; i++)
		cr_assert_eq(sink.pos[i], i - 13 + 4);
	host->done(host->arg, 9, 13);
	cr_assert_eq(stats().queued, 0);
	teardown();
}
