/*
 * telem.c - see telem.h; docs/kafka.md ("tocsin.telemetry").
 *
 * Per device, an array of its profile's points (allocated at its first
 * sample): the latest value, quality and time, and whether it is unsent.
 * A device with unsent points is in the FIFO once (a ring as long as the
 * fleet has devices, so it never fills).  An ev_prepare runs only while
 * the FIFO is not empty: before the loop sleeps it turns the waiting
 * devices into batches; an output that says -EAGAIN stops that until a
 * one-shot timer of retry_ms (a full queue drains at its own pace: no
 * callback to wait for, and nothing runs while nothing waits).
 */
#include <errno.h>
#include <string.h>

#include <ev.h>

#include "correlator/incjson.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/telem.h"

struct telem_point {
	double		 value;
	int64_t		 at;		/* 0: no sample yet */
	uint8_t		 quality;
	uint8_t		 unsent;
};

struct telem_dev {
	struct telem_point *pts;	/* the profile's npoints, or NULL */
	uint8_t		 queued;	/* in the FIFO */
};

struct telem {
	struct ev_loop	*loop;
	const struct fleet *f;
	struct telem_out out;
	struct telem_dev *dev;		/* f->ndevices */
	uint32_t	*fifo;		/* f->ndevices slots */
	size_t		 head, n;
	ev_prepare	 prep;		/* active while n > 0 and not blocked */
	ev_timer	 retry;		/* active while blocked */
	int		 blocked;
	struct incjson_buf buf;
	struct incjson_sample *batch;	/* the largest profile's points */
	struct telem_stats st;
};

static void
telem_queue(struct telem *t, uint32_t d)
{
	if (t->dev[d].queued)
		return;
	t->dev[d].queued = 1;
	t->fifo[(t->head + t->n) % t->f->ndevices] = d;
	t->n++;
	if (!t->blocked && !ev_is_active(&t->prep))
		ev_prepare_start(t->loop, &t->prep);
}

/* Device d's unsent points as one batch: 0 sent or dropped, -EAGAIN. */
static int
telem_send(struct telem *t, uint32_t d)
{
	const struct fleet_device *fd = &t->f->devices[d];
	const struct fleet_profile *p = &t->f->profiles[fd->profile];
	struct telem_point *pts = t->dev[d].pts;
	size_t n = 0;
	int rc;

	for (size_t i = 0; i < p->npoints; i++) {
		if (!pts[i].unsent)
			continue;
		t->batch[n].name = p->points[i].name;
		t->batch[n].unit = p->points[i].unit;
		t->batch[n].value = pts[i].value;
		t->batch[n].at = pts[i].at;
		t->batch[n].quality = pts[i].quality;
		n++;
	}
	if (n == 0)
		return 0;
	t->buf.n = 0;
	(void)incjson_telemetry(&t->buf, fd->id, t->f->sites[fd->site].id,
	    t->batch, n);
	rc = t->out.ops->send(t->out.arg, d, fd->id, t->buf.p, t->buf.n);
	if (rc == -EAGAIN) {
		t->st.full++;
		return -EAGAIN;
	}
	if (rc == 0) {
		t->st.batches++;
		t->st.sent += n;
	} else {
		t->st.refused++;
	}
	for (size_t i = 0; i < p->npoints; i++)
		pts[i].unsent = 0;
	return 0;
}

void
telem_flush(struct telem *t)
{
	while (t->n > 0 && !t->blocked) {
		uint32_t d = t->fifo[t->head];

		if (telem_send(t, d) == -EAGAIN) {
			t->blocked = 1;
			ev_prepare_stop(t->loop, &t->prep);
			ev_timer_start(t->loop, &t->retry);
			return;
		}
		t->dev[d].queued = 0;
		t->head = (t->head + 1) % t->f->ndevices;
		t->n--;
	}
	if (t->n == 0)
		ev_prepare_stop(t->loop, &t->prep);
}

static void
telem_prep_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)revents;
	telem_flush(w->data);
}

static void
telem_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct telem *t = w->data;

	(void)loop;
	(void)revents;
	t->blocked = 0;
	telem_flush(t);
}

struct telem *
telem_new(struct ev_loop *loop, const struct fleet *f,
    const struct telem_out *out, unsigned retry_ms)
{
	struct telem *t = xcalloc(1, sizeof(*t));
	size_t most = 1;

	t->loop = loop;
	t->f = f;
	t->out = *out;
	t->dev = xcalloc(f->ndevices ? f->ndevices : 1, sizeof(*t->dev));
	t->fifo = xcalloc(f->ndevices ? f->ndevices : 1, sizeof(*t->fifo));
	for (size_t i = 0; i < f->nprofiles; i++)
		if (f->profiles[i].npoints > most)
			most = f->profiles[i].npoints;
	t->batch = xcalloc(most, sizeof(*t->batch));
	incjson_buf_init(&t->buf);
	ev_prepare_init(&t->prep, telem_prep_cb);
	t->prep.data = t;
	ev_timer_init(&t->retry, telem_retry_cb, retry_ms / 1000., 0.);
	t->retry.data = t;
	return t;
}

void
telem_free(struct telem *t)
{
	if (t == NULL)
		return;
	ev_prepare_stop(t->loop, &t->prep);
	ev_timer_stop(t->loop, &t->retry);
	for (size_t i = 0; i < t->f->ndevices; i++)
		xfree(t->dev[i].pts);
	xfree(t->dev);
	xfree(t->fifo);
	xfree(t->batch);
	incjson_buf_fini(&t->buf);
	xfree(t);
}

void
telem_sample(struct telem *t, const struct almrule_sample *s)
{
	const struct fleet_device *fd;
	const struct fleet_profile *p;
	struct telem_point *pt;
	struct telem_dev *td;

	if (s->device >= t->f->ndevices)
		return;
	fd = &t->f->devices[s->device];
	if (fd->profile >= t->f->nprofiles)
		return;
	p = &t->f->profiles[fd->profile];
	if (s->point >= p->npoints)
		return;
	td = &t->dev[s->device];
	if (td->pts == NULL)
		td->pts = xcalloc(p->npoints, sizeof(*td->pts));
	pt = &td->pts[s->point];
	t->st.samples++;
	if (pt->unsent)
		t->st.folded++;
	pt->value = s->value;
	pt->at = s->at_ms;
	pt->quality = s->quality;
	pt->unsent = 1;
	telem_queue(t, s->device);
}

void
telem_lost(struct telem *t, uint32_t device)
{
	const struct fleet_device *fd;
	struct telem_dev *td;
	int any = 0;

	if (device >= t->f->ndevices || (td = &t->dev[device])->pts == NULL)
		return;
	fd = &t->f->devices[device];
	for (size_t i = 0; i < t->f->profiles[fd->profile].npoints; i++)
		if (td->pts[i].at != 0) {
			td->pts[i].unsent = 1;
			any = 1;
		}
	if (any) {
		t->st.resent++;
		telem_queue(t, device);
	}
}

void
telem_stats(const struct telem *t, struct telem_stats *out)
{
	*out = t->st;
	out->waiting = t->n;
}
