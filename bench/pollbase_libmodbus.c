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
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include <modbus/modbus.h>

#include "bench/devsim_model.h"
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
	static const struct option opts[] = {
		DEVSIM_CFG_OPTIONS,
		{ "count", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "regs", required_argument, NULL, 'r' },
		{ "warmup", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	struct devsim_cfg cfg;
	struct pb_run run;
	modbus_t **mb;
	uint16_t regs[125];
	uint64_t count = 10000, warmup = 0;
	unsigned interval_ms = 0, nregs = 10, timeout_ms = 1000;
	double duration = 0;
	int64_t start, end_us = 0;
	size_t nc;
	int ch;

	log_init(2, LOG_LVL_INFO);
	devsim_cfg_default(&cfg);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': count = (uint64_t)pb_num_arg("pollbase_libmodbus", "count", optarg, 1, 1e12); break;
		case 'd': duration = pb_num_arg("pollbase_libmodbus", "duration", optarg, 0.001, 86400); break;
		case 'i': interval_ms = (unsigned)pb_num_arg("pollbase_libmodbus", "interval-ms", optarg, 0, 3.6e6); break;
		case 't': timeout_ms = (unsigned)pb_num_arg("pollbase_libmodbus", "timeout-ms", optarg, 1, 3.6e6); break;
		case 'r': nregs = (unsigned)pb_num_arg("pollbase_libmodbus", "regs", optarg, 1, 125); break;
		case 'w': warmup = (uint64_t)pb_num_arg("pollbase_libmodbus", "warmup", optarg, 0, 1e12); break;
		default:
			if (devsim_cfg_option(&cfg, "pollbase_libmodbus", ch, optarg) != 0)
				usage();
		}
	}
	if (optind != argc)
		usage();
	nc = (cfg.ndevices + cfg.units - 1) / cfg.units;
	if (nc > PBL_MAX_CONNS)
		fatalx("pollbase_libmodbus conns=%zu max=%d: libmodbus's select() "
		    "aborts on descriptors >= FD_SETSIZE=%d", nc, PBL_MAX_CONNS,
		    FD_SETSIZE);
	mb = xcalloc(nc, sizeof(*mb));
	for (size_t i = 0; i < nc; i++) {
		char host[INET_ADDRSTRLEN];
		struct in_addr a;
		uint16_t port;

		if (devsim_endpoint(&cfg, i, &a, &port) != 0)
			fatalx("pollbase_libmodbus endpoint=%zu out of range", i);
		inet_ntop(AF_INET, &a, host, sizeof(host));
		if ((mb[i] = modbus_new_tcp(host, port)) == NULL)
			fatalx("pollbase_libmodbus modbus_new_tcp");
		modbus_set_response_timeout(mb[i], timeout_ms / 1000,
		    (timeout_ms % 1000) * 1000);
		if (modbus_connect(mb[i]) == -1)
			fatalx("pollbase_libmodbus connect %s:%u err=\"%s\"", host,
			    port, modbus_strerror(errno));
	}
	pb_run_init(&run, "libmodbus", cfg.ndevices, nc, interval_ms);
	start = pb_now_us() + 1000;
	for (uint64_t k = 0, polls = 0;; k++) {
		size_t d = (size_t)(k % cfg.ndevices), g = d / cfg.units;
		int64_t due = -1, t0, t1;

		if (polls == warmup && run.t0 == 0) {
			run.tx = run.errors = run.timeouts = 0;
			memset(&run.rtt, 0, sizeof(run.rtt));
			memset(&run.gap, 0, sizeof(run.gap));
			memset(&run.jitter, 0, sizeof(run.jitter));
			pb_run_start(&run);
			end_us = duration > 0 ? run.t0 +
			    (int64_t)(duration * 1e6) : 0;
		}
		if (run.t0 != 0 && (end_us > 0 ? pb_now_us() >= end_us :
		    run.tx + run.errors + run.timeouts >= count))
			break;
		if (interval_ms > 0) {
			due = start + (int64_t)(k / cfg.ndevices) * interval_ms *
			    1000 + (int64_t)interval_ms * 1000 * (int64_t)d /
			    (int64_t)cfg.ndevices;
			sleep_until_us(due);
		}
		modbus_set_slave(mb[g], (int)(d % cfg.units) + 1);
		t0 = pb_now_us();
		pb_run_poll(&run, d, t0, due);
		polls++;
		if (modbus_read_input_registers(mb[g], 0, (int)nregs, regs) ==
		    (int)nregs) {
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
