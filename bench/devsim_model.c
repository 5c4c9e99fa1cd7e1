/*
 * devsim_model.c - see devsim_model.h.
 *
 * The tower profile is one static table (tower_points[]) whose order is the
 * order of the values computed by tower_values(); the fleet profile is built
 * from it, so the served map and the profile a poller reads always agree.
 *
 * Memory: per device 2 x 32 words + 8 bytes of bits + 8 bytes of evaluation
 * time + 12 bytes of faults + 4 bytes of counter, about 100 bytes, plus the
 * fleet's own ~60 bytes: 100,000 devices stay under 20 MB.
 *
 * Evaluation is lazy: a device's registers are recomputed when a request
 * finds them older than the server's max age (100 ms), so an idle fleet costs
 * nothing and a polled one costs one evaluation per poll at most.  Physics:
 *   - mains lost: battery jumps to its knee (51.5 V, or lower if it already
 *     was) and falls linearly to 44 V over batt_runtime_s (default 3 h, so
 *     BATT_LOW at 47 V comes after 108 min); current -45 A until empty.
 *   - mains back: battery recharges linearly to 53.5 V over 30 min at +25 A,
 *     then floats at +2 A.
 *   - no cooling (no power or air-con fault): room warms 0.5 degC/min up to
 *     55 degC; cooling back: cools 0.25 degC/min down to 25 degC.
 * time_scale multiplies physics time so a 3 h discharge fits in a bench run.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "bench/devsim_model.h"
#include "bench/pb_stats.h"
#include "daemon/log.h"
#include "daemon/mem.h"

#define BATT_KNEE_V	51.5
#define BATT_EMPTY_V	44.0
#define BATT_CHARGE_A	25.0
#define RECHARGE_S	1800.0
#define TEMP_RISE_C_S	(0.5 / 60)
#define TEMP_FALL_C_S	(0.25 / 60)
#define TEMP_MAX_C	55.0
#define ENERGY_W	2160.0		/* 40 A x 54 V */

enum tower_pt {
	TP_MAINS_V, TP_MAINS_HZ, TP_BATT_V, TP_BATT_A, TP_ROOM_C,
	TP_RECT_STATUS, TP_DG_STATUS, TP_AC_STATUS, TP_LOAD_A, TP_ENERGY,
	TP_UPTIME, TP_SOC, TP_ENV_DOOR, TP_ENV_SMOKE, TP_ENV_WATER,
	TP_BATT_LOW_SET, TP_HIGH_TEMP_SET, TP_SITE_CODE, TP_UNIT, TP_SERIAL,
	TP_DOOR, TP_SMOKE, TP_WATER, TP_MAINS_FAIL, TP_DG_RUNNING,
	TP_DG_CMD, TP_SIREN, TP__COUNT
};

struct tower_point {
	const char	*name;		/* point name in the profile */
	const char	*unit;		/* engineering unit or NULL */
	uint8_t		 table;		/* enum mbmap_table */
	uint16_t	 address;	/* 0-based in its table */
	uint8_t		 type;		/* enum mbmap_type */
	uint8_t		 order;		/* enum mbmap_order */
	double		 scale;		/* value = raw * scale */
	int8_t		 bit;		/* bool in a register: bit; else -1 */
	double		 min, max;	/* valid range */
};

/*
 * The register map.  Types and word orders vary on purpose so that a client
 * decoding this profile exercises all of them.
 */
static const struct tower_point tower_points[TP__COUNT] = {
	[TP_MAINS_V] = { "mains_voltage", "V", MBMAP_INPUT, 0, MBMAP_UINT16, MBMAP_ABCD, 0.1, -1, 0, 300 },
	[TP_MAINS_HZ] = { "mains_frequency", "Hz", MBMAP_INPUT, 1, MBMAP_UINT16, MBMAP_ABCD, 0.01, -1, 0, 70 },
	[TP_BATT_V] = { "battery_voltage", "V", MBMAP_INPUT, 2, MBMAP_FLOAT32, MBMAP_ABCD, 1, -1, 0, 60 },
	[TP_BATT_A] = { "battery_current", "A", MBMAP_INPUT, 4, MBMAP_FLOAT32, MBMAP_CDAB, 1, -1, -500, 500 },
	[TP_ROOM_C] = { "room_temperature", "degC", MBMAP_INPUT, 6, MBMAP_INT16, MBMAP_ABCD, 0.1, -1, -40, 80 },
	[TP_RECT_STATUS] = { "rectifier_status", NULL, MBMAP_INPUT, 7, MBMAP_UINT16, MBMAP_ABCD, 1, -1, 0, 65535 },
	[TP_DG_STATUS] = { "generator_status", NULL, MBMAP_INPUT, 8, MBMAP_UINT16, MBMAP_ABCD, 1, -1, 0, 65535 },
	[TP_AC_STATUS] = { "aircon_status", NULL, MBMAP_INPUT, 9, MBMAP_UINT16, MBMAP_ABCD, 1, -1, 0, 65535 },
	[TP_LOAD_A] = { "load_current", "A", MBMAP_INPUT, 10, MBMAP_INT32, MBMAP_BADC, 0.01, -1, 0, 1000 },
	[TP_ENERGY] = { "energy", "Wh", MBMAP_INPUT, 12, MBMAP_UINT32, MBMAP_CDAB, 1, -1, 0, 4294967295.0 },
	[TP_UPTIME] = { "uptime", "ms", MBMAP_INPUT, 14, MBMAP_UINT64, MBMAP_ABCD, 1, -1, 0, 1e18 },
	[TP_SOC] = { "battery_soc", "%", MBMAP_INPUT, 18, MBMAP_FLOAT64, MBMAP_DCBA, 1, -1, 0, 100 },
	[TP_ENV_DOOR] = { "env_door", NULL, MBMAP_INPUT, 22, MBMAP_BOOL, MBMAP_ABCD, 1, 0, 0, 1 },
	[TP_ENV_SMOKE] = { "env_smoke", NULL, MBMAP_INPUT, 22, MBMAP_BOOL, MBMAP_ABCD, 1, 1, 0, 1 },
	[TP_ENV_WATER] = { "env_water", NULL, MBMAP_INPUT, 22, MBMAP_BOOL, MBMAP_ABCD, 1, 2, 0, 1 },
	[TP_BATT_LOW_SET] = { "batt_low_setpoint", "V", MBMAP_HOLDING, 0, MBMAP_UINT16, MBMAP_ABCD, 0.1, -1, 0, 60 },
	[TP_HIGH_TEMP_SET] = { "high_temp_setpoint", "degC", MBMAP_HOLDING, 1, MBMAP_INT16, MBMAP_ABCD, 0.1, -1, -40, 80 },
	[TP_SITE_CODE] = { "site_code", NULL, MBMAP_HOLDING, 2, MBMAP_UINT32, MBMAP_ABCD, 1, -1, 0, 4294967295.0 },
	[TP_UNIT] = { "unit_id", NULL, MBMAP_HOLDING, 4, MBMAP_UINT16, MBMAP_ABCD, 1, -1, 0, 255 },
	[TP_SERIAL] = { "serial", NULL, MBMAP_HOLDING, 5, MBMAP_INT64, MBMAP_DCBA, 1, -1, 0, 1e18 },
	[TP_DOOR] = { "door_open", NULL, MBMAP_DISCRETE, 0, MBMAP_BOOL, MBMAP_ABCD, 1, -1, 0, 1 },
	[TP_SMOKE] = { "smoke", NULL, MBMAP_DISCRETE, 1, MBMAP_BOOL, MBMAP_ABCD, 1, -1, 0, 1 },
	[TP_WATER] = { "water_leak", NULL, MBMAP_DISCRETE, 2, MBMAP_BOOL, MBMAP_ABCD, 1, -1, 0, 1 },
	[TP_MAINS_FAIL] = { "mains_fail_contact", NULL, MBMAP_DISCRETE, 3, MBMAP_BOOL, MBMAP_ABCD, 1, -1, 0, 1 },
	[TP_DG_RUNNING] = { "generator_running", NULL, MBMAP_DISCRETE, 4, MBMAP_BOOL, MBMAP_ABCD, 1, -1, 0, 1 },
	[TP_DG_CMD] = { "generator_start_cmd", NULL, MBMAP_COIL, 0, MBMAP_BOOL, MBMAP_ABCD, 1, -1, 0, 1 },
	[TP_SIREN] = { "siren", NULL, MBMAP_COIL, 1, MBMAP_BOOL, MBMAP_ABCD, 1, -1, 0, 1 },
};

/*
 * Poll classes, as an operator would set them: setpoints and nameplate (the
 * holding registers) change only when someone reconfigures the unit, so an
 * hourly-ish read is plenty (60 s here, to see changes within a minute);
 * the output coils move only on command: every 10 s.  Measurements, status
 * words and alarm contacts are read on every poll.
 */
static uint32_t
tower_interval_ms(unsigned table)
{
	switch (table) {
	case MBMAP_HOLDING:
		return 60000;
	case MBMAP_COIL:
		return 10000;
	default:
		return 0;
	}
}

/* Status words: bit meanings (docs/devsim.md). */
#define RECT_OUTPUT_ON	0x0001
#define RECT_FAULT	0x0002
#define DG_RUNNING	0x0001
#define DG_FAIL_START	0x0002
#define AC_RUNNING	0x0001
#define AC_NOT_COOLING	0x0002

struct tower_alarm {
	const char	*code;		/* DOMAIN.md section 5 */
	enum tower_pt	 point;		/* the point it watches */
	uint8_t		 cond;		/* enum alarm_cond */
	uint8_t		 severity;	/* enum severity */
	uint8_t		 bit;		/* AC_BIT_SET: which bit */
	double		 threshold, clear; /* raise at, clear at (hysteresis) */
	uint32_t	 delay_on_ms;	/* debounce; delay-off is the same */
};

/* DOMAIN.md section 5, thresholds as etc/ will ship them. */
static const struct tower_alarm tower_alarms[] = {
	{ "MAINS_FAIL", TP_MAINS_V, AC_BELOW, SEV_MAJOR, 0, 180, 200, 3000 },
	{ "RECT_FAIL", TP_RECT_STATUS, AC_BIT_SET, SEV_MAJOR, 1, 1, 1, 0 },
	{ "BATT_DISCHARGE", TP_BATT_A, AC_BELOW, SEV_MINOR, 0, -2, -1, 5000 },
	{ "BATT_LOW", TP_BATT_V, AC_BELOW, SEV_CRITICAL, 0, 47, 49, 10000 },
	{ "DG_FAIL", TP_DG_STATUS, AC_BIT_SET, SEV_MAJOR, 1, 1, 1, 0 },
	{ "HIGH_TEMP", TP_ROOM_C, AC_ABOVE, SEV_MAJOR, 0, 35, 32, 60000 },
	{ "AC_FAIL", TP_AC_STATUS, AC_BIT_SET, SEV_MAJOR, 1, 1, 1, 10000 },
	{ "DOOR_OPEN", TP_DOOR, AC_EQUALS, SEV_MINOR, 0, 1, 1, 0 },
	{ "SMOKE", TP_SMOKE, AC_EQUALS, SEV_CRITICAL, 0, 1, 1, 0 },
	{ "WATER_LEAK", TP_WATER, AC_EQUALS, SEV_MAJOR, 0, 1, 1, 0 },
};

#define NALARMS (sizeof(tower_alarms) / sizeof(tower_alarms[0]))

int
devsim_cfg_option(struct devsim_cfg *cfg, const char *prog, int ch,
    const char *arg)
{
	switch (ch) {
	case 'n':
		cfg->ndevices = (size_t)pb_num_arg(prog, "devices", arg, 1, 1e6);
		return 0;
	case 'k':
		cfg->units = (unsigned)pb_num_arg(prog, "units-per-gateway", arg,
		    1, 247);
		return 0;
	case 'a':
		if (inet_pton(AF_INET, arg, &cfg->base) != 1 ||
		    (ntohl(cfg->base.s_addr) >> 24) != 127)
			fatalx("%s bad option=base-addr value=\"%s\" "
			    "want=127.x.y.z", prog, arg);
		return 0;
	case 'p':
		cfg->port = (uint16_t)pb_num_arg(prog, "port", arg, 1, 65535);
		return 0;
	case 'm':
		cfg->ports_per_addr = (unsigned)pb_num_arg(prog, "ports-per-addr",
		    arg, 1, 65535);
		return 0;
	default:
		return -1;
	}
}

void
devsim_cfg_default(struct devsim_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ndevices = 10;
	cfg->units = 1;
	cfg->base.s_addr = htonl(0x7f010001);	/* 127.1.0.1 */
	cfg->port = 1502;
	cfg->ports_per_addr = 1;
	cfg->noise = 1;
	cfg->drift = 1;
	cfg->drift_period_s = 600;
	cfg->time_scale = 1;
	cfg->batt_runtime_s = 10800;
	cfg->seed = 1;
}

int
devsim_endpoint(const struct devsim_cfg *cfg, size_t g, struct in_addr *addr,
    uint16_t *port)
{
	uint32_t b = ntohl(cfg->base.s_addr);
	uint64_t lin, a;
	unsigned o = b & 0xff;

	if (o == 0 || o == 255 || (b >> 24) != 127 || cfg->ports_per_addr == 0)
		return -ERANGE;
	/* Linear index over usable host octets 1..254 of each /24. */
	lin = (uint64_t)(b >> 8) * 254 + (o - 1) + g / cfg->ports_per_addr;
	a = ((lin / 254) << 8) | (lin % 254 + 1);
	if ((a >> 24) != 127)
		return -ERANGE;
	if ((uint32_t)cfg->port + g % cfg->ports_per_addr > 65535)
		return -ERANGE;
	addr->s_addr = htonl((uint32_t)a);
	*port = (uint16_t)(cfg->port + g % cfg->ports_per_addr);
	return 0;
}

size_t
devsim_gateway_first(const struct devsim_model *m, size_t g)
{
	return g * m->cfg.units;
}

uint32_t
devsim_unit_device(const struct devsim_model *m, size_t g, unsigned unit)
{
	size_t d;

	if (m->cfgmode)
		return g < m->ngateways && unit < 256 ?
		    m->eps[g].unit_dev[unit] : FLEET_NONE;
	if (m->cfg.units == 1)
		return (uint32_t)g;
	if (unit < 1 || unit > m->cfg.units)
		return FLEET_NONE;
	d = g * m->cfg.units + unit - 1;
	return d < m->cfg.ndevices ? (uint32_t)d : FLEET_NONE;
}

static uint64_t
model_rand(struct devsim_model *m)
{
	/* xorshift64*: fast, and good enough for measurement noise. */
	m->rng ^= m->rng >> 12;
	m->rng ^= m->rng << 25;
	m->rng ^= m->rng >> 27;
	return m->rng * 2685821657736338717ULL;
}

/* Roughly normal, mean 0, sd ~0.5 (sum of two uniforms in [-0.5, 0.5)). */
static double
model_noise(struct devsim_model *m)
{
	double a = (double)(model_rand(m) >> 11) / 9007199254740992.0;
	double b = (double)(model_rand(m) >> 11) / 9007199254740992.0;

	return a + b - 1.0;
}

/* A fixed per-device number in [-1, 1): devices differ, runs repeat. */
static double
model_offset(const struct devsim_model *m, uint32_t d, unsigned salt)
{
	uint64_t h = (m->cfg.seed + 0x9e3779b97f4a7c15ULL * (d + 1)) ^
	    (0xbf58476d1ce4e5b9ULL * (salt + 1));

	h ^= h >> 31;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 29;
	return (double)(h >> 11) / 4503599627370496.0 - 1.0;
}

static void
model_profile(struct devsim_model *m)
{
	struct fleet *f = m->fleet;
	struct fleet_profile *p;
	struct mbmap_profile *mp;
	uint32_t pi = fleet_add(f, FLEET_PROFILE, "tower");

	m->profile = pi;
	p = &f->profiles[pi];
	mp = mbmap_profile(m->map, pi);
	p->description = xstrdup("tower-site power and environment unit "
	    "(devsim built-in)");
	p->npoints = TP__COUNT;
	p->points = xcalloc(TP__COUNT, sizeof(*p->points));
	for (size_t i = 0; i < TP__COUNT; i++) {
		const struct tower_point *t = &tower_points[i];
		struct mbmap_point *q = mbmap_add_point(mp);
		unsigned end;

		p->points[i].name = xstrdup(t->name);
		p->points[i].unit = t->unit != NULL ? xstrdup(t->unit) : NULL;
		q->scale = t->scale;
		q->offset = 0;
		q->min = t->min;
		q->max = t->max;
		q->address = t->address;
		q->table = t->table;
		q->type = t->type;
		q->order = t->order;
		q->bit = t->bit;
		q->interval_ms = tower_interval_ms(t->table);
		end = t->address + mbmap_point_width(q);
		if (end > m->nregs[t->table])
			m->nregs[t->table] = end;
	}
	p->nalarms = NALARMS;
	p->alarms = xcalloc(NALARMS, sizeof(*p->alarms));
	for (size_t i = 0; i < NALARMS; i++) {
		const struct tower_alarm *t = &tower_alarms[i];
		struct fleet_alarm *a = &p->alarms[i];

		a->code = xstrdup(t->code);
		a->code_id = fleet_code(f, t->code);
		a->point = t->point;
		a->cond = t->cond;
		a->severity = t->severity;
		a->bit = t->bit;
		a->threshold = t->threshold;
		a->clear = t->clear;
		a->delay_on_ms = t->delay_on_ms;
		a->delay_off_ms = t->delay_on_ms;
	}
}

static int
model_fleet(struct devsim_model *m)
{
	struct fleet *f = m->fleet;
	char id[32], host[INET_ADDRSTRLEN];

	for (size_t g = 0; g < m->ngateways; g++) {
		struct fleet_site *s;
		struct in_addr a;
		uint16_t port;
		uint32_t si;

		if (devsim_endpoint(&m->cfg, g, &a, &port) != 0)
			return -ERANGE;
		inet_ntop(AF_INET, &a, host, sizeof(host));
		snprintf(id, sizeof(id), "S%05zu", g);
		si = fleet_add(f, FLEET_SITE, id);
		s = &f->sites[si];
		snprintf(id, sizeof(id), "AREA%03zu", g / 100);
		s->area = fleet_area(f, id);
		s->region = (uint8_t)(g % 10 < 6 ? REGION_A : g % 10 < 9 ?
		    REGION_B : REGION_C);
		snprintf(id, sizeof(id), "ST%04zu", g / 20);
		s->station = xstrdup(id);
		snprintf(id, sizeof(id), "BR%03zu", g / 200);
		s->branch = xstrdup(id);
		fleet_site_add_tenant(s, "CMCC", TIER_STANDARD);
		fleet_site_add_tenant(s, "CUCC", g % 10 == 3 ? TIER_PREMIUM :
		    TIER_STANDARD);
		for (unsigned u = 1; u <= m->cfg.units; u++) {
			size_t di = g * m->cfg.units + u - 1;
			struct fleet_device *d;
			uint32_t dv;

			if (di >= m->cfg.ndevices)
				break;
			snprintf(id, sizeof(id), "D%06zu", di);
			dv = fleet_add(f, FLEET_DEVICE, id);
			d = &f->devices[dv];
			d->host = xstrdup(host);
			d->port = port;
			d->unit = (int16_t)u;
			d->site = si;
			d->profile = m->profile;
			d->via = u > 1 ? (uint32_t)(g * m->cfg.units) :
			    FLEET_NONE;
		}
	}
	return 0;
}

/* The physics knobs of cfg are in range (both constructors check them). */
static int
cfg_physics_ok(const struct devsim_cfg *cfg)
{
	return cfg->time_scale > 0 && cfg->batt_runtime_s > 0 &&
	    cfg->drift_period_s > 0 && !(cfg->noise < 0) && !(cfg->drift < 0);
}

/*
 * What both constructors do once the layout is known: nw register words and
 * nb bits over all m->cfg.ndevices devices, per-device state, nsites sites
 * with the mains on, the battery floating and the room at its nominal
 * temperature, and every device evaluated once at now.
 */
static void
model_start(struct devsim_model *m, size_t nw, size_t nb, size_t nsites,
    int64_t now)
{
	size_t n = m->cfg.ndevices;

	m->regs = xcalloc(nw ? nw : 1, sizeof(*m->regs));
	m->bits = xcalloc(nb ? nb : 1, sizeof(*m->bits));
	m->evaluated = xcalloc(n, sizeof(*m->evaluated));
	m->faults = xcalloc(n, sizeof(*m->faults));
	m->requests = xcalloc(n, sizeof(*m->requests));
	m->writes = xcalloc(n, sizeof(*m->writes));
	m->has_written = xcalloc(n, 1);
	m->nsites = nsites;
	m->sites = xcalloc(nsites ? nsites : 1, sizeof(*m->sites));
	m->start = now;
	m->rng = m->cfg.seed * 0x9e3779b97f4a7c15ULL | 1;
	for (size_t g = 0; g < nsites; g++) {
		m->sites[g].mains_ok = 1;
		m->sites[g].batt_t0 = now;
		m->sites[g].batt_v0 = DEVSIM_BATT_FLOAT_V;
		m->sites[g].temp_t0 = now;
		m->sites[g].temp_v0 = DEVSIM_ROOM_C;
	}
	for (size_t d = 0; d < n; d++)
		devsim_model_eval(m, (uint32_t)d, now, 0);
}

int
devsim_model_init(struct devsim_model *m, const struct devsim_cfg *cfg,
    int64_t now)
{
	size_t nw, nb;
	int rc;

	if (cfg->ndevices == 0 || cfg->ndevices > 1000000 || cfg->units == 0 ||
	    cfg->units > 247 || cfg->ports_per_addr == 0 ||
	    !cfg_physics_ok(cfg))
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	m->cfg = *cfg;
	m->ngateways = (cfg->ndevices + cfg->units - 1) / cfg->units;
	m->fleet = fleet_new();
	m->map = mbmap_new();
	model_profile(m);
	if ((rc = model_fleet(m)) != 0) {
		fleet_free(m->fleet);
		mbmap_free(m->map);
		memset(m, 0, sizeof(*m));
		return rc;
	}
	nw = m->nregs[MBMAP_INPUT] + m->nregs[MBMAP_HOLDING];
	nb = m->nregs[MBMAP_COIL] + m->nregs[MBMAP_DISCRETE];
	model_start(m, cfg->ndevices * nw, cfg->ndevices * nb, m->ngateways,
	    now);
	return 0;
}

void
devsim_model_fini(struct devsim_model *m)
{
	if (!m->cfgmode) {
		fleet_free(m->fleet);
		mbmap_free(m->map);
	}
	xfree(m->eps);
	xfree(m->dev_ep);
	xfree(m->woff);
	xfree(m->boff);
	xfree(m->pnregs);
	xfree(m->regs);
	xfree(m->bits);
	xfree(m->evaluated);
	xfree(m->faults);
	xfree(m->requests);
	xfree(m->writes);
	xfree(m->has_written);
	xfree(m->written);
	xfree(m->sites);
	memset(m, 0, sizeof(*m));
}

/*
 * Where table t of device d starts in its image (regs[] for the pair
 * MBMAP_INPUT, MBMAP_HOLDING; bits[] for MBMAP_COIL, MBMAP_DISCRETE): device d's slice
 * holds table lo, then table hi.  off is the config mode's per-device
 * start (woff or boff); the command-line model gives every device the
 * same slice.
 */
static size_t
image_index(const struct devsim_model *m, uint32_t d, const size_t *off,
    enum mbmap_table lo, enum mbmap_table hi, enum mbmap_table t)
{
	size_t base, nlo;

	if (m->cfgmode) {
		base = off[d];
		nlo = m->pnregs[m->fleet->devices[d].profile][lo];
	} else {
		base = (size_t)d * (m->nregs[lo] + m->nregs[hi]);
		nlo = m->nregs[lo];
	}
	return t == lo ? base : base + nlo;
}

uint16_t *
devsim_model_words(struct devsim_model *m, uint32_t d, enum mbmap_table t)
{
	return m->regs + image_index(m, d, m->woff, MBMAP_INPUT, MBMAP_HOLDING, t);
}

uint8_t *
devsim_model_bits(struct devsim_model *m, uint32_t d, enum mbmap_table t)
{
	return m->bits + image_index(m, d, m->boff, MBMAP_COIL, MBMAP_DISCRETE, t);
}

/* Physics seconds from t0 to now. */
static double
model_secs(const struct devsim_model *m, int64_t t0, int64_t now)
{
	return now > t0 ? (double)(now - t0) / 1000.0 * m->cfg.time_scale : 0;
}

static int
site_powered(const struct devsim_site *s)
{
	return s->mains_ok || (s->flags & DEVSIM_F_DG_RUN) != 0;
}

static int
site_cooling(const struct devsim_site *s)
{
	return site_powered(s) && (s->flags & DEVSIM_F_AC_FAIL) == 0;
}

static double
site_battery_v(const struct devsim_model *m, const struct devsim_site *s,
    int64_t now)
{
	double t = model_secs(m, s->batt_t0, now), v;

	if (!site_powered(s)) {
		v = s->batt_v0 < BATT_KNEE_V ? s->batt_v0 : BATT_KNEE_V;
		v -= (BATT_KNEE_V - BATT_EMPTY_V) * t / m->cfg.batt_runtime_s;
		return v > BATT_EMPTY_V ? v : BATT_EMPTY_V;
	}
	v = s->batt_v0 + (DEVSIM_BATT_FLOAT_V - BATT_EMPTY_V) * t / RECHARGE_S;
	return v < DEVSIM_BATT_FLOAT_V ? v : DEVSIM_BATT_FLOAT_V;
}

static double
site_battery_a(const struct devsim_model *m, const struct devsim_site *s,
    double v)
{
	if (!site_powered(s))
		return v > BATT_EMPTY_V ? DEVSIM_BATT_DISCH_A : 0;
	return v < DEVSIM_BATT_FLOAT_V ? BATT_CHARGE_A : DEVSIM_BATT_FLOAT_A;
}

static double
site_temp(const struct devsim_model *m, const struct devsim_site *s,
    int64_t now)
{
	double t = model_secs(m, s->temp_t0, now), v;

	if (!site_cooling(s)) {
		v = s->temp_v0 + TEMP_RISE_C_S * t;
		return v < TEMP_MAX_C ? v : TEMP_MAX_C;
	}
	if (s->temp_v0 <= DEVSIM_ROOM_C)
		return s->temp_v0;
	v = s->temp_v0 - TEMP_FALL_C_S * t;
	return v > DEVSIM_ROOM_C ? v : DEVSIM_ROOM_C;
}

/* Both physics state variables continue from their value at now. */
static void
site_rebase(struct devsim_model *m, struct devsim_site *s, int64_t now)
{
	s->batt_v0 = site_battery_v(m, s, now);
	s->batt_t0 = now;
	s->temp_v0 = site_temp(m, s, now);
	s->temp_t0 = now;
}

/* The site's devices re-evaluate at their next request. */
static void
site_invalidate(struct devsim_model *m, size_t site)
{
	if (m->cfgmode) {
		for (size_t d = 0; d < m->cfg.ndevices; d++)
			if (m->fleet->devices[d].site == site)
				m->evaluated[d] = INT64_MIN;
		return;
	}
	for (size_t i = 0; i < m->cfg.units; i++)
		if (site * m->cfg.units + i < m->cfg.ndevices)
			m->evaluated[site * m->cfg.units + i] = INT64_MIN;
}

void
devsim_site_mains(struct devsim_model *m, size_t site, int ok, int64_t now)
{
	struct devsim_site *s = &m->sites[site];

	site_rebase(m, s, now);
	s->mains_ok = ok != 0;
	/* Consequences show at the next request, not 100 ms later. */
	site_invalidate(m, site);
}

void
devsim_site_flag(struct devsim_model *m, size_t site, uint16_t flag, int set,
    int64_t now)
{
	struct devsim_site *s = &m->sites[site];

	site_rebase(m, s, now);
	if (set)
		s->flags |= flag;
	else
		s->flags &= (uint16_t)~flag;
	site_invalidate(m, site);
}

static void
put_word(uint16_t *regs, unsigned i, uint8_t hi, uint8_t lo)
{
	regs[i] = (uint16_t)(hi << 8 | lo);
}

void
devsim_encode(const struct mbmap_point *p, double v, uint16_t *regs)
{
	unsigned w = mbmap_point_width(p), nb = 2 * w;
	uint8_t be[8];		/* the value, most significant byte first */
	uint64_t u = 0;
	double raw = (v - p->offset) / (p->scale != 0 ? p->scale : 1);

	if (p->type == MBMAP_BOOL) {
		if (p->bit < 0)
			regs[p->address] = raw != 0;
		else if (raw != 0)
			regs[p->address] |= (uint16_t)(1u << p->bit);
		else
			regs[p->address] &= (uint16_t)~(1u << p->bit);
		return;
	}
	raw = p->type == MBMAP_FLOAT32 || p->type == MBMAP_FLOAT64 ? raw : round(raw);
	switch (p->type) {
	case MBMAP_INT16:
		raw = raw < -32768 ? -32768 : raw > 32767 ? 32767 : raw;
		u = (uint16_t)(int16_t)raw;
		break;
	case MBMAP_UINT16:
		u = raw < 0 ? 0 : raw > 65535 ? 65535 : (uint64_t)raw;
		break;
	case MBMAP_INT32:
		raw = raw < -2147483648.0 ? -2147483648.0 :
		    raw > 2147483647.0 ? 2147483647.0 : raw;
		u = (uint32_t)(int32_t)raw;
		break;
	case MBMAP_UINT32:
		u = raw < 0 ? 0 : raw > 4294967295.0 ? 4294967295U :
		    (uint64_t)raw;
		break;
	case MBMAP_INT64:
		raw = raw < -9.2e18 ? -9.2e18 : raw > 9.2e18 ? 9.2e18 : raw;
		u = (uint64_t)(int64_t)raw;
		break;
	case MBMAP_UINT64:
		u = raw < 0 ? 0 : raw > 1.8e19 ? UINT64_MAX : (uint64_t)raw;
		break;
	case MBMAP_FLOAT32: {
		float fl = (float)raw;
		uint32_t b32;

		memcpy(&b32, &fl, sizeof(b32));
		u = b32;
		break;
	}
	case MBMAP_FLOAT64:
		memcpy(&u, &raw, sizeof(u));
		break;
	}
	for (unsigned i = 0; i < nb; i++)
		be[i] = (uint8_t)(u >> (8 * (nb - 1 - i)));
	/*
	 * CDAB swaps words (the last word is sent first), BADC swaps the bytes
	 * in each word, DCBA does both: the same rule for 2 and 4 words.
	 */
	for (unsigned i = 0; i < w; i++) {
		unsigned src = (p->order == MBMAP_CDAB || p->order == MBMAP_DCBA) ?
		    w - 1 - i : i;
		uint8_t hi = be[2 * src], lo = be[2 * src + 1];

		if (p->order == MBMAP_BADC || p->order == MBMAP_DCBA)
			put_word(regs + p->address, i, lo, hi);
		else
			put_word(regs + p->address, i, hi, lo);
	}
}

static void	cfg_eval(struct devsim_model *m, uint32_t d, int64_t now);

/* Every point's engineering value for device d at now. */
static void
tower_values(struct devsim_model *m, uint32_t d, int64_t now, double *val)
{
	size_t g = d / m->cfg.units;
	const struct devsim_site *s = &m->sites[g];
	double nz = m->cfg.noise, dr = m->cfg.drift;
	double ph = model_offset(m, d, 0), drift;
	int powered = site_powered(s), cooling = site_cooling(s);
	double up = (double)(now - m->start);

	drift = dr * sin(2 * M_PI * (up / 1000.0 / m->cfg.drift_period_s +
	    ph));
	val[TP_MAINS_V] = s->mains_ok ? DEVSIM_MAINS_V + nz * (2.0 *
	    model_offset(m, d, 1) + 1.5 * model_noise(m)) + 2.0 * drift : 0;
	val[TP_MAINS_HZ] = s->mains_ok ? DEVSIM_MAINS_HZ + nz * 0.04 *
	    model_noise(m) : 0;
	val[TP_BATT_V] = site_battery_v(m, s, now);
	val[TP_BATT_A] = site_battery_a(m, s, val[TP_BATT_V]) + nz * 0.2 *
	    model_noise(m);
	val[TP_BATT_V] += nz * 0.02 * model_noise(m);
	val[TP_ROOM_C] = site_temp(m, s, now) + nz * (1.5 *
	    model_offset(m, d, 2) + 0.1 * model_noise(m)) + 1.0 * drift;
	val[TP_RECT_STATUS] = (powered && !(s->flags & DEVSIM_F_RECT_FAIL) ?
	    RECT_OUTPUT_ON : 0) | (s->flags & DEVSIM_F_RECT_FAIL ? RECT_FAULT : 0);
	val[TP_DG_STATUS] = (s->flags & DEVSIM_F_DG_RUN ? DG_RUNNING : 0) |
	    (s->flags & DEVSIM_F_DG_FAIL ? DG_FAIL_START : 0);
	val[TP_AC_STATUS] = (cooling ? AC_RUNNING : 0) |
	    (cooling ? 0 : AC_NOT_COOLING);
	val[TP_LOAD_A] = DEVSIM_LOAD_A + nz * (3.0 * model_offset(m, d, 3) +
	    0.3 * model_noise(m)) + 0.5 * drift;
	val[TP_ENERGY] = floor(up / 3600000.0 * ENERGY_W);
	val[TP_UPTIME] = up;
	val[TP_SOC] = (val[TP_BATT_V] - BATT_EMPTY_V) /
	    (DEVSIM_BATT_FLOAT_V - BATT_EMPTY_V) * 100.0;
	val[TP_SOC] = val[TP_SOC] < 0 ? 0 : val[TP_SOC] > 100 ? 100 :
	    val[TP_SOC];
	val[TP_ENV_DOOR] = val[TP_DOOR] = (s->flags & DEVSIM_F_DOOR) != 0;
	val[TP_ENV_SMOKE] = val[TP_SMOKE] = (s->flags & DEVSIM_F_SMOKE) != 0;
	val[TP_ENV_WATER] = val[TP_WATER] = (s->flags & DEVSIM_F_WATER) != 0;
	val[TP_BATT_LOW_SET] = 47.0;
	val[TP_HIGH_TEMP_SET] = 35.0;
	val[TP_SITE_CODE] = (double)g;
	val[TP_UNIT] = (double)(d % m->cfg.units + 1);
	val[TP_SERIAL] = 1000000.0 + d;
	val[TP_MAINS_FAIL] = !s->mains_ok;
	val[TP_DG_RUNNING] = val[TP_DG_CMD] = (s->flags & DEVSIM_F_DG_RUN) != 0;
	val[TP_SIREN] = (s->flags & (DEVSIM_F_DOOR | DEVSIM_F_SMOKE)) != 0;
}

/* What clients wrote to device d, over the evaluated image. */
static void
model_apply_written(struct devsim_model *m, uint32_t d)
{
	for (size_t i = 0; m->has_written[d] && i < m->nwritten; i++) {
		const struct devsim_written *w = &m->written[i];

		if (w->dev != d)
			continue;
		if (w->table == MBMAP_COIL)
			devsim_model_bits(m, d, MBMAP_COIL)[w->addr] =
			    w->value != 0;
		else
			devsim_model_words(m, d, MBMAP_HOLDING)[w->addr] =
			    w->value;
	}
}

int
devsim_model_write(struct devsim_model *m, uint32_t d, enum mbmap_table t,
    unsigned addr, const uint16_t *v, unsigned n)
{
	if ((t != MBMAP_COIL && t != MBMAP_HOLDING) || n == 0 ||
	    addr + n > devsim_model_nregs(m, d, t))
		return -ERANGE;
	for (unsigned k = 0; k < n; k++) {
		struct devsim_written *w = NULL;

		for (size_t i = 0; m->has_written[d] && i < m->nwritten; i++)
			if (m->written[i].dev == d && m->written[i].table == t &&
			    m->written[i].addr == addr + k)
				w = &m->written[i];
		if (w == NULL) {
			if (m->nwritten == m->capwritten) {
				m->capwritten = m->capwritten ?
				    m->capwritten * 2 : 16;
				m->written = xreallocarray(m->written,
				    m->capwritten, sizeof(*m->written));
			}
			w = &m->written[m->nwritten++];
			w->dev = d;
			w->table = (uint8_t)t;
			w->addr = (uint16_t)(addr + k);
		}
		w->value = v[k];
	}
	m->has_written[d] = 1;
	model_apply_written(m, d);
	return 0;
}

void
devsim_model_eval(struct devsim_model *m, uint32_t d, int64_t now,
    int64_t max_age_ms)
{
	const struct mbmap_profile *p = &m->map->profiles[m->profile];
	double val[TP__COUNT];

	if (max_age_ms > 0 && m->evaluated[d] != INT64_MIN &&
	    now - m->evaluated[d] < max_age_ms)
		return;
	m->evaluated[d] = now;
	if (m->cfgmode) {
		cfg_eval(m, d, now);
		model_apply_written(m, d);
		return;
	}
	tower_values(m, d, now, val);
	for (size_t i = 0; i < TP__COUNT; i++) {
		const struct mbmap_point *q = &p->points[i];

		switch (q->table) {
		case MBMAP_COIL:
		case MBMAP_DISCRETE:
			devsim_model_bits(m, d, q->table)[q->address] =
			    val[i] != 0;
			break;
		default:
			devsim_encode(q, val[i], devsim_model_words(m, d,
			    q->table));
			break;
		}
	}
	model_apply_written(m, d);
}

/* ------------------------------------------------------------ config mode */

size_t
devsim_device_endpoint(const struct devsim_model *m, uint32_t d)
{
	return m->cfgmode ? m->dev_ep[d] : d / m->cfg.units;
}

size_t
devsim_device_site(const struct devsim_model *m, uint32_t d)
{
	return m->cfgmode ? m->fleet->devices[d].site : d / m->cfg.units;
}

size_t
devsim_model_nregs(const struct devsim_model *m, uint32_t d, enum mbmap_table t)
{
	if (m->cfgmode)
		return m->pnregs[m->fleet->devices[d].profile][t];
	return m->nregs[t];
}

int
devsim_model_endpoint(const struct devsim_model *m, size_t g,
    struct in_addr *addr, uint16_t *port)
{
	if (!m->cfgmode)
		return devsim_endpoint(&m->cfg, g, addr, port);
	if (g >= m->ngateways)
		return -ERANGE;
	*addr = m->eps[g].addr;
	*port = m->eps[g].port;
	return 0;
}

/* Whether alarm code `code` describes the site's present condition. */
static int
cfg_code_active(const struct devsim_site *s, const char *code)
{
	if (strcmp(code, "MAINS_FAIL") == 0)
		return !s->mains_ok;
	if (strcmp(code, "RECT_FAIL") == 0)
		return (s->flags & DEVSIM_F_RECT_FAIL) != 0;
	if (strcmp(code, "AC_FAIL") == 0)
		return !site_cooling(s);
	if (strcmp(code, "DG_FAIL") == 0)
		return (s->flags & DEVSIM_F_DG_FAIL) != 0;
	if (strcmp(code, "DOOR_OPEN") == 0)
		return (s->flags & DEVSIM_F_DOOR) != 0;
	if (strcmp(code, "SMOKE") == 0)
		return (s->flags & DEVSIM_F_SMOKE) != 0;
	if (strcmp(code, "WATER_LEAK") == 0)
		return (s->flags & DEVSIM_F_WATER) != 0;
	return 0;
}

/*
 * The value of point pi of device d by what the point is: a status that
 * alarms watch, else a physical quantity named by the point.
 */
static double
cfg_value(struct devsim_model *m, uint32_t d, const struct fleet_profile *p,
    uint32_t pi, int64_t now)
{
	const struct fleet_point *fp = &p->points[pi];
	const struct mbmap_point *q =
	    &m->map->profiles[p - m->fleet->profiles].points[pi];
	const struct devsim_site *s = &m->sites[m->fleet->devices[d].site];
	const char *n = fp->name;
	double nz = m->cfg.noise, v = 0, drift, up;
	int status = 0;
	uint64_t word = 0;

	for (size_t a = 0; a < p->nalarms; a++) {
		const struct fleet_alarm *al = &p->alarms[a];

		if (al->point != pi || (al->cond != AC_BIT_SET &&
		    al->cond != AC_EQUALS))
			continue;
		status = 1;
		if (!cfg_code_active(s, al->code))
			continue;
		if (al->cond == AC_BIT_SET)
			word |= 1ULL << al->bit;
		else
			word = (uint64_t)al->threshold;
	}
	if (status)
		return (double)word;
	up = (double)(now - m->start);
	drift = m->cfg.drift * sin(2 * M_PI * (up / 1000.0 /
	    m->cfg.drift_period_s + model_offset(m, d, 0)));
	if (strcmp(n, "mains_voltage") == 0)
		v = s->mains_ok ? DEVSIM_MAINS_V + nz * (2.0 * model_offset(m,
		    d, 1) + 1.5 * model_noise(m)) + 2.0 * drift : 0;
	else if (strcmp(n, "mains_frequency") == 0)
		v = s->mains_ok ? DEVSIM_MAINS_HZ + nz * 0.04 *
		    model_noise(m) : 0;
	else if (strcmp(n, "dc_voltage") == 0)
		v = site_powered(s) ? DEVSIM_BATT_FLOAT_V :
		    site_battery_v(m, s, now);
	else if (strcmp(n, "voltage") == 0 ||
	    strcmp(n, "battery_voltage") == 0)
		v = site_battery_v(m, s, now) + nz * 0.02 * model_noise(m);
	else if (strcmp(n, "current") == 0 ||
	    strcmp(n, "battery_current") == 0)
		v = site_battery_a(m, s, site_battery_v(m, s, now)) + nz *
		    0.2 * model_noise(m);
	else if (strcmp(n, "room_temp") == 0 ||
	    strcmp(n, "room_temperature") == 0 ||
	    strcmp(n, "temperature") == 0)
		v = site_temp(m, s, now) + nz * (1.5 * model_offset(m, d, 2) +
		    0.1 * model_noise(m)) + drift;
	else if (strcmp(n, "load_current") == 0)
		v = DEVSIM_LOAD_A + nz * (3.0 * model_offset(m, d, 3) + 0.3 *
		    model_noise(m)) + 0.5 * drift;
	else if (strcmp(n, "fuel_level") == 0)
		v = 80.0 + 5.0 * model_offset(m, d, 4);
	else if (strcmp(n, "uptime") == 0)
		v = fp->unit != NULL && strcmp(fp->unit, "ms") == 0 ? up :
		    floor(up / 1000.0);
	else if (strcmp(n, "battery_soc") == 0 || strcmp(n, "soc") == 0)
		v = (site_battery_v(m, s, now) - BATT_EMPTY_V) /
		    (DEVSIM_BATT_FLOAT_V - BATT_EMPTY_V) * 100.0;
	else if (strcmp(n, "door") == 0 || strcmp(n, "door_open") == 0)
		v = (s->flags & DEVSIM_F_DOOR) != 0;
	else if (strcmp(n, "smoke") == 0)
		v = (s->flags & DEVSIM_F_SMOKE) != 0;
	else if (strcmp(n, "water_leak") == 0)
		v = (s->flags & DEVSIM_F_WATER) != 0;
	return v < q->min ? q->min : v > q->max ? q->max : v;
}

static void
cfg_eval(struct devsim_model *m, uint32_t d, int64_t now)
{
	uint32_t pi = m->fleet->devices[d].profile;
	const struct fleet_profile *p = &m->fleet->profiles[pi];

	for (uint32_t i = 0; i < p->npoints; i++) {
		const struct mbmap_point *q = &m->map->profiles[pi].points[i];
		double v = cfg_value(m, d, p, i, now);

		if (q->table == MBMAP_COIL || q->table == MBMAP_DISCRETE)
			devsim_model_bits(m, d, q->table)[q->address] = v != 0;
		else
			devsim_encode(q, v, devsim_model_words(m, d,
			    q->table));
	}
}

struct cfg_key {
	uint64_t	 key;		/* addr << 16 | port */
	uint32_t	 d;		/* device */
};

static int
cfg_key_cmp(const void *a, const void *b)
{
	const struct cfg_key *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->d < y->d ? -1 : x->d > y->d;
}

int
devsim_model_init_fleet(struct devsim_model *m, const struct devsim_cfg *cfg,
    struct fleet *f, const struct mbmap *map, uint16_t def_port,
    int def_unit, int64_t now)
{
	struct cfg_key *k;
	size_t nw = 0, nb = 0, n = f->ndevices;
	uint32_t *first;

	if (n == 0 || map == NULL || map->nprofiles < f->nprofiles ||
	    !cfg_physics_ok(cfg))
		return -EINVAL;
	k = xcalloc(n, sizeof(*k));
	for (size_t d = 0; d < n; d++) {
		const struct fleet_device *fd = &f->devices[d];
		struct in_addr a;
		int unit = fd->unit >= 0 ? fd->unit : def_unit;

		if (fd->host == NULL || inet_pton(AF_INET, fd->host, &a) != 1 ||
		    (ntohl(a.s_addr) >> 24) != 127 || unit < 0 || unit > 255) {
			xfree(k);
			return -EINVAL;
		}
		k[d].key = (uint64_t)ntohl(a.s_addr) << 16 |
		    (fd->port ? fd->port : def_port);
		k[d].d = (uint32_t)d;
	}
	memset(m, 0, sizeof(*m));
	m->cfg = *cfg;
	m->cfg.ndevices = n;
	m->cfg.units = 1;
	m->cfgmode = 1;
	m->fleet = f;
	/* borrowed like the fleet: fini frees neither in config mode */
	m->map = (struct mbmap *)(uintptr_t)map;
	m->dev_ep = xcalloc(n, sizeof(*m->dev_ep));
	/* endpoints numbered by first appearance: shards split stably */
	first = xcalloc(n, sizeof(*first));
	qsort(k, n, sizeof(*k), cfg_key_cmp);
	for (size_t i = 0; i < n; ) {
		size_t j = i;

		while (j < n && k[j].key == k[i].key)
			j++;
		for (size_t x = i; x < j; x++)
			first[k[x].d] = k[i].d;
		i = j;
	}
	m->eps = xcalloc(n, sizeof(*m->eps));
	for (size_t d = 0; d < n; d++) {
		const struct fleet_device *fd = &f->devices[d];
		int unit = fd->unit >= 0 ? fd->unit : def_unit;
		struct devsim_ep *ep;

		if (first[d] == d) {
			ep = &m->eps[m->ngateways];
			inet_pton(AF_INET, fd->host, &ep->addr);
			ep->port = fd->port ? fd->port : def_port;
			for (unsigned u = 0; u < 256; u++)
				ep->unit_dev[u] = FLEET_NONE;
			m->dev_ep[d] = (uint32_t)m->ngateways++;
		} else
			m->dev_ep[d] = m->dev_ep[first[d]];
		ep = &m->eps[m->dev_ep[d]];
		if (ep->unit_dev[unit] != FLEET_NONE) {
			xfree(k);
			xfree(first);
			m->fleet = NULL;
			m->map = NULL;
			devsim_model_fini(m);
			return -EINVAL;
		}
		ep->unit_dev[unit] = (uint32_t)d;
	}
	xfree(k);
	xfree(first);
	m->pnregs = xcalloc(f->nprofiles ? f->nprofiles : 1,
	    sizeof(*m->pnregs));
	for (size_t pi = 0; pi < f->nprofiles; pi++)
		for (size_t i = 0; i < f->profiles[pi].npoints; i++) {
			const struct mbmap_point *q = &map->profiles[pi].points[i];
			uint32_t end = q->address + mbmap_point_width(q);

			if (end > m->pnregs[pi][q->table])
				m->pnregs[pi][q->table] = end;
			if (end > m->nregs[q->table])
				m->nregs[q->table] = end;
		}
	m->woff = xcalloc(n, sizeof(*m->woff));
	m->boff = xcalloc(n, sizeof(*m->boff));
	for (size_t d = 0; d < n; d++) {
		const uint32_t *t = m->pnregs[f->devices[d].profile];

		m->woff[d] = nw;
		m->boff[d] = nb;
		nw += t[MBMAP_INPUT] + t[MBMAP_HOLDING];
		nb += t[MBMAP_COIL] + t[MBMAP_DISCRETE];
	}
	model_start(m, nw, nb, f->nsites, now);
	return 0;
}
