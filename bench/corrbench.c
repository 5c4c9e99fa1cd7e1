/*
 * corrbench - the correlation core on a generated day, against the Python
 * reference correlator (bench/refcorr.py) timed in the same run.
 *
 * Fixed work: one day from bench/corrgen.py with a fixed seed (default
 * 10,000 sites, 100,000 devices, about 1,000,000 transitions; --small is
 * 1,000 sites for quick runs).  Phases, each timed on its own (wall and CPU
 * seconds from getrusage):
 *   ref e2e    python3 refcorr.py --events: parse + correlate + emit
 *   ref core   the reference's correlate phase with events in memory
 *   c e2e      replay_run(): parse + correlate + JSON events to a file
 *   c core     corr_engine_alarm() over events already in memory, SLA
 *              clocks on (the default sla_config, as the daemon runs);
 *              the same core with clocks off is its same-run baseline
 *   producer   the router's producer alone (CPU ns per event, p), one
 *              event per push and 64 per push, into live-size rings
 *   ceiling    the day split as 2 shards split it, each half on its own
 *              engine with no rings: halves in turn vs on 2 threads (the
 *              most any shard layer can give on this machine)
 *   shards     the router with 1 and 2 shard threads and one producer:
 *              live, one event per push; live, 64 per push; pre-filled
 *              rings (only the draining timed), with the 2-core bound
 *              2 max(p, c) / (p + c) on the live ratio printed beside
 *   memory     forked children: growth of the allocator's live bytes
 *              (and of peak RSS, ru_maxrss, for reference) under a pure
 *              alarm load and a pure incident load, solved per item
 *   shipped    the product as shipped against its two baselines, each a
 *              process of its own (wait4(): its own CPU and peak RSS),
 *              best of 3 interleaved:
 *                floor: bench/replayfloor, the least work of any replay
 *                  (read each line, find the device, one hash lookup per
 *                  alarm key, count), from the inventory CSV;
 *                tocsind --replay FILE -c CONFIG > events file: JSON lines
 *                  in, config loaded, events written (and the same with an
 *                  empty day: what the config alone costs);
 *                corrlite: bench/corrlite.py, a plain Python dict-and-loop
 *                  correlator (dedup, root-cause window, reopen hold) over
 *                  the day's compact text form (corrgen.py --compact);
 *              targets: e2e within 3x of the floor, at least 2x faster
 *              than corrlite; bytes of events per input transition
 * Results are ratios against the reference (and 2 shards against 1).  The
 * C core phases are the best of 3 runs, the shard phases of 5 (the machine
 * is shared).
 * --shards-only runs the producer and shard phases alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/pb_stats.h"
#include "correlator/corr.h"
#include "daemon/config.h"
#include "daemon/mem.h"
#include "daemon/replay.h"
#include "daemon/router.h"

struct phase {
	double	 wall;		/* seconds */
	double	 cpu;		/* user + system seconds */
};




static int
run_cmd(const char *cmd, struct phase *ph, char *out, size_t outlen)
{
	double w = pb_wall_s(), c = pb_cpu_s(RUSAGE_CHILDREN);
	FILE *p = popen(cmd, "r");
	size_t n = 0;
	int st;

	if (p == NULL)
		return -1;
	if (out != NULL) {
		while (n + 1 < outlen && fgets(out + n, (int)(outlen - n), p))
			n += strlen(out + n);
		out[n] = '\0';
	} else {
		char buf[512];
		while (fgets(buf, sizeof(buf), p) != NULL)
			fputs(buf, stderr);
	}
	st = pclose(p);
	ph->wall = pb_wall_s() - w;
	ph->cpu = pb_cpu_s(RUSAGE_CHILDREN) - c;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void
count_event(void *arg, const struct corr_event *ev)
{
	(void)ev;
	(*(uint64_t *)arg)++;
}

static const struct corr_sink_ops count_ops = { .event = count_event };

static struct phase
core_once(struct fleet *f, const struct corr_config *cc,
    const struct alarm_event *evs, size_t n, struct corr_stats *st)
{
	uint64_t nev = 0;
	struct corr_sink sink = { &count_ops, &nev };
	struct corr_engine *e = corr_engine_new(f, cc, 0, &sink);
	struct phase ph;
	double w = pb_wall_s(), c = pb_cpu_s(RUSAGE_SELF);

	for (size_t i = 0; i < n; i++)
		corr_engine_alarm(e, &evs[i]);
	ph.wall = pb_wall_s() - w;
	ph.cpu = pb_cpu_s(RUSAGE_SELF) - c;
	corr_engine_stats(e, st);
	corr_engine_free(e);
	return ph;
}

enum shard_mode {
	SH_LIVE_ONE,	/* producer pushes one event per call while shards run */
	SH_LIVE_BATCH,	/* ... SH_BATCH events per call (one publish per ring) */
	SH_PREFILL,	/* every event queued before the threads start */
};

#define SH_BATCH	64	/* events per router_push_wait() call */
static unsigned sh_slots = 1u << 14;	/* ring slots of the live phases */
#define SH_RUNS		5		/* best of, for every shard phase */

/* Sink counters, one cache line each: shard threads must not share one. */
struct padded_count {
	_Alignas(64) uint64_t n;
};

static struct router *
bench_router(struct fleet *f, const struct corr_config *cc, unsigned nshards,
    unsigned slots, struct padded_count *nev)
{
	struct corr_sink sinks[ROUTER_MAX_SHARDS];
	struct router *r;
	char err[128];

	for (unsigned i = 0; i < nshards; i++)
		sinks[i] = (struct corr_sink){ &count_ops, &nev[i].n };
	r = router_new(f, cc, nshards, 1, slots, sinks, err, sizeof(err));
	if (r == NULL) {
		fprintf(stderr, "corrbench: %s\n", err);
		exit(1);
	}
	return r;
}

/*
 * The router with nshards threads and one producer.  Live modes: the
 * producer pushes while the shards run (the pipeline a poll thread feeds;
 * the producer needs a core of its own).  SH_PREFILL: every event is queued
 * before the threads start and only the draining is timed (how correlation
 * work scales with shards).
 */
static struct phase
shards_once(struct fleet *f, const struct corr_config *cc,
    const struct alarm_event *evs, size_t n, unsigned nshards,
    uint64_t *events, enum shard_mode mode)
{
	struct padded_count nev[ROUTER_MAX_SHARDS];
	struct router *r;
	struct phase ph;
	double w, c;
	unsigned slots = sh_slots;

	memset(nev, 0, sizeof(nev));
	while (mode == SH_PREFILL && slots <= n)
		slots <<= 1;
	r = bench_router(f, cc, nshards, slots, nev);
	if (mode == SH_PREFILL &&
	    router_push_wait(r, 0, evs, n, 0, NULL) != 0) {
		fprintf(stderr, "corrbench: prefill failed\n");
		exit(1);
	}
	w = pb_wall_s();
	c = pb_cpu_s(RUSAGE_SELF);
	if (router_start(r) != 0) {
		fprintf(stderr, "corrbench: cannot start shard threads\n");
		exit(1);
	}
	for (size_t i = 0; mode != SH_PREFILL && i < n; ) {
		size_t k = mode == SH_LIVE_ONE ? 1 :
		    (n - i < SH_BATCH ? n - i : SH_BATCH);

		if (mode == SH_LIVE_ONE && router_push(r, 0, evs + i) == 0) {
			i++;
			continue;
		}
		/* ring full: back off (yield the core to the shards) */
		if (router_push_wait(r, 0, evs + i, k, 60000, NULL) != 0) {
			fprintf(stderr, "corrbench: shards stalled\n");
			exit(1);
		}
		i += k;
	}
	router_stop(r);
	ph.wall = pb_wall_s() - w;
	ph.cpu = pb_cpu_s(RUSAGE_SELF) - c;
	*events = 0;
	for (unsigned i = 0; i < nshards; i++)
		*events += nev[i].n;
	router_free(r);
	return ph;
}

/*
 * The producer alone: route and queue the day into 2 shards' rings of the
 * live size, chunk by chunk, with no shard thread running while it pushes:
 * its CPU cost per event, p.  Between chunks the shards drain the rings
 * (not timed), so each chunk writes slots another core just read, as in a
 * live pipeline.  A first chunk, not timed, faults the pages in.
 */
static double
producer_once(struct fleet *f, const struct corr_config *cc,
    const struct alarm_event *evs, size_t n, int batch)
{
	struct padded_count nev[2];
	struct router *r;
	const size_t slots = sh_slots;
	double total = 0;

	memset(nev, 0, sizeof(nev));
	r = bench_router(f, cc, 2, sh_slots, nev);
	for (size_t base = 0, warm = 1; base < n; ) {
		size_t end = base + slots < n ? base + slots : n;
		double w = pb_thread_cpu_s();

		for (size_t i = base; i < end; ) {
			size_t k = end - i < SH_BATCH ? end - i : SH_BATCH;
			int rc = batch ? router_push_batch(r, 0, evs + i,
			    k) : router_push(r, 0, evs + i) == 0;

			if (rc <= 0) {
				fprintf(stderr, "corrbench: producer: %d\n", rc);
				exit(1);
			}
			i += (size_t)rc;
		}
		w = pb_thread_cpu_s() - w;
		if (router_start(r) != 0) {
			fprintf(stderr, "corrbench: cannot start shards\n");
			exit(1);
		}
		router_stop(r);
		if (warm) {
			warm = 0;	/* the same chunk again, timed */
			continue;
		}
		total += w;
		base = end;
	}
	router_free(r);
	return total;
}

/* One engine over its part of the day, on its own thread. */
struct engine_job {
	struct fleet	*f;
	const struct corr_config *cc;
	unsigned	 shard;		/* engine's shard number */
	const struct alarm_event *evs;	/* its events, in order */
	size_t		 n;
	struct corr_engine *engine;	/* made and freed outside the timing */
	uint64_t	 nev;		/* its sink's event count */
	pthread_t	 thread;
};

static void *
engine_job_main(void *arg)
{
	struct engine_job *j = arg;

	for (size_t i = 0; i < j->n; i++)
		corr_engine_alarm(j->engine, &j->evs[i]);
	return NULL;
}

/*
 * The ceiling of any shard layer: the day split as the router splits it
 * for 2 shards, each half run by its own engine, no rings and no producer;
 * threads = 1 runs the halves in turn, 2 on two threads at once.  Like the
 * shard phases, engine creation and teardown are outside the timing.
 */
static double
engines_once(struct engine_job *jobs, int threads)
{
	double w;

	for (int i = 0; i < 2; i++) {
		struct corr_sink sink = { &count_ops, &jobs[i].nev };

		jobs[i].engine = corr_engine_new(jobs[i].f, jobs[i].cc,
		    jobs[i].shard, &sink);
	}
	w = pb_wall_s();
	if (threads == 1) {
		engine_job_main(&jobs[0]);
		engine_job_main(&jobs[1]);
	} else {
		for (int i = 0; i < 2; i++) {
			if (pthread_create(&jobs[i].thread, NULL,
			    engine_job_main, &jobs[i]) != 0) {
				fprintf(stderr, "corrbench: pthread_create\n");
				exit(1);
			}
		}
		for (int i = 0; i < 2; i++)
			pthread_join(jobs[i].thread, NULL);
	}
	w = pb_wall_s() - w;
	for (int i = 0; i < 2; i++)
		corr_engine_free(jobs[i].engine);
	return w;
}

/*
 * Shards, best of SH_RUNS each: the producer alone, then live one event per
 * push, live batched, pre-filled rings; within each, 1 then 2 shards
 * (sh[2 * mode + k]).  Runs interleave so a burst of load from other users
 * of the machine hits 1 and 2 shards alike.  Prints its table rows.
 */
static void
shard_phases(struct fleet *f, const struct corr_config *cc,
    const struct alarm_event *evs, size_t n)
{
	struct phase sh[6];
	uint64_t shev[6] = { 0 };
	double prod_one = 1e9, prod_batch = 1e9;

	struct engine_job jobs[2];
	struct alarm_event *half[2];
	double eng1 = 1e9, eng2 = 1e9;

	/* the day split as a 2-shard router splits it */
	{
		struct padded_count nev[2];
		struct router *r = bench_router(f, cc, 2, 64, nev);

		for (int k = 0; k < 2; k++) {
			half[k] = xcalloc(n ? n : 1, sizeof(*evs));
			jobs[k] = (struct engine_job){ f, cc, (unsigned)k,
			    half[k], 0, NULL, 0, 0 };
		}
		for (size_t i = 0; i < n; i++) {
			struct engine_job *j =
			    &jobs[router_shard_of(r, evs[i].site)];

			half[j->shard][j->n++] = evs[i];
		}
		router_free(r);
	}
	for (int k = 0; k < 6; k++)
		sh[k] = (struct phase){ 1e9, 0 };
	for (int i = 0; i < SH_RUNS; i++) {
		double e1 = engines_once(jobs, 1), e2 = engines_once(jobs, 2);

		eng1 = e1 < eng1 ? e1 : eng1;
		eng2 = e2 < eng2 ? e2 : eng2;
		double p1 = producer_once(f, cc, evs, n, 0);
		double pb = producer_once(f, cc, evs, n, 1);

		prod_one = p1 < prod_one ? p1 : prod_one;
		prod_batch = pb < prod_batch ? pb : prod_batch;
		for (int k = 0; k < 6; k++) {
			struct phase p = shards_once(f, cc, evs, n,
			    (unsigned)(k % 2) + 1, &shev[k],
			    (enum shard_mode)(k / 2));
			if (p.wall < sh[k].wall)
				sh[k] = p;
		}
	}

	{
		static const char *names[6] = {
			"1 shard, live push", "2 shards, live push",
			"1 shard, live batch push", "2 shards, live batch push",
			"1 shard, pre-filled ring", "2 shards, pre-filled rings",
		};
		/*
		 * CPU ns per event: producer alone (p), one shard draining a
		 * pre-filled ring (c; the main thread only waits in join).
		 */
		double p1 = prod_one * 1e9 / n, pb = prod_batch * 1e9 / n;
		double cs = sh[4].cpu * 1e9 / n;

		for (int k = 0; k < 6; k++) {
			if (k % 2 == 0)
				printf("  %-28s %9.3f %9.3f %12.0f %9s\n",
				    names[k], sh[k].wall, sh[k].cpu,
				    n / sh[k].wall, "1.00");
			else
				printf("  %-28s %9.3f %9.3f %12.0f %8.2fx  "
				    "(target >= 1.7x)\n", names[k], sh[k].wall,
				    sh[k].cpu, n / sh[k].wall,
				    sh[k - 1].wall / sh[k].wall);
		}
		printf("  producer alone: %.1f ns/event one per push, %.1f "
		    "ns/event batched (%d); one shard alone c = %.1f ns/event (CPU)\n",
		    p1, pb, SH_BATCH, cs);
		/*
		 * Three busy threads on two cores: 1 shard takes max(p, c) per
		 * event, 2 shards at best (p + c) / 2 (all work shared by two
		 * cores), so the live ratio is at most 2 max(p, c) / (p + c).
		 */
		printf("  2-core bound on the live ratio 2*max(p,c)/(p+c): "
		    "%.2fx one per push, %.2fx batched (cores online: %ld)\n",
		    2 * (p1 > cs ? p1 : cs) / (p1 + cs),
		    2 * (pb > cs ? pb : cs) / (pb + cs),
		    sysconf(_SC_NPROCESSORS_ONLN));
		printf("  ceiling, no rings: 2 engines on their halves in "
		    "turn %.3f s, on 2 threads %.3f s: %.2fx\n", eng1, eng2,
		    eng1 / eng2);
		/*
		 * Pre-filled rings have no producer and the ceiling no rings:
		 * if they did not scale, the machine (shared, or its memory
		 * system) did not give two engines 1.7x in this run, and the
		 * live ratio cannot show it either.
		 */
		if (sh[4].wall / sh[5].wall < 1.7 || eng1 / eng2 < 1.7)
			printf("  note: pre-filled rings %.2fx, no-ring ceiling "
			    "%.2fx: two engines did not scale 1.7x on this "
			    "machine in this run\n", sh[4].wall / sh[5].wall,
			    eng1 / eng2);
	}
	printf("  shard events: %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
	    " %" PRIu64 " %" PRIu64 " (same work: %s)\n", shev[0], shev[1],
	    shev[2], shev[3], shev[4], shev[5],
	    shev[0] == shev[1] && shev[1] == shev[2] && shev[2] == shev[3] &&
	    shev[3] == shev[4] && shev[4] == shev[5] ? "yes" : "NO");
	xfree(half[0]);
	xfree(half[1]);
}

/*
 * Memory load in a forked child (fresh allocator state for the engine):
 * kind 0 raises COMM_LOSS on every device without a gateway (FSUs and
 * power units) and then on every device behind a gateway: few incidents,
 * many alarms.  Kind 1 raises DOOR_OPEN on the first device of each site:
 * one incident of one alarm per site.  Kind 2 runs the generated day.
 * Writes {rss_kib, alarms, incidents} to the parent.
 */
struct memres {
	long	 rss_kib;	/* peak RSS growth */
	size_t	 bytes;		/* allocator's live bytes growth (jemalloc) */
	uint64_t alarms;
	uint64_t incidents;
};

static struct memres
mem_child(struct fleet *f, const struct corr_config *cc, int kind,
    const struct alarm_event *day, size_t nday)
{
	struct memres res = { 0, 0, 0, 0 };
	int fds[2];
	pid_t pid;

	if (pipe(fds) != 0 || (pid = fork()) < 0) {
		perror("corrbench: fork");
		exit(1);
	}
	if (pid == 0) {
		uint64_t nev = 0;
		struct corr_sink sink = { &count_ops, &nev };
		struct corr_engine *e;
		struct corr_stats st;
		uint16_t code = kind == 0 ? FLEET_CODE_COMM_LOSS :
		    (uint16_t)fleet_find_code(f, "DOOR_OPEN");
		int64_t t = 1795392000000LL;
		long before;
		size_t bytes0;

		close(fds[0]);
		e = corr_engine_new(f, cc, 0, &sink);
		before = pb_maxrss_kib();
		bytes0 = mem_allocated();
		if (kind == 2) {
			for (size_t i = 0; i < nday; i++)
				corr_engine_alarm(e, &day[i]);
		}
		for (int pass = 0; kind != 2 && pass < 2; pass++) {
			for (size_t d = 0; d < f->ndevices; d++) {
				struct alarm_event ev = { 0 };
				int gw = f->devices[d].via == FLEET_NONE;

				/* kind 0: gateways first, then the rest */
				if (kind == 0 && (pass == 0) != gw)
					continue;
				if (kind == 1 && (pass == 1 || (d > 0 &&
				    f->devices[d - 1].site == f->devices[d].site)))
					continue;
				ev.at_ms = t++;
				ev.device = (uint32_t)d;
				ev.site = f->devices[d].site;
				ev.code = code;
				ev.severity = SEV_MAJOR;
				corr_engine_alarm(e, &ev);
			}
		}
		corr_engine_stats(e, &st);
		res.rss_kib = pb_maxrss_kib() - before;
		res.bytes = mem_allocated() - bytes0;
		res.alarms = st.live_alarms;
		res.incidents = st.live_incidents;
		if (write(fds[1], &res, sizeof(res)) != sizeof(res))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	if (read(fds[0], &res, sizeof(res)) != sizeof(res))
		fprintf(stderr, "corrbench: memory child failed\n");
	close(fds[0]);
	waitpid(pid, NULL, 0);
	return res;
}

/* A program run as its own process: its wall, CPU and peak RSS. */
struct child {
	double	 wall;		/* seconds */
	double	 cpu;		/* user + system seconds (wait4) */
	long	 rss_kib;	/* its peak RSS */
};

/*
 * Runs argv with stdout to outpath and stderr to errpath; returns 0 when
 * it exited 0.  wait4() gives the child's own rusage, so the figures are
 * its alone (getrusage(RUSAGE_CHILDREN) would mix in every child's).
 */
static int
run_child_here(char *const argv[], const char *outpath, const char *errpath,
    struct child *ch)
{
	struct rusage ru;
	double w = pb_wall_s();
	pid_t pid;
	int st;

	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		int o = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (wait4(pid, &st, 0, &ru) != pid)
		return -1;
	ch->wall = pb_wall_s() - w;
	ch->cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	ch->rss_kib = ru.ru_maxrss;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/*
 * The spawner: a process forked at start, while corrbench is still small,
 * that runs the shipped phases' programs for it.  A child's peak RSS
 * starts at the size of the process it was forked from (exec keeps the
 * old image's high-water mark in ru_maxrss), so forking them from a
 * corrbench holding the day would report its 60+ MB for each of them.
 * Requests are argv strings, each NUL-terminated, after the output and
 * error paths; the answer is the exit status and struct child.
 */
#define SPAWN_MAX	4096
static int spawn_req = -1, spawn_ans = -1;

static void
spawner_start(void)
{
	int req[2], ans[2];
	pid_t pid;

	if (pipe(req) != 0 || pipe(ans) != 0 || (pid = fork()) < 0) {
		perror("corrbench: spawner");
		exit(1);
	}
	if (pid == 0) {
		char buf[SPAWN_MAX], *argv[16];
		size_t len;

		close(req[1]);
		close(ans[0]);
		while (read(req[0], &len, sizeof(len)) == sizeof(len) &&
		    len < sizeof(buf) && read(req[0], buf, len) == (ssize_t)len) {
			struct { int rc; struct child ch; } a = { -1, { 0, 0, 0 } };
			char *p = buf, *end = buf + len, *out, *err;
			int n = 0;

			out = p;
			p += strlen(p) + 1;
			err = p;
			p += strlen(p) + 1;
			while (p < end && n < 15) {
				argv[n++] = p;
				p += strlen(p) + 1;
			}
			argv[n] = NULL;
			a.rc = run_child_here(argv, out, err, &a.ch);
			if (write(ans[1], &a, sizeof(a)) != sizeof(a))
				_exit(1);
		}
		_exit(0);
	}
	close(req[0]);
	close(ans[1]);
	spawn_req = req[1];
	spawn_ans = ans[0];
}

/* run_child_here() in the spawner. */
static int
run_child(char *const argv[], const char *outpath, const char *errpath,
    struct child *ch)
{
	struct { int rc; struct child ch; } a;
	char buf[SPAWN_MAX];
	size_t len = 0;
	const char *parts[18];
	int n = 0;

	parts[n++] = outpath;
	parts[n++] = errpath;
	for (int i = 0; argv[i] != NULL && n < 17; i++)
		parts[n++] = argv[i];
	for (int i = 0; i < n; i++) {
		size_t k = strlen(parts[i]) + 1;

		if (len + k > sizeof(buf))
			return -1;
		memcpy(buf + len, parts[i], k);
		len += k;
	}
	if (write(spawn_req, &len, sizeof(len)) != sizeof(len) ||
	    write(spawn_req, buf, len) != (ssize_t)len ||
	    read(spawn_ans, &a, sizeof(a)) != sizeof(a))
		return -1;
	*ch = a.ch;
	return a.rc;
}

/* The first len - 1 bytes of a file as a string (for a child's report). */
static void
slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = f != NULL ? fread(buf, 1, len - 1, f) : 0;

	buf[n] = '\0';
	if (f != NULL)
		fclose(f);
}

static long long
file_size(const char *p)
{
	struct stat sb;

	return stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
}

static int
file_exists(const char *p)
{
	struct stat sb;

	return stat(p, &sb) == 0 && sb.st_size > 0;
}

static double
parse_field(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	return p != NULL ? strtod(p + strlen(key), NULL) : -1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: corrbench [--small] [--sites N] [--seed N] "
	    "[--data DIR] [--src DIR] [--shards-only] [--slots N]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *data = "build/bench-data", *src = ".";
	int sites = 10000, seed = 20261123, shards_only = 0;
	char fpath[512], cpath[512], apath[512], epath[512], rpath[512], cmd[4096],
	    reftext[2048], dpath[512], kpath[512], tpath[512], lpath[512],
	    xpath[512], npath[512], bindir[PATH_MAX], tocsind[PATH_MAX + 16],
	    floor[PATH_MAX + 16], lite[600], text[2048];
	struct child sh_floor = { 1e9, 0, 0 }, sh_e2e = { 1e9, 0, 0 },
	    sh_cfg = { 1e9, 0, 0 }, sh_lite = { 1e9, 0, 0 };
	long long ev_bytes;
	struct phase ref_e2e, ref_sum, c_e2e, c_parse, c_core = { 1e9, 0 },
	    c_nosla = { 1e9, 0 };
	struct corr_config cc, cc_nosla;
	struct config *cfg;
	struct corr_stats st, st_nosla;
	struct alarm_event *evs;
	struct memres m_alarm, m_inc, m_day;
	struct fleet *f;
	size_t n;
	double ref_core, w, c, a_bytes, i_bytes;
	FILE *out, *devnull;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--small") == 0)
			sites = 1000;
		else if (strcmp(argv[i], "--sites") == 0 && i + 1 < argc)
			sites = atoi(argv[++i]);
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			seed = atoi(argv[++i]);
		else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
			data = argv[++i];
		else if (strcmp(argv[i], "--src") == 0 && i + 1 < argc)
			src = argv[++i];
		else if (strcmp(argv[i], "--shards-only") == 0)
			shards_only = 1;
		else if (strcmp(argv[i], "--slots") == 0 && i + 1 < argc)
			sh_slots = (unsigned)atoi(argv[++i]);
		else
			usage();
	}
	if (sites < 10 || sh_slots < 64 || (sh_slots & (sh_slots - 1)) != 0)
		usage();
	if (!shards_only)
		spawner_start();	/* while this process is small */
	snprintf(cmd, sizeof(cmd), "mkdir -p %s", data);
	if (system(cmd) != 0)
		return 1;
	snprintf(fpath, sizeof(fpath), "%s/corr-%d-%d.fleet.json", data, seed,
	    sites);
	snprintf(cpath, sizeof(cpath), "%s/corr-%d-%d.yaml", data, seed, sites);
	snprintf(apath, sizeof(apath), "%s/corr-%d-%d.alarms.jsonl", data,
	    seed, sites);
	snprintf(epath, sizeof(epath), "%s/corr-%d-%d.c-events.jsonl", data,
	    seed, sites);
	snprintf(rpath, sizeof(rpath), "%s/corr-%d-%d.ref-events.jsonl", data,
	    seed, sites);
	/* corrgen.py writes the inventory beside the config */
	snprintf(dpath, sizeof(dpath), "%s/corr-%d-%d-devices.csv", data, seed,
	    sites);
	snprintf(kpath, sizeof(kpath), "%s/corr-%d-%d.compact.txt", data, seed,
	    sites);
	snprintf(tpath, sizeof(tpath), "%s/corr-%d-%d.tocsind-events.jsonl",
	    data, seed, sites);
	snprintf(lpath, sizeof(lpath), "%s/corr-%d-%d.lite-events.txt", data,
	    seed, sites);
	snprintf(xpath, sizeof(xpath), "%s/corr-%d-%d.child-stderr.txt", data,
	    seed, sites);
	snprintf(npath, sizeof(npath), "%s/corr-empty.jsonl", data);
	if (!file_exists(fpath) || !file_exists(cpath) || !file_exists(apath) ||
	    !file_exists(kpath)) {
		struct phase g;

		snprintf(cmd, sizeof(cmd), "python3 %s/bench/corrgen.py --seed %d "
		    "--sites %d --fleet %s --config %s --alarms %s --compact %s",
		    src, seed, sites, fpath, cpath, apath, kpath);
		fprintf(stderr, "corrbench: generating: %s\n", cmd);
		if (run_cmd(cmd, &g, NULL, 0) != 0)
			return 1;
	}
	/* the C side reads the day's fleet as tocsind does: its YAML config */
	{
		struct config_errors errs = { NULL, 0 };

		if ((cfg = config_load(cpath, &errs)) == NULL) {
			for (size_t i = 0; i < errs.n; i++)
				fprintf(stderr, "%s\n", errs.msg[i]);
			config_errors_free(&errs);
			return 1;
		}
	}
	f = cfg->fleet;
	cc = cfg->correlation;		/* defaults, clocks on cfg->sla */
	cc_nosla = cc;
	cc_nosla.sla = NULL;
	fleet_code(f, "DOOR_OPEN");
	devnull = fopen("/dev/null", "w");

	/* memory first, before this process has freed anything */
	if (!shards_only) {
		m_alarm = mem_child(f, &cc, 0, NULL, 0);
		m_inc = mem_child(f, &cc, 1, NULL, 0);
	}

	/* C parse into memory (also the input of the core and shard phases) */
	w = pb_wall_s();
	c = pb_cpu_s(RUSAGE_SELF);
	if (replay_read_all(apath, f, 0, &evs, &n, devnull) != 0)
		return 1;
	c_parse.wall = pb_wall_s() - w;
	c_parse.cpu = pb_cpu_s(RUSAGE_SELF) - c;

	if (shards_only) {
		printf("corrbench: seed=%d sites=%zu devices=%zu transitions=%zu"
		    " (shards only)\n", seed, f->nsites, f->ndevices, n);
		printf("  %-28s %9s %9s %12s %9s\n", "phase", "wall_s",
		    "cpu_s", "events/s", "ratio");
		shard_phases(f, &cc, evs, n);
		printf("  process: cpu_s=%.2f peak_rss=%ld KiB\n",
		    pb_cpu_s(RUSAGE_SELF), pb_maxrss_kib());
		xfree(evs);
		config_free(cfg);
		fclose(devnull);
		return 0;
	}

	/* the day: RSS is muddied by the parse's freed buffers, bytes are not */
	m_day = mem_child(f, &cc, 2, evs, n);

	/* reference */
	snprintf(cmd, sizeof(cmd), "python3 %s/bench/refcorr.py %s %s "
	    "--events %s --time 2>&1", src, fpath, apath, rpath);
	if (run_cmd(cmd, &ref_e2e, reftext, sizeof(reftext)) != 0) {
		fprintf(stderr, "corrbench: reference failed: %s\n", reftext);
		return 1;
	}
	snprintf(cmd, sizeof(cmd), "python3 %s/bench/refcorr.py %s %s "
	    "--summary /dev/null --time 2>&1", src, fpath, apath);
	if (run_cmd(cmd, &ref_sum, reftext, sizeof(reftext)) != 0) {
		fprintf(stderr, "corrbench: reference failed: %s\n", reftext);
		return 1;
	}
	ref_core = parse_field(reftext, "correlate_s=");

	/* C end to end */
	out = fopen(epath, "w");
	w = pb_wall_s();
	c = pb_cpu_s(RUSAGE_SELF);
	if (out == NULL || replay_run(apath, f, &cc, 0, out, devnull) != 0)
		return 1;
	fclose(out);
	c_e2e.wall = pb_wall_s() - w;
	c_e2e.cpu = pb_cpu_s(RUSAGE_SELF) - c;

	/*
	 * The product as shipped and its baselines, each its own process,
	 * interleaved so that the machine's other load falls on all alike.
	 * tocsind is this build's: bench/corrbench's directory's parent.
	 */
	{
		ssize_t bl = readlink("/proc/self/exe", bindir, sizeof(bindir) - 1);
		char *slash;
		FILE *nf = fopen(npath, "w");

		if (bl <= 0 || nf == NULL)
			return 1;
		fclose(nf);
		bindir[bl] = '\0';
		if ((slash = strrchr(bindir, '/')) != NULL)
			*slash = '\0';
		snprintf(floor, sizeof(floor), "%s/replayfloor", bindir);
		snprintf(tocsind, sizeof(tocsind), "%s/../tocsind", bindir);
		snprintf(lite, sizeof(lite), "%s/bench/corrlite.py", src);
	}
	for (int i = 0; i < 3; i++) {
		char *fl_argv[] = { floor, dpath, apath, NULL };
		char *e2e_argv[] = { tocsind, "--replay", apath, "-c", cpath,
		    NULL };
		char *cfg_argv[] = { tocsind, "--replay", npath, "-c", cpath,
		    NULL };
		char *lite_argv[] = { "python3", lite, kpath, "--events", lpath,
		    NULL };
		struct child ch;

		if (run_child(fl_argv, "/dev/null", xpath, &ch) != 0) {
			slurp(xpath, text, sizeof(text));
			fprintf(stderr, "corrbench: %s failed: %s\n", floor, text);
			return 1;
		}
		if (ch.wall < sh_floor.wall)
			sh_floor = ch;
		if (run_child(e2e_argv, tpath, xpath, &ch) != 0) {
			slurp(xpath, text, sizeof(text));
			fprintf(stderr, "corrbench: %s failed: %s\n", tocsind, text);
			return 1;
		}
		if (ch.wall < sh_e2e.wall)
			sh_e2e = ch;
		if (run_child(cfg_argv, "/dev/null", xpath, &ch) != 0)
			return 1;
		if (ch.wall < sh_cfg.wall)
			sh_cfg = ch;
		if (run_child(lite_argv, "/dev/null", xpath, &ch) != 0) {
			slurp(xpath, text, sizeof(text));
			fprintf(stderr, "corrbench: corrlite failed: %s\n", text);
			return 1;
		}
		if (ch.wall < sh_lite.wall)
			sh_lite = ch;
	}
	ev_bytes = file_size(tpath);

	/* C core, best of 3 */
	for (int i = 0; i < 3; i++) {
		struct phase p = core_once(f, &cc, evs, n, &st);
		if (p.wall < c_core.wall)
			c_core = p;
		p = core_once(f, &cc_nosla, evs, n, &st_nosla);
		if (p.wall < c_nosla.wall)
			c_nosla = p;
	}
	/*
	 * Per item: the alarm load is G gateway incidents holding A alarms,
	 * the incident load I incidents of one alarm each.  With x bytes per
	 * alarm and y per incident (without its alarms):
	 *   rss_alarm = G*y + A*x,  rss_inc = I*(x + y).
	 */
	{
		double A = (double)m_alarm.alarms, G = (double)m_alarm.incidents;
		double I = (double)m_inc.incidents;
		/*
		 * Live bytes, not RSS: a forked child maps pages its parent's
		 * allocator already holds (the fleet's JSON parse freed many),
		 * so its RSS growth undercounts; jemalloc's stats.allocated
		 * counts every byte handed out, size classes included.
		 */
		double ra = (double)m_alarm.bytes, ri = (double)m_inc.bytes;
		double xy = I > 0 ? ri / I : 0;

		a_bytes = A - G > 0 ? (ra - G * xy) / (A - G) : 0;
		i_bytes = xy;	/* an open incident with its one alarm */
	}

	printf("corrbench: seed=%d sites=%zu devices=%zu transitions=%zu "
	    "(allocator %s)\n", seed, f->nsites, f->ndevices, n,
	    mem_allocator());
	printf("  day: incidents=%" PRIu64 " area=%" PRIu64 " events=%" PRIu64
	    " repeats=%" PRIu64 " stray=%" PRIu64 " explained=%" PRIu64
	    " reparented=%" PRIu64 " open_at_end=%" PRIu64 "\n", st.opened,
	    st.area_opened, st.events, st.repeats, st.stray_clears,
	    st.explained, st.reparented, st.live_incidents);
	printf("  sla: warnings=%" PRIu64 " breaches=%" PRIu64 " escalations=%"
	    PRIu64 " (events without clocks: %" PRIu64 "); struct corr_incident "
	    "%zu B of which the embedded struct sla_incident %zu B\n",
	    st.sla_warnings, st.sla_breaches, st.escalations, st_nosla.events,
	    sizeof(struct corr_incident), sizeof(struct sla_incident));
	printf("  %-28s %9s %9s %12s %9s\n", "phase", "wall_s", "cpu_s",
	    "events/s", "ratio");
	printf("  %-28s %9.3f %9.3f %12.0f %9s\n", "ref e2e (python)",
	    ref_e2e.wall, ref_e2e.cpu, n / ref_e2e.wall, "1.00");
	printf("  %-28s %9.3f %9s %12.0f %9s\n", "ref core (python)", ref_core,
	    "-", n / ref_core, "1.00");
	printf("  %-28s %9.3f %9.3f %12.0f %8.2fx  (target >= 5x)\n",
	    "c e2e (replay_run)", c_e2e.wall, c_e2e.cpu, n / c_e2e.wall,
	    ref_e2e.wall / c_e2e.wall);
	printf("  %-28s %9.3f %9.3f %12.0f %9s  (target >= 4000000 lines/s)\n",
	    "c parse into memory", c_parse.wall, c_parse.cpu, n / c_parse.wall,
	    "-");
	printf("  %-28s %9.3f %9.3f %12.0f %8.2fx  (target >= 20x)\n",
	    "c core (1 engine, best of 3)", c_core.wall, c_core.cpu,
	    n / c_core.wall, ref_core / c_core.wall);
	printf("  %-28s %9.3f %9.3f %12.0f %8.2fx  (SLA cost: ratio to this)\n",
	    "c core, SLA clocks off", c_nosla.wall, c_nosla.cpu,
	    n / c_nosla.wall, ref_core / c_nosla.wall);
	shard_phases(f, &cc, evs, n);
	printf("  shipped, each its own process (best of 3): wall_s, cpu_s, "
	    "lines/s, peak RSS\n");
	printf("  %-28s %9.3f %9.3f %12.0f %9s  peak_rss=%ld KiB\n",
	    "floor (replayfloor)", sh_floor.wall, sh_floor.cpu,
	    n / sh_floor.wall, "1.00", sh_floor.rss_kib);
	printf("  %-28s %9.3f %9.3f %12.0f %8.2fx  peak_rss=%ld KiB  "
	    "(target <= 3x the floor)\n", "tocsind --replay e2e",
	    sh_e2e.wall, sh_e2e.cpu, n / sh_e2e.wall,
	    sh_e2e.wall / sh_floor.wall, sh_e2e.rss_kib);
	printf("  %-28s %9.3f %9.3f %12s %8.2fx  peak_rss=%ld KiB  "
	    "(of the e2e: loading the config)\n", "tocsind --replay, no lines",
	    sh_cfg.wall, sh_cfg.cpu, "-", sh_cfg.wall / sh_floor.wall,
	    sh_cfg.rss_kib);
	printf("  %-28s %9.3f %9.3f %12.0f %8.2fx  peak_rss=%ld KiB  "
	    "(target: tocsind >= 2x faster)\n", "corrlite (python)",
	    sh_lite.wall, sh_lite.cpu, n / sh_lite.wall,
	    sh_lite.wall / sh_e2e.wall, sh_lite.rss_kib);
	printf("  shipped: e2e %.2fx the floor (target <= 3x), %.2fx faster "
	    "than corrlite (target >= 2x); events %lld B, %.1f B per input "
	    "transition\n", sh_e2e.wall / sh_floor.wall,
	    sh_lite.wall / sh_e2e.wall, ev_bytes, n ? (double)ev_bytes / n : 0);
	printf("  memory: alarm load: peak RSS +%ld KiB, live +%zu B for %"
	    PRIu64 " alarms on %" PRIu64 " incidents\n", m_alarm.rss_kib,
	    m_alarm.bytes, m_alarm.alarms, m_alarm.incidents);
	printf("          incident load: peak RSS +%ld KiB, live +%zu B for %"
	    PRIu64 " incidents of one alarm\n", m_inc.rss_kib, m_inc.bytes,
	    m_inc.incidents);
	printf("          the day at its end: live +%zu B for %" PRIu64
	    " alarm records on %" PRIu64 " incidents (%.0f B per incident "
	    "with its alarms)\n", m_day.bytes, m_day.alarms, m_day.incidents,
	    m_day.incidents ? (double)m_day.bytes / m_day.incidents : 0.0);
	printf("  per active alarm %.0f B (target < 256), per open incident "
	    "with its alarm %.0f B (target < 2048)  [allocator live bytes]\n",
	    a_bytes, i_bytes);
	printf("  process: cpu_s=%.2f (self) + %.2f (python) peak_rss=%ld KiB\n",
	    pb_cpu_s(RUSAGE_SELF), pb_cpu_s(RUSAGE_CHILDREN), pb_maxrss_kib());
	xfree(evs);
	config_free(cfg);
	fclose(devnull);
	return 0;
}
