/*
 * corrfix.h - what the correlator's unit tests (test_corr, test_corr_sla)
 * share: an engine built on a checked config whose sink keeps the reason
 * of the last refused action, and alarm edges and operator actions fed to
 * it with their assertions.  Each test file keeps its own fleet, event
 * record and globals; these take them as arguments.
 */
#ifndef TOCSIN_TEST_CORRFIX_H
#define TOCSIN_TEST_CORRFIX_H

#include <stdint.h>

#include "correlator/corr.h"

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

#endif
