/*
 * fuzz_mbdecode.c - libFuzzer target for point decoding: a point definition
 * and a register window, both from the input, must never crash the decoder,
 * and wherever the decode is exact the encoder must give the same registers
 * back (decode and encode are inverses for every type and order).
 *
 * Input: type, order, table, bit, address offset, scale selector, then the
 * registers (big-endian pairs).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "drivers/modbus/mbdecode.h"

#define MAXREGS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok)
{
	if (!ok)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const double scales[] = { 1, 0.1, -0.5, 0, 1e300 };
	struct mbmap_point p;
	struct mbdecode_value v, v2;
	uint16_t regs[MAXREGS], back[MAXREGS];
	size_t nregs;
	int rc, exact;

	if (size < 6)
		return 0;
	memset(&p, 0, sizeof(p));
	p.type = data[0] % (MBMAP__TYPES + 1);
	p.order = data[1] % (MBMAP__ORDERS + 1);
	p.table = data[2] % MBMAP__TABLES;
	p.bit = (int8_t)data[3];
	if (p.bit < -1 || p.bit > 16)
		p.bit = -1;
	p.address = (uint16_t)(100 + data[4] % 20);
	p.scale = scales[data[5] % 5];
	p.offset = data[5] & 0x80 ? 40 : 0;
	if (data[5] & 0x40) {
		p.min = -1000;
		p.max = 1000;
	}
	data += 6;
	size -= 6;
	nregs = size / 2 > MAXREGS ? MAXREGS : size / 2;
	for (size_t i = 0; i < nregs; i++)
		regs[i] = (uint16_t)(data[2 * i] << 8 | data[2 * i + 1]);

	if (p.table == MBMAP_COIL || p.table == MBMAP_DISCRETE) {
		rc = mbdecode_bits(&p, (const uint8_t *)regs, nregs, 100, &v);
		check(rc == 0 || rc == -ERANGE || rc == -EINVAL);
		if (rc == 0)
			check(v.value == 0.0 || v.value == 1.0);
		rc = mbdecode_bits_packed(&p, (const uint8_t *)regs, nregs,
		    100, &v);
		check(rc == 0 || rc == -ERANGE || rc == -EINVAL);
		return 0;
	}
	rc = mbdecode_regs(&p, regs, nregs, 100, &v);
	check(rc == 0 || rc == -ERANGE || rc == -EINVAL);
	if (rc != 0)
		return 0;
	if (v.quality == FLEET_Q_GOOD)
		check(isfinite(v.value));
	if (v.quality == FLEET_Q_GOOD && p.min < p.max)
		check(v.value >= p.min && v.value <= p.max);
	check(v.quality != FLEET_Q_BAD_NAN || isnan(v.value));

	/* inverse: only where the value holds the raw bits exactly */
	exact = p.scale == 1 && p.offset == 0 && !isnan(v.value);
	if (p.type == MBMAP_INT64 || p.type == MBMAP_UINT64)
		exact = exact && fabs(v.value) < 9007199254740992.0;
	if (!exact)
		return 0;
	memcpy(back, regs, sizeof(regs));
	rc = mbdecode_encode(&p, v.value, back, nregs, 100);
	check(rc == 0);
	/*
	 * Same registers, except: a bool without a bit reads any non-zero
	 * register as 1, and a float -0 comes back +0 (value + offset 0).
	 */
	check(memcmp(back, regs, nregs * sizeof(regs[0])) == 0 ||
	    (p.type == MBMAP_BOOL && p.bit < 0) || v.value == 0);
	/* and whatever was encoded decodes to the same value */
	rc = mbdecode_regs(&p, back, nregs, 100, &v2);
	check(rc == 0 && v2.value == v.value && v2.quality == v.quality);
	return 0;
}
