/*
 * fuzz_chist.c - libFuzzer target for chist_closed(), the scale-out
 * history's look at a record of tocsin.incidents (daemon/chist): any bytes
 * are judged without a read past their end; where the word "closed" is
 * in them and jansson decodes them, the judgement is jansson's: a closed
 * event (1, at the time "at" gives) when "event" is "closed", another
 * event (0) when it is another string, -1 without "event" or a valid
 * "at", or with a line break; without the word, or not JSON, never 1.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon/chist.h"
#include "daemon/utc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1);	/* exact size for ASan */
	int64_t at = -1, want;
	const char *ev, *t;
	json_t *j;
	int rc;

	memcpy(s, data, size);
	rc = chist_closed(s, size, &at);
	if (rc < -1 || rc > 1)
		abort();
	/* what jansson and utc_parse say of it, where the word is there */
	if (size > 0 && memmem(s, size, "\"closed\"", 8) != NULL &&
	    (j = json_loadb(s, size, 0, NULL)) != NULL) {
		int breaks = memchr(s, '\n', size) != NULL ||
		    memchr(s, '\r', size) != NULL;

		ev = json_string_value(json_object_get(j, "event"));
		t = json_string_value(json_object_get(j, "at"));
		if (ev != NULL && t != NULL && utc_parse(t, strlen(t), &want) ==
		    0 && !breaks) {
			if (rc != (strcmp(ev, "closed") == 0))
				abort();
			if (rc == 1 && want != at)
				abort();
		} else if (rc != -1)
			abort();
		json_decref(j);
	} else if (rc == 1)
		abort();	/* a closed event is JSON with the word */
	free(s);
	return 0;
}
