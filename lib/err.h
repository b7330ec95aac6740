/* SPDX-License-Identifier: MIT */
/* err.h: lnmt's error convention: 0 on success, -errno or a negative LNMT_E* code on failure. */
#ifndef LNMT_ERR_H
#define LNMT_ERR_H

/*
 * Project-specific codes live below LNMT_E_BASE so they never collide with -errno values
 * (errno values are small positive ints; Linux stays below 4096).
 */
enum lnmt_err {
	LNMT_E_BASE = -10000,
	LNMT_E_PARSE = LNMT_E_BASE - 1,    /* malformed user input (target, port, option) */
	LNMT_E_EMPTY = LNMT_E_BASE - 2,    /* nothing left to do (e.g. all targets excluded) */
	LNMT_E_TOOBIG = LNMT_E_BASE - 3,   /* a size or count beyond what is supported */
	LNMT_E_NOROUTE = LNMT_E_BASE - 4,  /* no route / interface for the targets */
	LNMT_E_NONEIGH = LNMT_E_BASE - 5,  /* next-hop MAC could not be resolved */
	LNMT_E_ONLINK = LNMT_E_BASE - 6,   /* IP probes to on-link targets without a next-hop MAC */
	LNMT_E_PCAP = LNMT_E_BASE - 7,     /* libpcap failed; details in the caller's message */
	LNMT_E_LIBNET = LNMT_E_BASE - 8,   /* libnet failed to build a frame */
};

/* Names an lnmt return code: strerror() for -errno, a fixed text for LNMT_E_*. Never NULL. */
const char *lnmt_strerror(int rc);

#endif
