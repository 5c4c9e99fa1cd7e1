/*
 * mbresolve.h - host names resolved off the event loop.
 *
 * getaddrinfo() blocks for as long as DNS takes (seconds when a server is
 * down), so the Modbus client never calls it on its loop once the loop
 * runs: a name that did not resolve when its device was added is looked
 * up again here, on a helper thread, and the answer comes back on the
 * loop's thread through an ev_async.  The client decides when to ask (the
 * device's reconnect backoff); this module only asks and answers.
 *
 * Threading: mbresolve_new, _lookup and _free are called on the loop's
 * thread, and the callback runs there.  The helper thread starts with the
 * first lookup, so a fleet of numeric addresses never has one.
 */
#ifndef TOCSIN_MBRESOLVE_H
#define TOCSIN_MBRESOLVE_H

#include <stdint.h>
#include <sys/socket.h>

struct ev_loop;
struct mbresolve;

/*
 * The answer to lookup `id`: err 0 and the first address (sa, len), or
 * err -EHOSTUNREACH (sa NULL).  Runs on the loop's thread.
 */
typedef void mbresolve_cb(void *arg, uint32_t id, int err,
	    const struct sockaddr *sa, socklen_t len);

/* A resolver answering on loop; free it with mbresolve_free(). */
struct mbresolve *mbresolve_new(struct ev_loop *loop, mbresolve_cb *cb,
	    void *arg);

/*
 * Queues a lookup of host:port (TCP) answered later through the callback
 * with id.  host is copied.  Returns 0, or -errno if the helper thread
 * cannot start (then no answer comes).
 */
int	 mbresolve_lookup(struct mbresolve *r, uint32_t id, const char *host,
	    uint16_t port);

/* Lookups queued or under way (answers not yet delivered). */
unsigned mbresolve_pending(const struct mbresolve *r);

/*
 * Stops answering and frees the resolver; NULL is a no-op.  Never waits
 * for DNS: a lookup under way finishes on the helper thread, which then
 * frees what is left and exits; its answer is dropped.
 */
void	 mbresolve_free(struct mbresolve *r);

#endif
