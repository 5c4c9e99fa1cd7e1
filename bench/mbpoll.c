/*
 * mbpoll.c - how much poller CPU a Modbus/TCP transaction costs: tocsin's
 * mbclient against the blocking libmodbus client, in the same run.
 *
 * Fixed work: -n transactions (default 20000) of "read 10 holding
 * registers" over -d connections (default 100, one device each), all on
 * 127.0.0.1.  A forked child serves them: a minimal epoll responder that
 * answers each 12-byte request with a canned frame, so the server is cheap
 * and its CPU is printed so you can see it is not the bottleneck.
 *
 * Phases, each timed on its own (wall, process CPU from getrusage):
 *   1. baseline: libmodbus, one modbus_t per connection, round-robin
 *      modbus_read_registers() - what a user writes first (blocking,
 *      select() per call, so it cannot go past fd 1023);
 *   2. mbclient: the same connections and reads from the libev client
 *      at a -i ms poll interval (default 1: as fast as the devices
 *      answer; timer shots that find the last poll still running are
 *      counted as overruns and cost CPU too).
 *   3. footprint: -f devices (default 100000) behind -f/10 gateway
 *      addresses (127.1.x.y, 10 unit ids each, a 10-register profile)
 *      added to a client that is never started: bytes per device the
 *      allocator handed out (jemalloc stats; 0 under sanitizers).
 * Printed: transactions/s, CPU seconds per 1000 transactions and that as
 * a ratio to the baseline, RTT p50/p99 of mbclient, peak RSS.
 *
 * Not a load test: on the shared 2-core machine keep -d and -n modest.
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <modbus/modbus.h>

#include "bench/pb_stats.h"
#include "correlator/fleet.h"
#include "daemon/mem.h"
#include "drivers/modbus/mbclient.h"

#define NREGS 10

/*
 * A profile of NREGS uint16 holding registers at addresses 0, stride,
 * 2 * stride, ...: the points live in pts (the caller's, NREGS of them).
 */
static void
holding_profile(struct mbmap_profile *prof, struct mbmap_point *pts,
    uint16_t stride)
{
	for (int i = 0; i < NREGS; i++) {
		mbmap_point_init(&pts[i]);
		pts[i].address = (uint16_t)(i * stride);
	}
	memset(prof, 0, sizeof(*prof));
	prof->points = pts;
	prof->npoints = NREGS;
}

/* The responder: every 12-byte request gets a 10-register answer. */
static void
serve(int lfd)
{
	struct epoll_event ev, evs[64];
	uint8_t buf[4096], out[4096];
	int ep = epoll_create1(0);

	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 64, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			ssize_t r;
			size_t o = 0;

			if (fd == lfd) {
				int c = accept(lfd, NULL, NULL);

				if (c >= 0) {
					ev.events = EPOLLIN;
					ev.data.fd = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
				continue;
			}
			r = recv(fd, buf, sizeof(buf), 0);
			if (r <= 0) {
				close(fd);
				continue;
			}
			/* Requests arrive whole on loopback at this size. */
			for (ssize_t k = 0; k + 12 <= r; k += 12) {
				uint8_t *q = buf + k, *a = out + o;

				a[0] = q[0]; a[1] = q[1]; a[2] = 0; a[3] = 0;
				a[4] = 0; a[5] = 3 + 2 * NREGS; a[6] = q[6];
				a[7] = q[7]; a[8] = 2 * NREGS;
				for (int j = 0; j < NREGS; j++) {
					a[9 + 2 * j] = 0;
					a[10 + 2 * j] = (uint8_t)j;
				}
				o += 9 + 2 * NREGS;
			}
			(void)send(fd, out, o, MSG_NOSIGNAL);
		}
	}
}

struct mbstate {
	long		 done, want;
	uint32_t	*rtt;
	long		 failed;
	struct ev_loop	*loop;
};

static void
on_poll(const struct mbclient_result *r, void *arg)
{
	struct mbstate *s = arg;

	if (r->status != MBCLIENT_OK) {
		s->failed++;
		return;
	}
	if (s->done < s->want)
		s->rtt[s->done] = r->rtt_us;
	if (++s->done >= s->want)
		ev_break(s->loop, EVBREAK_ALL);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	int d = 100, opt, lfd, port, one = 1, ival = 1;
	long n = 20000, fdev = 100000;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	pid_t child;
	double t0, c0, base_wall, base_cpu, mb_wall, mb_cpu;
	struct rusage ru;
	int status;

	while ((opt = getopt(argc, argv, "d:n:f:i:")) != -1) {
		if (opt == 'i')
			ival = atoi(optarg);
		else if (opt == 'd')
			d = atoi(optarg);
		else if (opt == 'f')
			fdev = atol(optarg);
		else if (opt == 'n')
			n = atol(optarg);
		else {
			fprintf(stderr, "usage: mbpoll [-d conns] [-n tx] "
			    "[-i interval_ms] [-f footprint_devices]\n");
			return 2;
		}
	}
	if (d < 1 || d > 900 || n < d || ival < 1) {
		fprintf(stderr, "mbpoll: need 1 <= d <= 900 (libmodbus's "
		    "select), n >= d\n");
		return 2;
	}
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(lfd, 1024) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) == -1) {
		perror("mbpoll: listen");
		return 1;
	}
	port = ntohs(sa.sin_port);
	if ((child = fork()) == 0) {
		serve(lfd);
		_exit(0);
	}
	close(lfd);
	printf("mbpoll: %d connections, %ld transactions per phase, "
	    "read %d holding registers, mbclient interval %d ms, "
	    "127.0.0.1:%d\n", d, n, NREGS, ival, port);

	/* Phase 1: the baseline, blocking libmodbus. */
	{
		modbus_t **ctx = calloc((size_t)d, sizeof(*ctx));
		uint16_t regs[NREGS];

		for (int i = 0; i < d; i++) {
			ctx[i] = modbus_new_tcp("127.0.0.1", port);
			if (ctx[i] == NULL || modbus_connect(ctx[i]) == -1) {
				fprintf(stderr, "mbpoll: libmodbus connect: "
				    "%s\n", modbus_strerror(errno));
				kill(child, SIGTERM);
				return 1;
			}
		}
		t0 = pb_wall_s();
		c0 = pb_cpu_s(RUSAGE_SELF);
		for (long k = 0; k < n; k++)
			if (modbus_read_registers(ctx[k % d], 0, NREGS, regs)
			    != NREGS) {
				fprintf(stderr, "mbpoll: libmodbus read: %s\n",
				    modbus_strerror(errno));
				kill(child, SIGTERM);
				return 1;
			}
		base_wall = pb_wall_s() - t0;
		base_cpu = pb_cpu_s(RUSAGE_SELF) - c0;
		for (int i = 0; i < d; i++) {
			modbus_close(ctx[i]);
			modbus_free(ctx[i]);
		}
		free(ctx);
	}

	/* Phase 2: mbclient on libev. */
	{
		struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
		struct mbclient_config cfg;
		struct mbmap_point pts[NREGS];
		struct mbmap_profile prof;
		struct mbstate st = { .want = n, .loop = loop };
		struct mbclient *c;
		struct mbclient_counters k;
		const char *host = "127.0.0.1";

		holding_profile(&prof, pts, 1);
		mbclient_config_defaults(&cfg);
		cfg.interval_ms = (uint32_t)ival;
		cfg.connect_rate = 1e6;
		cfg.connect_burst = (uint32_t)d;
		cfg.connect_rate_per_host = 1e6;
		cfg.connect_burst_per_host = (uint32_t)d;
		/* One connection per device, as in the baseline: d
		 * connections to the host, devices spread round robin. */
		cfg.connections_per_host = (uint16_t)d;
		st.rtt = calloc((size_t)n, sizeof(*st.rtt));
		c = mbclient_new(loop, &cfg, on_poll, &st);
		for (int i = 0; i < d; i++) {
			struct mbclient_device dev = { .index = (uint32_t)i,
			    .host = host, .port = (uint16_t)port,
			    .unit = 1, .profile = &prof };

			if (c->ops->add_device(c, &dev) != 0) {
				fprintf(stderr, "mbpoll: add_device\n");
				kill(child, SIGTERM);
				return 1;
			}
		}
		c->ops->start(c);
		t0 = pb_wall_s();
		c0 = pb_cpu_s(RUSAGE_SELF);
		ev_run(loop, 0);
		mb_wall = pb_wall_s() - t0;
		mb_cpu = pb_cpu_s(RUSAGE_SELF) - c0;
		c->ops->counters(c, &k);
		qsort(st.rtt, (size_t)n, sizeof(*st.rtt), cmp_u32);
		printf("%-10s %9s %10s %10s %14s %8s\n", "phase", "tx",
		    "wall_s", "tx/s", "cpu_s/1000tx", "ratio");
		printf("%-10s %9ld %10.3f %10.0f %14.4f %8.2f\n", "libmodbus",
		    n, base_wall, n / base_wall, base_cpu * 1000 / n, 1.0);
		printf("%-10s %9ld %10.3f %10.0f %14.4f %8.2f\n", "mbclient",
		    st.done, mb_wall, st.done / mb_wall,
		    mb_cpu * 1000 / st.done,
		    (mb_cpu / st.done) / (base_cpu / n));
		printf("mbclient: rtt_us p50=%u p99=%u failed=%ld "
		    "connects=%lu timeouts=%lu overruns=%lu\n",
		    st.rtt[n / 2], st.rtt[n * 99 / 100], st.failed,
		    (unsigned long)k.connects, (unsigned long)k.timeouts,
		    (unsigned long)k.polls_overrun);
		c->ops->free(c);
		ev_loop_destroy(loop);
		free(st.rtt);
	}
	kill(child, SIGTERM);

	/* Phase 3: memory per device, nothing started. */
	if (fdev > 0) {
		struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
		struct mbclient_config cfg;
		struct mbmap_point pts[NREGS];
		struct mbmap_profile prof;
		struct mbstate st = { .loop = loop };
		struct mbclient *c;
		size_t before, after;
		char host[32];

		holding_profile(&prof, pts, 2);
		mbclient_config_defaults(&cfg);
		before = mem_allocated();
		t0 = pb_wall_s();
		c = mbclient_new(loop, &cfg, on_poll, &st);
		for (long i = 0; i < fdev; i++) {
			long g = i / 10;
			struct mbclient_device dev = { .index = (uint32_t)i,
			    .host = host, .port = 502,
			    .unit = (int16_t)(1 + i % 10), .profile = &prof };

			snprintf(host, sizeof(host), "127.1.%ld.%ld",
			    g / 250, 1 + g % 250);
			if (c->ops->add_device(c, &dev) != 0) {
				fprintf(stderr, "mbpoll: add_device %s\n",
				    host);
				return 1;
			}
		}
		after = mem_allocated();
		printf("footprint: %ld devices, %zu connections, "
		    "allocated %.0f bytes/device (%s), add %.3f s\n", fdev,
		    mbclient_nconns(c), before || after ?
		    (double)(after - before) / fdev : 0.0, mem_allocator(),
		    pb_wall_s() - t0);
		c->ops->free(c);
		ev_loop_destroy(loop);
	}

	if (wait4(child, &status, 0, &ru) == child)
		printf("server (child): cpu_s=%.3f\n", pb_rusage_cpu_s(&ru));
	printf("poller: cpu_s=%.3f peak_rss_kib=%ld\n", pb_cpu_s(RUSAGE_SELF),
	    pb_maxrss_kib());
	return 0;
}
