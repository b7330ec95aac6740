/* SPDX-License-Identifier: MIT */
/* permute.c: prime search, primitive roots and shard set-up for the cyclic-group walk. */
#include "permute.h"

#include "err.h"

#include <errno.h>

uint64_t permute_mulmod(uint64_t a, uint64_t b, uint64_t m)
{
	return (uint64_t)((unsigned __int128)a * b % m);
}

uint64_t permute_powmod(uint64_t b, uint64_t e, uint64_t m)
{
	uint64_t r = 1 % m;

	b %= m;
	while (e) {
		if (e & 1)
			r = permute_mulmod(r, b, m);
		b = permute_mulmod(b, b, m);
		e >>= 1;
	}
	return r;
}

/* Miller-Rabin with the first 12 primes as bases: deterministic for all 64-bit n. */
bool permute_is_prime(uint64_t n)
{
	static const uint64_t bases[] = { 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37 };

	if (n < 2)
		return false;
	for (unsigned i = 0; i < 12; i++) {
		if (n % bases[i] == 0)
			return n == bases[i];
	}
	uint64_t d = n - 1;
	unsigned r = 0;
	while (!(d & 1)) {
		d >>= 1;
		r++;
	}
	for (unsigned i = 0; i < 12; i++) {
		uint64_t x = permute_powmod(bases[i], d, n);
		if (x == 1 || x == n - 1)
			continue;
		bool composite = true;
		for (unsigned k = 1; k < r && composite; k++) {
			x = permute_mulmod(x, x, n);
			if (x == n - 1)
				composite = false;
		}
		if (composite)
			return false;
	}
	return true;
}

/* Distinct prime factors of n by trial division: n < 2^63, so at most ~2^31.5 steps in theory,
 * but p-1 for the p we use has small factors almost always; 15 distinct primes is the most a
 * 64-bit number can have. */
static unsigned prime_factors(uint64_t n, uint64_t out[16])
{
	unsigned k = 0;

	for (uint64_t f = 2; f * f <= n; f += (f == 2 ? 1 : 2)) {
		if (n % f == 0) {
			out[k++] = f;
			while (n % f == 0)
				n /= f;
		}
	}
	if (n > 1)
		out[k++] = n;
	return k;
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t primitive_root(uint64_t p, uint64_t *rng)
{
	uint64_t factors[16];
	unsigned nf;

	if (p == 2)
		return 1;
	nf = prime_factors(p - 1, factors);
	for (;;) {
		uint64_t g = 2 + splitmix64(rng) % (p - 2); /* 2..p-1 */
		bool ok = true;
		for (unsigned i = 0; ok && i < nf; i++)
			ok = permute_powmod(g, (p - 1) / factors[i], p) != 1;
		if (ok)
			return g;
	}
}

int permute_init(struct permute *pm, uint64_t n, uint64_t seed, uint32_t shard, uint32_t shards)
{
	uint64_t rng = seed;

	if (n == 0 || n > (1ull << 62))
		return LNMT_E_TOOBIG;
	if (shards == 0 || shard >= shards)
		return -EINVAL;
	uint64_t p = n + 1;
	while (!permute_is_prime(p))
		p++;
	pm->n = n;
	pm->p = p;
	pm->g = primitive_root(p, &rng);
	/* A random starting element: g^r for a random exponent r. */
	uint64_t start = permute_powmod(pm->g, splitmix64(&rng) % (p - 1), p);
	uint64_t cycle = p - 1;
	pm->step = permute_powmod(pm->g, shards, p);
	pm->first = permute_mulmod(start, permute_powmod(pm->g, shard, p), p);
	pm->steps = shard < cycle ? (cycle - shard + shards - 1) / shards : 0;
	permute_rewind(pm);
	return 0;
}

void permute_rewind(struct permute *pm)
{
	pm->cur = pm->first;
	pm->left = pm->steps;
}
