/*
 * incoracle.c - see incoracle.h.
 *
 * Built with jansson's object API, one json_object_set_new() per key in
 * the schema's order (jansson keeps insertion order), so json_dumps() of
 * the tree is the reference the direct encoder must match byte for byte.
 * Nothing here is shared with correlator/incjson.c but the event it reads.
 */
#include <string.h>

#include "correlator/sla.h"
#include "daemon/utc.h"
#include "tests/support/incoracle.h"

json_t *
incoracle_clocks(const struct sla_engine *e, const struct sla_incident *inc,
    int64_t now)
{
	static const char *const names[SLA__NCLOCKS] =
	    { "ack", "arrive", "resolve" };
	static const char *const states[] = { "idle", "running", "stopped" };
	json_t *o = json_object();

	for (unsigned k = 0; k < SLA__NCLOCKS; k++) {
		struct sla_clock_view v;
		char ts[UTC_LEN];
		json_t *c;

		sla_clock_view(e, inc, (enum sla_clock_kind)k, now, &v);
		utc_format(v.deadline_ms, ts);
		c = json_pack("{s:s, s:o, s:I, s:I, s:b, s:b, s:b, s:i}",
		    "state", states[v.state],
		    "deadline", v.has_deadline ? json_string(ts) : json_null(),
		    "budget_ms", (json_int_t)v.duration_ms,
		    "remaining_ms", (json_int_t)v.remaining_ms,
		    "paused", v.paused, "met", v.met, "breached", v.breached,
		    "warnings", (int)v.warnings);
		json_object_set_new(o, names[k], c);
	}
	return o;
}

json_t *
incoracle_time(int64_t ms)
{
	char buf[UTC_LEN];

	utc_format(ms, buf);
	return json_string(buf);
}

static json_t *
oracle_alarm(const struct fleet *f, const struct corr_alarm *a)
{
	json_t *o = json_object();

	json_object_set_new(o, "device", json_string(f->devices[a->device].id));
	json_object_set_new(o, "code", json_string(f->codes[a->code]));
	json_object_set_new(o, "severity",
	    json_string(fleet_severity_name((enum severity)a->severity)));
	json_object_set_new(o, "active", json_boolean(a->active));
	json_object_set_new(o, "raised_at", incoracle_time(a->raised_at));
	json_object_set_new(o, "cleared_at", a->cleared_at != 0 ?
	    incoracle_time(a->cleared_at) : json_null());
	json_object_set_new(o, "repeats", json_integer(a->repeats));
	json_object_set_new(o, "cycles", json_integer(a->cycles));
	json_object_set_new(o, "flapping", json_boolean(a->flapping));
	return o;
}

static void
oracle_add_customer(json_t *arr, const char *id, enum tier tier)
{
	size_t i;
	json_t *c;

	json_array_foreach(arr, i, c) {
		if (strcmp(json_string_value(json_object_get(c, "id")), id) != 0)
			continue;
		if (tier == TIER_PREMIUM)
			json_object_set_new(c, "tier",
			    json_string(fleet_tier_name(tier)));
		return;
	}
	c = json_object();
	json_object_set_new(c, "id", json_string(id));
	json_object_set_new(c, "tier", json_string(fleet_tier_name(tier)));
	json_array_append_new(arr, c);
}

static void
oracle_customers(json_t *inc, const struct fleet *f,
    const struct corr_incident *ci)
{
	json_t *arr = json_array();
	enum tier eff = TIER_STANDARD;

	if (ci->kind == CORR_KIND_COMPLAINT) {
		const struct fleet_site *s = &f->sites[ci->site];
		enum tier tier = (enum tier)s->tier;

		for (size_t i = 0; i < s->ntenants; i++)
			if (strcmp(s->tenants[i].customer, ci->customer) == 0)
				tier = (enum tier)s->tenants[i].tier;
		oracle_add_customer(arr, ci->customer, tier);
		eff = (enum tier)s->tier;
	} else if (ci->kind == CORR_KIND_SITE) {
		const struct fleet_site *s = &f->sites[ci->site];

		for (size_t i = 0; i < s->ntenants; i++)
			oracle_add_customer(arr, s->tenants[i].customer,
			    (enum tier)s->tenants[i].tier);
		eff = (enum tier)s->tier;
	} else {
		for (uint32_t l = 0; l < ci->nlinks; l++) {
			const struct fleet_site *s = &f->sites[ci->links[l].site];

			for (size_t i = 0; i < s->ntenants; i++)
				oracle_add_customer(arr, s->tenants[i].customer,
				    (enum tier)s->tenants[i].tier);
			if (s->tier > eff)
				eff = (enum tier)s->tier;
		}
	}
	json_object_set_new(inc, "customers", arr);
	json_object_set_new(inc, "tier", json_string(fleet_tier_name(eff)));
}

static json_t *
oracle_id(const struct corr_event *ev, uint64_t num)
{
	char id[CORR_ID_LEN];

	corr_id_format(id, sizeof(id), ev->prefix, ev->shard, num);
	return json_string(id);
}

json_t *
incoracle_build(const struct fleet *f, const struct corr_event *ev)
{
	const struct corr_incident *ci = ev->inc;
	json_t *o, *inc, *arr;

	if ((o = json_object()) == NULL)
		return NULL;
	inc = json_object();
	json_object_set_new(o, "schema", json_string(INCJSON_SCHEMA));
	json_object_set_new(o, "event",
	    json_string(corr_evtype_name((enum corr_evtype)ev->type)));
	json_object_set_new(o, "seq", json_integer((json_int_t)ev->seq));
	json_object_set_new(o, "at", incoracle_time(ev->at));
	json_object_set_new(o, "incident", inc);

	json_object_set_new(inc, "id", json_string(ci->id));
	json_object_set_new(inc, "kind",
	    json_string(ci->kind == CORR_KIND_SITE ? "site" :
	    ci->kind == CORR_KIND_AREA ? "area" : "complaint"));
	json_object_set_new(inc, "site", ci->kind != CORR_KIND_AREA ?
	    json_string(f->sites[ci->site].id) : json_null());
	json_object_set_new(inc, "area", json_string(f->areas[ci->area]));
	json_object_set_new(inc, "region", ci->kind != CORR_KIND_AREA ?
	    json_string(fleet_region_name(
	    (enum region)f->sites[ci->site].region)) : json_null());
	json_object_set_new(inc, "severity",
	    json_string(fleet_severity_name((enum severity)ci->severity)));
	json_object_set_new(inc, "state",
	    json_string(corr_state_name((enum corr_state)ci->state)));
	json_object_set_new(inc, "owner",
	    ci->owner != NULL ? json_string(ci->owner) : json_null());
	json_object_set_new(inc, "opened_at", incoracle_time(ci->opened_at));
	if (ci->root != NULL) {
		json_t *rc = json_object();

		json_object_set_new(rc, "device",
		    json_string(f->devices[ci->root->device].id));
		json_object_set_new(rc, "alarm",
		    json_string(f->codes[ci->root->code]));
		json_object_set_new(rc, "raised_at",
		    incoracle_time(ci->root->raised_at));
		json_object_set_new(inc, "root_cause", rc);
	} else {
		json_object_set_new(inc, "root_cause", json_null());
	}
	arr = json_array();
	for (uint32_t i = 0; i < ci->nalarms; i++)
		json_array_append_new(arr, oracle_alarm(f, ci->alarms[i]));
	json_object_set_new(inc, "alarms", arr);
	oracle_customers(inc, f, ci);
	json_object_set_new(inc, "planned", json_boolean(ci->planned));
	if (ci->planned_reason != NULL)
		json_object_set_new(inc, "planned_reason",
		    json_string(ci->planned_reason));
	json_object_set_new(inc, "chronic", json_boolean(ci->chronic));
	arr = json_array();
	for (uint32_t i = 0; i < ci->nchronic; i++)
		json_array_append_new(arr, oracle_id(ev, ci->chronic_of[i]));
	json_object_set_new(inc, "chronic_of", arr);
	json_object_set_new(inc, "flapping", json_boolean(ci->flapping));
	json_object_set_new(inc, "flap_cycles",
	    json_integer((json_int_t)ci->flap_cycles));
	json_object_set_new(inc, "repeats", json_integer((json_int_t)ci->repeats));
	if (ev->sla != NULL && ci->has_sla) {
		const struct sla_incident *si = &ci->sla;

		json_t *clocks = incoracle_clocks(ev->sla, si, ev->at);

		if (ci->kind == CORR_KIND_COMPLAINT)	/* no arrival */
			json_object_del(clocks, "arrive");
		json_object_set_new(inc, "clocks", clocks);
		json_object_set_new(inc, "escalation_level", si->level >= 0 ?
		    json_integer(si->level) : json_null());
		json_object_set_new(inc, "response_score",
		    si->response_score > 0 ?
		    json_integer(si->response_score) : json_null());
		json_object_set_new(inc, "resolution_grade",
		    si->grade != SLA_GRADE_NONE ?
		    json_string(sla_grade_name((enum sla_grade)si->grade)) :
		    json_null());
	} else {
		json_object_set_new(inc, "clocks", json_object());
		json_object_set_new(inc, "escalation_level", json_null());
		json_object_set_new(inc, "response_score", json_null());
		json_object_set_new(inc, "resolution_grade", json_null());
	}
	json_object_set_new(inc, "area_incident", ci->area_num != 0 ?
	    oracle_id(ev, ci->area_num) : json_null());
	if (ci->kind == CORR_KIND_AREA) {
		arr = json_array();
		for (uint32_t i = 0; i < ci->nlinks; i++)
			if (i < ev->links_max)
				json_array_append_new(arr,
				    oracle_id(ev, ci->links[i].num));
		json_object_set_new(inc, "links", arr);
		json_object_set_new(inc, "links_total",
		    json_integer(ci->nlinks));
	} else if (ci->kind == CORR_KIND_COMPLAINT) {
		json_object_set_new(inc, "complaint", json_pack("{s:s, s:s, s:s}",
		    "customer", ci->customer, "text", ci->steps[0].note,
		    "actor", ci->steps[0].actor));
	}
	json_object_set_new(inc, "timeline_len", json_integer(ci->nsteps));
	/* The event's own steps: appended since the previous event. */
	arr = json_array();
	for (uint32_t i = ev->first_step; i < ci->nsteps; i++) {
		const struct corr_step *s = &ci->steps[i];
		json_t *st = json_object();

		json_object_set_new(st, "at", incoracle_time(s->at));
		json_object_set_new(st, "actor", json_string(s->actor));
		json_object_set_new(st, "action", json_string(s->action));
		json_object_set_new(st, "note",
		    s->note != NULL ? json_string(s->note) : json_null());
		json_array_append_new(arr, st);
	}
	json_object_set_new(o, "steps", arr);
	return o;
}
