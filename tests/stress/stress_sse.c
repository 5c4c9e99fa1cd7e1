/*
 * stress_sse.c - a correlator's event stream (daemon/sse in memory mode)
 * on three threads, as tocsind runs it: the stage's thread offers the
 * events of four incidents, with a partition's dump now and then; a
 * reader (the HTTP thread's part) reads in small bites, pausing so it
 * falls behind and is closed, and resumes from its last id; the main
 * thread sends keepalives.  Under SANITIZER=thread this is how
 * ThreadSanitizer sees the stream's sharing (a correlator itself cannot
 * run under it: docs/testing.md).
 *
 *   stress_sse [-n EVENTS]
 *
 * Checks: each incident's seq only grows on the stream, by one but
 * across a reset; every dump reset the reader (or it was away, and its
 * resume was reset); once the stage is done, the reader, live again,
 * gets each incident's newest event (after a reset that came last, one
 * more event of each is sent: a reset client has only what follows it).
 * Exit 0, or 1 with a message.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/mem.h"
#include "daemon/sse.h"

#define NINC	4
#define DUMPS	8	/* dumps over the run */

static struct sse *E;
static struct pub_sink *Sink;
static unsigned Events = 200000;
static unsigned Seq[NINC];		/* the stage's; the reader's after */
static atomic_int Done, Quit;

static void
fail(const char *what)
{
	fprintf(stderr, "stress_sse: %s\n", what);
	exit(1);
}

static void
offer_event(unsigned k, unsigned pad)
{
	char json[512];
	struct pub_rec r;

	memset(&r, 0, sizeof(r));
	snprintf(json, sizeof(json), "{\"seq\":%u,\"incident\":{\"id\":"
	    "\"INC-0-%u\"},\"pad\":\"%*s\"}", ++Seq[k], k, (int)pad, "");
	r.kind = PUB_EVENT;
	r.json = json;
	r.jsonlen = strlen(json);
	if (Sink->ops->offer(Sink, &r) != 0)
		fail("offer refused");
}

static void *
stage(void *arg)
{
	struct pub_rec r;

	(void)arg;
	for (unsigned i = 0; i < Events; i++) {
		if (i % (Events / DUMPS) == Events / DUMPS / 2) {
			memset(&r, 0, sizeof(r));
			r.shard = 1;
			r.kind = PUB_DUMP_BEGIN;
			(void)Sink->ops->offer(Sink, &r);
			r.kind = PUB_DUMP_END;
			(void)Sink->ops->offer(Sink, &r);
		}
		offer_event(i % NINC, i % 300);
		if (i % 500 == 499)
			usleep(1000);	/* a commit's pause */
	}
	atomic_store(&Done, 1);
	return NULL;
}

/* The reader's state: what it has of each incident. */
struct reader {
	unsigned seq[NINC];
	unsigned long events, resets, resumes, jumps;
	char	 last_id[SSE_ID_MAX];
	int	 jump_ok;	/* a reset came: the next seq may jump */
};

/* Parses the complete blocks of buf[0, n): the bytes it used. */
static size_t
parse(struct reader *rd, char *buf, size_t n)
{
	char *p = buf, *end;

	buf[n] = '\0';
	while ((end = strstr(p, "\n\n")) != NULL) {
		char *id, *ev;
		unsigned seq, k;

		*end = '\0';	/* this block only */
		id = strstr(p, "id: ");
		ev = strstr(p, "event: ");
		if (id != NULL)
			snprintf(rd->last_id, sizeof(rd->last_id), "%.*s",
			    (int)strcspn(id + 4, "\n"), id + 4);
		if (ev != NULL && strncmp(ev, "event: reset", 12) == 0) {
			rd->resets++;
			for (k = 0; k < NINC; k++)
				rd->jump_ok |= 1 << k;
		} else if (ev != NULL && strncmp(ev, "event: incident", 15) ==
		    0) {
			char *d = strstr(ev, "data: ");

			if (d == NULL || sscanf(d, "data: {\"seq\":%u,"
			    "\"incident\":{\"id\":\"INC-0-%u\"", &seq, &k) != 2 ||
			    k >= NINC)
				fail("an incident block that does not parse");
			if (seq <= rd->seq[k])
				fail("a seq again or back");
			if (seq != rd->seq[k] + 1) {
				if (!(rd->jump_ok >> k & 1))
					fail("a seq skipped without a reset");
				rd->jumps++;
			}
			rd->jump_ok &= ~(1 << k);
			rd->seq[k] = seq;
			rd->events++;
		}
		p = end + 2;
	}
	return (size_t)(p - buf);
}

static void *
keepalives(void *arg)
{
	(void)arg;
	while (!atomic_load(&Quit)) {
		sse_keepalive(E);
		usleep(2000);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct pub_host host;
	static char buf[(64u << 10) + 1];
	size_t have = 0;
	struct reader rd;
	struct sse_client *c;
	struct sse_stats st;
	pthread_t ts, tk;
	unsigned nudges = 0, bites = 0;
	int opt, joined = 0;

	while ((opt = getopt(argc, argv, "n:")) != -1)
		if (opt == 'n')
			Events = (unsigned)strtoul(optarg, NULL, 10);
	if (Events < DUMPS * 2)
		fail("-n: too few events");
	memset(&rd, 0, sizeof(rd));
	E = sse_new(1, 4);
	Sink = sse_sink(E, &host);
	sse_start_memory(E, 12345);
	if (sse_client_open(E, NULL, &c) != 0)
		fail("open");
	if (pthread_create(&ts, NULL, stage, NULL) != 0 ||
	    pthread_create(&tk, NULL, keepalives, NULL) != 0)
		fail("pthread_create");
	for (;;) {
		ssize_t k;
		unsigned long had = rd.events;
		int all = 1;

		/* small bites, as a socket takes them; a block may span two */
		while ((k = sse_client_read(c, buf + have, (sizeof(buf) - 1 -
		    have) < 4096 ? sizeof(buf) - 1 - have : 4096)) > 0) {
			size_t used;

			have += (size_t)k;
			used = parse(&rd, buf, have);
			memmove(buf, buf + used, have - used);
			have -= used;
			if (have == sizeof(buf) - 1)
				fail("a block of 64 KiB");
		}
		if (k == HTTP_STREAM_END) {
			if (have != 0)
				fail("the stream ended inside a block");
			sse_client_close(c);
			if (sse_client_open(E, rd.last_id, &c) != 0)
				fail("resume");
			rd.resumes++;
			continue;
		}
		if (++bites % 50 == 0)
			usleep(20000);	/* fall behind now and then */
		if (!joined && atomic_load(&Done)) {
			pthread_join(ts, NULL);
			joined = 1;
		}
		for (unsigned i = 0; joined && i < NINC; i++)
			all &= rd.seq[i] == Seq[i];
		if (joined && all)
			break;
		if (joined && rd.events == had) {
			if (++nudges > 20)
				fail("the reader does not get the newest events");
			for (unsigned i = 0; i < NINC; i++)
				offer_event(i, 0);
		}
	}
	atomic_store(&Quit, 1);
	pthread_join(tk, NULL);
	sse_client_close(c);
	sse_stats(E, &st);
	if (rd.resets == 0)
		fail("no reset, though partitions were dumped");
	printf("stress_sse: %u events offered; the reader got %lu, %lu "
	    "resets, %lu resumes (%llu from memory), %lu seq jumps, %u "
	    "nudges\n", Events, rd.events, rd.resets, rd.resumes,
	    (unsigned long long)st.resumed_tail, rd.jumps, nudges);
	sse_free(E);
	return 0;
}
