/*
 * catomic.h - the correlator's only atomics, each naming its memory order
 * (STYLE.md 9): the shard rings' indexes (corrshard.c), and the flags and
 * counters around them.
 */
#ifndef TOCSIN_CATOMIC_H
#define TOCSIN_CATOMIC_H

#include <stdatomic.h>

/* Readers of a flag see everything written before its release store. */
#define catomic_load_acquire(p)		atomic_load_explicit((p), memory_order_acquire)
#define catomic_store_release(p, v)	atomic_store_explicit((p), (v), memory_order_release)
/* Statistics: no ordering, just no torn values. */
#define catomic_load_relaxed(p)		atomic_load_explicit((p), memory_order_relaxed)
#define catomic_add_relaxed(p, v)	atomic_fetch_add_explicit((p), (v), memory_order_relaxed)

#endif
