/*
 * mbdecode.c - point decoding: registers -> raw bits -> typed number ->
 * engineering value -> quality.
 *
 * Design.  Every type is first reduced to its bits in a uint64_t with byte A
 * in the most significant used byte (mbdecode_get_raw); the order is applied
 * there once, as two switches: reverse the registers (CDAB, DCBA) and swap
 * the bytes inside each register (BADC, DCBA).  The type then reinterprets
 * those bits (sign extension for signed types, memcpy for floats), so there
 * is one place where byte order lives and the encoder is its exact inverse.
 *
 * Choices where the spec is silent (docs/points.md repeats them):
 *  - scale 0 is read as 1 (a zeroed point must not decode everything to its
 *    offset); bools are never scaled.
 *  - the range check applies only when min < max (a point whose min and max
 *    are both unset, i.e. 0, has no range); both ends are inclusive and are
 *    compared with the scaled value.
 *  - NaN and infinity are checked on the scaled value too, so a huge scale
 *    that overflows a float64 is an infinity, not a number.
 *  - 64-bit integers become doubles: above 2^53 they lose low bits; raw in
 *    struct mbdecode_value keeps the exact bits.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "drivers/modbus/mbdecode.h"

static uint16_t
swap16(uint16_t w)
{
	return (uint16_t)((w << 8) | (w >> 8));
}

/*
 * An order as its two switches: *rev, the registers come low word first
 * (CDAB, DCBA); *swap, each register's bytes are swapped (BADC, DCBA).
 * Returns 0, or -EINVAL for a bad nwords or order.
 */
static int
order_switches(unsigned nwords, enum mbmap_order order, int *rev, int *swap)
{
	if ((nwords != 1 && nwords != 2 && nwords != 4) ||
	    (unsigned)order >= MBMAP__ORDERS)
		return -EINVAL;
	*rev = order == MBMAP_CDAB || order == MBMAP_DCBA;
	*swap = order == MBMAP_BADC || order == MBMAP_DCBA;
	return 0;
}

int
mbdecode_get_raw(const uint16_t *regs, unsigned nwords, enum mbmap_order order,
    uint64_t *bits)
{
	uint64_t v = 0;
	int rev, swap;

	if (order_switches(nwords, order, &rev, &swap) != 0)
		return -EINVAL;
	for (unsigned i = 0; i < nwords; i++) {
		uint16_t w = regs[rev ? nwords - 1 - i : i];

		v = (v << 16) | (swap ? swap16(w) : w);
	}
	*bits = v;
	return 0;
}

int
mbdecode_put_raw(uint64_t bits, unsigned nwords, enum mbmap_order order,
    uint16_t *regs)
{
	int rev, swap;

	if (order_switches(nwords, order, &rev, &swap) != 0)
		return -EINVAL;
	for (unsigned i = 0; i < nwords; i++) {
		/* word i counts from the most significant (AB) word */
		uint16_t w = (uint16_t)(bits >> (16 * (nwords - 1 - i)));

		regs[rev ? nwords - 1 - i : i] = swap ? swap16(w) : w;
	}
	return 0;
}

static double
point_scale(const struct mbmap_point *p)
{
	return p->scale == 0 ? 1.0 : p->scale;
}

/* Interprets raw bits as the point's type; bools are handled by callers. */
static double
raw_number(enum mbmap_type type, uint64_t raw)
{
	float f;
	double d;
	uint32_t u32;

	switch (type) {
	case MBMAP_INT16:
		return (int16_t)(uint16_t)raw;
	case MBMAP_UINT16:
		return (uint16_t)raw;
	case MBMAP_INT32:
		return (int32_t)(uint32_t)raw;
	case MBMAP_UINT32:
		return (uint32_t)raw;
	case MBMAP_INT64:
		return (double)(int64_t)raw;
	case MBMAP_UINT64:
		return (double)raw;
	case MBMAP_FLOAT32:
		u32 = (uint32_t)raw;
		memcpy(&f, &u32, sizeof(f));
		return f;
	case MBMAP_FLOAT64:
		memcpy(&d, &raw, sizeof(d));
		return d;
	default:
		return NAN;
	}
}

static void
set_quality(const struct mbmap_point *p, struct mbdecode_value *out)
{
	double v = out->value;

	if (isnan(v))
		out->quality = FLEET_Q_BAD_NAN;
	else if (isinf(v))
		out->quality = FLEET_Q_BAD_INF;
	else if (p->min < p->max && (v < p->min || v > p->max))
		out->quality = FLEET_Q_BAD_RANGE;
	else
		out->quality = FLEET_Q_GOOD;
}

static void
finish_bool(const struct mbmap_point *p, int bit, struct mbdecode_value *out)
{
	out->raw = bit != 0;
	out->value = bit ? 1.0 : 0.0;
	set_quality(p, out);
}

/*
 * Checks register point p against the window of nregs registers from
 * address start, and gives the registers it occupies in *width.  Returns
 * the index of its first register in the window, -EINVAL for a point of a
 * bit table or with a bad type, order or bit, or -ERANGE when it is not
 * wholly inside the window.  Inline: the decoder runs it per point (as a
 * call it cost bench/pointbench's decode 5%).
 */
static inline int
reg_point_index(const struct mbmap_point *p, size_t nregs, uint16_t start,
    unsigned *width)
{
	if (p->table != MBMAP_INPUT && p->table != MBMAP_HOLDING)
		return -EINVAL;
	if ((unsigned)p->type >= MBMAP__TYPES ||
	    (unsigned)p->order >= MBMAP__ORDERS || p->bit > 15)
		return -EINVAL;
	*width = mbmap_point_width(p);
	if (p->address < start || (size_t)(p->address - start) + *width > nregs)
		return -ERANGE;
	return p->address - start;
}

int
mbdecode_regs(const struct mbmap_point *p, const uint16_t *regs, size_t nregs,
    uint16_t start, struct mbdecode_value *out)
{
	unsigned width;
	uint64_t raw;
	int i, rc;

	if ((i = reg_point_index(p, nregs, start, &width)) < 0)
		return i;
	if ((rc = mbdecode_get_raw(regs + i, width, p->order, &raw)) != 0)
		return rc;
	if (p->type == MBMAP_BOOL) {
		/* the bit number counts in the register as its order reads it */
		finish_bool(p, p->bit >= 0 ? (int)((raw >> p->bit) & 1) :
		    raw != 0, out);
		return 0;
	}
	out->raw = raw;
	out->value = raw_number(p->type, raw) * point_scale(p) + p->offset;
	set_quality(p, out);
	return 0;
}

/*
 * Checks bit point p against the window of nbits bits from address start.
 * Returns its bit's index in the window, -EINVAL for a point that is not a
 * bool of a bit table, or -ERANGE when it lies outside the window.
 */
static int
bit_point_index(const struct mbmap_point *p, size_t nbits, uint16_t start)
{
	if (p->table != MBMAP_COIL && p->table != MBMAP_DISCRETE)
		return -EINVAL;
	if (p->type != MBMAP_BOOL)
		return -EINVAL;
	if (p->address < start || (size_t)(p->address - start) >= nbits)
		return -ERANGE;
	return p->address - start;
}

int
mbdecode_bits(const struct mbmap_point *p, const uint8_t *bits, size_t nbits,
    uint16_t start, struct mbdecode_value *out)
{
	int i = bit_point_index(p, nbits, start);

	if (i < 0)
		return i;
	finish_bool(p, bits[i] != 0, out);
	return 0;
}

int
mbdecode_bits_packed(const struct mbmap_point *p, const uint8_t *bytes,
    size_t nbits, uint16_t start, struct mbdecode_value *out)
{
	int i = bit_point_index(p, nbits, start);

	if (i < 0)
		return i;
	finish_bool(p, (bytes[i / 8] >> (i % 8)) & 1, out);
	return 0;
}

/* Rounds x to an integer in [lo, hi]; -ERANGE if it does not fit. */
static int
to_int(double x, double lo, double hi, double *r)
{
	if (isnan(x))
		return -ERANGE;
	x = nearbyint(x);
	if (x < lo || x > hi)
		return -ERANGE;
	*r = x;
	return 0;
}

/*
 * The raw range of each integer type as the doubles to_int() takes; the
 * 64-bit ends are the last doubles below 2^63 and 2^64, the first that do
 * not fit.  A negative lo marks a signed type.
 */
static const struct {
	double	 lo, hi;
} int_range[MBMAP__TYPES] = {
	[MBMAP_INT16] = { INT16_MIN, INT16_MAX },
	[MBMAP_UINT16] = { 0, UINT16_MAX },
	[MBMAP_INT32] = { INT32_MIN, INT32_MAX },
	[MBMAP_UINT32] = { 0, UINT32_MAX },
	[MBMAP_INT64] = { -9223372036854775808.0, 9223372036854774784.0 },
	[MBMAP_UINT64] = { 0, 18446744073709549568.0 },
};

int
mbdecode_encode(const struct mbmap_point *p, double v, uint16_t *regs,
    size_t nregs, uint16_t start)
{
	unsigned width;
	uint64_t raw;
	double x, r;
	float f;
	uint32_t u32;
	int i, rc;

	if ((i = reg_point_index(p, nregs, start, &width)) < 0)
		return i;
	regs += i;
	if (p->type == MBMAP_BOOL) {
		if (p->bit < 0)
			return mbdecode_put_raw(v != 0, 1, p->order, regs);
		if ((rc = mbdecode_get_raw(regs, 1, p->order, &raw)) != 0)
			return rc;
		raw &= ~(UINT64_C(1) << p->bit);
		raw |= (uint64_t)(v != 0) << p->bit;
		return mbdecode_put_raw(raw, 1, p->order, regs);
	}
	x = (v - p->offset) / point_scale(p);
	switch (p->type) {
	case MBMAP_FLOAT32:
		f = (float)x;
		memcpy(&u32, &f, sizeof(u32));
		raw = u32;
		break;
	case MBMAP_FLOAT64:
		memcpy(&raw, &x, sizeof(raw));
		break;
	default:	/* an integer type: bool is done, the type was checked */
		rc = to_int(x, int_range[p->type].lo, int_range[p->type].hi, &r);
		if (rc != 0)
			return rc;
		/* two's complement, cut to the type's width */
		raw = int_range[p->type].lo < 0 ? (uint64_t)(int64_t)r :
		    (uint64_t)r;
		if (width < 4)
			raw &= (UINT64_C(1) << (16 * width)) - 1;
		break;
	}
	return mbdecode_put_raw(raw, width, p->order, regs);
}
