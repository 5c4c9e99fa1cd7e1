/*
 * monitor.h - the HTTP routes that watch the daemon: GET /healthz,
 * GET /readyz and GET /metrics (Prometheus text format 0.0.4), all served
 * from daemon/stats copies on the HTTP thread (docs/http.md).
 *
 * /healthz is 200 only while the daemon runs (restore done, poller
 * started, no stop begun), the poll thread published a copy within
 * MONITOR_STALE_MS, every shard did too (its heartbeat) and its journal
 * takes writes, and every sink is reachable (ops->healthy) and at most
 * max_sink_lag journal bytes behind; otherwise 503 with every reason.
 * /readyz is 200 once restore finished and the poller started, until a
 * stop begins.
 */
#ifndef TOCSIN_MONITOR_H
#define TOCSIN_MONITOR_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "correlator/fleet.h"
#include "daemon/http.h"
#include "daemon/stats.h"

#define MONITOR_STALE_MS	5000	/* a copy older than this: stuck */
#define MONITOR_NROUTES		3

struct monitor;

/*
 * Over st and fleet f (area names; both must outlive it), with the
 * /healthz lag limit (0: none).  Free with monitor_free().
 */
struct monitor *monitor_new(struct stats *st, const struct fleet *f,
	    uint64_t max_sink_lag);
void	 monitor_free(struct monitor *m);
/* Its routes, MONITOR_NROUTES of them, into out. */
size_t	 monitor_routes(struct monitor *m, struct http_route *out);
/* The server, once started, for its own counters in /metrics (any
 * thread; NULL until then). */
void	 monitor_set_server(struct monitor *m, struct http_server *s);
/* The event stream, for its counters in /metrics (before the server
 * starts; it must outlive the server). */
struct sse;
void	 monitor_set_sse(struct monitor *m, struct sse *e);
/* The incident read API of nshards shards: /readyz waits until it holds
 * the restored incidents (before the server starts; it must outlive it). */
struct view;
void	 monitor_set_view(struct monitor *m, struct view *v, unsigned nshards);
/* The write routes, for tocsin_http_writes_total (any thread). */
struct opapi;
void	 monitor_set_writes(struct monitor *m, struct opapi *op);
/* The device commands, for tocsin_commands_total (any thread). */
struct command;
void	 monitor_set_commands(struct monitor *m, struct command *c);

/*
 * The health of view v: 200 or 503, and *out the JSON body
 * ({"status": "ok"|"unhealthy", "reasons": [...], ...}; the caller owns
 * it).
 */
int	 monitor_health(const struct stats_view *v, uint64_t max_sink_lag,
	    json_t **out);
/* The /metrics text of v (hs may be NULL; ready: what /readyz says)
 * appended to rs. */
void	 monitor_metrics(const struct stats_view *v, const struct fleet *f,
	    const struct http_stats *hs, int ready, struct http_resp *rs);

/*
 * The text format's pieces, for another role's /metrics (daemon/crole):
 * a family's HELP and TYPE lines; name{key="val"} n (key NULL: name n);
 * both for a one-sample family; the process_* families.
 */
void	 monitor_family(struct http_resp *rs, const char *name,
	    const char *type, const char *help);
void	 monitor_sample(struct http_resp *rs, const char *name,
	    const char *key, const char *val, uint64_t n);
void	 monitor_one(struct http_resp *rs, const char *name, const char *type,
	    const char *help, uint64_t n);
void	 monitor_metrics_process(struct http_resp *rs);
/* The per-sink families (tocsin_sink_*, tocsin_publish_errors_total), one
 * sample per sink of k[0, n): role all's sinks, a correlator's Redis. */
void	 monitor_sinks(struct http_resp *rs, const struct stats_sink *k,
	    unsigned n);
struct sse;
/* The event stream's families (tocsin_sse_*: daemon/sse): role all's, a
 * correlator's. */
void	 monitor_sse(struct http_resp *rs, struct sse *e);

#endif
