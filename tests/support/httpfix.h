/*
 * httpfix.h - a small HTTP/1.1 client for the tests of tocsind's HTTP
 * server (raw sockets, so a test can also send what no library would),
 * and a reader of the port tocsind logs when it listens on port 0.
 */
#ifndef TOCSIN_TEST_HTTPFIX_H
#define TOCSIN_TEST_HTTPFIX_H

#include <stddef.h>

struct httpfix_resp {
	int	 status;	/* 0: no answer (connection closed, timeout) */
	char	*headers;	/* the header block, malloc'd ("" if none) */
	char	*body;		/* malloc'd, NUL-terminated ("" if none) */
	size_t	 bodylen;
};

/*
 * Sends raw (a whole request) to 127.0.0.1:port and reads the answer
 * until the peer closes or timeout_ms pass.  Returns the status (0 for
 * none); free r with httpfix_free().
 */
int	 httpfix_raw(int port, const char *raw, size_t rawlen,
	    struct httpfix_resp *r, int timeout_ms);
/*
 * METHOD path with Connection: close, extra headers (each ending in
 * "\r\n", or NULL) and body (or NULL).  Returns the status.
 */
int	 httpfix_do(int port, const char *method, const char *path,
	    const char *headers, const char *body, struct httpfix_resp *r);
void	 httpfix_free(struct httpfix_resp *r);
/* Header name's value in r (case-insensitive), copied into buf; NULL. */
const char *httpfix_header(const struct httpfix_resp *r, const char *name,
	    char *buf, size_t len);
/* An open connection to 127.0.0.1:port that sends nothing (close it). */
int	 httpfix_connect(int port);
/*
 * Polls GET /healthz on 127.0.0.1:port (every 200 ms, ms at most) until
 * its status is want and, if needle is not NULL, its body holds needle;
 * fails the test otherwise, with the last answer.  Returns the last body
 * (malloc'd).
 */
char	*httpfix_health_until(int port, int want, const char *needle, int ms);
/*
 * Waits up to timeout_ms for "http listening on ADDR:PORT" in the log
 * file at path; returns PORT, or -1.
 */
int	 httpfix_port_from_log(const char *path, int timeout_ms);

#endif
