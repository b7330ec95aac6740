/* SPDX-License-Identifier: MIT */
/*
 * ceiling.c: what this machine's kernel lets any scanner reach in the lab. Prebuilds one ICMP
 * echo frame per target (60 bytes: the Ethernet minimum), then blasts them in batches through
 * io/tx, once with nobody capturing and once with libpcap capturing the replies on another
 * thread, and prints the send rate of each. No per-packet work is left but the syscall, so
 * lnmt's own rate divided by this is the share of the machine it uses. Like lnmt, it blasts from
 * one thread per CPU (each its own socket and slice of the frames); --threads 1 shows one core.
 * Run inside the lab: ip netns exec lnmt-scan bench/ceiling [-i lab0] [--count N] [--tx KIND]
 *                                                          [--threads N]
 */
#include "clock.h"
#include "err.h"
#include "netinfo.h"
#include "probe.h"
#include "rx.h"
#include "tx.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FRAME_LEN 60
#define BATCH 64
#define FIRST_TARGET 0xc6130000u /* 198.19.0.0: the lab's routed /16 */

struct capture {
	struct rx *rx;
	uint64_t replies;
	int stop;
};

static void count_frame(void *ctx, const uint8_t *f, size_t len, uint64_t ts)
{
	(void)f, (void)len, (void)ts;
	((struct capture *)ctx)->replies++;
}

static void *capture_main(void *arg)
{
	struct capture *c = arg;
	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE))
		rx_dispatch(c->rx, count_frame, c, 20);
	rx_dispatch(c->rx, count_frame, c, 0);
	return NULL;
}

static void build_frames(uint8_t *frames, uint32_t count, const uint8_t src_mac[6],
			 const uint8_t dst_mac[6], uint32_t src_ip)
{
	for (uint32_t i = 0; i < count; i++) {
		uint8_t *f = frames + (size_t)i * FRAME_LEN, *ip = f + 14, *icmp = ip + 20;
		memset(f, 0, FRAME_LEN);
		memcpy(f, dst_mac, 6);
		memcpy(f + 6, src_mac, 6);
		put_be16(f + 12, 0x0800);
		ip[0] = 0x45;
		put_be16(ip + 2, FRAME_LEN - 14);
		ip[8] = 64;
		ip[9] = 1;
		put_be32(ip + 12, src_ip);
		put_be32(ip + 16, FIRST_TARGET + (i & 0xffff));
		probe_ipv4_fix_csum(ip);
		icmp[0] = 8;
		put_be16(icmp + 4, (uint16_t)i);
		put_be16(icmp + 2, probe_csum(icmp, FRAME_LEN - 34, 0));
	}
}

struct blaster {
	enum tx_kind kind;
	int ifindex;
	const uint8_t *frames; /* this thread's slice */
	uint32_t count;
	const char *name;
	pthread_t thread;
};

static void *blast_main(void *arg)
{
	struct blaster *b = arg;
	struct tx *tx;
	uint16_t lens[BATCH];
	int rc = tx_open(&tx, b->kind, b->ifindex, BATCH, FRAME_LEN);

	if (rc) {
		fprintf(stderr, "ceiling: cannot open sender: %s\n", lnmt_strerror(rc));
		exit(1);
	}
	b->name = tx_name(tx);
	for (unsigned i = 0; i < BATCH; i++)
		lens[i] = FRAME_LEN;
	for (uint32_t done = 0; done < b->count;) {
		unsigned n = b->count - done < BATCH ? b->count - done : BATCH, sent;
		/* The copy stands for the template copy every scanner does; the frames are final. */
		for (unsigned i = 0; i < n; i++)
			memcpy(tx_frame(tx, i), b->frames + (size_t)(done + i) * FRAME_LEN, FRAME_LEN);
		if ((rc = tx_send(tx, lens, n, &sent))) {
			fprintf(stderr, "ceiling: send: %s\n", lnmt_strerror(rc));
			exit(1);
		}
		done += n;
	}
	tx_close(tx);
	return NULL;
}

/* Sends all frames from `threads` threads at once; returns frames per second. */
static double blast(enum tx_kind kind, int ifindex, const uint8_t *frames, uint32_t count,
		    unsigned threads, const char **name)
{
	struct blaster b[16];
	uint32_t per = count / threads;

	uint64_t t0 = clock_now_ns();
	for (unsigned k = 0; k < threads; k++) {
		b[k] = (struct blaster){ .kind = kind, .ifindex = ifindex,
					 .frames = frames + (size_t)k * per * FRAME_LEN,
					 .count = k + 1 == threads ? count - per * k : per };
		pthread_create(&b[k].thread, NULL, blast_main, &b[k]);
	}
	for (unsigned k = 0; k < threads; k++)
		pthread_join(b[k].thread, NULL);
	double secs = (clock_now_ns() - t0) / 1e9;
	*name = b[0].name;
	return count / secs;
}

int main(int argc, char **argv)
{
	const char *ifname = "lab0", *txs = "mmsg";
	uint32_t count = 65536;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned threads = cpus < 1 ? 1 : cpus > 16 ? 16 : (unsigned)cpus;
	char err[256];
	int ifindex;
	uint8_t src_mac[6], gw_mac[6];
	uint32_t src_ip;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-i") && i + 1 < argc)
			ifname = argv[++i];
		else if (!strcmp(argv[i], "--count") && i + 1 < argc)
			count = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--tx") && i + 1 < argc)
			txs = argv[++i];
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = (unsigned)strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: ceiling [-i IF] [--count N] [--tx mmsg|uring] [--threads N]\n");
			return 2;
		}
	}
	int kind = tx_kind_parse(txs);
	if (kind < 0 || !count || threads < 1 || threads > 16) {
		fprintf(stderr, "ceiling: bad --tx, --count or --threads (1-16)\n");
		return 2;
	}
	if (netinfo_ifindex(ifname, &ifindex) || netinfo_if_mac(ifname, src_mac) ||
	    netinfo_if_ipv4(ifname, &src_ip)) {
		fprintf(stderr, "ceiling: interface %s not usable (run inside the lab namespace)\n", ifname);
		return 1;
	}
	struct net_route route;
	if (netinfo_route(FIRST_TARGET, &route) || !route.has_gateway ||
	    netinfo_next_hop_mac(ifindex, src_mac, src_ip, route.gateway, gw_mac)) {
		fprintf(stderr, "ceiling: no gateway to 198.19.0.0/16 (is the lab up?)\n");
		return 1;
	}
	uint8_t *frames = malloc((size_t)count * FRAME_LEN);
	if (!frames)
		return 1;
	build_frames(frames, count, src_mac, gw_mac, src_ip);

	const char *name;
	double bare = blast((enum tx_kind)kind, ifindex, frames, count, threads, &name);

	struct capture cap = { 0 };
	pthread_t th;
	struct rx_config rc = { .ifname = ifname, .filter = "icmp[icmptype] == icmp-echoreply",
				.buffer_bytes = 16u << 20, .kind = RX_RING };
	if (rx_open(&cap.rx, &rc, err, sizeof(err))) {
		fprintf(stderr, "ceiling: %s\n", err);
		return 1;
	}
	pthread_create(&th, NULL, capture_main, &cap);
	double captured = blast((enum tx_kind)kind, ifindex, frames, count, threads, &name);
	__atomic_store_n(&cap.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	rx_close(cap.rx);
	printf("ceiling: %u frames of %d bytes, tx %s, %u thread%s: %.0f pps without capture, %.0f pps "
	       "with capture (%llu replies captured)\n",
	       count, FRAME_LEN, name, threads, threads == 1 ? "" : "s", bare, captured,
	       (unsigned long long)cap.replies);
	free(frames);
	return 0;
}
