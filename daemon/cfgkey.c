/*
 * cfgkey.c - the key-table engine of the configuration (see cfgkey.h).
 *
 * Design.  libyaml's document API gives a node tree in which every node
 * carries its start line and column; a section module walks it once with
 * key tables and writes straight into its structs.  This file is what all
 * sections share and nothing section-specific: the error list and its
 * "FILE:LINE:COLUMN: key: message" lines, the node helpers, the walk of a
 * mapping with a table (cfgkey_map), the value parsers behind the CT_*
 * types, "did you mean" suggestions, and the list of names that wait until
 * the whole file is read.  It is the bottom of the configuration modules:
 * it includes none of them (config.h only for struct config_errors), and
 * each of them includes it.
 *
 * Invariants.  An error is formatted when it is found, so a message never
 * points into a tree or a buffer that is gone by the time it is printed;
 * a value that fails to parse leaves its field untouched (its default); the
 * strings of deferred names are copies, so the tree may go before they are
 * resolved.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "correlator/fleet.h"
#include "daemon/cfgkey.h"
#include "daemon/config.h"
#include "daemon/mem.h"

/* ------------------------------------------------------------------ */
/* A read */

void
cfgkey_init(struct cfgkey_ctx *cx, const char *file, struct config_errors *errs)
{
	const char *slash = strrchr(file, '/');

	memset(cx, 0, sizeof(*cx));
	cx->file = file;
	cx->dir = slash ? xstrndup(file, (size_t)(slash - file) + 1) :
	    xstrdup("");
	cx->errs = errs;
}

void
cfgkey_fini(struct cfgkey_ctx *cx)
{
	if (cx->loaded)
		yaml_document_delete(&cx->doc);
	cx->loaded = 0;
	for (size_t i = 0; i < cx->nrefs; i++) {
		xfree(cx->refs[i].key);
		xfree(cx->refs[i].name);
	}
	FREE_NULL(cx->refs);
	cx->nrefs = 0;
	for (size_t i = 0; i < cx->nkept; i++)
		xfree(cx->kept[i]);
	FREE_NULL(cx->kept);
	cx->nkept = 0;
	FREE_NULL(cx->dir);
}

int
cfgkey_parse(struct cfgkey_ctx *cx, const char *buf, size_t len,
    yaml_node_t **root)
{
	yaml_parser_t parser;

	*root = NULL;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &cx->doc)) {
		/* libyaml has freed what it built of the document */
		struct cfgkey_loc l = { cx->file,
		    (uint32_t)parser.problem_mark.line + 1,
		    (uint32_t)parser.problem_mark.column + 1 };
		cfgkey_error_at(cx, &l, "yaml", "%s%s%s",
		    parser.problem ? parser.problem : "syntax error",
		    parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	yaml_parser_delete(&parser);
	cx->loaded = 1;
	*root = yaml_document_get_root_node(&cx->doc);
	if (*root == NULL) {
		cfgkey_error_at(cx, NULL, "yaml", "the file is empty");
		return -EINVAL;
	}
	return 0;
}

yaml_node_t *
cfgkey_node(struct cfgkey_ctx *cx, int id)
{
	return yaml_document_get_node(&cx->doc, id);
}

struct cfgkey_loc
cfgkey_loc(struct cfgkey_ctx *cx, const yaml_node_t *n)
{
	struct cfgkey_loc l = { cx->file, 0, 0 };

	if (n != NULL) {
		l.line = (uint32_t)n->start_mark.line + 1;
		l.col = (uint32_t)n->start_mark.column + 1;
	}
	return l;
}

const char *
cfgkey_keep(struct cfgkey_ctx *cx, const char *s)
{
	cx->kept = xreallocarray(cx->kept, cx->nkept + 1, sizeof(*cx->kept));
	cx->kept[cx->nkept] = xstrdup(s);
	return cx->kept[cx->nkept++];
}

void
cfgkey_defer(struct cfgkey_ctx *cx, const struct cfgkey_loc *loc,
    const char *key, const char *name, uint32_t obj, unsigned kind)
{
	struct cfgkey_ref *r;

	/* grows by doubling: a fleet defers a name per gateway'd device */
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

int
cfgkey_read(FILE *fp, char **buf, size_t *len)
{
	size_t cap = 0;

	*buf = NULL;
	*len = 0;
	for (;;) {
		size_t n;

		if (cap - *len < 65536) {
			cap = cap ? cap * 2 : 65536;
			*buf = xrealloc(*buf, cap);
		}
		n = fread(*buf + *len, 1, cap - *len, fp);
		*len += n;
		if (n == 0)
			break;
	}
	if (ferror(fp))
		return errno != 0 ? -errno : -EIO;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Errors */

static void
cfg_errors_push(struct config_errors *errs, char *msg)
{
	errs->msg = xreallocarray(errs->msg, errs->n + 1, sizeof(*errs->msg));
	errs->msg[errs->n++] = msg;
}

void
cfgkey_errors_add(struct config_errors *errs, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cfg_errors_push(errs, xstrdup(buf));
}

static void
cfg_verror(struct cfgkey_ctx *cx, const struct cfgkey_loc *loc, const char *key,
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
	cfg_errors_push(cx->errs, xstrdup(buf));
}

void
cfgkey_error(struct cfgkey_ctx *cx, const yaml_node_t *n, const char *key,
    const char *fmt, ...)
{
	struct cfgkey_loc l = cfgkey_loc(cx, n);
	va_list ap;

	va_start(ap, fmt);
	cfg_verror(cx, &l, key, fmt, ap);
	va_end(ap);
}

void
cfgkey_error_at(struct cfgkey_ctx *cx, const struct cfgkey_loc *loc,
    const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_verror(cx, loc, key, fmt, ap);
	va_end(ap);
}

size_t
cfgkey_nerrors(const struct cfgkey_ctx *cx)
{
	return cx->errs->n;
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

const char *
cfgkey_suggest(const char *s, const char *const *names, size_t n)
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

void
cfgkey_bad_name(struct cfgkey_ctx *cx, yaml_node_t *at, const char *path,
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
	hint = cfgkey_suggest(v, list, n);
	if (hint != NULL)
		cfgkey_error(cx, at, path, "unknown %s \"%s\" (did you mean "
		    "\"%s\"?)", what, v, hint);
	else
		cfgkey_error(cx, at, path, "unknown %s \"%s\" (one of: %s)", what,
		    v, all);
}

/* ------------------------------------------------------------------ */
/* Value parsers */

int
cfgkey_parse_duration(const char *s, int64_t *ms, const char **why)
{
	static const struct { const char *u; int64_t ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		{ "d", 86400000 }, { "w", 604800000 },
	};
	int64_t total = 0;
	const char *p = s;

	if (*p == '\0') {
		*why = "empty duration";
		return -EINVAL;
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
			return -EINVAL;
		}
		errno = 0;
		v = strtod(p, &end);
		if (errno != 0 || end == p || v > 1e15) {
			*why = "duration out of range";
			return -EINVAL;
		}
		p = end;
		while (isalpha((unsigned char)p[ulen]))
			ulen++;
		if (ulen == 0) {
			*why = "a duration needs a unit (ms, s, m, h, d, w), e.g. 90s";
			return -EINVAL;
		}
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].u) == ulen &&
			    strncmp(units[i].u, p, ulen) == 0)
				break;
		if (i == sizeof(units) / sizeof(units[0])) {
			*why = "unknown duration unit (use ms, s, m, h, d, w)";
			return -EINVAL;
		}
		v *= (double)units[i].ms;
		if (v > 9e15 || (double)total + v > 9e15) {
			*why = "duration out of range";
			return -EINVAL;
		}
		total += (int64_t)llround(v);
		p += ulen;
	}
	*ms = total;
	return 0;
}

int
cfgkey_parse_size(const char *s, uint64_t *bytes, const char **why)
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
		return -EINVAL;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0) {
		*why = "size out of range";
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].u) == 0) {
			if (v > UINT64_MAX / units[i].mul) {
				*why = "size out of range";
				return -EINVAL;
			}
			*bytes = v * units[i].mul;
			return 0;
		}
	}
	*why = "unknown size suffix (use k, M, G, KiB, MiB, GiB)";
	return -EINVAL;
}

/* ------------------------------------------------------------------ */
/* Walking */

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

const char *
cfgkey_scalar(struct cfgkey_ctx *cx, yaml_node_t *n, const char *path)
{
	if (n->type != YAML_SCALAR_NODE) {
		cfgkey_error(cx, n, path, "expected a value, got %s", cfg_kind(n));
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

int
cfgkey_expect(struct cfgkey_ctx *cx, yaml_node_t *n, yaml_node_type_t t,
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
	cfgkey_error(cx, n, path, "expected %s, got %s", names[t], cfg_kind(n));
	return -EINVAL;
}

/*
 * The end of a CT_U32 or CT_SIZE value: v into the uint32_t field when
 * k's range (which lies within uint32_t) holds it, else an error that
 * gives the value as shown.
 */
static int
cfg_store_u32(struct cfgkey_ctx *cx, const struct cfg_key *k, yaml_node_t *n,
    const char *path, const char *shown, double v, char *field)
{
	if (v < k->min || v > k->max) {
		cfgkey_error(cx, n, path, "%s is out of range [%.0f, %.0f]",
		    shown, k->min, k->max);
		return -EINVAL;
	}
	*(uint32_t *)(void *)field = (uint32_t)v;
	return 0;
}

int
cfgkey_value(struct cfgkey_ctx *cx, const struct cfg_key *k, yaml_node_t *n,
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
		char shown[24];
		long long v;
		errno = 0;
		v = strtoll(text, &end, 0);
		if (errno != 0 || end == text || *end != '\0') {
			cfgkey_error(cx, n, path, "expected an integer, got \"%s\"",
			    text);
			return -EINVAL;
		}
		/* an error gives the number read (0x10 is 16) */
		snprintf(shown, sizeof(shown), "%lld", v);
		return cfg_store_u32(cx, k, n, path, shown, (double)v, field);
	}
	case CT_SIZE: {
		uint64_t v;
		if (cfgkey_parse_size(text, &v, &why) != 0) {
			cfgkey_error(cx, n, path, "%s, got \"%s\"", why, text);
			return -EINVAL;
		}
		return cfg_store_u32(cx, k, n, path, text, (double)v, field);
	}
	case CT_DUR:
	case CT_DUR32: {
		int64_t v;
		if (cfgkey_parse_duration(text, &v, &why) != 0) {
			cfgkey_error(cx, n, path, "%s, got \"%s\"", why, text);
			return -EINVAL;
		}
		/* a CT_DUR32 table whose max does not fit is still refused */
		if ((double)v < k->min || (double)v > k->max ||
		    (k->type == CT_DUR32 && v > UINT32_MAX)) {
			cfgkey_error(cx, n, path, "%s is out of range [%gs, %gs]",
			    text, k->min / 1000, k->max / 1000);
			return -EINVAL;
		}
		if (k->type == CT_DUR32)
			*(uint32_t *)field = (uint32_t)v;
		else
			*(int64_t *)field = v;
		return 0;
	}
	case CT_DOUBLE: {
		double v;
		errno = 0;
		v = strtod(text, &end);
		if (errno != 0 || end == text || *end != '\0' || isnan(v)) {
			cfgkey_error(cx, n, path, "expected a number, got \"%s\"",
			    text);
			return -EINVAL;
		}
		if (v < k->min || v > k->max) {
			cfgkey_error(cx, n, path, "%s is out of range [%g, %g]", text,
			    k->min, k->max);
			return -EINVAL;
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
			cfgkey_error(cx, n, path, "expected true or false, got "
			    "\"%s\"", text);
			return -EINVAL;
		}
		return 0;
	case CT_ENUM:
		for (int i = 0; k->names(i) != NULL; i++) {
			if (strcmp(k->names(i), text) == 0) {
				*(int *)field = i;
				return 0;
			}
		}
		cfgkey_bad_name(cx, n, path, "value", text, k->names);
		return -EINVAL;
	case CT_FN:
	case CT_SECTION:
	case CT_LIST:
		break;
	}
	return -EINVAL;
}

void
cfgkey_defaults(struct cfgkey_ctx *cx, const struct cfg_key *keys, void *base)
{
	for (const struct cfg_key *k = keys; k->name != NULL; k++) {
		if (k->type == CT_SECTION)
			cfgkey_defaults(cx, k->sub, (char *)base + k->off);
		else if (k->def != NULL && k->type != CT_FN)
			cfgkey_value(cx, k, NULL, k->def, base, k->name);
	}
}

void
cfgkey_free(const struct cfg_key *keys, void *base)
{
	for (const struct cfg_key *k = keys; k->name != NULL; k++) {
		char *field = (char *)base + k->off;

		if (k->type == CT_SECTION)
			cfgkey_free(k->sub, field);
		else if (k->type == CT_STR)
			FREE_NULL(*(char **)(void *)field);
	}
}

void
cfgkey_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/*
 * Appends n bytes of s at *at in buf (size len >= 1), cut as snprintf()
 * cuts, and NUL-terminates.  The paths of cfgkey_path() and cfgkey_list()
 * are built for every key and item read, though only an error prints one:
 * with vsnprintf() that was 30 % of loading a 100,000-device inventory.
 */
static void
cfgkey_cat(char *buf, size_t len, size_t *at, const char *s, size_t n)
{
	if (n > len - 1 - *at)
		n = len - 1 - *at;
	memcpy(buf + *at, s, n);
	*at += n;
	buf[*at] = '\0';
}

void
cfgkey_path(char *buf, size_t len, const char *parent, const char *key)
{
	size_t at = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (parent != NULL && *parent != '\0') {
		cfgkey_cat(buf, len, &at, parent, strlen(parent));
		cfgkey_cat(buf, len, &at, ".", 1);
	}
	cfgkey_cat(buf, len, &at, key, strlen(key));
}

/* path[i], as "%s[%zu]" prints it. */
static void
cfgkey_item_path(char *buf, size_t len, const char *path, size_t i)
{
	char num[24];
	size_t at = 0, k = sizeof(num);

	num[--k] = ']';
	do
		num[--k] = (char)('0' + i % 10);
	while ((i /= 10) != 0);
	num[--k] = '[';
	buf[0] = '\0';
	cfgkey_cat(buf, len, &at, path, strlen(path));
	cfgkey_cat(buf, len, &at, num + k, sizeof(num) - k);
}

int
cfgkey_map(struct cfgkey_ctx *cx, yaml_node_t *node, const struct cfg_key *keys,
    void *base, const char *path, yaml_node_t **at)
{
	yaml_node_t *local[CFGKEY_KEYS_MAX];
	const char *names[CFGKEY_KEYS_MAX];
	size_t nkeys = 0;
	int r;

	if (at == NULL)
		at = local;
	for (const struct cfg_key *k = keys; k->name != NULL; k++)
		names[nkeys++] = k->name;
	memset(at, 0, nkeys * sizeof(*at));
	if ((r = cfgkey_expect(cx, node, YAML_MAPPING_NODE, path)) != 0)
		return r > 0 ? 0 : -EINVAL;
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
	    p < node->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = cfgkey_node(cx, p->key);
		yaml_node_t *vn = cfgkey_node(cx, p->value);
		char kp[CFGKEY_PATH_MAX];
		const char *key, *hint, *text;
		size_t i;

		if (kn->type != YAML_SCALAR_NODE) {
			cfgkey_error(cx, kn, path, "a key must be a plain name");
			continue;
		}
		key = (const char *)kn->data.scalar.value;
		cfgkey_path(kp, sizeof(kp), path, key);
		for (i = 0; i < nkeys; i++)
			if (strcmp(names[i], key) == 0)
				break;
		if (i == nkeys) {
			hint = cfgkey_suggest(key, names, nkeys);
			if (hint != NULL)
				cfgkey_error(cx, kn, kp, "unknown key (did you mean "
				    "\"%s\"?)", hint);
			else
				cfgkey_error(cx, kn, kp, "unknown key");
			continue;
		}
		if (at[i] != NULL) {
			cfgkey_error(cx, kn, kp, "duplicate key (first at line %zu)",
			    at[i]->start_mark.line + 1);
			continue;
		}
		at[i] = vn;
		if (keys[i].type == CT_FN) {
			keys[i].fn(cx, vn, base, kp);
			continue;
		}
		if (keys[i].type == CT_SECTION) {
			cfgkey_map(cx, vn, keys[i].sub, (char *)base + keys[i].off,
			    kp, NULL);
			continue;
		}
		if (keys[i].type == CT_LIST) {
			memset((char *)base + keys[i].off, 0, keys[i].size);
			cfgkey_list(cx, vn, kp, keys[i].fn, base);
			continue;
		}
		if ((text = cfgkey_scalar(cx, vn, kp)) == NULL)
			continue;
		cfgkey_value(cx, &keys[i], vn, text, base, kp);
	}
	return 0;
}

int
cfgkey_item(struct cfgkey_ctx *cx, yaml_node_t *node, const struct cfg_key *keys,
    void *base, const char *path, yaml_node_t **at)
{
	cfgkey_defaults(cx, keys, base);
	return cfgkey_map(cx, node, keys, base, path, at);
}

void
cfgkey_list(struct cfgkey_ctx *cx, yaml_node_t *node, const char *path,
    cfg_fn fn, void *arg)
{
	char ip[CFGKEY_PATH_MAX];
	size_t i = 0;

	if (cfgkey_expect(cx, node, YAML_SEQUENCE_NODE, path) != 0)
		return;
	for (yaml_node_item_t *it = node->data.sequence.items.start;
	    it < node->data.sequence.items.top; it++, i++) {
		cfgkey_item_path(ip, sizeof(ip), path, i);
		fn(cx, cfgkey_node(cx, *it), arg, ip);
	}
}

void
cfgkey_pairs(struct cfgkey_ctx *cx, yaml_node_t *node, const char *path,
    cfg_pairfn fn, void *arg)
{
	char kp[CFGKEY_PATH_MAX];

	if (cfgkey_expect(cx, node, YAML_MAPPING_NODE, path) != 0)
		return;
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
	    p < node->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = cfgkey_node(cx, p->key);
		const char *key = cfgkey_scalar(cx, kn, path);

		if (key == NULL)
			continue;
		cfgkey_path(kp, sizeof(kp), path, key);
		fn(cx, kn, key, cfgkey_node(cx, p->value), arg, kp);
	}
}

/* cfgkey_scalars() is cfgkey_list() with this item function. */
struct scalars_arg {
	cfg_scalarfn	 fn;
	void		*arg;
};

static void
cfg_scalar_item(struct cfgkey_ctx *cx, yaml_node_t *n, void *arg,
    const char *path)
{
	const struct scalars_arg *sa = arg;
	const char *t = cfgkey_scalar(cx, n, path);

	if (t != NULL)
		sa->fn(cx, n, t, sa->arg, path);
}

void
cfgkey_scalars(struct cfgkey_ctx *cx, yaml_node_t *node, const char *path,
    cfg_scalarfn fn, void *arg)
{
	struct scalars_arg sa = { fn, arg };

	cfgkey_list(cx, node, path, cfg_scalar_item, &sa);
}

void
cfgkey_nop(struct cfgkey_ctx *cx, yaml_node_t *n, void *base, const char *path)
{
	/* read by the caller through cfgkey_map's at[] */
}

const char *
cfgkey_name_tier(int i)
{
	return i < TIER__COUNT ? fleet_tier_name((enum tier)i) : NULL;
}

const char *
cfgkey_name_severity(int i)
{
	return i < SEV__COUNT ? fleet_severity_name((enum severity)i) : NULL;
}

const char *
cfgkey_name_region(int i)
{
	return i < REGION__COUNT ? fleet_region_name((enum region)i) : NULL;
}
