/*
 * corrfix.c - see corrfix.h.
 */
#include <criterion/criterion.h>
#include <stdio.h>

#include "tests/support/corrfix.h"

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
