/*
 * kbroker.c - see kbroker.h.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/kbroker.h"
#include "tests/support/proc.h"
#include "tests/support/tenv.h"

char broker_dir[64];

/*
 * Starts a broker in a fresh directory; returns its bootstrap, or "" when
 * the machine cannot run one (the embedded mock is used: said on stderr).
 */
const char *
broker_start(char *bootstrap, size_t len)
{
	char *argv[] = { "sh", "tests/kafka/broker.sh", "start", broker_dir,
	    NULL };
	struct proc_result r;
	char *last;

	snprintf(broker_dir, sizeof(broker_dir), "/tmp/tocsin-kbroker-XXXXXX");
	cr_assert_not_null(mkdtemp(broker_dir));
	/* a forgotten broker dies on its own */
	setenv("BROKER_LIFETIME", "600", 1);
	cr_assert_eq(proc_run(argv, 180000, &r), 0);
	last = strstr(r.out, "bootstrap=");
	if (r.status == 3) {
		fprintf(stderr, "kafka_broker: no real broker here (%s): "
		    "USING THE MOCK CLUSTER instead\n", r.err);
		proc_result_free(&r);
		broker_dir[0] = '\0';
		bootstrap[0] = '\0';
		return bootstrap;
	}
	cr_assert_eq(r.status, 0, "broker.sh start: %d\n%s\n%s", r.status,
	    r.out, r.err);
	cr_assert_not_null(last);
	snprintf(bootstrap, len, "%.*s", (int)strcspn(last + 10, "\n"),
	    last + 10);
	fprintf(stderr, "kafka_broker: real broker bootstrap=%s in %.1f s\n",
	    bootstrap, r.seconds);
	proc_result_free(&r);
	return bootstrap;
}

pid_t
broker_pid(void)
{
	char path[128], *s;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/pid", broker_dir);
	s = tenv_read_file(path);
	pid = (pid_t)atoi(s);
	free(s);
	return pid;
}

void
broker_fini(void)
{
	char *argv[] = { "sh", "tests/kafka/broker.sh", "stop", broker_dir,
	    NULL };
	struct proc_result r;

	if (broker_dir[0] == '\0')
		return;
	if (proc_run(argv, 30000, &r) == 0)
		proc_result_free(&r);
	argv[0] = "rm";
	argv[1] = "-rf";
	argv[2] = broker_dir;
	argv[3] = NULL;
	if (proc_run(argv, 30000, &r) == 0)
		proc_result_free(&r);
}

