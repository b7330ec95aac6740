/* SPDX-License-Identifier: MIT */
/* jobs.c: scheduled sweeps and their run history, in the "jobs" and "job_runs" databases. */
#include "store_int.h"

#include "err.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Records (little-endian, written and read only here, like schema.c's):
 *   jobs      id(8 BE)          -> u8 version 1, u64 id, created_us, every_s, rate_pps,
 *                                  next_run_us, runs, skipped, str8 name, str16 targets,
 *                                  str8 probes, str8 ports, str8 cron, run (below, last_run)
 *   job_runs  id(8 BE) seq(8 BE) -> run: u8 version 2, u64 start_us, end_us, sweep_id, found,
 *                                  u8 flags (1: skipped), u8 ended, str8 error
 * A run of version 1 (schema 2) numbered `ended` as schema 2's sweeps did; it is read as enum
 * store_sweep_end (schema_end_from_v2) and rewritten as version 2 whenever its job is.
 * seq is the job's runs + skipped before the run was recorded, so a job's runs sort oldest first
 * and trimming the history deletes from the front of the job's key range.
 */

#define JOB_VERSION 1
#define RUN_VERSION 2
#define JOB_MAX_LEN 1024
#define RUN_MAX_LEN 256
#define META_NEXT_JOB "next_job_id"

struct store_jobs {
	struct store *st;
	MDB_dbi db_jobs, db_runs;
	bool present; /* the databases exist (always, unless the store is read-only and older) */
};

/* ---- encoding ---- */

struct enc {
	uint8_t *p, *end;
	bool over;
};

static void e_bytes(struct enc *e, const void *src, size_t n)
{
	if ((size_t)(e->end - e->p) < n) {
		e->over = true;
		return;
	}
	memcpy(e->p, src, n);
	e->p += n;
}

static void e8(struct enc *e, uint8_t v)
{
	e_bytes(e, &v, 1);
}

static void e16(struct enc *e, uint16_t v)
{
	v = htole16(v);
	e_bytes(e, &v, 2);
}

static void e64(struct enc *e, uint64_t v)
{
	v = htole64(v);
	e_bytes(e, &v, 8);
}

/* A string with a length prefix of `wide` (1 or 2) bytes; max is the buffer it came from. */
static void e_str(struct enc *e, const char *s, size_t max, int wide)
{
	size_t n = strnlen(s, max - 1);

	if (wide == 2)
		e16(e, (uint16_t)n);
	else
		e8(e, (uint8_t)n);
	e_bytes(e, s, n);
}

struct dec {
	const uint8_t *p, *end;
	bool bad;
};

static void d_bytes(struct dec *d, void *dst, size_t n)
{
	if ((size_t)(d->end - d->p) < n) {
		d->bad = true;
		memset(dst, 0, n);
		d->p = d->end;
		return;
	}
	memcpy(dst, d->p, n);
	d->p += n;
}

static uint8_t d8(struct dec *d)
{
	uint8_t v;

	d_bytes(d, &v, 1);
	return v;
}

static uint16_t d16(struct dec *d)
{
	uint16_t v;

	d_bytes(d, &v, 2);
	return le16toh(v);
}

static uint64_t d64(struct dec *d)
{
	uint64_t v;

	d_bytes(d, &v, 8);
	return le64toh(v);
}

static void d_str(struct dec *d, char *out, size_t max, int wide)
{
	size_t n = wide == 2 ? d16(d) : d8(d);

	out[0] = '\0';
	if (n >= max || (size_t)(d->end - d->p) < n) {
		d->bad = true;
		d->p = d->end;
		return;
	}
	memcpy(out, d->p, n);
	out[n] = '\0';
	d->p += n;
}

static void enc_run(struct enc *e, const struct store_job_run *r)
{
	e8(e, RUN_VERSION);
	e64(e, r->start_us);
	e64(e, r->end_us);
	e64(e, r->sweep_id);
	e64(e, r->found);
	e8(e, r->skipped ? 1 : 0);
	e8(e, r->ended);
	e_str(e, r->error, sizeof(r->error), 1);
}

static void dec_run(struct dec *d, struct store_job_run *r)
{
	memset(r, 0, sizeof(*r));
	uint8_t version = d8(d);
	if (version != 1 && version != RUN_VERSION)
		d->bad = true;
	r->start_us = d64(d);
	r->end_us = d64(d);
	r->sweep_id = d64(d);
	r->found = d64(d);
	r->skipped = d8(d) & 1;
	r->ended = d8(d);
	/* Every version 1 run was recorded when it ended (or was skipped). */
	if (version == 1)
		r->ended = schema_end_from_v2(r->ended, true);
	d_str(d, r->error, sizeof(r->error), 1);
}

static size_t enc_job(uint8_t buf[JOB_MAX_LEN], const struct store_job *j)
{
	struct enc e = { buf, buf + JOB_MAX_LEN, false };

	e8(&e, JOB_VERSION);
	e64(&e, j->id);
	e64(&e, j->created_us);
	e64(&e, j->every_s);
	e64(&e, j->rate_pps);
	e64(&e, j->next_run_us);
	e64(&e, j->runs);
	e64(&e, j->skipped);
	e_str(&e, j->name, sizeof(j->name), 1);
	e_str(&e, j->targets, sizeof(j->targets), 2);
	e_str(&e, j->probes, sizeof(j->probes), 1);
	e_str(&e, j->ports, sizeof(j->ports), 1);
	e_str(&e, j->cron, sizeof(j->cron), 1);
	enc_run(&e, &j->last_run);
	return e.over ? 0 : (size_t)(e.p - buf);
}

static int dec_job(struct store_job *j, const void *buf, size_t len)
{
	struct dec d = { buf, (const uint8_t *)buf + len, false };

	memset(j, 0, sizeof(*j));
	if (d8(&d) != JOB_VERSION)
		return -EBADMSG;
	j->id = d64(&d);
	j->created_us = d64(&d);
	j->every_s = d64(&d);
	j->rate_pps = d64(&d);
	j->next_run_us = d64(&d);
	j->runs = d64(&d);
	j->skipped = d64(&d);
	d_str(&d, j->name, sizeof(j->name), 1);
	d_str(&d, j->targets, sizeof(j->targets), 2);
	d_str(&d, j->probes, sizeof(j->probes), 1);
	d_str(&d, j->ports, sizeof(j->ports), 1);
	d_str(&d, j->cron, sizeof(j->cron), 1);
	dec_run(&d, &j->last_run);
	return d.bad || d.p != d.end ? -EBADMSG : 0;
}

static int dec_run_record(struct store_job_run *r, const void *buf, size_t len)
{
	struct dec d = { buf, (const uint8_t *)buf + len, false };

	dec_run(&d, r);
	return d.bad || d.p != d.end ? -EBADMSG : 0;
}

static void key_job(uint8_t k[8], uint64_t id)
{
	schema_put_be64(k, id);
}

static void key_run(uint8_t k[16], uint64_t id, uint64_t seq)
{
	schema_put_be64(k, id);
	schema_put_be64(k + 8, seq);
}

/* ---- opening ---- */

struct open_arg {
	struct store_jobs *j;
};

static int open_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct store_jobs *j = ((struct open_arg *)arg)->j;
	int rc;

	(void)st;
	if ((rc = mdb_dbi_open(txn, "jobs", MDB_CREATE, &j->db_jobs)) ||
	    (rc = mdb_dbi_open(txn, "job_runs", MDB_CREATE, &j->db_runs)))
		return rc;
	return 0;
}

int store_jobs_open(struct store *st, struct store_jobs **out, char *err, size_t errlen)
{
	struct store_jobs *j = calloc(1, sizeof(*j));
	struct open_arg a = { j };
	int rc;

	if (!j) {
		store_err(err, errlen, st->path, "out of memory");
		return -ENOMEM;
	}
	j->st = st;
	if (!st->read_only) {
		/* Committed, so the handles stay open for the environment's life. */
		if ((rc = store_wr_run(st, open_fn, &a))) {
			store_err(err, errlen, st->path, "cannot open the jobs databases: %s", lnmt_strerror(rc));
			free(j);
			return rc;
		}
		j->present = true;
	} else {
		MDB_txn *txn;
		pthread_rwlock_rdlock(&st->map_lock);
		rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
		if (!rc) {
			int r1 = mdb_dbi_open(txn, "jobs", 0, &j->db_jobs);
			int r2 = r1 ? r1 : mdb_dbi_open(txn, "job_runs", 0, &j->db_runs);
			if (!r1 && !r2) {
				rc = mdb_txn_commit(txn);
				j->present = !rc;
			} else {
				mdb_txn_abort(txn);
				rc = r2 == MDB_NOTFOUND ? 0 : r2;
			}
		}
		pthread_rwlock_unlock(&st->map_lock);
		if (rc) {
			rc = store_errno(rc);
			store_err(err, errlen, st->path, "cannot read the jobs databases: %s", lnmt_strerror(rc));
			free(j);
			return rc;
		}
	}
	*out = j;
	return 0;
}

void store_jobs_close(struct store_jobs *j)
{
	free(j);
}

/* ---- writing ---- */

static int get_job(struct store_jobs *j, MDB_txn *txn, uint64_t id, struct store_job *out)
{
	uint8_t k[8];
	MDB_val key = { 8, k }, v;
	int rc;

	key_job(k, id);
	if ((rc = mdb_get(txn, j->db_jobs, &key, &v)))
		return rc == MDB_NOTFOUND ? -ENOENT : rc;
	return dec_job(out, v.mv_data, v.mv_size);
}

static int put_job(struct store_jobs *j, MDB_txn *txn, const struct store_job *job, unsigned flags)
{
	uint8_t k[8], buf[JOB_MAX_LEN];
	MDB_val key = { 8, k }, v = { enc_job(buf, job), buf };

	if (!v.mv_size)
		return -E2BIG;
	key_job(k, job->id);
	return mdb_put(txn, j->db_jobs, &key, &v, flags);
}

struct add_arg {
	struct store_jobs *j;
	struct store_job job; /* copied in at each try, so a retry starts from the caller's job */
	const struct store_job *in;
};

static int add_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct add_arg *a = arg;
	MDB_val k = { strlen(META_NEXT_JOB), META_NEXT_JOB }, v;
	uint8_t buf[8];
	uint64_t next = 1;
	int rc;

	a->job = *a->in;
	rc = mdb_get(txn, st->db_meta, &k, &v);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	if (!rc && (rc = schema_u64_decode(&next, v.mv_data, v.mv_size)))
		return rc;
	a->job.id = next;
	a->job.created_us = store_now_us();
	a->job.runs = a->job.skipped = 0;
	memset(&a->job.last_run, 0, sizeof(a->job.last_run));
	if ((rc = put_job(a->j, txn, &a->job, MDB_NOOVERWRITE)))
		return rc;
	v = (MDB_val){ schema_u64_encode(buf, next + 1), buf };
	return mdb_put(txn, st->db_meta, &k, &v, 0);
}

int store_job_add(struct store_jobs *j, struct store_job *job)
{
	struct add_arg a = { .j = j, .in = job };
	int rc;

	if (!j->present)
		return -EROFS;
	if ((rc = store_wr_run(j->st, add_fn, &a)))
		return rc;
	*job = a.job;
	return 0;
}

struct id_arg {
	struct store_jobs *j;
	uint64_t id;
	uint64_t next_run_us;
	const struct store_job_run *run;
};

/* Deletes the job's runs from the front of its key range while more than keep remain. */
static int trim_runs(struct store_jobs *j, MDB_txn *txn, uint64_t id, size_t keep)
{
	uint8_t k[16];
	MDB_val key = { 16, k }, v;
	MDB_cursor *cur;
	size_t n = 0;
	int rc;

	if ((rc = mdb_cursor_open(txn, j->db_runs, &cur)))
		return rc;
	key_run(k, id, 0);
	for (rc = mdb_cursor_get(cur, &key, &v, MDB_SET_RANGE); !rc; rc = mdb_cursor_get(cur, &key, &v, MDB_NEXT)) {
		if (key.mv_size != 16 || schema_get_be64(key.mv_data) != id)
			break;
		n++;
	}
	if (rc && rc != MDB_NOTFOUND)
		goto out;
	key = (MDB_val){ 16, k };
	key_run(k, id, 0);
	rc = 0;
	for (size_t drop = n > keep ? n - keep : 0; drop > 0; drop--) {
		if ((rc = mdb_cursor_get(cur, &key, &v, MDB_SET_RANGE)) || key.mv_size != 16 ||
		    schema_get_be64(key.mv_data) != id)
			break;
		if ((rc = mdb_cursor_del(cur, 0)))
			break;
		key = (MDB_val){ 16, k };
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
out:
	mdb_cursor_close(cur);
	return rc;
}

static int remove_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct id_arg *a = arg;
	uint8_t k[8];
	MDB_val key = { 8, k };
	int rc;

	(void)st;
	key_job(k, a->id);
	if ((rc = mdb_del(txn, a->j->db_jobs, &key, NULL)))
		return rc == MDB_NOTFOUND ? -ENOENT : rc;
	return trim_runs(a->j, txn, a->id, 0);
}

int store_job_remove(struct store_jobs *j, uint64_t id)
{
	struct id_arg a = { .j = j, .id = id };

	if (!j->present)
		return -EROFS;
	return store_wr_run(j->st, remove_fn, &a);
}

static int next_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct id_arg *a = arg;
	struct store_job job;
	int rc;

	(void)st;
	if ((rc = get_job(a->j, txn, a->id, &job)))
		return rc;
	job.next_run_us = a->next_run_us;
	return put_job(a->j, txn, &job, 0);
}

int store_job_set_next_run(struct store_jobs *j, uint64_t id, uint64_t next_run_us)
{
	struct id_arg a = { .j = j, .id = id, .next_run_us = next_run_us };

	if (!j->present)
		return -EROFS;
	return store_wr_run(j->st, next_fn, &a);
}

static int record_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct id_arg *a = arg;
	struct store_job job;
	uint8_t k[16], buf[RUN_MAX_LEN];
	struct enc e = { buf, buf + sizeof(buf), false };
	int rc;

	(void)st;
	if ((rc = get_job(a->j, txn, a->id, &job)))
		return rc;
	enc_run(&e, a->run);
	if (e.over)
		return -E2BIG;
	MDB_val key = { 16, k }, v = { (size_t)(e.p - buf), buf };
	key_run(k, a->id, job.runs + job.skipped);
	if ((rc = mdb_put(txn, a->j->db_runs, &key, &v, 0)))
		return rc;
	if (a->run->skipped) {
		job.skipped++;
	} else {
		job.runs++;
		job.last_run = *a->run;
	}
	if ((rc = put_job(a->j, txn, &job, 0)))
		return rc;
	return trim_runs(a->j, txn, a->id, STORE_JOB_RUNS_KEPT);
}

int store_job_record_run(struct store_jobs *j, uint64_t id, const struct store_job_run *run)
{
	struct id_arg a = { .j = j, .id = id, .run = run };

	if (!j->present)
		return -EROFS;
	return store_wr_run(j->st, record_fn, &a);
}

/* ---- reading ---- */

int store_job_get(struct store_jobs *j, uint64_t id, struct store_job *out)
{
	struct store_rd rd;
	struct store_job job;
	int rc;

	if (!j->present)
		return -ENOENT;
	if ((rc = store_rd_begin(j->st, &rd)))
		return rc;
	rc = get_job(j, rd.txn, id, &job);
	store_rd_end(&rd);
	if (rc)
		return store_errno(rc);
	*out = job;
	return 0;
}

int store_jobs_list(struct store_jobs *j, store_job_cb cb, void *ctx)
{
	struct store_rd rd;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if (!j->present)
		return 0;
	if ((rc = store_rd_begin(j->st, &rd)))
		return rc;
	if ((rc = mdb_cursor_open(rd.txn, j->db_jobs, &cur)))
		goto out;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct store_job job;
		if ((rc = dec_job(&job, v.mv_data, v.mv_size)))
			break;
		if (cb(ctx, &job)) {
			rc = MDB_NOTFOUND;
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

int store_job_runs(struct store_jobs *j, uint64_t id, uint32_t limit, store_job_run_cb cb, void *ctx)
{
	struct store_rd rd;
	struct store_job job;
	MDB_cursor *cur;
	uint8_t kb[16];
	MDB_val k = { 16, kb }, v;
	uint32_t n = 0;
	int rc;

	if (!j->present)
		return -ENOENT;
	if ((rc = store_rd_begin(j->st, &rd)))
		return rc;
	if ((rc = get_job(j, rd.txn, id, &job)))
		goto out;
	if ((rc = mdb_cursor_open(rd.txn, j->db_runs, &cur)))
		goto out;
	/* The newest run is the last key of the job's range: step back from the next job's start. */
	key_run(kb, id + 1, 0);
	rc = id == UINT64_MAX ? MDB_NOTFOUND : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	else if (!rc)
		rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	for (; !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
		struct store_job_run run;
		if (k.mv_size != 16 || schema_get_be64(k.mv_data) > id)
			continue;
		if (schema_get_be64(k.mv_data) < id)
			break;
		if ((rc = dec_run_record(&run, v.mv_data, v.mv_size)))
			break;
		if (cb(ctx, &run) || (limit && ++n >= limit))
			break;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	mdb_cursor_close(cur);
out:
	store_rd_end(&rd);
	return store_errno(rc);
}
