/*
 * cfgcorr.c - the correlation section (see cfgcorr.h).
 *
 * Design.  The section is read straight into struct corr_config, which
 * starts from corr_config_defaults() (DOMAIN.md section 5): no key here has
 * a default of its own, so the engine's defaults are the only ones.  A
 * `rules` list replaces the default rules entirely.  Codes are kept by name
 * (the engine interns them) and go through cfgfleet_read_code(), which
 * checks their form and defers the check that some profile raises each one
 * (or that it is COMM_LOSS) until the whole fleet is read: that catches
 * typos such as BAT_LOW.  When the section read cleanly, the engine's own
 * corr_config_check() sees the whole of it.
 *
 * A module of its own rather than a part of cfgsla.c: it depends on the
 * fleet (alarm codes) and the sla section does not.
 */
#include <stdio.h>
#include <string.h>

#include "daemon/cfgcorr.h"
#include "daemon/cfgfleet.h"

static const char *
n_scope(int i)
{
	static const char *const v[] = { "site", "gateway" };
	return i < 2 ? v[i] : NULL;
}

struct rule_in {
	int		 scope;
	int64_t		 window, before;
};

enum { RL_ROOT, RL_EXPLAINS, RL_SCOPE, RL_WINDOW, RL_BEFORE, RL__N };

static const struct cfg_key rule_keys[] = {
	[RL_ROOT] = KFN("root", cfgkey_nop),
	[RL_EXPLAINS] = KFN("explains", cfgkey_nop),
	[RL_SCOPE] = KENUM("scope", struct rule_in, scope, n_scope, "site"),
	[RL_WINDOW] = KDUR("window", struct rule_in, window, 1, 7 * K_DAY, "30m"),
	[RL_BEFORE] = KDUR("before", struct rule_in, before, 0, K_DAY, "5m"),
	[RL__N] = K_END
};

/* An item of rules; the list replaces the engine's default rules. */
static void
cfg_rule(struct cfgkey_ctx *cx, yaml_node_t *n, void *base, const char *path)
{
	struct corr_config *cc = base;
	struct rule_in in = { 0 };
	yaml_node_t *at[RL__N];
	struct corr_rule r;
	char kp[CFGKEY_PATH_MAX];
	size_t i = 0;

	if (cfgkey_item(cx, n, rule_keys, &in, path, at) != 0)
		return;
	if (at[RL_ROOT] == NULL || at[RL_EXPLAINS] == NULL) {
		cfgkey_error(cx, n, path, "a root-cause rule needs root and "
		    "explains");
		return;
	}
	if (cc->nrules == CORR_MAX_RULES) {
		cfgkey_error(cx, n, path, "at most %d root-cause rules",
		    CORR_MAX_RULES);
		return;
	}
	memset(&r, 0, sizeof(r));
	cfgkey_path(kp, sizeof(kp), path, "root");
	if (cfgfleet_read_code(cx, at[RL_ROOT], kp, r.root,
	    sizeof(r.root)) != 0)
		return;
	r.scope = (uint8_t)in.scope;
	r.window_ms = in.window;
	r.before_ms = in.before;
	cfgkey_path(kp, sizeof(kp), path, "explains");
	if (cfgkey_expect(cx, at[RL_EXPLAINS], YAML_SEQUENCE_NODE, kp) != 0)
		return;
	for (yaml_node_item_t *it = at[RL_EXPLAINS]->data.sequence.items.start;
	    it < at[RL_EXPLAINS]->data.sequence.items.top; it++, i++) {
		char ip[CFGKEY_PATH_MAX];

		cfgkey_fmt(ip, sizeof(ip), "%s[%zu]", kp, i);
		if (r.nchildren == CORR_MAX_CHILDREN) {
			cfgkey_error(cx, cfgkey_node(cx, *it), ip, "a rule "
			    "explains at most %d codes", CORR_MAX_CHILDREN);
			return;
		}
		if (cfgfleet_read_code(cx, cfgkey_node(cx, *it), ip,
		    r.children[r.nchildren], CORR_CODE_LEN) == 0)
			r.nchildren++;
	}
	if (r.nchildren == 0) {
		cfgkey_error(cx, at[RL_EXPLAINS], kp, "a rule must explain at "
		    "least one code");
		return;
	}
	cc->rules[cc->nrules++] = r;
}

static void
cfg_storm_code(struct cfgkey_ctx *cx, yaml_node_t *n, void *base,
    const char *path)
{
	struct corr_config *cc = base;

	cfgfleet_read_code(cx, n, path, cc->storm_code, sizeof(cc->storm_code));
}

static void
cfg_id_prefix(struct cfgkey_ctx *cx, yaml_node_t *n, void *base,
    const char *path)
{
	struct corr_config *cc = base;
	const char *s = cfgkey_scalar(cx, n, path);

	if (s == NULL)
		return;
	if (strlen(s) >= sizeof(cc->id_prefix) || strpbrk(s, " \t\"\\/") != NULL)
		cfgkey_error(cx, n, path, "an id prefix has at most %zu "
		    "characters and no spaces, quotes or slashes, got \"%s\"",
		    sizeof(cc->id_prefix) - 1, s);
	else
		snprintf(cc->id_prefix, sizeof(cc->id_prefix), "%s", s);
}

_Static_assert(sizeof(unsigned) == sizeof(uint32_t), "CT_U32 fields");

static const struct cfg_key storm_keys[] = {
	KFN("code", cfg_storm_code),
	KU32("sites", struct corr_config, storm_sites, 2, 100000, NULL),
	KDUR("window", struct corr_config, storm_window_ms, 1, K_DAY, NULL),
	KU32("event_links", struct corr_config, storm_event_links, 0,
	    CORR_MAX_EVENT_LINKS, NULL),
	K_END
};

static const struct cfg_key flapping_keys[] = {
	KU32("cycles", struct corr_config, flap_cycles, 2, CORR_MAX_FLAP, NULL),
	KDUR("window", struct corr_config, flap_window_ms, 1, K_DAY, NULL),
	K_END
};

static const struct cfg_key chronic_keys[] = {
	KU32("count", struct corr_config, chronic_count, 2, CORR_MAX_CHRONIC, NULL),
	KDUR("period", struct corr_config, chronic_period_ms, 60, 3650 * K_DAY,
	    NULL),
	K_END
};

/* Defaults come from corr_config_defaults(), so no key here has one. */
static const struct cfg_key correlation_keys[] = {
	KLIST("rules", struct corr_config, nrules, cfg_rule),
	KFLAT("storm", storm_keys),
	KFLAT("flapping", flapping_keys),
	KFLAT("chronic", chronic_keys),
	KDUR("reopen_hold", struct corr_config, reopen_hold_ms, 0, K_DAY, NULL),
	KBOOL("auto_resolve", struct corr_config, auto_resolve, NULL),
	KFN("id_prefix", cfg_id_prefix),
	K_END
};

void
cfgcorr_read(struct cfgkey_ctx *cx, yaml_node_t *n, struct corr_config *cc,
    const char *path)
{
	size_t before = cfgkey_nerrors(cx);
	char why[256];

	if (cfgkey_map(cx, n, correlation_keys, cc, path, NULL) != 0)
		return;
	if (cfgkey_nerrors(cx) == before &&
	    corr_config_check(cc, why, sizeof(why)) != 0)
		cfgkey_error(cx, n, path, "%s", why);
}

