/*
 * test_mbap.c - MBAP/PDU encoding byte for byte, every malformed response
 * class, and every exception code with its name.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "drivers/modbus/mbmap.h"
#include "drivers/modbus/mbap.h"

static const struct mbap_req rd3 = {
	.tid = 0x1234, .unit = 7, .fc = 3, .addr = 100, .count = 2
};

/* A good response to rd3: registers 0x0102, 0x0304. */
static const uint8_t good3[] = {
	0x12, 0x34, 0, 0, 0, 7, 7, 3, 4, 1, 2, 3, 4
};

Test(mbap, encode_reads)
{
	uint8_t b[MBAP_REQ_MAX];
	const uint8_t want3[] = { 0x12, 0x34, 0, 0, 0, 6, 7, 3, 0, 100, 0, 2 };
	struct mbap_req r = { .tid = 1, .unit = 255, .fc = 1, .addr = 0,
	    .count = 2000 };

	cr_assert_eq(mbap_encode(&rd3, b, sizeof(b)), 12);
	cr_assert_eq(memcmp(b, want3, 12), 0);
	cr_assert_eq(mbap_encode(&r, b, sizeof(b)), 12);
	cr_assert_eq(b[7], 1);
	cr_assert_eq(b[10], 2000 >> 8);
	cr_assert_eq(b[11], 2000 & 0xff);
	r.fc = 2; r.count = 2001;
	cr_assert_eq(mbap_encode(&r, b, sizeof(b)), -EINVAL);
	r.fc = 4; r.count = 126;
	cr_assert_eq(mbap_encode(&r, b, sizeof(b)), -EINVAL);
	r.count = 125;
	cr_assert_eq(mbap_encode(&r, b, sizeof(b)), 12);
	cr_assert_eq(b[7], 4);
	r.count = 0;
	cr_assert_eq(mbap_encode(&r, b, sizeof(b)), -EINVAL);
	r.count = 10; r.addr = 65530;		/* runs past 65535 */
	cr_assert_eq(mbap_encode(&r, b, sizeof(b)), -EINVAL);
	r.addr = 0; r.fc = 7;			/* not a code we send */
	cr_assert_eq(mbap_encode(&r, b, sizeof(b)), -EINVAL);
	r.fc = 3;
	cr_assert_eq(mbap_encode(&r, b, 11), -ENOSPC);
}

Test(mbap, encode_writes)
{
	uint8_t b[MBAP_REQ_MAX];
	uint16_t regs[] = { 0xabcd, 0x0001 };
	uint8_t bits[] = { 1, 0, 1, 1, 0, 0, 0, 0, 1 };
	struct mbap_req r = { .tid = 9, .unit = 1, .fc = 5, .addr = 3,
	    .count = 1, .bits = bits };

	cr_assert_eq(mbap_encode(&r, b, sizeof(b)), 12);
	cr_assert_eq(b[10], 0xff);
	cr_assert_eq(b[11], 0x00);
	r.fc = 6; r.bits = NULL;
	cr_assert_eq(mbap_encode(&r, b, sizeof(b)), -EINVAL);
	r.regs = regs;
	cr_assert_eq(mbap_encode(&r, b, sizeof(b)), 12);
	cr_assert_eq(b[10], 0xab);
	cr_assert_eq(b[11], 0xcd);
	r.fc = 16; r.count = 2;
	cr_assert_eq(mbap_encode(&r, b, sizeof(b)), 7 + 6 + 4);
	cr_assert_eq(b[5], 1 + 6 + 4);		/* length field */
	cr_assert_eq(b[12], 4);			/* byte count */
	cr_assert_eq(b[13], 0xab);
	cr_assert_eq(b[16], 0x01);
	r.fc = 15; r.count = 9; r.regs = NULL; r.bits = bits;
	cr_assert_eq(mbap_encode(&r, b, sizeof(b)), 7 + 6 + 2);
	cr_assert_eq(b[12], 2);
	cr_assert_eq(b[13], 0x0d);		/* bits 0, 2, 3 */
	cr_assert_eq(b[14], 0x01);		/* bit 8 */
}

Test(mbap, good_read_response)
{
	struct mbap_resp r;
	size_t which = 99, flen;

	cr_assert_eq(mbap_frame(good3, sizeof(good3), &flen), MBAP_OK);
	cr_assert_eq(flen, sizeof(good3));
	cr_assert_eq(mbap_parse(&rd3, 1, good3, sizeof(good3), &r, &which),
	    MBAP_OK);
	cr_assert_eq(which, 0);
	cr_assert_eq(r.exception, 0);
	cr_assert_eq(mbap_reg(&r, 0), 0x0102);
	cr_assert_eq(mbap_reg(&r, 1), 0x0304);
}

Test(mbap, good_bits_response)
{
	struct mbap_req q = { .tid = 1, .unit = 1, .fc = 2, .addr = 0,
	    .count = 10 };
	const uint8_t f[] = { 0, 1, 0, 0, 0, 5, 1, 2, 2, 0x81, 0x02 };
	struct mbap_resp r;
	size_t w;

	cr_assert_eq(mbap_parse(&q, 1, f, sizeof(f), &r, &w), MBAP_OK);
	cr_assert_eq(mbap_bit(&r, 0), 1);
	cr_assert_eq(mbap_bit(&r, 1), 0);
	cr_assert_eq(mbap_bit(&r, 7), 1);
	cr_assert_eq(mbap_bit(&r, 9), 1);
	cr_assert_eq(mbap_bit(&r, 8), 0);
}

static int
parse_mut(size_t at, uint8_t v, size_t len)
{
	uint8_t f[64];
	struct mbap_resp r;
	size_t w;

	memcpy(f, good3, sizeof(good3));
	memset(f + sizeof(good3), 0xee, sizeof(f) - sizeof(good3));
	if (at < sizeof(f))
		f[at] = v;
	return mbap_parse(&rd3, 1, f, len, &r, &w);
}

Test(mbap, malformed_each_class)
{
	const size_t n = sizeof(good3);

	cr_assert_eq(parse_mut(2, 1, n), MBAP_E_PROTO);
	cr_assert_eq(parse_mut(5, 2, n), MBAP_E_LEN_SHORT);
	cr_assert_eq(parse_mut(4, 1, n), MBAP_E_LEN_LONG);	/* 263 */
	cr_assert_eq(parse_mut(0, 0x99, n), MBAP_E_TID);
	cr_assert_eq(parse_mut(6, 8, n), MBAP_E_UNIT);
	cr_assert_eq(parse_mut(7, 4, n), MBAP_E_FC);
	cr_assert_eq(parse_mut(8, 6, n), MBAP_E_COUNT);
	cr_assert_eq(parse_mut(99, 0, n - 1), MBAP_E_TRUNC);
	cr_assert_eq(parse_mut(99, 0, 5), MBAP_E_TRUNC);
	cr_assert_eq(parse_mut(99, 0, n + 1), MBAP_E_TRAILING);
	/* Length field says 8 but byte count says 4: garbage inside the
	 * frame after the data. */
	{
		uint8_t f[14];
		struct mbap_resp r;
		size_t w;

		memcpy(f, good3, n);
		f[5] = 8; f[13] = 0;
		cr_assert_eq(mbap_parse(&rd3, 1, f, 14, &r, &w),
		    MBAP_E_TRAILING);
		/* length says 6: the data is cut short */
		f[5] = 6;
		cr_assert_eq(mbap_parse(&rd3, 1, f, 12, &r, &w),
		    MBAP_E_TRUNC);
	}
	/* 255..260 in the length field are above the real maximum too. */
	cr_assert_eq(parse_mut(5, 255, n), MBAP_E_LEN_LONG);
	cr_assert_neq(strcmp(mbap_strerror(MBAP_E_TRAILING), "unknown status"),
	    0);
	for (int s = MBAP_E_EXC_LEN; s <= MBAP_MORE; s++)
		cr_assert_neq(strcmp(mbap_status_name(s), "unknown"), 0);
}

Test(mbap, frame_streaming)
{
	size_t flen;

	cr_assert_eq(mbap_frame(good3, 3, &flen), MBAP_MORE);
	cr_assert_eq(flen, 0);
	cr_assert_eq(mbap_frame(good3, 6, &flen), MBAP_MORE);
	cr_assert_eq(flen, sizeof(good3));
	cr_assert_eq(mbap_frame(good3, sizeof(good3) - 1, &flen), MBAP_MORE);
	{
		const uint8_t bad[] = { 0, 0, 'H', 'T' };

		cr_assert_eq(mbap_frame(bad, 4, &flen), MBAP_E_PROTO);
	}
}

Test(mbap, every_exception_code)
{
	static const char *const names[] = { NULL,
		"ILLEGAL FUNCTION", "ILLEGAL DATA ADDRESS",
		"ILLEGAL DATA VALUE", "SERVER DEVICE FAILURE", "ACKNOWLEDGE",
		"SERVER DEVICE BUSY", "NEGATIVE ACKNOWLEDGE",
		"MEMORY PARITY ERROR", "NOT DEFINED",
		"GATEWAY PATH UNAVAILABLE",
		"GATEWAY TARGET DEVICE FAILED TO RESPOND" };
	uint8_t f[] = { 0x12, 0x34, 0, 0, 0, 3, 7, 0x83, 0 };
	struct mbap_resp r;
	size_t w;

	for (uint8_t c = 1; c <= 11; c++) {
		f[8] = c;
		cr_assert_eq(mbap_parse(&rd3, 1, f, sizeof(f), &r, &w),
		    MBAP_OK);
		cr_assert_eq(r.exception, c);
		cr_assert_str_eq(mbap_exception_name(c), names[c]);
	}
	cr_assert_str_eq(mbap_exception_name(0), "UNKNOWN EXCEPTION");
	cr_assert_str_eq(mbap_exception_name(12), "UNKNOWN EXCEPTION");
	f[7] = 0x84;	/* exception for another function code */
	cr_assert_eq(mbap_parse(&rd3, 1, f, sizeof(f), &r, &w), MBAP_E_FC);
	{
		const uint8_t g[] = { 0x12, 0x34, 0, 0, 0, 4, 7, 0x83, 2, 0 };

		cr_assert_eq(mbap_parse(&rd3, 1, g, sizeof(g), &r, &w),
		    MBAP_E_EXC_LEN);
	}
}

Test(mbap, several_requests_by_tid)
{
	struct mbap_req q[3] = { rd3, rd3, rd3 };
	struct mbap_resp r;
	size_t w;

	q[0].tid = 1; q[2].tid = 2;
	cr_assert_eq(mbap_parse(q, 3, good3, sizeof(good3), &r, &w), MBAP_OK);
	cr_assert_eq(w, 1);
}

Test(mbap, write_echo)
{
	uint16_t v = 77;
	struct mbap_req q = { .tid = 5, .unit = 1, .fc = 6, .addr = 9,
	    .count = 1, .regs = &v };
	uint8_t f[] = { 0, 5, 0, 0, 0, 6, 1, 6, 0, 9, 0, 77 };
	struct mbap_resp r;
	size_t w;

	cr_assert_eq(mbap_parse(&q, 1, f, sizeof(f), &r, &w), MBAP_OK);
	f[11] = 78;
	cr_assert_eq(mbap_parse(&q, 1, f, sizeof(f), &r, &w), MBAP_E_ECHO);
	q.fc = 16; q.count = 3; f[7] = 16; f[11] = 3;
	cr_assert_eq(mbap_parse(&q, 1, f, sizeof(f), &r, &w), MBAP_OK);
}

Test(mbap, read_fc_by_table)
{
	cr_assert_eq(mbap_read_fc(MBMAP_COIL), 1);
	cr_assert_eq(mbap_read_fc(MBMAP_DISCRETE), 2);
	cr_assert_eq(mbap_read_fc(MBMAP_HOLDING), 3);
	cr_assert_eq(mbap_read_fc(MBMAP_INPUT), 4);
}
