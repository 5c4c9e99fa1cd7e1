/*
 * u64map.h - a small open-addressing hash map from uint64_t keys to
 * non-NULL pointers, for the correlator's per-shard indexes (alarms by
 * (device, code), incidents by number, sites, areas).
 *
 * Linear probing, power-of-two table, load kept at or under 1/2, deletion by
 * backward shift (no tombstones, so a long-running shard never degrades).
 * One slot is 16 bytes: at load 1/2 an entry costs 32 bytes of table.
 * Not thread-safe: a map belongs to one shard.
 */
#ifndef TOCSIN_U64MAP_H
#define TOCSIN_U64MAP_H

#include <stddef.h>
#include <stdint.h>

struct u64map_slot {
	uint64_t	 key;
	void		*val;		/* NULL = empty slot */
};

struct u64map {
	struct u64map_slot *slots;	/* mask + 1 slots, or NULL when empty */
	size_t		 mask;		/* nslots - 1 */
	size_t		 used;		/* live entries */
};

/* Initialises an empty map (no allocation until the first put). */
void	 u64map_init(struct u64map *m);
/* Frees the table; the values are the caller's. */
void	 u64map_fini(struct u64map *m);
/* The value stored under key, or NULL. */
void	*u64map_get(const struct u64map *m, uint64_t key);
/* Stores val (not NULL) under key, replacing any previous value. */
void	 u64map_put(struct u64map *m, uint64_t key, void *val);
/*
 * Makes room for n entries in all, so that putting up to n grows the table
 * no more (a loader that knows how many are coming: one table instead of
 * every doubling's, each entry hashed once).
 */
void	 u64map_reserve(struct u64map *m, size_t n);
/*
 * Stores the n (key, val) pairs of v as n u64map_put() in their order
 * would (a later pair with a key wins), inserting them in the order of
 * their place in the table: a loader's thousands of puts then walk the
 * table once instead of each missing the cache (u64map.c).
 */
void	 u64map_put_batch(struct u64map *m, const struct u64map_slot *v,
	    size_t n);
/* Removes key; returns its value or NULL if it was absent. */
void	*u64map_del(struct u64map *m, uint64_t key);

/*
 * Iteration: for (size_t i = 0; u64map_next(m, &i, &k, &v); ) visits every
 * entry once in table order; the map must not change meanwhile.
 */
int	 u64map_next(const struct u64map *m, size_t *pos, uint64_t *key,
	    void **val);

#endif
