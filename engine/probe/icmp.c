/* SPDX-License-Identifier: MIT */
/*
 * icmp.c: ICMP echo probe. The echo data carries the send time (8 bytes, big-endian ns) and the
 * 32-bit cookie of (target, send time) goes into the identifier and sequence number, which the
 * target echoes back unchanged (RFC 792). A reply is genuine when its echoed time hashes to its
 * echoed id/seq for the address it came from; the RTT is then exact without any per-probe state.
 */
#include "probe.h"

#include "err.h"

#include <libnet.h>

#define ICMP_OFF (IP4_OFF + IP4_HLEN)
#define ICMP_DATA_LEN 8
#define ICMP_LEN (LIBNET_ICMPV4_ECHO_H + ICMP_DATA_LEN)
#define ICMP_COOKIE_AUX 0x69636d70u /* "icmp": keeps cookies of different probes apart */

static int icmp_build(const struct probe_env *env, uint8_t *frame, size_t cap)
{
	char errbuf[LIBNET_ERRBUF_SIZE];
	uint8_t zero_data[ICMP_DATA_LEN] = { 0 };
	libnet_t *l = libnet_init(LIBNET_NONE, NULL, errbuf);

	if (!l)
		return LNMT_E_LIBNET;
	if (libnet_build_icmpv4_echo(ICMP_ECHO, 0, 0, 0, 0, zero_data, ICMP_DATA_LEN, l, 0) == -1 ||
	    libnet_build_ipv4(LIBNET_IPV4_H + ICMP_LEN, 0, 0, 0, env->ttl, IPPROTO_ICMP, 0,
			      htonl(env->src_ip), 0, NULL, 0, l, 0) == -1 ||
	    libnet_build_ethernet(env->next_hop_mac, env->src_mac, ETHERTYPE_IP, NULL, 0, l, 0) == -1) {
		libnet_destroy(l);
		return LNMT_E_LIBNET;
	}
	return probe_libnet_finish(l, frame, cap);
}

static uint32_t icmp_cookie(const struct probe_env *env, uint32_t ip, uint64_t sent_ns)
{
	return (uint32_t)cookie_of(&env->key, ip, ICMP_COOKIE_AUX, sent_ns);
}

static void icmp_patch(const struct probe_env *env, uint8_t *f, const struct probe_target *t,
		       uint64_t now_ns)
{
	uint8_t *ip = f + IP4_OFF, *icmp = f + ICMP_OFF;
	uint32_t c = icmp_cookie(env, t->ip, now_ns);

	put_be16(ip + 4, (uint16_t)(c ^ (c >> 16))); /* IP id: varied so middleboxes see distinct packets */
	put_be32(ip + 16, t->ip);
	probe_ipv4_fix_csum(ip);
	put_be16(icmp + 4, (uint16_t)(c >> 16));
	put_be16(icmp + 6, (uint16_t)c);
	put_be32(icmp + 8, (uint32_t)(now_ns >> 32));
	put_be32(icmp + 12, (uint32_t)now_ns);
	icmp[2] = icmp[3] = 0;
	put_be16(icmp + 2, probe_csum(icmp, ICMP_LEN, 0));
}

static bool icmp_parse(const struct probe_env *env, const uint8_t *f, size_t len, uint64_t now_ns,
		       struct probe_reply *out)
{
	size_t l4_len, off = probe_ipv4_l4(env, f, len, IPPROTO_ICMP, &l4_len);

	if (!off || l4_len < ICMP_LEN)
		return false;
	const uint8_t *icmp = f + off;
	if (icmp[0] != ICMP_ECHOREPLY || icmp[1] != 0)
		return false;
	uint32_t src = get_be32(f + IP4_OFF + 12);
	uint64_t sent = (uint64_t)get_be32(icmp + 8) << 32 | get_be32(icmp + 12);
	uint32_t echoed = (uint32_t)get_be16(icmp + 4) << 16 | get_be16(icmp + 6);
	if (echoed != icmp_cookie(env, src, sent) || sent > now_ns)
		return false;
	*out = (struct probe_reply){
		.ip = src,
		.state = PROBE_STATE_UP,
		.ttl = f[IP4_OFF + 8],
		.has_sent_ns = true,
		.sent_ns = sent,
	};
	return true;
}

const struct probe_ops probe_icmp = {
	.name = "icmp",
	.bpf_filter = "icmp[icmptype] == icmp-echoreply",
	.uses_port = false,
	.needs_next_hop = true,
	.build = icmp_build,
	.patch = icmp_patch,
	.parse = icmp_parse,
};
