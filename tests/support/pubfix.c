/*
 * pubfix.c - see pubfix.h.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/proc.h"
#include "tests/support/pubfix.h"
#include "tests/support/tenv.h"

pid_t
pubfix_spawn(const char *dir, char *const argv[], const char *out,
    const char *err)
{
	char po[192], pe[192];
	pid_t pid;

	snprintf(po, sizeof(po), "%s/%s", dir, out);
	snprintf(pe, sizeof(pe), "%s/%s", dir, err);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int o = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int nul = open("/dev/null", O_RDONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (o < 0 || e < 0 || nul < 0)
			_exit(126);
		dup2(nul, 0);
		dup2(o, 1);
		dup2(e, 2);
		close_range(3, ~0U, 0);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

int
pubfix_stop(pid_t *pid, int sig)
{
	int st, rc = -1;

	if (*pid <= 0)
		return -1;
	kill(*pid, sig);
	for (int i = 0; i < 300; i++) {
		if (waitpid(*pid, &st, WNOHANG) == *pid) {
			rc = WIFEXITED(st) ? WEXITSTATUS(st) :
			    128 + WTERMSIG(st);
			*pid = -1;
			return rc;
		}
		usleep(100000);
	}
	kill(*pid, SIGKILL);
	waitpid(*pid, &st, 0);
	*pid = -1;
	return rc;
}

char *
pubfix_sh(const char *line, int timeout_ms)
{
	char *argv[] = { "sh", "-c", (char *)line, NULL };
	struct proc_result r;
	char *out;

	cr_assert_eq(proc_run(argv, timeout_ms, &r), 0);
	out = r.out;
	r.out = NULL;
	proc_result_free(&r);
	return out;
}

int
pubfix_count_lines(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

pid_t
pubfix_redis_start(const char *dir, int port, const char *err)
{
	char p[8], cmd[256];
	char *argv[] = { "redis-server", "--port", p, "--bind", "127.0.0.1",
	    "--save", "", "--appendonly", "no", NULL };
	pid_t pid;

	snprintf(p, sizeof(p), "%d", port);
	pid = pubfix_spawn(dir, argv, "redis.out", err);
	snprintf(cmd, sizeof(cmd), "for i in $(seq 100); do redis-cli -p %d "
	    "ping 2>/dev/null | grep -q PONG && exit 0; sleep 0.1; done; "
	    "exit 1", port);
	free(pubfix_sh(cmd, 15000));
	return pid;
}

/* Appends each line of text that is a JSON object to a. */
static int
pubfix_lines(json_t *a, char *text, int keyed)
{
	char *save = NULL;
	int bad = 0;

	for (char *l = strtok_r(text, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		char *val = l, *sp;
		json_t *o;

		if (keyed) {
			if ((sp = strchr(l, ' ')) == NULL) {
				bad++;
				continue;
			}
			*sp = '\0';
			val = sp + 1;
		}
		o = json_loads(val, 0, NULL);
		if (o == NULL || !json_is_object(o) ||
		    (keyed && strcmp(pubfix_inc_str(o, "id"), l) != 0)) {
			bad++;
			json_decref(o);
			continue;
		}
		json_array_append_new(a, o);
	}
	return bad;
}

json_t *
pubfix_file_events(const char *path, int *bad)
{
	char *text = tenv_read_file(path), *end = strrchr(text, '\n');
	json_t *a = json_array();
	int n;

	/* a last line without its newline is still being written (the
	 * sink's stdio may split a batch over writes): a reader tailing the
	 * file leaves it for the next read */
	if (end != NULL)
		end[1] = '\0';
	else
		text[0] = '\0';
	n = pubfix_lines(a, text, 0);

	if (bad != NULL)
		*bad = n;
	free(text);
	return a;
}

json_t *
pubfix_kafka_events(const char *bootstrap, const char *topic, int *bad)
{
	char cmd[512], *out;
	json_t *a = json_array();
	int n;

	snprintf(cmd, sizeof(cmd), "kcat -C -b %s -t %s -o beginning -e -q "
	    "-f '%%k %%s\\n' 2>/dev/null", bootstrap, topic);
	out = pubfix_sh(cmd, 60000);
	n = pubfix_lines(a, out, 1);
	if (bad != NULL)
		*bad = n;
	free(out);
	return a;
}

int
pubfix_mock_bootstrap(const char *logpath, char *buf, size_t len, int ms)
{
	int64_t end = tenv_mono_ms() + ms;

	do {
		char *log = tenv_read_file(logpath), *p;
		int found = 0;

		if ((p = strstr(log, "mock cluster bootstrap=")) != NULL) {
			snprintf(buf, len, "%.*s", (int)strcspn(p + 23, " \n"),
			    p + 23);
			found = 1;
		}
		free(log);
		if (found)
			return 0;
		usleep(100000);
	} while (tenv_mono_ms() < end);
	return -1;
}

long
pubfix_stop_counter(const char *log, const char *key)
{
	const char *s = strstr(log, " stop reason=");
	char k[64];

	if (s == NULL)
		return -1;
	snprintf(k, sizeof(k), " %s=", key);
	if ((s = strstr(s, k)) == NULL)
		return -1;
	return strtol(s + strlen(k), NULL, 10);
}

const char *
pubfix_inc_str(const json_t *ev, const char *k)
{
	const char *s = json_string_value(json_object_get(json_object_get(ev,
	    "incident"), k));

	return s != NULL ? s : "";
}

long long
pubfix_seq(const json_t *ev)
{
	return (long long)json_integer_value(json_object_get(ev, "seq"));
}

int
pubfix_dedup(json_t *evs, json_t **last, int *kept, char *why, size_t len)
{
	json_t *ev;
	size_t i;
	int gaps = 0, n = 0;

	*last = json_object();
	if (len > 0)
		why[0] = '\0';
	json_array_foreach(evs, i, ev) {
		const char *id = pubfix_inc_str(ev, "id");
		long long seq = pubfix_seq(ev);
		long long prev = pubfix_seq(json_object_get(*last, id));

		if (seq <= prev)
			continue;	/* a repeat */
		if (seq != prev + 1 && gaps++ == 0)
			snprintf(why, len, "%s: seq %lld after %lld (event %zu)",
			    id, seq, prev, i);
		json_object_set(*last, id, ev);
		n++;
	}
	if (kept != NULL)
		*kept = n;
	return gaps;
}
