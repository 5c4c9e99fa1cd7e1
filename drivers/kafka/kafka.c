/*
 * kafka.c - see kafka.h; docs/kafka.md has the contracts and the faults.
 *
 * Two librdkafka clients: an idempotent acks=all producer (incident events,
 * rejected actions) and a group consumer of the actions topic.  Both
 * queues wake the loop through one non-blocking pipe
 * (rd_kafka_queue_io_event_enable(): librdkafka writes one byte when an
 * element lands on a queue that was served empty), watched by one ev_io;
 * its callback serves the producer's main queue (delivery reports, errors)
 * with rd_kafka_poll(rk, 0) and at most KF_PER_WAKEUP consumer messages
 * with rd_kafka_consumer_poll(rk, 0), continuing from an ev_idle when more
 * are left (the pipe only speaks again after the queue was served, so a
 * backlog must not wait for it).  No timer: an idle sink sleeps in the
 * loop's epoll, and librdkafka's own threads wake about once a second.
 *
 * Per-shard order.  Records of one shard arrive in journal order but are
 * spread over partitions, whose delivery reports complete in any order.
 * Each shard keeps a FIFO (a power-of-two ring indexed by ticket, a
 * counter that only grows) of every record offered, produced or not:
 * {pos, done}.  A delivery report marks its ticket done and the done
 * prefix is popped; host->done() gets the last popped pos, so done never
 * passes a record still in flight, and a record that is not produced
 * (PUB_STATE, dumps, PUB_ACTION) is done in its turn, not before.  A
 * message's opaque is (ticket << 17 | shard << 1 | 1): no allocation per
 * record.  A definite failure rewinds the shard to the FIFO's head (the
 * oldest record not reported done, at or before the failed one: one on
 * another partition may still be in flight and must not be lost) and
 * empties the FIFO by moving its head to its tail, so reports of the
 * tickets left behind fall outside [head, tail) and are ignored.
 *
 * Actions.  Each assigned partition keeps the offsets it has consumed and
 * not yet stored, in order, each pending or finished; an action finishes
 * when its PUB_ACTION record is offered (the shard journaled it) or when
 * the rejection that forwards it is delivered.  Only the finished prefix is
 * stored (offset + 1), so the stored offset never passes an unfinished
 * action and the periodic auto-commit commits only safe offsets.  An
 * action the host cannot take (-EAGAIN) pauses its partition and is kept;
 * kafka_actions_resume() retries it, then seeks the partition to the next
 * offset (which purges whatever was prefetched) and resumes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "daemon/clock.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "correlator/fleet.h"
#include "correlator/incjson.h"
#include "daemon/utc.h"
#include "drivers/kafka/kafka.h"

#define KF_PER_WAKEUP	256	/* consumer messages served per wakeup */
#define KF_MOCK_PARTITIONS 3	/* partitions of each mock cluster topic */
#define KF_MAX_SHARDS	65536	/* shard numbers that fit a message opaque */
#define KF_REJ_VALUE_MAX 65536	/* original bytes kept in a rejection */
#define KF_REJ_TRIES	5	/* sends of one rejection before giving up */
#define KF_UNKNOWN_RETRY_S 1.0	/* a topic unknown to the client: retry */
/*
 * The producer's batching defaults (docs/kafka.md "Why the producer sets
 * linger.ms and queue.buffering.max.kbytes"); kafka.properties overrides
 * both.  librdkafka 2.0's idempotent producer busy-polls (poll(2) with a
 * zero timeout, thousands of times per second) while a partition has its 5
 * requests in flight and a batch in its queue is older than linger.ms.
 * With librdkafka's defaults (5 ms, a 100,000-message queue the sink kept
 * half to wholly full) that is the whole of a storm: pubbench's Kafka
 * phase spent about half of the broker thread's CPU in it.  A queue of
 * 8 MiB holds the 5 requests of 1 MB (batch.size) in flight and about 3 MB
 * behind them, which the broker takes in well under 50 ms, so nothing
 * waiting there outlives linger.ms and the thread sleeps in poll(2) until a
 * response comes.  The journal is the outbox: the records wait on disk, not
 * in librdkafka.
 */
#define KF_LINGER_MS	"50"	/* linger.ms */
#define KF_QUEUE_KB	"8192"	/* queue.buffering.max.kbytes */

_Static_assert(sizeof(uintptr_t) >= 8, "a message opaque holds 64 bits");

/* One record offered to the sink, in a shard's FIFO. */
struct kf_ent {
	uint64_t	 pos;		/* journal position */
	int64_t		 koffset;	/* PUB_REJECTED of a Kafka action: */
	int32_t		 kpart;		/* its origin, finished on delivery; -1 */
	uint8_t		 done;		/* delivered, refused or not produced */
};

/* A shard's records not yet reported done, oldest first. */
struct kf_shard {
	struct kf_ent	*ring;		/* cap entries, ticket & (cap - 1) */
	uint64_t	 head, tail;	/* tickets [head, tail) are live */
	size_t		 cap;		/* a power of two, or 0 */
};

/* An offset of the actions topic consumed and not yet stored. */
struct kf_off {
	int64_t		 offset;
	uint8_t		 done;		/* journaled, or its rejection delivered */
};

/* One partition of the actions topic. */
struct kf_part {
	struct kf_off	*q;		/* [head, n) in consumption order */
	size_t		 head, n, cap;
	rd_kafka_message_t *held;	/* kept after the host said -EAGAIN */
};

/* A rejection on its way to the rejected topic (the message's opaque). */
struct kf_rej {
	int32_t		 part;		/* origin in the actions topic */
	int64_t		 offset;
	unsigned	 tries;		/* sends so far */
	char		*key;		/* the original key, or NULL */
	size_t		 keylen;
	char		*val;		/* the rejection's JSON */
	size_t		 vallen;
};


struct kf {
	struct pub_sink	 base;		/* first: ops */
	struct ev_loop	*loop;
	struct pub_host	 host;
	struct kafka_action_host ah;
	rd_kafka_t	*mock_rk;	/* the embedded cluster's handle, or NULL */
	rd_kafka_mock_cluster_t *mock;
	rd_kafka_t	*prod;
	rd_kafka_queue_t *prod_q;	/* its main queue: reports, errors */
	rd_kafka_topic_t *t_inc, *t_rej; /* t_rej NULL when "" */
	rd_kafka_topic_t *t_alarm;	/* tocsin.alarms, NULL when "" */
	rd_kafka_topic_t *t_tel;	/* tocsin.telemetry, NULL when "" */
	struct kafka_telemetry_host th;	/* lost() may be NULL */
	struct incjson_buf alarm_json;	/* an alarm's message, encoded */
	unsigned	 tick_shards;	/* kafka_config.shards */
	char		*tick_source;	/* a tick's "tick": the client.id */
	_Atomic int32_t	 alarm_parts;	/* tocsin.alarms' partition count as
					 * the partitioner last saw it (any
					 * thread), or 0 */
	int32_t		 tick_told;	/* the count a skip was logged for */
	rd_kafka_t	*cons;		/* NULL: no consumer */
	rd_kafka_queue_t *cons_q;	/* everything of the consumer */
	int		 pipefd[2];	/* librdkafka -> loop */
	ev_io		 io;		/* on pipefd[0] */
	ev_idle		 more;		/* a consumer backlog past the cap */
	ev_timer	 unknown;	/* the topic was unknown: ready again */
	char		*bootstrap;
	char		*actions;
	struct kf_shard	*shards;
	unsigned	 nshards;
	struct kf_part	*parts;
	int32_t		 nparts;
	uint64_t	 inflight;	/* messages produced, not yet reported */
	uint64_t	 inflight_bytes;
	uint64_t	 max_msgs;	/* queue.buffering.max.messages */
	uint64_t	 max_bytes;	/* queue.buffering.max.kbytes * 1024 */
	int		 want_ready;	/* an offer got -EAGAIN */
	int		 ready_due;	/* ... and the queue drained: call ready */
	int		 fatal;		/* the producer hit a fatal error */
	int		 down;		/* all brokers down since the last
					 * delivery */
	int		 closing;	/* close(): no rewind, no ready */
	struct log_rl	 rl_refused, rl_failed, rl_bad, rl_err, rl_unknown;
	struct kafka_stats st;
};

const struct kafka_setting kafka_settings[] = {
#define SET(key, field, def, doc) \
	{ key, offsetof(struct kafka_config, field), def, doc }
	SET("brokers", brokers, "",
	    "bootstrap servers (`host:port,...`); empty: an embedded mock "
	    "cluster (demo only: it keeps 5 MiB or 100k messages per partition)"),
	SET("incidents", incidents, "tocsin.incidents",
	    "incident events, key = incident id"),
	SET("actions", actions, "tocsin.actions",
	    "operator actions consumed from ticketing; empty: no consumer"),
	SET("rejected", rejected, "tocsin.actions.rejected",
	    "malformed or refused actions, with the reason"),
	SET("alarms", alarms, "",
	    "raw alarm transitions keyed by area; empty: off"),
	SET("telemetry", telemetry, "",
	    "each device's latest samples (deadband passed), keyed by device "
	    "id; empty: off"),
	SET("group", group, "tocsind", "consumer group of the actions (of "
	    "the pollers' forwarders with `daemon.role: poller`)"),
	SET("client_id", client_id, "tocsind", "client.id of both clients; "
	    "with `daemon.role: correlator` also the transactional.id (a "
	    "poller's forwarder: `<client_id>.actions`), so each instance "
	    "needs its own"),
	SET("changelog", changelog, "tocsin.changelog",
	    "`daemon.role: correlator`: the incidents' state by partition "
	    "(compacted, partitioned as `alarms`)"),
	SET("correlator_group", correlator_group, "tocsin-correlators",
	    "`daemon.role: correlator`: the consumer group of `alarms`"),
	SET("history_group", history_group, "",
	    "`daemon.role: correlator`: the consumer group of `incidents` "
	    "whose closed events it appends to `state_dir/history` (the "
	    "monthly report's input); empty: `<client_id>.history`, a whole "
	    "copy on each instance; `off`: none"),
	SET("history", history, "",
	    "`daemon.role: correlator`: a topic each closed event also goes to, "
	    "in the same transaction, so that the history reads it instead of "
	    "every event of `incidents` (set it on every correlator); empty: "
	    "the history reads `incidents`"),
#undef SET
	{ NULL, 0, NULL, NULL }
};

void
kafka_config_defaults(struct kafka_config *c)
{
	memset(c, 0, sizeof(*c));
	for (const struct kafka_setting *s = kafka_settings; s->key != NULL;
	    s++)
		*(const char **)(void *)((char *)c + s->off) = s->def;
}

int
kafka_prop_secret(const char *key)
{
	static const char *const words[] = {
		"password", "secret", "sasl", "token",
	};

	if (strncmp(key, "ssl.key", 7) == 0 ||
	    strstr(key, ".ssl.key") != NULL)
		return 1;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasestr(key, words[i]) != NULL)
			return 1;
	return 0;
}


/* -- per-shard order ------------------------------------------------ */

static struct kf_shard *
kf_shard(struct kf *kf, unsigned shard)
{
	if (shard >= kf->nshards) {
		unsigned n = shard + 1;

		kf->shards = xreallocarray(kf->shards, n, sizeof(*kf->shards));
		memset(kf->shards + kf->nshards, 0,
		    (n - kf->nshards) * sizeof(*kf->shards));
		kf->nshards = n;
	}
	return &kf->shards[shard];
}

/* Appends a record; returns its ticket. */
static uint64_t
kf_push(struct kf_shard *sh, uint64_t pos, int done, int32_t kpart,
    int64_t koffset)
{
	struct kf_ent *e;

	if (sh->tail - sh->head == sh->cap) {
		size_t cap = sh->cap ? sh->cap * 2 : 64;
		struct kf_ent *ring = xreallocarray(NULL, cap, sizeof(*ring));

		for (uint64_t t = sh->head; t != sh->tail; t++)
			ring[t & (cap - 1)] = sh->ring[t & (sh->cap - 1)];
		xfree(sh->ring);
		sh->ring = ring;
		sh->cap = cap;
	}
	e = &sh->ring[sh->tail & (sh->cap - 1)];
	e->pos = pos;
	e->done = (uint8_t)done;
	e->kpart = kpart;
	e->koffset = koffset;
	return sh->tail++;
}

/* Pops the done prefix and reports its last position done. */
static void
kf_advance(struct kf *kf, unsigned shard)
{
	struct kf_shard *sh = &kf->shards[shard];
	uint64_t last = 0;
	int popped = 0;

	while (sh->head != sh->tail && sh->ring[sh->head & (sh->cap - 1)].done) {
		last = sh->ring[sh->head & (sh->cap - 1)].pos;
		sh->head++;
		popped = 1;
	}
	if (popped && kf->host.done != NULL)
		kf->host.done(kf->host.arg, shard, last);
}

/* -- consumer offsets ------------------------------------------------ */

static struct kf_part *
kf_part(struct kf *kf, int32_t part)
{
	if (part < 0)
		return NULL;
	if (part >= kf->nparts) {
		int32_t n = part + 1;

		kf->parts = xreallocarray(kf->parts, (size_t)n,
		    sizeof(*kf->parts));
		memset(kf->parts + kf->nparts, 0,
		    (size_t)(n - kf->nparts) * sizeof(*kf->parts));
		kf->nparts = n;
	}
	return &kf->parts[part];
}

/* Forgets a partition's bookkeeping (revoked, or closing). */
static void
kf_part_reset(struct kf_part *p)
{
	if (p->held != NULL)
		rd_kafka_message_destroy(p->held);
	xfree(p->q);
	memset(p, 0, sizeof(*p));
}

static void
kf_off_push(struct kf_part *p, int64_t offset)
{
	if (p->head == p->n)
		p->head = p->n = 0;
	if (p->n == p->cap) {
		if (p->head > 0) {
			memmove(p->q, p->q + p->head,
			    (p->n - p->head) * sizeof(*p->q));
			p->n -= p->head;
			p->head = 0;
		}
		if (p->n == p->cap) {
			p->cap = p->cap ? p->cap * 2 : 16;
			p->q = xreallocarray(p->q, p->cap, sizeof(*p->q));
		}
	}
	p->q[p->n].offset = offset;
	p->q[p->n++].done = 0;
}

/*
 * The action at (part, offset) is safe: marks it finished and stores the
 * offset after the finished prefix.  An offset this consumer does not hold
 * (consumed before a restart or a rebalance) is ignored.
 */
static void
kf_action_done(struct kf *kf, int32_t part, int64_t offset)
{
	struct kf_part *p;
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t err;
	int64_t store = -1;
	size_t i;

	if (kf->cons == NULL || part < 0 || part >= kf->nparts)
		return;
	p = &kf->parts[part];
	for (i = p->head; i < p->n && p->q[i].offset != offset; i++)
		;
	if (i == p->n)
		return;
	p->q[i].done = 1;
	while (p->head < p->n && p->q[p->head].done)
		store = p->q[p->head++].offset + 1;
	if (store < 0)
		return;
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, kf->actions, part)->offset = store;
	err = rd_kafka_offsets_store(kf->cons, l);
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR && l->elems[0].err != 0)
		err = l->elems[0].err;
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		log_warnx("kafka: offset store failed topic=%s partition=%d "
		    "offset=%" PRId64 " err=\"%s\" (read again after a "
		    "restart)", kf->actions, part, store, rd_kafka_err2str(err));
	else
		log_debug("kafka: offset stored topic=%s partition=%d "
		    "offset=%" PRId64, kf->actions, part, store);
	rd_kafka_topic_partition_list_destroy(l);
}

/* -- producer -------------------------------------------------------- */

/* Errors a broker gives for a record it will never take. */
static int
kf_refusal(rd_kafka_resp_err_t e)
{
	switch (e) {
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_MSG:
	case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
	case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
	case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
	case RD_KAFKA_RESP_ERR_INVALID_RECORD:
		return 1;
	default:
		return 0;
	}
}

static void
kf_log_refused(struct kf *kf, const char *topic, const char *what,
    rd_kafka_resp_err_t err, size_t len)
{
	uint64_t quiet;

	if (log_rl_ok(&kf->rl_refused, &quiet))
		log_warnx("kafka: record refused topic=%s %s bytes=%zu "
		    "err=\"%s\" refused=%" PRIu64 " not_logged=%" PRIu64
		    " (reported done: never sent)", topic, what, len,
		    rd_kafka_err2str(err), kf->st.refused, quiet);
}

static int
kf_produce(struct kf *kf, rd_kafka_topic_t *t, int32_t part, const void *val,
    size_t len, const void *key, size_t keylen, void *opaque)
{
	if (rd_kafka_produce(t, part, RD_KAFKA_MSG_F_COPY,
	    (void *)(uintptr_t)val, len, key, keylen, opaque) == -1)
		return (int)rd_kafka_last_error();
	kf->inflight++;
	kf->inflight_bytes += len;
	return 0;
}

static void kf_rej_send(struct kf *kf, struct kf_rej *rj);

/* What an offer does when rd_kafka_produce() said no (err). */
static int
kf_offer_failed(struct kf *kf, struct kf_shard *sh, const struct pub_rec *r,
    rd_kafka_topic_t *t, int err, size_t len)
{
	if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
		kf->st.queue_full++;
		kf->want_ready = 1;
		return -EAGAIN;
	}
	if (err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
	    err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION) {
		uint64_t quiet;

		/*
		 * Not this record's fault: the topic is not known to the
		 * client yet (being auto-created, the broker was away when
		 * it looked).  Refusing it would drop it; it waits in the
		 * journal and is offered again in KF_UNKNOWN_RETRY_S.
		 */
		if (log_rl_ok(&kf->rl_unknown, &quiet))
			log_warnx("kafka: topic=%s unknown for now err=\"%s\" "
			    "(records wait in the journal, offered again every "
			    "%.0f s) not_logged=%" PRIu64, rd_kafka_topic_name(t),
			    rd_kafka_err2str((rd_kafka_resp_err_t)err),
			    KF_UNKNOWN_RETRY_S, quiet);
		kf->st.queue_full++;
		kf->want_ready = 1;
		if (!ev_is_active(&kf->unknown))
			ev_timer_start(kf->loop, &kf->unknown);
		return -EAGAIN;
	}
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		kf->fatal = 1;
		kf->st.queue_full++;
		kf->want_ready = 1;
		return -EAGAIN;
	}
	/* refused before it left (too large for message.max.bytes, ...) */
	kf->st.refused++;
	kf_log_refused(kf, rd_kafka_topic_name(t), "where=produce",
	    (rd_kafka_resp_err_t)err, len);
	(void)kf_push(sh, r->pos, 1, -1, -1);
	if (r->kind == PUB_REJECTED)
		kf_action_done(kf, r->kpart, r->koffset);
	kf_advance(kf, r->shard);
	return 0;
}

/*
 * A shard's tick (stream time, docs/scaleout.md) to the tocsin.alarms
 * partition of the shard's number, after every alarm of that shard: the
 * shard's records are offered in journal order and produced in that order
 * to one partition, so a consumer of the partition never sees an alarm
 * behind a tick of this instance.  That holds only when the partitions
 * are the shards (an area's partition is then its shard), so with another
 * count, or before the partitioner has seen the count, the tick is done in
 * its turn unproduced (a later one carries the time) and counted: the
 * partition, or -1.
 */
static int32_t
kf_tick_partition(struct kf *kf, unsigned shard)
{
	int32_t parts = atomic_load_explicit(&kf->alarm_parts,
	    memory_order_relaxed);

	if (parts == (int32_t)kf->tick_shards && shard < kf->tick_shards)
		return (int32_t)shard;
	kf->st.ticks_skipped++;
	if (parts > 0 && parts != kf->tick_told) {
		kf->tick_told = parts;
		log_warnx("kafka: %s has %d partitions and daemon.shards is %u: "
		    "no ticks on it (stream time needs one partition per shard, "
		    "docs/scaleout.md)", rd_kafka_topic_name(kf->t_alarm), parts,
		    kf->tick_shards);
	}
	return -1;
}

static int
kf_offer(struct pub_sink *s, const struct pub_rec *r)
{
	struct kf *kf = container_of(s, struct kf, base);
	rd_kafka_topic_t *t = NULL;
	struct kf_shard *sh;
	const char *key = r->id, *val = r->json;
	size_t len = r->jsonlen;
	int32_t part = RD_KAFKA_PARTITION_UA;
	uint64_t ticket;
	int err;

	if (kf->fatal || kf->want_ready) {
		kf->st.queue_full++;
		kf->want_ready = 1;
		return -EAGAIN;
	}
	if (r->shard >= KF_MAX_SHARDS)
		fatalx("kafka: shard=%u beyond %u", r->shard, KF_MAX_SHARDS);
	sh = kf_shard(kf, r->shard);
	if (r->kind == PUB_EVENT)
		t = kf->t_inc;
	else if (r->kind == PUB_REJECTED)
		t = kf->t_rej;
	else if (r->kind == PUB_ACTION)
		kf_action_done(kf, r->kpart, r->koffset);
	else if (r->kind == PUB_TICK && kf->t_alarm != NULL &&
	    kf->tick_shards > 0 && (part = kf_tick_partition(kf,
	    r->shard)) >= 0) {
		kf->alarm_json.n = 0;
		len = incjson_tick(&kf->alarm_json, r->at, kf->tick_source);
		val = kf->alarm_json.p;
		key = NULL;
		t = kf->t_alarm;
	} else if (r->kind == PUB_ALARM && kf->t_alarm != NULL) {
		/*
		 * tocsin.alarms: key = the area (one area's transitions stay
		 * in order on one partition, as DESIGN.md's scale-out reads
		 * them), value = tocsin.alarms/1, the line --replay reads
		 */
		const struct incjson_alarm a = { r->at, r->device, r->site,
		    r->code, r->edge, r->severity, r->value };

		kf->alarm_json.n = 0;
		len = incjson_alarm(&kf->alarm_json, &a);
		val = kf->alarm_json.p;
		key = r->area;
		t = kf->t_alarm;
	}
	if (t == NULL || val == NULL) {
		/* not produced (a rejection too when `rejected` is ""):
		 * done in its turn */
		if (r->kind == PUB_REJECTED)
			kf_action_done(kf, r->kpart, r->koffset);
		(void)kf_push(sh, r->pos, 1, -1, -1);
		kf_advance(kf, r->shard);
		return 0;
	}
	ticket = sh->tail;
	err = kf_produce(kf, t, part, val, len, key, key ? strlen(key) : 0,
	    (void *)(uintptr_t)(ticket << 17 | (uint64_t)r->shard << 1 | 1));
	if (err == 0) {
		kf->st.produced++;
		if (r->kind == PUB_TICK)
			kf->st.ticks_produced++;
		(void)kf_push(sh, r->pos, 0,
		    r->kind == PUB_REJECTED ? r->kpart : -1, r->koffset);
		return 0;
	}
	return kf_offer_failed(kf, sh, r, t, err, len);
}

/* The delivery report of a pub_rec. */
static void
kf_dr_rec(struct kf *kf, uint64_t tag, const rd_kafka_message_t *m)
{
	unsigned shard = (unsigned)(tag >> 1 & 0xffff);
	uint64_t ticket = tag >> 17;
	struct kf_shard *sh = &kf->shards[shard];
	int live = ticket >= sh->head && ticket < sh->tail;
	struct kf_ent *e = live ? &sh->ring[ticket & (sh->cap - 1)] : NULL;
	uint64_t quiet;

	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR || kf_refusal(m->err)) {
		if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			kf->st.delivered++;
			kf->down = 0;
		} else {
			kf->st.refused++;
			kf_log_refused(kf, rd_kafka_topic_name(m->rkt),
			    "where=broker", m->err, m->len);
		}
		if (!live)
			return;	/* rewound already: the pump sends it again */
		e->done = 1;
		if (e->kpart >= 0)
			kf_action_done(kf, e->kpart, e->koffset);
		kf_advance(kf, shard);
		return;
	}
	kf->st.failed++;
	if (kf->closing || !live)
		return;
	{
		uint64_t pos = sh->ring[sh->head & (sh->cap - 1)].pos;

		if (log_rl_ok(&kf->rl_failed, &quiet))
			log_warnx("kafka: delivery failed topic=%s shard=%u "
			    "pos=%" PRIu64 " err=\"%s\" rewind_to=%" PRIu64
			    " failed=%" PRIu64 " not_logged=%" PRIu64,
			    rd_kafka_topic_name(m->rkt), shard, e->pos,
			    rd_kafka_err2str(m->err), pos, kf->st.failed,
			    quiet);
		sh->head = sh->tail;
		kf->st.rewinds++;
		if (kf->host.rewind != NULL)
			kf->host.rewind(kf->host.arg, shard, pos);
	}
}

/* The delivery report of a rejection forwarded by the consumer. */
static void
kf_dr_rej(struct kf *kf, struct kf_rej *rj, const rd_kafka_message_t *m)
{
	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && !kf_refusal(m->err) &&
	    !kf->closing && rj->tries < KF_REJ_TRIES) {
		kf->st.failed++;
		log_warnx("kafka: rejection not delivered partition=%d "
		    "offset=%" PRId64 " err=\"%s\" tries=%u (sending again)",
		    rj->part, rj->offset, rd_kafka_err2str(m->err), rj->tries);
		kf_rej_send(kf, rj);
		return;
	}
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
		kf->st.delivered++;
	else if (kf_refusal(m->err)) {
		kf->st.refused++;
		kf_log_refused(kf, rd_kafka_topic_name(m->rkt),
		    "where=broker what=rejection", m->err, m->len);
	} else if (!kf->closing)
		log_error("kafka: rejection lost partition=%d offset=%" PRId64
		    " err=\"%s\" tries=%u (the action's offset is stored "
		    "anyway: the consumer must not stall on it)", rj->part,
		    rj->offset, rd_kafka_err2str(m->err), rj->tries);
	if (!kf->closing || m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
		kf_action_done(kf, rj->part, rj->offset);
	xfree(rj->key);
	xfree(rj->val);
	xfree(rj);
}

/*
 * The delivery report of a telemetry batch: lost unless delivered or
 * refused for good (the latest values are the host's to send again).
 */
static void
kf_dr_tel(struct kf *kf, uint32_t device, const rd_kafka_message_t *m)
{
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		kf->down = 0;
		return;
	}
	if (kf_refusal(m->err)) {
		kf->st.refused++;
		kf_log_refused(kf, rd_kafka_topic_name(m->rkt),
		    "where=broker", m->err, m->len);
		return;
	}
	kf->st.telemetry_lost++;
	if (!kf->closing && kf->th.lost != NULL)
		kf->th.lost(kf->th.arg, device);
}

static void
kf_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kf *kf = opaque;
	uintptr_t tag = (uintptr_t)m->_private;

	(void)rk;
	kf->inflight--;
	kf->inflight_bytes -= m->len;
	if (tag & 1)
		kf_dr_rec(kf, tag, m);
	else if ((tag & 3) == 2)
		kf_dr_tel(kf, (uint32_t)(tag >> 2), m);
	else
		kf_dr_rej(kf, (struct kf_rej *)tag, m);
	if (kf->want_ready && !kf->fatal && kf->inflight < kf->max_msgs / 2 &&
	    kf->inflight_bytes < kf->max_bytes / 2)
		kf->ready_due = 1;
}

static void
kf_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kf *kf = opaque;
	char buf[512];
	uint64_t quiet;

	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf,
		    sizeof(buf));

		log_error("kafka: FATAL client=%s err=\"%s\" reason=\"%s\" "
		    "(this client is finished: the sink takes nothing more "
		    "and /healthz says so until the daemon restarts it)",
		    rd_kafka_name(rk), rd_kafka_err2name(orig), buf);
		if (rk == kf->prod)
			kf->fatal = 1;
		return;
	}
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && rk == kf->prod)
		kf->down = 1;
	/* _TRANSPORT, _ALL_BROKERS_DOWN, ...: librdkafka reconnects */
	if (log_rl_ok(&kf->rl_err, &quiet))
		log_info("kafka: client=%s err=%s reason=\"%s\" not_logged=%"
		    PRIu64 " (informational: librdkafka retries)",
		    rd_kafka_name(rk), rd_kafka_err2name(err), reason, quiet);
}

static void
kf_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	/* a failed connect is level 3 and retried: not an error of ours */
	if (level <= 2)
		log_error("kafka: librdkafka fac=%s %s", fac, buf);
	else if (level <= 4)
		log_warnx("kafka: librdkafka fac=%s %s", fac, buf);
	else if (level <= 6)
		log_info("kafka: librdkafka fac=%s %s", fac, buf);
	else
		log_debug("kafka: librdkafka fac=%s %s", fac, buf);
}

/* -- consumer -------------------------------------------------------- */

const char *
kafka_action_parse(const void *p, size_t n, int64_t now, json_t **root,
    struct corr_action *a)
{
	json_t *o, *v;
	enum corr_action_type type;
	size_t len;

	memset(a, 0, sizeof(*a));
	*root = NULL;
	if (p == NULL || n == 0 || (*root = json_loadb(p, n, 0, NULL)) == NULL)
		return "not JSON";
	o = *root;
	if (!json_is_object(o))
		return "not an object";
	if ((v = json_object_get(o, "incident")) == NULL || json_is_null(v))
		return "missing incident";
	if (!json_is_string(v) || (len = json_string_length(v)) == 0 ||
	    len >= CORR_ID_LEN || strlen(json_string_value(v)) != len)
		return "bad incident";
	a->incident = json_string_value(v);
	if ((v = json_object_get(o, "action")) == NULL || json_is_null(v))
		return "missing action";
	if (!json_is_string(v) || corr_action_parse(json_string_value(v),
	    &type) != 0)
		return "unknown action";
	a->type = (uint8_t)type;
	v = json_object_get(o, "actor");
	if (!json_is_string(v) || (len = json_string_length(v)) == 0)
		return "missing actor";
	if (len > CORR_ACTOR_MAX || strlen(json_string_value(v)) != len)
		return "bad actor";
	a->actor = json_string_value(v);
	if ((v = json_object_get(o, "note")) != NULL && !json_is_null(v)) {
		if (!json_is_string(v) || strlen(json_string_value(v)) !=
		    json_string_length(v))
			return "bad note";
		if (json_string_length(v) > CORR_NOTE_MAX)
			return "note too long";
		if (json_string_length(v) > 0)
			a->note = json_string_value(v);
	}
	if (a->note == NULL && (type == CORR_ACT_NOTE ||
	    type == CORR_ACT_PAUSE))
		return "missing note";
	/* as POST /api/v1/incidents/<id>/close takes it (docs/http.md) */
	if ((v = json_object_get(o, "satisfaction")) != NULL &&
	    !json_is_null(v)) {
		if (type != CORR_ACT_CLOSE || !json_is_integer(v) ||
		    json_integer_value(v) < 1 || json_integer_value(v) > 5)
			return "bad satisfaction";
		a->satisfaction = (uint8_t)json_integer_value(v);
	}
	v = json_object_get(o, "at");
	if (v == NULL || json_is_null(v))
		a->at = now;
	else if (json_is_integer(v) && json_integer_value(v) >= 0)
		a->at = json_integer_value(v);
	else if (!json_is_string(v) || utc_parse(json_string_value(v),
	    json_string_length(v), &a->at) != 0)
		return "bad at";
	return NULL;
}

/* A JSON string of the original value (bytes that are not UTF-8: '?'). */
static json_t *
kf_json_original(const rd_kafka_message_t *m, int *cut)
{
	size_t len = m->len;
	json_t *s;
	char *copy;

	*cut = len > KF_REJ_VALUE_MAX;
	if (*cut)
		len = KF_REJ_VALUE_MAX;
	if (m->payload == NULL)
		return json_string("");
	if ((s = json_stringn(m->payload, len)) != NULL)
		return s;
	copy = xmalloc(len);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = ((const unsigned char *)m->payload)[i];

		copy[i] = c >= 0x80 ? '?' : (char)c;
	}
	s = json_stringn(copy, len);
	xfree(copy);
	return s;
}

static void
kf_rej_send(struct kf *kf, struct kf_rej *rj)
{
	int err;

	rj->tries++;
	err = kf_produce(kf, kf->t_rej, RD_KAFKA_PARTITION_UA, rj->val,
	    rj->vallen, rj->key, rj->keylen, rj);
	if (err == 0) {
		kf->st.produced++;
		return;
	}
	/* never stall the consumer on its own rejections */
	log_error("kafka: rejection not sent partition=%d offset=%" PRId64
	    " err=\"%s\" (the action's offset is stored anyway)", rj->part,
	    rj->offset, rd_kafka_err2str((rd_kafka_resp_err_t)err));
	kf_action_done(kf, rj->part, rj->offset);
	xfree(rj->key);
	xfree(rj->val);
	xfree(rj);
}

char *
kafka_rejection(const rd_kafka_message_t *m, const char *reason)
{
	json_t *o = json_object();
	char *val, *out;
	int cut;

	json_object_set_new(o, "reason", json_string(reason));
	json_object_set_new(o, "partition", json_integer(m->partition));
	json_object_set_new(o, "offset", json_integer(m->offset));
	json_object_set_new(o, "value", kf_json_original(m, &cut));
	if (cut)
		json_object_set_new(o, "truncated", json_true());
	val = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (val == NULL)
		fatalx("kafka: out of memory encoding a rejection");
	out = xstrdup(val);
	free(val);
	return out;
}

/* Logs, counts and forwards a bad action; its offset is stored once sent. */
static void
kf_reject(struct kf *kf, const rd_kafka_message_t *m, const char *reason)
{
	struct kf_rej *rj;
	char *val;
	uint64_t quiet;

	kf->st.actions_rejected++;
	if (log_rl_ok(&kf->rl_bad, &quiet))
		log_warnx("kafka: action rejected topic=%s partition=%d "
		    "offset=%" PRId64 " reason=\"%s\" rejected=%" PRIu64
		    " not_logged=%" PRIu64, kf->actions, m->partition,
		    m->offset, reason, kf->st.actions_rejected, quiet);
	if (kf->t_rej == NULL) {
		kf_action_done(kf, m->partition, m->offset);
		return;
	}
	val = kafka_rejection(m, reason);
	rj = xcalloc(1, sizeof(*rj));
	rj->part = m->partition;
	rj->offset = m->offset;
	rj->vallen = strlen(val);
	rj->val = val;
	if (m->key != NULL) {
		rj->keylen = m->key_len;
		rj->key = xmalloc(m->key_len ? m->key_len : 1);
		memcpy(rj->key, m->key, m->key_len);
	}
	kf_rej_send(kf, rj);
}

/* Pauses or resumes one partition of the actions topic. */
static void
kf_pause(struct kf *kf, int32_t part, int pause, int64_t seek_to)
{
	rd_kafka_topic_partition_list_t *l =
	    rd_kafka_topic_partition_list_new(1);
	rd_kafka_resp_err_t err;

	rd_kafka_topic_partition_list_add(l, kf->actions, part)->offset =
	    seek_to;
	if (pause)
		err = rd_kafka_pause_partitions(kf->cons, l);
	else {
		/* purges what was prefetched past the kept action */
		rd_kafka_error_t *e = rd_kafka_seek_partitions(kf->cons, l, 0);

		if (e != NULL) {
			log_warnx("kafka: seek partition=%d offset=%" PRId64
			    " err=\"%s\"", part, seek_to,
			    rd_kafka_error_string(e));
			rd_kafka_error_destroy(e);
		}
		err = rd_kafka_resume_partitions(kf->cons, l);
	}
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		log_warnx("kafka: %s partition=%d err=\"%s\"",
		    pause ? "pause" : "resume", part, rd_kafka_err2str(err));
	rd_kafka_topic_partition_list_destroy(l);
}

/*
 * Hands one action to the host (or rejects it).  Returns 1 if the host
 * had no room (the caller keeps m), else 0 (m may be destroyed).
 */
static int
kf_deliver(struct kf *kf, const rd_kafka_message_t *m)
{
	struct corr_action a;
	json_t *root = NULL;
	const char *why;
	int rc;

	why = kafka_action_parse(m->payload, m->len,
	    (int64_t)(ev_now(kf->loop) * 1000.0), &root, &a);
	if (why != NULL) {
		json_decref(root);
		kf_reject(kf, m, why);
		return 0;
	}
	rc = kf->ah.action(kf->ah.arg, &a, m->partition, m->offset);
	json_decref(root);
	if (rc == 0)
		return 0;	/* finished at its PUB_ACTION */
	if (rc == -EAGAIN)
		return 1;
	kf_reject(kf, m, rc == -ENOENT ? "unknown incident" : "refused");
	return 0;
}

static void
kf_consume(struct kf *kf, rd_kafka_message_t *m)
{
	struct kf_part *p;
	uint64_t quiet;

	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF &&
		    log_rl_ok(&kf->rl_err, &quiet))
			log_info("kafka: consumer err=%s reason=\"%s\"",
			    rd_kafka_err2name(m->err),
			    rd_kafka_message_errstr(m));
		rd_kafka_message_destroy(m);
		return;
	}
	p = kf_part(kf, m->partition);
	if (p == NULL || p->held != NULL) {
		/* prefetched behind a kept action: read again after resume */
		rd_kafka_message_destroy(m);
		return;
	}
	kf->st.actions_in++;
	kf_off_push(p, m->offset);
	if (kf_deliver(kf, m)) {
		p->held = m;
		kf->st.actions_paused++;
		log_info("kafka: actions paused partition=%d offset=%" PRId64
		    " (shard full)", m->partition, m->offset);
		kf_pause(kf, m->partition, 1, m->offset);
		return;
	}
	rd_kafka_message_destroy(m);
}

void
kafka_actions_resume(struct pub_sink *s)
{
	struct kf *kf = container_of(s, struct kf, base);

	for (int32_t i = 0; i < kf->nparts; i++) {
		struct kf_part *p = &kf->parts[i];
		rd_kafka_message_t *m = p->held;

		if (m == NULL || kf_deliver(kf, m))
			continue;
		p->held = NULL;
		log_info("kafka: actions resumed partition=%d offset=%" PRId64,
		    i, m->offset + 1);
		kf_pause(kf, i, 0, m->offset + 1);
		rd_kafka_message_destroy(m);
	}
}

static void
kf_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *l, void *opaque)
{
	struct kf *kf = opaque;
	int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	rd_kafka_error_t *e = NULL;
	rd_kafka_resp_err_t aerr = RD_KAFKA_RESP_ERR_NO_ERROR;

	for (int i = 0; i < l->cnt; i++) {
		struct kf_part *p = kf_part(kf, l->elems[i].partition);

		if (p != NULL)
			kf_part_reset(p);
		log_info("kafka: %s topic=%s partition=%d",
		    err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "assigned" :
		    "revoked", l->elems[i].topic, l->elems[i].partition);
	}
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		if (coop)
			e = rd_kafka_incremental_assign(rk, l);
		else
			aerr = rd_kafka_assign(rk, l);
		kf->st.actions_assigned = coop ?
		    kf->st.actions_assigned + (uint64_t)l->cnt : (uint64_t)l->cnt;
	} else {
		kf->st.actions_assigned = coop && kf->st.actions_assigned >=
		    (uint64_t)l->cnt ? kf->st.actions_assigned - (uint64_t)l->cnt :
		    0;
		if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
			log_warnx("kafka: rebalance err=\"%s\"",
			    rd_kafka_err2str(err));
		if (coop)
			e = rd_kafka_incremental_unassign(rk, l);
		else
			aerr = rd_kafka_assign(rk, NULL);
	}
	if (e != NULL) {
		log_warnx("kafka: assign err=\"%s\"", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
	}
	if (aerr != RD_KAFKA_RESP_ERR_NO_ERROR)
		log_warnx("kafka: assign err=\"%s\"", rd_kafka_err2str(aerr));
}

/* -- the loop -------------------------------------------------------- */

static void
kf_serve(struct kf *kf)
{
	int n = 0;

	rd_kafka_poll(kf->prod, 0);
	if (kf->cons != NULL) {
		rd_kafka_message_t *m;

		while (n < KF_PER_WAKEUP &&
		    (m = rd_kafka_consumer_poll(kf->cons, 0)) != NULL) {
			kf_consume(kf, m);
			n++;
		}
		if (n == KF_PER_WAKEUP)
			ev_idle_start(kf->loop, &kf->more);
		else
			ev_idle_stop(kf->loop, &kf->more);
	}
	if (kf->ready_due && !kf->closing) {
		kf->ready_due = kf->want_ready = 0;
		if (kf->host.ready != NULL)
			kf->host.ready(kf->host.arg);
	}
}

static void
kf_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct kf *kf = container_of(w, struct kf, io);
	char buf[256];

	(void)loop;
	(void)revents;
	while (read(kf->pipefd[0], buf, sizeof(buf)) > 0)
		;
	kf_serve(kf);
}

static void
kf_unknown_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct kf *kf = container_of(w, struct kf, unknown);

	(void)loop;
	(void)revents;
	if (!kf->fatal)
		kf->ready_due = 1;
	kf_serve(kf);
}

static void
kf_more_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	(void)loop;
	(void)revents;
	kf_serve(container_of(w, struct kf, more));
}

/* -- setup ----------------------------------------------------------- */

int
kafka_conf_set(struct rd_kafka_conf_s *conf, const char *key,
    const char *val, char *err, size_t errlen)
{
	char e[512];

	if (rd_kafka_conf_set(conf, key, val, e, sizeof(e)) ==
	    RD_KAFKA_CONF_OK)
		return 0;
	/* librdkafka's message may quote the value: not for a secret */
	snprintf(err, errlen, "kafka property %s: %s", key,
	    kafka_prop_secret(key) ? "refused (value not shown)" : e);
	return -EINVAL;
}

int
kafka_conf_props(struct rd_kafka_conf_s *conf, const struct kafka_prop *props,
    size_t n, const char *who, char *err, size_t errlen)
{
	size_t wl = strlen(who);

	for (size_t i = 0; i < n; i++) {
		const char *k = props[i].key;

		if (strncmp(k, "producer.", 9) == 0 ||
		    strncmp(k, "consumer.", 9) == 0) {
			if (strncmp(k, who, wl) != 0 || k[wl] != '.')
				continue;
			k += wl + 1;
		}
		if (kafka_conf_set(conf, k, props[i].value, err, errlen) != 0)
			return -EINVAL;
	}
	return 0;
}

struct rd_kafka_conf_s *
kafka_conf_committing(const char *brokers, const char *group,
    const char *client_id, const struct kafka_prop *props, size_t n,
    char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	if (kafka_conf_set(conf, "bootstrap.servers", brokers, err, errlen) ||
	    kafka_conf_set(conf, "group.id", group, err, errlen) ||
	    (client_id != NULL && kafka_conf_set(conf, "client.id", client_id,
	    err, errlen)) || kafka_conf_set(conf, "isolation.level",
	    "read_committed", err, errlen) || kafka_conf_set(conf,
	    "enable.auto.commit", "false", err, errlen) ||
	    kafka_conf_set(conf, "auto.offset.reset", "earliest", err,
	    errlen) || kafka_conf_props(conf, props, n, "consumer", err,
	    errlen)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return conf;
}

/* kafka_conf_set(), under a name that keeps the settings lists short. */
static int
kf_set(rd_kafka_conf_t *conf, const char *key, const char *val, char *err,
    size_t errlen)
{
	return kafka_conf_set(conf, key, val, err, errlen);
}

/* The pass-through properties for one client ("producer" or "consumer"). */
static int
kf_set_props(rd_kafka_conf_t *conf, const struct kafka_config *cfg,
    const char *who, char *err, size_t errlen)
{
	return kafka_conf_props(conf, cfg->props, cfg->nprops, who, err,
	    errlen);
}

static uint64_t
kf_conf_u64(rd_kafka_conf_t *conf, const char *key, uint64_t def)
{
	char buf[64];
	size_t len = sizeof(buf);

	if (rd_kafka_conf_get(conf, key, buf, &len) != RD_KAFKA_CONF_OK)
		return def;
	return strtoull(buf, NULL, 10);
}

static int
kf_mock_start(struct kf *kf, const struct kafka_config *cfg, char *err,
    size_t errlen)
{
	const char *topics[] = { cfg->incidents, cfg->actions, cfg->rejected,
	    cfg->alarms, cfg->telemetry };
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char e[512];

	/* its handle only hosts the cluster: it connects to nothing */
	rd_kafka_conf_set_log_cb(conf, kf_log_cb);
	(void)rd_kafka_conf_set(conf, "log_level", "4", e, sizeof(e));
	kf->mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
	if (kf->mock_rk == NULL) {
		snprintf(err, errlen, "kafka mock cluster: %s", e);
		return -EIO;
	}
	if ((kf->mock = rd_kafka_mock_cluster_new(kf->mock_rk, 1)) == NULL) {
		snprintf(err, errlen, "kafka mock cluster: cannot start");
		return -EIO;
	}
	/* tocsin.alarms with one partition per shard, so that it carries
	 * the shards' ticks (kf_offer_tick) */
	for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
		if (topics[i] != NULL && topics[i][0] != '\0')
			(void)rd_kafka_mock_topic_create(kf->mock, topics[i],
			    topics[i] == cfg->alarms && cfg->shards > 0 ?
			    (int)cfg->shards : KF_MOCK_PARTITIONS, 1);
	kf->bootstrap = xstrdup(rd_kafka_mock_cluster_bootstraps(kf->mock));
	log_info("kafka: embedded mock cluster bootstrap=%s (demo only: it "
	    "keeps 5 MiB or 100k messages per partition)", kf->bootstrap);
	return 0;
}

static void
kf_log_config(const struct kafka_config *cfg, const char *bootstrap)
{
	log_info("kafka: config brokers=%s incidents=%s actions=%s "
	    "rejected=%s alarms=%s group=%s client_id=%s", bootstrap,
	    cfg->incidents, cfg->actions, cfg->rejected, cfg->alarms,
	    cfg->group, cfg->client_id);
	for (size_t i = 0; i < cfg->nprops; i++)
		log_info("kafka: property %s=%s", cfg->props[i].key,
		    kafka_prop_secret(cfg->props[i].key) ? "***" :
		    cfg->props[i].value);
}

int32_t
kafka_area_partition(const void *key, size_t keylen, int32_t cnt)
{
	return cnt > 0 ? (int32_t)fleet_area_shard_n(key, keylen,
	    (unsigned)cnt) : -1;
}

static int32_t
kf_partitioner(const rd_kafka_topic_t *rkt, const void *key, size_t keylen,
    int32_t cnt, void *topic_opaque, void *msg_opaque)
{
	struct kf *kf = topic_opaque;

	(void)rkt;
	(void)msg_opaque;
	/* the count the ticks go by (this may be librdkafka's thread) */
	if (kf != NULL && cnt > 0)
		atomic_store_explicit(&kf->alarm_parts, cnt,
		    memory_order_relaxed);
	return cnt > 0 ? kafka_area_partition(key, keylen, cnt) :
	    RD_KAFKA_PARTITION_UA;
}

static int
kf_producer_new(struct kf *kf, const struct kafka_config *cfg, char *err,
    size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char e[512];

	rd_kafka_conf_set_opaque(conf, kf);
	rd_kafka_conf_set_dr_msg_cb(conf, kf_dr_cb);
	rd_kafka_conf_set_error_cb(conf, kf_error_cb);
	rd_kafka_conf_set_log_cb(conf, kf_log_cb);
	if (kf_set(conf, "bootstrap.servers", kf->bootstrap, err, errlen) ||
	    kf_set(conf, "client.id", cfg->client_id, err, errlen) ||
	    kf_set(conf, "enable.idempotence", "true", err, errlen) ||
	    kf_set(conf, "acks", "all", err, errlen) ||
	    kf_set(conf, "reconnect.backoff.max.ms", "1000", err, errlen) ||
	    kf_set(conf, "linger.ms", KF_LINGER_MS, err, errlen) ||
	    kf_set(conf, "queue.buffering.max.kbytes", KF_QUEUE_KB, err,
	    errlen) ||
	    kf_set_props(conf, cfg, "producer", err, errlen)) {
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	kf->max_msgs = kf_conf_u64(conf, "queue.buffering.max.messages",
	    100000);
	kf->max_bytes = kf_conf_u64(conf, "queue.buffering.max.kbytes",
	    1048576) * 1024;
	if ((kf->prod = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e,
	    sizeof(e))) == NULL) {
		rd_kafka_conf_destroy(conf);
		snprintf(err, errlen, "kafka producer: %s", e);
		return -EIO;
	}
	kf->prod_q = rd_kafka_queue_get_main(kf->prod);
	kf->t_inc = rd_kafka_topic_new(kf->prod, cfg->incidents, NULL);
	if (cfg->rejected[0] != '\0')
		kf->t_rej = rd_kafka_topic_new(kf->prod, cfg->rejected, NULL);
	if (cfg->alarms[0] != '\0') {
		rd_kafka_topic_conf_t *tc = rd_kafka_topic_conf_new();

		rd_kafka_topic_conf_set_partitioner_cb(tc, kf_partitioner);
		rd_kafka_topic_conf_set_opaque(tc, kf);
		kf->t_alarm = rd_kafka_topic_new(kf->prod, cfg->alarms, tc);
	}
	if (cfg->telemetry[0] != '\0')
		kf->t_tel = rd_kafka_topic_new(kf->prod, cfg->telemetry, NULL);
	if (kf->t_inc == NULL || (cfg->rejected[0] != '\0' &&
	    kf->t_rej == NULL) || (cfg->alarms[0] != '\0' &&
	    kf->t_alarm == NULL) || (cfg->telemetry[0] != '\0' &&
	    kf->t_tel == NULL)) {
		snprintf(err, errlen, "kafka topic: %s",
		    rd_kafka_err2str(rd_kafka_last_error()));
		return -EINVAL;
	}
	rd_kafka_queue_io_event_enable(kf->prod_q, kf->pipefd[1], "p", 1);
	return 0;
}

static int
kf_consumer_new(struct kf *kf, const struct kafka_config *cfg, char *err,
    size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t rerr;
	char e[512];

	rd_kafka_conf_set_opaque(conf, kf);
	rd_kafka_conf_set_error_cb(conf, kf_error_cb);
	rd_kafka_conf_set_log_cb(conf, kf_log_cb);
	rd_kafka_conf_set_rebalance_cb(conf, kf_rebalance_cb);
	if (kf_set(conf, "bootstrap.servers", kf->bootstrap, err, errlen) ||
	    kf_set(conf, "client.id", cfg->client_id, err, errlen) ||
	    kf_set(conf, "group.id", cfg->group, err, errlen) ||
	    kf_set(conf, "enable.auto.offset.store", "false", err, errlen) ||
	    kf_set(conf, "enable.auto.commit", "true", err, errlen) ||
	    kf_set(conf, "auto.offset.reset", "earliest", err, errlen) ||
	    kf_set(conf, "reconnect.backoff.max.ms", "1000", err, errlen) ||
	    kf_set_props(conf, cfg, "consumer", err, errlen)) {
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	if ((kf->cons = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e,
	    sizeof(e))) == NULL) {
		rd_kafka_conf_destroy(conf);
		snprintf(err, errlen, "kafka consumer: %s", e);
		return -EIO;
	}
	/* one queue for messages, rebalances and errors, one wakeup */
	rd_kafka_poll_set_consumer(kf->cons);
	kf->cons_q = rd_kafka_queue_get_consumer(kf->cons);
	rd_kafka_queue_io_event_enable(kf->cons_q, kf->pipefd[1], "c", 1);
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, cfg->actions,
	    RD_KAFKA_PARTITION_UA);
	rerr = rd_kafka_subscribe(kf->cons, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (rerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errlen, "kafka subscribe %s: %s", cfg->actions,
		    rd_kafka_err2str(rerr));
		return -EINVAL;
	}
	return 0;
}

static void kf_free(struct kf *kf, int timeout_ms);

static int
kf_healthy(const struct pub_sink *s)
{
	const struct kf *kf = container_of(s, struct kf, base);

	return !kf->fatal && !kf->down;
}

static void
kafka_close(struct pub_sink *s, int timeout_ms)
{
	if (s != NULL)
		kf_free(container_of(s, struct kf, base), timeout_ms);
}

static const struct pub_ops kf_ops = {
	.name = "kafka",
	.offer = kf_offer,
	.healthy = kf_healthy,
	.close = kafka_close,
};

int
kafka_new(struct ev_loop *loop, const struct kafka_config *cfg,
    const struct pub_host *host, const struct kafka_action_host *ah,
    struct pub_sink **out, char *err, size_t errlen)
{
	struct kf *kf;
	int rc;

	if (loop == NULL || cfg == NULL || host == NULL || out == NULL ||
	    cfg->incidents == NULL || cfg->incidents[0] == '\0' ||
	    cfg->brokers == NULL || cfg->actions == NULL ||
	    cfg->rejected == NULL || cfg->alarms == NULL ||
	    cfg->telemetry == NULL ||
	    cfg->group == NULL || cfg->client_id == NULL ||
	    cfg->nprops > KAFKA_MAX_PROPS ||
	    (cfg->nprops > 0 && cfg->props == NULL)) {
		snprintf(err, errlen, "kafka: incomplete config (a topic or "
		    "key unset, or over %d properties)", KAFKA_MAX_PROPS);
		return -EINVAL;
	}
	kf = xcalloc(1, sizeof(*kf));
	incjson_buf_init(&kf->alarm_json);
	kf->base.ops = &kf_ops;
	kf->loop = loop;
	kf->host = *host;
	if (ah != NULL)
		kf->ah = *ah;
	kf->actions = xstrdup(cfg->actions);
	kf->tick_shards = cfg->shards;
	kf->tick_source = xstrdup(cfg->client_id);
	kf->pipefd[0] = kf->pipefd[1] = -1;
	ev_io_init(&kf->io, kf_io_cb, -1, EV_READ);
	ev_idle_init(&kf->more, kf_more_cb);
	ev_timer_init(&kf->unknown, kf_unknown_cb, KF_UNKNOWN_RETRY_S, 0.);
	if (pipe2(kf->pipefd, O_NONBLOCK | O_CLOEXEC) != 0) {
		rc = -errno;
		snprintf(err, errlen, "kafka: pipe: %s", strerror(-rc));
		goto err;
	}
	if (cfg->brokers[0] == '\0') {
		if ((rc = kf_mock_start(kf, cfg, err, errlen)) != 0)
			goto err;
	} else
		kf->bootstrap = xstrdup(cfg->brokers);
	kf_log_config(cfg, kf->bootstrap);
	if ((rc = kf_producer_new(kf, cfg, err, errlen)) != 0)
		goto err;
	if (cfg->actions[0] != '\0' && kf->ah.action != NULL &&
	    (rc = kf_consumer_new(kf, cfg, err, errlen)) != 0)
		goto err;
	ev_io_set(&kf->io, kf->pipefd[0], EV_READ);
	ev_io_start(loop, &kf->io);
	/* anything queued before the pipe was set has written nothing */
	kf_serve(kf);
	*out = &kf->base;
	return 0;
err:
	kf_free(kf, 0);
	return rc;
}

/* Tears down in reverse; flushes the producer for up to timeout_ms. */
static void
kf_free(struct kf *kf, int timeout_ms)
{
	if (kf->prod != NULL && timeout_ms > 0) {
		rd_kafka_resp_err_t e = rd_kafka_flush(kf->prod, timeout_ms);

		if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
			log_warnx("kafka: close with messages=%" PRIu64
			    " not delivered after timeout_ms=%d (offered again "
			    "after the next start)", kf->inflight, timeout_ms);
	}
	kf->closing = 1;
	ev_io_stop(kf->loop, &kf->io);
	ev_idle_stop(kf->loop, &kf->more);
	ev_timer_stop(kf->loop, &kf->unknown);
	if (kf->cons != NULL) {
		rd_kafka_resp_err_t e;

		rd_kafka_queue_io_event_enable(kf->cons_q, -1, NULL, 0);
		/* commits what is stored, leaves the group */
		if ((e = rd_kafka_consumer_close(kf->cons)) != 0)
			log_warnx("kafka: consumer close err=\"%s\"",
			    rd_kafka_err2str(e));
	}
	for (int32_t i = 0; i < kf->nparts; i++)
		kf_part_reset(&kf->parts[i]);
	if (kf->cons_q != NULL)
		rd_kafka_queue_destroy(kf->cons_q);
	if (kf->cons != NULL)
		rd_kafka_destroy(kf->cons);
	kf->cons = NULL;
	if (kf->prod != NULL) {
		rd_kafka_queue_io_event_enable(kf->prod_q, -1, NULL, 0);
		/* every report still owed frees its rejection, if any */
		(void)rd_kafka_purge(kf->prod, RD_KAFKA_PURGE_F_QUEUE |
		    RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_poll(kf->prod, 0);
	}
	if (kf->t_inc != NULL)
		rd_kafka_topic_destroy(kf->t_inc);
	if (kf->t_rej != NULL)
		rd_kafka_topic_destroy(kf->t_rej);
	if (kf->t_alarm != NULL)
		rd_kafka_topic_destroy(kf->t_alarm);
	if (kf->t_tel != NULL)
		rd_kafka_topic_destroy(kf->t_tel);
	incjson_buf_fini(&kf->alarm_json);
	if (kf->prod_q != NULL)
		rd_kafka_queue_destroy(kf->prod_q);
	if (kf->prod != NULL)
		rd_kafka_destroy(kf->prod);
	if (kf->mock != NULL)
		rd_kafka_mock_cluster_destroy(kf->mock);
	if (kf->mock_rk != NULL)
		rd_kafka_destroy(kf->mock_rk);
	if (kf->pipefd[0] >= 0)
		close(kf->pipefd[0]);
	if (kf->pipefd[1] >= 0)
		close(kf->pipefd[1]);
	for (unsigned i = 0; i < kf->nshards; i++)
		xfree(kf->shards[i].ring);
	xfree(kf->shards);
	xfree(kf->parts);
	xfree(kf->bootstrap);
	xfree(kf->actions);
	xfree(kf->tick_source);
	xfree(kf);
}

int
kafka_supported(char *why, size_t len)
{
#if defined(__SANITIZE_THREAD__)
	snprintf(why, len, "a thread-sanitizer build (librdkafka's "
	    "thrd_create() threads are invisible to it)");
	return 0;
#else
	(void)why;
	(void)len;
	return 1;
#endif
}

const char *
kafka_bootstrap(const struct pub_sink *s)
{
	return container_of(s, struct kf, base)->bootstrap;
}

void
kafka_stats(const struct pub_sink *s, struct kafka_stats *out)
{
	const struct kf *kf = container_of(s, struct kf, base);

	*out = kf->st;
	out->inflight = kf->inflight;
}

void
kafka_telemetry_host(struct pub_sink *s, const struct kafka_telemetry_host *h)
{
	struct kf *kf = container_of(s, struct kf, base);

	kf->th = *h;
}

int
kafka_telemetry(struct pub_sink *s, uint32_t device, const char *key,
    const char *json, size_t len)
{
	struct kf *kf = container_of(s, struct kf, base);
	int err;

	if (kf->t_tel == NULL)
		return -ENOTCONN;
	if (kf->fatal)
		return -EAGAIN;
	err = kf_produce(kf, kf->t_tel, RD_KAFKA_PARTITION_UA, json, len, key,
	    strlen(key), (void *)((uintptr_t)device << 2 | 2));
	if (err == 0) {
		kf->st.telemetry_produced++;
		return 0;
	}
	if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL ||
	    err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
	    err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
	    err == RD_KAFKA_RESP_ERR__FATAL)
		return -EAGAIN;
	kf->st.refused++;
	kf_log_refused(kf, rd_kafka_topic_name(kf->t_tel), "where=produce",
	    (rd_kafka_resp_err_t)err, len);
	return -EINVAL;
}

int
kafka_fatal(const struct pub_sink *s)
{
	const struct kf *kf = container_of(s, struct kf, base);

	return kf->fatal;
}

void
kafka_test_fatal(struct pub_sink *s)
{
	struct kf *kf = container_of(s, struct kf, base);

	(void)rd_kafka_test_fatal_error(kf->prod,
	    RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "a test's fatal");
}
