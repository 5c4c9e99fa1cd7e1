/*
 * ctlwatch.c - see ctlwatch.h.
 *
 * Blocking parts, bounded: the list read, the stream's connect and
 * request, and an acknowledgement are plain requests with the command's
 * timeout (10 s by default; loopback answers in milliseconds).  The
 * stream itself is read without blocking from the poll loop.
 *
 * Race between the list and the stream: the stream's request is sent
 * first and the list read after it, so an event that happens in between
 * is both in the list and waiting on the socket; the board drops it by
 * its seq (ctlboard_apply keeps only a newer seq).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "daemon/clock.h"
#include "daemon/ctlboard.h"
#include "daemon/ctlhttp.h"
#include "daemon/ctlopt.h"
#include "daemon/ctlsse.h"
#include "daemon/ctlwatch.h"
#include "daemon/mem.h"
#include "daemon/utc.h"

#define W_PAGE		1000		/* items per list page (the max) */
#define W_RETRY_MS	1000		/* stream reconnect delay */
#define W_FRAME_MS	50		/* at most 20 frames a second: an event
					 * storm redraws, it does not flood */
#define W_STALL_MS	45000		/* a stream silent this long (three
					 * of tocsind's 15 s keepalives) is
					 * taken as lost and reconnected */

struct watch {
	const struct ctlwatch_cfg *c;
	struct ctlboard	 b;
	int		 fd;		/* the stream's socket, or -1 */
	struct ctlhttp_parser *hp;	/* its response */
	struct ctlsse	 sse;
	int		 live;		/* the stream answered 200 */
	int		 nostream;	/* the server has none: poll */
	int64_t		 retry_at;	/* mono ms: reconnect / re-read */
	int64_t		 rx_at;		/* mono ms: the stream's last bytes */
	int		 reload;	/* the list must be read again */
	int		 dirty;		/* the board changed */
	int		 feed_msg;	/* b.msg is the feed's error: a
					 * good list read clears it */
	uint64_t	 printed;	/* plain text: the digest printed */
	char		 printed_msg[64]; /* and its status line's start */
	unsigned	 cols, rows;
	struct termios	 saved;
	int		 raw;		/* the terminal is in raw mode */
	char		 feed[160];	/* how the board is fed, for the title */
	char		 title[512];
	int		 stop;
};

static int w_sigfd[2] = { -1, -1 };	/* the self-pipe */

static void
w_signal(int sig)
{
	unsigned char c = (unsigned char)sig;
	int e = errno;

	if (write(w_sigfd[1], &c, 1) < 0) {
		/* a full pipe already holds a wake-up */
	}
	errno = e;
}

static int
w_write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(1, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ---- the list ---- */

/* The "error" of an error answer, or the status line's gist. */
static void
w_http_error(const struct ctlhttp_resp *r, json_t **out, char *err,
    size_t errlen)
{
	json_t *j = json_loadb(r->body, r->len, 0, NULL);
	const char *e = json_string_value(json_object_get(j, "error"));

	snprintf(err, errlen, "HTTP %d: %s", r->status, e ? e :
	    "(no JSON error)");
	if (out)
		*out = j;
	else
		json_decref(j);
}

int
ctlwatch_list(const struct ctlhttp_url *u, const char *query, long limit,
    int timeout_ms, json_t **out, char *err, size_t errlen)
{
	json_t *all = json_array(), *cursor = NULL;
	char path[2048], cur[512];
	long got = 0;
	int rc;

	*out = NULL;
	cur[0] = '\0';
	for (;;) {
		struct ctlhttp_resp r;
		json_t *j, *items, *it;
		long page = W_PAGE;
		size_t i;

		if (limit > 0 && limit - got < page)
			page = limit - got;
		snprintf(path, sizeof(path), "/api/v1/incidents?%s%slimit=%ld"
		    "%s%s", query, *query ? "&" : "", page, cur[0] ?
		    "&cursor=" : "", cur);
		rc = ctlhttp_request(u, "GET", path, NULL, NULL, timeout_ms,
		    &r, err, errlen);
		if (rc < 0)
			break;
		if (r.status != 200) {
			rc = r.status;
			w_http_error(&r, out, err, errlen);
			ctlhttp_resp_fini(&r);
			break;
		}
		j = json_loadb(r.body, r.len, 0, NULL);
		ctlhttp_resp_fini(&r);
		items = json_object_get(j, "incidents");
		if (!json_is_array(items)) {
			json_decref(j);
			snprintf(err, errlen, "the incident list is not "
			    "{\"incidents\":[...]}");
			rc = -EPROTO;
			break;
		}
		json_array_foreach(items, i, it) {
			json_array_append(all, it);
			got++;
		}
		cursor = json_object_get(j, "next_cursor");
		if (!json_is_string(cursor) || json_array_size(items) == 0 ||
		    (limit > 0 && got >= limit)) {
			json_decref(j);
			rc = 200;
			break;
		}
		ctlhttp_escape(json_string_value(cursor), cur, sizeof(cur));
		json_decref(j);
	}
	if (rc == 200)
		*out = json_pack("{s:o, s:I, s:n}", "incidents", all, "count",
		    (json_int_t)got, "next_cursor");
	else
		json_decref(all);
	return rc;
}

static void
w_load(struct watch *w)
{
	json_t *j;
	char err[512];
	int rc = ctlwatch_list(w->c->url, "", 0, w->c->timeout_ms, &j, err,
	    sizeof(err));

	if (rc == 200) {
		ctlboard_load(&w->b, j);
		if (w->feed_msg)	/* a feed error that is over */
			w->b.msg[0] = '\0';
		w->feed_msg = 0;
	} else {
		snprintf(w->b.msg, sizeof(w->b.msg), "! cannot read the "
		    "incidents: %s", err);
		w->feed_msg = 1;
	}
	json_decref(j);
	w->dirty = 1;
}

/* ---- the stream ---- */

static void
w_event(void *arg, const char *type, const char *data, size_t len,
    const char *id)
{
	struct watch *w = arg;

	if (strcmp(type, "incident") == 0) {
		if (ctlboard_apply(&w->b, data, len) > 0)
			w->dirty = 1;
	} else if (strcmp(type, "reset") == 0) {
		w->reload = 1;
	}
}

static void
w_body(void *arg, const char *p, size_t n)
{
	struct watch *w = arg;

	if (w->hp->status == 200)
		(void)ctlsse_feed(&w->sse, p, n);
}

static void
w_stream_close(struct watch *w, int64_t retry_ms)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	w->live = 0;
	w->retry_at = clock_mono_ms() + retry_ms;
}

static void
w_stream_open(struct watch *w)
{
	char err[512], hdr[CTLSSE_ID_MAX + 64];
	int fd;

	hdr[0] = '\0';
	snprintf(hdr, sizeof(hdr), "Accept: text/event-stream\r\n%s%s%s",
	    w->sse.id[0] ? "Last-Event-ID: " : "", w->sse.id,
	    w->sse.id[0] ? "\r\n" : "");
	fd = ctlhttp_connect(w->c->url, w->c->timeout_ms, err, sizeof(err));
	if (fd >= 0 && ctlhttp_send(fd, w->c->url, "GET", "/api/v1/events",
	    NULL, hdr, NULL, w->c->timeout_ms, err, sizeof(err)) < 0) {
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		snprintf(w->feed, sizeof(w->feed), "reconnecting");
		snprintf(w->b.msg, sizeof(w->b.msg), "! %s", err);
		w->feed_msg = 1;
		w->dirty = 1;
		w_stream_close(w, W_RETRY_MS);
		return;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	w->fd = fd;
	w->rx_at = clock_mono_ms();
	ctlhttp_parser_init(w->hp, w_body, w);
	/* a new stream: events are whole again from its first line, the
	 * last id is kept for Last-Event-ID */
	{
		char id[CTLSSE_ID_MAX];
		long retry = w->sse.retry_ms;

		memcpy(id, w->sse.id, sizeof(id));
		ctlsse_fini(&w->sse);
		ctlsse_init(&w->sse, w_event, w);
		memcpy(w->sse.id, id, sizeof(id));
		w->sse.retry_ms = retry;
	}
	w->reload = 1;			/* (re)connected: read the list again */
}

/* Bytes on the stream's socket. */
static void
w_stream_read(struct watch *w)
{
	char buf[16384];
	ssize_t n = read(w->fd, buf, sizeof(buf));
	long retry = w->sse.retry_ms >= 0 ? w->sse.retry_ms : W_RETRY_MS;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		snprintf(w->feed, sizeof(w->feed), "reconnecting");
		w->dirty = 1;
		w_stream_close(w, retry);
		return;
	}
	w->rx_at = clock_mono_ms();
	if (ctlhttp_parser_feed(w->hp, buf, (size_t)n) < 0) {
		snprintf(w->b.msg, sizeof(w->b.msg), "! malformed answer on "
		    "/api/v1/events");
		w->feed_msg = 1;
		w_stream_close(w, retry);
		return;
	}
	if (!w->live && ctlhttp_parser_has_headers(w->hp)) {
		int st = w->hp->status;

		if (st == 200 && strncmp(w->hp->ctype, "text/event-stream",
		    17) == 0) {
			w->live = 1;
			snprintf(w->feed, sizeof(w->feed), "live");
		} else if (st == 404 || st == 405 || st == 200) {
			w->nostream = 1;
			snprintf(w->feed, sizeof(w->feed), "polling every %d s "
			    "(the server has no event stream)",
			    w->c->poll_ms / 1000);
			w_stream_close(w, w->c->poll_ms);
		} else {
			snprintf(w->feed, sizeof(w->feed), "reconnecting "
			    "(stream: HTTP %d)", st);
			w_stream_close(w, w->hp->retry_after > 0 ?
			    w->hp->retry_after * 1000 : retry);
		}
		w->dirty = 1;
	}
	if (w->hp->state == CTLHTTP_DONE && w->fd >= 0) {
		snprintf(w->feed, sizeof(w->feed), "reconnecting");
		w_stream_close(w, retry);
	}
}

/* ---- the screen ---- */

static void
w_size(struct watch *w)
{
	struct winsize ws;

	if (ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
		w->cols = ws.ws_col;
		w->rows = ws.ws_row;
	} else {
		w->cols = 100;
		w->rows = 30;
	}
}

static void
w_term_restore(struct watch *w)
{
	static const char leave[] = "\x1b[0m\x1b[?25h\x1b[?1049l";

	if (!w->c->board)
		return;
	(void)w_write_all(leave, sizeof(leave) - 1);
	if (w->raw)
		tcsetattr(0, TCSAFLUSH, &w->saved);
	w->raw = 0;
}

static void
w_term_setup(struct watch *w)
{
	static const char enter[] = "\x1b[?1049h\x1b[?25l\x1b[2J";

	if (isatty(0) && tcgetattr(0, &w->saved) == 0) {
		struct termios t = w->saved;

		t.c_lflag &= ~(tcflag_t)(ICANON | ECHO | IEXTEN);
		t.c_iflag &= ~(tcflag_t)(IXON | ICRNL);
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		if (tcsetattr(0, TCSAFLUSH, &t) == 0)
			w->raw = 1;
	}
	(void)w_write_all(enter, sizeof(enter) - 1);
	w_size(w);
}

static void
w_draw(struct watch *w)
{
	size_t len;
	char *f;

	snprintf(w->title, sizeof(w->title), "%s  [%s]", w->c->server,
	    w->feed);
	f = ctlboard_frame(&w->b, clock_wall_ms(), w->cols, w->rows, w->c->colour,
	    w->title, &len);
	if (w_write_all(f, len) < 0)
		w->stop = 1;
	free(f);
}

/* Plain text: a time line, the column titles and every visible row. */
static void
w_print(struct watch *w)
{
	int64_t now = clock_wall_ms();
	char ts[UTC_LEN], line[512];
	size_t cap = 4096 + w->b.n * 600, len = 0;
	char *out = xmalloc(cap);

	utc_format(now, ts);
	len += (size_t)snprintf(out + len, cap - len, "# %s %zu incident%s "
	    "(%s, %s)\n", ts, w->b.n, w->b.n == 1 ? "" : "s", w->c->server,
	    w->feed);
	ctlboard_header(line, sizeof(line));
	len += (size_t)snprintf(out + len, cap - len, "%s\n", line);
	for (size_t i = 0; i < w->b.n; i++) {
		const struct ctlboard_inc *e = &w->b.v[i];

		ctlboard_line(e, now, line, sizeof(line));
		len += (size_t)snprintf(out + len, cap - len, "%s%s%s\n",
		    w->c->colour ? ctlboard_colour_sgr(ctlboard_colour_of(e)) :
		    "", line, w->c->colour ? "\x1b[0m" : "");
	}
	if (w->b.msg[0])
		len += (size_t)snprintf(out + len, cap - len, "%s\n",
		    w->b.msg);
	if (w_write_all(out, len) < 0)
		w->stop = 1;
	xfree(out);
}

/* ---- keys ---- */

static void
w_ack(struct watch *w)
{
	const struct ctlboard_inc *e = ctlboard_selected(&w->b);
	struct ctlhttp_resp r;
	char path[512], id[256], err[512];
	json_t *body;
	char *text;
	int rc;

	if (e == NULL)
		return;
	w->feed_msg = 0;		/* this message stays until a key */
	if (w->c->token == NULL) {
		snprintf(w->b.msg, sizeof(w->b.msg), "! cannot acknowledge: "
		    "no token file (-t, TOCSIN_TOKEN_FILE or token_file)");
		return;
	}
	if (w->c->actor == NULL) {
		snprintf(w->b.msg, sizeof(w->b.msg), "! cannot acknowledge: "
		    "no actor (--actor or $USER)");
		return;
	}
	ctlhttp_escape(e->id, id, sizeof(id));
	snprintf(path, sizeof(path), "/api/v1/incidents/%s/ack", id);
	body = json_pack("{s:s}", "actor", w->c->actor);
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	rc = ctlhttp_request(w->c->url, "POST", path, w->c->token, text,
	    w->c->timeout_ms, &r, err, sizeof(err));
	free(text);
	if (rc < 0) {
		snprintf(w->b.msg, sizeof(w->b.msg), "! ack %s: %s", e->id,
		    err);
		return;
	}
	if (r.status == 200)
		snprintf(w->b.msg, sizeof(w->b.msg), "%s acknowledged by %s",
		    e->id, w->c->actor);
	else {
		w_http_error(&r, NULL, err, sizeof(err));
		snprintf(w->b.msg, sizeof(w->b.msg), "! ack %s: %s", e->id,
		    err);
	}
	ctlhttp_resp_fini(&r);
	if (!w->live)
		w->reload = 1;		/* no stream to bring the change */
}

static void
w_keys(struct watch *w)
{
	char buf[256];
	ssize_t n = read(0, buf, sizeof(buf));
	size_t off = 0, used;

	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			w->stop = 1;	/* the terminal went away */
		return;
	}
	while (off < (size_t)n) {
		enum ctlboard_act a = ctlboard_key(&w->b, buf + off,
		    (size_t)n - off, &used);

		off += used ? used : 1;
		if (a == CTLBOARD_QUIT)
			w->stop = 1;
		else if (a == CTLBOARD_ACK)
			w_ack(w);
		if (a != CTLBOARD_NONE)
			w->dirty = 1;
	}
}

/* ---- the loop ---- */

int
ctlwatch_run(const struct ctlwatch_cfg *c)
{
	struct watch w;
	struct sigaction sa;
	int rc = CTL_EXIT_OK;
	int64_t next_tick = 0, drawn = 0;

	memset(&w, 0, sizeof(w));
	w.c = c;
	w.fd = -1;
	w.hp = xmalloc(sizeof(*w.hp));
	ctlboard_init(&w.b);
	ctlsse_init(&w.sse, w_event, &w);
	snprintf(w.feed, sizeof(w.feed), "connecting");
	if (c->once) {
		json_t *j;
		char err[512];
		int st = ctlwatch_list(c->url, "", 0, c->timeout_ms, &j, err,
		    sizeof(err));

		if (st == 200) {
			ctlboard_load(&w.b, j);
			snprintf(w.feed, sizeof(w.feed), "once");
			w_print(&w);
		} else {
			fprintf(stderr, "tocsinctl: %s\n", err);
			rc = ctlopt_exit_of(st);
		}
		json_decref(j);
		goto out;
	}
	if (pipe2(w_sigfd, O_CLOEXEC | O_NONBLOCK) != 0) {
		perror("tocsinctl: pipe");
		rc = CTL_EXIT_USAGE;
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = w_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	if (c->board)
		w_term_setup(&w);
	w_stream_open(&w);
	while (!w.stop) {
		struct pollfd pf[3];
		int npf = 0, ikeys = -1, isock = -1, isig, timeout;
		int64_t now = clock_mono_ms();

		if (w.fd >= 0 && now - w.rx_at > W_STALL_MS) {
			/* a peer gone without a FIN: no keepalive came */
			snprintf(w.feed, sizeof(w.feed), "reconnecting");
			w_stream_close(&w, 0);
		}
		if (w.fd < 0 && now >= w.retry_at) {
			if (w.nostream)
				w.reload = 1, w.retry_at = now + c->poll_ms;
			else
				w_stream_open(&w);
		}
		if (w.reload) {
			w.reload = 0;
			w_load(&w);
		}
		now = clock_mono_ms();
		if (c->board && ((w.dirty && now - drawn >= W_FRAME_MS) ||
		    now >= next_tick)) {
			w_draw(&w);
			w.dirty = 0;
			drawn = now;
			/* the next whole second of the wall clock */
			next_tick = now + 1000 - clock_wall_ms() % 1000;
		} else if (!c->board && w.dirty) {
			/* a block only when the board or the message moved */
			if (ctlboard_digest(&w.b) != w.printed ||
			    strncmp(w.b.msg, w.printed_msg,
			    sizeof(w.printed_msg) - 1) != 0 || w.printed == 0) {
				w_print(&w);
				w.printed = ctlboard_digest(&w.b);
				snprintf(w.printed_msg, sizeof(w.printed_msg),
				    "%s", w.b.msg);
			}
			w.dirty = 0;
		}
		timeout = c->board ? (int)(next_tick - now) : 60000;
		if (c->board && w.dirty && drawn + W_FRAME_MS - now < timeout)
			timeout = (int)(drawn + W_FRAME_MS - now);
		if (w.fd < 0 && w.retry_at - now < timeout)
			timeout = (int)(w.retry_at - now);
		if (w.fd >= 0 && w.rx_at + W_STALL_MS + 1 - now < timeout)
			timeout = (int)(w.rx_at + W_STALL_MS + 1 - now);
		if (timeout < 0)
			timeout = 0;
		if (c->board && w.raw) {
			pf[npf] = (struct pollfd){ 0, POLLIN, 0 };
			ikeys = npf++;
		}
		if (w.fd >= 0) {
			pf[npf] = (struct pollfd){ w.fd, POLLIN, 0 };
			isock = npf++;
		}
		pf[npf] = (struct pollfd){ w_sigfd[0], POLLIN, 0 };
		isig = npf++;
		if (poll(pf, (nfds_t)npf, timeout) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[isig].revents) {
			unsigned char s[16];
			ssize_t k = read(w_sigfd[0], s, sizeof(s));

			for (ssize_t i = 0; i < k; i++) {
				if (s[i] == SIGWINCH) {
					w_size(&w);
					w.dirty = 1;
				} else {
					w.stop = 1;
				}
			}
		}
		if (ikeys >= 0 && pf[ikeys].revents)
			w_keys(&w);
		if (isock >= 0 && pf[isock].revents && w.fd >= 0)
			w_stream_read(&w);
	}
	w_stream_close(&w, 0);
	if (c->board)
		w_term_restore(&w);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGWINCH, SIG_DFL);
	close(w_sigfd[0]);
	close(w_sigfd[1]);
	w_sigfd[0] = w_sigfd[1] = -1;
out:
	ctlsse_fini(&w.sse);
	ctlboard_fini(&w.b);
	xfree(w.hp);
	return rc;
}
