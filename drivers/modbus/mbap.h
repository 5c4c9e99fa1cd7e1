/*
 * mbap.h - Modbus/TCP framing: MBAP header + PDU, built and parsed.
 *
 * Pure code: no I/O, no clock, no allocation.  The client (mbclient.c) and
 * the fuzz target use it; so may a device simulator.
 *
 * An ADU is the 7-byte MBAP header (transaction id, protocol id 0, length,
 * unit id) followed by the PDU (function code + data).  The length field
 * counts the unit id and the PDU, so a valid one is 2..254 (ADU <= 260).
 *
 * Parsing is strict and every malformed case has its own status so that it
 * can be counted on its own.  A response is checked against the request it
 * answers: function code, byte count for reads, echoed address/quantity for
 * writes.
 */
#ifndef TOCSIN_MBAP_H
#define TOCSIN_MBAP_H

#include <stddef.h>
#include <stdint.h>

#define MBAP_HDR_LEN	7	/* tid(2) proto(2) len(2) unit(1) */
#define MBAP_ADU_MAX	260	/* largest ADU on the wire */
#define MBAP_LEN_MIN	3	/* length field: unit + fc + 1 byte at least */
#define MBAP_LEN_MAX	254	/* length field: unit + 253-byte PDU */
#define MBAP_REQ_MAX	MBAP_ADU_MAX
#define MBAP_MAX_REGS	125	/* FC 3/4 read quantity limit */
#define MBAP_MAX_BITS	2000	/* FC 1/2 read quantity limit */
#define MBAP_MAX_WREGS	123	/* FC 16 write quantity limit */
#define MBAP_MAX_WBITS	1968	/* FC 15 write quantity limit */

enum mbap_fc {
	MBAP_FC_READ_COILS		= 1,
	MBAP_FC_READ_DISCRETE		= 2,
	MBAP_FC_READ_HOLDING		= 3,
	MBAP_FC_READ_INPUT		= 4,
	MBAP_FC_WRITE_COIL		= 5,
	MBAP_FC_WRITE_REGISTER		= 6,
	MBAP_FC_WRITE_COILS		= 15,
	MBAP_FC_WRITE_REGISTERS		= 16,
};

/*
 * Parse status: 0 is a good frame, MBAP_MORE asks for more bytes (only from
 * mbap_frame()), every negative value is one malformed case.
 */
enum mbap_status {
	MBAP_OK		=  0,
	MBAP_MORE	=  1,	/* need more bytes for a whole frame */
	MBAP_E_PROTO	= -1,	/* protocol id is not 0 */
	MBAP_E_LEN_SHORT = -2,	/* length field below the PDU minimum */
	MBAP_E_LEN_LONG	= -3,	/* length field above 254 (ADU above 260) */
	MBAP_E_TID	= -4,	/* transaction id matches no request */
	MBAP_E_UNIT	= -5,	/* unit id differs from the request's */
	MBAP_E_FC	= -6,	/* function code does not match the request */
	MBAP_E_COUNT	= -7,	/* byte count disagrees with the request */
	MBAP_E_TRUNC	= -8,	/* frame shorter than its length/byte count */
	MBAP_E_TRAILING	= -9,	/* bytes after the end of the frame */
	MBAP_E_ECHO	= -10,	/* write response does not echo the request */
	MBAP_E_EXC_LEN	= -11,	/* exception response of the wrong length */
	MBAP_E__COUNT	= 13	/* number of statuses incl. OK and MORE */
};

/* A request: reads (FC 1-4) or an explicitly configured write (5,6,15,16). */
struct mbap_req {
	uint16_t	 tid;		/* transaction id */
	uint8_t		 unit;		/* unit id (slave address) */
	uint8_t		 fc;		/* enum mbap_fc */
	uint16_t	 addr;		/* 0-based start address */
	uint16_t	 count;		/* registers or bits; 1 for FC 5/6 */
	const uint16_t	*regs;		/* FC 6/16: values to write */
	const uint8_t	*bits;		/* FC 5/15: one byte per bit, 0 or 1 */
};

/* A parsed response; data points into the caller's buffer. */
struct mbap_resp {
	uint16_t	 tid;
	uint8_t		 unit;
	uint8_t		 fc;		/* without the 0x80 exception bit */
	uint8_t		 exception;	/* 0, or the exception code */
	uint8_t		 ndata;		/* byte count of a read response */
	const uint8_t	*data;		/* read data: registers big-endian,
					   bits packed LSB first */
	uint16_t	 addr;		/* write responses: echoed address */
	uint16_t	 value;		/* write responses: echoed quantity/value */
};

/*
 * Encodes a request into buf (at least MBAP_REQ_MAX bytes is always enough).
 * Returns the ADU length, or -EINVAL for an unknown function code, a
 * quantity of 0 or above the protocol limit, an address range past 65535,
 * or missing write values; -ENOSPC if cap is too small.
 */
int	 mbap_encode(const struct mbap_req *r, uint8_t *buf, size_t cap);

/* Bytes of data a read response to r carries (byte count field). */
unsigned mbap_resp_bytes(const struct mbap_req *r);

/*
 * Looks at the start of a byte stream.  Returns MBAP_OK with *frame_len set
 * (header included) when a whole frame is there, MBAP_MORE when it is not
 * yet (*frame_len is then the total needed if the header is complete, else
 * 0), or MBAP_E_PROTO / MBAP_E_LEN_SHORT / MBAP_E_LEN_LONG when the header
 * is malformed (the stream is out of step: close it).
 */
int	 mbap_frame(const uint8_t *buf, size_t len, size_t *frame_len);

/* The transaction id of a frame (at least 2 bytes). */
uint16_t mbap_tid(const uint8_t *frame);

/*
 * Checks one whole frame (as delimited by mbap_frame()) against the request
 * it answers and fills *out.  Returns MBAP_OK (an exception response is OK
 * with out->exception set) or a negative enum mbap_status.
 */
int	 mbap_check(const struct mbap_req *req, const uint8_t *frame,
	    size_t len, struct mbap_resp *out);

/*
 * Parses a buffer that must hold exactly one response to one of reqs[0..n):
 * the strict one-shot form (fuzz target, tests, tools).  Returns MBAP_OK
 * with *which set to the matched request's index, or: MBAP_E_TRUNC if the
 * buffer ends inside the frame, MBAP_E_TRAILING if bytes follow it,
 * MBAP_E_TID if no request has its transaction id, else as mbap_check().
 */
int	 mbap_parse(const struct mbap_req *reqs, size_t n, const uint8_t *buf,
	    size_t len, struct mbap_resp *out, size_t *which);

/* Register i (0-based) of a read response, host order. */
uint16_t mbap_reg(const struct mbap_resp *r, unsigned i);
/* Bit i (0-based) of a read response: 0 or 1. */
int	 mbap_bit(const struct mbap_resp *r, unsigned i);

/* "ok", "truncated frame", ... for any enum mbap_status. */
const char *mbap_strerror(int status);
/* Short machine name: "proto", "len_short", ... for metrics labels. */
const char *mbap_status_name(int status);
/*
 * Exception names as the Modbus spec spells them: 1 "ILLEGAL FUNCTION" ...
 * 11 "GATEWAY TARGET DEVICE FAILED TO RESPOND"; "UNKNOWN EXCEPTION" for
 * any other code.
 */
const char *mbap_exception_name(uint8_t code);
/* The read function code for a table (enum mbmap_table, mbmap.h). */
uint8_t	 mbap_read_fc(unsigned table);

#endif
