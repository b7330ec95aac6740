/* SPDX-License-Identifier: MIT */
/* test_jobs.c: the jobs databases: add, list, remove, persistence, bounded run history, skips. */
#include "store_test.h"

static char dir[64];

static void setup(void)
{
	umask(022);
	t_mkdtemp(dir);
}

static void teardown(void)
{
	t_rmtree(dir);
}

TestSuite(store_jobs, .init = setup, .fini = teardown);

static struct store_jobs *jobs_open(struct store *st)
{
	struct store_jobs *j = NULL;
	char err[512] = "";
	int rc = store_jobs_open(st, &j, err, sizeof(err));

	cr_assert_eq(rc, 0, "store_jobs_open: %d %s", rc, err);
	return j;
}

static struct store_job job_of(const char *name, const char *targets, uint64_t every_s)
{
	struct store_job job = { .every_s = every_s, .rate_pps = 1000, .next_run_us = T_BASE };

	snprintf(job.name, sizeof(job.name), "%s", name);
	snprintf(job.targets, sizeof(job.targets), "%s", targets);
	snprintf(job.probes, sizeof(job.probes), "icmp");
	snprintf(job.ports, sizeof(job.ports), "22,80");
	return job;
}

struct collect {
	struct store_job jobs[16];
	size_t n;
};

static int collect_cb(void *ctx, const struct store_job *job)
{
	struct collect *c = ctx;

	cr_assert_lt(c->n, 16);
	c->jobs[c->n++] = *job;
	return 0;
}

static struct collect list(struct store_jobs *j)
{
	struct collect c = { .n = 0 };
	int rc = store_jobs_list(j, collect_cb, &c);

	cr_assert_eq(rc, 0, "store_jobs_list: %d", rc);
	return c;
}

struct runs {
	struct store_job_run r[STORE_JOB_RUNS_KEPT + 10];
	size_t n;
};

static int runs_cb(void *ctx, const struct store_job_run *run)
{
	struct runs *c = ctx;

	cr_assert_lt(c->n, STORE_JOB_RUNS_KEPT + 10);
	c->r[c->n++] = *run;
	return 0;
}

Test(store_jobs, add_get_list_remove)
{
	struct store *st = t_open(dir, 0);
	struct store_jobs *j = jobs_open(st);
	struct store_job a = job_of("lab", "198.19.0.0/24 198.19.1.0/24", 60), b = job_of("", "198.18.128.0/17", 0);
	struct store_job got;

	snprintf(b.cron, sizeof(b.cron), "*/5 * * * *");
	cr_assert_eq(store_job_add(j, &a), 0);
	cr_assert_eq(store_job_add(j, &b), 0);
	cr_assert_eq(a.id, 1);
	cr_assert_eq(b.id, 2);
	cr_assert_gt(a.created_us, 0);

	cr_assert_eq(store_job_get(j, 1, &got), 0);
	cr_assert_str_eq(got.name, "lab");
	cr_assert_str_eq(got.targets, "198.19.0.0/24 198.19.1.0/24");
	cr_assert_str_eq(got.probes, "icmp");
	cr_assert_str_eq(got.ports, "22,80");
	cr_assert_eq(got.rate_pps, 1000);
	cr_assert_eq(got.every_s, 60);
	cr_assert_eq(got.next_run_us, T_BASE);
	cr_assert_eq(got.runs, 0);
	cr_assert_eq(got.last_run.start_us, 0);

	struct collect c = list(j);
	cr_assert_eq(c.n, 2);
	cr_assert_eq(c.jobs[0].id, 1);
	cr_assert_eq(c.jobs[1].id, 2);
	cr_assert_str_eq(c.jobs[1].cron, "*/5 * * * *");

	cr_assert_eq(store_job_set_next_run(j, 2, T_BASE + 5), 0);
	cr_assert_eq(store_job_get(j, 2, &got), 0);
	cr_assert_eq(got.next_run_us, T_BASE + 5);

	cr_assert_eq(store_job_remove(j, 1), 0);
	cr_assert_eq(store_job_remove(j, 1), -ENOENT);
	cr_assert_eq(store_job_get(j, 1, &got), -ENOENT);
	cr_assert_eq(store_job_set_next_run(j, 1, 7), -ENOENT);
	struct store_job_run run = { .start_us = 1 };
	cr_assert_eq(store_job_record_run(j, 1, &run), -ENOENT);
	c = list(j);
	cr_assert_eq(c.n, 1);
	cr_assert_eq(c.jobs[0].id, 2);

	/* Ids are never reused, even after the newest job is removed. */
	struct store_job d = job_of("d", "198.19.0.7", 1);
	cr_assert_eq(store_job_remove(j, 2), 0);
	cr_assert_eq(store_job_add(j, &d), 0);
	cr_assert_eq(d.id, 3);

	store_jobs_close(j);
	struct store_check_report rep;
	char err[512] = "";
	cr_assert_eq(store_check(st, &rep, err, sizeof(err)), 0, "store_check: %s", err);
	store_close(st);
}

Test(store_jobs, survive_reopen)
{
	struct store *st = t_open(dir, 0);
	struct store_jobs *j = jobs_open(st);
	struct store_job a = job_of("kept", "198.19.0.0/28", 1);
	struct store_job_run run = { .start_us = T_BASE, .end_us = T_BASE + 900, .sweep_id = 4, .found = 16, .ended = 0 };

	cr_assert_eq(store_job_add(j, &a), 0);
	cr_assert_eq(store_job_record_run(j, a.id, &run), 0);
	store_jobs_close(j);
	store_close(st);

	st = t_open(dir, 0);
	j = jobs_open(st);
	struct collect c = list(j);
	cr_assert_eq(c.n, 1);
	cr_assert_str_eq(c.jobs[0].name, "kept");
	cr_assert_eq(c.jobs[0].runs, 1);
	cr_assert_eq(c.jobs[0].last_run.sweep_id, 4);
	cr_assert_eq(c.jobs[0].last_run.found, 16);
	cr_assert_eq(c.jobs[0].last_run.end_us, T_BASE + 900);
	struct store_job b = job_of("next", "198.19.0.0/28", 1);
	cr_assert_eq(store_job_add(j, &b), 0);
	cr_assert_eq(b.id, 2, "the id counter survives too");
	store_jobs_close(j);
	store_close(st);

	/* A read-only open sees them. */
	struct store_options ro = { .read_only = true, .oui_path = "" };
	char err[512] = "";
	cr_assert_eq(store_open(&st, dir, &ro, err, sizeof(err)), 0, "%s", err);
	j = jobs_open(st);
	c = list(j);
	cr_assert_eq(c.n, 2);
	cr_assert_eq(store_job_add(j, &b), -EROFS);
	store_jobs_close(j);
	store_close(st);
}

Test(store_jobs, read_only_store_without_jobs)
{
	struct store *st = t_open(dir, 0);
	store_close(st); /* a store that never had jobs opened */
	struct store_options ro = { .read_only = true, .oui_path = "" };
	char err[512] = "";
	cr_assert_eq(store_open(&st, dir, &ro, err, sizeof(err)), 0, "%s", err);
	struct store_jobs *j = jobs_open(st);
	struct collect c = list(j);
	struct store_job got;
	cr_assert_eq(c.n, 0);
	cr_assert_eq(store_job_get(j, 1, &got), -ENOENT);
	store_jobs_close(j);
	store_close(st);
}

Test(store_jobs, history_bounded_newest_first_with_skips)
{
	struct store *st = t_open(dir, 0);
	struct store_jobs *j = jobs_open(st);
	struct store_job a = job_of("busy", "198.19.0.0/16", 1), other = job_of("other", "198.19.0.0/28", 1);
	const unsigned total = STORE_JOB_RUNS_KEPT + 30;

	cr_assert_eq(store_job_add(j, &a), 0);
	cr_assert_eq(store_job_add(j, &other), 0);
	struct store_job_run o = { .start_us = 5, .end_us = 6, .sweep_id = 99 };
	cr_assert_eq(store_job_record_run(j, other.id, &o), 0);
	for (unsigned i = 0; i < total; i++) {
		struct store_job_run run = { .start_us = T_BASE + i, .end_us = T_BASE + i + 1, .sweep_id = i + 1,
					     .found = i, .skipped = i % 10 == 9 };
		if (run.skipped) {
			run.end_us = run.start_us;
			run.sweep_id = 0;
			snprintf(run.error, sizeof(run.error), "previous run still going");
		}
		cr_assert_eq(store_job_record_run(j, a.id, &run), 0, "run %u", i);
	}
	struct store_job got;
	cr_assert_eq(store_job_get(j, a.id, &got), 0);
	cr_assert_eq(got.skipped, total / 10);
	cr_assert_eq(got.runs, total - total / 10);
	/* last_run is the newest run that ran: 129 is not a skip (129 % 10 == 9 is), 128 ran. */
	cr_assert_eq(got.last_run.start_us, T_BASE + total - 2, "last_run %llu",
		     (unsigned long long)(got.last_run.start_us - T_BASE));
	cr_assert_not(got.last_run.skipped);

	struct runs r = { .n = 0 };
	cr_assert_eq(store_job_runs(j, a.id, 0, runs_cb, &r), 0);
	cr_assert_eq(r.n, STORE_JOB_RUNS_KEPT);
	for (size_t i = 0; i < r.n; i++)
		cr_assert_eq(r.r[i].start_us, T_BASE + total - 1 - i, "run %zu is %llu", i,
			     (unsigned long long)(r.r[i].start_us - T_BASE));
	cr_assert(r.r[0].skipped);
	cr_assert_str_eq(r.r[0].error, "previous run still going");
	cr_assert_not(r.r[1].skipped);

	struct runs lim = { .n = 0 };
	cr_assert_eq(store_job_runs(j, a.id, 3, runs_cb, &lim), 0);
	cr_assert_eq(lim.n, 3);

	/* The other job's history is its own, before and after the busy one's range. */
	struct runs ro = { .n = 0 };
	cr_assert_eq(store_job_runs(j, other.id, 0, runs_cb, &ro), 0);
	cr_assert_eq(ro.n, 1);
	cr_assert_eq(ro.r[0].sweep_id, 99);
	struct runs none = { .n = 0 };
	cr_assert_eq(store_job_runs(j, 77, 0, runs_cb, &none), -ENOENT);

	/* Removing a job removes its history. */
	cr_assert_eq(store_job_remove(j, a.id), 0);
	struct store_job again = job_of("again", "198.19.0.0/28", 1);
	cr_assert_eq(store_job_add(j, &again), 0);
	struct runs fresh = { .n = 0 };
	cr_assert_eq(store_job_runs(j, again.id, 0, runs_cb, &fresh), 0);
	cr_assert_eq(fresh.n, 0);
	cr_assert_eq(store_job_runs(j, other.id, 0, runs_cb, &ro), 0);
	cr_assert_eq(ro.n, 2);
	store_jobs_close(j);
	store_close(st);
}

Test(store_jobs, long_strings_round_trip)
{
	struct store *st = t_open(dir, 0);
	struct store_jobs *j = jobs_open(st);
	struct store_job a = job_of("", "", 1);
	struct store_job got;

	memset(a.name, 'n', sizeof(a.name) - 1);
	memset(a.targets, 't', sizeof(a.targets) - 1);
	memset(a.cron, 'c', sizeof(a.cron) - 1);
	cr_assert_eq(store_job_add(j, &a), 0);
	struct store_job_run run = { .start_us = 1 };
	memset(run.error, 'e', sizeof(run.error) - 1);
	cr_assert_eq(store_job_record_run(j, a.id, &run), 0);
	cr_assert_eq(store_job_get(j, a.id, &got), 0);
	cr_assert_eq(strlen(got.name), sizeof(a.name) - 1);
	cr_assert_eq(strlen(got.targets), sizeof(a.targets) - 1);
	cr_assert_eq(strlen(got.cron), sizeof(a.cron) - 1);
	cr_assert_eq(strlen(got.last_run.error), sizeof(run.error) - 1);
	store_jobs_close(j);
	store_close(st);
}
