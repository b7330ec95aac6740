/* SPDX-License-Identifier: MIT */
/* test_sweep_link.c: which sweeps go through the kernel's IPv4 stack, and which stay on packet sockets. */
#include "rx.h"
#include "sweep_int.h"

#include <criterion/criterion.h>

static struct sweep_config cfg_of(const struct probe_ops *a, const struct probe_ops *b, bool kernel_routes)
{
	struct sweep_config c = { .tx = TX_AUTO, .kernel_routes = kernel_routes };

	c.probes[c.n_probes++] = a;
	if (b)
		c.probes[c.n_probes++] = b;
	return c;
}

Test(sweep_link, small_ip_sweeps_the_kernel_routes_take_the_ipv4_link)
{
	struct sweep_config c = cfg_of(&probe_icmp, NULL, true);
	cr_expect(sweep_ipv4_link(&c, 256), "an ICMP /24");
	cr_expect(sweep_ipv4_link(&c, RX_SOCKET_MAX_FRAMES), "an ICMP /20, the largest small sweep");
	c = cfg_of(&probe_syn, NULL, true);
	cr_expect(sweep_ipv4_link(&c, 768), "a SYN /24 on three ports");
	c = cfg_of(&probe_icmp, &probe_syn, true);
	cr_expect(sweep_ipv4_link(&c, 512), "ICMP and SYN");
}

Test(sweep_link, everything_else_stays_on_packet_sockets)
{
	struct sweep_config c = cfg_of(&probe_icmp, NULL, true);
	cr_expect_not(sweep_ipv4_link(&c, RX_SOCKET_MAX_FRAMES + 1), "a large sweep: the ring, and no conntrack flood");
	c = cfg_of(&probe_icmp, NULL, false);
	cr_expect_not(sweep_ipv4_link(&c, 256), "the kernel would route it otherwise (--gateway-mac, a foreign --source-ip, ...)");
	c = cfg_of(&probe_arp, NULL, true);
	cr_expect_not(sweep_ipv4_link(&c, 256), "ARP is no IPv4 packet");
	c = cfg_of(&probe_icmp, &probe_arp, true);
	cr_expect_not(sweep_ipv4_link(&c, 512), "ARP with ICMP: one packet capture for both");
	c = cfg_of(&probe_icmp, NULL, true);
	c.tx = TX_NULL;
	cr_expect_not(sweep_ipv4_link(&c, 256), "a dry run opens nothing");
}
