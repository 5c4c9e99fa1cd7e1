/*
 * live.h - `tocsind -c CONFIG`: the daemon's run loop (DESIGN.md "Shape").
 *
 *   poll thread (the caller's thread, one libev loop)
 *     poller: every fleet device polled, points decoded, alarm rules
 *       -> alarm transitions -> outbox (daemon/outbox: queued at once, or
 *          the key held and its state re-sent when the shard has room)
 *          -> SPSC ring -> shard
 *     tick timer: router_tick_shard(loop time) -> every shard's engine
 *       with nothing held
 *     signals, the -d stop timer, the file sink's writer
 *   correlator shard threads (daemon.shards)
 *     corr_engine: dedup, root cause, incidents, SLA clocks, escalation
 *       -> incident event -> incjson line -> the shard's SPSC ring of the
 *          file sink -> written and flushed on the poll thread
 *
 * Time: the loop's clock (ev_now, epoch ms) stamps every alarm and every
 * tick, both pushed from the one poll thread, so each shard sees its time
 * only move forward; the engines never read a clock.
 *
 * Stop (SIGTERM, SIGINT, or the duration): the poller stops (polls under
 * way are dropped), every held alarm state and a last tick go out, the
 * loop keeps writing the sink while the shards drain their rings (nothing
 * queued is given up, unless the output refuses every write for 30 s), the
 * shards are joined, the sink is closed, and one log line gives the
 * counters.
 */
#ifndef TOCSIN_LIVE_H
#define TOCSIN_LIVE_H

#include "daemon/config.h"

/* Run settings from the command line. */
struct live_opts {
	double		 duration_s;	/* > 0: stop after this long; 0: run
					 * until a signal */
};

/*
 * Runs the daemon on cfg (which must outlive the call) until SIGTERM,
 * SIGINT or opts->duration_s.  Logs through daemon/log (the caller has
 * called log_init()).  Returns 0 after a clean stop, 1 when it could not
 * start (the reason is logged).
 */
int	 live_run(struct config *cfg, const struct live_opts *opts);

#endif
