/*
 * devsim.c - the device simulator: thousands of Modbus/TCP MB_SERVERs in
 * one libev process, for tests and for bench/pollbench.
 *
 * Each gateway (site) of the model is one listening endpoint on a loopback
 * address:port; a connection reads requests with its own non-blocking
 * recv() and MBAP parser (libmodbus's modbus_receive() selects, and select()
 * aborts on a descriptor >= 1024) and answers FC 1-4 from the device's
 * register image, exception 2 for reads outside the map, 3 for a bad
 * quantity, 1 for any other function, 0x0B for an unknown unit behind a
 * gateway.  A frame with a protocol id other than 0 or a length outside
 * 2..254 cannot be resynchronised: it is counted and the connection closed.
 *
 * Output: an answer due now goes out with one send() from the stack; only a
 * delayed, trickled or partly sent answer is queued (ds_out, in order per
 * connection) and driven by the connection's one timer and write watcher.
 * Work per wakeup is bounded: one recv() of at most DS_INBUF bytes per
 * readable event, at most DS_ACCEPTS accepts per listener event.
 *
 * --libmodbus serves the same model through modbus_reply() (the independent
 * implementation for cross-checks); every descriptor must then stay below
 * FD_SETSIZE, so that mode takes at most DS_LIBMODBUS_MAX endpoints.
 *
 * Descriptors: one per endpoint plus one per connection.  The process
 * raises RLIMIT_NOFILE to its hard limit (20,000 on the bench machines), so
 * one process serves about 9,000 single-connection endpoints; a bigger fleet
 * is split with --shard i/n over n processes that build the same model and
 * each listen on a slice of the endpoints.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <modbus/modbus.h>

#include "bench/devsim_model.h"
#include "bench/devsim_scen.h"
#include "daemon/clock.h"
#include "daemon/config.h"
#include "bench/pb_stats.h"
#include "daemon/log.h"
#include "daemon/mem.h"

#define DS_INBUF		520	/* two maximal frames: never stalls */
#define DS_ACCEPTS		32	/* accepts per listener wakeup */
#define DS_LIBMODBUS_MAX	480	/* endpoints: 2 fds each < FD_SETSIZE */
#define DS_MAX_ADU		260

struct ds_out {
	struct ds_out	*next;
	int64_t		 due;		/* ms: send not before */
	uint32_t	 trickle_ms;	/* one byte per this; 0 = all at once */
	uint16_t	 len, off;	/* bytes in buf, bytes sent */
	uint8_t		 buf[DS_MAX_ADU];
};

struct ds_ep;

struct ds_conn {
	int		 fd;
	ev_io		 rio;		/* readable: requests */
	ev_io		 wio;		/* writable: a queued answer waits */
	ev_timer	 tmr;		/* the head answer's due or trickle time */
	struct ds_ep	*ep;
	struct ds_conn	*prev, *next;	/* the endpoint's connections */
	struct ds_out	*qhead, *qtail;	/* answers not fully sent, in order */
	int64_t		 last_due;	/* answers never overtake each other */
	uint16_t	 inlen;
	uint8_t		 in[DS_INBUF];
};

struct ds_ep {
	int		 lfd;
	ev_io		 lio;		/* listener */
	ev_timer	 retry;		/* re-listen after EMFILE */
	size_t		 g;		/* gateway (site) index */
	struct in_addr	 addr;
	uint16_t	 port;
	struct ds_conn	*conns;
	modbus_t	*mb;		/* --libmodbus only */
	modbus_mapping_t **maps;	/* --libmodbus: one per unit */
};

struct ds_stats {
	uint64_t	 requests;	/* complete frames read */
	uint64_t	 responses;	/* answers queued or sent (incl. exceptions) */
	uint64_t	 exceptions;
	uint64_t	 silent;	/* requests not answered on purpose */
	uint64_t	 garbage;	/* garbage answers */
	uint64_t	 bad_frames;	/* connections closed for a bad header */
	uint64_t	 accepted;
	uint64_t	 closed;
	uint64_t	 accept_errors;
	uint64_t	 dropped;	/* connections closed by a drop step */
	uint64_t	 open;
};

static struct {
	struct devsim_model model;
	struct devsim_scen scen;
	struct ds_ep	*eps;
	size_t		 neps;
	size_t		 g_lo;		/* first gateway of this shard */
	unsigned	 shard, nshards;
	int		 libmodbus;
	int64_t		 eval_ms;	/* register image max age */
	int64_t		 t_ready;	/* ms: scenario time 0 */
	int64_t		 t_start;
	FILE		*stats;
	struct ds_stats	 st;
	struct ev_loop	*loop;
	ev_timer	 scen_tmr;
	ev_signal	 sig_term, sig_int, sig_usr1;
} ds;

static int64_t
now_ms(void)
{
	return (int64_t)(ev_now(ds.loop) * 1000.0);
}

static void	conn_close(struct ds_conn *c);

/* ------------------------------------------------------------ answers */

static size_t
mbap(uint8_t *out, const uint8_t *req, size_t pdulen)
{
	out[0] = req[0];
	out[1] = req[1];
	out[2] = 0;
	out[3] = 0;
	out[4] = (uint8_t)((pdulen + 1) >> 8);
	out[5] = (uint8_t)(pdulen + 1);
	out[6] = req[6];
	return 7 + pdulen;
}

static size_t
exception(uint8_t *out, const uint8_t *req, uint8_t code)
{
	ds.st.exceptions++;
	out[7] = req[7] | 0x80;
	out[8] = code;
	return mbap(out, req, 2);
}

static int
fc_write(uint8_t fc)
{
	return fc == 5 || fc == 6 || fc == 15 || fc == 16;
}

/*
 * Answers one write (FC 5, 6, 15, 16) for device d: the values go into
 * the image (devsim_model_write: a read-back sees them, the physics no
 * longer moves them) unless apply is 0, and the answer echoes address
 * and quantity (value for 5 and 6), as the protocol says.
 */
static size_t
serve_write(uint32_t d, const uint8_t *req, size_t reqlen, uint8_t *out,
    int apply)
{
	struct devsim_model *m = &ds.model;
	uint8_t fc = req[7];
	unsigned addr, qty, v;
	uint16_t vals[1968];
	enum mbmap_table t = fc == 5 || fc == 15 ? MBMAP_COIL : MBMAP_HOLDING;

	if (reqlen < 12)
		return exception(out, req, MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
	addr = (unsigned)req[8] << 8 | req[9];
	v = (unsigned)req[10] << 8 | req[11];
	if (fc == 5 || fc == 6) {
		if (reqlen != 12 || (fc == 5 && v != 0xff00 && v != 0))
			return exception(out, req,
			    MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
		qty = 1;
		vals[0] = (uint16_t)(fc == 5 ? v == 0xff00 : v);
	} else {
		unsigned max = fc == 15 ? 1968 : 123, nb;

		qty = v;
		nb = fc == 15 ? (qty + 7) / 8 : qty * 2;
		if (qty < 1 || qty > max || reqlen != 13 + nb || req[12] != nb)
			return exception(out, req,
			    MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
		for (unsigned i = 0; i < qty; i++)
			vals[i] = fc == 15 ? (req[13 + i / 8] >> (i % 8)) & 1 :
			    (uint16_t)(req[13 + 2 * i] << 8 | req[14 + 2 * i]);
	}
	if (addr + qty > devsim_model_nregs(m, d, t))
		return exception(out, req,
		    MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
	if (apply)
		(void)devsim_model_write(m, d, t, addr, vals, qty);
	memcpy(out + 7, req + 7, 5);
	return mbap(out, req, 5);
}

/* Answers one read for device d; req is a whole ADU of reqlen bytes. */
static size_t
serve(uint32_t d, const uint8_t *req, size_t reqlen, uint8_t *out)
{
	struct devsim_model *m = &ds.model;
	uint8_t fc = req[7];
	unsigned addr, qty, max;
	enum mbmap_table t;

	if (fc_write(fc))
		return serve_write(d, req, reqlen, out,
		    !m->faults[d].write_ignore);
	switch (fc) {
	case 1: t = MBMAP_COIL; max = 2000; break;
	case 2: t = MBMAP_DISCRETE; max = 2000; break;
	case 3: t = MBMAP_HOLDING; max = 125; break;
	case 4: t = MBMAP_INPUT; max = 125; break;
	default: return exception(out, req, MODBUS_EXCEPTION_ILLEGAL_FUNCTION);
	}
	if (reqlen != 12)
		return exception(out, req, MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
	addr = (unsigned)req[8] << 8 | req[9];
	qty = (unsigned)req[10] << 8 | req[11];
	if (qty < 1 || qty > max)
		return exception(out, req, MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
	if (addr + qty > devsim_model_nregs(m, d, t))
		return exception(out, req,
		    MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
	devsim_model_eval(m, d, now_ms(), ds.eval_ms);
	out[7] = fc;
	if (t == MBMAP_COIL || t == MBMAP_DISCRETE) {
		const uint8_t *b = devsim_model_bits(m, d, t) + addr;
		unsigned nbytes = (qty + 7) / 8;

		out[8] = (uint8_t)nbytes;
		memset(out + 9, 0, nbytes);
		for (unsigned i = 0; i < qty; i++)
			if (b[i])
				out[9 + i / 8] |= (uint8_t)(1u << (i % 8));
		return mbap(out, req, 2 + nbytes);
	} else {
		const uint16_t *w = devsim_model_words(m, d, t) + addr;

		out[8] = (uint8_t)(qty * 2);
		for (unsigned i = 0; i < qty; i++) {
			out[9 + 2 * i] = (uint8_t)(w[i] >> 8);
			out[10 + 2 * i] = (uint8_t)w[i];
		}
		return mbap(out, req, 2 + qty * 2);
	}
}

/* ------------------------------------------------------------ output */

static void
conn_arm(struct ds_conn *c, int64_t due, int64_t now)
{
	ev_timer_stop(ds.loop, &c->tmr);
	ev_timer_set(&c->tmr, (double)(due - now) / 1000.0, 0.);
	ev_timer_start(ds.loop, &c->tmr);
}

/* Sends what is due; returns -1 if the connection must be closed. */
static int
conn_flush(struct ds_conn *c)
{
	int64_t now = now_ms();
	struct ds_out *o;
	ssize_t n;

	while ((o = c->qhead) != NULL) {
		if (o->due > now) {
			ev_io_stop(ds.loop, &c->wio);
			conn_arm(c, o->due, now);
			return 0;
		}
		n = send(c->fd, o->buf + o->off, o->trickle_ms ? 1u :
		    (size_t)(o->len - o->off), MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				ev_io_start(ds.loop, &c->wio);
				return 0;
			}
			return -1;
		}
		o->off += (uint16_t)n;
		if (o->off < o->len) {
			if (o->trickle_ms != 0) {
				o->due = now + o->trickle_ms;
				continue;
			}
			ev_io_start(ds.loop, &c->wio);
			return 0;
		}
		c->qhead = o->next;
		if (c->qhead == NULL)
			c->qtail = NULL;
		xfree(o);
	}
	ev_io_stop(ds.loop, &c->wio);
	ev_timer_stop(ds.loop, &c->tmr);
	return 0;
}

static int
conn_send(struct ds_conn *c, const uint8_t *buf, size_t len,
    const struct devsim_fault *f)
{
	int64_t now = now_ms(), due = now + (f != NULL ? f->delay_ms : 0);
	struct ds_out *o;
	ssize_t n = 0;

	ds.st.responses++;
	if (c->qhead == NULL && due <= now && (f == NULL ||
	    f->trickle_ms == 0)) {
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n == (ssize_t)len)
			return 0;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		n = n < 0 ? 0 : n;
	}
	o = xmalloc(sizeof(*o));
	o->next = NULL;
	o->due = due > c->last_due ? due : c->last_due;
	c->last_due = o->due;
	o->trickle_ms = f != NULL ? f->trickle_ms : 0;
	o->len = (uint16_t)(len - (size_t)n);
	o->off = 0;
	memcpy(o->buf, buf + n, o->len);
	if (c->qtail != NULL)
		c->qtail->next = o;
	else
		c->qhead = o;
	c->qtail = o;
	return conn_flush(c);
}

static void
conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ds_conn *c = container_of(w, struct ds_conn, wio);

	if (conn_flush(c) != 0)
		conn_close(c);
}

static void
conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ds_conn *c = container_of(w, struct ds_conn, tmr);

	if (conn_flush(c) != 0)
		conn_close(c);
}

/* ------------------------------------------------------------ input */

/* One whole request ADU; returns -1 if the connection must be closed. */
static int
conn_request(struct ds_conn *c, const uint8_t *req, size_t len)
{
	struct devsim_model *m = &ds.model;
	uint8_t out[DS_MAX_ADU];
	const struct devsim_fault *f;
	uint32_t d;
	size_t n;

	ds.st.requests++;
	d = devsim_unit_device(m, c->ep->g, req[6]);
	if (d == FLEET_NONE) {
		n = exception(out, req, MODBUS_EXCEPTION_GATEWAY_TARGET);
		return conn_send(c, out, n, NULL);
	}
	m->requests[d]++;
	if (req[7] < 1 || req[7] > 4)
		m->writes[d]++;
	f = &m->faults[d];
	if (f->silent || (f->write_silent && fc_write(req[7]))) {
		ds.st.silent++;
		return 0;
	}
	if (f->garbage) {
		/* Random bytes whose "protocol id" is never 0. */
		n = 7 + (size_t)(m->requests[d] % 14);
		for (size_t i = 0; i < n; i++)
			out[i] = (uint8_t)(rand() & 0xff);
		out[2] = 0xde;
		ds.st.garbage++;
	} else if (f->exception != 0) {
		n = exception(out, req, f->exception);
	} else if (f->write_exception != 0 && fc_write(req[7])) {
		n = exception(out, req, f->write_exception);
	} else {
		n = serve(d, req, len, out);
	}
	return conn_send(c, out, n, f);
}

static void
conn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ds_conn *c = container_of(w, struct ds_conn, rio);
	size_t off = 0;
	ssize_t n;

	n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_close(c);
		return;
	}
	if (n < 0)
		return;
	c->inlen += (uint16_t)n;
	while (c->inlen - off >= 7) {
		const uint8_t *h = c->in + off;
		unsigned pid = (unsigned)h[2] << 8 | h[3];
		unsigned len = (unsigned)h[4] << 8 | h[5];

		if (pid != 0 || len < 2 || len > 254) {
			ds.st.bad_frames++;
			log_warnx("devsim bad frame endpoint=%zu pid=%u len=%u",
			    c->ep->g, pid, len);
			conn_close(c);
			return;
		}
		if (c->inlen - off < 6 + len)
			break;
		if (conn_request(c, h, 6 + len) != 0) {
			conn_close(c);
			return;
		}
		off += 6 + len;
	}
	if (off > 0) {
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= (uint16_t)off;
	}
}

/* ------------------------------------------------------------ libmodbus */

static void
lm_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ds_conn *c = container_of(w, struct ds_conn, rio);
	struct devsim_model *m = &ds.model;
	struct ds_ep *ep = c->ep;
	uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
	const struct devsim_fault *f;
	modbus_mapping_t *mp;
	uint32_t d;
	int rc;

	modbus_set_socket(ep->mb, c->fd);
	rc = modbus_receive(ep->mb, q);
	if (rc < 0) {
		conn_close(c);
		return;
	}
	if (rc == 0)
		return;
	ds.st.requests++;
	ds.st.responses++;
	d = devsim_unit_device(m, ep->g, q[6]);
	if (d == FLEET_NONE) {
		ds.st.exceptions++;
		rc = modbus_reply_exception(ep->mb, q,
		    MODBUS_EXCEPTION_GATEWAY_TARGET);
		goto sent;
	}
	m->requests[d]++;
	f = &m->faults[d];
	if (f->silent) {
		ds.st.responses--;
		ds.st.silent++;
		return;
	}
	if (f->exception != 0 || q[7] < 1 || q[7] > 4) {
		ds.st.exceptions++;
		rc = modbus_reply_exception(ep->mb, q, f->exception != 0 ?
		    f->exception : MODBUS_EXCEPTION_ILLEGAL_FUNCTION);
		goto sent;
	}
	mp = ep->maps[d - devsim_gateway_first(m, ep->g)];
	devsim_model_eval(m, d, now_ms(), ds.eval_ms);
	memcpy(mp->tab_bits, devsim_model_bits(m, d, MBMAP_COIL),
	    m->nregs[MBMAP_COIL]);
	memcpy(mp->tab_input_bits, devsim_model_bits(m, d, MBMAP_DISCRETE),
	    m->nregs[MBMAP_DISCRETE]);
	memcpy(mp->tab_input_registers, devsim_model_words(m, d, MBMAP_INPUT),
	    m->nregs[MBMAP_INPUT] * sizeof(uint16_t));
	memcpy(mp->tab_registers, devsim_model_words(m, d, MBMAP_HOLDING),
	    m->nregs[MBMAP_HOLDING] * sizeof(uint16_t));
	rc = modbus_reply(ep->mb, q, rc, mp);
sent:
	if (rc < 0)
		conn_close(c);
}

/* ------------------------------------------------------------ connections */

static void
conn_close(struct ds_conn *c)
{
	struct ds_out *o;

	ev_io_stop(ds.loop, &c->rio);
	ev_io_stop(ds.loop, &c->wio);
	ev_timer_stop(ds.loop, &c->tmr);
	close(c->fd);
	while ((o = c->qhead) != NULL) {
		c->qhead = o->next;
		xfree(o);
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		c->ep->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	ds.st.closed++;
	ds.st.open--;
	xfree(c);
}

static void
ep_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ds_ep *ep = container_of(w, struct ds_ep, retry);

	ev_io_start(loop, &ep->lio);
}

static void
ep_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ds_ep *ep = container_of(w, struct ds_ep, lio);

	for (int i = 0; i < DS_ACCEPTS; i++) {
		struct ds_conn *c;
		int fd, one = 1;

		fd = accept4(ep->lfd, NULL, NULL, SOCK_CLOEXEC |
		    (ds.libmodbus ? 0 : SOCK_NONBLOCK));
		if (fd == -1) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			ds.st.accept_errors++;
			log_warn("devsim accept endpoint=%zu", ep->g);
			/* Out of descriptors: pause this listener a while. */
			ev_io_stop(loop, &ep->lio);
			ev_timer_set(&ep->retry, 0.2, 0.);
			ev_timer_start(loop, &ep->retry);
			return;
		}
		if (ds.libmodbus && fd >= FD_SETSIZE) {
			/* libmodbus would abort in select(). */
			ds.st.accept_errors++;
			close(fd);
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		c = xcalloc(1, sizeof(*c));
		c->fd = fd;
		c->ep = ep;
		ev_io_init(&c->rio, ds.libmodbus ? lm_read_cb : conn_read_cb,
		    fd, EV_READ);
		ev_io_init(&c->wio, conn_write_cb, fd, EV_WRITE);
		ev_timer_init(&c->tmr, conn_timer_cb, 0., 0.);
		c->next = ep->conns;
		if (c->next != NULL)
			c->next->prev = c;
		ep->conns = c;
		ev_io_start(loop, &c->rio);
		ds.st.accepted++;
		ds.st.open++;
	}
}

static int
ep_listen(struct ds_ep *ep)
{
	struct sockaddr_in sa;
	char host[INET_ADDRSTRLEN];
	int one = 1;

	inet_ntop(AF_INET, &ep->addr, host, sizeof(host));
	if (ds.libmodbus) {
		ep->mb = modbus_new_tcp(host, ep->port);
		if (ep->mb == NULL)
			return -errno;
		modbus_set_indication_timeout(ep->mb, 1, 0);
		modbus_set_response_timeout(ep->mb, 1, 0);
		if ((ep->lfd = modbus_tcp_listen(ep->mb, 128)) == -1) {
			log_warnx("devsim listen addr=%s:%u err=\"%s\"", host,
			    ep->port, modbus_strerror(errno));
			return -EADDRINUSE;
		}
		/* accept4() below must not block; connections may. */
		if (fcntl(ep->lfd, F_SETFL, fcntl(ep->lfd, F_GETFL) |
		    O_NONBLOCK) == -1)
			return -errno;
	} else {
		if ((ep->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) == -1)
			return -errno;
		(void)setsockopt(ep->lfd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr = ep->addr;
		sa.sin_port = htons(ep->port);
		if (bind(ep->lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
		    listen(ep->lfd, 1024) == -1) {
			int e = errno;

			log_warn("devsim listen addr=%s:%u", host, ep->port);
			return -e;
		}
	}
	ev_io_init(&ep->lio, ep_accept_cb, ep->lfd, EV_READ);
	ev_timer_init(&ep->retry, ep_retry_cb, 0., 0.);
	ev_io_start(ds.loop, &ep->lio);
	return 0;
}

static void
ep_close(struct ds_ep *ep)
{
	struct devsim_model *m = &ds.model;

	while (ep->conns != NULL)
		conn_close(ep->conns);
	ev_io_stop(ds.loop, &ep->lio);
	ev_timer_stop(ds.loop, &ep->retry);
	if (ep->lfd >= 0)
		close(ep->lfd);
	if (ep->mb != NULL) {
		modbus_set_socket(ep->mb, -1);
		modbus_free(ep->mb);
	}
	if (ep->maps != NULL) {
		for (size_t u = 0; u < m->cfg.units; u++)
			if (ep->maps[u] != NULL)
				modbus_mapping_free(ep->maps[u]);
		xfree(ep->maps);
	}
}

/* ------------------------------------------------------------ scenario */

static void
scen_drop(const struct devsim_step *st)
{
	const struct devsim_model *m = &ds.model;

	for (size_t d = 0; d < m->cfg.ndevices; d++) {
		size_t g = devsim_device_endpoint(m, (uint32_t)d);
		struct ds_ep *ep;

		if ((st->target == DS_T_SITE &&
		    devsim_device_site(m, (uint32_t)d) != st->index) ||
		    (st->target == DS_T_DEV && d != st->index))
			continue;
		if (g < ds.g_lo || g >= ds.g_lo + ds.neps)
			continue;
		ep = &ds.eps[g - ds.g_lo];
		while (ep->conns != NULL) {
			ds.st.dropped++;
			conn_close(ep->conns);
		}
	}
}

static void
scen_schedule(void)
{
	int64_t at, now = now_ms();

	if (ds.scen.next >= ds.scen.nsteps)
		return;
	at = ds.t_ready + ds.scen.steps[ds.scen.next].at_ms;
	ev_timer_set(&ds.scen_tmr, at > now ? (double)(at - now) / 1000.0 : 0.,
	    0.);
	ev_timer_start(ds.loop, &ds.scen_tmr);
}

static void
scen_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	int64_t now = now_ms();

	while (ds.scen.next < ds.scen.nsteps) {
		const struct devsim_step *st = &ds.scen.steps[ds.scen.next];
		const char *tgt = st->target == DS_T_ALL ? "all" :
		    st->target == DS_T_SITE ?
		    ds.model.fleet->sites[st->index].id :
		    ds.model.fleet->devices[st->index].id;

		if (ds.t_ready + st->at_ms > now)
			break;
		if (st->act == DS_DROP)
			scen_drop(st);
		else
			devsim_scen_apply(&ds.model, st, now);
		/*
		 * wall_us: the wall clock right after the register images
		 * changed (the next request sees the step), for latency
		 * benchmarks (bench/e2e.sh); model_ms: the time the physics
		 * took as the step's start (the loop's cached clock, also
		 * wall-clock), from which a later threshold crossing of the
		 * battery or the room follows.
		 */
		log_info("devsim scenario line=%d at_ms=%lld target=%s "
		    "action=%s arg=%u wall_us=%lld model_ms=%lld", st->line,
		    (long long)st->at_ms, tgt,
		    devsim_act_name((enum devsim_act)st->act), st->arg,
		    (long long)clock_wall_us(), (long long)now);
		ds.scen.next++;
	}
	scen_schedule();
}

/* ------------------------------------------------------------ stats */

/* Whether device d is served by this shard. */
static int
stats_mine(size_t d)
{
	size_t g = devsim_device_endpoint(&ds.model, (uint32_t)d);

	return g >= ds.g_lo && g < ds.g_lo + ds.neps;
}

static void
stats_dump(const char *reason)
{
	struct devsim_model *m = &ds.model;
	uint32_t rmin = UINT32_MAX, rmax = 0;
	size_t nmine = 0;
	struct rusage ru;
	double cu, cs;

	getrusage(RUSAGE_SELF, &ru);
	cu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
	cs = (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	for (size_t d = 0; d < m->cfg.ndevices; d++) {
		if (!stats_mine(d))
			continue;
		nmine++;
		rmin = m->requests[d] < rmin ? m->requests[d] : rmin;
		rmax = m->requests[d] > rmax ? m->requests[d] : rmax;
	}
	if (nmine == 0)
		rmin = 0;
	fprintf(ds.stats, "devsim stats reason=%s pid=%d shard=%u/%u "
	    "mode=%s uptime_s=%.3f cpu_user_s=%.3f cpu_sys_s=%.3f cpu_s=%.3f "
	    "maxrss_kb=%ld devices=%zu requests=%llu responses=%llu "
	    "exceptions=%llu silent=%llu garbage=%llu bad_frames=%llu "
	    "accepted=%llu closed=%llu dropped=%llu accept_errors=%llu "
	    "open=%llu dev_requests_min=%u dev_requests_max=%u\n", reason,
	    (int)getpid(), ds.shard, ds.nshards,
	    ds.libmodbus ? "libmodbus" : "own",
	    (double)(now_ms() - ds.t_start) / 1000.0, cu, cs, cu + cs,
	    ru.ru_maxrss, nmine,
	    (unsigned long long)ds.st.requests,
	    (unsigned long long)ds.st.responses,
	    (unsigned long long)ds.st.exceptions,
	    (unsigned long long)ds.st.silent,
	    (unsigned long long)ds.st.garbage,
	    (unsigned long long)ds.st.bad_frames,
	    (unsigned long long)ds.st.accepted,
	    (unsigned long long)ds.st.closed,
	    (unsigned long long)ds.st.dropped,
	    (unsigned long long)ds.st.accept_errors,
	    (unsigned long long)ds.st.open, rmin, rmax);
	for (size_t d = 0; d < m->cfg.ndevices; d++) {
		const struct fleet_device *fd = &m->fleet->devices[d];

		if (!stats_mine(d))
			continue;
		fprintf(ds.stats, "devsim device id=%s addr=%s:%u unit=%d "
		    "requests=%u writes=%u\n", fd->id, fd->host,
		    ds.eps[devsim_device_endpoint(m, (uint32_t)d) -
		    ds.g_lo].port, fd->unit,
		    m->requests[d], m->writes[d]);
	}
	fflush(ds.stats);
}

static void
sig_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	if (w->signum == SIGUSR1) {
		ev_now_update(loop);
		stats_dump("SIGUSR1");
		return;
	}
	ev_now_update(loop);
	stats_dump(w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
	ev_break(loop, EVBREAK_ALL);
}

/* ------------------------------------------------------------ main */

static void
usage(void)
{
	fprintf(stderr,
"usage: devsim -c CONFIG [--shard I/N] [--scenario FILE] [--stats FILE] ...\n"
"       devsim [--devices N] [--units-per-gateway K] [--base-addr A]\n"
"              [--port P] [--ports-per-addr M] [--shard I/N] [--profile tower]\n"
"              [--scenario FILE] [--libmodbus] [--stats FILE] [--noise X]\n"
"              [--drift X] [--drift-period S] [--time-scale X]\n"
"              [--batt-runtime S] [--seed N] [--eval-ms MS]\n"
"see docs/devsim.md\n");
	exit(2);
}



int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		DEVSIM_CFG_OPTIONS,
		{ "shard", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "profile", required_argument, NULL, 'P' },
		{ "scenario", required_argument, NULL, 'S' },
		{ "libmodbus", no_argument, NULL, 'L' },
		{ "stats", required_argument, NULL, 'o' },
		{ "noise", required_argument, NULL, 'N' },
		{ "drift", required_argument, NULL, 'D' },
		{ "drift-period", required_argument, NULL, 'T' },
		{ "time-scale", required_argument, NULL, 'x' },
		{ "batt-runtime", required_argument, NULL, 'B' },
		{ "seed", required_argument, NULL, 'r' },
		{ "eval-ms", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct devsim_cfg cfg;
	const char *scen_path = NULL, *stats_path = NULL, *cfg_path = NULL;
	struct config *tcfg = NULL;
	int topo_opt = 0;
	char err[512], first[INET_ADDRSTRLEN], last[INET_ADDRSTRLEN];
	unsigned long nofile;
	size_t g_hi, need;
	int ch, rc, status = 1;

	log_init(2, LOG_LVL_INFO);
	devsim_cfg_default(&cfg);
	ds.shard = 0;
	ds.nshards = 1;
	ds.eval_ms = 100;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		if (strchr("nkapmP", ch) != NULL)
			topo_opt = ch;
		switch (ch) {
		case 'c':
			cfg_path = optarg;
			break;
		case 's':
			if (sscanf(optarg, "%u/%u", &ds.shard, &ds.nshards) != 2 ||
			    ds.nshards == 0 || ds.shard >= ds.nshards)
				fatalx("devsim bad option=shard value=\"%s\" "
				    "want=I/N with I<N", optarg);
			break;
		case 'P':
			if (strcmp(optarg, "tower") != 0)
				fatalx("devsim bad option=profile value=\"%s\" "
				    "known=tower", optarg);
			break;
		case 'S': scen_path = optarg; break;
		case 'L': ds.libmodbus = 1; break;
		case 'o': stats_path = optarg; break;
		case 'N': cfg.noise = pb_num_arg("devsim", "noise", optarg, 0, 100); break;
		case 'D': cfg.drift = pb_num_arg("devsim", "drift", optarg, 0, 100); break;
		case 'T':
			cfg.drift_period_s = pb_num_arg("devsim", "drift-period", optarg,
			    0.001, 1e9);
			break;
		case 'x':
			cfg.time_scale = pb_num_arg("devsim", "time-scale", optarg, 1e-6,
			    1e9);
			break;
		case 'B':
			cfg.batt_runtime_s = pb_num_arg("devsim", "batt-runtime", optarg,
			    0.001, 1e9);
			break;
		case 'r':
			cfg.seed = (uint64_t)pb_num_arg("devsim", "seed", optarg, 0, 1e15);
			break;
		case 'e':
			ds.eval_ms = (int64_t)pb_num_arg("devsim", "eval-ms", optarg, 0, 1e7);
			break;
		default:
			if (devsim_cfg_option(&cfg, "devsim", ch, optarg) != 0)
				usage();
		}
	}
	if (optind != argc)
		usage();
	if (cfg_path != NULL && topo_opt != 0)
		fatalx("devsim -c takes the fleet from the configuration: "
		    "--devices, --units-per-gateway, --base-addr, --port, "
		    "--ports-per-addr and --profile do not apply");
	if (cfg_path != NULL && ds.libmodbus)
		fatalx("devsim -c with --libmodbus is not supported: the "
		    "libmodbus mode serves the built-in profile only");
	signal(SIGPIPE, SIG_IGN);
	ds.stats = stdout;
	if (stats_path != NULL && (ds.stats = fopen(stats_path, "w")) == NULL)
		fatal("devsim open stats=%s", stats_path);
	if ((ds.loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		fatalx("devsim no libev loop");
	ds.t_start = now_ms();
	if (cfg_path != NULL) {
		struct config_errors errs = { NULL, 0 };

		if ((tcfg = config_load(cfg_path, &errs)) == NULL) {
			for (size_t i = 0; i < errs.n; i++)
				fprintf(stderr, "%s\n", errs.msg[i]);
			config_errors_free(&errs);
			fatalx("devsim config=%s does not load", cfg_path);
		}
		if ((rc = devsim_model_init_fleet(&ds.model, &cfg,
		    tcfg->fleet, tcfg->mbmap,
		    (uint16_t)tcfg->modbus.client.port,
		    (int)tcfg->modbus.client.unit, now_ms())) != 0)
			fatalx("devsim config=%s cannot be served: every device "
			    "needs an IPv4 host in 127.0.0.0/8 and a unit "
			    "of its own on its host:port", cfg_path);
		cfg.ndevices = ds.model.cfg.ndevices;
		cfg.units = 0;
	} else if ((rc = devsim_model_init(&ds.model, &cfg, now_ms())) != 0)
		fatalx("devsim bad fleet err=\"%s\" (endpoints must stay in "
		    "127.0.0.0/8 and ports below 65536)", strerror(-rc));
	if (scen_path != NULL && devsim_scen_load(&ds.scen, scen_path,
	    &ds.model, err, sizeof(err)) != 0)
		fatalx("devsim scenario: %s", err);
	ds.g_lo = ds.model.ngateways * ds.shard / ds.nshards;
	g_hi = ds.model.ngateways * (ds.shard + 1) / ds.nshards;
	ds.neps = g_hi - ds.g_lo;
	if (ds.neps == 0)
		fatalx("devsim shard=%u/%u serves no endpoint", ds.shard,
		    ds.nshards);
	nofile = pb_raise_nofile();
	need = 2 * ds.neps + 32;
	if (ds.libmodbus && ds.neps > DS_LIBMODBUS_MAX)
		fatalx("devsim --libmodbus endpoints=%zu max=%d (every fd must "
		    "stay below FD_SETSIZE=%d for libmodbus's select)",
		    ds.neps, DS_LIBMODBUS_MAX, FD_SETSIZE);
	if (need > nofile)
		log_warnx("devsim endpoints=%zu need_fds=%zu nofile=%lu: clients "
		    "beyond the limit will be refused; use --shard I/N over "
		    "several processes", ds.neps, need, nofile);
	if (scen_path != NULL && ds.libmodbus)
		log_warnx("devsim --libmodbus: delay, trickle and garbage steps "
		    "are ignored (silent, exception, drop and physics apply)");
	ds.eps = xcalloc(ds.neps, sizeof(*ds.eps));
	for (size_t i = 0; i < ds.neps; i++) {
		struct ds_ep *ep = &ds.eps[i];

		ep->g = ds.g_lo + i;
		ep->lfd = -1;
		devsim_model_endpoint(&ds.model, ep->g, &ep->addr, &ep->port);
		if ((rc = ep_listen(ep)) != 0) {
			ds.neps = i + 1;
			goto out;
		}
		if (ds.libmodbus) {
			struct devsim_model *m = &ds.model;

			ep->maps = xcalloc(cfg.units, sizeof(*ep->maps));
			for (size_t u = 0; u < cfg.units; u++)
				if (devsim_gateway_first(m, ep->g) + u <
				    cfg.ndevices)
					ep->maps[u] = modbus_mapping_new(
					    (int)m->nregs[MBMAP_COIL],
					    (int)m->nregs[MBMAP_DISCRETE],
					    (int)m->nregs[MBMAP_HOLDING],
					    (int)m->nregs[MBMAP_INPUT]);
		}
	}
	ev_signal_init(&ds.sig_term, sig_cb, SIGTERM);
	ev_signal_init(&ds.sig_int, sig_cb, SIGINT);
	ev_signal_init(&ds.sig_usr1, sig_cb, SIGUSR1);
	ev_signal_start(ds.loop, &ds.sig_term);
	ev_signal_start(ds.loop, &ds.sig_int);
	ev_signal_start(ds.loop, &ds.sig_usr1);
	ev_timer_init(&ds.scen_tmr, scen_cb, 0., 0.);
	ev_now_update(ds.loop);
	ds.t_ready = now_ms();
	scen_schedule();
	inet_ntop(AF_INET, &ds.eps[0].addr, first, sizeof(first));
	inet_ntop(AF_INET, &ds.eps[ds.neps - 1].addr, last, sizeof(last));
	printf("devsim ready pid=%d mode=%s devices=%zu endpoints=%zu "
	    "units=%u first=%s:%u last=%s:%u shard=%u/%u nofile=%lu "
	    "steps=%zu\n", (int)getpid(), ds.libmodbus ? "libmodbus" : "own",
	    cfg.ndevices, ds.neps, cfg.units, first, ds.eps[0].port, last,
	    ds.eps[ds.neps - 1].port, ds.shard, ds.nshards, nofile,
	    ds.scen.nsteps);
	fflush(stdout);
	ev_run(ds.loop, 0);
	status = 0;
out:
	for (size_t i = 0; i < ds.neps; i++)
		ep_close(&ds.eps[i]);
	xfree(ds.eps);
	devsim_scen_fini(&ds.scen);
	devsim_model_fini(&ds.model);
	config_free(tcfg);
	if (ds.stats != stdout)
		fclose(ds.stats);
	ev_loop_destroy(ds.loop);
	return status;
}
