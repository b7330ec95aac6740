/* SPDX-License-Identifier: MIT */
/*
 * rx.h: the reply receiver on one interface, inbound only (so the scanner's own frames and its
 * kernel's RSTs are never seen), with the caller's BPF filter (pcap syntax over Ethernet
 * frames). Two backends, chosen at run time by how many replies the sweep can get:
 *
 *  - "socket": an AF_PACKET socket read with recvmmsg, the kernel's per-socket queue sized for
 *    every reply. Nothing to set up: no ring to allocate, and none of the grace periods a ring
 *    costs the kernel (PACKET_RX_RING waits one, 10-30 ms, whatever its size). Each reply wakes
 *    the receiver, which is what a small sweep wants (its last reply is seen at once) and what a
 *    large one cannot afford. Small sweeps.
 *  - "ring": libpcap on a TPACKET_V3 ring sized for the sweep, frames handed over in blocks
 *    retired within 1 ms (few wake-ups, and a sweep still ends right after its last reply).
 *    Large sweeps.
 *  - "ipv4": raw IPv4 sockets (one per protocol: ICMP, TCP) bound to the interface and to the
 *    address replies come to, for small sweeps whose probes went out through the kernel's IPv4
 *    stack (tx.h's TX_LINK_IPV4): no packet socket at all, so nothing the kernel must release
 *    grace period by grace period after us. Each socket sees every packet of its protocol
 *    that the host accepts; the filter keeps the replies. The frames handed to the callback
 *    start with a made-up Ethernet header (zero MACs, type IPv4), so probes parse them as any
 *    other. Bind fails where the address is not local (a --source-ip the host does not own):
 *    then it becomes a packet socket, which sees every frame on the wire.
 *
 * No close waits for the kernel: raw IPv4 sockets leave at once, packet sockets go through
 * sockclose.h (a small sweep's to a process of its own, so that many release side by side).
 * libpcap is loaded (rx_pcap.h) only for a ring, or for a filter the caller did not compile.
 * Timestamps are the kernel's arrival times converted to CLOCK_MONOTONIC ns, so RTTs do not
 * include time spent waiting in a queue. One thread uses an rx at a time, except rx_wake().
 */
#ifndef LNMT_RX_H
#define LNMT_RX_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes kept of each frame: every reply we parse fits (Ethernet + IPv4 with options + L4
 * header + 16 bytes). */
#define RX_SNAPLEN 128

struct rx;

typedef void (*rx_frame_cb)(void *ctx, const uint8_t *frame, size_t len, uint64_t ts_ns);

enum rx_kind { RX_AUTO, RX_SOCKET, RX_RING, RX_IPV4 };

/* Replies up to which RX_AUTO picks the socket: a /20 of one probe. */
#define RX_SOCKET_MAX_FRAMES 4096u

struct rx_config {
	const char *ifname;
	const char *filter;   /* pcap syntax, applied to whole Ethernet frames */
	/* The filter compiled already (pcap_compile() of `filter`, optimized, for DLT_EN10MB and
	 * RX_SNAPLEN), for the socket, which then needs no libpcap; NULL: compile `filter`. */
	const struct sock_filter *program;
	unsigned short program_len;
	/* RX_IPV4: the address the replies come to (host order), the protocols to receive, and
	 * the filter compiled for IPv4 packets (DLT_RAW, RX_SNAPLEN - 14; NULL: compile it). */
	uint32_t local_ip;
	bool icmp, tcp;
	const struct sock_filter *ip_program;
	unsigned short ip_program_len;
	uint16_t ethertype;   /* socket: only frames of this EtherType reach the filter; 0 = all */
	uint64_t frames;      /* the most replies the sweep can get (probes of a pass) */
	size_t buffer_bytes;  /* kernel buffer (ring, or the socket's queue); 0 = sized for frames */
	enum rx_kind kind;    /* RX_AUTO: by frames */
};

struct rx_plan {
	enum rx_kind kind;
	size_t bytes; /* the ring, or the socket queue's budget as the kernel counts it (truesize) */
};

/*
 * What rx_open() sets up for c, before it asks the kernel: RX_AUTO becomes RX_SOCKET up to
 * RX_SOCKET_MAX_FRAMES frames, else RX_RING (RX_IPV4 is the caller's to ask for); bytes is
 * buffer_bytes, or sized for frames (a socket accounts ~1-2 KiB per small frame, a ring ~160
 * bytes) within each backend's bounds (sockets 256 KiB-8 MiB each, ring 4-64 MiB).
 * No system calls.
 */
void rx_plan(const struct rx_config *c, struct rx_plan *out);

/*
 * Opens capture as planned. A socket the kernel will not give the planned queue (net.core.
 * rmem_max without CAP_NET_ADMIN) becomes a ring unless c->kind is RX_SOCKET, so a burst of
 * replies never overflows it; an RX_IPV4 capture that cannot have its queue, or whose address
 * is not the host's, becomes a packet socket (and maybe from there a ring). Returns 0, -EPERM without CAP_NET_RAW, -ENODEV for an unknown
 * interface, LNMT_E_PCAP with libpcap's text (or the failing call) in err, or another -errno.
 */
int rx_open(struct rx **out, const struct rx_config *c, char *err, size_t errlen);

/* Waits up to timeout_ms for frames (not at all after rx_wake()), then hands every queued
 * frame to cb. Returns the number handled or a negative error. */
int rx_dispatch(struct rx *rx, rx_frame_cb cb, void *ctx, int timeout_ms);

/* From any thread: the rx_dispatch() waiting now, if any, and every later one return without
 * waiting for frames (a latch, so the wake-up cannot be lost). */
void rx_wake(struct rx *rx);

/* Frames the kernel dropped because the ring or the socket's queue was full. */
uint64_t rx_dropped(struct rx *rx);

/* The packet socket of a "socket" capture bound to one EtherType, which senders may send those
 * frames through (tx.h's tx_config.fd) until rx_close(); else -1. */
int rx_send_fd(const struct rx *rx);

/* "socket", "ring" or "ipv4": the backend rx_open() settled on (static string). */
const char *rx_name(const struct rx *rx);

void rx_close(struct rx *rx);

#endif
