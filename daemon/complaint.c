/*
 * complaint.c - see complaint.h.
 *
 * The checks here are the engine's (corr_engine_complaint()) made first,
 * with reasons an operator can act on, so a bad body never reaches a ring
 * or the journal; the engine checks again (a reload may have removed the
 * tenant meanwhile) and that outcome is what complaint_answer() reports.
 * "Not a tenant anywhere" scans every site's tenants: one request's cost
 * on the HTTP thread, only when the customer is not at the named site.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/complaint.h"

/* A required string of 1..max bytes without NULs, or NULL. */
static const char *
complaint_str(const json_t *body, const char *key, size_t max)
{
	const json_t *v = json_object_get(body, key);
	size_t n;

	if (!json_is_string(v))
		return NULL;
	n = json_string_length(v);
	if (n == 0 || n > max || strlen(json_string_value(v)) != n)
		return NULL;
	return json_string_value(v);
}

static int
complaint_tenant_of(const struct fleet_site *s, const char *customer)
{
	for (size_t i = 0; i < s->ntenants; i++)
		if (strcmp(s->tenants[i].customer, customer) == 0)
			return 1;
	return 0;
}

static int
complaint_tenant_anywhere(const struct fleet *f, const char *customer)
{
	for (size_t i = 0; i < f->nsites; i++)
		if (complaint_tenant_of(&f->sites[i], customer))
			return 1;
	return 0;
}

/* ", C1, C3" of site s into buf (cut to its size). */
static void
complaint_tenants(const struct fleet_site *s, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->ntenants && n < len; i++) {
		int w = snprintf(buf + n, len - n, "%s%s", i ? ", " : "",
		    s->tenants[i].customer);

		if (w < 0)
			break;
		n += (size_t)w;
	}
}

/* The client's bytes in a reason: control bytes become '?' (one line). */
static void
complaint_one_line(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			*s = '?';
}

int
complaint_parse(const json_t *body, const struct fleet *f,
    struct corr_complaint *c, char *err, size_t errlen)
{
	static const char *const complaint_keys[] = { "customer", "site",
	    "text", "actor", "severity", NULL };
	const char *site, *sev, *key;
	json_t *v;
	enum severity s;
	uint32_t si;
	char tenants[256];

#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); \
	complaint_one_line(err); return -EINVAL; } while (0)
	memset(c, 0, sizeof(*c));
	if (!json_is_object(body))
		BAD("the body must be a JSON object");
	/* a typo ("txt") is an error, not a silently missing field */
	json_object_foreach((json_t *)body, key, v) {
		size_t i;

		for (i = 0; complaint_keys[i] != NULL; i++)
			if (strcmp(complaint_keys[i], key) == 0)
				break;
		if (complaint_keys[i] == NULL)
			BAD("unknown key \"%.64s\" (customer, site, text, actor, "
			    "severity)", key);
	}
	/* ids are short: a config id, at most a note's length */
	if ((site = complaint_str(body, "site", CORR_NOTE_MAX)) == NULL)
		BAD("site: required, the id of a site of the configuration");
	if ((si = fleet_find(f, FLEET_SITE, site)) == FLEET_NONE)
		BAD("site \"%.128s\" is not in the configuration", site);
	c->site = si;
	if ((c->customer = complaint_str(body, "customer", CORR_NOTE_MAX)) ==
	    NULL)
		BAD("customer: required, a tenant of the site");
	if (!complaint_tenant_of(&f->sites[si], c->customer)) {
		if (!complaint_tenant_anywhere(f, c->customer))
			BAD("customer \"%.128s\" is not a tenant of any site",
			    c->customer);
		complaint_tenants(&f->sites[si], tenants, sizeof(tenants));
		BAD("customer \"%.128s\" is not a tenant of site \"%.128s\" "
		    "(tenants: %s)", c->customer, site, tenants[0] ? tenants :
		    "none");
	}
	if ((c->text = complaint_str(body, "text", CORR_NOTE_MAX)) == NULL)
		BAD("text: required, 1 to %d bytes", CORR_NOTE_MAX);
	if ((c->actor = complaint_str(body, "actor", CORR_ACTOR_MAX)) == NULL)
		BAD("actor: required, 1 to %d bytes", CORR_ACTOR_MAX);
	c->severity = COMPLAINT_SEVERITY;
	if ((v = json_object_get(body, "severity")) != NULL &&
	    !json_is_null(v)) {
		sev = json_is_string(v) ? json_string_value(v) : NULL;
		if (sev == NULL || fleet_severity_parse(sev, &s) != 0)
			BAD("severity: warning, minor, major or critical");
		c->severity = (uint8_t)s;
	}
	return 0;
#undef BAD
}

void
complaint_answer(const struct fleet *f, const struct corr_complaint *c,
    int rc, const char *incident, const char *reason, struct http_resp *rs)
{
	if (rc != 0 || incident == NULL || incident[0] == '\0') {
		http_resp_error(rs, 400, "%s", reason != NULL && reason[0] != '\0' ?
		    reason : "complaint refused by the correlator");
		return;
	}
	http_resp_json(rs, 201, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}",
	    "incident", incident, "kind", "complaint",
	    "site", f->sites[c->site].id, "customer", c->customer,
	    "state", corr_state_name(CORR_OPEN),
	    "severity", fleet_severity_name((enum severity)c->severity)));
}
