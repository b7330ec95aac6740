/* SPDX-License-Identifier: MIT */
/* err.c: names for lnmt return codes. */
#include "err.h"

#include <string.h>

const char *lnmt_strerror(int rc)
{
	switch (rc) {
	case 0: return "success";
	case LNMT_E_PARSE: return "malformed input";
	case LNMT_E_EMPTY: return "nothing to do";
	case LNMT_E_TOOBIG: return "too large";
	case LNMT_E_NOROUTE: return "no route to the targets";
	case LNMT_E_NONEIGH: return "next-hop MAC address could not be resolved";
	case LNMT_E_ONLINK: return "targets are on-link: IP probes need a next-hop MAC";
	case LNMT_E_PCAP: return "packet capture failed";
	case LNMT_E_LIBNET: return "libnet could not build the frame";
	default: break;
	}
	if (rc < 0 && rc > LNMT_E_BASE)
		return strerror(-rc);
	return "unknown error";
}
