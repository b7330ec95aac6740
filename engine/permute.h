/* SPDX-License-Identifier: MIT */
/*
 * permute.h: a random order over 0..n-1 in O(1) memory, as ZMap walks its targets.
 *
 * The indexes are the elements of the multiplicative group modulo the smallest prime p > n
 * (elements 1..p-1, index = element - 1), visited by repeated multiplication with a primitive
 * root g, so the cycle hits every element exactly once; elements above n are skipped (p is
 * the next prime, so few are). The seed picks g and the starting point, so the same seed gives
 * the same order. Shard i of k takes every k-th step of the cycle starting at step i: shards
 * are disjoint and together cover 0..n-1. n may be up to 2^62.
 */
#ifndef LNMT_PERMUTE_H
#define LNMT_PERMUTE_H

#include <stdbool.h>
#include <stdint.h>

struct permute {
	uint64_t n;         /* indexes 0..n-1 */
	uint64_t p;         /* prime > n */
	uint64_t g;         /* primitive root mod p */
	uint64_t step;      /* g^shards mod p: one step of this shard */
	uint64_t first;     /* the shard's first element */
	uint64_t cur;       /* next element to visit */
	uint64_t left;      /* cycle steps this shard still has to take */
	uint64_t steps;     /* cycle steps of this shard in all */
};

/*
 * Prepares the walk. shard is 0..shards-1; shards >= 1. Returns 0, or LNMT_E_TOOBIG when n is
 * 0 or above 2^62, -EINVAL for a bad shard.
 */
int permute_init(struct permute *pm, uint64_t n, uint64_t seed, uint32_t shard, uint32_t shards);

/* Next index of the walk; false when the shard is done. Hot path: one mulmod per call. */
static inline bool permute_next(struct permute *pm, uint64_t *idx);

/* Starts the same walk again (retry passes re-walk it and skip what answered). */
void permute_rewind(struct permute *pm);

/* Helpers exposed for tests. */
bool permute_is_prime(uint64_t n);
uint64_t permute_mulmod(uint64_t a, uint64_t b, uint64_t m);
uint64_t permute_powmod(uint64_t b, uint64_t e, uint64_t m);

static inline uint64_t permute_mul_fast(uint64_t a, uint64_t b, uint64_t m)
{
	/* Both factors are below m; below 2^32 the product fits in 64 bits and avoids a 128-bit divide. */
	if (m <= 0xffffffffull)
		return a * b % m;
	return (uint64_t)((unsigned __int128)a * b % m);
}

static inline bool permute_next(struct permute *pm, uint64_t *idx)
{
	while (pm->left) {
		uint64_t x = pm->cur;
		pm->cur = permute_mul_fast(pm->cur, pm->step, pm->p);
		pm->left--;
		if (x - 1 < pm->n) {
			*idx = x - 1;
			return true;
		}
	}
	return false;
}

#endif
