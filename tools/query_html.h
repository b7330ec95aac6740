/* SPDX-License-Identifier: MIT */
/* query_html.h: `lnmt report uptime --format html`, the standalone report (api/report_html.h). */
#ifndef LNMT_QUERY_HTML_H
#define LNMT_QUERY_HTML_H

#include <stdint.h>
#include <stdio.h>

struct store;
struct rpc_client;

/* The query commands' format value for --format html, past enum out_format (output.h): only
 * `lnmt report uptime` takes it, and scan's output never sees it. */
#define QUERY_OUT_HTML 16

struct query_html_req {
	uint64_t since_us;       /* start of the period */
	const char *since_text;  /* as the user wrote it ("7d"); NULL = the default, 24h */
	uint32_t net, mask;      /* --subnet; mask 0 = all */
	const char *cidr;        /* --subnet as given; NULL = all */
};

/*
 * Writes the report to out, reading from lnmtd when cl is set, else from st (exactly one is
 * set): the uptime per hour chart, the up/down charts per /24 and per vendor, and the per-device
 * uptime rows. Both sources give the same page for the same store, but for the times in its
 * header (generation, period start). Prints its errors; returns 0 or 1 (the exit status).
 */
int query_report_uptime_html(FILE *out, struct store *st, struct rpc_client *cl, const struct query_html_req *req);

#endif
