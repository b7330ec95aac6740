/* SPDX-License-Identifier: MIT */
/* test_notes.c: device names and notes (notes.c): set, clear, import, reads, old stores, backup. */
#include "store_test.h"

#include "err.h"

/* 198.18.0.0/15 is the lab's (RFC 2544 benchmarking) space: never a real network. */
#define IP(c, d) (0xc6120000u | (uint32_t)(c) << 8 | (uint32_t)(d))

struct t_notes {
	struct store_note v[16];
	size_t n;
};

static int collect_note(void *ctx, const struct store_note *n)
{
	struct t_notes *t = ctx;

	cr_assert_lt(t->n, 16);
	t->v[t->n++] = *n;
	return 0;
}

static struct t_notes list_notes(struct store *st, bool unseen_only)
{
	struct t_notes t = { .n = 0 };
	int rc = store_notes_list(st, unseen_only, collect_note, &t);

	cr_assert_eq(rc, 0, "store_notes_list: %d", rc);
	return t;
}

struct t_devs {
	struct store_device v[16];
	size_t n;
};

static int collect_dev(void *ctx, const struct store_device *d)
{
	struct t_devs *t = ctx;

	cr_assert_lt(t->n, 16);
	t->v[t->n++] = *d;
	return 0;
}

static void set_ok(struct store *st, uint32_t ip, const char *name, const char *note)
{
	char err[256] = "";
	int rc = store_note_set(st, ip, name, note, err, sizeof(err));

	cr_assert_eq(rc, 0, "store_note_set: %d %s", rc, err);
}

/* A sweep over 198.18.0.0/24 that finds the given last octets up. */
static void sweep_up(struct store *st, uint64_t t, const uint8_t *last, size_t n)
{
	struct store_result r[8];

	cr_assert_leq(n, 8);
	for (size_t i = 0; i < n; i++)
		r[i] = t_up(IP(0, last[i]), STORE_PROBE_ICMP, 100, t + i);
	t_sweep(st, t, IP(0, 0), IP(0, 255), r, n);
}

Test(store_notes, set_clear_delete)
{
	char dir[64];
	struct store *st = t_open(t_mkdtemp(dir), 0);
	struct store_note n;

	cr_assert_eq(store_note_get(st, IP(0, 1), &n), -ENOENT);
	set_ok(st, IP(0, 1), "printer", "room 2.14");
	cr_assert_eq(store_note_get(st, IP(0, 1), &n), 0);
	cr_assert_str_eq(n.name, "printer");
	cr_assert_str_eq(n.note, "room 2.14");
	cr_assert_eq(n.ip, IP(0, 1));
	cr_assert(!n.seen, "no sweep has seen it");
	cr_assert_gt(n.updated_us, 0);

	/* NULL keeps a field, "" clears it. */
	set_ok(st, IP(0, 1), NULL, "toner ordered");
	cr_assert_eq(store_note_get(st, IP(0, 1), &n), 0);
	cr_assert_str_eq(n.name, "printer");
	cr_assert_str_eq(n.note, "toner ordered");
	set_ok(st, IP(0, 1), "", NULL);
	cr_assert_eq(store_note_get(st, IP(0, 1), &n), 0);
	cr_assert_str_eq(n.name, "");
	cr_assert_str_eq(n.note, "toner ordered");

	/* Both empty: the record goes. */
	set_ok(st, IP(0, 1), NULL, "");
	cr_assert_eq(store_note_get(st, IP(0, 1), &n), -ENOENT);
	cr_assert_eq(list_notes(st, false).n, 0);
	/* Clearing what is not there is fine. */
	set_ok(st, IP(0, 2), "", "");
	cr_assert_eq(list_notes(st, false).n, 0);

	/* It survives closing. */
	set_ok(st, IP(0, 3), "nas", NULL);
	store_close(st);
	st = t_open(dir, 0);
	cr_assert_eq(store_note_get(st, IP(0, 3), &n), 0);
	cr_assert_str_eq(n.name, "nas");
	cr_assert_str_eq(n.note, "");
	store_close(st);
	t_rmtree(dir);
}

Test(store_notes, bad_text)
{
	char dir[64], err[256], name[STORE_NAME_LEN + 2], note[STORE_NOTE_LEN + 2];
	struct store *st = t_open(t_mkdtemp(dir), 0);
	struct store_note n;

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';                /* 65 bytes */
	memset(note, 't', sizeof(note) - 1);
	note[sizeof(note) - 1] = '\0';                /* 257 bytes */
	cr_assert_eq(store_note_set(st, IP(0, 1), name, NULL, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "name is 65 bytes long, the most is 64"), "err: %s", err);
	cr_assert(strstr(err, "198.18.0.1"), "err names the address: %s", err);
	cr_assert_eq(store_note_set(st, IP(0, 1), NULL, note, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "note is 257 bytes long, the most is 256"), "err: %s", err);
	cr_assert_eq(store_note_set(st, IP(0, 1), "two\nlines", NULL, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "control character"), "err: %s", err);
	cr_assert_eq(store_note_set(st, IP(0, 1), "\xc3\x28", NULL, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "UTF-8"), "err: %s", err);
	cr_assert_eq(store_note_set(st, IP(0, 1), "\xc2\x85", NULL, err, sizeof(err)), -EINVAL, "C1 control");
	cr_assert_eq(list_notes(st, false).n, 0, "nothing written");

	/* The limits themselves, and UTF-8 beyond ASCII, are fine. */
	name[STORE_NAME_LEN] = '\0';
	note[STORE_NOTE_LEN] = '\0';
	set_ok(st, IP(0, 1), name, note);
	cr_assert_eq(store_note_get(st, IP(0, 1), &n), 0);
	cr_assert_eq(strlen(n.name), STORE_NAME_LEN);
	cr_assert_eq(strlen(n.note), STORE_NOTE_LEN);
	set_ok(st, IP(0, 2), "Drucker Büro \xe2\x80\x93 2. OG", "caf\xc3\xa9 \xf0\x9f\x96\xa8");
	cr_assert_eq(store_note_check(NULL, NULL, NULL, 0), 0);
	store_close(st);
	t_rmtree(dir);
}

Test(store_notes, import_is_all_or_nothing)
{
	char dir[64], err[256], long_name[STORE_NAME_LEN + 2];
	struct store *st = t_open(t_mkdtemp(dir), 0);
	struct store_notes_import_report rep = { 0 };
	const uint8_t seen[] = { 1, 2 };
	int rc;

	sweep_up(st, T_BASE, seen, 2);
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	struct store_note_edit bad[] = {
		{ IP(0, 1), "router", "core" },
		{ IP(0, 7), "ap", NULL },
		{ IP(0, 8), long_name, NULL },
	};
	rc = store_notes_import(st, bad, 3, &rep, err, sizeof(err));
	cr_assert_eq(rc, -EINVAL);
	cr_assert(strstr(err, "entry 3 (198.18.0.8): name is 65 bytes"), "err: %s", err);
	cr_assert_eq(list_notes(st, false).n, 0, "a bad entry writes nothing");

	struct store_note_edit dup[] = {
		{ IP(0, 1), "router", NULL },
		{ IP(0, 7), "ap", NULL },
		{ IP(0, 1), "again", NULL },
	};
	rc = store_notes_import(st, dup, 3, &rep, err, sizeof(err));
	cr_assert_eq(rc, -EINVAL);
	cr_assert(strstr(err, "entries 1 and 3 are both 198.18.0.1"), "err: %s", err);
	cr_assert_eq(list_notes(st, false).n, 0);

	struct store_note_edit *many = calloc(STORE_NOTES_IMPORT_MAX + 1, sizeof(*many));
	cr_assert_not_null(many);
	for (uint32_t i = 0; i <= STORE_NOTES_IMPORT_MAX; i++)
		many[i] = (struct store_note_edit){ IP(0, 0) + i, "x", NULL };
	cr_assert_eq(store_notes_import(st, many, STORE_NOTES_IMPORT_MAX + 1, &rep, err, sizeof(err)), LNMT_E_TOOBIG);
	free(many);

	/* The good ones: two known devices, one address never seen. */
	struct store_note_edit good[] = {
		{ IP(0, 2), "switch", "rack 1" },
		{ IP(0, 1), "router", "core" },
		{ IP(0, 7), "ap", NULL },
	};
	rc = store_notes_import(st, good, 3, &rep, err, sizeof(err));
	cr_assert_eq(rc, 0, "import: %d %s", rc, err);
	cr_assert_eq(rep.imported, 3);
	cr_assert_eq(rep.known, 2);
	cr_assert_eq(rep.unknown, 1);
	struct t_notes t = list_notes(st, false);
	cr_assert_eq(t.n, 3);
	cr_assert_eq(t.v[0].ip, IP(0, 1), "address order");
	cr_assert_str_eq(t.v[0].name, "router");
	cr_assert(t.v[0].seen);
	cr_assert_eq(t.v[2].ip, IP(0, 7));
	cr_assert(!t.v[2].seen);
	t = list_notes(st, true);
	cr_assert_eq(t.n, 1, "only 198.18.0.7 was never seen");
	cr_assert_eq(t.v[0].ip, IP(0, 7));

	/* An import edits like store_note_set: NULL keeps, "" clears, both empty deletes. */
	struct store_note_edit edit[] = { { IP(0, 2), NULL, "rack 2" }, { IP(0, 7), "", NULL } };
	cr_assert_eq(store_notes_import(st, edit, 2, &rep, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(list_notes(st, false).n, 2);
	struct store_device d = t_get(st, IP(0, 2));
	cr_assert_str_eq(d.name, "switch");
	cr_assert_str_eq(d.note, "rack 2");
	store_close(st);
	t_rmtree(dir);
}

Test(store_notes, devices_carry_them)
{
	char dir[64];
	struct store *st = t_open(t_mkdtemp(dir), 0);
	const uint8_t first[] = { 1, 2, 3 };
	const uint8_t later[] = { 1, 2, 3, 9 };
	struct store_device d;

	sweep_up(st, T_BASE, first, 3);
	set_ok(st, IP(0, 2), "Office Printer", "HP, 2nd floor");
	set_ok(st, IP(0, 9), "camera", "not installed yet");
	d = t_get(st, IP(0, 2));
	cr_assert_str_eq(d.name, "Office Printer");
	cr_assert_str_eq(d.note, "HP, 2nd floor");
	d = t_get(st, IP(0, 1));
	cr_assert_str_eq(d.name, "");
	cr_assert_str_eq(d.note, "");
	cr_assert_eq(store_device_get(st, IP(0, 9), &d), -ENOENT, "an annotation is not a device");

	struct t_devs all = { .n = 0 };
	struct store_filter f = { .state = -1 };
	cr_assert_eq(store_devices_list(st, &f, collect_dev, &all, NULL, NULL), 0);
	cr_assert_eq(all.n, 3);
	cr_assert_str_eq(all.v[0].name, "");
	cr_assert_str_eq(all.v[1].name, "Office Printer");
	cr_assert_str_eq(all.v[1].note, "HP, 2nd floor");

	/* The text filter matches the name or the note, any case. */
	struct t_devs m = { .n = 0 };
	f.text = "printer";
	cr_assert_eq(store_devices_list(st, &f, collect_dev, &m, NULL, NULL), 0);
	cr_assert_eq(m.n, 1);
	cr_assert_eq(m.v[0].ip, IP(0, 2));
	m.n = 0;
	f.text = "2ND FLOOR";
	cr_assert_eq(store_devices_list(st, &f, collect_dev, &m, NULL, NULL), 0);
	cr_assert_eq(m.n, 1);
	m.n = 0;
	f.text = "camera";
	cr_assert_eq(store_devices_list(st, &f, collect_dev, &m, NULL, NULL), 0);
	cr_assert_eq(m.n, 0, "198.18.0.9 is no device yet");

	/* ... and the address too: one search box finds a device by what one remembers of it */
	m.n = 0;
	f.text = "18.0.3";
	cr_assert_eq(store_devices_list(st, &f, collect_dev, &m, NULL, NULL), 0);
	cr_assert_eq(m.n, 1);
	cr_assert_eq(m.v[0].ip, IP(0, 3));
	m.n = 0;
	f.text = "198.18.0.";
	cr_assert_eq(store_devices_list(st, &f, collect_dev, &m, NULL, NULL), 0);
	cr_assert_eq(m.n, 3);
	m.n = 0;
	f.text = "198.18.1.";
	cr_assert_eq(store_devices_list(st, &f, collect_dev, &m, NULL, NULL), 0);
	cr_assert_eq(m.n, 0);
	f.text = "camera";

	/* Once a sweep finds it, the device carries its annotation. */
	sweep_up(st, T_BASE + T_HOUR, later, 4);
	d = t_get(st, IP(0, 9));
	cr_assert_str_eq(d.name, "camera");
	cr_assert_str_eq(d.note, "not installed yet");
	m.n = 0;
	cr_assert_eq(store_devices_list(st, &f, collect_dev, &m, NULL, NULL), 0);
	cr_assert_eq(m.n, 1);
	cr_assert_eq(list_notes(st, true).n, 0);
	store_close(st);
	t_rmtree(dir);
}

/* A note written while a recorder's writer thread holds the store: both get through. */
Test(store_notes, while_recording)
{
	char dir[64], err[256] = "";
	struct store *st = t_open(t_mkdtemp(dir), 0);
	struct store_sweep info = { .start_us = T_BASE, .probes = STORE_PROBE_ICMP };
	struct store_range range = { IP(0, 0), IP(0, 255) };
	struct store_recorder *rec;
	uint64_t stored = 0;

	cr_assert_eq(store_recorder_open(st, &info, &range, 1, &rec, err, sizeof(err)), 0, "%s", err);
	for (int i = 0; i < 200; i++) {
		struct store_result r = t_up(IP(0, i), STORE_PROBE_ICMP, 100, T_BASE + (uint64_t)i);
		store_recorder_add(rec, &r);
		if (i % 50 == 0)
			set_ok(st, IP(0, i), "busy", NULL);
	}
	struct store_sweep fin = info;
	fin.end_us = T_BASE + 1000000;
	cr_assert_eq(store_recorder_close(rec, &fin, &stored, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(stored, 200);
	cr_assert_str_eq(t_get(st, IP(0, 150)).name, "busy");
	cr_assert_eq(list_notes(st, false).n, 4);
	store_close(st);
	t_rmtree(dir);
}

static int drop_notes(struct store *st, MDB_txn *txn, void *arg)
{
	(void)arg;
	return mdb_drop(txn, st->db_notes, 1);
}

/* A store written before notes existed (no "notes" database) opens read-only and reads as
 * having no notes; opened for writing, it gets the database. */
Test(store_notes, older_store_without_notes)
{
	char dir[64], err[256];
	struct store *st = t_open(t_mkdtemp(dir), 0);
	struct store_options ro = { .read_only = true, .oui_path = "" };
	const uint8_t up[] = { 1, 2 };
	struct store_note n;
	struct store_device d;
	int rc;

	sweep_up(st, T_BASE, up, 2);
	set_ok(st, IP(0, 1), "gone soon", NULL);
	cr_assert_eq(store_wr_run(st, drop_notes, NULL), 0);
	store_close(st);

	rc = store_open(&st, dir, &ro, err, sizeof(err));
	cr_assert_eq(rc, 0, "read-only open without notes: %d %s", rc, err);
	cr_assert(!st->has_notes);
	cr_assert_eq(store_device_get(st, IP(0, 1), &d), 0);
	cr_assert_str_eq(d.name, "");
	struct t_devs all = { .n = 0 };
	cr_assert_eq(store_devices_list(st, NULL, collect_dev, &all, NULL, NULL), 0);
	cr_assert_eq(all.n, 2);
	cr_assert_eq(store_note_get(st, IP(0, 1), &n), -ENOENT);
	cr_assert_eq(list_notes(st, false).n, 0);
	cr_assert_eq(store_note_set(st, IP(0, 1), "x", NULL, err, sizeof(err)), -EROFS);
	struct store_check_report r;
	cr_assert_eq(store_check(st, &r, err, sizeof(err)), 0, "check: %s", err);
	cr_assert_eq(r.notes, 0);
	store_close(st);

	st = t_open(dir, 0);
	cr_assert(st->has_notes, "created when opened for writing");
	set_ok(st, IP(0, 1), "back", NULL);
	store_close(st);
	rc = store_open(&st, dir, &ro, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_str_eq(t_get(st, IP(0, 1)).name, "back");
	store_close(st);
	t_rmtree(dir);
}

Test(store_notes, backup_restore_and_check)
{
	char dir[64], dir2[64], file[128], err[256];
	struct store *st = t_open(t_mkdtemp(dir), 0);
	struct store_check_report r;
	const uint8_t up[] = { 1 };
	struct store_note n;
	int rc;

	sweep_up(st, T_BASE, up, 1);
	set_ok(st, IP(0, 1), "router", "core");
	set_ok(st, IP(1, 1), "future", NULL);
	rc = store_check(st, &r, err, sizeof(err));
	cr_assert_eq(rc, 0, "check: %d %s", rc, err);
	cr_assert_eq(r.notes, 2);
	cr_assert_eq(r.problems, 0);

	snprintf(file, sizeof(file), "%s/backup.mdb", dir);
	cr_assert_eq(store_backup(st, file, err, sizeof(err)), 0, "backup: %s", err);
	store_close(st);

	t_mkdtemp(dir2);
	cr_assert_eq(store_restore(dir2, file, err, sizeof(err)), 0, "restore: %s", err);
	st = t_open(dir2, 0);
	cr_assert_str_eq(t_get(st, IP(0, 1)).name, "router");
	cr_assert_eq(store_note_get(st, IP(1, 1), &n), 0);
	cr_assert_str_eq(n.name, "future");
	cr_assert_eq(store_check(st, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.notes, 2);
	store_close(st);
	t_rmtree(dir2);
	t_rmtree(dir);
}

static int put_bad_note(struct store *st, MDB_txn *txn, void *arg)
{
	uint8_t k[4], junk[5] = { 9, 9, 9, 9, 9 };
	MDB_val key = { 4, k }, v = { sizeof(junk), junk };

	schema_key_ip(k, *(uint32_t *)arg);
	return mdb_put(txn, st->db_notes, &key, &v, 0);
}

Test(store_notes, check_finds_a_bad_record)
{
	char dir[64], err[256];
	struct store *st = t_open(t_mkdtemp(dir), 0);
	struct store_check_report r;
	const uint8_t up[] = { 1 };
	uint32_t ip = IP(0, 1);

	sweep_up(st, T_BASE, up, 1);
	set_ok(st, IP(0, 2), "ok", NULL);
	cr_assert_eq(store_wr_run(st, put_bad_note, &ip), 0);
	cr_assert_eq(store_check(st, &r, err, sizeof(err)), -EBADMSG);
	cr_assert_eq(r.notes, 2);
	cr_assert_eq(r.problems, 1);
	cr_assert(strstr(err, "notes: 1 bad record"), "err: %s", err);
	/* Reads take a damaged note as none; setting one replaces it. */
	cr_assert_str_eq(t_get(st, IP(0, 1)).name, "");
	set_ok(st, IP(0, 1), "fixed", NULL);
	cr_assert_eq(store_check(st, &r, err, sizeof(err)), 0, "%s", err);
	store_close(st);
	t_rmtree(dir);
}
