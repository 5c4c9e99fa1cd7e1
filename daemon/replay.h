/*
 * replay.h - offline correlation: a recorded day (JSON lines) in, incident
 * events (JSON lines) out, in event time (`tocsind --replay FILE`).
 *
 * A line is one flat JSON object of one of three kinds, told apart by its
 * keys (docs/replay.md has every key and more examples):
 *
 *   an alarm transition, the same as a message of the tocsin.alarms topic:
 *   {"at":"2026-11-23T10:00:00.123Z","device":"S1-pwr","site":"S1",
 *    "code":"MAINS_FAIL","edge":"raise","severity":"critical","value":0}
 *
 *   an operator action ("action" key), the fields of tocsin.actions:
 *   {"at":"2026-11-23T10:01:00Z","incident":"INC-0-1","action":"ack",
 *    "actor":"li.wei","note":"calling the station"}
 *
 *   a planned-work window ("maintenance" key), ids chosen by the file:
 *   {"at":"2026-11-23T08:00:00Z","maintenance":"add","id":7,"site":"S1",
 *    "start":"2026-11-23T09:00:00Z","end":"2026-11-23T12:00:00Z",
 *    "reason":"rectifier swap"}
 *   {"at":"2026-11-23T11:30:00Z","maintenance":"remove","id":7}
 *
 * Each kind has its keys; a key of another kind is an error (it would be
 * lost silently), keys no kind knows are ignored so the schemas can grow.
 * Alarm codes must pass fleet_code_check().  Incident ids in a replay are
 * deterministic (correlation.id_start, shard 0), which is what lets a
 * recorded day's actions name the incidents the replay opens.
 */
#ifndef TOCSIN_REPLAY_H
#define TOCSIN_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "correlator/alarm.h"
#include "correlator/corr.h"
#include "correlator/fleet.h"

#define REPLAY_IDLEN	128	/* longest device, site, area, actor + NUL */
#define REPLAY_NOTELEN	1024	/* longest note or reason + NUL */

/* What a line is, decided by its keys. */
enum replay_kind {
	REPLAY_ALARM,		/* neither "action" nor "maintenance" */
	REPLAY_ACTION,		/* "action": an operator action */
	REPLAY_MAINT_ADD,	/* "maintenance":"add": a window announced */
	REPLAY_MAINT_REMOVE,	/* "maintenance":"remove": one withdrawn */
	REPLAY_TICK,		/* "tick": stream time, from its source */
};

/* One parsed line; fields of the other kinds stay empty ("", 0). */
struct replay_rec {
	int64_t	 at_ms;			/* event time, ms since epoch */
	uint8_t	 kind;			/* enum replay_kind */
	/* REPLAY_ALARM */
	uint8_t	 edge;			/* enum alarm_edge */
	uint8_t	 severity;		/* enum severity */
	double	 value;			/* NAN when absent or null */
	char	 device[REPLAY_IDLEN];
	char	 site[REPLAY_IDLEN];	/* alarm: a check; window: its site */
	char	 code[FLEET_CODE_MAX + 1];	/* passes fleet_code_check() */
	/* REPLAY_ACTION */
	uint8_t	 action;		/* enum corr_action_type */
	char	 incident[CORR_ID_LEN];	/* non-empty */
	char	 actor[REPLAY_IDLEN];	/* non-empty; REPLAY_TICK: its
					 * source (the "tick" value) */
	char	 note[REPLAY_NOTELEN];	/* action note, window reason */
	uint8_t	 satisfaction;		/* close: 1-5, 0: not given */
	/* REPLAY_MAINT_ADD, REPLAY_MAINT_REMOVE */
	uint32_t maint_id;		/* > 0 */
	char	 area[REPLAY_IDLEN];	/* window: its area if no site */
	int64_t	 start_ms;		/* window: [start_ms, end_ms) ... */
	int64_t	 end_ms;		/* ... and start_ms < end_ms */
};

/*
 * Parses one line (len bytes, no NUL needed, trailing newline allowed).
 * Returns 0, or -EINVAL with a one-line reason in err.  Never reads past
 * line + len.
 */
int	 replay_parse_line(const char *line, size_t len, struct replay_rec *out,
	    char *err, size_t errlen);
/*
 * An action line, or a maintenance line (add or remove), applied to e as
 * a replay applies it (a window's site and area are looked up in f; the
 * engine first advances to the line's time): 0, or -1 with the reason in
 * why (the engine refused it, or a name is unknown).  The scale-out
 * correlator applies its partition's lines with them (daemon/cstage).
 */
int	 replay_rec_action(struct corr_engine *e, const struct replay_rec *rec,
	    char *why, size_t whylen);
int	 replay_rec_maint(struct corr_engine *e, const struct fleet *f,
	    const struct replay_rec *rec, char *why, size_t whylen);
/*
 * The same without the fast path for alarm lines as tocsin writes them:
 * what replay_parse_line() falls back to.  For the fuzz target, which
 * checks that the two agree on every input.
 */
int	 replay_parse_general(const char *line, size_t len,
	    struct replay_rec *out, char *err, size_t errlen);

/* replay_run() flags */
#define REPLAY_STRICT		1	/* stop at the first bad line */
#define REPLAY_ONE_THREAD	2	/* read and correlate on the caller's
					 * thread (the same bytes out) */
#define REPLAY_LATE		4	/* a line behind an earlier one is
					 * applied at its own time (as a
					 * correlator applies a partition
					 * that several pollers write,
					 * docs/scaleout.md), not skipped */
/* correlate as shard n (ids <prefix>-n-...), n < 256: the replay of one
 * partition of tocsin.alarms, which holds what shard n took in
 * (docs/kafka.md, "Ticks"); without it, shard 0 */
#define REPLAY_SHARD(n)		((int)((unsigned)(n) & 0xff) << 8)

/*
 * Replays the file at path ("-" is stdin) through one correlation engine
 * (shard 0, or REPLAY_SHARD's) built from fleet and cc, writing each incident event as a JSON
 * line to out and a summary (and per-line problems) to err.  Alarms, actions
 * and windows reach the engine in file order at their own times.
 * Malformed and out-of-order lines are reported with their line number and
 * skipped, or with REPLAY_STRICT, stop the replay.  Actions and windows the
 * engine refuses (unknown incident or window, wrong state, unknown site or
 * area, taken id) are reported and counted, never fatal.  Alarm codes
 * unknown to the fleet are interned (fleet_code()).
 *
 * Unless flags has REPLAY_ONE_THREAD, a thread of its own reads and parses
 * the file while the caller's thread correlates, encodes and writes; out
 * and err are written by the caller's thread only, and get the same bytes
 * in the same order either way.  Events are written in blocks, and all of
 * them before the input is waited for (from a pipe they come out as the
 * lines arrive).  Returns 0, -EINVAL when REPLAY_STRICT stopped on a bad
 * line or cc is refused, -EIO when reading or writing failed, or -errno
 * when the file cannot be opened.
 */
int	 replay_run(const char *path, struct fleet *fleet,
	    const struct corr_config *cc, int flags, FILE *out, FILE *err);

/*
 * Reads every good alarm transition of the file into a new array (*out,
 * *nout; free with xfree()), reporting bad lines to err as replay_run()
 * does.  Action and maintenance lines are checked and skipped: they need an
 * engine.  Returns 0, -EINVAL when strict stopped on a bad line, or -errno;
 * on failure *out is NULL.  For benchmarks and tools that feed the core
 * from memory.
 */
int	 replay_read_all(const char *path, struct fleet *fleet, int strict,
	    struct alarm_event **out, size_t *nout, FILE *err);

#endif
