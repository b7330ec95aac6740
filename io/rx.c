/* SPDX-License-Identifier: MIT */
/* rx.c: reply capture, a packet socket for small sweeps and a libpcap ring for large ones (see rx.h). */
#include "rx.h"

#include "err.h"
#include "rx_pcap.h"
#include "sockclose.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/filter.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * Sizing. A ring needs ~160 bytes per frame (TPACKET_V3 header, the frame, alignment); libpcap
 * rounds it up to whole 256 KiB blocks, and a block the kernel retires after its 1 ms timeout
 * is handed over however little it holds, so a ring needs blocks to spare as well as bytes:
 * at least 16 (with 5, for 8192 frames, a receiver a few ms late lost replies). Its size costs
 * little: what setting it up costs is the grace period, whatever the size. A socket's queue is
 * charged each frame's truesize, ~700-1300 bytes for a small reply here: 2 KiB leaves room for
 * bigger skbs from other drivers.
 */
#define RING_BYTES_PER_FRAME 160u
#define RING_MIN (4u << 20)
#define RING_MAX (64u << 20)
#define SOCKET_BYTES_PER_FRAME 2048u
#define SOCKET_MIN (256u << 10)
#define SOCKET_MAX ((size_t)RX_SOCKET_MAX_FRAMES * SOCKET_BYTES_PER_FRAME)
#define SOCKET_BATCH 64 /* frames per recvmmsg */

struct rx {
	enum rx_kind kind;
	int fd;                      /* the socket (for the ring, libpcap's; for ipv4, ICMP's or TCP's) */
	int fd2;                     /* ipv4: TCP's when both are received, else -1 */
	int wake_fd;                 /* eventfd: rx_wake's latch */
	struct rx_pcap pc;           /* libpcap, when loaded */
	pcap_t *pcap;                /* ring */
	int64_t realtime_to_mono_ns; /* add to a kernel (CLOCK_REALTIME) timestamp */
	uint64_t dropped;            /* socket: PACKET_STATISTICS resets on every read */
	bool ip;                     /* ipv4: frames arrive as IPv4 packets, after a made-up header */
	uint16_t ethertype;          /* socket: what it is bound to (0: all) */
	rx_frame_cb cb;
	void *ctx;
	/* socket: recvmmsg's vectors */
	struct mmsghdr msgs[SOCKET_BATCH];
	struct iovec iov[SOCKET_BATCH];
	struct sockaddr_ll from[SOCKET_BATCH];
	uint8_t frames[SOCKET_BATCH][RX_SNAPLEN];
	union {
		char buf[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} ctl[SOCKET_BATCH];
};

static size_t clamp(uint64_t v, size_t lo, size_t hi)
{
	return v < lo ? lo : v > hi ? hi : (size_t)v;
}

void rx_plan(const struct rx_config *c, struct rx_plan *out)
{
	enum rx_kind kind = c->kind;

	if (kind == RX_AUTO)
		kind = c->frames <= RX_SOCKET_MAX_FRAMES ? RX_SOCKET : RX_RING;
	out->kind = kind;
	if (c->buffer_bytes)
		out->bytes = c->buffer_bytes;
	else if (kind == RX_SOCKET || kind == RX_IPV4)
		out->bytes = clamp(c->frames * SOCKET_BYTES_PER_FRAME, SOCKET_MIN, SOCKET_MAX);
	else
		out->bytes = clamp(c->frames * RING_BYTES_PER_FRAME, RING_MIN, RING_MAX);
}

static int64_t clock_offset_ns(void)
{
	struct timespec rt, mono;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	return ((int64_t)mono.tv_sec - rt.tv_sec) * 1000000000 + (mono.tv_nsec - rt.tv_nsec);
}

/* ---- ring: libpcap ------------------------------------------------------------------------ */

static int pcap_fail(struct rx *rx, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", what, rx->pc.geterr(rx->pcap));
	return LNMT_E_PCAP;
}

static int ring_open(struct rx *rx, const struct rx_config *c, size_t bytes, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct bpf_program prog;
	int rc;

	if ((rc = rx_pcap_load(&rx->pc, err, errlen)))
		return rc;
	rx->pcap = rx->pc.create(c->ifname, ebuf);
	if (!rx->pcap) {
		snprintf(err, errlen, "pcap_create(%s): %s", c->ifname, ebuf);
		return LNMT_E_PCAP;
	}
	rx->pc.set_snaplen(rx->pcap, RX_SNAPLEN);
	rx->pc.set_promisc(rx->pcap, 0);
	/* Not immediate mode: that gives TPACKET_V2, where every reply wakes the receiver (measured:
	 * ~30% of a sweep's CPU in wake-ups). TPACKET_V3 hands over blocks of frames, retired at the
	 * latest after 1 ms, so a sweep still ends within 1 ms of its last reply. */
	rx->pc.set_immediate_mode(rx->pcap, 0);
	rx->pc.set_timeout(rx->pcap, 1);
	rx->pc.set_buffer_size(rx->pcap, bytes > INT32_MAX ? INT32_MAX : (int)bytes);
	rx->pc.set_tstamp_precision(rx->pcap, PCAP_TSTAMP_PRECISION_NANO);
	rc = rx->pc.activate(rx->pcap);
	if (rc == PCAP_ERROR_PERM_DENIED) {
		snprintf(err, errlen, "capture on %s needs CAP_NET_RAW", c->ifname);
		return -EPERM;
	}
	if (rc == PCAP_ERROR_NO_SUCH_DEVICE) {
		snprintf(err, errlen, "capture on %s: no such interface", c->ifname);
		return -ENODEV;
	}
	if (rc < 0)
		return pcap_fail(rx, "pcap_activate", err, errlen);
	rx->fd = rx->pc.get_selectable_fd(rx->pcap); /* from here on, rx_close() defers its close */
	if (rx->pc.setdirection(rx->pcap, PCAP_D_IN) < 0)
		return pcap_fail(rx, "pcap_setdirection", err, errlen);
	if (rx->pc.compile(rx->pcap, &prog, c->filter, 1, PCAP_NETMASK_UNKNOWN) < 0)
		return pcap_fail(rx, "pcap_compile", err, errlen);
	rc = rx->pc.setfilter(rx->pcap, &prog);
	rx->pc.freecode(&prog);
	if (rc < 0)
		return pcap_fail(rx, "pcap_setfilter", err, errlen);
	if (rx->pc.setnonblock(rx->pcap, 1, ebuf) < 0 || rx->fd < 0) {
		snprintf(err, errlen, "pcap_setnonblock: %s", ebuf);
		return LNMT_E_PCAP;
	}
	/* PCAP_D_IN drops our own probes only after the kernel has cloned each one for this socket
	 * (dev_queue_xmit_nit: ~5% of a sweep's CPU); this option skips the clone. Best effort: the
	 * direction filter stays as the safety net on kernels without it (before 4.20). */
	int one = 1;
	setsockopt(rx->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	return 0;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct rx *rx = (struct rx *)user;
	/* With nanosecond precision requested, tv_usec holds nanoseconds. */
	int64_t ts = (int64_t)h->ts.tv_sec * 1000000000 + h->ts.tv_usec + rx->realtime_to_mono_ns;
	rx->cb(rx->ctx, bytes, h->caplen, (uint64_t)ts);
}

static int ring_drain(struct rx *rx)
{
	int total = 0, n;

	/* Non-blocking dispatch returns 0 once the ring is empty. */
	while ((n = rx->pc.dispatch(rx->pcap, -1, on_packet, (u_char *)rx)) > 0)
		total += n;
	return n == PCAP_ERROR ? LNMT_E_PCAP : total;
}

/* ---- socket: AF_PACKET and recvmmsg ------------------------------------------------------- */

/* The caller's program, or the filter compiled by libpcap for Ethernet frames (for IPv4
 * packets when ip), as the kernel runs it on fd (libpcap's programs are classic BPF, the socket
 * filter's format). */
static int attach_filter(struct rx *rx, int fd, const struct sock_filter *program, unsigned short len,
			 const char *filter, bool ip, char *err, size_t errlen)
{
	struct sock_fprog fp = { .len = len, .filter = (struct sock_filter *)program };
	struct bpf_program prog = { 0 };
	pcap_t *dead = NULL;
	int rc = 0;

	if (!program) {
		if ((rc = rx_pcap_load(&rx->pc, err, errlen)))
			return rc;
		if (!(dead = rx->pc.open_dead(ip ? DLT_RAW : DLT_EN10MB, ip ? RX_SNAPLEN - 14 : RX_SNAPLEN))) {
			snprintf(err, errlen, "pcap_open_dead: out of memory");
			return -ENOMEM;
		}
		if (rx->pc.compile(dead, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
			snprintf(err, errlen, "pcap_compile: %s", rx->pc.geterr(dead));
			rx->pc.close(dead);
			return LNMT_E_PCAP;
		}
		fp = (struct sock_fprog){ .len = (unsigned short)prog.bf_len, .filter = (struct sock_filter *)prog.bf_insns };
	}
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "SO_ATTACH_FILTER: %s", strerror(errno));
	}
	if (dead) {
		rx->pc.freecode(&prog);
		rx->pc.close(dead);
	}
	return rc;
}

/*
 * Asks for a queue of bytes (as the kernel counts it, which is twice what SO_RCVBUF is given):
 * SO_RCVBUFFORCE passes net.core.rmem_max with CAP_NET_ADMIN, SO_RCVBUF stops there. Returns
 * what the kernel granted.
 */
static size_t set_queue(int fd, size_t bytes)
{
	int half = bytes / 2 > INT32_MAX ? INT32_MAX : (int)(bytes / 2), got = 0;
	socklen_t len = sizeof(got);

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &half, sizeof(half)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &half, sizeof(half));
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len) < 0 || got < 0)
		return 0;
	return (size_t)got;
}

/*
 * Opens the socket. Returns 0, 1 when the kernel granted a smaller queue than planned (the
 * socket is closed again; the caller may use a ring instead), or an error.
 */
static int socket_open(struct rx *rx, const struct rx_config *c, size_t bytes, bool may_fall_back, char *err,
		       size_t errlen)
{
	unsigned ifindex = if_nametoindex(c->ifname);
	int one = 1, rc;

	if (!ifindex) {
		snprintf(err, errlen, "capture on %s: no such interface", c->ifname);
		return errno == ENODEV || errno == ENXIO ? -ENODEV : -errno;
	}
	/* Protocol 0 until bind(): a socket created with a protocol is hooked into every
	 * interface at once, and re-hooking it to one costs a grace period (synchronize_net). The
	 * filter goes on before the hook, so nothing unfiltered is ever queued. */
	rx->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (rx->fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "capture on %s: %s", c->ifname,
			 rc == -EPERM ? "needs CAP_NET_RAW" : strerror(-rc));
		return rc;
	}
	if ((rc = attach_filter(rx, rx->fd, c->program, c->program_len, c->filter, false, err, errlen)))
		return rc;
	if (set_queue(rx->fd, bytes) < bytes && may_fall_back)
		return 1;
	/* Best effort, as for the ring; the PACKET_OUTGOING check in socket_drain stays. */
	setsockopt(rx->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	if (setsockopt(rx->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "SO_TIMESTAMPNS: %s", strerror(errno));
		return rc;
	}
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(c->ethertype ? c->ethertype : ETH_P_ALL),
		.sll_ifindex = (int)ifindex,
	};
	if (bind(rx->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "capture on %s: bind: %s", c->ifname, strerror(errno));
		return rc;
	}
	rx->ethertype = c->ethertype;
	for (unsigned i = 0; i < SOCKET_BATCH; i++) {
		rx->iov[i] = (struct iovec){ rx->frames[i], RX_SNAPLEN };
		rx->msgs[i].msg_hdr = (struct msghdr){
			.msg_name = &rx->from[i], .msg_iov = &rx->iov[i], .msg_iovlen = 1,
		};
	}
	return 0;
}

/* One raw IPv4 socket of protocol proto for ipv4_open(); 0 or an error (-EADDRNOTAVAIL: the
 * address is not this host's). */
static int ipv4_socket(struct rx *rx, const struct rx_config *c, int proto, size_t bytes, int *out, char *err,
		       size_t errlen)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(c->local_ip) };
	int one = 1, rc;
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, proto);

	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "capture on %s: %s", c->ifname, rc == -EPERM ? "needs CAP_NET_RAW" : strerror(-rc));
		return rc;
	}
	*out = fd;
	/* The socket receives from its creation on; until the filter is on, a few packets of
	 * the host's may queue, which the probes' validation turns away like any stranger. */
	if ((rc = attach_filter(rx, fd, c->ip_program, c->ip_program_len, c->filter, true, err, errlen)))
		return rc;
	if (set_queue(fd, bytes) < bytes)
		return -ENOBUFS; /* rx_open() turns to a socket, and from there to a ring */
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, c->ifname, (socklen_t)strlen(c->ifname) + 1) < 0) {
		rc = -errno;
		snprintf(err, errlen, "capture on %s: %s", c->ifname, strerror(errno));
		return rc == -ENODEV ? -ENODEV : rc;
	}
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "capture on %s: bind: %s", c->ifname, strerror(errno));
		return rc;
	}
	return 0;
}

static int ipv4_open(struct rx *rx, const struct rx_config *c, size_t bytes, char *err, size_t errlen)
{
	int rc = 0;

	if (!c->icmp && !c->tcp) {
		snprintf(err, errlen, "an ipv4 capture needs ICMP or TCP");
		return -EINVAL;
	}
	rx->ip = true; /* from here on rx_close() closes raw sockets */
	if (c->icmp)
		rc = ipv4_socket(rx, c, IPPROTO_ICMP, bytes, &rx->fd, err, errlen);
	if (!rc && c->tcp)
		rc = ipv4_socket(rx, c, IPPROTO_TCP, bytes, c->icmp ? &rx->fd2 : &rx->fd, err, errlen);
	if (rc)
		return rc;
	for (unsigned i = 0; i < SOCKET_BATCH; i++) {
		/* The made-up Ethernet header, written once: the packet lands after it. */
		memset(rx->frames[i], 0, 12);
		rx->frames[i][12] = 0x08;
		rx->frames[i][13] = 0x00;
		rx->iov[i] = (struct iovec){ rx->frames[i] + 14, RX_SNAPLEN - 14 };
		rx->msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &rx->iov[i], .msg_iovlen = 1 };
	}
	return 0;
}

static uint64_t frame_time(struct rx *rx, struct msghdr *mh)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
			struct timespec ts;
			memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
			return (uint64_t)((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + rx->realtime_to_mono_ns);
		}
	}
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static int socket_drain(struct rx *rx, int fd)
{
	int total = 0;

	for (;;) {
		for (unsigned i = 0; i < SOCKET_BATCH; i++) {
			struct msghdr *mh = &rx->msgs[i].msg_hdr;
			mh->msg_namelen = rx->ip ? 0 : sizeof(rx->from[i]);
			mh->msg_control = rx->ctl[i].buf;
			mh->msg_controllen = sizeof(rx->ctl[i].buf);
			mh->msg_flags = 0;
		}
		int n = recvmmsg(fd, rx->msgs, SOCKET_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? total : -errno;
		}
		for (int i = 0; i < n; i++) {
			struct msghdr *mh = &rx->msgs[i].msg_hdr;
			/* Inbound only, as PCAP_D_IN: our own probes, where PACKET_IGNORE_OUTGOING is
			 * missing, are never replies (a raw IPv4 socket sees only what the host
			 * received). A frame longer than the buffer arrives cut to RX_SNAPLEN bytes, as
			 * libpcap's snaplen cuts it. */
			if (!rx->ip && mh->msg_namelen >= sizeof(struct sockaddr_ll) &&
			    rx->from[i].sll_pkttype == PACKET_OUTGOING)
				continue;
			rx->cb(rx->ctx, rx->frames[i], rx->msgs[i].msg_len + (rx->ip ? 14 : 0), frame_time(rx, mh));
			total++;
		}
		if (n < SOCKET_BATCH)
			return total;
	}
}

/* ---- common -------------------------------------------------------------------------------- */

int rx_open(struct rx **out, const struct rx_config *c, char *err, size_t errlen)
{
	struct rx_plan plan;
	struct rx *rx = calloc(1, sizeof(*rx));
	int rc;

	if (!rx)
		return -ENOMEM;
	rx->fd = rx->fd2 = -1;
	rx->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (rx->wake_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	rx_plan(c, &plan);
	rx->kind = plan.kind;
	if (plan.kind == RX_IPV4) {
		rc = ipv4_open(rx, c, plan.bytes, err, errlen);
		if (rc == -EADDRNOTAVAIL || rc == -ENOBUFS) {
			/* Replies to an address that is not the host's never reach a raw socket; on
			 * the wire a packet socket sees them all the same. A queue the kernel will not
			 * make big enough for every reply (net.core.rmem_max without CAP_NET_ADMIN)
			 * would drop a burst: the packet socket then turns to a ring. */
			if (rx->fd >= 0)
				close(rx->fd);
			if (rx->fd2 >= 0)
				close(rx->fd2);
			rx->fd = rx->fd2 = -1;
			rx->ip = false;
			rx->kind = plan.kind = RX_SOCKET;
		} else if (rc) {
			goto fail;
		}
	}
	if (rx->kind == RX_SOCKET) {
		rc = socket_open(rx, c, plan.bytes, c->kind != RX_SOCKET, err, errlen);
		if (rc == 1) {
			/* The kernel's limit is below what a burst of every reply needs: a ring. */
			sockclose_deferred(&rx->fd, 1);
			rx->fd = -1;
			struct rx_config ring = *c;
			ring.kind = RX_RING;
			rx_plan(&ring, &plan);
			rx->kind = RX_RING;
		} else if (rc) {
			goto fail;
		}
	}
	if (rx->kind == RX_RING && (rc = ring_open(rx, c, plan.bytes, err, errlen)))
		goto fail;
	rx->realtime_to_mono_ns = clock_offset_ns();
	*out = rx;
	return 0;
fail:
	rx_close(rx);
	return rc;
}

int rx_dispatch(struct rx *rx, rx_frame_cb cb, void *ctx, int timeout_ms)
{
	struct pollfd pfd[3] = {
		{ .fd = rx->wake_fd, .events = POLLIN }, { .fd = rx->fd, .events = POLLIN }, { .fd = rx->fd2, .events = POLLIN },
	};
	int n, m;

	rx->cb = cb;
	rx->ctx = ctx;
	if (timeout_ms > 0 && poll(pfd, rx->fd2 >= 0 ? 3 : 2, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	if (rx->kind == RX_RING)
		return ring_drain(rx);
	if ((n = socket_drain(rx, rx->fd)) < 0 || rx->fd2 < 0)
		return n;
	return (m = socket_drain(rx, rx->fd2)) < 0 ? m : n + m;
}

void rx_wake(struct rx *rx)
{
	uint64_t one = 1;

	/* Never read: the eventfd stays readable, so every later poll returns at once. */
	if (rx && write(rx->wake_fd, &one, sizeof(one)) < 0) {
		/* Only EAGAIN at a counter of 2^64-2, and it is readable already then. */
	}
}

uint64_t rx_dropped(struct rx *rx)
{
	if (rx->kind == RX_RING) {
		struct pcap_stat st;
		return rx->pc.stats(rx->pcap, &st) < 0 ? 0 : st.ps_drop;
	}
	if (rx->ip) {
		/* A raw socket's count of packets its full queue turned away, since it opened. */
		uint64_t drops = 0;
		for (int i = 0; i < 2; i++) {
			uint32_t mi[SK_MEMINFO_VARS];
			socklen_t len = sizeof(mi);
			int fd = i ? rx->fd2 : rx->fd;
			if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mi, &len) == 0 &&
			    len > SK_MEMINFO_DROPS * sizeof(mi[0]))
				drops += mi[SK_MEMINFO_DROPS];
		}
		return drops;
	}
	struct tpacket_stats st;
	socklen_t len = sizeof(st);
	if (getsockopt(rx->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
		rx->dropped += st.tp_drops; /* the kernel resets its counters on every read */
	return rx->dropped;
}

int rx_send_fd(const struct rx *rx)
{
	return rx->kind == RX_SOCKET && rx->ethertype ? rx->fd : -1;
}

const char *rx_name(const struct rx *rx)
{
	return rx->kind == RX_RING ? "ring" : rx->kind == RX_IPV4 ? "ipv4" : "socket";
}

/*
 * A socket on its way out still sits in the interface's receive path until the kernel has
 * released it (sockclose.h), and every frame its filter accepts would be cloned into its
 * queue for nobody. A filter that accepts nothing makes it inert at once: replacing a filter
 * waits for nothing.
 */
static void stop_capturing(int fd)
{
	static const struct sock_filter drop_all[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
	struct sock_fprog fp = { .len = 1, .filter = (struct sock_filter *)drop_all };

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp));
}

void rx_close(struct rx *rx)
{
	if (!rx)
		return;
	if (rx->ip) {
		/* Raw IPv4 sockets leave the receive path at close, waiting for nothing. */
		if (rx->fd >= 0)
			close(rx->fd);
		if (rx->fd2 >= 0)
			close(rx->fd2);
		rx->fd = rx->fd2 = -1;
	}
	stop_capturing(rx->fd);
	if (rx->pcap) {
		/* libpcap closes its descriptor itself, and that close would wait: it gets a
		 * duplicate to close, and the socket's last reference goes the deferred way. */
		int fd = rx->fd >= 0 ? dup(rx->fd) : -1;
		rx->pc.close(rx->pcap);
		rx->fd = fd;
	}
	/* A small sweep's socket goes to a process of its own: sweeps one after another each
	 * close one, faster than the kernel's single worker releases what io_uring hands it. */
	if (rx->fd >= 0 && rx->kind == RX_SOCKET)
		sockclose_deferred_child(&rx->fd, 1);
	else if (rx->fd >= 0)
		sockclose_deferred(&rx->fd, 1);
	if (rx->wake_fd >= 0)
		close(rx->wake_fd);
	rx_pcap_unload(&rx->pc);
	free(rx);
}
