/*
 * monitor.c - see monitor.h.
 *
 * Every number comes from one stats_view taken at the top of the request:
 * the owners' copies (daemon/stats.h), never a field of the poller, an
 * engine or a sink.  Label sets are bounded by the code or the
 * configuration, never by traffic: status classes, exception codes, frame
 * error classes, comm states, incident states and tiers, shards, sinks,
 * and the fleet's areas; no device is ever a label (a fleet has
 * thousands, a time series each would swamp the scraper).  The process_*
 * families are the exception to "one stats_view": the kernel keeps those
 * counters, so they are read from /proc when asked (daemon/procself).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "daemon/command.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/monitor.h"
#include "daemon/opapi.h"
#include "daemon/poller.h"
#include "daemon/procself.h"
#include "daemon/ring.h"
#include "daemon/sse.h"
#include "daemon/view.h"
#include "drivers/modbus/mbap.h"

struct monitor {
	struct stats	*st;
	const struct fleet *f;
	uint64_t	 max_sink_lag;
	struct http_server *_Atomic http; /* set once started */
	struct sse	*sse;		/* the event stream, or NULL; set
					 * before the server starts */
	struct view	*view;		/* the read API, or NULL; likewise */
	unsigned	 view_shards;
	struct opapi *_Atomic writes;	/* the write routes, or NULL */
	struct command *_Atomic commands; /* device commands, or NULL */
};

struct monitor *
monitor_new(struct stats *st, const struct fleet *f, uint64_t max_sink_lag)
{
	struct monitor *m = xcalloc(1, sizeof(*m));

	m->st = st;
	m->f = f;
	m->max_sink_lag = max_sink_lag;
	return m;
}

void
monitor_free(struct monitor *m)
{
	xfree(m);
}

void
monitor_set_server(struct monitor *m, struct http_server *s)
{
	ring_store_release(&m->http, s);
}

void
monitor_set_sse(struct monitor *m, struct sse *e)
{
	m->sse = e;
}

void
monitor_set_view(struct monitor *m, struct view *v, unsigned nshards)
{
	m->view = v;
	m->view_shards = nshards;
}

void
monitor_set_writes(struct monitor *m, struct opapi *op)
{
	ring_store_release(&m->writes, op);
}

void
monitor_set_commands(struct monitor *m, struct command *c)
{
	ring_store_release(&m->commands, c);
}

static const char *
monitor_phase_name(int p)
{
	switch (p) {
	case STATS_STARTING: return "starting";
	case STATS_RUNNING: return "running";
	case STATS_STOPPING: return "stopping";
	default: return "unknown";
	}
}

/* ---- /healthz ---- */

static void
reason(json_t *reasons, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
reason(json_t *reasons, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(reasons, json_string(buf));
}

int
monitor_health(const struct stats_view *v, uint64_t max_sink_lag,
    json_t **out)
{
	json_t *reasons = json_array(), *shards = json_array(),
	    *sinks = json_array(), *poller;
	int64_t age;

	if (v->phase != STATS_RUNNING)
		reason(reasons, "daemon is %s%s", monitor_phase_name(v->phase),
		    v->phase == STATS_STARTING ? " (restoring journals or "
		    "starting the poller)" : "");
	age = v->have_poll ? v->now_ms - v->poll.at_ms : -1;
	if (v->phase == STATS_RUNNING && (!v->have_poll ||
	    age > MONITOR_STALE_MS))
		reason(reasons, "poller: the poll thread has not reported %s",
		    !v->have_poll ? "yet" : "for over 5 s");
	poller = json_pack("{s:I, s:I}", "age_ms", (json_int_t)age,
	    "devices", (json_int_t)v->poll.pc.devices);
	for (unsigned i = 0; i < v->nshards; i++) {
		const struct stats_shard *s = &v->shards[i];
		int64_t sa = s->at_ms != 0 ? v->now_ms - s->at_ms : -1;
		int alive = s->at_ms != 0 && sa <= MONITOR_STALE_MS;

		if (v->phase == STATS_RUNNING && !alive)
			reason(reasons, "shard %u: no heartbeat %s", i,
			    s->at_ms == 0 ? "yet" : "for over 5 s");
		if (s->at_ms != 0 && !s->ss.healthy)
			reason(reasons, "shard %u: journal writes refused "
			    "(disk full, read-only or failing); %llu bytes "
			    "held", i,
			    (unsigned long long)s->ss.held_bytes);
		json_array_append_new(shards, json_pack("{s:i, s:I, s:b, s:b}",
		    "shard", (int)i, "age_ms", (json_int_t)sa, "alive", alive,
		    "journal_ok", s->at_ms == 0 || s->ss.healthy));
	}
	for (unsigned i = 0; v->have_poll && i < v->poll.nsinks; i++) {
		const struct stats_sink *k = &v->poll.sinks[i];
		int lagging = max_sink_lag > 0 && k->lag > max_sink_lag;

		if (!k->healthy)
			reason(reasons, "sink %s: not reachable or not writable",
			    k->name);
		if (lagging)
			reason(reasons, "sink %s: %llu journal bytes behind, "
			    "over http.max_sink_lag %llu", k->name,
			    (unsigned long long)k->lag,
			    (unsigned long long)max_sink_lag);
		json_array_append_new(sinks, json_pack("{s:s, s:b, s:I, s:b}",
		    "name", k->name, "healthy", k->healthy, "lag_bytes",
		    (json_int_t)k->lag, "lagging", lagging));
	}
	*out = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:I}", "status",
	    json_array_size(reasons) == 0 ? "ok" : "unhealthy", "phase",
	    monitor_phase_name(v->phase), "reasons", reasons, "poller", poller,
	    "shards", shards, "sinks", sinks, "max_sink_lag",
	    (json_int_t)max_sink_lag);
	return json_array_size(json_object_get(*out, "reasons")) == 0 ? 200 :
	    503;
}

static void
monitor_healthz(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	struct monitor *m = arg;
	struct stats_view v;
	json_t *j;
	int status;

	(void)rq;
	stats_view(m->st, &v);
	status = monitor_health(&v, m->max_sink_lag, &j);
	stats_view_fini(&v);
	http_resp_json(rs, status, j);
}

/*
 * Ready (/readyz, tocsin_ready): running, and the read API holds what the
 * engines restored (live.c fills it before it says running; a correlator
 * once it has rebuilt its partitions).
 */
static int
monitor_ready(const struct monitor *m, int phase)
{
	return phase == STATS_RUNNING && (m->view == NULL ||
	    view_whole(m->view, m->view_shards));
}

static void
monitor_readyz(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	struct monitor *m = arg;
	int p = stats_phase(m->st);

	(void)rq;
	if (monitor_ready(m, p))
		http_resp_json(rs, 200, json_pack("{s:s}", "status", "ready"));
	else
		http_resp_json(rs, 503, json_pack("{s:s, s:s}", "status",
		    "not ready", "reason", p == STATS_STARTING ?
		    "restoring journals or starting the poller" :
		    p == STATS_RUNNING ? "the incident read API is filling "
		    "from the restored engines" : "stopping"));
}

/* ---- /metrics ---- */

/* A family's HELP and TYPE lines. */
void
monitor_family(struct http_resp *rs, const char *name, const char *type,
    const char *help)
{
	http_resp_printf(rs, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

/* A label value, escaped as the text format wants. */
static void
label_value(struct http_resp *rs, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			http_resp_printf(rs, "\\%c", *v);
		else if (*v == '\n')
			http_resp_append(rs, "\\n", 2);
		else
			http_resp_append(rs, v, 1);
	}
}

/* name{key="val"} n, or name n when key is NULL. */
void
monitor_sample(struct http_resp *rs, const char *name, const char *key, const char *val,
    uint64_t n)
{
	http_resp_printf(rs, "%s", name);
	if (key != NULL) {
		http_resp_printf(rs, "{%s=\"", key);
		label_value(rs, val);
		http_resp_append(rs, "\"}", 2);
	}
	http_resp_printf(rs, " %llu\n", (unsigned long long)n);
}

void
monitor_one(struct http_resp *rs, const char *name, const char *type,
    const char *help, uint64_t n)
{
	monitor_family(rs, name, type, help);
	monitor_sample(rs, name, NULL, NULL, n);
}


/* The per-sink families: one sample per sink, each a stats_sink field. */
static const struct sink_family {
	const char	*name, *type, *help;
	size_t		 off;		/* of a uint64_t in struct stats_sink */
} sink_families[] = {
	{ "tocsin_sink_lag_bytes", "gauge", "Journal bytes a sink has not "
	    "yet reported done, all shards (a correlator's Redis: the bytes "
	    "its hand-off holds).", offsetof(struct stats_sink, lag) },
	{ "tocsin_sink_inflight", "gauge", "Records a sink took and has not "
	    "yet seen out (Redis replies, Kafka delivery reports; 0 for the "
	    "files).", offsetof(struct stats_sink, inflight) },
	{ "tocsin_sink_records_total", "counter", "Records a sink took.",
	    offsetof(struct stats_sink, offered) },
	{ "tocsin_sink_waits_total", "counter", "Offers a sink refused (queue "
	    "full, down): the pump waits for it.",
	    offsetof(struct stats_sink, refused) },
	{ "tocsin_sink_rewinds_total", "counter", "Times a sink asked for "
	    "records again after a failure.",
	    offsetof(struct stats_sink, rewinds) },
	{ "tocsin_sink_records_skipped_total", "counter", "Journal records "
	    "a sink was not offered: they no longer check (a bit flipped on "
	    "disk) or do not decode.",
	    offsetof(struct stats_sink, skipped) },
	{ "tocsin_publish_errors_total", "counter", "A sink's failures: write "
	    "errors, error replies, failed deliveries.",
	    offsetof(struct stats_sink, errors) },
};

static void
monitor_metrics_poll(const struct stats_view *v, struct http_resp *rs)
{
	const struct stats_poll *p = &v->poll;
	const struct mbclient_counters *mb = &p->pc.mb;
	char b[32];
	uint64_t cum = 0;

	monitor_family(rs, "tocsin_modbus_devices", "gauge", "Devices polled, by "
	    "communication state (unknown: not answered yet).");
	for (int i = 0; i < STATS_COMM__COUNT; i++)
		monitor_sample(rs, "tocsin_modbus_devices", "comm", stats_comm_name(
		    (uint8_t)i), p->comm[i]);
	monitor_one(rs, "tocsin_modbus_devices_rejected", "gauge", "Devices left "
	    "out at start (bad host or profile plan).", p->pc.devices_rejected);
	monitor_family(rs, "tocsin_modbus_polls_total", "counter", "Completed polls, "
	    "by result.");
	for (int i = 0; i < MBCLIENT__STATUS_COUNT; i++)
		monitor_sample(rs, "tocsin_modbus_polls_total", "result",
		    mbclient_status_name((enum mbclient_status)i),
		    p->pc.polls_by_status[i]);
	monitor_one(rs, "tocsin_modbus_polls_overrun_total", "counter", "Poll timers "
	    "that fired while the previous poll still ran.", mb->polls_overrun);
	monitor_one(rs, "tocsin_modbus_transactions_total", "counter", "Modbus "
	    "requests sent.", mb->requests);
	monitor_one(rs, "tocsin_modbus_responses_total", "counter", "Responses "
	    "matched to a request.", mb->responses);
	monitor_one(rs, "tocsin_modbus_timeouts_total", "counter", "Requests that "
	    "timed out.", mb->timeouts);
	monitor_one(rs, "tocsin_modbus_late_responses_total", "counter", "Answers to "
	    "timed-out requests, dropped.", mb->late_responses);
	monitor_family(rs, "tocsin_modbus_exceptions_total", "counter", "Exception "
	    "responses, by exception code (other: outside 1-11).");
	for (int i = 1; i <= 11; i++) {
		snprintf(b, sizeof(b), "%d", i);
		monitor_sample(rs, "tocsin_modbus_exceptions_total", "code", b,
		    mb->exception_code[i]);
	}
	monitor_sample(rs, "tocsin_modbus_exceptions_total", "code", "other",
	    mb->exception_code[0]);
	monitor_family(rs, "tocsin_modbus_malformed_frames_total", "counter", "Malformed "
	    "response frames, by class.");
	for (int i = 1; i <= 11; i++)
		monitor_sample(rs, "tocsin_modbus_malformed_frames_total", "class",
		    mbap_status_name(-i), mb->malformed_by[i]);
	monitor_family(rs, "tocsin_modbus_connects_total", "counter", "Connection "
	    "attempts, by result.");
	monitor_sample(rs, "tocsin_modbus_connects_total", "result", "ok", mb->connected);
	monitor_sample(rs, "tocsin_modbus_connects_total", "result", "failed",
	    mb->connect_failed);
	monitor_one(rs, "tocsin_modbus_disconnects_total", "counter", "Connections "
	    "closed for any reason.", mb->disconnects);
	monitor_one(rs, "tocsin_modbus_breakers_opened_total", "counter", "Unit "
	    "breakers opened.", mb->breaker_opened);

	monitor_family(rs, "tocsin_modbus_rtt_seconds", "histogram", "Mean request "
	    "round-trip time of each poll.");
	for (int i = 0; i <= STATS_RTT_BUCKETS; i++) {
		cum += p->rtt[i];
		if (i < STATS_RTT_BUCKETS)
			snprintf(b, sizeof(b), "%g", stats_rtt_le[i]);
		else
			snprintf(b, sizeof(b), "+Inf");
		monitor_sample(rs, "tocsin_modbus_rtt_seconds_bucket", "le", b, cum);
	}
	http_resp_printf(rs, "tocsin_modbus_rtt_seconds_sum %.6f\n",
	    p->rtt_sum_s);
	monitor_sample(rs, "tocsin_modbus_rtt_seconds_count", NULL, NULL, p->rtt_count);

	monitor_one(rs, "tocsin_points_decoded_total", "counter", "Points decoded, "
	    "any quality.", p->pc.points);
	monitor_one(rs, "tocsin_points_bad_total", "counter", "Points of bad quality "
	    "(NaN, out of range, refused block).", p->pc.points_bad +
	    p->pc.points_refused);
	monitor_family(rs, "tocsin_alarm_transitions_total", "counter", "Alarm "
	    "transitions from the rules (COMM_LOSS included), by edge.");
	monitor_sample(rs, "tocsin_alarm_transitions_total", "edge", "raise",
	    p->pc.alarms_raised);
	monitor_sample(rs, "tocsin_alarm_transitions_total", "edge", "clear",
	    p->pc.alarms_cleared);
	monitor_family(rs, "tocsin_comm_loss_transitions_total", "counter", "COMM_LOSS "
	    "transitions, by edge.");
	monitor_sample(rs, "tocsin_comm_loss_transitions_total", "edge", "raise",
	    p->pc.comm_loss_raised);
	monitor_sample(rs, "tocsin_comm_loss_transitions_total", "edge", "clear",
	    p->pc.comm_loss_cleared);
	monitor_one(rs, "tocsin_alarm_keys_held", "gauge", "Alarm keys held for a "
	    "full shard ring (state re-sent when it has room).", p->os.pending);
	monitor_one(rs, "tocsin_alarms_held_total", "counter", "Transitions that "
	    "found their shard full and were held.", p->os.held);
	monitor_one(rs, "tocsin_alarms_folded_total", "counter", "Held transitions "
	    "a later one replaced.", p->os.folded);
	monitor_one(rs, "tocsin_alarms_resent_total", "counter", "Held states sent "
	    "once the shard had room.", p->os.resent);
	monitor_one(rs, "tocsin_ring_messages_total", "counter", "Messages the poll "
	    "thread queued to the shard rings.", p->rp.queued);
	monitor_one(rs, "tocsin_ring_full_total", "counter", "Pushes a full shard "
	    "ring refused.", p->rp.full);
	monitor_one(rs, "tocsin_ring_backlog", "gauge", "Messages queued to the "
	    "shards and not yet handled.", p->backlog);
	monitor_one(rs, "tocsin_shard_sleeps_total", "counter", "Times a shard found "
	    "nothing to do and slept.", p->sleeps);
	monitor_one(rs, "tocsin_ticks_skipped_total", "counter", "Shard ticks held "
	    "back (ring full or alarms held).", p->ticks_skipped);

	monitor_sinks(rs, p->sinks, p->nsinks);
}

void
monitor_sinks(struct http_resp *rs, const struct stats_sink *k, unsigned n)
{
	for (size_t f = 0; f < sizeof(sink_families) /
	    sizeof(sink_families[0]); f++) {
		const struct sink_family *sf = &sink_families[f];

		monitor_family(rs, sf->name, sf->type, sf->help);
		for (unsigned i = 0; i < n; i++)
			monitor_sample(rs, sf->name, "sink", k[i].name,
			    *(const uint64_t *)(const void *)
			    ((const char *)&k[i] + sf->off));
	}
	monitor_family(rs, "tocsin_sink_up", "gauge", "1 while a sink's far end is "
	    "reachable and writable.");
	for (unsigned i = 0; i < n; i++)
		monitor_sample(rs, "tocsin_sink_up", "sink", k[i].name,
		    (uint64_t)(k[i].healthy != 0));
}

static void
monitor_metrics_shards(const struct stats_view *v, const struct fleet *f,
    struct http_resp *rs)
{
	static const char *const tiers[STATS_TIERS] = { "standard",
	    "premium", "none" };
	struct corr_stats t;
	uint64_t live[CORR_STATE__COUNT][STATS_TIERS];
	char b[32];

	memset(&t, 0, sizeof(t));
	memset(live, 0, sizeof(live));
	for (unsigned i = 0; i < v->nshards; i++) {
		const struct stats_shard *s = &v->shards[i];

		t.opened += s->cs.opened;
		t.events += s->cs.events;
		t.rejected += s->cs.rejected;
		t.live_alarms += s->cs.live_alarms;
		t.sla_warnings += s->cs.sla_warnings;
		t.sla_breaches += s->cs.sla_breaches;
		t.escalations += s->cs.escalations;
		t.raises += s->cs.raises;
		t.clears += s->cs.clears;
		for (int st = 0; st < CORR_STATE__COUNT; st++)
			for (int k = 0; k < STATS_TIERS; k++)
				live[st][k] += s->live[st][k];
	}
	monitor_family(rs, "tocsin_incidents", "gauge", "Incidents not yet closed, by "
	    "state and effective tier (none: area incidents).");
	for (int st = 0; st < CORR_STATE__COUNT; st++) {
		if (st == CORR_CLOSED)
			continue;
		for (int k = 0; k < STATS_TIERS; k++) {
			http_resp_printf(rs, "tocsin_incidents{state=\"%s\","
			    "tier=\"%s\"} %llu\n",
			    corr_state_name((enum corr_state)st), tiers[k],
			    (unsigned long long)live[st][k]);
		}
	}
	monitor_family(rs, "tocsin_incidents_by_area", "gauge", "Incidents not yet "
	    "closed, by area.");
	for (size_t a = 0; a < v->nareas && f != NULL && a < f->nareas; a++) {
		uint64_t n = 0;

		for (unsigned i = 0; i < v->nshards; i++)
			n += v->shards[i].by_area[a];
		monitor_sample(rs, "tocsin_incidents_by_area", "area", f->areas[a], n);
	}
	monitor_one(rs, "tocsin_incidents_opened_total", "counter", "Incidents opened "
	    "(site and area).", t.opened);
	monitor_one(rs, "tocsin_incident_events_total", "counter", "Incident events "
	    "emitted.", t.events);
	monitor_one(rs, "tocsin_sla_warnings_total", "counter", "SLA warnings.",
	    t.sla_warnings);
	monitor_one(rs, "tocsin_sla_breaches_total", "counter", "SLA breaches.",
	    t.sla_breaches);
	monitor_one(rs, "tocsin_escalations_total", "counter", "Escalations.",
	    t.escalations);
	monitor_one(rs, "tocsin_actions_rejected_total", "counter", "Operator actions "
	    "the engines refused.", t.rejected);
	monitor_one(rs, "tocsin_alarms_live", "gauge", "Alarm records the engines "
	    "hold.", t.live_alarms);

	monitor_family(rs, "tocsin_shard_heartbeat_age_seconds", "gauge", "Time since a "
	    "shard last reported (it reports every second while alive).");
	for (unsigned i = 0; i < v->nshards; i++) {
		snprintf(b, sizeof(b), "%u", i);
		http_resp_printf(rs, "tocsin_shard_heartbeat_age_seconds"
		    "{shard=\"%s\"} %.3f\n", b, v->shards[i].at_ms == 0 ? 0 :
		    (double)(v->now_ms - v->shards[i].at_ms) / 1000.0);
	}
#define SHARD_FAMILY(name, type, help, field)				\
	monitor_family(rs, name, type, help);					\
	for (unsigned i = 0; i < v->nshards; i++) {			\
		snprintf(b, sizeof(b), "%u", i);			\
		monitor_sample(rs, name, "shard", b, v->shards[i].ss.field);		\
	}
	SHARD_FAMILY("tocsin_journal_bytes_total", "counter", "Journal bytes "
	    "appended, headers included.", bytes)
	SHARD_FAMILY("tocsin_journal_records_total", "counter", "Journal "
	    "records appended.", records)
	SHARD_FAMILY("tocsin_journal_syncs_total", "counter", "Journal "
	    "fsyncs.", syncs)
	SHARD_FAMILY("tocsin_journal_write_errors_total", "counter", "Journal "
	    "writes and syncs the disk refused.", write_errors)
	SHARD_FAMILY("tocsin_journal_held_bytes", "gauge", "Bytes held in "
	    "memory while the disk refuses.", held_bytes)
#undef SHARD_FAMILY
}

/* Configuration reloads (SIGHUP, docs/configuration.md "Reload"). */
static void
monitor_metrics_reload(const struct stats_reload *r, struct http_resp *rs)
{
	monitor_family(rs, "tocsin_config_reloads_total", "counter", "Configuration "
	    "reloads (SIGHUP), by result: ok applied, invalid the file has "
	    "errors, failed a change needs a restart (the running "
	    "configuration is kept for both).");
	monitor_sample(rs, "tocsin_config_reloads_total", "result", "ok", r->ok);
	monitor_sample(rs, "tocsin_config_reloads_total", "result", "invalid", r->invalid);
	monitor_sample(rs, "tocsin_config_reloads_total", "result", "failed", r->failed);
	monitor_one(rs, "tocsin_config_last_reload_successful", "gauge", "0 when "
	    "the last reload was refused, else 1 (also before any).",
	    (uint64_t)(r->last_result <= 0));
	monitor_family(rs, "tocsin_config_last_reload_success_timestamp_seconds",
	    "gauge", "When the running configuration was applied (the last "
	    "reload that succeeded, or the start), seconds since the epoch.");
	http_resp_printf(rs, "tocsin_config_last_reload_success_timestamp_"
	    "seconds %.3f\n", (double)r->last_ok_ms / 1000.0);
	monitor_family(rs, "tocsin_config_last_reload_duration_seconds", "gauge",
	    "How long the last reload took on the poll thread.");
	http_resp_printf(rs, "tocsin_config_last_reload_duration_seconds "
	    "%.3f\n", r->last_ms / 1000.0);
	monitor_one(rs, "tocsin_config_retired_unsaved", "gauge", "1 while the "
	    "objects the last reload retired are not written to the state "
	    "directory (retired.json; retried every few seconds): a restart "
	    "meanwhile drops their incidents.", (uint64_t)r->retired_unsaved);
}

void
monitor_metrics(const struct stats_view *v, const struct fleet *f,
    const struct http_stats *hs, int ready, struct http_resp *rs)
{
	static const char *const lv[] = { "debug", "info", "warn", "error" };

	rs->ctype = "text/plain; version=0.0.4; charset=utf-8";
	monitor_family(rs, "tocsin_build_info", "gauge", "The running version.");
	http_resp_printf(rs, "tocsin_build_info{version=\"%s\"} 1\n",
	    TOCSIN_VERSION);
	monitor_one(rs, "tocsin_ready", "gauge", "1 while /readyz says ready: "
	    "restore finished, the poller started and the incident read API "
	    "filled, until a stop begins.", (uint64_t)(ready != 0));
	monitor_family(rs, "tocsin_start_time_seconds", "gauge", "When the daemon "
	    "started, seconds since the epoch.");
	http_resp_printf(rs, "tocsin_start_time_seconds %.3f\n",
	    (double)v->started_ms / 1000.0);
	if (v->have_poll)
		monitor_metrics_poll(v, rs);
	monitor_metrics_shards(v, f, rs);
	monitor_metrics_reload(&v->reload, rs);
	if (hs != NULL) {
		static const char *const cls[] = { "", "1xx", "2xx", "3xx",
		    "4xx", "5xx" };

		monitor_family(rs, "tocsin_http_requests_total", "counter", "HTTP requests "
		    "answered, by status class.");
		for (int i = 1; i < 6; i++)
			monitor_sample(rs, "tocsin_http_requests_total", "code", cls[i],
			    hs->by_class[i]);
		monitor_family(rs, "tocsin_http_refused_total", "counter", "HTTP requests "
		    "refused, by reason.");
		monitor_sample(rs, "tocsin_http_refused_total", "reason", "busy", hs->busy);
		monitor_sample(rs, "tocsin_http_refused_total", "reason", "unauthorized",
		    hs->unauthorized);
		monitor_sample(rs, "tocsin_http_refused_total", "reason", "too_large",
		    hs->too_large);
		monitor_one(rs, "tocsin_http_connections", "gauge", "HTTP connections "
		    "open now.", hs->connections);
	}
	monitor_family(rs, "tocsin_log_lines_total", "counter", "Log lines written, by "
	    "level.");
	for (int i = 0; i < 4; i++)
		monitor_sample(rs, "tocsin_log_lines_total", "level", lv[i],
		    log_count((enum log_level)i));
}

void
monitor_sse(struct http_resp *rs, struct sse *e)
{
	struct sse_stats x;

	sse_stats(e, &x);
	monitor_one(rs, "tocsin_sse_streams", "gauge", "Event streams (GET "
	    "/api/v1/events) open now.", x.streams);
	monitor_one(rs, "tocsin_sse_streams_total", "counter", "Event streams "
	    "opened.", x.opened);
	monitor_one(rs, "tocsin_sse_events_total", "counter", "Incident events "
	    "queued to event streams, all clients.", x.events);
	monitor_one(rs, "tocsin_sse_resets_total", "counter", "Streams told "
	    "`event: reset` (a Last-Event-ID that cannot be resumed "
	    "exactly; on a correlator also a partition's incidents "
	    "replaced).", x.resets);
	monitor_one(rs, "tocsin_sse_records_skipped_total", "counter",
	    "Journal records a stream's catch-up passed over: they no longer "
	    "check (each client that reads past one counts it).", x.skipped);
	monitor_family(rs, "tocsin_sse_closed_total", "counter", "Event streams the "
	    "server closed or refused, by reason.");
	monitor_sample(rs, "tocsin_sse_closed_total", "reason", "slow", x.slow_closed);
	monitor_sample(rs, "tocsin_sse_closed_total", "reason", "max_streams", x.refused);
	monitor_family(rs, "tocsin_sse_resumes_total", "counter", "Streams resumed from "
	    "a Last-Event-ID, by where the missed events came from.");
	monitor_sample(rs, "tocsin_sse_resumes_total", "from", "memory", x.resumed_tail);
	monitor_sample(rs, "tocsin_sse_resumes_total", "from", "journal",
	    x.resumed_journal);
}

/*
 * The process_* families of every Prometheus client library (daemon/
 * procself), read now: the kernel's counters, not a stats copy.  Left out
 * when /proc cannot be read, rather than reported as 0.
 */
void
monitor_metrics_process(struct http_resp *rs)
{
	struct procself ps;
	size_t heap;

	if (procself_read(&ps) != 0)
		return;
	monitor_family(rs, "process_cpu_seconds_total", "counter", "User and system "
	    "CPU time spent, seconds.");
	http_resp_printf(rs, "process_cpu_seconds_total %.3f\n",
	    ps.cpu_seconds);
	monitor_one(rs, "process_resident_memory_bytes", "gauge", "Resident memory "
	    "size, bytes.", ps.rss_bytes);
	monitor_one(rs, "process_virtual_memory_bytes", "gauge", "Virtual memory "
	    "size, bytes.", ps.vsize_bytes);
	monitor_one(rs, "process_open_fds", "gauge", "Open file descriptors.",
	    ps.open_fds);
	monitor_one(rs, "process_max_fds", "gauge", "The soft limit of open file "
	    "descriptors (RLIMIT_NOFILE).", ps.max_fds);
	if ((heap = mem_allocated()) > 0)
		monitor_one(rs, "tocsin_heap_allocated_bytes", "gauge", "Bytes the "
		    "allocator has handed out and not had back (jemalloc's "
		    "stats.allocated); resident memory above it is the "
		    "allocator's own (free pages kept, fragmentation).", heap);
	if ((heap = mem_resident()) > 0)
		monitor_one(rs, "tocsin_heap_resident_bytes", "gauge", "Bytes of the "
		    "allocator's pages in memory (jemalloc's stats.resident: "
		    "live objects, its metadata and freed pages not yet given "
		    "back); resident memory above it is not the heap's "
		    "(stacks, code, mapped files).", heap);
}

/* The write routes' answers (daemon/opapi). */
static void
monitor_metrics_writes(struct opapi *op, struct http_resp *rs)
{
	struct opapi_stats os;

	opapi_stats(op, &os);
	monitor_family(rs, "tocsin_http_writes_total", "counter", "HTTP writes (incident "
	    "actions, maintenance windows), by outcome: done (applied and "
	    "journaled), refused (404, 409), bad (400), busy (503).");
	monitor_sample(rs, "tocsin_http_writes_total", "result", "done", os.done);
	monitor_sample(rs, "tocsin_http_writes_total", "result", "refused", os.refused);
	monitor_sample(rs, "tocsin_http_writes_total", "result", "bad", os.bad);
	monitor_sample(rs, "tocsin_http_writes_total", "result", "busy", os.busy);
	monitor_one(rs, "tocsin_http_writes_waiting", "gauge", "HTTP writes waiting "
	    "for room in a shard's queue.", os.waiting);
}

/* The device commands (daemon/command): what became of each. */
static void
monitor_metrics_commands(struct command *c, struct http_resp *rs)
{
	struct command_stats cs;

	command_stats(c, &cs);
	monitor_one(rs, "tocsin_command_requests_total", "counter", "Device "
	    "commands accepted and queued to the poll thread (POST "
	    "/api/v1/devices/{id}/commands/{name}).", cs.requests);
	monitor_one(rs, "tocsin_command_busy_total", "counter", "Device "
	    "commands refused with 503: the poll thread's queue was full.",
	    cs.refused_busy);
	monitor_family(rs, "tocsin_commands_total", "counter", "Device commands "
	    "finished, by outcome: done (written, and confirmed by a "
	    "read-back where declared), refused (the device's exception), "
	    "not_confirmed (the read-back differs), timed_out (sent, no "
	    "answer: its effect unknown), unreachable (not sent).");
	for (int i = 0; i < POLLER__OUTCOMES; i++)
		monitor_sample(rs, "tocsin_commands_total", "outcome",
		    poller_outcome_name((enum poller_outcome)i),
		    cs.outcomes[i]);
	monitor_one(rs, "tocsin_command_notes_total", "counter", "Command "
	    "outcomes queued to an incident's timeline.", cs.notes);
	monitor_one(rs, "tocsin_command_note_waits_total", "counter", "Command "
	    "timeline notes that found the shard's queue full, or earlier "
	    "notes waiting (retried in order until the shard takes them).",
	    cs.notes_waits);
}

static void
monitor_metrics_route(void *arg, const struct http_req *rq,
    struct http_resp *rs)
{
	struct monitor *m = arg;
	struct http_server *hsrv = ring_load_acquire(&m->http);
	struct http_stats hs;
	struct stats_view v;

	(void)rq;
	if (hsrv != NULL)
		http_stats(hsrv, &hs);
	stats_view(m->st, &v);
	/* the fleet of the running configuration (a reload swaps it) */
	monitor_metrics(&v, v.fleet != NULL ? v.fleet : m->f,
	    hsrv != NULL ? &hs : NULL, monitor_ready(m, v.phase), rs);
	stats_view_fini(&v);
	if (m->sse != NULL)
		monitor_sse(rs, m->sse);
	if (ring_load_acquire(&m->writes) != NULL)
		monitor_metrics_writes(ring_load_acquire(&m->writes), rs);
	if (ring_load_acquire(&m->commands) != NULL)
		monitor_metrics_commands(ring_load_acquire(&m->commands), rs);
	monitor_metrics_process(rs);
}

size_t
monitor_routes(struct monitor *m, struct http_route *out)
{
	out[0] = (struct http_route){ "GET", "/healthz", 0, monitor_healthz,
	    m };
	out[1] = (struct http_route){ "GET", "/readyz", 0, monitor_readyz, m };
	out[2] = (struct http_route){ "GET", "/metrics", 0,
	    monitor_metrics_route, m };
	return MONITOR_NROUTES;
}
