/*
 * ctltext.h - the two line-oriented texts tocsinctl reads: its own
 * configuration file (`key = value` lines) and the samples of tocsind's
 * /metrics (Prometheus text format 0.0.4) that `tocsinctl status` sums.
 * Both are hand-written readers of outside text, so both are fuzzed
 * (tests/fuzz/fuzz_ctltext.c).
 */
#ifndef TOCSIN_CTLTEXT_H
#define TOCSIN_CTLTEXT_H

#include <stddef.h>

/*
 * Calls fn(arg, line, key, value) for every `key = value` line of text
 * (NUL-terminated): blank lines and lines starting with '#' are skipped,
 * spaces around the key and the value are dropped, a value may be
 * wrapped in double quotes (kept as is inside, no escapes).  A line
 * without '=', with an empty key, a key that is not [a-z0-9_]+, or a
 * line over 1023 bytes is an error: returns -EINVAL with "LINE: why" in
 * err.  fn returns 0 to go on, or -EINVAL with its reason in err (the
 * line number is prefixed).  Returns 0 when every line was read.
 */
typedef int ctltext_conf_fn(void *arg, const char *key, const char *value,
	    char *err, size_t errlen);
int	 ctltext_conf(const char *text, ctltext_conf_fn *fn, void *arg,
	    char *err, size_t errlen);

/*
 * Sums the samples of metric name in a Prometheus text exposition whose
 * labels include label="value" (label NULL: every sample of name).
 * Returns how many samples matched (0: none; *sum is then 0).  Lines it
 * cannot read are skipped.
 */
int	 ctltext_metric(const char *text, const char *name, const char *label,
	    const char *value, double *sum);

#endif
