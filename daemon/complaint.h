/*
 * complaint.h - POST /api/v1/complaints: a customer's complaint about a
 * site becomes a complaint incident (corr_engine_complaint(), DOMAIN.md
 * section 3: respond and resolve within 48 h), handled afterwards through
 * the incident action routes like any incident.  docs/http.md has the
 * operator's contract.
 *
 * The route is three pure steps and one the daemon supplies:
 *   1. complaint_parse(): the JSON body against the fleet -> a struct
 *      corr_complaint, or a 400 naming what is wrong (an unknown site, a
 *      customer that is not a tenant anywhere, or not at that site, a
 *      missing or too long text or actor, an unknown severity);
 *   2. the daemon queues it for the site's shard (router_complaint(), the
 *      HTTP producer) and holds the request: the answer carries the new
 *      incident's id, which only the shard knows once it has journaled the
 *      complaint and opened the incident (complaint_ops.submit);
 *   3. the shard's end hook sees the outcome (router_input: rc, opened,
 *      reason) and complaint_answer() writes the reply the held request
 *      gets: 201 {"incident": id, ...}, or 400 with the engine's reason.
 * complaint_route() is the HTTP handler doing 1 and 2.
 *
 * Threads: parse and the handler run on the HTTP thread and read only the
 * fleet (read-only after load); answer runs wherever the daemon resumes
 * the request.  Nothing here blocks.
 */
#ifndef TOCSIN_COMPLAINT_H
#define TOCSIN_COMPLAINT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "correlator/corr.h"
#include "correlator/fleet.h"
#include "daemon/http.h"
#include "daemon/router.h"

#define COMPLAINT_PATH		"/api/v1/complaints"
#define COMPLAINT_SEVERITY	SEV_MAJOR	/* when the body names none */

/*
 * Reads body {"customer", "site", "text", "actor", "severity"?} into *c,
 * whose strings point into body (valid while body is); c->at is left 0
 * for the daemon to stamp.  An unknown key is refused, as on the other
 * write routes.  Returns 0, or -EINVAL with a one-line reason in err naming the
 * key and, for ids, the value: "site \"T9\" is not in the
 * configuration", "customer \"C9\" is not a tenant of any site",
 * "customer \"C2\" is not a tenant of site \"T1\" (tenants: C1, C3)",
 * "text: required, 1 to 1023 bytes", ...
 */
int	 complaint_parse(const json_t *body, const struct fleet *f,
	    struct corr_complaint *c, char *err, size_t errlen);

/*
 * Fills rs with the reply to a complaint the shard has handled: in is the
 * end hook's ROUTER_IN_COMPLAINT input.  201 {"incident": id, "kind":
 * "complaint", "site", "customer", "state": "open", "severity"} when it
 * opened one (rc 0), 400 {"error": reason} when the engine refused it
 * (a configuration reloaded between the parse and the shard).
 */
void	 complaint_answer(const struct fleet *f, const struct router_input *in,
	    struct http_resp *rs);

/*
 * What the route needs from the daemon: submit queues the parsed
 * complaint c (c->at stamped by the daemon's clock) for its site's shard
 * and holds the request until complaint_answer() can fill its reply.
 * Returns 0 (held: rs is not sent now), or a negative errno after filling
 * rs itself (-EAGAIN: 503 with Retry-After, the ring is full; nothing is
 * queued then).  When submit is NULL the route answers 503 "complaint
 * intake is not available".
 */
struct complaint_ops {
	int	(*submit)(void *arg, struct corr_complaint *c,
		    const struct http_req *rq, struct http_resp *rs);
};

struct complaint_route {
	const struct fleet *fleet;	/* read-only, outlives the server */
	const struct complaint_ops *ops;
	void	*arg;			/* submit's */
};

/* The POST COMPLAINT_PATH handler (HTTP_JSON); arg: a complaint_route. */
void	 complaint_handle(void *arg, const struct http_req *rq,
	    struct http_resp *rs);

#endif
