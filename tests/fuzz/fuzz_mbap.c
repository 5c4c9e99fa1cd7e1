/*
 * fuzz_mbap.c - libFuzzer target for the MBAP/PDU response parser.
 *
 * Input layout: byte 0 picks the request's function code (1-6, 15, 16),
 * bytes 1-2 its quantity; the rest is the response stream.  The stream is
 * fed to mbap_frame() as the client does (frame by frame), each frame is
 * checked with mbap_check(), and the whole rest once more with the one-shot
 * mbap_parse().  Any crash, sanitizer report or out-of-bounds read is a bug.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "drivers/modbus/mbap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t fcs[] = { 1, 2, 3, 4, 5, 6, 15, 16 };
	uint16_t regs[2] = { 1, 2 };
	uint8_t bits[2] = { 1, 0 };
	struct mbap_req q[2];
	struct mbap_resp r;
	size_t off, flen, w;
	uint8_t req[MBAP_REQ_MAX];

	if (size < 3)
		return 0;
	memset(q, 0, sizeof(q));
	q[0].fc = fcs[data[0] % sizeof(fcs)];
	q[0].count = (uint16_t)((data[1] << 8 | data[2]) % 2001);
	q[0].tid = 0; q[0].unit = 1; q[0].regs = regs; q[0].bits = bits;
	/* Writes carry as many values as the arrays above hold. */
	if (q[0].fc == 15 || q[0].fc == 16)
		q[0].count = 2;
	else if (q[0].fc == 5 || q[0].fc == 6 || q[0].count == 0)
		q[0].count = 1;
	q[1] = q[0];
	q[1].tid = 1;
	(void)mbap_encode(&q[0], req, sizeof(req));
	data += 3;
	size -= 3;
	for (off = 0; off < size;) {
		int rc = mbap_frame(data + off, size - off, &flen);

		if (rc != MBAP_OK)
			break;
		rc = mbap_check(&q[mbap_tid(data + off) & 1], data + off, flen,
		    &r);
		if (rc == MBAP_OK && r.data != NULL)
			for (unsigned i = 0; i < r.ndata * 8u; i++)
				(void)mbap_bit(&r, i);
		if (rc == MBAP_OK && r.data != NULL)
			for (unsigned i = 0; i < r.ndata / 2u; i++)
				(void)mbap_reg(&r, i);
		(void)mbap_strerror(rc);
		off += flen;
	}
	(void)mbap_parse(q, 2, data, size, &r, &w);
	return 0;
}
