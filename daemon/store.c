/*
 * store.c - see store.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "correlator/incjson.h"
#include "correlator/sla.h"
#include "daemon/clock.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/ring.h"
#include "correlator/snapbuf.h"
#include "daemon/store.h"

#define STORE_LOG_MS	10000	/* a refusing disk logs this often */

struct store {
	struct journal	*j;
	struct fleet	*fleet;
	struct store_config c;
	unsigned	 shard;
	struct incjson_buf jb;		/* event JSON, reused */
	struct snapbuf	 rb;		/* record payload, reused */
	/* the input being handled */
	uint64_t	 in_pos;	/* its record */
	int32_t		 in_kpart;	/* an action's tocsin.actions source */
	int64_t		 in_koffset;
	uint64_t	 in_events;	/* events when it began */
	const struct router_input *in;	/* the input being handled, or NULL */
	uint8_t		 in_state;	/* its action's event: state, seq */
	uint64_t	 in_seq;
	struct store_reply *replies;	/* reply tokens awaiting the write */
	size_t		 nreplies, capreplies;
	uint64_t	 events;	/* EVENT and REJECTED records written */
	int64_t		 tick_kept;	/* time of the last tick kept */
	/* restore */
	int		 replay;	/* 1: events come from replayed inputs */
	uint64_t	 replay_skip;	/* of those, this many are journaled */
	/* durability */
	int64_t		 last_sync;	/* clock_mono_ms() */
	int64_t		 last_err_log;
	uint64_t	 notified;	/* durable end last announced */
	_Atomic uint64_t n_records, n_bytes, n_syncs, n_errors, n_snaps,
			 snap_bytes, held;
	_Atomic int	 healthy;
	uint64_t	 restored_inputs, restored_events, restore_us;
};

/* A reply token and its input's outcome, reported once written. */
struct store_reply {
	void		*reply;
	struct store_outcome o;
	char		*reason;	/* owned copy, or NULL */
};

/*
 * ---- payload codec: correlator/snapbuf (the one bounded byte codec) ----
 * Fixed fields are their bytes as the machine holds them (little-endian:
 * x86-64 and arm64, checked below); strings are snapbuf strings, and the
 * ids publishers use in place are written with their NUL (put_cstr).
 */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
    "journal records are little-endian");

#define PUTB(b, v)	do { __typeof__(v) v_ = (v); \
			     snapbuf_put_bytes((b), &v_, sizeof(v_)); \
			} while (0)
#define PUT(st, v)	PUTB(&(st)->rb, v)
#define GET(r, v)	snapbuf_get_bytes((r), &(v), sizeof(v))

/* A string into buf (len bytes, NUL-terminated), or NULL if absent or too
 * long (the latter recorded as a failure). */
static const char *
get_str(struct snapbuf_rd *r, char *buf, size_t len)
{
	uint32_t n;
	const char *p = snapbuf_get_view(r, &n);

	if (p == NULL)
		return NULL;
	if (n >= len) {
		snapbuf_fail(r, "string too long");
		return NULL;
	}
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

/* A string written with its NUL, for readers that use it in place. */
static void
put_cstrb(struct snapbuf *b, const char *s)
{
	uint32_t n = (uint32_t)strlen(s) + 1;

	PUTB(b, n);
	snapbuf_put_bytes(b, s, n);
}

static void
put_cstr(struct store *st, const char *s)
{
	put_cstrb(&st->rb, s);
}

static const char *
get_cstr(struct snapbuf_rd *r)
{
	uint32_t n;
	const char *p = snapbuf_get_view(r, &n);

	if (p == NULL || n == 0 || p[n - 1] != '\0') {
		snapbuf_fail(r, "not a NUL-terminated string");
		return NULL;
	}
	return p;
}

/* ---- writing ---- */

static uint64_t
store_put(struct store *st, enum store_type type)
{
	uint64_t pos;

	/*
	 * Never a record the journal's reader takes for a corrupt tail (and
	 * cuts at the next open, with every record after it): the encoders
	 * keep within JOURNAL_REC_MAX (store_event_encode leaves a huge
	 * timeline's oldest steps out, inputs' strings are bounded); one
	 * that did not is refused here, counted and logged.
	 */
	if (st->rb.n > JOURNAL_REC_MAX) {
		ring_add_owned(&st->n_errors, 1);
		log_warnx("journal shard=%u: a record of %zu bytes (type %d) "
		    "is over the %u one holds; not written", st->shard,
		    st->rb.n, (int)type, JOURNAL_REC_MAX);
		st->rb.n = 0;
		return journal_tell(st->j);
	}
	pos = journal_append(st->j, (uint8_t)type, st->rb.p, st->rb.n);

	ring_add_owned(&st->n_records, 1);
	ring_add_owned(&st->n_bytes, st->rb.n + JOURNAL_HDR);
	st->rb.n = 0;
	return pos;
}

static uint64_t
store_input(struct store *st, const struct router_input *in)
{
	const struct fleet *f = st->fleet;

	st->rb.n = 0;
	switch (in->kind) {
	case ROUTER_IN_ALARM:
		PUT(st, in->ev->at_ms);
		PUT(st, in->ev->value);
		PUT(st, in->ev->point);
		PUT(st, in->ev->edge);
		PUT(st, in->ev->severity);
		/*
		 * Names with their NULs, so that tocsin.alarms' publisher
		 * uses them in place (restore's get_str() reads the NUL as
		 * the end of the string it is); then site and area as they
		 * were when it happened, for that publisher alone.
		 */
		put_cstr(st, f->devices[in->ev->device].id);
		put_cstr(st, f->codes[in->ev->code]);
		put_cstr(st, f->sites[in->ev->site].id);
		put_cstr(st, f->areas[f->sites[in->ev->site].area]);
		return store_put(st, STORE_ALARM);
	case ROUTER_IN_ACTION:
		PUT(st, in->act->at);
		PUT(st, in->act->type);
		PUT(st, in->kpart);
		PUT(st, in->koffset);
		snapbuf_put_str(&st->rb, in->act->incident);
		snapbuf_put_str(&st->rb, in->act->actor);
		snapbuf_put_str(&st->rb, in->act->note);
		PUT(st, in->act->satisfaction);
		return store_put(st, STORE_ACTION);
	case ROUTER_IN_MAINT_ADD: {
		const struct corr_maint *m = in->maint;
		uint8_t is_site = m->site != FLEET_NONE;

		PUT(st, in->id);
		PUT(st, m->start_ms);
		PUT(st, m->end_ms);
		PUT(st, is_site);
		snapbuf_put_str(&st->rb, is_site ? f->sites[m->site].id : f->areas[m->area]);
		snapbuf_put_str(&st->rb, m->reason);
		snapbuf_put_str(&st->rb, m->actor);
		return store_put(st, STORE_MAINT_ADD);
	}
	case ROUTER_IN_MAINT_DEL:
		PUT(st, in->id);
		PUT(st, in->now);
		return store_put(st, STORE_MAINT_DEL);
	case ROUTER_IN_COMPLAINT: {
		const struct corr_complaint *c = in->complaint;

		PUT(st, c->at);
		PUT(st, c->severity);
		snapbuf_put_str(&st->rb, f->sites[c->site].id);
		snapbuf_put_str(&st->rb, c->customer);
		snapbuf_put_str(&st->rb, c->text);
		snapbuf_put_str(&st->rb, c->actor);
		return store_put(st, STORE_COMPLAINT);
	}
	default: {
		uint8_t catch_up = 0;

		PUT(st, in->now);
		PUT(st, catch_up);
		return store_put(st, STORE_TICK);
	}
	}
}

/* The earliest deadline of a clock still running toward its breach. */
static int64_t
store_deadline(const struct corr_event *ev)
{
	int64_t best = 0;

	if (ev->sla == NULL || !ev->inc->has_sla)
		return 0;
	for (unsigned k = 0; k < SLA__NCLOCKS; k++) {
		struct sla_clock_view v;

		sla_clock_view(ev->sla, &ev->inc->sla, (enum sla_clock_kind)k,
		    ev->at, &v);
		if (v.has_deadline && !v.breached && !v.met &&
		    v.state == SLA_CLOCK_RUNNING && !v.paused &&
		    (best == 0 || v.deadline_ms < best))
			best = v.deadline_ms;
	}
	return best;
}

void
store_event_encode(struct snapbuf *b, struct incjson_buf *jb,
    const struct fleet *f, const struct corr_event *ev)
{
	const struct corr_incident *ci = ev->inc;
	uint8_t live = ci->state != CORR_CLOSED;
	struct corr_event cev = *ev;
	uint32_t len, cut = 0;
	size_t start = b->n, fixed, need;

	PUTB(b, ev->type);
	PUTB(b, ci->state);
	PUTB(b, ci->severity);
	PUTB(b, live);
	PUTB(b, ev->seq);
	PUTB(b, ev->at);
	PUTB(b, ci->opened_at);
	PUTB(b, store_deadline(ev));
	put_cstrb(b, ci->id);
	/* a complaint is at its site too (Redis site hash, the view's filter) */
	put_cstrb(b, ci->kind != CORR_KIND_AREA ? f->sites[ci->site].id : "");
	put_cstrb(b, f->areas[ci->area]);
	/* what the record holds besides the JSON and its spans: the fields
	 * above, the JSON's length, the spans' count, the cut */
	fixed = b->n - start + 3 * sizeof(uint32_t);
	jb->spans_on = 1;	/* the record carries its steps' places */
	for (;;) {
		uint32_t k = 0;

		jb->n = 0;
		len = (uint32_t)incjson_append(jb, f, &cev) - 1; /* no '\n' */
		need = fixed + len + jb->nspans * sizeof(*jb->spans);
		if (need <= JOURNAL_REC_MAX || jb->nspans == 0)
			break;
		/*
		 * A timeline too large for one record (a state's is whole
		 * and has no bound): its oldest steps that do not fit are
		 * left out of this record, and the record says how many
		 * (the JSON's timeline_len still counts them).  A step takes
		 * its bytes, its comma and its span.
		 */
		while (k < jb->nspans && need > JOURNAL_REC_MAX) {
			need -= jb->spans[k].len + 1 + sizeof(*jb->spans);
			k++;
		}
		cev.first_step += k;
		cut += k;
	}
	PUTB(b, len);
	snapbuf_put_bytes(b, jb->p, len);
	PUTB(b, jb->nspans);
	snapbuf_put_bytes(b, jb->spans, jb->nspans * sizeof(*jb->spans));
	if (cut > 0)		/* absent: 0, as in older records */
		PUTB(b, cut);
}

static void
store_put_event(struct store *st, const struct corr_event *ev,
    enum store_type type)
{
	st->rb.n = 0;
	store_event_encode(&st->rb, &st->jb, st->fleet, ev);
	store_put(st, type);
}

/*
 * An output (event or rejection) is about to be journaled: 0 when a restore
 * regenerated one the journal already holds (it is not written again), 1
 * to write it; counts it.
 */
static int
store_output(struct store *st)
{
	if (st->replay) {
		if (st->replay_skip > 0) {
			st->replay_skip--;
			return 0;
		}
		st->restored_events++;
	}
	st->events++;
	return 1;
}

void
store_event(struct store *st, const struct corr_event *ev)
{
	/* the event of an action that awaits its reply: its state and seq */
	if (st->in != NULL && st->in->reply != NULL &&
	    st->in->kind == ROUTER_IN_ACTION &&
	    strcmp(ev->inc->id, st->in->act->incident) == 0) {
		st->in_state = ev->inc->state;
		st->in_seq = ev->seq;
	}
	if (!store_output(st))
		return;
	store_put_event(st, ev, STORE_EVENT);
}

void
store_rejected(struct store *st, const struct corr_action *a,
    const char *reason)
{
	json_t *o;
	char *json;

	if (!store_output(st))
		return;
	/* the tocsin.actions.rejected value: the action and why */
	o = json_pack("{s:s, s:s?, s:s, s:s?, s:s?}", "reason", reason,
	    "incident", a->incident,
	    "action", corr_action_name((enum corr_action_type)a->type),
	    "actor", a->actor, "note", a->note);
	json = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	st->rb.n = 0;
	PUT(st, st->in_kpart);
	PUT(st, st->in_koffset);
	put_cstr(st, a->incident != NULL ? a->incident : "");
	snapbuf_put_str(&st->rb, json != NULL ? json : "{\"reason\":\"unencodable\"}");
	free(json);
	store_put(st, STORE_REJECTED);
}

/* ---- durability ---- */

static void
store_notify(struct store *st)
{
	uint64_t d = journal_durable(st->j);

	if (d != st->notified) {
		st->notified = d;
		if (st->c.durable != NULL)
			st->c.durable(st->c.durable_arg, st->shard);
	}
}

/* A write the disk refused (rc): counted, and logged when it begins and
 * every STORE_LOG_MS after; the records stay in the journal's buffer. */
static void
store_refused(struct store *st, int rc, int64_t now)
{
	ring_add_owned(&st->n_errors, 1);
	atomic_store(&st->held, journal_buffered(st->j));
	if (atomic_exchange(&st->healthy, 0) ||
	    now - st->last_err_log >= STORE_LOG_MS) {
		st->last_err_log = now;
		log_warnx("journal shard=%u: write failed: %s; %zu bytes held "
		    "in memory (limit %u), retried every %d ms", st->shard,
		    strerror(-rc), journal_buffered(st->j), STORE_BUFFER_MAX,
		    STORE_RETRY_MS);
	}
}

/* Writes, and syncs when due.  0, or -errno (records kept). */
static int
store_flush(struct store *st, int idle)
{
	int64_t now = clock_mono_ms();
	int sync, rc;

	if (journal_buffered(st->j) == 0 &&
	    journal_durable(st->j) == journal_written(st->j))
		return 0;
	sync = st->c.fsync == STORE_FSYNC_ALWAYS || idle ||
	    now - st->last_sync >= (int64_t)st->c.fsync_ms;
	rc = journal_flush(st->j, sync);
	if (rc < 0) {
		store_refused(st, rc, now);
		return rc;
	}
	if (!atomic_exchange(&st->healthy, 1))
		log_info("journal shard=%u: writing again", st->shard);
	atomic_store(&st->held, 0);
	if (sync) {
		st->last_sync = now;
		ring_add_owned(&st->n_syncs, 1);
	}
	store_notify(st);
	return 0;
}

/* A snapshot of e into the journal now: 0 or -errno (logged). */
static int
store_snapshot_now(struct store *st, struct corr_engine *e)
{
	char *p;
	size_t n;
	int rc;

	if (corr_engine_save(e, &p, &n) < 0)
		return -EINVAL;
	if ((rc = journal_snapshot(st->j, p, n)) < 0)
		log_warnx("journal shard=%u: snapshot failed: %s", st->shard,
		    strerror(-rc));
	else {
		ring_add_owned(&st->n_snaps, 1);
		atomic_store(&st->snap_bytes, n);
	}
	xfree(p);
	store_notify(st);
	return rc < 0 ? rc : 0;
}

int
store_reload(struct store *st, struct corr_engine *e, struct fleet *fleet)
{
	st->fleet = fleet;
	return store_snapshot_now(st, e);
}

static void
store_compact(struct store *st, struct corr_engine *e)
{
	if (st->c.snapshot_bytes == 0 || journal_tell(st->j) -
	    journal_snapshot_pos(st->j) < st->c.snapshot_bytes)
		return;
	(void)store_snapshot_now(st, e);
}

int
store_sync(struct store *st)
{
	return store_flush(st, 1);
}

/* ---- router hooks (shard thread) ---- */

static struct store *
store_of(void *arg, unsigned shard)
{
	return ((struct store **)arg)[shard];
}

static void
store_hook_begin(void *arg, unsigned shard, struct corr_engine *e,
    const struct router_input *in)
{
	struct store *st = store_of(arg, shard);

	st->in_pos = store_input(st, in);
	st->in_events = st->events;
	st->in_kpart = in->kpart;
	st->in_koffset = in->koffset;
	st->in = in;
	st->in_state = 0;
	st->in_seq = 0;
}

/* Keeps in's reply token with its outcome until its records are written. */
static void
store_reply_keep(struct store *st, const struct router_input *in)
{
	struct store_reply *r;

	if (st->nreplies == st->capreplies) {
		st->capreplies = st->capreplies ? st->capreplies * 2 : 16;
		st->replies = xreallocarray(st->replies, st->capreplies,
		    sizeof(*st->replies));
	}
	r = &st->replies[st->nreplies++];
	memset(r, 0, sizeof(*r));
	r->reply = in->reply;
	store_outcome_of(in, &r->o);
	/* in's buffer goes with the message: keep a copy to the report */
	r->o.reason = "";
	if (in->rc != 0 && in->reason[0] != '\0')
		r->reason = xstrdup(in->reason);
	r->o.state = st->in_state;
	r->o.seq = st->in_seq;
}

void
store_outcome_of(const struct router_input *in, struct store_outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->kind = in->kind;
	o->rc = in->rc;
	o->reason = in->rc != 0 ? in->reason : "";
	o->id = in->id;
	if (in->kind == ROUTER_IN_COMPLAINT && in->rc == 0)
		memcpy(o->incident, in->opened, sizeof(o->incident));
}

/* Everything is written: every kept token gets its outcome. */
static void
store_reply_report(struct store *st)
{
	if (st->nreplies == 0 || journal_buffered(st->j) != 0)
		return;
	for (size_t i = 0; i < st->nreplies; i++) {
		struct store_reply *r = &st->replies[i];

		if (r->reason != NULL)
			r->o.reason = r->reason;
		if (st->c.replied != NULL)
			st->c.replied(st->c.replied_arg, r->reply, &r->o);
		xfree(r->reason);
	}
	st->nreplies = 0;
}

static void
store_hook_end(void *arg, unsigned shard, struct corr_engine *e,
    const struct router_input *in)
{
	struct store *st = store_of(arg, shard);

	/* a tick that fired nothing changed nothing worth replaying; one
	 * every tick_keep_ms is kept all the same, as stream time */
	if (in->kind == ROUTER_IN_TICK) {
		if (st->events != st->in_events || (st->c.tick_keep_ms > 0 &&
		    in->now - st->tick_kept >= (int64_t)st->c.tick_keep_ms))
			st->tick_kept = in->now;
		else
			journal_undo(st->j, st->in_pos);
	}
	if (in->reply != NULL)
		store_reply_keep(st, in);
	st->in = NULL;
}

static int
store_hook_batch(void *arg, unsigned shard, struct corr_engine *e, int idle)
{
	struct store *st = store_of(arg, shard);

	if (store_flush(st, idle) < 0) {
		/* over the bound: hold the shard (no input taken) until the
		 * disk takes the records again */
		while (journal_buffered(st->j) > STORE_BUFFER_MAX) {
			struct timespec ts = { STORE_RETRY_MS / 1000,
			    (STORE_RETRY_MS % 1000) * 1000000L };

			nanosleep(&ts, NULL);
			if (store_flush(st, 1) == 0)
				break;
		}
		store_reply_report(st);
		return STORE_RETRY_MS;
	}
	store_reply_report(st);
	store_compact(st, e);
	if (idle && journal_durable(st->j) != journal_written(st->j))
		return (int)st->c.fsync_ms;
	return -1;
}

static void
store_dump_one(void *arg, const struct corr_event *ev)
{
	struct store *st = arg;

	store_put_event(st, ev, STORE_STATE);
}

static void
store_hook_dump(void *arg, unsigned shard, struct corr_engine *e,
    int64_t now)
{
	struct store *st = store_of(arg, shard);

	st->rb.n = 0;
	PUT(st, now);
	store_put(st, STORE_DUMP_BEGIN);
	corr_engine_dump(e, now, store_dump_one, st);
	st->rb.n = 0;
	PUT(st, now);
	store_put(st, STORE_DUMP_END);
}

/* ---- a dump straight to a memory sink ---- */

void
store_dumper_init(struct store_dumper *d)
{
	snapbuf_init(&d->rec);
	incjson_buf_init(&d->jb);
	d->jb.acct_on = 1;	/* handed over: the sink reads the account */
	d->spans.v = NULL;
	d->spans.cap = 0;
}

void
store_dumper_fini(struct store_dumper *d)
{
	snapbuf_fini(&d->rec);
	incjson_buf_fini(&d->jb);
	FREE_NULL(d->spans.v);
	d->spans.cap = 0;
}

int
store_offer_payload(struct store_dumper *d, struct pub_sink *s,
    unsigned shard, uint64_t pos, uint8_t type, const void *p, size_t n,
    const struct incjson_scan *acct, const struct incjson_span *cust)
{
	struct journal_rec rec = { .type = type, .p = p, .n = (uint32_t)n,
	    .pos = pos, .next = pos };
	struct pub_rec pr;

	if (store_pub_rec(&rec, shard, &pr, &d->spans) != 1)
		return -EINVAL;
	pr.scan = acct;
	pr.cust = acct != NULL ? cust : NULL;
	(void)s->ops->offer(s, &pr);
	return 0;
}

/* A dump's bound: PUB_DUMP_BEGIN or PUB_DUMP_END. */
static void
store_offer_bound(struct pub_sink *s, unsigned shard, uint64_t pos,
    uint8_t kind, int64_t at)
{
	struct pub_rec pr;

	memset(&pr, 0, sizeof(pr));
	pr.kind = kind;
	pr.pos = pr.next = pos;
	pr.shard = shard;
	pr.at = at;
	pr.kpart = -1;
	pr.koffset = -1;
	(void)s->ops->offer(s, &pr);
}

struct store_dumping {
	struct store_dumper *d;
	struct pub_sink	*s;
	const struct fleet *f;
	unsigned	 shard;
	uint64_t	 pos, passed;
};

static void
store_dump_sink_one(void *arg, const struct corr_event *ev)
{
	struct store_dumping *w = arg;
	struct incjson_buf *jb = &w->d->jb;

	w->d->rec.n = 0;
	store_event_encode(&w->d->rec, jb, w->f, ev);
	if (store_offer_payload(w->d, w->s, w->shard, w->pos, STORE_STATE,
	    w->d->rec.p, w->d->rec.n, jb->acct_ok ? &jb->acct : NULL,
	    jb->acct_cust) != 0)
		w->passed++;
}

uint64_t
store_dump_sink(struct store_dumper *d, struct pub_sink *s, unsigned shard,
    uint64_t pos, const struct corr_engine *e, const struct fleet *f,
    int64_t at)
{
	struct store_dumping w = { d, s, f, shard, pos, 0 };

	store_offer_bound(s, shard, pos, PUB_DUMP_BEGIN, at);
	if (e != NULL)
		corr_engine_dump(e, at, store_dump_sink_one, &w);
	store_offer_bound(s, shard, pos, PUB_DUMP_END, at);
	return w.passed;
}

const struct router_hooks store_hooks = {
	.begin = store_hook_begin,
	.end = store_hook_end,
	.batch = store_hook_batch,
	.dump = store_hook_dump,
};

/* ---- open, restore ---- */

/* A store not yet attached to its journal (store_attach). */
static struct store *
store_new(const struct store_config *c, unsigned shard, struct fleet *fleet)
{
	struct store *st = xcalloc(1, sizeof(*st));

	st->c = *c;
	st->fleet = fleet;
	st->shard = shard;
	st->in_kpart = -1;
	st->in_koffset = -1;
	atomic_store(&st->healthy, 1);
	incjson_buf_init(&st->jb);
	return st;
}

/*
 * Opens st's journal (cutting a torn tail, logged), handing every record
 * it checks to checked(arg, ...) when that is not NULL.  0, or -errno with
 * a reason in err.
 */
static int
store_attach(struct store *st, void (*checked)(void *, struct journal *,
    const struct journal_rec *), void *arg, char *err, size_t errlen)
{
	struct journal_config jc = { .dir = st->c.dir,
	    .segment_bytes = st->c.segment_bytes, .checked = checked,
	    .checked_arg = arg };
	struct journal_info info;
	int rc;

	if ((rc = journal_open(&st->j, &jc, &info, err, errlen)) < 0)
		return rc;
	if (info.cut > 0)
		log_warnx("journal shard=%u: %s %" PRIu64 " bytes off the "
		    "tail: %s (a crash mid-write; everything before it is "
		    "kept)", st->shard, info.refused ? "cutting, once the "
		    "disk takes writes," : "cut", info.cut, info.why);
	if (info.refused) {
		/* restored from what is there; the records wait in memory
		 * as they do for a disk that refuses later (store_flush) */
		atomic_store(&st->healthy, 0);
		st->last_err_log = clock_mono_ms();
		log_warnx("journal shard=%u: %s cannot be written: %s; "
		    "restoring from what it holds, correlating on, records "
		    "held in memory (limit %u) and retried every %d ms",
		    st->shard, st->c.dir, strerror(info.refused),
		    STORE_BUFFER_MAX, STORE_RETRY_MS);
	}
	st->notified = journal_durable(st->j);
	return 0;
}

struct store *
store_open(const struct store_config *c, unsigned shard, struct fleet *fleet,
    char *err, size_t errlen)
{
	struct store *st = store_new(c, shard, fleet);

	if (store_attach(st, NULL, NULL, err, errlen) < 0) {
		store_close(st);
		return NULL;
	}
	return st;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	/* tokens never written (the disk refused to the end) are dropped:
	 * their owner answers them itself (http_stop) */
	for (size_t i = 0; i < st->nreplies; i++)
		xfree(st->replies[i].reason);
	xfree(st->replies);
	incjson_buf_fini(&st->jb);
	journal_close(st->j);
	snapbuf_fini(&st->rb);
	xfree(st);
}

struct journal *
store_journal(struct store *st)
{
	return st->j;
}

static int
store_is_input(uint8_t type)
{
	return type >= STORE_ALARM && type <= STORE_COMPLAINT;
}

/*
 * Feeds one journaled input to e.  0, or -EINVAL when it does not decode
 * or names what the fleet no longer has (skipped, counted by the caller).
 */
static int
store_replay(struct store *st, struct corr_engine *e,
    const struct journal_rec *rec)
{
	struct snapbuf_rd r;
	const struct fleet *f = st->fleet;
	char s1[CORR_NOTE_MAX + 1], s2[CORR_NOTE_MAX + 1],
	    s3[CORR_NOTE_MAX + 1];
	uint32_t idx;

	snapbuf_rd_init(&r, rec->p, rec->n);
	switch (rec->type) {
	case STORE_ALARM: {
		struct alarm_event ev;
		const char *dev, *code;
		int c;

		memset(&ev, 0, sizeof(ev));
		GET(&r, ev.at_ms);
		GET(&r, ev.value);
		GET(&r, ev.point);
		GET(&r, ev.edge);
		GET(&r, ev.severity);
		dev = get_str(&r, s1, sizeof(s1));
		code = get_str(&r, s2, sizeof(s2));
		if (snapbuf_ok(&r) != 0 || dev == NULL || code == NULL ||
		    (idx = fleet_find(f, FLEET_DEVICE, dev)) == FLEET_NONE ||
		    (c = fleet_find_code(f, code)) < 0)
			return -EINVAL;
		ev.device = idx;
		ev.site = f->devices[idx].site;
		ev.code = (uint16_t)c;
		return corr_engine_alarm(e, &ev) < 0 ? -EINVAL : 0;
	}
	case STORE_ACTION: {
		struct corr_action a;
		int32_t kpart;
		int64_t koff;

		memset(&a, 0, sizeof(a));
		GET(&r, a.at);
		GET(&r, a.type);
		GET(&r, kpart);
		GET(&r, koff);
		st->in_kpart = kpart;
		st->in_koffset = koff;
		a.incident = get_str(&r, s1, sizeof(s1));
		a.actor = get_str(&r, s2, sizeof(s2));
		a.note = get_str(&r, s3, sizeof(s3));
		/* older records end before the satisfaction */
		if (snapbuf_ok(&r) == 0 && snapbuf_left(&r) > 0)
			GET(&r, a.satisfaction);
		if (snapbuf_ok(&r) != 0 || a.incident == NULL)
			return -EINVAL;
		(void)corr_engine_action(e, &a, NULL, 0);
		return 0;
	}
	case STORE_MAINT_ADD: {
		struct corr_maint m;
		uint32_t id;
		uint8_t is_site;
		const char *name;

		memset(&m, 0, sizeof(m));
		GET(&r, id);
		GET(&r, m.start_ms);
		GET(&r, m.end_ms);
		GET(&r, is_site);
		name = get_str(&r, s1, sizeof(s1));
		m.reason = get_str(&r, s2, sizeof(s2));
		/* older records end before the actor */
		if (snapbuf_ok(&r) == 0 && snapbuf_left(&r) > 0)
			m.actor = get_str(&r, s3, sizeof(s3));
		if (snapbuf_ok(&r) != 0 || name == NULL)
			return -EINVAL;
		m.site = m.area = FLEET_NONE;
		if (is_site)
			m.site = fleet_find(f, FLEET_SITE, name);
		else
			m.area = fleet_find(f, FLEET_AREA, name);
		if (m.site == FLEET_NONE && m.area == FLEET_NONE)
			return -EINVAL;
		return corr_engine_maint_put(e, id, &m) < 0 ? -EINVAL : 0;
	}
	case STORE_MAINT_DEL: {
		uint32_t id;
		int64_t now;

		GET(&r, id);
		GET(&r, now);
		if (snapbuf_ok(&r) != 0)
			return -EINVAL;
		corr_engine_advance(e, now);
		(void)corr_engine_maint_remove(e, id);
		return 0;
	}
	case STORE_COMPLAINT: {
		struct corr_complaint c;
		char s4[CORR_NOTE_MAX + 1];
		const char *site;

		memset(&c, 0, sizeof(c));
		GET(&r, c.at);
		GET(&r, c.severity);
		site = get_str(&r, s1, sizeof(s1));
		c.customer = get_str(&r, s2, sizeof(s2));
		c.text = get_str(&r, s3, sizeof(s3));
		c.actor = get_str(&r, s4, sizeof(s4));
		if (snapbuf_ok(&r) != 0 || site == NULL ||
		    (c.site = fleet_find(f, FLEET_SITE, site)) == FLEET_NONE)
			return -EINVAL;
		/* one the engine refused was refused live too */
		(void)corr_engine_complaint(e, &c, NULL, 0, NULL, 0);
		return 0;
	}
	case STORE_TICK: {
		int64_t now;
		uint8_t catch_up;

		GET(&r, now);
		GET(&r, catch_up);
		if (snapbuf_ok(&r) != 0)
			return -EINVAL;
		if (catch_up)
			corr_engine_catch_up(e, now);
		else
			corr_engine_advance(e, now);
		return 0;
	}
	}
	return -EINVAL;
}

/* Replays one input at restore; skip: its outputs already journaled. */
static void
store_restore_feed(struct store *st, struct corr_engine *e,
    const struct journal_rec *rec, uint64_t skip, uint64_t *bad)
{
	st->replay_skip = skip;
	st->in_pos = rec->pos;
	st->in_kpart = -1;
	st->in_koffset = -1;
	if (store_replay(st, e, rec) < 0)
		(*bad)++;
	st->restored_inputs++;
}

/*
 * A restore in progress, fed the records from the snapshot on in order:
 * by journal_open() as it checks them (store_open_all: the journal is read
 * once), or by a reader after it (store_restore).  The snapshot goes into
 * the engine before the first record.  Every input is fed with its
 * outputs not journaled again (they are there), except the last one's
 * that are missing: an input is held until the next input shows it was
 * not the last, counting the outputs after it, and the last is fed at
 * the end (store_rs_finish) with that count.
 */
struct store_rs {
	struct store	*st;
	struct corr_engine *e;
	int		 loaded;	/* the snapshot is in e, or there is none */
	int		 rc;		/* 0, or the snapshot's failure */
	char		 err[400];	/* why, when rc < 0 */
	struct journal_rec held;	/* the last input so far (p NULL: none) */
	void		*heldbuf;	/* held.p: a copy */
	size_t		 heldcap;
	uint64_t	 outs_after_last; /* outputs journaled after it */
	uint64_t	 bad;		/* inputs that did not replay */
	int64_t		 t0;		/* clock_mono_us() at the start */
};

static void
store_rs_init(struct store_rs *rs, struct store *st, struct corr_engine *e)
{
	memset(rs, 0, sizeof(*rs));
	rs->st = st;
	rs->e = e;
	rs->t0 = clock_mono_us();
	st->replay = 1;
}

/* journal_snapshot_use()'s use: the snapshot into engine arg. */
static int
store_rs_load(void *arg, const void *p, size_t n, char *err, size_t errlen)
{
	return corr_engine_load(arg, p, n, err, errlen);
}

/* Loads the snapshot of j into the engine, the first time. */
static void
store_rs_snapshot(struct store_rs *rs, struct journal *j)
{
	if (rs->loaded)
		return;
	rs->loaded = 1;
	if (journal_snapshot_pos(j) == 0)
		return;
	rs->rc = journal_snapshot_use(j, store_rs_load, rs->e, rs->err,
	    sizeof(rs->err));
}

/* One record (journal_config.checked of store_open_all's journals). */
static void
store_rs_rec(void *arg, struct journal *j, const struct journal_rec *rec)
{
	struct store_rs *rs = arg;

	store_rs_snapshot(rs, j);
	if (rs->rc < 0)
		return;
	if (store_is_input(rec->type)) {
		if (rs->held.p != NULL)
			store_restore_feed(rs->st, rs->e, &rs->held,
			    UINT64_MAX, &rs->bad);
		/* never NULL, so an empty input is held (and fed) too */
		if (rs->heldbuf == NULL || rec->n > rs->heldcap) {
			rs->heldcap = rec->n * 2 + 16;
			rs->heldbuf = xrealloc(rs->heldbuf, rs->heldcap);
		}
		if (rec->n > 0)
			memcpy(rs->heldbuf, rec->p, rec->n);
		rs->held = *rec;
		rs->held.p = rs->heldbuf;
		rs->outs_after_last = 0;
	} else if (rec->type == STORE_EVENT || rec->type == STORE_REJECTED)
		rs->outs_after_last++;
}

/*
 * The end of a restore, its store's journal open: feeds the last input,
 * catches up to now, syncs.  0, or -errno with a reason in err.
 */
static int
store_rs_finish(struct store_rs *rs, int64_t now, char *err, size_t errlen)
{
	struct store *st = rs->st;
	struct corr_engine *e = rs->e;
	int rc;

	store_rs_snapshot(rs, st->j);	/* nothing followed it */
	if (rs->rc == 0 && rs->held.p != NULL)
		store_restore_feed(st, e, &rs->held, rs->outs_after_last,
		    &rs->bad);
	FREE_NULL(rs->heldbuf);
	st->replay = 0;
	if (rs->rc < 0) {
		snprintf(err, errlen, "%s", rs->err);
		return rs->rc;
	}
	if (rs->bad > 0)
		log_warnx("journal shard=%u: %" PRIu64 " inputs skipped at "
		    "restore (they name devices, sites or codes the "
		    "configuration no longer has)", st->shard, rs->bad);
	/* time passed while we were down: marks due now fire, noted late */
	if (now > corr_engine_now(e)) {
		uint8_t catch_up = 1;
		uint64_t before = st->events;

		st->rb.n = 0;
		PUT(st, now);
		PUT(st, catch_up);
		st->in_pos = store_put(st, STORE_TICK);
		corr_engine_catch_up(e, now);
		if (st->events == before)
			journal_undo(st->j, st->in_pos);
	}
	/* a disk that refuses keeps the records (store_refused: logged,
	 * counted, retried by the shard); only another process holding
	 * the directory stops the start */
	if ((rc = journal_flush(st->j, 1)) == -EBUSY) {
		snprintf(err, errlen, "journal shard %u: %s", st->shard,
		    strerror(-rc));
		return rc;
	}
	if (rc < 0)
		store_refused(st, rc, clock_mono_ms());
	st->notified = journal_durable(st->j);
	st->restore_us = (uint64_t)(clock_mono_us() - rs->t0);
	return 0;
}

int
store_restore(struct store *st, struct corr_engine *e, int64_t now,
    char *err, size_t errlen)
{
	struct journal_reader *rd;
	struct journal_rec rec;
	struct store_rs rs;

	/* the records from the snapshot on were checksummed by
	 * journal_open(): the reader does not check them twice */
	store_rs_init(&rs, st, e);
	rd = journal_reader_new(st->j, journal_snapshot_pos(st->j));
	journal_reader_trust_checked(rd);
	while (journal_read(rd, journal_written(st->j), &rec) == 1)
		store_rs_rec(&rs, st->j, &rec);
	journal_reader_free(rd);
	return store_rs_finish(&rs, now, err, errlen);
}

/* One shard of store_open_all(), on its own thread. */
struct store_shard_job {
	const struct store_config *c;
	unsigned	 shard;
	struct fleet	*fleet;
	struct corr_engine *e;
	int64_t		 now;
	struct store	**out;		/* out: opened, or NULL; set before
					 * the restore, which the engine's
					 * sink may look it up in */
	int		 rc;		/* out: 0 or -errno */
	char		 err[512];	/* out: why, when rc < 0 */
	pthread_t	 thread;
	int		 started;	/* thread runs it (else: the caller) */
};

/*
 * Opens and restores one shard, reading its journal once: journal_open()
 * hands each record it checks to the restore.  The store is in *out
 * before the first record, for the engine's sink.
 */
static void *
store_shard_main(void *arg)
{
	struct store_shard_job *j = arg;
	char why[sizeof(j->err) - 32];
	struct store_rs rs;
	struct store *st;

	st = *j->out = store_new(j->c, j->shard, j->fleet);
	store_rs_init(&rs, st, j->e);
	if ((j->rc = store_attach(st, store_rs_rec, &rs, j->err,
	    sizeof(j->err))) < 0) {
		xfree(rs.heldbuf);
		*j->out = NULL;
		store_close(st);
		return NULL;
	}
	j->rc = store_rs_finish(&rs, j->now, why, sizeof(why));
	if (j->rc < 0)
		snprintf(j->err, sizeof(j->err), "restore shard=%u: %s",
		    j->shard, why);
	return NULL;
}

int
store_open_all(const struct store_config *c, unsigned n, struct fleet *fleet,
    struct corr_engine *const *engines, int64_t now, struct store **out,
    char *err, size_t errlen)
{
	struct store_shard_job *jobs = xcalloc(n, sizeof(*jobs));
	int rc = 0;

	for (unsigned i = 0; i < n; i++) {
		jobs[i].c = &c[i];
		jobs[i].shard = i;
		jobs[i].fleet = fleet;
		jobs[i].e = engines[i];
		jobs[i].now = now;
		jobs[i].out = &out[i];
		out[i] = NULL;
	}
	/* the last shard on this thread; one that gets no thread too */
	for (unsigned i = 0; i + 1 < n; i++)
		jobs[i].started = pthread_create(&jobs[i].thread, NULL,
		    store_shard_main, &jobs[i]) == 0;
	for (unsigned i = n; i-- > 0; )
		if (!jobs[i].started)
			(void)store_shard_main(&jobs[i]);
	for (unsigned i = 0; i < n; i++) {
		if (jobs[i].started)
			pthread_join(jobs[i].thread, NULL);
		if (jobs[i].rc < 0 && rc == 0) {
			rc = jobs[i].rc;
			snprintf(err, errlen, "%s", jobs[i].err);
		}
	}
	xfree(jobs);
	return rc;
}

void
store_stats(const struct store *st, struct store_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->records = ring_load_relaxed(&st->n_records);
	out->bytes = ring_load_relaxed(&st->n_bytes);
	out->syncs = ring_load_relaxed(&st->n_syncs);
	out->write_errors = ring_load_relaxed(&st->n_errors);
	out->snapshots = ring_load_relaxed(&st->n_snaps);
	out->snapshot_bytes = atomic_load(&st->snap_bytes);
	out->held_bytes = atomic_load(&st->held);
	out->restored_inputs = st->restored_inputs;
	out->restored_events = st->restored_events;
	out->restore_ms = st->restore_us / 1000;
	out->healthy = atomic_load(&st->healthy);
}

/* ---- publishers' view ---- */

int
store_pub_rec(const struct journal_rec *rec, unsigned shard,
    struct pub_rec *pr, struct store_spans *sp)
{
	struct snapbuf_rd r;
	uint32_t n;

	memset(pr, 0, sizeof(*pr));
	pr->pos = rec->pos;
	pr->next = rec->next;
	pr->shard = shard;
	pr->kpart = -1;
	pr->koffset = -1;
	snapbuf_rd_init(&r, rec->p, rec->n);
	switch (rec->type) {
	case STORE_EVENT:
	case STORE_STATE: {
		uint32_t nspans;

		pr->kind = rec->type == STORE_EVENT ? PUB_EVENT : PUB_STATE;
		GET(&r, pr->type);
		GET(&r, pr->state);
		GET(&r, pr->severity);
		GET(&r, pr->live);
		GET(&r, pr->seq);
		GET(&r, pr->at);
		GET(&r, pr->opened_at);
		GET(&r, pr->deadline);
		pr->id = get_cstr(&r);
		pr->site = get_cstr(&r);
		pr->area = get_cstr(&r);
		pr->json = snapbuf_get_view(&r, &n);
		pr->jsonlen = n;
		GET(&r, nspans);
		if (snapbuf_ok(&r) != 0 ||
		    (r.n - r.off) / sizeof(*sp->v) < nspans)
			return -EINVAL;
		if (nspans > sp->cap) {	/* the record's bytes bound nspans */
			sp->cap = nspans > 2 * sp->cap ? nspans : 2 * sp->cap;
			sp->v = xreallocarray(sp->v, sp->cap, sizeof(*sp->v));
		}
		if (nspans > 0)
			memcpy(sp->v, r.p + r.off, nspans * sizeof(*sp->v));
		for (uint32_t i = 0; i < nspans; i++)
			if (sp->v[i].off > pr->jsonlen ||
			    sp->v[i].len > pr->jsonlen - sp->v[i].off)
				return -EINVAL;
		pr->steps = sp->v;
		pr->nsteps = nspans;
		r.off += (size_t)nspans * sizeof(*sp->v);
		/* the cut is there only when steps were left out */
		pr->cut = 0;
		if (snapbuf_left(&r) > 0)
			GET(&r, pr->cut);
		return snapbuf_ok(&r) != 0 ? -EINVAL : 1;
	}
	case STORE_DUMP_BEGIN:
	case STORE_DUMP_END:
		pr->kind = rec->type == STORE_DUMP_BEGIN ? PUB_DUMP_BEGIN :
		    PUB_DUMP_END;
		GET(&r, pr->at);
		return snapbuf_ok(&r) != 0 ? -EINVAL : 1;
	case STORE_REJECTED:
		pr->kind = PUB_REJECTED;
		GET(&r, pr->kpart);
		GET(&r, pr->koffset);
		pr->id = get_cstr(&r);
		pr->json = snapbuf_get_view(&r, &n);
		pr->jsonlen = n;
		return snapbuf_ok(&r) != 0 ? -EINVAL : 1;
	case STORE_ALARM: {
		uint32_t point;

		pr->kind = PUB_ALARM;
		GET(&r, pr->at);
		GET(&r, pr->value);
		GET(&r, point);
		GET(&r, pr->edge);
		GET(&r, pr->severity);
		if (r.off == r.n || snapbuf_ok(&r) != 0)
			return -EINVAL;
		/* a journal written before the names had their NULs (and
		 * site and area were kept): nothing to publish */
		if (((const char *)rec->p)[rec->n - 1] != '\0')
			return 0;
		pr->device = get_cstr(&r);
		pr->code = get_cstr(&r);
		pr->site = get_cstr(&r);
		pr->area = get_cstr(&r);
		return snapbuf_ok(&r) != 0 ? -EINVAL : 1;
	}
	case STORE_TICK: {
		uint8_t catch_up;

		pr->kind = PUB_TICK;
		GET(&r, pr->at);
		GET(&r, catch_up);
		return snapbuf_ok(&r) != 0 ? -EINVAL : 1;
	}
	case STORE_ACTION: {
		int64_t at;
		uint8_t type;

		GET(&r, at);
		GET(&r, type);
		GET(&r, pr->kpart);
		GET(&r, pr->koffset);
		if (snapbuf_ok(&r) != 0)
			return -EINVAL;
		if (pr->kpart < 0)
			return 0;
		pr->kind = PUB_ACTION;
		return 1;
	}
	}
	return store_is_input(rec->type) ? 0 : -EINVAL;
}
