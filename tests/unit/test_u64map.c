/*
 * test_u64map.c - the map agrees with a plain array model under a long
 * random mix of put/get/del (backward-shift deletion is easy to get wrong).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

#include "correlator/u64map.h"

Test(u64map, random_ops_match_model)
{
	enum { NKEYS = 512, NOPS = 200000 };
	static uintptr_t model[NKEYS];
	struct u64map m;
	uint64_t x = 88172645463325252ULL;
	size_t live = 0, pos = 0, seen = 0;
	uint64_t k;
	void *v;

	u64map_init(&m);
	for (int i = 0; i < NOPS; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		unsigned key = (unsigned)(x % NKEYS), op = (unsigned)(x >> 40) % 3;
		/* Keys that collide in the low bits stress probe runs. */
		uint64_t mk = (uint64_t)key << 20;

		if (op == 0) {
			if (model[key] == 0)
				live++;
			model[key] = (uintptr_t)i + 1;
			u64map_put(&m, mk, (void *)model[key]);
		} else if (op == 1) {
			void *got = u64map_del(&m, mk);
			cr_assert_eq((uintptr_t)got, model[key]);
			if (model[key] != 0)
				live--;
			model[key] = 0;
		} else {
			cr_assert_eq((uintptr_t)u64map_get(&m, mk), model[key]);
		}
		cr_assert_eq(m.used, live);
	}
	while (u64map_next(&m, &pos, &k, &v)) {
		cr_assert_eq((uintptr_t)v, model[k >> 20]);
		seen++;
	}
	cr_assert_eq(seen, live);
	u64map_fini(&m);
	cr_assert_null(u64map_get(&m, 1));
}

/*
 * A batch of puts is the same as the puts one by one in their order: on
 * a map that already holds keys, with keys twice in the batch (the later
 * wins) and keys that collide in the low bits, above and below the size
 * where the batch sorts.
 */
Test(u64map, put_batch_is_the_puts_in_order)
{
	static const size_t sizes[] = { 0, 1, 63, 64, 65, 1000, 40000 };
	struct u64map a, b;
	struct u64map_slot *v;
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	for (size_t t = 0; t < sizeof(sizes) / sizeof(sizes[0]); t++) {
		size_t n = sizes[t], pos = 0, seen = 0;
		uint64_t k;
		void *val;

		u64map_init(&a);
		u64map_init(&b);
		for (uint64_t i = 1; i <= 300; i++) {	/* already there */
			u64map_put(&a, i << 20, (void *)(uintptr_t)i);
			u64map_put(&b, i << 20, (void *)(uintptr_t)i);
		}
		v = calloc(n ? n : 1, sizeof(*v));
		cr_assert_not_null(v);
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			/* a third of them repeat a key: of the batch, or held */
			v[i].key = (x % 3 == 0 ? x % (n / 2 + 301) : x % 100000)
			    << 20;
			v[i].val = (void *)(uintptr_t)(1000000 + i);
			u64map_put(&a, v[i].key, v[i].val);
		}
		u64map_put_batch(&b, v, n);
		cr_assert_eq(b.used, a.used, "%zu: %zu entries, want %zu", n,
		    b.used, a.used);
		while (u64map_next(&a, &pos, &k, &val)) {
			cr_assert_eq(u64map_get(&b, k), val, "%zu: key %llu", n,
			    (unsigned long long)k);
			seen++;
		}
		cr_assert_eq(seen, a.used);
		free(v);
		u64map_fini(&a);
		u64map_fini(&b);
	}
}
