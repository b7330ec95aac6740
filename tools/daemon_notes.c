/* SPDX-License-Identifier: MIT */
/* daemon_notes.c: the methods that name and annotate devices: devices.annotate, devices.import.
 * Each change is also announced to "device" subscribers (device.named, device.imported), so that
 * dashboards and caches of the device list learn of it. */
#include "daemon.h"

#include "cli.h"
#include "err.h"
#include "targets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Text params are read into buffers larger than the store takes, so that the store's own check
 * (store_note_check) says how long a value is and what the limit is; past these, the params
 * reader refuses them as too long. */
#define NAME_BUF (4 * STORE_NAME_LEN)
#define NOTE_BUF (4 * STORE_NOTE_LEN)

static bool params_of(const msgpack_object *params, const char *method, const char *const *allowed,
		      const msgpack_object **map, struct rpc_reply *r)
{
	return rpc_params_map(params, map, r) && daemon_check_keys(*map, method, allowed, r);
}

/* The device as devices.get shows it (without its history) plus seen: true, or, for an address
 * no sweep has found, {ip, name, note, seen: false}. */
/* ---- notifications ---- */

struct named_note {
	bool one;                  /* device.named: ip, name, note; else device.imported: imported */
	uint32_t ip;
	const char *name, *note;   /* NULL: unchanged */
	uint64_t imported;
};

static void pack_named(void *arg, msgpack_packer *pk)
{
	struct named_note *n = arg;
	char ip[16];
	struct mp m;

	mp_init(&m);
	if (n->one) {
		mp_str(&m, "ip", ipv4_format(n->ip, ip));
		if (n->name)
			mp_str(&m, "name", n->name);
		if (n->note)
			mp_str(&m, "note", n->note);
	} else {
		mp_u64(&m, "imported", n->imported);
	}
	mp_time(&m, "time", cli_now_us());
	msgpack_pack_array(pk, 1);
	mp_emit_map(&m, pk);
}

static void reply_annotation(struct daemon *d, uint32_t ip, struct rpc_reply *r)
{
	struct store_device dev;
	struct store_note n;
	struct mp m;
	int rc = store_device_get(d->st, ip, &dev);

	mp_init(&m);
	if (!rc) {
		daemon_pack_device(&m, &dev);
		mp_bool(&m, "seen", true);
		mp_emit_map(&m, r->pk);
		return;
	}
	if (rc == -ENOENT)
		rc = store_note_get(d->st, ip, &n);
	if (rc == -ENOENT) {
		memset(&n, 0, sizeof(n)); /* both cleared: the record is gone */
		rc = 0;
	}
	if (rc) {
		mp_free(&m);
		rpc_reply_error(r, RPC_E_INTERNAL, "reading the device back: %s", lnmt_strerror(rc));
		return;
	}
	char ipb[16];
	mp_str(&m, "ip", ipv4_format(ip, ipb));
	mp_str(&m, "name", n.name);
	mp_str(&m, "note", n.note);
	mp_bool(&m, "seen", false);
	mp_emit_map(&m, r->pk);
}

void m_devices_annotate(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	static const char *const keys[] = { "ip", "name", "note", NULL };
	struct daemon *d = ctx;
	const msgpack_object *map;
	char ipbuf[64], name[NAME_BUF], note[NOTE_BUF], err[256];
	bool found, has_name, has_note;
	uint32_t ip;
	int rc;

	(void)c;
	if (!params_of(params, "devices.annotate", keys, &map, r) ||
	    !rpc_get_str(map, "ip", false, ipbuf, sizeof(ipbuf), &found, r))
		return;
	if (!found) {
		rpc_reply_error(r, RPC_E_MISSING_PARAM,
				"missing ip: devices.annotate takes {ip: \"198.19.0.7\", name: \"printer\", note: \"...\"}");
		return;
	}
	if (!daemon_parse_ip(ipbuf, "ip", &ip, r) ||
	    !rpc_get_str(map, "name", false, name, sizeof(name), &has_name, r) ||
	    !rpc_get_str(map, "note", false, note, sizeof(note), &has_note, r))
		return;
	if (!has_name && !has_note) {
		rpc_reply_error(r, RPC_E_MISSING_PARAM, "missing name and note: give either or both (\"\" clears one)");
		return;
	}
	if (store_note_check(has_name ? name : NULL, has_note ? note : NULL, err, sizeof(err))) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "%s", err);
		return;
	}
	rc = store_note_set(d->st, ip, has_name ? name : NULL, has_note ? note : NULL, err, sizeof(err));
	if (rc) {
		rpc_reply_error(r, rc == -EINVAL ? RPC_E_BAD_PARAMS : RPC_E_INTERNAL, "%s", err);
		return;
	}
	struct named_note nn = { .one = true, .ip = ip, .name = has_name ? name : NULL, .note = has_note ? note : NULL };
	rpc_server_notify(d->srv, "device", "device.named", pack_named, &nn);
	reply_annotation(d, ip, r);
}

/* ---- devices.import ---- */

/* Reads entry i of the devices array into *e, its text into arena at *used (when arena is
 * NULL, only checks and counts the bytes the text needs). false with r naming the entry. */
static bool read_entry(const msgpack_object *o, size_t i, struct store_note_edit *e, char *arena, size_t *used,
		       struct rpc_reply *r)
{
	static const char *const keys[] = { "ip", "name", "note", NULL };
	struct rpc_reply er = { 0 };
	char ipbuf[64], name[NAME_BUF], note[NOTE_BUF], why[256];
	struct target_range rg;
	bool has_ip, has_name, has_note;

	if (o->type != MSGPACK_OBJECT_MAP) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "devices[%zu]: not a map: each entry is {ip, name?, note?}", i);
		return false;
	}
	if (!daemon_check_keys(o, "an entry", keys, &er) ||
	    !rpc_get_str(o, "ip", false, ipbuf, sizeof(ipbuf), &has_ip, &er) ||
	    !rpc_get_str(o, "name", false, name, sizeof(name), &has_name, &er) ||
	    !rpc_get_str(o, "note", false, note, sizeof(note), &has_note, &er)) {
		rpc_reply_error(r, er.error_code, "devices[%zu]: %s", i, er.error_message);
		return false;
	}
	if (!has_ip) {
		rpc_reply_error(r, RPC_E_MISSING_PARAM, "devices[%zu]: missing ip", i);
		return false;
	}
	if (target_parse_range(ipbuf, &rg, why, sizeof(why)) || rg.first != rg.last) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "devices[%zu]: bad ip '%s': expected an IPv4 address such as 198.19.0.7",
				i, ipbuf);
		return false;
	}
	if (store_note_check(has_name ? name : NULL, has_note ? note : NULL, why, sizeof(why))) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "devices[%zu] (%s): %s", i, ipbuf, why);
		return false;
	}
	e->ip = rg.first;
	e->name = e->note = NULL;
	if (has_name) {
		size_t n = strlen(name) + 1;
		if (arena)
			e->name = memcpy(arena + *used, name, n);
		*used += n;
	}
	if (has_note) {
		size_t n = strlen(note) + 1;
		if (arena)
			e->note = memcpy(arena + *used, note, n);
		*used += n;
	}
	return true;
}

void m_devices_import(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	static const char *const keys[] = { "devices", NULL };
	struct daemon *d = ctx;
	const msgpack_object *map, *arr = NULL;
	struct store_note_edit *edits = NULL, scratch;
	struct store_notes_import_report rep;
	char *arena = NULL, err[512];
	size_t n, need = 0, used = 0, a, b;
	int rc;

	(void)c;
	if (!params_of(params, "devices.import", keys, &map, r))
		return;
	for (uint32_t i = 0; i < map->via.map.size; i++)
		if (map->via.map.ptr[i].val.type != MSGPACK_OBJECT_NIL)
			arr = &map->via.map.ptr[i].val; /* the only key daemon_check_keys let through */
	if (!arr) {
		rpc_reply_error(r, RPC_E_MISSING_PARAM,
				"missing devices: devices.import takes {devices: [{ip: \"198.19.0.7\", name: \"printer\", "
				"note: \"...\"}, ...]}");
		return;
	}
	if (arr->type != MSGPACK_OBJECT_ARRAY) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "devices must be an array of {ip, name?, note?}");
		return;
	}
	n = arr->via.array.size;
	if (n > STORE_NOTES_IMPORT_MAX) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "%zu devices in one import, the most is %u: split the list", n,
				STORE_NOTES_IMPORT_MAX);
		return;
	}
	/* Everything is checked before anything is written: the import is all or nothing. */
	for (size_t i = 0; i < n; i++)
		if (!read_entry(&arr->via.array.ptr[i], i, &scratch, NULL, &need, r))
			return;
	if (n && (!(edits = calloc(n, sizeof(*edits))) || !(arena = malloc(need ? need : 1)))) {
		rpc_reply_error(r, RPC_E_INTERNAL, "out of memory for %zu devices", n);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		read_entry(&arr->via.array.ptr[i], i, &edits[i], arena, &used, r);
	rc = store_note_edits_duplicate(edits, n, &a, &b);
	if (rc < 0) {
		rpc_reply_error(r, RPC_E_INTERNAL, "out of memory for %zu devices", n);
		goto out;
	}
	if (rc) {
		char ip[16];
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "devices[%zu] and devices[%zu] are both %s: give each address once",
				a, b, ipv4_format(edits[a].ip, ip));
		goto out;
	}
	rc = store_notes_import(d->st, edits, n, &rep, err, sizeof(err));
	if (rc) {
		rpc_reply_error(r, rc == -EINVAL ? RPC_E_BAD_PARAMS : RPC_E_INTERNAL, "%s", err);
		goto out;
	}
	struct named_note nn = { .imported = rep.imported };
	rpc_server_notify(d->srv, "device", "device.imported", pack_named, &nn);
	struct mp m;
	mp_init(&m);
	mp_u64(&m, "imported", rep.imported);
	mp_u64(&m, "known", rep.known);
	mp_u64(&m, "unknown", rep.unknown);
	mp_emit_map(&m, r->pk);
out:
	free(arena);
	free(edits);
}
