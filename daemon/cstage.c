/*
 * cstage.c - see cstage.h.
 *
 * The "changed" test is by bytes: each partition keeps the record last
 * written for every live incident and writes one again only when
 * corr_engine_save_incident() gives other bytes.  So a change that emits
 * no event (a flapping alarm's counted cycle, a repeat) still reaches the
 * changelog, at the cost of serialising the partition's live incidents at
 * each commit that had input (about 1.7 us each, docs/correlation.md);
 * keeping the head and the incidents apart by key, with the windows,
 * chronic and storm entries split out of the head, is the next step
 * (docs/scaleout.md, "The changelog").
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "correlator/incjson.h"
#include "correlator/u64map.h"
#include "daemon/clock.h"
#include "daemon/cstage.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/replay.h"
#include "drivers/kafka/ktxn.h"

#define CS_REBUILD_MS	60000	/* a changelog partition read to its end */

/* The record last written for one incident. */
struct cs_rec {
	char		*p;
	size_t		 n;
};

struct cs_part {
	struct cstage	*cs;
	unsigned	 p;
	struct corr_engine *e;		/* NULL: not owned */
	struct u64map	 sent;		/* incident num -> struct cs_rec */
	int		 dirty;		/* input since the last commit */
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
	char		 err[512];
};

static const struct corr_sink_ops cs_sink_ops;

/* ---- outputs ---- */

static void
cs_event(void *arg, const struct corr_event *ev)
{
	struct cs_part *pt = arg;
	struct cstage *cs = pt->cs;
	size_t n;

	if (cs->t == NULL)
		return;		/* a rebuild: the changelog's state, no events */
	cs->jb.n = 0;
	n = incjson_append(&cs->jb, cs->cfg->fleet, ev);
	if (ktxn_produce(cs->t, cs->cfg->incidents, -1, ev->inc->id,
	    strlen(ev->inc->id), cs->jb.p, n - 1) == 0)	/* not the '\n' */
		cs->st.events++;
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

/* corr_engine_dump() callback: the incident's record, if it changed. */
struct cs_walk {
	struct cs_part	*pt;
	struct u64map	 live;		/* nums seen this walk */
	int		 rc;
};

static void
cs_walk_one(void *arg, const struct corr_event *ev)
{
	struct cs_walk *w = arg;
	struct cs_part *pt = w->pt;
	struct cs_rec *r;
	unsigned shard;
	uint64_t num;
	char key[8 + CORR_ID_LEN], *buf;
	size_t n;

	if (w->rc != 0 || corr_id_parse(pt->cs->cfg->cc->id_prefix,
	    ev->inc->id, &shard, &num) != 0)
		return;
	u64map_put(&w->live, num, (void *)1);
	if (corr_engine_save_incident(pt->e, ev->inc->id, &buf, &n) != 0)
		return;
	r = u64map_get(&pt->sent, num);
	if (r != NULL && r->n == n && memcmp(r->p, buf, n) == 0) {
		xfree(buf);
		return;
	}
	snprintf(key, sizeof(key), "inc:%s", ev->inc->id);
	if (cs_changelog(pt->cs, pt->p, key, buf, n) != 0) {
		w->rc = -1;
		xfree(buf);
		return;
	}
	if (r == NULL) {
		r = xcalloc(1, sizeof(*r));
		u64map_put(&pt->sent, num, r);
	} else
		xfree(r->p);
	r->p = buf;
	r->n = n;
}

/* Before a commit: each dirty partition's head and changed incidents. */
static int
cs_flush(void *arg, struct ktxn *t)
{
	struct cstage *cs = arg;
	uint64_t *gone = NULL;		/* nums the engine no longer has */
	size_t ngone = 0, capgone = 0;
	int rc = 0;

	(void)t;
	for (unsigned p = 0; p < CSTAGE_MAX_PARTS && rc == 0; p++) {
		struct cs_part *pt = &cs->parts[p];
		struct cs_walk w = { pt, { 0 }, 0 };
		char key[8 + CORR_ID_LEN], idbuf[CORR_ID_LEN], *buf;
		size_t n, i = 0;
		uint64_t num;
		void *v;

		if (pt->e == NULL || !pt->dirty)
			continue;
		u64map_init(&w.live);
		corr_engine_dump(pt->e, corr_engine_now(pt->e), cs_walk_one,
		    &w);
		/* gone from the engine: a tombstone, and forgotten (the map
		 * must not change while it is walked: collect, then delete) */
		while (u64map_next(&pt->sent, &i, &num, &v))
			if (u64map_get(&w.live, num) == NULL) {
				if (ngone == capgone) {
					capgone = capgone ? capgone * 2 : 16;
					gone = xreallocarray(gone, capgone,
					    sizeof(*gone));
				}
				gone[ngone++] = num;
			}
		for (size_t g = 0; g < ngone && w.rc == 0; g++) {
			struct cs_rec *r = u64map_del(&pt->sent, gone[g]);

			xfree(r->p);
			xfree(r);
			corr_id_format(idbuf, sizeof(idbuf),
			    cs->cfg->cc->id_prefix, p, gone[g]);
			snprintf(key, sizeof(key), "inc:%s", idbuf);
			if (cs_changelog(cs, p, key, NULL, 0) != 0)
				w.rc = -1;
		}
		ngone = 0;
		u64map_fini(&w.live);
		if (w.rc != 0 || corr_engine_save_head(pt->e, &buf, &n) != 0) {
			rc = -1;
			break;
		}
		snprintf(key, sizeof(key), "meta:%u", p);
		rc = cs_changelog(cs, p, key, buf, n);
		xfree(buf);
		pt->dirty = 0;
	}
	xfree(gone);
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

/*
 * Engine p from changelog partition p read to its end: 0, or -1 with the
 * reason in cs->err.
 */
static int
cs_rebuild(struct cstage *cs, unsigned p)
{
	struct cs_part *pt = &cs->parts[p];
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	struct cs_kv *kv = NULL, *head = NULL;
	struct corr_part hp = { NULL, 0 }, *incs = NULL;
	const char **ids = NULL;	/* incs[i]'s incident id */
	size_t nkv = 0, cap = 0, ninc = 0;
	int64_t t0 = clock_mono_ms(), end = t0 + CS_REBUILD_MS;
	int rc = -1, eof = 0;
	char why[256];

	cs_part_drop(pt);
	pt->e = corr_engine_new(cs->cfg->fleet, cs->cfg->cc, p, &pt->sink);
	if (pt->e == NULL) {
		snprintf(cs->err, sizeof(cs->err), "engine %u: refused", p);
		goto out;
	}
	rd_kafka_topic_partition_list_add(l, cs->cfg->changelog,
	    (int32_t)p)->offset = RD_KAFKA_OFFSET_BEGINNING;
	if (rd_kafka_assign(cs->reader, l) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(cs->err, sizeof(cs->err), "changelog %u: assign", p);
		goto out;
	}
	while (!eof && clock_mono_ms() < end) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(cs->reader, 500);

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
			nkv++;
		} else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
			log_warnx("cstage: changelog %u: %s", p,
			    rd_kafka_message_errstr(m));
		rd_kafka_message_destroy(m);
	}
	(void)rd_kafka_assign(cs->reader, NULL);
	if (!eof) {
		snprintf(cs->err, sizeof(cs->err), "changelog %u: not read to "
		    "its end in %d s", p, CS_REBUILD_MS / 1000);
		goto out;
	}
	/* the latest of each key: by key, then offset order */
	qsort(kv, nkv, sizeof(*kv), cs_kv_cmp);
	incs = xreallocarray(NULL, nkv ? nkv : 1, sizeof(*incs));
	ids = xreallocarray(NULL, nkv ? nkv : 1, sizeof(*ids));
	for (size_t i = 0; i < nkv; i++) {
		if (i + 1 < nkv && strcmp(kv[i].key, kv[i + 1].key) == 0)
			continue;	/* not the latest */
		if (kv[i].val == NULL)
			continue;	/* a tombstone */
		if (strncmp(kv[i].key, "meta:", 5) == 0)
			head = &kv[i];
		else if (strncmp(kv[i].key, "inc:", 4) == 0) {
			incs[ninc].p = kv[i].val;
			incs[ninc].n = kv[i].n;
			ids[ninc] = kv[i].key + 4;
			ninc++;
		}
	}
	if (head != NULL) {
		hp.p = head->val;
		hp.n = head->n;
	}
	if ((head != NULL || ninc > 0) && corr_engine_load_parts(pt->e,
	    head != NULL ? &hp : NULL, incs, ninc, why, sizeof(why)) != 0) {
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
	cs->st.rebuilds++;
	cs->st.rebuild_ms = (uint64_t)(clock_mono_ms() - t0);
	log_info("cstage: partition=%u rebuilt from the changelog records=%zu "
	    "incidents=%zu rebuild_ms=%" PRIu64, p, nkv, ninc,
	    cs->st.rebuild_ms);
	rc = 0;
out:
	for (size_t i = 0; i < nkv; i++) {
		xfree(kv[i].key);
		xfree(kv[i].val);
	}
	xfree(kv);
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

static int
cs_record(void *arg, struct ktxn *t, const rd_kafka_message_t *m)
{
	struct cstage *cs = arg;
	struct fleet *f = cs->cfg->fleet;
	struct cs_part *pt;
	struct replay_rec rec;
	struct alarm_event ev;
	char why[160];
	uint32_t dev;
	int code;

	(void)t;
	if (m->partition < 0 || m->partition >= CSTAGE_MAX_PARTS ||
	    (pt = &cs->parts[m->partition])->e == NULL ||
	    m->payload == NULL ||
	    replay_parse_line(m->payload, m->len, &rec, why, sizeof(why)) !=
	    0 || (rec.kind != REPLAY_ALARM && rec.kind != REPLAY_TICK)) {
		cs->st.bad++;
		return 0;
	}
	pt->dirty = 1;
	cs->st.records++;
	if (rec.kind == REPLAY_TICK) {
		cs->st.ticks++;
		corr_engine_advance(pt->e, rec.at_ms);
		return 0;
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

/* After an abort every owned engine is the last commit's again. */
static void
cs_aborted(void *arg, struct ktxn *t)
{
	struct cstage *cs = arg;
	struct ktxn *keep = cs->t;

	(void)t;
	cs->t = NULL;
	for (unsigned p = 0; p < CSTAGE_MAX_PARTS; p++)
		if (cs->parts[p].e != NULL)
			(void)cs_rebuild(cs, p);
	cs->t = keep;
}

static void
cs_assigned(void *arg, struct ktxn *t,
    const rd_kafka_topic_partition_list_t *parts)
{
	struct cstage *cs = arg;
	struct ktxn *keep = cs->t;

	(void)t;
	cs->t = NULL;
	for (int i = 0; i < parts->cnt; i++) {
		int32_t p = parts->elems[i].partition;

		if (p < 0 || p >= CSTAGE_MAX_PARTS) {
			snprintf(cs->err, sizeof(cs->err), "partition %d of %s: "
			    "beyond %d", p, cs->cfg->alarms, CSTAGE_MAX_PARTS);
			cs->failed = 1;
			continue;
		}
		(void)cs_rebuild(cs, (unsigned)p);
	}
	cs->t = keep;
}

static void
cs_revoked(void *arg, struct ktxn *t,
    const rd_kafka_topic_partition_list_t *parts)
{
	struct cstage *cs = arg;

	(void)t;
	for (int i = 0; i < parts->cnt; i++) {
		int32_t p = parts->elems[i].partition;

		if (p >= 0 && p < CSTAGE_MAX_PARTS)
			cs_part_drop(&cs->parts[p]);
	}
}

static const struct ktxn_ops cs_ops = {
	.record = cs_record,
	.flush = cs_flush,
	.aborted = cs_aborted,
	.assigned = cs_assigned,
	.revoked = cs_revoked,
};

int
cstage_run(const struct cstage_config *cfg, const atomic_int *stop,
    struct cstage_stats *st, char *err, size_t errlen)
{
	struct cstage *cs = xcalloc(1, sizeof(*cs));
	struct ktxn_config kc = {
		.brokers = cfg->brokers, .group = cfg->group,
		.input = cfg->alarms, .txn_id = cfg->txn_id,
		.client_id = cfg->client_id, .commit_ms = cfg->commit_ms,
		.props = cfg->props, .nprops = cfg->nprops,
	};
	struct ktxn_stats ks;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char e[512];
	int rc = 0;

	cs->cfg = cfg;
	incjson_buf_init(&cs->jb);
	for (unsigned p = 0; p < CSTAGE_MAX_PARTS; p++) {
		cs->parts[p].cs = cs;
		cs->parts[p].p = p;
		cs->parts[p].sink.ops = &cs_sink_ops;
		cs->parts[p].sink.arg = &cs->parts[p];
		u64map_init(&cs->parts[p].sent);
	}
	/* it assigns itself one partition at a time and never commits: its
	 * group is never joined (librdkafka's consumer wants one) */
	snprintf(e, sizeof(e), "%s.changelog-reader", cfg->group);
	if (kafka_conf_set(conf, "bootstrap.servers", cfg->brokers, err,
	    errlen) || kafka_conf_set(conf, "group.id", e, err, errlen) ||
	    kafka_conf_set(conf, "isolation.level",
	    "read_committed", err, errlen) || kafka_conf_set(conf,
	    "enable.partition.eof", "true", err, errlen) ||
	    kafka_conf_set(conf, "enable.auto.commit", "false", err, errlen)) {
		rd_kafka_conf_destroy(conf);
		rc = -EINVAL;
		goto out;
	}
	if ((cs->reader = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e,
	    sizeof(e))) == NULL) {
		snprintf(err, errlen, "cstage: changelog reader: %s", e);
		rc = -EIO;
		goto out;
	}
	if ((rc = ktxn_new(&kc, &cs_ops, cs, &cs->t, err, errlen)) != 0)
		goto out;
	rc = ktxn_run(cs->t, stop);
	if (cs->failed) {
		snprintf(err, errlen, "cstage: %s", cs->err);
		rc = -EIO;
	}
	ktxn_stats(cs->t, &ks);
	cs->st.commits = ks.commits;
	cs->st.aborts = ks.aborts;
out:
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
	if (st != NULL)
		*st = cs->st;
	incjson_buf_fini(&cs->jb);
	xfree(cs);
	return rc;
}
