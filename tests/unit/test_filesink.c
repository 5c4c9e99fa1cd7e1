/*
 * test_filesink.c - the file sink: lines from several producer threads
 * reach the file whole, each producer's in its order, through rings small
 * enough that producers wait; the ev_async wakes the writer in a running
 * loop; write errors are counted and never fatal; bad settings and
 * unopenable files are refused.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <ev.h>

#include "drivers/file/filesink.h"

#define NPROD	3
#define NLINES	2000

struct prod {
	struct filesink	*s;
	unsigned	 id;
	int		 failed;	/* puts that did not return 0 */
};

static void *
prod_main(void *arg)
{
	struct prod *p = arg;

	for (int i = 0; i < NLINES; i++) {
		char *line;

		if (asprintf(&line, "{\"p\":%u,\"i\":%d}", p->id, i) < 0)
			abort();
		if (p->s->ops->put(p->s, p->id, line) != 0)
			p->failed++;
	}
	return NULL;
}

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	static char buf[1 << 20];
	size_t n;

	cr_assert_not_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void
check_lines_n(const char *text, int nprod, int per)
{
	int next[NPROD] = { 0 }, total = 0;
	const char *l = text;

	while (*l != '\0') {
		unsigned p;
		int i;

		cr_assert_eq(sscanf(l, "{\"p\":%u,\"i\":%d}\n", &p, &i), 2,
		    "torn line: %.40s", l);
		cr_assert_lt(p, (unsigned)nprod);
		cr_assert_eq(i, next[p], "producer %u: line %d after %d", p, i,
		    next[p] - 1);
		next[p]++;
		total++;
		l = strchr(l, '\n');
		cr_assert_not_null(l);
		l++;
	}
	cr_assert_eq(total, nprod * per);
}

static void
check_lines(const char *text, int nprod)
{
	check_lines_n(text, nprod, NLINES);
}

Test(filesink, producers_in_order_through_small_rings)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	char path[] = "/tmp/tocsin-filesink-XXXXXX";
	struct filesink_config fc = { path, NPROD, 8, 0 };
	struct filesink *s;
	struct filesink_counters c;
	struct prod p[NPROD];
	pthread_t th[NPROD];
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(filesink_new(loop, &fc, &s), 0);
	cr_assert_str_eq(s->ops->name, "file");
	for (unsigned i = 0; i < NPROD; i++) {
		p[i] = (struct prod){ s, i, 0 };
		cr_assert_eq(pthread_create(&th[i], NULL, prod_main, &p[i]), 0);
	}
	/* the loop's thread is the writer */
	for (int spins = 0; spins < 200000; spins++) {
		s->ops->counters(s, &c);
		if (c.queued == NPROD * NLINES && s->ops->backlog(s) == 0)
			break;
		ev_run(loop, EVRUN_NOWAIT);
		s->ops->drain(s);
		usleep(10);
	}
	for (unsigned i = 0; i < NPROD; i++) {
		pthread_join(th[i], NULL);
		cr_expect_eq(p[i].failed, 0);
	}
	s->ops->drain(s);
	s->ops->counters(s, &c);
	cr_expect_eq(c.queued, NPROD * NLINES);
	cr_expect_eq(c.lines, NPROD * NLINES);
	cr_expect_eq(c.write_errors, 0);
	cr_expect_eq(c.lines, c.queued, "every line queued was written");
	cr_expect_gt(c.flushes, 0);
	s->ops->free(s);
	check_lines(slurp(path), NPROD);
	unlink(path);
	ev_loop_destroy(loop);
}

static void
stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

/* In a running loop the producer's put alone gets the line written. */
Test(filesink, async_wakes_the_writer)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	char path[] = "/tmp/tocsin-filesink-XXXXXX";
	struct filesink_config fc = { path, 1, 0, 0 };
	struct filesink *s;
	struct filesink_counters c;
	struct prod p;
	pthread_t th;
	ev_timer stop;
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(filesink_new(loop, &fc, &s), 0);
	p = (struct prod){ s, 0, 0 };
	cr_assert_eq(pthread_create(&th, NULL, prod_main, &p), 0);
	pthread_join(th, NULL);
	/* no drain call: only the ev_async can have written */
	ev_timer_init(&stop, stop_cb, 0.3, 0.);
	ev_timer_start(loop, &stop);
	ev_run(loop, 0);
	s->ops->counters(s, &c);
	cr_expect_eq(c.lines, NLINES);
	check_lines(slurp(path), 1);
	s->ops->free(s);
	unlink(path);
	ev_loop_destroy(loop);
}

Test(filesink, write_errors_counted_not_fatal)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct filesink_config fc = { "/dev/full", 1, 0, 0 };
	struct filesink *s;
	struct filesink_counters c;

	cr_assert_eq(filesink_new(loop, &fc, &s), 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(s->ops->put(s, 0, strdup("{\"x\":1}")), 0);
		cr_assert_eq(s->ops->drain(s), 0, "nothing written");
		cr_assert_eq(s->ops->backlog(s), (uint64_t)i + 1,
		    "the lines are kept for the next try");
	}
	s->ops->counters(s, &c);
	cr_expect_geq(c.write_errors, 3, "one failed write per drain");
	cr_expect_eq(c.lines, 0);
	cr_expect_eq(s->ops->put(s, 5, strdup("x")), -EINVAL);
	s->ops->counters(s, &c);
	cr_expect_eq(c.queued, 3);
	s->ops->free(s);
	ev_loop_destroy(loop);
}

/*
 * A disk that refuses, then takes again (RLIMIT_FSIZE: a write past the
 * limit fails with EFBIG, a short write first): every line reaches the
 * file once, whole and in order, none torn where the limit cut it.
 */
Test(filesink, failed_writes_are_retried_whole)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	char path[] = "/tmp/tocsin-filesink-XXXXXX";
	struct filesink_config fc = { path, 1, 256, 0 };
	struct filesink *s;
	struct filesink_counters c;
	struct rlimit rl, small;
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	close(fd);
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
	small = rl;
	small.rlim_cur = 1000;	/* cuts line 59 or so in the middle */
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
	cr_assert_eq(filesink_new(loop, &fc, &s), 0);
	for (int i = 0; i < NLINES / 10; i++) {
		char *line;

		cr_assert_geq(asprintf(&line, "{\"p\":%u,\"i\":%d}", 0, i), 0);
		cr_assert_eq(s->ops->put(s, 0, line), 0);
	}
	cr_expect_lt(s->ops->drain(s), NLINES / 10);
	cr_expect_eq(s->ops->drain(s), 0, "still refused");
	s->ops->counters(s, &c);
	cr_expect_geq(c.write_errors, 2);
	cr_expect_eq(c.bytes, 1000, "up to the limit, a line cut in two");
	cr_expect_gt(s->ops->backlog(s), 0);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	cr_expect_gt(s->ops->drain(s), 0);
	cr_expect_eq(s->ops->backlog(s), 0);
	s->ops->counters(s, &c);
	cr_expect_eq(c.lines, NLINES / 10);
	s->ops->free(s);
	check_lines_n(slurp(path), 1, NLINES / 10);
	unlink(path);
	ev_loop_destroy(loop);
}

Test(filesink, bad_settings_and_paths_refused)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct filesink_config fc = { "/nonexistent-tocsin/x", 1, 0, 0 };
	struct filesink *s = NULL;

	cr_expect_eq(filesink_new(loop, &fc, &s), -ENOENT);
	cr_expect_null(s);
	fc.path = NULL;
	fc.nproducers = 0;
	cr_expect_eq(filesink_new(loop, &fc, &s), -EINVAL);
	fc.nproducers = 1;
	fc.ring_slots = 6;
	cr_expect_eq(filesink_new(loop, &fc, &s), -EINVAL);
	ev_loop_destroy(loop);
}
