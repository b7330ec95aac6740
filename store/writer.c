/* SPDX-License-Identifier: MIT */
/* writer.c: one writing process per store (writer.lock), interrupted sweeps, why writes fail. */
#include "store_int.h"

#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/*
 * The lock is an open file description lock (F_OFD_SETLK) on the whole of writer.lock rather
 * than flock(): the kernel drops it when the process dies however it dies, exactly like
 * flock, but it can also be looked at without taking it (F_OFD_GETLK), so readers learn whether
 * anyone writes without ever getting in a writer's way. Being tied to the open file
 * description, it also conflicts with a second writing open inside the same process, which
 * is the rule (one writer handle per process: its recorders share it).
 *
 * The file holds "PID PROGRAM\n" of the holder, for the message a second writer gets and for
 * readers, which compare it with the pid in a running sweep's record. It is rewritten by each
 * holder and emptied when the holder closes the store; stale text in it means nothing, since
 * only the lock says whether someone holds it.
 */

#define LOCK_POLL_MS 20

static int lock_path(const struct store *st, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/%s", st->dir, STORE_LOCK_FILE) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* Reads "PID PROGRAM" from the lock file (prog may be NULL); 0 when it could not be read. */
static pid_t read_holder(int fd, char *prog, size_t proglen)
{
	char buf[128];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid = 0;
	char name[64] = "";

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%ld %63s", &pid, name) < 1 || pid <= 0)
		return 0;
	if (prog)
		snprintf(prog, proglen, "%s", name[0] ? name : "a process");
	return (pid_t)pid;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int store_lock_take(struct store *st, int wait_ms, char *err, size_t errlen)
{
	char path[PATH_MAX], line[128], prog[64] = "";
	uint64_t deadline = mono_ms() + (wait_ms > 0 ? (uint64_t)wait_ms : 0);
	int fd, rc;

	if ((rc = lock_path(st, path, sizeof(path)))) {
		store_err(err, errlen, st->dir, "path too long");
		return rc;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		rc = -errno;
		store_err(err, errlen, path, "cannot open the writer lock: %s", strerror(errno));
		return rc;
	}
	for (;;) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		if (!fcntl(fd, F_OFD_SETLK, &fl))
			break;
		if (errno != EAGAIN && errno != EACCES) {
			rc = -errno;
			store_err(err, errlen, path, "cannot lock: %s", strerror(errno));
			goto fail;
		}
		uint64_t now = mono_ms();
		if (now >= deadline) {
			pid_t pid = read_holder(fd, prog, sizeof(prog));
			char who[96];
			if (pid)
				snprintf(who, sizeof(who), "%s pid %ld", prog, (long)pid);
			else
				snprintf(who, sizeof(who), "another process");
			/* lnmtd serves sweeps and edits to its clients: the way in is its socket. */
			if (!strcmp(prog, "lnmtd"))
				store_err(err, errlen, st->dir,
					  "store in use by %s: run the sweep through it with --socket, or wait", who);
			else
				store_err(err, errlen, st->dir, "store in use by %s: wait for it to finish, or use "
					  "another store (--db)", who);
			rc = -EBUSY;
			goto fail;
		}
		uint64_t nap = deadline - now < LOCK_POLL_MS ? deadline - now : LOCK_POLL_MS;
		struct timespec ts = { 0, (long)nap * 1000000L };
		nanosleep(&ts, NULL);
	}
	int n = snprintf(line, sizeof(line), "%ld %s\n", (long)getpid(), program_invocation_short_name);
	if (ftruncate(fd, 0) || pwrite(fd, line, (size_t)n, 0) != n) {
		/* Only the message of a second writer loses its name: the lock is what counts. */
	}
	st->lock_fd = fd;
	return 0;
fail:
	close(fd);
	return rc;
}

void store_lock_drop(struct store *st)
{
	if (st->lock_fd < 0)
		return;
	if (ftruncate(st->lock_fd, 0)) {
		/* Stale text is harmless (see above). */
	}
	close(st->lock_fd);
	st->lock_fd = -1;
}

static void look_at_writer(struct store *st, struct store_writer_view *w)
{
	char path[PATH_MAX];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd;

	w->known = true;
	w->held = true; /* until shown otherwise: a sweep then reads as it is stored */
	w->pid = 0;
	if (st->lock_fd >= 0) {
		w->pid = getpid();
		return;
	}
	if (lock_path(st, path, sizeof(path)))
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		/* No lock file: no lnmt that knows it ever wrote here; one that predates it would
		 * have been refused the store (schema 3). */
		if (errno == ENOENT)
			w->held = false;
		return;
	}
	if (!fcntl(fd, F_OFD_GETLK, &fl)) {
		w->held = fl.l_type != F_UNLCK;
		if (w->held)
			w->pid = read_holder(fd, NULL, 0);
	}
	close(fd);
}

bool store_sweep_orphaned(struct store *st, struct store_writer_view *w, const struct store_sweep *s)
{
	if (s->ended != STORE_END_RUNNING)
		return false;
	if (!w->known)
		look_at_writer(st, w);
	if (!w->held)
		return true;
	return w->pid && s->pid && (pid_t)s->pid != w->pid;
}

int store_sweep_settle(struct store *st, struct store_writer_view *w, struct store_sweep *s)
{
	struct store_sweep fresh;
	struct store_rd rd;
	uint8_t key[8];
	MDB_val k = { sizeof(key), key }, v;
	int rc;

	if (!store_sweep_orphaned(st, w, s))
		return 0;
	if ((rc = store_rd_begin(st, &rd)))
		return rc;
	schema_key_sweep(key, s->id);
	rc = mdb_get(rd.txn, st->db_sweep, &k, &v);
	if (!rc && schema_sweep_decode(&fresh, v.mv_data, v.mv_size, STORE_SCHEMA_VERSION))
		rc = MDB_CORRUPTED;
	store_rd_end(&rd);
	if (rc)
		return store_errno(rc);
	if (fresh.ended == STORE_END_RUNNING)
		fresh.ended = STORE_END_INTERRUPTED;
	*s = fresh;
	return 0;
}

/* ---- recovering interrupted sweeps ---- */

struct recover_arg {
	uint64_t n;
};

static int recover_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct recover_arg *a = arg;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	a->n = 0;
	if ((rc = mdb_cursor_open(txn, st->db_sweep, &cur)))
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct store_sweep s;
		uint8_t buf[SCHEMA_SWEEP_MAX_LEN], key[8];
		/* A record that does not decode is store_check's to report, not ours to touch. */
		if (k.mv_size != 8 || schema_sweep_decode(&s, v.mv_data, v.mv_size, STORE_SCHEMA_VERSION) ||
		    s.ended != STORE_END_RUNNING)
			continue;
		/* Its counts are those of its last committed batch: the record keeps them, and no
		 * end time, which nobody knows. */
		s.ended = STORE_END_INTERRUPTED;
		s.complete = false;
		memcpy(key, k.mv_data, sizeof(key));
		k = (MDB_val){ sizeof(key), key };
		v = (MDB_val){ schema_sweep_encode(buf, &s, STORE_SCHEMA_VERSION), buf };
		if ((rc = mdb_cursor_put(cur, &k, &v, MDB_CURRENT)))
			break;
		a->n++;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_recover_sweeps(struct store *st, uint64_t *n, char *err, size_t errlen)
{
	struct recover_arg a = { 0 };
	struct store_rd rd;
	bool any = false;
	int rc;

	/* Look first: most opens find nothing, and then write nothing. */
	if ((rc = store_rd_begin(st, &rd)))
		goto fail;
	MDB_cursor *cur;
	MDB_val k, v;
	if (!(rc = mdb_cursor_open(rd.txn, st->db_sweep, &cur))) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc && !any; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			struct store_sweep s;
			any = !schema_sweep_decode(&s, v.mv_data, v.mv_size, STORE_SCHEMA_VERSION) &&
			      s.ended == STORE_END_RUNNING;
		}
		mdb_cursor_close(cur);
		if (rc == MDB_NOTFOUND || any)
			rc = 0;
	}
	store_rd_end(&rd);
	if ((rc = store_errno(rc)))
		goto fail;
	if (any && (rc = store_wr_run(st, recover_fn, &a)))
		goto fail;
	if (n)
		*n = a.n;
	return 0;
fail:
	store_err(err, errlen, st->path, "cannot mark the sweeps of a process that died interrupted: %s",
		  lnmt_strerror(rc));
	return rc;
}

/* ---- why a write failed ---- */

/* Writes a page's worth into an unnamed file in dir: 0, or the errno the file system gave. */
static int probe_write(const char *dir)
{
	static const char zeros[4096];
	int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	int rc = 0;

	if (fd < 0)
		return errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL ? 0 : errno;
	for (size_t done = 0; done < sizeof(zeros);) {
		ssize_t w = write(fd, zeros + done, sizeof(zeros) - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? errno : ENOSPC;
			break;
		}
		done += (size_t)w;
	}
	close(fd);
	return rc;
}

int store_write_cause(struct store *st, int rc)
{
	int cause = __atomic_load_n(&st->write_cause, __ATOMIC_RELAXED);
	struct statvfs vfs;

	if (rc != EIO && rc != MDB_PANIC)
		return store_errno(rc);
	/* Once LMDB panicked, every later call says so: the cause is the first failure's. */
	if (rc == MDB_PANIC && cause)
		return -cause;
	if (!statvfs(st->dir, &vfs) && (vfs.f_flag & ST_RDONLY)) {
		cause = EROFS;
	} else {
		int p = probe_write(st->dir);
		if (p == ENOSPC || p == EDQUOT || p == EROFS)
			cause = p;
		else if (!p && !statvfs(st->dir, &vfs) && (geteuid() ? vfs.f_bavail : vfs.f_bfree) == 0)
			cause = ENOSPC;
		else
			return store_errno(rc);
	}
	__atomic_store_n(&st->write_cause, cause, __ATOMIC_RELAXED);
	return -cause;
}
