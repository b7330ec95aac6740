/* SPDX-License-Identifier: MIT */
/* tx_int.h: the sender's private state, shared by tx.c and the io_uring backend tx_uring.c. */
#ifndef LNMT_TX_INT_H
#define LNMT_TX_INT_H

#include "tx.h"

#include <liburing.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

struct tx {
	enum tx_kind kind;
	enum tx_link link;
	size_t skip;          /* bytes of each frame not sent: the Ethernet header on TX_LINK_IPV4 */
	const char *name;
	const char *fallback;
	int (*send)(struct tx *tx, const uint16_t *lens, unsigned n, unsigned *sent);
	int fd;
	bool borrowed;        /* fd is the caller's: never registered in a ring, never closed here */
	unsigned batch_max;
	size_t frame_max;
	uint8_t *bufs;
	size_t bufs_len;
	struct mmsghdr *msgs; /* mmsg; uring on TX_LINK_IPV4 (sendmsg) */
	struct iovec *iov;
	struct sockaddr_in *to; /* TX_LINK_IPV4: each frame's destination */
	struct io_uring ring; /* uring */
	bool ring_ok;
	bool fd_registered;   /* uring: the ring holds a reference to fd */
	unsigned *retry;      /* uring: frames to resend */
};

/* Points msgs[i] and iov[i] (and, on TX_LINK_IPV4, to[i]: the frame's IPv4 destination) at frame
 * i of len bytes, less the skipped header. */
void tx_fill_msg(struct tx *tx, unsigned i, uint16_t len);

/* Whether err, for one frame, means that frame is lost rather than the sender broken. */
bool tx_frame_lost(const struct tx *tx, int err);

int tx_uring_open(struct tx *tx);
void tx_uring_close(struct tx *tx);

#endif
