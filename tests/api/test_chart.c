/* SPDX-License-Identifier: MIT */
/* test_chart.c: the SVG charts (api/chart.h) and the standalone HTML report (api/report_html.h). */
#include "chart.h"
#include "report_html.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ---- */

static char *render_lines(const struct chart_lines *c, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	*rc = chart_svg_lines(f, c);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

static char *render_bars(const struct chart_bars *c, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	*rc = chart_svg_bars(f, c);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

static char *render_report(const struct report_html *r, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	*rc = report_html_write(f, r);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/*
 * A small XML well-formedness check that needs nothing installed: tags balance (a stack of
 * names), attribute values are quoted and hold no '<', every '&' starts an entity, no control
 * bytes. Returns NULL when fine, else what is wrong (static).
 */
static const char *xml_check(const char *s)
{
	static char why[160];
	char stack[64][32];
	int depth = 0;

	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t')
			return "control byte";
		if (*p == '&') {
			const char *semi = strchr(p, ';');
			if (!semi || semi - p > 8 || semi == p + 1)
				return "bare &";
			continue;
		}
		if (*p != '<')
			continue;
		if (p[1] == '!' || p[1] == '?') {
			p = strchr(p, '>');
			if (!p)
				return "unterminated declaration";
			continue;
		}
		bool closing = p[1] == '/';
		const char *name = p + 1 + closing;
		size_t nlen = strcspn(name, " \t\n/>");
		if (nlen == 0 || nlen >= sizeof(stack[0]))
			return "bad tag name";
		/* scan to the end of the tag, honouring quoted attribute values */
		const char *q = name + nlen;
		char quote = 0;
		for (; *q && (quote || *q != '>'); q++) {
			if (quote) {
				if (*q == quote)
					quote = 0;
				else if (*q == '<')
					return "'<' inside an attribute value";
			} else if (*q == '"' || *q == '\'') {
				if (q[-1] != '=')
					return "quote not after =";
				quote = *q;
			} else if (*q == '=' && q[1] != '"' && q[1] != '\'') {
				return "unquoted attribute value";
			}
		}
		if (!*q)
			return "unterminated tag";
		bool self = q[-1] == '/';
		if (closing) {
			if (depth == 0 || strncmp(stack[depth - 1], name, nlen) || stack[depth - 1][nlen]) {
				snprintf(why, sizeof(why), "</%.*s> closes <%s>", (int)nlen, name,
					 depth ? stack[depth - 1] : "(nothing)");
				return why;
			}
			depth--;
		} else if (!self) {
			if (depth == 64)
				return "too deep";
			memcpy(stack[depth], name, nlen);
			stack[depth++][nlen] = '\0';
		}
		p = q;
	}
	if (depth) {
		snprintf(why, sizeof(why), "<%s> not closed", stack[depth - 1]);
		return why;
	}
	return NULL;
}

/* Runs xmllint (Debian: libxml2-utils) on doc when it is installed; false when it is not. */
static bool xmllint_ok(const char *doc, bool *ran)
{
	*ran = access("/usr/bin/xmllint", X_OK) == 0;
	if (!*ran)
		return true;
	char path[] = "/tmp/test_chart_XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	FILE *f = fdopen(fd, "w");
	cr_assert_not_null(f);
	fputs(doc, f);
	cr_assert_eq(fclose(f), 0);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "/usr/bin/xmllint --noout %s 2>&1", path);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	char msg[4096];
	size_t n = fread(msg, 1, sizeof(msg) - 1, p);
	msg[n] = '\0';
	int st = pclose(p);
	unlink(path);
	if (st != 0 || n)
		cr_log_error("xmllint: %s", msg);
	return st == 0 && n == 0;
}

static void expect_well_formed(const char *svg)
{
	const char *why = xml_check(svg);
	cr_expect_null(why, "not well-formed XML: %s\n%s", why ? why : "", svg);
	bool ran;
	cr_expect(xmllint_ok(svg, &ran), "xmllint rejects the SVG:\n%s", svg);
	if (!ran)
		cr_log_info("xmllint not installed (libxml2-utils): only the built-in check ran");
}

/* Hourly uptime over 2 days from 2024-03-03 00:00 UTC, two subnets, one with a gap. */
#define T0 1709424000ull /* 2024-03-03T00:00:00Z */
#define NPTS 48

static double ya[NPTS], yb[NPTS];

static void fill_series(void)
{
	for (int i = 0; i < NPTS; i++) {
		ya[i] = 90 + 10 * sin(i / 5.0);
		yb[i] = (i >= 10 && i < 14) ? NAN : 60 + i * 0.5;
	}
}

static const struct chart_series two_series[] = {
	{ .label = "198.18.128.0/24", .y = ya },
	{ .label = "198.19.0.0/24", .y = yb },
};

static struct chart_lines two_days(void)
{
	fill_series();
	return (struct chart_lines){ .title = "Uptime per hour", .t0_s = T0, .step_s = 3600, .n_points = NPTS,
				     .series = two_series, .n_series = 2, .y_unit = "%" };
}

/* ---- line chart ---- */

TestSuite(chart, .timeout = 30);

Test(chart, lines_root_and_accessibility)
{
	struct chart_lines c = two_days();
	int rc;
	char *svg = render_lines(&c, &rc);

	cr_assert_eq(rc, 0, "chart_svg_lines returned %d", rc);
	cr_expect_eq(strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"lnmt-chart lnmt-chart-lines\"", 75),
		     0, "root element: %.120s", svg);
	cr_expect_not_null(strstr(svg, "role=\"img\""));
	cr_expect_not_null(strstr(svg, "viewBox=\"0 0 720 260\""), "viewBox: %.200s", svg);
	cr_expect_not_null(strstr(svg, "font-family=\"system-ui,sans-serif\""));
	cr_expect_not_null(strstr(svg, "><title>Uptime per hour</title>"), "title first: %.300s", svg);
	cr_expect_eq(count(svg, "<path class=\"series\""), 2, "two series paths expected:\n%s", svg);
	cr_expect_eq(count(svg, "class=\"legend-label\""), 2, "two legend labels expected");
	cr_expect_not_null(strstr(svg, ">198.18.128.0/24</text>"));
	cr_expect_not_null(strstr(svg, chart_color(0)));
	cr_expect_not_null(strstr(svg, chart_color(1)));
	cr_expect_neq(strcmp(chart_color(0), chart_color(1)), 0);
	cr_expect_null(strstr(svg, "<script"));
	cr_expect_null(strstr(svg, "href"), "no external resources");
	cr_expect_eq(strcmp(svg + strlen(svg) - 7, "</svg>\n"), 0);
	expect_well_formed(svg);
	free(svg);
}

Test(chart, lines_time_labels)
{
	struct chart_lines c = two_days();
	int rc;
	char *svg = render_lines(&c, &rc);

	cr_assert_eq(rc, 0);
	/* 47 h: ticks every 6 h, dates at midnight, HH:MM between */
	cr_expect_not_null(strstr(svg, ">Mar 03</text>"), "a date label at the first midnight:\n%s", svg);
	cr_expect_not_null(strstr(svg, ">Mar 04</text>"), "a date label at the second midnight");
	cr_expect_not_null(strstr(svg, ">06:00</text>"));
	cr_expect_not_null(strstr(svg, ">18:00</text>"));
	cr_expect_not_null(strstr(svg, ">100%</text>"), "y label 100%%");
	cr_expect_not_null(strstr(svg, ">0%</text>"), "y label 0%%");
	cr_expect_not_null(strstr(svg, ">UTC</text>"));
	free(svg);

	/* within a day: only HH:MM */
	double y[7] = { 100, 100, 50, 100, 100, 100, 100 };
	struct chart_series s = { .label = "x", .y = y };
	c = (struct chart_lines){ .title = "t", .t0_s = T0 + 8 * 3600, .step_s = 3600, .n_points = 7,
				  .series = &s, .n_series = 1, .y_unit = "%" };
	svg = render_lines(&c, &rc);
	cr_assert_eq(rc, 0);
	cr_expect_not_null(strstr(svg, ">08:00</text>"), "%s", svg);
	cr_expect_not_null(strstr(svg, ">14:00</text>"), "%s", svg);
	cr_expect_null(strstr(svg, ">Mar"), "no date label within a day: %s", svg);
	free(svg);
}

/* The d attribute of the first <path class="series">. */
static char *first_path_d(const char *svg)
{
	const char *p = strstr(svg, "<path class=\"series\"");
	cr_assert_not_null(p, "no series path in %s", svg);
	p = strstr(p, " d=\"");
	cr_assert_not_null(p);
	p += 4;
	return strndup(p, strcspn(p, "\""));
}

Test(chart, lines_nan_makes_gaps)
{
	double y[6] = { 50, 60, NAN, 70, 80, NAN };
	struct chart_series s = { .label = "gappy", .y = y };
	struct chart_lines c = { .title = "gaps", .t0_s = T0, .step_s = 3600, .n_points = 6, .series = &s,
				 .n_series = 1 };
	int rc;
	char *svg = render_lines(&c, &rc);

	cr_assert_eq(rc, 0);
	char *d = first_path_d(svg);
	cr_expect_eq(count(d, "M"), 2, "two subpaths expected, d=\"%s\"", d);
	cr_expect_eq(count(d, "L"), 2, "one segment in each subpath, d=\"%s\"", d);
	cr_expect_null(strstr(d, "nan"), "d=\"%s\"", d);
	free(d);
	free(svg);

	/* a lone point between gaps still shows (a zero-length, round-capped subpath) */
	double z[3] = { NAN, 40, NAN };
	s.y = z;
	c.n_points = 3;
	svg = render_lines(&c, &rc);
	cr_assert_eq(rc, 0);
	d = first_path_d(svg);
	cr_expect_eq(count(d, "M"), 1, "d=\"%s\"", d);
	cr_expect_not_null(strstr(d, "h0"), "a lone point is drawn as a dot: d=\"%s\"", d);
	free(d);
	free(svg);
}

Test(chart, lines_geometry)
{
	/* 0 % sits on the x axis, 100 % on the top grid line, first and last points at the edges */
	double y[3] = { 0, 50, 100 };
	struct chart_series s = { .label = "geo", .y = y };
	struct chart_lines c = { .title = "g", .t0_s = T0, .step_s = 3600, .n_points = 3, .series = &s,
				 .n_series = 1, .y_unit = "%" };
	int rc;
	char *svg = render_lines(&c, &rc);
	cr_assert_eq(rc, 0);
	char *d = first_path_d(svg);
	double x0, y0, x1, y1, x2, y2;
	cr_assert_eq(sscanf(d, "M%lf %lfL%lf %lfL%lf %lf", &x0, &y0, &x1, &y1, &x2, &y2), 6, "d=\"%s\"", d);
	cr_expect_lt(x0, x1);
	cr_expect_lt(x1, x2);
	cr_expect_lt(fabs((x1 - x0) - (x2 - x1)), 0.2, "even spacing: %s", d);
	cr_expect_gt(y0, y1, "higher values are higher up: %s", d);
	cr_expect_lt(fabs((y0 - y1) - (y1 - y2)), 0.2, "linear y: %s", d);
	free(d);
	free(svg);
}

Test(chart, lines_hostile_labels_escaped)
{
	static const char hostile[] = "A&B <script>alert(\"x\")</script> 'q' \x01\x1b";
	double y[2] = { 10, 20 };
	struct chart_series s = { .label = hostile, .y = y };
	struct chart_lines c = { .title = "Title & <b>bold</b>", .t0_s = T0, .step_s = 3600, .n_points = 2,
				 .series = &s, .n_series = 1, .y_unit = "<%>" };
	int rc;
	char *svg = render_lines(&c, &rc);

	cr_assert_eq(rc, 0);
	cr_expect_null(strstr(svg, "<script"), "%s", svg);
	cr_expect_null(strstr(svg, "<b>"), "%s", svg);
	cr_expect_not_null(strstr(svg, "A&amp;B &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &#39;q&#39;"), "%s",
			   svg);
	cr_expect_not_null(strstr(svg, "<title>Title &amp; &lt;b&gt;bold&lt;/b&gt;</title>"), "%s", svg);
	cr_expect_not_null(strstr(svg, "&lt;%&gt;"), "the unit is escaped too: %s", svg);
	expect_well_formed(svg);
	free(svg);
}

Test(chart, text_utf8_and_truncation)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	/* valid multibyte kept, a stray continuation byte and an overlong NUL replaced */
	chart_write_text(f, "Fa\xc3\xa7" "ade \x80 \xc0\x80 ok", 0);
	fputc('|', f);
	chart_write_text(f, "abcdefghij", 5);
	fputc('|', f);
	chart_write_text(f, "abcde", 5);
	fputc('|', f);
	chart_write_text(f, NULL, 0);
	fclose(f);
	cr_expect_str_eq(buf, "Fa\xc3\xa7" "ade \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd ok|abcd\xe2\x80\xa6|abcde|");
	free(buf);
}

Test(chart, lines_empty_says_no_data)
{
	struct chart_lines c = { .title = "nothing", .t0_s = T0, .step_s = 3600 };
	int rc;
	char *svg = render_lines(&c, &rc);

	cr_assert_eq(rc, 0);
	cr_expect_not_null(strstr(svg, "class=\"lnmt-chart lnmt-chart-lines\""), "%s", svg);
	cr_expect_not_null(strstr(svg, ">no data</text>"), "%s", svg);
	cr_expect_eq(count(svg, "class=\"series\""), 0);
	expect_well_formed(svg);
	free(svg);

	/* series present but every value NAN */
	double y[3] = { NAN, NAN, NAN };
	struct chart_series s = { .label = "none", .y = y };
	c.series = &s;
	c.n_series = 1;
	c.n_points = 3;
	svg = render_lines(&c, &rc);
	cr_assert_eq(rc, 0);
	cr_expect_not_null(strstr(svg, ">no data</text>"), "%s", svg);
	free(svg);
}

Test(chart, lines_deterministic)
{
	struct chart_lines c = two_days();
	int rc1, rc2;
	char *a = render_lines(&c, &rc1), *b = render_lines(&c, &rc2);

	cr_assert_eq(rc1, 0);
	cr_assert_eq(rc2, 0);
	cr_expect_str_eq(a, b);
	free(a);
	free(b);
}

Test(chart, lines_many_series_wrap_legend)
{
	static double y[2] = { 10, 90 };
	struct chart_series s[20];
	char labels[20][32];
	for (int i = 0; i < 20; i++) {
		snprintf(labels[i], sizeof(labels[i]), "198.18.%d.0/24", i);
		s[i] = (struct chart_series){ .label = labels[i], .y = y };
	}
	struct chart_lines c = { .title = "many", .t0_s = T0, .step_s = 3600, .n_points = 2, .series = s,
				 .n_series = 20, .y_unit = "%" };
	int rc;
	char *svg = render_lines(&c, &rc);
	cr_assert_eq(rc, 0);
	cr_expect_eq(count(svg, "class=\"legend-label\""), 20);
	cr_expect_null(strstr(svg, "viewBox=\"0 0 720 260\""), "the legend needs more rows: %.300s", svg);
	cr_expect_not_null(strstr(svg, "stroke-dasharray"), "series past the palette are dashed");
	expect_well_formed(svg);
	free(svg);
}

Test(chart, lines_bad_input)
{
	struct chart_lines c = { .n_points = 3, .step_s = 0, .n_series = 0 };
	int rc;
	char *svg = render_lines(&c, &rc);
	cr_expect_eq(rc, -EINVAL, "step 0 with several points: %d", rc);
	free(svg);
	cr_expect_eq(chart_svg_lines(NULL, &c), -EINVAL);
}

/* ---- bar chart ---- */

/* The width attributes of every <rect class="bar">, in order. */
static size_t bar_widths(const char *svg, double *w, size_t max)
{
	size_t n = 0;
	for (const char *p = svg; (p = strstr(p, "<rect class=\"bar\"")) && n < max; p++) {
		const char *q = strstr(p, " width=\"");
		cr_assert_not_null(q);
		w[n++] = strtod(q + 8, NULL);
	}
	return n;
}

Test(chart, bars_proportional_and_labelled)
{
	static const struct chart_bar bars[] = {
		{ .label = "198.18.128.0/24", .seg = { 100, 0 } },
		{ .label = "198.19.0.0/24", .seg = { 200, 50 } },
		{ .label = "198.19.1.0/24", .seg = { 0, 25 } },
	};
	struct chart_bars c = { .title = "Devices per /24", .seg_names = { "up", "down" }, .n_segs = 2, .bars = bars,
				.n = 3 };
	int rc;
	char *svg = render_bars(&c, &rc);

	cr_assert_eq(rc, 0);
	cr_expect_eq(strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"lnmt-chart lnmt-chart-bars\"", 74),
		     0, "%.120s", svg);
	cr_expect_not_null(strstr(svg, "role=\"img\""));
	cr_expect_not_null(strstr(svg, "<title>Devices per /24</title>"));
	cr_expect_eq(count(svg, "class=\"bar-label\""), 3, "one label per bar");
	cr_expect_not_null(strstr(svg, ">198.19.0.0/24</text>"));
	double w[8];
	size_t n = bar_widths(svg, w, 8);
	cr_assert_eq(n, 4, "zero segments draw nothing: 4 rects expected, got %zu\n%s", n, svg);
	/* 100 | 200 + 50 | 25, all on one scale */
	cr_expect_lt(fabs(w[1] / w[0] - 2.0), 0.01, "200 vs 100: %f %f", w[1], w[0]);
	cr_expect_lt(fabs(w[2] / w[0] - 0.5), 0.01, "50 vs 100: %f %f", w[2], w[0]);
	cr_expect_lt(fabs(w[3] / w[0] - 0.25), 0.01, "25 vs 100: %f %f", w[3], w[0]);
	cr_expect_eq(count(svg, "data-seg=\"1\""), 2);
	cr_expect_not_null(strstr(svg, ">200 \xc2\xb7 50</text>"), "values after the bar: %s", svg);
	cr_expect_not_null(strstr(svg, ">up</text>"), "legend");
	cr_expect_not_null(strstr(svg, ">down</text>"), "legend");
	expect_well_formed(svg);
	free(svg);
}

Test(chart, bars_hostile_vendor_and_long_label)
{
	static const struct chart_bar bars[] = {
		{ .label = "Acme & Sons <\"Networks\"> Ltd", .seg = { 3, 1 } },
		{ .label = "An Extraordinarily Long Vendor Name Incorporated GmbH & Co. KG", .seg = { 1, 0 } },
	};
	struct chart_bars c = { .title = "Vendors", .seg_names = { "up", "down" }, .n_segs = 2, .bars = bars, .n = 2 };
	int rc;
	char *svg = render_bars(&c, &rc);

	cr_assert_eq(rc, 0);
	cr_expect_not_null(strstr(svg, "Acme &amp; Sons &lt;&quot;Networks&quot;&gt; Ltd"), "%s", svg);
	cr_expect_not_null(strstr(svg, "\xe2\x80\xa6</text>"), "a long label is cut with an ellipsis: %s", svg);
	cr_expect_not_null(strstr(svg, "<title>An Extraordinarily Long Vendor Name Incorporated GmbH &amp; Co. KG: 1 up"),
			   "the full label stays in the mark's title: %s", svg);
	expect_well_formed(svg);
	free(svg);
}

Test(chart, bars_empty_and_deterministic)
{
	struct chart_bars c = { .title = "none", .seg_names = { "up", "down" }, .n_segs = 2 };
	int rc;
	char *svg = render_bars(&c, &rc);

	cr_assert_eq(rc, 0);
	cr_expect_not_null(strstr(svg, "lnmt-chart-bars"));
	cr_expect_not_null(strstr(svg, ">no data</text>"), "%s", svg);
	expect_well_formed(svg);
	free(svg);

	static const struct chart_bar zero[] = { { .label = "x", .seg = { 0, 0 } } };
	c.bars = zero;
	c.n = 1;
	svg = render_bars(&c, &rc);
	cr_expect_not_null(strstr(svg, ">no data</text>"), "all zero: %s", svg);
	free(svg);

	static const struct chart_bar some[] = { { .label = "a", .seg = { 1.25, 3 } }, { .label = "b", .seg = { 7, 0 } } };
	c.bars = some;
	c.n = 2;
	char *a = render_bars(&c, &rc), *b = render_bars(&c, &rc);
	cr_expect_str_eq(a, b);
	free(a);
	free(b);
}

/* ---- the HTML report ---- */

static const struct report_uptime_row rows_unsorted[] = {
	{ .ip = 0xc6130005, .up = false, .uptime_pct = 12.5, .probes = 8, .answers = 1, .changes = 2 },
	{ .ip = 0xc6128001, .up = true, .uptime_pct = 100, .probes = 8, .answers = 8, .changes = 0 },
	{ .ip = 0xc6130001, .up = true, .uptime_pct = 93.75, .probes = 16, .answers = 15, .changes = 1 },
};

static struct report_html sample_report(struct report_chart charts[2], struct chart_lines *lines,
					struct chart_bars *bars)
{
	static const struct chart_bar b[] = {
		{ .label = "198.18.128.0/24", .seg = { 1, 0 } },
		{ .label = "198.19.0.0/24", .seg = { 1, 1 } },
	};
	*lines = two_days();
	*bars = (struct chart_bars){ .title = "Devices per /24", .seg_names = { "up", "down" }, .n_segs = 2,
				     .bars = b, .n = 2 };
	charts[0] = (struct report_chart){ .lines = lines, .note = "Hourly & per /24" };
	charts[1] = (struct report_chart){ .bars = bars };
	struct report_html r = { .generated_s = T0 + 47 * 3600, .since_s = T0, .since_text = "2d",
				 .scope = "198.18.0.0/15", .source = "store <test>", .charts = charts, .n_charts = 2,
				 .rows = rows_unsorted, .n_rows = 3 };
	report_html_summarize(rows_unsorted, 3, &r.summary);
	return r;
}

Test(report_html, document)
{
	struct report_chart charts[2];
	struct chart_lines lines;
	struct chart_bars bars;
	struct report_html r = sample_report(charts, &lines, &bars);
	int rc;
	char *html = render_report(&r, &rc);

	cr_assert_eq(rc, 0, "report_html_write: %d", rc);
	cr_expect_eq(strncmp(html, "<!doctype html>\n<html lang=\"en\">", 32), 0, "%.80s", html);
	cr_expect_eq(strcmp(html + strlen(html) - 8, "</html>\n"), 0);
	cr_expect_not_null(strstr(html, "<meta charset=\"utf-8\"/>"));
	cr_expect_not_null(strstr(html, "<style>"));
	cr_expect_not_null(strstr(html, "prefers-color-scheme:dark"));
	cr_expect_eq(count(html, "<svg"), 2);
	cr_expect_null(strstr(html, "<script"));
	cr_expect_null(strstr(html, "<link"));
	cr_expect_eq(count(html, "http"), count(html, "http://www.w3.org/2000/svg"), "no URL but the SVG namespace");
	cr_expect_null(strstr(html, "src="), "no external resources");
	cr_expect_not_null(strstr(html, "Generated 2024-03-04 23:00 UTC"), "%s", html);
	cr_expect_not_null(strstr(html, "since 2024-03-03 00:00 UTC (last 2d)"));
	cr_expect_not_null(strstr(html, "Scope: 198.18.0.0/15"));
	cr_expect_not_null(strstr(html, "Source: store &lt;test&gt;"));
	cr_expect_not_null(strstr(html, "<figcaption>Hourly &amp; per /24</figcaption>"));
	/* summary: 3 devices, 2 up, 1 down, mean (12.5 + 100 + 93.75) / 3 = 68.75 */
	cr_expect_not_null(strstr(html, "Devices</div><div class=\"value\">3<"), "%s", html);
	cr_expect_not_null(strstr(html, "Up</div><div class=\"value\">2<"));
	cr_expect_not_null(strstr(html, "Down</div><div class=\"value\">1<"));
	cr_expect_not_null(strstr(html, "68.75\xc2\xa0%"));
	/* the rows, in address order */
	const char *a = strstr(html, ">198.18.128.1<"), *b = strstr(html, ">198.19.0.1<"), *c = strstr(html, ">198.19.0.5<");
	cr_assert(a && b && c, "every row is there:\n%s", html);
	cr_expect(a < b && b < c, "rows sorted by address");
	cr_expect_eq(count(html, "<tr><td class=\"ip\">"), 3);
	cr_expect_not_null(strstr(html, "93.75\xc2\xa0%</span></td><td class=\"num\">16</td><td class=\"num\">15</td>"
					"<td class=\"num\">1</td>"), "%s", html);
	cr_expect_not_null(strstr(html, "state-down\">down<"));
	cr_expect_null(strstr(html, "left out"), "nothing capped");
	/* The page is polyglot: past its doctype line it is well-formed XML, inline SVG included. */
	const char *body = strchr(html, '\n') + 1;
	const char *why = xml_check(body);
	cr_expect_null(why, "the report is not well-formed: %s", why ? why : "");
	bool ran;
	cr_expect(xmllint_ok(body, &ran), "xmllint rejects the report");
	free(html);

	char *again = render_report(&r, &rc);
	html = render_report(&r, &rc);
	cr_expect_str_eq(again, html, "same input, same bytes");
	free(again);
	free(html);
}

Test(report_html, row_cap_note)
{
	struct report_html r = { .generated_s = T0, .rows = rows_unsorted, .n_rows = 3, .max_rows = 2 };
	int rc;
	char *html = render_report(&r, &rc);

	cr_assert_eq(rc, 0);
	cr_expect_eq(count(html, "<tr><td class=\"ip\">"), 2);
	cr_expect_not_null(strstr(html, ">198.18.128.1<"), "the lowest addresses are kept");
	cr_expect_null(strstr(html, ">198.19.0.5<"));
	cr_expect_not_null(strstr(html, "Showing the first 2 of 3 devices by address; 1 more are left out."), "%s",
			   html);
	cr_expect_not_null(strstr(html, "Scope: all devices"));
	free(html);
}

Test(report_html, empty)
{
	struct report_html r = { .generated_s = T0 };
	report_html_summarize(NULL, 0, &r.summary);
	int rc;
	char *html = render_report(&r, &rc);

	cr_assert_eq(rc, 0);
	cr_expect_not_null(strstr(html, "No device in this scope"), "%s", html);
	cr_expect_not_null(strstr(html, "Mean uptime</div><div class=\"value\">\xe2\x80\x93<"), "%s", html);
	cr_expect_not_null(strstr(html, "</html>\n"));
	free(html);
}

Test(report_html, style_and_figure_for_reuse)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	report_html_style(f);
	struct chart_bars bars = { .title = "x", .seg_names = { "up" }, .n_segs = 1 };
	struct report_chart fig = { .bars = &bars, .note = "n" };
	cr_expect_eq(report_html_figure(f, &fig), 0);
	struct report_chart both = { .bars = &bars, .lines = NULL };
	both.lines = &(struct chart_lines){ 0 };
	cr_expect_eq(report_html_figure(f, &both), -EINVAL, "one chart per figure");
	fclose(f);
	cr_expect_eq(strncmp(buf, "<style>\n", 8), 0);
	cr_expect_not_null(strstr(buf, "</style>\n<figure class=\"lnmt-figure\">\n<svg"), "%s", buf);
	cr_expect_not_null(strstr(buf, "<figcaption>n</figcaption>\n</figure>\n"));
	free(buf);
}
