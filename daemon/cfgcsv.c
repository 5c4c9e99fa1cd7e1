/*
 * cfgcsv.c - the device inventory CSV (see cfgcsv.h).
 *
 * Design.  The buffer is cut into lines at LF; each line is copied into
 * one scratch buffer that grows to the longest line, NUL-terminated, and
 * split in place at commas, so a row's fields are pointers into the copy
 * and the column of a cell is its offset + 1.  Nothing is kept between
 * lines except the line number, which counts every line (comments and
 * empty ones too) so that messages point where an editor does.
 *
 * The header is recognised rather than assumed: line 1, or any line whose
 * first two fields are "id" and "site", is checked column by column and
 * never becomes a device.  A row with the wrong number of columns is
 * reported before that test, so a short header is a column-count error.
 * This is the behaviour of the line reader it replaced (getline() on the
 * file, in config.c), byte for byte: a NUL in a line ends its text as it
 * did there, and runs of CR and LF at the end of a line are dropped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cfgcsv.h"
#include "daemon/mem.h"

enum { NCOLS = 7 };

static const char *const cols[NCOLS] = {
	"id", "site", "profile", "host", "port", "unit", "via",
};

/* Reads one line (NUL-terminated copy, len bytes); 0, or -EINVAL if bad. */
static int
cfg_csv_line(struct cfgkey_ctx *cx, const char *key, char *line, size_t len,
    struct cfgkey_loc *loc, cfgcsv_row_fn fn, void *arg)
{
	char *field[NCOLS + 1], *p = line, *e;
	struct cfgcsv_row row;
	const char *why = NULL;
	size_t nf = 0;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	if (len == 0 || line[0] == '#')
		return 0;
	loc->col = 1;
	for (;;) {
		if (nf <= NCOLS)
			field[nf] = p;
		nf++;
		if ((e = strchr(p, ',')) == NULL)
			break;
		*e = '\0';
		p = e + 1;
	}
	if (nf != NCOLS) {
		cfgkey_error_at(cx, loc, key, "inventory row has %zu columns, "
		    "expected %d (%s,%s,%s,%s,%s,%s,%s)", nf, NCOLS, cols[0],
		    cols[1], cols[2], cols[3], cols[4], cols[5], cols[6]);
		return -EINVAL;
	}
	if (loc->line == 1 || (strcmp(field[0], "id") == 0 &&
	    strcmp(field[1], "site") == 0)) {
		for (int i = 0; i < NCOLS; i++)
			if (strcmp(field[i], cols[i]) != 0) {
				loc->col = (uint32_t)(field[i] - line) + 1;
				cfgkey_error_at(cx, loc, key, "inventory header "
				    "column %d is \"%s\", expected \"%s\"",
				    i + 1, field[i], cols[i]);
				return -EINVAL;
			}
		return 0;
	}
	memset(&row, 0, sizeof(row));
	row.unit = UINT32_MAX;
	row.id = field[0];
	row.site = field[1];
	row.profile = field[2];
	row.host = field[3][0] ? field[3] : NULL;
	row.via = field[6][0] ? field[6] : NULL;
	for (int i = 4; i <= 5 && why == NULL; i++) {
		char *end;
		long v;

		if (field[i][0] == '\0')
			continue;
		errno = 0;
		v = strtol(field[i], &end, 10);
		if (errno != 0 || *end != '\0' || v < (i == 4 ? 1 : 0) ||
		    v > (i == 4 ? 65535 : 255)) {
			loc->col = (uint32_t)(field[i] - line) + 1;
			why = i == 4 ? "port must be 1-65535" : "unit must be 0-255";
		} else if (i == 4)
			row.port = (uint32_t)v;
		else
			row.unit = (uint32_t)v;
	}
	if (why != NULL) {
		cfgkey_error_at(cx, loc, key, "%s", why);
		return -EINVAL;
	}
	row.at = row.site_at = row.profile_at = row.via_at = *loc;
	row.site_at.col = (uint32_t)(field[1] - line) + 1;
	row.profile_at.col = (uint32_t)(field[2] - line) + 1;
	row.via_at.col = (uint32_t)(field[6] - line) + 1;
	fn(cx, &row, arg);
	return 0;
}

int
cfgcsv_parse(struct cfgkey_ctx *cx, const char *file, const char *key,
    const char *buf, size_t len, cfgcsv_row_fn fn, void *arg)
{
	struct cfgkey_loc loc = { file, 0, 1 };
	char *line = NULL;
	size_t cap = 0, pos = 0;
	int bad = 0;

	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - buf) - pos + 1 : len - pos;

		if (n + 1 > cap) {
			cap = n + 1 > 2 * cap ? n + 1 : 2 * cap;
			line = xrealloc(line, cap);
		}
		memcpy(line, buf + pos, n);
		line[n] = '\0';
		pos += n;
		loc.line++;
		if (cfg_csv_line(cx, key, line, n, &loc, fn, arg) != 0)
			bad = 1;
	}
	xfree(line);
	return bad ? -EINVAL : 0;
}
