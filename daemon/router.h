/*
 * router.h - the correlator's threads: sites hashed to N shards, each a
 * thread owning one struct corr_engine, fed by lock-free SPSC rings.
 *
 * Daemon layer: the correlator (correlator/) is pure and never reads a
 * clock, sleeps or starts a thread; this module does all three around it
 * (tocsind -c, benchmarks, stress programs), and the engines only see the
 * times the producers put in their messages.
 *
 * Every producer thread (the poll loop, the action consumer, a replay
 * reader) gets its own ring to every shard, so each ring has exactly one
 * writer and one reader (a daemon/ring).  A site belongs to the shard of
 * its *area* (hash of the area's name, fleet_area_shard()): an area storm
 * is then decided inside one shard and no correlation state is shared,
 * and the order of the configuration does not move an area.  Actions are routed
 * by the shard number inside the incident id.  Each shard reports through
 * its own sink, called on the shard thread.
 *
 * Producer policy when a ring is full (nothing is ever dropped silently):
 * router_push() and router_push_batch() never wait; they return -EAGAIN
 * (nothing of that event queued), count it in the producer's `full`
 * counter and promise a call: when the shard frees room in that ring it
 * calls the producer's room callback (router_set_room(); the poll loop's
 * ev_async, whose outbox then re-sends what it holds: daemon/outbox.h).
 * router_push_wait() is the policy of a producer thread that may block (a
 * replay reader, a benchmark): it sleeps on the producer's room bell until
 * the shard frees room, for at most a caller-given time, counting every
 * sleep; if the shard is still behind it returns -ETIMEDOUT with the
 * number of events it did queue, and the caller owns the rest.
 *
 * Idle shards sleep in the kernel on a bell (daemon/ring.h) that every
 * push rings: they use no CPU and wake on the next message.
 */
#ifndef TOCSIN_ROUTER_H
#define TOCSIN_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "correlator/alarm.h"
#include "correlator/corr.h"
#include "correlator/fleet.h"

#define ROUTER_MAX_SHARDS	64
#define ROUTER_MAX_PRODUCERS	16

struct router_reload;

struct router;

/* Counters of one producer (router_producer_stats()). */
struct router_pstats {
	uint64_t queued;	/* messages queued to any shard */
	uint64_t full;		/* pushes refused with -EAGAIN (ring full) */
	uint64_t waits;		/* sleeps for room in router_push_wait() */
	uint64_t timeouts;	/* router_push_wait() calls that gave up */
	uint64_t bad;		/* events refused for a bad site (-EINVAL) */
};

/*
 * Called on a shard thread after it freed room in a ring of a producer
 * that had been refused (-EAGAIN) by it since the last call: `shard` is
 * the shard that freed it.  Must be quick and thread-safe (ev_async_send).
 */
typedef void router_room_fn(void *arg, unsigned shard);

/*
 * Called on a shard thread with every alarm message just before the engine
 * sees it (tests and stress programs use it to check delivery).
 */
typedef void router_tap_fn(void *arg, unsigned shard,
	    const struct alarm_event *ev);

/* What a shard is about to give its engine (router_hooks). */
enum router_input_kind {
	ROUTER_IN_ALARM, ROUTER_IN_ACTION, ROUTER_IN_MAINT_ADD,
	ROUTER_IN_MAINT_DEL, ROUTER_IN_TICK,
	ROUTER_IN_COMPLAINT = 6		/* 5 is a dump, never an input */
};

#define ROUTER_REASON_MAX	256	/* bytes of an engine's refusal */

struct router_input {
	uint8_t	 kind;			/* enum router_input_kind */
	const struct alarm_event *ev;	/* ALARM */
	const struct corr_action *act;	/* ACTION */
	int32_t	 kpart;			/* ACTION: tocsin.actions partition, */
	int64_t	 koffset;		/* ... offset, or -1 */
	const struct corr_maint *maint;	/* MAINT_ADD */
	uint32_t id;			/* MAINT_ADD, MAINT_DEL: window id */
	int64_t	 now;			/* TICK: its time; MAINT_DEL: the
					 * engine's time */
	const struct corr_complaint *complaint;	/* COMPLAINT */
	void	*reply;			/* ACTION, MAINT_ADD, MAINT_DEL,
					 * COMPLAINT: the producer's reply
					 * token, or NULL */
	/* filled by the shard before the end hook (the text buffers come
	 * last: a shard zeroes only what is before them, each message) */
	int	 rc;			/* the engine's answer: ACTION
					 * corr_engine_action(), MAINT_ADD
					 * _put(), MAINT_DEL _remove(),
					 * COMPLAINT _complaint() */
	char	 reason[ROUTER_REASON_MAX]; /* ACTION, COMPLAINT refused: why */
	char	 opened[CORR_ID_LEN];	/* COMPLAINT done: the incident's id */
};

/*
 * What a shard thread calls around its engine (the daemon's journal:
 * daemon/store); every op may be NULL and runs on the shard's thread.
 * begin/end bracket each input; batch follows each round of messages
 * (idle 0) and comes once more before the shard sleeps or stops (idle 1);
 * dump answers router_dump_shard() with the engine in hand.
 */
struct router_hooks {
	void	(*begin)(void *arg, unsigned shard, struct corr_engine *e,
		    const struct router_input *in);
	void	(*end)(void *arg, unsigned shard, struct corr_engine *e,
		    const struct router_input *in);
	int	(*batch)(void *arg, unsigned shard, struct corr_engine *e,
		    int idle);	/* idle: how long the shard may sleep at
				 * most, ms, or -1 (until a message) */
	void	(*dump)(void *arg, unsigned shard, struct corr_engine *e,
		    int64_t now);
	/* the shard just swapped to engine e over rl->fleet (router_reload) */
	void	(*reload)(void *arg, unsigned shard, struct corr_engine *e,
		    const struct router_reload *rl);
};

/*
 * A configuration reload for every shard (router_reload()).  The caller
 * fills fleet, cc, engines and fallback on its own thread (corr_engine_new
 * interns codes into the fleet, so before the fleet is shared) and keeps
 * rl, the fleet and cc alive until router_reloaded() >= rl->gen.
 */
struct router_reload {
	struct fleet	*fleet;		/* the new fleet */
	const struct corr_config *cc;	/* the new correlation config */
	struct corr_engine *engines[ROUTER_MAX_SHARDS]; /* over fleet, cc;
					 * NULL once the shard took it */
	struct corr_engine *fallback[ROUTER_MAX_SHARDS]; /* over fleet with
					 * the old config: taken when
					 * engines[i] refuses the snapshot */
	void		*arg;		/* the caller's, for its hook */
	uint64_t	 gen;		/* set by router_reload() */
	uint64_t	 pushed[ROUTER_MAX_PRODUCERS][ROUTER_MAX_SHARDS];
					/* router_reload: each other
					 * producer's ring then */
	uint8_t		 outcome[ROUTER_MAX_SHARDS]; /* shard: 0 new config,
					 * 1 fallback (err[i] says why) */
	char		 err[ROUTER_MAX_SHARDS][256];
};

/*
 * Creates nshards engines (shard i reports to sinks[i]) and the rings of
 * nproducers producers, ring_slots messages each (a power of two >= 4).
 * Threads start with router_start().  Returns NULL with a reason in err
 * for bad sizes.  Free with router_free().
 */
struct router *router_new(struct fleet *fleet,
	    const struct corr_config *cc, unsigned nshards, unsigned nproducers,
	    unsigned ring_slots, const struct corr_sink *sinks, char *err,
	    size_t errlen);
/* Installs producer's room callback (or NULL); only before router_start(). */
void	 router_set_room(struct router *r, unsigned producer,
	    router_room_fn *fn, void *arg);
/* Installs the shard hooks (or NULL); only before router_start(). */
void	 router_set_hooks(struct router *r, const struct router_hooks *h,
	    void *arg);
/* Shard i's engine: only before router_start() or after router_stop()
 * (restore, tests). */
struct corr_engine *router_engine(struct router *r, unsigned shard);
/* Installs a tap (or NULL); only before router_start(). */
void	 router_set_tap(struct router *r, router_tap_fn *fn, void *arg);
/*
 * Starts the shard threads: 0 or -errno (then no thread runs).  Window ids
 * continue after the highest one the (restored) engines hold.
 */
int	 router_start(struct router *r);
/* How many shards. */
unsigned router_nshards(const struct router *r);
/* The shard owning site index `site` of fleet f (NULL: the route's; a
 * fleet a reload replaced is matched by name), from any producer's
 * thread; 0 for a site out of range. */
unsigned router_site_shard(struct router *r, const struct fleet *f,
	    uint32_t site);
/* The shard owning a site. */
unsigned router_shard_of(const struct router *r, uint32_t site);
/*
 * Before router_start(): routes `site` to `shard` whatever its area (the
 * restored journal holds its live incidents there).  0 or -EINVAL.
 */
int	 router_pin_site(struct router *r, uint32_t site, unsigned shard);
/*
 * Before router_start(), after the engines were restored: every site with
 * a live incident on a shard other than its own is pinned there
 * (router_pin_site), so its alarms reach its incidents (journals written
 * under an older routing, a site moved to another area).  Returns how
 * many, or -EINVAL once started.
 */
int	 router_pin_restored(struct router *r);
/*
 * Producer `producer` (the only one that sends messages naming fleet
 * indexes) switches to rl->fleet: queues one reload message per shard,
 * all or nothing (-EAGAIN, nothing queued, when a ring is full; -EINVAL
 * for a bad producer), then routes by the new fleet: a site the old fleet
 * had keeps its shard, a new site goes by its area's name.  Each shard,
 * after every message queued before, moves its engine's state into
 * rl->engines[i] through a snapshot (names, not indexes), runs the reload
 * hook and marks rl->gen done (router_reloaded()).  Returns 0.
 */
int	 router_reload(struct router *r, unsigned producer,
	    struct router_reload *rl);
/* The generation every shard has reloaded to (any thread). */
uint64_t router_reloaded(struct router *r);
/*
 * 1 once every message the other producers had queued when rl was
 * queued has been handled: none of them names rl's old fleet any more
 * (the caller may free it).  Any thread.
 */
int	 router_reload_drained(struct router *r, const struct router_reload *rl);
/*
 * The fleet a producer's window indexes are taken against (router_maint_*
 * route by it): the last router_reload()'s, published for other
 * producers' threads.  A window queued just before a reload is carried
 * into the new fleet by name on its shard.
 */
const struct fleet *router_fleet(struct router *r);
/*
 * Queues an alarm transition from producer `producer` (each producer is one
 * thread) to the owning shard.  Returns 0, -EAGAIN when that ring is full
 * (nothing queued; the producer's room callback is called once the shard
 * frees room in it), -EINVAL for a bad site.
 */
int	 router_push(struct router *r, unsigned producer,
	    const struct alarm_event *ev);
/*
 * Queues evs[0..n) in order, publishing each touched ring once (one
 * release store per ring per call instead of one per event).  Returns the
 * number k >= 1 of leading events queued; if k < n, evs[k] could not be
 * (its ring is full, or its site is bad): call again from evs[k].  Returns
 * -EAGAIN (counted in `full`) or -EINVAL (counted in `bad`) when not even
 * evs[0] was queued, 0 for n == 0.
 */
int	 router_push_batch(struct router *r, unsigned producer,
	    const struct alarm_event *evs, size_t n);
/*
 * The blocking producer policy: queues evs[0..n) like
 * router_push_batch(), sleeping on the producer's room bell while a ring
 * is full (each sleep counted in `waits`), for at most timeout_ms in all
 * (the deadline is read from clock_mono_ms(); 0: never sleep).
 * Events with a bad site are skipped and counted in `bad`.  Returns 0 when
 * every event was handled, or -ETIMEDOUT (counted in `timeouts`) when a
 * ring stayed full: *done (if not NULL) is the number of leading events
 * handled; the caller owns evs[*done..n).
 */
int	 router_push_wait(struct router *r, unsigned producer,
	    const struct alarm_event *evs, size_t n, int timeout_ms,
	    size_t *done);
/*
 * Queues a copy of an action for the shard named in its incident id.
 * Returns 0, -EAGAIN (ring full), or -ENOENT when the id names no shard
 * (the caller rejects it; the engine rejects unknown incidents itself).
 */
int	 router_action(struct router *r, unsigned producer,
	    const struct corr_action *a);
/* The same for an action taken from tocsin.actions partition kpart at
 * koffset: the shard's hooks see where it came from (router_input). */
int	 router_action_from(struct router *r, unsigned producer,
	    const struct corr_action *a, int32_t kpart, int64_t koffset);
/*
 * The same with a reply token: the shard's hooks see it in
 * router_input.reply with the engine's answer (rc, reason), so the one
 * that journals the input can report the outcome once it is written
 * (daemon/store's `replied`).  On -EAGAIN or -ENOENT nothing was queued
 * and the token is still the caller's.
 */
int	 router_action_reply(struct router *r, unsigned producer,
	    const struct corr_action *a, void *reply);
/*
 * Queues a copy of a customer's complaint for the shard owning its site
 * with a reply token (router_action_reply): the end hook sees the
 * engine's answer, and the id of the incident it opened in
 * router_input.opened.  c->site is an index of fleet f (NULL: the
 * route's; a reload between the push and the shard is matched by name, as
 * for windows).  Returns 0, -EAGAIN (ring full, nothing queued) or
 * -EINVAL (site out of range); the token stays the caller's unless 0.
 */
int	 router_complaint(struct router *r, unsigned producer,
	    const struct fleet *f, const struct corr_complaint *c,
	    void *reply);
/*
 * Queues a planned-work window for the shard owning its site (or area) and
 * sets *id, unique across shards, for router_maint_remove().  Returns
 * 0, -EAGAIN (ring full, nothing queued) or -EINVAL (bad site/area).  Like
 * every queued message it applies to alarms the shard sees after it.
 */
int	 router_maint_add(struct router *r, unsigned producer,
	    const struct corr_maint *m, uint32_t *id);
/*
 * The same with a reply token (router_action_reply), m's site and area
 * indexes being of fleet f (NULL: router_fleet()); a producer other than
 * the one that reloads passes the fleet it looked the names up in, so a
 * reload in between is carried by name (router_reload).
 */
int	 router_maint_add_reply(struct router *r, unsigned producer,
	    const struct fleet *f, const struct corr_maint *m, uint32_t *id,
	    void *reply);
/* Queues the removal of a window on every shard: 0 or -EAGAIN. */
int	 router_maint_remove(struct router *r, unsigned producer, uint32_t id);
/*
 * The same with a reply token, carried only to the shard that owns the
 * window's place (where: its site or area, as given to maint_add), so
 * exactly one input reports it: 0, -EAGAIN or -EINVAL (bad place).
 */
int	 router_maint_remove_reply(struct router *r, unsigned producer,
	    uint32_t id, const struct fleet *f, const struct corr_maint *where,
	    void *reply);
/*
 * Queues "time is now" from producer `producer` to every shard: the shard
 * runs corr_engine_advance(engine, now) when it reaches the message, so SLA
 * warnings, breaches, escalations and window ends come due on a live
 * daemon between alarms.  The caller's clock, not the shard's: the core
 * never reads one.  Since the message follows the producer's earlier
 * alarms in the same ring, a producer that stamps alarms and ticks from
 * one clock keeps each shard's time monotonic.  Returns the number of
 * shards whose ring was full (those skip this tick; the call is counted
 * once in `full`), 0 when every shard got it, -EINVAL for a bad producer.
 */
int	 router_tick(struct router *r, unsigned producer, int64_t now);
/*
 * Asks shard `shard` to hand its live incidents to its hooks' dump op at
 * time now (a Redis resync): 0, -EAGAIN (ring full) or -EINVAL.
 */
int	 router_dump_shard(struct router *r, unsigned producer, unsigned shard,
	    int64_t now);
/* The same for one shard: 0, -EAGAIN (its ring is full) or -EINVAL. */
int	 router_tick_shard(struct router *r, unsigned producer, unsigned shard,
	    int64_t now);
/*
 * Stops after every queued message is processed and joins the threads.
 * Producers must have stopped pushing.  Safe to call twice.
 */
void	 router_stop(struct router *r);
/*
 * Messages queued by all producers and not yet fully handled by their
 * shard; any thread.  0 means every sink call for them has returned, and
 * what the shards wrote before is visible to the caller.
 */
uint64_t router_backlog(struct router *r);
/* How many times shards found nothing to do and slept; any thread. */
uint64_t router_sleeps(struct router *r);
/* A producer's counters; any thread, values may lag by a few updates. */
void	 router_producer_stats(struct router *r, unsigned producer,
	    struct router_pstats *out);
/* Sums the shards' counters (call after router_stop). */
void	 router_stats(const struct router *r, struct corr_stats *out);
/* Stops if needed and frees everything. */
void	 router_free(struct router *r);

#endif
