/*
 * ctlhttp.h - tocsinctl's HTTP/1.1 client: one request per connection
 * (Connection: close) over a plain TCP socket, and the incremental
 * response parser that also reads the long-lived SSE stream.
 *
 * Why not libcurl: it is not one of tocsin's dependencies (DESIGN.md's
 * list), and what tocsinctl needs is small: http:// only (tocsind serves
 * plain HTTP on loopback by default; TLS belongs to a reverse proxy),
 * one request at a time, bodies by Content-Length, chunked or until
 * close, and a stream read byte by byte from a poll() loop.  A
 * hand-written parser must be strict and bounded, so it is fuzzed
 * (tests/fuzz/fuzz_ctlhttp.c).
 *
 * Errors: 0 on success, -errno on failure, with a one-line reason in the
 * caller's err buffer; the bearer token is never part of a reason.
 */
#ifndef TOCSIN_CTLHTTP_H
#define TOCSIN_CTLHTTP_H

#include <stddef.h>
#include <stdint.h>

#define CTLHTTP_LINE_MAX	8192	/* bytes of a status or header line */
#define CTLHTTP_HEADERS_MAX	100	/* header lines in one response */
#define CTLHTTP_BODY_MAX	(64u << 20) /* a whole (non-stream) body */

/* A server address: "http://HOST[:PORT][/]" (HOST a name, an IPv4
 * literal or "[V6]"; PORT default 80). */
struct ctlhttp_url {
	char		 host[256];	/* without brackets */
	unsigned	 port;
};

/* Parses s into u; 0, or -EINVAL with a reason in *why (static). */
int	 ctlhttp_url_parse(const char *s, struct ctlhttp_url *u,
	    const char **why);

/*
 * The response parser: feed it the bytes read from the socket as they
 * come; it reads the status line and headers, then hands the body (with
 * any chunked framing removed) to a callback.  Bounded: a line over
 * CTLHTTP_LINE_MAX, more than CTLHTTP_HEADERS_MAX headers, a bad status
 * line, chunk size or Content-Length is -EPROTO.  1xx answers are skipped.
 */
enum ctlhttp_pstate {
	CTLHTTP_STATUS,			/* reading the status line */
	CTLHTTP_HEADERS,		/* header lines */
	CTLHTTP_BODY_LEN,		/* Content-Length bytes left */
	CTLHTTP_CHUNK_SIZE,		/* a chunk-size line */
	CTLHTTP_CHUNK_DATA,		/* chunk bytes left */
	CTLHTTP_CHUNK_END,		/* the CRLF after a chunk */
	CTLHTTP_TRAILERS,		/* trailer lines after the last chunk */
	CTLHTTP_BODY_CLOSE,		/* the body runs until the peer closes */
	CTLHTTP_DONE,			/* the whole message is read */
};

typedef void ctlhttp_body_fn(void *arg, const char *p, size_t n);

struct ctlhttp_parser {
	enum ctlhttp_pstate state;
	int		 status;	/* once the status line is read */
	int		 chunked;	/* Transfer-Encoding: chunked */
	int		 has_len;	/* a Content-Length was given */
	uint64_t	 left;		/* body or chunk bytes still to come */
	unsigned	 nheaders;
	int		 broken;	/* a feed failed: every later one does */
	int		 retry_after;	/* Retry-After seconds, or 0 */
	char		 ctype[128];	/* Content-Type, or "" */
	char		 line[CTLHTTP_LINE_MAX]; /* the line being read */
	size_t		 linelen;
	ctlhttp_body_fn	*body_fn;
	void		*arg;
};

/* Ready for a response; body_fn(arg, ...) receives the body bytes. */
void	 ctlhttp_parser_init(struct ctlhttp_parser *p, ctlhttp_body_fn *fn,
	    void *arg);
/*
 * Takes n bytes; 0 (everything taken; bytes after a complete message are
 * ignored), or -EPROTO for a response that breaks the rules above (the
 * parser then stays broken).
 */
int	 ctlhttp_parser_feed(struct ctlhttp_parser *p, const char *data,
	    size_t n);
/* The peer closed: 0 when the message is complete (a body that runs
 * until close ends here), else -EPROTO (truncated). */
int	 ctlhttp_parser_eof(struct ctlhttp_parser *p);
/* 1 once the headers are read (status, ctype, chunked are valid). */
int	 ctlhttp_parser_has_headers(const struct ctlhttp_parser *p);

/* A whole response. */
struct ctlhttp_resp {
	int		 status;	/* e.g. 200 */
	char		 ctype[128];	/* Content-Type, or "" */
	int		 retry_after;	/* seconds, or 0 */
	char		*body;		/* malloc'd, NUL-terminated */
	size_t		 len;
};

/*
 * Connects to u within timeout_ms (a non-blocking connect bounded by
 * poll); returns the connected socket (blocking mode), or -errno with a
 * reason ("cannot connect to 127.0.0.1:8471: Connection refused").
 */
int	 ctlhttp_connect(const struct ctlhttp_url *u, int timeout_ms,
	    char *err, size_t errlen);

/*
 * Writes a request on fd: METHOD path HTTP/1.1, Host, Connection: close,
 * Accept, Authorization: Bearer token (when token is not NULL), extra
 * header lines (each ending in "\r\n", or NULL) and the JSON body (or
 * NULL), all within timeout_ms.  0 or -errno with a reason.
 */
int	 ctlhttp_send(int fd, const struct ctlhttp_url *u, const char *method,
	    const char *path, const char *token, const char *extra,
	    const char *body, int timeout_ms, char *err, size_t errlen);

/*
 * One whole request: connect, send, read the answer until it is
 * complete, within timeout_ms in all.  Returns 0 and *r (free with
 * ctlhttp_resp_fini; any status, 4xx and 5xx included), or -errno with a
 * reason when no answer came (cannot connect, timed out, malformed).
 */
int	 ctlhttp_request(const struct ctlhttp_url *u, const char *method,
	    const char *path, const char *token, const char *body,
	    int timeout_ms, struct ctlhttp_resp *r, char *err, size_t errlen);
void	 ctlhttp_resp_fini(struct ctlhttp_resp *r);

/*
 * Writes s percent-encoded for a path segment or a query value (every
 * byte but A-Z a-z 0-9 - . _ ~ becomes %XX) into out (size outlen,
 * NUL-terminated); returns the length it needed, like snprintf.
 */
size_t	 ctlhttp_escape(const char *s, char *out, size_t outlen);

#endif
