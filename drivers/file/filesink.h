/*
 * filesink.h - the file sink: incident events as JSON lines appended to a
 * file (or stdout), the publisher of last resort (DESIGN.md "Shape").
 *
 * Producers are threads (the correlator shards) that must never share a
 * FILE*: each producer hands its lines, already encoded, to the sink
 * through its own bounded single-producer single-consumer ring
 * (daemon/ring), and the one writer is the libev loop the sink was made
 * on, which drains every ring, writes the lines in the order each
 * producer queued them and calls fflush() once per batch.  A put wakes the loop with an ev_async (the one
 * libev call that is safe from another thread); the loop's owner may also
 * drain at any time (a timer, shutdown).
 *
 * Nothing is dropped silently.  A full ring makes the producer wait with
 * backoff (counted); only if the loop does not drain for a whole
 * put_wait_ms is the line dropped, counted and logged.  A write or flush
 * error is counted and logged (the first, then every 1000th) and the sink
 * carries on with the next line; it never stops the daemon.
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
	int		 put_wait_ms;	/* a put waits this long on a full ring
					 * before it drops the line; 0: 5000 */
};

/* Counters; any thread may read them, values may lag a little. */
struct filesink_counters {
	uint64_t	 queued;	/* lines handed over by producers */
	uint64_t	 lines;		/* lines written */
	uint64_t	 bytes;		/* bytes written, newlines included */
	uint64_t	 flushes;	/* batches flushed */
	uint64_t	 write_errors;	/* lines whose write failed, and failed
					 * flushes */
	uint64_t	 waits;		/* backoff rounds of producers (ring full) */
	uint64_t	 dropped;	/* lines dropped after put_wait_ms */
};

struct filesink;

struct filesink_ops {
	const char	*name;		/* "file" */
	/*
	 * Producer `producer` (one thread per producer number) hands over
	 * `line`: NUL-terminated, no newline, allocated with malloc(); the
	 * sink owns it from the call on, whatever the result.  Returns 0, or
	 * -ETIMEDOUT when the ring stayed full for put_wait_ms (the line is
	 * freed, counted in dropped and logged), -EINVAL for a bad producer
	 * (the line is freed and logged: a wiring bug).  Any thread.
	 */
	int	(*put)(struct filesink *s, unsigned producer, char *line);
	/*
	 * Writes every line queued so far, then flushes once if it wrote
	 * any.  Returns the number of lines taken from the rings.  On the
	 * loop's thread only.
	 */
	size_t	(*drain)(struct filesink *s);
	/* Lines queued and not yet drained; any thread. */
	uint64_t (*backlog)(struct filesink *s);
	/* Copies the counters; any thread. */
	void	(*counters)(struct filesink *s, struct filesink_counters *out);
	/*
	 * Drains what is left, flushes, closes the file (never stdout) and
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
