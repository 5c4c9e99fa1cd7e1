/*
 * config.c - the YAML configuration loader (see config.h).
 *
 * Design.  libyaml's document API gives a node tree in which every node
 * carries its start line and column; the loader walks it once with key
 * tables (struct cfg_key: name, type, range, default, field offset) and
 * writes straight into struct config and the fleet.  A table entry of type
 * CT_FN hands its value node to a function, which is how nested sections,
 * sequences and the device inventory are read with the same machinery.
 *
 * Errors never stop the walk: each is formatted at once as
 * "FILE:LINE:COLUMN: key: message" and appended to the caller's list, and a
 * broken value leaves its field at the default so checks further on still
 * run (a device naming an unknown profile is reported even if the profile
 * itself had errors).  Cross-references (devices to sites, profiles and
 * gateways; alarms to points) are checked after the whole file is read so
 * order in the file does not matter.
 *
 * Unset differs from default where it matters: fleet_device.port 0 and unit
 * -1 mean "the modbus section's default", resolved by the poller, so a change
 * of the default reaches every device that did not say otherwise.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "daemon/config.h"
#include "daemon/mem.h"

#define CFG_PATH_MAX	256
#define CFG_KEYS_MAX	64

/* Where a value came from: the YAML file or a row of an inventory CSV. */
struct cfg_loc {
	const char	*file;
	uint32_t	 line, col;	/* 1-based; 0: the file as a whole */
};

/* A name to resolve once everything is read (order in the file is free). */
struct cfg_ref {
	struct cfg_loc	 loc;
	char		*key;		/* dotted path for the message */
	char		*name;		/* what was named */
	uint32_t	 obj;		/* device index, or code-ref kind */
	uint8_t		 kind;		/* enum cfg_ref_kind */
};

enum cfg_ref_kind { REF_SITE, REF_PROFILE, REF_VIA, REF_CODE };

struct cfg_ctx {
	const char	*file;		/* name used in messages */
	char		*dir;		/* for relative paths, "" or ends in / */
	yaml_document_t	 doc;
	struct config	*cfg;
	struct config_errors *errs;
	struct cfg_ref	*refs;		/* resolved by cfg_resolve() */
	size_t		 nrefs;
	char		**files;	/* CSV names kept for cfg_loc */
	size_t		 nfiles;
};

enum cfg_type {
	CT_STR,		/* char *, xstrdup'd */
	CT_U32,		/* uint32_t within [min, max] */
	CT_DUR,		/* int64_t ms within [min, max] seconds*1000 */
	CT_DOUBLE,	/* double within [min, max] */
	CT_BOOL,	/* int 0/1 */
	CT_ENUM,	/* int, index of the name in names() */
	CT_SIZE,	/* uint32_t from a size with suffix, within [min, max] */
	CT_FN,		/* fn(ctx, node, base, path) */
	CT_SECTION,	/* a nested mapping read with sub, base + off */
};

struct cfg_key;
typedef void (*cfg_fn)(struct cfg_ctx *, yaml_node_t *, void *, const char *);
typedef const char *(*cfg_namefn)(int);

struct cfg_key {
	const char	*name;
	enum cfg_type	 type;
	size_t		 off;		/* offset of the field in base */
	double		 min, max;	/* accepted range (CT_DUR: ms) */
	const char	*def;		/* default, parsed like a value; NULL: none */
	cfg_namefn	 names;		/* CT_ENUM: name of value i, NULL past the end */
	cfg_fn		 fn;		/* CT_FN */
	const struct cfg_key *sub;	/* CT_SECTION */
};

#define K_END	{ NULL, 0, 0, 0, 0, NULL, NULL, NULL, NULL }

static void config_free_parts(struct config *);
static int cfg_ref_resolve(struct cfg_ctx *, const struct cfg_loc *,
	    const char *, const char *, uint32_t, enum cfg_ref_kind, int);
static void cfg_error(struct cfg_ctx *, const yaml_node_t *, const char *,
	    const char *, ...) __attribute__((format(printf, 4, 5)));
static void cfg_error_at(struct cfg_ctx *, const struct cfg_loc *,
	    const char *, const char *, ...) __attribute__((format(printf, 4, 5)));

/* ------------------------------------------------------------------ */
/* Errors */

static void
cfg_errors_add(struct config_errors *errs, char *msg)
{
	errs->msg = xreallocarray(errs->msg, errs->n + 1, sizeof(*errs->msg));
	errs->msg[errs->n++] = msg;
}

static void
cfg_verror(struct cfg_ctx *cx, const struct cfg_loc *loc, const char *key,
    const char *fmt, va_list ap)
{
	char buf[1024];
	int n;

	if (loc != NULL && loc->line > 0)
		n = snprintf(buf, sizeof(buf), "%s:%u:%u: %s: ", loc->file,
		    loc->line, loc->col, key);
	else
		n = snprintf(buf, sizeof(buf), "%s: %s: ",
		    loc != NULL ? loc->file : cx->file, key);
	if (n < 0 || (size_t)n >= sizeof(buf))
		n = 0;
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	cfg_errors_add(cx->errs, xstrdup(buf));
}

static struct cfg_loc
cfg_loc(struct cfg_ctx *cx, const yaml_node_t *n)
{
	struct cfg_loc l = { cx->file, 0, 0 };

	if (n != NULL) {
		l.line = (uint32_t)n->start_mark.line + 1;
		l.col = (uint32_t)n->start_mark.column + 1;
	}
	return l;
}

static void
cfg_error(struct cfg_ctx *cx, const yaml_node_t *at, const char *key,
    const char *fmt, ...)
{
	struct cfg_loc l = cfg_loc(cx, at);
	va_list ap;

	va_start(ap, fmt);
	cfg_verror(cx, &l, key, fmt, ap);
	va_end(ap);
}

static void
cfg_error_at(struct cfg_ctx *cx, const struct cfg_loc *loc, const char *key,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_verror(cx, loc, key, fmt, ap);
	va_end(ap);
}

void
config_errors_free(struct config_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		xfree(errs->msg[i]);
	FREE_NULL(errs->msg);
	errs->n = 0;
}

/* ------------------------------------------------------------------ */
/* Value parsers */

int
config_parse_duration(const char *s, int64_t *ms, const char **why)
{
	static const struct { const char *u; int64_t ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		{ "d", 86400000 }, { "w", 604800000 },
	};
	int64_t total = 0;
	const char *p = s;

	if (*p == '\0') {
		*why = "empty duration";
		return -1;
	}
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	while (*p != '\0') {
		char *end;
		double v;
		size_t i, ulen = 0;

		if (!isdigit((unsigned char)*p)) {
			*why = "expected a duration such as 500ms, 90s, 2h or 3d";
			return -1;
		}
		errno = 0;
		v = strtod(p, &end);
		if (errno != 0 || end == p || v > 1e15) {
			*why = "duration out of range";
			return -1;
		}
		p = end;
		while (isalpha((unsigned char)p[ulen]))
			ulen++;
		if (ulen == 0) {
			*why = "a duration needs a unit (ms, s, m, h, d, w), e.g. 90s";
			return -1;
		}
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].u) == ulen &&
			    strncmp(units[i].u, p, ulen) == 0)
				break;
		if (i == sizeof(units) / sizeof(units[0])) {
			*why = "unknown duration unit (use ms, s, m, h, d, w)";
			return -1;
		}
		v *= (double)units[i].ms;
		if (v > 9e15 || (double)total + v > 9e15) {
			*why = "duration out of range";
			return -1;
		}
		total += (int64_t)llround(v);
		p += ulen;
	}
	*ms = total;
	return 0;
}

int
config_parse_size(const char *s, uint64_t *bytes, const char **why)
{
	static const struct { const char *u; uint64_t mul; } units[] = {
		{ "", 1 }, { "B", 1 }, { "k", 1000 }, { "K", 1000 },
		{ "KiB", 1024 }, { "M", 1000000 }, { "MiB", 1048576 },
		{ "G", 1000000000 }, { "GiB", 1073741824 },
	};
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)*s)) {
		*why = "expected a size such as 1000, 64k or 16MiB";
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0) {
		*why = "size out of range";
		return -1;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].u) == 0) {
			if (v > UINT64_MAX / units[i].mul) {
				*why = "size out of range";
				return -1;
			}
			*bytes = v * units[i].mul;
			return 0;
		}
	}
	*why = "unknown size suffix (use k, M, G, KiB, MiB, GiB)";
	return -1;
}

int
config_parse_modicon(const char *s, enum mb_table *table, uint16_t *address,
    const char **why)
{
	size_t len = strlen(s);
	unsigned long v, off, digit;
	char *end;

	if (len == 0 || len > 6 || !isdigit((unsigned char)s[0])) {
		*why = "not a Modicon address (00001-09999, 10001-19999, "
		    "30001-39999, 40001-49999 or 6-digit 400001-465536)";
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i])) {
			*why = "a Modicon address has only digits";
			return -1;
		}
	v = strtoul(s, &end, 10);
	if (len == 6) {
		digit = v / 100000;
		off = v % 100000;
		if (off < 1 || off > 65536) {
			*why = "six-digit Modicon address out of range "
			    "(x00001-x65536)";
			return -1;
		}
	} else {
		digit = v / 10000;
		off = v % 10000;
		if (off < 1) {
			*why = "Modicon addresses start at 1 in each table "
			    "(00001, 10001, 30001, 40001)";
			return -1;
		}
	}
	switch (digit) {
	case 0: *table = MB_COIL; break;
	case 1: *table = MB_DISCRETE; break;
	case 3: *table = MB_INPUT; break;
	case 4: *table = MB_HOLDING; break;
	default:
		*why = "Modicon table digit must be 0 (coil), 1 (discrete "
		    "input), 3 (input register) or 4 (holding register)";
		return -1;
	}
	*address = (uint16_t)(off - 1);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Node helpers */

static yaml_node_t *
cfg_node(struct cfg_ctx *cx, int id)
{
	return yaml_document_get_node(&cx->doc, id);
}

static const char *
cfg_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE: return "a scalar";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "nothing";
	}
}

/* The scalar's text, or NULL after an error naming what was expected. */
static const char *
cfg_scalar(struct cfg_ctx *cx, yaml_node_t *n, const char *path)
{
	if (n->type != YAML_SCALAR_NODE) {
		cfg_error(cx, n, path, "expected a value, got %s", cfg_kind(n));
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

static int
cfg_expect(struct cfg_ctx *cx, yaml_node_t *n, yaml_node_type_t t,
    const char *path)
{
	static const char *const names[] = {
		[YAML_SCALAR_NODE] = "a value", [YAML_SEQUENCE_NODE] = "a list",
		[YAML_MAPPING_NODE] = "a mapping",
	};

	if (n->type == t)
		return 0;
	/* An empty value ("key:") is an empty list or mapping. */
	if (n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0 &&
	    (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE))
		return 1;
	cfg_error(cx, n, path, "expected %s, got %s", names[t], cfg_kind(n));
	return -1;
}

static size_t
cfg_levenshtein(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[64], cur[64];

	if (la >= 63 || lb >= 63)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			cur[j] = sub < del ? (sub < ins ? sub : ins) :
			    (del < ins ? del : ins);
		}
		memcpy(prev, cur, (lb + 1) * sizeof(size_t));
	}
	return prev[lb];
}

/* The closest of names to s if it is a plausible typo, else NULL. */
static const char *
cfg_suggest(const char *s, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t len = strlen(s), bestd = SIZE_MAX;
	size_t limit = len <= 2 ? 0 : len <= 4 ? 1 : 2;

	for (size_t i = 0; i < n; i++) {
		size_t d = cfg_levenshtein(s, names[i]);
		if (d < bestd) {
			bestd = d;
			best = names[i];
		}
	}
	return bestd <= limit ? best : NULL;
}

static void
cfg_bad_name(struct cfg_ctx *cx, yaml_node_t *at, const char *path,
    const char *what, const char *v, cfg_namefn names)
{
	const char *list[32];
	char all[512];
	size_t n = 0, used = 0;
	const char *hint;

	all[0] = '\0';
	for (int i = 0; n < 32 && names(i) != NULL; i++) {
		list[n++] = names(i);
		used += (size_t)snprintf(all + used, sizeof(all) - used, "%s%s",
		    i ? ", " : "", names(i));
		if (used >= sizeof(all))
			used = sizeof(all) - 1;
	}
	hint = cfg_suggest(v, list, n);
	if (hint != NULL)
		cfg_error(cx, at, path, "unknown %s \"%s\" (did you mean \"%s\"?)",
		    what, v, hint);
	else
		cfg_error(cx, at, path, "unknown %s \"%s\" (one of: %s)", what,
		    v, all);
}

/* Parses one scalar by key type into base; errors name path. */
static int
cfg_value(struct cfg_ctx *cx, const struct cfg_key *k, yaml_node_t *n,
    const char *text, void *base, const char *path)
{
	char *field = (char *)base + k->off;
	const char *why;
	char *end;

	switch (k->type) {
	case CT_STR: {
		char **sp = (char **)field;
		xfree(*sp);
		*sp = xstrdup(text);
		return 0;
	}
	case CT_U32: {
		long long v;
		errno = 0;
		v = strtoll(text, &end, 0);
		if (errno != 0 || end == text || *end != '\0') {
			cfg_error(cx, n, path, "expected an integer, got \"%s\"", text);
			return -1;
		}
		if ((double)v < k->min || (double)v > k->max) {
			cfg_error(cx, n, path, "%lld is out of range [%.0f, %.0f]",
			    v, k->min, k->max);
			return -1;
		}
		*(uint32_t *)field = (uint32_t)v;
		return 0;
	}
	case CT_SIZE: {
		uint64_t v;
		if (config_parse_size(text, &v, &why) != 0) {
			cfg_error(cx, n, path, "%s, got \"%s\"", why, text);
			return -1;
		}
		if ((double)v < k->min || (double)v > k->max) {
			cfg_error(cx, n, path, "%s is out of range [%.0f, %.0f]",
			    text, k->min, k->max);
			return -1;
		}
		*(uint32_t *)field = (uint32_t)v;
		return 0;
	}
	case CT_DUR: {
		int64_t v;
		if (config_parse_duration(text, &v, &why) != 0) {
			cfg_error(cx, n, path, "%s, got \"%s\"", why, text);
			return -1;
		}
		if ((double)v < k->min || (double)v > k->max) {
			cfg_error(cx, n, path, "%s is out of range [%gs, %gs]",
			    text, k->min / 1000, k->max / 1000);
			return -1;
		}
		*(int64_t *)field = v;
		return 0;
	}
	case CT_DOUBLE: {
		double v;
		errno = 0;
		v = strtod(text, &end);
		if (errno != 0 || end == text || *end != '\0' || isnan(v)) {
			cfg_error(cx, n, path, "expected a number, got \"%s\"", text);
			return -1;
		}
		if (v < k->min || v > k->max) {
			cfg_error(cx, n, path, "%s is out of range [%g, %g]", text,
			    k->min, k->max);
			return -1;
		}
		*(double *)field = v;
		return 0;
	}
	case CT_BOOL:
		if (strcmp(text, "true") == 0 || strcmp(text, "yes") == 0 ||
		    strcmp(text, "on") == 0)
			*(int *)field = 1;
		else if (strcmp(text, "false") == 0 || strcmp(text, "no") == 0 ||
		    strcmp(text, "off") == 0)
			*(int *)field = 0;
		else {
			cfg_error(cx, n, path, "expected true or false, got \"%s\"",
			    text);
			return -1;
		}
		return 0;
	case CT_ENUM:
		for (int i = 0; k->names(i) != NULL; i++) {
			if (strcmp(k->names(i), text) == 0) {
				*(int *)field = i;
				return 0;
			}
		}
		cfg_bad_name(cx, n, path, "value", text, k->names);
		return -1;
	case CT_FN:
	case CT_SECTION:
		break;
	}
	return -1;
}

static void
cfg_defaults(struct cfg_ctx *cx, const struct cfg_key *keys, void *base)
{
	for (const struct cfg_key *k = keys; k->name != NULL; k++) {
		if (k->type == CT_SECTION)
			cfg_defaults(cx, k->sub, (char *)base + k->off);
		else if (k->def != NULL && k->type != CT_FN)
			cfg_value(cx, k, NULL, k->def, base, k->name);
	}
}

/* snprintf for key paths: a path longer than the buffer is cut, not an error. */
static void __attribute__((format(printf, 3, 4)))
cfg_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static void
cfg_path(char *buf, size_t len, const char *parent, const char *key)
{
	if (parent == NULL || *parent == '\0')
		cfg_fmt(buf, len, "%s", key);
	else
		cfg_fmt(buf, len, "%s.%s", parent, key);
}

/*
 * Walks a mapping with a key table.  at[i] receives the value node of
 * keys[i] (NULL when absent) so callers can report cross-field errors at
 * the right line.  Returns -1 when node is not a mapping.
 */
static int
cfg_map(struct cfg_ctx *cx, yaml_node_t *node, const struct cfg_key *keys,
    void *base, const char *path, yaml_node_t **at)
{
	yaml_node_t *local[CFG_KEYS_MAX];
	const char *names[CFG_KEYS_MAX];
	size_t nkeys = 0;
	int r;

	if (at == NULL)
		at = local;
	for (const struct cfg_key *k = keys; k->name != NULL; k++)
		names[nkeys++] = k->name;
	memset(at, 0, nkeys * sizeof(*at));
	if ((r = cfg_expect(cx, node, YAML_MAPPING_NODE, path)) != 0)
		return r > 0 ? 0 : -1;
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
	    p < node->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = cfg_node(cx, p->key), *vn = cfg_node(cx, p->value);
		char kp[CFG_PATH_MAX];
		const char *key, *hint, *text;
		size_t i;

		if (kn->type != YAML_SCALAR_NODE) {
			cfg_error(cx, kn, path, "a key must be a plain name");
			continue;
		}
		key = (const char *)kn->data.scalar.value;
		cfg_path(kp, sizeof(kp), path, key);
		for (i = 0; i < nkeys; i++)
			if (strcmp(names[i], key) == 0)
				break;
		if (i == nkeys) {
			hint = cfg_suggest(key, names, nkeys);
			if (hint != NULL)
				cfg_error(cx, kn, kp, "unknown key (did you mean "
				    "\"%s\"?)", hint);
			else
				cfg_error(cx, kn, kp, "unknown key");
			continue;
		}
		if (at[i] != NULL) {
			cfg_error(cx, kn, kp, "duplicate key (first at line %zu)",
			    at[i]->start_mark.line + 1);
			continue;
		}
		at[i] = vn;
		if (keys[i].type == CT_FN) {
			keys[i].fn(cx, vn, base, kp);
			continue;
		}
		if (keys[i].type == CT_SECTION) {
			cfg_map(cx, vn, keys[i].sub, (char *)base + keys[i].off,
			    kp, NULL);
			continue;
		}
		if ((text = cfg_scalar(cx, vn, kp)) == NULL)
			continue;
		cfg_value(cx, &keys[i], vn, text, base, kp);
	}
	return 0;
}

/* Calls fn for each item of a list. */
static void
cfg_list(struct cfg_ctx *cx, yaml_node_t *node, const char *path,
    void (*fn)(struct cfg_ctx *, yaml_node_t *, void *, const char *),
    void *arg)
{
	char ip[CFG_PATH_MAX];
	size_t i = 0;

	if (cfg_expect(cx, node, YAML_SEQUENCE_NODE, path) != 0)
		return;
	for (yaml_node_item_t *it = node->data.sequence.items.start;
	    it < node->data.sequence.items.top; it++, i++) {
		cfg_fmt(ip, sizeof(ip), "%s[%zu]", path, i);
		fn(cx, cfg_node(cx, *it), arg, ip);
	}
}

/* ------------------------------------------------------------------ */
/* Enum names */

static const char *
n_tier(int i) { return i < TIER__COUNT ? tier_name((enum tier)i) : NULL; }
static const char *
n_sev(int i) { return i < SEV__COUNT ? severity_name((enum severity)i) : NULL; }
static const char *
n_region(int i) { return i < REGION__COUNT ? region_name((enum region)i) : NULL; }
static const char *
n_table(int i) { return i < MB__COUNT ? mb_table_name((enum mb_table)i) : NULL; }
static const char *
n_type(int i) { return i < PT__COUNT ? pt_type_name((enum pt_type)i) : NULL; }
static const char *
n_order(int i)
{
	return i < PT_ORDER__COUNT ? pt_order_name((enum pt_order)i) : NULL;
}
static const char *
n_cond(int i) { return i < AC__COUNT ? alarm_cond_name((enum alarm_cond)i) : NULL; }
static const char *
n_log(int i)
{
	static const char *const v[] = { "debug", "info", "warn", "error" };
	return i < 4 ? v[i] : NULL;
}
static const char *
n_clock(int i)
{
	static const char *const v[] = { "ack", "arrive", "resolve" };
	return i < SLA__CLOCKS ? v[i] : NULL;
}
static const char *
n_arrive(int i)
{
	static const char *const v[] = { "dispatch", "open" };
	return i < 2 ? v[i] : NULL;
}
static const char *
n_climb(int i)
{
	static const char *const v[] = { "warning", "breach" };
	return i < 2 ? v[i] : NULL;
}

static void
cfg_nop(struct cfg_ctx *cx, yaml_node_t *n, void *base, const char *path)
{
	/* read by the caller through cfg_map's at[] */
}

static void
cfg_ref_add(struct cfg_ctx *cx, const struct cfg_loc *loc, const char *key,
    const char *name, uint32_t obj, enum cfg_ref_kind kind)
{
	struct cfg_ref *r;

	if ((cx->nrefs & (cx->nrefs - 1)) == 0)
		cx->refs = xreallocarray(cx->refs, cx->nrefs ? cx->nrefs * 2 : 16,
		    sizeof(*cx->refs));
	r = &cx->refs[cx->nrefs++];
	r->loc = *loc;
	r->key = xstrdup(key);
	r->name = xstrdup(name);
	r->obj = obj;
	r->kind = (uint8_t)kind;
}

#define OFF(type, f)	offsetof(type, f)
#define KSTR(n, t, f, d)	{ n, CT_STR, OFF(t, f), 0, 0, d, NULL, NULL, NULL }
#define KU32(n, t, f, lo, hi, d) { n, CT_U32, OFF(t, f), lo, hi, d, NULL, NULL, NULL }
#define KSIZE(n, t, f, lo, hi, d) { n, CT_SIZE, OFF(t, f), lo, hi, d, NULL, NULL, NULL }
#define KDUR(n, t, f, lo, hi, d) { n, CT_DUR, OFF(t, f), (lo) * 1000.0, (hi) * 1000.0, d, NULL, NULL, NULL }
#define KDBL(n, t, f, lo, hi, d) { n, CT_DOUBLE, OFF(t, f), lo, hi, d, NULL, NULL, NULL }
#define KBOOL(n, t, f, d)	{ n, CT_BOOL, OFF(t, f), 0, 1, d, NULL, NULL, NULL }
#define KENUM(n, t, f, names, d) { n, CT_ENUM, OFF(t, f), 0, 0, d, names, NULL, NULL }
#define KFN(n, fn)		{ n, CT_FN, 0, 0, 0, NULL, NULL, fn, NULL }
#define KSEC(n, t, f, sub)	{ n, CT_SECTION, OFF(t, f), 0, 0, NULL, NULL, NULL, sub }
/* A nested mapping whose keys are fields of the same struct. */
#define KFLAT(n, sub)		{ n, CT_SECTION, 0, 0, 0, NULL, NULL, NULL, sub }
#define DAY	86400.0

/* ------------------------------------------------------------------ */
/* daemon, modbus, kafka, redis, http: flat tables */

static const struct cfg_key daemon_keys[] = {
	KSTR("state_dir", struct cfg_daemon, state_dir, "/var/lib/tocsin"),
	KSTR("instance", struct cfg_daemon, instance, "tocsin"),
	KENUM("log_level", struct cfg_daemon, log_level, n_log, "info"),
	KSTR("log_file", struct cfg_daemon, log_file, NULL),
	KU32("shards", struct cfg_daemon, shards, 1, 64, "2"),
	K_END
};

static const struct cfg_key modbus_keys[] = {
	KU32("port", struct cfg_modbus, port, 1, 65535, "502"),
	KU32("unit", struct cfg_modbus, unit, 0, 255, "1"),
	KDUR("timeout", struct cfg_modbus, timeout_ms, 0.01, 60, "1s"),
	KDUR("interval", struct cfg_modbus, interval_ms, 0.1, 3600, "5s"),
	KU32("max_registers", struct cfg_modbus, max_registers, 1, 125, "125"),
	KU32("max_bits", struct cfg_modbus, max_bits, 1, 2000, "2000"),
	KU32("max_gap", struct cfg_modbus, max_gap, 0, 124, "8"),
	KU32("inflight", struct cfg_modbus, inflight, 1, 16, "1"),
	KDUR("backoff_min", struct cfg_modbus, backoff_min_ms, 0.01, 3600, "1s"),
	KDUR("backoff_max", struct cfg_modbus, backoff_max_ms, 0.01, 86400, "60s"),
	KU32("comm_loss_misses", struct cfg_modbus, comm_loss_misses, 1, 1000, "3"),
	KU32("connections_per_host", struct cfg_modbus, connections_per_host, 1, 16, "1"),
	KU32("connect_rate", struct cfg_modbus, connect_rate, 1, 1000000, "500"),
	KU32("connect_rate_per_host", struct cfg_modbus, connect_rate_per_host, 1, 1000, "2"),
	KU32("breaker_failures", struct cfg_modbus, breaker_failures, 1, 1000, "3"),
	KDUR("breaker_cooldown", struct cfg_modbus, breaker_cooldown_ms, 0.1, 86400, "30s"),
	K_END
};

static void
cfg_kafka_properties(struct cfg_ctx *cx, yaml_node_t *n, void *base,
    const char *path)
{
	/* Properties tocsin sets itself: delivery guarantees are not optional. */
	static const char *const owned[] = {
		"bootstrap.servers", "metadata.broker.list", "enable.idempotence",
		"acks", "request.required.acks",
	};
	struct cfg_kafka *k = base;

	if (cfg_expect(cx, n, YAML_MAPPING_NODE, path) != 0)
		return;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	    p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = cfg_node(cx, p->key), *vn = cfg_node(cx, p->value);
		const char *key = cfg_scalar(cx, kn, path), *val;
		char kp[CFG_PATH_MAX];
		int bad = 0;

		if (key == NULL)
			continue;
		cfg_path(kp, sizeof(kp), path, key);
		if ((val = cfg_scalar(cx, vn, kp)) == NULL)
			continue;
		for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
			if (strcmp(key, owned[i]) == 0)
				bad = 1;
		if (bad) {
			cfg_error(cx, kn, kp, "set by tocsin (use kafka.brokers; "
			    "the producer is always idempotent with acks=all)");
			continue;
		}
		k->properties = xreallocarray(k->properties, k->nproperties + 1,
		    sizeof(*k->properties));
		k->properties[k->nproperties].key = xstrdup(key);
		k->properties[k->nproperties].value = xstrdup(val);
		k->nproperties++;
	}
}

static const struct cfg_key kafka_keys[] = {
	KSTR("brokers", struct cfg_kafka, brokers, ""),
	KSTR("topic_incidents", struct cfg_kafka, topic_incidents, "tocsin.incidents"),
	KSTR("topic_alarms", struct cfg_kafka, topic_alarms, "tocsin.alarms"),
	KSTR("topic_telemetry", struct cfg_kafka, topic_telemetry, "tocsin.telemetry"),
	KSTR("topic_actions", struct cfg_kafka, topic_actions, "tocsin.actions"),
	KSTR("topic_rejected", struct cfg_kafka, topic_rejected, "tocsin.actions.rejected"),
	KSTR("group_id", struct cfg_kafka, group_id, "tocsin"),
	KBOOL("publish_alarms", struct cfg_kafka, publish_alarms, "false"),
	KBOOL("publish_telemetry", struct cfg_kafka, publish_telemetry, "false"),
	KU32("queue_max", struct cfg_kafka, queue_max, 16, 100000000, "100000"),
	KFN("properties", cfg_kafka_properties),
	K_END
};

static const struct cfg_key redis_keys[] = {
	KBOOL("enabled", struct cfg_redis, enabled, "true"),
	KSTR("host", struct cfg_redis, host, "127.0.0.1"),
	KU32("port", struct cfg_redis, port, 1, 65535, "6379"),
	KSTR("prefix", struct cfg_redis, prefix, "tocsin:"),
	KSTR("password_file", struct cfg_redis, password_file, NULL),
	KU32("stream_maxlen", struct cfg_redis, stream_maxlen, 100, 100000000, "100000"),
	KU32("queue_max", struct cfg_redis, queue_max, 16, 100000000, "100000"),
	K_END
};

static const struct cfg_key http_keys[] = {
	KBOOL("enabled", struct cfg_http, enabled, "true"),
	KSTR("bind", struct cfg_http, bind, "127.0.0.1"),
	KU32("port", struct cfg_http, port, 1, 65535, "8080"),
	KSTR("token_file", struct cfg_http, token_file, NULL),
	K_END
};

/* ------------------------------------------------------------------ */
/* profiles: points and alarms */

struct point_in {
	char		*name, *unit, *address;
	char		*shorthand[MB__COUNT];	/* coil: N, holding: N, ... */
	int		 table, type, order;
	double		 scale, offset, min, max, deadband;
	uint32_t	 bit;
};

enum { PK_NAME, PK_TABLE, PK_ADDRESS, PK_COIL, PK_DISCRETE, PK_INPUT,
    PK_HOLDING, PK_TYPE, PK_ORDER, PK_SCALE, PK_OFFSET, PK_UNIT, PK_MIN,
    PK_MAX, PK_DEADBAND, PK_BIT, PK__N };

static const struct cfg_key point_keys[] = {
	[PK_NAME] = KSTR("name", struct point_in, name, NULL),
	[PK_TABLE] = KENUM("table", struct point_in, table, n_table, NULL),
	[PK_ADDRESS] = KSTR("address", struct point_in, address, NULL),
	[PK_COIL] = KSTR("coil", struct point_in, shorthand[MB_COIL], NULL),
	[PK_DISCRETE] = KSTR("discrete", struct point_in, shorthand[MB_DISCRETE], NULL),
	[PK_INPUT] = KSTR("input", struct point_in, shorthand[MB_INPUT], NULL),
	[PK_HOLDING] = KSTR("holding", struct point_in, shorthand[MB_HOLDING], NULL),
	[PK_TYPE] = KENUM("type", struct point_in, type, n_type, NULL),
	[PK_ORDER] = KENUM("order", struct point_in, order, n_order, "ABCD"),
	[PK_SCALE] = KDBL("scale", struct point_in, scale, -1e12, 1e12, "1"),
	[PK_OFFSET] = KDBL("offset", struct point_in, offset, -1e15, 1e15, "0"),
	[PK_UNIT] = KSTR("unit", struct point_in, unit, NULL),
	[PK_MIN] = KDBL("min", struct point_in, min, -1e300, 1e300, NULL),
	[PK_MAX] = KDBL("max", struct point_in, max, -1e300, 1e300, NULL),
	[PK_DEADBAND] = KDBL("deadband", struct point_in, deadband, 0, 1e15, "0"),
	[PK_BIT] = KU32("bit", struct point_in, bit, 0, 15, NULL),
	[PK__N] = K_END
};

/* An offset within a table: 0-65535. */
static int
cfg_offset(const char *s, uint16_t *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static void
cfg_point(struct cfg_ctx *cx, yaml_node_t *n, void *arg, const char *path)
{
	struct fleet_profile *prof = arg;
	struct point_in in;
	yaml_node_t *at[PK__N];
	struct fleet_point pt;
	const char *why;
	char kp[CFG_PATH_MAX];
	int given = 0, bad = 0;
	enum mb_table table = MB_HOLDING;
	uint16_t address = 0;

	memset(&in, 0, sizeof(in));
	in.table = in.type = -1;
	in.min = -INFINITY;
	in.max = INFINITY;
	in.bit = UINT32_MAX;
	cfg_defaults(cx, point_keys, &in);
	if (cfg_map(cx, n, point_keys, &in, path, at) != 0)
		goto out;
	if (in.name == NULL) {
		cfg_error(cx, n, path, "a point needs a name");
		goto out;
	}
	if (fleet_find_point(prof, in.name) != FLEET_NONE) {
		cfg_path(kp, sizeof(kp), path, "name");
		cfg_error(cx, at[PK_NAME], kp, "duplicate point name \"%s\"",
		    in.name);
		goto out;
	}
	for (int t = 0; t < MB__COUNT; t++) {
		if (in.shorthand[t] == NULL)
			continue;
		cfg_path(kp, sizeof(kp), path, n_table(t));
		if (given++ || in.address != NULL || at[PK_TABLE] != NULL) {
			cfg_error(cx, at[PK_COIL + t], kp, "give either %s: N or "
			    "address (with an optional table), not both",
			    n_table(t));
			bad = 1;
		} else if (cfg_offset(in.shorthand[t], &address) != 0) {
			cfg_error(cx, at[PK_COIL + t], kp, "expected an offset "
			    "0-65535 in the %s table, got \"%s\"", n_table(t),
			    in.shorthand[t]);
			bad = 1;
		}
		table = (enum mb_table)t;
	}
	if (!given && in.address == NULL) {
		cfg_error(cx, n, path, "point \"%s\" needs an address "
		    "(address: 40001, or holding: 0)", in.name);
		goto out;
	}
	if (!given) {
		cfg_path(kp, sizeof(kp), path, "address");
		if (in.table >= 0) {
			table = (enum mb_table)in.table;
			if (cfg_offset(in.address, &address) != 0) {
				cfg_error(cx, at[PK_ADDRESS], kp, "expected an "
				    "offset 0-65535 in the %s table, got \"%s\"",
				    n_table(in.table), in.address);
				bad = 1;
			}
		} else if (config_parse_modicon(in.address, &table, &address,
		    &why) != 0) {
			cfg_error(cx, at[PK_ADDRESS], kp, "%s, got \"%s\"", why,
			    in.address);
			bad = 1;
		}
	}
	if (bad)
		goto out;

	memset(&pt, 0, sizeof(pt));
	pt.table = (uint8_t)table;
	pt.address = address;
	pt.bit = -1;
	if (in.type < 0)
		in.type = table <= MB_DISCRETE ? PT_BOOL : PT_UINT16;
	pt.type = (uint8_t)in.type;
	pt.order = (uint8_t)in.order;
	if (table <= MB_DISCRETE && in.type != PT_BOOL) {
		cfg_path(kp, sizeof(kp), path, "type");
		cfg_error(cx, at[PK_TYPE], kp, "a %s holds single bits: type "
		    "must be bool, got %s", n_table(table), n_type(in.type));
		goto out;
	}
	if (in.bit != UINT32_MAX) {
		cfg_path(kp, sizeof(kp), path, "bit");
		if (table <= MB_DISCRETE || in.type != PT_BOOL) {
			cfg_error(cx, at[PK_BIT], kp, "bit selects one bit of "
			    "a register for a bool point");
			goto out;
		}
		pt.bit = (int8_t)in.bit;
	}
	if ((unsigned)address + fleet_point_width(&pt) - 1 > 65535) {
		cfg_path(kp, sizeof(kp), path, given ? n_table(table) : "address");
		cfg_error(cx, at[given ? PK_COIL + table : PK_ADDRESS], kp,
		    "a %s at %s address %u runs past the end of the table "
		    "(last address 65535)", n_type(in.type), n_table(table),
		    address);
		goto out;
	}
	if (in.min > in.max) {
		cfg_path(kp, sizeof(kp), path, "min");
		cfg_error(cx, at[PK_MIN], kp, "min %g is above max %g", in.min,
		    in.max);
		goto out;
	}
	if (in.scale == 0) {
		cfg_path(kp, sizeof(kp), path, "scale");
		cfg_error(cx, at[PK_SCALE], kp, "scale must not be 0");
		goto out;
	}
	/* Overlap: registers shared, unless both are distinct bits of one. */
	for (size_t i = 0; i < prof->npoints; i++) {
		const struct fleet_point *o = &prof->points[i];
		unsigned a0 = pt.address, a1 = a0 + fleet_point_width(&pt) - 1;
		unsigned b0 = o->address, b1 = b0 + fleet_point_width(o) - 1;

		if (o->table != pt.table || a1 < b0 || b1 < a0)
			continue;
		if (pt.bit >= 0 && o->bit >= 0 && pt.bit != o->bit)
			continue;
		cfg_error(cx, n, path, "point \"%s\" (%s %u-%u) overlaps point "
		    "\"%s\" (%s %u-%u)", in.name, n_table(table), a0, a1,
		    o->name, n_table(o->table), b0, b1);
		goto out;
	}
	pt.name = in.name;
	pt.unit = in.unit;
	in.name = in.unit = NULL;
	pt.scale = in.scale;
	pt.offset = in.offset;
	pt.min = in.min;
	pt.max = in.max;
	pt.deadband = in.deadband;
	prof->points = xreallocarray(prof->points, prof->npoints + 1,
	    sizeof(*prof->points));
	prof->points[prof->npoints++] = pt;
out:
	xfree(in.name);
	xfree(in.unit);
	xfree(in.address);
	for (int t = 0; t < MB__COUNT; t++)
		xfree(in.shorthand[t]);
}

struct alarm_in {
	char		*code, *point;
	int		 cond, severity;
	double		 threshold, clear;
	uint32_t	 bit;
	int64_t		 delay_on, delay_off;
};

enum { AK_CODE, AK_POINT, AK_COND, AK_THRESHOLD, AK_CLEAR, AK_BIT,
    AK_DELAY_ON, AK_DELAY_OFF, AK_SEVERITY, AK__N };

static const struct cfg_key alarm_keys[] = {
	[AK_CODE] = KSTR("code", struct alarm_in, code, NULL),
	[AK_POINT] = KSTR("point", struct alarm_in, point, NULL),
	[AK_COND] = KENUM("condition", struct alarm_in, cond, n_cond, NULL),
	[AK_THRESHOLD] = KDBL("threshold", struct alarm_in, threshold, -1e300, 1e300, NULL),
	[AK_CLEAR] = KDBL("clear", struct alarm_in, clear, -1e300, 1e300, NULL),
	[AK_BIT] = KU32("bit", struct alarm_in, bit, 0, 63, NULL),
	[AK_DELAY_ON] = KDUR("delay_on", struct alarm_in, delay_on, 0, DAY, "0"),
	[AK_DELAY_OFF] = KDUR("delay_off", struct alarm_in, delay_off, 0, DAY, "0"),
	[AK_SEVERITY] = KENUM("severity", struct alarm_in, severity, n_sev, "major"),
	[AK__N] = K_END
};

struct profile_arg {
	struct fleet	*fleet;
	uint32_t	 profile;
};

static int
cfg_code_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > 63)
		return 0;
	for (; *s != '\0'; s++)
		if (!isupper((unsigned char)*s) && !isdigit((unsigned char)*s) &&
		    *s != '_')
			return 0;
	return 1;
}

static void
cfg_alarm(struct cfg_ctx *cx, yaml_node_t *n, void *arg, const char *path)
{
	struct profile_arg *pa = arg;
	struct fleet_profile *prof = &pa->fleet->profiles[pa->profile];
	struct alarm_in in;
	yaml_node_t *at[AK__N];
	struct fleet_alarm al;
	char kp[CFG_PATH_MAX];
	uint32_t pi;

	memset(&in, 0, sizeof(in));
	in.cond = -1;
	in.bit = UINT32_MAX;
	cfg_defaults(cx, alarm_keys, &in);
	if (cfg_map(cx, n, alarm_keys, &in, path, at) != 0)
		goto out;
	if (in.code == NULL || in.point == NULL || in.cond < 0) {
		cfg_error(cx, n, path, "an alarm needs code, point and condition");
		goto out;
	}
	if (!cfg_code_ok(in.code)) {
		cfg_path(kp, sizeof(kp), path, "code");
		cfg_error(cx, at[AK_CODE], kp, "alarm codes are upper case "
		    "letters, digits and _ (like MAINS_FAIL), got \"%s\"", in.code);
		goto out;
	}
	pi = fleet_find_point(prof, in.point);
	if (pi == FLEET_NONE) {
		const char *names[256];
		size_t nn = 0;
		const char *hint;

		for (size_t i = 0; i < prof->npoints && nn < 256; i++)
			names[nn++] = prof->points[i].name;
		hint = cfg_suggest(in.point, names, nn);
		cfg_path(kp, sizeof(kp), path, "point");
		if (hint != NULL)
			cfg_error(cx, at[AK_POINT], kp, "profile %s has no point "
			    "\"%s\" (did you mean \"%s\"?)", prof->id, in.point,
			    hint);
		else
			cfg_error(cx, at[AK_POINT], kp, "profile %s has no point "
			    "\"%s\"", prof->id, in.point);
		goto out;
	}
	memset(&al, 0, sizeof(al));
	al.point = pi;
	al.cond = (uint8_t)in.cond;
	al.severity = (uint8_t)in.severity;
	if (in.cond == AC_BIT_SET) {
		if (in.bit == UINT32_MAX) {
			cfg_error(cx, n, path, "condition bit_set needs bit");
			goto out;
		}
		al.bit = (uint8_t)in.bit;
	} else if (at[AK_THRESHOLD] == NULL) {
		cfg_error(cx, n, path, "condition %s needs threshold",
		    n_cond(in.cond));
		goto out;
	}
	al.threshold = in.threshold;
	al.clear = at[AK_CLEAR] != NULL ? in.clear : in.threshold;
	cfg_path(kp, sizeof(kp), path, "clear");
	if (in.cond == AC_ABOVE && al.clear > al.threshold) {
		cfg_error(cx, at[AK_CLEAR], kp, "clear %g must not be above the "
		    "threshold %g of an 'above' alarm", al.clear, al.threshold);
		goto out;
	}
	if (in.cond == AC_BELOW && al.clear < al.threshold) {
		cfg_error(cx, at[AK_CLEAR], kp, "clear %g must not be below the "
		    "threshold %g of a 'below' alarm", al.clear, al.threshold);
		goto out;
	}
	al.delay_on_ms = (uint32_t)in.delay_on;
	al.delay_off_ms = (uint32_t)in.delay_off;
	al.code = in.code;
	al.code_id = fleet_code(pa->fleet, in.code);
	in.code = NULL;
	prof->alarms = xreallocarray(prof->alarms, prof->nalarms + 1,
	    sizeof(*prof->alarms));
	prof->alarms[prof->nalarms++] = al;
out:
	xfree(in.code);
	xfree(in.point);
}

enum { FK_DESC, FK_GATEWAY, FK_POINTS, FK_ALARMS, FK__N };

static const struct cfg_key profile_keys[] = {
	[FK_DESC] = KSTR("description", struct fleet_profile, description, NULL),
	[FK_GATEWAY] = KBOOL("gateway", struct fleet_profile, gateway, "false"),
	[FK_POINTS] = KFN("points", cfg_nop),
	[FK_ALARMS] = KFN("alarms", cfg_nop),
	[FK__N] = K_END
};

static void
cfg_profiles(struct cfg_ctx *cx, yaml_node_t *n, void *base, const char *path)
{
	struct fleet *f = cx->cfg->fleet;

	if (cfg_expect(cx, n, YAML_MAPPING_NODE, path) != 0)
		return;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	    p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = cfg_node(cx, p->key), *vn = cfg_node(cx, p->value);
		yaml_node_t *at[FK__N];
		struct profile_arg pa;
		char kp[CFG_PATH_MAX], sp[CFG_PATH_MAX];
		const char *id;
		uint32_t pi;

		if ((id = cfg_scalar(cx, kn, path)) == NULL)
			continue;
		cfg_path(kp, sizeof(kp), path, id);
		if ((pi = fleet_add_profile(f, id)) == FLEET_NONE) {
			cfg_error(cx, kn, kp, "duplicate profile id \"%s\"", id);
			continue;
		}
		cfg_defaults(cx, profile_keys, &f->profiles[pi]);
		if (cfg_map(cx, vn, profile_keys, &f->profiles[pi], kp, at) != 0)
			continue;
		pa.fleet = f;
		pa.profile = pi;
		cfg_path(sp, sizeof(sp), kp, "points");
		if (at[FK_POINTS] != NULL)
			cfg_list(cx, at[FK_POINTS], sp, cfg_point, &f->profiles[pi]);
		if (f->profiles[pi].npoints == 0)
			cfg_error(cx, at[FK_POINTS] ? at[FK_POINTS] : vn, sp,
			    "profile %s has no points", id);
		cfg_path(sp, sizeof(sp), kp, "alarms");
		if (at[FK_ALARMS] != NULL)
			cfg_list(cx, at[FK_ALARMS], sp, cfg_alarm, &pa);
	}
}

/* ------------------------------------------------------------------ */
/* sites and tenants */

struct tenant_in {
	char		*customer;
	int		 tier;
};

static const struct cfg_key tenant_keys[] = {
	KSTR("customer", struct tenant_in, customer, NULL),
	KENUM("tier", struct tenant_in, tier, n_tier, "standard"),
	K_END
};

static void
cfg_tenant(struct cfg_ctx *cx, yaml_node_t *n, void *arg, const char *path)
{
	struct fleet_site *s = arg;
	struct tenant_in in = { NULL, 0 };

	cfg_defaults(cx, tenant_keys, &in);
	if (cfg_map(cx, n, tenant_keys, &in, path, NULL) == 0) {
		if (in.customer == NULL)
			cfg_error(cx, n, path, "a tenant needs customer");
		else {
			for (size_t i = 0; i < s->ntenants; i++)
				if (strcmp(s->tenants[i].customer, in.customer) == 0) {
					cfg_error(cx, n, path, "customer \"%s\" is "
					    "already a tenant of site %s",
					    in.customer, s->id);
					goto out;
				}
			fleet_site_add_tenant(s, in.customer, (enum tier)in.tier);
		}
	}
out:
	xfree(in.customer);
}

struct site_in {
	char		*id, *name, *area, *station, *branch;
	int		 region;
};

enum { SK_ID, SK_NAME, SK_AREA, SK_REGION, SK_STATION, SK_BRANCH,
    SK_TENANTS, SK__N };

static const struct cfg_key site_keys[] = {
	[SK_ID] = KSTR("id", struct site_in, id, NULL),
	[SK_NAME] = KSTR("name", struct site_in, name, NULL),
	[SK_AREA] = KSTR("area", struct site_in, area, NULL),
	[SK_REGION] = KENUM("region", struct site_in, region, n_region, NULL),
	[SK_STATION] = KSTR("station", struct site_in, station, NULL),
	[SK_BRANCH] = KSTR("branch", struct site_in, branch, NULL),
	[SK_TENANTS] = KFN("tenants", cfg_nop),
	[SK__N] = K_END
};

static void
cfg_site(struct cfg_ctx *cx, yaml_node_t *n, void *arg, const char *path)
{
	struct fleet *f = cx->cfg->fleet;
	struct site_in in;
	yaml_node_t *at[SK__N];
	struct fleet_site *s;
	char kp[CFG_PATH_MAX];
	uint32_t si;

	memset(&in, 0, sizeof(in));
	in.region = -1;
	if (cfg_map(cx, n, site_keys, &in, path, at) != 0)
		goto out;
	if (in.id == NULL || in.area == NULL || at[SK_REGION] == NULL) {
		cfg_error(cx, n, path, "a site needs id, area and region");
		goto out;
	}
	if (in.region < 0)
		goto out;	/* reported by cfg_map */
	if ((si = fleet_add_site(f, in.id)) == FLEET_NONE) {
		cfg_path(kp, sizeof(kp), path, "id");
		cfg_error(cx, at[SK_ID], kp, "duplicate site id \"%s\"", in.id);
		goto out;
	}
	s = &f->sites[si];
	s->area = fleet_area(f, in.area);
	s->region = (uint8_t)in.region;
	s->name = in.name;
	s->station = in.station;
	s->branch = in.branch;
	in.name = in.station = in.branch = NULL;
	if (at[SK_TENANTS] != NULL) {
		cfg_path(kp, sizeof(kp), path, "tenants");
		cfg_list(cx, at[SK_TENANTS], kp, cfg_tenant, s);
	}
out:
	xfree(in.id);
	xfree(in.name);
	xfree(in.area);
	xfree(in.station);
	xfree(in.branch);
}

static void
cfg_sites(struct cfg_ctx *cx, yaml_node_t *n, void *base, const char *path)
{
	cfg_list(cx, n, path, cfg_site, NULL);
}

/* ------------------------------------------------------------------ */
/* devices, inline or from an inventory CSV */

struct dev_in {
	char		*id, *site, *profile, *host, *via, *inventory;
	uint32_t	 port, unit;
	int64_t		 interval, timeout;
};

enum { DK_ID, DK_SITE, DK_PROFILE, DK_HOST, DK_PORT, DK_UNIT, DK_VIA,
    DK_INTERVAL, DK_TIMEOUT, DK_INVENTORY, DK__N };

static const struct cfg_key device_keys[] = {
	[DK_ID] = KSTR("id", struct dev_in, id, NULL),
	[DK_SITE] = KSTR("site", struct dev_in, site, NULL),
	[DK_PROFILE] = KSTR("profile", struct dev_in, profile, NULL),
	[DK_HOST] = KSTR("host", struct dev_in, host, NULL),
	[DK_PORT] = KU32("port", struct dev_in, port, 1, 65535, NULL),
	[DK_UNIT] = KU32("unit", struct dev_in, unit, 0, 255, NULL),
	[DK_VIA] = KSTR("via", struct dev_in, via, NULL),
	[DK_INTERVAL] = KDUR("interval", struct dev_in, interval, 0.1, 3600, NULL),
	[DK_TIMEOUT] = KDUR("timeout", struct dev_in, timeout, 0.01, 60, NULL),
	[DK_INVENTORY] = KSTR("inventory", struct dev_in, inventory, NULL),
	[DK__N] = K_END
};

/* Adds one device; names are resolved later by cfg_resolve(). */
static void
cfg_device_add(struct cfg_ctx *cx, const struct cfg_loc *loc,
    const struct cfg_loc fl[3], const char *path, const struct dev_in *in)
{
	struct fleet *f = cx->cfg->fleet;
	struct fleet_device *d;
	char kp[CFG_PATH_MAX];
	uint32_t di;

	if (in->id == NULL || in->site == NULL || in->profile == NULL) {
		cfg_error_at(cx, loc, path, "a device needs id, site and profile");
		return;
	}
	if (in->host == NULL && in->via == NULL) {
		cfg_error_at(cx, loc, path, "device %s needs host (or via, a "
		    "gateway device it is reached through)", in->id);
		return;
	}
	if ((di = fleet_add_device(f, in->id)) == FLEET_NONE) {
		cfg_error_at(cx, loc, path, "duplicate device id \"%s\"", in->id);
		return;
	}
	d = &f->devices[di];
	d->host = in->host != NULL ? xstrdup(in->host) : NULL;
	d->port = (uint16_t)in->port;
	d->unit = in->unit == UINT32_MAX ? -1 : (int16_t)in->unit;
	d->interval_ms = (uint32_t)in->interval;
	d->timeout_ms = (uint32_t)in->timeout;
	cfg_path(kp, sizeof(kp), path, "site");
	cfg_ref_resolve(cx, &fl[0], kp, in->site, di, REF_SITE, 0);
	cfg_path(kp, sizeof(kp), path, "profile");
	cfg_ref_resolve(cx, &fl[1], kp, in->profile, di, REF_PROFILE, 0);
	if (in->via != NULL) {
		cfg_path(kp, sizeof(kp), path, "via");
		if (cfg_ref_resolve(cx, &fl[2], kp, in->via, di, REF_VIA, 0) != 0)
			cfg_ref_add(cx, &fl[2], kp, in->via, di, REF_VIA);
	}
}

/*
 * Reads an inventory CSV: a header line naming the columns
 * id,site,profile,host,port,unit,via (in that order), then one device per
 * line.  Empty port, unit and via take the defaults; '#' starts a comment
 * line.  Values may not contain commas or quotes (ids never do).
 */
static void
cfg_inventory(struct cfg_ctx *cx, yaml_node_t *at, const char *path,
    const char *name)
{
	static const char *const cols[] = {
		"id", "site", "profile", "host", "port", "unit", "via",
	};
	enum { NCOLS = 7 };
	char full[4096], *line = NULL, *field[NCOLS + 1];
	size_t cap = 0;
	ssize_t len;
	uint32_t lineno = 0;
	struct cfg_loc loc;
	FILE *fp;

	if (name[0] == '/')
		snprintf(full, sizeof(full), "%s", name);
	else
		snprintf(full, sizeof(full), "%s%s", cx->dir, name);
	if ((fp = fopen(full, "r")) == NULL) {
		cfg_error(cx, at, path, "cannot read inventory %s: %s", full,
		    strerror(errno));
		return;
	}
	cx->files = xreallocarray(cx->files, cx->nfiles + 1, sizeof(*cx->files));
	cx->files[cx->nfiles++] = xstrdup(full);
	loc.file = cx->files[cx->nfiles - 1];
	while ((len = getline(&line, &cap, fp)) != -1) {
		struct dev_in in;
		size_t nf = 0;
		char *p = line, *e;
		const char *why = NULL;

		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		loc.line = lineno;
		loc.col = 1;
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
			cfg_error_at(cx, &loc, path, "inventory row has %zu columns, "
			    "expected %d (%s,%s,%s,%s,%s,%s,%s)", nf, NCOLS, cols[0],
			    cols[1], cols[2], cols[3], cols[4], cols[5], cols[6]);
			continue;
		}
		if (lineno == 1 || (strcmp(field[0], "id") == 0 &&
		    strcmp(field[1], "site") == 0)) {
			for (int i = 0; i < NCOLS; i++)
				if (strcmp(field[i], cols[i]) != 0) {
					loc.col = (uint32_t)(field[i] - line) + 1;
					cfg_error_at(cx, &loc, path, "inventory header "
					    "column %d is \"%s\", expected \"%s\"",
					    i + 1, field[i], cols[i]);
					break;
				}
			continue;
		}
		memset(&in, 0, sizeof(in));
		in.unit = UINT32_MAX;
		in.id = field[0];
		in.site = field[1];
		in.profile = field[2];
		in.host = field[3][0] ? field[3] : NULL;
		in.via = field[6][0] ? field[6] : NULL;
		for (int i = 4; i <= 5 && why == NULL; i++) {
			char *end;
			long v;

			if (field[i][0] == '\0')
				continue;
			errno = 0;
			v = strtol(field[i], &end, 10);
			if (errno != 0 || *end != '\0' || v < (i == 4 ? 1 : 0) ||
			    v > (i == 4 ? 65535 : 255)) {
				loc.col = (uint32_t)(field[i] - line) + 1;
				why = i == 4 ? "port must be 1-65535" :
				    "unit must be 0-255";
			} else if (i == 4)
				in.port = (uint32_t)v;
			else
				in.unit = (uint32_t)v;
		}
		if (why != NULL) {
			cfg_error_at(cx, &loc, path, "%s", why);
			continue;
		}
		{
			struct cfg_loc fl[3] = { loc, loc, loc };

			fl[0].col = (uint32_t)(field[1] - line) + 1;
			fl[1].col = (uint32_t)(field[2] - line) + 1;
			fl[2].col = (uint32_t)(field[6] - line) + 1;
			loc.col = 1;
			cfg_device_add(cx, &loc, fl, path, &in);
		}
	}
	if (ferror(fp))
		cfg_error(cx, at, path, "reading inventory %s: %s", full,
		    strerror(errno));
	free(line);	/* getline's buffer comes from libc */
	fclose(fp);
}

static void
cfg_device(struct cfg_ctx *cx, yaml_node_t *n, void *arg, const char *path)
{
	struct dev_in in;
	yaml_node_t *at[DK__N];
	struct cfg_loc loc = cfg_loc(cx, n);

	memset(&in, 0, sizeof(in));
	in.unit = UINT32_MAX;
	if (cfg_map(cx, n, device_keys, &in, path, at) != 0)
		goto out;
	if (in.inventory != NULL) {
		char kp[CFG_PATH_MAX];

		cfg_path(kp, sizeof(kp), path, "inventory");
		for (int i = 0; i < DK__N; i++)
			if (i != DK_INVENTORY && at[i] != NULL)
				cfg_error(cx, at[i], kp, "an inventory item takes no "
				    "other keys");
		cfg_inventory(cx, at[DK_INVENTORY], kp, in.inventory);
		goto out;
	}
	{
		struct cfg_loc fl[3] = { cfg_loc(cx, at[DK_SITE]),
		    cfg_loc(cx, at[DK_PROFILE]), cfg_loc(cx, at[DK_VIA]) };
		cfg_device_add(cx, &loc, fl, path, &in);
	}
out:
	xfree(in.id);
	xfree(in.site);
	xfree(in.profile);
	xfree(in.host);
	xfree(in.via);
	xfree(in.inventory);
}

static void
cfg_devices(struct cfg_ctx *cx, yaml_node_t *n, void *base, const char *path)
{
	cfg_list(cx, n, path, cfg_device, NULL);
}

/* ------------------------------------------------------------------ */
/* correlation */

/* Records a reference to an alarm code, checked against the profiles. */
static uint16_t
cfg_code_ref(struct cfg_ctx *cx, yaml_node_t *n, const char *path)
{
	const char *s = cfg_scalar(cx, n, path);
	struct cfg_loc loc = cfg_loc(cx, n);

	if (s == NULL)
		return 0;
	if (!cfg_code_ok(s)) {
		cfg_error(cx, n, path, "alarm codes are upper case letters, "
		    "digits and _ (like MAINS_FAIL), got \"%s\"", s);
		return 0;
	}
	cfg_ref_add(cx, &loc, path, s, 0, REF_CODE);
	return fleet_code(cx->cfg->fleet, s);
}

struct rootcause_in {
	int64_t		 window;
};

static const struct cfg_key rootcause_keys[] = {
	KFN("root", cfg_nop),
	KFN("explains", cfg_nop),
	KDUR("window", struct rootcause_in, window, 1, 7 * DAY, "30m"),
	K_END
};

static void
cfg_rootcause(struct cfg_ctx *cx, yaml_node_t *n, void *arg, const char *path)
{
	struct cfg_correlation *c = arg;
	struct rootcause_in in = { 0 };
	yaml_node_t *at[3];
	struct cfg_rootcause rc;
	char kp[CFG_PATH_MAX];
	size_t i = 0;

	cfg_defaults(cx, rootcause_keys, &in);
	if (cfg_map(cx, n, rootcause_keys, &in, path, at) != 0)
		return;
	if (at[0] == NULL || at[1] == NULL) {
		cfg_error(cx, n, path, "a root-cause rule needs root and explains");
		return;
	}
	memset(&rc, 0, sizeof(rc));
	cfg_path(kp, sizeof(kp), path, "root");
	rc.root = cfg_code_ref(cx, at[0], kp);
	rc.window_ms = in.window;
	cfg_path(kp, sizeof(kp), path, "explains");
	if (cfg_expect(cx, at[1], YAML_SEQUENCE_NODE, kp) != 0)
		return;
	for (yaml_node_item_t *it = at[1]->data.sequence.items.start;
	    it < at[1]->data.sequence.items.top; it++, i++) {
		char ip[CFG_PATH_MAX];

		cfg_fmt(ip, sizeof(ip), "%s[%zu]", kp, i);
		rc.explains = xreallocarray(rc.explains, rc.nexplains + 1,
		    sizeof(*rc.explains));
		rc.explains[rc.nexplains++] = cfg_code_ref(cx,
		    cfg_node(cx, *it), ip);
	}
	c->rootcauses = xreallocarray(c->rootcauses, c->nrootcauses + 1,
	    sizeof(*c->rootcauses));
	c->rootcauses[c->nrootcauses++] = rc;
}

static void
cfg_rootcauses(struct cfg_ctx *cx, yaml_node_t *n, void *base, const char *path)
{
	cfg_list(cx, n, path, cfg_rootcause, base);
}

static const struct cfg_key storm_keys[] = {
	KU32("sites", struct cfg_correlation, storm_sites, 2, 100000, "5"),
	KDUR("window", struct cfg_correlation, storm_window_ms, 1, DAY, "10m"),
	KSTR("code", struct cfg_correlation, storm_code, "MAINS_FAIL"),
	K_END
};

static const struct cfg_key flapping_keys[] = {
	KU32("cycles", struct cfg_correlation, flap_cycles, 2, 1000, "4"),
	KDUR("window", struct cfg_correlation, flap_window_ms, 1, DAY, "30m"),
	K_END
};

static const struct cfg_key chronic_keys[] = {
	KU32("count", struct cfg_correlation, chronic_count, 2, 1000, "3"),
	KDUR("period", struct cfg_correlation, chronic_period_ms, 60, 3650 * DAY, "90d"),
	K_END
};

static const struct cfg_key correlation_keys[] = {
	KFN("root_causes", cfg_rootcauses),
	KDUR("gateway_window", struct cfg_correlation, gateway_window_ms, 1, DAY, "2m"),
	KFLAT("storm", storm_keys),
	KFLAT("flapping", flapping_keys),
	KFLAT("chronic", chronic_keys),
	KDUR("reopen_hold", struct cfg_correlation, reopen_hold_ms, 0, DAY, "15m"),
	KBOOL("auto_resolve", struct cfg_correlation, auto_resolve, "false"),
	K_END
};

/* ------------------------------------------------------------------ */
/* sla */

/* Fixed-offset zones accepted by name; others are given as utc_offset. */
static const struct { const char *name; int minutes; } cfg_zones[] = {
	{ "UTC", 0 }, { "Asia/Shanghai", 480 }, { "Asia/Chongqing", 480 },
	{ "Asia/Harbin", 480 }, { "Asia/Urumqi", 360 },
	{ "Asia/Hong_Kong", 480 }, { "Asia/Macau", 480 }, { "Asia/Taipei", 480 },
	{ "Asia/Singapore", 480 }, { "Asia/Kolkata", 330 }, { "Asia/Tokyo", 540 },
	{ "Asia/Seoul", 540 },
};

static int
cfg_parse_offset(const char *s, int32_t *min)
{
	int h, m = 0, sign;
	char tail;

	if (strncmp(s, "UTC", 3) == 0)
		s += 3;
	if (*s == '\0') {
		*min = 0;
		return 0;
	}
	if (*s != '+' && *s != '-')
		return -1;
	sign = *s++ == '-' ? -1 : 1;
	if (sscanf(s, "%2d:%2d%c", &h, &m, &tail) != 2 &&
	    sscanf(s, "%2d%c", &h, &tail) != 1)
		return -1;
	if (h > 14 || m > 59)
		return -1;
	*min = sign * (h * 60 + m);
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant). */
static int32_t
cfg_days(int y, unsigned m, unsigned d)
{
	unsigned yoe, doy, doe;
	int era;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int32_t)doe - 719468;
}

static int
cfg_parse_date(const char *s, int32_t *days)
{
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };
	int y;
	unsigned m, d;
	char tail;

	if (sscanf(s, "%4d-%2u-%2u%c", &y, &m, &d, &tail) != 3 || y < 1970 ||
	    m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return -1;
	if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -1;
	*days = cfg_days(y, m, d);
	return 0;
}

static int
cfg_parse_hhmm(const char *s, unsigned *min)
{
	unsigned h, m;
	char tail;

	if (sscanf(s, "%2u:%2u%c", &h, &m, &tail) != 2 || h > 24 || m > 59 ||
	    (h == 24 && m != 0))
		return -1;
	*min = h * 60 + m;
	return 0;
}

static int
cfg_cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x > y) - (x < y);
}

struct calendar_in {
	char		*timezone, *utc_offset, *hours;
};

enum { CK_TZ, CK_OFFSET, CK_WEEKDAYS, CK_HOURS, CK_HOLIDAYS, CK__N };

static const struct cfg_key calendar_keys[] = {
	[CK_TZ] = KSTR("timezone", struct calendar_in, timezone, NULL),
	[CK_OFFSET] = KSTR("utc_offset", struct calendar_in, utc_offset, NULL),
	[CK_WEEKDAYS] = KFN("weekdays", cfg_nop),
	[CK_HOURS] = KSTR("hours", struct calendar_in, hours, NULL),
	[CK_HOLIDAYS] = KFN("holidays", cfg_nop),
	[CK__N] = K_END
};

static void
cfg_calendar(struct cfg_ctx *cx, yaml_node_t *n, struct cfg_calendar *c,
    const char *path)
{
	static const char *const wd[] = { "mon", "tue", "wed", "thu", "fri",
	    "sat", "sun" };
	struct calendar_in in = { NULL, NULL, NULL };
	yaml_node_t *at[CK__N];
	char kp[CFG_PATH_MAX];
	size_t i;

	c->weekdays = 0x1f;		/* Monday to Friday */
	c->start_min = 9 * 60;
	c->end_min = 18 * 60;
	if (cfg_map(cx, n, calendar_keys, &in, path, at) != 0)
		goto out;
	if (in.timezone != NULL && in.utc_offset != NULL) {
		cfg_error(cx, at[CK_OFFSET], path, "give timezone or utc_offset, "
		    "not both");
	} else if (in.timezone != NULL) {
		cfg_path(kp, sizeof(kp), path, "timezone");
		for (i = 0; i < sizeof(cfg_zones) / sizeof(cfg_zones[0]); i++)
			if (strcmp(cfg_zones[i].name, in.timezone) == 0)
				break;
		if (i == sizeof(cfg_zones) / sizeof(cfg_zones[0]))
			cfg_error(cx, at[CK_TZ], kp, "unknown time zone \"%s\" "
			    "(give utc_offset: \"+08:00\" for a zone not "
			    "listed in docs/configuration.md)", in.timezone);
		else
			c->utc_offset_min = cfg_zones[i].minutes;
	} else if (in.utc_offset != NULL) {
		cfg_path(kp, sizeof(kp), path, "utc_offset");
		if (cfg_parse_offset(in.utc_offset, &c->utc_offset_min) != 0)
			cfg_error(cx, at[CK_OFFSET], kp, "expected an offset such "
			    "as \"+08:00\", got \"%s\"", in.utc_offset);
	}
	if (in.hours != NULL) {
		char a[16], b[16];
		unsigned s0, s1;

		cfg_path(kp, sizeof(kp), path, "hours");
		if (sscanf(in.hours, "%15[0-9:]-%15[0-9:]", a, b) != 2 ||
		    cfg_parse_hhmm(a, &s0) != 0 || cfg_parse_hhmm(b, &s1) != 0)
			cfg_error(cx, at[CK_HOURS], kp, "expected working hours "
			    "such as \"09:00-18:00\", got \"%s\"", in.hours);
		else if (s0 >= s1)
			cfg_error(cx, at[CK_HOURS], kp, "working hours \"%s\" are "
			    "inverted or empty (start must be before end)",
			    in.hours);
		else {
			c->start_min = (uint16_t)s0;
			c->end_min = (uint16_t)s1;
		}
	}
	if (at[CK_WEEKDAYS] != NULL) {
		yaml_node_t *l = at[CK_WEEKDAYS];

		cfg_path(kp, sizeof(kp), path, "weekdays");
		c->weekdays = 0;
		if (cfg_expect(cx, l, YAML_SEQUENCE_NODE, kp) == 0)
			for (yaml_node_item_t *it = l->data.sequence.items.start;
			    it < l->data.sequence.items.top; it++) {
				yaml_node_t *dn = cfg_node(cx, *it);
				const char *d = cfg_scalar(cx, dn, kp);

				for (i = 0; d != NULL && i < 7; i++)
					if (strcmp(d, wd[i]) == 0)
						break;
				if (d == NULL)
					continue;
				if (i == 7)
					cfg_error(cx, dn, kp, "unknown weekday \"%s\" "
					    "(mon, tue, wed, thu, fri, sat, sun)", d);
				else if (c->weekdays & (1u << i))
					cfg_error(cx, dn, kp, "weekday %s given twice",
					    d);
				else
					c->weekdays |= (uint8_t)(1u << i);
			}
		if (c->weekdays == 0)
			cfg_error(cx, l, kp, "a working-day calendar needs at "
			    "least one weekday");
	}
	if (at[CK_HOLIDAYS] != NULL) {
		yaml_node_t *l = at[CK_HOLIDAYS];

		cfg_path(kp, sizeof(kp), path, "holidays");
		if (cfg_expect(cx, l, YAML_SEQUENCE_NODE, kp) == 0)
			for (yaml_node_item_t *it = l->data.sequence.items.start;
			    it < l->data.sequence.items.top; it++) {
				yaml_node_t *dn = cfg_node(cx, *it);
				const char *d = cfg_scalar(cx, dn, kp);
				int32_t day;

				if (d == NULL)
					continue;
				if (cfg_parse_date(d, &day) != 0) {
					cfg_error(cx, dn, kp, "expected a date "
					    "YYYY-MM-DD, got \"%s\"", d);
					continue;
				}
				c->holidays = xreallocarray(c->holidays,
				    c->nholidays + 1, sizeof(*c->holidays));
				c->holidays[c->nholidays++] = day;
			}
		if (c->nholidays > 1)
			qsort(c->holidays, c->nholidays, sizeof(*c->holidays),
			    cfg_cmp_i32);
		for (i = 1; i < c->nholidays; i++)
			if (c->holidays[i] == c->holidays[i - 1])
				cfg_error(cx, l, kp, "a holiday is listed twice");
	}
out:
	xfree(in.timezone);
	xfree(in.utc_offset);
	xfree(in.hours);
}

static void
cfg_calendars(struct cfg_ctx *cx, yaml_node_t *n, void *base, const char *path)
{
	struct cfg_sla *sla = base;

	if (cfg_expect(cx, n, YAML_MAPPING_NODE, path) != 0)
		return;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	    p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = cfg_node(cx, p->key);
		const char *name = cfg_scalar(cx, kn, path);
		char kp[CFG_PATH_MAX];
		struct cfg_calendar *c;

		if (name == NULL)
			continue;
		cfg_path(kp, sizeof(kp), path, name);
		for (size_t i = 0; i < sla->ncalendars; i++)
			if (strcmp(sla->calendars[i].name, name) == 0) {
				cfg_error(cx, kn, kp, "duplicate calendar");
				name = NULL;
				break;
			}
		if (name == NULL)
			continue;
		sla->calendars = xreallocarray(sla->calendars,
		    sla->ncalendars + 1, sizeof(*sla->calendars));
		c = &sla->calendars[sla->ncalendars++];
		memset(c, 0, sizeof(*c));
		c->name = xstrdup(name);
		cfg_calendar(cx, cfg_node(cx, p->value), c, kp);
	}
}

static void
cfg_warnings(struct cfg_ctx *cx, yaml_node_t *n, void *base, const char *path)
{
	struct cfg_sla *sla = base;
	size_t i = 0;

	sla->nwarnings = 0;
	if (cfg_expect(cx, n, YAML_SEQUENCE_NODE, path) != 0)
		return;
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++, i++) {
		static const struct cfg_key frac = { "warning", CT_DOUBLE, 0,
		    0.01, 0.99, NULL, NULL, NULL, NULL };
		yaml_node_t *vn = cfg_node(cx, *it);
		const char *t;
		char ip[CFG_PATH_MAX];
		double v;

		cfg_fmt(ip, sizeof(ip), "%s[%zu]", path, i);
		if ((t = cfg_scalar(cx, vn, ip)) == NULL ||
		    cfg_value(cx, &frac, vn, t, &v, ip) != 0)
			continue;
		if (sla->nwarnings > 0 && v <= sla->warnings[sla->nwarnings - 1]) {
			cfg_error(cx, vn, ip, "warning fractions must be ascending");
			continue;
		}
		sla->warnings = xreallocarray(sla->warnings, sla->nwarnings + 1,
		    sizeof(*sla->warnings));
		sla->warnings[sla->nwarnings++] = v;
	}
}

struct clock_in {
	int		 clock, tier, severity, region;
	int64_t		 duration;
	char		*calendar;
};

enum { LK_CLOCK, LK_TIER, LK_SEV, LK_REGION, LK_DURATION, LK_CALENDAR, LK__N };

static const struct cfg_key clock_keys[] = {
	[LK_CLOCK] = KENUM("clock", struct clock_in, clock, n_clock, NULL),
	[LK_TIER] = KENUM("tier", struct clock_in, tier, n_tier, NULL),
	[LK_SEV] = KENUM("severity", struct clock_in, severity, n_sev, NULL),
	[LK_REGION] = KENUM("region", struct clock_in, region, n_region, NULL),
	[LK_DURATION] = KFN("duration", cfg_nop),
	[LK_CALENDAR] = KSTR("calendar", struct clock_in, calendar, NULL),
	[LK__N] = K_END
};

static void
cfg_clock(struct cfg_ctx *cx, yaml_node_t *n, void *arg, const char *path)
{
	struct cfg_sla *sla = arg;
	struct clock_in in;
	yaml_node_t *at[LK__N];
	struct cfg_sla_clock c;
	char kp[CFG_PATH_MAX];
	const char *why, *text;

	memset(&in, 0, sizeof(in));
	in.clock = in.tier = in.severity = in.region = -1;
	/* duration is read by hand: "must be positive" beats "out of range" */
	if (cfg_map(cx, n, clock_keys, &in, path, at) != 0)
		goto out;
	if (in.clock < 0 || at[LK_DURATION] == NULL) {
		cfg_error(cx, n, path, "a clock row needs clock and duration");
		goto out;
	}
	cfg_path(kp, sizeof(kp), path, "duration");
	if ((text = cfg_scalar(cx, at[LK_DURATION], kp)) == NULL)
		goto out;
	if (text[0] == '-' || strcmp(text, "0") == 0) {
		cfg_error(cx, at[LK_DURATION], kp, "a clock's duration must be "
		    "positive, got \"%s\"", text);
		goto out;
	}
	if (config_parse_duration(text, &in.duration, &why) != 0) {
		cfg_error(cx, at[LK_DURATION], kp, "%s, got \"%s\"", why, text);
		goto out;
	}
	if (in.duration <= 0) {
		cfg_error(cx, at[LK_DURATION], kp, "a clock's duration must be "
		    "positive, got \"%s\"", text);
		goto out;
	}
	memset(&c, 0, sizeof(c));
	c.clock = (uint8_t)in.clock;
	c.tier = (int8_t)in.tier;
	c.severity = (int8_t)in.severity;
	c.region = (int8_t)in.region;
	c.duration_ms = in.duration;
	c.calendar = -1;
	if (in.calendar != NULL) {
		cfg_path(kp, sizeof(kp), path, "calendar");
		for (size_t i = 0; i < sla->ncalendars; i++)
			if (strcmp(sla->calendars[i].name, in.calendar) == 0)
				c.calendar = (int32_t)i;
		if (c.calendar < 0 && strcmp(in.calendar, "24x7") != 0) {
			cfg_error(cx, at[LK_CALENDAR], kp, "unknown calendar "
			    "\"%s\" (define it under sla.calendars)", in.calendar);
			goto out;
		}
	}
	for (size_t i = 0; i < sla->nclocks; i++) {
		struct cfg_sla_clock *o = &sla->clocks[i];
		if (o->clock == c.clock && o->tier == c.tier &&
		    o->severity == c.severity && o->region == c.region) {
			cfg_error(cx, n, path, "duplicate clock row (same clock, "
			    "tier, severity and region as row %zu)", i);
			goto out;
		}
	}
	sla->clocks = xreallocarray(sla->clocks, sla->nclocks + 1,
	    sizeof(*sla->clocks));
	sla->clocks[sla->nclocks++] = c;
out:
	xfree(in.calendar);
}

static void
cfg_clocks(struct cfg_ctx *cx, yaml_node_t *n, void *base, const char *path)
{
	cfg_list(cx, n, path, cfg_clock, base);
}

struct ladder_in {
	char		*name;
	uint32_t	 level;
	int		 on;
	int64_t		 after;
};

static const struct cfg_key ladder_keys[] = {
	KSTR("name", struct ladder_in, name, NULL),
	KU32("level", struct ladder_in, level, 0, 9, NULL),
	KENUM("on", struct ladder_in, on, n_climb, NULL),
	KDUR("after", struct ladder_in, after, 0, 30 * DAY, "0"),
	K_END
};

static void
cfg_rung(struct cfg_ctx *cx, yaml_node_t *n, void *arg, const char *path)
{
	struct cfg_sla *sla = arg;
	struct ladder_in in;
	yaml_node_t *at[4];
	struct cfg_escalation *e;

	memset(&in, 0, sizeof(in));
	in.on = -1;
	in.level = UINT32_MAX;
	cfg_defaults(cx, ladder_keys, &in);
	if (cfg_map(cx, n, ladder_keys, &in, path, at) != 0)
		goto out;
	if (in.name == NULL || in.level == UINT32_MAX || in.on < 0) {
		cfg_error(cx, n, path, "an escalation step needs name, level and "
		    "on (warning or breach)");
		goto out;
	}
	if (in.level != sla->nladder) {
		cfg_error(cx, at[1], path, "escalation levels must be listed in "
		    "order from 0; expected level %zu, got %u", sla->nladder,
		    in.level);
		goto out;
	}
	sla->ladder = xreallocarray(sla->ladder, sla->nladder + 1,
	    sizeof(*sla->ladder));
	e = &sla->ladder[sla->nladder++];
	e->name = in.name;
	in.name = NULL;
	e->level = in.level;
	e->on_breach = in.on;
	e->after_ms = in.after;
out:
	xfree(in.name);
}

static void
cfg_ladder(struct cfg_ctx *cx, yaml_node_t *n, void *base, const char *path)
{
	cfg_list(cx, n, path, cfg_rung, base);
}

struct band_in {
	int64_t		 under;
	uint32_t	 points;
	char		*grade;
};

static const struct cfg_key band_keys[] = {
	KDUR("under", struct band_in, under, 0.001, 3650 * DAY, NULL),
	KU32("points", struct band_in, points, 0, 100, NULL),
	KSTR("grade", struct band_in, grade, NULL),
	K_END
};

struct bands_arg {
	struct cfg_band	**bands;
	size_t		 *n;
	int		  response;	/* points required, else grade */
};

static void
cfg_band(struct cfg_ctx *cx, yaml_node_t *n, void *arg, const char *path)
{
	struct bands_arg *ba = arg;
	struct band_in in;
	yaml_node_t *at[3];
	struct cfg_band *b, *prev;

	memset(&in, 0, sizeof(in));
	in.points = UINT32_MAX;
	if (cfg_map(cx, n, band_keys, &in, path, at) != 0)
		goto out;
	if (ba->response ? at[1] == NULL : in.grade == NULL) {
		cfg_error(cx, n, path, "a %s band needs %s", ba->response ?
		    "response" : "resolution", ba->response ? "points" : "grade");
		goto out;
	}
	prev = *ba->n ? &(*ba->bands)[*ba->n - 1] : NULL;
	if (prev != NULL && prev->under_ms == INT64_MAX) {
		cfg_error(cx, n, path, "a band after the open-ended last band "
		    "(the one without under)");
		goto out;
	}
	if (at[0] == NULL)
		in.under = INT64_MAX;
	if (prev != NULL && in.under <= prev->under_ms) {
		cfg_error(cx, at[0], path, "bands must be ascending in under");
		goto out;
	}
	*ba->bands = xreallocarray(*ba->bands, *ba->n + 1, sizeof(**ba->bands));
	b = &(*ba->bands)[(*ba->n)++];
	b->under_ms = in.under;
	b->points = in.points == UINT32_MAX ? 0 : in.points;
	b->grade = in.grade;
	in.grade = NULL;
out:
	xfree(in.grade);
}

static void
cfg_scores(struct cfg_ctx *cx, yaml_node_t *n, void *base, const char *path)
{
	static const struct cfg_key keys[] = {
		KFN("response", cfg_nop), KFN("resolution", cfg_nop), K_END
	};
	struct cfg_sla *sla = base;
	yaml_node_t *at[2];
	struct bands_arg ba;
	char kp[CFG_PATH_MAX];

	if (cfg_map(cx, n, keys, NULL, path, at) != 0)
		return;
	if (at[0] != NULL) {
		ba = (struct bands_arg){ &sla->response_bands,
		    &sla->nresponse_bands, 1 };
		cfg_path(kp, sizeof(kp), path, "response");
		cfg_list(cx, at[0], kp, cfg_band, &ba);
	}
	if (at[1] != NULL) {
		ba = (struct bands_arg){ &sla->resolution_bands,
		    &sla->nresolution_bands, 0 };
		cfg_path(kp, sizeof(kp), path, "resolution");
		cfg_list(cx, at[1], kp, cfg_band, &ba);
	}
}

enum { QK_WARNINGS, QK_ARRIVE, QK_CALENDARS, QK_CLOCKS, QK_ESCALATION,
    QK_SCORES, QK__N };

static const struct cfg_key sla_keys[] = {
	[QK_WARNINGS] = KFN("warnings", cfg_warnings),
	[QK_ARRIVE] = KENUM("arrive_starts", struct cfg_sla, arrive_from_open,
	    n_arrive, "dispatch"),
	[QK_CALENDARS] = KFN("calendars", cfg_calendars),
	[QK_CLOCKS] = KFN("clocks", cfg_nop),
	[QK_ESCALATION] = KFN("escalation", cfg_ladder),
	[QK_SCORES] = KFN("scores", cfg_scores),
	[QK__N] = K_END
};

/* Every tier x severity x region must find a duration for every clock. */
static void
cfg_sla_check(struct cfg_ctx *cx, yaml_node_t *at, const char *path)
{
	struct cfg_sla *sla = &cx->cfg->sla;
	int reported = 0;

	for (int k = 0; k < SLA__CLOCKS; k++)
		for (int t = 0; t < TIER__COUNT; t++)
			for (int s = 0; s < SEV__COUNT; s++)
				for (int r = 0; r < REGION__COUNT; r++) {
					size_t i;
					for (i = 0; i < sla->nclocks; i++) {
						struct cfg_sla_clock *c = &sla->clocks[i];
						if (c->clock == k &&
						    (c->tier < 0 || c->tier == t) &&
						    (c->severity < 0 || c->severity == s) &&
						    (c->region < 0 || c->region == r))
							break;
					}
					if (i < sla->nclocks || reported++ >= 5)
						continue;
					cfg_error(cx, at, path, "no duration for the %s "
					    "clock of tier %s, severity %s, region %s",
					    n_clock(k), n_tier(t), n_sev(s), n_region(r));
				}
}

/*
 * Defaults of DOMAIN.md that are lists, applied when the file leaves the
 * whole list out (a list given in the file replaces them entirely).
 */
static const char cfg_default_lists[] =
"correlation:\n"
"  root_causes:\n"
"    - {root: MAINS_FAIL, explains: [BATT_DISCHARGE, BATT_LOW, RECT_FAIL,"
" AC_FAIL, HIGH_TEMP], window: 30m}\n"
"sla:\n"
"  warnings: [0.5, 0.8]\n"
"  clocks:\n"
"    - {clock: ack, tier: premium, duration: 60s}\n"
"    - {clock: ack, tier: standard, duration: 1h}\n"
"    - {clock: arrive, region: A, duration: 2h}\n"
"    - {clock: arrive, region: B, duration: 12h}\n"
"    - {clock: arrive, region: C, duration: 48h}\n"
"    - {clock: resolve, tier: standard, duration: 8h}\n"
"    - {clock: resolve, tier: premium, duration: 24h}\n"
"  escalation:\n"
"    - {level: 0, name: service station, on: warning}\n"
"    - {level: 1, name: branch, on: breach}\n"
"    - {level: 2, name: headquarters, on: breach, after: 4h}\n"
"  scores:\n"
"    response:\n"
"      - {under: 1h, points: 5}\n"
"      - {under: 3h, points: 4}\n"
"      - {under: 24h, points: 3}\n"
"      - {points: 1}\n"
"    resolution:\n"
"      - {under: 1h, grade: immediate}\n"
"      - {under: 24h, grade: within_day}\n"
"      - {grade: over_day}\n";

static void
cfg_sla_section(struct cfg_ctx *cx, yaml_node_t *n, void *base,
    const char *path)
{
	struct cfg_sla *sla = base;
	yaml_node_t *at[QK__N];
	char kp[CFG_PATH_MAX];

	if (cfg_map(cx, n, sla_keys, sla, path, at) != 0)
		return;
	if (at[QK_CLOCKS] != NULL) {
		cfg_path(kp, sizeof(kp), path, "clocks");
		cfg_clocks(cx, at[QK_CLOCKS], sla, kp);
		if (sla->nclocks > 0)
			cfg_sla_check(cx, at[QK_CLOCKS], kp);
	}
}

static void
cfg_correlation_section(struct cfg_ctx *cx, yaml_node_t *n, void *base,
    const char *path)
{
	cfg_map(cx, n, correlation_keys, base, path, NULL);
}

enum { TK_DAEMON, TK_MODBUS, TK_PROFILES, TK_SITES, TK_DEVICES,
    TK_CORRELATION, TK_SLA, TK_KAFKA, TK_REDIS, TK_HTTP, TK__N };

static const struct cfg_key top_keys[] = {
	[TK_DAEMON] = KSEC("daemon", struct config, daemon, daemon_keys),
	[TK_MODBUS] = KSEC("modbus", struct config, modbus, modbus_keys),
	[TK_PROFILES] = KFN("profiles", cfg_nop),
	[TK_SITES] = KFN("sites", cfg_nop),
	[TK_DEVICES] = KFN("devices", cfg_nop),
	[TK_CORRELATION] = KFN("correlation", cfg_nop),
	[TK_SLA] = KFN("sla", cfg_nop),
	[TK_KAFKA] = KSEC("kafka", struct config, kafka, kafka_keys),
	[TK_REDIS] = KSEC("redis", struct config, redis, redis_keys),
	[TK_HTTP] = KSEC("http", struct config, http, http_keys),
	[TK__N] = K_END
};

/*
 * Resolves one name.  Profiles, sites, devices and correlation are walked in
 * that order whatever their order in the file, so a device's site and
 * profile and a rule's codes resolve at once; only a gateway named before it
 * is defined waits for cfg_resolve().  Returns 0, or -1 when it must wait.
 */
static int
cfg_ref_resolve(struct cfg_ctx *cx, const struct cfg_loc *loc, const char *key,
    const char *name, uint32_t obj, enum cfg_ref_kind kind, int final)
{
	struct fleet *f = cx->cfg->fleet;
	struct fleet_device *d = kind == REF_CODE ? NULL : &f->devices[obj];
	uint32_t v;

	switch (kind) {
	case REF_SITE:
		if ((v = fleet_find_site(f, name)) == FLEET_NONE)
			cfg_error_at(cx, loc, key, "device %s names unknown site "
			    "\"%s\"", d->id, name);
		d->site = v;
		break;
	case REF_PROFILE:
		if ((v = fleet_find_profile(f, name)) == FLEET_NONE) {
			const char *names[64], *hint;
			size_t nn = 0;

			for (size_t j = 0; j < f->nprofiles && nn < 64; j++)
				names[nn++] = f->profiles[j].id;
			hint = cfg_suggest(name, names, nn);
			cfg_error_at(cx, loc, key, "device %s names unknown profile "
			    "\"%s\"%s%s%s", d->id, name, hint ? " (did you mean \"" : "",
			    hint ? hint : "", hint ? "\"?)" : "");
		}
		d->profile = v;
		break;
	case REF_VIA:
		v = fleet_find_device(f, name);
		if (v == FLEET_NONE) {
			if (!final)
				return -1;
			cfg_error_at(cx, loc, key, "device %s is reached via unknown "
			    "device \"%s\"", d->id, name);
			break;
		}
		if (v == obj) {
			cfg_error_at(cx, loc, key, "device %s is reached via itself",
			    d->id);
			break;
		}
		if (f->devices[v].profile != FLEET_NONE &&
		    !f->profiles[f->devices[v].profile].gateway) {
			cfg_error_at(cx, loc, key, "device %s is reached via %s, "
			    "whose profile %s is not a gateway (gateway: true)",
			    d->id, f->devices[v].id,
			    f->profiles[f->devices[v].profile].id);
			break;
		}
		d->via = v;
		break;
	case REF_CODE:
		if (!final)
			return -1;	/* checked once every profile is read */
		{
			int c = fleet_find_code(f, name);
			int produced = c == FLEET_CODE_COMM_LOSS;

			for (size_t i = 0; !produced && i < f->nprofiles; i++)
				for (size_t j = 0; j < f->profiles[i].nalarms; j++)
					if (f->profiles[i].alarms[j].code_id == c)
						produced = 1;
			if (!produced)
				cfg_error_at(cx, loc, key, "alarm code %s is raised by "
				    "no profile", name);
		}
		break;
	}
	return 0;
}

/* Resolves what had to wait, then checks what needs the whole fleet. */
static void
cfg_resolve(struct cfg_ctx *cx)
{
	struct fleet *f = cx->cfg->fleet;

	for (size_t i = 0; i < cx->nrefs; i++) {
		struct cfg_ref *r = &cx->refs[i];

		cfg_ref_resolve(cx, &r->loc, r->key, r->name, r->obj,
		    (enum cfg_ref_kind)r->kind, 1);
	}
	/* A gateway cannot itself be behind a gateway. */
	for (size_t i = 0; i < f->ndevices; i++) {
		struct fleet_device *d = &f->devices[i];

		const struct cfg_ref *at = NULL;

		if (d->via == FLEET_NONE || f->devices[d->via].via == FLEET_NONE)
			continue;
		/* the position is known when the name had to wait */
		for (size_t j = 0; j < cx->nrefs && at == NULL; j++)
			if (cx->refs[j].kind == REF_VIA && cx->refs[j].obj == i)
				at = &cx->refs[j];
		cfg_error_at(cx, at ? &at->loc : NULL, at ? at->key : "devices",
		    "device %s is reached via %s, which is itself behind a "
		    "gateway", d->id, f->devices[d->via].id);
		d->via = FLEET_NONE;
	}
	/* A device behind a gateway is reached at the gateway's address. */
	for (size_t i = 0; i < f->ndevices; i++) {
		struct fleet_device *d = &f->devices[i], *g;

		if (d->via == FLEET_NONE)
			continue;
		g = &f->devices[d->via];
		if (d->host == NULL && g->host != NULL) {
			d->host = xstrdup(g->host);
			if (d->port == 0)
				d->port = g->port;
		}
	}
}

/* Parses buf into cx->doc and walks it; errors go to cx->errs. */
static void
cfg_walk(struct cfg_ctx *cx, const char *buf, size_t len, int defaults)
{
	yaml_parser_t parser;
	yaml_node_t *root, *at[TK__N];
	struct config *cfg = cx->cfg;

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &cx->doc)) {
		struct cfg_loc l = { cx->file,
		    (uint32_t)parser.problem_mark.line + 1,
		    (uint32_t)parser.problem_mark.column + 1 };
		cfg_error_at(cx, &l, "yaml", "%s%s%s",
		    parser.problem ? parser.problem : "syntax error",
		    parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return;
	}
	yaml_parser_delete(&parser);
	root = yaml_document_get_root_node(&cx->doc);
	if (root == NULL) {
		if (!defaults)
			cfg_error_at(cx, NULL, "yaml", "the file is empty");
		goto out;
	}
	if (cfg_map(cx, root, top_keys, cfg, "", at) != 0)
		goto out;
	if (at[TK_PROFILES] != NULL)
		cfg_profiles(cx, at[TK_PROFILES], cfg, "profiles");
	if (at[TK_SITES] != NULL)
		cfg_sites(cx, at[TK_SITES], cfg, "sites");
	if (at[TK_DEVICES] != NULL)
		cfg_devices(cx, at[TK_DEVICES], cfg, "devices");
	if (at[TK_CORRELATION] != NULL)
		cfg_correlation_section(cx, at[TK_CORRELATION],
		    &cfg->correlation, "correlation");
	if (at[TK_SLA] != NULL)
		cfg_sla_section(cx, at[TK_SLA], &cfg->sla, "sla");
out:
	yaml_document_delete(&cx->doc);
}

/* Orders device indexes by (host, effective port, effective unit). */
static int
cfg_cmp_addr(const void *a, const void *b, void *arg)
{
	const struct config *cfg = arg;
	const struct fleet_device *x = &cfg->fleet->devices[*(const uint32_t *)a];
	const struct fleet_device *y = &cfg->fleet->devices[*(const uint32_t *)b];
	int c = strcmp(x->host, y->host);
	unsigned px = x->port ? x->port : cfg->modbus.port;
	unsigned py = y->port ? y->port : cfg->modbus.port;
	int ux = x->unit >= 0 ? x->unit : (int)cfg->modbus.unit;
	int uy = y->unit >= 0 ? y->unit : (int)cfg->modbus.unit;

	if (c != 0)
		return c;
	if (px != py)
		return px < py ? -1 : 1;
	return (ux > uy) - (ux < uy);
}

/* Two devices at one host:port and unit would be polled twice as one. */
static void
cfg_check_addresses(struct cfg_ctx *cx)
{
	struct fleet *f = cx->cfg->fleet;
	uint32_t *ix = xcalloc(f->ndevices + 1, sizeof(*ix));
	size_t n = 0, reported = 0;

	for (size_t i = 0; i < f->ndevices; i++)
		if (f->devices[i].host != NULL)
			ix[n++] = (uint32_t)i;
	qsort_r(ix, n, sizeof(*ix), cfg_cmp_addr, cx->cfg);
	for (size_t i = 1; i < n && reported < 20; i++) {
		const struct fleet_device *a = &f->devices[ix[i - 1]];
		const struct fleet_device *b = &f->devices[ix[i]];

		if (cfg_cmp_addr(&ix[i - 1], &ix[i], cx->cfg) != 0)
			continue;
		cfg_error_at(cx, NULL, "devices", "devices %s and %s have the same "
		    "address %s:%u unit %d", a->id, b->id, a->host,
		    a->port ? a->port : cx->cfg->modbus.port,
		    a->unit >= 0 ? a->unit : (int)cx->cfg->modbus.unit);
		reported++;
	}
	xfree(ix);
}

static void
cfg_cross_checks(struct cfg_ctx *cx)
{
	struct config *cfg = cx->cfg;

	cfg_check_addresses(cx);
	if (cfg->modbus.backoff_min_ms > cfg->modbus.backoff_max_ms)
		cfg_error_at(cx, NULL, "modbus.backoff_min", "above "
		    "modbus.backoff_max");
	if (cfg->modbus.timeout_ms > cfg->modbus.interval_ms)
		cfg_error_at(cx, NULL, "modbus.timeout", "longer than "
		    "modbus.interval: a poll would overlap the next one");
	if (strcmp(cfg->http.bind, "127.0.0.1") != 0 &&
	    strcmp(cfg->http.bind, "::1") != 0 &&
	    strcmp(cfg->http.bind, "localhost") != 0 && cfg->http.token_file == NULL)
		cfg_error_at(cx, NULL, "http.bind", "binding %s beyond loopback "
		    "needs http.token_file", cfg->http.bind);
}

struct config *
config_load_buffer(const char *name, const char *buf, size_t len,
    struct config_errors *errs)
{
	struct cfg_ctx cx;
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	const char *slash = strrchr(name, '/');
	size_t before = errs->n;

	memset(&cx, 0, sizeof(cx));
	cx.file = name;
	cx.dir = slash ? xstrndup(name, (size_t)(slash - name) + 1) : xstrdup("");
	cx.cfg = cfg;
	cx.errs = errs;
	cfg->path = xstrdup(name);
	cfg->fleet = fleet_new();
	cfg_defaults(&cx, top_keys, cfg);
	cfg_defaults(&cx, correlation_keys, &cfg->correlation);
	cfg_defaults(&cx, sla_keys, &cfg->sla);

	cfg_walk(&cx, buf, len, 0);
	/* Lists the file left out entirely take DOMAIN.md's defaults. */
	{
		struct config user = *cfg;
		struct cfg_ctx dx = cx;
		struct config d;

		memset(&d, 0, sizeof(d));
		d.fleet = cfg->fleet;
		dx.cfg = &d;
		dx.file = "(built-in defaults)";
		dx.nrefs = 0;
		dx.refs = NULL;
		cfg_walk(&dx, cfg_default_lists, sizeof(cfg_default_lists) - 1, 1);
		if (user.correlation.nrootcauses == 0) {
			cfg->correlation.rootcauses = d.correlation.rootcauses;
			cfg->correlation.nrootcauses = d.correlation.nrootcauses;
			d.correlation.nrootcauses = 0;
			d.correlation.rootcauses = NULL;
		}
#define TAKE(f, nf) if (cfg->sla.nf == 0) { cfg->sla.f = d.sla.f; \
	cfg->sla.nf = d.sla.nf; d.sla.f = NULL; d.sla.nf = 0; }
		TAKE(warnings, nwarnings);
		TAKE(clocks, nclocks);
		TAKE(ladder, nladder);
		TAKE(response_bands, nresponse_bands);
		TAKE(resolution_bands, nresolution_bands);
#undef TAKE
		d.path = NULL;
		d.fleet = NULL;
		config_free_parts(&d);
		for (size_t i = 0; i < dx.nrefs; i++) {
			xfree(dx.refs[i].key);
			xfree(dx.refs[i].name);
		}
		xfree(dx.refs);
	}
	cfg_resolve(&cx);
	if (errs->n == before)
		cfg_cross_checks(&cx);

	for (size_t i = 0; i < cx.nrefs; i++) {
		xfree(cx.refs[i].key);
		xfree(cx.refs[i].name);
	}
	xfree(cx.refs);
	for (size_t i = 0; i < cx.nfiles; i++)
		xfree(cx.files[i]);
	xfree(cx.files);
	xfree(cx.dir);
	if (errs->n != before) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

struct config *
config_load(const char *path, struct config_errors *errs)
{
	struct config *cfg;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s: cannot read: %s", path,
		    strerror(errno));
		cfg_errors_add(errs, xstrdup(msg));
		return NULL;
	}
	for (;;) {
		size_t n;

		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 65536;
			buf = xrealloc(buf, cap);
		}
		n = fread(buf + len, 1, cap - len, fp);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s: cannot read: %s", path,
		    strerror(errno));
		cfg_errors_add(errs, xstrdup(msg));
		fclose(fp);
		xfree(buf);
		return NULL;
	}
	fclose(fp);
	cfg = config_load_buffer(path, buf, len, errs);
	xfree(buf);
	return cfg;
}

static void
config_free_parts(struct config *cfg)
{
	struct cfg_sla *sla = &cfg->sla;

	xfree(cfg->path);
	xfree(cfg->daemon.state_dir);
	xfree(cfg->daemon.instance);
	xfree(cfg->daemon.log_file);
	for (size_t i = 0; i < cfg->correlation.nrootcauses; i++)
		xfree(cfg->correlation.rootcauses[i].explains);
	xfree(cfg->correlation.rootcauses);
	xfree(cfg->correlation.storm_code);
	xfree(sla->warnings);
	for (size_t i = 0; i < sla->ncalendars; i++) {
		xfree(sla->calendars[i].name);
		xfree(sla->calendars[i].holidays);
	}
	xfree(sla->calendars);
	xfree(sla->clocks);
	for (size_t i = 0; i < sla->nladder; i++)
		xfree(sla->ladder[i].name);
	xfree(sla->ladder);
	for (size_t i = 0; i < sla->nresponse_bands; i++)
		xfree(sla->response_bands[i].grade);
	xfree(sla->response_bands);
	for (size_t i = 0; i < sla->nresolution_bands; i++)
		xfree(sla->resolution_bands[i].grade);
	xfree(sla->resolution_bands);
	xfree(cfg->kafka.brokers);
	xfree(cfg->kafka.topic_incidents);
	xfree(cfg->kafka.topic_alarms);
	xfree(cfg->kafka.topic_telemetry);
	xfree(cfg->kafka.topic_actions);
	xfree(cfg->kafka.topic_rejected);
	xfree(cfg->kafka.group_id);
	for (size_t i = 0; i < cfg->kafka.nproperties; i++) {
		xfree(cfg->kafka.properties[i].key);
		xfree(cfg->kafka.properties[i].value);
	}
	xfree(cfg->kafka.properties);
	xfree(cfg->redis.host);
	xfree(cfg->redis.prefix);
	xfree(cfg->redis.password_file);
	xfree(cfg->http.bind);
	xfree(cfg->http.token_file);
	fleet_free(cfg->fleet);
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	config_free_parts(cfg);
	xfree(cfg);
}

void
config_census(const struct config *cfg, char *buf, size_t len)
{
	const struct fleet *f = cfg->fleet;
	size_t points = 0, rules = 0;

	for (size_t i = 0; i < f->ndevices; i++) {
		const struct fleet_profile *p = &f->profiles[f->devices[i].profile];
		points += p->npoints;
		rules += p->nalarms;
	}
	snprintf(buf, len, "%zu sites, %zu areas, %zu devices, %zu profiles, "
	    "%zu points, %zu alarm rules", f->nsites, f->nareas, f->ndevices,
	    f->nprofiles, points, rules);
}
