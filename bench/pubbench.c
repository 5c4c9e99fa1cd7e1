/*
 * pubbench - the publishing side of tocsind (issue 12): the shard
 * journals, the publish pump with its sinks, and restart, each phase
 * against a baseline timed in the same run.
 *
 *   pubbench [--config YAML] [--edges N] [--open N] [--reps R]
 *            [--data DIR] [--phases journal,redis,kafka,restart,tocsind]
 *   defaults: a generated fleet of 10,000 sites (etc/genfleet.py, cached
 *   under DIR = build/bench-data), 120,000 alarm edges (about 220,000
 *   incident events), 100,000 open incidents, 3 runs of each
 *   measurement, every phase (redis needs the journal phase's journal)
 *
 * Fixed, deterministic work over the fleet's (device, code) pairs whose
 * code is no rule's root (so no raise is explained by another and each
 * opens an incident of its own, no area storm):
 *   journal  N edges (pair i/2 raised, then cleared; 10 ms apart) from one
 *            producer through the real router, 2 shard engines and the
 *            store hooks, as tocsind wires them, with daemon.fsync
 *            "batch" (50 ms) and "always"; timed to the last record
 *            synced.  Baseline, the floor: the same journal bytes written
 *            with write(2) + fdatasync(), as many of each as the store
 *            synced, one thread per shard, to files in the same directory.
 *   redis    a redis-server of its own on a free port (--save ''
 *            --appendonly no).  The batch journal's records through the
 *            real pump (daemon/publish) and Redis sink (drivers/redis) on
 *            a libev loop until every record is done; baselines on the
 *            same server: hiredis issuing the same commands
 *            (redis_record_argv()) one by one and pipelined by 100
 *            (bench/pb_redis.h, shared with bench/redisbase).  Targets:
 *            >= 5x one by one, >= 0.8x pipelined.  Each pump run gets a
 *            fresh copy of the journal (the pump trims what is done).
 *   kafka    a broker of its own (tests/kafka/broker.sh start, stopped at
 *            exit; where it exits 3, librdkafka's mock cluster, said so on
 *            the phase line: the figures are then context only).  The batch
 *            journal's incident events through the real pump and Kafka sink
 *            (drivers/kafka, acks=all, idempotent, no consumer) until every
 *            one is delivered; baseline: kcat -P -K TAB -l with the same
 *            (incident id, JSON) pairs from a file, the same acks, a child
 *            whose CPU comes from wait4().  Fresh topics each run, created
 *            untimed; both must end with every event (high watermark).
 *            Targets: >= 0.8x kcat's rate, <= 1.0x its CPU per event.
 *   restart  a journal of N open incidents (one raise each), restored as
 *            tocsind starts (store_open_all: store_open + store_restore
 *            of every shard at once, a thread each) without and with a snapshot (corr_engine_save at the
 *            end, segments before it trimmed); baseline: read(2) of every
 *            byte of the same files, page cache warm, and again with both
 *            the read and the restore after posix_fadvise(DONTNEED) of the
 *            files (cold).  Target: <= 3x.  The warm lines also give
 *            what the one pass over the journal takes without the engine
 *            (journal_open: the read and the CRC check the restore's
 *            replay rides on), the longest shard's.  After the warm
 *            snapshot restore, a second baseline: the floor of a restore
 *            that used the snapshot in place (its bytes checksummed, the
 *            engine's hash maps and timers built for the same incidents,
 *            nothing decoded), to say how far the engine's restore is from
 *            the least any restore of this state does; and a third: that
 *            floor plus every block the restored engines hold for their
 *            incidents allocated and written (the least a restore that
 *            builds the engine's objects does).
 *   tocsind  the same restart done by the daemon itself (the product as
 *            shipped: bench/pb_tocsind, $TOCSIN_BUILD/tocsind, default
 *            build/default): a journal of N open incidents
 *            ending two seconds before, tocsind -c on a copy of it (the
 *            default fleet's config, its state there, devices refusing on
 *            their 127.x addresses, HTTP on a free loopback port), each
 *            run's restore_ms from its log, its exec to its start line,
 *            CPU and peak RSS; then SIGTERM.  Without and with a
 *            snapshot; baseline: read(2) of the same files, warm.
 *            Target: <= 3x.
 *
 * Tocsin and its baseline run in turn, R times (one by one: once, it is
 * slow); each line gives the medians: wall s, CPU s (user + system of this
 * process, every thread; a server's own CPU, from /proc, apart), events/s,
 * CPU ms per 1,000 events, the process's peak RSS so far (ru_maxrss) and
 * the ratio of the medians to the baseline's, with the target; then the
 * runs' wall range.  docs/benchmarks.md has figures.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "bench/pb_redis.h"
#include "bench/pb_stats.h"
#include "bench/pb_tocsind.h"
#include "correlator/corr.h"
#include "correlator/timerq.h"
#include "correlator/u64map.h"
#include "daemon/clock.h"
#include "daemon/config.h"
#include "daemon/journal.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/publish.h"
#include "daemon/router.h"
#include "daemon/store.h"
#include "drivers/kafka/kafka.h"

#define NSHARDS		2
#define RING_SLOTS	4096		/* as tocsind */
#define PUSH_BATCH	64
#define T0		((int64_t)1796000000000)	/* 2026-12-01 */
#define STEP_MS		10		/* between edges */
#define PIPELINE	100

#define MAX_REPS	16

static int reps = 3;			/* --reps: each measurement's runs */

/* What one run of a phase cost. */
struct meas {
	double	 wall, cpu;		/* s: this process */
	double	 srv;			/* s: the server's CPU, or 0 */
	double	 t0, c0;
};

/* The runs of one measurement, reported by their medians. */
struct series {
	double	 wall[MAX_REPS], cpu[MAX_REPS], srv[MAX_REPS];
	int	 n;
};

static void
meas_begin(struct meas *m)
{
	m->srv = 0;
	m->t0 = pb_wall_s();
	m->c0 = pb_cpu_s(RUSAGE_SELF);
}

static void
meas_end(struct meas *m)
{
	m->wall = pb_wall_s() - m->t0;
	m->cpu = pb_cpu_s(RUSAGE_SELF) - m->c0;
}

static void
series_add(struct series *s, const struct meas *m)
{
	if (s->n < MAX_REPS) {
		s->wall[s->n] = m->wall;
		s->cpu[s->n] = m->cpu;
		s->srv[s->n] = m->srv;
		s->n++;
	}
}

static double
med_wall(const struct series *s)
{
	return pb_median(s->wall, s->n, NULL, NULL);
}

static double
med_cpu(const struct series *s)
{
	return pb_median(s->cpu, s->n, NULL, NULL);
}

/*
 * The one report line of a measurement: medians of its runs; events (0:
 * no rate); ratio (0: none, a baseline) and what it means (its target),
 * then the wall range of the runs and the server's median CPU if any.
 */
static void
report(const char *name, const struct series *s, uint64_t events,
    double ratio, const char *note)
{
	char rate[32] = "-", per1k[32] = "-", r[24] = "", srv[48] = "";
	double wall = med_wall(s), cpu = med_cpu(s), lo, hi;
	double sv = pb_median(s->srv, s->n, NULL, NULL);

	(void)pb_median(s->wall, s->n, &lo, &hi);
	if (events > 0) {
		snprintf(rate, sizeof(rate), "%.0f", events / wall);
		snprintf(per1k, sizeof(per1k), "%.1f",
		    1000.0 * cpu / (double)events * 1000.0);
	}
	if (ratio > 0)
		snprintf(r, sizeof(r), "%.2fx", ratio);
	if (sv > 0)
		snprintf(srv, sizeof(srv), "; server cpu_s=%.2f", sv);
	printf("  %-30s %7.3f %7.3f %9s %9s %8ld %7s  %s [%d runs, wall "
	    "%.3f..%.3f%s]\n", name, wall, cpu, rate, per1k, pb_maxrss_kib(),
	    r, note ? note : "", s->n, lo, hi, srv);
	fflush(stdout);
}

static void
report_header(const char *what)
{
	printf("%s\n  %-30s %7s %7s %9s %9s %8s %7s\n", what, "phase",
	    "wall_s", "cpu_s", "events/s", "cpu_ms/1k", "rss_kib", "ratio");
	fflush(stdout);
}

/* ---- the storm ---- */

struct pair {
	uint32_t	 device;
	uint16_t	 code;
};

static int
code_is_root(const struct config *cfg, const char *code)
{
	for (unsigned i = 0; i < cfg->correlation.nrules; i++)
		if (strcmp(cfg->correlation.rules[i].root, code) == 0)
			return 1;
	return 0;
}

/* Every (device, code) of the fleet whose code is no rule's root. */
static struct pair *
fleet_pairs(const struct config *cfg, size_t *np)
{
	const struct fleet *f = cfg->fleet;
	struct pair *v = NULL;
	size_t n = 0, cap = 0;

	for (uint32_t d = 0; d < f->ndevices; d++) {
		const struct fleet_profile *p =
		    &f->profiles[f->devices[d].profile];

		for (size_t k = 0; k < p->nalarms; k++) {
			uint16_t code = (uint16_t)p->alarms[k].code_id;

			if (code_is_root(cfg, f->codes[code]))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 4096;
				v = xreallocarray(v, cap, sizeof(*v));
			}
			v[n].device = d;
			v[n].code = code;
			n++;
		}
	}
	*np = n;
	return v;
}

/*
 * n edges: raises only (each pair once: open incidents), or pair i/2
 * raised then cleared (the journal storm).
 */
static struct alarm_event *
make_edges(const struct config *cfg, const struct pair *pairs, size_t npairs,
    size_t n, int raise_only, int64_t t0)
{
	struct alarm_event *v = xcalloc(n, sizeof(*v));

	for (size_t i = 0; i < n; i++) {
		const struct pair *p = &pairs[(raise_only ? i : i / 2) % npairs];

		v[i].at_ms = t0 + (int64_t)i * STEP_MS;
		v[i].device = p->device;
		v[i].site = cfg->fleet->devices[p->device].site;
		v[i].point = FLEET_NONE;
		v[i].code = p->code;
		v[i].edge = raise_only || i % 2 == 0 ? ALARM_RAISE : ALARM_CLEAR;
		v[i].severity = SEV_MAJOR;
	}
	return v;
}

/* ---- router + stores, as tocsind wires them ---- */

struct rig {
	struct router	*r;
	struct store	*st[NSHARDS];
};

/* A sink's arg: its slot in rig.st, filled by the shard's restore thread
 * (store_open_all) before the restore's events, as tocsind's live_shard. */
static void
rig_event(void *arg, const struct corr_event *ev)
{
	store_event(*(struct store **)arg, ev);
}

static void
rig_rejected(void *arg, const struct corr_action *a, const char *reason)
{
	store_rejected(*(struct store **)arg, a, reason);
}

static const struct corr_sink_ops rig_ops = {
	.event = rig_event, .rejected = rig_rejected,
};

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "pubbench: %s: %s\n", what, why);
	exit(1);
}

static void
shard_dir(char *buf, size_t len, const char *dir, unsigned i)
{
	snprintf(buf, len, "%s/shard-%u", dir, i);
}

/*
 * The router with one engine per shard reporting to its store, and every
 * shard's store in dir opened and its engine restored, all shards at once
 * (store_open_all, as tocsind).
 */
static void
rig_open(struct rig *rg, const struct config *cfg, const char *dir,
    const struct store_config *tmpl)
{
	struct corr_sink sinks[NSHARDS];
	struct store_config sc[NSHARDS];
	struct corr_engine *engines[NSHARDS];
	char sd[NSHARDS][512], err[600];

	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		die("mkdir", dir);
	for (unsigned i = 0; i < NSHARDS; i++) {
		shard_dir(sd[i], sizeof(sd[i]), dir, i);
		sc[i] = *tmpl;
		sc[i].dir = sd[i];
		sinks[i].ops = &rig_ops;
		sinks[i].arg = &rg->st[i];
	}
	rg->r = router_new(cfg->fleet, &cfg->correlation, NSHARDS, 1,
	    RING_SLOTS, sinks, err, sizeof(err));
	if (rg->r == NULL)
		die("router", err);
	for (unsigned i = 0; i < NSHARDS; i++)
		engines[i] = router_engine(rg->r, i);
	if (store_open_all(sc, NSHARDS, cfg->fleet, engines, 0, rg->st, err,
	    sizeof(err)) < 0)
		die("store_open_all", err);
}

static void
rig_free(struct rig *rg)
{
	router_free(rg->r);
	for (unsigned i = 0; i < NSHARDS; i++)
		store_close(rg->st[i]);
}

/* Feeds the edges through the shards, then stops them: all synced. */
static void
rig_run(struct rig *rg, const struct alarm_event *ev, size_t n)
{
	router_set_hooks(rg->r, &store_hooks, rg->st);
	if (router_start(rg->r) != 0)
		die("router_start", "shard threads");
	for (size_t i = 0; i < n; i += PUSH_BATCH) {
		size_t k = n - i < PUSH_BATCH ? n - i : PUSH_BATCH;

		while (router_push_wait(rg->r, 0, ev + i, k, 1000, NULL) != 0)
			;
	}
	router_stop(rg->r);
	for (unsigned i = 0; i < NSHARDS; i++)
		store_sync(rg->st[i]);
}

struct journal_sum {
	uint64_t	 bytes, syncs, records, snapshots;
	uint64_t	 shard_bytes[NSHARDS], shard_syncs[NSHARDS];
};

static void
rig_sum(struct rig *rg, struct journal_sum *js)
{
	memset(js, 0, sizeof(*js));
	for (unsigned i = 0; i < NSHARDS; i++) {
		struct store_stats ss;

		store_stats(rg->st[i], &ss);
		js->bytes += ss.bytes;
		js->syncs += ss.syncs;
		js->records += ss.records;
		js->snapshots += ss.snapshots;
		js->shard_bytes[i] = ss.bytes;
		js->shard_syncs[i] = ss.syncs;
	}
}

static void
rm_rf(const char *dir)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		die("rm -rf", dir);
}

/* ---- files of a journal directory ---- */

/* Calls fn(path, arg) for every regular file in dir (sorted by name). */
static void
each_file(const char *dir, void (*fn)(const char *path, void *arg),
    void *arg)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort);
	char path[1024];

	if (n < 0)
		die("scandir", dir);
	for (int i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.' &&
		    (strstr(ents[i]->d_name, ".jnl") != NULL ||
		    strstr(ents[i]->d_name, ".snp") != NULL)) {
			snprintf(path, sizeof(path), "%s/%s", dir,
			    ents[i]->d_name);
			fn(path, arg);
		}
		free(ents[i]);
	}
	free(ents);
}

struct readall {
	char		*buf;
	size_t		 cap, len;	/* cap: 0 = count only */
	uint64_t	 bytes;
};

/* read(2) of every byte of path (1 MiB reads), kept when ra->cap allows. */
static void
read_file(const char *path, void *arg)
{
	struct readall *ra = arg;
	static char chunk[1 << 20];
	int fd = open(path, O_RDONLY);
	ssize_t k;

	if (fd < 0)
		die("open", path);
	while ((k = read(fd, chunk, sizeof(chunk))) > 0) {
		ra->bytes += (uint64_t)k;
		if (ra->cap == 0)
			continue;
		if (ra->len + (size_t)k > ra->cap) {
			ra->cap = (ra->len + (size_t)k) * 2;
			ra->buf = xrealloc(ra->buf, ra->cap);
		}
		memcpy(ra->buf + ra->len, chunk, (size_t)k);
		ra->len += (size_t)k;
	}
	close(fd);
}

/* Every journal file of every shard in dir, read(2) to the end. */
static uint64_t
read_journals(const char *dir)
{
	struct readall ra = { 0 };
	char sd[512];

	for (unsigned i = 0; i < NSHARDS; i++) {
		shard_dir(sd, sizeof(sd), dir, i);
		each_file(sd, read_file, &ra);
	}
	return ra.bytes;
}

/* ---- journal phase ---- */

/* The floor of one shard: its bytes in `writes` writes, each synced. */
struct floor_job {
	const char	*path;
	const char	*buf;
	size_t		 len;
	uint64_t	 writes;
};

static void *
floor_write(void *arg)
{
	struct floor_job *fj = arg;
	int fd = open(fj->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	size_t per = fj->len / (fj->writes ? fj->writes : 1) + 1, off = 0;

	if (fd < 0)
		die("open", fj->path);
	while (off < fj->len) {
		size_t k = fj->len - off < per ? fj->len - off : per;
		ssize_t w = write(fd, fj->buf + off, k);

		if (w <= 0)
			die("write", fj->path);
		off += (size_t)w;
		if (fdatasync(fd) != 0)
			die("fdatasync", fj->path);
	}
	close(fd);
	return NULL;
}

/* Writes each shard's journal bytes again, one thread per shard. */
static void
journal_floor(const char *dir, const struct journal_sum *js, struct meas *m)
{
	struct readall ra[NSHARDS];
	struct floor_job fj[NSHARDS];
	pthread_t th[NSHARDS];
	char sd[512], path[NSHARDS][1024];

	memset(ra, 0, sizeof(ra));
	for (unsigned i = 0; i < NSHARDS; i++) {
		shard_dir(sd, sizeof(sd), dir, i);
		ra[i].cap = 1;
		each_file(sd, read_file, &ra[i]);
		snprintf(path[i], sizeof(path[i]), "%s/floor-%u.bin", dir, i);
		fj[i] = (struct floor_job){ path[i], ra[i].buf, ra[i].len,
		    js->shard_syncs[i] };
	}
	meas_begin(m);
	for (unsigned i = 0; i < NSHARDS; i++)
		pthread_create(&th[i], NULL, floor_write, &fj[i]);
	for (unsigned i = 0; i < NSHARDS; i++)
		pthread_join(th[i], NULL);
	meas_end(m);
	for (unsigned i = 0; i < NSHARDS; i++) {
		unlink(path[i]);
		xfree(ra[i].buf);
	}
}

/* The store's defaults as tocsind has them (daemon section). */
static struct store_config
daemon_store(const struct config *cfg, int fsync_mode)
{
	struct store_config sc;

	memset(&sc, 0, sizeof(sc));
	sc.fsync = (uint8_t)fsync_mode;
	sc.fsync_ms = cfg->daemon.fsync_ms;
	sc.snapshot_bytes = (uint64_t)cfg->daemon.snapshot_mb << 20;
	return sc;
}

/* One run of the storm into dir (emptied first). */
static void
journal_run(const struct config *cfg, const char *dir, int fsync_mode,
    const struct alarm_event *ev, size_t n, struct meas *m,
    struct journal_sum *js, uint64_t *events)
{
	struct store_config sc = daemon_store(cfg, fsync_mode);
	struct corr_stats cs;
	struct rig rg;

	rm_rf(dir);
	rig_open(&rg, cfg, dir, &sc);
	meas_begin(m);
	rig_run(&rg, ev, n);
	meas_end(m);
	rig_sum(&rg, js);
	router_stats(rg.r, &cs);
	*events = cs.events;
	rig_free(&rg);
}

/* One fsync mode: the storm and its floor, in turn, reps times. */
static void
journal_mode(const struct config *cfg, const char *dir, int fsync_mode,
    const struct alarm_event *ev, size_t n)
{
	const char *mode = fsync_mode == STORE_FSYNC_ALWAYS ? "always" :
	    "batch";
	struct series tocsin = { .n = 0 }, floor = { .n = 0 };
	struct journal_sum js = { .bytes = 0 };
	uint64_t events = 0;
	struct meas m;
	char name[64], note[200];

	for (int r = 0; r < reps; r++) {
		journal_run(cfg, dir, fsync_mode, ev, n, &m, &js, &events);
		series_add(&tocsin, &m);
		journal_floor(dir, &js, &m);
		series_add(&floor, &m);
	}
	snprintf(name, sizeof(name), "floor write+fdatasync %s", mode);
	snprintf(note, sizeof(note), "%" PRIu64 " bytes, %" PRIu64
	    " writes+syncs", js.bytes, js.syncs);
	report(name, &floor, events, 0, note);
	snprintf(name, sizeof(name), "tocsin journal, fsync %s", mode);
	snprintf(note, sizeof(note), "x the floor's time; %" PRIu64
	    " events, %.0f journal B/event, %" PRIu64 " syncs, %" PRIu64
	    " snapshots", events, (double)js.bytes / (double)events, js.syncs,
	    js.snapshots);
	report(name, &tocsin, events, med_wall(&tocsin) / med_wall(&floor),
	    note);
}

/* ---- redis phase ---- */

/* The journal's output records, copied so they outlive the reader. */
struct recs {
	struct pub_rec	*r;
	const struct pub_rec **p;	/* &r[i], for pb_redis_blocking */
	void		**mem;		/* payload copies and spans */
	size_t		 n, cap;
};

static void
recs_add(struct recs *rs, const struct journal_rec *jr, unsigned shard,
    struct store_spans *sp)
{
	struct journal_rec copy = *jr;
	struct pub_rec pr;
	void *buf = xmalloc(jr->n + 1);

	memcpy(buf, jr->p, jr->n);
	copy.p = buf;
	if (store_pub_rec(&copy, shard, &pr, sp) != 1) {
		xfree(buf);
		return;
	}
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 4096;
		rs->r = xreallocarray(rs->r, rs->cap, sizeof(*rs->r));
		rs->mem = xreallocarray(rs->mem, rs->cap * 2, sizeof(void *));
	}
	rs->mem[2 * rs->n] = buf;
	rs->mem[2 * rs->n + 1] = xmalloc((pr.nsteps + 1) * sizeof(*sp->v));
	if (pr.nsteps > 0)
		memcpy(rs->mem[2 * rs->n + 1], sp->v, pr.nsteps *
		    sizeof(*sp->v));
	pr.steps = rs->mem[2 * rs->n + 1];
	rs->r[rs->n++] = pr;
}

/* Every output record of every shard's journal in dir. */
static void
recs_load(struct recs *rs, const char *dir)
{
	struct store_spans sp = { NULL, 0 };
	char sd[512], err[256];

	memset(rs, 0, sizeof(*rs));
	for (unsigned i = 0; i < NSHARDS; i++) {
		struct journal_config jc = { .dir = sd };
		struct journal_info info;
		struct journal_reader *rd;
		struct journal_rec jr;
		struct journal *j;

		shard_dir(sd, sizeof(sd), dir, i);
		if (journal_open(&j, &jc, &info, err, sizeof(err)) != 0)
			die("journal_open", err);
		rd = journal_reader_new(j, 0);
		while (journal_read(rd, info.end, &jr) == 1)
			recs_add(rs, &jr, i, &sp);
		journal_reader_free(rd);
		journal_close(j);
	}
	rs->p = xcalloc(rs->n ? rs->n : 1, sizeof(*rs->p));
	for (size_t i = 0; i < rs->n; i++)
		rs->p[i] = &rs->r[i];
	xfree(sp.v);
}

static void
recs_free(struct recs *rs)
{
	for (size_t i = 0; i < 2 * rs->n; i++)
		xfree(rs->mem[i]);
	xfree(rs->mem);
	xfree(rs->r);
	xfree(rs->p);
}

struct rserver {
	pid_t		 pid;
	int		 port;
	redisContext	*c;	/* for the baselines and cleanup */
};

static void
redis_cfg(struct redis_config *rc, const struct config *cfg,
    const struct rserver *sv, const char *mode, char *prefix, size_t len)
{
	redis_config_defaults(rc);
	rc->host = "127.0.0.1";
	rc->port = (uint32_t)sv->port;
	rc->id_prefix = cfg->correlation.id_prefix;
	snprintf(prefix, len, "pubbench:%d:%s:", (int)getpid(), mode);
	rc->prefix = prefix;
}

/* One run of a hiredis baseline: batch 1 (one by one) or PIPELINE. */
static uint64_t
redis_baseline(const struct config *cfg, struct rserver *sv,
    const struct recs *rs, unsigned batch, struct meas *m)
{
	const char *mode = batch == 1 ? "one" : "pipelined";
	struct redis_config rc;
	uint64_t ncmd = 0;
	char prefix[64];
	double s0 = pb_proc_cpu_s(sv->pid);

	redis_cfg(&rc, cfg, sv, mode, prefix, sizeof(prefix));
	meas_begin(m);
	if (pb_redis_blocking(sv->c, &rc, rs->p, rs->n, batch, 0,
	    "pubbench", &ncmd) != 0)
		die("redis", mode);
	meas_end(m);
	m->srv = pb_proc_cpu_s(sv->pid) - s0;
	pb_redis_cleanup(sv->c, prefix);
	return ncmd;
}

static void
noop_resync(void *arg)
{
	(void)arg;	/* Redis is empty and the journal holds everything */
}

/* cp -a from to (untimed); from stays as it was. */
static void
copy_dir(const char *from, const char *to)
{
	char cmd[1024];

	rm_rf(to);
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", from, to);
	if (system(cmd) != 0)
		die("cp -a", from);
}

/*
 * Writes out the file system holding path (syncfs, untimed): a journal a
 * daemon restarts on is on disk, so the fdatasync its start ends with
 * must not pay for the writeback of a copy made a moment before (25-30 ms
 * of the 0.19 s restore from a 441 MB journal, measured).
 */
static void
sync_fs(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || syncfs(fd) != 0)
		die("syncfs", path);
	close(fd);
}

/*
 * The pump + Redis sink until every record is done, over a copy of the
 * journals in jdir: the pump trims what its sink has done, and every run
 * must find the whole journal.
 */
static uint64_t
redis_pump(const struct config *cfg, struct rserver *sv, const char *jdir,
    size_t nrec, int guard, struct meas *m)
{
	struct store_config sc = daemon_store(cfg, STORE_FSYNC_BATCH);
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct redis_config rc;
	struct redis_stats rst;
	struct pub_sink *sink;
	struct publish *p;
	struct rig rg;
	char prefix[64], sname[32], dir[600];
	double s0, deadline;
	int idx;

	snprintf(dir, sizeof(dir), "%s.pump", jdir);
	copy_dir(jdir, dir);
	rig_open(&rg, cfg, dir, &sc);
	redis_cfg(&rc, cfg, sv, guard ? "guarded" : "sink", prefix,
	    sizeof(prefix));
	rc.seq_guard = (uint32_t)guard;
	snprintf(sname, sizeof(sname), "bench%d", (int)getpid());
	s0 = pb_proc_cpu_s(sv->pid);
	meas_begin(m);
	p = publish_new(loop, rg.st, NSHARDS, noop_resync, NULL);
	idx = publish_add(p, sname);
	if (redis_new(loop, &rc, publish_host(p, idx), &sink) != 0)
		die("redis_new", "refused");
	publish_attach(p, idx, sink);
	publish_start(p);
	deadline = pb_wall_s() + 600;
	while (!publish_idle(p) && pb_wall_s() < deadline)
		ev_run(loop, EVRUN_ONCE);
	meas_end(m);
	m->srv = pb_proc_cpu_s(sv->pid) - s0;
	redis_stats(sink, &rst);
	if (!publish_idle(p) || rst.errors > 0 || rst.records != nrec ||
	    rst.older_skipped > 0)
		die("redis sink", "not every record done, error replies, or "
		    "records the guard found older");
	publish_stop(p);
	sink->ops->close(sink, 1000);
	publish_free(p);
	ev_loop_destroy(loop);
	rig_free(&rg);
	pb_redis_cleanup(sv->c, prefix);
	rm_rf(dir);
	return rst.commands;
}

/*
 * One by one once (the slowest by far), then pipelined and the pump in
 * turn, reps times, all on one server.
 */
static void
redis_phase(const struct config *cfg, const char *dir, const char *data)
{
	struct series one = { .n = 0 }, pipe = { .n = 0 }, sink = { .n = 0 };
	struct series guard = { .n = 0 };
	struct timeval tv = { 5, 0 };
	struct rserver sv;
	struct recs rs;
	struct meas m;
	uint64_t ncmd = 0, scmd = 0, gcmd = 0;
	char note[200];

	recs_load(&rs, dir);
	if ((sv.pid = pb_redis_start(data, &sv.port)) < 0) {
		printf("redis: skipped: redis-server did not start\n");
		recs_free(&rs);
		return;
	}
	sv.c = redisConnectWithTimeout("127.0.0.1", sv.port, tv);
	if (sv.c == NULL || sv.c->err)
		die("redis", "connect");
	report_header("redis: the batch journal's records, a redis-server "
	    "of our own (cpu_s: this process, the client)");
	ncmd = redis_baseline(cfg, &sv, &rs, 1, &m);
	series_add(&one, &m);
	for (int r = 0; r < reps; r++) {
		(void)redis_baseline(cfg, &sv, &rs, PIPELINE, &m);
		series_add(&pipe, &m);
		scmd = redis_pump(cfg, &sv, dir, rs.n, 0, &m);
		series_add(&sink, &m);
		gcmd = redis_pump(cfg, &sv, dir, rs.n, 1, &m);
		series_add(&guard, &m);
	}
	snprintf(note, sizeof(note), "%" PRIu64 " commands", ncmd);
	report("hiredis one by one", &one, rs.n, 0, note);
	report("hiredis pipelined 100", &pipe, rs.n, 0, note);
	snprintf(note, sizeof(note), "x one by one (target >= 5x); %" PRIu64
	    " commands", scmd);
	report("tocsin pump + redis sink", &sink, rs.n, med_wall(&one) /
	    med_wall(&sink), note);
	snprintf(note, sizeof(note), "x pipelined (target >= 0.8x); CPU "
	    "per event %.2fx pipelined's", med_cpu(&sink) / med_cpu(&pipe));
	report("  the same, vs pipelined", &sink, rs.n, med_wall(&pipe) /
	    med_wall(&sink), note);
	snprintf(note, sizeof(note), "x the sink's rate, unguarded (what "
	    "the correlators' guard costs); CPU per event %.2fx its, server "
	    "CPU %.2fx; %" PRIu64 " scripts", med_cpu(&guard) / med_cpu(&sink),
	    pb_median(guard.srv, guard.n, NULL, NULL) /
	    pb_median(sink.srv, sink.n, NULL, NULL), gcmd);
	report("  seq-guarded (correlators)", &guard, rs.n, med_wall(&sink) /
	    med_wall(&guard), note);
	redisFree(sv.c);
	pb_redis_stop(sv.pid);
	recs_free(&rs);
}

/* ---- kafka phase ---- */

/*
 * The broker: a real one (tests/kafka/broker.sh, stopped at exit, also
 * after die()), or where the machine cannot run one (broker.sh exits 3) a
 * librdkafka mock cluster in this process, said on the phase line.
 */
struct kbench {
	char			 dir[600];	/* broker.sh's, or "" */
	char			 boot[128];
	pid_t			 jpid;		/* the broker's JVM, or 0 */
	rd_kafka_t		*admin;		/* topics and watermarks */
	rd_kafka_t		*mrk;		/* hosts the mock, or NULL */
	rd_kafka_mock_cluster_t	*mock;
};

static char kb_stop_dir[600];		/* for the atexit handler */

static void
kb_stop_atexit(void)
{
	char cmd[1400];

	if (kb_stop_dir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "sh tests/kafka/broker.sh stop '%s' "
	    ">/dev/null 2>&1; rm -rf '%s'", kb_stop_dir, kb_stop_dir);
	kb_stop_dir[0] = '\0';
	(void)system(cmd);
}

/* 0 with kb filled; -1 (said why) when neither broker can be had. */
static int
kb_start(struct kbench *kb, const char *data)
{
	char cmd[1400], line[256], e[512], path[700];
	rd_kafka_conf_t *conf;
	FILE *fp;
	int st;

	memset(kb, 0, sizeof(*kb));
	snprintf(kb->dir, sizeof(kb->dir), "%s/pubbench-%d-kafka", data,
	    (int)getpid());
	rm_rf(kb->dir);
	if (mkdir(kb->dir, 0755) != 0)
		die("mkdir", kb->dir);
	snprintf(kb_stop_dir, sizeof(kb_stop_dir), "%s", kb->dir);
	atexit(kb_stop_atexit);
	/* an orphaned broker (this process killed) dies within 30 min */
	snprintf(cmd, sizeof(cmd), "BROKER_LIFETIME=1800 timeout 300 sh "
	    "tests/kafka/broker.sh start '%s' 2>'%s/start.err'", kb->dir,
	    kb->dir);
	if ((fp = popen(cmd, "r")) == NULL)
		die("popen", "broker.sh");
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "bootstrap=", 10) == 0)
			snprintf(kb->boot, sizeof(kb->boot), "%.*s",
			    (int)strcspn(line + 10, "\n"), line + 10);
	st = pclose(fp);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && kb->boot[0] != '\0') {
		snprintf(path, sizeof(path), "%s/pid", kb->dir);
		if ((fp = fopen(path, "r")) != NULL) {
			if (fscanf(fp, "%d", &st) == 1)
				kb->jpid = (pid_t)st;
			fclose(fp);
		}
	} else if (WIFEXITED(st) && WEXITSTATUS(st) == 3) {
		kb_stop_atexit();
		kb->dir[0] = '\0';
		conf = rd_kafka_conf_new();
		kb->mrk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
		if (kb->mrk == NULL || (kb->mock =
		    rd_kafka_mock_cluster_new(kb->mrk, 1)) == NULL)
			die("kafka mock cluster", "cannot start");
		snprintf(kb->boot, sizeof(kb->boot), "%s",
		    rd_kafka_mock_cluster_bootstraps(kb->mock));
	} else {
		printf("kafka: skipped: broker.sh start failed (status %d; "
		    "see %s/start.err)\n", st, kb->dir);
		return -1;
	}
	conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "bootstrap.servers", kb->boot, e,
	    sizeof(e)) != RD_KAFKA_CONF_OK)
		die("kafka admin", e);
	if ((kb->admin = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e,
	    sizeof(e))) == NULL)
		die("kafka admin", e);
	return 0;
}

static void
kb_stop(struct kbench *kb)
{
	rd_kafka_destroy(kb->admin);
	if (kb->mock != NULL)
		rd_kafka_mock_cluster_destroy(kb->mock);
	if (kb->mrk != NULL)
		rd_kafka_destroy(kb->mrk);
	kb_stop_atexit();
}

/* A fresh topic, one partition, created before anything is timed. */
static void
kb_topic(struct kbench *kb, const char *name)
{
	rd_kafka_NewTopic_t *nt;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	const rd_kafka_topic_result_t **res;
	size_t nres = 0;
	char e[256];

	if (kb->mock != NULL) {
		if (rd_kafka_mock_topic_create(kb->mock, name, 1, 1) != 0)
			die("kafka mock topic", name);
		return;
	}
	nt = rd_kafka_NewTopic_new(name, 1, 1, e, sizeof(e));
	if (nt == NULL)
		die("kafka topic", e);
	q = rd_kafka_queue_new(kb->admin);
	rd_kafka_CreateTopics(kb->admin, &nt, 1, NULL, q);
	ev = rd_kafka_queue_poll(q, 30000);
	if (ev == NULL || rd_kafka_event_error(ev))
		die("kafka CreateTopics", ev ? rd_kafka_event_error_string(ev)
		    : "timed out");
	res = rd_kafka_CreateTopics_result_topics(
	    rd_kafka_event_CreateTopics_result(ev), &nres);
	if (nres != 1 || rd_kafka_topic_result_error(res[0]))
		die("kafka CreateTopics", nres ?
		    rd_kafka_topic_result_error_string(res[0]) : name);
	rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_NewTopic_destroy(nt);
}

/*
 * The messages on a topic's one partition: its high watermark (the
 * producers are idempotent, so offsets are dense from 0 and nothing was
 * produced twice), asked until it stops moving.
 */
static uint64_t
kb_count(struct kbench *kb, const char *topic)
{
	int64_t lo = 0, hi = 0;
	rd_kafka_resp_err_t err;

	for (int i = 0; i < 50; i++) {
		err = rd_kafka_query_watermark_offsets(kb->admin, topic, 0,
		    &lo, &hi, 10000);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
			return (uint64_t)hi;
		usleep(100000);
	}
	die("kafka watermarks", topic);
	return 0;
}

/* The journal's incident events as kcat -K '\t' reads them: id TAB json. */
static size_t
kafka_file(const struct recs *rs, const char *path)
{
	FILE *fp = fopen(path, "w");
	size_t n = 0;

	if (fp == NULL)
		die("fopen", path);
	for (size_t i = 0; i < rs->n; i++) {
		const struct pub_rec *r = &rs->r[i];

		if (r->kind != PUB_EVENT || r->json == NULL || r->id == NULL)
			continue;
		if (memchr(r->json, '\t', r->jsonlen) != NULL ||
		    memchr(r->json, '\n', r->jsonlen) != NULL)
			die("kafka", "an event's JSON has a tab or newline");
		fprintf(fp, "%s\t%.*s\n", r->id, (int)r->jsonlen, r->json);
		n++;
	}
	if (fclose(fp) != 0)
		die("fclose", path);
	return n;
}

/* One run of kcat -P over the file; its CPU from wait4()'s rusage. */
static void
kafka_kcat(struct kbench *kb, const char *file, const char *topic,
    struct meas *m)
{
	double s0 = kb->jpid ? pb_proc_cpu_s(kb->jpid) : 0;
	struct rusage ru;
	pid_t pid;
	int st;

	meas_begin(m);
	if ((pid = fork()) < 0)
		die("fork", "kcat");
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0) {
			dup2(fd, 1);
			close(fd);
		}
		execlp("kcat", "kcat", "-P", "-q", "-b", kb->boot, "-t",
		    topic, "-K", "\t", "-X", "enable.idempotence=true", "-X",
		    "acks=all", "-l", file, (char *)NULL);
		_exit(127);
	}
	if (wait4(pid, &st, 0, &ru) != pid)
		die("wait4", "kcat");
	m->wall = pb_wall_s() - m->t0;
	m->cpu = pb_rusage_cpu_s(&ru);
	m->srv = kb->jpid ? pb_proc_cpu_s(kb->jpid) - s0 : 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("kcat -P", "failed (exit status not 0)");
}

/*
 * The pump + Kafka sink until every record is done, over a copy of the
 * journals in jdir (as redis_pump); every event must be delivered.
 */
static void
kafka_pump(const struct config *cfg, struct kbench *kb, const char *jdir,
    const char *topic, size_t nev, struct meas *m)
{
	struct store_config sc = daemon_store(cfg, STORE_FSYNC_BATCH);
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct kafka_config kc;
	struct kafka_stats kst;
	struct pub_sink *sink;
	struct publish *p;
	struct rig rg;
	char dir[600], err[512];
	double s0 = kb->jpid ? pb_proc_cpu_s(kb->jpid) : 0, deadline;
	int idx;

	snprintf(dir, sizeof(dir), "%s.pump", jdir);
	copy_dir(jdir, dir);
	rig_open(&rg, cfg, dir, &sc);
	kafka_config_defaults(&kc);
	kc.brokers = kb->boot;
	kc.incidents = topic;
	kc.actions = "";		/* no consumer */
	kc.client_id = "pubbench";
	meas_begin(m);
	p = publish_new(loop, rg.st, NSHARDS, noop_resync, NULL);
	idx = publish_add(p, "kafka");
	if (kafka_new(loop, &kc, publish_host(p, idx), NULL, &sink, err,
	    sizeof(err)) != 0)
		die("kafka_new", err);
	publish_attach(p, idx, sink);
	publish_start(p);
	deadline = pb_wall_s() + 600;
	while (!publish_idle(p) && pb_wall_s() < deadline)
		ev_run(loop, EVRUN_ONCE);
	meas_end(m);
	m->srv = kb->jpid ? pb_proc_cpu_s(kb->jpid) - s0 : 0;
	kafka_stats(sink, &kst);
	if (!publish_idle(p) || kst.failed > 0 || kst.refused > 0 ||
	    kst.delivered != nev || kst.produced != nev) {
		fprintf(stderr, "pubbench: kafka sink: produced %" PRIu64
		    " delivered %" PRIu64 " failed %" PRIu64 " refused %"
		    PRIu64 ", want %zu\n", kst.produced, kst.delivered,
		    kst.failed, kst.refused, nev);
		die("kafka sink", "not every record done");
	}
	publish_stop(p);
	sink->ops->close(sink, 5000);
	publish_free(p);
	ev_loop_destroy(loop);
	rig_free(&rg);
	rm_rf(dir);
}

/* kcat -P and the pump + sink in turn, reps times, fresh topics each. */
static void
kafka_phase(const struct config *cfg, const char *dir, const char *data)
{
	struct series kc = { .n = 0 }, sink = { .n = 0 };
	struct kbench kb;
	struct recs rs;
	struct meas m;
	char file[700], topic[128], note[300], what[256], hdr[512];
	uint64_t nk = 0, ns = 0;
	size_t nev;

	if (kb_start(&kb, data) != 0)
		return;
	recs_load(&rs, dir);
	snprintf(file, sizeof(file), "%s.kcat", dir);
	nev = kafka_file(&rs, file);
	if (kb.mock != NULL)
		snprintf(what, sizeof(what), "MOCK CLUSTER (no java/mvn: "
		    "broker.sh exited 3), figures are context only; %s",
		    kb.boot);
	else
		snprintf(what, sizeof(what), "a real broker of our own "
		    "(tests/kafka/broker.sh, %s)", kb.boot);
	snprintf(hdr, sizeof(hdr), "kafka: the batch journal's incident "
	    "events, acks=all, idempotent, 1 partition, %s (cpu_s: the "
	    "producer's process)", what);
	report_header(hdr);
	/* untimed: the broker's first idempotent producer waits for its
	 * transaction coordinator to load (about a second, once) */
	snprintf(topic, sizeof(topic), "pubbench-%d-warmup", (int)getpid());
	kb_topic(&kb, topic);
	kafka_kcat(&kb, file, topic, &m);
	for (int r = 0; r < reps; r++) {
		snprintf(topic, sizeof(topic), "pubbench-%d-kcat-%d",
		    (int)getpid(), r);
		kb_topic(&kb, topic);
		kafka_kcat(&kb, file, topic, &m);
		series_add(&kc, &m);
		if ((nk = kb_count(&kb, topic)) != nev)
			die("kafka", "kcat's topic does not hold every event");
		snprintf(topic, sizeof(topic), "pubbench-%d-sink-%d",
		    (int)getpid(), r);
		kb_topic(&kb, topic);
		kafka_pump(cfg, &kb, dir, topic, nev, &m);
		series_add(&sink, &m);
		if ((ns = kb_count(&kb, topic)) != nev)
			die("kafka", "the sink's topic does not hold every "
			    "event");
	}
	snprintf(note, sizeof(note), "%" PRIu64 " messages on its topics",
	    nk);
	report("kcat -P -K '\\t' -l", &kc, nev, 0, note);
	snprintf(note, sizeof(note), "x kcat's rate (target >= 0.8x); CPU "
	    "per event %.2fx kcat's (target <= 1.0x); %" PRIu64 " messages",
	    med_cpu(&sink) / med_cpu(&kc), ns);
	report("tocsin pump + kafka sink", &sink, nev, med_wall(&kc) /
	    med_wall(&sink), note);
	unlink(file);
	recs_free(&rs);
	kb_stop(&kb);
}

/* ---- restart phase ---- */

/* Every shard opened and restored at once (store_open_all), as tocsind
 * starts. */
static void
restore_all(const struct config *cfg, const char *dir, struct meas *m,
    struct corr_stats *cs)
{
	struct store_config sc = daemon_store(cfg, STORE_FSYNC_BATCH);
	struct rig rg;

	mem_purge();	/* the restore's memory fresh, as in a new process */
	meas_begin(m);
	rig_open(&rg, cfg, dir, &sc);
	meas_end(m);
	memset(cs, 0, sizeof(*cs));
	for (unsigned i = 0; i < NSHARDS; i++) {
		struct corr_stats one;

		corr_engine_stats(router_engine(rg.r, i), &one);
		cs->live_incidents += one.live_incidents;
	}
	rig_free(&rg);
}

/*
 * What restore reads without the engine: journal_open() of every shard
 * (reading every record from the snapshot on and checking its CRC, the
 * one pass a restore makes over them, here with nothing fed to an
 * engine); the longest shard's time, as the shards restore at once.
 */
static double
check_journals(const char *dir)
{
	double t = 0;
	char sd[512], err[256];

	for (unsigned i = 0; i < NSHARDS; i++) {
		struct journal_config jc = { .dir = sd };
		struct journal_info info;
		struct journal *j;
		double t0;

		shard_dir(sd, sizeof(sd), dir, i);
		t0 = pb_wall_s();
		if (journal_open(&j, &jc, &info, err, sizeof(err)) != 0)
			die("journal_open", err);
		if (pb_wall_s() - t0 > t)
			t = pb_wall_s() - t0;
		journal_close(j);
	}
	return t;
}

/* Drops dir's journal files from the page cache (they are clean: synced). */
static void
drop_file(const char *path, void *arg)
{
	int fd = open(path, O_RDONLY);

	(void)arg;
	if (fd < 0)
		die("open", path);
	(void)fdatasync(fd);
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
}

static void
drop_cache(const char *dir)
{
	char sd[512];

	for (unsigned i = 0; i < NSHARDS; i++) {
		shard_dir(sd, sizeof(sd), dir, i);
		each_file(sd, drop_file, NULL);
	}
}

/* Each engine saved as a snapshot, segments before it trimmed. */
static void
snapshot_all(const struct config *cfg, const char *dir)
{
	struct store_config sc = daemon_store(cfg, STORE_FSYNC_BATCH);
	struct rig rg;

	rig_open(&rg, cfg, dir, &sc);
	for (unsigned i = 0; i < NSHARDS; i++) {
		struct journal *j = store_journal(rg.st[i]);
		char *p;
		size_t n;

		if (corr_engine_save(router_engine(rg.r, i), &p, &n) < 0 ||
		    journal_snapshot(j, p, n) < 0)
			die("snapshot", dir);
		xfree(p);
		(void)journal_trim(j, UINT64_MAX);
	}
	rig_free(&rg);
}

/*
 * The read and the restore of dir in turn, reps times, the page cache warm
 * (cold: each one after the files are dropped from it).
 */
static void
restart_once(const struct config *cfg, const char *dir, const char *what,
    int cold, double *read_s, double *restore_s)
{
	struct series rd = { .n = 0 }, rs = { .n = 0 };
	struct corr_stats cs = { .raises = 0 };
	double tchk[MAX_REPS];
	struct meas m;
	uint64_t bytes = 0;
	char name[64], note[300];
	const char *temp = cold ? "cold" : "warm";

	(void)read_journals(dir);		/* page cache warm */
	for (int r = 0; r < reps; r++) {
		if (cold)
			drop_cache(dir);
		meas_begin(&m);
		bytes = read_journals(dir);
		meas_end(&m);
		series_add(&rd, &m);
		if (cold)
			drop_cache(dir);
		restore_all(cfg, dir, &m, &cs);
		series_add(&rs, &m);
		tchk[r] = cold ? 0 : check_journals(dir);
	}
	snprintf(name, sizeof(name), "read(2) %s, %s", temp, what);
	snprintf(note, sizeof(note), "%" PRIu64 " bytes, %.0f MB/s", bytes,
	    bytes / med_wall(&rd) / 1e6);
	report(name, &rd, 0, 0, note);
	snprintf(name, sizeof(name), "tocsin restore, %s, %s", what, temp);
	if (cold)
		snprintf(note, sizeof(note), "x the %s read's time (target <= "
		    "3x); %" PRIu64 " open incidents", temp, cs.live_incidents);
	else
		snprintf(note, sizeof(note), "x the %s read's time (target <= "
		    "3x); %" PRIu64 " open incidents; the reading and CRC "
		    "check alone (journal_open, no engine, longest shard) "
		    "%.3f s", temp, cs.live_incidents,
		    pb_median(tchk, reps, NULL, NULL));
	report(name, &rs, 0, med_wall(&rs) / med_wall(&rd), note);
	if (read_s != NULL)
		*read_s = med_wall(&rd);
	if (restore_s != NULL)
		*restore_s = med_wall(&rs);
}

/*
 * ---- the floor of an in-place restore ----
 * What a restore could not skip even if the engine used its snapshot in
 * place, without decoding an incident (docs/benchmarks.md, "The floor of
 * an in-place restore"): per shard, on a thread each as the restore runs,
 * the snapshot file mapped and its every byte checksummed (a restore must
 * know it is whole), then the engine's indexes built again for the
 * incidents the restore found: each incident's number and site, each
 * alarm's key, into hash maps sized for them at once (u64map_reserve +
 * u64map_put_batch, as corr_engine_load does), and one timer per running
 * SLA clock (timerq_add, nodes allocated together).  The keys are taken
 * from the restored engines beforehand, not timed; in a snapshot used in
 * place they would lie beside the bytes the checksum has just read.
 *
 * And the floor of a restore that builds its objects, as this engine's
 * does (the "materialized" line): the same, plus every block the restored
 * engine holds for its incidents (each incident, its alarms, their flap
 * rings and their array, its timeline's array, every string it owns, its
 * chronic and link arrays: the sizes taken from the restored engines)
 * allocated and every byte of it written, copied from the snapshot's
 * bytes.  No decoding, no check, no pointer set: what any restore that
 * materializes the same objects must at least do.  The blocks are freed
 * after the clock stops (a restore keeps them).
 */
struct ifloor_shard {
	char		 snap[1024];	/* its .snp file */
	struct u64map_slot *incs, *sites, *alarms;	/* NULL: counting */
	size_t		 nincs, nalarms;
	int64_t		*deadlines;
	size_t		 ndl;
	uint32_t	*blocks;	/* the engine's blocks' sizes */
	size_t		 nblocks;
	uint64_t	 bytes;		/* their sum */
	unsigned	 flap_cycles;	/* an alarm's flap ring's length */
	int		 materialize;	/* this run builds the blocks too */
	void		**objs;		/* out: the blocks built */
	double		 crc_s;		/* out: the checksum's wall time */
	pthread_t	 thread;
};

/* One block of the engine's of n bytes (counted, or its size filled). */
static void
ifloor_block(struct ifloor_shard *f, size_t n)
{
	if (n == 0)
		return;
	if (f->blocks != NULL)
		f->blocks[f->nblocks] = (uint32_t)n;
	f->nblocks++;
	f->bytes += n;
}

/* A string the engine owns (NULL: none). */
static void
ifloor_str(struct ifloor_shard *f, const char *s)
{
	if (s != NULL)
		ifloor_block(f, strlen(s) + 1);
}

/* The blocks corr_snap_load_inc() allocates for inc. */
static void
ifloor_blocks(struct ifloor_shard *f, const struct corr_incident *inc)
{
	ifloor_block(f, sizeof(*inc));
	ifloor_str(f, inc->owner);
	ifloor_str(f, inc->planned_reason);
	ifloor_str(f, inc->customer);
	ifloor_block(f, (size_t)inc->capalarms * sizeof(*inc->alarms));
	for (uint32_t i = 0; i < inc->nalarms; i++) {
		ifloor_block(f, sizeof(*inc->alarms[i]));
		if (inc->alarms[i]->flap != NULL)
			ifloor_block(f, f->flap_cycles *
			    sizeof(*inc->alarms[i]->flap));
	}
	ifloor_block(f, (size_t)inc->capsteps * sizeof(*inc->steps));
	for (uint32_t i = 0; i < inc->nsteps; i++) {
		const struct corr_step *st = &inc->steps[i];

		if (strcmp(st->actor, CORR_ACTOR_SYSTEM) != 0)
			ifloor_str(f, st->actor);
		ifloor_str(f, st->note);
	}
	ifloor_block(f, (size_t)inc->nchronic * sizeof(*inc->chronic_of));
	ifloor_block(f, (size_t)inc->nlinks * sizeof(*inc->links));
}

/* corr_engine_each()'s: counts what there is, or fills what was made. */
static void
ifloor_collect(void *arg, const struct corr_incident *inc)
{
	struct ifloor_shard *f = arg;
	int fill = f->incs != NULL;

	if (fill) {
		f->incs[f->nincs] = (struct u64map_slot){ inc->num,
		    (void *)inc };
		f->sites[f->nincs] = (struct u64map_slot){ inc->site,
		    (void *)inc };
	}
	f->nincs++;
	ifloor_blocks(f, inc);
	for (uint32_t i = 0; i < inc->nalarms; i++, f->nalarms++) {
		const struct corr_alarm *a = inc->alarms[i];

		if (fill)
			f->alarms[f->nalarms] = (struct u64map_slot){
			    (uint64_t)a->device << 16 | a->code, (void *)a };
	}
	for (unsigned k = 0; inc->has_sla && k < SLA__NCLOCKS; k++) {
		if (!timerq_pending(&inc->sla.clocks[k].tn))
			continue;
		if (fill)
			f->deadlines[f->ndl] = inc->sla.clocks[k].tn.deadline;
		f->ndl++;
	}
}

static void
ifloor_snap(const char *path, void *arg)
{
	struct ifloor_shard *f = arg;

	if (strstr(path, ".snp") != NULL)
		snprintf(f->snap, sizeof(f->snap), "%s", path);
}

/* One shard's floor (a thread's): checksum, maps, timers; all freed. */
static void *
ifloor_run(void *arg)
{
	struct ifloor_shard *f = arg;
	struct u64map incs, sites, alarms;
	struct timerq tq;
	struct timerq_node *nodes;
	struct stat st;
	volatile uint32_t crc;
	void *m;
	int fd;

	if ((fd = open(f->snap, O_RDONLY)) < 0 || fstat(fd, &st) != 0)
		die("open", f->snap);
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("mmap", f->snap);
	f->crc_s = pb_wall_s();
	crc = journal_crc32c(0, m, (size_t)st.st_size);
	(void)crc;
	f->crc_s = pb_wall_s() - f->crc_s;
	u64map_init(&incs);
	u64map_init(&sites);
	u64map_init(&alarms);
	u64map_reserve(&incs, f->nincs);
	u64map_reserve(&sites, f->nincs);
	u64map_reserve(&alarms, f->nalarms);
	u64map_put_batch(&incs, f->incs, f->nincs);
	u64map_put_batch(&sites, f->sites, f->nincs);
	u64map_put_batch(&alarms, f->alarms, f->nalarms);
	nodes = xcalloc(f->ndl + 1, sizeof(*nodes));
	timerq_init(&tq, f->ndl);
	for (size_t i = 0; i < f->ndl; i++) {
		timerq_node_init(&nodes[i]);
		nodes[i].tie = i;
		timerq_add(&tq, &nodes[i], f->deadlines[i]);
	}
	for (size_t i = 0, off = 0; f->materialize && i < f->nblocks; i++) {
		if (off + f->blocks[i] > (size_t)st.st_size)
			off = 0;
		f->objs[i] = xmalloc(f->blocks[i]);
		memcpy(f->objs[i], (const char *)m + off, f->blocks[i]);
		off += f->blocks[i];
	}
	timerq_fini(&tq);
	xfree(nodes);
	u64map_fini(&incs);
	u64map_fini(&sites);
	u64map_fini(&alarms);
	munmap(m, (size_t)st.st_size);
	close(fd);
	return NULL;
}

/*
 * The floor's reps on every shard at once (materialize: the blocks too,
 * freed after each run's clock stops): its series, and in crc_s the
 * checksum's median (longest shard).
 */
static void
ifloor_reps(struct ifloor_shard *f, int materialize, struct series *s,
    double *crc_s)
{
	double tcrc[MAX_REPS];
	struct meas m;

	for (int r = 0; r < reps; r++) {
		for (unsigned i = 0; i < NSHARDS; i++)
			f[i].materialize = materialize;
		mem_purge();	/* as before each restore */
		meas_begin(&m);
		for (unsigned i = 0; i + 1 < NSHARDS; i++)
			if (pthread_create(&f[i].thread, NULL, ifloor_run,
			    &f[i]) != 0)
				die("pthread_create", "floor");
		(void)ifloor_run(&f[NSHARDS - 1]);
		for (unsigned i = 0; i + 1 < NSHARDS; i++)
			pthread_join(f[i].thread, NULL);
		meas_end(&m);
		series_add(s, &m);
		tcrc[r] = 0;
		for (unsigned i = 0; i < NSHARDS; i++) {
			if (f[i].crc_s > tcrc[r])
				tcrc[r] = f[i].crc_s;
			for (size_t k = 0; materialize && k < f[i].nblocks; k++)
				xfree(f[i].objs[k]);
		}
	}
	*crc_s = pb_median(tcrc, reps, NULL, NULL);
}

/*
 * The floor beside the warm snapshot restore of dir (which holds a
 * snapshot and nothing after it), reps times, with its restore's and its
 * read's medians for the ratios.
 */
static void
ifloor_phase(const struct config *cfg, const char *dir, double read_s,
    double restore_s)
{
	struct store_config sc = daemon_store(cfg, STORE_FSYNC_BATCH);
	struct ifloor_shard f[NSHARDS];
	struct series s = { .n = 0 }, sm = { .n = 0 };
	size_t nincs = 0, nalarms = 0, ndl = 0, nblocks = 0;
	uint64_t bytes = 0;
	double crc_s, crcm_s;
	struct rig rg;
	char sd[512], note[400];

	memset(f, 0, sizeof(f));
	rig_open(&rg, cfg, dir, &sc);
	for (unsigned i = 0; i < NSHARDS; i++) {
		shard_dir(sd, sizeof(sd), dir, i);
		each_file(sd, ifloor_snap, &f[i]);
		if (f[i].snap[0] == '\0')
			die("floor", "a shard without a snapshot");
		f[i].flap_cycles = cfg->correlation.flap_cycles;
		corr_engine_each(router_engine(rg.r, i), ifloor_collect,
		    &f[i]);
		f[i].incs = xcalloc(f[i].nincs + 1, sizeof(*f[i].incs));
		f[i].sites = xcalloc(f[i].nincs + 1, sizeof(*f[i].sites));
		f[i].alarms = xcalloc(f[i].nalarms + 1, sizeof(*f[i].alarms));
		f[i].deadlines = xcalloc(f[i].ndl + 1,
		    sizeof(*f[i].deadlines));
		f[i].blocks = xcalloc(f[i].nblocks + 1, sizeof(*f[i].blocks));
		f[i].objs = xcalloc(f[i].nblocks + 1, sizeof(*f[i].objs));
		f[i].nincs = f[i].nalarms = f[i].ndl = f[i].nblocks = 0;
		f[i].bytes = 0;
		corr_engine_each(router_engine(rg.r, i), ifloor_collect,
		    &f[i]);
		nincs += f[i].nincs;
		nalarms += f[i].nalarms;
		ndl += f[i].ndl;
		nblocks += f[i].nblocks;
		bytes += f[i].bytes;
	}
	ifloor_reps(f, 0, &s, &crc_s);
	ifloor_reps(f, 1, &sm, &crcm_s);
	rig_free(&rg);
	snprintf(note, sizeof(note), "x the warm read's time; %zu incidents, "
	    "%zu alarm keys, %zu timers; the checksum alone (longest shard) "
	    "%.3f s; the restore is %.1fx this floor", nincs, nalarms, ndl,
	    crc_s, restore_s / med_wall(&s));
	report("floor: in place, snapshot", &s, 0, med_wall(&s) / read_s,
	    note);
	snprintf(note, sizeof(note), "x the warm read's time; the same and "
	    "the engine's %zu blocks (%.1f MB) built and written; the "
	    "restore is %.1fx this floor", nblocks, bytes / 1e6,
	    restore_s / med_wall(&sm));
	report("floor: materialized", &sm, 0, med_wall(&sm) / read_s, note);
	for (unsigned i = 0; i < NSHARDS; i++) {
		xfree(f[i].incs);
		xfree(f[i].sites);
		xfree(f[i].alarms);
		xfree(f[i].deadlines);
		xfree(f[i].blocks);
		xfree(f[i].objs);
	}
}

/*
 * dir: a fresh journal of nopen raises (one incident each), 10 ms apart
 * from t0, without a snapshot (the journal alone).
 */
static void
raised_journal(const struct config *cfg, const char *dir,
    const struct pair *pairs, size_t npairs, size_t nopen, int64_t t0)
{
	struct store_config sc = daemon_store(cfg, STORE_FSYNC_BATCH);
	struct alarm_event *ev;
	struct rig rg;

	if (nopen > npairs)
		die("restart", "the fleet has fewer pairs than --open");
	sc.snapshot_bytes = 0;
	ev = make_edges(cfg, pairs, npairs, nopen, 1, t0);
	rm_rf(dir);
	rig_open(&rg, cfg, dir, &sc);
	rig_run(&rg, ev, nopen);
	rig_free(&rg);
	xfree(ev);
}

static void
restart_phase(const struct config *cfg, const char *dir,
    const struct pair *pairs, size_t npairs, size_t nopen)
{
	double rd, rs;

	raised_journal(cfg, dir, pairs, npairs, nopen, T0);
	report_header("restart: the shards restored at once, a thread each, "
	    "as tocsind starts");
	restart_once(cfg, dir, "journal", 0, NULL, NULL);
	restart_once(cfg, dir, "journal", 1, NULL, NULL);
	snapshot_all(cfg, dir);
	restart_once(cfg, dir, "snapshot", 0, &rd, &rs);
	ifloor_phase(cfg, dir, rd, rs);
	restart_once(cfg, dir, "snapshot", 1, NULL, NULL);
}

/* ---- tocsind's own restart ---- */

static char tocsind_prog[512];		/* $TOCSIN_BUILD/tocsind */

/*
 * The configuration tocsind runs on: cpath's, its one-line daemon section
 * replaced to put the state in dir (never snapshotting by itself), its
 * one-line modbus section by a port nothing listens on (the devices' 127.x
 * addresses refuse at once), and HTTP on a free loopback port.  Written
 * beside cpath, whose relative paths (the inventory) it keeps.  0, or -1
 * when cpath's sections are not one line each (a --config of another
 * shape: the phase is skipped).
 */
static int
daemon_config(const char *cpath, const char *dir, char *out, size_t len)
{
	char line[4096];
	const char *slash = strrchr(cpath, '/');
	FILE *in, *o;
	int seen = 0;

	snprintf(out, len, "%.*spubbench-tocsind.yaml",
	    slash ? (int)(slash - cpath + 1) : 0, cpath);
	if ((in = fopen(cpath, "r")) == NULL || (o = fopen(out, "w")) == NULL)
		die("config", out);
	while (fgets(line, sizeof(line), in) != NULL) {
		if (strncmp(line, "daemon:", 7) == 0 && strchr(line, '}')) {
			fprintf(o, "daemon: {state_dir: %s, shards: %u, "
			    "snapshot_mb: 0}\n", dir, NSHARDS);
			seen |= 1;
		} else if (strncmp(line, "modbus:", 7) == 0 &&
		    strchr(line, '}')) {
			fprintf(o, "modbus: {port: 1, interval: 5s, timeout: "
			    "2s}\n");
			seen |= 2;
		} else if (strncmp(line, "http:", 5) != 0)
			fputs(line, o);
	}
	fprintf(o, "http: {listen: \"127.0.0.1:0\"}\n");
	fclose(in);
	fclose(o);
	return seen == 3 ? 0 : -1;
}

/*
 * The read of dir and tocsind's start on a copy of it (run, which ycfg
 * names) in turn, reps times, the page cache warm.  A copy each time: a
 * start writes to the journal (what came due while it was down), so every
 * run starts from the same bytes, written out before it starts (sync_fs).
 * The target's figure is the restore_ms tocsind logs (its
 * store_open_all, threads and all); the whole start is beside it.
 */
static void
daemon_once(const char *dir, const char *run, const char *ycfg,
    const char *what)
{
	struct series rd = { .n = 0 };
	double rs[MAX_REPS], ready[MAX_REPS], wall[MAX_REPS], cpu[MAX_REPS];
	double lo, hi, med;
	long rss = 0;
	unsigned restored = 0, inputs = 0;
	uint64_t bytes = 0;
	char name[64], note[400], err[600];
	struct meas m;

	(void)read_journals(dir);		/* page cache warm */
	for (int r = 0; r < reps; r++) {
		struct pb_start st;

		meas_begin(&m);
		bytes = read_journals(dir);
		meas_end(&m);
		series_add(&rd, &m);
		copy_dir(dir, run);
		sync_fs(run);
		if (pb_tocsind_start(tocsind_prog, ycfg, 180, &st, err,
		    sizeof(err)) != 0)
			die("tocsind", err);
		rm_rf(run);
		rs[r] = st.restore_s;
		ready[r] = st.ready_s;
		wall[r] = st.wall_s;
		cpu[r] = st.cpu_s;
		if (st.rss_kib > rss)
			rss = st.rss_kib;
		restored = st.restored;
		inputs = st.inputs;
	}
	snprintf(name, sizeof(name), "read(2) warm, %s", what);
	snprintf(note, sizeof(note), "%" PRIu64 " bytes, %.0f MB/s", bytes,
	    bytes / med_wall(&rd) / 1e6);
	report(name, &rd, 0, 0, note);
	med = pb_median(rs, reps, &lo, &hi);
	snprintf(name, sizeof(name), "tocsind restore, %s", what);
	snprintf(note, sizeof(note), "x the warm read's time (target <= 3x): "
	    "its restore_ms, %u shards logged, %u inputs replayed; exec to "
	    "its start line %.3f s (configuration, restore, sinks, HTTP), "
	    "its CPU then %.2f s; exec to /readyz 200 (the read API holds "
	    "the restored incidents) %.3f s", restored, inputs,
	    pb_median(wall, reps, NULL, NULL), pb_median(cpu, reps, NULL,
	    NULL), pb_median(ready, reps, NULL, NULL));
	printf("  %-30s %7.3f %7s %9s %9s %8ld %6.2fx  %s [%d runs, restore "
	    "%.3f..%.3f]\n", name, med, "-", "-", "-", rss, med /
	    med_wall(&rd), note, reps, lo, hi);
	fflush(stdout);
}

static void
daemon_phase(const struct config *cfg, const char *cpath, const char *dir,
    const struct pair *pairs, size_t npairs, size_t nopen)
{
	char ycfg[600], run[300];

	snprintf(run, sizeof(run), "%s-run", dir);
	if (access(tocsind_prog, X_OK) != 0) {
		printf("tocsind: skipped (no %s)\n", tocsind_prog);
		return;
	}
	if (daemon_config(cpath, run, ycfg, sizeof(ycfg)) != 0) {
		printf("tocsind: skipped (%s: daemon and modbus are not one "
		    "line each)\n", cpath);
		(void)unlink(ycfg);
		return;
	}
	/* the journal ends two seconds ago: a restart after a short stop,
	 * whose catch-up fires only what fell due meanwhile */
	raised_journal(cfg, dir, pairs, npairs, nopen, clock_wall_ms() -
	    (int64_t)nopen * STEP_MS - 2000);
	report_header("tocsind: the daemon itself restarted on the same "
	    "state (tocsind -c, every thread, its log read)");
	daemon_once(dir, run, ycfg, "journal");
	snapshot_all(cfg, dir);
	daemon_once(dir, run, ycfg, "snapshot");
	(void)unlink(ycfg);
	rm_rf(run);
}

/* ---- main ---- */

static void
usage(void)
{
	fprintf(stderr, "usage: pubbench [--config YAML] [--edges N] "
	    "[--open N] [--reps R] [--data DIR]\n"
	    "                [--phases journal,redis,kafka,restart,tocsind]\n");
	exit(2);
}

/* The default fleet: etc/genfleet.py's 10,000 sites, made once. */
static const char *
default_config(const char *data, char *buf, size_t len)
{
	char cmd[1024];

	snprintf(buf, len, "%s/pub-10000/fleet.yaml", data);
	if (access(buf, R_OK) == 0)
		return buf;
	snprintf(cmd, sizeof(cmd), "python3 etc/genfleet.py %s/pub-10000 "
	    "--sites 10000", data);
	if (system(cmd) != 0)
		die("genfleet", cmd);
	return buf;
}

int
main(int argc, char **argv)
{
	const char *data = "build/bench-data", *cpath = NULL;
	const char *phases = "journal,redis,kafka,restart,tocsind";
	size_t nedges = 120000, nopen = 100000, npairs;
	struct config_errors errs = { NULL, 0 };
	struct config *cfg;
	struct pair *pairs;
	char buf[600], dir[256];

	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--config") == 0)
			cpath = argv[++i];
		else if (strcmp(argv[i], "--edges") == 0)
			nedges = (size_t)pb_num_arg("pubbench", "edges",
			    argv[++i], 2, 1e8);
		else if (strcmp(argv[i], "--open") == 0)
			nopen = (size_t)pb_num_arg("pubbench", "open",
			    argv[++i], 1, 1e8);
		else if (strcmp(argv[i], "--data") == 0)
			data = argv[++i];
		else if (strcmp(argv[i], "--reps") == 0)
			reps = (int)pb_num_arg("pubbench", "reps", argv[++i], 1,
			    MAX_REPS);
		else if (strcmp(argv[i], "--phases") == 0)
			phases = argv[++i];
		else
			usage();
	}
	signal(SIGPIPE, SIG_IGN);
	log_init(2, LOG_LVL_WARN);
	{	/* as cfgbench and the tests find it (bench/run.sh sets it) */
		const char *b = getenv("TOCSIN_BUILD");

		snprintf(tocsind_prog, sizeof(tocsind_prog), "%s/tocsind",
		    b != NULL && *b != '\0' ? b : "build/default");
	}
	snprintf(buf, sizeof(buf), "mkdir -p '%s'", data);
	if (system(buf) != 0)
		die("mkdir", data);
	if (cpath == NULL)
		cpath = default_config(data, buf, sizeof(buf));
	if ((cfg = config_load(cpath, &errs)) == NULL)
		die(cpath, errs.n ? errs.msg[0] : "does not load");
	pairs = fleet_pairs(cfg, &npairs);
	printf("pubbench: %s: %zu sites, %zu devices, %zu (device, code) "
	    "pairs; %d shards; %zu edges, %zu open incidents; medians of %d "
	    "runs\n", cpath, cfg->fleet->nsites, cfg->fleet->ndevices, npairs,
	    NSHARDS, nedges, nopen, reps);
	snprintf(dir, sizeof(dir), "%s/pubbench-%d-journal", data,
	    (int)getpid());
	if (strstr(phases, "journal") != NULL || strstr(phases, "redis") ||
	    strstr(phases, "kafka") != NULL) {
		struct alarm_event *ev = make_edges(cfg, pairs, npairs,
		    nedges, 0, T0);

		report_header("journal: the storm through router + engines + "
		    "store hooks (cpu_s: every thread of this process)");
		journal_mode(cfg, dir, STORE_FSYNC_ALWAYS, ev, nedges);
		journal_mode(cfg, dir, STORE_FSYNC_BATCH, ev, nedges);
		xfree(ev);
	}
	if (strstr(phases, "redis") != NULL)
		redis_phase(cfg, dir, data);
	if (strstr(phases, "kafka") != NULL)
		kafka_phase(cfg, dir, data);
	rm_rf(dir);
	if (strstr(phases, "restart") != NULL) {
		snprintf(dir, sizeof(dir), "%s/pubbench-%d-restart", data,
		    (int)getpid());
		restart_phase(cfg, dir, pairs, npairs, nopen);
		rm_rf(dir);
	}
	if (strstr(phases, "tocsind") != NULL) {
		snprintf(dir, sizeof(dir), "%s/pubbench-%d-tocsind", data,
		    (int)getpid());
		daemon_phase(cfg, cpath, dir, pairs, npairs, nopen);
		rm_rf(dir);
	}
	printf("  process: cpu_s=%.2f peak_rss=%ld KiB\n",
	    pb_cpu_s(RUSAGE_SELF), pb_maxrss_kib());
	xfree(pairs);
	config_free(cfg);
	return 0;
}
