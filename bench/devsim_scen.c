/*
 * devsim_scen.c - see devsim_scen.h.
 *
 * A step resolves its target to an index once, at load time; applying it is
 * then a loop over the devices or sites it names.  `all` with a physics
 * action touches every site, so a scenario can black out a whole fleet.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/devsim_scen.h"
#include "daemon/mem.h"

static const struct {
	const char	*name;
	int		 arg;		/* 0 none, 1 ms, 2 exception code */
} act_tab[DS__COUNT] = {
	[DS_MAINS_FAIL] = { "mains_fail", 0 },
	[DS_MAINS_RESTORE] = { "mains_restore", 0 },
	[DS_DOOR_OPEN] = { "door_open", 0 },
	[DS_DOOR_CLOSE] = { "door_close", 0 },
	[DS_SMOKE] = { "smoke", 0 },
	[DS_SMOKE_CLEAR] = { "smoke_clear", 0 },
	[DS_WATER_LEAK] = { "water_leak", 0 },
	[DS_WATER_CLEAR] = { "water_clear", 0 },
	[DS_RECT_FAIL] = { "rect_fail", 0 },
	[DS_RECT_OK] = { "rect_ok", 0 },
	[DS_AC_FAIL] = { "ac_fail", 0 },
	[DS_AC_OK] = { "ac_ok", 0 },
	[DS_DG_FAIL] = { "dg_fail", 0 },
	[DS_DG_OK] = { "dg_ok", 0 },
	[DS_DG_START] = { "dg_start", 0 },
	[DS_DG_STOP] = { "dg_stop", 0 },
	[DS_SILENT] = { "silent", 0 },
	[DS_ANSWER] = { "answer", 0 },
	[DS_DELAY] = { "delay", 1 },
	[DS_TRICKLE] = { "trickle", 1 },
	[DS_EXCEPTION] = { "exception", 2 },
	[DS_GARBAGE] = { "garbage", 0 },
	[DS_WRITE_EXCEPTION] = { "write_exception", 2 },
	[DS_WRITE_SILENT] = { "write_silent", 0 },
	[DS_WRITE_IGNORE] = { "write_ignore", 0 },
	[DS_DROP] = { "drop", 0 },
	[DS_NORMAL] = { "normal", 0 },
};

const char *
devsim_act_name(enum devsim_act a)
{
	return a < DS__COUNT ? act_tab[a].name : "?";
}

/* "250ms", "5s", "1.5m", "2h", "300": ms since ready, or -1. */
static int64_t
parse_time(const char *s)
{
	char *end;
	double v = strtod(s, &end), mul;

	if (end == s || !(v >= 0))
		return -1;
	if (*end == '\0' || strcmp(end, "ms") == 0)
		mul = 1;
	else if (strcmp(end, "s") == 0)
		mul = 1000;
	else if (strcmp(end, "m") == 0)
		mul = 60000;
	else if (strcmp(end, "h") == 0)
		mul = 3600000;
	else
		return -1;
	if (v * mul > 1e15)
		return -1;
	return (int64_t)(v * mul + 0.5);
}

static int
step_cmp(const void *a, const void *b)
{
	const struct devsim_step *x = a, *y = b;

	if (x->at_ms != y->at_ms)
		return x->at_ms < y->at_ms ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

int
devsim_scen_load(struct devsim_scen *sc, const char *path,
    const struct devsim_model *m, char *err, size_t errlen)
{
	FILE *fp;
	char buf[512];
	int line = 0, rc = 0;

	memset(sc, 0, sizeof(*sc));
	if ((fp = fopen(path, "r")) == NULL) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	while (fgets(buf, sizeof(buf), fp) != NULL) {
		char *tok[5], *save = NULL, *p;
		struct devsim_step st;
		int n = 0, a;

		line++;
		if ((p = strchr(buf, '#')) != NULL)
			*p = '\0';
		for (p = strtok_r(buf, " \t\r\n", &save); p != NULL && n < 5;
		    p = strtok_r(NULL, " \t\r\n", &save))
			tok[n++] = p;
		if (n == 0)
			continue;
		memset(&st, 0, sizeof(st));
		st.line = line;
		if (n < 3) {
			snprintf(err, errlen, "%s:%d: want AT TARGET ACTION [ARG]",
			    path, line);
			goto bad;
		}
		if ((st.at_ms = parse_time(tok[0])) < 0) {
			snprintf(err, errlen, "%s:%d: bad time '%s'", path,
			    line, tok[0]);
			goto bad;
		}
		if (strcmp(tok[1], "all") == 0) {
			st.target = DS_T_ALL;
		} else if (strncmp(tok[1], "site:", 5) == 0) {
			st.target = DS_T_SITE;
			st.index = fleet_find(m->fleet, FLEET_SITE, tok[1] + 5);
		} else if (strncmp(tok[1], "dev:", 4) == 0) {
			st.target = DS_T_DEV;
			st.index = fleet_find(m->fleet, FLEET_DEVICE, tok[1] + 4);
		} else {
			snprintf(err, errlen, "%s:%d: target '%s' is not all, "
			    "site:ID or dev:ID", path, line, tok[1]);
			goto bad;
		}
		if (st.target != DS_T_ALL && st.index == FLEET_NONE) {
			snprintf(err, errlen, "%s:%d: no such %s '%s'", path,
			    line, st.target == DS_T_SITE ? "site" : "device",
			    strchr(tok[1], ':') + 1);
			goto bad;
		}
		for (a = 0; a < DS__COUNT; a++)
			if (strcmp(tok[2], act_tab[a].name) == 0)
				break;
		if (a == DS__COUNT) {
			snprintf(err, errlen, "%s:%d: unknown action '%s'",
			    path, line, tok[2]);
			goto bad;
		}
		st.act = (uint8_t)a;
		if (n != (act_tab[a].arg ? 4 : 3)) {
			snprintf(err, errlen, "%s:%d: action '%s' takes %s",
			    path, line, tok[2], act_tab[a].arg == 0 ?
			    "no argument" : act_tab[a].arg == 1 ?
			    "one argument (ms)" : "one argument (code 1-255)");
			goto bad;
		}
		if (act_tab[a].arg != 0) {
			char *end;
			unsigned long v = strtoul(tok[3], &end, 10);

			if (end == tok[3] || *end != '\0' ||
			    (act_tab[a].arg == 1 && v > 3600000) ||
			    (act_tab[a].arg == 2 && (v < 1 || v > 255))) {
				snprintf(err, errlen, "%s:%d: bad argument '%s' "
				    "to '%s'", path, line, tok[3], tok[2]);
				goto bad;
			}
			st.arg = (uint32_t)v;
		}
		sc->steps = xreallocarray(sc->steps, sc->nsteps + 1,
		    sizeof(*sc->steps));
		sc->steps[sc->nsteps++] = st;
	}
	if (ferror(fp)) {
		rc = -EIO;
		snprintf(err, errlen, "%s: read error", path);
		goto fail;
	}
	fclose(fp);
	/* a file of comments only has no steps, and qsort(NULL, 0) is UB */
	if (sc->nsteps > 1)
		qsort(sc->steps, sc->nsteps, sizeof(*sc->steps), step_cmp);
	return 0;
bad:
	rc = -EINVAL;
fail:
	fclose(fp);
	devsim_scen_fini(sc);
	return rc;
}

void
devsim_scen_fini(struct devsim_scen *sc)
{
	xfree(sc->steps);
	memset(sc, 0, sizeof(*sc));
}

static void
apply_site(struct devsim_model *m, size_t g, enum devsim_act a, int64_t now)
{
	static const uint16_t flag[DS__COUNT] = {
		[DS_DOOR_OPEN] = DEVSIM_F_DOOR, [DS_DOOR_CLOSE] = DEVSIM_F_DOOR,
		[DS_SMOKE] = DEVSIM_F_SMOKE, [DS_SMOKE_CLEAR] = DEVSIM_F_SMOKE,
		[DS_WATER_LEAK] = DEVSIM_F_WATER,
		[DS_WATER_CLEAR] = DEVSIM_F_WATER,
		[DS_RECT_FAIL] = DEVSIM_F_RECT_FAIL,
		[DS_RECT_OK] = DEVSIM_F_RECT_FAIL,
		[DS_AC_FAIL] = DEVSIM_F_AC_FAIL, [DS_AC_OK] = DEVSIM_F_AC_FAIL,
		[DS_DG_FAIL] = DEVSIM_F_DG_FAIL, [DS_DG_OK] = DEVSIM_F_DG_FAIL,
		[DS_DG_START] = DEVSIM_F_DG_RUN, [DS_DG_STOP] = DEVSIM_F_DG_RUN,
	};
	int set = a == DS_DOOR_OPEN || a == DS_SMOKE || a == DS_WATER_LEAK ||
	    a == DS_RECT_FAIL || a == DS_AC_FAIL || a == DS_DG_FAIL ||
	    a == DS_DG_START;

	if (a == DS_MAINS_FAIL || a == DS_MAINS_RESTORE)
		devsim_site_mains(m, g, a == DS_MAINS_RESTORE, now);
	else
		devsim_site_flag(m, g, flag[a], set, now);
}

static void
apply_dev(struct devsim_model *m, uint32_t d, const struct devsim_step *st)
{
	struct devsim_fault *f = &m->faults[d];

	switch (st->act) {
	case DS_SILENT: f->silent = 1; break;
	case DS_ANSWER: f->silent = 0; break;
	case DS_DELAY: f->delay_ms = st->arg; break;
	case DS_TRICKLE: f->trickle_ms = st->arg; break;
	case DS_EXCEPTION: f->exception = (uint8_t)st->arg; break;
	case DS_GARBAGE: f->garbage = 1; break;
	case DS_WRITE_EXCEPTION: f->write_exception = (uint8_t)st->arg; break;
	case DS_WRITE_SILENT: f->write_silent = 1; break;
	case DS_WRITE_IGNORE: f->write_ignore = 1; break;
	case DS_NORMAL: memset(f, 0, sizeof(*f)); break;
	default: break;
	}
}

void
devsim_scen_apply(struct devsim_model *m, const struct devsim_step *st,
    int64_t now)
{
	size_t lo, hi;

	if (st->act < DS_SILENT) {
		/* Physics happens at a site. */
		if (st->target == DS_T_ALL) {
			lo = 0;
			hi = m->nsites;
		} else {
			lo = st->target == DS_T_SITE ? st->index :
			    devsim_device_site(m, st->index);
			hi = lo + 1;
		}
		for (size_t g = lo; g < hi; g++)
			apply_site(m, g, (enum devsim_act)st->act, now);
		return;
	}
	if (st->target == DS_T_SITE && m->cfgmode) {
		/* a configuration puts any devices at a site */
		for (size_t d = 0; d < m->cfg.ndevices; d++)
			if (devsim_device_site(m, (uint32_t)d) == st->index)
				apply_dev(m, (uint32_t)d, st);
		return;
	}
	if (st->target == DS_T_ALL) {
		lo = 0;
		hi = m->cfg.ndevices;
	} else if (st->target == DS_T_SITE) {
		lo = devsim_gateway_first(m, st->index);
		hi = lo + m->cfg.units;
		hi = hi < m->cfg.ndevices ? hi : m->cfg.ndevices;
	} else {
		lo = st->index;
		hi = lo + 1;
	}
	for (size_t d = lo; d < hi; d++)
		apply_dev(m, (uint32_t)d, st);
}
