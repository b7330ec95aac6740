/* SPDX-License-Identifier: MIT */
/*
 * query_html.c: `lnmt report uptime --format html`. Gathers what the report shows from the
 * store or from lnmtd (the same callbacks serve both, as for the text formats) into plain
 * arrays, and hands them to api/report_html.c, the renderer lnmt-http's dashboard shares.
 */
#include "query_html.h"

#include "cli.h"
#include "client_cmd.h"
#include "err.h"
#include "report_html.h"
#include "store.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define HTML_MAX_BARS 30  /* /24s in the bar chart: the ones with the most devices */
#define HTML_MAX_LINES 7  /* lines in the hourly chart: one colour each */
#define HOUR_US 3600000000ull

/* ---- rows and subnets, from either source ---- */

struct rows_ctx {
	struct report_uptime_row *v;
	size_t n, cap;
	int err;
};

/* client_report_uptime ignores the callback's return, so a failed growth is remembered. */
static int add_row(void *ctx, const struct store_uptime *u)
{
	struct rows_ctx *r = ctx;

	if (r->err)
		return 1;
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 1024;
		struct report_uptime_row *v = realloc(r->v, cap * sizeof(*v));
		if (!v) {
			r->err = -ENOMEM;
			return 1;
		}
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = (struct report_uptime_row){ .ip = u->ip, .up = u->state == STORE_STATE_UP,
						   .uptime_pct = u->uptime_pct, .probes = u->probes,
						   .answers = u->answers, .changes = u->changes };
	return 0;
}

struct subnets_ctx {
	struct store_subnet_summary *v;
	size_t n, cap;
	int err;
};

static int add_subnet(void *ctx, const struct store_subnet_summary *s)
{
	struct subnets_ctx *c = ctx;

	if (c->err)
		return 1;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 256;
		struct store_subnet_summary *v = realloc(c->v, cap * sizeof(*v));
		if (!v) {
			c->err = -ENOMEM;
			return 1;
		}
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = *s;
	return 0;
}

static int by_devices_desc(const void *a, const void *b)
{
	const struct store_subnet_summary *x = a, *y = b;
	uint64_t nx = (uint64_t)x->up + x->down, ny = (uint64_t)y->up + y->down;
	if (nx != ny)
		return nx > ny ? -1 : 1;
	return x->net < y->net ? -1 : x->net > y->net;
}

static int by_net(const void *a, const void *b)
{
	const struct store_subnet_summary *x = a, *y = b;
	return x->net < y->net ? -1 : x->net > y->net;
}

static void net_label(uint32_t net, unsigned prefix, char *buf, size_t len)
{
	if (prefix == 0)
		snprintf(buf, len, "all devices");
	else
		snprintf(buf, len, "%u.%u.%u.%u/%u", (uint8_t)(net >> 24), (uint8_t)(net >> 16), (uint8_t)(net >> 8),
			 (uint8_t)net, (uint8_t)prefix);
}

/* ---- the hourly series (store only) ---- */

struct series_ctx {
	uint32_t hour0;
	size_t n_points;
	size_t n_groups;
	uint32_t nets[HTML_MAX_LINES];
	uint64_t *probes, *answers; /* [group * n_points + i] */
};

static int add_point(void *ctx, const struct store_series_point *p)
{
	struct series_ctx *s = ctx;
	size_t g;

	if (p->hour < s->hour0 || p->hour - s->hour0 >= s->n_points)
		return 0; /* a clock that went back: outside the chart */
	for (g = 0; g < s->n_groups && s->nets[g] != p->net; g++)
		;
	if (g == s->n_groups) {
		if (g == HTML_MAX_LINES)
			return 0; /* store_series_prefix chose the prefix, so only a concurrent sweep gets here */
		s->nets[s->n_groups++] = p->net;
	}
	size_t i = g * s->n_points + (p->hour - s->hour0);
	s->probes[i] += p->probes;
	s->answers[i] += p->answers;
	return 0;
}

struct lines_data {
	struct chart_series series[HTML_MAX_LINES];
	char labels[HTML_MAX_LINES][24];
	double *y;
	char title[64];
};

/*
 * Fills c (and d, which owns the memory) with uptime per hour per group of /24s, at the longest
 * prefix that gives at most HTML_MAX_LINES lines. *note explains an empty chart.
 */
static int hourly_chart(struct store *st, const struct query_html_req *req, uint64_t now_us, struct chart_lines *c,
			struct lines_data *d, const char **note)
{
	struct series_ctx s = { 0 };
	uint32_t net = req->net, mask = req->mask;
	unsigned prefix;
	int rc;

	*c = (struct chart_lines){ .title = "Uptime per hour", .y_unit = "%", .step_s = 3600 };
	*note = "Share of probes answered in each hour (UTC); a gap is an hour without a sweep there.";
	if (!store_has_series(st)) {
		*note = "This store keeps no hourly counts yet (written by an older lnmt, opened read-only).";
		return 0;
	}
	/* The counts are per /24: a longer --subnet charts its /24. */
	if (mask > 0xffffff00u) {
		mask = 0xffffff00u;
		net &= mask;
	}
	if ((rc = store_series_prefix(st, req->since_us, net, mask, 24, HTML_MAX_LINES, &prefix, NULL)))
		return rc;
	s.hour0 = (uint32_t)(req->since_us / HOUR_US);
	s.n_points = now_us / HOUR_US >= s.hour0 ? now_us / HOUR_US - s.hour0 + 1 : 1;
	s.probes = calloc(HTML_MAX_LINES * s.n_points, sizeof(uint64_t));
	s.answers = calloc(HTML_MAX_LINES * s.n_points, sizeof(uint64_t));
	d->y = malloc(HTML_MAX_LINES * s.n_points * sizeof(double));
	if (!s.probes || !s.answers || !d->y) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = store_uptime_series(st, req->since_us, net, mask, prefix, add_point, &s)))
		goto out;

	/* Lines in network order, whatever order the hours brought them in. */
	size_t order[HTML_MAX_LINES];
	for (size_t g = 0; g < s.n_groups; g++) {
		size_t j = g;
		while (j > 0 && s.nets[order[j - 1]] > s.nets[g]) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = g;
	}
	for (size_t k = 0; k < s.n_groups; k++) {
		size_t g = order[k];
		double *y = d->y + k * s.n_points;
		for (size_t i = 0; i < s.n_points; i++) {
			uint64_t p = s.probes[g * s.n_points + i];
			y[i] = p ? 100.0 * (double)s.answers[g * s.n_points + i] / (double)p : NAN;
		}
		net_label(s.nets[g], prefix, d->labels[k], sizeof(d->labels[k]));
		d->series[k] = (struct chart_series){ .label = d->labels[k], .y = y };
	}
	if (prefix)
		snprintf(d->title, sizeof(d->title), "Uptime per hour, by /%u", prefix);
	else
		snprintf(d->title, sizeof(d->title), "Uptime per hour");
	c->title = d->title;
	c->t0_s = (uint64_t)s.hour0 * 3600;
	c->n_points = s.n_points;
	c->series = d->series;
	c->n_series = s.n_groups;
out:
	free(s.probes);
	free(s.answers);
	return rc;
}

/* ---- the report ---- */

int query_report_uptime_html(FILE *out, struct store *st, struct rpc_client *cl, const struct query_html_req *req)
{
	struct rows_ctx rows = { 0 };
	struct subnets_ctx subs = { 0 };
	struct store_network_report net_report;
	struct chart_bar *bars = NULL;
	char (*bar_labels)[24] = NULL;
	bool printed = false; /* an RPC error's message is already printed */
	struct lines_data ld = { 0 };
	struct chart_lines lines;
	const char *lines_note;
	char bars_note[160];
	uint64_t now_us = cli_now_us();
	int rc;

	if (cl)
		rc = client_report_uptime(cl, req->since_us, req->cidr, add_row, &rows);
	else
		rc = store_report_uptime(st, req->since_us, req->net, req->mask, add_row, &rows);
	printed = rc && cl;
	if (!rc && rows.err)
		rc = rows.err;
	if (rc)
		goto fail;
	if (cl)
		rc = client_report_network(cl, req->since_us, req->cidr, &net_report, add_subnet, &subs);
	else
		rc = store_report_network(st, req->since_us, req->net, req->mask, &net_report, add_subnet, &subs);
	printed = rc && cl;
	if (!rc && subs.err)
		rc = subs.err;
	if (rc)
		goto fail;

	/* The bar chart: the /24s with the most devices, shown in address order. */
	size_t n_bars = subs.n;
	if (n_bars > HTML_MAX_BARS) {
		qsort(subs.v, subs.n, sizeof(*subs.v), by_devices_desc);
		n_bars = HTML_MAX_BARS;
		snprintf(bars_note, sizeof(bars_note),
			 "Devices by their current state: the %d of %zu /24 networks with the most devices.",
			 HTML_MAX_BARS, subs.n);
	} else {
		snprintf(bars_note, sizeof(bars_note), "Devices by their current state, per /24 network.");
	}
	if (n_bars)
		qsort(subs.v, n_bars, sizeof(*subs.v), by_net);
	bars = calloc(n_bars ? n_bars : 1, sizeof(*bars));
	bar_labels = calloc(n_bars ? n_bars : 1, sizeof(*bar_labels));
	if (!bars || !bar_labels) {
		rc = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n_bars; i++) {
		net_label(subs.v[i].net, 24, bar_labels[i], sizeof(bar_labels[i]));
		bars[i] = (struct chart_bar){ .label = bar_labels[i], .seg = { subs.v[i].up, subs.v[i].down } };
	}
	struct chart_bars bar_chart = { .title = "Devices per /24", .seg_names = { "up", "down" }, .n_segs = 2,
					.bars = bars, .n = n_bars };

	if (cl) {
		/*
		 * TODO(report.series): lnmtd now answers report.series (daemon_query.c), but the CLI
		 * has no client call for it yet (client_cmd.c). Add client_report_series(), sum its
		 * per-/24 series client-side to the longest prefix giving at most HTML_MAX_LINES
		 * networks (as store_series_prefix() does here), and fill the chart as hourly_chart()
		 * does, so both paths print the same page again.
		 */
		lines = (struct chart_lines){ .title = "Uptime per hour", .y_unit = "%" };
		lines_note = "Uptime per hour is not available through lnmtd yet: run with --embedded or --db.";
	} else if ((rc = hourly_chart(st, req, now_us, &lines, &ld, &lines_note))) {
		goto fail;
	}

	struct report_chart charts[2] = {
		{ .lines = &lines, .note = lines_note },
		{ .bars = &bar_chart, .note = bars_note },
	};
	struct report_html r = {
		.title = "lnmt uptime report",
		.generated_s = now_us / 1000000,
		.since_s = req->since_us / 1000000,
		.since_text = req->since_text ? req->since_text : "24h",
		.scope = req->cidr,
		.charts = charts,
		.n_charts = 2,
		.rows = rows.v,
		.n_rows = rows.n,
	};
	report_html_summarize(rows.v, rows.n, &r.summary);
	rc = report_html_write(out, &r);
	if (!rc && fflush(out))
		rc = -errno;
fail:
	if (rc && !printed)
		cli_error("report uptime: %s", lnmt_strerror(rc));
	free(ld.y);
	free(bar_labels);
	free(bars);
	free(subs.v);
	free(rows.v);
	return rc ? 1 : 0;
}
