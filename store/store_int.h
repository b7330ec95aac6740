/* SPDX-License-Identifier: MIT */
/* store_int.h: the store's private state and the transaction helpers its files share. */
#ifndef LNMT_STORE_INT_H
#define LNMT_STORE_INT_H

#include "schema_int.h"
#include "store.h"

#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STORE_DEFAULT_MAP (64ull << 20)
#define STORE_DEFAULT_OUI "/usr/share/ieee-data/oui.txt"
#define STORE_FILE "data.mdb"
/* Results per write transaction: a /16 sweep in one, sorted, so its records are appended (see
 * recorder.c); it also bounds a transaction's dirty pages and so its memory. */
#define STORE_BATCH 65536
/* Named databases an environment may hold: every one of every schema, with room to spare. */
#define STORE_MAX_DBS 16

struct oui_table;

struct store {
	MDB_env *env;
	/* db_obs and db_roll are "observations" and "hourly"; while a schema 1 store is being
	 * migrated, its "obs" and "rollups". */
	MDB_dbi db_meta, db_dev, db_obs, db_roll, db_chg, db_sweep;
	bool has_changes;          /* the "changes" database is open */
	MDB_dbi db_series;         /* "subnet_hourly" (schema_int.h) */
	bool has_series;           /* it is open: always, unless read-only and older */
	MDB_dbi db_notes;          /* "notes": names and notes (notes.c) */
	bool has_notes;            /* it is open: always, unless read-only and older */
	bool old_layout;           /* schema 2 in schema 1's layout: to be migrated (migrate.c) */
	uint32_t version;          /* schema of the open store: always STORE_SCHEMA_VERSION */
	bool read_only;
	int lock_fd;               /* writer.lock, locked (writers); -1 when read-only */
	/* Why writes fail, once store_write_cause() found out (a positive errno; 0: not known).
	 * LMDB says EIO for a short write and MDB_PANIC once its environment gave up: this keeps
	 * the file system's word for it. Any thread (atomic). */
	int write_cause;
	unsigned offline_after;
	char dir[PATH_MAX];
	char path[PATH_MAX];       /* dir/data.mdb, for messages */

	/*
	 * map_lock keeps this process's transactions out while the map is resized: every
	 * transaction (read or write) holds it shared; mdb_env_set_mapsize() runs with it
	 * exclusive, so no thread is inside the old mapping when it goes away. Writer-preferring,
	 * so a resize is never starved by a stream of readers.
	 */
	pthread_rwlock_t map_lock;
	size_t map_size;           /* under map_lock */

	/* Reset read-only transactions kept for reuse: renewing one costs far less than
	 * mdb_txn_begin() (it keeps its reader slot; MDB_NOTLS ties the slot to the txn). */
	pthread_mutex_t pool_lock;
	MDB_txn **pool;
	size_t n_pool, cap_pool;

	/* Commits that reached the page cache, and how many of them the last completed flush
	 * covered (atomics): store_close() flushes only when some were not, so a sweep's one
	 * flush at its end is not followed by a second, empty one. */
	uint64_t commits, commits_synced;

	/* The vendor list, loaded on first need. */
	pthread_mutex_t oui_lock;
	char *oui_path;            /* NULL: no vendor list */
	struct oui_table *oui;
	bool oui_tried;
};

/* Opens with an explicit initial map size (0 = STORE_DEFAULT_MAP); tests use a tiny one to
 * exercise growth. */
int store_open_ex(struct store **out, const char *dir, const struct store_options *opt, size_t map_size,
		  char *err, size_t errlen);

/* mdb_env_sync(force): flushes every commit so far to the disk. Returns 0 or -errno. */
int store_sync(struct store *st);

/* ---- errors ---- */

/* Maps an LMDB return code to -errno (LMDB's own codes to the nearest errno); -errno and 0
 * pass through. */
int store_errno(int mdb_rc);
/* Writes "<path>: <formatted text>" into err (err may be NULL). */
void store_err(char *err, size_t errlen, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ---- transactions ---- */

/* A read snapshot. Nested use in one thread (a callback that reads again) is allowed. */
struct store_rd {
	struct store *st;
	MDB_txn *txn;
	bool nested;               /* an outer snapshot of this store is open in this thread */
	struct store_rd *outer;
};

/* Begins a read snapshot; 0 or -errno. Holds map_lock shared until store_rd_end(). */
int store_rd_begin(struct store *st, struct store_rd *rd);
void store_rd_end(struct store_rd *rd);

/*
 * Runs fn inside one write transaction and commits. On MDB_MAP_FULL (returned by fn or the
 * commit) it aborts, doubles the map and runs fn again from scratch: fn must not change any
 * state outside the transaction except through outputs it resets at its start. Another
 * process's growth (MDB_MAP_RESIZED) is adopted the same way. Returns 0, -errno, or an LMDB
 * code mapped by store_errno() (MDB_TXN_FULL comes back as -E2BIG).
 */
typedef int (*store_wr_fn)(struct store *st, MDB_txn *txn, void *arg);
int store_wr_run(struct store *st, store_wr_fn fn, void *arg);

/* ---- recorder (recorder.c) ---- */

/* Waits until the writer has stored (or failed to store) every result queued before the call;
 * returns 0 or the error that stopped the writer. Any thread but the writer's. For tests that
 * need two recorders' transactions in a given order. */
int store_recorder_sync(struct store_recorder *rec);

/* ---- vendors (oui.c) ---- */

/* Copies the vendor of mac into out (STORE_VENDOR_LEN), "" when unknown or when the list is
 * missing. Loads the list on first use; thread-safe. */
void store_vendor_of(struct store *st, const uint8_t mac[6], char out[STORE_VENDOR_LEN]);
void store_oui_free(struct oui_table *t);

/* ---- migrations (migrate.c) ---- */

/* Brings a store of schema `from` (older than STORE_SCHEMA_VERSION, or st->old_layout) to the
 * current schema in one write transaction; st's DB handles for the new schema are opened. */
int store_migrate(struct store *st, uint32_t from, char *err, size_t errlen);

/* ---- names and notes (notes.c) ---- */

/* Opens the "notes" database (creating it unless st is read-only, where a store without it
 * reads as having no notes). store_open_ex calls it once, before st is shared. */
int store_notes_open(struct store *st, char *err, size_t errlen);
/* Sets d->name and d->note from the notes of d->ip in txn ("" when none, or when the record is
 * damaged: store_check reports that). 0 or an LMDB code. */
int store_notes_fill(struct store *st, MDB_txn *txn, struct store_device *d);
/* store_filter.text: a case-insensitive substring of the name or the note (NULL or "": any). */
bool store_notes_match(const struct store_device *d, const char *text);
/* For store_check: the number of notes and of bad ones (key, record or text). 0 or an LMDB code. */
int store_notes_check(struct store *st, MDB_txn *txn, uint64_t *count, uint64_t *bad);

/* ---- opening (store.c), shared with restore ---- */

/* Checks the file's LMDB header and length before LMDB maps it; err names path. */
int store_precheck_file(const char *path, off_t size, char *err, size_t errlen);

enum store_found { STORE_FOUND_EMPTY, STORE_FOUND_STORE };
/* With st->env open and st->path set: reads the schema version in a read-only transaction and
 * opens the databases; refuses (err naming st->path) a file that is not an lnmt store or is
 * newer than this lnmt. */
int store_inspect(struct store *st, enum store_found *found, uint32_t *version, char *err, size_t errlen);

/* ---- the writer lock, interrupted sweeps, why writes fail (writer.c) ---- */

/* Takes the writer lock of st->dir for this process, waiting up to wait_ms (< 0: not at all)
 * for another holder; -EBUSY with err naming the holder. Sets st->lock_fd. */
int store_lock_take(struct store *st, int wait_ms, char *err, size_t errlen);
/* Releases it (st->lock_fd -1). */
void store_lock_drop(struct store *st);

/* Marks every sweep recorded as running interrupted (a writer just took the lock: their
 * processes are gone). *n (may be NULL) is how many. 0 or -errno, err naming the file. */
int store_recover_sweeps(struct store *st, uint64_t *n, char *err, size_t errlen);

/* Who writes, as a reader sees it; filled on first use by store_sweep_orphaned(). */
struct store_writer_view {
	bool known;     /* looked */
	bool held;      /* a process holds the writer lock */
	pid_t pid;      /* its pid; 0 when it could not be read */
};
/* Whether s, recorded as running, belongs to no live process: nobody holds the writer lock, or
 * a process other than the one that recorded it. false for a sweep that is not running, and
 * when the lock cannot be looked at (it then reads as it is stored). */
bool store_sweep_orphaned(struct store *st, struct store_writer_view *w, const struct store_sweep *s);
/*
 * For readers: when s (read in an open snapshot) is orphaned, reads it again in a new snapshot,
 * taken after the lock was looked at, and sets *s to that record, with RUNNING made
 * INTERRUPTED (as the next writer will record it). Re-reading keeps a sweep whose process ended
 * it and closed the store between the first snapshot and the look from reading interrupted.
 * 0 or -errno.
 */
int store_sweep_settle(struct store *st, struct store_writer_view *w, struct store_sweep *s);

/*
 * After a failed write (rc: what LMDB returned, an errno such as EIO or MDB_PANIC), what the
 * file system says: ENOSPC, EDQUOT or EROFS when a small probe write into the store's
 * directory fails so, remembered in st->write_cause; returns it as -errno, or store_errno(rc)
 * when that says nothing more.
 */
int store_write_cause(struct store *st, int rc);

/* ---- helpers ---- */

uint64_t store_now_us(void);
/* n with thousands separators ("65,536"), into buf; returns buf. */
const char *store_count_text(uint64_t n, char buf[32]);
/* First and last address of net/mask (mask 0: everything). */
void store_net_span(uint32_t net, uint32_t mask, uint32_t *first, uint32_t *last);
/* Reads the current meta schema version; -ENOENT when there is no meta database or record. */
int store_read_version(struct store *st, MDB_txn *txn, uint32_t *out);

#endif
