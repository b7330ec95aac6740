/* SPDX-License-Identifier: MIT */
/*
 * test_lab_capture.c: small sweeps (raw IPv4 sockets, or a packet socket for ARP or a chosen next
 * hop) and large ones (a ring), through either sender, find every host of the full lab and lose
 * no reply in the capture.
 */
#include <criterion/criterion.h>

#include "../lab_proc.h"
#include <criterion/logging.h>

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Every sweep runs as `ip netns exec $LNMT_LAB-scan $LNMT_BIN scan ...` against the lab at its
 * defaults (every target alive), so the truth of a CIDR is all of it; `tools/lab truth` says
 * so, and is what the results are compared with.
 */

#define LAB_BASE 0xc6120000u /* 198.18.0.0/15 */
#define LAB_SIZE (1u << 17)

struct addrs {
	uint8_t bits[LAB_SIZE / 8];
	size_t n, outside, bad_lines;
};

static void need_lab(void)
{
	if (geteuid() != 0)
		cr_skip_test("lab tests need root (network namespaces, raw sockets); running as uid %u",
			     (unsigned)geteuid());
	char *argv[] = { (char *)need_env("LNMT_LAB_SCRIPT"), "up", NULL };
	struct lab_run r = lab_capture(argv, 0);
	cr_assert_eq(r.status, 0, "tools/lab up failed with exit %d: %s", r.status, r.err);
	lab_run_free(&r);
}

static void add(struct addrs *s, const char *text, size_t len)
{
	char buf[16];
	struct in_addr a;

	if (len >= sizeof(buf)) {
		s->bad_lines++;
		return;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1) {
		s->bad_lines++;
		return;
	}
	uint32_t i = ntohl(a.s_addr) - LAB_BASE;
	if (i >= LAB_SIZE) {
		s->outside++;
	} else if (!(s->bits[i / 8] >> (i % 8) & 1)) {
		s->bits[i / 8] |= (uint8_t)(1u << (i % 8));
		s->n++;
	}
}

/* Addresses one per line (tools/lab truth), or the "ip" of JSON lines (lnmt scan -f jsonl). */
static struct addrs *parse(const char *out, bool json)
{
	struct addrs *s = calloc(1, sizeof(*s));

	cr_assert_not_null(s);
	for (const char *line = out; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		if (!json) {
			add(s, line, len);
		} else {
			const char *p = memmem(line, len, "\"ip\":\"", 6), *q = p ? memchr(p + 6, '"', len - (size_t)(p + 6 - line)) : NULL;
			if (q)
				add(s, p + 6, (size_t)(q - p - 6));
			else
				s->bad_lines++;
		}
		line += len + (nl ? 1 : 0);
	}
	return s;
}

static size_t missing(const struct addrs *got, const struct addrs *truth, char *example, size_t len)
{
	size_t n = 0;

	for (uint32_t i = 0; i < LAB_SIZE; i++) {
		bool t = truth->bits[i / 8] >> (i % 8) & 1, g = got->bits[i / 8] >> (i % 8) & 1;
		if (t && !g && !n++)
			snprintf(example, len, "%u.%u.%u.%u", (LAB_BASE + i) >> 24, ((LAB_BASE + i) >> 16) & 255,
				 ((LAB_BASE + i) >> 8) & 255, (LAB_BASE + i) & 255);
	}
	return n;
}

/*
 * lnmt scan -P probe [-p ports] [--gateway-mac mac] cidr -v -f jsonl --no-store --tx tx: every
 * alive address found, nothing else, the capture named `backend`, and 0 frames dropped by it.
 */
static void sweep_via(const char *probe, const char *extra, const char *gw_mac, const char *cidr, const char *tx,
		      const char *backend)
{
	char *truth_argv[] = { (char *)need_env("LNMT_LAB_SCRIPT"), "truth", (char *)cidr, NULL };
	struct lab_run t = lab_capture(truth_argv, 0);
	cr_assert_eq(t.status, 0, "tools/lab truth %s: exit %d: %s", cidr, t.status, t.err);
	struct addrs *truth = parse(t.out, false);
	lab_run_free(&t);
	cr_assert_gt(truth->n, 0, "the lab has nothing alive in %s: the test proves nothing", cidr);

	char *argv[24];
	size_t n = 0;
	const char *fixed[] = { "ip", "netns", "exec", scan_ns(), need_env("LNMT_BIN"), "scan", "-P", probe };
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		argv[n++] = (char *)fixed[i];
	if (extra) {
		argv[n++] = "-p";
		argv[n++] = (char *)extra;
	}
	if (gw_mac) {
		argv[n++] = "--gateway-mac";
		argv[n++] = (char *)gw_mac;
	}
	const char *tail[] = { "--tx", tx, "--no-store", "-v", "-f", "jsonl", cidr };
	for (size_t i = 0; i < sizeof(tail) / sizeof(tail[0]); i++)
		argv[n++] = (char *)tail[i];
	argv[n] = NULL;
	char what[128];
	snprintf(what, sizeof(what), "%s sweep of %s, tx %s", probe, cidr, tx);

	struct lab_run r = lab_capture(argv, 0);
	cr_log_info("%s -> exit %d in %.3f s; stderr: %s", what, r.status, r.secs, r.err);
	cr_assert_eq(r.status, 0, "%s exited %d: %s", what, r.status, r.err);
	struct addrs *got = parse(r.out, true);
	char example[16] = "";
	size_t miss = missing(got, truth, example, sizeof(example));
	cr_expect_eq(got->bad_lines, 0, "%s: %zu lines without an address", what, got->bad_lines);
	cr_expect_eq(miss, 0, "%s: %zu of %zu alive hosts not found, e.g. %s", what, miss, truth->n, example);
	cr_expect_eq(got->n, truth->n, "%s: found %zu, %zu alive", what, got->n, truth->n);
	cr_expect_eq(got->outside, 0, "%s: %zu results outside the lab", what, got->outside);
	char want[32];
	snprintf(want, sizeof(want), "capture %s\n", backend);
	cr_expect(strstr(r.err, want), "%s: expected the %s capture, -v says: %s", what, backend, r.err);
	cr_expect(strstr(r.err, " 0 dropped by the capture ring"), "%s: the capture lost replies: %s", what, r.err);
	free(got);
	free(truth);
	lab_run_free(&r);
}

static void sweep(const char *probe, const char *extra, const char *cidr, const char *tx, const char *backend)
{
	sweep_via(probe, extra, NULL, cidr, tx, backend);
}

/* The lab gateway's MAC, from the scanner namespace's neighbour table (a sweep put it there). */
static void gateway_mac(char mac[18])
{
	char *argv[] = { "ip", "-n", (char *)scan_ns(), "neigh", "show", "198.18.0.2", NULL };
	struct lab_run r = lab_capture(argv, 0);
	const char *p = r.status == 0 ? strstr(r.out, "lladdr ") : NULL;

	cr_assert_not_null(p, "no neighbour entry for the lab gateway: %s%s", r.out, r.err);
	snprintf(mac, 18, "%.17s", p + 7);
	lab_run_free(&r);
}

TestSuite(lab_capture, .timeout = 120);

Test(lab_capture, icmp_small_and_large)
{
	need_lab();
	for (int u = 0; u < 2; u++) {
		const char *tx = u ? "mmsg" : "uring";
		sweep("icmp", NULL, "198.19.7.0/24", tx, "ipv4");
		sweep("icmp", NULL, "198.19.16.0/20", tx, "ipv4"); /* the largest small sweep: 4096 replies */
		sweep("icmp", NULL, "198.19.32.0/19", tx, "ring");
		sweep("icmp", NULL, "198.19.0.0/16", tx, "ring");
	}
}

Test(lab_capture, arp_small_and_large)
{
	need_lab();
	for (int u = 0; u < 2; u++) {
		const char *tx = u ? "mmsg" : "uring";
		sweep("arp", NULL, "198.18.200.0/24", tx, "socket");
		sweep("arp", NULL, "198.18.128.0/17", tx, "ring");
	}
}

Test(lab_capture, syn_small_and_large)
{
	need_lab();
	for (int u = 0; u < 2; u++) {
		const char *tx = u ? "mmsg" : "uring";
		sweep("syn", "22,80,81", "198.19.7.0/24", tx, "ipv4"); /* 768 replies */
		sweep("syn", "80", "198.19.0.0/16", tx, "ring");
	}
}

Test(lab_capture, ip_probes_on_packet_sockets)
{
	char mac[18];

	need_lab();
	sweep("icmp", NULL, "198.19.7.0/24", "uring", "ipv4"); /* and the gateway is in the table */
	gateway_mac(mac);
	/* A next hop of the user's choosing keeps IP probes on packet sockets. */
	for (int u = 0; u < 2; u++) {
		sweep_via("icmp", NULL, mac, "198.19.7.0/24", u ? "mmsg" : "uring", "socket");
		sweep_via("syn", "22,80,81", mac, "198.19.7.0/24", u ? "mmsg" : "uring", "socket");
	}
}

Test(lab_capture, mixed_probes_share_one_capture)
{
	need_lab();
	/* ARP and ICMP in one sweep (the lab answers ARP for its routed addresses too): the
	 * socket takes every EtherType, the filter both kinds of reply. */
	sweep("arp,icmp", NULL, "198.19.7.0/24", "uring", "socket");
}

LAB_TESTS_MAIN();
