/* SPDX-License-Identifier: MIT */
/* test_rx.c: which capture a sweep gets and how big (rx_plan), and both backends on loopback. */
#include "err.h"
#include "rx.h"

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define KIB 1024u
#define MIB (1024u * 1024u)

static struct rx_plan plan(uint64_t frames, size_t bytes, enum rx_kind kind)
{
	struct rx_config c = { .ifname = "lo", .filter = "", .frames = frames, .buffer_bytes = bytes, .kind = kind };
	struct rx_plan p;

	rx_plan(&c, &p);
	return p;
}

Test(rx_plan, small_sweeps_get_a_socket_sized_for_every_reply)
{
	struct rx_plan p = plan(256, 0, RX_AUTO); /* a /24 */
	cr_expect_eq(p.kind, RX_SOCKET);
	cr_expect_eq(p.bytes, 512 * KIB, "a /24 queues 256 x 2 KiB, got %zu", p.bytes);
	p = plan(1, 0, RX_AUTO);
	cr_expect_eq(p.kind, RX_SOCKET);
	cr_expect_eq(p.bytes, 256 * KIB, "the floor is 256 KiB, got %zu", p.bytes);
	p = plan(0, 0, RX_AUTO);
	cr_expect_eq(p.kind, RX_SOCKET);
	cr_expect_eq(p.bytes, 256 * KIB);
	p = plan(RX_SOCKET_MAX_FRAMES, 0, RX_AUTO); /* a /20: the largest socket */
	cr_expect_eq(p.kind, RX_SOCKET);
	cr_expect_eq(p.bytes, (size_t)RX_SOCKET_MAX_FRAMES * 2 * KIB);
}

Test(rx_plan, large_sweeps_get_a_ring_sized_for_the_sweep)
{
	struct rx_plan p = plan(RX_SOCKET_MAX_FRAMES + 1, 0, RX_AUTO);
	cr_expect_eq(p.kind, RX_RING);
	cr_expect_eq(p.bytes, 4 * MIB, "the ring's floor is 4 MiB (16 blocks), got %zu", p.bytes);
	p = plan(65536, 0, RX_AUTO); /* a /16 */
	cr_expect_eq(p.kind, RX_RING);
	cr_expect_eq(p.bytes, 65536u * 160u, "a /16 gets 160 bytes per probe, got %zu", p.bytes);
	p = plan(1ull << 32, 0, RX_AUTO); /* a /0 worth of pairs */
	cr_expect_eq(p.kind, RX_RING);
	cr_expect_eq(p.bytes, 64 * MIB, "the ring's cap is 64 MiB, got %zu", p.bytes);
}

Test(rx_plan, the_caller_may_choose)
{
	struct rx_plan p = plan(65536, 0, RX_SOCKET);
	cr_expect_eq(p.kind, RX_SOCKET);
	cr_expect_eq(p.bytes, (size_t)RX_SOCKET_MAX_FRAMES * 2 * KIB, "a socket is capped, got %zu", p.bytes);
	p = plan(256, 0, RX_RING);
	cr_expect_eq(p.kind, RX_RING);
	cr_expect_eq(p.bytes, 4 * MIB);
	p = plan(256, 16 * MIB, RX_AUTO);
	cr_expect_eq(p.kind, RX_SOCKET);
	cr_expect_eq(p.bytes, 16 * MIB, "buffer_bytes is taken as given, got %zu", p.bytes);
}

/* ---- both backends on loopback: one UDP datagram to 127.0.0.1, captured once ---- */

struct seen {
	unsigned n;
	size_t len;
	uint8_t frame[128];
	uint64_t ts;
};

static void on_frame(void *ctx, const uint8_t *frame, size_t len, uint64_t ts)
{
	struct seen *s = ctx;

	if (!s->n++) {
		s->len = len;
		memcpy(s->frame, frame, len < sizeof(s->frame) ? len : sizeof(s->frame));
		s->ts = ts;
	}
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A UDP socket on 127.0.0.1 with a port of its own, so tests running side by side (and other
 * programs on lo) never see each other's datagrams. */
static int udp_sink(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static struct rx *open_on_lo(enum rx_kind kind, uint16_t port)
{
	char err[256] = "", filter[64];
	struct rx *rx = NULL;
	snprintf(filter, sizeof(filter), "udp and dst port %u", port);
	struct rx_config c = { .ifname = "lo", .filter = filter, .ethertype = 0x0800, .frames = 16, .kind = kind };
	int rc = rx_open(&rx, &c, err, sizeof(err));

	if (rc == -EPERM)
		cr_skip_test("capture needs CAP_NET_RAW: %s", err);
	cr_assert_eq(rc, 0, "rx_open on lo: %s (%s)", lnmt_strerror(rc), err);
	return rx;
}

static void send_udp(uint16_t port)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(sendto(fd, "lnmt", 4, 0, (struct sockaddr *)&to, sizeof(to)), 4);
	close(fd);
}

static void capture_one(enum rx_kind kind, const char *name)
{
	uint16_t port;
	int sink = udp_sink(&port);
	struct rx *rx = open_on_lo(kind, port);
	struct seen s = { 0 };

	cr_expect_str_eq(rx_name(rx), name);
	uint64_t before = mono_ns();
	send_udp(port);
	/* Up to 10 s for it (a bound, not a speed check); once seen, one more look for a copy. */
	for (int i = 0; i < 100 && !s.n; i++)
		cr_assert_geq(rx_dispatch(rx, on_frame, &s, 100), 0);
	rx_dispatch(rx, on_frame, &s, 50);
	uint64_t after = mono_ns();
	cr_assert_eq(s.n, 1, "%s: expected the datagram once (inbound only), got %u frames", name, s.n);
	cr_expect_eq(s.len, 14 + 20 + 8 + 4, "%s: frame of %zu bytes", name, s.len);
	cr_expect_eq(s.frame[12] << 8 | s.frame[13], 0x0800, "%s: not an IPv4 frame", name);
	cr_expect(s.ts >= before && s.ts <= after, "%s: timestamp %llu outside the send [%llu, %llu]", name,
		  (unsigned long long)s.ts, (unsigned long long)before, (unsigned long long)after);
	cr_expect_eq(rx_dropped(rx), 0);
	rx_close(rx);
	close(sink);
}

Test(rx, socket_captures_on_loopback)
{
	capture_one(RX_SOCKET, "socket");
}

Test(rx, ring_captures_on_loopback)
{
	capture_one(RX_RING, "ring");
}

/* ---- ipv4: an echo reply from 127.0.0.1, as a frame with a made-up Ethernet header ---- */

struct echo_seen {
	uint16_t id;
	unsigned n, others;
	uint8_t frame[128];
	size_t len;
};

static void on_echo(void *ctx, const uint8_t *f, size_t len, uint64_t ts)
{
	struct echo_seen *s = ctx;

	(void)ts;
	/* Ours: an echo reply (14 + 20 + 8 bytes at least) with our identifier; other tests may
	 * ping loopback too. */
	if (len >= 42 && f[14 + 9] == 1 && f[34] == 0 && (f[38] << 8 | f[39]) == s->id) {
		if (!s->n++) {
			s->len = len;
			memcpy(s->frame, f, len < sizeof(s->frame) ? len : sizeof(s->frame));
		}
	} else {
		s->others++;
	}
}

Test(rx, ipv4_captures_an_echo_reply_on_loopback)
{
	char err[256] = "";
	struct rx *rx = NULL;
	struct rx_config c = { .ifname = "lo", .filter = "icmp[icmptype] == icmp-echoreply", .frames = 16,
			       .kind = RX_IPV4, .local_ip = INADDR_LOOPBACK, .icmp = true };
	int rc = rx_open(&rx, &c, err, sizeof(err));

	if (rc == -EPERM)
		cr_skip_test("raw sockets need CAP_NET_RAW: %s", err);
	cr_assert_eq(rc, 0, "rx_open: %s (%s)", lnmt_strerror(rc), err);
	cr_expect_str_eq(rx_name(rx), "ipv4");

	struct echo_seen s = { .id = (uint16_t)(getpid() ^ 0x4c4e) };
	uint8_t req[16] = { 8, 0, 0, 0, (uint8_t)(s.id >> 8), (uint8_t)s.id, 0, 1, 'l', 'n', 'm', 't' };
	uint32_t sum = 0;
	for (size_t i = 0; i < sizeof(req); i += 2)
		sum += (uint32_t)(req[i] << 8 | req[i + 1]);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = ~(sum + (sum >> 16)) & 0xffff;
	req[2] = (uint8_t)(sum >> 8);
	req[3] = (uint8_t)sum;
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	cr_assert_geq(fd, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	cr_assert_eq(sendto(fd, req, sizeof(req), 0, (struct sockaddr *)&to, sizeof(to)), (ssize_t)sizeof(req));
	close(fd);
	for (int i = 0; i < 100 && !s.n; i++)
		cr_assert_geq(rx_dispatch(rx, on_echo, &s, 100), 0);
	rx_dispatch(rx, on_echo, &s, 50);
	cr_assert_eq(s.n, 1, "expected our echo reply once, got %u (and %u other frames)", s.n, s.others);
	static const uint8_t eth[14] = { [12] = 0x08, [13] = 0x00 };
	cr_expect_eq(memcmp(s.frame, eth, 14), 0, "the made-up Ethernet header: zero MACs, type IPv4");
	cr_expect_eq(s.len, 14 + 20 + sizeof(req), "frame of %zu bytes", s.len);
	cr_expect_eq(s.frame[14] >> 4, 4, "an IPv4 header follows");
	cr_expect_eq(rx_dropped(rx), 0);
	rx_close(rx);
}

Test(rx, ipv4_on_a_foreign_address_becomes_a_packet_socket)
{
	char err[256] = "";
	struct rx *rx = NULL;
	/* 198.18.0.77 is nobody's in the root namespace: a raw socket cannot bind it. */
	struct rx_config c = { .ifname = "lo", .filter = "icmp[icmptype] == icmp-echoreply", .frames = 16,
			       .kind = RX_IPV4, .local_ip = 0xc612004du, .icmp = true };
	int rc = rx_open(&rx, &c, err, sizeof(err));

	if (rc == -EPERM)
		cr_skip_test("raw sockets need CAP_NET_RAW: %s", err);
	cr_assert_eq(rc, 0, "rx_open: %s (%s)", lnmt_strerror(rc), err);
	cr_expect_str_eq(rx_name(rx), "socket");
	rx_close(rx);
}

Test(rx, wake_ends_a_wait_for_frames, .timeout = 30)
{
	struct seen s = { 0 };
	struct rx *rx = open_on_lo(RX_AUTO, 9);

	rx_wake(rx);
	/* Without the wake-up this waits the full minute and the test times out. */
	cr_expect_eq(rx_dispatch(rx, on_frame, &s, 60000), 0);
	cr_expect_eq(rx_dispatch(rx, on_frame, &s, 60000), 0, "the wake-up is a latch");
	rx_close(rx);
}

Test(rx, errors_name_what_is_wrong)
{
	char err[256] = "";
	struct rx *rx = NULL;
	struct rx_config c = { .ifname = "lnmt-no-such0", .filter = "udp", .frames = 16 };
	int rc = rx_open(&rx, &c, err, sizeof(err));

	if (rc == -EPERM)
		cr_skip_test("capture needs CAP_NET_RAW");
	cr_expect_eq(rc, -ENODEV, "unknown interface: %s (%s)", lnmt_strerror(rc), err);
	cr_expect(strstr(err, "lnmt-no-such0"), "the message names the interface: '%s'", err);
	c = (struct rx_config){ .ifname = "lo", .filter = "udp and not a filter", .frames = 16 };
	rc = rx_open(&rx, &c, err, sizeof(err));
	cr_expect_eq(rc, LNMT_E_PCAP, "bad filter: %s (%s)", lnmt_strerror(rc), err);
	cr_expect(strstr(err, "pcap_compile"), "the message says the filter did not compile: '%s'", err);
}
