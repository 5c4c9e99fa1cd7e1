/*
 * chist.c - see chist.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "daemon/chist.h"
#include "daemon/clock.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/mkdirs.h"
#include "daemon/utc.h"
#include "drivers/file/filesink.h"

struct chist {
	const struct chist_config *cfg;
	rd_kafka_t	*cons;
	pthread_t	 thr;
	atomic_int	 stop;
	int		 lockfd;
	char		 prefix[4096];	/* dir/closed */
	/* the batch: closed lines of one month not yet written */
	char		*buf;
	size_t		 n, cap, nlines;
	int		 month;		/* of buf's lines; -1: none */
	size_t		 nrec;		/* records taken since the commit */
	size_t		 bytes;		/* closed lines' bytes since then */
	rd_kafka_topic_partition_list_t *offs;	/* next offsets */
	/* the month file open, and whether it has unsynced writes */
	int		 fd, fdmonth, dirty;
	char		 path[4200];
	pthread_mutex_t	 slock;
	struct chist_stats st;
	struct log_rl	 rl_bad, rl_err;
};

#define CHIST_ADD(h, field, v) do {					\
	pthread_mutex_lock(&(h)->slock);				\
	(h)->st.field += (v);						\
	pthread_mutex_unlock(&(h)->slock);				\
} while (0)

static int
chist_stopping(struct chist *h)
{
	return atomic_load(&h->stop);
}

static void
chist_failing(struct chist *h, int on)
{
	pthread_mutex_lock(&h->slock);
	h->st.failing = on;
	if (on)
		h->st.write_errors++;
	pthread_mutex_unlock(&h->slock);
}

/* Waits CHIST_RETRY_S, or less when asked to stop: 0, or -1 stopping. */
static int
chist_pause(struct chist *h)
{
	for (int i = 0; i < CHIST_RETRY_S * 10; i++) {
		if (chist_stopping(h))
			return -1;
		usleep(100000);
	}
	return chist_stopping(h) ? -1 : 0;
}

static void
chist_complain(struct chist *h, const char *what, int e)
{
	uint64_t quiet;

	if (log_rl_ok(&h->rl_err, &quiet))
		log_warnx("history: %s %s: %s; retried every %d s, nothing "
		    "committed meanwhile (not_logged=%" PRIu64 ")", what,
		    h->path[0] ? h->path : h->prefix, strerror(e),
		    CHIST_RETRY_S, quiet);
}

/*
 * Syncs the open file's writes: 0, or -1 (the history stops: after a
 * failed fdatasync what the page cache holds is unknown, so nothing after
 * it may be committed; the next start reads the batch again).
 */
static int
chist_sync(struct chist *h)
{
	if (h->fd < 0 || !h->dirty)
		return 0;
	if (fdatasync(h->fd) < 0) {
		int e = errno;

		chist_failing(h, 1);
		log_error("history: fdatasync %s: %s; the history stops here "
		    "(nothing after its last commit is lost: a restart reads "
		    "it again)", h->path, strerror(e));
		return -1;
	}
	h->dirty = 0;
	return 0;
}

/* The file of buf's month open: 0, or -1 stopping. */
static int
chist_open(struct chist *h)
{
	uint64_t cut;
	int fd;

	if (h->fd >= 0 && h->fdmonth == h->month)
		return 0;
	if (chist_sync(h) < 0)
		return -1;
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	while ((fd = filesink_month_open(h->prefix, h->month,
	    h->cfg->keep_months, h->path, sizeof(h->path), &cut)) < 0) {
		chist_failing(h, 1);
		chist_complain(h, "open", -fd);
		if (chist_pause(h) < 0)
			return -1;
	}
	h->fd = fd;
	h->fdmonth = h->month;
	if (cut > 0)
		CHIST_ADD(h, torn_cut, cut);
	return 0;
}

/* Writes buf to its month's file, retrying: 0, or -1 stopping. */
static int
chist_write(struct chist *h)
{
	size_t off = 0;
	int failed = 0;

	if (h->n == 0)
		return 0;
	if (chist_open(h) < 0)
		return -1;
	while (off < h->n) {
		ssize_t w = write(h->fd, h->buf + off, h->n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			chist_failing(h, 1);
			chist_complain(h, "write", w < 0 ? errno : ENOSPC);
			failed = 1;
			if (chist_pause(h) < 0)
				return -1;
			continue;
		}
		off += (size_t)w;
		h->dirty = 1;
	}
	if (failed)
		log_info("history: writing again %s", h->path);
	pthread_mutex_lock(&h->slock);
	h->st.failing = 0;
	h->st.bytes += h->n;
	h->st.lines += h->nlines;
	pthread_mutex_unlock(&h->slock);
	h->n = h->nlines = 0;
	return 0;
}

int
chist_closed(const void *p, size_t len, int64_t *at)
{
	const char *ev, *s;
	json_t *j;
	int rc = -1;

	if (p == NULL || len == 0 || memchr(p, '\n', len) != NULL ||
	    memchr(p, '\r', len) != NULL)
		return -1;
	if (memmem(p, len, "\"closed\"", 8) == NULL)
		return 0;	/* ours are compact: no closed event */
	if ((j = json_loadb(p, len, 0, NULL)) == NULL)
		return -1;
	ev = json_string_value(json_object_get(j, "event"));
	s = json_string_value(json_object_get(j, "at"));
	if (ev != NULL && s != NULL && utc_parse(s, strlen(s), at) == 0)
		rc = strcmp(ev, "closed") == 0;
	json_decref(j);
	return rc;
}

/* One record into the batch: 0, or -1 stopping. */
static int
chist_take(struct chist *h, const rd_kafka_message_t *m)
{
	rd_kafka_topic_partition_t *tp;
	int64_t at;
	int rc, month;

	tp = rd_kafka_topic_partition_list_find(h->offs,
	    rd_kafka_topic_name(m->rkt), m->partition);
	if (tp == NULL)
		tp = rd_kafka_topic_partition_list_add(h->offs,
		    rd_kafka_topic_name(m->rkt), m->partition);
	tp->offset = m->offset + 1;
	h->nrec++;
	if ((rc = chist_closed(m->payload, m->len, &at)) < 0) {
		uint64_t quiet, n;

		pthread_mutex_lock(&h->slock);
		n = ++h->st.bad;
		pthread_mutex_unlock(&h->slock);
		if (log_rl_ok(&h->rl_bad, &quiet))
			log_warnx("history: not an incident event, passed by "
			    "partition=%d offset=%" PRId64 " bad=%" PRIu64
			    " not_logged=%" PRIu64, (int)m->partition,
			    m->offset, n, quiet);
		return 0;
	}
	if (rc == 0)
		return 0;
	month = utc_month(at);
	if (month != h->month && h->n > 0 && chist_write(h) < 0)
		return -1;
	h->month = month;
	if (h->n + m->len + 1 > h->cap) {
		h->cap = (h->n + m->len + 1) * 2;
		h->buf = xrealloc(h->buf, h->cap);
	}
	memcpy(h->buf + h->n, m->payload, m->len);
	h->buf[h->n + m->len] = '\n';
	h->n += m->len + 1;
	h->nlines++;
	h->bytes += m->len + 1;
	return 0;
}

/* The batch written and synced, then its offsets committed: 0, or -1. */
static int
chist_commit(struct chist *h)
{
	rd_kafka_resp_err_t e;

	if (h->nrec == 0)
		return 0;
	CHIST_ADD(h, consumed, h->nrec);	/* once a batch, not a record */
	if (chist_write(h) < 0 || chist_sync(h) < 0)
		return -1;
	e = rd_kafka_commit(h->cons, h->offs, 0);
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
		CHIST_ADD(h, commits, 1);
	else {
		uint64_t quiet;

		CHIST_ADD(h, commit_errors, 1);
		if (log_rl_ok(&h->rl_err, &quiet))
			log_warnx("history: commit: %s (the lines are written; "
			    "after a restart they may be written again) "
			    "not_logged=%" PRIu64, rd_kafka_err2str(e), quiet);
	}
	rd_kafka_topic_partition_list_destroy(h->offs);
	h->offs = rd_kafka_topic_partition_list_new(8);
	h->nrec = h->bytes = 0;
	return 0;
}

static void *
chist_main(void *arg)
{
	struct chist *h = arg;

	while (!chist_stopping(h)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(h->cons, 1000);
		int64_t until = clock_mono_ms() + CHIST_LINGER_MS;

		/* a batch: what comes within CHIST_LINGER_MS, bounded */
		while (m != NULL) {
			int64_t left;
			int rc = 0;

			if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
				rc = chist_take(h, m);
			else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				uint64_t quiet;

				if (log_rl_ok(&h->rl_err, &quiet))
					log_warnx("history: consumer: %s "
					    "not_logged=%" PRIu64,
					    rd_kafka_message_errstr(m), quiet);
			}
			rd_kafka_message_destroy(m);
			if (rc < 0)
				return NULL;
			if (h->nrec >= CHIST_BATCH || h->bytes >=
			    CHIST_BATCH_BYTES)
				break;
			left = until - clock_mono_ms();
			m = rd_kafka_consumer_poll(h->cons, left > 0 ? (int)left :
			    0);
		}
		if (chist_commit(h) < 0)
			return NULL;
	}
	return NULL;
}

/* state_dir/history made and locked: 0, or -errno with err. */
static int
chist_lock(struct chist *h, char *err, size_t errlen)
{
	char lock[4200];
	int e;

	if ((e = -mkdirs(h->cfg->dir)) != 0) {
		snprintf(err, errlen, "history %s: %s", h->cfg->dir,
		    strerror(e));
		return -e;
	}
	snprintf(lock, sizeof(lock), "%s/lock", h->cfg->dir);
	if ((h->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		e = errno;
		snprintf(err, errlen, "history %s: %s", lock, strerror(e));
		return -e;
	}
	if (flock(h->lockfd, LOCK_EX | LOCK_NB) < 0) {
		e = errno;
		snprintf(err, errlen, "history %s: %s (another instance "
		    "appends to this directory: give each its own "
		    "daemon.state_dir)", h->cfg->dir, e == EWOULDBLOCK ?
		    "locked" : strerror(e));
		return -(e == EWOULDBLOCK ? EBUSY : e);
	}
	return 0;
}

static int
chist_consumer(struct chist *h, char *err, size_t errlen)
{
	const struct chist_config *c = h->cfg;
	rd_kafka_conf_t *conf;
	rd_kafka_topic_partition_list_t *sub;
	rd_kafka_resp_err_t e;
	char cid[256], why[512];

	snprintf(cid, sizeof(cid), "%s.history", c->client_id);
	if ((conf = kafka_conf_committing(c->brokers, c->group, cid, c->props,
	    c->nprops, err, errlen)) == NULL)
		return -EINVAL;
	if ((h->cons = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why,
	    sizeof(why))) == NULL) {
		rd_kafka_conf_destroy(conf);
		snprintf(err, errlen, "history: consumer: %s", why);
		return -EIO;
	}
	rd_kafka_poll_set_consumer(h->cons);
	sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(sub, c->topic, RD_KAFKA_PARTITION_UA);
	e = rd_kafka_subscribe(h->cons, sub);
	rd_kafka_topic_partition_list_destroy(sub);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errlen, "history: subscribe %s: %s", c->topic,
		    rd_kafka_err2str(e));
		return -EIO;
	}
	return 0;
}

static void
chist_free(struct chist *h)
{
	if (h->cons != NULL) {
		(void)rd_kafka_consumer_close(h->cons);
		rd_kafka_destroy(h->cons);
	}
	if (h->offs != NULL)
		rd_kafka_topic_partition_list_destroy(h->offs);
	if (h->fd >= 0)
		close(h->fd);
	if (h->lockfd >= 0)
		close(h->lockfd);
	pthread_mutex_destroy(&h->slock);
	xfree(h->buf);
	xfree(h);
}

int
chist_start(const struct chist_config *cfg, struct chist **out, char *err,
    size_t errlen)
{
	struct chist *h = xcalloc(1, sizeof(*h));
	int rc;

	*out = NULL;
	h->cfg = cfg;
	h->lockfd = h->fd = -1;
	h->month = h->fdmonth = -1;
	pthread_mutex_init(&h->slock, NULL);
	snprintf(h->prefix, sizeof(h->prefix), "%s/closed", cfg->dir);
	h->offs = rd_kafka_topic_partition_list_new(8);
	if ((rc = chist_lock(h, err, errlen)) != 0 ||
	    (rc = chist_consumer(h, err, errlen)) != 0) {
		chist_free(h);
		return rc;
	}
	if ((rc = pthread_create(&h->thr, NULL, chist_main, h)) != 0) {
		snprintf(err, errlen, "history: thread: %s", strerror(rc));
		chist_free(h);
		return -rc;
	}
	log_info("history: %s's closed events to %s/closed-YYYY-MM.jsonl "
	    "group=%s", cfg->topic, cfg->dir, cfg->group);
	*out = h;
	return 0;
}

void
chist_stats(struct chist *h, struct chist_stats *out)
{
	pthread_mutex_lock(&h->slock);
	*out = h->st;
	pthread_mutex_unlock(&h->slock);
}

void
chist_stop(struct chist *h)
{
	if (h == NULL)
		return;
	atomic_store(&h->stop, 1);
	pthread_join(h->thr, NULL);
	chist_free(h);
}
