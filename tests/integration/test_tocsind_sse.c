/*
 * test_tocsind_sse.c - GET /api/v1/events of a real tocsind, as a NOC
 * client meets it (tests/support/ssefix: an EventSource's parsing).
 *
 * The fleet: four sites in four areas (so both shards hold incidents),
 * one rectifier each at 127.0.Y.1-4 on a port where nothing listens, so
 * each site opens a COMM_LOSS incident at once; short ack clocks (3 s
 * premium, 10 s standard) make each incident emit more events over the
 * next seconds (warnings at 50 % and 80 %, the breach, escalations): a
 * stream of real events through the shards, their journals and the pump,
 * without a simulator.
 *
 * Checked: the first client asks from the journals' start (id "0.0": every
 * position 0) and gets each incident from seq 1; it disconnects while
 * events keep coming; a second client resumes with the first's
 * Last-Event-ID and gets exactly what it missed; once the file sink has
 * written an event after it left, tocsind is killed with SIGKILL and
 * started again on the same state dir, and a third
 * client resumes with the second's Last-Event-ID (an id of the previous
 * process, so the missed events come from the journal) and gets
 * exactly the rest.  Over the three connections every
 * incident's events arrive with seq contiguous from 1, none twice, up to
 * the last seq the file sink wrote for it.  A malformed Last-Event-ID and
 * one of another shard count get `event: reset` first, then the live
 * stream; /metrics counts streams, resumes and resets.  The last tocsind
 * stops on SIGTERM with a stream open, exit 0, and neither run's log has
 * a ThreadSanitizer report (TOCSIN_BUILD=build/thread runs the TSan
 * tocsind).
 *
 * Loopback: 127.0.200-203.* (this test's block, docs/testing.md; nothing
 * listens there).
 * Bounds: the port line 10 s; /readyz 15 s; each block 10 s; the whole
 * stream settled 40 s; children stopped by PID (pubfix_stop).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/dfix.h"
#include "tests/support/httpfix.h"
#include "tests/support/pubfix.h"
#include "tests/support/ssefix.h"
#include "tests/support/tenv.h"

#define NINC	16	/* incidents tracked (by id) */

static struct {
	struct dfix d;
	char	 net[32];	/* "127.0.Y." */
	int	 modport;	/* nothing listens there */
} S;

/* Every incident seen on the stream: its last seq. */
static struct {
	char	 id[40];
	long	 seq;
} Inc[NINC];
static unsigned Ninc;

static void
senv_fini(void)
{
	dfix_fini(&S.d, "test_tocsind_sse");
}

TestSuite(tocsind_sse, .fini = senv_fini, .timeout = 180);

static void
setup(void)
{
	unsigned r = tenv_seed(1313);
	char a[40], yaml[4096];
	size_t n;

	memset(Inc, 0, sizeof(Inc));
	Ninc = 0;
	dfix_init(&S.d, "sse");
	snprintf(S.net, sizeof(S.net), "127.0.%u.", (r >> 8) % 4 + 200);
	snprintf(a, sizeof(a), "%s1", S.net);
	S.modport = tenv_free_port(a);
	cr_assert_gt(S.modport, 0);
	n = dfix_cfg_head(yaml, sizeof(yaml), S.d.dir, S.modport, 0, 0, NULL);
	snprintf(yaml + n, sizeof(yaml) - n,
	    "sites:\n"
	    "  - {id: T1, area: north, region: A, tenants: "
	    "[{customer: c1, tier: premium}]}\n"
	    "  - {id: T2, area: south, region: A, tenants: "
	    "[{customer: c2, tier: standard}]}\n"
	    "  - {id: T3, area: east, region: B, tenants: "
	    "[{customer: c3, tier: premium}]}\n"
	    "  - {id: T4, area: west, region: B, tenants: "
	    "[{customer: c4, tier: standard}]}\n"
	    "devices:\n"
	    "  - {id: T1-rect, site: T1, profile: rect, host: %s1}\n"
	    "  - {id: T2-rect, site: T2, profile: rect, host: %s2}\n"
	    "  - {id: T3-rect, site: T3, profile: rect, host: %s3}\n"
	    "  - {id: T4-rect, site: T4, profile: rect, host: %s4}\n"
	    "sla:\n  clocks:\n"
	    "    - {clock: ack, tier: premium, duration: 3s}\n"
	    "    - {clock: ack, tier: standard, duration: 10s}\n"
	    "    - {clock: arrive, duration: 2h}\n"
	    "    - {clock: resolve, duration: 8h}\n"
	    "    - {clock: resolve_complex, duration: 24h}\n",
	    S.net, S.net, S.net, S.net);
	tenv_write_file(S.d.dir, "t.yaml", yaml);
}

/* Starts tocsind; waits for its port and /readyz 200. */
static void
daemon_up(void)
{
	dfix_up(&S.d, "t.yaml", 10000, 15000);
}

static struct ssefix *
stream(const char *last_id)
{
	struct ssefix *s = ssefix_open(S.d.port, NULL, last_id, 10000);

	cr_assert_not_null(s, "cannot connect");
	cr_assert_eq(ssefix_status(s), 200);
	cr_assert_str_eq(ssefix_ctype(s), "text/event-stream");
	return s;
}

/*
 * An incident event: its seq must follow the last one seen for that
 * incident (from 1): nothing missed, nothing twice.  Returns 1.
 */
static int
take(const struct ssefix_block *b)
{
	json_t *j = json_loads(b->data, 0, NULL);
	const char *id;
	long seq;
	unsigned i;

	cr_assert_not_null(j, "data is not JSON: %s", b->data);
	cr_assert_str_eq(json_string_value(json_object_get(j, "schema")),
	    "tocsin.incident/1");
	cr_assert_neq(b->id[0], '\0', "an incident event without an id");
	id = json_string_value(json_object_get(json_object_get(j, "incident"),
	    "id"));
	seq = (long)json_integer_value(json_object_get(j, "seq"));
	cr_assert_not_null(id);
	for (i = 0; i < Ninc && strcmp(Inc[i].id, id) != 0; i++)
		;
	if (i == Ninc) {
		cr_assert_lt(Ninc, NINC);
		snprintf(Inc[Ninc++].id, sizeof(Inc[0].id), "%s", id);
	}
	cr_assert_eq(seq, Inc[i].seq + 1, "%s: seq %ld after %ld (missed or "
	    "repeated)", id, seq, Inc[i].seq);
	Inc[i].seq = seq;
	json_decref(j);
	return 1;
}

/* Reads s for ms, taking every incident event; the count. */
static unsigned
read_for(struct ssefix *s, int ms)
{
	int64_t end = tenv_mono_ms() + ms;
	struct ssefix_block b;
	unsigned n = 0;
	int rc;

	while (tenv_mono_ms() < end) {
		rc = ssefix_next(s, &b, (int)(end - tenv_mono_ms()));
		if (rc < 0)
			cr_assert_fail("the stream ended");
		if (rc == 0)
			break;
		cr_assert_str_neq(b.event, "reset", "a reset: %s", b.data);
		if (strcmp(b.event, "incident") == 0)
			n += (unsigned)take(&b);
		ssefix_block_free(&b);
	}
	return n;
}

/* The last seq the file sink wrote for each incident: every one seen
 * on the stream up to it.  1 when they all match. */
static int
all_caught_up(int report)
{
	char path[128], *text, *line, *save = NULL;
	unsigned matched = 0, nfile = 0;
	struct { char id[40]; long seq; } f[NINC];

	snprintf(path, sizeof(path), "%s/out.jsonl", S.d.dir);
	text = tenv_read_file(path);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(line, 0, NULL);
		const char *id;
		long seq;
		unsigned i;

		if (j == NULL)
			continue;
		id = json_string_value(json_object_get(json_object_get(j,
		    "incident"), "id"));
		seq = (long)json_integer_value(json_object_get(j, "seq"));
		for (i = 0; i < nfile && strcmp(f[i].id, id) != 0; i++)
			;
		if (i == nfile && nfile < NINC) {
			snprintf(f[nfile].id, sizeof(f[0].id), "%s", id);
			f[nfile++].seq = 0;
		}
		if (i < nfile && seq > f[i].seq)
			f[i].seq = seq;
		json_decref(j);
	}
	free(text);
	for (unsigned i = 0; i < nfile; i++)
		for (unsigned k = 0; k < Ninc; k++)
			if (strcmp(f[i].id, Inc[k].id) == 0 &&
			    f[i].seq == Inc[k].seq)
				matched++;
	if (report)
		for (unsigned i = 0; i < nfile; i++) {
			long got = 0;

			for (unsigned k = 0; k < Ninc; k++)
				if (strcmp(f[i].id, Inc[k].id) == 0)
					got = Inc[k].seq;
			cr_expect_eq(got, f[i].seq, "%s: the stream gave up to "
			    "seq %ld, the file has %ld", f[i].id, got,
			    f[i].seq);
		}
	return nfile > 0 && matched == nfile && Ninc == nfile;
}

/*
 * Reads s until it has every incident up to the file's last seq, at most
 * ms.  The daemon goes on writing (a breach and its escalation come
 * together), so each look reads the file again, and a miss is reported
 * from the look that timed out, never from a newer file than the one it
 * compared (CI saw that: a report read two events after the match).
 */
static void
settle(struct ssefix *s, int ms)
{
	int64_t end = tenv_mono_ms() + ms;

	while (tenv_mono_ms() < end) {
		(void)read_for(s, 1000);
		if (all_caught_up(0))
			return;
	}
	(void)all_caught_up(1);
}

static void
expect_reset(const char *id, const char *why)
{
	struct ssefix *s = stream(id);
	struct ssefix_block b;

	cr_assert_eq(ssefix_next(s, &b, 10000), 1);
	cr_assert_str_eq(b.event, "reset", "%s: first block %s", id, b.event);
	cr_assert(b.data != NULL && strstr(b.data, why) != NULL, "%s: %s", id,
	    b.data);
	ssefix_block_free(&b);
	/* then live: an id to resume from */
	cr_assert_eq(ssefix_next(s, &b, 10000), 1);
	cr_assert_neq(b.id[0], '\0');
	ssefix_block_free(&b);
	ssefix_close(s);
}

Test(tocsind_sse, reconnects_and_a_restart_miss_nothing_and_repeat_nothing,
    .init = setup)
{
	struct ssefix *a, *b, *c;
	char last[SSEFIX_ID_MAX];
	struct httpfix_resp r;
	unsigned n;
	int64_t end;

	daemon_up();
	/* from the start of both journals: every incident from seq 1 */
	a = stream("0.0");
	n = read_for(a, 2000);
	cr_assert_gt(n, 0, "no incident event in 2 s");
	snprintf(last, sizeof(last), "%s", ssefix_last_id(a));
	ssefix_close(a);

	/* away while the clocks warn, breach and escalate */
	sleep(2);
	b = stream(last);
	n = read_for(b, 1500);
	cr_assert_gt(n, 0, "nothing missed in 2 s?");
	snprintf(last, sizeof(last), "%s", ssefix_last_id(b));
	ssefix_close(b);

	/* an event after it left (in the file), so the resume after the
	 * restart must come from the journal; then SIGKILL */
	{
		char path[128], *t;
		int n0, n1;

		snprintf(path, sizeof(path), "%s/out.jsonl", S.d.dir);
		t = tenv_read_file(path);
		n0 = pubfix_count_lines(t);
		free(t);
		end = tenv_mono_ms() + 20000;
		do {
			usleep(100000);
			t = tenv_read_file(path);
			n1 = pubfix_count_lines(t);
			free(t);
		} while (n1 == n0 && tenv_mono_ms() < end);
		cr_assert_gt(n1, n0, "no event in 20 s after the second left");
	}
	cr_assert_eq(pubfix_stop(&S.d.daemon, SIGKILL), 128 + SIGKILL);
	sleep(1);
	daemon_up();
	c = stream(last);
	settle(c, 40000);
	/* a little longer: nothing twice, and still every event */
	(void)read_for(c, 1500);
	settle(c, 10000);

	expect_reset("bogus!", "not an id");
	expect_reset("1.2.3", "names 3 shards");
	cr_assert_eq(httpfix_do(S.d.port, "GET", "/metrics", NULL, NULL, &r),
	    200);
	cr_expect(strstr(r.body, "tocsin_sse_resumes_total{from=\"journal\"} 1")
	    != NULL, "the resume after the restart read the journal: %s",
	    r.body);
	cr_expect(strstr(r.body, "tocsin_sse_resets_total 2") != NULL, "%s",
	    r.body);
	cr_expect(strstr(r.body, "tocsin_sse_streams_total 3") != NULL, "%s",
	    r.body);
	httpfix_free(&r);

	/* SIGTERM with the stream open (suspended): a clean stop */
	/* TOCSIN_BUILD=build/thread: no report in either run */
	dfix_stop_clean(&S.d, NULL);
	ssefix_close(c);
}
