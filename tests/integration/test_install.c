/*
 * test_install.c - `make install` as a packager runs it, and the installed
 * daemon as systemd runs it: every file where docs/install.md says, with
 * its mode; the unit's paths follow PREFIX and SYSCONFDIR and it has the
 * hardening the issue asks for; `systemd-analyze verify` accepts it (with
 * the installed man pages for its Documentation=); every man page renders
 * with groff's warnings on; an operator's edited configuration survives a
 * second install; and the installed tocsind tells $NOTIFY_SOCKET READY=1
 * once it runs, RELOADING=1 then READY=1 around a SIGHUP reload, and
 * STOPPING=1 on SIGTERM (Type=notify).
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/support/dfix.h"
#include "tests/support/proc.h"
#include "tests/support/tenv.h"

static struct dfix D;	/* D.dir: the test's root, DESTDIR-less */

static void
ienv_init(void)
{
	dfix_init(&D, "install");
}

static void
ienv_fini(void)
{
	dfix_fini(&D, "test_install");
}

TestSuite(install, .init = ienv_init, .fini = ienv_fini, .timeout = 240);

/* sh -c line, bounded; asserts it could run. */
static void
sh(const char *line, int timeout_ms, struct proc_result *r)
{
	char *argv[] = { "sh", "-c", (char *)line, NULL };

	cr_assert_eq(proc_run(argv, timeout_ms, r), 0, "cannot run sh");
}

/* make install into D/usr and D/etc, with the build the tests run. */
static void
make_install(void)
{
	const char *b = getenv("TOCSIN_BUILD"), *s = getenv("TOCSIN_SANITIZER");
	char line[1024];
	struct proc_result r;

	snprintf(line, sizeof(line),
	    "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s install "
	    "BUILD=%s SANITIZER=%s PREFIX=%s/usr SYSCONFDIR=%s/etc",
	    b != NULL && *b ? b : "build/default", s != NULL ? s : "", D.dir,
	    D.dir);
	sh(line, 180000, &r);
	cr_assert_eq(r.status, 0, "%s: exit %d\n%s%s", line, r.status, r.out,
	    r.err);
	proc_result_free(&r);
}

static void
expect_file(const char *rel, mode_t mode)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", D.dir, rel);
	cr_assert_eq(stat(path, &st), 0, "%s not installed", rel);
	cr_expect(S_ISREG(st.st_mode), "%s: not a regular file", rel);
	cr_expect_eq(st.st_mode & 07777, mode, "%s: mode %o, want %o", rel,
	    (unsigned)(st.st_mode & 07777), (unsigned)mode);
}

static char *
installed(const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", D.dir, rel);
	return tenv_read_file(path);
}

Test(install, puts_every_file_in_place_with_its_mode)
{
	static const struct { const char *rel; mode_t mode; } files[] = {
		{ "usr/sbin/tocsind", 0755 },
		{ "usr/bin/tocsinctl", 0755 },
		{ "usr/share/man/man8/tocsind.8", 0644 },
		{ "usr/share/man/man1/tocsinctl.1", 0644 },
		{ "usr/share/man/man5/tocsin.yaml.5", 0644 },
		{ "usr/lib/systemd/system/tocsind.service", 0644 },
		{ "usr/lib/sysusers.d/tocsin.conf", 0644 },
		{ "usr/share/doc/tocsin/examples/tocsin.yaml", 0644 },
		{ "usr/share/doc/tocsin/install.md", 0644 },
		{ "etc/tocsin/tocsin.yaml", 0644 },
	};
	char *unit, want[512];

	make_install();
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		expect_file(files[i].rel, files[i].mode);

	/* the unit's paths follow PREFIX and SYSCONFDIR */
	unit = installed("usr/lib/systemd/system/tocsind.service");
	snprintf(want, sizeof(want), "\nExecStart=%s/usr/sbin/tocsind -c "
	    "%s/etc/tocsin/tocsin.yaml\n", D.dir, D.dir);
	cr_expect_not_null(strstr(unit, want), "unit lacks %s", want);
	cr_expect_null(strstr(unit, "/usr/local/"), "unit keeps /usr/local:\n%s",
	    unit);
	free(unit);
}

Test(install, the_unit_is_hardened_and_systemd_accepts_it)
{
	static const char *lines[] = {
		"\nType=notify\n", "\nUser=tocsin\n", "\nNoNewPrivileges=yes\n",
		"\nProtectSystem=strict\n", "\nProtectHome=yes\n",
		"\nPrivateTmp=yes\n", "\nStateDirectory=tocsin\n",
		"\nCapabilityBoundingSet=\n", "\nAmbientCapabilities=\n",
		"\nExecReload=/bin/kill -HUP $MAINPID\n",
	};
	char line[1024], *unit;
	struct proc_result r;

	make_install();
	unit = installed("usr/lib/systemd/system/tocsind.service");
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		cr_expect_not_null(strstr(unit, lines[i]), "unit lacks %s",
		    lines[i] + 1);
	free(unit);

	cr_assert_eq(access("/usr/bin/systemd-analyze", X_OK), 0,
	    "systemd-analyze missing (make deps installs systemd)");
	/* Documentation= is checked with man(1): the installed pages */
	snprintf(line, sizeof(line), "MANPATH=%s/usr/share/man "
	    "systemd-analyze verify %s/usr/lib/systemd/system/tocsind.service",
	    D.dir, D.dir);
	sh(line, 60000, &r);
	cr_expect_eq(r.status, 0, "systemd-analyze verify: exit %d\n%s%s",
	    r.status, r.out, r.err);
	cr_expect_eq(r.err[0], '\0', "systemd-analyze verify says:\n%s", r.err);
	proc_result_free(&r);
}

Test(install, man_pages_render_without_warnings)
{
	static const char *pages[] = {
		"usr/share/man/man8/tocsind.8", "usr/share/man/man1/tocsinctl.1",
		"usr/share/man/man5/tocsin.yaml.5",
	};
	char line[512];
	struct proc_result r;

	make_install();
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		/* -ww: every warning, but a table cell too narrow to justify */
		snprintf(line, sizeof(line), "groff -t -mandoc -ww -Wbreak -z "
		    "-Tutf8 %s/%s", D.dir, pages[i]);
		sh(line, 30000, &r);
		cr_expect_eq(r.status, 0, "%s: exit %d", pages[i], r.status);
		cr_expect_eq(r.err[0], '\0', "%s:\n%s", pages[i], r.err);
		proc_result_free(&r);
		snprintf(line, sizeof(line), "MANWIDTH=80 man -l %s/%s", D.dir,
		    pages[i]);
		sh(line, 30000, &r);
		cr_expect_not_null(strstr(r.out, "NAME"), "%s renders no NAME:\n%s",
		    pages[i], r.out);
		proc_result_free(&r);
	}
}

Test(install, keeps_an_edited_config_and_the_example_checks_ok)
{
	char path[256], prog[256];
	char *argv[] = { prog, "-n", "-c", path, NULL };
	struct proc_result r;
	char *cfg;

	make_install();
	snprintf(prog, sizeof(prog), "%s/usr/sbin/tocsind", D.dir);
	snprintf(path, sizeof(path), "%s/etc/tocsin/tocsin.yaml", D.dir);
	cr_assert_eq(proc_run(argv, 30000, &r), 0);
	cr_expect_eq(r.status, 0, "installed config: exit %d\n%s", r.status,
	    r.err);
	cr_expect(strncmp(r.out, "configuration OK: ", 18) == 0, "%s", r.out);
	proc_result_free(&r);

	/* an operator's edit survives the next install */
	snprintf(prog, sizeof(prog), "%s/etc/tocsin", D.dir);
	tenv_write_file(prog, "tocsin.yaml",
	    "# edited by the operator\ndaemon: {shards: 1}\n");
	make_install();
	cfg = installed("etc/tocsin/tocsin.yaml");
	cr_expect(strncmp(cfg, "# edited by the operator\n", 25) == 0,
	    "install overwrote the operator's config:\n%.200s", cfg);
	free(cfg);
}

/* One datagram from s within ms, NUL-terminated in buf; 0 on timeout. */
static ssize_t
notify_recv(int s, char *buf, size_t len, int ms)
{
	struct pollfd p = { s, POLLIN, 0 };
	ssize_t n;

	if (poll(&p, 1, ms) <= 0)
		return 0;
	n = recv(s, buf, len - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

Test(install, the_installed_daemon_notifies_systemd_ready_and_stopping)
{
	struct sockaddr_un sun;
	char prog[256], yaml[2048], msg[1024], want[64];
	int s, port;

	make_install();
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/notify", D.dir);
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(s, 0);
	cr_assert_eq(bind(s, (struct sockaddr *)&sun, sizeof(sun)), 0);
	cr_assert_eq(setenv("NOTIFY_SOCKET", sun.sun_path, 1), 0);

	port = tenv_free_port("127.0.0.1");
	snprintf(yaml, sizeof(yaml),
	    "daemon: {shards: 1, state_dir: %s/state}\n"
	    "modbus: {port: %d, timeout: 100ms, interval: 1s}\n"
	    "output: {file: %s/out.jsonl}\n"
	    "kafka: {brokers: \"\"}\n"
	    "http: {listen: \"127.0.0.1:0\"}\n"
	    "profiles:\n  rect:\n    points:\n"
	    "      - {name: v, address: 30001}\n"
	    "sites:\n  - {id: T1, area: north, region: A, tenants: "
	    "[{customer: c1, tier: standard}]}\n"
	    "devices:\n  - {id: T1-rect, site: T1, profile: rect, "
	    "host: 127.0.0.1}\n", D.dir, port, D.dir);
	tenv_write_file(D.dir, "t.yaml", yaml);
	snprintf(prog, sizeof(prog), "%s/usr/sbin/tocsind", D.dir);
	dfix_start(&D, prog, "t.yaml");

	snprintf(yaml, sizeof(yaml), "%s/tocsind.err", D.dir);
	cr_assert_gt(notify_recv(s, msg, sizeof(msg), 60000), 0,
	    "no READY=1 within 60 s; log:\n%s", tenv_read_file(yaml));
	cr_expect_not_null(strstr(msg, "READY=1"), "first message: %s", msg);
	snprintf(want, sizeof(want), "MAINPID=%ld", (long)D.daemon);
	cr_expect_not_null(strstr(msg, want), "first message: %s", msg);
	cr_expect_not_null(strstr(msg, "STATUS=running: 1 sites"),
	    "first message: %s", msg);

	/* a reload (the same file: nothing changes) is bracketed */
	kill(D.daemon, SIGHUP);
	cr_assert_gt(notify_recv(s, msg, sizeof(msg), 30000), 0,
	    "no RELOADING=1 within 30 s of SIGHUP");
	cr_expect(strncmp(msg, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0,
	    "on SIGHUP: %s", msg);
	cr_assert_gt(notify_recv(s, msg, sizeof(msg), 30000), 0,
	    "no READY=1 after the reload");
	cr_expect_str_eq(msg, "READY=1");

	kill(D.daemon, SIGTERM);
	cr_assert_gt(notify_recv(s, msg, sizeof(msg), 30000), 0,
	    "no STOPPING=1 within 30 s of SIGTERM");
	cr_expect_str_eq(msg, "STOPPING=1");
	dfix_stop_clean(&D, NULL);
	close(s);
}
