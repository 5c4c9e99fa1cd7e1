/*
 * sdnotify.h - tells systemd (Type=notify units) that tocsind is ready,
 * reloading or stopping.
 *
 * The protocol is one datagram of "KEY=value" lines to the AF_UNIX socket
 * named by $NOTIFY_SOCKET (a path, or an abstract name when it starts
 * with '@'); systemd documents it as a stable interface (sd_notify(3),
 * "Notes").  tocsin speaks it itself rather than link libsystemd, which is
 * not among its dependencies: the whole client is a socket(), a sendto()
 * and no state, and without $NOTIFY_SOCKET (not run by systemd, or
 * Type=simple) every call is a no-op.
 */
#ifndef TOCSIN_SDNOTIFY_H
#define TOCSIN_SDNOTIFY_H

/*
 * Sends state (e.g. "READY=1\nSTATUS=polling 3000 devices") to
 * $NOTIFY_SOCKET.  Returns 1 when sent, 0 when there is no socket to tell,
 * -errno when the send failed (the caller logs it; it never stops the
 * daemon).  Never blocks: the socket is non-blocking.
 */
int	 sdnotify(const char *state);

#endif
