/*
 * test_tocsind_api.c - the incident read API of a real tocsind, as a NOC
 * tool meets it: GET /api/v1/incidents (filters, pages) and
 * GET /api/v1/incidents/<id> (the whole timeline), before and after the
 * daemon is killed with SIGKILL and started again on the same state dir.
 *
 * The fleet: three sites (T1 north premium c1, T2 north c2, T3 south c3),
 * one rectifier each at 127.1.Y.1-3 (this test's loopback block,
 * docs/testing.md) on a port where nothing listens, so every poll fails,
 * COMM_LOSS is raised after one miss and each site opens an incident:
 * real incidents through the shards, their journals, the pump and the
 * view, without a simulator.  tocsind listens on 127.0.0.1:0 and the port
 * is read from its log (tests/support/httpfix).
 *
 * Checked: the three site incidents are listed; site, area, customer and
 * state filters; an unknown value is a JSON 400; pages of one item walk
 * the same list in the same order; the detail of each has as many
 * timeline entries as its incident's timeline_len; an unknown id 404.
 * After SIGKILL and a restart the same incidents are listed and shown
 * with their whole timelines again (the view is rebuilt from the
 * journals' dumps).  The last tocsind stops on SIGTERM with exit 0.
 *
 *
 * Then a scenario: devsim serves two sites' rectifiers and plays a mains
 * failure at both and a restore at one (the same config as
 * test_tocsind_live, with a 2 s premium ack clock): both MAINS_FAIL
 * incidents are listed in SLA-urgency order (checked against each item's
 * own clocks: running, not paused, met or breached, nearest first), the
 * premium one's timeline grows with its SLA events and stays whole, the
 * restored one is found by state=cleared, and after SIGKILL and a
 * restart the same incidents, states and whole timelines come back.
 *
 * Loopback: 127.1.1-125.* for the dead devices, 127.1.126-250.* for
 * devsim, so the two tests never answer each other.
 *
 * Bounds: the port line 10 s; /readyz 15 s; the incidents listed 20 s;
 * devsim ready 10 s; an SLA event or a clear 20 s; children stopped by
 * PID (pubfix_stop) with PR_SET_PDEATHSIG.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/journal.h"
#include "daemon/store.h"
#include "tests/support/dfix.h"
#include "tests/support/pubfix.h"
#include "tests/support/tenv.h"

static struct {
	struct dfix d;
	char	 net[32];	/* "127.1.Y." */
	int	 modport;	/* nothing listens there, or devsim's */
} A;

/* The test's dir and block: dead devices (sim 0) or devsim's (sim 1). */
static void
aenv_setup(int sim)
{
	unsigned r = tenv_seed(13 + (unsigned)sim);
	char a[40];

	dfix_init(&A.d, "api");
	snprintf(A.net, sizeof(A.net), "127.1.%u.", (r >> 8) % 125 + 1 +
	    (sim ? 125 : 0));
	snprintf(a, sizeof(a), "%s1", A.net);
	A.modport = tenv_free_port(a);
	cr_assert_gt(A.modport, 0);
}

static void
aenv_fini(void)
{
	dfix_fini(&A.d, "test_tocsind_api");
}

TestSuite(tocsind_api, .fini = aenv_fini, .timeout = 180);

static void
config(void)
{
	char yaml[4096];
	size_t n = dfix_cfg_head(yaml, sizeof(yaml), A.d.dir, A.modport, 0,
	    0, NULL);

	snprintf(yaml + n, sizeof(yaml) - n,
	    "sites:\n"
	    "  - {id: T1, area: north, region: A, tenants: "
	    "[{customer: c1, tier: premium}]}\n"
	    "  - {id: T2, area: north, region: A, tenants: "
	    "[{customer: c2, tier: standard}]}\n"
	    "  - {id: T3, area: south, region: B, tenants: "
	    "[{customer: c3, tier: standard}]}\n"
	    "devices:\n"
	    "  - {id: T1-rect, site: T1, profile: rect, host: %s1}\n"
	    "  - {id: T2-rect, site: T2, profile: rect, host: %s2}\n"
	    "  - {id: T3-rect, site: T3, profile: rect, host: %s3}\n",
	    A.net, A.net, A.net);
	tenv_write_file(A.d.dir, "t.yaml", yaml);
}

/*
 * Starts tocsind and waits for its port and /readyz 200.  A previous
 * run's log moves to tocsind.err.prev (its port line would be read).
 */
static void
daemon_up(void)
{
	dfix_up(&A.d, "t.yaml", 10000, 15000);
}

/* GET path: its status; the body parsed into *out (dfix_json). */
static int
get(const char *path, json_t **out)
{
	return dfix_json(&A.d, "GET", path, NULL, NULL, out);
}

/* The site incidents' ids of a list answer, comma-joined, in order. */
static void
site_ids(json_t *j, char *buf, size_t len)
{
	json_t *a = json_object_get(j, "incidents"), *it;
	size_t i, o = 0;

	buf[0] = '\0';
	cr_assert(json_is_array(a));
	json_array_foreach(a, i, it) {
		json_t *inc = json_object_get(it, "incident");

		if (!json_is_string(json_object_get(inc, "site")))
			continue;	/* an area incident */
		o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? "," : "",
		    json_string_value(json_object_get(inc, "id")));
	}
}

/* The DUMP_BEGIN records of the journals of both shards (daemon stopped). */
static unsigned
journal_dumps(void)
{
	unsigned n = 0;
	char sd[512], err[256];

	for (unsigned i = 0; i < 2; i++) {
		struct journal_config jc = { .dir = sd };
		struct journal_info info;
		struct journal *j;
		struct journal_reader *rd;
		struct journal_rec rec;

		snprintf(sd, sizeof(sd), "%s/state/shard-%u", A.d.dir, i);
		cr_assert_eq(journal_open(&j, &jc, &info, err, sizeof(err)), 0,
		    "%s", err);
		rd = journal_reader_new(j, 0);
		while (journal_read(rd, 0, &rec) == 1)
			n += rec.type == STORE_DUMP_BEGIN;
		journal_reader_free(rd);
		journal_close(j);
	}
	return n;
}

/* Waits (20 s) for the list to hold n site incidents; their ids. */
static void
wait_listed(size_t n, char *buf, size_t len)
{
	int64_t end = tenv_mono_ms() + 20000;
	json_t *j;

	for (;;) {
		size_t k = 0;

		cr_assert_eq(get("/api/v1/incidents", &j), 200);
		site_ids(j, buf, len);
		for (const char *p = buf; *p; p++)
			k += *p == ',';
		k += buf[0] != '\0';
		json_decref(j);
		if (k >= n)
			return;
		if (tenv_mono_ms() >= end) {
			char *log = dfix_log(&A.d, 0);

			cr_assert_fail("%zu site incidents listed in 20 s, not "
			    "%zu: %s\n%s", k, n, buf, log);
		}
		usleep(200000);
	}
}

/* The list with query q has exactly the site ids want. */
static void
expect_filter(const char *q, const char *want)
{
	char path[256], got[512];
	json_t *j;

	snprintf(path, sizeof(path), "/api/v1/incidents?%s", q);
	cr_assert_eq(get(path, &j), 200, "%s", q);
	site_ids(j, got, sizeof(got));
	json_decref(j);
	cr_expect_str_eq(got, want, "%s", q);
}

/* The id of the incident of site in the list. */
static void
id_of(const char *site, char *out, size_t len)
{
	char path[128];
	json_t *j, *a;

	snprintf(path, sizeof(path), "/api/v1/incidents?site=%s", site);
	cr_assert_eq(get(path, &j), 200);
	a = json_object_get(j, "incidents");
	cr_assert_eq(json_array_size(a), 1, "site %s", site);
	snprintf(out, len, "%s", json_string_value(json_object_get(
	    json_object_get(json_array_get(a, 0), "incident"), "id")));
	json_decref(j);
}

/*
 * The detail of id: 200 and, once it says timeline_complete (at once,
 * or within 10 s of a restart, when the start's dump has come), the
 * whole timeline; its length.
 */
static size_t
expect_detail(const char *id)
{
	char path[128];
	json_t *j, *inc, *tl;
	int64_t end = tenv_mono_ms() + 10000;
	size_t n;

	snprintf(path, sizeof(path), "/api/v1/incidents/%s", id);
	for (;;) {
		cr_assert_eq(get(path, &j), 200, "%s", path);
		if (json_is_true(json_object_get(j, "timeline_complete")) ||
		    tenv_mono_ms() >= end)
			break;
		json_decref(j);
		usleep(200000);
	}
	cr_expect(json_is_true(json_object_get(j, "timeline_complete")),
	    "%s: timeline_complete within 10 s", id);
	inc = json_object_get(j, "incident");
	tl = json_object_get(j, "timeline");
	cr_expect_str_eq(json_string_value(json_object_get(inc, "id")), id);
	cr_expect_str_eq(json_string_value(json_object_get(j, "schema")),
	    "tocsin.incident/1");
	cr_assert(json_is_array(tl));
	n = json_array_size(tl);
	cr_expect_gt(n, 0);
	cr_expect_eq((json_int_t)n, json_integer_value(json_object_get(inc,
	    "timeline_len")), "%s: the whole timeline", id);
	cr_expect(json_is_string(json_object_get(json_array_get(tl, 0),
	    "action")));
	json_decref(j);
	return n;
}

/* Pages of one item walk the whole list in its order. */
static void
expect_pages(const char *all)
{
	char path[700], cursor[600] = "", got[512] = "";
	size_t o = 0;

	for (int pages = 0; pages < 20; pages++) {
		json_t *j, *a, *c;

		snprintf(path, sizeof(path), "/api/v1/incidents?limit=1%s%s",
		    cursor[0] ? "&cursor=" : "", cursor);
		cr_assert_eq(get(path, &j), 200, "%s", path);
		a = json_object_get(j, "incidents");
		cr_assert_leq(json_array_size(a), 1);
		if (json_array_size(a) == 1) {
			json_t *inc = json_object_get(json_array_get(a, 0),
			    "incident");

			if (json_is_string(json_object_get(inc, "site")))
				o += (size_t)snprintf(got + o, sizeof(got) - o,
				    "%s%s", o ? "," : "", json_string_value(
				    json_object_get(inc, "id")));
		}
		c = json_object_get(j, "next_cursor");
		snprintf(cursor, sizeof(cursor), "%s", json_is_string(c) ?
		    json_string_value(c) : "");
		json_decref(j);
		if (cursor[0] == '\0')
			break;
	}
	cr_expect_str_eq(got, all, "pages of one");
}

Test(tocsind_api, incidents_listed_filtered_paged_shown_and_after_sigkill)
{
	char all[512], again[512], t1[64], t2[64], t3[64];
	json_t *j;

	aenv_setup(0);
	config();
	daemon_up();
	wait_listed(3, all, sizeof(all));
	id_of("T1", t1, sizeof(t1));
	id_of("T2", t2, sizeof(t2));
	id_of("T3", t3, sizeof(t3));

	expect_filter("area=south", t3);
	expect_filter("state=open,reopened", all);
	expect_filter("customer=c1", t1);
	expect_filter("site=T2&state=open", t2);
	expect_filter("site=T2&state=acknowledged", "");
	expect_filter("tier=premium&area=north", t1);
	cr_expect_eq(get("/api/v1/incidents?state=bogus", &j), 400);
	cr_expect(json_is_string(json_object_get(j, "error")));
	json_decref(j);
	cr_expect_eq(get("/api/v1/incidents?site=T9", &j), 400);
	json_decref(j);
	expect_pages(all);
	expect_detail(t1);
	expect_detail(t2);
	expect_detail(t3);
	cr_expect_eq(get("/api/v1/incidents/INC-7-777", &j), 404);
	cr_expect(json_is_string(json_object_get(j, "error")));
	json_decref(j);

	/* kill -9 and start again: the same incidents, whole timelines,
	 * listed as soon as /readyz says 200 (daemon_up waited for it): the
	 * view is filled from the restored engines before the start line */
	(void)pubfix_stop(&A.d.daemon, SIGKILL);
	daemon_up();
	cr_assert_eq(get("/api/v1/incidents", &j), 200);
	site_ids(j, again, sizeof(again));
	json_decref(j);
	cr_expect_str_eq(again, all, "the same incidents after SIGKILL, at "
	    "once");
	expect_detail(t1);
	expect_detail(t2);
	expect_detail(t3);
	expect_pages(all);

	/* SIGTERM: exit 0, a stop line; no TSan report in this run's log
	 * or the killed one's */
	dfix_stop_clean(&A.d, NULL);
	/* no Redis here: nothing asked for a dump, and the starts wrote
	 * none into the journals (docs/http.md, "After a restart") */
	cr_expect_eq(journal_dumps(), 0, "dump records in the journals");
}

/* ---- a devsim scenario ---- */

static void
sim_config(void)
{
	char yaml[4096];

	snprintf(yaml, sizeof(yaml),
	    "daemon: {shards: 2, state_dir: %s/state}\n"
	    "modbus: {port: %d, timeout: 200ms, interval: 300ms, "
	    "comm_loss_misses: 2, backoff_min: 100ms, backoff_max: 500ms}\n"
	    "output: {file: %s/out.jsonl}\n"
	    "kafka: {brokers: \"\"}\n"
	    "http: {listen: \"127.0.0.1:0\"}\n"
	    "profiles:\n"
	    "  rectifier:\n    points:\n"
	    "      - {name: mains_voltage, address: 30001, type: uint16, "
	    "scale: 0.1, min: 0, max: 500}\n"
	    "    alarms:\n"
	    "      - {code: MAINS_FAIL, point: mains_voltage, condition: "
	    "below, threshold: 170, clear: 190, severity: critical}\n"
	    "sites:\n"
	    "  - {id: T1, area: north, region: A, tenants: [{customer: cmcc, "
	    "tier: standard}, {customer: cucc, tier: premium}]}\n"
	    "  - {id: T2, area: south, region: B, tenants: [{customer: ctcc, "
	    "tier: standard}]}\n"
	    "devices:\n"
	    "  - {id: T1-rect, site: T1, profile: rectifier, host: %s1}\n"
	    "  - {id: T2-rect, site: T2, profile: rectifier, host: %s2}\n"
	    "sla:\n  clocks:\n"
	    "    - {clock: ack, tier: premium, duration: 2s}\n"
	    "    - {clock: ack, tier: standard, duration: 1h}\n"
	    "    - {clock: arrive, duration: 2h}\n"
	    "    - {clock: resolve, duration: 8h}\n"
	    "    - {clock: resolve_complex, duration: 24h}\n",
	    A.d.dir, A.modport, A.d.dir, A.net, A.net);
	tenv_write_file(A.d.dir, "t.yaml", yaml);
}

/* An item's own SLA deadline as the order reads it: the nearest of its
 * clocks running, not paused, met or breached; NULL: none. */
static const char *
item_deadline(json_t *item)
{
	json_t *clocks = json_object_get(json_object_get(item, "incident"),
	    "clocks"), *c;
	const char *k, *best = NULL;

	json_object_foreach(clocks, k, c) {
		const char *d = json_string_value(json_object_get(c,
		    "deadline"));
		const char *st = json_string_value(json_object_get(c, "state"));

		if (d == NULL || st == NULL || strcmp(st, "running") != 0 ||
		    json_is_true(json_object_get(c, "paused")) ||
		    json_is_true(json_object_get(c, "met")) ||
		    json_is_true(json_object_get(c, "breached")))
			continue;
		/* RFC 3339 UTC, ms: they order as strings */
		if (best == NULL || strcmp(d, best) < 0)
			best = d;
	}
	return best;
}

/* The list is in SLA-urgency order by its items' own clocks. */
static void
expect_urgency_order(void)
{
	json_t *j, *a, *it;
	const char *pd = NULL, *po = NULL;
	int pnone = 0;
	size_t i;

	cr_assert_eq(get("/api/v1/incidents", &j), 200);
	a = json_object_get(j, "incidents");
	json_array_foreach(a, i, it) {
		const char *d = item_deadline(it);
		const char *o = json_string_value(json_object_get(
		    json_object_get(it, "incident"), "opened_at"));

		if (d != NULL) {
			cr_expect(!pnone, "item %zu has a deadline after one "
			    "without", i);
			cr_expect(pd == NULL || strcmp(pd, d) <= 0, "item %zu: "
			    "deadline %s before %s", i, d, pd);
			pd = d;
		} else {
			cr_expect(!pnone || po == NULL || strcmp(po, o) <= 0,
			    "item %zu: opened %s before %s", i, o, po);
			pnone = 1;
			po = o;
		}
	}
	json_decref(j);
}

/* Polls the list with query q until it holds n items (20 s). */
static void
wait_query(const char *q, size_t n)
{
	char path[256];
	int64_t end = tenv_mono_ms() + 20000;
	json_t *j;

	snprintf(path, sizeof(path), "/api/v1/incidents?%s", q);
	for (;;) {
		size_t k;

		cr_assert_eq(get(path, &j), 200, "%s", q);
		k = json_array_size(json_object_get(j, "incidents"));
		json_decref(j);
		if (k == n)
			return;
		if (tenv_mono_ms() >= end)
			cr_assert_fail("%s: %zu items in 20 s, not %zu", q, k, n);
		usleep(200000);
	}
}

/* The incident's seq as the detail shows it. */
static json_int_t
detail_seq(const char *id)
{
	char path[128];
	json_t *j;
	json_int_t seq;

	snprintf(path, sizeof(path), "/api/v1/incidents/%s", id);
	cr_assert_eq(get(path, &j), 200, "%s", path);
	seq = json_integer_value(json_object_get(j, "seq"));
	json_decref(j);
	return seq;
}

/* The ids of the list, sorted, comma-joined. */
static void
sorted_ids(const char *in, char *out, size_t len)
{
	char tmp[512], *v[16], *save = NULL, *t;
	size_t n = 0, o = 0;

	snprintf(tmp, sizeof(tmp), "%s", in);
	for (t = strtok_r(tmp, ",", &save); t != NULL && n < 16;
	    t = strtok_r(NULL, ",", &save))
		v[n++] = t;
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && strcmp(v[k - 1], v[k]) > 0; k--) {
			char *x = v[k];

			v[k] = v[k - 1];
			v[k - 1] = x;
		}
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%s", i ? "," : "",
		    v[i]);
}

Test(tocsind_api, a_scenarios_incidents_in_sla_order_and_after_sigkill)
{
	char all[512], again[512], sa[512], sb[512], t1[64], t2[64];
	int64_t end;
	json_t *j;

	aenv_setup(1);
	sim_config();
	tenv_write_file(A.d.dir, "scen", "300ms site:T1 mains_fail\n"
	    "300ms site:T2 mains_fail\n"
	    "6s site:T2 mains_restore\n");
	dfix_sim_start(&A.d, "t.yaml", "scen");
	daemon_up();
	wait_listed(2, all, sizeof(all));
	id_of("T1", t1, sizeof(t1));
	id_of("T2", t2, sizeof(t2));
	expect_filter("severity=critical&customer=cucc", t1);
	expect_filter("tier=premium", t1);
	expect_filter("customer=ctcc", t2);
	cr_expect_eq(get("/api/v1/incidents?customer=nobody", &j), 400);
	json_decref(j);
	{
		char path[128];

		snprintf(path, sizeof(path), "/api/v1/incidents/%s", t1);
		cr_assert_eq(get(path, &j), 200);
		cr_expect_str_eq(json_string_value(json_object_get(
		    json_object_get(json_object_get(j, "incident"),
		    "root_cause"), "alarm")), "MAINS_FAIL");
		json_decref(j);
	}
	expect_urgency_order();

	/* the premium ack clock (2 s) warns and breaches: T1's timeline
	 * grows event by event and stays whole */
	end = tenv_mono_ms() + 20000;
	while (detail_seq(t1) < 3 && tenv_mono_ms() < end)
		usleep(200000);
	cr_assert_geq(detail_seq(t1), 3, "no SLA events for %s in 20 s", t1);
	expect_detail(t1);
	expect_urgency_order();
	/* the restore clears T2 */
	wait_query("site=T2&state=cleared", 1);
	expect_detail(t2);
	expect_urgency_order();
	/* pages walk the list as it is now (the breach moved T1) */
	cr_assert_eq(get("/api/v1/incidents", &j), 200);
	site_ids(j, sa, sizeof(sa));
	json_decref(j);
	expect_pages(sa);

	(void)pubfix_stop(&A.d.daemon, SIGKILL);
	daemon_up();
	wait_listed(2, again, sizeof(again));
	sorted_ids(all, sa, sizeof(sa));
	sorted_ids(again, sb, sizeof(sb));
	cr_expect_str_eq(sb, sa, "the same incidents after SIGKILL");
	wait_query("site=T2&state=cleared", 1);
	expect_filter("tier=premium", t1);
	expect_detail(t1);
	expect_detail(t2);
	expect_urgency_order();

	/* SIGTERM: exit 0, a stop line; no TSan report in this run's log
	 * or the killed one's */
	dfix_stop_clean(&A.d, NULL);
}
