/*
 * fuzz_replay.c - libFuzzer target for the replay line parser and the
 * RFC3339 time parser.  The input is handed over with its exact length and
 * no NUL terminator, so any read past the line is caught by ASan.  A parsed
 * record must hold NUL-terminated, in-bounds strings and what its kind
 * promises (docs/replay.md): an alarm's code passes fleet_code_check(), an
 * action names an incident and an actor, a window has an id, one of site
 * or area and end after start.  A refusal is one line of text.  The fast
 * path for alarm lines must agree with the general parser on every input:
 * the same result and, when both accept, the same record.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/replay.h"
#include "daemon/utc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIELD_OK(f)	(memchr((f), '\0', sizeof(f)) != NULL)

static int
rec_ok(const struct replay_rec *r)
{
	if (!FIELD_OK(r->device) || !FIELD_OK(r->site) || !FIELD_OK(r->code) ||
	    !FIELD_OK(r->incident) || !FIELD_OK(r->actor) ||
	    !FIELD_OK(r->note) || !FIELD_OK(r->area))
		return 0;
	switch (r->kind) {
	case REPLAY_ALARM:
		return r->device[0] != '\0' && fleet_code_check(r->code) == 0 &&
		    r->edge <= 1 && r->severity <= 3;
	case REPLAY_ACTION:
		return r->incident[0] != '\0' && r->actor[0] != '\0' &&
		    r->action < CORR_ACT__COUNT;
	case REPLAY_MAINT_ADD:
		return r->maint_id > 0 && r->end_ms > r->start_ms &&
		    (r->site[0] != '\0') != (r->area[0] != '\0');
	case REPLAY_MAINT_REMOVE:
		return r->maint_id > 0;
	case REPLAY_TICK:
		return r->actor[0] != '\0';
	default:
		return 0;
	}
}

/* The fields a record of each kind defines, compared. */
static int
rec_same(const struct replay_rec *a, const struct replay_rec *b)
{
	if (a->kind != b->kind || a->at_ms != b->at_ms)
		return 0;
	switch (a->kind) {
	case REPLAY_ALARM:
		return a->edge == b->edge && a->severity == b->severity &&
		    (a->value == b->value || (a->value != a->value &&
		    b->value != b->value)) &&
		    strcmp(a->device, b->device) == 0 &&
		    strcmp(a->site, b->site) == 0 &&
		    strcmp(a->code, b->code) == 0;
	default:
		return 1;	/* the fast path takes alarm lines only */
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct replay_rec r, g;
	char err[160], gerr[160];
	char *copy = malloc(size ? size : 1);
	int64_t t;
	int rc, grc;

	memcpy(copy, data, size);
	rc = replay_parse_line(copy, size, &r, err, sizeof(err));
	grc = replay_parse_general(copy, size, &g, gerr, sizeof(gerr));
	if (rc != grc || (rc == 0 && !rec_same(&r, &g)))
		abort();
	if (rc == 0) {
		if (!rec_ok(&r))
			abort();
	} else if (memchr(err, '\0', sizeof(err)) == NULL ||
	    strchr(err, '\n') != NULL || strchr(err, '\r') != NULL) {
		abort();
	}
	(void)utc_parse(copy, size, &t);
	free(copy);
	return 0;
}
