/*
 * live.c - see live.h.
 *
 * Wiring, in start order (torn down in reverse through one ladder):
 *   1. the router: daemon.shards engines, each reporting to its own
 *      struct live_shard (counters, then the shard's journal:
 *      daemon/store), and one producer, the poll thread;
 *   2. one journal per shard under daemon.state_dir/shard-N, each engine
 *      restored from its journal before anything else runs, the shards
 *      at once, a thread each, joined (daemon/store: store_open_all);
 *   3. the publish pump (daemon/publish) and its sinks: the file sink
 *      (drivers/file), each reading every journal from its own position;
 *      the incident view (daemon/view) filled from the restored engines
 *      on a thread of its own from here until 6 (live_fill_begin);
 *   4. the poller over the fleet, its alarm sink pushing into the router;
 *   5. watchers: the tick timer, the duration timer, the stats timer,
 *      SIGTERM, SIGINT, SIGHUP (reload: live_reload, daemon/reload.h),
 *      SIGUSR1;
 *   6. shard threads, then the poller's timers, then ev_run().
 * The HTTP server (daemon/http, its own thread, serving daemon/monitor's
 * /healthz, /readyz and /metrics) starts between 1 and 2, so /readyz
 * answers "not ready" while the journals are restored; it only ever reads
 * daemon/stats copies: the poll thread publishes one every STATS_PERIOD_MS
 * (the stats timer) and each shard thread from its batch hook (live's
 * hooks wrap the store's).
 *
 * Nothing is shared mutable between threads but the rings, the journals'
 * durable ends and counters: a live_shard's counters are written by its
 * shard thread only and read (relaxed) for the SIGUSR1 and stop lines.
 *
 * Back-pressure, and why nothing is lost.  The poll loop never waits for
 * a shard: alarms go through the outbox (daemon/outbox.h), which queues a
 * transition at once when the shard's ring has room and otherwise holds
 * the (device, code) key and re-sends its current state when the router
 * says the shard freed room (an ev_async from the shard thread) or at the
 * next tick.  A shard writes what it decides to its journal and never
 * waits for a publisher: a slow or dead sink only falls behind in the
 * journal (disk, not memory).  A shard is held back only by its own disk
 * (daemon/store.h), and then the outbox folds alarm state as above.  A
 * stall is logged when it starts, every LIVE_STALL_LOG_S while it lasts,
 * and when it ends, with its counts.  A shard with held keys gets no tick
 * (its clock must not pass alarms still waiting); the tick after the
 * flush carries the time.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "correlator/incjson.h"
#include "daemon/afwd.h"
#include "daemon/clock.h"
#include "daemon/command.h"
#include "daemon/live.h"
#include "daemon/log.h"
#include "daemon/http.h"
#include "daemon/mem.h"
#include "daemon/mkdirs.h"
#include "daemon/monitor.h"
#include "daemon/opapi.h"
#include "daemon/outbox.h"
#include "daemon/poller.h"
#include "daemon/ring.h"
#include "daemon/publish.h"
#include "daemon/reload.h"
#include "daemon/router.h"
#include "daemon/sdnotify.h"
#include "daemon/sse.h"
#include "daemon/view.h"
#include "daemon/webui.h"
#include "daemon/stats.h"
#include "daemon/store.h"
#include "daemon/telem.h"
#include "drivers/file/filesink.h"
#include "drivers/kafka/kafka.h"
#include "drivers/redis/redis.h"

#define LIVE_TICK_S		0.25	/* shards' time advances this often */
#define LIVE_TICK_KEEP_MS	1000	/* with tocsin.alarms: a shard journals
					 * (and publishes) a tick this often */
#define LIVE_RETIRED_RETRY_S	5	/* retired.json not written: again */
#define LIVE_RING_SLOTS		4096	/* alarms per producer x shard ring */
#define LIVE_PRODUCERS		2	/* the poll thread; the HTTP writes'
					 * thread (daemon/opapi) */
#define LIVE_HTTP_PRODUCER	1
#define LIVE_TELEM_RETRY_MS	100	/* a full telemetry queue rests this */
#define LIVE_STALL_LOG_S	10.0	/* a held alarm path logs this often */
#define LIVE_RELOAD_GRACE_S	(OPAPI_QUEUE_MS / 1000.0 + 3.0)
					/* a replaced config outlives its swap
					 * this long at least: an HTTP write
					 * that looked it up may wait for ring
					 * room OPAPI_QUEUE_MS */
#define LIVE_PUBLISH_WAIT_S	5.0	/* stop: sinks may catch up this long;
					 * the rest waits in the journal */

struct live;

/* One shard's sink: runs on that shard's thread. */
struct live_shard {
	alignas(MEM_LINE) struct live *lv; /* a line each: written by its shard */
	unsigned	 id;		/* shard number = file sink producer */
	_Atomic uint64_t events;	/* incident events emitted */
	_Atomic uint64_t opened;	/* "opened" events */
	_Atomic uint64_t resolved;	/* "resolved" events */
	_Atomic uint64_t sla;		/* sla_warning, sla_breached, escalated */
	_Atomic uint64_t rejected;	/* actions rejected */
	int64_t		 reported_ms;	/* last stats copy (clock_mono_ms) */
	uint32_t	*by_area;	/* live incidents per area, counted
					 * for the stats copy */
	uint32_t	 live[CORR_STATE__COUNT][STATS_TIERS]; /* counted too */
	int		 counted;	/* live and by_area hold the counts of
					 * the engine with these stats: */
	uint64_t	 counted_events, counted_incidents;
	const struct fleet *fleet;	/* the engine's (a reload swaps it on
					 * the shard thread) */
};

/* A configuration a reload replaced, freed once every shard passed it. */
struct live_retired {
	struct live_retired *next;
	struct config	*cfg;		/* the replaced one */
	struct reload	*r;		/* the reload that replaced it */
	double		 at;		/* ev_now of the swap */
	int		 done;		/* every shard passed it (logged) */
};

struct live {
	struct config	*cfg;		/* the running configuration */
	struct config	*cfg0;		/* the one tocsind started with (its
					 * caller's; the sinks' settings) */
	struct corr_sink *sinks;	/* the engines' (nshards) */
	struct live_retired *retired;	/* replaced configs not yet freed */
	struct live_retired *kept;	/* ... kept until the stop */
	struct stats_reload reloads;	/* counters for /metrics */
	struct reload_marks retired_marks; /* the last reload's, while
					 * retired.json is not written */
	uint32_t	 retired_fails;	/* failed writes of it in a row */
	double		 retired_try_at; /* ev_now of the next attempt */
	struct ev_loop	*loop;
	struct store	**stores;	/* nshards journals */
	struct publish	*pub;		/* journals -> sinks */
	struct pub_sink	*out;		/* the file sink */
	struct pub_sink	*history;	/* closed incidents, by month */
	struct pub_sink	*redis;		/* or NULL (redis.enabled false) */
	struct pub_sink	*kafka;		/* tocsin.incidents, tocsin.actions */
	struct afwd	*afwd;		/* role poller: actions to partitions */
	struct afwd_config afwd_cfg;
	char		 afwd_txn[160];
	struct telem	*telem;		/* tocsin.telemetry, or NULL (off) */
	int		 kafka_idx;	/* its publish slot */
	int64_t		 kafka_next_try; /* renewal: not before (mono ms) */
	uint64_t	 kafka_renewals;
	uint8_t		*comm;		/* per device: 0 not yet polled, 1 ok,
					 * 2 lost (Redis device:<id> on change) */
	uint8_t		*mcomm;		/* per device: enum stats_comm */
	uint64_t	 ncomm[STATS_COMM__COUNT]; /* devices by comm */
	uint64_t	 rtt[STATS_RTT_BUCKETS + 1]; /* polls by mean RTT */
	uint64_t	 rtt_count;
	double		 rtt_sum_s;
	struct stats	*stats;		/* copies for the HTTP thread */
	struct monitor	*monitor;	/* /healthz, /readyz, /metrics */
	struct view	*view;		/* the incident read API */
	pthread_t	 filler;	/* the start's fill (live_fill_begin) */
	int		 filling;	/* ... runs: join it */
	struct sse	*sse;		/* GET /api/v1/events */
	struct command	*command;	/* remote handling (declared commands) */
	struct opapi	*opapi;		/* the write routes, GET sites */
	struct http_server *http;	/* or NULL (http.enabled false) */
	char		*http_token;	/* from http.token_file, or NULL */
	int		 fidx, hidx, ridx; /* publish indexes or -1 */
	int		 actions_paused; /* a shard ring refused an action */
	char		*redis_password; /* from redis.password_file */
	uint64_t	 dump_want;	/* bit per shard: a resync dump asked */
	struct router *router;
	struct live_shard *shards;	/* cfg->daemon.shards */
	unsigned	 nshards;
	struct poller	*poller;
	struct poller_config pc;	/* its settings (a reload compares) */
	struct outbox	*outbox;	/* the poll thread's way to the shards */
	ev_async	 room;		/* a shard freed room: flush the outbox */
	ev_timer	 tick;		/* router_tick() */
	ev_timer	 statst;	/* the poll thread's stats copy */
	ev_timer	 deadline;	/* -d SECONDS */
	ev_signal	 sigterm, sigint, sighup, sigusr1;
	const char	*stop_reason;	/* "SIGTERM", "duration", ... */
	double		 started;	/* ev_now at start */
	double		 stalled_at;	/* ev_now when held keys appeared, or 0 */
	double		 stall_logged;	/* ev_now of the last stall line */
	uint64_t	 ticks;		/* ticks sent */
	uint64_t	 ticks_skipped;	/* shard ticks held back (ring full or
					 * alarms still held for that shard) */
};

static void live_reload(struct live *lv);
static void live_retired_save(struct live *lv);
static void live_reload_reap(struct live *lv, int all);

static int64_t
live_now_ms(struct live *lv)
{
	return (int64_t)(ev_now(lv->loop) * 1000.0);
}

/* The alarm path is held: say so when it starts, now and then, and when
 * it ends. */
static void
live_stall_log(struct live *lv, const struct alarm_event *ev)
{
	const struct fleet *f = lv->cfg->fleet;
	struct outbox_stats os;
	double now = ev_now(lv->loop);

	outbox_stats(lv->outbox, &os);
	if (os.pending == 0) {
		if (lv->stalled_at != 0)
			log_info("alarm path flowing again held_s=%.1f "
			    "alarms_held=%llu alarms_folded=%llu "
			    "alarms_resent=%llu", now - lv->stalled_at,
			    (unsigned long long)os.held,
			    (unsigned long long)os.folded,
			    (unsigned long long)os.resent);
		lv->stalled_at = 0;
		return;
	}
	if (lv->stalled_at == 0) {
		lv->stalled_at = now;
		lv->stall_logged = 0;
	}
	if (ev == NULL || (lv->stall_logged != 0 &&
	    now - lv->stall_logged < LIVE_STALL_LOG_S))
		return;
	lv->stall_logged = now;
	log_warnx("alarm path held device=%s site=%s code=%s shard=%u "
	    "reason=\"shard queue full\" held_keys=%llu alarms_held=%llu "
	    "alarms_folded=%llu (state re-sent when the shard has room)",
	    f->devices[ev->device].id, f->sites[ev->site].id,
	    f->codes[ev->code], router_shard_of(lv->router, ev->site),
	    (unsigned long long)os.pending, (unsigned long long)os.held,
	    (unsigned long long)os.folded);
}

/* Re-sends held alarm state while the shards have room. */
static void
live_flush(struct live *lv)
{
	if (outbox_flush(lv->outbox) == 0 && lv->stalled_at != 0)
		live_stall_log(lv, NULL);
}

/* ---- shard threads ---- */

/* The poller's settings: the modbus section's, and the daemon's share. */
static int
live_poller_config(const struct config *cfg, struct poller_config *pc)
{
	int rc = poller_config_from(&cfg->modbus, pc);

	pc->shares = cfg->daemon.poll_shares;
	pc->share = cfg->daemon.poll_share;
	return rc;
}

static void
live_shard_event(void *arg, const struct corr_event *ev)
{
	struct live_shard *ls = arg;

	ring_add_owned(&ls->events, 1);
	switch (ev->type) {
	case CORR_EV_OPENED:
		ring_add_owned(&ls->opened, 1);
		break;
	case CORR_EV_RESOLVED:
		ring_add_owned(&ls->resolved, 1);
		break;
	case CORR_EV_SLA_WARNING:
	case CORR_EV_SLA_BREACHED:
	case CORR_EV_ESCALATED:
		ring_add_owned(&ls->sla, 1);
		break;
	default:
		break;
	}
	/* a poller's engines keep its alarm state across a restart (the
	 * journal's inputs and snapshots); incidents are the correlators'
	 * to publish (docs/scaleout.md, "poller") */
	if (ls->lv->cfg0->daemon.role != CFG_ROLE_POLLER)
		store_event(ls->lv->stores[ls->id], ev);
}

static void
live_shard_rejected(void *arg, const struct corr_action *a,
    const char *reason)
{
	struct live_shard *ls = arg;

	ring_add_owned(&ls->rejected, 1);
	log_warnx("action rejected incident=%s action=%s actor=%s reason=\"%s\"",
	    a->incident, corr_action_name((enum corr_action_type)a->type),
	    a->actor != NULL ? a->actor : "-", reason);
	store_rejected(ls->lv->stores[ls->id], a, reason);
}

static const struct corr_sink_ops live_shard_ops = {
	.event = live_shard_event,
	.rejected = live_shard_rejected,
};

/* ---- poll thread ---- */

static void
live_alarm(void *arg, const struct alarm_event *ev)
{
	struct live *lv = arg;

	if (outbox_put(lv->outbox, ev) == 1)
		live_stall_log(lv, ev);
}

/* Shard thread: it freed room in a ring the poll thread was refused by. */
static void
live_room(void *arg, unsigned shard)
{
	struct live *lv = arg;

	(void)shard;
	ev_async_send(lv->loop, &lv->room);
}

static void
live_room_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct live *lv = container_of(w, struct live, room);

	(void)loop;
	(void)revents;
	live_flush(lv);
	if (lv->actions_paused && lv->kafka != NULL) {
		lv->actions_paused = 0;
		kafka_actions_resume(lv->kafka);
	}
}

/* A poll done: counted for /metrics; a device whose communication state
 * changed goes to Redis. */
static void
live_poll(void *arg, const struct poller_poll *p)
{
	struct live *lv = arg;
	uint8_t c = p->comm_lost ? 2 : 1;
	/* metrics: ok once it answers, lost in COMM_LOSS, else as it was */
	uint8_t m = p->comm_lost ? STATS_COMM_LOST : p->good ? STATS_COMM_OK :
	    lv->mcomm[p->device];

	if (p->rtt_us > 0) {
		lv->rtt[stats_rtt_bucket(p->rtt_us)]++;
		lv->rtt_count++;
		lv->rtt_sum_s += p->rtt_us / 1e6;
	}
	if (lv->mcomm[p->device] != m) {
		lv->ncomm[lv->mcomm[p->device]]--;
		lv->ncomm[m]++;
		lv->mcomm[p->device] = m;
	}
	if (lv->redis == NULL || lv->comm[p->device] == c)
		return;
	lv->comm[p->device] = c;
	(void)redis_device_put(lv->redis, lv->cfg->fleet->devices[p->device].id,
	    c == 2 ? "lost" : "ok", p->done_ms, p->rtt_us / 1000);
}

static const struct poller_sink_ops live_poller_ops = {
	.rules = { .alarm = live_alarm, .sample = NULL },
	.poll = live_poll,
};

/* Telemetry on (kafka.telemetry set): samples that cleared their deadband
 * are folded into the latest value of each point and sent per device. */
static void
live_sample(void *arg, const struct almrule_sample *s)
{
	struct live *lv = arg;

	telem_sample(lv->telem, s);
}

static const struct poller_sink_ops live_poller_telem_ops = {
	.rules = { .alarm = live_alarm, .sample = live_sample },
	.poll = live_poll,
};

static int
live_telem_send(void *arg, uint32_t device, const char *key,
    const char *json, size_t len)
{
	struct live *lv = arg;

	return kafka_telemetry(lv->kafka, device, key, json, len);
}

static const struct telem_out_ops live_telem_out_ops = { live_telem_send };

static void
live_telem_lost(void *arg, uint32_t device)
{
	struct live *lv = arg;

	if (lv->telem != NULL)
		telem_lost(lv->telem, device);
}

static void live_kafka_renew(struct live *lv);

static void
live_send_tick(struct live *lv)
{
	int64_t now = live_now_ms(lv);

	live_flush(lv);
	if (lv->kafka != NULL && kafka_fatal(lv->kafka))
		live_kafka_renew(lv);
	if (lv->actions_paused && lv->kafka != NULL) {
		lv->actions_paused = 0;
		kafka_actions_resume(lv->kafka);
	}
	lv->ticks++;
	if (lv->retired != NULL)
		live_reload_reap(lv, 0);
	if (lv->reloads.retired_unsaved &&
	    ev_now(lv->loop) >= lv->retired_try_at)
		live_retired_save(lv);
	for (unsigned s = 0; s < lv->nshards; s++) {
		if (outbox_pending(lv->outbox, s) > 0 ||
		    router_tick_shard(lv->router, 0, s, now) != 0)
			lv->ticks_skipped++;
		if ((lv->dump_want & (1ULL << s)) &&
		    router_dump_shard(lv->router, 0, s, now) == 0)
			lv->dump_want &= ~(1ULL << s);
	}
}

/* A sink lost its state (Redis restarted): every shard dumps its live
 * incidents into its journal; a full ring retries at the next tick. */
static void
live_resync(void *arg)
{
	struct live *lv = arg;
	int64_t now = live_now_ms(lv);

	for (unsigned s = 0; s < lv->nshards; s++)
		if (router_dump_shard(lv->router, 0, s, now) != 0)
			lv->dump_want |= 1ULL << s;
}

/*
 * The start: the view (a memory sink, starting at each journal's end)
 * takes every shard's live set straight from its engine, before the shard
 * threads run, at the position the journal ends at.  Not through the
 * journal: the journal holds every state already, and the one other sink
 * that reads dumps, Redis, asks for its own when it connects.  A dump
 * there was about 1.9 KB a live incident written, synced, read back and
 * checked at every start (190 MB for 100,000), only for the view.  A
 * poller's view stays empty; without HTTP nothing reads it.
 *
 * On a thread of its own (live_fill_begin, live_fill_end), beside the
 * rest of the start: the poller, the alarms' seeding, the clients of
 * Kafka and Redis.  The engines are only read until the shard threads
 * start, which live_fill_end waits for, and the fill reports nothing done
 * to the pump (view_fill_sink: the view's readers start at the journals'
 * ends).  tocsind with 100,000 open incidents was ready about a fifth
 * sooner (docs/benchmarks.md, "The view's fill beside the start").  It
 * starts after the Kafka client: beside the embedded cluster's start it
 * made that start wait a second now and then (the same section).
 */
static void
live_fill_view(struct live *lv)
{
	struct store_dumper d;
	uint64_t passed = 0;

	store_dumper_init(&d);
	for (unsigned i = 0; i < lv->nshards; i++) {
		struct corr_engine *e = router_engine(lv->router, i);

		passed += store_dump_sink(&d, view_fill_sink(lv->view), i,
		    journal_written(store_journal(lv->stores[i])), e,
		    lv->cfg->fleet, corr_engine_now(e));
	}
	store_dumper_fini(&d);
	if (passed > 0)
		log_warnx("start: %" PRIu64 " live incidents' records do not "
		    "decode; not listed", passed);
}

static void *
live_fill_main(void *arg)
{
	live_fill_view(arg);
	return NULL;
}

static void
live_fill_begin(struct live *lv)
{
	int rc;

	if (lv->cfg->daemon.role == CFG_ROLE_POLLER ||
	    !config_http_on(&lv->cfg->http))
		return;
	if ((rc = pthread_create(&lv->filler, NULL, live_fill_main,
	    lv)) == 0) {
		lv->filling = 1;
		return;
	}
	log_warnx("start: no thread for the view's fill (%s); filled here",
	    strerror(rc));
	live_fill_view(lv);
}

/* Before the shard threads start, and on the way out of a failed start. */
static void
live_fill_end(struct live *lv)
{
	if (lv->filling)
		pthread_join(lv->filler, NULL);
	lv->filling = 0;
}

/* Shard thread: new records of its journal are durable. */
static void
live_durable(void *arg, unsigned shard)
{
	publish_kick(((struct live *)arg)->pub, shard);
}

static void
live_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct live *lv = container_of(w, struct live, tick);

	(void)loop;
	(void)revents;
	live_send_tick(lv);
}

/* ---- stats for the HTTP thread (daemon/stats.h) ---- */

/* The Redis sink's failures and records in flight. */
static void
live_redis_counts(struct live *lv, struct stats_sink *k)
{
	struct redis_stats rs;

	redis_stats(lv->redis, &rs);
	k->errors = rs.errors + rs.connect_failures;
	k->inflight = rs.inflight;
}

/* A sink's own failures and records in flight, by what it is. */
static void
live_sink_counts(struct live *lv, int idx, struct stats_sink *k)
{
	struct filesink_counters fc;
	struct kafka_stats ks;

	if (idx == lv->fidx || idx == lv->hidx) {
		filesink_counters(idx == lv->fidx ? lv->out : lv->history, &fc);
		k->errors = fc.write_errors + fc.sync_errors;
	} else if (idx == lv->ridx && lv->redis != NULL) {
		live_redis_counts(lv, k);
	} else if (idx == lv->kafka_idx && lv->kafka != NULL) {
		kafka_stats(lv->kafka, &ks);
		k->errors = ks.failed + ks.refused;
		k->inflight = ks.inflight;
	}
}

/* Poll thread: its copy of everything the loop owns. */
static void
live_stats_put(struct live *lv)
{
	struct stats_poll *sp = xcalloc(1, sizeof(*sp));
	struct publish_sink_stats pst;

	sp->at_ms = clock_mono_ms();
	poller_counters(lv->poller, &sp->pc);
	outbox_stats(lv->outbox, &sp->os);
	router_producer_stats(lv->router, 0, &sp->rp);
	sp->backlog = router_backlog(lv->router);
	sp->sleeps = router_sleeps(lv->router);
	sp->ticks = lv->ticks;
	sp->ticks_skipped = lv->ticks_skipped;
	memcpy(sp->comm, lv->ncomm, sizeof(sp->comm));
	stats_put_comm(lv->stats, lv->mcomm, lv->cfg->fleet->ndevices);
	memcpy(sp->rtt, lv->rtt, sizeof(sp->rtt));
	sp->rtt_count = lv->rtt_count;
	sp->rtt_sum_s = lv->rtt_sum_s;
	for (unsigned i = 0; i < publish_nsinks(lv->pub) &&
	    sp->nsinks < STATS_MAX_SINKS; i++) {
		struct stats_sink *k = &sp->sinks[sp->nsinks++];

		publish_sink_stats(lv->pub, (int)i, &pst);
		snprintf(k->name, sizeof(k->name), "%s", pst.name);
		k->offered = pst.offered;
		k->refused = pst.refused;
		k->rewinds = pst.rewinds;
		k->skipped = pst.skipped;
		k->lag = pst.lag;
		k->healthy = pst.healthy;
		live_sink_counts(lv, (int)i, k);
	}
	if (lv->redis != NULL && lv->ridx < 0 &&
	    sp->nsinks < STATS_MAX_SINKS) {
		/* a poller's, outside the pump: its device hashes */
		struct stats_sink *k = &sp->sinks[sp->nsinks++];

		snprintf(k->name, sizeof(k->name), "redis");
		k->healthy = lv->redis->ops->healthy(lv->redis);
		live_redis_counts(lv, k);
	}
	stats_put_poll(lv->stats, sp);
	xfree(sp);
}

static void
live_stats_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	live_stats_put(container_of(w, struct live, statst));
}

/* What live_count_incident fills. */
struct live_count {
	struct stats_shard *s;
	const struct fleet *f;
};

/* corr_engine_each callback, shard thread: one live incident counted. */
static void
live_count_incident(void *arg, const struct corr_incident *ci)
{
	struct live_count *lc = arg;
	unsigned tier = TIER__COUNT;	/* "none": an area incident */

	if (ci->site != FLEET_NONE && ci->site < lc->f->nsites)
		tier = lc->f->sites[ci->site].tier;
	if (ci->state < CORR_STATE__COUNT && tier < STATS_TIERS)
		lc->s->live[ci->state][tier]++;
	if (ci->area < lc->f->nareas)
		lc->s->by_area[ci->area]++;
}

/*
 * Shard thread, after a round: its stats copy, once a STATS_PERIOD_MS.
 * The live incidents are counted by state, tier and area again only when
 * the engine emitted an event or its number of incidents moved since the
 * last count (every change of an incident's state is an event; a reload
 * forgets the count): an idle shard walks none of them.
 */
static void
live_shard_report(struct live *lv, unsigned shard, struct corr_engine *e)
{
	struct live_shard *ls = &lv->shards[shard];
	struct stats_shard s;
	struct live_count lc = { &s, ls->fleet };
	int64_t now = clock_mono_ms();

	if (ls->reported_ms != 0 && now - ls->reported_ms < STATS_PERIOD_MS)
		return;
	ls->reported_ms = now;
	memset(&s, 0, sizeof(s));
	s.at_ms = now;
	s.by_area = ls->by_area;
	s.fleet = ls->fleet;
	corr_engine_stats(e, &s.cs);
	store_stats(lv->stores[shard], &s.ss);
	if (!ls->counted || ls->counted_events != s.cs.events ||
	    ls->counted_incidents != s.cs.live_incidents) {
		memset(s.by_area, 0, ls->fleet->nareas * sizeof(*s.by_area));
		corr_engine_each(e, live_count_incident, &lc);
		memcpy(ls->live, s.live, sizeof(ls->live));
		ls->counted = 1;
		ls->counted_events = s.cs.events;
		ls->counted_incidents = s.cs.live_incidents;
	} else
		memcpy(s.live, ls->live, sizeof(s.live));
	stats_put_shard(lv->stats, shard, &s);
}

/*
 * The shards' hooks: the store's (journal every input), then the stats
 * copy after each round (a tick makes one at least every LIVE_TICK_S, so
 * a live shard's heartbeat never stops).
 */
static void
live_hook_begin(void *arg, unsigned shard, struct corr_engine *e,
    const struct router_input *in)
{
	struct live *lv = arg;

	if (store_hooks.begin != NULL)
		store_hooks.begin(lv->stores, shard, e, in);
}

static void
live_hook_end(void *arg, unsigned shard, struct corr_engine *e,
    const struct router_input *in)
{
	struct live *lv = arg;

	if (store_hooks.end != NULL)
		store_hooks.end(lv->stores, shard, e, in);
}

static int
live_hook_batch(void *arg, unsigned shard, struct corr_engine *e, int idle)
{
	struct live *lv = arg;
	int r = store_hooks.batch != NULL ?
	    store_hooks.batch(lv->stores, shard, e, idle) : -1;

	live_shard_report(lv, shard, e);
	return r;
}

static void
live_hook_dump(void *arg, unsigned shard, struct corr_engine *e, int64_t now)
{
	struct live *lv = arg;

	if (store_hooks.dump != NULL)
		store_hooks.dump(lv->stores, shard, e, now);
}

static const struct router_hooks live_hooks;

/*
 * Shard thread: the shard swapped to engine e over the reload's fleet.
 * Its journal names things from that fleet and takes a snapshot; the
 * alarms of devices the reload retired clear, with a note (journaled
 * through the same hooks); its stats count over the new areas.
 */
static void
live_hook_reload(void *arg, unsigned shard, struct corr_engine *e,
    const struct router_reload *rl)
{
	struct live *lv = arg;
	struct live_shard *ls = &lv->shards[shard];
	const struct reload *r = rl->arg;

	(void)store_reload(lv->stores[shard], e, rl->fleet);
	(void)reload_retired_alarms(e, r, &live_hooks, lv, shard);
	xfree(ls->by_area);
	ls->by_area = xcalloc(rl->fleet->nareas + 1, sizeof(uint32_t));
	ls->fleet = rl->fleet;
	ls->counted = 0;
	ls->reported_ms = 0;	/* a stats copy at the next round */
}

static const struct router_hooks live_hooks = {
	.begin = live_hook_begin,
	.end = live_hook_end,
	.batch = live_hook_batch,
	.dump = live_hook_dump,
	.reload = live_hook_reload,
};

/*
 * The HTTP server, when enabled: the token (a file others can read stops
 * the start), the stats and the monitor's routes.  0, or -1 (logged).
 */
static int
live_http(struct live *lv)
{
	const struct cfg_http *ch = &lv->cfg->http;
	struct http_route routes[MONITOR_NROUTES + VIEW_NROUTES +
	    OPAPI_NROUTES + COMMAND_NROUTES + SSE_NROUTES +
	    WEBUI_NROUTES];
	/* a poller publishes no incidents: none to read, write or watch;
	 * device commands and the monitor it keeps */
	int all = lv->cfg0->daemon.role != CFG_ROLE_POLLER;
	size_t n;
	char err[512];

	if (!config_http_on(ch)) {
		log_info("http off (http.enabled false or http.listen empty)");
		return 0;
	}
	n = monitor_routes(lv->monitor, routes);
	if (all) {
		n += view_routes(lv->view, routes + n);
		n += sse_routes(lv->sse, routes + n);
		n += opapi_routes(lv->opapi, routes + n);
	}
	n += command_routes(lv->command, routes + n);
	if (all)
		n += webui_routes(routes + n);
	if (http_serve(&ch->server, routes, n, &lv->http_token, &lv->http, err,
	    sizeof(err)) != 0) {
		log_error("start failed: %s", err);
		return -1;
	}
	monitor_set_server(lv->monitor, lv->http);
	monitor_set_writes(lv->monitor, lv->opapi);
	monitor_set_commands(lv->monitor, lv->command);
	return 0;
}

/* One line of counters: SIGUSR1 and the stop line. */
static void
live_log_counters(struct live *lv, const char *what)
{
	struct poller_counters pc;
	struct outbox_stats os;
	struct filesink_counters fc;
	struct publish_sink_stats pst;
	struct store_stats ss;
	uint64_t events = 0, opened = 0, resolved = 0, sla = 0, rejected = 0,
	    jbytes = 0, jerrors = 0, jsyncs = 0, lag = 0;

	poller_counters(lv->poller, &pc);
	outbox_stats(lv->outbox, &os);
	filesink_counters(lv->out, &fc);
	for (unsigned i = 0; i < lv->nshards; i++) {
		store_stats(lv->stores[i], &ss);
		jbytes += ss.bytes;
		jerrors += ss.write_errors;
		jsyncs += ss.syncs;
	}
	for (unsigned i = 0; i < publish_nsinks(lv->pub); i++) {
		publish_sink_stats(lv->pub, (int)i, &pst);
		lag += pst.lag;
	}
	for (unsigned i = 0; i < lv->nshards; i++) {
		struct live_shard *ls = &lv->shards[i];

		events += ring_load_relaxed(&ls->events);
		opened += ring_load_relaxed(&ls->opened);
		resolved += ring_load_relaxed(&ls->resolved);
		sla += ring_load_relaxed(&ls->sla);
		rejected += ring_load_relaxed(&ls->rejected);
	}
	log_info("%s uptime_s=%.1f devices=%llu devices_rejected=%llu "
	    "polls=%llu polls_good=%llu polls_failed=%llu polls_overrun=%llu "
	    "alarms_raised=%llu alarms_cleared=%llu comm_loss_raised=%llu "
	    "alarms_queued=%llu alarms_held=%llu alarms_folded=%llu "
	    "alarms_resent=%llu alarms_pending=%llu shard_stalls=%llu "
	    "ticks=%llu ticks_skipped=%llu incidents_opened=%llu "
	    "incidents_resolved=%llu incident_events=%llu sla_events=%llu "
	    "actions_rejected=%llu lines_written=%llu write_errors=%llu "
	    "journal_bytes=%llu journal_syncs=%llu journal_errors=%llu "
	    "publish_lag_bytes=%llu shard_sleeps=%llu",
	    what, ev_now(lv->loop) - lv->started,
	    (unsigned long long)pc.devices,
	    (unsigned long long)pc.devices_rejected,
	    (unsigned long long)pc.polls, (unsigned long long)pc.polls_good,
	    (unsigned long long)pc.polls_failed,
	    (unsigned long long)pc.mb.polls_overrun,
	    (unsigned long long)pc.alarms_raised,
	    (unsigned long long)pc.alarms_cleared,
	    (unsigned long long)pc.comm_loss_raised,
	    (unsigned long long)os.queued, (unsigned long long)os.held,
	    (unsigned long long)os.folded, (unsigned long long)os.resent,
	    (unsigned long long)os.pending, (unsigned long long)os.stalls,
	    (unsigned long long)lv->ticks,
	    (unsigned long long)lv->ticks_skipped,
	    (unsigned long long)opened, (unsigned long long)resolved,
	    (unsigned long long)events, (unsigned long long)sla,
	    (unsigned long long)rejected, (unsigned long long)fc.lines,
	    (unsigned long long)fc.write_errors, (unsigned long long)jbytes,
	    (unsigned long long)jsyncs, (unsigned long long)jerrors,
	    (unsigned long long)lag,
	    (unsigned long long)router_sleeps(lv->router));
	if (lv->telem != NULL) {
		struct telem_stats ts;

		telem_stats(lv->telem, &ts);
		log_info("%s telemetry samples=%llu folded=%llu batches=%llu "
		    "sent=%llu full=%llu refused=%llu resent=%llu waiting=%llu",
		    what, (unsigned long long)ts.samples,
		    (unsigned long long)ts.folded,
		    (unsigned long long)ts.batches,
		    (unsigned long long)ts.sent, (unsigned long long)ts.full,
		    (unsigned long long)ts.refused,
		    (unsigned long long)ts.resent,
		    (unsigned long long)ts.waiting);
	}
}

/* systemd (Type=notify): ready once restored and polling; a failed send is
 * logged, never fatal (docs/install.md). */
static void
live_notify(const char *census)
{
	char msg[512];
	int rc;

	snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%ld\nSTATUS=running: %s",
	    (long)getpid(), census);
	if ((rc = sdnotify(msg)) < 0)
		log_warnx("sd_notify READY=1 failed err=\"%s\"", strerror(-rc));
	else if (rc > 0)
		log_info("sd_notify READY=1 sent");
}

/* systemd: a reload begins (RELOADING=1, with the monotonic time systemd
 * asks for) or ends, applied or refused (READY=1 again). */
static void
live_notify_reload(int begin)
{
	char msg[96];

	if (!begin) {
		(void)sdnotify("READY=1");
		return;
	}
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%lld",
	    (long long)clock_mono_us());
	(void)sdnotify(msg);
}

static void
live_stop(struct live *lv, const char *reason)
{
	if (lv->stop_reason == NULL)
		lv->stop_reason = reason;
	ev_break(lv->loop, EVBREAK_ALL);
}

static void
live_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	live_stop(container_of(w, struct live, deadline), "duration");
}

static void
live_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct live *lv;

	(void)loop;
	(void)revents;
	switch (w->signum) {
	case SIGTERM:
		live_stop(container_of(w, struct live, sigterm), "SIGTERM");
		break;
	case SIGINT:
		live_stop(container_of(w, struct live, sigint), "SIGINT");
		break;
	case SIGHUP:
		lv = container_of(w, struct live, sighup);
		if (lv->stop_reason != NULL) {
			log_info("signal=SIGHUP ignored: stopping");
			break;
		}
		/* systemd sees the reload begin and end, applied or refused */
		live_notify_reload(1);
		live_reload(lv);
		live_notify_reload(0);
		break;
	case SIGUSR1:
		lv = container_of(w, struct live, sigusr1);
		live_log_counters(lv, "counters");
		break;
	default:
		break;
	}
}

/* One descriptor per Modbus connection: take what the hard limit allows. */
static void
live_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		log_warn("setrlimit RLIMIT_NOFILE");
}

static void
live_wake_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

/*
 * Stop: no new alarms; every held alarm state goes out, then a last tick
 * reaches every shard, and the loop keeps running (the outbox's room
 * callback, the pump) until the shards have handled all of it; they are
 * joined (each syncs its journal as it ends).  Then the sinks get up to
 * LIVE_PUBLISH_WAIT_S to take what is left; whatever they have not taken
 * stays in the journals and goes out after the next start, so a stop
 * always ends and loses nothing.  The loop sleeps between wake-ups (its
 * ev_asyncs, a 10 ms backstop timer), it never spins.
 */
static void
live_shutdown(struct live *lv)
{
	ev_timer backstop;
	double t0, logged;
	unsigned ticked = 0;
	uint64_t tick_sent = 0;	/* bit per shard: last tick queued */

	poller_stop(lv->poller);	/* commands under way end unreachable */
	afwd_stop(lv->afwd);		/* its open transaction commits */
	lv->afwd = NULL;
	command_stop(lv->command);	/* their notes go before the shards */
	/* HTTP writes: new ones get 503; those queued drain with the rest */
	opapi_stop(lv->opapi);
	ev_timer_init(&backstop, live_wake_cb, 0.01, 0.01);
	ev_timer_start(lv->loop, &backstop);
	ev_now_update(lv->loop);
	t0 = logged = ev_now(lv->loop);
	for (;;) {
		int64_t now = live_now_ms(lv);
		uint64_t backlog = router_backlog(lv->router);

		live_flush(lv);
		for (unsigned s = 0; s < lv->nshards; s++)
			if (!(tick_sent & (1ULL << s)) &&
			    outbox_pending(lv->outbox, s) == 0 &&
			    router_tick_shard(lv->router, 0, s, now) == 0) {
				tick_sent |= 1ULL << s;
				ticked++;
			}
		if (ticked == lv->nshards && backlog == 0)
			break;
		ev_run(lv->loop, EVRUN_ONCE);
		if (ev_now(lv->loop) - logged >= LIVE_STALL_LOG_S) {
			struct outbox_stats os;

			outbox_stats(lv->outbox, &os);
			logged = ev_now(lv->loop);
			log_warnx("stop: shards still busy after %.0f s "
			    "backlog=%llu held_keys=%llu; waiting", logged - t0,
			    (unsigned long long)router_backlog(lv->router),
			    (unsigned long long)os.pending);
		}
	}
	router_stop(lv->router);
	ev_now_update(lv->loop);
	t0 = ev_now(lv->loop);
	publish_pump(lv->pub);
	while (!publish_idle(lv->pub) &&
	    ev_now(lv->loop) - t0 < LIVE_PUBLISH_WAIT_S)
		ev_run(lv->loop, EVRUN_ONCE);
	if (!publish_idle(lv->pub))
		log_warnx("stop: publishers have not taken everything after "
		    "%.0f s; the rest stays in the journal and goes out after "
		    "the next start", LIVE_PUBLISH_WAIT_S);
	ev_timer_stop(lv->loop, &backstop);
	publish_stop(lv->pub);
}

/* corr_engine_each callback: the poller starts with the incident's active
 * alarms raised (in no order: each is a key set once). */
static void
live_seed_alarms(void *arg, const struct corr_incident *ci)
{
	struct live *lv = arg;

	for (uint32_t i = 0; i < ci->nalarms; i++)
		if (ci->alarms[i]->active)
			(void)poller_restore_alarm(lv->poller,
			    ci->alarms[i]->device, ci->alarms[i]->code);
}

/* The Redis publisher, when enabled: 0, or -1 (logged). */
static int
live_redis(struct live *lv)
{
	const struct cfg_redis *cr = &lv->cfg->redis;
	struct redis_config rc;
	int poller = lv->cfg->daemon.role == CFG_ROLE_POLLER, idx = -1, rc_new;

	if (!cr->enabled)
		return 0;
	rc = cr->client;
	rc.id_prefix = lv->cfg->correlation.id_prefix;
	lv->redis_password = config_read_secret(cr->password_file);
	rc.password = lv->redis_password;
	/*
	 * A poller's Redis holds its devices' hashes only (docs/scaleout.md,
	 * "Device keys"), not fed by its pump: its journals hold no events,
	 * and a reconnect's dump would be of engines that publish nothing,
	 * whose live sets would make the stale check remove the correlators'
	 * incidents of the same shard numbers from the Redis every instance
	 * shares (and write the poller's own).  A sink without a host.
	 */
	if (!poller)
		idx = lv->ridx = publish_add(lv->pub, "redis");
	rc_new = redis_new(lv->loop, &rc, poller ? NULL :
	    publish_host(lv->pub, idx), &lv->redis);
	if (rc_new != 0) {
		log_error("start failed: redis: %s", strerror(-rc_new));
		return -1;
	}
	if (!poller)
		publish_attach(lv->pub, idx, lv->redis);
	log_info("redis %s host=%s port=%u prefix=%s%s", poller ? "devices" :
	    "publisher", rc.host, rc.port, rc.prefix, poller ? " (a poller "
	    "writes its devices' hashes; incidents are the correlators')" :
	    "");
	return 0;
}

/* The Kafka consumer's action: to the owning shard, journaled there. */
static int
live_action(void *arg, const struct corr_action *a, int32_t part,
    int64_t offset)
{
	struct live *lv = arg;
	int rc = router_action_from(lv->router, 0, a, part, offset);

	if (rc == -EAGAIN)
		lv->actions_paused = 1;
	return rc;
}

/* A Kafka sink for publish slot idx in *out: 0, or -1 (logged). */
static int
live_kafka_new(struct live *lv, int idx, struct pub_sink **out)
{
	/* the start's settings: a reload cannot change them, and a renewed
	 * producer must not borrow from a config a later reload frees */
	const struct cfg_kafka *ck = &lv->cfg0->kafka;
	struct kafka_action_host ah = { live_action, lv };
	struct kafka_config kc = ck->client;	/* its properties too */
	char err[512];

	kc.shards = lv->nshards;
	/* a poller's engines take no actions: they go to the correlators
	 * (forwarded by pollers into the partitions: not built yet) */
	if (lv->cfg0->daemon.role == CFG_ROLE_POLLER)
		kc.actions = "";
	if (kafka_new(lv->loop, &kc, publish_host(lv->pub, idx), &ah,
	    out, err, sizeof(err)) != 0) {
		log_error("kafka: %s", err);
		return -1;
	}
	if (lv->telem != NULL) {
		const struct kafka_telemetry_host th = { live_telem_lost, lv };

		kafka_telemetry_host(*out, &th);
	}
	return 0;
}

/* The Kafka publisher and actions consumer: 0, or -1 (logged). */
/*
 * Role poller: ticketing's actions forwarded into the partitions, exactly
 * once (daemon/afwd), on a thread of its own; its transactional.id is
 * kafka.client_id + ".actions".  0, or -1 (logged).
 */
static int
live_afwd(struct live *lv)
{
	const struct cfg_kafka *ck = &lv->cfg0->kafka;
	struct afwd_config *a = &lv->afwd_cfg;
	char err[512];

	if (lv->cfg0->daemon.role != CFG_ROLE_POLLER ||
	    ck->client.actions == NULL || ck->client.actions[0] == '\0')
		return 0;
	snprintf(lv->afwd_txn, sizeof(lv->afwd_txn), "%s.actions",
	    ck->client.client_id);
	*a = (struct afwd_config){
		.brokers = kafka_bootstrap(lv->kafka),
		.group = ck->client.group, .actions = ck->client.actions,
		.alarms = ck->client.alarms, .rejected = ck->client.rejected,
		.txn_id = lv->afwd_txn, .client_id = ck->client.client_id,
		.id_prefix = lv->cfg0->correlation.id_prefix,
		.partitions = lv->nshards, .props = ck->client.props,
		.nprops = ck->client.nprops,
	};
	if (afwd_start(a, &lv->afwd, err, sizeof(err)) != 0) {
		log_error("start failed: %s", err);
		return -1;
	}
	return 0;
}

static int
live_kafka(struct live *lv)
{
	const struct kafka_config *kc = &lv->cfg->kafka.client;
	char err[512];

	if (!kafka_supported(err, sizeof(err))) {
		log_warnx("kafka: not started: %s", err);
		return 0;
	}
	if (kc->telemetry[0] != '\0') {
		const struct telem_out to = { &live_telem_out_ops, lv };

		lv->telem = telem_new(lv->loop, lv->cfg->fleet, &to,
		    LIVE_TELEM_RETRY_MS);
	}
	lv->kafka_idx = publish_add(lv->pub, "kafka");
	if (live_kafka_new(lv, lv->kafka_idx, &lv->kafka) < 0) {
		log_error("start failed: kafka");
		return -1;
	}
	publish_attach(lv->pub, lv->kafka_idx, lv->kafka);
	log_info("kafka publisher bootstrap=%s topic=%s actions=%s "
	    "alarms=%s telemetry=%s", kafka_bootstrap(lv->kafka), kc->incidents,
	    lv->cfg0->daemon.role != CFG_ROLE_POLLER && kc->actions &&
	    *kc->actions ? kc->actions : "-",
	    *kc->alarms ? kc->alarms : "-", *kc->telemetry ? kc->telemetry : "-");
	return live_afwd(lv);
}

/*
 * A producer that hit a fatal error takes nothing more: close it and put
 * a new one in its place, which is offered again everything the old one
 * had not delivered (the journal still has it).  Tried on every tick
 * until it works; the failures are logged at most every 10 s.
 */
static void
live_kafka_renew(struct live *lv)
{
	int64_t now = clock_mono_ms();
	struct pub_sink *fresh;

	if (lv->kafka_next_try > now)
		return;
	lv->kafka_next_try = now + 1000;
	/* the old one stays (refusing everything) until a new one exists */
	if (live_kafka_new(lv, lv->kafka_idx, &fresh) < 0)
		return;
	lv->kafka->ops->close(lv->kafka, 0);
	lv->kafka = fresh;
	lv->kafka_renewals++;
	publish_replace(lv->pub, lv->kafka_idx, lv->kafka);
	log_warnx("kafka: a new producer replaces the one that hit a fatal "
	    "error (renewals=%llu); what was not delivered is sent again",
	    (unsigned long long)lv->kafka_renewals);
}

/* ---- reload (SIGHUP; daemon/reload.h) ---- */

/* The poll thread's per-device arrays, moved to the new fleet's indexes. */
static void
live_reload_comm(struct live *lv, const struct fleet *nf, const uint32_t *map,
    size_t nold)
{
	uint8_t *comm = xcalloc(nf->ndevices + 1, 1);
	uint8_t *mcomm = xcalloc(nf->ndevices + 1, 1);

	for (size_t i = 0; i < nold; i++)
		if (map[i] < nf->ndevices) {
			comm[map[i]] = lv->comm[i];
			mcomm[map[i]] = lv->mcomm[i];
		}
	memset(lv->ncomm, 0, sizeof(lv->ncomm));
	for (size_t j = 0; j < nf->ndevices; j++)
		if (!reload_retired(nf, (uint32_t)j))
			lv->ncomm[mcomm[j]]++;
	xfree(lv->comm);
	xfree(lv->mcomm);
	lv->comm = comm;
	lv->mcomm = mcomm;
}

/*
 * Writes retired.json for the running fleet (what a restart must add back
 * before it restores the journals).  A write that fails (the state disk
 * full or read-only) is tried again every LIVE_RETIRED_RETRY_S from the
 * tick until it succeeds: a restart before then would drop the incidents
 * of the devices the reload retired.  Said at the first failure, at each
 * doubling of the count, and when it is written at last;
 * tocsin_config_retired_unsaved is 1 meanwhile.
 */
static void
live_retired_save(struct live *lv)
{
	const char *dir = lv->cfg->daemon.state_dir;
	int rc, was = lv->reloads.retired_unsaved;

	rc = reload_retired_save(lv->cfg->fleet, &lv->retired_marks, dir);
	if (rc == 0) {
		if (lv->retired_fails > 0)
			log_info("reload: %s/%s written after %u failed "
			    "attempt%s", dir, RELOAD_RETIRED_FILE,
			    lv->retired_fails, lv->retired_fails == 1 ? "" :
			    "s");
		lv->retired_fails = 0;
		lv->reloads.retired_unsaved = 0;
	} else {
		lv->retired_fails++;
		if ((lv->retired_fails & (lv->retired_fails - 1)) == 0)
			log_warnx("reload: cannot write %s/%s: %s (attempt %u, "
			    "tried again every %d s; a restart before it is "
			    "written drops the incidents of retired devices)",
			    dir, RELOAD_RETIRED_FILE, strerror(-rc),
			    lv->retired_fails, LIVE_RETIRED_RETRY_S);
		lv->reloads.retired_unsaved = 1;
		lv->retired_try_at = ev_now(lv->loop) + LIVE_RETIRED_RETRY_S;
	}
	if (was != lv->reloads.retired_unsaved)
		stats_put_reload(lv->stats, &lv->reloads);
}

static void
live_reload_count(struct live *lv, enum reload_result res, uint32_t ms)
{
	struct stats_reload *sr = &lv->reloads;

	if (res == RELOAD_OK) {
		sr->ok++;
		sr->last_ok_ms = (int64_t)(ev_time() * 1000.0);
	} else if (res == RELOAD_INVALID)
		sr->invalid++;
	else
		sr->failed++;
	sr->last_result = (int)res;
	sr->last_ms = ms;
	stats_put_reload(lv->stats, sr);
}

/*
 * SIGHUP, on the poll thread: prepare (load, check, retire, engines),
 * queue the shards' swap, then rebuild the poll side over the new fleet
 * carrying every kept device's alarm state.  Every step is bounded and
 * none waits for a shard; the old configuration is freed by
 * live_reload_reap() once every shard has passed its swap.
 */
static void
live_reload(struct live *lv)
{
	struct reload *r;
	struct poller *np = NULL;
	struct poller_config pc;
	struct poller_sink ps = { lv->telem != NULL ? &live_poller_telem_ops :
	    &live_poller_ops, lv };
	struct outbox *nob;
	struct live_retired *lr;
	const struct reload_counts *c;
	enum reload_result res;
	const struct fleet *of = lv->cfg->fleet;
	int64_t t0 = clock_mono_ms();
	int rc, carried;

	log_info("signal=SIGHUP reloading config=%s", lv->cfg->path);
	res = reload_prepare(lv->cfg->path, lv->cfg, lv->nshards, lv->sinks,
	    &r);
	if (res != RELOAD_OK) {
		live_reload_count(lv, res, (uint32_t)(clock_mono_ms() - t0));
		return;
	}
	/* the same modbus section: the poller is reloaded in place and every
	 * unchanged device keeps its connection; else a new one */
	if (live_poller_config(r->cfg, &pc) != 0 ||
	    (memcmp(&pc, &lv->pc, sizeof(pc)) != 0 &&
	    (rc = poller_new(lv->loop, r->cfg->fleet, r->cfg->mbmap, &pc, &ps,
	    &np)) != 0)) {
		log_error("reload refused: the modbus section does not fit the "
		    "client; the running configuration is kept");
		reload_free(r, 0);
		live_reload_count(lv, RELOAD_FAILED,
		    (uint32_t)(clock_mono_ms() - t0));
		return;
	}
	/* the held alarm keys go with their new indexes (outbox_remap);
	 * a full ring refuses the whole swap, nothing is half done */
	if ((rc = router_reload(lv->router, 0, &r->rl)) != 0) {
		log_error("reload refused: a shard queue is full (%s); the "
		    "running configuration is kept, send SIGHUP again",
		    strerror(-rc));
		poller_free(np);
		reload_free(r, 0);
		live_reload_count(lv, RELOAD_FAILED,
		    (uint32_t)(clock_mono_ms() - t0));
		return;
	}
	/* from here on the producer speaks the new fleet's indexes */
	if (np != NULL) {
		carried = poller_carry(np, lv->poller, r->map);
		poller_free(lv->poller);
		lv->poller = np;
		lv->pc = pc;
	} else
		carried = poller_reload(lv->poller, r->cfg->fleet,
		    r->cfg->mbmap, r->map, r->same);
	nob = outbox_remap(lv->outbox, r->cfg->fleet, r->map);
	outbox_free(lv->outbox);
	lv->outbox = nob;
	live_reload_comm(lv, r->cfg->fleet, r->map, of->ndevices);
	if (lv->telem != NULL) {
		const struct telem_out to = { &live_telem_out_ops, lv };

		/* the latest values, if they fit; telemetry is not journaled */
		telem_flush(lv->telem);
		telem_free(lv->telem);
		lv->telem = telem_new(lv->loop, r->cfg->fleet, &to,
		    LIVE_TELEM_RETRY_MS);
	}
	if (lv->command != NULL) {
		command_set_poller(lv->command, lv->poller);
		command_set_fleet(lv->command, r->cfg->fleet, r->cfg->mbmap);
	}
	view_set_fleet(lv->view, r->cfg->fleet);
	stats_set_fleet(lv->stats, r->cfg->fleet);
	if (lv->opapi != NULL)
		opapi_set_fleet(lv->opapi, r->cfg->fleet);
	lr = xcalloc(1, sizeof(*lr));
	lr->cfg = lv->cfg;
	lr->r = r;
	lr->at = ev_now(lv->loop);
	lr->next = lv->retired;
	lv->retired = lr;
	lv->cfg = r->cfg;
	if (np != NULL && (rc = poller_start(lv->poller)) != 0)
		log_error("reload: poller_start rc=%d", rc);
	/* what a restart must add back before it restores the journals */
	lv->retired_marks = r->marks;
	live_retired_save(lv);
	live_stats_put(lv);
	c = &r->counts;
	live_reload_count(lv, RELOAD_OK, (uint32_t)(clock_mono_ms() - t0));
	log_info("reloaded config=%s devices_added=%zu devices_removed=%zu "
	    "devices_changed=%zu devices_kept=%zu devices_retired=%zu "
	    "sites_added=%zu sites_removed=%zu profiles_added=%zu "
	    "profiles_removed=%zu profiles_changed=%zu alarms_carried=%d "
	    "connections=%s prepare_ms=%u reload_ms=%llu (shards swap their "
	    "engines next)",
	    lv->cfg->path, c->devices_added, c->devices_removed,
	    c->devices_changed, c->devices_kept, c->devices_retired,
	    c->sites_added, c->sites_removed, c->profiles_added,
	    c->profiles_removed, c->profiles_changed, carried,
	    np != NULL ? "reopened" : "kept",
	    r->prep_ms,
	    (unsigned long long)(clock_mono_ms() - t0));
}

/*
 * Tick: a replaced configuration goes once every shard passed its swap
 * (and a grace for an HTTP request that took its fleet just before the
 * swap); a shard that had to keep the old correlation settings keeps the
 * old configuration alive (its engine borrows them).
 */
static void
live_reload_reap(struct live *lv, int all)
{
	struct live_retired **pp = &lv->retired;
	uint64_t done = all ? UINT64_MAX : router_reloaded(lv->router);

	while (*pp != NULL) {
		struct live_retired *lr = *pp;
		int fb = 0;

		for (unsigned i = 0; i < lv->nshards; i++)
			fb |= lr->r->rl.outcome[i] != 0;
		if (!all && !lr->done && lr->r->rl.gen <= done &&
		    router_reload_drained(lv->router, &lr->r->rl)) {
			lr->done = 1;
			for (unsigned i = 0; i < lv->nshards; i++)
				if (lr->r->rl.outcome[i] != 0)
					log_error("reload shard=%u kept the "
					    "previous correlation settings: %s",
					    i, lr->r->rl.err[i]);
			log_info("reload done by every shard shards_ms=%.0f%s",
			    (ev_now(lv->loop) - lr->at) * 1000.0, fb ?
			    " (with errors above)" : "");
		}
		if (!all && (!lr->done ||
		    ev_now(lv->loop) - lr->at < LIVE_RELOAD_GRACE_S)) {
			pp = &lr->next;
			continue;
		}
		*pp = lr->next;
		/* a shard on the fallback engine borrows the old settings:
		 * they go at the stop, after the engines */
		if (fb && !all) {
			lr->next = lv->kept;
			lv->kept = lr;
			continue;
		}
		if (lr->cfg != lv->cfg0)
			config_free(lr->cfg);
		reload_free(lr->r, 1);
		xfree(lr);
	}
	if (all)
		while (lv->kept != NULL) {
			struct live_retired *lr = lv->kept;

			lv->kept = lr->next;
			if (lr->cfg != lv->cfg0)
				config_free(lr->cfg);
			reload_free(lr->r, 1);
			xfree(lr);
		}
}

/*
 * Opens every shard's journal and restores its engine, all shards at once
 * (store_open_all: a thread per shard, all joined before the shard
 * threads start or the poller is seeded): 0 or -1 (logged).
 */
static int
live_restore(struct live *lv)
{
	const struct cfg_daemon *d = &lv->cfg->daemon;
	struct store_config *sc;
	struct corr_engine **engines;
	char *dirs, err[512];
	const size_t dirlen = 4096;
	int64_t now = live_now_ms(lv);
	int rc, status = -1;

	/* a disk that refuses writes is no reason not to start: the
	 * journals restore what is there and hold their records */
	if ((rc = mkdirs(d->state_dir)) < 0) {
		if (!journal_refusal(-rc)) {
			log_error("start failed: state_dir=%s: %s",
			    d->state_dir, strerror(-rc));
			return -1;
		}
		log_warnx("state_dir=%s: %s", d->state_dir, strerror(-rc));
	}
	sc = xcalloc(lv->nshards, sizeof(*sc));
	engines = xcalloc(lv->nshards, sizeof(*engines));
	dirs = xcalloc(lv->nshards, dirlen);
	for (unsigned i = 0; i < lv->nshards; i++) {
		sc[i].dir = dirs + i * dirlen;
		sc[i].fsync = (uint8_t)d->fsync;
		sc[i].fsync_ms = d->fsync_ms;
		sc[i].snapshot_bytes = (uint64_t)d->snapshot_mb << 20;
		/* tocsin.alarms on: a tick a second as stream time */
		sc[i].tick_keep_ms = lv->cfg0->kafka.client.alarms[0] != '\0' ?
		    LIVE_TICK_KEEP_MS : 0;
		sc[i].durable = live_durable;
		sc[i].durable_arg = lv;
		sc[i].replied = opapi_replied;	/* HTTP writes' answers */
		sc[i].replied_arg = lv->opapi;
		snprintf(dirs + i * dirlen, dirlen, "%s/shard-%u",
		    d->state_dir, i);
		engines[i] = router_engine(lv->router, i);
	}
	lv->stores = xcalloc(lv->nshards, sizeof(*lv->stores));
	if (store_open_all(sc, lv->nshards, lv->cfg->fleet, engines, now,
	    lv->stores, err, sizeof(err)) < 0) {
		log_error("start failed: %s", err);
		goto out;
	}
	for (unsigned i = 0; i < lv->nshards; i++) {
		struct store_stats ss;
		struct corr_stats cs;

		opapi_restore(lv->opapi, engines[i]);	/* windows to list */

		store_stats(lv->stores[i], &ss);
		corr_engine_stats(engines[i], &cs);
		if (ss.restored_inputs > 0 || journal_snapshot_pos(
		    store_journal(lv->stores[i])) != 0)
			log_info("restored shard=%u incidents_live=%llu "
			    "alarms_live=%llu inputs_replayed=%llu "
			    "events_rewritten=%llu restore_ms=%llu", i,
			    (unsigned long long)cs.live_incidents,
			    (unsigned long long)cs.live_alarms,
			    (unsigned long long)ss.restored_inputs,
			    (unsigned long long)ss.restored_events,
			    (unsigned long long)ss.restore_ms);
	}
	status = 0;
out:
	xfree(dirs);
	xfree(engines);
	xfree(sc);
	return status;
}

int
live_run(struct config *cfg, const struct live_opts *opts)
{
	struct live lv;
	struct corr_sink *sinks = NULL;
	struct filesink_config fsc;
	char hpath[4096];
	int fidx;
	struct poller_config pc;
	struct poller_sink ps = { &live_poller_ops, NULL };
	char err[512], census[256];
	const char *outpath;
	int rc, status = 1;

	memset(&lv, 0, sizeof(lv));
	lv.cfg = lv.cfg0 = cfg;
	lv.nshards = cfg->daemon.shards ? cfg->daemon.shards : 1;
	lv.fidx = lv.hidx = lv.ridx = lv.kafka_idx = -1;
	outpath = cfg->output.file != NULL && cfg->output.file[0] != '\0' ?
	    cfg->output.file : "-";
	/* a reader of stdout that goes away is a write error, not a death */
	signal(SIGPIPE, SIG_IGN);
	/* a file past RLIMIT_FSIZE is a write error (EFBIG) the journal and
	 * the file sink retry, not a death (the default action of SIGXFSZ) */
	signal(SIGXFSZ, SIG_IGN);
	live_raise_nofile();
	config_census(cfg, census, sizeof(census));
	if ((rc = live_poller_config(cfg, &pc)) == 0)
		lv.pc = pc;
	if (rc != 0) {
		log_error("start failed: the modbus section does not fit the "
		    "client");
		return 1;
	}
	if ((lv.loop = ev_default_loop(EVFLAG_AUTO)) == NULL) {
		log_error("start failed: no libev loop");
		return 1;
	}

	lv.shards = mem_calloc_lines(lv.nshards, sizeof(*lv.shards));
	sinks = xcalloc(lv.nshards, sizeof(*sinks));
	for (unsigned i = 0; i < lv.nshards; i++) {
		/* counters start at 0: xcalloc'd atomics */
		lv.shards[i].lv = &lv;
		lv.shards[i].id = i;
		lv.shards[i].fleet = cfg->fleet;
		sinks[i].ops = &live_shard_ops;
		sinks[i].arg = &lv.shards[i];
	}
	if (corr_config_check(&cfg->correlation, err, sizeof(err)) != 0) {
		log_error("start failed: correlation: %s", err);
		goto err_shards;
	}
	/* what earlier reloads retired (daemon/reload.h): back before the
	 * engines and the restore, so no incident naming them is dropped */
	if ((rc = reload_retired_load(cfg->fleet, cfg->daemon.state_dir, err,
	    sizeof(err))) > 0)
		log_info("retired devices=%d kept from earlier reloads (%s/%s)",
		    rc, cfg->daemon.state_dir, RELOAD_RETIRED_FILE);
	else if (rc < 0)
		log_warnx("retired objects not read: %s (incidents naming "
		    "devices no longer in the file are dropped at the "
		    "restore)", err);
	/* creates the engines, which intern codes: before any thread runs */
	lv.router = router_new(cfg->fleet, &cfg->correlation, lv.nshards,
	    LIVE_PRODUCERS, LIVE_RING_SLOTS, sinks, err, sizeof(err));
	if (lv.router == NULL) {
		log_error("start failed: correlator: %s", err);
		goto err_shards;
	}
	lv.outbox = outbox_new(cfg->fleet, lv.router, 0);
	lv.comm = xcalloc(cfg->fleet->ndevices + 1, 1);
	lv.mcomm = xcalloc(cfg->fleet->ndevices + 1, 1);
	lv.ncomm[STATS_COMM_UNKNOWN] = cfg->fleet->ndevices;
	for (unsigned i = 0; i < lv.nshards; i++)
		lv.shards[i].by_area = xcalloc(cfg->fleet->nareas + 1,
		    sizeof(uint32_t));
	lv.sinks = sinks;
	lv.stats = stats_new(lv.nshards, cfg->fleet->nareas, live_now_ms(&lv));
	stats_set_fleet(lv.stats, cfg->fleet);
	lv.reloads.last_result = -1;
	lv.reloads.last_ok_ms = live_now_ms(&lv);
	lv.monitor = monitor_new(lv.stats, cfg->fleet,
	    cfg->http.server.max_sink_lag);
	lv.view = view_new(cfg->fleet);
	lv.sse = sse_new(lv.nshards, cfg->http.server.max_streams);
	monitor_set_sse(lv.monitor, lv.sse);
	/* a poller's engines publish nothing: its view stays empty */
	if (cfg->daemon.role != CFG_ROLE_POLLER)
		monitor_set_view(lv.monitor, lv.view, lv.nshards);
	lv.command = command_new(lv.loop, cfg->fleet, cfg->mbmap, NULL,
	    lv.router, 0, lv.view);
	lv.opapi = opapi_new(&(struct opapi_config){ cfg->fleet,
	    cfg->correlation.id_prefix, lv.nshards, lv.router,
	    LIVE_HTTP_PRODUCER, lv.stats, lv.view });
	router_set_room(lv.router, LIVE_HTTP_PRODUCER, opapi_room, lv.opapi);
	/* before the restore, so /readyz says "not ready" while it runs */
	if (live_http(&lv) < 0 || live_restore(&lv) < 0)
		goto err_router;
	/* a site whose live incidents the journal holds on another shard
	 * than its area's name says stays there (an older routing, a site
	 * moved to another area): its alarms must reach its incidents */
	if ((rc = router_pin_restored(lv.router)) > 0)
		log_info("routing: %d site%s kept on the shard holding their "
		    "live incidents", rc, rc == 1 ? "" : "s");
	/* the store's hooks, and the shards' stats copies */
	router_set_hooks(lv.router, &live_hooks, &lv);
	lv.pub = publish_new(lv.loop, lv.stores, lv.nshards, live_resync, &lv);
	memset(&fsc, 0, sizeof(fsc));
	fsc.path = outpath;
	fsc.rotate_bytes = (uint64_t)cfg->output.rotate_mb << 20;
	fsc.keep = cfg->output.keep;
	fsc.sync = (uint8_t)cfg->output.sync;
	fidx = lv.fidx = publish_add(lv.pub, "file");
	if ((rc = filesink_new(lv.loop, &fsc, publish_host(lv.pub, fidx),
	    &lv.out, err, sizeof(err))) != 0) {
		log_error("start failed: %s", err);
		goto err_router;
	}
	publish_attach(lv.pub, fidx, lv.out);
	/* the monthly report's input: state_dir/history/closed-YYYY-MM.jsonl */
	snprintf(err, sizeof(err), "%s/history", cfg->daemon.state_dir);
	if ((rc = mkdirs(err)) < 0)
		log_warnx("%s: %s (the history sink makes it when it can)",
		    err, strerror(-rc));
	snprintf(hpath, sizeof(hpath), "%s/history/closed",
	    cfg->daemon.state_dir);
	memset(&fsc, 0, sizeof(fsc));
	fsc.path = hpath;
	fsc.closed_monthly = 1;
	fsc.keep_months = cfg->daemon.history_months;
	fsc.sync = 1;	/* no position ahead of what a power loss keeps */
	fidx = lv.hidx = publish_add(lv.pub, "history");
	if (filesink_new(lv.loop, &fsc, publish_host(lv.pub, fidx),
	    &lv.history, err, sizeof(err)) != 0) {
		log_error("start failed: %s", err);
		goto err_router;
	}
	publish_attach(lv.pub, fidx, lv.history);
	/* the incident read API's memory, fed from the journals */
	if ((fidx = publish_add(lv.pub, "view")) < 0) {
		log_error("start failed: no publish slot for the view");
		goto err_router;
	}
	publish_set_live(lv.pub, fidx);	/* whole again: live_fill_view */
	publish_attach(lv.pub, fidx, view_sink(lv.view, publish_host(lv.pub,
	    fidx)));
	/* the event stream: live from what is durable now, the rest from
	 * the journals */
	if ((fidx = publish_add(lv.pub, "sse")) < 0) {
		log_error("start failed: no publish slot for the event stream");
		goto err_router;
	}
	publish_set_live(lv.pub, fidx);	/* the rest comes from the journals */
	publish_attach(lv.pub, fidx, sse_sink(lv.sse, publish_host(lv.pub,
	    fidx)));
	{
		struct journal *js[SSE_MAX_SHARDS];

		for (unsigned i = 0; i < lv.nshards && i < SSE_MAX_SHARDS; i++)
			js[i] = store_journal(lv.stores[i]);
		sse_start(lv.sse, lv.loop, js);
	}
	if (live_redis(&lv) < 0 || live_kafka(&lv) < 0)
		goto err_router;
	router_set_room(lv.router, 0, live_room, &lv);
	ev_async_init(&lv.room, live_room_cb);
	ev_async_start(lv.loop, &lv.room);

	live_fill_begin(&lv);
	ps.arg = &lv;
	if (lv.telem != NULL)
		ps.ops = &live_poller_telem_ops;
	if ((rc = poller_new(lv.loop, cfg->fleet, cfg->mbmap, &pc, &ps,
	    &lv.poller)) != 0) {
		log_error("start failed: poller rc=%d", rc);
		goto err_router;
	}
	command_set_poller(lv.command, lv.poller);

	ev_timer_init(&lv.tick, live_tick_cb, LIVE_TICK_S, LIVE_TICK_S);
	ev_timer_start(lv.loop, &lv.tick);
	ev_timer_init(&lv.statst, live_stats_cb, STATS_PERIOD_MS / 1000.0,
	    STATS_PERIOD_MS / 1000.0);
	ev_timer_start(lv.loop, &lv.statst);
	if (opts->duration_s > 0) {
		ev_timer_init(&lv.deadline, live_deadline_cb, opts->duration_s,
		    0.);
		ev_timer_start(lv.loop, &lv.deadline);
	}
	ev_signal_init(&lv.sigterm, live_signal_cb, SIGTERM);
	ev_signal_init(&lv.sigint, live_signal_cb, SIGINT);
	ev_signal_init(&lv.sighup, live_signal_cb, SIGHUP);
	ev_signal_init(&lv.sigusr1, live_signal_cb, SIGUSR1);
	ev_signal_start(lv.loop, &lv.sigterm);
	ev_signal_start(lv.loop, &lv.sigint);
	ev_signal_start(lv.loop, &lv.sighup);
	ev_signal_start(lv.loop, &lv.sigusr1);

	publish_start(lv.pub);
	for (unsigned i = 0; i < lv.nshards; i++)
		corr_engine_each(router_engine(lv.router, i),
		    live_seed_alarms, &lv);
	live_fill_end(&lv);
	if ((rc = router_start(lv.router)) != 0) {
		log_error("start failed: shard threads: %s", strerror(-rc));
		goto err_watchers;
	}
	if ((rc = opapi_start(lv.opapi)) != 0) {
		log_error("start failed: http writes thread: %s", strerror(-rc));
		router_stop(lv.router);
		goto err_watchers;
	}
	ev_now_update(lv.loop);
	lv.started = ev_now(lv.loop);
	if ((rc = poller_start(lv.poller)) != 0) {
		log_error("start failed: poller_start rc=%d", rc);
		router_stop(lv.router);
		goto err_watchers;
	}
	live_stats_put(&lv);
	stats_set_phase(lv.stats, STATS_RUNNING);
	log_info("start version=%s pid=%ld config=%s census=\"%s\" shards=%u "
	    "output=%s duration_s=%g", TOCSIN_VERSION, (long)getpid(),
	    cfg->path, census, lv.nshards, outpath, opts->duration_s);
	if (cfg->daemon.role == CFG_ROLE_POLLER) {
		size_t mine = 0;

		for (size_t i = 0; i < cfg->fleet->ndevices; i++)
			mine += poller_in_share(&lv.pc, cfg->fleet, (uint32_t)i);
		log_info("role poller share=%u/%u devices=%zu of %zu alarms=%s "
		    "(incident events are the correlators' to publish)",
		    cfg->daemon.poll_share, cfg->daemon.poll_shares, mine,
		    cfg->fleet->ndevices, cfg->kafka.client.alarms);
	}

	live_notify(census);

	ev_run(lv.loop, 0);

	stats_set_phase(lv.stats, STATS_STOPPING);
	(void)sdnotify("STOPPING=1");
	live_shutdown(&lv);
	ev_now_update(lv.loop);
	snprintf(err, sizeof(err), "stop reason=%s census=\"%s\"",
	    lv.stop_reason != NULL ? lv.stop_reason : "loop-ended", census);
	live_log_counters(&lv, err);
	status = 0;
err_watchers:
	ev_signal_stop(lv.loop, &lv.sigusr1);
	ev_signal_stop(lv.loop, &lv.sighup);
	ev_signal_stop(lv.loop, &lv.sigint);
	ev_signal_stop(lv.loop, &lv.sigterm);
	ev_timer_stop(lv.loop, &lv.deadline);
	ev_timer_stop(lv.loop, &lv.statst);
	ev_timer_stop(lv.loop, &lv.tick);
	sse_stop(lv.sse);
	command_stop(lv.command);
	poller_free(lv.poller);
err_router:
	live_fill_end(&lv);	/* it reads the router's engines */
	afwd_stop(lv.afwd);	/* NULL after a clean stop */
	opapi_stop(lv.opapi);	/* a producer: before the router stops */
	http_stop(lv.http);
	command_free(lv.command);	/* after http_stop: its route uses it */
	ev_async_stop(lv.loop, &lv.room);
	router_free(lv.router);
	outbox_free(lv.outbox);
	if (lv.telem != NULL)
		telem_flush(lv.telem);	/* the latest values, if they fit */
	if (lv.kafka != NULL)
		lv.kafka->ops->close(lv.kafka, 2000);
	telem_free(lv.telem);
	if (lv.redis != NULL)
		lv.redis->ops->close(lv.redis, 1000);
	if (lv.history != NULL)
		lv.history->ops->close(lv.history, 0);
	if (lv.out != NULL)
		lv.out->ops->close(lv.out, 0);
	publish_free(lv.pub);
	view_free(lv.view);	/* after http_stop: its routes read it */
	sse_free(lv.sse);	/* after http_stop too; before store_close */
	opapi_free(lv.opapi);
	xfree(lv.redis_password);
	xfree(lv.comm);
	xfree(lv.mcomm);
	for (unsigned i = 0; lv.stores != NULL && i < lv.nshards; i++)
		store_close(lv.stores[i]);
	xfree(lv.stores);
	monitor_free(lv.monitor);
	stats_free(lv.stats);
	http_token_free(lv.http_token);
	/* after the engines (router_free): a fallback one borrows settings */
	live_reload_reap(&lv, 1);
	if (lv.cfg != lv.cfg0)
		config_free(lv.cfg);
err_shards:
	for (unsigned i = 0; i < lv.nshards; i++)
		xfree(lv.shards[i].by_area);
	xfree(sinks);
	xfree(lv.shards);
	ev_loop_destroy(lv.loop);
	return status;
}
