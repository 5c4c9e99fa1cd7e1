/*
 * test_u64map.c - the map agrees with a plain array model under a long
 * random mix of put/get/del (backward-shift deletion is easy to get wrong).
 */
#include <criterion/criterion.h>
#include <stdint.h>

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
