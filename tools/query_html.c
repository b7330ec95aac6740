/* SPDX-License-Identifier: MIT */
/*
 * query_html.c: `lnmt report uptime --format html`. Gathers what the report shows from the
 * store or from lnmtd (the same callbacks serve both, as for the text formats) into plain
 * arrays, and hands them to api/report_html.c, the renderer lnmt-http's dashboard shares.
 * Where lnmtd answers with less detail (vendors past the 20th, series cut to 64 networks), the
 * page keeps to what both sources give, so it is the same either way.
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

#define HTML_MAX_BARS 30    /* /24s in the bar chart: the ones with the most devices */
#define HTML_MAX_LINES 7    /* lines in the hourly chart: one colour each */
#define HTML_MAX_VENDORS 10 /* bars in the vendor chart; with more vendors the last bar sums the rest */
#define HTML_SERIES_DAYS 90 /* the hourly chart's longest range: report.series gives no more */
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

/* report.network's lists: the /24s, and the vendors as the vendor chart shows them. */
struct network_ctx {
	struct store_subnet_summary *v;
	size_t n, cap;
	int err;
	struct {
		char name[STORE_VENDOR_LEN];
		uint32_t up, down;
	} vendors[HTML_MAX_VENDORS];
	uint64_t n_vendors;           /* entries seen */
	uint64_t rest_up, rest_down;  /* entries from HTML_MAX_VENDORS - 1 on, for the "others" bar */
};

static int add_subnet(void *ctx, const struct store_subnet_summary *s)
{
	struct network_ctx *c = ctx;

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

/*
 * Vendors come most devices first, from the store all of them, from lnmtd the first 20 and one
 * entry summing the rest: either way the entries past the first HTML_MAX_VENDORS - 1 add up to
 * the same "others" bar.
 */
static int add_vendor(void *ctx, const struct store_vendor_count *v)
{
	struct network_ctx *c = ctx;
	uint64_t i = c->n_vendors++;

	if (i < HTML_MAX_VENDORS) {
		snprintf(c->vendors[i].name, sizeof(c->vendors[i].name), "%s", v->vendor ? v->vendor : "");
		c->vendors[i].up = v->up;
		c->vendors[i].down = v->down;
	}
	if (i >= HTML_MAX_VENDORS - 1) {
		c->rest_up += v->up;
		c->rest_down += v->down;
	}
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

/* ---- the hourly series, from either source ---- */

struct series_ctx {
	uint32_t hour0;
	size_t n_points;
	size_t n_groups;
	uint32_t nets[HTML_MAX_LINES];
	uint64_t *probes, *answers; /* [group * n_points + i] */
};

/* Adds a point to its line; points of the same hour and network (lnmtd's, regrouped) add up. */
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
			return 0; /* the prefix was chosen to fit, so only a concurrent sweep gets here */
		s->nets[s->n_groups++] = p->net;
	}
	size_t i = g * s->n_points + (p->hour - s->hour0);
	s->probes[i] += p->probes;
	s->answers[i] += p->answers;
	return 0;
}

/* lnmtd's points, kept to be regrouped once they are all in. */
struct points_ctx {
	struct store_series_point *v;
	size_t n, cap;
	int err;
};

/* client_report_series stops at a non-zero return, so a failed growth is remembered. */
static int collect_point(void *ctx, const struct store_series_point *p)
{
	struct points_ctx *c = ctx;

	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 1024;
		struct store_series_point *v = realloc(c->v, cap * sizeof(*v));
		if (!v) {
			c->err = -ENOMEM;
			return 1;
		}
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = *p;
	return 0;
}

static uint32_t prefix_mask(unsigned prefix)
{
	return prefix ? ~0u << (32 - prefix) : 0;
}

/* Whether the points' networks, cut to `prefix` bits, are at most HTML_MAX_LINES. */
static bool fits(const struct store_series_point *v, size_t n, unsigned prefix)
{
	uint32_t seen[HTML_MAX_LINES], m = prefix_mask(prefix);
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		while (j < k && seen[j] != (v[i].net & m))
			j++;
		if (j == k) {
			if (k == HTML_MAX_LINES)
				return false;
			seen[k++] = v[i].net & m;
		}
	}
	return true;
}

/*
 * The series through lnmtd. report.series groups to at most 64 networks; the chart takes
 * HTML_MAX_LINES, so the points are summed here to the prefix store_series_prefix() would give
 * for that many: the longest from the daemon's down to the subnet's own length (where there is
 * one network) at which they fit. Networks at a prefix are the /24s' cut to it, whether the
 * daemon cut them first or not, so both paths chart the same lines.
 */
static int series_from_daemon(struct rpc_client *cl, uint64_t since_us, uint32_t net, uint32_t mask,
			      struct series_ctx *s, unsigned *prefix, bool *has_series, bool *printed)
{
	struct points_ctx pts = { 0 };
	unsigned used, lo = (unsigned)__builtin_popcount(mask);
	char cidr[24], *scope = NULL;
	int rc;

	if (mask) {
		snprintf(cidr, sizeof(cidr), "%u.%u.%u.%u/%u", (uint8_t)(net >> 24), (uint8_t)(net >> 16),
			 (uint8_t)(net >> 8), (uint8_t)net, lo);
		scope = cidr;
	}
	rc = client_report_series(cl, since_us, scope, 24, collect_point, &pts, &used, has_series);
	*printed = rc && rc != -EOPNOTSUPP;
	if (!rc && pts.err)
		rc = pts.err;
	if (rc)
		goto out;
	if (used < lo)
		used = lo; /* never: the daemon does not cut shorter than the subnet */
	while (used > lo && !fits(pts.v, pts.n, used))
		used--;
	*prefix = used;
	for (size_t i = 0; i < pts.n; i++) {
		struct store_series_point p = pts.v[i];
		p.net &= prefix_mask(used);
		p.prefix = (uint8_t)used;
		add_point(s, &p);
	}
out:
	free(pts.v);
	return rc;
}

struct lines_data {
	struct chart_series series[HTML_MAX_LINES];
	char labels[HTML_MAX_LINES][24];
	double *y;
	char title[64];
};

/*
 * Fills c (and d, which owns the memory) with uptime per hour per group of /24s, at the longest
 * prefix that gives at most HTML_MAX_LINES lines, from the store or (cl set) from lnmtd. *note
 * explains the chart, or an empty one. *printed says whether an error's message is out already.
 */
static int hourly_chart(struct store *st, struct rpc_client *cl, const struct query_html_req *req, uint64_t now_us,
			struct chart_lines *c, struct lines_data *d, const char **note, bool *printed)
{
	struct series_ctx s = { 0 };
	uint32_t net = req->net, mask = req->mask;
	uint64_t hour0 = req->since_us / HOUR_US, now_h = now_us / HOUR_US;
	unsigned prefix = 24;
	bool has_series = true;
	int rc = 0;

	*printed = false;
	*c = (struct chart_lines){ .title = "Uptime per hour", .y_unit = "%", .step_s = 3600 };
	*note = "Share of probes answered in each hour (UTC); a gap is an hour without a sweep there.";
	if (!cl && !store_has_series(st)) {
		*note = "This store keeps no hourly counts yet (written by an older lnmt, opened read-only).";
		return 0;
	}
	/* The counts are per /24: a longer --subnet charts its /24. */
	if (mask > 0xffffff00u) {
		mask = 0xffffff00u;
		net &= mask;
	}
	/* At most the last HTML_SERIES_DAYS days (whole hours), from either source. */
	if (now_h >= HTML_SERIES_DAYS * 24 && hour0 < now_h - HTML_SERIES_DAYS * 24 + 1) {
		hour0 = now_h - HTML_SERIES_DAYS * 24 + 1;
		*note = "Share of probes answered in each hour (UTC) of the last 90 days; a gap is an hour without "
			"a sweep there.";
	}
	s.hour0 = (uint32_t)hour0;
	s.n_points = now_h >= hour0 ? now_h - hour0 + 1 : 1;
	s.probes = calloc(HTML_MAX_LINES * s.n_points, sizeof(uint64_t));
	s.answers = calloc(HTML_MAX_LINES * s.n_points, sizeof(uint64_t));
	d->y = malloc(HTML_MAX_LINES * s.n_points * sizeof(double));
	if (!s.probes || !s.answers || !d->y) {
		rc = -ENOMEM;
		goto out;
	}
	if (cl) {
		rc = series_from_daemon(cl, hour0 * HOUR_US, net, mask, &s, &prefix, &has_series, printed);
		if (rc == -EOPNOTSUPP) {
			*note = "This lnmtd gives no hourly counts (it predates report.series): run with --embedded "
				"or --db for this chart.";
			rc = 0;
			goto out;
		}
		if (rc)
			goto out;
		if (!has_series) {
			*note = "This store keeps no hourly counts yet (written by an older lnmt, opened read-only).";
			goto out;
		}
	} else {
		rc = store_series_prefix(st, hour0 * HOUR_US, net, mask, 24, HTML_MAX_LINES, &prefix, NULL);
		if (!rc)
			rc = store_uptime_series(st, hour0 * HOUR_US, net, mask, prefix, add_point, &s);
		if (rc)
			goto out;
	}

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

/* ---- devices by vendor ---- */

struct vendor_data {
	struct chart_bar bars[HTML_MAX_VENDORS];
	char labels[HTML_MAX_VENDORS][STORE_VENDOR_LEN];
	char note[240];
};

/* The vendor chart from n (the ctx) and total, the number of distinct vendors. */
static void vendor_chart(const struct network_ctx *n, uint64_t total, struct chart_bars *c, struct vendor_data *d)
{
	static const char unknown[] = "unknown: no MAC address, or one not in the vendor list";
	size_t shown = total < n->n_vendors ? (size_t)total : (size_t)n->n_vendors;

	if (shown > HTML_MAX_VENDORS)
		shown = HTML_MAX_VENDORS;
	bool fold = total > HTML_MAX_VENDORS;
	if (fold)
		shown = HTML_MAX_VENDORS - 1;
	for (size_t i = 0; i < shown; i++) {
		snprintf(d->labels[i], sizeof(d->labels[i]), "%s", n->vendors[i].name[0] ? n->vendors[i].name : "unknown");
		d->bars[i] = (struct chart_bar){ .label = d->labels[i], .seg = { n->vendors[i].up, n->vendors[i].down } };
	}
	if (fold) {
		uint64_t others = total - shown;
		snprintf(d->labels[shown], sizeof(d->labels[shown]), "%llu others", (unsigned long long)others);
		d->bars[shown] = (struct chart_bar){ .label = d->labels[shown],
						      .seg = { (double)n->rest_up, (double)n->rest_down } };
		snprintf(d->note, sizeof(d->note),
			 "Devices by their current state: the %zu of %llu MAC vendors with the most devices, then "
			 "the other %llu together (%s).", shown, (unsigned long long)total, (unsigned long long)others,
			 unknown);
		shown++;
	} else {
		snprintf(d->note, sizeof(d->note), "Devices by their current state, per MAC vendor (%s).", unknown);
	}
	*c = (struct chart_bars){ .title = "Devices by vendor", .seg_names = { "up", "down" }, .n_segs = 2,
				  .bars = d->bars, .n = shown };
}

/* ---- the report ---- */

int query_report_uptime_html(FILE *out, struct store *st, struct rpc_client *cl, const struct query_html_req *req)
{
	struct rows_ctx rows = { 0 };
	struct network_ctx subs = { 0 };
	struct store_network_report net_report;
	struct chart_bar *bars = NULL;
	char (*bar_labels)[24] = NULL;
	bool printed = false; /* an RPC error's message is already printed */
	struct lines_data ld = { 0 };
	struct chart_lines lines;
	struct vendor_data vd;
	struct chart_bars vendor_bars;
	uint64_t vendors_total = 0;
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
	/* The figures, the /24s and the vendors from one walk, as lnmtd answers report.network. */
	if (cl)
		rc = client_report_network_ex(cl, req->since_us, req->cidr, &net_report, add_subnet, add_vendor, &subs,
					      &vendors_total);
	else
		rc = store_report_network_ex(st, req->since_us, req->net, req->mask, &net_report, add_subnet, add_vendor,
					     &subs);
	printed = rc && cl;
	if (!rc && subs.err)
		rc = subs.err;
	if (rc)
		goto fail;
	if (!cl)
		vendors_total = subs.n_vendors;
	vendor_chart(&subs, vendors_total, &vendor_bars, &vd);

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

	if ((rc = hourly_chart(st, cl, req, now_us, &lines, &ld, &lines_note, &printed)))
		goto fail;

	struct report_chart charts[3] = {
		{ .lines = &lines, .note = lines_note },
		{ .bars = &bar_chart, .note = bars_note },
		{ .bars = &vendor_bars, .note = vd.note },
	};
	struct report_html r = {
		.title = "lnmt uptime report",
		.generated_s = now_us / 1000000,
		.since_s = req->since_us / 1000000,
		.since_text = req->since_text ? req->since_text : "24h",
		.scope = req->cidr,
		.charts = charts,
		.n_charts = 3,
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
