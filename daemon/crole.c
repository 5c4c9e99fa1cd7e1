/*
 * crole.c - see crole.h.
 *
 * Threads: the main one only waits for signals (sigwait: no timer, no
 * CPU while idle); the stage's own (cstage_run: blocking Kafka calls with
 * bounds, the consumer's poll a second at a time for the stop flag);
 * librdkafka's; the HTTP server's.  Signals are blocked before any of
 * them starts, so they all come to the main thread's sigwait.  The stage
 * thread, when it ends by itself (a fatal error), tells the main thread
 * with SIGUSR2.
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

#include "daemon/crole.h"
#include "daemon/cstage.h"
#include "daemon/http.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/monitor.h"
#include "daemon/sdnotify.h"
#include "daemon/view.h"

enum crole_phase { CR_STARTING, CR_RUNNING, CR_STOPPING, CR_FAILED };

struct crole {
	const struct config *cfg;
	struct cstage_config cc;
	struct cstage	*cs;
	struct view	*view;		/* the incident read API */
	atomic_int	 stop;
	atomic_int	 phase;		/* enum crole_phase */
	pthread_t	 main_thr, stage_thr;
	int		 rc;		/* the stage's, once it ended */
	char		 err[512];
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
	json_t *reasons = json_array();

	(void)rq;
	cstage_view(cr->cs, &v);
	if (ph == CR_FAILED)
		json_array_append_new(reasons, json_sprintf("the stage ended: "
		    "%s", cr->err));
	else if (ph != CR_RUNNING)
		json_array_append_new(reasons, json_sprintf("correlator is %s",
		    crole_phase_name(ph)));
	http_resp_json(rs, json_array_size(reasons) == 0 ? 200 : 503,
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "status",
	    json_array_size(reasons) == 0 ? "ok" : "unhealthy", "phase",
	    crole_phase_name(ph), "role", "correlator", "group",
	    cr->cc.group, "client_id", cr->cc.client_id, "reasons", reasons,
	    "partitions", crole_parts_json(&v)));
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
	struct http_route routes[CROLE_NROUTES + VIEW_NROUTES] = {
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

int
crole_run(const struct config *cfg, double duration_s)
{
	struct crole *cr;
	const struct kafka_config *k = &cfg->kafka.client;
	struct http_server *http = NULL;
	char *token = NULL, msg[512];
	struct timespec until, now;
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
		cr->cc.reads = view_sink(cr->view, &host);
	}
	/* before any thread: every signal comes to sigwait below */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	log_info("correlator starting group=%s alarms=%s changelog=%s "
	    "incidents=%s transactional.id=%s", cr->cc.group, cr->cc.alarms,
	    cr->cc.changelog, cr->cc.incidents, cr->cc.txn_id);
	if (cstage_new(&cr->cc, &cr->cs, cr->err, sizeof(cr->err)) != 0) {
		log_error("start failed: %s", cr->err);
		goto out;
	}
	if (crole_http(cr, &http, &token) != 0)
		goto out;
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

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)duration_s;
	until.tv_nsec += (long)((duration_s - (double)(time_t)duration_s) *
	    1e9);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	for (;;) {
		siginfo_t si;

		if (duration_s > 0) {
			struct timespec left;

			clock_gettime(CLOCK_MONOTONIC, &now);
			left.tv_sec = until.tv_sec - now.tv_sec;
			left.tv_nsec = until.tv_nsec - now.tv_nsec;
			if (left.tv_nsec < 0) {
				left.tv_sec--;
				left.tv_nsec += 1000000000L;
			}
			if (left.tv_sec < 0)
				break;
			sig = sigtimedwait(&set, &si, &left);
			if (sig < 0 && errno == EAGAIN)
				break;
		} else if (sigwait(&set, &sig) != 0)
			sig = -1;
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
	view_free(cr->view);
	http_token_free(token);
	xfree(cr);
	return status;
}
