/*
 * kafkafix.h - a small harness around drivers/kafka for the unit and the
 * broker tests: a libev loop, a fake pub_host that records done, rewind
 * and ready calls, an action host that records actions, offers of
 * PUB_EVENT records with growing positions across shards, bounded waits,
 * and kcat as the user's client (every wait bounded).
 */
#ifndef TOCSIN_TEST_KAFKAFIX_H
#define TOCSIN_TEST_KAFKAFIX_H

#include <stddef.h>
#include <stdint.h>

#include "drivers/kafka/kafka.h"

#define KFX_SHARDS	4
#define KFX_ACTS	256

/* An action the host received (copied). */
struct kfx_act {
	char		 incident[CORR_ID_LEN];
	uint8_t		 type;
	char		 actor[CORR_ACTOR_MAX + 1];
	char		 note[256];
	int64_t		 at;
	int32_t		 part;
	int64_t		 offset;
};

struct kfx {
	struct ev_loop	*loop;
	struct pub_sink	*sink;
	struct kafka_config cfg;
	struct kafka_prop props[KAFKA_MAX_PROPS];
	char		 brokers[256];
	char		 incidents[96], actions[96], rejected[96], group[96];
	char		 alarms[96];	/* set; cfg.alarms "" until a test
					 * points it here */
	char		 err[512];
	/* the fake pub_host */
	uint64_t	 next_pos[KFX_SHARDS];	/* next position to offer */
	uint64_t	 done[KFX_SHARDS];	/* last done pos + 1, 0: none */
	unsigned	 ndone[KFX_SHARDS];	/* done calls */
	unsigned	 done_backwards;	/* done calls not growing */
	uint64_t	 rewind_pos[KFX_SHARDS]; /* last rewind pos + 1 */
	unsigned	 nrewind;
	unsigned	 nready;
	/* the action host */
	struct kfx_act	 acts[KFX_ACTS];
	unsigned	 nacts;
	unsigned	 calls;		/* action() calls, retries included */
	int		 eagain_at;	/* call number (1-based) that gets
					 * -EAGAIN, 0: never */
	int		 enoent_prefix;	/* ids starting "NOPE" get -ENOENT */
};

/*
 * Fills x with a fresh loop and a config whose topics are unique to this
 * process and tag (real brokers are shared by nothing but parallel tests
 * still must not meet); brokers "" for the embedded mock.  Props are added
 * with kfx_prop() before kfx_open().
 */
void	 kfx_init(struct kfx *x, const char *brokers, const char *tag);
void	 kfx_prop(struct kfx *x, const char *key, const char *value);
/* kafka_new() with the harness hosts; returns its result. */
int	 kfx_open(struct kfx *x, int with_actions);
/* Closes the sink (flush timeout_ms) and the loop. */
void	 kfx_close(struct kfx *x, int timeout_ms);

/*
 * Offers one PUB_EVENT of incident "INC-<shard>-<n>" with seq to shard at
 * its next position; returns offer()'s result (the position is used only
 * when it is 0).  bytes > 0 pads the JSON to about that size.
 */
int	 kfx_offer_event(struct kfx *x, unsigned shard, unsigned n,
	    uint64_t seq, size_t bytes);
/* Offers a record of kind (not PUB_EVENT) to shard at its next position. */
int	 kfx_offer_kind(struct kfx *x, unsigned shard, uint8_t kind,
	    int32_t kpart, int64_t koffset);

/*
 * Offers one PUB_ALARM to shard at its next position: device "D<n>" of
 * site "S<n>" in area, raise when n is even, value n / 2.0 (NAN when n is
 * a multiple of 7, as COMM_LOSS has); at = 1,700,000,000,000 + n.
 */
int	 kfx_offer_alarm(struct kfx *x, unsigned shard, const char *area,
	    unsigned n);
/* Offers one PUB_TICK at `at` to shard at its next position. */
int	 kfx_offer_tick(struct kfx *x, unsigned shard, int64_t at);

/* Runs the loop until pred(x) or timeout_ms; returns pred(x). */
int	 kfx_wait(struct kfx *x, int (*pred)(struct kfx *), int timeout_ms);
/* Runs the loop for ms, whatever happens. */
void	 kfx_run_for(struct kfx *x, int ms);
/* 1 when every shard's done reached its last offered position. */
int	 kfx_all_done(struct kfx *x);

/*
 * kcat -C of a whole topic, "%k %s\n" per message (partition order);
 * malloc'd, NULL if kcat failed.  Bounded by timeout_ms.
 */
char	*kfx_kcat_read(const char *brokers, const char *topic, int timeout_ms);
/* The same with kcat's -f format fmt ("%p %k %s\n": the partition too). */
char	*kfx_kcat_read_fmt(const char *brokers, const char *topic,
	    const char *fmt, int timeout_ms);
/*
 * kcat -P of lines ("key|value" each) to topic, as ticketing would
 * (idempotent, acks=all).  Returns kcat's exit status.
 */
int	 kfx_kcat_write(const char *brokers, const char *topic,
	    const char *const *lines, size_t n);
/*
 * Committed offset of topic/partition for group (a separate consumer
 * handle asks the coordinator), or -1001 if none, or -1 on error.
 */
int64_t	 kfx_committed(const char *brokers, const char *group,
	    const char *topic, int32_t part);

/*
 * Checks a kcat "%k %s" dump of incident events: every key's seq grows by
 * one from 1 (nothing lost, no repeat when dups is 0; repeats skipped when
 * dups is 1), and key INC-<s>-<n> has `per_key` events for every shard
 * s < shards and n < keys.  Returns 0, or -1 with why in err.
 */
int	 kfx_check_events(const char *dump, unsigned shards, unsigned keys,
	    unsigned per_key, int dups, char *err, size_t errlen);

#endif
