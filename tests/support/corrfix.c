/*
 * corrfix.c - see corrfix.h.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "correlator/incjson.h"
#include "daemon/mem.h"
#include "tests/support/corrfix.h"
#include "tests/support/incoracle.h"

void
corrfix_rejected(void *arg, const struct corr_action *a, const char *reason)
{
	(void)a;
	snprintf(arg, CORRFIX_REJ_LEN, "%s", reason);
}

struct corr_engine *
corrfix_engine(struct fleet *f, const struct corr_config *cc,
    const struct corr_sink_ops *ops, char *rej)
{
	struct corr_sink sink = { ops, rej };
	char err[160];

	cr_assert_eq(corr_config_check(cc, err, sizeof(err)), 0, "%s", err);
	return corr_engine_new(f, cc, 0, &sink);
}

void
corrfix_edge(struct corr_engine *e, struct fleet *f, const char *dev,
    const char *code, int64_t at, enum alarm_edge edge, enum severity sev)
{
	struct alarm_event ev = { 0 };
	uint32_t d = fleet_find(f, FLEET_DEVICE, dev);

	cr_assert_neq(d, FLEET_NONE, "%s", dev);
	ev.at_ms = at;
	ev.device = d;
	ev.site = f->devices[d].site;
	ev.code = fleet_code(f, code);
	ev.edge = (uint8_t)edge;
	ev.severity = (uint8_t)sev;
	cr_assert_eq(corr_engine_alarm(e, &ev), 0);
}

int
corrfix_act(struct corr_engine *e, char *rej, const char *id,
    enum corr_action_type t, const char *actor, const char *note, int64_t at)
{
	struct corr_action a = { id, (uint8_t)t, actor, note, at, 0 };

	rej[0] = '\0';
	return corr_engine_action(e, &a, NULL, 0);
}

uint32_t
corrfix_site(struct fleet *f, const char *id, const char *area,
    enum region region, int premium)
{
	uint32_t s = fleet_add(f, FLEET_SITE, id), d;
	char dev[64];

	f->sites[s].area = fleet_area(f, area);
	f->sites[s].region = (uint8_t)region;
	f->sites[s].station = xstrdup("Nanshan Station");
	f->sites[s].branch = xstrdup("Shenzhen Branch");
	/* The premium tenant is not the first: the rule must scan tenants. */
	fleet_site_add_tenant(&f->sites[s], "cmcc", TIER_STANDARD);
	if (premium)
		fleet_site_add_tenant(&f->sites[s], "ctcc", TIER_PREMIUM);
	snprintf(dev, sizeof(dev), "%s-pwr", id);
	d = fleet_add(f, FLEET_DEVICE, dev);
	f->devices[d].site = s;
	return s;
}

void
corrfix_ev_take(struct corrfix_ev *r, const struct fleet *f,
    const struct corr_event *ev)
{
	json_t *o;
	char *built;

	r->type = ev->type;
	r->seq = ev->seq;
	r->at = ev->at;
	r->clock = ev->clock;
	r->level = ev->level;
	snprintf(r->id, sizeof(r->id), "%s", ev->inc->id);
	r->json = incjson_encode(f, ev);
	o = incoracle_build(f, ev);
	cr_assert_not_null(o);
	built = json_dumps(o, JSON_COMPACT);
	cr_assert_str_eq(r->json, built, "encode and build differ");
	free(built);
	json_decref(o);
}
