/*
 * cfgkey.h - the key-table engine every section of the configuration is read
 * with.  Internal to the configuration modules (config.c, cfgfleet.c,
 * cfgcsv.c, cfgcorr.c, cfgsla.c); the rest of tocsin includes config.h,
 * which does not expose libyaml.
 *
 * A section is a table of struct cfg_key (name, type, range, default, field
 * offset) ended by K_END and written with the K* macros below.  cfgkey_map()
 * walks a YAML mapping with a table and writes each value into the struct at
 * base; a CT_FN entry hands its node to a function instead, and a CT_LIST
 * entry (KLIST) each item of a list that replaces the default one, which
 * is how a module reads nested lists and cross-field rules with the same
 * machinery.  Items of lists and keyed mappings are read with cfgkey_item()
 * and walked with cfgkey_list() and cfgkey_pairs(); cfgkey_free() frees
 * what a table's strings hold.
 *
 * Errors never stop a walk.  Each is formatted at once as
 * "FILE:LINE:COLUMN: key: message" (key is the dotted path, e.g.
 * profiles.rect.points[2].address) and appended to the context's list; a
 * broken value leaves its field as it was (its default), so later checks
 * still run.
 *
 * Names that may be defined later in the file (a gateway device, an alarm
 * code) are kept with cfgkey_defer() and resolved by their module once the
 * whole file is read, so order in the file does not matter.
 *
 * Return values: 0 on success, -errno on failure (-EINVAL: bad input, already
 * reported to the context when the function takes one).
 */
#ifndef TOCSIN_CFGKEY_H
#define TOCSIN_CFGKEY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <yaml.h>

struct config_errors;			/* daemon/config.h */

#define CFGKEY_PATH_MAX	256		/* a dotted key path; longer ones are cut */
#define CFGKEY_KEYS_MAX	64		/* entries of one table */

/* Where a value came from: the YAML file or a row of an inventory CSV. */
struct cfgkey_loc {
	const char	*file;		/* the YAML's or an inventory's name */
	uint32_t	 line, col;	/* 1-based; 0: the file as a whole */
};

/* A name to resolve once everything is read (see cfgkey_defer()). */
struct cfgkey_ref {
	struct cfgkey_loc loc;		/* where the name was given */
	char		*key;		/* dotted path for the message */
	char		*name;		/* what was named */
	uint32_t	 obj;		/* the naming object, the deferrer's index */
	uint8_t		 kind;		/* the deferrer's enum */
};

/*
 * One read of one file.  The fields are read by the section modules; only
 * the cfgkey_* functions write them.
 */
struct cfgkey_ctx {
	const char	*file;		/* name used in messages, borrowed */
	char		*dir;		/* relative paths start here: "" or ends in / */
	yaml_document_t	 doc;		/* cfgkey_parse()'s tree */
	int		 loaded;	/* doc holds a tree to delete */
	struct config_errors *errs;	/* every error is appended here */
	struct cfgkey_ref *refs;	/* cfgkey_defer(), in call order */
	size_t		 nrefs;
	char		**kept;		/* cfgkey_keep(), freed by cfgkey_fini() */
	size_t		 nkept;
};

/*
 * Key tables.  The table vocabulary keeps the short cfg_ names: it is
 * spelled in every line of every table.
 */
enum cfg_type {
	CT_STR,		/* char *, xstrdup'd (the previous value is freed) */
	CT_U32,		/* uint32_t within [min, max] */
	CT_DUR,		/* int64_t ms within [min, max] ms */
	CT_DUR32,	/* uint32_t ms within [min, max] ms, max <= UINT32_MAX:
			   the Modbus client's settings (mbclient.h) */
	CT_DOUBLE,	/* double within [min, max] */
	CT_BOOL,	/* int 0/1 from true/false, yes/no, on/off */
	CT_ENUM,	/* int, index of the name in names() */
	CT_SIZE,	/* uint32_t from a size with suffix, within [min, max] */
	CT_FN,		/* fn(cx, node, base, path) */
	CT_SECTION,	/* a nested mapping read with sub, base + off */
	CT_LIST,	/* a list that replaces the default one: the count at
			   off (size bytes) is zeroed, then fn(cx, item,
			   base, "path[i]") appends each item */
};

struct cfgkey_ctx;
typedef void (*cfg_fn)(struct cfgkey_ctx *cx, yaml_node_t *n, void *base,
	    const char *path);
/* Name of enum value i, NULL past the last one. */
typedef const char *(*cfg_namefn)(int i);

struct cfg_key {
	const char	*name;
	enum cfg_type	 type;
	size_t		 off;		/* offset of the field in base */
	double		 min, max;	/* accepted range (durations: ms) */
	const char	*def;		/* default, parsed like a value; NULL: none */
	cfg_namefn	 names;		/* CT_ENUM */
	cfg_fn		 fn;		/* CT_FN; CT_LIST: per item */
	const struct cfg_key *sub;	/* CT_SECTION */
	size_t		 size;		/* CT_LIST: bytes of the count */
};

#define K_END	{ NULL, 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
#define KSTR(n, t, f, d) \
	{ n, CT_STR, offsetof(t, f), 0, 0, d, NULL, NULL, NULL, 0 }
#define KU32(n, t, f, lo, hi, d) \
	{ n, CT_U32, offsetof(t, f), lo, hi, d, NULL, NULL, NULL, 0 }
#define KSIZE(n, t, f, lo, hi, d) \
	{ n, CT_SIZE, offsetof(t, f), lo, hi, d, NULL, NULL, NULL, 0 }
/* A duration whose range is given in seconds. */
#define KDUR(n, t, f, lo, hi, d) \
	{ n, CT_DUR, offsetof(t, f), (lo) * 1000.0, (hi) * 1000.0, d, NULL, NULL, NULL, 0 }
/* The same into a uint32_t (hi at most 49 days). */
#define KDUR32(n, t, f, lo, hi, d) \
	{ n, CT_DUR32, offsetof(t, f), (lo) * 1000.0, (hi) * 1000.0, d, NULL, NULL, NULL, 0 }
#define KDBL(n, t, f, lo, hi, d) \
	{ n, CT_DOUBLE, offsetof(t, f), lo, hi, d, NULL, NULL, NULL, 0 }
#define KBOOL(n, t, f, d) \
	{ n, CT_BOOL, offsetof(t, f), 0, 1, d, NULL, NULL, NULL, 0 }
#define KENUM(n, t, f, names, d) \
	{ n, CT_ENUM, offsetof(t, f), 0, 0, d, names, NULL, NULL, 0 }
#define KFN(n, fn)	{ n, CT_FN, 0, 0, 0, NULL, NULL, fn, NULL, 0 }
#define KSEC(n, t, f, sub) \
	{ n, CT_SECTION, offsetof(t, f), 0, 0, NULL, NULL, NULL, sub, 0 }
/* A list of items fn appends to the array whose count is field count. */
#define KLIST(n, t, count, fn) \
	{ n, CT_LIST, offsetof(t, count), 0, 0, NULL, NULL, fn, NULL, \
	  sizeof(((t *)0)->count) }
/* A nested mapping whose keys are fields of the same struct. */
#define KFLAT(n, sub)	{ n, CT_SECTION, 0, 0, 0, NULL, NULL, NULL, sub, 0 }
/* One day in seconds, for KDUR ranges. */
#define K_DAY		86400.0

/* ------------------------------------------------------------------ */
/* A read */

/*
 * Starts a read of file (the name used in messages, borrowed: it must
 * outlive cx) whose errors go to errs.  Relative paths named in the file
 * resolve against file's directory.  End it with cfgkey_fini().
 */
void	 cfgkey_init(struct cfgkey_ctx *cx, const char *file,
	    struct config_errors *errs);
/* Frees the tree, the deferred names and the kept strings. */
void	 cfgkey_fini(struct cfgkey_ctx *cx);
/*
 * Parses buf[0..len) as YAML into cx->doc and gives its root node.  Returns
 * 0, or -EINVAL after reporting a syntax error (key "yaml", at the place
 * libyaml gave up) or an empty document.
 */
int	 cfgkey_parse(struct cfgkey_ctx *cx, const char *buf, size_t len,
	    yaml_node_t **root);
/* The node with this id in cx->doc (a pair's key or value, a list item). */
yaml_node_t *cfgkey_node(struct cfgkey_ctx *cx, int id);
/* The position of node n (NULL: the file as a whole). */
struct cfgkey_loc cfgkey_loc(struct cfgkey_ctx *cx, const yaml_node_t *n);
/*
 * Keeps a copy of s until cfgkey_fini() and returns it: a file name that
 * locations of deferred names point to.
 */
const char *cfgkey_keep(struct cfgkey_ctx *cx, const char *s);
/*
 * Remembers a name to resolve when the whole file is read; the copy is in
 * cx->refs[cx->nrefs - 1].  kind and obj are the caller's.
 */
void	 cfgkey_defer(struct cfgkey_ctx *cx, const struct cfgkey_loc *loc,
	    const char *key, const char *name, uint32_t obj, unsigned kind);
/*
 * Reads all of fp into *buf (free with xfree(), also on failure) and its
 * length into *len.  Returns 0, or -errno of the failed read with what was
 * read before it in *buf.
 */
int	 cfgkey_read(FILE *fp, char **buf, size_t *len);

/* ------------------------------------------------------------------ */
/* Errors */

/* Appends "FILE:LINE:COLUMN: key: message" at node n (NULL: the file). */
void	 cfgkey_error(struct cfgkey_ctx *cx, const yaml_node_t *n,
	    const char *key, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
/* The same at a location; NULL, or line 0, gives "FILE: key: message". */
void	 cfgkey_error_at(struct cfgkey_ctx *cx, const struct cfgkey_loc *loc,
	    const char *key, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
/* Appends a message formatted as given (a file that cannot be read at all). */
void	 cfgkey_errors_add(struct config_errors *errs, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Errors in cx's list so far: a check that needs a clean read compares. */
size_t	 cfgkey_nerrors(const struct cfgkey_ctx *cx);
/*
 * The closest of names[0..n) to s when it is a plausible typo (edit
 * distance at most 0, 1 or 2 for names of up to 2, 4 or more characters),
 * else NULL.
 */
const char *cfgkey_suggest(const char *s, const char *const *names, size_t n);
/*
 * Reports v as an unknown what ("value", "weekday", ...) at node at: with
 * "did you mean" when a name is close, else with the list of names.
 */
void	 cfgkey_bad_name(struct cfgkey_ctx *cx, yaml_node_t *at,
	    const char *path, const char *what, const char *v, cfg_namefn names);

/* ------------------------------------------------------------------ */
/* Walking */

/*
 * Checks that n is of type t.  Returns 0 when it is; 1 when n is an empty
 * plain scalar ("key:"), which the caller reads as an empty list or
 * mapping; -EINVAL after reporting anything else.
 */
int	 cfgkey_expect(struct cfgkey_ctx *cx, yaml_node_t *n, yaml_node_type_t t,
	    const char *path);
/* The text of scalar n, or NULL after reporting what n is instead. */
const char *cfgkey_scalar(struct cfgkey_ctx *cx, yaml_node_t *n,
	    const char *path);
/*
 * Parses text by k's type into base + k->off, range checked.  n is where an
 * error is reported (NULL: the file).  Returns 0, or -EINVAL after
 * reporting; the field is then unchanged.  CT_FN, CT_SECTION and CT_LIST
 * entries are not values: -EINVAL without a report.
 */
int	 cfgkey_value(struct cfgkey_ctx *cx, const struct cfg_key *k,
	    yaml_node_t *n, const char *text, void *base, const char *path);
/* Sets every key of the table that has a default, nested sections too. */
void	 cfgkey_defaults(struct cfgkey_ctx *cx, const struct cfg_key *keys,
	    void *base);
/*
 * Frees the string of every CT_STR key of the table in base, nested
 * sections too, and sets it to NULL: the table that reads the strings is
 * the list of what to free, so a key added to it cannot leak.
 */
void	 cfgkey_free(const struct cfg_key *keys, void *base);
/*
 * Walks mapping node with the table keys, writing into base.  Unknown keys
 * (with a suggestion) and duplicates are reported and skipped.  When at is
 * not NULL, at[i] receives the value node of keys[i] or NULL when absent,
 * so the caller can report cross-field errors at the right line (at has one
 * entry per key).  An empty value ("section:") is an empty mapping.
 * Returns 0, or -EINVAL after reporting that node is not a mapping.
 */
int	 cfgkey_map(struct cfgkey_ctx *cx, yaml_node_t *node,
	    const struct cfg_key *keys, void *base, const char *path,
	    yaml_node_t **at);
/*
 * Reads one item of a list or keyed mapping: the table's defaults into
 * base, then cfgkey_map() of node over them.  Returns cfgkey_map's result.
 */
int	 cfgkey_item(struct cfgkey_ctx *cx, yaml_node_t *node,
	    const struct cfg_key *keys, void *base, const char *path,
	    yaml_node_t **at);
/* Calls fn(cx, item, arg, "path[i]") for each item of list node. */
void	 cfgkey_list(struct cfgkey_ctx *cx, yaml_node_t *node, const char *path,
	    cfg_fn fn, void *arg);
/* fn(cx, item, its text, arg, path) for cfgkey_scalars(). */
typedef void (*cfg_scalarfn)(struct cfgkey_ctx *cx, yaml_node_t *n,
	    const char *text, void *arg, const char *path);
/*
 * Calls fn(cx, item, text, arg, "path[i]") for each scalar of list node;
 * an item that is not a scalar is reported.
 */
void	 cfgkey_scalars(struct cfgkey_ctx *cx, yaml_node_t *node,
	    const char *path, cfg_scalarfn fn, void *arg);
/* fn(cx, key node, key, value node, arg, path) for cfgkey_pairs(). */
typedef void (*cfg_pairfn)(struct cfgkey_ctx *cx, yaml_node_t *kn,
	    const char *key, yaml_node_t *vn, void *arg, const char *path);
/*
 * Calls fn(cx, kn, key, vn, arg, "path.key") for each pair of mapping
 * node whose keys are names of the caller's (profile ids, calendar names);
 * a key that is not a scalar is reported.  An empty value ("section:") is
 * an empty mapping.
 */
void	 cfgkey_pairs(struct cfgkey_ctx *cx, yaml_node_t *node,
	    const char *path, cfg_pairfn fn, void *arg);
/* A CT_FN that reads nothing: the caller reads the node through at[]. */
void	 cfgkey_nop(struct cfgkey_ctx *cx, yaml_node_t *n, void *base,
	    const char *path);
/* "parent.key", or "key" at the top; a path too long for buf is cut. */
void	 cfgkey_path(char *buf, size_t len, const char *parent, const char *key);
/* snprintf for key paths: a path too long for buf is cut, not an error. */
void	 cfgkey_fmt(char *buf, size_t len, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* CT_ENUM names of the model's enums that several sections read. */
const char *cfgkey_name_tier(int i);
const char *cfgkey_name_severity(int i);
const char *cfgkey_name_region(int i);

/* ------------------------------------------------------------------ */
/* Value parsers (config.h gives them to the rest of tocsin) */

/*
 * A duration: "0", or numbers each with a unit ms, s, m, h, d, w, e.g.
 * "500ms", "1.5s", "1h30m".  Returns 0 with *ms set, or -EINVAL with *why
 * set to a static explanation.
 */
int	 cfgkey_parse_duration(const char *s, int64_t *ms, const char **why);
/*
 * A size: digits with an optional suffix B, k/K, M, G (powers of 1000) or
 * KiB, MiB, GiB.  Returns 0 with *bytes set, or -EINVAL with *why set.
 */
int	 cfgkey_parse_size(const char *s, uint64_t *bytes, const char **why);

#endif
