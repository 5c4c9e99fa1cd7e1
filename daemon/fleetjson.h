/*
 * fleetjson.h - a fleet from a small JSON document: the fixture format of
 * bench/corrgen.py, the replay tests and the correlation benchmark (the
 * daemon's own fleet comes from the YAML config).
 *
 *   {"sites":[{"id":"S1","area":"A1","region":"A",
 *              "tenants":[{"customer":"cmcc","tier":"premium"}]}],
 *    "devices":[{"id":"S1-fsu","site":"S1","via":null},
 *               {"id":"S1-bat","site":"S1","via":"S1-fsu"}]}
 */
#ifndef TOCSIN_FLEETJSON_H
#define TOCSIN_FLEETJSON_H

#include <stddef.h>

#include "correlator/fleet.h"

/*
 * Loads the file at path.  Returns a fleet (free with fleet_free()), or NULL
 * with a one-line reason (naming the element) in err.
 */
struct fleet *fleetjson_load(const char *path, char *err, size_t errlen);

#endif
