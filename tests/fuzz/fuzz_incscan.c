/*
 * fuzz_incscan.c - libFuzzer target for incjson_scan(), the read API's
 * scan of an event line (correlator/incjson): any bytes are read or
 * refused, never read past their end; and a line it reads that jansson
 * also decodes gives what jansson gives: the incident's customers' ids,
 * tier, planned, flapping and chronic, and the line without its "steps"
 * member decodes to jansson's object without it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "correlator/incjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
same_str(const char *line, struct incjson_span sp, json_t *v)
{
	return json_is_string(v) && json_string_length(v) == sp.len &&
	    memcmp(json_string_value(v), line + sp.off, sp.len) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct incjson_span cust[8];
	struct incjson_scan sc;
	json_t *root, *inc, *cs, *c, *cut;
	char *s, *rest;
	size_t i;

	/* an exact-size copy: ASan sees any read past the end */
	s = malloc(size ? size : 1);
	memcpy(s, data, size);
	if (incjson_scan(s, size, &sc, cust, 8) != 0) {
		free(s);
		return 0;
	}
	if (sc.steps.len > size || sc.steps.off > size - sc.steps.len ||
	    sc.ncust > 8 || (sc.has_tier && (sc.tier.len > size ||
	    sc.tier.off > size - sc.tier.len)))
		abort();
	for (i = 0; i < sc.ncust; i++)
		if (cust[i].len > size || cust[i].off > size - cust[i].len)
			abort();
	root = json_loadb(s, size, 0, NULL);
	if (root == NULL) {	/* the scan does not check what it skips */
		free(s);
		return 0;
	}
	inc = json_object_get(root, "incident");
	if (!json_is_object(inc))
		abort();
	cs = json_object_get(inc, "customers");
	if (json_array_size(cs) != sc.ncust)
		abort();
	json_array_foreach(cs, i, c)
		if (!same_str(s, cust[i], json_object_get(c, "id")))
			abort();
	if (sc.has_tier != (json_object_get(inc, "tier") != NULL) ||
	    (sc.has_tier && !same_str(s, sc.tier, json_object_get(inc,
	    "tier"))))
		abort();
	if (sc.planned != json_is_true(json_object_get(inc, "planned")) ||
	    sc.flapping != json_is_true(json_object_get(inc, "flapping")) ||
	    sc.chronic != json_is_true(json_object_get(inc, "chronic")))
		abort();
	/* the line without the member is the object without it */
	rest = malloc(size + 1);
	memcpy(rest, s, sc.steps.off);
	memcpy(rest + sc.steps.off, s + sc.steps.off + sc.steps.len,
	    size - sc.steps.off - sc.steps.len);
	cut = json_loadb(rest, size - sc.steps.len, 0, NULL);
	(void)json_object_del(root, "steps");
	if (cut == NULL || !json_equal(cut, root))
		abort();
	json_decref(cut);
	json_decref(root);
	free(rest);
	free(s);
	return 0;
}
