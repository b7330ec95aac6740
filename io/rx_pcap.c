/* SPDX-License-Identifier: MIT */
/* rx_pcap.c: libpcap loaded on demand (see rx_pcap.h). */
#include "rx_pcap.h"

#include "err.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

/* Debian's name for it first, then other distributions'. */
static const char *const names[] = { "libpcap.so.0.8", "libpcap.so.1", "libpcap.so" };

int rx_pcap_load(struct rx_pcap *p, char *err, size_t errlen)
{
	const char *why = "";

	if (p->dl)
		return 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !p->dl; i++)
		if (!(p->dl = dlopen(names[i], RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)))
			why = dlerror();
	if (!p->dl) {
		snprintf(err, errlen, "cannot load libpcap (%s): install libpcap0.8", why ? why : "not found");
		return LNMT_E_PCAP;
	}
	/* POSIX's way to take a function from dlsym(): through the pointer's own storage. */
#define RX_PCAP_RESOLVE(name)                                                                 \
	if (!(*(void **)&p->name = dlsym(p->dl, "pcap_" #name))) {                            \
		snprintf(err, errlen, "libpcap has no pcap_%s: it is older than 1.5", #name); \
		rx_pcap_unload(p);                                                             \
		return LNMT_E_PCAP;                                                            \
	}
	RX_PCAP_FUNCTIONS(RX_PCAP_RESOLVE)
#undef RX_PCAP_RESOLVE
	return 0;
}

void rx_pcap_unload(struct rx_pcap *p)
{
	if (p->dl)
		dlclose(p->dl);
	memset(p, 0, sizeof(*p));
}
