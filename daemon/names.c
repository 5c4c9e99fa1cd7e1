/*
 * names.c - see names.h.
 */
#include <string.h>

#include "daemon/names.h"

const char *
names_get(const char *const *names, size_t n, unsigned v)
{
	return v < n ? names[v] : "?";
}

int
names_find(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -EINVAL;
}
