/* SPDX-License-Identifier: MIT */
/* tx_int.h: the sender's private state, shared by tx.c and the io_uring backend tx_uring.c. */
#ifndef LNMT_TX_INT_H
#define LNMT_TX_INT_H

#include "tx.h"

#include <liburing.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/uio.h>

struct tx {
	enum tx_kind kind;
	const char *name;
	const char *fallback;
	int (*send)(struct tx *tx, const uint16_t *lens, unsigned n, unsigned *sent);
	int fd;
	unsigned batch_max;
	size_t frame_max;
	uint8_t *bufs;
	size_t bufs_len;
	struct mmsghdr *msgs; /* mmsg */
	struct iovec *iov;
	struct io_uring ring; /* uring */
	bool ring_ok;
	bool fd_registered;   /* uring: the ring holds a reference to fd */
	unsigned *retry;      /* uring: frames to resend */
};

int tx_uring_open(struct tx *tx);
void tx_uring_close(struct tx *tx);

#endif
