/* SPDX-License-Identifier: MIT */
/*
 * conn.h: many thousands of TCP connections in flight on one io_uring, connect-based (the
 * kernel's TCP: no privileges needed), each with its own deadline.
 *
 * A conn_loop owns a fixed table of slots, allocated once by conn_loop_new(): per slot a
 * receive buffer of rx_size bytes, a send buffer of tx_size bytes and a registered (direct)
 * file index, so a connection costs no malloc and no file descriptor of the process. Every
 * operation on a connection (socket + connect, send, recv, close) is one io_uring request
 * linked to an IORING_OP_LINK_TIMEOUT at the connection's absolute deadline (CLOCK_MONOTONIC),
 * so a silent peer ends its own connection without a timer of ours.
 *
 * Flow: conn_open() takes a free slot and starts the connect; the event callback then gets
 * CONN_EV_CONNECTED, and after each conn_send() / conn_recv() CONN_EV_SENT / CONN_EV_RECEIVED,
 * with res >= 0 (bytes) or -errno: -ETIMEDOUT when the deadline passed, -ECONNREFUSED,
 * -ECONNRESET, and so on. One operation at a time per slot: the callback starts the next one
 * (or conn_close()). After conn_close() the slot is free again once its last completions have
 * come back; the callback gets no more events for it.
 *
 * Foreign descriptors (a resolver's UDP socket) can be watched on the same ring with
 * conn_poll_fd(): one-shot, re-armed by the caller.
 *
 * Threads: everything on one thread (the ring is set up single-issuer). Callbacks run inside
 * conn_loop_run() and may call every function here but conn_loop_free().
 * Errors: -errno; conn_loop_new() returns -ENOSYS on a kernel without one of the operations
 * (direct sockets need 5.19). conn_open() returns -EBUSY when no slot is free. conn_loop_new() registers one
 * file per slot, which the kernel refuses (-EMFILE) above RLIMIT_NOFILE: the caller raises it.
 */
#ifndef LNMT_CONN_H
#define LNMT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn_loop;

enum conn_event {
	CONN_EV_CONNECTED, /* res 0 or -errno */
	CONN_EV_SENT,      /* res: bytes sent, or -errno */
	CONN_EV_RECEIVED,  /* res: bytes received into conn_rx() (0: the peer closed), or -errno */
	CONN_EV_POLL,      /* a conn_poll_fd() fired: slot is the tag, res the poll mask or -errno */
};

typedef void (*conn_event_cb)(void *ctx, unsigned slot, enum conn_event ev, int res);

struct conn_loop_config {
	unsigned slots;   /* connections at once, 1..1048576 */
	size_t rx_size;   /* receive buffer per slot (at least 256) */
	size_t tx_size;   /* send buffer per slot (at least 256) */
};

int conn_loop_new(struct conn_loop **out, const struct conn_loop_config *cfg, conn_event_cb cb, void *ctx);
/* Closes what is still open (the kernel aborts those connections) and frees it all; NULL is fine. */
void conn_loop_free(struct conn_loop *l);

/* Slots neither open nor waiting for their last completions. */
unsigned conn_loop_free_slots(const struct conn_loop *l);
/* Slots taken (open, or closing). */
unsigned conn_loop_busy(const struct conn_loop *l);

/*
 * Starts a connection to ip:port (host order) that must be done by deadline_ns
 * (clock_now_ns()); *slot is its slot, valid until conn_close(). 0, -EBUSY.
 */
int conn_open(struct conn_loop *l, uint32_t ip, uint16_t port, uint64_t deadline_ns, unsigned *slot);

/* The slot's buffers: tx for the caller to fill before conn_send(), rx filled by recv. */
uint8_t *conn_tx(struct conn_loop *l, unsigned slot);
size_t conn_tx_size(const struct conn_loop *l);
const uint8_t *conn_rx(const struct conn_loop *l, unsigned slot);

/* Sends len bytes of conn_tx() (all of them: a short send is resumed inside), then CONN_EV_SENT. */
int conn_send(struct conn_loop *l, unsigned slot, size_t len);
/* Receives up to rx_size bytes into conn_rx(), then CONN_EV_RECEIVED. */
int conn_recv(struct conn_loop *l, unsigned slot);
/* Ends the connection (without waiting for the peer); no more events for the slot. */
void conn_close(struct conn_loop *l, unsigned slot);
/* Microseconds since conn_open() of the slot. */
uint64_t conn_age_us(const struct conn_loop *l, unsigned slot, uint64_t now_ns);

/* Watches fd once for mask (POLLIN...); CONN_EV_POLL with slot = tag when it fires. */
int conn_poll_fd(struct conn_loop *l, int fd, unsigned mask, unsigned tag);
/* Cancels an armed conn_poll_fd() of that tag (it then completes with -ECANCELED). */
void conn_poll_cancel(struct conn_loop *l, unsigned tag);

/*
 * Submits what is queued and handles completions, waiting up to wait_ns for the first; returns
 * the number handled (0 after a wait with nothing), or -errno from io_uring.
 */
int conn_loop_run(struct conn_loop *l, uint64_t wait_ns);

#endif
