/* SPDX-License-Identifier: MIT */
/*
 * netinfo.h: what the sender needs to know about the local network before a sweep: the
 * interface and source address the kernel would use for a destination, that interface's MAC,
 * and the next hop's MAC (from the kernel's neighbour table, else asked by ARP ourselves).
 *
 * All addresses are IPv4 in host byte order. Functions return 0 or -errno / LNMT_E_*; none
 * keeps state between calls. Slow path only: called once per sweep, never per packet.
 */
#ifndef LNMT_NETINFO_H
#define LNMT_NETINFO_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

struct net_route {
	int ifindex;
	char ifname[IF_NAMESIZE];
	uint32_t src_ip;   /* the kernel's preferred source for dst (RTA_PREFSRC), else the interface's first address */
	uint32_t gateway;  /* next hop when has_gateway */
	bool has_gateway;  /* false: dst is on-link */
};

/*
 * Asks the kernel (rtnetlink RTM_GETROUTE) how it would route dst. LNMT_E_NOROUTE when it has no
 * route (unreachable or no default route); other refusals keep the kernel's errno: -EACCES for a
 * prohibit route, -EINVAL for a blackhole. -EAFNOSUPPORT when the next hop is IPv6 (RTA_VIA).
 */
int netinfo_route(uint32_t dst, struct net_route *out);

/*
 * Interface by name: index, first IPv4 address (-EADDRNOTAVAIL if none; addresses under an alias
 * label "name:x" count), MAC (-ENODEV if the link has none: only Ethernet and loopback, whose MAC
 * is all zeros, have one). -ENODEV for an unknown name, including one of IF_NAMESIZE or more.
 */
int netinfo_ifindex(const char *ifname, int *ifindex);
int netinfo_if_ipv4(const char *ifname, uint32_t *ip);
int netinfo_if_mac(const char *ifname, uint8_t mac[6]);

/*
 * MAC of ip in the kernel's neighbour table on ifindex, if a usable entry exists (REACHABLE, STALE,
 * DELAY, PROBE, PERMANENT or NOARP, with a 6-byte address); else -ENOENT. Reads only; sends nothing.
 */
int netinfo_neigh(int ifindex, uint32_t ip, uint8_t mac[6]);

/*
 * Resolves ip by sending ARP requests ourselves on ifindex (from src_mac/src_ip) and waiting for
 * the reply: up to `tries` requests, `timeout_ms` apart; blocks up to tries * timeout_ms. Only a
 * reply from ip to src_ip with a unicast, non-zero sender MAC counts. Needs CAP_NET_RAW (-EPERM
 * otherwise); -EINVAL for ifindex <= 0 or tries == 0; LNMT_E_NONEIGH when nobody answered.
 */
int netinfo_arp_resolve(int ifindex, const uint8_t src_mac[6], uint32_t src_ip, uint32_t ip,
			unsigned tries, unsigned timeout_ms, uint8_t mac[6]);

/*
 * The next-hop MAC for ip: the neighbour table first, then (only on -ENOENT)
 * netinfo_arp_resolve(3 tries, 200 ms), so it may block about 600 ms.
 */
int netinfo_next_hop_mac(int ifindex, const uint8_t src_mac[6], uint32_t src_ip, uint32_t ip, uint8_t mac[6]);

/*
 * Parses exactly "aa:bb:cc:dd:ee:ff" (or with '-' throughout; either case of hex): no spaces, no
 * mixed separators. LNMT_E_PARSE if malformed or NULL.
 */
int netinfo_parse_mac(const char *s, uint8_t mac[6]);

#endif
