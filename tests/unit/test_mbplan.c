/*
 * test_mbplan.c - merging points into reads: adjacency, gaps, the
 * per-request limits, tables kept apart, and splitting a refused read.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "correlator/fleet.h"
#include "drivers/modbus/mbplan.h"

static struct mbmap_point pts[64];
static struct mbmap_profile prof;

static void
add(unsigned table, unsigned addr, unsigned type)
{
	struct mbmap_point *p = &pts[prof.npoints++];

	memset(p, 0, sizeof(*p));
	p->table = (uint8_t)table;
	p->address = (uint16_t)addr;
	p->type = (uint8_t)type;
	p->bit = -1;
}

static void
reset(void)
{
	memset(&prof, 0, sizeof(prof));
	prof.points = pts;
}

static const struct mbplan_limits lim = { .max_regs = 125,
    .max_bits = 2000, .max_gap = 4 };

Test(mbplan, adjacent_merge_into_one)
{
	struct mbplan pl;

	reset();
	add(MBMAP_HOLDING, 10, MBMAP_FLOAT32);	/* 10-11 */
	add(MBMAP_HOLDING, 0, MBMAP_UINT16);		/* 0 */
	add(MBMAP_HOLDING, 1, MBMAP_INT64);		/* 1-4 */
	add(MBMAP_HOLDING, 5, MBMAP_INT16);		/* 5; gap 6-9 = 4 */
	cr_assert_eq(mbplan_build(&pl, &prof, &lim), 0);
	cr_assert_eq(pl.nblocks, 1);
	cr_assert_eq(pl.blocks[0].fc, 3);
	cr_assert_eq(pl.blocks[0].addr, 0);
	cr_assert_eq(pl.blocks[0].count, 12);
	cr_assert_eq(pl.blocks[0].nbytes, 24);
	cr_assert_eq(pl.blocks[0].npoints, 4);
	cr_assert_eq(pl.data_bytes, 24);
	{
		size_t b; unsigned off;

		cr_assert_eq(mbplan_locate(&pl, &prof, 0, &b, &off), 0);
		cr_assert_eq(b, 0);
		cr_assert_eq(off, 10);
		cr_assert_eq(mbplan_locate(&pl, &prof, 99, &b, &off),
		    -ENOENT);
	}
	mbplan_free(&pl);
}

Test(mbplan, gap_too_large_splits)
{
	struct mbplan pl;

	reset();
	add(MBMAP_INPUT, 0, MBMAP_UINT16);
	add(MBMAP_INPUT, 6, MBMAP_UINT16);	/* gap 1-5 = 5 > 4 */
	add(MBMAP_INPUT, 11, MBMAP_UINT16);	/* gap 7-10 = 4 */
	cr_assert_eq(mbplan_build(&pl, &prof, &lim), 0);
	cr_assert_eq(pl.nblocks, 2);
	cr_assert_eq(pl.blocks[0].fc, 4);
	cr_assert_eq(pl.blocks[0].count, 1);
	cr_assert_eq(pl.blocks[1].addr, 6);
	cr_assert_eq(pl.blocks[1].count, 6);
	cr_assert_eq(pl.blocks[1].data_off, 2);
	mbplan_free(&pl);

	{
		struct mbplan_limits l0 = lim;

		l0.max_gap = 0;
		reset();
		add(MBMAP_INPUT, 0, MBMAP_UINT16);
		add(MBMAP_INPUT, 1, MBMAP_UINT16);
		add(MBMAP_INPUT, 3, MBMAP_UINT16);
		cr_assert_eq(mbplan_build(&pl, &prof, &l0), 0);
		cr_assert_eq(pl.nblocks, 2);
		mbplan_free(&pl);
	}
}

Test(mbplan, tables_never_mix_and_bits_use_bit_limits)
{
	struct mbplan pl;

	reset();
	add(MBMAP_COIL, 0, MBMAP_BOOL);
	add(MBMAP_COIL, 60, MBMAP_BOOL);	/* gap 59 bits <= 4*16 */
	add(MBMAP_DISCRETE, 1, MBMAP_BOOL);
	add(MBMAP_HOLDING, 1, MBMAP_UINT16);
	add(MBMAP_INPUT, 1, MBMAP_UINT16);
	cr_assert_eq(mbplan_build(&pl, &prof, &lim), 0);
	cr_assert_eq(pl.nblocks, 4);
	cr_assert_eq(pl.blocks[0].fc, 1);
	cr_assert_eq(pl.blocks[0].count, 61);
	cr_assert_eq(pl.blocks[0].nbytes, 8);
	cr_assert_eq(pl.blocks[1].fc, 2);
	cr_assert_eq(pl.blocks[2].fc, 4);	/* input before holding */
	cr_assert_eq(pl.blocks[3].fc, 3);
	mbplan_free(&pl);
}

Test(mbplan, register_limit)
{
	struct mbplan pl;
	struct mbplan_limits l = lim;

	reset();
	for (unsigned i = 0; i < 60; i++)
		add(MBMAP_HOLDING, i * 4, MBMAP_FLOAT64);	/* 240 registers */
	cr_assert_eq(mbplan_build(&pl, &prof, &lim), 0);
	cr_assert_eq(pl.nblocks, 2);
	cr_assert_eq(pl.blocks[0].count, 124);	/* 31 points, 125 would cut one */
	cr_assert_eq(pl.blocks[1].addr, 124);
	cr_assert_eq(pl.blocks[1].count, 116);
	mbplan_free(&pl);

	l.max_regs = 1000;			/* clamped to 125 */
	cr_assert_eq(mbplan_build(&pl, &prof, &l), 0);
	cr_assert_eq(pl.limit[MBMAP_HOLDING], 125);
	cr_assert_eq(pl.nblocks, 2);
	mbplan_free(&pl);

	l.max_regs = 8;
	cr_assert_eq(mbplan_build(&pl, &prof, &l), 0);
	cr_assert_eq(pl.nblocks, 30);
	mbplan_free(&pl);
	l.max_regs = 0;
	cr_assert_eq(mbplan_build(&pl, &prof, &l), -EINVAL);
}

Test(mbplan, bit_limit)
{
	struct mbplan pl;

	reset();
	add(MBMAP_DISCRETE, 0, MBMAP_BOOL);
	add(MBMAP_DISCRETE, 1999, MBMAP_BOOL);
	add(MBMAP_DISCRETE, 2000, MBMAP_BOOL);
	cr_assert_eq(mbplan_build(&pl, &prof, &(struct mbplan_limits){
	    .max_regs = 125, .max_bits = 2000, .max_gap = 200 }), 0);
	cr_assert_eq(pl.nblocks, 2);
	cr_assert_eq(pl.blocks[0].count, 2000);
	cr_assert_eq(pl.blocks[0].nbytes, 250);
	cr_assert_eq(pl.blocks[1].addr, 2000);
	mbplan_free(&pl);
}

Test(mbplan, split_and_learn)
{
	struct mbplan pl;

	reset();
	for (unsigned i = 0; i < 10; i++)
		add(MBMAP_HOLDING, 100 + i * 2, MBMAP_UINT32);	/* 100-119 */
	add(MBMAP_INPUT, 0, MBMAP_UINT16);
	cr_assert_eq(mbplan_build(&pl, &prof, &lim), 0);
	cr_assert_eq(pl.nblocks, 2);
	cr_assert_eq(pl.blocks[1].count, 20);
	cr_assert_eq(mbplan_split(&pl, 1), 0);
	cr_assert_eq(pl.nblocks, 3);
	cr_assert_eq(pl.blocks[1].addr, 100);
	cr_assert_eq(pl.blocks[1].count, 10);
	cr_assert_eq(pl.blocks[2].addr, 110);
	cr_assert_eq(pl.blocks[2].count, 10);
	cr_assert_eq(pl.blocks[1].npoints + pl.blocks[2].npoints, 10);
	cr_assert_eq(pl.limit[MBMAP_HOLDING], 19);
	cr_assert_eq(pl.limit[MBMAP_INPUT], 125);
	cr_assert_eq(pl.data_bytes, 2 + 40);
	cr_assert_eq(pl.blocks[2].data_off, 2 + 20);
	cr_assert_eq(pl.splits, 1);
	/* keep splitting down to single points, then it refuses */
	while (mbplan_split(&pl, 1) == 0)
		;
	cr_assert_eq(pl.blocks[1].npoints, 1);
	cr_assert_eq(pl.blocks[1].addr, 100);
	for (size_t b = 2; b < pl.nblocks; b++)
		while (mbplan_split(&pl, b) == 0)
			;
	for (size_t b = 1; b < pl.nblocks; b++) {
		cr_assert_eq(pl.blocks[b].npoints, 1);
		cr_assert_eq(pl.blocks[b].addr, 100 + 2 * (b - 1));
	}
	cr_assert_eq(mbplan_split(&pl, 1), -ENOSPC);
	cr_assert_eq(mbplan_split(&pl, 99), -EINVAL);
	cr_assert_eq(pl.nblocks, 11);
	cr_assert_eq(pl.limit[MBMAP_HOLDING], 3);	/* 2 points x 2 regs */
	mbplan_free(&pl);
}

Test(mbplan, empty_profile)
{
	struct mbplan pl;

	reset();
	cr_assert_eq(mbplan_build(&pl, &prof, &lim), 0);
	cr_assert_eq(pl.nblocks, 0);
	cr_assert_eq(pl.data_bytes, 0);
	mbplan_free(&pl);
}

/* The last point add()ed gets a poll class of its own. */
static void
every_ms(uint32_t ms)
{
	pts[prof.npoints - 1].interval_ms = ms;
}

Test(mbplan, poll_classes_never_share_a_read)
{
	struct mbplan_limits l = lim;
	struct mbplan pl;
	unsigned reads[12] = { 0 };

	l.poll_ms = 1000;
	reset();
	add(MBMAP_INPUT, 0, MBMAP_UINT16);		/* every poll */
	add(MBMAP_INPUT, 1, MBMAP_UINT16);
	every_ms(60000);			/* 1 in 60: a setpoint */
	add(MBMAP_INPUT, 2, MBMAP_UINT16);		/* every poll */
	add(MBMAP_INPUT, 3, MBMAP_UINT32);
	every_ms(1400);				/* rounds to 1: every poll */
	add(MBMAP_COIL, 0, MBMAP_BOOL);
	every_ms(10000);			/* 1 in 10 */
	add(MBMAP_COIL, 1, MBMAP_BOOL);
	every_ms(10400);			/* rounds to 10 too */
	add(MBMAP_HOLDING, 0, MBMAP_UINT16);
	every_ms(2500);				/* 2.5 rounds to 3 */
	cr_assert_eq(mbplan_build(&pl, &prof, &l), 0);
	/* coils (1 in 10), input every poll (0, 2, 3-4), input 1 in 60,
	 * holding 1 in 3 */
	cr_assert_eq(pl.nblocks, 4);
	cr_assert_eq(pl.blocks[0].table, MBMAP_COIL);
	cr_assert_eq(pl.blocks[0].every, 10);
	cr_assert_eq(pl.blocks[0].count, 2);
	cr_assert_eq(pl.blocks[1].table, MBMAP_INPUT);
	cr_assert_eq(pl.blocks[1].every, 1);
	cr_assert_eq(pl.blocks[1].npoints, 3);
	/* it spans the slow register 1 (a gap of 1) but does not own it */
	cr_assert_eq(pl.blocks[1].addr, 0);
	cr_assert_eq(pl.blocks[1].count, 5);
	cr_assert_eq(pl.blocks[2].table, MBMAP_INPUT);
	cr_assert_eq(pl.blocks[2].every, 60);
	cr_assert_eq(pl.blocks[2].addr, 1);
	cr_assert_eq(pl.blocks[2].count, 1);
	cr_assert_eq(pl.blocks[3].table, MBMAP_HOLDING);
	cr_assert_eq(pl.blocks[3].every, 3);
	/* poll 0 reads everything; then each block on its own beat */
	for (uint32_t seq = 0; seq < 120; seq++)
		for (size_t b = 0; b < pl.nblocks; b++)
			reads[b] += (unsigned)mbplan_due(&pl, b, seq);
	cr_assert_eq(reads[0], 12);
	cr_assert_eq(reads[1], 120);
	cr_assert_eq(reads[2], 2);
	cr_assert_eq(reads[3], 40);
	for (size_t b = 0; b < pl.nblocks; b++)
		cr_assert(mbplan_due(&pl, b, 0));
	cr_assert_float_eq(mbplan_reads_per_poll(&pl),
	    0.1 + 1 + 1.0 / 60 + 1.0 / 3, 1e-9);
	/* a split keeps the class of the block it came from */
	cr_assert_eq(mbplan_split(&pl, 0), 0);
	cr_assert_eq(pl.blocks[0].every, 10);
	cr_assert_eq(pl.blocks[1].every, 10);
	mbplan_free(&pl);
}

Test(mbplan, classes_ignored_without_a_poll_interval)
{
	struct mbplan pl;

	reset();
	add(MBMAP_INPUT, 0, MBMAP_UINT16);
	add(MBMAP_INPUT, 1, MBMAP_UINT16);
	every_ms(60000);
	cr_assert_eq(mbplan_build(&pl, &prof, &lim), 0);	/* poll_ms 0 */
	cr_assert_eq(pl.nblocks, 1);
	cr_assert_eq(pl.blocks[0].every, 1);
	mbplan_free(&pl);
	/* a point slower than the device but by less than half a poll */
	{
		struct mbplan_limits l = lim;

		l.poll_ms = 5000;
		every_ms(7000);
		cr_assert_eq(mbplan_build(&pl, &prof, &l), 0);
		cr_assert_eq(pl.nblocks, 1);
		mbplan_free(&pl);
		every_ms(100);		/* faster than the device: every poll */
		cr_assert_eq(mbplan_build(&pl, &prof, &l), 0);
		cr_assert_eq(pl.nblocks, 1);
		mbplan_free(&pl);
	}
}
