/*
 * setting.c - see setting.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "daemon/setting.h"

static uint32_t *
setting_field(void *base, const struct setting *s)
{
	return (uint32_t *)(void *)((char *)base + s->off);
}

void
setting_defaults(const struct setting *t, void *base)
{
	for (const struct setting *s = t; s->key != NULL; s++)
		*setting_field(base, s) = s->def;
}

void
setting_report(setting_report_cb report, void *arg, const char *prefix,
    const char *key, const char *fmt, ...)
{
	char k[64], why[160];
	va_list ap;

	if (report == NULL)
		return;
	snprintf(k, sizeof(k), "%s%s", prefix, key);
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	report(arg, k, why);
}

int
setting_check(const struct setting *t, const void *base, const char *prefix,
    setting_report_cb report, void *arg)
{
	int rc = 0;

	for (const struct setting *s = t; s->key != NULL; s++) {
		uint32_t v = *setting_field((void *)base, s);
		const char *u = s->kind == SETTING_MS ? "ms" : "";

		if (v < s->min || v > s->max) {
			setting_report(report, arg, prefix, s->key, "%u%s is "
			    "out of range [%u%s, %u%s]", v, u, s->min, u,
			    s->max, u);
			rc = -EINVAL;
		}
	}
	return rc;
}
