/*
 * command.h - remote handling (DOMAIN.md section 4, step 2): an operator
 * asks for a command a device's profile declares,
 * POST /api/v1/devices/<id>/commands/<name> {"actor", "incident"?}, and
 * gets its outcome; the outcome goes on the incident's timeline when an
 * incident is named.  docs/commands.md is the operator's page.
 *
 * Threads.  The request is checked on libmicrohttpd's thread (device,
 * declared command, body, incident: all read-only data or the view's
 * read lock) and handed to the poll thread through one SPSC ring
 * (daemon/ring: the HTTP thread is its one producer) and an ev_async; no
 * lock is held across I/O and nothing waits.  On the poll thread
 * poller_command() writes on the poller's own connection to the device
 * and reads back; its outcome is answered through the caller's reply
 * function (called on the poll thread, exactly once per queued request)
 * and, with an incident, queued to the incident's owning shard as a note
 * (CORR_ACT_NOTE through router_action(): journaled there like every
 * action; a full ring is retried every COMMAND_RETRY_MS, never dropped).
 *
 * The reply is deferred: the HTTP side suspends the connection and
 * resumes it from reply() (daemon/http's deferred replies).  command_http()
 * is written against that: it either answers at once in rs or queues and
 * promises one reply() call.
 *
 * Safety: only what a profile declares can be asked for (404 otherwise,
 * before anything is queued), and poller_command() builds the write from
 * the declaration alone.
 */
#ifndef TOCSIN_COMMAND_H
#define TOCSIN_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/http.h"

struct ev_loop;
struct fleet;
struct mbmap;
struct poller;
struct router;
struct view;
struct command;

#define COMMAND_QUEUE		64	/* requests in flight to the poll
					   thread; more get 503 */
#define COMMAND_RETRY_MS	100	/* a note the shard's ring refused */
#define COMMAND_ROUTE		"/api/v1/devices/*/commands/*"

/*
 * The answer to a queued request: status (200, or 404 / 409 / 503 found
 * on the poll thread) and body, a malloc'd JSON object the callee owns
 * (free it with free()).  Called on the poll thread.
 */
typedef void command_reply_fn(void *arg, int status, char *body);
/*
 * Called on the HTTP thread when the request is about to be queued: turns
 * rs into a deferred answer and returns the handle reply() gets as arg
 * (the route's: daemon/http's http_resp_defer() and its pending; tests
 * and the fuzz target pass their own).
 */
typedef void *command_defer_fn(struct http_resp *rs);

/* Counters (any thread, relaxed). */
struct command_stats {
	uint64_t	 requests;	/* queued to the poll thread */
	uint64_t	 refused_busy;	/* 503: the queue was full */
	uint64_t	 outcomes[5];	/* by enum poller_outcome */
	uint64_t	 notes;		/* timeline notes queued to a shard */
	uint64_t	 notes_waits;	/* ... refused by a full ring first */
};

/*
 * A command service on loop (the poll thread's) for fleet f and its map,
 * writing through poller p (or NULL until command_set_poller(): requests
 * then wait in the queue, and are answered 503 if they are handled
 * before it is set), recording on timelines through router r as
 * producer `producer` (the poll thread's), checking incident ids against
 * view v (NULL: not checked; the shard then rejects an unknown one).  All
 * must outlive it.  Free with command_free().
 */
struct command *command_new(struct ev_loop *loop, const struct fleet *f,
	    const struct mbmap *map, struct poller *p, struct router *r,
	    unsigned producer, struct view *v);

/* The poller, once it exists (the HTTP server starts before it), and
 * again after a reload that made a new one.  Poll thread. */
void	 command_set_poller(struct command *c, struct poller *p);
/*
 * A reload's fleet and map (poll thread, after poller_reload()/
 * poller_carry(): commands under way already speak the new indexes).
 * Requests queued before it are found again by device id and command
 * name, or answered 404 (nothing written); both must outlive c or the
 * next call.
 */
void	 command_set_fleet(struct command *c, const struct fleet *f,
	    const struct mbmap *map);

/*
 * The route's work on the HTTP thread, for POST COMMAND_ROUTE (rq->seg[0]
 * the device id, seg[1] the command name; rq->json the body).  Returns 0
 * with rs filled (an error: 404 unknown device or undeclared command or
 * unknown incident, 400 bad body, 503 queue full), or 1: defer(rs) was
 * called, the request is queued, and reply(handle, status, body) will be
 * called exactly once, on the poll thread, with defer's handle.
 */
int	 command_http(struct command *c, const struct http_req *rq,
	    struct http_resp *rs, command_defer_fn *defer,
	    command_reply_fn *reply);

/*
 * From now on outcomes are answered but not recorded (the shards are
 * stopping); requests still queued are answered 503.  Poll thread; call
 * before poller_stop(), whose aborted commands then reply at once.
 */
void	 command_stop(struct command *c);

/*
 * Fills out[0, COMMAND_NROUTES) with the route (POST COMMAND_ROUTE, a
 * JSON body, answered through daemon/http's deferred replies); returns
 * COMMAND_NROUTES.
 */
#define COMMAND_NROUTES		1
size_t	 command_routes(struct command *c, struct http_route *out);

void	 command_stats(struct command *c, struct command_stats *out);

/* Frees c (after command_stop(), the HTTP server and the poller). */
void	 command_free(struct command *c);

#endif
