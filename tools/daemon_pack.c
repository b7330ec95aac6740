/* SPDX-License-Identifier: MIT */
/* daemon_pack.c: packing lnmtd's results (devices, sweeps) and checking request params. */
#include "daemon.h"

#include "cli.h"
#include "targets.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void daemon_log(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n = snprintf(line, sizeof(line), "lnmtd: ");

	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line, so lines of several threads never interleave. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

/* ---- map and array builders ---- */

void mp_init(struct mp *m)
{
	msgpack_sbuffer_init(&m->sb);
	msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
	m->n = 0;
}

void mp_free(struct mp *m)
{
	msgpack_sbuffer_destroy(&m->sb);
}

msgpack_packer *mp_key(struct mp *m, const char *key)
{
	m->n++;
	rpc_pack_str(&m->pk, key);
	return &m->pk;
}

msgpack_packer *mp_elem(struct mp *m)
{
	m->n++;
	return &m->pk;
}

void mp_str(struct mp *m, const char *key, const char *v)
{
	rpc_pack_str(mp_key(m, key), v);
}

void mp_u64(struct mp *m, const char *key, uint64_t v)
{
	msgpack_pack_uint64(mp_key(m, key), v);
}

void mp_bool(struct mp *m, const char *key, bool v)
{
	if (v)
		msgpack_pack_true(mp_key(m, key));
	else
		msgpack_pack_false(mp_key(m, key));
}

void mp_nil(struct mp *m, const char *key)
{
	msgpack_pack_nil(mp_key(m, key));
}

void mp_double(struct mp *m, const char *key, double v)
{
	msgpack_pack_double(mp_key(m, key), v);
}

void mp_time(struct mp *m, const char *key, uint64_t us)
{
	char t[32];

	if (!us)
		mp_nil(m, key);
	else
		mp_str(m, key, cli_format_time_iso(us, t, sizeof(t)));
}

static void emit(struct mp *m, msgpack_packer *pk)
{
	if (m->sb.size)
		pk->callback(pk->data, m->sb.data, m->sb.size);
	mp_free(m);
}

void mp_emit_map(struct mp *m, msgpack_packer *pk)
{
	msgpack_pack_map(pk, m->n);
	emit(m, pk);
}

void mp_emit_array(struct mp *m, msgpack_packer *pk)
{
	msgpack_pack_array(pk, m->n);
	emit(m, pk);
}

/* ---- devices and sweeps ---- */

void daemon_pack_device(struct mp *m, const struct store_device *d)
{
	char ip[16], mac[18], probes[16];

	mp_str(m, "ip", ipv4_format(d->ip, ip));
	mp_str(m, "state", d->state == STORE_STATE_UP ? "up" : "down");
	if (d->has_mac) {
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", d->mac[0], d->mac[1], d->mac[2], d->mac[3],
			 d->mac[4], d->mac[5]);
		mp_str(m, "mac", mac);
	} else {
		mp_nil(m, "mac");
	}
	mp_str(m, "vendor", d->vendor);
	mp_time(m, "first_seen", d->first_seen_us);
	mp_time(m, "last_seen", d->last_seen_us);
	mp_time(m, "last_change", d->last_change_us);
	mp_u64(m, "rtt_us", d->last_rtt_us);
	cli_probes_text(d->probes, probes, sizeof(probes));
	mp_str(m, "probes", probes);
	msgpack_packer *pk = mp_key(m, "open_ports");
	msgpack_pack_array(pk, d->n_open);
	for (uint16_t i = 0; i < d->n_open; i++)
		msgpack_pack_uint16(pk, d->open_ports[i]);
	mp_u64(m, "missed", d->missed);
	mp_str(m, "name", d->name);
	mp_str(m, "note", d->note);
}

void daemon_summary_of(const struct store_sweep *s, struct dsummary *out)
{
	*out = (struct dsummary){
		.id = s->id, .probes = s->probes, .start_us = s->start_us, .end_us = s->end_us,
		.addresses = s->addresses, .sent = s->sent, .replies = s->replies, .live = s->live,
		.new_devices = s->new_devices, .went_up = s->went_up, .went_down = s->went_down,
		.ended = s->ended, .complete = s->complete,
	};
	snprintf(out->targets, sizeof(out->targets), "%s", s->targets);
	/* The store's word for how it ended, but for the ends that probed everything: done. A
	 * running record is one of ours (lnmtd holds the writer lock; the store reads a dead
	 * process's sweep as interrupted). */
	snprintf(out->state, sizeof(out->state), "%s",
		 store_sweep_end_probed_all(s->ended) ? "done" : store_sweep_end_name(s->ended));
}

void daemon_pack_summary(struct mp *m, const struct dsummary *s)
{
	char probes[16];
	uint64_t end = s->end_us ? s->end_us : cli_now_us();

	mp_u64(m, "id", s->id);
	if (s->job_id)
		mp_u64(m, "job", s->job_id);
	mp_str(m, "state", s->state);
	mp_str(m, "targets", s->targets);
	cli_probes_text(s->probes, probes, sizeof(probes));
	mp_str(m, "probes", probes);
	mp_time(m, "start", s->start_us);
	mp_time(m, "end", s->end_us);
	mp_u64(m, "elapsed_ms", end > s->start_us ? (end - s->start_us) / 1000 : 0);
	mp_u64(m, "addresses", s->addresses);
	mp_u64(m, "sent", s->sent);
	mp_u64(m, "replies", s->replies);
	mp_u64(m, "live", s->live);
	mp_u64(m, "new", s->new_devices);
	mp_u64(m, "went_up", s->went_up);
	mp_u64(m, "went_down", s->went_down);
	if (s->ended != STORE_END_RUNNING) {
		mp_str(m, "ended", store_sweep_end_name(s->ended));
		mp_bool(m, "complete", s->complete);
	}
	if (s->error[0])
		mp_str(m, "error", s->error);
}

/* ---- params ---- */

bool daemon_check_keys(const msgpack_object *map, const char *method, const char *const *allowed,
		       struct rpc_reply *r)
{
	if (map->type != MSGPACK_OBJECT_MAP)
		return true;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;
		bool ok = false;
		if (k->type == MSGPACK_OBJECT_STR)
			for (const char *const *a = allowed; *a && !ok; a++)
				ok = strlen(*a) == k->via.str.size && !memcmp(*a, k->via.str.ptr, k->via.str.size);
		if (ok)
			continue;
		char list[256];
		size_t off = 0;
		list[0] = '\0';
		for (const char *const *a = allowed; *a && off < sizeof(list); a++)
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", off ? ", " : "", *a);
		if (k->type == MSGPACK_OBJECT_STR)
			rpc_reply_error(r, RPC_E_BAD_PARAMS, "unknown param '%.*s': %s takes %s", (int)(k->via.str.size > 64 ? 64 : k->via.str.size),
					k->via.str.ptr, method, off ? list : "none");
		else
			rpc_reply_error(r, RPC_E_BAD_PARAMS, "param names must be strings: %s takes %s", method,
					off ? list : "none");
		return false;
	}
	return true;
}

bool daemon_parse_subnet(const char *s, const char *key, uint32_t *net, uint32_t *mask, struct rpc_reply *r)
{
	char err[TARGET_ERR_LEN];
	struct target_range rg;

	if (target_parse_range(s, &rg, err, sizeof(err)) ||
	    ((rg.last - rg.first + 1ull) & (rg.last - rg.first)) || /* a CIDR block is a power of two */
	    (rg.first & ~(rg.last - rg.first)) != rg.first) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "bad %s '%s': expected a CIDR such as 198.18.0.0/16", key, s);
		return false;
	}
	*mask = ~(rg.last - rg.first);
	*net = rg.first & *mask;
	return true;
}

bool daemon_parse_ip(const char *s, const char *key, uint32_t *ip, struct rpc_reply *r)
{
	char err[TARGET_ERR_LEN];
	struct target_range rg;

	if (target_parse_range(s, &rg, err, sizeof(err)) || rg.first != rg.last) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "bad %s '%s': expected an IPv4 address such as 198.19.0.7", key, s);
		return false;
	}
	*ip = rg.first;
	return true;
}
