/*
 * filesink.c - see filesink.h.
 *
 * Rings.  Each producer owns one daemon/ring of line pointers (char *
 * slots).  The producer stores the pointer in place and publishes it
 * with the ring's release store of its tail; the loop thread reads every
 * published pointer, writes and frees the lines, and hands the slots back
 * with one release store of the head per ring and drain.  So the bytes of
 * a line, written on the producer's thread, are visible to the writer
 * before its pointer is, and no lock is taken anywhere.  A producer's
 * wait counter and its room bell sit on a cache line of their own after
 * its ring.  Every atomic goes through ring.h.
 *
 * Back-pressure.  A producer that finds its ring full wakes the writer and
 * waits on its room bell (ring_wait_room()); the writer rings it after
 * releasing that ring's slots, which costs a fence and a load when nobody
 * waits (the bell counts its waiters).  So
 * the producer (a correlator shard) is held back for as long as the writer
 * cannot keep up and loses nothing; its own rings then fill and the poll
 * thread folds alarm state (daemon/outbox.h).  The wait is counted, and
 * logged when it starts, every stall_log_ms while it lasts and when it
 * ends.
 *
 * Order: lines of one producer are written in the order it put them;
 * producers are interleaved ring by ring in each drain.  Correlator shards
 * own disjoint incidents, so per-incident order (by seq) is kept.
 *
 * The writer hands the lines to the kernel straight from the ring slots
 * with writev() (a line and its newline, up to FS_IOV/2 lines a call): no
 * copy, and a slot is released only once every byte of its line is
 * written.  So a write that fails (a full disk, EFBIG, EIO) loses nothing:
 * the lines stay in the ring, the writer stops for this drain and tries
 * again at the next (the producer's ev_async, the daemon's tick), the
 * rings fill, and the shards are held back as by a slow disk.  A short
 * write leaves the offset into its line, and the next drain starts by
 * finishing that line, so no line is ever torn or interleaved.  (stdio
 * cannot do this: after a failed fflush() it cannot say which bytes got
 * out.)  A crash loses at most what was not yet written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <ev.h>

#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/ring.h"
#include "drivers/file/filesink.h"

#define FS_SLOTS	4096	/* default ring size */
#define FS_STALL_LOG_MS	10000	/* default: a stalled producer logs this often */
#define FS_STALL_QUIET_MS 1000	/* a shorter wait is only counted */
#define FS_ERROR_LOG_MS	10000	/* a failing writer logs this often */
#define FS_IOV		256	/* iovecs a writev(): 128 lines */

/* One producer: its ring to the writer, its wait state and counter. */
struct fs_producer {
	struct ring	 ring;		/* char * lines, malloc'd, owned */
	alignas(MEM_LINE) _Atomic uint64_t waits; /* sleeps on a full ring */
	struct ring_bell room;		/* rung by the writer */
	int64_t		 stalled_at;	/* producer only: wait began (ms), or 0 */
	int64_t		 logged_at;	/* producer only: last stall line (ms) */
};

_Static_assert(sizeof(struct fs_producer) % MEM_LINE == 0,
    "producers do not share cache lines");

struct fs {
	struct filesink	 base;		/* first: ops */
	struct ev_loop	*loop;
	ev_async	 wake;		/* producers: "lines queued" */
	int		 fd;		/* the file, or 1 */
	int		 own_fd;	/* 1: close() fd on free */
	unsigned	 first;		/* ring to start the next drain at */
	size_t		 off;		/* bytes of ring `first`'s oldest line
					 * already written (a short write) */
	int64_t		 failing_at;	/* writer: errors since (ms), or 0 */
	int64_t		 error_logged;	/* writer: last error line (ms) */
	char		*path;		/* for log lines; "-" for stdout */
	unsigned	 nproducers;
	int		 stall_log_ms;
	struct fs_producer *prod;	/* nproducers, cache-line aligned */
	_Atomic uint64_t lines;		/* writer only; read anywhere */
	_Atomic uint64_t bytes;
	_Atomic uint64_t flushes;
	_Atomic uint64_t write_errors;
	_Atomic int	 abandoned;	/* 1: abandon() was called */
	_Atomic uint64_t nabandoned;	/* lines freed unwritten */
};

/*
 * The writer counts a failed write and logs the first of a run, then one
 * every FS_ERROR_LOG_MS while the writes keep failing; fs_ok() says when
 * they succeed again.
 */
static void
fs_error(struct fs *fs, const char *what, int err)
{
	uint64_t n = ring_load_relaxed(&fs->write_errors) + 1;
	int64_t now = ring_mono_ms();

	ring_store_release(&fs->write_errors, n);
	if (fs->failing_at == 0)
		fs->failing_at = now;
	if (fs->error_logged != 0 && now - fs->error_logged < FS_ERROR_LOG_MS)
		return;
	fs->error_logged = now;
	log_warnx("filesink %s failed path=%s err=\"%s\" write_errors=%llu "
	    "failing_ms=%lld (lines kept, retried; the shards wait)", what,
	    fs->path, strerror(err), (unsigned long long)n,
	    (long long)(now - fs->failing_at));
}

static void
fs_ok(struct fs *fs)
{
	if (fs->failing_at == 0)
		return;
	log_info("filesink writing again path=%s failed_ms=%lld "
	    "write_errors=%llu", fs->path,
	    (long long)(ring_mono_ms() - fs->failing_at),
	    (unsigned long long)ring_load_relaxed(&fs->write_errors));
	fs->failing_at = fs->error_logged = 0;
}

/*
 * Producer: its wait goes on, or ended.  A wait shorter than
 * FS_STALL_QUIET_MS is ordinary back-pressure, only counted; a longer one
 * is logged then, every stall_log_ms while it lasts, and when it ends.
 */
static void
fs_stall_log(struct fs *fs, struct fs_producer *pr, unsigned producer,
    int waiting)
{
	int64_t now = ring_mono_ms();

	if (!waiting) {
		if (pr->logged_at != 0)
			log_info("filesink output resumed producer=%u "
			    "stalled_ms=%lld path=%s", producer,
			    (long long)(now - pr->stalled_at), fs->path);
		pr->stalled_at = pr->logged_at = 0;
		return;
	}
	if (pr->stalled_at == 0)
		pr->stalled_at = now;
	if (now - pr->stalled_at < FS_STALL_QUIET_MS ||
	    (pr->logged_at != 0 && now - pr->logged_at < fs->stall_log_ms))
		return;
	pr->logged_at = now;
	log_warnx("filesink output stalled producer=%u stalled_ms=%lld "
	    "waits=%llu path=%s (holding the shard back)", producer,
	    (long long)(now - pr->stalled_at),
	    (unsigned long long)ring_load_relaxed(&pr->waits), fs->path);
}

static int
fs_put(struct filesink *s, unsigned producer, char *line)
{
	struct fs *fs = container_of(s, struct fs, base);
	struct fs_producer *pr;
	char **slot;

	if (producer >= fs->nproducers) {
		free(line);
		log_warnx("filesink put from bad producer=%u dropped=1",
		    producer);
		return -EINVAL;
	}
	pr = &fs->prod[producer];
	while ((slot = ring_reserve(&pr->ring)) == NULL) {
		if (ring_load_acquire(&fs->abandoned)) {
			free(line);
			ring_add_relaxed(&fs->nabandoned, 1);
			return 0;
		}
		ring_add_relaxed(&pr->waits, 1);
		fs_stall_log(fs, pr, producer, 1);
		/* the writer may be asleep: make sure it knows */
		ev_async_send(fs->loop, &fs->wake);
		(void)ring_wait_room(&pr->ring, &pr->room, FS_STALL_QUIET_MS);
	}
	if (pr->stalled_at != 0)
		fs_stall_log(fs, pr, producer, 0);
	*slot = line;
	ring_commit(&pr->ring);
	ring_publish(&pr->ring);
	ev_async_send(fs->loop, &fs->wake);
	return 0;
}

/*
 * Writes the k oldest lines of ring r, each with its newline, the first
 * from byte fs->off.  Returns how many were written whole (fs->off is
 * then the bytes of the next one already out); *err is 0, or the errno
 * of a write that failed (the rest stay for the next try).
 */
static size_t
fs_write(struct fs *fs, struct ring *r, size_t k, int *err)
{
	static char nl[] = "\n";
	struct iovec iov[FS_IOV];
	size_t len[FS_IOV / 2];
	size_t done = 0;

	*err = 0;
	while (done < k) {
		size_t n = 0, m = 0, left;
		ssize_t w;

		for (size_t i = done; i < k && m < FS_IOV / 2; i++, m++) {
			char *line = *(char **)ring_slot(r, i);
			size_t skip = i == done ? fs->off : 0;

			len[m] = strlen(line) + 1;	/* and its newline */
			if (skip < len[m] - 1) {
				iov[n].iov_base = line + skip;
				iov[n++].iov_len = len[m] - 1 - skip;
			}
			iov[n].iov_base = nl;
			iov[n++].iov_len = 1;
		}
		w = writev(fs->fd, iov, (int)n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			*err = w < 0 ? errno : EIO;
			break;
		}
		ring_store_release(&fs->bytes,
		    ring_load_relaxed(&fs->bytes) + (uint64_t)w);
		/* whole lines out, and how far into the next one */
		for (left = (size_t)w, m = 0; left > 0; m++) {
			size_t rest = len[m] - fs->off;

			if (left < rest) {
				fs->off += left;
				break;
			}
			left -= rest;
			fs->off = 0;
			done++;
		}
		/* a short write goes on from there: a full disk says so */
	}
	ring_store_release(&fs->lines, ring_load_relaxed(&fs->lines) + done);
	return done;
}

static size_t
fs_drain(struct filesink *s)
{
	struct fs *fs = container_of(s, struct fs, base);
	size_t n = 0;
	int err = 0;

	/* a line cut short by the last write is finished first */
	for (unsigned q = 0; q < fs->nproducers && err == 0; q++) {
		unsigned p = (fs->first + q) % fs->nproducers;
		struct ring *r = &fs->prod[p].ring;
		/* each drain releases all it wrote: this reads the tail anew */
		size_t k = ring_peek(r), w;

		if (k == 0)
			continue;
		w = fs_write(fs, r, k, &err);
		for (size_t i = 0; i < w; i++) {
			char **slot = ring_slot(r, i);

			free(*slot);
			*slot = NULL;
		}
		if (w > 0) {
			ring_release(r, w);
			ring_bell_ring(&fs->prod[p].room);
		}
		n += w;
		if (err != 0)
			fs->first = p;
	}
	if (err != 0)
		fs_error(fs, "write", err);
	else if (n > 0)
		fs_ok(fs);
	if (n > 0)
		ring_store_release(&fs->flushes,
		    ring_load_relaxed(&fs->flushes) + 1);
	return n;
}

static void
fs_abandon(struct filesink *s)
{
	struct fs *fs = container_of(s, struct fs, base);
	uint64_t n = 0;

	ring_store_release(&fs->abandoned, 1);
	for (unsigned p = 0; p < fs->nproducers; p++) {
		struct ring *r = &fs->prod[p].ring;
		size_t k = ring_peek(r);

		for (size_t i = 0; i < k; i++)
			free(*(char **)ring_slot(r, i));
		if (k > 0)
			ring_release(r, k);
		n += k;
		/* a producer asleep on a full ring wakes and sees the flag */
		ring_bell_ring(&fs->prod[p].room);
	}
	fs->off = 0;
	ring_add_relaxed(&fs->nabandoned, n);
	log_error("filesink abandoned lines=%llu path=%s write_errors=%llu "
	    "(stopping while writes fail: these events are lost)",
	    (unsigned long long)n, fs->path,
	    (unsigned long long)ring_load_relaxed(&fs->write_errors));
}

static uint64_t
fs_backlog(struct filesink *s)
{
	struct fs *fs = container_of(s, struct fs, base);
	uint64_t n = 0;

	for (unsigned p = 0; p < fs->nproducers; p++)
		n += ring_backlog(&fs->prod[p].ring);
	return n;
}

static void
fs_counters(struct filesink *s, struct filesink_counters *out)
{
	struct fs *fs = container_of(s, struct fs, base);

	memset(out, 0, sizeof(*out));
	for (unsigned p = 0; p < fs->nproducers; p++) {
		out->queued += ring_pushed(&fs->prod[p].ring);
		out->waits += ring_load_relaxed(&fs->prod[p].waits);
	}
	out->lines = ring_load_acquire(&fs->lines);
	out->bytes = ring_load_acquire(&fs->bytes);
	out->flushes = ring_load_acquire(&fs->flushes);
	out->write_errors = ring_load_acquire(&fs->write_errors);
	out->abandoned = ring_load_acquire(&fs->nabandoned);
}

static void
fs_wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct fs *fs = container_of(w, struct fs, wake);

	(void)loop;
	(void)revents;
	fs_drain(&fs->base);
}

static void
fs_free(struct filesink *s)
{
	struct fs *fs;

	if (s == NULL)
		return;
	fs = container_of(s, struct fs, base);
	fs_drain(s);
	ev_async_stop(fs->loop, &fs->wake);
	if (fs_backlog(s) > 0)
		log_error("filesink closing with lines=%llu never written "
		    "path=%s (writes failing)",
		    (unsigned long long)fs_backlog(s), fs->path);
	if (fs->own_fd && close(fs->fd) != 0)
		log_warn("filesink close path=%s", fs->path);
	for (unsigned p = 0; p < fs->nproducers; p++) {
		struct ring *r = &fs->prod[p].ring;
		size_t k;

		while ((k = ring_peek(r)) > 0) {
			for (size_t i = 0; i < k; i++)
				free(*(char **)ring_slot(r, i));
			ring_release(r, k);
		}
		ring_fini(r);
	}
	xfree(fs->prod);
	xfree(fs->path);
	xfree(fs);
}

static const struct filesink_ops fs_ops = {
	.name = "file",
	.put = fs_put,
	.drain = fs_drain,
	.abandon = fs_abandon,
	.backlog = fs_backlog,
	.counters = fs_counters,
	.free = fs_free,
};

int
filesink_new(struct ev_loop *loop, const struct filesink_config *cfg,
    struct filesink **out)
{
	unsigned slots = cfg->ring_slots ? cfg->ring_slots : FS_SLOTS;
	int to_stdout = cfg->path == NULL || strcmp(cfg->path, "-") == 0;
	struct fs *fs;
	int fd;

	if (loop == NULL || out == NULL || cfg->nproducers < 1 ||
	    cfg->nproducers > FILESINK_MAX_PRODUCERS || slots < 4 ||
	    (slots & (slots - 1)) != 0 || cfg->stall_log_ms < 0)
		return -EINVAL;
	if (to_stdout)
		fd = STDOUT_FILENO;
	else if ((fd = open(cfg->path, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC, 0666)) < 0)
		return -errno;
	fs = xcalloc(1, sizeof(*fs));
	fs->base.ops = &fs_ops;
	fs->loop = loop;
	fs->fd = fd;
	fs->own_fd = !to_stdout;
	fs->path = xstrdup(to_stdout ? "-" : cfg->path);
	fs->nproducers = cfg->nproducers;
	fs->stall_log_ms = cfg->stall_log_ms ? cfg->stall_log_ms :
	    FS_STALL_LOG_MS;
	/* zeroed counters are valid atomics: xcalloc and mem_calloc_lines */
	fs->prod = mem_calloc_lines(cfg->nproducers, sizeof(*fs->prod));
	for (unsigned i = 0; i < cfg->nproducers; i++)
		/* cannot fail: slots is a power of two >= 4 (checked above) */
		(void)ring_init(&fs->prod[i].ring, slots, sizeof(char *));
	ev_async_init(&fs->wake, fs_wake_cb);
	ev_async_start(loop, &fs->wake);
	*out = &fs->base;
	return 0;
}
