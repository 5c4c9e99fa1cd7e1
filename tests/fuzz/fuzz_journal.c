/*
 * fuzz_journal.c - libFuzzer target for what tocsind reads back from disk
 * at start: the input is a journal segment.  journal_open() must cut it at
 * the first record that is short or fails its checksum (never crash, never
 * read past the file), every record left must decode for the publishers
 * or be refused (store_pub_rec), and the restore tocsind runs
 * (store_open_all: the inputs replayed as journal_open() checks them) must
 * replay its inputs into an engine or skip them, whatever they hold.  Checksums make
 * random bytes fail early, so the target also re-frames the input: with a
 * first byte of 0xff the rest is taken as a list of (type, payload)
 * records that get valid headers, which is how the record decoders see
 * hostile payloads.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "correlator/corr.h"
#include "daemon/config.h"
#include "daemon/journal.h"
#include "daemon/log.h"
#include "daemon/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char yaml[] =
    "profiles:\n"
    "  rect:\n"
    "    points:\n"
    "      - {name: v, address: 30001}\n"
    "    alarms:\n"
    "      - {code: MAINS_FAIL, point: v, condition: below, threshold: 170,"
    " clear: 190, severity: critical}\n"
    "sites:\n"
    "  - {id: S1, area: north, region: A, tenants: [{customer: c1, tier: "
    "premium}]}\n"
    "  - {id: S2, area: north, region: B, tenants: [{customer: c2, tier: "
    "standard}]}\n"
    "devices:\n"
    "  - {id: S1-rect, site: S1, profile: rect, host: 127.0.0.1}\n"
    "  - {id: S2-rect, site: S2, profile: rect, host: 127.0.0.2}\n";

static struct config *cfg;
static char dir[64], shard[96], seg[160];

/* arg: the store's slot, filled by store_open_all before the replay */
static void
sink_event(void *arg, const struct corr_event *ev)
{
	store_event(*(struct store **)arg, ev);
}

static void
sink_rejected(void *arg, const struct corr_action *a, const char *why)
{
	store_rejected(*(struct store **)arg, a, why);
}

static const struct corr_sink_ops sink_ops = {
	.event = sink_event, .rejected = sink_rejected,
};

/* The scratch directory goes when the fuzzer exits. */
static void
cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)system(cmd);
}

static void
setup(void)
{
	struct config_errors errs = { 0 };

	log_init(2, LOG_LVL_ERROR);
	cfg = config_load_buffer("fuzz.yaml", yaml, sizeof(yaml) - 1, &errs);
	if (cfg == NULL)
		abort();
	strcpy(dir, "/tmp/tocsin-fuzz-journal-XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	atexit(cleanup);
	snprintf(shard, sizeof(shard), "%s/shard-0", dir);
	snprintf(seg, sizeof(seg), "%s/%016x.jnl", shard, 0);
}

/* Writes the segment: as given, or re-framed with valid headers. */
static void
write_segment(const uint8_t *data, size_t size)
{
	char cmd[256];
	FILE *fp;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", shard, shard);
	if (system(cmd) != 0)
		abort();
	if (size > 0 && data[0] == 0xff) {
		struct journal_config jc = { .dir = shard };
		struct journal_info info;
		struct journal *j;
		char err[128];
		size_t i = 1;

		if (journal_open(&j, &jc, &info, err, sizeof(err)) != 0)
			abort();
		/* [type][len lo][len hi][payload] ... */
		while (i + 3 <= size) {
			size_t n = (size_t)data[i + 1] | (size_t)data[i + 2] << 8;

			if (n > size - i - 3)
				n = size - i - 3;
			journal_append(j, data[i], data + i + 3, n);
			i += 3 + n;
		}
		(void)journal_flush(j, 0);
		journal_close(j);
		return;
	}
	if ((fp = fopen(seg, "w")) == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, fp) != size)
		abort();
	fclose(fp);
}

/* Reads every byte a decoded record points at (ASan sees a stray one). */
static void
touch(const struct pub_rec *pr)
{
	volatile unsigned sum = 0;

	if (pr->id != NULL)
		sum += (unsigned)strlen(pr->id);
	if (pr->site != NULL)
		sum += (unsigned)strlen(pr->site);
	if (pr->area != NULL)
		sum += (unsigned)strlen(pr->area);
	for (size_t i = 0; pr->json != NULL && i < pr->jsonlen; i++)
		sum += (unsigned char)pr->json[i];
	for (uint32_t k = 0; k < pr->nsteps; k++)
		for (uint32_t i = 0; i < pr->steps[k].len; i++)
			sum += (unsigned char)pr->json[pr->steps[k].off + i];
	(void)sum;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_config sc;
	struct store *st;
	struct corr_engine *e;
	struct corr_sink sink;
	struct journal_reader *rd;
	struct journal_rec rec;
	struct pub_rec pr;
	struct store_spans sp = { NULL, 0 };
	char err[256];

	if (cfg == NULL)
		setup();
	write_segment(data, size);
	memset(&sc, 0, sizeof(sc));
	sc.dir = shard;
	/* the restore, as tocsind runs it */
	sink.ops = &sink_ops;
	sink.arg = &st;
	e = corr_engine_new(cfg->fleet, &cfg->correlation, 0, &sink);
	if (store_open_all(&sc, 1, cfg->fleet, &e, 0, &st, err,
	    sizeof(err)) < 0 && st == NULL) {
		corr_engine_free(e);
		return 0;
	}
	corr_engine_free(e);
	/* the publishers' view of every record left, and those it wrote */
	rd = journal_reader_new(store_journal(st), 0);
	while (journal_read(rd, 0, &rec) == 1)
		if (store_pub_rec(&rec, 0, &pr, &sp) == 1)
			touch(&pr);
	free(sp.v);
	journal_reader_free(rd);
	store_close(st);
	return 0;
}
