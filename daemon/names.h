/*
 * names.h - enum values as the configuration, the JSON and the logs spell
 * them, from one table of strings per enum.
 *
 * Every enum tocsin prints or parses (tiers, severities, incident states,
 * Modbus tables, log levels, ...) has a static table of names indexed by
 * value; its module defines its *_name() and *_parse() with the two macros
 * below, one line each, so the range check, the "?" for a value past the
 * end and the -EINVAL for an unknown name are written once, here.
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

#endif
