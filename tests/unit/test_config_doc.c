/*
 * test_config_doc.c - docs/configuration.md's `## modbus` table against the
 * keys the loader reads (config_modbus_key(): mbclient_settings[] and
 * comm_loss_misses), and the default column of its `## correlation` table
 * against corr_config_defaults(), the one table of the section's defaults
 * (cfgcorr.c's keys have none of their own).
 *
 * The test is the table's generator: doc_row() writes each key's row the
 * way the page writes values (durations `1s`, `500ms`, `1h`, ranges
 * `10ms-60s`), and when the page differs the test names each row that
 * differs, is missing or is extra, and prints the whole expected table on
 * stderr to paste under the heading.  Rows are matched by key, so their
 * order is the page's business; the page keeps the table's order because
 * it is pasted from here.
 *
 * Tests run from the repository root (tenv_read_file()).
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correlator/corr.h"
#include "daemon/cfgfleet.h"
#include "daemon/config.h"
#include "tests/support/tenv.h"

#define DOC_PATH	"docs/configuration.md"
#define DOC_HEADING	"## modbus"
#define DOC_HEAD	"| key | default | range | meaning |"
#define DOC_RULE	"|---|---|---|---|"
#define ROW_MAX		512

/*
 * A duration as the page writes it: the largest unit that divides it;
 * minutes only where the page uses them (the correlation table's `10m`,
 * the modbus table's `60s`).
 */
static void
doc_ms(char *buf, size_t len, uint64_t ms, int minutes)
{
	if (ms == 0)
		snprintf(buf, len, "0");
	else if (ms % 86400000u == 0)
		snprintf(buf, len, "%llud", (unsigned long long)(ms / 86400000u));
	else if (ms % 3600000u == 0)
		snprintf(buf, len, "%lluh", (unsigned long long)(ms / 3600000u));
	else if (minutes && ms % 60000u == 0)
		snprintf(buf, len, "%llum", (unsigned long long)(ms / 60000u));
	else if (ms % 1000u == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000u));
	else
		snprintf(buf, len, "%llums", (unsigned long long)ms);
}

static void
doc_value(char *buf, size_t len, const struct setting *s, uint32_t v)
{
	if (s->kind == SETTING_MS)
		doc_ms(buf, len, v, 0);
	else
		snprintf(buf, len, "%u", v);
}

/* The page's row of setting s, without a newline. */
static void
doc_row(char *buf, size_t len, const struct setting *s)
{
	char def[32], lo[32], hi[32];

	doc_value(def, sizeof(def), s, s->def);
	doc_value(lo, sizeof(lo), s, s->min);
	doc_value(hi, sizeof(hi), s, s->max);
	snprintf(buf, len, "| `%s` | %s | %s-%s | %s |", s->key, def, lo, hi,
	    s->doc);
}

/* The whole expected table, header included, on stderr. */
static void
doc_print_table(void)
{
	char row[ROW_MAX];

	fprintf(stderr, "--- the %s table of %s, from config_modbus_key():\n"
	    "%s\n%s\n", DOC_HEADING, DOC_PATH, DOC_HEAD, DOC_RULE);
	for (size_t i = 0; config_modbus_key(i) != NULL; i++) {
		doc_row(row, sizeof(row), config_modbus_key(i));
		fprintf(stderr, "%s\n", row);
	}
	fprintf(stderr, "---\n");
}

/* What disagrees, one line each. */
struct problems {
	char		 msg[64][ROW_MAX];
	size_t		 n;
};

static void __attribute__((format(printf, 2, 3)))
problem(struct problems *p, const char *fmt, ...)
{
	va_list ap;

	if (p->n >= sizeof(p->msg) / sizeof(p->msg[0]))
		return;
	va_start(ap, fmt);
	vsnprintf(p->msg[p->n++], ROW_MAX, fmt, ap);
	va_end(ap);
}

/* Splits "| a | b | c | d |" into its cells; returns how many. */
static size_t
doc_cells(char *line, char **cell, size_t max)
{
	size_t n = 0;
	char *p = line, *bar;

	if (*p != '|')
		return 0;
	p++;
	while (n < max && (bar = strchr(p, '|')) != NULL) {
		char *b = p, *e = bar;

		while (*b == ' ')
			b++;
		while (e > b && e[-1] == ' ')
			e--;
		*e = '\0';
		cell[n++] = b;
		p = bar + 1;
	}
	return n;
}

/*
 * Checks the modbus table of md (a whole page) against config_modbus_key().
 * Returns the number of problems, each in p.
 */
static size_t
doc_check(const char *md, struct problems *p)
{
	static const char *const what[] = { "key", "default", "range",
	    "meaning" };
	char seen[64];
	const char *at, *nl;
	size_t nkeys = 0, nrows = 0;

	p->n = 0;
	while (config_modbus_key(nkeys) != NULL)
		nkeys++;
	cr_assert_leq(nkeys, sizeof(seen));
	memset(seen, 0, sizeof(seen));
	at = strncmp(md, DOC_HEADING, strlen(DOC_HEADING)) == 0 ? md :
	    strstr(md, "\n" DOC_HEADING);
	if (at == NULL) {
		problem(p, "no \"%s\" heading", DOC_HEADING);
		return p->n;
	}
	/* the first table under the heading, before the next heading */
	for (at = strchr(at + 1, '\n'); at != NULL && at[1] != '|' &&
	    strncmp(at + 1, "## ", 3) != 0; at = strchr(at + 1, '\n'))
		;
	if (at == NULL || at[1] != '|') {
		problem(p, "no table under \"%s\"", DOC_HEADING);
		return p->n;
	}
	for (at++; *at == '|'; at = *nl ? nl + 1 : nl, nrows++) {
		char line[ROW_MAX], want[ROW_MAX];
		char *cell[8], *wcell[8];
		const struct setting *s;
		size_t ncell, i, k;

		nl = strchr(at, '\n');
		if (nl == NULL)
			nl = at + strlen(at);
		snprintf(line, sizeof(line), "%.*s", (int)(nl - at), at);
		if (nrows == 0 || nrows == 1) {
			const char *w = nrows == 0 ? DOC_HEAD : DOC_RULE;

			if (strcmp(line, w) != 0)
				problem(p, "table %s is \"%s\", not \"%s\"",
				    nrows == 0 ? "header" : "rule", line, w);
			continue;
		}
		ncell = doc_cells(line, cell, 8);
		if (ncell != 4 || strlen(cell[0]) < 3 || cell[0][0] != '`' ||
		    cell[0][strlen(cell[0]) - 1] != '`') {
			problem(p, "row \"%.*s\": not | `key` | default | "
			    "range | meaning |", (int)(nl - at), at);
			continue;
		}
		cell[0]++;
		cell[0][strlen(cell[0]) - 1] = '\0';
		for (k = 0; k < nkeys; k++)
			if (strcmp(config_modbus_key(k)->key, cell[0]) == 0)
				break;
		if (k == nkeys) {
			problem(p, "row `%s`: extra: the modbus section has no "
			    "such key", cell[0]);
			continue;
		}
		if (seen[k]++) {
			problem(p, "row `%s`: listed twice", cell[0]);
			continue;
		}
		s = config_modbus_key(k);
		doc_row(want, sizeof(want), s);
		doc_cells(want, wcell, 8);
		for (i = 1; i < 4; i++)
			if (strcmp(cell[i], wcell[i]) != 0)
				problem(p, "row `%s`: %s is \"%s\" on the "
				    "page, \"%s\" in the table", s->key,
				    what[i], cell[i], wcell[i]);
	}
	for (size_t k = 0; k < nkeys; k++)
		if (!seen[k])
			problem(p, "row `%s`: missing",
			    config_modbus_key(k)->key);
	return p->n;
}

Test(config_doc, modbus_table_matches_the_keys)
{
	char *md = tenv_read_file(DOC_PATH);
	static struct problems p;

	cr_assert(strlen(md) > 0, "cannot read %s (tests run from the "
	    "repository root)", DOC_PATH);
	if (doc_check(md, &p) != 0) {
		for (size_t i = 0; i < p.n; i++)
			cr_log_error("%s %s: %s", DOC_PATH, DOC_HEADING,
			    p.msg[i]);
		doc_print_table();
	}
	free(md);
	cr_assert_eq(p.n, 0, "%s's %s table differs from the keys in %zu "
	    "place(s); the expected table is on stderr", DOC_PATH, DOC_HEADING,
	    p.n);
}

/* The checker itself: a page built from the keys, then broken. */
Test(config_doc, names_each_row_that_differs)
{
	static struct problems p;
	static char md[16384];
	char row[ROW_MAX];
	static const char bogus[] = "| `bogus` | 1 | 1-2 | no such key |\n";
	char *t, *port, *end;
	size_t n;

	n = (size_t)snprintf(md, sizeof(md), "# x\n\n" DOC_HEADING " (d)\n\n"
	    DOC_HEAD "\n" DOC_RULE "\n");
	for (size_t i = 0; config_modbus_key(i) != NULL; i++) {
		doc_row(row, sizeof(row), config_modbus_key(i));
		n += (size_t)snprintf(md + n, sizeof(md) - n, "%s\n", row);
	}
	snprintf(md + n, sizeof(md) - n, "\nrows come from the table\n\n"
	    "## profiles\n");
	cr_assert_eq(doc_check(md, &p), 0, "%s", p.n ? p.msg[0] : "");

	/* the row's look: durations and ranges as the rest of the page */
	for (size_t i = 0; config_modbus_key(i) != NULL; i++)
		if (strcmp(config_modbus_key(i)->key, "timeout") == 0)
			doc_row(row, sizeof(row), config_modbus_key(i));
	cr_assert_str_eq(row, "| `timeout` | 1s | 10ms-60s | per request; "
	    "must not exceed `interval` |");

	/* a wrong default, a lost row, an unknown key */
	t = strstr(md, "| `timeout` | 1s |");
	cr_assert_not_null(t);
	t[strlen("| `timeout` | ")] = '2';
	port = strstr(md, "| `port` |");
	end = strchr(port, '\n') + 1;
	memmove(port, end, strlen(end) + 1);
	end = strstr(md, "\n\nrows come") + 1;
	memmove(end + strlen(bogus), end, strlen(end) + 1);
	memcpy(end, bogus, strlen(bogus));
	cr_assert_eq(doc_check(md, &p), 3);
	cr_assert_str_eq(p.msg[0], "row `timeout`: default is \"2s\" on the "
	    "page, \"1s\" in the table");
	cr_assert_str_eq(p.msg[1], "row `bogus`: extra: the modbus section "
	    "has no such key");
	cr_assert_str_eq(p.msg[2], "row `port`: missing");

	cr_assert_eq(doc_check("# x\n\n## kafka\n", &p), 1);
	cr_assert_str_eq(p.msg[0], "no \"## modbus\" heading");
	cr_assert_eq(doc_check("## modbus\n\ntext\n\n## kafka\n| a |\n", &p),
	    1);
	cr_assert_str_eq(p.msg[0], "no table under \"## modbus\"");
}

/*
 * The correlation section's scalar defaults as the page writes them, from
 * corr_config_defaults(): the default cell of each row, by its key cell.
 */
Test(config_doc, correlation_defaults_match_corr_config_defaults)
{
	static const char *const keys[] = {
	    "storm: {code, sites, window, event_links}",
	    "flapping: {cycles, window}", "reopen_hold",
	    "chronic: {count, period}", "auto_resolve", "id_prefix" };
	char *md = tenv_read_file(DOC_PATH);
	struct corr_config cc;
	char want[6][128], a[32];
	const char *sec;

	cr_assert(strlen(md) > 0, "cannot read %s", DOC_PATH);
	corr_config_defaults(&cc);
	doc_ms(a, sizeof(a), (uint64_t)cc.storm_window_ms, 1);
	snprintf(want[0], sizeof(want[0]), "%s, %u, %s, %u", cc.storm_code,
	    cc.storm_sites, a, cc.storm_event_links);
	doc_ms(a, sizeof(a), (uint64_t)cc.flap_window_ms, 1);
	snprintf(want[1], sizeof(want[1]), "%u, %s", cc.flap_cycles, a);
	doc_ms(want[2], sizeof(want[2]), (uint64_t)cc.reopen_hold_ms, 1);
	doc_ms(a, sizeof(a), (uint64_t)cc.chronic_period_ms, 1);
	snprintf(want[3], sizeof(want[3]), "%u, %s", cc.chronic_count, a);
	snprintf(want[4], sizeof(want[4]), "%s",
	    cc.auto_resolve ? "true" : "false");
	snprintf(want[5], sizeof(want[5]), "`%s`", cc.id_prefix);

	sec = strstr(md, "\n## correlation\n");
	cr_assert_not_null(sec, "no \"## correlation\" heading");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char key[ROW_MAX], line[ROW_MAX], *cell[8];
		const char *row, *nl;

		snprintf(key, sizeof(key), "\n| `%s` |", keys[i]);
		row = strstr(sec, key);
		cr_assert_not_null(row, "%s ## correlation: no row `%s`",
		    DOC_PATH, keys[i]);
		row++;
		nl = strchr(row, '\n');
		snprintf(line, sizeof(line), "%.*s", (int)(nl - row), row);
		cr_assert_geq(doc_cells(line, cell, 8), 3);
		cr_expect_str_eq(cell[1], want[i], "%s ## correlation: row "
		    "`%s` says \"%s\", corr_config_defaults() \"%s\"", DOC_PATH,
		    keys[i], cell[1], want[i]);
	}
	free(md);
}

/*
 * The `## http` table against http_settings[], the server's one table:
 * each key's row as this function writes it (durations as the modbus
 * table, byte counts in KiB or MiB when they divide), and no row for a
 * numeric key the table lacks.  The whole expected table goes to stderr
 * when the page differs.
 */
static void
http_value(char *buf, size_t len, const struct setting *s, uint32_t v)
{
	if (s->kind == SETTING_MS)
		doc_ms(buf, len, v, 0);
	else if (v >= 1024 && v % (1u << 20) == 0)
		snprintf(buf, len, "%uMiB", v >> 20);
	else if (v >= 1024 && v % 1024 == 0)
		snprintf(buf, len, "%uKiB", v >> 10);
	else
		snprintf(buf, len, "%u", v);
}

static void
http_row(char *buf, size_t len, const struct setting *s)
{
	char def[32], lo[32], hi[32];

	http_value(def, sizeof(def), s, s->def);
	http_value(lo, sizeof(lo), s, s->min);
	http_value(hi, sizeof(hi), s, s->max);
	snprintf(buf, len, "| `%s` | %s | %s-%s | %s |", s->key, def, lo, hi,
	    s->doc);
}

Test(config_doc, http_table_matches_http_settings)
{
	char *md = tenv_read_file(DOC_PATH), *sec, *next, row[ROW_MAX];
	size_t bad = 0, rows = 0;

	cr_assert(strlen(md) > 0, "cannot read %s", DOC_PATH);
	sec = strstr(md, "\n## http\n");
	cr_assert_not_null(sec, "no \"## http\" heading");
	sec++;
	if ((next = strstr(sec, "\n## ")) != NULL)
		*next = '\0';
	for (const struct setting *s = http_settings; s->key != NULL; s++) {
		http_row(row, sizeof(row), s);
		if (strstr(sec, row) == NULL) {
			cr_log_error("%s ## http: no row \"%s\"", DOC_PATH, row);
			bad++;
		}
	}
	/* every 4-column key row is one of the table's */
	for (char *l = strstr(sec, "\n| `"); l != NULL;
	    l = strstr(l + 1, "\n| `")) {
		char line[ROW_MAX], *cell[8];
		const char *nl = strchr(l + 1, '\n');
		const struct setting *s;

		snprintf(line, sizeof(line), "%.*s", nl ? (int)(nl - l - 1) :
		    (int)strlen(l + 1), l + 1);
		if (doc_cells(line, cell, 8) != 4)
			continue;
		rows++;
		for (s = http_settings; s->key != NULL; s++)
			if (strlen(cell[0]) == strlen(s->key) + 2 &&
			    strncmp(cell[0] + 1, s->key, strlen(s->key)) == 0)
				break;
		if (s->key == NULL) {
			cr_log_error("%s ## http: row %s: no such numeric key",
			    DOC_PATH, cell[0]);
			bad++;
		}
	}
	if (bad != 0) {
		fprintf(stderr, "--- the numeric rows of ## http, from "
		    "http_settings[]:\n%s\n%s\n", DOC_HEAD, DOC_RULE);
		for (const struct setting *s = http_settings; s->key != NULL;
		    s++) {
			http_row(row, sizeof(row), s);
			fprintf(stderr, "%s\n", row);
		}
	}
	free(md);
	cr_assert_eq(bad, 0, "%s's ## http table differs from http_settings[] "
	    "in %zu place(s)", DOC_PATH, bad);
	cr_assert_gt(rows, 0);
}

/*
 * The `### commands` and `### readback` tables of the profiles section
 * against cfgfleet_command_keys[] and cfgfleet_readback_keys[], the
 * tables the loader reads those items with: one row per key, no row for
 * a key the table lacks, and the default cell the table's default (a key
 * without one: empty, or a parenthesised word such as "(delay)").
 */
static size_t
keys_doc_check(const char *md, const char *heading,
    const struct cfg_key *keys, struct problems *p)
{
	char sec[8192], *end;
	const char *at = strstr(md, heading);
	size_t nkeys = 0, before = p->n;
	char hname[64];

	/* "\n### x\n" -> "### x" for the messages */
	snprintf(hname, sizeof(hname), "%.*s", (int)strlen(heading) - 2,
	    heading + 1);

	if (at == NULL) {
		problem(p, "no \"%s\" heading", hname);
		return p->n - before;
	}
	snprintf(sec, sizeof(sec), "%s", at + strlen(heading));
	if ((end = strstr(sec, "\n#")) != NULL)
		*end = '\0';
	for (; keys[nkeys].name != NULL; nkeys++) {
		char key[96], line[ROW_MAX], *cell[8];
		const char *row, *nl;
		const char *def = keys[nkeys].def;

		snprintf(key, sizeof(key), "\n| `%s` |", keys[nkeys].name);
		if ((row = strstr(sec, key)) == NULL) {
			problem(p, "%s: row `%s`: missing", hname,
			    keys[nkeys].name);
			continue;
		}
		row++;
		nl = strchr(row, '\n');
		snprintf(line, sizeof(line), "%.*s", nl ? (int)(nl - row) :
		    (int)strlen(row), row);
		if (doc_cells(line, cell, 8) != 3) {
			problem(p, "%s: row `%s`: not | `key` | default | "
			    "meaning |", hname, keys[nkeys].name);
			continue;
		}
		if (def != NULL ? strcmp(cell[1], def) != 0 :
		    cell[1][0] != '\0' && cell[1][0] != '(')
			problem(p, "%s: row `%s`: default is \"%s\" on the page, "
			    "\"%s\" in the table", hname, keys[nkeys].name,
			    cell[1], def != NULL ? def : "");
	}
	for (char *l = strstr(sec, "\n| `"); l != NULL;
	    l = strstr(l + 1, "\n| `")) {
		char name[64];
		size_t k;

		if (sscanf(l, "\n| `%63[^`]`", name) != 1)
			continue;
		for (k = 0; k < nkeys && strcmp(keys[k].name, name) != 0; k++)
			;
		if (k == nkeys)
			problem(p, "%s: row `%s`: extra: no such key", hname,
			    name);
	}
	return p->n - before;
}

Test(config_doc, command_tables_match_the_keys)
{
	char *md = tenv_read_file(DOC_PATH);
	static struct problems p;

	cr_assert(strlen(md) > 0, "cannot read %s", DOC_PATH);
	p.n = 0;
	keys_doc_check(md, "\n### commands\n", cfgfleet_command_keys, &p);
	keys_doc_check(md, "\n### readback\n", cfgfleet_readback_keys, &p);
	for (size_t i = 0; i < p.n; i++)
		cr_log_error("%s: %s", DOC_PATH, p.msg[i]);
	free(md);
	cr_assert_eq(p.n, 0, "%s's command tables differ from the keys in %zu "
	    "place(s)", DOC_PATH, p.n);

	/* the checker: a row lost, a default changed, a key invented */
	p.n = 0;
	cr_assert_eq(keys_doc_check("x\n### readback\n\n| key | default | "
	    "meaning |\n|---|---|---|\n| `delay` | 2s | x |\n| `bogus` | | "
	    "y |\n\n## sites\n", "\n### readback\n", cfgfleet_readback_keys,
	    &p), 10);
	cr_assert_str_eq(p.msg[0], "### readback: row `table`: missing");
	cr_assert_str_eq(p.msg[7], "### readback: row `delay`: default is "
	    "\"2s\" on the page, \"1s\" in the table");
	cr_assert_str_eq(p.msg[9], "### readback: row `bogus`: extra: no "
	    "such key");
}
