/*
 * ctlwatch.h - `tocsinctl watch`: the live board's I/O around the pure
 * board of daemon/ctlboard.  One thread, one poll() on the terminal's
 * input, the event stream's socket and a self-pipe for signals, with a
 * timeout to the next whole second (the countdowns tick): it never spins
 * and never sleeps while something is ready.
 *
 * Feed: GET /api/v1/incidents once (every page), then the server-sent
 * events of GET /api/v1/events (daemon/ctlsse) applied as they come.  On
 * `event: reset`, and after every (re)connection of the stream, the list
 * is read again.  A server without the stream (404/405: tocsind before
 * the SSE route) is read by re-reading the list every 2 s instead.  A
 * lost stream (closed, or silent for 45 s: three missed keepalives) is
 * reconnected after 1 s (or the stream's `retry`), with Last-Event-ID.
 *
 * Screen: on a terminal, the alternate screen, redrawn in place with one
 * write per frame (every second, and on a change, at most 20 a second),
 * resized on SIGWINCH, keys read in raw mode (ISIG kept: Ctrl-C quits),
 * the terminal restored on every way out.  With --plain or
 * when stdout is not a terminal: plain text, a block of lines each time
 * the board changes.  NO_COLOR (or colour 0) drops the colours only.
 */
#ifndef TOCSIN_CTLWATCH_H
#define TOCSIN_CTLWATCH_H

#include <jansson.h>

#include "daemon/ctlhttp.h"

struct ctlwatch_cfg {
	const struct ctlhttp_url *url;
	const char	*server;	/* for the title */
	const char	*token;		/* writes (the a key), or NULL */
	const char	*actor;		/* who acknowledges, or NULL */
	int		 board;		/* 1: the terminal board; 0: lines */
	int		 colour;	/* colours (ANSI SGR) */
	int		 once;		/* one board, then return */
	int		 timeout_ms;	/* per request */
	int		 poll_ms;	/* list re-read without the stream */
};

/* Runs until q, a signal (INT, TERM, HUP) or, with once, one board.
 * Returns a tocsinctl exit code (daemon/ctlopt.h). */
int	 ctlwatch_run(const struct ctlwatch_cfg *c);

/*
 * GET /api/v1/incidents?query (query "" or "a=b&..."), every page, up to
 * limit items (0: all), into *out ({"incidents":[...],"count":N,
 * "next_cursor":null}, caller's reference).  Returns 200 and *out; an
 * HTTP status >= 300 with *out the server's error object (or NULL) and
 * its "error" text in err; or -errno and err when no answer came.
 */
int	 ctlwatch_list(const struct ctlhttp_url *u, const char *query,
	    long limit, int timeout_ms, json_t **out, char *err,
	    size_t errlen);

#endif
