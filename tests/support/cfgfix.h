/*
 * cfgfix.h - what the configuration tests (test_config, test_cfgfleet,
 * test_cfgcorr, test_cfgsla) share: the assertion that a YAML text is
 * refused with a given error line, and the one that computes that line's
 * "t.yaml:LINE:COLUMN: " prefix from where the broken part stands in the
 * text.  Each test file keeps its own loader (the section it reads) and
 * passes it in.
 */
#ifndef TOCSIN_TEST_CFGFIX_H
#define TOCSIN_TEST_CFGFIX_H

#include "daemon/config.h"

/*
 * Loads yaml the test file's way; returns 1 when loading failed, and sets
 * *errs to the errors it collected.
 */
typedef int cfgfix_load_fn(const char *yaml,
	    const struct config_errors **errs);

/* Asserts that loading yaml fails with an error line starting with want. */
void	 cfgfix_expect_error(cfgfix_load_fn *load, const char *yaml,
	    const char *want);
/*
 * Asserts an error whose position is the last occurrence of needle in
 * yaml (line and column, 1-based, in "t.yaml") and whose text after it
 * starts with rest.
 */
void	 cfgfix_expect_at(cfgfix_load_fn *load, const char *yaml,
	    const char *needle, const char *rest);

#endif
