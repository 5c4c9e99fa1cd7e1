/*
 * cfgcsv.h - the device inventory CSV, parsed from a buffer.
 *
 * An inventory is what a large fleet lists instead of YAML devices
 * (devices: [{inventory: FILE}]): a header line naming the columns
 *
 *	id,site,profile,host,port,unit,via
 *
 * in that order, then one device per line.  Lines end in LF or CRLF; empty
 * lines and lines starting with '#' are skipped.  A field is everything
 * between two commas: there is no quoting, so a value cannot hold a comma
 * (ids, hosts and names never do) and a quote is an ordinary character.
 * Empty host, port, unit and via mean "not given" (a device behind a
 * gateway has no host; port and unit then come from the modbus section).
 *
 * The parser checks the shape of each row (column count, header, port
 * 1-65535, unit 0-255) and hands every good row to a callback; what the
 * names refer to (sites, profiles, gateways) is the caller's business
 * (cfgfleet.c).  It reads no file, so it is unit-tested and fuzzed on
 * buffers.
 */
#ifndef TOCSIN_CFGCSV_H
#define TOCSIN_CFGCSV_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/cfgkey.h"

/* One device row.  The strings live until the callback returns. */
struct cfgcsv_row {
	const char	*id, *site, *profile; /* never NULL, may be empty */
	const char	*host;		/* NULL: the column is empty */
	const char	*via;		/* NULL: empty, a directly polled device */
	uint32_t	 port;		/* 1-65535; 0: empty */
	uint32_t	 unit;		/* 0-255; UINT32_MAX: empty */
	struct cfgkey_loc at;		/* the row: its line, column 1 */
	struct cfgkey_loc site_at;	/* the site cell, for errors naming it */
	struct cfgkey_loc profile_at;	/* the profile cell */
	struct cfgkey_loc via_at;	/* the via cell */
};

typedef void (*cfgcsv_row_fn)(struct cfgkey_ctx *cx,
	    const struct cfgcsv_row *row, void *arg);

/*
 * Parses the inventory in buf[0..len) (any bytes; a NUL ends its line's
 * text) and calls fn(cx, row, arg) for every device row, in file order.
 * Each bad row is reported to cx as "FILE:LINE:COLUMN: key: message" and
 * skipped; file names the inventory in those messages and in every
 * location given to fn, so it must live as long as the caller keeps those
 * (cfgkey_keep() gives such a copy).  Returns 0 when every row was good,
 * or -EINVAL when some row was reported; errors fn reports do not count.
 */
int	 cfgcsv_parse(struct cfgkey_ctx *cx, const char *file, const char *key,
	    const char *buf, size_t len, cfgcsv_row_fn fn, void *arg);

#endif
