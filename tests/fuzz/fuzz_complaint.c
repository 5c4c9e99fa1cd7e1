/*
 * fuzz_complaint.c - libFuzzer target for the POST /api/v1/complaints
 * body (complaint_parse): any bytes that parse as JSON get a complaint or
 * a one-line reason, never a crash.  An accepted complaint must hold what
 * corr_engine_complaint() requires of it: a site of the fleet with the
 * customer among its tenants, a text of 1..CORR_NOTE_MAX bytes, an actor
 * of 1..CORR_ACTOR_MAX bytes, a severity in range; the engine then takes
 * it (opens one incident).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/complaint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fleet *fleet;

static void
fz_event(void *arg, const struct corr_event *ev)
{
	(*(int *)arg)++;
	if (ev->inc->kind != CORR_KIND_COMPLAINT)
		abort();
}

static const struct corr_sink_ops fz_ops = { .event = fz_event };

static void
fz_fleet(void)
{
	uint32_t s;

	fleet = fleet_new();
	s = fleet_add(fleet, FLEET_SITE, "T1");
	fleet->sites[s].area = fleet_area(fleet, "north");
	fleet_site_add_tenant(&fleet->sites[s], "C1", TIER_STANDARD);
	fleet_site_add_tenant(&fleet->sites[s], "C3", TIER_PREMIUM);
	s = fleet_add(fleet, FLEET_SITE, "T2");
	fleet->sites[s].area = fleet_area(fleet, "south");
	fleet_site_add_tenant(&fleet->sites[s], "C2", TIER_STANDARD);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct corr_complaint c;
	struct corr_config cc;
	json_t *o;
	char err[512];
	int events = 0;

	if (fleet == NULL)
		fz_fleet();
	if ((o = json_loadb((const char *)data, size, JSON_DECODE_ANY,
	    NULL)) == NULL)
		return 0;
	err[0] = '\0';
	if (complaint_parse(o, fleet, &c, err, sizeof(err)) != 0) {
		if (err[0] == '\0' || strchr(err, '\n') != NULL)
			abort();
	} else {
		struct corr_sink sink = { &fz_ops, &events };
		struct corr_engine *e;

		if (c.site >= fleet->nsites || c.customer == NULL ||
		    c.text == NULL || strlen(c.text) == 0 ||
		    strlen(c.text) > CORR_NOTE_MAX || c.actor == NULL ||
		    strlen(c.actor) == 0 || strlen(c.actor) > CORR_ACTOR_MAX ||
		    c.severity >= SEV__COUNT)
			abort();
		corr_config_defaults(&cc);
		e = corr_engine_new(fleet, &cc, 0, &sink);
		c.at = 1796000000000LL;
		if (corr_engine_complaint(e, &c, NULL, 0, NULL, 0) != 0 ||
		    events != 1)
			abort();
		corr_engine_free(e);
	}
	json_decref(o);
	return 0;
}
