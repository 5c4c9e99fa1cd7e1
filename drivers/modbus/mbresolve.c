/*
 * mbresolve.c - see mbresolve.h.
 *
 * One detached helper thread per resolver takes lookups from a FIFO,
 * calls getaddrinfo() (which may block for as long as DNS takes) and puts
 * the answers on a second FIFO, then wakes the loop with ev_async_send()
 * (the one libev call that is safe from another thread).  Both FIFOs live
 * in a small block shared by the loop side and the thread, under one
 * mutex: name lookups are rare (a failed name is retried on its device's
 * backoff, seconds apart), so a lock here costs nothing on the poll path,
 * which never touches it.
 *
 * Lifetime.  The shared block is reference counted: one reference for the
 * loop side, one while the thread runs.  mbresolve_free() marks it closed
 * and drops its reference without waiting; a thread blocked in DNS finds
 * it closed when it comes back, drops the answer and its reference, and
 * the last one out frees the block.  ev_async_send() is called with the
 * mutex held and only while the block is not closed, so the thread never
 * touches the loop's watcher after mbresolve_free() has stopped it.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <ev.h>

#include "daemon/mem.h"
#include "drivers/modbus/mbresolve.h"

struct mbr_req {
	struct mbr_req	*next;
	uint32_t	 id;		/* the caller's */
	uint16_t	 port;
	int		 err;		/* answer: 0 or -EHOSTUNREACH */
	struct sockaddr_storage ss;	/* answer: the first address */
	socklen_t	 len;
	char		 host[];	/* NUL-terminated */
};

/* A FIFO of requests. */
struct mbr_fifo {
	struct mbr_req	*head, *tail;
};

/* What the loop side and the helper thread share, under mu. */
struct mbr_shared {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;		/* todo grew, or closed */
	struct mbr_fifo	 todo;		/* loop -> thread */
	struct mbr_fifo	 done;		/* thread -> loop */
	int		 refs;		/* loop side + running thread */
	int		 closed;	/* the loop side is gone */
	int		 started;	/* the thread was created */
	struct ev_loop	*loop;		/* valid while !closed */
	ev_async	*wake;		/* valid while !closed */
};

struct mbresolve {
	struct ev_loop	*loop;
	ev_async	 wake;		/* answers are waiting in sh->done */
	mbresolve_cb	*cb;
	void		*arg;
	unsigned	 pending;	/* asked, not yet answered */
	struct mbr_shared *sh;
};

static void
fifo_push(struct mbr_fifo *f, struct mbr_req *q)
{
	q->next = NULL;
	if (f->tail != NULL)
		f->tail->next = q;
	else
		f->head = q;
	f->tail = q;
}

static struct mbr_req *
fifo_pop(struct mbr_fifo *f)
{
	struct mbr_req *q = f->head;

	if (q != NULL && (f->head = q->next) == NULL)
		f->tail = NULL;
	return q;
}

static void
fifo_free(struct mbr_fifo *f)
{
	struct mbr_req *q;

	while ((q = fifo_pop(f)) != NULL)
		xfree(q);
}

/* Drops one reference; the last frees the block.  Called with mu held. */
static void
shared_unref_locked(struct mbr_shared *sh)
{
	int last = --sh->refs == 0;

	pthread_mutex_unlock(&sh->mu);
	if (!last)
		return;
	fifo_free(&sh->todo);
	fifo_free(&sh->done);
	pthread_cond_destroy(&sh->cv);
	pthread_mutex_destroy(&sh->mu);
	xfree(sh);
}

static void
req_resolve(struct mbr_req *q)
{
	struct addrinfo hints, *res = NULL;
	char sport[8];

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(sport, sizeof(sport), "%u", q->port);
	q->err = -EHOSTUNREACH;
	if (getaddrinfo(q->host, sport, &hints, &res) == 0 && res != NULL &&
	    res->ai_addrlen <= sizeof(q->ss)) {
		memcpy(&q->ss, res->ai_addr, res->ai_addrlen);
		q->len = res->ai_addrlen;
		q->err = 0;
	}
	if (res != NULL)
		freeaddrinfo(res);
}

static void *
mbr_thread(void *arg)
{
	struct mbr_shared *sh = arg;
	struct mbr_req *q;

	pthread_mutex_lock(&sh->mu);
	for (;;) {
		while (!sh->closed && sh->todo.head == NULL)
			pthread_cond_wait(&sh->cv, &sh->mu);
		if (sh->closed)
			break;
		q = fifo_pop(&sh->todo);
		pthread_mutex_unlock(&sh->mu);
		req_resolve(q);			/* may block: no lock held */
		pthread_mutex_lock(&sh->mu);
		if (sh->closed) {
			xfree(q);
			break;
		}
		fifo_push(&sh->done, q);
		ev_async_send(sh->loop, sh->wake);
	}
	shared_unref_locked(sh);		/* unlocks */
	return NULL;
}

/* On the loop: hand every answer to the caller, in order. */
static void
mbr_wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct mbresolve *r = container_of(w, struct mbresolve, wake);
	struct mbr_fifo done;
	struct mbr_req *q;

	(void)loop;
	(void)revents;
	pthread_mutex_lock(&r->sh->mu);
	done = r->sh->done;
	r->sh->done.head = r->sh->done.tail = NULL;
	pthread_mutex_unlock(&r->sh->mu);
	while ((q = fifo_pop(&done)) != NULL) {
		r->pending--;
		r->cb(r->arg, q->id, q->err,
		    q->err == 0 ? (const struct sockaddr *)&q->ss : NULL,
		    q->len);
		xfree(q);
	}
}

struct mbresolve *
mbresolve_new(struct ev_loop *loop, mbresolve_cb *cb, void *arg)
{
	struct mbresolve *r = xcalloc(1, sizeof(*r));
	struct mbr_shared *sh = xcalloc(1, sizeof(*sh));

	pthread_mutex_init(&sh->mu, NULL);
	pthread_cond_init(&sh->cv, NULL);
	sh->refs = 1;
	sh->loop = loop;
	sh->wake = &r->wake;
	r->loop = loop;
	r->cb = cb;
	r->arg = arg;
	r->sh = sh;
	ev_async_init(&r->wake, mbr_wake_cb);
	ev_async_start(loop, &r->wake);
	/* the watcher alone must not keep ev_run() from returning */
	ev_unref(loop);
	return r;
}

int
mbresolve_lookup(struct mbresolve *r, uint32_t id, const char *host,
    uint16_t port)
{
	struct mbr_shared *sh = r->sh;
	size_t n = strlen(host) + 1;
	struct mbr_req *q = xcalloc(1, sizeof(*q) + n);
	pthread_attr_t attr;
	pthread_t th;
	int rc = 0;

	q->id = id;
	q->port = port;
	memcpy(q->host, host, n);
	pthread_mutex_lock(&sh->mu);
	if (!sh->started) {
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		sh->refs++;
		if ((rc = pthread_create(&th, &attr, mbr_thread, sh)) != 0)
			sh->refs--;
		else
			sh->started = 1;
		pthread_attr_destroy(&attr);
	}
	if (rc == 0) {
		fifo_push(&sh->todo, q);
		pthread_cond_signal(&sh->cv);
		r->pending++;
	}
	pthread_mutex_unlock(&sh->mu);
	if (rc != 0) {
		xfree(q);
		return -rc;
	}
	return 0;
}

unsigned
mbresolve_pending(const struct mbresolve *r)
{
	return r->pending;
}

void
mbresolve_free(struct mbresolve *r)
{
	struct mbr_shared *sh;

	if (r == NULL)
		return;
	sh = r->sh;
	pthread_mutex_lock(&sh->mu);
	sh->closed = 1;
	sh->loop = NULL;
	sh->wake = NULL;
	pthread_cond_signal(&sh->cv);
	shared_unref_locked(sh);		/* unlocks */
	ev_ref(r->loop);
	ev_async_stop(r->loop, &r->wake);
	xfree(r);
}
