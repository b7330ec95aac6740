/* SPDX-License-Identifier: MIT */
/*
 * test_store_writers.c: the store under the writers it meets in the lab. Two sweeps into one
 * store at once, through lnmtd (two recorders in one process) and from two processes (the
 * second waits for the first or is refused), and a sweep beside lnmtd on its store (refused),
 * twenty rounds: no live device ever reads down or missed, and every sweep's observations
 * agree with what it found. Then kill -9 of `lnmt scan` and of lnmtd at random moments, ten
 * each: the store checks clean, the killed sweep reads interrupted with the counts of what it
 * committed, and every earlier sweep reads as before. Last, a store on a 2 MB tmpfs that fills
 * up: the message names the cause, and the store stays readable.
 *
 * Every lab host is alive and nothing is lost (tools/lab up), so a sweep that ran to its end
 * observed every device of its range up; a down observation or a miss is the store's fault.
 * Probing runs only inside the lab's scanner namespace, clients of lnmtd included (a client
 * that found no daemon would sweep by itself). Nothing sleeps to synchronise: the test waits
 * on its children's output; the kills come after a random count of output lines or progress
 * notifications (the seed is logged; LNMT_TEST_SEED repeats a run).
 *
 * Environment (tests/meson.build): LNMT_BIN, LNMTD_BIN, LNMT_LAB_SCRIPT; LNMT_LAB passes through.
 */
#include <criterion/criterion.h>

#include "../lab_proc.h"
#include "store.h"

#include <criterion/logging.h>

#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define ROUNDS 20
#define KILLS 10         /* of each */
#define RUN_MS 60000     /* the longest any one child may run */

static char dir[64];
static char mnt[96];     /* the tmpfs, while mounted */
static struct lab_proc D; /* lnmtd */

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static void setup(void)
{
	lab_proc_init(&D);
	snprintf(dir, sizeof(dir), "/tmp/lnmt-writers-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	if (D.pid && lab_stop_server(&D) != 0)
		cr_log_error("lnmtd exited %d; its log:\n%s", D.status, D.log);
	if (mnt[0]) {
		umount2(mnt, MNT_DETACH);
		mnt[0] = '\0';
	}
	if (dir[0])
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

TestSuite(store_writers, .init = setup, .fini = teardown, .timeout = 600);

/* ---- children ---- */

static struct lab_proc *proc_new(void)
{
	struct lab_proc *p = malloc(sizeof(*p));
	cr_assert_not_null(p);
	lab_proc_init(p);
	return p;
}

/* Starts `ip netns exec SCAN lnmt ARGS...` (args NULL-terminated), its stdout (unless out is
 * LAB_PROC_STDERR) and stderr into p->log. */
static void start_lnmt_out(struct lab_proc *p, const char *const *args, enum lab_proc_out out)
{
	char *argv[40] = { "ip", "netns", "exec", (char *)scan_ns(), (char *)need_env("LNMT_BIN") };
	int n = 5;

	for (; *args; args++) {
		cr_assert_lt(n, 39);
		argv[n++] = (char *)*args;
	}
	argv[n] = NULL;
	lab_proc_start(p, argv, out);
}

static void start_lnmt(struct lab_proc *p, const char *const *args)
{
	start_lnmt_out(p, args, LAB_PROC_STDOUT_STDERR);
}

/* Runs lnmt ARGS... in the scanner namespace to its end; free the result. */
static struct lab_proc *lnmt(const char *const *args)
{
	struct lab_proc *p = proc_new();
	start_lnmt(p, args);
	lab_proc_stop(p, 0, RUN_MS);
	return p;
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static unsigned count_lines(const char *s, const char *with)
{
	unsigned n = 0;
	for (const char *l = s; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		if (memmem(l, len, with, strlen(with)))
			n++;
		l = nl ? nl + 1 : NULL;
	}
	return n;
}

static void need_lab(void)
{
	if (geteuid() != 0)
		cr_skip_test("lab tests need root (network namespaces, raw sockets); running as uid %u",
			     (unsigned)geteuid());
	struct lab_run r = lab_capture((char *const[]){ "ip", "netns", "list", NULL }, LAB_RUN_MERGE);
	int st = r.status;
	lab_run_free(&r);
	if (st)
		cr_skip_test("'ip netns' is unavailable");
	/* Every host alive, nothing lost: the store's figures must match the lab exactly. */
	r = lab_capture((char *const[]){ (char *)need_env("LNMT_LAB_SCRIPT"), "up", NULL }, LAB_RUN_MERGE);
	cr_assert_eq(r.status, 0, "tools/lab up failed (exit %d): %s", r.status, r.out);
	lab_run_free(&r);
}

/* ---- what the store says (read directly: readers need no lock) ---- */

struct sweep_tally {
	uint64_t up, down; /* its observations */
};

struct tally {
	struct sweep_tally *by_id;
	size_t n_ids;
	uint64_t devices, bad;     /* devices in range; of them down or with a miss */
	uint32_t first_bad;
	struct store *st;
};

static int tally_obs(void *ctx, const struct store_observation *o)
{
	struct tally *t = ctx;

	if (o->sweep_id >= t->n_ids) {
		size_t n = o->sweep_id + 64;
		struct sweep_tally *v = realloc(t->by_id, n * sizeof(*v));
		cr_assert_not_null(v);
		memset(v + t->n_ids, 0, (n - t->n_ids) * sizeof(*v));
		t->by_id = v;
		t->n_ids = n;
	}
	if (o->state == STORE_STATE_UP)
		t->by_id[o->sweep_id].up++;
	else
		t->by_id[o->sweep_id].down++;
	return 0;
}

static int tally_device(void *ctx, const struct store_device *d)
{
	struct tally *t = ctx;

	t->devices++;
	if (d->state != STORE_STATE_UP || d->missed) {
		if (!t->bad++)
			t->first_bad = d->ip;
	}
	cr_assert_eq(store_device_observations(t->st, d->ip, 0, tally_obs, t), 0);
	return 0;
}

struct sweeps {
	struct store_sweep v[256];
	size_t n;
};

static int collect_sweep(void *ctx, const struct store_sweep *s)
{
	struct sweeps *l = ctx;

	cr_assert_lt(l->n, sizeof(l->v) / sizeof(l->v[0]));
	l->v[l->n++] = *s;
	return 0;
}

/* The devices of net/mask with every sweep's observations of them, and the sweeps (newest
 * first), from the store in db, opened read-only while others may write. Free t->by_id. */
static void read_store(const char *db, uint32_t net, uint32_t mask, struct tally *t, struct sweeps *sw)
{
	struct store_options opt = { .read_only = true, .oui_path = "" };
	struct store_filter f = { .state = -1, .net = net, .mask = mask };
	char err[512] = "";

	memset(t, 0, sizeof(*t));
	cr_assert_eq(store_open(&t->st, db, &opt, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_devices_list(t->st, &f, tally_device, t, NULL, NULL), 0);
	sw->n = 0;
	cr_assert_eq(store_sweeps_list(t->st, 0, collect_sweep, sw), 0);
	store_close(t->st);
	t->st = NULL;
}

static const struct sweep_tally *tally_of(const struct tally *t, uint64_t id)
{
	static const struct sweep_tally none;
	return id < t->n_ids ? &t->by_id[id] : &none;
}

static const char *ip_text(uint32_t ip, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
	return buf;
}

/*
 * The sweeps above `after` in db covered net/mask (n_dev hosts, all alive); each ran to its end.
 * Checks that no device is down or has a miss, and that each sweep observed every device up and
 * none down, as many as it found live. Fills out[] (oldest first) and returns how many.
 */
static size_t check_round(const char *db, const char *what, uint32_t net, uint32_t mask, uint64_t n_dev,
			  uint64_t after, struct store_sweep *out, size_t max)
{
	struct tally t;
	struct sweeps sw;
	char ipb[16];
	size_t n = 0;

	read_store(db, net, mask, &t, &sw);
	cr_assert_eq(t.devices, n_dev, "%s: %llu devices in the store, the lab has %llu", what,
		     (unsigned long long)t.devices, (unsigned long long)n_dev);
	cr_expect_eq(t.bad, 0, "%s: %llu live devices read down or missed (the first %s)", what,
		     (unsigned long long)t.bad, ip_text(t.first_bad, ipb));
	for (size_t i = sw.n; i-- > 0;) {
		const struct store_sweep *s = &sw.v[i];
		if (s->id <= after)
			continue;
		const struct sweep_tally *o = tally_of(&t, s->id);
		cr_expect_eq(s->live, n_dev, "%s: sweep %llu found %llu live of %llu", what, (unsigned long long)s->id,
			     (unsigned long long)s->live, (unsigned long long)n_dev);
		cr_expect(o->up == s->live && o->down == 0,
			  "%s: sweep %llu found %llu live, but its observations say %llu up and %llu down", what,
			  (unsigned long long)s->id, (unsigned long long)s->live, (unsigned long long)o->up,
			  (unsigned long long)o->down);
		cr_expect(s->complete, "%s: sweep %llu is not complete", what, (unsigned long long)s->id);
		if (n < max)
			out[n++] = *s;
	}
	free(t.by_id);
	return n;
}

static void expect_check_clean(const char *db)
{
	struct lab_proc *p = lnmt(ARGS("db", "check", "--db", db));
	cr_expect(p->status == 0 && strstr(p->log, "\nok\n"), "lnmt db check --db %s: exit %d:\n%s", db, p->status,
		  p->log);
	free(p);
}

/* ---- two sweeps at once ---- */

#define RANGE "198.19.4.0/22"
#define RANGE_NET 0xc6130400u
#define RANGE_MASK 0xfffffc00u
#define RANGE_N 1024

Test(store_writers, two_sweeps_at_once_mark_no_live_device_down)
{
	char db[96], sock[96], cli_db[96], pid_text[24];
	struct store_sweep got[4];
	uint64_t last_daemon = 0, last_cli = 0;
	unsigned waited = 0, refused = 0;

	need_lab();
	snprintf(db, sizeof(db), "%s/daemon-db", dir);
	snprintf(sock, sizeof(sock), "%s/lnmtd.sock", dir);
	snprintf(cli_db, sizeof(cli_db), "%s/cli-db", dir);
	lab_start_lnmtd(&D, sock, db, NULL);
	setenv("LNMT_SOCKET", sock, 1);
	snprintf(pid_text, sizeof(pid_text), "%ld", (long)D.pid);

	for (int round = 0; round < ROUNDS; round++) {
		char what[64];

		/* Through lnmtd: two sweeps of the same /22 at once, each lasting ~350 ms. */
		struct lab_proc *a = proc_new(), *b = proc_new();
		const char *const through[] = { "scan", "-P", "icmp", "--rate", "3000", "-w", "300ms", RANGE, "-f",
						"jsonl", NULL };
		start_lnmt(a, through);
		start_lnmt(b, through);
		lab_proc_stop(a, 0, RUN_MS);
		lab_proc_stop(b, 0, RUN_MS);
		cr_assert(a->status == 0 && strstr(a->log, "(daemon)"), "round %d: scan through lnmtd: exit %d:\n%.2000s",
			  round, a->status, a->log);
		cr_assert(b->status == 0 && strstr(b->log, "(daemon)"), "round %d: scan through lnmtd: exit %d:\n%.2000s",
			  round, b->status, b->log);
		free(a);
		free(b);
		snprintf(what, sizeof(what), "round %d, through lnmtd", round);
		size_t n = check_round(db, what, RANGE_NET, RANGE_MASK, RANGE_N, last_daemon, got, 4);
		cr_assert_eq(n, 2, "%s: %zu new sweeps", what, n);
		/* They overlapped: two recorders in one process at once. */
		uint64_t start = got[0].start_us > got[1].start_us ? got[0].start_us : got[1].start_us;
		uint64_t end = got[0].end_us < got[1].end_us ? got[0].end_us : got[1].end_us;
		cr_expect_lt(start, end, "%s: sweeps %llu and %llu did not overlap", what, (unsigned long long)got[0].id,
			     (unsigned long long)got[1].id);
		last_daemon = got[1].id;

		/* Beside lnmtd on its store: refused, pointing at lnmtd (it waits 1 s first: not
		 * every round). */
		if (round % 5 == 0) {
			struct lab_proc *p = lnmt(ARGS("scan", "-P", "icmp", "--db", db, RANGE, "-q"));
			char want[128];
			snprintf(want, sizeof(want), "store in use by lnmtd pid %s: run the sweep through it with --socket, or wait",
				 pid_text);
			cr_assert(p->status == 1 && strstr(p->log, want), "round %d: a sweep beside lnmtd: exit %d:\n%s",
				  round, p->status, p->log);
			cr_assert(strchr(p->log, '\n') == p->log + strlen(p->log) - 1, "one line: %s", p->log);
			free(p);
		}

		/* Two processes on one store: the second starts once the first has results, i.e.
		 * holds the store. It waits for the first (up to a second) or is refused: it never
		 * writes beside it. Odd rounds the first lasts longer than the wait. */
		const char *rate = round % 2 ? "700" : "3000";
		const char *const embedded[] = { "scan", "-P", "icmp", "--rate", rate, "-w", "300ms", "--db", cli_db, RANGE,
						 "-f", "jsonl", NULL };
		a = proc_new();
		b = proc_new();
		start_lnmt(a, embedded);
		pid_t first_pid = a->pid;
		cr_assert(lab_proc_read_until(a, "\"ip\":\"198.19.", RUN_MS), "round %d: the first sweep found nothing:\n%s",
			  round, a->log);
		start_lnmt(b, embedded);
		lab_proc_stop(a, 0, RUN_MS);
		lab_proc_stop(b, 0, RUN_MS);
		cr_assert_eq(a->status, 0, "round %d: first sweep: exit %d:\n%.2000s", round, a->status, a->log);
		char want[96];
		snprintf(want, sizeof(want), "store in use by lnmt pid %ld: wait for it to finish", (long)first_pid);
		bool was_refused = b->status == 1 && strstr(b->log, want);
		cr_assert(b->status == 0 || was_refused, "round %d: second sweep: exit %d:\n%.2000s", round, b->status,
			  b->log);
		refused += was_refused;
		waited += !was_refused;
		free(a);
		free(b);
		snprintf(what, sizeof(what), "round %d, two processes", round);
		n = check_round(cli_db, what, RANGE_NET, RANGE_MASK, RANGE_N, last_cli, got, 4);
		cr_assert_eq(n, was_refused ? 1 : 2, "%s: %zu new sweeps", what, n);
		if (n == 2)
			cr_expect_geq(got[1].start_us, got[0].end_us, "%s: sweep %llu started before sweep %llu ended", what,
				      (unsigned long long)got[1].id, (unsigned long long)got[0].id);
		last_cli = got[n - 1].id;
	}
	cr_log_info("two processes: the second waited for the first %u times, was refused %u times", waited, refused);
	expect_check_clean(db);
	expect_check_clean(cli_db);
}

/* ---- kill -9 ---- */

#define KILL_RANGE "198.19.16.0/20"
#define KILL_N 4096

/* `lnmt sweeps -f jsonl` of db, every sweep: one line each, newest first. Free it. */
static char *sweep_lines(const char *db)
{
	struct lab_proc *p = lnmt(ARGS("sweeps", "--db", db, "--limit", "10000", "-f", "jsonl"));
	cr_assert_eq(p->status, 0, "lnmt sweeps: exit %d: %s", p->status, p->log);
	char *s = strdup(p->log);
	free(p);
	cr_assert_not_null(s);
	return s;
}

/* The number after "key": in line, or -1. */
static long long field(const char *line, const char *key)
{
	char k[40];
	snprintf(k, sizeof(k), "\"%s\":", key);
	const char *p = strstr(line, k);
	return p ? strtoll(p + strlen(k), NULL, 10) : -1;
}

/* Each line of before (the sweeps before a kill) is in after as it was. */
static void expect_unchanged(const char *before, const char *after, int round)
{
	for (const char *l = before; *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l + 1) : strlen(l);
		cr_expect_not_null(memmem(after, strlen(after), l, len), "round %d: an earlier sweep changed:\n%.*s\nnow:\n%s",
				   round, (int)len, l, after);
		l += len;
	}
}

/* Kills `lnmt scan --db db` once it printed a random number of results (1 to KILL_N - 600, so
 * the sweep is never at its end): after SIGKILL, the sweep's record was last written by one of
 * its batches. */
static void kill_scan(const char *db, unsigned *seed)
{
	unsigned after = 1 + (unsigned)rand_r(seed) % (KILL_N - 600);
	struct lab_proc *p = proc_new();

	start_lnmt(p, ARGS("scan", "-P", "icmp", "--rate", "8000", "-w", "300ms", "--db", db, KILL_RANGE, "-f", "jsonl",
			   "-q"));
	while (count_lines(p->log, "\"ip\":") < after)
		cr_assert(lab_proc_read(p, RUN_MS), "the sweep ended after %u of %u results:\n%.1000s",
			  count_lines(p->log, "\"ip\":"), after, p->log);
	kill(p->pid, SIGKILL);
	int st = lab_proc_wait(p, LAB_KILL_MS);
	cr_log_info("killed lnmt scan after %u results", after);
	cr_assert_eq(st, 128 + SIGKILL, "lnmt scan was not killed (exit %d) after %u results", st, after);
	free(p);
}

/* `lnmt sweeps` prints the same bytes through lnmtd as with --db, interrupted sweeps (no end:
 * null) included, in every format. */
static void expect_same_sweeps(const char *db)
{
	static const char *const formats[] = { "jsonl", "csv", "text" };

	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		struct lab_proc *rpc = lnmt(ARGS("sweeps", "--limit", "10000", "-f", formats[i]));
		struct lab_proc *emb = lnmt(ARGS("sweeps", "--db", db, "--limit", "10000", "-f", formats[i]));
		cr_expect(rpc->status == 0 && emb->status == 0 && !strcmp(rpc->log, emb->log),
			  "lnmt sweeps -f %s: through lnmtd (exit %d):\n%s\nwith --db (exit %d):\n%s", formats[i], rpc->status,
			  rpc->log, emb->status, emb->log);
		cr_expect(!strstr(rpc->log, "\"null\""), "a time printed as the string \"null\":\n%s", rpc->log);
		free(rpc);
		free(emb);
	}
}

/* Kills lnmtd during a sweep, after a random number (0-3) of its progress notifications. */
static void kill_lnmtd(const char *db, const char *sock, const char *config, unsigned *seed)
{
	unsigned after = (unsigned)rand_r(seed) % 4;
	const char *const extra[] = { "--config", config, NULL };

	lab_start_lnmtd(&D, sock, db, extra);
	setenv("LNMT_SOCKET", sock, 1);
	expect_same_sweeps(db);
	struct lab_proc *w = proc_new(), *c = proc_new();
	start_lnmt(w, ARGS("watch", "--topics", "scan", "-f", "jsonl"));
	cr_assert(lab_proc_read_until(w, "lnmt: watching", RUN_MS), "watch did not start: %s", w->log);
	start_lnmt(c, ARGS("scan", "-P", "icmp", "--rate", "6000", "-w", "300ms", KILL_RANGE, "-q", "-f", "jsonl"));
	cr_assert(lab_proc_read_until(&D, " started: ", RUN_MS), "lnmtd started no sweep:\n%s", D.log);
	while (count_lines(w->log, "\"event\":\"scan.progress\"") < after)
		cr_assert(lab_proc_read(w, RUN_MS), "watch ended:\n%s", w->log);
	cr_assert_eq(count_lines(w->log, "\"event\":\"scan.done\""), 0, "the sweep ended before the kill");
	kill(D.pid, SIGKILL);
	int st = lab_proc_wait(&D, LAB_KILL_MS);
	cr_log_info("killed lnmtd after %u progress notifications", after);
	cr_assert_eq(st, 128 + SIGKILL, "lnmtd was not killed (exit %d):\n%s", st, D.log);
	lab_proc_init(&D);
	cr_expect_eq(lab_proc_stop(c, 0, RUN_MS), 1, "the client of the killed lnmtd: exit %d: %s", c->status, c->log);
	lab_proc_stop(w, 0, RUN_MS);
	unsetenv("LNMT_SOCKET");
	free(c);
	free(w);
}

Test(store_writers, kill_9_leaves_honest_records)
{
	char db[96], sock[96], config[96];
	unsigned seed = (unsigned)(getenv("LNMT_TEST_SEED") ? strtoul(getenv("LNMT_TEST_SEED"), NULL, 10)
							    : (unsigned long)time(NULL) ^ (unsigned long)getpid());

	need_lab();
	cr_log_info("seed %u (LNMT_TEST_SEED repeats it)", seed);
	snprintf(db, sizeof(db), "%s/kill-db", dir);
	snprintf(sock, sizeof(sock), "%s/lnmtd.sock", dir);
	snprintf(config, sizeof(config), "%s/lnmtd.conf", dir);
	FILE *f = fopen(config, "w");
	cr_assert_not_null(f);
	fputs("PROGRESS_MS=100\n", f);
	fclose(f);
	unsetenv("LNMT_SOCKET");
	struct lab_proc *p = lnmt(ARGS("scan", "-P", "icmp", "--db", db, "198.19.16.0/24", "-q"));
	cr_assert_eq(p->status, 0, "the first sweep: exit %d: %s", p->status, p->log);
	free(p);

	for (int round = 0; round < 2 * KILLS; round++) {
		char *before = sweep_lines(db);
		if (round % 2 == 0)
			kill_scan(db, &seed);
		else
			kill_lnmtd(db, sock, config, &seed);
		char *after = sweep_lines(db);

		/* The killed sweep is the newest: interrupted, no end, its committed counts. */
		char line[1024];
		snprintf(line, sizeof(line), "%.*s", (int)strcspn(after, "\n"), after);
		long long id = field(line, "id");
		cr_assert_eq(id, (long long)round + 2, "round %d: newest sweep %lld:\n%s", round, id, after);
		cr_expect(strstr(line, "\"ended\":\"interrupted\"") && strstr(line, "\"end\":null,") &&
			  strstr(line, "\"complete\":false"), "round %d: the killed sweep reads:\n%s", round, line);
		struct tally t;
		struct sweeps sw;
		read_store(db, 0xc6131000u, 0xfffff000u, &t, &sw);
		const struct sweep_tally *o = tally_of(&t, (uint64_t)id);
		cr_expect(field(line, "observations") == (long long)(o->up + o->down) && field(line, "live") == (long long)o->up &&
			  field(line, "replies") == (long long)o->up && o->down == 0,
			  "round %d: sweep %lld says %lld observations, %lld live, %lld replies; the store holds %llu up, %llu "
			  "down", round, id, field(line, "observations"), field(line, "live"), field(line, "replies"),
			  (unsigned long long)o->up, (unsigned long long)o->down);
		cr_log_info("round %d: sweep %lld interrupted with %llu observations committed", round, id,
			    (unsigned long long)o->up);
		cr_expect_eq(t.bad, 0, "round %d: %llu devices down or missed after an interrupted sweep", round,
			     (unsigned long long)t.bad);
		free(t.by_id);
		expect_unchanged(before, after, round);

		p = lnmt(ARGS("db", "check", "--db", db));
		char want[64];
		snprintf(want, sizeof(want), "\ninterrupted     %d: sweep", round + 1);
		cr_expect(p->status == 0 && strstr(p->log, "\nok\n") && strstr(p->log, want),
			  "round %d: lnmt db check: exit %d:\n%s", round, p->status, p->log);
		snprintf(want, sizeof(want), " %lld", id);
		cr_expect(strstr(p->log, want), "round %d: db check does not name sweep %lld:\n%s", round, id, p->log);
		free(p);
		free(before);
		free(after);
	}
	/* The store takes sweeps again, and the killed ones stay as they were. */
	char *before = sweep_lines(db);
	p = lnmt(ARGS("scan", "-P", "icmp", "--db", db, "198.19.16.0/24", "-q"));
	cr_assert_eq(p->status, 0, "the last sweep: exit %d: %s", p->status, p->log);
	free(p);
	char *after = sweep_lines(db);
	expect_unchanged(before, after, 2 * KILLS);
	free(before);
	free(after);
	expect_check_clean(db);
}

/* ---- a full disk ---- */

Test(store_writers, full_disk_names_the_cause)
{
	char db[128];

	need_lab();
	snprintf(mnt, sizeof(mnt), "%s/tmpfs", dir);
	cr_assert_eq(mkdir(mnt, 0700), 0);
	/* In a mount namespace of this test's own (its children, lnmt, see it): the tmpfs goes away
	 * with the test's process, however that ends. */
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("lnmt-test", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=2m")) {
		int e = errno;
		mnt[0] = '\0';
		cr_skip_test("cannot mount a 2 MB tmpfs: %s", strerror(e));
	}
	snprintf(db, sizeof(db), "%s/db", mnt);
	struct lab_proc *p = lnmt(ARGS("scan", "-P", "icmp", "--db", db, "198.19.0.0/24", "-q"));
	cr_assert_eq(p->status, 0, "a /24 fits: exit %d: %s", p->status, p->log);
	free(p);
	/* (Its 65,536 result lines are not kept: only what it says on stderr.) */
	p = proc_new();
	start_lnmt_out(p, ARGS("scan", "-P", "icmp", "--db", db, "198.19.0.0/16", "-q", "-f", "jsonl"), LAB_PROC_STDERR);
	lab_proc_stop(p, 0, RUN_MS);
	char want[256];
	snprintf(want, sizeof(want), "lnmt: not everything was stored: no space left on %s: ", db);
	cr_log_info("a /16 on a 2 MB store: %s", strstr(p->log, "lnmt: ") ? strstr(p->log, "lnmt: ") : p->log);
	cr_expect(p->status == 1 && strstr(p->log, want) &&
		  strstr(p->log, "results of sweep 2 not stored; the store is intact") &&
		  !strstr(p->log, "Input/output error"),
		  "a /16 on a full disk: exit %d:\n%s", p->status, strstr(p->log, "lnmt: ") ? strstr(p->log, "lnmt: ") : p->log);
	free(p);

	/* Readable and whole: the /24 as it was stored. */
	expect_check_clean(db);
	p = lnmt(ARGS("devices", "--db", db, "--subnet", "198.19.0.0/24", "-f", "jsonl"));
	cr_expect(p->status == 0 && count_lines(p->log, "\"state\":\"up\"") == 256, "devices after the full disk: exit %d",
		  p->status);
	free(p);
	p = lnmt(ARGS("sweeps", "--db", db, "-f", "jsonl"));
	cr_expect(p->status == 0 && strstr(p->log, "{\"id\":1,") && strstr(p->log, "\"complete\":true"), "sweeps: %s",
		  p->log);
	cr_expect(strstr(p->log, "{\"id\":2,") && strstr(p->log, "\"complete\":false"), "sweeps: %s", p->log);
	free(p);
}

LAB_TESTS_MAIN();
