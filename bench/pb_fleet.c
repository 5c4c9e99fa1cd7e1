/*
 * pb_fleet.c - see pb_fleet.h.
 */
#include "bench/pb_fleet.h"
#include "bench/pb_stats.h"
#include "daemon/log.h"

void
pb_opts_default(struct pb_opts *o, uint64_t count)
{
	*o = (struct pb_opts){ .count = count, .timeout_ms = 1000, .regs = 10 };
	devsim_cfg_default(&o->cfg);
}

int
pb_opts_option(struct pb_opts *o, const char *prog, int ch, const char *arg)
{
	switch (ch) {
	case 'c':
		o->count = (uint64_t)pb_num_arg(prog, "count", arg, 1, 1e12);
		return 0;
	case 'd':
		o->duration = pb_num_arg(prog, "duration", arg, 0.001, 86400);
		return 0;
	case 'i':
		o->interval_ms = (unsigned)pb_num_arg(prog, "interval-ms", arg,
		    0, 3.6e6);
		return 0;
	case 't':
		o->timeout_ms = (unsigned)pb_num_arg(prog, "timeout-ms", arg, 1,
		    3.6e6);
		return 0;
	case 'w':
		o->warmup = (uint64_t)pb_num_arg(prog, "warmup", arg, 0, 1e12);
		return 0;
	case 'r':
		o->regs = (unsigned)pb_num_arg(prog, "regs", arg, 1, 125);
		return 0;
	default:
		return devsim_cfg_option(&o->cfg, prog, ch, arg);
	}
}

void
pb_opts_parse(struct pb_opts *o, const char *prog, int argc, char *argv[],
    void (*usage)(void))
{
	static const struct option opts[] = {
		PB_FLEET_OPTIONS,
		{ "regs", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1)
		if (pb_opts_option(o, prog, ch, optarg) != 0)
			usage();
	if (optind != argc)
		usage();
}

int64_t
pb_opts_end_us(const struct pb_opts *o, int64_t t0_us)
{
	return o->duration > 0 ? t0_us + (int64_t)(o->duration * 1e6) : 0;
}

size_t
pb_fleet_ngateways(const struct devsim_cfg *cfg)
{
	return (cfg->ndevices + cfg->units - 1) / cfg->units;
}

unsigned
pb_fleet_units(const struct devsim_cfg *cfg, size_t g)
{
	size_t first = g * cfg->units;

	if (first >= cfg->ndevices)
		return 0;
	return (unsigned)(cfg->ndevices - first < cfg->units ?
	    cfg->ndevices - first : cfg->units);
}

void
pb_fleet_endpoint(const struct devsim_cfg *cfg, const char *prog, size_t g,
    struct in_addr *addr, uint16_t *port, char host[INET_ADDRSTRLEN])
{
	if (devsim_endpoint(cfg, g, addr, port) != 0)
		fatalx("%s endpoint=%zu out of range", prog, g);
	if (host != NULL)
		inet_ntop(AF_INET, addr, host, INET_ADDRSTRLEN);
}
