/* SPDX-License-Identifier: MIT */
/*
 * tx_uring.c: the io_uring backend. One IORING_OP_SEND per frame on a registered AF_PACKET
 * socket (IORING_OP_SENDMSG, with the destination, on a raw IPv4 one), the whole batch
 * submitted with one io_uring_enter that also waits for its completions (both sockets' sends
 * complete inline, so the wait costs nothing and every buffer is free again when tx_send
 * returns). SINGLE_ISSUER and DEFER_TASKRUN are asked for because only the sweep's
 * sender thread touches the ring; older kernels get a plain ring.
 */
#include "tx_int.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#define URING_NOBUF_RETRIES 100000

static int uring_send(struct tx *tx, const uint16_t *lens, unsigned n, unsigned *sent)
{
	unsigned todo = n, stalls = 0, ok = 0;
	unsigned *idx = tx->retry;
	int hard = 0;

	for (unsigned i = 0; i < n; i++) {
		idx[i] = i;
		if (tx->link == TX_LINK_IPV4)
			tx_fill_msg(tx, i, lens[i]);
	}
	while (todo) {
		for (unsigned k = 0; k < todo; k++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&tx->ring);
			/* A raw IPv4 socket needs each packet's destination: a sendmsg. */
			/* A borrowed socket is not registered: a registered file's last reference
			 * would be the ring's, dropped after the caller has handed the socket on. */
			int fd = tx->fd_registered ? 0 : tx->fd;
			if (tx->link == TX_LINK_IPV4)
				io_uring_prep_sendmsg(sqe, fd, &tx->msgs[idx[k]].msg_hdr, 0);
			else
				io_uring_prep_send(sqe, fd, tx_frame(tx, idx[k]), lens[idx[k]], 0);
			if (tx->fd_registered)
				sqe->flags |= IOSQE_FIXED_FILE;
			sqe->user_data = idx[k];
		}
		int rc = io_uring_submit_and_wait(&tx->ring, todo);
		if (rc < 0 && rc != -EINTR) {
			hard = rc;
			break;
		}
		unsigned again = 0, seen = 0;
		while (seen < todo) {
			struct io_uring_cqe *cqe;
			if ((rc = io_uring_wait_cqe(&tx->ring, &cqe)) < 0) {
				hard = rc;
				break;
			}
			int res = cqe->res;
			unsigned i = (unsigned)cqe->user_data;
			io_uring_cqe_seen(&tx->ring, cqe);
			seen++;
			if (res >= 0 || tx_frame_lost(tx, res))
				ok++;
			else if (res == -ENOBUFS || res == -EAGAIN || res == -EINTR)
				idx[again++] = i; /* idx[0..again) are already consumed above */
			else if (!hard)
				hard = res;
		}
		if (hard)
			break;
		todo = again;
		if (todo && ++stalls > URING_NOBUF_RETRIES) {
			hard = -ENOBUFS;
			break;
		}
		if (todo)
			sched_yield();
	}
	*sent = ok;
	return hard;
}

int tx_uring_open(struct tx *tx)
{
	static const unsigned flag_sets[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int rc = -ENOSYS;

	tx->retry = calloc(tx->batch_max, sizeof(*tx->retry));
	if (!tx->retry)
		return -ENOMEM;
	for (unsigned i = 0; i < 3; i++) {
		struct io_uring_params p = { .flags = flag_sets[i] };
		rc = io_uring_queue_init_params(tx->batch_max * 2, &tx->ring, &p);
		if (rc == 0)
			break;
		if (rc == -EPERM) {
			tx->fallback = "io_uring is forbidden here (EPERM: seccomp or kernel.io_uring_disabled)";
			return -ENOSYS; /* lets TX_AUTO fall back; EPERM is reserved for CAP_NET_RAW */
		}
	}
	if (rc) {
		tx->fallback = "io_uring_setup failed";
		return rc;
	}
	tx->ring_ok = true;
	if (tx->borrowed) {
		tx->name = "uring";
		tx->send = uring_send;
		return 0;
	}
	if ((rc = io_uring_register_files(&tx->ring, &tx->fd, 1)) < 0) {
		tx->fallback = "io_uring could not register the socket";
		return rc;
	}
	tx->fd_registered = true;
	tx->name = "uring";
	tx->send = uring_send;
	return 0;
}

void tx_uring_close(struct tx *tx)
{
	if (tx->ring_ok)
		io_uring_queue_exit(&tx->ring);
	tx->ring_ok = false;
	tx->fd_registered = false;
	free(tx->retry);
	tx->retry = NULL;
}
