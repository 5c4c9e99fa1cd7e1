/*
 * mbplan.c - merging a profile's points into as few reads as possible.
 *
 * Design: sort the point indices by (table, poll class, address), then
 * walk them once,
 * greedily extending the current block while the next point starts within
 * max_gap of the block's end and the block, extended to cover the point,
 * stays within the table's limit.  Greedy is optimal here: with a fixed
 * maximum span, starting a new block as late as possible never costs a
 * block.  Overlapping points (a bool in a register next to the register)
 * simply extend the block.
 *
 * Blocks refer to a contiguous run of plan->order, so a split is a cut in
 * that run; data_off gives each block its place in one per-device poll
 * buffer (data_bytes in all), recomputed whenever blocks change.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/mem.h"
#include "drivers/modbus/mbap.h"
#include "drivers/modbus/mbplan.h"

/* qsort_r comparator: ctx is the profile's points (no global state, so
 * plans may be built on any thread). */
struct sort_ctx {
	const struct mbmap_point *pts;
	const uint32_t	*every;		/* per point */
};

static int
point_cmp(const void *a, const void *b, void *arg)
{
	const struct sort_ctx *ctx = arg;
	uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
	const struct mbmap_point *pa = &ctx->pts[ia];
	const struct mbmap_point *pb = &ctx->pts[ib];

	if (pa->table != pb->table)
		return pa->table < pb->table ? -1 : 1;
	if (ctx->every[ia] != ctx->every[ib])
		return ctx->every[ia] < ctx->every[ib] ? -1 : 1;
	if (pa->address != pb->address)
		return pa->address < pb->address ? -1 : 1;
	return ia < ib ? -1 : 1;
}

/* A point's poll class: read on one poll in this many. */
static uint32_t
point_every(const struct mbmap_point *pt, uint32_t poll_ms)
{
	double k;

	if (pt->interval_ms == 0 || poll_ms == 0)
		return 1;
	k = (double)pt->interval_ms / poll_ms + 0.5;
	return k < 1 ? 1 : k > 1e6 ? 1000000 : (uint32_t)k;
}

static int
table_is_bits(unsigned t)
{
	return t == MBMAP_COIL || t == MBMAP_DISCRETE;
}

/* Width of a point in its table's units: registers, or 1 bit. */
static unsigned
point_width(const struct mbmap_point *pt)
{
	return table_is_bits(pt->table) ? 1 : mbmap_point_width(pt);
}

static struct mbplan_block *
block_add(struct mbplan *plan)
{
	if (plan->nblocks == plan->cap) {
		plan->cap = plan->cap ? plan->cap * 2 : 4;
		plan->blocks = xreallocarray(plan->blocks, plan->cap,
		    sizeof(*plan->blocks));
	}
	memset(&plan->blocks[plan->nblocks], 0, sizeof(*plan->blocks));
	return &plan->blocks[plan->nblocks++];
}

static void
block_finish(struct mbplan_block *b)
{
	b->fc = mbap_read_fc(b->table);
	b->nbytes = (uint16_t)(table_is_bits(b->table) ? (b->count + 7) / 8 :
	    b->count * 2);
}

static void
plan_offsets(struct mbplan *plan)
{
	uint32_t off = 0;

	for (size_t i = 0; i < plan->nblocks; i++) {
		plan->blocks[i].data_off = off;
		off += plan->blocks[i].nbytes;
	}
	plan->data_bytes = off;
}

/* Sets block b's range from the points it covers. */
static void
block_span(struct mbplan_block *b, const struct mbplan *plan,
    const struct mbmap_point *pts)
{
	unsigned lo = 65536, hi = 0, end;

	for (uint32_t i = b->first; i < b->first + b->npoints; i++) {
		const struct mbmap_point *pt = &pts[plan->order[i]];

		end = pt->address + point_width(pt);
		if (end > 65536)
			end = 65536;
		if (pt->address < lo)
			lo = pt->address;
		if (end > hi)
			hi = end;
	}
	b->addr = (uint16_t)lo;
	b->count = (uint16_t)(hi - lo);
	block_finish(b);
}

int
mbplan_build(struct mbplan *plan, const struct mbmap_profile *p,
    const struct mbplan_limits *lim)
{
	struct mbplan_block *b = NULL;
	struct sort_ctx ctx;
	uint32_t *every;
	unsigned end = 0, limit, gap;

	if (lim->max_regs == 0 || lim->max_bits == 0)
		return -EINVAL;
	memset(plan, 0, sizeof(*plan));
	plan->max_gap = lim->max_gap;
	plan->limit[MBMAP_COIL] = plan->limit[MBMAP_DISCRETE] =
	    lim->max_bits > MBAP_MAX_BITS ? MBAP_MAX_BITS : lim->max_bits;
	plan->limit[MBMAP_INPUT] = plan->limit[MBMAP_HOLDING] =
	    lim->max_regs > MBAP_MAX_REGS ? MBAP_MAX_REGS : lim->max_regs;
	plan->npoints = p->npoints;
	plan->order = xcalloc(p->npoints ? p->npoints : 1, sizeof(uint32_t));
	plan->src = p->points;
	every = xcalloc(p->npoints ? p->npoints : 1, sizeof(uint32_t));
	for (uint32_t i = 0; i < p->npoints; i++) {
		plan->order[i] = i;
		every[i] = point_every(&p->points[i], lim->poll_ms);
	}
	ctx.pts = p->points;
	ctx.every = every;
	qsort_r(plan->order, p->npoints, sizeof(uint32_t), point_cmp, &ctx);

	for (uint32_t i = 0; i < p->npoints; i++) {
		const struct mbmap_point *pt = &p->points[plan->order[i]];
		unsigned pend = pt->address + point_width(pt);

		limit = plan->limit[pt->table < MBMAP__TABLES ? pt->table :
		    MBMAP_HOLDING];
		gap = table_is_bits(pt->table) ? plan->max_gap * 16u :
		    plan->max_gap;
		if (b != NULL && b->table == pt->table &&
		    b->every == every[plan->order[i]] &&
		    pt->address <= end + gap &&
		    (pend > end ? pend : end) - b->addr <= limit &&
		    pend <= 65536) {
			b->npoints++;
			if (pend > end)
				end = pend;
			b->count = (uint16_t)(end - b->addr);
			continue;
		}
		if (b != NULL)
			block_finish(b);
		b = block_add(plan);
		b->table = pt->table < MBMAP__TABLES ? pt->table : MBMAP_HOLDING;
		b->addr = pt->address;
		b->first = i;
		b->npoints = 1;
		b->every = every[plan->order[i]];
		end = pend > 65536 ? 65536 : pend;
		b->count = (uint16_t)(end - b->addr);
	}
	if (b != NULL)
		block_finish(b);
	plan_offsets(plan);
	xfree(every);
	return 0;
}

double
mbplan_reads_per_poll(const struct mbplan *plan)
{
	double n = 0;

	for (size_t i = 0; i < plan->nblocks; i++)
		n += 1.0 / plan->blocks[i].every;
	return n;
}

int
mbplan_split(struct mbplan *plan, size_t bi)
{
	struct mbplan_block *b, *nb;
	const struct mbmap_point *pts = plan->src;
	uint32_t cut, half;
	uint16_t refused;

	if (bi >= plan->nblocks)
		return -EINVAL;
	if (plan->blocks[bi].npoints < 2)
		return -ENOSPC;
	(void)block_add(plan);	/* may move the array */
	memmove(&plan->blocks[bi + 2], &plan->blocks[bi + 1],
	    (plan->nblocks - bi - 2) * sizeof(*plan->blocks));
	b = &plan->blocks[bi];
	nb = &plan->blocks[bi + 1];
	*nb = *b;
	refused = b->count;
	/* Cut at the point boundary nearest the middle of the span. */
	half = b->addr + b->count / 2u;
	for (cut = 1; cut < b->npoints - 1; cut++)
		if (pts[plan->order[b->first + cut]].address >= half)
			break;
	nb->first = b->first + cut;
	nb->npoints = b->npoints - cut;
	b->npoints = cut;
	block_span(b, plan, pts);
	block_span(nb, plan, pts);
	/* All we know for sure: a read this long was refused here. */
	if (refused > 1 && refused - 1 < plan->limit[b->table])
		plan->limit[b->table] = (uint16_t)(refused - 1);
	plan->splits++;
	plan_offsets(plan);
	return 0;
}

int
mbplan_locate(const struct mbplan *plan, const struct mbmap_profile *p,
    uint32_t pt, size_t *block, unsigned *offset)
{
	for (size_t i = 0; i < plan->nblocks; i++) {
		const struct mbplan_block *b = &plan->blocks[i];

		for (uint32_t j = b->first; j < b->first + b->npoints; j++) {
			if (plan->order[j] != pt)
				continue;
			*block = i;
			*offset = p->points[pt].address - b->addr;
			return 0;
		}
	}
	return -ENOENT;
}

void
mbplan_free(struct mbplan *plan)
{
	FREE_NULL(plan->blocks);
	FREE_NULL(plan->order);
	plan->nblocks = plan->cap = plan->npoints = 0;
}
