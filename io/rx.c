/* SPDX-License-Identifier: MIT */
/* rx.c: libpcap capture for replies (see rx.h for the choices made). */
#include "rx.h"

#include "err.h"

#include <errno.h>
#include <linux/if_packet.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RX_SNAPLEN 128 /* every reply we parse fits: Ethernet + IPv4 (+options) + L4 header + 16 bytes */

struct rx {
	pcap_t *pcap;
	int fd;
	int64_t realtime_to_mono_ns; /* add to a kernel (CLOCK_REALTIME) timestamp */
	rx_frame_cb cb;
	void *ctx;
};

static int64_t clock_offset_ns(void)
{
	struct timespec rt, mono;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	return ((int64_t)mono.tv_sec - rt.tv_sec) * 1000000000 + (mono.tv_nsec - rt.tv_nsec);
}

static int pcap_fail(struct rx *rx, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", what, pcap_geterr(rx->pcap));
	return LNMT_E_PCAP;
}

int rx_open(struct rx **out, const char *ifname, const char *filter, size_t buffer_bytes,
	    char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct bpf_program prog;
	struct rx *rx = calloc(1, sizeof(*rx));
	int rc;

	if (!rx)
		return -ENOMEM;
	rx->pcap = pcap_create(ifname, ebuf);
	if (!rx->pcap) {
		snprintf(err, errlen, "pcap_create(%s): %s", ifname, ebuf);
		rc = LNMT_E_PCAP;
		goto fail;
	}
	pcap_set_snaplen(rx->pcap, RX_SNAPLEN);
	pcap_set_promisc(rx->pcap, 0);
	/* Not immediate mode: that gives TPACKET_V2, where every reply wakes the receiver (measured:
	 * ~30% of a sweep's CPU in wake-ups). TPACKET_V3 hands over blocks of frames, retired at the
	 * latest after 1 ms, so a sweep still ends within 1 ms of its last reply. */
	pcap_set_immediate_mode(rx->pcap, 0);
	pcap_set_timeout(rx->pcap, 1);
	pcap_set_buffer_size(rx->pcap, (int)buffer_bytes);
	pcap_set_tstamp_precision(rx->pcap, PCAP_TSTAMP_PRECISION_NANO);
	rc = pcap_activate(rx->pcap);
	if (rc == PCAP_ERROR_PERM_DENIED) {
		snprintf(err, errlen, "capture on %s needs CAP_NET_RAW", ifname);
		rc = -EPERM;
		goto fail;
	}
	if (rc < 0) {
		rc = pcap_fail(rx, "pcap_activate", err, errlen);
		goto fail;
	}
	if (pcap_setdirection(rx->pcap, PCAP_D_IN) < 0) {
		rc = pcap_fail(rx, "pcap_setdirection", err, errlen);
		goto fail;
	}
	if (pcap_compile(rx->pcap, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		rc = pcap_fail(rx, "pcap_compile", err, errlen);
		goto fail;
	}
	rc = pcap_setfilter(rx->pcap, &prog);
	pcap_freecode(&prog);
	if (rc < 0) {
		rc = pcap_fail(rx, "pcap_setfilter", err, errlen);
		goto fail;
	}
	if (pcap_setnonblock(rx->pcap, 1, ebuf) < 0 || (rx->fd = pcap_get_selectable_fd(rx->pcap)) < 0) {
		snprintf(err, errlen, "pcap_setnonblock: %s", ebuf);
		rc = LNMT_E_PCAP;
		goto fail;
	}
	/* PCAP_D_IN drops our own probes only after the kernel has cloned each one for this socket
	 * (dev_queue_xmit_nit: ~5% of a sweep's CPU); this option skips the clone. Best effort: the
	 * direction filter stays as the safety net on kernels without it (before 4.20). */
	int one = 1;
	setsockopt(rx->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	rx->realtime_to_mono_ns = clock_offset_ns();
	*out = rx;
	return 0;
fail:
	rx_close(rx);
	return rc;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct rx *rx = (struct rx *)user;
	/* With nanosecond precision requested, tv_usec holds nanoseconds. */
	int64_t ts = (int64_t)h->ts.tv_sec * 1000000000 + h->ts.tv_usec + rx->realtime_to_mono_ns;
	rx->cb(rx->ctx, bytes, h->caplen, (uint64_t)ts);
}

int rx_dispatch(struct rx *rx, rx_frame_cb cb, void *ctx, int timeout_ms)
{
	struct pollfd pfd = { .fd = rx->fd, .events = POLLIN };
	int total = 0, n;

	rx->cb = cb;
	rx->ctx = ctx;
	if (timeout_ms > 0 && poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	/* Non-blocking dispatch returns 0 once the ring is empty. */
	while ((n = pcap_dispatch(rx->pcap, -1, on_packet, (u_char *)rx)) > 0)
		total += n;
	if (n == PCAP_ERROR)
		return LNMT_E_PCAP;
	return total;
}

uint64_t rx_dropped(struct rx *rx)
{
	struct pcap_stat st;
	if (pcap_stats(rx->pcap, &st) < 0)
		return 0;
	return st.ps_drop;
}

void rx_close(struct rx *rx)
{
	if (!rx)
		return;
	if (rx->pcap)
		pcap_close(rx->pcap);
	free(rx);
}
