/*
 * promtext.c - see promtext.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/promtext.h"

#define PT_FAMILIES	512

static int
name_start(int c)
{
	return isalpha(c) || c == '_' || c == ':';
}

static int
name_char(int c)
{
	return isalnum(c) || c == '_' || c == ':';
}

/* A metric name at *p; advances; 0 or -1. */
static int
pt_name(const char **p, char *out, size_t len)
{
	const char *s = *p;
	size_t n = 0;

	if (!name_start((unsigned char)*s))
		return -1;
	while (name_char((unsigned char)s[n]))
		n++;
	if (n >= len)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	*p = s + n;
	return 0;
}

struct pt_family {
	char	 name[128];
	char	 type[16];
};

static const struct pt_family *
pt_find(const struct pt_family *f, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(f[i].name, name) == 0)
			return &f[i];
	return NULL;
}

/* The family a sample name belongs to (histogram/summary suffixes). */
static const struct pt_family *
pt_family_of(const struct pt_family *f, int n, const char *name)
{
	static const char *const sfx[] = { "_bucket", "_sum", "_count" };
	const struct pt_family *hit = pt_find(f, n, name);
	char base[128];

	if (hit != NULL)
		return hit;
	for (size_t i = 0; i < 3; i++) {
		size_t l = strlen(name), k = strlen(sfx[i]);

		if (l > k && strcmp(name + l - k, sfx[i]) == 0) {
			snprintf(base, sizeof(base), "%.*s", (int)(l - k), name);
			hit = pt_find(f, n, base);
			if (hit != NULL && (strcmp(hit->type, "histogram") == 0 ||
			    (strcmp(hit->type, "summary") == 0 && i > 0)))
				return hit;
		}
	}
	return NULL;
}

int
promtext_check(const char *text, const char *forbidden, int *nsamples,
    int *nfamilies, char *why, size_t len)
{
	static struct pt_family fam[PT_FAMILIES];
	int nf = 0, ns = 0, lineno = 0;
	const char *l = text;

	*nsamples = *nfamilies = 0;
	while (*l != '\0') {
		const char *e = strchr(l, '\n'), *p = l;
		char name[128], lname[128];
		const struct pt_family *f;

		lineno++;
		if (e == NULL) {
			snprintf(why, len, "line %d: no newline at the end",
			    lineno);
			return -1;
		}
		if (*p == '#') {
			char kind[8], type[16];

			if (sscanf(p, "# %7s ", kind) == 1 &&
			    (strcmp(kind, "HELP") == 0 ||
			    strcmp(kind, "TYPE") == 0)) {
				p += 2 + strlen(kind) + 1;
				if (pt_name(&p, name, sizeof(name)) != 0 ||
				    (*p != ' ' && p != e)) {
					snprintf(why, len, "line %d: bad name "
					    "in # %s", lineno, kind);
					return -1;
				}
				if (strcmp(kind, "TYPE") == 0) {
					if (sscanf(p, " %15s", type) != 1 ||
					    (strcmp(type, "counter") != 0 &&
					    strcmp(type, "gauge") != 0 &&
					    strcmp(type, "histogram") != 0 &&
					    strcmp(type, "summary") != 0 &&
					    strcmp(type, "untyped") != 0)) {
						snprintf(why, len, "line %d: "
						    "bad type", lineno);
						return -1;
					}
					if (pt_find(fam, nf, name) != NULL) {
						snprintf(why, len, "line %d: "
						    "%s declared twice", lineno,
						    name);
						return -1;
					}
					if (nf == PT_FAMILIES) {
						snprintf(why, len, "too many "
						    "families");
						return -1;
					}
					snprintf(fam[nf].name,
					    sizeof(fam[nf].name), "%s", name);
					snprintf(fam[nf].type,
					    sizeof(fam[nf].type), "%s", type);
					nf++;
				}
			}
			l = e + 1;
			continue;
		}
		if (p == e) {
			l = e + 1;
			continue;
		}
		if (pt_name(&p, name, sizeof(name)) != 0) {
			snprintf(why, len, "line %d: bad metric name", lineno);
			return -1;
		}
		if ((f = pt_family_of(fam, nf, name)) == NULL) {
			snprintf(why, len, "line %d: sample %s has no TYPE "
			    "before it", lineno, name);
			return -1;
		}
		if (strcmp(f->type, "counter") == 0 &&
		    (strlen(name) < 6 || strcmp(name + strlen(name) - 6,
		    "_total") != 0)) {
			snprintf(why, len, "line %d: counter %s does not end "
			    "in _total", lineno, name);
			return -1;
		}
		if (*p == '{') {
			p++;
			while (*p != '}') {
				if (pt_name(&p, lname, sizeof(lname)) != 0 ||
				    strchr(lname, ':') != NULL ||
				    *p++ != '=' || *p++ != '"') {
					snprintf(why, len, "line %d: bad label",
					    lineno);
					return -1;
				}
				if (forbidden != NULL &&
				    strcmp(lname, forbidden) == 0) {
					snprintf(why, len, "line %d: label %s "
					    "on %s", lineno, lname, name);
					return -1;
				}
				while (*p != '"' && p < e) {
					if (*p == '\\') {
						if (p[1] != '\\' && p[1] != '"' &&
						    p[1] != 'n') {
							snprintf(why, len, "line "
							    "%d: bad escape",
							    lineno);
							return -1;
						}
						p++;
					}
					p++;
				}
				if (p >= e) {
					snprintf(why, len, "line %d: unclosed "
					    "label value", lineno);
					return -1;
				}
				p++;
				if (*p == ',')
					p++;
				else if (*p != '}') {
					snprintf(why, len, "line %d: bad label "
					    "list", lineno);
					return -1;
				}
			}
			p++;
		}
		if (*p != ' ') {
			snprintf(why, len, "line %d: no space before the value",
			    lineno);
			return -1;
		}
		p++;
		{
			char *end;
			char val[64];

			snprintf(val, sizeof(val), "%.*s", (int)(e - p), p);
			if (val[strcspn(val, " ")] == ' ')
				val[strcspn(val, " ")] = '\0';	/* timestamp */
			if (strcmp(val, "+Inf") != 0 && strcmp(val, "-Inf") != 0 &&
			    strcmp(val, "NaN") != 0) {
				strtod(val, &end);
				if (end == val || *end != '\0') {
					snprintf(why, len, "line %d: value "
					    "\"%s\" is not a number", lineno,
					    val);
					return -1;
				}
			}
		}
		ns++;
		l = e + 1;
	}
	*nsamples = ns;
	*nfamilies = nf;
	return 0;
}

int
promtext_value(const char *text, const char *series, double *v)
{
	size_t n = strlen(series);

	for (const char *l = text; l != NULL && *l != '\0'; ) {
		if (strncmp(l, series, n) == 0 && l[n] == ' ') {
			*v = strtod(l + n + 1, NULL);
			return 0;
		}
		l = strchr(l, '\n');
		if (l != NULL)
			l++;
	}
	return -1;
}

const char *
promtext_type(const char *text, const char *name, char *buf, size_t len)
{
	char want[160];
	const char *p;

	snprintf(want, sizeof(want), "# TYPE %s ", name);
	if ((p = strstr(text, want)) == NULL)
		return NULL;
	p += strlen(want);
	snprintf(buf, len, "%.*s", (int)strcspn(p, "\n"), p);
	return buf;
}
