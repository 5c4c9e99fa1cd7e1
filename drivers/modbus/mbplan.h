/*
 * mbplan.h - request planning: a device profile's points as few reads.
 *
 * Points of one table (coils, discrete inputs, input registers, holding
 * registers) are sorted by address and merged into blocks while the block
 * stays within the per-request quantity limit and the hole between two
 * points is at most max_gap registers (for bit tables max_gap * 16 bits:
 * one register's worth of bits per register of gap).  A block that a
 * device rejects with ILLEGAL DATA ADDRESS/VALUE is split in two at a point
 * boundary and the limit is learned, so a later rebuild merges less.
 *
 * Poll classes: a point with an interval of its own (mbmap_point.
 * interval_ms, e.g. a serial number every hour, a setpoint every minute)
 * is read on one poll in `every`, every = its interval / the device's poll
 * interval rounded to the nearest whole number, at least 1.  Points of
 * different classes never share a read.  Poll 0 (the first) reads every
 * block, so every value is known from the start.
 *
 * Pure code: no I/O, no clock.
 */
#ifndef TOCSIN_MBPLAN_H
#define TOCSIN_MBPLAN_H

#include <stddef.h>
#include <stdint.h>

#include "drivers/modbus/mbmap.h"

struct mbplan_limits {
	uint16_t	 max_regs;	/* registers per read, 1..125 */
	uint16_t	 max_bits;	/* bits per read, 1..2000 */
	uint16_t	 max_gap;	/* unused registers a read may span */
	uint32_t	 poll_ms;	/* the device's poll interval, to turn
					   point intervals into polls; 0: every
					   point on every poll */
};

struct mbplan_block {
	uint8_t		 table;		/* enum mbmap_table */
	uint8_t		 fc;		/* read function code 1-4 */
	uint16_t	 addr;		/* first register/bit */
	uint16_t	 count;		/* registers or bits */
	uint16_t	 nbytes;	/* data bytes of the response */
	uint32_t	 every;		/* read on polls seq % every == 0 */
	uint32_t	 first;		/* first entry in plan->order */
	uint32_t	 npoints;	/* points covered: order[first..+n) */
	uint32_t	 data_off;	/* offset of its data in a poll buffer */
};

struct mbplan {
	struct mbplan_block *blocks;	/* in send order */
	size_t		 nblocks;
	size_t		 cap;		/* allocated blocks */
	uint32_t	*order;		/* point indices sorted by table, addr */
	const struct mbmap_point *src;	/* the profile's points, borrowed: the
					   profile outlives the plan */
	size_t		 npoints;
	uint32_t	 data_bytes;	/* sum of blocks' nbytes */
	uint16_t	 limit[MBMAP__TABLES]; /* quantity per read, learned */
	uint16_t	 max_gap;
	uint32_t	 splits;	/* blocks split since built */
};

/*
 * Builds the plan of profile p into *plan (which the caller owns and frees
 * with mbplan_free()).  Limits above the protocol's are clamped.  Points
 * that run past address 65535 or are wider than the limit are each put in
 * a block of their own.  Returns 0, or -EINVAL for a zero limit.
 */
int	 mbplan_build(struct mbplan *plan, const struct mbmap_profile *p,
	    const struct mbplan_limits *lim);

/*
 * Splits block b after the device refused it (exception 2 or 3): the block
 * becomes two at the point boundary nearest its middle (the split itself
 * stays in the plan), and the table's learned limit drops below the refused
 * quantity (refused - 1), all that a refusal proves: a hole in the map can
 * be the cause as well as the length, so it is not halved.  Block indices after b shift by one.  Returns 0,
 * -EINVAL for a bad index, or -ENOSPC if b covers a single point (nothing
 * left to split: the point itself is unreadable).
 */
int	 mbplan_split(struct mbplan *plan, size_t b);

/* Whether block b is read on the device's poll number seq (0, 1, ...). */
static inline int
mbplan_due(const struct mbplan *plan, size_t b, uint32_t seq)
{
	uint32_t every = plan->blocks[b].every;

	return every <= 1 || seq % every == 0;
}

/* Reads per poll averaged over a whole cycle of the plan's classes. */
double	 mbplan_reads_per_poll(const struct mbplan *plan);

/* The block and the offset (registers/bits) of point index pt, or -ENOENT. */
int	 mbplan_locate(const struct mbplan *plan,
	    const struct mbmap_profile *p, uint32_t pt, size_t *block,
	    unsigned *offset);

void	 mbplan_free(struct mbplan *plan);

#endif
