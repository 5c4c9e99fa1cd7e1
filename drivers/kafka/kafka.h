/*
 * kafka.h - the Kafka publisher and the tocsin.actions consumer, on the
 * daemon's libev loop (docs/kafka.md has the topics' contracts).
 *
 * The publisher is a struct pub_sink (drivers/pub.h): PUB_EVENT records go
 * to the incidents topic keyed by incident id, PUB_REJECTED to the rejected
 * topic, through one idempotent acks=all librdkafka producer.  Every
 * delivery report is checked: the sink reports a shard done only up to the
 * last position below which everything of that shard is delivered, rewinds
 * a shard after a definite failure, and reports a record the broker refuses
 * for good done after logging and counting it.
 *
 * The consumer reads the actions topic in consumer group `group`, hands
 * each valid action to the host, forwards bad ones to the rejected topic
 * with the reason, and stores an action's offset only once the action is
 * journaled (its PUB_ACTION record is offered to this sink) or its
 * rejection is delivered: an action is never committed before it is safe.
 *
 * librdkafka's queues wake the loop through a pipe (ev_io); nothing polls,
 * so an idle sink costs no CPU.  Everything runs on the loop's thread.
 *
 * A fatal producer error (_FATAL: the idempotent producer can no longer
 * keep order) is logged at error; from then on healthy() is 0 and offer()
 * answers -EAGAIN, so nothing more is taken and nothing is lost (it stays
 * in the journal): the daemon closes the sink and makes a new one, which
 * resumes after the last position reported done.
 */
#ifndef TOCSIN_KAFKA_H
#define TOCSIN_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "correlator/corr.h"
#include "drivers/pub.h"

struct ev_loop;

#define KAFKA_MAX_PROPS	64	/* pass-through properties */

/* A librdkafka property passed through as is ("linger.ms", "5"). */
struct kafka_prop {
	const char	*key;		/* "producer."/"consumer." prefix: that
					 * client only; else both */
	const char	*value;
};

/*
 * Settings.  The string fields are the YAML keys of `kafka:` (the field
 * name), and kafka_settings[] gives each its default and meaning: the
 * config loader reads the section through it, kafka_config_defaults()
 * fills from it, docs/kafka.md lists it.  Strings are borrowed: they must
 * outlive kafka_new() (it copies what it keeps).
 */
struct kafka_config {
	const char	*brokers;	/* bootstrap list; "": embedded mock */
	const char	*incidents;	/* incident events topic */
	const char	*actions;	/* consumed; "": no consumer */
	const char	*rejected;	/* refused actions */
	const char	*alarms;	/* raw alarm transitions; "": off */
	const char	*telemetry;	/* devices' sample batches; "": off */
	const char	*group;		/* consumer group of the actions */
	const char	*client_id;	/* client.id of both clients */
	const char	*changelog;	/* role correlator: state by partition */
	const char	*correlator_group; /* role correlator: of alarms */
	const char	*history_group;	/* role correlator: of incidents, for
					 * the history; "": <client_id>.history,
					 * "off": none */
	const char	*history;	/* role correlator: closed events too,
					 * read by the history; "": it reads
					 * incidents */
	/* not in the table: */
	const struct kafka_prop *props;	/* applied last, in order, so they
					 * override anything above */
	size_t		 nprops;	/* <= KAFKA_MAX_PROPS */
	unsigned	 shards;	/* the daemon's shards: with alarms
					 * set, each shard's ticks go to the
					 * partition of its number when the
					 * topic has exactly this many (the
					 * embedded cluster makes it so);
					 * 0: no ticks */
};

/* One setting: a YAML key of `kafka:` and its field and default. */
struct kafka_setting {
	const char	*key;		/* "brokers" */
	uint16_t	 off;		/* of its const char * in kafka_config */
	const char	*def;		/* default */
	const char	*doc;		/* what it means, one line (markdown) */
};

/* The settings, in docs order; the last has key NULL. */
extern const struct kafka_setting kafka_settings[];

struct rd_kafka_conf_s;

/* rd_kafka_conf_set(), its refusal in err without a secret's value: 0 or
 * -EINVAL. */
int	 kafka_conf_set(struct rd_kafka_conf_s *conf, const char *key,
	    const char *val, char *err, size_t errlen);
/* The pass-through properties for one client, who "producer" or
 * "consumer" (a key with the other's prefix is skipped, one with none
 * applies to both): 0 or -EINVAL. */
int	 kafka_conf_props(struct rd_kafka_conf_s *conf,
	    const struct kafka_prop *props, size_t n, const char *who,
	    char *err, size_t errlen);

/*
 * A consumer that commits its offsets itself once its work is safe (the
 * exactly-once stage, drivers/kafka/ktxn; a correlator's history,
 * daemon/chist): bootstrap.servers, group.id, client.id (unless NULL),
 * read_committed, no auto commit, from the earliest offset when the group
 * has none, then the "consumer" pass-through properties.  The conf, or
 * NULL with the refusal in err.
 */
struct rd_kafka_conf_s *kafka_conf_committing(const char *brokers,
	    const char *group, const char *client_id,
	    const struct kafka_prop *props, size_t n, char *err,
	    size_t errlen);

/* Fills c with every setting's default, and no pass-through property. */
void	 kafka_config_defaults(struct kafka_config *c);

/*
 * A refused action's record for the rejected topic: {"reason", "partition",
 * "offset", "value" (the original, cut at 64 KiB with "truncated": true;
 * bytes that are not UTF-8 as '?')}, compact JSON, malloc'd (xfree).  The
 * action consumer's and the scale-out correlator's (daemon/cstage).
 */
struct rd_kafka_message_s;
char	*kafka_rejection(const struct rd_kafka_message_s *m,
	    const char *reason);

/*
 * 1 if a property's value must never be logged (passwords, SASL, tokens,
 * secrets, private keys: the key contains "password", "secret", "sasl",
 * "token", or starts with "ssl.key"); such values are logged as "***".
 */
int	 kafka_prop_secret(const char *key);

/*
 * Where valid actions go.  action() gets an action read from partition
 * `part` at `offset` of the actions topic; a's strings are valid during
 * the call only (copy them).  It returns 0 (queued to the owning shard,
 * which will journal it and offer a PUB_ACTION record with this
 * kpart/koffset), -ENOENT (no shard owns the id: the action is rejected as
 * "unknown incident"), -EAGAIN (the shard's ring is full: the partition is
 * paused with the action kept, and retried at kafka_actions_resume()), or
 * another -errno (rejected as "refused").
 */
struct kafka_action_host {
	int	(*action)(void *arg, const struct corr_action *a, int32_t part,
		    int64_t offset);
	void	*arg;
};

/* Counters (kafka_stats()). */
struct kafka_stats {
	uint64_t	 produced;	/* records handed to librdkafka */
	uint64_t	 delivered;	/* delivery reports without error */
	uint64_t	 failed;	/* definite failures (delivery reports
					 * with an error not a refusal) */
	uint64_t	 rewinds;	/* host->rewind() calls */
	uint64_t	 refused;	/* records refused for good (reported
					 * done) */
	uint64_t	 queue_full;	/* offers answered -EAGAIN */
	uint64_t	 actions_in;	/* actions consumed (valid or not) */
	uint64_t	 actions_rejected; /* forwarded to the rejected topic */
	uint64_t	 actions_paused; /* host said -EAGAIN: partition paused */
	uint64_t	 actions_assigned; /* partitions of the actions topic
					 * this consumer holds now (a gauge) */
	uint64_t	 inflight;	/* messages produced and not yet
					 * reported (records, rejections,
					 * telemetry; a gauge) */
	uint64_t	 telemetry_produced; /* telemetry batches handed over */
	uint64_t	 telemetry_lost; /* ... whose delivery failed (the host
					 * was told: it sends them again) */
	uint64_t	 ticks_produced; /* tocsin.alarms ticks handed over */
	uint64_t	 ticks_skipped;	/* ... not produced: the partition
					 * count unknown yet or not shards */
};

/*
 * Creates both clients on loop (the caller runs it) and starts consuming
 * (if cfg->actions is not "" and ah is not NULL).  host is copied and its
 * callbacks run on the loop's thread.  With cfg->brokers "" an embedded
 * mock cluster is started first (logged with its bootstrap address; see
 * kafka_bootstrap()).  Returns 0 and sets *out; -EINVAL with a one-line
 * reason in err (the property's key, never a secret value) for a property
 * librdkafka refuses or a bad config; -EIO when a client cannot be
 * created.  Nothing is left running on failure.  Free with
 * (*out)->ops->close(*out, timeout_ms).
 */
int	 kafka_new(struct ev_loop *loop, const struct kafka_config *cfg,
	    const struct pub_host *host, const struct kafka_action_host *ah,
	    struct pub_sink **out, char *err, size_t errlen);

/* The bootstrap servers in use ("127.0.0.1:PORT" for the mock). */
const char *kafka_bootstrap(const struct pub_sink *s);
/*
 * 1 when librdkafka can run in this build, else 0 with why: a
 * thread-sanitizer build cannot (librdkafka starts its threads with C11
 * thrd_create(), which GCC 12's TSan does not intercept, and the first
 * allocation on such a thread crashes inside TSan); the daemon then runs
 * without the Kafka publisher and its journal waits for it.
 */
int	 kafka_supported(char *why, size_t len);

/* Copies the counters.  Loop thread. */
void	 kafka_stats(const struct pub_sink *s, struct kafka_stats *out);

/*
 * The host has room again: retries every action kept after an -EAGAIN and
 * resumes the partitions whose action is taken.  Loop thread; cheap when
 * nothing is paused.
 */
void	 kafka_actions_resume(struct pub_sink *s);

/*
 * 1 once the producer hit a fatal error (the idempotent producer can no
 * longer keep order): the daemon closes this sink and makes a new one in
 * its place (publish_replace()).  kafka_test_fatal() makes the producer
 * fatal as a broker could (librdkafka's rd_kafka_test_fatal_error()): for
 * tests.
 */
int	 kafka_fatal(const struct pub_sink *s);
void	 kafka_test_fatal(struct pub_sink *s);

/*
 * Telemetry.  Not journaled: the daemon folds samples into the latest value
 * of every point (daemon/telem) and hands the sink one batch per device,
 * keyed by its id.  kafka_telemetry() returns 0 (taken), -EAGAIN (the
 * queue is full or the producer unusable: keep it, try again later),
 * -ENOTCONN (no telemetry topic configured) or -EINVAL (refused for good:
 * logged and counted).  A batch whose delivery fails is reported to
 * lost(device), so the host sends that device's latest values again.
 * Loop thread.
 */
struct kafka_telemetry_host {
	void	(*lost)(void *arg, uint32_t device);
	void	*arg;
};

void	 kafka_telemetry_host(struct pub_sink *s,
	    const struct kafka_telemetry_host *h);
int	 kafka_telemetry(struct pub_sink *s, uint32_t device, const char *key,
	    const char *json, size_t len);

/*
 * tocsin.alarms' partitioner (behind librdkafka's partitioner_cb, so any
 * thread): the key is the area, and its transitions go to partition
 * fleet_area_shard(area, cnt) of the topic's cnt, the area's shard,
 * whatever a client's default partitioner is, so that every poller of a
 * deployment puts an area on the same partition (docs/scaleout.md, "A
 * partition is a shard").  -1 when cnt is not positive.
 */
int32_t	 kafka_area_partition(const void *key, size_t keylen, int32_t cnt);

/*
 * Reads one tocsin.actions value (n bytes at p, no NUL needed): NULL with
 * *a filled (its strings live in *root, which the caller frees with
 * json_decref() whatever the result), or the rejection reason (docs/
 * kafka.md's table).  A missing "at" is now.  The consumer's parser; its
 * fuzz target is tests/fuzz/fuzz_action.c.
 */
const char *kafka_action_parse(const void *p, size_t n, int64_t now,
	    json_t **root, struct corr_action *a);

#endif
