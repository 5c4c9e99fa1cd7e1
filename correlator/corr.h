/*
 * corr.h - the correlation core: alarm transitions in, incidents out.
 *
 * One struct corr_engine is the whole correlation state of one shard.  It is
 * pure (STYLE.md 4): callers pass every alarm transition and every operator
 * action with its time, and the engine reports each incident change through a
 * sink ops table.  It never reads a clock, a socket or a file, so the same
 * code runs live (one engine per shard thread, see daemon/router.h), in replay, in
 * tests with a virtual clock and in the benchmark.  docs/correlation.md holds
 * the rules, defaults, event schema and lifecycle table.
 *
 * Rules, in the order the engine applies them to a raise of (device, code):
 *   1. dedup: an active (device, code) only counts a repeat on its incident;
 *   2. re-raise within reopen_hold_ms of its clear rejoins its old incident
 *      (and reopens it if it was resolved); N such cycles within
 *      flap_window_ms mark the alarm and its incident flapping, and its
 *      further cycles are counted, not stepped;
 *   3. root cause: a child code explained by an active root alarm (same site,
 *      or the device's gateway) within the rule's window joins the root's
 *      incident;
 *   4. otherwise a new incident opens (planned if a maintenance window covers
 *      the site, chronic if the site+code recurred, linked to an area storm),
 *      and, being a root, adopts children that arrived just before it.
 *
 * SLA clocks (when corr_config.sla is set): every site incident embeds a
 * struct sla_incident opened with the site's effective tier, region and the
 * incident's severity; actions step its clocks and corr_engine_advance()
 * turns the marks that come due into sla_warning / sla_breached / escalated
 * events; a complaint incident (corr_engine_complaint()) runs its respond
 * (ack) and resolve clocks from the complaint tables.  Area incidents run
 * no clocks (their site incidents do).  The
 * engine's SLA time only moves forward: it is the latest `now` it was given,
 * and a step stamped earlier is applied to the clocks at that time.
 *
 * Thread model: an engine belongs to one thread.  The fleet is shared and
 * read-only, except that corr_engine_new() interns the rule codes
 * (fleet_code()), so engines are created before any thread starts.
 */
#ifndef TOCSIN_CORR_H
#define TOCSIN_CORR_H

#include <stddef.h>
#include <stdint.h>

#include "correlator/alarm.h"
#include "correlator/fleet.h"
#include "correlator/sla.h"
#include "correlator/u64map.h"
#include "daemon/names.h"

#define CORR_CODE_LEN		(FLEET_CODE_MAX + 1) /* longest alarm code + NUL */
#define CORR_MAX_RULES		16
#define CORR_MAX_CHILDREN	16
#define CORR_MAX_FLAP		32	/* upper bound of flap_cycles */
#define CORR_MAX_CHRONIC	32	/* upper bound of chronic_count */
#define CORR_MAX_EVENT_LINKS	1000	/* upper bound of storm_event_links */
#define CORR_ID_LEN		48	/* incident id string + NUL */
#define CORR_ACTOR_SYSTEM	"tocsin"	/* actor of automatic steps */
#define CORR_ACTOR_MAX		127	/* bytes of an action's actor */
#define CORR_NOTE_MAX		1023	/* bytes of an action's note and of a
					 * window's reason (kept up to this) */
#define CORR_SYSNOTE_MAX	255	/* bytes of a system step's note */

/* Where a rule looks for the root of a child alarm. */
enum corr_scope {
	CORR_SCOPE_SITE,	/* root code on any device at the same site */
	CORR_SCOPE_GATEWAY,	/* root code on the child device's `via` gateway */
};

/* A root-cause rule: `root` explains each of `children` (config data). */
struct corr_rule {
	char	 root[CORR_CODE_LEN];		/* root alarm code */
	char	 children[CORR_MAX_CHILDREN][CORR_CODE_LEN]; /* explained codes */
	unsigned nchildren;			/* used entries of children */
	uint8_t	 scope;				/* enum corr_scope */
	int64_t	 window_ms;	/* child raised at most this long after the root */
	int64_t	 before_ms;	/* or at most this long before it (late root) */
};

/*
 * All correlation settings; every time is in milliseconds.  Defaults are
 * corr_config_defaults(); YAML keys map one to one onto the field names
 * (correlation.rules[].root, correlation.storm_sites, ...).
 */
struct corr_config {
	struct corr_rule rules[CORR_MAX_RULES];	/* root-cause rules, tried in order */
	unsigned nrules;			/* default 2 (power, gateway) */
	char	 storm_code[CORR_CODE_LEN];	/* area storm alarm, "MAINS_FAIL" */
	unsigned storm_sites;		/* K: sites in one area, default 5 */
	int64_t	 storm_window_ms;	/* T: within this long, default 10 min */
	unsigned storm_event_links;	/* an area incident's event names at
					 * most this many linked sites (and
					 * counts them all): default 50 */
	unsigned flap_cycles;		/* N re-raises ... default 3 (<= CORR_MAX_FLAP) */
	int64_t	 flap_window_ms;	/* ... within this long: 1 h */
	int64_t	 reopen_hold_ms;	/* re-raise this soon after a clear rejoins: 15 min */
	unsigned chronic_count;		/* same site+code this many times ... 3 */
	int64_t	 chronic_period_ms;	/* ... within this long: 90 days */
	int	 auto_resolve;		/* 1: all alarms clear -> resolved; 0 (default): -> cleared */
	char	 id_prefix[16];		/* incident id prefix, default "INC-" */
	uint64_t id_start;		/* first incident number, default 1 (see docs) */
	const struct sla_config *sla;	/* SLA clocks, borrowed (outlives the
					 * engine); NULL (default): no clocks */
	uint8_t	 complex_severity;	/* enum severity: incidents opened at or
					 * above it are graded complex (resolve
					 * from resolve_complex); SEV__COUNT:
					 * never.  Default SEV_CRITICAL */
};

/* Fills *cc with DOMAIN.md section 5's rules and the defaults above (sla NULL). */
void	 corr_config_defaults(struct corr_config *cc);
/*
 * Checks a config: 0, or -EINVAL with a one-line reason in err (key and
 * value) for the first bad field, including the first error of cc->sla
 * (sla_config_validate()) when it is set.
 */
int	 corr_config_check(const struct corr_config *cc, char *err, size_t errlen);

/* Incident states (docs/correlation.md has the transition table). */
enum corr_state {
	CORR_OPEN,		/* raised, nobody has acknowledged it */
	CORR_ACKNOWLEDGED,	/* an operator owns it */
	CORR_DISPATCHED,	/* a technician is on the way */
	CORR_ON_SITE,		/* the technician arrived */
	CORR_CLEARED,		/* all alarms cleared, awaiting verification */
	CORR_RESOLVED,		/* verified fixed */
	CORR_CLOSED,		/* follow-up done; final */
	CORR_REOPENED,		/* an alarm came back after resolve */
	CORR_STATE__COUNT
};

/* Event names of tocsin.incident/1 (the subset the core emits). */
enum corr_evtype {
	CORR_EV_OPENED, CORR_EV_UPDATED, CORR_EV_ACKNOWLEDGED,
	CORR_EV_DISPATCHED, CORR_EV_ON_SITE, CORR_EV_RESOLVED, CORR_EV_CLOSED,
	CORR_EV_REOPENED,
	CORR_EV_SLA_WARNING,	/* a clock reached a warning fraction */
	CORR_EV_SLA_BREACHED,	/* a clock reached its deadline */
	CORR_EV_ESCALATED,	/* the escalation ladder climbed a level */
	CORR_EV__COUNT
};

enum corr_action_type {
	CORR_ACT_ACK, CORR_ACT_DISPATCH, CORR_ACT_ON_SITE, CORR_ACT_RESOLVE,
	CORR_ACT_CLOSE, CORR_ACT_NOTE,
	CORR_ACT_PAUSE,		/* operator pause of the SLA clocks; note = reason */
	CORR_ACT_RESUME,	/* lifts an operator pause */
	CORR_ACT__COUNT
};

/*
 * What opened an incident: an alarm at a site, an area storm, or a
 * customer's complaint about a site (corr_engine_complaint(): no alarms,
 * no root cause; never merged, linked or chronic).
 */
enum corr_kind { CORR_KIND_SITE, CORR_KIND_AREA, CORR_KIND_COMPLAINT };

/* One (device, code) on an incident. */
struct corr_alarm {
	struct corr_incident *inc;	/* owning incident */
	int64_t	 raised_at;	/* first raise on this incident */
	int64_t	 cleared_at;	/* last clear; 0 while never cleared */
	int64_t	*flap;		/* ring of the last flap_cycles re-raise times, or NULL */
	uint32_t device;	/* fleet device index */
	uint32_t repeats;	/* raises re-sent while already active */
	uint32_t cycles;	/* re-raises after a clear (flap cycles) */
	uint16_t code;		/* fleet code id */
	uint8_t	 severity;	/* enum severity, highest seen */
	uint8_t	 active : 1;	/* 1 while raised */
	uint8_t	 flapping : 1;	/* its last flap_cycles re-raises fell in
				 * flap_window_ms: further cycles are
				 * counted (inc->flap_cycles), not stepped */
};

/* One audit-trail step; never rewritten. */
struct corr_step {
	int64_t	 at;		/* ms since epoch */
	const char *actor;	/* operator (owned copy) or CORR_ACTOR_SYSTEM */
	const char *action;	/* static: "opened", "acknowledged", ... */
	char	*note;		/* owned; may be NULL */
};

/*
 * A site linked to an area incident (area storm): one entry per site, naming
 * the site's latest linked incident, so a site whose storm-code alarm opens
 * incident after incident does not grow the area incident.
 */
struct corr_link {
	uint64_t num;		/* the site's latest linked incident */
	uint32_t site;		/* its site */
};

struct corr_incident {
	char	 id[CORR_ID_LEN];	/* prefix + shard + "-" + num */
	uint64_t num;		/* incident number (unique per shard) */
	uint64_t seq;		/* seq of the last emitted event (first is 1) */
	int64_t	 opened_at;
	int64_t	 updated_at;	/* time of the last event */
	uint32_t site;		/* fleet site, FLEET_NONE for an area incident */
	uint32_t area;		/* fleet area */
	uint8_t	 kind;		/* enum corr_kind */
	uint8_t	 state;		/* enum corr_state */
	uint8_t	 stage;		/* work done: CORR_OPEN..CORR_ON_SITE */
	uint8_t	 severity;	/* enum severity: highest of its alarms */
	uint8_t	 planned;	/* raised inside a maintenance window */
	uint8_t	 flapping;	/* one of its alarms is flapping (sticky) */
	uint8_t	 chronic;
	uint8_t	 has_sla;	/* 1: sla below is open (site or complaint
				 * incident, clocks on) */
	uint32_t planned_win;	/* id of the window that made it planned, or 0 */
	uint8_t	 satisfaction;	/* set by close: 1-5, or 0 (not given) */
	uint8_t	 changed;	/* on the engine's changed list
				 * (corr_engine_track) */
	char	*owner;		/* who acknowledged; NULL before; owned */
	char	*planned_reason;	/* the window's reason; owned, or NULL */
	struct corr_alarm *root;	/* root cause (site incidents), never NULL there */
	struct corr_alarm **alarms;	/* root first, then children in arrival order */
	uint32_t nalarms, capalarms;
	uint32_t nactive;	/* active alarms; area: linked incidents with active alarms */
	struct corr_step *steps;	/* timeline, append-only */
	uint32_t nsteps, capsteps;
	uint32_t sent_steps;	/* steps[0..sent_steps) went out in events */
	uint64_t *chronic_of;	/* numbers of the earlier incidents (chronic) */
	uint32_t nchronic;
	uint32_t nlinks;	/* area incident: linked sites */
	struct corr_link *links;	/* in the order the sites first linked */
	uint64_t area_num;	/* site incident: its area incident's number, or 0 */
	uint64_t repeats;	/* re-sent raises counted on this incident */
	uint64_t flap_cycles;	/* clear/re-raise cycles of flapping alarms,
				 * counted instead of stepped */
	char	*customer;	/* complaint: the complaining tenant (owned);
				 * its text and actor are steps[0]'s note
				 * and actor.  NULL for other kinds */
	struct sla_incident sla;	/* its clocks, valid when has_sla */
	struct corr_incident *site_next;	/* live incidents of the same site */
};

/*
 * What the sink receives; valid only during the callback.  The event's own
 * timeline steps are inc->steps[first_step..inc->nsteps): the steps
 * appended since the incident's previous event (docs/correlation.md,
 * "Events").
 */
struct corr_event {
	uint8_t	 type;		/* enum corr_evtype */
	uint64_t seq;		/* = inc->seq */
	int64_t	 at;		/* event time */
	const struct corr_incident *inc;
	uint32_t first_step;	/* first timeline step this event appended */
	const char *prefix;	/* the engine's id prefix (for linked ids) */
	unsigned shard;		/* the engine's shard (for linked ids) */
	unsigned links_max;	/* area incidents: name at most this many
				 * links (cc.storm_event_links) */
	const struct sla_engine *sla;	/* the clocks' engine when inc->has_sla,
					 * else NULL (JSON "clocks" at `at`) */
	uint8_t	 clock;		/* SLA events: enum sla_clock_kind */
	int8_t	 level;		/* CORR_EV_ESCALATED: enum sla_level reached */
};

/* An operator action (from HTTP, tocsin.actions, tests). */
struct corr_action {
	const char *incident;	/* incident id string */
	uint8_t	 type;		/* enum corr_action_type */
	const char *actor;	/* required, non-empty */
	const char *note;	/* may be NULL; required for CORR_ACT_NOTE */
	int64_t	 at;		/* ms since epoch */
	uint8_t	 satisfaction;	/* close: the customer's 1-5 from the
				 * follow-up visit, 0: not given */
};

/*
 * A customer's complaint about a site (DOMAIN.md section 3: "complaint:
 * respond and resolve 48 h"; from HTTP POST /api/v1/complaints, tests).
 */
struct corr_complaint {
	uint32_t site;		/* fleet site it is about; required */
	const char *customer;	/* a tenant of that site; required */
	const char *text;	/* what the customer says; 1..CORR_NOTE_MAX bytes */
	const char *actor;	/* who took it; 1..CORR_ACTOR_MAX bytes */
	uint8_t	 severity;	/* enum severity the NOC grades it */
	int64_t	 at;		/* ms since epoch */
};

/* Outputs of an engine; the ops table pointer comes first (STYLE.md 2). */
struct corr_sink_ops {
	/* One incident change.  Required. */
	void	(*event)(void *arg, const struct corr_event *ev);
	/* A rejected action and why.  May be NULL. */
	void	(*rejected)(void *arg, const struct corr_action *a,
		    const char *reason);
};

struct corr_sink {
	const struct corr_sink_ops *ops;
	void	*arg;
};

/* A planned-work window for one site or a whole area. */
struct corr_maint {
	uint32_t site;		/* fleet site, or FLEET_NONE */
	uint32_t area;		/* fleet area when site is FLEET_NONE */
	int64_t	 start_ms;	/* inclusive */
	int64_t	 end_ms;	/* exclusive */
	const char *reason;	/* copied */
	const char *actor;	/* who planned it; copied, may be NULL */
};

/* Counters of one engine. */
struct corr_stats {
	uint64_t raises;	/* raise edges seen */
	uint64_t clears;	/* clear edges seen */
	uint64_t repeats;	/* raises of an already active alarm */
	uint64_t stray_clears;	/* clears of an alarm that was not active */
	uint64_t opened;	/* incidents opened (site + area) */
	uint64_t area_opened;	/* of which area incidents */
	uint64_t explained;	/* alarms joined to a root's incident */
	uint64_t reparented;	/* early children moved under a late root */
	uint64_t reraised;	/* re-raises that rejoined their incident */
	uint64_t events;	/* events emitted */
	uint64_t rejected;	/* actions rejected */
	uint64_t bad_input;	/* events with an out-of-range device/site/code */
	uint64_t live_incidents;	/* incidents not yet closed */
	uint64_t live_alarms;	/* alarm records held */
	uint64_t sla_warnings;	/* sla_warning events */
	uint64_t sla_breaches;	/* sla_breached events */
	uint64_t escalations;	/* escalated events */
	uint64_t snap_dropped_incidents; /* incidents a snapshot held that
					 * corr_engine_load() dropped: the
					 * fleet lost their site or area, or
					 * their root alarm's device or code */
	uint64_t snap_dropped_alarms;	/* alarm records it dropped (with
					 * their incident, or alone: device
					 * or code unknown to the fleet) */
};

struct corr_engine;

/*
 * Creates the engine of shard `shard`; cc is copied (check it first with
 * corr_config_check), the fleet must outlive the engine, and sink is copied.
 * Interns the rule codes in the fleet, so call it before threads share the
 * fleet.  Returns NULL only if cc->sla is set and does not validate (which
 * corr_config_check() reports).  Free with corr_engine_free().
 */
struct corr_engine *corr_engine_new(struct fleet *fleet,
	    const struct corr_config *cc, unsigned shard,
	    const struct corr_sink *sink);
/* Frees the engine and every incident it holds; emits nothing. */
void	 corr_engine_free(struct corr_engine *e);

/*
 * Lets time pass to now with no alarm: fires every SLA mark due at or before
 * now, in deadline order, each as one incident event (sla_warning,
 * sla_breached, escalated; seq + 1 and a timeline step each) stamped with
 * the mark's own instant, and ends the maintenance windows whose end_ms is
 * at or before now (their planned incidents stop being planned: clocks
 * resume at end_ms, one "updated" event each).  A now earlier than the
 * engine's time does nothing.  Pure: the caller supplies now.
 */
void	 corr_engine_advance(struct corr_engine *e, int64_t now);
/*
 * The next instant corr_engine_advance() has work (an SLA mark or a window
 * end), or INT64_MAX: when a live loop should wake up.
 */
int64_t	 corr_engine_next(const struct corr_engine *e);

/*
 * Feeds one alarm transition; its at_ms is the engine's `now` (the engine
 * first advances to it, see corr_engine_advance()).  Returns 0,
 * or -EINVAL (counted in bad_input, nothing changes) if device, site or
 * code is out of range or the site is not the device's.
 */
int	 corr_engine_alarm(struct corr_engine *e, const struct alarm_event *ev);

/*
 * Applies an operator action after advancing to a->at (SLA events due by
 * then are emitted first, whatever the outcome).  Returns 0 (one event
 * emitted) or -ENOENT (unknown incident) / -EPERM (the action does not fit
 * the state, e.g. a pause when every clock has stopped or the incident has
 * no clocks) / -EINVAL (missing actor, or missing note for note and pause,
 * an actor over CORR_ACTOR_MAX or a note over CORR_NOTE_MAX bytes, a
 * close's satisfaction over 5: the
 * timeline keeps them whole, so they are refused, not cut);
 * on failure the incident does not change, the reason goes to the sink's
 * rejected op and, if reason is not NULL, into reason.  Steps drive the
 * clocks: ack -> SLA_STEP_ACK, dispatch -> SLA_STEP_DISPATCH, on_site ->
 * SLA_STEP_ON_SITE, resolve -> SLA_STEP_RESOLVE; close drops the clocks
 * and keeps a->satisfaction on the incident for its closed event.
 */
int	 corr_engine_action(struct corr_engine *e, const struct corr_action *a,
	    char *reason, size_t reasonlen);

/*
 * Opens a complaint incident after advancing to c->at: kind
 * CORR_KIND_COMPLAINT at c->site, naming c->customer with its tier there
 * (the incident's tier is the site's effective tier, which runs its
 * clocks), severity c->severity, no alarms and no root cause; its
 * timeline starts with "opened" by c->actor with c->text as the note.
 * With SLA clocks its ack clock (respond) and resolve clock run from the
 * complaint tables (sla_config.complaint_ack / complaint_resolve), with
 * warnings, breach and escalation as on any incident; it is never planned
 * (a complaint is not excused by planned work), never chronic, never
 * merged or linked, and makes no alarm incident chronic.  The actions that
 * fit it are ack (respond), resolve, close, note, pause and resume;
 * dispatch and on_site are refused (-EPERM: no arrival clock).
 * Returns 0 (one "opened" event after any SLA events due by c->at; the
 * id is written into id, idlen bytes, CORR_ID_LEN is enough, when id is
 * not NULL), or -EINVAL with a one-line reason in reason (if not NULL),
 * counted in bad_input, the engine untouched (time does not advance), for
 * a site out of range, a customer that is not a tenant of the site, a
 * missing or too long text (CORR_NOTE_MAX) or actor (CORR_ACTOR_MAX), or
 * a severity out of range.  The text and actor are kept whole.
 */
int	 corr_engine_complaint(struct corr_engine *e,
	    const struct corr_complaint *c, char *id, size_t idlen,
	    char *reason, size_t reasonlen);

/*
 * Adds a planned-work window; returns its id (> 0).  Alarms raised at a
 * time in [start_ms, end_ms) at the site (or any site of the area) open
 * planned incidents.  Windows do not change incidents already open; when a
 * window ends (corr_engine_advance past end_ms) its planned incidents that
 * are not resolved stop being planned and their clocks start.
 */
uint32_t corr_engine_maint_add(struct corr_engine *e, const struct corr_maint *m);
/*
 * Adds a window under an id the caller chose (the router hands out ids for
 * all shards): 0, -EEXIST if the id is taken, -EINVAL for id 0.
 */
int	 corr_engine_maint_put(struct corr_engine *e, uint32_t id,
	    const struct corr_maint *m);
/*
 * Removes a window: 0, or -ENOENT.  Its planned incidents stop being
 * planned at the engine's current time, as if the window had ended.
 */
int	 corr_engine_maint_remove(struct corr_engine *e, uint32_t id);
/*
 * Calls fn for every window the engine holds, in the order added: its id,
 * the window (strings valid during the call) and whether its end has
 * passed.  Pure.
 */
void	 corr_engine_maint_each(const struct corr_engine *e,
	    void (*fn)(void *arg, uint32_t id, const struct corr_maint *m,
	    int ended), void *arg);

/* The incident with this id string, or NULL.  Valid until the next call. */
const struct corr_incident *corr_engine_find(const struct corr_engine *e,
	    const char *id);
void	 corr_engine_stats(const struct corr_engine *e, struct corr_stats *out);
/*
 * The heap bytes an incident of this engine holds: the struct, its alarm
 * records and their flap rings, the alarm and link arrays, the timeline
 * array at its capacity and every string it owns (notes, operator actors,
 * owner, planned reason, a complaint's customer).  Requested sizes, not the allocator's classes.
 * For tests and the bound in docs/correlation.md ("Bounds").
 */
size_t	 corr_engine_incident_bytes(const struct corr_engine *e,
	    const struct corr_incident *inc);

/*
 * ---- restart (docs/correlation.md, "Snapshot") ----
 *
 * A shard saves its engine now and then and journals its inputs; after a
 * crash a fresh engine loads the last snapshot and is fed the journal
 * after it.  Restored, it behaves byte for byte as the saved engine would
 * have on any further input, provided it was made with the same config
 * (in meaning: same rules, windows, flap_cycles, chronic_count, SLA
 * tables) over a fleet that still knows the names the snapshot uses.
 */

/*
 * Serialises the engine's whole state (incidents and their alarm records,
 * timelines, links and SLA clocks with the timer order, windows, chronic
 * and storm tracking, next numbers, time, counters) as a versioned binary
 * snapshot that names fleet objects by id, not index.  Equal engines give
 * equal bytes.  *out is xmalloc'd (the caller frees it with xfree());
 * returns 0 (out of memory aborts).  Pure: changes nothing, emits nothing.
 */
int	 corr_engine_save(const struct corr_engine *e, char **out,
	    size_t *outlen);
/*
 * Loads a snapshot into e, which must come from corr_engine_new() (same
 * shard, id prefix and config as the saved engine) with nothing fed yet.
 * Incidents whose site (area incidents: area) or root alarm's device or
 * code the fleet no longer knows are dropped, as are other alarm records
 * naming an unknown device or code; both are counted
 * (snap_dropped_incidents, snap_dropped_alarms).  Returns 0, or -EINVAL
 * with a one-line reason in err for a snapshot that is bad, truncated,
 * of another version, shard or prefix, or does not fit the config (a flap
 * ring not flap_cycles long, a chronic history longer than chronic_count
 * keeps, clocks without SLA).  Never reads past p + n and allocates at
 * most a small multiple of n.  On failure e may hold part of the
 * snapshot: free it with corr_engine_free() and do not use it otherwise.
 * Emits nothing.
 */
int	 corr_engine_load(struct corr_engine *e, const void *p, size_t n,
	    char *err, size_t errlen);
/*
 * ---- the changelog (docs/scaleout.md) ----
 *
 * The engine's state as separate records, each a snapshot in
 * corr_engine_save's format with its own fleet names: the head (every
 * section but the incidents: time, next numbers, counters, windows,
 * chronic and storm tracking) and one record per live incident (its
 * alarms, timeline, links and clocks), so that a record is written when
 * its part changes and the latest of each is read back.
 *
 * corr_engine_save_head() and corr_engine_save_incident() write them
 * (the latter -ENOENT when no live incident has that id); pure, as
 * corr_engine_save().  corr_engine_load_parts() loads a head and incident
 * records (in any order) into a fresh engine, as corr_engine_load() loads
 * a whole snapshot: the head and every live incident's record taken at
 * one moment give an engine whose records are the same bytes.  An
 * incident's record holds the incident alone: the engine's time, numbers
 * and counters are the head's, and its timers' places in the SLA heap are
 * not kept (queued again in incident order: marks due at one instant on
 * two incidents may fire in another order than before; each incident's
 * own are unchanged).  -EINVAL with a reason (the record's index) for a
 * bad record, a head with incidents, an incident record with anything
 * else, or two records of one incident.
 */
struct corr_part {
	const void	*p;
	size_t		 n;
};

int	 corr_engine_save_head(const struct corr_engine *e, char **out,
	    size_t *outlen);
int	 corr_engine_save_incident(const struct corr_engine *e, const char *id,
	    char **out, size_t *outlen);
int	 corr_engine_load_parts(struct corr_engine *e,
	    const struct corr_part *head, const struct corr_part *incs,
	    size_t n, char *err, size_t errlen);

/*
 * Change tracking, for a caller that writes each incident's record
 * (corr_engine_save_incident) when it changes, without serialising every
 * live incident to find out (daemon/cstage's changelog).  Off by default:
 * nothing is kept.  Once on, every engine call notes each incident whose
 * record it may have changed, created or removed: an event emitted for
 * it, an input naming its alarm or the incident, an SLA mark fired on its
 * clocks, its end.  corr_engine_changed() calls fn(arg, num, inc) once
 * for each incident noted since its last call, inc NULL when it is gone,
 * and forgets them (fn NULL: only forgets).  A superset: an incident noted may save the same
 * bytes as before (compare them); one not noted always does, which
 * corr_snap/changed_covers_every_record_that_changed checks after every
 * input of the whole rules stream.
 */
void	 corr_engine_track(struct corr_engine *e, int on);
void	 corr_engine_changed(struct corr_engine *e,
	    void (*fn)(void *arg, uint64_t num, const struct corr_incident *inc),
	    void *arg);

/*
 * Calls fn once per live incident, in number order, with an event of its
 * current state: CORR_EV_UPDATED, seq = inc->seq (nothing changed), at,
 * first_step 0 (the whole timeline as the event's steps), and prefix,
 * shard, links_max, sla and level as the engine's own events have them.
 * For a restarted daemon to republish its open incidents.  Pure: the sink
 * sees nothing, the engine does not change.
 */
void	 corr_engine_dump(const struct corr_engine *e, int64_t at,
	    void (*fn)(void *arg, const struct corr_event *ev), void *arg);
/*
 * Calls fn once per live incident, in no order: for counts, which need
 * neither the number order nor an event.  Pure.
 */
void	 corr_engine_each(const struct corr_engine *e,
	    void (*fn)(void *arg, const struct corr_incident *inc), void *arg);
/* The engine's time: the latest now it was given, 0 before any. */
int64_t	 corr_engine_now(const struct corr_engine *e);
/*
 * corr_engine_advance(e, now) after a restart: every SLA mark and window
 * end due before now still fires at its own instant, and its timeline
 * step's note ends with " (late: fired at NOW after a restart)" (NOW as
 * RFC 3339 ms).  Marks due exactly at now are not late.
 */
void	 corr_engine_catch_up(struct corr_engine *e, int64_t now);

/*
 * Parses an incident id written with `prefix`: returns 0 and sets *shard
 * and *num, or -EINVAL.
 */
int	 corr_id_parse(const char *prefix, const char *id, unsigned *shard,
	    uint64_t *num);
/* Writes the id of incident `num` of `shard` into buf (CORR_ID_LEN). */
void	 corr_id_format(char *buf, size_t len, const char *prefix,
	    unsigned shard, uint64_t num);

/* Names as spelled in JSON and logs; *_parse return 0 or -1. */
NAMES_DECLARE(corr_state_name, corr_state_parse, enum corr_state);
const char *corr_evtype_name(enum corr_evtype t);
/* The action named s ("ack", ...): 0, or -EINVAL for an unknown name. */
NAMES_DECLARE(corr_action_name, corr_action_parse, enum corr_action_type);

#endif
