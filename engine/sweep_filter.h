/* SPDX-License-Identifier: MIT */
/*
 * sweep_filter.h: a sweep's capture filter. Its text is the pcap syntax of the sweep's probes,
 * or-ed in their order; every such text lnmt can make (each ordered choice of distinct probes)
 * is also compiled at build time (bpfgen.c writes sweep_filters.c), so the capture of a small
 * sweep, a packet socket, attaches the program without loading libpcap: libpcap and the dozen
 * libraries it pulls in cost every process that links them ~0.6 ms to start, a tenth of a /24.
 */
#ifndef LNMT_SWEEP_FILTER_H
#define LNMT_SWEEP_FILTER_H

#include "probe/probe.h"

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>

/* A filter compiled as rx.c would compile it: pcap_compile(), optimized, for Ethernet frames
 * cut to RX_SNAPLEN bytes, or (ip) for IPv4 packets cut to RX_SNAPLEN - 14 (DLT_RAW: what a raw
 * IPv4 socket's filter sees). */
struct sweep_filter_prog {
	const char *text;
	bool ip;
	unsigned short len;
	const struct sock_filter *insns;
};

/* The filter text of probes[0..n-1]: "(f1) or (f2) ..." of their bpf_filter, into buf. Returns 0
 * or LNMT_E_TOOBIG. */
int sweep_filter_text(const struct probe_ops *const *probes, unsigned n, char *buf, size_t len);

/* The program compiled at build time for exactly this text (for IPv4 packets when ip), or NULL. */
const struct sweep_filter_prog *sweep_filter_find(const char *text, bool ip);

/* The table bpfgen wrote (sweep_filters.c): every ordered choice of distinct probes, for
 * Ethernet frames, and those without ARP for IPv4 packets too. */
extern const struct sweep_filter_prog sweep_filter_progs[];
extern const size_t sweep_filter_count;

#endif
