/* SPDX-License-Identifier: MIT */
/*
 * test_client.c: the lnmt CLI as a client of lnmtd. lnmtd runs in the lab's scanner namespace
 * with a store and socket of its own; the lnmt binary reaches it through LNMT_SOCKET: status,
 * jobs add/ls/rm, a sweep through the daemon and the devices it stored, the HTML report (the same
 * page as --db writes), `lnmt device` and `lnmt sweeps` (the same bytes as --db prints), `lnmt
 * watch` seeing the sweep's scan.done, and what happens without a daemon (status fails, --db
 * still reads).
 *
 * Environment (tests/meson.build): LNMT_BIN, LNMTD_BIN, LNMT_LAB_SCRIPT; LNMT_LAB passes
 * through. Nothing sleeps to synchronise: the test blocks on the daemon's and watch's output,
 * each read with a deadline.
 */
#include <criterion/criterion.h>

#include "../lab_proc.h"
#include <criterion/logging.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EVENT_MS 30000

/* ---- child processes with their output on a pipe (tests/lab_proc.h) ---- */

/* Runs argv to its end (60 s at the most, then it is killed), stdout and stderr together in
 * p->log and its exit status (-1 when it was killed) in p->status. Free p. */
static struct lab_proc *run(char *const argv[])
{
	struct lab_proc *p = malloc(sizeof(*p));
	cr_assert_not_null(p);
	lab_proc_start(p, argv, LAB_PROC_STDOUT_STDERR);
	lab_proc_stop(p, 0, 60000);
	return p;
}

/* lnmt ARGS...: a NULL-terminated list, run in the lab's scanner namespace. Every command here
 * is meant for lnmtd, but a scan that found no daemon would sweep in-process: only there is
 * that safe. */
#define LNMT(...) run((char *const[]){ "ip", "netns", "exec", (char *)scan_ns(), (char *)need_env("LNMT_BIN"), \
				     __VA_ARGS__, NULL })

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

/* ---- the lab and the daemon ---- */

static struct lab_proc D; /* lnmtd */
static char dir[64], sock[128], db[128];

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static void need_lab(void)
{
	if (geteuid() != 0)
		cr_skip_test("lab tests need root (network namespaces, raw sockets); running as uid %u",
			     (unsigned)geteuid());
	struct lab_proc *p = run((char *const[]){ "ip", "netns", "list", NULL });
	int st = p->status;
	free(p);
	if (st)
		cr_skip_test("'ip netns' is unavailable");
	p = run((char *const[]){ (char *)need_env("LNMT_LAB_SCRIPT"), "up", NULL });
	cr_assert_eq(p->status, 0, "tools/lab up failed (exit %d): %s", p->status, p->log);
	free(p);
}

static void start_lnmtd(void)
{
	lab_start_lnmtd(&D, sock, db, NULL);
	setenv("LNMT_SOCKET", sock, 1);
}

static void setup(void)
{
	lab_proc_init(&D);
	snprintf(dir, sizeof(dir), "/tmp/lnmt-client-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/lnmtd.sock", dir);
	snprintf(db, sizeof(db), "%s/db", dir);
}

static void teardown(void)
{
	if (D.pid && lab_stop_server(&D) != 0)
		cr_log_error("lnmtd exited %d; its log:\n%s", D.status, D.log);
	if (dir[0])
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(client, .init = setup, .fini = teardown, .timeout = 180);

/* s without its <p class="meta"> line: the generation time and the period's start, which two
 * runs a moment apart may write differently. */
static void drop_meta(char *s)
{
	char *m = strstr(s, "<p class=\"meta\">");
	if (!m)
		return;
	char *rest = strchr(m, '\n');
	rest = rest ? rest + 1 : m + strlen(m);
	memmove(m, rest, strlen(rest) + 1);
}

/*
 * `lnmt report uptime --format html` through lnmtd writes the page --db writes from the same
 * store, byte for byte but for the meta line. Asked again when an hour turned in between (the
 * hourly chart then has one more hour).
 */
static void expect_same_html(void)
{
	for (int attempt = 0;; attempt++) {
		time_t hour = time(NULL) / 3600;
		struct lab_proc *rpc = LNMT("report", "uptime", "--format", "html");
		struct lab_proc *emb = LNMT("report", "uptime", "--format", "html", "--db", db);
		cr_assert_eq(rpc->status, 0, "report uptime -f html through lnmtd: exit %d: %.500s", rpc->status, rpc->log);
		cr_assert_eq(emb->status, 0, "report uptime -f html --db: exit %d: %.500s", emb->status, emb->log);
		cr_expect_not_null(strstr(rpc->log, "<path class=\"series\""), "no hourly line through lnmtd");
		cr_expect(strstr(rpc->log, "<title>Devices by vendor</title>") && strstr(rpc->log, ">unknown</text>"),
			  "no vendor chart through lnmtd");
		drop_meta(rpc->log);
		drop_meta(emb->log);
		bool same = !strcmp(rpc->log, emb->log);
		if (!same && attempt == 0 && time(NULL) / 3600 != hour) {
			free(rpc);
			free(emb);
			continue;
		}
		size_t i = 0;
		while (rpc->log[i] && rpc->log[i] == emb->log[i])
			i++;
		size_t from = i > 200 ? i - 200 : 0;
		cr_expect(same, "the HTML reports differ at byte %zu:\nlnmtd: %.400s\n--db:  %.400s", i, rpc->log + from,
			  emb->log + from);
		free(rpc);
		free(emb);
		break;
	}
}

/* ---- tests ---- */

Test(client, status_and_jobs)
{
	need_lab();
	start_lnmtd();

	struct lab_proc *p = LNMT("status");
	cr_assert_eq(p->status, 0, "lnmt status: exit %d: %s", p->status, p->log);
	cr_expect(strstr(p->log, "version") && strstr(p->log, sock), "lnmt status says:\n%s", p->log);
	free(p);
	p = LNMT("status", "-f", "jsonl");
	cr_expect(p->status == 0 && strstr(p->log, "\"sweeps_running\":"), "status -f jsonl:\n%s", p->log);
	free(p);

	p = LNMT("jobs", "add", "--every", "1s", "-P", "icmp", "198.19.0.0/28", "-f", "jsonl");
	cr_assert_eq(p->status, 0, "jobs add: exit %d: %s", p->status, p->log);
	unsigned id = 0;
	cr_assert_eq(sscanf(p->log, "{\"id\":%u", &id), 1, "jobs add said: %s", p->log);
	free(p);

	char want[64];
	snprintf(want, sizeof(want), "{\"id\":%u,", id);
	p = LNMT("jobs", "ls", "-f", "jsonl");
	cr_assert_eq(p->status, 0, "jobs ls: exit %d: %s", p->status, p->log);
	cr_expect(strstr(p->log, want) && strstr(p->log, "\"targets\":\"198.19.0.0/28\"") &&
		  strstr(p->log, "\"every_s\":1"), "jobs ls lacks job %u:\n%s", id, p->log);
	free(p);
	p = LNMT("jobs", "ls", "-f", "text");
	cr_expect(p->status == 0 && strstr(p->log, "every 1s") && strstr(p->log, "198.19.0.0/28"), "jobs ls text:\n%s",
		  p->log);
	free(p);

	char idtext[16];
	snprintf(idtext, sizeof(idtext), "%u", id);
	p = LNMT("jobs", "rm", idtext, "-f", "text");
	cr_assert_eq(p->status, 0, "jobs rm: exit %d: %s", p->status, p->log);
	free(p);
	p = LNMT("jobs", "ls", "-f", "jsonl");
	cr_expect(p->status == 0 && !strstr(p->log, want), "job %u still listed:\n%s", id, p->log);
	free(p);
	p = LNMT("jobs", "rm", idtext);
	cr_expect(p->status == 1 && strstr(p->log, "lnmt: jobs rm"), "removing it twice: exit %d: %s", p->status,
		  p->log);
	free(p);

	/* watch stops on Ctrl-C with exit 0 */
	struct lab_proc *w = malloc(sizeof(*w));
	cr_assert_not_null(w);
	lab_proc_start(w, (char *const[]){ (char *)need_env("LNMT_BIN"), "watch", NULL }, LAB_PROC_STDOUT_STDERR);
	cr_assert(lab_proc_read_until(w, "lnmt: watching", EVENT_MS), "watch did not start: %s", w->log);
	kill(w->pid, SIGINT);
	cr_expect_eq(lab_proc_stop(w, 0, 10000), 0, "watch after SIGINT: exit %d: %s", w->status, w->log);
	free(w);
}

Test(client, scan_devices_watch_and_no_daemon)
{
	need_lab();
	start_lnmtd();

	struct lab_proc *w = malloc(sizeof(*w));
	cr_assert_not_null(w);
	lab_proc_start(w, (char *const[]){ (char *)need_env("LNMT_BIN"), "watch", "--topics", "scan", "-f", "jsonl",
					   NULL }, LAB_PROC_STDOUT_STDERR);
	cr_assert(lab_proc_read_until(w, "lnmt: watching", EVENT_MS), "watch did not start: %s", w->log);

	struct lab_proc *p = LNMT("scan", "-P", "icmp", "-w", "300ms", "198.19.0.0/24", "-f", "jsonl");
	cr_assert_eq(p->status, 0, "scan through lnmtd: exit %d: %s", p->status, p->log);
	cr_expect(strstr(p->log, "(daemon)"), "the scan did not go through lnmtd:\n%.2000s", p->log);
	cr_expect_eq(count_lines(p->log, "\"ip\":\"198.19.0."), 256, "scan listed %u devices",
		     count_lines(p->log, "\"ip\":\"198.19.0."));
	free(p);

	cr_expect(lab_proc_read_until(w, "{\"event\":\"scan.done\"", EVENT_MS), "watch saw no scan.done:\n%.2000s",
		  w->log);

	p = LNMT("devices", "-f", "jsonl");
	cr_assert_eq(p->status, 0, "devices: exit %d: %s", p->status, p->log);
	cr_expect_eq(count_lines(p->log, "\"state\":\"up\""), 256, "devices over RPC listed %u up:\n%.1000s",
		     count_lines(p->log, "\"state\":\"up\""), p->log);
	char *rpc_out = strdup(p->log);
	free(p);
	/* the same store read directly gives the same lines */
	p = LNMT("devices", "-f", "jsonl", "--db", db);
	cr_expect(p->status == 0 && !strcmp(p->log, rpc_out), "devices --db differs from the daemon's answer");
	free(p);
	free(rpc_out);
	p = LNMT("report", "network", "-f", "jsonl");
	cr_expect(p->status == 0 && strstr(p->log, "\"subnet\":\"198.19.0.0/24\",\"up\":256"), "report network:\n%s",
		  p->log);
	free(p);
	expect_same_html();

	/* Names and notes through lnmtd: an inventory file (errors name FILE:LINE), one device. */
	char inv[200];
	snprintf(inv, sizeof(inv), "%s/inventory.csv", dir);
	FILE *f = fopen(inv, "w");
	cr_assert_not_null(f);
	fputs("ip,name,note\n# the lab\n198.19.0.1,router,\"core, rack 1\"\n198.19.9.9,later\n", f);
	fclose(f);
	p = LNMT("devices", "--import", inv, "-f", "jsonl");
	cr_expect(p->status == 0 && strstr(p->log, "{\"imported\":2,\"known\":1,\"unknown\":1}"),
		  "devices --import: exit %d: %s", p->status, p->log);
	free(p);
	p = LNMT("device", "198.19.0.2", "--name", "switch", "-f", "jsonl");
	cr_expect(p->status == 0 && strstr(p->log, "\"name\":\"switch\",\"note\":\"\",\"seen\":true"),
		  "device --name: exit %d: %s", p->status, p->log);
	free(p);
	p = LNMT("devices", "-f", "jsonl", "--text", "RACK");
	cr_expect(p->status == 0 && count_lines(p->log, "\"name\":\"router\",\"note\":\"core, rack 1\"}") == 1 &&
		  count_lines(p->log, "\"ip\"") == 1, "devices --text: exit %d: %s", p->status, p->log);
	free(p);
	f = fopen(inv, "w");
	cr_assert_not_null(f);
	fputs("198.19.0.3,fine\n198.19.0.300,bad\n", f);
	fclose(f);
	p = LNMT("devices", "--import", inv);
	cr_expect(p->status == 2 && strstr(p->log, "inventory.csv:2: bad address '198.19.0.300'"),
		  "devices --import of a bad file: exit %d: %s", p->status, p->log);
	free(p);

	/* The daemon goes: watch says so and exits 1; the CLI says there is no daemon. */
	cr_expect_eq(lab_stop_server(&D), 0, "lnmtd exit: %s", D.log);
	cr_expect_eq(lab_proc_stop(w, 0, 10000), 1, "watch when lnmtd went away: exit %d: %s", w->status, w->log);
	cr_expect(strstr(w->log, "went away"), "watch said: %s", w->log);
	free(w);

	char missing[160];
	snprintf(missing, sizeof(missing), "%s/missing.sock", dir);
	setenv("LNMT_SOCKET", missing, 1);
	char msg[256];
	snprintf(msg, sizeof(msg), "lnmt: no daemon at %s (start lnmtd)", missing);
	p = LNMT("status");
	cr_expect(p->status == 1 && strstr(p->log, msg), "status without lnmtd: exit %d: %s", p->status, p->log);
	free(p);
	p = LNMT("jobs", "ls");
	cr_expect(p->status == 1 && strstr(p->log, msg), "jobs ls without lnmtd: exit %d: %s", p->status, p->log);
	free(p);
	p = LNMT("devices", "--db", db, "-f", "jsonl");
	cr_expect_eq(p->status, 0, "devices --db without lnmtd: exit %d: %.500s", p->status, p->log);
	cr_expect_eq(count_lines(p->log, "\"state\":\"up\""), 256, "embedded devices listed %u",
		     count_lines(p->log, "\"state\":\"up\""));
	free(p);
}

/*
 * lnmt ARGS through lnmtd and with --db on the same store print the same bytes and exit the
 * same way. The daemon's run has LNMT_DB pointing at no store, so it cannot have read one
 * itself. Returns the daemon's run (free it).
 */
static struct lab_proc *expect_same(const char *const *args)
{
	char *rpc_argv[16], *emb_argv[18], nostore[160];
	int n = 0;

	rpc_argv[n] = emb_argv[n] = (char *)need_env("LNMT_BIN");
	for (n = 1; args[n - 1]; n++)
		rpc_argv[n] = emb_argv[n] = (char *)args[n - 1];
	rpc_argv[n] = NULL;
	emb_argv[n] = "--db";
	emb_argv[n + 1] = db;
	emb_argv[n + 2] = NULL;
	snprintf(nostore, sizeof(nostore), "%s/no-store", dir);
	char *saved = getenv("LNMT_DB") ? strdup(getenv("LNMT_DB")) : NULL;
	setenv("LNMT_DB", nostore, 1);
	struct lab_proc *rpc = run(rpc_argv);
	if (saved)
		setenv("LNMT_DB", saved, 1);
	else
		unsetenv("LNMT_DB");
	free(saved);
	struct lab_proc *emb = run(emb_argv);
	char what[200] = "";
	for (const char *const *a = args; *a; a++)
		snprintf(what + strlen(what), sizeof(what) - strlen(what), " %s", *a);
	size_t i = 0;
	while (rpc->log[i] && rpc->log[i] == emb->log[i])
		i++;
	size_t from = i > 200 ? i - 200 : 0;
	cr_expect_eq(rpc->status, emb->status, "lnmt%s: exit %d through lnmtd, %d with --db\nlnmtd: %.400s\n--db:  %.400s",
		     what, rpc->status, emb->status, rpc->log, emb->log);
	cr_expect(!strcmp(rpc->log, emb->log), "lnmt%s differs at byte %zu:\nlnmtd: %.400s\n--db:  %.400s", what, i,
		  rpc->log + from, emb->log + from);
	free(emb);
	return rpc;
}

/* lnmt ARGS fails with a usage error: exit 2, one line on stderr naming what is wrong. */
static void expect_usage(const char *const *args, const char *msg)
{
	char *argv[16];
	int n;

	argv[0] = (char *)need_env("LNMT_BIN");
	for (n = 1; args[n - 1]; n++)
		argv[n] = (char *)args[n - 1];
	argv[n] = NULL;
	struct lab_proc *p = run(argv);
	cr_expect(p->status == 2 && strstr(p->log, msg) && count_lines(p->log, "") == 1,
		  "lnmt %s %s: expected exit 2 and one line with '%s', got exit %d: %s", args[0], args[1] ? args[1] : "",
		  msg, p->status, p->log);
	free(p);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

Test(client, device_and_sweeps_match_the_store)
{
	need_lab();
	/* One sweep by another process (in the scanner namespace) before lnmtd opens the store, and
	 * two through lnmtd: the history sweeps.list gives is the store's, whoever swept. */
	char *const embedded[] = { "ip", "netns", "exec", (char *)scan_ns(), (char *)need_env("LNMT_BIN"), "scan", "-P",
				   "icmp", "-w", "300ms", "198.19.0.0/29", "--db", db, "-q", "-f", "jsonl", NULL };
	struct lab_proc *p = run(embedded);
	cr_assert_eq(p->status, 0, "embedded scan: exit %d: %s", p->status, p->log);
	free(p);
	start_lnmtd();
	for (int i = 0; i < 2; i++) {
		p = LNMT("scan", "-P", "icmp", "-w", "300ms", "198.19.0.0/28", "-q", "-f", "jsonl");
		cr_assert_eq(p->status, 0, "scan through lnmtd: exit %d: %s", p->status, p->log);
		free(p);
	}
	/* While lnmtd holds the store, a sweep of another process is refused, and says where to go. */
	p = run(embedded);
	char want[96];
	snprintf(want, sizeof(want), "store in use by lnmtd pid %ld: run the sweep through it with --socket", (long)D.pid);
	cr_assert(p->status == 1 && strstr(p->log, want), "embedded scan on lnmtd's store: exit %d: %s", p->status,
		  p->log);
	free(p);
	p = LNMT("device", "198.19.0.3", "--name", "printer", "--note", "2nd floor, \"toner\"");
	cr_assert_eq(p->status, 0, "device --name: exit %d: %s", p->status, p->log);
	free(p);
	p = LNMT("device", "198.19.0.200", "--name", "camera");
	cr_assert_eq(p->status, 0, "device --name of an address never seen: exit %d: %s", p->status, p->log);
	free(p);

	/* A device with its history (3 observations), one without a name, one named but never
	 * seen, one neither: text and JSON. Nothing differs: both read the same store, and every
	 * time printed has second precision, which devices.get keeps. */
	static const char *const ips[] = { "198.19.0.3", "198.19.0.12", "198.19.0.200", "198.19.0.201" };
	for (size_t i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
		free(expect_same(ARGS("device", ips[i], "-f", "text")));
		p = expect_same(ARGS("device", ips[i], "-f", "jsonl"));
		if (i == 0)
			cr_expect(p->status == 0 && strstr(p->log, "\"name\":\"printer\",\"note\":\"2nd floor, \\\"toner\\\"\"") &&
				  count_lines(p->log, "\"sweep\":") == 1 && strstr(p->log, "\"sweep\":3,") &&
				  strstr(p->log, "\"sweep\":1,"), "device 198.19.0.3 -f jsonl: %s", p->log);
		if (i == 2)
			cr_expect(p->status == 0 && strstr(p->log, "\"name\":\"camera\",\"note\":\"\",\"seen\":false"),
				  "device 198.19.0.200 -f jsonl: %s", p->log);
		if (i == 3)
			cr_expect(p->status == 1 && strstr(p->log, "lnmt: 198.19.0.201: never seen"),
				  "device 198.19.0.201: exit %d: %s", p->status, p->log);
		free(p);
	}
	/* --embedded reads the store even though lnmtd answers: here $LNMT_DB, which has none. */
	char nostore[160];
	snprintf(nostore, sizeof(nostore), "%s/no-store", dir);
	char *saved = strdup(getenv("LNMT_DB") ? getenv("LNMT_DB") : "");
	setenv("LNMT_DB", nostore, 1);
	p = LNMT("device", "198.19.0.3", "--embedded");
	cr_expect(p->status == 1 && strstr(p->log, "no lnmt store here"), "device --embedded: exit %d: %s", p->status,
		  p->log);
	free(p);
	p = LNMT("sweeps", "--embedded");
	cr_expect(p->status == 1 && strstr(p->log, "no lnmt store here"), "sweeps --embedded: exit %d: %s", p->status,
		  p->log);
	free(p);
	if (saved[0])
		setenv("LNMT_DB", saved, 1);
	else
		unsetenv("LNMT_DB");
	free(saved);

	/* Sweeps: the durations come from start_us/end_us, so the milliseconds agree too. */
	p = expect_same(ARGS("sweeps", "-f", "jsonl"));
	cr_expect(p->status == 0 && count_lines(p->log, "\"id\":") == 3 && strstr(p->log, "{\"id\":3,") &&
		  strstr(p->log, "\"targets\":\"198.19.0.0/29\""), "sweeps -f jsonl: %s", p->log);
	free(p);
	free(expect_same(ARGS("sweeps", "-f", "text")));
	free(expect_same(ARGS("sweeps", "-f", "csv")));
	p = expect_same(ARGS("sweeps", "--limit", "2", "-f", "jsonl"));
	cr_expect(count_lines(p->log, "\"id\":") == 2 && !strstr(p->log, "{\"id\":1,"), "sweeps --limit 2: %s", p->log);
	free(p);

	/* Bad input: one line, exit 2, before anything is asked. */
	expect_usage(ARGS("device"), "device takes one address");
	expect_usage(ARGS("device", "198.19.0.300"), "bad address '198.19.0.300'");
	expect_usage(ARGS("device", "198.19.0.3", "--limit", "3"), "--limit is not an option of 'lnmt device'");
	expect_usage(ARGS("sweeps", "--limit", "0"), "bad --limit '0'");
	expect_usage(ARGS("sweeps", "198.19.0.3"), "sweeps takes no arguments");
	expect_usage(ARGS("sweeps", "-f", "xml"), "bad --format 'xml'");
}

/* ---- readers slower than the network ---- */

/* Sleeps a second, then parses every line as JSON; prints how many lines and distinct "ip"s it
 * read, and whether an {"event": "scan.done"} came (for lnmt watch, it stops there). */
static const char slow_reader_py[] =
	"import json, sys, time\n"
	"time.sleep(1)\n"
	"n = 0; ips = set(); done = 0\n"
	"for line in sys.stdin:\n"
	"    o = json.loads(line); n += 1\n"
	"    if 'ip' in o: ips.add(o['ip'])\n"
	"    if o.get('event') == 'scan.done':\n"
	"        done = 1; break\n"
	"print('lines %d ips %d done %d' % (n, len(ips), done), flush=True)\n";

/* bash -c 'set -o pipefail; "$@" | slow reader' bash ARGV... in the scanner namespace. */
static void start_slow_pipeline(struct lab_proc *p, char *const argv[])
{
	char *full[40] = { "ip", "netns", "exec", (char *)scan_ns(), "bash", "-c",
			   "set -o pipefail; \"$@\" | python3 -c \"$LNMT_SLOW_READER\"", "bash" };
	size_t n = 8;

	cr_assert_eq(setenv("LNMT_SLOW_READER", slow_reader_py, 1), 0);
	for (size_t i = 0; argv[i]; i++) {
		cr_assert_lt(n, 39);
		full[n++] = argv[i];
	}
	full[n] = NULL;
	lab_proc_start(p, full, LAB_PROC_STDOUT_STDERR);
}

/* A /16 through lnmtd into a reader that sleeps first: every device arrives. */
Test(client, slow_reader_scan_through_lnmtd)
{
	need_lab();
	start_lnmtd();
	struct lab_proc *p = malloc(sizeof(*p));
	cr_assert_not_null(p);
	lab_proc_init(p);
	start_slow_pipeline(p, (char *const[]){ (char *)need_env("LNMT_BIN"), "scan", "-P", "icmp", "198.19.0.0/16",
						"-f", "jsonl", "-q", NULL });
	int st = lab_proc_stop(p, 0, 60000);
	cr_log_info("lnmt scan through lnmtd | slow reader -> %d: %s", st, p->log);
	cr_assert_eq(st, 0, "exit %d: %s", st, p->log);
	cr_expect_not_null(strstr(p->log, "lines 65536 ips 65536"), "every device of the /16 should arrive: %s", p->log);
	free(p);
}

/* lnmt watch into a reader that sleeps first, while lnmtd sweeps a /16: the reader still gets
 * every event up to the sweep's scan.done, none dropped for the wait. */
Test(client, slow_reader_watch)
{
	need_lab();
	start_lnmtd();
	struct lab_proc *w = malloc(sizeof(*w));
	cr_assert_not_null(w);
	lab_proc_init(w);
	start_slow_pipeline(w, (char *const[]){ (char *)need_env("LNMT_BIN"), "watch", "-f", "jsonl", NULL });
	cr_assert(lab_proc_read_until(w, "lnmt: watching", EVENT_MS), "lnmt watch did not start: %s", w->log);
	struct lab_proc *s = malloc(sizeof(*s));
	cr_assert_not_null(s);
	lab_proc_init(s);
	lab_proc_start(s, (char *const[]){ "ip", "netns", "exec", (char *)scan_ns(), (char *)need_env("LNMT_BIN"), "scan",
					   "-P", "icmp", "198.19.0.0/16", "-q", NULL },
		       LAB_PROC_STDERR);
	int st = lab_proc_stop(s, 0, 60000);
	cr_assert_eq(st, 0, "the sweep through lnmtd: exit %d: %.500s", st, s->log);
	free(s);
	cr_assert(lab_proc_read_until(w, "done 1", EVENT_MS), "the slow watcher did not get scan.done: %s", w->log);
	lab_proc_stop(w, SIGTERM, 5000);
	cr_log_info("lnmt watch | slow reader: %s", w->log);
	free(w);
}

LAB_TESTS_MAIN();
