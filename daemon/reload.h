/*
 * reload.h - SIGHUP: a changed configuration file applied to a running
 * tocsind without a restart, without losing an open incident or a clock
 * (docs/configuration.md, "Reload").
 *
 * A reload is prepared on the poll thread, in bounded steps, and never
 * waits for another thread:
 *   1. reload_prepare(): the file is loaded and checked as `tocsind -n`
 *      does (config_load: every error FILE:LINE:COLUMN: key: message; any
 *      error refuses the whole reload, result "invalid"); keys that only
 *      a restart can change (reload_restart_keys(): shards, state_dir, the
 *      listeners, the sinks, the correlation settings a snapshot depends
 *      on) refuse it too, each named (result "failed"); then everything
 *      the running fleet has and the file no longer does is kept *retired*
 *      (reload_retire(): sites, areas and codes as they were, devices not
 *      polled), so no open incident loses what it names; the devices are
 *      matched by id (reload_device_map()) and the shards' new engines are
 *      made over the new fleet (corr_engine_new interns codes: before any
 *      other thread sees the fleet).
 *   2. the caller (daemon/live) swaps: router_reload() queues the swap to
 *      every shard in order with its alarms, then the poll side moves to
 *      the new fleet carrying each kept device's alarm state
 *      (poller_reload in place, keeping unchanged devices' connections,
 *      or a new poller and poller_carry when the modbus section changed;
 *      outbox_remap: no raise or clear edge is made by a reload), the
 *      view and the metrics get the new fleet.
 *   3. each shard, at the message, moves its engine through a snapshot
 *      (names, not indexes: incidents, timelines, owners, seqs and clocks
 *      with their deadlines, to the millisecond), clears the active alarms
 *      of the devices the reload retired and notes it on the timeline of
 *      each open incident they were on (reload_retired_alarms), and
 *      journals a fresh snapshot (store_reload).
 *   4. once every shard has passed the message (router_reloaded() >=
 *      rl.gen, seen by the caller's tick) the old configuration and the
 *      reload are freed (reload_free()).
 *
 * The pure parts (the device map and its counts, the restart-only keys,
 * retiring) are unit tested in tests/unit/test_reload.c.
 */
#ifndef TOCSIN_RELOAD_H
#define TOCSIN_RELOAD_H

#include <stddef.h>
#include <stdint.h>

#include "correlator/corr.h"
#include "correlator/fleet.h"
#include "daemon/config.h"
#include "daemon/router.h"

#define RELOAD_NOTE	"device %s removed from the configuration by a " \
			"reload: its alarms are no longer watched and were " \
			"cleared; the incident stays until an operator " \
			"resolves it"
#define RELOAD_NOTE_CODE "alarm %s of device %s: no rule of its profile " \
			"raises it since a reload, so it is no longer watched " \
			"and was cleared; the incident stays until an " \
			"operator resolves it"

/* What a reload changes, by id (reload_device_map, reload_retire). */
struct reload_counts {
	size_t	 devices_added;		/* in the file, not running */
	size_t	 devices_removed;	/* running, not in the file: retired */
	size_t	 devices_changed;	/* host, port, unit, interval, timeout,
					 * site, gateway or profile (its points
					 * or rules) differ */
	size_t	 devices_kept;		/* the same */
	size_t	 devices_retired;	/* retired in all (this reload's and
					 * earlier ones'), not polled */
	size_t	 sites_added, sites_removed;
	size_t	 profiles_added, profiles_removed, profiles_changed;
};

/* A key that needs a restart changed: "daemon.shards", "2", "4". */
typedef void reload_key_fn(void *arg, const char *key, const char *was,
	    const char *now);

/*
 * Pure: the keys of `now` that differ from `was` and that a running
 * daemon cannot take (see docs/configuration.md, "Reload"), each passed to
 * fn (may be NULL).  Returns how many.
 */
size_t	 reload_restart_keys(const struct config *was,
	    const struct config *now, reload_key_fn *fn, void *arg);

/*
 * Pure: adds to nf everything of of that nf lacks, so a snapshot of an
 * engine over of loads over nf without dropping anything: every area and
 * code (names), every site (as it was: area, region, tenants, station,
 * branch) and every device, retired: no host, profile FLEET_NONE, no
 * gateway (the poller skips it).  Returns the devices it retired.
 */
size_t	 reload_retire(struct fleet *nf, const struct fleet *of);

/* 1 if device i of f is retired (kept only for the incidents naming it). */
int	 reload_retired(const struct fleet *f, uint32_t i);

/*
 * Pure: map[i] = the index in nf of of's device i (same id), FLEET_NONE
 * when nf has none or has it retired; counts what differs into *c (the
 * Modbus point maps om, nm say whether a profile's points moved) and, if
 * same is not NULL (of->ndevices bytes), same[i] = 1 for a device kept
 * unchanged.  The caller frees map with xfree().
 */
uint32_t *reload_device_map(const struct fleet *of, const struct mbmap *om,
	    const struct fleet *nf, const struct mbmap *nm,
	    struct reload_counts *c, uint8_t *same);

/*
 * ---- retired objects across a restart ----
 *
 * A restart reads the file alone, so what a reload retired would be
 * unknown to the restored engines and their incidents dropped.  After each
 * reload the retired objects (those past the file's own: reload_retire()
 * appends them) are written to STATE_DIR/retired.json (RELOAD_RETIRED_FILE,
 * written whole then renamed); at start they are added back, retired, for
 * every id the file lacks, before the journals are restored.  The file
 * is JSON: {"areas":[name...],"codes":[name...],"sites":[{"id","name",
 * "area","region","station","branch","tenants":[{"customer","tier"}]}],
 * "devices":[{"id","site"}]}.  Delete it while tocsind is stopped to
 * forget them (their incidents are then dropped at the restore).
 */
#define RELOAD_RETIRED_FILE	"retired.json"

/* The first index of each kind past the file's own objects. */
struct reload_marks {
	size_t	 nsites, ndevices, nareas, ncodes;
};

/* f's counts now (call on the file's fleet, before reload_retire). */
void	 reload_marks_of(const struct fleet *f, struct reload_marks *m);
/*
 * Writes f's objects past m (and every retired device) to
 * dir/RELOAD_RETIRED_FILE, or removes it when there are none.  0 or
 * -errno (not logged: the caller retries, and says so at its own pace).
 */
int	 reload_retired_save(const struct fleet *f, const struct reload_marks *m,
	    const char *dir);
/*
 * Pure: adds to f, retired, what buf (RELOAD_RETIRED_FILE's JSON) lists
 * and f lacks.  Returns the devices added, or -EINVAL with a reason in err
 * (bad JSON or a field of the wrong type; f may hold what came before).
 */
int	 reload_retired_parse(struct fleet *f, const char *buf, size_t len,
	    char *err, size_t errlen);
/* The same from dir/RELOAD_RETIRED_FILE: 0 when there is none. */
int	 reload_retired_load(struct fleet *f, const char *dir, char *err,
	    size_t errlen);

enum reload_result { RELOAD_OK, RELOAD_INVALID, RELOAD_FAILED };

/* A prepared reload (reload_prepare) until every shard took it. */
struct reload {
	struct config	*cfg;		/* the new configuration (owned) */
	uint32_t	*map;		/* old device -> new, or FLEET_NONE */
	uint8_t		*same;		/* per old device: kept unchanged */
	uint8_t		*retired_now;	/* per new device: retired by this
					 * reload (its incidents get a note) */
	struct reload_counts counts;
	struct reload_marks marks;	/* the file's own objects end here */
	struct router_reload rl;	/* the shards' swap (rl.arg = this) */
	int64_t		 t0_us;		/* monotonic start */
	uint32_t	 prep_ms;	/* load, checks, engines */
};

/*
 * Step 1: loads path, checks it against the running config `cur` and
 * prepares the swap for nshards shards whose engines report to sinks.
 * Returns RELOAD_OK and *out (free it with reload_free() once every shard
 * has passed it, or at once if it is never queued), or RELOAD_INVALID /
 * RELOAD_FAILED with every reason logged (log_error) and nothing changed.
 */
enum reload_result reload_prepare(const char *path, const struct config *cur,
	    unsigned nshards, const struct corr_sink *sinks,
	    struct reload **out);
/* Frees a reload: its config too unless it was applied (keep 1). */
void	 reload_free(struct reload *r, int keep_cfg);

/*
 * Shard thread, in the router's reload hook, after the swap: every active
 * alarm of a device this reload retired, or of a code its new profile no
 * longer raises (COMM_LOSS always stays), is cleared (a CLEAR edge at the
 * engine's time, as if the device had said so: nothing watches it any
 * more, and an incident with an active alarm could never be resolved),
 * and each open incident it was on gets one note (RELOAD_NOTE, or
 * RELOAD_NOTE_CODE for a code) by CORR_ACTOR_SYSTEM.  Both are inputs
 * bracketed by the hooks h (journaled like any other).  The incident stays open, with its clocks, until an
 * operator resolves it.  Returns the alarms cleared.
 */
size_t	 reload_retired_alarms(struct corr_engine *e, const struct reload *r,
	    const struct router_hooks *h, void *harg, unsigned shard);

#endif
