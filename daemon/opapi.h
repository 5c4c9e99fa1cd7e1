/*
 * opapi.h - the operators' write routes and the site read route of the
 * HTTP API (docs/http.md): incident actions, maintenance windows,
 * customers' complaints (POST /api/v1/complaints: the body and the answer
 * are daemon/complaint's), GET /api/v1/sites/<id>.
 *
 * A write never touches an engine: it reaches the owning shard through
 * the router (daemon/router) and is answered only after that shard has
 * journaled it (daemon/store's `replied`, wired to opapi_replied).  The
 * path of one write:
 *
 *   HTTP thread      validates the body (400), the id (404), the token
 *                    (http.c's gate, 401); queues a job and defers its
 *                    answer (http_resp_defer);
 *   opapi thread     the router producer of the HTTP API (one thread, so
 *                    its rings keep one writer each): pushes the job into
 *                    the owning shard's ring.  A full ring is retried when
 *                    the shard frees room (the router's room callback
 *                    rings this thread's bell) until OPAPI_QUEUE_MS have
 *                    passed, then 503 with Retry-After; nothing it did
 *                    not queue is applied, and nothing queued is lost;
 *   shard thread     journals the input, runs the engine, and once the
 *                    records are written calls opapi_replied() with the
 *                    outcome, which answers (http_pending_done) 200/201,
 *                    404, 409 or 400.
 * Neither the HTTP thread nor this one spins: the opapi thread sleeps on
 * a bell (daemon/ring) until a job, room or its next deadline.
 *
 * Maintenance windows: the list GET answers lives here (a registry under
 * a mutex), filled at start from the windows the restored engines hold
 * (opapi_restore, before the shard threads run) and kept by the shards'
 * reports: a window is listed once its MAINT_ADD is journaled and until
 * its MAINT_DEL is, or its end has passed.
 *
 * GET /api/v1/sites/<id> reads only copies: the fleet (read-only; a
 * reload swaps it under the opapi's rwlock, opapi_set_fleet), the poll
 * thread's device states (daemon/stats, stats_comm) and the view's open
 * incidents (daemon/view).  A window's site or area index is of the fleet
 * the route looked it up in; a reload between that and the shard is
 * carried by name (router_maint_add_reply's fleet).
 */
#ifndef TOCSIN_OPAPI_H
#define TOCSIN_OPAPI_H

#include <stddef.h>
#include <stdint.h>

#include "correlator/corr.h"
#include "daemon/http.h"
#include "daemon/store.h"

#define OPAPI_NROUTES	6
#define OPAPI_QUEUE_MS	2000	/* a write waits this long for ring room */
#define OPAPI_QUEUE_MAX	1024	/* writes waiting for room; more: 503 */
#define OPAPI_RETRY_S	1	/* Retry-After of those 503s */

struct fleet;
struct router;
struct stats;
struct view;

struct opapi_config {
	const struct fleet *fleet;	/* outlives the opapi */
	const char	*id_prefix;	/* incident ids (correlation.id_prefix) */
	unsigned	 nshards;
	struct router	*router;	/* or NULL: valid writes get 503 (tests,
					 * fuzzing: every check runs) */
	unsigned	 producer;	/* its router producer number */
	struct stats	*stats;		/* or NULL: devices' comm "unknown" */
	struct view	*view;		/* or NULL: sites list no incidents */
};

/* Counters; any thread. */
struct opapi_stats {
	uint64_t	 done;		/* writes applied (200, 201) */
	uint64_t	 refused;	/* the engine said no (404, 409) */
	uint64_t	 bad;		/* 400 before or from the engine */
	uint64_t	 busy;		/* 503: no room in time, stopping */
	uint64_t	 waiting;	/* jobs not yet in a ring */
};

struct opapi;

/*
 * A configuration reload (daemon/reload.h), on the poll thread: the routes
 * check and show f from now on; the listed windows' places move to f's
 * indexes by name.  The old fleet must live until no write taken before
 * can still name it (the reload's grace: OPAPI_QUEUE_MS and a little).
 */
void	 opapi_set_fleet(struct opapi *op, const struct fleet *f);

/* The config is copied.  Free with opapi_free(). */
struct opapi *opapi_new(const struct opapi_config *c);
/* Fills out[0, OPAPI_NROUTES); returns OPAPI_NROUTES. */
size_t	 opapi_routes(struct opapi *op, struct http_route *out);
/* Lists the windows engine e holds that have not ended (before the shard
 * threads run: the restore's). */
void	 opapi_restore(struct opapi *op, const struct corr_engine *e);
/*
 * Starts the producer thread (after the shard threads): 0 or -errno.
 * Until then writes get 503 (the daemon is starting).
 */
int	 opapi_start(struct opapi *op);
/*
 * Stops it before the router stops: writes still waiting for room get
 * 503, new ones too.  Those already queued are answered by their shard
 * as it drains.  Safe to call twice or without a start.
 */
void	 opapi_stop(struct opapi *op);
/* The router's room callback for its producer (any thread). */
void	 opapi_room(void *arg, unsigned shard);
/* store_config.replied (shard threads): answers the write. */
void	 opapi_replied(void *arg, void *reply, const struct store_outcome *o);
void	 opapi_stats(struct opapi *op, struct opapi_stats *out);
/* After opapi_stop and http_stop.  NULL is a no-op. */
void	 opapi_free(struct opapi *op);

#endif
