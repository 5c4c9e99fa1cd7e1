/*
 * cfgcorr.h - the correlation section of the configuration: root-cause
 * rules, area storms, flapping, chronic faults, reopen hold, incident ids
 * (correlator/corr.h, DOMAIN.md section 5).
 */
#ifndef TOCSIN_CFGCORR_H
#define TOCSIN_CFGCORR_H

#include "correlator/corr.h"
#include "daemon/cfgkey.h"

/*
 * Reads the correlation mapping n into cc, which holds
 * corr_config_defaults() or an earlier read; a `rules` list replaces the
 * rules.  Errors go to cx; the alarm codes named are checked against the
 * profiles by cfgfleet_resolve(), which the caller runs once the whole file
 * is read.  When the section read cleanly, corr_config_check() judges it
 * as a whole and its complaint is reported at n.
 */
void	 cfgcorr_read(struct cfgkey_ctx *cx, yaml_node_t *n,
	    struct corr_config *cc, const char *path);

#endif
