/*
 * test_mbclient.c - the Modbus/TCP client against real servers on
 * loopback.
 *
 * Two servers, each in a thread of this process, each on a free port of
 * 127.0.0.1:
 *   - libmodbus's own server side (modbus_receive + modbus_reply on a
 *     modbus_mapping_t), the independent implementation: every read
 *     function code, exception codes 1-11 (units 101-111 answer with
 *     modbus_reply_exception(unit - 100)), ILLEGAL DATA ADDRESS past the
 *     mapping for read splitting;
 *   - a tiny raw-socket fake whose misbehaviour is chosen per test and per
 *     unit id: a dead unit (9), a unit that answers late (10), a whole
 *     connection that is silent (half-open), trickles one byte per second,
 *     answers garbage or a wrong transaction id.
 * The client runs on a libev loop in the test thread; every wait is
 * bounded by a deadline.  The client does not decide COMM_LOSS: each test
 * run feeds its results into correlator/almrule, tocsin's one COMM_LOSS
 * state machine, as daemon/poller does, and reads the transitions there.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <modbus/modbus.h>

#include "correlator/almrule.h"
#include "correlator/fleet.h"
#include "drivers/modbus/mbap.h"
#include "drivers/modbus/mbclient.h"

/* --- a name server that fails once ------------------------------------ */

/*
 * getaddrinfo() of this process, interposed: FLAKY_HOST does not resolve on
 * its first lookup and resolves to 127.0.0.1 after that, slowly (as a DNS
 * server that was down comes back); every other name goes to libc's.
 */
#define FLAKY_HOST	"flaky-dns.tocsin.invalid"
#define FLAKY_SLOW_MS	300
static atomic_int flaky_lookups;

int	 getaddrinfo(const char *node, const char *service,
	    const struct addrinfo *hints, struct addrinfo **res);

int
getaddrinfo(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res)
{
	int (*real)(const char *, const char *, const struct addrinfo *,
	    struct addrinfo **);
	struct timespec slow = { 0, FLAKY_SLOW_MS * 1000000L };

	*(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
	if (node == NULL || strcmp(node, FLAKY_HOST) != 0)
		return real(node, service, hints, res);
	if (atomic_fetch_add(&flaky_lookups, 1) == 0)
		return EAI_NONAME;
	nanosleep(&slow, NULL);
	return real("127.0.0.1", service, hints, res);
}

/* --- helpers ----------------------------------------------------------- */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
listen_any(int *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	cr_assert(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 16), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* A port nothing listens on: bound, then closed. */
static int
closed_port(void)
{
	int port, fd = listen_any(&port);

	close(fd);
	return port;
}

#define MAXRES 4096
#define MAXDEV 256		/* device indexes the tests use */

/* COMM_LOSS transition of one result, as almrule emitted it. */
enum { COMM_NONE, COMM_RAISE, COMM_CLEAR };

struct rec {
	uint32_t	 device;
	enum mbclient_status	 status;
	int		 err;
	uint8_t		 exception;
	uint8_t		 comm;
	int64_t		 started_ms;
	uint16_t	 regs[8];	/* block 0's first registers */
	uint8_t		 bexc[4];
};

struct run {
	struct rec	 r[MAXRES];
	size_t		 n;
	const struct mbclient_result *hook_res;
	void		(*hook)(struct run *, const struct mbclient_result *);
	/* for every_fc: copies of each block's data */
	uint8_t		 data[512];
	size_t		 ndata;
	struct mbplan	 plan;		/* shallow copy: blocks of last OK */
	struct mbplan_block blocks[16];
	/* the COMM_LOSS machine fed with every result */
	uint32_t	 comm_loss_misses; /* 0: almrule's default */
	struct fleet	*fleet;		/* MAXDEV devices, one empty profile */
	struct almrule	 ar;
	struct almrule_dev *adev[MAXDEV];
	uint8_t		 comm;		/* transition of the result being fed */
};

static void
rules_alarm(void *arg, const struct alarm_event *ev)
{
	struct run *run = arg;

	cr_assert_eq(ev->code, FLEET_CODE_COMM_LOSS);
	run->comm = ev->edge == ALARM_RAISE ? COMM_RAISE : COMM_CLEAR;
}

static const struct almrule_sink_ops rules_ops = { .alarm = rules_alarm };

/* Sets up run's almrule over a fleet of MAXDEV devices. */
static void
rules_init(struct run *run)
{
	struct almrule_config ac = { run->comm_loss_misses, SEV_MAJOR };
	struct almrule_sink sink = { &rules_ops, run };
	char id[16];

	uint32_t site, prof, d;

	run->fleet = fleet_new();
	site = fleet_add(run->fleet, FLEET_SITE, "S");
	prof = fleet_add(run->fleet, FLEET_PROFILE, "empty");
	for (unsigned i = 0; i < MAXDEV; i++) {
		snprintf(id, sizeof(id), "d%u", i);
		d = fleet_add(run->fleet, FLEET_DEVICE, id);
		run->fleet->devices[d].site = site;
		run->fleet->devices[d].profile = prof;
	}
	almrule_init(&run->ar, run->fleet, &ac, &sink);
}

static void
rules_free(struct run *run)
{
	for (unsigned i = 0; i < MAXDEV; i++)
		almrule_dev_free(run->adev[i]);
	if (run->fleet != NULL)
		fleet_free(run->fleet);
}

/* One result into the COMM_LOSS machine: its transition, or COMM_NONE. */
static uint8_t
rules_feed(struct run *run, const struct mbclient_result *res)
{
	struct almrule_dev **d;
	int64_t now = res->started_ms;

	if (run->fleet == NULL)
		rules_init(run);
	cr_assert_lt(res->device, MAXDEV);
	d = &run->adev[res->device];
	if (*d == NULL)
		*d = almrule_dev_new(&run->ar, res->device);
	cr_assert_not_null(*d);
	run->comm = COMM_NONE;
	if (res->status == MBCLIENT_OK || res->status == MBCLIENT_EXCEPTION)
		almrule_poll_ok(&run->ar, *d, now);
	else
		almrule_poll_failed(&run->ar, *d, now);
	return run->comm;
}

static void
on_result(const struct mbclient_result *res, void *arg)
{
	struct run *run = arg;
	struct rec *r;

	if (run->n == MAXRES)
		return;
	r = &run->r[run->n++];
	memset(r, 0, sizeof(*r));
	r->device = res->device;
	r->status = res->status;
	r->err = res->err;
	r->exception = res->exception;
	r->comm = rules_feed(run, res);
	r->started_ms = res->started_ms;
	if (res->status == MBCLIENT_OK || res->status == MBCLIENT_EXCEPTION) {
		for (unsigned i = 0; i < 8; i++)
			r->regs[i] = mbclient_result_reg(res, 0, i);
		for (size_t b = 0; b < res->plan->nblocks && b < 4; b++)
			r->bexc[b] = res->block_exc[b];
		if (res->plan->data_bytes <= sizeof(run->data)) {
			memcpy(run->data, res->data, res->plan->data_bytes);
			run->ndata = res->plan->data_bytes;
		}
	}
}

static size_t
count(const struct run *run, uint32_t dev, enum mbclient_status st)
{
	size_t n = 0;

	for (size_t i = 0; i < run->n; i++)
		n += run->r[i].device == dev && run->r[i].status == st;
	return n;
}

static size_t
count_comm(const struct run *run, uint32_t dev, uint8_t comm)
{
	size_t n = 0;

	for (size_t i = 0; i < run->n; i++)
		n += run->r[i].device == dev && run->r[i].comm == comm;
	return n;
}

/* Largest gap between consecutive poll starts of dev, in ms. */
static int64_t
max_gap(const struct run *run, uint32_t dev)
{
	int64_t last = -1, gap = 0;

	for (size_t i = 0; i < run->n; i++) {
		if (run->r[i].device != dev)
			continue;
		if (last >= 0 && run->r[i].started_ms - last > gap)
			gap = run->r[i].started_ms - last;
		last = run->r[i].started_ms;
	}
	return gap;
}

static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
}

/*
 * Runs the loop until *n >= want or ms milliseconds of wall time pass;
 * n NULL: for the whole ms.  The 10 ms tick bounds each ev_run(), so the
 * deadline holds when nothing else wakes the loop.
 */
static void
spin(struct ev_loop *loop, double ms, const size_t *n, size_t want)
{
	ev_timer t;
	double end = now_s() + ms / 1000.0;

	ev_timer_init(&t, tick_cb, 0.01, 0.01);
	ev_timer_start(loop, &t);
	while ((n == NULL || *n < want) && now_s() < end)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &t);
}

/* Runs the loop for ms milliseconds of wall time. */
static void
run_for(struct ev_loop *loop, double ms)
{
	spin(loop, ms, NULL, 0);
}

/* Runs until run->n >= want or ms pass. */
static void
run_until(struct ev_loop *loop, struct run *run, size_t want, double ms)
{
	spin(loop, ms, &run->n, want);
}

static struct mbmap_point pts[32];

static struct mbmap_profile
profile_regs(unsigned table, unsigned addr, unsigned n)
{
	struct mbmap_profile p;

	memset(&p, 0, sizeof(p));
	memset(pts, 0, sizeof(pts));
	for (unsigned i = 0; i < n; i++) {
		pts[i].table = (uint8_t)table;
		pts[i].address = (uint16_t)(addr + i);
		pts[i].type = table == MBMAP_COIL || table == MBMAP_DISCRETE ?
		    MBMAP_BOOL : MBMAP_UINT16;
		pts[i].bit = -1;
	}
	p.points = pts;
	p.npoints = n;
	return p;
}

static void
cfg_fast(struct mbclient_config *c)
{
	mbclient_config_defaults(c);
	c->interval_ms = 100;
	c->timeout_ms = 50;
	c->connect_timeout_ms = 200;
	c->backoff_min_ms = 50;
	c->backoff_max_ms = 400;
	c->breaker_cooldown_ms = 5000;
	c->seed = 42;
	c->connect_rate_per_host = 100;
	c->connect_burst_per_host = 10;
}

/* --- libmodbus server thread ------------------------------------------- */

struct lmsrv {
	int		 lfd, port;
	pthread_t	 th;
	atomic_int	 stop;
	atomic_int	 accepts;
	modbus_mapping_t *map;
};

static void *
lmsrv_main(void *arg)
{
	struct lmsrv *s = arg;
	modbus_t *ctx = modbus_new_tcp("127.0.0.1", s->port);
	struct pollfd pf[17];
	int n = 1;
	uint8_t req[MODBUS_TCP_MAX_ADU_LENGTH];

	pf[0].fd = s->lfd;
	pf[0].events = POLLIN;
	while (!atomic_load(&s->stop)) {
		if (poll(pf, (nfds_t)n, 20) <= 0)
			continue;
		if ((pf[0].revents & POLLIN) && n < 17) {
			int c = accept(s->lfd, NULL, NULL);

			if (c >= 0) {
				pf[n].fd = c;
				pf[n++].events = POLLIN;
				atomic_fetch_add(&s->accepts, 1);
			}
		}
		for (int i = 1; i < n; i++) {
			int rc;

			if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			modbus_set_socket(ctx, pf[i].fd);
			rc = modbus_receive(ctx, req);
			if (rc <= 0) {
				close(pf[i].fd);
				pf[i--] = pf[--n];
				continue;
			}
			if (req[6] >= 101 && req[6] <= 111)
				modbus_reply_exception(ctx, req, req[6] - 100);
			else
				modbus_reply(ctx, req, rc, s->map);
		}
	}
	for (int i = 1; i < n; i++)
		close(pf[i].fd);
	modbus_set_socket(ctx, -1);
	modbus_free(ctx);
	return NULL;
}

static void
lmsrv_start(struct lmsrv *s)
{
	memset(s, 0, sizeof(*s));
	s->lfd = listen_any(&s->port);
	s->map = modbus_mapping_new(100, 100, 200, 200);
	cr_assert(s->map != NULL);
	for (int i = 0; i < 200; i++) {
		s->map->tab_registers[i] = (uint16_t)(1000 + i);
		s->map->tab_input_registers[i] = (uint16_t)(2000 + i);
	}
	for (int i = 0; i < 100; i++) {
		s->map->tab_bits[i] = i % 3 == 0;
		s->map->tab_input_bits[i] = i % 2 == 0;
	}
	cr_assert_eq(pthread_create(&s->th, NULL, lmsrv_main, s), 0);
}

static void
lmsrv_stop(struct lmsrv *s)
{
	atomic_store(&s->stop, 1);
	pthread_join(s->th, NULL);
	close(s->lfd);
	modbus_mapping_free(s->map);
}

/* --- raw fake server thread -------------------------------------------- */

enum fmode { F_NORMAL, F_SILENT, F_TRICKLE, F_GARBAGE, F_BADTID, F_CUT,
    F_BATCH };

#define FQ 16
struct fout {
	double		 due;
	size_t		 len, off;
	uint8_t		 b[MBAP_ADU_MAX];
};

struct fcli {
	int		 fd;
	size_t		 rlen;
	uint8_t		 rbuf[1024];
	struct fout	 q[FQ];
	size_t		 nq;
};

struct fake {
	int		 lfd, port;
	pthread_t	 th;
	atomic_int	 stop;
	atomic_int	 mode;		/* enum fmode */
	atomic_int	 accepts;
	atomic_int	 hangups;	/* the client closed a connection */
	atomic_int	 requests;
	int		 late_ms;	/* unit 10's delay */
	int		 trickle_ms;	/* F_TRICKLE: ms per byte */
	struct fcli	 cli[32];
	int		 ncli;
};

static void
fake_request(struct fake *f, struct fcli *c, const uint8_t *q)
{
	uint16_t tid = (uint16_t)(q[0] << 8 | q[1]), addr, cnt;
	uint8_t unit = q[6], fc = q[7];
	struct fout *o;
	int mode = atomic_load(&f->mode);
	size_t n = 0;

	atomic_fetch_add(&f->requests, 1);
	addr = (uint16_t)(q[8] << 8 | q[9]);
	cnt = (uint16_t)(q[10] << 8 | q[11]);
	if (mode == F_SILENT || unit == 9 || c->nq == FQ)
		return;
	o = &c->q[c->nq++];
	memset(o, 0, sizeof(*o));
	o->due = now_s() + (unit == 10 ? f->late_ms / 1000.0 : 0);
	if (mode == F_BATCH) {
		/* Hold answers until 8 are queued, then release them all. */
		o->due = 1e18;
		if (c->nq == 8)
			for (size_t j = 0; j < c->nq; j++)
				c->q[j].due = 0;
	}
	if (mode == F_GARBAGE) {
		static const char g[] = "HTTP/1.1 400 Bad Request\r\n\r\n";

		memcpy(o->b, g, sizeof(g) - 1);
		o->len = sizeof(g) - 1;
		return;
	}
	if (mode == F_BADTID)
		tid ^= 0x5555;
	o->b[n++] = (uint8_t)(tid >> 8);
	o->b[n++] = (uint8_t)tid;
	o->b[n++] = 0;
	o->b[n++] = 0;
	n += 2;				/* length, below */
	o->b[n++] = unit;
	o->b[n++] = fc;
	if (fc == 1 || fc == 2) {
		o->b[n++] = (uint8_t)((cnt + 7) / 8);
		for (unsigned i = 0; i < cnt; i++)
			if ((addr + i) % 3 == 0)
				o->b[n + i / 8] |= (uint8_t)(1u << (i % 8));
		n += (cnt + 7) / 8;
	} else {
		o->b[n++] = (uint8_t)(cnt * 2);
		for (unsigned i = 0; i < cnt; i++) {
			uint16_t v = (uint16_t)(unit * 100 + addr + i);

			o->b[n++] = (uint8_t)(v >> 8);
			o->b[n++] = (uint8_t)v;
		}
	}
	o->b[4] = (uint8_t)((n - 6) >> 8);
	o->b[5] = (uint8_t)(n - 6);
	o->len = n;
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	struct pollfd pf[33];

	while (!atomic_load(&f->stop)) {
		double now = now_s();
		int n = 0;

		/* Send what is due. */
		for (int i = 0; i < f->ncli; i++) {
			struct fcli *c = &f->cli[i];

			if (atomic_load(&f->mode) == F_BATCH && c->nq > 0 &&
			    c->q[0].due <= now) {
				/* Every held answer in one send(): they reach
				 * the client as one segment. */
				uint8_t all[FQ * MBAP_ADU_MAX];
				size_t len = 0;

				for (size_t j = 0; j < c->nq; j++) {
					memcpy(all + len, c->q[j].b, c->q[j].len);
					len += c->q[j].len;
				}
				(void)send(c->fd, all, len, MSG_NOSIGNAL);
				c->nq = 0;
			}
			while (c->nq > 0 && c->q[0].due <= now) {
				struct fout *o = &c->q[0];
				size_t len = o->len - o->off;

				if (atomic_load(&f->mode) == F_TRICKLE) {
					len = 1;
					o->due = now + f->trickle_ms / 1000.0;
				}
				if (atomic_load(&f->mode) == F_CUT) {
					/* Half a frame, then close. */
					(void)send(c->fd, o->b, 5, MSG_NOSIGNAL);
					close(c->fd);
					*c = f->cli[--f->ncli];
					break;
				}
				if (send(c->fd, o->b + o->off, len,
				    MSG_NOSIGNAL) <= 0) {
					c->nq = 0;
					break;
				}
				o->off += len;
				if (o->off < o->len)
					break;
				memmove(&c->q[0], &c->q[1],
				    (c->nq - 1) * sizeof(c->q[0]));
				c->nq--;
			}
		}
		pf[n].fd = f->lfd;
		pf[n++].events = POLLIN;
		for (int i = 0; i < f->ncli; i++) {
			pf[n].fd = f->cli[i].fd;
			pf[n++].events = POLLIN;
		}
		if (poll(pf, (nfds_t)n, 5) <= 0)
			continue;
		if ((pf[0].revents & POLLIN) && f->ncli < 32) {
			int c = accept(f->lfd, NULL, NULL);

			if (c >= 0) {
				memset(&f->cli[f->ncli], 0, sizeof(f->cli[0]));
				f->cli[f->ncli++].fd = c;
				atomic_fetch_add(&f->accepts, 1);
			}
		}
		for (int i = 1; i < n; i++) {
			struct fcli *c = NULL;
			ssize_t r;

			if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			for (int k = 0; k < f->ncli; k++)
				if (f->cli[k].fd == pf[i].fd)
					c = &f->cli[k];
			if (c == NULL)
				continue;
			r = recv(c->fd, c->rbuf + c->rlen,
			    sizeof(c->rbuf) - c->rlen, 0);
			if (r <= 0) {
				if (r == 0)
					atomic_fetch_add(&f->hangups, 1);
				close(c->fd);
				*c = f->cli[--f->ncli];
				continue;
			}
			c->rlen += (size_t)r;
			while (c->rlen >= 12) {
				fake_request(f, c, c->rbuf);
				memmove(c->rbuf, c->rbuf + 12, c->rlen - 12);
				c->rlen -= 12;
			}
		}
	}
	for (int i = 0; i < f->ncli; i++)
		close(f->cli[i].fd);
	return NULL;
}

static void
fake_start(struct fake *f, enum fmode mode)
{
	memset(f, 0, sizeof(*f));
	f->lfd = listen_any(&f->port);
	atomic_store(&f->mode, mode);
	f->late_ms = 80;
	f->trickle_ms = 1000;
	cr_assert_eq(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void
fake_stop(struct fake *f)
{
	atomic_store(&f->stop, 1);
	pthread_join(f->th, NULL);
	close(f->lfd);
}

static struct mbclient *
client(struct ev_loop *loop, const struct mbclient_config *c, struct run *run)
{
	rules_free(run);	/* a second client in one test starts afresh */
	memset(run, 0, sizeof(*run));
	return mbclient_new(loop, c, on_result, run);
}

static void
add(struct mbclient *c, uint32_t idx, int port, int unit,
    const struct mbmap_profile *p)
{
	struct mbclient_device d = { .index = idx, .host = "127.0.0.1",
	    .port = (uint16_t)port, .unit = (int16_t)unit, .profile = p };

	cr_assert_eq(c->ops->add_device(c, &d), 0);
}

static struct mbmap_point
point(unsigned table, unsigned addr, unsigned type)
{
	return (struct mbmap_point){ .table = (uint8_t)table,
	    .address = (uint16_t)addr, .type = (uint8_t)type, .bit = -1 };
}

/*
 * One test's loop, results, client and the server it owns.  tc_open()
 * sets up the loop, the results and a cfg_fast() config; the test adjusts
 * cfg and p, then tc_client(); tc_close() tears down in reverse: the
 * client, the server, the loop, the results.
 */
struct tc {
	struct ev_loop	*loop;
	struct run	*run;		/* calloc'd: too big for the stack */
	struct mbclient_config cfg;
	struct mbmap_profile p;		/* the profile tc_add_units() uses */
	struct mbclient	*c;		/* NULL until tc_client() */
	struct mbclient_counters k;		/* as of the last tc_start_for() */
	struct fake	 f;		/* if has_f: started by tc_fake() */
	struct lmsrv	 s;		/* if has_s: started by tc_lmsrv() */
	int		 has_f, has_s;
};

/* Returns t->run, for the tests that read the results. */
static struct run *
tc_open(struct tc *t)
{
	memset(t, 0, sizeof(*t));
	t->loop = ev_loop_new(EVFLAG_AUTO);
	t->run = calloc(1, sizeof(*t->run));
	cfg_fast(&t->cfg);
	return t->run;
}

static void
tc_fake(struct tc *t, enum fmode mode)
{
	fake_start(&t->f, mode);
	t->has_f = 1;
}

static void
tc_lmsrv(struct tc *t)
{
	lmsrv_start(&t->s);
	t->has_s = 1;
}

/* A new client on t->cfg; its results go to t->run, emptied. */
static struct mbclient *
tc_client(struct tc *t)
{
	t->c = client(t->loop, &t->cfg, t->run);
	return t->c;
}

/* Devices first..last on port, each its own index and unit id. */
static void
tc_add_units(struct tc *t, int port, int first, int last)
{
	for (int u = first; u <= last; u++)
		add(t->c, (uint32_t)u, port, u, &t->p);
}

/* Starts the client, runs the loop ms, then reads the counters. */
static void
tc_start_for(struct tc *t, double ms)
{
	t->c->ops->start(t->c);
	run_for(t->loop, ms);
	t->c->ops->counters(t->c, &t->k);
}

static void
tc_close(struct tc *t)
{
	if (t->c != NULL)
		t->c->ops->free(t->c);
	if (t->has_s)
		lmsrv_stop(&t->s);
	if (t->has_f)
		fake_stop(&t->f);
	ev_loop_destroy(t->loop);
	rules_free(t->run);
	free(t->run);
}

/* --- tests against libmodbus's server ---------------------------------- */

Test(mbclient, every_read_fc_against_libmodbus, .timeout = 10)
{
	struct tc t;
	struct mbmap_point pp[6];
	struct run *run;
	const struct mbplan *pl;
	size_t b;
	unsigned off;

	run = tc_open(&t);
	tc_lmsrv(&t);
	t.cfg.interval_ms = 1000;
	pp[0] = point(MBMAP_COIL, 3, MBMAP_BOOL);
	pp[1] = point(MBMAP_COIL, 5, MBMAP_BOOL);
	pp[2] = point(MBMAP_DISCRETE, 4, MBMAP_BOOL);
	pp[3] = point(MBMAP_INPUT, 10, MBMAP_FLOAT32);
	pp[4] = point(MBMAP_HOLDING, 20, MBMAP_UINT16);
	pp[5] = point(MBMAP_HOLDING, 22, MBMAP_INT32);
	t.p.points = pp;
	t.p.npoints = 6;
	tc_client(&t);
	add(t.c, 7, t.s.port, 1, &t.p);
	pl = mbclient_plan(t.c, 0);
	cr_assert_eq(pl->nblocks, 4);
	t.c->ops->start(t.c);
	run_until(t.loop, run, 1, 3000);
	cr_assert_eq(run->n, 1);
	cr_assert_eq(run->r[0].device, 7);
	cr_assert_eq(run->r[0].status, MBCLIENT_OK, "%s",
	    mbclient_status_name(run->r[0].status));
	/* Check each point's raw value where the plan put it. */
	{
		struct mbclient_result res = { .plan = pl, .data = run->data };

		cr_assert_eq(mbplan_locate(pl, &t.p, 0, &b, &off), 0);
		cr_assert_eq(pl->blocks[b].fc, 1);
		cr_assert_eq(mbclient_result_bit(&res, b, off), 1);	/* 3 % 3 */
		cr_assert_eq(mbplan_locate(pl, &t.p, 1, &b, &off), 0);
		cr_assert_eq(mbclient_result_bit(&res, b, off), 0);	/* 5 % 3 */
		cr_assert_eq(mbplan_locate(pl, &t.p, 2, &b, &off), 0);
		cr_assert_eq(pl->blocks[b].fc, 2);
		cr_assert_eq(mbclient_result_bit(&res, b, off), 1);	/* 4 even */
		cr_assert_eq(mbplan_locate(pl, &t.p, 3, &b, &off), 0);
		cr_assert_eq(pl->blocks[b].fc, 4);
		cr_assert_eq(mbclient_result_reg(&res, b, off), 2010);
		cr_assert_eq(mbclient_result_reg(&res, b, off + 1), 2011);
		cr_assert_eq(mbplan_locate(pl, &t.p, 4, &b, &off), 0);
		cr_assert_eq(pl->blocks[b].fc, 3);
		cr_assert_eq(mbclient_result_reg(&res, b, off), 1020);
		cr_assert_eq(mbplan_locate(pl, &t.p, 5, &b, &off), 0);
		cr_assert_eq(mbclient_result_reg(&res, b, off), 1022);
		cr_assert_eq(mbclient_result_reg(&res, b, off + 1), 1023);
	}
	t.c->ops->counters(t.c, &t.k);
	cr_assert_eq(t.k.requests, 4);
	cr_assert_eq(t.k.responses, 4);
	cr_assert_eq(t.k.polls_ok, 1);
	cr_assert_eq(t.k.malformed, 0);
	cr_assert_eq(t.k.connected, 1);
	cr_assert(t.k.bytes_tx == 4 * 12);
	cr_assert(run->r[0].started_ms > 0);
	tc_close(&t);
}

/* Poll classes: which blocks each poll read, by poll number. */
struct classrun {
	uint32_t	 seq[64];
	uint8_t		 read[64];	/* bit b: block b fresh */
	uint16_t	 slow[64];	/* the slow register when read */
	size_t		 n;
	int		 bad;
};

static void
on_class_result(const struct mbclient_result *res, void *arg)
{
	struct classrun *cr = arg;
	uint8_t m = 0;

	if (cr->n == 64)
		return;
	if (res->status != MBCLIENT_OK)
		cr->bad++;
	for (size_t b = 0; b < res->plan->nblocks && b < 8; b++)
		if (mbclient_result_read(res, b))
			m |= (uint8_t)(1u << b);
	cr->seq[cr->n] = res->seq;
	cr->read[cr->n] = m;
	cr->slow[cr->n] = mbclient_result_read(res, 1) ? mbclient_result_reg(res, 1, 0) :
	    0;
	cr->n++;
}

Test(mbclient, poll_classes_read_slow_points_on_their_beat, .timeout = 10)
{
	struct tc t;
	struct classrun *cr = calloc(1, sizeof(*cr));
	struct mbmap_point pp[3];
	const struct mbplan *pl;
	unsigned want_req = 0;

	tc_open(&t);
	tc_lmsrv(&t);
	t.cfg.interval_ms = 50;
	pp[0] = point(MBMAP_INPUT, 0, MBMAP_UINT16);
	pp[1] = point(MBMAP_INPUT, 1, MBMAP_UINT16);
	/* a setpoint: every 4th poll (200 ms at 50 ms) */
	pp[2] = point(MBMAP_HOLDING, 7, MBMAP_UINT16);
	pp[2].interval_ms = 200;
	t.p.points = pp;
	t.p.npoints = 3;
	t.c = mbclient_new(t.loop, &t.cfg, on_class_result, cr);
	add(t.c, 0, t.s.port, 1, &t.p);
	pl = mbclient_plan(t.c, 0);
	cr_assert_eq(pl->nblocks, 2);
	cr_assert_eq(pl->blocks[0].every, 1);
	cr_assert_eq(pl->blocks[1].every, 4);
	t.c->ops->start(t.c);
	spin(t.loop, 3000, &cr->n, 12);
	cr_assert_geq(cr->n, 12, "only %zu polls", cr->n);
	cr_assert_eq(cr->bad, 0);
	for (size_t i = 0; i < cr->n; i++) {
		cr_assert_eq(cr->seq[i], i, "poll %zu has seq %u", i,
		    cr->seq[i]);
		/* the fast block on every poll; the slow one on 0, 4, 8 */
		cr_assert_eq(cr->read[i], i % 4 == 0 ? 3 : 1,
		    "poll %zu read mask %u", i, cr->read[i]);
		if (i % 4 == 0)
			cr_assert_eq(cr->slow[i], 1007);
		want_req += i % 4 == 0 ? 2 : 1;
	}
	t.c->ops->counters(t.c, &t.k);
	/* polls after the 12th may have gone out before the loop stopped */
	cr_assert_geq(t.k.requests, want_req);
	cr_assert_leq(t.k.requests, want_req + 4);
	cr_assert_eq(t.k.polls_failed, 0);
	tc_close(&t);
	free(cr);
}

Test(mbclient, exception_codes_1_to_11, .timeout = 10)
{
	struct tc t;
	struct run *run;

	run = tc_open(&t);
	tc_lmsrv(&t);
	t.cfg.interval_ms = 2000;
	t.p = profile_regs(MBMAP_HOLDING, 0, 1); /* one point: nothing to split */
	tc_client(&t);
	for (int code = 1; code <= 11; code++)
		add(t.c, (uint32_t)code, t.s.port, 100 + code, &t.p);
	t.c->ops->start(t.c);
	run_until(t.loop, run, 11, 4000);
	cr_assert_eq(run->n, 11);
	for (size_t i = 0; i < run->n; i++) {
		cr_assert_eq(run->r[i].status, MBCLIENT_EXCEPTION);
		cr_assert_eq(run->r[i].exception, run->r[i].device);
		cr_assert_eq(run->r[i].bexc[0], run->r[i].device);
		cr_assert_eq(run->r[i].comm, COMM_NONE);
	}
	t.c->ops->counters(t.c, &t.k);
	cr_assert_eq(t.k.exceptions, 11);
	for (int code = 1; code <= 11; code++)
		cr_assert_eq(t.k.exception_code[code], 1, "code %d", code);
	cr_assert_eq(t.k.splits, 0);
	cr_assert_eq(t.k.polls_failed, 11);
	cr_assert_eq(t.s.accepts, 1, "11 units share one connection");
	tc_close(&t);
}

Test(mbclient, illegal_address_splits_and_remembers, .timeout = 10)
{
	struct tc t;
	struct mbmap_point pp[3];
	struct run *run;
	const struct mbplan *pl;

	run = tc_open(&t);
	tc_lmsrv(&t);
	t.cfg.interval_ms = 150;
	t.cfg.max_gap = 100;
	pp[0] = point(MBMAP_HOLDING, 150, MBMAP_UINT16);
	pp[1] = point(MBMAP_HOLDING, 199, MBMAP_UINT16); /* the mapping's last */
	pp[2] = point(MBMAP_HOLDING, 201, MBMAP_UINT16); /* past it */
	t.p.points = pp;
	t.p.npoints = 3;
	tc_client(&t);
	add(t.c, 1, t.s.port, 1, &t.p);
	cr_assert_eq(mbclient_plan(t.c, 0)->nblocks, 1);
	t.c->ops->start(t.c);
	run_until(t.loop, run, 2, 3000);
	cr_assert_eq(run->n, 2);
	t.c->ops->counters(t.c, &t.k);
	cr_assert_eq(t.k.splits, 2, "splits %lu", (unsigned long)t.k.splits);
	pl = mbclient_plan(t.c, 0);
	cr_assert_eq(pl->nblocks, 3);
	cr_assert_eq(pl->limit[MBMAP_HOLDING], 2);	/* 52, then 3 refused */
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(run->r[i].status, MBCLIENT_EXCEPTION);
		cr_assert_eq(run->r[i].exception, 2);
		cr_assert_eq(run->r[i].regs[0], 1150);
		cr_assert_eq(run->r[i].bexc[0], 0);
		cr_assert_eq(run->r[i].bexc[1], 0);
		cr_assert_eq(run->r[i].bexc[2], 2);
	}
	/* The second poll sent three reads, not five. */
	cr_assert_eq(t.k.requests, 5 + 3);
	tc_close(&t);
}

/* --- tests against the fake server ------------------------------------- */

Test(mbclient, gateway_8_units_one_conn_dead_neighbour, .timeout = 10)
{
	struct tc t;
	struct run *run;

	run = tc_open(&t);
	tc_fake(&t, F_NORMAL);
	t.cfg.breaker_failures = 2;
	t.p = profile_regs(MBMAP_HOLDING, 5, 3);
	tc_client(&t);
	tc_add_units(&t, t.f.port, 1, 9);	/* unit 9 never answers */
	tc_start_for(&t, 1500);
	cr_assert_eq(mbclient_nconns(t.c), 1);
	cr_assert_eq(t.f.accepts, 1);
	for (uint32_t u = 1; u <= 8; u++) {
		size_t ok = count(run, u, MBCLIENT_OK);

		cr_assert(ok >= 12 && ok <= 16, "unit %u ok %zu", u, ok);
		cr_assert(max_gap(run, u) <= 160, "unit %u gap %ld", u,
		    (long)max_gap(run, u));
	}
	for (size_t i = 0; i < run->n; i++)
		if (run->r[i].status == MBCLIENT_OK)
			cr_assert_eq(run->r[i].regs[0],
			    run->r[i].device * 100 + 5);
	cr_assert_eq(count(run, 9, MBCLIENT_TIMEOUT), 2);
	cr_assert(count(run, 9, MBCLIENT_BREAKER) >= 10);
	cr_assert(mbclient_breaker_open(t.c, 8));
	cr_assert_eq(count_comm(run, 9, COMM_RAISE), 1);
	cr_assert_eq(t.k.breaker_opened, 1);
	cr_assert_eq(t.k.polls_overrun, 0);
	cr_assert_eq(t.k.malformed, 0);
	cr_assert_eq(t.k.disconnects, 0);
	tc_close(&t);
}

Test(mbclient, late_response_dropped_conn_stays_in_step, .timeout = 10)
{
	struct tc t;
	struct run *run;

	run = tc_open(&t);
	tc_fake(&t, F_NORMAL);
	t.f.late_ms = 70;		/* unit 10: after its 50 ms timeout */
	t.cfg.interval_ms = 200;
	t.cfg.breaker_failures = 0;	/* keep probing unit 10 */
	t.cfg.stall_timeouts = 0;
	t.p = profile_regs(MBMAP_HOLDING, 0, 2);
	tc_client(&t);
	add(t.c, 1, t.f.port, 1, &t.p);
	add(t.c, 10, t.f.port, 10, &t.p);
	tc_start_for(&t, 1100);
	cr_assert(count(run, 10, MBCLIENT_TIMEOUT) >= 4);
	cr_assert(t.k.late_responses >= 3, "late %lu",
	    (unsigned long)t.k.late_responses);
	cr_assert_eq(t.k.malformed, 0);
	cr_assert_eq(t.k.disconnects, 0);
	cr_assert_eq(t.f.accepts, 1);
	cr_assert(count(run, 1, MBCLIENT_OK) >= 5);
	cr_assert_eq(count(run, 1, MBCLIENT_TIMEOUT), 0, "the neighbour never waits");
	for (size_t i = 0; i < run->n; i++)
		if (run->r[i].device == 1)
			cr_assert_eq(run->r[i].regs[1], 101);
	tc_close(&t);
}

Test(mbclient, trickle_and_half_open_do_not_stall_others, .timeout = 10)
{
	struct tc t;
	struct fake trickle, silent;
	struct run *run;

	run = tc_open(&t);
	tc_fake(&t, F_NORMAL);			/* the good one */
	fake_start(&trickle, F_TRICKLE);	/* one byte per second */
	fake_start(&silent, F_SILENT);		/* accepts, never answers */
	t.cfg.timeout_ms = 200;
	t.cfg.stall_timeouts = 2;
	t.cfg.breaker_failures = 0;
	t.p = profile_regs(MBMAP_INPUT, 0, 4);
	tc_client(&t);
	add(t.c, 1, t.f.port, 1, &t.p);
	add(t.c, 2, trickle.port, 1, &t.p);
	add(t.c, 3, silent.port, 1, &t.p);
	tc_start_for(&t, 1500);
	cr_assert(count(run, 1, MBCLIENT_OK) >= 13, "ok %zu", count(run, 1, MBCLIENT_OK));
	cr_assert(max_gap(run, 1) <= 160, "gap %ld", (long)max_gap(run, 1));
	cr_assert_eq(count(run, 2, MBCLIENT_OK), 0);
	cr_assert_eq(count(run, 3, MBCLIENT_OK), 0);
	cr_assert(count(run, 2, MBCLIENT_TIMEOUT) >= 2);
	cr_assert(count(run, 3, MBCLIENT_TIMEOUT) >= 2);
	cr_assert(t.k.stalled_closed >= 2, "stalled %lu",
	    (unsigned long)t.k.stalled_closed);
	cr_assert(trickle.accepts >= 2 && silent.accepts >= 2);
	cr_assert_eq(count_comm(run, 2, COMM_RAISE), 1);
	cr_assert_eq(count_comm(run, 3, COMM_RAISE), 1);
	tc_close(&t);
	fake_stop(&trickle);
	fake_stop(&silent);
}

Test(mbclient, refused_backs_off_and_rate_limits, .timeout = 10)
{
	struct tc t;
	struct run *run;
	int port = closed_port();

	run = tc_open(&t);
	tc_fake(&t, F_NORMAL);
	t.cfg.interval_ms = 20;
	t.cfg.backoff_min_ms = 100;
	t.cfg.backoff_max_ms = 1000;
	/* the good device's connect must not time out on a loaded machine */
	t.cfg.connect_timeout_ms = 2000;
	t.p = profile_regs(MBMAP_HOLDING, 0, 1);
	tc_client(&t);
	add(t.c, 1, t.f.port, 1, &t.p);
	add(t.c, 2, port, 1, &t.p);
	tc_start_for(&t, 1000);
	/* 50 polls in a second, but backoff 100, 200, 400 ms (each with
	 * jitter down to half): at most 6 connects, each refused. */
	cr_assert(count(run, 2, MBCLIENT_CONNECT) >= 40);
	cr_assert(t.k.connects >= 3 && t.k.connects <= 7, "connects %lu",
	    (unsigned long)t.k.connects);
	cr_assert_eq(t.k.connect_failed, t.k.connects - 1);
	for (size_t i = 0; i < run->n; i++)
		if (run->r[i].device == 2)
			cr_assert(run->r[i].err == -ECONNREFUSED ||
			    run->r[i].err == 0);
	cr_assert(count(run, 1, MBCLIENT_OK) >= 40);
	cr_assert_eq(count_comm(run, 2, COMM_RAISE), 1);
	t.c->ops->free(t.c);
	fake_stop(&t.f);

	/* Rate limit: 1 connect per second per host, bucket of 1, and 3
	 * connections wanted to one host: 1 now, 2 throttled. */
	cfg_fast(&t.cfg);
	t.cfg.connections_per_host = 3;
	t.cfg.connect_rate_per_host = 1;
	t.cfg.connect_burst_per_host = 1;
	fake_start(&t.f, F_NORMAL);
	tc_client(&t);
	tc_add_units(&t, t.f.port, 1, 3);
	cr_assert_eq(mbclient_nconns(t.c), 3);
	tc_start_for(&t, 400);
	cr_assert_eq(t.k.connects, 1);
	cr_assert(t.k.connect_throttled >= 2);
	cr_assert_eq(t.f.accepts, 1);
	tc_close(&t);
}

/*
 * A host name that does not resolve when the device is added (a DNS blip
 * at boot) keeps its device: polls fail with MBCLIENT_CONNECT, the name is
 * looked up again off the loop after the device's backoff, and polling
 * starts when it resolves.  The second lookup takes FLAKY_SLOW_MS; a
 * neighbour's polls go on meanwhile, so the loop never waited for DNS.
 */
Test(mbclient, host_resolves_on_the_second_try, .timeout = 10)
{
	struct tc t;
	struct run *run;
	struct mbclient_device flaky;
	size_t first = MAXRES, ok = 0;

	atomic_store(&flaky_lookups, 0);
	run = tc_open(&t);
	tc_fake(&t, F_NORMAL);
	t.cfg.interval_ms = 50;
	t.p = profile_regs(MBMAP_HOLDING, 0, 1);
	tc_client(&t);
	add(t.c, 1, t.f.port, 1, &t.p);
	flaky = (struct mbclient_device){ .index = 2, .host = FLAKY_HOST,
	    .port = (uint16_t)t.f.port, .unit = 2, .profile = &t.p };
	cr_assert_eq(t.c->ops->add_device(t.c, &flaky), 0,
	    "a name that does not resolve yet keeps its device");
	cr_assert_eq(atomic_load(&flaky_lookups), 1);
	t.c->ops->start(t.c);
	for (int i = 0; i < 300 && ok == 0; i++) {
		run_for(t.loop, 10);
		ok = count(run, 2, MBCLIENT_OK);
	}
	cr_assert_gt(ok, 0, "device 2 polled once its name resolved");
	for (size_t i = 0; i < run->n && first == MAXRES; i++)
		if (run->r[i].device == 2)
			first = i;
	cr_assert_eq(run->r[first].status, MBCLIENT_CONNECT);
	cr_assert_eq(run->r[first].err, -EHOSTUNREACH);
	cr_assert_eq(atomic_load(&flaky_lookups), 2,
	    "one lookup at a time, none while one is under way");
	cr_assert_lt(max_gap(run, 1), FLAKY_SLOW_MS - 100,
	    "the neighbour was polled while DNS was slow");
	cr_assert_eq(count(run, 1, MBCLIENT_CONNECT), 0);
	tc_close(&t);
}

Test(mbclient, garbage_and_wrong_tid_reset_the_conn, .timeout = 10)
{
	struct tc t;
	struct run *run;

	run = tc_open(&t);
	tc_fake(&t, F_GARBAGE);
	t.p = profile_regs(MBMAP_HOLDING, 0, 1);
	tc_client(&t);
	add(t.c, 1, t.f.port, 1, &t.p);
	t.c->ops->start(t.c);
	run_until(t.loop, run, 1, 2000);
	t.c->ops->counters(t.c, &t.k);
	cr_assert_eq(run->r[0].status, MBCLIENT_PROTOCOL);
	cr_assert(t.k.malformed_by[-MBAP_E_PROTO] >= 1);
	cr_assert(t.k.disconnects >= 1);
	/* Now the peer answers with a transaction id we never sent. */
	atomic_store(&t.f.mode, F_BADTID);
	run_for(t.loop, 600);
	t.c->ops->counters(t.c, &t.k);
	cr_assert(t.k.malformed_by[-MBAP_E_TID] >= 1);
	/* A peer that closes in the middle of a frame. */
	atomic_store(&t.f.mode, F_CUT);
	run->n = 0;
	run_for(t.loop, 1000);
	t.c->ops->counters(t.c, &t.k);
	cr_assert(count(run, 1, MBCLIENT_CLOSED) >= 1);
	cr_assert(t.k.peer_closed >= 1);
	cr_assert_eq(count(run, 1, MBCLIENT_OK), 0);
	/* And when the peer behaves again, polls succeed on a new conn. */
	atomic_store(&t.f.mode, F_NORMAL);
	run->n = 0;
	run_for(t.loop, 1200);
	cr_assert(count(run, 1, MBCLIENT_OK) >= 1);
	tc_close(&t);
}

Test(mbclient, comm_loss_raise_then_clear, .timeout = 10)
{
	struct tc t;
	struct run *run;
	size_t raise_at = 0, clear_at = 0;

	run = tc_open(&t);
	tc_fake(&t, F_SILENT);
	t.cfg.breaker_failures = 0;
	t.cfg.stall_timeouts = 0;
	t.p = profile_regs(MBMAP_HOLDING, 0, 1);
	tc_client(&t);
	run->comm_loss_misses = 3;	/* before the first result */
	add(t.c, 1, t.f.port, 1, &t.p);
	t.c->ops->start(t.c);
	run_until(t.loop, run, 4, 2000);
	atomic_store(&t.f.mode, F_NORMAL);
	run_until(t.loop, run, 8, 2000);
	for (size_t i = 0; i < run->n; i++) {
		if (run->r[i].comm == COMM_RAISE)
			raise_at = i + 1;
		if (run->r[i].comm == COMM_CLEAR)
			clear_at = i + 1;
	}
	cr_assert_eq(raise_at, 3, "raised on the 3rd miss");
	cr_assert(clear_at > raise_at);
	cr_assert_eq(run->r[clear_at - 1].status, MBCLIENT_OK);
	cr_assert_eq(count_comm(run, 1, COMM_RAISE), 1);
	cr_assert_eq(count_comm(run, 1, COMM_CLEAR), 1);
	t.c->ops->counters(t.c, &t.k);
	cr_assert_eq(run->ar.stats.comm_loss_raised, 1);
	cr_assert_eq(run->ar.stats.comm_loss_cleared, 1);
	tc_close(&t);
}

Test(mbclient, pipelined_inflight_and_conns_per_host, .timeout = 10)
{
	struct tc t;
	struct run *run;

	run = tc_open(&t);
	tc_fake(&t, F_NORMAL);
	t.cfg.inflight = 4;
	t.cfg.connections_per_host = 2;
	t.p = profile_regs(MBMAP_HOLDING, 40, 2);
	tc_client(&t);
	tc_add_units(&t, t.f.port, 1, 8);
	tc_start_for(&t, 500);
	cr_assert_eq(mbclient_nconns(t.c), 2);
	cr_assert_eq(t.f.accepts, 2);
	for (uint32_t u = 1; u <= 8; u++)
		cr_assert(count(run, u, MBCLIENT_OK) >= 4);
	for (size_t i = 0; i < run->n; i++)
		cr_assert_eq(run->r[i].regs[0], run->r[i].device * 100 + 40);
	cr_assert_eq(t.k.malformed, 0);
	cr_assert_eq(t.k.timeouts, 0);
	tc_close(&t);
}

/*
 * A reload that removes every device behind a gateway: the connection is
 * closed once its last device is retired (not held until a restart), the
 * others' connection stays, and a device added behind the same host later
 * connects again.
 */
Test(mbclient, retiring_the_last_device_closes_its_connection, .timeout = 10)
{
	struct tc t;
	struct run *run;
	size_t ok;
	int sent;

	run = tc_open(&t);
	tc_fake(&t, F_NORMAL);
	t.cfg.connections_per_host = 2;	/* units 1, 3 on one; 2, 4 the other */
	t.p = profile_regs(MBMAP_HOLDING, 40, 2);
	tc_client(&t);
	tc_add_units(&t, t.f.port, 1, 4);
	tc_start_for(&t, 300);
	cr_assert_eq(t.f.accepts, 2);
	t.c->ops->retire_device(t.c, 0);
	run_for(t.loop, 200);
	cr_assert_eq(t.f.hangups, 0, "unit 3 still uses the connection");
	t.c->ops->retire_device(t.c, 2);
	ok = count(run, 2, MBCLIENT_OK);
	run_for(t.loop, 200);
	cr_assert_eq(t.f.hangups, 1, "units 1 and 3 gone: their conn closed");
	cr_assert(count(run, 2, MBCLIENT_OK) > ok, "2 and 4 still polled");
	t.c->ops->retire_device(t.c, 1);
	t.c->ops->retire_device(t.c, 3);
	run_for(t.loop, 200);
	cr_assert_eq(t.f.hangups, 2);
	sent = t.f.requests;
	run_for(t.loop, 200);
	cr_assert_eq(t.f.requests, sent, "nothing sent after the last");
	add(t.c, 5, t.f.port, 5, &t.p);
	run_for(t.loop, 300);
	cr_assert_eq(t.f.accepts, 3, "a new device behind the host connects");
	cr_assert(count(run, 5, MBCLIENT_OK) >= 2);
	t.c->ops->counters(t.c, &t.k);
	cr_assert_eq(t.k.disconnects, 0, "a retirement is not a disconnect");
	cr_assert_eq(t.k.malformed, 0);
	tc_close(&t);
}

Test(mbclient, config_defaults_and_bad_devices)
{
	struct tc t;
	struct mbclient_device d = { .host = "127.0.0.1", .unit = 300,
	    .profile = &t.p };

	tc_open(&t);
	t.p = profile_regs(MBMAP_HOLDING, 0, 1);
	mbclient_config_defaults(&t.cfg);
	cr_assert_eq(t.cfg.port, 502);
	cr_assert_eq(t.cfg.unit, 1);
	cr_assert_eq(t.cfg.inflight, 1);
	cr_assert_eq(t.cfg.connections_per_host, 1);
	cr_assert_eq(t.cfg.max_registers, 125);
	cr_assert_eq(t.cfg.max_bits, 2000);
	tc_client(&t);
	cr_assert_str_eq(t.c->ops->name, "modbus-tcp");
	cr_assert_eq(t.c->ops->add_device(t.c, &d), -EINVAL);
	d.unit = -1;
	d.profile = NULL;
	cr_assert_eq(t.c->ops->add_device(t.c, &d), -EINVAL);
	d.profile = &t.p;
	/* a name that does not resolve is kept (and retried), not refused;
	 * it holds no connection until it resolves */
	d.host = "no such host.invalid";
	cr_assert_eq(t.c->ops->add_device(t.c, &d), 0);
	cr_assert_eq(mbclient_nconns(t.c), 0);
	d.host = "127.0.0.1";
	cr_assert_eq(t.c->ops->add_device(t.c, &d), 0);
	cr_assert_eq(t.c->ops->add_device(t.c, &d), 0);
	cr_assert_eq(mbclient_ndevices(t.c), 3);
	cr_assert_eq(mbclient_nconns(t.c), 1, "same host:port, one conn");
	cr_assert_str_eq(mbclient_status_name(MBCLIENT_TIMEOUT), "timeout");
	t.c->ops->stop(t.c);
	t.c->ops->stop(t.c);
	tc_close(&t);
}

Test(mbclient, descriptors_above_1024, .timeout = 10)
{
	struct tc t;
	struct run *run;
	struct rlimit rl;
	int fill[1100], probe;

	run = tc_open(&t);
	/* Take every descriptor below 1100 so the client's sockets land
	 * above FD_SETSIZE, where a select()-based client aborts. */
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max < 2048)
		cr_skip_test("RLIMIT_NOFILE hard limit %lu < 2048",
		    (unsigned long)rl.rlim_max);
	if (rl.rlim_cur < 2048) {
		rl.rlim_cur = 2048;
		cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	tc_fake(&t, F_NORMAL);
	for (int i = 0; i < 1100; i++)
		fill[i] = open("/dev/null", O_RDONLY);
	probe = open("/dev/null", O_RDONLY);
	cr_assert(probe > 1024, "probe fd %d", probe);
	close(probe);
	t.cfg.connections_per_host = 20;
	/* about descriptors, not timing: room for a loaded 2-core machine */
	t.cfg.timeout_ms = 100;
	t.cfg.connect_timeout_ms = 2000;
	t.p = profile_regs(MBMAP_HOLDING, 3, 2);
	tc_client(&t);
	tc_add_units(&t, t.f.port, 11, 30);	/* 9 and 10 misbehave */
	tc_start_for(&t, 600);
	cr_assert_eq(t.k.connected, 20);
	for (uint32_t u = 11; u <= 30; u++)
		cr_assert(count(run, u, MBCLIENT_OK) >= 4, "unit %u", u);
	cr_assert_eq(t.k.malformed + t.k.timeouts, 0);
	tc_close(&t);
	for (int i = 0; i < 1100; i++)
		if (fill[i] >= 0)
			close(fill[i]);
}

Test(mbclient, phases_spread_polls_over_the_interval, .timeout = 10)
{
	struct tc t;
	struct run *run;
	int port = closed_port(), bucket[20] = { 0 }, seen[200] = { 0 };
	int64_t first = -1;

	run = tc_open(&t);
	/* 200 devices on a 200 ms interval: the first poll of each should
	 * land about one per millisecond, not all at once.  A refused port
	 * makes each poll end at once, so only the start times matter. */
	t.cfg.interval_ms = 200;
	t.p = profile_regs(MBMAP_HOLDING, 0, 1);
	tc_client(&t);
	for (int i = 0; i < 200; i++)
		add(t.c, (uint32_t)i, port, 1, &t.p);
	t.c->ops->start(t.c);
	run_for(t.loop, 230);
	for (size_t i = 0; i < run->n; i++) {
		uint32_t dv = run->r[i].device;

		if (first < 0)
			first = run->r[i].started_ms;
		if (seen[dv]++)
			continue;
		int64_t at = run->r[i].started_ms - first;

		if (at >= 0 && at < 200)
			bucket[at / 10]++;
	}
	for (int i = 0; i < 200; i++)
		cr_assert(seen[i] >= 1, "device %d never polled", i);
	/* 10 per 10 ms bucket on average; allow for loop-time batching. */
	for (int b = 0; b < 20; b++)
		cr_assert(bucket[b] >= 3 && bucket[b] <= 25, "bucket %d: %d",
		    b, bucket[b]);
	tc_close(&t);
}

Test(mbclient, breaker_probe_reopens_then_closes, .timeout = 10)
{
	struct tc t;
	struct run *run;

	run = tc_open(&t);
	tc_fake(&t, F_SILENT);
	t.cfg.breaker_failures = 2;
	t.cfg.breaker_cooldown_ms = 200;
	t.cfg.stall_timeouts = 0;
	t.p = profile_regs(MBMAP_HOLDING, 0, 1);
	tc_client(&t);
	add(t.c, 1, t.f.port, 1, &t.p);
	/* 2 timeouts (open), 200 ms skipped, a failed probe (open again
	 * for 400 ms). */
	tc_start_for(&t, 550);
	cr_assert_eq(t.k.breaker_opened, 2);
	cr_assert_eq(count(run, 1, MBCLIENT_TIMEOUT), 3);
	cr_assert(mbclient_breaker_open(t.c, 0));
	cr_assert(count(run, 1, MBCLIENT_BREAKER) >= 2);
	atomic_store(&t.f.mode, F_NORMAL);
	run_for(t.loop, 700);
	t.c->ops->counters(t.c, &t.k);
	cr_assert_eq(t.k.breaker_closed, 1);
	cr_assert(!mbclient_breaker_open(t.c, 0));
	cr_assert(count(run, 1, MBCLIENT_OK) >= 2);
	cr_assert_eq(count(run, 1, MBCLIENT_TIMEOUT), 3);
	tc_close(&t);
}

struct wres {
	size_t		 n;
	enum mbclient_status	 st[8];
	uint8_t		 exc[8];
	uint8_t		 sent[8];
	uint8_t		 data[8][16];	/* the first bytes of a read's data */
	size_t		 ndata[8];
};

static void
on_write(const struct mbclient_reply *r, void *arg)
{
	struct wres *w = arg;

	if (w->n < 8) {
		w->st[w->n] = r->status;
		w->exc[w->n] = r->exception;
		w->sent[w->n] = r->sent;
		w->ndata[w->n] = r->ndata;
		if (r->ndata > 0)	/* a write's reply has no data (NULL) */
			memcpy(w->data[w->n], r->data, r->ndata < 16 ?
			    r->ndata : 16);
	}
	w->n++;
}

/* Sends q to device dev; the write must be taken, and its callback is
 * the want-th: waits up to 2 s for it. */
static void
write_wait(struct tc *t, uint32_t dev, const struct mbap_req *q,
    struct wres *w, size_t want)
{
	cr_assert_eq(t->c->ops->request(t->c, dev, q, on_write, w), 0);
	spin(t->loop, 2000, &w->n, want);
}

Test(mbclient, configured_writes_fc_5_6_15_16, .timeout = 10)
{
	struct tc t;
	struct wres w = { 0 };
	uint16_t regs[3] = { 0xbeef, 7, 8 };
	uint8_t bits[10] = { 1, 1, 0, 1, 0, 0, 0, 0, 0, 1 };
	struct mbap_req q = { .fc = 16, .addr = 50, .count = 3,
	    .regs = regs };

	tc_open(&t);
	tc_lmsrv(&t);
	t.cfg.interval_ms = 60000;	/* one poll, at the phase */
	t.p = profile_regs(MBMAP_HOLDING, 50, 3);
	tc_client(&t);
	add(t.c, 1, t.s.port, 1, &t.p);
	add(t.c, 2, t.s.port, 102, &t.p);	/* answers exception 2 */
	cr_assert_eq(t.c->ops->request(t.c, 0, &q, on_write, &w), -EPERM);
	t.c->ops->free(t.c);

	t.cfg.allow_writes = 1;
	tc_client(&t);
	add(t.c, 1, t.s.port, 1, &t.p);
	add(t.c, 2, t.s.port, 102, &t.p);
	t.c->ops->start(t.c);
	run_until(t.loop, t.run, 2, 2000);	/* first polls done */
	cr_assert_eq(t.c->ops->request(t.c, 0, &q, on_write, &w), 0);
	regs[0] = 0;			/* the client copied the values */
	cr_assert_eq(t.c->ops->request(t.c, 0, &q, on_write, &w), -EBUSY);
	spin(t.loop, 2000, &w.n, 1);
	cr_assert_eq(w.n, 1);
	cr_assert_eq(w.st[0], MBCLIENT_OK);
	cr_assert_eq(t.s.map->tab_registers[50], 0xbeef);
	cr_assert_eq(t.s.map->tab_registers[52], 8);

	q = (struct mbap_req){ .fc = 6, .addr = 60, .regs = regs };
	regs[0] = 4242;
	write_wait(&t, 0, &q, &w, 2);
	cr_assert_eq(w.st[1], MBCLIENT_OK);
	cr_assert_eq(t.s.map->tab_registers[60], 4242);

	q = (struct mbap_req){ .fc = 5, .addr = 2, .bits = bits };
	write_wait(&t, 0, &q, &w, 3);
	cr_assert_eq(w.st[2], MBCLIENT_OK);
	cr_assert_eq(t.s.map->tab_bits[2], 1);		/* was 2 % 3 != 0 */

	q = (struct mbap_req){ .fc = 15, .addr = 20, .count = 10,
	    .bits = bits };
	write_wait(&t, 0, &q, &w, 4);
	cr_assert_eq(w.st[3], MBCLIENT_OK);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(t.s.map->tab_bits[20 + i], bits[i], "bit %d", i);

	q = (struct mbap_req){ .fc = 6, .addr = 60, .regs = regs };
	write_wait(&t, 1, &q, &w, 5);
	cr_assert_eq(w.st[4], MBCLIENT_EXCEPTION);
	cr_assert_eq(w.exc[4], 2);

	q.fc = 7;			/* neither a read nor a write */
	cr_assert_eq(t.c->ops->request(t.c, 0, &q, on_write, &w), -EINVAL);
	q.fc = 16; q.count = 124;	/* over the FC 16 limit */
	cr_assert_eq(t.c->ops->request(t.c, 0, &q, on_write, &w), -EINVAL);
	cr_assert_eq(t.c->ops->request(t.c, 9, &q, on_write, &w), -EINVAL);
	t.c->ops->counters(t.c, &t.k);
	cr_assert_eq(t.k.writes, 5);
	cr_assert_eq(t.k.writes_ok, 4);
	cr_assert_eq(t.k.writes_failed, 1);
	cr_assert_eq(t.run->ar.stats.comm_loss_raised, 0);
	cr_assert_eq(w.sent[0], 1);
	tc_close(&t);
}

/*
 * A read-back is a one-off read through the same op: no allow_writes
 * needed, the data in the reply, the poll counters untouched.  A read
 * of a table the writes just changed sees them.
 */
Test(mbclient, one_off_read_needs_no_write_permission, .timeout = 10)
{
	struct tc t;
	struct wres w = { 0 };
	uint16_t one = 0x1234;
	struct mbap_req q = { .fc = 3, .addr = 70, .count = 2 };

	tc_open(&t);
	tc_lmsrv(&t);
	t.cfg.interval_ms = 60000;
	t.p = profile_regs(MBMAP_HOLDING, 50, 3);
	tc_client(&t);
	add(t.c, 1, t.s.port, 1, &t.p);
	t.c->ops->start(t.c);
	run_until(t.loop, t.run, 1, 2000);
	t.s.map->tab_registers[70] = 0xabcd;
	t.s.map->tab_registers[71] = 7;
	write_wait(&t, 0, &q, &w, 1);
	cr_assert_eq(w.st[0], MBCLIENT_OK);
	cr_assert_eq(w.ndata[0], 4);
	cr_assert_eq(w.data[0][0], 0xab);
	cr_assert_eq(w.data[0][1], 0xcd);
	cr_assert_eq(w.data[0][3], 7);
	q = (struct mbap_req){ .fc = 1, .addr = 3, .count = 1 };
	t.s.map->tab_bits[3] = 1;
	write_wait(&t, 0, &q, &w, 2);
	cr_assert_eq(w.st[1], MBCLIENT_OK);
	cr_assert_eq(w.ndata[1], 1);
	cr_assert_eq(w.data[1][0] & 1, 1);
	/* a write still needs the permission */
	q = (struct mbap_req){ .fc = 6, .addr = 70, .regs = &one };
	cr_assert_eq(t.c->ops->request(t.c, 0, &q, on_write, &w), -EPERM);
	t.c->ops->counters(t.c, &t.k);
	cr_assert_eq(t.k.writes, 0);
	cr_assert_eq(t.k.polls, 1);
	tc_close(&t);
}

/*
 * A write that gets no answer ends in MBCLIENT_TIMEOUT with sent 1 and
 * is sent exactly once (never retried blindly); it does not trip the
 * breaker.  A poll timer that fires meanwhile is owed, not an overrun:
 * the poll runs right after the write ends.
 */
Test(mbclient, write_timeout_is_sent_once_and_defers_the_poll,
    .timeout = 10)
{
	struct tc t;
	struct wres w = { 0 };
	uint16_t v = 1;
	struct mbap_req q = { .fc = 6, .addr = 0, .regs = &v };
	struct run *run;
	int before;

	run = tc_open(&t);
	tc_fake(&t, F_NORMAL);
	t.cfg.allow_writes = 1;
	t.cfg.interval_ms = 200;
	t.cfg.timeout_ms = 300;		/* the poll timer fires meanwhile */
	t.cfg.breaker_failures = 1;
	t.cfg.stall_timeouts = 0;
	t.p = profile_regs(MBMAP_HOLDING, 0, 1);
	tc_client(&t);
	add(t.c, 1, t.f.port, 1, &t.p);
	t.c->ops->start(t.c);
	run_until(t.loop, run, 1, 2000);
	cr_assert_eq(count(run, 1, MBCLIENT_OK), 1);
	atomic_store(&t.f.mode, F_SILENT);
	before = atomic_load(&t.f.requests);
	cr_assert_eq(t.c->ops->request(t.c, 0, &q, on_write, &w), 0);
	spin(t.loop, 2000, &w.n, 1);
	cr_assert_eq(w.n, 1);
	cr_assert_eq(w.st[0], MBCLIENT_TIMEOUT);
	cr_assert_eq(w.sent[0], 1);
	/* the write went out once; the owed poll follows at once */
	cr_assert(atomic_load(&t.f.requests) - before <= 2);
	t.c->ops->counters(t.c, &t.k);
	cr_assert_eq(t.k.writes, 1);
	cr_assert_eq(t.k.writes_failed, 1);
	cr_assert(!mbclient_breaker_open(t.c, 0) || t.k.breaker_opened ==
	    t.k.timeouts - 1, "the write's timeout trips nothing");
	atomic_store(&t.f.mode, F_NORMAL);
	run_for(t.loop, 600);
	t.c->ops->counters(t.c, &t.k);
	cr_assert_eq(t.k.polls_overrun, 0);
	cr_assert_geq(t.k.polls_deferred, 1);
	tc_close(&t);
}

/* No connection: the request never leaves (sent 0), MBCLIENT_CONNECT. */
Test(mbclient, write_to_an_unreachable_device_is_not_sent, .timeout = 10)
{
	struct tc t;
	struct wres w = { 0 };
	uint16_t v = 1;
	struct mbap_req q = { .fc = 6, .addr = 0, .regs = &v };
	int port;

	tc_open(&t);
	port = closed_port();
	t.cfg.allow_writes = 1;
	t.cfg.interval_ms = 60000;
	t.p = profile_regs(MBMAP_HOLDING, 0, 1);
	tc_client(&t);
	add(t.c, 1, port, 1, &t.p);
	t.c->ops->start(t.c);
	run_until(t.loop, t.run, 1, 3000);
	cr_assert_eq(t.c->ops->request(t.c, 0, &q, on_write, &w), 0);
	spin(t.loop, 3000, &w.n, 1);
	cr_assert_eq(w.n, 1);
	cr_assert_eq(w.st[0], MBCLIENT_CONNECT);
	cr_assert_eq(w.sent[0], 0);
	tc_close(&t);
}

Test(mbclient, frames_per_wakeup_capped, .timeout = 10)
{
	struct tc t;
	struct run *run;

	run = tc_open(&t);
	tc_fake(&t, F_BATCH);
	t.cfg.inflight = 8;
	t.cfg.frames_per_wakeup = 2;
	t.cfg.timeout_ms = 300;
	t.p = profile_regs(MBMAP_INPUT, 7, 1);
	tc_client(&t);
	tc_add_units(&t, t.f.port, 1, 8);
	tc_start_for(&t, 500);
	/* 8 answers in one segment, 2 parsed per wakeup: 3 feeds each. */
	cr_assert(t.k.wakeup_capped >= 3, "capped %lu",
	    (unsigned long)t.k.wakeup_capped);
	cr_assert(t.k.polls_ok >= 16, "ok %lu", (unsigned long)t.k.polls_ok);
	for (size_t i = 0; i < run->n; i++)
		cr_assert_eq(run->r[i].regs[0], run->r[i].device * 100 + 7);
	cr_assert_eq(t.k.malformed + t.k.timeouts, 0);
	tc_close(&t);
}

/*
 * The request timer is started once per poll and only moved by later
 * requests (mbclient.c, "Cost per transaction").  Unit 10 answers every
 * request 60 ms late with a 100 ms timeout and two blocks per poll: the
 * second request leaves at ~60 ms, after the timer was armed for 100 ms,
 * and is answered at ~120 ms.  The shot at 100 ms must re-arm for the
 * second request's own deadline (~160 ms), not time it out.
 */
Test(mbclient, later_request_of_a_poll_gets_its_own_timeout)
{
	struct tc t;
	struct run *run;

	run = tc_open(&t);
	tc_fake(&t, F_NORMAL);
	t.f.late_ms = 60;
	t.cfg.interval_ms = 300;
	t.cfg.timeout_ms = 100;
	memset(pts, 0, sizeof(pts));
	pts[0] = point(MBMAP_HOLDING, 0, MBMAP_UINT16);
	pts[1] = point(MBMAP_INPUT, 0, MBMAP_UINT16);
	t.p.points = pts;
	t.p.npoints = 2;
	tc_client(&t);
	add(t.c, 10, t.f.port, 10, &t.p);
	cr_assert_eq(mbclient_plan(t.c, 0)->nblocks, 2);
	tc_start_for(&t, 1000);
	cr_assert(count(run, 10, MBCLIENT_OK) >= 2, "ok %zu",
	    count(run, 10, MBCLIENT_OK));
	cr_assert_eq(count(run, 10, MBCLIENT_TIMEOUT), 0);
	cr_assert_eq(t.k.timeouts, 0);
	cr_assert_eq(t.k.late_responses, 0);
	cr_assert(t.k.responses >= 4);
	tc_close(&t);
}

/* A reply callback that queues the device's next request at once. */
struct chain {
	struct mbclient	*c;
	struct wres	 w;
	uint16_t	 v;
};

static void
on_chain(const struct mbclient_reply *r, void *arg)
{
	struct chain *ch = arg;
	struct mbap_req q = { .fc = 6, .addr = 61, .regs = &ch->v };

	on_write(r, &ch->w);
	if (ch->w.n == 1) {
		ch->v = 99;
		cr_assert_eq(ch->c->ops->request(ch->c, 0, &q, on_chain, ch),
		    0);
	}
}

Test(mbclient, request_queued_from_a_reply_is_sent, .timeout = 10)
{
	struct tc t;
	struct chain ch;
	uint16_t v = 5;
	struct mbap_req q = { .fc = 6, .addr = 60, .regs = &v };

	memset(&ch, 0, sizeof(ch));
	tc_open(&t);
	tc_lmsrv(&t);
	t.cfg.allow_writes = 1;
	t.cfg.interval_ms = 60000;
	t.p = profile_regs(MBMAP_HOLDING, 50, 3);
	tc_client(&t);
	add(t.c, 1, t.s.port, 1, &t.p);
	t.c->ops->start(t.c);
	run_until(t.loop, t.run, 1, 2000);
	ch.c = t.c;
	cr_assert_eq(t.c->ops->request(t.c, 0, &q, on_chain, &ch), 0);
	spin(t.loop, 2000, &ch.w.n, 2);
	cr_assert_eq(ch.w.n, 2);
	cr_assert_eq(ch.w.st[0], MBCLIENT_OK);
	cr_assert_eq(ch.w.st[1], MBCLIENT_OK);
	cr_assert_eq(t.s.map->tab_registers[60], 5);
	cr_assert_eq(t.s.map->tab_registers[61], 99, "the second request's "
	    "values survived the first one's end");
	tc_close(&t);
}
