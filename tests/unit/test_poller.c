/*
 * test_poller.c - the poller in one process: a tiny Modbus/TCP server on
 * the same libev loop (a few lines of MBAP, fixed register values) answers
 * a device whose profile spans several blocks (input registers with a gap,
 * a holding register, a discrete input), and the test checks what reaches
 * the sink: every point decoded by its type, order and scale; MAINS_FAIL
 * and DOOR_OPEN raised with their values; no alarm whose condition does
 * not hold; one poll record per poll; then the server goes away and
 * COMM_LOSS is raised after comm_loss_misses failed polls.  Also the YAML
 * modbus section's mapping onto mbclient_config.
 *
 * Every wait is a libev timer (3 s at most); intervals are 100 ms.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <ev.h>

#include "daemon/config.h"
#include "daemon/poller.h"

#define MAXEV 64

static struct {
	struct ev_loop	*loop;
	int		 lfd, cfd;
	ev_io		 lio, cio;
	ev_timer	 guard;
	struct alarm_event ev[MAXEV];
	size_t		 nev;
	struct almrule_sample smp[MAXEV];
	size_t		 nsmp;
	struct poller_poll polls[MAXEV];
	size_t		 npolls;
	size_t		 want_polls;	/* break after this many */
	int		 want_comm;	/* break at COMM_LOSS raise */
} t;

/* Register images: input 0..31, holding 0..3, discrete 0..7. */
static uint16_t in_regs[32], hold_regs[4];
static uint8_t disc[8];
/* FC 6: holding 1 ("running") becomes the value written to holding 0
 * once holding 1 alone has been read run_after more times (a generator
 * that takes a while to start); writes_seen counts the writes. */
static int run_after = -1, writes_seen;

static void
srv_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	uint8_t req[12], out[300];
	ssize_t n = read(t.cfd, req, sizeof(req));
	unsigned addr, qty, fc, len;

	(void)revents;
	if (n != 12) {		/* closed, or not a read: drop */
		ev_io_stop(loop, w);
		close(t.cfd);
		t.cfd = -1;
		return;
	}
	fc = req[7];
	addr = (unsigned)req[8] << 8 | req[9];
	qty = (unsigned)req[10] << 8 | req[11];
	memcpy(out, req, 8);
	if (fc == 6) {
		writes_seen++;
		cr_assert_lt(addr, 4);
		hold_regs[addr] = (uint16_t)qty;	/* the value */
		cr_assert_eq(write(t.cfd, req, 12), 12);	/* the echo */
		return;
	}
	/* read-backs read holding 1 alone; polls read 0-1 */
	if (fc == 3 && addr == 1 && qty == 1 && run_after >= 0 &&
	    run_after-- == 0)
		hold_regs[1] = hold_regs[0];
	if (fc == 2) {
		out[8] = (uint8_t)((qty + 7) / 8);
		memset(out + 9, 0, out[8]);
		for (unsigned i = 0; i < qty; i++)
			if (addr + i < 8 && disc[addr + i])
				out[9 + i / 8] |= (uint8_t)(1u << (i % 8));
		len = 9 + out[8];
	} else {
		const uint16_t *r = fc == 4 ? in_regs : hold_regs;
		unsigned max = fc == 4 ? 32 : 4;

		cr_assert(fc == 3 || fc == 4, "fc %u", fc);
		cr_assert_leq(addr + qty, max);
		out[8] = (uint8_t)(qty * 2);
		for (unsigned i = 0; i < qty; i++) {
			out[9 + 2 * i] = (uint8_t)(r[addr + i] >> 8);
			out[10 + 2 * i] = (uint8_t)r[addr + i];
		}
		len = 9 + out[8];
	}
	out[4] = (uint8_t)((len - 6) >> 8);
	out[5] = (uint8_t)(len - 6);
	cr_assert_eq(write(t.cfd, out, len), (ssize_t)len);
}

static void
srv_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)revents;
	(void)w;
	t.cfd = accept(t.lfd, NULL, NULL);
	cr_assert_geq(t.cfd, 0);
	ev_io_init(&t.cio, srv_read_cb, t.cfd, EV_READ);
	ev_io_start(loop, &t.cio);
}

static int
srv_listen(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int one = 1;

	t.lfd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(t.lfd, 0);
	setsockopt(t.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(t.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(t.lfd, 8), 0);
	cr_assert_eq(getsockname(t.lfd, (struct sockaddr *)&sa, &len), 0);
	ev_io_init(&t.lio, srv_accept_cb, t.lfd, EV_READ);
	ev_io_start(t.loop, &t.lio);
	return ntohs(sa.sin_port);
}

static void
srv_close(void)
{
	ev_io_stop(t.loop, &t.lio);
	close(t.lfd);
	if (t.cfd >= 0) {
		ev_io_stop(t.loop, &t.cio);
		close(t.cfd);
		t.cfd = -1;
	}
}

static void
on_alarm(void *arg, const struct alarm_event *e)
{
	cr_assert_eq(arg, &t);
	cr_assert_lt(t.nev, MAXEV);
	t.ev[t.nev++] = *e;
	if (t.want_comm && e->code == FLEET_CODE_COMM_LOSS &&
	    e->edge == ALARM_RAISE)
		ev_break(t.loop, EVBREAK_ALL);
}

static void
on_sample(void *arg, const struct almrule_sample *s)
{
	if (t.nsmp < MAXEV)
		t.smp[t.nsmp++] = *s;
}

static void
on_poll(void *arg, const struct poller_poll *p)
{
	if (t.npolls < MAXEV)
		t.polls[t.npolls++] = *p;
	if (t.want_polls && t.npolls >= t.want_polls)
		ev_break(t.loop, EVBREAK_ALL);
}

static const struct poller_sink_ops ops = {
	.rules = { .alarm = on_alarm, .sample = on_sample }, .poll = on_poll,
};

static void
guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

/* Runs the loop until the sink's condition or 3 s. */
static void
run(void)
{
	ev_timer_init(&t.guard, guard_cb, 3., 0.);
	ev_timer_start(t.loop, &t.guard);
	ev_run(t.loop, 0);
	ev_timer_stop(t.loop, &t.guard);
}

static struct config *
load(const char *yaml)
{
	struct config_errors errs = { NULL, 0 };
	struct config *c = config_load_buffer("t.yaml", yaml, strlen(yaml),
	    &errs);

	cr_assert_not_null(c, "%s", errs.n ? errs.msg[0] : "");
	return c;
}

static const struct almrule_sample *
sample_of(const struct fleet *f, const char *name)
{
	uint32_t i = fleet_find_point(&f->profiles[0], name);

	for (size_t k = 0; k < t.nsmp; k++)
		if (t.smp[k].point == i)
			return &t.smp[k];
	cr_assert_fail("no sample of %s", name);
	return NULL;
}

/* A poller on t.loop for cfg's fleet and modbus section, not started. */
static struct poller *
poller_of(const struct config *cfg)
{
	struct poller_sink sink = { &ops, &t };
	struct poller_config pc;
	struct poller *p;

	cr_assert_eq(poller_config_from(&cfg->modbus, &pc), 0);
	cr_assert_eq(poller_new(t.loop, cfg->fleet, cfg->mbmap, &pc, &sink,
	    &p), 0);
	return p;
}

Test(poller, decodes_blocks_raises_alarms_then_comm_loss)
{
	char yaml[2048];
	struct config *cfg;
	struct poller *p;
	struct poller_counters c;
	float f40 = 40.5f;
	uint32_t fb;
	int port, nmains = 0, ndoor = 0;

	memset(&t, 0, sizeof(t));
	t.cfd = -1;
	t.loop = ev_loop_new(EVFLAG_AUTO);
	port = srv_listen();
	/* mains 150.0 V (alarm), dc 53.50 V, load 40.5 A float CDAB, temp 25.0 */
	in_regs[0] = 1500;
	in_regs[1] = 5350;
	memcpy(&fb, &f40, sizeof(fb));
	in_regs[2] = (uint16_t)fb;		/* CDAB: low word first */
	in_regs[3] = (uint16_t)(fb >> 16);
	in_regs[20] = 250;
	hold_regs[0] = 0x0004;			/* bit 2 set, bit 0 clear */
	disc[0] = 1;				/* door open */
	snprintf(yaml, sizeof(yaml),
	    "modbus: {port: %d, interval: 100ms, timeout: 80ms, "
	    "comm_loss_misses: 2, backoff_min: 50ms, backoff_max: 100ms}\n"
	    "profiles:\n  box:\n    points:\n"
	    "      - {name: mains, address: 30001, type: uint16, scale: 0.1, "
	    "min: 0, max: 500}\n"
	    "      - {name: dc, address: 30002, type: uint16, scale: 0.01}\n"
	    "      - {name: load, address: 30003, type: float32, order: CDAB}\n"
	    "      - {name: temp, address: 30021, type: int16, scale: 0.1}\n"
	    "      - {name: status, address: 40001, type: uint16}\n"
	    "      - {name: door, address: 10001}\n"
	    "    alarms:\n"
	    "      - {code: MAINS_FAIL, point: mains, condition: below, "
	    "threshold: 170, clear: 190, severity: critical}\n"
	    "      - {code: HIGH_TEMP, point: temp, condition: above, "
	    "threshold: 35, clear: 32}\n"
	    "      - {code: RECT_FAIL, point: status, condition: bit_set, "
	    "bit: 0}\n"
	    "      - {code: DOOR_OPEN, point: door, condition: equals, "
	    "threshold: 1, severity: minor}\n"
	    "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n  - {id: box1, site: S1, profile: box, "
	    "host: 127.0.0.1}\n", port);
	cfg = load(yaml);
	p = poller_of(cfg);
	poller_counters(p, &c);
	cr_assert_eq(c.devices, 1);
	cr_assert_eq(c.polls, 0);
	cr_assert_eq(poller_start(p), 0);
	t.want_polls = 3;
	run();
	cr_assert_geq(t.npolls, 3, "polls: %zu", t.npolls);
	for (size_t i = 0; i < t.npolls; i++) {
		cr_expect_eq(t.polls[i].status, MBCLIENT_OK);
		cr_expect_eq(t.polls[i].good, 1);
		cr_expect_eq(t.polls[i].points_good, 6);
		cr_expect_eq(t.polls[i].points_bad, 0);
		cr_expect_leq(t.polls[i].started_ms, t.polls[i].done_ms);
	}
	/* values, by type, order and scale; deadband 0: first of each */
	cr_expect_float_eq(sample_of(cfg->fleet, "mains")->value, 150.0, 1e-9);
	cr_expect_float_eq(sample_of(cfg->fleet, "dc")->value, 53.5, 1e-9);
	cr_expect_float_eq(sample_of(cfg->fleet, "load")->value, 40.5, 1e-6);
	cr_expect_float_eq(sample_of(cfg->fleet, "temp")->value, 25.0, 1e-9);
	cr_expect_float_eq(sample_of(cfg->fleet, "status")->value, 4.0, 1e-9);
	cr_expect_float_eq(sample_of(cfg->fleet, "door")->value, 1.0, 1e-9);
	for (size_t i = 0; i < t.nev; i++) {
		const char *code = cfg->fleet->codes[t.ev[i].code];

		cr_expect_eq(t.ev[i].edge, ALARM_RAISE);
		cr_expect_eq(t.ev[i].device, 0);
		cr_expect_eq(t.ev[i].site, 0);
		if (strcmp(code, "MAINS_FAIL") == 0) {
			nmains++;
			cr_expect_float_eq(t.ev[i].value, 150.0, 1e-9);
			cr_expect_eq(t.ev[i].severity, SEV_CRITICAL);
		} else if (strcmp(code, "DOOR_OPEN") == 0) {
			ndoor++;
			cr_expect_eq(t.ev[i].severity, SEV_MINOR);
		} else
			cr_expect_fail("unexpected alarm %s", code);
	}
	cr_expect_eq(nmains, 1);
	cr_expect_eq(ndoor, 1);
	poller_counters(p, &c);
	cr_expect_eq(c.alarms_raised, 2);
	cr_expect_eq(c.decode_errors, 0);
	cr_expect_geq(c.points, 18);
	cr_expect_eq(c.polls_failed, 0);
	cr_expect_geq(c.mb.polls_ok, 3);
	cr_expect_eq(poller_comm_lost(p, 0), 0);

	/* the device goes away: COMM_LOSS after 2 failed polls */
	srv_close();
	t.want_polls = 0;
	t.want_comm = 1;
	run();
	cr_assert_eq(poller_comm_lost(p, 0), 1);
	cr_expect_eq(t.ev[t.nev - 1].code, FLEET_CODE_COMM_LOSS);
	cr_expect(isnan(t.ev[t.nev - 1].value));
	poller_counters(p, &c);
	cr_expect_eq(c.comm_loss_raised, 1);
	cr_expect_geq(c.polls_failed, 2);
	cr_expect_eq(t.polls[t.npolls - 1].good, 0);
	cr_expect_eq(t.polls[t.npolls - 1].comm_lost, 1);
	poller_free(p);
	config_free(cfg);
	ev_loop_destroy(t.loop);
}

Test(poller, mb_config_from_yaml)
{
	struct config *cfg = load(
	    "modbus:\n  port: 1502\n  unit: 7\n  timeout: 800ms\n"
	    "  interval: 2s\n  max_registers: 60\n  max_bits: 100\n"
	    "  max_gap: 3\n  inflight: 2\n  backoff_min: 250ms\n"
	    "  backoff_max: 10s\n  comm_loss_misses: 5\n"
	    "  connections_per_host: 2\n  connect_rate: 300\n"
	    "  connect_rate_per_host: 3\n  breaker_failures: 4\n"
	    "  breaker_cooldown: 20s\n");
	struct poller_config pc;
	struct mbclient_config *mc = &pc.mb, def;
	struct cfg_modbus bad;

	mbclient_config_defaults(&def);
	cr_assert_eq(poller_config_from(&cfg->modbus, &pc), 0);
	cr_expect_eq(mc->port, 1502);
	cr_expect_eq(mc->unit, 7);
	cr_expect_eq(mc->timeout_ms, 800);
	cr_expect_eq(mc->interval_ms, 2000);
	cr_expect_eq(mc->max_registers, 60);
	cr_expect_eq(mc->max_bits, 100);
	cr_expect_eq(mc->max_gap, 3);
	cr_expect_eq(mc->inflight, 2);
	cr_expect_eq(mc->backoff_min_ms, 250);
	cr_expect_eq(mc->backoff_max_ms, 10000);
	cr_expect_eq(pc.rules.comm_loss_misses, 5);
	cr_expect_eq(mc->connections_per_host, 2);
	cr_expect_float_eq(mc->connect_rate, 300.0, 1e-9);
	cr_expect_eq(mc->connect_burst, 300);
	cr_expect_float_eq(mc->connect_rate_per_host, 3.0, 1e-9);
	cr_expect_eq(mc->breaker_failures, 4);
	cr_expect_eq(mc->breaker_cooldown_ms, 20000);
	/* keys the YAML does not have keep the client's defaults */
	cr_expect_eq(mc->connect_timeout_ms, def.connect_timeout_ms);
	cr_expect_eq(mc->stall_timeouts, def.stall_timeouts);
	cr_expect_eq(mc->frames_per_wakeup, def.frames_per_wakeup);
	cr_expect_eq(mc->allow_writes, 0);
	/* a value that does not fit: -EINVAL and the defaults */
	bad = cfg->modbus;
	bad.client.port = 70000;
	cr_expect_eq(poller_config_from(&bad, &pc), -EINVAL);
	cr_expect_eq(mc->port, def.port);
	bad = cfg->modbus;
	bad.client.max_registers = 126;
	cr_expect_eq(poller_config_from(&bad, &pc), -EINVAL);
	/* the rules across keys and the rules' key, from the same check */
	bad = cfg->modbus;
	bad.client.timeout_ms = bad.client.interval_ms + 1;
	cr_expect_eq(poller_config_from(&bad, &pc), -EINVAL);
	bad = cfg->modbus;
	bad.comm_loss_misses = 0;
	cr_expect_eq(poller_config_from(&bad, &pc), -EINVAL);
	cr_expect_eq(pc.rules.comm_loss_misses, ALMRULE_COMM_LOSS_MISSES);
	/* the fields that are not keys: never the section's to set */
	bad = cfg->modbus;
	bad.client.allow_writes = 1;
	bad.client.seed = 7;
	bad.client.connect_burst = 1;
	cr_expect_eq(poller_config_from(&bad, &pc), 0);
	cr_expect_eq(mc->allow_writes, 0);
	cr_expect_eq(mc->seed, 0);
	cr_expect_eq(mc->connect_burst, 300);
	cr_expect_eq(pc.rules.comm_loss_severity, SEV_MAJOR);
	config_free(cfg);
}

Test(poller, bad_arguments)
{
	struct config *cfg = load("sites:\n  - {id: S1, area: a, region: A}\n");
	struct poller_sink_ops noalarm = { .rules = { .alarm = NULL } };
	struct poller_sink sink = { &noalarm, NULL };
	struct poller_config pc;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct poller *p = NULL;

	memset(&pc, 0, sizeof(pc));
	mbclient_config_defaults(&pc.mb);
	cr_expect_eq(poller_new(loop, cfg->fleet, cfg->mbmap, &pc, &sink, &p),
	    -EINVAL);
	cr_expect_null(p);
	sink.ops = &ops;
	cr_expect_eq(poller_new(NULL, cfg->fleet, cfg->mbmap, &pc, &sink, &p),
	    -EINVAL);
	cr_expect_eq(poller_new(loop, cfg->fleet, NULL, &pc, &sink, &p),
	    -EINVAL);
	cr_expect_eq(poller_new(loop, cfg->fleet, cfg->mbmap, &pc, &sink, &p),
	    0);
	poller_free(p);
	poller_free(NULL);
	config_free(cfg);
	ev_loop_destroy(loop);
}

/* A slow point is decoded only on the polls that read it. */
Test(poller, slow_poll_class_not_sampled_between_reads)
{
	char yaml[1024];
	struct config *cfg;
	struct poller *p;
	int port;

	memset(&t, 0, sizeof(t));
	t.cfd = -1;
	t.loop = ev_loop_new(EVFLAG_AUTO);
	port = srv_listen();
	in_regs[0] = 2300;
	hold_regs[0] = 7;
	snprintf(yaml, sizeof(yaml),
	    "modbus: {port: %d, interval: 100ms, timeout: 80ms}\n"
	    "profiles:\n  box:\n    points:\n"
	    "      - {name: mains, address: 30001, type: uint16, scale: 0.1}\n"
	    "      - {name: setpoint, address: 40001, interval: 300ms}\n"
	    "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n  - {id: box1, site: S1, profile: box, "
	    "host: 127.0.0.1}\n", port);
	cfg = load(yaml);
	p = poller_of(cfg);
	cr_assert_eq(poller_start(p), 0);
	t.want_polls = 7;
	run();
	cr_assert_geq(t.npolls, 7, "polls: %zu", t.npolls);
	for (size_t i = 0; i < 7; i++) {
		cr_expect_eq(t.polls[i].status, MBCLIENT_OK);
		/* polls 0, 3, 6 read the setpoint too */
		cr_expect_eq(t.polls[i].points_good, i % 3 == 0 ? 2 : 1,
		    "poll %zu: %u points", i, t.polls[i].points_good);
		cr_expect_eq(t.polls[i].points_bad, 0);
	}
	cr_expect_float_eq(sample_of(cfg->fleet, "setpoint")->value, 7.0,
	    1e-9);
	poller_free(p);
	srv_close();
	config_free(cfg);
	ev_loop_destroy(t.loop);
}

/* ---- declared commands ---- */

static struct poller_cmd_result cres;
static int ncres;

static void
on_cmd(void *arg, const struct poller_cmd_result *r)
{
	cr_assert_eq(arg, &t);
	cres = *r;
	ncres++;
	ev_break(t.loop, EVBREAK_ALL);
}

/*
 * A declared FC 6 with a read-back of another register: the write goes
 * to the device; the read-back reads until the device reports the
 * expected value (here the third read), or until its timeout, and says
 * what it read.  Undeclared commands and a second command while one runs
 * are refused before anything is sent; a device in COMM_LOSS is not
 * written (unreachable).
 */
Test(poller, command_writes_then_reads_back_until_confirmed)
{
	char yaml[2048];
	struct config *cfg;
	struct poller *p;
	struct poller_counters c;
	int port;

	memset(&t, 0, sizeof(t));
	t.cfd = -1;
	t.loop = ev_loop_new(EVFLAG_AUTO);
	port = srv_listen();
	memset(hold_regs, 0, sizeof(hold_regs));
	writes_seen = 0;
	snprintf(yaml, sizeof(yaml),
	    "modbus: {port: %d, interval: 100ms, timeout: 80ms, "
	    "comm_loss_misses: 2, backoff_min: 50ms, backoff_max: 100ms}\n"
	    "profiles:\n  dg:\n    points:\n"
	    "      - {name: cmd, address: 40001}\n"
	    "      - {name: running, address: 40002}\n"
	    "    commands:\n"
	    "      - {name: start, function: 6, address: 40001, value: 1,\n"
	    "         readback: {address: 40002, value: 1, delay: 50ms, "
	    "timeout: 600ms}}\n"
	    "      - {name: stop, function: 6, address: 40001, value: 0,\n"
	    "         readback: {address: 40002, value: 0, delay: 50ms, "
	    "timeout: 300ms}}\n"
	    "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n  - {id: dg1, site: S1, profile: dg, "
	    "host: 127.0.0.1}\n", port);
	cfg = load(yaml);
	p = poller_of(cfg);
	cr_assert_eq(poller_start(p), 0);
	t.want_polls = 1;
	run();

	/* confirmed on the third read-back */
	run_after = 2;
	ncres = 0;
	cr_assert_eq(poller_command(p, 0, 0, on_cmd, &t), 0);
	cr_assert_eq(poller_command(p, 0, 1, on_cmd, &t), -EBUSY);
	cr_assert_eq(poller_command(p, 0, 2, on_cmd, &t), -ENOENT);
	cr_assert_eq(poller_command(p, 1, 0, on_cmd, &t), -ENOENT);
	t.want_polls = 0;
	run();
	cr_assert_eq(ncres, 1);
	cr_expect_eq(cres.outcome, POLLER_DONE, "%s",
	    poller_outcome_name((enum poller_outcome)cres.outcome));
	cr_expect_eq(hold_regs[0], 1, "written");
	cr_expect_eq(cres.has_value, 1);
	cr_expect_eq(cres.value, 1);
	cr_expect_geq(cres.reads, 3, "reads %u", cres.reads);
	cr_expect_eq(writes_seen, 1);

	/* never confirmed: the last value read, after the timeout */
	run_after = -1;
	hold_regs[1] = 1;		/* stuck running */
	ncres = 0;
	cr_assert_eq(poller_command(p, 0, 1, on_cmd, &t), 0);
	run();
	cr_assert_eq(ncres, 1);
	cr_expect_eq(cres.outcome, POLLER_NOT_CONFIRMED);
	cr_expect_eq(cres.value, 1);
	cr_expect_geq(cres.elapsed_ms, 250);
	cr_expect_eq(hold_regs[0], 0, "written all the same");
	cr_expect_eq(writes_seen, 2);
	poller_counters(p, &c);
	cr_expect_eq(c.mb.writes, 2);
	cr_expect_eq(c.mb.writes_ok, 2);
	cr_expect_eq(c.mb.polls_overrun, 0);

	/* COMM_LOSS: not sent */
	srv_close();
	t.want_comm = 1;
	run();
	cr_assert_eq(poller_comm_lost(p, 0), 1);
	ncres = 0;
	cr_assert_eq(poller_command(p, 0, 0, on_cmd, &t), 0);
	cr_assert_eq(ncres, 1, "answered at once");
	cr_expect_eq(cres.outcome, POLLER_UNREACHABLE);
	cr_expect_eq(writes_seen, 2);
	poller_free(p);
	config_free(cfg);
	ev_loop_destroy(t.loop);
}

/* Without a declared command the client may not write at all. */
Test(poller, no_declared_command_no_write_permission)
{
	struct config *cfg = load(
	    "profiles:\n  box: {points: [{name: v, address: 40001}]}\n"
	    "sites:\n  - {id: S1, area: a, region: A}\n"
	    "devices:\n  - {id: b1, site: S1, profile: box, "
	    "host: 127.0.0.1}\n");
	struct poller_config pc;
	struct poller_sink sink = { &ops, &t };
	struct poller *p;

	memset(&t, 0, sizeof(t));
	t.loop = ev_loop_new(EVFLAG_AUTO);
	cr_assert_eq(poller_config_from(&cfg->modbus, &pc), 0);
	pc.mb.allow_writes = 1;		/* a caller's wish is not enough */
	cr_assert_eq(poller_new(t.loop, cfg->fleet, cfg->mbmap, &pc, &sink,
	    &p), 0);
	cr_assert_eq(poller_command(p, 0, 0, on_cmd, &t), -ENOENT);
	poller_free(p);
	config_free(cfg);
	ev_loop_destroy(t.loop);
}
