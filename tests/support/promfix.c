/*
 * promfix.c - see promfix.h.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/httpfix.h"
#include "tests/support/promfix.h"
#include "tests/support/pubfix.h"
#include "tests/support/tenv.h"

void
promfix_require(void)
{
	if (access(PROMFIX_BIN, X_OK) != 0)
		cr_skip_test("%s is not installed (Debian package prometheus; "
		    "make deps installs it)", PROMFIX_BIN);
}

/* 1 when the first active target's health is "up". */
static int
target_up(int port)
{
	json_t *j = promfix_get(port, "/api/v1/targets");
	json_t *t = json_array_get(json_object_get(json_object_get(j, "data"),
	    "activeTargets"), 0);
	const char *health = json_string_value(json_object_get(t, "health"));
	int up = health != NULL && strcmp(health, "up") == 0;

	json_decref(j);
	return up;
}

void
promfix_start(const char *dir, int target, const char *rules, int up_ms,
    pid_t *pid, int *port)
{
	char yaml[PATH_MAX + 512], abs[PATH_MAX] = "", cfgarg[160],
	    tsdbarg[160], webarg[96];
	char *argv[] = { PROMFIX_BIN, cfgarg, tsdbarg, webarg, NULL };
	int64_t end;
	int up = 0;

	if (rules != NULL)
		cr_assert_not_null(realpath(rules, abs), "realpath %s", rules);
	*port = tenv_free_port("127.0.0.1");
	cr_assert_gt(*port, 0);
	snprintf(yaml, sizeof(yaml),
	    "global: {scrape_interval: 1s, scrape_timeout: 1s, "
	    "evaluation_interval: 1s}\n"
	    "%s%s%s"
	    "scrape_configs:\n"
	    "  - job_name: tocsind\n"
	    "    static_configs:\n"
	    "      - targets: [\"127.0.0.1:%d\"]\n",
	    rules != NULL ? "rule_files: [\"" : "", abs,
	    rules != NULL ? "\"]\n" : "", target);
	tenv_write_file(dir, "prometheus.yml", yaml);
	snprintf(cfgarg, sizeof(cfgarg), "--config.file=%s/prometheus.yml",
	    dir);
	snprintf(tsdbarg, sizeof(tsdbarg), "--storage.tsdb.path=%s/prom", dir);
	snprintf(webarg, sizeof(webarg), "--web.listen-address=127.0.0.1:%d",
	    *port);
	*pid = pubfix_spawn(dir, argv, "prom.out", "prom.err");

	end = tenv_mono_ms() + up_ms;
	while (tenv_mono_ms() < end) {
		up = target_up(*port);
		if (up && promfix_results(*port,
		    "tocsin_modbus_polls_total") > 0)
			break;
		usleep(500000);
	}
	cr_assert(up, "Prometheus does not report the target up in %d s (see "
	    "%s/prom.err)", up_ms / 1000, dir);
}

int
promfix_stop(pid_t *pid)
{
	return pubfix_stop(pid, SIGTERM);
}

json_t *
promfix_get(int port, const char *path)
{
	struct httpfix_resp r;
	json_t *j = NULL;

	if (httpfix_do(port, "GET", path, NULL, NULL, &r) == 200)
		j = json_loads(r.body, 0, NULL);
	httpfix_free(&r);
	return j;
}

/* s form-encoded (application/x-www-form-urlencoded), malloc'd. */
static char *
form_encode(const char *s)
{
	char *out = malloc(strlen(s) * 3 + 1), *o = out;

	cr_assert_not_null(out);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
			*o++ = (char)c;
		else
			o += sprintf(o, "%%%02X", c);
	}
	*o = '\0';
	return out;
}

json_t *
promfix_query(int port, const char *query)
{
	struct httpfix_resp r;
	char *enc = form_encode(query), *body;
	json_t *j;

	cr_assert_gt(asprintf(&body, "query=%s", enc), 0);
	free(enc);
	httpfix_do(port, "POST", "/api/v1/query", "Content-Type: "
	    "application/x-www-form-urlencoded\r\n", body, &r);
	j = json_loads(r.body, 0, NULL);
	httpfix_free(&r);
	free(body);
	return j;
}

size_t
promfix_results(int port, const char *query)
{
	json_t *j = promfix_query(port, query);
	size_t n = json_array_size(json_object_get(json_object_get(j, "data"),
	    "result"));

	json_decref(j);
	return n;
}
