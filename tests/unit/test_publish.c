/*
 * test_publish.c - daemon/publish, the pump between the shards' journals
 * and the sinks: records are offered in journal order; a sink replaced
 * after its old one died (a Kafka producer's fatal error) is offered
 * again, from the oldest, every record the old one had not reported done,
 * and nothing after it twice; a memory sink starts at the journal's end
 * and keeps no position; a sink with a sync op is synced before its
 * positions are saved, and a failed sync saves none and trims nothing; a record that does not check is passed over,
 * counted, and the records after it are offered.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
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
    fake_close, NULL };

/*
 * A sink with a sync op (the history file): each call records the
 * position saved at that moment; it fails while sync_rc is set.
 */
static int sync_rc, sync_calls;
static uint64_t sync_saw;
static struct journal *sync_j;

static int
fake_sync(struct pub_sink *s)
{
	(void)s;
	sync_calls++;
	if (journal_pos_get(sync_j, "history", &sync_saw) != 0)
		sync_saw = 0;
	return sync_rc;
}

static const struct pub_ops sync_ops = { "fake", fake_offer, fake_healthy,
    fake_close, fake_sync };

/*
 * Each test's world: a store of NREC records in a directory of its own and
 * a pump with no sink yet.  fx_close() is called by the test, not a .fini:
 * Criterion does not fail a test on an assertion in its .fini.
 */
static struct {
	char		 dir[32];	/* mkdtemp */
	struct ev_loop	*loop;
	struct fleet	*fl;
	struct store	*st;
	struct journal	*j;		/* st's */
	struct publish	*p;
	uint64_t	 written[NREC];	/* the NREC records' positions */
} F;

/* Journals NREC records (at, at + 1, ...), durable; pos[i]: record i's. */
static void
append(int64_t at, uint64_t pos[NREC])
{
	for (int i = 0; i < NREC; i++) {
		int64_t v = at + i;

		pos[i] = journal_append(F.j, STORE_DUMP_BEGIN, &v, sizeof(v));
	}
	cr_assert_eq(journal_flush(F.j, 1), 0);
}

static void
fx_open(void)
{
	struct store_config sc = { .dir = F.dir };
	char err[256];

	snprintf(F.dir, sizeof(F.dir), "/tmp/tocsin-publish-XXXXXX");
	cr_assert_not_null(mkdtemp(F.dir));
	F.loop = ev_loop_new(EVFLAG_AUTO);
	F.fl = fleet_new();
	F.st = store_open(&sc, 0, F.fl, err, sizeof(err));
	cr_assert_not_null(F.st, "%s", err);
	F.j = store_journal(F.st);
	append(1000, F.written);
	F.p = publish_new(F.loop, &F.st, 1, NULL, NULL);
}

static void
fx_close(void)
{
	char cmd[64];

	publish_free(F.p);
	store_close(F.st);
	fleet_free(F.fl);
	ev_loop_destroy(F.loop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F.dir);
	cr_assert_eq(system(cmd), 0);
}

/* Adds a sink called name to the pump, f its sink; its index. */
static int
fake_add(const char *name, struct fake *f)
{
	int idx = publish_add(F.p, name);

	f->host = publish_host(F.p, idx);
	publish_attach(F.p, idx, &f->base);
	return idx;
}

Test(publish, replaced_sink_gets_what_the_old_one_had_not_done)
{
	struct fake a = { { &fake_ops }, NULL, { 0 }, 0, 0 };
	struct fake b = { { &fake_ops }, NULL, { 0 }, 0, 1 };
	int idx;

	fx_open();
	idx = fake_add("kafka", &a);
	b.host = a.host;
	publish_start(F.p);
	publish_pump(F.p);
	cr_assert_eq(a.n, NREC);
	/* the old sink reported the first ten done, then died */
	a.host->done(a.host->arg, 0, F.written[9]);
	publish_replace(F.p, idx, &b.base);
	publish_pump(F.p);
	cr_assert_eq(b.n, NREC - 10, "offered %u", b.n);
	for (unsigned i = 0; i < b.n; i++)
		cr_assert_eq(b.pos[i], F.written[10 + i], "record %u", i);
	cr_assert(publish_idle(F.p));
	fx_close();
}

/*
 * A memory sink (publish_set_live: the view, the event stream) is offered
 * only what is journaled after the start, even where a position was saved
 * before, and never gets a position of its own saved; an ordinary sink
 * beside it gets everything on disk.
 */
Test(publish, live_sink_starts_at_the_end_and_saves_no_position)
{
	struct fake live = { { &fake_ops }, NULL, { 0 }, 0, 1 };
	struct fake all = { { &fake_ops }, NULL, { 0 }, 0, 1 };
	uint64_t pos, after[NREC];

	fx_open();
	/* a position saved by an earlier run: a live sink ignores it */
	cr_assert_eq(journal_pos_put(F.j, "view", 0), 0);
	publish_set_live(F.p, fake_add("view", &live));
	fake_add("file", &all);
	publish_start(F.p);
	publish_pump(F.p);
	cr_assert_eq(live.n, 0, "the live sink got %u old records", live.n);
	cr_assert_eq(all.n, NREC);
	append(2000, after);
	publish_pump(F.p);
	cr_assert_eq(live.n, NREC, "offered %u", live.n);
	for (unsigned i = 0; i < live.n; i++)
		cr_assert_eq(live.pos[i], after[i], "record %u", i);
	cr_assert(publish_idle(F.p));
	publish_stop(F.p);
	/* the file sink's position is saved; the live one's is the old one */
	cr_assert_eq(journal_pos_get(F.j, "file", &pos), 0);
	cr_assert_eq(pos, after[NREC - 1]);
	cr_assert_eq(journal_pos_get(F.j, "view", &pos), 0);
	cr_assert_eq(pos, 0, "a live sink's position was saved: %llu",
	    (unsigned long long)pos);
	fx_close();
}

/* Overwrites n bytes at journal position pos of F's one segment. */
static void
corrupt(uint64_t pos, const void *p, size_t n)
{
	char path[96];
	int fd;

	snprintf(path, sizeof(path), "%s/%016llx.jnl", F.dir, 0ULL);
	fd = open(path, O_WRONLY);
	cr_assert_geq(fd, 0, "%s", path);
	cr_assert_eq(pwrite(fd, p, n, (off_t)pos), (ssize_t)n);
	close(fd);
}

/*
 * A record that no longer checks (a bit flipped on disk after the start)
 * is passed over, logged and counted, and every record after it is
 * offered: a sink loses the one record it cannot read, not the rest of
 * the journal.
 */
Test(publish, a_record_that_does_not_check_is_skipped_not_the_rest)
{
	struct fake f = { { &fake_ops }, NULL, { 0 }, 0, 1 };
	struct publish_sink_stats ps;
	unsigned char flip = 0xff;
	unsigned k = 0;

	fx_open();
	fake_add("kafka", &f);
	/* record 20's payload: its checksum no longer matches */
	corrupt(F.written[20] + JOURNAL_HDR, &flip, 1);
	publish_start(F.p);
	publish_pump(F.p);
	cr_assert_eq(f.n, NREC - 1, "offered %u of %u", f.n, NREC - 1);
	for (unsigned i = 0; i < NREC; i++)
		if (i != 20)
			cr_assert_eq(f.pos[k++], F.written[i], "record %u", i);
	publish_sink_stats(F.p, 0, &ps);
	cr_assert_eq(ps.skipped, 1);
	cr_assert(publish_idle(F.p));
	fx_close();
}

/*
 * A length that cannot be (larger than a record may be) leaves no way to
 * the next record of its segment: the pump goes on where the journal is
 * written to next, and later records are offered.
 */
Test(publish, a_header_that_cannot_be_skips_to_what_comes_next)
{
	struct fake f = { { &fake_ops }, NULL, { 0 }, 0, 1 };
	struct publish_sink_stats ps;
	uint32_t len = UINT32_MAX;
	uint64_t after[NREC];

	fx_open();
	fake_add("kafka", &f);
	corrupt(F.written[20], &len, sizeof(len));
	publish_start(F.p);
	publish_pump(F.p);
	cr_assert_eq(f.n, 20, "offered %u", f.n);
	append(2000, after);
	publish_pump(F.p);
	cr_assert_eq(f.n, 20 + NREC, "offered %u", f.n);
	cr_assert_eq(f.pos[20], after[0]);
	publish_sink_stats(F.p, 0, &ps);
	cr_assert_eq(ps.skipped, 1);
	fx_close();
}

/*
 * The history's file sink syncs before the pump saves its position: the
 * sync sees the old position; a sync that fails leaves the position as
 * it was (a power loss could still take those lines), and the next save,
 * synced, moves it.  Nothing moved: no sync.
 */
Test(publish, a_sink_is_synced_before_its_position_is_saved)
{
	struct fake h = { { &sync_ops }, NULL, { 0 }, 0, 1 };
	uint64_t pos;

	fx_open();
	sync_j = F.j;
	sync_rc = -EIO;
	sync_calls = 0;
	fake_add("history", &h);
	publish_start(F.p);
	publish_pump(F.p);
	cr_assert_eq(h.n, NREC);
	publish_stop(F.p);	/* a save */
	cr_assert_eq(sync_calls, 1);
	cr_assert_neq(journal_pos_get(F.j, "history", &pos), 0,
	    "a position saved after a failed sync: %llu",
	    (unsigned long long)pos);
	sync_rc = 0;
	publish_start(F.p);
	publish_stop(F.p);
	cr_assert_eq(sync_calls, 2);
	cr_assert_eq(sync_saw, 0, "saved before the sync");
	cr_assert_eq(journal_pos_get(F.j, "history", &pos), 0);
	cr_assert_eq(pos, F.written[NREC - 1]);
	publish_start(F.p);
	publish_stop(F.p);
	cr_assert_eq(sync_calls, 2, "synced with nothing moved");
	fx_close();
}
