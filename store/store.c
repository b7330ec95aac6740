/* SPDX-License-Identifier: MIT */
/* store.c: the LMDB environment: open and checks, transactions, map growth, default dir. */
#include "store_int.h"

#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STORE_MAX_READERS 1022
/* The map doubles up to this, then a full map is a full disk as far as we are concerned. */
#define STORE_MAX_MAP (1ull << 42)

uint64_t store_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

const char *store_count_text(uint64_t n, char buf[32])
{
	char digits[24];
	int len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)n), o = 0;

	for (int i = 0; i < len; i++) {
		if (i && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

void store_net_span(uint32_t net, uint32_t mask, uint32_t *first, uint32_t *last)
{
	*first = net & mask;
	*last = (net & mask) | ~mask;
}

int store_errno(int rc)
{
	if (rc > 0)
		return -rc; /* LMDB passes system errors through as positive errno */
	switch (rc) {
	case MDB_KEYEXIST: return -EEXIST;
	case MDB_NOTFOUND: return -ENOENT;
	case MDB_PAGE_NOTFOUND:
	case MDB_CORRUPTED:
	case MDB_INVALID:
	case MDB_INCOMPATIBLE: return -EBADMSG;
	case MDB_PANIC: return -EIO;
	case MDB_VERSION_MISMATCH: return -EPROTONOSUPPORT;
	case MDB_MAP_FULL: return -ENOSPC;
	case MDB_DBS_FULL: return -EMFILE;
	case MDB_READERS_FULL: return -EUSERS;
	case MDB_TLS_FULL: return -EAGAIN;
	case MDB_TXN_FULL:
	case MDB_CURSOR_FULL:
	case MDB_PAGE_FULL: return -E2BIG;
	case MDB_MAP_RESIZED: return -EAGAIN;
	case MDB_BAD_RSLOT:
	case MDB_BAD_TXN:
	case MDB_BAD_VALSIZE:
	case MDB_BAD_DBI: return -EINVAL;
	default: return rc;
	}
}

void store_err(char *err, size_t errlen, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || !errlen)
		return;
	n = snprintf(err, errlen, "%s: ", path);
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* ---- map growth ---- */

/* Adopts another process's map size (size 0) or sets ours; no transaction of this process may
 * be inside the map meanwhile, which the exclusive map_lock guarantees. */
static int map_resize(struct store *st, size_t size)
{
	MDB_envinfo info;
	int rc;

	pthread_rwlock_wrlock(&st->map_lock);
	if (size) {
		/* Another thread may have grown it while we waited for the lock. */
		mdb_env_info(st->env, &info);
		if (info.me_mapsize >= size) {
			st->map_size = info.me_mapsize;
			pthread_rwlock_unlock(&st->map_lock);
			return 0;
		}
	}
	rc = mdb_env_set_mapsize(st->env, size);
	if (!rc) {
		mdb_env_info(st->env, &info);
		st->map_size = info.me_mapsize;
	}
	pthread_rwlock_unlock(&st->map_lock);
	return store_errno(rc);
}

/* ---- read snapshots ---- */

/*
 * The read snapshots this thread has open, innermost first. Thread-local (not shared state): it
 * lets a callback that reads the store again know that map_lock is already held by its own
 * thread, so it neither takes the lock twice (a waiting resize would deadlock it) nor tries to
 * resize the map under the outer snapshot's feet.
 */
static __thread struct store_rd *rd_top;

static bool rd_is_nested(const struct store *st)
{
	for (const struct store_rd *r = rd_top; r; r = r->outer)
		if (r->st == st)
			return true;
	return false;
}

static MDB_txn *pool_pop(struct store *st)
{
	MDB_txn *txn = NULL;

	pthread_mutex_lock(&st->pool_lock);
	if (st->n_pool)
		txn = st->pool[--st->n_pool];
	pthread_mutex_unlock(&st->pool_lock);
	return txn;
}

static void pool_push(struct store *st, MDB_txn *txn)
{
	pthread_mutex_lock(&st->pool_lock);
	if (st->n_pool == st->cap_pool) {
		size_t cap = st->cap_pool ? 2 * st->cap_pool : 8;
		MDB_txn **p = realloc(st->pool, cap * sizeof(*p));
		if (!p) {
			pthread_mutex_unlock(&st->pool_lock);
			mdb_txn_abort(txn);
			return;
		}
		st->pool = p;
		st->cap_pool = cap;
	}
	st->pool[st->n_pool++] = txn;
	pthread_mutex_unlock(&st->pool_lock);
}

int store_rd_begin(struct store *st, struct store_rd *rd)
{
	bool nested = rd_is_nested(st), resized = false;
	MDB_txn *txn;
	int rc;

	for (;;) {
		if (!nested)
			pthread_rwlock_rdlock(&st->map_lock);
		txn = pool_pop(st);
		if (txn) {
			rc = mdb_txn_renew(txn);
			if (rc)
				mdb_txn_abort(txn);
		} else {
			rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
		}
		if (!rc)
			break;
		if (!nested)
			pthread_rwlock_unlock(&st->map_lock);
		/* Another process grew the map and wrote past our mapping: adopt its size, unless
		 * an outer snapshot of this thread still uses the current mapping. */
		if (rc == MDB_PANIC)
			return store_write_cause(st, rc);
		if (rc != MDB_MAP_RESIZED || nested || resized)
			return store_errno(rc);
		resized = true;
		if ((rc = map_resize(st, 0)))
			return rc;
	}
	*rd = (struct store_rd){ .st = st, .txn = txn, .nested = nested, .outer = rd_top };
	rd_top = rd;
	return 0;
}

void store_rd_end(struct store_rd *rd)
{
	struct store *st = rd->st;

	if (!st)
		return;
	mdb_txn_reset(rd->txn);
	pool_push(st, rd->txn);
	/* Snapshots end in reverse order of their start within a thread. */
	rd_top = rd->outer;
	if (!rd->nested)
		pthread_rwlock_unlock(&st->map_lock);
	rd->st = NULL;
}

/* ---- write transactions ---- */

int store_wr_run(struct store *st, store_wr_fn fn, void *arg)
{
	MDB_txn *txn;
	int rc;

	if (st->read_only)
		return -EROFS;
	for (;;) {
		pthread_rwlock_rdlock(&st->map_lock);
		rc = mdb_txn_begin(st->env, NULL, 0, &txn);
		if (rc) {
			pthread_rwlock_unlock(&st->map_lock);
			if (rc == MDB_MAP_RESIZED) {
				if ((rc = map_resize(st, 0)))
					return rc;
				continue;
			}
			return store_write_cause(st, rc);
		}
		rc = fn(st, txn, arg);
		if (rc)
			mdb_txn_abort(txn);
		else if (!(rc = mdb_txn_commit(txn)))
			__atomic_fetch_add(&st->commits, 1, __ATOMIC_RELEASE);
		pthread_rwlock_unlock(&st->map_lock);
		/* A full disk comes back from the commit as EIO (LMDB's word for a short write):
		 * store_write_cause() asks the file system what it was. */
		if (rc != MDB_MAP_FULL)
			return rc == EIO || rc == MDB_PANIC ? store_write_cause(st, rc) : store_errno(rc);
		size_t size = st->map_size;
		if (size >= STORE_MAX_MAP)
			return -ENOSPC;
		if ((rc = map_resize(st, 2 * size)))
			return rc;
	}
}

int store_sync(struct store *st)
{
	uint64_t upto = __atomic_load_n(&st->commits, __ATOMIC_ACQUIRE), seen;
	int rc = store_errno(mdb_env_sync(st->env, 1));

	/* Commits counted before the flush began are on the disk now; raise the mark to them
	 * (another thread's flush may have raised it further meanwhile). */
	for (seen = __atomic_load_n(&st->commits_synced, __ATOMIC_RELAXED); !rc && seen < upto;)
		if (__atomic_compare_exchange_n(&st->commits_synced, &seen, upto, false, __ATOMIC_RELEASE,
						__ATOMIC_RELAXED))
			break;
	return rc;
}

/* ---- opening ---- */

int store_read_version(struct store *st, MDB_txn *txn, uint32_t *out)
{
	MDB_val k = { strlen(SCHEMA_META_VERSION), SCHEMA_META_VERSION }, v;
	int rc = mdb_get(txn, st->db_meta, &k, &v);

	if (rc)
		return store_errno(rc);
	return schema_u32_decode(out, v.mv_data, v.mv_size);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/*
 * Looks at the file before LMDB does: LMDB would initialise an empty file and would fault
 * (SIGBUS) on a truncated one, and a foreign file deserves a clear message. Checks the magic of
 * the two meta pages (LMDB's layout on 64-bit Linux: 16-byte page header, then magic, version,
 * address, mapsize, two 48-byte DB records whose first holds the page size, last page, txnid)
 * and that the file holds every page the newest meta page refers to.
 */
int store_precheck_file(const char *path, off_t size, char *err, size_t errlen)
{
	enum { HDR = 16, MAGIC = 0xBEEFC0DE, OFF_PSIZE = HDR + 24, OFF_LAST = HDR + 120, OFF_TXN = HDR + 128 };
	uint8_t page[HDR + 136];
	uint64_t best_txn = 0, best_last = 0, psize = 0;
	bool any = false;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		store_err(err, errlen, path, "%s", strerror(errno));
		return rc;
	}
	for (int i = 0; i < 2; i++) {
		off_t off = i ? (off_t)psize : 0;
		if (i && (psize < 512 || psize > 65536 || (psize & (psize - 1))))
			break;
		if (pread(fd, page, sizeof(page), off) != (ssize_t)sizeof(page))
			continue;
		if (get_le32(page + HDR) != MAGIC || get_le32(page + HDR + 4) != 1)
			continue;
		if (!i)
			psize = get_le32(page + OFF_PSIZE);
		uint64_t txn = get_le64(page + OFF_TXN);
		if (!any || txn > best_txn)
			best_txn = txn, best_last = get_le64(page + OFF_LAST);
		any = true;
	}
	close(fd);
	if (!any || psize < 512 || psize > 65536 || (psize & (psize - 1))) {
		store_err(err, errlen, path, "not an LMDB file or corrupt");
		return -EBADMSG;
	}
	if (best_last >= (uint64_t)size / psize) {
		store_err(err, errlen, path, "corrupt: truncated (%lld bytes, the store needs %llu)",
			  (long long)size, (unsigned long long)((best_last + 1) * psize));
		return -EBADMSG;
	}
	return 0;
}

static int open_dbi(MDB_txn *txn, const char *name, unsigned flags, MDB_dbi *out, const char *path, char *err,
		    size_t errlen)
{
	int rc = mdb_dbi_open(txn, name, flags, out);

	if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) {
		store_err(err, errlen, path, "damaged lnmt store (no '%s' database)", name);
		return -EBADMSG;
	}
	if (rc)
		store_err(err, errlen, path, "cannot open the '%s' database: %s", name, mdb_strerror(rc));
	return store_errno(rc);
}

/* Opens the databases of schema `version` (creating them when create). */
static int open_dbis(struct store *st, MDB_txn *txn, uint32_t version, bool create, char *err, size_t errlen)
{
	unsigned fl = create ? MDB_CREATE : 0;
	int rc;

	if ((rc = open_dbi(txn, "meta", fl, &st->db_meta, st->path, err, errlen)) ||
	    (rc = open_dbi(txn, "devices", fl, &st->db_dev, st->path, err, errlen)) ||
	    (rc = open_dbi(txn, "sweeps", fl, &st->db_sweep, st->path, err, errlen)))
		return rc;
	if (version < 2) {
		/* Schema 1's address-first databases: only migrate.c reads them. */
		if ((rc = open_dbi(txn, "obs", fl, &st->db_obs, st->path, err, errlen)) ||
		    (rc = open_dbi(txn, "rollups", fl, &st->db_roll, st->path, err, errlen)))
			return rc;
		st->has_changes = false;
		return 0;
	}
	if (!create && mdb_dbi_open(txn, "observations", 0, &st->db_obs) == MDB_NOTFOUND &&
	    mdb_dbi_open(txn, "obs", 0, &st->db_obs) == 0) {
		/* Schema 2 as first committed (f6d201d) kept schema 1's address-first layout: it is
		 * converted like schema 1, its devices and changes as they are. */
		st->old_layout = true;
		if ((rc = open_dbi(txn, "rollups", fl, &st->db_roll, st->path, err, errlen)))
			return rc;
	} else if ((rc = open_dbi(txn, "observations", fl, &st->db_obs, st->path, err, errlen)) ||
		   (rc = open_dbi(txn, "hourly", fl, &st->db_roll, st->path, err, errlen))) {
		return rc;
	}
	if ((rc = open_dbi(txn, "changes", fl, &st->db_chg, st->path, err, errlen)))
		return rc;
	st->has_changes = true;
	/* Optional (schema_int.h): absent from stores written before it; store_open_ex creates it
	 * for writing. */
	rc = mdb_dbi_open(txn, "subnet_hourly", fl, &st->db_series);
	if (rc && rc != MDB_NOTFOUND)
		return open_dbi(txn, "subnet_hourly", fl, &st->db_series, st->path, err, errlen);
	st->has_series = rc == 0;
	return 0;
}

/* Creates "subnet_hourly" in a store written before it existed. */
static int series_create_fn(struct store *st, MDB_txn *txn, void *arg)
{
	(void)arg;
	return mdb_dbi_open(txn, "subnet_hourly", MDB_CREATE, &st->db_series);
}

/*
 * Reads the schema version in a read-only transaction, before any write transaction could
 * touch the file: a foreign, damaged or newer store is refused here and stays byte-identical.
 */
int store_inspect(struct store *st, enum store_found *found, uint32_t *version, char *err, size_t errlen)
{
	MDB_txn *txn;
	MDB_dbi main_db;
	MDB_stat ms;
	int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);

	if (rc) {
		store_err(err, errlen, st->path, "cannot read: %s", mdb_strerror(rc));
		return store_errno(rc);
	}
	rc = mdb_dbi_open(txn, "meta", 0, &st->db_meta);
	if (rc == MDB_NOTFOUND) {
		/* Nothing at all in the file: a store created but never initialised. */
		if (!(rc = mdb_dbi_open(txn, NULL, 0, &main_db)) && !(rc = mdb_stat(txn, main_db, &ms)) &&
		    ms.ms_entries == 0) {
			*found = STORE_FOUND_EMPTY;
			mdb_txn_abort(txn);
			return 0;
		}
		store_err(err, errlen, st->path, "not an lnmt store (no meta record)");
		rc = -EBADMSG;
		goto out;
	}
	if (rc == MDB_INCOMPATIBLE) {
		store_err(err, errlen, st->path, "not an lnmt store (no meta record)");
		rc = -EBADMSG;
		goto out;
	}
	if (rc) {
		store_err(err, errlen, st->path, "not an LMDB file or corrupt (%s)", mdb_strerror(rc));
		rc = store_errno(rc);
		goto out;
	}
	rc = store_read_version(st, txn, version);
	if (rc == -ENOENT) {
		store_err(err, errlen, st->path, "not an lnmt store (no meta record)");
		rc = -EBADMSG;
		goto out;
	}
	if (rc || *version == 0) {
		store_err(err, errlen, st->path, "corrupt: bad schema version record");
		rc = -EBADMSG;
		goto out;
	}
	if (*version > STORE_SCHEMA_VERSION) {
		store_err(err, errlen, st->path, "written by a newer lnmt (schema %u, this lnmt reads up to %u)",
			  *version, STORE_SCHEMA_VERSION);
		rc = -EPROTONOSUPPORT;
		goto out;
	}
	if ((rc = open_dbis(st, txn, *version, false, err, errlen)))
		goto out;
	/* Committing a read-only transaction keeps the database handles it opened. */
	rc = mdb_txn_commit(txn);
	if (rc) {
		store_err(err, errlen, st->path, "cannot read: %s", mdb_strerror(rc));
		return store_errno(rc);
	}
	*found = STORE_FOUND_STORE;
	return 0;
out:
	mdb_txn_abort(txn);
	return rc;
}

struct create_arg {
	char *err;
	size_t errlen;
};

static int put_meta_u64(struct store *st, MDB_txn *txn, const char *name, uint64_t v)
{
	uint8_t buf[8];
	MDB_val k = { strlen(name), (void *)name }, val = { schema_u64_encode(buf, v), buf };

	return mdb_put(txn, st->db_meta, &k, &val, 0);
}

static int create_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct create_arg *a = arg;
	uint8_t buf[4];
	MDB_val k = { strlen(SCHEMA_META_VERSION), SCHEMA_META_VERSION };
	MDB_val v = { schema_u32_encode(buf, STORE_SCHEMA_VERSION), buf };
	int rc;

	if ((rc = open_dbis(st, txn, STORE_SCHEMA_VERSION, true, a->err, a->errlen)))
		return rc;
	if ((rc = mdb_put(txn, st->db_meta, &k, &v, 0)) ||
	    (rc = put_meta_u64(st, txn, SCHEMA_META_CREATED, store_now_us())) ||
	    (rc = put_meta_u64(st, txn, SCHEMA_META_NEXT_SWEEP, 1)))
		return rc;
	return 0;
}

int store_open(struct store **out, const char *dir, const struct store_options *opt, char *err, size_t errlen)
{
	return store_open_ex(out, dir, opt, 0, err, errlen);
}

int store_open_ex(struct store **out, const char *dir, const struct store_options *opt, size_t map_size,
		  char *err, size_t errlen)
{
	static const struct store_options defaults = { 0 };
	struct store *st;
	struct stat sb;
	bool exists = true;
	enum store_found found = STORE_FOUND_EMPTY;
	uint32_t version = STORE_SCHEMA_VERSION;
	MDB_envinfo info;
	int rc;

	if (!opt)
		opt = &defaults;
	if (err && errlen)
		err[0] = '\0';
	st = calloc(1, sizeof(*st));
	if (!st) {
		store_err(err, errlen, dir, "out of memory");
		return -ENOMEM;
	}
	st->read_only = opt->read_only;
	st->lock_fd = -1;
	st->offline_after = opt->offline_after ? opt->offline_after : 2;
	if ((size_t)snprintf(st->dir, sizeof(st->dir), "%s", dir) >= sizeof(st->dir) ||
	    (size_t)snprintf(st->path, sizeof(st->path), "%s/%s", dir, STORE_FILE) >= sizeof(st->path)) {
		store_err(err, errlen, dir, "path too long");
		rc = -ENAMETOOLONG;
		goto fail_free;
	}
	const char *oui = opt->oui_path ? opt->oui_path : STORE_DEFAULT_OUI;
	if (*oui && !(st->oui_path = strdup(oui))) {
		store_err(err, errlen, dir, "out of memory");
		rc = -ENOMEM;
		goto fail_free;
	}
	if (!st->read_only && mkdir(dir, 0750) && errno != EEXIST) {
		rc = -errno;
		store_err(err, errlen, dir, "cannot create the store directory: %s", strerror(errno));
		goto fail_free;
	}
	/* Before anything writes, creation and migration included: one writing process. */
	if (!st->read_only &&
	    (rc = store_lock_take(st, opt->lock_wait_ms ? opt->lock_wait_ms : STORE_LOCK_WAIT_MS, err, errlen)))
		goto fail_free;
	if (stat(st->path, &sb)) {
		if (errno != ENOENT || st->read_only) {
			rc = -errno;
			store_err(err, errlen, st->path, "%s", errno == ENOENT ? "no lnmt store here" : strerror(errno));
			goto fail_free;
		}
		exists = false;
	}
	if (exists && !S_ISREG(sb.st_mode)) {
		store_err(err, errlen, st->path, "not a regular file");
		rc = -EINVAL;
		goto fail_free;
	}
	if (exists && sb.st_size > 0 && (rc = store_precheck_file(st->path, sb.st_size, err, errlen)))
		goto fail_free;

	if (!map_size)
		map_size = STORE_DEFAULT_MAP;
	if (exists && (uint64_t)sb.st_size > map_size)
		map_size = ((size_t)sb.st_size + 0xfffff) & ~(size_t)0xfffff;
	if ((rc = mdb_env_create(&st->env))) {
		store_err(err, errlen, st->path, "%s", mdb_strerror(rc));
		rc = store_errno(rc);
		goto fail_free;
	}
	mdb_env_set_maxdbs(st->env, STORE_MAX_DBS);
	mdb_env_set_maxreaders(st->env, STORE_MAX_READERS);
	mdb_env_set_mapsize(st->env, map_size);
	/*
	 * MDB_NOSYNC rather than MDB_NOMETASYNC: a commit only hands its pages to the kernel, so a
	 * batch costs no disk flush (NOMETASYNC would still fdatasync the data pages of every
	 * batch). A committed transaction survives kill -9 of the process all the same: its pages
	 * are in the page cache. The recorder flushes once with mdb_env_sync() when a sweep ends,
	 * and so does store_close() when anything was committed after the last flush. The price:
	 * a power cut or kernel crash during a sweep may lose that sweep's transactions, and on a
	 * file system that reorders writes may damage the file; what was flushed before is safe
	 * once a later sweep's flush completes.
	 */
	rc = mdb_env_open(st->env, dir, MDB_NOTLS | (st->read_only ? MDB_RDONLY : MDB_NOSYNC), 0640);
	if (rc) {
		if (rc == MDB_INVALID || rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND)
			store_err(err, errlen, st->path, "not an LMDB file or corrupt");
		else if (rc == MDB_VERSION_MISMATCH)
			store_err(err, errlen, st->path, "written by an incompatible LMDB version");
		else
			store_err(err, errlen, st->path, "cannot open: %s", mdb_strerror(rc));
		rc = store_errno(rc);
		goto fail_env;
	}
	mdb_env_info(st->env, &info);
	st->map_size = info.me_mapsize;
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&st->map_lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&st->pool_lock, NULL);
	pthread_mutex_init(&st->oui_lock, NULL);

	if ((rc = store_inspect(st, &found, &version, err, errlen)))
		goto fail_locks;
	if (found == STORE_FOUND_EMPTY) {
		if (st->read_only) {
			store_err(err, errlen, st->path, "no lnmt store here (empty file)");
			rc = -ENOENT;
			goto fail_locks;
		}
		struct create_arg ca = { err, errlen };
		if ((rc = store_wr_run(st, create_fn, &ca))) {
			if (!err || !err[0])
				store_err(err, errlen, st->path, "cannot create the store: %s", lnmt_strerror(rc));
			goto fail_locks;
		}
		version = STORE_SCHEMA_VERSION;
	} else if (version < STORE_SCHEMA_VERSION || st->old_layout) {
		if (st->read_only) {
			/* Its layout differs: reading it needs the migration, which writes. */
			store_err(err, errlen, st->path,
				  "written by an older lnmt (schema %u%s): open it once for writing (e.g. record a "
				  "sweep) to upgrade it", version, st->old_layout ? ", early layout" : "");
			rc = -EPROTO;
			goto fail_locks;
		}
		if ((rc = store_migrate(st, version, err, errlen)))
			goto fail_locks;
		version = STORE_SCHEMA_VERSION;
	}
	if (!st->read_only && !st->has_series) {
		if ((rc = store_wr_run(st, series_create_fn, NULL))) {
			store_err(err, errlen, st->path, "cannot create the subnet_hourly database: %s",
				  lnmt_strerror(rc));
			goto fail_locks;
		}
		st->has_series = true;
	}
	if ((rc = store_notes_open(st, err, errlen)))
		goto fail_locks;
	st->version = version;
	/* We hold the writer lock and record nothing yet: a sweep still running in the records
	 * is one whose process died. */
	if (!st->read_only && (rc = store_recover_sweeps(st, NULL, err, errlen)))
		goto fail_locks;
	*out = st;
	return 0;

fail_locks:
	pthread_mutex_destroy(&st->oui_lock);
	pthread_mutex_destroy(&st->pool_lock);
	pthread_rwlock_destroy(&st->map_lock);
fail_env:
	mdb_env_close(st->env);
fail_free:
	store_lock_drop(st);
	free(st->oui_path);
	free(st);
	return rc;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n_pool; i++)
		mdb_txn_abort(st->pool[i]);
	free(st->pool);
	if (!st->read_only && __atomic_load_n(&st->commits_synced, __ATOMIC_ACQUIRE) !=
				      __atomic_load_n(&st->commits, __ATOMIC_ACQUIRE))
		store_sync(st);
	mdb_env_close(st->env);
	/* Last: the next writer may open the store once everything is on its way to the disk. */
	store_lock_drop(st);
	store_oui_free(st->oui);
	free(st->oui_path);
	pthread_mutex_destroy(&st->oui_lock);
	pthread_mutex_destroy(&st->pool_lock);
	pthread_rwlock_destroy(&st->map_lock);
	free(st);
}

char *store_default_dir(char *buf, size_t len)
{
	const char *env = getenv("LNMT_DB"), *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");

	if (!len)
		return buf;
	if (env && *env) {
		snprintf(buf, len, "%s", env);
	} else if (geteuid() == 0) {
		snprintf(buf, len, "/var/lib/lnmt");
	} else if (xdg && xdg[0] == '/') {
		/* The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored. */
		snprintf(buf, len, "%s/lnmt", xdg);
	} else {
		struct passwd pw, *res = NULL;
		char pwbuf[1024];
		if ((!home || !*home) && !getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) && res)
			home = res->pw_dir;
		snprintf(buf, len, "%s/.local/share/lnmt", home && *home ? home : "/");
	}
	return buf;
}
