/*
 * crole.h - tocsind in `daemon.role: correlator` (docs/scaleout.md): no
 * poller and no journal; the partitions of kafka.alarms its consumer
 * group (kafka.correlator_group) assigns it, each correlated as the shard
 * of its number, exactly once (daemon/cstage on its own thread), its
 * state in kafka.changelog.  The main thread waits for signals; the HTTP
 * server (when enabled) answers /healthz, /readyz, /metrics (owned
 * partitions, their rebuild time and changelog lag, the stage's counters),
 * GET /api/v1/cluster (the group's members and what each owns, as the
 * broker has it) and the incident read API of its partitions (daemon/view,
 * fed what the stage commits).
 *
 * SIGTERM, SIGINT: stop (the open transaction commits, the group is
 * left).  SIGHUP: refused with a log line (restart to change anything).
 * SIGUSR1: a line of counters.
 */
#ifndef TOCSIN_CROLE_H
#define TOCSIN_CROLE_H

#include "daemon/config.h"

#define CROLE_NROUTES		4
#define CROLE_CLUSTER_MS	2000	/* GET /api/v1/cluster's bound */

/*
 * Runs until a stop signal, or for duration_s (> 0) seconds.  Returns
 * the exit status: 0, or 1 (a refused configuration, a failed start or
 * a stage that ended on an error; logged).
 */
int	 crole_run(const struct config *cfg, double duration_s);

#endif
