/*
 * ctlboard.h - the incident board of `tocsinctl watch` (and the table of
 * `tocsinctl incidents`): the open incidents as the server lists them,
 * kept up to date from tocsin.incident/1 events, ordered by SLA urgency,
 * drawn as text lines with a countdown to each incident's nearest running
 * deadline, coloured by state (DOMAIN.md 4: red = waiting, yellow = being
 * handled, green = nearly done; planned work grey).
 *
 * Pure: no clock, no terminal, no socket.  The caller passes `now` (ms
 * since the epoch) and the terminal's size, and writes the frame it gets
 * back with one write(2) (daemon/ctlwatch does the I/O).  So a test can
 * check every line of a board for a given list and instant.
 *
 * Order (the server's, docs/http.md "Order: SLA urgency"): incidents with
 * a running deadline first, nearest first; then the others, oldest opened
 * first; ties by id.  The deadline is computed from the event's clocks as
 * the server's record does (daemon/store: the earliest deadline of a
 * clock that runs, is not paused, not met and not yet breached), so an
 * event from the stream re-sorts the board exactly as a fresh list would.
 *
 * Text from the server (ids, sites, customers) is shown with every byte
 * outside printable ASCII replaced by '?', so an odd id can never write a
 * terminal escape sequence.
 */
#ifndef TOCSIN_CTLBOARD_H
#define TOCSIN_CTLBOARD_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum ctlboard_colour {
	CTLBOARD_RED,			/* waiting: open, reopened */
	CTLBOARD_YELLOW,		/* being handled: acknowledged,
					 * dispatched, on_site */
	CTLBOARD_GREEN,			/* nearly done: cleared, resolved */
	CTLBOARD_GREY,			/* planned work, whatever its state */
	CTLBOARD__NCOLOURS
};

/* What the board shows of one incident. */
struct ctlboard_inc {
	char		 id[64];
	char		 state[16];	/* "open", ... */
	char		 severity[12];
	char		 site[48];	/* "" for an area incident */
	char		 area[48];
	char		 tier[12];	/* "" when none */
	char		 root[48];	/* the root cause's alarm code, or the
					 * kind of an incident without one
					 * ("complaint", "area"), or "" */
	char		 customers[96];	/* "c1,c2" (cut with "+" if longer) */
	char		 clock[8];	/* the clock of deadline: "ack" ... */
	uint8_t		 planned, flapping, chronic;
	uint8_t		 breached;	/* a clock is breached */
	int64_t		 deadline;	/* nearest running deadline, 0: none */
	int64_t		 opened_at;	/* ms */
	int64_t		 seq;		/* the event's seq */
};

/* Key presses, decoded (ctlboard_key). */
enum ctlboard_act {
	CTLBOARD_NONE,			/* nothing for the caller to do */
	CTLBOARD_REDRAW,		/* the board changed: draw it */
	CTLBOARD_QUIT,
	CTLBOARD_ACK,			/* acknowledge the selected incident */
};

struct ctlboard {
	struct ctlboard_inc *v;		/* in urgency order once sorted */
	size_t		 n, cap;
	char		 sel[64];	/* the selected incident's id, or "" */
	size_t		 selpos;	/* its row among the visible ones */
	char		 filter[64];	/* only rows holding this text */
	int		 editing;	/* '/' typed: keys go to the filter */
	int		 help;		/* the help screen is shown */
	char		 msg[1024];	/* the status line ("" for the keys) */
};

void	 ctlboard_init(struct ctlboard *b);
void	 ctlboard_fini(struct ctlboard *b);

/*
 * Reads one tocsin.incident/1 event (or a list item: the same without
 * steps) into *out.  0, or -EINVAL when it has no incident id or state.
 */
int	 ctlboard_inc_parse(const json_t *ev, struct ctlboard_inc *out);

/*
 * Replaces the board with the items of a GET /api/v1/incidents answer
 * ({"incidents":[...]}; the pages concatenated).  0, or -EINVAL when the
 * answer has no incidents array (the board is then left as it was).
 */
int	 ctlboard_load(struct ctlboard *b, const json_t *list);

/*
 * Applies one event of the stream (its JSON text, len bytes): a newer
 * seq of a known incident replaces it, an unknown one is added, a
 * closed one leaves the board.  Returns 1 when the board changed, 0 for
 * an event that changes nothing (a replay: seq not above the one held),
 * -EINVAL for text that is not an incident event.
 */
int	 ctlboard_apply(struct ctlboard *b, const char *json, size_t len);

/* Sorts by SLA urgency (see above). */
void	 ctlboard_sort(struct ctlboard *b);

/* The colour of an incident: its state's, or grey when planned. */
enum ctlboard_colour ctlboard_colour_of(const struct ctlboard_inc *e);
/* The colour name ("red", ...), for the plain output and the tests. */
const char *ctlboard_colour_name(enum ctlboard_colour c);
/* The terminal's escape sequence (ANSI SGR) that sets colour c. */
const char *ctlboard_colour_sgr(enum ctlboard_colour c);

/*
 * The time from now to deadline as text that changes every second:
 * "MM:SS" under an hour, "H:MM:SS" under 100 hours, "DdHHh" beyond, with
 * a '-' when the deadline has passed.  Returns the length (like
 * snprintf).
 */
int	 ctlboard_countdown(int64_t deadline, int64_t now, char *buf,
	    size_t len);

/* 1 when e holds the board's filter text (case-insensitive) in any
 * column, or no filter is set. */
int	 ctlboard_visible(const struct ctlboard *b, const struct ctlboard_inc *e);

/* The column titles and one incident as a plain line (no colour, no
 * newline) at now, at most len - 1 bytes. */
void	 ctlboard_header(char *buf, size_t len);
void	 ctlboard_line(const struct ctlboard_inc *e, int64_t now, char *buf,
	    size_t len);

/*
 * The whole screen for a terminal of cols x rows at now: a title line
 * (title, how many incidents, the time), the column titles, as many
 * visible incidents as fit (scrolled to keep the selected one in view,
 * marked '>'), and a status line; or the help screen.  Each line is
 * cut to cols; with colour, rows are coloured by state and the
 * selected one is reversed.  Starts with cursor-home and clears each line
 * after its text, so a frame is drawn in place with one write and
 * nothing flickers.  Returns a malloc'd string (free with free()) and its
 * length in *len.
 */
char	*ctlboard_frame(struct ctlboard *b, int64_t now, unsigned cols,
	    unsigned rows, int colour, const char *title, size_t *len);

/*
 * Decodes one key from the n bytes at p (a terminal in raw mode) and
 * applies it: q quits, / edits the filter (Enter keeps it, Esc drops it,
 * Backspace erases), j/k and the arrow keys move the selection, a asks
 * for an acknowledgement of the selected incident, ? shows or hides the
 * help.  Returns what the caller must do; *used is how many bytes the key
 * took (at least 1 when n > 0).
 */
enum ctlboard_act ctlboard_key(struct ctlboard *b, const char *p, size_t n,
	    size_t *used);

/* A digest of what the board holds (ids, seqs, states; not the time):
 * a plain-text watch prints a new block only when it changes. */
uint64_t ctlboard_digest(const struct ctlboard *b);

/* The selected incident (after the last frame), or NULL. */
const struct ctlboard_inc *ctlboard_selected(const struct ctlboard *b);

#endif
