/* SPDX-License-Identifier: MIT */
/* netinfo.c: routes, interface addresses and next-hop MACs, from rtnetlink, ioctl and our own ARP. */
#include "netinfo.h"

#include "clock.h"
#include "err.h"
#include "hex.h"
#include "sockclose.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* ---- rtnetlink ---------------------------------------------------------------------------- */

/*
 * Each call opens its own socket and sends one request, so every message on it answers that
 * request; the sequence number is checked anyway so a stray message is skipped, not misread.
 */
#define NL_SEQ 1u

/*
 * The kernel sizes a dump datagram to the largest buffer the reader has offered, capped near
 * 32 KiB, so a buffer this big never truncates one.
 */
#define NL_BUF_LEN 32768

/* rtnetlink answers at once; the timeout only keeps a misbehaving kernel from hanging a sweep's start. */
#define NL_RECV_TIMEOUT_S 2

/* A callback's "stop reading, I have what I need"; 0 means read on and a negative value is an error. */
#define NL_STOP 1

/* Called for each message answering our request (never for NLMSG_DONE or NLMSG_ERROR). */
typedef int (*nl_msg_cb)(const struct nlmsghdr *nh, void *arg);

/*
 * Hands each message of one datagram to cb. Returns NL_STOP when the answer is complete (cb said
 * so, the dump ended, or the kernel acknowledged), 0 when more datagrams follow, or -errno.
 */
static int nl_walk(const char *buf, size_t len, nl_msg_cb cb, void *arg)
{
	size_t off = 0;

	while (len - off >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *nh = (const struct nlmsghdr *)(buf + off);
		size_t step;
		int rc;

		if (nh->nlmsg_len < sizeof(*nh) || nh->nlmsg_len > len - off)
			return -EPROTO;

		if (nh->nlmsg_seq != NL_SEQ || nh->nlmsg_type == NLMSG_NOOP) {
			/* Not part of our answer. */
		} else if (nh->nlmsg_type == NLMSG_DONE) {
			/* A dump that failed part-way says why in an int after the header. */
			int err = 0;

			if (nh->nlmsg_len >= NLMSG_LENGTH(sizeof(err)))
				memcpy(&err, NLMSG_DATA(nh), sizeof(err));
			return err < 0 ? err : NL_STOP;
		} else if (nh->nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr e;

			if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(e)))
				return -EPROTO;
			memcpy(&e, NLMSG_DATA(nh), sizeof(e));
			/* error 0 is an acknowledgement: the answer is complete. */
			return e.error < 0 ? e.error : NL_STOP;
		} else if (nh->nlmsg_type >= NLMSG_MIN_TYPE) {
			rc = cb(nh, arg);
			if (rc != 0)
				return rc;
		}

		step = NLMSG_ALIGN(nh->nlmsg_len);
		if (step >= len - off)
			break;
		off += step;
	}
	return 0;
}

/* Sends req to the kernel and feeds every message of its answer to cb. Returns 0 or -errno. */
static int nl_transact(const struct nlmsghdr *req, nl_msg_cb cb, void *arg)
{
	union {
		struct nlmsghdr align; /* the walker reads headers in place */
		char buf[NL_BUF_LEN];
	} rx;
	const struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	const struct timeval tmo = { .tv_sec = NL_RECV_TIMEOUT_S };
	int fd, rc;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo)) < 0) {
		rc = -errno;
		goto out_close;
	}
	if (sendto(fd, req, req->nlmsg_len, 0, (const struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		rc = -errno;
		goto out_close;
	}

	for (;;) {
		struct sockaddr_nl from;
		struct iovec iov = { .iov_base = rx.buf, .iov_len = sizeof(rx.buf) };
		struct msghdr mh = {
			.msg_name = &from,
			.msg_namelen = sizeof(from),
			.msg_iov = &iov,
			.msg_iovlen = 1,
		};
		ssize_t n = recvmsg(fd, &mh, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = (errno == EAGAIN || errno == EWOULDBLOCK) ? -ETIMEDOUT : -errno;
			goto out_close;
		}
		if (mh.msg_flags & MSG_TRUNC) {
			rc = -EMSGSIZE;
			goto out_close;
		}
		/* Other processes may unicast to our port; only the kernel's word counts. */
		if (mh.msg_namelen < sizeof(from) || from.nl_pid != 0)
			continue;

		rc = nl_walk(rx.buf, (size_t)n, cb, arg);
		if (rc == NL_STOP) {
			rc = 0;
			break;
		}
		if (rc < 0)
			goto out_close;
	}

out_close:
	close(fd);
	return rc;
}

/* Reads a 4-byte attribute; false if its payload has another size. */
static bool attr_u32(const struct rtattr *a, uint32_t *v)
{
	if (RTA_PAYLOAD(a) != sizeof(*v))
		return false;
	memcpy(v, RTA_DATA(a), sizeof(*v));
	return true;
}

/* ---- routes ------------------------------------------------------------------------------- */

struct route_reply {
	bool got;
	bool has_oif, has_src, has_gateway, has_via;
	uint32_t oif;
	uint32_t src_be, gateway_be;
};

static int route_msg(const struct nlmsghdr *nh, void *arg)
{
	struct route_reply *r = arg;
	const struct rtmsg *rt = NLMSG_DATA(nh);
	const struct rtattr *a;
	int len;

	if (nh->nlmsg_type != RTM_NEWROUTE || nh->nlmsg_len < NLMSG_LENGTH(sizeof(*rt)))
		return -EPROTO;
	if (rt->rtm_family != AF_INET)
		return -EPROTO;

	len = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof(*rt)));
	for (a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		switch (a->rta_type) {
		case RTA_OIF:
			r->has_oif = attr_u32(a, &r->oif);
			break;
		case RTA_PREFSRC:
			r->has_src = attr_u32(a, &r->src_be);
			break;
		case RTA_GATEWAY:
			r->has_gateway = attr_u32(a, &r->gateway_be);
			break;
		case RTA_VIA:
			r->has_via = true;
			break;
		default:
			break;
		}
	}
	r->got = true;
	/* A route lookup answers with exactly one message and no NLMSG_DONE. */
	return NL_STOP;
}

int netinfo_route(uint32_t dst, struct net_route *out)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		struct rtattr dst_attr;
		uint32_t dst_be;
	} req = {
		.nh = {
			.nlmsg_len = sizeof(req),
			.nlmsg_type = RTM_GETROUTE,
			.nlmsg_flags = NLM_F_REQUEST,
			.nlmsg_seq = NL_SEQ,
		},
		.rt = { .rtm_family = AF_INET, .rtm_dst_len = 32 },
		.dst_attr = { .rta_len = RTA_LENGTH(sizeof(uint32_t)), .rta_type = RTA_DST },
		.dst_be = htonl(dst),
	};
	/* The struct must be laid out exactly as netlink aligns a message with one attribute. */
	_Static_assert(sizeof(req) == NLMSG_LENGTH(sizeof(struct rtmsg)) + RTA_LENGTH(sizeof(uint32_t)),
		       "RTM_GETROUTE request has padding");
	struct route_reply rep = { 0 };
	struct net_route r;
	int rc;

	rc = nl_transact(&req.nh, route_msg, &rep);
	/*
	 * Unreachable and no-default-route both come back as errors from the lookup itself. Other
	 * errors (EACCES for a prohibit route, EINVAL for a blackhole) are passed on as they are:
	 * they name why the kernel refuses, which "no route" would hide.
	 */
	if (rc == -ENETUNREACH || rc == -EHOSTUNREACH)
		return LNMT_E_NOROUTE;
	if (rc < 0)
		return rc;
	if (!rep.got || !rep.has_oif || rep.oif == 0 || rep.oif > INT_MAX)
		return LNMT_E_NOROUTE;
	/* An IPv4 route through an IPv6 next hop (RTA_VIA): its MAC would need NDP, which we do not speak. */
	if (rep.has_via && !rep.has_gateway)
		return -EAFNOSUPPORT;

	memset(&r, 0, sizeof(r));
	r.ifindex = (int)rep.oif;
	if (!if_indextoname(rep.oif, r.ifname))
		return -errno;
	if (rep.has_gateway) {
		r.gateway = ntohl(rep.gateway_be);
		r.has_gateway = true;
	}
	if (rep.has_src) {
		r.src_ip = ntohl(rep.src_be);
	} else {
		rc = netinfo_if_ipv4(r.ifname, &r.src_ip);
		if (rc < 0)
			return rc;
	}

	*out = r;
	return 0;
}

/* ---- interfaces --------------------------------------------------------------------------- */

/* Runs one SIOCGIF* ioctl for ifname on a throwaway socket; the kernel's answer is left in *ifr. */
static int if_ioctl(const char *ifname, unsigned long request, struct ifreq *ifr)
{
	size_t n = strnlen(ifname, IFNAMSIZ);
	int fd, rc;

	/* The kernel would silently truncate a long name and might then find a different interface. */
	if (n == 0 || n >= IFNAMSIZ)
		return -ENODEV;
	memset(ifr, 0, sizeof(*ifr));
	memcpy(ifr->ifr_name, ifname, n);

	/* Any socket reaches the interface ioctls; a datagram one needs no privilege. */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = ioctl(fd, request, ifr) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

int netinfo_ifindex(const char *ifname, int *ifindex)
{
	struct ifreq ifr;
	int rc;

	rc = if_ioctl(ifname, SIOCGIFINDEX, &ifr);
	if (rc < 0)
		return rc;
	*ifindex = ifr.ifr_ifindex;
	return 0;
}

/* True if name is ifname itself or one of its alias labels ("eth0:1"), which getifaddrs reports separately. */
static bool if_name_matches(const char *name, const char *ifname)
{
	size_t n = strlen(ifname);

	return strncmp(name, ifname, n) == 0 && (name[n] == '\0' || name[n] == ':');
}

int netinfo_if_ipv4(const char *ifname, uint32_t *ip)
{
	struct ifaddrs *ifs, *ifa;
	int rc = -ENODEV;

	if (getifaddrs(&ifs) < 0)
		return -errno;
	/*
	 * Every interface appears at least once (with its AF_PACKET link address), so seeing the
	 * name tells an interface without IPv4 from one that does not exist. The list follows the
	 * kernel's order, which puts an interface's primary address first.
	 */
	for (ifa = ifs; ifa; ifa = ifa->ifa_next) {
		if (!ifa->ifa_name || !if_name_matches(ifa->ifa_name, ifname))
			continue;
		rc = -EADDRNOTAVAIL;
		if (ifa->ifa_addr && ifa->ifa_addr->sa_family == AF_INET) {
			struct sockaddr_in sin;

			memcpy(&sin, ifa->ifa_addr, sizeof(sin));
			*ip = ntohl(sin.sin_addr.s_addr);
			rc = 0;
			break;
		}
	}
	freeifaddrs(ifs);
	return rc;
}

int netinfo_if_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr;
	int rc;

	rc = if_ioctl(ifname, SIOCGIFHWADDR, &ifr);
	if (rc < 0)
		return rc;
	/*
	 * Only Ethernet-framed links have a 6-byte MAC to put in our frames. Loopback counts: its
	 * address is all zeros but it does carry Ethernet headers. Tunnels (ARPHRD_NONE, IPIP, ...)
	 * have none.
	 */
	switch (ifr.ifr_hwaddr.sa_family) {
	case ARPHRD_ETHER:
	case ARPHRD_LOOPBACK:
		break;
	default:
		return -ENODEV;
	}
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

/* ---- neighbour table ---------------------------------------------------------------------- */

/* States whose link-layer address the kernel itself would send to; FAILED and INCOMPLETE have none. */
#define NEIGH_USABLE (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP)

struct neigh_query {
	int ifindex;
	uint32_t ip_be;
	uint8_t mac[6];
	bool found;
};

static int neigh_msg(const struct nlmsghdr *nh, void *arg)
{
	struct neigh_query *q = arg;
	const struct ndmsg *nd = NLMSG_DATA(nh);
	const struct rtattr *a;
	const uint8_t *lladdr = NULL;
	bool ip_matches = false;
	uint32_t dst_be;
	int len;

	if (nh->nlmsg_type != RTM_NEWNEIGH || nh->nlmsg_len < NLMSG_LENGTH(sizeof(*nd)))
		return 0;
	if (nd->ndm_family != AF_INET || nd->ndm_ifindex != q->ifindex || !(nd->ndm_state & NEIGH_USABLE))
		return 0;

	len = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof(*nd)));
	for (a = (const struct rtattr *)((const char *)nd + NLMSG_ALIGN(sizeof(*nd))); RTA_OK(a, len);
	     a = RTA_NEXT(a, len)) {
		if (a->rta_type == NDA_DST)
			ip_matches = attr_u32(a, &dst_be) && dst_be == q->ip_be;
		else if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6)
			lladdr = RTA_DATA(a);
	}
	if (!ip_matches || !lladdr)
		return 0;
	memcpy(q->mac, lladdr, 6);
	q->found = true;
	/* Leaving the rest of the dump unread is fine: closing the socket discards it. */
	return NL_STOP;
}

int netinfo_neigh(int ifindex, uint32_t ip, uint8_t mac[6])
{
	/*
	 * A whole-table dump, filtered here: asking the kernel for one entry (RTM_GETNEIGH without
	 * NLM_F_DUMP) needs Linux 5.0, and the table is small enough to read once per sweep.
	 */
	struct {
		struct nlmsghdr nh;
		struct ndmsg nd;
	} req = {
		.nh = {
			.nlmsg_len = sizeof(req),
			.nlmsg_type = RTM_GETNEIGH,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = NL_SEQ,
		},
		.nd = { .ndm_family = AF_INET },
	};
	struct neigh_query q = { .ifindex = ifindex, .ip_be = htonl(ip) };
	int rc;

	rc = nl_transact(&req.nh, neigh_msg, &q);
	if (rc < 0)
		return rc;
	if (!q.found)
		return -ENOENT;
	memcpy(mac, q.mac, 6);
	return 0;
}

/* ---- ARP ---------------------------------------------------------------------------------- */

/* Byte offsets in an Ethernet frame carrying an Ethernet/IPv4 ARP packet (RFC 826). */
enum {
	OFF_ETH_DST = 0,
	OFF_ETH_SRC = 6,
	OFF_ETH_TYPE = 12,
	OFF_ARP_HTYPE = 14,
	OFF_ARP_PTYPE = 16,
	OFF_ARP_HLEN = 18,
	OFF_ARP_PLEN = 19,
	OFF_ARP_OP = 20,
	OFF_ARP_SHA = 22,
	OFF_ARP_SPA = 28,
	OFF_ARP_THA = 32,
	OFF_ARP_TPA = 38,
	ARP_FRAME_MIN = 42, /* the ARP packet ends here */
};

/* We pad our request to Ethernet's 60-byte minimum rather than trust every driver to do it. */
#define ARP_REQ_LEN 60

/* Frames read between deadline checks, so a flood of other ARP traffic cannot outlast the timeout. */
#define ARP_DRAIN_MAX 64

#define NEXT_HOP_ARP_TRIES 3
#define NEXT_HOP_ARP_TIMEOUT_MS 200

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Broadcast "who has ip? tell src_ip", with the target hardware address left zero as RFC 826 allows. */
static void arp_build_request(uint8_t f[ARP_REQ_LEN], const uint8_t src_mac[6], uint32_t src_ip, uint32_t ip)
{
	memset(f, 0, ARP_REQ_LEN);
	memset(f + OFF_ETH_DST, 0xff, 6);
	memcpy(f + OFF_ETH_SRC, src_mac, 6);
	put_be16(f + OFF_ETH_TYPE, ETH_P_ARP);
	put_be16(f + OFF_ARP_HTYPE, ARPHRD_ETHER);
	put_be16(f + OFF_ARP_PTYPE, ETH_P_IP);
	f[OFF_ARP_HLEN] = 6;
	f[OFF_ARP_PLEN] = 4;
	put_be16(f + OFF_ARP_OP, ARPOP_REQUEST);
	memcpy(f + OFF_ARP_SHA, src_mac, 6);
	put_be32(f + OFF_ARP_SPA, src_ip);
	put_be32(f + OFF_ARP_TPA, ip);
}

/* True, with the sender's MAC in mac, if f is ip's reply to our request from src_ip. */
static bool arp_parse_reply(const uint8_t *f, size_t len, uint32_t src_ip, uint32_t ip, uint8_t mac[6])
{
	static const uint8_t zero[6];
	const uint8_t *sha = f + OFF_ARP_SHA;

	if (len < ARP_FRAME_MIN)
		return false;
	if (get_be16(f + OFF_ETH_TYPE) != ETH_P_ARP || get_be16(f + OFF_ARP_HTYPE) != ARPHRD_ETHER ||
	    get_be16(f + OFF_ARP_PTYPE) != ETH_P_IP || f[OFF_ARP_HLEN] != 6 || f[OFF_ARP_PLEN] != 4 ||
	    get_be16(f + OFF_ARP_OP) != ARPOP_REPLY)
		return false;
	if (get_be32(f + OFF_ARP_SPA) != ip || get_be32(f + OFF_ARP_TPA) != src_ip)
		return false;
	/* A group or zero address cannot be a next hop; taking it would send the sweep nowhere. */
	if ((sha[0] & 0x01) || memcmp(sha, zero, 6) == 0)
		return false;
	memcpy(mac, sha, 6);
	return true;
}

/* Reads what is queued without blocking: 0 with mac set on a matching reply, LNMT_E_NONEIGH if none, or -errno. */
static int arp_read_replies(int fd, uint32_t src_ip, uint32_t ip, uint8_t mac[6])
{
	uint8_t f[128]; /* more than an ARP frame; a longer frame is truncated, which is harmless */

	for (int i = 0; i < ARP_DRAIN_MAX; i++) {
		struct sockaddr_ll from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(fd, f, sizeof(f), MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return LNMT_E_NONEIGH;
			return -errno;
		}
		/* Our own host's outgoing ARP is visible here too; it is never the answer. */
		if (fromlen >= sizeof(from) && from.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (arp_parse_reply(f, (size_t)n, src_ip, ip, mac))
			return 0;
	}
	return LNMT_E_NONEIGH;
}

/* Waits up to timeout_ms for the reply: 0 with mac set, LNMT_E_NONEIGH on timeout, or -errno. */
static int arp_wait_reply(int fd, uint32_t src_ip, uint32_t ip, unsigned timeout_ms, uint8_t mac[6])
{
	const uint64_t deadline = clock_now_ns() + (uint64_t)timeout_ms * 1000000u;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	for (;;) {
		uint64_t now, left_ms;
		int rc;

		/* Read before checking the clock so that a zero timeout still takes a reply already queued. */
		rc = arp_read_replies(fd, src_ip, ip, mac);
		if (rc != LNMT_E_NONEIGH)
			return rc;
		now = clock_now_ns();
		if (now >= deadline)
			return LNMT_E_NONEIGH;
		/* Round up: rounding down would turn the last fraction of a millisecond into a busy loop. */
		left_ms = (deadline - now + 999999u) / 1000000u;
		if (poll(&pfd, 1, left_ms > INT_MAX ? INT_MAX : (int)left_ms) < 0 && errno != EINTR)
			return -errno;
	}
}

int netinfo_arp_resolve(int ifindex, const uint8_t src_mac[6], uint32_t src_ip, uint32_t ip,
			unsigned tries, unsigned timeout_ms, uint8_t mac[6])
{
	const struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ARP),
		.sll_ifindex = ifindex,
	};
	uint8_t req[ARP_REQ_LEN];
	int fd, rc;

	/* ifindex 0 would bind to every interface; zero tries would ask nobody. */
	if (ifindex <= 0 || tries == 0)
		return -EINVAL;

	/*
	 * Protocol 0 here and ETH_P_ARP in bind(): a socket opened with ETH_P_ARP would start queueing
	 * ARP from every interface before bind() narrows it to ours.
	 */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return (errno == EPERM || errno == EACCES) ? -EPERM : -errno;
	if (bind(fd, (const struct sockaddr *)&sll, sizeof(sll)) < 0) {
		rc = -errno;
		goto out_close;
	}

	arp_build_request(req, src_mac, src_ip, ip);
	rc = LNMT_E_NONEIGH;
	for (unsigned t = 0; t < tries && rc == LNMT_E_NONEIGH; t++) {
		ssize_t n;

		do
			n = send(fd, req, sizeof(req), 0);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			rc = -errno;
			goto out_close;
		}
		/* A late answer to an earlier request is accepted too: it is just as true. */
		rc = arp_wait_reply(fd, src_ip, ip, timeout_ms, mac);
	}

out_close:
	sockclose_deferred(&fd, 1); /* a packet socket: close() would wait a grace period */
	return rc;
}

int netinfo_next_hop_mac(int ifindex, const uint8_t src_mac[6], uint32_t src_ip, uint32_t ip, uint8_t mac[6])
{
	int rc;

	rc = netinfo_neigh(ifindex, ip, mac);
	if (rc != -ENOENT)
		return rc;
	return netinfo_arp_resolve(ifindex, src_mac, src_ip, ip, NEXT_HOP_ARP_TRIES, NEXT_HOP_ARP_TIMEOUT_MS,
				   mac);
}

/* ---- parsing ------------------------------------------------------------------------------ */

int netinfo_parse_mac(const char *s, uint8_t mac[6])
{
	uint8_t m[6];
	char sep;

	/* Exactly "xx?xx?xx?xx?xx?xx": 17 characters, one separator throughout. */
	if (!s || strnlen(s, 18) != 17)
		return LNMT_E_PARSE;
	sep = s[2];
	if (sep != ':' && sep != '-')
		return LNMT_E_PARSE;
	for (int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		int hi = hex_digit(p[0]), lo = hex_digit(p[1]);

		if (hi < 0 || lo < 0 || (i < 5 && p[2] != sep))
			return LNMT_E_PARSE;
		m[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(mac, m, 6);
	return 0;
}
