/* SPDX-License-Identifier: MIT */
/*
 * cookie.h: keyed hashes that make replies verifiable without per-probe state.
 *
 * Each sweep draws a fresh 128-bit key; a probe carries cookie(key, what it was sent to and
 * when), and a reply is accepted only if the fields it echoes back hash to the same value.
 * The hash is SipHash-2-4 (Aumasson and Bernstein, 2012), written here from the paper.
 */
#ifndef LNMT_COOKIE_H
#define LNMT_COOKIE_H

#include <stddef.h>
#include <stdint.h>

struct cookie_key {
	uint64_t k0, k1;
};

/* Fills key from getrandom(); 0 or -errno. */
int cookie_key_random(struct cookie_key *key);

/* SipHash-2-4 of len bytes at data. */
uint64_t siphash24(const struct cookie_key *key, const void *data, size_t len);

/* The cookie of a probe: hash of (ip, a 16-bit discriminator such as a port, a 64-bit value). */
static inline uint64_t cookie_of(const struct cookie_key *key, uint32_t ip, uint32_t aux, uint64_t val)
{
	uint32_t buf[4] = { ip, aux, (uint32_t)val, (uint32_t)(val >> 32) };
	return siphash24(key, buf, sizeof(buf));
}

#endif
