/*
 * telem.h - telemetry to tocsin.telemetry: the latest sample of every
 * point, folded, sent as one batch per device.
 *
 * The poller's rules pass on the samples that cleared their deadband
 * (docs/points.md, section 3).  They are not journaled: a measurement is
 * worth its latest value, not its history.  So this module keeps, per
 * device, the latest sample of each of its points and whether it is sent;
 * a device with unsent samples waits in a FIFO, and before the loop sleeps
 * each waiting device becomes one batch (tocsin.telemetry/1, its unsent
 * points only) handed to the output.  When the output is full the devices
 * stay waiting and newer samples replace older ones (counted as folded):
 * memory is bounded by the fleet's points, not by the outage, and after
 * the stall every point's latest value goes out (level-triggered, as
 * everything else in tocsin converges).  A batch whose delivery fails is
 * reported back and its device's latest values are sent again.
 *
 * Runs on the daemon's libev loop thread, like the poller that feeds it.
 */
#ifndef TOCSIN_TELEM_H
#define TOCSIN_TELEM_H

#include <stddef.h>
#include <stdint.h>

#include "correlator/almrule.h"
#include "correlator/fleet.h"

struct ev_loop;

/* Where batches go (the Kafka sink in the daemon, a fake in tests). */
struct telem_out_ops {
	/* 0 taken; -EAGAIN full (kept, tried again later); another -errno
	 * refused for good (dropped and counted) */
	int	(*send)(void *arg, uint32_t device, const char *key,
		    const char *json, size_t len);
};

struct telem_out {
	const struct telem_out_ops *ops;
	void		*arg;
};

struct telem_stats {
	uint64_t	 samples;	/* samples taken in */
	uint64_t	 folded;	/* replaced before they were sent */
	uint64_t	 batches;	/* batches the output took */
	uint64_t	 sent;		/* samples in them */
	uint64_t	 full;		/* sends answered -EAGAIN */
	uint64_t	 refused;	/* batches refused for good */
	uint64_t	 resent;	/* devices sent again after a loss */
	uint64_t	 waiting;	/* devices with unsent samples now */
};

struct telem;

/* retry_ms: how long a full output rests before the next try. */
struct telem *telem_new(struct ev_loop *loop, const struct fleet *f,
	    const struct telem_out *out, unsigned retry_ms);
void	 telem_free(struct telem *t);

/* A sample from the rules (almrule_sink_ops.sample). */
void	 telem_sample(struct telem *t, const struct almrule_sample *s);
/* A batch of device was lost on its way: its latest values go again. */
void	 telem_lost(struct telem *t, uint32_t device);
/* Sends what waits, as the loop does before it sleeps (tests, shutdown). */
void	 telem_flush(struct telem *t);
void	 telem_stats(const struct telem *t, struct telem_stats *out);

#endif
