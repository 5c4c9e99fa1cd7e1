/*
 * cfgbench - how long `tocsind -n` takes on a big fleet, and at what memory.
 *
 * Fixed work: the fleet etc/genfleet.py generates (10,000 sites, 100,000
 * devices: fleet.yaml + an inventory CSV).  Two phases, each run in its own
 * child process so wait4() gives that phase's own CPU time and peak RSS:
 *
 *   baseline   the same bytes read by a plain libyaml event loop that builds
 *              nothing (plus a getline() pass over the CSV, which the loader
 *              also reads): the floor of any YAML loader;
 *   tocsind    `tocsind -n -c fleet.yaml`, exactly what an operator runs.
 *
 * Each phase runs --runs times, interleaved, and the median is reported, with
 * the ratio tocsind / baseline from the same invocation (machines here are
 * shared and noisy; the ratio is what to compare between versions).
 *
 *   cfgbench [--fleet DIR] [--tocsind PATH] [--runs N]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <yaml.h>

#include "bench/pb_stats.h"

struct sample {
	double	wall, cpu;	/* seconds */
	long	rss_kib;	/* peak resident set of the child */
	int	status;
};


/* The baseline, run in a child: returns the number of YAML events. */
static long
baseline(const char *yaml_path, const char *csv_path)
{
	yaml_parser_t p;
	yaml_event_t ev;
	FILE *f = fopen(yaml_path, "rb");
	long events = 0;
	char *line = NULL;
	size_t cap = 0;
	int done = 0;

	if (f == NULL)
		return -1;
	yaml_parser_initialize(&p);
	yaml_parser_set_input_file(&p, f);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			events = -1;
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		events++;
	}
	yaml_parser_delete(&p);
	fclose(f);
	if ((f = fopen(csv_path, "rb")) != NULL) {
		while (getline(&line, &cap, f) != -1)
			events++;
		free(line);
		fclose(f);
	}
	return events;
}

static int
run_phase(int which, const char *tocsind, const char *yaml, const char *csv,
    struct sample *s)
{
	struct rusage ru;
	double t0;
	int st;
	pid_t pid;

	fflush(stdout);		/* or the child repeats what is buffered */
	t0 = pb_wall_s();
	pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (which == 0)
			_exit(baseline(yaml, csv) > 0 ? 0 : 1);
		if (freopen("/dev/null", "w", stdout) == NULL)
			_exit(126);
		execl(tocsind, tocsind, "-n", "-c", yaml, (char *)NULL);
		_exit(127);
	}
	if (wait4(pid, &st, 0, &ru) < 0)
		return -errno;
	s->wall = pb_wall_s() - t0;
	s->cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	s->rss_kib = ru.ru_maxrss;
	s->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static struct sample
median(struct sample *v, int n)
{
	double w[64], c[64], r[64];
	struct sample m;

	for (int i = 0; i < n; i++) {
		w[i] = v[i].wall;
		c[i] = v[i].cpu;
		r[i] = (double)v[i].rss_kib;
	}
	qsort(w, (size_t)n, sizeof(double), cmp_double);
	qsort(c, (size_t)n, sizeof(double), cmp_double);
	qsort(r, (size_t)n, sizeof(double), cmp_double);
	m.wall = w[n / 2];
	m.cpu = c[n / 2];
	m.rss_kib = (long)r[n / 2];
	m.status = 0;
	return m;
}

int
main(int argc, char **argv)
{
	const char *dir = "build/bench/fleet", *tocsind = NULL;
	const char *bdir = getenv("TOCSIN_BUILD");
	char yaml[1024], csv[1024], cmd[2200], tpath[1024];
	struct sample b[64], t[64], mb, mt;
	struct stat sy, sc, sd;
	int runs = 3;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--fleet") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--tocsind") == 0 && i + 1 < argc)
			tocsind = argv[++i];
		else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
			runs = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: cfgbench [--fleet DIR] "
			    "[--tocsind PATH] [--runs N]\n");
			return 2;
		}
	}
	if (runs < 1 || runs > 64)
		runs = 3;
	if (tocsind == NULL) {
		snprintf(tpath, sizeof(tpath), "%s/tocsind",
		    bdir && *bdir ? bdir : "build/default");
		tocsind = tpath;
	}
	snprintf(yaml, sizeof(yaml), "%s/fleet.yaml", dir);
	snprintf(csv, sizeof(csv), "%s/fleet-devices.csv", dir);
	/* regenerate when missing or older than its sources */
	if (stat(yaml, &sy) != 0 || stat(csv, &sc) != 0 ||
	    (stat("etc/demo.yaml", &sd) == 0 && sd.st_mtime >= sy.st_mtime) ||
	    (stat("etc/genfleet.py", &sd) == 0 && sd.st_mtime >= sy.st_mtime)) {
		snprintf(cmd, sizeof(cmd), "python3 etc/genfleet.py %s", dir);
		printf("cfgbench: generating the fleet: %s\n", cmd);
		if (system(cmd) != 0 || stat(yaml, &sy) != 0 ||
		    stat(csv, &sc) != 0) {
			fprintf(stderr, "cfgbench: could not generate %s\n", yaml);
			return 1;
		}
	}
	printf("cfgbench: %s (%.1f MB) + %s (%.1f MB), %d runs each, "
	    "medians\n", yaml, sy.st_size / 1e6, csv, sc.st_size / 1e6, runs);
	for (int i = 0; i < runs; i++) {
		if (run_phase(0, tocsind, yaml, csv, &b[i]) != 0 ||
		    b[i].status != 0) {
			fprintf(stderr, "cfgbench: baseline failed\n");
			return 1;
		}
		if (run_phase(1, tocsind, yaml, csv, &t[i]) != 0 ||
		    t[i].status != 0) {
			fprintf(stderr, "cfgbench: %s -n failed (exit %d)\n",
			    tocsind, t[i].status);
			return 1;
		}
	}
	mb = median(b, runs);
	mt = median(t, runs);
	printf("%-28s %8s %8s %12s\n", "phase", "wall_s", "cpu_s", "peak_rss_MiB");
	printf("%-28s %8.3f %8.3f %12.1f\n", "baseline: libyaml events",
	    mb.wall, mb.cpu, mb.rss_kib / 1024.0);
	printf("%-28s %8.3f %8.3f %12.1f\n", "tocsind -n", mt.wall, mt.cpu,
	    mt.rss_kib / 1024.0);
	printf("ratio tocsind/baseline: wall %.2fx, cpu %.2fx, rss %.2fx\n",
	    mt.wall / mb.wall, mt.cpu / mb.cpu,
	    (double)mt.rss_kib / (double)mb.rss_kib);
	return 0;
}
