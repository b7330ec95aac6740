/* SPDX-License-Identifier: MIT */
/*
 * make_store_v1.c: writes the schema 1 store in tests/data/store_v1 that the migration test
 * upgrades. Built by meson, never run by the tests; to regenerate:
 *   rm -rf tests/data/store_v1 && build/tests/make_store_v1 tests/data/store_v1
 * Schema 1 is schema 2 without the vendor in device records, without the "changes" database,
 * and with address-first observations ("obs") and roll-ups ("rollups"): see schema_int.h. Everything is fixed (times, addresses, MACs), so the file is reproducible, and the
 * map is small, so it stays a few pages.
 *
 * Contents: two sweeps of 10.0.0.0/29 at 2021-01-01 00:00 and 01:00 UTC.
 *   10.0.0.1  b8:27:eb:12:34:56 (Raspberry Pi Foundation)  up in both, ARP+ICMP, port 22 open
 *   10.0.0.2  00:22:72:00:00:01 (American Micro-Fuel)      up, then missed once (still up)
 *   10.0.0.3  02:00:00:00:00:03 (locally administered: no vendor)  up in both
 *   10.0.0.4  no MAC (ICMP only)                            up in the second sweep only
 */
#include "schema_int.h"

#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define T0 1609459200000000ull /* 2021-01-01T00:00:00Z */
#define HOUR 3600000000ull
#define NET 0x0a000000u

struct obs_spec {
	uint32_t host;
	int sweep;        /* 1 or 2 */
	bool up;
	uint8_t probes;
	uint32_t rtt;
};

static int put(MDB_txn *txn, MDB_dbi dbi, void *k, size_t kl, void *v, size_t vl)
{
	MDB_val key = { kl, k }, val = { vl, v };
	int rc = mdb_put(txn, dbi, &key, &val, 0);

	if (rc)
		fprintf(stderr, "make_store_v1: put: %s\n", mdb_strerror(rc));
	return rc;
}

static int put_meta_u64(MDB_txn *txn, MDB_dbi meta, const char *name, uint64_t v)
{
	uint8_t buf[8];

	schema_u64_encode(buf, v);
	return put(txn, meta, (void *)name, strlen(name), buf, 8);
}

int main(int argc, char **argv)
{
	static const struct obs_spec obs[] = {
		{ 1, 1, true, STORE_PROBE_ARP | STORE_PROBE_ICMP, 310 },
		{ 1, 2, true, STORE_PROBE_ARP | STORE_PROBE_ICMP, 290 },
		{ 2, 1, true, STORE_PROBE_ARP, 500 },
		{ 2, 2, false, 0, 0 },
		{ 3, 1, true, STORE_PROBE_ARP, 700 },
		{ 3, 2, true, STORE_PROBE_ARP, 650 },
		{ 4, 2, true, STORE_PROBE_ICMP, 1200 },
	};
	static const uint8_t macs[5][6] = {
		{ 0 },
		{ 0xb8, 0x27, 0xeb, 0x12, 0x34, 0x56 },
		{ 0x00, 0x22, 0x72, 0x00, 0x00, 0x01 },
		{ 0x02, 0x00, 0x00, 0x00, 0x00, 0x03 },
		{ 0 },
	};
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta, dev, obsdb, roll, sweeps;
	uint8_t k[12], v[SCHEMA_SWEEP_MAX_LEN];
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: make_store_v1 DIR (DIR is created; it must not hold a store)\n");
		return 2;
	}
	mkdir(argv[1], 0750);
	if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_maxdbs(env, 8)) ||
	    (rc = mdb_env_set_mapsize(env, 256 << 10)) || (rc = mdb_env_open(env, argv[1], 0, 0640)) ||
	    (rc = mdb_txn_begin(env, NULL, 0, &txn))) {
		fprintf(stderr, "make_store_v1: %s: %s\n", argv[1], mdb_strerror(rc));
		return 1;
	}
	if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &meta)) || (rc = mdb_dbi_open(txn, "devices", MDB_CREATE, &dev)) ||
	    (rc = mdb_dbi_open(txn, "obs", MDB_CREATE, &obsdb)) ||
	    (rc = mdb_dbi_open(txn, "rollups", MDB_CREATE, &roll)) ||
	    (rc = mdb_dbi_open(txn, "sweeps", MDB_CREATE, &sweeps))) {
		fprintf(stderr, "make_store_v1: %s\n", mdb_strerror(rc));
		return 1;
	}
	schema_u32_encode(v, 1);
	if (put(txn, meta, SCHEMA_META_VERSION, strlen(SCHEMA_META_VERSION), v, 4) ||
	    put_meta_u64(txn, meta, SCHEMA_META_CREATED, T0 - HOUR) || put_meta_u64(txn, meta, SCHEMA_META_NEXT_SWEEP, 3))
		return 1;

	for (int s = 1; s <= 2; s++) {
		struct store_sweep sw = {
			.id = (uint64_t)s, .start_us = T0 + (uint64_t)(s - 1) * HOUR,
			.end_us = T0 + (uint64_t)(s - 1) * HOUR + 2000000, .probes = STORE_PROBE_ARP | STORE_PROBE_ICMP,
			.rate_pps = 1000, .retries = 1, .addresses = 8, .sent = 16, .replies = s == 1 ? 3 : 3,
			.live = 3, .ended = STORE_END_WAIT, .complete = true, .new_devices = s == 1 ? 3 : 1,
		};
		snprintf(sw.targets, sizeof(sw.targets), "10.0.0.0/29");
		schema_key_sweep(k, sw.id);
		if (put(txn, sweeps, k, 8, v, schema_sweep_encode(v, &sw, 1)))
			return 1;
	}

	for (uint32_t h = 1; h <= 4; h++) {
		struct schema_device sd = { .rollup_hour = SCHEMA_NO_HOUR };
		struct store_device *d = &sd.d;
		d->ip = NET + h;
		if (macs[h][0] || macs[h][5]) {
			d->has_mac = true;
			memcpy(d->mac, macs[h], 6);
		}
		d->state = STORE_STATE_UP;
		for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++) {
			const struct obs_spec *o = &obs[i];
			uint64_t t = T0 + (uint64_t)(o->sweep - 1) * HOUR;
			uint32_t hour = (uint32_t)(t / HOUR);
			if (o->host != h)
				continue;
			if (hour != sd.rollup_hour) {
				struct schema_totals tot = { d->probes_total, d->answers_total, d->changes_total };
				schema_key_ip_hour(k, d->ip, hour);
				if (put(txn, roll, k, 8, v, schema_totals_encode(v, &tot)))
					return 1;
				sd.rollup_hour = hour;
			}
			d->probes_total++;
			if (o->up) {
				d->answers_total++;
				d->missed = 0;
				d->last_seen_us = t + 1000;
				d->last_rtt_us = o->rtt;
				d->probes |= o->probes;
				if (!d->first_seen_us) {
					d->first_seen_us = t + 1000;
					d->last_change_us = t;
					d->changes_total++;
				}
			} else {
				d->missed++;
			}
			sd.last_sweep = (uint64_t)o->sweep;
			sd.last_obs_us = t;
			struct schema_obs so = { (uint64_t)o->sweep, t, o->up ? STORE_STATE_UP : STORE_STATE_DOWN,
						 o->probes, o->rtt };
			schema_key_ip_time(k, d->ip, t);
			if (put(txn, obsdb, k, 12, v, schema_obs_encode(v, &so, 1)))
				return 1;
		}
		if (h == 1) {
			d->n_open = 1;
			d->open_ports[0] = 22;
		}
		schema_key_ip(k, d->ip);
		if (put(txn, dev, k, 4, v, schema_device_encode(v, &sd, 1)))
			return 1;
	}
	if ((rc = mdb_txn_commit(txn))) {
		fprintf(stderr, "make_store_v1: commit: %s\n", mdb_strerror(rc));
		return 1;
	}
	mdb_env_close(env);
	return 0;
}
