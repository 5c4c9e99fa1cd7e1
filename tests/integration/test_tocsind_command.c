/*
 * test_tocsind_command.c - remote handling through a real tocsind and a
 * real devsim: POST /api/v1/devices/<id>/commands/<name> as a NOC tool
 * sends it, the device's registers as devsim holds them afterwards (read
 * with libmodbus, independently of tocsind), and the incident's timeline.
 *
 * The fleet: site T1 with generator controllers (profile dg, which
 * declares dg_start: FC 6 + read-back, dg_coil: FC 5, set_limits: FC 16,
 * bad_addr: a register devsim does not have) on 127.0.Y.1-4 and .6, and
 * one device of profile plain (no commands) on .5.  devsim plays:
 * G-refuse refuses writes with exception 4, G-ignore echoes writes and
 * changes nothing, G-silent never answers a write, G-dead answers
 * nothing at all (COMM_LOSS, which also opens the incident at T1).
 *
 * Checked: 401 without the token; 404 for an unknown device, an
 * undeclared name and a device whose profile declares none; 400 without
 * an actor; done (devsim's holding register, coil and registers changed;
 * the read-back confirmed); refused with the exception's code and name
 * (both a scripted one and devsim's own ILLEGAL DATA ADDRESS);
 * not_confirmed with the value read back; timed_out; unreachable; each
 * outcome with the incident id is a note on GET /api/v1/incidents/<id>'s
 * timeline naming the command, the actor and the outcome.  Safety: devsim
 * counted no request other than a read (FC 1-4) for the plain device,
 * polled the whole time and asked for commands it does not declare.
 * `tocsind -n -v` lists every declared command.  No ThreadSanitizer
 * report in tocsind's log (TOCSIN_BUILD=build/thread runs the TSan one:
 * the request crosses from the HTTP thread to the poll thread and back).
 *
 * Loopback: 127.0.100-199.* (docs/testing.md); bounds:
 * devsim ready 10 s, the port line 10 s, /readyz 15 s, the incident 20 s,
 * each command's answer 10 s (httpfix's bound), the timeline 10 s.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <modbus/modbus.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/dfix.h"
#include "tests/support/httpfix.h"
#include "tests/support/proc.h"
#include "tests/support/promtext.h"
#include "tests/support/pubfix.h"
#include "tests/support/tenv.h"

#define TOKEN	"tocsin-command-token-8d2e61f0a9"
#define AUTH	"Authorization: Bearer " TOKEN "\r\n"

static struct {
	struct dfix d;
	char	 net[32];	/* "127.0.Y." */
	int	 modport;	/* devsim's */
} C;

static void
cenv_fini(void)
{
	dfix_fini(&C.d, "test_tocsind_command");
}

TestSuite(tocsind_command, .fini = cenv_fini, .timeout = 120);

static void
cenv_setup(void)
{
	unsigned r = tenv_seed(31);
	char a[128], yaml[4096];

	dfix_init(&C.d, "cmd");
	/* 127.0.100-199.*: a block of its own (docs/testing.md) */
	snprintf(C.net, sizeof(C.net), "127.0.%u.", (r >> 8) % 100 + 100);
	snprintf(a, sizeof(a), "%s1", C.net);
	C.modport = tenv_free_port(a);
	cr_assert_gt(C.modport, 0);
	dfix_token(C.d.dir, TOKEN, 0600);
	snprintf(yaml, sizeof(yaml),
	    "daemon: {shards: 2, state_dir: %s/state}\n"
	    "modbus: {port: %d, timeout: 200ms, interval: 300ms, "
	    "comm_loss_misses: 2, backoff_min: 100ms, backoff_max: 500ms}\n"
	    "output: {file: %s/out.jsonl}\n"
	    "kafka: {brokers: \"\"}\n"
	    "http: {listen: \"127.0.0.1:0\", token_file: %s/token}\n"
	    "profiles:\n"
	    "  dg:\n"
	    "    points:\n"
	    "      - {name: run_cmd, address: 40001}\n"
	    "      - {name: limits, address: 40003, type: uint32}\n"
	    "      - {name: siren, coil: 0}\n"
	    "    commands:\n"
	    "      - {name: dg_start, function: 6, address: 40001, value: 1,\n"
	    "         readback: {address: 40001, value: 1, delay: 200ms, "
	    "timeout: 1s}}\n"
	    "      - {name: dg_coil, function: 5, coil: 0, value: 1}\n"
	    "      - {name: set_limits, function: 16, address: 40003, "
	    "values: [7, 8]}\n"
	    "      - {name: bad_addr, function: 6, holding: 500, value: 1}\n"
	    "  plain:\n"
	    "    points:\n"
	    "      - {name: v, address: 40001}\n"
	    "sites:\n"
	    "  - {id: T1, area: north, region: A, tenants: "
	    "[{customer: c1, tier: premium}]}\n"
	    "devices:\n"
	    "  - {id: G-ok, site: T1, profile: dg, host: %s1}\n"
	    "  - {id: G-refuse, site: T1, profile: dg, host: %s2}\n"
	    "  - {id: G-ignore, site: T1, profile: dg, host: %s3}\n"
	    "  - {id: G-silent, site: T1, profile: dg, host: %s4}\n"
	    "  - {id: P-plain, site: T1, profile: plain, host: %s5}\n"
	    "  - {id: G-dead, site: T1, profile: dg, host: %s6}\n",
	    C.d.dir, C.modport, C.d.dir, C.d.dir, C.net, C.net, C.net, C.net,
	    C.net, C.net);
	tenv_write_file(C.d.dir, "t.yaml", yaml);
	tenv_write_file(C.d.dir, "scen",
	    "0 dev:G-refuse write_exception 4\n"
	    "0 dev:G-ignore write_ignore\n"
	    "0 dev:G-silent write_silent\n"
	    "0 dev:G-dead silent\n");
}

/* POST a command; the status, the body parsed into *out. */
static int
command(const char *dev, const char *name, const char *body, json_t **out)
{
	struct httpfix_resp r;
	char path[256];
	int st;

	snprintf(path, sizeof(path), "/api/v1/devices/%s/commands/%s", dev,
	    name);
	st = httpfix_do(C.d.port, "POST", path, AUTH, body, &r);
	*out = json_loads(r.body, 0, NULL);
	cr_assert_not_null(*out, "%s: %d, not JSON: %s", path, st, r.body);
	httpfix_free(&r);
	return st;
}

static const char *
str(const json_t *j, const char *k)
{
	const char *s = json_string_value(json_object_get(j, k));

	return s != NULL ? s : "";
}

/* The id of the one incident at T1 (20 s). */
static void
incident_at_t1(char *id, size_t len)
{
	int64_t end = tenv_mono_ms() + 20000;
	struct httpfix_resp r;

	for (;;) {
		json_t *j, *a;

		httpfix_do(C.d.port, "GET", "/api/v1/incidents?site=T1", NULL,
		    NULL, &r);
		j = json_loads(r.body, 0, NULL);
		httpfix_free(&r);
		a = json_object_get(j, "incidents");
		if (json_array_size(a) > 0) {
			snprintf(id, len, "%s", str(json_object_get(
			    json_array_get(a, 0), "incident"), "id"));
			json_decref(j);
			return;
		}
		json_decref(j);
		cr_assert_lt(tenv_mono_ms(), end, "no incident at T1 in 20 s: "
		    "%s", dfix_log(&C.d, 0));
		usleep(200000);
	}
}

/* Holding register / coil of a devsim device, read with libmodbus. */
static int
sim_read(int host, int coil, int addr, int n, uint16_t *out)
{
	char a[40];
	modbus_t *mb;
	int rc;

	snprintf(a, sizeof(a), "%s%d", C.net, host);
	mb = modbus_new_tcp(a, C.modport);
	cr_assert_not_null(mb);
	modbus_set_response_timeout(mb, 2, 0);
	cr_assert_eq(modbus_connect(mb), 0, "%s", modbus_strerror(errno));
	modbus_set_slave(mb, 1);
	if (coil) {
		uint8_t b[8];

		rc = modbus_read_bits(mb, addr, n, b);
		for (int i = 0; i < n && rc > 0; i++)
			out[i] = b[i];
	} else
		rc = modbus_read_registers(mb, addr, n, out);
	modbus_close(mb);
	modbus_free(mb);
	return rc;
}

/* The note of the timeline of id that mentions both needles (10 s). */
static int
timeline_has(const char *id, const char *a, const char *b, const char *actor)
{
	int64_t end = tenv_mono_ms() + 10000;
	char path[128];

	snprintf(path, sizeof(path), "/api/v1/incidents/%s", id);
	while (tenv_mono_ms() < end) {
		struct httpfix_resp r;
		json_t *j, *tl, *s;
		size_t i;

		httpfix_do(C.d.port, "GET", path, NULL, NULL, &r);
		j = json_loads(r.body, 0, NULL);
		httpfix_free(&r);
		tl = json_object_get(j, "timeline");
		json_array_foreach(tl, i, s) {
			const char *note = str(s, "note");

			if (strstr(note, a) != NULL && strstr(note, b) != NULL &&
			    strcmp(str(s, "actor"), actor) == 0 &&
			    strcmp(str(s, "action"), "note") == 0) {
				json_decref(j);
				return 1;
			}
		}
		json_decref(j);
		usleep(200000);
	}
	return 0;
}

Test(tocsind_command, declared_commands_and_their_outcomes)
{
	char id[64], body[256], path[128], *log, *out;
	struct httpfix_resp r;
	uint16_t v[2];
	json_t *j;

	cenv_setup();
	dfix_sim_start(&C.d, "t.yaml", "scen");
	dfix_up(&C.d, "t.yaml", 10000, 15000);

	/* no token: 401 before routing */
	cr_assert_eq(httpfix_do(C.d.port, "POST",
	    "/api/v1/devices/G-ok/commands/dg_start", NULL,
	    "{\"actor\":\"ann\"}", &r), 401);
	httpfix_free(&r);
	/* only declared commands exist */
	cr_assert_eq(command("G-ok", "rm_rf", "{\"actor\":\"ann\"}", &j), 404);
	cr_expect(strstr(str(j, "error"), "declares no command") != NULL,
	    "%s", str(j, "error"));
	json_decref(j);
	cr_assert_eq(command("P-plain", "dg_start", "{\"actor\":\"ann\"}", &j),
	    404);
	json_decref(j);
	cr_assert_eq(command("NOPE", "dg_start", "{\"actor\":\"ann\"}", &j),
	    404);
	json_decref(j);
	cr_assert_eq(command("G-ok", "dg_start", "{}", &j), 400);
	json_decref(j);
	cr_assert_eq(command("G-ok", "dg_start", "{\"actor\":\"ann\","
	    "\"incident\":\"INC-0-999999\"}", &j), 404);
	json_decref(j);

	incident_at_t1(id, sizeof(id));
	snprintf(body, sizeof(body), "{\"actor\":\"ann\",\"incident\":\"%s\"}",
	    id);

	/* done: FC 6 confirmed by its read-back; devsim holds the value */
	cr_assert_eq(command("G-ok", "dg_start", body, &j), 200);
	cr_expect_str_eq(str(j, "outcome"), "done", "%s",
	    json_dumps(j, 0));
	cr_expect_str_eq(str(j, "device"), "G-ok");
	cr_expect_str_eq(str(j, "command"), "dg_start");
	cr_expect_str_eq(str(j, "incident"), id);
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(j,
	    "readback"), "value")), 1);
	json_decref(j);
	cr_assert_eq(sim_read(1, 0, 0, 1, v), 1);
	cr_expect_eq(v[0], 1, "devsim's holding 0 after dg_start");
	/* FC 5 and FC 16, no read-back */
	cr_assert_eq(command("G-ok", "dg_coil", "{\"actor\":\"ann\"}", &j), 200);
	cr_expect_str_eq(str(j, "outcome"), "done");
	cr_expect_null(json_object_get(j, "incident"));
	json_decref(j);
	cr_assert_eq(sim_read(1, 1, 0, 1, v), 1);
	cr_expect_eq(v[0], 1, "devsim's coil 0 after dg_coil");
	cr_assert_eq(command("G-ok", "set_limits", "{\"actor\":\"ann\"}", &j),
	    200);
	cr_expect_str_eq(str(j, "outcome"), "done");
	json_decref(j);
	cr_assert_eq(sim_read(1, 0, 2, 2, v), 2);
	cr_expect(v[0] == 7 && v[1] == 8, "holding 2-3: %u %u", v[0], v[1]);

	/* refused: the device's exception, code and name */
	cr_assert_eq(command("G-refuse", "dg_start", body, &j), 200);
	cr_expect_str_eq(str(j, "outcome"), "refused", "%s",
	    json_dumps(j, 0));
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(j,
	    "exception"), "code")), 4);
	cr_expect_str_eq(str(json_object_get(j, "exception"), "name"),
	    "SERVER DEVICE FAILURE");
	json_decref(j);
	cr_assert_eq(command("G-ok", "bad_addr", "{\"actor\":\"ann\"}", &j),
	    200);
	cr_expect_str_eq(str(j, "outcome"), "refused");
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(j,
	    "exception"), "code")), 2);
	json_decref(j);

	/* not_confirmed: echoed, but the read-back still says 0 */
	cr_assert_eq(command("G-ignore", "dg_start", body, &j), 200);
	cr_expect_str_eq(str(j, "outcome"), "not_confirmed", "%s",
	    json_dumps(j, 0));
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(j,
	    "readback"), "value")), 0);
	json_decref(j);

	/* timed_out: sent once, no answer, not retried */
	cr_assert_eq(command("G-silent", "dg_start", body, &j), 200);
	cr_expect_str_eq(str(j, "outcome"), "timed_out", "%s",
	    json_dumps(j, 0));
	json_decref(j);

	/* unreachable: COMM_LOSS, nothing sent */
	cr_assert_eq(command("G-dead", "dg_start", body, &j), 200);
	cr_expect_str_eq(str(j, "outcome"), "unreachable", "%s",
	    json_dumps(j, 0));
	json_decref(j);

	/* each outcome with the incident is on its timeline */
	cr_expect(timeline_has(id, "dg_start on G-ok", ": done", "ann"),
	    "done on the timeline");
	cr_expect(timeline_has(id, "dg_start on G-refuse", ": refused",
	    "ann"), "refused on the timeline");
	cr_expect(timeline_has(id, "dg_start on G-ignore", ": not_confirmed",
	    "ann"), "not_confirmed on the timeline");
	cr_expect(timeline_has(id, "dg_start on G-silent", ": timed_out",
	    "ann"), "timed_out on the timeline");
	cr_expect(timeline_has(id, "dg_start on G-dead", ": unreachable",
	    "ann"), "unreachable on the timeline");

	/* what became of each, in /metrics: 8 queued (the 4xx above never
	 * were), by outcome */
	{
		static const struct { const char *series; double want; } m[] = {
			{ "tocsin_command_requests_total", 8 },
			{ "tocsin_command_busy_total", 0 },
			{ "tocsin_commands_total{outcome=\"done\"}", 3 },
			{ "tocsin_commands_total{outcome=\"refused\"}", 2 },
			{ "tocsin_commands_total{outcome=\"not_confirmed\"}", 1 },
			{ "tocsin_commands_total{outcome=\"timed_out\"}", 1 },
			{ "tocsin_commands_total{outcome=\"unreachable\"}", 1 },
			{ "tocsin_command_notes_total", 5 },
		};
		double got;

		cr_assert_eq(httpfix_do(C.d.port, "GET", "/metrics", NULL,
		    NULL, &r), 200);
		for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
			cr_expect_eq(promtext_value(r.body, m[i].series, &got),
			    0, "%s not in /metrics", m[i].series);
			cr_expect_eq(got, m[i].want, "%s %g, not %g",
			    m[i].series, got, m[i].want);
		}
		httpfix_free(&r);
	}

	/* safety: the plain device only ever saw reads */
	/* exit 0, and neither the token nor a ThreadSanitizer report in
	 * the log */
	cr_assert_eq(dfix_stop_clean(&C.d, TOKEN), 0);
	pubfix_stop(&C.d.sim, SIGTERM);
	snprintf(path, sizeof(path), "%s/devsim.out", C.d.dir);
	out = tenv_read_file(path);
	cr_expect(strstr(out, "devsim device id=P-plain ") != NULL, "%s", out);
	{
		const char *p = strstr(out, "devsim device id=P-plain ");
		const char *w = p ? strstr(p, " writes=") : NULL;

		cr_expect(w != NULL && strtol(w + 8, NULL, 10) == 0,
		    "P-plain got a request other than a read: %.200s", p);
		p = strstr(out, "devsim device id=G-ok ");
		w = p ? strstr(p, " writes=") : NULL;
		cr_expect(w != NULL && strtol(w + 8, NULL, 10) == 4,
		    "G-ok: dg_start, dg_coil, set_limits, bad_addr: %.200s",
		    p);
		p = strstr(out, "devsim device id=G-silent ");
		w = p ? strstr(p, " writes=") : NULL;
		cr_expect(w != NULL && strtol(w + 8, NULL, 10) == 1,
		    "G-silent's write was sent once, never retried: %.200s",
		    p);
	}
	free(out);
	log = dfix_log(&C.d, 0);
	cr_expect(strstr(log, "command device=G-ok command=dg_start "
	    "actor=\"ann\"") != NULL, "%s", log);
	free(log);
}

Test(tocsind_command, check_lists_every_declared_command)
{
	char prog[512], cfg[128];
	char *argv[] = { prog, "-n", "-v", "-c", cfg, NULL };
	struct proc_result pr;

	cenv_setup();
	snprintf(prog, sizeof(prog), "%s", proc_build_path("tocsind"));
	snprintf(cfg, sizeof(cfg), "%s/t.yaml", C.d.dir);
	cr_assert_eq(proc_run(argv, 20000, &pr), 0);
	cr_assert_eq(pr.status, 0, "%s", pr.err);
	cr_expect(strstr(pr.out, "commands: 4 declared") != NULL, "%s",
	    pr.out);
	cr_expect(strstr(pr.out, "dg_start") != NULL &&
	    strstr(pr.out, "holding 0") != NULL &&
	    strstr(pr.out, "holding 0 = 1 after 200ms, until 1000ms") != NULL,
	    "%s", pr.out);
	cr_expect(strstr(pr.out, "set_limits") != NULL &&
	    strstr(pr.out, "7,8") != NULL, "%s", pr.out);
	cr_expect(strstr(pr.out, "coil 0") != NULL, "%s", pr.out);
	proc_result_free(&pr);
}
