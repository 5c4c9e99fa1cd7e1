/*
 * redis.c - see redis.h; docs/redis.md has the keys and the protocol.
 *
 * One connection, pipelined.  offer() turns a record into its commands
 * (redis_record_argv(), the one builder the bench uses too), appends them
 * to hiredis' output buffer with redisAsyncCommandArgv() (binary-safe
 * lengths, nothing formatted twice) and returns.  Each record has one
 * entry in a ring of records in flight {shard, pos, commands left}; Redis
 * answers in order on one connection, so every reply belongs to the head
 * entry, and when the head has no command left it is done: host->done()
 * in journal order per shard, whatever the shards' interleaving.  A record
 * with no command (PUB_REJECTED, PUB_ACTION, PUB_DUMP_BEGIN) is an entry
 * with nothing left, done when everything before it is; with nothing
 * before it, an ev_prepare does it in the loop's next iteration, because
 * done() inside offer() would report a record the pump has not yet seen
 * taken.
 *
 * No MULTI/EXEC.  A record's commands are idempotent given the record
 * order (HSET of the latest state, ZADD/ZREM, RPUSH of steps in order)
 * and a reader that catches a record half-applied sees the previous
 * state of some keys for a moment, which a NOC screen refreshes anyway;
 * MULTI/EXEC would add two commands and two replies to every record, and
 * a failed EXEC would not tell which command failed.  The two places that
 * need a read and a write together run as Lua scripts, which Redis runs
 * atomically and in pipeline order: the site hash (its worst open state
 * needs every open incident of the site) and the stale check that ends a
 * dump (it must see Redis exactly as the dump's commands left it); with
 * seq_guard (a correlator's) each incident record is one script too, its
 * commands run only over an older seq.  Scripts are loaded at every
 * connect and named by SHA1 (EVALSHA).
 *
 * Connection states: DOWN (backoff timer armed) -> CONNECTING (hiredis
 * non-blocking connect, connect timer armed) -> HANDSHAKE (AUTH, SELECT,
 * PING sent; the same timer bounds them) -> UP (host->resync(), ready()).
 * A context is lost once: rd_gone() runs from whichever hiredis callback
 * reports it first (connect error or disconnect) or from the connect
 * timer, and clears rd->ac, so callbacks of a dead context (hiredis calls
 * every pending reply callback with NULL as it frees one) see ac !=
 * rd->ac and return.  Nothing reconnects inside a hiredis callback: the
 * backoff timer does.
 *
 * Dumps.  Each shard's dumps in progress are kept by the journal position
 * of their PUB_DUMP_BEGIN, with the ids their PUB_STATE records (and live
 * events in between) named.  PUB_DUMP_END sends those ids to the stale
 * script; the set is freed when that record is done.  When the connection
 * breaks, the records in flight are rewound (host->rewind()), and the
 * dumps that began at or after a shard's rewind position are dropped
 * (they will be offered again); an older dump is kept, because its STATE
 * records that were already done will not be.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libev.h>

#include "correlator/corr.h"
#include "correlator/fleet.h"
#include "correlator/u64map.h"
#include "daemon/clock.h"
#include "daemon/deque.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "drivers/redis/redis.h"

#define RD_ERROR_LOG_MS	10000	/* error replies: one line per this, at most */
#define RD_STALE_LOG	20	/* stale ids named per dump, at most */

/* ---- settings ---- */

#define SET(key, kind, field, min, max, def, doc)			\
	{ key, SETTING_##kind, offsetof(struct redis_config, field),	\
	  min, max, def, doc }
#define S	1000u		/* ms */
const struct setting redis_settings[] = {
	SET("port", COUNT, port, 1, 65535, 6379, "TCP port"),
	SET("db", COUNT, db, 0, 1000, 0, "database number (`SELECT`)"),
	SET("stream_maxlen", COUNT, stream_maxlen, 100, 100000000, 100000,
	    "`stream:incidents` is trimmed to about this many entries "
	    "(`MAXLEN ~`)"),
	SET("closed_ttl", MS, closed_ttl_ms, 1 * S, 30u * 86400 * S,
	    86400 * S, "a closed incident's hash and timeline expire after "
	    "this"),
	SET("max_inflight", COUNT, max_inflight, 1, 1000000, 1000,
	    "records sent and not yet answered before the sink stops taking "
	    "more"),
	SET("backoff_min", MS, backoff_min_ms, 10, 3600 * S, 250,
	    "first reconnect delay; doubles per failure, with jitter"),
	SET("backoff_max", MS, backoff_max_ms, 10, 3600 * S, 10 * S,
	    "longest reconnect delay"),
	SET("connect_timeout", MS, connect_timeout_ms, 100, 60 * S, 3 * S,
	    "a connect, with its AUTH and SELECT, gives up after this"),
	{ NULL, 0, 0, 0, 0, 0, NULL }
};
#undef S
#undef SET

void
redis_config_defaults(struct redis_config *c)
{
	memset(c, 0, sizeof(*c));
	setting_defaults(redis_settings, c);
	c->host = "127.0.0.1";
	c->prefix = "tocsin:";
	c->id_prefix = "INC-";
}

int
redis_config_check(const struct redis_config *c, const char *prefix,
    setting_report_cb report, void *arg)
{
	int rc = setting_check(redis_settings, c, prefix, report, arg);

	if (c->backoff_min_ms > c->backoff_max_ms) {
		setting_report(report, arg, prefix, "backoff_min", "above "
		    "%sbackoff_max", prefix);
		rc = -EINVAL;
	}
	if ((c->host == NULL || c->host[0] == '\0') &&
	    (c->unix_path == NULL || c->unix_path[0] == '\0')) {
		setting_report(report, arg, prefix, "host", "neither host nor "
		    "unix socket set");
		rc = -EINVAL;
	}
	if (c->prefix == NULL) {
		setting_report(report, arg, prefix, "prefix", "not set");
		rc = -EINVAL;
	}
	if (c->id_prefix == NULL || c->id_prefix[0] == '\0') {
		setting_report(report, arg, prefix, "id_prefix", "not set");
		rc = -EINVAL;
	}
	return rc;
}

/* ---- the scripts ---- */

/*
 * How far from handled an incident in this state is: the site hash's
 * `state` is that of its open incident ranked lowest (waiting before
 * being handled before nearly done).
 */
static unsigned
rd_state_rank(enum corr_state s)
{
	switch (s) {
	case CORR_OPEN:
	case CORR_REOPENED:
		return 0;
	case CORR_ACKNOWLEDGED:
		return 1;
	case CORR_DISPATCHED:
		return 2;
	case CORR_ON_SITE:
		return 3;
	case CORR_CLEARED:
		return 4;
	case CORR_RESOLVED:
		return 5;
	default:
		return 6;
	}
}

/*
 * site(k, id, state, live): the site hash keeps one field inc:<id> =
 * state per open incident; `state` and `incident` name the one ranked
 * worst (ties: the smallest id), or state is "ok" and incident absent.
 */
#define RD_LUA_SITE							\
	"local function site(k,id,st,live)"				\
	" if live=='1' then redis.call('HSET',k,'inc:'..id,st)"	\
	" else redis.call('HDEL',k,'inc:'..id) end"			\
	" local h=redis.call('HGETALL',k) local R=%s local bs,bi,br"	\
	" for i=1,#h,2 do local f=h[i]"					\
	"  if string.sub(f,1,4)=='inc:' then"				\
	"   local r=R[h[i+1]] or 99 local fid=string.sub(f,5)"		\
	"   if br==nil or r<br or (r==br and fid<bi) then"		\
	"    br,bs,bi=r,h[i+1],fid end end end"				\
	" if bs then redis.call('HSET',k,'state',bs,'incident',bi)"	\
	" else redis.call('HSET',k,'state','ok')"			\
	" redis.call('HDEL',k,'incident') end end "

/* EVAL site 1 <site key> <id> <state> <live> */
#define RD_LUA_SITE_MAIN "site(KEYS[1],ARGV[1],ARGV[2],ARGV[3]) return 0"

/*
 * EVAL stale 0 <key prefix> <shard's id prefix "INC-3-"> <live id>...:
 * every incident of the shard in incidents:open or deadlines that the
 * dump did not name goes (hash, timeline, both sets, its site entry);
 * returns their ids.
 */
#define RD_LUA_STALE_MAIN						\
	"local p,sp=ARGV[1],ARGV[2] local live={}"			\
	" for i=3,#ARGV do live[ARGV[i]]=true end"			\
	" local cand,out={},{}"						\
	" for _,z in ipairs({'incidents:open','deadlines'}) do"	\
	"  for _,id in ipairs(redis.call('ZRANGE',p..z,0,-1)) do"	\
	"   if string.sub(id,1,#sp)==sp and not live[id] then"		\
	"    cand[id]=true end end end"					\
	" for id in pairs(cand) do"					\
	"  local hk=p..'incident:'..id"					\
	"  local s=redis.call('HGET',hk,'site')"			\
	"  redis.call('DEL',hk,hk..':timeline')"			\
	"  redis.call('ZREM',p..'incidents:open',id)"			\
	"  redis.call('ZREM',p..'deadlines',id)"			\
	"  if s and s~='' then site(p..'site:'..s,id,'','0') end"	\
	"  out[#out+1]=id end"						\
	" return out"

/*
 * EVAL guard 1 <hash key> <1: a dump's state, 0: an event> <seq> <n>
 * then n commands, each as <argc> <argv>...: the record's commands run
 * only if the hash holds no seq or an older one (a dump's state: or the
 * same); XADD runs always (the stream is at least once, per (id, seq));
 * SITE k id state live is the site function.  A timeline of more than
 * 1,000 steps is pushed 1,000 at a time (Lua's unpack has a limit).
 * Returns 1 (applied) or 0 (not newer: only its XADD ran).
 */
#define RD_LUA_GUARD_MAIN						\
	"local st,seq,n=ARGV[1],tonumber(ARGV[2]),tonumber(ARGV[3])"	\
	" local cur=tonumber(redis.call('HGET',KEYS[1],'seq')) local ok"	\
	" if cur then ok=seq>cur or (st=='1' and seq==cur)"		\
	" else ok=true end"						\
	" local i=4"							\
	" for c=1,n do local argc=tonumber(ARGV[i]) local a=i+1"	\
	"  local e,nm=a+argc-1,ARGV[a]"					\
	"  if nm=='XADD' then redis.call(unpack(ARGV,a,e))"		\
	"  elseif ok then"						\
	"   if nm=='SITE' then site(ARGV[a+1],ARGV[a+2],ARGV[a+3],ARGV[a+4])" \
	"   elseif nm=='RPUSH' and argc>1002 then"			\
	"    for j=a+2,e,1000 do"					\
	"     redis.call('RPUSH',ARGV[a+1],unpack(ARGV,j,math.min(j+999,e)))" \
	"    end"							\
	"   else redis.call(unpack(ARGV,a,e)) end end"			\
	"  i=e+1 end"							\
	" if ok then return 1 end return 0"

static char	 rd_lua_site[1536], rd_lua_stale[2560], rd_lua_guard[3072];
static pthread_once_t rd_lua_once = PTHREAD_ONCE_INIT;

/* Writes the scripts with the rank table made from corr_state_name(). */
static void
rd_lua_init(void)
{
	char ranks[512];
	size_t n = 0;

	n += (size_t)snprintf(ranks + n, sizeof(ranks) - n, "{");
	for (unsigned s = 0; s < CORR_STATE__COUNT; s++)
		n += (size_t)snprintf(ranks + n, sizeof(ranks) - n,
		    "['%s']=%u,", corr_state_name((enum corr_state)s),
		    rd_state_rank((enum corr_state)s));
	snprintf(ranks + n, sizeof(ranks) - n, "}");
	snprintf(rd_lua_site, sizeof(rd_lua_site), RD_LUA_SITE
	    RD_LUA_SITE_MAIN, ranks);
	snprintf(rd_lua_stale, sizeof(rd_lua_stale), RD_LUA_SITE
	    RD_LUA_STALE_MAIN, ranks);
	snprintf(rd_lua_guard, sizeof(rd_lua_guard), RD_LUA_SITE
	    RD_LUA_GUARD_MAIN, ranks);
}

const char *
redis_script_text(enum redis_script i)
{
	pthread_once(&rd_lua_once, rd_lua_init);
	switch (i) {
	case REDIS_SCRIPT_SITE:
		return rd_lua_site;
	case REDIS_SCRIPT_STALE:
		return rd_lua_stale;
	case REDIS_SCRIPT_GUARD:
		return rd_lua_guard;
	default:
		return NULL;
	}
}

/* ---- argument vectors ---- */

void
redis_argv_init(struct redis_argv *a)
{
	memset(a, 0, sizeof(*a));
}

void
redis_argv_fini(struct redis_argv *a)
{
	xfree(a->first);
	xfree(a->argc);
	xfree(a->argv);
	xfree(a->argvlen);
	xfree(a->argoff);
	xfree(a->buf);
	xfree(a->lines);
	memset(a, 0, sizeof(*a));
}

static void
av_reset(struct redis_argv *a)
{
	a->ncmd = a->nargs = 0;
	a->nest = 0;
	a->buflen = 0;
}

static unsigned av_slot(struct redis_argv *a);

static void
av_cmd(struct redis_argv *a)
{
	if (a->nest) {
		/* a line of the guard script: its argument count comes
		 * first, written when the script closes (av_guard_close) */
		if (a->nlines == a->caplines) {
			a->caplines = a->caplines ? a->caplines * 2 : 16;
			a->lines = xreallocarray(a->lines, a->caplines,
			    sizeof(*a->lines));
		}
		a->lines[a->nlines++] = av_slot(a);
		return;
	}
	if (a->ncmd == a->capcmd) {
		a->capcmd = a->capcmd ? a->capcmd * 2 : 16;
		a->first = xreallocarray(a->first, a->capcmd,
		    sizeof(*a->first));
		a->argc = xreallocarray(a->argc, a->capcmd, sizeof(*a->argc));
	}
	a->first[a->ncmd] = a->nargs;
	a->argc[a->ncmd++] = 0;
}

static unsigned
av_slot(struct redis_argv *a)
{
	if (a->nargs == a->capargs) {
		a->capargs = a->capargs ? a->capargs * 2 : 64;
		a->argv = xreallocarray(a->argv, a->capargs,
		    sizeof(*a->argv));
		a->argvlen = xreallocarray(a->argvlen, a->capargs,
		    sizeof(*a->argvlen));
		a->argoff = xreallocarray(a->argoff, a->capargs,
		    sizeof(*a->argoff));
	}
	a->argc[a->ncmd - 1]++;
	return a->nargs++;
}

/* An argument that points at the caller's bytes. */
static void
av_ext(struct redis_argv *a, const char *p, size_t len)
{
	unsigned i = av_slot(a);

	a->argv[i] = p;
	a->argvlen[i] = len;
	a->argoff[i] = SIZE_MAX;
}

static void
av_str(struct redis_argv *a, const char *s)
{
	av_ext(a, s, strlen(s));
}

/* Argument i formatted into the struct's buffer. */
static void
av_vset(struct redis_argv *a, unsigned i, const char *fmt, va_list ap)
{
	int n;

	for (;;) {
		size_t room = a->bufcap - a->buflen;
		va_list aq;

		va_copy(aq, ap);
		n = vsnprintf(a->buf + a->buflen, room, fmt, aq);
		va_end(aq);
		if (n >= 0 && (size_t)n < room)
			break;
		a->bufcap = a->bufcap * 2 + (n > 0 ? (size_t)n : 0) + 256;
		a->buf = xrealloc(a->buf, a->bufcap);
	}
	a->argoff[i] = a->buflen;
	a->argvlen[i] = (size_t)n;
	a->buflen += (size_t)n + 1;
}

static void av_fmt(struct redis_argv *a, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
static void av_setf(struct redis_argv *a, unsigned i, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* A new argument formatted into the struct's buffer. */
static void
av_fmt(struct redis_argv *a, const char *fmt, ...)
{
	unsigned i = av_slot(a);
	va_list ap;

	va_start(ap, fmt);
	av_vset(a, i, fmt, ap);
	va_end(ap);
}

/* Argument i, reserved earlier, formatted now. */
static void
av_setf(struct redis_argv *a, unsigned i, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	av_vset(a, i, fmt, ap);
	va_end(ap);
}

/* The buffer has stopped moving: point the own arguments into it. */
static void
av_finish(struct redis_argv *a)
{
	for (unsigned i = 0; i < a->nargs; i++)
		if (a->argoff[i] != SIZE_MAX)
			a->argv[i] = a->buf + a->argoff[i];
}

/* EVALSHA of script i once loaded, else EVAL of its text. */
static void
av_script(struct redis_argv *a, const struct redis_config *c,
    enum redis_script i)
{
	if (c->script_sha[i][0] != '\0') {
		av_str(a, "EVALSHA");
		av_str(a, c->script_sha[i]);
	} else {
		av_str(a, "EVAL");
		av_str(a, redis_script_text(i));
	}
}

/* HSET of the incident hash: the latest JSON and the key fields. */
static void
av_hash(struct redis_argv *a, const struct redis_config *c,
    const struct pub_rec *r)
{
	av_cmd(a);
	av_str(a, "HSET");
	av_fmt(a, "%sincident:%s", c->prefix, r->id);
	av_str(a, "json");
	av_ext(a, r->json, r->jsonlen);
	av_str(a, "id");
	av_str(a, r->id);
	av_str(a, "state");
	av_str(a, corr_state_name((enum corr_state)r->state));
	av_str(a, "severity");
	av_str(a, fleet_severity_name((enum severity)r->severity));
	av_str(a, "site");
	av_str(a, r->site != NULL ? r->site : "");
	av_str(a, "area");
	av_str(a, r->area != NULL ? r->area : "");
	av_str(a, "seq");
	av_fmt(a, "%" PRIu64, r->seq);
	av_str(a, "opened_at");
	av_fmt(a, "%" PRId64, r->opened_at);
	av_str(a, "updated_at");
	av_fmt(a, "%" PRId64, r->at);
	av_str(a, "deadline");
	av_fmt(a, "%" PRId64, r->live ? r->deadline : 0);
}

static void
av_steps(struct redis_argv *a, const struct redis_config *c,
    const struct pub_rec *r)
{
	if (r->nsteps == 0)
		return;
	av_cmd(a);
	av_str(a, "RPUSH");
	av_fmt(a, "%sincident:%s:timeline", c->prefix, r->id);
	for (uint32_t i = 0; i < r->nsteps; i++)
		av_ext(a, r->json + r->steps[i].off, r->steps[i].len);
}

/* incidents:open, deadlines, the site entry and, once closed, the TTLs. */
static void
av_sets(struct redis_argv *a, const struct redis_config *c,
    const struct pub_rec *r)
{
	av_cmd(a);
	if (r->live) {
		av_str(a, "ZADD");
		av_fmt(a, "%sincidents:open", c->prefix);
		av_fmt(a, "%" PRId64, r->opened_at);
	} else {
		av_str(a, "ZREM");
		av_fmt(a, "%sincidents:open", c->prefix);
	}
	av_str(a, r->id);
	av_cmd(a);
	if (r->live && r->deadline != 0) {
		av_str(a, "ZADD");
		av_fmt(a, "%sdeadlines", c->prefix);
		av_fmt(a, "%" PRId64, r->deadline);
	} else {
		av_str(a, "ZREM");
		av_fmt(a, "%sdeadlines", c->prefix);
	}
	av_str(a, r->id);
}

static void
av_site(struct redis_argv *a, const struct redis_config *c,
    const struct pub_rec *r)
{
	if (r->site == NULL || r->site[0] == '\0')
		return;		/* an area incident */
	av_cmd(a);
	if (c->seq_guard) {
		av_str(a, "SITE");	/* a line of the guard script */
	} else {
		av_script(a, c, REDIS_SCRIPT_SITE);
		av_str(a, "1");
	}
	av_fmt(a, "%ssite:%s", c->prefix, r->site);
	av_str(a, r->id);
	av_str(a, corr_state_name((enum corr_state)r->state));
	av_str(a, r->live ? "1" : "0");
}

static void
av_expire(struct redis_argv *a, const struct redis_config *c,
    const struct pub_rec *r)
{
	uint32_t ttl = (c->closed_ttl_ms + 999) / 1000;

	if (r->live)
		return;
	av_cmd(a);
	av_str(a, "EXPIRE");
	av_fmt(a, "%sincident:%s", c->prefix, r->id);
	av_fmt(a, "%u", ttl ? ttl : 1);
	av_cmd(a);
	av_str(a, "EXPIRE");
	av_fmt(a, "%sincident:%s:timeline", c->prefix, r->id);
	av_fmt(a, "%u", ttl ? ttl : 1);
}

/* The records redis_record_argv() sends as one guard script. */
static int
av_guarded(const struct redis_config *c, const struct pub_rec *r)
{
	return c->seq_guard && (r->kind == PUB_EVENT || r->kind == PUB_STATE);
}

/*
 * seq_guard: one EVAL of the guard script, whose arguments are the
 * record's commands, each after its argument count.  Opened, every
 * av_cmd() begins a line of it; av_guard_close() writes the counts.
 */
static void
av_guard_open(struct redis_argv *a, const struct redis_config *c,
    const struct pub_rec *r)
{
	av_cmd(a);
	av_script(a, c, REDIS_SCRIPT_GUARD);
	av_str(a, "1");
	av_fmt(a, "%sincident:%s", c->prefix, r->id);
	av_str(a, r->kind == PUB_STATE ? "1" : "0");
	av_fmt(a, "%" PRIu64, r->seq);
	a->nlines_at = av_slot(a);	/* the number of lines */
	a->nlines = 0;
	a->nest = 1;
}

static void
av_guard_close(struct redis_argv *a)
{
	a->nest = 0;
	for (unsigned k = 0; k < a->nlines; k++)
		av_setf(a, a->lines[k], "%u", (k + 1 < a->nlines ?
		    a->lines[k + 1] : a->nargs) - a->lines[k] - 1);
	av_setf(a, a->nlines_at, "%u", a->nlines);
}

int
redis_record_argv(const struct redis_config *c, const struct pub_rec *r,
    struct redis_argv *a)
{
	pthread_once(&rd_lua_once, rd_lua_init);
	av_reset(a);
	switch (r->kind) {
	case PUB_EVENT:
	case PUB_STATE:
		if (r->id == NULL || r->id[0] == '\0' || r->json == NULL ||
		    (r->nsteps > 0 && r->steps == NULL))
			return -EINVAL;
		for (uint32_t i = 0; i < r->nsteps; i++)
			if ((uint64_t)r->steps[i].off + r->steps[i].len >
			    r->jsonlen)
				return -EINVAL;
		if (av_guarded(c, r))
			av_guard_open(a, c, r);
		if (r->kind == PUB_STATE) {
			/* the whole timeline again: it replaces the list */
			av_cmd(a);
			av_str(a, "DEL");
			av_fmt(a, "%sincident:%s:timeline", c->prefix, r->id);
		}
		av_hash(a, c, r);
		av_steps(a, c, r);
		av_sets(a, c, r);
		if (r->kind == PUB_EVENT) {
			av_cmd(a);
			av_str(a, "XADD");
			av_fmt(a, "%sstream:incidents", c->prefix);
			av_str(a, "MAXLEN");
			av_str(a, "~");
			av_fmt(a, "%u", c->stream_maxlen);
			av_str(a, "*");
			av_str(a, "id");
			av_str(a, r->id);
			av_str(a, "seq");
			av_fmt(a, "%" PRIu64, r->seq);
			av_str(a, "event");
			av_ext(a, r->json, r->jsonlen);
		}
		av_site(a, c, r);
		av_expire(a, c, r);
		if (av_guarded(c, r))
			av_guard_close(a);
		break;
	case PUB_DUMP_END:
		/* the sink adds the dump's ids (rd_offer); alone, none */
		av_cmd(a);
		av_script(a, c, REDIS_SCRIPT_STALE);
		av_str(a, "0");
		av_str(a, c->prefix);
		av_fmt(a, "%s%u-", c->id_prefix, r->shard);
		break;
	default:
		break;
	}
	av_finish(a);
	return (int)a->ncmd;
}

/* ---- the sink ---- */

enum rd_state { RD_DOWN, RD_CONNECTING, RD_HANDSHAKE, RD_UP };

/* A record in flight. */
struct rd_entry {
	uint64_t	 pos;
	unsigned	 shard;
	uint32_t	 left;		/* commands not yet answered */
	uint8_t		 kind;		/* enum pub_kind */
};

/* A dump of one shard in progress. */
struct rd_dump {
	struct rd_dump	*next;		/* the shard's later dump */
	uint64_t	 begin;		/* pos of its PUB_DUMP_BEGIN */
	uint64_t	 end;		/* pos of its PUB_DUMP_END, or 0 */
	struct u64map	 ids;		/* incident number -> owned id string */
};

/* A device's last state (written again after each connect). */
struct rd_dev {
	char		*id;		/* owned */
	char		 comm[8];	/* "ok" | "lost" */
	int64_t		 last_poll_ms, rtt_ms;
};

struct rd {
	struct pub_sink	 base;		/* first: ops */
	struct ev_loop	*loop;
	struct pub_host	 host;
	struct redis_config cfg;	/* strings point at the copies below */
	char		*s_host, *s_unix, *s_pass, *s_prefix, *s_idprefix;
	redisAsyncContext *ac;		/* the live context, or NULL */
	enum rd_state	 state;
	ev_timer	 retry;		/* backoff before the next connect */
	ev_timer	 conn_to;	/* connect + handshake timeout */
	ev_prepare	 kick;		/* done() for records with no command
					 * at the head, out of offer() */
	unsigned	 attempt;	/* backoff exponent: failures in a row */
	unsigned	 tries;		/* connects tried since the last success */
	uint64_t	 rng;		/* jitter, xorshift64 */
	unsigned	 handshake_left; /* handshake replies awaited */
	int		 ever_up;	/* a connection has been made */
	int		 want_ready;	/* an offer was refused: call ready() */
	struct deque	 q;		/* struct rd_entry: records in flight,
					 * oldest first */
	struct u64map	 dumps;		/* shard -> struct rd_dump list */
	struct u64map	 devs;		/* FNV-1a(id) -> struct rd_dev */
	struct redis_argv av;		/* reused per record */
	struct redis_stats st;
	double		 err_logged;	/* ev_now of the last error line */
	uint64_t	 err_quiet;	/* errors not logged since */
	double		 fail_logged;	/* last connect failure line */
};

static void	rd_connect(struct rd *rd);
static void	rd_gone(struct rd *rd, const char *why, const char *err);

static uint64_t
rd_rand(struct rd *rd)
{
	rd->rng ^= rd->rng << 13;
	rd->rng ^= rd->rng >> 7;
	rd->rng ^= rd->rng << 17;
	return rd->rng;
}

/* The oldest record in flight, or NULL. */
static struct rd_entry *
rd_head(const struct rd *rd)
{
	return deque_len(&rd->q) > 0 ? deque_front(&rd->q) : NULL;
}

/* An error reply: counted; logged at most once per RD_ERROR_LOG_MS. */
static void
rd_error(struct rd *rd, const char *what, const char *err)
{
	double now = ev_now(rd->loop);
	const struct rd_entry *e = rd_head(rd);

	rd->st.errors++;
	if (rd->err_logged != 0 && (now - rd->err_logged) * 1000 <
	    RD_ERROR_LOG_MS) {
		rd->err_quiet++;
		return;
	}
	log_warnx("redis error reply cmd=%s err=\"%s\" shard=%d pos=%lld "
	    "errors=%llu not_logged=%llu (record done; carrying on)", what,
	    err, e ? (int)e->shard : -1, e ? (long long)e->pos : -1LL,
	    (unsigned long long)rd->st.errors,
	    (unsigned long long)rd->err_quiet);
	rd->err_logged = now;
	rd->err_quiet = 0;
}

/* ---- records in flight ---- */

static void
rd_push(struct rd *rd, const struct pub_rec *r, uint32_t left)
{
	struct rd_entry *e = deque_push_back(&rd->q);

	e->pos = r->pos;
	e->shard = r->shard;
	e->left = left;
	e->kind = r->kind;
}

static struct rd_dump *
rd_dump_list(struct rd *rd, unsigned shard)
{
	return u64map_get(&rd->dumps, shard);
}

static void
rd_dump_free(struct rd_dump *d)
{
	size_t it = 0;
	uint64_t k;
	void *v;

	while (u64map_next(&d->ids, &it, &k, &v))
		xfree(v);
	u64map_fini(&d->ids);
	xfree(d);
}

/* Frees the shard's dumps whose END is done (at or before pos). */
static void
rd_dump_done(struct rd *rd, unsigned shard, uint64_t pos)
{
	struct rd_dump *d = rd_dump_list(rd, shard), *next;

	while (d != NULL && d->end != 0 && d->end <= pos) {
		next = d->next;
		rd_dump_free(d);
		d = next;
	}
	if (d == NULL)
		u64map_del(&rd->dumps, shard);
	else
		u64map_put(&rd->dumps, shard, d);
}

/* Frees the shard's dumps that began at or after pos (rewound). */
static void
rd_dump_rewind(struct rd *rd, unsigned shard, uint64_t pos)
{
	struct rd_dump **dp, *d = rd_dump_list(rd, shard);

	if (d == NULL)
		return;
	for (dp = &d; *dp != NULL && (*dp)->begin < pos; dp = &(*dp)->next)
		(*dp)->end = (*dp)->end >= pos ? 0 : (*dp)->end;
	while (*dp != NULL) {
		struct rd_dump *gone = *dp;

		*dp = gone->next;
		rd_dump_free(gone);
	}
	if (d == NULL)
		u64map_del(&rd->dumps, shard);
	else
		u64map_put(&rd->dumps, shard, d);
}

/* The shard's dump a record at pos belongs to (began before, not ended). */
static struct rd_dump *
rd_dump_open(struct rd *rd, unsigned shard, uint64_t pos)
{
	struct rd_dump *d = rd_dump_list(rd, shard), *last = NULL;

	for (; d != NULL; d = d->next)
		last = d;
	if (last == NULL || last->begin >= pos ||
	    (last->end != 0 && last->end < pos))
		return NULL;
	return last;
}

/* Notes the dump records: BEGIN opens a dump, STATE and events fill it. */
static void
rd_dump_note(struct rd *rd, const struct pub_rec *r)
{
	struct rd_dump *d, *last;
	unsigned shard;
	uint64_t num;

	if (r->kind == PUB_DUMP_BEGIN) {
		rd_dump_rewind(rd, r->shard, r->pos);
		d = xcalloc(1, sizeof(*d));
		d->begin = r->pos;
		u64map_init(&d->ids);
		if ((last = rd_dump_list(rd, r->shard)) == NULL) {
			u64map_put(&rd->dumps, r->shard, d);
		} else {
			while (last->next != NULL)
				last = last->next;
			last->next = d;
		}
		return;
	}
	if ((r->kind != PUB_STATE && r->kind != PUB_EVENT) ||
	    (d = rd_dump_open(rd, r->shard, r->pos)) == NULL)
		return;
	if (corr_id_parse(rd->cfg.id_prefix, r->id, &shard, &num) != 0 ||
	    shard != r->shard) {
		log_warnx("redis dump record id=%s not of shard=%u (prefix "
		    "%s): left to the stale check", r->id, r->shard,
		    rd->cfg.id_prefix);
		return;
	}
	if (r->live) {
		if (u64map_get(&d->ids, num) == NULL)
			u64map_put(&d->ids, num, xstrdup(r->id));
	} else {
		xfree(u64map_del(&d->ids, num));
	}
}

/* Every record at the head with nothing left is done, in order. */
static void
rd_complete(struct rd *rd)
{
	struct rd_entry *h;

	while ((h = rd_head(rd)) != NULL && h->left == 0) {
		struct rd_entry e = *h;

		deque_pop_front(&rd->q);
		if (e.kind == PUB_DUMP_END)
			rd_dump_done(rd, e.shard, e.pos);
		rd->host.done(rd->host.arg, e.shard, e.pos);
	}
	ev_prepare_stop(rd->loop, &rd->kick);
	if (rd->want_ready && rd->state == RD_UP &&
	    deque_len(&rd->q) < (rd->cfg.max_inflight + 1) / 2) {
		rd->want_ready = 0;
		rd->host.ready(rd->host.arg);
	}
}

/* A reply for the head record came (not NULL, from the live context). */
static void
rd_advance(struct rd *rd)
{
	struct rd_entry *e = rd_head(rd);

	if (e == NULL || e->left == 0) {
		log_error("redis reply with no command in flight (a bug)");
		return;
	}
	e->left--;
	rd_complete(rd);
}

static void
rd_kick_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)revents;
	rd_complete(container_of(w, struct rd, kick));
}

/*
 * A NOSCRIPT error: the server lost the scripts loaded at the connect (a
 * SCRIPT FLUSH, a failover to a replica).  The connection is given up
 * like a broken one, so the next connect loads them again and the
 * records in flight are offered again.  1 if it was one.
 */
static int
rd_noscript(struct rd *rd, redisAsyncContext *ac, const redisReply *r)
{
	if (r->type != REDIS_REPLY_ERROR || strncmp(r->str, "NOSCRIPT", 8) !=
	    0)
		return 0;
	rd->st.errors++;
	log_warnx("redis has lost its scripts: reconnecting to load them "
	    "(the records in flight are sent again)");
	rd_gone(rd, "script", r->str);
	/* hiredis frees the context after the pending replies */
	redisAsyncDisconnect(ac);
	return 1;
}

/* The name a guarded record's reply carries (the one that counts). */
static const char rd_guard_name[] = "guard script";

/*
 * A record's command answered; privdata is its name, for the error line.
 * The guard script answers 0 for a record it found not newer.
 */
static void
rd_reply_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct rd *rd = ac->data;
	redisReply *r = reply;

	if (r == NULL || ac != rd->ac)
		return;		/* lost: rd_gone() rewinds the record */
	rd->st.replies++;
	if (rd_noscript(rd, ac, r))
		return;
	if (r->type == REDIS_REPLY_ERROR)
		rd_error(rd, privdata, r->str);
	else if (privdata == rd_guard_name && r->type ==
	    REDIS_REPLY_INTEGER && r->integer == 0)
		rd->st.older_skipped++;
	rd_advance(rd);
}

/* The stale script's reply: the ids it removed. */
static void
rd_stale_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct rd *rd = ac->data;
	redisReply *r = reply;
	unsigned shard = (unsigned)(uintptr_t)privdata;

	if (r == NULL || ac != rd->ac)
		return;
	rd->st.replies++;
	if (rd_noscript(rd, ac, r))
		return;
	if (r->type == REDIS_REPLY_ERROR) {
		rd_error(rd, "dump stale check", r->str);
	} else if (r->type == REDIS_REPLY_ARRAY) {
		rd->st.stale_removed += r->elements;
		for (size_t i = 0; i < r->elements && i < RD_STALE_LOG; i++)
			if (r->element[i]->type == REDIS_REPLY_STRING)
				log_info("redis dump removed stale incident "
				    "id=%s shard=%u", r->element[i]->str,
				    shard);
		if (r->elements > RD_STALE_LOG)
			log_info("redis dump removed stale incidents=%zu "
			    "shard=%u", r->elements, shard);
	}
	rd_advance(rd);
}

/* Replies of commands no record waits for (device hashes). */
static void
rd_aux_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct rd *rd = ac->data;
	redisReply *r = reply;

	(void)privdata;
	if (r == NULL || ac != rd->ac)
		return;
	rd->st.replies++;
	if (r->type == REDIS_REPLY_ERROR)
		rd_error(rd, "device", r->str);
}

/* ---- the connection ---- */

static void
rd_schedule(struct rd *rd)
{
	uint64_t d = rd->cfg.backoff_min_ms;
	double ms;

	for (unsigned i = 0; i < rd->attempt && d < rd->cfg.backoff_max_ms;
	    i++)
		d *= 2;
	if (d > rd->cfg.backoff_max_ms)
		d = rd->cfg.backoff_max_ms;
	if (rd->attempt < 64)
		rd->attempt++;
	/* jitter: anywhere in [d/2, d], so a fleet of daemons spreads out */
	ms = (double)(d / 2 + rd_rand(rd) % (d - d / 2 + 1));
	ev_timer_stop(rd->loop, &rd->retry);
	ev_timer_set(&rd->retry, ms / 1000.0, 0);
	ev_timer_start(rd->loop, &rd->retry);
}

/*
 * The context is lost (connect failed or timed out, connection broke,
 * handshake refused): forget it, rewind what was in flight, back off.
 * Runs once per context: it clears rd->ac.
 */
static void
rd_gone(struct rd *rd, const char *why, const char *err)
{
	struct u64map seen;
	double now = ev_now(rd->loop);
	int was_up = rd->state == RD_UP;

	rd->ac = NULL;
	rd->state = RD_DOWN;
	ev_timer_stop(rd->loop, &rd->conn_to);
	if (was_up) {
		rd->st.disconnects++;
		log_warnx("redis connection lost err=\"%s\" inflight=%zu "
		    "(rewinding; reconnecting)", err, deque_len(&rd->q));
	} else {
		rd->st.connect_failures++;
		if (rd->fail_logged == 0 || now - rd->fail_logged >= 10.0) {
			log_warnx("redis %s failed err=\"%s\" tries=%u "
			    "connect_failures=%llu (retrying with backoff)",
			    why, err, rd->tries,
			    (unsigned long long)rd->st.connect_failures);
			rd->fail_logged = now;
		}
	}
	/* each shard again from its first record not done */
	u64map_init(&seen);
	for (size_t i = 0; i < deque_len(&rd->q); i++) {
		struct rd_entry *e = deque_at(&rd->q, i);

		if (u64map_get(&seen, e->shard) != NULL)
			continue;
		u64map_put(&seen, e->shard, e);
		rd_dump_rewind(rd, e->shard, e->pos);
		rd->host.rewind(rd->host.arg, e->shard, e->pos);
	}
	u64map_fini(&seen);
	deque_clear(&rd->q);
	ev_prepare_stop(rd->loop, &rd->kick);
	rd->want_ready = 1;
	rd_schedule(rd);
}

static void
rd_up(struct rd *rd)
{
	size_t it = 0;
	uint64_t k;
	void *v;

	ev_timer_stop(rd->loop, &rd->conn_to);
	rd->state = RD_UP;
	rd->attempt = rd->tries = 0;
	if (rd->ever_up)
		rd->st.reconnects++;
	rd->ever_up = 1;
	if (rd->s_unix != NULL)
		log_info("redis connected path=%s reconnects=%llu", rd->s_unix,
		    (unsigned long long)rd->st.reconnects);
	else
		log_info("redis connected addr=%s:%u reconnects=%llu",
		    rd->s_host, rd->cfg.port,
		    (unsigned long long)rd->st.reconnects);
	rd->fail_logged = 0;
	/* device hashes are state: write them all again */
	while (u64map_next(&rd->devs, &it, &k, &v)) {
		struct rd_dev *d = v;

		rd->st.commands++;
		redisAsyncCommand(rd->ac, rd_aux_cb, NULL, "HSET %sdevice:%s "
		    "comm %s last_poll_ms %lld rtt_ms %lld", rd->cfg.prefix,
		    d->id, d->comm, (long long)d->last_poll_ms,
		    (long long)d->rtt_ms);
	}
	if (rd->host.resync == NULL)	/* devices only: nothing to dump */
		return;
	rd->st.resyncs++;
	rd->host.resync(rd->host.arg);
	rd->want_ready = 0;
	if (rd->state == RD_UP)
		rd->host.ready(rd->host.arg);
}

/* A handshake command refused: the connection is given up. */
static void
rd_handshake_fail(struct rd *rd, redisAsyncContext *ac, const char *cmd,
    const char *err)
{
	rd->st.errors++;
	log_warnx("redis handshake refused cmd=%s err=\"%s\"", cmd, err);
	rd_gone(rd, "handshake", err);
	/* hiredis frees the context after the pending replies */
	redisAsyncDisconnect(ac);
}

static void
rd_handshake_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct rd *rd = ac->data;
	redisReply *r = reply;

	if (r == NULL || ac != rd->ac)
		return;
	rd->st.replies++;
	if (r->type == REDIS_REPLY_ERROR) {
		rd_handshake_fail(rd, ac, privdata, r->str);
		return;
	}
	if (--rd->handshake_left == 0)
		rd_up(rd);
}

/* SCRIPT LOAD's answer: the script's SHA1, for EVALSHA. */
static void
rd_script_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct rd *rd = ac->data;
	redisReply *r = reply;
	unsigned i = (unsigned)(uintptr_t)privdata;

	if (r == NULL || ac != rd->ac)
		return;
	rd->st.replies++;
	if (r->type != REDIS_REPLY_STRING || r->len != 40) {
		rd_handshake_fail(rd, ac, "SCRIPT LOAD", r->type ==
		    REDIS_REPLY_ERROR ? r->str : "not a SHA1");
		return;
	}
	memcpy(rd->cfg.script_sha[i], r->str, 40);
	rd->cfg.script_sha[i][40] = '\0';
	if (--rd->handshake_left == 0)
		rd_up(rd);
}

static void
rd_connect_cb(const redisAsyncContext *ac, int status)
{
	struct rd *rd = ac->data;

	if (ac != rd->ac)
		return;
	if (status != REDIS_OK) {
		/* hiredis frees the context after this callback */
		rd_gone(rd, "connect", ac->errstr);
		return;
	}
	rd->state = RD_HANDSHAKE;
	rd->handshake_left = 0;
	/* the password goes to Redis only, never to a log line */
	if (rd->s_pass != NULL) {
		const char *argv[] = { "AUTH", rd->s_pass };
		size_t len[] = { 4, strlen(rd->s_pass) };

		redisAsyncCommandArgv(rd->ac, rd_handshake_cb, "AUTH", 2,
		    argv, len);
		rd->handshake_left++;
	}
	if (rd->cfg.db != 0) {
		redisAsyncCommand(rd->ac, rd_handshake_cb, "SELECT",
		    "SELECT %u", rd->cfg.db);
		rd->handshake_left++;
	}
	/* a server still loading its data answers -LOADING here */
	redisAsyncCommand(rd->ac, rd_handshake_cb, "PING", "PING");
	rd->handshake_left++;
	/* the scripts, again on every connect: a restarted server has none */
	for (unsigned i = 0; i < REDIS_NSCRIPTS; i++) {
		const char *text = redis_script_text((enum redis_script)i);
		const char *argv[] = { "SCRIPT", "LOAD", text };
		size_t len[] = { 6, 4, strlen(text) };

		redisAsyncCommandArgv(rd->ac, rd_script_cb, (void *)(uintptr_t)i,
		    3, argv, len);
		rd->handshake_left++;
	}
	rd->st.commands += rd->handshake_left;
}

static void
rd_disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct rd *rd = ac->data;

	if (ac != rd->ac)
		return;
	rd_gone(rd, "connection", status == REDIS_OK ? "closed" :
	    ac->errstr);
}

static void
rd_conn_to_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rd *rd = container_of(w, struct rd, conn_to);
	redisAsyncContext *ac = rd->ac;

	(void)loop;
	(void)revents;
	if (ac == NULL)
		return;
	rd_gone(rd, rd->state == RD_HANDSHAKE ? "handshake" : "connect",
	    "timed out");
	/* not inside a hiredis callback: free it now; its callbacks see
	 * ac != rd->ac */
	redisAsyncFree(ac);
}

static void
rd_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	rd_connect(container_of(w, struct rd, retry));
}

static void
rd_connect(struct rd *rd)
{
	redisAsyncContext *ac;

	rd->tries++;
	ac = rd->s_unix != NULL ? redisAsyncConnectUnix(rd->s_unix) :
	    redisAsyncConnect(rd->s_host, (int)rd->cfg.port);
	if (ac == NULL) {
		rd->state = RD_CONNECTING;
		rd_gone(rd, "connect", "out of memory");
		return;
	}
	if (ac->err) {
		rd->state = RD_CONNECTING;
		rd_gone(rd, "connect", ac->errstr);
		redisAsyncFree(ac);
		return;
	}
	ac->data = rd;
	rd->ac = ac;
	rd->state = RD_CONNECTING;
	/* attach first: setting the connect callback arms the write watcher */
	redisLibevAttach(rd->loop, ac);
	redisAsyncSetConnectCallback(ac, rd_connect_cb);
	redisAsyncSetDisconnectCallback(ac, rd_disconnect_cb);
	ev_timer_stop(rd->loop, &rd->conn_to);
	ev_timer_set(&rd->conn_to, rd->cfg.connect_timeout_ms / 1000.0, 0);
	ev_timer_start(rd->loop, &rd->conn_to);
}

/* ---- ops ---- */

static int
rd_offer(struct pub_sink *s, const struct pub_rec *r)
{
	struct rd *rd = container_of(s, struct rd, base);
	struct redis_argv *a = &rd->av;
	uintptr_t shard = r->shard;
	unsigned sent = 0;
	int n;

	if (rd->state != RD_UP || deque_len(&rd->q) >= rd->cfg.max_inflight) {
		rd->want_ready = 1;
		return -EAGAIN;
	}
	if ((n = redis_record_argv(&rd->cfg, r, a)) < 0) {
		/* the far end could never take it: done, counted */
		rd->st.errors++;
		log_warnx("redis record refused shard=%u pos=%llu kind=%u "
		    "(no id or json; done)", r->shard,
		    (unsigned long long)r->pos, r->kind);
		n = 0;
	} else {
		rd_dump_note(rd, r);
	}
	if (r->kind == PUB_DUMP_END && n > 0) {
		struct rd_dump *d = rd_dump_open(rd, r->shard, r->pos);
		size_t it = 0;
		uint64_t k;
		void *v;

		if (d != NULL) {
			d->end = r->pos;
			while (u64map_next(&d->ids, &it, &k, &v))
				av_str(a, v);
			av_finish(a);
		} else {
			/* an END with no BEGIN: no live set to compare */
			log_warnx("redis dump end with no begin shard=%u "
			    "pos=%llu (stale check skipped)", r->shard,
			    (unsigned long long)r->pos);
			n = 0;
		}
	}
	rd->st.records++;
	if (n == 0) {
		/* done after what is ahead of it; never inside offer(),
		 * where the pump has not yet counted it taken */
		rd_push(rd, r, 0);
		if (deque_len(&rd->q) == 1)
			ev_prepare_start(rd->loop, &rd->kick);
		return 0;
	}
	rd_push(rd, r, (uint32_t)n);
	for (unsigned i = 0; i < (unsigned)n; i++) {
		int rc;

		if (r->kind == PUB_DUMP_END)
			rc = redisAsyncCommandArgv(rd->ac, rd_stale_cb,
			    (void *)shard, (int)a->argc[i],
			    a->argv + a->first[i], a->argvlen + a->first[i]);
		else if (av_guarded(&rd->cfg, r))
			rc = redisAsyncCommandArgv(rd->ac, rd_reply_cb,
			    (void *)(uintptr_t)rd_guard_name, (int)a->argc[i],
			    a->argv + a->first[i], a->argvlen + a->first[i]);
		else
			/* the command's name is a literal (av_str): it
			 * outlives the reply, for the error line */
			rc = redisAsyncCommandArgv(rd->ac, rd_reply_cb,
			    (void *)(uintptr_t)a->argv[a->first[i]],
			    (int)a->argc[i], a->argv + a->first[i],
			    a->argvlen + a->first[i]);
		if (rc != REDIS_OK)
			break;
		sent++;
	}
	rd->st.commands += sent;
	if (sent < (unsigned)n) {
		/* the context is going (never while UP): start again */
		redisAsyncContext *ac = rd->ac;

		((struct rd_entry *)deque_back(&rd->q))->left = sent;
		rd_gone(rd, "send", "context refused a command");
		if (!(ac->c.flags & REDIS_IN_CALLBACK))
			redisAsyncFree(ac);
		else
			redisAsyncDisconnect(ac);
	}
	return 0;
}

static int
rd_healthy(const struct pub_sink *s)
{
	const struct rd *rd = container_of(s, struct rd, base);

	return rd->state == RD_UP;
}

/* Drives hiredis by hand (not the loop) until nothing is in flight. */
static void
rd_flush(struct rd *rd, int timeout_ms)
{
	int64_t end = clock_mono_ms() + timeout_ms;

	while (rd->ac != NULL && rd->state == RD_UP && deque_len(&rd->q) > 0) {
		redisLibevEvents *e = rd->ac->ev.data;
		struct pollfd p = { rd->ac->c.fd, POLLIN, 0 };
		int64_t left;

		rd_complete(rd);
		if (deque_len(&rd->q) == 0)
			break;
		left = end - clock_mono_ms();
		if (left <= 0)
			break;
		if (e != NULL && e->writing)
			p.events |= POLLOUT;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		if (p.revents & POLLOUT)
			redisAsyncHandleWrite(rd->ac);
		if (rd->ac != NULL && (p.revents & (POLLIN | POLLERR |
		    POLLHUP)))
			redisAsyncHandleRead(rd->ac);
	}
}

static void
rd_close(struct pub_sink *s, int timeout_ms)
{
	struct rd *rd;
	size_t it = 0;
	uint64_t k;
	void *v;

	if (s == NULL)
		return;
	rd = container_of(s, struct rd, base);
	if (timeout_ms > 0)
		rd_flush(rd, timeout_ms);
	if (deque_len(&rd->q) > 0)
		log_info("redis closing with records=%zu not done (offered "
		    "again at the next start)", deque_len(&rd->q));
	ev_timer_stop(rd->loop, &rd->retry);
	ev_timer_stop(rd->loop, &rd->conn_to);
	ev_prepare_stop(rd->loop, &rd->kick);
	if (rd->ac != NULL) {
		redisAsyncContext *ac = rd->ac;

		rd->ac = NULL;
		rd->state = RD_DOWN;
		redisAsyncFree(ac);
	}
	while (u64map_next(&rd->dumps, &it, &k, &v)) {
		struct rd_dump *d = v, *next;

		for (; d != NULL; d = next) {
			next = d->next;
			rd_dump_free(d);
		}
	}
	u64map_fini(&rd->dumps);
	it = 0;
	while (u64map_next(&rd->devs, &it, &k, &v)) {
		struct rd_dev *d = v;

		xfree(d->id);
		xfree(d);
	}
	u64map_fini(&rd->devs);
	redis_argv_fini(&rd->av);
	deque_free(&rd->q);
	xfree(rd->s_host);
	xfree(rd->s_unix);
	if (rd->s_pass != NULL) {
		/* do not leave the secret in freed memory */
		memset(rd->s_pass, 0, strlen(rd->s_pass));
		xfree(rd->s_pass);
	}
	xfree(rd->s_prefix);
	xfree(rd->s_idprefix);
	xfree(rd);
}

static const struct pub_ops rd_ops = {
	.name = "redis",
	.offer = rd_offer,
	.healthy = rd_healthy,
	.close = rd_close,
};

static char *
rd_dup(const char *s)
{
	return s != NULL && s[0] != '\0' ? xstrdup(s) : NULL;
}

int
redis_new(struct ev_loop *loop, const struct redis_config *cfg,
    const struct pub_host *host, struct pub_sink **out)
{
	struct rd *rd;

	if (loop == NULL || cfg == NULL || out == NULL || (host != NULL &&
	    (host->ready == NULL || host->done == NULL ||
	    host->rewind == NULL || host->resync == NULL)) ||
	    ((cfg->host == NULL || cfg->host[0] == '\0') &&
	    (cfg->unix_path == NULL || cfg->unix_path[0] == '\0')) ||
	    cfg->prefix == NULL || cfg->id_prefix == NULL ||
	    cfg->max_inflight == 0)
		return -EINVAL;
	pthread_once(&rd_lua_once, rd_lua_init);
	rd = xcalloc(1, sizeof(*rd));
	deque_init(&rd->q, sizeof(struct rd_entry));
	rd->base.ops = &rd_ops;
	rd->loop = loop;
	if (host != NULL)
		rd->host = *host;	/* else devices only: no pump */
	rd->cfg = *cfg;
	rd->s_host = rd_dup(cfg->host);
	rd->s_unix = rd_dup(cfg->unix_path);
	rd->s_pass = rd_dup(cfg->password);
	rd->s_prefix = xstrdup(cfg->prefix);
	rd->s_idprefix = xstrdup(cfg->id_prefix);
	rd->cfg.host = rd->s_host;
	rd->cfg.unix_path = rd->s_unix;
	rd->cfg.password = rd->s_pass;
	rd->cfg.prefix = rd->s_prefix;
	rd->cfg.id_prefix = rd->s_idprefix;
	rd->rng = cfg->seed ? cfg->seed : (uint64_t)time(NULL) ^
	    ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)rd;
	if (rd->rng == 0)
		rd->rng = 1;
	u64map_init(&rd->dumps);
	u64map_init(&rd->devs);
	redis_argv_init(&rd->av);
	ev_timer_init(&rd->retry, rd_retry_cb, 0, 0);
	ev_timer_init(&rd->conn_to, rd_conn_to_cb, 0, 0);
	ev_prepare_init(&rd->kick, rd_kick_cb);
	*out = &rd->base;
	/* called outside the loop's callbacks: its clock may be old, and
	 * the connect timer is armed from it */
	ev_now_update(loop);
	rd_connect(rd);
	return 0;
}

void
redis_stats(const struct pub_sink *s, struct redis_stats *out)
{
	const struct rd *rd = container_of(s, struct rd, base);

	*out = rd->st;
	out->inflight = deque_len(&rd->q);
}

/* FNV-1a, 64 bits: the device table's key. */
static uint64_t
rd_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
	return h;
}

int
redis_device_put(struct pub_sink *s, const char *device_id,
    const char *comm, int64_t last_poll_ms, int64_t rtt_ms)
{
	struct rd *rd;
	struct rd_dev *d;
	uint64_t h;

	if (s == NULL || device_id == NULL || device_id[0] == '\0' ||
	    comm == NULL || (strcmp(comm, "ok") != 0 &&
	    strcmp(comm, "lost") != 0))
		return -EINVAL;
	rd = container_of(s, struct rd, base);
	h = rd_hash(device_id);
	if ((d = u64map_get(&rd->devs, h)) == NULL) {
		d = xcalloc(1, sizeof(*d));
		d->id = xstrdup(device_id);
		u64map_put(&rd->devs, h, d);
	} else if (strcmp(d->id, device_id) != 0) {
		/* two ids, one hash: the later one is written, not kept */
		log_warnx("redis device id=%s shares its hash with id=%s: "
		    "not rewritten after reconnects", device_id, d->id);
		d = NULL;
	}
	if (d != NULL) {
		snprintf(d->comm, sizeof(d->comm), "%s", comm);
		d->last_poll_ms = last_poll_ms;
		d->rtt_ms = rtt_ms;
	}
	if (rd->state == RD_UP) {
		rd->st.commands++;
		redisAsyncCommand(rd->ac, rd_aux_cb, NULL, "HSET %sdevice:%s "
		    "comm %s last_poll_ms %lld rtt_ms %lld", rd->cfg.prefix,
		    device_id, comm, (long long)last_poll_ms,
		    (long long)rtt_ms);
	}
	return 0;
}
