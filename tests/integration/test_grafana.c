/*
 * test_grafana.c - the Grafana dashboard (etc/grafana-tocsin.json) and the
 * Prometheus rules (etc/prometheus-rules.yml) against what tocsind really
 * exports, so that neither can name a series that does not exist
 * (docs/monitoring.md).
 *
 * Checked:
 * - promtool accepts the rules file (skipped, saying so, without Debian's
 *   prometheus package);
 * - the files hang together: the dashboard is JSON with the `datasource`
 *   and `instance` variables, every panel has a unique id and the
 *   `${datasource}` data source (its queries too), every recording rule is
 *   used by the dashboard or by an alert, every alert has `for:`, a
 *   severity, a summary, a description and a runbook anchor that is a
 *   heading of docs/monitoring.md;
 * - a real tocsind's /metrics, scraped once, has every metric that a
 *   dashboard query, the instance variable, an annotation or a rule names,
 *   once the rules file's own recording-rule names are set aside: a
 *   `_bucket`, `_sum` or `_count` name must belong to a histogram family
 *   (and a histogram's bare name has no samples, so it fails); every label
 *   a selector matches on is one that metric carries (job and instance are
 *   the scraper's), and every value it asks for by `=`, `!=` or a plain
 *   `a|b` regex is one tocsind writes;
 * - a real Prometheus (skipped without it) with the rules loaded and
 *   scraping that tocsind evaluates every rule with health "ok", answers
 *   every dashboard query (its variables substituted) without an error,
 *   records the fleet's COMM_LOSS ratio as 1 (no device answers) and has
 *   TocsinPublisherDown pending for the unreachable Redis.
 *
 * The fleet: three rectifiers at 127.0.Y.1-3 (Y 250-253, this test's
 * loopback block, docs/testing.md) where nothing listens, so every poll
 * fails and every device goes to COMM_LOSS; Redis enabled on a free port
 * where nothing listens (the redis sink's series exist and say down);
 * Kafka the embedded mock cluster (none under ThreadSanitizer).
 *
 * Bounds: promtool 30 s; tocsind's port line 10 s, /readyz 15 s, the
 * series wanted 20 s; Prometheus (tests/support/promfix) reporting the
 * target up 40 s, then its rules healthy and the alerts pending 60 s;
 * each child stopped by PID (pubfix_stop: SIGTERM, SIGKILL after 30 s)
 * and has PR_SET_PDEATHSIG.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <yaml.h>

#include "tests/support/dfix.h"
#include "tests/support/httpfix.h"
#include "tests/support/proc.h"
#include "tests/support/promfix.h"
#include "tests/support/promtext.h"
#include "tests/support/tenv.h"

#define DASH		"etc/grafana-tocsin.json"
#define RULES		"etc/prometheus-rules.yml"
#define MONDOC		"docs/monitoring.md"
#define PROMTOOL	"/usr/bin/promtool"
#define TOKEN		"tocsin-test-token-7d2e0b94c1"

static struct {
	struct dfix d;
	char	 net[32];	/* "127.0.Y." */
	int	 modport;	/* nothing listens there */
	int	 rport;		/* Redis' port: nothing listens there either */
	pid_t	 prom;
} E;

static void
genv_fini(void)
{
	promfix_stop(&E.prom);
	dfix_fini(&E.d, "test_grafana");
}

TestSuite(dashboards, .fini = genv_fini, .timeout = 180);

/* ---- the files ---- */

static json_t *
yaml_node_json(yaml_document_t *doc, yaml_node_t *n)
{
	json_t *j;

	switch (n->type) {
	case YAML_SCALAR_NODE:
		return json_stringn((const char *)n->data.scalar.value,
		    n->data.scalar.length);
	case YAML_SEQUENCE_NODE:
		j = json_array();
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		    it < n->data.sequence.items.top; it++)
			json_array_append_new(j, yaml_node_json(doc,
			    yaml_document_get_node(doc, *it)));
		return j;
	case YAML_MAPPING_NODE:
		j = json_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		    p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);

			cr_assert_eq(k->type, YAML_SCALAR_NODE, RULES ": a key "
			    "that is not a scalar");
			json_object_set_new(j, (const char *)k->data.scalar.value,
			    yaml_node_json(doc, yaml_document_get_node(doc,
			    p->value)));
		}
		return j;
	default:
		return json_null();
	}
}

/* The rules file as JSON (scalars as strings). */
static json_t *
load_rules(void)
{
	yaml_parser_t p;
	yaml_document_t doc;
	yaml_node_t *root;
	FILE *f = fopen(RULES, "r");
	json_t *j;

	cr_assert_not_null(f, "cannot open %s", RULES);
	cr_assert(yaml_parser_initialize(&p));
	yaml_parser_set_input_file(&p, f);
	cr_assert(yaml_parser_load(&p, &doc), RULES ":%zu: %s",
	    p.problem_mark.line + 1, p.problem != NULL ? p.problem : "?");
	root = yaml_document_get_root_node(&doc);
	cr_assert_not_null(root, RULES " is empty");
	j = yaml_node_json(&doc, root);
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
	fclose(f);
	return j;
}

static json_t *
load_dash(void)
{
	json_error_t e;
	json_t *d = json_load_file(DASH, 0, &e);

	cr_assert_not_null(d, DASH ":%d:%d: %s", e.line, e.column, e.text);
	return d;
}

/* Every rule of every group, in order: a new array of borrowed rules. */
static json_t *
rules_all(json_t *rules)
{
	json_t *out = json_array(), *g, *r;
	size_t i, k;

	cr_assert(json_is_array(json_object_get(rules, "groups")), RULES
	    ": no groups");
	json_array_foreach(json_object_get(rules, "groups"), i, g)
		json_array_foreach(json_object_get(g, "rules"), k, r)
			json_array_append(out, r);
	cr_assert_gt(json_array_size(out), 0, RULES ": no rules");
	return out;
}

/* rule[key] as a string, or NULL. */
static const char *
rstr(const json_t *rule, const char *key)
{
	return json_string_value(json_object_get(rule, key));
}

/*
 * Every query of the dashboard: each panel's targets (rows' nested panels
 * too) and each annotation's expr, as [where, expr] pairs.  Checks the
 * panel shape on the way: a unique integer id, the ${datasource} data
 * source on the panel and on each of its queries, a query on every panel
 * that is not a row.
 */
static void
dash_panels(json_t *panels, json_t *ids, json_t *out)
{
	json_t *p, *t;
	size_t i, k;

	json_array_foreach(panels, i, p) {
		const char *type = json_string_value(json_object_get(p, "type"));
		const char *title = json_string_value(json_object_get(p,
		    "title"));
		json_t *id = json_object_get(p, "id");
		char key[32], where[256];

		cr_assert_not_null(type, DASH ": panel %zu has no type", i);
		cr_assert_not_null(title, DASH ": panel %zu has no title", i);
		cr_assert(json_is_integer(id), DASH ": panel \"%s\" has no "
		    "integer id", title);
		snprintf(key, sizeof(key), "%lld", json_integer_value(id));
		cr_expect_null(json_object_get(ids, key), DASH ": id %s is on "
		    "\"%s\" and \"%s\"", key, title, json_string_value(
		    json_object_get(ids, key)));
		json_object_set_new(ids, key, json_string(title));
		cr_expect_str_eq(json_string_value(json_object_get(
		    json_object_get(p, "datasource"), "uid")),
		    "${datasource}", DASH ": panel \"%s\" has no ${datasource}",
		    title);
		cr_expect(json_is_object(json_object_get(p, "gridPos")), DASH
		    ": panel \"%s\" has no gridPos", title);
		if (strcmp(type, "row") == 0) {
			dash_panels(json_object_get(p, "panels"), ids, out);
			continue;
		}
		cr_expect_gt(json_array_size(json_object_get(p, "targets")), 0,
		    DASH ": panel \"%s\" has no query", title);
		json_array_foreach(json_object_get(p, "targets"), k, t) {
			const char *expr = json_string_value(json_object_get(t,
			    "expr"));

			cr_expect_str_eq(json_string_value(json_object_get(
			    json_object_get(t, "datasource"), "uid")),
			    "${datasource}", DASH ": a query of \"%s\" has no "
			    "${datasource}", title);
			cr_assert(expr != NULL && *expr != '\0', DASH ": a "
			    "query of \"%s\" has no expr", title);
			snprintf(where, sizeof(where), "panel \"%s\"", title);
			json_array_append_new(out, json_pack("[ss]", where,
			    expr));
		}
	}
}

static json_t *
dash_queries(json_t *dash, int check_ids)
{
	json_t *out = json_array(), *ids = json_object(), *a;
	size_t i;

	dash_panels(json_object_get(dash, "panels"), ids, out);
	if (check_ids)
		cr_expect_gt(json_object_size(ids), 10, DASH ": %zu panels",
		    json_object_size(ids));
	json_decref(ids);
	json_array_foreach(json_object_get(json_object_get(dash,
	    "annotations"), "list"), i, a) {
		const char *expr = json_string_value(json_object_get(a, "expr"));
		char where[256];

		if (expr == NULL)
			continue;
		snprintf(where, sizeof(where), "annotation \"%s\"",
		    json_string_value(json_object_get(a, "name")));
		json_array_append_new(out, json_pack("[ss]", where, expr));
	}
	return out;
}

/* The templating variable called name, or NULL. */
static json_t *
dash_var(json_t *dash, const char *name)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(dash, "templating"),
	    "list"), i, v) {
		const char *n = json_string_value(json_object_get(v, "name"));

		if (n != NULL && strcmp(n, name) == 0)
			return v;
	}
	return NULL;
}

/* The instance variable's label_values(METRIC, LABEL) into m and l. */
static void
dash_instance_query(json_t *dash, char m[64], char l[32])
{
	json_t *v = dash_var(dash, "instance");
	const char *q;

	cr_assert_not_null(v, DASH ": no instance variable");
	q = json_string_value(json_object_get(v, "query"));
	if (q == NULL)	/* the object form of newer Grafanas */
		q = json_string_value(json_object_get(json_object_get(v,
		    "query"), "query"));
	cr_assert_not_null(q, DASH ": the instance variable has no query");
	cr_assert_eq(sscanf(q, "label_values(%63[a-z_:0-9], %31[a-z_])", m,
	    l), 2, DASH ": instance query \"%s\" "
	    "is not label_values(METRIC, LABEL)", q);
}

/*
 * 1 when a Markdown heading of doc has GitHub's anchor for it: the
 * heading's text lower-cased, spaces as '-', other punctuation dropped.
 */
static int
doc_has_anchor(const char *doc, const char *anchor)
{
	for (const char *l = doc; l != NULL && *l != '\0'; ) {
		const char *e = strchr(l, '\n');
		char slug[256];
		size_t n = 0;

		if (*l == '#') {
			const char *p = l;

			while (*p == '#')
				p++;
			while (*p == ' ')
				p++;
			for (; p < (e != NULL ? e : p + strlen(p)) &&
			    n + 1 < sizeof(slug); p++) {
				unsigned char c = (unsigned char)*p;

				if (isalnum(c) || c == '_' || c == '-')
					slug[n++] = (char)tolower(c);
				else if (c == ' ')
					slug[n++] = '-';
			}
			slug[n] = '\0';
			if (strcmp(slug, anchor) == 0)
				return 1;
		}
		l = e != NULL ? e + 1 : NULL;
	}
	return 0;
}

/* ---- PromQL: the metric names and matchers of an expression ---- */

static int
ident_start(int c)
{
	return isalpha(c) || c == '_' || c == ':';
}

static int
ident_char(int c)
{
	return isalnum(c) || c == '_' || c == ':';
}

/* Past the string literal at *p (", ' or `); *out (if not NULL) gets its
 * text, escapes kept as written. */
static const char *
skip_string(const char *p, char *out, size_t len, const char *expr)
{
	char q = *p++;
	size_t o = 0;

	while (*p != '\0' && *p != q) {
		if (*p == '\\' && q != '`' && p[1] != '\0') {
			if (out != NULL && o + 1 < len)
				out[o++] = *p;
			p++;
		}
		if (out != NULL && o + 1 < len)
			out[o++] = *p;
		p++;
	}
	cr_assert_eq(*p, q, "an unterminated string in: %s", expr);
	if (out != NULL)
		out[o] = '\0';
	return p + 1;
}

/* Past the balanced open ... close group at *p. */
static const char *
skip_group(const char *p, char open, char close, const char *expr)
{
	int depth = 0;

	do {
		if (*p == '"' || *p == '\'' || *p == '`') {
			p = skip_string(p, NULL, 0, expr);
			continue;
		}
		if (*p == open)
			depth++;
		else if (*p == close)
			depth--;
		cr_assert_neq(*p, '\0', "an unbalanced %c in: %s", open, expr);
		p++;
	} while (depth > 0);
	return p;
}

static int
word_in(const char *w, size_t n, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strlen(*list) == n && strncmp(*list, w, n) == 0)
			return 1;
	return 0;
}

/* The matchers {l op "v", ...} at *p into m (an array of [l, op, v]). */
static const char *
parse_matchers(const char *p, json_t *m, const char *expr)
{
	p++;	/* '{' */
	for (;;) {
		char label[64], op[3], val[256];
		size_t n = 0;

		while (isspace((unsigned char)*p) || *p == ',')
			p++;
		if (*p == '}')
			return p + 1;
		while (ident_char((unsigned char)*p) && n + 1 < sizeof(label))
			label[n++] = *p++;
		label[n] = '\0';
		cr_assert_gt(n, 0, "a matcher without a label in: %s", expr);
		while (isspace((unsigned char)*p))
			p++;
		n = 0;
		while ((*p == '=' || *p == '!' || *p == '~') && n < 2)
			op[n++] = *p++;
		op[n] = '\0';
		cr_assert(strcmp(op, "=") == 0 || strcmp(op, "!=") == 0 ||
		    strcmp(op, "=~") == 0 || strcmp(op, "!~") == 0,
		    "matcher %s has operator \"%s\" in: %s", label, op, expr);
		while (isspace((unsigned char)*p))
			p++;
		cr_assert(*p == '"' || *p == '\'' || *p == '`', "matcher %s "
		    "has no quoted value in: %s", label, expr);
		p = skip_string(p, val, sizeof(val), expr);
		json_array_append_new(m, json_pack("[sss]", label, op, val));
	}
}

/*
 * The vector selectors of expr: a new array of {"name": ..., "matchers":
 * [[label, op, value], ...]}.  Function and aggregation names, keywords,
 * grouping lists, ranges, numbers, strings and Grafana's $variables are
 * not selectors.  A matcher block without a metric name fails: nothing
 * here selects by __name__.
 */
static json_t *
promql_selectors(const char *expr)
{
	static const char *const keywords[] = { "sum", "min", "max", "avg",
	    "group", "stddev", "stdvar", "count", "count_values", "bottomk",
	    "topk", "quantile", "limitk", "limit_ratio", "and", "or",
	    "unless", "bool", "offset", "atan2", "inf", "nan", NULL };
	static const char *const grouping[] = { "by", "without", "on",
	    "ignoring", "group_left", "group_right", NULL };
	json_t *out = json_array();
	const char *p = expr;

	while (*p != '\0') {
		const char *w, *q;
		size_t n;

		if (*p == '"' || *p == '\'' || *p == '`') {
			p = skip_string(p, NULL, 0, expr);
		} else if (*p == '#') {
			while (*p != '\0' && *p != '\n')
				p++;
		} else if (*p == '[') {
			p = skip_group(p, '[', ']', expr);
		} else if (*p == '{') {
			cr_assert_fail("a selector without a metric name in: "
			    "%s", expr);
		} else if (*p == '$') {
			p++;
			if (*p == '{')
				p = skip_group(p, '{', '}', expr);
			else
				while (ident_char((unsigned char)*p))
					p++;
		} else if (isdigit((unsigned char)*p) || (*p == '.' &&
		    isdigit((unsigned char)p[1]))) {
			while (isalnum((unsigned char)*p) || *p == '.')
				p++;
		} else if (ident_start((unsigned char)*p)) {
			for (w = p; ident_char((unsigned char)*p); p++)
				;
			n = (size_t)(p - w);
			for (q = p; isspace((unsigned char)*q); q++)
				;
			if (word_in(w, n, grouping)) {
				if (*q == '(')
					p = skip_group(q, '(', ')', expr);
			} else if (word_in(w, n, keywords) || *q == '(') {
				/* an aggregation, a keyword, a function */
			} else {
				json_t *sel = json_pack("{s:s%, s:[]}", "name",
				    w, n, "matchers");

				if (*q == '{')
					p = parse_matchers(q, json_object_get(
					    sel, "matchers"), expr);
				json_array_append_new(out, sel);
			}
		} else {
			p++;
		}
	}
	return out;
}

/* ---- the scrape ---- */

/*
 * tocsind's /metrics as {sample name: {label: {value: true}}}: what a
 * selector may name and match on.
 */
static json_t *
scrape_index(const char *text)
{
	json_t *idx = json_object();

	for (const char *l = text; *l != '\0'; ) {
		const char *e = strchr(l, '\n'), *p = l;
		char name[128];
		size_t n = 0;
		json_t *labels;

		if (e == NULL)
			e = l + strlen(l);
		if (*l == '#' || l == e) {
			l = *e != '\0' ? e + 1 : e;
			continue;
		}
		while (p < e && *p != '{' && *p != ' ' && n + 1 < sizeof(name))
			name[n++] = *p++;
		name[n] = '\0';
		if ((labels = json_object_get(idx, name)) == NULL) {
			labels = json_object();
			json_object_set_new(idx, name, labels);
		}
		if (*p == '{') {
			p++;
			while (p < e && *p != '}') {
				char k[64], v[256];
				size_t kn = 0, vn = 0;
				json_t *vals;

				while (p < e && *p != '=' && kn + 1 < sizeof(k))
					k[kn++] = *p++;
				k[kn] = '\0';
				p += 2;		/* =" */
				while (p < e && *p != '"') {
					if (*p == '\\')
						p++;
					if (vn + 1 < sizeof(v))
						v[vn++] = *p;
					p++;
				}
				v[vn] = '\0';
				p++;		/* " */
				if (*p == ',')
					p++;
				if ((vals = json_object_get(labels, k)) ==
				    NULL) {
					vals = json_object();
					json_object_set_new(labels, k, vals);
				}
				json_object_set_new(vals, v, json_true());
			}
		}
		l = *e != '\0' ? e + 1 : e;
	}
	return idx;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* A label value tocsind writes for it, or may write on another build. */
static int
value_known(json_t *vals, const char *label, const char *v)
{
	if (json_object_get(vals, v) != NULL)
		return 1;
	/* the ThreadSanitizer build has no Kafka sink (tenv_kafka) */
	return strcmp(label, "sink") == 0 && strcmp(v, "kafka") == 0 &&
	    !tenv_kafka();
}

/* One problem, a line of out. */
static void problem(json_t *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
problem(json_t *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	json_array_append_new(out, json_vsprintf(fmt, ap));
	va_end(ap);
}

/* The problems, one per line, in a static buffer. */
static const char *
problems_text(json_t *out)
{
	static char buf[8192];
	size_t o = 0, i;
	json_t *p;

	buf[0] = '\0';
	json_array_foreach(out, i, p)
		if (o + 2 < sizeof(buf))
			o += (size_t)snprintf(buf + o, sizeof(buf) - o,
			    "\n  %s", json_string_value(p));
	return buf;
}

/*
 * Checks one selector of where's expr against the scrape (its text and
 * scrape_index).  A recording rule's name (recorded) is fine; so is
 * Prometheus' own `up`.  Returns the number of problems, each appended
 * to out.
 */
static int
check_selector(json_t *sel, const char *where, const char *scrape,
    json_t *idx, json_t *recorded, json_t *out)
{
	const char *name = json_string_value(json_object_get(sel, "name"));
	json_t *labels, *m;
	char base[128], type[32];
	int bad = 0;
	size_t i;

	if (json_object_get(recorded, name) != NULL ||
	    strcmp(name, "up") == 0)
		return 0;
	if (strchr(name, ':') != NULL) {
		problem(out, "%s: %s is not a recording rule of " RULES, where,
		    name);
		return 1;
	}
	if (promtext_type(scrape, name, type, sizeof(type)) != NULL &&
	    (strcmp(type, "histogram") == 0 || strcmp(type, "summary") == 0)) {
		problem(out, "%s: %s is a %s: its series are %s_bucket, _sum "
		    "and _count", where, name, type, name);
		return 1;
	}
	if (ends_with(name, "_bucket") || ends_with(name, "_sum") ||
	    ends_with(name, "_count")) {
		size_t n = strlen(name) - (ends_with(name, "_bucket") ? 7 :
		    ends_with(name, "_sum") ? 4 : 6);

		snprintf(base, sizeof(base), "%.*s", (int)n, name);
		if (promtext_type(scrape, base, type, sizeof(type)) != NULL &&
		    strcmp(type, "histogram") != 0 && !(strcmp(type,
		    "summary") == 0 && !ends_with(name, "_bucket"))) {
			problem(out, "%s: %s: %s is a %s, not a histogram",
			    where, name, base, type);
			bad++;
		}
	}
	if ((labels = json_object_get(idx, name)) == NULL) {
		problem(out, "%s: tocsind exports no %s", where, name);
		return bad + 1;
	}
	json_array_foreach(json_object_get(sel, "matchers"), i, m) {
		const char *l = json_string_value(json_array_get(m, 0));
		const char *op = json_string_value(json_array_get(m, 1));
		const char *v = json_string_value(json_array_get(m, 2));
		json_t *vals = json_object_get(labels, l);

		if (strcmp(l, "job") == 0 || strcmp(l, "instance") == 0)
			continue;	/* the scraper's target labels */
		if (vals == NULL) {
			problem(out, "%s: %s has no label %s", where, name, l);
			bad++;
			continue;
		}
		if (strcmp(op, "=") == 0 || strcmp(op, "!=") == 0) {
			/* = and != name one value */
			if (!value_known(vals, l, v)) {
				problem(out, "%s: %s{%s} is never \"%s\"",
				    where, name, l, v);
				bad++;
			}
		} else if (strspn(v, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_|") == strlen(v)) {
			/* a plain a|b|c: each one a value */
			char *dup = strdup(v), *save = NULL;

			for (char *a = strtok_r(dup, "|", &save); a != NULL;
			    a = strtok_r(NULL, "|", &save))
				if (!value_known(vals, l, a)) {
					problem(out, "%s: %s{%s} is never "
					    "\"%s\" (in \"%s\")", where, name,
					    l, a, v);
					bad++;
				}
			free(dup);
		}
	}
	return bad;
}

/* Every recording rule's name: a new {name: true}. */
static json_t *
recorded_names(json_t *all)
{
	json_t *rec = json_object(), *r;
	size_t i;

	json_array_foreach(all, i, r)
		if (rstr(r, "record") != NULL)
			json_object_set_new(rec, rstr(r, "record"), json_true());
	return rec;
}

/* Each recording rule (in rec) that expr names, set in used. */
static void
mark_recorded(const char *expr, json_t *rec, json_t *used)
{
	json_t *sels = promql_selectors(expr), *s;
	size_t i;

	json_array_foreach(sels, i, s) {
		const char *name = json_string_value(json_object_get(s,
		    "name"));

		if (json_object_get(rec, name) != NULL)
			json_object_set_new(used, name, json_true());
	}
	json_decref(sels);
}

/* ---- tocsind ---- */

static void
genv_init(unsigned salt)
{
	unsigned r = tenv_seed(salt);
	char a[40];

	memset(&E, 0, sizeof(E));
	E.prom = -1;
	dfix_init(&E.d, "grafana");
	snprintf(E.net, sizeof(E.net), "127.0.%u.", 250 + r % 4);
	snprintf(a, sizeof(a), "%s1", E.net);
	E.modport = tenv_free_port(a);
	cr_assert_gt(E.modport, 0);
	E.rport = tenv_free_port("127.0.0.1");
	cr_assert_gt(E.rport, 0);
}

/* Three unreachable rectifiers, 2 shards, Redis where nothing listens. */
static void
daemon_up(void)
{
	char yaml[4096];
	size_t n;

	dfix_token(E.d.dir, TOKEN, 0600);
	n = dfix_cfg_head(yaml, sizeof(yaml), E.d.dir, E.modport, E.rport, 1,
	    NULL);
	snprintf(yaml + n, sizeof(yaml) - n,
	    "sites:\n  - {id: G1, area: north, region: A, tenants: "
	    "[{customer: c1, tier: premium}]}\n"
	    "devices:\n"
	    "  - {id: G1-r1, site: G1, profile: rect, host: %s1}\n"
	    "  - {id: G1-r2, site: G1, profile: rect, host: %s2}\n"
	    "  - {id: G1-r3, site: G1, profile: rect, host: %s3}\n",
	    E.net, E.net, E.net);
	tenv_write_file(E.d.dir, "t.yaml", yaml);
	dfix_up(&E.d, "t.yaml", 10000, 15000);
}

/*
 * /metrics once every family is there: the poller's (every device lost,
 * polls counted), the shards', the event stream's, the writes' and the
 * process'.  Malloc'd.
 */
static char *
scrape_when_complete(void)
{
	static const char *const want[] = { "tocsin_modbus_polls_total",
	    "tocsin_journal_bytes_total", "tocsin_sse_streams",
	    "tocsin_http_writes_total", "process_open_fds",
	    "tocsin_sink_up", "tocsin_http_requests_total", NULL };
	int64_t end = tenv_mono_ms() + 20000;
	struct httpfix_resp r;
	char why[256], type[32], *text;
	const char *missing = "";
	int ns, nf;
	double v = 0;

	for (;;) {
		cr_assert_eq(httpfix_do(E.d.port, "GET", "/metrics", NULL,
		    NULL, &r), 200);
		missing = NULL;
		for (int i = 0; want[i] != NULL && missing == NULL; i++)
			if (promtext_type(r.body, want[i], type,
			    sizeof(type)) == NULL)
				missing = want[i];
		if (missing == NULL && (promtext_value(r.body,
		    "tocsin_modbus_devices{comm=\"lost\"}", &v) != 0 || v < 3))
			missing = "tocsin_modbus_devices{comm=\"lost\"} 3";
		/* the embedded cluster's sink comes a second after the port */
		if (missing == NULL && tenv_kafka() && promtext_value(r.body,
		    "tocsin_sink_up{sink=\"kafka\"}", &v) != 0)
			missing = "tocsin_sink_up{sink=\"kafka\"}";
		if (missing == NULL || tenv_mono_ms() >= end)
			break;
		httpfix_free(&r);
		usleep(300000);
	}
	cr_assert_null(missing, "/metrics has no %s in 20 s: %s", missing,
	    r.body);
	cr_assert_eq(promtext_check(r.body, "device", &ns, &nf, why,
	    sizeof(why)), 0, "%s", why);
	text = strdup(r.body);
	httpfix_free(&r);
	return text;
}

/* ---- the tests ---- */

Test(dashboards, promtool_accepts_the_rules)
{
	char *argv[] = { PROMTOOL, "check", "rules", RULES, NULL };
	struct proc_result r;

	if (access(PROMTOOL, X_OK) != 0) {
		cr_skip_test("%s is not installed (Debian package prometheus; "
		    "make deps installs it)", PROMTOOL);
		return;
	}
	cr_assert_eq(proc_run(argv, 30000, &r), 0);
	cr_expect_eq(r.status, 0, "promtool check rules " RULES ": exit %d\n"
	    "%s%s", r.status, r.out, r.err);
	cr_expect(strstr(r.out, "SUCCESS") != NULL, "%s%s", r.out, r.err);
	proc_result_free(&r);
}

Test(dashboards, the_files_hang_together)
{
	json_t *dash = load_dash(), *rules = load_rules(), *all, *rec, *used;
	json_t *qs, *q, *r, *v;
	const char *k;
	char *doc = tenv_read_file(MONDOC), metric[64], label[32];
	size_t i;

	/* the dashboard: importable as is */
	cr_expect_geq(json_integer_value(json_object_get(dash,
	    "schemaVersion")), 36, DASH ": schemaVersion");
	cr_expect(json_is_null(json_object_get(dash, "id")), DASH ": id must "
	    "be null for an import");
	cr_expect(json_is_string(json_object_get(dash, "uid")));
	v = dash_var(dash, "datasource");
	cr_assert_not_null(v, DASH ": no datasource variable");
	cr_expect_str_eq(json_string_value(json_object_get(v, "type")),
	    "datasource");
	cr_expect_str_eq(json_string_value(json_object_get(v, "query")),
	    "prometheus");
	dash_instance_query(dash, metric, label);
	cr_expect_str_eq(label, "instance");
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(
	    dash_var(dash, "instance"), "datasource"), "uid")),
	    "${datasource}");
	qs = dash_queries(dash, 1);

	/* every recording rule used by the dashboard or an alert */
	all = rules_all(rules);
	rec = recorded_names(all);
	used = json_object();
	json_array_foreach(qs, i, q)
		mark_recorded(json_string_value(json_array_get(q, 1)), rec,
		    used);
	json_array_foreach(all, i, r) {
		const char *alert = rstr(r, "alert"), *url;
		json_t *ann = json_object_get(r, "annotations");
		char anchor[128];

		cr_assert_not_null(rstr(r, "expr"), RULES ": rule %zu has no "
		    "expr", i);
		if (alert == NULL) {
			cr_expect_not_null(rstr(r, "record"), RULES ": rule %zu "
			    "is neither a record nor an alert", i);
			continue;
		}
		mark_recorded(rstr(r, "expr"), rec, used);
		cr_expect_not_null(rstr(r, "for"), "%s has no for:", alert);
		k = json_string_value(json_object_get(json_object_get(r,
		    "labels"), "severity"));
		cr_expect(k != NULL && (strcmp(k, "critical") == 0 ||
		    strcmp(k, "warning") == 0), "%s: severity %s", alert,
		    k != NULL ? k : "missing");
		cr_expect_not_null(rstr(ann, "summary"), "%s: no summary",
		    alert);
		cr_expect_not_null(rstr(ann, "description"), "%s: no "
		    "description", alert);
		url = rstr(ann, "runbook_url");
		cr_expect(url != NULL && strncmp(url, MONDOC "#",
		    strlen(MONDOC) + 1) == 0, "%s: runbook_url %s is not "
		    MONDOC "#...", alert, url != NULL ? url : "missing");
		if (url == NULL || strchr(url, '#') == NULL)
			continue;
		snprintf(anchor, sizeof(anchor), "%s", strchr(url, '#') + 1);
		cr_expect(doc_has_anchor(doc, anchor), "%s: " MONDOC " has no "
		    "heading whose anchor is #%s", alert, anchor);
	}
	json_object_foreach(rec, k, v)
		cr_expect_not_null(json_object_get(used, k), "recording rule %s "
		    "is used by neither the dashboard nor an alert", k);
	free(doc);
	json_decref(used);
	json_decref(rec);
	json_decref(all);
	json_decref(qs);
	json_decref(rules);
	json_decref(dash);
}

Test(dashboards, every_metric_named_is_exported)
{
	json_t *dash = load_dash(), *rules = load_rules(), *all, *rec, *qs;
	json_t *idx, *q, *r, *sels, *s, *out = json_array();
	char *text, metric[64], label[32], where[160];
	int bad = 0, nsel = 0;
	size_t i, j;

	genv_init(31);
	daemon_up();
	text = scrape_when_complete();
	idx = scrape_index(text);
	all = rules_all(rules);
	rec = recorded_names(all);

	/* the dashboard's queries and annotations */
	qs = dash_queries(dash, 0);
	json_array_foreach(qs, i, q) {
		sels = promql_selectors(json_string_value(json_array_get(q, 1)));
		cr_expect_gt(json_array_size(sels), 0, "%s: no metric in %s",
		    json_string_value(json_array_get(q, 0)),
		    json_string_value(json_array_get(q, 1)));
		json_array_foreach(sels, j, s) {
			bad += check_selector(s, json_string_value(
			    json_array_get(q, 0)), text, idx, rec, out);
			nsel++;
		}
		json_decref(sels);
	}
	/* the instance variable */
	dash_instance_query(dash, metric, label);
	{
		json_t *sel = json_pack("{s:s, s:[]}", "name", metric,
		    "matchers");

		bad += check_selector(sel, "the instance variable", text, idx,
		    rec, out);
		json_decref(sel);
	}
	/* every rule's expression, recording rules included */
	json_array_foreach(all, i, r) {
		snprintf(where, sizeof(where), "rule %s", rstr(r, "alert") !=
		    NULL ? rstr(r, "alert") : rstr(r, "record"));
		sels = promql_selectors(rstr(r, "expr"));
		cr_expect_gt(json_array_size(sels), 0, "%s: no metric", where);
		json_array_foreach(sels, j, s) {
			bad += check_selector(s, where, text, idx, rec, out);
			nsel++;
		}
		json_decref(sels);
	}
	cr_expect_eq(bad, 0, "%d problems in %d selectors:%s", bad, nsel,
	    problems_text(out));
	json_decref(out);
	cr_expect_gt(nsel, 100, "only %d selectors found", nsel);

	/* the checker itself catches what it is for */
	{
		static const char *const wrong[] = {
			"rate(tocsin_modbus_poll_total[5m])",	/* a typo */
			"tocsin_modbus_rtt_seconds",		/* bare histogram */
			"tocsin_sink_up_bucket",		/* not a histogram */
			"tocsin_sink_up{sinc=\"redis\"}",	/* no such label */
			"tocsin_modbus_polls_total{result=\"error\"}",
			"tocsin_sink_up{sink=~\"kafka|rediss\"}",
			"tocsin:no_such:rule",
			NULL };

		for (i = 0; wrong[i] != NULL; i++) {
			int n = 0;

			out = json_array();
			sels = promql_selectors(wrong[i]);
			json_array_foreach(sels, j, s)
				n += check_selector(s, "(expected)", text, idx,
				    rec, out);
			cr_expect_gt(n, 0, "the checker let %s through",
			    wrong[i]);
			json_decref(sels);
			json_decref(out);
		}
	}
	json_decref(qs);
	json_decref(rec);
	json_decref(all);
	json_decref(idx);
	json_decref(rules);
	json_decref(dash);
	free(text);
	dfix_stop_clean(&E.d, TOKEN);
}

/* ---- a real Prometheus ---- */

/* expr with Grafana's variables as Prometheus would get them. */
static char *
grafana_subst(const char *expr)
{
	static const struct { const char *var, *val; } sub[] = {
		{ "$__rate_interval", "1m" }, { "${instance}", ".*" },
		{ "$instance", ".*" },
	};
	char *out = malloc(strlen(expr) * 2 + 16), *o = out;

	cr_assert_not_null(out);
	while (*expr != '\0') {
		size_t i;

		for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++)
			if (strncmp(expr, sub[i].var, strlen(sub[i].var)) == 0)
				break;
		if (i < sizeof(sub) / sizeof(sub[0])) {
			o += sprintf(o, "%s", sub[i].val);
			expr += strlen(sub[i].var);
		} else {
			*o++ = *expr++;
		}
	}
	*o = '\0';
	cr_assert_null(strchr(out, '$'), "a Grafana variable left in %s", out);
	return out;
}

/*
 * The rules Prometheus has evaluated: how many, how many healthy ("ok"),
 * and the first unhealthy one's name and error in why.
 */
static void
prom_rule_health(int pport, size_t *n, size_t *ok, char *why, size_t len)
{
	json_t *j = promfix_get(pport, "/api/v1/rules"), *g, *r;
	size_t i, k;

	*n = *ok = 0;
	json_array_foreach(json_object_get(json_object_get(j, "data"),
	    "groups"), i, g)
		json_array_foreach(json_object_get(g, "rules"), k, r) {
			const char *h = rstr(r, "health");

			(*n)++;
			if (h != NULL && strcmp(h, "ok") == 0)
				(*ok)++;
			else if (why[0] == '\0')
				snprintf(why, len, "%s: health %s %s",
				    rstr(r, "name"), h != NULL ? h : "?",
				    rstr(r, "lastError") != NULL ?
				    rstr(r, "lastError") : "");
		}
	json_decref(j);
}

/* 1 when alert name is pending or firing with label=value. */
static int
prom_alert(int pport, const char *name, const char *label,
    const char *value)
{
	json_t *j = promfix_get(pport, "/api/v1/alerts"), *a;
	int found = 0;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(j, "data"),
	    "alerts"), i, a) {
		json_t *l = json_object_get(a, "labels");

		if (strcmp(rstr(l, "alertname") != NULL ? rstr(l, "alertname") :
		    "", name) == 0 && rstr(l, label) != NULL &&
		    strcmp(rstr(l, label), value) == 0)
			found = 1;
	}
	json_decref(j);
	return found;
}

Test(dashboards, prometheus_evaluates_every_rule, .timeout = 240)
{
	char why[512] = "";
	json_t *dash, *qs, *q, *j, *res;
	size_t n = 0, ok = 0, nrules, i;
	int pport, pending = 0, lossalert = 0;
	int64_t end;
	double lost;

	promfix_require();
	{
		json_t *rl = load_rules(), *all = rules_all(rl);

		nrules = json_array_size(all);
		json_decref(all);
		json_decref(rl);
	}
	genv_init(32);
	daemon_up();
	free(scrape_when_complete());
	promfix_start(E.d.dir, E.d.port, RULES, 40000, &E.prom, &pport);

	/*
	 * Every rule evaluated and healthy; the alerts this fleet must raise
	 * pending: Redis unreachable, every device lost (through the
	 * recording rule, so it has been recorded).
	 */
	end = tenv_mono_ms() + 60000;
	while (tenv_mono_ms() < end) {
		why[0] = '\0';
		prom_rule_health(pport, &n, &ok, why, sizeof(why));
		pending = prom_alert(pport, "TocsinPublisherDown", "sink",
		    "redis");
		lossalert = prom_alert(pport, "TocsinDevicesInCommLossCritical",
		    "job", "tocsind");
		if (n == nrules && ok == n && pending && lossalert)
			break;
		usleep(500000);
	}
	cr_assert_eq(n, nrules, "Prometheus loaded %zu rules of %zu in 60 s "
	    "(see %s/prom.err)", n, nrules, E.d.dir);
	cr_expect_eq(ok, n, "%zu of %zu rules healthy in 60 s; %s", ok, n,
	    why);
	cr_expect(pending, "TocsinPublisherDown{sink=\"redis\"} is not "
	    "pending in 60 s with Redis unreachable");
	cr_expect(lossalert, "TocsinDevicesInCommLossCritical is not pending "
	    "in 60 s with every device lost");

	/* every dashboard query answers without an error */
	dash = load_dash();
	qs = dash_queries(dash, 0);
	json_array_foreach(qs, i, q) {
		char *expr = grafana_subst(json_string_value(json_array_get(q,
		    1)));

		j = promfix_query(pport, expr);
		cr_expect_str_eq(json_string_value(json_object_get(j,
		    "status")), "success", "%s: %s: %s", json_string_value(
		    json_array_get(q, 0)), expr, json_string_value(
		    json_object_get(j, "error")));
		json_decref(j);
		free(expr);
	}
	/* a recording rule's value: every device is lost */
	j = promfix_query(pport, "tocsin:modbus_devices_lost:ratio");
	res = json_array_get(json_object_get(json_object_get(j, "data"),
	    "result"), 0);
	cr_assert_not_null(res, "no tocsin:modbus_devices_lost:ratio");
	lost = strtod(json_string_value(json_array_get(json_object_get(res,
	    "value"), 1)), NULL);
	cr_expect_eq(lost, 1.0, "tocsin:modbus_devices_lost:ratio %g", lost);
	json_decref(j);
	json_decref(qs);
	json_decref(dash);
	promfix_stop(&E.prom);
	dfix_stop_clean(&E.d, TOKEN);
}
