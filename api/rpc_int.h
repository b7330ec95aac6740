/* SPDX-License-Identifier: MIT */
/* rpc_int.h: the RPC layer's private parts: message framing, output buffers, the per-connection
 * decoder and dispatcher shared by the server, the client and the fuzz target. */
#ifndef LNMT_RPC_INT_H
#define LNMT_RPC_INT_H

#include "rpc.h"

#include <msgpack.h>
#include <msgpack/unpack_define.h> /* MSGPACK_EMBED_STACK_SIZE */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Nesting accepted in a message: exactly what msgpack-c's decoder allows (it refuses a container
 * opened when MSGPACK_EMBED_STACK_SIZE are already open), so a message the framer passes always
 * decodes and a deeper one is refused before the decoder sees it.
 */
#define RPC_MAX_DEPTH 32
#define RPC_MAX_METHOD_NAME 128     /* bytes in a method name */
#define RPC_MAX_TOPICS 8            /* subscriptions per connection */
#define RPC_TOPIC_LEN 32            /* bytes in a topic, including the NUL */
#define RPC_MAX_RESPONSE (64u << 20)          /* one response; larger -> RPC_E_INTERNAL */
#define RPC_CLIENT_MAX_MESSAGE (256u << 20)   /* largest message the client accepts */
#define RPC_NOTIFY_QUEUE_MAX 65536u           /* notifications queued for the server thread */
#define RPC_NOTIFY_QUEUE_BYTES (64u << 20)
#define RPC_CLIENT_QUEUE_MAX 4096u            /* messages rpc_call() keeps for rpc_recv() */
#define RPC_CLIENT_QUEUE_BYTES (16u << 20)

_Static_assert(RPC_MAX_DEPTH <= MSGPACK_EMBED_STACK_SIZE, "framer must not pass what msgpack-c refuses");

/* ---- framing (rpc_scan.c) ---- */

/*
 * Finds where one MessagePack object ends without decoding it, so nothing is allocated for a
 * message before all of it has arrived and its size and depth are known to be acceptable
 * (msgpack-c allocates a container's elements as soon as it reads the header: an array32
 * header announcing 4 billion elements would otherwise cost 64 GB up front). Resumable: call
 * again with the same buffer start and more bytes; the state remembers the items it passed.
 */
struct rpc_scan {
	size_t pos;                  /* bytes of the message passed so far */
	unsigned depth;              /* containers open */
	uint64_t left[RPC_MAX_DEPTH]; /* items still expected in each open container */
};

enum { RPC_SCAN_MORE = 0, RPC_SCAN_DONE = 1 };

void rpc_scan_reset(struct rpc_scan *s);
/*
 * Scans buf[0, len), the start of one message. Returns RPC_SCAN_DONE when the message is
 * complete (it is buf[0, s->pos); reset before the next one), RPC_SCAN_MORE when more bytes are
 * needed, -EMSGSIZE when the message is or announces more than max bytes, -ELOOP when it nests
 * deeper than RPC_MAX_DEPTH, -EBADMSG on a byte that is not MessagePack (0xc1).
 */
int rpc_scan(struct rpc_scan *s, const char *buf, size_t len, size_t max);
/* True, with *msgid set, when buf starts like a request [0, msgid, ...] whose msgid is there. */
bool rpc_peek_msgid(const char *buf, size_t len, uint64_t *msgid);

/* ---- output buffer (rpc_conn.c) ---- */

/* Bytes data[off, len) are unsent; appends fail (and set failed) past limit unsent bytes. */
struct rpc_buf {
	char *data;
	size_t off, len, cap;
	size_t limit;
	bool failed;
};

/* msgpack_packer write callback over a struct rpc_buf: 0, or -1 (failed set) when full. */
int rpc_buf_write(void *buf, const char *p, size_t n);
void rpc_buf_fini(struct rpc_buf *b);
static inline size_t rpc_buf_unsent(const struct rpc_buf *b)
{
	return b->len - b->off;
}

/* Input buffers: when fewer than slack bytes are free past len, *buf grows (doubling, from min,
 * never past max). 0, or -ENOMEM (the buffer is unchanged). */
int rpc_grow_input(char **buf, size_t *cap, size_t len, size_t slack, size_t min, size_t max);

/* ---- dispatch (rpc_conn.c) ---- */

/* What the connections of one server share; used by the server thread only. */
struct rpc_core {
	const struct rpc_method *methods;
	size_t n_methods;
	void *ctx;
	msgpack_zone zone;           /* the request being dispatched; cleared after each */
	struct rpc_server_stats stats; /* updated with relaxed atomics, read from any thread */
};

struct rpc_conn {
	struct rpc_core *core;
	int fd;                      /* -1: a detached connection (fuzzing): output is discarded */
	char *in;                    /* received bytes; a partial message starts at in[0] */
	size_t in_len, in_cap;
	struct rpc_scan scan;
	struct rpc_buf out;
	msgpack_packer pk;
	char topics[RPC_MAX_TOPICS][RPC_TOPIC_LEN];
	unsigned n_topics;
	uint32_t events;             /* epoll interest currently registered */
	bool closing;                /* reads no more; closed once its output is sent */
	bool dead;                   /* closed; freed at the end of the poll round */
	bool dirty;                  /* has new output to flush */
	struct rpc_conn *prev, *next; /* the server's connections, or its dead list */
};

#define RPC_STAT_ADD(core, field, n) __atomic_fetch_add(&(core)->stats.field, (n), __ATOMIC_RELAXED)

int rpc_core_init(struct rpc_core *core, const struct rpc_method *methods, size_t n, void *ctx);
void rpc_core_fini(struct rpc_core *core);

/* A connection over fd (owned from now on: rpc_conn_free closes it), or fd -1 for a detached
 * one. 0 or -ENOMEM. */
int rpc_conn_new(struct rpc_conn **out, struct rpc_core *core, int fd);
void rpc_conn_free(struct rpc_conn *c);

/* Room to receive into: 0 with *p and *avail (at least 1 byte), -ENOMEM, or -ENOBUFS when
 * the buffer is full (which cannot happen: the framer refuses a message before that). */
int rpc_conn_reserve(struct rpc_conn *c, char **p, size_t *avail);
/*
 * Decodes and dispatches every complete message in c->in, queueing the responses in order, then
 * keeps the partial rest. Returns 0; -ENOBUFS when the client must be dropped now (its unsent
 * output is past RPC_MAX_BACKLOG, or memory ran out); or -EMSGSIZE, -EBADMSG, -ELOOP, -EPROTO
 * when the input was bad: the final error reply is queued and the connection must read no more
 * and be closed once its output is sent.
 */
int rpc_conn_process(struct rpc_conn *c);
/* Copies len bytes into the connection as if received, in slices, processing after each;
 * the fuzz target's entry point. Returns as rpc_conn_process; once closing, ignores the rest.
 * The output stays in c->out for the caller (a detached connection's is discarded only when
 * it passes RPC_MAX_BACKLOG or by rpc_conn_flush). */
int rpc_conn_feed(struct rpc_conn *c, const void *data, size_t len);
/* Queues ready-made bytes (a notification). 0, or -ENOBUFS: the client must be dropped. */
int rpc_conn_queue(struct rpc_conn *c, const void *data, size_t len);
bool rpc_conn_subscribed(const struct rpc_conn *c, const char *topic);
/* Sends what it can without blocking: 0 when all is sent, 1 when some is left (wait for
 * EPOLLOUT), -errno when the peer is gone. */
int rpc_conn_flush(struct rpc_conn *c);

#endif
