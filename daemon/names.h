/*
 * names.h - enum values as the configuration, the JSON and the logs spell
 * them, from one table of strings per enum.
 *
 * Every enum tocsin prints or parses (tiers, severities, incident states,
 * Modbus tables, log levels, ...) has a static table of names indexed by
 * value; its module defines its *_name() and *_parse() with the macros
 * below, one line each (NAMES_FNS for both), and its header declares
 * them with NAMES_DECLARE, so the range check, the "?" for a value past
 * the end, the -EINVAL for an unknown name and the two signatures are
 * written once, here.
 */
#ifndef TOCSIN_NAMES_H
#define TOCSIN_NAMES_H

#include <errno.h>
#include <stddef.h>

/* names[v], or "?" for v >= n. */
const char *names_get(const char *const *names, size_t n, unsigned v);
/* The index of s in names[0..n), or -EINVAL. */
int	 names_find(const char *const *names, size_t n, const char *s);

/* const char *fn(type v): the name of v in the table names[count]. */
#define NAMES_GET_FN(fn, type, names, count)				\
	const char *fn(type v)						\
	{ return names_get(names, (count), (unsigned)v); }

/* int fn(const char *s, type *out): 0 and *out, or -EINVAL. */
#define NAMES_PARSE_FN(fn, type, names, count)				\
	int fn(const char *s, type *out)				\
	{								\
		int i_ = names_find(names, (count), s);			\
		if (i_ < 0)						\
			return i_;					\
		*out = (type)i_;					\
		return 0;						\
	}

/* Both of the above on one table: name_fn(v) and parse_fn(s, out). */
#define NAMES_FNS(name_fn, parse_fn, type, names, count)		\
	NAMES_GET_FN(name_fn, type, names, count)			\
	NAMES_PARSE_FN(parse_fn, type, names, count)

/*
 * The prototypes of a NAMES_FNS pair, for the module's header:
 *	const char *name_fn(type v);
 *	int parse_fn(const char *s, type *out);	0, or -EINVAL
 */
#define NAMES_DECLARE(name_fn, parse_fn, type)				\
	const char *name_fn(type v);					\
	int	 parse_fn(const char *s, type *out)

#endif
