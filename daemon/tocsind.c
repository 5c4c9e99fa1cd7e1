/*
 * tocsind - the tocsin daemon: argument parsing and start-up.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/log.h"
#include "daemon/mem.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: tocsind [-n] -c FILE\n"
	    "       tocsind --replay FILE [-c FILE] [--strict]\n"
	    "  -c, --config FILE  configuration file (YAML)\n"
	    "  -n, --check        check the configuration and exit\n"
	    "      --replay FILE  correlate alarm transitions (JSON lines) offline\n"
	    "  -h, --help         this text\n"
	    "      --version      print the version and exit\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "replay", required_argument, NULL, 'R' },
		{ "strict", no_argument, NULL, 'S' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *replay = NULL;
	int check = 0, ch;

	while ((ch = getopt_long(argc, argv, "c:nh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': config = optarg; break;
		case 'n': check = 1; break;
		case 'h': usage(stdout); return 0;
		case 'R': replay = optarg; break;
		case 'S': break;
		case 'V':
			printf("tocsind %s (%s)\n", TOCSIN_VERSION, mem_allocator());
			return 0;
		default: usage(stderr); return 2;
		}
	}
	(void)config; (void)replay; (void)check;
	usage(stderr);
	return 2;
}
