/* SPDX-License-Identifier: MIT */
/*
 * rx_pcap.h: libpcap for rx.c, loaded with dlopen() when a capture needs it (a ring, or a
 * filter to compile) instead of linked into every program: libpcap pulls in libdbus and, through
 * it, libsystemd, libgcrypt, liblzma, libzstd, liblz4, libcap and libgpg-error, ~0.6 ms of start-up
 * for each process, which a small sweep, a client of lnmtd or a query never needs. The library
 * stays loaded once loaded (RTLD_NODELETE), so the daemon's next sweep finds it at once.
 */
#ifndef LNMT_RX_PCAP_H
#define LNMT_RX_PCAP_H

#include <pcap/pcap.h>
#include <stddef.h>

/* The functions rx.c calls, by their names in libpcap without the pcap_ prefix. */
#define RX_PCAP_FUNCTIONS(X)                                                                        \
	X(create) X(set_snaplen) X(set_promisc) X(set_immediate_mode) X(set_timeout)               \
	X(set_buffer_size) X(set_tstamp_precision) X(activate) X(geterr) X(setdirection) X(compile) \
	X(setfilter) X(freecode) X(setnonblock) X(get_selectable_fd) X(dispatch) X(stats) X(close)  \
	X(open_dead)

struct rx_pcap {
	void *dl; /* NULL: not loaded */
#define RX_PCAP_POINTER(name) __typeof__(pcap_##name) *name;
	RX_PCAP_FUNCTIONS(RX_PCAP_POINTER)
#undef RX_PCAP_POINTER
};

/* Loads libpcap into p (a no-op if p is loaded). Returns 0, or LNMT_E_PCAP saying why in err. */
int rx_pcap_load(struct rx_pcap *p, char *err, size_t errlen);

/* Drops p's reference (the library itself stays); p may be unloaded. */
void rx_pcap_unload(struct rx_pcap *p);

#endif
