/*
 * complaint.h - POST /api/v1/complaints: a customer's complaint about a
 * site becomes a complaint incident (corr_engine_complaint(), DOMAIN.md
 * section 3: respond and resolve within 48 h), handled afterwards through
 * the incident action routes like any incident.  docs/http.md has the
 * operator's contract.
 *
 * The route is a write like the incident actions and goes their way
 * (daemon/opapi): on the HTTP thread complaint_parse() checks the body
 * against the fleet (a 400 naming what is wrong: an unknown site, a
 * customer that is not a tenant anywhere, or not at that site, a missing
 * or too long text or actor, an unknown severity, an unknown key); the
 * writes thread queues it for the site's shard (router_complaint()), the
 * answer deferred; the shard journals it, opens the incident, and once
 * that is written the store's `replied` hands the outcome back, from which
 * complaint_answer() writes the reply: 201 with the new incident's id,
 * which only the shard knows.  This module is the two pure ends.
 */
#ifndef TOCSIN_COMPLAINT_H
#define TOCSIN_COMPLAINT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "correlator/corr.h"
#include "correlator/fleet.h"
#include "daemon/http.h"

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
 * Fills rs with the reply to complaint c once its shard has handled it:
 * rc is corr_engine_complaint()'s answer, incident the id it opened (rc
 * 0), reason why it refused (rc < 0).  201 {"incident": id, "kind":
 * "complaint", "site", "customer", "state": "open", "severity"}, or 400
 * {"error": reason} (the tenant went away in a reload between the parse
 * and the shard).
 */
void	 complaint_answer(const struct fleet *f, const struct corr_complaint *c,
	    int rc, const char *incident, const char *reason,
	    struct http_resp *rs);

#endif
