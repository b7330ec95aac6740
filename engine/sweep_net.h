/* SPDX-License-Identifier: MIT */
/*
 * sweep_net.h: fills a sweep's interface, source address and MACs from the kernel's routing and
 * neighbour tables, honouring the user's overrides (-i, --source-ip, --gateway-mac).
 * The route to the first target decides; IP probes go to its gateway's MAC. Slow path.
 */
#ifndef LNMT_SWEEP_NET_H
#define LNMT_SWEEP_NET_H

#include "sweep.h"

#include <net/if.h>

struct sweep_net_opts {
	const char *ifname;      /* NULL: from the route */
	const char *source_ip;   /* NULL: the route's preferred source */
	const char *gateway_mac; /* NULL: resolve the route's gateway */
};

/*
 * Sets cfg->ifindex, cfg->ifname (pointing into ifname_buf), cfg->env.src_ip, src_mac and, when
 * a probe needs it, next_hop_mac and cfg->kernel_routes (sweep.h). Returns 0 or an error with a one-line reason in err, e.g.
 * LNMT_E_ONLINK for IP probes to on-link targets without --gateway-mac.
 */
int sweep_net_resolve(const struct sweep_net_opts *o, struct sweep_config *cfg,
		      char ifname_buf[IF_NAMESIZE], char *err, size_t errlen);

#endif
