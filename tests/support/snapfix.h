/*
 * snapfix.h - what the snapshot tests (tests/unit/test_corr_snap.c) and
 * the snapshot fuzz target (tests/fuzz/fuzz_corrsnap.c) share: one fleet,
 * built in either order or without one site, the config with SLA clocks
 * on, and inputs that name fleet objects by id so one input stream can be
 * fed to engines over differently ordered fleets.  No Criterion here: the
 * fuzz target includes snapfix.c directly.
 *
 * The fleet: areas north, south, east; sites S00..S17 (site i in area
 * i % 3, region i % 3, premium when i % 4 == 0), each with a power device
 * "Snn-pwr", a gateway "Snn-fsu" and one device behind it "Snn-rru" (one
 * child per gateway: the engine adopts a gateway's children in device
 * order, which a reordered fleet would change).
 */
#ifndef TOCSIN_TEST_SNAPFIX_H
#define TOCSIN_TEST_SNAPFIX_H

#include <stdint.h>

#include "correlator/corr.h"
#include "correlator/sla.h"

#define SNAPFIX_T0	((int64_t)1795000000000)	/* 2026-11-18T11:06:40Z */
#define SNAPFIX_NSITES	18

enum {
	SNAPFIX_REVERSED = 1,	/* sites, devices, areas and codes interned
				 * in the opposite order */
	SNAPFIX_NO_S05 = 2,	/* site S05 and its devices left out */
};

enum snapfix_kind { SNAPFIX_ALARM, SNAPFIX_ACTION, SNAPFIX_MAINT_ADD,
	SNAPFIX_MAINT_DEL, SNAPFIX_ADVANCE, SNAPFIX_COMPLAINT };

/* One input, naming fleet objects by id. */
struct snapfix_op {
	uint8_t	 kind;		/* enum snapfix_kind */
	uint8_t	 edge;		/* alarm: enum alarm_edge */
	uint8_t	 sev;		/* alarm, complaint: enum severity */
	uint8_t	 act;		/* action: enum corr_action_type */
	int64_t	 at;
	char	 dev[16];	/* alarm: device id */
	char	 code[16];	/* alarm: code */
	uint64_t num;		/* action: incident number (shard 0) */
	const char *actor;	/* action, complaint */
	const char *note;	/* action, may be NULL; complaint: its text */
	char	 cust[8];	/* complaint: customer (site in msite) */
	uint32_t maint;		/* window id */
	char	 msite[8];	/* window: site id, or ""; complaint: site */
	char	 marea[8];	/* window: area name when msite is "" */
	int64_t	 end;		/* window end (start is at) */
};

/* The fleet above; free with fleet_free(). */
struct fleet *snapfix_fleet(unsigned flags);
/* Correlation defaults with sc (sla_config_defaults) as the SLA clocks. */
void	 snapfix_config(struct corr_config *cc, struct sla_config *sc);
/*
 * Feeds op to e over f.  An alarm or window naming something f does not
 * have is skipped (returns 1); otherwise returns the engine call's result
 * (actions may be refused).
 */
int	 snapfix_apply(struct corr_engine *e, struct fleet *f,
	    const struct snapfix_op *op);

/* An engine's changelog records: its head and one per live incident. */
struct snapfix_parts {
	char		*head;
	size_t		 nhead;
	struct corr_part *inc;		/* in reverse number order (the
					 * loader must sort them) */
	size_t		 n;
};

/* Saves e's records into p; 0, or -1 if one could not be saved. */
int	 snapfix_parts_of(const struct corr_engine *e, struct snapfix_parts *p);
/* corr_engine_load_parts() of p into c. */
int	 snapfix_parts_load(struct corr_engine *c, const struct snapfix_parts *p,
	    char *err, size_t errlen);
void	 snapfix_parts_free(struct snapfix_parts *p);
/* NULL when [p, p + n) and [q, q + m) are the same bytes; else why, in
 * why[0, len): what, the first byte that differs and the lengths. */
const char *snapfix_bytes_differ(const char *what, const char *p, size_t n,
	    const char *q, size_t m, char *why, size_t len);
/* NULL when x and y are the same bytes, record by record; else why, in
 * why[0, len): which record and the first byte that differs. */
const char *snapfix_parts_differ(const struct snapfix_parts *x,
	    const struct snapfix_parts *y, char *why, size_t len);

#endif
