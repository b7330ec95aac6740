/* SPDX-License-Identifier: MIT */
/* test_netinfo.c: netinfo's parsing and its loopback-only lookups; no test sends a packet. */
#include "err.h"
#include "netinfo.h"

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <net/if.h>
#include <stdint.h>
#include <string.h>

/*
 * The eq() assertions print both values on failure (the older cr_assert_eq prints only the
 * expression for integers); the message adds the return code's name.
 */
#define ASSERT_RC(rc, want) cr_assert(eq(int, (rc), (want)), "rc %d: %s", (rc), lnmt_strerror(rc))

/* Fills an out-parameter with a pattern no call writes, to check that failures leave it alone. */
#define POISON 0xa5

/* An interface name that cannot exist here: lnmt never creates interfaces. */
#define NO_SUCH_IF "lnmt-nosuch0"

static const uint8_t poison_mac[6] = { POISON, POISON, POISON, POISON, POISON, POISON };

/* ---- netinfo_parse_mac -------------------------------------------------------------------- */

Test(netinfo, parse_mac_colons_mixed_case)
{
	static const uint8_t want[6] = { 0x00, 0x1a, 0x2b, 0x3c, 0x4d, 0xfe };
	uint8_t mac[6];

	ASSERT_RC(netinfo_parse_mac("00:1a:2B:3c:4D:fE", mac), 0);
	cr_assert(eq(u8[6], mac, (uint8_t *)want));
}

Test(netinfo, parse_mac_dashes)
{
	static const uint8_t want[6] = { 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
	uint8_t mac[6];

	ASSERT_RC(netinfo_parse_mac("AA-BB-CC-DD-EE-FF", mac), 0);
	cr_assert(eq(u8[6], mac, (uint8_t *)want));
}

Test(netinfo, parse_mac_extremes)
{
	static const uint8_t zeros[6] = { 0 };
	static const uint8_t ones[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t mac[6];

	ASSERT_RC(netinfo_parse_mac("00:00:00:00:00:00", mac), 0);
	cr_assert(eq(u8[6], mac, (uint8_t *)zeros));
	ASSERT_RC(netinfo_parse_mac("ff:ff:ff:ff:ff:ff", mac), 0);
	cr_assert(eq(u8[6], mac, (uint8_t *)ones));
}

Test(netinfo, parse_mac_rejects_malformed)
{
	static const char *const bad[] = {
		"",
		"00:11:22:33:44",          /* five pairs */
		"00:11:22:33:44:55:66",    /* seven pairs */
		"00:11:22:33:44:5",        /* short last pair */
		"0:11:22:33:44:55",        /* short first pair */
		"000:11:22:33:44:55",      /* long pair */
		"00:11:22:33:44:5g",       /* not hex */
		"00:11-22:33:44:55",       /* separators mixed */
		"00.11.22.33.44.55",       /* wrong separator */
		"00 11 22 33 44 55",       /* wrong separator */
		"001122334455",            /* no separators */
		"00::11:22:33:44:55",      /* doubled separator */
		" 0:11:22:33:44:55",       /* leading space */
		"00:11:22:33:44:55 ",      /* trailing space */
		"00:11:22:33:44:55\n",     /* trailing newline */
		"+0:11:22:33:44:55",       /* a sign strtoul would accept */
		"0x:11:22:33:44:55",       /* a prefix strtoul would accept */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t mac[6];
		int rc;

		memset(mac, POISON, sizeof(mac));
		rc = netinfo_parse_mac(bad[i], mac);
		cr_assert(eq(int, rc, LNMT_E_PARSE), "input \"%s\" gave %d: %s", bad[i], rc, lnmt_strerror(rc));
		cr_assert(eq(u8[6], mac, (uint8_t *)poison_mac), "input \"%s\" wrote the out-parameter", bad[i]);
	}
}

Test(netinfo, parse_mac_rejects_null)
{
	uint8_t mac[6];

	ASSERT_RC(netinfo_parse_mac(NULL, mac), LNMT_E_PARSE);
}

/* ---- interfaces --------------------------------------------------------------------------- */

Test(netinfo, ifindex_lo)
{
	int idx = -1;

	ASSERT_RC(netinfo_ifindex("lo", &idx), 0);
	cr_assert(gt(int, idx, 0));
	cr_assert(eq(int, idx, (int)if_nametoindex("lo")));
}

Test(netinfo, ifindex_unknown_is_enodev)
{
	int idx = POISON;

	ASSERT_RC(netinfo_ifindex(NO_SUCH_IF, &idx), -ENODEV);
	cr_assert(eq(int, idx, POISON));
	ASSERT_RC(netinfo_ifindex("", &idx), -ENODEV);
	/* Longer than IFNAMSIZ - 1: must not be truncated into some other interface's name. */
	ASSERT_RC(netinfo_ifindex("lo-with-a-name-far-too-long", &idx), -ENODEV);
	cr_assert(eq(int, idx, POISON));
}

Test(netinfo, if_ipv4_lo)
{
	uint32_t ip = 0;

	ASSERT_RC(netinfo_if_ipv4("lo", &ip), 0);
	cr_assert(eq(u32, ip, 0x7f000001u), "lo's first IPv4 address is 0x%08x", ip);
}

Test(netinfo, if_ipv4_unknown_is_enodev)
{
	uint32_t ip = POISON;

	ASSERT_RC(netinfo_if_ipv4(NO_SUCH_IF, &ip), -ENODEV);
	cr_assert(eq(u32, ip, POISON));
}

Test(netinfo, if_mac_lo)
{
	static const uint8_t zeros[6] = { 0 };
	uint8_t mac[6];

	memset(mac, POISON, sizeof(mac));
	ASSERT_RC(netinfo_if_mac("lo", mac), 0);
	/* Linux gives loopback an all-zero address; what matters is that it was written. */
	cr_assert(eq(u8[6], mac, (uint8_t *)zeros));
}

Test(netinfo, if_mac_unknown_is_enodev)
{
	uint8_t mac[6];

	memset(mac, POISON, sizeof(mac));
	ASSERT_RC(netinfo_if_mac(NO_SUCH_IF, mac), -ENODEV);
	cr_assert(eq(u8[6], mac, (uint8_t *)poison_mac));
}

/* ---- routes and neighbours (netlink questions to the kernel; nothing goes on a wire) ------ */

Test(netinfo, route_to_localhost)
{
	struct net_route r;

	memset(&r, POISON, sizeof(r));
	ASSERT_RC(netinfo_route(0x7f000001u, &r), 0);
	cr_assert(eq(str, r.ifname, "lo"));
	cr_assert(eq(int, r.ifindex, (int)if_nametoindex("lo")));
	cr_assert(not(r.has_gateway));
	cr_assert(eq(u32, r.src_ip, 0x7f000001u), "src_ip 0x%08x", r.src_ip);
}

Test(netinfo, route_within_loopback_net)
{
	struct net_route r;

	/* All of 127/8 is local and sourced from 127.0.0.1, not from the destination itself. */
	ASSERT_RC(netinfo_route(0x7f010203u, &r), 0);
	cr_assert(eq(str, r.ifname, "lo"));
	cr_assert(not(r.has_gateway));
	cr_assert(eq(u32, r.src_ip, 0x7f000001u), "src_ip 0x%08x", r.src_ip);
}

Test(netinfo, neigh_absent_is_enoent)
{
	uint8_t mac[6];
	int lo = (int)if_nametoindex("lo");

	cr_assert(gt(int, lo, 0));
	memset(mac, POISON, sizeof(mac));
	/* 198.51.100.1 (TEST-NET-2) never has a neighbour entry on loopback. */
	ASSERT_RC(netinfo_neigh(lo, 0xc6336401u, mac), -ENOENT);
	cr_assert(eq(u8[6], mac, (uint8_t *)poison_mac));
}
