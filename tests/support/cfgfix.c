/*
 * cfgfix.c - see cfgfix.h.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tests/support/cfgfix.h"

void
cfgfix_expect_error(cfgfix_load_fn *load, const char *yaml, const char *want)
{
	const struct config_errors *errs = NULL;
	int found = 0;

	cr_assert(load(yaml, &errs), "expected an error \"%s\"", want);
	for (size_t i = 0; i < errs->n; i++)
		if (strncmp(errs->msg[i], want, strlen(want)) == 0)
			found = 1;
	if (!found)
		for (size_t i = 0; i < errs->n; i++)
			cr_log_error("got: %s", errs->msg[i]);
	cr_assert(found, "no error starting \"%s\" among %zu", want, errs->n);
}

void
cfgfix_expect_at(cfgfix_load_fn *load, const char *yaml, const char *needle,
    const char *rest)
{
	const char *hit = NULL, *p;
	unsigned line = 1, col = 1;
	char want[512];

	/* the last occurrence: the broken part follows the shared PROFILE */
	for (p = strstr(yaml, needle); p != NULL; p = strstr(p + 1, needle))
		hit = p;
	cr_assert_not_null(hit, "needle \"%s\" not in the test's YAML", needle);
	for (p = yaml; p < hit; p++) {
		if (*p == '\n') {
			line++;
			col = 1;
		} else
			col++;
	}
	snprintf(want, sizeof(want), "t.yaml:%u:%u: %s", line, col, rest);
	cfgfix_expect_error(load, yaml, want);
}
