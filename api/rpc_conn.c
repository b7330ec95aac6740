/* SPDX-License-Identifier: MIT */
/* rpc_conn.c: one connection's decoding, dispatch and output queue, apart from the socket loop. */
#include "rpc_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define IN_MIN (16u << 10)                      /* first receive buffer */
#define IN_MAX (RPC_MAX_MESSAGE + (64u << 10))  /* a whole message always fits */
#define IN_SLACK (4u << 10)                     /* grow when less room than this is left */
#define IN_KEEP (64u << 10)                     /* an emptied buffer larger than this is freed */
#define OUT_KEEP (256u << 10)                   /* so is a drained output buffer */

int rpc_buf_write(void *data, const char *p, size_t n)
{
	struct rpc_buf *b = data;

	if (b->failed)
		return -1;
	if (n > b->limit || rpc_buf_unsent(b) > b->limit - n)
		goto fail;
	if (b->cap - b->len < n && b->off > 0) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 4096;
		char *d;

		while (cap - b->len < n)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d)
			goto fail;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
fail:
	b->failed = true;
	return -1;
}

void rpc_buf_fini(struct rpc_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}

int rpc_core_init(struct rpc_core *core, const struct rpc_method *methods, size_t n, void *ctx)
{
	memset(core, 0, sizeof(*core));
	core->methods = methods;
	core->n_methods = n;
	core->ctx = ctx;
	if (!msgpack_zone_init(&core->zone, MSGPACK_ZONE_CHUNK_SIZE))
		return -ENOMEM;
	return 0;
}

void rpc_core_fini(struct rpc_core *core)
{
	if (core)
		msgpack_zone_destroy(&core->zone);
}

int rpc_conn_new(struct rpc_conn **out, struct rpc_core *core, int fd)
{
	struct rpc_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->core = core;
	c->fd = fd;
	/* Before each reply the backlog is checked against RPC_MAX_BACKLOG; this bound only keeps
	 * one response (and the notifications between checks) from growing without end. */
	c->out.limit = RPC_MAX_BACKLOG + RPC_MAX_RESPONSE;
	msgpack_packer_init(&c->pk, &c->out, rpc_buf_write);
	*out = c;
	return 0;
}

void rpc_conn_free(struct rpc_conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	rpc_buf_fini(&c->out);
	free(c);
}

int rpc_grow_input(char **buf, size_t *cap, size_t len, size_t slack, size_t min, size_t max)
{
	if (*cap - len >= slack || *cap >= max)
		return 0;
	size_t n = *cap ? *cap * 2 : min;
	if (n > max)
		n = max;
	char *b = realloc(*buf, n);
	if (!b)
		return -ENOMEM;
	*buf = b;
	*cap = n;
	return 0;
}

int rpc_conn_reserve(struct rpc_conn *c, char **p, size_t *avail)
{
	int rc = rpc_grow_input(&c->in, &c->in_cap, c->in_len, IN_SLACK, IN_MIN, IN_MAX);
	if (rc)
		return rc;
	if (c->in_cap == c->in_len)
		return -ENOBUFS; /* cannot happen: the framer refuses a message before this */
	*p = c->in + c->in_len;
	*avail = c->in_cap - c->in_len;
	return 0;
}

int rpc_conn_flush(struct rpc_conn *c)
{
	struct rpc_buf *b = &c->out;

	c->dirty = false;
	if (c->fd < 0) {
		b->off = b->len = 0;
		return 0;
	}
	while (b->off < b->len) {
		ssize_t n = send(c->fd, b->data + b->off, b->len - b->off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			return -errno;
		}
		b->off += (size_t)n;
	}
	b->off = b->len = 0;
	if (b->cap > OUT_KEEP)
		rpc_buf_fini(b);
	return 0;
}

/* True when the connection may queue more output: its backlog is under RPC_MAX_BACKLOG,
 * if need be after sending what the socket takes now. */
static bool backlog_ok(struct rpc_conn *c)
{
	if (rpc_buf_unsent(&c->out) <= RPC_MAX_BACKLOG)
		return true;
	if (rpc_conn_flush(c) < 0)
		return false;
	return rpc_buf_unsent(&c->out) <= RPC_MAX_BACKLOG;
}

int rpc_conn_queue(struct rpc_conn *c, const void *data, size_t len)
{
	if (!backlog_ok(c))
		return -ENOBUFS;
	if (rpc_buf_write(&c->out, data, len)) {
		c->out.failed = false;
		return -ENOBUFS;
	}
	c->dirty = true;
	return 0;
}

/* Queues [1, msgid, [code, message], nil]. 0, or -ENOBUFS when even that does not fit. */
__attribute__((format(printf, 4, 5)))
static int reply_error(struct rpc_conn *c, uint64_t msgid, int code, const char *fmt, ...)
{
	char msg[320];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	msgpack_pack_array(&c->pk, 4);
	msgpack_pack_uint8(&c->pk, 1);
	msgpack_pack_uint64(&c->pk, msgid);
	msgpack_pack_array(&c->pk, 2);
	msgpack_pack_int(&c->pk, code);
	msgpack_pack_str_with_body(&c->pk, msg, (size_t)n);
	msgpack_pack_nil(&c->pk);
	RPC_STAT_ADD(c->core, errors, 1);
	c->dirty = true;
	if (c->out.failed) {
		c->out.failed = false;
		return -ENOBUFS;
	}
	return 0;
}

/* A fatal input error: answer with the msgid when the message shows it, then read no more. */
static int fail_conn(struct rpc_conn *c, const char *msg, size_t len, int err, int code, const char *what)
{
	uint64_t msgid = 0;

	rpc_peek_msgid(msg, len, &msgid);
	c->closing = true;
	if (!backlog_ok(c) || reply_error(c, msgid, code, "%s; closing the connection", what))
		return -ENOBUFS;
	return err;
}

/* Copies a client-supplied name for an error message, with non-printable bytes as '?'. */
static void printable(char *dst, size_t dstlen, const char *src, size_t n)
{
	size_t i;

	for (i = 0; i < n && i + 1 < dstlen; i++)
		dst[i] = isprint((unsigned char)src[i]) ? src[i] : '?';
	dst[i] = '\0';
}

static const struct rpc_method *find_method(const struct rpc_core *core, const char *name, size_t n)
{
	for (size_t i = 0; i < core->n_methods; i++) {
		const char *m = core->methods[i].name;

		if (strncmp(m, name, n) == 0 && m[n] == '\0')
			return &core->methods[i];
	}
	return NULL;
}

static int dispatch(struct rpc_conn *c, uint64_t msgid, const struct rpc_method *m, const msgpack_object *params)
{
	struct rpc_buf *b = &c->out;
	struct rpc_reply r = { .pk = &c->pk };
	size_t mark = rpc_buf_unsent(b), result_at;
	size_t limit = b->limit;
	bool too_big;

	/* Marks count unsent bytes, which stay put when the buffer compacts itself. */
	b->limit = mark + RPC_MAX_RESPONSE;
	msgpack_pack_array(&c->pk, 4);
	msgpack_pack_uint8(&c->pk, 1);
	msgpack_pack_uint64(&c->pk, msgid);
	msgpack_pack_nil(&c->pk);
	result_at = rpc_buf_unsent(b);
	m->fn(c->core->ctx, c, params, &r);
	if (!r.error_code && !b->failed && rpc_buf_unsent(b) == result_at)
		msgpack_pack_nil(&c->pk); /* the method packed nothing: result nil */
	b->limit = limit;
	c->dirty = true;
	if (!b->failed && !r.error_code)
		return 0;
	/* Take back what the method packed and answer with the error instead. */
	too_big = b->failed;
	b->failed = false;
	b->len = b->off + mark;
	if (too_big)
		return reply_error(c, msgid, RPC_E_INTERNAL, "%s: response over %u bytes or out of memory",
				   m->name, RPC_MAX_RESPONSE);
	r.error_message[sizeof(r.error_message) - 1] = '\0';
	return reply_error(c, msgid, r.error_code, "%s", r.error_message);
}

/* One complete message: msg[0, len), known to decode within RPC_MAX_DEPTH. */
static int handle(struct rpc_conn *c, const char *msg, size_t len)
{
	struct rpc_core *core = c->core;
	const msgpack_object *e, *params;
	const struct rpc_method *m;
	msgpack_object o;
	uint64_t msgid;
	size_t off = 0;
	char name[RPC_MAX_METHOD_NAME + 1];
	const char *mp;
	size_t mn;
	int rc;

	switch (msgpack_unpack(msg, len, &off, &core->zone, &o)) {
	case MSGPACK_UNPACK_SUCCESS:
		break;
	case MSGPACK_UNPACK_NOMEM_ERROR:
		rc = fail_conn(c, msg, len, -ENOBUFS, RPC_E_INTERNAL, "out of memory decoding a message");
		goto out;
	default:
		rc = fail_conn(c, msg, len, -EBADMSG, RPC_E_PARSE, "malformed MessagePack");
		goto out;
	}
	if (o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size < 1 ||
	    o.via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    o.via.array.ptr[0].via.u64 > 2) {
		rc = fail_conn(c, msg, len, -EPROTO, RPC_E_INVALID,
			       "not an RPC message: [0, msgid, method, params] expected");
		goto out;
	}
	e = o.via.array.ptr;
	if (e[0].via.u64 != 0) {
		/* Notifications (and responses) from a client need no answer. */
		rc = 0;
		goto out;
	}
	if (o.via.array.size < 2 || e[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		rc = fail_conn(c, msg, len, -EPROTO, RPC_E_INVALID, "a request without a msgid");
		goto out;
	}
	msgid = e[1].via.u64;
	RPC_STAT_ADD(core, requests, 1);
	if (!backlog_ok(c)) {
		rc = -ENOBUFS;
		goto out;
	}
	if (o.via.array.size != 4) {
		rc = reply_error(c, msgid, RPC_E_INVALID, "a request has 4 elements, not %u", o.via.array.size);
		goto out;
	}
	if (e[2].type == MSGPACK_OBJECT_STR) {
		mp = e[2].via.str.ptr, mn = e[2].via.str.size;
	} else if (e[2].type == MSGPACK_OBJECT_BIN) {
		mp = e[2].via.bin.ptr, mn = e[2].via.bin.size;
	} else {
		rc = reply_error(c, msgid, RPC_E_INVALID, "the method name must be a string");
		goto out;
	}
	if (mn == 0)
		mp = ""; /* msgpack-c leaves an empty string's pointer NULL */
	if (mn > RPC_MAX_METHOD_NAME) {
		rc = reply_error(c, msgid, RPC_E_INVALID, "method name longer than %d bytes", RPC_MAX_METHOD_NAME);
		goto out;
	}
	params = &e[3];
	if (params->type != MSGPACK_OBJECT_ARRAY) {
		rc = reply_error(c, msgid, RPC_E_INVALID, "params must be an array");
		goto out;
	}
	m = memchr(mp, '\0', mn) ? NULL : find_method(core, mp, mn);
	if (!m) {
		printable(name, sizeof(name), mp, mn);
		rc = reply_error(c, msgid, RPC_E_NO_METHOD, "no method '%s'", name);
		goto out;
	}
	rc = dispatch(c, msgid, m, params);
out:
	msgpack_zone_clear(&core->zone);
	return rc;
}

int rpc_conn_process(struct rpc_conn *c)
{
	size_t start = 0;
	int rc = 0;

	while (!c->closing && start < c->in_len) {
		const char *msg = c->in + start;
		size_t avail = c->in_len - start, len;

		rc = rpc_scan(&c->scan, msg, avail, RPC_MAX_MESSAGE);
		if (rc == RPC_SCAN_MORE) {
			rc = 0;
			break;
		}
		if (rc == -EMSGSIZE) {
			rc = fail_conn(c, msg, avail, rc, RPC_E_TOO_LARGE, "message over RPC_MAX_MESSAGE bytes");
			break;
		}
		if (rc == -ELOOP) {
			rc = fail_conn(c, msg, avail, rc, RPC_E_PARSE, "message nested too deep");
			break;
		}
		if (rc < 0) {
			rc = fail_conn(c, msg, avail, rc, RPC_E_PARSE, "not MessagePack");
			break;
		}
		len = c->scan.pos;
		rpc_scan_reset(&c->scan);
		start += len;
		rc = handle(c, msg, len);
		if (rc < 0) {
			c->closing = true;
			break;
		}
	}
	if (c->closing) {
		/* Nothing after a fatal error is read. */
		start = c->in_len;
		rpc_scan_reset(&c->scan);
	}
	if (start > 0) {
		memmove(c->in, c->in + start, c->in_len - start);
		c->in_len -= start;
	}
	if (c->in_len == 0 && c->in_cap > IN_KEEP) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
	return rc;
}

int rpc_conn_feed(struct rpc_conn *c, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0 && !c->closing) {
		char *dst;
		size_t avail, n;
		int rc = rpc_conn_reserve(c, &dst, &avail);

		if (rc)
			return rc;
		n = len < avail ? len : avail;
		memcpy(dst, p, n);
		c->in_len += n;
		p += n;
		len -= n;
		rc = rpc_conn_process(c);
		if (rc)
			return rc;
	}
	return 0;
}

int rpc_conn_subscribe(struct rpc_conn *conn, const char *topic)
{
	size_t n;

	if (!conn || !topic || !*topic)
		return -EINVAL;
	n = strlen(topic);
	if (n >= RPC_TOPIC_LEN)
		return -ENAMETOOLONG;
	if (rpc_conn_subscribed(conn, topic))
		return 0;
	if (conn->n_topics == RPC_MAX_TOPICS)
		return -ENOSPC;
	memcpy(conn->topics[conn->n_topics++], topic, n + 1);
	return 0;
}

bool rpc_conn_subscribed(const struct rpc_conn *c, const char *topic)
{
	for (unsigned i = 0; i < c->n_topics; i++)
		if (strcmp(c->topics[i], topic) == 0)
			return true;
	return false;
}
