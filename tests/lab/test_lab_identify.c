/* SPDX-License-Identifier: MIT */
/*
 * test_lab_identify.c: lnmt identify against the lab's real servers (tools/lab up --services),
 * row by row against `tools/lab truth --services`: every check the truth lists is found with its
 * fields, nothing else is reported (no false rows), the misbehaving servers give their errors,
 * the run ends by itself, and it works as nobody.
 *
 * Every run is `ip netns exec $LNMT_LAB-scan ...`: the scanner namespace has no route out of the
 * lab, every target is inside 198.19.0.0/16, and the DNS server is the lab's (its resolv.conf).
 */
#include <criterion/criterion.h>

#include "../lab_proc.h"
#include <criterion/logging.h>

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ROWS 40000
/* The /20 holds the three misbehaving servers (198.19.255.1-3). */
#define NET20 "198.19.240.0/20"

struct row {
	char key[64];       /* "IP PORT KIND" (port 0 for dns) */
	char fields[1024];  /* "k=v\tk=v" in the truth's order, or "error=..." */
	bool seen;
};

struct rows {
	struct row *v;
	size_t n;
};

static const char *lnmt_bin(void)
{
	return need_env("LNMT_BIN");
}

static const char *lab_script(void)
{
	return need_env("LNMT_LAB_SCRIPT");
}

static void need_lab(void)
{
	if (geteuid() != 0)
		cr_skip_test("lab tests need root (network namespaces); running as uid %u", (unsigned)geteuid());
	char *argv[] = { "ip", "netns", "list", NULL };
	struct lab_run r = lab_capture(argv, 0);
	int status = r.status;
	lab_run_free(&r);
	if (status != 0)
		cr_skip_test("'ip netns' is unavailable (exit %d)", status);
}

static void lab_services_up(void)
{
	need_lab();
	char *argv[] = { (char *)lab_script(), "up", "--services", NULL };
	struct lab_run r = lab_capture(argv, 0);
	if (r.status != 0 && strstr(r.err, "tools/setup --services"))
		cr_skip_test("the lab's servers are not installed: %s", r.err);
	cr_assert_eq(r.status, 0, "tools/lab up --services failed with exit %d: %s", r.status, r.err);
	lab_run_free(&r);
	cr_log_info("lab %s: up --services", env_or("LNMT_LAB", "lnmt"));
}

/* Back to the defaults (socat listeners, no servers) for the other lab tests. */
static void lab_restore(void)
{
	if (geteuid() != 0)
		return;
	char *argv[] = { (char *)lab_script(), "up", NULL };
	struct lab_run r = lab_capture(argv, 0);
	if (r.status != 0)
		cr_log_error("restoring the lab defaults (tools/lab up) failed with exit %d: %s", r.status, r.err);
	lab_run_free(&r);
}

TestSuite(lab_identify, .fini = lab_restore, .timeout = 240);

static void rows_add(struct rows *rs, const char *key, const char *fields)
{
	cr_assert_lt(rs->n, MAX_ROWS, "more than %d rows", MAX_ROWS);
	struct row *r = &rs->v[rs->n++];
	snprintf(r->key, sizeof(r->key), "%s", key);
	snprintf(r->fields, sizeof(r->fields), "%s", fields);
	r->seen = false;
}

static struct row *rows_find(struct rows *rs, const char *key)
{
	for (size_t i = 0; i < rs->n; i++)
		if (strcmp(rs->v[i].key, key) == 0)
			return &rs->v[i];
	return NULL;
}

static struct rows truth(const char *cidr)
{
	struct rows rs = { .v = calloc(MAX_ROWS, sizeof(struct row)) };
	char *argv[] = { (char *)lab_script(), "truth", "--services", (char *)cidr, NULL };
	struct lab_run r = lab_capture(argv, 0);

	cr_assert_not_null(rs.v);
	cr_assert_eq(r.status, 0, "tools/lab truth --services %s failed with exit %d: %s", cidr, r.status, r.err);
	for (char *save = NULL, *line = strtok_r(r.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char ip[32], port[8], kind[8], key[64];
		const char *f = line;
		int n = 0;
		cr_assert_eq(sscanf(line, "%31[^\t]\t%7[^\t]\t%7[^\t]\t%n", ip, port, kind, &n), 3, "truth line '%s'", line);
		f += n;
		snprintf(key, sizeof(key), "%s %s %s", ip, port, kind);
		rows_add(&rs, key, f);
	}
	lab_run_free(&r);
	return rs;
}

/* The value of "key": a string (escapes \" and \\ undone), a number, or an array of strings
 * (joined by spaces). false when the line has no such key. */
static bool json_get(const char *line, const char *key, char *out, size_t cap)
{
	char pat[64];
	size_t o = 0;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(line, pat);
	if (!p)
		return false;
	p += strlen(pat);
	bool array = *p == '[';
	if (array)
		p++;
	for (;;) {
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				if (o + 1 < cap)
					out[o++] = *p;
			}
			if (*p)
				p++;
		} else if (!array) {
			while (*p && *p != ',' && *p != '}' && o + 1 < cap)
				out[o++] = *p++;
		}
		if (!array || *p != ',')
			break;
		p++;
		if (o + 1 < cap)
			out[o++] = ' ';
	}
	out[o] = '\0';
	return true;
}

/* A row of lnmt identify as the truth writes it: "IP PORT KIND" and its fields. */
static void row_of(const char *line, char *key, size_t keylen, char *fields, size_t flen)
{
	char ip[32] = "", port[8] = "0", probe[8] = "", v[512];

	cr_assert(json_get(line, "ip", ip, sizeof(ip)) && json_get(line, "probe", probe, sizeof(probe)), "row '%s'", line);
	json_get(line, "port", port, sizeof(port));
	snprintf(key, keylen, "%s %s %s", ip, port, probe);
	fields[0] = '\0';
	if (json_get(line, "error", v, sizeof(v))) {
		snprintf(fields, flen, "error=%s", v);
		return;
	}
	static const struct { const char *kind, *json, *truth; } map[] = {
		{ "http", "http_status", "status" }, { "http", "http_server", "server" }, { "http", "http_title", "title" },
		{ "tls", "tls_subject", "subject" }, { "tls", "tls_issuer", "issuer" }, { "tls", "tls_sans", "sans" },
		{ "tls", "tls_not_after", "not_after" }, { "tls", "tls_version", "version" },
		{ "ssh", "ssh_banner", "banner" }, { "dns", "hostname", "hostname" },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(map[i].kind, probe) != 0)
			continue;
		if (!json_get(line, map[i].json, v, sizeof(v)))
			snprintf(v, sizeof(v), "(missing)");
		size_t n = strlen(fields);
		snprintf(fields + n, flen - n, "%s%s=%s", n ? "\t" : "", map[i].truth, v);
	}
}

/* Compares every row of out with the truth: same set of checks, same fields. */
static void compare(const char *what, const char *out, struct rows *t)
{
	size_t rows = 0, wrong = 0, extra = 0, missing = 0;
	char *copy = strdup(out);

	cr_assert_not_null(copy);
	for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char key[64], fields[1024];
		row_of(line, key, sizeof(key), fields, sizeof(fields));
		rows++;
		struct row *r = rows_find(t, key);
		if (!r) {
			if (extra++ < 5)
				cr_log_error("%s: a row the truth does not have: %s", what, line);
			continue;
		}
		cr_expect_not(r->seen, "%s: %s reported twice", what, key);
		r->seen = true;
		if (strcmp(r->fields, fields) != 0 && wrong++ < 5)
			cr_log_error("%s: %s: got '%s', the truth says '%s'", what, key, fields, r->fields);
	}
	for (size_t i = 0; i < t->n; i++)
		if (!t->v[i].seen && missing++ < 5)
			cr_log_error("%s: missing %s (%s)", what, t->v[i].key, t->v[i].fields);
	free(copy);
	cr_log_info("%s: %zu rows, truth %zu: %zu wrong, %zu extra, %zu missing", what, rows, t->n, wrong, extra, missing);
	cr_assert_gt(t->n, 0, "%s: the truth is empty: the test proves nothing", what);
	cr_expect_eq(wrong, 0, "%s: %zu rows with other fields than the truth's (first ones logged)", what, wrong);
	cr_expect_eq(extra, 0, "%s: %zu false rows", what, extra);
	cr_expect_eq(missing, 0, "%s: %zu checks of the truth not reported", what, missing);
}

/* Runs lnmt identify in the scanner namespace (as the uid and gid `user` when non-NULL) until it
 * exits; the run's own --deadline bounds it. Returns its stdout (caller frees; on failure its
 * stderr) and its exit status; its stderr (the summary) goes into the test's log. */
static char *identify(const char *user, int *status, const char *const args[])
{
	char *argv[48] = { "ip", "netns", "exec", (char *)scan_ns() };
	int n = 4;
	if (user) {
		argv[n++] = "setpriv";
		argv[n++] = "--reuid";
		argv[n++] = (char *)user;
		argv[n++] = "--regid";
		argv[n++] = (char *)user;
		argv[n++] = "--clear-groups";
		argv[n++] = "--";
	}
	argv[n++] = (char *)lnmt_bin();
	argv[n++] = "identify";
	for (; *args; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	struct lab_run r = lab_capture(argv, 0);
	*status = r.status;
	cr_log_info("%s(%.1f s)", r.err, r.secs);
	char *out = strdup(r.status ? r.err : r.out);
	lab_run_free(&r);
	cr_assert_not_null(out);
	return out;
}

Test(lab_identify, a_20_matches_the_truth)
{
	int status;

	lab_services_up();
	struct rows t = truth(NET20);
	const char *args[] = { NET20, "-f", "jsonl", "-c", "256", "--timeout", "3s", "--deadline", "120s", NULL };
	char *rows = identify(NULL, &status, args);
	cr_assert_eq(status, 0, "exit %d: %.2000s", status, rows);
	compare(NET20, rows, &t);
	free(rows);
	free(t.v);
}

Test(lab_identify, works_as_nobody)
{
	int status;

	lab_services_up();
	struct rows t = truth("198.19.255.0/28");
	const char *args[] = { "198.19.255.0/28", "-f", "jsonl", "--timeout", "2s", NULL };
	char *rows = identify("65534", &status, args); /* nobody, nogroup */
	cr_assert_eq(status, 0, "as nobody: exit %d: %.2000s", status, rows);
	compare("198.19.255.0/28 as nobody", rows, &t);
	/* The three misbehaving servers, by name. */
	cr_expect_not_null(strstr(rows, "{\"ip\":\"198.19.255.1\",\"port\":80,\"probe\":\"http\",\"error\":\"timeout\"}"));
	cr_expect_not_null(strstr(rows, "{\"ip\":\"198.19.255.2\",\"port\":443,\"probe\":\"tls\",\"error\":\"reset\"}"));
	cr_expect_not_null(strstr(rows, "{\"ip\":\"198.19.255.3\",\"port\":443,\"probe\":\"tls\","
					"\"error\":\"tls alert: handshake failure\"}"));
	free(rows);
	free(t.v);
}

Test(lab_identify, the_deadline_ends_a_run_on_silent_servers)
{
	int status;

	lab_services_up();
	/* Each check may wait 10 minutes, the run only 2 s: it must end with timeouts, by itself. */
	const char *args[] = { "198.19.255.1", "-p", "80,443", "--no-dns", "-f", "jsonl", "--timeout", "10m",
			       "--deadline", "2s", NULL };
	char *rows = identify(NULL, &status, args);
	cr_assert_eq(status, 0, "exit %d: %.2000s", status, rows);
	cr_expect_not_null(strstr(rows, "{\"ip\":\"198.19.255.1\",\"port\":80,\"probe\":\"http\",\"error\":\"timeout\"}"), "%s", rows);
	cr_expect_not_null(strstr(rows, "{\"ip\":\"198.19.255.1\",\"port\":443,\"probe\":\"tls\",\"error\":\"timeout\"}"), "%s", rows);
	free(rows);
}

Test(lab_identify, a_slow_reader_loses_no_check)
{
	static struct lab_proc p;
	char *argv[] = { "ip", "netns", "exec", (char *)scan_ns(), (char *)lnmt_bin(), "identify", NET20, "-p", "80",
			 "--no-dns", "-f", "jsonl", "-c", "512", "-q", NULL };

	lab_services_up();
	struct rows t = truth(NET20);
	size_t want = 0;
	for (size_t i = 0; i < t.n; i++)
		want += strstr(t.v[i].key, " 80 http") != NULL;
	lab_proc_start(&p, argv, LAB_PROC_STDOUT_STDERR);
	/* The reader is late: nothing is read for a second (the pipe fills, the output thread waits). */
	struct pollfd none = { .fd = -1 };
	poll(&none, 1, 1000);
	int status = lab_proc_wait(&p, 120000);
	cr_assert_eq(status, 0, "exit %d: %.2000s", status, p.log);
	size_t got = 0;
	for (const char *s = p.log; (s = strstr(s, "\"probe\":\"http\"")); s++)
		got++;
	cr_expect_eq(got, want, "%zu http rows behind a slow reader, the truth has %zu", got, want);
	free(t.v);
}

LAB_TESTS_MAIN();
