/* SPDX-License-Identifier: MIT */
/* test_rpc.c: the MessagePack-RPC server and client over a real unix socket, good and hostile input. */
#include "rpc.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

/* Under UBSan, undefined behaviour stops the test (by default it is only printed). */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

#define WAIT_MS 20000 /* the longest any read in a test waits before it fails */

static char dir[64];
static char path[128];
static struct rpc_server *srv;
static pthread_t srv_thread;
static int stop_flag;

/* ---- methods ---- */

static void m_echo(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	(void)ctx, (void)c;
	msgpack_pack_object(r->pk, *params);
}

static void m_add(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	const msgpack_object *map;
	uint64_t a, b;

	(void)ctx, (void)c;
	if (!rpc_params_map(params, &map, r) || !rpc_get_u64(map, "a", true, &a, NULL, r) ||
	    !rpc_get_u64(map, "b", true, &b, NULL, r))
		return;
	msgpack_pack_uint64(r->pk, a + b);
}

static void m_fail(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	(void)ctx, (void)c, (void)params;
	msgpack_pack_str_with_body(r->pk, "partial", 7); /* taken back by the error */
	rpc_reply_error(r, RPC_E_NOT_FOUND, "no such thing: %d", 42);
}

static void m_slow(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	(void)ctx, (void)c, (void)params, (void)r; /* packs nothing: the result is nil */
}

/* {n}: a string of n bytes. */
static void m_big(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	const msgpack_object *map;
	uint64_t n;
	char *s;

	(void)ctx, (void)c;
	if (!rpc_params_map(params, &map, r) || !rpc_get_u64(map, "n", true, &n, NULL, r))
		return;
	s = malloc(n ? n : 1);
	if (!s) {
		rpc_reply_error(r, RPC_E_INTERNAL, "out of memory");
		return;
	}
	memset(s, 'x', n);
	msgpack_pack_str_with_body(r->pk, s, n);
	free(s);
}

/* {topic} */
static void m_subscribe(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	const msgpack_object *map;
	char topic[64];
	int rc;

	(void)ctx;
	if (!rpc_params_map(params, &map, r) || !rpc_get_str(map, "topic", true, topic, sizeof(topic), NULL, r))
		return;
	rc = rpc_conn_subscribe(c, topic);
	if (rc)
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "subscribe: %d", rc);
	else
		msgpack_pack_true(r->pk);
}

static const struct rpc_method methods[] = {
	{ "echo", m_echo }, { "add", m_add }, { "fail", m_fail }, { "slow", m_slow },
	{ "big", m_big }, { "subscribe", m_subscribe },
};

/* ---- fixture: a server in a thread of the test ---- */

static void *serve(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop_flag, __ATOMIC_SEQ_CST))
		if (rpc_server_poll(srv, -1) < 0)
			break;
	return NULL;
}

static void setup(void)
{
	strcpy(dir, "/tmp/lnmt-rpc-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	cr_assert_eq(rpc_server_open(&srv, path, 0600, methods, sizeof(methods) / sizeof(methods[0]), NULL), 0);
	stop_flag = 0;
	cr_assert_eq(pthread_create(&srv_thread, NULL, serve, NULL), 0);
}

static void stop_server(void)
{
	__atomic_store_n(&stop_flag, 1, __ATOMIC_SEQ_CST);
	rpc_server_wake(srv);
	pthread_join(srv_thread, NULL);
	rpc_server_close(srv);
	srv = NULL;
}

/*
 * Every test ends with finish(): stops the server, checks it removed its socket and, under
 * ASan, that nothing leaked. (Criterion ignores failures in .fini and the leak report at exit,
 * so the check runs in the test body.)
 */
static void finish(void)
{
	stop_server();
	cr_assert_eq(access(path, F_OK), -1, "the server removes its socket");
	rmdir(dir);
#if defined(__SANITIZE_ADDRESS__)
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked (see the report above)");
#endif
}

/* After a failed test: clean up without judging. */
static void teardown(void)
{
	if (srv)
		stop_server();
	rmdir(dir);
}

TestSuite(rpc, .init = setup, .fini = teardown, .timeout = 120);

/* ---- helpers ---- */

struct ab {
	uint64_t a, b;
};

static void pack_ab(void *arg, msgpack_packer *pk)
{
	const struct ab *x = arg;

	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 2);
	rpc_pack_str(pk, "a");
	msgpack_pack_uint64(pk, x->a);
	rpc_pack_str(pk, "b");
	msgpack_pack_uint64(pk, x->b);
}

/* [{key: value}] with a string value */
struct kv {
	const char *k, *v;
};

static void pack_kv(void *arg, msgpack_packer *pk)
{
	const struct kv *x = arg;

	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 1);
	rpc_pack_str(pk, x->k);
	rpc_pack_str(pk, x->v);
}

static void pack_n(void *arg, msgpack_packer *pk)
{
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 1);
	rpc_pack_str(pk, "n");
	msgpack_pack_uint64(pk, *(uint64_t *)arg);
}

static struct rpc_client *connect_client(void)
{
	struct rpc_client *c;

	cr_assert_eq(rpc_client_connect(&c, path), 0);
	rpc_client_set_timeout(c, WAIT_MS);
	return c;
}

static uint64_t call_add(struct rpc_client *c, uint64_t a, uint64_t b)
{
	struct ab x = { a, b };
	msgpack_zone *z;
	msgpack_object res;
	char err[256];
	uint64_t v;

	cr_assert_eq(rpc_call(c, "add", pack_ab, &x, &z, &res, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(res.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	v = res.via.u64;
	msgpack_zone_free(z);
	return v;
}

static bool str_is(const msgpack_object *o, const char *s)
{
	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
	       memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

/* Waits, making round trips on c so the server turns its loop, until pred holds. */
static bool wait_stats(struct rpc_client *c, bool (*pred)(const struct rpc_server_stats *))
{
	struct rpc_server_stats st;

	for (int i = 0; i < 100000; i++) {
		rpc_server_stats(srv, &st);
		if (pred(&st))
			return true;
		call_add(c, 1, 1);
	}
	return false;
}

static int raw_connect(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	strcpy(a.sun_path, path);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "connect: %s", strerror(errno));
	return fd;
}

/* Writes all of p unless the server stops reading (then returns how much went). */
static size_t raw_write(int fd, const void *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t k = send(fd, (const char *)p + done, n - done, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		done += (size_t)k;
	}
	return done;
}

/* The next message on a raw socket: 1 with *o (in *u), 0 at end of stream. */
static int raw_read(int fd, msgpack_unpacker *u, msgpack_unpacked *o)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		switch (msgpack_unpacker_next(u, o)) {
		case MSGPACK_UNPACK_SUCCESS:
			return 1;
		case MSGPACK_UNPACK_CONTINUE:
			break;
		default:
			cr_assert_fail("the server sent bad MessagePack");
		}
		cr_assert_eq(poll(&pfd, 1, WAIT_MS), 1, "no answer from the server");
		cr_assert(msgpack_unpacker_reserve_buffer(u, 65536));
		n = recv(fd, msgpack_unpacker_buffer(u), msgpack_unpacker_buffer_capacity(u), 0);
		if (n <= 0) {
			cr_assert(n == 0 || errno == ECONNRESET, "recv: %s", strerror(errno));
			return 0;
		}
		msgpack_unpacker_buffer_consumed(u, (size_t)n);
	}
}

/* Reads a response on a raw socket and checks it is the error code for msgid. */
static void expect_error(int fd, msgpack_unpacker *u, uint64_t msgid, int code, const char *needle)
{
	msgpack_unpacked m;
	const msgpack_object *e;

	msgpack_unpacked_init(&m);
	cr_assert_eq(raw_read(fd, u, &m), 1, "expected an error reply, got end of stream");
	cr_assert_eq(m.data.type, MSGPACK_OBJECT_ARRAY);
	cr_assert_eq(m.data.via.array.size, 4);
	e = m.data.via.array.ptr;
	cr_assert_eq(e[0].via.u64, 1);
	cr_assert_eq(e[1].via.u64, msgid);
	cr_assert_eq(e[2].type, MSGPACK_OBJECT_ARRAY);
	cr_assert_eq(e[2].via.array.ptr[0].via.u64, (uint64_t)code);
	cr_assert_eq(e[3].type, MSGPACK_OBJECT_NIL);
	if (needle) {
		const msgpack_object *s = &e[2].via.array.ptr[1];
		char text[512];

		cr_assert_eq(s->type, MSGPACK_OBJECT_STR);
		snprintf(text, sizeof(text), "%.*s", (int)s->via.str.size, s->via.str.ptr);
		cr_assert(strstr(text, needle), "'%s' does not mention '%s'", text, needle);
	}
	msgpack_unpacked_destroy(&m);
}

static void expect_eof(int fd, msgpack_unpacker *u)
{
	msgpack_unpacked m;

	msgpack_unpacked_init(&m);
	cr_assert_eq(raw_read(fd, u, &m), 0, "expected the server to close the connection");
	msgpack_unpacked_destroy(&m);
}

/* Packs [0, msgid, method, params-from-fn] into sb. */
static void pack_request(msgpack_sbuffer *sb, uint64_t msgid, const char *method, rpc_pack_fn fn, void *arg)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_uint64(&pk, msgid);
	rpc_pack_str(&pk, method);
	if (fn)
		fn(arg, &pk);
	else
		msgpack_pack_array(&pk, 0);
}

/* A raw request that must be answered with the result add(a, b) for msgid. */
static void expect_add(int fd, msgpack_unpacker *u, uint64_t msgid, uint64_t sum)
{
	msgpack_unpacked m;
	const msgpack_object *e;

	msgpack_unpacked_init(&m);
	cr_assert_eq(raw_read(fd, u, &m), 1);
	e = m.data.via.array.ptr;
	cr_assert_eq(m.data.via.array.size, 4);
	cr_assert_eq(e[1].via.u64, msgid);
	cr_assert_eq(e[2].type, MSGPACK_OBJECT_NIL);
	cr_assert_eq(e[3].via.u64, sum);
	msgpack_unpacked_destroy(&m);
}

static void send_add(int fd, uint64_t msgid, uint64_t a, uint64_t b)
{
	msgpack_sbuffer sb;
	struct ab x = { a, b };

	msgpack_sbuffer_init(&sb);
	pack_request(&sb, msgid, "add", pack_ab, &x);
	cr_assert_eq(raw_write(fd, sb.data, sb.size), sb.size);
	msgpack_sbuffer_destroy(&sb);
}

/* ---- tests ---- */

static void pack_echo_args(void *arg, msgpack_packer *pk)
{
	(void)arg;
	msgpack_pack_array(pk, 3);
	msgpack_pack_int(pk, -7);
	rpc_pack_str(pk, "x");
	msgpack_pack_map(pk, 1);
	rpc_pack_str(pk, "k");
	msgpack_pack_true(pk);
}

Test(rpc, round_trip)
{
	struct rpc_client *c = connect_client();
	msgpack_zone *z;
	msgpack_object res;
	char err[256];

	cr_assert_eq(rpc_call(c, "echo", pack_echo_args, NULL, &z, &res, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(res.type, MSGPACK_OBJECT_ARRAY);
	cr_assert_eq(res.via.array.size, 3);
	cr_assert_eq(res.via.array.ptr[0].via.i64, -7);
	cr_assert(str_is(&res.via.array.ptr[1], "x"));
	cr_assert_eq(res.via.array.ptr[2].type, MSGPACK_OBJECT_MAP);
	cr_assert(str_is(&res.via.array.ptr[2].via.map.ptr[0].key, "k"));
	msgpack_zone_free(z);

	cr_assert_eq(call_add(c, 40, 2), 42);

	cr_assert_eq(rpc_call(c, "fail", NULL, NULL, &z, &res, err, sizeof(err)), RPC_E_NOT_FOUND);
	cr_assert_str_eq(err, "no such thing: 42");

	cr_assert_eq(rpc_call(c, "slow", NULL, NULL, &z, &res, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(res.type, MSGPACK_OBJECT_NIL);
	msgpack_zone_free(z);

	struct rpc_server_stats st;
	rpc_server_stats(srv, &st);
	cr_assert_eq(st.requests, 4);
	cr_assert_eq(st.errors, 1);
	cr_assert_eq(st.connections, 1);
	cr_assert_eq(st.accepted, 1);
	rpc_client_close(c);
	finish();
}

Test(rpc, pipelined_10000_in_order)
{
	struct rpc_client *c = connect_client();
	enum { N = 10000 };
	int64_t ids[N];

	for (int i = 0; i < N; i++) {
		struct ab x = { (uint64_t)i, 1000000 };

		ids[i] = rpc_send(c, "add", pack_ab, &x);
		cr_assert_gt(ids[i], 0);
	}
	for (int i = 0; i < N; i++) {
		msgpack_zone *z;
		msgpack_object res;
		uint64_t msgid;
		int type, code;
		char err[128];

		cr_assert_eq(rpc_recv(c, WAIT_MS, &type, &msgid, NULL, 0, &z, &res, &code, err, sizeof(err)), 0);
		cr_assert_eq(type, 1);
		cr_assert_eq(msgid, (uint64_t)ids[i], "response %d out of order", i);
		cr_assert_eq(code, 0, "%s", err);
		cr_assert_eq(res.via.u64, (uint64_t)i + 1000000);
		msgpack_zone_free(z);
	}
	rpc_client_close(c);

	/* The same from a raw socket: every request in one write. */
	msgpack_sbuffer sb;
	msgpack_unpacker u;
	int fd = raw_connect();

	msgpack_sbuffer_init(&sb);
	for (int i = 0; i < N; i++) {
		struct ab x = { (uint64_t)i, 7 };
		pack_request(&sb, (uint64_t)i + 1, "add", pack_ab, &x);
	}
	cr_assert_eq(raw_write(fd, sb.data, sb.size), sb.size);
	msgpack_sbuffer_destroy(&sb);
	msgpack_unpacker_init(&u, 65536);
	for (int i = 0; i < N; i++)
		expect_add(fd, &u, (uint64_t)i + 1, (uint64_t)i + 7);
	msgpack_unpacker_destroy(&u);
	close(fd);
	finish();
}

Test(rpc, unknown_method)
{
	struct rpc_client *c = connect_client();
	msgpack_zone *z;
	msgpack_object res;
	char err[256];

	cr_assert_eq(rpc_call(c, "devices.frobnicate", NULL, NULL, &z, &res, err, sizeof(err)), RPC_E_NO_METHOD);
	cr_assert(strstr(err, "devices.frobnicate"), "%s", err);
	cr_assert_eq(call_add(c, 1, 2), 3, "the connection stays usable");

	/* A 200-byte name is refused as malformed; the connection still serves. */
	char name[201];
	memset(name, 'm', 200);
	name[200] = '\0';
	cr_assert_eq(rpc_call(c, name, NULL, NULL, &z, &res, err, sizeof(err)), RPC_E_INVALID);
	cr_assert_eq(rpc_call(c, "", NULL, NULL, &z, &res, err, sizeof(err)), RPC_E_NO_METHOD);
	cr_assert_eq(rpc_call(c, "ech\x01o", NULL, NULL, &z, &res, err, sizeof(err)), RPC_E_NO_METHOD);
	cr_assert(strstr(err, "ech?o"), "%s", err);
	cr_assert_eq(call_add(c, 1, 2), 3);
	rpc_client_close(c);
	finish();
}

Test(rpc, params_not_an_array)
{
	int fd = raw_connect();
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacker u;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_uint8(&pk, 7);
	rpc_pack_str(&pk, "echo");
	msgpack_pack_map(&pk, 0); /* params: a map instead of an array */
	/* a request of 3 elements, msgid 8 */
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_uint8(&pk, 8);
	rpc_pack_str(&pk, "echo");
	/* a method name that is not a string, msgid 9 */
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_uint8(&pk, 9);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_array(&pk, 0);
	/* a notification from the client: ignored */
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, 2);
	rpc_pack_str(&pk, "echo");
	msgpack_pack_array(&pk, 0);
	cr_assert_eq(raw_write(fd, sb.data, sb.size), sb.size);
	msgpack_sbuffer_destroy(&sb);
	send_add(fd, 10, 2, 2);

	msgpack_unpacker_init(&u, 65536);
	expect_error(fd, &u, 7, RPC_E_INVALID, "params must be an array");
	expect_error(fd, &u, 8, RPC_E_INVALID, "4 elements");
	expect_error(fd, &u, 9, RPC_E_INVALID, "string");
	expect_add(fd, &u, 10, 4); /* the connection serves on; the notification had no answer */
	msgpack_unpacker_destroy(&u);
	close(fd);
	finish();
}

Test(rpc, wrong_param_types)
{
	struct rpc_client *c = connect_client();
	struct kv x = { "a", "one" };
	msgpack_zone *z;
	msgpack_object res;
	char err[256];

	cr_assert_eq(rpc_call(c, "add", pack_kv, &x, &z, &res, err, sizeof(err)), RPC_E_BAD_PARAMS);
	cr_assert(strstr(err, "'a'") && strstr(err, "unsigned integer"), "%s", err);
	struct kv y = { "b", "two" }; /* a missing */
	cr_assert_eq(rpc_call(c, "add", pack_kv, &y, &z, &res, err, sizeof(err)), RPC_E_MISSING_PARAM);
	cr_assert(strstr(err, "missing param 'a'"), "%s", err);
	cr_assert_eq(rpc_call(c, "add", pack_echo_args, NULL, &z, &res, err, sizeof(err)), RPC_E_BAD_PARAMS);
	cr_assert_eq(call_add(c, 5, 6), 11);
	rpc_client_close(c);
	finish();
}

/* The params helpers on their own, on decoded objects. */
Test(rpc, params_helpers)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked m;
	const msgpack_object *map;
	struct rpc_reply r = { 0 };
	char buf[8], arr[4][64];
	uint64_t u = 99;
	bool b = false, found = true;
	size_t n;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 8);
	rpc_pack_str(&pk, "empty");
	rpc_pack_str(&pk, ""); /* msgpack-c decodes it with a NULL pointer */
	rpc_pack_str(&pk, "s");
	rpc_pack_str(&pk, "short");
	rpc_pack_str(&pk, "long");
	rpc_pack_str(&pk, "much too long");
	rpc_pack_str(&pk, "u");
	msgpack_pack_uint64(&pk, 1ull << 40);
	rpc_pack_str(&pk, "f");
	msgpack_pack_double(&pk, 12.0);
	rpc_pack_str(&pk, "t");
	msgpack_pack_true(&pk);
	rpc_pack_str(&pk, "arr");
	msgpack_pack_array(&pk, 2);
	rpc_pack_str(&pk, "x");
	rpc_pack_str(&pk, "yy");
	rpc_pack_str(&pk, "nil");
	msgpack_pack_nil(&pk);
	msgpack_unpacked_init(&m);
	cr_assert_eq(msgpack_unpack_next(&m, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);

	cr_assert(rpc_params_map(&m.data, &map, &r));
	cr_assert(rpc_get_str(map, "s", true, buf, sizeof(buf), &found, &r));
	cr_assert_str_eq(buf, "short");
	cr_assert(found);
	cr_assert(rpc_get_str(map, "empty", true, buf, sizeof(buf), &found, &r));
	cr_assert_str_eq(buf, "");
	cr_assert(rpc_get_str(map, "s", true, buf, sizeof(buf), &found, &r));
	cr_assert_not(rpc_get_str(map, "long", true, buf, sizeof(buf), &found, &r));
	cr_assert_eq(r.error_code, RPC_E_BAD_PARAMS);
	cr_assert_str_eq(buf, "short", "out-params only on success");
	r.error_code = 0;
	cr_assert_not(rpc_get_u64(map, "s", false, &u, &found, &r), "a string is not a number");
	cr_assert_eq(r.error_code, RPC_E_BAD_PARAMS);
	cr_assert_eq(u, 99);
	cr_assert(rpc_get_u64(map, "u", true, &u, NULL, &r));
	cr_assert_eq(u, 1ull << 40);
	cr_assert(rpc_get_u64(map, "f", true, &u, NULL, &r));
	cr_assert_eq(u, 12);
	cr_assert(rpc_get_u64(map, "nil", false, &u, &found, &r), "nil counts as absent");
	cr_assert_not(found);
	cr_assert(rpc_get_u64(map, "absent", false, &u, &found, &r));
	cr_assert_not(found);
	r.error_code = 0;
	cr_assert_not(rpc_get_u64(map, "absent", true, &u, &found, &r));
	cr_assert_eq(r.error_code, RPC_E_MISSING_PARAM);
	cr_assert(rpc_get_bool(map, "t", &b, &found, &r));
	cr_assert(b && found);
	cr_assert_not(rpc_get_bool(map, "u", &b, &found, &r));
	cr_assert(rpc_get_str_array(map, "arr", arr, 4, &n, &r));
	cr_assert_eq(n, 2);
	cr_assert_str_eq(arr[1], "yy");
	cr_assert_not(rpc_get_str_array(map, "arr", arr, 1, &n, &r), "more than max");
	cr_assert(rpc_get_str_array(map, "absent", arr, 4, &n, &r));
	cr_assert_eq(n, 0);

	/* params shapes: [] is an empty map; [1] and [{}, {}] are errors */
	msgpack_object empty = { .type = MSGPACK_OBJECT_ARRAY };
	cr_assert(rpc_params_map(&empty, &map, &r));
	cr_assert_eq(map->type, MSGPACK_OBJECT_MAP);
	cr_assert_eq(map->via.map.size, 0);
	msgpack_object one = { .type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 1 };
	msgpack_object arr1 = { .type = MSGPACK_OBJECT_ARRAY, .via.array = { 1, &one } };
	cr_assert_not(rpc_params_map(&arr1, &map, &r));
	msgpack_unpacked_destroy(&m);
	msgpack_sbuffer_destroy(&sb);
	finish();
}

static bool one_connection(const struct rpc_server_stats *st)
{
	return st->connections == 1;
}

Test(rpc, truncated_then_close)
{
	struct rpc_client *c = connect_client();
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	pack_request(&sb, 1, "echo", pack_echo_args, NULL);
	for (int i = 0; i < 20; i++) {
		/* Half a request, then gone: the server must free the partial message. */
		int fd = raw_connect();

		cr_assert_eq(raw_write(fd, sb.data, sb.size / 2), sb.size / 2);
		close(fd);
	}
	/* A request cut inside a long string, then gone. */
	int fd = raw_connect();
	char big[4096] = { (char)0x94, 0, 1, (char)0xa4, 'e', 'c', 'h', 'o', (char)0x91, (char)0xdb, 0, 0, (char)0xff, 0 };
	cr_assert_eq(raw_write(fd, big, sizeof(big)), sizeof(big));
	close(fd);
	msgpack_sbuffer_destroy(&sb);
	cr_assert(wait_stats(c, one_connection), "the server did not notice the closed connections");
	cr_assert_eq(call_add(c, 2, 3), 5);
	rpc_client_close(c);
	finish();
}

Test(rpc, huge_string_header)
{
	int fd = raw_connect();
	msgpack_unpacker u;
	/* [0, 5, "echo", [str32 of 100,000,000 bytes ...]] */
	unsigned char hdr[] = { 0x94, 0x00, 0x05, 0xa4, 'e', 'c', 'h', 'o', 0x91, 0xdb, 0x05, 0xf5, 0xe1, 0x00 };
	static char body[1 << 20];

	cr_assert_eq(raw_write(fd, hdr, sizeof(hdr)), sizeof(hdr));
	memset(body, 'z', sizeof(body));
	raw_write(fd, body, sizeof(body)); /* the server may stop reading part way: fine */
	msgpack_unpacker_init(&u, 65536);
	expect_error(fd, &u, 5, RPC_E_TOO_LARGE, NULL);
	expect_eof(fd, &u);
	msgpack_unpacker_destroy(&u);
	close(fd);

	/* An array32 announcing 4 billion elements: refused at once, nothing allocated for it. */
	unsigned char arr[] = { 0x94, 0x00, 0x06, 0xa4, 'e', 'c', 'h', 'o', 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01 };
	fd = raw_connect();
	cr_assert_eq(raw_write(fd, arr, sizeof(arr)), sizeof(arr));
	msgpack_unpacker_init(&u, 65536);
	expect_error(fd, &u, 6, RPC_E_TOO_LARGE, NULL);
	expect_eof(fd, &u);
	msgpack_unpacker_destroy(&u);
	close(fd);

	/* Through the client: the error names the request, then the connection is over. */
	struct rpc_client *c = connect_client();
	struct kv big = { "s", NULL };
	char *s = malloc(RPC_MAX_MESSAGE * 2 + 1);
	msgpack_zone *z;
	msgpack_object res;
	char err[256];

	memset(s, 'q', RPC_MAX_MESSAGE * 2);
	s[RPC_MAX_MESSAGE * 2] = '\0';
	big.v = s;
	cr_assert_eq(rpc_call(c, "echo", pack_kv, &big, &z, &res, err, sizeof(err)), RPC_E_TOO_LARGE);
	cr_assert(strstr(err, "RPC_MAX_MESSAGE"), "%s", err);
	cr_assert_eq(rpc_call(c, "echo", NULL, NULL, &z, &res, err, sizeof(err)), -ECONNRESET);
	rpc_client_close(c);
	free(s);

	c = connect_client();
	cr_assert_eq(call_add(c, 1, 1), 2);
	rpc_client_close(c);
	finish();
}

Test(rpc, deep_nesting)
{
	int fd = raw_connect();
	msgpack_unpacker u;
	enum { DEPTH = 10000 };
	static unsigned char msg[8 + DEPTH + 1] = { 0x94, 0x00, 0x06, 0xa4, 'e', 'c', 'h', 'o' };

	memset(msg + 8, 0x91, DEPTH);
	msg[8 + DEPTH] = 0xc0;
	raw_write(fd, msg, sizeof(msg));
	msgpack_unpacker_init(&u, 65536);
	expect_error(fd, &u, 6, RPC_E_PARSE, "deep");
	expect_eof(fd, &u);
	msgpack_unpacker_destroy(&u);
	close(fd);

	/* The limit is msgpack-c's 32 open containers, the request array included: 32 pass, 33 do
	 * not ("slow" answers nil whatever its params). */
	for (int depth = 32; depth <= 33; depth++) {
		unsigned char m2[8 + 40] = { 0x94, 0x00, (unsigned char)depth, 0xa4, 's', 'l', 'o', 'w' };
		msgpack_unpacked m;

		memset(m2 + 8, 0x91, (size_t)depth - 1);
		m2[8 + depth - 1] = 0xc0;
		fd = raw_connect();
		raw_write(fd, m2, 8 + (size_t)depth);
		msgpack_unpacker_init(&u, 65536);
		if (depth == 32) {
			msgpack_unpacked_init(&m);
			cr_assert_eq(raw_read(fd, &u, &m), 1);
			cr_assert_eq(m.data.via.array.ptr[1].via.u64, 32);
			cr_assert_eq(m.data.via.array.ptr[2].type, MSGPACK_OBJECT_NIL, "32 levels are fine");
			msgpack_unpacked_destroy(&m);
		} else {
			expect_error(fd, &u, 33, RPC_E_PARSE, "deep");
			expect_eof(fd, &u);
		}
		msgpack_unpacker_destroy(&u);
		close(fd);
	}
	finish();
}

Test(rpc, garbage)
{
	static const struct {
		const char *bytes;
		size_t len;
		int code;
	} cases[] = {
		{ "\xc1\xc1\xc1", 3, RPC_E_PARSE },                 /* never-used byte */
		{ "GET / HTTP/1.1\r\n\r\n", 18, RPC_E_INVALID },    /* 'G' is the integer 71 */
		{ "\x93\x05\x01\x02", 4, RPC_E_INVALID },           /* an array, type 5 */
		{ "\x94\x00\xa1x\xa4" "echo\x90", 10, RPC_E_INVALID }, /* msgid a string */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = raw_connect();
		msgpack_unpacker u;

		raw_write(fd, cases[i].bytes, cases[i].len);
		msgpack_unpacker_init(&u, 65536);
		expect_error(fd, &u, 0, cases[i].code, NULL);
		expect_eof(fd, &u);
		msgpack_unpacker_destroy(&u);
		close(fd);
	}
	/* Random bytes: an answer or not, then the end; never a crash. */
	unsigned seed = 12345;
	for (int round = 0; round < 50; round++) {
		char junk[2048];
		int fd = raw_connect();
		msgpack_unpacker u;
		msgpack_unpacked m;

		for (size_t k = 0; k < sizeof(junk); k++)
			junk[k] = (char)rand_r(&seed);
		raw_write(fd, junk, sizeof(junk));
		shutdown(fd, SHUT_WR);
		msgpack_unpacker_init(&u, 65536);
		msgpack_unpacked_init(&m);
		while (msgpack_unpacked_destroy(&m), raw_read(fd, &u, &m) == 1)
			;
		msgpack_unpacked_destroy(&m);
		msgpack_unpacker_destroy(&u);
		close(fd);
	}
	struct rpc_client *c = connect_client();
	cr_assert_eq(call_add(c, 1, 1), 2);
	rpc_client_close(c);
	finish();
}

static bool one_dropped(const struct rpc_server_stats *st)
{
	return st->dropped_clients == 1;
}

Test(rpc, slow_reader_dropped)
{
	struct rpc_client *c = connect_client();
	int fd = raw_connect();
	msgpack_sbuffer sb;
	uint64_t n = 1 << 20;
	enum { REQS = 40 }; /* 40 MB of responses, well past RPC_MAX_BACKLOG */

	msgpack_sbuffer_init(&sb);
	for (int i = 0; i < REQS; i++)
		pack_request(&sb, (uint64_t)i + 1, "big", pack_n, &n);
	cr_assert_eq(raw_write(fd, sb.data, sb.size), sb.size);
	msgpack_sbuffer_destroy(&sb);
	cr_assert(wait_stats(c, one_dropped), "the slow reader was not dropped");
	cr_assert_eq(call_add(c, 3, 4), 7, "others are served");

	/* What it gets is less than it asked for, then the end. */
	size_t got = 0;
	for (;;) {
		static char buf[1 << 16];
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t k;

		cr_assert_eq(poll(&pfd, 1, WAIT_MS), 1);
		k = recv(fd, buf, sizeof(buf), 0);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	cr_assert_lt(got, (size_t)REQS << 20, "it got less than it asked for");
	close(fd);
	rpc_client_close(c);
	finish();
}

/* Big responses to a client that does read: never dropped, whatever the size. */
Test(rpc, big_responses_to_a_reader)
{
	struct rpc_client *c = connect_client();
	uint64_t n = 24u << 20; /* over RPC_MAX_BACKLOG in one response */
	msgpack_zone *z;
	msgpack_object res;
	char err[256];

	for (int i = 0; i < 2; i++) {
		cr_assert_eq(rpc_call(c, "big", pack_n, &n, &z, &res, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(res.type, MSGPACK_OBJECT_STR);
		cr_assert_eq(res.via.str.size, n);
		msgpack_zone_free(z);
	}
	n = 100u << 20; /* over the 64 MB a single response may take */
	cr_assert_eq(rpc_call(c, "big", pack_n, &n, &z, &res, err, sizeof(err)), RPC_E_INTERNAL);
	cr_assert_eq(call_add(c, 1, 1), 2);
	struct rpc_server_stats st;
	rpc_server_stats(srv, &st);
	cr_assert_eq(st.dropped_clients, 0);
	rpc_client_close(c);
	finish();
}

struct worker {
	pthread_barrier_t *start;
	int id, ok;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct rpc_client *c;

	if (rpc_client_connect(&c, path))
		return NULL;
	rpc_client_set_timeout(c, WAIT_MS);
	pthread_barrier_wait(w->start);
	for (int i = 0; i < 50; i++) {
		struct ab x = { (uint64_t)w->id, (uint64_t)i };
		msgpack_zone *z;
		msgpack_object res;

		if (rpc_call(c, "add", pack_ab, &x, &z, &res, NULL, 0))
			break;
		if (res.via.u64 == (uint64_t)(w->id + i))
			w->ok++;
		msgpack_zone_free(z);
	}
	rpc_client_close(c);
	return NULL;
}

Test(rpc, concurrent_200_clients)
{
	enum { N = 200 };
	static struct worker w[N];
	static pthread_t t[N];
	pthread_barrier_t start;
	pthread_attr_t attr;
	struct rpc_server_stats st;

	pthread_barrier_init(&start, NULL, N);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 << 10);
	for (int i = 0; i < N; i++) {
		w[i] = (struct worker){ .start = &start, .id = i * 1000 };
		cr_assert_eq(pthread_create(&t[i], &attr, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < N; i++)
		cr_assert_eq(w[i].ok, 50, "client %d: %d of 50 calls right", i, w[i].ok);
	rpc_server_stats(srv, &st);
	cr_assert_eq(st.accepted, N);
	cr_assert_eq(st.refused, 0);
	cr_assert_eq(st.requests, N * 50);
	pthread_attr_destroy(&attr);
	pthread_barrier_destroy(&start);
	finish();
}

static void pack_note(void *arg, msgpack_packer *pk)
{
	msgpack_pack_array(pk, 1);
	msgpack_pack_uint64(pk, *(uint64_t *)arg);
}

static void subscribe(struct rpc_client *c, const char *topic)
{
	struct kv x = { "topic", topic };
	msgpack_zone *z;
	msgpack_object res;
	char err[256];

	cr_assert_eq(rpc_call(c, "subscribe", pack_kv, &x, &z, &res, err, sizeof(err)), 0, "%s", err);
	msgpack_zone_free(z);
}

/* The next message on c must be notification method with params [v]. */
static void expect_note(struct rpc_client *c, const char *method, uint64_t v)
{
	msgpack_zone *z;
	msgpack_object p;
	char m[64];
	int type;

	cr_assert_eq(rpc_recv(c, WAIT_MS, &type, NULL, m, sizeof(m), &z, &p, NULL, NULL, 0), 0);
	cr_assert_eq(type, 2);
	cr_assert_str_eq(m, method);
	cr_assert_eq(p.type, MSGPACK_OBJECT_ARRAY);
	cr_assert_eq(p.via.array.ptr[0].via.u64, v);
	msgpack_zone_free(z);
}

Test(rpc, notifications)
{
	struct rpc_client *a = connect_client(), *b = connect_client(), *n = connect_client();
	uint64_t v;
	msgpack_zone *z;
	msgpack_object p;
	int type;

	subscribe(a, "scan");
	subscribe(a, "scan"); /* twice is once */
	subscribe(b, "device");
	for (v = 1; v <= 3; v++)
		cr_assert_eq(rpc_server_notify(srv, "scan", "scan.progress", pack_note, &v), 0);
	cr_assert_eq(rpc_server_notify(srv, "device", "device.up", pack_note, &v), 0);
	for (v = 1; v <= 3; v++)
		expect_note(a, "scan.progress", v);
	/* b's first message is its own topic's: the scan ones never reached it. */
	expect_note(b, "device.up", 4);

	/* A notification that arrives while a call waits is kept for rpc_recv. */
	v = 5;
	cr_assert_eq(rpc_server_notify(srv, "scan", "scan.done", pack_note, &v), 0);
	cr_assert_eq(call_add(a, 1, 1), 2);
	expect_note(a, "scan.done", 5);
	cr_assert_eq(rpc_client_dropped(a), 0);

	/* n subscribed to nothing: after a round trip, nothing waits for it. */
	cr_assert_eq(call_add(n, 1, 1), 2);
	cr_assert_eq(rpc_recv(n, 0, &type, NULL, NULL, 0, &z, &p, NULL, NULL, 0), -ETIMEDOUT);

	cr_assert_eq(rpc_server_notify(srv, "", "x", NULL, NULL), -EINVAL);
	cr_assert_eq(rpc_server_notify(srv, "a-topic-name-that-is-much-too-long-to-keep", "x", NULL, NULL),
		     -ENAMETOOLONG);
	struct rpc_server_stats st;
	rpc_server_stats(srv, &st);
	cr_assert_eq(st.notifications, 5);
	rpc_client_close(a);
	rpc_client_close(b);
	rpc_client_close(n);
	finish();
}

Test(rpc, stale_socket_replaced)
{
	char p2[160];
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct rpc_server *s2;
	struct rpc_client *c;
	struct stat st;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	/* A socket file whose server is gone (bound, closed, never unlinked). */
	snprintf(p2, sizeof(p2), "%s/stale.sock", dir);
	strcpy(a.sun_path, p2);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd);
	cr_assert_eq(rpc_client_connect(&c, p2), -ECONNREFUSED);
	cr_assert_eq(rpc_server_open(&s2, p2, 0660, methods, 1, NULL), 0);
	cr_assert_eq(stat(p2, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0660);
	cr_assert_eq(rpc_client_connect(&c, p2), 0, "the new server listens");
	rpc_client_close(c);
	rpc_server_close(s2);
	cr_assert_eq(access(p2, F_OK), -1);

	/* A regular file in the way is left alone. */
	fd = open(p2, O_CREAT | O_WRONLY, 0600);
	close(fd);
	cr_assert_eq(rpc_server_open(&s2, p2, 0600, methods, 1, NULL), -EEXIST);
	unlink(p2);
	finish();
}

Test(rpc, live_socket_refused)
{
	struct rpc_server *s2 = NULL;
	struct rpc_client *c = connect_client();

	cr_assert_eq(rpc_server_open(&s2, path, 0600, methods, 1, NULL), -EADDRINUSE);
	cr_assert_null(s2);
	cr_assert_eq(call_add(c, 1, 2), 3, "the live server is untouched");
	rpc_client_close(c);
	cr_assert_eq(access(path, F_OK), 0);
	finish();
}

Test(rpc, client_timeout_and_server_gone)
{
	struct rpc_client *c = connect_client();
	char def[108];
	msgpack_zone *z;
	msgpack_object p;
	int type;

	cr_assert_eq(rpc_recv(c, 10, &type, NULL, NULL, 0, &z, &p, NULL, NULL, 0), -ETIMEDOUT);
	setenv("LNMT_SOCKET", path, 1);
	cr_assert_str_eq(rpc_default_socket(def, sizeof(def)), path);
	cr_assert_null(rpc_default_socket(def, 4));
	unsetenv("LNMT_SOCKET");
	cr_assert_not_null(rpc_default_socket(def, sizeof(def)));

	/* The server goes away: the client learns it from its next call. */
	__atomic_store_n(&stop_flag, 1, __ATOMIC_SEQ_CST);
	rpc_server_wake(srv);
	pthread_join(srv_thread, NULL);
	rpc_server_close(srv);
	cr_assert_eq(rpc_call(c, "echo", NULL, NULL, &z, &p, NULL, 0), -ECONNRESET);
	rpc_client_close(c);
	/* teardown expects a running server */
	cr_assert_eq(rpc_server_open(&srv, path, 0600, methods, 1, NULL), 0);
	stop_flag = 0;
	cr_assert_eq(pthread_create(&srv_thread, NULL, serve, NULL), 0);
	finish();
}
