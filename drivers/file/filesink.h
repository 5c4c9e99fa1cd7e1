/*
 * filesink.h - the file publisher: incident events as JSON lines appended
 * to a file (or stdout), rotated by size; the publisher of last resort
 * (DESIGN.md "Shape") and what `tocsind -c` writes with no broker.
 *
 * A struct pub_sink (drivers/pub.h) on the daemon's libev loop: offer()
 * copies an event's line into a bounded buffer (-EAGAIN when it is full)
 * and the buffer is written just before the loop next waits (ev_prepare),
 * in one write(2) per turn.  Only PUB_EVENT records become lines; the
 * others are reported done with the lines around them.  A record is done
 * when its line is in the file whole.
 *
 * A write that fails (disk full, EFBIG, EIO) is counted, logged (the first
 * of a run, then every 10 s) and retried every second with the bytes it
 * did not take; the journal keeps everything after them, so nothing is
 * lost while the daemon runs and nothing after a restart either.  A crash
 * between the two halves of a short write leaves a torn last line: the
 * sink cuts a regular file back to its last newline when it opens, and the
 * line is written again whole (the pump re-offers it).
 *
 * Rotation (rotate_bytes > 0, regular files only): before a line would
 * take the file past rotate_bytes, path.(keep-1) is removed, path.N is
 * renamed path.(N+1) down to path -> path.1, and path is opened afresh.
 */
#ifndef TOCSIN_FILESINK_H
#define TOCSIN_FILESINK_H

#include <stddef.h>
#include <stdint.h>

#include "drivers/pub.h"

struct ev_loop;

#define FILESINK_BUFFER		(1u << 20)	/* bytes buffered at most */
#define FILESINK_RETRY_S	1.0		/* a failed write is retried */
#define FILESINK_LOG_S		10.0		/* and logged this often */
#define FILESINK_MAX_SHARDS	64

struct filesink_config {
	const char	*path;		/* appended to; NULL or "-": stdout */
	uint64_t	 rotate_bytes;	/* 0: never rotate */
	unsigned	 keep;		/* rotated files kept; 0: 5 */
	/*
	 * The history of closed incidents (the monthly report's input): only
	 * "closed" events become lines, and path is a prefix: the lines of a
	 * month (by the event's time, UTC) go to path-YYYY-MM.jsonl, a new
	 * file when the month turns.  rotate_bytes and keep do not apply.
	 */
	uint8_t		 closed_monthly;
	/* closed_monthly: the months kept before the one written (0: every
	 * one); see filesink_month_open() */
	unsigned	 keep_months;
	/*
	 * ops->sync fdatasyncs what was written since the last one, so the
	 * pump saves no position ahead of lines a power loss could take
	 * (the history: the report's only input).  Off, a power loss may
	 * cost the lines of the last seconds while their positions stay.
	 */
	uint8_t		 sync;
};

/* Counters; loop thread. */
struct filesink_counters {
	uint64_t	 lines;		/* lines written whole */
	uint64_t	 bytes;		/* bytes written, newlines included */
	uint64_t	 writes;	/* write(2) calls that wrote something */
	uint64_t	 write_errors;	/* writes that failed (retried) */
	uint64_t	 rotations;
	uint64_t	 torn_cut;	/* bytes of a torn last line cut at open */
	uint64_t	 syncs;		/* fdatasync calls that succeeded */
	uint64_t	 sync_errors;	/* ... that failed */
};

/*
 * Opens the sink (the file, created if missing, O_APPEND).  Returns 0 and
 * sets *out, or -errno with a reason in err.  Close with ops->close.
 */
int	 filesink_new(struct ev_loop *loop, const struct filesink_config *c,
	    const struct pub_host *host, struct pub_sink **out, char *err,
	    size_t errlen);
void	 filesink_counters(const struct pub_sink *s,
	    struct filesink_counters *out);

/*
 * The history files (closed_monthly; a scale-out's history, daemon/chist,
 * writes the same ones).  filesink_month_open() opens prefix-YYYY-MM.jsonl
 * of a month (utc_month(): y * 12 + m - 1) for
 * appending (made, and its directory, if missing; its name in path) and
 * cuts a torn last line a crash left (*cut bytes, logged): the fd, or
 * -errno.  With keep_months > 0 it then removes the files of every month
 * before month - keep_months (logged, each), so the history holds the
 * month written and the keep_months before it; files of other names are
 * left alone.  A writer opens a month's file for its first line after a
 * start and when the month turns, so the history is trimmed about once a
 * month, never while no incident closes.
 */
int	 filesink_month_open(const char *prefix, int month,
	    unsigned keep_months, char *path, size_t pathlen, uint64_t *cut);

#endif
