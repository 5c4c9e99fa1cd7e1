/*
 * fuzz_inventory.c - libFuzzer target for the device inventory CSV parser
 * (daemon/cfgcsv.c), fed the input directly: no YAML, no file.
 *
 * Besides "no crash, no leak, no undefined behaviour", every row handed to
 * the callback and every error is checked against what cfgcsv.h promises;
 * a broken promise abort()s, which libFuzzer reports like a crash.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cfgcsv.h"
#include "daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FILE_NAME	"fuzz.csv"
#define KEY		"devices[0].inventory"

struct seen {
	uint32_t	 lines;		/* lines in the input */
	uint32_t	 last;		/* line of the previous row */
	size_t		 rows;
};

static void
check_row(struct cfgkey_ctx *cx, const struct cfgcsv_row *r, void *arg)
{
	struct seen *s = arg;

	if (r->id == NULL || r->site == NULL || r->profile == NULL)
		abort();
	/* empty host and via are NULL, never "" */
	if ((r->host != NULL && r->host[0] == '\0') ||
	    (r->via != NULL && r->via[0] == '\0'))
		abort();
	if (r->port > 65535 || (r->unit > 255 && r->unit != UINT32_MAX))
		abort();
	/* rows come in file order, one per line at most, within the input */
	if (r->at.line <= s->last || r->at.line > s->lines || r->at.col != 1)
		abort();
	if (strcmp(r->at.file, FILE_NAME) != 0)
		abort();
	if (r->site_at.line != r->at.line || r->profile_at.line != r->at.line ||
	    r->via_at.line != r->at.line)
		abort();
	/* the cells are where the columns are: id, then site, then profile */
	if (r->site_at.col != strlen(r->id) + 2 ||
	    r->profile_at.col != r->site_at.col + strlen(r->site) + 1 ||
	    r->via_at.col <= r->profile_at.col + strlen(r->profile))
		abort();
	s->last = r->at.line;
	s->rows++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors errs = { NULL, 0 };
	struct seen s = { 1, 0, 0 };
	struct cfgkey_ctx cx;
	int r;

	for (size_t i = 0; i < size; i++)
		if (data[i] == '\n' && i + 1 < size)
			s.lines++;
	cfgkey_init(&cx, "fuzz.yaml", &errs);
	r = cfgcsv_parse(&cx, FILE_NAME, KEY, (const char *)data, size,
	    check_row, &s);
	/* -EINVAL exactly when some row was reported, each at FILE:LINE:COL */
	if ((r == 0) != (errs.n == 0) || (r != 0 && r != -EINVAL))
		abort();
	for (size_t i = 0; i < errs.n; i++)
		if (strncmp(errs.msg[i], FILE_NAME ":", strlen(FILE_NAME) + 1) != 0 ||
		    strstr(errs.msg[i], ": " KEY ": ") == NULL)
			abort();
	cfgkey_fini(&cx);
	config_errors_free(&errs);
	return 0;
}
