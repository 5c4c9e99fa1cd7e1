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
 * wait counter, its `want` flag and its room bell sit on a cache line of
 * their own after its ring.  Every atomic goes through ring.h.
 *
 * Back-pressure.  A producer that finds its ring full raises `want`, looks
 * once more, wakes the writer and sleeps on its room bell; the writer,
 * after releasing that ring's slots, sees `want`, lowers it and rings.  So
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

#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/ring.h"
#include "drivers/file/filesink.h"

#define FS_SLOTS	4096	/* default ring size */
#define FS_STALL_LOG_MS	10000	/* default: a stalled producer logs this often */
#define FS_STALL_QUIET_MS 1000	/* a shorter wait is only counted */
#define FS_LOG_EVERY	1000	/* log the first error, then every Nth */

/* One producer: its ring to the writer, its wait state and counter. */
struct fs_producer {
	struct ring	 ring;		/* char * lines, malloc'd, owned */
	alignas(MEM_LINE) _Atomic uint64_t waits; /* sleeps on a full ring */
	_Atomic uint32_t want;		/* producer: tell me when there is room */
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
	FILE		*fp;		/* the file, or stdout */
	int		 own_fp;	/* 1: fclose() fp on free */
	char		*path;		/* for log lines; "-" for stdout */
	unsigned	 nproducers;
	int		 stall_log_ms;
	struct fs_producer *prod;	/* nproducers, cache-line aligned */
	_Atomic uint64_t lines;		/* writer only; read anywhere */
	_Atomic uint64_t bytes;
	_Atomic uint64_t flushes;
	_Atomic uint64_t write_errors;
};

/* The writer counts an error and logs the first, then every Nth. */
static void
fs_error(struct fs *fs, const char *what, int err)
{
	uint64_t n = ring_load_relaxed(&fs->write_errors) + 1;

	ring_store_release(&fs->write_errors, n);
	if (n == 1 || n % FS_LOG_EVERY == 0)
		log_warnx("filesink %s failed path=%s err=\"%s\" write_errors=%llu",
		    what, fs->path, strerror(err), (unsigned long long)n);
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
		uint32_t t;

		atomic_store_explicit(&pr->want, 1, memory_order_seq_cst);
		t = ring_bell_prepare(&pr->room);
		if ((slot = ring_reserve(&pr->ring)) != NULL) {
			ring_bell_cancel(&pr->room);
			break;
		}
		ring_add_relaxed(&pr->waits, 1);
		fs_stall_log(fs, pr, producer, 1);
		/* the writer may be asleep: make sure it knows */
		ev_async_send(fs->loop, &fs->wake);
		(void)ring_bell_wait(&pr->room, t, FS_STALL_QUIET_MS);
	}
	if (pr->stalled_at != 0)
		fs_stall_log(fs, pr, producer, 0);
	*slot = line;
	ring_commit(&pr->ring);
	ring_publish(&pr->ring);
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
	ring_store_release(&fs->lines, ring_load_relaxed(&fs->lines) + 1);
	ring_store_release(&fs->bytes,
	    ring_load_relaxed(&fs->bytes) + len + 1);
}

/* Writer: it freed slots of pr's ring; wake pr if it waits for them. */
static void
fs_room(struct fs_producer *pr)
{
	ring_fence();
	if (ring_load_relaxed(&pr->want) != 0 &&
	    atomic_exchange_explicit(&pr->want, 0, memory_order_acq_rel) != 0)
		ring_bell_ring(&pr->room);
}

static size_t
fs_drain(struct filesink *s)
{
	struct fs *fs = container_of(s, struct fs, base);
	size_t n = 0;

	for (unsigned p = 0; p < fs->nproducers; p++) {
		struct ring *r = &fs->prod[p].ring;
		/* each drain releases all it saw: this reads the tail anew */
		size_t k = ring_peek(r);

		for (size_t i = 0; i < k; i++) {
			char **slot = ring_slot(r, i);

			fs_write(fs, *slot);
			free(*slot);
			*slot = NULL;
		}
		if (k > 0) {
			ring_release(r, k);
			fs_room(&fs->prod[p]);
		}
		n += k;
	}
	if (n > 0) {
		errno = 0;
		if (fflush(fs->fp) != 0) {
			fs_error(fs, "flush", errno ? errno : EIO);
			clearerr(fs->fp);
		}
		ring_store_release(&fs->flushes,
		    ring_load_relaxed(&fs->flushes) + 1);
	}
	return n;
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
		ring_fini(&fs->prod[p].ring);
	xfree(fs->prod);
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
	    (slots & (slots - 1)) != 0 || cfg->stall_log_ms < 0)
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
