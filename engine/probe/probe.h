/* SPDX-License-Identifier: MIT */
/*
 * probe.h: the interface every probe type implements (arp.c, icmp.c, tcp_syn.c).
 *
 * A probe module exports one const struct probe_ops. Per sweep, build() renders the probe's
 * frame once with libnet into a template (slow path). Per target, the sweep copies the template
 * into a send buffer and calls patch() to write the addresses, cookie, timestamp and checksums
 * (hot path: no allocation, no syscalls, no logging). For every captured frame the sweep calls
 * parse() of each enabled probe until one claims it; parse() validates the reply statelessly
 * (cookie or target checks) and extracts the result (hot path too). Validation and parsing are
 * one callback because both read the same headers; splitting them would parse every frame twice.
 *
 * Probes keep no state of their own: everything per sweep is in the probe_env they are handed,
 * so two sweeps can run in one process. All ops are safe to call from any thread.
 */
#ifndef LNMT_PROBE_H
#define LNMT_PROBE_H

#include "cookie.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROBE_FRAME_MAX 128 /* largest template any probe builds, in bytes */

/* Per-sweep facts a probe reads; set up before the sweep, read-only while it runs. */
struct probe_env {
	uint8_t src_mac[6];
	uint8_t next_hop_mac[6]; /* destination MAC of IP probes (the gateway, or --gateway-mac) */
	uint32_t src_ip;         /* host order */
	uint8_t ttl;
	struct cookie_key key;
};

struct probe_target {
	uint32_t ip;   /* host order */
	uint16_t port; /* probes with uses_port only */
};

enum probe_state { PROBE_STATE_UP, PROBE_STATE_OPEN, PROBE_STATE_CLOSED };

struct probe_reply {
	uint32_t ip;          /* the target that answered, host order */
	uint16_t port;        /* the probed port (uses_port only) */
	uint8_t state;        /* enum probe_state */
	uint8_t ttl;          /* IP TTL of the reply; 0 for ARP */
	bool has_mac;
	uint8_t mac[6];       /* sender MAC (ARP) */
	bool has_sent_ns;     /* the reply carried its probe's send time */
	uint64_t sent_ns;     /* CLOCK_MONOTONIC ns the probe was sent at */
};

struct probe_ops {
	const char *name;       /* "arp", "icmp", "syn": what --probe takes */
	const char *bpf_filter; /* pcap filter matching this probe's possible replies */
	bool uses_port;         /* one probe per (address, port) instead of per address */
	bool needs_next_hop;    /* IP probes are sent to next_hop_mac; ARP is broadcast */

	/* Renders the template for env into frame (cap >= PROBE_FRAME_MAX). Returns the frame
	 * length or LNMT_E_LIBNET. Slow path. */
	int (*build)(const struct probe_env *env, uint8_t *frame, size_t cap);

	/* Turns a copy of the template into the probe for t sent at now_ns. Hot path. */
	void (*patch)(const struct probe_env *env, uint8_t *frame, const struct probe_target *t,
		      uint64_t now_ns);

	/* Claims and validates a captured frame (starting at the Ethernet header). Returns true and
	 * fills out when it is a genuine reply to one of this sweep's probes. Hot path. */
	bool (*parse)(const struct probe_env *env, const uint8_t *frame, size_t len, uint64_t now_ns,
		      struct probe_reply *out);
};

extern const struct probe_ops probe_arp;
extern const struct probe_ops probe_icmp;
extern const struct probe_ops probe_syn;

/* The probe called name, or NULL. */
const struct probe_ops *probe_by_name(const char *name);

/* Helpers shared by the modules (probe_util.c). */

/* Internet checksum (RFC 1071) of len bytes, folded, starting from partial sum `sum`. */
uint16_t probe_csum(const void *data, size_t len, uint32_t sum);

/* Adds len bytes to a running ones'-complement sum without folding. */
uint32_t probe_csum_add(const void *data, size_t len, uint32_t sum);

/* Copies libnet's assembled frame into frame (cap bytes) and destroys l. Returns length or LNMT_E_LIBNET. */
int probe_libnet_finish(void *libnet_handle, uint8_t *frame, size_t cap);

/* Writes/reads 16- and 32-bit big-endian values at p (frames are unaligned). */
static inline void put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline uint16_t get_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Frame offsets shared by the IP probes. */
#define ETH_HLEN_ 14
#define IP4_OFF ETH_HLEN_
#define IP4_HLEN 20

/* Validates the Ethernet + IPv4 header of a captured frame for protocol proto addressed to
 * env->src_ip; returns the offset of the L4 header (0 if not such a frame) and sets *l4_len. */
size_t probe_ipv4_l4(const struct probe_env *env, const uint8_t *frame, size_t len, uint8_t proto,
		     size_t *l4_len);

/* Recomputes the IPv4 header checksum of the header at ip. */
void probe_ipv4_fix_csum(uint8_t *ip);

#endif
