/*
 * mbclient.c - asynchronous Modbus/TCP client on one libev loop.
 *
 * Objects:
 *   host   one per resolved address:port; owns connections_per_host connections
 *          and a connect token bucket.  Found through a chained hash.
 *   conn   one TCP connection: a state (IDLE, THROTTLED, CONNECTING, UP,
 *          BACKOFF), read/write watchers and one timer embedded in it, a
 *          table of in-flight slots (cfg.inflight), a small ring of the
 *          transaction ids of requests that timed out, a FIFO of devices
 *          waiting for a slot, a 520-byte receive buffer.
 *   dev    one polled unit: its plan (mbplan.h), the data of the poll
 *          under way, a poll timer and a request timer embedded in it, its
 *          circuit-breaker state.  A device is assigned to one conn of its
 *          host (round robin) for its life.  Whether a device is lost
 *          (COMM_LOSS) is not decided here: the caller counts failed polls
 *          (correlator/almrule, the one COMM_LOSS state machine).
 *
 * A poll sends the device's blocks one at a time: after each answer the
 * device goes to the back of its conn's FIFO, so units behind one gateway
 * interleave block by block and a big device cannot hog a shared link.
 *
 * Invariants:
 *   - a device is in at most one of: its conn's FIFO, an in-flight slot;
 *     it is in one of them only while its poll is under way (busy);
 *   - every in-flight slot has its device's request timer running; the
 *     timer may be due before the request's own deadline (rto_at), and then
 *     re-arms itself for the rest (see "Cost per transaction" below);
 *   - a tid is either in a slot, in the stale ring, or free.  A timed-out
 *     request's tid goes to the stale ring; its late answer is matched
 *     there, dropped and counted, and the stream stays in step.  A frame
 *     whose tid is in neither is a protocol error and resets the conn,
 *     because after it nothing guarantees where the next frame starts.
 *
 * An operator's request (a declared command's write, only with
 * cfg.allow_writes, or its read-back) takes the device's place for one
 * request: it waits for the poll under way, then goes through the same
 * FIFO, slot, timer and tid machinery, and ends in its own callback;
 * d->wr_active routes every completion path there.  It is sent once and
 * never retried (a write that timed out may or may not have acted), and
 * it leaves the poll accounting alone: a poll timer that fires meanwhile
 * is owed and run as soon as the request ends (not an overrun), and the
 * request neither trips nor closes the unit's breaker.
 *
 * Re-entrancy: completions run user callbacks, which may queue more work
 * and so reset a conn from inside a read event; conn->gen lets the reader
 * notice and stop touching the old buffer.
 *
 * Cost per transaction (bench/pollbench, docs/modbus.md): the kernel's TCP
 * path is most of it, so user space keeps to one send() and one recv() per
 * request and as few libev heap operations as it can.  The request timer
 * is started once per poll (at its first request) and stopped when the poll
 * ends; a request sent while it runs only moves the deadline rto_at, and a
 * shot that comes before the deadline re-arms for the rest, or does nothing
 * if the device is between requests.  That replaces a heap insert and a
 * heap delete per request.  With inflight = 1 (the default) the slot and
 * the send buffer live inside the conn, so a transaction touches fewer
 * cache lines.
 *
 * Bounded work: one recv() and at most frames_per_wakeup frames per
 * read event (the rest are fed back to the loop); every wait has a timer
 * (connect, request, backoff, throttle).  A peer that trickles bytes or
 * holds a half-open socket only ever costs its own devices timeouts, and
 * after stall_timeouts timeouts in a row without a whole frame its conn is
 * closed and reconnected with backoff.
 *
 * Why one file of about 1,500 lines: host, conn and dev are one state
 * machine seen from three sides.  A read event completes a device's
 * request, which frees a slot, which pumps the conn's FIFO, which may fail
 * the conn, which fails every device on it; each step must see the
 * others' invariants (a device in at most one of FIFO and slot, the stale
 * tid ring, conn->gen across callbacks).  Split by object, those
 * invariants would be spread over private headers three modules include.
 * What is separable is separate: framing (mbap), read planning (mbplan),
 * point decoding (mbdecode), name lookups off the loop (mbresolve).
 */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "daemon/log.h"
#include "daemon/mem.h"
#include "drivers/modbus/mbap.h"
#include "drivers/modbus/mbclient.h"
#include "drivers/modbus/mbresolve.h"

#define STALE_MAX	16	/* timed-out tids remembered per conn */
#define RBUF_SIZE	(2 * MBAP_ADU_MAX)

enum conn_state { C_IDLE, C_THROTTLED, C_CONNECTING, C_UP, C_BACKOFF };
enum brk_state { BRK_CLOSED, BRK_OPEN, BRK_HALF };

struct mbc;
struct mbc_dev;

struct mbc_slot {
	struct mbc_dev	*dev;		/* NULL: free */
	uint16_t	 tid;
};

struct mbc_host {
	struct mbc_host	*next;		/* hash chain */
	char		*key;		/* "addr:port", numeric */
	struct sockaddr_storage addr;
	socklen_t	 alen;
	struct mbc_conn	**conns;	/* connections_per_host */
	uint32_t	 ndev;		/* devices assigned, for round robin */
	double		 tokens;	/* connect bucket */
	ev_tstamp	 refilled;	/* when tokens was last brought up */
};

struct mbc_conn {
	struct mbc	*cl;
	struct mbc_host	*host;
	int		 fd;		/* -1 unless CONNECTING or UP */
	enum conn_state	 state;
	ev_io		 rio, wio;
	ev_timer	 timer;		/* connect timeout, backoff, throttle */
	uint16_t	 next_tid;
	uint16_t	 nused;		/* busy slots */
	struct mbc_slot	*slots;		/* cfg.inflight of them (slot1 if 1) */
	uint16_t	 stale[STALE_MAX]; /* ring of timed-out tids */
	uint8_t		 nstale;
	uint8_t		 stale_head;	/* next write position */
	uint32_t	 attempts;	/* failures since the last good frame */
	uint32_t	 stall;		/* timeouts since the last whole frame */
	uint32_t	 nlive;		/* devices on it not retired */
	uint32_t	 gen;		/* bumped per close: a callback run from
					   a frame may have reset the conn */
	int		 last_err;	/* -errno of the last failure */
	struct mbc_dev	*wait_head, *wait_tail; /* devices waiting to send */
	size_t		 rlen;
	size_t		 wlen;		/* unsent bytes in wbuf */
	uint8_t		*wbuf;		/* inflight * MBAP_REQ_MAX bytes (wbuf1
					   if inflight is 1) */
	struct mbc_slot	 slot1;		/* slots when inflight is 1 */
	uint8_t		 rbuf[RBUF_SIZE];
	uint8_t		 wbuf1[MBAP_REQ_MAX]; /* wbuf when inflight is 1 */
};

struct mbc_dev {
	struct mbc	*cl;
	struct mbc_conn	*conn;
	struct mbc_dev	*wait_next;	/* conn FIFO link */
	ev_timer	 poll;		/* periodic, phase then interval */
	ev_timer	 rto;		/* request timeout: runs while a poll or
					   write is under way, due at or
					   before rto_at */
	ev_tstamp	 rto_at;	/* deadline of the request in flight */
	struct mbplan	 plan;
	uint8_t		*data;		/* plan.data_bytes */
	size_t		 dcap;		/* bytes data can hold */
	uint8_t		*bexc;		/* per block exception code */
	size_t		 bcap;		/* blocks bexc can hold */
	uint32_t	 index;		/* caller's id */
	uint32_t	 interval_ms;
	uint32_t	 timeout_ms;
	uint8_t		 unit;
	uint8_t		 busy;		/* a poll is under way */
	uint8_t		 queued;	/* in the conn FIFO */
	uint8_t		 exc_first;	/* first exception of this poll */
	uint8_t		 brk;		/* enum brk_state */
	int16_t		 slot;		/* in-flight slot or -1 */
	size_t		 cur;		/* block being read */
	uint32_t	 polls;		/* polls started; the one under way is
					   number polls - 1 (from 0), which
					   says which poll classes are due */
	uint32_t	 brk_fail;	/* timeouts in a row */
	uint32_t	 brk_open_ms;	/* current open period */
	ev_tstamp	 brk_until;	/* open until */
	ev_tstamp	 started;	/* poll start (loop time) */
	double		 sent_at;	/* ev_time() the request left */
	double		 rtt_sum;	/* seconds over nrtt answers */
	uint32_t	 nrtt;
	/* an operator's write: pending, then under way instead of a poll */
	uint8_t		 retired;	/* retire_device: never polled again */
	uint8_t		 wr_pending;	/* queued, waits for the poll to end */
	uint8_t		 wr_active;	/* busy with the request, not a poll */
	uint8_t		 wr_sent;	/* it was put on the wire */
	uint8_t		 poll_owed;	/* the poll timer fired meanwhile */
	struct mbap_req	 wr;		/* its request; values in wr_regs/bits */
	/* a host name that did not resolve: conn is NULL until it does */
	char		*hostname;	/* owned; NULL once resolved */
	uint16_t	 port;		/* its TCP port */
	uint8_t		 resolving;	/* a lookup is under way */
	uint32_t	 pos;		/* index in cl->devs: the lookup's id */
	uint32_t	 res_attempts;	/* lookups that failed, add's included */
	ev_tstamp	 res_at;	/* next lookup no sooner than this */
	uint16_t	*wr_regs;	/* owned copy of the values */
	uint8_t		*wr_bits;
	mbclient_request_cb	 wr_cb;
	void		*wr_arg;
};

struct mbc {
	struct mbclient	 base;		/* first: ops table */
	struct ev_loop	*loop;
	struct mbclient_config cfg;
	mbclient_result_cb	 cb;
	void		*arg;
	struct mbc_dev	**devs;
	size_t		 ndevs, devcap;
	struct mbc_host	**buckets;	/* host hash */
	size_t		 nbuckets, nhosts;
	size_t		 nconns;
	int		 running;
	double		 tokens;	/* global connect bucket */
	ev_tstamp	 refilled;
	uint64_t	 rng;		/* xorshift64 state, jitter */
	struct mbresolve *resolver;	/* names that failed at add_device */
	struct mbclient_counters ctr;
};

static void conn_fail(struct mbc_conn *cn, int err, enum mbclient_status st);
static void conn_pump(struct mbc_conn *cn);
static void conn_connect(struct mbc_conn *cn);
static void dev_finish(struct mbc_dev *d, enum mbclient_status st, int err);
static void dev_resolved(void *arg, uint32_t id, int err,
	    const struct sockaddr *sa, socklen_t len);

/* The first block from b on that this poll reads, or nblocks. */
static size_t
dev_due(const struct mbc_dev *d, size_t b)
{
	while (b < d->plan.nblocks &&
	    !mbplan_due(&d->plan, b, d->polls - 1))
		b++;
	return b;
}

/*
 * The one table of the client's settings: YAML key, field, range, default
 * and meaning.  The config loader, mbclient_config_defaults(),
 * mbclient_config_check() and docs/configuration.md all come from it.
 * Ranges are what the protocol allows (125 registers, 2000 bits per read)
 * or what keeps a typo from hurting a plant or the daemon.
 */
#define SET(key, kind, field, min, max, def, doc)			\
	{ key, SETTING_##kind, offsetof(struct mbclient_config, field),	\
	  min, max, def, doc }
#define S	1000u		/* ms */
const struct setting mbclient_settings[] = {
	SET("port", COUNT, port, 1, 65535, 502, "TCP port"),
	SET("unit", COUNT, unit, 0, 255, 1, "unit id"),
	SET("timeout", MS, timeout_ms, 10, 60 * S, 1 * S,
	    "per request; must not exceed `interval`"),
	SET("interval", MS, interval_ms, 100, 3600 * S, 5 * S, "poll period"),
	SET("max_registers", COUNT, max_registers, 1, 125, 125,
	    "registers per read (protocol limit 125)"),
	SET("max_bits", COUNT, max_bits, 1, 2000, 2000,
	    "coils/inputs per read (protocol limit 2000)"),
	SET("max_gap", COUNT, max_gap, 0, 124, 8,
	    "unread registers a merged read may span"),
	SET("inflight", COUNT, inflight, 1, 16, 1,
	    "requests in flight per connection (many gateways take one)"),
	SET("backoff_min", MS, backoff_min_ms, 10, 3600 * S, 1 * S,
	    "first reconnect (and host name lookup) delay; doubles per "
	    "failure, with jitter"),
	SET("backoff_max", MS, backoff_max_ms, 10, 86400 * S, 60 * S,
	    "longest reconnect delay"),
	SET("connections_per_host", COUNT, connections_per_host, 1, 16, 1,
	    "shared by all unit ids behind the host"),
	SET("connect_rate", COUNT, connect_rate, 1, 1000000, 500,
	    "new connections per second, all hosts"),
	SET("connect_rate_per_host", COUNT, connect_rate_per_host, 1, 1000, 2,
	    "new connections per second to one host"),
	SET("breaker_failures", COUNT, breaker_failures, 1, 1000, 3,
	    "timeouts in a row that trip a unit's circuit breaker"),
	SET("breaker_cooldown", MS, breaker_cooldown_ms, 100, 86400 * S,
	    30 * S, "how long a tripped unit rests (doubles per failed probe)"),
	SET("connect_timeout", MS, connect_timeout_ms, 100, 60 * S, 3 * S,
	    "a TCP connect gives up after this"),
	SET("timer_slack", MS, timer_slack_ms, 0, 100, 5,
	    "poll timers due this close together fire in one loop wakeup "
	    "(fewer wakeups, at most this much poll-start jitter; 0 = exact)"),
	SET("stall_timeouts", COUNT, stall_timeouts, 1, 100, 3,
	    "request timeouts in a row with no frame received that close a "
	    "connection (half-open or trickling peer)"),
	SET("frames_per_wakeup", COUNT, frames_per_wakeup, 1, 1024, 16,
	    "frames parsed per read event, so one busy socket cannot starve "
	    "the others"),
	SET("connect_burst_per_host", COUNT, connect_burst_per_host, 1, 1000,
	    4, "connects one host may get at once (its rate is "
	    "`connect_rate_per_host`)"),
	{ NULL, 0, 0, 0, 0, 0, NULL }
};
#undef S
#undef SET

void
mbclient_config_defaults(struct mbclient_config *c)
{
	memset(c, 0, sizeof(*c));
	setting_defaults(mbclient_settings, c);
	/* a cold start may connect one second's worth at once */
	c->connect_burst = c->connect_rate;
}

int
mbclient_config_check(const struct mbclient_config *c, const char *prefix,
    setting_report_cb report, void *arg)
{
	int rc = setting_check(mbclient_settings, c, prefix, report, arg);

	if (c->backoff_min_ms > c->backoff_max_ms) {
		setting_report(report, arg, prefix, "backoff_min", "above "
		    "%sbackoff_max", prefix);
		rc = -EINVAL;
	}
	if (c->timeout_ms > c->interval_ms) {
		setting_report(report, arg, prefix, "timeout", "longer than "
		    "%sinterval: a poll would overlap the next one", prefix);
		rc = -EINVAL;
	}
	return rc;
}

const char *
mbclient_status_name(enum mbclient_status s)
{
	static const char *const names[MBCLIENT__STATUS_COUNT] = {
		"ok", "exception", "timeout", "connect", "closed",
		"protocol", "breaker_open",
	};

	return (unsigned)s < MBCLIENT__STATUS_COUNT ? names[s] : "unknown";
}

int
mbclient_result_read(const struct mbclient_result *r, size_t b)
{
	return r->data != NULL && b < r->plan->nblocks &&
	    r->block_exc[b] == 0 && mbplan_due(r->plan, b, r->seq);
}

/* The data of block b of a result and its size, or NULL when it has none. */
static const uint8_t *
result_block(const struct mbclient_result *r, size_t b, size_t *nbytes)
{
	const struct mbplan_block *bl;

	if (r->data == NULL || b >= r->plan->nblocks)
		return NULL;
	bl = &r->plan->blocks[b];
	*nbytes = bl->nbytes;
	return r->data + bl->data_off;
}

uint16_t
mbclient_result_reg(const struct mbclient_result *r, size_t b, unsigned i)
{
	size_t n;
	const uint8_t *d = result_block(r, b, &n);

	if (d == NULL || 2u * i + 1 >= n)
		return 0;
	return (uint16_t)(d[2 * i] << 8 | d[2 * i + 1]);
}

int
mbclient_result_bit(const struct mbclient_result *r, size_t b, unsigned i)
{
	size_t n;
	const uint8_t *d = result_block(r, b, &n);

	if (d == NULL || i / 8 >= n)
		return 0;
	return (d[i / 8] >> (i % 8)) & 1;
}

/* --- small helpers --------------------------------------------------- */

static uint64_t
rng_next(struct mbc *cl)
{
	uint64_t x = cl->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return cl->rng = x;
}

/* Exponential backoff with "equal jitter": half fixed, half random. */
static double
backoff_s(struct mbc *cl, uint32_t attempts)
{
	double d = cl->cfg.backoff_min_ms;

	for (uint32_t i = 0; i < attempts && d < cl->cfg.backoff_max_ms; i++)
		d *= 2;
	if (d > cl->cfg.backoff_max_ms)
		d = cl->cfg.backoff_max_ms;
	d = d / 2 + (double)(rng_next(cl) % 1000000) / 1e6 * d / 2;
	return d / 1000.0;
}

static void
bucket_refill(double *tokens, ev_tstamp *at, double rate, double burst,
    ev_tstamp now)
{
	*tokens += (now - *at) * rate;
	if (*tokens > burst)
		*tokens = burst;
	*at = now;
}

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 1099511628211ULL;
	return h;
}

/* --- devices: queue and completion ------------------------------------ */

static void
wait_push(struct mbc_conn *cn, struct mbc_dev *d)
{
	d->wait_next = NULL;
	if (cn->wait_tail)
		cn->wait_tail->wait_next = d;
	else
		cn->wait_head = d;
	cn->wait_tail = d;
	d->queued = 1;
}

static struct mbc_dev *
wait_pop(struct mbc_conn *cn)
{
	struct mbc_dev *d = cn->wait_head;

	if (d == NULL)
		return NULL;
	cn->wait_head = d->wait_next;
	if (cn->wait_head == NULL)
		cn->wait_tail = NULL;
	d->wait_next = NULL;
	d->queued = 0;
	return d;
}

static void
wait_remove(struct mbc_conn *cn, struct mbc_dev *d)
{
	struct mbc_dev **pp, *prev = NULL;

	for (pp = &cn->wait_head; *pp; prev = *pp, pp = &(*pp)->wait_next) {
		if (*pp != d)
			continue;
		*pp = d->wait_next;
		if (cn->wait_tail == d)
			cn->wait_tail = prev;
		d->wait_next = NULL;
		d->queued = 0;
		return;
	}
}

static void
stale_add(struct mbc_conn *cn, uint16_t tid)
{
	cn->stale[cn->stale_head] = tid;
	cn->stale_head = (uint8_t)((cn->stale_head + 1) % STALE_MAX);
	if (cn->nstale < STALE_MAX)
		cn->nstale++;
}

/* Position of tid in the stale ring (newest first), or -1. */
static int
stale_find(const struct mbc_conn *cn, uint16_t tid)
{
	for (unsigned i = 0; i < cn->nstale; i++) {
		unsigned at = (cn->stale_head + STALE_MAX - 1 - i) % STALE_MAX;

		if (cn->stale[at] == tid)
			return (int)at;
	}
	return -1;
}

/* Removes tid from the stale ring; 1 if it was there. */
static int
stale_take(struct mbc_conn *cn, uint16_t tid)
{
	int at = stale_find(cn, tid);

	if (at < 0)
		return 0;
	/* Move the oldest entry into the hole; the window shrinks from
	 * its old end. */
	cn->stale[at] = cn->stale[(cn->stale_head + STALE_MAX - cn->nstale) %
	    STALE_MAX];
	cn->nstale--;
	return 1;
}

static int
tid_in_use(const struct mbc_conn *cn, uint16_t tid)
{
	for (unsigned i = 0; i < cn->cl->cfg.inflight; i++)
		if (cn->slots[i].dev && cn->slots[i].tid == tid)
			return 1;
	return stale_find(cn, tid) >= 0;
}

/* Frees the device's in-flight slot, remembering its tid as stale. */
static void
slot_release(struct mbc_dev *d, int stale)
{
	struct mbc_conn *cn = d->conn;

	if (d->slot < 0)
		return;
	if (stale)
		stale_add(cn, cn->slots[d->slot].tid);
	cn->slots[d->slot].dev = NULL;
	cn->nused--;
	d->slot = -1;
	/* The request timer keeps running until the poll ends: the next
	 * request only moves its deadline (dev_send). */
}

static void dev_enqueue(struct mbc_dev *d);
static void dev_poll_begin(struct mbc_dev *d);

static int
fc_is_write(uint8_t fc)
{
	return fc == MBAP_FC_WRITE_COIL || fc == MBAP_FC_WRITE_REGISTER ||
	    fc == MBAP_FC_WRITE_COILS || fc == MBAP_FC_WRITE_REGISTERS;
}

/*
 * Ends the request under way and tells its caller; resp is the answer
 * (NULL unless one came).  A poll owed meanwhile starts after the
 * callback.
 */
static void
write_finish(struct mbc_dev *d, enum mbclient_status st,
    const struct mbap_resp *resp)
{
	struct mbc *cl = d->cl;
	mbclient_request_cb cb = d->wr_cb;
	void *arg = d->wr_arg;
	struct mbclient_reply r;

	memset(&r, 0, sizeof(r));
	r.device = d->index;
	r.status = st;
	r.sent = d->wr_sent;
	if (resp != NULL) {
		r.exception = resp->exception;
		r.data = resp->data;
		r.ndata = resp->ndata;
		r.rtt_us = d->nrtt ? (uint32_t)(d->rtt_sum / d->nrtt * 1e6) : 0;
	}
	if (fc_is_write(d->wr.fc)) {
		if (st == MBCLIENT_OK)
			cl->ctr.writes_ok++;
		else
			cl->ctr.writes_failed++;
	}
	d->wr_active = 0;
	d->wr_sent = 0;
	d->busy = 0;
	ev_timer_stop(cl->loop, &d->rto);
	/* before the callback, which may queue the device's next request */
	FREE_NULL(d->wr_regs);
	FREE_NULL(d->wr_bits);
	d->wr.regs = NULL;
	d->wr.bits = NULL;
	cb(&r, arg);
	if (d->poll_owed && !d->busy && cl->running) {
		d->poll_owed = 0;
		dev_poll_begin(d);
	}
}

/* Starts a pending write if the device is idle. */
static void
write_kick(struct mbc_dev *d)
{
	if (!d->wr_pending || d->busy)
		return;
	d->wr_pending = 0;
	d->wr_active = 1;
	d->busy = 1;
	d->nrtt = 0;
	d->rtt_sum = 0;
	dev_enqueue(d);
}

static void
dev_finish(struct mbc_dev *d, enum mbclient_status st, int err)
{
	struct mbc *cl = d->cl;
	struct mbclient_result r;

	if (d->queued)
		wait_remove(d->conn, d);
	slot_release(d, 1);
	ev_timer_stop(cl->loop, &d->rto);
	d->busy = 0;
	if (d->wr_active) {
		write_finish(d, st, NULL);
		return;
	}

	memset(&r, 0, sizeof(r));
	r.device = d->index;
	r.status = st;
	r.err = err;
	r.exception = d->exc_first;
	r.started_ms = (int64_t)(d->started * 1000.0);
	r.rtt_us = d->nrtt ? (uint32_t)(d->rtt_sum / d->nrtt * 1e6) : 0;
	r.plan = &d->plan;
	r.seq = d->polls - 1;
	if (st == MBCLIENT_OK || st == MBCLIENT_EXCEPTION) {
		r.data = d->data;
		r.block_exc = d->bexc;
		cl->ctr.polls_ok += st == MBCLIENT_OK;
		cl->ctr.polls_failed += st != MBCLIENT_OK;
	} else {
		cl->ctr.polls_failed++;
	}
	cl->cb(&r, cl->arg);
	write_kick(d);
}

/* The device's breaker after one request outcome (polls only). */
static void
brk_outcome(struct mbc_dev *d, int answered)
{
	struct mbc *cl = d->cl;

	if (d->wr_active)
		return;

	if (answered) {
		d->brk_fail = 0;
		if (d->brk != BRK_CLOSED) {
			d->brk = BRK_CLOSED;
			d->brk_open_ms = cl->cfg.breaker_cooldown_ms;
			cl->ctr.breaker_closed++;
		}
		return;
	}
	d->brk_fail++;
	if (d->brk == BRK_HALF) {
		/* The probe failed: open again, for longer. */
		d->brk_open_ms = d->brk_open_ms * 2 > cl->cfg.backoff_max_ms ?
		    (cl->cfg.backoff_max_ms > cl->cfg.breaker_cooldown_ms ?
		    cl->cfg.backoff_max_ms : cl->cfg.breaker_cooldown_ms) :
		    d->brk_open_ms * 2;
	} else if (cl->cfg.breaker_failures == 0 ||
	    d->brk_fail < cl->cfg.breaker_failures)
		return;
	d->brk = BRK_OPEN;
	d->brk_until = ev_now(cl->loop) + d->brk_open_ms / 1000.0;
	cl->ctr.breaker_opened++;
}

/* --- sending ---------------------------------------------------------- */

static void
conn_flush(struct mbc_conn *cn)
{
	struct mbc *cl = cn->cl;
	ssize_t n;

	while (cn->wlen > 0) {
		n = send(cn->fd, cn->wbuf, cn->wlen, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			conn_fail(cn, -errno, MBCLIENT_CLOSED);
			return;
		}
		cl->ctr.bytes_tx += (uint64_t)n;
		memmove(cn->wbuf, cn->wbuf + n, cn->wlen - (size_t)n);
		cn->wlen -= (size_t)n;
	}
	/* The write watcher runs only while bytes wait: EAGAIN is rare, so
	 * the common flush makes no libev call at all. */
	if (cn->wlen > 0)
		ev_io_start(cl->loop, &cn->wio);
	else if (ev_is_active(&cn->wio))
		ev_io_stop(cl->loop, &cn->wio);
}

/*
 * The request device d has under way as transaction tid: its operator
 * write, or the read of its current block.  The sender encodes it and the
 * receiver checks the answer against it, so both see the same request.
 */
static inline void
dev_request(const struct mbc_dev *d, uint16_t tid, struct mbap_req *q)
{
	if (d->wr_active) {
		*q = d->wr;
	} else {
		const struct mbplan_block *b = &d->plan.blocks[d->cur];

		q->fc = b->fc;
		q->addr = b->addr;
		q->count = b->count;
		q->regs = NULL;
		q->bits = NULL;
	}
	q->tid = tid;
	q->unit = d->unit;
}

static void
dev_send(struct mbc_conn *cn, struct mbc_dev *d)
{
	struct mbc *cl = cn->cl;
	struct mbap_req q;
	uint16_t tid;
	unsigned s;
	int n;

	for (s = 0; cn->slots[s].dev != NULL; s++)
		;
	do
		tid = cn->next_tid++;
	while (tid_in_use(cn, tid));
	dev_request(d, tid, &q);
	n = mbap_encode(&q, cn->wbuf + cn->wlen,
	    (size_t)cl->cfg.inflight * MBAP_REQ_MAX - cn->wlen);
	if (n >= 0 && d->wr_active) {
		d->wr_sent = 1;
		if (fc_is_write(d->wr.fc))
			cl->ctr.writes++;
	}
	if (n < 0) {
		/* A plan block the protocol cannot carry: a bug in the
		 * profile (e.g. a point past 65535); fail this poll. */
		log_warnx("modbus device=%u block=%zu encode err=%d", d->index,
		    d->cur, n);
		dev_finish(d, MBCLIENT_PROTOCOL, n);
		return;
	}
	cn->wlen += (size_t)n;
	cn->slots[s].dev = d;
	cn->slots[s].tid = q.tid;
	cn->nused++;
	d->slot = (int16_t)s;
	d->sent_at = ev_time();
	d->rto_at = ev_now(cl->loop) + d->timeout_ms / 1000.0;
	if (!ev_is_active(&d->rto)) {
		ev_timer_set(&d->rto, d->timeout_ms / 1000.0, 0.);
		ev_timer_start(cl->loop, &d->rto);
	}
	cl->ctr.requests++;
}

static void
conn_pump(struct mbc_conn *cn)
{
	struct mbc_dev *d;
	int any = 0;

	while (cn->state == C_UP && cn->nused < cn->cl->cfg.inflight &&
	    (d = wait_pop(cn)) != NULL) {
		dev_send(cn, d);
		any = 1;
	}
	if (any && cn->state == C_UP)
		conn_flush(cn);
}

static void dev_resolve(struct mbc_dev *d);

/* Puts a device's next block in line on its conn. */
static void
dev_enqueue(struct mbc_dev *d)
{
	struct mbc_conn *cn = d->conn;

	if (cn == NULL) {
		/* Its host name does not resolve (yet): the poll fails at
		 * once, and the name is tried again on its backoff. */
		dev_resolve(d);
		dev_finish(d, MBCLIENT_CONNECT, -EHOSTUNREACH);
		return;
	}
	switch (cn->state) {
	case C_BACKOFF:
		dev_finish(d, MBCLIENT_CONNECT, cn->last_err);
		return;
	case C_IDLE:
		wait_push(cn, d);
		conn_connect(cn);
		return;
	default:
		wait_push(cn, d);
		conn_pump(cn);
		return;
	}
}

/* --- receiving -------------------------------------------------------- */

static void
malformed(struct mbc *cl, int st)
{
	cl->ctr.malformed++;
	if (st < 0 && -st < (int)(sizeof(cl->ctr.malformed_by) /
	    sizeof(cl->ctr.malformed_by[0])))
		cl->ctr.malformed_by[-st]++;
}

/* One whole frame.  Returns 0, or -1 if the conn was reset. */
static int
conn_frame(struct mbc_conn *cn, const uint8_t *f, size_t flen)
{
	struct mbc *cl = cn->cl;
	struct mbc_dev *d = NULL;
	struct mbap_resp r;
	struct mbap_req q;
	uint16_t tid = mbap_tid(f);
	int rc;

	for (unsigned i = 0; i < cl->cfg.inflight; i++)
		if (cn->slots[i].dev && cn->slots[i].tid == tid) {
			d = cn->slots[i].dev;
			break;
		}
	if (d == NULL) {
		if (stale_take(cn, tid)) {
			cl->ctr.late_responses++;
			cn->stall = 0;
			return 0;
		}
		malformed(cl, MBAP_E_TID);
		conn_fail(cn, -EPROTO, MBCLIENT_PROTOCOL);
		return -1;
	}
	dev_request(d, tid, &q);
	rc = mbap_check(&q, f, flen, &r);
	if (rc != MBAP_OK) {
		malformed(cl, rc);
		log_warnx("modbus host=%s device=%u malformed=%s",
		    cn->host->key, d->index, mbap_status_name(rc));
		conn_fail(cn, -EPROTO, MBCLIENT_PROTOCOL);
		return -1;
	}
	cl->ctr.responses++;
	cn->stall = 0;
	cn->attempts = 0;
	d->rtt_sum += ev_time() - d->sent_at;
	d->nrtt++;
	slot_release(d, 0);
	brk_outcome(d, 1);
	if (d->wr_active) {
		if (r.exception) {
			cl->ctr.exceptions++;
			cl->ctr.exception_code[r.exception <= 11 ?
			    r.exception : 0]++;
		}
		write_finish(d, r.exception ? MBCLIENT_EXCEPTION : MBCLIENT_OK,
		    &r);
		return 0;
	}
	if (r.exception) {
		cl->ctr.exceptions++;
		cl->ctr.exception_code[r.exception <= 11 ? r.exception : 0]++;
		if ((r.exception == 2 || r.exception == 3) &&
		    mbplan_split(&d->plan, d->cur) == 0) {
			cl->ctr.splits++;
			if (d->plan.nblocks > d->bcap) {
				d->bcap = d->plan.cap;
				d->bexc = xrealloc(d->bexc, d->bcap);
			}
			memmove(d->bexc + d->cur + 1, d->bexc + d->cur,
			    d->plan.nblocks - d->cur - 1);
			d->bexc[d->cur] = 0;
			/* Halves can overlap by a register or a byte of
			 * bits when points share an address. */
			if (d->plan.data_bytes > d->dcap) {
				d->dcap = d->plan.data_bytes;
				d->data = xrealloc(d->data, d->dcap);
			}
			wait_push(cn, d);	/* retry the first half */
			return 0;
		}
		d->bexc[d->cur] = r.exception;
		if (d->exc_first == 0)
			d->exc_first = r.exception;
	} else {
		memcpy(d->data + d->plan.blocks[d->cur].data_off, r.data,
		    r.ndata);
	}
	if ((d->cur = dev_due(d, d->cur + 1)) == d->plan.nblocks) {
		dev_finish(d, d->exc_first ? MBCLIENT_EXCEPTION : MBCLIENT_OK, 0);
		return 0;
	}
	wait_push(cn, d);
	return 0;
}

static void
conn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mbc_conn *cn = container_of(w, struct mbc_conn, rio);
	struct mbc *cl = cn->cl;
	size_t flen, off = 0;
	unsigned frames = 0;
	uint32_t gen = cn->gen;
	ssize_t n;
	int rc;

	if (cn->rlen < sizeof(cn->rbuf)) {
		n = recv(cn->fd, cn->rbuf + cn->rlen,
		    sizeof(cn->rbuf) - cn->rlen, 0);
		if (n == 0) {
			cl->ctr.peer_closed++;
			conn_fail(cn, -ECONNRESET, MBCLIENT_CLOSED);
			return;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR) {
			if (errno == ECONNRESET)
				cl->ctr.peer_closed++;
			conn_fail(cn, -errno, MBCLIENT_CLOSED);
			return;
		}
		if (n > 0) {
			cn->rlen += (size_t)n;
			cl->ctr.bytes_rx += (uint64_t)n;
		}
	}
	for (;;) {
		if (frames == cl->cfg.frames_per_wakeup) {
			/* More may be buffered: come back next iteration,
			 * after the other watchers had their turn. */
			if (mbap_frame(cn->rbuf + off, cn->rlen - off,
			    &flen) == MBAP_OK) {
				cl->ctr.wakeup_capped++;
				ev_feed_event(loop, &cn->rio, EV_READ);
			}
			break;
		}
		rc = mbap_frame(cn->rbuf + off, cn->rlen - off, &flen);
		if (rc == MBAP_MORE)
			break;
		if (rc != MBAP_OK) {
			malformed(cl, rc);
			log_warnx("modbus host=%s malformed=%s", cn->host->key,
			    mbap_status_name(rc));
			conn_fail(cn, -EPROTO, MBCLIENT_PROTOCOL);
			return;
		}
		if (conn_frame(cn, cn->rbuf + off, flen) < 0 ||
		    cn->gen != gen)
			return;
		off += flen;
		frames++;
	}
	if (off > 0) {
		memmove(cn->rbuf, cn->rbuf + off, cn->rlen - off);
		cn->rlen -= off;
	}
	conn_pump(cn);
}

/* --- connection life -------------------------------------------------- */

static void
conn_close(struct mbc_conn *cn)
{
	struct ev_loop *loop = cn->cl->loop;

	ev_io_stop(loop, &cn->rio);
	ev_io_stop(loop, &cn->wio);
	ev_timer_stop(loop, &cn->timer);
	if (cn->fd >= 0) {
		close(cn->fd);
		cn->fd = -1;
	}
	cn->gen++;
	cn->rlen = cn->wlen = 0;
	cn->nstale = cn->stale_head = 0;
	cn->stall = 0;
}

static void
conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mbc_conn *cn = container_of(w, struct mbc_conn, timer);

	switch (cn->state) {
	case C_CONNECTING:
		conn_fail(cn, -ETIMEDOUT, MBCLIENT_CONNECT);
		break;
	case C_THROTTLED:
		cn->state = C_IDLE;
		conn_connect(cn);
		break;
	case C_BACKOFF:
		cn->state = C_IDLE;
		if (cn->wait_head)
			conn_connect(cn);
		break;
	default:
		break;
	}
}

static void
conn_fail(struct mbc_conn *cn, int err, enum mbclient_status st)
{
	struct mbc *cl = cn->cl;
	struct mbc_dev *d;
	int was_up = cn->state == C_UP;

	if (was_up)
		cl->ctr.disconnects++;
	else
		cl->ctr.connect_failed++;
	if (cn->attempts == 0)
		log_warnx("modbus host=%s %s err=\"%s\"", cn->host->key,
		    was_up ? "connection lost" : "connect failed",
		    strerror(-err));
	conn_close(cn);
	cn->last_err = err;
	cn->state = C_BACKOFF;
	ev_timer_set(&cn->timer, backoff_s(cl, cn->attempts), 0.);
	ev_timer_start(cl->loop, &cn->timer);
	cn->attempts++;
	/* Fail everything that was waiting on this connection. */
	for (unsigned i = 0; i < cl->cfg.inflight; i++)
		if ((d = cn->slots[i].dev) != NULL) {
			slot_release(d, 0);
			dev_finish(d, st, err);
		}
	while ((d = wait_pop(cn)) != NULL)
		dev_finish(d, was_up ? st : MBCLIENT_CONNECT, err);
}

static void
conn_up(struct mbc_conn *cn)
{
	struct mbc *cl = cn->cl;

	cn->state = C_UP;
	ev_timer_stop(cl->loop, &cn->timer);
	ev_io_stop(cl->loop, &cn->wio);
	ev_io_set(&cn->rio, cn->fd, EV_READ);
	ev_io_set(&cn->wio, cn->fd, EV_WRITE);
	ev_io_start(cl->loop, &cn->rio);
	cl->ctr.connected++;
	conn_pump(cn);
}

static void
conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mbc_conn *cn = container_of(w, struct mbc_conn, wio);
	int err = 0;
	socklen_t len = sizeof(err);

	if (cn->state == C_CONNECTING) {
		if (getsockopt(cn->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err != 0) {
			conn_fail(cn, -err, MBCLIENT_CONNECT);
			return;
		}
		conn_up(cn);
		return;
	}
	conn_flush(cn);
}

static void
conn_connect(struct mbc_conn *cn)
{
	struct mbc *cl = cn->cl;
	struct mbc_host *h = cn->host;
	ev_tstamp now = ev_now(cl->loop), wait = 0;
	int fd, one = 1;

	if (cn->state != C_IDLE)
		return;
	bucket_refill(&cl->tokens, &cl->refilled, cl->cfg.connect_rate,
	    cl->cfg.connect_burst, now);
	bucket_refill(&h->tokens, &h->refilled, cl->cfg.connect_rate_per_host,
	    cl->cfg.connect_burst_per_host, now);
	if (cl->tokens < 1 && cl->cfg.connect_rate > 0)
		wait = (1 - cl->tokens) / cl->cfg.connect_rate;
	if (h->tokens < 1 && cl->cfg.connect_rate_per_host > 0 &&
	    (1 - h->tokens) / cl->cfg.connect_rate_per_host > wait)
		wait = (1 - h->tokens) / cl->cfg.connect_rate_per_host;
	if (wait > 0) {
		cl->ctr.connect_throttled++;
		cn->state = C_THROTTLED;
		ev_timer_set(&cn->timer, wait + 0.001, 0.);
		ev_timer_start(cl->loop, &cn->timer);
		return;
	}
	cl->tokens -= 1;
	h->tokens -= 1;
	cl->ctr.connects++;
	fd = socket(h->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		cn->state = C_CONNECTING;
		conn_fail(cn, -errno, MBCLIENT_CONNECT);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	cn->fd = fd;
	cn->state = C_CONNECTING;
	if (connect(fd, (struct sockaddr *)&h->addr, h->alen) == 0) {
		conn_up(cn);
		return;
	}
	if (errno != EINPROGRESS) {
		conn_fail(cn, -errno, MBCLIENT_CONNECT);
		return;
	}
	ev_io_set(&cn->wio, fd, EV_WRITE);
	ev_io_start(cl->loop, &cn->wio);
	ev_timer_set(&cn->timer, cl->cfg.connect_timeout_ms / 1000.0, 0.);
	ev_timer_start(cl->loop, &cn->timer);
}

/* --- timers ----------------------------------------------------------- */

static void
dev_rto_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mbc_dev *d = container_of(w, struct mbc_dev, rto);
	struct mbc_conn *cn = d->conn;
	struct mbc *cl = d->cl;
	ev_tstamp left = d->rto_at - ev_now(loop);

	if (d->slot < 0)
		return;		/* between two requests of a poll */
	if (left > 1e-6) {
		/* Started for an earlier request of this poll: wait for the
		 * rest of this one's time. */
		ev_timer_set(w, left, 0.);
		ev_timer_start(loop, w);
		return;
	}
	cl->ctr.timeouts++;
	slot_release(d, 1);
	brk_outcome(d, 0);
	dev_finish(d, MBCLIENT_TIMEOUT, -ETIMEDOUT);
	if (cn->state == C_UP && cl->cfg.stall_timeouts > 0 &&
	    ++cn->stall >= cl->cfg.stall_timeouts) {
		/* Nothing whole came back for a while: half-open or
		 * trickling.  Start over on a fresh socket. */
		cl->ctr.stalled_closed++;
		conn_fail(cn, -ETIMEDOUT, MBCLIENT_CLOSED);
		return;
	}
	conn_pump(cn);
}

static void
dev_poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mbc_dev *d = container_of(w, struct mbc_dev, poll);
	struct mbc *cl = d->cl;

	if (w->repeat != d->interval_ms / 1000.0) {
		/* First shot was the phase; from now on, the interval. */
		w->repeat = d->interval_ms / 1000.0;
		ev_timer_again(loop, w);
	}
	if (d->busy && d->wr_active) {
		/* An operator's request holds the device: poll right after
		 * it, not a whole interval late. */
		if (!d->poll_owed)
			cl->ctr.polls_deferred++;
		d->poll_owed = 1;
		return;
	}
	if (d->busy) {
		cl->ctr.polls_overrun++;
		return;
	}
	dev_poll_begin(d);
}

/* Starts a poll of d, which is idle. */
static void
dev_poll_begin(struct mbc_dev *d)
{
	struct mbc *cl = d->cl;
	struct ev_loop *loop = cl->loop;

	cl->ctr.polls++;
	d->busy = 1;
	d->polls++;
	d->cur = dev_due(d, 0);
	d->exc_first = 0;
	d->rtt_sum = 0;
	d->nrtt = 0;
	d->started = ev_now(loop);
	memset(d->bexc, 0, d->bcap);
	if (d->brk == BRK_OPEN) {
		if (ev_now(loop) < d->brk_until) {
			cl->ctr.polls_skipped_breaker++;
			dev_finish(d, MBCLIENT_BREAKER, 0);
			return;
		}
		d->brk = BRK_HALF;	/* this poll is the probe */
	}
	if (d->cur == d->plan.nblocks) {
		/* Nothing due on this poll (no points, or only slow ones). */
		dev_finish(d, MBCLIENT_OK, 0);
		return;
	}
	dev_enqueue(d);
}

/* Starts device k's poll timer: first after its phase, then periodic. */
static void
dev_arm(struct mbc *cl, struct mbc_dev *d, size_t k)
{
	/* Golden-ratio spread: any number of devices lands evenly over
	 * the interval without knowing the total in advance. */
	double frac = fmod((double)k * 0.6180339887498949, 1.0);
	double phase = frac * d->interval_ms / 1000.0;

	if (phase < 0.001)
		phase = 0.001;
	d->poll.repeat = phase;
	ev_timer_again(cl->loop, &d->poll);
}

/* --- ops -------------------------------------------------------------- */

/*
 * The host of a resolved address and port: found by its numeric
 * "addr:port" key, or made (with its connections, idle) on first use.
 * NULL if the address has no numeric form.
 */
static struct mbc_host *
host_of(struct mbc *cl, const struct sockaddr *sa, socklen_t len,
    uint16_t port)
{
	char addr[NI_MAXHOST], key[NI_MAXHOST + 16];
	struct mbc_host *h;
	uint64_t hv;

	if (len > sizeof(h->addr) || getnameinfo(sa, len, addr, sizeof(addr),
	    NULL, 0, NI_NUMERICHOST) != 0)
		return NULL;
	snprintf(key, sizeof(key), "%s:%u", addr, port);
	hv = hash_str(key);
	for (h = cl->buckets[hv & (cl->nbuckets - 1)]; h; h = h->next)
		if (strcmp(h->key, key) == 0)
			return h;
	if (cl->nhosts >= cl->nbuckets) {
		/* Grow the table: rehash every chain. */
		size_t nb = cl->nbuckets * 2;
		struct mbc_host **nbk = xcalloc(nb, sizeof(*nbk)), *nx;

		for (size_t i = 0; i < cl->nbuckets; i++)
			for (h = cl->buckets[i]; h; h = nx) {
				nx = h->next;
				h->next = nbk[hash_str(h->key) & (nb - 1)];
				nbk[hash_str(h->key) & (nb - 1)] = h;
			}
		xfree(cl->buckets);
		cl->buckets = nbk;
		cl->nbuckets = nb;
	}
	h = xcalloc(1, sizeof(*h));
	h->key = xstrdup(key);
	memcpy(&h->addr, sa, len);
	h->alen = len;
	h->tokens = cl->cfg.connect_burst_per_host;
	h->refilled = ev_now(cl->loop);
	h->conns = xcalloc(cl->cfg.connections_per_host, sizeof(*h->conns));
	for (unsigned i = 0; i < cl->cfg.connections_per_host; i++) {
		struct mbc_conn *cn = xcalloc(1, sizeof(*cn));

		cn->cl = cl;
		cn->host = h;
		cn->fd = -1;
		cn->state = C_IDLE;
		cn->next_tid = (uint16_t)rng_next(cl);
		if (cl->cfg.inflight == 1) {
			cn->slots = &cn->slot1;
			cn->wbuf = cn->wbuf1;
		} else {
			cn->slots = xcalloc(cl->cfg.inflight,
			    sizeof(*cn->slots));
			cn->wbuf = xmalloc((size_t)cl->cfg.inflight *
			    MBAP_REQ_MAX);
		}
		ev_io_init(&cn->rio, conn_read_cb, -1, EV_READ);
		ev_io_init(&cn->wio, conn_write_cb, -1, EV_WRITE);
		ev_timer_init(&cn->timer, conn_timer_cb, 0., 0.);
		h->conns[i] = cn;
		cl->nconns++;
	}
	hv &= cl->nbuckets - 1;
	h->next = cl->buckets[hv];
	cl->buckets[hv] = h;
	cl->nhosts++;
	return h;
}

/*
 * Resolves host:port now.  Called by add_device only, before or between
 * loop iterations as the caller adds devices; a name that fails here is
 * never looked up on the loop again (mbresolve does it off the loop).
 */
static struct mbc_host *
host_get(struct mbc *cl, const char *host, uint16_t port)
{
	struct addrinfo hints, *res = NULL;
	struct mbc_host *h = NULL;
	char sport[8];

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(sport, sizeof(sport), "%u", port);
	if (getaddrinfo(host, sport, &hints, &res) == 0 && res != NULL)
		h = host_of(cl, res->ai_addr, res->ai_addrlen, port);
	if (res != NULL)
		freeaddrinfo(res);
	return h;
}

/* Gives device d a connection of host h (round robin over its conns). */
static void
dev_attach(struct mbc_dev *d, struct mbc_host *h)
{
	d->conn = h->conns[h->ndev++ % d->cl->cfg.connections_per_host];
	d->conn->nlive++;
}

/* Asks for d's host name again if its backoff has passed. */
static void
dev_resolve(struct mbc_dev *d)
{
	struct mbc *cl = d->cl;

	if (d->resolving || ev_now(cl->loop) < d->res_at)
		return;
	if (cl->resolver == NULL)
		cl->resolver = mbresolve_new(cl->loop, dev_resolved, cl);
	if (mbresolve_lookup(cl->resolver, d->pos, d->hostname, d->port) == 0)
		d->resolving = 1;
}

/* The resolver's answer for device id (add order), on the loop. */
static void
dev_resolved(void *arg, uint32_t id, int err, const struct sockaddr *sa,
    socklen_t len)
{
	struct mbc *cl = arg;
	struct mbc_dev *d;
	struct mbc_host *h = NULL;
	double wait;

	if (id >= cl->ndevs || (d = cl->devs[id])->conn != NULL)
		return;
	d->resolving = 0;
	if (d->retired)
		return;
	if (err == 0 && (h = host_of(cl, sa, len, d->port)) != NULL) {
		log_info("modbus host=%s port=%u resolved to=%s attempts=%u",
		    d->hostname, d->port, h->key, d->res_attempts + 1);
		dev_attach(d, h);
		FREE_NULL(d->hostname);
		return;
	}
	d->res_attempts++;
	wait = backoff_s(cl, d->res_attempts - 1);
	d->res_at = ev_now(cl->loop) + wait;
	/* the first failures, then one at each doubling */
	if ((d->res_attempts & (d->res_attempts - 1)) == 0)
		log_warnx("modbus host=%s port=%u does not resolve "
		    "attempts=%u retry_in_s=%.3f", d->hostname, d->port,
		    d->res_attempts, wait);
}

static int
mbc_add_device(struct mbclient *c, const struct mbclient_device *md)
{
	struct mbc *cl = container_of(c, struct mbc, base);
	struct mbplan_limits lim = { cl->cfg.max_registers, cl->cfg.max_bits,
	    cl->cfg.max_gap, md->interval_ms ? md->interval_ms :
	    cl->cfg.interval_ms };
	struct mbc_host *h;
	struct mbc_dev *d;
	uint16_t port = md->port ? md->port : (uint16_t)cl->cfg.port;
	int unit = md->unit < 0 ? (int)cl->cfg.unit : md->unit;

	if (md->profile == NULL || md->host == NULL || unit > 255)
		return -EINVAL;
	d = xcalloc(1, sizeof(*d));
	if (mbplan_build(&d->plan, md->profile, &lim) != 0) {
		xfree(d);
		return -EINVAL;
	}
	d->cl = cl;
	d->port = port;
	if ((h = host_get(cl, md->host, port)) != NULL) {
		dev_attach(d, h);
	} else {
		/* A DNS blip at boot must not drop the device for the
		 * process's life: keep it, fail its polls, ask again. */
		d->hostname = xstrdup(md->host);
		d->res_attempts = 1;
		d->res_at = ev_now(cl->loop) + backoff_s(cl, 0);
		log_warnx("modbus host=%s port=%u does not resolve attempts=1 "
		    "retry_in_s=%.3f", md->host, port, d->res_at -
		    ev_now(cl->loop));
	}
	d->index = md->index;
	d->unit = (uint8_t)unit;
	d->interval_ms = md->interval_ms ? md->interval_ms :
	    cl->cfg.interval_ms;
	d->timeout_ms = md->timeout_ms ? md->timeout_ms : cl->cfg.timeout_ms;
	d->slot = -1;
	d->brk_open_ms = cl->cfg.breaker_cooldown_ms;
	d->dcap = d->plan.data_bytes ? d->plan.data_bytes : 1;
	d->data = xcalloc(d->dcap, 1);
	d->bcap = d->plan.cap ? d->plan.cap : 1;
	d->bexc = xcalloc(d->bcap, 1);
	ev_timer_init(&d->poll, dev_poll_cb, 0., 0.);
	ev_timer_init(&d->rto, dev_rto_cb, 0., 0.);
	if (cl->ndevs == cl->devcap) {
		cl->devcap = cl->devcap ? cl->devcap * 2 : 64;
		cl->devs = xreallocarray(cl->devs, cl->devcap,
		    sizeof(*cl->devs));
	}
	d->pos = (uint32_t)cl->ndevs;
	cl->devs[cl->ndevs++] = d;
	if (cl->running)
		dev_arm(cl, d, cl->ndevs - 1);
	return 0;
}

static int
mbc_start(struct mbclient *c)
{
	struct mbc *cl = container_of(c, struct mbc, base);

	if (cl->running)
		return 0;
	cl->running = 1;
	cl->refilled = ev_now(cl->loop);
	for (size_t i = 0; i < cl->ndevs; i++)
		if (!cl->devs[i]->retired)
			dev_arm(cl, cl->devs[i], i);
	return 0;
}

static void
mbc_stop(struct mbclient *c)
{
	struct mbc *cl = container_of(c, struct mbc, base);
	struct mbc_host *h;

	for (size_t i = 0; i < cl->ndevs; i++) {
		struct mbc_dev *d = cl->devs[i];

		ev_timer_stop(cl->loop, &d->poll);
		ev_timer_stop(cl->loop, &d->rto);
		d->busy = d->queued = 0;
		d->wr_pending = d->wr_active = 0;	/* dropped, no callback */
		d->wr_sent = d->poll_owed = 0;
		d->slot = -1;
		d->wait_next = NULL;
	}
	for (size_t i = 0; i < cl->nbuckets; i++)
		for (h = cl->buckets[i]; h; h = h->next)
			for (unsigned k = 0; k < cl->cfg.connections_per_host; k++) {
				struct mbc_conn *cn = h->conns[k];

				conn_close(cn);
				cn->state = C_IDLE;
				cn->wait_head = cn->wait_tail = NULL;
				cn->nused = 0;
				memset(cn->slots, 0, cl->cfg.inflight *
				    sizeof(*cn->slots));
			}
	cl->running = 0;
}

static int
mbc_request(struct mbclient *c, size_t i, const struct mbap_req *w,
    mbclient_request_cb cb, void *arg)
{
	struct mbc *cl = container_of(c, struct mbc, base);
	uint8_t probe[MBAP_REQ_MAX];
	struct mbc_dev *d;
	struct mbap_req q;
	size_t n;

	if (fc_is_write(w->fc) && !cl->cfg.allow_writes)
		return -EPERM;
	if (i >= cl->ndevs || cb == NULL || cl->devs[i]->retired)
		return -EINVAL;
	if (!fc_is_write(w->fc) && (w->fc < MBAP_FC_READ_COILS ||
	    w->fc > MBAP_FC_READ_INPUT))
		return -EINVAL;
	q = *w;
	if (!fc_is_write(q.fc))
		q.regs = NULL, q.bits = NULL;
	if (q.fc == MBAP_FC_WRITE_COIL || q.fc == MBAP_FC_WRITE_REGISTER)
		q.count = 1;
	if (mbap_encode(&q, probe, sizeof(probe)) < 0)
		return -EINVAL;
	d = cl->devs[i];
	if (d->wr_pending || d->wr_active)
		return -EBUSY;
	n = q.count;
	d->wr_sent = 0;
	if (q.regs) {
		d->wr_regs = xcalloc(n, sizeof(uint16_t));
		memcpy(d->wr_regs, q.regs, n * sizeof(uint16_t));
		q.regs = d->wr_regs;
	}
	if (q.bits) {
		d->wr_bits = xcalloc(n, 1);
		memcpy(d->wr_bits, q.bits, n);
		q.bits = d->wr_bits;
	}
	d->wr = q;
	d->wr_cb = cb;
	d->wr_arg = arg;
	d->wr_pending = 1;
	write_kick(d);
	return 0;
}

static void
mbc_counters(const struct mbclient *c, struct mbclient_counters *out)
{
	const struct mbc *cl = container_of(c, const struct mbc, base);

	*out = cl->ctr;
}

static void
mbc_free(struct mbclient *c)
{
	struct mbc *cl = container_of(c, struct mbc, base);
	struct mbc_host *h, *nx;

	if (c == NULL)
		return;
	mbc_stop(c);
	mbresolve_free(cl->resolver);
	for (size_t i = 0; i < cl->ndevs; i++) {
		mbplan_free(&cl->devs[i]->plan);
		xfree(cl->devs[i]->wr_regs);
		xfree(cl->devs[i]->wr_bits);
		xfree(cl->devs[i]->data);
		xfree(cl->devs[i]->bexc);
		xfree(cl->devs[i]->hostname);
		xfree(cl->devs[i]);
	}
	xfree(cl->devs);
	for (size_t i = 0; i < cl->nbuckets; i++)
		for (h = cl->buckets[i]; h; h = nx) {
			nx = h->next;
			for (unsigned k = 0; k < cl->cfg.connections_per_host; k++) {
				if (h->conns[k]->slots != &h->conns[k]->slot1)
					xfree(h->conns[k]->slots);
				if (h->conns[k]->wbuf != h->conns[k]->wbuf1)
					xfree(h->conns[k]->wbuf);
				xfree(h->conns[k]);
			}
			xfree(h->conns);
			xfree(h->key);
			xfree(h);
		}
	xfree(cl->buckets);
	xfree(cl);
}

/*
 * The last device of a connection was retired: nothing will be sent on
 * it again, so it is closed (a gateway a reload removed would otherwise
 * hold its socket until the next restart).  It stays IDLE in its host and
 * connects again if a later reload adds a device behind the same host.
 */
static void
conn_retire(struct mbc_conn *cn)
{
	if (cn->fd >= 0)
		log_info("modbus host=%s connection closed: no device left on "
		    "it", cn->host->key);
	conn_close(cn);
	cn->state = C_IDLE;
	cn->attempts = 0;
	cn->last_err = 0;
}

/*
 * A configuration reload took the device away (or changed it: a new one
 * is added in its place).  Its slot's tid goes stale, so an answer that
 * still comes is dropped like a late one; the connection stays for the
 * other devices on it, and is closed when none is left.  The device
 * struct stays (add-order indexes of the others do not move) and is freed
 * with the client.
 */
static void
mbc_retire_device(struct mbclient *c, size_t i)
{
	struct mbc *cl = container_of(c, struct mbc, base);
	struct mbc_dev *d;

	if (i >= cl->ndevs || (d = cl->devs[i])->retired)
		return;
	d->retired = 1;
	ev_timer_stop(cl->loop, &d->poll);
	ev_timer_stop(cl->loop, &d->rto);
	if (d->conn != NULL) {
		if (d->queued)
			wait_remove(d->conn, d);
		slot_release(d, 1);
	}
	d->busy = 0;
	if (d->wr_active || d->wr_pending) {
		d->wr_pending = 0;
		write_finish(d, MBCLIENT_CLOSED, 0);
	}
	if (d->conn != NULL && --d->conn->nlive == 0)
		conn_retire(d->conn);
	else if (d->conn != NULL && d->conn->state == C_UP)
		conn_pump(d->conn);
}

static int
mbc_rebind_device(struct mbclient *c, size_t i, uint32_t index,
    const struct mbmap_profile *p)
{
	struct mbc *cl = container_of(c, struct mbc, base);
	struct mbc_dev *d;

	if (i >= cl->ndevs || (d = cl->devs[i])->retired || p == NULL ||
	    p->npoints != d->plan.npoints)
		return -EINVAL;
	d->index = index;
	d->plan.src = p->points;
	return 0;
}

static const struct mbclient_ops mbclient_tcp_ops = {
	.name		= "modbus-tcp",
	.add_device	= mbc_add_device,
	.start		= mbc_start,
	.stop		= mbc_stop,
	.request	= mbc_request,
	.counters	= mbc_counters,
	.free		= mbc_free,
	.retire_device	= mbc_retire_device,
	.rebind_device	= mbc_rebind_device,
};

struct mbclient *
mbclient_new(struct ev_loop *loop, const struct mbclient_config *cfg,
    mbclient_result_cb cb, void *arg)
{
	struct mbc *cl = xcalloc(1, sizeof(*cl));

	cl->base.ops = &mbclient_tcp_ops;
	cl->loop = loop;
	cl->cfg = *cfg;
	if (cl->cfg.inflight == 0)
		cl->cfg.inflight = 1;
	if (cl->cfg.connections_per_host == 0)
		cl->cfg.connections_per_host = 1;
	if (cl->cfg.frames_per_wakeup == 0)
		cl->cfg.frames_per_wakeup = 1;
	if (cl->cfg.backoff_max_ms < cl->cfg.backoff_min_ms)
		cl->cfg.backoff_max_ms = cl->cfg.backoff_min_ms;
	/*
	 * Polls are spread over the interval, so without slack every device's
	 * timer is a wakeup of its own: one epoll_wait per poll.  Collecting
	 * timers due within a few ms batches them (pollbench, 10,000 devices
	 * at 1 s, one read per poll: 0.175 -> 0.136 core with 4 ms) at the
	 * price of that much poll-start jitter.  The setting is loop-wide: the
	 * poll thread's loop exists for the poller.
	 */
	if (cl->cfg.timer_slack_ms > 0)
		ev_set_timeout_collect_interval(loop,
		    cl->cfg.timer_slack_ms / 1000.0);
	cl->cb = cb;
	cl->arg = arg;
	cl->nbuckets = 64;
	cl->buckets = xcalloc(cl->nbuckets, sizeof(*cl->buckets));
	cl->tokens = cfg->connect_burst;
	cl->refilled = ev_now(loop);
	cl->rng = cfg->seed ? cfg->seed :
	    (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)cl;
	if (cl->rng == 0)
		cl->rng = 88172645463325252ULL;
	return &cl->base;
}

size_t
mbclient_ndevices(const struct mbclient *c)
{
	return container_of(c, const struct mbc, base)->ndevs;
}

const struct mbplan *
mbclient_plan(const struct mbclient *c, size_t i)
{
	const struct mbc *cl = container_of(c, const struct mbc, base);

	return i < cl->ndevs ? &cl->devs[i]->plan : NULL;
}

int
mbclient_breaker_open(const struct mbclient *c, size_t i)
{
	const struct mbc *cl = container_of(c, const struct mbc, base);

	return i < cl->ndevs && cl->devs[i]->brk == BRK_OPEN;
}

size_t
mbclient_nconns(const struct mbclient *c)
{
	return container_of(c, const struct mbc, base)->nconns;
}
