/* SPDX-License-Identifier: MIT */
/* test_lab_sweep.c: lnmt scan against the lab namespaces, recall and precision against the ground truth. */
#include <criterion/criterion.h>

#include "../lab_proc.h"
#include <criterion/logging.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * Every sweep here runs as `ip netns exec $LNMT_LAB-scan $LNMT_BIN scan ...`: the scanner
 * namespace has no route out of the lab, and every target is inside 198.18.0.0/15.
 * The tests share one lab whose config each of them sets, so main() below runs them one at a
 * time whatever -j says. LNMT_BIN and LNMT_LAB_SCRIPT come from tests/meson.build;
 * LNMT_LAB (the lab name, default "lnmt") passes through from the caller's environment.
 */

#define LAB_BASE 0xc6120000u /* 198.18.0.0: the truth bitmap covers the /15 */
#define LAB_SIZE (1u << 17)
#define MAX_ARGS 40
#define SHOW_MAX 5 /* example addresses quoted when a set comparison fails */

/* Ports the SYN tests probe: the lab opens 22 and 80 (of PORTS=22,80,443) and resets 81. */
#define SYN_PORTS "22,80,81"
#define LAB_PORTS "22,80,443"

struct hit {
	uint32_t ip;
	char probe[8];
	char state[8];
	char mac[20];
	int port; /* -1 when the line has none */
	int ttl;  /* -1 when the line has none */
};

struct hits {
	struct hit *v;
	size_t n;
	size_t bad_lines;      /* lines that are not one JSON object with an "ip" */
	char first_bad[160];
};

struct addr_set {
	uint8_t bits[LAB_SIZE / 8];
	size_t n;
	size_t outside; /* addresses outside 198.18.0.0/15 (never lab targets) */
	uint32_t outside_example;
};

/* Set by lab_up() when it applied something other than the defaults; fini puts them back. */
static bool lab_changed;

static const char *lnmt_bin(void)
{
	return need_env("LNMT_BIN");
}

static const char *lab_script(void)
{
	return need_env("LNMT_LAB_SCRIPT");
}

/* Skips (never passes) where the lab cannot exist: not root, or no `ip netns`. */
static void need_lab(void)
{
	if (geteuid() != 0)
		cr_skip_test("lab tests need root (network namespaces, raw sockets); running as uid %u",
			     (unsigned)geteuid());
	char *argv[] = { "ip", "netns", "list", NULL };
	struct lab_run r = lab_capture(argv, 0);
	int status = r.status;
	char why[200];
	snprintf(why, sizeof(why), "%s", r.err);
	lab_run_free(&r);
	if (status != 0)
		cr_skip_test("'ip netns' is unavailable (exit %d): %s", status, why);
}

static void lab_run(const char *what, char *const argv[])
{
	struct lab_run r = lab_capture(argv, 0);
	cr_assert_eq(r.status, 0, "tools/lab %s failed with exit %d: %s", what, r.status, r.err);
	lab_run_free(&r);
}

/* Brings the lab up with this config and the extra tools/lab up arguments (NULL-terminated, may
 * be NULL: --slow, --police); tools/lab up is idempotent and reconfigures in place. */
static void lab_up_with(unsigned alive, unsigned loss, unsigned seed, const char *const extra[])
{
	char a[16], l[16], s[16], shown[256] = "";
	snprintf(a, sizeof(a), "%u", alive);
	snprintf(l, sizeof(l), "%u", loss);
	snprintf(s, sizeof(s), "%u", seed);
	char *argv[MAX_ARGS] = { (char *)lab_script(), "up", "--alive", a, "--loss", l, "--seed", s,
				 "--ports", LAB_PORTS };
	size_t n = 10;
	for (size_t i = 0; extra && extra[i] && n < MAX_ARGS - 1; i++) {
		argv[n++] = (char *)extra[i];
		snprintf(shown + strlen(shown), sizeof(shown) - strlen(shown), " %s", extra[i]);
	}
	argv[n] = NULL;
	if (alive != 100 || loss != 0 || seed != 1 || (extra && extra[0]))
		lab_changed = true;
	lab_run("up", argv);
	cr_log_info("lab %s: up --alive %u --loss %u --seed %u --ports " LAB_PORTS "%s",
		    env_or("LNMT_LAB", "lnmt"), alive, loss, seed, shown);
}

static void lab_up(unsigned alive, unsigned loss, unsigned seed)
{
	lab_up_with(alive, loss, seed, NULL);
}

/* Leaves the lab at its defaults for whatever runs next. */
static void lab_restore(void)
{
	if (!lab_changed)
		return;
	lab_changed = false;
	char *argv[] = { (char *)lab_script(), "up", NULL };
	struct lab_run r = lab_capture(argv, 0);
	if (r.status != 0)
		cr_log_error("restoring the lab defaults (tools/lab up) failed with exit %d: %s",
			     r.status, r.err);
	lab_run_free(&r);
}

TestSuite(lab, .fini = lab_restore, .timeout = 90);

static bool set_has(const struct addr_set *s, uint32_t ip)
{
	uint32_t i = ip - LAB_BASE;
	return i < LAB_SIZE && (s->bits[i / 8] >> (i % 8) & 1);
}

static void set_add(struct addr_set *s, uint32_t ip)
{
	uint32_t i = ip - LAB_BASE;
	if (i >= LAB_SIZE) {
		if (!s->outside)
			s->outside_example = ip;
		s->outside++;
		return;
	}
	if (!(s->bits[i / 8] >> (i % 8) & 1)) {
		s->bits[i / 8] |= (uint8_t)(1u << (i % 8));
		s->n++;
	}
}

static bool parse_ip(const char *s, size_t len, uint32_t *ip)
{
	char buf[16];
	struct in_addr a;
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1)
		return false;
	*ip = ntohl(a.s_addr);
	return true;
}

static const char *fmt_ip(uint32_t ip, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
	return buf;
}

/* The alive addresses in cidr, from `tools/lab truth CIDR`. Caller frees. */
static struct addr_set *lab_truth(const char *cidr)
{
	struct addr_set *s = calloc(1, sizeof(*s));
	cr_assert_not_null(s);
	char *argv[] = { (char *)lab_script(), "truth", (char *)cidr, NULL };
	struct lab_run r = lab_capture(argv, 0);
	cr_assert_eq(r.status, 0, "tools/lab truth %s failed with exit %d: %s", cidr, r.status, r.err);
	for (const char *line = r.out; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		uint32_t ip;
		cr_assert(parse_ip(line, len, &ip), "tools/lab truth printed a line that is not an address: '%.*s'",
			  (int)len, line);
		set_add(s, ip);
		line += len + (nl ? 1 : 0);
	}
	lab_run_free(&r);
	cr_assert_eq(s->outside, 0, "tools/lab truth %s gave addresses outside 198.18.0.0/15", cidr);
	return s;
}

/* Copies the string value of "key":"..." in line[0..len) into out; false when absent. */
static bool json_str(const char *line, size_t len, const char *key, char *out, size_t outlen)
{
	char pat[32];
	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	const char *p = memmem(line, len, pat, strlen(pat));
	if (!p)
		return false;
	p += strlen(pat);
	const char *q = memchr(p, '"', (size_t)(line + len - p));
	if (!q || (size_t)(q - p) >= outlen)
		return false;
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = '\0';
	return true;
}

/* The number after "key": in line[0..len); -1 when absent. */
static int json_int(const char *line, size_t len, const char *key)
{
	char pat[32];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = memmem(line, len, pat, strlen(pat));
	if (!p)
		return -1;
	p += strlen(pat);
	if (p >= line + len || *p < '0' || *p > '9')
		return -2;
	return (int)strtol(p, NULL, 10);
}

static struct hits parse_jsonl(const char *out)
{
	struct hits h = { 0 };
	size_t cap = 0;

	for (const char *line = out; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		struct hit x = { .port = -1, .ttl = -1 };
		char ip[20];
		if (len < 2 || line[0] != '{' || line[len - 1] != '}' || !nl ||
		    !json_str(line, len, "ip", ip, sizeof(ip)) || !parse_ip(ip, strlen(ip), &x.ip)) {
			if (!h.bad_lines++)
				snprintf(h.first_bad, sizeof(h.first_bad), "%.*s", (int)(len < 150 ? len : 150), line);
		} else {
			json_str(line, len, "probe", x.probe, sizeof(x.probe));
			json_str(line, len, "state", x.state, sizeof(x.state));
			json_str(line, len, "mac", x.mac, sizeof(x.mac));
			x.port = json_int(line, len, "port");
			x.ttl = json_int(line, len, "ttl");
			if (h.n == cap) {
				cap = cap ? cap * 2 : 4096;
				h.v = realloc(h.v, cap * sizeof(*h.v));
				cr_assert_not_null(h.v);
			}
			h.v[h.n++] = x;
		}
		line += len + (nl ? 1 : 0);
	}
	return h;
}

/*
 * Runs one sweep in the scanner namespace: lnmt scan ARGS... -f jsonl [-q], checks the exit
 * code (and with -q that stderr stayed silent), and returns the parsed lines.
 */
static struct hits scan(struct lab_run *keep, bool quiet, const char *const args[])
{
	char *argv[MAX_ARGS];
	size_t n = 0;
	char cmd[512] = "";

	argv[n++] = "ip";
	argv[n++] = "netns";
	argv[n++] = "exec";
	argv[n++] = (char *)scan_ns();
	argv[n++] = (char *)lnmt_bin();
	argv[n++] = "scan";
	for (size_t i = 0; args[i]; i++) {
		cr_assert_lt(n, MAX_ARGS - 4);
		argv[n++] = (char *)args[i];
	}
	argv[n++] = "-f";
	argv[n++] = "jsonl";
	if (quiet)
		argv[n++] = "-q";
	argv[n] = NULL;
	strcat(cmd, "lnmt");
	for (size_t i = 5; i < n; i++) {
		strncat(cmd, " ", sizeof(cmd) - strlen(cmd) - 1);
		strncat(cmd, argv[i], sizeof(cmd) - strlen(cmd) - 1);
	}

	struct lab_run r = lab_capture(argv, 0);
	cr_log_info("%s -> exit %d in %.2f s, %zu bytes out", cmd, r.status, r.secs, r.out_len);
	cr_assert_eq(r.status, 0, "'%s' exited %d (expected 0); stderr: %s", cmd, r.status, r.err);
	if (quiet)
		cr_assert_eq(r.err_len, 0, "'%s' with -q wrote to stderr: %s", cmd, r.err);
	struct hits h = parse_jsonl(r.out);
	cr_assert_eq(h.bad_lines, 0, "'%s': %zu output lines are not JSON objects with an ip, first: '%s'",
		     cmd, h.bad_lines, h.first_bad);
	if (keep)
		*keep = r;
	else
		lab_run_free(&r);
	return h;
}

static int hit_cmp(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;
	if (x->ip != y->ip)
		return x->ip < y->ip ? -1 : 1;
	int c = strcmp(x->probe, y->probe);
	if (c)
		return c;
	return (x->port > y->port) - (x->port < y->port);
}

/* Each (ip, probe, port) at most once; sorts h. */
static void check_no_duplicates(struct hits *h, const char *what)
{
	size_t dups = 0, first = 0;
	char ip[16];

	qsort(h->v, h->n, sizeof(*h->v), hit_cmp);
	for (size_t i = 1; i < h->n; i++) {
		if (hit_cmp(&h->v[i - 1], &h->v[i]) == 0 && !dups++)
			first = i;
	}
	cr_assert_eq(dups, 0, "%s: %zu duplicate lines, first: %s %s port %d", what, dups,
		     dups ? fmt_ip(h->v[first].ip, ip) : "", dups ? h->v[first].probe : "",
		     dups ? h->v[first].port : 0);
}

struct score {
	size_t truth, found, both;
	double recall, precision; /* percent */
};

/* Compares the distinct addresses that answered probe `probe` with the truth. */
static struct score score_probe(const struct hits *h, const char *probe, const struct addr_set *truth,
				const char *what)
{
	struct addr_set *found = calloc(1, sizeof(*found));
	struct score s = { .truth = truth->n };
	char missing[SHOW_MAX * 17 + 1] = "", extra[SHOW_MAX * 17 + 1] = "", ip[16];
	size_t n_missing = 0, n_extra = 0;

	cr_assert_not_null(found);
	for (size_t i = 0; i < h->n; i++) {
		if (strcmp(h->v[i].probe, probe) == 0)
			set_add(found, h->v[i].ip);
	}
	s.found = found->n + found->outside;
	for (uint32_t i = 0; i < LAB_SIZE; i++) {
		bool f = set_has(found, LAB_BASE + i), t = set_has(truth, LAB_BASE + i);
		s.both += f && t;
		if (t && !f && n_missing++ < SHOW_MAX)
			strcat(strcat(missing, " "), fmt_ip(LAB_BASE + i, ip));
		if (f && !t && n_extra++ < SHOW_MAX)
			strcat(strcat(extra, " "), fmt_ip(LAB_BASE + i, ip));
	}
	if (found->outside && n_extra++ < SHOW_MAX)
		strcat(strcat(extra, " "), fmt_ip(found->outside_example, ip));
	n_extra += found->outside ? found->outside - 1 : 0;
	s.recall = s.truth ? 100.0 * s.both / s.truth : 100.0;
	s.precision = s.found ? 100.0 * s.both / s.found : 100.0;
	cr_log_info("%s: recall %.3f%% (%zu of %zu alive found), precision %.3f%% (%zu of %zu found alive)",
		    what, s.recall, s.both, s.truth, s.precision, s.both, s.found);
	if (n_missing)
		cr_log_info("%s: %zu alive not found, e.g.%s", what, n_missing, missing);
	if (n_extra)
		cr_log_info("%s: %zu found but not alive, e.g.%s", what, n_extra, extra);
	free(found);
	return s;
}

static void expect_exact(const struct score *s, const char *what)
{
	cr_expect_eq(s->both, s->truth, "%s: recall %.3f%% (%zu of %zu alive found), expected 100%%", what,
		     s->recall, s->both, s->truth);
	cr_expect_eq(s->both, s->found, "%s: precision %.3f%% (%zu of %zu found are alive), expected 100%%",
		     what, s->precision, s->both, s->found);
	cr_assert_gt(s->truth, 0, "%s: the lab has no alive targets here, the test proves nothing", what);
}

/* Every line: this probe, state "up", and for ICMP ttl 64 (lab hosts are Linux), for ARP a MAC. */
static void check_up_lines(const struct hits *h, const char *probe)
{
	size_t bad = 0;
	char ip[16], first[200] = "";

	for (size_t i = 0; i < h->n; i++) {
		const struct hit *x = &h->v[i];
		bool ok = strcmp(x->probe, probe) == 0 && strcmp(x->state, "up") == 0 && x->port == -1;
		if (strcmp(probe, "icmp") == 0)
			ok = ok && x->ttl == 64;
		else
			ok = ok && strlen(x->mac) == 17 && x->mac[2] == ':' && x->mac[14] == ':';
		if (!ok && !bad++)
			snprintf(first, sizeof(first), "ip %s probe '%s' state '%s' port %d ttl %d mac '%s'",
				 fmt_ip(x->ip, ip), x->probe, x->state, x->port, x->ttl, x->mac);
	}
	cr_expect_eq(bad, 0, "%zu of %zu lines are not %s/up%s, first: %s", bad, h->n, probe,
		     strcmp(probe, "icmp") == 0 ? " with ttl 64" : " with a mac", first);
}

static void sweep_up(const char *probe, const char *cidr, const char *const extra[], double min_recall,
		     bool exact)
{
	const char *args[MAX_ARGS] = { "-P", probe };
	size_t n = 2;
	char what[96];

	for (size_t i = 0; extra && extra[i]; i++)
		args[n++] = extra[i];
	args[n++] = cidr;
	args[n] = NULL;
	snprintf(what, sizeof(what), "%s sweep of %s", probe, cidr);

	struct addr_set *truth = lab_truth(cidr);
	struct hits h = scan(NULL, true, args);
	check_no_duplicates(&h, what);
	check_up_lines(&h, probe);
	struct score s = score_probe(&h, probe, truth, what);
	if (exact) {
		expect_exact(&s, what);
	} else {
		cr_expect_geq(s.recall, min_recall, "%s: recall %.3f%% (%zu of %zu), expected >= %.1f%%", what,
			      s.recall, s.both, s.truth, min_recall);
		cr_expect_eq(s.both, s.found, "%s: precision %.3f%% (%zu of %zu found are alive), expected 100%%",
			     what, s.precision, s.both, s.found);
	}
	free(h.v);
	free(truth);
}

/*
 * SYN sweep on SYN_PORTS: every alive host answers 22 open, 80 open, 81 closed, exactly once
 * each; nothing else appears (no other port or state, no dead host).
 */
static void sweep_syn(const char *cidr, const char *const extra[])
{
	static const struct { int port; const char *state; } want[] = {
		{ 22, "open" }, { 80, "open" }, { 81, "closed" },
	};
	const char *args[MAX_ARGS] = { "-p", SYN_PORTS };
	size_t n = 2, unexpected = 0, incomplete = 0, complete = 0;
	char what[96], ip[16], first_bad[200] = "", first_incomplete[64] = "";

	for (size_t i = 0; extra && extra[i]; i++)
		args[n++] = extra[i];
	args[n++] = cidr;
	args[n] = NULL;
	snprintf(what, sizeof(what), "syn sweep of %s on ports " SYN_PORTS, cidr);

	struct addr_set *truth = lab_truth(cidr);
	struct hits h = scan(NULL, true, args);
	check_no_duplicates(&h, what); /* sorted by ip, then port */
	struct score s = score_probe(&h, "syn", truth, what);
	expect_exact(&s, what);

	for (size_t i = 0; i < h.n;) {
		uint32_t host = h.v[i].ip;
		unsigned seen = 0;
		for (; i < h.n && h.v[i].ip == host; i++) {
			const struct hit *x = &h.v[i];
			bool known = false;
			for (unsigned k = 0; k < 3; k++) {
				if (strcmp(x->probe, "syn") == 0 && x->port == want[k].port &&
				    strcmp(x->state, want[k].state) == 0 && x->ttl == 64) {
					seen |= 1u << k;
					known = true;
				}
			}
			if (!known && !unexpected++)
				snprintf(first_bad, sizeof(first_bad), "ip %s probe '%s' port %d state '%s' ttl %d",
					 fmt_ip(x->ip, ip), x->probe, x->port, x->state, x->ttl);
		}
		if (seen == 7)
			complete++;
		else if (!incomplete++)
			snprintf(first_incomplete, sizeof(first_incomplete), "%s (has mask %#x of 0x7)",
				 fmt_ip(host, ip), seen);
	}
	cr_log_info("%s: %zu hosts with 22 open, 80 open, 81 closed; %zu incomplete; %zu unexpected lines",
		    what, complete, incomplete, unexpected);
	cr_expect_eq(unexpected, 0, "%s: %zu lines other than 22/open, 80/open, 81/closed with ttl 64, first: %s",
		     what, unexpected, first_bad);
	cr_expect_eq(incomplete, 0, "%s: %zu hosts lack one of 22/open, 80/open, 81/closed, first: %s", what,
		     incomplete, first_incomplete);
	cr_expect_eq(complete, truth->n, "%s: %zu hosts complete, %zu alive", what, complete, truth->n);
	free(h.v);
	free(truth);
}

/* ---------------------------------------------------------------- all targets alive */

Test(lab, icmp_all_alive)
{
	need_lab();
	lab_up(100, 0, 1);
	sweep_up("icmp", "198.19.0.0/16", NULL, 100, true);
}

Test(lab, arp_all_alive)
{
	need_lab();
	lab_up(100, 0, 1);
	sweep_up("arp", "198.18.128.0/17", NULL, 100, true);
}

Test(lab, syn_all_alive)
{
	need_lab();
	lab_up(100, 0, 1);
	sweep_syn("198.19.0.0/20", NULL);
}

/* ---------------------------------------------------------------- sparse: dead hosts stay out */

/* Default options: the sweep ends once the network went quiet, and misses nobody doing so. */
Test(lab, subset_icmp)
{
	need_lab();
	lab_up(50, 0, 3);
	sweep_up("icmp", "198.19.0.0/16", NULL, 100, true);
}

Test(lab, subset_arp)
{
	need_lab();
	lab_up(50, 0, 3);
	sweep_up("arp", "198.18.128.0/17", NULL, 100, true);
}

Test(lab, subset_syn)
{
	need_lab();
	lab_up(50, 0, 3);
	sweep_syn("198.19.0.0/20", NULL);
}

/* A tenth alive, the shape of a real network. */
Test(lab, sparse_icmp)
{
	need_lab();
	lab_up(10, 0, 3);
	sweep_up("icmp", "198.19.0.0/16", NULL, 100, true);
}

Test(lab, sparse_arp)
{
	need_lab();
	lab_up(10, 0, 3);
	sweep_up("arp", "198.18.128.0/17", NULL, 100, true);
}

/* ---------------------------------------------------------------- slow hosts and policers */

/* "lnmt: N targets, N probes sent, ..." of a summary; 0 when absent. */
static unsigned long long probes_sent(const char *err)
{
	unsigned long long t, n;
	for (const char *line = err; *line;) {
		if (sscanf(line, "lnmt: %llu targets, %llu probes sent", &t, &n) == 2)
			return n;
		const char *nl = strchr(line, '\n');
		line = nl ? nl + 1 : line + strlen(line);
	}
	return 0;
}

/*
 * PROBE sweep of CIDR with default options (and -p 80 for syn) on the lab as it is: recall at
 * least min_recall (100: exact), precision exact; returns the run (stderr kept) for more checks.
 */
static struct lab_run sweep_default(const char *probe, const char *cidr, double min_recall)
{
	const char *args[] = { "-P", probe, strcmp(probe, "syn") == 0 ? "-p" : cidr, "80", cidr, NULL };
	char what[96];
	struct lab_run r;

	if (strcmp(probe, "syn") != 0)
		args[3] = NULL;
	snprintf(what, sizeof(what), "%s sweep of %s", probe, cidr);
	struct addr_set *truth = lab_truth(cidr);
	struct hits h = scan(&r, false, args);
	cr_log_info("%s: %s", what, r.err);
	check_no_duplicates(&h, what);
	struct score sc = score_probe(&h, probe, truth, what);
	if (min_recall >= 100)
		expect_exact(&sc, what);
	else
		cr_expect_geq(sc.recall, min_recall, "%s: recall %.4f%% (%zu of %zu), expected >= %.4f%%", what,
			      sc.recall, sc.both, sc.truth, min_recall);
	cr_expect_eq(sc.both, sc.found, "%s: precision %.3f%% (%zu of %zu found are alive)", what, sc.precision,
		     sc.both, sc.found);
	free(h.v);
	free(truth);
	return r;
}

/* The full lab with one /24 answering ICMP 250-350 ms late, the rest within a millisecond: the
 * slow /24 is found with default options (the sweep listens for the silent few of a dense
 * network instead of ending 10 ms after the fast replies stopped). The /20 is sent in a few ms
 * on any machine, so it ends long before the first slow reply unless that rule holds. */
Test(lab, slow_hosts_icmp)
{
	static const char *const slow[] = { "--slow", "198.19.7.0/24:250-350", NULL };
	need_lab();
	lab_up_with(100, 0, 1, slow);
	struct lab_run r = sweep_default("icmp", "198.19.0.0/20", 100);
	lab_run_free(&r);
	r = sweep_default("icmp", "198.19.0.0/16", 100);
	lab_run_free(&r);
}

/* A 20,000 pps policer on the targets' ICMP and TCP input: default options find everything,
 * and the summary says the sweep slowed down for the path. */
static void policed(const char *probe)
{
	static const char *const police[] = { "--police", "20000", NULL };
	need_lab();
	lab_up_with(100, 0, 1, police);
	struct lab_run r = sweep_default(probe, "198.19.0.0/16", 100);
	cr_expect_not_null(strstr(r.err, "\nlnmt: rate: "), "the summary should say the rate was adapted: %s", r.err);
	lab_run_free(&r);
}

Test(lab, policed_icmp, .timeout = 120)
{
	policed("icmp");
}

Test(lab, policed_syn, .timeout = 120)
{
	policed("syn");
}

/* ---------------------------------------------------------------- 5% loss, healed by retries */

/*
 * Default options at 5% loss: the retries go on until less than half a live host is expected to
 * be missed, so a /16 misses about one host in two sweeps (the bar is a median of at most one;
 * one run is allowed 4, which a correct rule exceeds about once in ten thousand runs), with at
 * most 1.10 times the probes of one pass.
 */
static void lossy(const char *probe, const char *cidr, unsigned long long one_pass)
{
	need_lab();
	lab_up(100, 5, 1);
	struct lab_run r = sweep_default(probe, cidr, 100.0 * (double)(one_pass - 4) / (double)one_pass);
	unsigned long long sent = probes_sent(r.err);
	cr_expect(sent >= one_pass && (double)sent <= 1.10 * (double)one_pass,
		  "%s: %llu probes for %llu targets, expected at most 1.10x: %s", probe, sent, one_pass, r.err);
	lab_run_free(&r);
}

Test(lab, loss_icmp)
{
	lossy("icmp", "198.19.0.0/16", 65536);
}

Test(lab, loss_arp)
{
	lossy("arp", "198.18.128.0/17", 32768);
}

Test(lab, loss_syn)
{
	lossy("syn", "198.19.0.0/16", 65536);
}

/* ---------------------------------------------------------------- the store */

/* A fresh store directory for one test. */
static char *store_dir(void)
{
	char *dir = strdup("/tmp/lnmt-labstore-XXXXXX");
	cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	return dir;
}

static void remove_store(char *dir)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
	free(dir);
}

/* Runs `lnmt ARGS... --db DIR` (a query: no namespace needed) and checks its exit code. */
static struct lab_run lnmt_query(const char *dir, int want_status, const char *const args[])
{
	char *argv[MAX_ARGS];
	size_t n = 0;

	argv[n++] = (char *)lnmt_bin();
	for (size_t i = 0; args[i]; i++)
		argv[n++] = (char *)args[i];
	argv[n++] = "--db";
	argv[n++] = (char *)dir;
	argv[n] = NULL;
	struct lab_run r = lab_capture(argv, 0);
	cr_assert_eq(r.status, want_status, "lnmt %s %s --db %s exited %d (expected %d); stderr: %s", args[0],
		     args[1] ? args[1] : "", dir, r.status, want_status, r.err);
	return r;
}

/* The devices the store holds in cidr, split by state. */
static void stored_devices(const char *dir, const char *cidr, struct addr_set **up, struct addr_set **down)
{
	const char *args[] = { "devices", "--subnet", cidr, "-f", "jsonl", NULL };
	struct lab_run r = lnmt_query(dir, 0, args);
	struct hits h = parse_jsonl(r.out);
	cr_assert_eq(h.bad_lines, 0, "lnmt devices: bad line '%s'", h.first_bad);
	*up = calloc(1, sizeof(**up));
	*down = calloc(1, sizeof(**down));
	cr_assert(*up && *down);
	for (size_t i = 0; i < h.n; i++) {
		cr_assert(!strcmp(h.v[i].state, "up") || !strcmp(h.v[i].state, "down"),
			  "device state '%s' is neither up nor down", h.v[i].state);
		set_add(!strcmp(h.v[i].state, "up") ? *up : *down, h.v[i].ip);
	}
	free(h.v);
	lab_run_free(&r);
}

/* a == b as sets of lab addresses, naming a few differences when not. */
static void expect_same_set(const struct addr_set *got, const struct addr_set *want, const char *what)
{
	size_t missing = 0, extra = 0;
	char ip[16], first[64] = "";

	for (uint32_t i = 0; i < LAB_SIZE; i++) {
		uint32_t a = LAB_BASE + i;
		bool g = set_has(got, a), w = set_has(want, a);
		if (g != w && !missing && !extra)
			snprintf(first, sizeof(first), "%s %s", fmt_ip(a, ip), g ? "extra" : "missing");
		missing += w && !g;
		extra += g && !w;
	}
	cr_expect(missing == 0 && extra == 0, "%s: %zu missing, %zu extra (first: %s)", what, missing, extra, first);
}

/* Addresses in a but not in b. */
static struct addr_set *set_minus(const struct addr_set *a, const struct addr_set *b)
{
	struct addr_set *d = calloc(1, sizeof(*d));
	cr_assert_not_null(d);
	for (uint32_t i = 0; i < LAB_SIZE; i++)
		if (set_has(a, LAB_BASE + i) && !set_has(b, LAB_BASE + i))
			set_add(d, LAB_BASE + i);
	return d;
}

/*
 * What the store holds follows the lab: after one sweep every alive host is an up device and
 * nothing else is stored; when the alive subset changes, hosts that died stay up after one
 * missed sweep (no flapping) and are down after two, new hosts appear up.
 */
Test(lab, store_follows_truth)
{
	const char *cidr = "198.19.0.0/22";
	char *dir = store_dir();
	const char *sweep[] = { "-P", "icmp", "-w", "200ms", "--db", dir, cidr, NULL };
	struct addr_set *up, *down;

	need_lab();
	lab_up(50, 0, 5);
	/* Devices of another range, found first, must never be counted as missed by sweeps that
	 * do not cover them (a miss walk that started below its range once marked them down). */
	const char *other = "198.18.128.0/24";
	const char *arp_sweep[] = { "-P", "arp", "-w", "200ms", "--db", dir, other, NULL };
	free(scan(NULL, true, arp_sweep).v);
	struct addr_set *other_alive = lab_truth(other);
	struct addr_set *before = lab_truth(cidr);
	free(scan(NULL, true, sweep).v);
	stored_devices(dir, cidr, &up, &down);
	expect_same_set(up, before, "devices up after the first sweep vs the lab's alive hosts");
	cr_expect_eq(down->n, 0, "%zu devices down after one sweep, expected none", down->n);
	free(up);
	free(down);

	lab_up(50, 0, 6);
	struct addr_set *after = lab_truth(cidr);
	struct addr_set *died = set_minus(before, after);
	struct addr_set *kept_or_new = calloc(1, sizeof(*kept_or_new));
	cr_assert_not_null(kept_or_new);
	for (uint32_t i = 0; i < LAB_SIZE; i++)
		if (set_has(before, LAB_BASE + i) || set_has(after, LAB_BASE + i))
			set_add(kept_or_new, LAB_BASE + i);
	free(scan(NULL, true, sweep).v);
	stored_devices(dir, cidr, &up, &down);
	struct addr_set *appeared = set_minus(after, before);
	cr_log_info("store: %zu hosts died, %zu appeared", died->n, appeared->n);
	free(appeared);
	expect_same_set(up, kept_or_new, "after one missed sweep, died hosts must still be up (no flapping)");
	cr_expect_eq(down->n, 0, "%zu devices down after a single missed sweep", down->n);
	free(up);
	free(down);

	free(scan(NULL, true, sweep).v);
	stored_devices(dir, cidr, &up, &down);
	expect_same_set(up, after, "after two missed sweeps: up devices vs the lab's alive hosts");
	expect_same_set(down, died, "after two missed sweeps: down devices vs the hosts that died");
	free(up);
	free(down);
	stored_devices(dir, other, &up, &down);
	expect_same_set(up, other_alive, "devices of a range the later sweeps did not cover must stay up");
	cr_expect_eq(down->n, 0, "%zu devices outside the swept range went down", down->n);
	free(up);
	free(down);
	free(other_alive);

	const char *check[] = { "db", "check", NULL };
	struct lab_run r = lnmt_query(dir, 0, check);
	lab_run_free(&r);
	const char *sweeps[] = { "sweeps", "-f", "jsonl", NULL };
	r = lnmt_query(dir, 0, sweeps);
	size_t lines = 0;
	for (const char *p = r.out; *p; p++)
		lines += *p == '\n';
	cr_expect_eq(lines, 4, "lnmt sweeps lists %zu sweeps, expected 4: %s", lines, r.out);
	lab_run_free(&r);
	free(before);
	free(after);
	free(died);
	free(kept_or_new);
	remove_store(dir);
}

/*
 * kill -9 while a sweep's results are being written: the sweeps before it stay intact, the
 * store opens cleanly and checks out, and the next sweep works. The kill happens once the
 * sweep has printed 2000 results, i.e. while its writer is busy (rate-limited so it lasts).
 */
Test(lab, store_survives_kill_9)
{
	char *dir = store_dir();
	const char *first[] = { "-P", "icmp", "--db", dir, "198.19.0.0/24", NULL };

	need_lab();
	lab_up(100, 0, 1);
	free(scan(NULL, true, first).v);

	int out[2];
	cr_assert_eq(pipe(out), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		execlp("ip", "ip", "netns", "exec", scan_ns(), lnmt_bin(), "scan", "-P", "icmp", "--rate", "20000",
		       "--db", dir, "-f", "jsonl", "-q", "198.19.0.0/16", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	size_t lines = 0;
	char buf[65536];
	ssize_t n;
	while (lines < 2000 && (n = read(out[0], buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
	kill(pid, SIGKILL);
	int st;
	waitpid(pid, &st, 0);
	close(out[0]);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the second sweep ended before the kill (%zu lines)",
		  lines);
	cr_log_info("killed the second sweep after %zu results", lines);

	const char *check[] = { "db", "check", NULL };
	struct lab_run r = lnmt_query(dir, 0, check);
	lab_run_free(&r);
	struct addr_set *up, *down, *truth = lab_truth("198.19.0.0/24");
	stored_devices(dir, "198.19.0.0/24", &up, &down);
	expect_same_set(up, truth, "the first sweep's devices after kill -9 of the second");
	const char *sweeps[] = { "sweeps", "-f", "jsonl", NULL };
	r = lnmt_query(dir, 0, sweeps);
	cr_expect(strstr(r.out, "\"id\":1,") && strstr(r.out, "\"complete\":true"),
		  "sweep 1 is not intact and complete after the kill: %s", r.out);
	lab_run_free(&r);
	free(scan(NULL, true, first).v); /* the store takes writes again */
	free(up);
	free(down);
	free(truth);
	remove_store(dir);
}

/*
 * Ctrl-C part-way through a sweep: the devices it never reached did not miss anything. Every lab
 * host is alive, so after the interrupted /16 no device may show a miss (each probed one
 * answered; an unprobed one must be left alone).
 */
Test(lab, store_interrupted_sweep_records_no_misses)
{
	char *dir = store_dir();
	const char *first[] = { "-P", "icmp", "--db", dir, "198.19.0.0/20", NULL };

	need_lab();
	lab_up(100, 0, 1);
	free(scan(NULL, true, first).v);

	int out[2];
	cr_assert_eq(pipe(out), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		execlp("ip", "ip", "netns", "exec", scan_ns(), lnmt_bin(), "scan", "-P", "icmp", "--rate", "20000",
		       "--db", dir, "-f", "jsonl", "-q", "198.19.0.0/16", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	size_t lines = 0;
	char buf[65536];
	ssize_t n;
	bool sent = false;
	/* Interrupt after 2000 results, then read to the end: lnmt drains, stores, exits 130. */
	while ((n = read(out[0], buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
		if (!sent && lines >= 2000) {
			kill(pid, SIGINT);
			sent = true;
		}
	}
	int st;
	waitpid(pid, &st, 0);
	close(out[0]);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 130, "the interrupted sweep should exit 130, got status %#x", st);
	cr_log_info("interrupted after %zu results", lines);

	const char *devices[] = { "devices", "-f", "jsonl", NULL };
	struct lab_run r = lnmt_query(dir, 0, devices);
	size_t missed = 0, total = 0;
	for (const char *p = r.out; (p = strstr(p, "\"missed\":")); p += 9) {
		total++;
		missed += p[9] != '0';
	}
	cr_expect_gt(total, 4095, "%zu devices stored, expected at least the 4096 of the first sweep", total);
	cr_expect_eq(missed, 0, "%zu of %zu devices show a miss after an interrupted sweep of all-alive hosts",
		     missed, total);
	lab_run_free(&r);
	remove_store(dir);
}

/*
 * A full disk: the sweep still prints every result, says what was not stored, exits non-zero,
 * and the store keeps what it had. The store sits on a 1 MiB tmpfs in a private mount
 * namespace, far too small for a /16.
 */
Test(lab, store_full_disk)
{
	char *dir = store_dir();
	char script[1024];

	need_lab();
	lab_up(100, 0, 1);
	snprintf(script, sizeof(script),
		 "mount -t tmpfs -o size=1m lnmt-full '%s' && exec ip netns exec '%s' '%s' scan -P icmp "
		 "--db '%s' -f jsonl -q 198.19.0.0/16", dir, scan_ns(), lnmt_bin(), dir);
	char *argv[] = { "unshare", "-m", "sh", "-c", script, NULL };
	struct lab_run r = lab_capture(argv, 0);
	struct hits h = parse_jsonl(r.out);
	cr_log_info("full disk: exit %d, %zu results printed, stderr: %s", r.status, h.n, r.err);
	cr_expect_eq(h.n, 65536, "results printed with a full store: %zu, expected 65536", h.n);
	cr_expect_neq(r.status, 0, "a sweep whose results could not all be stored exited 0");
	cr_expect(strstr(r.err, "not everything was stored") != NULL,
		  "stderr does not say what was not stored: %s", r.err);
	free(h.v);
	lab_run_free(&r);
	remove_store(dir);
}

/* ---------------------------------------------------------------- duplicates, exit code, summary */

/*
 * Two probe types in one sweep, retries, and --wait-fixed so the sweep runs its whole wait:
 * long enough for the lab to retransmit SYN-ACKs whose RST the 5% loss dropped (Linux
 * retransmits the first after 1 s). The same reply then arrives twice and must be printed once.
 */
Test(lab, no_duplicates)
{
	need_lab();
	lab_up(50, 5, 3);
	const char *cidr = "198.19.0.0/20", *what = "icmp,syn sweep of 198.19.0.0/20 with 5% loss";
	const char *args[] = { "-P", "icmp,syn", "-p", LAB_PORTS, "--retries", "3", "-w", "1500ms", "--wait-fixed",
			       "-v", cidr, NULL };
	struct lab_run r;
	struct hits h = scan(&r, false, args);
	long long dups = -1;
	cr_log_info("stderr: %s", r.err);
	for (const char *line = r.err; *line;) {
		unsigned long long v;
		int end = 0;
		if (sscanf(line, "lnmt: %llu duplicate replies%n", &v, &end) == 1 && end > 0)
			dups = (long long)v;
		const char *nl = strchr(line, '\n');
		line = nl ? nl + 1 : line + strlen(line);
	}
	if (dups > 0)
		cr_log_info("the engine dropped %lld duplicate replies; the output must hold none", dups);
	else
		cr_log_warn("the engine saw %lld duplicate replies: this run did not exercise deduplication", dups);
	check_no_duplicates(&h, what);

	struct addr_set *truth = lab_truth(cidr);
	struct score si = score_probe(&h, "icmp", truth, "icmp part");
	struct score ss = score_probe(&h, "syn", truth, "syn part");
	cr_expect_eq(si.both, si.found, "icmp part: precision %.3f%% (%zu of %zu), expected 100%%", si.precision,
		     si.both, si.found);
	cr_expect_eq(ss.both, ss.found, "syn part: precision %.3f%% (%zu of %zu), expected 100%%", ss.precision,
		     ss.both, ss.found);
	cr_expect_geq(si.recall, 99.5, "icmp part: recall %.3f%% (%zu of %zu), expected >= 99.5%%", si.recall,
		      si.both, si.truth);
	cr_expect_geq(ss.recall, 99.5, "syn part: recall %.3f%% (%zu of %zu), expected >= 99.5%%", ss.recall,
		      ss.both, ss.truth);
	free(truth);
	free(h.v);
	lab_run_free(&r);
}

Test(lab, exit_code_and_summary)
{
	need_lab();
	lab_up(100, 0, 1);
	const char *args[] = { "-P", "icmp", "198.19.0.0/24", NULL };
	struct lab_run r;
	struct hits h = scan(&r, false, args);
	size_t lines = 0;
	for (const char *p = r.err; (p = strchr(p, '\n')); p++)
		lines++;
	cr_log_info("stderr: %s", r.err);
	cr_expect_eq(strncmp(r.err, "lnmt: ", 6), 0, "the summary should start with 'lnmt: ', got: '%s'", r.err);
	cr_expect_not_null(strstr(r.err, "live"), "the summary should say how many are live, got: '%s'", r.err);
	cr_expect_not_null(strstr(r.err, " 256 live"), "256 of 256 are alive, the summary says: '%s'", r.err);
	cr_expect_eq(lines, 3, "expected the summary, why it ended and where it was stored on stderr, got %zu lines: '%s'",
		     lines, r.err);
	cr_expect_not_null(strstr(r.err, "\nlnmt: ended: every probe answered; 1 pass\n"),
			   "the full /24 answers the first pass: '%s'", r.err);
	cr_expect_not_null(strstr(r.err, "\nlnmt: stored as sweep "), "no 'stored as sweep' line: '%s'", r.err);
	cr_expect_eq(h.n, 256, "expected 256 result lines, got %zu", h.n);
	free(h.v);
	lab_run_free(&r);

	const char *no_store[] = { "-P", "icmp", "--no-store", "198.19.0.0/24", NULL };
	h = scan(&r, false, no_store);
	lines = 0;
	for (const char *p = r.err; (p = strchr(p, '\n')); p++)
		lines++;
	cr_expect_eq(lines, 2, "with --no-store expected the summary and why it ended on stderr, got %zu: '%s'",
		     lines, r.err);
	free(h.v);
	lab_run_free(&r);
}

/* ---------------------------------------------------------------- a reader slower than the network */

/* The reader a new user would write: it sleeps a second (a slow start-up), then parses every
 * line as JSON before passing it on. The pipe fills long before it reads its first line. */
static const char slow_reader_py[] =
	"import json, sys, time\n"
	"time.sleep(1)\n"
	"for line in sys.stdin:\n"
	"    json.loads(line)\n"
	"    sys.stdout.write(line)\n";

/* The first "lnmt: N dropped by the capture ring" figure on stderr, -1 if none. */
static long long capture_drops(const char *err)
{
	for (const char *line = err; *line;) {
		unsigned long long dups, drops;
		if (sscanf(line, "lnmt: %llu duplicate replies, %llu dropped by the capture ring", &dups, &drops) == 2)
			return (long long)drops;
		const char *nl = strchr(line, '\n');
		line = nl ? nl + 1 : line + strlen(line);
	}
	return -1;
}

/*
 * lnmt scan -P PROBE [extra] CIDR -f jsonl -v --no-store | the slow reader: every alive target
 * arrives, exactly once, and the capture ring dropped nothing (the receiver never waited for
 * the pipe; the senders waited instead).
 */
static void sweep_slow_reader(const char *probe, const char *cidr, const char *const extra[])
{
	char *argv[MAX_ARGS], what[96];
	size_t n = 0;

	cr_assert_eq(setenv("LNMT_SLOW_READER", slow_reader_py, 1), 0);
	argv[n++] = "ip";
	argv[n++] = "netns";
	argv[n++] = "exec";
	argv[n++] = (char *)scan_ns();
	argv[n++] = "bash";
	argv[n++] = "-c";
	argv[n++] = "set -o pipefail; \"$@\" | python3 -c \"$LNMT_SLOW_READER\"";
	argv[n++] = "bash";
	argv[n++] = (char *)lnmt_bin();
	argv[n++] = "scan";
	argv[n++] = "-P";
	argv[n++] = (char *)probe;
	for (size_t i = 0; extra && extra[i]; i++)
		argv[n++] = (char *)extra[i];
	argv[n++] = (char *)cidr;
	argv[n++] = "-f";
	argv[n++] = "jsonl";
	argv[n++] = "-v";
	argv[n++] = "--no-store";
	argv[n] = NULL;
	snprintf(what, sizeof(what), "%s sweep of %s into a slow reader", probe, cidr);

	struct addr_set *truth = lab_truth(cidr);
	struct lab_run r = lab_capture(argv, 0);
	cr_log_info("%s -> exit %d in %.2f s; stderr: %s", what, r.status, r.secs, r.err);
	cr_assert_eq(r.status, 0, "%s exited %d; stderr: %s", what, r.status, r.err);
	struct hits h = parse_jsonl(r.out);
	cr_assert_eq(h.bad_lines, 0, "%s: %zu lines are not JSON, first: '%s'", what, h.bad_lines, h.first_bad);
	check_no_duplicates(&h, what);
	struct score sc = score_probe(&h, probe, truth, what);
	expect_exact(&sc, what);
	cr_expect_eq(capture_drops(r.err), 0, "%s: the capture ring dropped frames (or -v did not say): %s", what,
		     r.err);
	free(h.v);
	free(truth);
	lab_run_free(&r);
}

Test(lab, slow_reader_icmp)
{
	need_lab();
	lab_up(100, 0, 1);
	sweep_slow_reader("icmp", "198.19.0.0/16", NULL);
}

Test(lab, slow_reader_arp)
{
	need_lab();
	lab_up(100, 0, 1);
	sweep_slow_reader("arp", "198.18.128.0/17", NULL);
}

/* Three ports: 196,608 results, three times what the queue holds before the senders wait. */
Test(lab, slow_reader_syn)
{
	static const char *const ports[] = { "-p", "22,80,443", NULL };
	need_lab();
	lab_up(100, 0, 1);
	sweep_slow_reader("syn", "198.19.0.0/16", ports);
}

LAB_TESTS_MAIN();
