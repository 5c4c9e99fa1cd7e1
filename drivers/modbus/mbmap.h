/*
 * mbmap.h - the Modbus point map: where each point of a device profile
 * lives in a Modbus device and how its registers become a value.
 *
 * The model (correlator/fleet.h) says what a point is: its name, unit and
 * telemetry deadband, and the alarm rules on it.  This map says how the
 * Modbus driver reads it: the table and 0-based address (the MB_DATA_ADDR
 * ranges engineers know), the type and byte order of the value in its
 * registers, the bit of a bool in a register, the scale, offset and valid
 * range that turn raw numbers into engineering units and a quality, and
 * the point's own poll class.  A protocol other than Modbus would bring a
 * map of its own; the core never sees this one.
 *
 * Layout: one struct mbmap per configuration, one struct mbmap_profile per
 * fleet profile (same index), one struct mbmap_point per profile point
 * (same index as fleet_profile.points).  Built by the config loader, then
 * read-only.
 */
#ifndef TOCSIN_MBMAP_H
#define TOCSIN_MBMAP_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/names.h"

/* Modbus data tables, by the MB_DATA_ADDR ranges engineers know. */
enum mbmap_table {
	MBMAP_COIL, MBMAP_DISCRETE, MBMAP_INPUT, MBMAP_HOLDING, MBMAP__TABLES
};
/* The type of a value in its registers. */
enum mbmap_type {
	MBMAP_BOOL, MBMAP_INT16, MBMAP_UINT16, MBMAP_INT32, MBMAP_UINT32,
	MBMAP_INT64, MBMAP_UINT64, MBMAP_FLOAT32, MBMAP_FLOAT64, MBMAP__TYPES
};
/* Byte order within the value: A is the most significant byte. */
enum mbmap_order {
	MBMAP_ABCD, MBMAP_CDAB, MBMAP_BADC, MBMAP_DCBA, MBMAP__ORDERS
};

struct mbmap_point {
	double		 scale;		/* value = raw * scale + offset */
	double		 offset;
	double		 min, max;	/* valid range; outside = bad quality */
	uint32_t	 interval_ms;	/* poll class: read about this often,
					   in whole polls of its device
					   (mbplan.h); 0: every poll */
	uint16_t	 address;	/* 0-based offset in its table */
	uint8_t		 table;		/* enum mbmap_table */
	uint8_t		 type;		/* enum mbmap_type */
	uint8_t		 order;		/* enum mbmap_order */
	int8_t		 bit;		/* bool in a register: bit 0-15; else -1 */
};

/*
 * A command a profile declares (remote handling, docs/commands.md): one
 * write an operator may ask for by name, and what confirms it.  The only
 * writes tocsin ever sends are these (daemon/poller builds the request
 * from this struct; nothing else reaches the client's request op with a
 * write function code).
 */
#define MBMAP_CMD_VALUES	123	/* FC 16 quantity limit */
#define MBMAP_RB_NONE		MBMAP__TABLES	/* rb_table: no read-back */

struct mbmap_command {
	char		*name;		/* unique within its profile */
	uint8_t		 fc;		/* 5 coil, 6 register, 16 registers */
	uint8_t		 rb_table;	/* read-back table, or MBMAP_RB_NONE */
	uint16_t	 address;	/* 0-based: a coil (5) or holding (6,16) */
	uint16_t	 count;		/* values: 1 for FC 5 and 6 */
	uint16_t	 rb_address;	/* 0-based in rb_table */
	uint16_t	 rb_value;	/* expected raw value: a register, or
					   0/1 for a bit */
	uint16_t	*values;	/* owned, count of them; FC 5: 0 or 1 */
	uint32_t	 rb_delay_ms;	/* first read-back this long after the
					   write's answer, then again as often
					   (at least 200 ms apart) */
	uint32_t	 rb_timeout_ms;	/* stop reading back this long after
					   the write's answer (>= rb_delay) */
};

/* The map of one profile: points[i] is the profile's point i. */
struct mbmap_profile {
	struct mbmap_point *points;
	size_t		 npoints;
	struct mbmap_command *commands;	/* declared commands, in file order */
	size_t		 ncommands;
};

/* The map of a fleet: profiles[i] is the fleet's profile i. */
struct mbmap {
	struct mbmap_profile *profiles;
	size_t		 nprofiles;
};

/* An empty map; free it with mbmap_free(). */
struct mbmap *mbmap_new(void);
void	 mbmap_free(struct mbmap *m);
/*
 * The map of profile i, made (empty, with every profile before it) if it
 * does not exist yet.  The pointer is valid until the next call that adds
 * a profile.
 */
struct mbmap_profile *mbmap_profile(struct mbmap *m, uint32_t i);
/*
 * Appends a point to p and returns it: address 0 of the holding
 * registers, uint16, ABCD, no bit, scale 1, offset 0, no range, polled
 * every poll.  Valid until the next append to p.
 */
struct mbmap_point *mbmap_add_point(struct mbmap_profile *p);
/* The point defaults mbmap_add_point() gives, for points built by hand. */
void	 mbmap_point_init(struct mbmap_point *p);

/*
 * Appends a command (copying name and values) to p and returns it; valid
 * until the next append to p.  The caller fills the rest.
 */
struct mbmap_command *mbmap_add_command(struct mbmap_profile *p,
	    const char *name, const uint16_t *values, uint16_t count);
/* The index of p's command called name, or -1. */
int	 mbmap_find_command(const struct mbmap_profile *p, const char *name);
/* Commands over every profile of m: 0 means nothing can ever be written. */
size_t	 mbmap_ncommands(const struct mbmap *m);

/* Registers a point occupies in its table (bits for coils/discretes). */
unsigned mbmap_point_width(const struct mbmap_point *p);

/* Names as the configuration spells them; *_parse: 0 or -EINVAL. */
NAMES_DECLARE(mbmap_table_name, mbmap_table_parse, enum mbmap_table);
NAMES_DECLARE(mbmap_type_name, mbmap_type_parse, enum mbmap_type);
NAMES_DECLARE(mbmap_order_name, mbmap_order_parse, enum mbmap_order);

#endif
