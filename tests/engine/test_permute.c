/* SPDX-License-Identifier: MIT */
/* test_permute.c: primality, and the cyclic-group walk visiting each index once per shard set. */
#include "permute.h"

#include "err.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const uint64_t seeds[] = { 0, 1, 2, 42, 0xdeadbeefull, 0x0123456789abcdefull, UINT64_MAX };
#define N_SEEDS (sizeof(seeds) / sizeof(seeds[0]))

/* ---- helpers ---------------------------------------------------------------------------- */

static uint8_t *bitmap_new(uint64_t n)
{
	uint8_t *b = calloc((size_t)(n / 8 + 1), 1);
	cr_assert_not_null(b, "calloc(%llu bits)", (unsigned long long)n);
	return b;
}

/* Sets bit i; returns whether it was already set. */
static int bitmap_test_set(uint8_t *b, uint64_t i)
{
	int was = b[i / 8] >> (i % 8) & 1;
	b[i / 8] |= (uint8_t)(1u << (i % 8));
	return was;
}

static void init_ok(struct permute *pm, uint64_t n, uint64_t seed, uint32_t shard, uint32_t shards)
{
	int rc = permute_init(pm, n, seed, shard, shards);
	cr_assert_eq(rc, 0, "permute_init(n=%llu, seed=%#llx, shard=%u/%u) = %d (%s)",
		     (unsigned long long)n, (unsigned long long)seed, shard, shards, rc, lnmt_strerror(rc));
}

/* Walks one full permutation and checks each index in 0..n-1 comes exactly once. */
static void expect_full_walk(uint64_t n, uint64_t seed)
{
	struct permute pm;
	uint8_t *seen = bitmap_new(n);
	uint64_t idx, visited = 0;

	init_ok(&pm, n, seed, 0, 1);
	cr_assert(pm.p > n && permute_is_prime(pm.p), "n=%llu: p=%llu is not a prime above n",
		  (unsigned long long)n, (unsigned long long)pm.p);
	while (permute_next(&pm, &idx)) {
		cr_assert_lt(idx, n, "n=%llu seed=%#llx: index %llu out of range", (unsigned long long)n,
			     (unsigned long long)seed, (unsigned long long)idx);
		cr_assert_not(bitmap_test_set(seen, idx), "n=%llu seed=%#llx: index %llu visited twice",
			      (unsigned long long)n, (unsigned long long)seed, (unsigned long long)idx);
		visited++;
	}
	cr_assert_eq(visited, n, "n=%llu seed=%#llx: visited %llu indexes", (unsigned long long)n,
		     (unsigned long long)seed, (unsigned long long)visited);
	cr_assert_not(permute_next(&pm, &idx), "n=%llu: walk resumed after it ended", (unsigned long long)n);
	free(seen);
}

/* Collects a shard's sequence into a fresh array; *len receives its length. */
static uint64_t *collect(struct permute *pm, uint64_t cap, uint64_t *len)
{
	uint64_t *v = malloc((size_t)(cap + 1) * sizeof(*v)), idx, k = 0;

	cr_assert_not_null(v, "malloc");
	while (permute_next(pm, &idx)) {
		cr_assert_lt(k, cap, "shard yielded more than %llu indexes", (unsigned long long)cap);
		v[k++] = idx;
	}
	*len = k;
	return v;
}

/* ---- primality -------------------------------------------------------------------------- */

Test(permute, is_prime_matches_sieve)
{
	enum { LIMIT = 100000 };
	static uint8_t composite[LIMIT + 1];

	composite[0] = composite[1] = 1;
	for (uint32_t i = 2; (uint64_t)i * i <= LIMIT; i++)
		if (!composite[i])
			for (uint32_t j = i * i; j <= LIMIT; j += i)
				composite[j] = 1;
	for (uint64_t n = 0; n <= LIMIT; n++)
		cr_assert_eq(permute_is_prime(n), !composite[n], "permute_is_prime(%llu) = %d, sieve says %d",
			     (unsigned long long)n, permute_is_prime(n), !composite[n]);
}

Test(permute, is_prime_large)
{
	static const uint64_t primes[] = {
		2305843009213693951ull,  /* 2^61 - 1 (Mersenne) */
		4611686018427387847ull,  /* 2^62 - 57, largest prime below 2^62 */
		4611686018427388039ull,  /* smallest prime above 2^62 */
		18446744073709551557ull, /* 2^64 - 59, largest 64-bit prime */
		1099511627791ull,        /* 2^40 + 15 */
		4294967291ull,           /* 2^32 - 5 */
		4294967311ull,           /* 2^32 + 15 */
		2147483647ull,           /* 2^31 - 1 */
		65537, 1000003,
	};
	static const uint64_t composites[] = {
		561, 41041, 825265, 321197185, 5394826801ull, 232250619601ull,
		9746347772161ull,             /* Carmichael numbers */
		2047,                         /* strong pseudoprime to base 2 */
		3215031751ull,                /* strong pseudoprime to bases 2, 3, 5, 7 */
		3825123056546413051ull,       /* strong pseudoprime to bases 2..23 */
		4611686018427387905ull,       /* 2^62 + 1 = 5 * ... */
		4611686018427387904ull,       /* 2^62 */
		18446744030759878681ull,      /* (2^32 - 5)^2 */
		18446744073709551615ull,      /* 2^64 - 1 */
		2305843009213693953ull,       /* 2^61 + 1 (divisible by 3) */
		4294967291ull * 2147483647ull, /* product of two large primes */
		1000003ull * 1000003ull,
	};

	for (size_t i = 0; i < sizeof(primes) / sizeof(primes[0]); i++)
		cr_assert(permute_is_prime(primes[i]), "%llu is prime, permute_is_prime says composite",
			  (unsigned long long)primes[i]);
	for (size_t i = 0; i < sizeof(composites) / sizeof(composites[0]); i++)
		cr_assert_not(permute_is_prime(composites[i]), "%llu is composite, permute_is_prime says prime",
			      (unsigned long long)composites[i]);
}

Test(permute, mulmod_powmod)
{
	const uint64_t m = 18446744073709551557ull; /* 2^64 - 59 */

	/* (m-1)^2 = 1 mod m; Fermat: a^(m-1) = 1 mod prime m. */
	cr_assert_eq(permute_mulmod(m - 1, m - 1, m), 1, "got %llu",
		     (unsigned long long)permute_mulmod(m - 1, m - 1, m));
	cr_assert_eq(permute_powmod(3, m - 1, m), 1, "got %llu",
		     (unsigned long long)permute_powmod(3, m - 1, m));
	cr_assert_eq(permute_powmod(2, 10, 1000), 24, "got %llu",
		     (unsigned long long)permute_powmod(2, 10, 1000));
	cr_assert_eq(permute_powmod(5, 0, 7), 1, "got %llu", (unsigned long long)permute_powmod(5, 0, 7));
	cr_assert_eq(permute_powmod(5, 3, 1), 0, "got %llu", (unsigned long long)permute_powmod(5, 3, 1));
	cr_assert_eq(permute_mul_fast(65536, 65536, 65537), 1, "got %llu",
		     (unsigned long long)permute_mul_fast(65536, 65536, 65537));
	cr_assert_eq(permute_mul_fast(m - 2, m - 3, m), 6, "got %llu",
		     (unsigned long long)permute_mul_fast(m - 2, m - 3, m));
	cr_assert_eq(permute_mul_fast(4294967290ull, 4294967290ull, 4294967291ull), 1, "got %llu",
		     (unsigned long long)permute_mul_fast(4294967290ull, 4294967290ull, 4294967291ull));
}

/* ---- full walks ------------------------------------------------------------------------- */

Test(permute, walk_small)
{
	static const uint64_t ns[] = { 1, 2, 3, 4, 7, 10, 100 };

	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		for (size_t s = 0; s < N_SEEDS; s++)
			expect_full_walk(ns[i], seeds[s]);
}

Test(permute, walk_prime_n)
{
	for (size_t s = 0; s < N_SEEDS; s++)
		expect_full_walk(65521, seeds[s]);
}

Test(permute, walk_65536)
{
	for (size_t s = 0; s < N_SEEDS; s++)
		expect_full_walk(65536, seeds[s]);
}

Test(permute, walk_addresses_times_ports)
{
	for (size_t s = 0; s < N_SEEDS; s++)
		expect_full_walk(65536 * 3, seeds[s]);
}

Test(permute, walk_1000003)
{
	for (size_t s = 0; s < 3; s++)
		expect_full_walk(1000003, seeds[s]);
}

Test(permute, same_seed_same_order)
{
	struct permute a, b;
	uint64_t x, y, k = 0;

	init_ok(&a, 65536, 7, 0, 1);
	init_ok(&b, 65536, 7, 0, 1);
	for (;;) {
		bool ma = permute_next(&a, &x), mb = permute_next(&b, &y);
		cr_assert_eq(ma, mb, "walks of the same seed end at different points (step %llu)",
			     (unsigned long long)k);
		if (!ma)
			break;
		cr_assert_eq(x, y, "step %llu: %llu vs %llu for the same seed", (unsigned long long)k,
			     (unsigned long long)x, (unsigned long long)y);
		k++;
	}
	cr_assert_eq(k, 65536, "walked %llu", (unsigned long long)k);
}

Test(permute, different_seeds_different_orders)
{
	struct permute a, b;
	uint64_t x[16], y[16];
	int same = 0;

	init_ok(&a, 65536, 1, 0, 1);
	init_ok(&b, 65536, 2, 0, 1);
	for (int i = 0; i < 16; i++) {
		cr_assert(permute_next(&a, &x[i]) && permute_next(&b, &y[i]), "walk ended early");
		same += x[i] == y[i];
	}
	cr_assert_neq(memcmp(x, y, sizeof(x)), 0, "seeds 1 and 2 give the same first 16 indexes");
	cr_assert_lt(same, 4, "seeds 1 and 2 agree at %d of the first 16 positions", same);
}

Test(permute, rewind_replays)
{
	struct permute pm;
	uint64_t len1, len2, *first, *again;

	init_ok(&pm, 100003, 99, 0, 1);
	first = collect(&pm, 100003, &len1);
	permute_rewind(&pm);
	again = collect(&pm, 100003, &len2);
	cr_assert_eq(len1, 100003, "first pass %llu", (unsigned long long)len1);
	cr_assert_eq(len2, len1, "replay %llu vs %llu", (unsigned long long)len2, (unsigned long long)len1);
	for (uint64_t i = 0; i < len1; i++)
		cr_assert_eq(first[i], again[i], "step %llu: %llu then %llu", (unsigned long long)i,
			     (unsigned long long)first[i], (unsigned long long)again[i]);

	/* Rewinding part-way through also restarts from the beginning. */
	permute_rewind(&pm);
	uint64_t idx;
	for (int i = 0; i < 10; i++)
		cr_assert(permute_next(&pm, &idx), "walk ended early");
	permute_rewind(&pm);
	cr_assert(permute_next(&pm, &idx), "walk empty after rewind");
	cr_assert_eq(idx, first[0], "after rewind: %llu, expected %llu", (unsigned long long)idx,
		     (unsigned long long)first[0]);
	free(first);
	free(again);
}

/* ---- shards ----------------------------------------------------------------------------- */

static void expect_shards_partition(uint64_t n, uint32_t shards, uint64_t seed)
{
	uint8_t *seen = bitmap_new(n);
	uint64_t total = 0;

	for (uint32_t sh = 0; sh < shards; sh++) {
		struct permute pm;
		uint64_t len, len2, *seq, *replay;

		init_ok(&pm, n, seed, sh, shards);
		seq = collect(&pm, n, &len);
		for (uint64_t i = 0; i < len; i++) {
			cr_assert_lt(seq[i], n, "n=%llu shard %u/%u: index %llu out of range",
				     (unsigned long long)n, sh, shards, (unsigned long long)seq[i]);
			cr_assert_not(bitmap_test_set(seen, seq[i]),
				      "n=%llu shards=%u seed=%#llx: index %llu visited twice (second time by shard %u)",
				      (unsigned long long)n, shards, (unsigned long long)seed,
				      (unsigned long long)seq[i], sh);
		}
		total += len;

		permute_rewind(&pm);
		replay = collect(&pm, n, &len2);
		cr_assert_eq(len2, len, "n=%llu shard %u/%u: replay has %llu, first pass %llu",
			     (unsigned long long)n, sh, shards, (unsigned long long)len2,
			     (unsigned long long)len);
		cr_assert_eq(memcmp(seq, replay, (size_t)len * sizeof(*seq)), 0,
			     "n=%llu shard %u/%u: rewind does not replay the same sequence",
			     (unsigned long long)n, sh, shards);
		free(seq);
		free(replay);
	}
	cr_assert_eq(total, n, "n=%llu shards=%u seed=%#llx: shards visited %llu in all",
		     (unsigned long long)n, shards, (unsigned long long)seed, (unsigned long long)total);
	free(seen);
}

Test(permute, shards_partition)
{
	static const uint64_t ns[] = { 10, 65536, 100003 };
	static const uint32_t ks[] = { 2, 3, 7 };

	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		for (size_t k = 0; k < sizeof(ks) / sizeof(ks[0]); k++)
			for (size_t s = 0; s < 2; s++)
				expect_shards_partition(ns[i], ks[k], seeds[s + 1]);
}

Test(permute, more_shards_than_indexes)
{
	expect_shards_partition(1, 7, 3);
	expect_shards_partition(2, 7, 3);
	expect_shards_partition(3, 16, 3);
	expect_shards_partition(10, 1, 3);
}

/* ---- arguments -------------------------------------------------------------------------- */

Test(permute, bad_args)
{
	struct permute pm;
	int rc;

	rc = permute_init(&pm, 0, 1, 0, 1);
	cr_assert_eq(rc, LNMT_E_TOOBIG, "n=0: %d (%s), expected LNMT_E_TOOBIG (%d)", rc, lnmt_strerror(rc),
		     LNMT_E_TOOBIG);
	rc = permute_init(&pm, (1ull << 62) + 1, 1, 0, 1);
	cr_assert_eq(rc, LNMT_E_TOOBIG, "n=2^62+1: %d (%s), expected LNMT_E_TOOBIG", rc, lnmt_strerror(rc));
	rc = permute_init(&pm, UINT64_MAX, 1, 0, 1);
	cr_assert_eq(rc, LNMT_E_TOOBIG, "n=2^64-1: %d (%s), expected LNMT_E_TOOBIG", rc, lnmt_strerror(rc));
	rc = permute_init(&pm, 100, 1, 0, 0);
	cr_assert_eq(rc, -EINVAL, "shards=0: %d (%s), expected -EINVAL", rc, lnmt_strerror(rc));
	rc = permute_init(&pm, 100, 1, 3, 3);
	cr_assert_eq(rc, -EINVAL, "shard=3 of 3: %d (%s), expected -EINVAL", rc, lnmt_strerror(rc));
	rc = permute_init(&pm, 100, 1, 9, 3);
	cr_assert_eq(rc, -EINVAL, "shard=9 of 3: %d (%s), expected -EINVAL", rc, lnmt_strerror(rc));
	rc = permute_init(&pm, 100, 1, UINT32_MAX, UINT32_MAX);
	cr_assert_eq(rc, -EINVAL, "shard=shards=2^32-1: %d (%s), expected -EINVAL", rc, lnmt_strerror(rc));
}

Test(permute, large_n_2_40)
{
	const uint64_t n = 1ull << 40;
	enum { K = 1000 };
	struct permute pm;
	uint64_t v[K];

	init_ok(&pm, n, 12345, 0, 1);
	cr_assert_eq(pm.p, 1099511627791ull, "p=%llu, expected 2^40+15", (unsigned long long)pm.p);
	for (int i = 0; i < K; i++) {
		cr_assert(permute_next(&pm, &v[i]), "walk ended after %d", i);
		cr_assert_lt(v[i], n, "index %llu >= 2^40", (unsigned long long)v[i]);
		for (int j = 0; j < i; j++)
			cr_assert_neq(v[i], v[j], "index %llu repeated at steps %d and %d",
				      (unsigned long long)v[i], j, i);
	}
}

Test(permute, largest_n_2_62)
{
	const uint64_t n = 1ull << 62;
	struct permute pm;
	uint64_t idx, prev = UINT64_MAX;

	init_ok(&pm, n, 5, 1, 4);
	cr_assert(pm.p > n && permute_is_prime(pm.p), "p=%llu", (unsigned long long)pm.p);
	for (int i = 0; i < 100; i++) {
		cr_assert(permute_next(&pm, &idx), "walk ended after %d", i);
		cr_assert_lt(idx, n, "index %llu >= 2^62", (unsigned long long)idx);
		cr_assert_neq(idx, prev, "index %llu repeated", (unsigned long long)idx);
		prev = idx;
	}
}
