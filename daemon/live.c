/*
 * live.c - see live.h.
 *
 * Wiring, in start order (torn down in reverse through one ladder):
 *   1. the file sink on the loop, one producer ring per shard;
 *   2. the router: daemon.shards engines, each reporting to its own
 *      struct live_shard (the shard thread's sink: encode, count, hand the
 *      line to the file sink), and one producer, the poll thread;
 *   3. the poller over the fleet, its alarm sink pushing into the router;
 *   4. watchers: the tick timer, the duration timer, SIGTERM, SIGINT,
 *      SIGHUP, SIGUSR1;
 *   5. shard threads, then the poller's timers, then ev_run().
 *
 * Nothing is shared mutable between threads but the rings (the router's
 * and the file sink's) and counters: a live_shard's counters are written by
 * its shard thread only and read (relaxed) for the SIGUSR1 and stop lines.
 *
 * Back-pressure.  An alarm the router cannot queue within LIVE_PUSH_WAIT_MS
 * (its shard is that far behind) is refused: counted in `refused` and
 * logged with its device and code (the first of a run of refusals, then
 * every LIVE_LOG_EVERY-th).  After a refusal the shard is taken as stuck
 * for LIVE_STUCK_MS: alarms for it get one try and no wait, so a stalled
 * shard costs the poll loop at most LIVE_PUSH_WAIT_MS per LIVE_STUCK_MS,
 * never a wait per alarm of a storm.  A
 * tick a full ring cannot take is skipped (the next one carries a later
 * time; the busy shard's alarms move its time anyway) and counted.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "correlator/incjson.h"
#include "daemon/live.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/poller.h"
#include "daemon/ring.h"
#include "daemon/router.h"
#include "drivers/file/filesink.h"

#define LIVE_TICK_S		0.25	/* shards' time advances this often */
#define LIVE_RING_SLOTS		4096	/* alarms per producer x shard ring */
#define LIVE_PUSH_WAIT_MS	50	/* an alarm waits this long for room */
#define LIVE_STUCK_MS		1000	/* after a refusal: no waits this long */
#define LIVE_LOG_EVERY		100	/* refusals in a row: log one in N */
#define LIVE_DRAIN_WAIT_MS	10000	/* stop: shards get this long to drain */

struct live;

/* One shard's sink: runs on that shard's thread. */
struct live_shard {
	struct live	*lv;
	unsigned	 id;		/* shard number = file sink producer */
	_Atomic uint64_t events;	/* incident events emitted */
	_Atomic uint64_t opened;	/* "opened" events */
	_Atomic uint64_t resolved;	/* "resolved" events */
	_Atomic uint64_t sla;		/* sla_warning, sla_breached, escalated */
	_Atomic uint64_t rejected;	/* actions rejected */
};

struct live {
	struct config	*cfg;
	struct ev_loop	*loop;
	struct filesink	*out;		/* incident events */
	struct router *router;
	struct live_shard *shards;	/* cfg->daemon.shards */
	unsigned	 nshards;
	struct poller	*poller;
	ev_timer	 tick;		/* router_tick() */
	ev_timer	 deadline;	/* -d SECONDS */
	ev_signal	 sigterm, sigint, sighup, sigusr1;
	const char	*stop_reason;	/* "SIGTERM", "duration", ... */
	double		 started;	/* ev_now at start */
	uint64_t	 pushed;	/* alarms queued to a shard */
	uint64_t	 refused;	/* alarms the router could not take */
	uint64_t	 refused_run;	/* refusals since the last queued alarm */
	int64_t		*stuck_until;	/* per shard: no waiting before (ms) */
	uint64_t	 ticks;		/* ticks sent */
	uint64_t	 ticks_skipped;	/* shard ticks a full ring refused */
};

static int64_t
live_now_ms(struct live *lv)
{
	return (int64_t)(ev_now(lv->loop) * 1000.0);
}

/* ---- shard threads ---- */

static void
live_shard_event(void *arg, const struct corr_event *ev)
{
	struct live_shard *ls = arg;
	char *line = incjson_encode(ls->lv->cfg->fleet, ev);

	ring_add_relaxed(&ls->events, 1);
	switch (ev->type) {
	case CORR_EV_OPENED:
		ring_add_relaxed(&ls->opened, 1);
		break;
	case CORR_EV_RESOLVED:
		ring_add_relaxed(&ls->resolved, 1);
		break;
	case CORR_EV_SLA_WARNING:
	case CORR_EV_SLA_BREACHED:
	case CORR_EV_ESCALATED:
		ring_add_relaxed(&ls->sla, 1);
		break;
	default:
		break;
	}
	/* a refusal is counted, logged and the line freed by the sink */
	(void)ls->lv->out->ops->put(ls->lv->out, ls->id, line);
}

static void
live_shard_rejected(void *arg, const struct corr_action *a,
    const char *reason)
{
	struct live_shard *ls = arg;

	ring_add_relaxed(&ls->rejected, 1);
	log_warnx("action rejected incident=%s action=%s actor=%s reason=\"%s\"",
	    a->incident, corr_action_name((enum corr_action_type)a->type),
	    a->actor != NULL ? a->actor : "-", reason);
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
	const struct fleet *f = lv->cfg->fleet;
	unsigned shard = router_shard_of(lv->router, ev->site);
	int64_t now = live_now_ms(lv);
	int wait = now >= lv->stuck_until[shard] ? LIVE_PUSH_WAIT_MS : 0;
	size_t done = 0;

	if (router_push_wait(lv->router, 0, ev, 1, wait, &done) == 0) {
		lv->pushed++;
		lv->refused_run = 0;
		return;
	}
	lv->refused++;
	lv->stuck_until[shard] = now + LIVE_STUCK_MS;
	if (lv->refused_run++ % LIVE_LOG_EVERY != 0)
		return;
	log_warnx("alarm refused device=%s site=%s code=%s edge=%s shard=%u "
	    "reason=\"shard queue full\" waited_ms=%d refused=%llu",
	    f->devices[ev->device].id, f->sites[ev->site].id,
	    f->codes[ev->code], ev->edge == ALARM_RAISE ? "raise" : "clear",
	    shard, wait, (unsigned long long)lv->refused);
}

static const struct poller_sink_ops live_poller_ops = {
	.rules = { .alarm = live_alarm, .sample = NULL },
	.poll = NULL,
};

static void
live_send_tick(struct live *lv)
{
	int missed = router_tick(lv->router, 0, live_now_ms(lv));

	lv->ticks++;
	if (missed > 0)
		lv->ticks_skipped += (uint64_t)missed;
}

static void
live_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct live *lv = container_of(w, struct live, tick);

	(void)loop;
	(void)revents;
	live_send_tick(lv);
	/* the sink's ev_async is the writer's cue; this is its backstop */
	lv->out->ops->drain(lv->out);
}

/* One line of counters: SIGUSR1 and the stop line. */
static void
live_log_counters(struct live *lv, const char *what)
{
	struct poller_counters pc;
	struct router_pstats ps;
	struct filesink_counters fc;
	uint64_t events = 0, opened = 0, resolved = 0, sla = 0, rejected = 0;

	poller_counters(lv->poller, &pc);
	router_producer_stats(lv->router, 0, &ps);
	lv->out->ops->counters(lv->out, &fc);
	for (unsigned i = 0; i < lv->nshards; i++) {
		struct live_shard *ls = &lv->shards[i];

		events += ring_load_relaxed(&ls->events);
		opened += ring_load_relaxed(&ls->opened);
		resolved += ring_load_relaxed(&ls->resolved);
		sla += ring_load_relaxed(&ls->sla);
		rejected += ring_load_relaxed(&ls->rejected);
	}
	log_info("%s uptime_s=%.1f devices=%llu devices_rejected=%llu "
	    "polls=%llu polls_good=%llu polls_failed=%llu "
	    "alarms_raised=%llu alarms_cleared=%llu comm_loss_raised=%llu "
	    "alarms_queued=%llu refused=%llu queue_full=%llu queue_waits=%llu "
	    "ticks=%llu ticks_skipped=%llu incidents_opened=%llu "
	    "incidents_resolved=%llu incident_events=%llu sla_events=%llu "
	    "actions_rejected=%llu lines_written=%llu write_errors=%llu "
	    "output_waits=%llu output_dropped=%llu",
	    what, ev_now(lv->loop) - lv->started,
	    (unsigned long long)pc.devices,
	    (unsigned long long)pc.devices_rejected,
	    (unsigned long long)pc.polls, (unsigned long long)pc.polls_good,
	    (unsigned long long)pc.polls_failed,
	    (unsigned long long)pc.alarms_raised,
	    (unsigned long long)pc.alarms_cleared,
	    (unsigned long long)pc.comm_loss_raised,
	    (unsigned long long)lv->pushed, (unsigned long long)lv->refused,
	    (unsigned long long)ps.full, (unsigned long long)ps.waits,
	    (unsigned long long)lv->ticks,
	    (unsigned long long)lv->ticks_skipped,
	    (unsigned long long)opened, (unsigned long long)resolved,
	    (unsigned long long)events, (unsigned long long)sla,
	    (unsigned long long)rejected, (unsigned long long)fc.lines,
	    (unsigned long long)fc.write_errors, (unsigned long long)fc.waits,
	    (unsigned long long)fc.dropped);
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
		log_info("signal=SIGHUP ignored (no reload in this version; "
		    "restart to read a changed configuration)");
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

/*
 * Stop: no new alarms, a last tick, then keep the writer going while the
 * shards work off their rings (a shard waiting for room in its sink ring
 * needs the writer), join them, and write what they said last.
 */
static void
live_shutdown(struct live *lv)
{
	struct timespec ms = { 0, 1000 * 1000 };
	int64_t waited = 0;

	poller_stop(lv->poller);
	ev_now_update(lv->loop);
	live_send_tick(lv);
	while (router_backlog(lv->router) > 0) {
		lv->out->ops->drain(lv->out);
		if (waited++ >= LIVE_DRAIN_WAIT_MS) {
			log_warnx("stop: shards still busy after %d ms "
			    "backlog=%llu; joining them", LIVE_DRAIN_WAIT_MS,
			    (unsigned long long)router_backlog(lv->router));
			break;
		}
		nanosleep(&ms, NULL);
	}
	router_stop(lv->router);
	lv->out->ops->drain(lv->out);
}

int
live_run(struct config *cfg, const struct live_opts *opts)
{
	struct live lv;
	struct corr_sink *sinks = NULL;
	struct filesink_config fsc;
	struct poller_config pc;
	struct poller_sink ps = { &live_poller_ops, NULL };
	char err[512], census[256];
	const char *outpath;
	int rc, status = 1;

	memset(&lv, 0, sizeof(lv));
	lv.cfg = cfg;
	lv.nshards = cfg->daemon.shards ? cfg->daemon.shards : 1;
	outpath = cfg->output.file != NULL && cfg->output.file[0] != '\0' ?
	    cfg->output.file : "-";
	/* a reader of stdout that goes away is a write error, not a death */
	signal(SIGPIPE, SIG_IGN);
	live_raise_nofile();
	config_census(cfg, census, sizeof(census));
	if ((rc = poller_config_from(&cfg->modbus, &pc)) != 0) {
		log_error("start failed: the modbus section does not fit the "
		    "client");
		return 1;
	}
	if ((lv.loop = ev_default_loop(EVFLAG_AUTO)) == NULL) {
		log_error("start failed: no libev loop");
		return 1;
	}

	memset(&fsc, 0, sizeof(fsc));
	fsc.path = outpath;
	fsc.nproducers = lv.nshards;
	if ((rc = filesink_new(lv.loop, &fsc, &lv.out)) != 0) {
		log_error("start failed: output file=%s err=\"%s\"", outpath,
		    strerror(-rc));
		goto err_loop;
	}

	lv.shards = xcalloc(lv.nshards, sizeof(*lv.shards));
	lv.stuck_until = xcalloc(lv.nshards, sizeof(*lv.stuck_until));
	sinks = xcalloc(lv.nshards, sizeof(*sinks));
	for (unsigned i = 0; i < lv.nshards; i++) {
		/* counters start at 0: xcalloc'd atomics */
		lv.shards[i].lv = &lv;
		lv.shards[i].id = i;
		sinks[i].ops = &live_shard_ops;
		sinks[i].arg = &lv.shards[i];
	}
	if (corr_config_check(&cfg->correlation, err, sizeof(err)) != 0) {
		log_error("start failed: correlation: %s", err);
		goto err_sink;
	}
	/* creates the engines, which intern codes: before any thread runs */
	lv.router = router_new(cfg->fleet, &cfg->correlation, lv.nshards,
	    1, LIVE_RING_SLOTS, sinks, err, sizeof(err));
	if (lv.router == NULL) {
		log_error("start failed: correlator: %s", err);
		goto err_sink;
	}

	ps.arg = &lv;
	if ((rc = poller_new(lv.loop, cfg->fleet, cfg->mbmap, &pc, &ps,
	    &lv.poller)) != 0) {
		log_error("start failed: poller rc=%d", rc);
		goto err_router;
	}

	ev_timer_init(&lv.tick, live_tick_cb, LIVE_TICK_S, LIVE_TICK_S);
	ev_timer_start(lv.loop, &lv.tick);
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

	if ((rc = router_start(lv.router)) != 0) {
		log_error("start failed: shard threads: %s", strerror(-rc));
		goto err_watchers;
	}
	ev_now_update(lv.loop);
	lv.started = ev_now(lv.loop);
	if ((rc = poller_start(lv.poller)) != 0) {
		log_error("start failed: poller_start rc=%d", rc);
		router_stop(lv.router);
		goto err_watchers;
	}
	log_info("start version=%s pid=%ld config=%s census=\"%s\" shards=%u "
	    "output=%s duration_s=%g", TOCSIN_VERSION, (long)getpid(),
	    cfg->path, census, lv.nshards, outpath, opts->duration_s);

	ev_run(lv.loop, 0);

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
	ev_timer_stop(lv.loop, &lv.tick);
	poller_free(lv.poller);
err_router:
	router_free(lv.router);
err_sink:
	lv.out->ops->free(lv.out);
	xfree(sinks);
	xfree(lv.shards);
	xfree(lv.stuck_until);
err_loop:
	ev_loop_destroy(lv.loop);
	return status;
}
