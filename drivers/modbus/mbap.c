/*
 * mbap.c - Modbus/TCP ADU encoding and strict response parsing.
 *
 * Design: the parser never trusts a length.  mbap_frame() delimits a frame
 * from the MBAP length field alone (bounded to 3..254, so a hostile peer
 * can never make the reader wait for more than 260 bytes), and
 * mbap_check() then validates the PDU against the request it answers:
 * the byte count of a read must be exactly what the request's quantity
 * implies, and must also agree with the length field, so a frame can be
 * neither shorter nor longer than it claims.  Each failure has its own
 * status (mbap.h) so the client can count malformed input by class.
 *
 * All multi-byte fields are big-endian on the wire.
 */
#include <errno.h>
#include <string.h>

#include "drivers/modbus/mbmap.h"
#include "drivers/modbus/mbap.h"

static inline uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static int
fc_is_bits(uint8_t fc)
{
	return fc == MBAP_FC_READ_COILS || fc == MBAP_FC_READ_DISCRETE;
}

static int
fc_is_read(uint8_t fc)
{
	return fc >= MBAP_FC_READ_COILS && fc <= MBAP_FC_READ_INPUT;
}

unsigned
mbap_resp_bytes(const struct mbap_req *r)
{
	if (fc_is_bits(r->fc))
		return ((unsigned)r->count + 7) / 8;
	if (fc_is_read(r->fc))
		return (unsigned)r->count * 2;
	return 0;
}

uint8_t
mbap_read_fc(unsigned table)
{
	switch (table) {
	case MBMAP_COIL:		return MBAP_FC_READ_COILS;
	case MBMAP_DISCRETE:	return MBAP_FC_READ_DISCRETE;
	case MBMAP_INPUT:		return MBAP_FC_READ_INPUT;
	default:		return MBAP_FC_READ_HOLDING;
	}
}

/*
 * Appends the request's quantity to pdu[*n] when it is 1 to limit and
 * the addresses it spans end within the 65536 of a table; else -EINVAL.
 */
static int
put_quantity(uint8_t *pdu, size_t *n, const struct mbap_req *r,
    unsigned limit)
{
	if (r->count == 0 || r->count > limit ||
	    (unsigned)r->addr + r->count > 65536)
		return -EINVAL;
	put16(pdu + *n, r->count);
	*n += 2;
	return 0;
}

int
mbap_encode(const struct mbap_req *r, uint8_t *buf, size_t cap)
{
	uint8_t pdu[MBAP_ADU_MAX];
	size_t n = 0;
	unsigned i;

	pdu[n++] = r->fc;
	put16(pdu + n, r->addr);
	n += 2;
	switch (r->fc) {
	case MBAP_FC_READ_COILS:
	case MBAP_FC_READ_DISCRETE:
	case MBAP_FC_READ_HOLDING:
	case MBAP_FC_READ_INPUT:
		if (put_quantity(pdu, &n, r, fc_is_bits(r->fc) ? MBAP_MAX_BITS :
		    MBAP_MAX_REGS) != 0)
			return -EINVAL;
		break;
	case MBAP_FC_WRITE_COIL:
		if (r->bits == NULL)
			return -EINVAL;
		put16(pdu + n, r->bits[0] ? 0xff00 : 0x0000);
		n += 2;
		break;
	case MBAP_FC_WRITE_REGISTER:
		if (r->regs == NULL)
			return -EINVAL;
		put16(pdu + n, r->regs[0]);
		n += 2;
		break;
	case MBAP_FC_WRITE_COILS:
		if (r->bits == NULL ||
		    put_quantity(pdu, &n, r, MBAP_MAX_WBITS) != 0)
			return -EINVAL;
		pdu[n++] = (uint8_t)((r->count + 7) / 8);
		memset(pdu + n, 0, (r->count + 7) / 8);
		for (i = 0; i < r->count; i++)
			if (r->bits[i])
				pdu[n + i / 8] |= (uint8_t)(1u << (i % 8));
		n += (r->count + 7) / 8;
		break;
	case MBAP_FC_WRITE_REGISTERS:
		if (r->regs == NULL ||
		    put_quantity(pdu, &n, r, MBAP_MAX_WREGS) != 0)
			return -EINVAL;
		pdu[n++] = (uint8_t)(r->count * 2);
		for (i = 0; i < r->count; i++, n += 2)
			put16(pdu + n, r->regs[i]);
		break;
	default:
		return -EINVAL;
	}
	if (cap < MBAP_HDR_LEN + n)
		return -ENOSPC;
	put16(buf, r->tid);
	put16(buf + 2, 0);
	put16(buf + 4, (uint16_t)(n + 1));
	buf[6] = r->unit;
	memcpy(buf + MBAP_HDR_LEN, pdu, n);
	return (int)(MBAP_HDR_LEN + n);
}

int
mbap_frame(const uint8_t *buf, size_t len, size_t *frame_len)
{
	unsigned flen;

	*frame_len = 0;
	/* Check what we have as early as we have it: garbage is rejected
	 * from its first bytes rather than after a wait for 260. */
	if (len >= 4 && get16(buf + 2) != 0)
		return MBAP_E_PROTO;
	if (len < 6)
		return MBAP_MORE;
	flen = get16(buf + 4);
	if (flen < MBAP_LEN_MIN)
		return MBAP_E_LEN_SHORT;
	if (flen > MBAP_LEN_MAX)
		return MBAP_E_LEN_LONG;
	*frame_len = 6 + flen;
	return len >= *frame_len ? MBAP_OK : MBAP_MORE;
}

uint16_t
mbap_tid(const uint8_t *frame)
{
	return get16(frame);
}

int
mbap_check(const struct mbap_req *req, const uint8_t *f, size_t len,
    struct mbap_resp *out)
{
	size_t pdu_len;
	const uint8_t *pdu;
	unsigned want;

	memset(out, 0, sizeof(*out));
	if (len < MBAP_HDR_LEN + 1)
		return MBAP_E_TRUNC;
	if (get16(f + 2) != 0)
		return MBAP_E_PROTO;
	if (get16(f + 4) < MBAP_LEN_MIN)
		return MBAP_E_LEN_SHORT;
	if (get16(f + 4) > MBAP_LEN_MAX)
		return MBAP_E_LEN_LONG;
	if ((size_t)get16(f + 4) + 6 > len)
		return MBAP_E_TRUNC;
	if ((size_t)get16(f + 4) + 6 < len)
		return MBAP_E_TRAILING;
	out->tid = get16(f);
	out->unit = f[6];
	pdu = f + MBAP_HDR_LEN;
	pdu_len = len - MBAP_HDR_LEN;
	out->fc = pdu[0] & 0x7f;
	if (out->tid != req->tid)
		return MBAP_E_TID;
	if (out->unit != req->unit)
		return MBAP_E_UNIT;
	if (out->fc != req->fc)
		return MBAP_E_FC;
	if (pdu[0] & 0x80) {
		if (pdu_len != 2)
			return MBAP_E_EXC_LEN;
		out->exception = pdu[1];
		return MBAP_OK;
	}
	if (fc_is_read(req->fc)) {
		want = mbap_resp_bytes(req);
		if (pdu[1] != want)
			return MBAP_E_COUNT;
		/* The length field and the byte count must agree too. */
		if (pdu_len < 2 + want)
			return MBAP_E_TRUNC;
		if (pdu_len > 2 + want)
			return MBAP_E_TRAILING;
		out->ndata = pdu[1];
		out->data = pdu + 2;
		return MBAP_OK;
	}
	/* Writes: FC 5, 6, 15, 16 all answer with address + value/quantity. */
	if (pdu_len < 5)
		return MBAP_E_TRUNC;
	if (pdu_len > 5)
		return MBAP_E_TRAILING;
	out->addr = get16(pdu + 1);
	out->value = get16(pdu + 3);
	if (out->addr != req->addr)
		return MBAP_E_ECHO;
	switch (req->fc) {
	case MBAP_FC_WRITE_COIL:
		if (out->value != (req->bits && req->bits[0] ? 0xff00 : 0))
			return MBAP_E_ECHO;
		break;
	case MBAP_FC_WRITE_REGISTER:
		if (req->regs == NULL || out->value != req->regs[0])
			return MBAP_E_ECHO;
		break;
	default:
		if (out->value != req->count)
			return MBAP_E_ECHO;
		break;
	}
	return MBAP_OK;
}

int
mbap_parse(const struct mbap_req *reqs, size_t n, const uint8_t *buf,
    size_t len, struct mbap_resp *out, size_t *which)
{
	size_t flen, i;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = mbap_frame(buf, len, &flen);
	if (rc == MBAP_MORE)
		return MBAP_E_TRUNC;
	if (rc != MBAP_OK)
		return rc;
	if (len > flen)
		return MBAP_E_TRAILING;
	for (i = 0; i < n; i++)
		if (reqs[i].tid == mbap_tid(buf))
			break;
	if (i == n) {
		out->tid = mbap_tid(buf);
		return MBAP_E_TID;
	}
	*which = i;
	return mbap_check(&reqs[i], buf, flen, out);
}

uint16_t
mbap_reg(const struct mbap_resp *r, unsigned i)
{
	if (r->data == NULL || 2 * i + 1 >= r->ndata + 0u)
		return 0;
	return get16(r->data + 2 * i);
}

int
mbap_bit(const struct mbap_resp *r, unsigned i)
{
	if (r->data == NULL || i / 8 >= r->ndata)
		return 0;
	return (r->data[i / 8] >> (i % 8)) & 1;
}

static const struct {
	const char *name, *text;
} mbap_status_tab[MBAP_E__COUNT] = {
	{ "ok",		"ok" },
	{ "more",	"incomplete frame" },
	{ "proto",	"protocol id is not 0" },
	{ "len_short",	"length field below the PDU minimum" },
	{ "len_long",	"length field above 254 (ADU above 260 bytes)" },
	{ "tid",	"unknown transaction id" },
	{ "unit",	"unit id does not match the request" },
	{ "fc",		"function code does not match the request" },
	{ "count",	"byte count disagrees with the request" },
	{ "trunc",	"truncated frame" },
	{ "trailing",	"garbage after the frame" },
	{ "echo",	"write response does not echo the request" },
	{ "exc_len",	"exception response of the wrong length" },
};

static int
status_index(int status)
{
	if (status == MBAP_OK)
		return 0;
	if (status == MBAP_MORE)
		return 1;
	if (status < 0 && -status <= MBAP_E__COUNT - 2)
		return 1 - status;
	return -1;
}

const char *
mbap_strerror(int status)
{
	int i = status_index(status);

	return i < 0 ? "unknown status" : mbap_status_tab[i].text;
}

const char *
mbap_status_name(int status)
{
	int i = status_index(status);

	return i < 0 ? "unknown" : mbap_status_tab[i].name;
}

const char *
mbap_exception_name(uint8_t code)
{
	static const char *const names[] = {
		[1] = "ILLEGAL FUNCTION",
		[2] = "ILLEGAL DATA ADDRESS",
		[3] = "ILLEGAL DATA VALUE",
		[4] = "SERVER DEVICE FAILURE",
		[5] = "ACKNOWLEDGE",
		[6] = "SERVER DEVICE BUSY",
		[7] = "NEGATIVE ACKNOWLEDGE",
		[8] = "MEMORY PARITY ERROR",
		[9] = "NOT DEFINED",
		[10] = "GATEWAY PATH UNAVAILABLE",
		[11] = "GATEWAY TARGET DEVICE FAILED TO RESPOND",
	};

	if (code >= 1 && code <= 11)
		return names[code];
	return "UNKNOWN EXCEPTION";
}
