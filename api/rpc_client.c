/* SPDX-License-Identifier: MIT */
/* rpc_client.c: the blocking MessagePack-RPC client (CLI, tests, bench) and the default socket path. */
#include "rpc_int.h"

#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define IN_MIN (64u << 10)
#define IN_MAX (RPC_CLIENT_MAX_MESSAGE + (64u << 10))
#define OUT_FLUSH (64u << 10) /* rpc_send() sends once this much is waiting */

/* A message rpc_call() received for someone else: kept for rpc_recv(). */
struct qmsg {
	struct qmsg *next;
	size_t len;
	char data[];
};

struct rpc_client {
	int fd;
	int timeout_ms;
	uint32_t next_msgid;
	char *in;                    /* received: in[in_off, in_len) not yet returned */
	size_t in_off, in_len, in_cap;
	struct rpc_scan scan;        /* over in + in_off */
	struct rpc_buf out;
	msgpack_packer pk;
	struct qmsg *q_head, **q_tail;
	size_t q_len, q_bytes;
	uint64_t dropped;
	bool broken;                 /* the server stopped reading: nothing more can be sent */
};

char *rpc_default_socket(char *buf, size_t len)
{
	const char *env = getenv("LNMT_SOCKET");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (!buf || !len)
		return NULL;
	if (env && *env)
		n = snprintf(buf, len, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(buf, len, "/run/lnmt/lnmt.sock");
	else if (xdg && *xdg)
		n = snprintf(buf, len, "%s/lnmt.sock", xdg);
	else
		n = snprintf(buf, len, "/tmp/lnmt-%u.sock", (unsigned)geteuid());
	return n < 0 || (size_t)n >= len ? NULL : buf;
}

int rpc_client_connect(struct rpc_client **out, const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char def[sizeof(addr.sun_path)];
	struct rpc_client *c;
	int rc;

	if (!out)
		return -EINVAL;
	if (!path && !(path = rpc_default_socket(def, sizeof(def))))
		return -ENAMETOOLONG;
	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->timeout_ms = -1;
	c->next_msgid = 1;
	c->q_tail = &c->q_head;
	c->out.limit = SIZE_MAX / 2;
	msgpack_packer_init(&c->pk, &c->out, rpc_buf_write);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		rc = -errno;
		goto fail_free;
	}
	/* Blocking connect (a full backlog makes it wait rather than fail), then non-blocking
	 * I/O so every wait is a poll() with the caller's timeout. */
	while (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		if (errno != EINTR) {
			rc = -errno;
			goto fail_close;
		}
	}
	if (fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0) {
		rc = -errno;
		goto fail_close;
	}
	*out = c;
	return 0;
fail_close:
	close(c->fd);
fail_free:
	free(c);
	return rc;
}

/* ---- why a connect was refused ---- */

static void group_name(gid_t gid, char *buf, size_t len)
{
	struct group gr, *res = NULL;
	char tmp[4096];

	if (getgrgid_r(gid, &gr, tmp, sizeof(tmp), &res) == 0 && res)
		snprintf(buf, len, "%s", gr.gr_name);
	else
		snprintf(buf, len, "gid %u", (unsigned)gid);
}

static bool gid_in(gid_t gid, const gid_t *v, int n)
{
	for (int i = 0; i < n; i++)
		if (v[i] == gid)
			return true;
	return false;
}

/* Whether this process has gid among its groups. */
static bool process_in_group(gid_t gid)
{
	int n = getgroups(0, NULL);
	gid_t *v = n > 0 ? calloc((size_t)n, sizeof(*v)) : NULL;
	bool in = getegid() == gid;

	if (v && (n = getgroups(n, v)) > 0)
		in = in || gid_in(gid, v, n);
	free(v);
	return in;
}

/* Whether the group database lists this user in gid (true also when the login predates it). */
static bool user_listed_in_group(gid_t gid)
{
	struct passwd pw, *res = NULL;
	char tmp[4096];
	int n = 64;
	bool in = false;

	if (getpwuid_r(geteuid(), &pw, tmp, sizeof(tmp), &res) || !res)
		return false;
	for (int attempt = 0; attempt < 2 && !in; attempt++) {
		gid_t *v = calloc((size_t)n, sizeof(*v));
		if (!v)
			return false;
		int got = n;
		if (getgrouplist(pw.pw_name, pw.pw_gid, v, &got) >= 0) {
			in = gid_in(gid, v, got);
			attempt = 2; /* it fitted */
		} else {
			n = got; /* the size it needs */
		}
		free(v);
	}
	return in;
}

char *rpc_connect_error(int rc, const char *path, char *buf, size_t len)
{
	char obj[PATH_MAX], grp[64];
	struct stat st;
	bool found = false, is_dir = false;

	if (rc != -EACCES) {
		snprintf(buf, len, "%s: %s", path, strerror(rc < 0 ? -rc : rc));
		return buf;
	}
	/* What refused us: the socket's own mode, or a directory on the way we may not search. */
	snprintf(obj, sizeof(obj), "%s", path);
	if (stat(path, &st) == 0) {
		found = true;
	} else if (errno == EACCES) {
		for (char *p = strchr(obj + 1, '/'); p && !found; p = strchr(p + 1, '/')) {
			*p = '\0';
			if (faccessat(AT_FDCWD, obj, X_OK, AT_EACCESS) != 0 && errno == EACCES && stat(obj, &st) == 0)
				found = is_dir = true;
			else
				*p = '/';
		}
	}
	if (!found) {
		snprintf(buf, len, "permission denied on %s", path);
		return buf;
	}
	group_name(st.st_gid, grp, sizeof(grp));
	if (process_in_group(st.st_gid))
		snprintf(buf, len, "permission denied on %s (%s is mode %04o, group %s)", path, obj,
			 (unsigned)(st.st_mode & 07777), grp);
	else if (user_listed_in_group(st.st_gid))
		snprintf(buf, len, "permission denied on %s: your user is in group %s, but this login is not yet "
			 "(log in again)", path, grp);
	else
		snprintf(buf, len, "permission denied on %s: your user is not in group %s%s%s%s", path, grp,
			 is_dir ? " (the group of " : "", is_dir ? obj : "", is_dir ? ")" : "");
	return buf;
}

void rpc_client_set_timeout(struct rpc_client *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
}

uint64_t rpc_client_dropped(const struct rpc_client *c)
{
	return c->dropped;
}

static void flush_best_effort(struct rpc_client *c)
{
	while (c->out.off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out.off, c->out.len - c->out.off, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		c->out.off += (size_t)n;
	}
}

int rpc_client_fd(const struct rpc_client *c)
{
	return c->fd;
}

void rpc_client_close(struct rpc_client *c)
{
	struct qmsg *m;

	if (!c)
		return;
	flush_best_effort(c);
	close(c->fd);
	while ((m = c->q_head)) {
		c->q_head = m->next;
		free(m);
	}
	free(c->in);
	rpc_buf_fini(&c->out);
	free(c);
}

/* Milliseconds left until deadline_ns (0: none -> -1, forever). */
static int left_ms(uint64_t deadline_ns)
{
	uint64_t now;

	if (!deadline_ns)
		return -1;
	now = clock_now_ns();
	if (now >= deadline_ns)
		return 0;
	return (int)((deadline_ns - now + 999999) / 1000000);
}

static uint64_t deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? 0 : clock_now_ns() + (uint64_t)timeout_ms * 1000000u + 1;
}

/* Room for at least some bytes after in_len: compacts, then grows up to IN_MAX. */
static int in_reserve(struct rpc_client *c)
{
	if (c->in_off > 0 && (c->in_off == c->in_len || c->in_cap - c->in_len < 4096)) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	int rc = rpc_grow_input(&c->in, &c->in_cap, c->in_len, 4096, IN_MIN, IN_MAX);
	if (rc)
		return rc;
	return c->in_cap > c->in_len ? 0 : -EMSGSIZE;
}

/* Reads what is there without blocking: 0 (maybe nothing), -ECONNRESET at end of stream. */
static int in_read(struct rpc_client *c)
{
	ssize_t n;
	int rc = in_reserve(c);

	if (rc)
		return rc;
	n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
	if (n > 0) {
		c->in_len += (size_t)n;
		return 0;
	}
	if (n == 0)
		return -ECONNRESET;
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
}

/* Sends everything queued; while the socket is full it also takes in what arrives, so a
 * server that waits for us to read never deadlocks us. */
static int flush_out(struct rpc_client *c, uint64_t deadline)
{
	struct rpc_buf *b = &c->out;

	while (b->off < b->len) {
		ssize_t n = send(c->fd, b->data + b->off, b->len - b->off, MSG_NOSIGNAL);
		struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
		int rc;

		if (n > 0) {
			b->off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
			/* What the server said before it stopped reading (an error about this very
			 * request, say) may still be waiting to be read: the reads report the end. */
			c->broken = true;
			break;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if (c->in_len - c->in_off < IN_MAX / 2)
			pfd.events |= POLLIN;
		rc = poll(&pfd, 1, left_ms(deadline));
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc == 0)
			return -ETIMEDOUT;
		if (rc > 0 && (pfd.revents & POLLIN)) {
			rc = in_read(c);
			if (rc && rc != -ECONNRESET)
				return rc;
		}
	}
	b->off = b->len = 0;
	if (b->cap > (1u << 20))
		rpc_buf_fini(b);
	return 0;
}

/* The next whole message: *msg (valid until the next read) and *len. Sends what is queued
 * before it waits. 0, -ETIMEDOUT, -ECONNRESET (server closed), -EPROTO, -EMSGSIZE, -errno. */
static int next_raw(struct rpc_client *c, uint64_t deadline, const char **msg, size_t *len)
{
	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		size_t unread;
		int rc;

		if (c->in_len > c->in_off) {
			rc = rpc_scan(&c->scan, c->in + c->in_off, c->in_len - c->in_off, RPC_CLIENT_MAX_MESSAGE);
			if (rc == RPC_SCAN_DONE) {
				*msg = c->in + c->in_off;
				*len = c->scan.pos;
				c->in_off += c->scan.pos;
				rpc_scan_reset(&c->scan);
				return 0;
			}
			if (rc < 0)
				return rc == -EMSGSIZE ? rc : -EPROTO;
		}
		rc = flush_out(c, deadline);
		if (rc)
			return rc;
		unread = c->in_len - c->in_off;
		rc = in_read(c);
		if (rc)
			return rc;
		if (c->in_len - c->in_off > unread)
			continue; /* new bytes: scan them */
		rc = poll(&pfd, 1, left_ms(deadline));
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc == 0)
			return -ETIMEDOUT;
	}
}

/* Decodes a copy of msg into a new zone (the objects point into it). */
static int decode(const char *msg, size_t len, msgpack_zone **zone, msgpack_object *o)
{
	msgpack_zone *z = msgpack_zone_new(len + 1024 > MSGPACK_ZONE_CHUNK_SIZE ? len + 1024 : MSGPACK_ZONE_CHUNK_SIZE);
	char *copy;
	size_t off = 0;

	if (!z)
		return -ENOMEM;
	copy = msgpack_zone_malloc_no_align(z, len);
	if (!copy)
		goto nomem;
	memcpy(copy, msg, len);
	switch (msgpack_unpack(copy, len, &off, z, o)) {
	case MSGPACK_UNPACK_SUCCESS:
		*zone = z;
		return 0;
	case MSGPACK_UNPACK_NOMEM_ERROR:
		goto nomem;
	default:
		msgpack_zone_free(z);
		return -EPROTO;
	}
nomem:
	msgpack_zone_free(z);
	return -ENOMEM;
}

static void copy_str(char *dst, size_t dstlen, const char *p, size_t n)
{
	if (!dst || !dstlen)
		return;
	if (n >= dstlen)
		n = dstlen - 1;
	if (n) /* msgpack-c leaves an empty string's pointer NULL */
		memcpy(dst, p, n);
	dst[n] = '\0';
}

/* The error element of a response: 0 for nil, else a code (RPC_E_INTERNAL when the server
 * did not give one) and its message. */
static int error_of(const msgpack_object *e, char *err, size_t errlen)
{
	int code = RPC_E_INTERNAL;

	copy_str(err, errlen, "", 0);
	if (e->type == MSGPACK_OBJECT_NIL)
		return 0;
	if (e->type == MSGPACK_OBJECT_STR) {
		copy_str(err, errlen, e->via.str.ptr, e->via.str.size);
		return code;
	}
	if (e->type == MSGPACK_OBJECT_ARRAY && e->via.array.size >= 1) {
		const msgpack_object *x = e->via.array.ptr;

		if (x[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER && x[0].via.u64 > 0 && x[0].via.u64 <= 0x7fffffff)
			code = (int)x[0].via.u64;
		if (e->via.array.size >= 2 && x[1].type == MSGPACK_OBJECT_STR)
			copy_str(err, errlen, x[1].via.str.ptr, x[1].via.str.size);
		return code;
	}
	copy_str(err, errlen, "error of an unexpected type", 27);
	return code;
}

/* Checks the shape: response [1, msgid, error, result] or notification [2, method, params]. */
static int classify(const msgpack_object *o, int *type, uint64_t *msgid)
{
	const msgpack_object *e;

	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 3)
		return -EPROTO;
	e = o->via.array.ptr;
	if (e[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return -EPROTO;
	if (e[0].via.u64 == 1 && o->via.array.size == 4 && e[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		*type = 1;
		*msgid = e[1].via.u64;
		return 0;
	}
	if (e[0].via.u64 == 2 && o->via.array.size == 3 && e[1].type == MSGPACK_OBJECT_STR) {
		*type = 2;
		*msgid = 0;
		return 0;
	}
	return -EPROTO;
}

int64_t rpc_send(struct rpc_client *c, const char *method, rpc_pack_fn pack_params, void *arg)
{
	size_t mark;
	uint32_t msgid;

	if (!c || !method)
		return -EINVAL;
	if (c->broken)
		return -ECONNRESET;
	mark = rpc_buf_unsent(&c->out);
	msgid = c->next_msgid++;
	if (c->next_msgid == 0 || c->next_msgid > INT32_MAX)
		c->next_msgid = 1; /* msgid 0 is the server's "no msgid known" */
	msgpack_pack_array(&c->pk, 4);
	msgpack_pack_uint8(&c->pk, 0);
	msgpack_pack_uint32(&c->pk, msgid);
	rpc_pack_str(&c->pk, method);
	if (pack_params)
		pack_params(arg, &c->pk);
	else
		msgpack_pack_array(&c->pk, 0);
	if (c->out.failed) {
		c->out.failed = false;
		c->out.len = c->out.off + mark;
		return -ENOMEM;
	}
	if (rpc_buf_unsent(&c->out) >= OUT_FLUSH) {
		int rc = flush_out(c, deadline_of(c->timeout_ms));

		if (rc)
			return rc;
	}
	return msgid;
}

/* Keeps a message for rpc_recv(), or counts it as dropped when too many wait. */
static void keep(struct rpc_client *c, const char *msg, size_t len)
{
	struct qmsg *m;

	if (c->q_len >= RPC_CLIENT_QUEUE_MAX || c->q_bytes + len > RPC_CLIENT_QUEUE_BYTES ||
	    !(m = malloc(sizeof(*m) + len))) {
		c->dropped++;
		return;
	}
	m->next = NULL;
	m->len = len;
	memcpy(m->data, msg, len);
	*c->q_tail = m;
	c->q_tail = &m->next;
	c->q_len++;
	c->q_bytes += len;
}

int rpc_call(struct rpc_client *c, const char *method, rpc_pack_fn pack_params, void *arg,
	     msgpack_zone **zone, msgpack_object *result, char *err, size_t errlen)
{
	uint64_t deadline = deadline_of(c->timeout_ms);
	int64_t id = rpc_send(c, method, pack_params, arg);

	if (id < 0)
		return (int)id;
	for (;;) {
		const char *msg;
		size_t len;
		msgpack_zone *z;
		msgpack_object o;
		uint64_t msgid;
		int type, rc = next_raw(c, deadline, &msg, &len);

		if (rc)
			return rc;
		rc = decode(msg, len, &z, &o);
		if (rc)
			return rc;
		rc = classify(&o, &type, &msgid);
		if (rc) {
			msgpack_zone_free(z);
			return rc;
		}
		/* msgid 0 is never ours: it is the server's answer to input it could not place,
		 * before it closes the connection. */
		if (type == 1 && (msgid == (uint64_t)id || msgid == 0)) {
			const msgpack_object *e = o.via.array.ptr;
			int code = error_of(&e[2], err, errlen);

			if (code || msgid == 0) {
				msgpack_zone_free(z);
				return code ? code : -EPROTO;
			}
			*zone = z;
			*result = e[3];
			return 0;
		}
		msgpack_zone_free(z);
		keep(c, msg, len);
	}
}

int rpc_recv(struct rpc_client *c, int timeout_ms, int *type, uint64_t *msgid, char *method, size_t method_len,
	     msgpack_zone **zone, msgpack_object *payload, int *error_code, char *err, size_t errlen)
{
	struct qmsg *m = c->q_head;
	const char *msg;
	size_t len;
	msgpack_zone *z;
	msgpack_object o;
	const msgpack_object *e;
	uint64_t id;
	int t, rc;

	if (m) {
		c->q_head = m->next;
		if (!c->q_head)
			c->q_tail = &c->q_head;
		c->q_len--;
		c->q_bytes -= m->len;
		rc = decode(m->data, m->len, &z, &o);
		free(m);
	} else {
		rc = next_raw(c, deadline_of(timeout_ms), &msg, &len);
		if (!rc)
			rc = decode(msg, len, &z, &o);
	}
	if (rc)
		return rc;
	rc = classify(&o, &t, &id);
	if (rc) {
		msgpack_zone_free(z);
		return rc;
	}
	e = o.via.array.ptr;
	*type = t;
	if (t == 1) {
		int code = error_of(&e[2], err, errlen);

		if (msgid)
			*msgid = id;
		if (error_code)
			*error_code = code;
		copy_str(method, method_len, "", 0);
		*payload = e[3];
	} else {
		if (msgid)
			*msgid = 0;
		if (error_code)
			*error_code = 0;
		copy_str(err, errlen, "", 0);
		copy_str(method, method_len, e[1].via.str.ptr, e[1].via.str.size);
		*payload = e[2];
	}
	*zone = z;
	return 0;
}
