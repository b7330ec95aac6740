/* SPDX-License-Identifier: MIT */
/* tx.c: the sender's socket and buffers, backend choice, and the sendmmsg and null backends. */
#include "tx_int.h"

#include "sockclose.h"

#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <netinet/in.h>
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

/* A raw IPv4 socket bound to ifname: the kernel routes each packet (out of that device only),
 * resolves the next hop, and takes the header as built (IPPROTO_RAW implies IP_HDRINCL). */
static int ipv4_socket(const char *ifname, int *out)
{
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW), one = 1, sndbuf = 4 << 20;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)); /* best effort */
	/* As on the packet link, a target that is some subnet's broadcast address is probed. */
	setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
	if (!ifname || setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname) + 1) < 0) {
		int rc = ifname ? -errno : -EINVAL;
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

void tx_fill_msg(struct tx *tx, unsigned i, uint16_t len)
{
	uint8_t *f = tx_frame(tx, i) + tx->skip;

	tx->iov[i].iov_base = f;
	tx->iov[i].iov_len = len > tx->skip ? len - tx->skip : 0;
	tx->msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &tx->iov[i], .msg_iovlen = 1 };
	if (tx->link == TX_LINK_IPV4) {
		/* The destination is the header's: bytes 16-19 of the IPv4 header. */
		tx->to[i] = (struct sockaddr_in){ .sin_family = AF_INET };
		memcpy(&tx->to[i].sin_addr, f + 16, 4);
		tx->msgs[i].msg_hdr.msg_name = &tx->to[i];
		tx->msgs[i].msg_hdr.msg_namelen = sizeof(tx->to[i]);
	}
}

bool tx_frame_lost(const struct tx *tx, int err)
{
	return tx->link == TX_LINK_IPV4 && (err == -ENETUNREACH || err == -EHOSTUNREACH);
}

static int mmsg_send(struct tx *tx, const uint16_t *lens, unsigned n, unsigned *sent)
{
	unsigned done = 0, stalls = 0;

	for (unsigned i = 0; i < n; i++)
		tx_fill_msg(tx, i, lens[i]);
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
		if (r < 0 && tx_frame_lost(tx, -errno)) {
			done++; /* sendmmsg stops at the frame it could not send: that one is lost */
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

static int open_backend(struct tx *tx, enum tx_kind kind, const struct tx_config *c)
{
	int rc;

	tx->kind = kind;
	if (kind == TX_NULL) {
		tx->name = "null";
		tx->send = null_send;
		return 0;
	}
	if (tx->fd < 0 && (rc = tx->link == TX_LINK_IPV4 ? ipv4_socket(c->ifname, &tx->fd)
							  : packet_socket(c->ifindex, &tx->fd)))
		return rc;
	if (kind == TX_URING)
		return tx_uring_open(tx);
	tx->name = "mmsg";
	tx->send = mmsg_send;
	return 0;
}

int tx_open(struct tx **out, enum tx_kind kind, int ifindex, unsigned batch_max, size_t frame_max)
{
	struct tx_config c = { .kind = kind, .ifindex = ifindex, .batch_max = batch_max, .frame_max = frame_max,
			       .fd = -1 };

	return tx_open_config(out, &c);
}

int tx_open_config(struct tx **out, const struct tx_config *c)
{
	struct tx *tx = calloc(1, sizeof(*tx));
	int rc = -ENOMEM;

	if (!tx)
		return -ENOMEM;
	tx->fd = -1;
	tx->link = c->kind == TX_NULL ? TX_LINK_PACKET : c->link;
	if (c->kind != TX_NULL && tx->link == TX_LINK_PACKET && c->fd >= 0) {
		tx->fd = c->fd;
		tx->borrowed = true;
	}
	tx->skip = tx->link == TX_LINK_IPV4 ? 14 : 0; /* the Ethernet header */
	tx->batch_max = c->batch_max ? c->batch_max : 1;
	tx->frame_max = (c->frame_max + 63) & ~(size_t)63; /* cache-line aligned frames */
	tx->bufs_len = tx->batch_max * tx->frame_max;
	tx->bufs = mmap(NULL, tx->bufs_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	tx->msgs = calloc(tx->batch_max, sizeof(*tx->msgs));
	tx->iov = calloc(tx->batch_max, sizeof(*tx->iov));
	tx->to = tx->link == TX_LINK_IPV4 ? calloc(tx->batch_max, sizeof(*tx->to)) : NULL;
	if (tx->bufs == MAP_FAILED || !tx->msgs || !tx->iov || (tx->link == TX_LINK_IPV4 && !tx->to)) {
		if (tx->bufs == MAP_FAILED)
			tx->bufs = NULL;
		goto fail;
	}
	if (c->kind == TX_AUTO) {
		rc = open_backend(tx, TX_URING, c);
		if (rc && rc != -EPERM && rc != -EACCES && tx->fd >= 0) {
			tx->fallback = tx->fallback ? tx->fallback : "io_uring unavailable";
			rc = open_backend(tx, TX_MMSG, c);
		}
	} else {
		rc = open_backend(tx, c->kind, c);
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

const char *tx_link_name(const struct tx *tx)
{
	return tx->link == TX_LINK_IPV4 ? "ipv4" : "packet";
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
	if (tx->borrowed)
		; /* the caller's to close */
	else if (tx->fd >= 0 && tx->link == TX_LINK_IPV4)
		close(tx->fd); /* a raw IPv4 socket's release waits for nothing */
	else if (tx->fd >= 0)
		sockclose_deferred(&tx->fd, 1);
	if (tx->bufs)
		munmap(tx->bufs, tx->bufs_len);
	free(tx->msgs);
	free(tx->iov);
	free(tx->to);
	free(tx);
}
