/* SPDX-License-Identifier: MIT */
/*
 * tcp_syn.c: TCP SYN probe with an MSS option. A SYN-ACK means the port is open, a RST that it
 * is closed; both prove the host is up. Both echo our source port and acknowledge our sequence
 * number + 1 (RFC 9293 3.10.7), so those 48 bits carry the state: the source port holds the send
 * time (32.768 us units, 15 bits: unambiguous for RTTs up to ~1.07 s) and the sequence number
 * holds the 32-bit cookie of (target, port, source port).
 *
 * The scanner's own kernel answers SYN-ACKs it did not expect with a RST; that outgoing RST is
 * never captured (the receiver listens inbound only) and only ends the target's half-open state.
 */
#include "probe.h"

#include "err.h"

#include <libnet.h>

#define TCP_OFF (IP4_OFF + IP4_HLEN)
#define TCP_OPT_LEN 4
#define TCP_LEN (LIBNET_TCP_H + TCP_OPT_LEN)
#define SYN_SPORT_BASE 0x8000u
#define SYN_TIME_SHIFT 15 /* 2^15 ns = 32.768 us per source-port step */
#define SYN_TIME_MASK 0x7fffu
#define SYN_COOKIE_AUX 0x73796e00u /* "syn\0" */

static int syn_build(const struct probe_env *env, uint8_t *frame, size_t cap)
{
	static const uint8_t mss[TCP_OPT_LEN] = { 2, 4, 0x05, 0xb4 }; /* MSS 1460 */
	char errbuf[LIBNET_ERRBUF_SIZE];
	libnet_t *l = libnet_init(LIBNET_NONE, NULL, errbuf);

	if (!l)
		return LNMT_E_LIBNET;
	/* libnet wants options before the TCP header they belong to. */
	if (libnet_build_tcp_options(mss, TCP_OPT_LEN, l, 0) == -1 ||
	    libnet_build_tcp(SYN_SPORT_BASE, 0, 0, 0, TH_SYN, 65535, 0, 0, TCP_LEN, NULL, 0, l, 0) == -1 ||
	    libnet_build_ipv4(LIBNET_IPV4_H + TCP_LEN, 0, 0, 0, env->ttl, IPPROTO_TCP, 0,
			      htonl(env->src_ip), 0, NULL, 0, l, 0) == -1 ||
	    libnet_build_ethernet(env->next_hop_mac, env->src_mac, ETHERTYPE_IP, NULL, 0, l, 0) == -1) {
		libnet_destroy(l);
		return LNMT_E_LIBNET;
	}
	return probe_libnet_finish(l, frame, cap);
}

static uint32_t syn_cookie(const struct probe_env *env, uint32_t ip, uint16_t dport, uint16_t sport)
{
	return (uint32_t)cookie_of(&env->key, ip, SYN_COOKIE_AUX ^ dport, sport);
}

static void syn_patch(const struct probe_env *env, uint8_t *f, const struct probe_target *t,
		      uint64_t now_ns)
{
	uint8_t *ip = f + IP4_OFF, *tcp = f + TCP_OFF;
	uint16_t sport = (uint16_t)(SYN_SPORT_BASE | ((now_ns >> SYN_TIME_SHIFT) & SYN_TIME_MASK));
	uint32_t c = syn_cookie(env, t->ip, t->port, sport);

	put_be16(ip + 4, (uint16_t)(c ^ (c >> 16)));
	put_be32(ip + 16, t->ip);
	probe_ipv4_fix_csum(ip);
	put_be16(tcp + 0, sport);
	put_be16(tcp + 2, t->port);
	put_be32(tcp + 4, c);
	tcp[16] = tcp[17] = 0;
	/* Pseudo-header: source, destination, zero, protocol, TCP length (RFC 9293 3.1). */
	uint32_t sum = probe_csum_add(ip + 12, 8, IPPROTO_TCP + TCP_LEN);
	put_be16(tcp + 16, probe_csum(tcp, TCP_LEN, sum));
}

static bool syn_parse(const struct probe_env *env, const uint8_t *f, size_t len, uint64_t now_ns,
		      struct probe_reply *out)
{
	size_t l4_len, off = probe_ipv4_l4(env, f, len, IPPROTO_TCP, &l4_len);

	if (!off || l4_len < LIBNET_TCP_H)
		return false;
	const uint8_t *tcp = f + off;
	uint16_t port = get_be16(tcp), sport = get_be16(tcp + 2);
	uint8_t flags = tcp[13];
	enum probe_state state;
	if ((flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK))
		state = PROBE_STATE_OPEN;
	else if ((flags & (TH_RST | TH_ACK)) == (TH_RST | TH_ACK))
		state = PROBE_STATE_CLOSED;
	else
		return false;
	uint32_t src = get_be32(f + IP4_OFF + 12);
	if (!(sport & SYN_SPORT_BASE) || get_be32(tcp + 8) - 1 != syn_cookie(env, src, port, sport))
		return false;
	uint64_t elapsed = ((now_ns >> SYN_TIME_SHIFT) - sport) & SYN_TIME_MASK;
	*out = (struct probe_reply){
		.ip = src,
		.port = port,
		.state = (uint8_t)state,
		.ttl = f[IP4_OFF + 8],
		.has_sent_ns = true,
		.sent_ns = now_ns - (elapsed << SYN_TIME_SHIFT),
	};
	return true;
}

const struct probe_ops probe_syn = {
	.name = "syn",
	.bpf_filter = "tcp and (tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack) or "
		      "tcp[tcpflags] & (tcp-rst|tcp-ack) == (tcp-rst|tcp-ack))",
	.uses_port = true,
	.needs_next_hop = true,
	.build = syn_build,
	.patch = syn_patch,
	.parse = syn_parse,
};
