/*
 * ktxn.c - see ktxn.h.
 *
 * The consumer never commits on its own (enable.auto.commit false): the
 * only committed offsets are those sent in a transaction, so "committed"
 * and "its outputs are visible" are one fact.  Positions are the
 * consumer's own (rd_kafka_position: the next offset of each assigned
 * partition), read at commit time, so every record handed to record()
 * before the commit is covered by it and none after.
 *
 * Rebalances are eager (the default assignor): a revocation commits the
 * open transaction inside the rebalance callback, before the partitions
 * go (aborts it if that fails), so no output of a record can be committed
 * by an instance that no longer owns it; the group generation sent with
 * the offsets fences a zombie that missed the revocation (KIP-447).  A stage killed with a
 * transaction open leaves it to the broker, which aborts it after
 * transaction.timeout.ms (KTXN_TXN_TIMEOUT here, as Kafka Streams sets it
 * under exactly-once, rather than the client's minute): until then a
 * read_committed reader of its partitions waits at it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "daemon/clock.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "drivers/kafka/ktxn.h"

#define KTXN_IDLE_MS	1000	/* an idle poll's timeout (the stop flag) */

struct ktxn {
	rd_kafka_t	*prod;
	rd_kafka_t	*cons;
	struct ktxn_ops	 ops;
	void		*arg;
	uint32_t	 commit_ms, commit_records;
	int		 open;		/* a transaction is begun */
	int		 failed;	/* a produce or record() failed: abort
					 * at the end */
	uint32_t	 n;		/* inputs in the open transaction */
	int64_t		 first_ms;	/* when its first input came */
	int		 fatal;
	int		 halt;		/* ktxn_stop() */
	char		*input;		/* the topic consumed */
	struct ktxn_stats st;
};

/* Logs and frees an error; 1 if it was fatal. */
static int
ktxn_err(struct ktxn *t, const char *what, rd_kafka_error_t *e)
{
	int fatal = rd_kafka_error_is_fatal(e);

	if (fatal)
		t->fatal = 1;
	log_warnx("ktxn: %s: %s%s%s", what, rd_kafka_error_string(e),
	    fatal ? " (fatal)" : "", rd_kafka_error_txn_requires_abort(e) ?
	    " (the transaction aborts)" : "");
	rd_kafka_error_destroy(e);
	return fatal;
}

/*
 * Every assigned partition back to its committed offset (the beginning
 * where none is), so the inputs of an aborted transaction come again.
 */
static void
ktxn_rewind(struct ktxn *t)
{
	rd_kafka_topic_partition_list_t *a = NULL;
	rd_kafka_resp_err_t err;
	rd_kafka_error_t *e;

	if (rd_kafka_assignment(t->cons, &a) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    a == NULL)
		return;
	if (a->cnt > 0) {
		err = rd_kafka_committed(t->cons, a, KTXN_TIMEOUT_MS);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
			log_warnx("ktxn: committed offsets: %s (seeking to the "
			    "beginning where unknown)", rd_kafka_err2str(err));
		for (int i = 0; i < a->cnt; i++)
			if (a->elems[i].offset < 0)
				a->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
		if ((e = rd_kafka_seek_partitions(t->cons, a,
		    KTXN_TIMEOUT_MS)) != NULL)
			(void)ktxn_err(t, "seek", e);
	}
	rd_kafka_topic_partition_list_destroy(a);
}

/* Aborts the open transaction (nothing more). */
static void
ktxn_abort_only(struct ktxn *t)
{
	rd_kafka_error_t *e;

	if (t->open && (e = rd_kafka_abort_transaction(t->prod,
	    KTXN_TIMEOUT_MS)) != NULL)
		(void)ktxn_err(t, "abort", e);
	if (t->open)
		t->st.aborts++;
	t->open = 0;
	t->failed = 0;
	t->n = 0;
}

/* Aborts the open transaction, rewinds, tells the caller. */
static void
ktxn_abort(struct ktxn *t)
{
	ktxn_abort_only(t);
	ktxn_rewind(t);
	if (t->ops.aborted != NULL)
		t->ops.aborted(t->arg, t);
}

static int
ktxn_begin(struct ktxn *t)
{
	rd_kafka_error_t *e;

	if (t->open)
		return 0;
	if ((e = rd_kafka_begin_transaction(t->prod)) != NULL) {
		(void)ktxn_err(t, "begin", e);
		return -EIO;
	}
	t->open = 1;
	t->n = 0;
	t->first_ms = clock_mono_ms();
	return 0;
}

/* A transaction that cannot commit: aborted; rewound and told unless
 * every partition is going anyway. */
static void
ktxn_fail(struct ktxn *t, int revoking)
{
	if (revoking)
		ktxn_abort_only(t);
	else
		ktxn_abort(t);
}

/*
 * Commits the open transaction with the consumer's positions; on failure
 * it aborts, and unless revoking (every partition goes: nothing to rewind
 * or rebuild) rewinds and tells the caller.
 */
static int
ktxn_commit(struct ktxn *t, int revoking)
{
	rd_kafka_topic_partition_list_t *pos = NULL;
	rd_kafka_consumer_group_metadata_t *md;
	rd_kafka_error_t *e;

	if (!t->open)
		return 0;
	if (!t->failed && t->ops.flush != NULL && t->ops.flush(t->arg, t) != 0)
		t->failed = 1;
	if (t->failed) {
		ktxn_fail(t, revoking);
		return -EIO;
	}
	if (rd_kafka_assignment(t->cons, &pos) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		ktxn_fail(t, revoking);
		return -EIO;
	}
	(void)rd_kafka_position(t->cons, pos);
	md = rd_kafka_consumer_group_metadata(t->cons);
	e = rd_kafka_send_offsets_to_transaction(t->prod, pos, md,
	    KTXN_TIMEOUT_MS);
	rd_kafka_consumer_group_metadata_destroy(md);
	rd_kafka_topic_partition_list_destroy(pos);
	if (e == NULL)
		e = rd_kafka_commit_transaction(t->prod, KTXN_TIMEOUT_MS);
	if (e != NULL) {
		/* abortable, or retriable and not committed: abort all the
		 * same (the inputs come again) */
		if (!ktxn_err(t, "commit", e))
			ktxn_fail(t, revoking);
		return -EIO;
	}
	t->open = 0;
	t->n = 0;
	t->st.commits++;
	if (t->ops.committed != NULL)
		t->ops.committed(t->arg, t);
	return 0;
}

static void
ktxn_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct ktxn *t = opaque;

	t->st.rebalances++;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		log_info("ktxn: assigned partitions=%d", parts->cnt);
		/* the caller may set where each starts */
		if (t->ops.assigned != NULL)
			t->ops.assigned(t->arg, t, parts);
		(void)rd_kafka_assign(rk, parts);
		return;
	}
	/* eager: every partition goes.  What was consumed is committed
	 * first (flushed: the next owner resumes after it); if that fails it
	 * aborts, and the next owner takes those inputs again.  Nothing is
	 * rewound and the caller drops (revoked) rather than rebuilds. */
	log_info("ktxn: revoked partitions=%d%s", parts->cnt, t->open ?
	    " (the open transaction commits first)" : "");
	if (t->open && !t->fatal && ktxn_commit(t, 1) != 0)
		log_warnx("ktxn: the open transaction aborted at the "
		    "revocation: the next owner takes its inputs again");
	ktxn_abort_only(t);
	if (t->ops.revoked != NULL)
		t->ops.revoked(t->arg, t, parts);
	(void)rd_kafka_assign(rk, NULL);
}

int64_t
ktxn_position(struct ktxn *t, int32_t partition)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	int64_t off;

	rd_kafka_topic_partition_list_add(l, t->input, partition);
	if (rd_kafka_position(t->cons, l) != RD_KAFKA_RESP_ERR_NO_ERROR)
		l->elems[0].offset = RD_KAFKA_OFFSET_INVALID;
	off = l->elems[0].offset;
	rd_kafka_topic_partition_list_destroy(l);
	return off >= 0 ? off : -1;
}

int
ktxn_watermarks(struct ktxn *t, int32_t partition, int64_t *lo, int64_t *hi)
{
	if (rd_kafka_get_watermark_offsets(t->cons, t->input, partition, lo,
	    hi) != RD_KAFKA_RESP_ERR_NO_ERROR || *hi < 0 || *lo < 0)
		return -1;
	return 0;
}

int
ktxn_reject(struct ktxn *t, const char *topic, const rd_kafka_message_t *m,
    const char *why)
{
	char *val;
	int rc;

	if (topic == NULL || topic[0] == '\0')
		return 0;
	val = kafka_rejection(m, why);
	rc = ktxn_produce(t, topic, -1, m->key, m->key != NULL ? m->key_len : 0,
	    val, strlen(val));
	xfree(val);
	return rc;
}

int
ktxn_produce(struct ktxn *t, const char *topic, int32_t partition,
    const void *key, size_t keylen, const void *val, size_t len)
{
	rd_kafka_resp_err_t err;

	/* a full queue drains as batches are sent */
	while ((err = rd_kafka_producev(t->prod, RD_KAFKA_V_TOPIC(topic),
	    RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA :
	    partition), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	    RD_KAFKA_V_KEY(key, keylen), RD_KAFKA_V_VALUE((void *)val, len),
	    RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		rd_kafka_poll(t->prod, 100);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		log_warnx("ktxn: produce to %s: %s (the transaction aborts)",
		    topic, rd_kafka_err2str(err));
		t->failed = 1;
		return -EIO;
	}
	t->st.produced++;
	return 0;
}

int
ktxn_run(struct ktxn *t, const atomic_int *stop)
{
	while (!atomic_load(stop) && !t->fatal && !t->halt) {
		int64_t now = clock_mono_ms();
		int wait = t->open && t->n > 0 ? (int)(t->first_ms +
		    t->commit_ms - now) : KTXN_IDLE_MS;
		rd_kafka_message_t *m;

		if (t->open && t->n > 0 && (wait <= 0 ||
		    t->n >= t->commit_records)) {
			(void)ktxn_commit(t, 0);
			continue;
		}
		rd_kafka_poll(t->prod, 0);	/* errors, logged */
		if (!t->open && t->ops.between != NULL)
			t->ops.between(t->arg, t);
		m = rd_kafka_consumer_poll(t->cons, wait > 0 ? wait : 0);
		if (m == NULL)
			continue;
		if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				log_warnx("ktxn: consume: %s",
				    rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue;
		}
		if (ktxn_begin(t) != 0) {
			rd_kafka_message_destroy(m);
			ktxn_abort(t);
			continue;
		}
		t->n++;
		t->st.consumed++;
		if (t->ops.record(t->arg, t, m) != 0)
			t->failed = 1;
		rd_kafka_message_destroy(m);
	}
	if (!t->fatal && !t->halt)
		(void)ktxn_commit(t, 0);
	return t->fatal ? -EIO : 0;
}

void
ktxn_stop(struct ktxn *t)
{
	t->halt = 1;
}

void
ktxn_stats(const struct ktxn *t, struct ktxn_stats *st)
{
	*st = t->st;
}

static rd_kafka_t *
ktxn_client(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *err,
    size_t errlen)
{
	char e[512];
	rd_kafka_t *rk = rd_kafka_new(type, conf, e, sizeof(e));

	if (rk == NULL) {
		rd_kafka_conf_destroy(conf);
		snprintf(err, errlen, "ktxn %s: %s", type == RD_KAFKA_PRODUCER ?
		    "producer" : "consumer", e);
	}
	return rk;
}

int
ktxn_new(const struct ktxn_config *cfg, const struct ktxn_ops *ops,
    void *arg, struct ktxn **out, char *err, size_t errlen)
{
	struct ktxn *t;
	rd_kafka_conf_t *pc, *cc;
	rd_kafka_topic_partition_list_t *sub;
	rd_kafka_error_t *e;
	rd_kafka_resp_err_t rerr;

	*out = NULL;
	if (ops == NULL || ops->record == NULL || cfg->txn_id == NULL ||
	    cfg->group == NULL || cfg->input == NULL || cfg->brokers == NULL) {
		snprintf(err, errlen, "ktxn: incomplete config");
		return -EINVAL;
	}
	t = xcalloc(1, sizeof(*t));
	t->ops = *ops;
	t->arg = arg;
	t->commit_ms = cfg->commit_ms ? cfg->commit_ms : 100;
	t->commit_records = cfg->commit_records ? cfg->commit_records : 20000;
	t->input = xstrdup(cfg->input);

	pc = rd_kafka_conf_new();
	/* no delivery reports: a message that fails puts the transaction
	 * in the abortable state, and its commit says so */
	if (kafka_conf_set(pc, "bootstrap.servers", cfg->brokers, err,
	    errlen) || kafka_conf_set(pc, "transactional.id", cfg->txn_id,
	    err, errlen) || kafka_conf_set(pc, "transaction.timeout.ms",
	    KTXN_TXN_TIMEOUT, err, errlen) || (cfg->client_id != NULL && kafka_conf_set(pc,
	    "client.id", cfg->client_id, err, errlen)) ||
	    kafka_conf_props(pc, cfg->props, cfg->nprops, "producer", err,
	    errlen)) {
		rd_kafka_conf_destroy(pc);
		xfree(t->input);
		xfree(t);
		return -EINVAL;
	}
	if ((cc = kafka_conf_committing(cfg->brokers, cfg->group,
	    cfg->client_id, cfg->props, cfg->nprops, err, errlen)) == NULL) {
		rd_kafka_conf_destroy(pc);
		xfree(t->input);
		xfree(t);
		return -EINVAL;
	}
	rd_kafka_conf_set_opaque(cc, t);
	rd_kafka_conf_set_rebalance_cb(cc, ktxn_rebalance);
	if ((t->prod = ktxn_client(RD_KAFKA_PRODUCER, pc, err, errlen)) ==
	    NULL) {
		rd_kafka_conf_destroy(cc);
		xfree(t->input);
		xfree(t);
		return -EIO;
	}
	if ((t->cons = ktxn_client(RD_KAFKA_CONSUMER, cc, err, errlen)) ==
	    NULL) {
		ktxn_free(t);
		return -EIO;
	}
	rd_kafka_poll_set_consumer(t->cons);
	/* aborts what a previous incarnation left open, and fences it */
	if ((e = rd_kafka_init_transactions(t->prod, KTXN_TIMEOUT_MS)) !=
	    NULL) {
		snprintf(err, errlen, "ktxn: init_transactions: %s",
		    rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		ktxn_free(t);
		return -EIO;
	}
	sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(sub, cfg->input,
	    RD_KAFKA_PARTITION_UA);
	rerr = rd_kafka_subscribe(t->cons, sub);
	rd_kafka_topic_partition_list_destroy(sub);
	if (rerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errlen, "ktxn: subscribe %s: %s", cfg->input,
		    rd_kafka_err2str(rerr));
		ktxn_free(t);
		return -EIO;
	}
	*out = t;
	return 0;
}

void
ktxn_free(struct ktxn *t)
{
	if (t == NULL)
		return;
	if (t->cons != NULL) {
		if (t->open)
			ktxn_abort(t);
		(void)rd_kafka_consumer_close(t->cons);
		rd_kafka_destroy(t->cons);
	} else if (t->open && t->prod != NULL) {
		rd_kafka_error_t *e = rd_kafka_abort_transaction(t->prod,
		    KTXN_TIMEOUT_MS);

		if (e != NULL)
			rd_kafka_error_destroy(e);
	}
	if (t->prod != NULL)
		rd_kafka_destroy(t->prod);
	xfree(t->input);
	xfree(t);
}
