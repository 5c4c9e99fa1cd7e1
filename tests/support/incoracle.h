/*
 * incoracle.h - an independent encoder of tocsin.incident/1 for tests: the
 * event as a jansson tree.  json_dumps(tree, JSON_COMPACT) must equal
 * incjson_encode()'s line byte for byte (test_incjson, test_corr_sla), so
 * the fast direct encoder is checked against a second implementation on
 * every kind of incident the core produces.  Test code only: the daemon
 * has one encoder (correlator/incjson).
 */
#ifndef TOCSIN_INCORACLE_H
#define TOCSIN_INCORACLE_H

#include <jansson.h>

#include "correlator/corr.h"
#include "correlator/fleet.h"
#include "correlator/incjson.h"

/* The event as a tree; a new reference (json_decref() it), NULL on OOM. */
json_t	*incoracle_build(const struct fleet *f, const struct corr_event *ev);
/*
 * An incident's "clocks" object at now: {"ack":{...},"arrive":...,
 * "resolve":...}, each {"state", "deadline" (RFC 3339 ms or null),
 * "remaining_ms", "paused", "met", "breached"}.  A new reference.
 */
json_t	*incoracle_clocks(const struct sla_engine *e,
	    const struct sla_incident *inc, int64_t now);
/* A time of the schema, ms as "2026-11-23T10:00:00.000Z"; a new reference. */
json_t	*incoracle_time(int64_t ms);

#endif
