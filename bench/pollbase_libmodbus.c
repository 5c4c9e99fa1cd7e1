/*
 * pollbase_libmodbus.c - the baseline a user writes first: libmodbus's
 * blocking client polling D devices in turn, one modbus_t per gateway,
 * modbus_set_slave() for units behind it, modbus_read_input_registers()
 * (FC 4) and wait for the answer before the next device.
 *
 * libmodbus waits in select(), which aborts on a descriptor >= FD_SETSIZE
 * (1024), so this client takes at most PBL_MAX_CONNS connections and says
 * so instead of crashing: that limit is one of the things the baseline
 * shows.  Addressing is devsim's (devsim_endpoint()).
 *
 * Rate: --interval-ms 0 polls back to back; with an interval, device i is
 * due at start + i * I / D + k * I and the loop sleeps until then (a late
 * device is polled at once: its lateness is the jitter).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include <modbus/modbus.h>

#include "bench/pb_fleet.h"
#include "bench/pb_stats.h"
#include "daemon/log.h"
#include "daemon/mem.h"

#define PBL_MAX_CONNS	(FD_SETSIZE - 24)

static void
usage(void)
{
	fprintf(stderr,
"usage: pollbase_libmodbus [--devices D] [--units-per-gateway K]\n"
"                          [--base-addr A] [--port P] [--ports-per-addr M]\n"
"                          [--count N] [--duration S] [--interval-ms I]\n"
"                          [--timeout-ms T] [--regs R] [--warmup N]\n");
	exit(2);
}


static void
sleep_until_us(int64_t t)
{
	int64_t d = t - pb_now_us();
	struct timespec ts;

	if (d <= 0)
		return;
	ts.tv_sec = d / 1000000;
	ts.tv_nsec = (d % 1000000) * 1000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int
main(int argc, char *argv[])
{
	struct pb_opts o;
	const struct devsim_cfg *cfg = &o.cfg;
	struct pb_run run;
	modbus_t **mb;
	uint16_t regs[125];
	int64_t start, end_us = 0;
	size_t nc;

	log_init(2, LOG_LVL_INFO);
	pb_opts_default(&o, 10000);
	pb_opts_parse(&o, "pollbase_libmodbus", argc, argv, usage);
	nc = pb_fleet_ngateways(cfg);
	if (nc > PBL_MAX_CONNS)
		fatalx("pollbase_libmodbus conns=%zu max=%d: libmodbus's select() "
		    "aborts on descriptors >= FD_SETSIZE=%d", nc, PBL_MAX_CONNS,
		    FD_SETSIZE);
	mb = xcalloc(nc, sizeof(*mb));
	for (size_t i = 0; i < nc; i++) {
		char host[INET_ADDRSTRLEN];
		struct in_addr a;
		uint16_t port;

		pb_fleet_endpoint(cfg, "pollbase_libmodbus", i, &a, &port, host);
		if ((mb[i] = modbus_new_tcp(host, port)) == NULL)
			fatalx("pollbase_libmodbus modbus_new_tcp");
		modbus_set_response_timeout(mb[i], o.timeout_ms / 1000,
		    (o.timeout_ms % 1000) * 1000);
		if (modbus_connect(mb[i]) == -1)
			fatalx("pollbase_libmodbus connect %s:%u err=\"%s\"", host,
			    port, modbus_strerror(errno));
	}
	pb_run_init(&run, "libmodbus", cfg->ndevices, nc, o.interval_ms);
	start = pb_now_us() + 1000;
	for (uint64_t k = 0, polls = 0;; k++) {
		size_t d = (size_t)(k % cfg->ndevices), g = d / cfg->units;
		int64_t due = -1, t0, t1;

		if (polls == o.warmup && run.t0 == 0) {
			pb_run_reset(&run);
			pb_run_start(&run);
			end_us = pb_opts_end_us(&o, run.t0);
		}
		if (run.t0 != 0 && (end_us > 0 ? pb_now_us() >= end_us :
		    run.tx + run.errors + run.timeouts >= o.count))
			break;
		if (o.interval_ms > 0) {
			due = start + (int64_t)(k / cfg->ndevices) *
			    o.interval_ms * 1000 + (int64_t)o.interval_ms * 1000 *
			    (int64_t)d / (int64_t)cfg->ndevices;
			sleep_until_us(due);
		}
		modbus_set_slave(mb[g], (int)(d % cfg->units) + 1);
		t0 = pb_now_us();
		pb_run_poll(&run, d, t0, due);
		polls++;
		if (modbus_read_input_registers(mb[g], 0, (int)o.regs, regs) ==
		    (int)o.regs) {
			t1 = pb_now_us();
			pb_run_done(&run, t1 - t0);
		} else if (errno == ETIMEDOUT) {
			run.timeouts++;
		} else {
			run.errors++;
			if (errno == ECONNRESET || errno == EPIPE) {
				modbus_close(mb[g]);
				(void)modbus_connect(mb[g]);
			}
		}
	}
	pb_run_stop(&run);
	pb_run_print(&run, stdout);
	for (size_t i = 0; i < nc; i++) {
		modbus_close(mb[i]);
		modbus_free(mb[i]);
	}
	xfree(mb);
	pb_run_fini(&run);
	return 0;
}
