/* SPDX-License-Identifier: MIT */
/*
 * rpc.h: MessagePack-RPC (https://github.com/msgpack-rpc/msgpack-rpc/blob/master/spec.md) over a
 * unix stream socket: request [0, msgid, method, params], response [1, msgid, error, result],
 * notification [2, method, params]. Any stock MessagePack-RPC client can talk to the server.
 *
 * Server: one thread runs an epoll loop over the listening socket and every connection (all
 * non-blocking). Requests on a connection may be pipelined; each is dispatched as soon as it is
 * complete and its response queued in order. A connection that sends more than RPC_MAX_MESSAGE
 * bytes in one message, malformed MessagePack, nesting deeper than the decoder allows, or lets
 * its unsent output grow past RPC_MAX_BACKLOG is answered with an error where that is possible
 * and closed; the others are never stalled by it. Methods run on the server thread and must not
 * block: long work (a sweep) runs elsewhere and reports back with rpc_server_notify().
 *
 * Errors are [code, message] arrays with the codes below, so clients can branch on them.
 * An error about input the server cannot tie to a request (bad framing, too large, not an RPC
 * message) carries the request's msgid when the bytes show it, else msgid 0, and the server
 * then closes the connection; the client below never uses msgid 0 for a request.
 */
#ifndef LNMT_RPC_H
#define LNMT_RPC_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RPC_MAX_MESSAGE (1u << 20)   /* largest request accepted, bytes */
#define RPC_MAX_BACKLOG (16u << 20)  /* unsent output a client may leave before it is dropped */
/* The backlog is checked when a reply or notification is due, so one response may be larger
 * than RPC_MAX_BACKLOG (up to 64 MB; beyond, the caller gets RPC_E_INTERNAL instead): list
 * methods should still page. */

/* Error codes (the first element of an error array); documented in api/RPC.md. */
enum rpc_error {
	RPC_E_PARSE = 1,          /* not MessagePack, or not an RPC message */
	RPC_E_INVALID = 2,        /* a message of the wrong shape: [0, msgid, method, params] expected */
	RPC_E_NO_METHOD = 3,      /* unknown method */
	RPC_E_BAD_PARAMS = 4,     /* params of the wrong type or a missing required one */
	RPC_E_TOO_LARGE = 5,      /* message over RPC_MAX_MESSAGE */
	RPC_E_NOT_FOUND = 6,      /* the thing named (device, sweep, job) does not exist */
	RPC_E_BUSY = 7,           /* e.g. too many sweeps running */
	RPC_E_INTERNAL = 8,       /* the server failed (store error, ...): message says what */
	RPC_E_MISSING_PARAM = 9,  /* a required param is absent (wrong types are RPC_E_BAD_PARAMS) */
};

struct rpc_server;
struct rpc_conn; /* one client connection; valid during a method call */

/*
 * A reply under construction. A method either packs exactly one result object with `pk`
 * (msgpack_pack_*), or calls rpc_reply_error() and packs nothing.
 */
struct rpc_reply {
	msgpack_packer *pk;
	int error_code;           /* set by rpc_reply_error */
	char error_message[256];
};

void rpc_reply_error(struct rpc_reply *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* params is the request's params array (type MSGPACK_OBJECT_ARRAY; may be empty). It and every
 * object in it live until the method returns (they point into the connection's input). */
typedef void (*rpc_method_fn)(void *ctx, struct rpc_conn *conn, const msgpack_object *params,
			      struct rpc_reply *reply);

struct rpc_method {
	const char *name;
	rpc_method_fn fn;
};

/*
 * Creates the listening socket at path (an existing stale socket file is replaced; a live one,
 * where a server answers, is refused with -EADDRINUSE; a file that is not a socket, -EEXIST)
 * with the given mode. methods is an array of n entries, borrowed for the server's lifetime;
 * ctx is passed to every method. Raises the soft RLIMIT_NOFILE (to the hard limit, at most
 * 65536) when it is under 4096. Other errors: -ENAMETOOLONG, -ENOMEM, -errno of the calls.
 * Everything below except rpc_server_wake, rpc_server_notify and rpc_server_stats is for the
 * thread that calls rpc_server_poll.
 */
int rpc_server_open(struct rpc_server **out, const char *path, unsigned mode,
		    const struct rpc_method *methods, size_t n, void *ctx);

/* The fd to wait on from another loop (epoll fd; readable when there is work), or run: */
int rpc_server_fd(const struct rpc_server *s);
/* Handles everything pending, waiting up to timeout_ms (0 = don't wait, -1 = forever).
 * 0 (also when interrupted by a signal) or -errno of epoll_wait. */
int rpc_server_poll(struct rpc_server *s, int timeout_ms);
/* Stops accepting new connections (shutdown): existing ones finish their queued replies. */
void rpc_server_stop_accepting(struct rpc_server *s);
/* Closes every connection (after sending what each socket takes without waiting) and the
 * socket, unlinks path if it is still the socket this server made. NULL is fine. */
void rpc_server_close(struct rpc_server *s);

/* Wakes a rpc_server_poll() blocked in another thread (e.g. after queuing a notification). */
void rpc_server_wake(struct rpc_server *s);

/*
 * Subscriptions: a connection subscribes to topics (strings such as "scan", "device");
 * rpc_server_notify() queues [2, method, params] to every subscriber of topic. pack_params
 * packs the params array (NULL: []); it runs in the caller's thread before rpc_server_notify
 * returns, so arg may be on the caller's stack. Thread-safe: may be called from any thread
 * (it is queued and sent by the server thread), until rpc_server_close() begins.
 * rpc_conn_subscribe: 0 (also when already subscribed), -EINVAL (empty), -ENAMETOOLONG
 * (topics are under 32 bytes), -ENOSPC (8 topics per connection). rpc_server_notify: 0,
 * -EINVAL, -ENAMETOOLONG, -ENOMEM, -ENOBUFS (65536 notifications or 64 MB already queued).
 * A subscriber whose unsent output is past RPC_MAX_BACKLOG when a notification is due is
 * dropped.
 */
int rpc_conn_subscribe(struct rpc_conn *conn, const char *topic);
typedef void (*rpc_pack_fn)(void *arg, msgpack_packer *pk);
int rpc_server_notify(struct rpc_server *s, const char *topic, const char *method, rpc_pack_fn pack_params,
		      void *arg);

/*
 * connections open now; accepted and refused (out of descriptors or memory) since open;
 * requests received; errors answered; notifications sent (one per subscriber); clients dropped
 * (backlog or memory). Any thread may read them.
 */
struct rpc_server_stats {
	uint64_t connections, accepted, refused, requests, errors, notifications, dropped_clients;
};
void rpc_server_stats(const struct rpc_server *s, struct rpc_server_stats *out);

/* ---- params helpers for methods: false (and a BAD_PARAMS error in r) when wrong ---- */
/* Outputs are written only on success. A key present with value nil counts as missing. Strings
 * may be str or bin, without NUL bytes, and must fit their buffer with the NUL (else an error,
 * never a truncation). rpc_get_u64 also takes a float holding an integer (JSON clients). */

/* The params map at index 0 (methods take one map of named params), or an empty map if params
 * is [] or [nil]; anything else (more elements, not a map) is an error. */
bool rpc_params_map(const msgpack_object *params, const msgpack_object **map, struct rpc_reply *r);
/* Looks up key in map: missing -> *found = false (not an error unless required). */
bool rpc_get_str(const msgpack_object *map, const char *key, bool required, char *buf, size_t len,
		 bool *found, struct rpc_reply *r);
bool rpc_get_u64(const msgpack_object *map, const char *key, bool required, uint64_t *out, bool *found,
		 struct rpc_reply *r);
bool rpc_get_bool(const msgpack_object *map, const char *key, bool *out, bool *found, struct rpc_reply *r);
/* An array of strings: each copied into bufs[i] (len each), *n set. */
bool rpc_get_str_array(const msgpack_object *map, const char *key, char (*bufs)[64], size_t max, size_t *n,
		       struct rpc_reply *r);

/* Packs a C string (NULL: nil). */
void rpc_pack_str(msgpack_packer *pk, const char *s);

/* ---- client (blocking; the CLI, tests and bench/rpc use it) ---- */

struct rpc_client;
/* Connects to path (NULL: rpc_default_socket()). 0, or -ENOENT / -ECONNREFUSED (no server),
 * -EACCES, -ENAMETOOLONG, -ENOMEM. One client is for one thread at a time. */
int rpc_client_connect(struct rpc_client **out, const char *path);
/*
 * One line saying why rpc_client_connect(path) failed with rc, into buf; returns buf. For
 * -EACCES it names what refused and whose group would let the user in: "permission denied on
 * PATH: your user is not in group G" (G the socket's group, or that of a directory on the way
 * the user may not search), "... your user is in group G, but this login is not yet (log in
 * again)", or the mode when the group is ours. Otherwise "PATH: strerror".
 */
char *rpc_connect_error(int rc, const char *path, char *buf, size_t len);
/* The connection's socket, for poll() only: reading it directly would lose messages. */
int rpc_client_fd(const struct rpc_client *c);
/* Sends what rpc_send() left queued if the socket takes it now, then closes. NULL is fine. */
void rpc_client_close(struct rpc_client *c);
/* Bounds every later rpc_call() (and the sending in rpc_send()) to timeout_ms in all; -1, the
 * default, waits forever. On expiry they return -ETIMEDOUT; a late response then goes to
 * rpc_recv() like any other. */
void rpc_client_set_timeout(struct rpc_client *c, int timeout_ms);
/*
 * Messages that arrive while rpc_call() waits for its response (notifications, responses to
 * rpc_send() requests) are kept, in order, for rpc_recv(); past 4096 messages or 16 MB kept
 * they are dropped instead, and counted here.
 */
uint64_t rpc_client_dropped(const struct rpc_client *c);

/*
 * Calls method with the params packed by pack_params (NULL: []) and waits for its response.
 * On success *result points into *zone (msgpack_zone_free it) and the return is 0; on an RPC
 * error returns the positive rpc_error code with its message in err (err may be NULL); on an
 * I/O or protocol failure a negative errno: -ECONNRESET (the server closed the connection),
 * -ETIMEDOUT, -EPROTO (not MessagePack-RPC), -EMSGSIZE (a message over 256 MB), -ENOMEM.
 */
int rpc_call(struct rpc_client *c, const char *method, rpc_pack_fn pack_params, void *arg,
	     msgpack_zone **zone, msgpack_object *result, char *err, size_t errlen);

/* Queues a request without waiting (pipelining); returns its msgid (1 to 2^31-1) or a negative
 * errno. Queued requests are sent once 64 KB wait, or when rpc_call()/rpc_recv() would block. */
int64_t rpc_send(struct rpc_client *c, const char *method, rpc_pack_fn pack_params, void *arg);
/*
 * Receives the next message: a response (*type 1, *msgid set, *error_code 0 or the error with
 * its message in err, *payload the result) or a notification (*type 2, *method set into buf
 * (truncated to fit), *payload the params). Blocks up to timeout_ms (-1 forever; -ETIMEDOUT).
 * Object lifetime as rpc_call; msgid, method, error_code and err may be NULL. Returns 0 or a
 * negative errno as rpc_call.
 */
int rpc_recv(struct rpc_client *c, int timeout_ms, int *type, uint64_t *msgid, char *method, size_t method_len,
	     msgpack_zone **zone, msgpack_object *payload, int *error_code, char *err, size_t errlen);

/* The default socket: $LNMT_SOCKET, else /run/lnmt/lnmt.sock as root, else
 * $XDG_RUNTIME_DIR/lnmt.sock (or /tmp/lnmt-UID.sock). Written into buf; returns buf, or NULL
 * when it does not fit in len. */
char *rpc_default_socket(char *buf, size_t len);

#endif
