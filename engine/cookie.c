/* SPDX-License-Identifier: MIT */
/* cookie.c: SipHash-2-4 and the per-sweep key. */
#include "cookie.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>

static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);                          \
		v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                                             \
		v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                                             \
		v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);                          \
	} while (0)

static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return le64toh(v); /* SipHash reads its input little-endian */
}

uint64_t siphash24(const struct cookie_key *key, const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t v0 = 0x736f6d6570736575ull ^ key->k0;
	uint64_t v1 = 0x646f72616e646f6dull ^ key->k1;
	uint64_t v2 = 0x6c7967656e657261ull ^ key->k0;
	uint64_t v3 = 0x7465646279746573ull ^ key->k1;
	size_t full = len & ~(size_t)7;

	for (size_t i = 0; i < full; i += 8) {
		uint64_t m = load_le64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	uint64_t b = (uint64_t)len << 56;
	for (size_t i = 0; i < (len & 7); i++)
		b |= (uint64_t)in[full + i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

int cookie_key_random(struct cookie_key *key)
{
	uint64_t k[2];
	ssize_t n = getrandom(k, sizeof(k), 0);
	if (n < 0)
		return -errno;
	if (n != (ssize_t)sizeof(k))
		return -EIO;
	key->k0 = k[0];
	key->k1 = k[1];
	return 0;
}
