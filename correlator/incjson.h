/*
 * incjson.h - tocsin.incident/1: the JSON form of an incident event.
 *
 * One encoder for every consumer (Kafka tocsin.incidents, Redis, the file
 * sink, replay output, SSE), so the schema is written down once here and in
 * docs/correlation.md.  Output is deterministic: keys in a fixed order,
 * compact, times as RFC3339 UTC with milliseconds.  An event is the
 * incident's current state plus the timeline steps it appended
 * (ev->first_step on: top-level "steps") and incident.timeline_len; an
 * area incident names at most ev->links_max links and counts them all
 * (links_total), so a line is bounded however old or chatty its incident.
 */
#ifndef TOCSIN_INCJSON_H
#define TOCSIN_INCJSON_H

#include <stddef.h>
#include <stdint.h>

#include "correlator/corr.h"
#include "correlator/fleet.h"
#include "daemon/utc.h"

#define INCJSON_SCHEMA	"tocsin.incident/1"

/*
 * The module also writes tocsin's two other messages, with the same
 * writer (escaping, times, numbers): a raw alarm transition
 * (tocsin.alarms/1, the line `tocsind --replay` reads, docs/replay.md) and
 * a device's telemetry batch (tocsin.telemetry/1, docs/kafka.md).
 */

/* A timeline step's object in an appended line: line[off, off + len). */
struct incjson_span {
	uint32_t off, len;
};

/*
 * What a reader of an event line needs without decoding all of it (the
 * HTTP read API, daemon/view): the "steps" member and the incident's
 * filter fields, found by a scan that passes every other value undecoded.
 * Offsets are into json.
 */
struct incjson_scan {
	struct incjson_span steps;	/* the top-level "steps" member with
					 * the ',' before it (len 0: none):
					 * the event without it is the bytes
					 * before and after */
	struct incjson_span tier;	/* incident.tier's text, if has_tier */
	uint32_t ncust;			/* incident.customers[].id, in cust */
	uint8_t	 has_incident, has_tier;
	uint8_t	 planned, flapping, chronic;	/* incident's; 0 if absent */
};

/*
 * A buffer events are encoded into, reused from event to event by a caller
 * that writes many (replay, a shard's sink): no allocation per event once
 * it has grown to the largest, and the text of the last instants formatted
 * is kept (consecutive events repeat their times).  One thread's.
 */
struct incjson_buf {
	char	*p;			/* the bytes; not NUL-terminated */
	size_t	 n, cap;		/* bytes used, allocated */
	int64_t	 tms[4];		/* instants formatted, by ms & 3; k + 1
					 * (never an instant of slot k): empty */
	char	 tstr[4][UTC_LEN];	/* their text */
	/* The steps of the last line appended, when the caller sets
	 * spans_on (the journal keeps them for Redis' timeline lists): */
	struct incjson_span *spans;
	uint32_t nspans, capspans;
	uint8_t	 spans_on;
	/* When the caller sets acct_on, what incjson_scan() finds in that
	 * line, as its writer knows it (offsets into the line): acct_ok 1
	 * when the scan would read the line (no customer id it had to
	 * escape), the customer ids' places in acct_cust[0, acct.ncust).  A
	 * reader handed the line with its account needs no scan
	 * (daemon/view); a line only journaled needs none kept. */
	uint8_t	 acct_on;
	struct incjson_scan acct;
	struct incjson_span *acct_cust;
	uint32_t capcust;
	uint8_t	 acct_ok;
	size_t	 acct_start;		/* where the line began in p */
};

/* An empty buffer; incjson_buf_fini() frees it.  The caller may empty it
 * (n = 0) or take bytes out at any time. */
void	 incjson_buf_init(struct incjson_buf *b);
void	 incjson_buf_fini(struct incjson_buf *b);

/*
 * Appends the event at b->n as one compact JSON line and its newline:
 * the bytes incjson_encode() returns, then '\n'.  Returns the bytes
 * appended.  Out of memory aborts.
 */
size_t	 incjson_append(struct incjson_buf *b, const struct fleet *f,
	    const struct corr_event *ev);

/*
 * Encodes the event as one compact JSON line without the newline, written
 * directly (no tree): the bytes jansson's json_dumps(JSON_COMPACT) writes
 * for the same object.  Times are utc_format()'s.  Strings in the incident
 * must be valid UTF-8.  Returns a string the caller frees with free();
 * never NULL (out of memory aborts, as in mem.h).
 */
char	*incjson_encode(const struct fleet *f, const struct corr_event *ev);

/* A tocsin.alarms/1 message; strings NUL-terminated, valid UTF-8. */
struct incjson_alarm {
	int64_t		 at;		/* ms */
	const char	*device, *site, *code;
	uint8_t		 edge;		/* enum alarm_edge */
	uint8_t		 severity;	/* enum severity */
	double		 value;		/* not finite: null */
};

/*
 * Appends {"at":..,"device":..,"site":..,"code":..,"edge":"raise|clear",
 * "severity":..,"value":number|null} at b->n, no newline; returns the
 * bytes appended.  A value is written with %.17g (it reads back equal).
 */
size_t	 incjson_alarm(struct incjson_buf *b, const struct incjson_alarm *a);
/*
 * Appends a tocsin.alarms/1 tick, {"at":..,"tick":source}: stream time
 * (docs/scaleout.md, docs/replay.md), from source (NUL-terminated, valid
 * UTF-8, non-empty); no newline; returns the bytes appended.
 */
size_t	 incjson_tick(struct incjson_buf *b, int64_t at, const char *source);

/* A point's latest sample in a tocsin.telemetry/1 batch. */
struct incjson_sample {
	const char	*name;		/* the profile's point name */
	const char	*unit;		/* or NULL */
	double		 value;		/* not finite: null */
	int64_t		 at;		/* ms, when it was read */
	uint8_t		 quality;	/* enum fleet_quality */
};

/*
 * Appends {"device":..,"site":..,"samples":[{"point":..,"value":..,
 * "unit":..,"quality":..,"at":..},...]} at b->n, no newline; returns the
 * bytes appended.
 */
size_t	 incjson_telemetry(struct incjson_buf *b, const char *device,
	    const char *site, const struct incjson_sample *s, size_t n);


/*
 * Scans one event line (json, n bytes, without its newline): 0 and *out,
 * the customer ids in cust[0, out->ncust), or -1 when the line is not
 * one the scan reads as jansson would (not JSON, no incident object, a
 * customer without a plain string id, more than maxcust customers, an
 * escaped key or string it would have to decode, a member seen twice):
 * the caller then decodes it in full (jansson).  Never reads outside
 * [json, json + n).  test_incjson checks it against jansson on every
 * event of the rules stream; fuzz_incscan on any bytes.
 */
int	 incjson_scan(const char *json, size_t n, struct incjson_scan *out,
	    struct incjson_span *cust, size_t maxcust);

#endif
