/*
 * filesink.h - the file sink: incident events as JSON lines appended to a
 * file (or stdout), the publisher of last resort (DESIGN.md "Shape").
 *
 * Producers are threads (the correlator shards) that must never share a
 * file: each producer hands its lines, already encoded, to the sink
 * through its own bounded single-producer single-consumer ring
 * (daemon/ring), and the one writer is the libev loop the sink was made
 * on, which drains every ring and writes the lines in the order each
 * producer queued them, with writev() straight from the ring.  A put
 * wakes the loop with an ev_async (the one libev call that is safe from
 * another thread); the loop's owner may also drain at any time (a timer,
 * shutdown).
 *
 * Nothing is dropped.  A full ring holds the producer back: it sleeps
 * (no spinning) until the writer frees a slot, however long that takes;
 * each sleep is counted and the stall is logged when it starts, every
 * stall_log_ms while it lasts, and when it ends.  A write error
 * is counted, logged (the first of a run, then every 10 s) and retried:
 * the line stays in its ring until all of it is written, so a full or
 * failing disk holds the shards back like a slow one and loses nothing
 * while the daemon runs; it never stops the daemon.
 *
 * The sink is an adapter, so it is reached through an ops table and the
 * instance starts with the table pointer (STYLE.md 2).
 */
#ifndef TOCSIN_FILESINK_H
#define TOCSIN_FILESINK_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;

#define FILESINK_MAX_PRODUCERS	64

/* Settings; zeroed fields take the defaults noted. */
struct filesink_config {
	const char	*path;		/* appended to; NULL or "-": stdout */
	unsigned	 nproducers;	/* producer threads, 1..FILESINK_MAX_PRODUCERS */
	unsigned	 ring_slots;	/* lines per producer ring, a power of
					 * two >= 4; 0: 4096 */
	int		 stall_log_ms;	/* a producer held back by a full ring
					 * logs a line this often; 0: 10000 */
};

/* Counters; any thread may read them, values may lag a little. */
struct filesink_counters {
	uint64_t	 queued;	/* lines handed over by producers */
	uint64_t	 lines;		/* lines written */
	uint64_t	 bytes;		/* bytes written, newlines included */
	uint64_t	 flushes;	/* drains that wrote something */
	uint64_t	 write_errors;	/* writes that failed (their lines are
					 * kept and retried) */
	uint64_t	 waits;		/* producer sleeps on a full ring */
	uint64_t	 abandoned;	/* lines given up by abandon() (a stop
					 * with the disk refusing): 0 otherwise */
};

struct filesink;

struct filesink_ops {
	const char	*name;		/* "file" */
	/*
	 * Producer `producer` (one thread per producer number) hands over
	 * `line`: NUL-terminated, no newline, allocated with malloc(); the
	 * sink owns it from the call on, whatever the result.  Blocks while
	 * the producer's ring is full (the writer must be draining on the
	 * loop's thread: never call it there).  Returns 0, or -EINVAL for a
	 * bad producer (the line is freed and logged: a wiring bug).  Any
	 * thread but the loop's.
	 */
	int	(*put)(struct filesink *s, unsigned producer, char *line);
	/*
	 * Writes every line queued so far, until a write fails (the rest
	 * stay queued for the next drain).  Returns the number of lines
	 * written whole and taken from the rings.  On the loop's thread only.
	 */
	size_t	(*drain)(struct filesink *s);
	/*
	 * The last resort of a stop while writes keep failing: every line
	 * queued and every later put is freed unwritten, counted in
	 * `abandoned` and logged, and waiting producers return, so the
	 * shards can be joined.  On the loop's thread; for nothing else.
	 */
	void	(*abandon)(struct filesink *s);
	/* Lines queued and not yet drained; any thread. */
	uint64_t (*backlog)(struct filesink *s);
	/* Copies the counters; any thread. */
	void	(*counters)(struct filesink *s, struct filesink_counters *out);
	/*
	 * Drains what is left, closes the file (never stdout) and
	 * frees the sink.  Producers must have stopped.  On the loop's thread.
	 */
	void	(*free)(struct filesink *s);
};

struct filesink {
	const struct filesink_ops *ops;	/* first: the adapter's table */
};

/*
 * Opens the sink on loop (the caller runs it; the sink's ev_async is
 * started on it).  Returns 0 and sets *out, -EINVAL for bad settings, or
 * -errno when the file cannot be opened for appending (nothing is left
 * open).  Free with s->ops->free(s).
 */
int	 filesink_new(struct ev_loop *loop, const struct filesink_config *cfg,
	    struct filesink **out);

#endif
