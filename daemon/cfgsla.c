/*
 * cfgsla.c - the sla section (see cfgsla.h).
 *
 * Design.  The section is read straight into struct sla_config, which
 * starts from sla_config_defaults() (DOMAIN.md section 3), and what the
 * file gives replaces it: a `clocks` list rebuilds the general duration
 * tables, rows with `clock: resolve_complex` rebuild the complex table
 * (`complaint_ack`, `complaint_resolve`, or `complaint` for both, the
 * complaint tables), and
 * `warnings`, `escalation` and `scores` lists replace theirs.  Calendars are
 * added to the built-in "24x7" and "workday", or redefine "workday" by
 * name; they are read before the clock rows that name them, whatever the
 * order in the file, because `clocks` is read after the rest of the mapping.
 *
 * Clock rows are kept until every row is read and then spread over the
 * [clock][tier][severity][region] cells, the most specific row winning, so a
 * file states a general rule and its exceptions in any order.  Per-key
 * checks report where the file is wrong; what they cannot see (a rung
 * naming a warning that does not exist, ...) is left to the engine's own
 * sla_config_validate(), run only when the section read cleanly, so one
 * mistake is not reported twice.
 *
 * This module depends on nothing but cfgkey and the SLA engine's header:
 * it is the one section that names no fleet object.
 */
#include <stdio.h>
#include <string.h>

#include "daemon/cfgsla.h"
#include "daemon/mem.h"

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
/*
 * Clock rows: the three general tables, then the special ones, which keep
 * their defaults unless a row names them; `complaint` is both complaint
 * tables at once (the standard gives one number for respond and resolve).
 */
enum { CR_RESOLVE_COMPLEX = 3, CR_COMPLAINT_ACK, CR_COMPLAINT_RESOLVE,
	CR__TABLES, CR_COMPLAINT = CR__TABLES };

static const char *
n_clockrow(int i)
{
	static const char *const v[] = { "ack", "arrive", "resolve",
	    "resolve_complex", "complaint_ack", "complaint_resolve",
	    "complaint" };
	return i <= CR_COMPLAINT ? v[i] : NULL;
}

/* The duration table of clock row kind k (< CR__TABLES). */
static struct sla_duration (*
clock_table(struct sla_config *sla, int k))[SEV__COUNT][REGION__COUNT]
{
	switch (k) {
	case CR_RESOLVE_COMPLEX:
		return sla->complex_resolve;
	case CR_COMPLAINT_ACK:
		return sla->complaint_ack;
	case CR_COMPLAINT_RESOLVE:
		return sla->complaint_resolve;
	default:
		return sla->dur[k];
	}
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

/* NAME: {...} of calendars: a new calendar, or one defined again. */
static void
cfg_calendar_entry(struct cfgkey_ctx *cx, yaml_node_t *kn, const char *name,
    yaml_node_t *vn, void *arg, const char *path)
{
	struct sla_config *sla = arg;
	unsigned i;

	if (strlen(name) >= CALENDAR_NAME_MAX) {
		cfgkey_error(cx, kn, path, "a calendar name has at most %d "
		    "characters", CALENDAR_NAME_MAX - 1);
		return;
	}
	if (strcmp(name, "24x7") == 0) {
		cfgkey_error(cx, kn, path, "24x7 is built in and cannot be "
		    "redefined");
		return;
	}
	for (i = 0; i < sla->ncalendars; i++)
		if (strcmp(sla->calendars[i].name, name) == 0)
			break;
	if (i == sla->ncalendars) {
		if (i == SLA_MAX_CALENDARS) {
			cfgkey_error(cx, kn, path, "more than %d calendars",
			    SLA_MAX_CALENDARS);
			return;
		}
		memset(&sla->calendars[i], 0, sizeof(sla->calendars[i]));
		sla->ncalendars++;
	}
	cfg_calendar(cx, vn, &sla->calendars[i], name, path);
}

static void
cfg_calendars(struct cfgkey_ctx *cx, yaml_node_t *n, void *base, const char *path)
{
	cfgkey_pairs(cx, n, path, cfg_calendar_entry, base);
}

/* An item of warnings: a fraction above the one before it. */
static void
cfg_warning(struct cfgkey_ctx *cx, yaml_node_t *n, void *base, const char *path)
{
	static const struct cfg_key frac = { "warning", CT_DOUBLE, 0, 0.01, 0.99,
	    NULL, NULL, NULL, NULL, 0 };
	struct sla_config *sla = base;
	const char *t;
	double v;

	if ((t = cfgkey_scalar(cx, n, path)) == NULL ||
	    cfgkey_value(cx, &frac, n, t, &v, path) != 0)
		return;
	if (sla->nwarnings == SLA_MAX_WARNINGS)
		cfgkey_error(cx, n, path, "at most %d warnings", SLA_MAX_WARNINGS);
	else if (sla->nwarnings > 0 && v <= sla->warn_at[sla->nwarnings - 1])
		cfgkey_error(cx, n, path, "warning fractions must be ascending");
	else
		sla->warn_at[sla->nwarnings++] = v;
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
	struct clock_row r = { .clock = -1, .tier = -1, .severity = -1,
	    .region = -1 };
	yaml_node_t *at[LK__N];
	char kp[CFGKEY_PATH_MAX];
	const char *why, *text;

	if (cfgkey_item(cx, n, clock_keys, &r, path, at) != 0)
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
	if (r.clock == CR_COMPLAINT) {	/* both complaint clocks */
		rows->v = xreallocarray(rows->v, rows->n + 1, sizeof(*rows->v));
		r.clock = CR_COMPLAINT_ACK;
		rows->v[rows->n++] = r;
		r.clock = CR_COMPLAINT_RESOLVE;
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

	for (int k = 0; k < CR__TABLES; k++) {
		int mentioned = 0;

		for (size_t i = 0; i < rows->n; i++)
			mentioned |= rows->v[i].clock == k;
		if (!mentioned && k < CR_RESOLVE_COMPLEX && rows->n > 0)
			mentioned = 1;	/* general clocks: every one is needed */
		if (!mentioned)
			continue;
		for (int t = 0; t < TIER__COUNT; t++)
		for (int s = 0; s < SEV__COUNT; s++)
		for (int r = 0; r < REGION__COUNT; r++) {
			struct sla_duration *d = &clock_table(sla, k)[t][s][r];
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
				    n_clockrow(k), cfgkey_name_tier(t),
				    cfgkey_name_severity(s), cfgkey_name_region(r));
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

/*
 * An item of escalation.  A rung naming a warning that does not exist is
 * sla_config_validate()'s to report.
 */
static void
cfg_rung(struct cfgkey_ctx *cx, yaml_node_t *n, void *base, const char *path)
{
	struct sla_config *sla = base;
	struct rung_in in = { .level = -1, .on = -1 };
	yaml_node_t *at[RK__N];
	struct sla_rung r;
	char kp[CFGKEY_PATH_MAX];

	if (cfgkey_item(cx, n, rung_keys, &in, path, at) != 0)
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
	struct band_in in = { .grade = -1 };
	yaml_node_t *at[BK__N];
	int64_t under;

	if (cfgkey_item(cx, n, band_keys, &in, path, at) != 0)
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
		cfgkey_error(cx, at[BK_UNDER], path, "bands must be ascending "
		    "in under");
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
	[QK_WARNINGS] = KLIST("warnings", struct sla_config, nwarnings,
	    cfg_warning),
	[QK_ARRIVE] = KFN("arrive_starts", cfgkey_nop),
	[QK_CALENDARS] = KFN("calendars", cfg_calendars),
	[QK_CLOCKS] = KFN("clocks", cfgkey_nop),
	[QK_ESCALATION] = KLIST("escalation", struct sla_config, nrungs,
	    cfg_rung),
	[QK_SCORES] = KFN("scores", cfg_scores),
	[QK__N] = K_END
};

void
cfgsla_read(struct cfgkey_ctx *cx, yaml_node_t *n, struct sla_config *sla,
    const char *path)
{
	static const struct cfg_key arrive = { "arrive_starts", CT_ENUM, 0, 0, 0,
	    NULL, n_arrive, NULL, NULL, 0 };
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

