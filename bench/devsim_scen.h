/*
 * devsim_scen.h - scenario files: faults scripted over time.
 *
 * One step a line, `#` starts a comment, blank lines are ignored:
 *
 *     AT  TARGET  ACTION [ARG]
 *
 * AT is the time since the simulator became ready: a number with a unit
 * (250ms, 5s, 1.5m, 2h; no unit = ms).  TARGET is `site:S00012`,
 * `dev:D000123` or `all`.  Actions (docs/devsim.md has the table):
 *   physics, per site (a dev: target means its site):
 *     mains_fail mains_restore door_open door_close smoke smoke_clear
 *     water_leak water_clear rect_fail rect_ok ac_fail ac_ok dg_fail dg_ok
 *     dg_start dg_stop
 *   communication, per device (a site: target means all its devices):
 *     silent answer delay MS trickle MS exception CODE garbage drop normal
 *     write_exception CODE write_silent write_ignore (writes only)
 * Steps keep their file order among equal times.  Parsing is done once at
 * start, so a bad file stops the simulator before it serves anything.
 */
#ifndef DEVSIM_SCEN_H
#define DEVSIM_SCEN_H

#include <stddef.h>
#include <stdint.h>

#include "bench/devsim_model.h"

enum devsim_act {
	DS_MAINS_FAIL, DS_MAINS_RESTORE, DS_DOOR_OPEN, DS_DOOR_CLOSE,
	DS_SMOKE, DS_SMOKE_CLEAR, DS_WATER_LEAK, DS_WATER_CLEAR,
	DS_RECT_FAIL, DS_RECT_OK, DS_AC_FAIL, DS_AC_OK, DS_DG_FAIL, DS_DG_OK,
	DS_DG_START, DS_DG_STOP,
	DS_SILENT, DS_ANSWER, DS_DELAY, DS_TRICKLE, DS_EXCEPTION, DS_GARBAGE,
	DS_WRITE_EXCEPTION, DS_WRITE_SILENT, DS_WRITE_IGNORE,
	DS_DROP, DS_NORMAL, DS__COUNT
};

enum devsim_target { DS_T_ALL, DS_T_SITE, DS_T_DEV };

struct devsim_step {
	int64_t		 at_ms;		/* since ready */
	uint8_t		 target;	/* enum devsim_target */
	uint8_t		 act;		/* enum devsim_act */
	uint32_t	 index;		/* site or device index */
	uint32_t	 arg;		/* ms or exception code */
	int		 line;		/* in the file, for logs */
};

struct devsim_scen {
	struct devsim_step *steps;	/* sorted by at_ms, stable */
	size_t		 nsteps;
	size_t		 next;		/* first step not applied yet */
};

/* The action's name as a scenario file spells it. */
const char *devsim_act_name(enum devsim_act a);

/*
 * Parses a scenario file against the model's fleet.  Returns 0, or -errno
 * if the file cannot be read, or -EINVAL with "file:line: reason" in err.
 * Free with devsim_scen_fini().
 */
int	 devsim_scen_load(struct devsim_scen *sc, const char *path,
	    const struct devsim_model *m, char *err, size_t errlen);
void	 devsim_scen_fini(struct devsim_scen *sc);

/*
 * Applies the model half of a step (physics and device faults) at now.
 * DS_DROP has no model half: the server closes the connections.
 */
void	 devsim_scen_apply(struct devsim_model *m, const struct devsim_step *st,
	    int64_t now);

#endif
