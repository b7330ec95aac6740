/* SPDX-License-Identifier: MIT */
/*
 * lab_slowd.c: the lab's slow hosts: answers ICMP echo requests for chosen lab addresses after a
 * random delay, in place of the lab kernel (which an nftables rule keeps from answering them).
 *
 * Built and started by tools/lab (`tools/lab up --slow NET:LO-HI`) inside the lab namespace,
 * never by hand and never elsewhere: it only answers requests that arrive on the lab's veth
 * (--iface, lab1) and sends its replies back out of the same interface, to the MAC and address
 * the request came from. It sends nothing of its own.
 *
 *   lab_slowd --iface IF --net CIDR:LO-HI [--net ...] --hosts FILE [--loss PCT] --stats FILE
 *
 * --net     a network whose echo requests it takes (at most LAB_SLOWD_MAX_NETS), with the reply
 *           delay in ms: each reply waits a uniformly random time in [LO, HI] from the request's
 *           arrival (the kernel's receive timestamp)
 * --hosts   the alive addresses among those networks, one dotted quad a line: requests to any
 *           other address of a --net go unanswered, like dead lab hosts
 * --loss    drops this percentage of requests at random, as the lab's nftables loss rule does for
 *           the kernel's hosts (that rule sits after the tap this program reads from)
 * --stats   a KEY VALUE file rewritten (atomically) once a second while counters change and at
 *           exit; its first write means the socket is open and filtered: tools/lab waits for it
 *
 * How it sees the requests: an AF_PACKET socket bound to IF for ETH_P_IP is delivered a copy of
 * each frame before the IP stack (and its netfilter hooks) run, so the nftables rule that drops
 * the echo requests for the kernel does not hide them from here; the netdev ingress hook (where
 * tools/lab puts its policer) runs before this socket, so a policer applies to slow hosts too.
 * A classic BPF filter (SO_ATTACH_FILTER) passes only unfragmented ICMP echo requests addressed
 * to the host's MAC and to a --net, so a sweep's other probes never reach the socket buffer.
 *
 * Timing: pending replies sit in a min-heap on their due time; ppoll() sleeps until the earliest
 * (timer slack 1 us, SCHED_FIFO priority 1 where allowed), the socket is drained between replies,
 * and the stats record how late each reply went out (late_max_us, late_over_1ms).
 *
 * Exit: SIGTERM, SIGINT or SIGHUP (through a signalfd) ends it with status 0 after the last
 * stats write; pending replies are dropped. Errors at start exit 1 with one line on stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LAB_SLOWD_MAX_NETS 16
#define LAB_SLOWD_BASE 0xc6120000u   /* 198.18.0.0: the host map covers the lab's /15 */
#define LAB_SLOWD_SPAN (1u << 17)
#define LAB_SLOWD_FRAME_MAX 1514     /* an unfragmented request on a 1500-byte MTU */
#define LAB_SLOWD_BATCH 64           /* frames per recvmmsg / sendmmsg */
#define LAB_SLOWD_PENDING_MAX (1u << 22)
#define LAB_SLOWD_DRAIN_MAX 4096     /* frames read before due replies get their turn */
#define LAB_SLOWD_MAX_DELAY_MS 600000
#define LAB_SLOWD_ETH_HLEN 14

struct slow_net {
	uint32_t net;   /* host order */
	uint32_t mask;
	uint32_t lo_us, hi_us;
};

struct pending {
	uint64_t due_ns; /* CLOCK_MONOTONIC */
	uint32_t len;
	uint8_t *frame;  /* the reply, ready to send; owned */
};

struct counters {
	uint64_t requests;    /* echo requests that passed the filter */
	uint64_t replies;     /* replies sent */
	uint64_t lost;        /* dropped by the --loss emulation */
	uint64_t not_alive;   /* to a --net address not in --hosts */
	uint64_t malformed;   /* truncated, bad checksum, not an echo request after all */
	uint64_t overflow;    /* pending queue full */
	uint64_t send_errors;
	uint64_t kernel_drops; /* socket buffer overflows (PACKET_STATISTICS, cumulative) */
	uint64_t late_max_us;
	uint64_t late_over_1ms;
};

struct slowd {
	int fd, sigfd;
	int ifindex;
	struct slow_net nets[LAB_SLOWD_MAX_NETS];
	size_t n_nets;
	uint8_t *host_net;        /* per address of the /15: 0 not slow, else 1 + index into nets */
	unsigned loss_pct;
	uint64_t rng;
	uint16_t ip_id;
	int64_t real_to_mono_ns;
	struct pending *heap;
	size_t n_pending, cap_pending;
	struct counters c, c_written;
	const char *stats_path;
	char *stats_tmp;
	uint64_t next_stats_ns;
};

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* splitmix64: small, fast, and good enough to pick delays and losses. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* The Internet checksum of len bytes (RFC 1071); 0 over data that carries a correct one. */
static uint16_t csum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;
	for (; len > 1; p += 2, len -= 2)
		s += get16(p);
	if (len)
		s += (uint32_t)p[0] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* ---- arguments ---- */

static int parse_uint(const char *s, const char *end, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;
	if (s == end)
		return -EINVAL;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return -ERANGE;
	}
	*out = (uint32_t)v;
	return 0;
}

static int parse_quad(const char *s, size_t len, uint32_t *ip)
{
	char buf[16];
	struct in_addr a;
	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	*ip = ntohl(a.s_addr);
	return 0;
}

/* CIDR:LO-HI (or CIDR:MS) inside the lab's /15, network address exact. */
static int parse_net(const char *arg, struct slow_net *n)
{
	const char *slash = strchr(arg, '/'), *colon = strchr(arg, ':'), *dash;
	uint32_t ip, plen, lo, hi;

	if (!slash || !colon || colon < slash || parse_quad(arg, (size_t)(slash - arg), &ip) ||
	    parse_uint(slash + 1, colon, 32, &plen))
		return -EINVAL;
	dash = strchr(colon + 1, '-');
	if (parse_uint(colon + 1, dash ? dash : colon + 1 + strlen(colon + 1), LAB_SLOWD_MAX_DELAY_MS, &lo))
		return -EINVAL;
	hi = lo;
	if (dash && parse_uint(dash + 1, dash + 1 + strlen(dash + 1), LAB_SLOWD_MAX_DELAY_MS, &hi))
		return -EINVAL;
	n->mask = plen ? ~0u << (32 - plen) : 0;
	if (lo > hi || (ip & ~n->mask) || plen < 15 || (ip & 0xfffe0000u) != LAB_SLOWD_BASE)
		return -EINVAL;
	n->net = ip;
	n->lo_us = lo * 1000;
	n->hi_us = hi * 1000;
	return 0;
}

static int net_of(const struct slowd *d, uint32_t ip)
{
	for (size_t i = 0; i < d->n_nets; i++)
		if ((ip & d->nets[i].mask) == d->nets[i].net)
			return (int)i;
	return -1;
}

/* Reads --hosts: every line one address inside a --net. */
static int load_hosts(struct slowd *d, const char *path)
{
	char line[64];
	int rc = 0;
	unsigned long lineno = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "lab_slowd: cannot open --hosts %s: %s\n", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		size_t len = strcspn(line, "\r\n");
		uint32_t ip;
		int ni;

		lineno++;
		if (len == 0)
			continue;
		if (parse_quad(line, len, &ip) || (ni = net_of(d, ip)) < 0) {
			fprintf(stderr, "lab_slowd: %s line %lu: '%.*s' is not an address inside a --net\n", path,
				lineno, (int)len, line);
			rc = -EINVAL;
			goto out;
		}
		d->host_net[ip - LAB_SLOWD_BASE] = (uint8_t)(ni + 1);
	}
	if (ferror(f))
		rc = -EIO;
out:
	fclose(f);
	return rc;
}

/* ---- the socket and its filter ---- */

#define STMT(c, k) ((struct sock_filter)BPF_STMT((c), (k)))
#define JUMP(c, k, t, f) ((struct sock_filter)BPF_JUMP((c), (k), (t), (f)))

/*
 * Passes a frame to the host (PACKET_HOST: not our own replies, not another MAC), IPv4, not a
 * fragment, ICMP type 8, destination inside one of the nets. Jump offsets are 8-bit: with three
 * instructions per net, LAB_SLOWD_MAX_NETS keeps every jump short.
 */
static int attach_filter(int fd, const struct slow_net *nets, size_t n)
{
	struct sock_filter prog[16 + 3 * LAB_SLOWD_MAX_NETS];
	size_t i = 0, j;

	prog[i++] = STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PKTTYPE));
	prog[i++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_HOST, 0, 0);  /* jf: drop, patched */
	prog[i++] = STMT(BPF_LD | BPF_H | BPF_ABS, 12);
	prog[i++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 0);
	prog[i++] = STMT(BPF_LD | BPF_B | BPF_ABS, LAB_SLOWD_ETH_HLEN + 9);
	prog[i++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_ICMP, 0, 0);
	prog[i++] = STMT(BPF_LD | BPF_H | BPF_ABS, LAB_SLOWD_ETH_HLEN + 6);
	prog[i++] = JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x3fff, 0, 0);       /* MF or offset: jt drop */
	for (j = 0; j < n; j++) {
		prog[i++] = STMT(BPF_LD | BPF_W | BPF_ABS, LAB_SLOWD_ETH_HLEN + 16);
		prog[i++] = STMT(BPF_ALU | BPF_AND | BPF_K, nets[j].mask);
		prog[i++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, nets[j].net, 0, 0); /* jt: type check */
	}
	prog[i++] = STMT(BPF_RET | BPF_K, 0);                                /* no net matched */
	size_t type_check = i;
	prog[i++] = STMT(BPF_LDX | BPF_B | BPF_MSH, LAB_SLOWD_ETH_HLEN);
	prog[i++] = STMT(BPF_LD | BPF_B | BPF_IND, LAB_SLOWD_ETH_HLEN);
	prog[i++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, 8, 0, 0);
	prog[i++] = STMT(BPF_RET | BPF_K, 0xffff);
	size_t drop = i;
	prog[i++] = STMT(BPF_RET | BPF_K, 0);

	/* Patch the jumps now that the targets are known (offsets count from the next instruction). */
	prog[1].jf = (uint8_t)(drop - 2);
	prog[3].jf = (uint8_t)(drop - 4);
	prog[5].jf = (uint8_t)(drop - 6);
	prog[7].jt = (uint8_t)(drop - 8);
	for (j = 0; j < n; j++) {
		size_t at = 8 + 3 * j + 2;
		prog[at].jt = (uint8_t)(type_check - at - 1);
	}
	prog[type_check + 2].jf = (uint8_t)(drop - (type_check + 2) - 1);

	struct sock_fprog fp = { .len = (unsigned short)i, .filter = prog };
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)) != 0)
		return -errno;
	return 0;
}

static int64_t clock_offset(void)
{
	return (int64_t)now_ns(CLOCK_MONOTONIC) - (int64_t)now_ns(CLOCK_REALTIME);
}

/*
 * The socket: filtered before it is bound, so nothing unfiltered is ever queued; a receive
 * buffer for every request of a sweep's three passes over the nets' hosts (and never less than
 * 8 MiB); kernel receive timestamps.
 */
static int open_socket(struct slowd *d, const char *ifname, size_t hosts)
{
	int one = 1, rc;
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		rc = -errno;
		fprintf(stderr, "lab_slowd: cannot open a packet socket: %s\n", strerror(errno));
		return rc;
	}
	d->ifindex = (int)if_nametoindex(ifname);
	if (!d->ifindex) {
		rc = -errno;
		fprintf(stderr, "lab_slowd: no interface %s: %s\n", ifname, strerror(errno));
		goto fail;
	}
	if ((rc = attach_filter(fd, d->nets, d->n_nets)) != 0) {
		fprintf(stderr, "lab_slowd: SO_ATTACH_FILTER: %s\n", strerror(-rc));
		goto fail;
	}
	/* A request costs about 1.3 KiB of buffer (skb truesize on a veth): 3 passes, doubled. */
	uint64_t want = (uint64_t)hosts * 3 * 2 * 1280;
	int buf = want < (8u << 20) ? 8 << 20 : want > (512u << 20) ? 512 << 20 : (int)want;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) != 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf)) != 0) {
		rc = -errno;
		fprintf(stderr, "lab_slowd: SO_RCVBUF %d: %s\n", buf, strerror(errno));
		goto fail;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) != 0) {
		rc = -errno;
		fprintf(stderr, "lab_slowd: SO_TIMESTAMPNS: %s\n", strerror(errno));
		goto fail;
	}
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP),
				   .sll_ifindex = d->ifindex };
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) != 0) {
		rc = -errno;
		fprintf(stderr, "lab_slowd: bind to %s: %s\n", ifname, strerror(errno));
		goto fail;
	}
	d->fd = fd;
	return 0;
fail:
	close(fd);
	return rc;
}

/* ---- the pending heap ---- */

static void heap_swap(struct pending *a, struct pending *b)
{
	struct pending t = *a;
	*a = *b;
	*b = t;
}

static int heap_push(struct slowd *d, struct pending p)
{
	if (d->n_pending == d->cap_pending) {
		size_t cap = d->cap_pending ? d->cap_pending * 2 : 1024;
		struct pending *h;
		if (cap > LAB_SLOWD_PENDING_MAX)
			return -ENOSPC;
		h = realloc(d->heap, cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		d->heap = h;
		d->cap_pending = cap;
	}
	size_t i = d->n_pending++;
	d->heap[i] = p;
	while (i && d->heap[(i - 1) / 2].due_ns > d->heap[i].due_ns) {
		heap_swap(&d->heap[(i - 1) / 2], &d->heap[i]);
		i = (i - 1) / 2;
	}
	return 0;
}

static void heap_pop(struct slowd *d)
{
	size_t i = 0, n = --d->n_pending;
	d->heap[0] = d->heap[n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && d->heap[l].due_ns < d->heap[m].due_ns)
			m = l;
		if (r < n && d->heap[r].due_ns < d->heap[m].due_ns)
			m = r;
		if (m == i)
			return;
		heap_swap(&d->heap[i], &d->heap[m]);
		i = m;
	}
}

/* ---- requests in, replies out ---- */

/*
 * Turns one received frame into a pending reply: Ethernet addresses swapped; a fresh 20-byte IPv4
 * header from the request's destination to its source (TTL 64, options dropped, as the kernel
 * answers); ICMP type 0 with the identifier, sequence number and data echoed unchanged.
 */
static void take_request(struct slowd *d, const uint8_t *f, size_t len, uint64_t arrival_mono)
{
	if (len < LAB_SLOWD_ETH_HLEN + 20 + 8 || (f[LAB_SLOWD_ETH_HLEN] >> 4) != 4) {
		d->c.malformed++;
		return;
	}
	size_t ihl = (size_t)(f[LAB_SLOWD_ETH_HLEN] & 15) * 4, tot = get16(f + LAB_SLOWD_ETH_HLEN + 2);
	if (ihl < 20 || tot < ihl + 8 || LAB_SLOWD_ETH_HLEN + tot > len || csum(f + LAB_SLOWD_ETH_HLEN, ihl) != 0) {
		d->c.malformed++;
		return;
	}
	const uint8_t *icmp = f + LAB_SLOWD_ETH_HLEN + ihl;
	size_t icmp_len = tot - ihl;
	if (icmp[0] != 8 || icmp[1] != 0 || csum(icmp, icmp_len) != 0) {
		d->c.malformed++;
		return;
	}
	uint32_t dst = get32(f + LAB_SLOWD_ETH_HLEN + 16);
	d->c.requests++;
	uint32_t idx = dst - LAB_SLOWD_BASE;
	if (idx >= LAB_SLOWD_SPAN || !d->host_net[idx]) {
		d->c.not_alive++;
		return;
	}
	if (d->loss_pct && rng_next(&d->rng) % 100 < d->loss_pct) {
		d->c.lost++;
		return;
	}
	const struct slow_net *n = &d->nets[d->host_net[idx] - 1];
	uint64_t delay_us = n->lo_us + rng_next(&d->rng) % ((uint64_t)n->hi_us - n->lo_us + 1);
	uint32_t rlen = (uint32_t)(LAB_SLOWD_ETH_HLEN + 20 + icmp_len);
	uint8_t *r = malloc(rlen);
	if (!r) {
		d->c.overflow++;
		return;
	}
	memcpy(r, f + 6, 6);
	memcpy(r + 6, f, 6);
	r[12] = 0x08;
	r[13] = 0x00;
	uint8_t *ip = r + LAB_SLOWD_ETH_HLEN;
	ip[0] = 0x45;
	ip[1] = f[LAB_SLOWD_ETH_HLEN + 1];
	put16(ip + 2, (uint16_t)(20 + icmp_len));
	put16(ip + 4, d->ip_id++);
	put16(ip + 6, 0);
	ip[8] = 64;
	ip[9] = IPPROTO_ICMP;
	put16(ip + 10, 0);
	memcpy(ip + 12, f + LAB_SLOWD_ETH_HLEN + 16, 4);
	memcpy(ip + 16, f + LAB_SLOWD_ETH_HLEN + 12, 4);
	put16(ip + 10, csum(ip, 20));
	uint8_t *ri = ip + 20;
	memcpy(ri, icmp, icmp_len);
	ri[0] = 0;
	put16(ri + 2, 0);
	put16(ri + 2, csum(ri, icmp_len));
	struct pending p = { .due_ns = arrival_mono + delay_us * 1000, .len = rlen, .frame = r };
	if (heap_push(d, p) != 0) {
		free(r);
		d->c.overflow++;
	}
}

/* Reads what the socket holds, up to LAB_SLOWD_DRAIN_MAX frames. */
static void drain(struct slowd *d)
{
	static_assert(LAB_SLOWD_BATCH * LAB_SLOWD_FRAME_MAX <= 128 * 1024, "receive buffers stay small");
	uint8_t bufs[LAB_SLOWD_BATCH][LAB_SLOWD_FRAME_MAX];
	char ctl[LAB_SLOWD_BATCH][CMSG_SPACE(sizeof(struct timespec))];
	struct iovec iov[LAB_SLOWD_BATCH];
	struct mmsghdr msgs[LAB_SLOWD_BATCH];
	size_t total = 0;

	while (total < LAB_SLOWD_DRAIN_MAX) {
		for (int i = 0; i < LAB_SLOWD_BATCH; i++) {
			iov[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = sizeof(bufs[i]) };
			msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1,
								 .msg_control = ctl[i], .msg_controllen = sizeof(ctl[i]) } };
		}
		int n = recvmmsg(d->fd, msgs, LAB_SLOWD_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		uint64_t mono = now_ns(CLOCK_MONOTONIC);
		for (int i = 0; i < n; i++) {
			uint64_t arrival = mono;
			struct msghdr *h = &msgs[i].msg_hdr;
			for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
					struct timespec ts;
					memcpy(&ts, CMSG_DATA(c), sizeof(ts));
					int64_t a = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + d->real_to_mono_ns;
					/* A clock step between the offset's sampling and now: trust now. */
					if (a > 0 && (uint64_t)a <= mono && mono - (uint64_t)a < 1000000000u)
						arrival = (uint64_t)a;
				}
			}
			if (h->msg_flags & MSG_TRUNC)
				d->c.malformed++;
			else
				take_request(d, bufs[i], msgs[i].msg_len, arrival);
		}
		total += (size_t)n;
		if (n < LAB_SLOWD_BATCH)
			return;
	}
}

/* Sends every reply that is due, in batches. */
static void send_due(struct slowd *d)
{
	struct iovec iov[LAB_SLOWD_BATCH];
	struct mmsghdr msgs[LAB_SLOWD_BATCH];
	uint8_t *frames[LAB_SLOWD_BATCH];
	uint64_t due[LAB_SLOWD_BATCH];

	for (;;) {
		uint64_t now = now_ns(CLOCK_MONOTONIC);
		int n = 0;
		while (n < LAB_SLOWD_BATCH && d->n_pending && d->heap[0].due_ns <= now) {
			frames[n] = d->heap[0].frame;
			due[n] = d->heap[0].due_ns;
			iov[n] = (struct iovec){ .iov_base = frames[n], .iov_len = d->heap[0].len };
			msgs[n] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[n], .msg_iovlen = 1 } };
			heap_pop(d);
			n++;
		}
		if (!n)
			return;
		int sent = sendmmsg(d->fd, msgs, (unsigned)n, 0);
		if (sent < 0)
			sent = 0;
		uint64_t after = now_ns(CLOCK_MONOTONIC);
		for (int i = 0; i < n; i++) {
			if (i < sent) {
				uint64_t late_us = (after - due[i]) / 1000;
				d->c.replies++;
				if (late_us > d->c.late_max_us)
					d->c.late_max_us = late_us;
				if (late_us > 1000)
					d->c.late_over_1ms++;
			} else {
				d->c.send_errors++;
			}
			free(frames[i]);
		}
	}
}

/* ---- stats ---- */

static void refresh_kernel_drops(struct slowd *d)
{
	struct tpacket_stats st;
	socklen_t len = sizeof(st);
	/* Reading resets the kernel's counters: keep the sum. */
	if (getsockopt(d->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
		d->c.kernel_drops += st.tp_drops;
}

static void write_stats(struct slowd *d, bool force)
{
	refresh_kernel_drops(d);
	if (!force && !memcmp(&d->c, &d->c_written, sizeof(d->c)))
		return;
	FILE *f = fopen(d->stats_tmp, "w");
	if (!f)
		return;
	fprintf(f, "pid %ld\nrequests %llu\nreplies %llu\npending %zu\nlost %llu\nnot_alive %llu\n"
		   "malformed %llu\noverflow %llu\nsend_errors %llu\nkernel_drops %llu\nlate_max_us %llu\n"
		   "late_over_1ms %llu\n",
		(long)getpid(), (unsigned long long)d->c.requests, (unsigned long long)d->c.replies, d->n_pending,
		(unsigned long long)d->c.lost, (unsigned long long)d->c.not_alive,
		(unsigned long long)d->c.malformed, (unsigned long long)d->c.overflow,
		(unsigned long long)d->c.send_errors, (unsigned long long)d->c.kernel_drops,
		(unsigned long long)d->c.late_max_us, (unsigned long long)d->c.late_over_1ms);
	if (fclose(f) == 0 && rename(d->stats_tmp, d->stats_path) == 0)
		d->c_written = d->c;
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(stderr, "usage: lab_slowd --iface IF --net CIDR:LO-HI [--net ...] --hosts FILE [--loss PCT] "
			"--stats FILE (started by tools/lab up --slow)\n");
}

static int run(struct slowd *d)
{
	for (;;) {
		struct pollfd fds[2] = { { .fd = d->fd, .events = POLLIN }, { .fd = d->sigfd, .events = POLLIN } };
		uint64_t now = now_ns(CLOCK_MONOTONIC);
		uint64_t wake = d->next_stats_ns;
		if (d->n_pending && d->heap[0].due_ns < wake)
			wake = d->heap[0].due_ns;
		uint64_t wait = wake > now ? wake - now : 0;
		struct timespec ts = { .tv_sec = (time_t)(wait / 1000000000u), .tv_nsec = (long)(wait % 1000000000u) };
		if (ppoll(fds, 2, &ts, NULL) < 0 && errno != EINTR)
			return -errno;
		if (fds[1].revents)
			return 0;
		if (fds[0].revents & POLLIN)
			drain(d);
		send_due(d);
		now = now_ns(CLOCK_MONOTONIC);
		if (now >= d->next_stats_ns) {
			write_stats(d, false);
			d->real_to_mono_ns = clock_offset();
			d->next_stats_ns = now + 1000000000u;
		}
	}
}

int main(int argc, char **argv)
{
	struct slowd d = { .fd = -1, .sigfd = -1 };
	const char *ifname = NULL, *hosts = NULL;
	size_t n_hosts = 0;
	int rc = 1;
	sigset_t sigs;

	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			usage();
			return 2;
		}
		if (!strcmp(argv[i], "--iface")) {
			ifname = v;
		} else if (!strcmp(argv[i], "--hosts")) {
			hosts = v;
		} else if (!strcmp(argv[i], "--stats")) {
			d.stats_path = v;
		} else if (!strcmp(argv[i], "--loss")) {
			uint32_t pct;
			if (parse_uint(v, v + strlen(v), 100, &pct)) {
				fprintf(stderr, "lab_slowd: --loss must be 0-100, got '%s'\n", v);
				return 2;
			}
			d.loss_pct = pct;
		} else if (!strcmp(argv[i], "--net")) {
			if (d.n_nets == LAB_SLOWD_MAX_NETS) {
				fprintf(stderr, "lab_slowd: at most %d --net\n", LAB_SLOWD_MAX_NETS);
				return 2;
			}
			if (parse_net(v, &d.nets[d.n_nets])) {
				fprintf(stderr, "lab_slowd: --net must be CIDR:LO-HI inside 198.18.0.0/15, got '%s'\n", v);
				return 2;
			}
			d.n_nets++;
		} else {
			usage();
			return 2;
		}
		i++;
	}
	if (!ifname || !hosts || !d.stats_path || !d.n_nets) {
		usage();
		return 2;
	}
	if (asprintf(&d.stats_tmp, "%s.tmp", d.stats_path) < 0)
		return 1;
	d.host_net = calloc(LAB_SLOWD_SPAN, 1);
	if (!d.host_net)
		goto out;
	if (load_hosts(&d, hosts) != 0)
		goto out;
	for (uint32_t i = 0; i < LAB_SLOWD_SPAN; i++)
		n_hosts += d.host_net[i] != 0;
	if (getrandom(&d.rng, sizeof(d.rng), 0) != sizeof(d.rng))
		d.rng = now_ns(CLOCK_REALTIME) ^ (uint64_t)getpid() << 32;
	d.ip_id = (uint16_t)rng_next(&d.rng);

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &sigs, NULL) != 0 || (d.sigfd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0) {
		fprintf(stderr, "lab_slowd: signalfd: %s\n", strerror(errno));
		goto out;
	}
	/*
	 * Due times are met to the microsecond when the scheduler lets it run, and a sweep keeps
	 * every core busy: the lowest real-time priority lets it preempt the sweeper's threads (it
	 * only ever sleeps in ppoll, and the kernel's RT throttling bounds it anyway); without
	 * CAP_SYS_NICE for that, a high nice value.
	 */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	struct sched_param sp = { .sched_priority = 1 };
	if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) != 0 && setpriority(PRIO_PROCESS, 0, -10) != 0)
		fprintf(stderr, "lab_slowd: warning: cannot raise priority: %s\n", strerror(errno));
	int e = open_socket(&d, ifname, n_hosts);
	if (e != 0)
		goto out; /* open_socket() said why */
	d.real_to_mono_ns = clock_offset();
	write_stats(&d, true); /* tools/lab waits for this: the socket is open and filtered */
	d.next_stats_ns = now_ns(CLOCK_MONOTONIC) + 1000000000u;
	e = run(&d);
	write_stats(&d, true);
	if (e != 0) {
		fprintf(stderr, "lab_slowd: poll: %s\n", strerror(-e));
		goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < d.n_pending; i++)
		free(d.heap[i].frame);
	free(d.heap);
	if (d.fd >= 0)
		close(d.fd);
	if (d.sigfd >= 0)
		close(d.sigfd);
	free(d.host_net);
	free(d.stats_tmp);
	return rc;
}
