/* SPDX-License-Identifier: MIT */
/*
 * arp.c: ARP request probe for on-link sweeps (RFC 826). ARP echoes nothing we could hide a
 * cookie in, so a reply is accepted when it answers us (target hardware and protocol address
 * are ours) and the sweep then checks its sender address against the target set. The send time
 * is kept per target by the sweep for the RTT.
 */
#include "probe.h"

#include "err.h"

#include <libnet.h>
#include <string.h>

#define ARP_OFF ETH_HLEN_
#define ARP_FRAME_LEN (ETH_HLEN_ + LIBNET_ARP_ETH_IP_H)

static int arp_build(const struct probe_env *env, uint8_t *frame, size_t cap)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t zero_mac[6] = { 0 };
	uint8_t spa[4], zero_ip[4] = { 0 };
	char errbuf[LIBNET_ERRBUF_SIZE];
	libnet_t *l = libnet_init(LIBNET_NONE, NULL, errbuf);

	if (!l)
		return LNMT_E_LIBNET;
	put_be32(spa, env->src_ip);
	if (libnet_build_arp(ARPHRD_ETHER, ETHERTYPE_IP, 6, 4, ARPOP_REQUEST, env->src_mac, spa,
			     zero_mac, zero_ip, NULL, 0, l, 0) == -1 ||
	    libnet_build_ethernet(bcast, env->src_mac, ETHERTYPE_ARP, NULL, 0, l, 0) == -1) {
		libnet_destroy(l);
		return LNMT_E_LIBNET;
	}
	return probe_libnet_finish(l, frame, cap);
}

static void arp_patch(const struct probe_env *env, uint8_t *f, const struct probe_target *t,
		      uint64_t now_ns)
{
	(void)env;
	(void)now_ns;
	put_be32(f + ARP_OFF + 24, t->ip); /* target protocol address */
}

static bool arp_parse(const struct probe_env *env, const uint8_t *f, size_t len, uint64_t now_ns,
		      struct probe_reply *out)
{
	const uint8_t *arp = f + ARP_OFF;

	(void)now_ns;
	if (len < ARP_FRAME_LEN || get_be16(f + 12) != ETHERTYPE_ARP)
		return false;
	if (get_be16(arp) != ARPHRD_ETHER || get_be16(arp + 2) != ETHERTYPE_IP || arp[4] != 6 ||
	    arp[5] != 4 || get_be16(arp + 6) != ARPOP_REPLY)
		return false;
	if (get_be32(arp + 24) != env->src_ip || memcmp(arp + 18, env->src_mac, 6) != 0)
		return false;
	*out = (struct probe_reply){ .ip = get_be32(arp + 14), .state = PROBE_STATE_UP, .has_mac = true };
	memcpy(out->mac, arp + 8, 6);
	return true;
}

const struct probe_ops probe_arp = {
	.name = "arp",
	.bpf_filter = "arp[6:2] == 2",
	.uses_port = false,
	.needs_next_hop = false,
	.build = arp_build,
	.patch = arp_patch,
	.parse = arp_parse,
};
