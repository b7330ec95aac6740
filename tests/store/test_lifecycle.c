/* SPDX-License-Identifier: MIT */
/*
 * test_lifecycle.c: a sweep's record from start to end, and what happens when its process dies:
 * written as running at the start, its counts rewritten with every committed batch, finished
 * with how it ended; a sweep whose process died reads interrupted (to readers at once, and on
 * disk once a writer opens the store) with the counts that were committed. Also the writer
 * lock (a second writing process waits, then is refused with the holder's name), the
 * migration of schema 2's sweep records, and a full disk that says so (2 MB tmpfs, as root).
 *
 * Processes that die are forked children that SIGKILL themselves once their batches are
 * committed (store_recorder_sync); parent and child meet through pipes, never through sleeps.
 */
#include "store_test.h"

#include <signal.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>

#define NET 0x0a000000u /* 10.0.0.0 */

static char dir[64];
static pid_t child; /* a child a failed assertion would leave waiting on a pipe */

static void setup(void)
{
	t_mkdtemp(dir);
}

static void teardown(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	t_rmtree(dir);
}

static struct store *open_ro(void)
{
	struct store_options opt = { .read_only = true, .oui_path = "" };
	struct store *st = NULL;
	char err[512] = "";

	cr_assert_eq(store_open(&st, dir, &opt, err, sizeof(err)), 0, "read-only open: %s", err);
	return st;
}

/* The record as it is on disk, without the readers' view of dead processes. */
static struct store_sweep raw_sweep(struct store *st, uint64_t id)
{
	struct store_sweep s;
	struct store_rd rd;
	uint8_t key[8];
	MDB_val k = { sizeof(key), key }, v;

	cr_assert_eq(store_rd_begin(st, &rd), 0);
	schema_key_sweep(key, id);
	cr_assert_eq(mdb_get(rd.txn, st->db_sweep, &k, &v), 0, "no sweep %llu", (unsigned long long)id);
	cr_assert_eq(schema_sweep_decode(&s, v.mv_data, v.mv_size, st->version), 0);
	store_rd_end(&rd);
	return s;
}

static struct store_recorder *rec_open(struct store *st, uint64_t start, uint32_t first, uint32_t last,
				       uint64_t *id)
{
	struct store_sweep info = { .start_us = start, .probes = STORE_PROBE_ICMP, .addresses = last - first + 1 };
	struct store_range range = { first, last };
	struct store_recorder *rec = NULL;
	char err[512] = "";

	snprintf(info.targets, sizeof(info.targets), "lifecycle");
	cr_assert_eq(store_recorder_open(st, &info, &range, 1, &rec, err, sizeof(err)), 0, "%s", err);
	*id = info.id;
	return rec;
}

static void add_range(struct store_recorder *rec, uint32_t first, uint32_t n, uint64_t t)
{
	for (uint32_t i = 0; i < n; i++) {
		struct store_result r = t_up(first + i, STORE_PROBE_ICMP, 50, t);
		store_recorder_add(rec, &r);
	}
}

static struct store_check_report check_clean(struct store *st)
{
	struct store_check_report rep;
	char err[512] = "";

	cr_assert_eq(store_check(st, &rep, err, sizeof(err)), 0, "store_check: %s", err);
	return rep;
}

/* Every field a reader shows, equal. */
static void assert_same_sweep(const struct store_sweep *a, const struct store_sweep *b, const char *what)
{
	cr_assert(a->id == b->id && a->start_us == b->start_us && a->end_us == b->end_us && a->ended == b->ended &&
		  a->complete == b->complete && a->sent == b->sent && a->replies == b->replies && a->live == b->live &&
		  a->observations == b->observations && a->new_devices == b->new_devices &&
		  a->went_up == b->went_up && a->went_down == b->went_down && a->pid == b->pid &&
		  !strcmp(a->targets, b->targets),
		  "%s: sweep %llu changed (%s, %llu observations, now %s, %llu)", what, (unsigned long long)a->id,
		  store_sweep_end_name(a->ended), (unsigned long long)a->observations, store_sweep_end_name(b->ended),
		  (unsigned long long)b->observations);
}

/* One sweep of NET/24 where .1-.100 answer, at start. */
static struct store_sweep first_sweep(struct store *st, uint64_t start)
{
	struct store_result r[100];

	for (uint32_t i = 0; i < 100; i++)
		r[i] = t_up(NET + 1 + i, STORE_PROBE_ICMP, 100, start + 1);
	return t_sweep(st, start, NET, NET + 255, r, 100);
}

/* ---- the record of a running sweep ---- */

Test(lifecycle, running_record_says_what_is_committed, .init = setup, .fini = teardown)
{
	struct store *st = t_open(dir, 0);
	uint64_t id, t = T_BASE;
	char err[512] = "";

	struct store_recorder *rec = rec_open(st, t, NET, NET + 255, &id);
	struct store_sweep s = t_get_sweep(st, id);
	cr_assert_eq(s.ended, STORE_END_RUNNING, "%s", store_sweep_end_name(s.ended));
	cr_assert_eq(s.end_us, 0);
	cr_assert_not(s.complete);
	cr_assert_eq(s.pid, (uint32_t)getpid());
	cr_assert_eq(s.observations + s.replies + s.live + s.sent, 0);
	cr_assert_eq(s.addresses, 256);

	add_range(rec, NET + 1, 10, t + 1);
	store_recorder_progress(rec, 4); /* behind the replies: sent is raised to them */
	cr_assert_eq(store_recorder_sync(rec), 0);
	s = t_get_sweep(st, id);
	cr_assert_eq(s.ended, STORE_END_RUNNING);
	cr_assert_eq(s.replies, 10);
	cr_assert_eq(s.live, 10);
	cr_assert_eq(s.observations, 10);
	cr_assert_eq(s.new_devices, 10);
	cr_assert_eq(s.sent, 10);
	store_recorder_progress(rec, 300);
	add_range(rec, NET + 11, 5, t + 2);
	cr_assert_eq(store_recorder_sync(rec), 0);
	s = t_get_sweep(st, id);
	cr_assert_eq(s.replies, 15);
	cr_assert_eq(s.observations, 15);
	cr_assert_eq(s.sent, 300);
	struct store_check_report rep = check_clean(st);
	cr_assert_eq(rep.running, 1);
	cr_assert_eq(rep.interrupted, 0);

	struct store_sweep fin = { .end_us = t + 5000, .sent = 512, .replies = 15, .live = 15,
				   .ended = STORE_END_QUIET };
	cr_assert_eq(store_recorder_close(rec, &fin, NULL, err, sizeof(err)), 0, "%s", err);
	s = t_get_sweep(st, id);
	cr_assert_eq(s.ended, STORE_END_QUIET, "%s", store_sweep_end_name(s.ended));
	cr_assert(s.complete);
	cr_assert_eq(s.end_us, t + 5000);
	cr_assert_eq(s.sent, 512);
	cr_assert_eq(s.observations, 15, "quiet probed everything, but nothing was known: no misses");
	rep = check_clean(st);
	cr_assert_eq(rep.running + rep.interrupted, 0);
	store_close(st);
}

/* Ends that did not probe everything record no misses; those that did, do. */
Test(lifecycle, misses_only_for_ends_that_probed_everything, .init = setup, .fini = teardown)
{
	static const uint8_t ends[] = { STORE_END_STOPPED, STORE_END_FAILED, STORE_END_INTERRUPTED,
					STORE_END_ALL_ANSWERED, STORE_END_WAIT, STORE_END_QUIET };
	struct store *st = t_open(dir, 0);
	char err[512] = "";

	first_sweep(st, T_BASE);
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		uint64_t id, t = T_BASE + (1 + i) * T_HOUR;
		struct store_recorder *rec = rec_open(st, t, NET, NET + 255, &id);
		add_range(rec, NET + 1, 50, t + 1);
		struct store_sweep fin = { .end_us = t + 10, .ended = ends[i] };
		cr_assert_eq(store_recorder_close(rec, &fin, NULL, err, sizeof(err)), 0, "%s", err);
		struct store_sweep s = t_get_sweep(st, id);
		bool misses = store_sweep_end_probed_all(ends[i]);
		cr_assert_eq(s.ended, ends[i]);
		cr_assert_eq(s.observations, misses ? 100 : 50, "%s: %llu observations", store_sweep_end_name(ends[i]),
			     (unsigned long long)s.observations);
	}
	check_clean(st);
	store_close(st);
}

/* ---- a process that dies ---- */

/*
 * The child opens the store, records a sweep of 300 results in three committed batches, and
 * kills itself (as kill -9 would). After it: readers see the sweep interrupted with the counts
 * of the three batches, the check is clean and says so, the earlier sweep is unchanged; the
 * first writer to open the store records it interrupted on disk, changing nothing else.
 */
Test(lifecycle, sweep_of_a_dead_process_reads_interrupted, .init = setup, .fini = teardown)
{
	struct store *st = t_open(dir, 0);
	struct store_sweep before = first_sweep(st, T_BASE);
	before = t_get_sweep(st, before.id);
	store_close(st);

	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct store_options opt = { .oui_path = "" };
		struct store *cst = NULL;
		struct store_recorder *rec = NULL;
		struct store_sweep info = { .start_us = T_BASE + T_HOUR, .probes = STORE_PROBE_ICMP };
		struct store_range range = { NET, NET + 1023 };
		if (store_open(&cst, dir, &opt, NULL, 0) || store_recorder_open(cst, &info, &range, 1, &rec, NULL, 0))
			_exit(1);
		for (int b = 0; b < 3; b++) {
			add_range(rec, NET + 1 + 100 * (uint32_t)b, 100, T_BASE + T_HOUR + 1);
			store_recorder_progress(rec, 400 * (uint64_t)(b + 1));
			if (store_recorder_sync(rec))
				_exit(2);
		}
		kill(getpid(), SIGKILL);
		_exit(3);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the child did not die by SIGKILL: %#x", status);

	/* A reader: no process holds the writer lock, so the running record is an interrupted sweep. */
	st = open_ro();
	struct store_sweep s = t_get_sweep(st, 2);
	cr_assert_eq(s.ended, STORE_END_INTERRUPTED, "%s", store_sweep_end_name(s.ended));
	cr_assert_eq(s.end_us, 0, "nobody knows when it ended");
	cr_assert_not(s.complete);
	cr_assert_eq(s.observations, 300);
	cr_assert_eq(s.replies, 300);
	cr_assert_eq(s.live, 300);
	cr_assert_eq(s.sent, 1200);
	cr_assert_eq(s.new_devices, 200, ".101-.300 were new");
	cr_assert_eq(s.pid, (uint32_t)pid);
	cr_assert_eq(raw_sweep(st, 2).ended, STORE_END_RUNNING, "a reader changed the record");
	struct store_check_report rep = check_clean(st);
	cr_assert_eq(rep.interrupted, 1);
	cr_assert_eq(rep.interrupted_ids[0], 2);
	cr_assert_eq(rep.running, 0);
	cr_assert_eq(rep.observations, 100 + 300);
	struct store_sweep s1 = t_get_sweep(st, 1);
	assert_same_sweep(&before, &s1, "read-only, after the kill");
	store_close(st);

	/* The next writer records what readers saw, and nothing else changes. */
	st = t_open(dir, 0);
	struct store_sweep on_disk = raw_sweep(st, 2);
	cr_assert_eq(on_disk.ended, STORE_END_INTERRUPTED, "%s", store_sweep_end_name(on_disk.ended));
	assert_same_sweep(&s, &on_disk, "recovered by the next writer");
	s1 = t_get_sweep(st, 1);
	assert_same_sweep(&before, &s1, "after the recovery");
	rep = check_clean(st);
	cr_assert_eq(rep.interrupted, 1);
	/* An interrupted sweep recorded no misses, and the store records on. */
	cr_assert_eq(t_get(st, NET + 50).missed, 0);
	struct store_result r = t_up(NET + 1, STORE_PROBE_ICMP, 1, 0);
	struct store_sweep s3 = t_sweep(st, T_BASE + 2 * T_HOUR, NET, NET + 1023, &r, 1);
	cr_assert_eq(s3.id, 3);
	cr_assert_eq(t_get_sweep(st, 3).observations, 300, ".1 up, .2-.300 missed (.301- never seen)");
	store_close(st);
}

/*
 * A sweep another process is recording reads running; that process holds the writer lock, so
 * a writer here waits, then is refused with its name; once it closed, the wait is over.
 */
Test(lifecycle, a_second_writer_waits_then_is_refused, .init = setup, .fini = teardown)
{
	int ready[2], go[2], done[2];
	char c = 0, err[512] = "";

	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(go), 0);
	cr_assert_eq(pipe(done), 0);
	pid_t pid = child = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct store_options opt = { .oui_path = "" };
		struct store *cst = NULL;
		struct store_recorder *rec = NULL;
		struct store_sweep info = { .start_us = T_BASE, .probes = STORE_PROBE_ICMP };
		struct store_range range = { NET, NET + 255 };
		if (store_open(&cst, dir, &opt, NULL, 0) || store_recorder_open(cst, &info, &range, 1, &rec, NULL, 0))
			_exit(1);
		add_range(rec, NET + 1, 20, T_BASE + 1);
		if (store_recorder_sync(rec))
			_exit(2);
		(void)!write(ready[1], "r", 1);
		(void)!read(go[0], &c, 1);       /* finish the sweep */
		struct store_sweep fin = { .end_us = T_BASE + 100, .ended = STORE_END_ALL_ANSWERED };
		if (store_recorder_close(rec, &fin, NULL, NULL, 0))
			_exit(3);
		(void)!write(done[1], "d", 1);
		(void)!read(go[0], &c, 1);       /* then close the store */
		store_close(cst);
		_exit(0);
	}
	cr_assert_eq(read(ready[0], &c, 1), 1);

	/* Readers are never kept out, and see the sweep as running. */
	struct store *st = open_ro();
	struct store_sweep s = t_get_sweep(st, 1);
	cr_assert_eq(s.ended, STORE_END_RUNNING, "%s", store_sweep_end_name(s.ended));
	cr_assert_eq(s.observations, 20);
	struct store_check_report rep = check_clean(st);
	cr_assert_eq(rep.running, 1);
	cr_assert_eq(rep.interrupted, 0);
	store_close(st);

	/* A writer is refused, naming the holder. */
	struct store_options opt = { .oui_path = "", .lock_wait_ms = 50 };
	st = NULL;
	cr_assert_eq(store_open(&st, dir, &opt, err, sizeof(err)), -EBUSY, "%s", err);
	char want[128];
	/* (The program's name is Criterion's worker's.) */
	snprintf(want, sizeof(want), " pid %ld: wait for it to finish, or use another store (--db)", (long)pid);
	cr_assert_neq(strstr(err, "store in use by "), NULL, "%s", err);
	cr_assert_neq(strstr(err, want), NULL, "%s", err);
	cr_assert_neq(strstr(err, dir), NULL, "%s", err);

	/* The sweep ends; the store is still held. */
	cr_assert_eq(write(go[1], "g", 1), 1);
	cr_assert_eq(read(done[0], &c, 1), 1);
	st = open_ro();
	cr_assert_eq(t_get_sweep(st, 1).ended, STORE_END_ALL_ANSWERED);
	store_close(st);

	/* A writer that waits gets the store once the other closes it. */
	opt.lock_wait_ms = 30000;
	cr_assert_eq(write(go[1], "g", 1), 1);
	cr_assert_eq(store_open(&st, dir, &opt, err, sizeof(err)), 0, "%s", err);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	child = 0;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %#x", status);
	cr_assert_eq(t_get_sweep(st, 1).ended, STORE_END_ALL_ANSWERED, "a finished sweep is left alone");
	store_close(st);
}

/* ---- schema 2's sweep records ---- */

/*
 * A store as schema 2 wrote it: its sweep records 12 bytes shorter, ended numbered the old way,
 * and one never finished (no end: its process died). The migration keeps each record's meaning,
 * counts its observations, and reads the unfinished one as interrupted.
 */
Test(lifecycle, migrates_schema_2_sweep_records, .init = setup, .fini = teardown)
{
	static const struct {
		uint8_t old;          /* schema 2's ended byte */
		bool finished;
		uint8_t now;
	} want[] = {
		{ 0, true, STORE_END_ALL_ANSWERED },
		{ 2, true, STORE_END_STOPPED },
		{ 0, false, STORE_END_INTERRUPTED },
	};
	struct store *st = t_open(dir, 0);
	struct store_sweep s1 = first_sweep(st, T_BASE);
	struct store_result r[10];
	for (uint32_t i = 0; i < 10; i++)
		r[i] = t_up(NET + 1 + i, STORE_PROBE_ICMP, 1, 0);
	t_sweep(st, T_BASE + T_HOUR, NET, NET + 255, r, 10);
	t_sweep(st, T_BASE + 2 * T_HOUR, NET, NET + 255, r, 5);
	store_close(st);

	/* Back to schema 2, by hand. */
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi sweeps, meta;
	uint8_t buf[SCHEMA_SWEEP_MAX_LEN], key[8];
	cr_assert_eq(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, STORE_MAX_DBS);
	cr_assert_eq(mdb_env_open(env, dir, 0, 0640), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, "sweeps", 0, &sweeps), 0);
	cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	for (uint64_t id = 1; id <= 3; id++) {
		MDB_val k = { sizeof(key), key }, v;
		struct store_sweep s;
		schema_key_sweep(key, id);
		cr_assert_eq(mdb_get(txn, sweeps, &k, &v), 0);
		cr_assert_eq(schema_sweep_decode(&s, v.mv_data, v.mv_size, 3), 0);
		if (!want[id - 1].finished)
			s.end_us = 0;
		size_t len = schema_sweep_encode(buf, &s, 2);
		buf[69] = want[id - 1].old;
		MDB_val nv = { len, buf };
		cr_assert_eq(mdb_put(txn, sweeps, &k, &nv, 0), 0);
	}
	MDB_val vk = { strlen(SCHEMA_META_VERSION), SCHEMA_META_VERSION }, vv = { schema_u32_encode(buf, 2), buf };
	cr_assert_eq(mdb_put(txn, meta, &vk, &vv, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	st = t_open(dir, 0);
	struct store_check_report rep = check_clean(st);
	cr_assert_eq(rep.schema_version, STORE_SCHEMA_VERSION);
	cr_assert_eq(rep.interrupted, 1);
	static const uint64_t obs[] = { 100, 100, 100 };
	for (uint64_t id = 1; id <= 3; id++) {
		struct store_sweep s = raw_sweep(st, id);
		cr_assert_eq(s.ended, want[id - 1].now, "sweep %llu: %s", (unsigned long long)id,
			     store_sweep_end_name(s.ended));
		cr_assert_eq(s.observations, obs[id - 1], "sweep %llu: %llu observations", (unsigned long long)id,
			     (unsigned long long)s.observations);
		cr_assert_eq(s.pid, 0);
	}
	cr_assert_eq(raw_sweep(st, 1).live, s1.live);
	cr_assert_eq(raw_sweep(st, 3).end_us, 0);
	store_close(st);
}

/* ---- a full disk ---- */

static char mnt[96];

static void tmpfs_teardown(void)
{
	if (mnt[0]) {
		umount2(mnt, MNT_DETACH);
		rmdir(mnt);
	}
	teardown();
}

/*
 * The store on a 2 MB tmpfs: a first sweep fits, the next one does not. LMDB says EIO (a short
 * write); the message says what the file system said, names the directory, and says what was
 * lost; the store stays readable and checks clean, the first sweep whole.
 */
Test(lifecycle, a_full_disk_says_so, .init = setup, .fini = tmpfs_teardown)
{
	char db[128], err[512] = "";
	uint64_t stored = 0;

	if (geteuid() != 0)
		cr_skip_test("mounting a 2 MB tmpfs needs root (running as uid %u)", (unsigned)geteuid());
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	cr_assert_eq(mkdir(mnt, 0700), 0);
	/* In a mount namespace of this test's own: the tmpfs goes away with the test's process,
	 * however that ends. */
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("lnmt-test", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=2m")) {
		int e = errno;
		rmdir(mnt);
		mnt[0] = '\0';
		cr_skip_test("cannot mount a tmpfs here: %s", strerror(e));
	}
	snprintf(db, sizeof(db), "%s/db", mnt);
	struct store_options opt = { .oui_path = "" };
	struct store *st = NULL;
	cr_assert_eq(store_open(&st, db, &opt, err, sizeof(err)), 0, "%s", err);
	struct store_sweep first = first_sweep(st, T_BASE);

	uint64_t id;
	struct store_recorder *rec = rec_open(st, T_BASE + T_HOUR, NET, NET + 65535, &id);
	add_range(rec, NET, 65536, T_BASE + T_HOUR + 1);
	struct store_sweep fin = { .end_us = T_BASE + T_HOUR + 10, .ended = STORE_END_ALL_ANSWERED, .replies = 65536 };
	int rc = store_recorder_close(rec, &fin, &stored, err, sizeof(err));
	cr_log_info("full disk: %s", err);
	cr_assert_eq(rc, -ENOSPC, "rc %d (%s): %s", rc, strerror(-rc), err);
	char want[160];
	snprintf(want, sizeof(want), "no space left on %s: ", db);
	cr_assert_eq(strncmp(err, want, strlen(want)), 0, "%s", err);
	cr_assert_neq(strstr(err, "results of sweep 2 not stored; the store is intact"), NULL, "%s", err);
	cr_assert_lt(stored, 65536);
	store_close(st);

	/* Readable, consistent, the first sweep as it was. */
	opt.read_only = true;
	cr_assert_eq(store_open(&st, db, &opt, err, sizeof(err)), 0, "%s", err);
	struct store_check_report rep;
	cr_assert_eq(store_check(st, &rep, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rep.devices, 100 + stored);
	struct store_sweep s1 = t_get_sweep(st, first.id);
	cr_assert(s1.complete);
	cr_assert_eq(s1.observations, 100);
	cr_assert_eq(t_get(st, NET + 100).probes_total, 1);
	struct store_sweep s2 = t_get_sweep(st, id);
	cr_assert_not(s2.complete, "the sweep that did not fit is not complete");
	cr_assert(s2.ended == STORE_END_ALL_ANSWERED || s2.ended == STORE_END_INTERRUPTED, "%s",
		  store_sweep_end_name(s2.ended));
	store_close(st);
}
