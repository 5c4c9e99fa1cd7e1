/*
 * sla.c - the SLA clock engine.
 *
 * A clock is a line of "clock time" from 0 to its duration D, measured on its
 * calendar and frozen while the incident is paused.  On that line sit marks,
 * numbered for tie-breaking: warnings 0..nw-1 at round(warn_at[k] * D), the
 * breach (mark nw) at D, and ladder rungs (mark nw+1+r) at their trigger's
 * position plus after_ms.  Equal positions fire in mark order, so a warning
 * precedes the rung it triggers and the breach precedes "escalate on breach".
 *
 * State is a stretch: since_ms is where the current stretch began (start,
 * resume, pause or stop), consumed_ms the clock time used before it.  While
 * running, the clock time at t is consumed + calendar_between(since, t), and
 * mark m is due at calendar_add(since, pos(m) - consumed).  Only the next
 * unfired mark is armed in the timerq, so a clock holds one timer whatever its
 * marks; firing a mark arms the next.  Pausing folds the stretch into
 * consumed and cancels the timer; resuming starts a new stretch and re-arms.
 * Remaining time is therefore exact to the ms across any number of pauses,
 * and a jump of `now` over many marks fires them all, each at its own instant.
 *
 * Scores use active wall time (running, not paused), independent of the
 * clock's calendar: the response score on the ack clock, the resolution
 * grade on the resolve clock.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "correlator/sla.h"
#include "correlator/snapbuf.h"
#include "daemon/mem.h"
#include "daemon/names.h"

#define HOUR	CAL_MS_PER_HOUR

static const char *const clock_names[SLA__NCLOCKS] = { "ack", "arrive", "resolve" };
static const char *const level_names[SLA_LEVEL__COUNT] =
    { "station", "branch", "headquarters" };
static const char *const grade_names[SLA_GRADE__COUNT] =
    { "none", "immediate", "within_a_day", "over_a_day" };
static const char *const event_names[] =
    { "sla_warning", "sla_breached", "escalated" };
static const char *const state_names[] = { "idle", "running", "stopped" };

NAMES_GET_FN(sla_clock_name, enum sla_clock_kind, clock_names, SLA__NCLOCKS)
NAMES_GET_FN(sla_clock_state_name, enum sla_clock_state, state_names,
    SLA_CLOCK_STOPPED + 1)
NAMES_GET_FN(sla_level_name, enum sla_level, level_names, SLA_LEVEL__COUNT)
NAMES_FNS(sla_grade_name, sla_grade_parse, enum sla_grade, grade_names,
    SLA_GRADE__COUNT)
NAMES_GET_FN(sla_event_name, enum sla_event_type, event_names,
    SLA_EV_ESCALATED + 1)

/* ---- configuration ---- */

static void
set_all(struct sla_duration d[TIER__COUNT][SEV__COUNT][REGION__COUNT],
    int tier, int region, int64_t ms, uint8_t cal)
{
	int t, s, r;

	for (t = 0; t < TIER__COUNT; t++)
		for (s = 0; s < SEV__COUNT; s++)
			for (r = 0; r < REGION__COUNT; r++) {
				if ((tier >= 0 && t != tier) ||
				    (region >= 0 && r != region))
					continue;
				d[t][s][r].ms = ms;
				d[t][s][r].calendar = cal;
				d[t][s][r].set = 1;
			}
}

void
sla_config_defaults(struct sla_config *c)
{
	struct calendar *wd;

	memset(c, 0, sizeof(*c));
	calendar_init_24x7(&c->calendars[SLA_CAL_24X7], "24x7");
	wd = &c->calendars[1];
	calendar_init_workdays(wd, "workday", 8 * 60);
	calendar_add_period(wd, 9 * 60, 18 * 60);
	c->ncalendars = 2;

	set_all(c->dur[SLA_ACK], TIER_STANDARD, -1, 1 * HOUR, SLA_CAL_24X7);
	set_all(c->dur[SLA_ACK], TIER_PREMIUM, -1, 60 * 1000, SLA_CAL_24X7);
	set_all(c->dur[SLA_ARRIVE], -1, REGION_A, 2 * HOUR, SLA_CAL_24X7);
	set_all(c->dur[SLA_ARRIVE], -1, REGION_B, 12 * HOUR, SLA_CAL_24X7);
	set_all(c->dur[SLA_ARRIVE], -1, REGION_C, 48 * HOUR, SLA_CAL_24X7);
	/* The standard's own numbers: premium resolve is longer (24 h) than
	 * standard general resolve (8 h).  Kept as data; see docs/sla.md. */
	set_all(c->dur[SLA_RESOLVE], TIER_STANDARD, -1, 8 * HOUR, SLA_CAL_24X7);
	set_all(c->dur[SLA_RESOLVE], TIER_PREMIUM, -1, 24 * HOUR, SLA_CAL_24X7);
	/* 3 working days of 9 h on the workday calendar. */
	set_all(c->complex_resolve, TIER_STANDARD, -1, 3 * 9 * HOUR, 1);
	set_all(c->complex_resolve, TIER_PREMIUM, -1, 24 * HOUR, SLA_CAL_24X7);
	/* "Complaint: respond and resolve 48 h", one column: every tier. */
	set_all(c->complaint_ack, -1, -1, 48 * HOUR, SLA_CAL_24X7);
	set_all(c->complaint_resolve, -1, -1, 48 * HOUR, SLA_CAL_24X7);

	c->arrive_start = SLA_ARRIVE_AT_DISPATCH;
	c->nwarnings = 2;
	c->warn_at[0] = 0.5;
	c->warn_at[1] = 0.8;
	c->nrungs = 3;
	c->rungs[0] = (struct sla_rung){ SLA_LEVEL_STATION, SLA_ON_WARNING, 0, 0, 0 };
	c->rungs[1] = (struct sla_rung){ SLA_LEVEL_BRANCH, SLA_ON_BREACH, 0, 0, 0 };
	c->rungs[2] = (struct sla_rung){ SLA_LEVEL_HQ, SLA_ON_BREACH, 0, 0, 4 * HOUR };
	c->nscore_bands = 4;
	c->score_bands[0] = (struct sla_score_band){ 1 * HOUR, 5 };
	c->score_bands[1] = (struct sla_score_band){ 3 * HOUR, 4 };
	c->score_bands[2] = (struct sla_score_band){ 24 * HOUR, 3 };
	c->score_bands[3] = (struct sla_score_band){ INT64_MAX, 1 };
	c->ngrade_bands = 3;
	c->grade_bands[0] = (struct sla_grade_band){ 1 * HOUR, SLA_GRADE_IMMEDIATE };
	c->grade_bands[1] = (struct sla_grade_band){ 24 * HOUR, SLA_GRADE_DAY };
	c->grade_bands[2] = (struct sla_grade_band){ INT64_MAX, SLA_GRADE_OVER_DAY };
}

void
sla_config_fini(struct sla_config *c)
{
	unsigned i;

	for (i = 0; i < SLA_MAX_CALENDARS; i++)
		calendar_fini(&c->calendars[i]);
}

struct errlist {
	struct sla_config_error *v;
	size_t		 max;
	size_t		 n;
};

static void
err_add(struct errlist *el, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
err_add(struct errlist *el, const char *reason, const char *fmt, ...)
{
	va_list ap;

	if (el->n < el->max) {
		va_start(ap, fmt);
		vsnprintf(el->v[el->n].field, sizeof(el->v[el->n].field), fmt, ap);
		va_end(ap);
		el->v[el->n].reason = reason;
	}
	el->n++;
}

static void
check_table(const struct sla_config *c,
    const struct sla_duration d[TIER__COUNT][SEV__COUNT][REGION__COUNT],
    const char *name, struct errlist *el)
{
	int t, s, r;

	for (t = 0; t < TIER__COUNT; t++)
		for (s = 0; s < SEV__COUNT; s++)
			for (r = 0; r < REGION__COUNT; r++) {
				const struct sla_duration *x = &d[t][s][r];
				const char *why = NULL;

				if (!x->set)
					why = "no duration for this tier x severity x region";
				else if (x->ms <= 0)
					why = "duration must be positive";
				else if (x->ms > SLA_MAX_DURATION_MS)
					why = "duration longer than a year";
				else if (x->calendar >= c->ncalendars)
					why = "unknown calendar";
				if (why != NULL)
					err_add(el, why, "sla.clocks.%s.%s.%s.%s",
					    name, fleet_tier_name(t), fleet_severity_name(s),
					    fleet_region_name(r));
			}
}

static void
check_bands(const int64_t *below, size_t stride, unsigned n, const char *name,
    struct errlist *el)
{
	unsigned i;

	if (n == 0 || n > SLA_MAX_BANDS) {
		err_add(el, "needs 1 to 8 bands", "sla.scores.%s", name);
		return;
	}
	for (i = 0; i < n; i++) {
		int64_t b = *(const int64_t *)((const char *)below + i * stride);
		int64_t p = i == 0 ? 0 :
		    *(const int64_t *)((const char *)below + (i - 1) * stride);

		if (b <= p)
			err_add(el, "band bounds must be positive and ascending",
			    "sla.scores.%s[%u]", name, i);
	}
	if (*(const int64_t *)((const char *)below + (n - 1) * stride) !=
	    INT64_MAX)
		err_add(el, "the last band must have no upper bound",
		    "sla.scores.%s[%u]", name, n - 1);
}

size_t
sla_config_validate(const struct sla_config *c, struct sla_config_error *errs,
    size_t max)
{
	struct errlist el = { errs, max, 0 };
	unsigned i;

	if (c->ncalendars == 0 || c->ncalendars > SLA_MAX_CALENDARS)
		err_add(&el, "needs 1 to 8 calendars", "sla.calendars");
	else if (!c->calendars[SLA_CAL_24X7].always)
		err_add(&el, "calendar 0 must be 24x7", "sla.calendars[0]");
	for (i = 0; i < c->ncalendars && i < SLA_MAX_CALENDARS; i++) {
		const char *why;
		unsigned j;

		if (calendar_validate(&c->calendars[i], &why) != 0)
			err_add(&el, why, "sla.calendars.%s", c->calendars[i].name);
		for (j = 0; j < i; j++)
			if (strcmp(c->calendars[i].name, c->calendars[j].name) == 0)
				err_add(&el, "duplicate calendar name",
				    "sla.calendars.%s", c->calendars[i].name);
	}
	for (i = 0; i < SLA__NCLOCKS; i++)
		check_table(c, c->dur[i], clock_names[i], &el);
	check_table(c, c->complex_resolve, "resolve_complex", &el);
	check_table(c, c->complaint_ack, "complaint_ack", &el);
	check_table(c, c->complaint_resolve, "complaint_resolve", &el);
	if (c->arrive_start > SLA_ARRIVE_AT_OPEN)
		err_add(&el, "must be dispatch or open", "sla.arrive_start");
	if (c->nwarnings > SLA_MAX_WARNINGS)
		err_add(&el, "at most 4 warnings", "sla.warnings");
	for (i = 0; i < c->nwarnings && i < SLA_MAX_WARNINGS; i++) {
		double f = c->warn_at[i];

		if (!(f > 0.0 && f < 1.0))
			err_add(&el, "warning fraction must be in (0, 1)",
			    "sla.warnings[%u]", i);
		else if (i > 0 && f <= c->warn_at[i - 1])
			err_add(&el, "warning fractions must ascend",
			    "sla.warnings[%u]", i);
	}
	if (c->nrungs > SLA_MAX_RUNGS)
		err_add(&el, "at most 8 rungs", "sla.escalation");
	for (i = 0; i < c->nrungs && i < SLA_MAX_RUNGS; i++) {
		const struct sla_rung *r = &c->rungs[i];

		if (r->level >= SLA_LEVEL__COUNT)
			err_add(&el, "level must be station, branch or headquarters",
			    "sla.escalation[%u].level", i);
		if (r->on > SLA_ON_BREACH)
			err_add(&el, "trigger must be warning or breach",
			    "sla.escalation[%u].on", i);
		else if (r->on == SLA_ON_WARNING && r->warning >= c->nwarnings)
			err_add(&el, "no such warning", "sla.escalation[%u].warning", i);
		if (r->clocks > 7)
			err_add(&el, "unknown clock", "sla.escalation[%u].clocks", i);
		if (r->after_ms < 0)
			err_add(&el, "delay must not be negative",
			    "sla.escalation[%u].after", i);
		else if (r->after_ms > SLA_MAX_DURATION_MS)
			err_add(&el, "delay longer than a year",
			    "sla.escalation[%u].after", i);
	}
	check_bands(&c->score_bands[0].below_ms, sizeof(c->score_bands[0]),
	    c->nscore_bands, "response", &el);
	check_bands(&c->grade_bands[0].below_ms, sizeof(c->grade_bands[0]),
	    c->ngrade_bands, "resolution", &el);
	return el.n;
}

int
sla_response_score(const struct sla_config *c, int64_t ms)
{
	unsigned i;

	for (i = 0; i < c->nscore_bands; i++)
		if (ms < c->score_bands[i].below_ms)
			return c->score_bands[i].score;
	return 0;
}

enum sla_grade
sla_resolution_grade(const struct sla_config *c, int64_t ms)
{
	unsigned i;

	for (i = 0; i < c->ngrade_bands; i++)
		if (ms < c->grade_bands[i].below_ms)
			return c->grade_bands[i].grade;
	return SLA_GRADE_NONE;
}

/* ---- clocks ---- */

static struct sla_incident *
clock_incident(struct sla_clock *c)
{
	return (struct sla_incident *)((char *)(c - c->kind) -
	    offsetof(struct sla_incident, clocks));
}

static const struct calendar *
clock_cal(const struct sla_engine *e, const struct sla_clock *c)
{
	return &e->cfg->calendars[c->calendar];
}

static unsigned
nmarks(const struct sla_config *cfg)
{
	return cfg->nwarnings + 1u + cfg->nrungs;
}

/* Position of mark m on the clock-time line of a clock of duration d. */
static int64_t
mark_pos(const struct sla_config *cfg, int64_t d, unsigned m)
{
	const struct sla_rung *r;

	if (m < cfg->nwarnings)
		return llround((double)d * cfg->warn_at[m]);
	if (m == cfg->nwarnings)
		return d;
	r = &cfg->rungs[m - cfg->nwarnings - 1];
	return (r->on == SLA_ON_WARNING ? mark_pos(cfg, d, r->warning) : d) +
	    r->after_ms;
}

/* Arms the clock's timer for its next unfired mark, if any. */
static void
arm(struct sla_engine *e, struct sla_clock *c)
{
	const struct sla_config *cfg = e->cfg;
	unsigned m, n = nmarks(cfg), best = n;
	int64_t bpos = INT64_MAX;

	for (m = 0; m < n; m++) {
		int64_t p;

		if (c->fired & (1u << m))
			continue;
		p = mark_pos(cfg, c->duration_ms, m);
		if (p < bpos) {
			bpos = p;
			best = m;
		}
	}
	if (best == n) {
		timerq_cancel(&e->tq, &c->tn);
		return;
	}
	c->next = (uint8_t)best;
	timerq_add(&e->tq, &c->tn, bpos <= c->consumed_ms ? c->since_ms :
	    calendar_add(clock_cal(e, c), c->since_ms, bpos - c->consumed_ms));
}

/* Fires the armed mark of c at instant at, then arms the next. */
static void
fire(struct sla_engine *e, struct sla_clock *c, int64_t at)
{
	const struct sla_config *cfg = e->cfg;
	struct sla_incident *inc = clock_incident(c);
	struct sla_event ev;
	unsigned m = c->next;

	if (e->fired != NULL)
		e->fired(inc, e->arg);
	c->fired |= (uint16_t)(1u << m);
	memset(&ev, 0, sizeof(ev));
	ev.inc = inc;
	ev.at_ms = at;
	ev.deadline_ms = c->deadline_ms;
	ev.clock = c->kind;
	ev.level = inc->level;
	if (m < cfg->nwarnings) {
		ev.type = SLA_EV_WARNING;
		ev.warning = (uint8_t)m;
		ev.fraction = cfg->warn_at[m];
		e->emit(&ev, e->arg);
	} else if (m == cfg->nwarnings) {
		ev.type = SLA_EV_BREACHED;
		e->emit(&ev, e->arg);
	} else {
		const struct sla_rung *r = &cfg->rungs[m - cfg->nwarnings - 1];

		/* A rung only ever climbs: a lower one after a higher is moot. */
		if ((int)r->level > inc->level) {
			inc->level = (int8_t)r->level;
			ev.type = SLA_EV_ESCALATED;
			ev.level = inc->level;
			e->emit(&ev, e->arg);
		}
	}
	arm(e, c);
}

static void
on_timer(struct timerq_node *node, int64_t at, void *arg)
{
	struct sla_clock *c = (struct sla_clock *)((char *)node -
	    offsetof(struct sla_clock, tn));

	fire(arg, c, at);
}

/* Fires c's own marks due at or before now (an action at now sees them). */
static void
catch_up(struct sla_engine *e, struct sla_clock *c, int64_t now)
{
	while (timerq_pending(&c->tn) && c->tn.deadline <= now) {
		int64_t at = c->tn.deadline;

		timerq_cancel(&e->tq, &c->tn);
		fire(e, c, at);
	}
}

/* Begins a running stretch at now (start or resume of a clock). */
static void
run(struct sla_engine *e, struct sla_clock *c, int64_t now)
{
	c->since_ms = now;
	if (c->consumed_ms < c->duration_ms)
		c->deadline_ms = calendar_add(clock_cal(e, c), now,
		    c->duration_ms - c->consumed_ms);
	arm(e, c);
}

/* Ends the running stretch at now: folds it into consumed and active. */
static void
halt(struct sla_engine *e, struct sla_clock *c, int64_t now)
{
	catch_up(e, c, now);
	timerq_cancel(&e->tq, &c->tn);
	c->consumed_ms += calendar_between(clock_cal(e, c), c->since_ms, now);
	c->active_ms += now - c->since_ms;
	c->since_ms = now;
}

static void
clock_start(struct sla_engine *e, struct sla_incident *inc,
    struct sla_clock *c, int64_t now)
{
	const struct sla_config *cfg = e->cfg;
	unsigned r;

	c->state = SLA_CLOCK_RUNNING;
	c->since_ms = now;
	c->consumed_ms = 0;
	c->active_ms = 0;
	c->fired = 0;
	/* Rungs that do not watch this clock count as fired. */
	for (r = 0; r < cfg->nrungs; r++)
		if (cfg->rungs[r].clocks != 0 &&
		    !(cfg->rungs[r].clocks & (1u << c->kind)))
			c->fired |= (uint16_t)(1u << (cfg->nwarnings + 1 + r));
	c->deadline_ms = calendar_add(clock_cal(e, c), now, c->duration_ms);
	if (inc->pause == 0)
		run(e, c, now);
}

static void
clock_stop(struct sla_engine *e, struct sla_incident *inc,
    struct sla_clock *c, int64_t now)
{
	if (c->state != SLA_CLOCK_RUNNING)
		return;
	if (inc->pause == 0)
		halt(e, c, now);
	else
		c->since_ms = now;
	c->state = SLA_CLOCK_STOPPED;
	if (c->kind == SLA_ACK)
		inc->response_score = (int8_t)sla_response_score(e->cfg,
		    c->active_ms);
	else if (c->kind == SLA_RESOLVE)
		inc->grade = (uint8_t)sla_resolution_grade(e->cfg, c->active_ms);
}

/* ---- engine ---- */

int
sla_engine_init(struct sla_engine *e, const struct sla_config *cfg,
    sla_event_fn *emit, void *arg, size_t hint)
{
	struct sla_config_error err;

	if (sla_config_validate(cfg, &err, 1) != 0)
		return -EINVAL;
	e->cfg = cfg;
	e->emit = emit;
	e->arg = arg;
	e->fired = NULL;
	timerq_init(&e->tq, hint);
	return 0;
}

void
sla_engine_fini(struct sla_engine *e)
{
	timerq_fini(&e->tq);
}

void
sla_params_for_site(struct sla_params *p, const struct fleet_site *s,
    enum severity sev, int complex, int planned)
{
	memset(p, 0, sizeof(*p));
	p->tier = (uint8_t)fleet_effective_tier(s->tenants, s->ntenants);
	p->severity = (uint8_t)sev;
	p->region = s->region;
	p->complex = complex != 0;
	p->planned = planned != 0;
}

int
sla_open(struct sla_engine *e, struct sla_incident *inc, int64_t now,
    const struct sla_params *p)
{
	const struct sla_config *cfg = e->cfg;
	unsigned k;

	if (p->tier >= TIER__COUNT || p->severity >= SEV__COUNT ||
	    p->region >= REGION__COUNT)
		return -EINVAL;
	memset(inc, 0, sizeof(*inc));
	inc->level = -1;
	inc->tier = p->tier;
	inc->severity = p->severity;
	inc->region = p->region;
	inc->complex = p->complex && !p->complaint;
	inc->pause = p->planned ? SLA_PAUSE_PLANNED : 0;
	for (k = 0; k < SLA__NCLOCKS; k++) {
		struct sla_clock *c = &inc->clocks[k];
		const struct sla_duration *d =
		    &cfg->dur[k][p->tier][p->severity][p->region];

		if (p->complaint && k == SLA_ACK)
			d = &cfg->complaint_ack[p->tier][p->severity][p->region];
		else if (p->complaint && k == SLA_RESOLVE)
			d = &cfg->complaint_resolve[p->tier][p->severity]
			    [p->region];
		else if (k == SLA_RESOLVE && p->complex)
			d = &cfg->complex_resolve[p->tier][p->severity][p->region];

		timerq_node_init(&c->tn);
		c->kind = (uint8_t)k;
		c->duration_ms = d->ms;
		c->calendar = d->calendar;
		c->state = SLA_CLOCK_IDLE;
		c->since_ms = now;
	}
	sla_incident_key(inc, p->key);	/* before any timer is queued */
	clock_start(e, inc, &inc->clocks[SLA_ACK], now);
	clock_start(e, inc, &inc->clocks[SLA_RESOLVE], now);
	if (cfg->arrive_start == SLA_ARRIVE_AT_OPEN && !p->complaint)
		clock_start(e, inc, &inc->clocks[SLA_ARRIVE], now);
	return 0;
}

#define IN(state)	(1u << SLA_CLOCK_##state)
enum { STOP_NONE, STOP_IT, STOP_ALL };

/*
 * What each step of the work does to the clocks: the clock it is about,
 * the states of that clock it is taken in (any other refuses it with
 * `refused`), whether it starts the clock when idle and what it stops.
 * An arrival clock not started at dispatch starts and stops at once.
 */
static const struct {
	uint8_t		 clock;		/* enum sla_clock_kind */
	uint8_t		 taken_in;	/* IN() bits */
	uint8_t		 start;		/* start the clock if idle */
	uint8_t		 stop;		/* STOP_* */
	const char	*refused;
} sla_steps[] = {
	[SLA_STEP_ACK] = { SLA_ACK, IN(RUNNING), 0, STOP_IT,
	    "already acknowledged" },
	[SLA_STEP_DISPATCH] = { SLA_ARRIVE, IN(IDLE), 1, STOP_NONE,
	    "arrival clock already started" },
	[SLA_STEP_ON_SITE] = { SLA_ARRIVE, IN(IDLE) | IN(RUNNING), 1, STOP_IT,
	    "already on site" },
	[SLA_STEP_RESOLVE] = { SLA_RESOLVE, IN(RUNNING), 0, STOP_ALL,
	    "already resolved" },
};
#undef IN

int
sla_step(struct sla_engine *e, struct sla_incident *inc, enum sla_step step,
    int64_t now, const char **why)
{
	struct sla_clock *c;

	if ((unsigned)step >= sizeof(sla_steps) / sizeof(sla_steps[0])) {
		*why = "unknown step";
		return -EINVAL;
	}
	c = &inc->clocks[sla_steps[step].clock];
	if (!(sla_steps[step].taken_in & (1u << c->state))) {
		*why = sla_steps[step].refused;
		return -EALREADY;
	}
	if (sla_steps[step].start && c->state == SLA_CLOCK_IDLE)
		clock_start(e, inc, c, now);
	if (sla_steps[step].stop == STOP_IT)
		clock_stop(e, inc, c, now);
	else if (sla_steps[step].stop == STOP_ALL)
		for (unsigned k = 0; k < SLA__NCLOCKS; k++)
			clock_stop(e, inc, &inc->clocks[k], now);
	return 0;
}

int
sla_pause(struct sla_engine *e, struct sla_incident *inc,
    enum sla_pause_cause cause, int64_t now, const char *note,
    const char **why)
{
	unsigned k, running = 0;

	for (k = 0; k < SLA__NCLOCKS; k++)
		running += inc->clocks[k].state == SLA_CLOCK_RUNNING;
	if (running == 0) {
		*why = "every clock of the incident has stopped";
		return -EINVAL;
	}
	if (cause != SLA_PAUSE_PLANNED && cause != SLA_PAUSE_OPERATOR) {
		*why = "unknown pause cause";
		return -EINVAL;
	}
	if (cause == SLA_PAUSE_OPERATOR && (note == NULL || *note == '\0')) {
		*why = "an operator pause needs a documented reason";
		return -EINVAL;
	}
	if (inc->pause & cause) {
		*why = "already paused for this cause";
		return -EINVAL;
	}
	if (inc->pause == 0)
		for (k = 0; k < SLA__NCLOCKS; k++)
			if (inc->clocks[k].state == SLA_CLOCK_RUNNING)
				halt(e, &inc->clocks[k], now);
	inc->pause |= (uint8_t)cause;
	return 0;
}

int
sla_resume(struct sla_engine *e, struct sla_incident *inc,
    enum sla_pause_cause cause, int64_t now, const char **why)
{
	unsigned k;

	if (!(inc->pause & cause)) {
		*why = "not paused for this cause";
		return -EINVAL;
	}
	inc->pause &= (uint8_t)~cause;
	if (inc->pause != 0)
		return 0;
	for (k = 0; k < SLA__NCLOCKS; k++) {
		struct sla_clock *c = &inc->clocks[k];

		if (c->state == SLA_CLOCK_RUNNING)
			run(e, c, now);
		else if (c->state == SLA_CLOCK_IDLE)
			c->since_ms = now;
	}
	return 0;
}

void
sla_close(struct sla_engine *e, struct sla_incident *inc)
{
	unsigned k;

	for (k = 0; k < SLA__NCLOCKS; k++)
		timerq_cancel(&e->tq, &inc->clocks[k].tn);
}

size_t
sla_advance(struct sla_engine *e, int64_t now)
{
	return timerq_advance(&e->tq, now, on_timer, e);
}

int64_t
sla_next(const struct sla_engine *e)
{
	return timerq_next(&e->tq);
}

void
sla_incident_key(struct sla_incident *inc, uint64_t key)
{
	for (unsigned k = 0; k < SLA__NCLOCKS; k++)
		inc->clocks[k].tn.tie = key * SLA__NCLOCKS + k;
}

/* ---- snapshots ---- */

void
sla_incident_save(const struct sla_incident *inc, struct snapbuf *b,
    int slots)
{
	snapbuf_put_u8(b, inc->pause);
	snapbuf_put_u8(b, (uint8_t)inc->level);
	snapbuf_put_u8(b, (uint8_t)inc->response_score);
	snapbuf_put_u8(b, inc->grade);
	snapbuf_put_u8(b, inc->tier);
	snapbuf_put_u8(b, inc->severity);
	snapbuf_put_u8(b, inc->region);
	snapbuf_put_u8(b, inc->complex);
	for (unsigned k = 0; k < SLA__NCLOCKS; k++) {
		const struct sla_clock *c = &inc->clocks[k];
		int queued = timerq_pending(&c->tn);

		snapbuf_put_i64(b, c->duration_ms);
		snapbuf_put_i64(b, c->deadline_ms);
		snapbuf_put_i64(b, c->since_ms);
		snapbuf_put_i64(b, c->consumed_ms);
		snapbuf_put_i64(b, c->active_ms);
		snapbuf_put_u16(b, c->fired);
		snapbuf_put_u8(b, c->state);
		snapbuf_put_u8(b, c->calendar);
		snapbuf_put_u8(b, c->next);
		snapbuf_put_u32(b, slots || !queued ? c->tn.slot : 0);
		/* an idle node's deadline is stale: not state */
		snapbuf_put_i64(b, queued ? c->tn.deadline : 0);
	}
}

int
sla_incident_load(const struct sla_engine *e, struct sla_incident *inc,
    struct snapbuf_rd *r, uint32_t slot[SLA__NCLOCKS])
{
	const struct sla_config *cfg = e->cfg;
	unsigned nm = nmarks(cfg);

	memset(inc, 0, sizeof(*inc));
	for (unsigned k = 0; k < SLA__NCLOCKS; k++) {
		timerq_node_init(&inc->clocks[k].tn);
		inc->clocks[k].kind = (uint8_t)k;
		slot[k] = TIMERQ_IDLE;
	}
	inc->pause = snapbuf_get_u8(r);
	inc->level = (int8_t)snapbuf_get_u8(r);
	inc->response_score = (int8_t)snapbuf_get_u8(r);
	inc->grade = snapbuf_get_u8(r);
	inc->tier = snapbuf_get_u8(r);
	inc->severity = snapbuf_get_u8(r);
	inc->region = snapbuf_get_u8(r);
	inc->complex = snapbuf_get_u8(r);
	if (snapbuf_ok(r) != 0)
		return -1;
	if (inc->pause > (SLA_PAUSE_PLANNED | SLA_PAUSE_OPERATOR) ||
	    inc->level < -1 || inc->level >= SLA_LEVEL__COUNT ||
	    inc->grade >= SLA_GRADE__COUNT || inc->tier >= TIER__COUNT ||
	    inc->severity >= SEV__COUNT || inc->region >= REGION__COUNT ||
	    inc->complex > 1)
		return snapbuf_fail(r, "SLA incident field out of range");
	for (unsigned k = 0; k < SLA__NCLOCKS; k++) {
		struct sla_clock *c = &inc->clocks[k];
		int64_t deadline;

		c->duration_ms = snapbuf_get_span(r);
		c->deadline_ms = snapbuf_get_time(r);
		c->since_ms = snapbuf_get_time(r);
		c->consumed_ms = snapbuf_get_span(r);
		c->active_ms = snapbuf_get_span(r);
		c->fired = snapbuf_get_u16(r);
		c->state = snapbuf_get_u8(r);
		c->calendar = snapbuf_get_u8(r);
		c->next = snapbuf_get_u8(r);
		slot[k] = snapbuf_get_u32(r);
		deadline = snapbuf_get_i64(r);
		if (snapbuf_ok(r) != 0)
			return -1;
		if (c->duration_ms <= 0 || c->duration_ms > SLA_MAX_DURATION_MS ||
		    c->state > SLA_CLOCK_STOPPED ||
		    c->calendar >= cfg->ncalendars || c->next >= nm ||
		    (nm < 16 && c->fired >> nm != 0))
			return snapbuf_fail(r, "SLA clock field out of range");
		if (slot[k] == TIMERQ_IDLE)
			continue;
		if (c->state != SLA_CLOCK_RUNNING || inc->pause != 0)
			return snapbuf_fail(r, "SLA timer on a clock not running");
		if (deadline < SNAPBUF_T_MIN || deadline > SNAPBUF_T_MAX)
			return snapbuf_fail(r, "SLA timer deadline out of range");
		/* kept until sla_requeue_run() queues it */
		c->tn.deadline = deadline;
	}
	return 0;
}

void
sla_requeue_add(struct sla_requeue *q, struct sla_incident *inc,
    const uint32_t slot[SLA__NCLOCKS])
{
	for (unsigned k = 0; k < SLA__NCLOCKS; k++) {
		if (slot[k] == TIMERQ_IDLE)
			continue;
		if (q->n == q->cap) {
			q->cap = q->cap ? q->cap * 2 : 64;
			q->v = xreallocarray(q->v, q->cap, sizeof(*q->v));
		}
		q->v[q->n].slot = slot[k];
		q->v[q->n].ord = (uint32_t)q->n;
		q->v[q->n].c = &inc->clocks[k];
		q->n++;
	}
}

static int
requeue_cmp(const void *a, const void *b)
{
	const struct sla_requeue_ent *x = a, *y = b;

	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return x->ord < y->ord ? -1 : x->ord > y->ord;
}

void
sla_requeue_run(struct sla_engine *e, struct sla_requeue *q)
{
	struct sla_clock **by_slot = NULL;
	size_t i = 0;

	/*
	 * A whole saved heap's slots are 0..n-1, each once: placed by slot
	 * in one pass (a qsort of them was a tenth of loading a snapshot).
	 * Anything else (slots of a heap that was not whole) is sorted.
	 */
	if (q->n > 1) {
		/* zeroed by writing: see u64map_resize() */
		by_slot = xreallocarray(NULL, q->n, sizeof(*by_slot));
		memset(by_slot, 0, q->n * sizeof(*by_slot));
		for (; i < q->n; i++) {
			uint32_t s = q->v[i].slot;

			if (s >= q->n || by_slot[s] != NULL)
				break;
			by_slot[s] = q->v[i].c;
		}
		if (i < q->n) {
			FREE_NULL(by_slot);
			qsort(q->v, q->n, sizeof(*q->v), requeue_cmp);
		}
	}
	/*
	 * Adding a valid heap's entries in slot order never sifts (each
	 * parent is already <= its child): every timer lands in its saved
	 * slot.  Slots that were not a heap still give a valid queue.
	 */
	for (i = 0; i < q->n; i++) {
		struct sla_clock *c = by_slot != NULL ? by_slot[i] : q->v[i].c;

		timerq_add(&e->tq, &c->tn, c->tn.deadline);
	}
	xfree(by_slot);
	sla_requeue_fini(q);
}

void
sla_requeue_fini(struct sla_requeue *q)
{
	FREE_NULL(q->v);
	q->n = q->cap = 0;
}

/* ---- views ---- */

void
sla_clock_view(const struct sla_engine *e, const struct sla_incident *inc,
    enum sla_clock_kind k, int64_t now, struct sla_clock_view *v)
{
	const struct sla_clock *c = &inc->clocks[k];
	int64_t used = c->consumed_ms;
	int paused = c->state == SLA_CLOCK_RUNNING && inc->pause != 0;

	memset(v, 0, sizeof(*v));
	v->state = c->state;
	v->duration_ms = c->duration_ms;
	if (c->state == SLA_CLOCK_RUNNING && !paused && now > c->since_ms)
		used += calendar_between(clock_cal(e, c), c->since_ms, now);
	v->remaining_ms = c->duration_ms - used;
	v->paused = (uint8_t)paused;
	v->breached = c->state != SLA_CLOCK_IDLE && used >= c->duration_ms;
	v->met = c->state == SLA_CLOCK_STOPPED && !v->breached;
	v->has_deadline = c->state != SLA_CLOCK_IDLE && (!paused || v->breached);
	v->deadline_ms = v->has_deadline ? c->deadline_ms : 0;
	if (c->state != SLA_CLOCK_IDLE)
		v->warnings = (uint8_t)__builtin_popcount(c->fired &
		    ((1u << e->cfg->nwarnings) - 1));
}
