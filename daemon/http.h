/*
 * http.h - tocsind's HTTP server (libmicrohttpd on its own thread): a
 * route table, bearer-token writes, limits, JSON errors.  docs/http.md is
 * the operator's page; this header is the contract for the code that adds
 * routes (daemon/monitor for /healthz, /readyz, /metrics).
 *
 * A request goes through these gates, in order, and the first that fails
 * answers with a JSON error {"error": "...", "status": N}:
 *   1. the connection limit (max_connections open connections): 503 with
 *      Retry-After and Connection: close;
 *   2. a path that is not a plain absolute path (control bytes, longer
 *      than HTTP_PATH_MAX): 400;
 *   3. a write (POST, PUT, PATCH, DELETE) without `Authorization: Bearer
 *      <token>` matching the token file, or with any token when none is
 *      configured: 401 with `WWW-Authenticate: Bearer`.  Before routing,
 *      so an unauthenticated client learns nothing of the write routes;
 *   4. a body over max_body (from Content-Length at once, or while it
 *      arrives chunked): 413;
 *   5. routing: no route has the path 404; routes have it but not for the
 *      method 405 with `Allow` (HEAD is allowed wherever GET is);
 *   6. a route that takes JSON (HTTP_JSON) with a body that does not parse
 *      as one JSON object: 400 naming line and column;
 *   7. the handler, which fills the response.
 * Reads need no token: /metrics and /healthz are scraped by tools that
 * carry none, and the listener binds loopback by default.
 *
 * Threads: libmicrohttpd's one internal polling thread (epoll) runs every
 * callback and every handler, one request at a time, so a handler must be
 * quick and must not touch state owned by another thread except through
 * locks or atomics (daemon/stats).  Nothing here touches the libev loop.
 *
 * Deferred answers.  A handler whose answer depends on another thread (a
 * write that must reach a shard and be journaled first, a device command
 * the poll thread performs) never waits for it: it calls
 * http_resp_defer(), hands the returned pending to that thread and
 * returns.  The server suspends the connection (libmicrohttpd's
 * MHD_suspend_connection: the thread goes on serving others; nothing
 * polls), and whichever thread has the answer fills an http_resp of its
 * own and calls http_pending_done() exactly once; the connection resumes
 * and the answer goes out on the HTTP thread.  A pending is counted: the
 * server holds one reference, the completer the other, so either side may
 * finish first.  Bounds are the completer's (it must answer, with a 503
 * if it must give up); http_stop() answers 503 to any still suspended so
 * the library can stop, and a later http_pending_done() only drops its
 * reference.  Socketless callers (tests, fuzzing) see the pending in
 * http_resp.pending and collect the answer with http_resp_ready().
 * Deferred answers and streams (below) wait the same way: one suspended
 * connection that another thread wakes (http.c, struct http_wake).
 *
 * The token is read once at start (http_token_load), kept in memory,
 * compared in constant time for its length, and never logged.
 */
#ifndef TOCSIN_HTTP_H
#define TOCSIN_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "daemon/setting.h"

#define HTTP_DEFAULT_LISTEN	"127.0.0.1:8471"
#define HTTP_PATH_MAX		1024	/* bytes of a request path */
#define HTTP_TOKEN_MAX		512	/* bytes of the token */
#define HTTP_TOKEN_MIN		16	/* a shorter token is refused */
#define HTTP_SEGS_MAX		8	/* '*' segments a route may capture */
#define HTTP_HDRS_MAX		6	/* headers a handler may add */

/*
 * The `http:` section's numeric settings, one table for the loader, the
 * defaults and docs/configuration.md (tests/unit/test_config_doc.c).
 * Their fields come first in struct http_config.
 */
extern const struct setting http_settings[];

struct http_config {
	uint32_t	 max_connections; /* open at once; more get 503 */
	uint32_t	 max_body;	/* request body bytes; more get 413 */
	uint32_t	 idle_timeout_ms; /* an idle connection is closed */
	uint32_t	 max_sink_lag;	/* /healthz: a sink further behind
					 * (journal bytes) is unhealthy */
	uint32_t	 max_streams;	/* GET /api/v1/events streams open at
					 * once (daemon/sse); more get 503 */
	char		*listen;	/* "HOST:PORT", "[V6]:PORT"; PORT 0:
					 * any free port (logged) */
	char		*token_file;	/* or NULL: every write refused */
};

/* Fills the numeric fields with their defaults (strings untouched). */
void	 http_config_defaults(struct http_config *c);

/* One request as a handler sees it; valid during the call. */
struct http_req {
	const char	*method;	/* "GET", ... */
	const char	*path;		/* "/api/v1/incidents/X", no query */
	const char	*query;		/* after '?', or "" */
	const char	*seg[HTTP_SEGS_MAX]; /* the '*' segments, in order,
					 * NUL-terminated copies */
	size_t		 nseg;
	const char	*body;		/* NUL-terminated (may hold NULs) */
	size_t		 bodylen;
	json_t		*json;		/* HTTP_JSON routes: the object */
	/* a request header's value by name (case-insensitive), or NULL;
	 * use http_req_header() */
	const char	*(*header)(void *ctx, const char *name);
	void		*header_ctx;
};

/* Request header name's value, or NULL (none, or no headers given). */
const char *http_req_header(const struct http_req *rq, const char *name);

/*
 * Streamed responses (server-sent events).  A handler that answers with a
 * body of unknown length calls http_resp_stream(): the status and headers
 * go out at once (with Connection: close: the stream is the connection's
 * last response) and the body comes from read(arg, buf, max), called on
 * the server thread whenever the socket takes more.  read() returns
 *   > 0               bytes it put in buf (at most max);
 *   0                 nothing now: the connection is suspended (libmicro-
 *                     httpd's suspend/resume: no polling, no CPU, no idle
 *                     timeout) until http_stream_wake() (any thread);
 *   HTTP_STREAM_END   the body is over: the connection closes.
 * A wake that comes while read() runs is not lost: read() is asked again
 * before the connection is suspended.  fin(arg) is called once, when the
 * stream is over for whatever reason (the client left, read() ended it,
 * http_stop(), or the response was never sent: HEAD, http_handle() in
 * tests); after fin() returns the handle is freed, so the owner must stop
 * waking it there (fin and wake under the owner's lock).  While suspended
 * libmicrohttpd does not see a client go away; the owner's next write
 * (a keepalive) finds it.
 */
struct http_stream;
typedef ssize_t http_stream_read_fn(void *arg, char *buf, size_t max);
typedef void http_stream_fin_fn(void *arg);
#define HTTP_STREAM_END	((ssize_t)-1)

/* What a handler fills; starts as 200, application/json, empty. */
struct http_resp {
	int		 status;
	const char	*ctype;		/* static string */
	char		*body;		/* grown by http_resp_printf */
	size_t		 len, cap;
	char		 allow[128];	/* Allow header, or "" */
	int		 auth_challenge; /* 1: WWW-Authenticate: Bearer */
	int		 retry_after;	/* > 0: Retry-After seconds */
	struct {
		const char *name, *value; /* static strings */
	}		 hdr[HTTP_HDRS_MAX]; /* more headers (http_resp_header) */
	size_t		 nhdr;
	struct http_stream *stream;	/* http_resp_stream(), or NULL */
	struct http_pending *pending;	/* set by http_resp_defer(): the
					 * answer comes later */
};

struct http_pending;

typedef void http_handler_fn(void *arg, const struct http_req *rq,
	    struct http_resp *rs);

/* A route: method + path pattern; '*' as a whole segment matches one
 * non-empty segment ("/api/v1/incidents/ * /ack", without the spaces). */
struct http_route {
	const char	*method;
	const char	*path;
	unsigned	 flags;		/* HTTP_JSON */
	http_handler_fn	*fn;
	void		*arg;
};

#define HTTP_JSON	0x1		/* the body must be a JSON object */

/* A request in the server's terms, without sockets (tests, fuzzing). */
struct http_in {
	const char	*method;
	const char	*url;		/* path and query, as received */
	const char	*authorization;	/* the header, or NULL */
	const char	*body;		/* NUL-terminated */
	size_t		 bodylen;
	uint64_t	 declared_len;	/* Content-Length, or bodylen */
	/* request headers (may be NULL: none) */
	const char	*(*header)(void *ctx, const char *name);
	void		*header_ctx;
};

/*
 * Runs gates 2-7 above on one request against routes[0..n), token (NULL:
 * none configured) and max_body, filling rs (release with
 * http_resp_fini).  Pure apart from the handlers it calls.
 */
void	 http_handle(const struct http_route *routes, size_t n,
	    const char *token, uint32_t max_body, const struct http_in *in,
	    struct http_resp *rs);

void	 http_resp_init(struct http_resp *rs);
void	 http_resp_fini(struct http_resp *rs);
/* Appends to the body. */
void	 http_resp_printf(struct http_resp *rs, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 http_resp_append(struct http_resp *rs, const char *p, size_t n);
/*
 * Adds a response header; name and value must be static (or outlive the
 * response).  A Cache-Control given here replaces the default no-store.
 * Past HTTP_HDRS_MAX the header is dropped (a programming error: the
 * tests of the route see it missing).
 */
void	 http_resp_header(struct http_resp *rs, const char *name,
	    const char *value);
/* Replaces the body with {"error": why, "status": status}. */
void	 http_resp_error(struct http_resp *rs, int status, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
/* Replaces the body with j (compact JSON); takes j's reference. */
void	 http_resp_json(struct http_resp *rs, int status, json_t *j);
/*
 * Makes rs a 200 streamed response of content type ctype (static) whose
 * body comes from read (see "Streamed responses" above).  Returns the
 * stream's handle for http_stream_wake(); fin(arg) is called when it is
 * over, whatever happens (so arg is handed over here).
 */
struct http_stream *http_resp_stream(struct http_resp *rs, const char *ctype,
	    http_stream_read_fn *read, http_stream_fin_fn *fin, void *arg);
/* read() has something new: resume the connection (any thread). */
void	 http_stream_wake(struct http_stream *st);

/*
 * In a handler, last: the answer will come from http_pending_done() on
 * the returned pending (anything already in rs is dropped).  The caller
 * owns one reference and must call http_pending_done() exactly once.
 */
struct http_pending *http_resp_defer(struct http_resp *rs);
/*
 * Any thread, once per pending: answers with ans (its body is taken over;
 * ans is left empty, release it with http_resp_fini as usual) and drops
 * the caller's reference.  Never blocks on the network.
 */
void	 http_pending_done(struct http_pending *p, struct http_resp *ans);
/*
 * Socketless callers: 1 when rs holds its answer (it was never deferred,
 * or its pending is done: the answer is moved into rs), 0 while the
 * pending waits.  http_resp_fini() on a waiting rs drops its reference.
 */
int	 http_resp_ready(struct http_resp *rs);

/*
 * Takes the next name=value pair of a query string ("a=1&b=x%20y") at *q,
 * percent-decoding both ('+' is a space) into name and val, NUL-terminated,
 * and moves *q past it; empty pairs ("&&") are skipped and a pair without
 * '=' has the value "".  Returns 1 for a pair, 0 at the end, or -EINVAL
 * (and *q at the end) for a bad escape, a decoded NUL or control byte, or
 * a name or value longer than its buffer.  Hand-written, so fuzzed
 * (tests/fuzz/fuzz_query.c).
 */
int	 http_query_next(const char **q, char *name, size_t namelen,
	    char *val, size_t vallen);

/*
 * Reads the bearer token from path: its first line, at least
 * HTTP_TOKEN_MIN and at most HTTP_TOKEN_MAX bytes, from a regular file
 * that neither group nor others may read or write.  Returns 0 and a
 * malloc'd token in *out (free with http_token_free, which wipes it), or
 * -errno with a reason in err that never holds the token.
 */
int	 http_token_load(const char *path, char **out, char *err,
	    size_t errlen);
void	 http_token_free(char *token);
/* 1 when given (len bytes) equals token; time independent of where
 * they differ. */
int	 http_token_equal(const char *token, const char *given, size_t len);

/*
 * Splits "HOST:PORT" / "[V6]:PORT" into host (without brackets) and
 * port; 0, or -EINVAL with a reason in why.
 */
int	 http_listen_parse(const char *listen, char *host, size_t hostlen,
	    unsigned *port, const char **why);

struct http_server;

/* Server counters; any thread. */
struct http_stats {
	uint64_t	 requests;	/* answered */
	uint64_t	 by_class[6];	/* [status / 100], 1xx-5xx */
	uint64_t	 busy;		/* 503 for the connection limit */
	uint64_t	 unauthorized;	/* 401 */
	uint64_t	 too_large;	/* 413 */
	uint64_t	 connections;	/* open now */
};

/*
 * Starts listening on c->listen and serving routes (copied; their args
 * must outlive the server) with token (copied; NULL: writes refused) on
 * its own thread.  Returns 0 and *out, or -errno with a reason in err
 * (address in use, bad address).  Logs "http listening on ADDR:PORT"
 * with the port really bound.
 */
int	 http_start(const struct http_config *c, const struct http_route *routes,
	    size_t nroutes, const char *token, struct http_server **out,
	    char *err, size_t errlen);
/* The port bound (useful with port 0). */
/*
 * http_start() with the token read from c->token_file first (none: every
 * write refused); *token, which the caller frees with http_token_free()
 * after http_stop(), is NULL on failure.  0 or -errno with the reason.
 */
int	 http_serve(const struct http_config *c, const struct http_route *routes,
	    size_t nroutes, char **token, struct http_server **out, char *err,
	    size_t errlen);
unsigned http_port(const struct http_server *s);
void	 http_stats(const struct http_server *s, struct http_stats *out);
/* Answers every suspended request 503 (stopping), ends every stream
 * (fin), stops the thread, closes every connection, frees s; NULL is a
 * no-op. */
void	 http_stop(struct http_server *s);

#endif
