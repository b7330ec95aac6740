/* SPDX-License-Identifier: MIT */
/* migrate.c: brings a store written by an older lnmt to the current schema, in place. */
#include "store_int.h"

#include "err.h"

#include <errno.h>
#include <string.h>

/*
 * Every migration runs in one write transaction, so a crash or a full disk leaves the store as
 * it was, untouched, and the next open tries again.
 *
 * Schema 1 -> 2:
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

/*
 * Schema 2 -> 3: sweep records gain the count of their observations (counted here, one walk
 * over the observations, which are keyed by sweep first) and the pid of their process (0:
 * unknown), and `ended` becomes enum store_sweep_end, which no longer has a value that a record
 * gets by default: old values keep their meaning (schema_end_from_v2), and a record that never
 * got its end (its process died, or it was being recorded by an older lnmt) reads interrupted.
 */
static int migrate_sweeps(struct store *st, MDB_txn *txn)
{
	MDB_cursor *cur = NULL, *obs = NULL;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(txn, st->db_sweep, &cur)) || (rc = mdb_cursor_open(txn, st->db_obs, &obs)))
		goto out;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct store_sweep s;
		uint8_t key[8], okey[12], buf[SCHEMA_SWEEP_MAX_LEN];
		if (k.mv_size != 8 || schema_sweep_decode(&s, v.mv_data, v.mv_size, 2)) {
			rc = MDB_CORRUPTED;
			break;
		}
		memcpy(key, k.mv_data, sizeof(key));
		s.observations = 0;
		schema_key_sweep_ip(okey, s.id, 0);
		MDB_val ok = { sizeof(okey), okey }, ov;
		int orc;
		for (orc = mdb_cursor_get(obs, &ok, &ov, MDB_SET_RANGE);
		     !orc && ok.mv_size == 12 && !memcmp(ok.mv_data, key, 8);
		     orc = mdb_cursor_get(obs, &ok, &ov, MDB_NEXT))
			s.observations++;
		if (orc && orc != MDB_NOTFOUND) {
			rc = orc;
			break;
		}
		/* The key must not point into the page: the longer record is put in its place. */
		k = (MDB_val){ sizeof(key), key };
		v = (MDB_val){ schema_sweep_encode(buf, &s, 3), buf };
		if ((rc = mdb_cursor_put(cur, &k, &v, MDB_CURRENT)))
			break;
	}
out:
	mdb_cursor_close(obs);
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

struct migrate_arg {
	uint32_t from;
	bool old_layout;
	MDB_dbi old_obs, old_roll;
};

static int migrate_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct migrate_arg *a = arg;
	MDB_val vk = { strlen(SCHEMA_META_VERSION), SCHEMA_META_VERSION }, vv;
	uint8_t vbuf[4];
	int rc;

	if (a->from < 2 || a->old_layout) {
		/* Handles opened in a transaction that aborts are gone: reopen on every attempt. */
		if ((rc = mdb_dbi_open(txn, "obs", 0, &a->old_obs)) ||
		    (rc = mdb_dbi_open(txn, "rollups", 0, &a->old_roll)) ||
		    (rc = mdb_dbi_open(txn, "observations", MDB_CREATE, &st->db_obs)) ||
		    (rc = mdb_dbi_open(txn, "hourly", MDB_CREATE, &st->db_roll)) ||
		    (rc = mdb_dbi_open(txn, "changes", MDB_CREATE, &st->db_chg)))
			return rc;
		if ((a->from < 2 && (rc = migrate_devices(st, txn))) ||
		    (rc = migrate_obs(txn, a->old_obs, st->db_obs)) ||
		    (rc = migrate_rollups(txn, a->old_roll, st->db_roll)))
			return rc;
		if ((rc = mdb_drop(txn, a->old_obs, 1)) || (rc = mdb_drop(txn, a->old_roll, 1)))
			return rc;
	}
	if ((rc = migrate_sweeps(st, txn)))
		return rc;
	vv = (MDB_val){ schema_u32_encode(vbuf, STORE_SCHEMA_VERSION), vbuf };
	return mdb_put(txn, st->db_meta, &vk, &vv, 0);
}

int store_migrate(struct store *st, uint32_t from, char *err, size_t errlen)
{
	struct migrate_arg a = { .from = from, .old_layout = st->old_layout };
	int rc;

	if (from < 1 || from > STORE_SCHEMA_VERSION || (from == STORE_SCHEMA_VERSION && !st->old_layout)) {
		store_err(err, errlen, st->path, "no migration from schema %u", from);
		return -EPROTONOSUPPORT;
	}
	if ((rc = store_wr_run(st, migrate_fn, &a))) {
		store_err(err, errlen, st->path, "migration from schema %u to %u failed (store left as it was): %s",
			  from, STORE_SCHEMA_VERSION, lnmt_strerror(rc));
		return rc;
	}
	st->has_changes = true;
	st->old_layout = false;
	return store_sync(st);
}
