/* SPDX-License-Identifier: MIT */
/*
 * fuzz_rpc.c: libFuzzer target for the server's per-connection path: framing, decoding,
 * request checks, dispatch to a few methods using every params helper, and error replies.
 * Input: byte 0 picks the slice size the rest is fed in (1..256 bytes), so messages arrive
 * cut at every possible point, as from a socket. Every response the connection queues must
 * be one well-formed [1, msgid, error, result]; anything else traps. Built and run by
 * tests/fuzz/run.
 */
#include "rpc_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void m_echo(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	(void)ctx, (void)c;
	/* The shape, not the object: echoing 32 levels back inside a response would nest 33. */
	msgpack_pack_array(r->pk, 2);
	msgpack_pack_uint32(r->pk, params->via.array.size);
	msgpack_pack_int(r->pk, params->via.array.size ? (int)params->via.array.ptr[0].type : -1);
}

static void m_add(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	const msgpack_object *map;
	uint64_t a, b;
	bool found;

	(void)ctx, (void)c;
	if (!rpc_params_map(params, &map, r) || !rpc_get_u64(map, "a", true, &a, NULL, r) ||
	    !rpc_get_u64(map, "b", false, &b, &found, r))
		return;
	msgpack_pack_uint64(r->pk, a + (found ? b : 0));
}

static void m_str(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	const msgpack_object *map;
	char s[16], list[4][64];
	bool flag = false, found;
	size_t n;

	(void)ctx, (void)c;
	if (!rpc_params_map(params, &map, r) || !rpc_get_str(map, "s", false, s, sizeof(s), &found, r) ||
	    !rpc_get_bool(map, "flag", &flag, NULL, r) || !rpc_get_str_array(map, "list", list, 4, &n, r))
		return;
	msgpack_pack_array(r->pk, 1 + n);
	rpc_pack_str(r->pk, found ? s : NULL);
	for (size_t i = 0; i < n; i++)
		rpc_pack_str(r->pk, list[i]);
}

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
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "cannot subscribe: %d", rc);
	else
		msgpack_pack_true(r->pk);
}

static void m_fail(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	(void)ctx, (void)c, (void)params;
	msgpack_pack_map(r->pk, 3); /* half a result, taken back */
	rpc_reply_error(r, RPC_E_NOT_FOUND, "nothing");
}

static const struct rpc_method methods[] = {
	{ "echo", m_echo }, { "add", m_add }, { "str", m_str }, { "subscribe", m_subscribe }, { "fail", m_fail },
};

/* Every queued byte must form whole responses; then they are dropped as if sent. */
static void check_output(struct rpc_conn *c, msgpack_zone *z)
{
	struct rpc_buf *b = &c->out;

	while (b->off < b->len) {
		struct rpc_scan sc;
		msgpack_object o;
		size_t off = 0;

		rpc_scan_reset(&sc);
		if (rpc_scan(&sc, b->data + b->off, b->len - b->off, SIZE_MAX / 4) != RPC_SCAN_DONE)
			__builtin_trap();
		if (msgpack_unpack(b->data + b->off, sc.pos, &off, z, &o) != MSGPACK_UNPACK_SUCCESS ||
		    o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size != 4 ||
		    o.via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || o.via.array.ptr[0].via.u64 != 1 ||
		    o.via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			__builtin_trap();
		if (o.via.array.ptr[2].type != MSGPACK_OBJECT_NIL &&
		    (o.via.array.ptr[2].type != MSGPACK_OBJECT_ARRAY || o.via.array.ptr[2].via.array.size != 2 ||
		     o.via.array.ptr[3].type != MSGPACK_OBJECT_NIL))
			__builtin_trap();
		msgpack_zone_clear(z);
		b->off += sc.pos;
	}
	b->off = b->len = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_core core;
	struct rpc_conn *c;
	msgpack_zone z;
	size_t slice;

	if (size < 1)
		return 0;
	slice = (size_t)data[0] + 1;
	data++, size--;
	if (rpc_core_init(&core, methods, sizeof(methods) / sizeof(methods[0]), NULL))
		return 0;
	if (!msgpack_zone_init(&z, 4096))
		goto out_core;
	if (rpc_conn_new(&c, &core, -1))
		goto out_zone;
	while (size > 0 && !c->closing) {
		size_t n = size < slice ? size : slice;
		int rc = rpc_conn_feed(c, data, n);

		check_output(c, &z);
		if (rc && !c->closing)
			__builtin_trap(); /* an error always means: close */
		data += n, size -= n;
	}
	rpc_conn_free(c);
out_zone:
	msgpack_zone_destroy(&z);
out_core:
	rpc_core_fini(&core);
	return 0;
}
