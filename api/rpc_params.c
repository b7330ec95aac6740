/* SPDX-License-Identifier: MIT */
/* rpc_params.c: what methods use to read their named params and to answer with an error. */
#include "rpc_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void rpc_reply_error(struct rpc_reply *r, int code, const char *fmt, ...)
{
	va_list ap;

	r->error_code = code;
	va_start(ap, fmt);
	vsnprintf(r->error_message, sizeof(r->error_message), fmt, ap);
	va_end(ap);
}

void rpc_pack_str(msgpack_packer *pk, const char *s)
{
	if (!s)
		msgpack_pack_nil(pk);
	else
		msgpack_pack_str_with_body(pk, s, strlen(s));
}

bool rpc_params_map(const msgpack_object *params, const msgpack_object **map, struct rpc_reply *r)
{
	/* Read-only, so sharing one is no mutable state. */
	static const msgpack_object empty = { .type = MSGPACK_OBJECT_MAP };

	if (!params || params->type != MSGPACK_OBJECT_ARRAY) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "params must be an array");
		return false;
	}
	if (params->via.array.size == 0 || params->via.array.ptr[0].type == MSGPACK_OBJECT_NIL) {
		if (params->via.array.size > 1)
			goto shape;
		*map = &empty;
		return true;
	}
	if (params->via.array.size > 1 || params->via.array.ptr[0].type != MSGPACK_OBJECT_MAP)
		goto shape;
	*map = &params->via.array.ptr[0];
	return true;
shape:
	rpc_reply_error(r, RPC_E_BAD_PARAMS, "params must be [] or [{name: value, ...}]");
	return false;
}

/* A str or bin object's bytes (never a NULL pointer: msgpack-c leaves an empty one's NULL). */
static bool str_of(const msgpack_object *v, const char **p, size_t *n)
{
	if (v->type == MSGPACK_OBJECT_STR)
		*p = v->via.str.ptr, *n = v->via.str.size;
	else if (v->type == MSGPACK_OBJECT_BIN)
		*p = v->via.bin.ptr, *n = v->via.bin.size;
	else
		return false;
	if (*n == 0)
		*p = "";
	return true;
}

/* The value under key (a str or bin key), or NULL when absent or nil. */
static const msgpack_object *lookup(const msgpack_object *map, const char *key)
{
	size_t n = strlen(key);

	if (!map || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];
		const char *p;
		size_t len;

		if (!str_of(&kv->key, &p, &len))
			continue;
		if (len == n && memcmp(p, key, n) == 0)
			return kv->val.type == MSGPACK_OBJECT_NIL ? NULL : &kv->val;
	}
	return NULL;
}

/* Shared start of the getters: false (error set) when required and missing. */
static bool absent(const msgpack_object *v, const char *key, bool required, bool *found, struct rpc_reply *r,
		   bool *ok)
{
	if (v)
		return false;
	if (required) {
		rpc_reply_error(r, RPC_E_MISSING_PARAM, "missing param '%s'", key);
		*ok = false;
	} else {
		if (found)
			*found = false;
		*ok = true;
	}
	return true;
}

bool rpc_get_str(const msgpack_object *map, const char *key, bool required, char *buf, size_t len,
		 bool *found, struct rpc_reply *r)
{
	const msgpack_object *v = lookup(map, key);
	const char *p;
	size_t n;
	bool ok;

	if (absent(v, key, required, found, r, &ok))
		return ok;
	if (!str_of(v, &p, &n)) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "param '%s' must be a string", key);
		return false;
	}
	if (n >= len || memchr(p, '\0', n)) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "param '%s' must be a string of at most %zu bytes without NUL",
				key, len ? len - 1 : 0);
		return false;
	}
	memcpy(buf, p, n);
	buf[n] = '\0';
	if (found)
		*found = true;
	return true;
}

bool rpc_get_u64(const msgpack_object *map, const char *key, bool required, uint64_t *out, bool *found,
		 struct rpc_reply *r)
{
	const msgpack_object *v = lookup(map, key);
	uint64_t x;
	bool ok;

	if (absent(v, key, required, found, r, &ok))
		return ok;
	if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		x = v->via.u64;
	} else if ((v->type == MSGPACK_OBJECT_FLOAT64 || v->type == MSGPACK_OBJECT_FLOAT32) &&
		   v->via.f64 >= 0 && v->via.f64 < 18446744073709551616.0 &&
		   (double)(uint64_t)v->via.f64 == v->via.f64) {
		/* JSON clients (the HTTP shim) may hand integers over as doubles. */
		x = (uint64_t)v->via.f64;
	} else {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "param '%s' must be an unsigned integer", key);
		return false;
	}
	*out = x;
	if (found)
		*found = true;
	return true;
}

bool rpc_get_bool(const msgpack_object *map, const char *key, bool *out, bool *found, struct rpc_reply *r)
{
	const msgpack_object *v = lookup(map, key);
	bool ok;

	if (absent(v, key, false, found, r, &ok))
		return ok;
	if (v->type != MSGPACK_OBJECT_BOOLEAN) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "param '%s' must be true or false", key);
		return false;
	}
	*out = v->via.boolean;
	if (found)
		*found = true;
	return true;
}

bool rpc_get_str_array(const msgpack_object *map, const char *key, char (*bufs)[64], size_t max, size_t *n,
		       struct rpc_reply *r)
{
	const msgpack_object *v = lookup(map, key);

	if (!v) {
		*n = 0;
		return true;
	}
	if (v->type != MSGPACK_OBJECT_ARRAY) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "param '%s' must be an array of strings", key);
		return false;
	}
	if (v->via.array.size > max) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "param '%s' holds more than %zu strings", key, max);
		return false;
	}
	/* Check every element before copying any, so bufs is written only on success. */
	for (uint32_t i = 0; i < v->via.array.size; i++) {
		const char *p;
		size_t len;

		if (!str_of(&v->via.array.ptr[i], &p, &len) || len >= 64 || memchr(p, '\0', len)) {
			rpc_reply_error(r, RPC_E_BAD_PARAMS,
					"param '%s' must be an array of strings of at most 63 bytes without NUL", key);
			return false;
		}
	}
	for (uint32_t i = 0; i < v->via.array.size; i++) {
		const char *p = NULL;
		size_t len = 0;

		str_of(&v->via.array.ptr[i], &p, &len);
		memcpy(bufs[i], p, len);
		bufs[i][len] = '\0';
	}
	*n = v->via.array.size;
	return true;
}
