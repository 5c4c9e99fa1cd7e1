/*
 * promtext.h - a strict reader of the Prometheus text format 0.0.4 for the
 * tests of /metrics: every sample belongs to a family declared by a TYPE
 * line before it (histograms' _bucket, _sum and _count included), names
 * and label names are valid, label values are quoted and escaped, values
 * are numbers, no family is declared twice, and no sample carries a label
 * the caller forbids (a per-device one).
 */
#ifndef TOCSIN_TEST_PROMTEXT_H
#define TOCSIN_TEST_PROMTEXT_H

#include <stddef.h>

/*
 * Checks text; 0, or -1 with the first problem (and its line) in why.
 * *nsamples and *nfamilies are counted.  forbidden: a label name no
 * sample may have, or NULL.
 */
int	 promtext_check(const char *text, const char *forbidden,
	    int *nsamples, int *nfamilies, char *why, size_t len);
/*
 * The value of the sample written exactly as series (name and labels as
 * they appear, e.g. "tocsin_modbus_devices{comm=\"ok\"}"): 0 and *v, or
 * -1 when text has no such sample.
 */
int	 promtext_value(const char *text, const char *series, double *v);
/* The family TYPE declares for name ("counter", ...), copied; NULL. */
const char *promtext_type(const char *text, const char *name, char *buf,
	    size_t len);

#endif
