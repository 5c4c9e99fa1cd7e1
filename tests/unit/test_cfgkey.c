/*
 * test_cfgkey.c - the key-table engine on its own: value parsers, every
 * CT_* type with its range message, unknown keys with suggestions, empty
 * and duplicate keys, nested sections, error formatting, deferred names,
 * reading a file.  The tables here are the tests' own, so what is tested is
 * the engine, not a section of tocsin's configuration (test_config.c).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/cfgkey.h"
#include "daemon/config.h"
#include "daemon/mem.h"

static struct config_errors errs;
static struct cfgkey_ctx cx;
static int cx_live;
static char *in_name;		/* the string walk() last read, freed by reset() */

static void
reset(void)
{
	if (cx_live)
		cfgkey_fini(&cx);
	cx_live = 0;
	FREE_NULL(in_name);
	config_errors_free(&errs);
}

TestSuite(cfgkey, .fini = reset);

/* A struct with one field of each type, and its table. */
struct t_in {
	char		*name;
	uint32_t	 count;
	int64_t		 wait;
	uint32_t	 slack;
	double		 ratio;
	int		 on;
	int		 colour;
	uint32_t	 size;
	struct {
		uint32_t depth;
	}		 inner;
	int		 fn_calls;
};

static const char *
n_colour(int i)
{
	static const char *const v[] = { "red", "green", "blue" };
	return i < 3 ? v[i] : NULL;
}

static void
t_fn(struct cfgkey_ctx *c, yaml_node_t *n, void *base, const char *path)
{
	((struct t_in *)base)->fn_calls++;
}

static const struct cfg_key inner_keys[] = {
	KU32("depth", struct t_in, inner.depth, 0, 9, "3"),
	K_END
};

static const struct cfg_key sub_keys[] = {
	KU32("depth", struct t_in, inner.depth, 0, 9, NULL),
	K_END
};

enum { T_NAME, T_COUNT, T_WAIT, T_SLACK, T_RATIO, T_ON, T_COLOUR, T_SIZE,
    T_FN, T_INNER, T_FLAT, T__N };

static const struct cfg_key t_keys[] = {
	[T_NAME] = KSTR("name", struct t_in, name, "anon"),
	[T_COUNT] = KU32("count", struct t_in, count, 1, 100, "10"),
	[T_WAIT] = KDUR("wait", struct t_in, wait, 0.5, 60, "5s"),
	[T_SLACK] = KDUR32("slack", struct t_in, slack, 0, 0.1, "5ms"),
	[T_RATIO] = KDBL("ratio", struct t_in, ratio, 0, 1, "0.5"),
	[T_ON] = KBOOL("on", struct t_in, on, "false"),
	[T_COLOUR] = KENUM("colour", struct t_in, colour, n_colour, "green"),
	[T_SIZE] = KSIZE("size", struct t_in, size, 16, 1000000, "1k"),
	[T_FN] = KFN("hook", t_fn),
	[T_INNER] = KFLAT("inner", inner_keys),
	[T_FLAT] = KFLAT("flat", sub_keys),
	[T__N] = K_END
};

/*
 * Parses yaml as "k.yaml" and walks its root with t_keys into *in (defaults
 * first).  Returns cfgkey_map's result, or the parse's.
 */
static int
walk(const char *yaml, struct t_in *in, yaml_node_t **at)
{
	yaml_node_t *root;
	int r;

	reset();
	memset(in, 0, sizeof(*in));
	cfgkey_init(&cx, "k.yaml", &errs);
	cx_live = 1;
	cfgkey_defaults(&cx, t_keys, in);
	if ((r = cfgkey_parse(&cx, yaml, strlen(yaml), &root)) == 0)
		r = cfgkey_map(&cx, root, t_keys, in, "", at);
	in_name = in->name;
	return r;
}

/* Asserts that errs holds exactly one message, equal to want. */
static void
expect_only(const char *want)
{
	for (size_t i = 0; i < errs.n; i++)
		cr_log_info("got: %s", errs.msg[i]);
	cr_assert_eq(errs.n, 1, "want one error, got %zu", errs.n);
	cr_assert_str_eq(errs.msg[0], want);
}

/* ------------------------------------------------------------------ */
/* Value parsers (moved from test_config.c, now on the module's names) */

Test(cfgkey, durations)
{
	static const struct { const char *s; int64_t ms; } ok[] = {
		{ "90s", 90000 }, { "2h", 7200000 }, { "3d", 259200000 },
		{ "500ms", 500 }, { "1h30m", 5400000 }, { "0", 0 },
		{ "1.5s", 1500 }, { "1w", 604800000 },
	};
	static const char *const bad[] = { "5", "5x", "", "s", "-1s", "1h 30m" };
	int64_t ms;
	const char *why;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert_eq(cfgkey_parse_duration(ok[i].s, &ms, &why), 0, "%s",
		    ok[i].s);
		cr_assert_eq(ms, ok[i].ms, "%s", ok[i].s);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(cfgkey_parse_duration(bad[i], &ms, &why), -EINVAL,
		    "%s", bad[i]);
}

Test(cfgkey, sizes)
{
	uint64_t b;
	const char *why;

	cr_assert_eq(cfgkey_parse_size("64k", &b, &why), 0);
	cr_assert_eq(b, 64000);
	cr_assert_eq(cfgkey_parse_size("16MiB", &b, &why), 0);
	cr_assert_eq(b, 16u << 20);
	cr_assert_eq(cfgkey_parse_size("12", &b, &why), 0);
	cr_assert_eq(b, 12);
	cr_assert_eq(cfgkey_parse_size("12q", &b, &why), -EINVAL);
	cr_assert_eq(cfgkey_parse_size("k", &b, &why), -EINVAL);
}

/* ------------------------------------------------------------------ */
/* Value parsers: the rest of their contract */

Test(cfgkey, duration_reasons)
{
	static const struct { const char *s, *why; } cases[] = {
		{ "", "empty duration" },
		{ "5", "a duration needs a unit" },
		{ "5x", "unknown duration unit" },
		{ "5sec", "unknown duration unit" },
		{ "h", "expected a duration such as" },
		{ "-1s", "expected a duration such as" },
		{ "1h 30m", "expected a duration such as" },
		{ "2000000000000000s", "duration out of range" },
		{ "9999999999w", "duration out of range" },
	};
	int64_t ms = 42;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = NULL;

		cr_assert_eq(cfgkey_parse_duration(cases[i].s, &ms, &why),
		    -EINVAL, "%s", cases[i].s);
		cr_assert_not_null(why, "%s", cases[i].s);
		cr_assert(strncmp(why, cases[i].why, strlen(cases[i].why)) == 0,
		    "%s: %s", cases[i].s, why);
	}
	cr_assert_eq(ms, 42, "a failed parse leaves the result alone");
}

Test(cfgkey, duration_units_add_up)
{
	int64_t ms;
	const char *why;

	cr_assert_eq(cfgkey_parse_duration("1d2h3m4s5ms", &ms, &why), 0);
	cr_assert_eq(ms, 86400000 + 7200000 + 180000 + 4000 + 5);
	cr_assert_eq(cfgkey_parse_duration("0.5ms", &ms, &why), 0);
	cr_assert_eq(ms, 1, "rounded to the nearest millisecond");
	cr_assert_eq(cfgkey_parse_duration("0s", &ms, &why), 0);
	cr_assert_eq(ms, 0);
}

Test(cfgkey, size_suffixes_and_overflow)
{
	static const struct { const char *s; uint64_t b; } ok[] = {
		{ "0", 0 }, { "7B", 7 }, { "2K", 2000 }, { "2KiB", 2048 },
		{ "3M", 3000000 }, { "1GiB", 1u << 30 }, { "5G", 5000000000ull },
		{ "18446744073709551615", UINT64_MAX },
	};
	static const struct { const char *s, *why; } bad[] = {
		{ "18446744073709551616", "size out of range" },
		{ "18446744073709551615k", "size out of range" },
		{ "20000000000GiB", "size out of range" },
		{ "1 k", "unknown size suffix" },
		{ "1kib", "unknown size suffix" },
		{ "-1", "expected a size such as" },
		{ "", "expected a size such as" },
	};
	uint64_t b;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		const char *why = NULL;

		cr_assert_eq(cfgkey_parse_size(ok[i].s, &b, &why), 0, "%s",
		    ok[i].s);
		cr_assert_eq(b, ok[i].b, "%s", ok[i].s);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;

		cr_assert_eq(cfgkey_parse_size(bad[i].s, &b, &why), -EINVAL,
		    "%s", bad[i].s);
		cr_assert(why != NULL && strncmp(why, bad[i].why,
		    strlen(bad[i].why)) == 0, "%s: %s", bad[i].s, why);
	}
}

/* ------------------------------------------------------------------ */
/* Tables */

Test(cfgkey, defaults_then_values)
{
	struct t_in in;

	cr_assert_eq(walk("count: 7\n", &in, NULL), 0);
	cr_assert_eq(errs.n, 0, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_str_eq(in.name, "anon");
	cr_assert_eq(in.count, 7);
	cr_assert_eq(in.wait, 5000);
	cr_assert_eq(in.slack, 5);
	cr_assert_float_eq(in.ratio, 0.5, 1e-12);
	cr_assert_eq(in.on, 0);
	cr_assert_eq(in.colour, 1);
	cr_assert_eq(in.size, 1000);
	cr_assert_eq(in.inner.depth, 3, "a nested table's defaults are set too");

	cr_assert_eq(walk("name: x\nname2: y\nwait: 1m\nslack: 100ms\n"
	    "ratio: 1\non: yes\ncolour: blue\nsize: 64KiB\nhook: [anything]\n"
	    "inner: {depth: 9}\n", &in, NULL), 0);
	cr_assert_str_eq(in.name, "x", "the default string was replaced");
	cr_assert_eq(in.wait, 60000);
	cr_assert_eq(in.slack, 100, "CT_DUR32 takes its max");
	cr_assert_float_eq(in.ratio, 1.0, 1e-12);
	cr_assert_eq(in.on, 1);
	cr_assert_eq(in.colour, 2);
	cr_assert_eq(in.size, 65536);
	cr_assert_eq(in.fn_calls, 1, "CT_FN gets the node, whatever it is");
	cr_assert_eq(in.inner.depth, 9);
	expect_only("k.yaml:2:1: name2: unknown key (did you mean \"name\"?)");
}

Test(cfgkey, range_errors_name_the_range)
{
	static const struct { const char *yaml, *want; } cases[] = {
		{ "count: 0\n", "k.yaml:1:8: count: 0 is out of range [1, 100]" },
		{ "count: 101\n", "k.yaml:1:8: count: 101 is out of range [1, 100]" },
		{ "count: 0x10\n", NULL },	/* strtoll base 0: 16 */
		{ "count: 1.5\n", "k.yaml:1:8: count: expected an integer, got \"1.5\"" },
		{ "wait: 100ms\n", "k.yaml:1:7: wait: 100ms is out of range [0.5s, 60s]" },
		{ "wait: 2m\n", "k.yaml:1:7: wait: 2m is out of range [0.5s, 60s]" },
		{ "wait: 2\n", "k.yaml:1:7: wait: a duration needs a unit (ms, s, "
		    "m, h, d, w), e.g. 90s, got \"2\"" },
		/* CT_DUR32: the same parser and messages, into a uint32_t */
		{ "slack: 101ms\n", "k.yaml:1:8: slack: 101ms is out of range "
		    "[0s, 0.1s]" },
		{ "slack: 60d\n", "k.yaml:1:8: slack: 60d is out of range "
		    "[0s, 0.1s]" },
		{ "slack: 5\n", "k.yaml:1:8: slack: a duration needs a unit "
		    "(ms, s, m, h, d, w), e.g. 90s, got \"5\"" },
		{ "ratio: 1.5\n", "k.yaml:1:8: ratio: 1.5 is out of range [0, 1]" },
		{ "ratio: nan\n", "k.yaml:1:8: ratio: expected a number, got \"nan\"" },
		{ "ratio: 1e999\n", "k.yaml:1:8: ratio: expected a number, got \"1e999\"" },
		{ "on: 2\n", "k.yaml:1:5: on: expected true or false, got \"2\"" },
		{ "colour: gren\n", "k.yaml:1:9: colour: unknown value \"gren\" "
		    "(did you mean \"green\"?)" },
		{ "colour: pink\n", "k.yaml:1:9: colour: unknown value \"pink\" "
		    "(one of: red, green, blue)" },
		{ "size: 8\n", "k.yaml:1:7: size: 8 is out of range [16, 1000000]" },
		{ "size: 2M\n", "k.yaml:1:7: size: 2M is out of range [16, 1000000]" },
		{ "inner: {depth: 10}\n", "k.yaml:1:16: inner.depth: 10 is out of "
		    "range [0, 9]" },
	};
	struct t_in in;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		walk(cases[i].yaml, &in, NULL);
		if (cases[i].want == NULL) {
			cr_assert_eq(errs.n, 0, "%s", cases[i].yaml);
			cr_assert_eq(in.count, 16);
		} else {
			cr_assert_eq(errs.n, 1, "%s: %zu errors", cases[i].yaml,
			    errs.n);
			cr_assert_str_eq(errs.msg[0], cases[i].want);
		}
		}
}

Test(cfgkey, a_bad_value_keeps_the_default)
{
	struct t_in in;

	walk("count: lots\nwait: soon\ncolour: teal\n", &in, NULL);
	cr_assert_eq(errs.n, 3);
	cr_assert_eq(in.count, 10);
	cr_assert_eq(in.wait, 5000);
	cr_assert_eq(in.colour, 1);
}

Test(cfgkey, unknown_keys_suggest_only_close_names)
{
	static const struct { const char *yaml, *want; } cases[] = {
		{ "cont: 1\n", "k.yaml:1:1: cont: unknown key (did you mean \"count\"?)" },
		{ "waits: 1s\n", "k.yaml:1:1: waits: unknown key (did you mean \"wait\"?)" },
		{ "colur: red\n", "k.yaml:1:1: colur: unknown key (did you mean \"colour\"?)" },
		/* two letters: only an exact name would do */
		{ "on2: 1\n", "k.yaml:1:1: on2: unknown key (did you mean \"on\"?)" },
		{ "no: 1\n", "k.yaml:1:1: no: unknown key" },
		{ "zzzzzz: 1\n", "k.yaml:1:1: zzzzzz: unknown key" },
		{ "inner: {dept: 1}\n", "k.yaml:1:9: inner.dept: unknown key (did "
		    "you mean \"depth\"?)" },
	};
	struct t_in in;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		walk(cases[i].yaml, &in, NULL);
		cr_assert_eq(errs.n, 1, "%s", cases[i].yaml);
		cr_assert_str_eq(errs.msg[0], cases[i].want);
		}
}

Test(cfgkey, suggest_limits)
{
	static const char *const names[] = { "timeout", "interval", "port", "ab" };

	cr_assert_str_eq(cfgkey_suggest("timout", names, 4), "timeout");
	cr_assert_str_eq(cfgkey_suggest("intervall", names, 4), "interval");
	cr_assert_str_eq(cfgkey_suggest("prt", names, 4), "port");
	cr_assert_null(cfgkey_suggest("pt", names, 4), "two letters: exact only");
	cr_assert_str_eq(cfgkey_suggest("ab", names, 4), "ab");
	cr_assert_str_eq(cfgkey_suggest("tmout", names, 4), "timeout",
	    "distance 2 from five letters on");
	cr_assert_null(cfgkey_suggest("tmot", names, 4), "distance 3 is not");
	cr_assert_null(cfgkey_suggest("xyz", names, 4));
	cr_assert_null(cfgkey_suggest("anything", names, 0));
}

Test(cfgkey, at_and_duplicates)
{
	struct t_in in;
	yaml_node_t *at[T__N];

	cr_assert_eq(walk("count: 2\nhook: x\ncount: 3\n", &in, at), 0);
	cr_assert_not_null(at[T_COUNT]);
	cr_assert_eq(at[T_COUNT]->start_mark.line, 0, "the first one is kept");
	cr_assert_not_null(at[T_FN]);
	cr_assert_null(at[T_WAIT], "absent keys are NULL");
	cr_assert_eq(in.count, 2);
	expect_only("k.yaml:3:1: count: duplicate key (first at line 1)");
}

Test(cfgkey, shapes)
{
	struct t_in in;

	cr_assert_eq(walk("", &in, NULL), -EINVAL);
	expect_only("k.yaml: yaml: the file is empty");
	cr_assert_eq(walk("count: [1, 2\n", &in, NULL), -EINVAL);
	cr_assert_eq(errs.n, 1);
	cr_assert(strncmp(errs.msg[0], "k.yaml:2:1: yaml: ", 18) == 0, "%s",
	    errs.msg[0]);
	cr_assert_eq(walk("- a\n- b\n", &in, NULL), -EINVAL);
	expect_only("k.yaml:1:1: : expected a mapping, got a list");
	cr_assert_eq(walk("count: {a: 1}\n", &in, NULL), 0);
	expect_only("k.yaml:1:8: count: expected a value, got a mapping");
	cr_assert_eq(walk("[a]: 1\n", &in, NULL), 0);
	expect_only("k.yaml:1:1: : a key must be a plain name");
	/* "inner:" with nothing is an empty mapping, not an error */
	cr_assert_eq(walk("inner:\n", &in, NULL), 0);
	cr_assert_eq(errs.n, 0);
	cr_assert_eq(in.inner.depth, 3);
	cr_assert_eq(walk("inner: \"\"\n", &in, NULL), 0);
	expect_only("k.yaml:1:8: inner: expected a mapping, got a scalar");
}

Test(cfgkey, expect_reads_an_empty_value_as_empty)
{
	struct t_in in;
	yaml_node_t *at[T__N];

	walk("hook:\nname: [x]\n", &in, at);
	cr_assert_eq(cfgkey_expect(&cx, at[T_FN], YAML_SEQUENCE_NODE, "hook"), 1);
	cr_assert_eq(cfgkey_expect(&cx, at[T_NAME], YAML_SEQUENCE_NODE, "name"), 0);
	cr_assert_eq(cfgkey_expect(&cx, at[T_NAME], YAML_MAPPING_NODE, "name"),
	    -EINVAL);
	cr_assert_str_eq(errs.msg[errs.n - 1], "k.yaml:2:7: name: expected a "
	    "mapping, got a list");
}

static void
count_item(struct cfgkey_ctx *c, yaml_node_t *n, void *arg, const char *path)
{
	char *paths = arg;

	strcat(paths, path);
	strcat(paths, ";");
}

static void
count_scalar(struct cfgkey_ctx *c, yaml_node_t *n, const char *t, void *arg,
    const char *path)
{
	char *texts = arg;

	strcat(texts, t);
	strcat(texts, ";");
}

Test(cfgkey, lists_name_their_items)
{
	struct t_in in;
	yaml_node_t *at[T__N];
	char out[256] = "";

	walk("hook: [a, {b: 1}, c]\n", &in, at);
	cfgkey_list(&cx, at[T_FN], "x.hook", count_item, out);
	cr_assert_str_eq(out, "x.hook[0];x.hook[1];x.hook[2];");
	out[0] = '\0';
	cfgkey_scalars(&cx, at[T_FN], "x.hook", count_scalar, out);
	cr_assert_str_eq(out, "a;c;", "the mapping is reported, not passed on");
	expect_only("k.yaml:1:11: x.hook[1]: expected a value, got a mapping");
}

Test(cfgkey, error_lines)
{
	struct cfgkey_loc l = { "inv.csv", 4, 22 };
	struct cfgkey_loc whole = { "other.csv", 0, 0 };

	reset();
	cfgkey_init(&cx, "dir/c.yaml", &errs);
	cx_live = 1;
	cr_assert_str_eq(cx.dir, "dir/");
	cfgkey_error_at(&cx, &l, "devices[0].inventory", "port must be %s",
	    "1-65535");
	cfgkey_error_at(&cx, NULL, "devices", "two at %d", 502);
	cfgkey_error_at(&cx, &whole, "k", "whole");
	cfgkey_error(&cx, NULL, "k", "no node");
	cfgkey_errors_add(&errs, "%s: cannot read: %s", "x.yaml", "gone");
	cr_assert_eq(cfgkey_nerrors(&cx), 5);
	cr_assert_str_eq(errs.msg[0], "inv.csv:4:22: devices[0].inventory: port "
	    "must be 1-65535");
	cr_assert_str_eq(errs.msg[1], "dir/c.yaml: devices: two at 502");
	cr_assert_str_eq(errs.msg[2], "other.csv: k: whole");
	cr_assert_str_eq(errs.msg[3], "dir/c.yaml: k: no node");
	cr_assert_str_eq(errs.msg[4], "x.yaml: cannot read: gone");
}

Test(cfgkey, long_paths_are_cut)
{
	char buf[8];

	cfgkey_path(buf, sizeof(buf), "profiles", "rectifier");
	cr_assert_str_eq(buf, "profile");
	cfgkey_path(buf, sizeof(buf), "", "port");
	cr_assert_str_eq(buf, "port");
	cfgkey_path(buf, sizeof(buf), NULL, "a");
	cr_assert_str_eq(buf, "a");
	cfgkey_fmt(buf, sizeof(buf), "%s[%d]", "devices", 12);
	cr_assert_str_eq(buf, "devices");
}

Test(cfgkey, deferred_names_and_kept_strings_outlive_the_tree)
{
	struct t_in in;
	yaml_node_t *at[T__N];
	struct cfgkey_loc l;
	char file[32];
	const char *kept;

	walk("hook: gw1\n", &in, at);
	l = cfgkey_loc(&cx, at[T_FN]);
	cr_assert_eq(l.line, 1);
	cr_assert_eq(l.col, 7);
	strcpy(file, "inv.csv");
	kept = cfgkey_keep(&cx, file);
	file[0] = 'X';
	cr_assert_str_eq(kept, "inv.csv", "a copy");
	for (unsigned i = 0; i < 40; i++)
		cfgkey_defer(&cx, &l, "devices[0].via",
		    (const char *)at[T_FN]->data.scalar.value, i, 2);
	yaml_document_delete(&cx.doc);
	cx.loaded = 0;
	cr_assert_eq(cx.nrefs, 40);
	cr_assert_str_eq(cx.refs[39].name, "gw1");
	cr_assert_str_eq(cx.refs[39].key, "devices[0].via");
	cr_assert_eq(cx.refs[39].obj, 39);
	cr_assert_eq(cx.refs[39].kind, 2);
	cr_assert_eq(cx.refs[0].loc.col, 7);
}

Test(cfgkey, read_all_of_a_file)
{
	char path[] = "/tmp/tocsin-cfgkey-XXXXXX", *buf;
	size_t len;
	FILE *fp;
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	fp = fdopen(fd, "w+");
	for (int i = 0; i < 20000; i++)
		fprintf(fp, "line %05d\n", i);
	rewind(fp);
	cr_assert_eq(cfgkey_read(fp, &buf, &len), 0);
	cr_assert_eq(len, 20000 * 11, "more than one 64k chunk");
	cr_assert(memcmp(buf + len - 11, "line 19999\n", 11) == 0);
	xfree(buf);
	fclose(fp);
	unlink(path);
	/* a directory opens but cannot be read: the errno comes back */
	fp = fopen("/tmp", "r");
	cr_assert_not_null(fp);
	cr_assert_eq(cfgkey_read(fp, &buf, &len), -EISDIR);
	cr_assert_eq(len, 0);
	xfree(buf);
	fclose(fp);
}

Test(cfgkey, enum_names_of_the_model)
{
	cr_assert_str_eq(cfgkey_name_tier(TIER_PREMIUM), "premium");
	cr_assert_null(cfgkey_name_tier(TIER__COUNT));
	cr_assert_str_eq(cfgkey_name_severity(SEV_MAJOR), "major");
	cr_assert_null(cfgkey_name_severity(SEV__COUNT));
	cr_assert_str_eq(cfgkey_name_region(REGION_C), "C");
	cr_assert_null(cfgkey_name_region(REGION__COUNT));
}

/* ------------------------------------------------------------------ */
/* Lists, keyed mappings, freeing */

/* A KLIST: fn appends each item; a list given replaces the default one. */
struct l_in {
	int		 v[4];
	uint8_t		 n;
};

static void
l_item(struct cfgkey_ctx *c, yaml_node_t *n, void *base, const char *path)
{
	struct l_in *l = base;
	const char *t = cfgkey_scalar(c, n, path);

	if (t != NULL && l->n < 4)
		l->v[l->n++] = atoi(t);
}

static const struct cfg_key l_keys[] = {
	KLIST("list", struct l_in, n, l_item),
	K_END
};

/* Walks yaml with l_keys into *l, which keeps what it held before. */
static int
walk_list(const char *yaml, struct l_in *l)
{
	yaml_node_t *root;
	int r;

	reset();
	cfgkey_init(&cx, "k.yaml", &errs);
	cx_live = 1;
	if ((r = cfgkey_parse(&cx, yaml, strlen(yaml), &root)) == 0)
		r = cfgkey_map(&cx, root, l_keys, l, "", NULL);
	return r;
}

Test(cfgkey, list_replaces_the_default)
{
	struct l_in l = { { 7, 8 }, 2 };

	cr_assert_eq(walk_list("other: 1\n", &l), 0);
	cr_assert_eq(l.n, 2, "no list: the default stays");
	cr_assert_eq(walk_list("list: [1, 2, 3]\n", &l), 0);
	cr_assert_eq(errs.n, 0, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(l.n, 3);
	cr_assert_eq(l.v[0], 1);
	cr_assert_eq(l.v[2], 3);
	cr_assert_eq(walk_list("list: []\n", &l), 0);
	cr_assert_eq(l.n, 0, "an empty list empties it");
	cr_assert_eq(walk_list("list: [5, [6]]\n", &l), 0);
	cr_assert_eq(l.n, 1);
	expect_only("k.yaml:1:11: list[1]: expected a value, got a list");
	cr_assert_eq(walk_list("list: {a: 1}\n", &l), 0);
	expect_only("k.yaml:1:7: list: expected a list, got a mapping");
}

/* cfgkey_pairs() hands each entry over with its key and path. */
static void
p_entry(struct cfgkey_ctx *c, yaml_node_t *kn, const char *key,
    yaml_node_t *vn, void *arg, const char *path)
{
	char *seen = arg;
	size_t len = strlen(seen);

	snprintf(seen + len, 128 - len, "%s=%s@%s;", key,
	    vn->type == YAML_SCALAR_NODE ? (const char *)vn->data.scalar.value :
	    "?", path);
}

Test(cfgkey, pairs_by_name)
{
	const char *yaml = "m: {a: 1, [x]: 2, b: 3}\nn: [1]\n";
	yaml_node_t *root;
	char seen[128] = "";

	reset();
	cfgkey_init(&cx, "k.yaml", &errs);
	cx_live = 1;
	cr_assert_eq(cfgkey_parse(&cx, yaml, strlen(yaml), &root), 0);
	cfgkey_pairs(&cx, cfgkey_node(&cx, root->data.mapping.pairs.start[0].value),
	    "m", p_entry, seen);
	cr_assert_str_eq(seen, "a=1@m.a;b=3@m.b;");
	expect_only("k.yaml:1:11: m: expected a value, got a list");
	config_errors_free(&errs);
	cfgkey_pairs(&cx, cfgkey_node(&cx, root->data.mapping.pairs.start[1].value),
	    "n", p_entry, seen);
	expect_only("k.yaml:2:4: n: expected a mapping, got a list");
}

/* cfgkey_free() frees every CT_STR of the table, nested ones too. */
struct f_in {
	char		*a;
	uint32_t	 count;
	struct {
		char	*b;
	}		 inner;
};

static const struct cfg_key f_inner_keys[] = {
	KSTR("b", struct f_in, inner.b, "deep"),
	K_END
};

static const struct cfg_key f_keys[] = {
	KSTR("a", struct f_in, a, "top"),
	KU32("count", struct f_in, count, 0, 9, "4"),
	KFLAT("inner", f_inner_keys),
	K_END
};

Test(cfgkey, free_takes_every_string_of_the_table)
{
	struct f_in f;

	reset();
	memset(&f, 0, sizeof(f));
	cfgkey_init(&cx, "k.yaml", &errs);
	cx_live = 1;
	cfgkey_defaults(&cx, f_keys, &f);
	cr_assert_str_eq(f.a, "top");
	cr_assert_str_eq(f.inner.b, "deep");
	cfgkey_free(f_keys, &f);
	cr_assert_null(f.a);
	cr_assert_null(f.inner.b);
	cr_assert_eq(f.count, 4, "not a string: left alone");
	cfgkey_free(f_keys, &f);	/* again: nothing left to free */
}
