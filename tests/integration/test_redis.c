/*
 * test_redis.c - the Redis sink (drivers/redis) against a real redis-server
 * started on a free loopback port, read back as a user would (redis-cli,
 * or a blocking hiredis context).
 *
 * The test plays the daemon's pump: a fake pub_host with one journal per
 * shard (records built by hand, with incjson-shaped JSON and step spans),
 * offering from each shard's own position until the sink says -EAGAIN,
 * again on ready(), from an earlier position on rewind(), and answering
 * resync() by journaling a dump of its model's live incidents, as the
 * shards do.  done() positions are checked to grow and never pass what
 * was taken.
 *
 * Every wait is bounded (server start 5 s, loop runs 10-60 s), the server
 * dies with the test (PR_SET_PDEATHSIG) and is stopped by PID; no
 * Criterion .timeout (see test_devsim.c).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <ev.h>
#include <hiredis/hiredis.h>

#include "correlator/corr.h"
#include "daemon/log.h"
#include "daemon/utc.h"
#include "drivers/redis/redis.h"
#include "tests/support/proc.h"
#include "tests/support/tenv.h"

#define T_SHARDS	4
#define T_STEPS		64
#define T_T0		1790000000000LL	/* 2026-09-21, ms */

/* ---- the redis-server ---- */

struct rsrv {
	pid_t	 pid;
	int	 port;
	char	 dir[64];
	const char *pass;	/* --requirepass, or NULL */
	int	 unixsock;	/* 1: also listen on dir/redis.sock */
};

static pid_t
rs_spawn(struct rsrv *rs)
{
	char port[16];
	pid_t pid;

	snprintf(port, sizeof(port), "%d", rs->port);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 1);
		dup2(null, 2);
		close_range(3, ~0U, 0);
		if (rs->pass != NULL)
			execlp("redis-server", "redis-server", "--port", port,
			    "--bind", "127.0.0.1", "--save", "", "--appendonly",
			    "no", "--dir", rs->dir, "--daemonize", "no",
			    "--requirepass", rs->pass, (char *)NULL);
		else if (rs->unixsock)
			execlp("redis-server", "redis-server", "--port", port,
			    "--bind", "127.0.0.1", "--save", "", "--appendonly",
			    "no", "--dir", rs->dir, "--daemonize", "no",
			    "--unixsocket", "redis.sock", (char *)NULL);
		else
			execlp("redis-server", "redis-server", "--port", port,
			    "--bind", "127.0.0.1", "--save", "", "--appendonly",
			    "no", "--dir", rs->dir, "--daemonize", "no",
			    (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* A blocking context to the server, or NULL. */
static redisContext *
rs_ctx(const struct rsrv *rs)
{
	struct timeval tv = { 1, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", rs->port, tv);

	if (c != NULL && c->err) {
		redisFree(c);
		return NULL;
	}
	if (c != NULL)
		redisSetTimeout(c, tv);
	return c;
}

/* Waits 5 s at most for PONG: 0, or -1 (the server is killed). */
static int
rs_wait(struct rsrv *rs)
{
	int64_t end = tenv_mono_ms() + 5000;

	while (tenv_mono_ms() < end) {
		redisContext *c = rs_ctx(rs);
		redisReply *r = c ? redisCommand(c, "PING") : NULL;
		/* NOAUTH is an answer too: the server is up */
		int ok = r != NULL && (r->type == REDIS_REPLY_STATUS ||
		    r->type == REDIS_REPLY_ERROR);

		if (r != NULL)
			freeReplyObject(r);
		if (c != NULL)
			redisFree(c);
		if (ok)
			return 0;
		if (waitpid(rs->pid, NULL, WNOHANG) == rs->pid)
			return -1;
		usleep(20000);
	}
	kill(rs->pid, SIGKILL);
	waitpid(rs->pid, NULL, 0);
	return -1;
}

static void rs_start_pass(struct rsrv *rs, const char *pass);

/* Starts a server on a free port (new port: tries three). */
static void
rs_start(struct rsrv *rs)
{
	memset(rs, 0, sizeof(*rs));
	rs_start_pass(rs, NULL);
}

static void
rs_start_pass(struct rsrv *rs, const char *pass)
{
	rs->pass = pass;
	strcpy(rs->dir, "/tmp/tocsin-redis-XXXXXX");
	cr_assert_not_null(mkdtemp(rs->dir));
	for (int attempt = 0; attempt < 3; attempt++) {
		rs->port = tenv_free_port("127.0.0.1");
		cr_assert_gt(rs->port, 0);
		rs->pid = rs_spawn(rs);
		if (rs_wait(rs) == 0)
			return;
	}
	cr_assert_fail("redis-server did not start");
}

/* Starts it again on the same port (after rs_kill). */
static void
rs_restart(struct rsrv *rs)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		rs->pid = rs_spawn(rs);
		if (rs_wait(rs) == 0)
			return;
		usleep(200000);
	}
	cr_assert_fail("redis-server did not restart on port %d", rs->port);
}

static void
rs_kill(struct rsrv *rs)
{
	kill(rs->pid, SIGKILL);
	waitpid(rs->pid, NULL, 0);
	rs->pid = 0;
}

static void
rs_stop(struct rsrv *rs)
{
	char sock[96];

	int64_t end = tenv_mono_ms() + 3000;

	if (rs->pid <= 0)
		return;
	kill(rs->pid, SIGTERM);
	while (waitpid(rs->pid, NULL, WNOHANG) != rs->pid) {
		if (tenv_mono_ms() >= end) {
			rs_kill(rs);
			break;
		}
		usleep(10000);
	}
	rs->pid = 0;
	snprintf(sock, sizeof(sock), "%s/redis.sock", rs->dir);
	unlink(sock);
	rmdir(rs->dir);
}

/* A command's reply; the test fails if there is none. */
static redisReply *
rq(redisContext *c, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	cr_assert_not_null(r, "no reply to %s: %s", fmt, c->errstr);
	return r;
}

/* A string reply as a malloc'd string ("" for nil). */
static char *
rs_str(redisContext *c, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;
	char *s;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	cr_assert_not_null(r);
	s = strdup(r->type == REDIS_REPLY_STRING ? r->str : "");
	freeReplyObject(r);
	return s;
}

static long long
rs_int(redisContext *c, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;
	long long v;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	cr_assert_not_null(r);
	cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "not an integer: %s", fmt);
	v = r->integer;
	freeReplyObject(r);
	return v;
}

/* ---- the model: incidents and the journal of each shard ---- */

struct tinc {
	char	 id[32];
	unsigned shard;
	char	 site[16];
	char	 area[16];
	uint8_t	 state, severity, live;
	uint64_t seq;
	int64_t	 opened_at, at, deadline;
	unsigned nsteps;
	char	 steps[T_STEPS][192];	/* each step's JSON object */
};

struct tjrec {
	struct pub_rec	 r;
	char		 id[32], site[16], area[16];
	char		*json;
	struct pub_span	*spans;
};

struct tjournal {
	struct tjrec	*v;
	size_t		 n, cap;
	size_t		 next;		/* next to offer */
	uint64_t	 done;		/* last done pos */
};

struct thost {
	struct tjournal	 j[T_SHARDS];
	unsigned	 nshards;	/* shards that dump on resync */
	struct tinc	*incs[64];
	unsigned	 nincs;
	int		 ready;		/* ready() since the last -EAGAIN */
	int		 resync_pending;
	unsigned	 resyncs, readies, rewinds;
	int		 bad_done;	/* a done() out of order or untaken */
	struct pub_sink	*sink;
	struct ev_loop	*loop;
};

static void
th_ready(void *arg)
{
	struct thost *th = arg;

	th->ready = 1;
	th->readies++;
}

static void
th_done(void *arg, unsigned shard, uint64_t pos)
{
	struct thost *th = arg;
	struct tjournal *j = &th->j[shard];

	if (shard >= T_SHARDS || pos <= j->done || pos > j->next)
		th->bad_done++;
	else
		j->done = pos;
}

static void
th_rewind(void *arg, unsigned shard, uint64_t pos)
{
	struct thost *th = arg;
	struct tjournal *j = &th->j[shard];

	th->rewinds++;
	if (pos >= 1 && pos - 1 < j->next)
		j->next = (size_t)(pos - 1);
}

static void
th_resync(void *arg)
{
	struct thost *th = arg;

	th->resync_pending = 1;
	th->resyncs++;
}

static struct tjrec *
tj_add(struct thost *th, unsigned shard, uint8_t kind)
{
	struct tjournal *j = &th->j[shard];
	struct tjrec *t;

	if (j->n == j->cap) {
		j->cap = j->cap ? j->cap * 2 : 64;
		j->v = realloc(j->v, j->cap * sizeof(*j->v));
		cr_assert_not_null(j->v);
	}
	t = &j->v[j->n++];
	memset(t, 0, sizeof(*t));
	t->r.pos = j->n;
	t->r.shard = shard;
	t->r.kind = kind;
	t->r.kpart = -1;
	t->r.koffset = -1;
	return t;
}

/* The record's pointers, fixed up when offered (the array moves). */
static const struct pub_rec *
tj_rec(struct tjrec *t)
{
	t->r.id = t->id;
	t->r.site = t->site;
	t->r.area = t->area;
	t->r.json = t->json;
	t->r.steps = t->spans;
	return &t->r;
}

static struct tinc *
tinc_new(struct thost *th, unsigned shard, uint64_t num, const char *site,
    int64_t opened_at)
{
	struct tinc *in = calloc(1, sizeof(*in));

	cr_assert_not_null(in);
	corr_id_format(in->id, sizeof(in->id), "INC-", shard, num);
	in->shard = shard;
	snprintf(in->site, sizeof(in->site), "%s", site);
	snprintf(in->area, sizeof(in->area), "north");
	in->severity = SEV_MAJOR;
	in->live = 1;
	in->opened_at = in->at = opened_at;
	th->incs[th->nincs++] = in;
	return in;
}

/*
 * Journals a record of incident in: kind PUB_EVENT with the steps from
 * `from` on, or PUB_STATE with all of them, JSON shaped as incjson's.
 */
static void
tinc_rec(struct thost *th, struct tinc *in, uint8_t kind, uint8_t evtype,
    unsigned from)
{
	struct tjrec *t = tj_add(th, in->shard, kind);
	char at[UTC_LEN];
	size_t cap = 1024 + (size_t)T_STEPS * 200, n;
	char *js = malloc(cap);

	cr_assert_not_null(js);
	utc_format(in->at, at);
	n = (size_t)snprintf(js, cap, "{\"schema\":\"tocsin.incident/1\","
	    "\"event\":\"%s\",\"seq\":%llu,\"at\":\"%s\",\"incident\":{"
	    "\"id\":\"%s\",\"site\":\"%s\",\"area\":\"%s\",\"severity\":"
	    "\"major\",\"state\":\"%s\",\"timeline_len\":%u},\"steps\":[",
	    corr_evtype_name(evtype), (unsigned long long)in->seq, at, in->id,
	    in->site, in->area, corr_state_name(in->state), in->nsteps);
	t->spans = calloc(T_STEPS, sizeof(*t->spans));
	for (unsigned i = from; i < in->nsteps; i++) {
		size_t len = strlen(in->steps[i]);

		if (i > from)
			js[n++] = ',';
		t->spans[t->r.nsteps].off = (uint32_t)n;
		t->spans[t->r.nsteps++].len = (uint32_t)len;
		memcpy(js + n, in->steps[i], len);
		n += len;
	}
	n += (size_t)snprintf(js + n, cap - n, "]}");
	t->json = js;
	t->r.jsonlen = n;
	snprintf(t->id, sizeof(t->id), "%s", in->id);
	snprintf(t->site, sizeof(t->site), "%s", in->site);
	snprintf(t->area, sizeof(t->area), "%s", in->area);
	t->r.type = evtype;
	t->r.state = in->state;
	t->r.severity = in->severity;
	t->r.live = in->live;
	t->r.seq = in->seq;
	t->r.at = in->at;
	t->r.opened_at = in->opened_at;
	t->r.deadline = in->deadline;
}

/* The incident changes: one step, seq + 1, one event journaled. */
static void
tinc_event(struct thost *th, struct tinc *in, uint8_t evtype, uint8_t state,
    int64_t deadline)
{
	char at[UTC_LEN], id[sizeof(in->id)];

	cr_assert_lt(in->nsteps, T_STEPS);
	memcpy(id, in->id, sizeof(id));
	in->at += 1000;
	in->seq++;
	in->state = state;
	in->deadline = deadline;
	in->live = state != CORR_CLOSED;
	if (!in->live)
		in->deadline = 0;
	utc_format(in->at, at);
	snprintf(in->steps[in->nsteps], sizeof(in->steps[0]),
	    "{\"at\":\"%s\",\"actor\":\"tocsin\",\"action\":\"%s\","
	    "\"note\":\"step %llu of %s\"}", at, corr_evtype_name(evtype),
	    (unsigned long long)in->seq, id);
	in->nsteps++;
	tinc_rec(th, in, PUB_EVENT, evtype, in->nsteps - 1);
}

/* As the shards answer resync(): each journals a dump of its live set. */
static void
th_answer_resync(struct thost *th)
{
	th->resync_pending = 0;
	for (unsigned s = 0; s < th->nshards; s++) {
		tj_add(th, s, PUB_DUMP_BEGIN);
		for (unsigned i = 0; i < th->nincs; i++)
			if (th->incs[i]->shard == s && th->incs[i]->live)
				tinc_rec(th, th->incs[i], PUB_STATE,
				    CORR_EV_UPDATED, 0);
		tj_add(th, s, PUB_DUMP_END);
	}
}

/* Offers every shard's records from its position, round robin. */
static void
th_pump(struct thost *th)
{
	int more = 1;

	th->ready = 0;
	while (more) {
		more = 0;
		for (unsigned s = 0; s < T_SHARDS; s++) {
			struct tjournal *j = &th->j[s];
			int rc;

			if (j->next >= j->n)
				continue;
			rc = th->sink->ops->offer(th->sink,
			    tj_rec(&j->v[j->next]));
			if (rc == -EAGAIN)
				return;
			cr_assert_eq(rc, 0);
			j->next++;
			more = 1;
		}
	}
	/* everything offered: offer again when more is journaled */
	th->ready = 1;
}

static int
th_all_done(struct thost *th)
{
	for (unsigned s = 0; s < T_SHARDS; s++)
		if (th->j[s].done != th->j[s].n)
			return 0;
	return 1;
}

static int
th_nothing(struct thost *th)
{
	(void)th;
	return 0;
}

static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

/* Runs the loop, pumping, until cond holds or ms pass: whether it held. */
static int
th_run(struct thost *th, int (*cond)(struct thost *), int ms)
{
	int64_t end = tenv_mono_ms() + ms;
	ev_timer tick;
	int ok;

	ev_timer_init(&tick, tick_cb, 0.02, 0.02);
	ev_timer_start(th->loop, &tick);
	while (!(ok = cond(th)) && tenv_mono_ms() < end) {
		if (th->resync_pending)
			th_answer_resync(th);
		if (th->ready)
			th_pump(th);
		ev_run(th->loop, EVRUN_ONCE);
	}
	ev_timer_stop(th->loop, &tick);
	return ok;
}

static int
th_healthy(struct thost *th)
{
	return th->sink->ops->healthy(th->sink) && th->resyncs > 0;
}

static int
th_unhealthy(struct thost *th)
{
	return !th->sink->ops->healthy(th->sink);
}

static void
th_init(struct thost *th, const struct rsrv *rs, struct redis_config *rc,
    struct pub_host *host)
{
	memset(th, 0, sizeof(*th));
	signal(SIGPIPE, SIG_IGN);
	th->loop = ev_loop_new(EVFLAG_AUTO);
	th->nshards = 2;
	th->ready = 1;
	host->ready = th_ready;
	host->done = th_done;
	host->rewind = th_rewind;
	host->resync = th_resync;
	host->arg = th;
	redis_config_defaults(rc);
	rc->port = (uint32_t)rs->port;
	rc->backoff_min_ms = 100;
	rc->backoff_max_ms = 400;
	rc->closed_ttl_ms = 3600 * 1000;
}

/* The model's journals (a test without a sink frees only these). */
static void
th_free_journals(struct thost *th)
{
	for (unsigned s = 0; s < T_SHARDS; s++) {
		for (size_t i = 0; i < th->j[s].n; i++) {
			free(th->j[s].v[i].json);
			free(th->j[s].v[i].spans);
		}
		free(th->j[s].v);
	}
}

static void
th_fini(struct thost *th)
{
	if (th->sink != NULL)
		th->sink->ops->close(th->sink, 1000);
	th_free_journals(th);
	for (unsigned i = 0; i < th->nincs; i++)
		free(th->incs[i]);
	ev_loop_destroy(th->loop);
}

/* What Redis holds for the model's incident in, checked field by field. */
static void
check_incident(redisContext *c, const struct tinc *in)
{
	redisReply *r;
	char *s;

	s = rs_str(c, "HGET tocsin:incident:%s state", in->id);
	cr_expect_str_eq(s, corr_state_name(in->state), "%s state", in->id);
	free(s);
	s = rs_str(c, "HGET tocsin:incident:%s seq", in->id);
	cr_expect_eq(strtoull(s, NULL, 10), in->seq, "%s seq %s", in->id, s);
	free(s);
	s = rs_str(c, "HGET tocsin:incident:%s site", in->id);
	cr_expect_str_eq(s, in->site);
	free(s);
	s = rs_str(c, "HGET tocsin:incident:%s opened_at", in->id);
	cr_expect_eq(strtoll(s, NULL, 10), in->opened_at);
	free(s);
	s = rs_str(c, "HGET tocsin:incident:%s json", in->id);
	cr_expect(strstr(s, "\"schema\":\"tocsin.incident/1\"") != NULL);
	free(s);
	r = rq(c, "LRANGE tocsin:incident:%s:timeline 0 -1", in->id);
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_expect_eq(r->elements, in->nsteps, "%s timeline has %zu steps, "
	    "not %u", in->id, r->elements, in->nsteps);
	for (size_t i = 0; i < r->elements && i < in->nsteps; i++)
		cr_expect_str_eq(r->element[i]->str, in->steps[i],
		    "%s step %zu", in->id, i);
	freeReplyObject(r);
	if (in->live) {
		s = rs_str(c, "ZSCORE tocsin:incidents:open %s", in->id);
		cr_expect_eq(strtoll(s, NULL, 10), in->opened_at,
		    "%s open score %s", in->id, s);
		free(s);
		cr_expect_eq(rs_int(c, "TTL tocsin:incident:%s", in->id), -1);
	} else {
		r = rq(c, "ZSCORE tocsin:incidents:open %s", in->id);
		cr_expect_eq(r->type, REDIS_REPLY_NIL, "%s closed, still open",
		    in->id);
		freeReplyObject(r);
		cr_expect_gt(rs_int(c, "TTL tocsin:incident:%s", in->id), 0);
		cr_expect_gt(rs_int(c, "TTL tocsin:incident:%s:timeline",
		    in->id), 0);
	}
	r = rq(c, "ZSCORE tocsin:deadlines %s", in->id);
	if (in->live && in->deadline != 0) {
		cr_expect_eq(r->type, REDIS_REPLY_STRING);
		if (r->type == REDIS_REPLY_STRING)
			cr_expect_eq(strtoll(r->str, NULL, 10), in->deadline);
	} else {
		cr_expect_eq(r->type, REDIS_REPLY_NIL, "%s has a deadline",
		    in->id);
	}
	freeReplyObject(r);
}

/* incidents:open holds exactly the model's live incidents (and extra). */
static void
check_open_set(redisContext *c, struct thost *th, const char *extra)
{
	redisReply *r = rq(c, "ZRANGE tocsin:incidents:open 0 -1");
	size_t want = extra != NULL;

	for (unsigned i = 0; i < th->nincs; i++)
		want += th->incs[i]->live;
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_expect_eq(r->elements, want, "incidents:open has %zu, not %zu",
	    r->elements, want);
	for (size_t k = 0; k < r->elements; k++) {
		int known = extra != NULL && strcmp(r->element[k]->str,
		    extra) == 0;

		for (unsigned i = 0; i < th->nincs; i++)
			known |= th->incs[i]->live &&
			    strcmp(th->incs[i]->id, r->element[k]->str) == 0;
		cr_expect(known, "%s in incidents:open", r->element[k]->str);
	}
	freeReplyObject(r);
}

/* ---- tests that need no server ---- */

/* docs/redis.md's settings table names every key of redis_settings[]. */
Test(redis, doc_table)
{
	char *doc = tenv_read_file("docs/redis.md");

	cr_assert(doc[0] != '\0', "docs/redis.md not found (run from the "
	    "repository root)");
	for (const struct setting *k = redis_settings; k->key != NULL;
	    k++) {
		char row[64];

		snprintf(row, sizeof(row), "| `%s` |", k->key);
		cr_expect(strstr(doc, row) != NULL, "docs/redis.md has no row "
		    "for %s", k->key);
	}
	free(doc);
}

Test(redis, config)
{
	struct redis_config c;

	redis_config_defaults(&c);
	cr_expect_eq(redis_config_check(&c, "redis.", NULL, NULL), 0);
	cr_expect_str_eq(c.prefix, "tocsin:");
	cr_expect_eq(c.port, 6379);
	cr_expect_eq(c.stream_maxlen, 100000);
	cr_expect_eq(c.backoff_min_ms, 250);
	cr_expect_eq(c.backoff_max_ms, 10000);
	c.backoff_min_ms = 20000;
	cr_expect_eq(redis_config_check(&c, "redis.", NULL, NULL), -EINVAL);
	redis_config_defaults(&c);
	c.max_inflight = 0;
	cr_expect_eq(redis_config_check(&c, "redis.", NULL, NULL), -EINVAL);
}

/* The commands of a closing event, as the sink and the bench send them. */
Test(redis, argv)
{
	struct thost th;
	struct redis_config rc;
	struct redis_argv a;
	struct tinc *in;
	const struct pub_rec *r;
	int n, seen_xadd = 0, seen_expire = 0, seen_zrem = 0;

	memset(&th, 0, sizeof(th));
	redis_config_defaults(&rc);
	redis_argv_init(&a);
	in = tinc_new(&th, 3, 7, "S1", T_T0);
	tinc_event(&th, in, CORR_EV_OPENED, CORR_OPEN, T_T0 + 60000);
	tinc_event(&th, in, CORR_EV_CLOSED, CORR_CLOSED, 0);
	r = tj_rec(&th.j[3].v[1]);
	n = redis_record_argv(&rc, r, &a);
	cr_assert_gt(n, 0);
	cr_assert_eq((unsigned)n, a.ncmd);
	cr_expect_eq(a.argc[0], 22);	/* HSET key + 10 fields */
	cr_expect_eq(memcmp(a.argv[a.first[0]], "HSET", 4), 0);
	cr_expect_eq(memcmp(a.argv[a.first[0] + 1], "tocsin:incident:INC-3-7",
	    a.argvlen[a.first[0] + 1]), 0);
	for (unsigned i = 0; i < a.ncmd; i++) {
		const char *cmd = a.argv[a.first[i]];

		seen_xadd |= strncmp(cmd, "XADD", 4) == 0;
		seen_expire += strncmp(cmd, "EXPIRE", 6) == 0;
		seen_zrem += strncmp(cmd, "ZREM", 4) == 0;
	}
	cr_expect(seen_xadd);
	cr_expect_eq(seen_expire, 2);
	cr_expect_eq(seen_zrem, 2);
	/* records Redis has no business with: no command */
	{
		struct pub_rec rej = { .kind = PUB_REJECTED, .json = "{}",
		    .jsonlen = 2 };

		cr_expect_eq(redis_record_argv(&rc, &rej, &a), 0);
	}
	redis_argv_fini(&a);
	th_free_journals(&th);
	free(in);
}

/*
 * The guarded form: one script per record, its arguments the plain
 * commands, each after its argument count; EVALSHA once the SHA1 is
 * known.
 */
Test(redis, argv_guarded)
{
	struct thost th;
	struct redis_config rc;
	struct redis_argv plain, a;
	struct tinc *in;
	const struct pub_rec *r;
	unsigned k;
	int n;

	memset(&th, 0, sizeof(th));
	redis_config_defaults(&rc);
	redis_argv_init(&plain);
	redis_argv_init(&a);
	in = tinc_new(&th, 3, 7, "S1", T_T0);
	tinc_event(&th, in, CORR_EV_OPENED, CORR_OPEN, T_T0 + 60000);
	r = tj_rec(&th.j[3].v[0]);
	cr_assert_gt(redis_record_argv(&rc, r, &plain), 0);
	rc.seq_guard = 1;
	n = redis_record_argv(&rc, r, &a);
	cr_assert_eq(n, 1);
	cr_expect_eq(strcmp(a.argv[0], "EVAL"), 0);
	cr_expect_eq(strcmp(a.argv[1], redis_script_text(REDIS_SCRIPT_GUARD)),
	    0);
	cr_expect_eq(strcmp(a.argv[2], "1"), 0);
	cr_expect_eq(strcmp(a.argv[3], "tocsin:incident:INC-3-7"), 0);
	cr_expect_eq(strcmp(a.argv[4], "0"), 0);	/* an event */
	cr_expect_eq(strcmp(a.argv[5], "1"), 0);	/* its seq */
	cr_expect_eq(strtoul(a.argv[6], NULL, 10), plain.ncmd);
	/* each plain command after its count; the site's as a SITE line */
	k = 7;
	for (unsigned i = 0; i < plain.ncmd; i++) {
		const char *cmd = plain.argv[plain.first[i]];
		unsigned argc = plain.argc[i];

		cr_assert_lt(k, a.argc[0]);
		if (strcmp(cmd, "EVAL") == 0) {	/* the site script */
			cr_expect_eq(strtoul(a.argv[k], NULL, 10), argc - 2);
			cr_expect_eq(strcmp(a.argv[k + 1], "SITE"), 0);
			k += argc - 1;
			continue;
		}
		cr_expect_eq(strtoul(a.argv[k], NULL, 10), argc);
		for (unsigned j = 0; j < argc; j++)
			cr_expect(a.argvlen[k + 1 + j] ==
			    plain.argvlen[plain.first[i] + j] &&
			    memcmp(a.argv[k + 1 + j],
			    plain.argv[plain.first[i] + j],
			    a.argvlen[k + 1 + j]) == 0, "command %u arg %u", i, j);
		k += 1 + argc;
	}
	cr_expect_eq(k, a.argc[0]);
	/* the SHA1 known: EVALSHA */
	memcpy(rc.script_sha[REDIS_SCRIPT_GUARD],
	    "0123456789012345678901234567890123456789", 41);
	cr_assert_eq(redis_record_argv(&rc, r, &a), 1);
	cr_expect_eq(strcmp(a.argv[0], "EVALSHA"), 0);
	cr_expect_eq(strcmp(a.argv[1], rc.script_sha[REDIS_SCRIPT_GUARD]), 0);
	redis_argv_fini(&plain);
	redis_argv_fini(&a);
	th_free_journals(&th);
	free(in);
}

/* ---- tests against redis-server ---- */

/*
 * Three incidents on two shards, one of them closed: hashes, timelines,
 * the open set, deadlines, the stream and the site hashes, and done()
 * positions complete and in order.
 */
static void
events_run(int guard)
{
	struct rsrv rs;
	struct thost th;
	struct redis_config rc;
	struct pub_host host;
	struct tinc *a, *b, *c3;
	struct redis_stats st;
	redisContext *c;
	redisReply *r;
	char *s;
	size_t nev = 0;

	rs_start(&rs);
	th_init(&th, &rs, &rc, &host);
	rc.seq_guard = (uint32_t)guard;
	cr_assert_eq(redis_new(th.loop, &rc, &host, &th.sink), 0);
	cr_assert(th_run(&th, th_healthy, 10000), "sink did not connect");

	a = tinc_new(&th, 0, 1, "S1", T_T0);
	b = tinc_new(&th, 0, 2, "S2", T_T0 + 5000);
	c3 = tinc_new(&th, 1, 1, "", T_T0 + 7000);	/* an area incident */
	tinc_event(&th, a, CORR_EV_OPENED, CORR_OPEN, T_T0 + 900000);
	tinc_event(&th, b, CORR_EV_OPENED, CORR_OPEN, T_T0 + 950000);
	tinc_event(&th, c3, CORR_EV_OPENED, CORR_OPEN, 0);
	tinc_event(&th, a, CORR_EV_ACKNOWLEDGED, CORR_ACKNOWLEDGED,
	    T_T0 + 3600000);
	tinc_event(&th, b, CORR_EV_RESOLVED, CORR_RESOLVED, 0);
	tinc_event(&th, c3, CORR_EV_UPDATED, CORR_OPEN, 0);
	tinc_event(&th, b, CORR_EV_CLOSED, CORR_CLOSED, 0);
	tinc_event(&th, a, CORR_EV_DISPATCHED, CORR_DISPATCHED,
	    T_T0 + 7200000);
	nev = 8;
	th.ready = 1;
	cr_assert(th_run(&th, th_all_done, 10000), "records not all done");
	cr_expect_eq(th.bad_done, 0);

	cr_assert_not_null(c = rs_ctx(&rs));
	check_incident(c, a);
	check_incident(c, b);
	check_incident(c, c3);
	check_open_set(c, &th, NULL);
	cr_expect_eq(rs_int(c, "XLEN tocsin:stream:incidents"), (long long)nev);
	r = rq(c, "XRANGE tocsin:stream:incidents - + COUNT 1");
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(r->elements, 1);
	cr_assert_eq(r->element[0]->element[1]->elements, 6);
	cr_expect_str_eq(r->element[0]->element[1]->element[0]->str, "id");
	cr_expect_str_eq(r->element[0]->element[1]->element[1]->str, a->id);
	cr_expect_str_eq(r->element[0]->element[1]->element[3]->str, "1");
	cr_expect_str_eq(r->element[0]->element[1]->element[4]->str, "event");
	freeReplyObject(r);
	/* sites: S1 worst state of its open incident, S2 ok once closed */
	s = rs_str(c, "HGET tocsin:site:S1 state");
	cr_expect_str_eq(s, "dispatched");
	free(s);
	s = rs_str(c, "HGET tocsin:site:S1 incident");
	cr_expect_str_eq(s, a->id);
	free(s);
	s = rs_str(c, "HGET tocsin:site:S2 state");
	cr_expect_str_eq(s, "ok");
	free(s);
	cr_expect_eq(rs_int(c, "HEXISTS tocsin:site:S2 incident"), 0);

	/* a device's comm state, read as a user would */
	cr_expect_eq(redis_device_put(th.sink, "rect-1", "lost", T_T0, 0), 0);
	cr_expect_eq(redis_device_put(th.sink, "rect-1", "maybe", T_T0, 0),
	    -EINVAL);
	th_run(&th, th_nothing, 200);
	{
		char port[16];
		char *argv[] = { "redis-cli", "-p", port, "--raw", "HGET",
		    "tocsin:device:rect-1", "comm", NULL };
		struct proc_result pr;

		snprintf(port, sizeof(port), "%d", rs.port);
		cr_assert_eq(proc_run(argv, 5000, &pr), 0);
		cr_expect_eq(pr.status, 0);
		cr_expect_str_eq(pr.out, "lost\n");
		proc_result_free(&pr);
	}

	redis_stats(th.sink, &st);
	cr_expect_eq(st.errors, 0);
	cr_expect_eq(st.resyncs, 1);
	cr_expect_eq(st.inflight, 0);
	cr_expect_eq(st.records, th.j[0].n + th.j[1].n);
	cr_expect_eq(st.replies, st.commands);
	cr_expect_eq(st.older_skipped, 0);
	redisFree(c);
	th_fini(&th);
	rs_stop(&rs);
}

Test(redis, events)
{
	events_run(0);
}

/* The same, each record one guarded script (the correlators' form). */
Test(redis, events_guarded)
{
	events_run(1);
}

/*
 * Redis killed while records flow: offer() says -EAGAIN, the sink comes
 * back with backoff when the server does, resyncs, and after the dump
 * Redis holds the live set: a stale incident of a dumped shard is gone,
 * one of a shard that did not dump stays.
 */
static void
reconnect_run(int guard)
{
	struct rsrv rs;
	struct thost th;
	struct redis_config rc;
	struct pub_host host;
	struct tinc *in[6];
	struct redis_stats st;
	redisContext *c;
	redisReply *r;
	int64_t t0;

	rs_start(&rs);
	th_init(&th, &rs, &rc, &host);
	rc.seq_guard = (uint32_t)guard;
	cr_assert_eq(redis_new(th.loop, &rc, &host, &th.sink), 0);
	cr_assert(th_run(&th, th_healthy, 10000));
	for (unsigned i = 0; i < 6; i++) {
		in[i] = tinc_new(&th, i % 2, 1 + i / 2, i % 3 ? "S1" : "S2",
		    T_T0 + i * 1000);
		tinc_event(&th, in[i], CORR_EV_OPENED, CORR_OPEN,
		    T_T0 + 600000 + i);
	}
	cr_assert(th_run(&th, th_all_done, 10000));
	cr_assert_eq(redis_device_put(th.sink, "gw-7", "lost", T_T0, 12), 0);
	th_run(&th, th_nothing, 100);

	rs_kill(&rs);
	/* more change while Redis is away: journaled, offered later */
	tinc_event(&th, in[0], CORR_EV_ACKNOWLEDGED, CORR_ACKNOWLEDGED,
	    T_T0 + 900000);
	tinc_event(&th, in[1], CORR_EV_RESOLVED, CORR_RESOLVED, 0);
	tinc_event(&th, in[1], CORR_EV_CLOSED, CORR_CLOSED, 0);
	th.ready = 1;
	cr_assert(th_run(&th, th_unhealthy, 10000), "sink missed the loss");
	{
		struct tjournal *j = &th.j[0];
		size_t k = j->next < j->n ? j->next : j->n - 1;

		cr_expect_eq(th.sink->ops->offer(th.sink, tj_rec(&j->v[k])),
		    -EAGAIN);
	}
	th_run(&th, th_nothing, 600);	/* a few failed attempts */
	redis_stats(th.sink, &st);
	cr_expect_gt(st.connect_failures, 0);

	/* the server is back, empty, with stale entries planted before the
	 * sink gets to it (the loop does not run meanwhile) */
	rs_restart(&rs);
	cr_assert_not_null(c = rs_ctx(&rs));
	freeReplyObject(rq(c, "ZADD tocsin:incidents:open 5 INC-0-99"));
	freeReplyObject(rq(c, "ZADD tocsin:deadlines 5 INC-0-99"));
	freeReplyObject(rq(c, "HSET tocsin:incident:INC-0-99 site S9 state "
	    "open"));
	freeReplyObject(rq(c, "RPUSH tocsin:incident:INC-0-99:timeline x"));
	freeReplyObject(rq(c, "HSET tocsin:site:S9 state open incident "
	    "INC-0-99 inc:INC-0-99 open"));
	freeReplyObject(rq(c, "ZADD tocsin:incidents:open 5 INC-3-99"));
	t0 = tenv_mono_ms();
	cr_assert(th_run(&th, th_healthy, 10000), "no reconnect");
	cr_expect_lt(tenv_mono_ms() - t0, 2000, "reconnect took %lld ms",
	    (long long)(tenv_mono_ms() - t0));
	cr_assert(th_run(&th, th_all_done, 10000), "dump not done");
	th_run(&th, th_nothing, 200);	/* the stale removals land */
	cr_expect_eq(th.bad_done, 0);

	redis_stats(th.sink, &st);
	cr_expect_geq(st.reconnects, 1);
	cr_expect_eq(st.resyncs, 2);
	cr_expect_eq(st.stale_removed, 1);
	check_open_set(c, &th, "INC-3-99");
	for (unsigned i = 0; i < 6; i++)
		if (in[i]->live)
			check_incident(c, in[i]);
	/* device hashes are written again after a reconnect */
	{
		char *s = rs_str(c, "HGET tocsin:device:gw-7 rtt_ms");

		cr_expect_str_eq(s, "12");
		free(s);
	}
	cr_expect_eq(rs_int(c, "EXISTS tocsin:incident:INC-0-99"), 0);
	cr_expect_eq(rs_int(c, "EXISTS tocsin:incident:INC-0-99:timeline"), 0);
	r = rq(c, "ZSCORE tocsin:deadlines INC-0-99");
	cr_expect_eq(r->type, REDIS_REPLY_NIL);
	freeReplyObject(r);
	{
		char *s = rs_str(c, "HGET tocsin:site:S9 state");

		cr_expect_str_eq(s, "ok");
		free(s);
	}
	redisFree(c);
	th_fini(&th);
	rs_stop(&rs);
}

Test(redis, reconnect_resync)
{
	reconnect_run(0);
}

Test(redis, reconnect_resync_guarded)
{
	reconnect_run(1);
}

/*
 * A server, the sink on it (guarded or not) connected and its connect's
 * empty dump done, and a context to read Redis with.
 */
static redisContext *
th_connected(struct rsrv *rs, struct thost *th, struct redis_config *rc,
    struct pub_host *host, int guard)
{
	redisContext *c;

	rs_start(rs);
	th_init(th, rs, rc, host);
	rc->seq_guard = (uint32_t)guard;
	cr_assert_eq(redis_new(th->loop, rc, host, &th->sink), 0);
	cr_assert(th_run(th, th_healthy, 10000), "sink did not connect");
	th_run(th, th_nothing, 200);
	cr_assert_not_null(c = rs_ctx(rs));
	return c;
}

/* A copy of the model's incident as it is now, to journal later. */
static struct tinc *
tinc_ghost(const struct tinc *in)
{
	struct tinc *g = malloc(sizeof(*g));

	cr_assert_not_null(g);
	memcpy(g, in, sizeof(*g));
	return g;
}

/*
 * Two writers of one partition (docs/scaleout.md): records of an older
 * seq, as an old owner's that Redis reads after the new owner's, never
 * overwrite a newer state; their stream entries are still added.  The
 * same event again (a rewind's) pushes no step twice; a dump's state of
 * the same seq is written whole, and its stale check still removes.
 */
Test(redis, seq_guard_keeps_the_newest)
{
	struct rsrv rs;
	struct thost th;
	struct redis_config rc;
	struct pub_host host;
	struct tinc *a, *b, *ga;
	struct redis_stats st;
	redisContext *c;
	char *s;

	c = th_connected(&rs, &th, &rc, &host, 1);

	a = tinc_new(&th, 0, 1, "S1", T_T0);
	b = tinc_new(&th, 0, 2, "S2", T_T0 + 1000);
	tinc_event(&th, a, CORR_EV_OPENED, CORR_OPEN, T_T0 + 900000);
	tinc_event(&th, b, CORR_EV_OPENED, CORR_OPEN, T_T0 + 950000);
	tinc_event(&th, a, CORR_EV_ACKNOWLEDGED, CORR_ACKNOWLEDGED,
	    T_T0 + 3600000);
	ga = tinc_ghost(a);		/* a at seq 2, acknowledged */
	tinc_event(&th, a, CORR_EV_DISPATCHED, CORR_DISPATCHED,
	    T_T0 + 7200000);
	th.ready = 1;
	cr_assert(th_run(&th, th_all_done, 10000));
	check_incident(c, a);
	cr_expect_eq(rs_int(c, "XLEN tocsin:stream:incidents"), 4);

	/* the old owner's seq 2 lands after seq 3: state kept, entry added */
	tinc_rec(&th, ga, PUB_EVENT, CORR_EV_ACKNOWLEDGED, ga->nsteps - 1);
	/* the same seq 3 again: no second step */
	tinc_rec(&th, a, PUB_EVENT, CORR_EV_DISPATCHED, a->nsteps - 1);
	th.ready = 1;
	cr_assert(th_run(&th, th_all_done, 10000));
	check_incident(c, a);
	s = rs_str(c, "HGET tocsin:site:S1 state");
	cr_expect_str_eq(s, "dispatched");
	free(s);
	cr_expect_eq(rs_int(c, "XLEN tocsin:stream:incidents"), 6);
	redis_stats(th.sink, &st);
	cr_expect_eq(st.older_skipped, 2);

	/* a's timeline spoilt at the same seq and b closed where Redis does
	 * not see it: the next dump rewrites a's (a state of the same seq is
	 * written) and removes b */
	freeReplyObject(rq(c, "RPUSH tocsin:incident:%s:timeline junk",
	    a->id));
	b->live = 0;
	b->state = CORR_CLOSED;
	th.nshards = 1;
	th_answer_resync(&th);
	th.ready = 1;
	cr_assert(th_run(&th, th_all_done, 10000));
	th_run(&th, th_nothing, 200);	/* the stale removal lands */
	redis_stats(th.sink, &st);
	cr_expect_eq(st.stale_removed, 1);
	cr_expect_eq(st.older_skipped, 2);
	cr_expect_eq(st.errors, 0);
	check_incident(c, a);
	cr_expect_eq(rs_int(c, "EXISTS tocsin:incident:%s", b->id), 0);
	check_open_set(c, &th, NULL);
	s = rs_str(c, "HGET tocsin:site:S2 state");
	cr_expect_str_eq(s, "ok");
	free(s);
	cr_expect_eq(th.bad_done, 0);
	free(ga);
	redisFree(c);
	th_fini(&th);
	rs_stop(&rs);
}

/*
 * The scripts go by EVALSHA, loaded at the connect.  A server that loses
 * them (SCRIPT FLUSH here; a failover to a replica in life) answers
 * NOSCRIPT: the sink reconnects, loads them again and sends the records
 * again, and Redis ends as the model.
 */
Test(redis, lost_scripts_are_loaded_again)
{
	struct rsrv rs;
	struct thost th;
	struct redis_config rc;
	struct pub_host host;
	struct tinc *a;
	struct redis_stats st;
	redisContext *c;
	char *s;

	c = th_connected(&rs, &th, &rc, &host, 0);
	freeReplyObject(rq(c, "SCRIPT FLUSH"));
	a = tinc_new(&th, 0, 1, "S1", T_T0);
	tinc_event(&th, a, CORR_EV_OPENED, CORR_OPEN, T_T0 + 900000);
	tinc_event(&th, a, CORR_EV_ACKNOWLEDGED, CORR_ACKNOWLEDGED,
	    T_T0 + 3600000);
	th.ready = 1;
	cr_assert(th_run(&th, th_all_done, 10000), "records not all done");
	th_run(&th, th_nothing, 200);
	redis_stats(th.sink, &st);
	cr_expect_geq(st.reconnects, 1, "no reconnect after NOSCRIPT");
	cr_expect_geq(st.errors, 1);
	cr_expect_eq(th.bad_done, 0);
	check_incident(c, a);
	s = rs_str(c, "HGET tocsin:site:S1 state");
	cr_expect_str_eq(s, "acknowledged");
	free(s);
	redisFree(c);
	th_fini(&th);
	rs_stop(&rs);
}

/* A timeline longer than Lua's unpack takes at once, guarded. */
Test(redis, seq_guard_long_timeline)
{
	struct rsrv rs;
	struct thost th;
	struct redis_config rc;
	struct pub_host host;
	struct tjrec *t;
	redisContext *c;
	char *js;
	size_t n = 0, cap = 4000 * 16 + 512;
	const unsigned nsteps = 2500;

	c = th_connected(&rs, &th, &rc, &host, 1);
	t = tj_add(&th, 0, PUB_STATE);
	cr_assert_not_null(js = malloc(cap));
	n += (size_t)snprintf(js, cap, "{\"steps\":[");
	t->spans = calloc(nsteps, sizeof(*t->spans));
	for (unsigned i = 0; i < nsteps; i++) {
		if (i > 0)
			js[n++] = ',';
		t->spans[i].off = (uint32_t)n;
		t->spans[i].len = (uint32_t)snprintf(js + n, cap - n, "%u", i);
		n += t->spans[i].len;
	}
	n += (size_t)snprintf(js + n, cap - n, "]}");
	t->json = js;
	t->r.jsonlen = n;
	t->r.nsteps = nsteps;
	snprintf(t->id, sizeof(t->id), "INC-0-1");
	snprintf(t->site, sizeof(t->site), "S1");
	snprintf(t->area, sizeof(t->area), "north");
	t->r.state = CORR_OPEN;
	t->r.live = 1;
	t->r.seq = 9;
	t->r.at = t->r.opened_at = T_T0;
	th.ready = 1;
	cr_assert(th_run(&th, th_all_done, 10000));
	cr_expect_eq(rs_int(c, "LLEN tocsin:incident:INC-0-1:timeline"),
	    nsteps);
	{
		char *last = rs_str(c, "LINDEX tocsin:incident:INC-0-1:timeline "
		    "-1");

		cr_expect_str_eq(last, "2499");
		free(last);
	}
	redisFree(c);
	th_fini(&th);
	rs_stop(&rs);
}

static int
th_up(struct thost *th)
{
	return th->sink->ops->healthy(th->sink);
}

/*
 * A sink without a host (a poller's, docs/scaleout.md "Device keys"):
 * device hashes only.  It connects and writes them, asks no dump after a
 * reconnect (resyncs 0), so the incidents other instances keep in the
 * same Redis stay as they are, and it writes every device hash again.
 * A host missing a callback is refused.
 */
Test(redis, devices_only_without_a_host)
{
	struct rsrv rs;
	struct thost th;
	struct redis_config rc;
	struct pub_host host, half;
	struct pub_sink *bad = NULL;
	struct redis_stats st;
	redisContext *c;
	char *v;

	rs_start(&rs);
	th_init(&th, &rs, &rc, &host);
	half = host;
	half.resync = NULL;
	cr_expect_eq(redis_new(th.loop, &rc, &half, &bad), -EINVAL);
	cr_expect_null(bad);
	cr_assert_not_null(c = rs_ctx(&rs));
	freeReplyObject(rq(c, "ZADD tocsin:incidents:open 5 INC-0-7"));
	freeReplyObject(rq(c, "HSET tocsin:incident:INC-0-7 seq 3"));
	cr_assert_eq(redis_new(th.loop, &rc, NULL, &th.sink), 0);
	cr_assert(th_run(&th, th_up, 10000));
	cr_assert_eq(redis_device_put(th.sink, "gw-7", "lost", T_T0, 12), 0);
	th_run(&th, th_nothing, 200);
	v = rs_str(c, "HGET tocsin:device:gw-7 comm");
	cr_expect_str_eq(v, "lost");
	free(v);
	redisFree(c);

	/* back empty but for the other instance's incident: no stale check */
	rs_kill(&rs);
	cr_assert(th_run(&th, th_unhealthy, 10000), "sink missed the loss");
	rs_restart(&rs);
	cr_assert_not_null(c = rs_ctx(&rs));
	freeReplyObject(rq(c, "ZADD tocsin:incidents:open 5 INC-0-7"));
	cr_assert(th_run(&th, th_up, 10000), "no reconnect");
	th_run(&th, th_nothing, 300);
	v = rs_str(c, "HGET tocsin:device:gw-7 rtt_ms");
	cr_expect_str_eq(v, "12", "device hash not written again");
	free(v);
	cr_expect_eq(rs_int(c, "ZCARD tocsin:incidents:open"), 1);
	redis_stats(th.sink, &st);
	cr_expect_eq(st.resyncs, 0);
	cr_expect_eq(th.resyncs, 0);
	cr_expect_geq(st.reconnects, 1);
	redisFree(c);
	th_fini(&th);
	rs_stop(&rs);
}

/* A command refused (WRONGTYPE) is counted; later records still go out. */
Test(redis, reply_error)
{
	struct rsrv rs;
	struct thost th;
	struct redis_config rc;
	struct pub_host host;
	struct tinc *a, *b;
	struct redis_stats st;
	redisContext *c;

	rs_start(&rs);
	cr_assert_not_null(c = rs_ctx(&rs));
	freeReplyObject(rq(c, "SET tocsin:incident:INC-0-1 x"));
	th_init(&th, &rs, &rc, &host);
	cr_assert_eq(redis_new(th.loop, &rc, &host, &th.sink), 0);
	cr_assert(th_run(&th, th_healthy, 10000));
	a = tinc_new(&th, 0, 1, "S1", T_T0);
	b = tinc_new(&th, 0, 2, "S2", T_T0);
	tinc_event(&th, a, CORR_EV_OPENED, CORR_OPEN, 0);
	tinc_event(&th, b, CORR_EV_OPENED, CORR_OPEN, 0);
	tinc_event(&th, b, CORR_EV_ACKNOWLEDGED, CORR_ACKNOWLEDGED, 0);
	cr_assert(th_run(&th, th_all_done, 10000));
	redis_stats(th.sink, &st);
	cr_expect_geq(st.errors, 1);
	cr_expect_eq(th.bad_done, 0);
	check_incident(c, b);
	cr_expect(th.sink->ops->healthy(th.sink));
	redisFree(c);
	th_fini(&th);
	rs_stop(&rs);
}

static int
th_done_20k(struct thost *th)
{
	return th->j[0].done + th->j[1].done >= 20000 && th_all_done(th);
}

/* Not a benchmark: 20,000 events go out within a generous bound. */
Test(redis, throughput)
{
	struct rsrv rs;
	struct thost th;
	struct redis_config rc;
	struct pub_host host;
	struct redis_stats st;
	redisContext *c;
	int64_t t0, ms;

	rs_start(&rs);
	th_init(&th, &rs, &rc, &host);
	cr_assert_eq(redis_new(th.loop, &rc, &host, &th.sink), 0);
	cr_assert(th_run(&th, th_healthy, 10000));
	for (unsigned i = 0; i < 40; i++)
		tinc_new(&th, i % 2, 1 + i / 2, i % 4 ? "S1" : "S2",
		    T_T0 + i);
	/* 20,000 events, each incident's steps kept short (T_STEPS) */
	for (unsigned e = 0; e < 20000; e++) {
		struct tinc *in = th.incs[e % 40];

		if (in->nsteps == T_STEPS - 1)
			in->nsteps = 0;	/* model only; the list grows */
		tinc_event(&th, in, CORR_EV_UPDATED, CORR_OPEN,
		    T_T0 + 3600000 + e);
	}
	t0 = tenv_mono_ms();
	th.ready = 1;
	cr_assert(th_run(&th, th_done_20k, 60000), "20k events not done");
	ms = tenv_mono_ms() - t0;
	redis_stats(th.sink, &st);
	fprintf(stderr, "redis throughput: 20000 events in %lld ms (%.0f/s), "
	    "%llu commands\n", (long long)ms, 20000e3 / (double)(ms ? ms : 1),
	    (unsigned long long)st.commands);
	cr_expect_lt(ms, 30000);
	cr_expect_eq(st.errors, 0);
	cr_assert_not_null(c = rs_ctx(&rs));
	cr_expect_eq(rs_int(c, "XLEN tocsin:stream:incidents"), 20000);
	redisFree(c);
	th_fini(&th);
	rs_stop(&rs);
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void
stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* Connected with nothing to send: no wakeups, no CPU. */
Test(redis, idle)
{
	struct rsrv rs;
	struct thost th;
	struct redis_config rc;
	struct pub_host host;
	ev_timer stop;
	double cpu;

	rs_start(&rs);
	th_init(&th, &rs, &rc, &host);
	cr_assert_eq(redis_new(th.loop, &rc, &host, &th.sink), 0);
	cr_assert(th_run(&th, th_healthy, 10000));
	cr_assert(th_run(&th, th_all_done, 10000));
	cpu = cpu_s();
	ev_timer_init(&stop, stop_cb, 2.0, 0);
	ev_timer_start(th.loop, &stop);
	ev_run(th.loop, 0);
	cpu = cpu_s() - cpu;
	cr_expect_lt(cpu, 0.05, "idle sink used %.3f s CPU in 2 s", cpu);
	/* the dump's BEGIN, with nothing in flight, was done after offer() */
	cr_expect_eq(th.bad_done, 0);
	th_fini(&th);
	rs_stop(&rs);
}

static int
th_refused(struct thost *th)
{
	struct redis_stats st;

	redis_stats(th->sink, &st);
	return st.connect_failures >= 2;
}

/*
 * AUTH: the right password connects and writes; a wrong one is refused,
 * counted and retried with backoff, the sink stays unhealthy, and the
 * password appears in no log line.
 */
Test(redis, auth)
{
	static const char secret[] = "s3cret-Pw-xyzzy";
	struct rsrv rs;
	struct thost th;
	struct redis_config rc;
	struct pub_host host;
	struct redis_stats st;
	struct tinc *a;
	redisContext *c;
	char logpath[] = "/tmp/tocsin-redis-log-XXXXXX";
	char *logtext;
	int logfd;

	cr_assert_geq(logfd = mkstemp(logpath), 0);
	log_init(logfd, LOG_LVL_DEBUG);
	memset(&rs, 0, sizeof(rs));
	rs_start_pass(&rs, secret);

	th_init(&th, &rs, &rc, &host);
	rc.password = "wrong-password";
	cr_assert_eq(redis_new(th.loop, &rc, &host, &th.sink), 0);
	cr_assert(th_run(&th, th_refused, 10000), "no refusals counted");
	cr_expect(!th.sink->ops->healthy(th.sink));
	cr_expect_eq(th.resyncs, 0);
	redis_stats(th.sink, &st);
	cr_expect_geq(st.errors, 2);
	th.sink->ops->close(th.sink, 0);
	th.sink = NULL;

	rc.password = secret;
	cr_assert_eq(redis_new(th.loop, &rc, &host, &th.sink), 0);
	cr_assert(th_run(&th, th_healthy, 10000), "no connection with AUTH");
	a = tinc_new(&th, 0, 1, "S1", T_T0);
	tinc_event(&th, a, CORR_EV_OPENED, CORR_OPEN, 0);
	cr_assert(th_run(&th, th_all_done, 10000));
	cr_assert_not_null(c = rs_ctx(&rs));
	freeReplyObject(rq(c, "AUTH %s", secret));
	check_incident(c, a);
	redisFree(c);
	th_fini(&th);
	rs_stop(&rs);

	log_init(2, LOG_LVL_INFO);
	logtext = tenv_read_file(logpath);
	unlink(logpath);
	close(logfd);
	cr_expect(strstr(logtext, "handshake refused") != NULL, "log: %s",
	    logtext);
	cr_expect(strstr(logtext, secret) == NULL, "the password was logged");
	cr_expect(strstr(logtext, "wrong-password") == NULL,
	    "the password was logged");
	free(logtext);
}

/* A unix socket instead of host:port. */
Test(redis, unix_socket)
{
	struct rsrv rs;
	struct thost th;
	struct redis_config rc;
	struct pub_host host;
	struct tinc *a;
	redisContext *c;
	char path[96];

	memset(&rs, 0, sizeof(rs));
	rs.unixsock = 1;
	rs_start_pass(&rs, NULL);
	snprintf(path, sizeof(path), "%s/redis.sock", rs.dir);
	th_init(&th, &rs, &rc, &host);
	rc.unix_path = path;
	rc.port = 1;	/* must not be used */
	cr_assert_eq(redis_new(th.loop, &rc, &host, &th.sink), 0);
	cr_assert(th_run(&th, th_healthy, 10000), "no connection on %s",
	    path);
	a = tinc_new(&th, 0, 1, "S1", T_T0);
	tinc_event(&th, a, CORR_EV_OPENED, CORR_OPEN, T_T0 + 1000);
	cr_assert(th_run(&th, th_all_done, 10000));
	cr_assert_not_null(c = rs_ctx(&rs));
	check_incident(c, a);
	redisFree(c);
	th_fini(&th);
	rs_stop(&rs);
}

/*
 * A server that accepts the TCP connection and never answers (a hung
 * Redis, a black-holing proxy): the handshake times out after
 * connect_timeout, counted, retried; the sink is never healthy and the
 * loop never spins.
 */
Test(redis, connect_timeout)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	struct thost th;
	struct redis_config rc;
	struct pub_host host;
	struct redis_stats st;
	struct rsrv fake;
	int64_t t0;
	double cpu;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_geq(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 16), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	memset(&fake, 0, sizeof(fake));
	fake.port = ntohs(sa.sin_port);
	th_init(&th, &fake, &rc, &host);
	rc.connect_timeout_ms = 200;
	rc.backoff_min_ms = 50;
	rc.backoff_max_ms = 100;
	t0 = tenv_mono_ms();
	cpu = cpu_s();
	cr_assert_eq(redis_new(th.loop, &rc, &host, &th.sink), 0);
	cr_assert(th_run(&th, th_refused, 5000), "no handshake timeouts");
	cr_expect_geq(tenv_mono_ms() - t0, 200 + 25 + 200 - 20,
	    "timed out too soon");
	cr_expect(!th.sink->ops->healthy(th.sink));
	cr_expect_eq(th.resyncs, 0);
	redis_stats(th.sink, &st);
	cr_expect_eq(st.reconnects, 0);
	cr_expect_lt(cpu_s() - cpu, 0.2, "waiting used %.3f s CPU",
	    cpu_s() - cpu);
	th_fini(&th);
	close(fd);
}

/* close(s, timeout) waits for what is in flight and reports it done. */
Test(redis, close_flushes)
{
	struct rsrv rs;
	struct thost th;
	struct redis_config rc;
	struct pub_host host;
	struct tinc *a;
	redisContext *c;

	rs_start(&rs);
	th_init(&th, &rs, &rc, &host);
	cr_assert_eq(redis_new(th.loop, &rc, &host, &th.sink), 0);
	cr_assert(th_run(&th, th_healthy, 10000));
	cr_assert(th_run(&th, th_all_done, 10000));	/* the empty dump */
	a = tinc_new(&th, 0, 1, "S1", T_T0);
	for (unsigned i = 0; i < 50; i++)
		tinc_event(&th, a, CORR_EV_UPDATED, CORR_OPEN, 0);
	th_pump(&th);		/* all taken, none written: the loop is idle */
	cr_assert_eq(th.j[0].next, th.j[0].n);
	cr_assert_lt(th.j[0].done, th.j[0].n);
	th.sink->ops->close(th.sink, 5000);
	th.sink = NULL;
	cr_expect_eq(th.j[0].done, th.j[0].n, "close reported %llu of %zu",
	    (unsigned long long)th.j[0].done, th.j[0].n);
	cr_expect_eq(th.bad_done, 0);
	cr_assert_not_null(c = rs_ctx(&rs));
	check_incident(c, a);
	redisFree(c);
	th_fini(&th);
	rs_stop(&rs);
}
