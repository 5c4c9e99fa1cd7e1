/*
 * u64map.c - see u64map.h.
 *
 * The hash is the splitmix64 finaliser: keys here are packed small integers
 * ((device << 16) | code, incident numbers) whose low bits alone would
 * cluster badly under linear probing.
 */
#include <string.h>

#include "correlator/u64map.h"
#include "daemon/mem.h"

static uint64_t
u64map_hash(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

void
u64map_init(struct u64map *m)
{
	m->slots = NULL;
	m->mask = 0;
	m->used = 0;
}

void
u64map_fini(struct u64map *m)
{
	FREE_NULL(m->slots);
	m->mask = 0;
	m->used = 0;
}

void *
u64map_get(const struct u64map *m, uint64_t key)
{
	size_t i;

	if (m->slots == NULL)
		return NULL;
	i = u64map_hash(key) & m->mask;
	while (m->slots[i].val != NULL) {
		if (m->slots[i].key == key)
			return m->slots[i].val;
		i = (i + 1) & m->mask;
	}
	return NULL;
}

static void
u64map_insert(struct u64map *m, uint64_t key, void *val)
{
	size_t i = u64map_hash(key) & m->mask;

	while (m->slots[i].val != NULL) {
		if (m->slots[i].key == key) {
			m->slots[i].val = val;
			return;
		}
		i = (i + 1) & m->mask;
	}
	m->slots[i].key = key;
	m->slots[i].val = val;
	m->used++;
}

/*
 * Moves every entry into a table of n slots (a power of two).  The table
 * is zeroed by writing, not taken zeroed from calloc: a big calloc is fresh
 * pages the kernel maps to its shared zero page on the first read (a probe
 * of an empty slot), so the first write to each page faulted a second time
 * and flushed the TLB of every CPU running another thread of the process
 * (an IPI, a VM exit here): 9% of a two-shard restore (perf).
 */
static void
u64map_resize(struct u64map *m, size_t n)
{
	struct u64map big;

	big.slots = xreallocarray(NULL, n, sizeof(*big.slots));
	memset(big.slots, 0, n * sizeof(*big.slots));
	big.mask = n - 1;
	big.used = 0;
	if (m->slots != NULL)
		for (size_t j = 0; j <= m->mask; j++)
			if (m->slots[j].val != NULL)
				u64map_insert(&big, m->slots[j].key,
				    m->slots[j].val);
	xfree(m->slots);
	*m = big;
}

void
u64map_put(struct u64map *m, uint64_t key, void *val)
{
	if (m->slots == NULL || (m->used + 1) * 2 > m->mask + 1)
		u64map_resize(m, m->slots == NULL ? 16 : (m->mask + 1) * 2);
	u64map_insert(m, key, val);
}

void
u64map_reserve(struct u64map *m, size_t n)
{
	size_t slots = 16;

	while (slots / 2 < n)
		slots *= 2;
	if (m->slots == NULL || slots > m->mask + 1)
		u64map_resize(m, slots);
}

/*
 * The pairs are sorted (stably, so that equal keys keep their order) into
 * up to U64MAP_BATCH_BUCKETS runs by the table region their home slot is
 * in, then inserted run by run: each run's probes stay in a few KiB of
 * table.  Inserted one by one in the order they come, a restore's puts
 * were a cache miss each (the tables of 50,000 incidents are 2 MiB each,
 * the size of this machine's L2): a quarter of a snapshot's load (perf,
 * docs/benchmarks.md).
 */
#define U64MAP_BATCH_BUCKETS	1024

void
u64map_put_batch(struct u64map *m, const struct u64map_slot *v, size_t n)
{
	uint32_t cnt[U64MAP_BATCH_BUCKETS + 1];
	struct u64map_slot *run;
	size_t nb = U64MAP_BATCH_BUCKETS;
	unsigned shift = 0;

	if (n < 64) {		/* too few to pay for the sort */
		for (size_t i = 0; i < n; i++)
			u64map_put(m, v[i].key, v[i].val);
		return;
	}
	u64map_reserve(m, m->used + n);
	while (nb > m->mask + 1)
		nb /= 2;
	while (((m->mask + 1) >> shift) > nb)
		shift++;
	memset(cnt, 0, sizeof(cnt));
	for (size_t i = 0; i < n; i++)
		cnt[((u64map_hash(v[i].key) & m->mask) >> shift) + 1]++;
	for (size_t b = 1; b <= nb; b++)
		cnt[b] += cnt[b - 1];
	run = xreallocarray(NULL, n, sizeof(*run));
	for (size_t i = 0; i < n; i++)
		run[cnt[(u64map_hash(v[i].key) & m->mask) >> shift]++] = v[i];
	for (size_t i = 0; i < n; i++)
		u64map_insert(m, run[i].key, run[i].val);
	xfree(run);
}

void *
u64map_del(struct u64map *m, uint64_t key)
{
	size_t i, j;
	void *val;

	if (m->slots == NULL)
		return NULL;
	i = u64map_hash(key) & m->mask;
	while (m->slots[i].val != NULL && m->slots[i].key != key)
		i = (i + 1) & m->mask;
	if (m->slots[i].val == NULL)
		return NULL;
	val = m->slots[i].val;
	m->used--;
	/* Backward shift: pull later members of the probe run into the hole. */
	j = i;
	for (;;) {
		size_t home;

		j = (j + 1) & m->mask;
		if (m->slots[j].val == NULL)
			break;
		home = u64map_hash(m->slots[j].key) & m->mask;
		/* Move j to i unless its home lies cyclically in (i, j]. */
		if ((i <= j) ? (home <= i || home > j) : (home <= i && home > j)) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].val = NULL;
	m->slots[i].key = 0;
	return val;
}

int
u64map_next(const struct u64map *m, size_t *pos, uint64_t *key, void **val)
{
	if (m->slots == NULL)
		return 0;
	while (*pos <= m->mask) {
		size_t i = (*pos)++;
		if (m->slots[i].val != NULL) {
			if (key != NULL)
				*key = m->slots[i].key;
			if (val != NULL)
				*val = m->slots[i].val;
			return 1;
		}
	}
	return 0;
}
