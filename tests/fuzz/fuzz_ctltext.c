/*
 * fuzz_ctltext.c - libFuzzer target for the line readers of tocsinctl
 * (daemon/ctltext): its config file's `key = value` lines and the
 * /metrics samples `status` sums.  Any text: the config reader calls back
 * only with keys of [a-z0-9_] and values without a newline, or refuses
 * with a message that starts with the line number; the metric reader
 * counts no more samples than the text has lines.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ctltext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fz_kv(void *arg, const char *key, const char *value, char *err,
    size_t errlen)
{
	unsigned *n = arg;

	if (*key == '\0' || strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_")
	    != strlen(key) || strchr(value, '\n') != NULL)
		abort();
	if (++*n % 5 == 0) {		/* a caller's refusal goes through */
		snprintf(err, errlen, "refused");
		return -EINVAL;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), err[256];
	unsigned n = 0, lines = 1;
	double d;
	int rc;

	memcpy(s, data, size);
	s[size] = '\0';
	err[0] = '\0';
	rc = ctltext_conf(s, fz_kv, &n, err, sizeof(err));
	if (rc != 0 && (rc != -EINVAL || err[0] < '1' || err[0] > '9'))
		abort();
	for (const char *p = s; *p; p++)
		lines += *p == '\n';
	if (ctltext_metric(s, "tocsin_incidents", "state", "open", &d) >
	    (int)lines || ctltext_metric(s, "tocsin_x", NULL, NULL, &d) >
	    (int)lines)
		abort();
	free(s);
	return 0;
}
