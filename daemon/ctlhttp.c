/*
 * ctlhttp.c - see ctlhttp.h.  No libcurl: it is not in tocsin's
 * dependency list (DESIGN.md), and the client tocsinctl needs is one
 * plain-HTTP request per connection plus one streamed response.
 *
 * The parser is a byte-at-a-time state machine over lines (status,
 * headers, chunk sizes, trailers) kept in a fixed buffer, and bulk copies
 * for body bytes, so any split of the input gives the same result (the
 * fuzz target checks exactly that).  Header names are compared without
 * case; only Content-Length, Transfer-Encoding, Content-Type and
 * Retry-After are read.  A Content-Length together with chunked framing
 * is refused (RFC 9112 6.3: a request smuggling sign), as is any
 * Transfer-Encoding other than "chunked".
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "correlator/snapbuf.h"
#include "daemon/clock.h"
#include "daemon/ctlhttp.h"
#include "daemon/mem.h"

/* ---- URL ---- */

int
ctlhttp_url_parse(const char *s, struct ctlhttp_url *u, const char **why)
{
	const char *h, *e, *p;
	size_t hl;
	char *end;
	unsigned long port = 80;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(s, "http://", 7) != 0) {
		*why = strncasecmp(s, "https://", 8) == 0 ?
		    "https is not supported (put a TLS proxy in front and "
		    "talk to it, or use http:// on loopback)" :
		    "must start with http://";
		return -EINVAL;
	}
	h = s + 7;
	if (*h == '[') {
		if ((e = strchr(h, ']')) == NULL) {
			*why = "an IPv6 address without its ']'";
			return -EINVAL;
		}
		h++;
		hl = (size_t)(e - h);
		p = e + 1;
	} else {
		e = h + strcspn(h, ":/");
		hl = (size_t)(e - h);
		p = e;
	}
	if (hl == 0 || hl >= sizeof(u->host)) {
		*why = hl ? "host name too long" : "no host";
		return -EINVAL;
	}
	for (size_t i = 0; i < hl; i++)
		if (!isalnum((unsigned char)h[i]) && strchr(".-_:%", h[i]) ==
		    NULL) {
			*why = "host holds a character a host name cannot";
			return -EINVAL;
		}
	memcpy(u->host, h, hl);
	u->host[hl] = '\0';
	if (*p == ':') {
		errno = 0;
		port = strtoul(p + 1, &end, 10);
		if (end == p + 1 || errno || port == 0 || port > 65535 ||
		    !isdigit((unsigned char)p[1])) {
			*why = "port must be 1-65535";
			return -EINVAL;
		}
		p = end;
	}
	if (*p != '\0' && strcmp(p, "/") != 0) {
		*why = "a path after the address is not supported "
		    "(give http://HOST:PORT)";
		return -EINVAL;
	}
	u->port = (unsigned)port;
	return 0;
}

/* ---- parser ---- */

void
ctlhttp_parser_init(struct ctlhttp_parser *p, ctlhttp_body_fn *fn, void *arg)
{
	memset(p, 0, sizeof(*p));
	p->state = CTLHTTP_STATUS;
	p->body_fn = fn;
	p->arg = arg;
}

int
ctlhttp_parser_has_headers(const struct ctlhttp_parser *p)
{
	return p->state != CTLHTTP_STATUS && p->state != CTLHTTP_HEADERS;
}

static int
ph_status(struct ctlhttp_parser *p, const char *l)
{
	/* "HTTP/1.x NNN reason" */
	if (strncmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') ||
	    l[8] != ' ' || !isdigit((unsigned char)l[9]) ||
	    !isdigit((unsigned char)l[10]) || !isdigit((unsigned char)l[11]) ||
	    (l[12] != ' ' && l[12] != '\0'))
		return -EPROTO;
	p->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	if (p->status < 100)
		return -EPROTO;
	p->state = CTLHTTP_HEADERS;
	return 0;
}

/* Value of a header line "Name: value" when its name is name, or NULL. */
static const char *
ph_value(const char *l, const char *name)
{
	size_t n = strlen(name);

	if (strncasecmp(l, name, n) != 0 || l[n] != ':')
		return NULL;
	l += n + 1;
	while (*l == ' ' || *l == '\t')
		l++;
	return l;
}

/* The blank line after the headers: where the body starts. */
static int
ph_headers_end(struct ctlhttp_parser *p)
{
	if (p->status < 200) {		/* 1xx: another status follows */
		ctlhttp_parser_init(p, p->body_fn, p->arg);
		return 0;
	}
	if (p->chunked && p->has_len)
		return -EPROTO;
	if (p->status == 204 || p->status == 304)
		p->state = CTLHTTP_DONE;
	else if (p->chunked)
		p->state = CTLHTTP_CHUNK_SIZE;
	else if (p->has_len)
		p->state = p->left ? CTLHTTP_BODY_LEN : CTLHTTP_DONE;
	else
		p->state = CTLHTTP_BODY_CLOSE;
	return 0;
}

static int
ph_header(struct ctlhttp_parser *p, char *l)
{
	const char *v;
	size_t vl;

	if (*l == '\0')
		return ph_headers_end(p);
	if (++p->nheaders > CTLHTTP_HEADERS_MAX || *l == ' ' || *l == '\t' ||
	    strchr(l, ':') == NULL)
		return -EPROTO;		/* no obsolete line folding */
	vl = strlen(l);
	while (vl > 0 && (l[vl - 1] == ' ' || l[vl - 1] == '\t'))
		l[--vl] = '\0';
	if ((v = ph_value(l, "Content-Length")) != NULL) {
		uint64_t n = 0;

		if (*v == '\0' || p->has_len)
			return -EPROTO;
		for (; *v; v++) {
			if (!isdigit((unsigned char)*v) || n > UINT64_MAX / 10 - 1)
				return -EPROTO;
			n = n * 10 + (uint64_t)(*v - '0');
		}
		p->has_len = 1;
		p->left = n;
	} else if ((v = ph_value(l, "Transfer-Encoding")) != NULL) {
		if (strcasecmp(v, "chunked") != 0 || p->chunked)
			return -EPROTO;
		p->chunked = 1;
	} else if ((v = ph_value(l, "Content-Type")) != NULL) {
		snprintf(p->ctype, sizeof(p->ctype), "%s", v);
	} else if ((v = ph_value(l, "Retry-After")) != NULL) {
		long s = strtol(v, NULL, 10);

		p->retry_after = s > 0 && s < 86400 ? (int)s : 0;
	}
	return 0;
}

static int
ph_chunk_size(struct ctlhttp_parser *p, const char *l)
{
	uint64_t n = 0;
	const char *c = l;

	for (; isxdigit((unsigned char)*c); c++) {
		if (n > (UINT64_MAX >> 4) || c - l >= 16)
			return -EPROTO;
		n = n * 16 + (uint64_t)(isdigit((unsigned char)*c) ? *c - '0' :
		    tolower((unsigned char)*c) - 'a' + 10);
	}
	if (c == l || (*c != '\0' && *c != ';' && *c != ' ' && *c != '\t'))
		return -EPROTO;		/* chunk extensions are ignored */
	p->left = n;
	p->state = n ? CTLHTTP_CHUNK_DATA : CTLHTTP_TRAILERS;
	return 0;
}

/* One whole line (CRLF or LF removed) in the current line state. */
static int
ph_line(struct ctlhttp_parser *p)
{
	char *l = p->line;

	p->line[p->linelen] = '\0';
	if (memchr(l, '\0', p->linelen) != NULL)
		return -EPROTO;
	p->linelen = 0;
	switch (p->state) {
	case CTLHTTP_STATUS:
		return ph_status(p, l);
	case CTLHTTP_HEADERS:
		return ph_header(p, l);
	case CTLHTTP_CHUNK_SIZE:
		return ph_chunk_size(p, l);
	case CTLHTTP_CHUNK_END:
		if (*l != '\0')
			return -EPROTO;
		p->state = CTLHTTP_CHUNK_SIZE;
		return 0;
	case CTLHTTP_TRAILERS:
		if (*l == '\0')
			p->state = CTLHTTP_DONE;
		return 0;
	default:
		return -EPROTO;
	}
}

int
ctlhttp_parser_feed(struct ctlhttp_parser *p, const char *data, size_t n)
{
	size_t i = 0;
	int rc;

	if (p->broken)
		return -EPROTO;
	while (i < n) {
		switch (p->state) {
		case CTLHTTP_DONE:
			return 0;
		case CTLHTTP_BODY_CLOSE:
			if (p->body_fn)
				p->body_fn(p->arg, data + i, n - i);
			return 0;
		case CTLHTTP_BODY_LEN:
		case CTLHTTP_CHUNK_DATA: {
			size_t k = n - i;

			if (k > p->left)
				k = (size_t)p->left;
			if (p->body_fn)
				p->body_fn(p->arg, data + i, k);
			i += k;
			p->left -= k;
			if (p->left == 0)
				p->state = p->state == CTLHTTP_BODY_LEN ?
				    CTLHTTP_DONE : CTLHTTP_CHUNK_END;
			break;
		}
		default: {
			char c = data[i++];

			if (c == '\n') {
				if (p->linelen && p->line[p->linelen - 1] == '\r')
					p->linelen--;
				if ((rc = ph_line(p)) < 0) {
					p->broken = 1;
					return rc;
				}
			} else if (p->linelen >= sizeof(p->line) - 1) {
				p->broken = 1;
				return -EPROTO;
			} else {
				p->line[p->linelen++] = c;
			}
		}
		}
	}
	return 0;
}

int
ctlhttp_parser_eof(struct ctlhttp_parser *p)
{
	if (p->state == CTLHTTP_BODY_CLOSE)
		p->state = CTLHTTP_DONE;
	return p->state == CTLHTTP_DONE ? 0 : -EPROTO;
}

/* ---- sockets ---- */

static int
ch_left(int64_t end)
{
	int64_t l = end - clock_mono_ms();

	return l > 0 ? (int)l : 0;
}

int
ctlhttp_connect(const struct ctlhttp_url *u, int timeout_ms, char *err,
    size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[8];
	int fd = -1, rc, e = ECONNREFUSED;
	int64_t end = clock_mono_ms() + timeout_ms;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", u->port);
	if ((rc = getaddrinfo(u->host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", u->host,
		    gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct pollfd pf;
		socklen_t sl = sizeof(e);
		int fl;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		fl = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			e = 0;
		else if (errno != EINPROGRESS)
			e = errno;
		else {
			pf.fd = fd;
			pf.events = POLLOUT;
			pf.revents = 0;
			do
				rc = poll(&pf, 1, ch_left(end));
			while (rc < 0 && errno == EINTR);
			if (rc == 0)
				e = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) != 0)
				e = errno;
		}
		if (e == 0) {
			fcntl(fd, F_SETFL, fl);
			break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s:%u: %s", u->host,
		    u->port, strerror(e));
		return -e;
	}
	return fd;
}

/* Writes all of p within the deadline. */
static int
ch_write_all(int fd, const char *p, size_t n, int64_t end)
{
	while (n > 0) {
		struct pollfd pf = { fd, POLLOUT, 0 };
		ssize_t w;
		int rc = poll(&pf, 1, ch_left(end));

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return rc == 0 ? -ETIMEDOUT : -errno;
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
ctlhttp_send(int fd, const struct ctlhttp_url *u, const char *method,
    const char *path, const char *token, const char *extra, const char *body,
    int timeout_ms, char *err, size_t errlen)
{
	size_t blen = body ? strlen(body) : 0, hlen;
	char *req;
	int rc, v6 = strchr(u->host, ':') != NULL;

	hlen = strlen(method) + strlen(path) + strlen(u->host) +
	    (token ? strlen(token) : 0) + (extra ? strlen(extra) : 0) + 256;
	req = xmalloc(hlen + blen + 1);
	rc = snprintf(req, hlen,
	    "%s %s HTTP/1.1\r\nHost: %s%s%s:%u\r\nUser-Agent: tocsinctl/"
	    TOCSIN_VERSION "\r\nConnection: close\r\n%s%s%s%s",
	    method, path, v6 ? "[" : "", u->host, v6 ? "]" : "", u->port,
	    token ? "Authorization: Bearer " : "", token ? token : "",
	    token ? "\r\n" : "", extra ? extra : "");
	if (body != NULL)
		rc += snprintf(req + rc, hlen - (size_t)rc,
		    "Content-Type: application/json\r\nContent-Length: %zu\r\n",
		    blen);
	rc += snprintf(req + rc, hlen - (size_t)rc, "\r\n");
	if (body != NULL)
		memcpy(req + rc, body, blen);
	rc = ch_write_all(fd, req, (size_t)rc + blen,
	    clock_mono_ms() + timeout_ms);
	/* the request may hold the token: wipe it before it is freed */
	explicit_bzero(req, hlen + blen);
	xfree(req);
	if (rc < 0)
		snprintf(err, errlen, "cannot send to %s:%u: %s", u->host,
		    u->port, strerror(-rc));
	return rc;
}

struct ch_body {
	struct snapbuf	 buf;		/* the body so far */
	int		 toobig;	/* it went past CTLHTTP_BODY_MAX */
};

static void
ch_body_add(void *arg, const char *p, size_t n)
{
	struct ch_body *b = arg;

	if (b->toobig || b->buf.n + n > CTLHTTP_BODY_MAX) {
		b->toobig = 1;
		return;
	}
	snapbuf_put_bytes(&b->buf, p, n);
}

int
ctlhttp_request(const struct ctlhttp_url *u, const char *method,
    const char *path, const char *token, const char *body, int timeout_ms,
    struct ctlhttp_resp *r, char *err, size_t errlen)
{
	struct ctlhttp_parser *ps = xmalloc(sizeof(*ps));
	struct ch_body b;
	int64_t end = clock_mono_ms() + timeout_ms;
	int fd, rc;

	memset(r, 0, sizeof(*r));
	memset(&b, 0, sizeof(b));
	if ((fd = ctlhttp_connect(u, timeout_ms, err, errlen)) < 0) {
		xfree(ps);
		return fd;
	}
	rc = ctlhttp_send(fd, u, method, path, token, NULL, body,
	    ch_left(end), err, errlen);
	ctlhttp_parser_init(ps, ch_body_add, &b);
	while (rc == 0 && ps->state != CTLHTTP_DONE) {
		struct pollfd pf = { fd, POLLIN, 0 };
		char buf[16384];
		ssize_t n;
		int prc = poll(&pf, 1, ch_left(end));

		if (prc < 0 && errno == EINTR)
			continue;
		if (prc == 0) {
			rc = -ETIMEDOUT;
			snprintf(err, errlen, "%s:%u: no whole answer within "
			    "%d ms", u->host, u->port, timeout_ms);
			break;
		}
		n = prc < 0 ? -1 : read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s:%u: %s", u->host, u->port,
			    strerror(errno));
		} else if (n == 0) {
			if ((rc = ctlhttp_parser_eof(ps)) < 0)
				snprintf(err, errlen, "%s:%u: the connection "
				    "closed before the whole answer", u->host,
				    u->port);
			break;
		} else if ((rc = ctlhttp_parser_feed(ps, buf, (size_t)n)) < 0) {
			snprintf(err, errlen, "%s:%u: malformed HTTP answer",
			    u->host, u->port);
		} else if (b.toobig) {
			rc = -EMSGSIZE;
			snprintf(err, errlen, "%s:%u: answer over %u bytes",
			    u->host, u->port, CTLHTTP_BODY_MAX);
		}
	}
	close(fd);
	if (rc == 0) {
		r->status = ps->status;
		r->retry_after = ps->retry_after;
		snprintf(r->ctype, sizeof(r->ctype), "%s", ps->ctype);
		snapbuf_put_bytes(&b.buf, "", 1);	/* a string too */
		r->body = b.buf.p;
		r->len = b.buf.n - 1;
	} else {
		snapbuf_fini(&b.buf);
	}
	xfree(ps);
	return rc;
}

void
ctlhttp_resp_fini(struct ctlhttp_resp *r)
{
	FREE_NULL(r->body);
	r->len = 0;
}

size_t
ctlhttp_escape(const char *s, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int plain = isalnum(c) || c == '-' || c == '.' || c == '_' ||
		    c == '~';
		char e[3] = { '%', hex[c >> 4], hex[c & 15] };

		for (int k = 0; k < (plain ? 1 : 3); k++, n++)
			if (n + 1 < outlen)
				out[n] = plain ? (char)c : e[k];
	}
	if (outlen)
		out[n < outlen ? n : outlen - 1] = '\0';
	return n;
}
