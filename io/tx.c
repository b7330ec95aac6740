/* SPDX-License-Identifier: MIT */
/* tx.c: the sender's socket and buffers, backend choice, and the sendmmsg and null backends. */
#include "tx_int.h"

#include "sockclose.h"

#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

/* How often a frame refused for lack of buffer space is retried before giving up. */
#define TX_NOBUF_RETRIES 100000

int tx_kind_parse(const char *s)
{
	static const char *const names[] = { "auto", "uring", "mmsg", "null" };
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

static int packet_socket(int ifindex, int *out)
{
	/* Protocol 0: this socket only sends. Bound to ETH_P_ALL it would also receive a copy of
	 * every frame on the interface, which the receiver already gets through libpcap. */
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = ifindex };
	int sndbuf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)); /* best effort */
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

static int mmsg_send(struct tx *tx, const uint16_t *lens, unsigned n, unsigned *sent)
{
	unsigned done = 0, stalls = 0;

	for (unsigned i = 0; i < n; i++) {
		tx->iov[i].iov_base = tx_frame(tx, i);
		tx->iov[i].iov_len = lens[i];
		tx->msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &tx->iov[i], .msg_iovlen = 1 };
	}
	while (done < n) {
		int r = sendmmsg(tx->fd, tx->msgs + done, n - done, 0);
		if (r > 0) {
			done += (unsigned)r;
			continue;
		}
		if (r < 0 && (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) &&
		    ++stalls < TX_NOBUF_RETRIES) {
			sched_yield();
			continue;
		}
		*sent = done;
		return r < 0 ? -errno : -EIO;
	}
	*sent = done;
	return 0;
}

static int null_send(struct tx *tx, const uint16_t *lens, unsigned n, unsigned *sent)
{
	(void)tx;
	(void)lens;
	*sent = n;
	return 0;
}

static int open_backend(struct tx *tx, enum tx_kind kind, int ifindex)
{
	int rc;

	tx->kind = kind;
	if (kind == TX_NULL) {
		tx->name = "null";
		tx->send = null_send;
		return 0;
	}
	if (tx->fd < 0 && (rc = packet_socket(ifindex, &tx->fd)))
		return rc;
	if (kind == TX_URING)
		return tx_uring_open(tx);
	tx->name = "mmsg";
	tx->send = mmsg_send;
	return 0;
}

int tx_open(struct tx **out, enum tx_kind kind, int ifindex, unsigned batch_max, size_t frame_max)
{
	struct tx *tx = calloc(1, sizeof(*tx));
	int rc = -ENOMEM;

	if (!tx)
		return -ENOMEM;
	tx->fd = -1;
	tx->batch_max = batch_max ? batch_max : 1;
	tx->frame_max = (frame_max + 63) & ~(size_t)63; /* cache-line aligned frames */
	tx->bufs_len = tx->batch_max * tx->frame_max;
	tx->bufs = mmap(NULL, tx->bufs_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	tx->msgs = calloc(tx->batch_max, sizeof(*tx->msgs));
	tx->iov = calloc(tx->batch_max, sizeof(*tx->iov));
	if (tx->bufs == MAP_FAILED || !tx->msgs || !tx->iov) {
		if (tx->bufs == MAP_FAILED)
			tx->bufs = NULL;
		goto fail;
	}
	if (kind == TX_AUTO) {
		rc = open_backend(tx, TX_URING, ifindex);
		if (rc && rc != -EPERM && rc != -EACCES && tx->fd >= 0) {
			tx->fallback = tx->fallback ? tx->fallback : "io_uring unavailable";
			rc = open_backend(tx, TX_MMSG, ifindex);
		}
	} else {
		rc = open_backend(tx, kind, ifindex);
	}
	if (rc)
		goto fail;
	*out = tx;
	return 0;
fail:
	tx_close(tx);
	return rc;
}

uint8_t *tx_frame(struct tx *tx, unsigned i)
{
	return tx->bufs + (size_t)i * tx->frame_max;
}

int tx_send(struct tx *tx, const uint16_t *lens, unsigned n, unsigned *sent)
{
	return tx->send(tx, lens, n, sent);
}

const char *tx_name(const struct tx *tx)
{
	return tx->name;
}

const char *tx_fallback_reason(const struct tx *tx)
{
	return tx->fallback;
}

void tx_close(struct tx *tx)
{
	if (!tx)
		return;
	/* The packet socket's last close waits for a grace period (sockclose.h). With io_uring
	 * the ring holds the last reference, as a registered file, and its tear-down on the
	 * kernel's workqueue releases the socket: our descriptor goes first. Without a ring the
	 * close is deferred explicitly. */
	if (tx->fd >= 0 && tx->fd_registered) {
		close(tx->fd);
		tx->fd = -1;
	}
	tx_uring_close(tx);
	if (tx->fd >= 0)
		sockclose_deferred(&tx->fd, 1);
	if (tx->bufs)
		munmap(tx->bufs, tx->bufs_len);
	free(tx->msgs);
	free(tx->iov);
	free(tx);
}
