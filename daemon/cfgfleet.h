/*
 * cfgfleet.h - the fleet sections of the configuration: profiles (points
 * and alarms), sites (tenants) and devices (inline or from an inventory
 * CSV), read into a struct fleet (correlator/fleet.h) and the Modbus point
 * map (drivers/modbus/mbmap.h).
 *
 * Names are free in order: a device may name a gateway defined further
 * down, and the correlation section names alarm codes that profiles raise.
 * Such names are deferred (cfgkey_defer()) and checked by cfgfleet_resolve()
 * once the whole file is read; cfgfleet_read() reads profiles, sites and
 * devices in that order, whatever their order in the file, so a device's
 * site and profile resolve at once.
 *
 * Unset differs from default: a device's port 0 and unit -1 mean "the
 * modbus section's default", resolved by the poller, so a change of the
 * default reaches every device that did not say otherwise.
 *
 * Return values: 0, or -EINVAL after reporting to the context.
 */
#ifndef TOCSIN_CFGFLEET_H
#define TOCSIN_CFGFLEET_H

#include <stddef.h>
#include <stdint.h>

#include "correlator/fleet.h"
#include "daemon/cfgkey.h"
#include "drivers/modbus/mbmap.h"

/*
 * Reads the fleet sections, given by their value nodes (NULL: absent), in
 * this order:
 *   profiles: {ID: {description, gateway, points: [...], alarms: [...],
 *	commands: [...]}}.
 *	Each point's name, unit and deadband go to the fleet's profile, where
 *	the device holds it and how it decodes to map's profile of the same
 *	index (drivers/modbus/mbmap.h); map gets a profile for every one of
 *	the fleet's, even one whose points failed.  Commands (the writes an
 *	operator may ask for, docs/commands.md) go to the map's profile.
 *   sites: [{id, name, area, region, station, branch, tenants: [...]}]
 *   devices: [{id, site, profile, host, port, unit, via, interval, timeout}
 *	or {inventory: FILE}], FILE relative to cx->dir unless absolute.
 */
void	 cfgfleet_read(struct cfgkey_ctx *cx, struct fleet *f, struct mbmap *map,
	    yaml_node_t *profiles, yaml_node_t *sites, yaml_node_t *devices);
/*
 * The key tables of a profile's `commands` items and of their `readback`
 * (docs/configuration.md lists them; tests/unit/test_config_doc.c checks
 * the page against these).
 */
extern const struct cfg_key cfgfleet_command_keys[];
extern const struct cfg_key cfgfleet_readback_keys[];

/*
 * An alarm code named outside the profiles (a correlation rule's): checks
 * its form (upper case letters, digits and _, shorter than len), copies it
 * into dst[len] and defers the check that some profile raises it (or that
 * it is COMM_LOSS) to cfgfleet_resolve().  Returns 0, or -EINVAL after
 * reporting; dst is then unchanged.
 */
int	 cfgfleet_read_code(struct cfgkey_ctx *cx, yaml_node_t *n,
	    const char *path, char *dst, size_t len);
/*
 * Once the whole file is read: resolves the deferred names (gateways,
 * alarm codes), rejects a gateway behind a gateway, and gives a device
 * behind a gateway the gateway's host (and port, unless it has its own).
 */
void	 cfgfleet_resolve(struct cfgkey_ctx *cx, struct fleet *f);
/*
 * Reports devices that share host, port and unit (they would be polled as
 * one), at most 20 of them; port and unit are the modbus defaults that
 * stand for a device's unset ones.  Needs a resolved fleet.
 */
void	 cfgfleet_check_addresses(struct cfgkey_ctx *cx, const struct fleet *f,
	    uint32_t port, uint32_t unit);
/*
 * Modicon notation: 00001-09999 coils, 10001-19999 discrete inputs,
 * 30001-39999 input registers, 40001-49999 holding registers, and the
 * six-digit forms 000001-065536 ... 400001-465536.  Gives the table and the
 * 0-based address.  Returns 0, or -EINVAL with *why set to a static
 * explanation.
 */
int	 cfgfleet_parse_modicon(const char *s, enum mbmap_table *table,
	    uint16_t *address, const char **why);

#endif
