/*
 * replayfloor - the floor under `tocsind --replay`: the least work any
 * replay of a recorded day must do, and nothing else.
 *
 *   replayfloor DEVICES.csv ALARMS.jsonl
 *
 * Phases, each timed (wall, CPU) on its own:
 *   fleet   read the inventory CSV (id,site,...) into one string hash of
 *           device ids (FNV-1a, open addressing, ids in one arena)
 *   lines   read the day in 1 MiB blocks, split lines with memchr, find the
 *           "device" and "code" values by their key text, look the device
 *           up in the hash, the code in a small table, and the alarm key
 *           (device, code) in one u64map (the shards' own map), inserting
 *           it the first time; count
 * No JSON validation, no time parsing, no correlation, no output: what a
 * replay adds on top of this is the price of being a product (checking
 * every line, correlating, encoding events), and corrbench prints
 * `tocsind --replay` end to end as a ratio against this program's total,
 * run in the same invocation.  It prints one line of key=value pairs.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/pb_stats.h"
#include "correlator/u64map.h"
#include "daemon/mem.h"

#define FLOOR_BUFLEN	(1u << 20)
#define FLOOR_CODES	256	/* distinct alarm codes a day may hold */

/* Device ids: an open-addressing table of offsets into one arena. */
struct floor_ids {
	char	 *arena;	/* NUL-terminated ids back to back */
	size_t	  alen, acap;
	uint32_t *slots;	/* arena offset + 1; 0 = empty */
	size_t	  mask;
	size_t	  n;
};

static uint64_t
floor_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* The id's number (order of insertion), or -1; inserts it when add. */
static long
floor_find(struct floor_ids *t, const char *s, size_t n, int add)
{
	size_t i = floor_hash(s, n) & t->mask;

	for (; t->slots[i] != 0; i = (i + 1) & t->mask) {
		const char *id = t->arena + t->slots[i] - 1;

		if (strncmp(id, s, n) == 0 && id[n] == '\0')
			return (long)(t->slots[i] - 1);
	}
	if (!add)
		return -1;
	if (t->alen + n + 1 > t->acap) {
		t->acap = (t->acap + n + 1) * 2;
		t->arena = xrealloc(t->arena, t->acap);
	}
	memcpy(t->arena + t->alen, s, n);
	t->arena[t->alen + n] = '\0';
	t->slots[i] = (uint32_t)t->alen + 1;
	t->alen += n + 1;
	t->n++;
	return (long)(t->slots[i] - 1);
}

/* The value of "key":"..." in the line, or NULL. */
static const char *
floor_value(const char *line, size_t n, const char *key, size_t klen,
    size_t *vlen)
{
	const char *p = memmem(line, n, key, klen), *q;

	if (p == NULL)
		return NULL;
	p += klen;
	if ((q = memchr(p, '"', (size_t)(line + n - p))) == NULL)
		return NULL;
	*vlen = (size_t)(q - p);
	return p;
}

int
main(int argc, char **argv)
{
	struct floor_ids devs = { 0 }, codes = { 0 };
	struct u64map keys;
	char *buf, *csv = NULL;
	size_t cap = FLOOR_BUFLEN, len = 0, pos = 0, csvcap = 0;
	uint64_t lines = 0, found = 0, nokey = 0, newkeys = 0;
	double w0, c0, fleet_w, fleet_c, lines_w, lines_c;
	FILE *f;
	ssize_t r;
	int fd, eof = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: replayfloor DEVICES.csv ALARMS.jsonl\n");
		return 2;
	}
	w0 = pb_wall_s();
	c0 = pb_cpu_s(RUSAGE_SELF);
	if ((f = fopen(argv[1], "r")) == NULL) {
		perror(argv[1]);
		return 1;
	}
	devs.mask = (1u << 18) - 1;
	devs.slots = xcalloc(devs.mask + 1, sizeof(*devs.slots));
	codes.mask = FLOOR_CODES * 2 - 1;
	codes.slots = xcalloc(codes.mask + 1, sizeof(*codes.slots));
	while ((r = getline(&csv, &csvcap, f)) > 0) {
		const char *comma = memchr(csv, ',', (size_t)r);

		if (comma == NULL || strncmp(csv, "id,", 3) == 0)
			continue;
		if ((devs.n + 1) * 2 > devs.mask + 1) {
			fprintf(stderr, "replayfloor: more than %zu devices\n",
			    (devs.mask + 1) / 2);
			return 1;
		}
		floor_find(&devs, csv, (size_t)(comma - csv), 1);
	}
	fclose(f);
	free(csv);
	fleet_w = pb_wall_s() - w0;
	fleet_c = pb_cpu_s(RUSAGE_SELF) - c0;

	w0 = pb_wall_s();
	c0 = pb_cpu_s(RUSAGE_SELF);
	if ((fd = open(argv[2], O_RDONLY)) < 0) {
		perror(argv[2]);
		return 1;
	}
	u64map_init(&keys);
	buf = xmalloc(cap);
	for (;;) {
		const char *nl = memchr(buf + pos, '\n', len - pos);

		if (nl == NULL) {
			if (eof)
				break;
			memmove(buf, buf + pos, len - pos);
			len -= pos;
			pos = 0;
			if (len == cap)
				buf = xrealloc(buf, cap *= 2);
			if ((r = read(fd, buf + len, cap - len)) < 0) {
				perror(argv[2]);
				return 1;
			}
			eof = r == 0;
			len += (size_t)r;
			continue;
		}
		{
			const char *line = buf + pos, *d, *c;
			size_t n = (size_t)(nl - line), dn, cn;
			long dev, code;

			pos += n + 1;
			lines++;
			d = floor_value(line, n, "\"device\":\"", 10, &dn);
			c = floor_value(line, n, "\"code\":\"", 8, &cn);
			if (d == NULL || c == NULL ||
			    (dev = floor_find(&devs, d, dn, 0)) < 0) {
				nokey++;
				continue;
			}
			found++;
			if ((code = floor_find(&codes, c, cn, codes.n <
			    FLOOR_CODES)) < 0) {
				nokey++;
				continue;
			}
			{
				uint64_t key = (uint64_t)dev << 16 |
				    (uint64_t)code;

				if (u64map_get(&keys, key) == NULL) {
					u64map_put(&keys, key, &keys);
					newkeys++;
				}
			}
		}
	}
	close(fd);
	lines_w = pb_wall_s() - w0;
	lines_c = pb_cpu_s(RUSAGE_SELF) - c0;
	printf("replayfloor: devices=%zu lines=%" PRIu64 " found=%" PRIu64
	    " skipped=%" PRIu64 " keys=%" PRIu64 " codes=%zu fleet_s=%.3f "
	    "fleet_cpu_s=%.3f lines_s=%.3f lines_cpu_s=%.3f total_s=%.3f "
	    "total_cpu_s=%.3f peak_rss_kib=%ld\n", devs.n, lines, found, nokey,
	    newkeys, codes.n, fleet_w, fleet_c, lines_w, lines_c,
	    fleet_w + lines_w, fleet_c + lines_c, pb_maxrss_kib());
	u64map_fini(&keys);
	xfree(buf);
	xfree(devs.slots);
	xfree(devs.arena);
	xfree(codes.slots);
	xfree(codes.arena);
	return 0;
}
