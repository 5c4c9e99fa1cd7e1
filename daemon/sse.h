/*
 * sse.h - GET /api/v1/events: the incident events as server-sent events,
 * resumable from the journal (docs/http.md "The event stream").
 *
 * A publish sink (drivers/pub.h) like daemon/view: the pump offers every
 * shard's journaled records in per-shard journal order; the sink reports
 * each done at once (so a stream never holds the journal back), keeps a
 * tail of recent events in memory and writes each new PUB_EVENT into the
 * buffer of every stream client that is live.
 *
 * An event's id is the vector of per-shard journal positions the client
 * had been given everything below when it got that event: "everything of
 * shard s before cur[s]" (a record's start, the end of the last record
 * the stream has passed on that shard).  The stream hands a shard's events
 * in journal order, so a client holding id V has exactly the events of
 * shard s at positions below V[s], every shard; resuming from V reads each
 * shard after V[s] (from the memory tail when it still covers V, else from
 * the journal), so a reconnecting client gets exactly what it missed,
 * across a restart too (the journal survives one; positions only grow).
 * Text: each position in base-32 (0-9a-v, no leading zeros), joined by
 * '.', shard 0 first; at most SSE_ID_MAX bytes.
 *
 * Threads: offer() and the keepalive timer run on the libev loop; the
 * route and every client's read() on the HTTP thread; one mutex covers the
 * tail and the clients.  A client resuming from the journal reads it in
 * its read() on the HTTP thread, outside the mutex, at most
 * SSE_CATCHUP_TURN bytes of frames per call.
 */
#ifndef TOCSIN_SSE_H
#define TOCSIN_SSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/http.h"
#include "drivers/pub.h"

struct ev_loop;
struct journal;
struct sse;
struct sse_client;

#define SSE_NROUTES		1
#define SSE_MAX_SHARDS		64	/* as many as the daemon has */
#define SSE_ID_MAX		(SSE_MAX_SHARDS * 14) /* bytes of an id */
#define SSE_KEEPALIVE_S		15.0	/* a comment this often */
#define SSE_CLIENT_BUF		(1u << 20) /* bytes queued for a client;
					 * more and it is closed (it resumes
					 * from its last id) */
#define SSE_TAIL_BYTES		(4u << 20) /* recent events' JSON kept */
#define SSE_TAIL_EVENTS		8192	/* ... and at most this many */
#define SSE_CATCHUP_TURN	(256u << 10) /* frame bytes one read()
					 * takes from the journal */

/* Counters (any thread). */
struct sse_stats {
	uint64_t	 streams;	/* open now */
	uint64_t	 opened;	/* streams started */
	uint64_t	 refused;	/* over http.max_streams: 503 */
	uint64_t	 events;	/* incident events queued to clients */
	uint64_t	 resets;	/* `event: reset` sent */
	uint64_t	 skipped;	/* records a catch-up passed over:
					 * they no longer check */
	uint64_t	 slow_closed;	/* closed: fell SSE_CLIENT_BUF behind */
	uint64_t	 resumed_tail;	/* resumes served from memory */
	uint64_t	 resumed_journal; /* resumes that read the journal */
};

/* A stream server for nshards shards, at most max_streams clients. */
struct sse *sse_new(unsigned nshards, uint32_t max_streams);
/* The sink to publish_attach(), reporting done to host (copied). */
struct pub_sink *sse_sink(struct sse *e, const struct pub_host *host);
/*
 * Serves from now on (the route answers 503 before): the shards' journals
 * j[0, nshards) (they must outlive every client: stop the HTTP server
 * first), the keepalive timer on loop.  Call before publish_start(): what
 * is durable now is "before the stream", what the pump offers after it is
 * new.
 */
void	 sse_start(struct sse *e, struct ev_loop *loop,
	    struct journal *const *j);
/*
 * Serves from now on with no journal (a correlator: docs/scaleout.md, the
 * sse made with nshards 1): the sink may be offered from any one thread,
 * positions are the records offered since this call, an id is
 * "<epoch>.<n>" (epoch: this start's, not 0), a resume the memory tail
 * does not cover is reset (one it covers comes from it, in turns when it
 * is more than SSE_CLIENT_BUF), and a dump's end (PUB_DUMP_END: a partition's
 * incidents replaced) resets every live client.  No keepalive timer: the
 * caller calls sse_keepalive() every SSE_KEEPALIVE_S.
 */
void	 sse_start_memory(struct sse *e, uint64_t epoch);
/* Stops the keepalive timer (loop thread). */
void	 sse_stop(struct sse *e);
/* Fills out[0, SSE_NROUTES); returns SSE_NROUTES. */
size_t	 sse_routes(struct sse *e, struct http_route *out);
void	 sse_stats(struct sse *e, struct sse_stats *out);
/* After the HTTP server stopped and sse_stop; NULL is a no-op. */
void	 sse_free(struct sse *e);

/* The id of v[0, n) into buf (SSE_ID_MAX bytes); returns its length. */
size_t	 sse_id_format(const uint64_t *v, unsigned n, char *buf);
/*
 * Parses an id of s[0, len) into v[0, n): 0; -ERANGE when it is well
 * formed but holds *got positions, not n (another configuration); -EINVAL
 * when it is not an id.  Hand-written: fuzzed (tests/fuzz/fuzz_sseid.c).
 */
int	 sse_id_parse(const char *s, size_t len, uint64_t *v, unsigned n,
	    unsigned *got);

/*
 * A client, as the route makes one (exported for the unit tests).  open:
 * resumes after last_id (NULL: from now), 0 and *out, -EAGAIN before
 * sse_start, -EBUSY at max_streams.  attach: the HTTP stream to wake (or
 * never, in tests).  read: as http.h's http_stream_read_fn.  close: it is
 * gone (the stream's fin).
 */
int	 sse_client_open(struct sse *e, const char *last_id,
	    struct sse_client **out);
void	 sse_client_attach(struct sse_client *c, struct http_stream *hs);
ssize_t	 sse_client_read(void *c, char *buf, size_t max);
void	 sse_client_close(void *c);
/* What the timer does every SSE_KEEPALIVE_S (tests call it). */
void	 sse_keepalive(struct sse *e);

#endif
