/*
 * test_cfgcsv.c - the inventory CSV parser on buffers, with no YAML and no
 * file: the header, comments and empty lines, CRLF, quotes (which are not
 * special), column-count and value errors at FILE:LINE:COLUMN, the cells'
 * positions given to the callback, NUL bytes, and the return value.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/cfgcsv.h"
#include "daemon/config.h"

#define HEADER	"id,site,profile,host,port,unit,via\n"
#define KEY	"devices[0].inventory"

static struct config_errors errs;
static struct cfgkey_ctx cx;

/* What the callback saw, one line per row. */
static char rows[4096];
static size_t nrows;

static void
reset(void)
{
	cfgkey_fini(&cx);
	config_errors_free(&errs);
}

static void
setup(void)
{
	cfgkey_init(&cx, "c.yaml", &errs);
	rows[0] = '\0';
	nrows = 0;
}

TestSuite(cfgcsv, .init = setup, .fini = reset);

static void
record(struct cfgkey_ctx *c, const struct cfgcsv_row *r, void *arg)
{
	size_t used = strlen(rows);

	cr_assert_eq(c, &cx);
	cr_assert_str_eq(arg, "arg");
	cr_assert_str_eq(r->at.file, "inv.csv");
	cr_assert_eq(r->at.col, 1);
	cr_assert_eq(r->site_at.line, r->at.line);
	snprintf(rows + used, sizeof(rows) - used,
	    "%u:%s|%s@%u|%s@%u|%s|%u|%d|%s@%u\n", r->at.line, r->id, r->site,
	    r->site_at.col, r->profile, r->profile_at.col,
	    r->host ? r->host : "-", r->port,
	    r->unit == UINT32_MAX ? -1 : (int)r->unit,
	    r->via ? r->via : "-", r->via_at.col);
	nrows++;
}

static int
parse(const char *text)
{
	return cfgcsv_parse(&cx, "inv.csv", KEY, text, strlen(text), record,
	    (void *)"arg");
}

static void
log_errors(void)
{
	for (size_t i = 0; i < errs.n; i++)
		cr_log_info("got: %s", errs.msg[i]);
}

Test(cfgcsv, rows_in_order)
{
	cr_assert_eq(parse(HEADER
	    "g1,S1,fsu,127.0.0.5,1502,1,\n"
	    "d1,S1,rect,,,2,g1\n"
	    "d2,S22,rect,127.0.0.6,,,\n"), 0);
	log_errors();
	cr_assert_eq(errs.n, 0);
	cr_assert_str_eq(rows,
	    "2:g1|S1@4|fsu@7|127.0.0.5|1502|1|-@28\n"
	    "3:d1|S1@4|rect@7|-|0|2|g1@16\n"
	    "4:d2|S22@4|rect@8|127.0.0.6|0|-1|-@25\n");
}

Test(cfgcsv, header_is_checked_column_by_column)
{
	cr_assert_eq(parse("id,site,profile,hostname,port,unit,via\n"
	    "d1,S1,rect,h,,,\n"), -EINVAL);
	cr_assert_eq(errs.n, 1);
	cr_assert_str_eq(errs.msg[0], "inv.csv:1:17: " KEY ": inventory header "
	    "column 4 is \"hostname\", expected \"host\"");
	cr_assert_eq(nrows, 1, "the rows after a bad header are still read");
}

Test(cfgcsv, line_one_is_a_header_even_without_id)
{
	/* a data row on line 1 is read as a header: it is not a device */
	cr_assert_eq(parse("d1,S1,rect,h,,,\nd2,S1,rect,h2,,,\n"), -EINVAL);
	cr_assert_eq(errs.n, 1);
	cr_assert_str_eq(errs.msg[0], "inv.csv:1:1: " KEY ": inventory header "
	    "column 1 is \"d1\", expected \"id\"");
	cr_assert_str_eq(rows, "2:d2|S1@4|rect@7|h2|0|-1|-@17\n");
}

Test(cfgcsv, header_after_comments_and_repeated)
{
	/* the header may follow comments, and a repeated one is skipped */
	cr_assert_eq(parse("# fleet east\n\n" HEADER "d1,S1,rect,h,,,\n" HEADER
	    "d2,S1,rect,h2,,,\n"), 0);
	log_errors();
	cr_assert_eq(errs.n, 0);
	cr_assert_eq(nrows, 2);
	cr_assert(strncmp(rows, "4:d1|", 5) == 0, "%s", rows);
}

Test(cfgcsv, no_header_at_all)
{
	/* without a header every row is data, but line 1 is still a header */
	cr_assert_eq(parse("#\nd1,S1,rect,h,,,\n"), 0);
	cr_assert_eq(errs.n, 0);
	cr_assert_eq(nrows, 1);
}

Test(cfgcsv, column_count_names_line_and_column_one)
{
	cr_assert_eq(parse(HEADER
	    "g1,S1,fsu,127.0.0.5,1502,1\n"
	    "g2,S1,fsu,127.0.0.5,1502,1,,\n"
	    "\n"
	    "g3\n"
	    "g4,S1,fsu,127.0.0.7,,,\n"), -EINVAL);
	log_errors();
	cr_assert_eq(errs.n, 3);
	cr_assert_str_eq(errs.msg[0], "inv.csv:2:1: " KEY ": inventory row has "
	    "6 columns, expected 7 (id,site,profile,host,port,unit,via)");
	cr_assert_str_eq(errs.msg[1], "inv.csv:3:1: " KEY ": inventory row has "
	    "8 columns, expected 7 (id,site,profile,host,port,unit,via)");
	cr_assert_str_eq(errs.msg[2], "inv.csv:5:1: " KEY ": inventory row has "
	    "1 columns, expected 7 (id,site,profile,host,port,unit,via)");
	cr_assert_str_eq(rows, "6:g4|S1@4|fsu@7|127.0.0.7|0|-1|-@23\n");
}

Test(cfgcsv, short_header_is_a_column_count_error)
{
	cr_assert_eq(parse("id,site,profile,host,port,unit\n"), -EINVAL);
	cr_assert_eq(errs.n, 1);
	cr_assert(strstr(errs.msg[0], "inv.csv:1:1: " KEY ": inventory row has "
	    "6 columns") == errs.msg[0], "%s", errs.msg[0]);
}

Test(cfgcsv, quotes_are_ordinary_characters)
{
	/* no quoting: a quoted comma still splits, quotes stay in the value */
	cr_assert_eq(parse(HEADER
	    "\"d1\",S1,rect,h,,,\n"
	    "d2,S1,rect,\"h,x\",,,\n"), -EINVAL);
	cr_assert_eq(errs.n, 1);
	cr_assert_str_eq(errs.msg[0], "inv.csv:3:1: " KEY ": inventory row has "
	    "8 columns, expected 7 (id,site,profile,host,port,unit,via)");
	cr_assert_str_eq(rows, "2:\"d1\"|S1@6|rect@9|h|0|-1|-@18\n");
}

Test(cfgcsv, crlf_and_blank_lines)
{
	cr_assert_eq(parse("id,site,profile,host,port,unit,via\r\n"
	    "\r\n"
	    "d1,S1,rect,h,502,3,g\r\n"
	    "\n"
	    "# note\r\n"
	    "d2,S1,rect,h,,,\r\r\n"
	    "d3,S1,rect,h,,,"), 0);
	log_errors();
	cr_assert_eq(errs.n, 0);
	cr_assert_str_eq(rows,
	    "3:d1|S1@4|rect@7|h|502|3|g@20\n"
	    "6:d2|S1@4|rect@7|h|0|-1|-@16\n"
	    "7:d3|S1@4|rect@7|h|0|-1|-@16\n");
}

Test(cfgcsv, port_and_unit_ranges)
{
	cr_assert_eq(parse(HEADER
	    "a,S1,p,h,0,,\n"
	    "b,S1,p,h,65536,,\n"
	    "c,S1,p,h,1,256,\n"
	    "d,S1,p,h,1,-1,\n"
	    "e,S1,p,h,80x,,\n"
	    "f,S1,p,h,65535,255,\n"
	    "g,S1,p,h, 7,0,\n"), -EINVAL);
	log_errors();
	cr_assert_eq(errs.n, 5);
	cr_assert_str_eq(errs.msg[0], "inv.csv:2:10: " KEY ": port must be "
	    "1-65535");
	cr_assert_str_eq(errs.msg[1], "inv.csv:3:10: " KEY ": port must be "
	    "1-65535");
	cr_assert_str_eq(errs.msg[2], "inv.csv:4:12: " KEY ": unit must be 0-255");
	cr_assert_str_eq(errs.msg[3], "inv.csv:5:12: " KEY ": unit must be 0-255");
	cr_assert_str_eq(errs.msg[4], "inv.csv:6:10: " KEY ": port must be "
	    "1-65535");
	/* strtol skips leading blanks: " 7" is port 7 */
	cr_assert_str_eq(rows, "7:f|S1@3|p@6|h|65535|255|-@20\n"
	    "8:g|S1@3|p@6|h|7|0|-@15\n");
}

Test(cfgcsv, empty_cells)
{
	/* empty names reach the callback as "", empty host and via as NULL */
	cr_assert_eq(parse(HEADER ",,,,,,\n"), 0);
	cr_assert_str_eq(rows, "2:|@2|@3|-|0|-1|-@7\n");
}

Test(cfgcsv, nul_ends_a_line)
{
	static const char text[] = HEADER "d1,S1,rect,h,,,\0junk,,\nd2,S1\0,rect\n";

	cr_assert_eq(cfgcsv_parse(&cx, "inv.csv", KEY, text, sizeof(text) - 1,
	    record, (void *)"arg"), -EINVAL);
	cr_assert_eq(errs.n, 1);
	cr_assert_str_eq(errs.msg[0], "inv.csv:3:1: " KEY ": inventory row has "
	    "2 columns, expected 7 (id,site,profile,host,port,unit,via)");
	cr_assert_str_eq(rows, "2:d1|S1@4|rect@7|h|0|-1|-@16\n");
}

Test(cfgcsv, empty_inputs)
{
	cr_assert_eq(cfgcsv_parse(&cx, "inv.csv", KEY, "", 0, record,
	    (void *)"arg"), 0);
	cr_assert_eq(parse("\n\n\r\n"), 0);
	cr_assert_eq(parse(HEADER), 0);
	cr_assert_eq(errs.n, 0);
	cr_assert_eq(nrows, 0);
}

static void
complain(struct cfgkey_ctx *c, const struct cfgcsv_row *r, void *arg)
{
	cfgkey_error_at(c, &r->site_at, "k", "no site %s", r->site);
}

Test(cfgcsv, the_callbacks_errors_do_not_count)
{
	const char *text = HEADER "d1,S9,rect,h,,,\n";

	cr_assert_eq(cfgcsv_parse(&cx, "inv.csv", KEY, text, strlen(text),
	    complain, NULL), 0);
	cr_assert_eq(errs.n, 1);
	cr_assert_str_eq(errs.msg[0], "inv.csv:2:4: k: no site S9");
}

Test(cfgcsv, long_lines)
{
	static char text[200000];
	size_t n;

	n = (size_t)snprintf(text, sizeof(text), "%s", HEADER);
	for (int i = 0; i < 3; i++) {
		memset(text + n, 'a' + i, 50000);
		n += 50000;
		n += (size_t)snprintf(text + n, sizeof(text) - n, ",S1,p,h,,,\n");
	}
	cr_assert_eq(cfgcsv_parse(&cx, "inv.csv", KEY, text, n, record,
	    (void *)"arg"), 0);
	cr_assert_eq(nrows, 3);
	cr_assert_eq(errs.n, 0);
}
