/*
 * stress_outbox.c - the level-triggered alarm path under load, the way
 * tocsind runs it: the poll thread puts random edges through the outbox
 * into 2 shards with 16-slot rings, so it keeps meeting full rings and
 * holding keys, while the shard threads call back (the room callback) and
 * sleep on their bells whenever they run dry; one shard is held still for
 * a while in the middle.  Under SANITIZER=thread this is how
 * ThreadSanitizer sees the want flags, the room callback and the bells.
 *
 *   stress_outbox [-t SECONDS]
 *
 * Checks at the end: the last state each shard was given for every
 * (device, code) equals the poller's; nothing is held.  Exit 0, or 1
 * with a message.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/clock.h"
#include "daemon/mem.h"
#include "daemon/outbox.h"
#include "daemon/ring.h"
#include "daemon/router.h"

#define NSITES	64
#define NDEV	(2 * NSITES)
#define NSHARDS	2

static signed char seen[NDEV];		/* per device: shard's last edge */
static _Atomic int stall;		/* 1: shard 0 is held still */
static _Atomic int room;		/* the router called */

static void
tap(void *arg, unsigned shard, const struct alarm_event *ev)
{
	(void)arg;
	while (shard == 0 && ring_load_acquire(&stall))
		usleep(200);
	seen[ev->device] = ev->edge == ALARM_RAISE;
}

static void
room_cb(void *arg, unsigned shard)
{
	(void)arg;
	(void)shard;
	ring_store_release(&room, 1);
}

static void
no_event(void *arg, const struct corr_event *ev)
{
	(void)arg;
	(void)ev;
}

static const struct corr_sink_ops sink_ops = { .event = no_event };

int
main(int argc, char **argv)
{
	struct fleet *f = fleet_new();
	struct corr_config cc;
	struct corr_sink sinks[NSHARDS];
	struct router *r;
	struct outbox *o;
	struct outbox_stats st;
	signed char truth[NDEV];
	char id[32], err[128];
	double secs = 3;
	uint64_t x = 88172645463325252ULL;
	int64_t start, now, deadline;
	long edges = 0;
	int c, bad = 0;

	while ((c = getopt(argc, argv, "t:")) != -1)
		if (c == 't')
			secs = atof(optarg);
	for (int i = 0; i < NSITES; i++) {
		uint32_t s;

		snprintf(id, sizeof(id), "S%d", i);
		s = fleet_add(f, FLEET_SITE, id);
		snprintf(id, sizeof(id), "a%d", i % 8);
		f->sites[s].area = fleet_area(f, id);
		for (int k = 0; k < 2; k++) {
			uint32_t d;

			snprintf(id, sizeof(id), "S%d-%d", i, k);
			d = fleet_add(f, FLEET_DEVICE, id);
			f->devices[d].site = s;
		}
	}
	corr_config_defaults(&cc);
	for (int i = 0; i < NSHARDS; i++)
		sinks[i] = (struct corr_sink){ &sink_ops, NULL };
	if ((r = router_new(f, &cc, NSHARDS, 1, 16, sinks, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "stress_outbox: %s\n", err);
		return 1;
	}
	router_set_tap(r, tap, NULL);
	router_set_room(r, 0, room_cb, NULL);
	o = outbox_new(f, r, 0);
	memset(truth, 0, sizeof(truth));
	memset(seen, 0, sizeof(seen));
	if (router_start(r) != 0)
		return 1;
	start = clock_mono_ms();
	while ((now = clock_mono_ms()) - start < (int64_t)(secs * 1000)) {
		struct alarm_event ev = { 0 };
		uint32_t d;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		d = (uint32_t)(x % NDEV);
		ev.at_ms = 1795000000000LL + edges;
		ev.device = d;
		ev.site = f->devices[d].site;
		ev.code = FLEET_CODE_COMM_LOSS;
		ev.severity = SEV_MAJOR;
		ev.point = FLEET_NONE;
		ev.edge = truth[d] ? ALARM_CLEAR : ALARM_RAISE;
		truth[d] = !truth[d];
		(void)outbox_put(o, &ev);
		edges++;
		/* a third of the run, shard 0 holds still */
		ring_store_release(&stall, now - start > secs * 333 &&
		    now - start < secs * 666);
		if (atomic_exchange(&room, 0) || edges % 64 == 0)
			outbox_flush(o);
	}
	ring_store_release(&stall, 0);
	deadline = clock_mono_ms() + 10000;
	while (outbox_flush(o) > 0 || router_backlog(r) > 0) {
		if (clock_mono_ms() > deadline) {
			fprintf(stderr, "stress_outbox: no convergence\n");
			return 1;
		}
		usleep(100);
	}
	router_stop(r);
	for (int d = 0; d < NDEV; d++)
		bad += seen[d] != truth[d];
	outbox_stats(o, &st);
	outbox_free(o);
	router_free(r);
	fleet_free(f);
	if (bad != 0 || st.pending != 0 || st.held == 0) {
		fprintf(stderr, "stress_outbox: %d keys differ, pending=%llu "
		    "held=%llu\n", bad, (unsigned long long)st.pending,
		    (unsigned long long)st.held);
		return 1;
	}
	printf("stress_outbox ok edges=%ld queued=%llu held=%llu folded=%llu "
	    "resent=%llu stalls=%llu\n", edges, (unsigned long long)st.queued,
	    (unsigned long long)st.held, (unsigned long long)st.folded,
	    (unsigned long long)st.resent, (unsigned long long)st.stalls);
	return 0;
}
