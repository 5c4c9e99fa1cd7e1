/*
 * test_restart.c - kill -9 loses no open incident (issue 12).
 *
 * A child process runs the daemon's correlator path as tocsind wires it
 * (router, shard threads, one journal per shard through store_hooks) on a
 * fixed storm of alarm edges, operator actions and ticks over the demo
 * fleet, and is killed with SIGKILL at random moments, again and again,
 * each restart restoring every shard from its journal and going on from
 * the first input its journal does not hold (what a poller's
 * level-triggered re-send amounts to).  When a child finally gets through
 * the storm, every shard's live incidents (state, clocks, owners, full
 * timelines: corr_engine_dump at the same instant) must equal those of an
 * uninterrupted run, byte for byte, and each incident's events in the
 * journals must be the uninterrupted run's: seq 1, 2, 3... with no gap and
 * no repeat.  Inputs are stamped T0 + index seconds, so the engines' time
 * after a restore says which input each shard saw last.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "correlator/incjson.h"
#include "daemon/config.h"
#include "daemon/journal.h"
#include "daemon/mem.h"
#include "daemon/router.h"
#include "daemon/store.h"

#define NSHARDS		2
#define NOPS		6000
#define T0		((int64_t)1796000000000)	/* 2026-12-01 */
#define STEP		1000		/* ms between inputs */
#define KILLS		20
#define PACE_US		200	/* the storm takes ~1.5 s in a child */
#define KILL_MAX_MS	300	/* a kill lands 1-300 ms after a start */

enum op_kind { OP_ALARM, OP_ACTION, OP_TICK, OP_COMPLAINT };

struct op {
	uint8_t	 kind;
	uint8_t	 edge;
	uint8_t	 act;
	uint32_t device;
	uint16_t code;
	uint64_t num;		/* action: incident number */
	unsigned shard;		/* action: its shard */
	uint32_t site;		/* complaint: about this site ... */
	uint16_t tenant;	/* ... from this tenant of it */
};

static struct op ops[NOPS];
static struct config *cfg;

/* In the child there is no Criterion to report to: say why and die. */
static void
errx_exit(const char *why)
{
	fprintf(stderr, "test_restart: %s\n", why);
	_exit(2);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The storm: edges on random devices' codes, actions on early incidents,
 * ticks now and then (SLA marks come due between inputs), customers'
 * complaints (incidents of their own, with 48 h clocks). */
static void
make_ops(void)
{
	const struct fleet *f = cfg->fleet;
	static signed char up[4096][8];
	uint64_t seed = 20261204;

	memset(up, 0, sizeof(up));
	for (int i = 0; i < NOPS; i++) {
		uint64_t x = rnd(&seed);
		struct op *o = &ops[i];

		memset(o, 0, sizeof(*o));
		if (x % 10 < 7) {
			uint32_t d = (uint32_t)((x >> 8) % f->ndevices);
			const struct fleet_profile *p =
			    &f->profiles[f->devices[d].profile];
			unsigned k = (unsigned)((x >> 24) % (p->nalarms + 1));

			o->kind = OP_ALARM;
			o->device = d;
			o->code = k == p->nalarms ? FLEET_CODE_COMM_LOSS :
			    p->alarms[k].code_id;
			o->edge = up[d][k] ? ALARM_CLEAR : ALARM_RAISE;
			up[d][k] = !up[d][k];
		} else if (x % 10 < 9) {
			static const uint8_t acts[] = { CORR_ACT_ACK,
			    CORR_ACT_DISPATCH, CORR_ACT_ON_SITE,
			    CORR_ACT_NOTE, CORR_ACT_RESOLVE, CORR_ACT_CLOSE };

			o->kind = OP_ACTION;
			o->act = acts[(x >> 8) % 6];
			o->num = 1 + (x >> 16) % (1 + i / 40);
			o->shard = (unsigned)((x >> 40) % NSHARDS);
		} else if ((x >> 8) % 3 == 0 && f->nsites > 0) {
			o->kind = OP_COMPLAINT;
			o->site = (uint32_t)((x >> 16) % f->nsites);
			o->tenant = (uint16_t)((x >> 40) %
			    (f->sites[o->site].ntenants + 1u));
		} else
			o->kind = OP_TICK;
	}
}

/* ---- one run: router + stores in dir ---- */

struct run {
	struct router	*r;
	struct store	*st[NSHARDS];
};

/* A sink's arg: its slot in run.st, filled by store_open_all's thread for
 * the shard before that shard's restore, as tocsind's live_shard. */
static void
run_event(void *arg, const struct corr_event *ev)
{
	store_event(*(struct store **)arg, ev);
}

static void
run_rejected(void *arg, const struct corr_action *a, const char *reason)
{
	store_rejected(*(struct store **)arg, a, reason);
}

static const struct corr_sink_ops run_ops = {
	.event = run_event, .rejected = run_rejected,
};

/* Opens the stores and restores the shards at once (store_open_all, as
 * tocsind), starts the shards; resume[s]: first input shard s has not
 * seen. */
static void
run_open(struct run *rn, const char *dir, int resume[NSHARDS])
{
	struct corr_sink sinks[NSHARDS];
	struct store_config sc[NSHARDS];
	struct corr_engine *engines[NSHARDS];
	char sd[NSHARDS][256], err[600];

	memset(sc, 0, sizeof(sc));
	for (unsigned i = 0; i < NSHARDS; i++) {
		snprintf(sd[i], sizeof(sd[i]), "%s/shard-%u", dir, i);
		sc[i].dir = sd[i];
		sc[i].fsync = STORE_FSYNC_BATCH;
		sc[i].fsync_ms = 50;
		sc[i].segment_bytes = 256 << 10;
		sc[i].snapshot_bytes = 512 << 10; /* several snapshots per run */
		sinks[i].ops = &run_ops;
		sinks[i].arg = &rn->st[i];
	}
	rn->r = router_new(cfg->fleet, &cfg->correlation, NSHARDS, 1, 256,
	    sinks, err, sizeof(err));
	for (unsigned i = 0; i < NSHARDS; i++)
		engines[i] = router_engine(rn->r, i);
	if (store_open_all(sc, NSHARDS, cfg->fleet, engines, 0, rn->st, err,
	    sizeof(err)) < 0)
		errx_exit(err);
	for (unsigned i = 0; i < NSHARDS; i++) {
		int64_t now = corr_engine_now(engines[i]);

		resume[i] = now < T0 ? 0 : (int)((now - T0) / STEP) + 1;
	}
	router_set_hooks(rn->r, &store_hooks, rn->st);
	router_start(rn->r);
}

static void
run_close(struct run *rn)
{
	router_stop(rn->r);
	for (unsigned i = 0; i < NSHARDS; i++)
		store_sync(rn->st[i]);
}

static void
run_free(struct run *rn)
{
	router_free(rn->r);
	for (unsigned i = 0; i < NSHARDS; i++)
		store_close(rn->st[i]);
}

/*
 * Feeds inputs from where each shard is; blocking pushes.  pace_us > 0
 * spreads them out like a live storm (so kills land inside it).
 */
static void
run_feed(struct run *rn, const int resume[NSHARDS], int pace_us)
{
	char id[CORR_ID_LEN];

	for (int i = 0; i < NOPS; i++) {
		const struct op *o = &ops[i];
		int64_t at = T0 + (int64_t)i * STEP;

		if (pace_us > 0 && i >= resume[0] && i >= resume[1])
			usleep((useconds_t)pace_us);
		switch (o->kind) {
		case OP_ALARM: {
			struct alarm_event ev;
			unsigned sh;

			memset(&ev, 0, sizeof(ev));
			ev.at_ms = at;
			ev.device = o->device;
			ev.site = cfg->fleet->devices[o->device].site;
			ev.point = FLEET_NONE;
			ev.code = o->code;
			ev.edge = o->edge;
			ev.severity = SEV_MAJOR;
			sh = router_shard_of(rn->r, ev.site);
			if (i >= resume[sh])
				while (router_push_wait(rn->r, 0, &ev, 1, 1000,
				    NULL) != 0)
					;
			break;
		}
		case OP_ACTION: {
			struct corr_action a;

			if (i < resume[o->shard])
				break;
			corr_id_format(id, sizeof(id),
			    cfg->correlation.id_prefix, o->shard, o->num);
			memset(&a, 0, sizeof(a));
			a.incident = id;
			a.type = o->act;
			a.actor = "noc-7";
			a.note = "checked";
			a.at = at;
			while (router_action(rn->r, 0, &a) == -EAGAIN)
				usleep(100);
			break;
		}
		case OP_COMPLAINT: {
			const struct fleet_site *site = &cfg->fleet->sites[o->site];
			struct corr_complaint c;

			if (i < resume[router_shard_of(rn->r, o->site)])
				break;
			memset(&c, 0, sizeof(c));
			c.site = o->site;
			/* one in (tenants + 1) names no tenant: refused */
			c.customer = o->tenant < site->ntenants ?
			    site->tenants[o->tenant].customer : "nobody";
			c.text = "calls drop \"every evening\"";
			c.actor = "service-desk";
			c.severity = SEV_MINOR;
			c.at = at;
			while (router_complaint(rn->r, 0, NULL, &c, NULL) ==
			    -EAGAIN)
				usleep(100);
			break;
		}
		case OP_TICK:
			for (unsigned s = 0; s < NSHARDS; s++)
				if (i >= resume[s])
					while (router_tick_shard(rn->r, 0, s,
					    at) == -EAGAIN)
						usleep(100);
			break;
		}
	}
}

/* ---- what a run leaves: live incidents and every incident's events ---- */

struct text {
	char	*p;
	size_t	 n, cap;
};

static void
text_add(struct text *t, const char *s, size_t n)
{
	if (t->cap - t->n < n + 1) {
		t->cap = (t->cap + n + 1) * 2;
		t->p = xrealloc(t->p, t->cap);
	}
	memcpy(t->p + t->n, s, n);
	t->n += n;
	t->p[t->n] = '\0';
}

static void
dump_one(void *arg, const struct corr_event *ev)
{
	char *line = incjson_encode(cfg->fleet, ev);

	text_add(arg, line, strlen(line));
	text_add(arg, "\n", 1);
	free(line);
}

/* Every EVENT record of every journal in dir, in journal order per shard. */
static void
journal_events(const char *dir, struct text *t)
{
	struct store_spans sp = { NULL, 0 };
	char sd[256], err[256];

	for (unsigned i = 0; i < NSHARDS; i++) {
		struct journal_config jc = { .dir = sd };
		struct journal_info info;
		struct journal *j;
		struct journal_reader *rd;
		struct journal_rec rec;
		struct pub_rec pr;

		snprintf(sd, sizeof(sd), "%s/shard-%u", dir, i);
		cr_assert_eq(journal_open(&j, &jc, &info, err, sizeof(err)), 0,
		    "%s", err);
		rd = journal_reader_new(j, 0);
		while (journal_read(rd, 0, &rec) == 1)
			if (rec.type == STORE_EVENT) {
				cr_assert_eq(store_pub_rec(&rec, i, &pr, &sp), 1);
				text_add(t, pr.json, pr.jsonlen);
				text_add(t, "\n", 1);
			}
		journal_reader_free(rd);
		journal_close(j);
	}
	free(sp.v);
}

/* The state a run ends with, read back from its journals alone. */
static void
final_state(const char *dir, struct text *live)
{
	struct run rn;
	int resume[NSHARDS];
	int64_t end = T0 + (int64_t)NOPS * STEP;

	run_open(&rn, dir, resume);
	for (unsigned s = 0; s < NSHARDS; s++)
		cr_assert_eq(resume[s] > 0, 1);
	run_close(&rn);
	for (unsigned s = 0; s < NSHARDS; s++)
		corr_engine_dump(router_engine(rn.r, s), end, dump_one, live);
	run_free(&rn);
}

static void
rm_rf(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)system(cmd);
}

static void
setup(void)
{
	struct config_errors errs = { 0 };

	cfg = config_load("etc/demo.yaml", &errs);
	cr_assert_not_null(cfg, "etc/demo.yaml: %s", errs.n ? errs.msg[0] : "");
	make_ops();
}

static void
teardown(void)
{
	config_free(cfg);
}

/* The child: restore, go on, exit 0 when the storm is through. */
static void
child(const char *dir)
{
	struct run rn;
	int resume[NSHARDS];

	run_open(&rn, dir, resume);
	run_feed(&rn, resume, PACE_US);
	run_close(&rn);
	_exit(0);
}

Test(restart, kill9_loses_nothing_and_repeats_nothing, .init = setup,
    .fini = teardown, .timeout = 240)
{
	char ref[] = "/tmp/tocsin-restart-ref-XXXXXX";
	char dir[] = "/tmp/tocsin-restart-XXXXXX";
	struct text ref_live = { 0 }, got_live = { 0 };
	struct text ref_ev = { 0 }, got_ev = { 0 };
	uint64_t seed = (uint64_t)time(NULL) | 1;
	int kills = 0, done = 0;
	struct run rn;
	int resume[NSHARDS];
	int64_t t0, span_ms;

	cr_assert_not_null(mkdtemp(ref));
	cr_assert_not_null(mkdtemp(dir));
	/* the uninterrupted run */
	run_open(&rn, ref, resume);
	run_feed(&rn, resume, 0);
	run_close(&rn);
	run_free(&rn);
	span_ms = KILL_MAX_MS;

	while (!done) {
		pid_t pid = fork();
		int status;

		cr_assert_geq(pid, 0);
		t0 = mono_ms();
		if (pid == 0)
			child(dir);
		if (kills < KILLS) {
			/* anywhere in a restore or in the storm */
			usleep((useconds_t)(1000 * (1 + rnd(&seed) %
			    (uint64_t)span_ms)));
			kill(pid, SIGKILL);
		}
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		if (getenv("TOCSIN_RESTART_TRACE") != NULL)
			fprintf(stderr, "child %d: %lld ms status %d\n", kills,
			    (long long)(mono_ms() - t0), status);
		if (WIFEXITED(status)) {
			/* through before the kill: restart it all the same */
			cr_assert_eq(WEXITSTATUS(status), 0);
			done = kills >= KILLS;
		} else {
			cr_assert(WIFSIGNALED(status) &&
			    WTERMSIG(status) == SIGKILL);
			kills++;
		}
		cr_assert_lt(kills, 500, "never got through the storm");
	}
	cr_log_info("restart: %d kills within %lld ms runs, then a run to the "
	    "end", kills, (long long)span_ms);
	cr_expect_geq(kills, KILLS);

	final_state(ref, &ref_live);
	final_state(dir, &got_live);
	cr_assert_gt(ref_live.n, 0, "the storm leaves live incidents");
	cr_assert(strstr(ref_live.p, "\"kind\":\"complaint\"") != NULL,
	    "the storm leaves live complaints");
	cr_expect_str_eq(got_live.p, ref_live.p,
	    "live incidents differ from the uninterrupted run");
	journal_events(ref, &ref_ev);
	journal_events(dir, &got_ev);
	cr_expect_eq(got_ev.n, ref_ev.n, "event bytes: %zu vs %zu",
	    got_ev.n, ref_ev.n);
	cr_expect_str_eq(got_ev.p, ref_ev.p,
	    "every event once, in order, as the uninterrupted run");
	free(ref_live.p);
	free(got_live.p);
	free(ref_ev.p);
	free(got_ev.p);
	rm_rf(ref);
	rm_rf(dir);
}
