/* SPDX-License-Identifier: MIT */
/*
 * daemon_jobs.c: jobs (sweeps on a schedule, kept in the store) and the scheduler that starts
 * them from the main loop. A job due while its previous run is still going is skipped, and the
 * skip recorded; a job due while MAX_SWEEPS other sweeps run waits for one of them to end.
 */
#include "daemon.h"

#include "cli.h"
#include "err.h"
#include "targets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOBS_MAX 256             /* jobs the scheduler looks at per round */
#define HISTORY_DEFAULT 10

/* ---- from a job to a sweep request ---- */

struct job_req {
	struct dscan_request req;
	char targets[256], probes[32];
};

static void job_request(const struct store_job *j, struct job_req *jr)
{
	char *save = NULL;

	memset(jr, 0, sizeof(*jr));
	snprintf(jr->targets, sizeof(jr->targets), "%s", j->targets);
	snprintf(jr->probes, sizeof(jr->probes), "%s", j->probes);
	for (char *t = strtok_r(jr->targets, " ", &save); t && jr->req.n_targets < DAEMON_MAX_TARGETS;
	     t = strtok_r(NULL, " ", &save))
		jr->req.targets[jr->req.n_targets++] = t;
	save = NULL;
	for (char *t = strtok_r(jr->probes, ",", &save); t && jr->req.n_probes < SWEEP_MAX_PROBES * 2;
	     t = strtok_r(NULL, ",", &save))
		jr->req.probes[jr->req.n_probes++] = t;
	jr->req.ports = j->ports[0] ? j->ports : NULL;
	if (j->rate_pps) {
		jr->req.rate_pps = j->rate_pps;
		jr->req.has_rate = true;
	}
	jr->req.job_id = j->id;
	/* Its size was checked when it was added (allow_large in jobs.add): a run does not refuse it. */
	jr->req.allow_large = true;
}

/* When the job runs after `after_us` (its schedule); 0 when a cron expression never matches. */
static uint64_t next_run(const struct store_job *j, uint64_t due_us, uint64_t now_us)
{
	if (j->cron[0]) {
		struct cron_spec c;
		char err[200];
		if (cron_parse(j->cron, &c, err, sizeof(err)))
			return 0;
		return cron_next(&c, now_us);
	}
	uint64_t every = (j->every_s ? j->every_s : 1) * 1000000ull;
	uint64_t next = due_us + every;
	/* Late (a busy daemon, or one that was down): the runs missed are not made up in a burst. */
	return next > now_us ? next : now_us + every;
}

/* ---- notifications ---- */

struct job_note {
	uint64_t job_id, sweep_id;
	const char *error;
};

static void pack_job_note(void *arg, msgpack_packer *pk)
{
	struct job_note *n = arg;
	struct mp m;

	mp_init(&m);
	mp_u64(&m, "job", n->job_id);
	if (n->sweep_id)
		mp_u64(&m, "id", n->sweep_id);
	if (n->error)
		mp_str(&m, "error", n->error);
	mp_time(&m, "time", cli_now_us());
	msgpack_pack_array(pk, 1);
	mp_emit_map(&m, pk);
}

static void record(struct daemon *d, uint64_t job_id, const struct store_job_run *run)
{
	int rc = store_job_record_run(d->jobs, job_id, run);

	if (rc && rc != -ENOENT) /* ENOENT: removed while it ran */
		daemon_log("job %llu: cannot record its run: %s", (unsigned long long)job_id, lnmt_strerror(rc));
}

void daemon_job_finished(struct daemon *d, const struct dsummary *s)
{
	struct store_job_run run = {
		.start_us = s->start_us, .end_us = s->end_us, .sweep_id = s->id, .found = s->live, .ended = s->ended,
	};

	snprintf(run.error, sizeof(run.error), "%.*s", (int)sizeof(run.error) - 1, s->error);
	record(d, s->job_id, &run);
}

/* ---- the scheduler ---- */

struct job_list {
	struct store_job *v;
	size_t n;
};

static int collect_job(void *ctx, const struct store_job *j)
{
	struct job_list *l = ctx;

	if (l->n == JOBS_MAX)
		return 1;
	l->v[l->n++] = *j;
	return 0;
}

/* Starts job j now as a sweep; returns 0 with *sweep_id, or an RPC error with err. */
static int start_job(struct daemon *d, const struct store_job *j, uint64_t *sweep_id, char *err, size_t errlen)
{
	struct job_req jr;

	job_request(j, &jr);
	int rc = daemon_scan_start(d, &jr.req, sweep_id, err, errlen);
	if (!rc) {
		struct job_note n = { j->id, *sweep_id, NULL };
		rpc_server_notify(d->srv, "job", "job.started", pack_job_note, &n);
	}
	return rc;
}

int daemon_schedule(struct daemon *d)
{
	struct job_list l = { calloc(JOBS_MAX, sizeof(struct store_job)), 0 };
	uint64_t now = cli_now_us(), wait_us = UINT64_MAX;
	char err[600];
	int rc;

	if (!l.v)
		return 1000;
	if ((rc = store_jobs_list(d->jobs, collect_job, &l))) {
		daemon_log("scheduler: cannot read the jobs: %s", lnmt_strerror(rc));
		free(l.v);
		return 5000;
	}
	for (size_t i = 0; i < l.n; i++) {
		const struct store_job *j = &l.v[i];
		uint64_t sweep_id;
		if (!j->next_run_us)
			continue; /* a cron expression that never matches */
		if (j->next_run_us > now) {
			if (j->next_run_us - now < wait_us)
				wait_us = j->next_run_us - now;
			continue;
		}
		if (d->stopping)
			continue;
		if (daemon_job_running(d, j->id, &sweep_id)) {
			struct store_job_run run = { .start_us = now, .end_us = now, .skipped = true };
			snprintf(run.error, sizeof(run.error), "skipped: its previous run (sweep %llu) was still going",
				 (unsigned long long)sweep_id);
			record(d, j->id, &run);
			daemon_log("job %llu: %s", (unsigned long long)j->id, run.error);
			struct job_note n = { j->id, sweep_id, run.error };
			rpc_server_notify(d->srv, "job", "job.skipped", pack_job_note, &n);
		} else if (daemon_running(d) >= d->cfg.max_sweeps) {
			continue; /* waits for a sweep to end: the end wakes the loop */
		} else if ((rc = start_job(d, j, &sweep_id, err, sizeof(err)))) {
			/* A job that cannot start (no route, store full) records why and tries again next time. */
			struct store_job_run run = { .start_us = now, .end_us = now, .ended = STORE_END_FAILED };
			snprintf(run.error, sizeof(run.error), "%.*s", (int)sizeof(run.error) - 1, err);
			record(d, j->id, &run);
			daemon_log("job %llu: cannot start: %s", (unsigned long long)j->id, err);
		}
		uint64_t next = next_run(j, j->next_run_us, now);
		if ((rc = store_job_set_next_run(d->jobs, j->id, next)) && rc != -ENOENT)
			daemon_log("job %llu: cannot store its next run: %s", (unsigned long long)j->id, lnmt_strerror(rc));
		if (next > now && next - now < wait_us)
			wait_us = next - now;
	}
	free(l.v);
	if (wait_us == UINT64_MAX)
		return -1;
	/* Round up, so the loop never wakes a hair before the job is due and spins. */
	uint64_t ms = (wait_us + 999) / 1000;
	return ms > 60000 ? 60000 : (int)ms;
}

/* ---- methods ---- */

/* Validates what a job would sweep without touching the network; RPC error code with err.
 * allow_large: the targets may be more than TARGET_LARGE addresses, or all of 0.0.0.0/0. */
static int validate_job(const struct store_job *j, bool allow_large, char *err, size_t errlen)
{
	struct job_req jr;
	struct target_set ts;
	struct port_list pl = { 0 };
	char perr[TARGET_ERR_LEN + 64];
	int rc = 0;

	job_request(j, &jr);
	target_set_init(&ts);
	for (size_t i = 0; i < jr.req.n_targets && !rc; i++) {
		if (jr.req.targets[i][0] == '@') {
			snprintf(err, errlen, "bad target '%s': files are not read over RPC; send the specs themselves",
				 jr.req.targets[i]);
			rc = RPC_E_BAD_PARAMS;
		} else if (target_set_add(&ts, jr.req.targets[i], perr, sizeof(perr))) {
			snprintf(err, errlen, "%s", perr);
			rc = RPC_E_BAD_PARAMS;
		}
	}
	if (!rc && target_set_finalize(&ts)) {
		snprintf(err, errlen, "no targets left (only never-probed addresses)");
		rc = RPC_E_BAD_PARAMS;
	}
	if (!rc && !allow_large && target_set_is_large(&ts, perr, sizeof(perr))) {
		snprintf(err, errlen, "%s: pass allow_large: true if that is meant", perr);
		rc = RPC_E_BAD_PARAMS;
	}
	target_set_fini(&ts);
	for (size_t i = 0; i < jr.req.n_probes && !rc; i++) {
		if (!probe_by_name(jr.req.probes[i])) {
			snprintf(err, errlen, "bad probe '%s': expected arp, icmp or syn", jr.req.probes[i]);
			rc = RPC_E_BAD_PARAMS;
		}
	}
	if (!rc && j->ports[0] && port_list_parse(&pl, j->ports, perr, sizeof(perr))) {
		snprintf(err, errlen, "%s", perr);
		rc = RPC_E_BAD_PARAMS;
	}
	port_list_fini(&pl);
	return rc;
}

void m_jobs_add(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	static const char *const keys[] = { "name", "targets", "probes", "ports", "rate", "every_s", "cron",
					    "allow_large", NULL };
	struct daemon *d = ctx;
	const msgpack_object *map;
	struct store_job job = { 0 };
	char targets[DAEMON_MAX_TARGETS][64], probes[SWEEP_MAX_PROBES * 2][64], err[600];
	size_t nt = 0, np = 0;
	bool found, has_every, has_cron, allow_large = false;
	int rc;

	(void)c;
	if (!rpc_params_map(params, &map, r) || !daemon_check_keys(map, "jobs.add", keys, r) ||
	    !rpc_get_str(map, "name", false, job.name, sizeof(job.name), &found, r) ||
	    !rpc_get_str_array(map, "targets", targets, DAEMON_MAX_TARGETS, &nt, r) ||
	    !rpc_get_str_array(map, "probes", probes, SWEEP_MAX_PROBES * 2, &np, r) ||
	    !rpc_get_str(map, "ports", false, job.ports, sizeof(job.ports), &found, r) ||
	    !rpc_get_u64(map, "rate", false, &job.rate_pps, &found, r) ||
	    !rpc_get_u64(map, "every_s", false, &job.every_s, &has_every, r) ||
	    !rpc_get_str(map, "cron", false, job.cron, sizeof(job.cron), &has_cron, r) ||
	    !rpc_get_bool(map, "allow_large", &allow_large, &found, r))
		return;
	if (nt == 0) {
		rpc_reply_error(r, RPC_E_MISSING_PARAM, "missing targets: give at least one, e.g. {targets: "
			       "[\"198.19.0.0/24\"], every_s: 300}");
		return;
	}
	for (size_t i = 0; i < nt; i++) {
		size_t used = strlen(job.targets);
		if (!targets[i][0] || strpbrk(targets[i], " \t")) {
			/* The job keeps its targets blank-separated: an empty one would vanish. */
			rpc_reply_error(r, RPC_E_BAD_PARAMS, "bad target '%s': expected one spec", targets[i]);
			return;
		}
		if (used + 1 + strlen(targets[i]) >= sizeof(job.targets)) {
			rpc_reply_error(r, RPC_E_BAD_PARAMS, "targets too long for a job: at most %zu characters in all",
					sizeof(job.targets) - 1);
			return;
		}
		/* Fits: checked above (GCC cannot see it at -O3, hence no snprintf). */
		if (used)
			job.targets[used++] = ' ';
		memcpy(job.targets + used, targets[i], strlen(targets[i]) + 1);
	}
	for (size_t i = 0; i < np; i++) {
		size_t used = strlen(job.probes);
		if (used + 1 + strlen(probes[i]) >= sizeof(job.probes) || strchr(probes[i], ',') || !probes[i][0]) {
			rpc_reply_error(r, RPC_E_BAD_PARAMS, "bad probes: expected a list such as [\"icmp\", \"syn\"]");
			return;
		}
		if (used)
			job.probes[used++] = ',';
		memcpy(job.probes + used, probes[i], strlen(probes[i]) + 1);
	}
	if (has_every == has_cron) {
		rpc_reply_error(r, has_every ? RPC_E_BAD_PARAMS : RPC_E_MISSING_PARAM,
				"a job needs exactly one schedule: every_s (seconds) or cron (\"*/5 * * * *\")");
		return;
	}
	if (has_every && (job.every_s == 0 || job.every_s > 366ull * 86400)) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "bad every_s %llu: expected 1-31622400 seconds",
				(unsigned long long)job.every_s);
		return;
	}
	if (job.rate_pps > 100000000) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "bad rate %llu: expected packets per second, 0-100000000",
				(unsigned long long)job.rate_pps);
		return;
	}
	uint64_t now = cli_now_us();
	if (has_cron) {
		struct cron_spec cs;
		if (cron_parse(job.cron, &cs, err, sizeof(err))) {
			rpc_reply_error(r, RPC_E_BAD_PARAMS, "%s", err);
			return;
		}
		if (!(job.next_run_us = cron_next(&cs, now))) {
			rpc_reply_error(r, RPC_E_BAD_PARAMS, "cron '%s' never matches a date", job.cron);
			return;
		}
	} else {
		job.next_run_us = now; /* an interval job runs first right away */
	}
	if ((rc = validate_job(&job, allow_large, err, sizeof(err)))) {
		rpc_reply_error(r, rc, "%s", err);
		return;
	}
	struct job_list all = { calloc(JOBS_MAX, sizeof(struct store_job)), 0 };
	if (!all.v || store_jobs_list(d->jobs, collect_job, &all) || all.n >= JOBS_MAX) {
		if (all.v && all.n >= JOBS_MAX)
			rpc_reply_error(r, RPC_E_BUSY, "%d jobs already, the most lnmtd schedules: remove one first",
					JOBS_MAX);
		else
			rpc_reply_error(r, RPC_E_INTERNAL, "cannot read the jobs");
		free(all.v);
		return;
	}
	free(all.v);
	if ((rc = store_job_add(d->jobs, &job))) {
		rpc_reply_error(r, RPC_E_INTERNAL, "storing the job: %s", lnmt_strerror(rc));
		return;
	}
	if (has_cron)
		daemon_log("job %llu added: %s, cron '%s'", (unsigned long long)job.id, job.targets, job.cron);
	else
		daemon_log("job %llu added: %s, every %llu s", (unsigned long long)job.id, job.targets,
			   (unsigned long long)job.every_s);
	struct mp m;
	mp_init(&m);
	mp_u64(&m, "id", job.id);
	mp_time(&m, "next_run", job.next_run_us);
	mp_emit_map(&m, r->pk);
}

struct runs_ctx {
	struct mp *arr;
};

static void pack_run(struct mp *m, const struct store_job_run *run)
{
	mp_time(m, "start", run->start_us);
	mp_time(m, "end", run->end_us);
	if (run->sweep_id)
		mp_u64(m, "sweep", run->sweep_id);
	mp_u64(m, "found", run->found);
	mp_bool(m, "skipped", run->skipped);
	if (run->error[0])
		mp_str(m, "error", run->error);
	else
		mp_nil(m, "error");
}

static int pack_run_cb(void *ctx, const struct store_job_run *run)
{
	struct mp m;

	mp_init(&m);
	pack_run(&m, run);
	mp_emit_map(&m, mp_elem(ctx));
	return 0;
}

static void pack_job(struct daemon *d, struct mp *m, const struct store_job *j, uint32_t history)
{
	char probes[40];
	uint64_t sweep_id;

	mp_u64(m, "id", j->id);
	mp_str(m, "name", j->name);
	mp_str(m, "targets", j->targets);
	snprintf(probes, sizeof(probes), "%s", j->probes[0] ? j->probes : "default");
	mp_str(m, "probes", probes);
	mp_str(m, "ports", j->ports);
	mp_u64(m, "rate", j->rate_pps);
	if (j->cron[0])
		mp_str(m, "cron", j->cron);
	else
		mp_u64(m, "every_s", j->every_s);
	mp_time(m, "created", j->created_us);
	mp_time(m, "next_run", j->next_run_us);
	mp_u64(m, "runs", j->runs);
	mp_u64(m, "skipped", j->skipped);
	if (daemon_job_running(d, j->id, &sweep_id))
		mp_u64(m, "running", sweep_id);
	else
		mp_nil(m, "running");
	if (j->last_run.start_us) {
		struct mp lr;
		mp_init(&lr);
		pack_run(&lr, &j->last_run);
		mp_emit_map(&lr, mp_key(m, "last_run"));
	} else {
		mp_nil(m, "last_run");
	}
	if (history) {
		struct mp h;
		mp_init(&h);
		store_job_runs(d->jobs, j->id, history, pack_run_cb, &h);
		mp_emit_array(&h, mp_key(m, "history"));
	}
}

void m_jobs_list(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	static const char *const keys[] = { "id", "history", NULL };
	struct daemon *d = ctx;
	const msgpack_object *map;
	uint64_t id = 0, history = HISTORY_DEFAULT;
	bool has_id, found;
	int rc;

	(void)c;
	if (!rpc_params_map(params, &map, r) || !daemon_check_keys(map, "jobs.list", keys, r) ||
	    !rpc_get_u64(map, "id", false, &id, &has_id, r) ||
	    !rpc_get_u64(map, "history", false, &history, &found, r))
		return;
	if (history > STORE_JOB_RUNS_KEPT) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "bad history %llu: expected 0-%u runs", (unsigned long long)history,
				STORE_JOB_RUNS_KEPT);
		return;
	}
	struct job_list l = { calloc(JOBS_MAX, sizeof(struct store_job)), 0 };
	if (!l.v) {
		rpc_reply_error(r, RPC_E_INTERNAL, "out of memory");
		return;
	}
	if (has_id) {
		rc = store_job_get(d->jobs, id, &l.v[0]);
		l.n = rc ? 0 : 1;
	} else {
		rc = store_jobs_list(d->jobs, collect_job, &l);
	}
	if (rc == -ENOENT) {
		rpc_reply_error(r, RPC_E_NOT_FOUND, "no job %llu", (unsigned long long)id);
	} else if (rc) {
		rpc_reply_error(r, RPC_E_INTERNAL, "reading jobs: %s", lnmt_strerror(rc));
	} else {
		struct mp m, arr;
		mp_init(&m);
		mp_init(&arr);
		for (size_t i = 0; i < l.n; i++) {
			struct mp jm;
			mp_init(&jm);
			pack_job(d, &jm, &l.v[i], (uint32_t)history);
			mp_emit_map(&jm, mp_elem(&arr));
		}
		mp_emit_array(&arr, mp_key(&m, "jobs"));
		mp_emit_map(&m, r->pk);
	}
	free(l.v);
}

static bool job_id_param(const msgpack_object *params, const char *method, uint64_t *id, struct rpc_reply *r)
{
	static const char *const keys[] = { "id", NULL };
	const msgpack_object *map;
	bool found;

	if (!rpc_params_map(params, &map, r) || !daemon_check_keys(map, method, keys, r) ||
	    !rpc_get_u64(map, "id", true, id, &found, r))
		return false;
	if (!found) {
		rpc_reply_error(r, RPC_E_MISSING_PARAM, "missing id: %s takes {id: N}", method);
		return false;
	}
	return true;
}

void m_jobs_remove(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	struct daemon *d = ctx;
	uint64_t id, sweep_id = 0;
	int rc;

	(void)c;
	if (!job_id_param(params, "jobs.remove", &id, r))
		return;
	bool running = daemon_job_running(d, id, &sweep_id);
	if ((rc = store_job_remove(d->jobs, id))) {
		if (rc == -ENOENT)
			rpc_reply_error(r, RPC_E_NOT_FOUND, "no job %llu", (unsigned long long)id);
		else
			rpc_reply_error(r, RPC_E_INTERNAL, "removing job %llu: %s", (unsigned long long)id, lnmt_strerror(rc));
		return;
	}
	daemon_log("job %llu removed%s", (unsigned long long)id, running ? " (its running sweep goes on)" : "");
	struct mp m;
	mp_init(&m);
	mp_u64(&m, "id", id);
	if (running)
		mp_u64(&m, "running", sweep_id); /* the sweep finishes and is stored; scan.cancel stops it */
	mp_emit_map(&m, r->pk);
}

void m_jobs_run_now(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	struct daemon *d = ctx;
	struct store_job job;
	uint64_t id, sweep_id;
	char err[600];
	int rc;

	(void)c;
	if (!job_id_param(params, "jobs.run_now", &id, r))
		return;
	if ((rc = store_job_get(d->jobs, id, &job))) {
		if (rc == -ENOENT)
			rpc_reply_error(r, RPC_E_NOT_FOUND, "no job %llu", (unsigned long long)id);
		else
			rpc_reply_error(r, RPC_E_INTERNAL, "reading job %llu: %s", (unsigned long long)id, lnmt_strerror(rc));
		return;
	}
	if (daemon_job_running(d, id, &sweep_id)) {
		rpc_reply_error(r, RPC_E_BUSY, "job %llu is running (sweep %llu)", (unsigned long long)id,
				(unsigned long long)sweep_id);
		return;
	}
	if ((rc = start_job(d, &job, &sweep_id, err, sizeof(err)))) {
		rpc_reply_error(r, rc, "%s", err);
		return;
	}
	struct mp m;
	mp_init(&m);
	mp_u64(&m, "id", id);
	mp_u64(&m, "sweep", sweep_id);
	mp_emit_map(&m, r->pk);
}
