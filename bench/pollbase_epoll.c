/*
 * pollbase_epoll.c - the floor for bench/pollbench: the least a Modbus/TCP
 * poller can do.  One non-blocking connection per gateway, one read (FC 4)
 * in flight per connection, one send() and (normally) one recv() per
 * transaction, a raw epoll loop, nothing else: no decoding, no alarms, no
 * logging.  Whatever tocsin's client costs above this is its own overhead.
 *
 * Devices are found by devsim's addressing (devsim_endpoint()), so the same
 * --devices/--units-per-gateway/--base-addr/--port/--ports-per-addr that
 * started the simulator reach it.  Units behind one gateway are polled in
 * turn on its connection.
 *
 * Rate: --interval-ms 0 polls as fast as answers come back; with an
 * interval every device is polled once per interval, connections spread
 * evenly over it (phase c * I / C), and lateness is the jitter.
 * A transaction unanswered after --timeout-ms is counted and re-sent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/pb_fleet.h"
#include "bench/pb_stats.h"
#include "daemon/log.h"
#include "daemon/mem.h"

struct pe_conn {
	int		 fd;
	size_t		 first;		/* first device index */
	unsigned	 nunits;
	unsigned	 next_unit;	/* 0-based: the unit polled next */
	uint16_t	 tid;
	int		 inflight;
	int64_t		 sent_us;	/* start of the transaction in flight */
	int64_t		 due_us;	/* interval mode: next poll */
	size_t		 heap_ix;	/* interval mode: position in the heap */
	uint16_t	 inlen;
	uint8_t		 in[300];
};

static struct {
	struct pe_conn	*c;
	size_t		 nc;
	size_t		*heap;		/* interval mode: conns by due_us */
	size_t		 nheap;
	unsigned	 regs;
	int64_t		 timeout_us;
	int64_t		 period_us;	/* per connection: interval / units */
	struct pb_run	 run;
	int		 ep;
} pe;

/* ---- a binary min-heap of connections by due time (interval mode) ---- */

static void
heap_swap(size_t a, size_t b)
{
	size_t t = pe.heap[a];

	pe.heap[a] = pe.heap[b];
	pe.heap[b] = t;
	pe.c[pe.heap[a]].heap_ix = a;
	pe.c[pe.heap[b]].heap_ix = b;
}

static void
heap_up(size_t i)
{
	while (i > 0 && pe.c[pe.heap[(i - 1) / 2]].due_us >
	    pe.c[pe.heap[i]].due_us) {
		heap_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
heap_down(size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < pe.nheap && pe.c[pe.heap[l]].due_us <
		    pe.c[pe.heap[m]].due_us)
			m = l;
		if (r < pe.nheap && pe.c[pe.heap[r]].due_us <
		    pe.c[pe.heap[m]].due_us)
			m = r;
		if (m == i)
			return;
		heap_swap(i, m);
		i = m;
	}
}

static void
heap_push(size_t ci)
{
	pe.heap[pe.nheap] = ci;
	pe.c[ci].heap_ix = pe.nheap++;
	heap_up(pe.nheap - 1);
}

static size_t
heap_pop(void)
{
	size_t top = pe.heap[0];

	pe.heap[0] = pe.heap[--pe.nheap];
	pe.c[pe.heap[0]].heap_ix = 0;
	if (pe.nheap > 0)
		heap_down(0);
	return top;
}

/* ---------------------------------------------------------------------- */

static int
conn_send(struct pe_conn *c, int64_t now, int64_t due)
{
	uint8_t q[12];
	unsigned unit = c->nunits == 1 ? 1 : c->next_unit + 1;

	c->tid++;
	q[0] = (uint8_t)(c->tid >> 8);
	q[1] = (uint8_t)c->tid;
	q[2] = q[3] = 0;
	q[4] = 0;
	q[5] = 6;
	q[6] = (uint8_t)unit;
	q[7] = 4;
	q[8] = q[9] = 0;
	q[10] = (uint8_t)(pe.regs >> 8);
	q[11] = (uint8_t)pe.regs;
	pb_run_poll(&pe.run, c->first + c->next_unit, now, due);
	c->sent_us = now;
	c->inflight = 1;
	c->inlen = 0;
	if (send(c->fd, q, sizeof(q), MSG_NOSIGNAL) != (ssize_t)sizeof(q)) {
		pe.run.errors++;
		return -1;
	}
	return 0;
}

/* A transaction finished (or failed): the next unit, now or when due. */
static void
conn_next(struct pe_conn *c, int64_t now)
{
	c->inflight = 0;
	c->next_unit = (c->next_unit + 1) % c->nunits;
	if (pe.period_us == 0)
		conn_send(c, now, -1);
	else {
		c->due_us += pe.period_us;
		heap_push((size_t)(c - pe.c));
	}
}

static void
conn_read(struct pe_conn *c)
{
	ssize_t n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
	int64_t now;
	unsigned len;

	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		fatalx("pollbase_epoll peer closed conn=%zu",
		    (size_t)(c - pe.c));
	}
	c->inlen += (uint16_t)n;
	if (c->inlen < 7)
		return;
	len = (unsigned)c->in[4] << 8 | c->in[5];
	if (c->inlen < 6 + len)
		return;
	now = pb_now_us();
	if (!c->inflight || ((unsigned)c->in[0] << 8 | c->in[1]) != c->tid) {
		/* A late answer to a timed-out request: drop it. */
		c->inlen = 0;
		return;
	}
	if (c->in[7] & 0x80)
		pe.run.errors++;
	else
		pb_run_done(&pe.run, now - c->sent_us);
	conn_next(c, now);
}

static void
check_timeouts(int64_t now)
{
	for (size_t i = 0; i < pe.nc; i++) {
		struct pe_conn *c = &pe.c[i];

		if (c->inflight && now - c->sent_us > pe.timeout_us) {
			pe.run.timeouts++;
			conn_next(c, now);
		}
	}
}

static int
connect_all(const struct devsim_cfg *cfg)
{
	struct epoll_event ev;

	for (size_t i = 0; i < pe.nc; i++) {
		struct pe_conn *c = &pe.c[i];
		struct sockaddr_in sa;
		int one = 1;

		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		pb_fleet_endpoint(cfg, "pollbase_epoll", i, &sa.sin_addr,
		    &sa.sin_port, NULL);
		sa.sin_port = htons(sa.sin_port);
		c->first = i * cfg->units;
		c->nunits = pb_fleet_units(cfg, i);
		/* Blocking connect: loopback, and it is not measured. */
		if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) ==
		    -1)
			fatal("pollbase_epoll socket conn=%zu", i);
		if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
			fatal("pollbase_epoll connect conn=%zu", i);
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) ==
		    -1)
			fatal("pollbase_epoll fcntl");
		ev.events = EPOLLIN;
		ev.data.u64 = i;
		if (epoll_ctl(pe.ep, EPOLL_CTL_ADD, c->fd, &ev) == -1)
			fatal("pollbase_epoll epoll_ctl");
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
"usage: pollbase_epoll [--devices D] [--units-per-gateway K] [--base-addr A]\n"
"                      [--port P] [--ports-per-addr M] [--count N]\n"
"                      [--duration S] [--interval-ms I] [--timeout-ms T]\n"
"                      [--regs R] [--warmup N]\n");
	exit(2);
}


int
main(int argc, char *argv[])
{
	struct epoll_event evs[256];
	struct pb_opts o;
	const struct devsim_cfg *cfg = &o.cfg;
	unsigned interval_ms;
	int64_t end_us = 0, last_scan, now;
	unsigned long nofile;

	log_init(2, LOG_LVL_INFO);
	pb_opts_default(&o, 100000);
	pb_opts_parse(&o, "pollbase_epoll", argc, argv, usage);
	pe.regs = o.regs;
	interval_ms = o.interval_ms;
	pe.timeout_us = (int64_t)o.timeout_ms * 1000;
	nofile = pb_raise_nofile();
	pe.nc = pb_fleet_ngateways(cfg);
	if (pe.nc + 16 > nofile)
		fatalx("pollbase_epoll conns=%zu nofile=%lu: too many", pe.nc,
		    nofile);
	pe.c = xcalloc(pe.nc, sizeof(*pe.c));
	pe.heap = xcalloc(pe.nc, sizeof(*pe.heap));
	if ((pe.ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("pollbase_epoll epoll_create1");
	connect_all(cfg);
	pe.period_us = interval_ms == 0 ? 0 :
	    (int64_t)interval_ms * 1000 / cfg->units;
	pb_run_init(&pe.run, "epoll", cfg->ndevices, pe.nc, interval_ms);
	now = pb_now_us();
	for (size_t i = 0; i < pe.nc; i++) {
		if (pe.period_us == 0) {
			conn_send(&pe.c[i], now, -1);
		} else {
			pe.c[i].due_us = now + 1000 + (int64_t)interval_ms *
			    1000 * (int64_t)i / (int64_t)pe.nc;
			heap_push(i);
		}
	}
	last_scan = now;
	for (int measuring = o.warmup == 0;;) {
		int n, wait_ms = 100;

		if (!measuring && pe.run.tx >= o.warmup) {
			measuring = 1;
			pb_run_reset(&pe.run);
		}
		if (measuring && pe.run.t0 == 0) {
			pb_run_start(&pe.run);
			end_us = pb_opts_end_us(&o, pe.run.t0);
		}
		if (measuring && (end_us > 0 ? pb_now_us() >= end_us :
		    pe.run.tx >= o.count))
			break;
		if (pe.nheap > 0) {
			int64_t d = pe.c[pe.heap[0]].due_us - pb_now_us();

			wait_ms = d <= 0 ? 0 : d < 100000 ? (int)((d + 999) / 1000) :
			    100;
		}
		n = epoll_wait(pe.ep, evs, 256, wait_ms);
		if (n == -1 && errno != EINTR)
			fatal("pollbase_epoll epoll_wait");
		for (int i = 0; i < n; i++)
			conn_read(&pe.c[evs[i].data.u64]);
		now = pb_now_us();
		while (pe.nheap > 0 && pe.c[pe.heap[0]].due_us <= now) {
			size_t ci = heap_pop();

			conn_send(&pe.c[ci], now, pe.c[ci].due_us);
		}
		if (now - last_scan >= 100000) {
			check_timeouts(now);
			last_scan = now;
		}
	}
	pb_run_stop(&pe.run);
	pb_run_print(&pe.run, stdout);
	for (size_t i = 0; i < pe.nc; i++)
		close(pe.c[i].fd);
	close(pe.ep);
	pb_run_fini(&pe.run);
	xfree(pe.c);
	xfree(pe.heap);
	return 0;
}
