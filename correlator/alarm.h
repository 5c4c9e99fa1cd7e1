/*
 * alarm.h - an alarm transition: what the poll side tells the correlator.
 *
 * Produced by the alarm rules (poll thread) or read from a replay file /
 * the tocsin.alarms topic; consumed by the correlator shards through SPSC
 * rings, so it is a small plain value (32 bytes) with no pointers: ids are
 * fleet indexes and interned alarm codes (fleet_code()).
 */
#ifndef TOCSIN_ALARM_H
#define TOCSIN_ALARM_H

#include <stdint.h>

enum alarm_edge { ALARM_RAISE, ALARM_CLEAR };

struct alarm_event {
	int64_t		 at_ms;		/* event time, ms since the Unix epoch */
	double		 value;		/* the point's value; NAN for COMM_LOSS */
	uint32_t	 device;	/* fleet device index */
	uint32_t	 site;		/* fleet site index (the device's) */
	uint32_t	 point;		/* point index in the profile, or FLEET_NONE */
	uint16_t	 code;		/* fleet_code() id */
	uint8_t		 edge;		/* enum alarm_edge */
	uint8_t		 severity;	/* enum severity */
};

_Static_assert(sizeof(struct alarm_event) == 32, "alarm_event is 32 bytes");

#endif
