/*
 * config.c - the YAML configuration loader (see config.h).
 *
 * Design.  The key-table engine is in cfgkey.c, the fleet sections
 * (profiles, sites, devices and their inventory CSV) in cfgfleet.c and
 * cfgcsv.c; this file holds the correlation and sla sections, the flat
 * sections and the top level, and loads and frees the whole.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/cfgfleet.h"
#include "daemon/cfgkey.h"
#include "daemon/config.h"
#include "daemon/mem.h"

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

static void
cfg_rule(struct cfgkey_ctx *cx, yaml_node_t *n, void *arg, const char *path)
{
	struct corr_config *cc = arg;
	struct rule_in in;
	yaml_node_t *at[RL__N];
	struct corr_rule r;
	char kp[CFGKEY_PATH_MAX];
	size_t i = 0;

	memset(&in, 0, sizeof(in));
	cfgkey_defaults(cx, rule_keys, &in);
	if (cfgkey_map(cx, n, rule_keys, &in, path, at) != 0)
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
cfg_rules(struct cfgkey_ctx *cx, yaml_node_t *n, void *base, const char *path)
{
	struct corr_config *cc = base;

	cc->nrules = 0;
	cfgkey_list(cx, n, path, cfg_rule, cc);
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
	KFN("rules", cfg_rules),
	KFLAT("storm", storm_keys),
	KFLAT("flapping", flapping_keys),
	KFLAT("chronic", chronic_keys),
	KDUR("reopen_hold", struct corr_config, reopen_hold_ms, 0, K_DAY, NULL),
	KBOOL("auto_resolve", struct corr_config, auto_resolve, NULL),
	KFN("id_prefix", cfg_id_prefix),
	K_END
};

static void
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


static const char *
n_clock(int i)
{
	return i < SLA__NCLOCKS ? sla_clock_name((enum sla_clock_kind)i) : NULL;
}
static const char *
n_arrive(int i)
{
	static const char *const v[] = { "dispatch", "open" };
	return i < 2 ? v[i] : NULL;
}
static const char *
n_climb(int i)
{
	static const char *const v[] = { "warning", "breach" };
	return i < 2 ? v[i] : NULL;
}
static const char *
n_clockrow(int i)
{
	static const char *const v[] = { "ack", "arrive", "resolve",
	    "resolve_complex" };
	return i < 4 ? v[i] : NULL;
}
static const char *
n_level(int i)
{
	return i < SLA_LEVEL__COUNT ? sla_level_name((enum sla_level)i) : NULL;
}
static const char *
n_grade(int i)
{
	/* SLA_GRADE_NONE is not a band's grade */
	return i + 1 < SLA_GRADE__COUNT ?
	    sla_grade_name((enum sla_grade)(i + 1)) : NULL;
}
static const char *
n_weekday(int i)
{
	static const char *const v[] = { "sun", "mon", "tue", "wed", "thu",
	    "fri", "sat" };
	return i < 7 ? v[i] : NULL;
}

static void
cfg_weekday(struct cfgkey_ctx *cx, yaml_node_t *n, const char *t, void *arg,
    const char *path)
{
	struct calendar *c = arg;
	int d;

	for (d = 0; d < 7; d++)
		if (strcmp(t, n_weekday(d)) == 0)
			break;
	if (d == 7)
		cfgkey_bad_name(cx, n, path, "weekday", t, n_weekday);
	else if (c->weekdays & (1u << d))
		cfgkey_error(cx, n, path, "weekday %s given twice", t);
	else
		c->weekdays |= (uint8_t)(1u << d);
}

static void
cfg_holiday(struct cfgkey_ctx *cx, yaml_node_t *n, const char *t, void *arg,
    const char *path)
{
	struct calendar *c = arg;
	int32_t day;

	if (calendar_parse_date(t, &day) != 0)
		cfgkey_error(cx, n, path, "expected a date YYYY-MM-DD, got \"%s\"", t);
	else
		calendar_add_holiday(c, day);
}

static int
cfg_hhmm(const char *s, unsigned *min)
{
	unsigned h, m;
	char tail;

	if (sscanf(s, "%2u:%2u%c", &h, &m, &tail) != 2 || h > 24 || m > 59 ||
	    (h == 24 && m != 0))
		return -1;
	*min = h * 60 + m;
	return 0;
}

static void
cfg_period(struct cfgkey_ctx *cx, yaml_node_t *n, const char *t, void *arg,
    const char *path)
{
	struct calendar *c = arg;
	char a[16], b[16];
	unsigned s0, s1;

	if (sscanf(t, "%15[0-9:]-%15[0-9:]", a, b) != 2 || cfg_hhmm(a, &s0) != 0 ||
	    cfg_hhmm(b, &s1) != 0)
		cfgkey_error(cx, n, path, "expected working hours such as "
		    "\"09:00-18:00\", got \"%s\"", t);
	else if (s0 >= s1)
		cfgkey_error(cx, n, path, "working hours \"%s\" are inverted or empty "
		    "(start must be before end)", t);
	else if (calendar_add_period(c, s0, s1) != 0)
		cfgkey_error(cx, n, path, "more than %d working periods in a day",
		    CALENDAR_MAX_PERIODS);
}

enum { CK_TZ, CK_WEEKDAYS, CK_HOURS, CK_HOLIDAYS, CK__N };

static const struct cfg_key calendar_keys[] = {
	[CK_TZ] = KFN("timezone", cfgkey_nop),
	[CK_WEEKDAYS] = KFN("weekdays", cfgkey_nop),
	[CK_HOURS] = KFN("hours", cfgkey_nop),
	[CK_HOLIDAYS] = KFN("holidays", cfgkey_nop),
	[CK__N] = K_END
};

static void
cfg_calendar(struct cfgkey_ctx *cx, yaml_node_t *n, struct calendar *c,
    const char *name, const char *path)
{
	yaml_node_t *at[CK__N];
	char kp[CFGKEY_PATH_MAX];
	const char *t, *why;
	int32_t off = 0;

	if (cfgkey_map(cx, n, calendar_keys, NULL, path, at) != 0)
		return;
	if (at[CK_TZ] != NULL) {
		cfgkey_path(kp, sizeof(kp), path, "timezone");
		if ((t = cfgkey_scalar(cx, at[CK_TZ], kp)) != NULL &&
		    calendar_parse_zone(t, &off, &why) != 0)
			cfgkey_error(cx, at[CK_TZ], kp, "%s, got \"%s\"", why, t);
	}
	calendar_fini(c);
	calendar_init_workdays(c, name, off);
	if (at[CK_WEEKDAYS] != NULL) {
		c->weekdays = 0;
		cfgkey_path(kp, sizeof(kp), path, "weekdays");
		cfgkey_scalars(cx, at[CK_WEEKDAYS], kp, cfg_weekday, c);
	}
	cfgkey_path(kp, sizeof(kp), path, "hours");
	if (at[CK_HOURS] == NULL)
		calendar_add_period(c, 9 * 60, 18 * 60);
	else if (at[CK_HOURS]->type == YAML_SCALAR_NODE)
		cfg_period(cx, at[CK_HOURS],
		    (const char *)at[CK_HOURS]->data.scalar.value, c, kp);
	else
		cfgkey_scalars(cx, at[CK_HOURS], kp, cfg_period, c);
	if (at[CK_HOLIDAYS] != NULL) {
		cfgkey_path(kp, sizeof(kp), path, "holidays");
		cfgkey_scalars(cx, at[CK_HOLIDAYS], kp, cfg_holiday, c);
	}
	if (c->nperiods > 0 && calendar_validate(c, &why) != 0)
		cfgkey_error(cx, n, path, "%s", why);
}

static void
cfg_calendars(struct cfgkey_ctx *cx, yaml_node_t *n, void *base, const char *path)
{
	struct sla_config *sla = base;

	if (cfgkey_expect(cx, n, YAML_MAPPING_NODE, path) != 0)
		return;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	    p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = cfgkey_node(cx, p->key);
		const char *name = cfgkey_scalar(cx, kn, path);
		char kp[CFGKEY_PATH_MAX];
		unsigned i;

		if (name == NULL)
			continue;
		cfgkey_path(kp, sizeof(kp), path, name);
		if (strlen(name) >= CALENDAR_NAME_MAX) {
			cfgkey_error(cx, kn, kp, "a calendar name has at most %d "
			    "characters", CALENDAR_NAME_MAX - 1);
			continue;
		}
		if (strcmp(name, "24x7") == 0) {
			cfgkey_error(cx, kn, kp, "24x7 is built in and cannot be "
			    "redefined");
			continue;
		}
		for (i = 0; i < sla->ncalendars; i++)
			if (strcmp(sla->calendars[i].name, name) == 0)
				break;
		if (i == sla->ncalendars) {
			if (i == SLA_MAX_CALENDARS) {
				cfgkey_error(cx, kn, kp, "more than %d calendars",
				    SLA_MAX_CALENDARS);
				continue;
			}
			memset(&sla->calendars[i], 0, sizeof(sla->calendars[i]));
			sla->ncalendars++;
		}
		cfg_calendar(cx, cfgkey_node(cx, p->value), &sla->calendars[i],
		    name, kp);
	}
}

static void
cfg_warning(struct cfgkey_ctx *cx, yaml_node_t *n, const char *t, void *arg,
    const char *path)
{
	static const struct cfg_key frac = { "warning", CT_DOUBLE, 0, 0.01, 0.99,
	    NULL, NULL, NULL, NULL };
	struct sla_config *sla = arg;
	double v;

	if (cfgkey_value(cx, &frac, n, t, &v, path) != 0)
		return;
	if (sla->nwarnings == SLA_MAX_WARNINGS)
		cfgkey_error(cx, n, path, "at most %d warnings", SLA_MAX_WARNINGS);
	else if (sla->nwarnings > 0 && v <= sla->warn_at[sla->nwarnings - 1])
		cfgkey_error(cx, n, path, "warning fractions must be ascending");
	else
		sla->warn_at[sla->nwarnings++] = v;
}

static void
cfg_warnings(struct cfgkey_ctx *cx, yaml_node_t *n, void *base, const char *path)
{
	struct sla_config *sla = base;

	sla->nwarnings = 0;
	cfgkey_scalars(cx, n, path, cfg_warning, sla);
}

/* A clock row, kept until every row is read (the most specific wins). */
struct clock_row {
	int		 clock, tier, severity, region;
	int64_t		 duration;
	int		 calendar;
};

struct clock_rows {
	const struct sla_config *sla;	/* its calendars, which rows name */
	struct clock_row *v;
	size_t		 n;
};

enum { LK_CLOCK, LK_TIER, LK_SEV, LK_REGION, LK_DURATION, LK_CALENDAR, LK__N };

static const struct cfg_key clock_keys[] = {
	[LK_CLOCK] = KENUM("clock", struct clock_row, clock, n_clockrow, NULL),
	[LK_TIER] = KENUM("tier", struct clock_row, tier, cfgkey_name_tier,
	    NULL),
	[LK_SEV] = KENUM("severity", struct clock_row, severity,
	    cfgkey_name_severity, NULL),
	[LK_REGION] = KENUM("region", struct clock_row, region,
	    cfgkey_name_region, NULL),
	[LK_DURATION] = KFN("duration", cfgkey_nop),
	[LK_CALENDAR] = KFN("calendar", cfgkey_nop),
	[LK__N] = K_END
};

static void
cfg_clock(struct cfgkey_ctx *cx, yaml_node_t *n, void *arg, const char *path)
{
	struct clock_rows *rows = arg;
	const struct sla_config *sla = rows->sla;
	struct clock_row r;
	yaml_node_t *at[LK__N];
	char kp[CFGKEY_PATH_MAX];
	const char *why, *text;

	memset(&r, 0, sizeof(r));
	r.clock = r.tier = r.severity = r.region = -1;
	if (cfgkey_map(cx, n, clock_keys, &r, path, at) != 0)
		return;
	if (at[LK_CLOCK] == NULL || at[LK_DURATION] == NULL) {
		cfgkey_error(cx, n, path, "a clock row needs clock and duration");
		return;
	}
	if (r.clock < 0 || (at[LK_TIER] && r.tier < 0) ||
	    (at[LK_SEV] && r.severity < 0) || (at[LK_REGION] && r.region < 0))
		return;		/* reported by cfgkey_map */
	cfgkey_path(kp, sizeof(kp), path, "duration");
	if ((text = cfgkey_scalar(cx, at[LK_DURATION], kp)) == NULL)
		return;
	if (text[0] == '-' || strcmp(text, "0") == 0) {
		cfgkey_error(cx, at[LK_DURATION], kp, "a clock's duration must be "
		    "positive, got \"%s\"", text);
		return;
	}
	if (cfgkey_parse_duration(text, &r.duration, &why) != 0) {
		cfgkey_error(cx, at[LK_DURATION], kp, "%s, got \"%s\"", why, text);
		return;
	}
	if (r.duration <= 0 || r.duration > SLA_MAX_DURATION_MS) {
		cfgkey_error(cx, at[LK_DURATION], kp, "a clock's duration must be "
		    "positive and at most 366d, got \"%s\"", text);
		return;
	}
	r.calendar = SLA_CAL_24X7;
	if (at[LK_CALENDAR] != NULL) {
		cfgkey_path(kp, sizeof(kp), path, "calendar");
		if ((text = cfgkey_scalar(cx, at[LK_CALENDAR], kp)) == NULL)
			return;
		for (r.calendar = 0; r.calendar < sla->ncalendars; r.calendar++)
			if (strcmp(sla->calendars[r.calendar].name, text) == 0)
				break;
		if (r.calendar == sla->ncalendars) {
			cfgkey_error(cx, at[LK_CALENDAR], kp, "unknown calendar \"%s\" "
			    "(24x7, workday, or one defined under sla.calendars)",
			    text);
			return;
		}
	}
	rows->v = xreallocarray(rows->v, rows->n + 1, sizeof(*rows->v));
	rows->v[rows->n++] = r;
}

/*
 * Fills the tables from the rows: for each cell the most specific matching
 * row (most of tier, severity, region given); among equals, the later row.
 * A table the rows do not mention keeps its defaults; a cell of a mentioned
 * table that no row covers is an error.
 */
static void
cfg_clock_tables(struct cfgkey_ctx *cx, struct sla_config *sla,
    const struct clock_rows *rows, yaml_node_t *at, const char *path)
{
	int reported = 0;

	for (int k = 0; k < 4; k++) {
		int mentioned = 0;

		for (size_t i = 0; i < rows->n; i++)
			mentioned |= rows->v[i].clock == k;
		if (!mentioned && k < 3 && rows->n > 0)
			mentioned = 1;	/* general clocks: every one is needed */
		if (!mentioned)
			continue;
		for (int t = 0; t < TIER__COUNT; t++)
		for (int s = 0; s < SEV__COUNT; s++)
		for (int r = 0; r < REGION__COUNT; r++) {
			struct sla_duration *d = k < 3 ? &sla->dur[k][t][s][r] :
			    &sla->complex_resolve[t][s][r];
			const struct clock_row *best = NULL;
			int bestspec = -1;

			for (size_t i = 0; i < rows->n; i++) {
				const struct clock_row *w = &rows->v[i];
				int spec = (w->tier >= 0) + (w->severity >= 0) +
				    (w->region >= 0);

				if (w->clock != k || (w->tier >= 0 && w->tier != t) ||
				    (w->severity >= 0 && w->severity != s) ||
				    (w->region >= 0 && w->region != r))
					continue;
				if (spec >= bestspec) {
					best = w;
					bestspec = spec;
				}
			}
			memset(d, 0, sizeof(*d));
			if (best != NULL) {
				d->ms = best->duration;
				d->calendar = (uint8_t)best->calendar;
				d->set = 1;
			} else if (reported++ < 5)
				cfgkey_error(cx, at, path, "no duration for the %s "
				    "clock of tier %s, severity %s, region %s",
				    n_clockrow(k), cfgkey_name_tier(t), cfgkey_name_severity(s), cfgkey_name_region(r));
		}
	}
}

struct rung_in {
	int		 level, on;
	uint32_t	 warning;
	int64_t		 after;
};

enum { RK_LEVEL, RK_ON, RK_WARNING, RK_AFTER, RK_CLOCKS, RK__N };

static const struct cfg_key rung_keys[] = {
	[RK_LEVEL] = KENUM("level", struct rung_in, level, n_level, NULL),
	[RK_ON] = KENUM("on", struct rung_in, on, n_climb, NULL),
	[RK_WARNING] = KU32("warning", struct rung_in, warning, 0, SLA_MAX_WARNINGS - 1, "0"),
	[RK_AFTER] = KDUR("after", struct rung_in, after, 0, 366 * K_DAY, "0"),
	[RK_CLOCKS] = KFN("clocks", cfgkey_nop),
	[RK__N] = K_END
};

static void
cfg_rung_clock(struct cfgkey_ctx *cx, yaml_node_t *n, const char *t, void *arg,
    const char *path)
{
	struct sla_rung *r = arg;
	int k;

	for (k = 0; k < SLA__NCLOCKS; k++)
		if (strcmp(t, n_clock(k)) == 0)
			break;
	if (k == SLA__NCLOCKS)
		cfgkey_bad_name(cx, n, path, "clock", t, n_clock);
	else
		r->clocks |= (uint8_t)(1u << k);
}

static void
cfg_rung(struct cfgkey_ctx *cx, yaml_node_t *n, void *arg, const char *path)
{
	struct sla_config *sla = arg;
	struct rung_in in;
	yaml_node_t *at[RK__N];
	struct sla_rung r;
	char kp[CFGKEY_PATH_MAX];

	memset(&in, 0, sizeof(in));
	in.level = in.on = -1;
	cfgkey_defaults(cx, rung_keys, &in);
	if (cfgkey_map(cx, n, rung_keys, &in, path, at) != 0)
		return;
	if (at[RK_LEVEL] == NULL || at[RK_ON] == NULL) {
		cfgkey_error(cx, n, path, "an escalation step needs level (station, "
		    "branch, headquarters) and on (warning or breach)");
		return;
	}
	if (in.level < 0 || in.on < 0)
		return;		/* reported by cfgkey_map */
	if (sla->nrungs == SLA_MAX_RUNGS) {
		cfgkey_error(cx, n, path, "at most %d escalation steps", SLA_MAX_RUNGS);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.level = (uint8_t)in.level;
	r.on = (uint8_t)in.on;
	r.warning = (uint8_t)in.warning;
	r.after_ms = in.after;
	if (at[RK_CLOCKS] != NULL) {
		cfgkey_path(kp, sizeof(kp), path, "clocks");
		cfgkey_scalars(cx, at[RK_CLOCKS], kp, cfg_rung_clock, &r);
	}
	sla->rungs[sla->nrungs++] = r;
}

static void
cfg_ladder(struct cfgkey_ctx *cx, yaml_node_t *n, void *base, const char *path)
{
	struct sla_config *sla = base;

	/* a rung naming a warning that does not exist: sla_config_validate() */
	sla->nrungs = 0;
	cfgkey_list(cx, n, path, cfg_rung, base);
}

struct band_in {
	int64_t		 under;
	uint32_t	 points;
	int		 grade;
};

enum { BK_UNDER, BK_POINTS, BK_GRADE, BK__N };

static const struct cfg_key band_keys[] = {
	[BK_UNDER] = KDUR("under", struct band_in, under, 0.001, 3650 * K_DAY, NULL),
	[BK_POINTS] = KU32("points", struct band_in, points, 0, 100, NULL),
	[BK_GRADE] = KENUM("grade", struct band_in, grade, n_grade, NULL),
	[BK__N] = K_END
};

struct bands_arg {
	struct sla_config *sla;
	int		 response;	/* points bands, else grade bands */
	int64_t		 last;		/* under of the previous band */
	uint8_t		*n;
};

static void
cfg_band(struct cfgkey_ctx *cx, yaml_node_t *n, void *arg, const char *path)
{
	struct bands_arg *ba = arg;
	struct band_in in;
	yaml_node_t *at[BK__N];
	int64_t under;

	memset(&in, 0, sizeof(in));
	in.grade = -1;
	if (cfgkey_map(cx, n, band_keys, &in, path, at) != 0)
		return;
	if (ba->response ? at[BK_POINTS] == NULL : at[BK_GRADE] == NULL) {
		cfgkey_error(cx, n, path, "a %s band needs %s", ba->response ?
		    "response" : "resolution", ba->response ? "points" : "grade");
		return;
	}
	if (!ba->response && in.grade < 0)
		return;		/* reported by cfgkey_map */
	if (ba->last == INT64_MAX) {
		cfgkey_error(cx, n, path, "a band after the open-ended last band "
		    "(the one without under)");
		return;
	}
	under = at[BK_UNDER] != NULL ? in.under : INT64_MAX;
	if (*ba->n > 0 && under <= ba->last) {
		cfgkey_error(cx, at[BK_UNDER], path, "bands must be ascending in under");
		return;
	}
	if (*ba->n == SLA_MAX_BANDS) {
		cfgkey_error(cx, n, path, "at most %d bands", SLA_MAX_BANDS);
		return;
	}
	if (ba->response)
		ba->sla->score_bands[*ba->n] = (struct sla_score_band){ under,
		    (int)in.points };
	else
		ba->sla->grade_bands[*ba->n] = (struct sla_grade_band){ under,
		    (uint8_t)(in.grade + 1) };
	(*ba->n)++;
	ba->last = under;
}

static void
cfg_scores(struct cfgkey_ctx *cx, yaml_node_t *n, void *base, const char *path)
{
	static const struct cfg_key keys[] = {
		KFN("response", cfgkey_nop), KFN("resolution", cfgkey_nop), K_END
	};
	struct sla_config *sla = base;
	yaml_node_t *at[2];
	struct bands_arg ba;
	char kp[CFGKEY_PATH_MAX];

	if (cfgkey_map(cx, n, keys, NULL, path, at) != 0)
		return;
	for (int i = 0; i < 2; i++) {
		if (at[i] == NULL)
			continue;
		ba.sla = sla;
		ba.response = i == 0;
		ba.last = 0;
		ba.n = i == 0 ? &sla->nscore_bands : &sla->ngrade_bands;
		*ba.n = 0;
		size_t before = cfgkey_nerrors(cx);

		cfgkey_path(kp, sizeof(kp), path, keys[i].name);
		cfgkey_list(cx, at[i], kp, cfg_band, &ba);
		if (cfgkey_nerrors(cx) == before && *ba.n > 0 &&
		    ba.last != INT64_MAX)
			cfgkey_error(cx, at[i], kp, "the last band must have no "
			    "under (it takes everything slower)");
	}
}

enum { QK_WARNINGS, QK_ARRIVE, QK_CALENDARS, QK_CLOCKS, QK_ESCALATION,
    QK_SCORES, QK__N };

static const struct cfg_key sla_keys[] = {
	[QK_WARNINGS] = KFN("warnings", cfg_warnings),
	[QK_ARRIVE] = KFN("arrive_starts", cfgkey_nop),
	[QK_CALENDARS] = KFN("calendars", cfg_calendars),
	[QK_CLOCKS] = KFN("clocks", cfgkey_nop),
	[QK_ESCALATION] = KFN("escalation", cfg_ladder),
	[QK_SCORES] = KFN("scores", cfg_scores),
	[QK__N] = K_END
};

static void
cfgsla_read(struct cfgkey_ctx *cx, yaml_node_t *n, struct sla_config *sla,
    const char *path)
{
	static const struct cfg_key arrive = { "arrive_starts", CT_ENUM, 0, 0, 0,
	    NULL, n_arrive, NULL, NULL };
	struct sla_config_error verr[8];
	yaml_node_t *at[QK__N];
	char kp[CFGKEY_PATH_MAX];
	size_t before = cfgkey_nerrors(cx), nv;

	if (cfgkey_map(cx, n, sla_keys, sla, path, at) != 0)
		return;
	if (at[QK_ARRIVE] != NULL) {
		const char *t;
		int v = 0;

		cfgkey_path(kp, sizeof(kp), path, "arrive_starts");
		if ((t = cfgkey_scalar(cx, at[QK_ARRIVE], kp)) != NULL &&
		    cfgkey_value(cx, &arrive, at[QK_ARRIVE], t, &v, kp) == 0)
			sla->arrive_start = v ? SLA_ARRIVE_AT_OPEN :
			    SLA_ARRIVE_AT_DISPATCH;
	}
	if (at[QK_CLOCKS] != NULL) {
		struct clock_rows rows = { sla, NULL, 0 };

		cfgkey_path(kp, sizeof(kp), path, "clocks");
		cfgkey_list(cx, at[QK_CLOCKS], kp, cfg_clock, &rows);
		if (cfgkey_nerrors(cx) == before)
			cfg_clock_tables(cx, sla, &rows, at[QK_CLOCKS], kp);
		xfree(rows.v);
	}
	if (cfgkey_nerrors(cx) != before)
		return;
	/* What the per-key checks above cannot see (a rung naming a warning
	 * that does not exist, ...): the engine's own validation. */
	nv = sla_config_validate(sla, verr, sizeof(verr) / sizeof(verr[0]));
	for (size_t i = 0; i < nv && i < sizeof(verr) / sizeof(verr[0]); i++)
		cfgkey_error(cx, n, verr[i].field, "%s", verr[i].reason);
}


/* ------------------------------------------------------------------ */
/* daemon, modbus, kafka, redis, http, output: flat tables */

static const char *
n_log(int i)
{
	static const char *const v[] = { "debug", "info", "warn", "error" };
	return i < 4 ? v[i] : NULL;
}

static const struct cfg_key daemon_keys[] = {
	KSTR("state_dir", struct cfg_daemon, state_dir, "/var/lib/tocsin"),
	KENUM("log_level", struct cfg_daemon, log_level, n_log, "info"),
	KSTR("log_file", struct cfg_daemon, log_file, NULL),
	KU32("shards", struct cfg_daemon, shards, 1, 64, "2"),
	K_END
};

static const struct cfg_key modbus_keys[] = {
	KU32("port", struct cfg_modbus, port, 1, 65535, "502"),
	KU32("unit", struct cfg_modbus, unit, 0, 255, "1"),
	KDUR("timeout", struct cfg_modbus, timeout_ms, 0.01, 60, "1s"),
	KDUR("interval", struct cfg_modbus, interval_ms, 0.1, 3600, "5s"),
	KU32("max_registers", struct cfg_modbus, max_registers, 1, 125, "125"),
	KU32("max_bits", struct cfg_modbus, max_bits, 1, 2000, "2000"),
	KU32("max_gap", struct cfg_modbus, max_gap, 0, 124, "8"),
	KU32("inflight", struct cfg_modbus, inflight, 1, 16, "1"),
	KDUR("backoff_min", struct cfg_modbus, backoff_min_ms, 0.01, 3600, "1s"),
	KDUR("backoff_max", struct cfg_modbus, backoff_max_ms, 0.01, 86400, "60s"),
	KU32("comm_loss_misses", struct cfg_modbus, comm_loss_misses, 1, 1000, "3"),
	KU32("connections_per_host", struct cfg_modbus, connections_per_host, 1, 16, "1"),
	KU32("connect_rate", struct cfg_modbus, connect_rate, 1, 1000000, "500"),
	KU32("connect_rate_per_host", struct cfg_modbus, connect_rate_per_host, 1, 1000, "2"),
	KU32("breaker_failures", struct cfg_modbus, breaker_failures, 1, 1000, "3"),
	KDUR("breaker_cooldown", struct cfg_modbus, breaker_cooldown_ms, 0.1, 86400, "30s"),
	KDUR("connect_timeout", struct cfg_modbus, connect_timeout_ms, 0.1, 60, "3s"),
	KDUR("timer_slack", struct cfg_modbus, timer_slack_ms, 0, 0.1, "5ms"),
	KU32("stall_timeouts", struct cfg_modbus, stall_timeouts, 1, 100, "3"),
	KU32("frames_per_wakeup", struct cfg_modbus, frames_per_wakeup, 1, 1024, "16"),
	KU32("connect_burst_per_host", struct cfg_modbus, connect_burst_per_host, 1, 1000, "4"),
	K_END
};

static void
cfg_kafka_properties(struct cfgkey_ctx *cx, yaml_node_t *n, void *base,
    const char *path)
{
	/* Properties tocsin sets itself: delivery guarantees are not optional. */
	static const char *const owned[] = {
		"bootstrap.servers", "metadata.broker.list", "enable.idempotence",
		"acks", "request.required.acks",
	};
	struct cfg_kafka *k = base;

	if (cfgkey_expect(cx, n, YAML_MAPPING_NODE, path) != 0)
		return;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	    p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = cfgkey_node(cx, p->key);
		yaml_node_t *vn = cfgkey_node(cx, p->value);
		const char *key = cfgkey_scalar(cx, kn, path), *val;
		char kp[CFGKEY_PATH_MAX];
		int bad = 0;

		if (key == NULL)
			continue;
		cfgkey_path(kp, sizeof(kp), path, key);
		if ((val = cfgkey_scalar(cx, vn, kp)) == NULL)
			continue;
		for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
			if (strcmp(key, owned[i]) == 0)
				bad = 1;
		if (bad) {
			cfgkey_error(cx, kn, kp, "set by tocsin (use "
			    "kafka.brokers; the producer is always idempotent "
			    "with acks=all)");
			continue;
		}
		k->properties = xreallocarray(k->properties, k->nproperties + 1,
		    sizeof(*k->properties));
		k->properties[k->nproperties].key = xstrdup(key);
		k->properties[k->nproperties].value = xstrdup(val);
		k->nproperties++;
	}
}

static const struct cfg_key kafka_keys[] = {
	KSTR("brokers", struct cfg_kafka, brokers, ""),
	KSTR("topic_incidents", struct cfg_kafka, topic_incidents, "tocsin.incidents"),
	KSTR("topic_alarms", struct cfg_kafka, topic_alarms, "tocsin.alarms"),
	KSTR("topic_telemetry", struct cfg_kafka, topic_telemetry, "tocsin.telemetry"),
	KSTR("topic_actions", struct cfg_kafka, topic_actions, "tocsin.actions"),
	KSTR("topic_rejected", struct cfg_kafka, topic_rejected, "tocsin.actions.rejected"),
	KSTR("group_id", struct cfg_kafka, group_id, "tocsin"),
	KBOOL("publish_alarms", struct cfg_kafka, publish_alarms, "false"),
	KBOOL("publish_telemetry", struct cfg_kafka, publish_telemetry, "false"),
	KSIZE("queue_max", struct cfg_kafka, queue_max, 16, 100000000, "100k"),
	KFN("properties", cfg_kafka_properties),
	K_END
};

static const struct cfg_key redis_keys[] = {
	KBOOL("enabled", struct cfg_redis, enabled, "true"),
	KSTR("host", struct cfg_redis, host, "127.0.0.1"),
	KU32("port", struct cfg_redis, port, 1, 65535, "6379"),
	KSTR("prefix", struct cfg_redis, prefix, "tocsin:"),
	KSTR("password_file", struct cfg_redis, password_file, NULL),
	KSIZE("stream_maxlen", struct cfg_redis, stream_maxlen, 100, 100000000, "100k"),
	KSIZE("queue_max", struct cfg_redis, queue_max, 16, 100000000, "100k"),
	K_END
};

static const struct cfg_key http_keys[] = {
	KBOOL("enabled", struct cfg_http, enabled, "true"),
	KSTR("bind", struct cfg_http, bind, "127.0.0.1"),
	KU32("port", struct cfg_http, port, 1, 65535, "8080"),
	KSTR("token_file", struct cfg_http, token_file, NULL),
	K_END
};

static const struct cfg_key output_keys[] = {
	KSTR("file", struct cfg_output, file, NULL),
	K_END
};


enum { TK_DAEMON, TK_MODBUS, TK_PROFILES, TK_SITES, TK_DEVICES,
    TK_CORRELATION, TK_SLA, TK_KAFKA, TK_REDIS, TK_HTTP, TK_OUTPUT, TK__N };

static const struct cfg_key top_keys[] = {
	[TK_DAEMON] = KSEC("daemon", struct config, daemon, daemon_keys),
	[TK_MODBUS] = KSEC("modbus", struct config, modbus, modbus_keys),
	[TK_PROFILES] = KFN("profiles", cfgkey_nop),
	[TK_SITES] = KFN("sites", cfgkey_nop),
	[TK_DEVICES] = KFN("devices", cfgkey_nop),
	[TK_CORRELATION] = KFN("correlation", cfgkey_nop),
	[TK_SLA] = KFN("sla", cfgkey_nop),
	[TK_KAFKA] = KSEC("kafka", struct config, kafka, kafka_keys),
	[TK_REDIS] = KSEC("redis", struct config, redis, redis_keys),
	[TK_HTTP] = KSEC("http", struct config, http, http_keys),
	[TK_OUTPUT] = KSEC("output", struct config, output, output_keys),
	[TK__N] = K_END
};

/* ------------------------------------------------------------------ */
/* The whole file */

/* Parses buf and walks it into cfg; errors go to cx. */
static void
cfg_walk(struct cfgkey_ctx *cx, struct config *cfg, const char *buf,
    size_t len)
{
	yaml_node_t *root, *at[TK__N];

	if (cfgkey_parse(cx, buf, len, &root) != 0)
		return;
	if (cfgkey_map(cx, root, top_keys, cfg, "", at) != 0)
		return;
	if (at[TK_PROFILES] != NULL)
		cfgfleet_read_profiles(cx, cfg->fleet, at[TK_PROFILES],
		    "profiles");
	if (at[TK_SITES] != NULL)
		cfgfleet_read_sites(cx, cfg->fleet, at[TK_SITES], "sites");
	if (at[TK_DEVICES] != NULL)
		cfgfleet_read_devices(cx, cfg->fleet, at[TK_DEVICES], "devices");
	if (at[TK_CORRELATION] != NULL)
		cfgcorr_read(cx, at[TK_CORRELATION], &cfg->correlation,
		    "correlation");
	if (at[TK_SLA] != NULL)
		cfgsla_read(cx, at[TK_SLA], &cfg->sla, "sla");
}


/* Checks across sections, once every section read cleanly. */
static void
cfg_cross_checks(struct cfgkey_ctx *cx, const struct config *cfg)
{
	cfgfleet_check_addresses(cx, cfg->fleet, cfg->modbus.port,
	    cfg->modbus.unit);
	if (cfg->modbus.backoff_min_ms > cfg->modbus.backoff_max_ms)
		cfgkey_error_at(cx, NULL, "modbus.backoff_min", "above "
		    "modbus.backoff_max");
	if (cfg->modbus.timeout_ms > cfg->modbus.interval_ms)
		cfgkey_error_at(cx, NULL, "modbus.timeout", "longer than "
		    "modbus.interval: a poll would overlap the next one");
	if (strcmp(cfg->http.bind, "127.0.0.1") != 0 &&
	    strcmp(cfg->http.bind, "::1") != 0 &&
	    strcmp(cfg->http.bind, "localhost") != 0 &&
	    cfg->http.token_file == NULL)
		cfgkey_error_at(cx, NULL, "http.bind", "binding %s beyond "
		    "loopback needs http.token_file", cfg->http.bind);
}

struct config *
config_load_buffer(const char *name, const char *buf, size_t len,
    struct config_errors *errs)
{
	struct cfgkey_ctx cx;
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	size_t before = errs->n;

	cfgkey_init(&cx, name, errs);
	cfg->path = xstrdup(name);
	cfg->fleet = fleet_new();
	cfgkey_defaults(&cx, top_keys, cfg);
	corr_config_defaults(&cfg->correlation);
	sla_config_defaults(&cfg->sla);

	cfg_walk(&cx, cfg, buf, len);
	cfgfleet_resolve(&cx, cfg->fleet);
	/* the incidents' clocks run on the sla section */
	cfg->correlation.sla = &cfg->sla;
	if (errs->n == before)
		cfg_cross_checks(&cx, cfg);
	cfgkey_fini(&cx);
	if (errs->n != before) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

struct config *
config_load(const char *path, struct config_errors *errs)
{
	struct config *cfg;
	char *buf;
	size_t len;
	FILE *fp;
	int r;

	if ((fp = fopen(path, "r")) == NULL) {
		cfgkey_errors_add(errs, "%s: cannot read: %s", path,
		    strerror(errno));
		return NULL;
	}
	r = cfgkey_read(fp, &buf, &len);
	fclose(fp);
	if (r != 0) {
		cfgkey_errors_add(errs, "%s: cannot read: %s", path,
		    strerror(-r));
		xfree(buf);
		return NULL;
	}
	cfg = config_load_buffer(path, buf, len, errs);
	xfree(buf);
	return cfg;
}

void
config_errors_free(struct config_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		xfree(errs->msg[i]);
	FREE_NULL(errs->msg);
	errs->n = 0;
}

static void
config_free_parts(struct config *cfg)
{
	xfree(cfg->path);
	xfree(cfg->daemon.state_dir);
	xfree(cfg->daemon.log_file);
	sla_config_fini(&cfg->sla);
	xfree(cfg->kafka.brokers);
	xfree(cfg->kafka.topic_incidents);
	xfree(cfg->kafka.topic_alarms);
	xfree(cfg->kafka.topic_telemetry);
	xfree(cfg->kafka.topic_actions);
	xfree(cfg->kafka.topic_rejected);
	xfree(cfg->kafka.group_id);
	for (size_t i = 0; i < cfg->kafka.nproperties; i++) {
		xfree(cfg->kafka.properties[i].key);
		xfree(cfg->kafka.properties[i].value);
	}
	xfree(cfg->kafka.properties);
	xfree(cfg->redis.host);
	xfree(cfg->redis.prefix);
	xfree(cfg->redis.password_file);
	xfree(cfg->http.bind);
	xfree(cfg->http.token_file);
	xfree(cfg->output.file);
	fleet_free(cfg->fleet);
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	config_free_parts(cfg);
	xfree(cfg);
}

void
config_census(const struct config *cfg, char *buf, size_t len)
{
	const struct fleet *f = cfg->fleet;
	size_t points = 0, rules = 0;

	for (size_t i = 0; i < f->ndevices; i++) {
		const struct fleet_profile *p = &f->profiles[f->devices[i].profile];
		points += p->npoints;
		rules += p->nalarms;
	}
	snprintf(buf, len, "%zu sites, %zu areas, %zu devices, %zu profiles, "
	    "%zu points, %zu alarm rules", f->nsites, f->nareas, f->ndevices,
	    f->nprofiles, points, rules);
}

/* The value parsers' public names: one implementation, in the module that
 * reads the values. */
int
config_parse_duration(const char *s, int64_t *ms, const char **why)
{
	return cfgkey_parse_duration(s, ms, why);
}

int
config_parse_size(const char *s, uint64_t *bytes, const char **why)
{
	return cfgkey_parse_size(s, bytes, why);
}

int
config_parse_modicon(const char *s, enum mb_table *table, uint16_t *address,
    const char **why)
{
	return cfgfleet_parse_modicon(s, table, address, why);
}
