/* SPDX-License-Identifier: MIT */
/* probe_util.c: checksums, header checks and the libnet glue the probe modules share. */
#include "probe.h"

#include "err.h"

#include <libnet.h>
#include <string.h>

static const struct probe_ops *const all_probes[] = { &probe_arp, &probe_icmp, &probe_syn };

const struct probe_ops *probe_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof(all_probes) / sizeof(all_probes[0]); i++)
		if (strcmp(all_probes[i]->name, name) == 0)
			return all_probes[i];
	return NULL;
}

uint32_t probe_csum_add(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;

	for (; len > 1; len -= 2, p += 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

uint16_t probe_csum(const void *data, size_t len, uint32_t sum)
{
	sum = probe_csum_add(data, len, sum);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

void probe_ipv4_fix_csum(uint8_t *ip)
{
	ip[10] = ip[11] = 0;
	put_be16(ip + 10, probe_csum(ip, IP4_HLEN, 0));
}

size_t probe_ipv4_l4(const struct probe_env *env, const uint8_t *f, size_t len, uint8_t proto,
		     size_t *l4_len)
{
	if (len < ETH_HLEN_ + IP4_HLEN || get_be16(f + 12) != 0x0800)
		return 0;
	const uint8_t *ip = f + IP4_OFF;
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
	size_t tot = get_be16(ip + 2);
	if ((ip[0] >> 4) != 4 || ihl < IP4_HLEN || tot < ihl || ETH_HLEN_ + tot > len || ip[9] != proto)
		return 0;
	if ((get_be16(ip + 6) & 0x3fff) != 0) /* a fragment is never a whole reply */
		return 0;
	if (get_be32(ip + 16) != env->src_ip)
		return 0;
	*l4_len = tot - ihl;
	return ETH_HLEN_ + ihl;
}

/*
 * libnet assembles the pblocks (computing lengths and checksums) in libnet_pblock_coalesce().
 * We use it directly because libnet_adv_cull_packet() refuses contexts made with LIBNET_NONE,
 * and LIBNET_NONE is what lets templates be built without opening a raw socket (unit tests
 * run unprivileged, and the sender uses its own socket anyway).
 */
int probe_libnet_finish(void *handle, uint8_t *frame, size_t cap)
{
	libnet_t *l = handle;
	uint8_t *pkt = NULL;
	uint32_t size = 0;
	int rc = LNMT_E_LIBNET;

	if (libnet_pblock_coalesce(l, &pkt, &size) == -1 || size > cap)
		goto out;
	memcpy(frame, pkt, size);
	rc = (int)size;
out:
	if (pkt)
		libnet_adv_free_packet(l, pkt);
	libnet_destroy(l);
	return rc;
}
