/* SPDX-License-Identifier: MIT */
/*
 * test_cli.c: the lnmt command line without a lab: usage errors, help, version, a dry run, and
 * the HTML report of a small store built here with the store API.
 */
#include "store.h"

#include <criterion/criterion.h>

#include "../lab_proc.h"
#include <criterion/logging.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * Every case here either fails while parsing its arguments or is a --dry-run, so nothing is
 * ever sent. As a second guard, a child run as root gets a fresh, empty network namespace
 * (only a down loopback) before exec: a regression that let a bad command line start a
 * sweep would find no route and no wire (LAB_RUN_EMPTY_NETNS). An unprivileged child cannot
 * open raw sockets.
 */

/* Runs the program $bin_env with args (NULL-terminated), stdin from /dev/null, capturing stdout
 * and stderr. */
static struct lab_run run_prog(const char *bin_env, const char *const args[])
{
	char *argv[32];
	size_t n = 0;

	argv[n++] = (char *)need_env(bin_env);
	for (size_t i = 0; args[i]; i++) {
		cr_assert_lt(n, sizeof(argv) / sizeof(argv[0]) - 1);
		argv[n++] = (char *)args[i];
	}
	argv[n] = NULL;
	return lab_capture(argv, LAB_RUN_EMPTY_NETNS);
}

static struct lab_run run_lnmt(const char *const args[])
{
	return run_prog("LNMT_BIN", args);
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; (s = strchr(s, '\n')); s++)
		n++;
	return n;
}

static void join_prog(const char *prog, const char *const args[], char *buf, size_t len)
{
	buf[0] = '\0';
	strncat(buf, prog, len - 1);
	for (size_t i = 0; args[i]; i++) {
		strncat(buf, " ", len - strlen(buf) - 1);
		strncat(buf, args[i], len - strlen(buf) - 1);
	}
}

static void join(const char *const args[], char *buf, size_t len)
{
	join_prog("lnmt", args, buf, len);
}

/*
 * A usage error of program prog ($bin_env): exit 2, nothing on stdout, exactly one line on
 * stderr that starts with "PROG: " and contains every string in `names` (what was wrong).
 */
static void expect_usage_error_of(const char *bin_env, const char *prog, const char *const args[],
				  const char *const names[])
{
	char cmd[256], prefix[32];
	struct lab_run r = run_prog(bin_env, args);

	join_prog(prog, args, cmd, sizeof(cmd));
	snprintf(prefix, sizeof(prefix), "%s: ", prog);
	cr_log_info("%s -> exit %d, stderr: %s", cmd, r.status, r.err);
	cr_expect_eq(r.status, 2, "'%s' exited %d, expected 2 (usage error); stderr: %s", cmd, r.status, r.err);
	cr_expect_eq(r.out_len, 0, "'%s' wrote to stdout on a usage error: %s", cmd, r.out);
	cr_expect_eq(count_lines(r.err), 1, "'%s' should print exactly one stderr line, got %zu: %s", cmd,
		     count_lines(r.err), r.err);
	cr_expect_eq(r.err_len ? r.err[r.err_len - 1] : 0, '\n', "'%s': stderr does not end in a newline: '%s'",
		     cmd, r.err);
	cr_expect_eq(strncmp(r.err, prefix, strlen(prefix)), 0, "'%s': stderr should start with '%s', got: '%s'", cmd,
		     prefix, r.err);
	for (size_t i = 0; names[i]; i++)
		cr_expect_not_null(strstr(r.err, names[i]), "'%s': stderr should name '%s', got: '%s'", cmd,
				   names[i], r.err);
	lab_run_free(&r);
}

/* A usage error of lnmt. */
static void expect_usage_error(const char *const args[], const char *const names[])
{
	expect_usage_error_of("LNMT_BIN", "lnmt", args, names);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

TestSuite(cli, .timeout = 30);

Test(cli, bad_octet)
{
	expect_usage_error(ARGS("scan", "198.18.0.300"), ARGS("bad target '198.18.0.300': octet out of range"));
}

Test(cli, no_targets)
{
	expect_usage_error(ARGS("scan"), ARGS("no targets"));
}

Test(cli, port_zero)
{
	expect_usage_error(ARGS("scan", "-p", "0", "198.18.0.1"), ARGS("port", "'0'"));
}

Test(cli, bad_rate)
{
	expect_usage_error(ARGS("scan", "--rate", "x", "198.18.0.1"), ARGS("--rate", "'x'"));
}

Test(cli, bad_shard)
{
	expect_usage_error(ARGS("scan", "--shard", "3/2", "198.18.0.1"), ARGS("--shard", "'3/2'"));
}

Test(cli, bad_probe)
{
	expect_usage_error(ARGS("scan", "--probe", "foo", "198.18.0.1"), ARGS("--probe", "'foo'"));
}

Test(cli, bad_wait)
{
	expect_usage_error(ARGS("scan", "--wait", "5parsecs", "198.18.0.1"), ARGS("--wait", "'5parsecs'"));
}

Test(cli, unknown_option)
{
	expect_usage_error(ARGS("scan", "--bogus"), ARGS("--bogus", "unknown option"));
}

Test(cli, missing_target_file)
{
	expect_usage_error(ARGS("scan", "@/nonexistent"), ARGS("/nonexistent"));
}

Test(cli, unknown_command)
{
	expect_usage_error(ARGS("frobnicate"), ARGS("unknown command", "'frobnicate'"));
}

Test(cli, version)
{
	struct lab_run r = run_lnmt(ARGS("--version"));
	cr_expect_eq(r.status, 0, "lnmt --version exited %d; stderr: %s", r.status, r.err);
	cr_expect_eq(strncmp(r.out, "lnmt ", 5), 0, "lnmt --version printed '%s', expected 'lnmt VERSION'", r.out);
	cr_expect_eq(count_lines(r.out), 1, "lnmt --version printed %zu lines: '%s'", count_lines(r.out), r.out);
	cr_expect_eq(r.err_len, 0, "lnmt --version wrote to stderr: %s", r.err);
	lab_run_free(&r);
}

static void expect_help(const char *const args[])
{
	char cmd[128];
	struct lab_run r = run_lnmt(args);

	join(args, cmd, sizeof(cmd));
	cr_expect_eq(r.status, 0, "'%s' exited %d; stderr: %s", cmd, r.status, r.err);
	cr_expect_not_null(strstr(r.out, "Examples"), "'%s' should show Examples on stdout, got: '%s'", cmd, r.out);
	cr_expect_eq(r.err_len, 0, "'%s' wrote to stderr: %s", cmd, r.err);
	lab_run_free(&r);
}

Test(cli, help)
{
	expect_help(ARGS("--help"));
}

Test(cli, scan_help)
{
	expect_help(ARGS("scan", "--help"));
}

/* Builds and counts all 65536 probes, sends none (tx null), so no reply and no result line. */
Test(cli, dry_run)
{
	struct lab_run r = run_lnmt(ARGS("scan", "--dry-run", "-i", "lo", "--source-ip", "198.18.0.1", "-P", "arp",
				     "198.18.0.0/16", "-f", "jsonl"));
	cr_log_info("dry run -> exit %d, stderr: %s", r.status, r.err);
	cr_expect_eq(r.status, 0, "dry run exited %d; stderr: %s", r.status, r.err);
	cr_expect_eq(r.out_len, 0, "dry run printed results: %s", r.out);
	cr_expect_eq(strncmp(r.err, "lnmt: ", 6), 0, "summary should start with 'lnmt: ', got: '%s'", r.err);
	cr_expect_not_null(strstr(r.err, "65536 targets"), "summary should count 65536 targets: '%s'", r.err);
	cr_expect_not_null(strstr(r.err, " 65536 probes sent"), "summary should say 65536 probes sent: '%s'", r.err);
	cr_expect_not_null(strstr(r.err, " 0 live"), "summary should say 0 live: '%s'", r.err);
	cr_expect_not_null(strstr(r.err, "tx null"), "summary should name the null sender: '%s'", r.err);
	cr_expect_eq(count_lines(r.err), 1, "expected one summary line, got %zu: '%s'", count_lines(r.err), r.err);
	lab_run_free(&r);
}

/* ---- lnmt report uptime --format html on a store made here (nothing is swept) ---- */

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

/*
 * Three hourly sweeps of 198.18.0.0/24 ending an hour ago: .1 and .2 always answer, .3 only
 * in the first one (so it ends down), .200 in the last two, and .100-.111 in the last one.
 * Vendors, from a small OUI list: .1 and .2 "Acme", .200 "Bolt & Nut", .100-.111 "Vendor 00"
 * to "Vendor 11", one each; .3 has no MAC (unknown). 15 vendors: the chart shows 9 and "6 others".
 */
static void make_store(const char *dir)
{
	char oui[128], err[512] = "";
	struct store_options opt = { .oui_path = oui };
	struct store *st = NULL;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	static const uint32_t answer[3][15] = {
		{ 1, 2, 3 }, { 1, 2, 200 }, { 1, 2, 200, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111 },
	};
	static const int n_answer[3] = { 3, 3, 15 };

	snprintf(oui, sizeof(oui), "%s/oui.txt", dir);
	FILE *f = fopen(oui, "w");
	cr_assert_not_null(f, "%s: %s", oui, strerror(errno));
	fputs("00-00-01   (hex)\t\tAcme\n00-00-02   (hex)\t\tBolt & Nut\n", f);
	for (int v = 0; v < 12; v++)
		fprintf(f, "00-00-%02X   (hex)\t\tVendor %02d\n", 0x10 + v, v);
	cr_assert_eq(fclose(f), 0);

	cr_assert_eq(store_open(&st, dir, &opt, err, sizeof(err)), 0, "store_open(%s): %s", dir, err);
	for (int s = 0; s < 3; s++) {
		uint64_t start = now - (uint64_t)(3 - s) * 3600000000ull;
		struct store_sweep info = { .start_us = start, .probes = STORE_PROBE_ICMP };
		struct store_range range = { 0xc6120000, 0xc61200ff };
		struct store_recorder *rec;
		snprintf(info.targets, sizeof(info.targets), "198.18.0.0/24");
		cr_assert_eq(store_recorder_open(st, &info, &range, 1, &rec, err, sizeof(err)), 0, "%s", err);
		for (int i = 0; i < n_answer[s]; i++) {
			uint32_t host = answer[s][i];
			struct store_result r = { .ip = 0xc6120000 | host, .probe = STORE_PROBE_ICMP,
						  .state = STORE_RESULT_UP, .rtt_us = 300, .time_us = start + 1000 };
			if (host != 3) {
				r.has_mac = true;
				r.mac[2] = host <= 2 ? 1 : host == 200 ? 2 : (uint8_t)(0x10 + host - 100);
				r.mac[5] = (uint8_t)host;
			}
			store_recorder_add(rec, &r);
		}
		struct store_sweep fin = info;
		fin.end_us = start + 1000000;
		fin.replies = (uint64_t)n_answer[s];
		fin.ended = STORE_END_ALL_ANSWERED; /* its silences are misses */
		cr_assert_eq(store_recorder_close(rec, &fin, NULL, err, sizeof(err)), 0, "%s", err);
	}
	store_close(st);
}

Test(cli, report_uptime_html)
{
	char dir[] = "/tmp/lnmt-cli-html-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	make_store(dir);

	struct lab_run r = run_lnmt(ARGS("report", "uptime", "--db", dir, "--since", "1d", "--format", "html"));
	cr_log_info("report uptime -f html -> exit %d, %zu bytes, stderr: %s", r.status, r.out_len, r.err);
	cr_expect_eq(r.status, 0, "exit %d; stderr: %s", r.status, r.err);
	cr_expect_eq(r.err_len, 0, "stderr: %s", r.err);
	cr_expect_eq(strncmp(r.out, "<!doctype html>\n", 16), 0, "starts: %.80s", r.out);
	cr_expect(r.out_len > 8 && !strcmp(r.out + r.out_len - 8, "</html>\n"), "a complete document: ...%s",
		  r.out_len > 40 ? r.out + r.out_len - 40 : r.out);
	cr_expect_not_null(strstr(r.out, "<svg"), "charts are inline SVG");
	cr_expect_not_null(strstr(r.out, "lnmt-chart-lines"), "the hourly chart");
	cr_expect_not_null(strstr(r.out, "<path class=\"series\""), "the hourly chart has a line");
	cr_expect_not_null(strstr(r.out, "<title>Uptime per hour, by /24</title>"), "the hourly chart, per /24");
	cr_expect_not_null(strstr(r.out, "lnmt-chart-bars"), "the per-/24 chart");
	cr_expect_not_null(strstr(r.out, ">198.18.0.0/24</text>"), "the /24 is labelled");
	/* the vendor chart: most devices first, "" as unknown, the 6 smallest in one bar */
	const char *vendors = strstr(r.out, "<title>Devices by vendor</title>");
	cr_assert_not_null(vendors, "the vendor chart");
	const char *acme = strstr(vendors, ">Acme</text>"), *unknown = strstr(vendors, ">unknown</text>"),
		   *bolt = strstr(vendors, ">Bolt &amp; Nut</text>"), *v5 = strstr(vendors, ">Vendor 05</text>"),
		   *others = strstr(vendors, ">6 others</text>");
	cr_expect(acme && unknown && bolt && v5 && others && acme < unknown && unknown < bolt && bolt < v5 &&
		  v5 < others, "vendor bars in order Acme, unknown, Bolt & Nut, ..., Vendor 05, 6 others");
	cr_expect_null(strstr(vendors, ">Vendor 06</text>"), "Vendor 06 is one of the 6 others");
	cr_expect_not_null(strstr(vendors, "the 9 of 15 MAC vendors"), "the note counts the vendors");
	cr_expect_null(strstr(r.out, "<script"));
	const char *a = strstr(r.out, ">198.18.0.1<"), *b = strstr(r.out, ">198.18.0.3<"),
		   *c = strstr(r.out, ">198.18.0.200<");
	cr_expect(a && b && c && a < b && b < c, "the table has every device in address order");
	size_t rows = 0;
	for (const char *p = r.out; (p = strstr(p, "<tr><td class=\"ip\">")); p++)
		rows++;
	cr_expect_eq(rows, 16, "16 devices, 16 table rows: got %zu", rows);
	cr_expect_not_null(strstr(r.out, "last 1d"), "the period is in the header");
	lab_run_free(&r);

	/* the other formats still refuse html, with a usage error */
	expect_usage_error(ARGS("report", "network", "--db", dir, "-f", "html"), ARGS("--format html", "report uptime"));
	expect_usage_error(ARGS("devices", "--db", dir, "--format", "html"), ARGS("--format html", "report uptime"));
	expect_usage_error(ARGS("sweeps", "--db", dir, "-f", "html"), ARGS("html"));
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

Test(cli, report_help)
{
	expect_help(ARGS("report", "--help"));
	struct lab_run r = run_lnmt(ARGS("report", "--help"));
	cr_expect_not_null(strstr(r.out, "lnmt report uptime --since 7d --format html > report.html"), "%s", r.out);
	lab_run_free(&r);
}

/* ---- input limits: abbreviated options, empty list items, large target sets, long lines ---- */

/* getopt_long would take a unique prefix: every program refuses it, naming the full option. */
Test(cli, abbreviated_long_options_are_unknown)
{
	expect_usage_error(ARGS("scan", "--rat", "5", "198.18.0.1"), ARGS("--rat: unknown option", "did you mean --rate or --rate-fixed?"));
	expect_usage_error(ARGS("scan", "--rat=5", "198.18.0.1"), ARGS("--rat: unknown option", "--rate"));
	expect_usage_error(ARGS("scan", "--allow", "198.18.0.1"), ARGS("--allow: unknown option", "--allow-large"));
	expect_usage_error(ARGS("scan", "--exclude-fil", "x", "198.18.0.1"), ARGS("--exclude-fil:", "--exclude-file"));
	expect_usage_error(ARGS("scan", "--dry", "198.18.0.1"), ARGS("--dry: unknown option", "--dry-run"));
	expect_usage_error(ARGS("devices", "--stat", "up"), ARGS("--stat: unknown option", "--state"));
	expect_usage_error(ARGS("device", "198.18.0.1", "--nam", "x"), ARGS("--nam: unknown option", "--name"));
	expect_usage_error(ARGS("report", "uptime", "--sinc", "1d"), ARGS("--sinc: unknown option", "--since"));
	expect_usage_error(ARGS("sweeps", "--lim", "3"), ARGS("--lim: unknown option", "--limit"));
	expect_usage_error(ARGS("status", "--sock", "/nonexistent"), ARGS("--sock: unknown option", "--socket"));
	expect_usage_error(ARGS("jobs", "add", "--ever", "5m", "198.18.0.0/24"), ARGS("--ever: unknown option", "--every"));
	expect_usage_error(ARGS("watch", "--topic", "scan"), ARGS("--topic: unknown option", "--topics"));
	/* Written in full they still work as before; the other option errors name the option. */
	expect_usage_error(ARGS("scan", "--rate", "x", "198.18.0.1"), ARGS("bad --rate 'x'"));
	expect_usage_error(ARGS("scan", "198.18.0.1", "--rate"), ARGS("--rate: option needs a value"));
	expect_usage_error(ARGS("scan", "--quiet=1", "198.18.0.1"), ARGS("--quiet: option takes no value"));
	expect_usage_error(ARGS("scan", "-qx", "198.18.0.1"), ARGS("-x: unknown option"));
}

Test(cli, abbreviated_long_options_are_unknown_to_lnmtd_and_lnmt_http)
{
	if (getenv("LNMTD_BIN")) {
		expect_usage_error_of("LNMTD_BIN", "lnmtd", ARGS("--foregroun"),
				      ARGS("--foregroun: unknown option", "did you mean --foreground?"));
		expect_usage_error_of("LNMTD_BIN", "lnmtd", ARGS("--conf", "/nonexistent"), ARGS("--conf:", "--config"));
		expect_usage_error_of("LNMTD_BIN", "lnmtd", ARGS("--socket-group"), ARGS("--socket-group: option needs a value"));
		expect_usage_error_of("LNMTD_BIN", "lnmtd", ARGS("--user="), ARGS("--user needs a user name"));
		/* A group that is not there is refused before anything is opened (the paths are never made). */
		expect_usage_error_of("LNMTD_BIN", "lnmtd",
				      ARGS("--foreground", "--socket", "/nonexistent/lnmtd.sock", "--db", "/nonexistent/db",
					   "--socket-group", "lnmt-no-such-group"),
				      ARGS("--socket-group lnmt-no-such-group: no such group"));
	} else {
		cr_log_warn("LNMTD_BIN is not set: lnmtd's options are not checked");
	}
	if (getenv("LNMT_HTTP_BIN")) {
		expect_usage_error_of("LNMT_HTTP_BIN", "lnmt-http", ARGS("--lis", "127.0.0.1:0"),
				      ARGS("--lis: unknown option", "did you mean --listen?"));
		expect_usage_error_of("LNMT_HTTP_BIN", "lnmt-http", ARGS("--time=5"), ARGS("--time:", "--timeout"));
		expect_usage_error_of("LNMT_HTTP_BIN", "lnmt-http", ARGS("--threads"), ARGS("--threads: option needs a value"));
		expect_usage_error_of("LNMT_HTTP_BIN", "lnmt-http", ARGS("--bogus"), ARGS("--bogus: unknown option"));
	} else {
		cr_log_warn("LNMT_HTTP_BIN is not set: lnmt-http's options are not checked");
	}
}

Test(cli, empty_list_items_are_errors)
{
	expect_usage_error(ARGS("scan", "-p", "5,,6", "198.18.0.1"), ARGS("bad port list '5,,6': empty item"));
	expect_usage_error(ARGS("scan", "-p", "5,", "198.18.0.1"), ARGS("bad port list '5,'", "empty item"));
	expect_usage_error(ARGS("scan", "--ports", ",5", "198.18.0.1"), ARGS("bad port list ',5'", "empty item"));
	expect_usage_error(ARGS("scan", "-P", "icmp,,arp", "198.18.0.1"), ARGS("bad --probe 'icmp,,arp'", "empty item"));
	expect_usage_error(ARGS("scan", "-P", "icmp,", "198.18.0.1"), ARGS("bad --probe 'icmp,'", "empty item"));
	expect_usage_error(ARGS("jobs", "add", "--every", "5m", "-P", "icmp,,syn", "198.18.0.0/24"),
			   ARGS("bad --probe 'icmp,,syn'", "empty item"));
	expect_usage_error(ARGS("jobs", "add", "--every", "5m", "-p", "22,", "198.18.0.0/24"),
			   ARGS("bad port list '22,'", "empty item"));
	expect_usage_error(ARGS("watch", "--topics", "scan,,device"), ARGS("bad --topics 'scan,,device'", "empty item"));
}

Test(cli, large_target_sets_need_allow_large)
{
	expect_usage_error(ARGS("scan", "0.0.0.0/0"),
			   ARGS("3741319168 addresses to sweep (all of 0.0.0.0/0's public space), more than 16777216",
				"--allow-large"));
	expect_usage_error(ARGS("scan", "198.0.0.0/7"), ARGS("33554432 addresses to sweep, more than 16777216",
							     "--allow-large"));
	expect_usage_error(ARGS("scan", "198.18.0.0/15", "10.0.0.0/8"), ARGS("16908288 addresses", "--allow-large"));
	expect_usage_error(ARGS("scan", "0.0.0.0/0", "--exclude", "1.0.0.0-198.17.255.255", "--exclude",
				"198.18.1.0-223.255.255.255"),
			   ARGS("all of 0.0.0.0/0's public space (256 addresses after exclusions)", "--allow-large"));
	/* --allow-large lets the set through: the next check (the ports, after it) is what refuses. */
	struct lab_run r = run_lnmt(ARGS("scan", "--allow-large", "-p", "0", "0.0.0.0/0"));
	cr_expect_eq(r.status, 2, "exit %d: %s", r.status, r.err);
	cr_expect(strstr(r.err, "bad port '0'") && !strstr(r.err, "allow-large"), "stderr: %s", r.err);
	lab_run_free(&r);

	/* Files count as specs do, and the excludes (files too) come off first. */
	char dir[] = "/tmp/lnmt-cli-large-XXXXXX", incl[64], excl[64], spec[80];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(incl, sizeof(incl), "%s/incl.txt", dir);
	snprintf(excl, sizeof(excl), "%s/excl.txt", dir);
	FILE *f = fopen(incl, "w");
	cr_assert_not_null(f);
	fputs("# the lab, and then some\n198.0.0.0/7\n", f);
	cr_assert_eq(fclose(f), 0);
	f = fopen(excl, "w");
	cr_assert_not_null(f);
	fputs("198.0.0.0-198.17.255.255\n198.19.0.0-199.255.255.255\n", f);
	cr_assert_eq(fclose(f), 0);
	snprintf(spec, sizeof(spec), "@%s", incl);
	expect_usage_error(ARGS("scan", spec), ARGS("33554432 addresses", "--allow-large"));
	r = run_lnmt(ARGS("scan", "--dry-run", "-i", "lo", "--source-ip", "198.18.0.1", "-P", "arp", spec,
			  "--exclude-file", excl, "-f", "jsonl"));
	cr_log_info("a /7 less all but the lab's 198.18.0.0/16 -> exit %d: %s", r.status, r.err);
	cr_expect_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	cr_expect_not_null(strstr(r.err, "65536 targets"), "stderr: %s", r.err);
	lab_run_free(&r);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* An @file line over 4096 bytes is refused at once, naming FILE:LINE (a 16 MiB one-line file
 * here; the peak RSS staying flat is checked in test_targets). */
Test(cli, long_target_file_line)
{
	char dir[] = "/tmp/lnmt-cli-long-XXXXXX", path[64], spec[80], want[128];
	static char chunk[1 << 20];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/hosts.txt", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("198.18.0.1\n198.18.0.2\n", f);
	memset(chunk, '9', sizeof(chunk));
	for (int i = 0; i < 16; i++)
		cr_assert_eq(fwrite(chunk, 1, sizeof(chunk), f), sizeof(chunk));
	cr_assert_eq(fclose(f), 0);
	snprintf(spec, sizeof(spec), "@%s", path);
	snprintf(want, sizeof(want), "%s:3: line longer than 4096 bytes", path);
	expect_usage_error(ARGS("scan", spec), ARGS(want));
	expect_usage_error(ARGS("scan", "198.18.0.0/24", "--exclude-file", path), ARGS("--exclude-file: ", want));
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
