/*
 * test_cfgfleet.c - profiles, sites and devices read by cfgfleet on their
 * own: points in every address form, alarms, tenants and the premium rule,
 * devices inline and from an inventory file, names resolved in any order,
 * gateways, the same address twice, the Modicon parser and the alarm-code
 * check a correlation rule uses.  Each YAML is read the way
 * config_load_buffer() reads these three sections, with the modbus
 * defaults 502 and unit 1 standing for a device's unset port and unit.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/cfgfleet.h"
#include "daemon/config.h"
#include "tests/support/cfgfix.h"

/* A minimal valid fleet that each test extends or breaks. */
#define PROFILE \
	"profiles:\n" \
	"  rect:\n" \
	"    points:\n" \
	"      - {name: mains, address: 30001, scale: 0.1}\n" \
	"    alarms:\n" \
	"      - {code: MAINS_FAIL, point: mains, condition: below, threshold: 170}\n"

static struct config_errors errs;
static struct cfgkey_ctx cx;
static int cx_live;
static struct fleet *fleet;
static struct mbmap *map;		/* the fleet's Modbus point map */

static void
reset(void)
{
	if (cx_live)
		cfgkey_fini(&cx);
	cx_live = 0;
	if (fleet != NULL)
		fleet_free(fleet);
	fleet = NULL;
	mbmap_free(map);
	map = NULL;
	config_errors_free(&errs);
}

enum { TK_PROFILES, TK_SITES, TK_DEVICES, TK_CODE, TK__N };

/* The fleet sections, and "code" for cfgfleet_read_code(). */
static const struct cfg_key top_keys[] = {
	[TK_PROFILES] = KFN("profiles", cfgkey_nop),
	[TK_SITES] = KFN("sites", cfgkey_nop),
	[TK_DEVICES] = KFN("devices", cfgkey_nop),
	[TK_CODE] = KFN("code", cfgkey_nop),
	[TK__N] = K_END
};

static char code[12];		/* what "code:" read into */
static int code_r;		/* and cfgfleet_read_code()'s result */

/*
 * Reads yaml as the file name: profiles, sites, devices in that order,
 * then the names that waited, then (when all is well) the addresses.
 * Returns the fleet (freed by reset()) or NULL when there was an error.
 */
static struct fleet *
load_named(const char *name, const char *yaml)
{
	yaml_node_t *root, *at[TK__N];

	reset();
	cfgkey_init(&cx, name, &errs);
	cx_live = 1;
	fleet = fleet_new();
	map = mbmap_new();
	if (cfgkey_parse(&cx, yaml, strlen(yaml), &root) == 0 &&
	    cfgkey_map(&cx, root, top_keys, NULL, "", at) == 0) {
		cfgfleet_read(&cx, fleet, map, at[TK_PROFILES], at[TK_SITES],
		    at[TK_DEVICES]);
		if (at[TK_CODE] != NULL)
			code_r = cfgfleet_read_code(&cx, at[TK_CODE], "code",
			    code, sizeof(code));
	}
	cfgfleet_resolve(&cx, fleet);
	if (errs.n == 0)
		cfgfleet_check_addresses(&cx, fleet, 502, 1);
	return errs.n == 0 ? fleet : NULL;
}

static struct fleet *
load(const char *yaml)
{
	return load_named("t.yaml", yaml);
}

/* Loading failed?  (cfgfix_load_fn) */
static int
failed(const char *yaml, const struct config_errors **e)
{
	*e = &errs;
	return load(yaml) == NULL;
}

#define expect_error(yaml, want)	cfgfix_expect_error(failed, yaml, want)
#define expect_at(yaml, needle, rest)	\
	cfgfix_expect_at(failed, yaml, needle, rest)

TestSuite(cfgfleet, .fini = reset);

static char tmpdir[64];

static void
write_file(const char *name, const char *text)
{
	char p[128];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

/* Reads yaml as if it were tmpdir/c.yaml: inventories resolve there. */
static struct fleet *
load_dir(const char *yaml)
{
	static char p[128];

	snprintf(p, sizeof(p), "%s/c.yaml", tmpdir);
	return load_named(p, yaml);
}

static void
mk_tmp(void)
{
	strcpy(tmpdir, "/tmp/tocsin-cfgtest-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void
rm_tmp(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", tmpdir);
	reset();
}

#define INVENTORY_CFG \
	"profiles:\n" \
	"  fsu: {gateway: true, points: [{name: door, address: 10001}]}\n" \
	"  rect: {points: [{name: v, address: 30001}]}\n" \
	"sites:\n  - {id: S1, area: a, region: A}\n" \
	"devices:\n  - inventory: inv.csv\n"

/* ------------------------------------------------------------------ */
/* Moved from test_config.c */

Test(cfgfleet, modicon_edges)
{
	static const struct {
		const char *s;
		int ok;
		enum mbmap_table t;
		unsigned a;
	} cases[] = {
		{ "0", 0, 0, 0 }, { "1", 1, MBMAP_COIL, 0 },
		{ "00001", 1, MBMAP_COIL, 0 }, { "9999", 1, MBMAP_COIL, 9998 },
		{ "10000", 0, 0, 0 }, { "10001", 1, MBMAP_DISCRETE, 0 },
		{ "19999", 1, MBMAP_DISCRETE, 9998 }, { "20001", 0, 0, 0 },
		{ "30001", 1, MBMAP_INPUT, 0 }, { "40001", 1, MBMAP_HOLDING, 0 },
		{ "49999", 1, MBMAP_HOLDING, 9998 }, { "400000", 0, 0, 0 },
		{ "400001", 1, MBMAP_HOLDING, 0 }, { "465536", 1, MBMAP_HOLDING, 65535 },
		{ "465537", 0, 0, 0 }, { "000001", 1, MBMAP_COIL, 0 },
		{ "065536", 1, MBMAP_COIL, 65535 }, { "300001", 1, MBMAP_INPUT, 0 },
		{ "4000001", 0, 0, 0 }, { "4x001", 0, 0, 0 }, { "", 0, 0, 0 },
		{ "-40001", 0, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum mbmap_table t = MBMAP__TABLES;
		uint16_t a = 0;
		const char *why = NULL;
		int r = cfgfleet_parse_modicon(cases[i].s, &t, &a, &why);

		cr_assert_eq(r == 0, cases[i].ok, "%s", cases[i].s);
		if (cases[i].ok) {
			cr_assert_eq(t, cases[i].t, "%s", cases[i].s);
			cr_assert_eq(a, cases[i].a, "%s", cases[i].s);
		} else
			cr_assert_not_null(why);
	}
}

Test(cfgfleet, premium_rule)
{
	struct fleet *f = load(PROFILE
	    "sites:\n"
	    "  - {id: S1, area: a, region: A, tenants: [{customer: cm, tier: standard},"
	    " {customer: cu, tier: premium}, {customer: ct}]}\n"
	    "  - {id: S2, area: a, region: B, tenants: [{customer: cm}, {customer: cu}]}\n"
	    "  - {id: S3, area: b, region: C}\n");

	cr_assert_not_null(f, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(f->nsites, 3);
	cr_assert_eq(f->sites[0].tier, TIER_PREMIUM);
	cr_assert_eq(f->sites[0].ntenants, 3);
	cr_assert_eq(f->sites[0].tenants[2].tier, TIER_STANDARD);
	cr_assert_eq(f->sites[1].tier, TIER_STANDARD);
	cr_assert_eq(f->sites[2].tier, TIER_STANDARD);
	cr_assert_eq(f->sites[2].region, REGION_C);
	cr_assert_eq(f->nareas, 2);
}

Test(cfgfleet, point_forms)
{
	struct fleet *f = load(
	    "profiles:\n"
	    "  p:\n"
	    "    points:\n"
	    "      - {name: a, address: 40001}\n"
	    "      - {name: b, holding: 1, type: float32, order: CDAB}\n"
	    "      - {name: c, table: input, address: 0, type: int16}\n"
	    "      - {name: d, address: 465535, type: uint16}\n"
	    "      - {name: e, address: 00001}\n"
	    "      - {name: f, holding: 10, type: bool, bit: 3}\n"
	    "      - {name: g, holding: 10, type: bool, bit: 4}\n");
	const struct mbmap_profile *p;

	cr_assert_not_null(f, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(f->profiles[0].npoints, 7);
	p = &map->profiles[0];
	cr_assert_eq(p->npoints, 7);
	cr_assert_eq(p->points[0].table, MBMAP_HOLDING);
	cr_assert_eq(p->points[0].address, 0);
	cr_assert_eq(p->points[0].type, MBMAP_UINT16);
	cr_assert_eq(p->points[1].address, 1);
	cr_assert_eq(p->points[1].order, MBMAP_CDAB);
	cr_assert_eq(p->points[2].table, MBMAP_INPUT);
	cr_assert_eq(p->points[3].address, 65534);
	cr_assert_eq(p->points[4].table, MBMAP_COIL);
	cr_assert_eq(p->points[4].type, MBMAP_BOOL);
	cr_assert_eq(p->points[5].bit, 3);
}

Test(cfgfleet, point_poll_class)
{
	struct fleet *f = load(
	    "profiles:\n"
	    "  p:\n"
	    "    points:\n"
	    "      - {name: v, input: 0}\n"
	    "      - {name: setpoint, holding: 0, interval: 1h}\n"
	    "      - {name: relay, coil: 0, interval: 10s}\n");

	cr_assert_not_null(f, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(map->profiles[0].points[0].interval_ms, 0);
	cr_assert_eq(map->profiles[0].points[1].interval_ms, 3600000);
	cr_assert_eq(map->profiles[0].points[2].interval_ms, 10000);
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: v, input: 0, interval: 50ms}\n",
	    "50ms", "profiles.p.points[0].interval: 50ms is out of range");
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: v, input: 0, interval: often}\n",
	    "often", "profiles.p.points[0].interval: expected a duration");
}

Test(cfgfleet, enum_values)
{
	expect_at(PROFILE "sites:\n  - {id: S1, area: a, region: D}\n",
	    "D}", "sites[0].region: unknown value \"D\" (one of: A, B, C)");
	expect_at(PROFILE "sites:\n  - {id: S1, area: a, region: A, "
	    "tenants: [{customer: x, tier: premum}]}\n",
	    "premum", "sites[0].tenants[0].tier: unknown value \"premum\" "
	    "(did you mean \"premium\"?)");
}

Test(cfgfleet, duplicate_ids)
{
	expect_at(PROFILE "sites:\n  - {id: S1, area: a, region: A}\n"
	    "  - {id: S1, area: b, region: B}\n",
	    "S1, area: b", "sites[1].id: duplicate site id \"S1\"");
	expect_at(PROFILE "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n  - {id: d, site: S1, profile: rect, host: 127.0.0.1}\n"
	    "  - {id: d, site: S1, profile: rect, host: 127.0.0.2}\n",
	    "{id: d, site: S1, profile: rect, host: 127.0.0.2",
	    "devices[1]: duplicate device id \"d\"");
	expect_at(PROFILE "  rect:\n    points: [{name: x, address: 1}]\n",
	    "rect:\n    points: [",
	    "profiles.rect: duplicate profile id \"rect\"");
}

Test(cfgfleet, dangling_references)
{
	expect_at(PROFILE "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n  - {id: d, site: S9, profile: rect, host: 127.0.0.1}\n",
	    "S9", "devices[0].site: device d names unknown site \"S9\"");
	expect_at(PROFILE "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n  - {id: d, site: S1, profile: rectt, host: 127.0.0.1}\n",
	    "rectt", "devices[0].profile: device d names unknown profile "
	    "\"rectt\" (did you mean \"rect\"?)");
	expect_at(PROFILE "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n  - {id: d, site: S1, profile: rect, via: gw}\n",
	    "gw}", "devices[0].via: device d is reached via unknown device");
	expect_at(PROFILE "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n  - {id: g, site: S1, profile: rect, host: 127.0.0.1}\n"
	    "  - {id: d, site: S1, profile: rect, via: g}\n",
	    "g}", "devices[1].via: device d is reached via g, whose "
	    "profile rect is not a gateway");
}

Test(cfgfleet, gateway_gives_host)
{
	struct fleet *f = load(
	    "profiles:\n"
	    "  fsu: {gateway: true, points: [{name: door, address: 10001}]}\n"
	    "  rect: {points: [{name: v, address: 30001}]}\n"
	    "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n"
	    "  - {id: d, site: S1, profile: rect, via: g, unit: 2}\n"
	    "  - {id: g, site: S1, profile: fsu, host: 127.0.0.9, port: 1502}\n");

	cr_assert_not_null(f, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_str_eq(f->devices[0].host, "127.0.0.9");
	cr_assert_eq(f->devices[0].port, 1502);
	cr_assert_eq(f->devices[0].unit, 2);
	cr_assert_eq(f->devices[0].via, 1);
	cr_assert_eq(f->devices[1].unit, -1, "unset unit is not the default");
}

Test(cfgfleet, address_outside_table)
{
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: f, holding: 65535, type: float32}\n",
	    "65535", "profiles.p.points[0].holding: a float32 at holding "
	    "address 65535 runs past the end of the table");
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: f, address: 465536, type: uint32}\n",
	    "465536", "profiles.p.points[0].address: a uint32 at holding "
	    "address 65535 runs past");
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: f, address: 465537}\n",
	    "465537", "profiles.p.points[0].address: six-digit Modicon "
	    "address out of range");
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: f, table: holding, address: 65536}\n",
	    "65536", "profiles.p.points[0].address: expected an offset 0-65535");
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: f, address: 00001, type: uint16}\n",
	    "uint16}", "profiles.p.points[0].type: a coil holds single bits");
}

Test(cfgfleet, overlapping_points)
{
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: a, address: 40001, type: float32}\n"
	    "      - {name: b, address: 40002}\n",
	    "{name: b", "profiles.p.points[1]: point \"b\" (holding 1-1) overlaps "
	    "point \"a\" (holding 0-1)");
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: a, holding: 5, type: bool, bit: 1}\n"
	    "      - {name: b, holding: 5, type: bool, bit: 1}\n",
	    "{name: b", "profiles.p.points[1]: point \"b\" (holding 5-5) overlaps");
}

Test(cfgfleet, alarm_rules)
{
	expect_at("profiles:\n  p:\n    points: [{name: t, address: 30001}]\n"
	    "    alarms:\n      - {code: HIGH_TEMP, point: t, condition: above, "
	    "threshold: 35, clear: 40}\n",
	    "40}", "profiles.p.alarms[0].clear: clear 40 must not be above");
	expect_at("profiles:\n  p:\n    points: [{name: t, address: 30001}]\n"
	    "    alarms:\n      - {code: high_temp, point: t, condition: above, "
	    "threshold: 35}\n",
	    "high_temp", "profiles.p.alarms[0].code: alarm codes are upper case");
	expect_at("profiles:\n  p:\n    points: [{name: t, address: 30001}]\n"
	    "    alarms:\n      - {code: X, point: t, condition: bit_set}\n",
	    "{code: X", "profiles.p.alarms[0]: condition bit_set needs bit");
}

/*
 * A profile's alarm code is held to the model's one rule (fleet_code_check,
 * 1-31 bytes): a code a correlation rule could not name, or replay and
 * tocsin.alarms would refuse, is refused here too.
 */
Test(cfgfleet, alarm_code_is_the_models_rule)
{
	char yaml[512];
	struct fleet *f;

	snprintf(yaml, sizeof(yaml), "profiles:\n  p:\n    points: [{name: t, "
	    "address: 30001}]\n    alarms:\n      - {code: %.*s, point: t, "
	    "condition: above, threshold: 1}\n", FLEET_CODE_MAX,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789");
	f = load(yaml);
	cr_assert_not_null(f, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(strlen(f->profiles[0].alarms[0].code), FLEET_CODE_MAX);
	snprintf(yaml, sizeof(yaml), "profiles:\n  p:\n    points: [{name: t, "
	    "address: 30001}]\n    alarms:\n      - {code: %.*s, point: t, "
	    "condition: above, threshold: 1}\n", FLEET_CODE_MAX + 1,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789");
	expect_at(yaml, "ABC", "profiles.p.alarms[0].code: alarm codes are "
	    "upper case letters, digits and _ (like MAINS_FAIL), at most 31, "
	    "got \"ABCDEFGHIJKLMNOPQRSTUVWXYZ_01234\"");
}

Test(cfgfleet, inventory_csv, .init = mk_tmp, .fini = rm_tmp)
{
	struct fleet *f;

	write_file("inv.csv", "id,site,profile,host,port,unit,via\n"
	    "# gateway first\n"
	    "g1,S1,fsu,127.0.0.5,1502,1,\n"
	    "d1,S1,rect,,,2,g1\n"
	    "d2,S1,rect,127.0.0.6,,,\n");
	f = load_dir(INVENTORY_CFG);
	cr_assert_not_null(f, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(f->ndevices, 3);
	cr_assert_str_eq(f->devices[1].host, "127.0.0.5");
	cr_assert_eq(f->devices[1].unit, 2);
	cr_assert_eq(f->devices[2].port, 0);
	cr_assert_eq(f->devices[2].unit, -1);
}

Test(cfgfleet, inventory_errors, .init = mk_tmp, .fini = rm_tmp)
{
	char want[256];
	int found = 0;

	write_file("inv.csv", "id,site,profile,host,port,unit,via\n"
	    "g1,S1,fsu,127.0.0.5,1502,1\n"
	    "d1,S9,rect,,,2,g1\n"
	    "d2,S1,rect,127.0.0.6,99999,,\n");
	cr_assert_null(load_dir(INVENTORY_CFG));
	cr_assert_eq(errs.n, 4, "got %zu errors", errs.n);
	snprintf(want, sizeof(want), "%s/inv.csv:2:1: devices[0].inventory: "
	    "inventory row has 6 columns, expected 7", tmpdir);
	for (size_t i = 0; i < errs.n; i++)
		found += strncmp(errs.msg[i], want, strlen(want)) == 0;
	snprintf(want, sizeof(want), "%s/inv.csv:3:4: devices[0].inventory.site: "
	    "device d1 names unknown site \"S9\"", tmpdir);
	for (size_t i = 0; i < errs.n; i++)
		found += strncmp(errs.msg[i], want, strlen(want)) == 0;
	snprintf(want, sizeof(want), "%s/inv.csv:4:22: devices[0].inventory: "
	    "port must be 1-65535", tmpdir);
	for (size_t i = 0; i < errs.n; i++)
		found += strncmp(errs.msg[i], want, strlen(want)) == 0;
	for (size_t i = 0; i < errs.n; i++)
		cr_log_info("%s", errs.msg[i]);
	cr_assert_eq(found, 3);
}

Test(cfgfleet, inventory_unreadable, .init = mk_tmp, .fini = rm_tmp)
{
	cr_assert_null(load_dir(INVENTORY_CFG));
	cr_assert_eq(errs.n, 1);
	/* line 7, column 16: the value of "  - inventory: inv.csv" */
	cr_assert(strstr(errs.msg[0], "c.yaml:7:16: devices[0].inventory: cannot "
	    "read inventory"), "%s", errs.msg[0]);
}

Test(cfgfleet, gateway_chains_rejected)
{
	struct fleet *f = load(
	    "profiles:\n"
	    "  fsu: {gateway: true, points: [{name: door, address: 10001}]}\n"
	    "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n"
	    "  - {id: g2, site: S1, profile: fsu, via: g1}\n"
	    "  - {id: g1, site: S1, profile: fsu, via: g0}\n"
	    "  - {id: g0, site: S1, profile: fsu, host: 127.0.0.1}\n"
	    "  - {id: me, site: S1, profile: fsu, via: me}\n");
	int chain = 0, self = 0;

	cr_assert_null(f);
	for (size_t i = 0; i < errs.n; i++) {
		chain += strstr(errs.msg[i], "t.yaml:6:43: devices[0].via: device g2 "
		    "is reached via g1, which is itself behind a gateway") != NULL;
		self += strstr(errs.msg[i], "t.yaml:9:43: devices[3].via: device me "
		    "is reached via itself") != NULL;
	}
	cr_assert_eq(chain, 1);
	cr_assert_eq(self, 1);
}

Test(cfgfleet, same_address_twice)
{
	expect_error(PROFILE "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n"
	    "  - {id: a, site: S1, profile: rect, host: 127.0.0.1}\n"
	    "  - {id: b, site: S1, profile: rect, host: 127.0.0.1, port: 502, unit: 1}\n"
	    "  - {id: c, site: S1, profile: rect, host: 127.0.0.1, unit: 2}\n",
	    "t.yaml: devices: devices a and b have the same address 127.0.0.1:502 unit 1");
}

/* ------------------------------------------------------------------ */
/* The module's own contract */

Test(cfgfleet, modicon_is_einval)
{
	enum mbmap_table t = MBMAP__TABLES;
	uint16_t a = 7;
	const char *why = NULL;

	cr_assert_eq(cfgfleet_parse_modicon("20001", &t, &a, &why), -EINVAL);
	cr_assert_not_null(why);
	cr_assert_eq(t, MBMAP__TABLES, "a failed parse leaves the results alone");
	cr_assert_eq(a, 7);
	cr_assert_eq(cfgfleet_parse_modicon("30010", &t, &a, &why), 0);
	cr_assert_eq(t, MBMAP_INPUT);
	cr_assert_eq(a, 9);
}

Test(cfgfleet, point_errors)
{
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: a, holding: 0}\n      - {name: a, holding: 1}\n",
	    "a, holding: 1", "profiles.p.points[1].name: duplicate point name "
	    "\"a\"");
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: a, holding: 0, address: 40001}\n",
	    "0, address", "profiles.p.points[0].holding: give either holding: N "
	    "or address");
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: a, coil: 0, holding: 1}\n",
	    "1}", "profiles.p.points[0].holding: give either holding: N or "
	    "address");
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: a, table: input}\n",
	    "{name: a", "profiles.p.points[0]: point \"a\" needs an address "
	    "(address: 40001, or holding: 0)");
	expect_at("profiles:\n  p:\n    points:\n      - {holding: 0}\n",
	    "{holding", "profiles.p.points[0]: a point needs a name");
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: a, input: 0, min: 5, max: 1}\n",
	    "5, max", "profiles.p.points[0].min: min 5 is above max 1");
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: a, input: 0, scale: 0}\n",
	    "0}", "profiles.p.points[0].scale: scale must not be 0");
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: a, input: 0, bit: 3}\n",
	    "3}", "profiles.p.points[0].bit: bit selects one bit of a register "
	    "for a bool point");
	expect_at("profiles:\n  p:\n    points:\n"
	    "      - {name: a, input: x1}\n",
	    "x1", "profiles.p.points[0].input: expected an offset 0-65535 in "
	    "the input table, got \"x1\"");
	expect_at("profiles:\n  p:\n    points: []\n",
	    "[]", "profiles.p.points: profile p has no points");
	expect_at("profiles:\n  p: {}\n",
	    "{}", "profiles.p.points: profile p has no points");
}

Test(cfgfleet, alarm_errors)
{
	expect_at("profiles:\n  p:\n    points: [{name: temp, address: 30001}]\n"
	    "    alarms:\n      - {code: HOT, point: tmp, condition: above, "
	    "threshold: 35}\n",
	    "tmp", "profiles.p.alarms[0].point: profile p has no point \"tmp\" "
	    "(did you mean \"temp\"?)");
	expect_at("profiles:\n  p:\n    points: [{name: temp, address: 30001}]\n"
	    "    alarms:\n      - {code: HOT, point: door, condition: above, "
	    "threshold: 35}\n",
	    "door", "profiles.p.alarms[0].point: profile p has no point "
	    "\"door\"");
	cr_assert_null(strstr(errs.msg[0], "did you mean"), "%s", errs.msg[0]);
	expect_at("profiles:\n  p:\n    points: [{name: t, address: 30001}]\n"
	    "    alarms:\n      - {code: HOT, point: t}\n",
	    "{code", "profiles.p.alarms[0]: an alarm needs code, point and "
	    "condition");
	expect_at("profiles:\n  p:\n    points: [{name: t, address: 30001}]\n"
	    "    alarms:\n      - {code: COLD, point: t, condition: below}\n",
	    "{code", "profiles.p.alarms[0]: condition below needs threshold");
	expect_at("profiles:\n  p:\n    points: [{name: t, address: 30001}]\n"
	    "    alarms:\n      - {code: COLD, point: t, condition: below, "
	    "threshold: 5, clear: 2}\n",
	    "2}", "profiles.p.alarms[0].clear: clear 2 must not be below the "
	    "threshold 5 of a 'below' alarm");
}

Test(cfgfleet, alarms_read_into_the_profile)
{
	struct fleet *f = load(PROFILE
	    "  fsu:\n    points: [{name: flags, holding: 0, type: uint32}]\n"
	    "    alarms:\n"
	    "      - {code: DOOR_OPEN, point: flags, condition: bit_set, bit: 33,"
	    " severity: minor, delay_on: 2s, delay_off: 1m}\n");
	const struct fleet_alarm *al;

	cr_assert_not_null(f, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(f->profiles[0].nalarms, 1);
	al = &f->profiles[0].alarms[0];
	cr_assert_eq(al->clear, al->threshold, "no clear: the threshold");
	cr_assert_eq(al->severity, SEV_MAJOR, "the default severity");
	al = &f->profiles[1].alarms[0];
	cr_assert_str_eq(al->code, "DOOR_OPEN");
	cr_assert_eq(al->cond, AC_BIT_SET);
	cr_assert_eq(al->bit, 33);
	cr_assert_eq(al->severity, SEV_MINOR);
	cr_assert_eq(al->delay_on_ms, 2000);
	cr_assert_eq(al->delay_off_ms, 60000);
	cr_assert_eq(fleet_find_code(f, "DOOR_OPEN"), al->code_id);
}

Test(cfgfleet, site_errors)
{
	expect_at(PROFILE "sites:\n  - {id: S1, area: a}\n",
	    "{id: S1", "sites[0]: a site needs id, area and region");
	expect_at(PROFILE "sites:\n  - {id: S1, area: a, region: A, tenants: "
	    "[{customer: c}, {customer: c, tier: premium}]}\n",
	    "{customer: c, tier", "sites[0].tenants[1]: customer \"c\" is already "
	    "a tenant of site S1");
	expect_at(PROFILE "sites:\n  - {id: S1, area: a, region: A, tenants: "
	    "[{tier: premium}]}\n",
	    "{tier", "sites[0].tenants[0]: a tenant needs customer");
	expect_at(PROFILE "sites: {S1: x}\n",
	    "{S1", "sites: expected a list, got a mapping");
}

Test(cfgfleet, site_fields)
{
	struct fleet *f = load(PROFILE "sites:\n"
	    "  - {id: S1, name: Hill, area: north, region: B, station: st1, "
	    "branch: br1}\n");

	cr_assert_not_null(f, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_str_eq(f->sites[0].name, "Hill");
	cr_assert_str_eq(f->sites[0].station, "st1");
	cr_assert_str_eq(f->sites[0].branch, "br1");
	cr_assert_str_eq(f->areas[f->sites[0].area], "north");
	cr_assert_eq(f->sites[0].ntenants, 0);
}

Test(cfgfleet, device_errors)
{
	expect_at(PROFILE "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n  - {id: d, site: S1}\n",
	    "{id: d", "devices[0]: a device needs id, site and profile");
	expect_at(PROFILE "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n  - {id: d, site: S1, profile: rect}\n",
	    "{id: d", "devices[0]: device d needs host (or via, a gateway "
	    "device it is reached through)");
	expect_at(PROFILE "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n  - {inventory: x.csv, id: d}\n",
	    "d}", "devices[0].inventory: an inventory item takes no other keys");
	expect_at(PROFILE "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n  - {id: d, site: S1, profile: rect, host: h, port: 0}\n",
	    "0}", "devices[0].port: 0 is out of range [1, 65535]");
}

Test(cfgfleet, device_fields)
{
	struct fleet *f = load(PROFILE "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n  - {id: d, site: S1, profile: rect, host: h, port: 1502,"
	    " unit: 0, interval: 30s, timeout: 500ms}\n"
	    "  - {id: e, site: S1, profile: rect, host: h}\n");

	cr_assert_not_null(f, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(f->devices[0].port, 1502);
	cr_assert_eq(f->devices[0].unit, 0, "unit 0 is a unit, not unset");
	cr_assert_eq(f->devices[0].interval_ms, 30000);
	cr_assert_eq(f->devices[0].timeout_ms, 500);
	cr_assert_eq(f->devices[1].port, 0, "unset: the modbus default");
	cr_assert_eq(f->devices[1].unit, -1);
	cr_assert_eq(f->devices[1].interval_ms, 0);
	cr_assert_eq(f->devices[0].site, 0);
	cr_assert_eq(f->devices[0].profile, 0);
	cr_assert_eq(f->devices[0].via, FLEET_NONE);
}

Test(cfgfleet, addresses_use_the_defaults_given)
{
	const char *yaml = PROFILE "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n"
	    "  - {id: a, site: S1, profile: rect, host: h, port: 1502}\n"
	    "  - {id: b, site: S1, profile: rect, host: h, unit: 7}\n";

	/* with the defaults 502 and 1 they differ ... */
	cr_assert_not_null(load(yaml), "%s", errs.n ? errs.msg[0] : "");
	/* ... with 1502 and 7 they are one device */
	cfgfleet_check_addresses(&cx, fleet, 1502, 7);
	cr_assert_eq(errs.n, 1);
	cr_assert_str_eq(errs.msg[0], "t.yaml: devices: devices a and b have "
	    "the same address h:1502 unit 7");
}

Test(cfgfleet, at_most_twenty_address_errors)
{
	char yaml[8192];
	size_t n;

	n = (size_t)snprintf(yaml, sizeof(yaml), "%s", PROFILE
	    "sites:\n  - {id: S1, area: a, region: A}\ndevices:\n");
	for (int i = 0; i < 30; i++)
		n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "  - {id: d%d, "
		    "site: S1, profile: rect, host: h}\n", i);
	cr_assert_null(load(yaml));
	cr_assert_eq(errs.n, 20);
}

Test(cfgfleet, read_code)
{
	cr_assert_not_null(load(PROFILE "code: MAINS_FAIL\n"), "%s",
	    errs.n ? errs.msg[0] : "");
	cr_assert_eq(code_r, 0);
	cr_assert_str_eq(code, "MAINS_FAIL");
	cr_assert_not_null(load("code: COMM_LOSS\n"), "COMM_LOSS needs no profile");
	cr_assert_str_eq(code, "COMM_LOSS");
	/* the form is checked at once, the profiles once all are read */
	expect_at(PROFILE "code: BATT_LOW\n",
	    "BATT_LOW", "code: alarm code BATT_LOW is raised by no profile");
	cr_assert_eq(code_r, 0);
	cr_assert_str_eq(code, "BATT_LOW");
	expect_at("code: batt\n", "batt", "code: alarm codes are upper case "
	    "letters, digits and _ (like MAINS_FAIL), at most 11, got \"batt\"");
	cr_assert_eq(code_r, -EINVAL);
	cr_assert_str_eq(code, "BATT_LOW", "a bad code leaves dst alone");
	expect_at("code: ABCDEFGHIJKL\n", "ABC", "code: alarm codes are upper "
	    "case letters, digits and _ (like MAINS_FAIL), at most 11");
	cr_assert_eq(code_r, -EINVAL);
	expect_at("code: [A]\n", "[A]", "code: expected a value, got a list");
	cr_assert_eq(code_r, -EINVAL);
}

Test(cfgfleet, codes_wait_for_every_profile)
{
	const char *yaml = "code: LATE\nprofiles:\n  p:\n    points: [{name: "
	    "t, input: 0}]\n    alarms: [{code: LATE, point: t, condition: "
	    "above, threshold: 1}]\n";
	yaml_node_t *root, *at[TK__N];

	reset();
	cfgkey_init(&cx, "t.yaml", &errs);
	cx_live = 1;
	fleet = fleet_new();
	map = mbmap_new();
	cr_assert_eq(cfgkey_parse(&cx, yaml, strlen(yaml), &root), 0);
	cr_assert_eq(cfgkey_map(&cx, root, top_keys, NULL, "", at), 0);
	/* the code first, the profile that raises it after */
	cr_assert_eq(cfgfleet_read_code(&cx, at[TK_CODE], "code", code,
	    sizeof(code)), 0);
	cfgfleet_read(&cx, fleet, map, at[TK_PROFILES], NULL, NULL);
	cfgfleet_resolve(&cx, fleet);
	cr_assert_eq(errs.n, 0, "%s", errs.n ? errs.msg[0] : "");
}

Test(cfgfleet, gateways_across_inline_and_inventory, .init = mk_tmp,
    .fini = rm_tmp)
{
	struct fleet *f;

	/* a CSV device behind an inline gateway defined after the inventory,
	 * an inline device behind a CSV gateway */
	write_file("inv.csv", "id,site,profile,host,port,unit,via\n"
	    "d1,S1,rect,,,2,g2\n"
	    "g1,S1,fsu,127.0.0.5,1502,,\n");
	f = load_dir("profiles:\n"
	    "  fsu: {gateway: true, points: [{name: door, address: 10001}]}\n"
	    "  rect: {points: [{name: v, address: 30001}]}\n"
	    "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n  - inventory: inv.csv\n"
	    "  - {id: d2, site: S1, profile: rect, via: g1, unit: 3}\n"
	    "  - {id: g2, site: S1, profile: fsu, host: 127.0.0.9}\n");
	cr_assert_not_null(f, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(f->ndevices, 4);
	cr_assert_eq(f->devices[0].via, 3);
	cr_assert_str_eq(f->devices[0].host, "127.0.0.9");
	cr_assert_eq(f->devices[0].port, 0, "the gateway's unset port");
	cr_assert_eq(f->devices[2].via, 1);
	cr_assert_str_eq(f->devices[2].host, "127.0.0.5");
	cr_assert_eq(f->devices[2].port, 1502);
	cr_assert_eq(f->devices[2].unit, 3);
}

Test(cfgfleet, deferred_gateway_errors_name_the_csv_cell, .init = mk_tmp,
    .fini = rm_tmp)
{
	char want[256];

	write_file("inv.csv", "id,site,profile,host,port,unit,via\n"
	    "d1,S1,rect,,,2,nope\n");
	cr_assert_null(load_dir(INVENTORY_CFG));
	cr_assert_eq(errs.n, 1);
	snprintf(want, sizeof(want), "%s/inv.csv:2:16: devices[0].inventory.via: "
	    "device d1 is reached via unknown device \"nope\"", tmpdir);
	cr_assert_str_eq(errs.msg[0], want);
}

Test(cfgfleet, inventory_paths, .init = mk_tmp, .fini = rm_tmp)
{
	char yaml[512];

	write_file("inv.csv", "id,site,profile,host,port,unit,via\n"
	    "d1,S1,rect,h,,,\n");
	/* an absolute path is taken as it is, whatever the YAML's directory */
	snprintf(yaml, sizeof(yaml), "%s", INVENTORY_CFG);
	snprintf(strstr(yaml, "inv.csv"), 128, "%s/inv.csv\n", tmpdir);
	cr_assert_not_null(load_named("elsewhere/t.yaml", yaml), "%s",
	    errs.n ? errs.msg[0] : "");
	cr_assert_eq(fleet->ndevices, 1);
	/* a relative one is relative to the YAML's directory */
	cr_assert_null(load_named("elsewhere/t.yaml", INVENTORY_CFG));
	cr_assert_eq(errs.n, 1);
	cr_assert_str_eq(errs.msg[0], "elsewhere/t.yaml:7:16: "
	    "devices[0].inventory: cannot read inventory elsewhere/inv.csv: "
	    "No such file or directory");
}

Test(cfgfleet, inventory_that_is_a_directory, .init = mk_tmp, .fini = rm_tmp)
{
	char sub[128], want[512];

	snprintf(sub, sizeof(sub), "%s/inv.csv", tmpdir);
	cr_assert_eq(mkdir(sub, 0700), 0);
	cr_assert_null(load_dir(INVENTORY_CFG));
	cr_assert_eq(errs.n, 1);
	snprintf(want, sizeof(want), "%s/c.yaml:7:16: devices[0].inventory: "
	    "reading inventory %s: Is a directory", tmpdir, sub);
	cr_assert_str_eq(errs.msg[0], want);
}

/* ------------------------------------------------------------------ */
/* commands (docs/commands.md) */

#define CMD_PROFILE(cmds) \
	"profiles:\n" \
	"  dg:\n" \
	"    points:\n" \
	"      - {name: running, address: 10001}\n" \
	"    commands:\n" cmds

Test(cfgfleet, commands_in_every_form)
{
	const struct mbmap_command *c;
	const struct mbmap_profile *mp;

	cr_assert_not_null(load(CMD_PROFILE(
	    "      - {name: dg_start, function: 5, address: 00003, value: 1,\n"
	    "         readback: {address: 10001, value: 1, delay: 2s, "
	    "timeout: 10s}}\n"
	    "      - {name: dg_stop, function: 5, coil: 2, value: 0}\n"
	    "      - {name: rect-reset, function: 6, holding: 99, value: 42,\n"
	    "         readback: {holding: 99, value: 0}}\n"
	    "      - {name: setpoints, function: 16, address: 40011, "
	    "values: [470, 350, 65535]}\n"
	    "      - {name: one_reg, function: 16, table: holding, address: 7, "
	    "value: 9}\n")), "%s", errs.n ? errs.msg[0] : "");
	mp = &map->profiles[0];
	cr_assert_eq(mp->ncommands, 5);
	cr_assert_eq(mbmap_find_command(mp, "setpoints"), 3);
	cr_assert_eq(mbmap_find_command(mp, "nope"), -1);
	cr_assert_eq(mbmap_ncommands(map), 5);

	c = &mp->commands[0];
	cr_expect_str_eq(c->name, "dg_start");
	cr_expect_eq(c->fc, 5);
	cr_expect_eq(c->address, 2);
	cr_expect_eq(c->count, 1);
	cr_expect_eq(c->values[0], 1);
	cr_expect_eq(c->rb_table, MBMAP_DISCRETE);
	cr_expect_eq(c->rb_address, 0);
	cr_expect_eq(c->rb_value, 1);
	cr_expect_eq(c->rb_delay_ms, 2000);
	cr_expect_eq(c->rb_timeout_ms, 10000);

	c = &mp->commands[1];
	cr_expect_eq(c->address, 2);
	cr_expect_eq(c->values[0], 0);
	cr_expect_eq(c->rb_table, MBMAP_RB_NONE, "no read-back");

	c = &mp->commands[2];
	cr_expect_eq(c->fc, 6);
	cr_expect_eq(c->address, 99);
	cr_expect_eq(c->values[0], 42);
	cr_expect_eq(c->rb_table, MBMAP_HOLDING);
	cr_expect_eq(c->rb_delay_ms, 1000, "delay defaults to 1s");
	cr_expect_eq(c->rb_timeout_ms, 1000, "timeout defaults to delay");

	c = &mp->commands[3];
	cr_expect_eq(c->fc, 16);
	cr_expect_eq(c->address, 10);
	cr_expect_eq(c->count, 3);
	cr_expect_eq(c->values[0], 470);
	cr_expect_eq(c->values[2], 65535);

	c = &mp->commands[4];
	cr_expect_eq(c->count, 1);
	cr_expect_eq(c->values[0], 9);
	cr_expect_eq(c->address, 7);
}

Test(cfgfleet, command_errors_name_the_key)
{
	expect_at(CMD_PROFILE(
	    "      - {name: a, function: 3, address: 40001, value: 1}\n"),
	    "3", "profiles.dg.commands[0].function: unknown function code 3: "
	    "a command writes with 5 (a coil), 6 (a register) or 16 "
	    "(registers)");
	expect_at(CMD_PROFILE(
	    "      - {name: a, function: 6, address: 40001, value: 1}\n"
	    "      - {name: a, function: 6, address: 40002, value: 1}\n"),
	    "a, function: 6, address: 40002", "profiles.dg.commands[1].name: "
	    "duplicate command name \"a\" in profile dg");
	expect_at(CMD_PROFILE(
	    "      - {name: a, function: 5, address: 40001, value: 1}\n"),
	    "40001", "profiles.dg.commands[0].address: function 5 writes a "
	    "coil, not a holding register (address out of range for the "
	    "function)");
	expect_at(CMD_PROFILE(
	    "      - {name: a, function: 6, holding: 70000, value: 1}\n"),
	    "70000", "profiles.dg.commands[0].holding: expected an offset "
	    "0-65535 in the holding table");
	expect_at(CMD_PROFILE(
	    "      - {name: a, function: 6, address: 470000, value: 1}\n"),
	    "470000", "profiles.dg.commands[0].address: six-digit Modicon "
	    "address out of range");
	expect_at(CMD_PROFILE(
	    "      - {name: a, function: 5, coil: 0, value: 2}\n"),
	    "2", "profiles.dg.commands[0].value: value 2 is out of range for "
	    "a bit: 0 or 1");
	expect_at(CMD_PROFILE(
	    "      - {name: a, function: 6, holding: 0, value: 65536}\n"),
	    "65536", "profiles.dg.commands[0].value: value 65536 is out of "
	    "range for a register");
	expect_at(CMD_PROFILE(
	    "      - {name: a, function: 6, holding: 0, value: -1}\n"),
	    "-1", "profiles.dg.commands[0].value: value -1 is out of range");
	expect_at(CMD_PROFILE(
	    "      - {name: a, function: 16, holding: 0, values: [1, 70000]}\n"),
	    "70000", "profiles.dg.commands[0].values[1]: value 70000 is out "
	    "of range for a register");
	expect_at(CMD_PROFILE(
	    "      - {name: a, function: 16, holding: 65535, values: [1, 2]}\n"),
	    "65535", "profiles.dg.commands[0].holding: 2 registers from "
	    "holding address 65535 run past the end");
	expect_at(CMD_PROFILE(
	    "      - {name: a, function: 6, holding: 0, values: [1]}\n"),
	    "[1]", "profiles.dg.commands[0].values: values (a list) is for "
	    "function 16 only");
	expect_at(CMD_PROFILE(
	    "      - {name: a, function: 6, holding: 0}\n"),
	    "{name", "profiles.dg.commands[0]: command a needs the value");
	expect_at(CMD_PROFILE(
	    "      - {name: a, holding: 0, value: 1}\n"),
	    "{name", "profiles.dg.commands[0]: command a needs a function");
	expect_at(CMD_PROFILE(
	    "      - {name: \"a b\", function: 6, holding: 0, value: 1}\n"),
	    "\"a b\"", "profiles.dg.commands[0].name: a command name is 1-63");
	expect_at(CMD_PROFILE(
	    "      - {name: a, function: 6, holding: 0, value: 1, "
	    "readback: {coil: 0, value: 2}}\n"),
	    "2}", "profiles.dg.commands[0].readback.value: value 2 is out of "
	    "range for a bit");
	expect_at(CMD_PROFILE(
	    "      - {name: a, function: 6, holding: 0, value: 1, "
	    "readback: {coil: 0, value: 1, delay: 5s, timeout: 1s}}\n"),
	    "1s}", "profiles.dg.commands[0].readback.timeout: timeout must "
	    "not be shorter than delay");
	expect_at(CMD_PROFILE(
	    "      - {name: a, function: 6, holding: 0, value: 1, "
	    "readback: {value: 1}}\n"),
	    "{value", "profiles.dg.commands[0].readback: a read-back needs an "
	    "address");
	expect_at(CMD_PROFILE(
	    "      - {name: a, function: 6, holding: 0, value: 1, bogus: 1}\n"),
	    "bogus", "profiles.dg.commands[0].bogus: unknown key");
}
