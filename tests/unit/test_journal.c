/*
 * test_journal.c - the journal: records come back whole and in order across
 * segments, readers never see what is not synced, a torn or corrupt tail is
 * cut back to the last whole record on open, a disk that refuses keeps the
 * buffer and loses nothing (a read-only one at open too), snapshots and
 * trimming keep it bounded, and the checksum is CRC-32C.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/journal.h"
#include "tests/support/tenv.h"

static char dir[64];

static void
mkdir_tmp(void)
{
	strcpy(dir, "/tmp/tocsin-journal-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void
rm_tmp(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)system(cmd);
}

static struct journal *
open_j(uint64_t segbytes, struct journal_info *info)
{
	struct journal_config c = { .dir = dir, .segment_bytes = segbytes };
	struct journal *j = NULL;
	char err[256];

	cr_assert_eq(journal_open(&j, &c, info, err, sizeof(err)), 0, "%s", err);
	return j;
}

/* Appends record i: type i % 7, payload "rec <i>" repeated i % 50 times. */
static uint64_t
put(struct journal *j, int i)
{
	char p[1024];
	size_t n = 0;

	for (int k = 0; k <= i % 50; k++)
		n += (size_t)snprintf(p + n, sizeof(p) - n, "rec %d;", i);
	return journal_append(j, (uint8_t)(i % 7), p, n);
}

/* Writes s over the bytes of file path at off (a flipped byte). */
static void
poke(const char *path, off_t off, const char *s)
{
	int fd = open(path, O_RDWR);

	cr_assert_geq(fd, 0, "%s", path);
	cr_assert_eq(pwrite(fd, s, strlen(s), off), (ssize_t)strlen(s));
	close(fd);
}

/* Reads records from pos and checks they are first, first+1, ...: the count. */
static int
check_from(struct journal *j, uint64_t pos, int first)
{
	struct journal_reader *r = journal_reader_new(j, pos);
	struct journal_rec rec;
	int i = first, rc;

	while ((rc = journal_read(r, 0, &rec)) == 1) {
		char want[32];

		snprintf(want, sizeof(want), "rec %d;", i);
		cr_assert_eq(rec.type, i % 7);
		cr_assert(rec.n >= strlen(want) &&
		    memcmp(rec.p, want, strlen(want)) == 0,
		    "record %d: %.*s", i, (int)rec.n, (const char *)rec.p);
		i++;
	}
	cr_assert_eq(rc, 0);
	journal_reader_free(r);
	return i - first;
}

Test(journal, crc32c_known_value)
{
	/* RFC 3720 B.4: 32 bytes of zeros -> 0x8a9136aa */
	unsigned char z[32] = { 0 };

	cr_expect_eq(journal_crc32c(0, "123456789", 9), 0xe3069283u);
	cr_expect_eq(journal_crc32c(0, z, sizeof(z)), 0x8a9136aau);
	/* in pieces: the same */
	cr_expect_eq(journal_crc32c(journal_crc32c(0, "1234", 4), "56789", 5),
	    0xe3069283u);
}

/* Bit by bit, as the definition reads: the reference for every length. */
static uint32_t
crc32c_ref(const unsigned char *p, size_t n)
{
	uint32_t c = ~0u;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
	}
	return ~c;
}

/* Every length around the lane sizes, any alignment, whole or in pieces. */
Test(journal, crc32c_matches_reference_at_every_length)
{
	static unsigned char b[4096 + 8];
	uint32_t x = 12345;

	for (size_t i = 0; i < sizeof(b); i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (unsigned char)(x >> 16);
	}
	for (size_t n = 0; n <= 1600; n++) {
		size_t off = n % 8, half = n / 3;
		uint32_t want = crc32c_ref(b + off, n);

		cr_assert_eq(journal_crc32c(0, b + off, n), want, "n=%zu", n);
		cr_assert_eq(journal_crc32c(journal_crc32c(0, b + off, half),
		    b + off + half, n - half), want, "n=%zu in two", n);
	}
	cr_assert_eq(journal_crc32c(0, b, 4096), crc32c_ref(b, 4096));
}

Test(journal, records_round_trip_across_segments, .init = mkdir_tmp,
    .fini = rm_tmp)
{
	struct journal_info info;
	struct journal *j = open_j(4096, &info);

	cr_expect_eq(info.end, 0);
	for (int i = 0; i < 2000; i++) {
		put(j, i);
		if (i % 37 == 0)
			cr_assert_eq(journal_flush(j, i % 74 == 0), 0);
	}
	cr_assert_eq(journal_flush(j, 1), 0);
	cr_expect_eq(check_from(j, 0, 0), 2000);
	cr_expect_gt(journal_disk_bytes(j), 4096 * 10);
	journal_close(j);

	/* reopened: the same records, and appends go on after them */
	j = open_j(4096, &info);
	cr_expect_eq(info.cut, 0, "%s", info.why);
	for (int i = 2000; i < 2100; i++)
		put(j, i);
	cr_assert_eq(journal_flush(j, 1), 0);
	cr_expect_eq(check_from(j, 0, 0), 2100);
	journal_close(j);
}

Test(journal, readers_see_only_synced_records, .init = mkdir_tmp,
    .fini = rm_tmp)
{
	struct journal_info info;
	struct journal *j = open_j(0, &info);
	struct journal_reader *r = journal_reader_new(j, 0);
	struct journal_rec rec;
	uint64_t p1;

	put(j, 0);
	cr_expect_eq(journal_read(r, 0, &rec), 0, "buffered only");
	cr_assert_eq(journal_flush(j, 0), 0);
	cr_expect_eq(journal_read(r, 0, &rec), 0, "written, not synced");
	cr_assert_eq(journal_flush(j, 1), 0);
	cr_expect_eq(journal_read(r, 0, &rec), 1);
	p1 = put(j, 1);
	journal_undo(j, p1);
	cr_expect_eq(journal_buffered(j), 0, "undone before it was written");
	cr_assert_eq(journal_flush(j, 1), 0);
	cr_expect_eq(journal_read(r, 0, &rec), 0);
	journal_reader_free(r);
	journal_close(j);
}

/* Every way a crash can leave the tail: each cut back to whole records. */
Test(journal, torn_and_corrupt_tails_are_cut, .init = mkdir_tmp,
    .fini = rm_tmp)
{
	struct journal_info info;
	struct journal *j = open_j(0, &info);
	uint64_t pos[10], end;
	char path[128];
	int fd;

	for (int i = 0; i < 10; i++)
		pos[i] = put(j, i);
	cr_assert_eq(journal_flush(j, 1), 0);
	end = journal_written(j);
	journal_close(j);
	snprintf(path, sizeof(path), "%s/%016x.jnl", dir, 0);

	/* torn: the last record's last 3 bytes never made it */
	cr_assert_eq(truncate(path, (off_t)end - 3), 0);
	j = open_j(0, &info);
	cr_expect_eq(info.end, pos[9]);
	cr_expect_eq(info.cut, end - 3 - pos[9]);
	cr_expect(strstr(info.why, "torn") != NULL, "%s", info.why);
	cr_expect_eq(check_from(j, 0, 0), 9);
	/* appending after the cut works and reads back */
	put(j, 9);
	cr_assert_eq(journal_flush(j, 1), 0);
	cr_expect_eq(check_from(j, 0, 0), 10);
	journal_close(j);

	/* a flipped bit in record 6: records 0-5 stay */
	poke(path, (off_t)pos[6] + 20, "X");
	j = open_j(0, &info);
	cr_expect_eq(info.end, pos[6]);
	cr_expect(strstr(info.why, "checksum") != NULL, "%s", info.why);
	cr_expect_eq(check_from(j, 0, 0), 6);
	journal_close(j);

	/* garbage after the last record (a header promising 1 GiB) */
	fd = open(path, O_WRONLY | O_APPEND);
	cr_assert_eq(write(fd, "\xff\xff\xff\x3f\0\0\0\0\0\0\0\0abc", 15), 15);
	close(fd);
	j = open_j(0, &info);
	cr_expect_eq(info.end, pos[6]);
	cr_expect_eq(info.cut, 15);
	journal_close(j);
}

/* A disk that refuses (RLIMIT_FSIZE) keeps every record buffered. */
Test(journal, refused_writes_keep_the_buffer, .init = mkdir_tmp,
    .fini = rm_tmp)
{
	struct journal_info info;
	struct journal *j = open_j(0, &info);
	struct rlimit rl, small;

	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
	small = rl;
	small.rlim_cur = 1000;
	for (int i = 0; i < 100; i++)
		put(j, i);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
	cr_expect_lt(journal_flush(j, 1), 0);
	cr_expect_lt(journal_flush(j, 1), 0, "still refused");
	cr_expect_eq(journal_written(j), 0, "nothing half written counts");
	cr_expect_gt(journal_buffered(j), 1000);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	cr_expect_eq(journal_flush(j, 1), 0);
	cr_expect_eq(check_from(j, 0, 0), 100);
	journal_close(j);
	j = open_j(0, &info);
	cr_expect_eq(info.cut, 0, "the file ends on a whole record: %s",
	    info.why);
	cr_expect_eq(check_from(j, 0, 0), 100);
	journal_close(j);
}

/* journal_snapshot_use()'s use in these tests: *arg = 1 for "state";
 * "refuse" is refused with its own reason. */
static int
use_state(void *arg, const void *p, size_t n, char *err, size_t errlen)
{
	if (n == 6 && memcmp(p, "refuse", 6) == 0) {
		snprintf(err, errlen, "refused by use");
		return -EINVAL;
	}
	*(int *)arg = n == 5 && memcmp(p, "state", 5) == 0;
	return 0;
}

Test(journal, snapshot_then_trim_keeps_it_bounded, .init = mkdir_tmp,
    .fini = rm_tmp)
{
	struct journal_info info;
	struct journal *j = open_j(4096, &info);
	uint64_t snap, at500 = 0;
	int ok = 0;
	char err[256];

	for (int i = 0; i < 1000; i++) {
		uint64_t pos = put(j, i);

		if (i == 500)
			at500 = pos;
	}
	cr_assert_eq(journal_snapshot(j, "state", 5), 0);
	snap = journal_snapshot_pos(j);
	cr_expect_eq(snap, journal_written(j));
	for (int i = 1000; i < 1100; i++)
		put(j, i);
	cr_assert_eq(journal_flush(j, 1), 0);

	/* a sink still at record 500 keeps its segments */
	cr_expect_gt(journal_trim(j, at500), 0);
	cr_expect_leq(journal_start(j), at500);
	cr_expect_eq(check_from(j, at500, 500), 600);
	/* everyone past the snapshot: only what follows it stays */
	journal_trim(j, UINT64_MAX);
	cr_expect_eq(journal_start(j), snap);
	cr_expect_eq(check_from(j, 0, 1000), 100, "a reader below start "
	    "begins at the first segment");
	journal_close(j);

	j = open_j(4096, &info);
	cr_expect_eq(info.snapshot, snap);
	cr_expect_eq(info.start, snap);
	cr_assert_eq(journal_snapshot_use(j, use_state, &ok, err,
	    sizeof(err)), 0, "%s", err);
	cr_expect(ok, "the snapshot's bytes came to use");
	cr_expect_eq(check_from(j, 0, 1000), 100);
	journal_close(j);
}

/* What a checked() callback saw: the records' first numbers, in order. */
struct seen {
	int	 first[64];
	uint64_t pos[64];
	int	 n;
	int	 snap_ok;	/* journal_snapshot_use() worked inside it */
};

static void
seen_rec(void *arg, struct journal *j, const struct journal_rec *rec)
{
	struct seen *sn = arg;
	char err[128], head[16];
	size_t k = rec->n < sizeof(head) - 1 ? rec->n : sizeof(head) - 1;

	if (sn->n == 0 && journal_snapshot_use(j, use_state, &sn->snap_ok,
	    err, sizeof(err)) != 0)
		sn->snap_ok = 0;
	cr_assert_lt(sn->n, 64);
	memcpy(head, rec->p, k);	/* a payload is not NUL-terminated */
	head[k] = '\0';
	cr_assert_eq(sscanf(head, "rec %d;", &sn->first[sn->n]), 1);
	sn->pos[sn->n++] = rec->pos;
}

/*
 * checked() is handed exactly what open checks: the records from the
 * snapshot on, in order, none at or past a corrupt one (the restore reads
 * the journal once through it), with the snapshot readable meanwhile.
 */
Test(journal, checked_hands_over_the_records_after_the_snapshot,
    .init = mkdir_tmp, .fini = rm_tmp)
{
	struct journal_info info;
	struct journal *j = open_j(0, &info);
	struct journal_config c = { .dir = dir, .checked = seen_rec };
	struct seen sn;
	uint64_t pos[40], snap;
	char path[128], err[256];

	for (int i = 0; i < 20; i++)
		pos[i] = put(j, i);
	cr_assert_eq(journal_snapshot(j, "state", 5), 0);
	snap = journal_snapshot_pos(j);
	for (int i = 20; i < 40; i++)
		pos[i] = put(j, i);
	cr_assert_eq(journal_flush(j, 1), 0);
	journal_close(j);

	memset(&sn, 0, sizeof(sn));
	c.checked_arg = &sn;
	cr_assert_eq(journal_open(&j, &c, &info, err, sizeof(err)), 0, "%s",
	    err);
	cr_expect_eq(sn.n, 20);
	for (int k = 0; k < sn.n; k++) {
		cr_expect_eq(sn.first[k], 20 + k);
		cr_expect_eq(sn.pos[k], pos[20 + k]);
	}
	cr_expect(sn.snap_ok, "the snapshot reads inside checked()");
	journal_close(j);

	/* a flipped bit in record 35: 20-34 handed over, the rest cut */
	snprintf(path, sizeof(path), "%s/%016" PRIx64 ".jnl", dir, snap);
	poke(path, (off_t)(pos[35] - snap) + 20, "X");
	memset(&sn, 0, sizeof(sn));
	cr_assert_eq(journal_open(&j, &c, &info, err, sizeof(err)), 0, "%s",
	    err);
	cr_expect_eq(sn.n, 15);
	cr_expect_eq(sn.first[14], 34);
	cr_expect_eq(info.end, pos[35]);
	journal_close(j);
}

Test(journal, sink_positions_saved, .init = mkdir_tmp, .fini = rm_tmp)
{
	struct journal_info info;
	struct journal *j = open_j(0, &info);
	uint64_t pos;

	cr_expect_eq(journal_pos_get(j, "kafka", &pos), -ENOENT);
	cr_assert_eq(journal_pos_put(j, "kafka", 12345678901ull), 0);
	cr_assert_eq(journal_pos_put(j, "redis", 7), 0);
	cr_assert_eq(journal_pos_get(j, "kafka", &pos), 0);
	cr_expect_eq(pos, 12345678901ull);
	cr_assert_eq(journal_pos_get(j, "redis", &pos), 0);
	cr_expect_eq(pos, 7);
	journal_close(j);
}

/*
 * A reader that trusts journal_open()'s check (restore's) skips the CRC
 * only of what open checked; a record written after open is checked as
 * always, and the publishers' plain readers check everything.
 */
Test(journal, trusted_reader_skips_only_what_open_checked, .init = mkdir_tmp,
    .fini = rm_tmp)
{
	struct journal_info info;
	struct journal *j = open_j(0, &info);
	struct journal_reader *r;
	struct journal_rec rec;
	uint64_t pos[6];
	char path[128];
	int n;

	for (int i = 0; i < 3; i++)
		pos[i] = put(j, i);
	cr_assert_eq(journal_flush(j, 1), 0);
	journal_close(j);
	j = open_j(0, &info);
	cr_expect_eq(journal_checked(j), info.end);
	cr_expect_eq(info.end, journal_written(j));
	for (int i = 3; i < 6; i++)
		pos[i] = put(j, i);
	cr_assert_eq(journal_flush(j, 1), 0);
	cr_expect_eq(journal_checked(j), info.end, "appends do not move it");
	/* the trusted reader reads all six, whole and in order */
	r = journal_reader_new(j, 0);
	journal_reader_trust_checked(r);
	for (n = 0; journal_read(r, 0, &rec) == 1; n++)
		cr_expect_eq(rec.pos, pos[n]);
	cr_expect_eq(n, 6);
	journal_reader_free(r);

	/* a bit flipped after open, in record 4 (written after open) and in
	 * record 1 (checked at open) */
	snprintf(path, sizeof(path), "%s/%016x.jnl", dir, 0);
	poke(path, (off_t)pos[4] + 20, "X");
	poke(path, (off_t)pos[1] + 20, "X");
	/* trusted: record 1 not checked again, record 4 refused */
	r = journal_reader_new(j, 0);
	journal_reader_trust_checked(r);
	for (n = 0; journal_read(r, 0, &rec) == 1; n++)
		;
	cr_expect_eq(n, 4);
	cr_expect_eq(journal_read(r, 0, &rec), -EBADMSG);
	journal_reader_free(r);
	/* plain: record 1 refused */
	r = journal_reader_new(j, 0);
	cr_expect_eq(journal_read(r, 0, &rec), 1);
	cr_expect_eq(journal_read(r, 0, &rec), -EBADMSG);
	journal_reader_free(r);
	journal_close(j);
}

/* Record i of the big-record test: BIG_N bytes, every byte from i. */
#define BIG_N	700001u

static void
big_fill(unsigned char *p, int i)
{
	for (size_t k = 0; k < BIG_N; k++)
		p[k] = (unsigned char)(i * 31 + k * 7);
}

struct big_seen {
	int		 n;
	int		 bad;		/* records whose bytes differ */
	unsigned char	*want;
};

static void
big_rec(void *arg, struct journal *j, const struct journal_rec *rec)
{
	struct big_seen *bs = arg;

	(void)j;
	big_fill(bs->want, bs->n);
	if (rec->n != BIG_N || rec->type != 3 ||
	    memcmp(rec->p, bs->want, BIG_N) != 0)
		bs->bad++;
	bs->n++;
}

/* A 1 GiB-segment journal of 60 big records (42 MB: three windows). */
static void
big_journal(unsigned char *p, uint64_t pos[60])
{
	struct journal_info info;
	struct journal *j = open_j(1ull << 30, &info);

	for (int i = 0; i < 60; i++) {
		big_fill(p, i);
		pos[i] = journal_append(j, 3, p, BIG_N);
		if (i % 8 == 7)
			cr_assert_eq(journal_flush(j, 0), 0);
	}
	cr_assert_eq(journal_flush(j, 1), 0);
	journal_close(j);
}

/*
 * Open reads a segment through windows it maps (16 MiB each): records that
 * straddle a window's edge come back whole, and a corrupt record past the
 * first windows is still found and cut there.
 */
Test(journal, open_reads_records_across_its_mapped_windows,
    .init = mkdir_tmp, .fini = rm_tmp)
{
	struct journal_info info;
	struct journal *j;
	struct journal_config c = { .dir = dir, .segment_bytes = 1ull << 30,
	    .checked = big_rec };
	struct big_seen bs = { 0, 0, malloc(BIG_N) };
	unsigned char *p = malloc(BIG_N);
	uint64_t pos[60];
	char path[128], err[256];

	cr_assert_not_null(p);
	cr_assert_not_null(bs.want);
	big_journal(p, pos);

	c.checked_arg = &bs;
	cr_assert_eq(journal_open(&j, &c, &info, err, sizeof(err)), 0, "%s",
	    err);
	cr_expect_eq(bs.n, 60);
	cr_expect_eq(bs.bad, 0);
	cr_expect_eq(info.cut, 0);
	journal_close(j);

	/* a flipped byte in record 50 (past 32 MiB): 0-49 stay */
	snprintf(path, sizeof(path), "%s/%016x.jnl", dir, 0);
	poke(path, (off_t)pos[50] + 4000, "X");
	bs.n = bs.bad = 0;
	cr_assert_eq(journal_open(&j, &c, &info, err, sizeof(err)), 0, "%s",
	    err);
	cr_expect_eq(bs.n, 50);
	cr_expect_eq(bs.bad, 0);
	cr_expect_eq(info.end, pos[50]);
	cr_expect(strstr(info.why, "checksum") != NULL, "%s", info.why);
	journal_close(j);
	free(bs.want);
	free(p);
}

/*
 * One process per journal: a second open of an open journal is refused
 * with the holder's pid (here from another process, as a second tocsind
 * would be), and succeeds once the first is closed or its process gone.
 */
Test(journal, a_journal_open_elsewhere_is_refused, .init = mkdir_tmp,
    .fini = rm_tmp)
{
	struct journal_info info;
	struct journal_config c = { .dir = dir };
	struct journal *j = open_j(0, &info), *j2 = NULL;
	char err[512], want[64];
	int st;
	pid_t pid;

	put(j, 1);
	cr_assert_eq(journal_flush(j, 1), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* the child's journal_open: refused, naming the parent */
		struct journal *jc = NULL;

		if (journal_open(&jc, &c, &info, err, sizeof(err)) != -EBUSY)
			_exit(1);
		snprintf(want, sizeof(want), "in use by another process "
		    "(pid %ld)", (long)getppid());
		_exit(strstr(err, want) != NULL ? 0 : 2);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "the second open was not refused with the holder's pid (%d)",
	    WEXITSTATUS(st));
	/* in this process too: a second handle would interleave records */
	cr_expect_eq(journal_open(&j2, &c, &info, err, sizeof(err)), -EBUSY);
	journal_close(j);
	cr_assert_eq(journal_open(&j2, &c, &info, err, sizeof(err)), 0, "%s",
	    err);
	cr_expect_eq(check_from(j2, 0, 1), 1);
	journal_close(j2);
}

/* big_rec, and at the 10th record the file loses its end (from cut on). */
struct bus_seen {
	struct big_seen	 bs;
	char		 path[128];
	off_t		 cut;
};

static void
bus_rec(void *arg, struct journal *j, const struct journal_rec *rec)
{
	struct bus_seen *b = arg;

	big_rec(&b->bs, j, rec);
	if (b->bs.n == 10)
		cr_assert_eq(truncate(b->path, b->cut), 0);
}

/*
 * A read the disk fails is not a bad record: open stops with the error
 * and cuts nothing.  Provoked here as the kernel reports it under a
 * mapping (SIGBUS: the segment loses its end while open reads it), which
 * must be an error for the open, not the death of the process.
 */
Test(journal, a_failed_read_fails_the_open_and_cuts_nothing,
    .init = mkdir_tmp, .fini = rm_tmp)
{
	struct journal_info info;
	struct journal *j;
	struct journal_config c = { .dir = dir, .segment_bytes = 1ull << 30,
	    .checked = bus_rec };
	struct bus_seen b;
	unsigned char *p = malloc(BIG_N);
	uint64_t pos[60];
	char err[512];
	struct stat st;

	cr_assert_not_null(p);
	big_journal(p, pos);

	memset(&b, 0, sizeof(b));
	b.bs.want = p;
	snprintf(b.path, sizeof(b.path), "%s/%016x.jnl", dir, 0);
	/* page-aligned, inside record 30: its payload runs into pages past
	 * the new end, in the second 16 MiB window */
	b.cut = (off_t)((pos[30] + 200000) & ~(uint64_t)4095);
	c.checked_arg = &b;
	j = NULL;
	cr_assert_eq(journal_open(&j, &c, &info, err, sizeof(err)), -EIO,
	    "%s", err);
	cr_expect_null(j);
	cr_expect(strstr(err, "reading record at") != NULL &&
	    strstr(err, "nothing cut") != NULL, "%s", err);
	cr_expect_eq(b.bs.n, 30, "the records before the failed read");
	cr_expect_eq(b.bs.bad, 0);
	cr_assert_eq(stat(b.path, &st), 0);
	cr_expect_eq(st.st_size, b.cut, "the open cut nothing");

	/* and the process lives on: opened again, the short file's end is a
	 * torn record like any other */
	c.checked = NULL;
	cr_assert_eq(journal_open(&j, &c, &info, err, sizeof(err)), 0, "%s",
	    err);
	cr_expect_eq(info.end, pos[30]);
	cr_expect(strstr(info.why, "torn") != NULL, "%s", info.why);
	journal_close(j);
	free(p);
}

/*
 * A snapshot is used first and checked after (a cold read overlaps the
 * decode): a flipped byte fails it with the checksum's reason even though
 * use took it, and use's own refusal comes back as use said it.
 */
Test(journal, a_snapshot_is_checked_after_use, .init = mkdir_tmp,
    .fini = rm_tmp)
{
	struct journal_info info;
	struct journal *j = open_j(0, &info);
	char path[128], err[256];
	int ok = 0;

	put(j, 1);
	cr_assert_eq(journal_snapshot(j, "state", 5), 0);
	snprintf(path, sizeof(path), "%s/%016" PRIx64 ".snp", dir,
	    journal_snapshot_pos(j));
	poke(path, 24, "S");	/* "State" */
	err[0] = '\0';
	cr_expect_eq(journal_snapshot_use(j, use_state, &ok, err,
	    sizeof(err)), -EIO);
	cr_expect(strstr(err, "checksum does not match") != NULL, "%s", err);

	cr_assert_eq(journal_snapshot(j, "refuse", 6), 0);
	cr_expect_eq(journal_snapshot_use(j, use_state, &ok, err,
	    sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "refused by use");
	journal_close(j);
}

/*
 * Mounts a tmpfs of its own on dir in a mount namespace of this test's
 * process (root only: the test skips without), so that the disk can be
 * made read-only and writable again under a journal.
 */
static void
private_tmpfs(void)
{
	if (unshare(CLONE_NEWNS) != 0)
		cr_skip_test("no mount namespace (%s): needs root",
		    strerror(errno));
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0,
	    "%s", strerror(errno));
	cr_assert_eq(mount("tmpfs", dir, "tmpfs", 0, "size=16m"), 0, "%s",
	    strerror(errno));
}

static void
umount_rm_tmp(void)
{
	(void)umount2(dir, MNT_DETACH);
	rm_tmp();
}

static void
set_ro(int ro)
{
	cr_assert_eq(mount("tmpfs", dir, "tmpfs", MS_REMOUNT |
	    (ro ? MS_RDONLY : 0), "size=16m"), 0, "%s", strerror(errno));
}

/*
 * A read-only disk at open: what is there is read, torn tail and all; the
 * journal opens, says why it cannot write, keeps what is appended, and
 * once the disk takes writes it cuts the tail, takes the lock's pid and
 * writes everything, as a disk that refuses later would.  A directory the
 * disk refused to make opens empty and is made then.
 */
Test(journal, a_read_only_disk_opens_and_writes_once_writable,
    .init = mkdir_tmp, .fini = umount_rm_tmp)
{
	struct journal_config c = { .dir = NULL };
	struct journal_info info;
	struct journal *j;
	char sub[128], fresh[128], path[160], err[256], *text;
	uint64_t pos[10], end;

	private_tmpfs();
	snprintf(sub, sizeof(sub), "%s/shard-0", dir);
	snprintf(fresh, sizeof(fresh), "%s/shard-1", dir);
	c.dir = sub;
	cr_assert_eq(journal_open(&j, &c, &info, err, sizeof(err)), 0, "%s",
	    err);
	for (int i = 0; i < 10; i++)
		pos[i] = put(j, i);
	cr_assert_eq(journal_flush(j, 1), 0);
	end = journal_written(j);
	journal_close(j);
	snprintf(path, sizeof(path), "%s/%016x.jnl", sub, 0);
	cr_assert_eq(truncate(path, (off_t)end - 3), 0, "torn");

	set_ro(1);
	cr_assert_eq(journal_open(&j, &c, &info, err, sizeof(err)), 0, "%s",
	    err);
	cr_expect_eq(info.refused, EROFS);
	cr_expect_eq(info.end, pos[9]);
	cr_expect_eq(info.cut, end - 3 - pos[9], "what will be cut");
	cr_expect_eq(check_from(j, 0, 0), 9, "read from the read-only disk");
	put(j, 9);
	cr_expect_eq(journal_flush(j, 1), -EROFS);
	cr_expect_eq(journal_flush(j, 1), -EROFS, "still refused");
	cr_expect_eq(journal_snapshot(j, "state", 5), -EROFS);
	cr_expect_gt(journal_buffered(j), 0, "the record is kept");
	cr_expect_eq(journal_written(j), pos[9]);

	set_ro(0);
	cr_assert_eq(journal_flush(j, 1), 0);
	cr_expect_eq(journal_buffered(j), 0);
	cr_expect_eq(check_from(j, 0, 0), 10);
	snprintf(path, sizeof(path), "%s/lock", sub);
	text = tenv_read_file(path);
	cr_assert(text[0] != '\0', "%s: not there, or empty", path);
	cr_expect_eq(atol(text), (long)getpid(), "the lock's pid: %s", text);
	free(text);
	journal_close(j);
	cr_assert_eq(journal_open(&j, &c, &info, err, sizeof(err)), 0, "%s",
	    err);
	cr_expect_eq(info.refused, 0);
	cr_expect_eq(info.cut, 0, "cut before the write: %s", info.why);
	cr_expect_eq(check_from(j, 0, 0), 10);
	journal_close(j);

	/* a journal the read-only disk would not let be made */
	set_ro(1);
	c.dir = fresh;
	cr_assert_eq(journal_open(&j, &c, &info, err, sizeof(err)), 0, "%s",
	    err);
	cr_expect_eq(info.refused, EROFS);
	cr_expect_eq(info.end, 0);
	put(j, 0);
	cr_expect_eq(journal_flush(j, 1), -EROFS);
	set_ro(0);
	cr_assert_eq(journal_flush(j, 1), 0);
	journal_close(j);
	cr_assert_eq(journal_open(&j, &c, &info, err, sizeof(err)), 0, "%s",
	    err);
	cr_expect_eq(info.refused, 0);
	cr_expect_eq(check_from(j, 0, 0), 1);
	journal_close(j);
}
