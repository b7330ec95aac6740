/* SPDX-License-Identifier: MIT */
/* test_cookie.c: SipHash-2-4 against the reference vectors, and cookies binding every field. */
#include "cookie.h"

#include <criterion/criterion.h>

#include <string.h>

/*
 * The reference implementation's 64-bit vectors (vectors.h, vectors_sip64): key 00 01 .. 0f,
 * message 00 01 .. len-1, output bytes as the reference writes them (little-endian).
 */
static const struct {
	size_t len;
	uint8_t out[8];
} vectors[] = {
	{ 0, { 0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72 } },
	{ 1, { 0xfd, 0x67, 0xdc, 0x93, 0xc5, 0x39, 0xf8, 0x74 } },
	{ 2, { 0x5a, 0x4f, 0xa9, 0xd9, 0x09, 0x80, 0x6c, 0x0d } },
	{ 3, { 0x2d, 0x7e, 0xfb, 0xd7, 0x96, 0x66, 0x67, 0x85 } },
	{ 4, { 0xb7, 0x87, 0x71, 0x27, 0xe0, 0x94, 0x27, 0xcf } },
	{ 5, { 0x8d, 0xa6, 0x99, 0xcd, 0x64, 0x55, 0x76, 0x18 } },
	{ 6, { 0xce, 0xe3, 0xfe, 0x58, 0x6e, 0x46, 0xc9, 0xcb } },
	{ 7, { 0x37, 0xd1, 0x01, 0x8b, 0xf5, 0x00, 0x02, 0xab } },
	{ 8, { 0x62, 0x24, 0x93, 0x9a, 0x79, 0xf5, 0xf5, 0x93 } },
	{ 9, { 0xb0, 0xe4, 0xa9, 0x0b, 0xdf, 0x82, 0x00, 0x9e } },
	{ 10, { 0xf3, 0xb9, 0xdd, 0x94, 0xc5, 0xbb, 0x5d, 0x7a } },
	{ 11, { 0xa7, 0xad, 0x6b, 0x22, 0x46, 0x2f, 0xb3, 0xf4 } },
	{ 12, { 0xfb, 0xe5, 0x0e, 0x86, 0xbc, 0x8f, 0x1e, 0x75 } },
	{ 13, { 0x90, 0x3d, 0x84, 0xc0, 0x27, 0x56, 0xea, 0x14 } },
	{ 14, { 0xee, 0xf2, 0x7a, 0x8e, 0x90, 0xca, 0x23, 0xf7 } },
	{ 15, { 0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1 } },
	{ 16, { 0xdb, 0x9b, 0xc2, 0x57, 0x7f, 0xcc, 0x2a, 0x3f } },
	{ 63, { 0x72, 0x45, 0x06, 0xeb, 0x4c, 0x32, 0x8a, 0x95 } },
};

/* The reference key bytes 00..0f read as two little-endian words. */
static const struct cookie_key ref_key = { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull };

static uint64_t le64(const uint8_t b[8])
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

Test(cookie, siphash24_reference_vectors)
{
	uint8_t msg[64];

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	cr_assert_eq(le64(vectors[0].out), 0x726fdb47dd0e0e31ull, "le64 helper: %#llx",
		     (unsigned long long)le64(vectors[0].out));
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		uint64_t want = le64(vectors[i].out), got = siphash24(&ref_key, msg, vectors[i].len);
		cr_assert_eq(got, want, "SipHash-2-4 of %zu bytes: got %#018llx, expected %#018llx",
			     vectors[i].len, (unsigned long long)got, (unsigned long long)want);
	}
}

Test(cookie, siphash24_unaligned_input)
{
	/* The same message at every alignment hashes the same (reads go through memcpy). */
	uint8_t buf[64 + 8];

	for (size_t off = 0; off < 8; off++) {
		for (size_t i = 0; i < 63; i++)
			buf[off + i] = (uint8_t)i;
		uint64_t want = le64(vectors[sizeof(vectors) / sizeof(vectors[0]) - 1].out);
		uint64_t got = siphash24(&ref_key, buf + off, 63);
		cr_assert_eq(got, want, "offset %zu: got %#018llx, expected %#018llx", off,
			     (unsigned long long)got, (unsigned long long)want);
	}
}

Test(cookie, siphash24_depends_on_length_and_key)
{
	const uint8_t zeros[16] = { 0 };
	const struct cookie_key other = { ref_key.k0 ^ 1, ref_key.k1 };
	uint64_t h8 = siphash24(&ref_key, zeros, 8), h9 = siphash24(&ref_key, zeros, 9);

	/* Trailing zero bytes are not padding: the length is hashed in. */
	cr_assert_neq(h8, h9, "8 and 9 zero bytes hash the same: %#llx", (unsigned long long)h8);
	cr_assert_neq(siphash24(&ref_key, zeros, 0), siphash24(&ref_key, zeros, 1),
		      "0 and 1 zero bytes hash the same");
	cr_assert_neq(siphash24(&ref_key, zeros, 16), siphash24(&other, zeros, 16),
		      "keys differing in one bit hash the same");
}

Test(cookie, cookie_deterministic)
{
	const struct cookie_key k = { 0x1122334455667788ull, 0x99aabbccddeeff00ull };
	uint64_t a = cookie_of(&k, 0xc6120001u, 443, 0x0123456789abcdefull);
	uint64_t b = cookie_of(&k, 0xc6120001u, 443, 0x0123456789abcdefull);

	cr_assert_eq(a, b, "same inputs: %#llx vs %#llx", (unsigned long long)a, (unsigned long long)b);
}

Test(cookie, cookie_binds_every_field)
{
	const struct cookie_key k = { 0x1122334455667788ull, 0x99aabbccddeeff00ull };
	const uint32_t ip = 0xc6120001u, aux = 443; /* 198.18.0.1, port 443 */
	const uint64_t val = 0x0123456789abcdefull;
	const uint64_t base = cookie_of(&k, ip, aux, val);

	/* A reply from another target, port, probe time or sweep must not carry a valid cookie:
	 * flip each input bit in turn. */
	for (int b = 0; b < 32; b++) {
		uint64_t c = cookie_of(&k, ip ^ (1u << b), aux, val);
		cr_assert_neq(c, base, "ip bit %d flipped: cookie unchanged %#llx", b, (unsigned long long)c);
		c = cookie_of(&k, ip, aux ^ (1u << b), val);
		cr_assert_neq(c, base, "aux bit %d flipped: cookie unchanged %#llx", b, (unsigned long long)c);
	}
	for (int b = 0; b < 64; b++) {
		uint64_t c = cookie_of(&k, ip, aux, val ^ (1ull << b));
		cr_assert_neq(c, base, "val bit %d flipped: cookie unchanged %#llx", b, (unsigned long long)c);
		struct cookie_key k0 = { k.k0 ^ (1ull << b), k.k1 }, k1 = { k.k0, k.k1 ^ (1ull << b) };
		c = cookie_of(&k0, ip, aux, val);
		cr_assert_neq(c, base, "key k0 bit %d flipped: cookie unchanged %#llx", b, (unsigned long long)c);
		c = cookie_of(&k1, ip, aux, val);
		cr_assert_neq(c, base, "key k1 bit %d flipped: cookie unchanged %#llx", b, (unsigned long long)c);
	}

	/* Fields are not interchangeable: swapping ip and aux, or the halves of val, changes it. */
	cr_assert_neq(cookie_of(&k, aux, ip, val), base, "ip and aux swapped: cookie unchanged");
	cr_assert_neq(cookie_of(&k, ip, aux, val << 32 | val >> 32), base,
		      "val halves swapped: cookie unchanged");
	/* Neighbouring targets (the usual wrong-target reply) differ. */
	cr_assert_neq(cookie_of(&k, ip + 1, aux, val), base, "ip+1: cookie unchanged");
	cr_assert_neq(cookie_of(&k, ip, aux + 1, val), base, "aux+1: cookie unchanged");
}

Test(cookie, cookie_key_random)
{
	struct cookie_key a = { 0, 0 }, b = { 0, 0 };
	int rc = cookie_key_random(&a);

	cr_assert_eq(rc, 0, "first cookie_key_random = %d", rc);
	rc = cookie_key_random(&b);
	cr_assert_eq(rc, 0, "second cookie_key_random = %d", rc);
	cr_assert(a.k0 != b.k0 || a.k1 != b.k1, "two random keys are equal: %#llx %#llx",
		  (unsigned long long)a.k0, (unsigned long long)a.k1);
	cr_assert(a.k0 != 0 || a.k1 != 0, "random key is all zero");
	/* And two sweeps' cookies for the same probe differ. */
	cr_assert_neq(cookie_of(&a, 0xc6120001u, 80, 1), cookie_of(&b, 0xc6120001u, 80, 1),
		      "cookies under two random keys are equal");
}
