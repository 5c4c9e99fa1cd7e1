/*
 * replay.c - see replay.h.
 *
 * The line parser is hand-written rather than jansson: a replay line is a
 * flat object of strings and numbers, and building a json_t tree per line
 * costs most of the time of a million-line replay.  It is strict about JSON
 * syntax (no trailing commas, no nesting, escapes checked), bounded by len
 * (lines are not NUL-terminated in the fuzz target) and fuzzed by
 * tests/fuzz/fuzz_replay.c.  One pass reads every key into the record and
 * notes which keys it saw; the kind of the line follows from those keys
 * (replay_kinds[] lists what each kind may and must carry), so key order
 * never matters.  Output goes through incjson, so replay bytes equal what
 * Kafka consumers see.
 *
 * The run feeds every line to one engine at the line's time: alarms with
 * corr_engine_alarm(), actions with corr_engine_action() (which advances
 * first), windows after corr_engine_advance() to the line's time, so a
 * window removed at 11:30 unplans its incidents at 11:30 and not at the
 * next alarm.  What the engine refuses is the recording's problem, not the
 * replay's: it is reported and counted, and --strict does not stop on it.
 *
 * Speed (docs/replay.md, "Speed"; corrbench's day, 1.07 M lines): a line in
 * exactly the layout tocsin writes goes through replay_parse_alarm(), a
 * fast path of literal compares that accepts a subset of what the general
 * parser accepts with the same result (2.3 -> 3.4 M lines/s parsing into
 * memory); every other line, good or bad, is read by the general parser,
 * so reports never change.  The fast path reads the day's date once
 * (utc_parse_memo()) and severities as words; replay_next() starts the
 * device, site and code look-ups together so their cache misses overlap;
 * replay_read_all() sizes its array from the file (3.1 -> 4.2-4.8 M lines/s
 * parsing into memory, docs/replay.md).
 *
 * Threads: the reader (a struct replay_reader: read, parse, look up) hands
 * every good line and every report, in file order, to an emit function as
 * a struct replay_msg.  On one thread (REPLAY_ONE_THREAD, and
 * replay_read_all()) emit applies it at once.  Otherwise the reader runs on
 * a thread of its own and emit queues the message in one daemon/ring
 * (struct replay_pipe) that the caller's thread drains into the engine:
 * that thread is the only one that writes out and err, so reports keep
 * line order and both streams get the one-thread run's bytes.  Each side
 * waits only on a bell (the engine for messages, the reader for room).
 * The one thing the reader changes that the engine reads is the fleet's
 * code table: before interning a new code it waits until the engine has
 * released every message (RM_DRAIN), and the engine's next message is
 * published after the change.  On corrbench's day the two threads took the
 * end to end from 5.9x to 2.3-2.4x the floor (with the cuts above), the
 * reader being the slower side.
 *
 * Why one file of about 1,650 lines: the reader, the parser and the run
 * share one contract, the record and report of a line (struct replay_rec,
 * the line numbers and wording of every report, --strict), and the fast
 * path, the two-thread hand-over and replay_read_all() each exist to keep
 * that contract byte for byte; split, each half would have to re-export
 * the other's internals.  The parts with their own contract are modules:
 * time (daemon/utc), the ring and bells (daemon/ring), the encoder
 * (correlator/incjson), the engine (correlator/corr).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "correlator/alarm.h"
#include "correlator/incjson.h"
#include "daemon/mem.h"
#include "daemon/ring.h"
#include "daemon/replay.h"
#include "daemon/utc.h"

struct replay_cur {
	const char *p;		/* next byte */
	const char *end;	/* one past the last byte */
};

/*
 * A string value once decoded: in place in the line when it is plain
 * ASCII without escapes (every id, code and time of a recorded day), else
 * in the caller's scratch buffer.  Never NUL-terminated in place.
 */
struct replay_span {
	const char *s;		/* first byte */
	size_t	 n;		/* bytes */
};

static inline void
replay_ws(struct replay_cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' ||
	    *c->p == '\r' || *c->p == '\n'))
		c->p++;
}

static int
replay_hex(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Well-formed UTF-8 (RFC 3629: no overlongs, surrogates or > U+10FFFF). */
static int
replay_utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t len;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i < len)
			return 0;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		i += len;
	}
	return 1;
}

/*
 * The general case of replay_string(): decodes the JSON string at c->p
 * (the opening quote) into buf (size len, NUL-terminated), *n its length.
 * Returns 0, -EINVAL on bad syntax, -ENAMETOOLONG if the text is len bytes
 * or more (buf then holds its first bytes and c->p is past the closing
 * quote).
 */
static int
replay_string_slow(struct replay_cur *c, char *buf, size_t len, size_t *outn)
{
	size_t n = 0;
	int toolong = 0;

	if (c->p >= c->end || *c->p != '"')
		return -EINVAL;
	c->p++;
	while (c->p < c->end && *c->p != '"') {
		unsigned char ch = (unsigned char)*c->p++;
		char tmp[4];
		size_t tl = 1;

		if (ch < 0x20)
			return -EINVAL;
		tmp[0] = (char)ch;
		if (ch == '\\') {
			if (c->p >= c->end)
				return -EINVAL;
			switch (*c->p++) {
			case '"': tmp[0] = '"'; break;
			case '\\': tmp[0] = '\\'; break;
			case '/': tmp[0] = '/'; break;
			case 'b': tmp[0] = '\b'; break;
			case 'f': tmp[0] = '\f'; break;
			case 'n': tmp[0] = '\n'; break;
			case 'r': tmp[0] = '\r'; break;
			case 't': tmp[0] = '\t'; break;
			case 'u': {
				unsigned u = 0;

				if (c->end - c->p < 4)
					return -EINVAL;
				for (int i = 0; i < 4; i++) {
					int h = replay_hex(*c->p++);
					if (h < 0)
						return -EINVAL;
					u = u << 4 | (unsigned)h;
				}
				/* Ids are plain text: no NUL, no surrogates. */
				if (u == 0 || (u >= 0xd800 && u <= 0xdfff))
					return -EINVAL;
				if (u < 0x80) {
					tmp[0] = (char)u;
				} else if (u < 0x800) {
					tmp[0] = (char)(0xc0 | u >> 6);
					tmp[1] = (char)(0x80 | (u & 0x3f));
					tl = 2;
				} else {
					tmp[0] = (char)(0xe0 | u >> 12);
					tmp[1] = (char)(0x80 | ((u >> 6) & 0x3f));
					tmp[2] = (char)(0x80 | (u & 0x3f));
					tl = 3;
				}
				break;
			}
			default:
				return -EINVAL;
			}
		}
		if (n + tl >= len) {
			toolong = 1;	/* keep scanning to the closing quote */
			continue;
		}
		memcpy(buf + n, tmp, tl);
		n += tl;
	}
	if (c->p >= c->end)
		return -EINVAL;
	c->p++;
	buf[n] = '\0';
	*outn = n;
	if (toolong)
		return -ENAMETOOLONG;
	/* Everything downstream (JSON out, Kafka, Redis) needs UTF-8. */
	return replay_utf8_ok((const unsigned char *)buf, n) ? 0 : -EINVAL;
}

#define REPLAY_ONES	0x0101010101010101ULL

/* replay_plain() finds a string's end from the word's lowest byte. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "replay_plain() reads 8 bytes a step as a little-endian word"
#endif

/*
 * The JSON string at c->p (the opening quote) when it is printable ASCII
 * without escapes: *sp is its text in place, c->p moves past it, returns
 * 0.  Otherwise returns -1 and moves nothing.  Eight bytes a step while
 * none of them ends the fast path: one compare per byte and no copy (the
 * byte-by-byte decoder was 14 % of a million-line replay).
 */
static inline int
replay_plain(struct replay_cur *c, struct replay_span *sp)
{
	const char *p, *q;

	if (c->p >= c->end || *c->p != '"')
		return -1;
	p = q = c->p + 1;
	while (c->end - q >= 8) {
		uint64_t w, stop;

		memcpy(&w, q, 8);
		/* high bit of a byte: < 0x20, '"', '\\' or >= 0x80
		 * (a borrow only runs up from a byte that is one) */
		stop = ((w - REPLAY_ONES * 0x20) |
		    ((w ^ REPLAY_ONES * '"') - REPLAY_ONES) |
		    ((w ^ REPLAY_ONES * '\\') - REPLAY_ONES) | w) &
		    REPLAY_ONES * 0x80;
		if (stop != 0) {
			/* The lowest flagged byte is a true stop byte (a
			 * borrow only runs up) and the first in the line: no
			 * byte loop to find it (10 % of a parse's instructions). */
			q += __builtin_ctzll(stop) / 8;
			if (*q != '"')
				return -1;
			sp->s = p;
			sp->n = (size_t)(q - p);
			c->p = q + 1;
			return 0;
		}
		q += 8;
	}
	for (; q < c->end; q++) {
		unsigned char ch = (unsigned char)*q;

		if (ch == '"') {
			sp->s = p;
			sp->n = (size_t)(q - p);
			c->p = q + 1;
			return 0;
		}
		if (ch == '\\' || ch < 0x20 || ch >= 0x80)
			break;
	}
	return -1;
}

/*
 * Reads the JSON string at c->p (the opening quote) as *sp: in place when
 * it is printable ASCII without escapes (replay_plain()), else decoded
 * into scratch (size len).  Returns 0, -EINVAL on bad syntax,
 * -ENAMETOOLONG when the text is len bytes or more (*sp then holds at
 * least its first len - 1 bytes and c->p is past the string).
 */
static int
replay_string(struct replay_cur *c, char *scratch, size_t len,
    struct replay_span *sp)
{
	int rc;

	if (replay_plain(c, sp) == 0)
		return sp->n >= len ? -ENAMETOOLONG : 0;
	rc = replay_string_slow(c, scratch, len, &sp->n);
	sp->s = scratch;
	return rc;
}

/* The span as a C string in buf (size len), cut to fit: for messages. */
static const char *
replay_cstr(char *buf, size_t len, const struct replay_span *sp)
{
	size_t n = sp->n < len - 1 ? sp->n : len - 1;

	memmove(buf, sp->s, n);		/* sp may be in buf already */
	buf[n] = '\0';
	return buf;
}

static int
replay_span_is(const struct replay_span *sp, const char *lit)
{
	return strncmp(lit, sp->s, sp->n) == 0 && lit[sp->n] == '\0';
}

/* A JSON number; returns 0 or -EINVAL. */
static int
replay_number(struct replay_cur *c, double *out)
{
	const char *s = c->p;
	char buf[64], *endp;
	size_t n;

	if (s < c->end && *s == '-')
		s++;
	if (s >= c->end || *s < '0' || *s > '9')
		return -EINVAL;
	if (*s == '0' && s + 1 < c->end && s[1] >= '0' && s[1] <= '9')
		return -EINVAL;
	while (s < c->end && ((*s >= '0' && *s <= '9') || *s == '.' ||
	    *s == 'e' || *s == 'E' || *s == '+' || *s == '-'))
		s++;
	n = (size_t)(s - c->p);
	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, c->p, n);
	buf[n] = '\0';
	*out = strtod(buf, &endp);
	if (endp != buf + n || !isfinite(*out))
		return -EINVAL;
	c->p = s;
	return 0;
}

static int
replay_literal(struct replay_cur *c, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
		return -EINVAL;
	c->p += n;
	return 0;
}

#define REPLAY_SKIPLEN	256	/* longest string value of an unknown key + 1 */

/* Skips a scalar value of a key we do not know. */
static int
replay_skip(struct replay_cur *c, char *scratch)
{
	struct replay_span sp;
	double d;

	if (c->p >= c->end)
		return -EINVAL;
	switch (*c->p) {
	case '"': {
		int rc = replay_string(c, scratch, REPLAY_SKIPLEN, &sp);
		return rc == -ENAMETOOLONG ? -EINVAL : rc;
	}
	case 't': return replay_literal(c, "true");
	case 'f': return replay_literal(c, "false");
	case 'n': return replay_literal(c, "null");
	default: return replay_number(c, &d);
	}
}

/*
 * Copies s into dst (len bytes, >= 8) for a message: cut on a UTF-8
 * boundary with "..." when longer, control bytes as '?', so a report stays
 * one line whatever a string held once its escapes were decoded.
 */
#define REPLAY_SHOWLEN	44	/* quotes 40 bytes of a value + "..." */
static const char *
replay_show(char *dst, size_t len, const char *s)
{
	size_t n = strlen(s), k;

	if (n > len - 1) {
		n = len - 4;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (k = 0; k < n; k++)
		dst[k] = (unsigned char)s[k] < 0x20 || s[k] == 0x7f ? '?' : s[k];
	if (s[n] != '\0') {
		memcpy(dst + k, "...", 3);
		k += 3;
	}
	dst[k] = '\0';
	return dst;
}

/* Every key a line may carry; the order is the order "missing" names them. */
#define REPLAY_KEYS(X)							\
	X(AT, "at") X(DEVICE, "device") X(SITE, "site") X(CODE, "code")	\
	X(EDGE, "edge") X(SEVERITY, "severity") X(VALUE, "value")	\
	X(INCIDENT, "incident") X(ACTION, "action") X(ACTOR, "actor")	\
	X(NOTE, "note") X(MAINT, "maintenance") X(ID, "id")		\
	X(AREA, "area") X(START, "start") X(END, "end") X(REASON, "reason") \
	X(SATISFACTION, "satisfaction") X(TICK, "tick")

#define RK_ENUM(e, s)	RK_##e,
#define RK_NAME(e, s)	s,
#define RK_LEN(e, s)	sizeof(s) - 1,

enum replay_key {
	REPLAY_KEYS(RK_ENUM)
	RK__COUNT
};

static const char *const replay_key_names[RK__COUNT] = {
	REPLAY_KEYS(RK_NAME)
};

static const uint8_t replay_key_lens[RK__COUNT] = {
	REPLAY_KEYS(RK_LEN)
};

#define RB(k)	(1u << (k))

/* The keys each kind may carry and those it must (docs/replay.md). */
static const struct {
	const char *name;	/* "... not a key of <name> lines" */
	unsigned keys;
	unsigned needs;
} replay_kinds[] = {
	[REPLAY_ALARM] = { "alarm",
	    RB(RK_AT) | RB(RK_DEVICE) | RB(RK_SITE) | RB(RK_CODE) | RB(RK_EDGE) |
	    RB(RK_SEVERITY) | RB(RK_VALUE),
	    RB(RK_AT) | RB(RK_DEVICE) | RB(RK_CODE) | RB(RK_EDGE) },
	[REPLAY_ACTION] = { "action",
	    RB(RK_AT) | RB(RK_INCIDENT) | RB(RK_ACTION) | RB(RK_ACTOR) |
	    RB(RK_NOTE) | RB(RK_SATISFACTION),
	    RB(RK_AT) | RB(RK_INCIDENT) | RB(RK_ACTION) | RB(RK_ACTOR) },
	[REPLAY_MAINT_ADD] = { "maintenance add",
	    RB(RK_AT) | RB(RK_MAINT) | RB(RK_ID) | RB(RK_SITE) | RB(RK_AREA) |
	    RB(RK_START) | RB(RK_END) | RB(RK_REASON),
	    RB(RK_AT) | RB(RK_MAINT) | RB(RK_ID) | RB(RK_START) | RB(RK_END) },
	[REPLAY_MAINT_REMOVE] = { "maintenance remove",
	    RB(RK_AT) | RB(RK_MAINT) | RB(RK_ID),
	    RB(RK_AT) | RB(RK_MAINT) | RB(RK_ID) },
	[REPLAY_TICK] = { "tick",
	    RB(RK_AT) | RB(RK_TICK),
	    RB(RK_AT) | RB(RK_TICK) },
};

/* The lowest key of a non-empty set. */
static const char *
replay_first_key(unsigned set)
{
	return replay_key_names[__builtin_ctz(set)];
}

/*
 * The key's index, or -1.  Length and first byte name one candidate: a
 * strcmp per name was 7% of a million-line replay's instructions, a
 * strncmp per name still 7% of parsing into memory.
 */
static int
replay_find_key(const struct replay_span *key)
{
	int k;

	if (key->n == 0)
		return -1;
	/* The candidates of each length differ in their first byte. */
	switch (key->n * 256 + (unsigned char)key->s[0]) {
	case 2 * 256 + 'a': k = RK_AT; break;
	case 6 * 256 + 'd': k = RK_DEVICE; break;
	case 4 * 256 + 's': k = RK_SITE; break;
	case 4 * 256 + 'c': k = RK_CODE; break;
	case 4 * 256 + 'e': k = RK_EDGE; break;
	case 8 * 256 + 's': k = RK_SEVERITY; break;
	case 5 * 256 + 'v': k = RK_VALUE; break;
	case 8 * 256 + 'i': k = RK_INCIDENT; break;
	case 6 * 256 + 'a': k = RK_ACTION; break;
	case 5 * 256 + 'a': k = RK_ACTOR; break;
	case 4 * 256 + 'n': k = RK_NOTE; break;
	case 11 * 256 + 'm': k = RK_MAINT; break;
	case 2 * 256 + 'i': k = RK_ID; break;
	case 4 * 256 + 'a': k = RK_AREA; break;
	case 5 * 256 + 's': k = RK_START; break;
	case 3 * 256 + 'e': k = RK_END; break;
	case 6 * 256 + 'r': k = RK_REASON; break;
	case 12 * 256 + 's': k = RK_SATISFACTION; break;
	case 4 * 256 + 't': k = RK_TICK; break;
	default: return -1;
	}
	return replay_key_lens[k] == key->n &&
	    memcmp(replay_key_names[k], key->s, key->n) == 0 ? k : -1;
}

#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); return -EINVAL; } while (0)

/*
 * Reads the value of known key k at c->p into out (*remove: the value of
 * "maintenance" was "remove"), decoding strings with escapes into scratch
 * (REPLAY_NOTELEN bytes).  Returns 0, or -EINVAL with a reason in err.
 */
static int
replay_value(struct replay_cur *c, int k, struct replay_rec *out, int *remove,
    char *scratch, char *err, size_t errlen)
{
	const char *key = replay_key_names[k];
	char val[REPLAY_IDLEN], show[REPLAY_SHOWLEN], *dst = NULL;
	size_t dlen = REPLAY_IDLEN;	/* ids, times and names */
	struct replay_span v;
	double d;
	int rc;

	if (k == RK_VALUE) {
		if (c->p < c->end && *c->p == 'n') {
			if (replay_literal(c, "null") != 0)
				BAD("value: bad literal");
		} else if (replay_number(c, &out->value) != 0) {
			BAD("value: not a number");
		}
		return 0;
	}
	if (k == RK_ID) {
		if (c->p >= c->end || *c->p == '"' ||
		    replay_number(c, &d) != 0 || d < 1 || d > UINT32_MAX ||
		    d != floor(d))
			BAD("id: want an integer from 1 to %" PRIu32,
			    UINT32_MAX);
		out->maint_id = (uint32_t)d;
		return 0;
	}
	if (k == RK_SATISFACTION) {
		if (c->p >= c->end || *c->p == '"' ||
		    replay_number(c, &d) != 0 || d < 1 || d > 5 ||
		    d != floor(d))
			BAD("satisfaction: want an integer from 1 to 5");
		out->satisfaction = (uint8_t)d;
		return 0;
	}
	if (c->p >= c->end || *c->p != '"')
		BAD("%s: not a string", key);
	/* Ids and text are kept in their field, the rest read in place. */
	switch (k) {
	case RK_DEVICE: dst = out->device; dlen = sizeof(out->device); break;
	case RK_SITE: dst = out->site; dlen = sizeof(out->site); break;
	case RK_AREA: dst = out->area; dlen = sizeof(out->area); break;
	case RK_ACTOR:
	case RK_TICK:
		dst = out->actor;
		dlen = sizeof(out->actor);
		break;
	case RK_INCIDENT:
		dst = out->incident;
		dlen = sizeof(out->incident);
		break;
	case RK_NOTE:
	case RK_REASON:
		dst = out->note;
		dlen = sizeof(out->note);
		break;
	}
	rc = replay_string(c, scratch, dlen, &v);
	if (rc == -ENAMETOOLONG && k == RK_CODE)
		rc = 0;		/* fleet_code_check() says why below */
	if (rc == -ENAMETOOLONG)
		BAD("%s: longer than %zu bytes", key, dlen - 1);
	if (rc != 0)
		BAD("%s: bad string", key);
	if (dst != NULL) {
		memcpy(dst, v.s, v.n);
		dst[v.n] = '\0';
	}
	switch (k) {
	case RK_AT:
	case RK_START:
	case RK_END: {
		int64_t *t = k == RK_AT ? &out->at_ms : k == RK_START ?
		    &out->start_ms : &out->end_ms;

		if (utc_parse(v.s, v.n, t) != 0)
			BAD("%s: not an RFC3339 time: %s", key,
			    replay_show(show, sizeof(show),
			    replay_cstr(val, sizeof(val), &v)));
		break;
	}
	case RK_DEVICE:
	case RK_INCIDENT:
	case RK_ACTOR:
	case RK_TICK:
		if (v.n == 0)
			BAD("%s: empty", key);
		break;
	case RK_CODE:
		/* The rule is fleet_code_check()'s, on the code as stored. */
		if (v.n <= FLEET_CODE_MAX) {
			memcpy(out->code, v.s, v.n);
			out->code[v.n] = '\0';
		}
		if (v.n > FLEET_CODE_MAX || fleet_code_check(out->code) != 0) {
			out->code[0] = '\0';
			BAD("bad alarm code \"%s\" (A-Z, 0-9 and _ only, 1-%d "
			    "bytes)", replay_show(show, sizeof(show),
			    replay_cstr(val, sizeof(val), &v)), FLEET_CODE_MAX);
		}
		break;
	case RK_EDGE:
		if (replay_span_is(&v, "raise"))
			out->edge = ALARM_RAISE;
		else if (replay_span_is(&v, "clear"))
			out->edge = ALARM_CLEAR;
		else
			BAD("edge: want raise or clear: %s",
			    replay_show(show, sizeof(show),
			    replay_cstr(val, sizeof(val), &v)));
		break;
	case RK_SEVERITY: {
		enum severity sv;

		if (fleet_severity_parse(replay_cstr(val, sizeof(val), &v),
		    &sv) != 0)
			BAD("severity: unknown: %s",
			    replay_show(show, sizeof(show), val));
		out->severity = (uint8_t)sv;
		break;
	}
	case RK_ACTION: {
		enum corr_action_type at;

		if (corr_action_parse(replay_cstr(val, sizeof(val), &v),
		    &at) != 0)
			BAD("action: unknown: %s (want ack, dispatch, on_site, "
			    "resolve, close, note, pause or resume)",
			    replay_show(show, sizeof(show), val));
		out->action = (uint8_t)at;
		break;
	}
	case RK_MAINT:
		if (replay_span_is(&v, "add"))
			*remove = 0;
		else if (replay_span_is(&v, "remove"))
			*remove = 1;
		else
			BAD("maintenance: want add or remove: %s",
			    replay_show(show, sizeof(show),
			    replay_cstr(val, sizeof(val), &v)));
		break;
	}
	return 0;
}

/* Moves c past the literal lit when it is next: 1, else 0. */
#define REPLAY_LIT(c, lit) ((size_t)((c)->end - (c)->p) >= sizeof(lit) - 1 && \
	memcmp((c)->p, (lit), sizeof(lit) - 1) == 0 ? \
	((c)->p += sizeof(lit) - 1, 1) : 0)

/* A plain string value of at most len - 1 bytes into dst: 0, or -1. */
static inline int
replay_plain_to(struct replay_cur *c, char *dst, size_t len)
{
	struct replay_span v;

	if (replay_plain(c, &v) != 0 || v.n >= len)
		return -1;
	memcpy(dst, v.s, v.n);
	dst[v.n] = '\0';
	return 0;
}

/*
 * The date of the last line's time, per thread (the reader's), so that a
 * day of lines has its date read once (utc_parse_memo()); it never
 * changes a result, which fuzz_replay checks against the general parser.
 */
static _Thread_local struct utc_memo replay_utc_memo;

/*
 * fleet_severity_name()'s names as two zero-padded words each, per thread,
 * filled at its first alarm line: the fast path compares a severity as two
 * words, not with fleet_severity_parse()'s strcmp() per name (120
 * instructions and 6 % of a parse's time).  A name of 16 bytes or more
 * gets a word no padded string has (the last byte not 0), so it is left
 * to the general parser, which says the same.
 */
static _Thread_local uint64_t replay_sev_words[SEV__COUNT][2];
static _Thread_local int replay_sev_ready;

/* The severity in sev (16 bytes, zero-padded), or -1. */
static int
replay_severity(const char sev[16])
{
	uint64_t a, b;

	if (!replay_sev_ready) {
		for (int sv = 0; sv < SEV__COUNT; sv++) {
			const char *nm = fleet_severity_name((enum severity)sv);
			char pad[16] = { 0 };
			size_t n = strlen(nm);

			memcpy(pad, nm, n < sizeof(pad) ? n : 0);
			memcpy(replay_sev_words[sv], pad, sizeof(pad));
			if (n >= sizeof(pad))
				replay_sev_words[sv][1] = ~0ULL;
		}
		replay_sev_ready = 1;
	}
	memcpy(&a, sev, 8);
	memcpy(&b, sev + 8, 8);
	for (int sv = 0; sv < SEV__COUNT; sv++)
		if (replay_sev_words[sv][0] == a && replay_sev_words[sv][1] == b)
			return sv;
	return -1;
}

/*
 * The fast path of replay_parse_line(): an alarm line exactly as tocsin
 * writes tocsin.alarms/1 (these keys in this order, no spaces, plain
 * strings, "at" checked by utc_parse_memo(), utc_parse()'s answer), which
 * is every line of a recorded day.  Returns 0 with *out filled as the general parser fills it, or -1
 * for anything else, good or bad: the general parser then reads the line
 * again and says what is wrong.  So it accepts a subset of what the
 * general parser accepts, with the same result; nothing is reported here.
 * The key-by-key parse was 30 % of parsing a recorded day into memory.
 */
static int
replay_parse_alarm(const char *line, size_t len, struct replay_rec *out)
{
	struct replay_cur c = { line, line + len };
	struct replay_span v;
	char sev[16] = { 0 };	/* zero-padded for replay_severity() */
	int sv;

	if (len > 0 && line[len - 1] == '\n')
		c.end--;
	/* a time is an id-sized string, as the general parser takes it */
	if (!REPLAY_LIT(&c, "{\"at\":") || replay_plain(&c, &v) != 0 ||
	    v.n >= REPLAY_IDLEN ||
	    utc_parse_memo(v.s, v.n, &replay_utc_memo, &out->at_ms) != 0)
		return -1;
	if (!REPLAY_LIT(&c, ",\"device\":") ||
	    replay_plain_to(&c, out->device, sizeof(out->device)) != 0 ||
	    out->device[0] == '\0')
		return -1;
	if (REPLAY_LIT(&c, ",\"site\":") &&
	    replay_plain_to(&c, out->site, sizeof(out->site)) != 0)
		return -1;
	if (!REPLAY_LIT(&c, ",\"code\":") ||
	    replay_plain_to(&c, out->code, sizeof(out->code)) != 0 ||
	    fleet_code_check(out->code) != 0)
		return -1;
	if (!REPLAY_LIT(&c, ",\"edge\":\""))
		return -1;
	if (REPLAY_LIT(&c, "raise\""))
		out->edge = ALARM_RAISE;
	else if (REPLAY_LIT(&c, "clear\""))
		out->edge = ALARM_CLEAR;
	else
		return -1;
	if (REPLAY_LIT(&c, ",\"severity\":")) {
		if (replay_plain_to(&c, sev, sizeof(sev)) != 0 ||
		    (sv = replay_severity(sev)) < 0)
			return -1;
		out->severity = (uint8_t)sv;
	}
	if (REPLAY_LIT(&c, ",\"value\":") && !REPLAY_LIT(&c, "null") &&
	    (c.p >= c.end || *c.p == 'n' || replay_number(&c, &out->value) != 0))
		return -1;
	if (!REPLAY_LIT(&c, "}") || c.p != c.end)
		return -1;
	return 0;
}

/* The record before a line fills it. */
static void
replay_rec_clear(struct replay_rec *out)
{
	/* Field by field: a memset of the whole record costs more than a
	 * line's parse (the note alone is 1 KB). */
	out->at_ms = 0;
	out->kind = REPLAY_ALARM;
	out->edge = 0;
	out->severity = SEV_MAJOR;
	out->value = NAN;
	out->device[0] = out->site[0] = out->code[0] = '\0';
	out->action = 0;
	out->incident[0] = out->actor[0] = out->note[0] = '\0';
	out->satisfaction = 0;
	out->maint_id = 0;
	out->area[0] = '\0';
	out->start_ms = out->end_ms = 0;
}

int
replay_parse_line(const char *line, size_t len, struct replay_rec *out,
    char *err, size_t errlen)
{
	replay_rec_clear(out);
	if (replay_parse_alarm(line, len, out) == 0)
		return 0;
	return replay_parse_general(line, len, out, err, errlen);
}

int
replay_parse_general(const char *line, size_t len, struct replay_rec *out,
    char *err, size_t errlen)
{
	struct replay_cur c = { line, line + len };
	struct replay_span key;
	unsigned seen = 0, kind;
	char kbuf[32], scratch[REPLAY_NOTELEN], show[REPLAY_SHOWLEN];
	int rc, k, remove = 0;

	replay_rec_clear(out);		/* the fast path may have begun */
	replay_ws(&c);
	if (c.p >= c.end || *c.p != '{')
		BAD("not a JSON object");
	c.p++;
	replay_ws(&c);
	if (c.p < c.end && *c.p == '}')
		BAD("empty object");
	for (;;) {
		replay_ws(&c);
		/* Keys are at most 31 bytes; a longer one is unknown. */
		if ((rc = replay_string(&c, kbuf, sizeof(kbuf), &key)) ==
		    -ENAMETOOLONG)
			key.n = 0;	/* a long unknown key: skip its value */
		else if (rc != 0)
			BAD("bad key at column %zu", (size_t)(c.p - line) + 1);
		replay_ws(&c);
		if (c.p >= c.end || *c.p++ != ':')
			BAD("expected ':' at column %zu", (size_t)(c.p - line));
		replay_ws(&c);
		/* A key may hold any text once unescaped: quote it safely. */
		if (c.p < c.end && (*c.p == '{' || *c.p == '['))
			BAD("%s: nested values are not allowed",
			    replay_show(show, sizeof(show),
			    replay_cstr(kbuf, sizeof(kbuf), &key)));
		if ((k = replay_find_key(&key)) < 0) {
			if (replay_skip(&c, scratch) != 0)
				BAD("%s: bad value", replay_show(show,
				    sizeof(show), replay_cstr(kbuf,
				    sizeof(kbuf), &key)));
		} else if (replay_value(&c, k, out, &remove, scratch, err,
		    errlen) != 0) {
			return -EINVAL;
		} else {
			seen |= RB(k);
		}
		replay_ws(&c);
		if (c.p < c.end && *c.p == ',') {
			c.p++;
			continue;
		}
		if (c.p < c.end && *c.p == '}') {
			c.p++;
			break;
		}
		BAD("expected ',' or '}' at column %zu", (size_t)(c.p - line) + 1);
	}
	replay_ws(&c);
	if (c.p != c.end)
		BAD("trailing bytes at column %zu", (size_t)(c.p - line) + 1);
	if ((seen & RB(RK_ACTION)) && (seen & RB(RK_MAINT)))
		BAD("action and maintenance on one line: an action or a window, "
		    "not both");
	kind = seen & RB(RK_ACTION) ? REPLAY_ACTION : seen & RB(RK_MAINT) ?
	    (remove ? REPLAY_MAINT_REMOVE : REPLAY_MAINT_ADD) :
	    seen & RB(RK_TICK) ? REPLAY_TICK : REPLAY_ALARM;
	out->kind = (uint8_t)kind;
	if (seen & ~replay_kinds[kind].keys) {
		int extra = __builtin_ctz(seen & ~replay_kinds[kind].keys);

		/* The likeliest slip: each kind names its free text its way. */
		BAD("%s: not a key of %s lines%s", replay_key_names[extra],
		    replay_kinds[kind].name, extra == RK_NOTE ?
		    " (a window's text is \"reason\")" : extra == RK_REASON ?
		    " (an action's text is \"note\")" : "");
	}
	if (replay_kinds[kind].needs & ~seen)
		BAD("missing %s",
		    replay_first_key(replay_kinds[kind].needs & ~seen));
	if ((seen & RB(RK_SATISFACTION)) && out->action != CORR_ACT_CLOSE)
		BAD("satisfaction: only a close carries the customer's rating");
	if (kind == REPLAY_MAINT_ADD) {
		if (!(seen & (RB(RK_SITE) | RB(RK_AREA))))
			BAD("a window needs a site or an area");
		if ((seen & RB(RK_SITE)) && (seen & RB(RK_AREA)))
			BAD("a window has a site or an area, not both");
		if (out->site[0] == '\0' && out->area[0] == '\0')
			BAD("%s: empty", seen & RB(RK_SITE) ? "site" : "area");
		if (out->end_ms <= out->start_ms)
			BAD("end: not after start");
	}
	return 0;
}

#undef BAD

/* ---- the run ---- */

#define REPLAY_REPORT_MAX 20	/* per-line reports of each kind */

#define REPLAY_BUFLEN	(1u << 20)	/* read size; a longer line grows it */
#define REPLAY_OUTLEN	(256u << 10)	/* events buffered before a write */
#define REPLAY_SLOTS	8192		/* the reader's ring, messages */
#define REPLAY_BATCH	256		/* messages published at a time */

/* An action or window line on its way to the engine. */
struct replay_line {
	struct replay_rec rec;
	unsigned long lineno;	/* for the engine's reports */
};

/* What the reader hands the engine: one per good line or report. */
enum replay_msgtype {
	RM_ALARM,		/* ev: an alarm transition */
	RM_LINE,		/* ptr: a struct replay_line (action, window,
				 * tick) */
	RM_REPORT,		/* ptr: one line of text for err (with '\n') */
	RM_FLUSH,		/* the reader is about to wait for input */
	RM_END,			/* no more; the reader's result is its own */
	RM_DRAIN,		/* never queued: the reader waits until the
				 * engine has handled every line sent */
};

struct replay_msg {
	struct alarm_event ev;	/* RM_ALARM */
	void	*ptr;		/* RM_LINE, RM_REPORT; owned by the ring's
				 * consumer when it crossed threads */
	uint8_t	 type;		/* enum replay_msgtype */
};

struct replay_reader;
typedef void (*replay_emit_fn)(struct replay_reader *, struct replay_msg *);

/* Reading state shared by replay_run() and replay_read_all(). */
struct replay_reader {
	int	 fd;		/* the input (0 for "-") */
	int	 eof;		/* read() said end of file, or failed */
	int	 rerr;		/* errno of a failed read(), or 0 */
	FILE	*err;		/* reports, when not async */
	struct fleet *fleet;
	int	 strict;
	int	 late;		/* REPLAY_LATE */
	int	 async;		/* on a thread of its own: reports and new
				 * codes go through emit */
	replay_emit_fn emit;	/* where good lines and reports go */
	void	*emit_arg;
	char	*buf;		/* lines read, not all parsed yet */
	size_t	 cap;		/* size of buf */
	size_t	 pos;		/* next line starts at buf + pos */
	size_t	 end;		/* bytes in buf */
	int64_t	 last_at;	/* time of the last accepted line */
	struct replay_line cur;	/* the line being read */
	unsigned long nlate;	/* lines behind the latest, applied */
	unsigned long lineno, nalarms, malformed, ooo, unknown_dev,
		 unknown_site, mismatch;
};

/*
 * A report about a line: to err at once, or, from the reader's thread, as
 * a message that the engine's thread writes in its turn, so that err gets
 * every report in line order from one thread.
 */
static void __attribute__((format(printf, 2, 3)))
replay_report(struct replay_reader *rd, const char *fmt, ...)
{
	struct replay_msg m = { .type = RM_REPORT };
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	if (!rd->async) {
		vfprintf(rd->err, fmt, ap);
		va_end(ap);
		return;
	}
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	m.ptr = xstrdup(text);
	rd->emit(rd, &m);
}

/*
 * The next line of the input with its newline (none on an unterminated
 * last line) in *line: returns its length, or 0 at the end of the input or
 * after a read error (rd->rerr).  Lines are read in blocks of
 * REPLAY_BUFLEN bytes and handed out in place, so a line costs a memchr,
 * not a getline() call (stdio's lock and copy per line).  Before it waits
 * for input it emits RM_FLUSH, so events of the lines read so far go out
 * (from a pipe they are not held back until a block fills).  *line stays
 * valid until the next call.
 */
static size_t
replay_getline(struct replay_reader *rd, const char **line)
{
	size_t scan = rd->pos;

	for (;;) {
		const char *nl = memchr(rd->buf + scan, '\n', rd->end - scan);
		struct replay_msg flush = { .type = RM_FLUSH };
		size_t n;
		ssize_t r;

		if (nl != NULL) {
			*line = rd->buf + rd->pos;
			n = (size_t)(nl + 1 - *line);
			rd->pos += n;
			return n;
		}
		if (rd->eof) {
			*line = rd->buf + rd->pos;
			n = rd->rerr == 0 ? rd->end - rd->pos : 0;
			rd->pos = rd->end;
			return n;
		}
		/* The partial line moves to the front; one that fills the
		 * buffer doubles it. */
		memmove(rd->buf, rd->buf + rd->pos, rd->end - rd->pos);
		rd->end -= rd->pos;
		rd->pos = 0;
		scan = rd->end;
		if (rd->end == rd->cap) {
			rd->cap *= 2;
			rd->buf = xrealloc(rd->buf, rd->cap);
		}
		rd->emit(rd, &flush);
		do
			r = read(rd->fd, rd->buf + rd->end, rd->cap - rd->end);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			rd->rerr = errno;
		if (r <= 0)
			rd->eof = 1;
		else
			rd->end += (size_t)r;
	}
}

/*
 * Interns a code the fleet does not know.  From the reader's thread it
 * first waits until the engine has handled every line sent so far
 * (RM_DRAIN), because interning may move the
 * fleet's code table under the engine's reads; the engine's next message
 * is published after it, so the engine sees the new table.
 */
static uint16_t
replay_new_code(struct replay_reader *rd, const char *code)
{
	struct replay_msg drain = { .type = RM_DRAIN };

	rd->emit(rd, &drain);
	return fleet_code(rd->fleet, code);
}

/*
 * The next good line of the file: an alarm's transition goes to emit as
 * RM_ALARM, an action, window or tick line as RM_LINE (rd->cur).  Returns
 * 1, 0 at the end, or -EINVAL when strict mode stops on a bad line.  Bad lines
 * are reported (unknown ids only for the first REPLAY_REPORT_MAX of each
 * kind).
 */
static int
replay_next(struct replay_reader *rd)
{
	struct fleet *fleet = rd->fleet;
	struct replay_rec *rec = &rd->cur.rec;
	char msg[160], show[REPLAY_SHOWLEN];
	struct replay_msg m = { .type = RM_ALARM };
	const char *line;
	size_t n;

	while ((n = replay_getline(rd, &line)) != 0) {
		struct alarm_event *ev = &m.ev;
		uint32_t dev, site, s;
		size_t k;
		int code;

		rd->lineno++;
		for (k = 0; k < (size_t)n && (line[k] == ' ' || line[k] == '\t' ||
		    line[k] == '\r' || line[k] == '\n'); k++)
			;
		if (k == (size_t)n)
			continue;	/* blank line */
		if (replay_parse_line(line, (size_t)n, rec, msg,
		    sizeof(msg)) != 0) {
			rd->malformed++;
			replay_report(rd, "replay: line %lu: malformed: %s\n",
			    rd->lineno, msg);
			if (rd->strict)
				return -EINVAL;
			continue;
		}
		if (rec->at_ms < rd->last_at && rd->late)
			rd->nlate++;	/* applied at its own time */
		else if (rec->at_ms < rd->last_at) {
			rd->ooo++;
			replay_report(rd, "replay: line %lu: out of order: %.*s is "
			    "before the previous line\n", rd->lineno, 40, line);
			if (rd->strict)
				return -EINVAL;
			continue;
		} else
			rd->last_at = rec->at_ms;
		if (rec->kind != REPLAY_ALARM) {
			/* the engine judges them */
			struct replay_msg lm = { .type = RM_LINE,
			    .ptr = &rd->cur };

			rd->cur.lineno = rd->lineno;
			rd->emit(rd, &lm);
			return 1;
		}
		/*
		 * The three look-ups first, none waiting for another: each is
		 * a cache miss on a 100,000-device fleet, and so they overlap
		 * (one after the other, device -> its site -> that site's id
		 * string, they were most of a parse's time).  The line's site
		 * is checked by its index, which is what strcmp() with the
		 * device's site's id told.  An unknown code is interned below,
		 * once the line is known good.
		 */
		dev = fleet_find(fleet, FLEET_DEVICE, rec->device);
		s = rec->site[0] != '\0' ?
		    fleet_find(fleet, FLEET_SITE, rec->site) : FLEET_NONE;
		code = fleet_find_code(fleet, rec->code);
		if (dev == FLEET_NONE) {
			if (rd->unknown_dev++ < REPLAY_REPORT_MAX)
				replay_report(rd, "replay: line %lu: unknown "
				    "device %s\n", rd->lineno, replay_show(show,
				    sizeof(show), rec->device));
			continue;
		}
		site = fleet->devices[dev].site;
		if (rec->site[0] != '\0' && s != site) {
			char show2[REPLAY_SHOWLEN];

			if (s == FLEET_NONE) {
				if (rd->unknown_site++ < REPLAY_REPORT_MAX)
					replay_report(rd, "replay: line %lu: "
					    "unknown site %s\n", rd->lineno,
					    replay_show(show, sizeof(show),
					    rec->site));
				continue;
			}
			if (rd->mismatch++ < REPLAY_REPORT_MAX)
				replay_report(rd, "replay: line %lu: device %s "
				    "is not at site %s\n", rd->lineno,
				    replay_show(show, sizeof(show), rec->device),
				    replay_show(show2, sizeof(show2), rec->site));
			continue;
		}
		memset(ev, 0, sizeof(*ev));
		ev->at_ms = rec->at_ms;
		ev->value = rec->value;
		ev->device = dev;
		ev->site = site;
		ev->point = FLEET_NONE;
		/* A code the fleet does not know yet is interned once. */
		ev->code = code >= 0 ? (uint16_t)code : replay_new_code(rd,
		    rec->code);
		ev->edge = rec->edge;
		ev->severity = rec->severity;
		if (ev->code == UINT16_MAX) {
			rd->malformed++;
			replay_report(rd, "replay: line %lu: too many alarm "
			    "codes\n", rd->lineno);
			if (rd->strict)
				return -EINVAL;
			continue;
		}
		rd->nalarms++;
		rd->emit(rd, &m);
		return 1;
	}
	return 0;
}

static int
replay_open(struct replay_reader *rd, const char *path, struct fleet *fleet,
    int strict, FILE *err)
{
	memset(rd, 0, sizeof(*rd));
	rd->err = err;
	rd->fleet = fleet;
	rd->strict = strict;
	rd->last_at = INT64_MIN;
	if (strcmp(path, "-") == 0) {
		rd->fd = STDIN_FILENO;
	} else if ((rd->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		int rc = -errno;

		fprintf(err, "replay: %s: %s\n", path, strerror(errno));
		return rc;
	}
	rd->cap = REPLAY_BUFLEN;
	rd->buf = xmalloc(rd->cap);
	return 0;
}

/* Closes the input: 0, or -EIO if reading failed. */
static int
replay_close(struct replay_reader *rd, const char *path)
{
	int rc = 0;

	if (rd->rerr != 0) {
		fprintf(rd->err, "replay: %s: read error: %s\n", path,
		    strerror(rd->rerr));
		rc = -EIO;
	}
	if (rd->fd != STDIN_FILENO)
		close(rd->fd);
	xfree(rd->buf);
	return rc;
}

/* The engine's side of a run: the one thread that writes out and err. */
struct replay_engine {
	struct corr_engine *e;
	const struct fleet *fleet;
	FILE	*out;
	FILE	*err;
	int	 werr;		/* a write failed */
	struct incjson_buf ob;	/* events encoded, not yet written */
	int64_t	 last;		/* time of the last line the engine took */
	unsigned long nactions, actions_rejected, nmaint, maint_rejected;
	unsigned long nticks;
};

/* Writes the buffered events to out (one fwrite: stdio passes a large
 * one straight to write(2)). */
static void
replay_out_flush(struct replay_engine *re)
{
	if (re->ob.n > 0 && fwrite(re->ob.p, 1, re->ob.n, re->out) != re->ob.n)
		re->werr = 1;
	re->ob.n = 0;
}

static void
replay_event(void *arg, const struct corr_event *ev)
{
	struct replay_engine *re = arg;

	incjson_append(&re->ob, re->fleet, ev);
	if (re->ob.n >= REPLAY_OUTLEN)
		replay_out_flush(re);
}

static const struct corr_sink_ops replay_sink_ops = {
	.event = replay_event,
	.rejected = NULL,
};

int
replay_rec_action(struct corr_engine *e, const struct replay_rec *rec,
    char *why, size_t whylen)
{
	struct corr_action a = {
		.incident = rec->incident,
		.type = rec->action,
		.actor = rec->actor,
		.note = rec->note[0] != '\0' ? rec->note : NULL,
		.at = rec->at_ms,
		.satisfaction = rec->satisfaction,
	};

	return corr_engine_action(e, &a, why, whylen) == 0 ? 0 : -1;
}

/* An action line: applied at its time, or reported and counted. */
static void
replay_action(struct replay_engine *re, const struct replay_line *l)
{
	const struct replay_rec *rec = &l->rec;
	char why[160], show[REPLAY_SHOWLEN], whyshow[sizeof(why)];

	if (replay_rec_action(re->e, rec, why, sizeof(why)) == 0) {
		re->nactions++;
		return;
	}
	/* The engine's reason may quote the id or the owner. */
	if (re->actions_rejected++ < REPLAY_REPORT_MAX)
		fprintf(re->err, "replay: line %lu: action %s on %s rejected: "
		    "%s\n", l->lineno,
		    corr_action_name((enum corr_action_type)rec->action),
		    replay_show(show, sizeof(show), rec->incident),
		    replay_show(whyshow, sizeof(whyshow), why));
}

int
replay_rec_maint(struct corr_engine *e, const struct fleet *f,
    const struct replay_rec *rec, char *why, size_t whylen)
{
	struct corr_maint m = {
		.site = FLEET_NONE,
		.area = FLEET_NONE,
		.start_ms = rec->start_ms,
		.end_ms = rec->end_ms,
		.reason = rec->note,
	};
	char show[REPLAY_SHOWLEN];

	/* Windows that ended by now end first, as in a live engine. */
	corr_engine_advance(e, rec->at_ms);
	if (rec->kind == REPLAY_MAINT_REMOVE) {
		if (corr_engine_maint_remove(e, rec->maint_id) == 0)
			return 0;
		snprintf(why, whylen, "no window %" PRIu32, rec->maint_id);
	} else if (rec->site[0] != '\0' &&
	    (m.site = fleet_find(f, FLEET_SITE, rec->site)) == FLEET_NONE)
		snprintf(why, whylen, "unknown site %s",
		    replay_show(show, sizeof(show), rec->site));
	else if (rec->site[0] == '\0' &&
	    (m.area = fleet_find(f, FLEET_AREA, rec->area)) == FLEET_NONE)
		snprintf(why, whylen, "unknown area %s",
		    replay_show(show, sizeof(show), rec->area));
	else {
		if (m.site != FLEET_NONE)
			m.area = f->sites[m.site].area;
		if (corr_engine_maint_put(e, rec->maint_id, &m) == 0)
			return 0;
		snprintf(why, whylen, "id %" PRIu32 " is taken",
		    rec->maint_id);
	}
	return -1;
}

/* A maintenance line: applied at its time, or reported. */
static void
replay_maint(struct replay_engine *re, const struct replay_line *l)
{
	const struct replay_rec *rec = &l->rec;
	char why[96];

	if (replay_rec_maint(re->e, re->fleet, rec, why, sizeof(why)) == 0) {
		re->nmaint++;
		return;
	}
	if (re->maint_rejected++ < REPLAY_REPORT_MAX)
		fprintf(re->err, "replay: line %lu: maintenance %s %" PRIu32
		    " rejected: %s\n", l->lineno, rec->kind == REPLAY_MAINT_ADD ?
		    "add" : "remove", rec->maint_id, why);
}

/*
 * One message at the engine, in file order.  Each line advances the
 * engine to its time first, so SLA marks and window ends come out in
 * event time between the lines.
 */
static void
replay_apply(struct replay_engine *re, const struct replay_msg *m)
{
	const struct replay_line *l = m->ptr;

	switch (m->type) {
	case RM_ALARM:
		corr_engine_alarm(re->e, &m->ev);
		re->last = m->ev.at_ms;
		break;
	case RM_LINE:
		if (l->rec.kind == REPLAY_ACTION)
			replay_action(re, l);
		else if (l->rec.kind == REPLAY_TICK) {
			/* stream time (docs/scaleout.md): what comes due by
			 * then does, on a quiet stream too */
			corr_engine_advance(re->e, l->rec.at_ms);
			re->nticks++;
		} else
			replay_maint(re, l);
		re->last = l->rec.at_ms;
		break;
	case RM_REPORT:
		fputs(m->ptr, re->err);
		break;
	case RM_FLUSH:
		replay_out_flush(re);
		break;
	case RM_END:
	case RM_DRAIN:		/* one thread: the engine is done already */
		break;
	}
}

/* One thread: each line goes to the engine as it is read. */
static void
replay_emit_direct(struct replay_reader *rd, struct replay_msg *m)
{
	replay_apply(rd->emit_arg, m);
}

/*
 * Two threads.  The reader's thread reads, parses and looks up; the
 * caller's thread runs the engine, encodes and writes (out and err).
 * Between them one ring of struct replay_msg, published REPLAY_BATCH at a
 * time (and before the reader waits for input or for the engine), and
 * two bells: `data` the engine sleeps on when the ring is empty, `room`
 * the reader sleeps on when it is full or when it waits for the engine to
 * finish every line sent (a new alarm code, see replay_new_code()).  Lines
 * and reports cross in file order and one engine takes them in that
 * order, so out and err get the bytes of the one-thread run.
 */
struct replay_pipe {
	struct ring	 ring;		/* reader -> engine */
	struct ring_bell data;		/* rung by the reader after publishing */
	struct ring_bell room;		/* rung by the engine after releasing */
	struct replay_reader rd;	/* the reader thread's */
	unsigned	 unpublished;	/* reader: committed, not published */
	int		 result;	/* reader: replay_next()'s last result */
};

static void
replay_pipe_publish(struct replay_pipe *pp)
{
	ring_publish(&pp->ring);
	pp->unpublished = 0;
	ring_bell_ring(&pp->data);
}

/*
 * Reader: publishes, then waits until the engine has released every
 * message (a new code, see replay_new_code()).
 */
static void
replay_pipe_drain(struct replay_pipe *pp)
{
	replay_pipe_publish(pp);
	for (;;) {
		uint32_t t = ring_bell_prepare(&pp->room);

		if (ring_backlog(&pp->ring) == 0) {
			ring_bell_cancel(&pp->room);
			return;
		}
		ring_bell_wait(&pp->room, t, -1);
	}
}

static void
replay_emit_ring(struct replay_reader *rd, struct replay_msg *m)
{
	struct replay_pipe *pp = rd->emit_arg;
	struct replay_msg *slot;

	if (m->type == RM_DRAIN) {
		replay_pipe_drain(pp);
		return;
	}
	if ((slot = ring_reserve(&pp->ring)) == NULL) {
		replay_pipe_publish(pp);
		while (!ring_wait_room(&pp->ring, &pp->room, -1))
			;
		slot = ring_reserve(&pp->ring);
	}
	*slot = *m;
	if (m->type == RM_LINE) {
		struct replay_line *copy = xmalloc(sizeof(*copy));

		*copy = *(const struct replay_line *)m->ptr;
		slot->ptr = copy;
	}
	ring_commit(&pp->ring);
	if (++pp->unpublished >= REPLAY_BATCH || m->type == RM_FLUSH ||
	    m->type == RM_END)
		replay_pipe_publish(pp);
}

static void *
replay_reader_main(void *arg)
{
	struct replay_pipe *pp = arg;
	struct replay_msg end = { .type = RM_END };
	int r;

	while ((r = replay_next(&pp->rd)) == 1)
		;
	pp->result = r;
	replay_emit_ring(&pp->rd, &end);
	return NULL;
}

/* The engine's side: takes messages in order until RM_END. */
static void
replay_pipe_consume(struct replay_pipe *pp, struct replay_engine *re)
{
	for (;;) {
		size_t n = ring_wait_data(&pp->ring, &pp->data, -1);
		int end = 0;

		for (size_t i = 0; i < n; i++) {
			const struct replay_msg *m = ring_slot(&pp->ring, i);

			replay_apply(re, m);
			if (m->type == RM_LINE || m->type == RM_REPORT)
				xfree(m->ptr);
			end |= m->type == RM_END;
		}
		ring_release(&pp->ring, n);
		ring_bell_ring(&pp->room);
		if (end)
			return;
	}
}

/* Reads the whole input through re: on this thread or on a reader's. */
static int
replay_feed(struct replay_reader *rd, struct replay_engine *re, int threads)
{
	struct replay_pipe *pp;
	pthread_t th;
	int r, rc;

	if (!threads) {
		rd->emit = replay_emit_direct;
		rd->emit_arg = re;
		while ((r = replay_next(rd)) == 1)
			;
		return r;
	}
	pp = mem_calloc_lines(1, sizeof(*pp));
	if (ring_init(&pp->ring, REPLAY_SLOTS, sizeof(struct replay_msg)) != 0)
		abort();	/* constant arguments */
	pp->rd = *rd;
	pp->rd.async = 1;
	pp->rd.emit = replay_emit_ring;
	pp->rd.emit_arg = pp;
	if ((rc = pthread_create(&th, NULL, replay_reader_main, pp)) != 0) {
		/* no second thread: the same bytes on this one */
		ring_fini(&pp->ring);
		xfree(pp);
		return replay_feed(rd, re, 0);
	}
	replay_pipe_consume(pp, re);
	pthread_join(th, NULL);
	r = pp->result;
	*rd = pp->rd;		/* its counters and buffer, for the summary */
	ring_fini(&pp->ring);
	xfree(pp);
	return r;
}

int
replay_run(const char *path, struct fleet *fleet, const struct corr_config *cc,
    int flags, FILE *out, FILE *err)
{
	struct replay_engine re = { .fleet = fleet, .out = out, .err = err,
	    .last = INT64_MIN };
	struct corr_sink sink = { &replay_sink_ops, &re };
	struct replay_reader rd;
	struct corr_stats st;
	int rc, r;

	if ((rc = replay_open(&rd, path, fleet, flags & REPLAY_STRICT,
	    err)) != 0)
		return rc;
	if ((re.e = corr_engine_new(fleet, cc, (unsigned)flags >> 8 & 0xff,
	    &sink)) == NULL) {
		fprintf(err, "replay: bad correlation config\n");
		replay_close(&rd, path);
		return -EINVAL;
	}
	incjson_buf_init(&re.ob);
	rd.late = (flags & REPLAY_LATE) != 0;
	r = replay_feed(&rd, &re, !(flags & REPLAY_ONE_THREAD));
	/*
	 * At the end of the input time stops at the last line that reached
	 * the engine: what would come due later is left unsaid (the recording
	 * does not say the day went on).
	 */
	if (re.last != INT64_MIN)
		corr_engine_advance(re.e, re.last);
	replay_out_flush(&re);
	rc = replay_close(&rd, path);
	corr_engine_stats(re.e, &st);
	fprintf(err, "replay: lines=%lu alarms=%lu malformed=%lu "
	    "out_of_order=%lu unknown_device=%lu unknown_site=%lu "
	    "site_mismatch=%lu incidents=%" PRIu64 " area_incidents=%" PRIu64
	    " events=%" PRIu64 " repeats=%" PRIu64 " stray_clears=%" PRIu64
	    " explained=%" PRIu64 " reparented=%" PRIu64 " reraised=%" PRIu64
	    " open_at_end=%" PRIu64 " sla_warnings=%" PRIu64 " sla_breaches=%"
	    PRIu64 " escalations=%" PRIu64 " actions=%lu actions_rejected=%lu "
	    "maintenance=%lu maintenance_rejected=%lu ticks=%lu\n", rd.lineno,
	    rd.nalarms, rd.malformed, rd.ooo, rd.unknown_dev, rd.unknown_site,
	    rd.mismatch, st.opened, st.area_opened, st.events, st.repeats,
	    st.stray_clears, st.explained, st.reparented, st.reraised,
	    st.live_incidents, st.sla_warnings, st.sla_breaches, st.escalations,
	    re.nactions, re.actions_rejected, re.nmaint, re.maint_rejected,
	    re.nticks);
	if (rd.late)
		fprintf(err, "replay: late=%lu (lines behind the latest time, "
		    "applied at their own)\n", rd.nlate);
	if (fflush(out) == EOF || re.werr) {
		fprintf(err, "replay: writing events failed\n");
		if (rc == 0)
			rc = -EIO;
	}
	if (rc == 0 && r < 0)
		rc = r;
	incjson_buf_fini(&re.ob);
	corr_engine_free(re.e);
	return rc;
}

/* Bytes of the shortest line that is an alarm, about: for sizing. */
#define REPLAY_MINLINE	64

/* replay_read_all(): alarms into a growing array. */
struct replay_all {
	struct alarm_event *arr;
	size_t	 n, cap;
};

static void
replay_emit_all(struct replay_reader *rd, struct replay_msg *m)
{
	struct replay_all *ra = rd->emit_arg;

	if (m->type != RM_ALARM)
		return;		/* actions and windows need an engine */
	if (ra->n == ra->cap) {
		ra->cap = ra->cap ? ra->cap * 2 : 4096;
		ra->arr = xreallocarray(ra->arr, ra->cap, sizeof(*ra->arr));
	}
	ra->arr[ra->n++] = m->ev;
}

int
replay_read_all(const char *path, struct fleet *fleet, int strict,
    struct alarm_event **out, size_t *nout, FILE *err)
{
	struct replay_reader rd;
	struct replay_all ra = { NULL, 0, 0 };
	struct stat st;
	int rc, r;

	*out = NULL;
	*nout = 0;
	if ((rc = replay_open(&rd, path, fleet, strict, err)) != 0)
		return rc;
	/*
	 * Room for every line of a file at once, from its size: growing by
	 * doubling copied the array 20 times over a 1M-line day and faulted
	 * in every page twice (5 % of parsing into memory).  Pages never
	 * written are never touched, and the end gives the rest back.
	 */
	if (fstat(rd.fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size / REPLAY_MINLINE > 0) {
		ra.cap = (size_t)(st.st_size / REPLAY_MINLINE) + 1;
		ra.arr = xreallocarray(NULL, ra.cap, sizeof(*ra.arr));
	}
	rd.emit = replay_emit_all;
	rd.emit_arg = &ra;
	while ((r = replay_next(&rd)) == 1)
		;
	rc = replay_close(&rd, path);
	if (rc == 0 && r < 0)
		rc = r;
	if (rc != 0) {
		xfree(ra.arr);
		return rc;
	}
	if (ra.n < ra.cap)
		ra.arr = xreallocarray(ra.arr, ra.n ? ra.n : 1, sizeof(*ra.arr));
	*out = ra.arr;
	*nout = ra.n;
	return 0;
}
