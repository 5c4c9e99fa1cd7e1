/*
 * test_mbdecode.c - every type in every byte order against hand-built byte
 * patterns, scale and offset, quality (NaN, infinity, range), bits in
 * registers, coils and discrete inputs, and the encoder as the decoder's
 * inverse.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "drivers/modbus/mbdecode.h"

static struct mbmap_point
pt(enum mbmap_type type, enum mbmap_order order)
{
	struct mbmap_point p;

	memset(&p, 0, sizeof(p));
	p.scale = 1.0;
	p.table = MBMAP_HOLDING;
	p.type = type;
	p.order = order;
	p.bit = -1;
	return p;
}

/*
 * Registers for big-endian bytes b[0..n-1] (b[0] = A) in an order, built
 * straight from the table in mbdecode.h, independently of the module.
 */
static void
regs_for(const uint8_t *b, unsigned n, enum mbmap_order o, uint16_t *r)
{
	unsigned nw = n / 2;
	uint16_t w[4];

	if (n == 1) {
		cr_assert_fail("odd width");
	}
	for (unsigned i = 0; i < nw; i++) {
		if (o == MBMAP_ABCD || o == MBMAP_CDAB)
			w[i] = (uint16_t)(b[2 * i] << 8 | b[2 * i + 1]);
		else
			w[i] = (uint16_t)(b[2 * i + 1] << 8 | b[2 * i]);
	}
	for (unsigned i = 0; i < nw; i++)
		r[i] = (o == MBMAP_CDAB || o == MBMAP_DCBA) ? w[nw - 1 - i] : w[i];
}

static void
be_bytes(uint64_t v, unsigned n, uint8_t *b)
{
	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

Test(mbdecode, float32_orders_literal)
{
	/* 123456.0f = 0x47F12000, the table in mbdecode.h written out */
	static const uint16_t want[MBMAP__ORDERS][2] = {
		[MBMAP_ABCD] = { 0x47F1, 0x2000 },
		[MBMAP_CDAB] = { 0x2000, 0x47F1 },
		[MBMAP_BADC] = { 0xF147, 0x0020 },
		[MBMAP_DCBA] = { 0x0020, 0xF147 },
	};
	for (int o = 0; o < MBMAP__ORDERS; o++) {
		struct mbmap_point p = pt(MBMAP_FLOAT32, o);
		struct mbdecode_value v;
		uint16_t r[2] = { 0 };

		cr_assert_eq(mbdecode_regs(&p, want[o], 2, 0, &v), 0);
		cr_assert_eq(v.value, 123456.0, "order %s", mbmap_order_name(o));
		cr_assert_eq(v.quality, FLEET_Q_GOOD);
		cr_assert_eq(mbdecode_encode(&p, 123456.0, r, 2, 0), 0);
		cr_assert_eq(r[0], want[o][0], "order %s", mbmap_order_name(o));
		cr_assert_eq(r[1], want[o][1]);
	}
}

Test(mbdecode, u64_orders_literal)
{
	static const uint16_t want[MBMAP__ORDERS][4] = {
		[MBMAP_ABCD] = { 0x0102, 0x0304, 0x0506, 0x0708 },
		[MBMAP_CDAB] = { 0x0708, 0x0506, 0x0304, 0x0102 },
		[MBMAP_BADC] = { 0x0201, 0x0403, 0x0605, 0x0807 },
		[MBMAP_DCBA] = { 0x0807, 0x0605, 0x0403, 0x0201 },
	};
	for (int o = 0; o < MBMAP__ORDERS; o++) {
		struct mbmap_point p = pt(MBMAP_UINT64, o);
		struct mbdecode_value v;
		uint16_t r[4];

		cr_assert_eq(mbdecode_regs(&p, want[o], 4, 0, &v), 0);
		cr_assert_eq(v.raw, UINT64_C(0x0102030405060708), "order %s",
		    mbmap_order_name(o));
		cr_assert_eq(v.value, (double)UINT64_C(0x0102030405060708));
		cr_assert_eq(mbdecode_put_raw(v.raw, 4, o, r), 0);
		cr_assert_eq(memcmp(r, want[o], sizeof(r)), 0);
	}
}

struct sample {
	enum mbmap_type	 type;
	uint64_t	 bits;		/* big-endian value bits */
	double		 value;		/* what they mean */
};

Test(mbdecode, every_type_every_order)
{
	double d = 1234.5678, nd = -0.015625;
	float f = -1.5f;
	uint64_t dbits, ndbits;
	uint32_t fbits;
	struct sample s[] = {
		{ MBMAP_INT16, 0xFFFE, -2 },
		{ MBMAP_INT16, 0x7FFF, 32767 },
		{ MBMAP_UINT16, 0xABCD, 43981 },
		{ MBMAP_INT32, 0xF8A432EB, -123456789 },
		{ MBMAP_INT32, 0x80000000, -2147483648.0 },
		{ MBMAP_UINT32, 0xEE6B2800, 4000000000.0 },
		{ MBMAP_INT64, (uint64_t)INT64_C(-1234567890123), -1234567890123.0 },
		{ MBMAP_INT64, UINT64_C(0x0000123456789ABC), 20015998343868.0 },
		{ MBMAP_UINT64, UINT64_C(0xFFFFFFFFFFFFF800), 18446744073709549568.0 },
		{ MBMAP_FLOAT32, 0, -1.5 },
		{ MBMAP_FLOAT64, 0, 1234.5678 },
		{ MBMAP_FLOAT64, 0, -0.015625 },
	};

	memcpy(&fbits, &f, 4);
	memcpy(&dbits, &d, 8);
	memcpy(&ndbits, &nd, 8);
	s[9].bits = fbits;
	s[10].bits = dbits;
	s[11].bits = ndbits;
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		for (int o = 0; o < MBMAP__ORDERS; o++) {
			struct mbmap_point p = pt(s[i].type, o);
			unsigned w = mbmap_point_width(&p);
			uint8_t b[8];
			uint16_t r[4], back[4];
			struct mbdecode_value v;

			be_bytes(s[i].bits, 2 * w, b);
			regs_for(b, 2 * w, o, r);
			cr_assert_eq(mbdecode_regs(&p, r, w, 0, &v), 0);
			cr_assert_eq(v.value, s[i].value, "%s %s: %.17g != %.17g",
			    mbmap_type_name(s[i].type), mbmap_order_name(o),
			    v.value, s[i].value);
			cr_assert_eq(v.quality, FLEET_Q_GOOD);
			cr_assert_eq(mbdecode_encode(&p, s[i].value, back, w,
			    0), 0);
			cr_assert_eq(memcmp(back, r, 2 * w), 0, "%s %s encode",
			    mbmap_type_name(s[i].type), mbmap_order_name(o));
		}
	}
}

Test(mbdecode, window_offset)
{
	struct mbmap_point p = pt(MBMAP_INT32, MBMAP_ABCD);
	uint16_t r[6] = { 0, 0, 0, 0xFFFF, 0xFFF6, 0 };
	struct mbdecode_value v;

	p.address = 103;
	cr_assert_eq(mbdecode_regs(&p, r, 6, 100, &v), 0);
	cr_assert_eq(v.value, -10);
	/* one register short, before the window, past the window */
	cr_assert_eq(mbdecode_regs(&p, r, 4, 100, &v), -ERANGE);
	cr_assert_eq(mbdecode_regs(&p, r, 6, 104, &v), -ERANGE);
	p.address = 105;
	cr_assert_eq(mbdecode_regs(&p, r, 6, 100, &v), -ERANGE);
	/* the encoder takes the same window */
	p.address = 101;
	cr_assert_eq(mbdecode_encode(&p, 70000, r, 6, 100), 0);
	cr_assert_eq(r[1], 0x0001);
	cr_assert_eq(r[2], 0x1170);
	cr_assert_eq(r[3], 0xFFFF);		/* untouched */
	cr_assert_eq(mbdecode_regs(&p, r, 6, 100, &v), 0);
	cr_assert_eq(v.value, 70000);
	cr_assert_eq(mbdecode_encode(&p, 1, r, 6, 102), -ERANGE);
	p.address = 105;
	cr_assert_eq(mbdecode_encode(&p, 1, r, 6, 100), -ERANGE);
	p.table = MBMAP_COIL;
	p.address = 103;
	cr_assert_eq(mbdecode_regs(&p, r, 6, 100, &v), -EINVAL);
	cr_assert_eq(mbdecode_encode(&p, 1, r, 6, 100), -EINVAL);
	p = pt(MBMAP_INT16, MBMAP_ABCD);
	p.order = MBMAP__ORDERS;
	cr_assert_eq(mbdecode_regs(&p, r, 6, 0, &v), -EINVAL);
}

Test(mbdecode, scale_offset)
{
	struct mbmap_point p = pt(MBMAP_UINT16, MBMAP_ABCD);
	uint16_t r = 2345;
	struct mbdecode_value v;

	p.scale = 0.1;
	p.offset = -40;
	cr_assert_eq(mbdecode_regs(&p, &r, 1, 0, &v), 0);
	cr_assert_float_eq(v.value, 194.5, 1e-9);
	cr_assert_eq(v.raw, 2345);
	r = 0;
	cr_assert_eq(mbdecode_encode(&p, 194.5, &r, 1, 0), 0);
	cr_assert_eq(r, 2345);
	/* 194.54 rounds to raw 2345 too */
	cr_assert_eq(mbdecode_encode(&p, 194.54, &r, 1, 0), 0);
	cr_assert_eq(r, 2345);
	/* scale 0 reads as 1 */
	p.scale = 0;
	p.offset = 0;
	r = 7;
	cr_assert_eq(mbdecode_regs(&p, &r, 1, 0, &v), 0);
	cr_assert_eq(v.value, 7);
	/* negative scale, int16 */
	p = pt(MBMAP_INT16, MBMAP_ABCD);
	p.scale = -0.5;
	r = (uint16_t)-4;
	cr_assert_eq(mbdecode_regs(&p, &r, 1, 0, &v), 0);
	cr_assert_eq(v.value, 2);
}

Test(mbdecode, quality)
{
	struct mbmap_point p = pt(MBMAP_FLOAT32, MBMAP_ABCD);
	uint16_t nan[2] = { 0x7FC0, 0 }, inf[2] = { 0x7F80, 0 },
	    ninf[2] = { 0xFF80, 0 }, r[2];
	struct mbdecode_value v;

	cr_assert_eq(mbdecode_regs(&p, nan, 2, 0, &v), 0);
	cr_assert_eq(v.quality, FLEET_Q_BAD_NAN);
	cr_assert_eq(mbdecode_regs(&p, inf, 2, 0, &v), 0);
	cr_assert_eq(v.quality, FLEET_Q_BAD_INF);
	cr_assert_eq(mbdecode_regs(&p, ninf, 2, 0, &v), 0);
	cr_assert_eq(v.quality, FLEET_Q_BAD_INF);
	cr_assert_str_eq(fleet_quality_name(FLEET_Q_BAD_INF), "bad_inf");

	/* range, inclusive at both ends, on the scaled value */
	p.min = -10;
	p.max = 60;
	cr_assert_eq(mbdecode_encode(&p, 60, r, 2, 0), 0);
	cr_assert_eq(mbdecode_regs(&p, r, 2, 0, &v), 0);
	cr_assert_eq(v.quality, FLEET_Q_GOOD);
	cr_assert_eq(mbdecode_encode(&p, 60.5, r, 2, 0), 0);
	cr_assert_eq(mbdecode_regs(&p, r, 2, 0, &v), 0);
	cr_assert_eq(v.quality, FLEET_Q_BAD_RANGE);
	cr_assert_eq(v.value, 60.5);
	cr_assert_eq(mbdecode_encode(&p, -10, r, 2, 0), 0);
	cr_assert_eq(mbdecode_regs(&p, r, 2, 0, &v), 0);
	cr_assert_eq(v.quality, FLEET_Q_GOOD);
	cr_assert_eq(mbdecode_encode(&p, -10.25, r, 2, 0), 0);
	cr_assert_eq(mbdecode_regs(&p, r, 2, 0, &v), 0);
	cr_assert_eq(v.quality, FLEET_Q_BAD_RANGE);

	/* a scale that overflows a float64 is an infinity */
	p = pt(MBMAP_FLOAT64, MBMAP_ABCD);
	p.scale = 1e300;
	{
		uint16_t r4[4];
		struct mbmap_point q = pt(MBMAP_FLOAT64, MBMAP_ABCD);

		cr_assert_eq(mbdecode_encode(&q, 1e300, r4, 4, 0), 0);
		cr_assert_eq(mbdecode_regs(&p, r4, 4, 0, &v), 0);
		cr_assert_eq(v.quality, FLEET_Q_BAD_INF);
	}
	/* unset range (min = max = 0) checks nothing */
	p = pt(MBMAP_INT16, MBMAP_ABCD);
	r[0] = 30000;
	cr_assert_eq(mbdecode_regs(&p, r, 1, 0, &v), 0);
	cr_assert_eq(v.quality, FLEET_Q_GOOD);
}

Test(mbdecode, bit_in_register)
{
	struct mbmap_point p = pt(MBMAP_BOOL, MBMAP_ABCD);
	uint16_t r[2] = { 0x1234, 0x8005 };
	struct mbdecode_value v;

	p.address = 1;
	p.bit = 0;
	cr_assert_eq(mbdecode_regs(&p, r, 2, 0, &v), 0);
	cr_assert_eq(v.value, 1.0);
	p.bit = 1;
	cr_assert_eq(mbdecode_regs(&p, r, 2, 0, &v), 0);
	cr_assert_eq(v.value, 0.0);
	p.bit = 15;
	cr_assert_eq(mbdecode_regs(&p, r, 2, 0, &v), 0);
	cr_assert_eq(v.value, 1.0);
	/* a byte-swapped device: bit 0 is the low bit of the value 0x0580 */
	p.order = MBMAP_BADC;
	p.bit = 0;
	cr_assert_eq(mbdecode_regs(&p, r, 2, 0, &v), 0);
	cr_assert_eq(v.value, 0.0);
	p.bit = 7;
	cr_assert_eq(mbdecode_regs(&p, r, 2, 0, &v), 0);
	cr_assert_eq(v.value, 1.0);
	/* bool with no bit: the register is non-zero */
	p.order = MBMAP_ABCD;
	p.bit = -1;
	cr_assert_eq(mbdecode_regs(&p, r, 2, 0, &v), 0);
	cr_assert_eq(v.value, 1.0);
	r[1] = 0;
	cr_assert_eq(mbdecode_regs(&p, r, 2, 0, &v), 0);
	cr_assert_eq(v.value, 0.0);
	p.bit = 16;
	cr_assert_eq(mbdecode_regs(&p, r, 2, 0, &v), -EINVAL);

	/* encoding a bit keeps the other bits */
	p.address = 0;
	p.bit = 3;
	r[0] = 0xF0F0;
	cr_assert_eq(mbdecode_encode(&p, 1, r, 1, 0), 0);
	cr_assert_eq(r[0], 0xF0F8);
	cr_assert_eq(mbdecode_encode(&p, 0, r, 1, 0), 0);
	cr_assert_eq(r[0], 0xF0F0);
	p.order = MBMAP_DCBA;
	cr_assert_eq(mbdecode_encode(&p, 1, r, 1, 0), 0);
	cr_assert_eq(r[0], 0xF8F0);
}

Test(mbdecode, coils_and_discretes)
{
	struct mbmap_point p = pt(MBMAP_BOOL, MBMAP_ABCD);
	uint8_t bits[10] = { 0, 1, 0, 0, 0, 0, 0, 0, 0, 7 };
	uint8_t packed[2] = { 0x02, 0x02 };	/* bits 1 and 9 */
	struct mbdecode_value v;

	p.table = MBMAP_COIL;
	p.address = 21;
	cr_assert_eq(mbdecode_bits(&p, bits, 10, 20, &v), 0);
	cr_assert_eq(v.value, 1.0);
	cr_assert_eq(v.quality, FLEET_Q_GOOD);
	cr_assert_eq(mbdecode_bits_packed(&p, packed, 10, 20, &v), 0);
	cr_assert_eq(v.value, 1.0);
	p.table = MBMAP_DISCRETE;
	p.address = 29;
	cr_assert_eq(mbdecode_bits(&p, bits, 10, 20, &v), 0);
	cr_assert_eq(v.value, 1.0);
	cr_assert_eq(mbdecode_bits_packed(&p, packed, 10, 20, &v), 0);
	cr_assert_eq(v.value, 1.0);
	p.address = 28;
	cr_assert_eq(mbdecode_bits(&p, bits, 10, 20, &v), 0);
	cr_assert_eq(v.value, 0.0);
	cr_assert_eq(mbdecode_bits_packed(&p, packed, 10, 20, &v), 0);
	cr_assert_eq(v.value, 0.0);
	p.address = 30;
	cr_assert_eq(mbdecode_bits(&p, bits, 10, 20, &v), -ERANGE);
	p.address = 19;
	cr_assert_eq(mbdecode_bits_packed(&p, packed, 10, 20, &v), -ERANGE);
	/* a bit table point must be a bool; a register point is not a bit */
	p.address = 21;
	p.type = MBMAP_UINT16;
	cr_assert_eq(mbdecode_bits(&p, bits, 10, 20, &v), -EINVAL);
	p = pt(MBMAP_BOOL, MBMAP_ABCD);
	cr_assert_eq(mbdecode_bits(&p, bits, 10, 0, &v), -EINVAL);
}

Test(mbdecode, encode_limits)
{
	struct mbmap_point p = pt(MBMAP_INT16, MBMAP_ABCD);
	uint16_t r[4];

	cr_assert_eq(mbdecode_encode(&p, 32767, r, 1, 0), 0);
	cr_assert_eq(mbdecode_encode(&p, 32768, r, 1, 0), -ERANGE);
	cr_assert_eq(mbdecode_encode(&p, -32768, r, 1, 0), 0);
	cr_assert_eq(r[0], 0x8000);
	cr_assert_eq(mbdecode_encode(&p, NAN, r, 1, 0), -ERANGE);
	p.type = MBMAP_UINT16;
	cr_assert_eq(mbdecode_encode(&p, -1, r, 1, 0), -ERANGE);
	cr_assert_eq(mbdecode_encode(&p, 65535.4, r, 1, 0), 0);
	cr_assert_eq(r[0], 0xFFFF);
	p.type = MBMAP_UINT32;
	cr_assert_eq(mbdecode_encode(&p, 1, r, 1, 0), -ERANGE);	/* too few regs */
	p.type = MBMAP_INT64;
	cr_assert_eq(mbdecode_encode(&p, 9223372036854775808.0, r, 4, 0), -ERANGE);
	p.type = MBMAP_FLOAT32;
	cr_assert_eq(mbdecode_encode(&p, NAN, r, 2, 0), 0);	/* floats carry NaN */
	cr_assert_eq(r[0] & 0x7F80, 0x7F80);
	cr_assert_eq(mbdecode_get_raw(r, 3, MBMAP_ABCD, &(uint64_t){ 0 }), -EINVAL);
	cr_assert_eq(mbdecode_put_raw(0, 2, MBMAP__ORDERS, r), -EINVAL);
}

/*
 * The ends of every integer type's range encode to the two's complement
 * bits of the type's width (nothing above it set) and one past each end is
 * refused.  64-bit ends are the last doubles that fit.
 */
Test(mbdecode, encode_integer_ends)
{
	static const struct {
		enum mbmap_type type;
		double lo, hi;		/* the ends */
		uint64_t lo_bits, hi_bits;
		double below, above;	/* refused */
	} t[] = {
		{ MBMAP_INT16, -32768, 32767, 0x8000, 0x7FFF, -32769, 32768 },
		{ MBMAP_UINT16, 0, 65535, 0, 0xFFFF, -1, 65536 },
		{ MBMAP_INT32, -2147483648.0, 2147483647.0, 0x80000000u,
		    0x7FFFFFFFu, -2147483649.0, 2147483648.0 },
		{ MBMAP_UINT32, 0, 4294967295.0, 0, 0xFFFFFFFFu, -1,
		    4294967296.0 },
		{ MBMAP_INT64, -9223372036854775808.0, 9223372036854774784.0,
		    UINT64_C(0x8000000000000000), UINT64_C(0x7FFFFFFFFFFFFC00),
		    -9223372036854777856.0, 9223372036854775808.0 },
		{ MBMAP_UINT64, 0, 18446744073709549568.0, 0,
		    UINT64_C(0xFFFFFFFFFFFFF800), -1, 18446744073709551616.0 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct mbmap_point p = pt(t[i].type, MBMAP_ABCD);
		unsigned w = mbmap_point_width(&p);
		uint16_t r[4];
		uint64_t bits;

		cr_assert_eq(mbdecode_encode(&p, t[i].lo, r, w, 0), 0);
		cr_assert_eq(mbdecode_get_raw(r, w, MBMAP_ABCD, &bits), 0);
		cr_assert_eq(bits, t[i].lo_bits, "%s lo", mbmap_type_name(t[i].type));
		cr_assert_eq(mbdecode_encode(&p, t[i].hi, r, w, 0), 0);
		cr_assert_eq(mbdecode_get_raw(r, w, MBMAP_ABCD, &bits), 0);
		cr_assert_eq(bits, t[i].hi_bits, "%s hi", mbmap_type_name(t[i].type));
		cr_assert_eq(mbdecode_encode(&p, t[i].below, r, w, 0), -ERANGE,
		    "%s below", mbmap_type_name(t[i].type));
		cr_assert_eq(mbdecode_encode(&p, t[i].above, r, w, 0), -ERANGE,
		    "%s above", mbmap_type_name(t[i].type));
	}
}
