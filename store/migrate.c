/* SPDX-License-Identifier: MIT */
/* migrate.c: brings a store written by an older lnmt to the current schema, in place. */
#include "store_int.h"

#include "err.h"

#include <errno.h>
#include <string.h>

/*
 * Schema 1 -> 2: device records gain the vendor (looked up from the MAC) and the "changes"
 * database appears (empty: schema 1 kept no change history). One write transaction, so a
 * crash or a full disk leaves the store at schema 1, untouched, and the next open tries again.
 */
static int migrate_1_fn(struct store *st, MDB_txn *txn, void *arg)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v, vk = { strlen(SCHEMA_META_VERSION), SCHEMA_META_VERSION }, vv;
	uint8_t buf[SCHEMA_DEVICE_MAX_LEN], vbuf[4], key[4];
	uint64_t *migrated = arg;
	int rc;

	*migrated = 0;
	if ((rc = mdb_dbi_open(txn, "changes", MDB_CREATE, &st->db_chg)))
		return rc;
	if ((rc = mdb_cursor_open(txn, st->db_dev, &cur)))
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct schema_device sd;
		if (k.mv_size != 4 || schema_device_decode(&sd, v.mv_data, v.mv_size, 1)) {
			rc = MDB_CORRUPTED;
			goto out;
		}
		if (sd.d.has_mac)
			store_vendor_of(st, sd.d.mac, sd.d.vendor);
		/* The key must not point into the page: a longer record is deleted and re-added. */
		memcpy(key, k.mv_data, 4);
		k = (MDB_val){ 4, key };
		v = (MDB_val){ schema_device_encode(buf, &sd, 2), buf };
		if ((rc = mdb_cursor_put(cur, &k, &v, MDB_CURRENT)))
			goto out;
		(*migrated)++;
	}
	if (rc != MDB_NOTFOUND)
		goto out;
	vv = (MDB_val){ schema_u32_encode(vbuf, 2), vbuf };
	rc = mdb_put(txn, st->db_meta, &vk, &vv, 0);
out:
	mdb_cursor_close(cur);
	return rc;
}

int store_migrate(struct store *st, uint32_t from, char *err, size_t errlen)
{
	uint64_t migrated;
	int rc;

	if (from != 1) {
		store_err(err, errlen, st->path, "no migration from schema %u", from);
		return -EPROTONOSUPPORT;
	}
	if ((rc = store_wr_run(st, migrate_1_fn, &migrated))) {
		store_err(err, errlen, st->path, "migration from schema 1 to 2 failed (store left at schema 1): %s",
			  lnmt_strerror(rc));
		return rc;
	}
	st->has_changes = true;
	return store_errno(mdb_env_sync(st->env, 1));
}
