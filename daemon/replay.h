/*
 * replay.h - offline correlation: alarm transitions (JSON lines) in, incident
 * events (JSON lines) out, in event time (`tocsind --replay FILE`).
 *
 * A line is one flat JSON object, the same as a message of the tocsin.alarms
 * topic (docs/replay.md):
 *
 *   {"at":"2026-11-23T10:00:00.123Z","device":"S1-pwr","site":"S1",
 *    "code":"MAINS_FAIL","edge":"raise","severity":"critical","value":0}
 *
 * at, device, code and edge are required; code must pass fleet_code_check();
 * site is checked against the device's site when present; severity
 * defaults to "major"; value is a number or null.  Unknown keys are ignored
 * so the schema can grow.
 */
#ifndef TOCSIN_REPLAY_H
#define TOCSIN_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "correlator/alarm.h"
#include "correlator/corr.h"
#include "correlator/fleet.h"

#define REPLAY_IDLEN	128	/* longest device or site id + NUL */

/* One parsed line. */
struct replay_rec {
	int64_t	 at_ms;			/* event time, ms since epoch */
	double	 value;			/* NAN when absent or null */
	char	 device[REPLAY_IDLEN];
	char	 site[REPLAY_IDLEN];	/* "" when absent */
	char	 code[FLEET_CODE_MAX + 1];	/* passes fleet_code_check() */
	uint8_t	 edge;			/* enum alarm_edge */
	uint8_t	 severity;		/* enum severity */
};

/*
 * Parses one line (len bytes, no NUL needed, trailing newline allowed).
 * Returns 0, or -EINVAL with a one-line reason in err.  Never reads past
 * line + len.
 */
int	 replay_parse_line(const char *line, size_t len, struct replay_rec *out,
	    char *err, size_t errlen);

/*
 * Parses "YYYY-MM-DDTHH:MM:SS[.fff]Z" or with a "+hh:mm"/"-hh:mm" offset
 * (len bytes) into ms since the epoch; digits past milliseconds are
 * truncated.  Returns 0 or -EINVAL.
 */
int	 replay_parse_time(const char *s, size_t len, int64_t *out);

/*
 * Replays the file at path ("-" is stdin) through one correlation engine
 * (shard 0) built from fleet and cc, writing each incident event as a JSON
 * line to out and a summary (and per-line problems) to err.  Malformed and
 * out-of-order lines are reported with their line number and skipped, or
 * with strict, stop the replay.  Alarm codes unknown to the fleet are
 * interned (fleet_code()).  Returns 0, -EINVAL when strict stopped on a
 * bad line or cc is refused, -EIO when reading or writing failed, or -errno
 * when the file cannot be opened.
 */
int	 replay_run(const char *path, struct fleet *fleet,
	    const struct corr_config *cc, int strict, FILE *out, FILE *err);

/*
 * Reads every good transition of the file into a new array (*out, *nout;
 * free with xfree()), reporting bad lines to err as replay_run() does.
 * Returns 0, -EINVAL when strict stopped on a bad line, or -errno; on
 * failure *out is NULL.  For benchmarks and tools that feed the core from memory.
 */
int	 replay_read_all(const char *path, struct fleet *fleet, int strict,
	    struct alarm_event **out, size_t *nout, FILE *err);

#endif
