/*
 * tocsinpoll.c - run the poller of a tocsin configuration for a bounded
 * time and print what it saw: the program the poller's integration tests
 * drive, and a quick field check for an operator ("does this config poll?").
 *
 *   tocsinpoll -c CONFIG [-d SECONDS] [-v] [--interval MS] [--timeout MS]
 *              [--warmup MS]
 *
 * stdout: every alarm transition as one JSON line in the replay schema
 * (docs/replay.md, tocsin.alarms/1), so the output can be fed straight to
 * `tocsind --replay`.  stderr: logs, with -v one line per device, and at
 * the end one summary line of counters (key=value):
 *
 *   tocsinpoll summary secs=S devices=D rejected=R polls=N polls_good=G
 *     polls_failed=F ... good_devices=K missed_polls=M jitter_n=J
 *     jitter_p50_ms=A jitter_p99_ms=B jitter_max_ms=C cpu_s=X maxrss_kb=Y
 *
 * SIGUSR1 prints one line of running counters to stderr and goes on
 * (the loop's time since the start and the poller's poll counts), so a
 * script can measure a window of a run as it does tocsind's (whose
 * SIGUSR1 line carries the same keys):
 *
 *   tocsinpoll counters uptime_s=U polls=N polls_good=G polls_failed=F
 *     polls_overrun=O
 *
 * Poll timing: each device's consecutive poll starts should be exactly
 * one interval apart.  jitter = |gap - interval| over every gap of the
 * "good" devices (every poll of the run answered), so a deliberately dead
 * device does not count itself but any delay it causes others does.  A gap
 * longer than 1.5 intervals is a missed poll (round(gap/interval) - 1 of
 * them), and so is a poll that should have started and finished before
 * the end of the run but did not.  With --warmup MS, gaps that begin in
 * the first MS of the run are neither timed nor counted as missed (a cold
 * start connects every device at once; a SYN the kernel drops then costs
 * a 1 s retransmission, which is the listener's load, not the loop's); the
 * overrun counter (polls_overrun) still covers the whole run.
 *
 * RLIMIT_NOFILE is raised to its hard limit, as tocsind will: one
 * descriptor per connection.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <ev.h>

#include "bench/pb_stats.h"
#include "correlator/incjson.h"
#include "daemon/config.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/poller.h"

struct tp_dev {
	int64_t		 first_ms;	/* first poll start; 0: none yet */
	int64_t		 last_ms;	/* last poll start */
	uint32_t	 polls;		/* completed */
	uint32_t	 good;		/* answered */
	uint32_t	 missed;	/* gaps counted as missed polls */
	uint32_t	 interval_ms;	/* effective */
	uint32_t	 timeout_ms;	/* effective */
};

struct tp_gap {
	uint32_t	 device;	/* fleet index */
	uint32_t	 jitter_ms;	/* |gap - interval| */
};

static struct {
	const struct fleet *fleet;
	struct tp_dev	*dev;
	struct tp_gap	*gaps;
	size_t		 ngaps, capgaps;
	uint64_t	 alarms;
	int64_t		 warm_end_ms;	/* gaps starting before: not timed */
	double		 t0;		/* loop time at the start */
	struct incjson_buf line;	/* an alarm's tocsin.alarms/1 line */
} tp;

static void
tp_alarm(void *arg, const struct alarm_event *ev)
{
	const struct fleet *f = tp.fleet;
	const struct incjson_alarm a = { ev->at_ms, f->devices[ev->device].id,
	    f->sites[ev->site].id, f->codes[ev->code], ev->edge, ev->severity,
	    ev->value };

	(void)arg;
	tp.alarms++;
	tp.line.n = 0;
	(void)incjson_alarm(&tp.line, &a);
	fwrite(tp.line.p, 1, tp.line.n, stdout);
	putchar('\n');
	fflush(stdout);
}

static void
tp_poll(void *arg, const struct poller_poll *p)
{
	struct tp_dev *d = &tp.dev[p->device];

	(void)arg;
	d->polls++;
	d->good += p->good;
	if (d->first_ms == 0) {
		d->first_ms = d->last_ms = p->started_ms;
		return;
	}
	/* timing counts once the warm-up (cold connects) is over */
	if (p->started_ms > d->last_ms && d->last_ms >= tp.warm_end_ms) {
		int64_t gap = p->started_ms - d->last_ms;
		int64_t j = gap - d->interval_ms;

		if (gap * 2 > (int64_t)d->interval_ms * 3)
			d->missed += (uint32_t)llround((double)gap /
			    d->interval_ms) - 1;
		if (tp.ngaps == tp.capgaps) {
			tp.capgaps = tp.capgaps ? 2 * tp.capgaps : 4096;
			tp.gaps = xrealloc(tp.gaps, tp.capgaps *
			    sizeof(*tp.gaps));
		}
		tp.gaps[tp.ngaps].device = p->device;
		tp.gaps[tp.ngaps].jitter_ms = (uint32_t)(j < 0 ? -j : j);
		tp.ngaps++;
	}
	d->last_ms = p->started_ms;
}

static const struct poller_sink_ops tp_sink_ops = {
	.rules = { .alarm = tp_alarm, .sample = NULL },
	.poll = tp_poll,
};

static void
tp_stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void
tp_sig_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void
tp_usr1_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct poller_counters c;

	(void)revents;
	poller_counters(w->data, &c);
	fprintf(stderr, "tocsinpoll counters uptime_s=%.3f polls=%llu "
	    "polls_good=%llu polls_failed=%llu polls_overrun=%llu\n",
	    ev_now(loop) - tp.t0, (unsigned long long)c.polls,
	    (unsigned long long)c.polls_good,
	    (unsigned long long)c.polls_failed,
	    (unsigned long long)c.mb.polls_overrun);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}


/* Descriptors open now and the highest of them (from /proc/self/fd). */
static void
count_fds(size_t *n, int *maxfd)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;

	*n = 0;
	*maxfd = -1;
	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		int fd;

		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		if (fd == dirfd(dir))
			continue;
		(*n)++;
		*maxfd = fd > *maxfd ? fd : *maxfd;
	}
	closedir(dir);
}

static void
usage(void)
{
	fprintf(stderr, "usage: tocsinpoll -c CONFIG [-d SECONDS] [-v] "
	    "[--interval MS] [--timeout MS] [--warmup MS]\n");
	exit(2);
}

static void
report(const struct poller *p, double secs, int64_t end_ms, int verbose)
{
	const struct fleet *f = tp.fleet;
	struct poller_counters c;
	uint32_t *j;
	size_t nj = 0, good_devices = 0, polled = 0;
	uint64_t missed = 0;
	uint32_t minpolls = UINT32_MAX;
	double cpu;
	size_t nfds;
	int maxfd;

	poller_counters(p, &c);
	count_fds(&nfds, &maxfd);
	for (size_t i = 0; i < f->ndevices; i++) {
		struct tp_dev *d = &tp.dev[i];
		int64_t tail;

		if (d->polls == 0)
			continue;
		polled++;
		/* a poll due and finished before the end never came */
		tail = end_ms - d->last_ms - d->interval_ms - d->timeout_ms;
		if (tail > 0)
			d->missed += (uint32_t)(tail / d->interval_ms + 1);
		if (d->good == d->polls) {
			good_devices++;
			missed += d->missed;
			minpolls = d->polls < minpolls ? d->polls : minpolls;
		}
		if (verbose)
			fprintf(stderr, "tocsinpoll device id=%s polls=%u "
			    "good=%u missed=%u comm_lost=%d\n",
			    f->devices[i].id, d->polls, d->good, d->missed,
			    poller_comm_lost(p, (uint32_t)i));
	}
	j = xcalloc(tp.ngaps ? tp.ngaps : 1, sizeof(*j));
	for (size_t i = 0; i < tp.ngaps; i++) {
		struct tp_dev *d = &tp.dev[tp.gaps[i].device];

		if (d->good == d->polls)
			j[nj++] = tp.gaps[i].jitter_ms;
	}
	qsort(j, nj, sizeof(*j), cmp_u32);
	cpu = pb_cpu_s(RUSAGE_SELF);
	fprintf(stderr, "tocsinpoll summary secs=%.3f devices=%llu "
	    "rejected=%llu polled=%zu polls=%llu polls_good=%llu "
	    "polls_failed=%llu timeouts=%llu connect_failed=%llu "
	    "polls_overrun=%llu points=%llu points_bad=%llu "
	    "decode_errors=%llu alarms=%llu raised=%llu cleared=%llu "
	    "comm_loss_raised=%llu samples=%llu suppressed=%llu "
	    "stalled_closed=%llu connected=%llu open_fds=%zu max_fd=%d "
	    "good_devices=%zu min_polls_good=%u "
	    "missed_polls=%llu jitter_n=%zu jitter_p50_ms=%u "
	    "jitter_p99_ms=%u jitter_max_ms=%u cpu_s=%.3f maxrss_kb=%ld\n",
	    secs, (unsigned long long)c.devices,
	    (unsigned long long)c.devices_rejected, polled,
	    (unsigned long long)c.polls, (unsigned long long)c.polls_good,
	    (unsigned long long)c.polls_failed,
	    (unsigned long long)c.mb.timeouts,
	    (unsigned long long)c.mb.connect_failed,
	    (unsigned long long)c.mb.polls_overrun,
	    (unsigned long long)c.points, (unsigned long long)c.points_bad,
	    (unsigned long long)c.decode_errors,
	    (unsigned long long)tp.alarms,
	    (unsigned long long)c.alarms_raised,
	    (unsigned long long)c.alarms_cleared,
	    (unsigned long long)c.comm_loss_raised,
	    (unsigned long long)c.samples_published,
	    (unsigned long long)c.samples_suppressed,
	    (unsigned long long)c.mb.stalled_closed,
	    (unsigned long long)c.mb.connected, nfds, maxfd, good_devices,
	    minpolls == UINT32_MAX ? 0 : minpolls,
	    (unsigned long long)missed, nj,
	    nj ? j[nj / 2] : 0, nj ? j[(nj * 99) / 100] : 0,
	    nj ? j[nj - 1] : 0, cpu, pb_maxrss_kib());
	xfree(j);
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "interval", required_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "warmup", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	struct config_errors errs = { NULL, 0 };
	struct config *cfg;
	struct poller_config pc;
	struct poller *p;
	struct poller_sink sink = { &tp_sink_ops, NULL };
	struct ev_loop *loop;
	ev_timer stop;
	ev_signal sterm, sint, usr1;
	const char *path = NULL;
	double secs = 10, t0;
	long interval = 0, timeout = 0, warmup = 0;
	int ch, verbose = 0, rc;

	log_init(2, LOG_LVL_WARN);
	while ((ch = getopt_long(argc, argv, "c:d:i:t:vw:", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'd': secs = atof(optarg); break;
		case 'i': interval = atol(optarg); break;
		case 't': timeout = atol(optarg); break;
		case 'v': verbose = 1; break;
		case 'w': warmup = atol(optarg); break;
		default: usage();
		}
	}
	if (path == NULL || !(secs > 0 && secs <= 86400) || interval < 0 ||
	    timeout < 0 || warmup < 0)
		usage();
	signal(SIGPIPE, SIG_IGN);
	if ((cfg = config_load(path, &errs)) == NULL) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msg[i]);
		config_errors_free(&errs);
		return 1;
	}
	if ((rc = poller_config_from(&cfg->modbus, &pc)) != 0)
		fatalx("tocsinpoll modbus section does not fit the client");
	if (interval > 0)
		pc.mb.interval_ms = (uint32_t)interval;
	if (timeout > 0)
		pc.mb.timeout_ms = (uint32_t)timeout;
	tp.fleet = cfg->fleet;
	incjson_buf_init(&tp.line);
	tp.dev = xcalloc(cfg->fleet->ndevices ? cfg->fleet->ndevices : 1,
	    sizeof(*tp.dev));
	for (size_t i = 0; i < cfg->fleet->ndevices; i++) {
		const struct fleet_device *fd = &cfg->fleet->devices[i];

		tp.dev[i].interval_ms = fd->interval_ms && !interval ?
		    fd->interval_ms : pc.mb.interval_ms;
		tp.dev[i].timeout_ms = fd->timeout_ms && !timeout ?
		    fd->timeout_ms : pc.mb.timeout_ms;
	}
	fprintf(stderr, "tocsinpoll config=%s devices=%zu interval_ms=%u "
	    "timeout_ms=%u secs=%g nofile=%lu\n", path,
	    cfg->fleet->ndevices, pc.mb.interval_ms, pc.mb.timeout_ms, secs,
	    pb_raise_nofile());
	/* the command line overrides per-device settings too */
	if (interval > 0 || timeout > 0)
		for (size_t i = 0; i < cfg->fleet->ndevices; i++) {
			if (interval > 0)
				cfg->fleet->devices[i].interval_ms = 0;
			if (timeout > 0)
				cfg->fleet->devices[i].timeout_ms = 0;
		}
	loop = ev_default_loop(EVFLAG_AUTO);
	if ((rc = poller_new(loop, cfg->fleet, cfg->mbmap, &pc, &sink, &p)) != 0)
		fatalx("tocsinpoll poller_new failed rc=%d", rc);
	ev_timer_init(&stop, tp_stop_cb, secs, 0.);
	ev_timer_start(loop, &stop);
	ev_signal_init(&sterm, tp_sig_cb, SIGTERM);
	ev_signal_start(loop, &sterm);
	ev_signal_init(&sint, tp_sig_cb, SIGINT);
	ev_signal_start(loop, &sint);
	ev_signal_init(&usr1, tp_usr1_cb, SIGUSR1);
	usr1.data = p;
	ev_signal_start(loop, &usr1);
	ev_now_update(loop);
	t0 = tp.t0 = ev_now(loop);
	tp.warm_end_ms = (int64_t)(t0 * 1000.0) + warmup;
	poller_start(p);
	ev_run(loop, 0);
	ev_now_update(loop);
	report(p, ev_now(loop) - t0, (int64_t)(ev_now(loop) * 1000.0),
	    verbose);
	poller_free(p);
	ev_signal_stop(loop, &sterm);
	ev_signal_stop(loop, &sint);
	ev_signal_stop(loop, &usr1);
	ev_timer_stop(loop, &stop);
	ev_loop_destroy(loop);
	xfree(tp.dev);
	xfree(tp.gaps);
	config_free(cfg);
	return 0;
}
