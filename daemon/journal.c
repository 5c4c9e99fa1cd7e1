/*
 * journal.c - see journal.h.
 *
 * Why not a library: the records are a few lines of framing over write(2),
 * pread(2) and fdatasync(2); what matters is the discipline around them
 * (never publish an unsynced byte, cut a torn tail back to a whole record,
 * keep the buffer when the disk refuses), which no listed dependency
 * offers.  CRC-32C uses the SSE4.2 instruction (about 20 GB/s here, so a
 * checksum costs well under 1% of a record's encoding) with a table
 * fallback.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/journal.h"
#include "daemon/log.h"
#include "daemon/mem.h"

#define JOURNAL_SNAP_MAGIC	0x50534e54u	/* "TNSP" little-endian */
#define JOURNAL_READ_CHUNK	(1u << 20)	/* a reader's pread size */
#define JOURNAL_MAP_WINDOW	(16u << 20)	/* journal_open's mapping */

struct journal_seg {
	uint64_t	 base;		/* position of its first byte */
	uint64_t	 size;		/* bytes; the last one's grows */
};

struct journal {
	char		*dir;
	uint64_t	 segbytes;
	pthread_mutex_t	 mu;		/* segs, nsegs */
	struct journal_seg *segs;
	size_t		 nsegs, capsegs;
	int		 wfd;		/* the last segment, for writing */
	uint64_t	 written;	/* writer: end of what is in the file */
	_Atomic uint64_t durable;	/* end of what readers may see */
	_Atomic uint64_t snap;		/* latest snapshot's position */
	uint64_t	 chk_from, chk_to; /* records journal_open() checked */
	char		*buf;		/* records appended, not written */
	size_t		 bufn, bufcap;
	int		 lockfd;	/* dir/lock, flocked while open */
	int		 pid_unwritten;	/* lockfd opened read-only: the pid
					 * is written once the disk takes it */
	uint64_t	 cut_base;	/* a torn segment journal_ready() cuts */
	uint64_t	 cut_to;	/* to this length, or UINT64_MAX */
	int		 busy_said;	/* journal_flush() logged -EBUSY */
};

struct journal_reader {
	struct journal	*j;
	uint64_t	 pos;		/* next record */
	int		 fd;		/* segment open for reading, or -1 */
	uint64_t	 fdbase;	/* its base */
	uint64_t	 fdend;		/* the next segment's base, or
					 * UINT64_MAX (the last one) */
	const char	*at;		/* bytes [bufpos, bufpos + bufn): in
					 * buf, or map */
	size_t		 bufn;
	uint64_t	 bufpos;
	char		*buf;		/* pread's buffer */
	size_t		 cap;
	void		*map;		/* a window of the segment, or NULL */
	size_t		 maplen;
	int		 mapped;	/* read by mapping (journal_open) */
	int		 trust;		/* skip the CRC in [chk_from, chk_to) */
};

/* ---- CRC-32C ---- */

static uint32_t journal_crc_table[8][256];
static pthread_once_t journal_crc_once = PTHREAD_ONCE_INIT;
static int journal_crc_hw;

#if defined(__x86_64__)
static void journal_crc_shift_init(void);
#endif

static void
journal_crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
		journal_crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			journal_crc_table[t][i] =
			    (journal_crc_table[t - 1][i] >> 8) ^
			    journal_crc_table[0][journal_crc_table[t - 1][i] & 0xff];
#if defined(__x86_64__)
	__builtin_cpu_init();
	journal_crc_hw = __builtin_cpu_supports("sse4.2");
	journal_crc_shift_init();
#endif
}

#if defined(__x86_64__)
/*
 * Three lanes of JOURNAL_CRC_LANE bytes each, run side by side: crc32q has
 * a latency of 3 cycles and a throughput of 1, so one lane leaves two
 * thirds of the unit idle.  Lanes b and c start from 0; the state of a
 * lane followed by L more bytes is shift(state, L) ^ (that lane's CRC from
 * 0), where shift(x, L) (x carried over L zero bytes) is linear in x:
 * four table lookups (journal_crc_shift, made at init).
 */
#define JOURNAL_CRC_LANE	128

static uint32_t journal_crc_shift[4][256];

static uint32_t
journal_crc_zeros(uint32_t c, size_t n)
{
	while (n-- > 0)
		c = (c >> 8) ^ journal_crc_table[0][c & 0xff];
	return c;
}

static void
journal_crc_shift_init(void)
{
	for (int k = 0; k < 4; k++)
		for (uint32_t i = 0; i < 256; i++)
			journal_crc_shift[k][i] = journal_crc_zeros(i << (8 * k),
			    JOURNAL_CRC_LANE);
}

static inline uint64_t
journal_crc_shifted(uint64_t c)
{
	return journal_crc_shift[0][c & 0xff] ^
	    journal_crc_shift[1][(c >> 8) & 0xff] ^
	    journal_crc_shift[2][(c >> 16) & 0xff] ^
	    journal_crc_shift[3][(c >> 24) & 0xff];
}

__attribute__((target("sse4.2")))
static uint32_t
journal_crc_sse42(uint32_t crc, const unsigned char *p, size_t n)
{
	uint64_t c = crc;

	for (; n >= 3 * JOURNAL_CRC_LANE; p += 3 * JOURNAL_CRC_LANE,
	    n -= 3 * JOURNAL_CRC_LANE) {
		uint64_t b = 0, d = 0;

		for (size_t k = 0; k < JOURNAL_CRC_LANE; k += 8) {
			uint64_t w0, w1, w2;

			memcpy(&w0, p + k, 8);
			memcpy(&w1, p + JOURNAL_CRC_LANE + k, 8);
			memcpy(&w2, p + 2 * JOURNAL_CRC_LANE + k, 8);
			c = __builtin_ia32_crc32di(c, w0);
			b = __builtin_ia32_crc32di(b, w1);
			d = __builtin_ia32_crc32di(d, w2);
		}
		c = journal_crc_shifted(journal_crc_shifted(c) ^ b) ^ d;
	}
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
	}
	for (; n > 0; p++, n--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p);
	return (uint32_t)c;
}
#endif

uint32_t
journal_crc32c(uint32_t crc, const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t c = ~crc;

	pthread_once(&journal_crc_once, journal_crc_init);
#if defined(__x86_64__)
	if (journal_crc_hw)
		return ~journal_crc_sse42(c, s, n);
#endif
	for (; n >= 8; s += 8, n -= 8) {
		uint32_t lo, hi;

		memcpy(&lo, s, 4);
		memcpy(&hi, s + 4, 4);
		lo ^= c;
		c = journal_crc_table[7][lo & 0xff] ^
		    journal_crc_table[6][(lo >> 8) & 0xff] ^
		    journal_crc_table[5][(lo >> 16) & 0xff] ^
		    journal_crc_table[4][lo >> 24] ^
		    journal_crc_table[3][hi & 0xff] ^
		    journal_crc_table[2][(hi >> 8) & 0xff] ^
		    journal_crc_table[1][(hi >> 16) & 0xff] ^
		    journal_crc_table[0][hi >> 24];
	}
	for (; n > 0; s++, n--)
		c = (c >> 8) ^ journal_crc_table[0][(c ^ *s) & 0xff];
	return ~c;
}

/* The checksum of a record: its type byte, then its payload. */
static uint32_t
journal_rec_crc(uint8_t type, const void *p, size_t n)
{
	return journal_crc32c(journal_crc32c(0, &type, 1), p, n);
}

/* Fills a record header. */
static void
journal_hdr_put(unsigned char *h, uint8_t type, const void *p, size_t n)
{
	uint32_t len = (uint32_t)n, crc = journal_rec_crc(type, p, n);

	memcpy(h, &len, 4);
	memcpy(h + 4, &crc, 4);
	h[8] = type;
	h[9] = h[10] = h[11] = 0;
}

/*
 * Checks the record whose header is h and payload p (n bytes, as the
 * header says).  0 or -EBADMSG (a bad record, as journal_read says).
 */
static int
journal_hdr_check(const unsigned char *h, const void *p)
{
	uint32_t len, crc;

	memcpy(&len, h, 4);
	memcpy(&crc, h + 4, 4);
	if (h[9] != 0 || h[10] != 0 || h[11] != 0)
		return -EBADMSG;
	return journal_rec_crc(h[8], p, len) == crc ? 0 : -EBADMSG;
}

static uint32_t
journal_hdr_len(const unsigned char *h)
{
	uint32_t len;

	memcpy(&len, h, 4);
	return len;
}

/* ---- files ---- */

static void
journal_path(const struct journal *j, char *buf, size_t len, uint64_t pos,
    const char *ext)
{
	snprintf(buf, len, "%s/%016" PRIx64 ".%s", j->dir, pos, ext);
}

int
journal_refusal(int e)
{
	return e == EROFS || e == EACCES || e == EPERM || e == ENOSPC ||
	    e == EDQUOT || e == EFBIG;
}

static int
journal_open_seg(const struct journal *j, uint64_t base, int flags)
{
	char path[4096];

	journal_path(j, path, sizeof(path), base, "jnl");
	return open(path, flags | O_CLOEXEC, 0644);
}

/* Syncs the directory so a created, renamed or removed name survives. */
static int
journal_sync_dir(const struct journal *j)
{
	int fd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static void
journal_seg_add(struct journal *j, uint64_t base, uint64_t size)
{
	if (j->nsegs == j->capsegs) {
		j->capsegs = j->capsegs ? j->capsegs * 2 : 16;
		j->segs = xreallocarray(j->segs, j->capsegs, sizeof(*j->segs));
	}
	j->segs[j->nsegs].base = base;
	j->segs[j->nsegs].size = size;
	j->nsegs++;
}

static int
journal_seg_cmp(const void *a, const void *b)
{
	const struct journal_seg *x = a, *y = b;

	return x->base < y->base ? -1 : x->base > y->base;
}

/* Parses "<16 hex>.<ext>": 0 and *pos, or -1. */
static int
journal_name_pos(const char *name, const char *ext, uint64_t *pos)
{
	char *end;

	if (strlen(name) != 17 + strlen(ext) || name[16] != '.' ||
	    strcmp(name + 17, ext) != 0)
		return -1;
	errno = 0;
	*pos = strtoull(name, &end, 16);
	return end == name + 16 && errno == 0 ? 0 : -1;
}

/*
 * Reads a snapshot file's header: 0 with its position and payload size,
 * or -1 when it is not one of ours.
 */
static int
journal_snap_head(int fd, uint64_t *pos, uint64_t *n, uint32_t *crc)
{
	unsigned char h[24];
	uint32_t magic;

	if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return -1;
	memcpy(&magic, h, 4);
	memcpy(crc, h + 4, 4);
	memcpy(pos, h + 8, 8);
	memcpy(n, h + 16, 8);
	return magic == JOURNAL_SNAP_MAGIC ? 0 : -1;
}

/*
 * Removes segments from index i on (from the disk and the list).  Called
 * on open only.
 */
static void
journal_drop_from(struct journal *j, size_t i)
{
	char path[4096];

	while (j->nsegs > i) {
		j->nsegs--;
		journal_path(j, path, sizeof(path), j->segs[j->nsegs].base,
		    "jnl");
		(void)unlink(path);
	}
}

/*
 * A read error under a mapping is a SIGBUS, not an error code: while a
 * thread scans mapped records (journal_scan_recs), its handler jumps back
 * to the scan, which reports -EIO as a read error (the open fails, nothing
 * is cut).  Any other SIGBUS goes to the handler that was there before,
 * or kills the process as it would have.
 */
static __thread sigjmp_buf *journal_bus_jb;
static struct sigaction journal_bus_old;
static pthread_once_t journal_bus_once = PTHREAD_ONCE_INIT;

static void
journal_bus(int sig, siginfo_t *si, void *uc)
{
	sigjmp_buf *jb = journal_bus_jb;

	if (jb != NULL) {
		journal_bus_jb = NULL;
		siglongjmp(*jb, 1);
	}
	if (journal_bus_old.sa_flags & SA_SIGINFO)
		journal_bus_old.sa_sigaction(sig, si, uc);
	else if (journal_bus_old.sa_handler != SIG_DFL &&
	    journal_bus_old.sa_handler != SIG_IGN)
		journal_bus_old.sa_handler(sig);
	else	/* the access faults again, and the default kills */
		(void)signal(SIGBUS, SIG_DFL);
}

static void
journal_bus_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = journal_bus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGBUS, &sa, &journal_bus_old);
}

/*
 * fn(arg), with a SIGBUS on this thread meanwhile (a read the disk failed
 * under a mapping) turned into -EIO; else fn's answer.  Nests: a guarded
 * call inside another restores the outer guard when it returns.
 */
static int
journal_guarded(int (*fn)(void *), void *arg)
{
	sigjmp_buf jb, *prev = journal_bus_jb;
	int rc;

	(void)pthread_once(&journal_bus_once, journal_bus_init);
	if (sigsetjmp(jb, 1) == 0) {
		journal_bus_jb = &jb;
		rc = fn(arg);
	} else
		rc = -EIO;
	journal_bus_jb = prev;
	return rc;
}

/* The records of a reader up to end, each handed to checked(): the
 * reader's last answer (journal_guarded's fn). */
struct journal_scan {
	struct journal	*j;
	struct journal_reader *r;
	uint64_t	 end, snap;
	const struct journal_config *c;
};

static int
journal_scan_recs(void *arg)
{
	struct journal_scan *sc = arg;
	struct journal_rec rec;
	int rc;

	while ((rc = journal_read(sc->r, sc->end, &rec)) == 1)
		if (sc->c->checked != NULL && rec.pos >= sc->snap)
			sc->c->checked(sc->c->checked_arg, sc->j, &rec);
	return rc;
}

/*
 * Checks segment i's records from byte off of it on; returns the length of
 * its whole, valid records (== size when it is all good) and says why it
 * stopped in why.  *rerr: 0, or the -errno of a read that failed there
 * (the disk's error, not a bad record: nothing may be cut for it).
 */
static uint64_t
journal_scan_seg(struct journal *j, size_t i, uint64_t off, char *why,
    size_t whylen, const struct journal_config *c, uint64_t snap, int *rerr)
{
	struct journal_reader *r;
	uint64_t base = j->segs[i].base, end = base + j->segs[i].size;
	struct journal_scan sc;
	int rc;

	r = journal_reader_new(j, base + off);
	r->mapped = 1;
	sc = (struct journal_scan){ j, r, end, snap, c };
	rc = journal_guarded(journal_scan_recs, &sc);
	off = journal_reader_tell(r) - base;
	*rerr = rc < 0 && rc != -EBADMSG ? rc : 0;
	if (rc < 0)
		snprintf(why, whylen, "record at %" PRIu64 " of %016" PRIx64
		    ".jnl: %s", off, base, rc == -EBADMSG ?
		    "checksum or header does not match" : strerror(-rc));
	else if (base + off < end)
		snprintf(why, whylen, "record at %" PRIu64 " of %016" PRIx64
		    ".jnl: torn (%" PRIu64 " bytes left, not a whole record)",
		    off, base, end - base - off);
	journal_reader_free(r);
	return off;
}

static int
journal_load(struct journal *j, const struct journal_config *c,
    struct journal_info *info, char *err, size_t errlen)
{
	DIR *d;
	struct dirent *de;
	uint64_t pos, snap = 0, size;
	struct stat st;
	char path[4096];
	int fd, rerr;

	/* missing: the disk refused to make it (journal_open), so it holds
	 * nothing yet */
	if ((d = opendir(j->dir)) == NULL && errno != ENOENT) {
		snprintf(err, errlen, "journal %s: %s", j->dir, strerror(errno));
		return -errno;
	}
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (journal_name_pos(de->d_name, "jnl", &pos) == 0) {
			snprintf(path, sizeof(path), "%s/%s", j->dir, de->d_name);
			if (stat(path, &st) == 0)
				journal_seg_add(j, pos, (uint64_t)st.st_size);
		} else if (journal_name_pos(de->d_name, "snp", &pos) == 0 &&
		    pos >= snap) {
			uint64_t p2, n;
			uint32_t crc;

			snprintf(path, sizeof(path), "%s/%s", j->dir, de->d_name);
			if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
				continue;
			if (journal_snap_head(fd, &p2, &n, &crc) == 0 &&
			    p2 == pos && fstat(fd, &st) == 0 &&
			    (uint64_t)st.st_size == 24 + n)
				snap = pos;
			close(fd);
		}
	}
	if (d != NULL)
		closedir(d);
	if (j->nsegs > 1)
		qsort(j->segs, j->nsegs, sizeof(*j->segs), journal_seg_cmp);
	atomic_store(&j->snap, snap);

	/* Segments must follow each other without a gap. */
	for (size_t i = 1; i < j->nsegs; i++)
		if (j->segs[i].base != j->segs[i - 1].base + j->segs[i - 1].size) {
			snprintf(info->why, sizeof(info->why), "gap before "
			    "%016" PRIx64 ".jnl", j->segs[i].base);
			for (size_t k = i; k < j->nsegs; k++)
				info->cut += j->segs[k].size;
			journal_drop_from(j, i);
			break;
		}
	/* Check every record from the snapshot on; cut at the first bad one. */
	for (size_t i = 0; i < j->nsegs; i++) {
		struct journal_seg *s = &j->segs[i];
		uint64_t from = 0, good;

		if (s->base + s->size <= snap && i + 1 < j->nsegs)
			continue;
		if (snap > s->base && snap <= s->base + s->size)
			from = snap - s->base;
		good = journal_scan_seg(j, i, from, info->why,
		    sizeof(info->why), c, snap, &rerr);
		if (rerr != 0) {
			snprintf(err, errlen, "journal %s: reading %s (nothing "
			    "cut)", j->dir, info->why);
			return rerr;
		}
		if (good == s->size)
			continue;
		info->cut += s->size - good;
		for (size_t k = i + 1; k < j->nsegs; k++)
			info->cut += j->segs[k].size;
		journal_drop_from(j, i + 1);
		/* cut by journal_ready(), the first write; nothing reads
		 * past good meanwhile */
		j->cut_base = s->base;
		j->cut_to = good;
		s->size = good;
		break;
	}
	/* No segment, or all before the snapshot: begin one where we are. */
	pos = j->nsegs > 0 ? j->segs[j->nsegs - 1].base +
	    j->segs[j->nsegs - 1].size : 0;
	if (pos < snap) {
		journal_drop_from(j, 0);
		pos = snap;
	}
	if (j->nsegs == 0)
		journal_seg_add(j, pos, 0);
	size = j->segs[j->nsegs - 1].size;
	j->written = j->segs[j->nsegs - 1].base + size;
	atomic_store(&j->durable, j->written);
	info->start = j->segs[0].base;
	info->end = j->written;
	/* what the scan above checked: from the snapshot (or the first
	 * record) to the end, set once here and never changed */
	j->chk_from = snap > info->start ? snap : info->start;
	j->chk_to = j->written;
	info->snapshot = snap;
	return 0;
}

/* Writes the holder's pid into the lock file (for the message of a
 * second process): 0 or -errno. */
static int
journal_lock_pid(struct journal *j)
{
	char path[4096], pid[24];
	int fd = j->lockfd, n, rc = 0;

	if (j->pid_unwritten) {
		snprintf(path, sizeof(path), "%s/lock", j->dir);
		if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
			return -errno;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
		rc = errno ? -errno : -ENOSPC;
	/* another descriptor of the file: closing it keeps the flock,
	 * which belongs to lockfd's open file */
	if (fd != j->lockfd)
		close(fd);
	if (rc == 0)
		j->pid_unwritten = 0;
	return rc;
}

/*
 * Takes the directory's lock (an exclusive flock on dir/lock, released by
 * the kernel when the process ends, kill -9 included): two processes
 * appending to one journal would interleave their records, and one cutting
 * a tail the other has mapped would kill it.  The holder's pid is in the
 * file for the message.  On a disk that refuses writes an existing lock
 * file is opened read-only (a flock needs no write) and its pid written
 * later (journal_ready).  0, or -EBUSY (or -errno: the disk's refusal to
 * make the file, ENOENT without the directory) with the reason in err.
 */
static int
journal_lock(struct journal *j, char *err, size_t errlen)
{
	char path[4096], pid[24];
	ssize_t n;
	int fd, e;

	snprintf(path, sizeof(path), "%s/lock", j->dir);
	j->pid_unwritten = 0;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0 &&
	    journal_refusal(e = errno)) {
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			snprintf(err, errlen, "journal %s: %s: %s", j->dir,
			    path, strerror(e));
			return -e;
		}
		j->pid_unwritten = 1;
	}
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "journal %s: %s: %s", j->dir, path,
		    strerror(e));
		return -e;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		e = errno;
		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(fd);
		if (e == EWOULDBLOCK) {
			snprintf(err, errlen, "journal %s: in use by another "
			    "process (pid %s): one tocsind per state_dir",
			    j->dir, pid[0] ? pid : "unknown");
			return -EBUSY;
		}
		snprintf(err, errlen, "journal %s: lock: %s", j->dir,
		    strerror(e));
		return -e;
	}
	j->lockfd = fd;
	if (!j->pid_unwritten && (e = -journal_lock_pid(j)) != 0)
		log_warnx("journal %s: could not write the lock's pid: %s",
		    j->dir, strerror(e));
	return 0;
}

/*
 * Makes the journal writable, each step once: its directory, its lock
 * (and the lock's pid), the cut of a torn tail journal_load() found, the
 * last segment open for writing.  journal_open() ends with it, and
 * journal_flush() begins with it until it succeeds.  0, or -errno with
 * the reason in err (journal_refusal(): the disk still refuses; -EBUSY:
 * another process took the directory).
 */
static int
journal_ready(struct journal *j, char *err, size_t errlen)
{
	char path[4096];
	uint64_t base = j->segs[j->nsegs - 1].base;
	int rc;

	if (j->wfd >= 0)
		return 0;
	if (mkdir(j->dir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "journal %s: %s", j->dir, strerror(-rc));
		return rc;
	}
	if (j->lockfd < 0 && (rc = journal_lock(j, err, errlen)) < 0)
		return rc;
	if (j->pid_unwritten)
		(void)journal_lock_pid(j);	/* for a message only */
	if (j->cut_to != UINT64_MAX) {
		journal_path(j, path, sizeof(path), j->cut_base, "jnl");
		if (truncate(path, (off_t)j->cut_to) < 0 && errno != ENOENT) {
			rc = -errno;
			snprintf(err, errlen, "journal %s: cut torn tail: %s",
			    path, strerror(-rc));
			return rc;
		}
		j->cut_to = UINT64_MAX;
	}
	if ((j->wfd = journal_open_seg(j, base, O_WRONLY | O_CREAT)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "journal %s: %s", j->dir, strerror(-rc));
		return rc;
	}
	(void)journal_sync_dir(j);
	return 0;
}

int
journal_open(struct journal **jp, const struct journal_config *c,
    struct journal_info *info, char *err, size_t errlen)
{
	struct journal *j;
	int rc;

	memset(info, 0, sizeof(*info));
	if (mkdir(c->dir, 0755) < 0 && errno != EEXIST &&
	    !journal_refusal(errno)) {
		snprintf(err, errlen, "journal %s: %s", c->dir, strerror(errno));
		return -errno;
	}
	j = xcalloc(1, sizeof(*j));
	j->dir = xstrdup(c->dir);
	j->segbytes = c->segment_bytes ? c->segment_bytes : JOURNAL_SEGMENT;
	j->wfd = -1;
	j->lockfd = -1;
	j->cut_to = UINT64_MAX;
	pthread_mutex_init(&j->mu, NULL);
	/* the lock before the journal is read, unless the disk refuses to
	 * make it (or the directory): then journal_ready() takes it */
	if (((rc = journal_lock(j, err, errlen)) < 0 && rc != -ENOENT &&
	    !journal_refusal(-rc)) ||
	    (rc = journal_load(j, c, info, err, errlen)) < 0)
		goto fail;
	if ((rc = journal_ready(j, err, errlen)) < 0) {
		if (!journal_refusal(-rc))
			goto fail;
		info->refused = -rc;
	}
	*jp = j;
	return 0;
fail:
	journal_close(j);
	return rc;
}

void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	if (j->wfd >= 0)
		close(j->wfd);
	if (j->lockfd >= 0)
		close(j->lockfd);	/* and the lock with it */
	pthread_mutex_destroy(&j->mu);
	xfree(j->segs);
	xfree(j->buf);
	xfree(j->dir);
	xfree(j);
}

/* ---- writer ---- */

uint64_t
journal_tell(const struct journal *j)
{
	return j->written + j->bufn;
}

uint64_t
journal_append(struct journal *j, uint8_t type, const void *p, size_t n)
{
	uint64_t pos = journal_tell(j);
	size_t need = JOURNAL_HDR + n;

	if (j->bufcap - j->bufn < need) {
		size_t cap = j->bufcap ? j->bufcap : 1 << 16;

		while (cap - j->bufn < need)
			cap *= 2;
		j->buf = xrealloc(j->buf, cap);
		j->bufcap = cap;
	}
	journal_hdr_put((unsigned char *)j->buf + j->bufn, type, p, n);
	if (n > 0)
		memcpy(j->buf + j->bufn + JOURNAL_HDR, p, n);
	j->bufn += need;
	return pos;
}

void
journal_undo(struct journal *j, uint64_t pos)
{
	if (pos >= j->written && pos < journal_tell(j))
		j->bufn = (size_t)(pos - j->written);
}

size_t
journal_buffered(const struct journal *j)
{
	return j->bufn;
}

uint64_t
journal_written(const struct journal *j)
{
	return j->written;
}

/* Closes the segment being written (synced) and begins the next. */
static int
journal_roll(struct journal *j)
{
	int fd;

	if (fdatasync(j->wfd) < 0)
		return -errno;
	if ((fd = journal_open_seg(j, j->written, O_WRONLY | O_CREAT)) < 0)
		return -errno;
	close(j->wfd);
	j->wfd = fd;
	pthread_mutex_lock(&j->mu);
	journal_seg_add(j, j->written, 0);
	pthread_mutex_unlock(&j->mu);
	atomic_store_explicit(&j->durable, j->written, memory_order_release);
	(void)journal_sync_dir(j);
	return 0;
}

/*
 * How many bytes of the buffer from done on fit the segment that holds
 * `used` bytes: whole records only, at least one.
 */
static size_t
journal_fit(const struct journal *j, size_t done, uint64_t used)
{
	size_t k = done;

	do
		k += JOURNAL_HDR + journal_hdr_len((const unsigned char *)j->buf + k);
	while (k < j->bufn && used + (k - done) + JOURNAL_HDR +
	    journal_hdr_len((const unsigned char *)j->buf + k) <= j->segbytes);
	return k - done;
}

int
journal_flush(struct journal *j, int sync)
{
	struct journal_seg *last;
	size_t done = 0, chunk;
	uint64_t off;
	char err[512];
	int rc;

	if ((rc = journal_ready(j, err, sizeof(err))) < 0) {
		if (rc == -EBUSY && !j->busy_said) {
			j->busy_said = 1;
			log_warnx("%s", err);
		}
		return rc;
	}
	while (done < j->bufn) {
		off = j->written - j->segs[j->nsegs - 1].base;
		if (off >= j->segbytes) {
			if ((rc = journal_roll(j)) < 0)
				goto keep;
			off = 0;
		}
		chunk = journal_fit(j, done, off);
		for (size_t w = 0; w < chunk;) {
			ssize_t n = pwrite(j->wfd, j->buf + done + w, chunk - w,
			    (off_t)(off + w));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				rc = n < 0 ? -errno : -ENOSPC;
				/* back to the last whole record */
				(void)ftruncate(j->wfd, (off_t)off);
				goto keep;
			}
			w += (size_t)n;
		}
		done += chunk;
		j->written += chunk;
		pthread_mutex_lock(&j->mu);
		last = &j->segs[j->nsegs - 1];
		last->size = j->written - last->base;
		pthread_mutex_unlock(&j->mu);
	}
	j->bufn = 0;
	if (sync && atomic_load_explicit(&j->durable, memory_order_relaxed) !=
	    j->written) {
		if (fdatasync(j->wfd) < 0)
			return -errno;
		atomic_store_explicit(&j->durable, j->written,
		    memory_order_release);
	}
	return 0;
keep:
	/* what was written whole stays written; the rest is kept */
	memmove(j->buf, j->buf + done, j->bufn - done);
	j->bufn -= done;
	return rc;
}

int
journal_snapshot(struct journal *j, const void *p, size_t n)
{
	char tmp[4096], path[4096];
	unsigned char h[24];
	uint32_t magic = JOURNAL_SNAP_MAGIC, crc = journal_crc32c(0, p, n);
	uint64_t pos, len = n, old;
	int fd, rc;

	if ((rc = journal_flush(j, 1)) < 0)
		return rc;
	pos = j->written;
	memcpy(h, &magic, 4);
	memcpy(h + 4, &crc, 4);
	memcpy(h + 8, &pos, 8);
	memcpy(h + 16, &len, 8);
	snprintf(tmp, sizeof(tmp), "%s/snapshot.tmp", j->dir);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return -errno;
	if (write(fd, h, sizeof(h)) != (ssize_t)sizeof(h) ||
	    write(fd, p, n) != (ssize_t)n || fsync(fd) < 0) {
		rc = errno ? -errno : -ENOSPC;
		close(fd);
		(void)unlink(tmp);
		return rc;
	}
	close(fd);
	journal_path(j, path, sizeof(path), pos, "snp");
	if (rename(tmp, path) < 0) {
		rc = -errno;
		(void)unlink(tmp);
		return rc;
	}
	old = atomic_load(&j->snap);
	atomic_store(&j->snap, pos);
	(void)journal_sync_dir(j);
	if (old != pos && old != 0) {
		journal_path(j, path, sizeof(path), old, "snp");
		(void)unlink(path);
	}
	/* a new segment from here, so the old ones can be trimmed */
	if (j->written > j->segs[j->nsegs - 1].base)
		(void)journal_roll(j);
	return 0;
}

/* ---- any thread ---- */

uint64_t
journal_durable(const struct journal *j)
{
	return atomic_load_explicit(&j->durable, memory_order_acquire);
}

uint64_t
journal_snapshot_pos(const struct journal *j)
{
	return atomic_load(&j->snap);
}

/* What journal_snapshot_use() runs guarded: use, then the checksum. */
struct journal_snapuse {
	const char	*p;
	size_t		 n;
	uint32_t	 crc;
	int		(*use)(void *, const void *, size_t, char *, size_t);
	void		*arg;
	char		*err;
	size_t		 errlen;
	int		 bad;		/* out: the checksum did not match */
	int		 done;		/* out: both ran to their end */
};

static int
journal_snap_run(void *arg)
{
	struct journal_snapuse *u = arg;
	int rc;

	/* the payload is used first and checked after: decoding as the
	 * pages come in overlaps a cold read with the decode, and
	 * corr_engine_load() is fuzzed for bytes of any kind; a mismatch
	 * still fails it, whatever was loaded */
	rc = u->use(u->arg, u->p, u->n, u->err, u->errlen);
	u->bad = journal_crc32c(0, u->p, u->n) != u->crc;
	u->done = 1;
	return rc;
}

int
journal_snapshot_use(struct journal *j, int (*use)(void *arg, const void *p,
    size_t n, char *err, size_t errlen), void *arg, char *err, size_t errlen)
{
	char path[4096];
	uint64_t pos = atomic_load(&j->snap), hpos, len;
	struct journal_snapuse u;
	struct stat sb;
	void *m;
	int fd, rc;

	if (pos == 0)
		return -ENOENT;
	journal_path(j, path, sizeof(path), pos, "snp");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	memset(&u, 0, sizeof(u));
	if (journal_snap_head(fd, &hpos, &len, &u.crc) < 0 || hpos != pos ||
	    fstat(fd, &sb) != 0 || (uint64_t)sb.st_size < 24 ||
	    len > (uint64_t)sb.st_size - 24) {
		close(fd);
		snprintf(err, errlen, "%s: not a snapshot, or short", path);
		return -EIO;
	}
	m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		rc = -errno;
		snprintf(err, errlen, "%s: mmap: %s", path, strerror(-rc));
		return rc;
	}
	(void)madvise(m, (size_t)sb.st_size, MADV_SEQUENTIAL);
	u.p = (const char *)m + 24;
	u.n = (size_t)len;
	u.use = use;
	u.arg = arg;
	u.err = err;
	u.errlen = errlen;
	rc = journal_guarded(journal_snap_run, &u);
	(void)munmap(m, (size_t)sb.st_size);
	if (!u.done) {		/* SIGBUS: not use's answer */
		snprintf(err, errlen, "%s: a read the disk failed", path);
		return -EIO;
	}
	if (u.bad) {		/* whatever use made of it */
		snprintf(err, errlen, "%s: checksum does not match", path);
		return -EIO;
	}
	return rc;
}

uint64_t
journal_start(const struct journal *j)
{
	uint64_t s;

	pthread_mutex_lock((pthread_mutex_t *)&j->mu);
	s = j->segs[0].base;
	pthread_mutex_unlock((pthread_mutex_t *)&j->mu);
	return s;
}

uint64_t
journal_trim(struct journal *j, uint64_t keep)
{
	uint64_t snap = atomic_load(&j->snap), removed = 0;
	char path[4096];
	size_t k = 0;

	if (snap < keep)
		keep = snap;
	pthread_mutex_lock(&j->mu);
	while (k + 1 < j->nsegs && j->segs[k + 1].base <= keep) {
		journal_path(j, path, sizeof(path), j->segs[k].base, "jnl");
		if (unlink(path) < 0 && errno != ENOENT)
			break;
		removed += j->segs[k].size;
		k++;
	}
	if (k > 0) {
		memmove(j->segs, j->segs + k, (j->nsegs - k) * sizeof(*j->segs));
		j->nsegs -= k;
	}
	pthread_mutex_unlock(&j->mu);
	return removed;
}

uint64_t
journal_disk_bytes(const struct journal *j)
{
	uint64_t n = 0;

	pthread_mutex_lock((pthread_mutex_t *)&j->mu);
	for (size_t i = 0; i < j->nsegs; i++)
		n += j->segs[i].size;
	pthread_mutex_unlock((pthread_mutex_t *)&j->mu);
	return n;
}

int
journal_pos_get(struct journal *j, const char *name, uint64_t *pos)
{
	char path[4096], text[32];
	char *end;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s.pos", j->dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -ENOENT;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return -ENOENT;
	text[n] = '\0';
	errno = 0;
	*pos = strtoull(text, &end, 10);
	return end != text && errno == 0 ? 0 : -ENOENT;
}

int
journal_pos_put(struct journal *j, const char *name, uint64_t pos)
{
	char path[4096], tmp[4096], text[32];
	int fd, n, rc = 0;

	snprintf(path, sizeof(path), "%s/%s.pos", j->dir, name);
	snprintf(tmp, sizeof(tmp), "%s/%s.pos.tmp", j->dir, name);
	n = snprintf(text, sizeof(text), "%" PRIu64 "\n", pos);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return -errno;
	if (write(fd, text, (size_t)n) != n)
		rc = errno ? -errno : -ENOSPC;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		(void)unlink(tmp);
	return rc;
}

/* ---- readers ---- */

struct journal_reader *
journal_reader_new(struct journal *j, uint64_t pos)
{
	struct journal_reader *r = xcalloc(1, sizeof(*r));

	r->j = j;
	r->fd = -1;
	journal_reader_seek(r, pos);
	return r;
}

static void
journal_reader_unmap(struct journal_reader *r)
{
	if (r->map != NULL)
		(void)munmap(r->map, r->maplen);
	r->map = NULL;
	r->maplen = 0;
	r->bufn = 0;
}

void
journal_reader_free(struct journal_reader *r)
{
	if (r == NULL)
		return;
	journal_reader_unmap(r);
	if (r->fd >= 0)
		close(r->fd);
	xfree(r->buf);
	xfree(r);
}

void
journal_reader_seek(struct journal_reader *r, uint64_t pos)
{
	uint64_t start = journal_start(r->j);

	r->pos = pos < start ? start : pos;
}

uint64_t
journal_reader_tell(const struct journal_reader *r)
{
	return r->pos;
}

uint64_t
journal_checked(const struct journal *j)
{
	return j->chk_to;
}

void
journal_reader_trust_checked(struct journal_reader *r)
{
	r->trust = 1;
}

/*
 * The segment holding pos: sets *base and *end (end of its bytes now).
 * -ENOENT if pos is not in any.
 */
static int
journal_seg_of(struct journal *j, uint64_t pos, uint64_t *base,
    uint64_t *end)
{
	int rc = -ENOENT;

	pthread_mutex_lock(&j->mu);
	for (size_t i = j->nsegs; i-- > 0;)
		if (j->segs[i].base <= pos) {
			*base = j->segs[i].base;
			*end = i + 1 < j->nsegs ? j->segs[i + 1].base :
			    UINT64_MAX;
			if (i + 1 < j->nsegs && pos >= *end)
				break;
			rc = 0;
			break;
		}
	pthread_mutex_unlock(&j->mu);
	return rc;
}

/*
 * journal_fill() of a mapped reader: maps the window of the segment from
 * the page holding pos.  journal_open's scan reads every byte once, to
 * checksum it, and nothing writes the files yet; mapped, the kernel does
 * not first copy each byte into a buffer, which was 40% of the scan's
 * time (docs/benchmarks.md, "restart").  The window keeps what is mapped
 * at once (and counted in the RSS) bounded.  -1: pread instead.
 */
static int
journal_fill_map(struct journal_reader *r, uint64_t pos, size_t n,
    uint64_t lim)
{
	uint64_t off = pos - r->fdbase, a = off & ~(uint64_t)4095;
	size_t len = JOURNAL_MAP_WINDOW;
	void *m;

	if (off - a + n > len)
		len = (size_t)(off - a + n);
	if (lim - r->fdbase - a < len)
		len = (size_t)(lim - r->fdbase - a);
	journal_reader_unmap(r);
	m = mmap(NULL, len, PROT_READ, MAP_SHARED, r->fd, (off_t)a);
	if (m == MAP_FAILED)
		return -1;
	(void)madvise(m, len, MADV_SEQUENTIAL);
	r->map = m;
	r->maplen = len;
	r->at = m;
	r->bufpos = r->fdbase + a;
	r->bufn = len;
	return 0;
}

/* Makes [pos, pos + n) of the reader's segment buffered: 0 or -errno
 * (-ENODATA: the file is shorter). */
static int
journal_fill(struct journal_reader *r, uint64_t pos, size_t n, uint64_t lim)
{
	size_t want;
	ssize_t got;

	if (pos >= r->bufpos && pos + n <= r->bufpos + r->bufn)
		return 0;
	if (lim - pos < n)
		return -ENODATA;
	if (r->mapped && journal_fill_map(r, pos, n, lim) == 0)
		return 0;
	r->mapped = 0;
	want = n > JOURNAL_READ_CHUNK ? n : JOURNAL_READ_CHUNK;
	if (lim - pos < want)
		want = (size_t)(lim - pos);
	if (want < n)
		return -ENODATA;
	if (r->cap < want) {
		r->buf = xrealloc(r->buf, want);
		r->cap = want;
	}
	do
		got = pread(r->fd, r->buf, want, (off_t)(pos - r->fdbase));
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return -errno;
	r->at = r->buf;
	r->bufpos = pos;
	r->bufn = (size_t)got;
	return (size_t)got >= n ? 0 : -ENODATA;
}

/* -EBADMSG for the record at pos, and where reading may go on past it
 * (journal_read()'s answer). */
static int
journal_bad(struct journal_rec *rec, uint64_t pos, uint64_t next)
{
	memset(rec, 0, sizeof(*rec));
	rec->pos = pos;
	rec->next = next;
	return -EBADMSG;
}

int
journal_read(struct journal_reader *r, uint64_t limit,
    struct journal_rec *rec)
{
	const unsigned char *h;
	uint64_t base, end, lim, next;
	uint32_t len;
	int rc;

	if (limit == 0)
		limit = journal_durable(r->j);
	if (r->pos >= limit)
		return 0;
	/* journal_open()'s scan (mapped) has the journal to itself: no
	 * segment comes or goes under it, so the one it is in holds until
	 * its end without asking (a lock and unlock a record: 3% of it) */
	if (r->mapped && r->fd >= 0 && r->pos >= r->fdbase &&
	    r->pos < r->fdend) {
		base = r->fdbase;
		end = r->fdend;
	} else if (journal_seg_of(r->j, r->pos, &base, &end) < 0) {
		/* below the first segment (trimmed): from the first */
		r->pos = journal_start(r->j);
		if (journal_seg_of(r->j, r->pos, &base, &end) < 0 ||
		    r->pos >= limit)
			return 0;
	}
	if (r->fd < 0 || r->fdbase != base) {
		journal_reader_unmap(r);
		if (r->fd >= 0)
			close(r->fd);
		r->bufn = 0;
		if ((r->fd = journal_open_seg(r->j, base, O_RDONLY)) < 0)
			return -errno;
		r->fdbase = base;
	}
	r->fdend = end;
	lim = limit < end ? limit : end;
	if ((rc = journal_fill(r, r->pos, JOURNAL_HDR, lim)) < 0)
		return rc == -ENODATA ? 0 : rc;
	h = (const unsigned char *)r->at + (r->pos - r->bufpos);
	len = journal_hdr_len(h);
	if (len > JOURNAL_REC_MAX ||
	    (end != UINT64_MAX && len > end - r->pos - JOURNAL_HDR))
		/* a length no record has: on where the next segment begins */
		return journal_bad(rec, r->pos, end != UINT64_MAX ? end :
		    limit);
	if ((rc = journal_fill(r, r->pos, JOURNAL_HDR + (size_t)len, lim)) < 0)
		return rc == -ENODATA ? 0 : rc;
	h = (const unsigned char *)r->at + (r->pos - r->bufpos);
	next = r->pos + JOURNAL_HDR + len;
	if (r->trust && r->pos >= r->j->chk_from && next <= r->j->chk_to) {
		/* journal_open() checked it: its CRC once is enough */
		if (h[9] != 0 || h[10] != 0 || h[11] != 0)
			return journal_bad(rec, r->pos, next);
	} else if (journal_hdr_check(h, h + JOURNAL_HDR) < 0)
		return journal_bad(rec, r->pos, next);
	rec->pos = r->pos;
	rec->next = next;
	rec->type = h[8];
	rec->p = h + JOURNAL_HDR;
	rec->n = len;
	r->pos = rec->next;
	return 1;
}
