/*
 * incjson.h - tocsin.incident/1: the JSON form of an incident event.
 *
 * One encoder for every consumer (Kafka tocsin.incidents, Redis, the file
 * sink, replay output, SSE), so the schema is written down once here and in
 * docs/correlation.md.  Output is deterministic: keys in a fixed order,
 * compact, times as RFC3339 UTC with milliseconds.
 */
#ifndef TOCSIN_INCJSON_H
#define TOCSIN_INCJSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "correlator/corr.h"
#include "correlator/fleet.h"

#define INCJSON_SCHEMA	"tocsin.incident/1"
#define INCJSON_TIMELEN	32	/* "2026-11-23T13:45:01.123Z" + NUL, with room */

/*
 * Builds the event object.  Returns a new reference (json_decref() it), or
 * NULL if jansson runs out of memory.
 */
json_t	*incjson_build(const struct fleet *f, const struct corr_event *ev);
/*
 * Encodes the event as one compact line without the newline: the same bytes
 * as json_dumps(incjson_build(f, ev), JSON_COMPACT), written directly
 * (several times faster).  Strings in the incident must be valid UTF-8.
 * Returns a string the caller frees with free(); never NULL (out of memory
 * aborts, as in mem.h).
 */
char	*incjson_encode(const struct fleet *f, const struct corr_event *ev);
/*
 * Writes ms since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (len
 * >= 25; years outside 0-9999 print as the epoch).
 */
void	 incjson_time(char *buf, size_t len, int64_t ms);

#endif
