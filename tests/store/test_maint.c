/* SPDX-License-Identifier: MIT */
/* test_maint.c: opening and refusing files, migration, backup/restore, check, map growth, full disk. */
#include "store_test.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define NET 0x0a000000u

static char dir[64];
static char path[128];

static void setup(void)
{
	umask(022);
	t_mkdtemp(dir);
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
}

static void teardown(void)
{
	t_rmtree(dir);
}

static void fill(struct store *st, uint64_t start, uint32_t first, uint32_t n)
{
	struct store_result *r = calloc(n, sizeof(*r));

	for (uint32_t i = 0; i < n; i++)
		r[i] = t_up(first + i, STORE_PROBE_ICMP, 100, start + i);
	t_sweep(st, start, first, first + n - 1, r, n);
	free(r);
}

static struct store_check_report check_ok(struct store *st)
{
	struct store_check_report rep;
	char err[512] = "";
	int rc = store_check(st, &rep, err, sizeof(err));

	cr_assert_eq(rc, 0, "store_check: %d %s", rc, err);
	cr_assert_eq(rep.problems, 0);
	return rep;
}

/* Opens dir's store with raw LMDB (the store closed) to forge what lnmt would never write. */
static void raw_put(const char *db, const void *k, size_t kl, const void *v, size_t vl)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val key = { kl, (void *)k }, val = { vl, (void *)v };

	cr_assert_eq(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 12);
	cr_assert_eq(mdb_env_open(env, dir, 0, 0640), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, db, MDB_CREATE, &dbi), 0);
	cr_assert_eq(mdb_put(txn, dbi, &key, &val, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

Test(store, fresh_store_modes_and_check, .init = setup, .fini = teardown)
{
	char sub[128];
	struct stat sb;

	snprintf(sub, sizeof(sub), "%s/new", dir);
	struct store *st = t_open(sub, 0);
	cr_assert_eq(stat(sub, &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0750, "dir mode %o", sb.st_mode & 0777);
	snprintf(sub, sizeof(sub), "%s/new/data.mdb", dir);
	cr_assert_eq(stat(sub, &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0640, "file mode %o", sb.st_mode & 0777);
	struct store_check_report rep = check_ok(st);
	cr_assert_eq(rep.schema_version, STORE_SCHEMA_VERSION);
	cr_assert_eq(rep.devices, 0);
	cr_assert_eq(rep.map_bytes, 64ull << 20);
	cr_assert_gt(rep.used_bytes, 0);
	fill(st, T_BASE, NET, 100);
	rep = check_ok(st);
	cr_assert_eq(rep.devices, 100);
	cr_assert_eq(rep.observations, 100);
	cr_assert_eq(rep.sweeps, 1);
	store_close(st);
}

Test(store, read_only_needs_a_store, .init = setup, .fini = teardown)
{
	struct store_options opt = { .read_only = true };
	struct store *st = NULL;
	char sub[128], err[512] = "";
	struct stat sb;

	snprintf(sub, sizeof(sub), "%s/none", dir);
	cr_assert_eq(store_open(&st, sub, &opt, err, sizeof(err)), -ENOENT, "%s", err);
	cr_assert_null(st);
	cr_assert_neq(strstr(err, "none/data.mdb"), NULL, "err does not name the file: %s", err);
	cr_assert_neq(stat(sub, &sb), 0, "read-only open created the directory");
}

/* Opening (read-write from mode 0, then read-only) fails with want_rc and want_msg, naming the
 * file, and the file stays byte-identical. */
static void assert_refused_from(int mode, int want_rc, const char *want_msg)
{
	struct store *st = NULL;
	struct store_options opt = { .oui_path = "" };
	char err[512] = "";
	size_t len_before, len_after;
	uint8_t *before = t_slurp(path, &len_before), *after;

	for (int ro = mode; ro < 2; ro++) {
		opt.read_only = ro;
		int rc = store_open(&st, dir, &opt, err, sizeof(err));
		cr_assert_eq(rc, want_rc, "read_only %d: rc %d (%s)", ro, rc, err);
		cr_assert_null(st);
		cr_assert_neq(strstr(err, path), NULL, "err does not name %s: %s", path, err);
		cr_assert_neq(strstr(err, want_msg), NULL, "err '%s' lacks '%s'", err, want_msg);
	}
	after = t_slurp(path, &len_after);
	cr_assert_eq(len_after, len_before, "size changed: %zu -> %zu", len_before, len_after);
	cr_assert_eq(memcmp(before, after, len_before), 0, "%s was modified", path);
	free(before);
	free(after);
}

static void assert_refused(int want_rc, const char *want_msg)
{
	assert_refused_from(0, want_rc, want_msg);
}

Test(store, foreign_file_is_refused_untouched, .init = setup, .fini = teardown)
{
	uint8_t junk[20000];
	uint64_t x = 88172645463325252ull;

	for (size_t i = 0; i < sizeof(junk); i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		junk[i] = (uint8_t)x;
	}
	t_write_file(path, junk, sizeof(junk));
	assert_refused(-EBADMSG, "not an LMDB file or corrupt");
	/* Short files too. */
	t_write_file(path, "hello", 5);
	assert_refused(-EBADMSG, "not an LMDB file or corrupt");
}

Test(store, lmdb_file_without_meta_is_refused, .init = setup, .fini = teardown)
{
	raw_put("other", "k", 1, "v", 1);
	assert_refused(-EBADMSG, "not an lnmt store (no meta record)");
}

Test(store, newer_schema_is_refused_untouched, .init = setup, .fini = teardown)
{
	struct store *st = t_open(dir, 0);
	uint8_t v[4];

	fill(st, T_BASE, NET, 10);
	store_close(st);
	schema_u32_encode(v, 7);
	raw_put("meta", SCHEMA_META_VERSION, strlen(SCHEMA_META_VERSION), v, 4);
	assert_refused(-EPROTONOSUPPORT, "written by a newer lnmt (schema 7, this lnmt reads up to 3)");
}

Test(store, truncated_store_is_refused, .init = setup, .fini = teardown)
{
	struct store *st = t_open(dir, 0);

	fill(st, T_BASE, NET, 3000);
	store_close(st);
	cr_assert_eq(truncate(path, 3 * 4096), 0);
	assert_refused(-EBADMSG, "truncated");
}

Test(store, empty_file_becomes_a_store, .init = setup, .fini = teardown)
{
	t_write_file(path, "", 0);
	struct store *st = t_open(dir, 0);
	cr_assert_eq(check_ok(st).schema_version, STORE_SCHEMA_VERSION);
	store_close(st);
}

struct obs_seen {
	struct store_observation o[8];
	size_t n;
};

static int see_obs(void *ctx, const struct store_observation *o)
{
	struct obs_seen *s = ctx;

	if (s->n < 8)
		s->o[s->n] = *o;
	s->n++;
	return 0;
}

static void copy_v1(void)
{
	t_copy_file(T_DATA "/store_v1/data.mdb", path);
}

Test(store, migrates_v1, .init = setup, .fini = teardown)
{
	copy_v1();
	struct store *st = t_open(dir, 0);
	struct store_check_report rep = check_ok(st);

	cr_assert_eq(rep.schema_version, STORE_SCHEMA_VERSION);
	cr_assert_eq(rep.devices, 4);
	cr_assert_eq(rep.observations, 7);
	cr_assert_eq(rep.rollups, 7);
	cr_assert_eq(rep.sweeps, 2);
	cr_assert_eq(rep.changes, 0);
	struct store_device d = t_get(st, NET + 1);
	cr_assert_str_eq(d.vendor, "Raspberry Pi Foundation");
	cr_assert_eq(d.probes_total, 2);
	cr_assert_eq(d.answers_total, 2);
	cr_assert_eq(d.n_open, 1);
	cr_assert_eq(d.open_ports[0], 22);
	cr_assert_eq(d.last_rtt_us, 290);
	cr_assert_str_eq(t_get(st, NET + 2).vendor, "American Micro-Fuel Device Corp.");
	cr_assert_eq(t_get(st, NET + 2).missed, 1);
	cr_assert_str_eq(t_get(st, NET + 3).vendor, "");
	cr_assert_str_eq(t_get(st, NET + 4).vendor, "");
	cr_assert_not(t_get(st, NET + 4).has_mac);
	/* Observations keep their sweeps, times and states: .2 answered sweep 1, missed sweep 2. */
	struct obs_seen seen = { 0 };
	cr_assert_eq(store_device_observations(st, NET + 2, 0, see_obs, &seen), 0);
	cr_assert_eq(seen.n, 2);
	cr_assert_eq(seen.o[0].sweep_id, 2);
	cr_assert_eq(seen.o[0].state, STORE_STATE_DOWN);
	cr_assert_eq(seen.o[0].time_us, 1609459200000000ull + T_HOUR);
	cr_assert_eq(seen.o[1].sweep_id, 1);
	cr_assert_eq(seen.o[1].state, STORE_STATE_UP);
	cr_assert_eq(seen.o[1].rtt_us, 500);

	/* Sweep records keep their meaning (schema 1 and 2 wrote ended 1 for "wait elapsed") and
	 * get the count of their observations. */
	for (uint64_t id = 1; id <= 2; id++) {
		struct store_sweep sw = t_get_sweep(st, id);
		cr_assert_eq(sw.ended, STORE_END_WAIT, "sweep %llu: %s", (unsigned long long)id,
			     store_sweep_end_name(sw.ended));
		cr_assert(sw.complete);
		cr_assert_eq(sw.live, 3);
		cr_assert_eq(sw.observations, id == 1 ? 3 : 4, "sweep %llu: %llu observations", (unsigned long long)id,
			     (unsigned long long)sw.observations);
		cr_assert_eq(sw.pid, 0);
	}

	/* The migrated store records on: sweep ids continue, a second miss takes .2 down. */
	struct store_result r[] = { t_up(NET + 1, STORE_PROBE_ICMP, 1, 0), t_up(NET + 3, STORE_PROBE_ICMP, 1, 0),
				    t_up(NET + 4, STORE_PROBE_ICMP, 1, 0) };
	struct store_sweep s = t_sweep(st, 1609459200000000ull + 2 * T_HOUR, NET, NET + 7, r, 3);
	cr_assert_eq(s.id, 3);
	cr_assert_eq(t_get_sweep(st, 3).went_down, 1);
	cr_assert_eq(t_get(st, NET + 2).state, STORE_STATE_DOWN);
	rep = check_ok(st);
	cr_assert_eq(rep.changes, 1);
	store_close(st);

	/* Reopened: nothing left to migrate. */
	st = t_open(dir, 0);
	cr_assert_eq(check_ok(st).observations, 11);
	store_close(st);
}

Test(store, v1_read_only_is_refused_untouched, .init = setup, .fini = teardown)
{
	copy_v1();
	assert_refused_from(1, -EPROTO, "written by an older lnmt (schema 1)");
}

Test(store, backup_and_restore, .init = setup, .fini = teardown)
{
	char bak[160], err[512] = "";
	struct store *st = t_open(dir, 0);

	fill(st, T_BASE, NET, 500);
	snprintf(bak, sizeof(bak), "%s/backup.mdb", dir);
	cr_assert_eq(store_backup(st, bak, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_backup(st, bak, err, sizeof(err)), -EEXIST, "backup over an existing file");
	cr_assert_neq(strstr(err, "already exists"), NULL, "%s", err);

	fill(st, T_BASE + T_HOUR, NET + 1000, 700);
	cr_assert_eq(check_ok(st).devices, 1200);
	store_close(st);

	/* Garbage is refused and the store stays. */
	char junk[160];
	snprintf(junk, sizeof(junk), "%s/junk", dir);
	t_write_file(junk, "not a store at all, not even close, but long enough", 52);
	cr_assert_eq(store_restore(dir, junk, err, sizeof(err)), -EBADMSG, "%s", err);
	cr_assert_neq(strstr(err, junk), NULL, "err does not name the backup: %s", err);
	st = t_open(dir, 0);
	cr_assert_eq(check_ok(st).devices, 1200);
	store_close(st);

	cr_assert_eq(store_restore(dir, bak, err, sizeof(err)), 0, "%s", err);
	st = t_open(dir, 0);
	struct store_check_report rep = check_ok(st);
	cr_assert_eq(rep.devices, 500);
	cr_assert_eq(rep.sweeps, 1);
	cr_assert_eq(t_get(st, NET + 499).probes_total, 1);
	struct store_device d;
	cr_assert_eq(store_device_get(st, NET + 1000, &d), -ENOENT);
	/* It records on after the restore. */
	fill(st, T_BASE + 2 * T_HOUR, NET, 10);
	cr_assert_eq(t_get_sweep(st, 2).new_devices, 0);
	store_close(st);
	snprintf(junk, sizeof(junk), "%s/data.mdb.restore", dir);
	struct stat sb;
	cr_assert_neq(stat(junk, &sb), 0, "restore left its temp file");
}

Test(store, restore_into_a_new_dir, .init = setup, .fini = teardown)
{
	char bak[160], sub[160], err[512] = "";
	struct store *st = t_open(dir, 0);

	fill(st, T_BASE, NET, 50);
	snprintf(bak, sizeof(bak), "%s/b.mdb", dir);
	cr_assert_eq(store_backup(st, bak, err, sizeof(err)), 0, "%s", err);
	store_close(st);
	snprintf(sub, sizeof(sub), "%s/elsewhere", dir);
	cr_assert_eq(store_restore(sub, bak, err, sizeof(err)), 0, "%s", err);
	st = t_open(sub, 0);
	cr_assert_eq(check_ok(st).devices, 50);
	store_close(st);
}

/* A backup taken while a recorder writes is a consistent store. */
Test(store, backup_while_recording, .init = setup, .fini = teardown)
{
	char bak[160], err[512] = "";
	struct store *st = t_open(dir, 0);
	struct store_sweep info = { .start_us = T_BASE };
	struct store_range range = { NET, NET + 65535 };
	struct store_recorder *rec;

	cr_assert_eq(store_recorder_open(st, &info, &range, 1, &rec, err, sizeof(err)), 0, "%s", err);
	for (uint32_t i = 0; i < 30000; i++) {
		struct store_result r = t_up(NET + i, STORE_PROBE_ICMP, 1, T_BASE + i);
		store_recorder_add(rec, &r);
		if (i == 15000) {
			snprintf(bak, sizeof(bak), "%s/during.mdb", dir);
			cr_assert_eq(store_backup(st, bak, err, sizeof(err)), 0, "%s", err);
		}
	}
	cr_assert_eq(store_recorder_close(rec, &info, NULL, err, sizeof(err)), 0, "%s", err);
	store_close(st);

	char sub[160];
	snprintf(sub, sizeof(sub), "%s/copy", dir);
	cr_assert_eq(store_restore(sub, bak, err, sizeof(err)), 0, "%s", err);
	st = t_open(sub, 0);
	struct store_check_report rep = check_ok(st);
	cr_assert_leq(rep.devices, 30000);
	cr_assert_eq(rep.sweeps, 1);
	store_close(st);
}

struct reader {
	struct store *st;
	volatile int stop;
	uint64_t reads, found;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct store_device d;

	while (!r->stop) {
		for (uint32_t i = 0; i < 20000; i += 101) {
			int rc = store_device_get(r->st, NET + i, &d);
			cr_assert(rc == 0 || rc == -ENOENT, "read during growth: %d", rc);
			r->found += rc == 0;
			r->reads++;
		}
	}
	return NULL;
}

Test(store, map_grows_while_readers_read, .init = setup, .fini = teardown)
{
	struct store *st = NULL;
	struct store_options opt = { .oui_path = "" };
	char err[512] = "";
	pthread_t thr;

	cr_assert_eq(store_open_ex(&st, dir, &opt, 256 << 10, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(check_ok(st).map_bytes, 256 << 10);
	struct reader r = { .st = st };
	cr_assert_eq(pthread_create(&thr, NULL, reader_main, &r), 0);
	fill(st, T_BASE, NET, 20000);
	fill(st, T_BASE + T_HOUR, NET, 20000);
	r.stop = 1;
	pthread_join(thr, NULL);
	struct store_check_report rep = check_ok(st);
	cr_assert_gt(rep.map_bytes, 4u << 20, "map did not grow: %llu", (unsigned long long)rep.map_bytes);
	cr_assert_eq(rep.devices, 20000);
	cr_assert_eq(rep.observations, 40000);
	cr_assert_gt(r.reads, 0);
	store_close(st);

	/* Reopened, the map starts at the file's size. */
	st = t_open(dir, 0);
	cr_assert_eq(t_get(st, NET + 19999).probes_total, 2);
	store_close(st);
}

/* A full disk, simulated by a file size limit: the error says what was lost, what was
 * committed before stays, and the sweep is marked incomplete. */
Test(store, full_disk_keeps_earlier_data, .init = setup, .fini = teardown)
{
	struct store *st = t_open(dir, 0);
	struct store_sweep info = { .start_us = T_BASE + T_HOUR };
	struct store_range range = { NET, NET + 0xfffff };
	struct store_recorder *rec;
	struct rlimit lim;
	struct stat sb;
	char err[512] = "";
	uint64_t stored = 0;

	fill(st, T_BASE, NET, 1000);
	cr_assert_eq(stat(path, &sb), 0);
	signal(SIGXFSZ, SIG_IGN);
	lim.rlim_cur = lim.rlim_max = (rlim_t)sb.st_size + (256 << 10);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);

	cr_assert_eq(store_recorder_open(st, &info, &range, 1, &rec, err, sizeof(err)), 0, "%s", err);
	for (uint32_t i = 0; i < 200000; i++) {
		struct store_result r = t_up(NET + 5000 + i, STORE_PROBE_ICMP, 1, T_BASE + T_HOUR);
		store_recorder_add(rec, &r);
	}
	int rc = store_recorder_close(rec, &info, &stored, err, sizeof(err));
	/* EFBIG, or EIO: LMDB reports a short write as EIO, as it would on a full disk. */
	cr_assert(rc == -EFBIG || rc == -EIO, "rc %d: %s", rc, err);
	cr_assert_lt(stored, 200000);
	cr_assert_neq(strstr(err, "results of sweep 2 not stored"), NULL, "%s", err);
	cr_assert_neq(strstr(err, path), NULL, "%s", err);
	store_close(st);

	lim.rlim_cur = lim.rlim_max = RLIM_INFINITY;
	setrlimit(RLIMIT_FSIZE, &lim);
	st = t_open(dir, 0);
	struct store_check_report rep = check_ok(st);
	cr_assert_geq(rep.devices, 1000);
	cr_assert_eq(rep.devices, 1000 + stored, "devices %llu, stored %llu", (unsigned long long)rep.devices,
		     (unsigned long long)stored);
	cr_assert_eq(t_get(st, NET + 999).probes_total, 1, "the earlier sweep's data");
	cr_assert(t_get_sweep(st, 1).complete);
	cr_assert_not(t_get_sweep(st, 2).complete, "the failed sweep is not complete");
	store_close(st);
}

Test(store, check_finds_orphans_and_bad_records, .init = setup, .fini = teardown)
{
	struct store *st = t_open(dir, 0);
	uint8_t k[12], v[3] = { 1, 2, 3 };
	struct store_check_report rep;
	char err[512] = "";

	fill(st, T_BASE, NET, 10);
	store_close(st);
	schema_key_sweep_ip(k, 1, NET + 77);
	raw_put("observations", k, 12, v, 3);
	st = t_open(dir, 0);
	cr_assert_eq(store_check(st, &rep, err, sizeof(err)), -EBADMSG);
	/* Bad, of no device, and not counted by its sweep's record. */
	cr_assert_eq(rep.problems, 3, "problems %llu (%s)", (unsigned long long)rep.problems, err);
	cr_assert_neq(strstr(err, "10.0.0.77"), NULL, "%s", err);
	cr_assert_eq(rep.observations, 11);
	store_close(st);
}

Test(store, default_dir)
{
	char buf[256];

	setenv("LNMT_DB", "/srv/lnmt-db", 1);
	cr_assert_str_eq(store_default_dir(buf, sizeof(buf)), "/srv/lnmt-db");
	unsetenv("LNMT_DB");
	if (geteuid() == 0) {
		cr_assert_str_eq(store_default_dir(buf, sizeof(buf)), "/var/lib/lnmt");
	} else {
		setenv("XDG_DATA_HOME", "/x/data", 1);
		cr_assert_str_eq(store_default_dir(buf, sizeof(buf)), "/x/data/lnmt");
		unsetenv("XDG_DATA_HOME");
		setenv("HOME", "/home/u", 1);
		cr_assert_str_eq(store_default_dir(buf, sizeof(buf)), "/home/u/.local/share/lnmt");
	}
}

/* Restoring under a process that has the store open would leave it writing to the old file. */
Test(store, restore_refuses_a_store_in_use, .init = setup, .fini = teardown)
{
	char bak[160], err[512] = "";
	int ready[2], done[2];
	char c = 0;
	struct store *st = t_open(dir, 0);

	fill(st, T_BASE, NET, 5);
	snprintf(bak, sizeof(bak), "%s/b.mdb", dir);
	cr_assert_eq(store_backup(st, bak, err, sizeof(err)), 0, "%s", err);
	store_close(st);
	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(done), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct store_options opt = { .read_only = true };
		struct store *held = NULL;
		int ok = store_open(&held, dir, &opt, NULL, 0) == 0;
		(void)!write(ready[1], "x", 1);
		(void)!read(done[0], &c, 1);
		store_close(held);
		_exit(ok ? 0 : 1);
	}
	cr_assert_eq(read(ready[0], &c, 1), 1);
	int rc = store_restore(dir, bak, err, sizeof(err));
	(void)!write(done[1], "x", 1);
	int status = 0;
	waitpid(pid, &status, 0);
	cr_assert_eq(WEXITSTATUS(status), 0, "the child could not open the store");
	cr_assert_eq(rc, -EBUSY, "rc %d: %s", rc, err);
	cr_assert_neq(strstr(err, "in use by process"), NULL, "%s", err);
	/* Once it is closed, the restore goes through. */
	cr_assert_eq(store_restore(dir, bak, err, sizeof(err)), 0, "%s", err);
}

/* Schema 2 as first committed kept schema 1's address-first observations and roll-ups: such a
 * store (made here from the schema 1 one) is converted on a read-write open. */
Test(store, converts_the_early_schema_2_layout, .init = setup, .fini = teardown)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dev, meta, chg;
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t buf[SCHEMA_DEVICE_MAX_LEN], key[4];

	copy_v1();
	cr_assert_eq(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 12);
	cr_assert_eq(mdb_env_open(env, dir, 0, 0640), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, "devices", 0, &dev), 0);
	cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	cr_assert_eq(mdb_dbi_open(txn, "changes", MDB_CREATE, &chg), 0);
	cr_assert_eq(mdb_cursor_open(txn, dev, &cur), 0);
	for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct schema_device sd;
		cr_assert_eq(schema_device_decode(&sd, v.mv_data, v.mv_size, 1), 0);
		snprintf(sd.d.vendor, sizeof(sd.d.vendor), "Early");
		memcpy(key, k.mv_data, 4);
		MDB_val nk = { 4, key }, nv = { schema_device_encode(buf, &sd, 2), buf };
		cr_assert_eq(mdb_cursor_put(cur, &nk, &nv, MDB_CURRENT), 0);
	}
	mdb_cursor_close(cur);
	uint8_t ck[12], cv[1];
	schema_key_ip_time(ck, NET + 1, 1609459200000000ull);
	MDB_val chk = { 12, ck }, chv = { schema_change_encode(cv, STORE_STATE_UP), cv };
	cr_assert_eq(mdb_put(txn, chg, &chk, &chv, 0), 0);
	MDB_val vk = { strlen(SCHEMA_META_VERSION), SCHEMA_META_VERSION }, vv = { schema_u32_encode(buf, 2), buf };
	cr_assert_eq(mdb_put(txn, meta, &vk, &vv, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	assert_refused_from(1, -EPROTO, "early layout");
	struct store *st = t_open(dir, 0);
	struct store_check_report rep = check_ok(st);
	cr_assert_eq(rep.observations, 7);
	cr_assert_eq(rep.rollups, 7);
	cr_assert_eq(rep.changes, 1);
	cr_assert_str_eq(t_get(st, NET + 1).vendor, "Early", "devices are kept as they are");
	store_close(st);
}
