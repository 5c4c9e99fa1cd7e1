/*
 * pollbench.c - tocsin's poller against devsim, measured exactly as the
 * baselines (pollbase_libmodbus, pollbase_epoll) are: one pb_stats line.
 *
 * "Poller" is what the daemon's poll thread does per device: mbclient
 * (drivers/modbus) polls every point of devsim's built-in tower profile
 * (coils, discrete inputs, input and holding registers: four reads per poll
 * with the default merging), and the poll callback decodes every point of
 * the profile with mbdecode, as daemon/poller.c will.  Alarm rules are not
 * run here (another module's cost, measured by its own bench).
 *
 * The fleet is devsim's (same --devices/--units-per-gateway/--base-addr/
 * --port/--ports-per-addr), found with devsim_endpoint(); the profile is
 * taken from a one-gateway devsim model so that the points read are the
 * ones devsim serves.  Units behind one gateway share its connection
 * (connections_per_host 1, inflight 1: the config defaults).
 *
 * Poll classes (--classes on|off; on by default with an interval, off at
 * maximum rate): the tower profile's slow points (setpoints and nameplate
 * every 60 s, output coils every 10 s: docs/devsim.md) are read on one poll
 * in interval/I, as the daemon reads them; off, every block on every poll.
 *
 * Counting: a transaction (tx) is one request answered, as in the
 * baselines; a good poll is as many as blocks were due on it.
 * Each carries the poll's mean RTT (mbclient reports a poll's mean).
 *
 * Rate:
 *   --interval-ms I > 0: every device once per I ms (mbclient's phases
 *     spread them); jitter is |poll start - slot| where a device's slots
 *     are its first poll start + n * I (ms resolution: mbclient reports the
 *     start as loop time in ms).  A missed poll is a slot of the measured
 *     window with no good poll started in it: the timer fired while the
 *     last poll still ran (an overrun), the shot was lost to a late loop
 *     (libev moves a late repeating timer on, it does not catch up), the
 *     poll failed, or it started more than I/2 late.  A device's slots in
 *     the window (T0, T1) are the n with first + n * I in it; after T1 the
 *     loop runs on (not measured, at most 2 I + the timeout) until every
 *     device has started a poll past its last slot, so that polls still
 *     under way at T1 are counted.
 *   --interval-ms 0: maximum rate.  mbclient has no "poll again now", so the
 *     devices are given an interval short enough that they cannot keep up
 *     (D * blocks / --max-rate-tps seconds, at least 1 ms): each device is
 *     polled again at its first timer shot after its last poll ended, and
 *     the shots in between are overruns (counted, and their CPU is in the
 *     figure).  Jitter is then the baselines' "gap" measure.
 *
 * --inflight N sets mbclient_config.inflight (default 1, the daemon's default):
 * requests of different units pipelined on a gateway's connection, so
 * several go out in one send() and come back in one recv().
 *
 * Fixed work: --count N transactions after --warmup N transactions (and
 * after every device has had one good poll), or --duration S seconds.  Every
 * phase is bounded (--max-secs, default 300): past it the run stops and
 * says so (exit status 1).
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>

#include "bench/devsim_model.h"
#include "bench/pb_fleet.h"
#include "bench/pb_stats.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "drivers/modbus/mbclient.h"
#include "drivers/modbus/mbdecode.h"

struct pb_dev {
	int64_t		 first_ms;	/* first poll start; -1: none yet */
	int64_t		 last_n;	/* slot of the last good poll counted */
	int64_t		 n_lo, n_hi;	/* its slots in the measured window */
	uint8_t		 good;		/* had a good poll (warm-up) */
	uint8_t		 done;		/* grace: a poll past n_hi started */
};

static struct {
	struct ev_loop	*loop;
	struct mbclient	*client;
	struct pb_run	 run;
	struct pb_dev	*dev;
	size_t		 ndev;
	size_t		 ngood;		/* devices with a good poll */
	unsigned	 interval_ms;	/* asked for; 0 = maximum rate */
	unsigned	 poll_ms;	/* given to mbclient */
	int		 measuring;
	int		 ended;		/* the measured window is over */
	int		 grace;		/* after the window: slot accounting */
	size_t		 ndone;		/* grace: devices past their last slot */
	int64_t		 t0_ms, t1_ms;	/* measured window, loop time */
	uint64_t	 slots, good_slots;
	uint64_t	 count, warmup;
	uint64_t	 warm_tx;	/* tx during warm-up */
	uint64_t	 polls, failed;
	uint64_t	 decoded, bad_quality, decode_err;
	double		 sink;		/* decoded values, so nothing is elided */
	struct mbclient_counters ctr0, ctr1;	/* at the window's start and end */
	double		 timeout_s;	/* request timeout */
	double		 duration;	/* --duration; 0: --count */
	int		 timed_out;
	ev_timer	 stop;		/* --duration / --max-secs */
} pb;

static void window_end(void);

static void
begin_measure(void)
{
	pb.measuring = 1;
	pb_run_reset(&pb.run);
	pb.client->ops->counters(pb.client, &pb.ctr0);
	pb_run_start(&pb.run);
	pb.t0_ms = (int64_t)(ev_now(pb.loop) * 1000);
	for (size_t i = 0; pb.interval_ms > 0 && i < pb.ndev; i++) {
		/* Slots due after t0 (first_ms <= t0: every device had a
		 * good poll in warm-up, maybe in this very iteration). */
		pb.dev[i].n_lo = (pb.t0_ms - pb.dev[i].first_ms) /
		    pb.interval_ms + 1;
	}
	if (pb.duration > 0) {
		/* From here on the stop timer ends the measured phase. */
		ev_timer_stop(pb.loop, &pb.stop);
		ev_timer_set(&pb.stop, pb.duration, 0.);
		ev_timer_start(pb.loop, &pb.stop);
	}
}

/* Transactions of one poll: the blocks due on it (poll classes). */
static unsigned
reads_of(const struct mbclient_result *r)
{
	unsigned n = 0;

	for (size_t b = 0; b < r->plan->nblocks; b++)
		n += mbplan_due(r->plan, b, r->seq);
	return n;
}

/* Every point of the poll's profile, decoded as the poller will. */
static void
decode_all(const struct mbclient_result *r)
{
	const struct mbplan *pl = r->plan;
	uint16_t regs[MBAP_MAX_REGS];

	for (size_t b = 0; b < pl->nblocks; b++) {
		const struct mbplan_block *bl = &pl->blocks[b];
		const uint8_t *data = r->data + bl->data_off;
		int reg = bl->table == MBMAP_INPUT || bl->table == MBMAP_HOLDING;

		if (!mbclient_result_read(r, b))
			continue;	/* refused, or a slower poll class */
		if (reg)
			for (unsigned i = 0; i < bl->count; i++)
				regs[i] = (uint16_t)(data[2 * i] << 8 |
				    data[2 * i + 1]);
		for (uint32_t k = 0; k < bl->npoints; k++) {
			const struct mbmap_point *p =
			    &pl->src[pl->order[bl->first + k]];
			struct mbdecode_value v;
			int rc = reg ?
			    mbdecode_regs(p, regs, bl->count, bl->addr, &v) :
			    mbdecode_bits_packed(p, data, bl->count, bl->addr,
			    &v);

			if (rc != 0) {
				pb.decode_err++;
				continue;
			}
			pb.decoded++;
			if (v.quality != FLEET_Q_GOOD)
				pb.bad_quality++;
			else
				pb.sink += v.value;
		}
	}
}

static void
on_poll(const struct mbclient_result *r, void *arg)
{
	struct pb_dev *d = &pb.dev[r->device];
	int good = r->status == MBCLIENT_OK;
	int64_t start_us = r->started_ms * 1000, due_us = -1, n = 0;

	(void)arg;
	if (good)
		decode_all(r);
	if (pb.interval_ms > 0 && d->first_ms >= 0) {
		n = llround((double)(r->started_ms - d->first_ms) /
		    pb.interval_ms);
		due_us = (d->first_ms + n * pb.interval_ms) * 1000;
	}
	if (!pb.measuring) {
		if (d->first_ms < 0)
			d->first_ms = r->started_ms;
		if (good) {
			d->last_n = n;
			pb.warm_tx += reads_of(r);
			if (!d->good) {
				d->good = 1;
				pb.ngood++;
			}
		}
		if (pb.ngood == pb.ndev && pb.warm_tx >= pb.warmup)
			begin_measure();
		return;
	}
	if (pb.ended && !pb.grace)
		return;		/* more results of the window's last wakeup */
	if (pb.interval_ms > 0 && good && n > d->last_n) {
		/* A good poll in a slot not yet counted. */
		if (n >= d->n_lo && (!pb.grace || n <= d->n_hi))
			pb.good_slots++;
		d->last_n = n;
	}
	if (pb.grace) {
		if (!d->done && (n > d->n_hi || r->started_ms >= pb.t1_ms)) {
			d->done = 1;
			if (++pb.ndone == pb.ndev)
				ev_break(pb.loop, EVBREAK_ALL);
		}
		return;
	}
	pb.polls++;
	pb_run_poll(&pb.run, r->device, start_us, due_us);
	if (!good) {
		pb.failed++;
		if (r->status == MBCLIENT_TIMEOUT)
			pb.run.timeouts++;
		else
			pb.run.errors++;
		return;
	}
	for (unsigned k = reads_of(r); k > 0; k--)
		pb_run_done(&pb.run, r->rtt_us);
	if (pb.count > 0 && pb.run.tx >= pb.count)
		window_end();
}

/*
 * The measured window ends: stop the clocks, give each device its slots in
 * (t0, t1), and (with an interval) run on until the polls under way are in.
 */
static void
window_end(void)
{
	pb.ended = 1;
	pb_run_stop(&pb.run);
	pb.client->ops->counters(pb.client, &pb.ctr1);
	pb.t1_ms = (int64_t)(ev_now(pb.loop) * 1000);
	if (pb.interval_ms == 0) {
		ev_break(pb.loop, EVBREAK_ALL);
		return;
	}
	for (size_t i = 0; i < pb.ndev; i++) {
		struct pb_dev *d = &pb.dev[i];
		int64_t iv = pb.interval_ms;

		d->n_hi = (pb.t1_ms - d->first_ms + iv - 1) / iv - 1;
		if (d->n_hi >= d->n_lo)
			pb.slots += (uint64_t)(d->n_hi - d->n_lo + 1);
	}
	pb.grace = 1;
	ev_timer_stop(pb.loop, &pb.stop);
	ev_timer_set(&pb.stop, 2.0 * pb.interval_ms / 1000 + pb.timeout_s,
	    0.);
	ev_timer_start(pb.loop, &pb.stop);
}

static void
stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	if (pb.grace) {
		/* Some device never started a poll past its window: its
		 * missing slots stay missed. */
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	if (pb.duration > 0 && pb.measuring) {
		window_end();
		return;
	}
	pb.timed_out = 1;
	ev_break(loop, EVBREAK_ALL);
}

/* A point map with only the points of one table (--points input). */
static void
profile_filter(struct mbmap_profile *out, const struct mbmap_profile *in,
    int table, int classes)
{
	out->points = xcalloc(in->npoints, sizeof(*out->points));
	out->npoints = 0;
	for (size_t i = 0; i < in->npoints; i++)
		if (table < 0 || in->points[i].table == table) {
			out->points[out->npoints] = in->points[i];
			if (!classes)
				out->points[out->npoints].interval_ms = 0;
			out->npoints++;
		}
}

static void
usage(void)
{
	fprintf(stderr,
"usage: pollbench [--devices D] [--units-per-gateway K] [--base-addr A]\n"
"                 [--port P] [--ports-per-addr M] [--count N | --duration S]\n"
"                 [--interval-ms I] [--timeout-ms T] [--warmup N]\n"
"                 [--points all|input] [--max-rate-tps X] [--max-secs S]\n"
"                 [--inflight N] [--classes on|off] [--timer-slack-ms S]\n");
	exit(2);
}


int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		PB_FLEET_OPTIONS,
		{ "points", required_argument, NULL, 'P' },
		{ "max-rate-tps", required_argument, NULL, 'x' },
		{ "max-secs", required_argument, NULL, 'M' },
		{ "inflight", required_argument, NULL, 'f' },
		{ "classes", required_argument, NULL, 'C' },
		{ "timer-slack-ms", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 }
	};
	struct pb_opts o;
	const struct devsim_cfg *cfg = &o.cfg;
	struct devsim_cfg one;
	struct devsim_model model;
	struct mbmap_profile prof;
	struct mbclient_config mc;
	struct mbclient_counters ctr;
	double max_rate = 100000, max_secs = 300;
	unsigned timeout_ms, inflight = 1, slack_ms = UINT32_MAX;
	int table = -1, classes = -1, ch, rc;
	size_t ngw, nblocks;
	double reads;
	unsigned long nofile;
	int64_t t_add;

	log_init(2, LOG_LVL_WARN);
	pb_opts_default(&o, 100000);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'P':
			if (strcmp(optarg, "all") == 0)
				table = -1;
			else if (strcmp(optarg, "input") == 0)
				table = MBMAP_INPUT;
			else
				fatalx("pollbench bad option=points value=\"%s\" "
				    "known=all,input", optarg);
			break;
		case 'C':
			if (strcmp(optarg, "on") == 0)
				classes = 1;
			else if (strcmp(optarg, "off") == 0)
				classes = 0;
			else
				fatalx("pollbench bad option=classes value=\"%s\" "
				    "known=on,off", optarg);
			break;
		case 'x': max_rate = pb_num_arg("pollbench", "max-rate-tps", optarg, 1, 1e9); break;
		case 'M': max_secs = pb_num_arg("pollbench", "max-secs", optarg, 1, 86400); break;
		case 'S': slack_ms = (unsigned)pb_num_arg("pollbench", "timer-slack-ms", optarg, 0, 1000); break;
		case 'f': inflight = (unsigned)pb_num_arg("pollbench", "inflight", optarg, 1, 64); break;
		default:
			if (pb_opts_option(&o, "pollbench", ch, optarg) != 0)
				usage();
		}
	}
	if (optind != argc)
		usage();
	pb.count = o.duration > 0 ? 0 : o.count;
	pb.duration = o.duration;
	pb.interval_ms = o.interval_ms;
	pb.warmup = o.warmup;
	timeout_ms = o.timeout_ms;

	/* The profile devsim serves, from a model of one gateway. */
	one = *cfg;
	one.ndevices = cfg->units;
	if ((rc = devsim_model_init(&model, &one, (int64_t)time(NULL) * 1000))
	    != 0)
		fatalx("pollbench devsim_model_init err=%d", rc);
	/* Poll classes mean nothing at maximum rate: off unless asked. */
	if (classes < 0)
		classes = pb.interval_ms > 0;
	profile_filter(&prof, &model.map->profiles[model.profile], table,
	    classes);

	nofile = pb_raise_nofile();
	ngw = pb_fleet_ngateways(cfg);
	if (ngw + 64 > nofile)
		fatalx("pollbench conns=%zu nofile=%lu: too many", ngw, nofile);

	pb.loop = ev_loop_new(EVFLAG_AUTO);
	mbclient_config_defaults(&mc);
	{
		struct mbplan_limits lim = { mc.max_registers, mc.max_bits,
		    mc.max_gap, pb.interval_ms };
		struct mbplan plan;

		if (mbplan_build(&plan, &prof, &lim) != 0)
			fatalx("pollbench mbplan_build");
		nblocks = plan.nblocks;
		reads = mbplan_reads_per_poll(&plan);
		mbplan_free(&plan);
	}
	if (pb.interval_ms > 0) {
		pb.poll_ms = pb.interval_ms;
	} else {
		double ms = (double)cfg->ndevices * (double)nblocks * 1000 /
		    max_rate;

		pb.poll_ms = ms < 1 ? 1 : (unsigned)ms;
	}
	mc.interval_ms = pb.poll_ms;
	mc.timeout_ms = timeout_ms;
	mc.inflight = (uint16_t)inflight;
	if (slack_ms != UINT32_MAX)
		mc.timer_slack_ms = slack_ms;
	pb.timeout_s = timeout_ms / 1000.0;
	mc.seed = 1;
	/* The bench connects its whole fleet at once, which the
	 * production rate limits (200/s) would stretch to a minute. */
	mc.connect_rate = 1e6;
	mc.connect_burst = (uint32_t)ngw;
	pb.ndev = cfg->ndevices;
	pb.dev = xcalloc(pb.ndev, sizeof(*pb.dev));
	for (size_t i = 0; i < pb.ndev; i++)
		pb.dev[i].first_ms = -1;
	pb.client = mbclient_new(pb.loop, &mc, on_poll, NULL);
	t_add = pb_now_us();
	for (size_t g = 0; g < ngw; g++) {
		char host[INET_ADDRSTRLEN];
		struct in_addr a;
		uint16_t port;

		pb_fleet_endpoint(cfg, "pollbench", g, &a, &port, host);
		for (unsigned u = 0; u < pb_fleet_units(cfg, g); u++) {
			size_t i = g * cfg->units + u;
			struct mbclient_device md = { .index = (uint32_t)i,
			    .host = host, .port = port,
			    .unit = (int16_t)(u + 1), .profile = &prof };

			if ((rc = pb.client->ops->add_device(pb.client, &md))
			    != 0)
				fatalx("pollbench add_device %s:%u err=%d", host,
				    port, rc);
		}
	}
	t_add = pb_now_us() - t_add;
	pb_run_init(&pb.run, "tocsin", pb.ndev, mbclient_nconns(pb.client),
	    pb.interval_ms);
	fprintf(stderr, "pollbench: devices=%zu gateways=%zu blocks=%zu "
	    "reads/poll=%.3f classes=%s points=%zu poll_interval_ms=%u "
	    "add_s=%.3f\n", pb.ndev, ngw, nblocks, reads,
	    classes ? "on" : "off", prof.npoints, pb.poll_ms, t_add / 1e6);

	/* Warm-up (connects, first polls), then the measured phase. */
	ev_timer_init(&pb.stop, stop_cb, max_secs, 0.);
	ev_timer_start(pb.loop, &pb.stop);
	pb.client->ops->start(pb.client);
	ev_run(pb.loop, 0);
	pb.client->ops->counters(pb.client, &ctr);
	if (!pb.measuring || pb.timed_out || pb.run.t1 == 0) {
		fprintf(stderr, "pollbench: bounded run ended after %.0f s "
		    "(measuring=%d good_devices=%zu/%zu tx=%llu)\n", max_secs,
		    pb.measuring, pb.ngood, pb.ndev,
		    (unsigned long long)pb.run.tx);
		return 1;
	}
	if (pb.interval_ms > 0)
		pb.run.missed = (int64_t)(pb.slots > pb.good_slots ?
		    pb.slots - pb.good_slots : 0);
	pb.run.polls = pb.polls;
	pb_run_print(&pb.run, stdout);
	printf("pollbench tocsin detail blocks=%zu reads_per_poll=%.3f "
	    "classes=%s points=%zu poll_interval_ms=%u polls=%llu failed=%llu slots=%llu "
	    "good_slots=%llu late_devices=%zu overruns=%llu connects=%llu "
	    "decoded=%llu bad_quality=%llu decode_err=%llu add_s=%.3f\n",
	    nblocks, reads, classes ? "on" : "off", prof.npoints, pb.poll_ms,
	    (unsigned long long)pb.polls, (unsigned long long)pb.failed,
	    (unsigned long long)pb.slots, (unsigned long long)pb.good_slots,
	    pb.interval_ms > 0 ? pb.ndev - pb.ndone : 0,
	    (unsigned long long)(pb.ctr1.polls_overrun -
	    pb.ctr0.polls_overrun),
	    (unsigned long long)ctr.connects,
	    (unsigned long long)pb.decoded, (unsigned long long)pb.bad_quality,
	    (unsigned long long)pb.decode_err, t_add / 1e6);
	pb.client->ops->free(pb.client);
	ev_loop_destroy(pb.loop);
	pb_run_fini(&pb.run);
	xfree(pb.dev);
	xfree(prof.points);
	devsim_model_fini(&model);
	return pb.decode_err == 0 ? 0 : 1;
}
