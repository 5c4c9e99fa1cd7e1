/*
 * tocsind - the tocsin daemon: argument parsing and start-up.  The run
 * loop itself is daemon/live.c; replay is daemon/replay.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/crole.h"
#include "daemon/live.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/replay.h"
#include "daemon/router.h"

#define TOCSIN_CONFIG_DEFAULT	"/etc/tocsin/tocsin.yaml"

/*
 * Loads the configuration; prints every error to stderr and returns NULL
 * when there is any.
 */
static struct config *
load_config(const char *path)
{
	struct config_errors errs = { NULL, 0 };
	struct config *cfg = config_load(path, &errs);

	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.msg[i]);
	if (cfg == NULL)
		fprintf(stderr, "%s: %zu error%s\n", path, errs.n,
		    errs.n == 1 ? "" : "s");
	config_errors_free(&errs);
	return cfg;
}

/* -n -v: each site with its area, region, effective tier and tenants. */
static void
print_sites(const struct config *cfg)
{
	const struct fleet *f = cfg->fleet;
	size_t *ndev = xcalloc(f->nsites + 1, sizeof(*ndev));

	for (size_t i = 0; i < f->ndevices; i++)
		ndev[f->devices[i].site]++;
	printf("%-10s %-18s %-6s %-9s %-7s %s\n", "site", "area", "region",
	    "tier", "devices", "tenants");
	for (size_t i = 0; i < f->nsites; i++) {
		const struct fleet_site *s = &f->sites[i];

		printf("%-10s %-18s %-6s %-9s %-7zu", s->id, f->areas[s->area],
		    fleet_region_name(s->region), fleet_tier_name(s->tier), ndev[i]);
		for (size_t j = 0; j < s->ntenants; j++)
			printf("%s%s (%s)", j ? ", " : " ", s->tenants[j].customer,
			    fleet_tier_name(s->tenants[j].tier));
		printf("\n");
	}
	xfree(ndev);
}

/*
 * -n -v: every command a profile declares, which is every write tocsind
 * can ever send (docs/commands.md).
 */
static void
print_commands(const struct config *cfg)
{
	const struct fleet *f = cfg->fleet;
	const struct mbmap *m = cfg->mbmap;
	size_t n = mbmap_ncommands(m);

	if (n == 0) {
		printf("commands: none declared: tocsind never writes to a "
		    "device\n");
		return;
	}
	printf("commands: %zu declared (the only writes tocsind can "
	    "send)\n", n);
	printf("%-12s %-18s %-8s %-8s %-14s %-16s %s\n", "profile", "command",
	    "devices", "function", "address", "values", "readback");
	for (size_t i = 0; i < m->nprofiles && i < f->nprofiles; i++) {
		size_t ndev = 0;

		for (size_t d = 0; d < f->ndevices; d++)
			ndev += f->devices[d].profile == i;
		for (size_t k = 0; k < m->profiles[i].ncommands; k++) {
			const struct mbmap_command *c =
			    &m->profiles[i].commands[k];
			char addr[32], vals[64], rb[96];
			size_t o = 0;

			snprintf(addr, sizeof(addr), "%s %u", c->fc == 5 ?
			    "coil" : "holding", c->address);
			for (unsigned v = 0; v < c->count && o < sizeof(vals);
			    v++) {
				if (v == 4 && c->count > 5) {
					snprintf(vals + o, sizeof(vals) - o,
					    ",...(%u)", c->count);
					break;
				}
				o += (size_t)snprintf(vals + o, sizeof(vals) - o,
				    "%s%u", v ? "," : "", c->values[v]);
			}
			if (c->rb_table == MBMAP_RB_NONE)
				snprintf(rb, sizeof(rb), "-");
			else
				snprintf(rb, sizeof(rb), "%s %u = %u after "
				    "%ums, until %ums", mbmap_table_name(
				    (enum mbmap_table)c->rb_table),
				    c->rb_address, c->rb_value, c->rb_delay_ms,
				    c->rb_timeout_ms);
			printf("%-12s %-18s %-8zu %-8u %-14s %-16s %s\n",
			    f->profiles[i].id, c->name, ndev, c->fc, addr,
			    vals, rb);
		}
	}
}

/* --replay: the fleet and rules of the configuration, time from the file. */
static int
replay(const char *config, const char *file, int strict, int late, int shard)
{
	struct config *cfg = load_config(config);
	int r;

	if (cfg == NULL)
		return 1;
	/* From a pipe, events go on as they happen (a live poller upstream). */
	if (strcmp(file, "-") == 0)
		setvbuf(stdout, NULL, _IOLBF, 0);
	r = replay_run(file, cfg->fleet, &cfg->correlation,
	    (strict ? REPLAY_STRICT : 0) | (late ? REPLAY_LATE : 0) |
	    REPLAY_SHARD(shard), stdout, stderr);
	config_free(cfg);
	if (fflush(stdout) != 0)
		return 1;
	/*
	 * Skipped lines and refused actions or windows were reported and
	 * counted: exit 0.
	 * -EINVAL (--strict stopped), -EIO and an unopenable file: exit 1.
	 */
	return r == 0 ? 0 : 1;
}

static int
check_config(const char *path, int verbose)
{
	struct config *cfg = load_config(path);
	char census[256];

	if (cfg == NULL)
		return 1;
	config_census(cfg, census, sizeof(census));
	printf("configuration OK: %s\n", census);
	if (verbose) {
		print_sites(cfg);
		print_commands(cfg);
	}
	config_free(cfg);
	return 0;
}

/* -c: run until SIGTERM/SIGINT or for duration seconds (> 0). */
static int
run(const char *path, double duration)
{
	struct config *cfg = load_config(path);
	struct live_opts lo;
	int fd = 2, r;

	if (cfg == NULL)
		return 1;
	if (cfg->daemon.log_file != NULL && cfg->daemon.log_file[0] != '\0') {
		fd = open(cfg->daemon.log_file,
		    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0) {
			fprintf(stderr, "tocsind: daemon.log_file %s: %s\n",
			    cfg->daemon.log_file, strerror(errno));
			config_free(cfg);
			return 1;
		}
	}
	log_init(fd, (enum log_level)cfg->daemon.log_level);
	memset(&lo, 0, sizeof(lo));
	lo.duration_s = duration;
	if (cfg->daemon.role == CFG_ROLE_CORRELATOR)
		r = crole_run(cfg, duration);
	else
		r = live_run(cfg, &lo);
	config_free(cfg);
	if (fd != 2)
		close(fd);
	return r;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: tocsind [-c FILE] [-d SECONDS]\n"
	    "       tocsind -n [-v] [-c FILE]\n"
	    "       tocsind --replay FILE [-c FILE] [--strict] [--late] "
	    "[--shard N]\n"
	    "  -c, --config FILE  configuration file (YAML), default "
	    TOCSIN_CONFIG_DEFAULT "\n"
	    "  -d, --duration SECONDS\n"
	    "                     run for this long, then stop as on SIGTERM\n"
	    "  -n, --check        check the configuration and exit\n"
	    "  -v                 with -n: list every site, its effective tier and\n"
	    "                     tenants, and every command profiles declare\n"
	    "      --replay FILE  correlate a recorded day offline (JSON lines of\n"
	    "                     alarm transitions, operator actions and\n"
	    "                     maintenance windows; - for stdin): incident\n"
	    "                     events on stdout\n"
	    "      --strict       with --replay: stop at the first bad line\n"
	    "      --late         with --replay: apply a line behind an earlier\n"
	    "                     one at its own time, as a correlator does\n"
	    "                     (several pollers write a partition)\n"
	    "      --shard N      with --replay: correlate as shard N (its\n"
	    "                     incident ids): partition N of tocsin.alarms\n"
	    "  -h, --help         this text\n"
	    "      --version      print the version and exit\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "replay", required_argument, NULL, 'R' },
		{ "strict", no_argument, NULL, 'S' },
		{ "late", no_argument, NULL, 'L' },
		{ "shard", required_argument, NULL, 'H' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *replay_file = NULL;
	int check = 0, verbose = 0, strict = 0, late = 0, shard = 0, ch;
	long l;
	double duration = 0;
	char *end;

	while ((ch = getopt_long(argc, argv, "c:d:nhv", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': config = optarg; break;
		case 'd':
			errno = 0;
			duration = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    !isfinite(duration) || duration <= 0 ||
			    duration > 1e9) {
				fprintf(stderr, "tocsind: -d %s: want a number "
				    "of seconds > 0\n", optarg);
				return 2;
			}
			break;
		case 'n': check = 1; break;
		case 'v': verbose = 1; break;
		case 'h': usage(stdout); return 0;
		case 'R': replay_file = optarg; break;
		case 'S': strict = 1; break;
		case 'L': late = 1; break;
		case 'H':
			errno = 0;
			l = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    l < 0 || l >= ROUTER_MAX_SHARDS) {
				fprintf(stderr, "tocsind: --shard %s: want 0 to "
				    "%d (daemon.shards is at most %d)\n", optarg,
				    ROUTER_MAX_SHARDS - 1, ROUTER_MAX_SHARDS);
				return 2;
			}
			shard = (int)l;
			break;
		case 'V':
			printf("tocsind %s (%s)\n", TOCSIN_VERSION, mem_allocator());
			return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (config == NULL)
		config = TOCSIN_CONFIG_DEFAULT;
	if (replay_file != NULL)
		return replay(config, replay_file, strict, late, shard);
	if (check)
		return check_config(config, verbose);
	return run(config, duration);
}
