/*
 * test_mbdecode_libmodbus.c - point decoding against an independent Modbus
 * implementation: libmodbus's server (modbus_mapping_new + modbus_reply in
 * a thread on a free 127.0.0.1 port) serves registers and bits, libmodbus's
 * blocking client reads them, and mbdecode must agree with
 *  - libmodbus's own helpers where they exist: modbus_get_float_abcd/_cdab/
 *    _badc/_dcba for float32 in each order (on random register contents),
 *    MODBUS_GET_INT32_FROM_INT16 / _INT64_ for big-endian (ABCD) integers;
 *  - known byte patterns everywhere else (every type in every order).
 * The descriptors here are few and low, so libmodbus's select() is safe.
 *
 * libmodbus 3.1.6's modbus_set_float_abcd/... are not the inverse of its
 * getters (they byte-swap each register), so only the getters are used.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <modbus/modbus.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "drivers/modbus/mbdecode.h"

#define NREGS	1000
#define NBITS	64

struct server {
	int		 lfd;		/* listening socket, 127.0.0.1:port */
	uint16_t	 port;
	modbus_t	*ctx;		/* server-side framing */
	modbus_mapping_t *map;
	pthread_t	 thread;
};

static struct server srv;
static modbus_t *cli;

static void *
server_main(void *arg)
{
	struct server *s = arg;
	struct pollfd pfd = { .fd = s->lfd, .events = POLLIN };
	uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
	int fd, rc;

	if (poll(&pfd, 1, 5000) != 1)
		return NULL;
	if ((fd = accept(s->lfd, NULL, NULL)) == -1)
		return NULL;
	modbus_set_socket(s->ctx, fd);
	modbus_set_indication_timeout(s->ctx, 5, 0);
	for (;;) {
		rc = modbus_receive(s->ctx, q);
		if (rc == -1)
			break;		/* client closed, or 5 s of silence */
		if (rc > 0 && modbus_reply(s->ctx, q, rc, s->map) == -1)
			break;
	}
	close(fd);
	return NULL;
}

/* Binds 127.0.0.1:0 so the kernel picks a free port. */
static void
server_listen(struct server *s)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(s->lfd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(s->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(listen(s->lfd, 4), 0);
	cr_assert_eq(getsockname(s->lfd, (struct sockaddr *)&sin, &len), 0);
	s->port = ntohs(sin.sin_port);
	s->map = modbus_mapping_new(NBITS, NBITS, NREGS, NREGS);
	cr_assert_not_null(s->map);
	s->ctx = modbus_new_tcp("127.0.0.1", s->port);
	cr_assert_not_null(s->ctx);
}

/* Starts serving (the mapping must be filled first) and connects cli. */
static void
server_start(void)
{
	cr_assert_eq(pthread_create(&srv.thread, NULL, server_main, &srv), 0);
	cli = modbus_new_tcp("127.0.0.1", srv.port);
	cr_assert_not_null(cli);
	modbus_set_response_timeout(cli, 2, 0);
	cr_assert_eq(modbus_connect(cli), 0, "connect: %s",
	    modbus_strerror(errno));
}

static void
setup(void)
{
	memset(&srv, 0, sizeof(srv));
	server_listen(&srv);
}

static void
teardown(void)
{
	if (cli != NULL) {
		modbus_close(cli);
		modbus_free(cli);
		cli = NULL;
		pthread_join(srv.thread, NULL);
	}
	modbus_free(srv.ctx);
	modbus_mapping_free(srv.map);
	close(srv.lfd);
}

/* Reads n holding (or input) registers from addr in legal-size chunks. */
static void
read_regs(int input, int addr, int n, uint16_t *dst)
{
	while (n > 0) {
		int k = n > MODBUS_MAX_READ_REGISTERS ?
		    MODBUS_MAX_READ_REGISTERS : n;
		int rc = input ? modbus_read_input_registers(cli, addr, k, dst) :
		    modbus_read_registers(cli, addr, k, dst);

		cr_assert_eq(rc, k, "read %d@%d: %s", k, addr,
		    modbus_strerror(errno));
		addr += k;
		dst += k;
		n -= k;
	}
}

static struct mbmap_point
pt(enum mbmap_table table, enum mbmap_type type, enum mbmap_order order, int addr)
{
	struct mbmap_point p;

	memset(&p, 0, sizeof(p));
	p.scale = 1;
	p.table = table;
	p.type = type;
	p.order = order;
	p.bit = -1;
	p.address = (uint16_t)addr;
	return p;
}

struct sample {
	enum mbmap_type	 type;
	uint64_t	 bits;		/* the value's bytes, A most significant */
	double		 value;
};

static struct sample samples[] = {
	{ MBMAP_INT16, 0xFFFE, -2 },
	{ MBMAP_INT16, 0x1234, 4660 },
	{ MBMAP_UINT16, 0xABCD, 43981 },
	{ MBMAP_INT32, 0xF8A432EB, -123456789 },
	{ MBMAP_INT32, 0x12345678, 305419896 },
	{ MBMAP_UINT32, 0xEE6B2800, 4000000000.0 },
	{ MBMAP_INT64, 0xFFFFFEE08E04FB35, -1234567890123.0 },
	{ MBMAP_INT64, 0x0000123456789ABC, 20015998343868.0 },
	{ MBMAP_UINT64, 0x0102030405060708, 72623859790382856.0 },
	{ MBMAP_UINT64, 0xFFFFFFFFFFFFF800, 18446744073709549568.0 },
	{ MBMAP_FLOAT32, 0x47F12000, 123456.0 },
	{ MBMAP_FLOAT32, 0xBFC00000, -1.5 },
	{ MBMAP_FLOAT64, 0x40934A456D5CFAAD, 1234.5678 },
	{ MBMAP_FLOAT64, 0xBF90000000000000, -0.015625 },
};
#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

/*
 * The register pattern of a sample in an order, spelled out byte by byte
 * from the documented table (not through mbdecode): ABCD keeps registers
 * and bytes, CDAB reverses registers, BADC swaps bytes, DCBA does both.
 */
static unsigned
pattern(const struct sample *s, enum mbmap_order o, uint16_t *r)
{
	struct mbmap_point p = pt(MBMAP_HOLDING, s->type, o, 0);
	unsigned nw = mbmap_point_width(&p), n = 2 * nw;
	uint8_t b[8];
	uint16_t w[4];

	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(s->bits >> (8 * (n - 1 - i)));
	for (unsigned i = 0; i < nw; i++) {
		uint8_t hi = b[2 * i], lo = b[2 * i + 1];

		if (o == MBMAP_BADC || o == MBMAP_DCBA)
			w[i] = (uint16_t)(lo << 8 | hi);
		else
			w[i] = (uint16_t)(hi << 8 | lo);
	}
	for (unsigned i = 0; i < nw; i++)
		r[i] = (o == MBMAP_CDAB || o == MBMAP_DCBA) ? w[nw - 1 - i] : w[i];
	return nw;
}

static float
lm_float(enum mbmap_order o, const uint16_t *r)
{
	switch (o) {
	case MBMAP_ABCD: return modbus_get_float_abcd(r);
	case MBMAP_CDAB: return modbus_get_float_cdab(r);
	case MBMAP_BADC: return modbus_get_float_badc(r);
	default: return modbus_get_float_dcba(r);
	}
}

static void
same_float(double got, float want, const char *what)
{
	if (isnan(want))
		cr_assert(isnan(got), "%s: %g is not NaN", what, got);
	else
		cr_assert_eq(got, (double)want, "%s: %.9g != %.9g", what, got,
		    (double)want);
}

TestSuite(mbdecode_libmodbus, .init = setup, .fini = teardown,
    .timeout = 20);

Test(mbdecode_libmodbus, every_type_every_order_known_patterns)
{
	struct { int addr; unsigned s, o; } at[NSAMPLES * MBMAP__ORDERS];
	uint16_t got[NREGS];
	int addr = 7, n = 0;		/* odd start: no alignment luck */

	for (unsigned s = 0; s < NSAMPLES; s++) {
		for (unsigned o = 0; o < MBMAP__ORDERS; o++) {
			at[n].addr = addr;
			at[n].s = s;
			at[n].o = o;
			n++;
			addr += (int)pattern(&samples[s], o,
			    srv.map->tab_registers + addr);
		}
	}
	cr_assert_lt(addr, NREGS);
	server_start();
	read_regs(0, 0, addr, got);
	for (int i = 0; i < n; i++) {
		const struct sample *s = &samples[at[i].s];
		struct mbmap_point p = pt(MBMAP_HOLDING, s->type, at[i].o,
		    at[i].addr);
		struct mbdecode_value v;
		const uint16_t *r = got + at[i].addr;

		cr_assert_eq(mbdecode_regs(&p, got, (size_t)addr, 0, &v), 0);
		cr_assert_eq(v.value, s->value, "%s %s @%d: %.17g != %.17g",
		    mbmap_type_name(s->type), mbmap_order_name(at[i].o), at[i].addr,
		    v.value, s->value);
		cr_assert_eq(v.quality, FLEET_Q_GOOD);
		if (s->type == MBMAP_FLOAT32)
			same_float(v.value, lm_float(at[i].o, r), "float32");
		/* libmodbus's big-endian macros, where they are defined */
		if (at[i].o == MBMAP_ABCD && (s->bits >> 63) == 0 &&
		    s->type == MBMAP_INT64)
			cr_assert_eq((int64_t)v.raw,
			    MODBUS_GET_INT64_FROM_INT16(r, 0));
		if (at[i].o == MBMAP_ABCD && s->type == MBMAP_INT32 &&
		    r[0] < 0x8000)
			cr_assert_eq((int32_t)v.raw,
			    MODBUS_GET_INT32_FROM_INT16(r, 0));
	}
}

Test(mbdecode_libmodbus, float32_random_registers_vs_libmodbus)
{
	uint16_t got[NREGS];
	uint32_t x = 0x2545F491;

	/* xorshift: NaNs, infinities, denormals and all come up */
	for (int i = 0; i < NREGS; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		srv.map->tab_input_registers[i] = (uint16_t)x;
	}
	srv.map->tab_input_registers[10] = 0x7F80;	/* +inf, ABCD */
	srv.map->tab_input_registers[11] = 0x0000;
	srv.map->tab_input_registers[20] = 0xFFC0;	/* NaN, ABCD */
	srv.map->tab_input_registers[21] = 0x0000;
	server_start();
	read_regs(1, 0, NREGS, got);
	cr_assert_eq(memcmp(got, srv.map->tab_input_registers, sizeof(got)), 0);
	for (int a = 0; a + 1 < NREGS; a++) {
		for (unsigned o = 0; o < MBMAP__ORDERS; o++) {
			struct mbmap_point p = pt(MBMAP_INPUT, MBMAP_FLOAT32, o, a);
			struct mbdecode_value v;
			float want = lm_float(o, got + a);

			cr_assert_eq(mbdecode_regs(&p, got, NREGS, 0, &v), 0);
			same_float(v.value, want, mbmap_order_name(o));
			if (isnan(want))
				cr_assert_eq(v.quality, FLEET_Q_BAD_NAN);
			else if (isinf(want))
				cr_assert_eq(v.quality, FLEET_Q_BAD_INF);
			else
				cr_assert_eq(v.quality, FLEET_Q_GOOD);
		}
	}
}

Test(mbdecode_libmodbus, encoder_served_and_read_back)
{
	uint16_t got[NREGS];
	struct { int addr; unsigned s, o; } at[NSAMPLES * MBMAP__ORDERS];
	int addr = 0, n = 0;

	for (unsigned s = 0; s < NSAMPLES; s++) {
		for (unsigned o = 0; o < MBMAP__ORDERS; o++) {
			struct mbmap_point p = pt(MBMAP_HOLDING, samples[s].type,
			    o, addr);
			uint16_t want[4];

			/* 2^56 + ...08 has no exact double: nothing to encode */
			if (samples[s].type == MBMAP_UINT64 &&
			    (uint64_t)samples[s].value != samples[s].bits)
				continue;
			cr_assert_eq(mbdecode_encode(&p, samples[s].value,
			    srv.map->tab_registers, NREGS, 0), 0);
			pattern(&samples[s], o, want);
			cr_assert_eq(memcmp(want, srv.map->tab_registers + addr,
			    2 * mbmap_point_width(&p)), 0, "%s %s",
			    mbmap_type_name(samples[s].type), mbmap_order_name(o));
			at[n].addr = addr;
			at[n].s = s;
			at[n].o = o;
			n++;
			addr += (int)mbmap_point_width(&p);
		}
	}
	server_start();
	read_regs(0, 0, addr, got);
	for (int i = 0; i < n; i++) {
		const struct sample *s = &samples[at[i].s];

		if (s->type == MBMAP_FLOAT32)
			same_float(s->value, lm_float(at[i].o,
			    got + at[i].addr), "encoded float32");
	}
}

Test(mbdecode_libmodbus, coils_discretes_and_status_bits)
{
	uint8_t coils[NBITS], inputs[NBITS];
	uint16_t status;

	for (int i = 0; i < NBITS; i++) {
		srv.map->tab_bits[i] = (uint8_t)(i % 3 == 0);
		srv.map->tab_input_bits[i] = (uint8_t)(i % 5 == 1);
	}
	srv.map->tab_registers[40] = 0x8421;	/* bits 0, 5, 10, 15 */
	server_start();
	cr_assert_eq(modbus_read_bits(cli, 0, NBITS, coils), NBITS);
	cr_assert_eq(modbus_read_input_bits(cli, 0, NBITS, inputs), NBITS);
	for (int i = 0; i < NBITS; i++) {
		struct mbmap_point c = pt(MBMAP_COIL, MBMAP_BOOL, MBMAP_ABCD, i);
		struct mbmap_point d = pt(MBMAP_DISCRETE, MBMAP_BOOL, MBMAP_ABCD, i);
		struct mbdecode_value v;

		cr_assert_eq(mbdecode_bits(&c, coils, NBITS, 0, &v), 0);
		cr_assert_eq(v.value, i % 3 == 0 ? 1.0 : 0.0, "coil %d", i);
		cr_assert_eq(mbdecode_bits(&d, inputs, NBITS, 0, &v), 0);
		cr_assert_eq(v.value, i % 5 == 1 ? 1.0 : 0.0, "input %d", i);
	}
	read_regs(0, 40, 1, &status);
	for (int b = 0; b < 16; b++) {
		struct mbmap_point p = pt(MBMAP_HOLDING, MBMAP_BOOL, MBMAP_ABCD, 40);
		struct mbdecode_value v;

		p.bit = (int8_t)b;
		cr_assert_eq(mbdecode_regs(&p, &status, 1, 40, &v), 0);
		cr_assert_eq(v.value, b % 5 == 0 ? 1.0 : 0.0, "bit %d", b);
	}
}
