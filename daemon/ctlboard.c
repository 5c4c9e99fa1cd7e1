/*
 * ctlboard.c - see ctlboard.h.  The board is an array sorted after every
 * change (hundreds to a few thousand incidents: a sort per event costs
 * microseconds, and the frame is drawn at most once a second or per key).
 * Lookups by id are linear for the same reason.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "correlator/corr.h"
#include "correlator/sla.h"
#include "correlator/snapbuf.h"
#include "daemon/ctlboard.h"
#include "daemon/mem.h"
#include "daemon/names.h"
#include "daemon/utc.h"

void
ctlboard_init(struct ctlboard *b)
{
	memset(b, 0, sizeof(*b));
}

void
ctlboard_fini(struct ctlboard *b)
{
	FREE_NULL(b->v);
	b->n = b->cap = 0;
}

/* Copies a JSON string into dst, bytes outside printable ASCII as '?'. */
static void
cb_copy(char *dst, size_t len, const json_t *s)
{
	const char *v = json_is_string(s) ? json_string_value(s) : "";
	size_t i;

	for (i = 0; v[i] && i + 1 < len; i++)
		dst[i] = v[i] >= 0x20 && v[i] < 0x7f ? v[i] : '?';
	dst[i] = '\0';
}

static int64_t
cb_time(const json_t *s)
{
	int64_t ms;

	if (!json_is_string(s) || utc_parse(json_string_value(s),
	    json_string_length(s), &ms) != 0)
		return 0;
	return ms;
}

/* The deadline of a clock that runs toward its breach (as daemon/store);
 * the clocks and their states are spelled as the event encoder writes
 * them (correlator/incjson: sla's names). */
static void
cb_clocks(const json_t *clocks, struct ctlboard_inc *e)
{
	const char *running = sla_clock_state_name(SLA_CLOCK_RUNNING);

	for (unsigned k = 0; k < SLA__NCLOCKS; k++) {
		const char *name = sla_clock_name((enum sla_clock_kind)k);
		const json_t *c = json_object_get(clocks, name);
		const json_t *st = json_object_get(c, "state");
		int64_t d;

		if (c == NULL)
			continue;
		if (json_is_true(json_object_get(c, "breached")))
			e->breached = 1;
		if (!json_is_string(st) || strcmp(json_string_value(st),
		    running) != 0 || json_is_true(json_object_get(c,
		    "paused")) || json_is_true(json_object_get(c, "met")) ||
		    json_is_true(json_object_get(c, "breached")))
			continue;
		d = cb_time(json_object_get(c, "deadline"));
		if (d != 0 && (e->deadline == 0 || d < e->deadline)) {
			e->deadline = d;
			snprintf(e->clock, sizeof(e->clock), "%s", name);
		}
	}
}

int
ctlboard_inc_parse(const json_t *ev, struct ctlboard_inc *e)
{
	const json_t *inc = json_object_get(ev, "incident"), *cs, *c;
	size_t i, off = 0;

	memset(e, 0, sizeof(*e));
	if (!json_is_object(inc) || !json_is_string(json_object_get(inc,
	    "id")) || !json_is_string(json_object_get(inc, "state")))
		return -EINVAL;
	cb_copy(e->id, sizeof(e->id), json_object_get(inc, "id"));
	cb_copy(e->state, sizeof(e->state), json_object_get(inc, "state"));
	cb_copy(e->severity, sizeof(e->severity), json_object_get(inc,
	    "severity"));
	cb_copy(e->site, sizeof(e->site), json_object_get(inc, "site"));
	cb_copy(e->area, sizeof(e->area), json_object_get(inc, "area"));
	cb_copy(e->tier, sizeof(e->tier), json_object_get(inc, "tier"));
	cb_copy(e->root, sizeof(e->root), json_object_get(json_object_get(inc,
	    "root_cause"), "alarm"));
	/* no root cause (a complaint, an area incident): its kind says what
	 * it is */
	if (e->root[0] == '\0' && json_is_string(json_object_get(inc, "kind"))
	    && strcmp(json_string_value(json_object_get(inc, "kind")), "site")
	    != 0)
		cb_copy(e->root, sizeof(e->root), json_object_get(inc, "kind"));
	e->planned = json_is_true(json_object_get(inc, "planned"));
	e->flapping = json_is_true(json_object_get(inc, "flapping"));
	e->chronic = json_is_true(json_object_get(inc, "chronic"));
	e->opened_at = cb_time(json_object_get(inc, "opened_at"));
	e->seq = json_is_integer(json_object_get(ev, "seq")) ?
	    json_integer_value(json_object_get(ev, "seq")) : 0;
	cs = json_object_get(inc, "customers");
	json_array_foreach(cs, i, c) {
		char id[64];
		size_t l;

		cb_copy(id, sizeof(id), json_object_get(c, "id"));
		l = strlen(id);
		if (off + l + 2 >= sizeof(e->customers)) {
			if (off + 2 < sizeof(e->customers))
				memcpy(e->customers + off, "+", 2);
			break;
		}
		off += (size_t)snprintf(e->customers + off,
		    sizeof(e->customers) - off, "%s%s", off ? "," : "", id);
	}
	cb_clocks(json_object_get(inc, "clocks"), e);
	return 0;
}

static struct ctlboard_inc *
cb_find(struct ctlboard *b, const char *id)
{
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->v[i].id, id) == 0)
			return &b->v[i];
	return NULL;
}

static void
cb_add(struct ctlboard *b, const struct ctlboard_inc *e)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->v = xreallocarray(b->v, b->cap, sizeof(*b->v));
	}
	b->v[b->n++] = *e;
}

int
ctlboard_load(struct ctlboard *b, const json_t *list)
{
	const json_t *a = json_object_get(list, "incidents"), *it;
	size_t i;

	if (!json_is_array(a))
		return -EINVAL;
	b->n = 0;
	json_array_foreach(a, i, it) {
		struct ctlboard_inc e;

		if (ctlboard_inc_parse(it, &e) == 0 &&
		    strcmp(e.state, "closed") != 0 && cb_find(b, e.id) == NULL)
			cb_add(b, &e);
	}
	ctlboard_sort(b);
	return 0;
}

int
ctlboard_apply(struct ctlboard *b, const char *json, size_t len)
{
	struct ctlboard_inc e, *o;
	json_t *j = json_loadb(json, len, 0, NULL);
	int rc;

	rc = ctlboard_inc_parse(j, &e);
	json_decref(j);
	if (rc < 0)
		return rc;
	o = cb_find(b, e.id);
	if (o != NULL && e.seq != 0 && e.seq <= o->seq)
		return 0;		/* a replay or an older event */
	if (strcmp(e.state, "closed") == 0) {
		if (o == NULL)
			return 0;
		*o = b->v[--b->n];
	} else if (o != NULL) {
		*o = e;
	} else {
		cb_add(b, &e);
	}
	ctlboard_sort(b);
	return 1;
}

static int
cb_cmp(const void *pa, const void *pb)
{
	const struct ctlboard_inc *a = pa, *b = pb;
	int ca = a->deadline ? 0 : 1, cb = b->deadline ? 0 : 1;
	int64_t ka = a->deadline ? a->deadline : a->opened_at;
	int64_t kb = b->deadline ? b->deadline : b->opened_at;

	if (ca != cb)
		return ca - cb;
	if (ka != kb)
		return ka < kb ? -1 : 1;
	return strcmp(a->id, b->id);
}

void
ctlboard_sort(struct ctlboard *b)
{
	if (b->n > 1)
		qsort(b->v, b->n, sizeof(*b->v), cb_cmp);
}

enum ctlboard_colour
ctlboard_colour_of(const struct ctlboard_inc *e)
{
	enum corr_state s;

	if (e->planned)
		return CTLBOARD_GREY;
	/* the state's enum from the engine's own names table */
	if (corr_state_parse(e->state, &s) < 0)
		return CTLBOARD_RED;		/* unknown: as if waiting */
	switch (s) {
	case CORR_ACKNOWLEDGED:
	case CORR_DISPATCHED:
	case CORR_ON_SITE:
		return CTLBOARD_YELLOW;
	case CORR_CLEARED:
	case CORR_RESOLVED:
	case CORR_CLOSED:
		return CTLBOARD_GREEN;
	default:			/* open, reopened, unknown */
		return CTLBOARD_RED;
	}
}

static const char *const cb_colour_names[CTLBOARD__NCOLOURS] = {
	"red", "yellow", "green", "grey",
};

static const char *const cb_colour_sgr[CTLBOARD__NCOLOURS] = {
	"\x1b[31m", "\x1b[33m", "\x1b[32m", "\x1b[90m",
};

NAMES_GET_FN(ctlboard_colour_name, enum ctlboard_colour, cb_colour_names,
    CTLBOARD__NCOLOURS)
NAMES_GET_FN(ctlboard_colour_sgr, enum ctlboard_colour, cb_colour_sgr,
    CTLBOARD__NCOLOURS)

int
ctlboard_countdown(int64_t deadline, int64_t now, char *buf, size_t len)
{
	int64_t d = deadline - now, s;
	const char *sign = "";

	if (d < 0) {
		sign = "-";
		d = -d;
		s = d / 1000;		/* whole seconds past */
	} else {
		s = (d + 999) / 1000;	/* 0.4 s left shows 00:01 */
	}
	if (s < 3600)
		return snprintf(buf, len, "%s%02d:%02d", sign, (int)(s / 60),
		    (int)(s % 60));
	if (s < 100 * 3600)
		return snprintf(buf, len, "%s%d:%02d:%02d", sign,
		    (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60));
	return snprintf(buf, len, "%s%dd%02dh", sign, (int)(s / 86400),
	    (int)(s / 3600 % 24));
}

static int
cb_has(const char *hay, const char *needle)
{
	return strcasestr(hay, needle) != NULL;
}

int
ctlboard_visible(const struct ctlboard *b, const struct ctlboard_inc *e)
{
	const char *f = b->filter;

	if (*f == '\0')
		return 1;
	return cb_has(e->id, f) || cb_has(e->state, f) ||
	    cb_has(e->severity, f) || cb_has(e->site, f) ||
	    cb_has(e->area, f) || cb_has(e->tier, f) ||
	    cb_has(e->customers, f) || cb_has(e->root, f) ||
	    (e->planned && cb_has("planned", f)) ||
	    (e->flapping && cb_has("flapping", f)) ||
	    (e->chronic && cb_has("chronic", f));
}

#define CB_FMT	"%-16s %-12s %-8s %-10s %-12s %-8s %-16s %s"

void
ctlboard_header(char *buf, size_t len)
{
	snprintf(buf, len, CB_FMT, "ID", "STATE", "SEVERITY", "SITE", "AREA",
	    "TIER", "DUE", "ROOT CAUSE / CUSTOMERS / FLAGS");
}

void
ctlboard_line(const struct ctlboard_inc *e, int64_t now, char *buf,
    size_t len)
{
	char due[32], cd[24], rest[256];

	if (e->deadline) {
		ctlboard_countdown(e->deadline, now, cd, sizeof(cd));
		snprintf(due, sizeof(due), "%s %s", e->clock, cd);
	} else {
		snprintf(due, sizeof(due), "%s", e->breached ? "breached" :
		    "-");
	}
	snprintf(rest, sizeof(rest), "%s%s%s%s%s%s", e->root[0] ? e->root :
	    "", e->root[0] && e->customers[0] ? " " : "", e->customers,
	    e->planned ? " planned" : "", e->flapping ? " flapping" : "",
	    e->chronic ? " chronic" : "");
	snprintf(buf, len, CB_FMT, e->id, e->state, e->severity,
	    e->site[0] ? e->site : "-", e->area, e->tier[0] ? e->tier : "-",
	    due, rest);
	/* trailing spaces of an empty last column are noise in a pipe */
	for (size_t l = strlen(buf); l > 0 && buf[l - 1] == ' '; l--)
		buf[l - 1] = '\0';
}

/* ---- frames ---- */

/* A frame is built in snapbuf's growing byte buffer. */
static void
cb_puts(struct snapbuf *o, const char *s)
{
	snapbuf_put_bytes(o, s, strlen(s));
}

/* One screen row: text cut to cols (padded when sgr is set, so a reverse
 * bar spans the row), then clear-to-end-of-line. */
static void
cb_row(struct snapbuf *o, const char *sgr, const char *text, unsigned cols,
    int last)
{
	size_t l = strlen(text);

	if (l > cols)
		l = cols;
	if (sgr)
		cb_puts(o, sgr);
	snapbuf_put_bytes(o, text, l);
	if (sgr) {
		for (; l < cols; l++)
			snapbuf_put_bytes(o, " ", 1);
		cb_puts(o, "\x1b[0m");
	}
	cb_puts(o, "\x1b[K");
	if (!last)
		cb_puts(o, "\r\n");
}

static const char *const cb_help[] = {
	"tocsinctl watch: the open incidents, nearest SLA deadline first",
	"",
	"  q            quit",
	"  /            filter: type text, Enter keeps it, Esc drops it",
	"  j, Down      select the next incident",
	"  k, Up        select the previous incident",
	"  a            acknowledge the selected incident (POST .../ack)",
	"  ?            this help (any key closes it)",
	"",
	"DUE counts down to the nearest running SLA deadline (ack, arrive,",
	"resolve); a '-' means it has passed.  Colours: red waiting (open,",
	"reopened), yellow being handled (acknowledged, dispatched, on_site),",
	"green nearly done (cleared, resolved), grey planned work.",
};

/* Index (into b->v) of the visible incidents; returns how many. */
static size_t
cb_visible_idx(const struct ctlboard *b, size_t *idx)
{
	size_t n = 0;

	for (size_t i = 0; i < b->n; i++)
		if (ctlboard_visible(b, &b->v[i]))
			idx[n++] = i;
	return n;
}

/* Keeps the selection on its incident, or on the row it stood at. */
static void
cb_reselect(struct ctlboard *b, const size_t *idx, size_t nv)
{
	for (size_t k = 0; k < nv; k++)
		if (strcmp(b->v[idx[k]].id, b->sel) == 0) {
			b->selpos = k;
			return;
		}
	if (nv == 0) {
		b->sel[0] = '\0';
		b->selpos = 0;
		return;
	}
	if (b->selpos >= nv)
		b->selpos = nv - 1;
	snprintf(b->sel, sizeof(b->sel), "%s", b->v[idx[b->selpos]].id);
}

char *
ctlboard_frame(struct ctlboard *b, int64_t now, unsigned cols, unsigned rows,
    int colour, const char *title, size_t *len)
{
	struct snapbuf o;
	size_t *idx = xcalloc(b->n + 1, sizeof(*idx)), nv, body, top = 0;
	char line[512], ts[UTC_LEN];
	unsigned r = 0;

	if (cols < 20)
		cols = 20;
	if (rows < 4)
		rows = 4;
	body = rows - 3;
	snapbuf_init(&o);
	nv = cb_visible_idx(b, idx);
	cb_reselect(b, idx, nv);
	cb_puts(&o, "\x1b[H");
	utc_format(now, ts);
	snprintf(line, sizeof(line), "tocsin watch  %s  %zu incident%s%s%s%s"
	    "  %.8s UTC", title, nv, nv == 1 ? "" : "s",
	    b->filter[0] ? " matching \"" : "", b->filter,
	    b->filter[0] ? "\"" : "", ts + 11);
	cb_row(&o, colour ? "\x1b[1m" : NULL, line, cols, 0);
	r++;
	if (b->help) {
		for (size_t k = 0; k < sizeof(cb_help) / sizeof(cb_help[0]) &&
		    r < rows - 1; k++, r++)
			cb_row(&o, NULL, cb_help[k], cols, 0);
	} else {
		line[0] = ' ';
		line[1] = ' ';
		ctlboard_header(line + 2, sizeof(line) - 2);
		cb_row(&o, colour ? "\x1b[1m" : NULL, line, cols, 0);
		r++;
		if (b->selpos >= body)
			top = b->selpos - body + 1;
		for (size_t k = top; k < nv && k < top + body; k++, r++) {
			const struct ctlboard_inc *e = &b->v[idx[k]];
			const char *sgr = ctlboard_colour_sgr(
			    ctlboard_colour_of(e));
			int selected = k == b->selpos;
			char sel[24];

			line[0] = selected ? '>' : ' ';
			line[1] = ' ';
			ctlboard_line(e, now, line + 2, sizeof(line) - 2);
			if (colour && selected)
				snprintf(sel, sizeof(sel), "%s\x1b[7m", sgr);
			cb_row(&o, colour ? (selected ? sel : sgr) : NULL, line,
			    cols, 0);
		}
		if (nv == 0 && r < rows - 1) {
			cb_row(&o, NULL, b->n ? "  (no incident matches the "
			    "filter)" : "  (no open incidents)", cols, 0);
			r++;
		}
	}
	for (; r < rows - 1; r++)
		cb_row(&o, NULL, "", cols, 0);
	if (b->editing)
		snprintf(line, sizeof(line), "/%s_", b->filter);
	else if (b->msg[0])
		snprintf(line, sizeof(line), "%.500s", b->msg);
	else
		snprintf(line, sizeof(line), "q quit  / filter  j/k select  "
		    "a acknowledge  ? help");
	cb_row(&o, colour ? "\x1b[7m" : NULL, line, cols, 1);
	xfree(idx);
	snapbuf_put_bytes(&o, "", 1);	/* a string too */
	*len = o.n - 1;
	return o.p;
}

uint64_t
ctlboard_digest(const struct ctlboard *b)
{
	uint64_t h = 14695981039346656037ULL;	/* FNV-1a */

	for (size_t i = 0; i < b->n; i++) {
		const struct ctlboard_inc *e = &b->v[i];
		const unsigned char *p = (const unsigned char *)e->id;

		for (; *p; p++)
			h = (h ^ *p) * 1099511628211ULL;
		for (p = (const unsigned char *)e->state; *p; p++)
			h = (h ^ *p) * 1099511628211ULL;
		h = (h ^ (uint64_t)e->seq) * 1099511628211ULL;
	}
	return h;
}

const struct ctlboard_inc *
ctlboard_selected(const struct ctlboard *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->sel[0] && strcmp(b->v[i].id, b->sel) == 0)
			return &b->v[i];
	return NULL;
}

/* Moves the selection by d visible rows. */
static void
cb_move(struct ctlboard *b, int d)
{
	size_t *idx = xcalloc(b->n + 1, sizeof(*idx)), nv;

	nv = cb_visible_idx(b, idx);
	cb_reselect(b, idx, nv);
	if (nv > 0) {
		if (d < 0 && b->selpos > 0)
			b->selpos--;
		else if (d > 0 && b->selpos + 1 < nv)
			b->selpos++;
		snprintf(b->sel, sizeof(b->sel), "%s", b->v[idx[b->selpos]].id);
	}
	xfree(idx);
}

enum ctlboard_act
ctlboard_key(struct ctlboard *b, const char *p, size_t n, size_t *used)
{
	unsigned char c;
	size_t l;

	*used = 0;
	if (n == 0)
		return CTLBOARD_NONE;
	c = (unsigned char)p[0];
	*used = 1;
	/* ESC [ A / ESC O A (up), B (down); other sequences are swallowed */
	if (c == 0x1b && n >= 3 && (p[1] == '[' || p[1] == 'O')) {
		size_t k = 2;

		while (k < n && k < 16 && !isalpha((unsigned char)p[k]) &&
		    p[k] != '~')
			k++;
		*used = k < n ? k + 1 : n;
		if (b->editing || b->help)
			return CTLBOARD_NONE;
		if (k == 2 && (p[2] == 'A' || p[2] == 'B')) {
			cb_move(b, p[2] == 'A' ? -1 : 1);
			return CTLBOARD_REDRAW;
		}
		return CTLBOARD_NONE;
	}
	if (b->help) {
		b->help = 0;
		return CTLBOARD_REDRAW;
	}
	if (b->editing) {
		l = strlen(b->filter);
		if (c == '\r' || c == '\n')
			b->editing = 0;
		else if (c == 0x1b) {
			b->editing = 0;
			b->filter[0] = '\0';
		} else if (c == 0x7f || c == 0x08) {
			if (l > 0)
				b->filter[l - 1] = '\0';
		} else if (c >= 0x20 && c < 0x7f && l + 1 < sizeof(b->filter)) {
			b->filter[l] = (char)c;
			b->filter[l + 1] = '\0';
		} else {
			return CTLBOARD_NONE;
		}
		return CTLBOARD_REDRAW;
	}
	switch (c) {
	case 'q':
	case 'Q':
		return CTLBOARD_QUIT;
	case '/':
		b->editing = 1;
		b->msg[0] = '\0';
		return CTLBOARD_REDRAW;
	case 'j':
		cb_move(b, 1);
		return CTLBOARD_REDRAW;
	case 'k':
		cb_move(b, -1);
		return CTLBOARD_REDRAW;
	case 'a':
		return ctlboard_selected(b) ? CTLBOARD_ACK : CTLBOARD_NONE;
	case '?':
		b->help = 1;
		return CTLBOARD_REDRAW;
	case 0x1b:			/* a lone Esc clears the filter */
		if (b->filter[0] || b->msg[0]) {
			b->filter[0] = '\0';
			b->msg[0] = '\0';
			return CTLBOARD_REDRAW;
		}
		return CTLBOARD_NONE;
	default:
		return CTLBOARD_NONE;
	}
}
