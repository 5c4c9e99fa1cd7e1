/*
 * cfgfleet.c - profiles, sites and devices (see cfgfleet.h).
 *
 * Design.  Each item is read with a key table into a small *_in struct of
 * plain values (strings, ints, -1 or UINT32_MAX for "not given"), checked as
 * a whole (a point's address against its table and type, an alarm's clear
 * threshold against its condition), and only then added to the fleet, so a
 * broken item never reaches the model but its siblings are still read and
 * checked.  Names of other objects resolve through cfg_ref_resolve(): at
 * once when what they name is already read, else deferred to
 * cfgfleet_resolve() with the context's list (cfgkey_defer()).
 *
 * The inventory CSV is parsed by cfgcsv.c on the file's bytes; this file
 * reads the file, keeps its name for the locations of deferred names, and
 * adds each row as a device exactly as an inline one.  The alarm-code check
 * a correlation rule needs (cfgfleet_read_code) lives here because what it
 * checks against, the codes the profiles raise, is the fleet's.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cfgcsv.h"
#include "daemon/cfgfleet.h"
#include "daemon/mem.h"

/*
 * What a name refers to.  Sites and profiles are read before devices and
 * resolve at once; a gateway (VIA) or an alarm code (CODE) may have to wait,
 * and this is then the kind of its struct cfgkey_ref.
 */
enum cfg_ref_kind { REF_SITE, REF_PROFILE, REF_VIA, REF_CODE };

static int cfg_ref_resolve(struct cfgkey_ctx *, struct fleet *,
	    const struct cfgkey_loc *, const char *, const char *, uint32_t,
	    enum cfg_ref_kind, int);

static const char *
n_table(int i)
{
	return i < MBMAP__TABLES ? mbmap_table_name((enum mbmap_table)i) : NULL;
}
static const char *
n_type(int i) { return i < MBMAP__TYPES ? mbmap_type_name((enum mbmap_type)i) : NULL; }
static const char *
n_order(int i)
{
	return i < MBMAP__ORDERS ? mbmap_order_name((enum mbmap_order)i) : NULL;
}
static const char *
n_cond(int i)
{
	return i < AC__COUNT ? fleet_alarm_cond_name((enum alarm_cond)i) : NULL;
}

/* ------------------------------------------------------------------ */
/* Modicon addresses */

int
cfgfleet_parse_modicon(const char *s, enum mbmap_table *table, uint16_t *address,
    const char **why)
{
	size_t len = strlen(s);
	unsigned long v, off, digit;
	char *end;

	if (len == 0 || len > 6 || !isdigit((unsigned char)s[0])) {
		*why = "not a Modicon address (00001-09999, 10001-19999, "
		    "30001-39999, 40001-49999 or 6-digit 400001-465536)";
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i])) {
			*why = "a Modicon address has only digits";
			return -EINVAL;
		}
	v = strtoul(s, &end, 10);
	if (len == 6) {
		digit = v / 100000;
		off = v % 100000;
		if (off < 1 || off > 65536) {
			*why = "six-digit Modicon address out of range "
			    "(x00001-x65536)";
			return -EINVAL;
		}
	} else {
		digit = v / 10000;
		off = v % 10000;
		if (off < 1) {
			*why = "Modicon addresses start at 1 in each table "
			    "(00001, 10001, 30001, 40001)";
			return -EINVAL;
		}
	}
	switch (digit) {
	case 0: *table = MBMAP_COIL; break;
	case 1: *table = MBMAP_DISCRETE; break;
	case 3: *table = MBMAP_INPUT; break;
	case 4: *table = MBMAP_HOLDING; break;
	default:
		*why = "Modicon table digit must be 0 (coil), 1 (discrete "
		    "input), 3 (input register) or 4 (holding register)";
		return -EINVAL;
	}
	*address = (uint16_t)(off - 1);
	return 0;
}

/* ------------------------------------------------------------------ */
/* profiles: points and alarms */

struct point_in {
	char		*name, *unit, *address;
	char		*shorthand[MBMAP__TABLES];	/* coil: N, holding: N, ... */
	int		 table, type, order;
	double		 scale, offset, min, max, deadband;
	uint32_t	 bit;
	int64_t		 interval;	/* poll class; 0: every poll */
};

enum { PK_NAME, PK_TABLE, PK_ADDRESS, PK_COIL, PK_DISCRETE, PK_INPUT,
    PK_HOLDING, PK_TYPE, PK_ORDER, PK_SCALE, PK_OFFSET, PK_UNIT, PK_MIN,
    PK_MAX, PK_DEADBAND, PK_BIT, PK_INTERVAL, PK__N };

static const struct cfg_key point_keys[] = {
	[PK_NAME] = KSTR("name", struct point_in, name, NULL),
	[PK_TABLE] = KENUM("table", struct point_in, table, n_table, NULL),
	[PK_ADDRESS] = KSTR("address", struct point_in, address, NULL),
	[PK_COIL] = KSTR("coil", struct point_in, shorthand[MBMAP_COIL], NULL),
	[PK_DISCRETE] = KSTR("discrete", struct point_in, shorthand[MBMAP_DISCRETE], NULL),
	[PK_INPUT] = KSTR("input", struct point_in, shorthand[MBMAP_INPUT], NULL),
	[PK_HOLDING] = KSTR("holding", struct point_in, shorthand[MBMAP_HOLDING], NULL),
	[PK_TYPE] = KENUM("type", struct point_in, type, n_type, NULL),
	[PK_ORDER] = KENUM("order", struct point_in, order, n_order, "ABCD"),
	[PK_SCALE] = KDBL("scale", struct point_in, scale, -1e12, 1e12, "1"),
	[PK_OFFSET] = KDBL("offset", struct point_in, offset, -1e15, 1e15, "0"),
	[PK_UNIT] = KSTR("unit", struct point_in, unit, NULL),
	[PK_MIN] = KDBL("min", struct point_in, min, -1e300, 1e300, NULL),
	[PK_MAX] = KDBL("max", struct point_in, max, -1e300, 1e300, NULL),
	[PK_DEADBAND] = KDBL("deadband", struct point_in, deadband, 0, 1e15, "0"),
	[PK_BIT] = KU32("bit", struct point_in, bit, 0, 15, NULL),
	[PK_INTERVAL] = KDUR("interval", struct point_in, interval, 0.1, 86400, NULL),
	[PK__N] = K_END
};

/* An offset within a table: 0-65535. */
static int
cfg_offset(const char *s, uint16_t *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

/*
 * Where a point, a command or a read-back is: `address` (Modicon, or an
 * offset with `table`) or one shorthand (`coil: N`, `holding: N`, ...);
 * the nodes are for errors.
 */
struct where_in {
	const char	*address;	/* NULL: not given */
	char *const	*shorthand;	/* [MBMAP__TABLES], NULL: not given */
	int		 table;		/* -1: not given */
	yaml_node_t	*at_table, *at_address;
	yaml_node_t *const *at_short;	/* [MBMAP__TABLES] */
};

/*
 * Reads w into *table and *address; *given is 1 when a shorthand gave it.
 * Returns 0, 1 when no address was given at all (not reported: the caller
 * says what needs one), or -1 after reporting.
 */
static int
cfg_where(struct cfgkey_ctx *cx, const char *path, const struct where_in *w,
    enum mbmap_table *table, uint16_t *address, int *given)
{
	char kp[CFGKEY_PATH_MAX];
	const char *why;
	int bad = 0;

	*given = 0;
	for (int t = 0; t < MBMAP__TABLES; t++) {
		if (w->shorthand[t] == NULL)
			continue;
		cfgkey_path(kp, sizeof(kp), path, n_table(t));
		if ((*given)++ || w->address != NULL || w->at_table != NULL) {
			cfgkey_error(cx, w->at_short[t], kp, "give either %s: N "
			    "or address (with an optional table), not both",
			    n_table(t));
			bad = 1;
		} else if (cfg_offset(w->shorthand[t], address) != 0) {
			cfgkey_error(cx, w->at_short[t], kp, "expected an offset "
			    "0-65535 in the %s table, got \"%s\"", n_table(t),
			    w->shorthand[t]);
			bad = 1;
		}
		*table = (enum mbmap_table)t;
	}
	*given = *given != 0;
	if (!*given && w->address == NULL)
		return 1;
	if (!*given) {
		cfgkey_path(kp, sizeof(kp), path, "address");
		if (w->table >= 0) {
			*table = (enum mbmap_table)w->table;
			if (cfg_offset(w->address, address) != 0) {
				cfgkey_error(cx, w->at_address, kp, "expected an "
				    "offset 0-65535 in the %s table, got \"%s\"",
				    n_table(w->table), w->address);
				bad = 1;
			}
		} else if (cfgfleet_parse_modicon(w->address, table, address,
		    &why) != 0) {
			cfgkey_error(cx, w->at_address, kp, "%s, got \"%s\"",
			    why, w->address);
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

/* A profile being read: its model and its Modbus map (same point index). */
struct profile_pts {
	struct fleet_profile *prof;
	struct mbmap_profile *map;
};

static void
cfg_point(struct cfgkey_ctx *cx, yaml_node_t *n, void *arg, const char *path)
{
	struct profile_pts *pp = arg;
	struct fleet_profile *prof = pp->prof;
	struct point_in in = { .table = -1, .type = -1, .min = -INFINITY,
	    .max = INFINITY, .bit = UINT32_MAX };
	yaml_node_t *at[PK__N];
	struct mbmap_point pt;
	char kp[CFGKEY_PATH_MAX];
	int given = 0, bad = 0;
	enum mbmap_table table = MBMAP_HOLDING;
	uint16_t address = 0;

	if (cfgkey_item(cx, n, point_keys, &in, path, at) != 0)
		goto out;
	if (in.name == NULL) {
		cfgkey_error(cx, n, path, "a point needs a name");
		goto out;
	}
	if (fleet_find_point(prof, in.name) != FLEET_NONE) {
		cfgkey_path(kp, sizeof(kp), path, "name");
		cfgkey_error(cx, at[PK_NAME], kp, "duplicate point name \"%s\"",
		    in.name);
		goto out;
	}
	{
		const struct where_in w = { in.address, in.shorthand, in.table,
		    at[PK_TABLE], at[PK_ADDRESS], at + PK_COIL };
		int rc = cfg_where(cx, path, &w, &table, &address, &given);

		if (rc > 0) {
			cfgkey_error(cx, n, path, "point \"%s\" needs an "
			    "address (address: 40001, or holding: 0)", in.name);
			goto out;
		}
		bad = rc < 0;
	}
	if (bad)
		goto out;

	mbmap_point_init(&pt);
	pt.table = (uint8_t)table;
	pt.address = address;
	if (in.type < 0)
		in.type = table <= MBMAP_DISCRETE ? MBMAP_BOOL : MBMAP_UINT16;
	pt.type = (uint8_t)in.type;
	pt.order = (uint8_t)in.order;
	if (table <= MBMAP_DISCRETE && in.type != MBMAP_BOOL) {
		cfgkey_path(kp, sizeof(kp), path, "type");
		cfgkey_error(cx, at[PK_TYPE], kp, "a %s holds single bits: type "
		    "must be bool, got %s", n_table(table), n_type(in.type));
		goto out;
	}
	if (in.bit != UINT32_MAX) {
		cfgkey_path(kp, sizeof(kp), path, "bit");
		if (table <= MBMAP_DISCRETE || in.type != MBMAP_BOOL) {
			cfgkey_error(cx, at[PK_BIT], kp, "bit selects one bit of "
			    "a register for a bool point");
			goto out;
		}
		pt.bit = (int8_t)in.bit;
	}
	if ((unsigned)address + mbmap_point_width(&pt) - 1 > 65535) {
		cfgkey_path(kp, sizeof(kp), path, given ? n_table(table) : "address");
		cfgkey_error(cx, at[given ? PK_COIL + table : PK_ADDRESS], kp,
		    "a %s at %s address %u runs past the end of the table "
		    "(last address 65535)", n_type(in.type), n_table(table),
		    address);
		goto out;
	}
	if (in.min > in.max) {
		cfgkey_path(kp, sizeof(kp), path, "min");
		cfgkey_error(cx, at[PK_MIN], kp, "min %g is above max %g", in.min,
		    in.max);
		goto out;
	}
	if (in.scale == 0) {
		cfgkey_path(kp, sizeof(kp), path, "scale");
		cfgkey_error(cx, at[PK_SCALE], kp, "scale must not be 0");
		goto out;
	}
	/* Overlap: registers shared, unless both are distinct bits of one. */
	for (size_t i = 0; i < pp->map->npoints; i++) {
		const struct mbmap_point *o = &pp->map->points[i];
		unsigned a0 = pt.address, a1 = a0 + mbmap_point_width(&pt) - 1;
		unsigned b0 = o->address, b1 = b0 + mbmap_point_width(o) - 1;

		if (o->table != pt.table || a1 < b0 || b1 < a0)
			continue;
		if (pt.bit >= 0 && o->bit >= 0 && pt.bit != o->bit)
			continue;
		cfgkey_error(cx, n, path, "point \"%s\" (%s %u-%u) overlaps point "
		    "\"%s\" (%s %u-%u)", in.name, n_table(table), a0, a1,
		    prof->points[i].name, n_table(o->table), b0, b1);
		goto out;
	}
	pt.scale = in.scale;
	pt.offset = in.offset;
	pt.min = in.min;
	pt.max = in.max;
	pt.interval_ms = (uint32_t)in.interval;
	*mbmap_add_point(pp->map) = pt;
	prof->points = xreallocarray(prof->points, prof->npoints + 1,
	    sizeof(*prof->points));
	prof->points[prof->npoints].name = in.name;
	prof->points[prof->npoints].unit = in.unit;
	prof->points[prof->npoints].deadband = in.deadband;
	prof->npoints++;
	in.name = in.unit = NULL;
out:
	cfgkey_free(point_keys, &in);
}

struct alarm_in {
	char		*code, *point;
	int		 cond, severity;
	double		 threshold, clear;
	uint32_t	 bit;
	int64_t		 delay_on, delay_off;
};

enum { AK_CODE, AK_POINT, AK_COND, AK_THRESHOLD, AK_CLEAR, AK_BIT,
    AK_DELAY_ON, AK_DELAY_OFF, AK_SEVERITY, AK__N };

static const struct cfg_key alarm_keys[] = {
	[AK_CODE] = KSTR("code", struct alarm_in, code, NULL),
	[AK_POINT] = KSTR("point", struct alarm_in, point, NULL),
	[AK_COND] = KENUM("condition", struct alarm_in, cond, n_cond, NULL),
	[AK_THRESHOLD] = KDBL("threshold", struct alarm_in, threshold, -1e300, 1e300, NULL),
	[AK_CLEAR] = KDBL("clear", struct alarm_in, clear, -1e300, 1e300, NULL),
	[AK_BIT] = KU32("bit", struct alarm_in, bit, 0, 63, NULL),
	[AK_DELAY_ON] = KDUR("delay_on", struct alarm_in, delay_on, 0, K_DAY, "0"),
	[AK_DELAY_OFF] = KDUR("delay_off", struct alarm_in, delay_off, 0, K_DAY, "0"),
	[AK_SEVERITY] = KENUM("severity", struct alarm_in, severity,
	    cfgkey_name_severity, "major"),
	[AK__N] = K_END
};

/* The profiles being read, and the one whose alarms are. */
struct profile_arg {
	struct fleet	*fleet;
	struct mbmap	*map;
	uint32_t	 profile;
};

/* An alarm code by the model's one rule (fleet.h), 1-FLEET_CODE_MAX bytes. */
static int
cfg_code_ok(const char *s)
{
	return fleet_code_check(s) == 0;
}

static void
cfg_alarm(struct cfgkey_ctx *cx, yaml_node_t *n, void *arg, const char *path)
{
	struct profile_arg *pa = arg;
	struct fleet_profile *prof = &pa->fleet->profiles[pa->profile];
	struct alarm_in in = { .cond = -1, .bit = UINT32_MAX };
	yaml_node_t *at[AK__N];
	struct fleet_alarm al;
	char kp[CFGKEY_PATH_MAX];
	uint32_t pi;

	if (cfgkey_item(cx, n, alarm_keys, &in, path, at) != 0)
		goto out;
	if (in.code == NULL || in.point == NULL || in.cond < 0) {
		cfgkey_error(cx, n, path, "an alarm needs code, point and "
		    "condition");
		goto out;
	}
	if (!cfg_code_ok(in.code)) {
		cfgkey_path(kp, sizeof(kp), path, "code");
		cfgkey_error(cx, at[AK_CODE], kp, "alarm codes are upper case "
		    "letters, digits and _ (like MAINS_FAIL), at most %d, got "
		    "\"%s\"", FLEET_CODE_MAX, in.code);
		goto out;
	}
	pi = fleet_find_point(prof, in.point);
	if (pi == FLEET_NONE) {
		const char *names[256];
		size_t nn = 0;
		const char *hint;

		for (size_t i = 0; i < prof->npoints && nn < 256; i++)
			names[nn++] = prof->points[i].name;
		hint = cfgkey_suggest(in.point, names, nn);
		cfgkey_path(kp, sizeof(kp), path, "point");
		if (hint != NULL)
			cfgkey_error(cx, at[AK_POINT], kp, "profile %s has no point "
			    "\"%s\" (did you mean \"%s\"?)", prof->id, in.point,
			    hint);
		else
			cfgkey_error(cx, at[AK_POINT], kp, "profile %s has no point "
			    "\"%s\"", prof->id, in.point);
		goto out;
	}
	memset(&al, 0, sizeof(al));
	al.point = pi;
	al.cond = (uint8_t)in.cond;
	al.severity = (uint8_t)in.severity;
	if (in.cond == AC_BIT_SET) {
		if (in.bit == UINT32_MAX) {
			cfgkey_error(cx, n, path, "condition bit_set needs bit");
			goto out;
		}
		al.bit = (uint8_t)in.bit;
	} else if (at[AK_THRESHOLD] == NULL) {
		cfgkey_error(cx, n, path, "condition %s needs threshold",
		    n_cond(in.cond));
		goto out;
	}
	al.threshold = in.threshold;
	al.clear = at[AK_CLEAR] != NULL ? in.clear : in.threshold;
	cfgkey_path(kp, sizeof(kp), path, "clear");
	if (in.cond == AC_ABOVE && al.clear > al.threshold) {
		cfgkey_error(cx, at[AK_CLEAR], kp, "clear %g must not be above the "
		    "threshold %g of an 'above' alarm", al.clear, al.threshold);
		goto out;
	}
	if (in.cond == AC_BELOW && al.clear < al.threshold) {
		cfgkey_error(cx, at[AK_CLEAR], kp, "clear %g must not be below the "
		    "threshold %g of a 'below' alarm", al.clear, al.threshold);
		goto out;
	}
	al.delay_on_ms = (uint32_t)in.delay_on;
	al.delay_off_ms = (uint32_t)in.delay_off;
	al.code = in.code;
	al.code_id = fleet_code(pa->fleet, in.code);
	in.code = NULL;
	prof->alarms = xreallocarray(prof->alarms, prof->nalarms + 1,
	    sizeof(*prof->alarms));
	prof->alarms[prof->nalarms++] = al;
out:
	cfgkey_free(alarm_keys, &in);
}

/* ------------------------------------------------------------------ */
/* commands: the writes a profile declares (docs/commands.md) */

struct readback_in {
	char		*address, *shorthand[MBMAP__TABLES];
	int		 table;
	double		 value;		/* NAN: not given */
	int64_t		 delay, timeout; /* timeout -1: = delay */
};

enum { RK_TABLE, RK_ADDRESS, RK_COIL, RK_DISCRETE, RK_INPUT, RK_HOLDING,
    RK_VALUE, RK_DELAY, RK_TIMEOUT, RK__N };

const struct cfg_key cfgfleet_readback_keys[] = {
	[RK_TABLE] = KENUM("table", struct readback_in, table, n_table, NULL),
	[RK_ADDRESS] = KSTR("address", struct readback_in, address, NULL),
	[RK_COIL] = KSTR("coil", struct readback_in, shorthand[MBMAP_COIL], NULL),
	[RK_DISCRETE] = KSTR("discrete", struct readback_in,
	    shorthand[MBMAP_DISCRETE], NULL),
	[RK_INPUT] = KSTR("input", struct readback_in, shorthand[MBMAP_INPUT],
	    NULL),
	[RK_HOLDING] = KSTR("holding", struct readback_in,
	    shorthand[MBMAP_HOLDING], NULL),
	[RK_VALUE] = KDBL("value", struct readback_in, value, -1e15, 1e15, NULL),
	[RK_DELAY] = KDUR("delay", struct readback_in, delay, 0, 300, "1s"),
	[RK_TIMEOUT] = KDUR("timeout", struct readback_in, timeout, 0, 3600,
	    NULL),
	[RK__N] = K_END
};

struct command_in {
	char		*name, *address, *shorthand[MBMAP__TABLES];
	int		 table;
	uint32_t	 function;
	double		 value;		/* NAN: not given */
};

enum { CK_NAME, CK_FUNCTION, CK_TABLE, CK_ADDRESS, CK_COIL, CK_DISCRETE,
    CK_INPUT, CK_HOLDING, CK_VALUE, CK_VALUES, CK_READBACK, CK__N };

const struct cfg_key cfgfleet_command_keys[] = {
	[CK_NAME] = KSTR("name", struct command_in, name, NULL),
	[CK_FUNCTION] = KU32("function", struct command_in, function, 0, 255,
	    NULL),
	[CK_TABLE] = KENUM("table", struct command_in, table, n_table, NULL),
	[CK_ADDRESS] = KSTR("address", struct command_in, address, NULL),
	[CK_COIL] = KSTR("coil", struct command_in, shorthand[MBMAP_COIL], NULL),
	[CK_DISCRETE] = KSTR("discrete", struct command_in,
	    shorthand[MBMAP_DISCRETE], NULL),
	[CK_INPUT] = KSTR("input", struct command_in, shorthand[MBMAP_INPUT],
	    NULL),
	[CK_HOLDING] = KSTR("holding", struct command_in,
	    shorthand[MBMAP_HOLDING], NULL),
	[CK_VALUE] = KDBL("value", struct command_in, value, -1e15, 1e15, NULL),
	[CK_VALUES] = KFN("values", cfgkey_nop),
	[CK_READBACK] = KFN("readback", cfgkey_nop),
	[CK__N] = K_END
};

/* The command names as an operator writes them in a URL: 1-63 bytes of
 * letters, digits, '_' and '-'. */
static int
cfg_command_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return 0;
	return 1;
}

/*
 * A raw value for a table: an integer, 0 or 1 for a bit (coil, discrete),
 * 0-65535 for a register.  Returns 0, or -1 after reporting at n.
 */
static int
cfg_raw_value(struct cfgkey_ctx *cx, yaml_node_t *n, const char *path,
    double v, int bit, const char *what, uint16_t *out)
{
	if (v != floor(v) || v < 0 || v > (bit ? 1 : 65535)) {
		cfgkey_error(cx, n, path, "%s %g is out of range for %s: %s",
		    what, v, bit ? "a bit" : "a register", bit ? "0 or 1" :
		    "an integer 0-65535 (the raw register)");
		return -1;
	}
	*out = (uint16_t)v;
	return 0;
}

/* The values of an FC 16 command being read. */
struct values_arg {
	uint16_t	 v[MBMAP_CMD_VALUES];
	size_t		 n;		/* read so far, up to the limit */
	size_t		 seen;		/* items in the list */
	int		 bad;
};

static void
cfg_command_value(struct cfgkey_ctx *cx, yaml_node_t *n, const char *text,
    void *arg, const char *path)
{
	static const struct cfg_key k = KDBL("values", struct { double v; }, v,
	    -1e15, 1e15, NULL);
	struct values_arg *va = arg;
	double v;

	va->seen++;
	if (cfgkey_value(cx, &k, n, text, &v, path) != 0 ||
	    cfg_raw_value(cx, n, path, v, 0, "value", &va->v[va->n]) != 0) {
		va->bad = 1;
		return;
	}
	if (va->n < MBMAP_CMD_VALUES)
		va->n++;
}

/* The read-back of command c at node n. */
static int
cfg_readback(struct cfgkey_ctx *cx, yaml_node_t *n, const char *path,
    struct mbmap_command *c)
{
	struct readback_in in = { .table = -1, .value = NAN, .timeout = -1 };
	yaml_node_t *at[RK__N];
	char kp[CFGKEY_PATH_MAX];
	enum mbmap_table table = MBMAP_HOLDING;
	uint16_t address = 0;
	int given, rc = -1;

	if (cfgkey_item(cx, n, cfgfleet_readback_keys, &in, path, at) != 0)
		goto out;
	{
		const struct where_in w = { in.address, in.shorthand, in.table,
		    at[RK_TABLE], at[RK_ADDRESS], at + RK_COIL };
		int r = cfg_where(cx, path, &w, &table, &address, &given);

		if (r > 0)
			cfgkey_error(cx, n, path, "a read-back needs an "
			    "address (address: 10005, or coil: 0)");
		if (r != 0)
			goto out;
	}
	cfgkey_path(kp, sizeof(kp), path, "value");
	if (isnan(in.value)) {
		cfgkey_error(cx, n, path, "a read-back needs the value that "
		    "confirms the command");
		goto out;
	}
	if (cfg_raw_value(cx, at[RK_VALUE], kp, in.value,
	    table <= MBMAP_DISCRETE, "value", &c->rb_value) != 0)
		goto out;
	if (in.timeout < 0)
		in.timeout = in.delay;
	if (in.timeout < in.delay) {
		cfgkey_path(kp, sizeof(kp), path, "timeout");
		cfgkey_error(cx, at[RK_TIMEOUT], kp, "timeout must not be "
		    "shorter than delay (the first read-back)");
		goto out;
	}
	c->rb_table = (uint8_t)table;
	c->rb_address = address;
	c->rb_delay_ms = (uint32_t)in.delay;
	c->rb_timeout_ms = (uint32_t)in.timeout;
	rc = 0;
out:
	cfgkey_free(cfgfleet_readback_keys, &in);
	return rc;
}

static void
cfg_command(struct cfgkey_ctx *cx, yaml_node_t *n, void *arg,
    const char *path)
{
	struct profile_pts *pp = arg;
	struct command_in in = { .table = -1, .value = NAN,
	    .function = UINT32_MAX };
	yaml_node_t *at[CK__N];
	static struct values_arg va;
	struct mbmap_command *c;
	char kp[CFGKEY_PATH_MAX];
	enum mbmap_table table = MBMAP_HOLDING, want;
	uint16_t address = 0, one;
	int given, rc;

	memset(&va, 0, sizeof(va));
	if (cfgkey_item(cx, n, cfgfleet_command_keys, &in, path, at) != 0)
		goto out;
	cfgkey_path(kp, sizeof(kp), path, "name");
	if (in.name == NULL) {
		cfgkey_error(cx, n, path, "a command needs a name");
		goto out;
	}
	if (!cfg_command_name_ok(in.name)) {
		cfgkey_error(cx, at[CK_NAME], kp, "a command name is 1-63 "
		    "letters, digits, _ or - (it is part of a URL), got \"%s\"",
		    in.name);
		goto out;
	}
	if (mbmap_find_command(pp->map, in.name) >= 0) {
		cfgkey_error(cx, at[CK_NAME], kp, "duplicate command name "
		    "\"%s\" in profile %s", in.name, pp->prof->id);
		goto out;
	}
	cfgkey_path(kp, sizeof(kp), path, "function");
	if (at[CK_FUNCTION] == NULL) {
		cfgkey_error(cx, n, path, "command %s needs a function: 5 "
		    "(write a coil), 6 (write a register) or 16 (write "
		    "registers)", in.name);
		goto out;
	}
	if (in.function != 5 && in.function != 6 && in.function != 16) {
		if (in.function != UINT32_MAX)
			cfgkey_error(cx, at[CK_FUNCTION], kp, "unknown function "
			    "code %u: a command writes with 5 (a coil), 6 (a "
			    "register) or 16 (registers)", in.function);
		goto out;
	}
	rc = cfg_where(cx, path, &(const struct where_in){ in.address,
	    in.shorthand, in.table, at[CK_TABLE], at[CK_ADDRESS],
	    at + CK_COIL }, &table, &address, &given);
	if (rc > 0)
		cfgkey_error(cx, n, path, "command %s needs an address "
		    "(address: 00001, or coil: 0)", in.name);
	if (rc != 0)
		goto out;
	want = in.function == 5 ? MBMAP_COIL : MBMAP_HOLDING;
	if (table != want) {
		static const char *const noun[MBMAP__TABLES] = { "coil",
		    "discrete input", "input register", "holding register" };
		int t;

		for (t = 0; t < MBMAP__TABLES && in.shorthand[t] == NULL; t++)
			;
		cfgkey_path(kp, sizeof(kp), path, given ? n_table(t) :
		    "address");
		cfgkey_error(cx, given ? at[CK_COIL + t] : at[CK_ADDRESS], kp,
		    "function %u writes a %s, not a %s (address out of range "
		    "for the function)", in.function, noun[want], noun[table]);
		goto out;
	}
	/* the values */
	if (at[CK_VALUES] != NULL) {
		cfgkey_path(kp, sizeof(kp), path, "values");
		if (in.function != 16 || at[CK_VALUE] != NULL) {
			cfgkey_error(cx, at[CK_VALUES], kp, "values (a list) "
			    "is for function 16 only, without value");
			goto out;
		}
		cfgkey_scalars(cx, at[CK_VALUES], kp, cfg_command_value, &va);
		if (va.bad)
			goto out;
		if (va.seen == 0 || va.seen > MBMAP_CMD_VALUES) {
			cfgkey_error(cx, at[CK_VALUES], kp, "function 16 writes "
			    "1-%d registers, got %zu values", MBMAP_CMD_VALUES,
			    va.seen);
			goto out;
		}
	} else {
		cfgkey_path(kp, sizeof(kp), path, "value");
		if (isnan(in.value)) {
			cfgkey_error(cx, n, path, "command %s needs the value "
			    "to write (value: N%s)", in.name, in.function ==
			    16 ? ", or values: [N, ...]" : "");
			goto out;
		}
		if (cfg_raw_value(cx, at[CK_VALUE], kp, in.value,
		    in.function == 5, "value", &one) != 0)
			goto out;
		va.v[0] = one;
		va.n = 1;
	}
	if ((unsigned)address + va.n - 1 > 65535) {
		cfgkey_path(kp, sizeof(kp), path, given ? "holding" : "address");
		cfgkey_error(cx, given ? at[CK_HOLDING] : at[CK_ADDRESS], kp,
		    "%zu registers from holding address %u run past the end "
		    "of the table (last address 65535)", va.n, address);
		goto out;
	}
	c = mbmap_add_command(pp->map, in.name, va.v, (uint16_t)va.n);
	c->fc = (uint8_t)in.function;
	c->address = address;
	if (at[CK_READBACK] != NULL) {
		cfgkey_path(kp, sizeof(kp), path, "readback");
		if (cfg_readback(cx, at[CK_READBACK], kp, c) != 0) {
			/* not declared: a broken read-back is no read-back */
			xfree(c->name);
			xfree(c->values);
			pp->map->ncommands--;
		}
	}
out:
	cfgkey_free(cfgfleet_command_keys, &in);
}

enum { FK_DESC, FK_GATEWAY, FK_POINTS, FK_ALARMS, FK_COMMANDS, FK__N };

static const struct cfg_key profile_keys[] = {
	[FK_DESC] = KSTR("description", struct fleet_profile, description, NULL),
	[FK_GATEWAY] = KBOOL("gateway", struct fleet_profile, gateway, "false"),
	[FK_POINTS] = KFN("points", cfgkey_nop),
	[FK_ALARMS] = KFN("alarms", cfgkey_nop),
	[FK_COMMANDS] = KFN("commands", cfgkey_nop),
	[FK__N] = K_END
};

/* ID: {...} of profiles; arg is the profile_arg of the fleet and map. */
static void
cfg_profile(struct cfgkey_ctx *cx, yaml_node_t *kn, const char *id,
    yaml_node_t *vn, void *arg, const char *path)
{
	struct profile_arg pa = *(const struct profile_arg *)arg;
	struct fleet *f = pa.fleet;
	yaml_node_t *at[FK__N];
	struct profile_pts pp;
	char sp[CFGKEY_PATH_MAX];
	uint32_t pi;

	if ((pi = fleet_add(f, FLEET_PROFILE, id)) == FLEET_NONE) {
		cfgkey_error(cx, kn, path, "duplicate profile id \"%s\"", id);
		return;
	}
	if (cfgkey_item(cx, vn, profile_keys, &f->profiles[pi], path, at) != 0)
		return;
	pa.profile = pi;
	pp.prof = &f->profiles[pi];
	pp.map = mbmap_profile(pa.map, pi);
	cfgkey_path(sp, sizeof(sp), path, "points");
	if (at[FK_POINTS] != NULL)
		cfgkey_list(cx, at[FK_POINTS], sp, cfg_point, &pp);
	if (f->profiles[pi].npoints == 0)
		cfgkey_error(cx, at[FK_POINTS] ? at[FK_POINTS] : vn, sp,
		    "profile %s has no points", id);
	cfgkey_path(sp, sizeof(sp), path, "alarms");
	if (at[FK_ALARMS] != NULL)
		cfgkey_list(cx, at[FK_ALARMS], sp, cfg_alarm, &pa);
	cfgkey_path(sp, sizeof(sp), path, "commands");
	if (at[FK_COMMANDS] != NULL)
		cfgkey_list(cx, at[FK_COMMANDS], sp, cfg_command, &pp);
}

/* ------------------------------------------------------------------ */
/* sites and tenants */

struct tenant_in {
	char		*customer;
	int		 tier;
};

static const struct cfg_key tenant_keys[] = {
	KSTR("customer", struct tenant_in, customer, NULL),
	KENUM("tier", struct tenant_in, tier, cfgkey_name_tier, "standard"),
	K_END
};

static void
cfg_tenant(struct cfgkey_ctx *cx, yaml_node_t *n, void *arg, const char *path)
{
	struct fleet_site *s = arg;
	struct tenant_in in = { NULL, 0 };

	if (cfgkey_item(cx, n, tenant_keys, &in, path, NULL) == 0) {
		if (in.customer == NULL)
			cfgkey_error(cx, n, path, "a tenant needs customer");
		else {
			for (size_t i = 0; i < s->ntenants; i++)
				if (strcmp(s->tenants[i].customer,
				    in.customer) == 0) {
					cfgkey_error(cx, n, path, "customer "
					    "\"%s\" is already a tenant of "
					    "site %s", in.customer, s->id);
					goto out;
				}
			fleet_site_add_tenant(s, in.customer, (enum tier)in.tier);
		}
	}
out:
	cfgkey_free(tenant_keys, &in);
}

struct site_in {
	char		*id, *name, *area, *station, *branch;
	int		 region;
};

enum { SK_ID, SK_NAME, SK_AREA, SK_REGION, SK_STATION, SK_BRANCH,
    SK_TENANTS, SK__N };

static const struct cfg_key site_keys[] = {
	[SK_ID] = KSTR("id", struct site_in, id, NULL),
	[SK_NAME] = KSTR("name", struct site_in, name, NULL),
	[SK_AREA] = KSTR("area", struct site_in, area, NULL),
	[SK_REGION] = KENUM("region", struct site_in, region,
	    cfgkey_name_region, NULL),
	[SK_STATION] = KSTR("station", struct site_in, station, NULL),
	[SK_BRANCH] = KSTR("branch", struct site_in, branch, NULL),
	[SK_TENANTS] = KFN("tenants", cfgkey_nop),
	[SK__N] = K_END
};

static void
cfg_site(struct cfgkey_ctx *cx, yaml_node_t *n, void *arg, const char *path)
{
	struct fleet *f = arg;
	struct site_in in = { .region = -1 };
	yaml_node_t *at[SK__N];
	struct fleet_site *s;
	char kp[CFGKEY_PATH_MAX];
	uint32_t si;

	if (cfgkey_item(cx, n, site_keys, &in, path, at) != 0)
		goto out;
	if (in.id == NULL || in.area == NULL || at[SK_REGION] == NULL) {
		cfgkey_error(cx, n, path, "a site needs id, area and region");
		goto out;
	}
	if (in.region < 0)
		goto out;	/* reported by cfgkey_map */
	if ((si = fleet_add(f, FLEET_SITE, in.id)) == FLEET_NONE) {
		cfgkey_path(kp, sizeof(kp), path, "id");
		cfgkey_error(cx, at[SK_ID], kp, "duplicate site id \"%s\"", in.id);
		goto out;
	}
	s = &f->sites[si];
	s->area = fleet_area(f, in.area);
	s->region = (uint8_t)in.region;
	s->name = in.name;
	s->station = in.station;
	s->branch = in.branch;
	in.name = in.station = in.branch = NULL;
	if (at[SK_TENANTS] != NULL) {
		cfgkey_path(kp, sizeof(kp), path, "tenants");
		cfgkey_list(cx, at[SK_TENANTS], kp, cfg_tenant, s);
	}
out:
	cfgkey_free(site_keys, &in);
}

/* ------------------------------------------------------------------ */
/* devices, inline or from an inventory CSV */

struct dev_in {
	char		*id, *site, *profile, *host, *via, *inventory;
	uint32_t	 port, unit;
	int64_t		 interval, timeout;
};

enum { DK_ID, DK_SITE, DK_PROFILE, DK_HOST, DK_PORT, DK_UNIT, DK_VIA,
    DK_INTERVAL, DK_TIMEOUT, DK_INVENTORY, DK__N };

static const struct cfg_key device_keys[] = {
	[DK_ID] = KSTR("id", struct dev_in, id, NULL),
	[DK_SITE] = KSTR("site", struct dev_in, site, NULL),
	[DK_PROFILE] = KSTR("profile", struct dev_in, profile, NULL),
	[DK_HOST] = KSTR("host", struct dev_in, host, NULL),
	[DK_PORT] = KU32("port", struct dev_in, port, 1, 65535, NULL),
	[DK_UNIT] = KU32("unit", struct dev_in, unit, 0, 255, NULL),
	[DK_VIA] = KSTR("via", struct dev_in, via, NULL),
	[DK_INTERVAL] = KDUR("interval", struct dev_in, interval, 0.1, 3600,
	    NULL),
	[DK_TIMEOUT] = KDUR("timeout", struct dev_in, timeout, 0.01, 60, NULL),
	[DK_INVENTORY] = KSTR("inventory", struct dev_in, inventory, NULL),
	[DK__N] = K_END
};

/* One device as read, inline or from an inventory row; strings borrowed. */
struct dev_add {
	const char	*id, *site, *profile; /* NULL: not given */
	const char	*host, *via;	/* NULL: not given */
	uint32_t	 port;		/* 0: the modbus default */
	uint32_t	 unit;		/* UINT32_MAX: the modbus default */
	int64_t		 interval, timeout; /* 0: the modbus default */
};

/*
 * Adds one device at loc; fl[] are the positions of its site, profile and
 * via for errors naming them.  A gateway not read yet is deferred.
 */
static void
cfg_device_add(struct cfgkey_ctx *cx, struct fleet *f,
    const struct cfgkey_loc *loc, const struct cfgkey_loc fl[3],
    const char *path, const struct dev_add *in)
{
	struct fleet_device *d;
	char kp[CFGKEY_PATH_MAX];
	uint32_t di;

	if (in->id == NULL || in->site == NULL || in->profile == NULL) {
		cfgkey_error_at(cx, loc, path, "a device needs id, site and "
		    "profile");
		return;
	}
	if (in->host == NULL && in->via == NULL) {
		cfgkey_error_at(cx, loc, path, "device %s needs host (or via, a "
		    "gateway device it is reached through)", in->id);
		return;
	}
	if ((di = fleet_add(f, FLEET_DEVICE, in->id)) == FLEET_NONE) {
		cfgkey_error_at(cx, loc, path, "duplicate device id \"%s\"",
		    in->id);
		return;
	}
	d = &f->devices[di];
	d->host = in->host != NULL ? xstrdup(in->host) : NULL;
	d->port = (uint16_t)in->port;
	d->unit = in->unit == UINT32_MAX ? -1 : (int16_t)in->unit;
	d->interval_ms = (uint32_t)in->interval;
	d->timeout_ms = (uint32_t)in->timeout;
	/* the key's path is formatted only for an error (4 % of the load
	 * of 100,000 devices was formatting paths no error used) */
	if ((d->site = fleet_find(f, FLEET_SITE, in->site)) == FLEET_NONE) {
		cfgkey_path(kp, sizeof(kp), path, "site");
		cfg_ref_resolve(cx, f, &fl[0], kp, in->site, di, REF_SITE, 0);
	}
	d->profile = fleet_find(f, FLEET_PROFILE, in->profile);
	if (d->profile == FLEET_NONE) {
		cfgkey_path(kp, sizeof(kp), path, "profile");
		cfg_ref_resolve(cx, f, &fl[1], kp, in->profile, di,
		    REF_PROFILE, 0);
	}
	if (in->via != NULL) {
		cfgkey_path(kp, sizeof(kp), path, "via");
		if (cfg_ref_resolve(cx, f, &fl[2], kp, in->via, di, REF_VIA,
		    0) != 0)
			cfgkey_defer(cx, &fl[2], kp, in->via, di, REF_VIA);
	}
}

/* An inventory being read: where its rows go. */
struct inventory_arg {
	struct fleet	*fleet;
	const char	*path;		/* devices[i].inventory */
};

static void
cfg_inventory_row(struct cfgkey_ctx *cx, const struct cfgcsv_row *row,
    void *arg)
{
	const struct inventory_arg *ia = arg;
	const struct cfgkey_loc fl[3] = { row->site_at, row->profile_at,
	    row->via_at };
	const struct dev_add d = { row->id, row->site, row->profile, row->host,
	    row->via, row->port, row->unit, 0, 0 };

	cfg_device_add(cx, ia->fleet, &row->at, fl, ia->path, &d);
}

/* Lines in buf, a last one without its newline included. */
static size_t
cfg_count_lines(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	size_t n = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n + (len > 0 && buf[len - 1] != '\n');
}

/*
 * Reads the inventory file name (relative to the YAML's directory) and adds
 * its devices; at is the YAML node that named it.  The file is read whole
 * and parsed by cfgcsv_parse(): a fleet's inventory is a few MB at most.
 */
static void
cfg_inventory(struct cfgkey_ctx *cx, struct fleet *f, yaml_node_t *at,
    const char *path, const char *name)
{
	struct inventory_arg ia = { f, path };
	char full[4096], *buf;
	const char *file;
	size_t len;
	FILE *fp;
	int r;

	if (name[0] == '/')
		snprintf(full, sizeof(full), "%s", name);
	else
		snprintf(full, sizeof(full), "%s%s", cx->dir, name);
	if ((fp = fopen(full, "r")) == NULL) {
		cfgkey_error(cx, at, path, "cannot read inventory %s: %s", full,
		    strerror(errno));
		return;
	}
	/* deferred gateway names point at the file until the end of the read */
	file = cfgkey_keep(cx, full);
	r = cfgkey_read(fp, &buf, &len);
	fclose(fp);
	/* room for a device a line: the fleet neither moves nor rehashes
	 * while 100,000 of them are added (a tenth of the inventory's load) */
	fleet_reserve(f, FLEET_DEVICE, cfg_count_lines(buf, len));
	/* the rows before a read error count, as they did for a line reader */
	cfgcsv_parse(cx, file, path, buf, len, cfg_inventory_row, &ia);
	if (r != 0)
		cfgkey_error(cx, at, path, "reading inventory %s: %s", full,
		    strerror(-r));
	xfree(buf);
}

static void
cfg_device(struct cfgkey_ctx *cx, yaml_node_t *n, void *arg, const char *path)
{
	struct fleet *f = arg;
	struct dev_in in = { .unit = UINT32_MAX };
	yaml_node_t *at[DK__N];
	struct cfgkey_loc loc = cfgkey_loc(cx, n);

	if (cfgkey_item(cx, n, device_keys, &in, path, at) != 0)
		goto out;
	if (in.inventory != NULL) {
		char kp[CFGKEY_PATH_MAX];

		cfgkey_path(kp, sizeof(kp), path, "inventory");
		for (int i = 0; i < DK__N; i++)
			if (i != DK_INVENTORY && at[i] != NULL)
				cfgkey_error(cx, at[i], kp, "an inventory item "
				    "takes no other keys");
		cfg_inventory(cx, f, at[DK_INVENTORY], kp, in.inventory);
		goto out;
	}
	{
		const struct cfgkey_loc fl[3] = { cfgkey_loc(cx, at[DK_SITE]),
		    cfgkey_loc(cx, at[DK_PROFILE]), cfgkey_loc(cx, at[DK_VIA]) };
		const struct dev_add d = { in.id, in.site, in.profile, in.host,
		    in.via, in.port, in.unit, in.interval, in.timeout };

		cfg_device_add(cx, f, &loc, fl, path, &d);
	}
out:
	cfgkey_free(device_keys, &in);
}

/* Items in a YAML sequence (0 for any other node: cfgkey_list reports it). */
static size_t
cfg_seq_len(const yaml_node_t *n)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return 0;
	return (size_t)(n->data.sequence.items.top -
	    n->data.sequence.items.start);
}

void
cfgfleet_read(struct cfgkey_ctx *cx, struct fleet *f, struct mbmap *map,
    yaml_node_t *profiles, yaml_node_t *sites, yaml_node_t *devices)
{
	struct profile_arg pa = { f, map, 0 };

	if (profiles != NULL)
		cfgkey_pairs(cx, profiles, "profiles", cfg_profile, &pa);
	/* a map entry for every profile, even one whose points failed */
	if (f->nprofiles > 0)
		(void)mbmap_profile(map, (uint32_t)f->nprofiles - 1);
	if (sites != NULL) {
		fleet_reserve(f, FLEET_SITE, cfg_seq_len(sites));
		cfgkey_list(cx, sites, "sites", cfg_site, f);
	}
	if (devices != NULL) {
		fleet_reserve(f, FLEET_DEVICE, cfg_seq_len(devices));
		cfgkey_list(cx, devices, "devices", cfg_device, f);
	}
}

/* ------------------------------------------------------------------ */
/* Alarm codes named outside the profiles */

int
cfgfleet_read_code(struct cfgkey_ctx *cx, yaml_node_t *n, const char *path,
    char *dst, size_t len)
{
	const char *s = cfgkey_scalar(cx, n, path);
	struct cfgkey_loc loc = cfgkey_loc(cx, n);

	if (s == NULL)
		return -EINVAL;
	if (!cfg_code_ok(s) || strlen(s) >= len) {
		cfgkey_error(cx, n, path, "alarm codes are upper case letters, "
		    "digits and _ (like MAINS_FAIL), at most %zu, got \"%s\"",
		    len - 1, s);
		return -EINVAL;
	}
	snprintf(dst, len, "%s", s);
	cfgkey_defer(cx, &loc, path, s, 0, REF_CODE);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Resolution and whole-fleet checks */

/*
 * Resolves one name.  Profiles, sites, devices and correlation are walked in
 * that order whatever their order in the file, so a device's site and
 * profile resolve at once; a gateway named before it is defined, and alarm
 * codes (which every profile must be read for) wait for cfgfleet_resolve(),
 * which calls this again with final set.  Returns 0, or -EAGAIN when the
 * name must wait.
 */
static int
cfg_ref_resolve(struct cfgkey_ctx *cx, struct fleet *f,
    const struct cfgkey_loc *loc, const char *key, const char *name,
    uint32_t obj, enum cfg_ref_kind kind, int final)
{
	struct fleet_device *d = kind == REF_CODE ? NULL : &f->devices[obj];
	uint32_t v;

	switch (kind) {
	case REF_SITE:
		if ((v = fleet_find(f, FLEET_SITE, name)) == FLEET_NONE)
			cfgkey_error_at(cx, loc, key, "device %s names unknown "
			    "site \"%s\"", d->id, name);
		d->site = v;
		break;
	case REF_PROFILE:
		if ((v = fleet_find(f, FLEET_PROFILE, name)) == FLEET_NONE) {
			const char *names[64], *hint;
			size_t nn = 0;

			for (size_t j = 0; j < f->nprofiles && nn < 64; j++)
				names[nn++] = f->profiles[j].id;
			hint = cfgkey_suggest(name, names, nn);
			cfgkey_error_at(cx, loc, key, "device %s names unknown "
			    "profile \"%s\"%s%s%s", d->id, name,
			    hint ? " (did you mean \"" : "", hint ? hint : "",
			    hint ? "\"?)" : "");
		}
		d->profile = v;
		break;
	case REF_VIA:
		v = fleet_find(f, FLEET_DEVICE, name);
		if (v == FLEET_NONE) {
			if (!final)
				return -EAGAIN;
			cfgkey_error_at(cx, loc, key, "device %s is reached via "
			    "unknown device \"%s\"", d->id, name);
			break;
		}
		if (v == obj) {
			cfgkey_error_at(cx, loc, key, "device %s is reached via "
			    "itself", d->id);
			break;
		}
		if (f->devices[v].profile != FLEET_NONE &&
		    !f->profiles[f->devices[v].profile].gateway) {
			cfgkey_error_at(cx, loc, key, "device %s is reached via %s, "
			    "whose profile %s is not a gateway (gateway: true)",
			    d->id, f->devices[v].id,
			    f->profiles[f->devices[v].profile].id);
			break;
		}
		d->via = v;
		break;
	case REF_CODE:
		if (!final)
			return -EAGAIN;	/* checked once every profile is read */
		{
			int c = fleet_find_code(f, name);
			int produced = c == FLEET_CODE_COMM_LOSS;

			for (size_t i = 0; !produced && i < f->nprofiles; i++)
				for (size_t j = 0; j < f->profiles[i].nalarms;
				    j++)
					if (f->profiles[i].alarms[j].code_id ==
					    c)
						produced = 1;
			if (!produced)
				cfgkey_error_at(cx, loc, key, "alarm code %s is "
				    "raised by no profile", name);
		}
		break;
	}
	return 0;
}

void
cfgfleet_resolve(struct cfgkey_ctx *cx, struct fleet *f)
{
	for (size_t i = 0; i < cx->nrefs; i++) {
		const struct cfgkey_ref *r = &cx->refs[i];

		cfg_ref_resolve(cx, f, &r->loc, r->key, r->name, r->obj,
		    (enum cfg_ref_kind)r->kind, 1);
	}
	/* A gateway cannot itself be behind a gateway. */
	for (size_t i = 0; i < f->ndevices; i++) {
		struct fleet_device *d = &f->devices[i];
		const struct cfgkey_ref *at = NULL;

		if (d->via == FLEET_NONE || f->devices[d->via].via == FLEET_NONE)
			continue;
		/* the position is known when the name had to wait */
		for (size_t j = 0; j < cx->nrefs && at == NULL; j++)
			if (cx->refs[j].kind == REF_VIA && cx->refs[j].obj == i)
				at = &cx->refs[j];
		cfgkey_error_at(cx, at ? &at->loc : NULL,
		    at ? at->key : "devices", "device %s is reached via %s, "
		    "which is itself behind a gateway", d->id,
		    f->devices[d->via].id);
		d->via = FLEET_NONE;
	}
	/* A device behind a gateway is reached at the gateway's address. */
	for (size_t i = 0; i < f->ndevices; i++) {
		struct fleet_device *d = &f->devices[i], *g;

		if (d->via == FLEET_NONE)
			continue;
		g = &f->devices[d->via];
		if (d->host == NULL && g->host != NULL) {
			d->host = xstrdup(g->host);
			if (d->port == 0)
				d->port = g->port;
		}
	}
}

/* A device's address as the poller connects to it: defaults applied. */
struct cfg_addr {
	const char	*host;
	unsigned	 port;
	int		 unit;
};

static struct cfg_addr
cfg_addr_of(const struct fleet_device *d, uint32_t port, uint32_t unit)
{
	struct cfg_addr a = { d->host, d->port ? d->port : port,
	    d->unit >= 0 ? d->unit : (int)unit };

	return a;
}

static uint64_t
cfg_addr_hash(const struct cfg_addr *a)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)a->host; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h ^= ((uint64_t)a->port << 16 | (uint64_t)(a->unit & 0xffff)) *
	    0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 29);
}

/*
 * Reports devices that share an address (host, port and unit, defaults
 * applied), at most 20 pairs, in the order of the devices: each device is
 * checked against the last earlier one at its address, so three at one
 * address are two pairs (a and b, b and c).  A hash set of device indexes,
 * one pass: sorting 100,000 device indexes by their host strings was an
 * eighth of the instructions of loading that fleet.
 */
void
cfgfleet_check_addresses(struct cfgkey_ctx *cx, const struct fleet *f,
    uint32_t port, uint32_t unit)
{
	size_t mask = 15, reported = 0;
	uint32_t *slot;

	while (mask + 1 < f->ndevices * 2)
		mask = mask * 2 + 1;
	slot = xcalloc(mask + 1, sizeof(*slot));	/* device index + 1 */
	for (size_t i = 0; i < f->ndevices && reported < 20; i++) {
		const struct fleet_device *b = &f->devices[i];
		struct cfg_addr ab, aa;
		size_t k;

		if (b->host == NULL)
			continue;
		ab = cfg_addr_of(b, port, unit);
		for (k = cfg_addr_hash(&ab) & mask; slot[k] != 0;
		    k = (k + 1) & mask) {
			aa = cfg_addr_of(&f->devices[slot[k] - 1], port, unit);
			if (aa.port == ab.port && aa.unit == ab.unit &&
			    strcmp(aa.host, ab.host) == 0)
				break;
		}
		if (slot[k] != 0) {
			cfgkey_error_at(cx, NULL, "devices", "devices %s and %s "
			    "have the same address %s:%u unit %d",
			    f->devices[slot[k] - 1].id, b->id, ab.host,
			    ab.port, ab.unit);
			reported++;
		}
		slot[k] = (uint32_t)i + 1;
	}
	xfree(slot);
}
