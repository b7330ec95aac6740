/* SPDX-License-Identifier: MIT */
/*
 * http_charts.c: the dashboard's charts, as SVG drawn by api/chart.c from lnmtd's reports:
 *
 *   GET /api/charts/uptime.svg?since&subnet   uptime per subnet per hour (report.series)
 *   GET /api/charts/subnets.svg?since&subnet  devices up/down per /24 (report.network)
 *   GET /api/charts/vendors.svg?since&subnet  devices up/down per vendor (report.network)
 *
 * Answers are cached like the JSON reports they are drawn from.
 */
#include "http_int.h"
#include "chart.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BARS 24      /* more subnets or vendors than this: the rest become one "other" bar */

/* Bars from an array of {<label_key>, up, down}, largest first, the tail folded into "other". */
static int draw_bars(FILE *f, const char *title, const json_t *items, const char *label_key, const char *empty_label)
{
	size_t n = json_array_size(items), shown = n > MAX_BARS ? MAX_BARS - 1 : n;
	struct chart_bar *bars = calloc(shown + 1, sizeof(*bars));
	char (*labels)[48] = calloc(shown + 1, sizeof(*labels));
	size_t *order = calloc(n + 1, sizeof(*order));
	if (!bars || !labels || !order) {
		free(bars), free(labels), free(order);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	/* by total, descending (insertion sort: n is a few hundred at most) */
	for (size_t i = 1; i < n; i++) {
		size_t k = order[i], j = i;
		json_t *o = json_array_get(items, k);
		json_int_t t = json_integer_value(json_object_get(o, "up")) + json_integer_value(json_object_get(o, "down"));
		while (j > 0) {
			json_t *p = json_array_get(items, order[j - 1]);
			json_int_t tp = json_integer_value(json_object_get(p, "up")) +
					json_integer_value(json_object_get(p, "down"));
			if (tp >= t)
				break;
			order[j] = order[j - 1];
			j--;
		}
		order[j] = k;
	}
	size_t nb = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(items, order[i]);
		double up = (double)json_integer_value(json_object_get(o, "up"));
		double down = (double)json_integer_value(json_object_get(o, "down"));
		if (i < shown) {
			const char *l = json_string_value(json_object_get(o, label_key));
			snprintf(labels[nb], sizeof(labels[nb]), "%s", l && *l ? l : empty_label);
			bars[nb].label = labels[nb];
			bars[nb].seg[0] = up;
			bars[nb].seg[1] = down;
			nb++;
		} else {
			if (i == shown) {
				snprintf(labels[nb], sizeof(labels[nb]), "%zu others", n - shown);
				bars[nb].label = labels[nb];
				nb++;
			}
			bars[nb - 1].seg[0] += up;
			bars[nb - 1].seg[1] += down;
		}
	}
	struct chart_bars chart = { .title = title, .seg_names = { "up", "down" }, .n_segs = 2, .bars = bars, .n = nb };
	int rc = chart_svg_bars(f, &chart);
	free(bars), free(labels), free(order);
	return rc;
}

#define MAX_LINES 7   /* more subnets than this: the busiest 6, and the rest summed as one line */

/* Adds a series' points (probes, answers per hour) into the sums p[np], a[np] from t0. */
static void add_points(const json_t *s, json_int_t t0, json_int_t step, size_t np, double *p, double *a)
{
	size_t k;
	json_t *pt;
	json_array_foreach(json_object_get(s, "points"), k, pt) {
		json_int_t t = json_integer_value(json_array_get(pt, 0));
		if (t < t0 || (size_t)((t - t0) / step) >= np)
			continue;
		size_t at = (size_t)((t - t0) / step);
		p[at] += (double)json_integer_value(json_array_get(pt, 1));
		a[at] += (double)json_integer_value(json_array_get(pt, 2));
	}
}

/* Lines from report.series ({first_hour, step_s, series: [{subnet, probes, points: [[hour, probes,
 * answers]]}]}): percent up per hour, over the whole range asked (to the current hour). */
static int draw_uptime(FILE *f, const json_t *rep, uint64_t now_s)
{
	const json_t *series = json_object_get(rep, "series");
	json_int_t step = json_integer_value(json_object_get(rep, "step_s"));
	json_int_t t0 = json_integer_value(json_object_get(rep, "first_hour"));
	if (step <= 0)
		step = 3600;
	json_int_t t1 = (json_int_t)now_s - (json_int_t)now_s % step;
	size_t np = t0 > 0 && t1 >= t0 ? (size_t)((t1 - t0) / step) + 1 : 0;
	if (np > 24 * 92)
		np = 24 * 92;
	size_t n = json_array_size(series), nl = n > MAX_LINES ? MAX_LINES : n;
	/* the busiest first (most observations), so the folded tail is the quiet part */
	size_t *order = calloc(n + 1, sizeof(*order));
	double *p = calloc(nl * np + 1, sizeof(*p)), *a = calloc(nl * np + 1, sizeof(*a));
	double *y = malloc((nl * np + 1) * sizeof(*y));
	struct chart_series *cs = calloc(nl + 1, sizeof(*cs));
	char others[32];
	int rc = -1;
	if (!order || !p || !a || !y || !cs)
		goto out;
	for (size_t i = 0; i < n; i++) {
		size_t j = i;
		json_int_t pi = json_integer_value(json_object_get(json_array_get(series, i), "probes"));
		while (j > 0 &&
		       json_integer_value(json_object_get(json_array_get(series, order[j - 1]), "probes")) < pi) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	for (size_t i = 0; i < n; i++) {
		size_t line = i < nl ? i : nl - 1;
		const json_t *s = json_array_get(series, order[i]);
		if (line == i)
			cs[line].label = json_string_value(json_object_get(s, "subnet"));
		add_points(s, t0, step, np, p + line * np, a + line * np);
	}
	if (n > nl) {
		snprintf(others, sizeof(others), "%zu other subnets", n - nl + 1);
		cs[nl - 1].label = others;
	}
	for (size_t l = 0; l < nl; l++) {
		for (size_t k = 0; k < np; k++)
			y[l * np + k] = p[l * np + k] > 0 ? 100.0 * a[l * np + k] / p[l * np + k] : NAN;
		cs[l].y = y + l * np;
	}
	struct chart_lines chart = { .title = "Uptime by subnet, per hour", .t0_s = (uint64_t)t0,
				     .step_s = (uint64_t)step, .n_points = np, .series = cs, .n_series = nl,
				     .y_unit = "%" };
	rc = chart_svg_lines(f, &chart);
out:
	free(order), free(p), free(a), free(y), free(cs);
	return rc;
}

enum chart_kind { UPTIME, SUBNETS, VENDORS, NO_CHART };

static enum chart_kind chart_of(const char *name)
{
	return !strcmp(name, "uptime.svg") ? UPTIME : !strcmp(name, "subnets.svg") ? SUBNETS :
	       !strcmp(name, "vendors.svg") ? VENDORS : NO_CHART;
}

static const char *report_of(enum chart_kind k)
{
	return k == UPTIME ? "report.series" : "report.network";
}

/* The chart drawn from its report: SVG text (malloc'ed), or NULL. */
static char *draw(enum chart_kind k, const json_t *rep, size_t *len)
{
	char *svg = NULL;
	FILE *f = open_memstream(&svg, len);
	if (!f)
		return NULL;
	int rc;
	if (k == UPTIME)
		rc = draw_uptime(f, rep, (uint64_t)time(NULL));
	else if (k == SUBNETS)
		rc = draw_bars(f, "Devices by subnet", json_object_get(rep, "subnets"), "subnet", "?");
	else
		rc = draw_bars(f, "Devices by vendor", json_object_get(rep, "vendors"), "vendor", "unknown");
	if (fclose(f) != 0 || rc != 0) {
		free(svg);
		return NULL;
	}
	return svg;
}

/* An http_compute_fn for the cache's refresher: what is the chart's name. */
static char *compute_chart(const char *what, const json_t *params, size_t *len)
{
	enum chart_kind k = chart_of(what);
	char err[512];
	int rc;
	json_t *rep = k == NO_CHART ? NULL : http_call(report_of(k), params, &rc, err, sizeof(err));
	char *svg = rep ? draw(k, rep, len) : NULL;
	json_decref(rep);
	return svg;
}

enum MHD_Result http_chart(struct MHD_Connection *c, struct req *r, const char *url)
{
	const char *name = url + strlen("/api/charts/");
	static const char *const allowed[] = { "since", "subnet", NULL };
	enum chart_kind k = chart_of(name);
	if (k == NO_CHART)
		return http_send_error(c, r, 404, NULL, "no chart '%.64s': uptime.svg, subnets.svg or vendors.svg", name);
	enum MHD_Result ret = MHD_NO;
	char key[HTTP_KEY_MAX];
	if (http_cache_answer(c, r, url, key, R_ETAG, &ret))
		return ret;
	json_t *params = http_query_params(c, r, allowed, &ret);
	if (!params)
		return ret;
	uint64_t gen = http_cache_generation();
	json_t *rep = http_call_json(c, r, report_of(k), params, &ret);
	if (!rep) {
		json_decref(params);
		return ret;
	}
	size_t len = 0;
	char *svg = draw(k, rep, &len);
	json_decref(rep);
	if (!svg) {
		json_decref(params);
		return http_send_error(c, r, 500, NULL, "drawing %s failed", name);
	}
	struct http_refill rf = { compute_chart, name, params };
	ret = http_send_text_cached(c, r, gen, key[0] ? key : NULL, &rf, svg, len, "image/svg+xml", R_ETAG);
	json_decref(params);
	return ret;
}
