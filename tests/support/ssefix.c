/*
 * ssefix.c - see ssefix.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "tests/support/httpfix.h"
#include "tests/support/ssefix.h"
#include "tests/support/tenv.h"

struct ssefix {
	int	 fd;
	int	 status;
	int	 chunked;
	int	 eof;		/* the server closed */
	char	 ctype[128];
	char	*raw;		/* bytes received, not yet decoded */
	size_t	 rawn, rawcap;
	char	*body;		/* decoded body, not yet parsed */
	size_t	 bodyn, bodycap;
	char	 last_id[SSEFIX_ID_MAX];
};

static void
grow(char **p, size_t *cap, size_t need)
{
	if (need + 1 <= *cap)
		return;
	while (*cap < need + 1)
		*cap = *cap ? *cap * 2 : 4096;
	if ((*p = realloc(*p, *cap)) == NULL)
		abort();
}

/* Reads what comes within timeout_ms into raw: 1 some, 0 none, -1 EOF. */
static int
fill(struct ssefix *s, int timeout_ms)
{
	struct pollfd pfd = { s->fd, POLLIN, 0 };
	ssize_t n;

	if (s->eof)
		return -1;
	if (poll(&pfd, 1, timeout_ms < 0 ? 0 : timeout_ms) <= 0)
		return 0;
	grow(&s->raw, &s->rawcap, s->rawn + 65536);
	n = read(s->fd, s->raw + s->rawn, 65536);
	if (n <= 0) {
		s->eof = 1;
		return -1;
	}
	s->rawn += (size_t)n;
	s->raw[s->rawn] = '\0';
	return 1;
}

static void
consume(char *p, size_t *n, size_t k)
{
	memmove(p, p + k, *n - k);
	*n -= k;
}

/* Moves whole chunks (or everything, unchunked) from raw to body. */
static void
decode(struct ssefix *s)
{
	if (!s->chunked) {
		grow(&s->body, &s->bodycap, s->bodyn + s->rawn);
		memcpy(s->body + s->bodyn, s->raw, s->rawn);
		s->bodyn += s->rawn;
		s->rawn = 0;
		s->body[s->bodyn] = '\0';
		return;
	}
	for (;;) {
		char *crlf, *end;
		unsigned long k;
		size_t hl;

		if (s->rawn == 0 || (crlf = memmem(s->raw, s->rawn, "\r\n",
		    2)) == NULL)
			return;
		k = strtoul(s->raw, &end, 16);
		hl = (size_t)(crlf + 2 - s->raw);
		if (k == 0) {		/* the last chunk */
			s->eof = 1;
			s->rawn = 0;
			return;
		}
		if (s->rawn < hl + k + 2)
			return;
		grow(&s->body, &s->bodycap, s->bodyn + k);
		memcpy(s->body + s->bodyn, s->raw + hl, k);
		s->bodyn += k;
		s->body[s->bodyn] = '\0';
		consume(s->raw, &s->rawn, hl + k + 2);
	}
}

struct ssefix *
ssefix_open(int port, const char *path, const char *last_id, int timeout_ms)
{
	struct ssefix *s;
	char req[2048], *hend;
	int64_t end = tenv_mono_ms() + timeout_ms;
	int fd = httpfix_connect(port), n;

	if (fd < 0)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		abort();
	s->fd = fd;
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Accept: text/event-stream\r\n%s%s%s\r\n",
	    path != NULL ? path : "/api/v1/events",
	    last_id != NULL ? "Last-Event-ID: " : "",
	    last_id != NULL ? last_id : "", last_id != NULL ? "\r\n" : "");
	if (write(fd, req, (size_t)n) != n)
		return s;
	while ((s->raw == NULL || (hend = strstr(s->raw, "\r\n\r\n")) ==
	    NULL) && tenv_mono_ms() < end)
		if (fill(s, (int)(end - tenv_mono_ms())) < 0)
			break;
	if (s->raw == NULL || (hend = strstr(s->raw, "\r\n\r\n")) == NULL)
		return s;
	*hend = '\0';
	(void)sscanf(s->raw, "HTTP/1.%*d %d", &s->status);
	for (char *l = strstr(s->raw, "\r\n"); l != NULL;
	    l = strstr(l + 2, "\r\n")) {
		if (strncasecmp(l + 2, "Transfer-Encoding: chunked", 26) == 0)
			s->chunked = 1;
		if (strncasecmp(l + 2, "Content-Type: ", 14) == 0)
			snprintf(s->ctype, sizeof(s->ctype), "%.*s",
			    (int)strcspn(l + 16, "\r\n"), l + 16);
	}
	consume(s->raw, &s->rawn, (size_t)(hend + 4 - s->raw));
	decode(s);
	return s;
}

int
ssefix_status(const struct ssefix *s)
{
	return s->status;
}

const char *
ssefix_ctype(const struct ssefix *s)
{
	return s->ctype;
}

const char *
ssefix_last_id(const struct ssefix *s)
{
	return s->last_id;
}

/* Parses one block of body[0, n) into b. */
static void
parse(struct ssefix *s, char *p, size_t n, struct ssefix_block *b)
{
	size_t dn = 0;

	memset(b, 0, sizeof(*b));
	while (n > 0) {
		size_t l = strcspn(p, "\n");
		char *line = p;

		if (l > n)
			l = n;
		line[l] = '\0';
		if (strncmp(line, "id: ", 4) == 0) {
			snprintf(b->id, sizeof(b->id), "%s", line + 4);
			snprintf(s->last_id, sizeof(s->last_id), "%s", b->id);
		} else if (strncmp(line, "event: ", 7) == 0)
			snprintf(b->event, sizeof(b->event), "%s", line + 7);
		else if (strncmp(line, "data: ", 6) == 0) {
			size_t k = strlen(line + 6);

			if ((b->data = realloc(b->data, dn + k + 2)) == NULL)
				abort();
			if (dn > 0)
				b->data[dn++] = '\n';
			memcpy(b->data + dn, line + 6, k + 1);
			dn += k;
		} else if (strcmp(line, ": keepalive") == 0)
			b->keepalive = 1;
		p += l + 1;
		n -= l + 1 <= n ? l + 1 : n;
	}
}

int
ssefix_next(struct ssefix *s, struct ssefix_block *b, int timeout_ms)
{
	int64_t end = tenv_mono_ms() + timeout_ms;

	memset(b, 0, sizeof(*b));
	for (;;) {
		char *sep = s->body != NULL ? strstr(s->body, "\n\n") : NULL;

		if (sep != NULL) {
			size_t n = (size_t)(sep - s->body);

			parse(s, s->body, n, b);
			consume(s->body, &s->bodyn, n + 2);
			s->body[s->bodyn] = '\0';
			return 1;
		}
		if (s->eof)
			return -1;
		if (tenv_mono_ms() >= end)
			return 0;
		if (fill(s, (int)(end - tenv_mono_ms())) > 0)
			decode(s);
	}
}

void
ssefix_block_free(struct ssefix_block *b)
{
	free(b->data);
	b->data = NULL;
}

void
ssefix_close(struct ssefix *s)
{
	if (s == NULL)
		return;
	close(s->fd);
	free(s->raw);
	free(s->body);
	free(s);
}
