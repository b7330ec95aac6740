/* SPDX-License-Identifier: MIT */
/*
 * conn_uring.c: the connection engine of conn.h on io_uring.
 *
 * A connection is opened by one linked chain: IORING_OP_SOCKET straight into the slot's direct
 * descriptor, IORING_OP_CONNECT on it, and an IORING_OP_LINK_TIMEOUT at the slot's absolute
 * deadline; every later send and recv is linked to a timeout at the same deadline. Direct
 * descriptors keep tens of thousands of sockets out of the process's file table (no
 * RLIMIT_NOFILE to raise, no fd allocation per connection) and need no syscall per socket.
 *
 * user_data: bits 0-3 the operation, 4-31 the slot, 32-63 the slot's generation, so that a
 * completion of a slot's earlier life is never taken for its present one. A slot is reused only
 * once every request it had in flight has completed (pending == 0), which is what lets the
 * timespecs and the address live in the slot.
 */
#include "conn.h"

#include "clock.h"

#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum op { OP_SOCKET = 1, OP_CONNECT, OP_SEND, OP_RECV, OP_TIMEOUT, OP_CLOSE, OP_CANCEL, OP_POLL };

enum slot_state { SLOT_FREE, SLOT_OPEN, SLOT_CLOSING };

struct slot {
	uint32_t gen;
	uint8_t state;
	uint8_t op;            /* the operation the user waits for (0: none) */
	uint16_t pending;      /* requests in flight: the slot is reusable at 0 */
	int sock_err;          /* the socket request's failure, reported with the connect */
	struct __kernel_timespec deadline;
	struct sockaddr_in sa;
	uint64_t opened_ns;
	uint32_t tx_len, tx_off;
};

struct conn_loop {
	struct io_uring ring;
	bool ring_up;
	struct slot *slots;
	uint8_t *rx, *tx;
	size_t rx_size, tx_size;
	unsigned n_slots;
	unsigned *free_stack;
	unsigned n_free;
	unsigned unsubmitted;
	conn_event_cb cb;
	void *ctx;
};

static inline uint64_t ud_make(enum op op, unsigned slot, uint32_t gen)
{
	return (uint64_t)op | ((uint64_t)slot << 4) | ((uint64_t)gen << 32);
}

static struct io_uring_sqe *get_sqe(struct conn_loop *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);

	if (!sqe) {
		/* The SQ ring is full: hand it to the kernel and take a fresh entry. */
		io_uring_submit(&l->ring);
		l->unsubmitted = 0;
		sqe = io_uring_get_sqe(&l->ring);
	}
	l->unsubmitted++;
	return sqe;
}

/* Reserves n entries in one go, so that a linked chain is never split by a submit. */
static void reserve(struct conn_loop *l, unsigned n)
{
	if (io_uring_sq_space_left(&l->ring) < n) {
		io_uring_submit(&l->ring);
		l->unsubmitted = 0;
	}
}

static void link_timeout(struct conn_loop *l, unsigned i)
{
	struct slot *s = &l->slots[i];
	struct io_uring_sqe *sqe = get_sqe(l);

	io_uring_prep_link_timeout(sqe, &s->deadline, IORING_TIMEOUT_ABS);
	sqe->user_data = ud_make(OP_TIMEOUT, i, s->gen);
	s->pending++;
}

int conn_loop_new(struct conn_loop **out, const struct conn_loop_config *cfg, conn_event_cb cb, void *ctx)
{
	static const unsigned flag_sets[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	struct conn_loop *l;
	int rc = -ENOMEM;

	if (!cfg->slots || cfg->slots > (1u << 20) || cfg->rx_size < 256 || cfg->tx_size < 256 ||
	    cfg->rx_size > (1u << 24) || cfg->tx_size > (1u << 24))
		return -EINVAL;
	if (!(l = calloc(1, sizeof(*l))))
		return -ENOMEM;
	l->n_slots = cfg->slots;
	l->rx_size = cfg->rx_size;
	l->tx_size = cfg->tx_size;
	l->cb = cb;
	l->ctx = ctx;
	l->slots = calloc(l->n_slots, sizeof(*l->slots));
	l->free_stack = calloc(l->n_slots, sizeof(*l->free_stack));
	l->rx = malloc(l->n_slots * l->rx_size);
	l->tx = malloc(l->n_slots * l->tx_size);
	if (!l->slots || !l->free_stack || !l->rx || !l->tx)
		goto fail;
	for (unsigned i = 0; i < l->n_slots; i++)
		l->free_stack[i] = l->n_slots - 1 - i;
	l->n_free = l->n_slots;
	/* Each connection has at most three requests queued at once (socket, connect, timeout). */
	unsigned entries = l->n_slots * 3 < 4096 ? l->n_slots * 3 : 4096;
	if (entries < 64)
		entries = 64;
	for (size_t f = 0; f < sizeof(flag_sets) / sizeof(flag_sets[0]); f++) {
		struct io_uring_params p = { .flags = flag_sets[f] | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP,
					     .cq_entries = l->n_slots * 4 > entries * 2 ? l->n_slots * 4 : entries * 2 };
		rc = io_uring_queue_init_params(entries, &l->ring, &p);
		if (rc != -EINVAL)
			break;
	}
	if (rc)
		goto fail;
	l->ring_up = true;
	/* Direct sockets came with 5.19 (Debian 12's liburing 2.3 knows them): ask the kernel. */
	struct io_uring_probe *probe = io_uring_get_probe_ring(&l->ring);
	static const int needed[] = { IORING_OP_SOCKET, IORING_OP_CONNECT, IORING_OP_SEND, IORING_OP_RECV,
				      IORING_OP_LINK_TIMEOUT, IORING_OP_CLOSE, IORING_OP_POLL_ADD,
				      IORING_OP_POLL_REMOVE, IORING_OP_ASYNC_CANCEL };
	for (size_t k = 0; k < sizeof(needed) / sizeof(needed[0]); k++)
		if (!probe || !io_uring_opcode_supported(probe, needed[k]))
			rc = -ENOSYS;
	io_uring_free_probe(probe);
	if (rc)
		goto fail;
	if ((rc = io_uring_register_files_sparse(&l->ring, l->n_slots)))
		goto fail;
	*out = l;
	return 0;
fail:
	conn_loop_free(l);
	return rc;
}

void conn_loop_free(struct conn_loop *l)
{
	if (!l)
		return;
	if (l->ring_up)
		io_uring_queue_exit(&l->ring); /* unregisters the files: the kernel closes the sockets */
	free(l->rx);
	free(l->tx);
	free(l->free_stack);
	free(l->slots);
	free(l);
}

unsigned conn_loop_free_slots(const struct conn_loop *l)
{
	return l->n_free;
}

unsigned conn_loop_busy(const struct conn_loop *l)
{
	return l->n_slots - l->n_free;
}

uint8_t *conn_tx(struct conn_loop *l, unsigned slot)
{
	return l->tx + (size_t)slot * l->tx_size;
}

size_t conn_tx_size(const struct conn_loop *l)
{
	return l->tx_size;
}

const uint8_t *conn_rx(const struct conn_loop *l, unsigned slot)
{
	return l->rx + (size_t)slot * l->rx_size;
}

uint64_t conn_age_us(const struct conn_loop *l, unsigned slot, uint64_t now_ns)
{
	return (now_ns - l->slots[slot].opened_ns) / 1000u;
}

int conn_open(struct conn_loop *l, uint32_t ip, uint16_t port, uint64_t deadline_ns, unsigned *slot)
{
	if (!l->n_free)
		return -EBUSY;
	unsigned i = l->free_stack[--l->n_free];
	struct slot *s = &l->slots[i];

	s->gen++;
	s->state = SLOT_OPEN;
	s->op = OP_CONNECT;
	s->pending = 0;
	s->sock_err = 0;
	s->deadline.tv_sec = (long long)(deadline_ns / 1000000000u);
	s->deadline.tv_nsec = (long long)(deadline_ns % 1000000000u);
	s->sa = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(ip) };
	s->opened_ns = clock_now_ns();
	reserve(l, 3);
	struct io_uring_sqe *sqe = get_sqe(l);
	io_uring_prep_socket_direct(sqe, AF_INET, SOCK_STREAM, IPPROTO_TCP, i, 0);
	sqe->flags |= IOSQE_IO_LINK;
	sqe->user_data = ud_make(OP_SOCKET, i, s->gen);
	s->pending++;
	sqe = get_sqe(l);
	io_uring_prep_connect(sqe, (int)i, (struct sockaddr *)&s->sa, sizeof(s->sa));
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_LINK;
	sqe->user_data = ud_make(OP_CONNECT, i, s->gen);
	s->pending++;
	link_timeout(l, i);
	*slot = i;
	return 0;
}

static void queue_send(struct conn_loop *l, unsigned i)
{
	struct slot *s = &l->slots[i];

	reserve(l, 2);
	struct io_uring_sqe *sqe = get_sqe(l);
	io_uring_prep_send(sqe, (int)i, conn_tx(l, i) + s->tx_off, s->tx_len - s->tx_off, MSG_NOSIGNAL);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_LINK;
	sqe->user_data = ud_make(OP_SEND, i, s->gen);
	s->pending++;
	link_timeout(l, i);
}

int conn_send(struct conn_loop *l, unsigned slot, size_t len)
{
	struct slot *s = &l->slots[slot];

	if (slot >= l->n_slots || s->state != SLOT_OPEN || s->op || !len || len > l->tx_size)
		return -EINVAL;
	s->op = OP_SEND;
	s->tx_len = (uint32_t)len;
	s->tx_off = 0;
	queue_send(l, slot);
	return 0;
}

int conn_recv(struct conn_loop *l, unsigned slot)
{
	struct slot *s = &l->slots[slot];

	if (slot >= l->n_slots || s->state != SLOT_OPEN || s->op)
		return -EINVAL;
	s->op = OP_RECV;
	reserve(l, 2);
	struct io_uring_sqe *sqe = get_sqe(l);
	io_uring_prep_recv(sqe, (int)slot, l->rx + (size_t)slot * l->rx_size, l->rx_size, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_LINK;
	sqe->user_data = ud_make(OP_RECV, slot, s->gen);
	s->pending++;
	link_timeout(l, slot);
	return 0;
}

static void slot_release(struct conn_loop *l, unsigned i)
{
	l->slots[i].state = SLOT_FREE;
	l->free_stack[l->n_free++] = i;
}

void conn_close(struct conn_loop *l, unsigned slot)
{
	struct slot *s = &l->slots[slot];

	if (slot >= l->n_slots || s->state != SLOT_OPEN)
		return;
	s->state = SLOT_CLOSING;
	reserve(l, 2);
	if (s->op) {
		/* Still waiting for an operation (a stop, or the caller lost interest): cancel it
		 * rather than wait for its deadline. */
		struct io_uring_sqe *sqe = get_sqe(l);
		io_uring_prep_cancel64(sqe, ud_make((enum op)s->op, slot, s->gen), 0);
		sqe->user_data = ud_make(OP_CANCEL, slot, s->gen);
		s->pending++;
		s->op = 0;
	}
	struct io_uring_sqe *sqe = get_sqe(l);
	io_uring_prep_close_direct(sqe, slot);
	sqe->user_data = ud_make(OP_CLOSE, slot, s->gen);
	s->pending++;
}

int conn_poll_fd(struct conn_loop *l, int fd, unsigned mask, unsigned tag)
{
	struct io_uring_sqe *sqe = get_sqe(l);

	io_uring_prep_poll_add(sqe, fd, mask);
	sqe->user_data = ud_make(OP_POLL, tag & 0x0fffffffu, 0);
	return 0;
}

void conn_poll_cancel(struct conn_loop *l, unsigned tag)
{
	struct io_uring_sqe *sqe = get_sqe(l);

	io_uring_prep_poll_remove(sqe, ud_make(OP_POLL, tag & 0x0fffffffu, 0));
	sqe->user_data = ud_make(OP_CANCEL, 0x0fffffffu, 0); /* no slot: ignored when it completes */
}

/* A link timeout that fired shows as -ECANCELED on the request it guarded. */
static int as_timeout(int res)
{
	return res == -ECANCELED ? -ETIMEDOUT : res;
}

static void complete(struct conn_loop *l, uint64_t ud, int res)
{
	enum op op = (enum op)(ud & 15);
	unsigned i = (unsigned)((ud >> 4) & 0x0fffffffu);
	uint32_t gen = (uint32_t)(ud >> 32);

	if (op == OP_POLL) {
		l->cb(l->ctx, i, CONN_EV_POLL, res);
		return;
	}
	if (i >= l->n_slots)
		return;
	struct slot *s = &l->slots[i];
	if (s->gen != gen || s->state == SLOT_FREE)
		return; /* cannot happen: slots wait for all their completions */
	s->pending--;
	bool deliver = s->state == SLOT_OPEN && s->op == op;
	switch (op) {
	case OP_SOCKET:
		if (res < 0)
			s->sock_err = res;
		break;
	case OP_CONNECT:
		if (deliver) {
			s->op = 0;
			l->cb(l->ctx, i, CONN_EV_CONNECTED, s->sock_err ? s->sock_err : as_timeout(res));
		}
		break;
	case OP_SEND:
		if (!deliver)
			break;
		if (res > 0 && s->tx_off + (uint32_t)res < s->tx_len) {
			s->tx_off += (uint32_t)res;
			queue_send(l, i);
			break;
		}
		s->op = 0;
		l->cb(l->ctx, i, CONN_EV_SENT, res > 0 ? (int)s->tx_len : res == 0 ? -EPIPE : as_timeout(res));
		break;
	case OP_RECV:
		if (deliver) {
			s->op = 0;
			l->cb(l->ctx, i, CONN_EV_RECEIVED, as_timeout(res));
		}
		break;
	default:
		break;
	}
	if (s->state == SLOT_CLOSING && s->pending == 0)
		slot_release(l, i);
}

int conn_loop_run(struct conn_loop *l, uint64_t wait_ns)
{
	struct __kernel_timespec ts = { .tv_sec = (long long)(wait_ns / 1000000000u),
					.tv_nsec = (long long)(wait_ns % 1000000000u) };
	struct io_uring_cqe *cqe;
	int rc;

	rc = io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
	l->unsubmitted = 0;
	if (rc < 0 && rc != -ETIME && rc != -EINTR)
		return rc;
	int handled = 0;
	/* Completions may queue new requests (which only touch the SQ ring): drain in passes. */
	for (;;) {
		unsigned head, n = 0;
		struct io_uring_cqe *batch[256];
		io_uring_for_each_cqe(&l->ring, head, cqe) {
			batch[n++] = cqe;
			if (n == 256)
				break;
		}
		if (!n)
			break;
		uint64_t uds[256];
		int res[256];
		for (unsigned k = 0; k < n; k++) {
			uds[k] = batch[k]->user_data;
			res[k] = batch[k]->res;
		}
		io_uring_cq_advance(&l->ring, n);
		for (unsigned k = 0; k < n; k++)
			complete(l, uds[k], res[k]);
		handled += (int)n;
	}
	return handled;
}
