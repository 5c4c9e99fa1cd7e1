/*
 * devsim_model.h - what the device simulator serves: a fleet of tower-site
 * devices, their register images and the physics behind the numbers.
 *
 * The model is the pure half of devsim: it owns a struct fleet (built here
 * from command-line numbers until the YAML loader lands), one register image
 * per device laid out by the device's profile, per-site physical state
 * (mains, battery, room temperature, door/smoke/water contacts, rectifier,
 * air-con, generator) and per-device communication faults (silent, delay,
 * exception, garbage, trickle) that the network half honours.  It never
 * reads a clock: every call that depends on time takes `now` (ms since the
 * epoch), so a test or a scenario can drive it at any pace.
 *
 * Topology: devices are grouped into gateways of K unit ids (K = 1: every
 * device is its own endpoint).  A gateway is one TCP endpoint (address:port)
 * and one site, as an FSU is at a tower site.  Devices, sites and endpoints
 * are numbered globally, so several simulator processes (--shard i/n) serving
 * disjoint slices agree on every name and address.
 *
 * Config mode (devsim_model_init_fleet(), `devsim -c CONFIG`): the fleet is
 * a tocsin configuration's, borrowed.  Every distinct host:port of its
 * devices (a device behind a gateway is reached at the gateway's) is one
 * endpoint, numbered in order of first appearance; its unit ids map to
 * their devices.  Each device's registers are laid out by its own profile,
 * and a site holds as many devices as the configuration puts there.  A
 * point's value comes from the site's physics by what the point is:
 * points that a bit_set or equals alarm watches carry that alarm's
 * condition (MAINS_FAIL, RECT_FAIL, AC_FAIL, DG_FAIL, DOOR_OPEN, SMOKE,
 * WATER_LEAK); other points by name (mains_voltage, dc_voltage,
 * load_current, voltage/current of a battery, room_temp, fuel_level,
 * uptime, ...; docs/devsim.md has the table); a name it does not know
 * reads 0 clamped into the point's [min, max].
 */
#ifndef DEVSIM_MODEL_H
#define DEVSIM_MODEL_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "correlator/fleet.h"
#include "drivers/modbus/mbmap.h"

/* Site flags (physical contacts and faults a scenario sets). */
#define DEVSIM_F_DOOR		0x0001	/* door open (DOOR_OPEN) */
#define DEVSIM_F_SMOKE		0x0002	/* smoke detector (SMOKE) */
#define DEVSIM_F_WATER		0x0004	/* water-leak sensor (WATER_LEAK) */
#define DEVSIM_F_RECT_FAIL	0x0008	/* rectifier module fault (RECT_FAIL) */
#define DEVSIM_F_AC_FAIL	0x0010	/* air-con fault (AC_FAIL) */
#define DEVSIM_F_DG_FAIL	0x0020	/* generator failed to start (DG_FAIL) */
#define DEVSIM_F_DG_RUN		0x0040	/* generator running */

struct devsim_cfg {
	size_t		 ndevices;	/* --devices: total over all shards */
	unsigned	 units;		/* --units-per-gateway: unit ids 1..K */
	struct in_addr	 base;		/* --base-addr: first endpoint address */
	uint16_t	 port;		/* --port: first endpoint port */
	unsigned	 ports_per_addr;/* --ports-per-addr: endpoints per address */
	double		 noise;		/* --noise: 0 = exact nominal values */
	double		 drift;		/* --drift: 0 = no slow drift */
	double		 drift_period_s;/* --drift-period: one drift cycle */
	double		 time_scale;	/* --time-scale: physics runs this fast */
	double		 batt_runtime_s;/* --batt-runtime: 51.5 V -> 44 V on mains loss */
	uint64_t	 seed;		/* --seed: noise and per-device offsets */
};

/* The communication faults of one device (unit id). */
struct devsim_fault {
	uint32_t	 delay_ms;	/* answer this late; 0 = at once */
	uint32_t	 trickle_ms;	/* send the answer one byte per this; 0 = off */
	uint8_t		 silent;	/* read requests, never answer */
	uint8_t		 exception;	/* answer every request with this code; 0 = off */
	uint8_t		 garbage;	/* answer with random bytes, not a frame */
	/* writes only (FC 5, 6, 15, 16); reads are answered as usual: */
	uint8_t		 write_exception; /* refuse writes with this code */
	uint8_t		 write_silent;	/* never answer a write */
	uint8_t		 write_ignore;	/* echo writes, change nothing */
};

/* A register or coil a client wrote: it keeps that value (the physics
 * no longer drives it) until the simulator stops. */
struct devsim_written {
	uint32_t	 dev;
	uint8_t		 table;		/* MBMAP_COIL or MBMAP_HOLDING */
	uint16_t	 addr;
	uint16_t	 value;
};

struct devsim_site {
	uint16_t	 flags;		/* DEVSIM_F_* */
	uint8_t		 mains_ok;	/* grid present */
	int64_t		 batt_t0;	/* ms: battery state last changed course */
	double		 batt_v0;	/* V at batt_t0 */
	int64_t		 temp_t0;	/* ms: cooling last switched on or off */
	double		 temp_v0;	/* degC at temp_t0 */
};

struct devsim_model {
	struct devsim_cfg cfg;
	struct fleet	*fleet;		/* owned; one profile "tower" */
	struct mbmap	*map;		/* its Modbus point map; owned too */
	uint32_t	 profile;	/* index of the served profile */
	size_t		 ngateways;	/* endpoints (= sites) over all shards */
	size_t		 nregs[MBMAP__TABLES];/* table sizes of the profile's map */
	uint16_t	*regs;		/* ndevices x (input + holding) words */
	uint8_t		*bits;		/* ndevices x (coils + discretes), 0/1 */
	int64_t		*evaluated;	/* ms of each device's last evaluation */
	struct devsim_fault *faults;	/* per device */
	struct devsim_site *sites;	/* per gateway/site */
	uint32_t	*requests;	/* per device, counted by the server */
	uint32_t	*writes;	/* per device: requests with a function
					   code other than 1-4 */
	uint8_t		*has_written;	/* per device: some entry in written */
	struct devsim_written *written;	/* what clients wrote, in order */
	size_t		 nwritten, capwritten;
	int64_t		 start;		/* ms: model creation (uptime, energy) */
	uint64_t	 rng;		/* xorshift state for noise */
	size_t		 nsites;	/* entries of sites[] */
	/* config mode only (fleet and map borrowed, not freed by fini): */
	int		 cfgmode;	/* 1: built by devsim_model_init_fleet */
	struct devsim_ep *eps;		/* ngateways endpoints */
	uint32_t	*dev_ep;	/* per device: its endpoint */
	size_t		*woff, *boff;	/* per device: first word, first bit */
	uint32_t	(*pnregs)[MBMAP__TABLES]; /* per profile: table sizes */
};

/* A config-mode endpoint: one address:port and the units behind it. */
struct devsim_ep {
	struct in_addr	 addr;
	uint16_t	 port;
	uint32_t	 unit_dev[256];	/* device of each unit id or FLEET_NONE */
};

/* Nominal (noise 0, drift 0, mains on) values of the tower profile. */
#define DEVSIM_MAINS_V		230.0
#define DEVSIM_MAINS_HZ		50.0
#define DEVSIM_BATT_FLOAT_V	53.5
#define DEVSIM_BATT_FLOAT_A	2.0
#define DEVSIM_BATT_DISCH_A	(-45.0)
#define DEVSIM_ROOM_C		25.0
#define DEVSIM_LOAD_A		40.0

/* Fills cfg with the defaults documented in docs/devsim.md. */
void	 devsim_cfg_default(struct devsim_cfg *cfg);

/*
 * The fleet-shape options devsim and the clients that poll it share, as
 * getopt_long entries (letters n, k, a, p, m): a client must name the same
 * endpoints the simulator serves.
 */
#define DEVSIM_CFG_OPTIONS						\
	{ "devices", required_argument, NULL, 'n' },			\
	{ "units-per-gateway", required_argument, NULL, 'k' },		\
	{ "base-addr", required_argument, NULL, 'a' },			\
	{ "port", required_argument, NULL, 'p' },			\
	{ "ports-per-addr", required_argument, NULL, 'm' }

/*
 * Applies fleet option ch with value arg to cfg.  Returns 0, or -1 when ch
 * is not a fleet option; exits naming prog on a bad value (a base address
 * outside 127.0.0.0/8 is one: simulated devices live on loopback only).
 */
int	 devsim_cfg_option(struct devsim_cfg *cfg, const char *prog, int ch,
	    const char *arg);

/*
 * Builds the fleet and the register images of every device and evaluates
 * them once at `now`.  Returns 0, or -EINVAL if cfg is out of range (then
 * *m is untouched) or -ERANGE if the endpoints leave 127.0.0.0/8 or the
 * port range.  Free with devsim_model_fini().
 */
int	 devsim_model_init(struct devsim_model *m, const struct devsim_cfg *cfg,
	    int64_t now);
void	 devsim_model_fini(struct devsim_model *m);

/*
 * Config mode: the model of fleet f (borrowed: it must outlive the model;
 * the caller frees it after devsim_model_fini()).  Devices without a port
 * or unit take def_port / def_unit (the config's modbus section).  Only
 * noise, drift, drift_period_s, time_scale, batt_runtime_s and seed of cfg
 * are used.  Returns 0; -EINVAL for a bad cfg, a host that is not an IPv4
 * literal in 127.0.0.0/8, a unit outside 0..255 or two devices on one
 * host:port:unit.  Free with devsim_model_fini().
 */
int	 devsim_model_init_fleet(struct devsim_model *m,
	    const struct devsim_cfg *cfg, struct fleet *f,
	    const struct mbmap *map, uint16_t def_port, int def_unit,
	    int64_t now);

/* Endpoint g's address and port in either mode.  Returns 0 or -ERANGE. */
int	 devsim_model_endpoint(const struct devsim_model *m, size_t g,
	    struct in_addr *addr, uint16_t *port);
/* The endpoint and the site of device d in either mode. */
size_t	 devsim_device_endpoint(const struct devsim_model *m, uint32_t d);
size_t	 devsim_device_site(const struct devsim_model *m, uint32_t d);
/* Registers (bits) of table t that device d serves, from address 0. */
size_t	 devsim_model_nregs(const struct devsim_model *m, uint32_t d,
	    enum mbmap_table t);

/*
 * The address and port of endpoint (gateway) g in the addressing scheme of
 * cfg: addresses count up from base skipping x.y.z.0 and x.y.z.255,
 * ports_per_addr ports each.  Returns 0 or -ERANGE.  Shared with the
 * baseline clients so that they find what the simulator serves.
 */
int	 devsim_endpoint(const struct devsim_cfg *cfg, size_t g,
	    struct in_addr *addr, uint16_t *port);

/* First device index and unit count of gateway g. */
size_t	 devsim_gateway_first(const struct devsim_model *m, size_t g);

/*
 * The device gateway g answers for `unit`, or FLEET_NONE: with one unit per
 * gateway every unit id reaches the device; otherwise unit ids 1..K.
 */
uint32_t devsim_unit_device(const struct devsim_model *m, size_t g,
	    unsigned unit);

/*
 * Re-evaluates device d's registers at `now` if they are older than
 * `max_age_ms` (0: always).  Values are a pure function of the site state,
 * the time and the noise generator.
 */
void	 devsim_model_eval(struct devsim_model *m, uint32_t d, int64_t now,
	    int64_t max_age_ms);

/* The register words of table t (MBMAP_INPUT or MBMAP_HOLDING) of device d. */
uint16_t *devsim_model_words(struct devsim_model *m, uint32_t d,
	    enum mbmap_table t);
/* The bits (one byte each, 0/1) of table t (MBMAP_COIL or MBMAP_DISCRETE). */
uint8_t	*devsim_model_bits(struct devsim_model *m, uint32_t d, enum mbmap_table t);

/*
 * A client's write of n values to table t (MBMAP_COIL: 0/1, or
 * MBMAP_HOLDING) of device d from addr: the image changes now and the
 * values stay (evaluations no longer overwrite them).  Returns 0, or
 * -ERANGE when [addr, addr + n) is not inside the table (the server then
 * answers exception 2 and nothing changes).
 */
int	 devsim_model_write(struct devsim_model *m, uint32_t d,
	    enum mbmap_table t, unsigned addr, const uint16_t *v, unsigned n);

/*
 * Physical events at a site, from now on: mains loss and return, contacts
 * and faults.  `set` 1 raises, 0 clears.  The battery and the room
 * temperature change course at `now` and evolve from their value then.
 */
void	 devsim_site_mains(struct devsim_model *m, size_t site, int ok,
	    int64_t now);
void	 devsim_site_flag(struct devsim_model *m, size_t site, uint16_t flag,
	    int set, int64_t now);

/*
 * Encodes engineering value v into a point's registers (regs points at the
 * first word of its table) by the point's type, scale, offset and order.
 * Integers are rounded and saturated to their type.
 */
void	 devsim_encode(const struct mbmap_point *p, double v, uint16_t *regs);

#endif
