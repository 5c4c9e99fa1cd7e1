/*
 * tocsinctl.c - the command-line client of tocsind's HTTP API
 * (docs/tocsinctl.md): status, the incident list and detail, the
 * incident actions, maintenance windows, remote commands, the live
 * board, and the monthly report (from the history files, no server).  Human tables by default; --json prints the server's JSON.
 *
 * The parts are modules: daemon/ctlopt (command line, environment,
 * config file), daemon/ctlhttp (the HTTP/1.1 client), daemon/ctlboard
 * (the board and the incident table), daemon/ctlsse (the event stream),
 * daemon/ctlwatch (the board's terminal loop), daemon/ctlreport (the
 * monthly report's files), daemon/ctltext (the config
 * file's lines, /metrics samples).  This file maps each command to its
 * requests and prints the answers.
 *
 * Exit codes (enum ctl_exit): 0 done, 1 the server said no (4xx; for
 * status: unhealthy or not ready; for command: the device did not do
 * it), 2 usage or local setup, 3 no answer or 5xx.  Messages go to
 * stderr as "tocsinctl: ..." rather than through daemon/log: they are
 * answers to the person who typed the command, not a daemon's
 * timestamped key=value lines.  The token is never printed.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "correlator/corr.h"
#include "correlator/sla.h"
#include "daemon/clock.h"
#include "daemon/ctlboard.h"
#include "daemon/ctlhttp.h"
#include "daemon/ctlopt.h"
#include "daemon/ctlreport.h"
#include "daemon/ctltext.h"
#include "daemon/ctlwatch.h"
#include "daemon/http.h"
#include "daemon/mem.h"
#include "daemon/utc.h"

struct ctl {
	struct ctlopt	 o;
	struct ctlhttp_url url;
	char		*token;		/* loaded for writes, or NULL */
};

static void __attribute__((format(printf, 1, 2)))
ctl_err(const char *fmt, ...)
{
	va_list ap;

	fputs("tocsinctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* No answer came (err says why): where the server address came from. */
static void
ctl_err_noanswer(const struct ctl *c, const char *err)
{
	ctl_err("%s (server from %s)", err, c->o.f_where);
}

/*
 * One request with body (or NULL; taken: freed here); prints the error of
 * a failure.  Returns the HTTP status (and *out the parsed JSON body, or
 * NULL) or -errno.
 */
static int
ctl_call(struct ctl *c, const char *method, const char *path, json_t *body,
    json_t **out)
{
	struct ctlhttp_resp r;
	char err[512], *text = NULL;
	int rc;

	*out = NULL;
	if (body != NULL)
		text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	/* every write carries the token (DELETE has no body); reads none */
	rc = ctlhttp_request(&c->url, method, path, strcmp(method, "GET") ?
	    c->token : NULL, text, c->o.timeout_ms, &r, err, sizeof(err));
	free(text);
	if (rc < 0) {
		ctl_err_noanswer(c, err);
		return rc;
	}
	*out = json_loadb(r.body, r.len, 0, NULL);
	if (r.status >= 300) {
		const char *e = json_string_value(json_object_get(*out,
		    "error"));

		if (c->o.json && *out != NULL)
			printf("%s\n", r.body);
		ctl_err("%s %s: %d %s", method, path, r.status, e ? e :
		    "(no JSON error in the answer)");
	} else if (*out == NULL) {
		ctl_err("%s %s: %d but the answer is not JSON", method, path,
		    r.status);
		rc = -EPROTO;
	}
	if (rc == 0)
		rc = r.status;
	ctlhttp_resp_fini(&r);
	return rc;
}

static void
ctl_print_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	printf("%s\n", s);
	free(s);
}

/*
 * What every command does first with ctl_call's answer st, j: returns 1
 * when j is a 2xx answer for the caller to print as text (and free);
 * else 0 with j freed, the answer printed for --json (ctl_call has said
 * what failed).  The exit code is then ctlopt_exit_of(st).
 */
static int
ctl_text(const struct ctl *c, int st, json_t *j)
{
	if (st >= 200 && st < 300 && !c->o.json)
		return 1;
	if (st >= 200 && st < 300)
		ctl_print_json(j);
	json_decref(j);
	return 0;
}

/* o's string member k, or "-" (never NULL for a printf). */
static const char *
js(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : "-";
}

/* Prints ", ID (TIER)" for each {"id","tier"} of a (the first without
 * its comma). */
static void
ctl_print_tiers(const json_t *a)
{
	const json_t *v;
	size_t i;

	json_array_foreach(a, i, v)
		printf("%s %s (%s)", i ? "," : "", js(v, "id"), js(v, "tier"));
}

/* ---- status ---- */

/* status's first lines: the server, its health and readiness. */
static void
ctl_status_head(struct ctl *c, json_t *health, json_t *ready, int hs, int rs)
{
	const json_t *v;
	size_t i;

	printf("server     %s\n", c->o.server);
	printf("health     %s", hs == 200 ? "ok" : "unhealthy");
	json_array_foreach(json_object_get(health, "reasons"), i, v)
		printf("%s%s", i ? "; " : ": ", json_is_string(v) ?
		    json_string_value(v) : "?");
	printf("\nready      %s", rs == 200 ? "ready" : "not ready");
	if (rs != 200 && json_is_string(json_object_get(ready, "reason")))
		printf(": %s", json_string_value(json_object_get(ready,
		    "reason")));
	printf("\n");
}

/*
 * status of a `daemon.role: correlator` instance: its partitions (from
 * /healthz) and the group's members with theirs (GET /api/v1/cluster).
 */
static void
ctl_status_correlator(struct ctl *c, json_t *health, json_t *ready, int hs,
    int rs)
{
	struct ctlhttp_resp r;
	char err[512];
	json_t *cluster = NULL, *v, *m;
	size_t i, k;

	if (ctlhttp_request(&c->url, "GET", "/api/v1/cluster", NULL, NULL,
	    c->o.timeout_ms, &r, err, sizeof(err)) == 0) {
		if (r.status == 200)
			cluster = json_loadb(r.body, r.len, 0, NULL);
		ctlhttp_resp_fini(&r);
	}
	if (c->o.json) {
		json_t *all = json_pack("{s:O, s:O, s:O*}", "healthz", health,
		    "readyz", ready, "cluster", cluster);

		ctl_print_json(all);
		json_decref(all);
		json_decref(cluster);
		return;
	}
	ctl_status_head(c, health, ready, hs, rs);
	printf("role       correlator %s in group %s\n", js(health,
	    "client_id"), js(health, "group"));
	printf("partitions");
	json_array_foreach(json_object_get(health, "partitions"), i, v) {
		json_int_t lag = json_integer_value(json_object_get(v,
		    "changelog_lag"));
		char lagbuf[32];

		if (lag < 0)
			snprintf(lagbuf, sizeof(lagbuf), "unknown");
		else
			snprintf(lagbuf, sizeof(lagbuf), "%lld",
			    (long long)lag);
		printf("%s%lld (%lld incidents, lag %s, rebuilt in %.3f s)",
		    i ? ", " : " ", (long long)json_integer_value(
		    json_object_get(v, "partition")),
		    (long long)json_integer_value(json_object_get(v,
		    "incidents")), lagbuf, (double)json_integer_value(
		    json_object_get(v, "rebuild_ms")) / 1000.0);
	}
	if (json_array_size(json_object_get(health, "partitions")) == 0)
		printf(" none");
	if ((v = json_object_get(health, "history")) != NULL &&
	    json_is_object(v))
		printf("\nhistory    %s from %s (group %s): %lld lines of %lld "
		    "records read%s", js(v, "dir"), js(v, "topic"), js(v,
		    "group"), (long long)json_integer_value(json_object_get(v,
		    "lines")), (long long)json_integer_value(json_object_get(v,
		    "records")), json_is_true(json_object_get(v, "failing")) ?
		    ", NOT WRITABLE" : "");
	else
		printf("\nhistory    off (kafka.history_group)");
	printf("\ncluster   ");
	if (cluster == NULL)
		printf(" (the group's members: no answer)");
	json_array_foreach(json_object_get(cluster, "members"), i, m) {
		printf("%s%s [", i ? "; " : " ", js(m, "client_id"));
		json_array_foreach(json_object_get(m, "partitions"), k, v)
			printf("%s%lld", k ? "," : "",
			    (long long)json_integer_value(v));
		printf("]");
	}
	printf("\n");
	json_decref(cluster);
}

static int
cmd_status(struct ctl *c)
{
	struct ctlhttp_resp r;
	char err[512];
	json_t *health = NULL, *ready = NULL, *m;
	const json_t *v;
	char *metrics = NULL;
	int hs, rs, rc = CTL_EXIT_OK, first;
	double devs[3], inc = 0, d;
	static const char *const comm[3][2] = { { "ok", "devices_ok" },
	    { "lost", "devices_lost" }, { "unknown", "devices_unknown" } };
	/* counters shown when the server has them: metric, JSON key */
	static const char *const totals[3][2] = {
	    { "tocsin_sla_breaches_total", "sla_breaches" },
	    { "tocsin_sla_warnings_total", "sla_warnings" },
	    { "tocsin_escalations_total", "escalations" } };
	size_t i;

	if ((hs = ctlhttp_request(&c->url, "GET", "/healthz", NULL, NULL,
	    c->o.timeout_ms, &r, err, sizeof(err))) < 0) {
		ctl_err_noanswer(c, err);
		return CTL_EXIT_UNREACHABLE;
	}
	hs = r.status;
	health = json_loadb(r.body, r.len, 0, NULL);
	ctlhttp_resp_fini(&r);
	rs = ctlhttp_request(&c->url, "GET", "/readyz", NULL, NULL,
	    c->o.timeout_ms, &r, err, sizeof(err));
	if (rs == 0) {
		rs = r.status;
		ready = json_loadb(r.body, r.len, 0, NULL);
		ctlhttp_resp_fini(&r);
	}
	if (ctlhttp_request(&c->url, "GET", "/metrics", NULL, NULL,
	    c->o.timeout_ms, &r, err, sizeof(err)) == 0) {
		if (r.status == 200)
			metrics = xstrdup(r.body);
		ctlhttp_resp_fini(&r);
	}
	if (health == NULL || rs < 0 || ready == NULL) {
		ctl_err("/healthz %d, /readyz %d: not tocsind's answers", hs,
		    rs);
		rc = CTL_EXIT_UNREACHABLE;
		goto out;
	}
	if (hs >= 500 && json_object_get(health, "reasons") == NULL) {
		const char *e = json_string_value(json_object_get(health,
		    "error"));

		ctl_err("/healthz: %d %s", hs, e ? e : "(no JSON error)");
		rc = CTL_EXIT_UNREACHABLE;
		goto out;
	}
	if (hs != 200 || rs != 200)
		rc = CTL_EXIT_REFUSED;
	if (json_is_string(json_object_get(health, "role")) &&
	    strcmp(json_string_value(json_object_get(health, "role")),
	    "correlator") == 0) {
		ctl_status_correlator(c, health, ready, hs, rs);
		goto out;
	}
	m = json_object();
	if (metrics) {
		for (i = 0; i < 3; i++) {
			ctltext_metric(metrics, "tocsin_modbus_devices", "comm",
			    comm[i][0], &devs[i]);
			json_object_set_new(m, comm[i][1],
			    json_integer((json_int_t)devs[i]));
		}
		for (i = 0; i < CORR_STATE__COUNT; i++) {
			const char *s = corr_state_name((enum corr_state)i);
			char k[64];

			if (ctltext_metric(metrics, "tocsin_incidents", "state",
			    s, &d) > 0 && (int64_t)d > 0) {
				snprintf(k, sizeof(k), "incidents_%s", s);
				json_object_set_new(m, k,
				    json_integer((json_int_t)d));
				inc += d;
			}
		}
		json_object_set_new(m, "incidents", json_integer(
		    (json_int_t)inc));
		for (i = 0; i < 3; i++)
			if (ctltext_metric(metrics, totals[i][0], NULL, NULL,
			    &d) > 0)
				json_object_set_new(m, totals[i][1],
				    json_integer((json_int_t)d));
	}
	if (c->o.json) {
		json_t *all = json_pack("{s:O, s:O, s:o}", "healthz", health,
		    "readyz", ready, "metrics", m);

		ctl_print_json(all);
		json_decref(all);
		goto out;
	}
	ctl_status_head(c, health, ready, hs, rs);
	if (metrics) {
		printf("devices    %.0f ok, %.0f lost, %.0f never answered\n",
		    devs[0], devs[1], devs[2]);
		printf("incidents  %.0f open", inc);
		for (i = 0, first = 1; i < CORR_STATE__COUNT; i++) {
			char k[64];
			const json_t *n;

			snprintf(k, sizeof(k), "incidents_%s",
			    corr_state_name((enum corr_state)i));
			if ((n = json_object_get(m, k)) == NULL)
				continue;
			printf("%s%s %lld", first ? " (" : ", ",
			    corr_state_name((enum corr_state)i),
			    (long long)json_integer_value(n));
			first = 0;
		}
		printf("%s\n", first ? "" : ")");
		printf("sla        %lld warnings, %lld breaches, %lld "
		    "escalations\n",
		    (long long)json_integer_value(json_object_get(m,
		    "sla_warnings")),
		    (long long)json_integer_value(json_object_get(m,
		    "sla_breaches")),
		    (long long)json_integer_value(json_object_get(m,
		    "escalations")));
	}
	json_array_foreach(json_object_get(health, "sinks"), i, v)
		printf("%s%s %s lag %lld B", i ? ", " : "sinks      ",
		    js(v, "name"),
		    json_is_true(json_object_get(v, "healthy")) ? "up" : "DOWN",
		    (long long)json_integer_value(json_object_get(v,
		    "lag_bytes")));
	if (json_array_size(json_object_get(health, "sinks")))
		printf("\n");
	json_decref(m);
out:
	json_decref(health);
	json_decref(ready);
	xfree(metrics);
	return rc;
}

/* ---- incidents ---- */

/* The incident table (the board's columns) of a list's items at now. */
static void
ctl_table(const json_t *items, int64_t now)
{
	const json_t *it;
	char line[512];
	size_t i;

	ctlboard_header(line, sizeof(line));
	printf("%s\n", line);
	json_array_foreach(items, i, it) {
		struct ctlboard_inc e;

		if (ctlboard_inc_parse(it, &e) < 0)
			continue;
		ctlboard_line(&e, now, line, sizeof(line));
		printf("%s\n", line);
	}
}

/* Appends "&name=escaped(v)" to q. */
static void
q_add(char *q, size_t len, const char *name, const char *v)
{
	char e[1024];
	size_t l = strlen(q);

	if (v == NULL)
		return;
	ctlhttp_escape(v, e, sizeof(e));
	snprintf(q + l, len - l, "%s%s=%s", l ? "&" : "", name, e);
}

static int
cmd_incidents(struct ctl *c)
{
	char q[4096] = "", err[512];
	json_t *j;
	int st;
	int64_t now = clock_wall_ms();

	q_add(q, sizeof(q), "state", c->o.state);
	q_add(q, sizeof(q), "site", c->o.site);
	q_add(q, sizeof(q), "area", c->o.area);
	q_add(q, sizeof(q), "customer", c->o.customer);
	q_add(q, sizeof(q), "tier", c->o.tier);
	q_add(q, sizeof(q), "severity", c->o.severity);
	q_add(q, sizeof(q), "planned", c->o.planned ? "true" : NULL);
	q_add(q, sizeof(q), "flapping", c->o.flapping ? "true" : NULL);
	q_add(q, sizeof(q), "chronic", c->o.chronic ? "true" : NULL);
	st = ctlwatch_list(&c->url, q, c->o.limit, c->o.timeout_ms, &j, err,
	    sizeof(err));
	if (st != 200) {
		if (c->o.json && j != NULL)
			ctl_print_json(j);
		if (st < 0)
			ctl_err_noanswer(c, err);
		else
			ctl_err("GET /api/v1/incidents: %s", err);
		json_decref(j);
		return ctlopt_exit_of(st);
	}
	if (!ctl_text(c, st, j))
		return CTL_EXIT_OK;
	ctl_table(json_object_get(j, "incidents"), now);
	json_decref(j);
	return CTL_EXIT_OK;
}

/* ---- show ---- */

static int
cmd_show(struct ctl *c)
{
	char path[1024], id[768], cd[32];
	json_t *j;
	const json_t *inc, *v, *clocks;
	const char *k;
	size_t i;
	int st;
	struct ctlboard_inc e;

	ctlhttp_escape(c->o.arg[0], id, sizeof(id));
	snprintf(path, sizeof(path), "/api/v1/incidents/%s", id);
	st = ctl_call(c, "GET", path, NULL, &j);
	if (!ctl_text(c, st, j))
		return ctlopt_exit_of(st);
	inc = json_object_get(j, "incident");
	ctlboard_inc_parse(j, &e);
	printf("incident   %s (%s, seq %lld)\n", js(inc, "id"), js(inc, "kind"),
	    (long long)json_integer_value(json_object_get(j, "seq")));
	printf("state      %s (%s)\n", js(inc, "state"),
	    ctlboard_colour_name(ctlboard_colour_of(&e)));
	printf("severity   %s\n", js(inc, "severity"));
	printf("site       %s, area %s, tier %s\n", js(inc, "site"),
	    js(inc, "area"), js(inc, "tier"));
	printf("customers ");
	ctl_print_tiers(json_object_get(inc, "customers"));
	printf("\n");
	if (json_is_object(json_object_get(inc, "root_cause")))
		printf("root cause %s on %s at %s\n", js(json_object_get(inc,
		    "root_cause"), "alarm"), js(json_object_get(inc,
		    "root_cause"), "device"), js(json_object_get(inc,
		    "root_cause"), "raised_at"));
	printf("opened     %s\n", js(inc, "opened_at"));
	printf("owner      %s\n", js(inc, "owner"));
	if (e.planned || e.flapping || e.chronic)
		printf("flags     %s%s%s\n", e.planned ? " planned" : "",
		    e.flapping ? " flapping" : "", e.chronic ? " chronic" : "");
	clocks = json_object_get(inc, "clocks");
	json_object_foreach((json_t *)clocks, k, v) {
		int64_t d;
		const json_t *dl = json_object_get(v, "deadline");

		printf("clock      %-8s %s", k, js(v, "state"));
		if (json_is_string(dl))
			printf(", deadline %s", json_string_value(dl));
		/* a countdown only for a clock that still runs */
		if (json_is_string(dl) && strcmp(js(v, "state"),
		    sla_clock_state_name(SLA_CLOCK_RUNNING)) == 0 &&
		    !json_is_true(json_object_get(v, "paused")) &&
		    utc_parse(json_string_value(dl), json_string_length(dl),
		    &d) == 0) {
			ctlboard_countdown(d, clock_wall_ms(), cd, sizeof(cd));
			printf(" (%s)", cd);
		}
		printf("%s%s%s\n", json_is_true(json_object_get(v, "paused")) ?
		    ", paused" : "", json_is_true(json_object_get(v, "met")) ?
		    ", met" : "", json_is_true(json_object_get(v,
		    "breached")) ? ", BREACHED" : "");
	}
	printf("timeline   %zu step%s%s\n", json_array_size(json_object_get(j,
	    "timeline")), json_array_size(json_object_get(j, "timeline")) == 1 ?
	    "" : "s", json_is_false(json_object_get(j, "timeline_complete")) ?
	    " (incomplete: the server restarted and is still rebuilding it)" :
	    "");
	json_array_foreach(json_object_get(j, "timeline"), i, v)
		printf("  %s  %-12s %-12s %s\n", js(v, "at"), js(v, "actor"),
		    js(v, "action"), json_is_string(json_object_get(v, "note")) ?
		    js(v, "note") : "");
	json_decref(j);
	return CTL_EXIT_OK;
}

/* ---- site ---- */

static int
cmd_site(struct ctl *c)
{
	char path[1024], id[768];
	json_t *j;
	const json_t *site, *v;
	size_t i;
	int st;
	int64_t now = clock_wall_ms();

	ctlhttp_escape(c->o.arg[0], id, sizeof(id));
	snprintf(path, sizeof(path), "/api/v1/sites/%s", id);
	st = ctl_call(c, "GET", path, NULL, &j);
	if (!ctl_text(c, st, j))
		return ctlopt_exit_of(st);
	site = json_object_get(j, "site");
	printf("site       %s, area %s, region %s, station %s, branch %s, "
	    "tier %s\n", js(site, "id"), js(site, "area"), js(site, "region"),
	    js(site, "station"), js(site, "branch"), js(site, "tier"));
	printf("tenants   ");
	ctl_print_tiers(json_object_get(site, "tenants"));
	printf("\n");
	json_array_foreach(json_object_get(site, "devices"), i, v)
		printf("device     %-24s %-16s %s\n", js(v, "id"),
		    js(v, "profile"), js(v, "comm"));
	ctl_table(json_object_get(j, "incidents"), now);
	json_decref(j);
	return CTL_EXIT_OK;
}

/* ---- writes ---- */

/* Loads the token file when one is set; 0 or an exit code. */
static int
ctl_token_load(struct ctl *c)
{
	char err[512];

	if (c->token != NULL || c->o.token_file == NULL)
		return 0;
	if (http_token_load(c->o.token_file, &c->token, err, sizeof(err)) < 0) {
		ctl_err("%s", err);
		return CTL_EXIT_USAGE;
	}
	return 0;
}

/* Loads the token for a write; 0 or an exit code. */
static int
ctl_token(struct ctl *c, int need_actor)
{
	if (need_actor && c->o.actor == NULL) {
		ctl_err("who acts? give --actor NAME (or set USER, or actor "
		    "in the config file)");
		return CTL_EXIT_USAGE;
	}
	if (c->token == NULL && c->o.token_file == NULL) {
		ctl_err("a write needs the token: give -t/--token-file FILE, "
		    "TOCSIN_TOKEN_FILE or token_file in the config file");
		return CTL_EXIT_USAGE;
	}
	return ctl_token_load(c);
}

static int
cmd_action(struct ctl *c)
{
	const char *act = ctlopt_action(c->o.cmd);
	char path[1024], id[768];
	json_t *body, *j;
	int st;

	if ((st = ctl_token(c, 1)) != 0)
		return st;
	ctlhttp_escape(c->o.arg[0], id, sizeof(id));
	snprintf(path, sizeof(path), "/api/v1/incidents/%s/%s", id, act);
	body = json_pack("{s:s}", "actor", c->o.actor);
	if (c->o.arg[1] != NULL)
		json_object_set_new(body, "note", json_string(c->o.arg[1]));
	if (c->o.satisfaction)
		json_object_set_new(body, "satisfaction",
		    json_integer(c->o.satisfaction));
	st = ctl_call(c, "POST", path, body, &j);
	if (!ctl_text(c, st, j))
		return ctlopt_exit_of(st);
	printf("%s %s: %s (seq %lld)\n", js(j, "incident"), act,
	    js(j, "state"), (long long)json_integer_value(json_object_get(j,
	    "seq")));
	json_decref(j);
	return CTL_EXIT_OK;
}

/*
 * A time for maintenance add: RFC 3339, "now", or "+N[smhd]" from now;
 * written back as RFC 3339 UTC into out.  0 or -EINVAL.
 */
static int
ctl_time(const char *s, char out[UTC_LEN])
{
	int64_t ms, now = clock_wall_ms();
	char *end;
	long n;

	if (strcmp(s, "now") == 0)
		ms = now;
	else if (s[0] == '+') {
		errno = 0;
		n = strtol(s + 1, &end, 10);
		if (end == s + 1 || errno || n < 0 || n > 1000000 ||
		    end[0] == '\0' || end[1] != '\0' || !strchr("smhd", *end))
			return -EINVAL;
		ms = now + n * (*end == 's' ? 1000LL : *end == 'm' ? 60000LL :
		    *end == 'h' ? 3600000LL : 86400000LL);
	} else if (utc_parse(s, strlen(s), &ms) != 0)
		return -EINVAL;
	utc_format(ms, out);
	return 0;
}

static void
maint_line(const json_t *w)
{
	const json_t *site = json_object_get(w, "site");

	printf("%-6lld %-5s %-14s %-24s %-24s %-12s %s\n",
	    (long long)json_integer_value(json_object_get(w, "id")),
	    json_is_string(site) ? "site" : "area", json_is_string(site) ?
	    json_string_value(site) : js(w, "area"), js(w, "start"),
	    js(w, "end"), js(w, "actor"), js(w, "reason"));
}

static int
cmd_maint_list(struct ctl *c)
{
	json_t *j;
	const json_t *w;
	size_t i;
	int st;

	st = ctl_call(c, "GET", "/api/v1/maintenance", NULL, &j);
	if (!ctl_text(c, st, j))
		return ctlopt_exit_of(st);
	printf("%-6s %-5s %-14s %-24s %-24s %-12s %s\n", "ID", "SCOPE",
	    "SITE/AREA", "START", "END", "ACTOR", "REASON");
	json_array_foreach(json_object_get(j, "windows"), i, w)
		maint_line(w);
	json_decref(j);
	return CTL_EXIT_OK;
}

static int
cmd_maint_delete(struct ctl *c)
{
	char path[1024], id[768];
	json_t *j;
	int st;

	if ((st = ctl_token(c, 0)) != 0)
		return st;
	ctlhttp_escape(c->o.arg[0], id, sizeof(id));
	snprintf(path, sizeof(path), "/api/v1/maintenance/%s", id);
	st = ctl_call(c, "DELETE", path, NULL, &j);
	if (!ctl_text(c, st, j))
		return ctlopt_exit_of(st);
	printf("maintenance window %s deleted\n", c->o.arg[0]);
	json_decref(j);
	return CTL_EXIT_OK;
}

static int
cmd_maint_add(struct ctl *c)
{
	char start[UTC_LEN], end[UTC_LEN];
	json_t *body, *j;
	int st;

	if ((st = ctl_token(c, 1)) != 0)
		return st;
	if (ctl_time(c->o.start, start) < 0 || ctl_time(c->o.end, end) < 0) {
		ctl_err("--start and --end take RFC 3339 times "
		    "(2026-12-04T22:00:00Z), now, or +N followed by s, m, h "
		    "or d");
		return CTL_EXIT_USAGE;
	}
	body = json_pack("{s:s, s:s, s:s, s:s, s:s}", c->o.site ? "site" :
	    "area", c->o.site ? c->o.site : c->o.area, "start", start, "end",
	    end, "reason", c->o.reason, "actor", c->o.actor);
	st = ctl_call(c, "POST", "/api/v1/maintenance", body, &j);
	if (!ctl_text(c, st, j))
		return ctlopt_exit_of(st);
	maint_line(json_is_object(json_object_get(j, "window")) ?
	    json_object_get(j, "window") : j);
	json_decref(j);
	return CTL_EXIT_OK;
}

static int
cmd_command(struct ctl *c)
{
	char path[2048], dev[768], name[768];
	json_t *body, *j;
	const json_t *x, *rb;
	int st, rc;

	if ((st = ctl_token(c, 1)) != 0)
		return st;
	ctlhttp_escape(c->o.arg[0], dev, sizeof(dev));
	ctlhttp_escape(c->o.arg[1], name, sizeof(name));
	snprintf(path, sizeof(path), "/api/v1/devices/%s/commands/%s", dev,
	    name);
	body = json_pack("{s:s}", "actor", c->o.actor);
	if (c->o.incident)
		json_object_set_new(body, "incident",
		    json_string(c->o.incident));
	st = ctl_call(c, "POST", path, body, &j);
	/* an answered command the device did not do is a no too */
	rc = ctlopt_exit_of(st);
	if (rc == CTL_EXIT_OK && strcmp(js(j, "outcome"), "done") != 0)
		rc = CTL_EXIT_REFUSED;
	if (!ctl_text(c, st, j))
		return rc;
	x = json_object_get(j, "exception");
	rb = json_object_get(j, "readback");
	printf("%s %s: %s", c->o.arg[0], c->o.arg[1], js(j, "outcome"));
	if (json_is_object(x))
		printf(", exception %lld %s", (long long)json_integer_value(
		    json_object_get(x, "code")), js(x, "name"));
	if (json_is_string(json_object_get(j, "detail")))
		printf(", %s", js(j, "detail"));
	if (json_is_object(rb) && json_is_integer(json_object_get(rb,
	    "value")))
		printf(", read-back %lld (expected %lld, %lld reads)",
		    (long long)json_integer_value(json_object_get(rb,
		    "value")), (long long)json_integer_value(
		    json_object_get(rb, "expected")), (long long)
		    json_integer_value(json_object_get(rb, "reads")));
	if (json_is_integer(json_object_get(j, "elapsed_ms")))
		printf(", %lld ms", (long long)json_integer_value(
		    json_object_get(j, "elapsed_ms")));
	if (json_is_string(json_object_get(j, "incident")))
		printf(", noted on %s (%s)", js(j, "incident"),
		    js(j, "timeline"));
	printf("\n");
	json_decref(j);
	return rc;
}

static int
cmd_complaint(struct ctl *c)
{
	json_t *body, *j;
	int st;

	if ((st = ctl_token(c, 1)) != 0)
		return st;
	body = json_pack("{s:s, s:s, s:s, s:s}", "customer", c->o.customer,
	    "site", c->o.site, "text", c->o.arg[0], "actor", c->o.actor);
	if (c->o.severity)
		json_object_set_new(body, "severity",
		    json_string(c->o.severity));
	st = ctl_call(c, "POST", "/api/v1/complaints", body, &j);
	if (!ctl_text(c, st, j))
		return ctlopt_exit_of(st);
	printf("%s: complaint of %s about %s, %s, %s\n", js(j, "incident"),
	    js(j, "customer"), js(j, "site"), js(j, "severity"),
	    js(j, "state"));
	json_decref(j);
	return CTL_EXIT_OK;
}

static int
cmd_watch(struct ctl *c)
{
	struct ctlwatch_cfg w;
	const char *nc = getenv("NO_COLOR");
	int rc;

	memset(&w, 0, sizeof(w));
	w.url = &c->url;
	w.server = c->o.server;
	w.actor = c->o.actor;
	w.board = !c->o.plain && !c->o.once && isatty(1);
	w.colour = isatty(1) && (nc == NULL || *nc == '\0');
	w.once = c->o.once;
	w.timeout_ms = c->o.timeout_ms;
	w.poll_ms = 2000;
	/* the token is only for the a key: a watch without one still runs */
	if ((rc = ctl_token_load(c)) != 0)
		return rc;
	w.token = c->token;
	return ctlwatch_run(&w);
}

static int
cmd_report(struct ctl *c)
{
	struct ctlreport_cfg r;

	r.history = c->o.history;
	r.month = c->o.month;
	r.customer = c->o.customer;
	r.out = c->o.out != NULL ? c->o.out : ".";
	return ctlreport_run(&r, stdout, stderr);
}

/* What runs each command (help and version are answered in main). */
static int (*const cmds[CTL__NCMD])(struct ctl *) = {
	[CTL_STATUS] = cmd_status,
	[CTL_INCIDENTS] = cmd_incidents,
	[CTL_SHOW] = cmd_show,
	[CTL_SITE] = cmd_site,
	[CTL_ACK] = cmd_action,
	[CTL_DISPATCH] = cmd_action,
	[CTL_ON_SITE] = cmd_action,
	[CTL_RESOLVE] = cmd_action,
	[CTL_CLOSE] = cmd_action,
	[CTL_NOTE] = cmd_action,
	[CTL_PAUSE] = cmd_action,
	[CTL_RESUME] = cmd_action,
	[CTL_COMPLAINT] = cmd_complaint,
	[CTL_MAINT_ADD] = cmd_maint_add,
	[CTL_MAINT_LIST] = cmd_maint_list,
	[CTL_MAINT_DELETE] = cmd_maint_delete,
	[CTL_COMMAND] = cmd_command,
	[CTL_WATCH] = cmd_watch,
	[CTL_REPORT] = cmd_report,
};

int
main(int argc, char *argv[])
{
	struct ctl c;
	struct ctlopt_env env;
	char err[1400];
	const char *why;
	int rc;

	memset(&c, 0, sizeof(c));
	signal(SIGPIPE, SIG_IGN);
	if (ctlopt_parse(argc, argv, &c.o, err, sizeof(err)) < 0) {
		ctl_err("%s", err);
		ctlopt_fini(&c.o);
		return CTL_EXIT_USAGE;
	}
	if (c.o.cmd == CTL_HELP) {
		fputs(ctlopt_usage, stdout);
		return CTL_EXIT_OK;
	}
	if (c.o.cmd == CTL_VERSION) {
		printf("tocsinctl " TOCSIN_VERSION "\n");
		return CTL_EXIT_OK;
	}
	ctlopt_env_get(&env);
	if (ctlopt_resolve(&c.o, &env, err, sizeof(err)) < 0) {
		ctl_err("%s", err);
		rc = CTL_EXIT_USAGE;
		goto out;
	}
	if (ctlhttp_url_parse(c.o.server, &c.url, &why) < 0) {
		ctl_err("server %s (from %s): %s", c.o.server, c.o.f_where, why);
		rc = CTL_EXIT_USAGE;
		goto out;
	}
	rc = cmds[c.o.cmd] ? cmds[c.o.cmd](&c) : CTL_EXIT_USAGE;
out:
	if (c.token)
		http_token_free(c.token);
	ctlopt_fini(&c.o);
	fflush(stdout);
	return rc;
}
