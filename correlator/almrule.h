/*
 * almrule.h - alarm rules and telemetry deadband on point values.
 *
 * The poll side (daemon/poller) decodes a device's points with its
 * protocol driver and hands the values here, each with its quality and the
 * time it was read; this module turns them into alarm transitions (struct
 * alarm_event: raise/clear, for the correlator) and telemetry samples
 * (deadband filtered, for the publisher), both through a sink ops table.
 * It is part of the pure core: it knows no protocol, never reads a clock
 * (`now`, int64 ms since the epoch, is an argument, so tests drive it with
 * a virtual clock) and includes nothing above the model.
 *
 * Rules (struct fleet_alarm of the device's profile) and their edges:
 *	above	raise at value >= threshold, clear at value < clear
 *	below	raise at value <= threshold, clear at value > clear
 *	equals	raise at value == threshold, clear at value != threshold
 *	bit_set	raise when bit `bit` of the value (as an integer) is 1,
 *		clear when it is 0
 * A rule must see its raise (clear) condition on every sample for at least
 * delay_on_ms (delay_off_ms) before it raises (clears); one sample where the
 * condition does not hold restarts the wait.  Bad-quality samples change
 * nothing (they neither raise, clear, nor restart a wait) and are counted.
 * COMM_LOSS is raised after N consecutive failed polls and cleared by the
 * first good one; this is the only place tocsin decides it.
 * docs/points.md has the full semantics.
 *
 * Threading: one struct almrule and its devices belong to one thread (the
 * poll thread); nothing here locks.
 */
#ifndef TOCSIN_ALMRULE_H
#define TOCSIN_ALMRULE_H

#include <stddef.h>
#include <stdint.h>

#include "correlator/alarm.h"
#include "correlator/fleet.h"

#define ALMRULE_COMM_LOSS_MISSES 3	/* default misses before COMM_LOSS */

struct almrule_config {
	uint32_t	 comm_loss_misses;	/* failed polls in a row; 0 = default */
	uint8_t		 comm_loss_severity;	/* enum severity of COMM_LOSS */
};

/* A telemetry sample that passed its point's deadband. */
struct almrule_sample {
	int64_t		 at_ms;		/* when it was read */
	double		 value;		/* engineering units; may be NaN if bad */
	uint32_t	 device;	/* fleet device index */
	uint32_t	 point;		/* point index in the device's profile */
	uint8_t		 quality;	/* enum fleet_quality */
};

/*
 * Where transitions and samples go (an ops table, like every sink in
 * tocsin).  Callbacks run synchronously inside the almrule_* call that
 * caused them; the pointed-to record is only valid during the call.
 * alarm is required; sample may be NULL (no telemetry).
 */
struct almrule_sink_ops {
	void	(*alarm)(void *arg, const struct alarm_event *ev);
	void	(*sample)(void *arg, const struct almrule_sample *s);
};

struct almrule_sink {
	const struct almrule_sink_ops *ops;	/* first: the table */
	void		*arg;		/* passed to every callback */
};

/* The one count of what the rules did (poller and /metrics read it). */
struct almrule_stats {
	uint64_t	 raised;	/* alarm raise events, COMM_LOSS included */
	uint64_t	 cleared;	/* alarm clear events, COMM_LOSS included */
	uint64_t	 comm_loss_raised; /* COMM_LOSS raises */
	uint64_t	 comm_loss_cleared; /* COMM_LOSS clears */
	uint64_t	 bad_samples;	/* samples ignored for bad quality */
	uint64_t	 polls_failed;	/* almrule_poll_failed() calls */
	uint64_t	 published;	/* telemetry samples passed on */
	uint64_t	 suppressed;	/* telemetry samples held by deadband */
};

/* One per poll thread; the fields are read-only for callers but stats. */
struct almrule {
	const struct fleet	*fleet;		/* devices, sites, profiles */
	struct almrule_config	 cfg;		/* defaults already applied */
	struct almrule_sink	 sink;
	struct almrule_stats	 stats;
};

struct almrule_dev;			/* per-device state, opaque */

/*
 * Sets up ar for fleet f (which must outlive it).  cfg may be NULL for the
 * defaults (3 misses, SEV_MAJOR).  sink->ops->alarm must not be NULL.
 */
void	 almrule_init(struct almrule *ar, const struct fleet *f,
	    const struct almrule_config *cfg, const struct almrule_sink *sink);

/*
 * Returns the state of fleet device `device` (no alarm active, no sample
 * published, no poll missed); the caller frees it with almrule_dev_free().
 * NULL if the device index is out of range or its profile has more than
 * 65535 points or alarms.  The state is sized by the device's profile and
 * points into it: a reloaded or changed profile needs new device states.
 */
struct almrule_dev *almrule_dev_new(const struct almrule *ar, uint32_t device);
void	 almrule_dev_free(struct almrule_dev *d);
/* Bytes almrule_dev_new() allocates for a device of profile p. */
size_t	 almrule_dev_size(const struct fleet_profile *p);

/*
 * A sample of point `point` (index in the device's profile) read at now:
 * its value in engineering units and the value's quality (enum
 * fleet_quality; a bad one changes no rule).  Evaluates every rule on that
 * point and the point's deadband.  Returns 0, or -EINVAL for a point index
 * out of range (nothing happens).  It does not count as a good poll: call
 * almrule_poll_ok() for that.
 */
int	 almrule_sample(struct almrule *ar, struct almrule_dev *d,
	    uint32_t point, double value, enum fleet_quality quality,
	    int64_t now);

/*
 * A poll of the device succeeded / failed at now.  This is tocsin's one
 * COMM_LOSS state machine: the first success after COMM_LOSS clears it;
 * the comm_loss_misses-th failure in a row raises it (once, until a
 * success).
 */
void	 almrule_poll_ok(struct almrule *ar, struct almrule_dev *d, int64_t now);
void	 almrule_poll_failed(struct almrule *ar, struct almrule_dev *d,
	    int64_t now);

/* Introspection for tests, metrics and the device:<id> Redis hash. */
int	 almrule_dev_active(const struct almrule_dev *d, uint32_t alarm);
/*
 * After a restart: marks the device's rules of `code` raised (COMM_LOSS:
 * lost, with comm_loss_misses misses), as the restored correlator has
 * them, emitting nothing, so the next reading that no longer meets the
 * condition clears it and one that still does raises nothing twice.
 * Returns how many rules it marked.
 */
int	 almrule_dev_restore(struct almrule_dev *d, uint16_t code,
	    uint32_t comm_loss_misses);
int	 almrule_dev_comm_lost(const struct almrule_dev *d);
uint32_t almrule_dev_misses(const struct almrule_dev *d);
uint32_t almrule_dev_bad(const struct almrule_dev *d);

#endif
