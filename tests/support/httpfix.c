/*
 * httpfix.c - see httpfix.h.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/httpfix.h"
#include "tests/support/tenv.h"

int
httpfix_connect(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static char *
dupn(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* A chunked body made whole (a Go server's large answers). */
static void
httpfix_dechunk(struct httpfix_resp *r)
{
	char *out = malloc(r->bodylen + 1), *p = r->body;
	size_t n = 0;

	if (out == NULL)
		abort();
	for (;;) {
		char *end;
		unsigned long k = strtoul(p, &end, 16);

		if (end == p || (end = strstr(end, "\r\n")) == NULL || k == 0 ||
		    k > r->bodylen - (size_t)(end + 2 - r->body))
			break;
		memcpy(out + n, end + 2, k);
		n += k;
		p = end + 2 + k + 2;
		if ((size_t)(p - r->body) >= r->bodylen)
			break;
	}
	out[n] = '\0';
	free(r->body);
	r->body = out;
	r->bodylen = n;
}

int
httpfix_raw(int port, const char *raw, size_t rawlen, struct httpfix_resp *r,
    int timeout_ms)
{
	int64_t end = tenv_mono_ms() + timeout_ms;
	char *buf = NULL, *hend, te[32];
	size_t len = 0, cap = 0, off = 0;
	int fd;

	memset(r, 0, sizeof(*r));
	r->headers = dupn("", 0);
	r->body = dupn("", 0);
	if ((fd = httpfix_connect(port)) < 0)
		return 0;
	while (off < rawlen) {
		ssize_t n = send(fd, raw + off, rawlen - off, MSG_NOSIGNAL);

		if (n <= 0)
			break;	/* the server may answer before reading all */
		off += (size_t)n;
	}
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		int64_t left = end - tenv_mono_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			if ((buf = realloc(buf, cap)) == NULL)
				abort();
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (buf == NULL)
		return 0;
	buf[len] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1)
		r->status = 0;
	if ((hend = strstr(buf, "\r\n\r\n")) != NULL) {
		free(r->headers);
		free(r->body);
		r->headers = dupn(buf, (size_t)(hend - buf) + 2);
		r->bodylen = len - (size_t)(hend + 4 - buf);
		r->body = dupn(hend + 4, r->bodylen);
	}
	free(buf);
	if (httpfix_header(r, "Transfer-Encoding", te, sizeof(te)) != NULL &&
	    strcasecmp(te, "chunked") == 0)
		httpfix_dechunk(r);
	return r->status;
}

int
httpfix_do(int port, const char *method, const char *path,
    const char *headers, const char *body, struct httpfix_resp *r)
{
	char *req = NULL;
	int n, st;

	n = asprintf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\n%s%s%zu\r\n\r\n%s", method, path,
	    headers != NULL ? headers : "",
	    "Content-Length: ", body != NULL ? strlen(body) : 0,
	    body != NULL ? body : "");
	if (n < 0)
		abort();
	st = httpfix_raw(port, req, (size_t)n, r, 10000);
	free(req);
	return st;
}

void
httpfix_free(struct httpfix_resp *r)
{
	free(r->headers);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

const char *
httpfix_header(const struct httpfix_resp *r, const char *name, char *buf,
    size_t len)
{
	size_t nl = strlen(name);

	for (const char *l = r->headers; l != NULL && *l != '\0'; ) {
		const char *e = strstr(l, "\r\n");

		if (e == NULL)
			break;
		if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
			const char *v = l + nl + 1;

			while (*v == ' ')
				v++;
			snprintf(buf, len, "%.*s", (int)(e - v), v);
			return buf;
		}
		l = e + 2;
	}
	return NULL;
}

int
httpfix_port_from_log(const char *path, int timeout_ms)
{
	int64_t end = tenv_mono_ms() + timeout_ms;

	do {
		char *t = tenv_read_file(path), *p;
		int port = -1;

		if ((p = strstr(t, "http listening on ")) != NULL) {
			p += strlen("http listening on ");
			p += strcspn(p, " \n");
			while (p > t && p[-1] != ':')
				p--;
			port = atoi(p);
		}
		free(t);
		if (port > 0)
			return port;
		usleep(20000);
	} while (tenv_mono_ms() < end);
	return -1;
}

char *
httpfix_health_until(int port, int want, const char *needle, int ms)
{
	int64_t end = tenv_mono_ms() + ms;
	struct httpfix_resp r;
	char *body;

	for (;;) {
		int st = httpfix_do(port, "GET", "/healthz", NULL, NULL, &r);
		int ok = st == want && (needle == NULL ||
		    strstr(r.body, needle) != NULL);

		if (ok || tenv_mono_ms() >= end) {
			body = strdup(r.body);
			httpfix_free(&r);
			cr_assert(ok, "/healthz: %d, not %d%s%s: %s", st, want,
			    needle ? " with " : "", needle ? needle : "", body);
			return body;
		}
		httpfix_free(&r);
		usleep(200000);
	}
}
