/*
 * ssefix.h - a server-sent events reader for the tests of tocsind's
 * GET /api/v1/events: one HTTP/1.1 request (optionally with
 * Last-Event-ID), the chunked body decoded as it arrives, and the
 * text/event-stream parsed into blocks the way an EventSource does (the
 * id of a block sets the last event id, with or without data).  Every
 * wait is bounded.
 */
#ifndef TOCSIN_TEST_SSEFIX_H
#define TOCSIN_TEST_SSEFIX_H

#include <stddef.h>

#define SSEFIX_ID_MAX	1024

/* One block ("...\n\n"). */
struct ssefix_block {
	char	 id[SSEFIX_ID_MAX];	/* its id: line, or "" */
	char	 event[32];		/* its event: line, or "" */
	char	*data;			/* its data (lines joined by \n),
					 * malloc'd, or NULL */
	int	 keepalive;		/* held a ": keepalive" comment */
};

struct ssefix;

/*
 * Connects to 127.0.0.1:port, asks for path (NULL: /api/v1/events) with
 * Last-Event-ID last_id (NULL: none) and reads the status line and
 * headers (timeout_ms).  NULL when it cannot connect; check
 * ssefix_status().
 */
struct ssefix *ssefix_open(int port, const char *path, const char *last_id,
	    int timeout_ms);
/* The status (0: none came), and the Content-Type ("" if none). */
int	 ssefix_status(const struct ssefix *s);
const char *ssefix_ctype(const struct ssefix *s);
/*
 * The next block into *b (free with ssefix_block_free): 1, 0 when none
 * came within timeout_ms, -1 when the server closed the stream.
 */
int	 ssefix_next(struct ssefix *s, struct ssefix_block *b, int timeout_ms);
void	 ssefix_block_free(struct ssefix_block *b);
/* The last event id seen so far ("" for none), as an EventSource keeps. */
const char *ssefix_last_id(const struct ssefix *s);
/* Closes the connection (the client goes away); NULL is a no-op. */
void	 ssefix_close(struct ssefix *s);

#endif
