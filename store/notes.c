/* SPDX-License-Identifier: MIT */
/* notes.c: what people call a device: its name and note, in the "notes" database. */
#include "store_int.h"

#include "err.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>

/*
 * Record (little-endian, written and read only here, like schema.c's):
 *   notes  ip(4 BE) -> u8 version 1, u64 updated_us, u8 name_len, name bytes,
 *                      u16 note_len, note bytes                        (12 + name + note bytes)
 * Text is stored without a NUL; name_len <= STORE_NAME_LEN, note_len <= STORE_NOTE_LEN. A record
 * with both empty is never written: clearing both deletes it.
 *
 * The annotations live apart from the device records on purpose: the recorder rewrites device
 * records on every sweep and never needs the text, and an annotation may exist for an address
 * no sweep has found yet (an imported inventory). Reads join the two by address in one snapshot.
 */

#define NOTE_VERSION 1
#define NOTE_FIXED_LEN 12
#define NOTE_MAX_LEN (NOTE_FIXED_LEN + STORE_NAME_LEN + STORE_NOTE_LEN)

/* ---- encoding ---- */

static size_t note_encode(uint8_t buf[NOTE_MAX_LEN], const struct store_note *n)
{
	size_t nl = strnlen(n->name, STORE_NAME_LEN), tl = strnlen(n->note, STORE_NOTE_LEN);
	uint64_t t = htole64(n->updated_us);
	uint16_t tl16 = htole16((uint16_t)tl);
	uint8_t *p = buf;

	*p++ = NOTE_VERSION;
	memcpy(p, &t, 8);
	p += 8;
	*p++ = (uint8_t)nl;
	memcpy(p, n->name, nl);
	p += nl;
	memcpy(p, &tl16, 2);
	p += 2;
	memcpy(p, n->note, tl);
	p += tl;
	return (size_t)(p - buf);
}

/* Exact length check: -EBADMSG without reading past len. ip is not touched. */
static int note_decode(struct store_note *out, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t t;
	uint16_t tl;
	size_t nl;

	if (len < NOTE_FIXED_LEN || p[0] != NOTE_VERSION)
		return -EBADMSG;
	memcpy(&t, p + 1, 8);
	nl = p[9];
	if (nl > STORE_NAME_LEN || len < NOTE_FIXED_LEN + nl)
		return -EBADMSG;
	memcpy(&tl, p + 10 + nl, 2);
	tl = le16toh(tl);
	if (tl > STORE_NOTE_LEN || len != NOTE_FIXED_LEN + nl + tl)
		return -EBADMSG;
	out->updated_us = le64toh(t);
	memcpy(out->name, p + 10, nl);
	out->name[nl] = '\0';
	memcpy(out->note, p + 12 + nl, tl);
	out->note[tl] = '\0';
	return 0;
}

/* Writes into err when there is one (callers may pass NULL). */
static void say(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void ip_text(uint32_t ip, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 255, ip >> 8 & 255, ip & 255);
}

/* ---- checking text ---- */

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one; no control
 * characters (C0, DEL, C1), which would break the table, CSV and terminal output. */
static size_t utf8_char(const unsigned char *s, size_t left)
{
	unsigned c = s[0];
	size_t n;
	unsigned cp;

	if (c < 0x20 || c == 0x7f)
		return 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0; /* overlong, surrogate, beyond Unicode */
	if (cp >= 0x80 && cp <= 0x9f)
		return 0; /* C1 controls */
	return n;
}

static int check_text(const char *what, const char *s, size_t max, char *err, size_t errlen)
{
	size_t len;

	if (!s)
		return 0;
	len = strlen(s);
	if (len > max) {
		say(err, errlen, "%s is %zu bytes long, the most is %zu", what, len, max);
		return -EINVAL;
	}
	for (size_t i = 0; i < len;) {
		size_t n = utf8_char((const unsigned char *)s + i, len - i);
		if (!n) {
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
				say(err, errlen, "%s holds a control character (byte %zu): one line of text is expected",
					 what, i + 1);
			else
				say(err, errlen, "%s is not valid UTF-8 (byte %zu)", what, i + 1);
			return -EINVAL;
		}
		i += n;
	}
	return 0;
}

int store_note_check(const char *name, const char *note, char *err, size_t errlen)
{
	int rc;

	if ((rc = check_text("name", name, STORE_NAME_LEN, err, errlen)))
		return rc;
	return check_text("note", note, STORE_NOTE_LEN, err, errlen);
}

/* ---- opening ---- */

static int create_fn(struct store *st, MDB_txn *txn, void *arg)
{
	(void)arg;
	return mdb_dbi_open(txn, "notes", MDB_CREATE, &st->db_notes);
}

int store_notes_open(struct store *st, char *err, size_t errlen)
{
	MDB_txn *txn;
	int rc;

	st->has_notes = false;
	if (!st->read_only) {
		/* Committed, so the handle stays open for the environment's life. */
		if ((rc = store_wr_run(st, create_fn, NULL))) {
			store_err(err, errlen, st->path, "cannot open the notes database: %s", lnmt_strerror(rc));
			return rc;
		}
		st->has_notes = true;
		return 0;
	}
	/* Read-only: a store written before notes existed has no such database and reads as
	 * having no notes. */
	pthread_rwlock_rdlock(&st->map_lock);
	rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
	if (!rc) {
		rc = mdb_dbi_open(txn, "notes", 0, &st->db_notes);
		if (!rc) {
			rc = mdb_txn_commit(txn);
			st->has_notes = !rc;
		} else {
			mdb_txn_abort(txn);
			if (rc == MDB_NOTFOUND)
				rc = 0;
		}
	}
	pthread_rwlock_unlock(&st->map_lock);
	if (rc) {
		rc = store_errno(rc);
		store_err(err, errlen, st->path, "cannot read the notes database: %s", lnmt_strerror(rc));
	}
	return rc;
}

/* ---- reading ---- */

/* The note of ip in txn: 0, MDB_NOTFOUND, or another LMDB code / -EBADMSG. */
static int get_note(struct store *st, MDB_txn *txn, uint32_t ip, struct store_note *out)
{
	uint8_t k[4];
	MDB_val key = { 4, k }, v;
	int rc;

	if (!st->has_notes)
		return MDB_NOTFOUND;
	schema_key_ip(k, ip);
	if ((rc = mdb_get(txn, st->db_notes, &key, &v)))
		return rc;
	out->ip = ip;
	return note_decode(out, v.mv_data, v.mv_size);
}

int store_notes_fill(struct store *st, MDB_txn *txn, struct store_device *d)
{
	struct store_note n;
	MDB_stat ms;

	d->name[0] = d->note[0] = '\0';
	/* most stores name nothing: a look at the database's header is cheaper than a search */
	if (!st->has_notes || (mdb_stat(txn, st->db_notes, &ms) == 0 && ms.ms_entries == 0))
		return 0;
	int rc = get_note(st, txn, d->ip, &n);
	if (rc == MDB_NOTFOUND || rc == -EBADMSG)
		return 0; /* a damaged note reads as none; store_check reports it */
	if (rc)
		return rc;
	memcpy(d->name, n.name, sizeof(d->name));
	memcpy(d->note, n.note, sizeof(d->note));
	return 0;
}

bool store_notes_match(const struct store_device *d, const char *text)
{
	return !text || !*text || strcasestr(d->name, text) || strcasestr(d->note, text);
}

static bool is_device(struct store *st, MDB_txn *txn, uint32_t ip)
{
	uint8_t k[4];
	MDB_val key = { 4, k }, v;

	schema_key_ip(k, ip);
	return mdb_get(txn, st->db_dev, &key, &v) == 0;
}

int store_note_get(struct store *st, uint32_t ip, struct store_note *out)
{
	struct store_rd rd;
	struct store_note n;
	int rc;

	if ((rc = store_rd_begin(st, &rd)))
		return rc;
	rc = get_note(st, rd.txn, ip, &n);
	if (!rc)
		n.seen = is_device(st, rd.txn, ip);
	store_rd_end(&rd);
	if (rc)
		return rc == MDB_NOTFOUND ? -ENOENT : store_errno(rc);
	*out = n;
	return 0;
}

int store_notes_list(struct store *st, bool unseen_only, store_note_cb cb, void *ctx)
{
	struct store_rd rd;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if (!st->has_notes)
		return 0;
	if ((rc = store_rd_begin(st, &rd)))
		return rc;
	if ((rc = mdb_cursor_open(rd.txn, st->db_notes, &cur)))
		goto out;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct store_note n;
		if (k.mv_size != 4 || note_decode(&n, v.mv_data, v.mv_size)) {
			rc = MDB_CORRUPTED;
			break;
		}
		n.ip = schema_get_be32(k.mv_data);
		n.seen = is_device(st, rd.txn, n.ip);
		if (unseen_only && n.seen)
			continue;
		int c = cb(ctx, &n);
		if (c) {
			rc = c < 0 ? c : MDB_NOTFOUND;
			break;
		}
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	mdb_cursor_close(cur);
out:
	store_rd_end(&rd);
	return store_errno(rc);
}

/* ---- checking the database (store_check) ---- */

int store_notes_check(struct store *st, MDB_txn *txn, uint64_t *count, uint64_t *bad)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t n = 0, b = 0;
	int rc;

	if (!st->has_notes) {
		*count = *bad = 0;
		return 0;
	}
	if ((rc = mdb_cursor_open(txn, st->db_notes, &cur)))
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct store_note note;
		n++;
		if (k.mv_size != 4 || note_decode(&note, v.mv_data, v.mv_size) ||
		    store_note_check(note.name, note.note, NULL, 0) || (!note.name[0] && !note.note[0]))
			b++;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return rc;
	*count = n;
	*bad = b;
	return 0;
}

/* ---- writing ---- */

struct ip_idx {
	uint32_t ip;
	size_t i;
};

static int cmp_ip_idx(const void *a, const void *b)
{
	const struct ip_idx *x = a, *y = b;

	if (x->ip != y->ip)
		return x->ip < y->ip ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

int store_note_edits_duplicate(const struct store_note_edit *e, size_t n, size_t *first, size_t *second)
{
	struct ip_idx *v;
	int rc = 0;

	if (n < 2)
		return 0;
	if (!(v = malloc(n * sizeof(*v))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		v[i] = (struct ip_idx){ e[i].ip, i };
	qsort(v, n, sizeof(*v), cmp_ip_idx);
	/* Of every pair, the one whose second entry comes first in the list. */
	size_t best_a = 0, best_b = SIZE_MAX;
	for (size_t i = 1; i < n; i++)
		if (v[i].ip == v[i - 1].ip && v[i].i < best_b)
			best_a = v[i - 1].i, best_b = v[i].i;
	if (best_b != SIZE_MAX) {
		*first = best_a;
		*second = best_b;
		rc = 1;
	}
	free(v);
	return rc;
}

struct import_arg {
	const struct store_note_edit *e;
	size_t n;
	uint64_t now_us;
	struct store_notes_import_report rep; /* reset at each try */
};

static int import_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct import_arg *a = arg;
	int rc;

	memset(&a->rep, 0, sizeof(a->rep));
	for (size_t i = 0; i < a->n; i++) {
		const struct store_note_edit *e = &a->e[i];
		struct store_note cur = { .ip = e->ip };
		uint8_t k[4], buf[NOTE_MAX_LEN];
		MDB_val key = { 4, k }, v;

		rc = get_note(st, txn, e->ip, &cur);
		if (rc == MDB_NOTFOUND || rc == -EBADMSG)
			cur.name[0] = cur.note[0] = '\0'; /* a damaged record is replaced */
		else if (rc)
			return rc;
		if (e->name)
			snprintf(cur.name, sizeof(cur.name), "%s", e->name);
		if (e->note)
			snprintf(cur.note, sizeof(cur.note), "%s", e->note);
		cur.updated_us = a->now_us;
		schema_key_ip(k, e->ip);
		if (!cur.name[0] && !cur.note[0]) {
			rc = mdb_del(txn, st->db_notes, &key, NULL);
			if (rc && rc != MDB_NOTFOUND)
				return rc;
		} else {
			v = (MDB_val){ note_encode(buf, &cur), buf };
			if ((rc = mdb_put(txn, st->db_notes, &key, &v, 0)))
				return rc;
		}
		a->rep.imported++;
		if (is_device(st, txn, e->ip))
			a->rep.known++;
		else
			a->rep.unknown++;
	}
	return 0;
}

int store_notes_import(struct store *st, const struct store_note_edit *edits, size_t n,
		       struct store_notes_import_report *out, char *err, size_t errlen)
{
	struct import_arg a = { .e = edits, .n = n, .now_us = store_now_us() };
	char why[160], ip[16];
	size_t i, j;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (st->read_only || !st->has_notes) {
		store_err(err, errlen, st->path, "opened read-only: cannot write notes");
		return -EROFS;
	}
	if (n > STORE_NOTES_IMPORT_MAX) {
		store_err(err, errlen, st->path, "%zu notes in one import, the most is %u", n, STORE_NOTES_IMPORT_MAX);
		return LNMT_E_TOOBIG;
	}
	for (i = 0; i < n; i++) {
		if ((rc = store_note_check(edits[i].name, edits[i].note, why, sizeof(why)))) {
			ip_text(edits[i].ip, ip);
			if (n == 1)
				say(err, errlen, "%s: %s", ip, why);
			else
				say(err, errlen, "entry %zu (%s): %s", i + 1, ip, why);
			return rc;
		}
	}
	rc = store_note_edits_duplicate(edits, n, &i, &j);
	if (rc < 0) {
		store_err(err, errlen, st->path, "out of memory");
		return rc;
	}
	if (rc) {
		ip_text(edits[i].ip, ip);
		say(err, errlen, "entries %zu and %zu are both %s: give each address once", i + 1, j + 1, ip);
		return -EINVAL;
	}
	if ((rc = store_wr_run(st, import_fn, &a))) {
		store_err(err, errlen, st->path, "cannot write notes: %s", lnmt_strerror(rc));
		return rc;
	}
	if (out)
		*out = a.rep;
	return 0;
}

int store_note_set(struct store *st, uint32_t ip, const char *name, const char *note, char *err, size_t errlen)
{
	struct store_note_edit e = { ip, name, note };

	return store_notes_import(st, &e, 1, NULL, err, errlen);
}
