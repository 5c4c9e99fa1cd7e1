/*
 * sla.h - SLA clocks, warnings, the escalation ladder and service scores.
 *
 * Each customer-impacting incident embeds a struct sla_incident: three clocks
 * (ack, arrive, resolve) whose durations come from struct sla_config by the
 * site's effective tier x severity x region class (resolve from a separate
 * "complex" table when the incident is graded complex; ack and resolve from
 * the two complaint tables for a customer's complaint, which has no
 * arrival).  A clock counts time
 * on its calendar (24x7 or working days), pauses while the incident is
 * planned or an operator has documented a pause, and stops when its step is
 * done.  While it runs it fires marks in order: warnings at fractions of its
 * duration, the breach at its deadline, and the escalation rungs the ladder
 * attaches to a warning or to the breach (optionally "older than" a delay).
 * Marks become events through the engine's callback; nothing reads a clock:
 * every call takes `now` (ms since the epoch) and sla_advance() fires what is
 * due.  Callers advance to `now` before acting at `now`; an action on an
 * incident also fires that incident's own due marks first, so a step taken
 * exactly at a deadline sees the breach.
 *
 * The engine holds one timer per running clock (the next mark) in a timerq;
 * per clock the cost is the 64-byte struct sla_clock plus a 16-byte heap
 * entry.  One engine per correlator shard; not thread-safe.
 */
#ifndef TOCSIN_SLA_H
#define TOCSIN_SLA_H

#include <stddef.h>
#include <stdint.h>

#include "correlator/calendar.h"
#include "correlator/fleet.h"
#include "correlator/timerq.h"

enum sla_clock_kind { SLA_ACK, SLA_ARRIVE, SLA_RESOLVE, SLA__NCLOCKS };
/* Escalation levels: who is told. */
enum sla_level { SLA_LEVEL_STATION, SLA_LEVEL_BRANCH, SLA_LEVEL_HQ,
	SLA_LEVEL__COUNT };
enum sla_trigger { SLA_ON_WARNING, SLA_ON_BREACH };
enum sla_arrive_start { SLA_ARRIVE_AT_DISPATCH, SLA_ARRIVE_AT_OPEN };
enum sla_step { SLA_STEP_ACK, SLA_STEP_DISPATCH, SLA_STEP_ON_SITE,
	SLA_STEP_RESOLVE };
/* Pause causes; an incident's clocks run only when no cause holds. */
enum sla_pause_cause { SLA_PAUSE_PLANNED = 1, SLA_PAUSE_OPERATOR = 2 };
enum sla_grade { SLA_GRADE_NONE, SLA_GRADE_IMMEDIATE, SLA_GRADE_DAY,
	SLA_GRADE_OVER_DAY, SLA_GRADE__COUNT };
enum sla_event_type { SLA_EV_WARNING, SLA_EV_BREACHED, SLA_EV_ESCALATED };
enum sla_clock_state { SLA_CLOCK_IDLE, SLA_CLOCK_RUNNING, SLA_CLOCK_STOPPED };

#define SLA_MAX_WARNINGS	4
#define SLA_MAX_RUNGS		8
#define SLA_MAX_CALENDARS	8
#define SLA_MAX_BANDS		8
#define SLA_CAL_24X7		0	/* calendars[0] is always 24x7 */
/* Longest duration or rung delay the config accepts (keeps sums far from overflow). */
#define SLA_MAX_DURATION_MS	(366LL * 86400000LL)

/* One cell of the duration tables. */
struct sla_duration {
	int64_t		 ms;		/* clock time; working time on a working calendar */
	uint8_t		 calendar;	/* index into sla_config.calendars */
	uint8_t		 set;		/* 0: unset (a config error) */
};

/* One rung of the escalation ladder. */
struct sla_rung {
	uint8_t		 level;		/* enum sla_level reached */
	uint8_t		 on;		/* enum sla_trigger */
	uint8_t		 warning;	/* SLA_ON_WARNING: index into warn_at */
	uint8_t		 clocks;	/* bit (1 << kind) per clock; 0 = all */
	int64_t		 after_ms;	/* clock time after the trigger, >= 0 */
};

/* Score bands: the first band with t < below_ms applies. */
struct sla_score_band {
	int64_t		 below_ms;	/* exclusive upper bound; INT64_MAX last */
	int		 score;		/* response points */
};
struct sla_grade_band {
	int64_t		 below_ms;	/* exclusive upper bound; INT64_MAX last */
	uint8_t		 grade;		/* enum sla_grade */
};

struct sla_config {
	/* [clock][tier][severity][region]; resolve is the "general" case */
	struct sla_duration dur[SLA__NCLOCKS][TIER__COUNT][SEV__COUNT][REGION__COUNT];
	/* resolve of an incident graded complex (on-site repair) */
	struct sla_duration complex_resolve[TIER__COUNT][SEV__COUNT][REGION__COUNT];
	/* a customer's complaint: respond (its ack clock) and resolve */
	struct sla_duration complaint_ack[TIER__COUNT][SEV__COUNT][REGION__COUNT];
	struct sla_duration complaint_resolve[TIER__COUNT][SEV__COUNT][REGION__COUNT];
	uint8_t		 arrive_start;	/* enum sla_arrive_start */
	uint8_t		 nwarnings;
	double		 warn_at[SLA_MAX_WARNINGS]; /* ascending fractions in (0, 1) */
	uint8_t		 nrungs;
	struct sla_rung	 rungs[SLA_MAX_RUNGS];
	uint8_t		 ncalendars;
	struct calendar	 calendars[SLA_MAX_CALENDARS]; /* owned; [0] is 24x7 */
	uint8_t		 nscore_bands;
	struct sla_score_band score_bands[SLA_MAX_BANDS]; /* on ack active time */
	uint8_t		 ngrade_bands;
	struct sla_grade_band grade_bands[SLA_MAX_BANDS]; /* on resolve active time */
};

/*
 * Fills c with the defaults of DOMAIN.md section 3 (see docs/sla.md):
 * calendars "24x7" and "workday" (Mon-Fri 09:00-18:00 UTC+8), ack standard
 * 1 h / premium 60 s, arrive A 2 h / B 12 h / C 48 h, resolve standard 8 h /
 * premium 24 h, complex resolve standard 3 working days / premium 24 h,
 * complaint respond and resolve 48 h (every tier), warnings at 0.5 and
 * 0.8, ladder station on the first warning, branch on
 * breach, headquarters 4 h after breach, score bands 1/3/24 h, grade bands
 * 1/24 h.  Free with sla_config_fini().
 */
void	 sla_config_defaults(struct sla_config *c);
/* Frees what the config owns (calendar holidays). */
void	 sla_config_fini(struct sla_config *c);

struct sla_config_error {
	char		 field[96];	/* "sla.clocks.ack.premium.critical.B" */
	const char	*reason;	/* static sentence */
};
/*
 * Checks c; stores up to max errors in errs and returns how many there are
 * in all (0: valid).  Reports: a missing, zero or negative duration in any
 * cell, one over SLA_MAX_DURATION_MS or naming an unknown calendar, a bad
 * calendar (with calendar_validate()'s reason), warnings not ascending in
 * (0, 1), rungs with a bad level, trigger, warning index or delay, and score
 * or grade bands not ascending or not ending unbounded.
 */
size_t	 sla_config_validate(const struct sla_config *c,
	    struct sla_config_error *errs, size_t max);

struct sla_clock {
	struct timerq_node tn;		/* the next mark, while running */
	int64_t		 duration_ms;	/* from the config at start */
	int64_t		 deadline_ms;	/* breach instant as last computed */
	int64_t		 since_ms;	/* start of the current stretch (run, pause or stop) */
	int64_t		 consumed_ms;	/* clock time used up to since_ms */
	int64_t		 active_ms;	/* wall time running (not paused) up to since_ms */
	uint16_t	 fired;		/* bit m: mark m done */
	uint8_t		 state;		/* enum sla_clock_state */
	uint8_t		 calendar;	/* index into the config's calendars */
	uint8_t		 kind;		/* enum sla_clock_kind: finds the incident */
	uint8_t		 next;		/* mark the timer is armed for */
};

/* Embedded in the correlator's incident; zero it, then sla_open(). */
struct sla_incident {
	struct sla_clock clocks[SLA__NCLOCKS];
	uint8_t		 pause;		/* enum sla_pause_cause bits */
	int8_t		 level;		/* escalation level reached; -1: none */
	int8_t		 response_score; /* 0 until the ack clock stops */
	uint8_t		 grade;		/* enum sla_grade; NONE until resolve stops */
	uint8_t		 tier, severity, region, complex;
};

struct sla_event {
	struct sla_incident *inc;	/* container_of() to the incident */
	int64_t		 at_ms;		/* the mark's exact instant */
	int64_t		 deadline_ms;	/* the clock's deadline */
	uint8_t		 type;		/* enum sla_event_type */
	uint8_t		 clock;		/* enum sla_clock_kind */
	int8_t		 level;		/* SLA_EV_ESCALATED: new level */
	uint8_t		 warning;	/* SLA_EV_WARNING: index into warn_at */
	double		 fraction;	/* SLA_EV_WARNING: warn_at[warning] */
};

typedef void sla_event_fn(const struct sla_event *ev, void *arg);

struct sla_engine {
	const struct sla_config *cfg;	/* borrowed, validated */
	struct timerq	 tq;		/* one node per running clock */
	sla_event_fn	*emit;
	void		*arg;
	/* optional: a timer fired on inc's clocks (a mark, emitted or not:
	 * a rung below the level reached fires quietly), with arg */
	void		(*fired)(struct sla_incident *inc, void *arg);
};

struct sla_params {
	uint8_t		 tier;		/* effective tier (premium rule applied) */
	uint8_t		 severity;	/* enum severity */
	uint8_t		 region;	/* enum region */
	uint8_t		 complex;	/* graded complex: complex_resolve table */
	uint8_t		 planned;	/* planned work: clocks start paused */
	uint8_t		 complaint;	/* a customer's complaint: ack and
					 * resolve from the complaint tables
					 * (complex ignored); arrive never
					 * starts, even with arrive_start =
					 * open */
	uint64_t	 key;		/* the incident's number: orders its
					 * marks among others due at the same
					 * instant (sla_incident_key) */
};

/*
 * Initialises e over a validated cfg (borrowed for e's life); events go to
 * emit(ev, arg).  hint: expected clocks (0 if unknown).  Returns 0, or
 * -EINVAL if cfg does not validate.
 */
int	 sla_engine_init(struct sla_engine *e, const struct sla_config *cfg,
	    sla_event_fn *emit, void *arg, size_t hint);
void	 sla_engine_fini(struct sla_engine *e);

/* Params for an incident at site s: effective tier by fleet_effective_tier(). */
void	 sla_params_for_site(struct sla_params *p, const struct fleet_site *s,
	    enum severity sev, int complex, int planned);

/*
 * Starts an incident's clocks at now: ack and resolve, and arrive too when
 * arrive_start is SLA_ARRIVE_AT_OPEN (never for a complaint, whose ack and
 * resolve come from the complaint tables).  A planned incident starts paused
 * (SLA_PAUSE_PLANNED).  inc is overwritten, so it must not hold queued
 * timers (sla_close() an incident before reusing it).  Returns 0 or -EINVAL
 * (params out of range).
 */
int	 sla_open(struct sla_engine *e, struct sla_incident *inc, int64_t now,
	    const struct sla_params *p);
/*
 * Keys the incident's timers (p.key of sla_open; after sla_incident_load,
 * which leaves them 0): marks due at the same instant fire by (key, clock),
 * so an engine rebuilt from saved state (a snapshot, a correlator's
 * changelog) fires them in the order one that never stopped does.  Call
 * while none of them is queued.
 */
void	 sla_incident_key(struct sla_incident *inc, uint64_t key);
/*
 * A step of the incident at now: ACK stops ack; DISPATCH starts arrive (when
 * it starts at dispatch); ON_SITE stops arrive (starting it first if it never
 * started, so it is met with zero time); RESOLVE stops every running clock.
 * Returns 0, or -EALREADY with *why set when the step's clock already stopped
 * (or started, for DISPATCH).
 */
int	 sla_step(struct sla_engine *e, struct sla_incident *inc,
	    enum sla_step step, int64_t now, const char **why);
/*
 * Pauses the incident's running clocks for cause at now; remaining time is
 * kept to the ms.  An operator pause needs a non-empty note (the caller puts
 * it on the timeline).  Returns 0, or -EINVAL with *why: every clock has
 * stopped, no note, cause already holds.
 */
int	 sla_pause(struct sla_engine *e, struct sla_incident *inc,
	    enum sla_pause_cause cause, int64_t now, const char *note,
	    const char **why);
/* Lifts cause; clocks run again when no cause holds.  -EINVAL if not paused for cause. */
int	 sla_resume(struct sla_engine *e, struct sla_incident *inc,
	    enum sla_pause_cause cause, int64_t now, const char **why);
/* Drops the incident's timers (before freeing it); its state stays readable. */
void	 sla_close(struct sla_engine *e, struct sla_incident *inc);

/* Fires every mark due at or before now, in time order; returns how many. */
size_t	 sla_advance(struct sla_engine *e, int64_t now);
/* The next instant a mark is due (for the loop's timer), or INT64_MAX. */
int64_t	 sla_next(const struct sla_engine *e);

/* What the JSON and the NOC board show for one clock at now. */
struct sla_clock_view {
	int64_t		 deadline_ms;	/* valid when has_deadline */
	int64_t		 remaining_ms;	/* duration - used; < 0 once breached */
	int64_t		 duration_ms;
	uint8_t		 state;		/* enum sla_clock_state */
	uint8_t		 has_deadline;	/* 0 while idle or paused before breach */
	uint8_t		 paused;
	uint8_t		 met;		/* stopped before its deadline */
	uint8_t		 breached;	/* used >= duration */
	uint8_t		 warnings;	/* warning marks passed (0 .. the
					 * configured sla.warnings) */
};
void	 sla_clock_view(const struct sla_engine *e, const struct sla_incident *inc,
	    enum sla_clock_kind k, int64_t now, struct sla_clock_view *v);
/* Score bands (usable without an incident). */
int	 sla_response_score(const struct sla_config *c, int64_t ms);
enum sla_grade sla_resolution_grade(const struct sla_config *c, int64_t ms);

/*
 * Snapshots (corr_engine_save/load, docs/correlation.md "Snapshot"): each
 * incident's clocks are saved with the correlator's incident, and the
 * queue is rebuilt from the heap slot each running clock held, because
 * timers with equal deadlines fire in heap order: re-adding a valid heap's
 * entries in slot order puts every one back in its slot, so marks fire in
 * exactly the order they would have.
 */
struct snapbuf;
struct snapbuf_rd;
/*
 * Appends inc's clocks, pause, level and scores, with each timer's slot;
 * slots 0: a queued timer's slot as 0 (a record of one incident, whose
 * place in the heap is the other timers' doing, not its own state).
 */
void	 sla_incident_save(const struct sla_incident *inc, struct snapbuf *b,
	    int slots);
/*
 * Reads what sla_incident_save() wrote into inc, checked against e's
 * config (calendar, mark and enum ranges, a queued timer only on a
 * running, unpaused clock); the timers stay idle and slot[k] holds the
 * saved slot of clock k (TIMERQ_IDLE: none) for sla_requeue_add().
 * Returns 0, or -1 with the reason recorded in r.
 */
int	 sla_incident_load(const struct sla_engine *e, struct sla_incident *inc,
	    struct snapbuf_rd *r, uint32_t slot[SLA__NCLOCKS]);

/* Timers of loaded incidents waiting to be queued in their saved order. */
struct sla_requeue {
	struct sla_requeue_ent {
		uint32_t	 slot;		/* saved heap slot */
		uint32_t	 ord;		/* order noted, among equal slots */
		struct sla_clock *c;		/* its clock */
	}		*v;
	size_t		 n, cap;
};
/* Notes the clocks of inc that held a timer (slot[k] != TIMERQ_IDLE). */
void	 sla_requeue_add(struct sla_requeue *q, struct sla_incident *inc,
	    const uint32_t slot[SLA__NCLOCKS]);
/* Queues every noted clock at its saved deadline, in slot order (equal
 * slots, as records of one incident each have: in the order noted); frees
 * q. */
void	 sla_requeue_run(struct sla_engine *e, struct sla_requeue *q);
/* Frees q without queuing anything (a load that failed). */
void	 sla_requeue_fini(struct sla_requeue *q);

const char *sla_clock_name(enum sla_clock_kind k);
/* "idle", "running", "stopped". */
const char *sla_clock_state_name(enum sla_clock_state s);
const char *sla_level_name(enum sla_level l);
const char *sla_grade_name(enum sla_grade g);
/* "immediate" -> SLA_GRADE_IMMEDIATE ...; 0, or -EINVAL. */
int	 sla_grade_parse(const char *s, enum sla_grade *g);
const char *sla_event_name(enum sla_event_type t);

#endif
