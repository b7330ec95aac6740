/* SPDX-License-Identifier: MIT */
/*
 * rx.h: the reply receiver, libpcap on one interface, inbound only (so the scanner's own
 * frames and its kernel's RSTs are never seen), frames handed over in blocks retired within
 * 1 ms (few wake-ups, and a sweep still ends right after its last reply), a large kernel ring,
 * and the caller's BPF filter. Timestamps are the kernel's arrival times converted to
 * CLOCK_MONOTONIC ns, so RTTs do not include time spent waiting in the ring.
 * One thread uses an rx at a time.
 */
#ifndef LNMT_RX_H
#define LNMT_RX_H

#include <stddef.h>
#include <stdint.h>

struct rx;

typedef void (*rx_frame_cb)(void *ctx, const uint8_t *frame, size_t len, uint64_t ts_ns);

/*
 * Opens capture on ifname with filter (pcap syntax). buffer_bytes is the kernel ring size.
 * Returns 0, -EPERM without CAP_NET_RAW, LNMT_E_PCAP with libpcap's text in err.
 */
int rx_open(struct rx **out, const char *ifname, const char *filter, size_t buffer_bytes,
	    char *err, size_t errlen);

/* Waits up to timeout_ms for frames, then hands every queued frame to cb. Returns the number
 * handled or a negative error. */
int rx_dispatch(struct rx *rx, rx_frame_cb cb, void *ctx, int timeout_ms);

/* Frames the kernel dropped because the ring was full (pcap_stats ps_drop). */
uint64_t rx_dropped(struct rx *rx);

void rx_close(struct rx *rx);

#endif
