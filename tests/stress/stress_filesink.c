/*
 * stress_filesink.c - the file sink's rings under load, the way tocsind
 * uses them: N producer threads (the correlator shards) put lines through
 * 16-slot rings, so they keep hitting a full ring and waiting, while the
 * loop's thread writes, woken by the sink's ev_async and by a timer.
 * Under SANITIZER=thread this is how ThreadSanitizer sees the rings.
 *
 *   stress_filesink [-t SECONDS] [-p PRODUCERS]
 *
 * Checks at the end: every line reached the file whole and each
 * producer's lines are in its order; nothing dropped; counters agree.
 * Exit 0, or 1 with a message.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "daemon/ring.h"
#include "drivers/file/filesink.h"

#define MAXPROD	8

struct prod {
	struct filesink	*s;
	unsigned	 id;
	_Atomic int	*stop;
	_Atomic int	*done;		/* producers finished */
	long		 sent;		/* lines put */
	long		 failed;	/* puts that did not return 0 */
};

static void *
prod_main(void *arg)
{
	struct prod *p = arg;

	while (!ring_load_acquire(p->stop)) {
		char *line;

		if (asprintf(&line, "{\"p\":%u,\"i\":%ld}", p->id, p->sent) < 0)
			abort();
		if (p->s->ops->put(p->s, p->id, line) != 0)
			p->failed++;
		p->sent++;
	}
	ring_add_relaxed(p->done, 1);	/* the join orders the rest */
	return NULL;
}

struct run {
	double		 end;		/* ev_now to stop producers at */
	_Atomic int	 stop;
	_Atomic int	 done;
	struct filesink	*s;
};

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct run *r = w->data;

	(void)revents;
	r->s->ops->drain(r->s);
	if (ev_now(loop) >= r->end)
		ev_break(loop, EVBREAK_ALL);
}

int
main(int argc, char **argv)
{
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
	char path[] = "/tmp/tocsin-stress-filesink-XXXXXX";
	struct filesink_config fc;
	struct filesink_counters c;
	struct prod p[MAXPROD];
	pthread_t th[MAXPROD];
	long next[MAXPROD] = { 0 }, total = 0, sent = 0;
	double secs = 1;
	unsigned np = 3;
	struct run r = { 0 };
	ev_timer t;
	char line[128];
	FILE *fp;
	int ch, fd;

	while ((ch = getopt(argc, argv, "t:p:")) != -1) {
		switch (ch) {
		case 't': secs = atof(optarg); break;
		case 'p': np = (unsigned)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: stress_filesink [-t SECONDS] "
			    "[-p PRODUCERS]\n");
			return 2;
		}
	}
	if (np < 1 || np > MAXPROD || !(secs > 0))
		return 2;
	if ((fd = mkstemp(path)) < 0) {
		perror("mkstemp");
		return 1;
	}
	close(fd);
	memset(&fc, 0, sizeof(fc));
	fc.path = path;
	fc.nproducers = np;
	fc.ring_slots = 16;
	if (filesink_new(loop, &fc, &r.s) != 0) {
		fprintf(stderr, "stress_filesink: filesink_new failed\n");
		return 1;
	}
	ev_now_update(loop);
	r.end = ev_now(loop) + secs;
	ev_timer_init(&t, timer_cb, 0.01, 0.01);
	t.data = &r;
	ev_timer_start(loop, &t);
	for (unsigned i = 0; i < np; i++) {
		p[i] = (struct prod){ r.s, i, &r.stop, &r.done, 0, 0 };
		if (pthread_create(&th[i], NULL, prod_main, &p[i]) != 0)
			return 1;
	}
	ev_run(loop, 0);
	ring_store_release(&r.stop, 1);
	/* producers may be waiting for room: keep writing until they end */
	while (ring_load_relaxed(&r.done) < (int)np) {
		r.s->ops->drain(r.s);
		usleep(100);
	}
	r.s->ops->drain(r.s);
	for (unsigned i = 0; i < np; i++) {
		pthread_join(th[i], NULL);
		sent += p[i].sent;
		if (p[i].failed != 0) {
			fprintf(stderr, "stress_filesink: producer %u: %ld puts "
			    "failed\n", i, p[i].failed);
			return 1;
		}
	}
	ev_timer_stop(loop, &t);
	r.s->ops->counters(r.s, &c);
	r.s->ops->free(r.s);
	if ((fp = fopen(path, "r")) == NULL) {
		perror(path);
		return 1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		unsigned id;
		long i;

		if (sscanf(line, "{\"p\":%u,\"i\":%ld}\n", &id, &i) != 2 ||
		    id >= np || i != next[id]) {
			fprintf(stderr, "stress_filesink: line %ld bad or out "
			    "of order: %s", total + 1, line);
			return 1;
		}
		next[id]++;
		total++;
	}
	fclose(fp);
	unlink(path);
	ev_loop_destroy(loop);
	if (total != sent || (long)c.lines != sent ||
	    (long)c.queued != sent || c.write_errors != 0) {
		fprintf(stderr, "stress_filesink: sent=%ld in file=%ld lines=%llu "
		    "queued=%llu write_errors=%llu\n", sent, total,
		    (unsigned long long)c.lines, (unsigned long long)c.queued,
		    (unsigned long long)c.write_errors);
		return 1;
	}
	printf("stress_filesink ok producers=%u lines=%ld waits=%llu "
	    "flushes=%llu\n", np, total, (unsigned long long)c.waits,
	    (unsigned long long)c.flushes);
	return 0;
}
