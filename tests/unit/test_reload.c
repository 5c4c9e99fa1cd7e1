/*
 * test_reload.c - the pure parts of a configuration reload
 * (daemon/reload.h): which devices a new file adds, removes, changes or
 * keeps (by id, a profile's points and rules included), what a removed
 * object becomes (retired, so no snapshot loses an incident), which keys
 * only a restart can change, and an engine's state carried through its
 * snapshot into an engine over the new fleet with every clock's deadline,
 * and the router and the outbox switched to the new fleet's indexes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "correlator/corr.h"
#include "daemon/config.h"
#include "daemon/mem.h"
#include "daemon/outbox.h"
#include "daemon/reload.h"
#include "daemon/router.h"

/* A config from a fleet body (sites and devices) and extra sections. */
static struct config *
load(const char *extra, const char *fleet)
{
	char buf[4096];
	struct config_errors errs = { NULL, 0 };
	struct config *c;

	snprintf(buf, sizeof(buf),
	    "daemon: {shards: 2, state_dir: /tmp/x}\n%s"
	    "profiles:\n  rect:\n    points:\n"
	    "      - {name: v, address: 30001}\n"
	    "    alarms:\n      - {code: MAINS_FAIL, point: v, condition: "
	    "below, threshold: 170, clear: 190, severity: critical}\n"
	    "  batt:\n    points:\n      - {name: u, address: 30002}\n"
	    "    alarms:\n      - {code: BATT_LOW, point: u, condition: "
	    "below, threshold: 46, severity: major}\n%s", extra, fleet);
	c = config_load_buffer("t.yaml", buf, strlen(buf), &errs);
	cr_assert_not_null(c, "%s", errs.n ? errs.msg[0] : "?");
	config_errors_free(&errs);
	return c;
}

static const char *const FLEET_A =
    "sites:\n"
    "  - {id: T1, area: north, region: A, tenants: [{customer: c1, "
    "tier: premium}]}\n"
    "  - {id: T2, area: south, region: B, tenants: [{customer: c2, "
    "tier: standard}]}\n"
    "devices:\n"
    "  - {id: d-keep, site: T1, profile: rect, host: 127.0.0.1}\n"
    "  - {id: d-host, site: T1, profile: rect, host: 127.0.0.2}\n"
    "  - {id: d-gone, site: T2, profile: batt, host: 127.0.0.3}\n";

/* d-host moves, d-gone and T2 go, d-new and T3 come. */
static const char *const FLEET_B =
    "sites:\n"
    "  - {id: T3, area: east, region: C, tenants: [{customer: c3, "
    "tier: standard}]}\n"
    "  - {id: T1, area: north, region: A, tenants: [{customer: c1, "
    "tier: premium}]}\n"
    "devices:\n"
    "  - {id: d-new, site: T3, profile: batt, host: 127.0.0.4}\n"
    "  - {id: d-host, site: T1, profile: rect, host: 127.0.0.9}\n"
    "  - {id: d-keep, site: T1, profile: rect, host: 127.0.0.1}\n";

Test(reload, device_map_counts)
{
	struct config *a = load("", FLEET_A), *b = load("", FLEET_B);
	struct reload_counts c;
	uint32_t *map = reload_device_map(a->fleet, a->mbmap, b->fleet,
	    b->mbmap, &c, NULL);

	cr_expect_eq(c.devices_added, 1);
	cr_expect_eq(c.devices_removed, 1);
	cr_expect_eq(c.devices_changed, 1);
	cr_expect_eq(c.devices_kept, 1);
	cr_expect_eq(c.sites_added, 1);
	cr_expect_eq(c.sites_removed, 1);
	cr_expect_eq(map[0], fleet_find(b->fleet, FLEET_DEVICE, "d-keep"));
	cr_expect_eq(map[1], fleet_find(b->fleet, FLEET_DEVICE, "d-host"));
	cr_expect_eq(map[2], FLEET_NONE);
	xfree(map);
	config_free(a);
	config_free(b);
}

Test(reload, profile_rule_change_changes_its_devices)
{
	struct config *a = load("", FLEET_A), *b;
	struct reload_counts c;
	char fleet[2048];
	uint32_t *map;

	/* the same fleet; BATT_LOW's threshold moves from 46 to 47 */
	b = load("", FLEET_A);
	b->fleet->profiles[fleet_find(b->fleet, FLEET_PROFILE,
	    "batt")].alarms[0].threshold = 47;
	map = reload_device_map(a->fleet, a->mbmap, b->fleet, b->mbmap, &c, NULL);
	cr_expect_eq(c.profiles_changed, 1);
	cr_expect_eq(c.devices_changed, 1, "d-gone's profile changed");
	cr_expect_eq(c.devices_kept, 2);
	xfree(map);
	config_free(b);
	/* a point moved in the Modbus map */
	snprintf(fleet, sizeof(fleet), "%s", FLEET_A);
	b = load("", fleet);
	b->mbmap->profiles[0].points[0].address++;
	map = reload_device_map(a->fleet, a->mbmap, b->fleet, b->mbmap, &c, NULL);
	cr_expect_eq(c.profiles_changed, 1);
	cr_expect_eq(c.devices_changed, 2, "both rect devices changed");
	xfree(map);
	config_free(b);
	config_free(a);
}

Test(reload, retire_keeps_everything_named)
{
	struct config *a = load("", FLEET_A), *b = load("", FLEET_B);
	struct fleet *f = b->fleet;
	struct reload_counts c;
	uint32_t d, s, *map;

	cr_expect_eq(reload_retire(f, a->fleet), 1);
	d = fleet_find(f, FLEET_DEVICE, "d-gone");
	s = fleet_find(f, FLEET_SITE, "T2");
	cr_assert_neq(d, FLEET_NONE);
	cr_assert_neq(s, FLEET_NONE);
	cr_expect(reload_retired(f, d));
	cr_expect(!reload_retired(f, fleet_find(f, FLEET_DEVICE, "d-keep")));
	cr_expect_eq(f->devices[d].site, s);
	cr_expect_eq(f->devices[d].via, FLEET_NONE);
	cr_expect_str_eq(f->areas[f->sites[s].area], "south");
	cr_expect_eq(f->sites[s].region, REGION_B);
	cr_expect_eq(f->sites[s].ntenants, 1);
	cr_expect_str_eq(f->sites[s].tenants[0].customer, "c2");
	cr_expect_geq(fleet_find_code(f, "BATT_LOW"), 0);
	/* retired is removed for the map, and stays so at the next reload */
	map = reload_device_map(a->fleet, a->mbmap, f, b->mbmap, &c, NULL);
	cr_expect_eq(map[2], FLEET_NONE);
	cr_expect_eq(c.devices_removed, 1);
	cr_expect_eq(c.devices_retired, 1);
	xfree(map);
	map = reload_device_map(f, b->mbmap, f, b->mbmap, &c, NULL);
	cr_expect_eq(c.devices_removed, 0);
	cr_expect_eq(c.devices_added, 0);
	cr_expect_eq(c.devices_retired, 1);
	xfree(map);
	config_free(a);
	config_free(b);
}

struct keys {
	char	 seen[512];
	size_t	 n;
};

static void
key_seen(void *arg, const char *key, const char *was, const char *now)
{
	struct keys *k = arg;

	k->n += (size_t)snprintf(k->seen + k->n, sizeof(k->seen) - k->n,
	    "%s:%s>%s;", key, was, now);
}

Test(reload, restart_only_keys)
{
	struct config *a = load("http: {listen: \"127.0.0.1:0\"}\n", FLEET_A);
	struct config *b = load("http: {listen: \"127.0.0.1:0\"}\n"
	    "modbus: {interval: 2s}\ncorrelation: {storm: {sites: 7}}\n",
	    FLEET_B);
	struct config *c = load("http: {listen: \"127.0.0.1:8080\"}\n"
	    "correlation: {flapping: {cycles: 4}}\n", FLEET_A);
	struct keys k;

	/* devices, sites, the modbus section and the rules: all live */
	memset(&k, 0, sizeof(k));
	cr_expect_eq(reload_restart_keys(a, b, key_seen, &k), 0, "%s",
	    k.seen);
	memset(&k, 0, sizeof(k));
	cr_expect_eq(reload_restart_keys(a, c, key_seen, &k), 2, "%s",
	    k.seen);
	cr_expect(strstr(k.seen, "http.listen:127.0.0.1:0>127.0.0.1:8080;")
	    != NULL, "%s", k.seen);
	cr_expect(strstr(k.seen, "correlation.flapping.cycles:3>4;") != NULL,
	    "%s", k.seen);
	config_free(a);
	config_free(b);
	config_free(c);
}

/* ---- the engine's state through the snapshot, over the new fleet ---- */

static void
nop_event(void *arg, const struct corr_event *ev)
{
	(void)arg;
	(void)ev;
}

static const struct corr_sink_ops nop_ops = { nop_event, NULL };

Test(reload, engine_carries_incident_and_deadlines)
{
	struct config *a = load("", FLEET_A), *b = load("", FLEET_B);
	struct corr_sink sink = { &nop_ops, NULL };
	struct corr_engine *e0, *e1;
	const struct corr_incident *i0, *i1;
	struct alarm_event ev;
	char *snap, err[256], id[CORR_ID_LEN];
	size_t n;
	uint32_t d = fleet_find(a->fleet, FLEET_DEVICE, "d-gone");

	e0 = corr_engine_new(a->fleet, &a->correlation, 0, &sink);
	memset(&ev, 0, sizeof(ev));
	ev.at_ms = 1700000000000;
	ev.device = d;
	ev.site = a->fleet->devices[d].site;
	ev.point = 0;
	ev.code = (uint16_t)fleet_find_code(a->fleet, "BATT_LOW");
	ev.edge = ALARM_RAISE;
	ev.severity = SEV_MAJOR;
	cr_assert_eq(corr_engine_alarm(e0, &ev), 0);
	corr_engine_advance(e0, ev.at_ms + 5000);
	corr_id_format(id, sizeof(id), a->correlation.id_prefix, 0,
	    a->correlation.id_start);
	cr_assert_not_null(i0 = corr_engine_find(e0, id));
	cr_assert(i0->has_sla);

	/* d-gone is not in the new file: retired, its incident stays */
	(void)reload_retire(b->fleet, a->fleet);
	e1 = corr_engine_new(b->fleet, &b->correlation, 0, &sink);
	cr_assert_eq(corr_engine_save(e0, &snap, &n), 0);
	cr_assert_eq(corr_engine_load(e1, snap, n, err, sizeof(err)), 0,
	    "%s", err);
	xfree(snap);
	cr_assert_not_null(i1 = corr_engine_find(e1, id));
	cr_expect_eq(i1->seq, i0->seq);
	cr_expect_eq(i1->nsteps, i0->nsteps);
	cr_expect_str_eq(b->fleet->devices[i1->root->device].id, "d-gone");
	for (unsigned k = 0; k < SLA__NCLOCKS; k++)
		cr_expect_eq(i1->sla.clocks[k].deadline_ms,
		    i0->sla.clocks[k].deadline_ms, "clock %u", k);
	corr_engine_free(e0);
	corr_engine_free(e1);
	config_free(a);
	config_free(b);
}

/* ---- the poll side's state, carried to the new indexes ---- */

Test(reload, outbox_and_router_follow_the_new_fleet)
{
	struct config *a = load("", FLEET_A), *b = load("", FLEET_B);
	struct corr_sink sinks[2] = { { &nop_ops, NULL }, { &nop_ops, NULL } };
	struct router_reload *rl = xcalloc(1, sizeof(*rl));
	struct router *r;
	struct outbox *o, *o2;
	struct alarm_event ev;
	char err[128];
	uint32_t *map, keep, t1a, t1b;
	struct reload_counts c;
	uint16_t mf;

	r = router_new(a->fleet, &a->correlation, 2, 1, 16, sinks, err,
	    sizeof(err));
	cr_assert_not_null(r, "%s", err);
	o = outbox_new(a->fleet, r, 0);
	keep = fleet_find(a->fleet, FLEET_DEVICE, "d-keep");
	mf = (uint16_t)fleet_find_code(a->fleet, "MAINS_FAIL");
	memset(&ev, 0, sizeof(ev));
	ev.at_ms = 1700000000000;
	ev.device = keep;
	ev.site = a->fleet->devices[keep].site;
	ev.code = mf;
	ev.edge = ALARM_RAISE;
	ev.severity = SEV_CRITICAL;
	cr_assert_eq(outbox_put(o, &ev), 0);
	t1a = router_shard_of(r, ev.site);

	(void)reload_retire(b->fleet, a->fleet);
	map = reload_device_map(a->fleet, a->mbmap, b->fleet, b->mbmap, &c, NULL);
	rl->fleet = b->fleet;
	rl->cc = &b->correlation;
	for (unsigned i = 0; i < 2; i++) {
		rl->engines[i] = corr_engine_new(b->fleet, &b->correlation, i,
		    &sinks[i]);
		rl->fallback[i] = corr_engine_new(b->fleet, &a->correlation, i,
		    &sinks[i]);
	}
	cr_assert_eq(router_reload(r, 0, rl), 0);
	cr_expect_eq(rl->gen, 1);
	/* T1 keeps its shard whatever its new index; T3 goes by "east" */
	t1b = router_shard_of(r, fleet_find(b->fleet, FLEET_SITE, "T1"));
	cr_expect_eq(t1b, t1a);
	cr_expect_eq(router_shard_of(r, fleet_find(b->fleet, FLEET_SITE,
	    "T3")), fleet_area_shard("east", 2));
	o2 = outbox_remap(o, b->fleet, map);
	outbox_free(o);
	cr_expect_eq(outbox_sent(o2, fleet_find(b->fleet, FLEET_DEVICE,
	    "d-keep"), (uint16_t)fleet_find_code(b->fleet, "MAINS_FAIL")), 1,
	    "d-keep's raise is what its shard has");
	cr_expect_eq(outbox_sent(o2, fleet_find(b->fleet, FLEET_DEVICE,
	    "d-new"), (uint16_t)fleet_find_code(b->fleet, "BATT_LOW")), -1);
	outbox_free(o2);
	/* the shards never ran: the swap messages wait in the rings */
	router_free(r);
	for (unsigned i = 0; i < 2; i++) {
		corr_engine_free(rl->engines[i]);
		corr_engine_free(rl->fallback[i]);
	}
	xfree(rl);
	xfree(map);
	config_free(a);
	config_free(b);
}

/* An alarm raised on engine e of fleet f: device id, code name. */
static void
raise_on(struct corr_engine *e, const struct fleet *f, const char *dev,
    const char *code, int64_t at)
{
	struct alarm_event ev;
	uint32_t d = fleet_find(f, FLEET_DEVICE, dev);

	memset(&ev, 0, sizeof(ev));
	ev.at_ms = at;
	ev.device = d;
	ev.site = f->devices[d].site;
	ev.code = (uint16_t)fleet_find_code(f, code);
	ev.edge = ALARM_RAISE;
	ev.severity = SEV_MAJOR;
	cr_assert_eq(corr_engine_alarm(e, &ev), 0);
}

/* The incident holding (device, code) in e, by scanning ids 1..n. */
static const struct corr_incident *
inc_of(struct corr_engine *e, const struct config *c, unsigned n,
    const struct fleet *f, const char *dev)
{
	char id[CORR_ID_LEN];

	for (unsigned k = 1; k <= n; k++) {
		const struct corr_incident *i;

		corr_id_format(id, sizeof(id), c->correlation.id_prefix, 0, k);
		if ((i = corr_engine_find(e, id)) != NULL &&
		    strcmp(f->devices[i->root->device].id, dev) == 0)
			return i;
	}
	return NULL;
}

Test(reload, removed_device_and_dropped_code_clear_with_a_note)
{
	struct config *a = load("", FLEET_A), *b = load("", FLEET_B);
	struct corr_sink sink = { &nop_ops, NULL };
	struct corr_engine *e0, *e1;
	const struct corr_incident *gone, *host, *keep;
	struct reload r;
	char *snap, err[256];
	size_t n;
	int64_t t = 1700000000000;

	e0 = corr_engine_new(a->fleet, &a->correlation, 0, &sink);
	raise_on(e0, a->fleet, "d-gone", "BATT_LOW", t);
	raise_on(e0, a->fleet, "d-host", "MAINS_FAIL", t + 1);
	raise_on(e0, a->fleet, "d-keep", "COMM_LOSS", t + 2);
	/* the new file: d-gone removed; rect raises AC_FAIL, not MAINS_FAIL */
	b->fleet->profiles[fleet_find(b->fleet, FLEET_PROFILE,
	    "rect")].alarms[0].code_id = fleet_code(b->fleet, "AC_FAIL");
	memset(&r, 0, sizeof(r));
	r.cfg = b;
	(void)reload_retire(b->fleet, a->fleet);
	r.retired_now = xcalloc(b->fleet->ndevices, 1);
	r.retired_now[fleet_find(b->fleet, FLEET_DEVICE, "d-gone")] = 1;
	e1 = corr_engine_new(b->fleet, &b->correlation, 0, &sink);
	cr_assert_eq(corr_engine_save(e0, &snap, &n), 0);
	cr_assert_eq(corr_engine_load(e1, snap, n, err, sizeof(err)), 0,
	    "%s", err);
	xfree(snap);
	cr_expect_eq(reload_retired_alarms(e1, &r, NULL, NULL, 0), 2);
	gone = inc_of(e1, b, 5, b->fleet, "d-gone");
	host = inc_of(e1, b, 5, b->fleet, "d-host");
	keep = inc_of(e1, b, 5, b->fleet, "d-keep");
	cr_assert_not_null(gone);
	cr_assert_not_null(host);
	cr_assert_not_null(keep);
	cr_expect_eq(gone->nactive, 0);
	cr_expect_eq(gone->state, CORR_CLEARED, "open until resolved");
	cr_expect(gone->has_sla);
	cr_expect(strstr(gone->steps[gone->nsteps - 2].note,
	    "d-gone removed from the configuration") != NULL, "%s",
	    gone->steps[gone->nsteps - 2].note);
	cr_expect_eq(host->nactive, 0);
	cr_expect(strstr(host->steps[host->nsteps - 2].note,
	    "alarm MAINS_FAIL of device d-host") != NULL);
	cr_expect_eq(keep->nactive, 1, "COMM_LOSS is always watched");
	xfree(r.retired_now);
	corr_engine_free(e0);
	corr_engine_free(e1);
	config_free(a);
	config_free(b);
}

/* Journals written under another routing: a site stays where its live
 * incidents are (router_pin_restored), the others go by area name. */
Test(reload, restored_incidents_pin_their_site)
{
	struct config *a = load("", FLEET_A);
	struct corr_sink sinks[2] = { { &nop_ops, NULL }, { &nop_ops, NULL } };
	struct router *r;
	char err[128];
	uint32_t t1 = fleet_find(a->fleet, FLEET_SITE, "T1");
	uint32_t t2 = fleet_find(a->fleet, FLEET_SITE, "T2");
	unsigned home, other;

	r = router_new(a->fleet, &a->correlation, 2, 1, 16, sinks, err,
	    sizeof(err));
	cr_assert_not_null(r, "%s", err);
	home = router_shard_of(r, t1);
	cr_expect_eq(home, fleet_area_shard("north", 2));
	other = 1 - home;
	/* the restored engine of the other shard holds T1's incident */
	raise_on(router_engine(r, other), a->fleet, "d-keep", "COMM_LOSS",
	    1700000000000);
	cr_expect_eq(router_pin_restored(r), 1);
	cr_expect_eq(router_shard_of(r, t1), other);
	cr_expect_eq(router_shard_of(r, t2), fleet_area_shard("south", 2));
	router_free(r);
	config_free(a);
}

/* ---- retired objects across a restart ---- */

Test(reload, retired_file_round_trip)
{
	struct config *a = load("", FLEET_A), *b = load("", FLEET_B);
	struct config *c = load("", FLEET_B);
	struct reload_marks m;
	char dir[] = "/tmp/tocsin-retired-XXXXXX", err[256], path[128];
	uint32_t d, s;

	cr_assert_not_null(mkdtemp(dir));
	reload_marks_of(b->fleet, &m);
	(void)reload_retire(b->fleet, a->fleet);
	cr_assert_eq(reload_retired_save(b->fleet, &m, dir), 0);
	/* a restart: the file's fleet, then what was retired */
	cr_expect_eq(reload_retired_load(c->fleet, dir, err, sizeof(err)), 1,
	    "%s", err);
	d = fleet_find(c->fleet, FLEET_DEVICE, "d-gone");
	s = fleet_find(c->fleet, FLEET_SITE, "T2");
	cr_assert_neq(d, FLEET_NONE);
	cr_assert_neq(s, FLEET_NONE);
	cr_expect(reload_retired(c->fleet, d));
	cr_expect_eq(c->fleet->devices[d].site, s);
	cr_expect_str_eq(c->fleet->areas[c->fleet->sites[s].area], "south");
	cr_expect_eq(c->fleet->sites[s].region, REGION_B);
	cr_expect_str_eq(c->fleet->sites[s].tenants[0].customer, "c2");
	/* loaded again (nothing new), and nothing retired: no file */
	cr_expect_eq(reload_retired_load(c->fleet, dir, err, sizeof(err)), 0);
	reload_marks_of(a->fleet, &m);
	cr_assert_eq(reload_retired_save(a->fleet, &m, dir), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, RELOAD_RETIRED_FILE);
	cr_expect_neq(access(path, F_OK), 0);
	cr_expect_eq(rmdir(dir), 0);
	config_free(a);
	config_free(b);
	config_free(c);
}

Test(reload, retired_file_refuses_bad_input)
{
	struct config *a = load("", FLEET_A);
	static const char *const bad[] = {
		"[", "[]", "{\"codes\":[\"bad code\"]}",
		"{\"sites\":[{\"id\":\"X\",\"area\":\"a\"}]}",
		"{\"sites\":[{\"id\":\"X\",\"area\":\"a\",\"region\":\"Z\"}]}",
		"{\"devices\":[{\"id\":\"d\",\"site\":\"nowhere\"}]}",
		"{\"devices\":[{\"id\":7,\"site\":\"T1\"}]}",
		"{\"sites\":[{\"id\":\"X\",\"area\":\"a\",\"region\":\"A\","
		    "\"tenants\":[{\"customer\":\"c\",\"tier\":\"gold\"}]}]}",
	};
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_expect_eq(reload_retired_parse(a->fleet, bad[i],
		    strlen(bad[i]), err, sizeof(err)), -EINVAL, "%s", bad[i]);
		cr_expect_neq(err[0], '\0', "%s: a reason", bad[i]);
	}
	config_free(a);
}
