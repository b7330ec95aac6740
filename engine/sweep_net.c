/* SPDX-License-Identifier: MIT */
/* sweep_net.c: choosing interface, source and next hop for a sweep (see sweep_net.h). */
#include "sweep_net.h"

#include "err.h"
#include "netinfo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Target ranges whose routes same_route_everywhere() checks at most (two lookups each). */
#define KERNEL_ROUTE_RANGES 16

static bool needs_next_hop(const struct sweep_config *cfg)
{
	for (unsigned i = 0; i < cfg->n_probes; i++)
		if (cfg->probes[i]->needs_next_hop)
			return true;
	return false;
}

static int pick_interface(const struct sweep_net_opts *o, const struct net_route *route, bool routed,
			  struct sweep_config *cfg, char ifname_buf[IF_NAMESIZE], char *err, size_t errlen)
{
	const char *name = o->ifname ? o->ifname : routed ? route->ifname : NULL;
	char a[16];
	int rc;

	if (!name) {
		snprintf(err, errlen, "no route to %s: pass the interface with -i",
			 ipv4_format(target_set_addr(cfg->targets, 0), a));
		return LNMT_E_NOROUTE;
	}
	snprintf(ifname_buf, IF_NAMESIZE, "%s", name);
	cfg->ifname = ifname_buf;
	if ((rc = netinfo_ifindex(name, &cfg->ifindex))) {
		snprintf(err, errlen, "interface %s: %s", name, rc == -ENODEV ? "no such interface" : lnmt_strerror(rc));
		return rc == -ENODEV && o->ifname ? LNMT_E_PARSE : rc; /* the user's -i: a usage error */
	}
	if ((rc = netinfo_if_mac(name, cfg->env.src_mac))) {
		snprintf(err, errlen, "interface %s has no MAC address: %s", name, lnmt_strerror(rc));
		return rc;
	}
	return 0;
}

static int pick_source(const struct sweep_net_opts *o, const struct net_route *route, bool routed,
		       struct sweep_config *cfg, char *err, size_t errlen)
{
	struct in_addr in;
	int rc;

	if (o->source_ip) {
		if (inet_pton(AF_INET, o->source_ip, &in) != 1) {
			snprintf(err, errlen, "bad --source-ip '%s': expected a.b.c.d", o->source_ip);
			return LNMT_E_PARSE;
		}
		cfg->env.src_ip = ntohl(in.s_addr);
		return 0;
	}
	if (routed && route->ifindex == cfg->ifindex) {
		cfg->env.src_ip = route->src_ip;
		return 0;
	}
	if ((rc = netinfo_if_ipv4(cfg->ifname, &cfg->env.src_ip))) {
		snprintf(err, errlen, "interface %s has no IPv4 address: pass --source-ip", cfg->ifname);
		return rc;
	}
	return 0;
}

static int pick_next_hop(const struct sweep_net_opts *o, const struct net_route *route, bool routed,
			 struct sweep_config *cfg, char *err, size_t errlen)
{
	char a[16];
	int rc;

	if (o->gateway_mac) {
		if (netinfo_parse_mac(o->gateway_mac, cfg->env.next_hop_mac)) {
			snprintf(err, errlen, "bad --gateway-mac '%s': expected aa:bb:cc:dd:ee:ff", o->gateway_mac);
			return LNMT_E_PARSE;
		}
		return 0;
	}
	if (!routed || !route->has_gateway || route->ifindex != cfg->ifindex) {
		snprintf(err, errlen, "%s is on-link on %s: ICMP and SYN probes need one next-hop MAC; "
				      "sweep on-link networks with --probe arp, or pass --gateway-mac",
			 ipv4_format(target_set_addr(cfg->targets, 0), a), cfg->ifname);
		return LNMT_E_ONLINK;
	}
	/* The neighbour table first (as netinfo_next_hop_mac() does): what it knows, the kernel
	 * would send to as well. */
	if ((rc = netinfo_neigh(cfg->ifindex, route->gateway, cfg->env.next_hop_mac)) == 0) {
		cfg->kernel_routes = !o->source_ip || cfg->env.src_ip == route->src_ip;
		return 0;
	}
	rc = netinfo_next_hop_mac(cfg->ifindex, cfg->env.src_mac, cfg->env.src_ip, route->gateway,
				  cfg->env.next_hop_mac);
	if (rc == -EPERM) {
		snprintf(err, errlen, "resolving gateway %s needs CAP_NET_RAW: run as root",
			 ipv4_format(route->gateway, a));
		return rc;
	}
	if (rc) {
		snprintf(err, errlen, "gateway %s on %s did not answer ARP: pass --gateway-mac",
			 ipv4_format(route->gateway, a), cfg->ifname);
		return rc;
	}
	return 0;
}

/*
 * Whether the kernel routes every target range as it routes the first target (same interface,
 * same gateway), judged by each range's first and last address; only small target sets are
 * looked at (the IPv4 link is for small sweeps), so a large list of ranges says no.
 */
static bool same_route_everywhere(const struct sweep_config *cfg, const struct net_route *first)
{
	const struct target_set *t = cfg->targets;

	if (t->n_incl > KERNEL_ROUTE_RANGES)
		return false;
	for (size_t i = 0; i < t->n_incl; i++) {
		uint32_t ends[2] = { t->incl[i].first, t->incl[i].last };
		for (int e = 0; e < 2; e++) {
			struct net_route r;
			if (netinfo_route(ends[e], &r) || !r.has_gateway || r.ifindex != first->ifindex ||
			    r.gateway != first->gateway)
				return false;
		}
	}
	return true;
}

int sweep_net_resolve(const struct sweep_net_opts *o, struct sweep_config *cfg,
		      char ifname_buf[IF_NAMESIZE], char *err, size_t errlen)
{
	struct net_route route;
	bool routed = netinfo_route(target_set_addr(cfg->targets, 0), &route) == 0;
	int rc;

	cfg->kernel_routes = false;
	if ((rc = pick_interface(o, &route, routed, cfg, ifname_buf, err, errlen)) ||
	    (rc = pick_source(o, &route, routed, cfg, err, errlen)))
		return rc;
	if (!needs_next_hop(cfg))
		return 0;
	if ((rc = pick_next_hop(o, &route, routed, cfg, err, errlen)))
		return rc;
	if (cfg->kernel_routes && !same_route_everywhere(cfg, &route))
		cfg->kernel_routes = false;
	return 0;
}
