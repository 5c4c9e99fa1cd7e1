/*
 * cstage.c - see cstage.h.
 *
 * The "changed" test is by bytes: each partition keeps the record last
 * written for every live incident and writes one again only when
 * corr_engine_save_incident() gives other bytes.  So a change that emits
 * no event (a flapping alarm's counted cycle, a repeat) still reaches the
 * changelog.  Which incidents to save comes from the engine's change
 * tracking (corr_engine_changed(): those an input may have changed,
 * created or removed); only the first commit after a rebuild walks every
 * live incident (what the engine loaded is checked against what the
 * changelog held).  An incident's record holds neither the engine's time
 * and counters nor its timers' places in the heap, so it changes only
 * when the incident does (docs/scaleout.md, "The changelog").  A record
 * larger than a Kafka message takes goes in pieces (cs_put_value,
 * daemon/clvalue), and the same byte test keeps a piece that did not
 * change from being written again.
 */
#include <errno.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "correlator/incjson.h"
#include "correlator/snapbuf.h"
#include "correlator/u64map.h"
#include "daemon/cfeed.h"
#include "daemon/clock.h"
#include "daemon/clvalue.h"
#include "daemon/cstage.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/replay.h"
#include "daemon/store.h"
#include "drivers/kafka/ktxn.h"

#define CS_REBUILD_MS	60000	/* a changelog partition read to its end */
#define CS_KEY_LEN	(8 + CORR_ID_LEN) /* "inc:<id>", "meta:<p>" */
/* The reader's fetch.wait.max.ms: the broker holds a fetch at the end of
 * a partition that long, and a rebuild ends there (librdkafka's 500 ms
 * made a rebuild of a few records take a second); it fetches only while
 * a rebuild runs, so a short wait costs nothing idle. */
#define CS_READER_WAIT_MS "10"

/* One event of the open transaction for the read API: its partition and
 * its payload's place in cstage.rpend (a journal EVENT record's). */
struct cs_pend {
	unsigned	 p;
	size_t		 off, n;
	struct incjson_scan acct;	/* its writer's account, if acct_ok */
	uint8_t		 acct_ok;
	size_t		 cust;		/* its customers at cstage.pcust[cust] */
};

/* The record last written for one incident. */
struct cs_rec {
	char		*p;
	size_t		 n;		/* past CLVALUE_PIECE: on the log as a
					 * head and clvalue_pieces(n) pieces */
};

struct cs_part {
	struct cstage	*cs;
	unsigned	 p;
	struct corr_engine *e;		/* NULL: not owned */
	struct u64map	 sent;		/* incident num -> struct cs_rec */
	int		 dirty;		/* input since the last commit */
	int64_t		 pos;		/* the input offset the changelog's
					 * state is at ("pos:<p>"), or -1 */
	uint64_t	 rebuild_ms;	/* its last rebuild */
	uint64_t	 rebuild_records; /* changelog records it read */
	int		 full;		/* the next flush walks every live
					 * incident (after a rebuild) */
	struct cs_rec	 meta;		/* the engine's head last written */
	struct corr_sink sink;
};

struct cstage {
	const struct cstage_config *cfg;
	struct ktxn	*t;
	rd_kafka_t	*reader;	/* the changelog's, no group */
	struct cs_part	 parts[CSTAGE_MAX_PARTS];
	struct incjson_buf jb;		/* an event's JSON, reused */
	struct cstage_stats st;
	int		 failed;	/* a rebuild failed: stop */
	uint64_t	 assigned;	/* rebalances that assigned */
	struct log_rl	 rl_bad, rl_action, rl_maint, rl_reads;
	char		 err[512];
	pthread_mutex_t	 vlock;		/* view, for other threads */
	struct cstage_view view;
	/* the read API's feed (cfg->reads): the open transaction's events,
	 * offered when it commits, dropped when it aborts */
	struct snapbuf	 rpend;		/* their payloads, in order */
	struct cs_pend	*pend;
	size_t		 npend, cappend;
	struct incjson_span *pcust;	/* their accounts' customers */
	size_t		 npcust, cappcust;
	struct store_dumper dump;	/* a dump's record, the spans */
	uint64_t	 reads_bad;	/* records the read API could not take */
};

static const struct corr_sink_ops cs_sink_ops;
static void cs_publish(struct cstage *cs);

/* ---- the read API's feed ---- */

/* Counts and logs (rate-limited) n records the read API could not take. */
static void
cs_reads_bad(struct cstage *cs, unsigned p, uint64_t n)
{
	uint64_t quiet;

	if (n == 0)
		return;
	/* a record made here that does not decode (a bug of the encoding):
	 * as the pump does with such a journal record, counted, logged and
	 * passed by */
	cs->reads_bad += n;
	if (log_rl_ok(&cs->rl_reads, &quiet))
		log_warnx("cstage: partition=%u: a record the read API or the "
		    "Redis feed cannot decode passed by (reads_bad=%" PRIu64
		    " not_logged=%" PRIu64 ")", p, cs->reads_bad, quiet);
}

/*
 * Partition p's whole live set to the feed (queued as one message) when
 * the feed has room now, else asked again (served between transactions,
 * cs_between).
 */
static void
cs_feed_dump(struct cstage *cs, unsigned p)
{
	struct cs_part *pt = &cs->parts[p];

	if (!cfeed_room(cs->cfg->feed)) {
		cfeed_want(cs->cfg->feed, p);
		return;
	}
	cs->st.feed_dumps++;
	cs_reads_bad(cs, p, store_dump_sink(&cs->dump,
	    cfeed_stage_sink(cs->cfg->feed), p, 0, pt->e, cs->cfg->fleet,
	    corr_engine_now(pt->e)));
}

/*
 * Partition p's whole live set to the read API, as its engine is (the
 * last commit's state: after a rebuild); with no engine (revoked) an
 * empty one, which removes the partition's incidents from it.  The feed
 * gets the set too, or the news that the partition went (cfeed.h).
 */
static void
cs_dump(struct cstage *cs, unsigned p)
{
	struct cs_part *pt = &cs->parts[p];
	int64_t at = pt->e != NULL ? corr_engine_now(pt->e) : 0;

	if (cs->cfg->reads != NULL)
		cs_reads_bad(cs, p, store_dump_sink(&cs->dump, cs->cfg->reads,
		    p, 0, pt->e, cs->cfg->fleet, at));
	if (cs->cfg->feed == NULL)
		return;
	if (pt->e != NULL)
		cs_feed_dump(cs, p);
	else
		cfeed_revoked(cs->cfg->feed, p);
}

/* The dumps the feed asked for (a fold, a Redis reconnect), of the
 * partitions this instance owns: no transaction is open, so each is the
 * last commit's state. */
static void
cs_between(void *arg, struct ktxn *t)
{
	struct cstage *cs = arg;
	uint64_t want;

	(void)t;
	if (cs->cfg->feed == NULL || (want = cfeed_wanted(cs->cfg->feed)) == 0)
		return;
	for (unsigned p = 0; p < CSTAGE_MAX_PARTS; p++)
		if ((want >> p & 1) && cs->parts[p].e != NULL)
			cs_feed_dump(cs, p);
	cs_publish(cs);		/* feed_dumps */
}

/* Forgets the open transaction's events. */
static void
cs_pend_clear(struct cstage *cs)
{
	cs->npend = 0;
	cs->npcust = 0;
	cs->rpend.n = 0;
}

/* The open transaction's events, once it committed; then forgotten. */
static void
cs_done(void *arg, struct ktxn *t)
{
	struct cstage *cs = arg;

	(void)t;
	for (size_t i = 0; i < cs->npend; i++) {
		const struct cs_pend *pd = &cs->pend[i];

		if (cs->cfg->reads != NULL && store_offer_payload(&cs->dump,
		    cs->cfg->reads, pd->p, 0, STORE_EVENT, cs->rpend.p +
		    pd->off, pd->n, pd->acct_ok ? &pd->acct : NULL,
		    pd->acct.ncust > 0 ? cs->pcust + pd->cust : NULL) != 0)
			cs_reads_bad(cs, pd->p, 1);
		if (cs->cfg->feed != NULL && store_offer_payload(&cs->dump,
		    cfeed_stage_sink(cs->cfg->feed), pd->p, 0, STORE_EVENT,
		    cs->rpend.p + pd->off, pd->n, NULL, NULL) != 0)
			cs_reads_bad(cs, pd->p, 1);
	}
	cs_pend_clear(cs);
}

/* ---- outputs ---- */

static void
cs_event(void *arg, const struct corr_event *ev)
{
	struct cs_part *pt = arg;
	struct cstage *cs = pt->cs;
	struct cs_pend *pd;

	if (cs->t == NULL)
		return;		/* a rebuild: the changelog's state, no events */
	cs->jb.n = 0;
	if (cs->cfg->reads != NULL || cs->cfg->feed != NULL) {
		/* held for the commit; its JSON is made in jb */
		if (cs->npend == cs->cappend) {
			cs->cappend = cs->cappend ? cs->cappend * 2 : 256;
			cs->pend = xreallocarray(cs->pend, cs->cappend,
			    sizeof(*cs->pend));
		}
		pd = &cs->pend[cs->npend++];
		pd->p = pt->p;
		pd->off = cs->rpend.n;
		store_event_encode(&cs->rpend, &cs->jb, cs->cfg->fleet, ev);
		pd->n = cs->rpend.n - pd->off;
		/* the account of what the view reads, so it need not scan */
		pd->acct = cs->jb.acct;
		pd->acct_ok = cs->jb.acct_ok;
		pd->cust = cs->npcust;
		if (cs->npcust + pd->acct.ncust > cs->cappcust) {
			cs->cappcust = (cs->npcust + pd->acct.ncust) * 2;
			cs->pcust = xreallocarray(cs->pcust, cs->cappcust,
			    sizeof(*cs->pcust));
		}
		if (pd->acct.ncust > 0)
			memcpy(cs->pcust + cs->npcust, cs->jb.acct_cust,
			    pd->acct.ncust * sizeof(*cs->pcust));
		cs->npcust += pd->acct.ncust;
	} else
		(void)incjson_append(&cs->jb, cs->cfg->fleet, ev);
	if (ktxn_produce(cs->t, cs->cfg->incidents, -1, ev->inc->id,
	    strlen(ev->inc->id), cs->jb.p, cs->jb.n - 1) == 0) /* no '\n' */
		cs->st.events++;
	/* the history's own copy: it need not read every event */
	if (ev->type == CORR_EV_CLOSED && cs->cfg->history != NULL &&
	    cs->cfg->history[0] != '\0')
		(void)ktxn_produce(cs->t, cs->cfg->history, -1, ev->inc->id,
		    strlen(ev->inc->id), cs->jb.p, cs->jb.n - 1);
}

static const struct corr_sink_ops cs_sink_ops = {
	.event = cs_event,
	.rejected = NULL,
};

static int
cs_changelog(struct cstage *cs, unsigned p, const char *key, const char *val,
    size_t len)
{
	if (ktxn_produce(cs->t, cs->cfg->changelog, (int32_t)p, key,
	    strlen(key), val, len) != 0)
		return -1;
	cs->st.changelog++;
	return 0;
}

/*
 * key's value v (n bytes) to changelog partition p, whole or as a head
 * and its pieces (daemon/clvalue: a Kafka message has a limit, an
 * incident's record has none).  prev (pn bytes, or NULL: none) is the
 * value the key last had, whose pieces are on the log: a piece whose
 * bytes are prev's is there already and not written again, and the
 * pieces past the new count are tombstoned.  v NULL: a tombstone for the
 * key and its pieces.  In the open transaction, so a reader sees a head
 * only with its pieces.
 */
static int
cs_put_value(struct cstage *cs, unsigned p, const char *key, const char *v,
    size_t n, const char *prev, size_t pn)
{
	uint32_t k, pieces = v != NULL ? clvalue_pieces(n) : 0;
	uint32_t had = prev != NULL ? clvalue_pieces(pn) : 0;
	char pkey[CS_KEY_LEN + CLVALUE_SFX_LEN];
	unsigned char head[CLVALUE_HEAD];

	for (k = 1; k <= pieces; k++) {
		size_t len, plen = 0, off = clvalue_piece(n, k, &len);

		if (k <= had)		/* at the same place in prev */
			(void)clvalue_piece(pn, k, &plen);
		if (plen == len && memcmp(prev + off, v + off, len) == 0)
			continue;
		clvalue_key(pkey, sizeof(pkey), key, k);
		if (cs_changelog(cs, p, pkey, v + off, len) != 0)
			return -1;
	}
	for (; k <= had; k++) {
		clvalue_key(pkey, sizeof(pkey), key, k);
		if (cs_changelog(cs, p, pkey, NULL, 0) != 0)
			return -1;
	}
	if (pieces == 0)
		return cs_changelog(cs, p, key, v, n);
	clvalue_head(head, v, n);
	cs->st.split++;
	return cs_changelog(cs, p, key, (const char *)head, sizeof(head));
}

/* A flush of one partition's incident records. */
struct cs_walk {
	struct cs_part	*pt;
	int		 rc;
};

/* inc's record (its number num), if it is not what was last written. */
static void
cs_put_inc(struct cs_walk *w, const struct corr_incident *inc, uint64_t num,
    struct cs_rec *r)
{
	struct cs_part *pt = w->pt;
	char key[CS_KEY_LEN], *buf;
	size_t n;

	if (corr_engine_save_incident(pt->e, inc->id, &buf, &n) != 0)
		return;
	if (r != NULL && r->n == n && memcmp(r->p, buf, n) == 0) {
		xfree(buf);
		return;
	}
	if (r == NULL) {
		r = xcalloc(1, sizeof(*r));
		u64map_put(&pt->sent, num, r);
	}
	snprintf(key, sizeof(key), "inc:%s", inc->id);
	if (cs_put_value(pt->cs, pt->p, key, buf, n, r->p, r->n) != 0) {
		w->rc = -1;	/* aborts: the partition is rebuilt */
		xfree(buf);
		return;
	}
	xfree(r->p);
	r->p = buf;
	r->n = n;
}

/* Incident num is gone from the engine: a tombstone, if one was sent. */
static void
cs_put_gone(struct cs_walk *w, uint64_t num)
{
	struct cs_part *pt = w->pt;
	struct cs_rec *r = u64map_del(&pt->sent, num);
	char key[CS_KEY_LEN], id[CORR_ID_LEN];

	if (r == NULL)
		return;		/* opened and gone between two commits */
	corr_id_format(id, sizeof(id), pt->cs->cfg->cc->id_prefix, pt->p, num);
	snprintf(key, sizeof(key), "inc:%s", id);
	if (cs_put_value(pt->cs, pt->p, key, NULL, 0, r->p, r->n) != 0)
		w->rc = -1;
	xfree(r->p);
	xfree(r);
}

/* corr_engine_changed() callback: an incident an input may have changed. */
static void
cs_changed_one(void *arg, uint64_t num, const struct corr_incident *inc)
{
	struct cs_walk *w = arg;

	if (w->rc != 0)
		return;
	if (inc == NULL)
		cs_put_gone(w, num);
	else
		cs_put_inc(w, inc, num, u64map_get(&w->pt->sent, num));
}

/* corr_engine_dump() callback (the full walk): one live incident. */
static void
cs_walk_one(void *arg, const struct corr_event *ev)
{
	cs_changed_one(arg, ev->inc->num, ev->inc);
}

/*
 * Every live incident of pt against what was last written, and the
 * records of those no longer live tombstoned: the first flush after a
 * rebuild, which covers the changes the engine noted so far.
 */
static void
cs_walk_all(struct cs_walk *w)
{
	struct cs_part *pt = w->pt;
	uint64_t *gone = NULL, num;
	size_t ngone = 0, capgone = 0, i = 0;
	char id[CORR_ID_LEN];
	void *v;

	corr_engine_changed(pt->e, NULL, NULL);
	corr_engine_dump(pt->e, corr_engine_now(pt->e), cs_walk_one, w);
	/* the map must not change while it is walked: collect, then
	 * delete */
	while (u64map_next(&pt->sent, &i, &num, &v)) {
		corr_id_format(id, sizeof(id), pt->cs->cfg->cc->id_prefix,
		    pt->p, num);
		if (corr_engine_find(pt->e, id) != NULL)
			continue;
		if (ngone == capgone) {
			capgone = capgone ? capgone * 2 : 16;
			gone = xreallocarray(gone, capgone, sizeof(*gone));
		}
		gone[ngone++] = num;
	}
	for (size_t g = 0; g < ngone && w->rc == 0; g++)
		cs_put_gone(w, gone[g]);
	xfree(gone);
}

/* Before a commit: each dirty partition's head and changed incidents. */
static int
cs_flush(void *arg, struct ktxn *t)
{
	struct cstage *cs = arg;
	int rc = 0;

	for (unsigned p = 0; p < CSTAGE_MAX_PARTS && rc == 0; p++) {
		struct cs_part *pt = &cs->parts[p];
		struct cs_walk w = { pt, 0 };
		char key[CS_KEY_LEN], *buf;
		size_t n;

		if (pt->e == NULL || !pt->dirty)
			continue;
		if (pt->full)
			cs_walk_all(&w);
		else
			corr_engine_changed(pt->e, cs_changed_one, &w);
		pt->full = 0;
		if (w.rc != 0 || corr_engine_save_head(pt->e, &buf, &n) != 0) {
			rc = -1;
			break;
		}
		snprintf(key, sizeof(key), "meta:%u", p);
		rc = cs_put_value(cs, p, key, buf, n, pt->meta.p, pt->meta.n);
		xfree(pt->meta.p);
		pt->meta.p = buf;
		pt->meta.n = n;
		/* where this state is in the input: the offset this commit
		 * sends for p, which a rebuild checks against the group's */
		if (rc == 0 && (pt->pos = ktxn_position(t, (int32_t)p)) >= 0) {
			char off[24];

			snprintf(key, sizeof(key), "pos:%u", p);
			snprintf(off, sizeof(off), "%" PRId64, pt->pos);
			rc = cs_changelog(cs, p, key, off, strlen(off));
		}
		pt->dirty = 0;
	}
	cs_publish(cs);
	return rc;
}

/* ---- the changelog's side ---- */

static void
cs_part_drop(struct cs_part *pt)
{
	size_t i = 0;
	uint64_t num;
	void *v;

	while (u64map_next(&pt->sent, &i, &num, &v)) {
		struct cs_rec *r = v;

		xfree(r->p);
		xfree(r);
	}
	u64map_fini(&pt->sent);
	u64map_init(&pt->sent);
	corr_engine_free(pt->e);
	pt->e = NULL;
	pt->dirty = 0;
	pt->full = 0;
	FREE_NULL(pt->meta.p);
	pt->meta.n = 0;
	pt->pos = -1;
}

/* The latest value of each key of one changelog partition. */
struct cs_kv {
	char		*key;
	char		*val;		/* NULL: a tombstone */
	size_t		 n;
	size_t		 ord;		/* read order */
};

static int
cs_kv_cmp(const void *a, const void *b)
{
	const struct cs_kv *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c != 0 ? c : x->ord < y->ord ? -1 : x->ord > y->ord;
}

/* The latest value of key in kv[0..n) (sorted by cs_kv_cmp), or NULL. */
static const struct cs_kv *
cs_kv_latest(const struct cs_kv *kv, size_t n, const char *key)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {		/* the first entry past key */
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(kv[mid].key, key) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && strcmp(kv[lo - 1].key, key) == 0 ? &kv[lo - 1] :
	    NULL;
}

/*
 * kv's value (the latest of its key) whole: itself, or the value its head
 * and pieces make (xmalloc'd into *owned).  0, or -1 with the reason in
 * why.
 */
static int
cs_kv_value(const struct cs_kv *all, size_t nall, const struct cs_kv *kv,
    struct corr_part *out, char **owned, char *why, size_t whylen)
{
	struct clvalue_part *pc;
	char *pkey, *v;
	size_t n, klen = strlen(kv->key) + CLVALUE_SFX_LEN;
	uint32_t pieces;
	int h;

	*owned = NULL;
	out->p = kv->val;
	out->n = kv->n;
	if ((h = clvalue_is_head(kv->val, kv->n, &pieces, why, whylen)) <= 0)
		return h;
	pc = xreallocarray(NULL, pieces, sizeof(*pc));
	pkey = xmalloc(klen);		/* a key read from the log: any length */
	for (uint32_t k = 1; k <= pieces; k++) {
		const struct cs_kv *e;

		clvalue_key(pkey, klen, kv->key, k);
		e = cs_kv_latest(all, nall, pkey);
		pc[k - 1].p = e != NULL ? e->val : NULL;
		pc[k - 1].n = e != NULL ? e->n : 0;
	}
	h = clvalue_join(kv->val, kv->n, pc, pieces, &v, &n, why, whylen);
	xfree(pkey);
	xfree(pc);
	if (h != 0)
		return -1;
	*owned = v;
	out->p = v;
	out->n = n;
	return 0;
}

/*
 * The group's committed offsets of the alarms partitions ps[0..n), stable
 * ones (a transaction that commits offsets and is not finished yet is
 * waited for, KIP-447): out[i], -1 where none.  0, or -1 with the reason
 * in cs->err.
 */
static int
cs_committed(struct cstage *cs, const int32_t *ps, int n, int64_t *out)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
	rd_kafka_ListConsumerGroupOffsets_t *req;
	rd_kafka_AdminOptions_t *o;
	rd_kafka_queue_t *q = rd_kafka_queue_new(cs->reader);
	int64_t end = clock_mono_ms() + KTXN_TIMEOUT_MS;
	char e[256];
	int rc = -1;

	for (int i = 0; i < n; i++) {
		rd_kafka_topic_partition_list_add(l, cs->cfg->alarms, ps[i]);
		out[i] = -1;
	}
	req = rd_kafka_ListConsumerGroupOffsets_new(cs->cfg->group, l);
	o = rd_kafka_AdminOptions_new(cs->reader,
	    RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
	(void)rd_kafka_AdminOptions_set_request_timeout(o, KTXN_TIMEOUT_MS, e,
	    sizeof(e));
	rd_kafka_error_destroy(rd_kafka_AdminOptions_set_require_stable_offsets(
	    o, 1));
	snprintf(cs->err, sizeof(cs->err), "committed offsets of %s: no "
	    "answer in %d s", cs->cfg->group, KTXN_TIMEOUT_MS / 1000);
	while (rc != 0 && clock_mono_ms() < end) {
		const rd_kafka_ListConsumerGroupOffsets_result_t *res;
		const rd_kafka_group_result_t **g;
		const rd_kafka_topic_partition_list_t *got;
		rd_kafka_event_t *ev;
		size_t ng;
		int unstable = 0;

		rd_kafka_ListConsumerGroupOffsets(cs->reader, &req, 1, o, q);
		ev = rd_kafka_queue_poll(q, KTXN_TIMEOUT_MS);
		if (ev == NULL)
			break;
		if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR ||
		    (res = rd_kafka_event_ListConsumerGroupOffsets_result(
		    ev)) == NULL || (g =
		    rd_kafka_ListConsumerGroupOffsets_result_groups(res,
		    &ng)) == NULL || ng != 1 ||
		    rd_kafka_group_result_error(g[0]) != NULL) {
			snprintf(cs->err, sizeof(cs->err), "committed offsets "
			    "of %s: %s", cs->cfg->group,
			    rd_kafka_event_error_string(ev));
			rd_kafka_event_destroy(ev);
			usleep(200000);		/* this stage's own thread */
			continue;
		}
		got = rd_kafka_group_result_partitions(g[0]);
		for (int i = 0; got != NULL && i < got->cnt; i++) {
			const rd_kafka_topic_partition_t *tp = &got->elems[i];

			if (tp->err == RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT)
				unstable = 1;
			for (int k = 0; k < n; k++)
				if (ps[k] == tp->partition)
					out[k] = tp->offset >= 0 ? tp->offset : -1;
		}
		rd_kafka_event_destroy(ev);
		if (unstable)
			usleep(200000);
		else
			rc = 0;
	}
	rd_kafka_ListConsumerGroupOffsets_destroy(req);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	rd_kafka_topic_partition_list_destroy(l);
	return rc;
}

/*
 * Engine p from changelog partition p read to its end, and far enough to
 * hold the state at input offset want (the group's committed offset, -1:
 * none): a transaction commits the state's records and the offsets
 * together, but a read_committed reader sees the records only once the
 * broker has written the commit's markers, which may come after the
 * offsets are readable; a transaction left open by a killed instance
 * holds the reader back until the broker aborts it (KTXN_TXN_TIMEOUT).
 * pt->pos is then where the state is in the input.  0, or -1 with the
 * reason in cs->err.
 */
static int
cs_rebuild(struct cstage *cs, unsigned p, int64_t want)
{
	struct cs_part *pt = &cs->parts[p];
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	struct cs_kv *kv = NULL;
	struct corr_part hp = { NULL, 0 }, *incs = NULL;
	const char **ids = NULL;	/* incs[i]'s incident id */
	char **owned = NULL;		/* values joined from pieces */
	size_t nkv = 0, cap = 0, ninc = 0, nowned = 0;
	int have_head = 0;
	int64_t t0 = clock_mono_ms(), end = t0 + CS_REBUILD_MS, pos = -1;
	int rc = -1, eof = 0, said = 0;
	char why[256], poskey[16];

	cs_part_drop(pt);
	pt->e = corr_engine_new(cs->cfg->fleet, cs->cfg->cc, p, &pt->sink);
	if (pt->e == NULL) {
		snprintf(cs->err, sizeof(cs->err), "engine %u: refused", p);
		goto out;
	}
	corr_engine_track(pt->e, 1);
	pt->full = 1;
	snprintf(poskey, sizeof(poskey), "pos:%u", p);
	rd_kafka_topic_partition_list_add(l, cs->cfg->changelog,
	    (int32_t)p)->offset = RD_KAFKA_OFFSET_BEGINNING;
	if (rd_kafka_assign(cs->reader, l) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(cs->err, sizeof(cs->err), "changelog %u: assign", p);
		goto out;
	}
	while (!(eof && pos >= want) && clock_mono_ms() < end) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(cs->reader, 500);

		if (eof && !said) {
			log_info("cstage: partition=%u changelog holds input "
			    "offset %" PRId64 ", the group committed %" PRId64
			    ": waiting for the rest of its transaction", p, pos,
			    want);
			said = 1;
		}
		if (m == NULL)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			eof = 1;
		else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR &&
		    m->key != NULL) {
			if (nkv == cap) {
				cap = cap ? cap * 2 : 64;
				kv = xreallocarray(kv, cap, sizeof(*kv));
			}
			kv[nkv].key = xstrndup(m->key, m->key_len);
			kv[nkv].val = m->payload != NULL ? xmalloc(m->len) :
			    NULL;
			if (kv[nkv].val != NULL)
				memcpy(kv[nkv].val, m->payload, m->len);
			kv[nkv].n = m->len;
			kv[nkv].ord = nkv;
			if (kv[nkv].val != NULL && m->len < 24 &&
			    strcmp(kv[nkv].key, poskey) == 0) {
				char v[24];

				memcpy(v, m->payload, m->len);
				v[m->len] = '\0';
				pos = strtoll(v, NULL, 10);
			}
			nkv++;
		} else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
			log_warnx("cstage: changelog %u: %s", p,
			    rd_kafka_message_errstr(m));
		rd_kafka_message_destroy(m);
	}
	(void)rd_kafka_assign(cs->reader, NULL);
	if (!eof || pos < want) {
		snprintf(cs->err, sizeof(cs->err), "changelog %u: %s in %d s",
		    p, !eof ? "not read to its end" : "never reached the "
		    "committed input offset", CS_REBUILD_MS / 1000);
		goto out;
	}
	/* the latest of each key: by key, then offset order (an empty
	 * changelog has no array: qsort wants one) */
	if (nkv > 1)
		qsort(kv, nkv, sizeof(*kv), cs_kv_cmp);
	incs = xreallocarray(NULL, nkv ? nkv : 1, sizeof(*incs));
	ids = xreallocarray(NULL, nkv ? nkv : 1, sizeof(*ids));
	owned = xreallocarray(NULL, nkv ? nkv : 1, sizeof(*owned));
	for (size_t i = 0; i < nkv; i++) {
		int meta = strncmp(kv[i].key, "meta:", 5) == 0;
		struct corr_part v;

		if (i + 1 < nkv && strcmp(kv[i].key, kv[i + 1].key) == 0)
			continue;	/* not the latest */
		if (kv[i].val == NULL)
			continue;	/* a tombstone */
		if ((!meta && strncmp(kv[i].key, "inc:", 4) != 0) ||
		    clvalue_is_piece_key(kv[i].key))
			continue;	/* pos:, or a piece: its head's */
		if (cs_kv_value(kv, nkv, &kv[i], &v, &owned[nowned], why,
		    sizeof(why)) != 0) {
			snprintf(cs->err, sizeof(cs->err), "changelog %u: %s: "
			    "%s", p, kv[i].key, why);
			goto out;
		}
		if (owned[nowned] != NULL)
			nowned++;
		if (meta) {
			hp = v;
			have_head = 1;
			pt->meta.p = xmalloc(v.n);
			memcpy(pt->meta.p, v.p, v.n);
			pt->meta.n = v.n;
		} else {
			incs[ninc] = v;
			ids[ninc] = kv[i].key + 4;
			ninc++;
		}
	}
	if ((have_head || ninc > 0) && corr_engine_load_parts(pt->e,
	    have_head ? &hp : NULL, incs, ninc, why, sizeof(why)) != 0) {
		snprintf(cs->err, sizeof(cs->err), "changelog %u: %s", p, why);
		goto out;
	}
	/* what the changelog holds is what was last written */
	for (size_t i = 0; i < ninc; i++) {
		unsigned shard;
		uint64_t num;
		struct cs_rec *r;

		if (corr_id_parse(cs->cfg->cc->id_prefix, ids[i], &shard,
		    &num) != 0)
			continue;
		r = xcalloc(1, sizeof(*r));
		r->p = xmalloc(incs[i].n);
		memcpy(r->p, incs[i].p, incs[i].n);
		r->n = incs[i].n;
		u64map_put(&pt->sent, num, r);
	}
	pt->pos = pos;
	cs->st.rebuilds++;
	cs->st.rebuild_ms = pt->rebuild_ms = (uint64_t)(clock_mono_ms() - t0);
	pt->rebuild_records = nkv;
	log_info("cstage: partition=%u rebuilt from the changelog records=%zu "
	    "incidents=%zu in_pieces=%zu offset=%" PRId64 " rebuild_ms=%"
	    PRIu64, p, nkv, ninc, nowned, pos, cs->st.rebuild_ms);
	cs_dump(cs, p);
	rc = 0;
out:
	for (size_t i = 0; i < nkv; i++) {
		xfree(kv[i].key);
		xfree(kv[i].val);
	}
	xfree(kv);
	for (size_t i = 0; i < nowned; i++)
		xfree(owned[i]);
	xfree(owned);
	xfree(incs);
	xfree(ids);
	rd_kafka_topic_partition_list_destroy(l);
	if (rc != 0) {
		cs_part_drop(pt);
		cs->failed = 1;
		if (cs->t != NULL)
			ktxn_stop(cs->t);
	}
	return rc;
}

/* ---- the stage's hooks ---- */

/*
 * An action the engine refused: counted, logged (rate-limited) and, as
 * the live daemon does with a bad action, its rejection on the rejected
 * topic, in the transaction (so once).  0, or -1 if that produce failed.
 */
static int
cs_reject(struct cstage *cs, struct ktxn *t, const rd_kafka_message_t *m,
    const char *why)
{
	uint64_t quiet;

	cs->st.actions_rejected++;
	if (log_rl_ok(&cs->rl_action, &quiet))
		log_warnx("cstage: partition=%d offset=%" PRId64 ": action "
		    "refused: %s (refused=%" PRIu64 " not_logged=%" PRIu64 ")",
		    (int)m->partition, m->offset, why, cs->st.actions_rejected,
		    quiet);
	return ktxn_reject(t, cs->cfg->rejected, m, why) == 0 ? 0 : -1;
}

static int
cs_record(void *arg, struct ktxn *t, const rd_kafka_message_t *m)
{
	struct cstage *cs = arg;
	struct fleet *f = cs->cfg->fleet;
	struct cs_part *pt;
	struct replay_rec rec;
	struct alarm_event ev;
	char why[160];
	uint64_t quiet;
	uint32_t dev;
	int code;

	if (m->partition < 0 || m->partition >= CSTAGE_MAX_PARTS ||
	    (pt = &cs->parts[m->partition])->e == NULL) {
		cs->st.bad++;
		return 0;
	}
	pt->dirty = 1;		/* its position moves: "pos:<p>" again */
	if (m->payload == NULL || replay_parse_line(m->payload, m->len, &rec,
	    why, sizeof(why)) != 0) {
		cs->st.bad++;
		if (log_rl_ok(&cs->rl_bad, &quiet))
			log_warnx("cstage: partition=%d offset=%" PRId64 ": "
			    "passed by: %s (bad=%" PRIu64 " not_logged=%" PRIu64
			    ")", (int)m->partition, m->offset, m->payload ==
			    NULL ? "no value" : why, cs->st.bad, quiet);
		return 0;
	}
	cs->st.records++;
	switch (rec.kind) {
	case REPLAY_TICK:
		cs->st.ticks++;
		corr_engine_advance(pt->e, rec.at_ms);
		return 0;
	case REPLAY_ACTION:
		if (replay_rec_action(pt->e, &rec, why, sizeof(why)) == 0) {
			cs->st.actions++;
			return 0;
		}
		return cs_reject(cs, t, m, why);
	case REPLAY_MAINT_ADD:
	case REPLAY_MAINT_REMOVE:
		if (replay_rec_maint(pt->e, f, &rec, why, sizeof(why)) == 0) {
			cs->st.maint++;
			return 0;
		}
		cs->st.maint_rejected++;
		if (log_rl_ok(&cs->rl_maint, &quiet))
			log_warnx("cstage: partition=%d offset=%" PRId64 ": "
			    "maintenance %s %" PRIu32 " refused: %s "
			    "(refused=%" PRIu64 " not_logged=%" PRIu64 ")",
			    (int)m->partition, m->offset, rec.kind ==
			    REPLAY_MAINT_ADD ? "add" : "remove", rec.maint_id,
			    why, cs->st.maint_rejected, quiet);
		return 0;
	default:
		break;
	}
	dev = fleet_find(f, FLEET_DEVICE, rec.device);
	code = fleet_find_code(f, rec.code);
	if (dev == FLEET_NONE || code < 0) {
		cs->st.bad++;
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	ev.at_ms = rec.at_ms;
	ev.value = rec.value;
	ev.device = dev;
	ev.site = f->devices[dev].site;
	ev.point = FLEET_NONE;
	ev.code = (uint16_t)code;
	ev.edge = rec.edge;
	ev.severity = rec.severity;
	(void)corr_engine_alarm(pt->e, &ev);
	return 0;
}

/*
 * Engines for partitions ps[0..n), each from its changelog at the group's
 * committed offset; starts[i] where its input resumes (-1: the group's
 * committed offset, there being no state yet).
 */
static void
cs_rebuild_all(struct cstage *cs, const int32_t *ps, int n, int64_t *starts)
{
	int64_t *want = xreallocarray(NULL, n ? n : 1, sizeof(*want));
	struct ktxn *keep = cs->t;

	cs->t = NULL;		/* a rebuild makes no events */
	if (cs_committed(cs, ps, n, want) != 0)
		cs->failed = 1;
	for (int i = 0; i < n && !cs->failed; i++) {
		(void)cs_rebuild(cs, (unsigned)ps[i], want[i]);
		starts[i] = cs->parts[ps[i]].pos;
	}
	cs->t = keep;
	if (cs->failed && keep != NULL)
		ktxn_stop(keep);
	xfree(want);
}

/* After an abort every owned engine is the last commit's again. */
static void
cs_aborted(void *arg, struct ktxn *t)
{
	struct cstage *cs = arg;
	int32_t ps[CSTAGE_MAX_PARTS];
	int64_t starts[CSTAGE_MAX_PARTS];
	int n = 0;

	(void)t;
	cs_pend_clear(cs);	/* never committed */
	for (unsigned p = 0; p < CSTAGE_MAX_PARTS; p++)
		if (cs->parts[p].e != NULL)
			ps[n++] = (int32_t)p;
	if (n > 0)
		cs_rebuild_all(cs, ps, n, starts);
}

/* Each starts where its changelog's state is (the committed offset). */
static void
cs_assigned(void *arg, struct ktxn *t, rd_kafka_topic_partition_list_t *parts)
{
	struct cstage *cs = arg;
	int32_t ps[CSTAGE_MAX_PARTS];
	int64_t starts[CSTAGE_MAX_PARTS];
	int n = 0;

	(void)t;
	for (int i = 0; i < parts->cnt; i++) {
		int32_t p = parts->elems[i].partition;

		if (p < 0 || p >= CSTAGE_MAX_PARTS) {
			snprintf(cs->err, sizeof(cs->err), "partition %d of %s: "
			    "beyond %d", p, cs->cfg->alarms, CSTAGE_MAX_PARTS);
			cs->failed = 1;
			if (cs->t != NULL)
				ktxn_stop(cs->t);
			return;
		}
		ps[n++] = p;
	}
	if (n == 0)
		return;
	cs_rebuild_all(cs, ps, n, starts);
	for (int i = 0; i < n && !cs->failed; i++)
		if (starts[i] >= 0)
			parts->elems[i].offset = starts[i];
	cs->assigned++;
	cs_publish(cs);
}

static void
cs_revoked(void *arg, struct ktxn *t,
    const rd_kafka_topic_partition_list_t *parts)
{
	struct cstage *cs = arg;

	(void)t;
	cs_pend_clear(cs);	/* offered if the commit before it went */
	for (int i = 0; i < parts->cnt; i++) {
		int32_t p = parts->elems[i].partition;

		if (p >= 0 && p < CSTAGE_MAX_PARTS) {
			cs_part_drop(&cs->parts[p]);
			cs_dump(cs, (unsigned)p);
		}
	}
	cs_publish(cs);
}

static const struct ktxn_ops cs_ops = {
	.record = cs_record,
	.flush = cs_flush,
	.committed = cs_done,
	.aborted = cs_aborted,
	.assigned = cs_assigned,
	.revoked = cs_revoked,
	.between = cs_between,
};

/* The view's copy, under its lock: after each commit and rebalance. */
static void
cs_publish(struct cstage *cs)
{
	struct cstage_view v;

	memset(&v, 0, sizeof(v));
	v.st = cs->st;
	if (cs->t != NULL) {
		struct ktxn_stats ks;

		ktxn_stats(cs->t, &ks);
		v.st.commits = ks.commits;
		v.st.aborts = ks.aborts;
	}
	for (unsigned p = 0; p < CSTAGE_MAX_PARTS; p++) {
		const struct cs_part *pt = &cs->parts[p];
		struct cstage_part_view *o;

		if (pt->e == NULL)
			continue;
		o = &v.parts[v.nparts++];
		o->partition = (int32_t)p;
		o->incidents = pt->sent.used;
		o->offset = pt->pos;
		o->rebuild_ms = pt->rebuild_ms;
		o->rebuild_records = pt->rebuild_records;
	}
	v.assigned = cs->assigned;
	pthread_mutex_lock(&cs->vlock);
	cs->view = v;
	pthread_mutex_unlock(&cs->vlock);
}

/*
 * The reader's connection and the changelog's metadata, before the first
 * assignment: a first rebuild otherwise waits about a second for them
 * (measured in bench/scalebench.py's rebuild phase).  A failure is only
 * logged: the rebuild asks again.
 */
static void
cs_warm(struct cstage *cs)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(cs->reader,
	    cs->cfg->changelog, NULL);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err;

	if (rkt == NULL)
		return;
	err = rd_kafka_metadata(cs->reader, 0, rkt, &md, KTXN_TIMEOUT_MS);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		log_warnx("cstage: changelog %s: metadata: %s", cs->cfg->changelog,
		    rd_kafka_err2str(err));
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
}

int
cstage_new(const struct cstage_config *cfg, struct cstage **out, char *err,
    size_t errlen)
{
	struct cstage *cs = xcalloc(1, sizeof(*cs));
	struct ktxn_config kc = {
		.brokers = cfg->brokers, .group = cfg->group,
		.input = cfg->alarms, .txn_id = cfg->txn_id,
		.client_id = cfg->client_id, .commit_ms = cfg->commit_ms,
		.props = cfg->props, .nprops = cfg->nprops,
	};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char e[512];
	int rc;

	*out = NULL;
	cs->cfg = cfg;
	pthread_mutex_init(&cs->vlock, NULL);
	incjson_buf_init(&cs->jb);
	snapbuf_init(&cs->rpend);
	if (cfg->reads != NULL || cfg->feed != NULL)
		store_dumper_init(&cs->dump);
	if (cfg->reads != NULL)
		cs->jb.acct_on = 1;	/* its commits hand the view accounts */
	for (unsigned p = 0; p < CSTAGE_MAX_PARTS; p++) {
		cs->parts[p].cs = cs;
		cs->parts[p].p = p;
		cs->parts[p].sink.ops = &cs_sink_ops;
		cs->parts[p].sink.arg = &cs->parts[p];
		cs->parts[p].pos = -1;
		u64map_init(&cs->parts[p].sent);
	}
	/* it assigns itself one partition at a time and never commits: its
	 * group is never joined (librdkafka's consumer wants one); also the
	 * handle of the admin requests (committed offsets, the group) */
	snprintf(e, sizeof(e), "%s.changelog-reader", cfg->group);
	if (kafka_conf_set(conf, "bootstrap.servers", cfg->brokers, err,
	    errlen) || kafka_conf_set(conf, "group.id", e, err, errlen) ||
	    kafka_conf_set(conf, "isolation.level",
	    "read_committed", err, errlen) || kafka_conf_set(conf,
	    "enable.partition.eof", "true", err, errlen) ||
	    kafka_conf_set(conf, "enable.auto.commit", "false", err, errlen) ||
	    kafka_conf_set(conf, "fetch.wait.max.ms", CS_READER_WAIT_MS, err,
	    errlen) || (cfg->client_id != NULL && kafka_conf_set(conf, "client.id",
	    cfg->client_id, err, errlen))) {
		rd_kafka_conf_destroy(conf);
		cstage_free(cs);
		return -EINVAL;
	}
	if ((cs->reader = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e,
	    sizeof(e))) == NULL) {
		snprintf(err, errlen, "cstage: changelog reader: %s", e);
		cstage_free(cs);
		return -EIO;
	}
	cs_warm(cs);
	if ((rc = ktxn_new(&kc, &cs_ops, cs, &cs->t, err, errlen)) != 0) {
		cstage_free(cs);
		return rc;
	}
	*out = cs;
	return 0;
}

int
cstage_run(struct cstage *cs, const atomic_int *stop, char *err,
    size_t errlen)
{
	int rc = ktxn_run(cs->t, stop);

	if (cs->failed) {
		snprintf(err, errlen, "cstage: %s", cs->err);
		rc = -EIO;
	} else if (rc != 0)
		snprintf(err, errlen, "cstage: a fatal Kafka error (logged)");
	cs_publish(cs);
	return rc;
}

void
cstage_view(struct cstage *cs, struct cstage_view *out)
{
	pthread_mutex_lock(&cs->vlock);
	*out = cs->view;
	pthread_mutex_unlock(&cs->vlock);
	/* the lag now: the end the consumer has heard of since (it keeps
	 * fetching at the end of an idle partition) */
	for (size_t i = 0; i < out->nparts; i++) {
		struct cstage_part_view *o = &out->parts[i];
		int64_t lo, hi;

		o->lag = -1;
		if (cs->t == NULL || ktxn_watermarks(cs->t, o->partition, &lo,
		    &hi) != 0)
			continue;
		o->lag = hi - (o->offset >= 0 ? o->offset : lo);
		if (o->lag < 0)
			o->lag = 0;
	}
}

json_t *
cstage_members(struct cstage *cs, int timeout_ms, char *err, size_t errlen)
{
	const char *groups[1] = { cs->cfg->group };
	rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(cs->reader,
	    RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
	rd_kafka_queue_t *q = rd_kafka_queue_new(cs->reader);
	const rd_kafka_ConsumerGroupDescription_t **g;
	const rd_kafka_DescribeConsumerGroups_result_t *res;
	rd_kafka_event_t *ev;
	json_t *out = NULL;
	size_t ng;
	char e[256];

	(void)rd_kafka_AdminOptions_set_request_timeout(o, timeout_ms, e,
	    sizeof(e));
	rd_kafka_DescribeConsumerGroups(cs->reader, groups, 1, o, q);
	ev = rd_kafka_queue_poll(q, timeout_ms + 500);
	if (ev == NULL)
		snprintf(err, errlen, "no answer in %d ms", timeout_ms);
	else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    (res = rd_kafka_event_DescribeConsumerGroups_result(ev)) == NULL ||
	    (g = rd_kafka_DescribeConsumerGroups_result_groups(res,
	    &ng)) == NULL || ng != 1 ||
	    rd_kafka_ConsumerGroupDescription_error(g[0]) != NULL)
		snprintf(err, errlen, "%s", rd_kafka_event_error_string(ev));
	else {
		out = json_array();
		for (size_t i = 0; i <
		    rd_kafka_ConsumerGroupDescription_member_count(g[0]); i++) {
			const rd_kafka_MemberDescription_t *m =
			    rd_kafka_ConsumerGroupDescription_member(g[0], i);
			const rd_kafka_topic_partition_list_t *pl =
			    rd_kafka_MemberAssignment_partitions(
			    rd_kafka_MemberDescription_assignment(m));
			json_t *ps = json_array();

			for (int k = 0; pl != NULL && k < pl->cnt; k++)
				if (strcmp(pl->elems[k].topic,
				    cs->cfg->alarms) == 0)
					json_array_append_new(ps, json_integer(
					    pl->elems[k].partition));
			json_array_append_new(out, json_pack("{s:s, s:s, s:o}",
			    "client_id", rd_kafka_MemberDescription_client_id(m),
			    "host", rd_kafka_MemberDescription_host(m),
			    "partitions", ps));
		}
	}
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_AdminOptions_destroy(o);
	return out;
}

void
cstage_free(struct cstage *cs)
{
	if (cs == NULL)
		return;
	if (cs->t != NULL)
		ktxn_free(cs->t);
	if (cs->reader != NULL) {
		(void)rd_kafka_consumer_close(cs->reader);
		rd_kafka_destroy(cs->reader);
	}
	for (unsigned p = 0; p < CSTAGE_MAX_PARTS; p++)
		cs_part_drop(&cs->parts[p]);
	for (unsigned p = 0; p < CSTAGE_MAX_PARTS; p++)
		u64map_fini(&cs->parts[p].sent);
	incjson_buf_fini(&cs->jb);
	snapbuf_fini(&cs->rpend);
	xfree(cs->pend);
	xfree(cs->pcust);
	store_dumper_fini(&cs->dump);	/* a zeroed one too */
	pthread_mutex_destroy(&cs->vlock);
	xfree(cs);
}
