/*
 * fleet.h - the shared vocabulary of tocsin: what is watched and for whom.
 *
 * A fleet is sites (each in an area and a region class, hosting tenants with
 * a service tier), devices (each at a site, of a profile, reached at
 * host:port/unit, possibly behind a gateway device) and profiles (device
 * models: named points and the alarm rules on them; where a protocol finds
 * each point is its driver's map, drivers/modbus/mbmap.h).  The configuration
 * loader builds it once; after that it is read-only and shared by every
 * thread without locks.  Objects refer to each other by index (uint32_t), not
 * by pointer, so arrays can grow while loading and stay compact: 100,000
 * devices cost about 6 MB here.
 *
 * Enum name tables live here too so that config, JSON and logs spell every
 * value the same way.
 */
#ifndef TOCSIN_FLEET_H
#define TOCSIN_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/names.h"

#define FLEET_NONE UINT32_MAX		/* "no index" */

enum tier { TIER_STANDARD, TIER_PREMIUM, TIER__COUNT };
/* Ordered by urgency: a higher value is more severe. */
enum severity { SEV_WARNING, SEV_MINOR, SEV_MAJOR, SEV_CRITICAL, SEV__COUNT };
enum region { REGION_A, REGION_B, REGION_C, REGION__COUNT };

enum alarm_cond { AC_ABOVE, AC_BELOW, AC_EQUALS, AC_BIT_SET, AC__COUNT };
/*
 * Quality of a point's value, whatever protocol read it; anything but
 * FLEET_Q_GOOD is bad and never a number an alarm rule may act on.
 */
enum fleet_quality {
	FLEET_Q_GOOD,			/* a finite value inside [min, max] */
	FLEET_Q_BAD_NAN,		/* a float that is NaN */
	FLEET_Q_BAD_INF,		/* a float that is +/- infinity */
	FLEET_Q_BAD_RANGE,		/* outside the point's [min, max] */
	FLEET_Q__COUNT
};

/*
 * What a point is: its name, unit and telemetry deadband.  Where a
 * protocol finds it and how its raw value becomes a number belong to the
 * driver's point map (drivers/modbus/mbmap.h, same index).
 */
struct fleet_point {
	char		*name;		/* unique within its profile */
	char		*unit;		/* engineering unit, "V", "degC"; may be NULL */
	double		 deadband;	/* telemetry: smallest change published */
};

struct fleet_alarm {
	char		*code;		/* MAINS_FAIL, HIGH_TEMP, ... */
	uint16_t	 code_id;	/* fleet_code(code) */
	uint32_t	 point;		/* index into the profile's points */
	uint8_t		 cond;		/* enum alarm_cond */
	uint8_t		 severity;	/* enum severity */
	uint8_t		 bit;		/* AC_BIT_SET: which bit of the value */
	double		 threshold;	/* raise when value crosses it */
	double		 clear;		/* clear threshold (hysteresis); = threshold if unset */
	uint32_t	 delay_on_ms;	/* condition must hold this long to raise */
	uint32_t	 delay_off_ms;	/* and be gone this long to clear */
};

struct fleet_profile {
	char		*id;
	char		*description;
	struct fleet_point *points;
	size_t		 npoints;
	struct fleet_alarm *alarms;
	size_t		 nalarms;
	int		 gateway;	/* an FSU: its COMM_LOSS explains its devices' */
};

struct fleet_tenant {
	char		*customer;
	uint8_t		 tier;		/* enum tier */
};

struct fleet_site {
	char		*id;
	char		*name;		/* may be NULL */
	uint32_t	 area;		/* index into fleet.areas */
	uint8_t		 region;	/* enum region */
	uint8_t		 tier;		/* effective: max over tenants */
	uint16_t	 ntenants;
	char		*station;	/* escalation level 0: service station */
	char		*branch;	/* level 1: branch */
	struct fleet_tenant *tenants;
};

struct fleet_device {
	char		*id;
	char		*host;		/* IPv4/IPv6 literal or name */
	uint32_t	 site;		/* index into fleet.sites */
	uint32_t	 profile;	/* index into fleet.profiles */
	uint32_t	 via;		/* gateway device index, or FLEET_NONE */
	uint32_t	 interval_ms;	/* 0: modbus default */
	uint32_t	 timeout_ms;	/* 0: modbus default */
	uint16_t	 port;		/* 0: modbus default */
	int16_t		 unit;		/* -1: modbus default */
};

struct fleet_index;			/* string -> index hash, private */

/* The fleet's id-keyed kinds, each an array with its own index. */
enum fleet_kind {
	FLEET_SITE,
	FLEET_DEVICE,
	FLEET_PROFILE,
	FLEET_AREA,
	FLEET_CODE,
	FLEET__KINDS
};

struct fleet {
	struct fleet_site    *sites;
	size_t		      nsites;
	struct fleet_device  *devices;
	size_t		      ndevices;
	struct fleet_profile *profiles;
	size_t		      nprofiles;
	char		    **areas;	/* area names, interned */
	size_t		      nareas;
	char		    **codes;	/* alarm codes, interned; 0 = COMM_LOSS */
	size_t		      ncodes;
	struct fleet_index   *ix[FLEET__KINDS];	/* id -> index, per kind */
	size_t		      cap[FLEET__KINDS];	/* room in each array */
};

/* Returns an empty fleet; free it with fleet_free(). */
struct fleet *fleet_new(void);
void	 fleet_free(struct fleet *f);

/*
 * Appends a site, device, profile, area or code and returns its index; the
 * new object is zeroed except for its id (copied) and, for a device, site,
 * profile and via (FLEET_NONE) and unit (-1).  Returns FLEET_NONE if the id
 * already exists (or at UINT16_MAX codes).
 */
uint32_t fleet_add(struct fleet *f, enum fleet_kind kind, const char *id);
/*
 * Makes room for more sites, devices, profiles or areas than there are, so
 * that adding them moves neither the array nor its index: a loader that
 * knows how many rows follow (an inventory's lines) calls it first.  A
 * hint only: fleet_add() still grows past it.
 */
void	 fleet_reserve(struct fleet *f, enum fleet_kind kind, size_t more);
/* Interns an area name; returns its index (existing or new). */
uint32_t fleet_area(struct fleet *f, const char *name);

/*
 * Interns an alarm code and returns its small integer id (existing or new);
 * FLEET_CODE_COMM_LOSS is always 0.  The core compares codes by id.
 */
#define FLEET_CODE_COMM_LOSS 0
uint16_t fleet_code(struct fleet *f, const char *code);
/* The id of a code, or -ENOENT if it was never interned. */
int	 fleet_find_code(const struct fleet *f, const char *code);
/*
 * The one rule for what an alarm code may be, for every input that names
 * one (configuration, replay files, tocsin.alarms): 1 to FLEET_CODE_MAX
 * bytes of A-Z, 0-9 and _, like MAINS_FAIL.  The limit is the correlation
 * rules' (corr.h CORR_CODE_LEN - 1), so any valid code can be named by a
 * rule.  Returns 0, or -EINVAL.
 */
#define FLEET_CODE_MAX 31
int	 fleet_code_check(const char *code);

/*
 * The shard, or the partition of tocsin.alarms and tocsin.changelog, an
 * area named `area` goes to among n (docs/scaleout.md: a partition is a
 * shard): FNV-1a 64 of the name's bytes, then a final mix (x ^= x >> 33;
 * x *= 0xff51afd7ed558ccd; x ^= x >> 33), modulo n (n 0 counts as 1).
 * Independent of the configuration's order; fixed for good, as every
 * instance of a deployment must compute the same.  fleet_area_shard_n()
 * hashes len bytes (a Kafka key, not NUL-terminated) the same way.
 */
unsigned fleet_area_shard(const char *area, unsigned n);
unsigned fleet_area_shard_n(const void *name, size_t len, unsigned n);
/* The index of the site, device, profile, area or code named id; FLEET_NONE
 * when absent.  O(1). */
uint32_t fleet_find(const struct fleet *f, enum fleet_kind kind,
	    const char *id);
/*
 * fleet_find() of n ids at once: ids[i] is lens[i] bytes (not
 * NUL-terminated) of kind kinds[i] (each a valid enum fleet_kind), its
 * index or FLEET_NONE in out[i].  Faster per id than fleet_find() for a
 * table of many (the look-ups' cache misses overlap).
 */
void	 fleet_find_many(const struct fleet *f, const uint8_t *kinds,
	    const char *const *ids, const uint32_t *lens, size_t n,
	    uint32_t *out);
/* Index of a point in a profile by name, or FLEET_NONE. */
uint32_t fleet_find_point(const struct fleet_profile *p, const char *name);

/* Adds a tenant to a site and updates the site's effective tier. */
void	 fleet_site_add_tenant(struct fleet_site *s, const char *customer,
	    enum tier tier);
/* The premium rule: the highest tier of a site's tenants. */
enum tier fleet_effective_tier(const struct fleet_tenant *t, size_t n);

/* Enum names; *_parse return 0 or -EINVAL for an unknown name. */
NAMES_DECLARE(fleet_tier_name, fleet_tier_parse, enum tier);
NAMES_DECLARE(fleet_severity_name, fleet_severity_parse, enum severity);
NAMES_DECLARE(fleet_region_name, fleet_region_parse, enum region);
NAMES_DECLARE(fleet_alarm_cond_name, fleet_alarm_cond_parse,
    enum alarm_cond);
/* "good", "bad_nan", "bad_inf", "bad_range". */
const char *fleet_quality_name(enum fleet_quality q);

#endif
