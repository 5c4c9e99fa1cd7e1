/*
 * mbclient.h - the asynchronous Modbus/TCP client (MB_CLIENT) on libev.
 *
 * One client polls many devices from the caller's libev loop.  Devices that
 * share host:port share its TCP connection(s) (connections_per_host, default 1)
 * whatever their unit ids.  Each device has a poll timer with its own phase
 * within the interval; a poll reads every block of the device's request
 * plan (mbplan.h) one request at a time, and hands the whole result to the
 * caller's callback: raw registers/bits per block, or a failure, with the
 * RTT.  The caller decides what failures mean (COMM_LOSS is
 * correlator/almrule's, fed by daemon/poller).  Writes (FC 5/6/15/16) are
 * sent only through ops->request and only when cfg.allow_writes is set
 * (daemon/poller sets it only when some profile declares a command, and
 * builds every write from a declared command: docs/commands.md).
 *
 * Callbacks run on the loop's thread; they may call ops->request but must
 * not free the client.
 *
 * The client is an adapter, so it is reached through an ops table: the
 * instance starts with the table pointer (STYLE.md 2).  mbclient_new()
 * makes a Modbus/TCP instance; tests or a replay source could provide
 * another table with the same contract.
 */
#ifndef TOCSIN_MBCLIENT_H
#define TOCSIN_MBCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "drivers/modbus/mbmap.h"
#include "drivers/modbus/mbap.h"
#include "daemon/setting.h"
#include "drivers/modbus/mbplan.h"

struct ev_loop;

/*
 * Client settings.  Every field but the last three is a key of the YAML
 * `modbus:` section (the field name, without _ms), all uint32_t, and the
 * one table mbclient_settings[] gives each its range and default: the
 * config loader reads the section through it, mbclient_config_defaults()
 * fills from it, docs/configuration.md lists it (a test checks that the
 * page and the table agree).
 */
struct mbclient_config {
	uint32_t	 port;		/* default TCP port */
	uint32_t	 unit;		/* default unit id */
	uint32_t	 timeout_ms;	/* per request */
	uint32_t	 interval_ms;	/* poll interval */
	uint32_t	 max_registers;	/* registers per read */
	uint32_t	 max_bits;	/* bits per read */
	uint32_t	 max_gap;	/* unused registers a read may span */
	uint32_t	 inflight;	/* requests in flight per connection */
	uint32_t	 backoff_min_ms; /* first reconnect delay */
	uint32_t	 backoff_max_ms; /* reconnect delay cap */
	uint32_t	 connections_per_host; /* per host:port */
	uint32_t	 connect_rate;	/* new connects per second, all hosts */
	uint32_t	 connect_rate_per_host; /* ... to one host */
	uint32_t	 breaker_failures; /* timeouts in a row that open a
					      unit's breaker (0, below the
					      table's range: never) */
	uint32_t	 breaker_cooldown_ms; /* first open period, doubled per
					       failed probe up to backoff_max */
	uint32_t	 connect_timeout_ms; /* a TCP connect gives up */
	uint32_t	 timer_slack_ms; /* poll timers due this close together
					    fire in one loop wakeup (libev's
					    timeout collect interval, set on
					    the loop by mbclient_new) */
	uint32_t	 stall_timeouts; /* timeouts in a row with no frame
					    received that close a connection
					    (half-open, trickling; 0,
					    below the table's range: never) */
	uint32_t	 frames_per_wakeup; /* frames parsed per read event */
	uint32_t	 connect_burst_per_host; /* connects one host may get at
						   once */
	/* not YAML keys: */
	uint32_t	 connect_burst;	/* global bucket size; defaults to one
					   second of connect_rate */
	uint32_t	 seed;		/* jitter PRNG seed; 0: from the time */
	uint8_t		 allow_writes;	/* 0 (default): ops->write refuses; a
					   monitoring daemon never moves a
					   plant unless told to */
};

/* The settings, in docs order; the last has key NULL. */
extern const struct setting mbclient_settings[];

/*
 * Fills c with every setting's default, connect_burst with one second of
 * connect_rate, seed 0 and allow_writes 0.
 */
void	 mbclient_config_defaults(struct mbclient_config *c);
/*
 * Checks every setting of c against its range, then that backoff_min does
 * not exceed backoff_max nor timeout interval, and calls report(arg, key,
 * why) for each problem in that order (report may be NULL).  Keys, in key
 * and in why, are spelled prefix + YAML key: the config loader passes
 * "modbus." and gets "modbus.backoff_min", "above modbus.backoff_max".
 * Returns 0, or -EINVAL when anything was reported.  The config loader
 * reports out-of-range values as it reads them, from the same table, and
 * this for the rules across keys; mbclient_new() does not check (tests
 * build odd configs on purpose), its callers do.
 */
int	 mbclient_config_check(const struct mbclient_config *c,
	    const char *prefix, setting_report_cb report, void *arg);

/* A device to poll. */
struct mbclient_device {
	uint32_t	 index;		/* caller's id, reported back (fleet index) */
	const char	*host;		/* IPv4/IPv6 literal or name */
	uint16_t	 port;		/* 0: config port */
	int16_t		 unit;		/* -1: config unit */
	uint32_t	 interval_ms;	/* 0: config interval */
	uint32_t	 timeout_ms;	/* 0: config timeout */
	const struct mbmap_profile *profile; /* points to read; must outlive
						the client */
};

enum mbclient_status {
	MBCLIENT_OK,			/* every block read */
	MBCLIENT_EXCEPTION,		/* the device answered, some block with an
				   exception (see block_exc) */
	MBCLIENT_TIMEOUT,		/* a request got no answer in time */
	MBCLIENT_CONNECT,		/* no connection: refused, unreachable,
				   connect timeout, or in backoff */
	MBCLIENT_CLOSED,		/* the connection closed or broke mid-poll */
	MBCLIENT_PROTOCOL,		/* a malformed response: connection reset */
	MBCLIENT_BREAKER,		/* skipped: the unit's breaker is open */
	MBCLIENT__STATUS_COUNT
};


/* One completed poll, valid only during the callback. */
struct mbclient_result {
	uint32_t	 device;	/* mbclient_device.index */
	enum mbclient_status	 status;
	int		 err;		/* MBCLIENT_CONNECT/MBCLIENT_CLOSED: -errno, or 0 */
	uint8_t		 exception;	/* MBCLIENT_EXCEPTION: the first code seen */
	int64_t		 started_ms;	/* when the poll began (ev_now) */
	uint32_t	 rtt_us;	/* mean RTT of its requests; 0 if none */
	const struct mbplan *plan;	/* blocks, in order */
	uint32_t	 seq;		/* the device's poll number, from 0:
					   which blocks were due (mbplan_due) */
	const uint8_t	*data;		/* response data of block b at
					   plan->blocks[b].data_off: registers
					   big-endian, bits packed LSB first */
	const uint8_t	*block_exc;	/* per block: 0 or the exception code */
};

/*
 * Whether block b holds fresh data in this result: the poll answered, the
 * block was due on it (poll classes, mbplan.h) and came back without an
 * exception.  Blocks not read keep stale bytes: skip them.
 */
int	 mbclient_result_read(const struct mbclient_result *r, size_t b);

/* Register i / bit i of block b of a result (MBCLIENT_OK/MBCLIENT_EXCEPTION only). */
uint16_t mbclient_result_reg(const struct mbclient_result *r, size_t b, unsigned i);
int	 mbclient_result_bit(const struct mbclient_result *r, size_t b, unsigned i);
const char *mbclient_status_name(enum mbclient_status s);

typedef void (*mbclient_result_cb)(const struct mbclient_result *r, void *arg);

/*
 * The outcome of one operator request (ops->request), valid only during
 * the callback.  Requests are not polls: they are not reported through the
 * poll callback, so they never count towards COMM_LOSS, and they neither
 * trip nor close a unit's breaker.
 */
struct mbclient_reply {
	uint32_t	 device;	/* mbclient_device.index */
	enum mbclient_status status;	/* MBCLIENT_OK, MBCLIENT_EXCEPTION, or a
					   failure as for polls */
	uint8_t		 exception;	/* MBCLIENT_EXCEPTION: its code */
	uint8_t		 sent;		/* 1: the request went out on the wire;
					   after a failure its effect on the
					   device is unknown.  0: it never
					   left (no connection, in backoff,
					   host not resolved) */
	uint32_t	 rtt_us;	/* 0 unless answered */
	const uint8_t	*data;		/* MBCLIENT_OK reads: registers big-endian
					   or bits packed LSB first */
	size_t		 ndata;		/* bytes at data */
};

typedef void (*mbclient_request_cb)(const struct mbclient_reply *r,
	    void *arg);

/* Counters for /metrics: monotonic, updated on the loop's thread. */
struct mbclient_counters {
	uint64_t	 polls;		/* polls started */
	uint64_t	 polls_ok;	/* completed with every block read */
	uint64_t	 polls_failed;	/* completed with any other status */
	uint64_t	 polls_overrun;	/* timer fired while the last poll ran */
	uint64_t	 polls_skipped_breaker; /* not sent: breaker open */
	uint64_t	 requests;	/* requests sent */
	uint64_t	 responses;	/* responses matched to a request */
	uint64_t	 exceptions;	/* exception responses */
	uint64_t	 exception_code[12]; /* by code 1-11; [0] other */
	uint64_t	 timeouts;	/* requests timed out */
	uint64_t	 late_responses; /* answers to timed-out requests, dropped */
	uint64_t	 malformed;	/* malformed frames, all classes */
	uint64_t	 malformed_by[13]; /* by -enum mbap_status (1..11) */
	uint64_t	 splits;	/* reads split after exception 2/3 */
	uint64_t	 connects;	/* connect attempts */
	uint64_t	 connected;	/* connects that succeeded */
	uint64_t	 connect_failed; /* refused, unreachable, timed out */
	uint64_t	 connect_throttled; /* connects delayed by a rate limit */
	uint64_t	 disconnects;	/* connections closed for any reason */
	uint64_t	 peer_closed;	/* ... of them by the peer (EOF/RST) */
	uint64_t	 stalled_closed; /* ... of them as half-open/trickling */
	uint64_t	 breaker_opened; /* unit breakers opened */
	uint64_t	 breaker_closed; /* unit breakers closed by a good probe */
	uint64_t	 bytes_tx;
	uint64_t	 bytes_rx;
	uint64_t	 wakeup_capped;	/* read events that hit the frame cap */
	uint64_t	 writes;	/* writes sent */
	uint64_t	 writes_ok;	/* writes confirmed by an echo */
	uint64_t	 writes_failed;	/* writes ending any other way */
	uint64_t	 polls_deferred; /* poll timers that fired during an
					    operator request: polled right
					    after it, not counted overrun */
};

struct mbclient;

struct mbclient_ops {
	const char	*name;		/* "modbus-tcp" */
	/*
	 * Adds a device; its poll timer starts with the client (or at once
	 * if the client runs).  Its host is resolved here (numeric addresses
	 * at once); a name that does not resolve keeps the device: its polls
	 * fail with MBCLIENT_CONNECT (err -EHOSTUNREACH) and the name is
	 * looked up again off the loop (mbresolve.h) after each poll whose
	 * reconnect backoff has passed, until it resolves.  Returns 0, or
	 * -EINVAL for a bad device (no profile, no host, unit > 255, a plan
	 * that cannot be built).
	 */
	int	(*add_device)(struct mbclient *c, const struct mbclient_device *d);
	/* Starts every poll timer on the loop.  Returns 0. */
	int	(*start)(struct mbclient *c);
	/*
	 * Stops every watcher and closes every connection; polls under way
	 * are dropped without a callback.  Safe to call twice.
	 */
	void	(*stop)(struct mbclient *c);
	/*
	 * Queues one operator request to device i (add order): a write
	 * (q->fc 5, 6, 15 or 16 with addr, count and regs/bits) or a one-off
	 * read (1-4, addr, count: a command's read-back); tid and unit are
	 * the client's.  Values are copied.  It is sent when the device's
	 * poll under way, if any, has finished, on the device's own
	 * connection; a poll whose timer fires meanwhile runs right after it
	 * (polls_deferred).  It is sent at most once: a timeout ends it with
	 * MBCLIENT_TIMEOUT and sent 1, never a retry.  cb(arg) gets its
	 * outcome.  Returns 0, -EPERM for a write unless cfg.allow_writes,
	 * -EINVAL for a bad device or request (as mbap_encode), -EBUSY while
	 * an earlier request to the device is pending.  On failure cb is
	 * never called.
	 */
	int	(*request)(struct mbclient *c, size_t i,
		    const struct mbap_req *q, mbclient_request_cb cb,
		    void *arg);
	/* Copies the counters. */
	void	(*counters)(const struct mbclient *c, struct mbclient_counters *out);
	/* Stops and frees the client. */
	void	(*free)(struct mbclient *c);
	/*
	 * A configuration reload: device i (add order) is never polled
	 * again.  A request in flight is forgotten (its answer, if it
	 * comes, is dropped as a late one), a queued or running write ends
	 * with MBCLIENT_CLOSED through its callback, no poll result comes;
	 * the connection stays for the other devices on it.  Add-order
	 * indexes of the others do not move.  Safe to call twice.
	 */
	void	(*retire_device)(struct mbclient *c, size_t i);
	/*
	 * A configuration reload: device i (add order) keeps its connection,
	 * timers and breaker, its results now say `index`, its plan reads
	 * the points of p (a new copy of the same points).  0, or -EINVAL
	 * (no such device, retired, or p has another number of points).
	 */
	int	(*rebind_device)(struct mbclient *c, size_t i, uint32_t index,
		    const struct mbmap_profile *p);
};

struct mbclient {
	const struct mbclient_ops *ops;	/* first: the adapter's table */
};

/*
 * A Modbus/TCP client on loop (the caller runs it).  cb gets every
 * completed poll with arg.  The caller frees it with c->ops->free(c).
 */
struct mbclient *mbclient_new(struct ev_loop *loop,
	    const struct mbclient_config *cfg, mbclient_result_cb cb, void *arg);

/* Read-only views for tests and /metrics of one device (by add order). */
size_t	 mbclient_ndevices(const struct mbclient *c);
const struct mbplan *mbclient_plan(const struct mbclient *c, size_t i);
/* 1 if device i's breaker is open (polls skipped), else 0. */
int	 mbclient_breaker_open(const struct mbclient *c, size_t i);
/* Number of TCP connections the client holds (any state). */
size_t	 mbclient_nconns(const struct mbclient *c);

#endif
