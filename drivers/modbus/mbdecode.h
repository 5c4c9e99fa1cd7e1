/*
 * mbdecode.h - turn Modbus registers into a point's value and back.
 *
 * A point (struct mbmap_point) says where its value lives (table, address),
 * how wide it is (type), in which order its bytes arrive (order) and how raw
 * numbers become engineering units (value = raw * scale + offset).  This
 * module decodes a point from the registers (or bits) a read returned, and
 * flags the result's quality: a NaN, an infinity or a value outside the
 * point's [min, max] is bad, never a number an alarm rule may act on.
 *
 * Byte orders (A is the most significant byte of the value; every register
 * is a host-order uint16_t as a Modbus read delivers it, i.e. its high byte
 * is the first byte on the wire):
 *
 *	order	32-bit regs[0] regs[1]	64-bit regs[0..3]	16-bit
 *	ABCD	AB CD			AB CD EF GH		AB
 *	CDAB	CD AB			GH EF CD AB		AB
 *	BADC	BA DC			BA DC FE HG		BA
 *	DCBA	DC BA			HG FE DC BA		BA
 *
 * So an order is two independent switches: CDAB reverses the order of the
 * registers (low word first), BADC swaps the two bytes inside each
 * register, DCBA does both (fully little-endian).  64-bit values extend that
 * rule over four registers (CDAB = GHEFCDAB, not CDABGHEF); 16-bit values
 * have one register, so only the byte swap applies.  These are the same
 * meanings as libmodbus's modbus_get_float_abcd/_cdab/_badc/_dcba.
 *
 * Everything here is pure and reentrant; nothing allocates.
 */
#ifndef TOCSIN_MBDECODE_H
#define TOCSIN_MBDECODE_H

#include <stddef.h>
#include <stdint.h>

#include "correlator/fleet.h"
#include "drivers/modbus/mbmap.h"

struct mbdecode_value {
	double		 value;		/* engineering units (scaled) */
	uint64_t	 raw;		/* the value's bits before scaling */
	uint8_t		 quality;	/* enum fleet_quality */
};


/*
 * Decodes point p from regs[0..nregs-1], the registers a read of p's table
 * returned starting at register address start.  Returns 0 and fills *out
 * (quality says whether the value may be used); -ERANGE if the point does
 * not lie wholly inside the window; -EINVAL if p is a coil/discrete point
 * or its type, order or bit is out of range.
 */
int	 mbdecode_regs(const struct mbmap_point *p, const uint16_t *regs,
	    size_t nregs, uint16_t start, struct mbdecode_value *out);

/*
 * The same for a coil or discrete-input point, from bits[0..nbits-1] with
 * one byte per bit (0 or non-zero), as libmodbus's modbus_read_bits()
 * returns them.  Returns 0, -ERANGE or -EINVAL (p is not a bool in a bit
 * table).  A bit decodes to 0.0 or 1.0; scale and offset do not apply.
 */
int	 mbdecode_bits(const struct mbmap_point *p, const uint8_t *bits,
	    size_t nbits, uint16_t start, struct mbdecode_value *out);

/*
 * The same from packed bits as they travel in a function 1/2 response:
 * bit i of the read is bit (i % 8) of bytes[i / 8].
 */
int	 mbdecode_bits_packed(const struct mbmap_point *p,
	    const uint8_t *bytes, size_t nbits, uint16_t start,
	    struct mbdecode_value *out);

/*
 * Assembles nwords (1, 2 or 4) registers in the given order into the
 * value's bits, A in the most significant byte; mbdecode_put_raw() is its
 * inverse.  Both return 0, or -EINVAL for a bad nwords or order.
 */
int	 mbdecode_get_raw(const uint16_t *regs, unsigned nwords,
	    enum mbmap_order order, uint64_t *bits);
int	 mbdecode_put_raw(uint64_t bits, unsigned nwords, enum mbmap_order order,
	    uint16_t *regs);

/*
 * The encoder (device simulator, tests), mbdecode_regs()'s inverse:
 * writes engineering value v of point p into the register window
 * regs[0..nregs-1] that starts at register address start, i.e. the
 * mbmap_point_width(p) registers from regs[p->address - start] on.
 * raw = (v - offset) / scale, rounded to nearest for integer types.  A
 * bool with a bit number sets or clears that bit of its register and keeps
 * the others; a bool without one writes 0 or 1.  Returns 0; -ERANGE if the
 * point is not wholly inside the window or the raw value does not fit the
 * type (NaN for an integer type included); -EINVAL for a coil/discrete
 * point or a bad type, order or bit.
 */
int	 mbdecode_encode(const struct mbmap_point *p, double v, uint16_t *regs,
	    size_t nregs, uint16_t start);

#endif
