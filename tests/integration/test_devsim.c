/*
 * test_devsim.c - the device simulator as a user meets it: started as a
 * process on free loopback addresses, read with libmodbus's blocking client
 * (the independent implementation), stopped by PID.
 *
 * Every wait is bounded (ready line 5 s, value changes 6 s, exit 3 s,
 * libmodbus response timeouts 0.3-2 s, client runs 10 s) and the simulator
 * gets PR_SET_PDEATHSIG so a failed test (Criterion runs each in its own
 * process) never leaves it behind.  The tests carry no Criterion .timeout:
 * Criterion 2.4.1's runner leaks 48 bytes per timed test when tests run in
 * parallel, which fails the ASan build (LeakSanitizer) for nothing.  Values are checked with
 * --noise 0 --drift 0, where devsim serves the profile's nominal values
 * exactly (docs/devsim.md).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <modbus/modbus.h>

#include "tests/support/proc.h"
#include "tests/support/tenv.h"

struct sim {
	pid_t	 pid;
	int	 out;		/* its stdout */
	int	 err;		/* its stderr */
	char	 addr[2][32];	/* first two endpoint addresses */
	int	 port;
	char	 ready[512];
};

/* A random 127.x.y.1 and a port free on it right now. */
static void
pick_endpoint(struct sim *s, unsigned salt)
{
	unsigned r = tenv_seed(salt);
	unsigned x = 100 + r % 100, y = (r >> 8) % 200;

	snprintf(s->addr[0], sizeof(s->addr[0]), "127.%u.%u.1", x, y);
	snprintf(s->addr[1], sizeof(s->addr[1]), "127.%u.%u.2", x, y);
	s->port = tenv_free_port(s->addr[0]);
	cr_assert_gt(s->port, 0, "no free port on %s", s->addr[0]);
}

/* Reads one line from fd within ms; returns its length or -1. */
static int
read_line(int fd, char *buf, size_t len, int ms)
{
	int64_t end = tenv_mono_ms() + ms;
	size_t n = 0;

	while (n + 1 < len) {
		struct pollfd p = { fd, POLLIN, 0 };
		int64_t left = end - tenv_mono_ms();

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		if (read(fd, buf + n, 1) != 1)
			return -1;
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return (int)n;
		}
		n++;
	}
	return -1;
}

/*
 * Forks and runs argv[0] with its stdout, and its stderr if err is not
 * NULL, on pipes whose read ends land in *out and *err; the child dies
 * with the test (PR_SET_PDEATHSIG).
 */
static pid_t
fork_exec(const char *const *argv, int *out, int *err)
{
	int o[2], e[2];
	pid_t pid;

	cr_assert_eq(pipe(o), 0);
	if (err != NULL)
		cr_assert_eq(pipe(e), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(o[1], 1);
		if (err != NULL)
			dup2(e[1], 2);
		/* Criterion's own descriptors must not leak into the child. */
		close_range(3, ~0U, 0);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(o[1]);
	*out = o[0];
	if (err != NULL) {
		close(e[1]);
		*err = e[0];
	}
	return pid;
}

/* Waits ms at most for pid to exit: 0 and *status set, or -1. */
static int
wait_exit(pid_t pid, int ms, int *status)
{
	int64_t end = tenv_mono_ms() + ms;

	while (waitpid(pid, status, WNOHANG) != pid) {
		if (tenv_mono_ms() >= end)
			return -1;
		usleep(10000);
	}
	return 0;
}

/* Reads fd's lines until none comes for 1 s; whether one holds needle. */
static int
has_line(int fd, const char *needle)
{
	char line[1024];
	int found = 0;

	while (read_line(fd, line, sizeof(line), 1000) >= 0)
		found |= strstr(line, needle) != NULL;
	return found;
}

static pid_t
spawn(struct sim *s, const char *const *extra)
{
	const char *argv[40];
	char port[16];
	int n = 0;

	snprintf(port, sizeof(port), "%d", s->port);
	argv[n++] = proc_build_path("bench/devsim");
	argv[n++] = "--base-addr";
	argv[n++] = s->addr[0];
	argv[n++] = "--port";
	argv[n++] = port;
	argv[n++] = "--noise";
	argv[n++] = "0";
	argv[n++] = "--drift";
	argv[n++] = "0";
	for (; *extra != NULL && n < 38; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	cr_assert_eq(access(argv[0], X_OK), 0, "no simulator at %s (set "
	    "TOCSIN_BUILD)", argv[0]);
	s->pid = fork_exec(argv, &s->out, &s->err);
	return s->pid;
}

/* Fills a new file named from the template path (mkstemp) with scen. */
static void
write_scen(char *path, const char *scen)
{
	size_t len = strlen(scen);
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, scen, len), (ssize_t)len);
	close(fd);
}

/* Starts devsim and waits (5 s at most) for its ready line. */
static void
sim_start(struct sim *s, unsigned salt, const char *const *extra)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		int status;

		pick_endpoint(s, salt + (unsigned)attempt * 7919u);
		spawn(s, extra);
		if (read_line(s->out, s->ready, sizeof(s->ready), 5000) > 0 &&
		    strncmp(s->ready, "devsim ready", 12) == 0)
			return;
		/* Port taken meanwhile: try elsewhere. */
		kill(s->pid, SIGKILL);
		waitpid(s->pid, &status, 0);
		close(s->out);
		close(s->err);
	}
	cr_assert_fail("devsim did not become ready");
}

/*
 * Writes scen to a new file named from the template path (mkstemp), starts
 * devsim with extra (which names path), then removes the file: devsim has
 * read it by the time it is ready.
 */
static void
sim_start_scen(struct sim *s, unsigned salt, const char *const *extra,
    char *path, const char *scen)
{
	write_scen(path, scen);
	sim_start(s, salt, extra);
	unlink(path);
}

/* SIGTERM, wait 3 s at most, then SIGKILL; returns the exit status. */
static int
sim_stop(struct sim *s)
{
	int status = -1;

	kill(s->pid, SIGTERM);
	if (wait_exit(s->pid, 3000, &status) == 0)
		return status;
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &status, 0);
	return -1;
}

static modbus_t *
client(const struct sim *s, int which, int slave, int timeout_ms)
{
	modbus_t *mb = modbus_new_tcp(s->addr[which], s->port);

	cr_assert_not_null(mb);
	modbus_set_response_timeout(mb, (uint32_t)timeout_ms / 1000,
	    (uint32_t)(timeout_ms % 1000) * 1000);
	cr_assert_eq(modbus_connect(mb), 0, "connect %s:%d: %s",
	    s->addr[which], s->port, modbus_strerror(errno));
	modbus_set_slave(mb, slave);
	return mb;
}

static void
client_free(modbus_t *mb)
{
	modbus_close(mb);
	modbus_free(mb);
}

static uint32_t
u32_badc(const uint16_t *r)
{
	uint16_t hi = (uint16_t)(r[0] >> 8 | r[0] << 8);
	uint16_t lo = (uint16_t)(r[1] >> 8 | r[1] << 8);

	return (uint32_t)hi << 16 | lo;
}

static double
f64_dcba(const uint16_t *r)
{
	uint64_t u = 0;
	double d;

	/* Last word first, bytes swapped in each word. */
	for (int i = 3; i >= 0; i--)
		u = u << 16 | (uint16_t)(r[i] >> 8 | r[i] << 8);
	memcpy(&d, &u, sizeof(d));
	return d;
}

static int64_t
i64_dcba(const uint16_t *r)
{
	uint64_t u = 0;

	for (int i = 3; i >= 0; i--)
		u = u << 16 | (uint16_t)(r[i] >> 8 | r[i] << 8);
	return (int64_t)u;
}

Test(devsim, registers_decode_to_profile)
{
	static const char *const extra[] = { "--devices", "4",
	    "--units-per-gateway", "2", NULL };
	struct sim s;
	uint16_t in[23], hold[9];
	uint8_t bits[5], coils[2];
	modbus_t *mb;

	sim_start(&s, 1, extra);
	cr_assert(strstr(s.ready, "devices=4 endpoints=2 units=2"), "%s",
	    s.ready);
	mb = client(&s, 0, 2, 2000);
	cr_assert_eq(modbus_read_input_registers(mb, 0, 23, in), 23, "%s",
	    modbus_strerror(errno));
	cr_assert_float_eq(in[0] * 0.1, 230.0, 1e-9, "mains voltage");
	cr_assert_float_eq(in[1] * 0.01, 50.0, 1e-9, "mains frequency");
	cr_assert_float_eq(modbus_get_float_abcd(in + 2), 53.5, 1e-6);
	cr_assert_float_eq(modbus_get_float_cdab(in + 4), 2.0, 1e-6);
	cr_assert_float_eq((int16_t)in[6] * 0.1, 25.0, 1e-9, "room temp");
	cr_assert_eq(in[7], 0x0001, "rectifier output on, no fault");
	cr_assert_eq(in[8], 0, "generator stopped");
	cr_assert_eq(in[9], 0x0001, "air-con running");
	cr_assert_float_eq((int32_t)u32_badc(in + 10) * 0.01, 40.0, 1e-9);
	cr_assert_float_eq(f64_dcba(in + 18), 100.0, 1e-9, "soc");
	cr_assert_eq(in[22], 0, "no door/smoke/water bits");
	cr_assert_eq(modbus_read_registers(mb, 0, 9, hold), 9);
	cr_assert_eq(hold[0], 470);
	cr_assert_eq((int16_t)hold[1], 350);
	cr_assert_eq((uint32_t)hold[2] << 16 | hold[3], 0, "site code");
	cr_assert_eq(hold[4], 2, "unit id");
	cr_assert_eq(i64_dcba(hold + 5), 1000001, "serial of D000001");
	cr_assert_eq(modbus_read_input_bits(mb, 0, 5, bits), 5);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(bits[i], 0, "discrete %d", i);
	cr_assert_eq(modbus_read_bits(mb, 0, 2, coils), 2);
	cr_assert_eq(coils[0] | coils[1], 0);
	client_free(mb);

	/* The second gateway is site 1 on the next address. */
	mb = client(&s, 1, 1, 2000);
	cr_assert_eq(modbus_read_registers(mb, 2, 3, hold), 3);
	cr_assert_eq((uint32_t)hold[0] << 16 | hold[1], 1, "site code");
	cr_assert_eq(hold[2], 1, "unit id");
	client_free(mb);
	cr_assert_eq(sim_stop(&s), 0);
}

Test(devsim, exceptions_for_bad_requests)
{
	static const char *const extra[] = { "--devices", "2",
	    "--units-per-gateway", "2", NULL };
	uint16_t r[8];
	uint8_t b[8];
	struct sim s;
	modbus_t *mb;

	sim_start(&s, 2, extra);
	mb = client(&s, 0, 1, 2000);
	cr_assert_eq(modbus_read_input_registers(mb, 20, 5, r), -1);
	cr_assert_eq(errno, EMBXILADD, "%s", modbus_strerror(errno));
	cr_assert_eq(modbus_read_registers(mb, 9, 1, r), -1);
	cr_assert_eq(errno, EMBXILADD);
	cr_assert_eq(modbus_read_bits(mb, 0, 3, b), -1);
	cr_assert_eq(errno, EMBXILADD);
	cr_assert_eq(modbus_write_register(mb, 9, 1), -1);
	cr_assert_eq(errno, EMBXILADD, "%s", modbus_strerror(errno));
	cr_assert_eq(modbus_mask_write_register(mb, 0, 1, 1), -1);
	cr_assert_eq(errno, EMBXILFUN, "%s", modbus_strerror(errno));
	modbus_set_slave(mb, 9);
	cr_assert_eq(modbus_read_registers(mb, 0, 1, r), -1);
	cr_assert_eq(errno, EMBXGTAR, "%s", modbus_strerror(errno));
	/* The connection stays usable after exceptions. */
	modbus_set_slave(mb, 1);
	cr_assert_eq(modbus_read_registers(mb, 0, 1, r), 1);
	cr_assert_eq(r[0], 470);
	client_free(mb);
	cr_assert_eq(sim_stop(&s), 0);
}

/* Polls input registers 0..9 until mains voltage reads v (6 s at most). */
static int
wait_mains(modbus_t *mb, uint16_t v, uint16_t *in)
{
	int64_t end = tenv_mono_ms() + 6000;

	while (tenv_mono_ms() < end) {
		if (modbus_read_input_registers(mb, 0, 10, in) == 10 &&
		    in[0] == v)
			return 0;
		usleep(20000);
	}
	return -1;
}

Test(devsim, scenario_mains_failure_and_consequences)
{
	static const char scen[] =
	    "# a mains failure and an intrusion at site 0\n"
	    "1200ms site:S00000 mains_fail\n"
	    "1200ms site:S00000 door_open   # at the same time\n"
	    "\n"
	    "1h     all         mains_restore\n";
	char path[] = "/tmp/test_devsim_scen.XXXXXX";
	const char *extra[] = { "--devices", "2", "--scenario", path,
	    "--time-scale", "6000", NULL };
	uint16_t in[10], b0[10];
	uint8_t bits[5];
	struct sim s;
	modbus_t *mb;
	char line[1024];
	int found = 0;

	sim_start_scen(&s, 3, extra, path, scen);
	cr_assert(strstr(s.ready, "steps=3"), "%s", s.ready);
	mb = client(&s, 0, 1, 2000);
	cr_assert_eq(modbus_read_input_registers(mb, 0, 10, b0), 10);
	cr_assert_eq(modbus_read_input_bits(mb, 0, 5, bits), 5);
	if (b0[0] == 2300) {
		/* Read before the step: the normal site. */
		cr_assert_eq(bits[0], 0, "door closed before the step");
		cr_assert_eq(bits[3], 0, "mains contact closed before");
	}
	cr_assert_eq(wait_mains(mb, 0, in), 0, "mains never failed");
	cr_assert_eq(modbus_read_input_bits(mb, 0, 5, bits), 5);
	cr_assert_eq(bits[0], 1, "door open");
	cr_assert_eq(bits[3], 1, "mains-fail contact");
	cr_assert_eq(in[1], 0, "no frequency without mains");
	cr_assert_float_eq(modbus_get_float_cdab(in + 4), -45.0, 1e-6,
	    "battery discharging");
	cr_assert(modbus_get_float_abcd(in + 2) <= 51.5 + 1e-6,
	    "battery left float voltage");
	cr_assert_eq(in[9] & 0x0002, 0x0002, "air-con not cooling");
	/* 1.5 s at 6000x is 2.5 h of battery: low battery, hot room. */
	usleep(1500000);
	cr_assert_eq(modbus_read_input_registers(mb, 0, 10, in), 10);
	cr_assert(modbus_get_float_abcd(in + 2) < 47.0, "battery low: %f",
	    modbus_get_float_abcd(in + 2));
	cr_assert((int16_t)in[6] * 0.1 > 35.0, "room hot: %d", in[6]);
	client_free(mb);

	/* Site 1 is untouched. */
	mb = client(&s, 1, 1, 2000);
	cr_assert_eq(modbus_read_input_registers(mb, 0, 1, in), 1);
	cr_assert_eq(in[0], 2300);
	client_free(mb);

	/* The scenario step is logged and the exit stats count requests. */
	cr_assert_eq(sim_stop(&s), 0);
	cr_assert(has_line(s.err, "action=mains_fail"),
	    "scenario step not logged");
	while (read_line(s.out, line, sizeof(line), 1000) >= 0)
		if (strstr(line, "devsim stats reason=SIGTERM") != NULL &&
		    strstr(line, "cpu_s=") != NULL &&
		    strstr(line, "maxrss_kb=") != NULL)
			found = 1;
		else if (strstr(line, "id=D000000 ") != NULL)
			cr_assert(strstr(line, "requests=0") == NULL, "%s",
			    line);
	cr_assert(found, "no exit stats");
}

Test(devsim, libmodbus_mode_serves_the_same_map)
{
	static const char *const own[] = { "--devices", "3", NULL };
	static const char *const lm[] = { "--devices", "3", "--libmodbus",
	    NULL };
	uint16_t a[23], b[23], ha[9], hb[9];
	uint8_t ba[5], bb[5];
	struct sim s1, s2;
	modbus_t *m1, *m2;

	sim_start(&s1, 4, own);
	sim_start(&s2, 5, lm);
	cr_assert(strstr(s2.ready, "mode=libmodbus"), "%s", s2.ready);
	for (int ep = 0; ep < 2; ep++) {
		m1 = client(&s1, ep, 1, 2000);
		m2 = client(&s2, ep, 1, 2000);
		cr_assert_eq(modbus_read_input_registers(m1, 0, 23, a), 23);
		cr_assert_eq(modbus_read_input_registers(m2, 0, 23, b), 23);
		/* 12..17 are energy and uptime: they move with time. */
		cr_assert_arr_eq(a, b, 12 * sizeof(uint16_t));
		cr_assert_arr_eq(a + 18, b + 18, 5 * sizeof(uint16_t));
		cr_assert_eq(modbus_read_registers(m1, 0, 9, ha), 9);
		cr_assert_eq(modbus_read_registers(m2, 0, 9, hb), 9);
		cr_assert_arr_eq(ha, hb, sizeof(ha));
		cr_assert_eq(modbus_read_input_bits(m1, 0, 5, ba), 5);
		cr_assert_eq(modbus_read_input_bits(m2, 0, 5, bb), 5);
		cr_assert_arr_eq(ba, bb, sizeof(ba));
		cr_assert_eq(modbus_read_input_registers(m2, 22, 2, b), -1);
		cr_assert_eq(errno, EMBXILADD);
		cr_assert_eq(modbus_write_register(m2, 0, 1), -1);
		cr_assert_eq(errno, EMBXILFUN);
		client_free(m1);
		client_free(m2);
	}
	cr_assert_eq(sim_stop(&s1), 0);
	cr_assert_eq(sim_stop(&s2), 0);
}

Test(devsim, scripted_communication_faults)
{
	static const char scen[] =
	    "0 dev:D000000 delay 300\n"
	    "0 dev:D000001 exception 6\n"
	    "0 dev:D000002 silent\n"
	    "0 dev:D000003 garbage\n"
	    "0 dev:D000004 trickle 15\n"
	    "1500ms dev:D000005 drop\n";
	char path[] = "/tmp/test_devsim_faults.XXXXXX";
	const char *extra[] = { "--devices", "6", "--scenario", path, NULL };
	struct sim s;
	modbus_t *mb[6];
	uint16_t r[4];
	int64_t t0, dt;

	sim_start_scen(&s, 6, extra, path, scen);
	/* Endpoints 2..5 follow the first two on consecutive addresses. */
	for (int i = 0; i < 6; i++) {
		struct sim t = s;

		snprintf(t.addr[0], sizeof(t.addr[0]), "%.*s%d",
		    (int)(strrchr(s.addr[0], '.') - s.addr[0] + 1), s.addr[0],
		    i + 1);
		mb[i] = client(&t, 0, 1, i == 2 || i == 3 ? 300 : 1000);
	}
	cr_assert_eq(modbus_read_registers(mb[5], 0, 1, r), 1);
	usleep(100000);	/* the time-0 steps are applied */
	t0 = tenv_mono_ms();
	cr_assert_eq(modbus_read_registers(mb[0], 0, 1, r), 1);
	dt = tenv_mono_ms() - t0;
	cr_assert(dt >= 290, "delay 300 answered in %lld ms", (long long)dt);
	cr_assert_eq(modbus_read_registers(mb[1], 0, 1, r), -1);
	cr_assert_eq(errno, EMBXSBUSY, "%s", modbus_strerror(errno));
	cr_assert_eq(modbus_read_registers(mb[2], 0, 1, r), -1);
	cr_assert_eq(errno, ETIMEDOUT, "%s", modbus_strerror(errno));
	cr_assert_eq(modbus_read_registers(mb[3], 0, 1, r), -1);
	t0 = tenv_mono_ms();
	cr_assert_eq(modbus_read_registers(mb[4], 0, 2, r), 2, "%s",
	    modbus_strerror(errno));
	dt = tenv_mono_ms() - t0;
	cr_assert_eq(r[0], 470);
	/* 13 bytes, one per 15 ms. */
	cr_assert(dt >= 150, "trickled answer came in %lld ms", (long long)dt);
	usleep(1700000);
	cr_assert_eq(modbus_read_registers(mb[5], 0, 1, r), -1,
	    "connection was dropped");
	for (int i = 0; i < 6; i++)
		client_free(mb[i]);
	cr_assert_eq(sim_stop(&s), 0);
}

Test(devsim, bad_scenario_names_file_and_line)
{
	static const char scen[] = "1s site:S00000 mains_fail\n"
	    "2s site:S00000 delay\n";
	char path[] = "/tmp/test_devsim_bad.XXXXXX";
	const char *extra[] = { "--devices", "1", "--scenario", path, NULL };
	char want[128];
	struct sim s;
	int status = -1;

	write_scen(path, scen);
	pick_endpoint(&s, 7);
	spawn(&s, extra);
	wait_exit(s.pid, 5000, &status);
	unlink(path);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1,
	    "status %d", status);
	snprintf(want, sizeof(want), "%s:2: action 'delay' takes one "
	    "argument", path);
	cr_assert(has_line(s.err, want), "no error naming %s", want);
}

/*
 * Runs a bench client (10 s at most) and returns its result line, or NULL.
 * The caller's argv[0] is a name under $TOCSIN_BUILD/bench/.
 */
static char *
run_client(const char *name, const char *const *args)
{
	static char line[1024];
	char path[512];
	const char *argv[32];
	int out, n = 0, status, got;
	pid_t pid;

	snprintf(path, sizeof(path), "bench/%s", name);
	snprintf(path, sizeof(path), "%s", proc_build_path(path));
	argv[n++] = path;
	for (; *args != NULL && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	cr_assert_eq(access(path, X_OK), 0, "no client at %s", path);
	pid = fork_exec(argv, &out, NULL);
	got = read_line(out, line, sizeof(line), 10000);
	close(out);
	if (wait_exit(pid, 3000, &status) != 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return NULL;
	}
	return got > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ?
	    line : NULL;
}

static long long
field(const char *line, const char *key)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), " %s=", key);
	p = strstr(line, k);
	cr_assert_not_null(p, "no %s in %s", key, line);
	return atoll(p + strlen(k));
}

Test(devsim, baseline_clients_measure_what_devsim_served)
{
	static const char *const extra[] = { "--devices", "10", NULL };
	char port[16], line[1024], *res;
	long long sum = 0, min = -1;
	struct sim s;

	sim_start(&s, 8, extra);
	snprintf(port, sizeof(port), "%d", s.port);
	{
		const char *args[] = { "--devices", "10", "--base-addr",
		    s.addr[0], "--port", port, "--count", "3000", NULL };

		res = run_client("pollbase_epoll", args);
		cr_assert_not_null(res, "pollbase_epoll failed");
		cr_assert(strstr(res, "pollbench client=epoll devices=10 "
		    "conns=10 interval_ms=0 "), "%s", res);
		cr_assert_geq(field(res, "tx"), 3000);
		cr_assert_eq(field(res, "errors"), 0);
		cr_assert_eq(field(res, "timeouts"), 0);
		cr_assert_gt(field(res, "rtt_p99_us"), 0);
		cr_assert_geq(field(res, "rtt_p99_us"),
		    field(res, "rtt_p50_us"));
		cr_assert_gt(field(res, "maxrss_kb"), 0);
	}
	{
		const char *args[] = { "--devices", "10", "--base-addr",
		    s.addr[0], "--port", port, "--count", "500", NULL };

		res = run_client("pollbase_libmodbus", args);
		cr_assert_not_null(res, "pollbase_libmodbus failed");
		cr_assert(strstr(res, "pollbench client=libmodbus devices=10 "),
		    "%s", res);
		cr_assert_eq(field(res, "tx"), 500);
		cr_assert_eq(field(res, "errors"), 0);
	}
	cr_assert_eq(sim_stop(&s), 0);
	/* Every device was polled; devsim counted at least what was sent. */
	while (read_line(s.out, line, sizeof(line), 1000) >= 0) {
		const char *p = strstr(line, "devsim device ");

		if (p != NULL) {
			long long r = field(line, "requests");

			sum += r;
			min = min < 0 || r < min ? r : min;
		}
	}
	cr_assert_geq(sum, 3500);
	cr_assert_gt(min, 0, "a device was never polled");
}

Test(devsim, epoll_floor_keeps_schedule_and_counts_timeouts)
{
	static const char scen[] = "0 dev:D000001 silent\n";
	char path[] = "/tmp/test_devsim_silent.XXXXXX";
	const char *extra[] = { "--devices", "4", "--scenario", path, NULL };
	char port[16], *res;
	struct sim s;
	long long tx;

	sim_start_scen(&s, 9, extra, path, scen);
	snprintf(port, sizeof(port), "%d", s.port);
	{
		const char *args[] = { "--devices", "4", "--base-addr",
		    s.addr[0], "--port", port, "--interval-ms", "100",
		    "--duration", "1", "--timeout-ms", "150", NULL };

		res = run_client("pollbase_epoll", args);
	}
	cr_assert_not_null(res, "pollbase_epoll failed");
	cr_assert(strstr(res, " jitter=schedule "), "%s", res);
	/* 3 answering devices x 10 polls in 1 s; the silent one times out. */
	tx = field(res, "tx");
	cr_assert(tx >= 27 && tx <= 33, "tx=%lld: %s", tx, res);
	cr_assert_geq(field(res, "timeouts"), 3, "%s", res);
	cr_assert_eq(sim_stop(&s), 0);
}

static int
raw_connect(const struct sim *s)
{
	struct sockaddr_in sa;
	struct timeval tv = { 2, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)s->port);
	inet_pton(AF_INET, s->addr[0], &sa.sin_addr);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	/* Every recv below is bounded. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Reads exactly n bytes (bounded by SO_RCVTIMEO); returns n or less. */
static ssize_t
recv_all(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = recv(fd, buf + got, n - got, 0);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

Test(devsim, own_framing_split_pipelined_and_bad_frames)
{
	static const char *const extra[] = { "--devices", "1", NULL };
	/* FC 3, holding 0, 1 register, tid 0x0102 and 0x0103. */
	static const uint8_t q1[] = { 1, 2, 0, 0, 0, 6, 1, 3, 0, 0, 0, 1 };
	static const uint8_t q2[] = { 1, 3, 0, 0, 0, 6, 1, 3, 0, 1, 0, 1 };
	static const uint8_t bad[] = { 0, 1, 0, 1, 0, 6, 1, 3, 0, 0, 0, 1 };
	uint8_t two[24], r[22];
	struct sim s;
	int fd;

	sim_start(&s, 10, extra);
	fd = raw_connect(&s);
	/* A request in three pieces is one request. */
	cr_assert_eq(send(fd, q1, 3, 0), 3);
	usleep(20000);
	cr_assert_eq(send(fd, q1 + 3, 5, 0), 5);
	usleep(20000);
	cr_assert_eq(send(fd, q1 + 8, 4, 0), 4);
	cr_assert_eq(recv_all(fd, r, 11), 11);
	cr_assert_eq(r[0] << 8 | r[1], 0x0102, "transaction id echoed");
	cr_assert_eq(r[5], 5);
	cr_assert_eq(r[7], 3);
	cr_assert_eq(r[8], 2);
	cr_assert_eq(r[9] << 8 | r[10], 470);
	/* Two requests in one segment get two answers, in order. */
	memcpy(two, q1, 12);
	memcpy(two + 12, q2, 12);
	cr_assert_eq(send(fd, two, 24, 0), 24);
	cr_assert_eq(recv_all(fd, r, 22), 22);
	cr_assert_eq(r[0] << 8 | r[1], 0x0102);
	cr_assert_eq(r[11] << 8 | r[12], 0x0103);
	cr_assert_eq(r[20] << 8 | r[21], 350, "high-temp setpoint");
	/* A protocol id other than 0 cannot be resynchronised: closed. */
	cr_assert_eq(send(fd, bad, sizeof(bad), 0), (ssize_t)sizeof(bad));
	cr_assert_eq(recv(fd, r, sizeof(r), 0), 0, "connection not closed");
	close(fd);
	cr_assert_eq(sim_stop(&s), 0);
	cr_assert(has_line(s.out, " bad_frames=1 "), "bad frame not counted");
}

/*
 * Writes (FC 5, 6, 15, 16) change the image, and the physics leaves the
 * written values alone; write_exception, write_silent and write_ignore
 * refuse, drop or swallow writes while reads are answered as usual; the
 * stats count every request that was not a read.
 */
Test(devsim, writes_change_the_image_and_faults_refuse_them)
{
	static const char scen[] =
	    "0 dev:D000001 write_exception 4\n"
	    "0 dev:D000002 write_silent\n"
	    "0 dev:D000003 write_ignore\n";
	char path[] = "/tmp/test_devsim_writes.XXXXXX";
	const char *extra[] = { "--devices", "4", "--units-per-gateway", "4",
	    "--scenario", path, NULL };
	uint16_t r[4], w[2] = { 11, 12 };
	uint8_t b[2], bits[2] = { 1, 1 };
	char line[512];
	struct sim s;
	modbus_t *mb;
	int devlines = 0;

	sim_start_scen(&s, 10, extra, path, scen);
	mb = client(&s, 0, 1, 500);		/* D000000 */
	cr_assert_eq(modbus_write_register(mb, 0, 480), 1, "%s",
	    modbus_strerror(errno));
	cr_assert_eq(modbus_write_registers(mb, 2, 2, w), 2);
	cr_assert_eq(modbus_write_bit(mb, 0, 1), 1);
	cr_assert_eq(modbus_write_bits(mb, 0, 2, bits), 2);
	usleep(250000);				/* past --eval-ms */
	cr_assert_eq(modbus_read_registers(mb, 0, 4, r), 4);
	cr_assert_eq(r[0], 480, "written, and kept over evaluations");
	cr_assert_eq(r[2], 11);
	cr_assert_eq(r[3], 12);
	cr_assert_eq(modbus_read_bits(mb, 0, 2, b), 2);
	cr_assert_eq(b[0] & b[1], 1);
	cr_assert_eq(modbus_write_bit(mb, 5, 1), -1);
	cr_assert_eq(errno, EMBXILADD, "%s", modbus_strerror(errno));

	modbus_set_slave(mb, 2);		/* D000001: refuses writes */
	cr_assert_eq(modbus_write_register(mb, 0, 1), -1);
	cr_assert_eq(errno, EMBXSFAIL, "%s", modbus_strerror(errno));
	cr_assert_eq(modbus_read_registers(mb, 0, 1, r), 1);
	cr_assert_eq(r[0], 470);

	modbus_set_slave(mb, 4);		/* D000003: swallows writes */
	cr_assert_eq(modbus_write_register(mb, 0, 1), 1);
	cr_assert_eq(modbus_read_registers(mb, 0, 1, r), 1);
	cr_assert_eq(r[0], 470, "echoed, not applied");

	modbus_set_slave(mb, 3);		/* D000002: never answers */
	cr_assert_eq(modbus_write_register(mb, 0, 1), -1);
	cr_assert_eq(errno, ETIMEDOUT, "%s", modbus_strerror(errno));
	client_free(mb);
	mb = client(&s, 0, 3, 500);
	cr_assert_eq(modbus_read_registers(mb, 0, 1, r), 1, "reads answered");
	client_free(mb);

	cr_assert_eq(sim_stop(&s), 0);
	while (read_line(s.out, line, sizeof(line), 1000) >= 0) {
		if (strstr(line, "devsim device id=D000000 ") != NULL) {
			cr_expect_eq(field(line, "writes"), 5, "%s", line);
			devlines++;
		}
		if (strstr(line, "devsim device id=D000001 ") != NULL)
			cr_expect_eq(field(line, "writes"), 1, "%s", line);
	}
	cr_assert_eq(devlines, 1);
}
