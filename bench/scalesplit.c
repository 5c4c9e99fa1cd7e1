/*
 * scalesplit - bench/scalebench.sh's input: a day of alarm transitions
 * (bench/corrgen.py, sorted by time) split as tocsin.alarms partitions
 * them (each line to fleet_area_shard(its site's area, P): the one hash
 * the router and the Kafka producer use), with a tick line
 * (incjson_tick) every TICK seconds of stream time in every partition,
 * as pollers would produce them (docs/scaleout.md, "Time comes from the
 * topic").  Also writes the whole day with one tick line per TICK, for
 * the same-run baseline `tocsind --replay`.
 *
 *   scalesplit CONFIG ALARMS P TICK_S OUTDIR
 *
 * Writes OUTDIR/part<p>.jsonl and OUTDIR/all.jsonl; prints
 * "lines=N alarms=A ticks=T" and each partition's line count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correlator/fleet.h"
#include "correlator/incjson.h"
#include "daemon/config.h"
#include "daemon/replay.h"

#define PMAX	64

static void
tick(FILE *f, struct incjson_buf *b, int64_t at)
{
	b->n = 0;
	incjson_tick(b, at, "scalesplit");
	fprintf(f, "%.*s\n", (int)b->n, b->p);
}

int
main(int argc, char **argv)
{
	struct config_errors errs = { NULL, 0 };
	struct config *cfg;
	struct incjson_buf b;
	struct replay_rec rec;
	FILE *in, *all, *part[PMAX];
	char path[1024], why[160], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long count[PMAX] = { 0 }, lines = 0, alarms = 0, ticks = 0;
	int64_t next = -1, step;
	int np;

	if (argc != 6 || (np = atoi(argv[3])) < 1 || np > PMAX ||
	    atoi(argv[4]) < 1) {
		fprintf(stderr, "usage: scalesplit CONFIG ALARMS P(1-%d) "
		    "TICK_S OUTDIR\n", PMAX);
		return 2;
	}
	step = (int64_t)atoi(argv[4]) * 1000;
	if ((cfg = config_load(argv[1], &errs)) == NULL) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msg[i]);
		return 1;
	}
	if ((in = fopen(argv[2], "r")) == NULL) {
		perror(argv[2]);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/all.jsonl", argv[5]);
	if ((all = fopen(path, "w")) == NULL) {
		perror(path);
		return 1;
	}
	for (int p = 0; p < np; p++) {
		snprintf(path, sizeof(path), "%s/part%d.jsonl", argv[5], p);
		if ((part[p] = fopen(path, "w")) == NULL) {
			perror(path);
			return 1;
		}
	}
	incjson_buf_init(&b);
	while ((n = getline(&line, &cap, in)) > 0) {
		uint32_t dev;
		unsigned p;

		lines++;
		if (replay_parse_line(line, (size_t)n, &rec, why,
		    sizeof(why)) != 0 || rec.kind != REPLAY_ALARM ||
		    (dev = fleet_find(cfg->fleet, FLEET_DEVICE, rec.device)) ==
		    FLEET_NONE) {
			fprintf(stderr, "%s:%ld: not an alarm of the fleet: %s\n",
			    argv[2], lines, why);
			return 1;
		}
		/* ticks up to this line's time first, as a poller's come */
		if (next < 0)
			next = rec.at_ms - rec.at_ms % step + step;
		while (rec.at_ms >= next) {
			tick(all, &b, next);
			for (p = 0; p < (unsigned)np; p++) {
				tick(part[p], &b, next);
				count[p]++;
			}
			ticks++;
			next += step;
		}
		p = fleet_area_shard(cfg->fleet->areas[cfg->fleet->sites[
		    cfg->fleet->devices[dev].site].area], (unsigned)np);
		fwrite(line, 1, (size_t)n, part[p]);
		fwrite(line, 1, (size_t)n, all);
		count[p]++;
		alarms++;
	}
	printf("lines=%ld alarms=%ld ticks=%ld\n", alarms + ticks * np, alarms,
	    ticks);
	for (int p = 0; p < np; p++) {
		printf("part%d=%ld\n", p, count[p]);
		fclose(part[p]);
	}
	fclose(all);
	fclose(in);
	free(line);
	incjson_buf_fini(&b);
	config_free(cfg);
	config_errors_free(&errs);
	return 0;
}
