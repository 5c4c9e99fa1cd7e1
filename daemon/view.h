/*
 * view.h - the incident read API's memory: a publish sink (drivers/pub.h)
 * that keeps every live incident as the journal tells it, and the HTTP
 * routes that read it (GET /api/v1/incidents, GET /api/v1/incidents/<id>;
 * docs/http.md "The incident read API").
 *
 * The engines belong to their shard threads and the HTTP thread never
 * reads them.  Like the Redis sink, the view is built from the records the
 * pump offers in journal order: the latest event of each live incident
 * (without its steps), its whole timeline (the steps of every event
 * concatenated; a PUB_STATE's steps replace them), and the fields the
 * filters and the order need.  A closed incident (live == 0) is dropped,
 * so memory is bounded by the open set.  PUB_DUMP_BEGIN/END of a shard
 * rebuild that shard's part: what the dump did not name is removed.
 *
 * Threads: offer() runs on the libev loop, the routes on libmicrohttpd's
 * thread; one rwlock covers the view.  A route copies what it answers
 * under the read lock and formats outside it.
 *
 * The view starts empty; the daemon fills it from every restored engine
 * before the shards run (live.c, store_dump_sink), and the pump goes on
 * from each journal's end.
 */
#ifndef TOCSIN_VIEW_H
#define TOCSIN_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/http.h"
#include "drivers/pub.h"

struct fleet;
struct view;

#define VIEW_NROUTES		2
#define VIEW_LIMIT_DEFAULT	100	/* items per page without `limit` */
#define VIEW_LIMIT_MAX		1000

/*
 * A view that validates the filters' site, area and customer against
 * fleet (which must outlive it and not change while it serves).  Its
 * routes answer (from an empty view) at once.  Free with view_free.
 */
struct view *view_new(const struct fleet *fleet);
/*
 * A configuration reload: filters check `fleet` from now on (under the
 * view's lock, so a request sees one fleet or the other).  The old fleet
 * may go once this returns.
 */
void	 view_set_fleet(struct view *v, const struct fleet *fleet);
/*
 * The sink to publish_attach(), reporting done to host (copied; a NULL
 * done: nobody waits, as for a correlator's stage); valid until
 * view_free.  Call before the pump starts.
 */
struct pub_sink *view_sink(struct view *v, const struct pub_host *host);
/*
 * The same sink for the start's fill from the engines (store_dump_sink),
 * reporting nothing done to anyone: a memory sink's readers start at each
 * journal's end (publish_start), so the fill's records are none of the
 * pump's business, and the fill may run on a thread of its own while the
 * daemon sets up the rest (daemon/live).  Valid until view_free.
 */
struct pub_sink *view_fill_sink(struct view *v);
/* Fills out[0, VIEW_NROUTES) with the routes; returns VIEW_NROUTES. */
size_t	 view_routes(struct view *v, struct http_route *out);
/* 1 if the incident with this id is live (open) in the view (any
 * thread). */
int	 view_has(struct view *v, const char *id);
/*
 * Appends to rs a JSON array of the latest event (as GET
 * /api/v1/incidents lists it) of every live incident at site (a fleet
 * site id), in SLA-urgency order: GET /api/v1/sites/<id>.  Any thread.
 */
void	 view_site_items(struct view *v, const char *site,
	    struct http_resp *rs);
/* Live incidents held now (any thread). */
size_t	 view_count(struct view *v);
/*
 * 1 once shards 0..nshards-1 have each ended a dump since view_new: the
 * view holds every live incident the engines had at start (any thread).
 */
int	 view_whole(struct view *v, unsigned nshards);
/* Frees everything; after the HTTP server stopped.  NULL is a no-op. */
void	 view_free(struct view *v);

#endif
