/* SPDX-License-Identifier: MIT */
/*
 * tx.h: the frame sender. The sweep fills up to batch_max frame buffers and hands them over in
 * one call; the backend puts them on the wire of one interface.
 *
 * Backends, chosen at run time: "uring" (io_uring, one submit per batch, registered socket),
 * "mmsg" (sendmmsg, the fallback where io_uring is missing or forbidden, as in many containers),
 * "null" (counts frames and sends nothing: dry runs and benchmarks of the engine alone).
 * TX_AUTO tries uring, then mmsg. Only the thread that opened a tx may use it.
 *
 * Links: TX_LINK_PACKET sends each Ethernet frame as it is through an AF_PACKET socket.
 * TX_LINK_IPV4 sends the IPv4 packet inside it through a raw IPv4 socket (IPPROTO_RAW, the
 * header as built) bound to the interface: the kernel picks the next hop and its MAC, and its
 * connection tracking sees the probe, so the host's firewall lets the reply in to a raw
 * receiving socket (rx.h's "ipv4" capture, the pair small sweeps use); unlike a packet
 * socket's, closing it waits for nothing. Frames are handed over as Ethernet frames either way.
 */
#ifndef LNMT_TX_H
#define LNMT_TX_H

#include <stddef.h>
#include <stdint.h>

enum tx_kind { TX_AUTO, TX_URING, TX_MMSG, TX_NULL };
enum tx_link { TX_LINK_PACKET, TX_LINK_IPV4 };

struct tx;

struct tx_config {
	enum tx_kind kind;
	enum tx_link link;
	int ifindex;          /* both links */
	const char *ifname;   /* TX_LINK_IPV4: the device the raw socket is bound to */
	/* TX_LINK_PACKET: send through this packet socket, bound to the interface and to the
	 * EtherType of the frames, instead of one of our own (a small sweep's capture socket: one
	 * packet socket for the kernel to release instead of one per sender); -1: our own. The
	 * caller keeps it open until tx_close() and closes it. */
	int fd;
	unsigned batch_max;
	size_t frame_max;
};

/* Parses "auto", "uring", "mmsg", "null"; -1 if unknown. */
int tx_kind_parse(const char *s);

/*
 * Opens a sender on ifindex (ignored by null). Frames are at most frame_max bytes. Returns 0,
 * -EPERM without CAP_NET_RAW, or another -errno. With TX_AUTO, an io_uring failure falls back to
 * mmsg and tx_fallback_reason() says why.
 */
int tx_open(struct tx **out, enum tx_kind kind, int ifindex, unsigned batch_max, size_t frame_max);

/* The same with a link and, maybe, a socket of the caller's: tx_open() is TX_LINK_PACKET with
 * fd -1. */
int tx_open_config(struct tx **out, const struct tx_config *c);

/* Buffer i (< batch_max) of the next batch: frame_max bytes, owned by tx, valid until tx_close. */
uint8_t *tx_frame(struct tx *tx, unsigned i);

/*
 * Sends frames 0..n-1 of the batch, lens[i] bytes each. Retries frames the kernel refused for
 * lack of buffer space (ENOBUFS/EAGAIN). Returns 0 when all n went out, else -errno of the first
 * hard failure (frames before it were sent; *sent says how many in all). On TX_LINK_IPV4 a probe
 * the kernel has no route for (ENETUNREACH, EHOSTUNREACH) counts as sent and lost, as it would
 * be one hop later; -EPERM there means the host's firewall refused it.
 */
int tx_send(struct tx *tx, const uint16_t *lens, unsigned n, unsigned *sent);

const char *tx_name(const struct tx *tx);
/* "packet" or "ipv4". */
const char *tx_link_name(const struct tx *tx);
/* Why TX_AUTO did not get io_uring, or NULL. */
const char *tx_fallback_reason(const struct tx *tx);
void tx_close(struct tx *tx);

#endif
