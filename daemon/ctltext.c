/*
 * ctltext.c - see ctltext.h.  Both readers walk the text line by line
 * without changing it; a line is copied into a bounded buffer only where
 * it must be split.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ctltext.h"

#define CT_LINE_MAX	1024

static char *
ct_trim(char *s)
{
	size_t l;

	while (*s == ' ' || *s == '\t')
		s++;
	l = strlen(s);
	while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t' ||
	    s[l - 1] == '\r'))
		s[--l] = '\0';
	return s;
}

int
ctltext_conf(const char *text, ctltext_conf_fn *fn, void *arg, char *err,
    size_t errlen)
{
	unsigned lineno = 0;

	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t l = nl ? (size_t)(nl - text) : strlen(text);
		char line[CT_LINE_MAX], why[256], *k, *v, *eq;
		int rc;

		lineno++;
		if (l >= sizeof(line)) {
			snprintf(err, errlen, "%u: line over %d bytes", lineno,
			    CT_LINE_MAX - 1);
			return -EINVAL;
		}
		memcpy(line, text, l);
		line[l] = '\0';
		text += l + (nl ? 1 : 0);
		k = ct_trim(line);
		if (*k == '\0' || *k == '#')
			continue;
		if ((eq = strchr(k, '=')) == NULL) {
			snprintf(err, errlen, "%u: expected key = value",
			    lineno);
			return -EINVAL;
		}
		*eq = '\0';
		v = ct_trim(eq + 1);
		k = ct_trim(k);
		if (*k == '\0' || strspn(k, "abcdefghijklmnopqrstuvwxyz"
		    "0123456789_") != strlen(k)) {
			snprintf(err, errlen, "%u: bad key \"%.64s\"", lineno, k);
			return -EINVAL;
		}
		l = strlen(v);
		if (l >= 2 && v[0] == '"' && v[l - 1] == '"') {
			v[l - 1] = '\0';
			v++;
		}
		why[0] = '\0';
		if ((rc = fn(arg, k, v, why, sizeof(why))) < 0) {
			snprintf(err, errlen, "%u: %s", lineno, why);
			return rc;
		}
	}
	return 0;
}

/* 1 when the label block {a="x",b="y"} (from after '{') holds
 * label="value"; escapes in values compared as written. */
static int
ct_label_match(const char *p, const char *end, const char *label,
    const char *value)
{
	size_t ll = strlen(label), vl = strlen(value);

	while (p < end) {
		const char *q;

		while (p < end && (*p == ',' || *p == ' '))
			p++;
		q = p;
		while (q < end && *q != '=')
			q++;
		if (q + 1 >= end || q[1] != '"')
			return 0;
		if ((size_t)(q - p) == ll && memcmp(p, label, ll) == 0 &&
		    (size_t)(end - (q + 2)) > vl && memcmp(q + 2, value, vl) ==
		    0 && q[2 + vl] == '"')
			return 1;
		for (q += 2; q < end && *q != '"'; q++)
			if (*q == '\\' && q + 1 < end)
				q++;
		p = q + 1;
	}
	return 0;
}

int
ctltext_metric(const char *text, const char *name, const char *label,
    const char *value, double *sum)
{
	size_t nl = strlen(name);
	int n = 0;

	*sum = 0;
	while (*text) {
		const char *eol = strchr(text, '\n'), *p, *lb = NULL, *le = NULL;
		char num[64];
		size_t l;
		double d;
		char *end;

		if (eol == NULL)
			eol = text + strlen(text);
		p = text;
		text = *eol ? eol + 1 : eol;
		if (*p == '#' || (size_t)(eol - p) <= nl ||
		    memcmp(p, name, nl) != 0)
			continue;
		p += nl;
		if (*p == '{') {
			lb = p + 1;
			/* the block ends at a '}' outside quotes */
			for (le = lb; le < eol && *le != '}'; le++)
				if (*le == '"')
					for (le++; le < eol && *le != '"'; le++)
						if (*le == '\\' && le + 1 < eol)
							le++;
			if (le >= eol)
				continue;
			p = le + 1;
		}
		if (*p != ' ')
			continue;	/* a longer name: name_bucket, ... */
		if (label != NULL && (lb == NULL ||
		    !ct_label_match(lb, le, label, value)))
			continue;
		while (p < eol && *p == ' ')
			p++;
		l = strcspn(p, " \n");
		if (l == 0 || l >= sizeof(num) || p + l > eol)
			continue;
		memcpy(num, p, l);
		num[l] = '\0';
		d = strtod(num, &end);
		if (*end != '\0')
			continue;
		*sum += d;
		n++;
	}
	return n;
}
