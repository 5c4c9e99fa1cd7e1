/*
 * test_publish.c - daemon/publish, the pump between the shards' journals
 * and the sinks: records are offered in journal order; a sink replaced
 * after its old one died (a Kafka producer's fatal error) is offered
 * again, from the oldest, every record the old one had not reported done,
 * and nothing after it twice; a memory sink starts at the journal's end
 * and keeps no position.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "daemon/journal.h"
#include "daemon/mem.h"
#include "daemon/publish.h"
#include "daemon/store.h"

#define NREC	40

/* A sink that keeps the positions it is offered; done when told. */
struct fake {
	struct pub_sink	 base;
	const struct pub_host *host;
	uint64_t	 pos[4 * NREC];
	unsigned	 n;
	int		 report_done;	/* report each record done at once */
};

static int
fake_offer(struct pub_sink *s, const struct pub_rec *r)
{
	struct fake *f = (struct fake *)s;

	cr_assert_lt(f->n, 4 * NREC);
	cr_assert_eq(r->kind, PUB_DUMP_BEGIN);
	f->pos[f->n++] = r->pos;
	if (f->report_done)
		f->host->done(f->host->arg, r->shard, r->pos);
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

static const struct pub_ops fake_ops = { "fake", fake_offer, fake_healthy,
    fake_close };

Test(publish, replaced_sink_gets_what_the_old_one_had_not_done)
{
	char dir[] = "/tmp/tocsin-publish-XXXXXX", err[256], cmd[128];
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fleet *fl = fleet_new();
	struct store_config sc = { .dir = dir };
	struct fake a = { { &fake_ops }, NULL, { 0 }, 0, 0 };
	struct fake b = { { &fake_ops }, NULL, { 0 }, 0, 1 };
	struct store *st;
	struct publish *p;
	struct journal *j;
	uint64_t written[NREC];
	int idx;

	cr_assert_not_null(mkdtemp(dir));
	st = store_open(&sc, 0, fl, err, sizeof(err));
	cr_assert_not_null(st, "%s", err);
	j = store_journal(st);
	for (int i = 0; i < NREC; i++) {
		int64_t at = 1000 + i;

		written[i] = journal_append(j, STORE_DUMP_BEGIN, &at, sizeof(at));
	}
	cr_assert_eq(journal_flush(j, 1), 0);
	p = publish_new(loop, &st, 1, NULL, NULL);
	idx = publish_add(p, "kafka");
	a.host = b.host = publish_host(p, idx);
	publish_attach(p, idx, &a.base);
	publish_start(p);
	publish_pump(p);
	cr_assert_eq(a.n, NREC);
	/* the old sink reported the first ten done, then died */
	a.host->done(a.host->arg, 0, written[9]);
	publish_replace(p, idx, &b.base);
	publish_pump(p);
	cr_assert_eq(b.n, NREC - 10, "offered %u", b.n);
	for (unsigned i = 0; i < b.n; i++)
		cr_assert_eq(b.pos[i], written[10 + i], "record %u", i);
	cr_assert(publish_idle(p));
	publish_free(p);
	store_close(st);
	fleet_free(fl);
	ev_loop_destroy(loop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/*
 * A memory sink (publish_set_live: the view, the event stream) is offered
 * only what is journaled after the start, even where a position was saved
 * before, and never gets a position of its own saved; an ordinary sink
 * beside it gets everything on disk.
 */
Test(publish, live_sink_starts_at_the_end_and_saves_no_position)
{
	char dir[] = "/tmp/tocsin-publish-XXXXXX", err[256], cmd[128];
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fleet *fl = fleet_new();
	struct store_config sc = { .dir = dir };
	struct fake live = { { &fake_ops }, NULL, { 0 }, 0, 1 };
	struct fake all = { { &fake_ops }, NULL, { 0 }, 0, 1 };
	struct store *st;
	struct publish *p;
	struct journal *j;
	uint64_t pos, after[NREC];
	int li, ai;

	cr_assert_not_null(mkdtemp(dir));
	st = store_open(&sc, 0, fl, err, sizeof(err));
	cr_assert_not_null(st, "%s", err);
	j = store_journal(st);
	for (int i = 0; i < NREC; i++) {
		int64_t at = 1000 + i;

		(void)journal_append(j, STORE_DUMP_BEGIN, &at, sizeof(at));
	}
	cr_assert_eq(journal_flush(j, 1), 0);
	/* a position saved by an earlier run: a live sink ignores it */
	cr_assert_eq(journal_pos_put(j, "view", 0), 0);
	p = publish_new(loop, &st, 1, NULL, NULL);
	li = publish_add(p, "view");
	publish_set_live(p, li);
	live.host = publish_host(p, li);
	publish_attach(p, li, &live.base);
	ai = publish_add(p, "file");
	all.host = publish_host(p, ai);
	publish_attach(p, ai, &all.base);
	publish_start(p);
	publish_pump(p);
	cr_assert_eq(live.n, 0, "the live sink got %u old records", live.n);
	cr_assert_eq(all.n, NREC);
	for (int i = 0; i < NREC; i++) {
		int64_t at = 2000 + i;

		after[i] = journal_append(j, STORE_DUMP_BEGIN, &at, sizeof(at));
	}
	cr_assert_eq(journal_flush(j, 1), 0);
	publish_pump(p);
	cr_assert_eq(live.n, NREC, "offered %u", live.n);
	for (unsigned i = 0; i < live.n; i++)
		cr_assert_eq(live.pos[i], after[i], "record %u", i);
	cr_assert(publish_idle(p));
	publish_stop(p);
	/* the file sink's position is saved; the live one's is the old one */
	cr_assert_eq(journal_pos_get(j, "file", &pos), 0);
	cr_assert_eq(pos, after[NREC - 1]);
	cr_assert_eq(journal_pos_get(j, "view", &pos), 0);
	cr_assert_eq(pos, 0, "a live sink's position was saved: %llu",
	    (unsigned long long)pos);
	publish_free(p);
	store_close(st);
	fleet_free(fl);
	ev_loop_destroy(loop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}
