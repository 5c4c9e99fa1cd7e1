/*
 * test_cstage.c - the scale-out correlator (daemon/cstage) against the
 * real broker: a generated storm (mains failures with their batteries
 * and rectifiers, area storms, doors, flapping) over 24 sites in 6 areas
 * on a 2-partition tocsin.alarms, each partition with a tick a minute;
 * the correlator is killed with SIGKILL twice while it works and started
 * again (same transactional.id and group instance).  Then tocsin.incidents
 * read_committed holds, incident by incident and seq by seq, byte for
 * byte, what `tocsind --replay --shard p` of each partition gives: no
 * event lost, none doubled, and every engine rebuilt from tocsin.changelog
 * exactly as it was at its last commit.  The rebuild time is printed.
 * Tocsind correlators (daemon.role: correlator) run the same storm: three
 * on 6 partitions, two of them killed, with and without a redis-server
 * they all write to; two on 2 partitions while that redis-server is
 * stopped or frozen for 30 s.  Redis is read back with hiredis as a NOC
 * screen reads it and must equal the replays' open incidents
 * (redis_diff).
 *
 * The correlators are child processes (fork before any librdkafka thread
 * of the test's own); every wait is bounded.  Skipped, saying so, without
 * a broker (tests/kafka/broker.sh needs java and mvn) and under
 * ThreadSanitizer (librdkafka's threads are invisible to it).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "correlator/incjson.h"
#include "daemon/clvalue.h"
#include "daemon/config.h"
#include "daemon/cstage.h"
#include "daemon/replay.h"
#include "daemon/utc.h"
#include "tests/support/dfix.h"
#include "tests/support/httpfix.h"
#include "tests/support/kbroker.h"
#include "tests/support/proc.h"
#include "tests/support/ktxnfix.h"
#include "tests/support/pubfix.h"
#include "tests/support/ssefix.h"
#include "tests/support/tenv.h"

#define PMAX	6		/* partitions of alarms and changelog */
#define NSITES	24
#define NAREAS	6
#define T0	1795392000000LL	/* 2026-11-23T00:00:00Z */
#define HOURS	120		/* of storm: long enough to kill it mid-way */

static char bootstrap[128], dir[128], cfgpath[256];
static int P = 2;		/* this test's partitions */
static int want_rejected;	/* actions the replays refused */
static atomic_int stop_flag;

static void
on_term(int sig)
{
	(void)sig;
	atomic_store(&stop_flag, 1);
}

static struct config *
load(void)
{
	struct config_errors errs = { NULL, 0 };
	struct config *cfg = config_load(cfgpath, &errs);

	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.msg[i]);
	config_errors_free(&errs);
	return cfg;
}

/* The fleet: site S<i> in area a<i % NAREAS>, devices rect, batt, fsu. */
static void
write_config(void)
{
	FILE *fp;

	snprintf(cfgpath, sizeof(cfgpath), "%s/c.yaml", dir);
	fp = fopen(cfgpath, "w");
	cr_assert_not_null(fp);
	fprintf(fp, "daemon: {shards: %d, state_dir: %s/state}\n"
	    "modbus: {port: 1502}\n"
	    "profiles:\n"
	    "  p:\n    points: [{name: v, address: 30001}]\n"
	    "    alarms:\n", P, dir);
	{
		static const char *const codes[] = { "MAINS_FAIL",
		    "BATT_DISCHARGE", "BATT_LOW", "RECT_FAIL", "DOOR_OPEN",
		    "SMOKE" };

		for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
			fprintf(fp, "      - {code: %s, point: v, condition: "
			    "above, threshold: 1}\n", codes[i]);
	}
	fprintf(fp, "correlation:\n  rules:\n"
	    "    - {root: MAINS_FAIL, explains: [BATT_DISCHARGE, BATT_LOW, "
	    "RECT_FAIL], scope: site, window: 4h, before: 5m}\n"
	    "  storm: {code: MAINS_FAIL, sites: 3, window: 10m}\n"
	    "  flapping: {cycles: 3, window: 1h}\n"
	    "sla:\n  clocks:\n"
	    "    - {clock: ack, tier: premium, duration: 5m}\n"
	    "    - {clock: ack, tier: standard, duration: 30m}\n"
	    "    - {clock: arrive, duration: 2h}\n"
	    "    - {clock: resolve, duration: 4h}\n"
	    "    - {clock: resolve_complex, duration: 24h}\n"
	    "sites:\n");
	for (int i = 0; i < NSITES; i++)
		fprintf(fp, "  - {id: S%02d, area: a%d, region: A, tenants: "
		    "[{customer: c%d, tier: %s}]}\n", i, i % NAREAS, i % 3,
		    i % 4 == 0 ? "premium" : "standard");
	fprintf(fp, "devices:\n");
	for (int i = 0; i < NSITES; i++)
		for (int u = 0; u < 3; u++)
			fprintf(fp, "  - {id: S%02d-%s, site: S%02d, profile: "
			    "p, host: 127.0.1.%d, unit: %d}\n", i,
			    u == 0 ? "rect" : u == 1 ? "batt" : "door", i, i + 1,
			    u + 1);
	fclose(fp);
}

/*
 * The storm: HOURS hours in 20 s steps; each step may fail or restore
 * mains at a site (then its battery discharges, later runs low), open or
 * close a door, flap a rectifier; an area storm at 02:00 every 12 hours.
 * Lines go to part[p] (p the area's shard); a tick a minute to both.
 * Returns the line count.
 */
static int
generate(FILE *part[PMAX], const struct config *cfg)
{
	int mains[NSITES] = { 0 }, door[NSITES] = { 0 }, rect[NSITES] = { 0 };
	unsigned seed = 20261205;
	struct incjson_buf b;
	int n = 0;

	incjson_buf_init(&b);
	for (int64_t t = T0; t < T0 + HOURS * 3600000LL; t += 20000) {
		int s = (int)(rand_r(&seed) % NSITES), r = (int)(rand_r(&seed) %
		    100);
		char dev[32], site[8];
		const char *code = NULL, *sfx = "rect";
		int edge = 0, sev = SEV_MAJOR;
		unsigned p;

		snprintf(site, sizeof(site), "S%02d", s);
		if (r < 20) {
			code = "MAINS_FAIL";
			edge = mains[s] ? ALARM_CLEAR : ALARM_RAISE;
			mains[s] = !mains[s];
			sev = SEV_CRITICAL;
		} else if (r < 30 && mains[s]) {
			code = r < 25 ? "BATT_DISCHARGE" : "BATT_LOW";
			sfx = "batt";
			edge = ALARM_RAISE;
		} else if (r < 45) {
			code = "DOOR_OPEN";
			sfx = "door";
			edge = door[s] ? ALARM_CLEAR : ALARM_RAISE;
			door[s] = !door[s];
			sev = SEV_MINOR;
		} else if (r < 60) {
			code = "RECT_FAIL";
			edge = rect[s] ? ALARM_CLEAR : ALARM_RAISE;
			rect[s] = !rect[s];
		}
		if (code != NULL) {
			struct incjson_alarm a = { t, dev, site, code,
			    (uint8_t)edge, (uint8_t)sev, edge == ALARM_RAISE ?
			    0.0 : 1.0 };

			snprintf(dev, sizeof(dev), "S%02d-%s", s, sfx);
			b.n = 0;
			incjson_alarm(&b, &a);
			p = fleet_area_shard(cfg->fleet->areas[
			    cfg->fleet->sites[s].area], (unsigned)P);
			fprintf(part[p], "%.*s\n", (int)b.n, b.p);
			n++;
		}
		if ((t - T0) % 60000 == 40000)
			for (p = 0; p < (unsigned)P; p++) {
				b.n = 0;
				incjson_tick(&b, t, "gen");
				fprintf(part[p], "%.*s\n", (int)b.n, b.p);
				n++;
			}
		if ((t - T0) % (12 * 3600000LL) == 2 * 3600000LL) {
			/* a second poller's tick, 5 s ahead, lands first on
			 * the storm's partition: its alarms come late */
			p = fleet_area_shard("a1", (unsigned)P);
			b.n = 0;
			incjson_tick(&b, t + 5000, "gen2");
			fprintf(part[p], "%.*s\n", (int)b.n, b.p);
			n++;
			/* a storm: mains at every site of area a1 */
			for (int k = 1; k < NSITES; k += NAREAS) {
				char d[32], st[8];
				struct incjson_alarm a = { t + 1000 + k, d, st,
				    "MAINS_FAIL", ALARM_RAISE, SEV_CRITICAL, 0 };

				if (mains[k])
					continue;
				mains[k] = 1;
				snprintf(d, sizeof(d), "S%02d-rect", k);
				snprintf(st, sizeof(st), "S%02d", k);
				b.n = 0;
				incjson_alarm(&b, &a);
				p = fleet_area_shard(cfg->fleet->areas[
				    cfg->fleet->sites[fleet_find(cfg->fleet,
				    FLEET_SITE, st)].area], (unsigned)P);
				fprintf(part[p], "%.*s\n", (int)b.n, b.p);
				n++;
			}
		}
	}
	incjson_buf_fini(&b);
	return n;
}

/* Child: the correlator until SIGTERM. */
static void
stage_main(void)
{
	static const struct kafka_prop props[] = {
		{ "consumer.group.instance.id", "cstage-1" },
		{ "consumer.session.timeout.ms", "6000" },
	};
	struct config *cfg = load();
	struct cstage_config cc = {
		.brokers = bootstrap, .group = "tocsin-correlators",
		.alarms = "tocsin.alarms", .incidents = "tocsin.incidents",
		.changelog = "tocsin.changelog", .txn_id = "cstage-1",
		.rejected = "tocsin.actions.rejected",
		.client_id = "cstage-test", .commit_ms = 50,
		.props = props, .nprops = 2,
	};
	struct cstage *cs;
	struct cstage_view v;
	struct cstage_stats st;
	char err[512];
	int rc;

	if (cfg == NULL)
		_exit(1);
	cc.fleet = cfg->fleet;
	cc.cc = &cfg->correlation;
	signal(SIGTERM, on_term);
	if ((rc = cstage_new(&cc, &cs, err, sizeof(err))) == 0) {
		rc = cstage_run(cs, &stop_flag, err, sizeof(err));
		cstage_view(cs, &v);
		cstage_free(cs);
	} else
		memset(&v, 0, sizeof(v));
	st = v.st;
	fprintf(stderr, "cstage: rc=%d %s records=%llu ticks=%llu bad=%llu "
	    "events=%llu changelog=%llu rebuilds=%llu rebuild_ms=%llu "
	    "commits=%llu aborts=%llu\n", rc, rc != 0 ? err : "",
	    (unsigned long long)st.records, (unsigned long long)st.ticks,
	    (unsigned long long)st.bad, (unsigned long long)st.events,
	    (unsigned long long)st.changelog, (unsigned long long)st.rebuilds,
	    (unsigned long long)st.rebuild_ms, (unsigned long long)st.commits,
	    (unsigned long long)st.aborts);
	config_free(cfg);
	_exit(rc == 0 ? 0 : 1);
}

/* The events on tocsin.incidents as a consumer at isolation sees them. */
static int
count_events(const char *isolation)
{
	return ktxnfix_count(bootstrap, "tocsin.incidents", isolation);
}


/* Each incident's events, in order: id -> array of JSON strings. */
static void
add_event(json_t *by_id, const char *id, const char *json, size_t len)
{
	json_t *a = json_object_get(by_id, id);

	if (a == NULL) {
		a = json_array();
		json_object_set_new(by_id, id, a);
	}
	json_array_append_new(a, json_stringn(json, len));
}

/* All of file to partition p of tocsin.alarms, as a poller sends it. */
static void
feed_file(int p, const char *file)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "kcat -P -b %s -t tocsin.alarms -p %d -X "
	    "enable.idempotence=true -X acks=all -l %s 2>&1", bootstrap, p,
	    file);
	free(pubfix_sh(cmd, 60000));
}

#define CHUNKS	10

/* Produces the c-th of CHUNKS equal runs of lines of file to partition p. */
static void
feed(int p, const char *file, int c)
{
	char chunk[300];
	FILE *in = fopen(file, "r"), *out;
	char line[1024];
	long n = 0, i = 0, from, to;

	cr_assert_not_null(in);
	while (fgets(line, sizeof(line), in) != NULL)
		n++;
	rewind(in);
	from = n * c / CHUNKS;
	to = n * (c + 1) / CHUNKS;
	snprintf(chunk, sizeof(chunk), "%s.%d", file, c);
	out = fopen(chunk, "w");
	cr_assert_not_null(out);
	while (fgets(line, sizeof(line), in) != NULL) {
		if (i >= from && i < to)
			fputs(line, out);
		i++;
	}
	fclose(in);
	fclose(out);
	feed_file(p, chunk);
	unlink(chunk);
}

/* A line of a partition file, by time (stable: an added line after the
 * storm's own at the same time). */
struct tline {
	int64_t		 at;
	int		 added;
	size_t		 ord;
	char		*text;
};

static int
tline_cmp(const void *a, const void *b)
{
	const struct tline *x = a, *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	if (x->added != y->added)
		return x->added - y->added;
	return x->ord < y->ord ? -1 : x->ord > y->ord;
}

/*
 * Operators at work on partition p (file path), as ticketing would send
 * them and the scale-out design forwards them into the partition: from a
 * replay of the storm alone, every 4th incident opened is acknowledged 90
 * s later, every 8th dispatched 10 minutes later, every 12th resolved 3
 * hours later (refused while an alarm is active: its rejection goes to
 * tocsin.actions.rejected); an action on an incident that never exists;
 * and a maintenance window over each area of the partition on the second
 * day, 00:00-06:00 (the 02:00 storm falls in it), removed at 04:00 for
 * one of them.  The lines are merged into the file by time.  Returns the
 * actions added.
 */
static int
add_operators(int p, const char *path, const struct config *cfg)
{
	char *obuf = NULL, *ebuf = NULL, *save, *l, line[1024], at[UTC_LEN];
	size_t olen = 0, elen = 0, n = 0, cap = 0, nopened = 0;
	FILE *o = open_memstream(&obuf, &olen), *e = open_memstream(&ebuf,
	    &elen), *fp;
	struct tline *tl = NULL;
	struct replay_rec rec;
	char why[160];
	int64_t maxat = INT64_MIN;
	int actions = 0;

#define TL_ADD(t, a, txt) do {						\
	if (n == cap) {							\
		cap = cap ? cap * 2 : 1024;				\
		tl = realloc(tl, cap * sizeof(*tl));			\
		cr_assert_not_null(tl);					\
	}								\
	tl[n] = (struct tline){ (t), (a), n, strdup(txt) };		\
	n++;								\
} while (0)

	cr_assert_eq(replay_run(path, cfg->fleet, &cfg->correlation,
	    REPLAY_STRICT | REPLAY_LATE | REPLAY_ONE_THREAD | REPLAY_SHARD(p), o,
	    e), 0);
	fclose(o);
	fclose(e);
	fp = fopen(path, "r");
	cr_assert_not_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		cr_assert_eq(replay_parse_line(line, strlen(line), &rec, why,
		    sizeof(why)), 0, "%s", why);
		/* by stream time, so the late lines stay where they are */
		if (rec.at_ms > maxat)
			maxat = rec.at_ms;
		TL_ADD(maxat, 0, line);
	}
	fclose(fp);
	for (l = strtok_r(obuf, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		json_t *ev = json_loads(l, 0, NULL);
		const char *id;
		int64_t t;
		static const struct { int every; int64_t after; const char *a; }
		    acts[] = { { 4, 90000, "ack" }, { 8, 600000, "dispatch" },
		    { 12, 3 * 3600000LL, "resolve" } };

		cr_assert_not_null(ev);
		if (strcmp(json_string_value(json_object_get(ev, "event")),
		    "opened") != 0) {
			json_decref(ev);
			continue;
		}
		id = json_string_value(json_object_get(json_object_get(ev,
		    "incident"), "id"));
		cr_assert_eq(utc_parse(json_string_value(json_object_get(ev,
		    "at")), strlen(json_string_value(json_object_get(ev,
		    "at"))), &t), 0);
		nopened++;
		for (size_t k = 0; k < 3; k++) {
			if (nopened % (size_t)acts[k].every != 0)
				continue;
			utc_format(t + acts[k].after, at);
			snprintf(line, sizeof(line), "{\"at\":\"%s\",\"incident\":"
			    "\"%s\",\"action\":\"%s\",\"actor\":\"noc%d\","
			    "\"note\":\"shift B\"}\n", at, id, acts[k].a, p);
			TL_ADD(t + acts[k].after, 1, line);
			actions++;
		}
		json_decref(ev);
	}
	/* an action on an incident that never exists: refused */
	utc_format(T0 + 3600000, at);
	snprintf(line, sizeof(line), "{\"at\":\"%s\",\"incident\":"
	    "\"INC-%d-999999\",\"action\":\"ack\",\"actor\":\"noc\"}\n",
	    at, p);
	TL_ADD(T0 + 3600000, 1, line);
	actions++;
	/* day 2, 00:00-06:00: each area of this partition planned */
	for (size_t a = 0; a < cfg->fleet->nareas; a++) {
		char st[UTC_LEN], en[UTC_LEN];

		if (fleet_area_shard(cfg->fleet->areas[a], (unsigned)P) !=
		    (unsigned)p)
			continue;
		utc_format(T0 + 12 * 3600000LL, at);
		utc_format(T0 + 24 * 3600000LL, st);
		utc_format(T0 + 30 * 3600000LL, en);
		snprintf(line, sizeof(line), "{\"at\":\"%s\",\"maintenance\":"
		    "\"add\",\"id\":%zu,\"area\":\"%s\",\"start\":\"%s\","
		    "\"end\":\"%s\",\"reason\":\"grid works\"}\n", at,
		    100 + a, cfg->fleet->areas[a], st, en);
		TL_ADD(T0 + 12 * 3600000LL, 1, line);
		if (a % 2 == 0) {
			utc_format(T0 + 28 * 3600000LL, at);
			snprintf(line, sizeof(line), "{\"at\":\"%s\","
			    "\"maintenance\":\"remove\",\"id\":%zu}\n", at,
			    100 + a);
			TL_ADD(T0 + 28 * 3600000LL, 1, line);
		}
	}
#undef TL_ADD
	qsort(tl, n, sizeof(*tl), tline_cmp);
	fp = fopen(path, "w");
	cr_assert_not_null(fp);
	for (size_t i = 0; i < n; i++) {
		fputs(tl[i].text, fp);
		free(tl[i].text);
	}
	fclose(fp);
	free(tl);
	free(obuf);
	free(ebuf);
	return actions;
}

/*
 * Partition p's lines (the file at path) replayed as shard p, applying
 * lines behind stream time as a correlator does: each event into want,
 * counted in *total.  Returns the replay's report (malloc'd).
 */
static char *
replay_into(const char *path, struct config *cfg, int p, json_t *want,
    int *total)
{
	char *obuf = NULL, *ebuf = NULL, *l, *save;
	size_t olen = 0, elen = 0;
	FILE *o = open_memstream(&obuf, &olen);
	FILE *e = open_memstream(&ebuf, &elen);

	cr_assert_eq(replay_run(path, cfg->fleet, &cfg->correlation,
	    REPLAY_STRICT | REPLAY_LATE | REPLAY_ONE_THREAD | REPLAY_SHARD(p),
	    o, e), 0);
	fclose(o);
	fclose(e);
	cr_assert_not_null(strstr(ebuf, " out_of_order=0 "), "%s", ebuf);
	for (l = strtok_r(obuf, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		json_t *ev = json_loads(l, 0, NULL);

		cr_assert_not_null(ev);
		add_event(want, json_string_value(json_object_get(
		    json_object_get(ev, "incident"), "id")), l, strlen(l));
		json_decref(ev);
		(*total)++;
	}
	free(obuf);
	return ebuf;
}

/* The stage's topics, P partitions where they follow tocsin.alarms. */
static void
make_topics(void)
{
	const struct ktxnfix_topic t[] = {
		{ "tocsin.alarms", P, NULL },
		{ "tocsin.changelog", P, "compact" },
		{ "tocsin.incidents", 3, NULL },
		{ "tocsin.actions.rejected", 1, NULL },
		{ "tocsin.history", 2, NULL },
	};

	ktxnfix_topics(bootstrap, t, 5);
}

/*
 * The test's directory, its configuration and the storm in one file per
 * partition (path[p]), with operators at work in it (add_operators); the reference in want (each partition replayed
 * as its shard: id -> its events); the topics made.  Returns the events
 * expected, or -1 when the test is skipped.
 */
static int
setup(const char *name, char path[PMAX][256], struct config **cfgp,
    json_t *want)
{
	const char *why;
	struct config *cfg;
	FILE *part[PMAX];
	int total = 0, rejected = 0, late = 0;

	if ((why = ktxnfix_broker(bootstrap, sizeof(bootstrap))) != NULL) {
		cr_skip_test("%s", why);
		return -1;
	}
	snprintf(dir, sizeof(dir), "/tmp/%s-%d", name, (int)getpid());
	cr_assert_eq(mkdir(dir, 0700), 0);
	write_config();
	cfg = load();
	cr_assert_not_null(cfg, "the test's configuration");

	for (int p = 0; p < P; p++) {
		snprintf(path[p], 256, "%s/part%d.jsonl", dir, p);
		part[p] = fopen(path[p], "w");
		cr_assert_not_null(part[p]);
	}
	(void)generate(part, cfg);
	for (int p = 0; p < P; p++) {
		fclose(part[p]);
		cr_log_info("partition %d: %d operator actions added", p,
		    add_operators(p, path[p], cfg));
	}

	/* the reference: each partition replayed as its shard */
	for (int p = 0; p < P; p++) {
		char *ebuf = replay_into(path[p], cfg, p, want, &total);
		const char *r = strstr(ebuf, " actions_rejected=");

		cr_log_info("partition %d: %s", p, ebuf);
		cr_assert_not_null(r);
		rejected += atoi(r + 18);
		r = strstr(ebuf, "replay: late=");
		cr_assert_not_null(r, "%s", ebuf);
		late += atoi(r + 13);
		free(ebuf);
	}
	cr_assert_gt(total, 200, "a storm with few events: %d", total);
	make_topics();
	cr_assert_gt(rejected, 0, "no action refused: the rejections are not "
	    "checked");
	cr_assert_gt(late, 0, "no late line: their order is not checked");
	cr_log_info("%d lines behind stream time, %d actions refused", late,
	    rejected);
	want_rejected = rejected;
	*cfgp = cfg;
	return total;
}

/*
 * tocsin.incidents read_committed holds, incident by incident and seq by
 * seq, byte for byte, what want holds.
 */
static void
check_equal(json_t *want)
{
	json_t *got = json_object(), *a;
	const char *id;
	char *out, *save, *l, cmd[300];

	out = ktxnfix_read(bootstrap, "tocsin.incidents", "read_committed",
	    "%k|%s\\n");
	for (l = strtok_r(out, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		char *bar = strchr(l, '|');

		cr_assert_not_null(bar, "%s", l);
		*bar = '\0';
		add_event(got, l, bar + 1, strlen(bar + 1));
	}
	free(out);
	cr_assert_eq(json_object_size(got), json_object_size(want),
	    "%zu incidents on the topic, %zu in the replays",
	    json_object_size(got), json_object_size(want));
	json_object_foreach(want, id, a) {
		json_t *g = json_object_get(got, id);

		cr_assert_not_null(g, "%s not on the topic", id);
		cr_assert_eq(json_array_size(g), json_array_size(a),
		    "%s: %zu events on the topic, %zu in the replay", id,
		    json_array_size(g), json_array_size(a));
		for (size_t i = 0; i < json_array_size(a); i++)
			cr_assert_str_eq(json_string_value(json_array_get(g, i)),
			    json_string_value(json_array_get(a, i)),
			    "%s event %zu", id, i + 1);
	}
	json_decref(got);
	/* every refused action's rejection, once */
	cr_assert_eq(ktxnfix_count(bootstrap, "tocsin.actions.rejected",
	    "read_committed"), want_rejected);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	free(pubfix_sh(cmd, 10000));
}

/*
 * Once need events are committed (the stage is making progress), the
 * tenth c of every partition goes in and, 150 ms later, at work on it (a
 * tenth takes a correlator about a second here), pid is killed with
 * SIGKILL.
 */
static void
kill_at_work(pid_t pid, char path[PMAX][256], int c, int need, int total)
{
	int have = ktxnfix_wait_committed(bootstrap, "tocsin.incidents", need,
	    180000);

	cr_assert_geq(have, need, "%d of %d events committed after %d tenths",
	    have, total, c);
	for (int p = 0; p < P; p++)
		feed(p, path[p], c);
	usleep(150000);
	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert_eq(ktxnfix_wait(pid, 10000), 128 + SIGKILL);
}

Test(cstage, sigkill_twice_equals_a_replay_of_each_partition,
    .fini = broker_fini, .timeout = 420)
{
	struct config *cfg;
	char path[PMAX][256];
	json_t *want = json_object();
	int total, open_outputs = 0, last_done = 0, gap = 0;
	pid_t pid;

	P = 2;
	if ((total = setup("cstage", path, &cfg, want)) < 0)
		return;
	/*
	 * The input arrives live, a tenth of each partition at a time.  After
	 * the 3rd and the 6th tenth the correlator must have committed a
	 * part; the next tenth goes in and 150 ms later, at work on it (a
	 * tenth takes it about a second here, a transaction every 50 ms),
	 * it is killed and started again.  Whether a kill left produced
	 * events of an open transaction on the broker (they may still have
	 * been in the producer's queue) is printed, not judged: the equality
	 * below is.
	 */
	pid = ktxnfix_child(stage_main);
	for (int c = 0; c < CHUNKS; c++) {
		for (int p = 0; p < P; p++)
			feed(p, path[p], c);
		if (c == 2 || c == 5) {
			int done, all;

			/* progress of this one, not the last one's */
			kill_at_work(pid, path, ++c, last_done + total /
			    CHUNKS / 2, total);
			done = count_events("read_committed");
			all = count_events("read_uncommitted");
			cr_assert_lt(done, total, "the correlator finished "
			    "before its kill");
			open_outputs += all - done > gap;
			cr_log_info("correlator killed at work on tenth %d: %d of "
			    "%d events committed, %d more produced in the "
			    "transaction it left open", c + 1, done, total,
			    all - done - gap);
			gap = all - done;
			last_done = done;
			pid = ktxnfix_child(stage_main);
		}
	}
	/* how often a kill found outputs of an open transaction on the
	 * broker (they may still be in the producer's queue): said, not
	 * judged; the equality below is */
	cr_log_info("kills that left produced, uncommitted events: %d of 2",
	    open_outputs);
	(void)ktxnfix_wait_committed(bootstrap, "tocsin.incidents", total,
	    180000);
	cr_assert_eq(kill(pid, SIGTERM), 0);
	cr_assert_eq(ktxnfix_wait(pid, 60000), 0, "the last correlator's exit");
	check_equal(want);
	json_decref(want);
	config_free(cfg);
}

/* ---- several tocsind instances in daemon.role: correlator ---- */

struct inst {
	pid_t	 pid;
	char	 name[16];
	char	 log[256];
	int	 port;		/* HTTP, or 0 */
};

/*
 * tocsind -c <dir>/<name>.yaml: head (its daemon, kafka and http
 * sections), then the fleet (fleet_body); stdout and stderr to
 * <dir>/<name>.log.  Its PID is kept in spawned[] for a .fini that kills
 * what a failed test left running.
 */
static const char *fleet_body;
static pid_t spawned[8];
static int nspawned;
static int rport;		/* the correlators' redis-server, or 0: none */
static int rfeed;		/* their redis.feed_records, or 0: the
				 * default */
static const char *htopic;	/* their kafka.history, or NULL: none */

static void
inst_spawn(struct inst *in, const char *name, const char *head)
{
	char yaml[256];
	FILE *fp;

	snprintf(in->name, sizeof(in->name), "%s", name);
	snprintf(in->log, sizeof(in->log), "%s/%s.log", dir, name);
	snprintf(yaml, sizeof(yaml), "%s/%s.yaml", dir, name);
	fp = fopen(yaml, "w");
	cr_assert_not_null(fp);
	fprintf(fp, "%s%s", head, fleet_body);
	fclose(fp);
	in->pid = fork();
	cr_assert_geq(in->pid, 0);
	if (in->pid > 0 && nspawned < (int)(sizeof(spawned) /
	    sizeof(spawned[0])))
		spawned[nspawned++] = in->pid;
	if (in->pid == 0) {
		int fd = open(in->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
		}
		execl(proc_build_path("tocsind"), "tocsind", "-c", yaml,
		    (char *)NULL);
		_exit(127);
	}
}

/* A correlator: role correlator, client and transactional.id name, HTTP
 * on port (0: none); the redis section of a user's config when rport is
 * set (docs/configuration.md: every setting but the port its default). */
static void
inst_start(struct inst *in, const char *name, int port)
{
	char head[1024];
	int n;

	in->port = port;
	n = snprintf(head, sizeof(head), "daemon: {role: correlator, shards: "
	    "%d, state_dir: %s/state-%s, log_level: info}\n"
	    "kafka:\n  brokers: \"%s\"\n  alarms: tocsin.alarms\n"
	    "  client_id: %s\n  history: \"%s\"\n  properties:\n"
	    "    consumer.session.timeout.ms: \"6000\"\n"
	    "    consumer.heartbeat.interval.ms: \"500\"\n"
	    "http: {enabled: %s, listen: \"127.0.0.1:%d\"}\n", P, dir, name,
	    bootstrap, name, htopic != NULL ? htopic : "",
	    port > 0 ? "true" : "false", port);
	if (rport > 0 && rfeed > 0)
		n += snprintf(head + n, sizeof(head) - (size_t)n, "redis: "
		    "{enabled: true, port: %d, feed_records: %d}\n", rport,
		    rfeed);
	else if (rport > 0)
		n += snprintf(head + n, sizeof(head) - (size_t)n, "redis: "
		    "{enabled: true, port: %d}\n", rport);
	cr_assert_lt(n, (int)sizeof(head));
	inst_spawn(in, name, head);
}

/* The test's fleet: its config file without the first line (daemon:). */
static void
fleet_from_config(void)
{
	char *base = tenv_read_file(cfgpath), *nl = strchr(base, '\n');

	cr_assert_not_null(nl);
	fleet_body = strdup(nl + 1);
	free(base);
}

/* Each "rebuilt from the changelog" line of an instance's log, printed. */
static int
inst_rebuilds(const struct inst *in)
{
	char *log = tenv_read_file(in->log), *l, *save;
	int k = 0;

	if (log == NULL)
		return 0;
	for (l = strtok_r(log, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save))
		if (strstr(l, "rebuilt from the changelog") != NULL) {
			cr_log_info("%s: %s", in->name, strstr(l, "cstage:"));
			k++;
		}
	free(log);
	return k;
}

/*
 * SIGTERM to the live ones of in[0..n), each to exit 0 (60 s); every
 * instance's rebuilds printed, and with need_rebuilds at least one each.
 */
static void
stop_alive(const struct inst *in, const int *alive, int n,
    int need_rebuilds)
{
	for (int i = 0; i < n; i++)
		if (alive[i])
			cr_assert_eq(kill(in[i].pid, SIGTERM), 0);
	for (int i = 0; i < n; i++) {
		int k;

		if (alive[i])
			cr_assert_eq(ktxnfix_wait(in[i].pid, 60000), 0,
			    "%s's exit", in[i].name);
		k = inst_rebuilds(&in[i]);
		if (need_rebuilds)
			cr_assert_gt(k, 0, "%s rebuilt nothing", in[i].name);
	}
}

/*
 * Waits (60 s at most) until GET /api/v1/cluster at port says the group
 * has n members owning every partition between them: the group has
 * moved a dead member's partitions.
 */
static void
wait_members(int port, int n)
{
	int64_t end = tenv_mono_ms() + 60000;
	char last[1024] = "";

	while (tenv_mono_ms() < end) {
		struct httpfix_resp r;
		json_t *j = NULL, *m;
		int owned = 0, members = -1;
		size_t i;

		if (httpfix_do(port, "GET", "/api/v1/cluster", NULL, NULL,
		    &r) == 200 && (j = json_loads(r.body, 0, NULL)) != NULL) {
			members = (int)json_array_size(json_object_get(j,
			    "members"));
			json_array_foreach(json_object_get(j, "members"), i, m)
				owned += (int)json_array_size(json_object_get(m,
				    "partitions"));
		}
		snprintf(last, sizeof(last), "%s", r.body != NULL ? r.body :
		    "");
		json_decref(j);
		httpfix_free(&r);
		if (members == n && owned == P) {
			cr_log_info("the group moved the partitions: %s", last);
			return;
		}
		usleep(200000);
	}
	cr_assert_fail("the group never had %d members owning %d partitions: "
	    "%s", n, P, last);
}

/* tocsinctl -s <the instance at port> cmd [arg], run to its end. */
static void
ctl_run(int port, const char *cmd, const char *arg, struct proc_result *pr)
{
	char url[64], *argv[6];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	argv[0] = (char *)proc_build_path("tocsinctl");
	argv[1] = "-s";
	argv[2] = url;
	argv[3] = (char *)cmd;
	argv[4] = (char *)arg;
	argv[5] = NULL;
	cr_assert_eq(proc_run(argv, 20000, pr), 0);
}

/* Each incident's last event in the replays (want: id -> its events),
 * parsed: id -> that event (a new reference). */
static json_t *
want_last(json_t *want)
{
	json_t *out = json_object(), *a, *ev;
	const char *id;

	json_object_foreach(want, id, a) {
		ev = json_loads(json_string_value(json_array_get(a,
		    json_array_size(a) - 1)), 0, NULL);
		cr_assert_not_null(ev, "%s", id);
		json_object_set_new(out, id, ev);
	}
	return out;
}

/* The incident's state in an event ("" when it has none). */
static const char *
ev_state(const json_t *ev)
{
	const char *s = json_string_value(json_object_get(json_object_get(ev,
	    "incident"), "state"));

	return s != NULL ? s : "";
}

/* The open incidents the replays end with in the partitions that
 * /healthz at port lists as owned: id -> its last event's seq. */
static json_t *
open_owned(int port, json_t *want)
{
	struct httpfix_resp r;
	json_t *h, *parts, *x, *ev, *last, *out = json_object();
	int owned[PMAX] = { 0 }, st;
	const char *id;
	size_t i;

	st = httpfix_do(port, "GET", "/healthz", NULL, NULL, &r);
	h = json_loads(r.body, 0, NULL);
	cr_assert_not_null(h, "%s", r.body);
	/* 503 only for the history three_correlators blocks */
	cr_assert(st == 200 || (st == 503 && json_array_size(json_object_get(h,
	    "reasons")) == 1 && strstr(r.body, "\"history ") != NULL), "%d %s",
	    st, r.body);
	parts = json_object_get(h, "partitions");
	json_array_foreach(parts, i, x) {
		json_int_t p = json_integer_value(json_object_get(x,
		    "partition"));

		cr_assert(p >= 0 && p < PMAX);
		owned[p] = 1;
	}
	cr_assert_gt(json_array_size(parts), 0, "%s", r.body);
	json_decref(h);
	httpfix_free(&r);
	last = want_last(want);
	json_object_foreach(last, id, ev) {
		const char *dash = strchr(id, '-');

		cr_assert_not_null(dash);
		cr_assert_str_neq(ev_state(ev), "", "%s", id);
		if (owned[atoi(dash + 1)] && strcmp(ev_state(ev), "closed") != 0)
			json_object_set_new(out, id, json_integer(
			    json_integer_value(json_object_get(ev, "seq"))));
	}
	json_decref(last);
	return out;
}

/* GET /api/v1/incidents at port, every page: id -> seq, or NULL (no
 * assertion: the stream reader's thread calls it too). */
static json_t *
listing(int port)
{
	json_t *out = json_object();
	char path[256], cursor[128] = "";

	do {
		struct httpfix_resp r;
		json_t *j, *x;
		size_t i;

		snprintf(path, sizeof(path), "/api/v1/incidents?limit=1000%s%s",
		    cursor[0] != '\0' ? "&cursor=" : "", cursor);
		if (httpfix_do(port, "GET", path, NULL, NULL, &r) != 200 ||
		    (j = json_loads(r.body, 0, NULL)) == NULL) {
			httpfix_free(&r);
			json_decref(out);
			return NULL;
		}
		json_array_foreach(json_object_get(j, "incidents"), i, x)
			json_object_set_new(out, json_string_value(
			    json_object_get(json_object_get(x, "incident"),
			    "id")), json_integer(json_integer_value(
			    json_object_get(x, "seq"))));
		x = json_object_get(j, "next_cursor");
		snprintf(cursor, sizeof(cursor), "%s", json_is_string(x) ?
		    json_string_value(x) : "");
		json_decref(j);
		httpfix_free(&r);
	} while (cursor[0] != '\0');
	return out;
}

/* The same, asserted. */
static json_t *
read_listed(int port)
{
	json_t *m = listing(port);

	cr_assert_not_null(m, "GET /api/v1/incidents at %d failed", port);
	return m;
}

/*
 * The incident read API of the correlator at port holds, within 30 s of
 * the last commit, exactly the open incidents of the partitions it owns
 * as the replays end them, each at its last seq; and each of them shown
 * whole has every step its events carried, in order.
 */
static void
check_reads(int port, json_t *want)
{
	int64_t t0 = tenv_mono_ms();
	json_t *exp = NULL, *got = NULL, *a, *seq;
	const char *id;
	int same = 0, shown = 0;

	while (!same && tenv_mono_ms() - t0 < 30000) {
		json_decref(exp);
		json_decref(got);
		exp = open_owned(port, want);
		got = read_listed(port);
		if (!(same = json_equal(exp, got)))
			usleep(200000);
	}
	cr_log_info("read API: %zu open incidents listed, %zu in the replays "
	    "of the owned partitions", json_object_size(got),
	    json_object_size(exp));
	cr_assert_gt(json_object_size(exp), 0);
	json_object_foreach(exp, id, seq) {
		json_t *g = json_object_get(got, id);

		cr_assert_not_null(g, "%s open in the replay, not listed", id);
		cr_assert_eq(json_integer_value(g), json_integer_value(seq),
		    "%s listed at seq %lld, the replay's last is %lld", id,
		    (long long)json_integer_value(g),
		    (long long)json_integer_value(seq));
	}
	cr_assert(same, "%zu listed, %zu open", json_object_size(got),
	    json_object_size(exp));
	json_object_foreach(exp, id, seq) {
		struct httpfix_resp r;
		char path[128];
		json_t *j, *tl, *steps = json_array(), *ev;
		size_t i, k;

		a = json_object_get(want, id);
		for (i = 0; i < json_array_size(a); i++) {
			ev = json_loads(json_string_value(json_array_get(a, i)),
			    0, NULL);
			json_array_extend(steps, json_object_get(ev, "steps"));
			json_decref(ev);
		}
		snprintf(path, sizeof(path), "/api/v1/incidents/%s", id);
		cr_assert_eq(httpfix_do(port, "GET", path, NULL, NULL, &r), 200,
		    "%s: %s", path, r.body);
		j = json_loads(r.body, 0, NULL);
		cr_assert_not_null(j, "%s", r.body);
		tl = json_object_get(j, "timeline");
		cr_assert(json_is_true(json_object_get(j, "timeline_complete")),
		    "%s", r.body);
		cr_assert_eq(json_array_size(tl), json_array_size(steps),
		    "%s: %zu steps shown, %zu in its events", id,
		    json_array_size(tl), json_array_size(steps));
		for (k = 0; k < json_array_size(tl); k++)
			cr_assert(json_equal(json_array_get(tl, k),
			    json_array_get(steps, k)), "%s step %zu", id, k);
		json_decref(j);
		json_decref(steps);
		httpfix_free(&r);
		if (shown == 0) {
			/* as an operator reads it */
			struct proc_result pr;

			ctl_run(port, "show", id, &pr);
			cr_log_info("tocsinctl show %s:\n%s", id, pr.out);
			cr_assert_eq(pr.status, 0, "%s%s", pr.out, pr.err);
			cr_assert_not_null(strstr(pr.out, id), "%s", pr.out);
			proc_result_free(&pr);
		}
		if (++shown == 20)
			break;
	}
	json_decref(exp);
	json_decref(got);
}

/*
 * ---- a correlator's event stream, read as the NOC page reads it ----
 * GET /api/v1/events on a thread of the test: the listing read at the
 * first connect and again at each `event: reset` (a partition's
 * incidents replaced: assigned, rebuilt, revoked); each incident event
 * applied over it when its seq is newer, a closed one removed; a stream
 * the server ends is resumed from its last id.  No assertion on the
 * thread: a failure is kept in err for the test's thread.
 */
struct swatch {
	int		 port;
	pthread_t	 thr;
	atomic_int	 stop;
	pthread_mutex_t	 mu;
	json_t		*map;		/* id -> seq: open as the page knows */
	unsigned	 events, resets, snapshots, reconnects;
	char		 err[256];
};

static void
swatch_snapshot(struct swatch *w)
{
	json_t *m = listing(w->port);

	pthread_mutex_lock(&w->mu);
	if (m == NULL && w->err[0] == '\0')
		snprintf(w->err, sizeof(w->err), "the listing could not be "
		    "read after a reset");
	if (m != NULL) {
		json_decref(w->map);
		w->map = m;
		w->snapshots++;
	}
	pthread_mutex_unlock(&w->mu);
}

static void
swatch_event(struct swatch *w, const char *data)
{
	json_t *ev = data != NULL ? json_loads(data, 0, NULL) : NULL;
	const char *id = json_string_value(json_object_get(json_object_get(ev,
	    "incident"), "id"));
	json_int_t seq = json_integer_value(json_object_get(ev, "seq"));
	json_t *had;

	pthread_mutex_lock(&w->mu);
	if (id == NULL || seq <= 0) {
		if (w->err[0] == '\0')
			snprintf(w->err, sizeof(w->err), "not an incident "
			    "event: %.200s", data != NULL ? data : "(none)");
	} else if ((had = json_object_get(w->map, id)) == NULL ||
	    json_integer_value(had) < seq) {
		if (strcmp(ev_state(ev), "closed") == 0)
			json_object_del(w->map, id);
		else
			json_object_set_new(w->map, id, json_integer(seq));
	}
	w->events++;
	pthread_mutex_unlock(&w->mu);
	json_decref(ev);
}

static void *
swatch_run(void *arg)
{
	struct swatch *w = arg;
	struct ssefix *s = NULL;
	char last[SSEFIX_ID_MAX] = "";

	while (!atomic_load(&w->stop)) {
		struct ssefix_block b;
		int k;

		if (s == NULL) {
			s = ssefix_open(w->port, NULL, last[0] != '\0' ? last :
			    NULL, 5000);
			if (s == NULL || ssefix_status(s) != 200) {
				ssefix_close(s);	/* not up yet */
				s = NULL;
				usleep(200000);
				continue;
			}
			if (last[0] == '\0')
				swatch_snapshot(w);	/* as the page starts */
		}
		if ((k = ssefix_next(s, &b, 200)) < 0) {
			snprintf(last, sizeof(last), "%s", ssefix_last_id(s));
			ssefix_close(s);
			s = NULL;
			pthread_mutex_lock(&w->mu);
			w->reconnects++;
			pthread_mutex_unlock(&w->mu);
			continue;
		}
		if (k == 0)
			continue;
		if (strcmp(b.event, "reset") == 0) {
			pthread_mutex_lock(&w->mu);
			w->resets++;
			pthread_mutex_unlock(&w->mu);
			swatch_snapshot(w);
		} else if (strcmp(b.event, "incident") == 0)
			swatch_event(w, b.data);
		ssefix_block_free(&b);
	}
	ssefix_close(s);
	return NULL;
}

static void
swatch_start(struct swatch *w, int port)
{
	memset(w, 0, sizeof(*w));
	w->port = port;
	w->map = json_object();
	pthread_mutex_init(&w->mu, NULL);
	cr_assert_eq(pthread_create(&w->thr, NULL, swatch_run, w), 0);
}

/*
 * Within 30 s, what the stream reader holds equals the listing (which
 * check_reads found equal to the replays); then the reader stops.
 */
static void
swatch_check(struct swatch *w)
{
	int64_t t0 = tenv_mono_ms();
	json_t *list = NULL;
	int same = 0;

	while (!same && tenv_mono_ms() - t0 < 30000) {
		json_decref(list);
		list = listing(w->port);
		cr_assert_not_null(list);
		pthread_mutex_lock(&w->mu);
		same = json_equal(list, w->map);
		pthread_mutex_unlock(&w->mu);
		if (!same)
			usleep(200000);
	}
	atomic_store(&w->stop, 1);
	pthread_join(w->thr, NULL);
	cr_log_info("event stream: %u events, %u resets, %u listings read, "
	    "%u reconnects; %zu open as the stream left them, %zu listed",
	    w->events, w->resets, w->snapshots, w->reconnects,
	    json_object_size(w->map), json_object_size(list));
	cr_assert_str_eq(w->err, "");
	cr_assert_gt(w->events, 0, "no incident event on the stream");
	cr_assert_gt(w->resets, 0, "partitions moved to it: no reset");
	cr_assert(same, "the stream's reader holds %zu open incidents, the "
	    "listing %zu", json_object_size(w->map), json_object_size(list));
	json_decref(list);
	{
		struct httpfix_resp r;
		char *l;

		cr_assert_eq(httpfix_do(w->port, "GET", "/metrics", NULL, NULL,
		    &r), 200);
		for (l = strstr(r.body, "\ntocsin_sse_"); l != NULL;
		    l = strstr(l + 1, "\ntocsin_sse_"))
			cr_log_info("%.*s", (int)strcspn(l + 1, "\n"), l + 1);
		cr_assert_not_null(strstr(r.body, "tocsin_sse_resets_total "),
		    "%s", r.body);
		httpfix_free(&r);
	}
	json_decref(w->map);
	pthread_mutex_destroy(&w->mu);
}

/* ---- Redis, shared by every correlator (docs/scaleout.md, "Not built") ---- */

#define RD_SHOW	5	/* differences of each kind shown */

static pid_t redis_pid = -1;	/* the correlators' redis-server */

/* The correlators' redis-server on rport (a free port the first time),
 * no persistence: started again, it is empty; its stderr to dir/err. */
static void
redis_start(const char *err)
{
	if (rport == 0) {
		rport = tenv_free_port("127.0.0.1");
		cr_assert_gt(rport, 0);
	}
	redis_pid = pubfix_redis_start(dir, rport, err);
	cr_assert_gt(redis_pid, 0);
}

/*
 * .fini of the tests with Redis: the correlators a failed test left
 * running, by PID (only a child not yet waited for: a PID already reaped
 * may be someone else's now); redis-server, continued first if a test
 * froze it; the broker.
 */
static void
redis_fini(void)
{
	for (int i = 0; i < nspawned; i++) {
		int st;

		if (waitpid(spawned[i], &st, WNOHANG) == 0) {
			(void)kill(spawned[i], SIGKILL);
			(void)waitpid(spawned[i], &st, 0);
		}
	}
	if (redis_pid > 0)
		(void)kill(redis_pid, SIGCONT);
	pubfix_stop(&redis_pid, SIGTERM);
	broker_fini();
}

/* A connection to the correlators' Redis (10 s per reply), or NULL with
 * why in err. */
static redisContext *
redis_connect(char *err, size_t len)
{
	const struct timeval ct = { 5, 0 }, rt = { 10, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", rport, ct);

	if (c == NULL || c->err) {
		snprintf(err, len, "cannot connect to 127.0.0.1:%d: %s", rport,
		    c != NULL ? c->errstr : "out of memory");
		redisFree(c);
		return NULL;
	}
	(void)redisSetTimeout(c, rt);
	return c;
}

/* A reply's text (NULL: nil, or not text). */
static const char *
rd_str(const redisReply *r)
{
	return r != NULL && (r->type == REDIS_REPLY_STRING ||
	    r->type == REDIS_REPLY_STATUS) ? r->str : NULL;
}

/* One difference of a kind: counted in d[kind].n, the first RD_SHOW
 * kept in d[kind].first (in the order kinds first appear). */
__attribute__((format(printf, 3, 4)))
static void
rd_note(json_t *d, const char *kind, const char *fmt, ...)
{
	json_t *k = json_object_get(d, kind);
	char buf[256];
	va_list ap;

	if (k == NULL) {
		k = json_pack("{s:i, s:[]}", "n", 0, "first");
		json_object_set_new(d, kind, k);
	}
	json_object_set_new(k, "n", json_integer(json_integer_value(
	    json_object_get(k, "n")) + 1));
	if (json_array_size(json_object_get(k, "first")) >= RD_SHOW)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(json_object_get(k, "first"), json_string(buf));
}

/*
 * Redis as a NOC screen reads it, against the replays' last events (last:
 * id -> its last event, every partition):
 * - tocsin:incidents:open is exactly the ids open in the replays;
 * - each open incident's hash is at the replay's last seq and state, and
 *   its timeline list is as long as that event's timeline_len;
 * - tocsin:deadlines holds open incidents only, each at its hash's
 *   deadline, and every open incident whose hash has one;
 * - each site hash has an inc:<id> field for exactly the site's open
 *   incidents, at their states, and names one of them in incident and
 *   state (or says ok when none is open).
 * NULL when so, else what differs (malloc'd): per kind its count and
 * the first RD_SHOW.  sum: what was compared, in a line.
 */
static char *
redis_diff(json_t *last, char *sum, size_t sumlen)
{
	json_t *d = json_object(), *open = json_object(), *have = json_object();
	json_t *dl = json_object(), *sites = json_object(), *ids, *ev, *s, *k;
	redisContext *c;
	redisReply *r;
	const char *id, *site;
	char *text = NULL, err[256];
	size_t len = 0, i;
	FILE *fp;

	json_object_foreach(last, id, ev) {
		site = json_string_value(json_object_get(json_object_get(ev,
		    "incident"), "site"));
		s = NULL;
		if (site != NULL && site[0] != '\0' &&
		    (s = json_object_get(sites, site)) == NULL) {
			s = json_object();
			json_object_set_new(sites, site, s);
		}
		if (strcmp(ev_state(ev), "closed") == 0)
			continue;
		json_object_set(open, id, ev);
		if (s != NULL)
			json_object_set_new(s, id, json_string(ev_state(ev)));
	}
	if ((c = redis_connect(err, sizeof(err))) == NULL) {
		rd_note(d, "no answer", "%s", err);
		goto out;
	}
	r = redisCommand(c, "ZRANGE tocsin:incidents:open 0 -1");
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		rd_note(d, "no answer", "ZRANGE: %s", r != NULL ? r->str :
		    c->errstr);
		freeReplyObject(r);
		redisFree(c);
		goto out;
	}
	for (i = 0; i < r->elements; i++)
		json_object_set_new(have, r->element[i]->str, json_true());
	freeReplyObject(r);
	r = redisCommand(c, "ZRANGE tocsin:deadlines 0 -1 WITHSCORES");
	if (r != NULL && r->type == REDIS_REPLY_ARRAY)
		for (i = 0; i + 1 < r->elements; i += 2)
			json_object_set_new(dl, r->element[i]->str, json_real(
			    strtod(r->element[i + 1]->str, NULL)));
	freeReplyObject(r);

	/* the open ids, of the replays and of Redis: hash and timeline */
	ids = json_copy(open);
	json_object_foreach(have, id, k)
		if (json_object_get(ids, id) == NULL)
			json_object_set_new(ids, id, json_null());
	json_object_foreach(ids, id, ev) {
		redisAppendCommand(c, "HMGET tocsin:incident:%s seq state "
		    "deadline", id);
		redisAppendCommand(c, "LLEN tocsin:incident:%s:timeline", id);
	}
	json_object_foreach(ids, id, ev) {
		redisReply *h = NULL, *ll = NULL;
		const char *seq = NULL, *st = NULL, *dead = NULL;
		json_t *sc = json_object_get(dl, id);
		long long wseq = json_integer_value(json_object_get(ev, "seq"));
		long long wtl = json_integer_value(json_object_get(
		    json_object_get(ev, "incident"), "timeline_len"));

		if (redisGetReply(c, (void **)&h) != REDIS_OK ||
		    redisGetReply(c, (void **)&ll) != REDIS_OK) {
			rd_note(d, "no answer", "HMGET/LLEN: %s", c->errstr);
			freeReplyObject(h);
			break;
		}
		if (h->type == REDIS_REPLY_ARRAY && h->elements == 3) {
			seq = rd_str(h->element[0]);
			st = rd_str(h->element[1]);
			dead = rd_str(h->element[2]);
		}
		if (json_is_null(ev)) {
			ev = json_object_get(last, id);
			rd_note(d, "in incidents:open, not open in the replays",
			    "%s (hash seq %s %s; replay: %s)", id, seq ? seq :
			    "-", st ? st : "-", ev == NULL ? "no such incident" :
			    ev_state(ev));
		} else {
			if (json_object_get(have, id) == NULL)
				rd_note(d, "open in the replays, not in "
				    "incidents:open", "%s (seq %lld %s; hash "
				    "seq %s)", id, wseq, ev_state(ev), seq ?
				    seq : "-");
			if (seq == NULL || st == NULL || atoll(seq) != wseq ||
			    strcmp(st, ev_state(ev)) != 0)
				rd_note(d, "hash not at the replay's last seq "
				    "and state", "%s: hash seq %s %s, replay "
				    "seq %lld %s", id, seq ? seq : "-", st ? st :
				    "-", wseq, ev_state(ev));
			if (ll->type != REDIS_REPLY_INTEGER ||
			    ll->integer != wtl)
				rd_note(d, "timeline not as long as the replay's",
				    "%s: %lld steps, replay timeline_len %lld",
				    id, ll->type == REDIS_REPLY_INTEGER ?
				    ll->integer : -1, wtl);
			if (dead != NULL && atoll(dead) != 0 && sc == NULL)
				rd_note(d, "hash deadline, not in deadlines",
				    "%s: deadline %s", id, dead);
			if (sc != NULL && (dead == NULL ||
			    json_real_value(sc) != strtod(dead, NULL)))
				rd_note(d, "deadlines score is not the hash's",
				    "%s: score %.0f, hash deadline %s", id,
				    json_real_value(sc), dead ? dead : "-");
		}
		freeReplyObject(h);
		freeReplyObject(ll);
	}
	json_decref(ids);
	json_object_foreach(dl, id, k)
		if (json_object_get(open, id) == NULL)
			rd_note(d, "in deadlines, not open in the replays",
			    "%s", id);

	/* each site hash: its open incidents exactly */
	json_object_foreach(sites, site, s)
		redisAppendCommand(c, "HGETALL tocsin:site:%s", site);
	json_object_foreach(sites, site, s) {
		json_t *f = json_object();
		const char *sst = NULL, *sinc = NULL, *v;

		r = NULL;
		if (redisGetReply(c, (void **)&r) != REDIS_OK ||
		    r->type != REDIS_REPLY_ARRAY) {
			rd_note(d, "no answer", "HGETALL site:%s: %s", site,
			    r != NULL && r->str != NULL ? r->str : c->errstr);
			freeReplyObject(r);
			json_decref(f);
			break;
		}
		for (i = 0; i + 1 < r->elements; i += 2) {
			const char *fk = r->element[i]->str;

			v = r->element[i + 1]->str;
			if (strncmp(fk, "inc:", 4) == 0)
				json_object_set_new(f, fk + 4, json_string(v));
			else if (strcmp(fk, "state") == 0)
				sst = v;
			else if (strcmp(fk, "incident") == 0)
				sinc = v;
		}
		json_object_foreach(f, id, k) {
			json_t *w = json_object_get(s, id);

			if (w == NULL)
				rd_note(d, "site entry of an incident not "
				    "open", "site:%s inc:%s %s", site, id,
				    json_string_value(k));
			else if (!json_equal(w, k))
				rd_note(d, "site entry at another state",
				    "site:%s inc:%s %s, replay %s", site, id,
				    json_string_value(k), json_string_value(w));
		}
		json_object_foreach(s, id, k)
			if (json_object_get(f, id) == NULL)
				rd_note(d, "open incident without its site "
				    "entry", "site:%s lacks inc:%s (%s)", site,
				    id, json_string_value(k));
		if (json_object_size(f) > 0 ? sinc == NULL || sst == NULL ||
		    json_object_get(f, sinc) == NULL || strcmp(sst,
		    json_string_value(json_object_get(f, sinc))) != 0 :
		    r->elements > 0 && (sst == NULL || strcmp(sst, "ok") != 0))
			rd_note(d, "site state naming no open incident",
			    "site:%s state %s incident %s", site, sst ? sst :
			    "-", sinc ? sinc : "-");
		freeReplyObject(r);
		json_decref(f);
	}
	redisFree(c);
out:
	snprintf(sum, sumlen, "%zu open in the replays; Redis: %zu in "
	    "incidents:open, %zu in deadlines, %zu site hashes read",
	    json_object_size(open), json_object_size(have),
	    json_object_size(dl), json_object_size(sites));
	if (json_object_size(d) > 0) {
		const char *kind;

		fp = open_memstream(&text, &len);
		cr_assert_not_null(fp);
		json_object_foreach(d, kind, k) {
			json_t *x;

			fprintf(fp, "\n  %s: %lld", kind, (long long)
			    json_integer_value(json_object_get(k, "n")));
			json_array_foreach(json_object_get(k, "first"), i, x)
				fprintf(fp, "%s%s", i == 0 ? " (" : "; ",
				    json_string_value(x));
			fprintf(fp, "%s)", json_integer_value(json_object_get(k,
			    "n")) > RD_SHOW ? "; ..." : "");
		}
		fclose(fp);
	}
	json_decref(d);
	json_decref(open);
	json_decref(have);
	json_decref(dl);
	json_decref(sites);
	return text;
}

/* Each line of in's log that holds needle (any case): counted, the
 * first max printed on stderr (a failure's evidence, shown without
 * --verbose). */
static int
inst_grep(const struct inst *in, const char *needle, int max)
{
	char *log = tenv_read_file(in->log), *l, *save;
	int k = 0;

	for (l = strtok_r(log, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save))
		if (strcasestr(l, needle) != NULL && k++ < max)
			fprintf(stderr, "cstage: %s: %s\n", in->name, l);
	if (k > max)
		fprintf(stderr, "cstage: %s: %d lines more with \"%s\"\n",
		    in->name, k - max, needle);
	free(log);
	return k;
}

/* GET /metrics of in: the value of the sample name (no labels), or -1;
 * with print, its lines of Redis and the feed printed. */
static long long
inst_metric(const struct inst *in, const char *name, int print)
{
	struct httpfix_resp r;
	char *l, *save;
	size_t n = strlen(name);
	long long v = -1;

	cr_assert_eq(httpfix_do(in->port, "GET", "/metrics", NULL, NULL, &r),
	    200, "%s /metrics", in->name);
	for (l = strtok_r(r.body, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		if (print && (strncmp(l, "tocsin_feed_", 12) == 0 ||
		    strncmp(l, "tocsin_redis_", 13) == 0 ||
		    strncmp(l, "tocsin_sink_", 12) == 0))
			cr_log_info("%s: %s", in->name, l);
		if (strncmp(l, name, n) == 0 && l[n] == ' ')
			v = atoll(l + n + 1);
	}
	httpfix_free(&r);
	return v;
}

/*
 * Waits (ms at most) until Redis equals the replays (want: id -> its
 * events; redis_diff); fails otherwise with the difference, after the
 * Redis lines of the logs of in[0..n) and what the server says of its
 * clients and keys.  when: for the messages.
 */
static void
check_redis(json_t *want, int ms, const struct inst *in, int n,
    const char *when)
{
	json_t *last = want_last(want);
	int64_t t0 = tenv_mono_ms();
	char sum[256] = "", cmd[256], *diff, *out;

	while ((diff = redis_diff(last, sum, sizeof(sum))) != NULL &&
	    tenv_mono_ms() - t0 < ms) {
		free(diff);
		usleep(500000);
	}
	json_decref(last);
	if (diff == NULL) {
		cr_log_info("Redis %s: equal to the replays after %.1f s (%s)",
		    when, (tenv_mono_ms() - t0) / 1000.0, sum);
		return;
	}
	for (int i = 0; i < n; i++)
		if (in[i].name[0] != '\0')
			(void)inst_grep(&in[i], "redis", 40);
	snprintf(cmd, sizeof(cmd), "redis-cli -p %d INFO clients | grep "
	    "connected_clients; redis-cli -p %d DBSIZE", rport, rport);
	out = pubfix_sh(cmd, 10000);
	fprintf(stderr, "cstage: redis-server: %s\n", out);
	free(out);
	cr_assert_fail("Redis %s, still not the replays' after %d ms: %s;%s",
	    when, ms, sum, diff);
}

/* ---- the history of closed incidents (daemon/chist) ---- */

/* want's closed events: id -> the line (each incident closes once). */
static json_t *
closed_of(json_t *want)
{
	json_t *c = json_object(), *a, *e;
	const char *id;
	size_t i;

	json_object_foreach(want, id, a)
		json_array_foreach(a, i, e)
			if (strstr(json_string_value(e),
			    "\"event\":\"closed\"") != NULL)
				json_object_set(c, id, e);
	return c;
}

/*
 * An instance's history: every line of its state-<name>/history/closed-*
 * files, id -> the last line; *bad counts lines that are not one of
 * closed's (NULL: not checked), *lines every line.
 */
static json_t *
history_read(const struct inst *in, json_t *closed, int *bad, int *lines)
{
	json_t *got = json_object();
	char pat[300];
	glob_t g;

	*lines = 0;
	if (bad != NULL)
		*bad = 0;
	snprintf(pat, sizeof(pat), "%s/state-%s/history/closed-*.jsonl", dir,
	    in->name);
	if (glob(pat, 0, NULL, &g) != 0)
		return got;
	for (size_t f = 0; f < g.gl_pathc; f++) {
		char *text = tenv_read_file(g.gl_pathv[f]), *l, *save;
		size_t len = strlen(text);

		if (len > 0 && text[len - 1] != '\n') {
			/* a kill -9 in a write: the next open cuts it */
			l = strrchr(text, '\n');
			cr_log_info("%s: a torn last line in %s", in->name,
			    g.gl_pathv[f]);
			*(l != NULL ? l + 1 : text) = '\0';
		}
		for (l = strtok_r(text, "\n", &save); l != NULL;
		    l = strtok_r(NULL, "\n", &save)) {
			json_t *ev = json_loads(l, 0, NULL);
			const char *id = json_string_value(json_object_get(
			    json_object_get(ev, "incident"), "id"));
			json_t *w = id ? json_object_get(closed, id) : NULL;

			(*lines)++;
			if (bad != NULL && (w == NULL ||
			    strcmp(json_string_value(w), l) != 0)) {
				if (*bad == 0)
					cr_log_error("%s: history line not a "
					    "closed event of the replays: "
					    "%.300s", in->name, l);
				(*bad)++;
			}
			if (id != NULL)
				json_object_set_new(got, id, json_string(l));
			json_decref(ev);
		}
		free(text);
	}
	globfree(&g);
	return got;
}

/*
 * With blocked, in's /healthz is 503 naming its history and
 * tocsin_history_failing is 1; without, within 10 s, neither.
 */
static void
history_blocked(const struct inst *in, int blocked)
{
	int64_t bound = tenv_mono_ms() + 10000;
	struct httpfix_resp r;
	int st, named;

	for (;;) {
		st = httpfix_do(in->port, "GET", "/healthz", NULL, NULL, &r);
		named = strstr(r.body, "history ") != NULL &&
		    strstr(r.body, "not writable") != NULL;
		if (named == blocked || tenv_mono_ms() >= bound)
			break;
		httpfix_free(&r);
		usleep(200000);
	}
	cr_log_info("%s /healthz: %d %s", in->name, st, r.body);
	cr_assert_eq(named, blocked, "%s", r.body);
	if (blocked)
		cr_assert_eq(st, 503);
	httpfix_free(&r);
	cr_assert_eq(inst_metric(in, "tocsin_history_failing", 0), blocked);
	if (blocked)
		cr_assert_gt(inst_metric(in, "tocsin_history_errors_total", 0),
		    0);
}

/*
 * Waits (ms at most) until in's history holds exactly the replays'
 * closed events, each line byte for byte as on the topic; asserts it.
 * Returns its line count (a repeat after a kill -9 is one more).
 */
static int
check_history(const struct inst *in, json_t *closed, int ms)
{
	int64_t bound = tenv_mono_ms() + ms;
	json_t *got;
	int bad, lines;

	for (;;) {
		got = history_read(in, closed, &bad, &lines);
		if (json_equal(got, closed) || tenv_mono_ms() >= bound)
			break;
		json_decref(got);
		usleep(200000);
	}
	cr_assert_eq(bad, 0, "%s: %d history lines not the replays'",
	    in->name, bad);
	cr_assert_eq(json_object_size(got), json_object_size(closed),
	    "%s: %zu closed incidents in its history, %zu in the replays",
	    in->name, json_object_size(got), json_object_size(closed));
	cr_assert(json_equal(got, closed), "%s: history differs", in->name);
	json_decref(got);
	return lines;
}

/*
 * `tocsinctl report --month 2026-11` from in's history writes the same
 * three files, byte for byte, as from the replays' closed events.
 */
static void
check_report(const struct inst *in, json_t *closed)
{
	static const char *const files[] = { "tocsin-report-2026-11.html",
	    "tocsin-report-2026-11.csv", "tocsin-report-2026-11-incidents.csv" };
	char ctl[PATH_MAX], hist[2][300], out[2][400];
	const char *id;
	json_t *line;
	FILE *fp;

	snprintf(ctl, sizeof(ctl), "%s", proc_build_path("tocsinctl"));
	snprintf(hist[0], sizeof(hist[0]), "%s/state-%s/history", dir,
	    in->name);
	snprintf(hist[1], sizeof(hist[1]), "%s/ref-history", dir);
	cr_assert_eq(mkdir(hist[1], 0755), 0);
	snprintf(out[1], sizeof(out[1]), "%s/closed-2026-11.jsonl", hist[1]);
	cr_assert_not_null(fp = fopen(out[1], "w"));
	json_object_foreach(closed, id, line)
		fprintf(fp, "%s\n", json_string_value(line));
	fclose(fp);
	for (int k = 0; k < 2; k++) {
		char *argv[] = { ctl, "report", "--month", "2026-11",
		    "--history", hist[k], "--out", out[k], NULL };
		struct proc_result r;

		snprintf(out[k], sizeof(out[k]), "%s/report-%s", dir,
		    k == 0 ? in->name : "ref");
		cr_assert_eq(mkdir(out[k], 0755), 0);
		cr_assert_eq(proc_run(argv, 30000, &r), 0);
		cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
		if (k == 0)
			cr_log_info("tocsinctl report from %s's history: %s",
			    in->name, r.out);
		proc_result_free(&r);
	}
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		char p[2][PATH_MAX];
		char *a, *b;

		for (int k = 0; k < 2; k++)
			snprintf(p[k], sizeof(p[k]), "%s/%s", out[k], files[f]);
		a = tenv_read_file(p[0]);
		b = tenv_read_file(p[1]);
		cr_assert(a != NULL && b != NULL && a[0] != '\0', "%s", p[0]);
		{
			/* the page names the directory it read */
			char *at = strstr(a, hist[0]), *c;

			if (at != NULL && asprintf(&c, "%.*s%s%s",
			    (int)(at - a), a, hist[1], at + strlen(hist[0])) > 0) {
				free(a);
				a = c;
			}
		}
		cr_assert_str_eq(a, b, "%s differs from the replays'",
		    files[f]);
		free(a);
		free(b);
	}
}

/*
 * Three correlators (tocsind, daemon.role: correlator) share a
 * 6-partition tocsin.alarms; one is killed with SIGKILL while at work,
 * a second one later, and a new one started; the group moves the dead
 * ones' partitions to the living, which rebuild them from the changelog.
 * The union of what they committed to tocsin.incidents equals, incident
 * by incident and seq by seq, each partition replayed as its shard (what
 * one `role: all` instance with 6 shards makes of those records).  The
 * first one answers /metrics (owned partitions, rebuild time, changelog
 * lag) and /api/v1/cluster (the group's members and what each owns).
 * With redis, every one also writes to one redis-server, checked after
 * the storm and after the stop.
 */
static void
three_correlators(const char *name, int redis)
{
	struct config *cfg;
	char path[PMAX][256];
	json_t *want = json_object();
	struct inst in[4];
	struct httpfix_resp r;
	struct swatch sw;
	int total, have, port;

	P = 6;
	if ((total = setup(name, path, &cfg, want)) < 0)
		return;
	fleet_from_config();
	/* with redis, the correlators' history reads kafka.history */
	htopic = redis ? "tocsin.history" : NULL;
	if (redis)
		redis_start("redis.err");
	port = tenv_free_port("127.0.0.1");
	cr_assert_gt(port, 0);
	{
		/* corr1's November history cannot be opened (a directory
		 * in its place) until after the storm */
		char hd[300];

		snprintf(hd, sizeof(hd), "mkdir -p %s/state-corr1/history/"
		    "closed-2026-11.jsonl", dir);
		free(pubfix_sh(hd, 10000));
	}
	inst_start(&in[0], "corr1", port);
	swatch_start(&sw, port);	/* its event stream, from the start */
	inst_start(&in[1], "corr2", 0);
	inst_start(&in[2], "corr3", 0);
	for (int c = 0; c < CHUNKS; c++) {
		for (int p = 0; p < P; p++)
			feed(p, path[p], c);
		if (c == 2 || c == 5) {
			struct inst *victim = &in[c == 2 ? 1 : 2];

			kill_at_work(victim->pid, path, c + 1, total * (c + 1) /
			    CHUNKS / 2, total);
			c++;
			cr_log_info("%s killed at work on tenth %d: %d of %d "
			    "events committed", victim->name, c + 1,
			    count_events("read_committed"), total);
			if (c == 6)
				inst_start(&in[3], "corr4", 0);
			else
				wait_members(port, 2);
		}
	}
	have = ktxnfix_wait_committed(bootstrap, "tocsin.incidents", total,
	    300000);
	cr_log_info("%d of %d events committed", have, total);

	/* what the first instance says of itself and of the group */
	cr_assert_eq(httpfix_do(port, "GET", "/metrics", NULL, NULL, &r), 200);
	cr_assert_not_null(strstr(r.body, "tocsin_role{role=\"correlator\"} 1"),
	    "%s", r.body);
	cr_assert_not_null(strstr(r.body, "tocsin_partitions_owned "), "%s",
	    r.body);
	cr_assert_not_null(strstr(r.body, "tocsin_partition_rebuild_seconds{"),
	    "%s", r.body);
	{
		/* every owned partition's committed state is at its end */
		int lags = 0, owned = -1;
		char *save, *l;

		for (l = strtok_r(r.body, "\n", &save); l != NULL;
		    l = strtok_r(NULL, "\n", &save)) {
			if (strncmp(l, "tocsin_partitions_owned ", 24) == 0)
				owned = atoi(l + 24);
			if (strncmp(l, "tocsin_changelog_lag_records{", 29) != 0)
				continue;
			lags++;
			cr_assert_str_eq(strrchr(l, ' '), " 0", "%s", l);
		}
		cr_assert_gt(owned, 0);
		cr_assert_eq(lags, owned, "%d lag samples, %d partitions owned",
		    lags, owned);
	}
	httpfix_free(&r);
	cr_assert_eq(httpfix_do(port, "GET", "/api/v1/cluster", NULL, NULL,
	    &r), 200);
	{
		json_t *j = json_loads(r.body, 0, NULL), *m;
		int owned = 0;
		size_t i;

		cr_assert_not_null(j, "%s", r.body);
		cr_log_info("cluster: %s", r.body);
		cr_assert_eq(json_array_size(json_object_get(j, "members")), 2,
		    "%s", r.body);
		json_array_foreach(json_object_get(j, "members"), i, m)
			owned += (int)json_array_size(json_object_get(m,
			    "partitions"));
		cr_assert_eq(owned, P, "%s", r.body);
		json_decref(j);
	}
	httpfix_free(&r);
	check_reads(port, want);
	swatch_check(&sw);
	{
		/* tocsinctl status, as an operator reads it */
		char *cl;
		struct proc_result pr;

		ctl_run(port, "status", NULL, &pr);
		cr_log_info("tocsinctl status (exit %d):\n%s", pr.status,
		    pr.out);
		/* corr1's history is blocked (below): it says so */
		cr_assert_neq(pr.status, 0, "%s%s", pr.out, pr.err);
		cr_assert_not_null(strstr(pr.out, "health     unhealthy: history "
		    ), "%s", pr.out);
		{
			char hl[512];

			snprintf(hl, sizeof(hl), "history    %s/state-corr1/"
			    "history from %s (group corr1.history): 0 lines "
			    "of ", dir, htopic != NULL ? htopic :
			    "tocsin.incidents");
			cr_assert_not_null(strstr(pr.out, hl), "%s\n%s", hl,
			    pr.out);
			cr_assert_not_null(strstr(pr.out, "records read, NOT "
			    "WRITABLE\n"), "%s", pr.out);
		}
		cr_assert_not_null(strstr(pr.out, "role       correlator corr1 "
		    "in group tocsin-correlators"), "%s", pr.out);
		cl = strstr(pr.out, "cluster    ");
		cr_assert_not_null(cl, "%s", pr.out);
		cr_assert(strstr(cl, "corr1 [") != NULL &&
		    strstr(cl, "corr4 [") != NULL, "%s", pr.out);
		proc_result_free(&pr);
	}
	if (redis) {
		check_redis(want, 30000, in, 4, "after the storm");
		(void)inst_metric(&in[0], "tocsin_feed_dumps_total", 1);
	}
	{
		/* the monthly report's history: each living instance keeps
		 * the whole deployment's, from tocsin.incidents; the killed
		 * ones hold nothing but closed events of the replays */
		json_t *closed = closed_of(want), *part;
		int lines, bad;

		cr_assert_gt(json_object_size(closed), 10, "%zu closed",
		    json_object_size(closed));
		/* corr1 could not write: it says so, retries, loses nothing */
		history_blocked(&in[0], 1);
		{
			char hd[300];

			snprintf(hd, sizeof(hd), "%s/state-corr1/history/"
			    "closed-2026-11.jsonl", dir);
			cr_assert_eq(rmdir(hd), 0, "%s", hd);
		}
		lines = check_history(&in[0], closed, 60000);
		cr_log_info("corr1's history: %d lines, %zu closed incidents",
		    lines, json_object_size(closed));
		history_blocked(&in[0], 0);
		(void)check_history(&in[3], closed, 60000);
		for (int i = 1; i < 3; i++) {
			part = history_read(&in[i], closed, &bad, &lines);
			cr_assert_eq(bad, 0, "%s", in[i].name);
			cr_log_info("%s's history when killed: %zu closed "
			    "incidents", in[i].name, json_object_size(part));
			json_decref(part);
		}
		/* corr2 again, on the history it had when it was killed:
		 * its consumer resumes from its last commit (a line written
		 * again is a repeat, a torn one is cut) */
		inst_start(&in[1], "corr2", 0);
		lines = check_history(&in[1], closed, 60000);
		cr_log_info("corr2's history after its restart: %d lines",
		    lines);
		cr_assert_geq(inst_metric(&in[0], "tocsin_history_lines_total",
		    1), (long long)json_object_size(closed));
		/* it read kafka.history alone, or every event */
		if (htopic != NULL)
			cr_assert_eq(inst_metric(&in[0],
			    "tocsin_history_records_total", 0),
			    (long long)json_object_size(closed));
		else {
			int64_t bound = tenv_mono_ms() + 30000;
			long long got;

			while ((got = inst_metric(&in[0],
			    "tocsin_history_records_total", 0)) < total &&
			    tenv_mono_ms() < bound)
				usleep(200000);
			cr_assert_eq(got, total);
		}
		check_report(&in[0], closed);
		/* kafka.history: the closed events alone, exactly once */
		cr_assert_eq(ktxnfix_count(bootstrap, "tocsin.history",
		    "read_committed"), htopic != NULL ?
		    (int)json_object_size(closed) : 0);
		json_decref(closed);
	}

	{
		const int alive[4] = { 1, 1, 0, 1 };

		stop_alive(in, alive, 4, 1);
	}
	/* a correlator that stops leaves its partitions' incidents in
	 * Redis: no empty dump at a revocation */
	if (redis)
		check_redis(want, 5000, in, 4, "with every correlator stopped");
	cr_assert_eq(have, total);
	check_equal(want);
	json_decref(want);
	config_free(cfg);
	free((char *)fleet_body);
	fleet_body = NULL;
	htopic = NULL;
}

Test(cstage, three_correlators_two_killed_one_added_equal_a_replay,
    .fini = broker_fini, .timeout = 600)
{
	three_correlators("cstage3", 0);
}

/*
 * The same with every correlator writing to one redis-server (its
 * `redis:` section as role all's): after the storm, Redis equals the
 * replays of all 6 partitions (redis_diff: incidents:open, each hash at
 * the last seq and state, timelines, deadlines, site hashes), though
 * partitions moved between owners four times (two deaths, an arrival,
 * each a rebuild and its dump); and still does once every correlator has
 * stopped (a revoked partition is not emptied in Redis).
 */
Test(cstage, three_correlators_two_killed_one_added_redis_equals_the_replays,
    .fini = redis_fini, .timeout = 600)
{
	three_correlators("cstage3r", 1);
}

/* ---- two pollers and three correlators (the check) ---- */

/*
 * The scenario: a storm day compressed into a minute on the demo fleet
 * with 60 sites more (etc/genfleet.py --demo): the demo's day (the Pudong
 * area storm, a gateway lost, a flapping door) and grid outages in Wuxi
 * and Lanzhou, doors, smoke, rectifiers; everything back by 40 s.
 */
static const char scale_scen[] =
    "3s site:SH-001 mains_fail\n"
    "5s site:WUX-001 mains_fail\n"
    "6s site:SZ-002 door_open\n"
    "6s site:WUX-002 mains_fail\n"
    "7s site:WUX-003 mains_fail\n"
    "8s site:DX-003 silent\n"
    "9s site:LAN-001 mains_fail\n"
    "10s site:DX-001 door_open\n"
    "11s site:NIN-002 rect_fail\n"
    "12s site:SH-002 mains_fail\n"
    "13s site:SH-003 mains_fail\n"
    "13s site:LAN-002 mains_fail\n"
    "14s site:DX-001 door_close\n"
    "14s site:LAN-003 mains_fail\n"
    "16s site:SZ-004 mains_fail\n"
    "17s site:MIN-003 smoke\n"
    "18s site:DX-001 door_open\n"
    "20s site:XIH-002 door_open\n"
    "22s site:DX-001 door_close\n"
    "24s site:NIN-002 rect_ok\n"
    "26s site:DX-001 door_open\n"
    "27s site:MIN-003 smoke_clear\n"
    "28s site:SZ-002 door_close\n"
    "30s site:DX-001 door_close\n"
    "32s site:DX-003 normal\n"
    "33s site:XIH-002 door_close\n"
    "36s all mains_restore\n"
    "40s site:SH-001 smoke\n"
    "44s site:SH-001 smoke_clear\n";

/*
 * Ticketing's actions on tocsin.actions (2 partitions, its own
 * partitioner): acks and a note on the first incidents of the Pudong,
 * Wuxi and Lanzhou partitions, an ack on an incident that never exists
 * (the correlator refuses it), one on a partition the topic does not
 * have and one that is not JSON (the forwarder refuses both).
 */
static void
send_actions(void)
{
	static const char *const areas[] = { "shanghai-pudong", "wuxi",
	    "lanzhou" };
	char path[256], cmd[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/actions.txt", dir);
	fp = fopen(path, "w");
	cr_assert_not_null(fp);
	for (size_t i = 0; i < 3; i++) {
		unsigned p = fleet_area_shard(areas[i], (unsigned)P);

		fprintf(fp, "DEMO-%u-1|{\"incident\":\"DEMO-%u-1\",\"action\":"
		    "\"ack\",\"actor\":\"noc.li\"}\n", p, p);
		fprintf(fp, "DEMO-%u-2|{\"incident\":\"DEMO-%u-2\",\"action\":"
		    "\"note\",\"actor\":\"noc.li\",\"note\":\"crew called\"}\n",
		    p, p);
	}
	fprintf(fp, "DEMO-0-999|{\"incident\":\"DEMO-0-999\",\"action\":"
	    "\"ack\",\"actor\":\"noc.li\"}\n");
	fprintf(fp, "DEMO-9-1|{\"incident\":\"DEMO-9-1\",\"action\":"
	    "\"ack\",\"actor\":\"noc.li\"}\n");
	fprintf(fp, "junk|not json\n");
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "kcat -P -b %s -t tocsin.actions -K '|' -l "
	    "%s 2>&1", bootstrap, path);
	free(pubfix_sh(cmd, 30000));
}

/* Sleeps until ms after t0. */
static void
sleep_until(int64_t t0, int64_t ms)
{
	while (tenv_mono_ms() - t0 < ms)
		usleep(50000);
}

/* The correlator of in[0..n) (not killed) whose /healthz lists partition
 * p, via the cluster route at port; -1 if none yet. */
static int
owner_of(const struct inst *in, int n, int port, int p)
{
	struct httpfix_resp r;
	json_t *j, *m, *x;
	size_t i, k;
	int who = -1;

	if (httpfix_do(port, "GET", "/api/v1/cluster", NULL, NULL, &r) != 200) {
		httpfix_free(&r);
		return -1;
	}
	j = json_loads(r.body, 0, NULL);
	httpfix_free(&r);
	json_array_foreach(json_object_get(j, "members"), i, m)
		json_array_foreach(json_object_get(m, "partitions"), k, x)
			if (json_integer_value(x) == p)
				for (int q = 0; q < n; q++)
					if (strcmp(in[q].name, json_string_value(
					    json_object_get(m, "client_id"))) == 0)
						who = q;
	json_decref(j);
	return who;
}

/*
 * The check on one machine with the real broker: the demo fleet
 * polled by two pollers (daemon.role: poller, a share each) into a
 * 6-partition tocsin.alarms, correlated by three correlators; a storm
 * day in a minute (mains failures, the Pudong area storm, a gateway
 * lost, a flapping door, smoke); the correlator owning the storm's
 * partition is killed with SIGKILL in the middle of the area storm, a
 * second one later, and a new one started.  Then, the pollers stopped
 * and every partition correlated to its end, the union of
 * tocsin.incidents read committed equals, incident by incident and seq by
 * seq, each partition of tocsin.alarms replayed as its shard
 * (tocsind --replay --late --shard p: what a role: all instance with 6
 * shards makes of the same records, their order within a partition as
 * the two pollers wrote it).  Each rebuild is printed.
 */
Test(cstage, two_pollers_three_correlators_kill_twice_equal_a_replay,
    .fini = broker_fini, .timeout = 600)
{
	struct dfix sim;
	struct inst poll[2], in[4];
	struct config *cfg;
	char *demo, *body, *end, head[1024], scen[256], base[256];
	json_t *want = json_object();
	int port, storm, victim, ends[PMAX] = { 0 }, total = 0;
	int alive[4] = { 0 }, forwarded = 0, refused = 0, nrec[PMAX] = { 0 };
	int64_t t0;
	const char *why;
	char *out, *l, *save;

	P = 6;
	if ((why = ktxnfix_broker(bootstrap, sizeof(bootstrap))) != NULL) {
		cr_skip_test("%s", why);
		return;
	}
	dfix_init(&sim, "scaleout");
	snprintf(dir, sizeof(dir), "%s", sim.dir);
	{
		char addr[32];
		unsigned x = 20 + (unsigned)getpid() % 200;
		int mport;

		snprintf(addr, sizeof(addr), "127.%u.0.1", x);
		mport = tenv_free_port(addr);
		cr_assert_gt(mport, 0);
		demo = tenv_demo_yaml(x, mport, 1);
		cr_assert_not_null(demo, "etc/demo.yaml");
	}
	/* the demo with 60 sites more in 12 areas, the devices in
	 * dir/demo-devices.csv (every config here is in dir) */
	tenv_write_file(dir, "base.yaml", demo);
	free(demo);
	{
		char gen[512];

		snprintf(gen, sizeof(gen), "python3 etc/genfleet.py %s --demo "
		    "%s/base.yaml --sites 60 2>&1", dir, dir);
		free(pubfix_sh(gen, 60000));
	}
	demo = tenv_read_file((snprintf(base, sizeof(base), "%s/demo.yaml",
	    dir), base));
	/* the fleet: modbus to sla, polled every second */
	body = strstr(demo, "\nmodbus:");
	end = strstr(demo, "\nkafka:");
	cr_assert(body != NULL && end != NULL, "genfleet: %s", demo);
	*end = '\0';
	fleet_body = strdup(body + 1);
	{
		char *iv = strstr((char *)fleet_body, "interval: 5s");

		cr_assert_not_null(iv);
		memcpy(iv, "interval: 1s", 12);
	}
	free(demo);
	tenv_write_file(dir, "scen", scale_scen);
	snprintf(cfgpath, sizeof(cfgpath), "%s/corr.yaml", dir);
	snprintf(head, sizeof(head), "daemon: {role: correlator, shards: %d}\n"
	    "kafka: {brokers: \"%s\", alarms: tocsin.alarms}\n", P, bootstrap);
	{
		FILE *fp = fopen(cfgpath, "w");

		cr_assert_not_null(fp);
		fprintf(fp, "%s%s", head, fleet_body);
		fclose(fp);
	}
	cfg = load();
	cr_assert_not_null(cfg, "the correlators' configuration");
	storm = (int)fleet_area_shard("shanghai-pudong", (unsigned)P);
	make_topics();
	{
		const struct ktxnfix_topic t[] = {
			{ "tocsin.actions", 2, NULL },
		};

		ktxnfix_topics(bootstrap, t, 1);
	}

	dfix_sim_start(&sim, "demo.yaml", "scen");
	t0 = tenv_mono_ms();
	for (int i = 0; i < 2; i++) {
		char name[16];

		snprintf(name, sizeof(name), "poller%d", i + 1);
		snprintf(head, sizeof(head), "daemon: {role: poller, shards: %d, "
		    "poll_shares: 2, poll_share: %d, state_dir: %s/%s, "
		    "log_level: info}\n"
		    "kafka: {brokers: \"%s\", alarms: tocsin.alarms, "
		    "client_id: %s, group: tocsin-forwarders}\n"
		    "http: {enabled: false}\n", P, i, dir, name, bootstrap,
		    name);
		inst_spawn(&poll[i], name, head);
	}
	for (int i = 0; i < 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "corr%d", i + 1);
		inst_start(&in[i], name, tenv_free_port("127.0.0.1"));
		alive[i] = 1;
	}
	wait_members(in[0].port, 3);

	/* in the middle of the area storm (SH-002 12 s, SH-003 13 s) */
	sleep_until(t0, 13500);
	victim = owner_of(in, 3, in[0].port, storm);
	cr_assert_geq(victim, 0, "no owner of partition %d", storm);
	cr_assert_eq(kill(in[victim].pid, SIGKILL), 0);
	cr_assert_eq(ktxnfix_wait(in[victim].pid, 10000), 128 + SIGKILL);
	alive[victim] = 0;
	cr_log_info("%s (partition %d, the Pudong storm's) killed at %.1f s",
	    in[victim].name, storm, (tenv_mono_ms() - t0) / 1000.0);
	port = in[alive[0] ? 0 : 1].port;
	wait_members(port, 2);
	/* a second one later; a new one started */
	sleep_until(t0, 30000);
	{
		int second = alive[1] ? 1 : 2;

		cr_assert_eq(kill(in[second].pid, SIGKILL), 0);
		cr_assert_eq(ktxnfix_wait(in[second].pid, 10000),
		    128 + SIGKILL);
		alive[second] = 0;
		cr_log_info("%s killed at %.1f s", in[second].name,
		    (tenv_mono_ms() - t0) / 1000.0);
	}
	inst_start(&in[3], "corr4", tenv_free_port("127.0.0.1"));
	alive[3] = 1;
	/* ticketing at work: actions on tocsin.actions, which the pollers
	 * forward into the partitions their ids name */
	sleep_until(t0, 32000);
	send_actions();
	/* the day ends; the pollers stop: tocsin.alarms is final */
	sleep_until(t0, 50000);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(kill(poll[i].pid, SIGTERM), 0);
		cr_assert_eq(ktxnfix_wait(poll[i].pid, 30000), 0, "%s's exit",
		    poll[i].name);
	}
	/* past each partition's last record (the forwarders' transaction
	 * markers take offsets too) */
	out = ktxnfix_read(bootstrap, "tocsin.alarms", "read_committed",
	    "%p %o\\n");
	for (l = strtok_r(out, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		int p = atoi(l);

		ends[p] = atoi(strchr(l, ' ') + 1) + 1;
		nrec[p]++;
	}
	free(out);
	/* every partition correlated to its end: the live correlators'
	 * committed offsets (/healthz), 120 s at most */
	{
		int64_t bound = tenv_mono_ms() + 120000;
		int done = 0;

		while (!done && tenv_mono_ms() < bound) {
			int at[PMAX];

			for (int p = 0; p < P; p++)
				at[p] = -1;
			for (int i = 0; i < 4; i++) {
				struct httpfix_resp r;
				json_t *j, *x;
				size_t k;

				if (!alive[i] || httpfix_do(in[i].port, "GET",
				    "/healthz", NULL, NULL, &r) != 200 ||
				    (j = json_loads(r.body, 0, NULL)) == NULL) {
					if (alive[i])
						httpfix_free(&r);
					continue;
				}
				httpfix_free(&r);
				json_array_foreach(json_object_get(j,
				    "partitions"), k, x)
					at[json_integer_value(json_object_get(x,
					    "partition"))] = (int)
					    json_integer_value(json_object_get(x,
					    "offset"));
				json_decref(j);
			}
			done = 1;
			for (int p = 0; p < P; p++)
				if (at[p] < ends[p] && !(at[p] == -1 &&
				    ends[p] == 0))
					done = 0;
			if (!done)
				usleep(200000);
		}
		cr_assert(done, "the partitions not correlated to their ends "
		    "in 120 s");
	}

	/* the reference: each partition as the pollers wrote it, replayed */
	for (int p = 0; p < P; p++) {
		char *vals, *ebuf, part[64];

		snprintf(scen, sizeof(scen), "kcat -C -b %s -t tocsin.alarms -p "
		    "%d -o beginning -e -q -X isolation.level=read_committed "
		    "-f '%%s\\n' 2>/dev/null", bootstrap, p);
		vals = pubfix_sh(scen, 60000);
		snprintf(part, sizeof(part), "part%d.jsonl", p);
		tenv_write_file(dir, part, vals);
		free(vals);
		snprintf(base, sizeof(base), "%s/%s", dir, part);
		ebuf = replay_into(base, cfg, p, want, &total);
		cr_log_info("partition %d: %d records; %s", p, nrec[p], ebuf);
		{
			const char *r = strstr(ebuf, " actions=");

			cr_assert_not_null(r);
			forwarded += atoi(r + 9);
			r = strstr(ebuf, " actions_rejected=");
			cr_assert_not_null(r);
			forwarded += atoi(r + 18);
			refused += atoi(r + 18);
		}
		free(ebuf);
	}
	cr_assert_gt(total, 20, "a storm day with few events: %d", total);
	cr_assert_geq(ktxnfix_wait_committed(bootstrap, "tocsin.incidents",
	    total, 120000), total);
	stop_alive(in, alive, 4, 0);
	/* what the correlators refused, and the forwarders' own two */
	want_rejected = refused + 2;
	cr_assert_geq(forwarded, 5, "%d actions in the partitions", forwarded);
	check_equal(want);
	json_decref(want);
	config_free(cfg);
	free((char *)fleet_body);
	fleet_body = NULL;
	sim.daemon = -1;
	dfix_fini(&sim, "test_cstage");
}

/* ---- an incident larger than a Kafka message ---- */

#define NNOTES		1400	/* operator notes on one incident ... */
#define NOTE_LEN	900	/* ... of this many bytes: a record of
				 * about 1.3 MB, past the 1 MB a Kafka
				 * message may hold by default */

/*
 * tocsin.changelog read_committed: each key's latest value's length (-1:
 * a tombstone) in an object; its records, their bytes and the records of
 * pieces of incidents added to *records, *bytes, *pieces.  Asserts that
 * no value is larger than a piece.
 */
static json_t *
changelog_latest(long *records, long *bytes, long *pieces)
{
	json_t *latest = json_object();
	char *out, *l, *save;

	out = ktxnfix_read(bootstrap, "tocsin.changelog", "read_committed",
	    "%k %S\\n");
	for (l = strtok_r(out, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		char *sp = strrchr(l, ' ');
		long n;

		cr_assert_not_null(sp, "%s", l);
		n = atol(sp + 1);
		*sp = '\0';
		cr_assert_leq(n, CLVALUE_PIECE, "%s: a value of %ld bytes", l,
		    n);
		json_object_set_new(latest, l, json_integer(n));
		(*records)++;
		if (n > 0)
			*bytes += n;
		if (strncmp(l, "inc:", 4) == 0 && strchr(l, '#') != NULL)
			(*pieces)++;
	}
	free(out);
	return latest;
}

/* The events a replay of the files paths[0..n), in turn, gives; want
 * (if not NULL) takes them. */
static int
replay_files(const char *const *paths, int n, struct config *cfg,
    json_t *want)
{
	char cat[256], cmd[1024];
	json_t *scratch = want != NULL ? want : json_object();
	size_t at;
	int total = 0;

	snprintf(cat, sizeof(cat), "%s/cat.jsonl", dir);
	at = (size_t)snprintf(cmd, sizeof(cmd), "cat");
	for (int i = 0; i < n; i++)
		at += (size_t)snprintf(cmd + at, sizeof(cmd) - at, " %s",
		    paths[i]);
	snprintf(cmd + at, sizeof(cmd) - at, " > %s", cat);
	free(pubfix_sh(cmd, 10000));
	free(replay_into(cat, cfg, 0, scratch, &total));
	if (want == NULL)
		json_decref(scratch);
	return total;
}

/* Waits until n events are committed; the stage pid is not left running
 * when they are not. */
static void
wait_events(pid_t pid, int n, const char *what)
{
	int got = ktxnfix_wait_committed(bootstrap, "tocsin.incidents", n,
	    120000);

	if (got != n)
		(void)ktxnfix_wait(pid, 0);
	cr_assert_eq(got, n, "%s: %d of %d events committed", what, got, n);
}

/*
 * One incident with NNOTES long operator notes: its changelog record
 * (about 1.3 MB) is larger than librdkafka and the broker take in one
 * message, which made every transaction that wrote it abort, again and
 * again, so the partition made no progress.  It goes in pieces: every
 * value on the changelog stays within a piece; a correlator killed with
 * SIGKILL and started again rebuilds the incident whole from them, so the
 * note after the restart has the seq and timeline the replay gives, byte
 * for byte, and writes only the pieces that changed; closed, the incident
 * leaves a tombstone on its key and on every piece.
 */
Test(cstage, an_incident_larger_than_a_message_goes_in_pieces,
    .fini = broker_fini, .timeout = 300)
{
	char path[3][256], id[CORR_ID_LEN], note[NOTE_LEN + 1], at[UTC_LEN];
	const char *paths[3] = { path[0], path[1], path[2] }, *k;
	json_t *want = json_object(), *latest, *v;
	struct incjson_buf b;
	struct config *cfg;
	long pieces = 0, bytes = 0, records = 0, keys = 0, gone = 0;
	int n1, n2, total;
	pid_t pid;
	FILE *fp;

	P = 1;
	if ((k = ktxnfix_broker(bootstrap, sizeof(bootstrap))) != NULL) {
		cr_skip_test("%s", k);
		return;
	}
	snprintf(dir, sizeof(dir), "/tmp/cstage-big-%d", (int)getpid());
	cr_assert_eq(mkdir(dir, 0700), 0);
	write_config();
	cfg = load();
	cr_assert_not_null(cfg);
	make_topics();
	want_rejected = 0;

	/* path[0]: mains fails at S00 (its incident's id from the replay),
	 * then every note but the last; path[1]: the last note, after the
	 * restart; path[2]: mains back, the incident resolved and closed */
	for (int i = 0; i < 3; i++)
		snprintf(path[i], sizeof(path[i]), "%s/in%d.jsonl", dir, i);
	incjson_buf_init(&b);
	{
		struct incjson_alarm al = { T0, "S00-rect", "S00", "MAINS_FAIL",
		    ALARM_RAISE, SEV_CRITICAL, 0.0 };

		incjson_alarm(&b, &al);
	}
	fp = fopen(path[0], "w");
	cr_assert_not_null(fp);
	fprintf(fp, "%.*s\n", (int)b.n, b.p);
	fclose(fp);
	(void)replay_files(paths, 1, cfg, want);
	cr_assert_eq(json_object_size(want), 1);
	json_object_foreach(want, k, v)
		snprintf(id, sizeof(id), "%s", k);
	json_object_clear(want);

	fp = fopen(path[0], "a");
	cr_assert_not_null(fp);
	for (int i = 1; i <= NNOTES; i++) {
		int n = snprintf(note, sizeof(note), "note %d:", i);

		memset(note + n, 'a' + i % 26, NOTE_LEN - (size_t)n);
		note[NOTE_LEN] = '\0';
		utc_format(T0 + 1000LL * i, at);
		if (i == NNOTES) {
			fclose(fp);
			fp = fopen(path[1], "w");
			cr_assert_not_null(fp);
		}
		fprintf(fp, "{\"at\":\"%s\",\"incident\":\"%s\",\"action\":"
		    "\"note\",\"actor\":\"noc\",\"note\":\"%s\"}\n", at, id,
		    note);
	}
	fclose(fp);
	fp = fopen(path[2], "w");
	cr_assert_not_null(fp);
	{
		struct incjson_alarm al = { T0 + 1000LL * (NNOTES + 1),
		    "S00-rect", "S00", "MAINS_FAIL", ALARM_CLEAR, SEV_CRITICAL,
		    1.0 };

		b.n = 0;
		incjson_alarm(&b, &al);
	}
	fprintf(fp, "%.*s\n", (int)b.n, b.p);
	incjson_buf_fini(&b);
	utc_format(T0 + 1000LL * (NNOTES + 2), at);
	if (!cfg->correlation.auto_resolve)
		fprintf(fp, "{\"at\":\"%s\",\"incident\":\"%s\",\"action\":"
		    "\"resolve\",\"actor\":\"noc\"}\n", at, id);
	fprintf(fp, "{\"at\":\"%s\",\"incident\":\"%s\",\"action\":\"close\","
	    "\"actor\":\"noc\"}\n", at, id);
	fclose(fp);
	/* the reference: each stage of the input replayed as shard 0 */
	n1 = replay_files(paths, 1, cfg, NULL);
	n2 = replay_files(paths, 2, cfg, NULL);
	total = replay_files(paths, 3, cfg, want);
	cr_assert(n1 > NNOTES && n1 < n2 && n2 < total, "%d, %d, %d events",
	    n1, n2, total);

	/* all but the last note; every event of them committed; no value
	 * past a piece, the incident in pieces */
	feed_file(0, path[0]);
	pid = ktxnfix_child(stage_main);
	wait_events(pid, n1, "the notes");
	json_decref(changelog_latest(&records, &bytes, &pieces));
	cr_assert_gt(pieces, 1, "the incident is not in pieces");
	cr_log_info("changelog: %ld records, %ld bytes, %ld of them pieces of "
	    "the incident", records, bytes, pieces);

	/* killed, started again: rebuilt from the pieces; the last note
	 * changed the record's first and last pieces (its count of steps,
	 * its new step): those are written again, not all of them */
	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert_eq(ktxnfix_wait(pid, 10000), 128 + SIGKILL);
	pid = ktxnfix_child(stage_main);
	feed_file(0, path[1]);
	wait_events(pid, n2, "the last note, after the restart");
	{
		long p1 = pieces;

		pieces = records = bytes = 0;
		json_decref(changelog_latest(&records, &bytes, &pieces));
		cr_assert(pieces - p1 >= 1 && pieces - p1 <= 3, "%ld pieces "
		    "written for one note", pieces - p1);
	}

	/* closed: a tombstone on its key and every piece */
	feed_file(0, path[2]);
	wait_events(pid, total, "the close");
	cr_assert_eq(kill(pid, SIGTERM), 0);
	cr_assert_eq(ktxnfix_wait(pid, 60000), 0, "the correlator's exit");
	latest = changelog_latest(&records, &bytes, &pieces);
	json_object_foreach(latest, k, v) {
		size_t n = strlen(id);

		if (strncmp(k, "inc:", 4) != 0 || strncmp(k + 4, id, n) != 0 ||
		    (k[4 + n] != '\0' && k[4 + n] != '#'))
			continue;
		keys++;
		gone += json_integer_value(v) < 0;
	}
	json_decref(latest);
	cr_assert_gt(keys, 2);
	cr_assert_eq(gone, keys, "%ld of the incident's %ld keys tombstoned",
	    gone, keys);
	check_equal(want);
	json_decref(want);
	config_free(cfg);
}

/* ---- Redis away while the correlators work ---- */

/*
 * tocsin:stream:incidents as events {incident: {id}, seq}, in order,
 * appended to a (EVAL_RO: answered while writes are paused; only the id
 * and seq of each entry leave Redis).
 */
static void
redis_stream(json_t *a)
{
	static const char lua[] = "local r,s={},'-' while true do"
	    " local e=redis.call('XRANGE',KEYS[1],s,'+','COUNT',5000)"
	    " if #e==0 then return r end"
	    " for _,x in ipairs(e) do r[#r+1]=x[2][2]..' '..x[2][4] end"
	    " s='('..e[#e][1] end";
	char err[256];
	redisContext *c = redis_connect(err, sizeof(err));
	redisReply *r;

	cr_assert_not_null(c, "%s", err);
	r = redisCommand(c, "EVAL_RO %s 1 tocsin:stream:incidents", lua);
	cr_assert(r != NULL && r->type == REDIS_REPLY_ARRAY, "XRANGE: %s",
	    r != NULL ? r->str : c->errstr);
	for (size_t i = 0; i < r->elements; i++) {
		char id[64];
		long long seq;

		cr_assert_eq(sscanf(r->element[i]->str, "%63s %lld", id, &seq),
		    2, "%s", r->element[i]->str);
		json_array_append_new(a, json_pack("{s:{s:s}, s:I}",
		    "incident", "id", id, "seq", (json_int_t)seq));
	}
	freeReplyObject(r);
	redisFree(c);
}

/*
 * The stream (the entries old holds, read before Redis went away, then
 * the ones it holds now) read as a consumer reads it (pubfix_dedup:
 * repeats dropped): per incident seq from 1 with no gap, up to the
 * replays' last seq of every incident (ms at most for its tail).
 */
static void
check_stream(json_t *want, const json_t *old, int ms)
{
	json_t *last = want_last(want), *evs, *kept, *ev;
	int64_t t0 = tenv_mono_ms();
	const char *id, *behind;
	char why[256];
	long long w = 0, h = 0;
	int gaps, n;

	for (;;) {
		evs = old != NULL ? json_copy((json_t *)old) : json_array();
		redis_stream(evs);
		gaps = pubfix_dedup(evs, &kept, &n, why, sizeof(why));
		json_decref(evs);
		behind = NULL;
		json_object_foreach(last, id, ev) {
			w = json_integer_value(json_object_get(ev, "seq"));
			h = pubfix_seq(json_object_get(kept, id));
			if (h != w) {
				behind = id;
				break;
			}
		}
		if (behind == NULL || tenv_mono_ms() - t0 >= ms)
			break;
		json_decref(kept);
		usleep(500000);
	}
	cr_assert_eq(gaps, 0, "stream:incidents: %d gaps, the first %s", gaps,
	    why);
	cr_assert_null(behind, "stream:incidents: %s ends at seq %lld, the "
	    "replay at %lld (after %d ms)", behind, h, w, ms);
	cr_log_info("stream:incidents: %d distinct events (%zu entries before "
	    "Redis went away), every incident from seq 1 to its last, no "
	    "gap", n, old != NULL ? json_array_size(old) : 0);
	json_decref(kept);
	json_decref(last);
}

/*
 * Two correlators on a 2-partition tocsin.alarms write to one
 * redis-server.  Once the group has given each a partition and Redis
 * holds some incidents, Redis goes away for 30 s while seven tenths of
 * the storm go in, a tenth of each partition every 4 s: stopped, after
 * its stream was read with writes paused (CLIENT PAUSE WRITE, as
 * tocsind_faults/redis_stopped_30s_then_back does), and started again
 * empty on the same port; or frozen (SIGSTOP: the connections stay open
 * and unanswered, the records queue in the correlators' hand-offs) and
 * continued.  Then
 * every event is committed, and within 60 s Redis equals the replays of
 * both partitions (redis_diff), and still does once both correlators
 * have stopped; the topic equals them too.  When no partition folded or
 * moved (tocsin_feed_folds_total, tocsin_feed_revoked_records_total),
 * the stream (the old Redis' entries, then the new one's) has every
 * event, per incident seq from 1 with no gap; a fold drops events from it
 * by design (docs/scaleout.md).  Stopped, the correlators keep the
 * default hand-off (131,072 records), which the ~33,000 events of the
 * outage do not fill.  Frozen, they hold at most 1,024
 * (redis.feed_records), so their partitions fold and the stage's dumps
 * after the folds are what brings Redis back: the folds must happen.
 */
static void
redis_away(const char *name, int freeze)
{
	struct config *cfg;
	char path[PMAX][256], cmd[128];
	json_t *want = json_object(), *old = NULL;
	struct inst in[2];
	const int alive[2] = { 1, 1 };
	int total, before, during, have;
	long long folds = 0, moved = 0;
	int64_t t0;

	P = 2;
	if ((total = setup(name, path, &cfg, want)) < 0)
		return;
	fleet_from_config();
	redis_start("redis.0.err");
	rfeed = freeze ? 1024 : 0;
	for (int i = 0; i < 2; i++) {
		char nm[16];
		int port = tenv_free_port("127.0.0.1");

		cr_assert_gt(port, 0);
		snprintf(nm, sizeof(nm), "corr%d", i + 1);
		inst_start(&in[i], nm, port);
	}
	wait_members(in[0].port, 2);
	for (int c = 0; c < 3; c++)
		for (int p = 0; p < P; p++)
			feed(p, path[p], c);
	/* Redis has had some of it (30 s at most) */
	t0 = tenv_mono_ms();
	for (;;) {
		char err[256];
		redisContext *rc = redis_connect(err, sizeof(err));
		redisReply *r;
		long long n = 0;

		cr_assert_not_null(rc, "%s", err);
		r = redisCommand(rc, "ZCARD tocsin:incidents:open");
		if (r != NULL && r->type == REDIS_REPLY_INTEGER)
			n = r->integer;
		freeReplyObject(r);
		redisFree(rc);
		if (n > 0) {
			cr_log_info("%lld incidents in Redis before it goes "
			    "away", n);
			break;
		}
		if (tenv_mono_ms() - t0 > 30000) {
			(void)inst_grep(&in[0], "redis", 40);
			(void)inst_grep(&in[1], "redis", 40);
			cr_assert_fail("nothing reached Redis in 30 s");
		}
		usleep(200000);
	}

	before = count_events("read_committed");
	if (freeze)
		cr_assert_eq(kill(redis_pid, SIGSTOP), 0);
	else {
		/* what the old Redis acknowledged, exactly */
		snprintf(cmd, sizeof(cmd), "redis-cli -p %d CLIENT PAUSE 60000 "
		    "WRITE", rport);
		free(pubfix_sh(cmd, 10000));
		old = json_array();
		redis_stream(old);
		cr_assert_gt(json_array_size(old), 0, "nothing in the stream "
		    "before the stop");
		cr_assert_eq(pubfix_stop(&redis_pid, SIGTERM), 0);
	}
	t0 = tenv_mono_ms();
	for (int c = 3; c < CHUNKS; c++) {
		for (int p = 0; p < P; p++)
			feed(p, path[p], c);
		sleep_until(t0, (c - 2) * 4000);
	}
	sleep_until(t0, 30000);
	during = count_events("read_committed") - before;
	cr_log_info("Redis %s for %.1f s: %d events committed meanwhile, %d "
	    "before", freeze ? "frozen" : "stopped",
	    (tenv_mono_ms() - t0) / 1000.0, during, before);
	cr_assert_gt(during, total / 4, "the storm went on: %d of %d events "
	    "while Redis was away", during, total);
	if (freeze)
		cr_assert_eq(kill(redis_pid, SIGCONT), 0);
	else
		redis_start("redis.1.err");

	have = ktxnfix_wait_committed(bootstrap, "tocsin.incidents", total,
	    300000);
	cr_assert_eq(have, total, "%d of %d events committed", have, total);
	check_redis(want, 60000, in, 2, freeze ? "after 30 s frozen" :
	    "after 30 s stopped");
	for (int i = 0; i < 2; i++) {
		long long f = inst_metric(&in[i], "tocsin_feed_folds_total", 1);
		long long m = inst_metric(&in[i],
		    "tocsin_feed_revoked_records_total", 0);

		cr_assert(f >= 0 && m >= 0, "%s: no tocsin_feed_folds_total or "
		    "tocsin_feed_revoked_records_total in /metrics", in[i].name);
		folds += f;
		moved += m;
	}
	if (freeze)
		cr_assert_gt(folds, 0, "frozen 30 s with a 1,024-record "
		    "hand-off and no partition folded: the fold's dump was not "
		    "what brought Redis back");
	if (folds == 0 && moved == 0)
		check_stream(want, old, 30000);
	else
		cr_log_info("stream not checked: %lld folds, %lld records of "
		    "moved partitions (events missing from it by design)",
		    folds, moved);
	json_decref(old);
	stop_alive(in, alive, 2, 1);
	check_redis(want, 5000, in, 2, "with every correlator stopped");
	check_equal(want);
	json_decref(want);
	config_free(cfg);
	free((char *)fleet_body);
	fleet_body = NULL;
}

Test(cstage, two_correlators_redis_stopped_30s_then_back_equals_the_replays,
    .fini = redis_fini, .timeout = 420)
{
	redis_away("cstage-rstop", 0);
}

Test(cstage, two_correlators_redis_frozen_30s_then_equals_the_replays,
    .fini = redis_fini, .timeout = 420)
{
	redis_away("cstage-rfreeze", 1);
}
