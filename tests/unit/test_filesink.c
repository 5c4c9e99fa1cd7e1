/*
 * test_filesink.c - the file publisher: event records become whole lines,
 * each shard's records are reported done in order and only once their
 * lines are written, a disk that refuses keeps the bytes and never tears
 * a line, a torn last line left by a crash is cut at open, files rotate by
 * size, and the history sink keeps only closed incidents, one file a month.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <ev.h>

#include "daemon/utc.h"
#include "drivers/file/filesink.h"
#include "tests/support/tenv.h"

#define T_NOV	((int64_t)1795000000000)	/* 2026-11-18 */
#define T_DEC	((int64_t)1796500000000)	/* 2026-12-05 */

static char dir[64];
static uint64_t done_pos[4];
static int done_calls, ready_calls;

static void
h_ready(void *arg)
{
	ready_calls++;
}

static void
h_done(void *arg, unsigned shard, uint64_t pos)
{
	cr_assert_lt(shard, 4);
	cr_assert_geq(pos, done_pos[shard], "done goes back on shard %u",
	    shard);
	done_pos[shard] = pos;
	done_calls++;
}

static void
h_rewind(void *arg, unsigned shard, uint64_t pos)
{
	cr_assert_fail("a file sink never rewinds");
}

static const struct pub_host host = { h_ready, h_done, h_rewind, NULL, NULL };

static void
setup(void)
{
	strcpy(dir, "/tmp/tocsin-filesink-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	memset(done_pos, 0, sizeof(done_pos));
	done_calls = ready_calls = 0;
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)system(cmd);
}

/* An event record: json {"n":<n>} on shard, at time at, live or closed. */
static int
offer(struct pub_sink *s, unsigned shard, uint64_t pos, int n, int64_t at,
    int live)
{
	static char json[64];
	struct pub_rec r;

	memset(&r, 0, sizeof(r));
	snprintf(json, sizeof(json), "{\"n\":%d}", n);
	r.pos = pos;
	r.shard = shard;
	r.kind = PUB_EVENT;
	r.json = json;
	r.jsonlen = strlen(json);
	r.at = at;
	r.live = (uint8_t)live;
	return s->ops->offer(s, &r);
}

static struct pub_sink *
open_sink_keeping(struct ev_loop *loop, const char *name, uint64_t rotate,
    int monthly, unsigned keep_months)
{
	struct filesink_config c = { 0 };
	struct pub_sink *s = NULL;
	char path[128], err[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	c.path = path;
	c.rotate_bytes = rotate;
	c.keep = 3;
	c.closed_monthly = (uint8_t)monthly;
	c.keep_months = keep_months;
	cr_assert_eq(filesink_new(loop, &c, &host, &s, err, sizeof(err)), 0,
	    "%s", err);
	return s;
}

static struct pub_sink *
open_sink(struct ev_loop *loop, const char *name, uint64_t rotate,
    int monthly)
{
	return open_sink_keeping(loop, name, rotate, monthly, 0);
}

static int
present(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static char *
slurp(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return tenv_read_file(path);
}

static int
lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

Test(filesink, lines_whole_and_done_in_order, .init = setup,
    .fini = teardown)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct pub_sink *s = open_sink(loop, "out.jsonl", 0, 0);
	struct pub_rec dump;
	char *text;

	for (int i = 0; i < 100; i++)
		cr_assert_eq(offer(s, (unsigned)i % 2, 10 + (uint64_t)i, i,
		    T_NOV, 1), 0);
	/* a record that is no line: done with the lines before it */
	memset(&dump, 0, sizeof(dump));
	dump.pos = 500;
	dump.kind = PUB_DUMP_END;
	cr_assert_eq(s->ops->offer(s, &dump), 0);
	cr_expect_eq(done_calls, 0, "nothing is done before it is written");
	ev_run(loop, EVRUN_NOWAIT);
	cr_expect_eq(done_pos[0], 500);
	cr_expect_eq(done_pos[1], 10 + 99);
	text = slurp("out.jsonl");
	cr_expect_eq(lines(text), 100);
	cr_expect(strncmp(text, "{\"n\":0}\n{\"n\":1}\n", 16) == 0, "%s", text);
	free(text);
	s->ops->close(s, 0);
	ev_loop_destroy(loop);
}

/* RLIMIT_FSIZE: writes fail past 100 bytes; nothing torn, nothing lost. */
Test(filesink, refused_writes_keep_the_bytes, .init = setup,
    .fini = teardown)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct pub_sink *s = open_sink(loop, "out.jsonl", 0, 0);
	struct rlimit rl, small;
	struct filesink_counters c;
	char *text;

	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
	small = rl;
	small.rlim_cur = 100;
	for (int i = 0; i < 40; i++)
		cr_assert_eq(offer(s, 0, 1 + (uint64_t)i, i, T_NOV, 1), 0);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
	ev_run(loop, EVRUN_NOWAIT);
	filesink_counters(s, &c);
	cr_expect_geq(c.write_errors, 1);
	cr_expect_eq(done_pos[0], 0, "nothing done while bytes wait");
	cr_expect_eq(offer(s, 0, 100, 100, T_NOV, 1), -EAGAIN,
	    "full while a write waits");
	cr_expect_eq(s->ops->healthy(s), 0);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	/* the retry timer (1 s) writes the rest and says ready */
	for (int k = 0; k < 30 && done_pos[0] != 40; k++)
		ev_run(loop, EVRUN_ONCE);
	cr_expect_eq(done_pos[0], 40);
	cr_expect_eq(ready_calls, 1);
	cr_expect_eq(s->ops->healthy(s), 1);
	text = slurp("out.jsonl");
	cr_expect_eq(lines(text), 40);
	cr_expect(strstr(text, "{\"n\":39}\n") != NULL);
	free(text);
	s->ops->close(s, 0);
	ev_loop_destroy(loop);
}

Test(filesink, torn_last_line_is_cut_at_open, .init = setup,
    .fini = teardown)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct filesink_counters c;
	struct pub_sink *s;
	char *text;

	tenv_write_file(dir, "out.jsonl", "{\"n\":1}\n{\"n\":2}\n{\"n\":3");
	s = open_sink(loop, "out.jsonl", 0, 0);
	filesink_counters(s, &c);
	cr_expect_eq(c.torn_cut, 6);
	cr_assert_eq(offer(s, 0, 1, 3, T_NOV, 1), 0);
	ev_run(loop, EVRUN_NOWAIT);
	text = slurp("out.jsonl");
	cr_expect_str_eq(text, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n");
	free(text);
	s->ops->close(s, 0);
	ev_loop_destroy(loop);
}

Test(filesink, rotates_by_size_keeping_three, .init = setup,
    .fini = teardown)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct pub_sink *s = open_sink(loop, "out.jsonl", 50, 0);
	struct filesink_counters c;
	char *t0, *t1, *t3, *t4;

	/* one line per turn so rotation sees each file's size */
	for (int i = 0; i < 40; i++) {
		cr_assert_eq(offer(s, 0, 1 + (uint64_t)i, i, T_NOV, 1), 0);
		ev_run(loop, EVRUN_NOWAIT);
	}
	filesink_counters(s, &c);
	cr_expect_gt(c.rotations, 3);
	t0 = slurp("out.jsonl");
	t1 = slurp("out.jsonl.1");
	t3 = slurp("out.jsonl.3");
	t4 = slurp("out.jsonl.4");
	cr_expect(strstr(t0, "{\"n\":39}") != NULL, "newest in the file: %s",
	    t0);
	cr_expect_gt(strlen(t1), 0);
	cr_expect_gt(strlen(t3), 0);
	cr_expect_eq(strlen(t4), 0, "keep 3: no fourth");
	cr_expect_leq(strlen(t1), 50 + 9);
	free(t0);
	free(t1);
	free(t3);
	free(t4);
	s->ops->close(s, 0);
	ev_loop_destroy(loop);
}

Test(filesink, history_keeps_closed_incidents_by_month, .init = setup,
    .fini = teardown)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct pub_sink *s = open_sink(loop, "closed", 0, 1);
	char *nov, *dec;

	cr_assert_eq(offer(s, 0, 1, 1, T_NOV, 1), 0);	/* live: no line */
	cr_assert_eq(offer(s, 0, 2, 2, T_NOV, 0), 0);
	cr_assert_eq(offer(s, 0, 3, 3, T_DEC, 0), 0);	/* a new month */
	cr_assert_eq(offer(s, 0, 4, 4, T_DEC, 1), 0);
	ev_run(loop, EVRUN_NOWAIT);
	cr_expect_eq(done_pos[0], 4);
	nov = slurp("closed-2026-11.jsonl");
	dec = slurp("closed-2026-12.jsonl");
	cr_expect_str_eq(nov, "{\"n\":2}\n");
	cr_expect_str_eq(dec, "{\"n\":3}\n");
	free(nov);
	free(dec);
	s->ops->close(s, 0);
	ev_loop_destroy(loop);
}

/*
 * daemon.history_months: 2 keeps the month written and the two before it.
 * Nothing goes until a month's file is opened (the first closed line);
 * then the older months' files go and nothing else: not a file of another
 * name, not one of a later month.  With 0 every month stays.
 */
Test(filesink, history_months_keeps_that_many_before_the_one_written,
    .init = setup, .fini = teardown)
{
	static const char *const old[] = { "closed-2025-12.jsonl",
	    "closed-2026-08.jsonl" };
	static const char *const kept[] = { "closed-2026-09.jsonl",
	    "closed-2026-10.jsonl", "closed-2027-01.jsonl",
	    "closed-2026-08.jsonl.gz", "other-2026-01.jsonl",
	    "closed-2026-8.jsonl", "closed-2026-13.jsonl" };
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct pub_sink *s;
	char prefix[128], path[256], *text;
	uint64_t cut;
	int fd;

	for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++)
		tenv_write_file(dir, old[i], "{\"n\":0}\n");
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		tenv_write_file(dir, kept[i], "{\"n\":0}\n");

	/* 0: every month stays */
	snprintf(prefix, sizeof(prefix), "%s/closed", dir);
	fd = filesink_month_open(prefix, utc_month(T_NOV), 0, path,
	    sizeof(path), &cut);
	cr_assert_geq(fd, 0);
	close(fd);
	for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++)
		cr_expect(present(old[i]), "%s", old[i]);

	s = open_sink_keeping(loop, "closed", 0, 1, 2);
	cr_assert_eq(offer(s, 0, 1, 1, T_NOV, 1), 0);	/* live: no file */
	ev_run(loop, EVRUN_NOWAIT);
	for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++)
		cr_expect(present(old[i]), "%s went before a line came",
		    old[i]);
	cr_assert_eq(offer(s, 0, 2, 2, T_NOV, 0), 0);	/* November's file */
	ev_run(loop, EVRUN_NOWAIT);
	cr_expect_eq(done_pos[0], 2);
	for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++)
		cr_expect(!present(old[i]), "%s is kept", old[i]);
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		cr_expect(present(kept[i]), "%s was removed", kept[i]);
	text = slurp("closed-2026-11.jsonl");	/* made by the open above */
	cr_expect_str_eq(text, "{\"n\":2}\n");
	free(text);

	/* December's first line: September goes, October stays */
	cr_assert_eq(offer(s, 0, 3, 3, T_DEC, 0), 0);
	ev_run(loop, EVRUN_NOWAIT);
	cr_expect(!present("closed-2026-09.jsonl"));
	cr_expect(present("closed-2026-10.jsonl"));
	cr_expect(present("closed-2026-11.jsonl"));
	text = slurp("closed-2026-12.jsonl");
	cr_expect_str_eq(text, "{\"n\":3}\n");
	free(text);
	s->ops->close(s, 0);
	ev_loop_destroy(loop);
}

/*
 * A history file a crash left with a torn last line (role all's sink, or
 * a correlator's history, daemon/chist): the line is cut when the month's
 * file is opened, and the next line follows the last whole one.
 */
Test(filesink, history_torn_last_line_is_cut_at_open, .init = setup,
    .fini = teardown)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct filesink_counters c;
	struct pub_sink *s;
	char prefix[128], path[256], *text;
	uint64_t cut;
	int fd;

	tenv_write_file(dir, "closed-2026-11.jsonl", "{\"n\":1}\n{\"n\":");
	snprintf(prefix, sizeof(prefix), "%s/closed", dir);
	fd = filesink_month_open(prefix, utc_month(T_NOV), 0, path,
	    sizeof(path), &cut);
	cr_assert_geq(fd, 0);
	cr_expect_eq(cut, 5);
	cr_expect(strstr(path, "/closed-2026-11.jsonl") != NULL, "%s", path);
	close(fd);
	text = slurp("closed-2026-11.jsonl");
	cr_expect_str_eq(text, "{\"n\":1}\n");
	free(text);

	/* the sink the same way */
	tenv_write_file(dir, "closed-2026-11.jsonl", "{\"n\":1}\n{\"n\":");
	s = open_sink(loop, "closed", 0, 1);
	cr_assert_eq(offer(s, 0, 1, 2, T_NOV, 0), 0);
	ev_run(loop, EVRUN_NOWAIT);
	filesink_counters(s, &c);
	cr_expect_eq(c.torn_cut, 5);
	text = slurp("closed-2026-11.jsonl");
	cr_expect_str_eq(text, "{\"n\":1}\n{\"n\":2}\n");
	free(text);
	s->ops->close(s, 0);
	ev_loop_destroy(loop);

	/* a directory that is not there is made */
	snprintf(prefix, sizeof(prefix), "%s/sub/closed", dir);
	fd = filesink_month_open(prefix, utc_month(T_DEC), 0, path,
	    sizeof(path), &cut);
	cr_assert_geq(fd, 0, "%s", strerror(-fd));
	cr_expect_eq(cut, 0);
	close(fd);
}

/*
 * With sync (the history), ops->sync fdatasyncs what was written since
 * the last one and only that; without it (the output file) it does
 * nothing.  The pump calls it before it saves the sink's positions.
 */
Test(filesink, sync_covers_what_was_written_and_only_with_sync_set,
    .init = setup, .fini = teardown)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct filesink_config c = { 0 };
	struct filesink_counters fc;
	struct pub_sink *h, *o;
	char path[128], err[256];

	snprintf(path, sizeof(path), "%s/closed", dir);
	c.path = path;
	c.closed_monthly = 1;
	c.sync = 1;
	cr_assert_eq(filesink_new(loop, &c, &host, &h, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_not_null(h->ops->sync);
	cr_assert_eq(h->ops->sync(h), 0);		/* nothing written */
	cr_assert_eq(offer(h, 0, 1, 1, T_NOV, 0), 0);
	ev_run(loop, EVRUN_NOWAIT);
	cr_assert_eq(done_pos[0], 1);
	cr_assert_eq(h->ops->sync(h), 0);
	cr_assert_eq(h->ops->sync(h), 0);		/* nothing since */
	filesink_counters(h, &fc);
	cr_expect_eq(fc.syncs, 1);
	cr_expect_eq(fc.sync_errors, 0);
	/* a month's file closed: synced first */
	cr_assert_eq(offer(h, 0, 2, 2, T_NOV, 0), 0);
	ev_run(loop, EVRUN_NOWAIT);
	cr_assert_eq(offer(h, 0, 3, 3, T_DEC, 0), 0);
	ev_run(loop, EVRUN_NOWAIT);
	filesink_counters(h, &fc);
	cr_expect_eq(fc.syncs, 2);
	cr_assert(h->ops->healthy(h));
	h->ops->close(h, 0);

	snprintf(path, sizeof(path), "%s/out.jsonl", dir);
	memset(&c, 0, sizeof(c));
	c.path = path;
	cr_assert_eq(filesink_new(loop, &c, &host, &o, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(offer(o, 1, 1, 1, T_NOV, 1), 0);
	ev_run(loop, EVRUN_NOWAIT);
	cr_assert_eq(o->ops->sync(o), 0);
	filesink_counters(o, &fc);
	cr_expect_eq(fc.syncs, 0);
	o->ops->close(o, 0);
	ev_loop_destroy(loop);
}
