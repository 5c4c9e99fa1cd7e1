/*
 * crole.c - see crole.h.
 *
 * Threads: the main one only waits for signals (sigtimedwait; with HTTP
 * on it wakes every SSE_KEEPALIVE_S to send the event streams'
 * keepalive, and uses no CPU otherwise); the stage's own (cstage_run:
 * blocking Kafka calls with bounds, the consumer's poll a second at a
 * time for the stop flag);
 * librdkafka's; the HTTP server's; with `redis.enabled`, a libev loop's
 * (the Redis publisher, fed what the stage commits through daemon/cfeed,
 * and a timer that copies its counters for /metrics once a second); the
 * history's (daemon/chist: closed events to state_dir/history, blocking
 * writes and syncs, its consumer's poll a second at a time).
 * Signals are blocked before any of them starts, so they all come to the
 * main thread's sigwait.  The stage thread, when it ends by itself (a
 * fatal error), tells the main thread with SIGUSR2.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "daemon/cfeed.h"
#include "daemon/chist.h"
#include "daemon/clock.h"
#include "daemon/crole.h"
#include "daemon/cstage.h"
#include "daemon/http.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/monitor.h"
#include "daemon/sdnotify.h"
#include "daemon/sse.h"
#include "daemon/stats.h"
#include "daemon/view.h"
#include "drivers/redis/redis.h"

enum crole_phase { CR_STARTING, CR_RUNNING, CR_STOPPING, CR_FAILED };

struct crole {
	const struct config *cfg;
	struct cstage_config cc;
	struct cstage	*cs;
	struct view	*view;		/* the incident read API */
	struct sse	*sse;		/* GET /api/v1/events */
	struct pub_sink	 reads;		/* cc.reads: the view, then sse */
	struct pub_sink	*vsink, *esink;	/* theirs */
	atomic_int	 stop;
	atomic_int	 phase;		/* enum crole_phase */
	pthread_t	 main_thr, stage_thr;
	int		 rc;		/* the stage's, once it ended */
	char		 err[512];
	/* the loop's sinks (Redis), fed what the stage commits */
	struct ev_loop	*loop;		/* NULL: redis.enabled false */
	struct cfeed	*feed;
	struct pub_sink	*redis;
	char		*redis_password;
	ev_async	 quit;
	ev_timer	 statst;
	pthread_t	 loop_thr;
	int		 loop_started;
	pthread_mutex_t	 slock;		/* the loop's copy of its counters */
	struct redis_stats rst;
	int		 rup;		/* Redis reachable as last copied, -1:
					 * not copied yet */
	/* the history of closed incidents (the monthly report's input) */
	struct chist_config hc;
	struct chist	*hist;		/* NULL: kafka.history_group off */
	char		 hgroup[256], hdir[4096];
};

/*
 * What the stage commits goes to the read API and then to the event
 * stream (a client that resets reads the read API again: it already has
 * what the stream sends next).  Both take every record.
 */
static int
crole_reads_offer(struct pub_sink *s, const struct pub_rec *r)
{
	struct crole *cr = container_of(s, struct crole, reads);

	(void)cr->vsink->ops->offer(cr->vsink, r);
	return cr->esink->ops->offer(cr->esink, r);
}

static int
crole_reads_healthy(const struct pub_sink *s)
{
	(void)s;
	return 1;		/* memory */
}

static void
crole_reads_close(struct pub_sink *s, int timeout_ms)
{
	(void)s;
	(void)timeout_ms;	/* view_free, sse_free */
}

static const struct pub_ops crole_reads_ops = {
	.name = "reads",
	.offer = crole_reads_offer,
	.healthy = crole_reads_healthy,
	.close = crole_reads_close,
};

static const char *
crole_phase_name(int p)
{
	static const char *const v[] = { "starting", "running", "stopping",
	    "failed" };

	return p >= 0 && p <= CR_FAILED ? v[p] : "?";
}

static void *
crole_stage(void *arg)
{
	struct crole *cr = arg;

	cr->rc = cstage_run(cr->cs, &cr->stop, cr->err, sizeof(cr->err));
	if (cr->rc != 0)
		atomic_store(&cr->phase, CR_FAILED);
	/* ended by itself: the main thread's sigwait hears it */
	if (!atomic_load(&cr->stop))
		(void)pthread_kill(cr->main_thr, SIGUSR2);
	return NULL;
}

/* ---- the loop: Redis ---- */

/* The loop's counters, copied for the HTTP thread. */
static void
crole_stats_put(struct crole *cr)
{
	struct redis_stats rs;
	int up;

	redis_stats(cr->redis, &rs);
	up = cr->redis->ops->healthy(cr->redis);
	pthread_mutex_lock(&cr->slock);
	cr->rst = rs;
	cr->rup = up;
	pthread_mutex_unlock(&cr->slock);
}

static void
crole_stats_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	crole_stats_put(container_of(w, struct crole, statst));
}

static void
crole_quit_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* The loop's thread: until crole_loop_stop(); then Redis is given a
 * second to take what it was sent, and closed.  The feed stays until
 * crole_loop_free(): the stage's last revocation (cstage_free(): the
 * consumer's close) still tells it. */
static void *
crole_loop(void *arg)
{
	struct crole *cr = arg;

	ev_run(cr->loop, 0);
	ev_timer_stop(cr->loop, &cr->statst);
	ev_async_stop(cr->loop, &cr->quit);
	crole_stats_put(cr);
	cr->redis->ops->close(cr->redis, 1000);
	cfeed_attach(cr->feed, NULL);
	return NULL;
}

/*
 * The Redis publisher on a loop of its own, fed by the stage through
 * cr->feed (cc.feed): 0 (nothing to do when redis.enabled is false), or
 * -1 (logged).  Before the stage is made; the loop's thread starts in
 * crole_loop_start().
 */
static int
crole_redis(struct crole *cr)
{
	const struct cfg_redis *c = &cr->cfg->redis;
	struct redis_config rc;
	unsigned slots;
	int rv;

	if (!c->enabled)
		return 0;
	rc = c->client;
	rc.id_prefix = cr->cfg->correlation.id_prefix;
	rc.seq_guard = c->seq_guard != 0; /* a moving partition has two
					   * writers (docs/redis.md) */
	cr->redis_password = config_read_secret(c->password_file);
	rc.password = cr->redis_password;
	if ((cr->loop = ev_loop_new(EVFLAG_AUTO)) == NULL) {
		log_error("start failed: redis: no event loop");
		return -1;
	}
	pthread_mutex_init(&cr->slock, NULL);
	cr->rup = -1;
	for (slots = 64; slots < c->feed_records; slots *= 2)
		;	/* a ring's slots are a power of two */
	cr->feed = cfeed_new(cr->loop, slots, CFEED_BYTES);
	if ((rv = redis_new(cr->loop, &rc, cfeed_host(cr->feed),
	    &cr->redis)) != 0) {
		log_error("start failed: redis: %s", strerror(-rv));
		cfeed_free(cr->feed);
		cr->feed = NULL;
		return -1;
	}
	cfeed_attach(cr->feed, cr->redis);
	/* guarded, Redis keeps the newer state: a moved partition's queued
	 * events still give the stream their entries */
	cfeed_late_events(cr->feed, rc.seq_guard != 0);
	cr->cc.feed = cr->feed;
	ev_async_init(&cr->quit, crole_quit_cb);
	ev_async_start(cr->loop, &cr->quit);
	ev_timer_init(&cr->statst, crole_stats_cb, STATS_PERIOD_MS / 1000.0,
	    STATS_PERIOD_MS / 1000.0);
	ev_timer_start(cr->loop, &cr->statst);
	log_info("redis publisher host=%s port=%u prefix=%s (fed what the "
	    "stage commits, feed_records=%u, seq_guard=%s)", rc.host, rc.port,
	    rc.prefix, slots, rc.seq_guard ? "true" : "false");
	return 0;
}

static int
crole_loop_start(struct crole *cr)
{
	if (cr->loop == NULL)
		return 0;
	if (pthread_create(&cr->loop_thr, NULL, crole_loop, cr) != 0) {
		log_error("start failed: the Redis loop's thread");
		return -1;
	}
	cr->loop_started = 1;
	return 0;
}

/* After the stage's thread ended: Redis closed, the loop stopped. */
static void
crole_loop_stop(struct crole *cr)
{
	if (cr->loop == NULL)
		return;
	if (cr->loop_started) {
		ev_async_send(cr->loop, &cr->quit);
		pthread_join(cr->loop_thr, NULL);
		cr->loop_started = 0;
	} else if (cr->redis != NULL) {
		cr->redis->ops->close(cr->redis, 0);
		cfeed_attach(cr->feed, NULL);
	}
	cr->redis = NULL;
}

/* After cstage_free(): nothing offers any more. */
static void
crole_loop_free(struct crole *cr)
{
	if (cr->loop == NULL)
		return;
	cfeed_free(cr->feed);
	ev_loop_destroy(cr->loop);
	pthread_mutex_destroy(&cr->slock);
	cr->loop = NULL;
}

/* ---- HTTP ---- */

static json_t *
crole_parts_json(const struct cstage_view *v)
{
	json_t *a = json_array();

	for (size_t i = 0; i < v->nparts; i++) {
		const struct cstage_part_view *p = &v->parts[i];

		json_array_append_new(a, json_pack("{s:i, s:I, s:I, s:I, s:I, "
		    "s:I}", "partition", (int)p->partition, "incidents",
		    (json_int_t)p->incidents, "offset", (json_int_t)p->offset,
		    "changelog_lag", (json_int_t)p->lag, "rebuild_ms",
		    (json_int_t)p->rebuild_ms, "rebuild_records",
		    (json_int_t)p->rebuild_records));
	}
	return a;
}

static void
crole_healthz(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	struct crole *cr = arg;
	struct cstage_view v;
	int ph = atomic_load(&cr->phase);
	json_t *reasons = json_array(), *hist = NULL;

	(void)rq;
	cstage_view(cr->cs, &v);
	if (ph == CR_FAILED)
		json_array_append_new(reasons, json_sprintf("the stage ended: "
		    "%s", cr->err));
	else if (ph != CR_RUNNING)
		json_array_append_new(reasons, json_sprintf("correlator is %s",
		    crole_phase_name(ph)));
	if (cr->loop != NULL) {
		int up;

		pthread_mutex_lock(&cr->slock);
		up = cr->rup;
		pthread_mutex_unlock(&cr->slock);
		if (up == 0)
			json_array_append_new(reasons, json_string("sink redis: "
			    "not reachable or not writable"));
	}
	if (cr->hist != NULL) {
		struct chist_stats hs;

		chist_stats(cr->hist, &hs);
		if (hs.failing)
			json_array_append_new(reasons, json_sprintf("history "
			    "%s: not writable", cr->hdir));
		hist = json_pack("{s:s, s:s, s:s, s:I, s:I, s:b}", "dir",
		    cr->hdir, "topic", cr->hc.topic, "group", cr->hgroup,
		    "lines", (json_int_t)hs.lines, "records",
		    (json_int_t)hs.consumed, "failing", hs.failing);
	}
	http_resp_json(rs, json_array_size(reasons) == 0 ? 200 : 503,
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "status",
	    json_array_size(reasons) == 0 ? "ok" : "unhealthy", "phase",
	    crole_phase_name(ph), "role", "correlator", "group",
	    cr->cc.group, "client_id", cr->cc.client_id, "reasons", reasons,
	    "partitions", crole_parts_json(&v), "history", hist != NULL ?
	    hist : json_null()));
}

static void
crole_readyz(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	struct crole *cr = arg;
	struct cstage_view v;

	(void)rq;
	cstage_view(cr->cs, &v);
	if (atomic_load(&cr->phase) == CR_RUNNING && v.assigned > 0)
		http_resp_json(rs, 200, json_pack("{s:s}", "status", "ready"));
	else
		http_resp_json(rs, 503, json_pack("{s:s, s:s}", "status",
		    "not ready", "reason", atomic_load(&cr->phase) !=
		    CR_RUNNING ? crole_phase_name(atomic_load(&cr->phase)) :
		    "no partitions assigned by the group yet"));
}

/* Redis and the feed that hands it what the stage commits. */
static void
crole_metrics_feed(struct crole *cr, struct http_resp *rs, uint64_t dumps)
{
	struct cfeed_stats fs;
	struct redis_stats r;
	struct stats_sink k;
	int up;

	cfeed_stats(cr->feed, &fs);
	pthread_mutex_lock(&cr->slock);
	r = cr->rst;
	up = cr->rup;
	pthread_mutex_unlock(&cr->slock);
	memset(&k, 0, sizeof(k));
	snprintf(k.name, sizeof(k.name), "redis");
	k.offered = fs.offered;
	k.refused = fs.refused;
	k.rewinds = fs.rewinds;
	k.lag = fs.bytes;
	k.inflight = r.inflight;
	k.errors = r.errors + r.connect_failures;
	k.healthy = up == 1;
	monitor_sinks(rs, &k, 1);
	monitor_one(rs, "tocsin_redis_resyncs_total", "counter", "Times Redis "
	    "(re)connected and every owned partition was dumped to it.",
	    r.resyncs);
	monitor_one(rs, "tocsin_redis_stale_removed_total", "counter",
	    "Incidents a dump found in Redis and not in the partition's live "
	    "set, removed.", r.stale_removed);
	monitor_one(rs, "tocsin_redis_older_skipped_total", "counter",
	    "Incident records whose seq was not newer than Redis' hash: "
	    "their state not written, their stream entry added.",
	    r.older_skipped);
	monitor_one(rs, "tocsin_feed_queued_records", "gauge", "Records the "
	    "stage handed to Redis' loop and Redis has not yet answered "
	    "(their bytes: tocsin_sink_lag_bytes{sink=\"redis\"}).",
	    fs.queued);
	monitor_one(rs, "tocsin_feed_folds_total", "counter", "Times a "
	    "partition's records stopped going to Redis (the hand-off full: "
	    "Redis down or slow) until its dump fits.", fs.folds);
	monitor_one(rs, "tocsin_feed_folded_records_total", "counter",
	    "Records not handed to Redis while their partition folded "
	    "(missing from stream:incidents only; tocsin.incidents has them).",
	    fs.folded);
	monitor_one(rs, "tocsin_feed_dumps_total", "counter", "Partitions "
	    "dumped whole to Redis (rebuilds, folds, reconnects).", dumps);
	monitor_one(rs, "tocsin_feed_revoked_records_total", "counter",
	    "Records not sent to Redis because their partition moved to "
	    "another instance first.", fs.revoked);
	monitor_one(rs, "tocsin_feed_late_events_total", "counter",
	    "Events sent to Redis although their partition had moved to "
	    "another instance (redis.seq_guard: only their stream entry "
	    "lands when the new owner's state is newer).", fs.late);
}

/* The history kept from tocsin.incidents (daemon/chist). */
static void
crole_metrics_history(struct crole *cr, struct http_resp *rs)
{
	struct chist_stats h;

	chist_stats(cr->hist, &h);
	monitor_one(rs, "tocsin_history_records_total", "counter", "Records "
	    "of the incidents topic the history consumer read.", h.consumed);
	monitor_one(rs, "tocsin_history_lines_total", "counter", "Closed "
	    "events appended to state_dir/history (again after a restart "
	    "included).", h.lines);
	monitor_one(rs, "tocsin_history_commits_total", "counter", "Offsets "
	    "committed after the lines before them were synced.", h.commits);
	monitor_one(rs, "tocsin_history_errors_total", "counter", "History "
	    "writes, syncs and commits that failed (a write is retried).",
	    h.write_errors + h.commit_errors);
	monitor_one(rs, "tocsin_history_bad_records_total", "counter",
	    "Records of the incidents topic that are not incident events, "
	    "passed by.", h.bad);
	monitor_one(rs, "tocsin_history_failing", "gauge", "1 while the "
	    "history's last write or sync failed.", (uint64_t)h.failing);
}

static void
crole_metrics(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	struct crole *cr = arg;
	struct cstage_view v;
	const struct cstage_stats *st = &v.st;
	char p[16];

	(void)rq;
	cstage_view(cr->cs, &v);
	rs->ctype = "text/plain; version=0.0.4";
	monitor_family(rs, "tocsin_role", "gauge", "This instance's "
	    "daemon.role.");
	monitor_sample(rs, "tocsin_role", "role", "correlator", 1);
	monitor_one(rs, "tocsin_partitions_owned", "gauge", "Partitions of "
	    "the alarms topic this correlator owns.", v.nparts);
	monitor_family(rs, "tocsin_partition_incidents", "gauge", "Live "
	    "incidents of an owned partition's engine.");
	for (size_t i = 0; i < v.nparts; i++) {
		snprintf(p, sizeof(p), "%d", (int)v.parts[i].partition);
		monitor_sample(rs, "tocsin_partition_incidents", "partition", p,
		    v.parts[i].incidents);
	}
	monitor_family(rs, "tocsin_changelog_lag_records", "gauge", "Input "
	    "records of an owned partition that its committed state (the "
	    "changelog) has not taken in yet, as of the last commit.");
	for (size_t i = 0; i < v.nparts; i++) {
		if (v.parts[i].lag < 0)
			continue;	/* not known yet: no sample */
		snprintf(p, sizeof(p), "%d", (int)v.parts[i].partition);
		monitor_sample(rs, "tocsin_changelog_lag_records", "partition",
		    p, (uint64_t)v.parts[i].lag);
	}
	monitor_family(rs, "tocsin_partition_rebuild_seconds", "gauge",
	    "How long an owned partition's last rebuild from the changelog "
	    "took.");
	for (size_t i = 0; i < v.nparts; i++)
		http_resp_printf(rs, "tocsin_partition_rebuild_seconds"
		    "{partition=\"%d\"} %.3f\n", (int)v.parts[i].partition,
		    (double)v.parts[i].rebuild_ms / 1000.0);
	monitor_family(rs, "tocsin_partition_rebuild_records", "gauge",
	    "Changelog records an owned partition's last rebuild read.");
	for (size_t i = 0; i < v.nparts; i++) {
		snprintf(p, sizeof(p), "%d", (int)v.parts[i].partition);
		monitor_sample(rs, "tocsin_partition_rebuild_records",
		    "partition", p, v.parts[i].rebuild_records);
	}
	monitor_one(rs, "tocsin_correlator_records_total", "counter", "Input "
	    "records applied (alarm transitions and ticks).", st->records);
	monitor_one(rs, "tocsin_correlator_bad_records_total", "counter",
	    "Input records passed by: unparsable, or naming a device or code "
	    "the fleet lacks.", st->bad);
	monitor_family(rs, "tocsin_correlator_actions_total", "counter",
	    "Operator actions and maintenance lines of the partitions, by "
	    "outcome (a refused action goes to the rejected topic).");
	{
		const struct { const char *result; uint64_t n; } by[] = {
			{ "action_applied", st->actions },
			{ "action_refused", st->actions_rejected },
			{ "maintenance_applied", st->maint },
			{ "maintenance_refused", st->maint_rejected },
		};

		for (size_t i = 0; i < sizeof(by) / sizeof(by[0]); i++)
			monitor_sample(rs, "tocsin_correlator_actions_total",
			    "result", by[i].result, by[i].n);
	}
	monitor_one(rs, "tocsin_correlator_events_total", "counter",
	    "Incident events produced (committed or aborted).", st->events);
	monitor_one(rs, "tocsin_changelog_records_total", "counter",
	    "Changelog records produced.", st->changelog);
	monitor_one(rs, "tocsin_changelog_split_total", "counter",
	    "Changelog values larger than a piece, written as a head and "
	    "their pieces (docs/scaleout.md).", st->split);
	monitor_one(rs, "tocsin_partition_rebuilds_total", "counter",
	    "Partitions rebuilt from the changelog (assignments and "
	    "aborts).", st->rebuilds);
	monitor_family(rs, "tocsin_transactions_total", "counter", "Kafka "
	    "transactions, by outcome.");
	monitor_sample(rs, "tocsin_transactions_total", "result", "committed",
	    st->commits);
	monitor_sample(rs, "tocsin_transactions_total", "result", "aborted",
	    st->aborts);
	if (cr->loop != NULL)
		crole_metrics_feed(cr, rs, st->feed_dumps);
	if (cr->hist != NULL)
		crole_metrics_history(cr, rs);
	if (cr->sse != NULL)
		monitor_sse(rs, cr->sse);
	monitor_metrics_process(rs);
}

static void
crole_cluster(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	struct crole *cr = arg;
	char err[256];
	json_t *m;

	(void)rq;
	if ((m = cstage_members(cr->cs, CROLE_CLUSTER_MS, err,
	    sizeof(err))) == NULL) {
		http_resp_error(rs, 503, "the group %s: %s", cr->cc.group, err);
		return;
	}
	http_resp_json(rs, 200, json_pack("{s:s, s:s, s:o}", "group",
	    cr->cc.group, "topic", cr->cc.alarms, "members", m));
}

static int
crole_http(struct crole *cr, struct http_server **out, char **token)
{
	const struct cfg_http *ch = &cr->cfg->http;
	struct http_route routes[CROLE_NROUTES + VIEW_NROUTES +
	    SSE_NROUTES] = {
		{ "GET", "/healthz", 0, crole_healthz, cr },
		{ "GET", "/readyz", 0, crole_readyz, cr },
		{ "GET", "/metrics", 0, crole_metrics, cr },
		{ "GET", "/api/v1/cluster", 0, crole_cluster, cr },
	};
	size_t n = CROLE_NROUTES;
	char err[512];

	*out = NULL;
	*token = NULL;
	if (!config_http_on(ch)) {
		log_info("http off (http.enabled false or http.listen empty)");
		return 0;
	}
	if (cr->view != NULL)
		n += view_routes(cr->view, routes + n);
	if (cr->sse != NULL)
		n += sse_routes(cr->sse, routes + n);
	if (http_serve(&ch->server, routes, n, token, out, err,
	    sizeof(err)) != 0) {
		log_error("start failed: %s", err);
		return -1;
	}
	return 0;
}

/* ---- the run ---- */

static void
crole_log_counters(struct crole *cr, const char *what)
{
	struct cstage_view v;

	cstage_view(cr->cs, &v);
	log_info("%s partitions=%zu records=%" PRIu64 " ticks=%" PRIu64
	    " bad=%" PRIu64 " events=%" PRIu64 " changelog=%" PRIu64
	    " rebuilds=%" PRIu64 " commits=%" PRIu64 " aborts=%" PRIu64, what,
	    v.nparts, v.st.records, v.st.ticks, v.st.bad, v.st.events,
	    v.st.changelog, v.st.rebuilds, v.st.commits, v.st.aborts);
}

/*
 * This start's event-stream epoch (sse_start_memory): the wall clock's
 * ms and the pid, so a Last-Event-ID of another start or another
 * instance is never taken for one of this stream's.
 */
static uint64_t
crole_epoch(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u)
	    << 16 | ((uint64_t)getpid() & 0xffffu);
}

/* What the role needs of the configuration: 0, or -1 (logged). */
static int
crole_check(const struct config *cfg)
{
	const struct kafka_config *k = &cfg->kafka.client;
	char err[256];

	if (k->brokers == NULL || k->brokers[0] == '\0') {
		log_error("start failed: daemon.role correlator needs "
		    "kafka.brokers (Kafka transactions; the embedded mock "
		    "cluster is for the demo)");
		return -1;
	}
	if (k->alarms == NULL || k->alarms[0] == '\0') {
		log_error("start failed: daemon.role correlator consumes "
		    "kafka.alarms: set the topic");
		return -1;
	}
	if (corr_config_check(&cfg->correlation, err, sizeof(err)) != 0) {
		log_error("start failed: correlation: %s", err);
		return -1;
	}
	return 0;
}

/*
 * The history of closed incidents from tocsin.incidents, in a consumer
 * group of this instance's own unless kafka.history_group says otherwise:
 * 0, or -1 (logged).
 */
static int
crole_history(struct crole *cr)
{
	const struct kafka_config *k = &cr->cfg->kafka.client;
	char err[512];

	if (strcmp(k->history_group, "off") == 0) {
		log_info("history: off (kafka.history_group): no monthly report "
		    "input here");
		return 0;
	}
	if (k->history_group[0] != '\0')
		snprintf(cr->hgroup, sizeof(cr->hgroup), "%s",
		    k->history_group);
	else
		snprintf(cr->hgroup, sizeof(cr->hgroup), "%s.history",
		    k->client_id);
	snprintf(cr->hdir, sizeof(cr->hdir), "%s/history",
	    cr->cfg->daemon.state_dir);
	cr->hc = (struct chist_config){
		.brokers = k->brokers, .group = cr->hgroup,
		.topic = k->history[0] != '\0' ? k->history : k->incidents,
		.client_id = k->client_id,
		.dir = cr->hdir, .props = k->props, .nprops = k->nprops,
		.keep_months = cr->cfg->daemon.history_months,
	};
	if (chist_start(&cr->hc, &cr->hist, err, sizeof(err)) != 0) {
		log_error("start failed: %s (or set kafka.history_group: off)",
		    err);
		return -1;
	}
	return 0;
}

int
crole_run(const struct config *cfg, double duration_s)
{
	struct crole *cr;
	const struct kafka_config *k = &cfg->kafka.client;
	struct http_server *http = NULL;
	char *token = NULL, msg[512];
	int64_t end_us;
	sigset_t set;
	int sig, status = 1, started = 0;

	if (crole_check(cfg) != 0)
		return 1;
	cr = xcalloc(1, sizeof(*cr));
	cr->cfg = cfg;
	cr->main_thr = pthread_self();
	cr->cc = (struct cstage_config){
		.brokers = k->brokers, .group = k->correlator_group,
		.alarms = k->alarms, .incidents = k->incidents,
		.history = k->history,
		.changelog = k->changelog, .rejected = k->rejected,
		.txn_id = k->client_id,
		.client_id = k->client_id, .fleet = cfg->fleet,
		.cc = &cfg->correlation, .props = k->props,
		.nprops = k->nprops,
	};
	/* the incident read API, fed what the stage commits */
	if (config_http_on(&cfg->http)) {
		static const struct pub_host host;	/* nothing to tell */

		cr->view = view_new(cfg->fleet);
		cr->vsink = view_sink(cr->view, &host);
		cr->sse = sse_new(1, cfg->http.server.max_streams);
		cr->esink = sse_sink(cr->sse, &host);
		cr->reads.ops = &crole_reads_ops;
		cr->cc.reads = &cr->reads;
	}
	if (crole_redis(cr) != 0)
		goto out;
	/* before any thread: every signal comes to sigwait below */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (crole_history(cr) != 0)
		goto out;

	log_info("correlator starting group=%s alarms=%s changelog=%s "
	    "incidents=%s transactional.id=%s", cr->cc.group, cr->cc.alarms,
	    cr->cc.changelog, cr->cc.incidents, cr->cc.txn_id);
	if (cstage_new(&cr->cc, &cr->cs, cr->err, sizeof(cr->err)) != 0) {
		log_error("start failed: %s", cr->err);
		goto out;
	}
	if (crole_http(cr, &http, &token) != 0 || crole_loop_start(cr) != 0)
		goto out;
	if (cr->sse != NULL)
		sse_start_memory(cr->sse, crole_epoch());
	atomic_store(&cr->phase, CR_RUNNING);
	if (pthread_create(&cr->stage_thr, NULL, crole_stage, cr) != 0) {
		log_error("start failed: the stage's thread");
		goto out;
	}
	started = 1;
	snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%ld\nSTATUS=correlator "
	    "in group %s", (long)getpid(), cr->cc.group);
	(void)sdnotify(msg);
	log_info("correlator running (the group assigns the partitions)");

	end_us = clock_mono_us() + (int64_t)(duration_s * 1e6);
	for (;;) {
		siginfo_t si;
		struct timespec ts;
		int64_t wait_us = INT64_MAX;	/* until a signal */
		int ends = 0;			/* the wait ends the run */

		if (duration_s > 0) {
			if ((wait_us = end_us - clock_mono_us()) < 0)
				break;
			ends = 1;
		}
		if (cr->sse != NULL && wait_us > (int64_t)(SSE_KEEPALIVE_S *
		    1e6)) {
			wait_us = (int64_t)(SSE_KEEPALIVE_S * 1e6);
			ends = 0;
		}
		if (wait_us == INT64_MAX) {
			if (sigwait(&set, &sig) != 0)
				sig = -1;
		} else {
			ts.tv_sec = (time_t)(wait_us / 1000000);
			ts.tv_nsec = (long)(wait_us % 1000000 * 1000);
			sig = sigtimedwait(&set, &si, &ts);
			if (sig < 0 && errno == EAGAIN) {
				if (ends)
					break;	/* the run's duration */
				sse_keepalive(cr->sse);
				continue;
			}
		}
		if (sig == SIGTERM || sig == SIGINT) {
			log_info("signal %s: stopping", sig == SIGTERM ?
			    "SIGTERM" : "SIGINT");
			break;
		}
		if (sig == SIGUSR2)
			break;		/* the stage ended */
		if (sig == SIGHUP)
			log_warnx("reload refused: daemon.role correlator "
			    "reads its configuration at start only (restart "
			    "the instance; the group moves its partitions)");
		else if (sig == SIGUSR1)
			crole_log_counters(cr, "counters");
	}
	status = 0;
out:
	if (atomic_load(&cr->phase) != CR_FAILED)
		atomic_store(&cr->phase, CR_STOPPING);
	atomic_store(&cr->stop, 1);
	if (started)
		pthread_join(cr->stage_thr, NULL);
	crole_loop_stop(cr);
	if (started && cr->rc != 0) {
		log_error("correlator failed: %s", cr->err);
		status = 1;
	}
	if (http != NULL)
		http_stop(http);
	if (cr->cs != NULL) {
		crole_log_counters(cr, "stopped");
		cstage_free(cr->cs);	/* a revocation may still offer */
	}
	crole_loop_free(cr);
	chist_stop(cr->hist);
	sse_free(cr->sse);	/* after http_stop and cstage_free */
	view_free(cr->view);
	xfree(cr->redis_password);
	http_token_free(token);
	xfree(cr);
	return status;
}
