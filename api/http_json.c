/* SPDX-License-Identifier: MIT */
/* http_json.c: generic MessagePack <-> JSON conversion for lnmt-http. */
#include "http.h"

#include <stdlib.h>
#include <string.h>

/* A string from len bytes that may not be UTF-8: as is when valid, else with every byte
 * outside ASCII replaced by '?'. */
static json_t *str_json(const char *p, size_t len)
{
	json_t *j = json_stringn(p, len);
	if (j)
		return j;
	char *copy = malloc(len + 1);
	if (!copy)
		return NULL;
	for (size_t i = 0; i < len; i++)
		copy[i] = (p[i] > 0 && (unsigned char)p[i] < 0x80) ? p[i] : '?';
	j = json_stringn(copy, len);
	free(copy);
	return j;
}

json_t *http_msgpack_to_json(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > (uint64_t)INT64_MAX)
			return json_real((double)o->via.u64);
		return json_integer((json_int_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer((json_int_t)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return json_real(o->via.f64);
	case MSGPACK_OBJECT_STR:
		return str_json(o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_BIN:
		return str_json(o->via.bin.ptr, o->via.bin.size);
	case MSGPACK_OBJECT_ARRAY: {
		json_t *a = json_array();
		for (uint32_t i = 0; a && i < o->via.array.size; i++)
			json_array_append_new(a, http_msgpack_to_json(&o->via.array.ptr[i]));
		return a;
	}
	case MSGPACK_OBJECT_MAP: {
		json_t *m = json_object();
		for (uint32_t i = 0; m && i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			json_t *v = http_msgpack_to_json(&kv->val);
			if (kv->key.type == MSGPACK_OBJECT_STR) {
				char *k = strndup(kv->key.via.str.ptr, kv->key.via.str.size);
				if (k)
					json_object_set_new(m, k, v);
				else
					json_decref(v);
				free(k);
			} else {
				json_t *kj = http_msgpack_to_json(&kv->key);
				char *k = kj ? json_dumps(kj, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
				if (k)
					json_object_set_new(m, k, v);
				else
					json_decref(v);
				free(k);
				json_decref(kj);
			}
		}
		return m;
	}
	default:
		return json_null();
	}
}

void http_json_pack(msgpack_packer *pk, const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *v;
		msgpack_pack_map(pk, json_object_size(j));
		json_object_foreach((json_t *)j, k, v) {
			size_t n = strlen(k);
			msgpack_pack_str(pk, n);
			msgpack_pack_str_body(pk, k, n);
			http_json_pack(pk, v);
		}
		break;
	}
	case JSON_ARRAY:
		msgpack_pack_array(pk, json_array_size(j));
		for (size_t i = 0; i < json_array_size(j); i++)
			http_json_pack(pk, json_array_get(j, i));
		break;
	case JSON_STRING: {
		size_t n = json_string_length(j);
		msgpack_pack_str(pk, n);
		msgpack_pack_str_body(pk, json_string_value(j), n);
		break;
	}
	case JSON_INTEGER: {
		json_int_t v = json_integer_value(j);
		if (v >= 0)
			msgpack_pack_uint64(pk, (uint64_t)v);
		else
			msgpack_pack_int64(pk, (int64_t)v);
		break;
	}
	case JSON_REAL:
		msgpack_pack_double(pk, json_real_value(j));
		break;
	case JSON_TRUE:
		msgpack_pack_true(pk);
		break;
	case JSON_FALSE:
		msgpack_pack_false(pk);
		break;
	default:
		msgpack_pack_nil(pk);
		break;
	}
}

void http_pack_json_params(void *arg, msgpack_packer *pk)
{
	const json_t *j = arg;
	if (!j) {
		msgpack_pack_array(pk, 0);
		return;
	}
	msgpack_pack_array(pk, 1);
	http_json_pack(pk, j);
}
