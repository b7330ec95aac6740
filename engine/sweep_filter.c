/* SPDX-License-Identifier: MIT */
/* sweep_filter.c: a sweep's filter text, and its program compiled at build time (see sweep_filter.h). */
#include "sweep_filter.h"

#include "err.h"

#include <stdio.h>
#include <string.h>

int sweep_filter_text(const struct probe_ops *const *probes, unsigned n, char *buf, size_t len)
{
	size_t off = 0;

	if (!len)
		return LNMT_E_TOOBIG;
	buf[0] = '\0';
	for (unsigned i = 0; i < n; i++) {
		int k = snprintf(buf + off, len - off, "%s(%s)", i ? " or " : "", probes[i]->bpf_filter);
		if (k < 0 || (size_t)k >= len - off)
			return LNMT_E_TOOBIG;
		off += (size_t)k;
	}
	return 0;
}

const struct sweep_filter_prog *sweep_filter_find(const char *text, bool ip)
{
	for (size_t i = 0; i < sweep_filter_count; i++)
		if (sweep_filter_progs[i].ip == ip && strcmp(sweep_filter_progs[i].text, text) == 0)
			return &sweep_filter_progs[i];
	return NULL;
}
