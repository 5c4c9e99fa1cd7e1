/*
 * poller.h - the poll side of tocsind: every fleet device polled over
 * Modbus/TCP, its points decoded and its alarm rules run.
 *
 * A poller joins three modules on the caller's libev loop:
 *	mbclient (drivers/modbus)  polls each device of the fleet at its
 *	                           interval and hands back raw blocks;
 *	mbdecode                   turns each block's registers/bits into the
 *	                           profile's typed, scaled points with quality;
 *	almrule                    thresholds, hysteresis, debounce, deadband
 *	                           and COMM_LOSS, emitting struct alarm_event.
 * What comes out goes to the caller through a sink ops table: alarm
 * transitions (raise/clear, COMM_LOSS included) and telemetry samples that
 * passed their deadband go from almrule straight to the caller's
 * almrule_sink_ops (no hop through the poller), and optionally one record
 * per completed poll (for the device:<id> hash, metrics and the
 * poll-timing checks of the tests).
 *
 * COMM_LOSS has one source: almrule, told of every good and failed poll,
 * with its threshold set to poller_config.rules.comm_loss_misses (the
 * YAML's modbus.comm_loss_misses).  A poll counts as
 * good when the device answered (MBCLIENT_OK, or MBCLIENT_EXCEPTION: it talks, some
 * block was refused); every other status (timeout, no connection, closed,
 * malformed answer, breaker open) is a failed poll.  Points of a refused
 * block are not sampled (their rules neither raise nor clear).
 *
 * Threading: everything runs on the loop's thread, sink callbacks included;
 * a sink that feeds correlator shards pushes into their SPSC rings there.
 */
#ifndef TOCSIN_POLLER_H
#define TOCSIN_POLLER_H

#include <stddef.h>
#include <stdint.h>

#include "correlator/alarm.h"
#include "correlator/almrule.h"
#include "correlator/fleet.h"
#include "drivers/modbus/mbclient.h"

struct ev_loop;
struct cfg_modbus;

/* One completed poll of one device. */
struct poller_poll {
	uint32_t	 device;	/* fleet device index */
	uint8_t		 status;	/* enum mbclient_status */
	uint8_t		 good;		/* 1: counted as a good poll */
	uint8_t		 comm_lost;	/* COMM_LOSS active after this poll */
	uint32_t	 misses;	/* failed polls in a row, this one incl. */
	int64_t		 started_ms;	/* poll start (loop time, epoch ms) */
	int64_t		 done_ms;	/* completion (loop time, epoch ms) */
	uint32_t	 rtt_us;	/* mean request RTT; 0 if none */
	uint32_t	 points_good;	/* points decoded with good quality */
	uint32_t	 points_bad;	/* bad quality, undecodable or refused */
};

/*
 * Where the poller's output goes.  Every callback runs on the loop's
 * thread; the pointed-to record is valid only during the call.
 * rules.alarm must be set; rules.sample and poll may be NULL.
 */
struct poller_sink_ops {
	struct almrule_sink_ops rules;	/* the rules' output, unchanged */
	void	(*poll)(void *arg, const struct poller_poll *p);
};

struct poller_sink {
	const struct poller_sink_ops *ops;	/* first: the table */
	void		*arg;		/* passed to every callback */
};

/* Counters for /metrics: monotonic, read on the loop's thread. */
struct poller_counters {
	uint64_t	 devices;	/* devices added to the client */
	uint64_t	 devices_rejected; /* not added: bad host or plan */
	uint64_t	 polls;		/* completed polls */
	uint64_t	 polls_good;	/* ... the device answered */
	uint64_t	 polls_failed;	/* ... it did not */
	uint64_t	 polls_by_status[MBCLIENT__STATUS_COUNT];
	uint64_t	 points;	/* points decoded (any quality) */
	uint64_t	 points_bad;	/* bad quality (NaN, inf, out of range) */
	uint64_t	 points_refused; /* in a block the device refused */
	uint64_t	 decode_errors;	/* mbdecode failed: plan/profile bug */
	/* from almrule's own count, the one place they are counted: */
	uint64_t	 alarms_raised;	/* raise events, COMM_LOSS included */
	uint64_t	 alarms_cleared; /* clear events, COMM_LOSS included */
	uint64_t	 comm_loss_raised;
	uint64_t	 comm_loss_cleared;
	uint64_t	 samples_published; /* passed the deadband */
	uint64_t	 samples_suppressed; /* held by the deadband */
	struct mbclient_counters mb;	/* the Modbus client's own */
};

/* What a poller is made with. */
struct poller_config {
	struct mbclient_config mb;	/* the Modbus client's settings */
	struct almrule_config rules;	/* COMM_LOSS misses and severity */
	uint32_t	 shares;	/* 0, 1: every device; else only the
					 * devices whose site id hashes
					 * (fleet_area_shard_n) to share */
	uint32_t	 share;
};

/* 1 if pc's share polls device d of f. */
int	 poller_in_share(const struct poller_config *pc, const struct fleet *f,
	    uint32_t d);

struct poller;

/*
 * Makes a poller of every device of fleet f on loop, reading each point
 * where map (the fleet's Modbus point map, drivers/modbus/mbmap.h) says;
 * f and map must outlive the poller.  Settings pc are copied, output goes
 * to sink (copied; its ops table must outlive the poller).  A device whose
 * profile cannot be
 * planned is logged, counted in devices_rejected and left out; the others
 * are polled (one whose host name does not resolve yet is kept: its polls
 * fail until a later lookup succeeds, see mbclient.h).  A device with
 * no host and profile FLEET_NONE is retired (daemon/reload.h: kept in the
 * fleet for the incidents that name it) and silently not polled.  Returns 0 and
 * sets *out (free with poller_free()), or -EINVAL for a NULL argument or a
 * sink without alarm.  Nothing is polled before poller_start().
 */
int	 poller_new(struct ev_loop *loop, const struct fleet *f,
	    const struct mbmap *map, const struct poller_config *pc,
	    const struct poller_sink *sink, struct poller **out);

/* Starts every device's poll timer (phases spread over its interval). */
int	 poller_start(struct poller *p);

/*
 * Stops every watcher and closes every connection; polls under way are
 * dropped without output.  Safe to call twice.
 */
void	 poller_stop(struct poller *p);

/* Stops and frees p; NULL is a no-op. */
void	 poller_free(struct poller *p);

/* Copies the counters (the Modbus client's included). */
void	 poller_counters(const struct poller *p, struct poller_counters *out);

/* 1 if fleet device i is in COMM_LOSS, 0 if not or not polled. */
int	 poller_comm_lost(const struct poller *p, uint32_t device);
/*
 * Before poller_start(), after a restart: the correlator's restored
 * incidents hold (device, code) active, so the rules start with it raised
 * (almrule_dev_restore).  Returns the rules marked (0: device not polled
 * or no such rule).
 */
int	 poller_restore_alarm(struct poller *p, uint32_t device, uint16_t code);

/*
 * Remote handling (docs/commands.md).  The only writes tocsin sends are
 * the commands profiles declare (drivers/modbus/mbmap.h, struct
 * mbmap_command): poller_command() builds the request from the declared
 * command, never from its caller's bytes, and the client may write at all
 * only when some profile declares a command (allow_writes is set here
 * from the map, whatever the caller's settings say).
 */
enum poller_outcome {
	POLLER_DONE,			/* written (and confirmed, with a read-back) */
	POLLER_REFUSED,			/* the device answered with an exception */
	POLLER_NOT_CONFIRMED,		/* written, but the read-back differs (or
					   could not be read) until its timeout */
	POLLER_TIMED_OUT,		/* sent, no valid answer: its effect is
					   unknown, and it is not sent again */
	POLLER_UNREACHABLE,		/* not sent: COMM_LOSS, no connection */
	POLLER__OUTCOMES
};
/* "done", "refused", "not_confirmed", "timed_out", "unreachable". */
NAMES_DECLARE(poller_outcome_name, poller_outcome_parse, enum poller_outcome);

/* What a command came to; valid during the callback. */
struct poller_cmd_result {
	uint32_t	 device;	/* fleet device index */
	uint32_t	 command;	/* index in its profile's map commands */
	uint8_t		 outcome;	/* enum poller_outcome */
	uint8_t		 exception;	/* REFUSED: the Modbus exception code */
	uint8_t		 status;	/* TIMED_OUT, UNREACHABLE, or a read-back
					   that failed: the client's enum
					   mbclient_status of that step */
	uint8_t		 has_value;	/* a read-back value was read */
	uint16_t	 value;		/* the last read-back value (raw) */
	uint16_t	 reads;		/* read-back reads answered */
	int64_t		 elapsed_ms;	/* from poller_command() to now */
};

typedef void poller_cmd_fn(void *arg, const struct poller_cmd_result *r);

/*
 * Runs the command with index `command` of fleet device `device`'s
 * profile: the write, on the poller's own connection to the device, after
 * the poll under way (mbclient ops->request: sent once, never retried),
 * then, when the command declares a read-back, one read after rb_delay
 * and again every max(rb_delay, 200 ms) until the value is the expected
 * one or rb_timeout has passed since the write's answer.  A device in
 * COMM_LOSS is not written (POLLER_UNREACHABLE).  cb(arg, result) runs
 * exactly once on the loop's thread, possibly before this returns (a
 * device in COMM_LOSS), or from poller_stop() (UNREACHABLE) if the
 * poller stops first.  A reload (poller_reload) renumbers a kept
 * device's command (result.device is then the new fleet's index) and ends
 * one on a device it removes or changes.  Returns 0, -ENOENT (the device is not polled or
 * its profile declares no such command), or -EBUSY (a command on the
 * device is under way: one at a time).  On failure cb is never called.
 */
int	 poller_command(struct poller *p, uint32_t device, uint32_t command,
	    poller_cmd_fn *cb, void *arg);

/*
 * A configuration reload: `to`, made over the new fleet and not started,
 * takes over from `from` (the running poller, to be freed after): map[i]
 * is the new index of from's device i, or FLEET_NONE.  Every alarm a kept
 * device has raised (COMM_LOSS included) starts raised in `to`
 * (almrule_dev_restore: nothing emitted, so a reload makes no edge), and
 * the counters go on from from's.  Returns the alarms carried.
 */
int	 poller_carry(struct poller *to, const struct poller *from,
	    const uint32_t *map);

/*
 * A configuration reload in place, when the modbus section did not change
 * (else make a new poller and poller_carry()): p polls fleet nf with map
 * nm from now on (both must outlive it).  map[i] is the new index of the
 * running fleet's device i or FLEET_NONE; same[i] says it is unchanged
 * (daemon/reload.h, reload_device_map).  An unchanged device keeps its
 * connection, poll timer and breaker (mbclient rebind_device) and its
 * raised alarms; a removed one leaves the client (retire_device: a poll
 * under way is forgotten); a changed one leaves it and comes back as a
 * new device with its raised alarms carried by code name; an added one
 * is added (polled at once if p runs).  No alarm edge is made; debounce
 * delays under way start over.  Returns the alarms carried.
 */
int	 poller_reload(struct poller *p, const struct fleet *nf,
	    const struct mbmap *nm, const uint32_t *map, const uint8_t *same);

/*
 * Maps the YAML modbus section onto a poller's settings, a plain copy: the
 * client's settings as they are (the loader filled every key the file
 * leaves out with its default), connect_burst one second's worth of
 * connect_rate, seed 0, allow_writes 0; comm_loss_misses into the rules,
 * COMM_LOSS severity major.  The section is checked with
 * config_modbus_check() first: one from config_load() passes, one built by
 * hand with a value out of range or breaking a rule across keys gets
 * -EINVAL (each problem logged, out left with the defaults).  Returns 0 or
 * -EINVAL.
 */
int	 poller_config_from(const struct cfg_modbus *cm,
	    struct poller_config *out);

#endif
