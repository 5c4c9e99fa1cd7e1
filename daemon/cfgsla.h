/*
 * cfgsla.h - the sla section of the configuration: calendars, the clock
 * table by tier, severity and region, warnings, the escalation ladder and
 * the score bands (correlator/sla.h, DOMAIN.md section 3, docs/sla.md).
 */
#ifndef TOCSIN_CFGSLA_H
#define TOCSIN_CFGSLA_H

#include "correlator/sla.h"
#include "daemon/cfgkey.h"

/*
 * Reads the sla mapping n into sla, which holds sla_config_defaults() or an
 * earlier read: what the file gives replaces the defaults (a `clocks` list
 * rebuilds the tables it mentions; `warnings`, `escalation` and `scores`
 * lists replace theirs; calendars are added, or redefine one by name).
 * Errors go to cx; when the section read cleanly, every complaint of
 * sla_config_validate() is reported at n under the field it names.
 */
void	 cfgsla_read(struct cfgkey_ctx *cx, yaml_node_t *n,
	    struct sla_config *sla, const char *path);

#endif
