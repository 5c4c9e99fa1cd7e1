/*
 * corrfix.h - what the correlator's unit tests (test_corr, test_corr_sla,
 * test_corr_complaint) share: an engine built on a checked config whose
 * sink keeps the reason of the last refused action, alarm edges and
 * operator actions fed to it with their assertions, a tower site of the
 * SLA tests, and an event recorded with its JSON checked against the
 * oracle.  Each test file keeps its own fleet, event log and globals;
 * these take them as arguments.
 */
#ifndef TOCSIN_TEST_CORRFIX_H
#define TOCSIN_TEST_CORRFIX_H

#include <stdint.h>

#include "correlator/corr.h"
#include "correlator/fleet.h"

#define CORRFIX_REJ_LEN	160	/* the rej buffers below */

/*
 * A corr_sink_ops.rejected for tests: copies reason into arg, a
 * char[CORRFIX_REJ_LEN] (the sink's arg as corrfix_engine() sets it).
 */
void	 corrfix_rejected(void *arg, const struct corr_action *a,
	    const char *reason);

/*
 * Asserts that cc passes corr_config_check(), then returns the shard-0
 * engine on f with sink { ops, rej }; ops->rejected should be
 * corrfix_rejected.  May return NULL as corr_engine_new() does.
 */
struct corr_engine *corrfix_engine(struct fleet *f,
	    const struct corr_config *cc, const struct corr_sink_ops *ops,
	    char *rej);

/*
 * Feeds e one alarm edge of code on device dev at `at`, asserting that f
 * knows dev and that the engine takes the alarm.
 */
void	 corrfix_edge(struct corr_engine *e, struct fleet *f, const char *dev,
	    const char *code, int64_t at, enum alarm_edge edge,
	    enum severity sev);

/*
 * Applies action t by actor (note may be NULL) to incident id at `at`.
 * Empties rej first, so afterwards it holds a reason only if this action
 * was refused.  Returns corr_engine_action()'s result.
 */
int	 corrfix_act(struct corr_engine *e, char *rej, const char *id,
	    enum corr_action_type t, const char *actor, const char *note,
	    int64_t at);

/*
 * Adds site id to f in area, region class `region`, station "Nanshan
 * Station", branch "Shenzhen Branch", tenant cmcc standard and, when
 * premium, ctcc premium (second: the tier rule must scan the tenants),
 * and one device "<id>-pwr" there.  Returns the site's index.
 */
uint32_t corrfix_site(struct fleet *f, const char *id, const char *area,
	    enum region region, int premium);

/* One incident event as a test keeps it. */
struct corrfix_ev {
	int	 type;		/* enum corr_evtype */
	uint64_t seq;
	int64_t	 at;
	int	 clock;
	int	 level;
	char	 id[CORR_ID_LEN];
	char	*json;		/* incjson_encode(); free() it */
};

/*
 * Fills r from ev, with its JSON encoded both ways (incjson_encode and
 * json_dumps of incoracle_build) and asserted byte-equal.
 */
void	 corrfix_ev_take(struct corrfix_ev *r, const struct fleet *f,
	    const struct corr_event *ev);

#endif
