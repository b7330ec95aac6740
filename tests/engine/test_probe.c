/* SPDX-License-Identifier: MIT */
/* test_probe.c: the ARP, ICMP echo and TCP SYN probes byte for byte, and their reply parsers. */
#include "probe.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

/*
 * Everything here is fixed so every frame can be written out by hand: the sweep's MACs and
 * address, TTL and key (the SipHash reference key 00 01 .. 0f), the target and the send time.
 */
static const struct probe_env env = {
	.src_mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 },
	.next_hop_mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 },
	.src_ip = 0xc6120001u, /* 198.18.0.1 */
	.ttl = 64,
	.key = { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull },
};

#define TARGET_IP 0xc6130102u /* 198.19.1.2 */
#define TARGET_PORT 80
#define NOW_NS 0x0000000102030405ull
#define RTT_NS 1000000ull /* replies arrive 1 ms after the probe */

/* A MAC for the target's ARP answers. */
static const uint8_t target_mac[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };

/*
 * The cookie inputs the probes document (icmp.c, tcp_syn.c): the discriminators are private
 * #defines there, so they are restated here from the source. If these drift, the vectors below
 * fail, which is the point.
 */
#define ICMP_COOKIE_AUX 0x69636d70u /* "icmp" */
#define SYN_COOKIE_AUX 0x73796e00u  /* "syn\0" */
#define SYN_SPORT_BASE 0x8000u
#define SYN_TIME_SHIFT 15
#define SYN_TIME_MASK 0x7fffu

/* ICMP: id/seq = the 32-bit cookie of (target, send time). */
static uint32_t icmp_cookie(uint32_t ip, uint64_t sent_ns)
{
	return (uint32_t)cookie_of(&env.key, ip, ICMP_COOKIE_AUX, sent_ns);
}

/* SYN: source port = 0x8000 | 15 bits of (send time / 2^15 ns). */
static uint16_t syn_sport(uint64_t sent_ns)
{
	return (uint16_t)(SYN_SPORT_BASE | ((sent_ns >> SYN_TIME_SHIFT) & SYN_TIME_MASK));
}

/* SYN: sequence number = the 32-bit cookie of (target, port, source port). */
static uint32_t syn_cookie(uint32_t ip, uint16_t dport, uint16_t sport)
{
	return (uint32_t)cookie_of(&env.key, ip, SYN_COOKIE_AUX ^ dport, sport);
}

/* IP probes vary the IP identification with the cookie: id = low 16 bits of c ^ (c >> 16). */
static uint16_t ip_id_of(uint32_t c)
{
	return (uint16_t)(c ^ (c >> 16));
}

/* ---- an RFC 1071 checksum of our own, independent of probe_csum() ------------------------ */

/* The ones'-complement sum of the 16-bit big-endian words of the chunks, folded to 16 bits
 * (an odd final byte is padded with a zero byte, RFC 1071 4.1). */
static uint16_t ref_sum(const uint8_t *p, size_t n)
{
	uint64_t acc = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		acc += (uint64_t)p[i] * 256u + p[i + 1];
	if (n & 1)
		acc += (uint64_t)p[n - 1] * 256u;
	while (acc > 0xffff)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

static uint16_t ref_csum(const uint8_t *p, size_t n)
{
	return (uint16_t)~ref_sum(p, n);
}

/* The TCP checksum over the pseudo-header (RFC 9293 3.1: source, destination, zero, protocol,
 * TCP length) and the segment; ip points to the IPv4 header, tcp to the segment. */
static uint8_t pseudo_buf[12 + 64];

static size_t tcp_pseudo(const uint8_t *ip, const uint8_t *tcp, size_t tcp_len)
{
	cr_assert_leq(tcp_len, sizeof(pseudo_buf) - 12, "segment of %zu bytes too long for the test", tcp_len);
	memcpy(pseudo_buf, ip + 12, 8);
	pseudo_buf[8] = 0;
	pseudo_buf[9] = 6;
	pseudo_buf[10] = (uint8_t)(tcp_len >> 8);
	pseudo_buf[11] = (uint8_t)tcp_len;
	memcpy(pseudo_buf + 12, tcp, tcp_len);
	return 12 + tcp_len;
}

static uint16_t ref_tcp_csum(const uint8_t *ip, const uint8_t *tcp, size_t tcp_len)
{
	size_t n = tcp_pseudo(ip, tcp, tcp_len);
	return ref_csum(pseudo_buf, n);
}

static uint16_t ref_tcp_sum(const uint8_t *ip, const uint8_t *tcp, size_t tcp_len)
{
	size_t n = tcp_pseudo(ip, tcp, tcp_len);
	return ref_sum(pseudo_buf, n);
}

/* Big-endian stores for filling in the expected frames. */
static void set16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void set32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void set64(uint8_t *p, uint64_t v)
{
	set32(p, (uint32_t)(v >> 32));
	set32(p + 4, (uint32_t)v);
}

/* Fills in the IPv4 header checksum of the header at ip (20 bytes) with ref_csum. */
static void fill_ip_csum(uint8_t *ip)
{
	ip[10] = ip[11] = 0;
	set16(ip + 10, ref_csum(ip, 20));
}

/* ---- frame comparison ---------------------------------------------------------------------- */

static void hexdump(char *out, size_t cap, const uint8_t *p, size_t n)
{
	size_t o = 0;

	out[0] = 0;
	for (size_t i = 0; i < n && o + 4 < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%s%02x", i && i % 16 == 0 ? "\n  " : (i ? " " : ""), p[i]);
}

/* Compares every byte; on a mismatch names the offset and dumps both frames. */
static void assert_frame(const char *what, const uint8_t *got, size_t got_len, const uint8_t *want,
			 size_t want_len)
{
	char g[1024], w[1024];

	hexdump(g, sizeof(g), got, got_len);
	hexdump(w, sizeof(w), want, want_len);
	cr_assert_eq(got_len, want_len, "%s: length %zu, expected %zu\n got:\n  %s\n expected:\n  %s", what,
		     got_len, want_len, g, w);
	for (size_t i = 0; i < want_len; i++)
		cr_assert_eq(got[i], want[i],
			     "%s: byte %zu is %#04x, expected %#04x\n got:\n  %s\n expected:\n  %s", what, i,
			     got[i], want[i], g, w);
}

/* Builds the template of p, copies it and patches the copy for t at now_ns. Returns its length. */
static size_t build_and_patch(const struct probe_ops *p, uint8_t *frame, const struct probe_target *t,
			      uint64_t now_ns)
{
	uint8_t tmpl[PROBE_FRAME_MAX];

	memset(tmpl, 0xa5, sizeof(tmpl));
	int len = p->build(&env, tmpl, sizeof(tmpl));
	cr_assert_gt(len, 0, "%s: build() = %d", p->name, len);
	cr_assert_leq(len, PROBE_FRAME_MAX, "%s: build() = %d > PROBE_FRAME_MAX", p->name, len);
	memset(frame, 0x5a, PROBE_FRAME_MAX);
	memcpy(frame, tmpl, (size_t)len);
	p->patch(&env, frame, t, now_ns);
	return (size_t)len;
}

/* ==== probe_by_name and the ops tables ===================================================== */

Test(probe, by_name)
{
	cr_assert_eq(probe_by_name("arp"), &probe_arp, "probe_by_name(\"arp\")");
	cr_assert_eq(probe_by_name("icmp"), &probe_icmp, "probe_by_name(\"icmp\")");
	cr_assert_eq(probe_by_name("syn"), &probe_syn, "probe_by_name(\"syn\")");
	cr_assert_null(probe_by_name("nope"), "probe_by_name(\"nope\") is not NULL");
	cr_assert_null(probe_by_name(""), "probe_by_name(\"\") is not NULL");
	cr_assert_null(probe_by_name("ARP"), "probe_by_name(\"ARP\"): names are case-sensitive");
	cr_assert_null(probe_by_name("sy"), "probe_by_name(\"sy\"): prefixes do not match");
}

Test(probe, ops_tables)
{
	cr_assert_str_eq(probe_arp.name, "arp");
	cr_assert_str_eq(probe_icmp.name, "icmp");
	cr_assert_str_eq(probe_syn.name, "syn");
	cr_assert(!probe_arp.uses_port && !probe_icmp.uses_port && probe_syn.uses_port, "uses_port");
	cr_assert(!probe_arp.needs_next_hop && probe_icmp.needs_next_hop && probe_syn.needs_next_hop,
		  "needs_next_hop");
	const struct probe_ops *all[] = { &probe_arp, &probe_icmp, &probe_syn };
	for (size_t i = 0; i < 3; i++) {
		cr_assert_not_null(all[i]->bpf_filter, "%s: bpf_filter", all[i]->name);
		cr_assert(all[i]->build && all[i]->patch && all[i]->parse, "%s: callbacks", all[i]->name);
	}
}

/* ==== probe_csum against RFC 1071 ========================================================== */

Test(probe, csum_rfc1071)
{
	/* RFC 1071 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2; the checksum is its complement. */
	static const uint8_t ex[8] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	cr_assert_eq(ref_sum(ex, 8), 0xddf2, "test helper: RFC 1071 example sums to %#06x", ref_sum(ex, 8));
	cr_assert_eq(probe_csum(ex, 8, 0), 0x220d, "probe_csum of the RFC 1071 example = %#06x",
		     probe_csum(ex, 8, 0));

	/* An odd length pads the last byte with zero on the right (RFC 1071 4.1). */
	static const uint8_t odd[3] = { 0x12, 0x34, 0x56 };
	cr_assert_eq(probe_csum(odd, 3, 0), (uint16_t)~(0x1234 + 0x5600), "odd length: %#06x",
		     probe_csum(odd, 3, 0));

	/* A sum whose first fold carries again: ffff + 0001 + ffff = 0x1ffff -> 0x10000 -> 0x0001. */
	static const uint8_t carry[6] = { 0xff, 0xff, 0x00, 0x01, 0xff, 0xff };
	cr_assert_eq(ref_sum(carry, 6), 0x0001, "test helper: double fold gives %#06x", ref_sum(carry, 6));
	cr_assert_eq(probe_csum(carry, 6, 0), 0xfffe, "double end-around carry: probe_csum = %#06x, expected 0xfffe",
		     probe_csum(carry, 6, 0));

	/* The partial sum argument counts like leading data. */
	cr_assert_eq(probe_csum(ex + 2, 6, 0x0001), 0x220d, "partial sum: %#06x", probe_csum(ex + 2, 6, 0x0001));
	cr_assert_eq(probe_csum_add(ex, 8, 0), 0x0001u + 0xf203u + 0xf4f5u + 0xf6f7u, "probe_csum_add does not fold");

	/* Empty: the complement of zero. */
	cr_assert_eq(probe_csum(ex, 0, 0), 0xffff, "empty: %#06x", probe_csum(ex, 0, 0));
}

/* ==== ARP (RFC 826) ========================================================================== */

#define ARP_FRAME_LEN 42

static void arp_expected(uint8_t *f)
{
	static const uint8_t want[ARP_FRAME_LEN] = {
		/* Ethernet: destination broadcast, source our MAC, type ARP 0x0806 */
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
		0x08, 0x06,
		/* ar$hrd: Ethernet (1) */
		0x00, 0x01,
		/* ar$pro: IPv4 0x0800 */
		0x08, 0x00,
		/* ar$hln 6, ar$pln 4 */
		0x06, 0x04,
		/* ar$op: request (1) */
		0x00, 0x01,
		/* ar$sha: our MAC */
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
		/* ar$spa: 198.18.0.1 */
		0xc6, 0x12, 0x00, 0x01,
		/* ar$tha: unknown, zero */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		/* ar$tpa: 198.19.1.2 */
		0xc6, 0x13, 0x01, 0x02,
	};
	memcpy(f, want, sizeof(want));
}

Test(probe, arp_request_bytes)
{
	const struct probe_target t = { .ip = TARGET_IP };
	uint8_t got[PROBE_FRAME_MAX], want[ARP_FRAME_LEN];
	size_t len = build_and_patch(&probe_arp, got, &t, NOW_NS);

	arp_expected(want);
	assert_frame("arp request", got, len, want, sizeof(want));
}

/* A reply as a host sends it (RFC 826 "Packet Reception"): op 2, its MAC and address as sender,
 * ours as target; padded to the 60-byte Ethernet minimum as NICs do. */
#define ARP_REPLY_LEN 60
static void arp_reply(uint8_t *f)
{
	static const uint8_t r[ARP_REPLY_LEN] = {
		/* Ethernet: to us, from the target, type ARP */
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
		0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
		0x08, 0x06,
		/* hrd 1, pro 0x0800, hln 6, pln 4, op 2 (reply) */
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
		/* sha: the target's MAC; spa: 198.19.1.2 */
		0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
		0xc6, 0x13, 0x01, 0x02,
		/* tha: our MAC; tpa: 198.18.0.1 */
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
		0xc6, 0x12, 0x00, 0x01,
		/* Ethernet padding (18 bytes) */
	};
	memcpy(f, r, sizeof(r));
}

Test(probe, arp_reply_accepted)
{
	uint8_t f[ARP_REPLY_LEN];
	struct probe_reply out;

	arp_reply(f);
	memset(&out, 0xa5, sizeof(out));
	cr_assert(probe_arp.parse(&env, f, sizeof(f), NOW_NS + RTT_NS, &out), "valid ARP reply rejected");
	cr_assert_eq(out.ip, TARGET_IP, "ip %#x, expected %#x", out.ip, TARGET_IP);
	cr_assert_eq(out.state, PROBE_STATE_UP, "state %u", out.state);
	cr_assert(out.has_mac, "has_mac not set");
	cr_assert_arr_eq(out.mac, target_mac, 6, "mac %02x:%02x:%02x:%02x:%02x:%02x", out.mac[0], out.mac[1],
			 out.mac[2], out.mac[3], out.mac[4], out.mac[5]);
	cr_assert_eq(out.ttl, 0, "ttl %u for ARP", out.ttl);
	cr_assert(!out.has_sent_ns, "ARP carries no send time");

	/* Without the padding (42 bytes, as captured on loopback-like links) too. */
	cr_assert(probe_arp.parse(&env, f, ARP_FRAME_LEN, NOW_NS + RTT_NS, &out), "unpadded ARP reply rejected");
}

Test(probe, arp_reply_rejected)
{
	uint8_t f[ARP_REPLY_LEN];
	struct probe_reply out;

	/* op 1: a request (another host's, or our own echoed back), not an answer */
	arp_reply(f);
	f[21] = 1;
	cr_assert(!probe_arp.parse(&env, f, sizeof(f), NOW_NS, &out), "ARP request (op 1) accepted");

	/* tpa not ours: an answer to someone else's request */
	arp_reply(f);
	f[41] ^= 0x01;
	cr_assert(!probe_arp.parse(&env, f, sizeof(f), NOW_NS, &out), "ARP reply with wrong tpa accepted");

	/* tha not ours */
	arp_reply(f);
	f[37] ^= 0x01;
	cr_assert(!probe_arp.parse(&env, f, sizeof(f), NOW_NS, &out), "ARP reply with wrong tha accepted");

	/* truncated: one byte short of the 28-byte ARP body */
	arp_reply(f);
	cr_assert(!probe_arp.parse(&env, f, ARP_FRAME_LEN - 1, NOW_NS, &out), "truncated ARP reply accepted");
	cr_assert(!probe_arp.parse(&env, f, 14, NOW_NS, &out), "Ethernet header alone accepted");

	/* not ARP at all (EtherType IPv4), and a non-Ethernet / non-IPv4 ARP */
	arp_reply(f);
	f[13] = 0x00;
	cr_assert(!probe_arp.parse(&env, f, sizeof(f), NOW_NS, &out), "EtherType 0x0800 accepted as ARP");
	arp_reply(f);
	f[15] = 6; /* hrd IEEE 802 */
	cr_assert(!probe_arp.parse(&env, f, sizeof(f), NOW_NS, &out), "ARP hrd 6 accepted");
	arp_reply(f);
	f[16] = 0x86, f[17] = 0xdd; /* pro IPv6 */
	cr_assert(!probe_arp.parse(&env, f, sizeof(f), NOW_NS, &out), "ARP pro 0x86dd accepted");
}

/* ==== ICMP echo (RFC 792) =================================================================== */

#define ICMP_FRAME_LEN 50 /* 14 Ethernet + 20 IPv4 + 8 echo header + 8 data */

static void icmp_expected(uint8_t *f, uint32_t dst, uint64_t now_ns)
{
	static const uint8_t want[ICMP_FRAME_LEN] = {
		/* Ethernet: to the next hop, from us, type IPv4 */
		0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
		0x08, 0x00,
		/* IPv4 (RFC 791): version 4, IHL 5 */
		0x45,
		/* TOS 0 */
		0x00,
		/* total length 36 */
		0x00, 0x24,
		/* identification: from the cookie, filled in below */
		0x00, 0x00,
		/* flags 0, fragment offset 0 */
		0x00, 0x00,
		/* TTL 64, protocol ICMP (1) */
		0x40, 0x01,
		/* header checksum: filled in below */
		0x00, 0x00,
		/* source 198.18.0.1 */
		0xc6, 0x12, 0x00, 0x01,
		/* destination: the target, filled in below */
		0x00, 0x00, 0x00, 0x00,
		/* ICMP: type 8 (echo), code 0 */
		0x08, 0x00,
		/* checksum: filled in below */
		0x00, 0x00,
		/* identifier, sequence number: the cookie, filled in below */
		0x00, 0x00, 0x00, 0x00,
		/* data: the send time in ns, big-endian, filled in below */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	uint32_t c = icmp_cookie(dst, now_ns);

	memcpy(f, want, sizeof(want));
	set16(f + 18, ip_id_of(c));
	set32(f + 30, dst);
	fill_ip_csum(f + 14);
	set16(f + 38, (uint16_t)(c >> 16));
	set16(f + 40, (uint16_t)c);
	set64(f + 42, now_ns);
	set16(f + 36, ref_csum(f + 34, 16));
}

Test(probe, icmp_echo_bytes)
{
	const struct probe_target t = { .ip = TARGET_IP };
	uint8_t got[PROBE_FRAME_MAX], want[ICMP_FRAME_LEN];
	size_t len = build_and_patch(&probe_icmp, got, &t, NOW_NS);

	icmp_expected(want, TARGET_IP, NOW_NS);
	/* The data bytes of the vector, spelled out: now_ns = 0x0000000102030405. */
	static const uint8_t data[8] = { 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05 };
	cr_assert_arr_eq(want + 42, data, 8, "test vector: echo data");
	assert_frame("icmp echo", got, len, want, sizeof(want));

	/* Both checksums validate: the sum including the checksum field is 0xffff. */
	cr_assert_eq(ref_sum(got + 14, 20), 0xffff, "IPv4 header sums to %#06x", ref_sum(got + 14, 20));
	cr_assert_eq(ref_sum(got + 34, 16), 0xffff, "ICMP message sums to %#06x", ref_sum(got + 34, 16));
}

Test(probe, icmp_echo_other_targets_and_times)
{
	/* Checksums and cookies for a spread of targets and times, including carries in the sums
	 * (0xff.. addresses) and times with the high word set. */
	static const uint32_t ips[] = { 0x00000000u, 0x0a000001u, 0xc6130102u, 0xfffffffeu, 0xffffffffu };
	static const uint64_t times[] = { 0, 1, NOW_NS, 0xffffffffffffffffull, 0x8000000000000000ull };

	for (size_t i = 0; i < sizeof(ips) / sizeof(ips[0]); i++)
		for (size_t j = 0; j < sizeof(times) / sizeof(times[0]); j++) {
			const struct probe_target t = { .ip = ips[i] };
			uint8_t got[PROBE_FRAME_MAX], want[ICMP_FRAME_LEN];
			char what[64];
			size_t len = build_and_patch(&probe_icmp, got, &t, times[j]);

			icmp_expected(want, ips[i], times[j]);
			snprintf(what, sizeof(what), "icmp echo to %#010x at %#llx", ips[i],
				 (unsigned long long)times[j]);
			assert_frame(what, got, len, want, sizeof(want));
		}
}

/* Recomputes both checksums of an ICMP frame after an edit, so rejections are for the edit. */
static void icmp_fix(uint8_t *f)
{
	fill_ip_csum(f + 14);
	f[36] = f[37] = 0;
	set16(f + 36, ref_csum(f + 34, 16));
}

/* The echo reply a host sends for the probe to dst at sent_ns (RFC 792: type 0, identifier,
 * sequence number and data echoed); TTL 57, IP id 0x1234, DF set as Linux does. */
static void icmp_reply(uint8_t *f, uint32_t src, uint64_t sent_ns)
{
	static const uint8_t r[ICMP_FRAME_LEN] = {
		/* Ethernet: to us, from the next hop, type IPv4 */
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
		0x08, 0x00,
		/* IPv4: 0x45, TOS 0, length 36, id 0x1234, DF, TTL 57, ICMP, checksum (below) */
		0x45, 0x00, 0x00, 0x24, 0x12, 0x34, 0x40, 0x00, 0x39, 0x01, 0x00, 0x00,
		/* source: the target (below); destination 198.18.0.1 */
		0x00, 0x00, 0x00, 0x00,
		0xc6, 0x12, 0x00, 0x01,
		/* ICMP: type 0 (echo reply), code 0, checksum (below), id, seq, data (below) */
		0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	uint32_t c = icmp_cookie(src, sent_ns);

	memcpy(f, r, sizeof(r));
	set32(f + 26, src);
	set16(f + 38, (uint16_t)(c >> 16));
	set16(f + 40, (uint16_t)c);
	set64(f + 42, sent_ns);
	icmp_fix(f);
}

Test(probe, icmp_reply_accepted)
{
	uint8_t f[ICMP_FRAME_LEN];
	struct probe_reply out;

	icmp_reply(f, TARGET_IP, NOW_NS);
	memset(&out, 0xa5, sizeof(out));
	cr_assert(probe_icmp.parse(&env, f, sizeof(f), NOW_NS + RTT_NS, &out), "valid echo reply rejected");
	cr_assert_eq(out.ip, TARGET_IP, "ip %#x, expected %#x", out.ip, TARGET_IP);
	cr_assert_eq(out.state, PROBE_STATE_UP, "state %u", out.state);
	cr_assert_eq(out.ttl, 57, "ttl %u, expected 57", out.ttl);
	cr_assert(out.has_sent_ns, "has_sent_ns not set");
	cr_assert_eq(out.sent_ns, NOW_NS, "sent_ns %#llx, expected %#llx", (unsigned long long)out.sent_ns,
		     (unsigned long long)NOW_NS);
	cr_assert(!out.has_mac, "has_mac set for ICMP");

	/* The reply to the probe we actually built: turn our own frame around. */
	const struct probe_target t = { .ip = TARGET_IP };
	uint8_t p[PROBE_FRAME_MAX];
	size_t len = build_and_patch(&probe_icmp, p, &t, NOW_NS);
	cr_assert_eq(len, sizeof(f));
	cr_assert_arr_eq(p + 38, f + 38, 12, "reply does not echo the probe's id/seq/data");

	/* A reply arriving in the same nanosecond it was sent is still fine (sent <= now). */
	cr_assert(probe_icmp.parse(&env, f, sizeof(f), NOW_NS, &out), "reply at now == sent rejected");

	/* Trailing bytes after the IP datagram (Ethernet padding) are ignored. */
	uint8_t padded[64] = { 0 };
	memcpy(padded, f, sizeof(f));
	cr_assert(probe_icmp.parse(&env, padded, sizeof(padded), NOW_NS + RTT_NS, &out),
		  "padded echo reply rejected");
}

Test(probe, icmp_reply_rejected)
{
	uint8_t f[ICMP_FRAME_LEN];
	struct probe_reply out;
	const uint64_t now = NOW_NS + RTT_NS;

	/* One bit flipped in the identifier, the sequence number, each data byte. */
	static const struct { size_t off; uint8_t bit; const char *what; } flips[] = {
		{ 38, 0x80, "id high bit" }, { 39, 0x01, "id low bit" },
		{ 40, 0x80, "seq high bit" }, { 41, 0x01, "seq low bit" },
		{ 42, 0x01, "data byte 0" }, { 45, 0x01, "data byte 3" }, { 46, 0x01, "data byte 4" },
		{ 49, 0x01, "data byte 7 (low bit of the time)" },
	};
	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		icmp_reply(f, TARGET_IP, NOW_NS);
		f[flips[i].off] ^= flips[i].bit;
		icmp_fix(f);
		cr_assert(!probe_icmp.parse(&env, f, sizeof(f), now, &out), "echo reply with %s flipped accepted",
			  flips[i].what);
	}

	/* From a different source than the probe went to (198.19.1.3). */
	icmp_reply(f, TARGET_IP, NOW_NS);
	set32(f + 26, TARGET_IP + 1);
	icmp_fix(f);
	cr_assert(!probe_icmp.parse(&env, f, sizeof(f), now, &out), "echo reply from another source accepted");

	/* To a different destination than env.src_ip (198.18.0.2). */
	icmp_reply(f, TARGET_IP, NOW_NS);
	set32(f + 30, env.src_ip + 1);
	icmp_fix(f);
	cr_assert(!probe_icmp.parse(&env, f, sizeof(f), now, &out), "echo reply to another address accepted");

	/* Type 8: an echo request (e.g. our own probe, or someone pinging us), not a reply. */
	icmp_reply(f, TARGET_IP, NOW_NS);
	f[34] = 8;
	icmp_fix(f);
	cr_assert(!probe_icmp.parse(&env, f, sizeof(f), now, &out), "echo request (type 8) accepted");
	/* Code != 0. */
	icmp_reply(f, TARGET_IP, NOW_NS);
	f[35] = 1;
	icmp_fix(f);
	cr_assert(!probe_icmp.parse(&env, f, sizeof(f), now, &out), "echo reply with code 1 accepted");

	/* Truncated: the capture cut short of the IP total length... */
	icmp_reply(f, TARGET_IP, NOW_NS);
	for (size_t n = 0; n < sizeof(f); n++)
		cr_assert(!probe_icmp.parse(&env, f, n, now, &out), "echo reply cut to %zu bytes accepted", n);
	/* ...and a datagram whose total length leaves less than 8 bytes of data. */
	icmp_reply(f, TARGET_IP, NOW_NS);
	set16(f + 16, 35);
	icmp_fix(f);
	cr_assert(!probe_icmp.parse(&env, f, sizeof(f) - 1, now, &out), "echo reply with 7 data bytes accepted");

	/* A time from the future (sent after now). */
	icmp_reply(f, TARGET_IP, now + 1);
	cr_assert(!probe_icmp.parse(&env, f, sizeof(f), now, &out), "echo reply sent in the future accepted");

	/* Not IPv4, not ICMP, not version 4. */
	icmp_reply(f, TARGET_IP, NOW_NS);
	f[12] = 0x86, f[13] = 0xdd;
	cr_assert(!probe_icmp.parse(&env, f, sizeof(f), now, &out), "EtherType 0x86dd accepted");
	icmp_reply(f, TARGET_IP, NOW_NS);
	f[23] = 17;
	icmp_fix(f);
	cr_assert(!probe_icmp.parse(&env, f, sizeof(f), now, &out), "UDP datagram accepted as ICMP");
	icmp_reply(f, TARGET_IP, NOW_NS);
	f[14] = 0x65;
	icmp_fix(f);
	cr_assert(!probe_icmp.parse(&env, f, sizeof(f), now, &out), "IP version 6 header accepted");
}

/* IPv4 options move the ICMP header; a header length below 20 bytes is malformed. */
Test(probe, icmp_reply_ip_options)
{
	uint8_t f[ICMP_FRAME_LEN], g[ICMP_FRAME_LEN + 4];
	struct probe_reply out;
	const uint64_t now = NOW_NS + RTT_NS;

	/* IHL 6: four option bytes (NOP NOP NOP EOL, RFC 791) between header and ICMP. */
	icmp_reply(f, TARGET_IP, NOW_NS);
	memcpy(g, f, 34);
	g[14] = 0x46;
	set16(g + 16, 40);
	g[34] = 0x01, g[35] = 0x01, g[36] = 0x01, g[37] = 0x00;
	memcpy(g + 38, f + 34, 16);
	g[24] = g[25] = 0;
	set16(g + 24, ref_csum(g + 14, 24));
	cr_assert(probe_icmp.parse(&env, g, sizeof(g), now, &out), "echo reply with IP options rejected");
	cr_assert_eq(out.sent_ns, NOW_NS, "with IP options: sent_ns %#llx", (unsigned long long)out.sent_ns);
	cr_assert_eq(out.ip, TARGET_IP, "with IP options: ip %#x", out.ip);

	/* IHL 4 (16 bytes) and 0. */
	icmp_reply(f, TARGET_IP, NOW_NS);
	f[14] = 0x44;
	cr_assert(!probe_icmp.parse(&env, f, sizeof(f), now, &out), "IHL 4 accepted");
	f[14] = 0x40;
	cr_assert(!probe_icmp.parse(&env, f, sizeof(f), now, &out), "IHL 0 accepted");
}

/* IPv4 fragments: MF set, or a non-zero offset; DF alone is a whole datagram. */
Test(probe, ipv4_fragments_rejected)
{
	uint8_t f[ICMP_FRAME_LEN];
	struct probe_reply out;
	const uint64_t now = NOW_NS + RTT_NS;
	static const struct { uint16_t ff; const char *what; } frags[] = {
		{ 0x2000, "MF" }, { 0x6000, "DF|MF" }, { 0x0001, "offset 1 (8 bytes)" },
		{ 0x1fff, "offset 0x1fff" }, { 0x2001, "MF, offset 1" },
	};

	for (size_t i = 0; i < sizeof(frags) / sizeof(frags[0]); i++) {
		icmp_reply(f, TARGET_IP, NOW_NS);
		set16(f + 20, frags[i].ff);
		icmp_fix(f);
		cr_assert(!probe_icmp.parse(&env, f, sizeof(f), now, &out), "ICMP fragment (%s) accepted",
			  frags[i].what);
	}
	icmp_reply(f, TARGET_IP, NOW_NS);
	set16(f + 20, 0x0000);
	icmp_fix(f);
	cr_assert(probe_icmp.parse(&env, f, sizeof(f), now, &out), "echo reply without DF rejected");
}

/* ==== TCP SYN (RFC 9293) ==================================================================== */

#define SYN_FRAME_LEN 58 /* 14 Ethernet + 20 IPv4 + 20 TCP + 4 option */

static void syn_expected(uint8_t *f, uint32_t dst, uint16_t dport, uint64_t now_ns)
{
	static const uint8_t want[SYN_FRAME_LEN] = {
		/* Ethernet: to the next hop, from us, type IPv4 */
		0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
		0x08, 0x00,
		/* IPv4 (RFC 791): version 4, IHL 5 */
		0x45,
		/* TOS 0 */
		0x00,
		/* total length 44 */
		0x00, 0x2c,
		/* identification: from the cookie, filled in below */
		0x00, 0x00,
		/* flags 0, fragment offset 0 */
		0x00, 0x00,
		/* TTL 64, protocol TCP (6) */
		0x40, 0x06,
		/* header checksum: filled in below */
		0x00, 0x00,
		/* source 198.18.0.1 */
		0xc6, 0x12, 0x00, 0x01,
		/* destination: the target, filled in below */
		0x00, 0x00, 0x00, 0x00,
		/* TCP: source port (time bits), destination port: filled in below */
		0x00, 0x00, 0x00, 0x00,
		/* sequence number: the cookie, filled in below */
		0x00, 0x00, 0x00, 0x00,
		/* acknowledgment number 0 */
		0x00, 0x00, 0x00, 0x00,
		/* data offset 6 (24 bytes), reserved 0; flags SYN */
		0x60, 0x02,
		/* window 65535 */
		0xff, 0xff,
		/* checksum: filled in below */
		0x00, 0x00,
		/* urgent pointer 0 */
		0x00, 0x00,
		/* option: MSS (kind 2, length 4) 1460 */
		0x02, 0x04, 0x05, 0xb4,
	};
	uint16_t sport = syn_sport(now_ns);
	uint32_t c = syn_cookie(dst, dport, sport);

	memcpy(f, want, sizeof(want));
	set16(f + 18, ip_id_of(c));
	set32(f + 30, dst);
	fill_ip_csum(f + 14);
	set16(f + 34, sport);
	set16(f + 36, dport);
	set32(f + 38, c);
	set16(f + 50, ref_tcp_csum(f + 14, f + 34, 24));
}

Test(probe, syn_bytes)
{
	const struct probe_target t = { .ip = TARGET_IP, .port = TARGET_PORT };
	uint8_t got[PROBE_FRAME_MAX], want[SYN_FRAME_LEN];
	size_t len = build_and_patch(&probe_syn, got, &t, NOW_NS);

	syn_expected(want, TARGET_IP, TARGET_PORT, NOW_NS);
	/* The source port of the vector, spelled out: 0x8000 | (0x102030405 >> 15) & 0x7fff. */
	cr_assert_eq(syn_sport(NOW_NS), 0x8000 | (0x102030405ull >> 15 & 0x7fff));
	cr_assert_eq(want[36], 0x00);
	cr_assert_eq(want[37], 0x50, "test vector: destination port 80");
	assert_frame("tcp syn", got, len, want, sizeof(want));

	cr_assert_eq(ref_sum(got + 14, 20), 0xffff, "IPv4 header sums to %#06x", ref_sum(got + 14, 20));
	cr_assert_eq(ref_tcp_sum(got + 14, got + 34, 24), 0xffff, "TCP pseudo-header + segment sums to %#06x",
		     ref_tcp_sum(got + 14, got + 34, 24));
}

Test(probe, syn_other_targets_ports_and_times)
{
	static const uint32_t ips[] = { 0x00000000u, 0x0a000001u, 0xc6130102u, 0xffffffffu };
	static const uint16_t ports[] = { 1, 22, 80, 443, 0x8000, 65535 };
	static const uint64_t times[] = { 0, 1ull << 15, NOW_NS, (1ull << 30) - 1, 0xffffffffffffffffull };

	for (size_t i = 0; i < sizeof(ips) / sizeof(ips[0]); i++)
		for (size_t j = 0; j < sizeof(ports) / sizeof(ports[0]); j++)
			for (size_t k = 0; k < sizeof(times) / sizeof(times[0]); k++) {
				const struct probe_target t = { .ip = ips[i], .port = ports[j] };
				uint8_t got[PROBE_FRAME_MAX], want[SYN_FRAME_LEN];
				char what[80];
				size_t len = build_and_patch(&probe_syn, got, &t, times[k]);

				syn_expected(want, ips[i], ports[j], times[k]);
				snprintf(what, sizeof(what), "tcp syn to %#010x:%u at %#llx", ips[i], ports[j],
					 (unsigned long long)times[k]);
				assert_frame(what, got, len, want, sizeof(want));
			}
}

/*
 * A target's answer to the SYN sent to (src, port) at sent_ns: flags, its own sequence number,
 * ack = our seq + 1 (RFC 9293 3.10.7.4 for SYN-ACK, 3.10.7.2/3.5.2 for RST). 58 bytes with the
 * MSS option for SYN-ACK; the RST variant uses the same layout (options are harmless).
 */
#define TH_FIN_ 0x01
#define TH_SYN_ 0x02
#define TH_RST_ 0x04
#define TH_ACK_ 0x10

static void syn_reply(uint8_t *f, uint32_t src, uint16_t port, uint64_t sent_ns, uint8_t flags)
{
	static const uint8_t r[SYN_FRAME_LEN] = {
		/* Ethernet: to us, from the next hop, type IPv4 */
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
		0x08, 0x00,
		/* IPv4: 0x45, TOS 0, length 44, id 0, DF, TTL 0x3a (58), TCP, checksum (below) */
		0x45, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x40, 0x00, 0x3a, 0x06, 0x00, 0x00,
		/* source: the target (below); destination 198.18.0.1 */
		0x00, 0x00, 0x00, 0x00,
		0xc6, 0x12, 0x00, 0x01,
		/* TCP: source port = the probed port, destination port = our source port (below) */
		0x00, 0x00, 0x00, 0x00,
		/* sequence number: the target's ISN */
		0x11, 0x22, 0x33, 0x44,
		/* acknowledgment number: our seq + 1 (below) */
		0x00, 0x00, 0x00, 0x00,
		/* data offset 6; flags (below); window 64240; checksum (below); urgent 0 */
		0x60, 0x00, 0xfa, 0xf0, 0x00, 0x00, 0x00, 0x00,
		/* MSS 1460 */
		0x02, 0x04, 0x05, 0xb4,
	};
	uint16_t sport = syn_sport(sent_ns);

	memcpy(f, r, sizeof(r));
	set32(f + 26, src);
	set16(f + 34, port);
	set16(f + 36, sport);
	set32(f + 42, syn_cookie(src, port, sport) + 1);
	f[47] = flags;
	if (flags & TH_RST_) /* a RST answering a SYN: seq 0, window 0 */
		memset(f + 38, 0, 4), memset(f + 48, 0, 2);
}

static void syn_fix(uint8_t *f)
{
	fill_ip_csum(f + 14);
	f[50] = f[51] = 0;
	set16(f + 50, ref_tcp_csum(f + 14, f + 34, 24));
}

static void syn_reply_fixed(uint8_t *f, uint32_t src, uint16_t port, uint64_t sent_ns, uint8_t flags)
{
	syn_reply(f, src, port, sent_ns, flags);
	syn_fix(f);
}

Test(probe, syn_ack_open)
{
	uint8_t f[SYN_FRAME_LEN];
	struct probe_reply out;
	const uint64_t now = NOW_NS + RTT_NS;

	syn_reply_fixed(f, TARGET_IP, TARGET_PORT, NOW_NS, TH_SYN_ | TH_ACK_);
	memset(&out, 0xa5, sizeof(out));
	cr_assert(probe_syn.parse(&env, f, sizeof(f), now, &out), "valid SYN-ACK rejected");
	cr_assert_eq(out.ip, TARGET_IP, "ip %#x, expected %#x", out.ip, TARGET_IP);
	cr_assert_eq(out.port, TARGET_PORT, "port %u, expected 80", out.port);
	cr_assert_eq(out.state, PROBE_STATE_OPEN, "state %u, expected OPEN", out.state);
	cr_assert_eq(out.ttl, 58, "ttl %u, expected 58", out.ttl);
	cr_assert(!out.has_mac, "has_mac set for TCP");
	cr_assert(out.has_sent_ns, "has_sent_ns not set");
	cr_assert_leq(out.sent_ns, now, "sent_ns %#llx after now", (unsigned long long)out.sent_ns);
	uint64_t d = out.sent_ns > NOW_NS ? out.sent_ns - NOW_NS : NOW_NS - out.sent_ns;
	cr_assert_lt(d, 1ull << 15, "sent_ns %#llx is %llu ns from the truth %#llx", (unsigned long long)out.sent_ns,
		     (unsigned long long)d, (unsigned long long)NOW_NS);

	/* The reply to the probe we actually built: ports swapped, ack = its seq + 1. */
	const struct probe_target t = { .ip = TARGET_IP, .port = TARGET_PORT };
	uint8_t p[PROBE_FRAME_MAX];
	build_and_patch(&probe_syn, p, &t, NOW_NS);
	cr_assert(p[34] == f[36] && p[35] == f[37] && p[36] == f[34] && p[37] == f[35], "ports not swapped");
	uint32_t seq = (uint32_t)p[38] << 24 | (uint32_t)p[39] << 16 | (uint32_t)p[40] << 8 | p[41];
	uint32_t ack = (uint32_t)f[42] << 24 | (uint32_t)f[43] << 16 | (uint32_t)f[44] << 8 | f[45];
	cr_assert_eq(ack, seq + 1, "reply ack %#x, probe seq %#x", ack, seq);

	/* A 40-byte SYN-ACK without options is as good. */
	uint8_t g[54];
	memcpy(g, f, sizeof(g));
	set16(g + 16, 40);
	g[46] = 0x50;
	fill_ip_csum(g + 14);
	g[50] = g[51] = 0;
	set16(g + 50, ref_tcp_csum(g + 14, g + 34, 20));
	cr_assert(probe_syn.parse(&env, g, sizeof(g), now, &out), "SYN-ACK without options rejected");
	cr_assert_eq(out.state, PROBE_STATE_OPEN);
}

Test(probe, rst_ack_closed)
{
	uint8_t f[SYN_FRAME_LEN];
	struct probe_reply out;
	const uint64_t now = NOW_NS + RTT_NS;

	syn_reply_fixed(f, TARGET_IP, TARGET_PORT, NOW_NS, TH_RST_ | TH_ACK_);
	memset(&out, 0xa5, sizeof(out));
	cr_assert(probe_syn.parse(&env, f, sizeof(f), now, &out), "valid RST|ACK rejected");
	cr_assert_eq(out.ip, TARGET_IP, "ip %#x, expected %#x", out.ip, TARGET_IP);
	cr_assert_eq(out.port, TARGET_PORT, "port %u, expected 80", out.port);
	cr_assert_eq(out.state, PROBE_STATE_CLOSED, "state %u, expected CLOSED", out.state);
	cr_assert(out.has_sent_ns, "has_sent_ns not set");
	uint64_t d = out.sent_ns > NOW_NS ? out.sent_ns - NOW_NS : NOW_NS - out.sent_ns;
	cr_assert_lt(d, 1ull << 15, "sent_ns %#llx is %llu ns from the truth", (unsigned long long)out.sent_ns,
		     (unsigned long long)d);
}

Test(probe, syn_replies_rejected)
{
	uint8_t f[SYN_FRAME_LEN];
	struct probe_reply out;
	const uint64_t now = NOW_NS + RTT_NS;
	const uint16_t sport = syn_sport(NOW_NS);
	const uint32_t c = syn_cookie(TARGET_IP, TARGET_PORT, sport);

	/* ack off by one either way (and ack = seq, as if +1 were forgotten) */
	static const int32_t deltas[] = { -1, +1, -2, 0x10000 };
	for (size_t i = 0; i < sizeof(deltas) / sizeof(deltas[0]); i++) {
		syn_reply(f, TARGET_IP, TARGET_PORT, NOW_NS, TH_SYN_ | TH_ACK_);
		set32(f + 42, c + 1 + (uint32_t)deltas[i]);
		syn_fix(f);
		cr_assert(!probe_syn.parse(&env, f, sizeof(f), now, &out), "SYN-ACK with ack = seq+1%+d accepted",
			  deltas[i]);
		f[47] = TH_RST_ | TH_ACK_;
		syn_fix(f);
		cr_assert(!probe_syn.parse(&env, f, sizeof(f), now, &out), "RST|ACK with ack = seq+1%+d accepted",
			  deltas[i]);
	}

	/* wrong destination port (not the source port we sent from): one bit off, a neighbour, and
	 * a port without the 0x8000 base bit */
	static const uint16_t dports_xor[] = { 0x0001, 0x0100, 0x4000, 0x8000 };
	for (size_t i = 0; i < sizeof(dports_xor) / sizeof(dports_xor[0]); i++) {
		syn_reply(f, TARGET_IP, TARGET_PORT, NOW_NS, TH_SYN_ | TH_ACK_);
		set16(f + 36, sport ^ dports_xor[i]);
		syn_fix(f);
		cr_assert(!probe_syn.parse(&env, f, sizeof(f), now, &out), "SYN-ACK to port %#x (sent from %#x) accepted",
			  sport ^ dports_xor[i], sport);
	}

	/* wrong source port: an answer from port 81 carrying port 80's cookie */
	syn_reply(f, TARGET_IP, TARGET_PORT, NOW_NS, TH_SYN_ | TH_ACK_);
	set16(f + 34, TARGET_PORT + 1);
	syn_fix(f);
	cr_assert(!probe_syn.parse(&env, f, sizeof(f), now, &out), "SYN-ACK from another port accepted");

	/* wrong source IP: 198.19.1.3 answering with 198.19.1.2's cookie */
	syn_reply(f, TARGET_IP, TARGET_PORT, NOW_NS, TH_SYN_ | TH_ACK_);
	set32(f + 26, TARGET_IP + 1);
	syn_fix(f);
	cr_assert(!probe_syn.parse(&env, f, sizeof(f), now, &out), "SYN-ACK from another address accepted");

	/* to another address than ours */
	syn_reply(f, TARGET_IP, TARGET_PORT, NOW_NS, TH_SYN_ | TH_ACK_);
	set32(f + 30, env.src_ip + 1);
	syn_fix(f);
	cr_assert(!probe_syn.parse(&env, f, sizeof(f), now, &out), "SYN-ACK to another address accepted");

	/* flags that are not an answer: bare SYN (a simultaneous open or a scan of us), bare RST
	 * without ACK, bare ACK, FIN|ACK, none */
	static const struct { uint8_t flags; const char *what; } bad[] = {
		{ TH_SYN_, "bare SYN" }, { TH_RST_, "bare RST" }, { TH_ACK_, "bare ACK" },
		{ TH_FIN_ | TH_ACK_, "FIN|ACK" }, { 0, "no flags" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		syn_reply_fixed(f, TARGET_IP, TARGET_PORT, NOW_NS, bad[i].flags);
		cr_assert(!probe_syn.parse(&env, f, sizeof(f), now, &out), "%s (flags %#04x) accepted", bad[i].what,
			  bad[i].flags);
	}

	/* truncated anywhere short of the TCP header, or of the IP total length */
	syn_reply_fixed(f, TARGET_IP, TARGET_PORT, NOW_NS, TH_SYN_ | TH_ACK_);
	for (size_t n = 0; n < sizeof(f); n++)
		cr_assert(!probe_syn.parse(&env, f, n, now, &out), "SYN-ACK cut to %zu bytes accepted", n);
	/* an IP total length too short for a TCP header */
	syn_reply(f, TARGET_IP, TARGET_PORT, NOW_NS, TH_SYN_ | TH_ACK_);
	set16(f + 16, 20 + 19);
	syn_fix(f);
	cr_assert(!probe_syn.parse(&env, f, sizeof(f), now, &out), "IP length 39 (19-byte TCP) accepted");

	/* not TCP: the same bytes labelled UDP */
	syn_reply(f, TARGET_IP, TARGET_PORT, NOW_NS, TH_SYN_ | TH_ACK_);
	f[23] = 17;
	syn_fix(f);
	cr_assert(!probe_syn.parse(&env, f, sizeof(f), now, &out), "UDP datagram accepted as TCP");

	/* fragments */
	static const uint16_t frags[] = { 0x2000, 0x0001, 0x6000 };
	for (size_t i = 0; i < sizeof(frags) / sizeof(frags[0]); i++) {
		syn_reply(f, TARGET_IP, TARGET_PORT, NOW_NS, TH_SYN_ | TH_ACK_);
		set16(f + 20, frags[i]);
		syn_fix(f);
		cr_assert(!probe_syn.parse(&env, f, sizeof(f), now, &out), "TCP fragment (flags/offset %#06x) accepted",
			  frags[i]);
	}
}

/* The RTT from the source port's time bits is within 2^15 ns of the truth for any send time and
 * any RTT below the ~1.07 s wrap (2^15 steps of 2^15 ns). */
Test(probe, syn_rtt_from_time_bits)
{
	static const uint64_t sends[] = { 0, 1, NOW_NS, (1ull << 15) - 1, 1ull << 15, (1ull << 30) - 1,
					  1ull << 30, 0x123456789abcdefull, 3600ull * 1000000000ull };
	static const uint64_t rtts[] = { 0, 1, 100, 32767, 32768, 32769, 1000000, 50000000, 999999999,
					 (1ull << 30) - (1ull << 15) - 1 };

	for (size_t i = 0; i < sizeof(sends) / sizeof(sends[0]); i++)
		for (size_t j = 0; j < sizeof(rtts) / sizeof(rtts[0]); j++) {
			uint8_t f[SYN_FRAME_LEN];
			struct probe_reply out;
			uint64_t sent = sends[i], now = sent + rtts[j];

			syn_reply_fixed(f, TARGET_IP, TARGET_PORT, sent, TH_SYN_ | TH_ACK_);
			cr_assert(probe_syn.parse(&env, f, sizeof(f), now, &out),
				  "SYN-ACK sent at %#llx, rtt %llu rejected", (unsigned long long)sent,
				  (unsigned long long)rtts[j]);
			cr_assert_leq(out.sent_ns, now, "sent %#llx rtt %llu: sent_ns %#llx after now",
				      (unsigned long long)sent, (unsigned long long)rtts[j],
				      (unsigned long long)out.sent_ns);
			uint64_t d = out.sent_ns > sent ? out.sent_ns - sent : sent - out.sent_ns;
			cr_assert_lt(d, 1ull << 15, "sent %#llx rtt %llu: sent_ns %#llx off by %llu ns",
				     (unsigned long long)sent, (unsigned long long)rtts[j],
				     (unsigned long long)out.sent_ns, (unsigned long long)d);
		}
}

/* Each parser claims only its own replies. */
Test(probe, parsers_do_not_claim_each_others_replies)
{
	uint8_t a[ARP_REPLY_LEN], i[ICMP_FRAME_LEN], s[SYN_FRAME_LEN];
	struct probe_reply out;
	const uint64_t now = NOW_NS + RTT_NS;

	arp_reply(a);
	icmp_reply(i, TARGET_IP, NOW_NS);
	syn_reply_fixed(s, TARGET_IP, TARGET_PORT, NOW_NS, TH_SYN_ | TH_ACK_);
	cr_assert(!probe_icmp.parse(&env, a, sizeof(a), now, &out), "icmp claims an ARP reply");
	cr_assert(!probe_syn.parse(&env, a, sizeof(a), now, &out), "syn claims an ARP reply");
	cr_assert(!probe_arp.parse(&env, i, sizeof(i), now, &out), "arp claims an echo reply");
	cr_assert(!probe_syn.parse(&env, i, sizeof(i), now, &out), "syn claims an echo reply");
	cr_assert(!probe_arp.parse(&env, s, sizeof(s), now, &out), "arp claims a SYN-ACK");
	cr_assert(!probe_icmp.parse(&env, s, sizeof(s), now, &out), "icmp claims a SYN-ACK");
}

/* Our own outgoing probes, if captured, are never taken for replies. */
Test(probe, own_probes_not_claimed)
{
	const struct probe_target t = { .ip = TARGET_IP, .port = TARGET_PORT };
	const struct probe_ops *all[] = { &probe_arp, &probe_icmp, &probe_syn };
	struct probe_reply out;

	for (size_t p = 0; p < 3; p++) {
		uint8_t f[PROBE_FRAME_MAX];
		size_t len = build_and_patch(all[p], f, &t, NOW_NS);
		for (size_t q = 0; q < 3; q++)
			cr_assert(!all[q]->parse(&env, f, len, NOW_NS + RTT_NS, &out), "%s claims our own %s probe",
				  all[q]->name, all[p]->name);
	}
}
