/*
 * http.c - see http.h.
 *
 * Design.  libmicrohttpd runs one internal polling thread on epoll
 * (MHD_USE_EPOLL_INTERNAL_THREAD): every callback below runs there, so a
 * request's state (struct http_conn) is touched by one thread only and the
 * counters are atomics only because /metrics and the stop line read them.
 * The gates of http.h split in two: those that need the connection (the
 * connection limit, the Content-Length and the body as it arrives) run in
 * the access callback; everything else is http_handle(), a function of the
 * request alone, which the unit tests and the fuzz target drive without a
 * socket.
 *
 * The connection limit.  libmicrohttpd's own limit closes a connection
 * past it without a word; an operator's tools would see a reset, not a
 * reason.  So the library gets a hard cap of max_connections + HTTP_SPARE
 * and this file counts open connections itself (NOTIFY_CONNECTION): a
 * request on a connection past max_connections is answered 503 with
 * Retry-After and the connection closed.  Only a flood beyond the spare
 * meets the library's silent close.
 *
 * Bodies are buffered whole (they are small: actions, windows), at most
 * max_body bytes; a larger one is read and dropped and answered 413, or
 * refused at once when its Content-Length says so.  Idle connections are
 * closed after idle_timeout_ms, so slow clients cannot hold the limit.
 *
 * Waiting on another thread (struct http_wake).  Deferred answers and
 * streams are one mechanism: a connection suspended (libmicrohttpd's
 * MHD_suspend_connection, on the HTTP thread) until another thread rings
 * its wake, which resumes it (MHD_resume_connection may be called from
 * any thread).  The wake's mutex orders "suspend" against "ring": a ring
 * sets `rung`, which http_wake_suspend() checks under the mutex, so a
 * ring that comes before the suspend is not lost (the connection is not
 * suspended at all).  While a connection is armed with a wake the wake
 * is on its server's list, so that http_stop() can ring every one with
 * `stopping` set (libmicrohttpd must not be stopped with a connection
 * suspended) and wait, at most HTTP_DRAIN_S, for those it resumed to be
 * over; a wake armed after http_stop() began is born `stopping` (never
 * suspended).  Only the HTTP thread arms and disarms, so a listed wake is alive
 * (its owner frees it after the disarm) and http_stop() may walk the
 * list without a reference of its own; lock order: the list, then a wake.
 *
 * Its two users:
 *   - Deferred answers (http.h).  A pending is a counted object holding
 *     the answer (under the wake's mutex; `rung` says it is in).  The
 *     access callback arms the wake and suspends unless the answer is
 *     already there; http_pending_done() rings.  Whichever of the two
 *     comes second sends the answer, so none is missed.  Armed from the
 *     suspend to the request's end (http_completed).  A pending that
 *     http_stop() resumes without an answer is answered 503.
 *   - Streams (http_resp_stream, http.h).  A streamed body is a libmicro-
 *     httpd callback response; when the owner's read() has nothing, the
 *     connection is suspended from inside the content reader (allowed
 *     there; returning 0 without suspending would make the library call
 *     again at once, in a loop) and http_stream_wake() rings.  The reader
 *     clears `rung` before it asks read(), so a wake during read() makes
 *     it ask again.  Armed from the queueing to the response's end, so a
 *     stream that http_stop() finds mid-read ends at its next read.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "daemon/http.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/ring.h"

#define HTTP_SPARE	16	/* connections past the limit answered 503 */
#define HTTP_STREAM_BLOCK (64u << 10) /* a stream's read() buffer */
#define HTTP_DRAIN_S	1	/* http_stop: suspended answers may go out */

const struct setting http_settings[] = {
	{ "max_connections", SETTING_COUNT,
	  offsetof(struct http_config, max_connections), 1, 10000, 64,
	  "connections open at once; a request on one more gets 503" },
	{ "max_body", SETTING_COUNT, offsetof(struct http_config, max_body),
	  64, 16u << 20, 64u << 10,
	  "request body bytes; a larger body gets 413" },
	{ "idle_timeout", SETTING_MS,
	  offsetof(struct http_config, idle_timeout_ms), 1000, 3600000, 30000,
	  "an idle connection is closed after this long" },
	{ "max_sink_lag", SETTING_COUNT,
	  offsetof(struct http_config, max_sink_lag), 0, UINT32_MAX,
	  64u << 20,
	  "journal bytes a sink (file, Redis, Kafka) may be behind before "
	  "`/healthz` says 503; 0: no limit" },
	{ "max_streams", SETTING_COUNT,
	  offsetof(struct http_config, max_streams), 1, 1000, 16,
	  "`GET /api/v1/events` streams open at once; one more gets 503 "
	  "(each holds a connection of `max_connections`)" },
	{ NULL, 0, 0, 0, 0, 0, NULL }
};

void
http_config_defaults(struct http_config *c)
{
	setting_defaults(http_settings, c);
}

/* ---- responses ---- */

void
http_resp_init(struct http_resp *rs)
{
	memset(rs, 0, sizeof(*rs));
	rs->status = 200;
	rs->ctype = "application/json";
}

static void http_stream_free(struct http_stream *st);
static void http_pending_unref(struct http_pending *p);

void
http_resp_fini(struct http_resp *rs)
{
	FREE_NULL(rs->body);
	rs->len = rs->cap = 0;
	if (rs->stream != NULL) {	/* never sent: over now */
		http_stream_free(rs->stream);
		rs->stream = NULL;
	}
	if (rs->pending != NULL) {
		http_pending_unref(rs->pending);
		rs->pending = NULL;
	}
}

void
http_resp_header(struct http_resp *rs, const char *name, const char *value)
{
	if (rs->nhdr < HTTP_HDRS_MAX) {
		rs->hdr[rs->nhdr].name = name;
		rs->hdr[rs->nhdr].value = value;
		rs->nhdr++;
	}
}

void
http_resp_append(struct http_resp *rs, const char *p, size_t n)
{
	if (rs->len + n + 1 > rs->cap) {
		size_t cap = rs->cap ? rs->cap : 256;

		while (cap < rs->len + n + 1)
			cap *= 2;
		rs->body = xrealloc(rs->body, cap);
		rs->cap = cap;
	}
	memcpy(rs->body + rs->len, p, n);
	rs->len += n;
	rs->body[rs->len] = '\0';
}

static void
http_resp_vprintf(struct http_resp *rs, const char *fmt, va_list ap)
{
	char small[256];
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(small, sizeof(small), fmt, aq);
	va_end(aq);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		http_resp_append(rs, small, (size_t)n);
		return;
	}
	{
		char *big = xmalloc((size_t)n + 1);

		vsnprintf(big, (size_t)n + 1, fmt, ap);
		http_resp_append(rs, big, (size_t)n);
		xfree(big);
	}
}

void
http_resp_printf(struct http_resp *rs, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	http_resp_vprintf(rs, fmt, ap);
	va_end(ap);
}

void
http_resp_json(struct http_resp *rs, int status, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	rs->status = status;
	rs->ctype = "application/json";
	rs->len = 0;
	if (s != NULL) {
		http_resp_append(rs, s, strlen(s));
		free(s);
	}
	http_resp_append(rs, "\n", 1);
	json_decref(j);
}

void
http_resp_error(struct http_resp *rs, int status, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	/* what a client sent may be in it: JSON wants UTF-8, keep ASCII */
	for (char *p = why; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f)
			*p = '?';
	http_resp_json(rs, status, json_pack("{s:s, s:i}", "error", why,
	    "status", status));
}

/* ---- waiting on another thread (see the top of the file) ---- */

struct http_server;

struct http_wake {
	pthread_mutex_t	 mu;		/* below, and the owner's answer */
	struct MHD_Connection *conn;	/* armed on it, or NULL */
	struct http_server *srv;	/* armed: on its list */
	struct http_wake *prev, *next;	/* srv->wakes (srv->wlock) */
	int		 rung;		/* news since the owner last looked */
	int		 suspended;	/* by http_wake_suspend, until rung */
	int		 stopping;	/* rung by http_stop: never suspend
					 * again */
	int		 drain;		/* resumed by http_stop, which waits
					 * for the disarm */
};

static void
http_wake_init(struct http_wake *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->mu, NULL);
}

/* After the disarm (or never armed). */
static void
http_wake_fini(struct http_wake *w)
{
	pthread_mutex_destroy(&w->mu);
}

/* Resumes the connection if it is suspended (w->mu held; any thread). */
static void
http_wake_resume(struct http_wake *w)
{
	if (w->suspended) {
		w->suspended = 0;
		MHD_resume_connection(w->conn);
	}
}

/* There is news: sets rung and resumes (w->mu held; any thread). */
static void
http_wake_ring(struct http_wake *w)
{
	w->rung = 1;
	http_wake_resume(w);
}

/*
 * HTTP thread, w->mu not held: suspends the armed connection unless it
 * was rung (or stopped) meanwhile.  1 when suspended, 0 when the owner
 * must look again now.
 */
static int
http_wake_suspend(struct http_wake *w)
{
	int susp;

	pthread_mutex_lock(&w->mu);
	if ((susp = !w->rung && !w->stopping) != 0) {
		w->suspended = 1;
		MHD_suspend_connection(w->conn);
	}
	pthread_mutex_unlock(&w->mu);
	return susp;
}

static void http_wake_arm(struct http_wake *w, struct http_server *s,
    struct MHD_Connection *c);
static void http_wake_disarm(struct http_wake *w);

/* ---- streams ---- */

struct http_stream {
	struct http_wake w;		/* rung: woken since read() was asked;
					 * stopping: end at the next read */
	http_stream_read_fn *read;
	http_stream_fin_fn *fin;
	void		*arg;
};

struct http_stream *
http_resp_stream(struct http_resp *rs, const char *ctype,
    http_stream_read_fn *read, http_stream_fin_fn *fin, void *arg)
{
	struct http_stream *st = xcalloc(1, sizeof(*st));

	http_wake_init(&st->w);
	st->read = read;
	st->fin = fin;
	st->arg = arg;
	if (rs->stream != NULL)
		http_stream_free(rs->stream);
	rs->stream = st;
	rs->status = 200;
	rs->ctype = ctype;
	rs->len = 0;
	return st;
}

void
http_stream_wake(struct http_stream *st)
{
	pthread_mutex_lock(&st->w.mu);
	http_wake_ring(&st->w);
	pthread_mutex_unlock(&st->w.mu);
}

/* ---- deferred answers ---- */

struct http_pending {
	_Atomic int	 refs;		/* server side + completer */
	struct http_wake w;		/* rung: rs is the answer */
	struct http_resp rs;		/* under w.mu */
};

struct http_pending *
http_resp_defer(struct http_resp *rs)
{
	struct http_pending *p = xcalloc(1, sizeof(*p));

	http_wake_init(&p->w);
	atomic_init(&p->refs, 2);
	http_resp_init(&p->rs);
	FREE_NULL(rs->body);
	rs->len = rs->cap = 0;
	rs->pending = p;
	return p;
}

static void
http_pending_unref(struct http_pending *p)
{
	if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
		return;
	http_resp_fini(&p->rs);
	http_wake_fini(&p->w);
	xfree(p);
}

/* Moves src's answer (status, headers, body) into dst. */
static void
http_resp_move(struct http_resp *dst, struct http_resp *src)
{
	struct http_pending *keep = dst->pending;

	FREE_NULL(dst->body);
	*dst = *src;
	dst->pending = keep;
	src->body = NULL;
	src->len = src->cap = 0;
}

void
http_pending_done(struct http_pending *p, struct http_resp *ans)
{
	pthread_mutex_lock(&p->w.mu);
	if (!p->w.rung) {	/* else http_stop's 503 went out */
		http_resp_move(&p->rs, ans);
		http_wake_ring(&p->w);
	}
	pthread_mutex_unlock(&p->w.mu);
	http_pending_unref(p);
}

int
http_resp_ready(struct http_resp *rs)
{
	struct http_pending *p = rs->pending;
	int done;

	if (p == NULL)
		return 1;
	pthread_mutex_lock(&p->w.mu);
	if ((done = p->w.rung) != 0)
		http_resp_move(rs, &p->rs);
	pthread_mutex_unlock(&p->w.mu);
	if (done) {
		rs->pending = NULL;
		http_pending_unref(p);
	}
	return done;
}

/* ---- query strings ---- */

static int
http_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes p[0, n) into out (len bytes with the NUL): 0 or -EINVAL. */
static int
http_query_decode(const char *p, size_t n, char *out, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)p[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -EINVAL;
			if ((hi = http_hexval((unsigned char)p[i + 1])) < 0 ||
			    (lo = http_hexval((unsigned char)p[i + 2])) < 0)
				return -EINVAL;
			c = hi * 16 + lo;
			i += 2;
		}
		/* a decoded control byte is nothing a filter can name */
		if (c < 0x20 || c == 0x7f || o + 1 >= len)
			return -EINVAL;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

int
http_query_next(const char **q, char *name, size_t namelen, char *val,
    size_t vallen)
{
	const char *p = *q, *amp, *eq;
	size_t n;

	while (*p == '&')
		p++;
	if (*p == '\0') {
		*q = p;
		return 0;
	}
	amp = strchr(p, '&');
	n = amp != NULL ? (size_t)(amp - p) : strlen(p);
	*q = p + n;
	eq = memchr(p, '=', n);
	if (namelen == 0 || vallen == 0 ||
	    http_query_decode(p, eq != NULL ? (size_t)(eq - p) : n, name,
	    namelen) != 0 ||
	    http_query_decode(eq != NULL ? eq + 1 : p + n, eq != NULL ?
	    n - (size_t)(eq - p) - 1 : 0, val, vallen) != 0) {
		*q = p + strlen(p);
		return -EINVAL;
	}
	return 1;
}

/* ---- the token ---- */

int
http_token_equal(const char *token, const char *given, size_t len)
{
	size_t n = strlen(token);
	unsigned diff = (unsigned)(len != n);

	/* Every byte of the token is compared whatever the given one holds,
	 * so the time says nothing about where they differ. */
	for (size_t i = 0; i < n; i++) {
		unsigned char g = i < len ? (unsigned char)given[i] : 0;

		diff |= (unsigned)(g ^ (unsigned char)token[i]);
	}
	return diff == 0;
}

void
http_token_free(char *token)
{
	if (token == NULL)
		return;
	explicit_bzero(token, strlen(token));
	xfree(token);
}

int
http_token_load(const char *path, char **out, char *err, size_t errlen)
{
	char buf[HTTP_TOKEN_MAX + 2];
	struct stat sb;
	ssize_t n;
	size_t len;
	int fd, rc;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "http.token_file %s: %s", path,
		    strerror(errno));
		return rc;
	}
	if (fstat(fd, &sb) != 0) {
		rc = -errno;
		snprintf(err, errlen, "http.token_file %s: %s", path,
		    strerror(errno));
		close(fd);
		return rc;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "http.token_file %s: not a regular file",
		    path);
		close(fd);
		return -EINVAL;
	}
	if ((sb.st_mode & 077) != 0) {
		snprintf(err, errlen, "http.token_file %s: mode %04o lets "
		    "group or others %s it; the token must be the owner's "
		    "alone (chmod 600 %s)", path, (unsigned)(sb.st_mode & 07777),
		    (sb.st_mode & 044) ? "read" : "write", path);
		close(fd);
		return -EPERM;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	rc = n < 0 ? -errno : 0;
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "http.token_file %s: %s", path,
		    strerror(-rc));
		return rc;
	}
	buf[n] = '\0';
	len = strcspn(buf, "\r\n");
	if (len < HTTP_TOKEN_MIN || len > HTTP_TOKEN_MAX ||
	    strlen(buf) < len) {
		snprintf(err, errlen, "http.token_file %s: the first line must "
		    "be the token, %d to %d bytes", path, HTTP_TOKEN_MIN,
		    HTTP_TOKEN_MAX);
		explicit_bzero(buf, sizeof(buf));
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] <= ' ' || buf[i] == 0x7f) {
			snprintf(err, errlen, "http.token_file %s: the token "
			    "holds a space or a control byte", path);
			explicit_bzero(buf, sizeof(buf));
			return -EINVAL;
		}
	*out = xstrndup(buf, len);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/* ---- addresses ---- */

int
http_listen_parse(const char *listen, char *host, size_t hostlen,
    unsigned *port, const char **why)
{
	const char *colon, *h = listen;
	size_t hl;
	char *end;
	unsigned long p;

	if (listen[0] == '[') {
		const char *rb = strchr(listen, ']');

		if (rb == NULL || rb[1] != ':') {
			*why = "want [ADDRESS]:PORT for IPv6";
			return -EINVAL;
		}
		h = listen + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(listen, ':');
		if (colon == NULL || memchr(listen, ':',
		    (size_t)(colon - listen)) != NULL) {
			*why = "want HOST:PORT (IPv6 as [ADDRESS]:PORT)";
			return -EINVAL;
		}
		hl = (size_t)(colon - listen);
	}
	if (hl == 0 || hl >= hostlen) {
		*why = "want HOST:PORT with a host";
		return -EINVAL;
	}
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 ||
	    p > 65535) {
		*why = "the port must be a number 0-65535 (0: any free port)";
		return -EINVAL;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (unsigned)p;
	return 0;
}

/* ---- routing: everything but the socket ---- */

static int
http_is_write(const char *m)
{
	return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 ||
	    strcmp(m, "PATCH") == 0 || strcmp(m, "DELETE") == 0;
}

/*
 * Matches path against pattern; '*' segments are copied into segbuf
 * (NUL-separated) and pointed to from rq->seg.  1 on a match.
 */
static int
http_match(const char *pattern, const char *path, struct http_req *rq,
    char *segbuf, size_t seglen)
{
	const char *p = pattern, *s = path;
	size_t used = 0;

	rq->nseg = 0;
	while (*p != '\0' && *s != '\0') {
		if (p[0] == '*' && (p[1] == '/' || p[1] == '\0') && p[-1] == '/') {
			size_t n = strcspn(s, "/");

			if (n == 0 || rq->nseg == HTTP_SEGS_MAX ||
			    used + n + 1 > seglen)
				return 0;
			memcpy(segbuf + used, s, n);
			segbuf[used + n] = '\0';
			rq->seg[rq->nseg++] = segbuf + used;
			used += n + 1;
			s += n;
			p++;
			continue;
		}
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	return *p == '\0' && *s == '\0';
}

/* A path is absolute, printable ASCII, without "//", "/./" or "/../". */
static const char *
http_path_check(const char *path, size_t len)
{
	if (len == 0 || path[0] != '/')
		return "the path must start with /";
	if (len > HTTP_PATH_MAX)
		return "the path is too long";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];

		if (c <= ' ' || c >= 0x7f)
			return "the path holds a space, a control or a "
			    "non-ASCII byte";
		if (c == '/' && i + 1 < len && (path[i + 1] == '/' ||
		    (path[i + 1] == '.' && (i + 2 == len ||
		    path[i + 2] == '/' || (path[i + 2] == '.' &&
		    (i + 3 == len || path[i + 3] == '/'))))))
			return "the path holds an empty, . or .. segment";
	}
	return NULL;
}

const char *
http_req_header(const struct http_req *rq, const char *name)
{
	return rq->header != NULL ? rq->header(rq->header_ctx, name) : NULL;
}

void
http_handle(const struct http_route *routes, size_t n, const char *token,
    uint32_t max_body, const struct http_in *in, struct http_resp *rs)
{
	char path[HTTP_PATH_MAX + 1], segbuf[HTTP_PATH_MAX + 1];
	char allow[sizeof(rs->allow)];
	const char *q, *why;
	const struct http_route *hit = NULL;
	struct http_req rq;
	size_t plen, alen = 0;
	int head, path_known = 0;

	http_resp_init(rs);
	memset(&rq, 0, sizeof(rq));
	for (const char *m = in->method; ; m++) {
		if (*m == '\0' && m != in->method && m - in->method <= 16)
			break;
		if (*m < 'A' || *m > 'Z' || m - in->method >= 16) {
			http_resp_error(rs, 400, "the method is not one HTTP "
			    "knows");
			return;
		}
	}
	q = strchr(in->url, '?');
	plen = q != NULL ? (size_t)(q - in->url) : strlen(in->url);
	if ((why = http_path_check(in->url, plen)) != NULL) {
		http_resp_error(rs, 400, "%s", why);
		return;
	}
	memcpy(path, in->url, plen);
	path[plen] = '\0';
	rq.method = in->method;
	rq.path = path;
	rq.query = q != NULL ? q + 1 : "";
	rq.body = in->body != NULL ? in->body : "";
	rq.bodylen = in->body != NULL ? in->bodylen : 0;
	rq.header = in->header;
	rq.header_ctx = in->header_ctx;

	if (http_is_write(in->method)) {
		static const char bearer[] = "Bearer ";
		const char *a = in->authorization;

		if (a == NULL || strncasecmp(a, bearer, sizeof(bearer) - 1) != 0) {
			rs->auth_challenge = 1;
			http_resp_error(rs, 401, "%s needs Authorization: Bearer "
			    "<token>", in->method);
			return;
		}
		a += sizeof(bearer) - 1;
		if (token == NULL || !http_token_equal(token, a, strlen(a))) {
			rs->auth_challenge = 1;
			http_resp_error(rs, 401, token == NULL ? "no token is "
			    "configured (http.token_file): writes are refused" :
			    "the bearer token is not the configured one");
			return;
		}
	}
	if (in->declared_len > max_body || rq.bodylen > max_body) {
		http_resp_error(rs, 413, "the body is larger than http.max_body "
		    "(%u bytes)", max_body);
		return;
	}

	head = strcmp(in->method, "HEAD") == 0;
	allow[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *m = routes[i].method;

		if (!http_match(routes[i].path, path, &rq, segbuf,
		    sizeof(segbuf)))
			continue;
		path_known = 1;
		if (strcmp(m, in->method) == 0 ||
		    (head && strcmp(m, "GET") == 0)) {
			hit = &routes[i];
			break;
		}
		/* the methods this path has, for Allow */
		if (strstr(allow, m) == NULL && alen + strlen(m) + 8 <
		    sizeof(allow))
			alen += (size_t)snprintf(allow + alen,
			    sizeof(allow) - alen, "%s%s%s", alen ? ", " : "",
			    m, strcmp(m, "GET") == 0 ? ", HEAD" : "");
	}
	if (hit == NULL) {
		if (!path_known) {
			http_resp_error(rs, 404, "no such resource: %s", path);
			return;
		}
		http_resp_error(rs, 405, "%s is not allowed on %s (allowed: "
		    "%s)", in->method, path, allow);
		snprintf(rs->allow, sizeof(rs->allow), "%s", allow);
		return;
	}
	if (hit->flags & HTTP_JSON) {
		json_error_t je;

		rq.json = json_loadb(rq.body, rq.bodylen, JSON_REJECT_DUPLICATES,
		    &je);
		if (rq.json == NULL) {
			http_resp_error(rs, 400, "the body is not JSON: line "
			    "%d column %d: %s", je.line, je.column, je.text);
			return;
		}
		if (!json_is_object(rq.json)) {
			json_decref(rq.json);
			http_resp_error(rs, 400, "the body must be a JSON "
			    "object");
			return;
		}
	}
	hit->fn(hit->arg, &rq, rs);
	json_decref(rq.json);
}

/* ---- the server ---- */

struct http_server {
	struct MHD_Daemon *mhd;
	struct http_route *routes;	/* copied */
	size_t		 nroutes;
	char		*token;		/* or NULL */
	uint32_t	 max_body;
	uint32_t	 max_conns;
	unsigned	 port;		/* bound */
	_Atomic uint64_t conns;		/* open now; changed on the MHD thread */
	_Atomic uint64_t requests;
	_Atomic uint64_t by_class[6];
	_Atomic uint64_t busy;
	_Atomic uint64_t unauthorized;
	_Atomic uint64_t too_large;
	pthread_mutex_t	 wlock;		/* wakes, draining, stopping */
	struct http_wake *wakes;	/* armed (http_wake_arm) */
	int		 stopping;	/* http_stop began: a wake armed
					 * from now on is born stopping */
	unsigned	 draining;	/* resumed by http_stop, not yet
					 * disarmed */
	pthread_cond_t	 drained;	/* draining went down */
};

/* Puts w on s's list for connection c (HTTP thread). */
static void
http_wake_arm(struct http_wake *w, struct http_server *s,
    struct MHD_Connection *c)
{
	pthread_mutex_lock(&w->mu);
	w->conn = c;
	pthread_mutex_unlock(&w->mu);
	pthread_mutex_lock(&s->wlock);
	if (s->stopping) {	/* never suspended: the library is stopping */
		pthread_mutex_lock(&w->mu);
		w->stopping = 1;
		pthread_mutex_unlock(&w->mu);
	}
	w->srv = s;
	w->prev = NULL;
	w->next = s->wakes;
	if (s->wakes != NULL)
		s->wakes->prev = w;
	s->wakes = w;
	pthread_mutex_unlock(&s->wlock);
}

/* Takes w off its server's list, if armed: the connection is done with
 * it (HTTP thread, or the library's stop; w->mu not held). */
static void
http_wake_disarm(struct http_wake *w)
{
	struct http_server *s = w->srv;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->wlock);
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		s->wakes = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	if (w->drain) {
		s->draining--;
		pthread_cond_broadcast(&s->drained);
	}
	pthread_mutex_unlock(&s->wlock);
	w->srv = NULL;
}

/* One request's state, on the MHD thread only. */
struct http_conn {
	char		*url;		/* path + raw query, or NULL: no query */
	int		 started;	/* the access handler has seen it */
	char		*body;		/* received so far */
	size_t		 len, cap;
	uint64_t	 declared;	/* Content-Length, or 0 */
	int		 over;		/* more than max_body arrived */
	int		 busy;		/* past the connection limit */
	struct http_pending *pending;	/* deferred: armed for it, or NULL */
};

static void
http_count(struct http_server *s, int status)
{
	ring_add_relaxed(&s->requests, 1);
	if (status >= 100 && status < 600)
		ring_add_relaxed(&s->by_class[status / 100], 1);
	if (status == 401)
		ring_add_relaxed(&s->unauthorized, 1);
	if (status == 413)
		ring_add_relaxed(&s->too_large, 1);
}

static ssize_t http_stream_reader(void *cls, uint64_t pos, char *buf,
    size_t max);
static void http_stream_done(void *cls);

/* Queues rs; for HEAD the library sends the headers only (with the
 * Content-Length GET would have). */
static enum MHD_Result
http_send(struct http_server *s, struct MHD_Connection *c,
    struct http_resp *rs, int close_after)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char ra[16];
	int cache_set = 0;

	if (rs->stream != NULL) {
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN,
		    HTTP_STREAM_BLOCK, http_stream_reader, rs->stream,
		    http_stream_done);
		close_after = 1;
	} else
		r = MHD_create_response_from_buffer(rs->len,
		    rs->body != NULL ? rs->body : (char *)"",
		    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	if (rs->stream != NULL) {
		/* the response owns it now: http_stream_done frees it */
		struct http_stream *st = rs->stream;

		rs->stream = NULL;
		http_wake_arm(&st->w, s, c);
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rs->ctype);
	for (size_t i = 0; i < rs->nhdr; i++) {
		MHD_add_response_header(r, rs->hdr[i].name, rs->hdr[i].value);
		if (strcasecmp(rs->hdr[i].name,
		    MHD_HTTP_HEADER_CACHE_CONTROL) == 0)
			cache_set = 1;
	}
	if (!cache_set)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
		    "no-store");
	if (rs->allow[0] != '\0')
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, rs->allow);
	if (rs->auth_challenge)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"tocsin\"");
	if (rs->retry_after > 0) {
		snprintf(ra, sizeof(ra), "%d", rs->retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (close_after)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(c, (unsigned)rs->status, r);
	MHD_destroy_response(r);
	http_count(s, rs->status);
	if (rs->status >= 400)
		log_debug("http status=%d", rs->status);
	return ret;
}

/* Frees a stream that is over: off the server's list, then fin(). */
static void
http_stream_free(struct http_stream *st)
{
	http_wake_disarm(&st->w);
	st->fin(st->arg);
	http_wake_fini(&st->w);
	xfree(st);
}

/* The response's free callback: the connection is done with it. */
static void
http_stream_done(void *cls)
{
	http_stream_free(cls);
}

/*
 * The content reader: the owner's bytes, or, when it has none and no
 * wake came meanwhile, a suspended connection (see the top of the file).
 */
static ssize_t
http_stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct http_stream *st = cls;
	ssize_t n;

	(void)pos;
	for (;;) {
		pthread_mutex_lock(&st->w.mu);
		st->w.rung = 0;
		n = st->w.stopping ? HTTP_STREAM_END : 0;
		pthread_mutex_unlock(&st->w.mu);
		if (n == 0)
			n = st->read(st->arg, buf, max);
		if (n > 0)
			return n;
		if (n < 0)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (http_wake_suspend(&st->w))
			return 0;
	}
}

/*
 * Sends a deferred answer: the completer's, or, when http_stop() resumed
 * the connection first, a 503 (the completer's later one is dropped).
 */
static enum MHD_Result
http_pending_send(struct http_server *s, struct MHD_Connection *c,
    struct http_conn *hc)
{
	struct http_pending *p = hc->pending;
	enum MHD_Result ret;

	pthread_mutex_lock(&p->w.mu);
	if (!p->w.rung) {
		struct http_resp rs;

		http_resp_init(&rs);
		rs.retry_after = 1;
		http_resp_error(&rs, 503, "the server is stopping; the request "
		    "may or may not have been applied (read it back)");
		http_resp_move(&p->rs, &rs);
		http_resp_fini(&rs);
		p->w.rung = 1;
	}
	ret = http_send(s, c, &p->rs, hc->over || p->w.stopping);
	pthread_mutex_unlock(&p->w.mu);
	return ret;
}

/* A request header for handlers (http_req_header). */
static const char *
http_mhd_header(void *ctx, const char *name)
{
	return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

/*
 * libmicrohttpd gives the access handler the path with the query cut off
 * (and parsed into its own table); handlers want the raw query, still
 * %-encoded, for http_query_next.  The URI log callback runs first with
 * the whole request target and its return value is the connection's
 * con_cls, so the request's state starts here.
 */
static void *
http_uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct http_conn *hc = xcalloc(1, sizeof(*hc));

	(void)cls;
	(void)c;
	if (uri != NULL && strchr(uri, '?') != NULL)
		hc->url = xstrdup(uri);
	return hc;
}

/* The request target for http_handle: MHD's path, with the raw query. */
static const char *
http_url(struct http_conn *hc, const char *url)
{
	const char *q;
	char *full;
	size_t n;

	if (hc->url == NULL || (q = strchr(hc->url, '?')) == NULL ||
	    strchr(url, '?') != NULL)
		return url;
	n = strlen(url);
	full = xmalloc(n + strlen(q) + 1);
	memcpy(full, url, n);
	strcpy(full + n, q);
	xfree(hc->url);
	hc->url = full;
	return full;
}

static enum MHD_Result
http_access(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct http_server *s = cls;
	struct http_conn *hc = *con_cls;
	struct http_resp rs;
	struct http_in in;
	enum MHD_Result ret;

	(void)version;
	if (hc == NULL) {
		hc = xcalloc(1, sizeof(*hc));
		*con_cls = hc;
	}
	if (!hc->started) {
		const char *cl;

		hc->started = 1;
		url = http_url(hc, url);
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL)
			hc->declared = strtoull(cl, NULL, 10);
		if (ring_load_relaxed(&s->conns) >
		    s->max_conns) {
			/* answer at once: the body, if any, is never read */
			ring_add_relaxed(&s->busy, 1);
			http_resp_init(&rs);
			rs.retry_after = 1;
			http_resp_error(&rs, 503, "too many connections (http."
			    "max_connections is %u); try again", s->max_conns);
			ret = http_send(s, c, &rs, 1);
			http_resp_fini(&rs);
			hc->busy = 1;
			return ret;
		}
		if (hc->declared > s->max_body) {
			memset(&in, 0, sizeof(in));
			in.method = method;
			in.url = url;
			in.authorization = MHD_lookup_connection_value(c,
			    MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
			in.declared_len = hc->declared;
			/* the gates before the body: 400, 401 or 413 */
			http_handle(s->routes, s->nroutes, s->token,
			    s->max_body, &in, &rs);
			ret = http_send(s, c, &rs, 1);
			http_resp_fini(&rs);
			return ret;
		}
		return MHD_YES;
	}
	if (hc->busy)
		return MHD_NO;
	if (hc->pending != NULL)	/* resumed: rung or stopping */
		return http_pending_send(s, c, hc);
	if (*upload_size > 0) {
		if (!hc->over && hc->len + *upload_size <= s->max_body) {
			if (hc->len + *upload_size + 1 > hc->cap) {
				hc->cap = hc->len + *upload_size + 1;
				hc->body = xrealloc(hc->body, hc->cap);
			}
			memcpy(hc->body + hc->len, upload, *upload_size);
			hc->len += *upload_size;
			hc->body[hc->len] = '\0';
		} else
			hc->over = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	memset(&in, 0, sizeof(in));
	in.method = method;
	in.url = hc->url != NULL ? hc->url : url;
	in.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	in.body = hc->body != NULL ? hc->body : "";
	in.bodylen = hc->len;
	in.declared_len = hc->over ? (uint64_t)s->max_body + 1 : hc->len;
	in.header = http_mhd_header;
	in.header_ctx = c;
	http_handle(s->routes, s->nroutes, s->token, s->max_body, &in, &rs);
	if (rs.pending != NULL) {
		/* the server's reference is hc's until http_completed */
		hc->pending = rs.pending;
		rs.pending = NULL;
		http_resp_fini(&rs);
		http_wake_arm(&hc->pending->w, s, c);
		if (http_wake_suspend(&hc->pending->w))
			return MHD_YES;	/* http_pending_done() rings */
		return http_pending_send(s, c, hc);
	}
	ret = http_send(s, c, &rs, hc->over);
	http_resp_fini(&rs);
	return ret;
}

static void
http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_conn *hc = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (hc == NULL)
		return;
	if (hc->pending != NULL) {
		http_wake_disarm(&hc->pending->w);
		http_pending_unref(hc->pending);
	}
	xfree(hc->url);
	xfree(hc->body);
	xfree(hc);
	*con_cls = NULL;
}

static void
http_conn_notify(void *cls, struct MHD_Connection *c, void **socket_ctx,
    enum MHD_ConnectionNotificationCode code)
{
	struct http_server *s = cls;

	(void)c;
	(void)socket_ctx;
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		ring_add_relaxed(&s->conns, 1);
	else if (code == MHD_CONNECTION_NOTIFY_CLOSED)
		ring_add_relaxed(&s->conns, (uint64_t)-1);
}

static void
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_debug("http: libmicrohttpd: %s", line);
}

int
http_serve(const struct http_config *c, const struct http_route *routes,
    size_t nroutes, char **token, struct http_server **out, char *err,
    size_t errlen)
{
	int rc;

	*token = NULL;
	*out = NULL;
	if (c->token_file != NULL && c->token_file[0] != '\0' &&
	    (rc = http_token_load(c->token_file, token, err, errlen)) != 0)
		return rc;
	if ((rc = http_start(c, routes, nroutes, *token, out, err,
	    errlen)) != 0) {
		http_token_free(*token);
		*token = NULL;
	}
	return rc;
}

int
http_start(const struct http_config *c, const struct http_route *routes,
    size_t nroutes, const char *token, struct http_server **out, char *err,
    size_t errlen)
{
	struct http_server *s;
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)&ss;
	const union MHD_DaemonInfo *di;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
	    MHD_ALLOW_SUSPEND_RESUME;
	char host[256];
	const char *why;
	unsigned port;
	int v6 = 0;

	*out = NULL;
	if (http_listen_parse(c->listen, host, sizeof(host), &port, &why) != 0) {
		snprintf(err, errlen, "http.listen %s: %s", c->listen, why);
		return -EINVAL;
	}
	memset(&ss, 0, sizeof(ss));
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		flags |= MHD_USE_IPv6;
		v6 = 1;
	} else {
		snprintf(err, errlen, "http.listen %s: the host must be a "
		    "numeric IPv4 or IPv6 address (or localhost)", c->listen);
		return -EINVAL;
	}
	s = xcalloc(1, sizeof(*s));
	s->routes = xcalloc(nroutes + 1, sizeof(*s->routes));
	memcpy(s->routes, routes, nroutes * sizeof(*routes));
	s->nroutes = nroutes;
	s->token = token != NULL ? xstrdup(token) : NULL;
	s->max_body = c->max_body;
	s->max_conns = c->max_connections;
	pthread_mutex_init(&s->wlock, NULL);
	pthread_cond_init(&s->drained, NULL);
	s->mhd = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL,
	    http_access, s,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)(c->max_connections +
	    HTTP_SPARE),
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)((c->idle_timeout_ms +
	    999) / 1000),
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, s,
	    MHD_OPTION_URI_LOG_CALLBACK, http_uri_log, s,
	    MHD_OPTION_NOTIFY_CONNECTION, http_conn_notify, s,
	    MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, s,
	    MHD_OPTION_END);
	if (s->mhd == NULL) {
		int e = errno != 0 ? errno : EADDRINUSE;

		snprintf(err, errlen, "http.listen %s: cannot listen: %s",
		    c->listen, strerror(e));
		http_token_free(s->token);
		pthread_mutex_destroy(&s->wlock);
		pthread_cond_destroy(&s->drained);
		xfree(s->routes);
		xfree(s);
		return -e;
	}
	di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di != NULL ? di->port : port;
	log_info("http listening on %s%s%s:%u max_connections=%u "
	    "max_body=%u max_streams=%u writes=%s", v6 ? "[" : "", host,
	    v6 ? "]" : "", s->port, c->max_connections, c->max_body,
	    c->max_streams,
	    token != NULL ? "token" : "refused (no http.token_file)");
	/* the route table as served: test_openapi checks etc/openapi.json
	 * against these lines */
	for (size_t i = 0; i < nroutes; i++)
		log_debug("http route method=%s path=%s", routes[i].method,
		    routes[i].path);
	*out = s;
	return 0;
}

unsigned
http_port(const struct http_server *s)
{
	return s->port;
}

void
http_stats(const struct http_server *s, struct http_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->requests = ring_load_relaxed(&s->requests);
	for (int i = 0; i < 6; i++)
		out->by_class[i] = ring_load_relaxed(&s->by_class[i]);
	out->busy = ring_load_relaxed(&s->busy);
	out->unauthorized = ring_load_relaxed(&s->unauthorized);
	out->too_large = ring_load_relaxed(&s->too_large);
	out->connections = ring_load_relaxed(&s->conns);
}

void
http_stop(struct http_server *s)
{
	if (s == NULL)
		return;
	/* libmicrohttpd must not stop with suspended connections: every
	 * armed wake is rung with stopping set (a deferred answer still
	 * waiting gets 503, a stream ends at its next read) */
	pthread_mutex_lock(&s->wlock);
	s->stopping = 1;
	for (struct http_wake *w = s->wakes; w != NULL; w = w->next) {
		pthread_mutex_lock(&w->mu);
		w->stopping = 1;
		if (w->suspended) {
			w->drain = 1;
			s->draining++;
			http_wake_resume(w);
		}
		pthread_mutex_unlock(&w->mu);
	}
	pthread_mutex_unlock(&s->wlock);
	/* let the HTTP thread send those answers, for at most a second */
	{
		struct timespec dl;

		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += HTTP_DRAIN_S;
		pthread_mutex_lock(&s->wlock);
		while (s->draining > 0 &&
		    pthread_cond_timedwait(&s->drained, &s->wlock, &dl) == 0)
			;
		pthread_mutex_unlock(&s->wlock);
	}
	MHD_stop_daemon(s->mhd);
	pthread_cond_destroy(&s->drained);
	pthread_mutex_destroy(&s->wlock);
	http_token_free(s->token);
	xfree(s->routes);
	xfree(s);
}
