/* SPDX-License-Identifier: MIT */
/* migrate.c: brings a store written by an older lnmt to the current schema, in place. */
#include "store_int.h"

#include "err.h"

#include <errno.h>
#include <string.h>

/*
 * Schema 1 -> 2, in one write transaction, so a crash or a full disk leaves the store at
 * schema 1, untouched, and the next open tries again:
 *   - device records gain the vendor, looked up from the MAC;
 *   - "obs" (ip, time -> sweep id, ...) becomes "observations" (sweep id, ip -> time, ...);
 *   - "rollups" (ip, hour) becomes "hourly" (hour, ip), same values;
 *   - "changes" appears, empty: schema 1 kept no change history.
 * On entry st->db_obs and st->db_roll are schema 1's databases (store_inspect opened them).
 * A schema 2 store in the early layout (st->old_layout) gets the same conversion of
 * observations and roll-ups; its devices already have their vendors.
 */
static int migrate_devices(struct store *st, MDB_txn *txn)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	uint8_t buf[SCHEMA_DEVICE_MAX_LEN], key[4];
	int rc;

	if ((rc = mdb_cursor_open(txn, st->db_dev, &cur)))
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct schema_device sd;
		if (k.mv_size != 4 || schema_device_decode(&sd, v.mv_data, v.mv_size, 1)) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (sd.d.has_mac)
			store_vendor_of(st, sd.d.mac, sd.d.vendor);
		/* The key must not point into the page: a longer record is deleted and re-added. */
		memcpy(key, k.mv_data, 4);
		k = (MDB_val){ 4, key };
		v = (MDB_val){ schema_device_encode(buf, &sd, 2), buf };
		if ((rc = mdb_cursor_put(cur, &k, &v, MDB_CURRENT)))
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int migrate_obs(MDB_txn *txn, MDB_dbi from, MDB_dbi to)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	uint8_t key[12], buf[SCHEMA_OBS_LEN];
	int rc;

	if ((rc = mdb_cursor_open(txn, from, &cur)))
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct schema_obs o = { 0 };
		if (k.mv_size != 12 || schema_obs_decode(&o, v.mv_data, v.mv_size, 1)) {
			rc = MDB_CORRUPTED;
			break;
		}
		o.time_us = schema_get_be64((const uint8_t *)k.mv_data + 4);
		schema_key_sweep_ip(key, o.sweep_id, schema_get_be32(k.mv_data));
		MDB_val nk = { sizeof(key), key }, nv = { schema_obs_encode(buf, &o, 2), buf };
		if ((rc = mdb_put(txn, to, &nk, &nv, 0)))
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int migrate_rollups(MDB_txn *txn, MDB_dbi from, MDB_dbi to)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	uint8_t key[8];
	int rc;

	if ((rc = mdb_cursor_open(txn, from, &cur)))
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct schema_totals t;
		if (k.mv_size != 8 || schema_totals_decode(&t, v.mv_data, v.mv_size)) {
			rc = MDB_CORRUPTED;
			break;
		}
		schema_key_hour_ip(key, schema_get_be32((const uint8_t *)k.mv_data + 4), schema_get_be32(k.mv_data));
		MDB_val nk = { sizeof(key), key };
		if ((rc = mdb_put(txn, to, &nk, &v, 0)))
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

struct migrate_arg {
	uint32_t from;
	MDB_dbi old_obs, old_roll;
};

static int migrate_1_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct migrate_arg *a = arg;
	MDB_val vk = { strlen(SCHEMA_META_VERSION), SCHEMA_META_VERSION }, vv;
	uint8_t vbuf[4];
	int rc;

	/* Handles opened in a transaction that aborts are gone: reopen on every attempt. */
	if ((rc = mdb_dbi_open(txn, "obs", 0, &a->old_obs)) || (rc = mdb_dbi_open(txn, "rollups", 0, &a->old_roll)) ||
	    (rc = mdb_dbi_open(txn, "observations", MDB_CREATE, &st->db_obs)) ||
	    (rc = mdb_dbi_open(txn, "hourly", MDB_CREATE, &st->db_roll)) ||
	    (rc = mdb_dbi_open(txn, "changes", MDB_CREATE, &st->db_chg)))
		return rc;
	if ((a->from < 2 && (rc = migrate_devices(st, txn))) || (rc = migrate_obs(txn, a->old_obs, st->db_obs)) ||
	    (rc = migrate_rollups(txn, a->old_roll, st->db_roll)))
		return rc;
	if ((rc = mdb_drop(txn, a->old_obs, 1)) || (rc = mdb_drop(txn, a->old_roll, 1)))
		return rc;
	vv = (MDB_val){ schema_u32_encode(vbuf, 2), vbuf };
	return mdb_put(txn, st->db_meta, &vk, &vv, 0);
}

int store_migrate(struct store *st, uint32_t from, char *err, size_t errlen)
{
	struct migrate_arg a = { .from = from };
	int rc;

	if (from != 1 && !(from == 2 && st->old_layout)) {
		store_err(err, errlen, st->path, "no migration from schema %u", from);
		return -EPROTONOSUPPORT;
	}
	if ((rc = store_wr_run(st, migrate_1_fn, &a))) {
		store_err(err, errlen, st->path, "migration from schema %u to 2 failed (store left as it was): %s",
			  from, lnmt_strerror(rc));
		return rc;
	}
	st->has_changes = true;
	st->old_layout = false;
	return store_sync(st);
}
