/*
 * filesink.c - see filesink.h.
 *
 * Rings.  Each producer owns one ring of line pointers: slot = index &
 * mask, indexes are free-running 64-bit counters.  The producer stores the
 * pointer, then publishes with a release store of tail; the loop thread
 * acquires tail, takes the pointers, and frees their slots with a release
 * store of head, which the producer acquires before it reuses a slot.  So
 * the bytes of a line, written on the producer's thread, are visible to
 * the writer before its pointer is, and no lock is taken anywhere (the
 * same discipline as correlator/corrshard.c, atomics through catomic.h).
 * tail and head sit on their own cache lines: each is written by one
 * thread only.
 *
 * Order: lines of one producer are written in the order it put them;
 * producers are interleaved ring by ring in each drain.  Correlator shards
 * own disjoint incidents, so per-incident order (by seq) is kept.
 *
 * The writer is plain stdio: one fputs() and putc('\n') per line into the
 * FILE's buffer, one fflush() per drain that wrote anything, so a reader
 * tailing the file sees whole batches, and a crash loses at most the batch
 * being written.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "correlator/catomic.h"
#include "correlator/cthread.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "drivers/file/filesink.h"

#define FS_LINE		CTHREAD_LINE
#define FS_SLOTS	4096	/* default ring size */
#define FS_WAIT_MS	5000	/* default put wait */
#define FS_LOG_EVERY	1000	/* log the first error, then every Nth */

#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

struct fs_ring {
	alignas(FS_LINE) _Atomic uint64_t tail;	/* published end (producer) */
	_Atomic uint64_t queued;	/* lines put (producer) */
	_Atomic uint64_t waits;		/* backoff rounds (producer) */
	_Atomic uint64_t dropped;	/* lines dropped (producer) */
	alignas(FS_LINE) _Atomic uint64_t head;	/* freed end (writer) */
	alignas(FS_LINE) char **slot;	/* ring_slots pointers */
	uint64_t	 mask;		/* ring_slots - 1 */
};

_Static_assert(sizeof(struct fs_ring) % FS_LINE == 0,
    "rings do not share cache lines");

struct fs {
	struct filesink	 base;		/* first: ops */
	struct ev_loop	*loop;
	ev_async	 wake;		/* producers: "lines queued" */
	FILE		*fp;		/* the file, or stdout */
	int		 own_fp;	/* 1: fclose() fp on free */
	char		*path;		/* for log lines; "-" for stdout */
	unsigned	 nproducers;
	int		 put_wait_ms;
	struct fs_ring	*rings;		/* nproducers, cache-line aligned */
	void		*rings_mem;	/* what to free */
	_Atomic uint64_t lines;		/* writer only; read anywhere */
	_Atomic uint64_t bytes;
	_Atomic uint64_t flushes;
	_Atomic uint64_t write_errors;
};

/* The writer counts an error and logs the first, then every Nth. */
static void
fs_error(struct fs *fs, const char *what, int err)
{
	uint64_t n = catomic_load_relaxed(&fs->write_errors) + 1;

	catomic_store_release(&fs->write_errors, n);
	if (n == 1 || n % FS_LOG_EVERY == 0)
		log_warnx("filesink %s failed path=%s err=\"%s\" write_errors=%llu",
		    what, fs->path, strerror(err), (unsigned long long)n);
}

static int
fs_put(struct filesink *s, unsigned producer, char *line)
{
	struct fs *fs = container_of(s, struct fs, base);
	struct fs_ring *r;
	uint64_t t;
	int64_t deadline = -1;
	unsigned round = 0;

	if (producer >= fs->nproducers) {
		free(line);
		log_warnx("filesink put from bad producer=%u dropped=1",
		    producer);
		return -EINVAL;
	}
	r = &fs->rings[producer];
	/* only this thread writes tail: its own value needs no ordering */
	t = catomic_load_relaxed(&r->tail);
	while (t - catomic_load_acquire(&r->head) > r->mask) {
		if (deadline < 0) {
			deadline = cthread_mono_ms() + fs->put_wait_ms;
		} else if (cthread_mono_ms() >= deadline) {
			uint64_t d = catomic_add_relaxed(&r->dropped, 1) + 1;

			free(line);
			log_warnx("filesink queue full producer=%u waited_ms=%d "
			    "dropped=%llu path=%s", producer, fs->put_wait_ms,
			    (unsigned long long)d, fs->path);
			return -ETIMEDOUT;
		}
		catomic_add_relaxed(&r->waits, 1);
		/* the writer may be asleep: make sure it knows */
		ev_async_send(fs->loop, &fs->wake);
		cthread_backoff(round++);
	}
	r->slot[t & r->mask] = line;
	catomic_store_release(&r->tail, t + 1);
	catomic_add_relaxed(&r->queued, 1);
	ev_async_send(fs->loop, &fs->wake);
	return 0;
}

/* Writes one line and its newline; counts an error. */
static void
fs_write(struct fs *fs, const char *line)
{
	size_t len = strlen(line);

	errno = 0;
	if (fwrite(line, 1, len, fs->fp) != len || putc('\n', fs->fp) == EOF) {
		fs_error(fs, "write", errno ? errno : EIO);
		clearerr(fs->fp);
		return;
	}
	catomic_store_release(&fs->lines, catomic_load_relaxed(&fs->lines) + 1);
	catomic_store_release(&fs->bytes,
	    catomic_load_relaxed(&fs->bytes) + len + 1);
}

static size_t
fs_drain(struct filesink *s)
{
	struct fs *fs = container_of(s, struct fs, base);
	size_t n = 0;

	for (unsigned p = 0; p < fs->nproducers; p++) {
		struct fs_ring *r = &fs->rings[p];
		uint64_t h = catomic_load_relaxed(&r->head);
		uint64_t t = catomic_load_acquire(&r->tail);

		if (h == t)
			continue;
		for (; h != t; h++) {
			char **slot = &r->slot[h & r->mask];

			fs_write(fs, *slot);
			free(*slot);
			*slot = NULL;
			n++;
		}
		catomic_store_release(&r->head, h);
	}
	if (n > 0) {
		errno = 0;
		if (fflush(fs->fp) != 0) {
			fs_error(fs, "flush", errno ? errno : EIO);
			clearerr(fs->fp);
		}
		catomic_store_release(&fs->flushes,
		    catomic_load_relaxed(&fs->flushes) + 1);
	}
	return n;
}

static uint64_t
fs_backlog(struct filesink *s)
{
	struct fs *fs = container_of(s, struct fs, base);
	uint64_t n = 0;

	for (unsigned p = 0; p < fs->nproducers; p++) {
		struct fs_ring *r = &fs->rings[p];
		/* head first: tail read after it is never behind it */
		uint64_t h = catomic_load_acquire(&r->head);

		n += catomic_load_acquire(&r->tail) - h;
	}
	return n;
}

static void
fs_counters(struct filesink *s, struct filesink_counters *out)
{
	struct fs *fs = container_of(s, struct fs, base);

	memset(out, 0, sizeof(*out));
	for (unsigned p = 0; p < fs->nproducers; p++) {
		out->queued += catomic_load_relaxed(&fs->rings[p].queued);
		out->waits += catomic_load_relaxed(&fs->rings[p].waits);
		out->dropped += catomic_load_relaxed(&fs->rings[p].dropped);
	}
	out->lines = catomic_load_acquire(&fs->lines);
	out->bytes = catomic_load_acquire(&fs->bytes);
	out->flushes = catomic_load_acquire(&fs->flushes);
	out->write_errors = catomic_load_acquire(&fs->write_errors);
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
	if (fs->own_fp && fclose(fs->fp) != 0)
		fs_error(fs, "close", errno);
	else if (!fs->own_fp && fflush(fs->fp) != 0)
		fs_error(fs, "flush", errno);
	for (unsigned p = 0; p < fs->nproducers; p++)
		xfree(fs->rings[p].slot);
	xfree(fs->rings_mem);
	xfree(fs->path);
	xfree(fs);
}

static const struct filesink_ops fs_ops = {
	.name = "file",
	.put = fs_put,
	.drain = fs_drain,
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
	FILE *fp;

	if (loop == NULL || out == NULL || cfg->nproducers < 1 ||
	    cfg->nproducers > FILESINK_MAX_PRODUCERS || slots < 4 ||
	    (slots & (slots - 1)) != 0 || cfg->put_wait_ms < 0)
		return -EINVAL;
	if (to_stdout)
		fp = stdout;
	else if ((fp = fopen(cfg->path, "a")) == NULL)
		return -errno;
	fs = xcalloc(1, sizeof(*fs));
	fs->base.ops = &fs_ops;
	fs->loop = loop;
	fs->fp = fp;
	fs->own_fp = !to_stdout;
	fs->path = xstrdup(to_stdout ? "-" : cfg->path);
	fs->nproducers = cfg->nproducers;
	fs->put_wait_ms = cfg->put_wait_ms ? cfg->put_wait_ms : FS_WAIT_MS;
	fs->rings = cthread_alloc_lines(cfg->nproducers, sizeof(*fs->rings),
	    &fs->rings_mem);
	for (unsigned i = 0; i < cfg->nproducers; i++) {
		struct fs_ring *r = &fs->rings[i];

		atomic_init(&r->tail, 0);
		atomic_init(&r->head, 0);
		atomic_init(&r->queued, 0);
		atomic_init(&r->waits, 0);
		atomic_init(&r->dropped, 0);
		r->slot = xcalloc(slots, sizeof(*r->slot));
		r->mask = slots - 1;
	}
	atomic_init(&fs->lines, 0);
	atomic_init(&fs->bytes, 0);
	atomic_init(&fs->flushes, 0);
	atomic_init(&fs->write_errors, 0);
	ev_async_init(&fs->wake, fs_wake_cb);
	ev_async_start(loop, &fs->wake);
	*out = &fs->base;
	return 0;
}
