/* SPDX-License-Identifier: MIT */
/* test_lab_net.c: the lab's own contract: slow hosts answer ICMP echo late, the policer drops what exceeds its rate. */
#include <criterion/criterion.h>

#include "../lab_proc.h"
#include <criterion/logging.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/icmp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * These tests check tools/lab, not lnmt: they probe the lab with a small prober of their own,
 * raw ICMP and TCP sockets created inside the scanner namespace ($LNMT_LAB-scan, entered with
 * setns for the socket() call only: a socket stays in the namespace it was made in), and only
 * ever to addresses inside 198.18.0.0/15 (send_to() refuses any other). The scanner namespace
 * has no route out of the lab. Times asserted here are the lab's contract (a slow host answers
 * inside its configured range, with a wide tolerance), measured from the kernel's receive
 * timestamps; lnmt's speed is bench/'s business.
 */

#define SLOW_NET "198.19.7.0/24"
#define SLOW_LO_MS 250
#define SLOW_HI_MS 350
#define SLOW_ONLINK_NET "198.18.200.0/28"
#define SLOW_ONLINK_LO_MS 150
#define SLOW_ONLINK_HI_MS 200
#define SLOW_TOLERANCE_MS 200 /* a reply may come this much after the range's end */
#define POLICE_PPS 1000
#define BURST_PROBES 5000
#define PACED_PROBES 100
#define PACED_GAP_NS 2000000 /* 500 pps, half the policed rate */
#define LAB_NET 0xc6120000u  /* 198.18.0.0/15: the only addresses the prober sends to */
#define LAB_MASK 0xfffe0000u

static bool lab_changed;

static const char *lab_script(void)
{
	return need_env("LNMT_LAB_SCRIPT");
}

static void need_lab(void)
{
	if (geteuid() != 0)
		cr_skip_test("lab tests need root (network namespaces, raw sockets); running as uid %u",
			     (unsigned)geteuid());
	char *argv[] = { "ip", "netns", "list", NULL };
	struct lab_run r = lab_capture(argv, 0);
	int status = r.status;
	lab_run_free(&r);
	if (status != 0)
		cr_skip_test("'ip netns' is unavailable (exit %d)", status);
}

/* tools/lab ARGS... (NULL-terminated), which must succeed; returns its stdout (caller frees). */
static char *lab(const char *a0, ...)
{
	char *argv[24] = { (char *)lab_script() };
	size_t n = 1;
	va_list ap;

	va_start(ap, a0);
	for (const char *a = a0; a; a = va_arg(ap, const char *)) {
		cr_assert_lt(n, 23, "too many tools/lab arguments");
		argv[n++] = (char *)a;
	}
	va_end(ap);
	argv[n] = NULL;
	struct lab_run r = lab_capture(argv, 0);
	cr_assert_eq(r.status, 0, "tools/lab %s %s failed with exit %d: %s", argv[1], n > 2 ? argv[2] : "", r.status,
		     r.err);
	if (!strcmp(argv[1], "up")) {
		lab_changed = true;
		cr_log_info("%s", r.out);
	}
	char *out = r.out;
	r.out = NULL;
	lab_run_free(&r);
	return out;
}

static void lab_restore(void)
{
	if (!lab_changed)
		return;
	lab_changed = false;
	char *argv[] = { (char *)lab_script(), "up", NULL };
	struct lab_run r = lab_capture(argv, 0);
	if (r.status != 0)
		cr_log_error("restoring the lab defaults (tools/lab up) failed with exit %d: %s", r.status, r.err);
	lab_run_free(&r);
}

TestSuite(lab_net, .fini = lab_restore, .timeout = 120);

/* The number after "key " in text (the first occurrence), -1 when absent. */
static long long num_after(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	if (!p)
		return -1;
	p += strlen(key);
	if (*p < '0' || *p > '9')
		return -1;
	return strtoll(p, NULL, 10);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the prober ---- */

/*
 * A raw socket of the scanner namespace: this thread enters the namespace, makes the socket and
 * comes back; any failure fails the test before anything is sent.
 */
static int scan_socket(int proto)
{
	char path[128];
	snprintf(path, sizeof(path), "/run/netns/%s", scan_ns());
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(self, 0, "open /proc/thread-self/ns/net: %s", strerror(errno));
	int ns = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(ns, 0, "open %s: %s (is the lab up?)", path, strerror(errno));
	cr_assert_eq(setns(ns, CLONE_NEWNET), 0, "setns %s: %s", path, strerror(errno));
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, proto);
	int err = errno;
	int back = setns(self, CLONE_NEWNET);
	cr_assert_eq(back, 0, "setns back to the test's namespace: %s", strerror(errno));
	close(ns);
	close(self);
	cr_assert_geq(fd, 0, "raw socket in %s: %s", scan_ns(), strerror(err));
	int one = 1, buf = 8 << 20;
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)), 0, "SO_TIMESTAMPNS: %s",
		     strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	return fd;
}

static uint16_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void send_to(int fd, uint32_t ip, const uint8_t *pkt, size_t len)
{
	cr_assert_eq(ip & LAB_MASK, LAB_NET, "the prober only sends inside 198.18.0.0/15, not to %08x", ip);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(ip) };
	ssize_t n;
	while ((n = sendto(fd, pkt, len, 0, (struct sockaddr *)&sa, sizeof(sa))) < 0 && (errno == ENOBUFS || errno == EINTR))
		;
	cr_assert_eq(n, (ssize_t)len, "sendto %08x: %s", ip, strerror(errno));
}

/* An echo request with identifier id and sequence number seq. */
static void send_echo(int fd, uint32_t ip, uint16_t id, uint16_t seq)
{
	uint8_t p[16] = { ICMP_ECHO, 0, 0, 0, (uint8_t)(id >> 8), (uint8_t)id, (uint8_t)(seq >> 8), (uint8_t)seq,
			  'l', 'a', 'b', '-', 'n', 'e', 't', 0 };
	uint16_t c = csum_add(0, p, sizeof(p));
	p[2] = (uint8_t)(c >> 8);
	p[3] = (uint8_t)c;
	send_to(fd, ip, p, sizeof(p));
}

/* A SYN to port 80 from source port sport (the scanner kernel resets the SYN-ACK). */
static void send_syn(int fd, uint32_t ip, uint16_t sport)
{
	const uint32_t src = 0xc6120001u; /* 198.18.0.1, the scanner's address */
	uint8_t p[20] = { (uint8_t)(sport >> 8), (uint8_t)sport, 0, 80, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0,
			  5 << 4, 0x02, 0xff, 0xff, 0, 0, 0, 0 };
	uint8_t pseudo[12] = { src >> 24, src >> 16 & 255, src >> 8 & 255, src & 255,
			       (uint8_t)(ip >> 24), (uint8_t)(ip >> 16), (uint8_t)(ip >> 8), (uint8_t)ip,
			       0, IPPROTO_TCP, 0, sizeof(p) };
	uint32_t sum = (uint16_t)~csum_add(0, pseudo, sizeof(pseudo));
	uint16_t c = csum_add(sum, p, sizeof(p));
	p[16] = (uint8_t)(c >> 8);
	p[17] = (uint8_t)c;
	send_to(fd, ip, p, sizeof(p));
}

struct reply {
	uint32_t src;
	uint16_t key;        /* ICMP sequence number, or TCP destination port */
	uint64_t arrival_ns; /* CLOCK_REALTIME, the kernel's receive timestamp */
};

/*
 * Reads one reply of interest into r within ms: an echo reply with identifier id (proto ICMP),
 * or a SYN-ACK to a port in [id, id + BURST_PROBES + PACED_PROBES) (proto TCP). False on timeout.
 */
static bool read_reply(int fd, int proto, uint16_t id, int ms, struct reply *r)
{
	uint64_t deadline = now_ms() + (uint64_t)ms;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int left = left_ms(deadline);
		if (poll(&pfd, 1, left) <= 0)
			return false;
		uint8_t buf[2048];
		char ctl[256];
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr h = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
		ssize_t n = recvmsg(fd, &h, MSG_DONTWAIT);
		if (n < 20)
			continue;
		size_t ihl = (size_t)(buf[0] & 15) * 4;
		if (buf[9] != proto || (size_t)n < ihl + (proto == IPPROTO_ICMP ? 8 : 20))
			continue;
		const uint8_t *l4 = buf + ihl;
		r->src = (uint32_t)buf[12] << 24 | (uint32_t)buf[13] << 16 | (uint32_t)buf[14] << 8 | buf[15];
		if (proto == IPPROTO_ICMP) {
			if (l4[0] != ICMP_ECHOREPLY || (uint16_t)(l4[4] << 8 | l4[5]) != id)
				continue;
			r->key = (uint16_t)(l4[6] << 8 | l4[7]);
		} else {
			uint16_t dport = (uint16_t)(l4[2] << 8 | l4[3]);
			if ((l4[13] & 0x12) != 0x12 || dport < id || dport >= id + BURST_PROBES + PACED_PROBES)
				continue;
			r->key = dport;
		}
		r->arrival_ns = real_ns();
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;
				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				r->arrival_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
			}
		}
		return true;
	}
}

static uint32_t ip_of(const char *s)
{
	struct in_addr a;
	cr_assert_eq(inet_pton(AF_INET, s, &a), 1, "bad address %s", s);
	return ntohl(a.s_addr);
}

static const char *fmt_ip(uint32_t ip, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
	return buf;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* ---- slow hosts ---- */

struct target {
	const char *ip;
	int lo_ms, hi_ms; /* 0, 0: an ordinary host */
};

Test(lab_net, slow_hosts_answer_late_others_at_once)
{
	need_lab();
	free(lab("up", "--slow", SLOW_NET ":250-350", "--slow", SLOW_ONLINK_NET ":150-200", NULL));

	char *slow = lab("truth", "--slow", NULL);
	cr_assert_eq(count_lines(slow), 256 + 16, "truth --slow lists %zu addresses, expected 272:\n%.300s",
		     count_lines(slow), slow);
	cr_assert(strstr(slow, "198.19.7.0\n") && strstr(slow, "198.19.7.255\n") && strstr(slow, "198.18.200.15\n"),
		  "truth --slow misses an address of the slow nets:\n%.300s", slow);
	free(slow);
	char *t = lab("truth", SLOW_NET, NULL);
	cr_assert_eq(count_lines(t), 256, "slow hosts are alive: truth %s lists %zu, expected 256", SLOW_NET,
		     count_lines(t));
	free(t);
	char *st = lab("status", NULL);
	cr_assert(strstr(st, "ICMP echo answered by lab_slowd pid") && !strstr(st, "NOT RUNNING"),
		  "status does not show a running responder:\n%s", st);
	free(st);

	const struct target targets[] = {
		{ "198.19.7.1", SLOW_LO_MS, SLOW_HI_MS },   { "198.19.7.77", SLOW_LO_MS, SLOW_HI_MS },
		{ "198.19.7.128", SLOW_LO_MS, SLOW_HI_MS }, { "198.19.7.254", SLOW_LO_MS, SLOW_HI_MS },
		{ "198.19.7.255", SLOW_LO_MS, SLOW_HI_MS }, { "198.18.200.3", SLOW_ONLINK_LO_MS, SLOW_ONLINK_HI_MS },
		{ "198.18.200.15", SLOW_ONLINK_LO_MS, SLOW_ONLINK_HI_MS },
		{ "198.19.8.1", 0, 0 },                     { "198.19.6.255", 0, 0 },
		{ "198.18.200.16", 0, 0 },                  { "198.18.201.5", 0, 0 },
	};
	enum { N = sizeof(targets) / sizeof(targets[0]), ROUNDS = 3 };
	uint64_t sent[N][ROUNDS] = { { 0 } }, rtt[N][ROUNDS] = { { 0 } };
	int fd = scan_socket(IPPROTO_ICMP);
	uint16_t id = (uint16_t)getpid();

	/* Each target three times, 20 ms apart: every reply is delayed on its own. */
	for (int round = 0; round < ROUNDS; round++) {
		for (int i = 0; i < N; i++) {
			sent[i][round] = real_ns();
			send_echo(fd, ip_of(targets[i].ip), id, (uint16_t)(round * N + i));
		}
		struct timespec gap = { 0, 20000000 };
		nanosleep(&gap, NULL);
	}
	size_t got = 0;
	struct reply r;
	while (got < N * ROUNDS && read_reply(fd, IPPROTO_ICMP, id, SLOW_HI_MS + SLOW_TOLERANCE_MS + 500, &r)) {
		int i = r.key % N, round = r.key / N;
		if (round >= ROUNDS || ip_of(targets[i].ip) != r.src || rtt[i][round])
			continue;
		rtt[i][round] = r.arrival_ns > sent[i][round] ? r.arrival_ns - sent[i][round] : 1;
		got++;
	}
	close(fd);
	for (int i = 0; i < N; i++) {
		const struct target *x = &targets[i];
		cr_log_info("%-14s %s: RTT %.2f, %.2f, %.2f ms", x->ip, x->hi_ms ? "slow" : "ordinary",
			    rtt[i][0] / 1e6, rtt[i][1] / 1e6, rtt[i][2] / 1e6);
		for (int round = 0; round < ROUNDS; round++) {
			double ms = rtt[i][round] / 1e6;
			cr_expect_neq(rtt[i][round], 0, "%s: echo request %d got no reply", x->ip, round + 1);
			if (!rtt[i][round])
				continue;
			if (x->hi_ms) {
				cr_expect(ms >= x->lo_ms && ms < x->hi_ms + SLOW_TOLERANCE_MS,
					  "slow host %s answered after %.1f ms, outside [%d, %d) ms", x->ip, ms, x->lo_ms,
					  x->hi_ms + SLOW_TOLERANCE_MS);
			} else {
				cr_expect(ms < SLOW_ONLINK_LO_MS, "ordinary host %s answered after %.1f ms, as late as a "
					  "slow one (>= %d ms)", x->ip, ms, SLOW_ONLINK_LO_MS);
			}
		}
	}
}

/*
 * The responder's socket misses nothing while a sweep of the whole /16 runs at lnmt's full rate:
 * the echo requests it took equal those the lab kernel's drop rule counted, its socket dropped
 * none, and every one to an alive host was answered.
 */
Test(lab_net, slow_responder_loses_nothing_under_a_sweep)
{
	need_lab();
	free(lab("up", "--slow", SLOW_NET ":250-350", NULL));
	char *argv[] = { "ip", "netns", "exec", (char *)scan_ns(), (char *)need_env("LNMT_BIN"), "scan", "-P", "icmp",
			 "198.19.0.0/16", "-f", "jsonl", "--no-store", NULL };
	struct lab_run run = lab_capture(argv, 0);
	cr_assert_eq(run.status, 0, "lnmt scan exited %d: %s", run.status, run.err);
	cr_log_info("lnmt scan -P icmp 198.19.0.0/16: %s", run.err);
	lab_run_free(&run);

	/* The responder rewrites its counters once a second: wait (bounded) until they settle. */
	long long req = -1, seen = -2, replies = -1, pending = -1, dead = -1, lost = -1;
	char *st = NULL;
	uint64_t deadline = now_ms() + SLOW_HI_MS + 5000;
	do {
		free(st);
		st = lab("status", NULL);
		req = num_after(st, "requests ");
		seen = num_after(st, "drop rule saw ");
		replies = num_after(st, "replies ");
		pending = num_after(st, "pending ");
		dead = num_after(st, "to dead hosts ");
		lost = num_after(st, "lost (--loss) ");
		if (req > 0 && req == seen && pending == 0 && replies == req - dead - lost)
			break;
		struct timespec gap = { 0, 200000000 };
		nanosleep(&gap, NULL);
	} while (left_ms(deadline));
	cr_log_info("%s", st);
	cr_assert_geq(req, 256, "the responder saw %lld echo requests, fewer than the sweep's 256 to %s:\n%s", req,
		      SLOW_NET, st);
	cr_assert_eq(req, seen, "the responder took %lld echo requests, the lab kernel's rule counted %lld:\n%s", req,
		     seen, st);
	cr_assert_eq(num_after(st, "socket drops "), 0, "the responder's socket dropped requests:\n%s", st);
	cr_assert_eq(num_after(st, "queue full "), 0, "the responder's queue overflowed:\n%s", st);
	cr_assert_eq(pending, 0, "replies still pending long after the range's end:\n%s", st);
	cr_assert_eq(replies, req - dead - lost, "%lld replies for %lld requests to alive hosts:\n%s", replies,
		     req - dead - lost, st);
	free(st);
}

static pid_t responder_pid(void)
{
	char *st = lab("status", NULL);
	long long pid = num_after(st, "answered by lab_slowd pid ");
	bool running = !strstr(st, "NOT RUNNING");
	free(st);
	return running ? (pid_t)pid : -1;
}

/* Alive and not a zombie (whoever adopted an exited responder may reap it late). */
static bool running(pid_t pid)
{
	char path[64], st[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(st, 1, sizeof(st) - 1, f);
	fclose(f);
	st[n] = '\0';
	const char *p = strrchr(st, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static bool echo_answered_within(const char *ip, int ms)
{
	int fd = scan_socket(IPPROTO_ICMP);
	uint16_t id = (uint16_t)(getpid() ^ 0x5a5a);
	struct reply r;
	bool ok = false;
	send_echo(fd, ip_of(ip), id, 1);
	while (read_reply(fd, IPPROTO_ICMP, id, ms, &r))
		if (r.src == ip_of(ip)) {
			ok = true;
			break;
		}
	close(fd);
	return ok;
}

/* Started by up, restarted by up when dead or reconfigured, stopped by an up without --slow. */
Test(lab_net, slow_responder_follows_up)
{
	need_lab();
	free(lab("up", "--slow", SLOW_NET ":250-350", NULL));
	pid_t a = responder_pid();
	cr_assert_gt(a, 0, "no responder running after up --slow");
	free(lab("up", "--slow", SLOW_NET ":250-350", NULL));
	cr_assert_eq(responder_pid(), a, "the same config restarted the responder");

	int pidfd = (int)syscall(SYS_pidfd_open, a, 0);
	cr_assert_geq(pidfd, 0, "pidfd_open %d: %s", (int)a, strerror(errno));
	cr_assert_eq(kill(a, SIGKILL), 0, "kill %d: %s", (int)a, strerror(errno));
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
	cr_assert_eq(poll(&pfd, 1, LAB_KILL_MS), 1, "the responder did not die of SIGKILL");
	close(pidfd);
	char *st = lab("status", NULL);
	cr_assert(strstr(st, "NOT RUNNING"), "status does not notice the dead responder:\n%s", st);
	free(st);
	free(lab("up", "--slow", SLOW_NET ":250-350", NULL));
	pid_t b = responder_pid();
	cr_assert(b > 0 && b != a, "up did not restart the dead responder (pid %d, was %d)", (int)b, (int)a);
	cr_assert(echo_answered_within("198.19.7.9", SLOW_HI_MS + SLOW_TOLERANCE_MS + 500),
		  "the restarted responder does not answer");

	free(lab("up", "--slow", SLOW_NET ":10-20", NULL));
	pid_t c = responder_pid();
	cr_assert(c > 0 && c != b, "a new range did not restart the responder (pid %d, was %d)", (int)c, (int)b);

	free(lab("up", NULL));
	st = lab("status", NULL);
	cr_assert(strstr(st, "slow: none"), "up without --slow left slow hosts:\n%s", st);
	free(st);
	cr_assert(!running(c), "up without --slow left the responder (pid %d) running", (int)c);
	char *slow = lab("truth", "--slow", NULL);
	cr_assert_eq(slow[0], '\0', "truth --slow lists hosts on a lab without slow hosts:\n%.200s", slow);
	free(slow);
	cr_assert(echo_answered_within("198.19.7.9", SLOW_LO_MS), "198.19.7.9 no longer answers at once");
}

/* ---- the policer ---- */

/*
 * BURST_PROBES probes as fast as the prober sends them, to distinct hosts, then PACED_PROBES at
 * half the policed rate; counts the distinct hosts that answered each. The bound on the burst
 * is the bucket plus what the rate refills while it is sent (and 50 ms of slack).
 */
static void police_case(int proto, long long burst)
{
	const char *what = proto == IPPROTO_ICMP ? "ICMP echo" : "TCP SYN";
	int fd = scan_socket(proto);
	uint16_t id = proto == IPPROTO_ICMP ? (uint16_t)getpid() : 20000;
	static uint8_t seen[BURST_PROBES + PACED_PROBES];
	char ipb[16];

	memset(seen, 0, sizeof(seen));
	/* 198.19.100.0 onward for the burst, 198.19.200.0 onward for the paced ones. */
	uint64_t t0 = mono_ns();
	for (int i = 0; i < BURST_PROBES; i++) {
		uint32_t ip = ip_of("198.19.100.0") + (uint32_t)i;
		if (proto == IPPROTO_ICMP)
			send_echo(fd, ip, id, (uint16_t)i);
		else
			send_syn(fd, ip, (uint16_t)(id + i));
	}
	double burst_s = (double)(mono_ns() - t0) / 1e9;
	size_t burst_got = 0, paced_got = 0;
	struct reply r;
	while (read_reply(fd, proto, id, 1000, &r)) {
		size_t k = proto == IPPROTO_ICMP ? r.key : (size_t)(r.key - id);
		if (k < BURST_PROBES && r.src == ip_of("198.19.100.0") + k && !seen[k]) {
			seen[k] = 1;
			burst_got++;
		}
	}
	double bound = (double)burst + POLICE_PPS * (burst_s + 0.05);
	cr_log_info("%s: a burst of %d in %.1f ms got %zu answers (at most %.0f allowed through)", what, BURST_PROBES,
		    burst_s * 1e3, burst_got, bound);
	cr_expect_leq(burst_got, bound, "%s: %zu of a %d burst answered, more than the policer lets through (%.0f)",
		      what, burst_got, BURST_PROBES, bound);
	cr_expect_geq(burst_got, 100, "%s: only %zu of a %d burst answered: the bucket (%lld) should pass", what,
		      burst_got, BURST_PROBES, burst);

	uint64_t next = mono_ns();
	for (int i = 0; i < PACED_PROBES; i++) {
		uint32_t ip = ip_of("198.19.200.0") + (uint32_t)i;
		struct timespec due = { (time_t)(next / 1000000000u), (long)(next % 1000000000u) };
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL);
		if (proto == IPPROTO_ICMP)
			send_echo(fd, ip, id, (uint16_t)(BURST_PROBES + i));
		else
			send_syn(fd, ip, (uint16_t)(id + BURST_PROBES + i));
		next += PACED_GAP_NS;
	}
	while (paced_got < PACED_PROBES && read_reply(fd, proto, id, 1000, &r)) {
		size_t k = proto == IPPROTO_ICMP ? r.key : (size_t)(r.key - id);
		if (k >= BURST_PROBES && k < BURST_PROBES + PACED_PROBES &&
		    r.src == ip_of("198.19.200.0") + (k - BURST_PROBES) && !seen[k]) {
			seen[k] = 1;
			paced_got++;
		}
	}
	close(fd);
	cr_log_info("%s: %zu of %d paced at %d pps answered", what, paced_got, PACED_PROBES,
		    (int)(1000000000 / PACED_GAP_NS));
	for (int i = 0; i < PACED_PROBES && paced_got < PACED_PROBES; i++)
		if (!seen[BURST_PROBES + i]) {
			cr_log_info("%s: no answer from %s", what, fmt_ip(ip_of("198.19.200.0") + (uint32_t)i, ipb));
			break;
		}
	cr_expect_eq(paced_got, PACED_PROBES, "%s: %zu of %d probes paced below the rate answered", what, paced_got,
		     PACED_PROBES);
}

Test(lab_net, policer_drops_a_burst_passes_a_paced_sweep)
{
	need_lab();
	free(lab("up", "--police", "1000", NULL));
	char *st = lab("status", NULL);
	long long burst = num_after(st, "burst ");
	cr_assert_gt(burst, 0, "status does not show the policer's burst:\n%s", st);
	free(st);
	/* ICMP first: it empties the ICMP bucket, and TCP still has its own. */
	police_case(IPPROTO_ICMP, burst);
	police_case(IPPROTO_TCP, burst);
	st = lab("status", NULL);
	cr_log_info("%s", st);
	cr_expect_gt(num_after(st, "dropped icmp: "), 0, "status shows no ICMP dropped by the policer:\n%s", st);
	cr_expect_gt(num_after(st, "dropped tcp: "), 0, "status shows no TCP dropped by the policer:\n%s", st);
	free(st);
}

LAB_TESTS_MAIN();
