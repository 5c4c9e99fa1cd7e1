/*
 * filesink.c - see filesink.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>

#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/mkdirs.h"
#include "daemon/utc.h"
#include "drivers/file/filesink.h"

struct filesink {
	struct pub_sink	 base;		/* first: the ops table */
	struct ev_loop	*loop;
	struct pub_host	 host;
	char		*path;		/* NULL: stdout */
	char		*prefix;	/* closed_monthly: path's prefix */
	int		 month;		/* closed_monthly: y * 12 + m - 1 of the
					 * open file, or -1 */
	unsigned	 keep_months;	/* closed_monthly: months kept before it */
	int		 fd;
	uint64_t	 size;		/* of the file, for rotation */
	uint64_t	 rotate;
	unsigned	 keep;
	char		*buf;		/* lines not yet written */
	size_t		 n, off;	/* bytes in buf, bytes of it written */
	uint32_t	 nlines;	/* whole lines in buf */
	/* done positions per shard, reported when buf is written */
	uint64_t	 pend[FILESINK_MAX_SHARDS];
	uint64_t	 pend_mask;	/* shards with a pending position */
	int		 full;		/* offer() said -EAGAIN */
	uint8_t		 sync_on;	/* filesink_config.sync */
	uint8_t		 unsynced;	/* written since the last fdatasync */
	uint8_t		 sync_failed;	/* the last fdatasync failed */
	double		 err_logged;	/* ev_now of the last error line */
	ev_prepare	 flush;		/* write before the loop waits */
	ev_timer	 retry;		/* after a failed write */
	struct filesink_counters c;
};

static int filesink_sync(struct pub_sink *ps);

static void
filesink_rotate(struct filesink *s)
{
	char from[4096], to[4096];
	int fd;

	/* path.keep goes; path.i -> path.(i + 1); path -> path.1 */
	snprintf(to, sizeof(to), "%s.%u", s->path, s->keep);
	(void)unlink(to);
	for (unsigned i = s->keep - 1; i >= 1; i--) {
		snprintf(from, sizeof(from), "%s.%u", s->path, i);
		snprintf(to, sizeof(to), "%s.%u", s->path, i + 1);
		(void)rename(from, to);
	}
	snprintf(to, sizeof(to), "%s.1", s->path);
	if (rename(s->path, to) < 0)
		return;
	fd = open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_warn("filesink rotate %s", s->path);
		(void)rename(to, s->path);
		return;
	}
	(void)filesink_sync(&s->base);	/* its lines, before it is closed */
	close(s->fd);
	s->fd = fd;
	s->size = 0;
	s->c.rotations++;
}

/* Reports done every record whose line is written. */
static void
filesink_report(struct filesink *s)
{
	uint64_t m = s->pend_mask;

	s->pend_mask = 0;
	while (m != 0) {
		unsigned sh = (unsigned)__builtin_ctzll(m);

		m &= m - 1;
		s->host.done(s->host.arg, sh, s->pend[sh]);
	}
}

/* Writes the buffer: 0 when all of it is out, -errno otherwise. */
static int
filesink_write(struct filesink *s)
{
	while (s->off < s->n) {
		ssize_t w = write(s->fd, s->buf + s->off, s->n - s->off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? errno : ENOSPC;
			double now = ev_now(s->loop);

			s->c.write_errors++;
			if (s->err_logged == 0 ||
			    now - s->err_logged >= FILESINK_LOG_S) {
				s->err_logged = now;
				log_warnx("filesink write failed path=%s: %s; "
				    "%zu bytes kept, retried every %.0f s",
				    s->path ? s->path : "-", strerror(e),
				    s->n - s->off, FILESINK_RETRY_S);
			}
			return -e;
		}
		s->off += (size_t)w;
		s->unsynced = 1;
		s->size += (uint64_t)w;
		s->c.bytes += (uint64_t)w;
		s->c.writes++;
	}
	if (s->err_logged != 0) {
		log_info("filesink writing again path=%s", s->path ? s->path :
		    "-");
		s->err_logged = 0;
	}
	s->c.lines += s->nlines;
	s->n = s->off = 0;
	s->nlines = 0;
	filesink_report(s);
	if (s->full) {
		s->full = 0;
		s->host.ready(s->host.arg);
	}
	return 0;
}

static void
filesink_flush_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct filesink *s = w->data;

	ev_prepare_stop(loop, w);
	if (filesink_write(s) < 0)
		ev_timer_start(loop, &s->retry);
}

static void
filesink_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct filesink *s = w->data;

	if (filesink_write(s) == 0) {
		ev_timer_stop(loop, w);
		if (s->full) {
			s->full = 0;
			s->host.ready(s->host.arg);
		}
	}
}

static int filesink_write(struct filesink *s);
static uint64_t filesink_cut_torn(int fd, uint64_t size);

/*
 * The month files' directory (prefix up to its last '/': "." without
 * one, "/" for one at the root) into dir; returns the files' base name.
 */
static const char *
filesink_month_dir(const char *prefix, char *dir, size_t dirlen)
{
	const char *slash = strrchr(prefix, '/');

	if (slash == NULL) {
		snprintf(dir, dirlen, ".");
		return prefix;
	}
	snprintf(dir, dirlen, "%.*s", slash > prefix ? (int)(slash - prefix) :
	    1, prefix);
	return slash + 1;
}

/*
 * Removes prefix-YYYY-MM.jsonl of every month before `before`: the
 * history's retention (keep_months).  Names that are not such a file
 * (another prefix, another suffix, a month out of range) are not touched.
 */
static void
filesink_month_trim(const char *prefix, int before)
{
	char dir[4096], path[4096 + 256];
	const char *base = filesink_month_dir(prefix, dir, sizeof(dir));
	size_t blen = strlen(base);
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		int y, m, end = 0;

		/* base-YYYY-MM.jsonl exactly */
		if (strncmp(n, base, blen) != 0 || strlen(n) != blen + 14 ||
		    sscanf(n + blen, "-%4d-%2d.jsonl%n", &y, &m, &end) != 2 ||
		    end != 14 || m < 1 || m > 12 || y * 12 + m - 1 >= before)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, n);
		if (unlink(path) == 0)
			log_info("history: removed %s (daemon.history_months "
			    "keeps the months after it)", path);
		else if (errno != ENOENT)
			log_warnx("history: cannot remove %s: %s", path,
			    strerror(errno));
	}
	closedir(d);
}

int
filesink_month_open(const char *prefix, int month, unsigned keep_months,
    char *path, size_t pathlen, uint64_t *cut)
{
	char dir[4096];
	struct stat st;
	int fd;

	*cut = 0;
	snprintf(path, pathlen, "%s-%04d-%02d.jsonl", prefix, month / 12,
	    month % 12 + 1);
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 && errno == ENOENT && strchr(prefix, '/') != NULL) {
		/* its directory, when the disk refused it at start */
		(void)filesink_month_dir(prefix, dir, sizeof(dir));
		if (mkdirs(dir) == 0)
			fd = open(path, O_RDWR | O_APPEND | O_CREAT |
			    O_CLOEXEC, 0644);
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (*cut = filesink_cut_torn(fd, (uint64_t)st.st_size)) > 0)
		log_warnx("history %s: cut a torn last line (%llu bytes) left "
		    "by a crash; it is written again whole", path,
		    (unsigned long long)*cut);
	if (keep_months > 0)
		filesink_month_trim(prefix, month - (int)keep_months);
	return fd;
}

/*
 * closed_monthly: makes the open file the one of the month of `at`,
 * writing out what is buffered for the previous one first.  0, or -errno.
 */
static int
filesink_month(struct filesink *s, int64_t at)
{
	char path[4096];
	uint64_t cut;
	int month = utc_month(at), fd;

	if (month == s->month)
		return 0;
	if (s->n > 0 && filesink_write(s) < 0)
		return -EAGAIN;
	if ((fd = filesink_month_open(s->prefix, month, s->keep_months, path,
	    sizeof(path), &cut)) < 0) {
		log_warnx("filesink history %s: %s", path, strerror(-fd));
		return fd;
	}
	s->c.torn_cut += cut;
	if (s->fd >= 0) {
		(void)filesink_sync(&s->base);	/* logged there */
		close(s->fd);
	}
	s->fd = fd;
	s->month = month;
	xfree(s->path);
	s->path = xstrdup(path);
	return 0;
}

static int
filesink_offer(struct pub_sink *ps, const struct pub_rec *r)
{
	struct filesink *s = (struct filesink *)ps;
	size_t need = r->kind == PUB_EVENT ? r->jsonlen + 1 : 0;

	if (r->shard >= FILESINK_MAX_SHARDS)
		return -EINVAL;
	if (s->prefix != NULL) {
		if (r->kind != PUB_EVENT || r->live)
			need = 0;
		else if (filesink_month(s, r->at) < 0) {
			s->full = 1;
			if (!ev_is_active(&s->retry))
				ev_timer_start(s->loop, &s->retry);
			return -EAGAIN;
		}
	}
	if (need > 0) {
		if (s->n > 0 && (s->n + need > FILESINK_BUFFER || s->off > 0)) {
			s->full = 1;
			return -EAGAIN;
		}
		if (s->rotate > 0 && s->path != NULL && s->n == 0 &&
		    s->size > 0 && s->size + need > s->rotate)
			filesink_rotate(s);
		if (need > FILESINK_BUFFER && s->n == 0)
			s->buf = xrealloc(s->buf, need);
		memcpy(s->buf + s->n, r->json, r->jsonlen);
		s->buf[s->n + r->jsonlen] = '\n';
		s->n += need;
		s->nlines++;
		if (!ev_is_active(&s->retry))
			ev_prepare_start(s->loop, &s->flush);
	}
	s->pend[r->shard] = r->pos;
	s->pend_mask |= 1ull << r->shard;
	if (s->n == 0)
		filesink_report(s);
	return 0;
}

static int
filesink_healthy(const struct pub_sink *ps)
{
	const struct filesink *s = (const struct filesink *)ps;

	return s->err_logged == 0 && !s->sync_failed;
}

static int
filesink_sync(struct pub_sink *ps)
{
	struct filesink *s = (struct filesink *)ps;

	if (!s->sync_on || s->fd < 0 || !s->unsynced)
		return 0;
	if (fdatasync(s->fd) < 0) {
		int e = errno;

		s->c.sync_errors++;
		if (!s->sync_failed)
			log_warnx("filesink fdatasync %s: %s", s->path ?
			    s->path : "-", strerror(e));
		s->sync_failed = 1;
		return -e;
	}
	s->unsynced = 0;
	s->sync_failed = 0;
	s->c.syncs++;
	return 0;
}

static void
filesink_close(struct pub_sink *ps, int timeout_ms)
{
	struct filesink *s = (struct filesink *)ps;

	if (s == NULL)
		return;
	(void)filesink_write(s);
	ev_prepare_stop(s->loop, &s->flush);
	ev_timer_stop(s->loop, &s->retry);
	if (s->path != NULL && s->fd >= 0)
		close(s->fd);
	xfree(s->path);
	xfree(s->prefix);
	xfree(s->buf);
	xfree(s);
}

static const struct pub_ops filesink_ops = {
	.name = "file",
	.offer = filesink_offer,
	.healthy = filesink_healthy,
	.close = filesink_close,
	.sync = filesink_sync,
};

/* A regular file that does not end in a newline: cut the torn line. */
static uint64_t
filesink_cut_torn(int fd, uint64_t size)
{
	char b[4096];
	uint64_t end = size;

	while (end > 0) {
		size_t k = end < sizeof(b) ? (size_t)end : sizeof(b);
		ssize_t got = pread(fd, b, k, (off_t)(end - k));

		if (got != (ssize_t)k)
			return 0;
		for (size_t i = k; i-- > 0;)
			if (b[i] == '\n') {
				uint64_t keep = end - k + i + 1;

				if (keep == size || ftruncate(fd, (off_t)keep) < 0)
					return 0;
				return size - keep;
			}
		end -= k;
	}
	return ftruncate(fd, 0) == 0 ? size : 0;
}

int
filesink_new(struct ev_loop *loop, const struct filesink_config *c,
    const struct pub_host *host, struct pub_sink **out, char *err,
    size_t errlen)
{
	struct filesink *s;
	struct stat st;
	int fd = STDOUT_FILENO;

	if (c->closed_monthly) {
		if (c->path == NULL || *c->path == '\0') {
			snprintf(err, errlen, "history: no path prefix");
			return -EINVAL;
		}
		s = xcalloc(1, sizeof(*s));
		s->base.ops = &filesink_ops;
		s->loop = loop;
		s->host = *host;
		s->fd = -1;
		s->month = -1;
		s->prefix = xstrdup(c->path);
		s->keep_months = c->keep_months;
		s->buf = xmalloc(FILESINK_BUFFER);
		s->sync_on = c->sync;
		goto watchers;
	}
	if (c->path != NULL && *c->path != '\0' && strcmp(c->path, "-") != 0) {
		fd = open(c->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC,
		    0644);
		if (fd < 0) {
			int e = errno;

			snprintf(err, errlen, "output file %s: %s", c->path,
			    strerror(e));
			return -e;
		}
	}
	s = xcalloc(1, sizeof(*s));
	s->base.ops = &filesink_ops;
	s->loop = loop;
	s->host = *host;
	s->fd = fd;
	s->keep = c->keep ? c->keep : 5;
	s->buf = xmalloc(FILESINK_BUFFER);
	s->sync_on = c->sync && fd != STDOUT_FILENO;
	if (fd != STDOUT_FILENO) {
		s->path = xstrdup(c->path);
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
			s->size = (uint64_t)st.st_size;
			s->rotate = c->rotate_bytes;
			if (s->size > 0)
				s->c.torn_cut = filesink_cut_torn(fd, s->size);
			if (s->c.torn_cut > 0) {
				s->size -= s->c.torn_cut;
				log_warnx("filesink %s: cut a torn last line "
				    "(%llu bytes) left by a crash; it is "
				    "written again whole", s->path,
				    (unsigned long long)s->c.torn_cut);
			}
		}
	}
watchers:
	ev_prepare_init(&s->flush, filesink_flush_cb);
	s->flush.data = s;
	ev_timer_init(&s->retry, filesink_retry_cb, FILESINK_RETRY_S,
	    FILESINK_RETRY_S);
	s->retry.data = s;
	*out = &s->base;
	return 0;
}

void
filesink_counters(const struct pub_sink *ps, struct filesink_counters *out)
{
	*out = ((const struct filesink *)ps)->c;
}
