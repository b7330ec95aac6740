/* SPDX-License-Identifier: MIT */
/* maint.c: backup (compacted, consistent copy), atomic restore, and the consistency check. */
#include "store_int.h"

#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* fsyncs the directory holding path, so a rename into it survives a power cut. */
static int sync_parent(const char *path)
{
	char buf[PATH_MAX];
	int fd, rc = 0;

	if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
		return -ENAMETOOLONG;
	fd = open(dirname(buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		rc = -errno;
	close(fd);
	return rc;
}

/* Renames tmp to path unless path exists (created meanwhile by someone else). */
static int rename_noreplace(const char *tmp, const char *path)
{
	if (!renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE))
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* A file system without RENAME_NOREPLACE: link() refuses an existing name as well. */
	if (link(tmp, path))
		return -errno;
	unlink(tmp);
	return 0;
}

int store_backup(struct store *st, const char *path, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	struct store_rd rd;
	struct stat sb;
	int fd, rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		store_err(err, errlen, path, "path too long");
		return -ENAMETOOLONG;
	}
	if (!lstat(path, &sb)) {
		store_err(err, errlen, path, "already exists");
		return -EEXIST;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0) {
		rc = -errno;
		store_err(err, errlen, tmp, "%s", strerror(errno));
		return rc;
	}
	/* The snapshot keeps this process's writer from remapping while LMDB copies; the copy is
	 * consistent by itself (it reads one snapshot, while others keep writing). */
	if ((rc = store_rd_begin(st, &rd))) {
		store_err(err, errlen, st->path, "cannot read: %s", lnmt_strerror(rc));
		goto fail;
	}
	rc = store_errno(mdb_env_copyfd2(st->env, fd, MDB_CP_COMPACT));
	store_rd_end(&rd);
	if (rc) {
		store_err(err, errlen, tmp, "copy failed: %s", lnmt_strerror(rc));
		goto fail;
	}
	if (fsync(fd)) {
		rc = -errno;
		store_err(err, errlen, tmp, "%s", strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	if ((rc = rename_noreplace(tmp, path))) {
		store_err(err, errlen, path, "%s", lnmt_strerror(rc));
		goto fail;
	}
	sync_parent(path);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

/*
 * Every process that has a store open holds a shared fcntl lock on the first byte of its
 * lock.mdb (LMDB's liveness lock). Replacing data.mdb under such a process would leave it
 * writing to the old file, so restore refuses. Locks of this very process are not seen:
 * close the store before restoring it.
 */
static int store_in_use(const char *dir, pid_t *pid)
{
	char lpath[PATH_MAX];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	int fd, rc = 0;

	if ((size_t)snprintf(lpath, sizeof(lpath), "%s/lock.mdb", dir) >= sizeof(lpath))
		return -ENAMETOOLONG;
	fd = open(lpath, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (!fcntl(fd, F_GETLK, &fl) && fl.l_type != F_UNLCK) {
		*pid = fl.l_pid;
		rc = 1;
	}
	close(fd);
	return rc;
}

static int copy_file(int in, int out)
{
	char buf[1 << 16];
	ssize_t n;

	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			off += w;
		}
	}
	return 0;
}

/* Opens the copy as an LMDB file of its own (read-only, no lock file: nobody else knows it)
 * and checks that it is an lnmt store this lnmt reads. Messages name the backup file. */
static int validate_copy(const char *copy, const char *shown, char *err, size_t errlen)
{
	struct store *st = calloc(1, sizeof(*st));
	enum store_found found;
	uint32_t version;
	int rc;

	if (!st)
		return -ENOMEM;
	snprintf(st->path, sizeof(st->path), "%s", shown);
	if ((rc = mdb_env_create(&st->env))) {
		free(st);
		return store_errno(rc);
	}
	mdb_env_set_maxdbs(st->env, STORE_MAX_DBS);
	rc = mdb_env_open(st->env, copy, MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK, 0640);
	if (rc) {
		store_err(err, errlen, shown, "not an LMDB file or corrupt (%s)", mdb_strerror(rc));
		rc = store_errno(rc);
		goto out;
	}
	if ((rc = store_inspect(st, &found, &version, err, errlen)))
		goto out;
	if (found == STORE_FOUND_EMPTY) {
		store_err(err, errlen, shown, "not an lnmt store (no meta record)");
		rc = -EBADMSG;
	}
out:
	mdb_env_close(st->env);
	free(st);
	return rc;
}

int store_restore(const char *dir, const char *path, char *err, size_t errlen)
{
	char data[PATH_MAX], tmp[PATH_MAX];
	struct stat sb;
	pid_t pid = 0;
	int in = -1, out = -1, rc;

	if ((size_t)snprintf(data, sizeof(data), "%s/%s", dir, STORE_FILE) >= sizeof(data) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/%s.restore", dir, STORE_FILE) >= sizeof(tmp)) {
		store_err(err, errlen, dir, "path too long");
		return -ENAMETOOLONG;
	}
	if (store_in_use(dir, &pid) > 0) {
		store_err(err, errlen, data, "in use by process %ld: stop it before restoring", (long)pid);
		return -EBUSY;
	}
	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &sb)) {
		rc = -errno;
		store_err(err, errlen, path, "%s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size == 0) {
		store_err(err, errlen, path, "not an lnmt store (%s)", S_ISREG(sb.st_mode) ? "empty" : "not a file");
		rc = -EBADMSG;
		goto out;
	}
	if ((rc = store_precheck_file(path, sb.st_size, err, errlen)))
		goto out;
	if (mkdir(dir, 0750) && errno != EEXIST) {
		rc = -errno;
		store_err(err, errlen, dir, "cannot create the store directory: %s", strerror(errno));
		goto out;
	}
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (out < 0) {
		rc = -errno;
		store_err(err, errlen, tmp, "%s", strerror(errno));
		goto out;
	}
	if ((rc = copy_file(in, out)) || (fsync(out) && (rc = -errno))) {
		store_err(err, errlen, tmp, "%s", lnmt_strerror(rc));
		goto fail_tmp;
	}
	close(out);
	out = -1;
	/* Check the copy, not the original: it is what will become the store. */
	if ((rc = validate_copy(tmp, path, err, errlen)))
		goto fail_tmp;
	if (rename(tmp, data)) {
		rc = -errno;
		store_err(err, errlen, data, "cannot replace: %s", strerror(errno));
		goto fail_tmp;
	}
	sync_parent(data);
	rc = 0;
	goto out;
fail_tmp:
	unlink(tmp);
out:
	if (out >= 0)
		close(out);
	if (in >= 0)
		close(in);
	return rc;
}

/* ---- check ---- */

/* Observations per sweep, in sweep order (the observations' key order). */
struct sweep_count {
	uint64_t id, n;
};

struct check {
	struct store_check_report r;
	char *err;
	size_t errlen;
	const char *path;
	struct sweep_count *per_sweep;
	size_t n_sweeps, cap_sweeps;
	bool oom;
};

static void problem(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct check *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (c->r.problems++)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	store_err(c->err, c->errlen, c->path, "%s", msg);
}

static const char *ip_text(uint32_t ip, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
	return buf;
}

enum rec_kind { KIND_OBS, KIND_ROLLUP, KIND_CHANGE };

static void count_obs(struct check *c, uint64_t sweep_id)
{
	if (c->n_sweeps && c->per_sweep[c->n_sweeps - 1].id == sweep_id) {
		c->per_sweep[c->n_sweeps - 1].n++;
		return;
	}
	if (c->n_sweeps == c->cap_sweeps) {
		size_t cap = c->cap_sweeps ? 2 * c->cap_sweeps : 256;
		struct sweep_count *p = realloc(c->per_sweep, cap * sizeof(*p));
		if (!p) {
			c->oom = true;
			return;
		}
		c->per_sweep = p;
		c->cap_sweeps = cap;
	}
	c->per_sweep[c->n_sweeps++] = (struct sweep_count){ sweep_id, 1 };
}

/* The addresses of every device, sorted (the devices database's order), for the membership
 * checks: one bsearch per record instead of one B-tree lookup. */
struct ips {
	uint32_t *v;
	size_t n, cap;
};

static bool ips_has(const struct ips *ips, uint32_t ip)
{
	size_t lo = 0, hi = ips->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ips->v[mid] < ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ips->n && ips->v[lo] == ip;
}

/* Walks one database of per-device records: key and value lengths, values decode, and the
 * device of every address exists. */
static int check_history(struct check *c, struct store *st, MDB_txn *txn, MDB_dbi dbi, enum rec_kind kind,
			 const struct ips *ips)
{
	static const char *const names[] = { "observation", "roll-up", "change" };
	static const size_t klens[] = { 12, 8, 12 }, ip_at[] = { 8, 4, 0 };
	MDB_cursor *cur;
	MDB_val k, v;
	char ipb[16];
	int rc;

	if ((rc = mdb_cursor_open(txn, dbi, &cur)))
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != klens[kind]) {
			problem(c, "%s key of %zu bytes (expected %zu)", names[kind], k.mv_size, klens[kind]);
			continue;
		}
		uint32_t ip = schema_get_be32((const uint8_t *)k.mv_data + ip_at[kind]);
		bool bad;
		if (kind == KIND_OBS) {
			struct schema_obs o = { 0 };
			bad = schema_obs_decode(&o, v.mv_data, v.mv_size, st->version) != 0;
			count_obs(c, schema_get_be64(k.mv_data));
		} else if (kind == KIND_ROLLUP) {
			struct schema_totals t;
			bad = schema_totals_decode(&t, v.mv_data, v.mv_size) != 0;
		} else {
			uint8_t s;
			bad = schema_change_decode(&s, v.mv_data, v.mv_size) != 0;
		}
		if (bad)
			problem(c, "%s of %s: bad record (%zu bytes)", names[kind], ip_text(ip, ipb), v.mv_size);
		if (!ips_has(ips, ip))
			problem(c, "%s of %s, which is not a known device", names[kind], ip_text(ip, ipb));
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int check_devices(struct check *c, struct store *st, MDB_txn *txn, struct ips *ips)
{
	MDB_cursor *cur;
	MDB_val k, v;
	char ipb[16];
	int rc;

	if ((rc = mdb_cursor_open(txn, st->db_dev, &cur)))
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct schema_device sd;
		if (k.mv_size != 4) {
			problem(c, "device key of %zu bytes (expected 4)", k.mv_size);
			continue;
		}
		uint32_t ip = schema_get_be32(k.mv_data);
		if (ips->n == ips->cap) {
			size_t cap = ips->cap ? 2 * ips->cap : 4096;
			uint32_t *p = realloc(ips->v, cap * sizeof(*p));
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			ips->v = p, ips->cap = cap;
		}
		ips->v[ips->n++] = ip;
		if (schema_device_decode(&sd, v.mv_data, v.mv_size, st->version))
			problem(c, "device %s: bad record (%zu bytes)", ip_text(ip, ipb), v.mv_size);
		else if (sd.d.answers_total > sd.d.probes_total)
			problem(c, "device %s: more answers (%llu) than probes (%llu)", ip_text(ip, ipb),
				(unsigned long long)sd.d.answers_total, (unsigned long long)sd.d.probes_total);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* A sweep as store_sweeps_list() shows it: running, interrupted, or ended. */
static void classify_sweep(struct check *c, struct store *st, struct store_writer_view *w,
			   const struct store_sweep *s)
{
	struct store_sweep seen = *s;

	if (s->ended != STORE_END_RUNNING && s->ended != STORE_END_INTERRUPTED)
		return;
	if (s->ended == STORE_END_RUNNING && store_sweep_settle(st, w, &seen))
		seen = *s;
	if (seen.ended == STORE_END_RUNNING) {
		c->r.running++;
	} else if (seen.ended == STORE_END_INTERRUPTED) {
		/* Walked oldest first: keep the newest ids, newest first. */
		size_t keep = sizeof(c->r.interrupted_ids) / sizeof(c->r.interrupted_ids[0]);
		memmove(c->r.interrupted_ids + 1, c->r.interrupted_ids, (keep - 1) * sizeof(c->r.interrupted_ids[0]));
		c->r.interrupted_ids[0] = s->id;
		c->r.interrupted++;
	}
}

static int check_sweeps(struct check *c, struct store *st, MDB_txn *txn)
{
	MDB_val nk = { strlen(SCHEMA_META_NEXT_SWEEP), SCHEMA_META_NEXT_SWEEP }, k, v;
	uint64_t next = 0, max_id = 0;
	struct store_writer_view w = { 0 };
	size_t oi = 0; /* into c->per_sweep */
	char a[32], b[32];
	MDB_cursor *cur;
	int rc;

	rc = mdb_get(txn, st->db_meta, &nk, &v);
	if (rc == MDB_NOTFOUND || (!rc && schema_u64_decode(&next, v.mv_data, v.mv_size)))
		problem(c, "meta: missing or bad next sweep id");
	else if (rc)
		return rc;
	if ((rc = mdb_cursor_open(txn, st->db_sweep, &cur)))
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct store_sweep s;
		if (k.mv_size != 8 || schema_sweep_decode(&s, v.mv_data, v.mv_size, st->version)) {
			problem(c, "sweep record: bad key or record (%zu bytes)", v.mv_size);
			continue;
		}
		if (s.id != schema_get_be64(k.mv_data))
			problem(c, "sweep %llu: record says id %llu", (unsigned long long)schema_get_be64(k.mv_data),
				(unsigned long long)s.id);
		if (s.id > max_id)
			max_id = s.id;
		/* Its observations and its record's count are committed together, running or not. */
		for (; oi < c->n_sweeps && c->per_sweep[oi].id < s.id; oi++)
			problem(c, "observations of sweep %llu, which has no record",
				(unsigned long long)c->per_sweep[oi].id);
		uint64_t held = oi < c->n_sweeps && c->per_sweep[oi].id == s.id ? c->per_sweep[oi++].n : 0;
		if (!c->oom && held != s.observations)
			problem(c, "sweep %llu: its record counts %s observations, the store holds %s",
				(unsigned long long)s.id, store_count_text(s.observations, a), store_count_text(held, b));
		classify_sweep(c, st, &w, &s);
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return rc;
	for (; !c->oom && oi < c->n_sweeps; oi++)
		problem(c, "observations of sweep %llu, which has no record", (unsigned long long)c->per_sweep[oi].id);
	if (next && max_id >= next)
		problem(c, "meta: next sweep id %llu is not above the last sweep %llu", (unsigned long long)next,
			(unsigned long long)max_id);
	return 0;
}

/* subnet_hourly: key and value lengths, /24 networks, answers <= probes. */
static int check_series(struct check *c, struct store *st, MDB_txn *txn)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(txn, st->db_series, &cur)))
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct schema_counts sc;
		char ipb[16];
		c->r.series++;
		if (k.mv_size != 8) {
			problem(c, "subnet_hourly key of %zu bytes (expected 8)", k.mv_size);
			continue;
		}
		uint32_t net = schema_get_be32((const uint8_t *)k.mv_data + 4);
		if (net & 0xff)
			problem(c, "subnet_hourly: %s is not a /24 network", ip_text(net, ipb));
		if (schema_counts_decode(&sc, v.mv_data, v.mv_size))
			problem(c, "subnet_hourly of %s/24, hour %u: bad record (%zu bytes)", ip_text(net, ipb),
				schema_get_be32(k.mv_data), v.mv_size);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static uint64_t entries(MDB_txn *txn, MDB_dbi dbi)
{
	MDB_stat ms;

	return mdb_stat(txn, dbi, &ms) ? 0 : ms.ms_entries;
}

int store_check(struct store *st, struct store_check_report *out, char *err, size_t errlen)
{
	struct check c = { .err = err, .errlen = errlen, .path = st->path };
	struct store_rd rd;
	MDB_envinfo info;
	MDB_stat ms;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if ((rc = store_rd_begin(st, &rd))) {
		store_err(err, errlen, st->path, "cannot read: %s", lnmt_strerror(rc));
		return rc;
	}
	if ((rc = store_read_version(st, rd.txn, &c.r.schema_version)))
		problem(&c, "meta: missing or bad schema version");
	else if (c.r.schema_version != st->version)
		problem(&c, "meta: schema version %u, opened as %u", c.r.schema_version, st->version);
	c.r.devices = entries(rd.txn, st->db_dev);
	c.r.observations = entries(rd.txn, st->db_obs);
	c.r.rollups = entries(rd.txn, st->db_roll);
	c.r.changes = st->has_changes ? entries(rd.txn, st->db_chg) : 0;
	c.r.sweeps = entries(rd.txn, st->db_sweep);
	mdb_env_info(st->env, &info);
	mdb_env_stat(st->env, &ms);
	c.r.map_bytes = info.me_mapsize;
	c.r.used_bytes = (uint64_t)(info.me_last_pgno + 1) * ms.ms_psize;
	struct ips ips = { 0 };
	rc = check_devices(&c, st, rd.txn, &ips);
	if (!rc)
		rc = check_history(&c, st, rd.txn, st->db_obs, KIND_OBS, &ips);
	if (!rc)
		rc = check_history(&c, st, rd.txn, st->db_roll, KIND_ROLLUP, &ips);
	if (!rc && st->has_changes)
		rc = check_history(&c, st, rd.txn, st->db_chg, KIND_CHANGE, &ips);
	if (!rc)
		rc = check_sweeps(&c, st, rd.txn);
	if (!rc && st->has_series)
		rc = check_series(&c, st, rd.txn);
	if (!rc) {
		uint64_t bad_notes = 0;
		rc = store_notes_check(st, rd.txn, &c.r.notes, &bad_notes);
		if (!rc && bad_notes) {
			problem(&c, "notes: %llu bad record%s", (unsigned long long)bad_notes, bad_notes == 1 ? "" : "s");
			c.r.problems += bad_notes - 1;
		}
	}
	store_rd_end(&rd);
	free(ips.v);
	free(c.per_sweep);
	if (!rc && c.oom)
		rc = -ENOMEM;
	if (rc) {
		rc = store_errno(rc);
		store_err(err, errlen, st->path, "check stopped: %s", lnmt_strerror(rc));
		return rc;
	}
	/* The report is filled even when problems were found: it is what the caller prints. */
	*out = c.r;
	return c.r.problems ? -EBADMSG : 0;
}
