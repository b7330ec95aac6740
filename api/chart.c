/* SPDX-License-Identifier: MIT */
/* chart.c: the SVG line and bar charts of chart.h, written straight to a FILE *. */
#include "chart.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

/*
 * Okabe and Ito's palette, without its yellow (too pale on white) and black (the text colour):
 * the seven colours stay distinct for the common colour-vision deficiencies.
 */
static const char *const palette[] = { "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9",
				       "#8C6D31" };
#define PALETTE_N (sizeof(palette) / sizeof(palette[0]))
/* Bar segments: the first reads as "up" (green), the second as "down" (vermillion). */
static const char *const seg_palette[CHART_BAR_MAX_SEGS] = { "#009E73", "#D55E00", "#0072B2", "#E69F00" };

#define FONT "system-ui,sans-serif"
#define CHAR_W 6.8 /* a generous mean glyph width at font-size 12, to lay out legends */

const char *chart_color(size_t i)
{
	return palette[i % PALETTE_N];
}

/* ---- text ---- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes there are not one. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, UTF-16 surrogates and code points past U+10FFFF are not valid UTF-8 */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	/* U+FFFE and U+FFFF are not XML characters either */
	if (cp == 0xfffe || cp == 0xffff)
		return 0;
	return n;
}

/* Characters s shows once written (dropped control bytes do not count). */
static size_t text_chars(const unsigned char *s)
{
	size_t n = 0;
	while (*s) {
		size_t k = utf8_seq(s);
		if (k == 1 && *s < 0x20 && *s != '\t' && *s != '\n') {
			s++;
			continue;
		}
		n++;
		s += k ? k : 1;
	}
	return n;
}

void chart_write_text(FILE *out, const char *str, size_t max_chars)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t limit = SIZE_MAX, n = 0;

	if (!s)
		return;
	if (max_chars && text_chars(s) > max_chars)
		limit = max_chars - 1; /* room for the ellipsis */
	while (*s && n < limit) {
		size_t k = utf8_seq(s);
		if (k == 0) {
			fputs("\xef\xbf\xbd", out); /* U+FFFD */
			s++;
			n++;
			continue;
		}
		if (k > 1) {
			fwrite(s, 1, k, out);
		} else {
			switch (*s) {
			case '&': fputs("&amp;", out); break;
			case '<': fputs("&lt;", out); break;
			case '>': fputs("&gt;", out); break;
			case '"': fputs("&quot;", out); break;
			case '\'': fputs("&#39;", out); break;
			default:
				if (*s < 0x20 && *s != '\t' && *s != '\n') {
					s++;
					continue; /* not allowed in XML 1.0; n does not count it */
				}
				fputc(*s, out);
			}
		}
		s += k;
		n++;
	}
	if (limit != SIZE_MAX)
		fputs("\xe2\x80\xa6", out); /* U+2026 */
}

/*
 * A coordinate or value with at most one decimal, trailing ".0" dropped. printf's %f follows
 * LC_NUMERIC (a decimal comma would break the SVG); integers print the same in every locale.
 */
static void put_num(FILE *out, double v)
{
	if (!isfinite(v))
		v = 0;
	long long t = llround(v * 10);
	if (t < 0) {
		fputc('-', out);
		t = -t;
	}
	fprintf(out, "%lld", t / 10);
	if (t % 10)
		fprintf(out, ".%lld", t % 10);
}

static void svg_open(FILE *out, const char *kind, double h, const char *title)
{
	fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"lnmt-chart lnmt-chart-%s\" viewBox=\"0 0 %d ",
		kind, CHART_WIDTH);
	put_num(out, h);
	fprintf(out, "\" width=\"%d\" height=\"", CHART_WIDTH);
	put_num(out, h);
	fputs("\" role=\"img\" font-family=\"" FONT "\" font-size=\"12\"><title>", out);
	chart_write_text(out, title ? title : "", 0);
	fputs("</title>\n", out);
	/* The heading drawn inside the chart, so a chart saved alone still says what it shows. */
	fputs("<text class=\"chart-title\" x=\"16\" y=\"22\" font-size=\"14\" font-weight=\"600\" fill=\"currentColor\">",
	      out);
	chart_write_text(out, title ? title : "", 80);
	fputs("</text>\n", out);
}

static void no_data(FILE *out, double h)
{
	fputs("<text class=\"no-data\" x=\"", out);
	put_num(out, CHART_WIDTH / 2.0);
	fputs("\" y=\"", out);
	put_num(out, h / 2 + 10);
	fputs("\" text-anchor=\"middle\" font-size=\"14\" fill=\"currentColor\" fill-opacity=\"0.6\">no data</text>\n",
	      out);
}

static int svg_close(FILE *out)
{
	fputs("</svg>\n", out);
	return ferror(out) ? -EIO : 0;
}

/* ---- line chart ---- */

#define L_LEFT 52.0
#define L_RIGHT (CHART_WIDTH - 20.0)
#define L_TOP 44.0
#define L_PLOT_H 152.0
#define L_LEGEND_ROW 20.0

/* A tick label for time t: "Mar 03" at a UTC midnight, else "14:00". */
static void time_label(FILE *out, uint64_t t)
{
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm)) {
		fputs("?", out);
		return;
	}
	if (t % 86400 == 0)
		fprintf(out, "%s %02d", months[tm.tm_mon], tm.tm_mday);
	else
		fprintf(out, "%02d:%02d", tm.tm_hour, tm.tm_min);
}

/* The tick spacing: the smallest "round" interval that leaves at most 8 ticks on the span. */
static uint64_t tick_step(uint64_t span)
{
	static const uint64_t steps[] = { 60, 300, 600, 900, 1800, 3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600,
					  86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400, 56 * 86400,
					  112 * 86400, 364 * 86400 };
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (span / steps[i] <= 8)
			return steps[i];
	return span / 8 + 1;
}

/* One legend entry's width: swatch, gap, text, spacing. */
static double legend_w(const char *label)
{
	size_t n = text_chars((const unsigned char *)(label ? label : ""));
	if (n > CHART_LABEL_MAX)
		n = CHART_LABEL_MAX;
	return 22 + n * CHAR_W + 18;
}

/* Legend rows the series need on one chart width. */
static size_t legend_rows(const struct chart_lines *c)
{
	size_t rows = 1;
	double x = 0, avail = CHART_WIDTH - 2 * L_LEFT;
	for (size_t i = 0; i < c->n_series; i++) {
		double w = legend_w(c->series[i].label);
		if (x > 0 && x + w > avail) {
			rows++;
			x = 0;
		}
		x += w;
	}
	return rows;
}

static void stroke_style(FILE *out, size_t i)
{
	fprintf(out, "stroke=\"%s\"", chart_color(i));
	/* past the palette, repeat the colours with dashes so every series stays tellable */
	if ((i / PALETTE_N) % 2 == 1)
		fputs(" stroke-dasharray=\"6 3\"", out);
	else if (i >= PALETTE_N)
		fputs(" stroke-dasharray=\"2 3\"", out);
}

int chart_svg_lines(FILE *out, const struct chart_lines *c)
{
	if (!out || !c || (c->n_series && !c->series) || (c->n_points > 1 && c->step_s == 0))
		return -EINVAL;
	for (size_t s = 0; s < c->n_series; s++)
		if (c->n_points && !c->series[s].y)
			return -EINVAL;

	double lo = c->y_min, hi = c->y_max;
	if (lo == 0 && hi == 0)
		hi = 100;
	if (!(hi > lo))
		return -EINVAL;
	const char *unit = c->y_unit ? c->y_unit : "";

	bool any = false;
	for (size_t s = 0; s < c->n_series && !any; s++)
		for (size_t i = 0; i < c->n_points && !any; i++)
			any = !isnan(c->series[s].y[i]);

	size_t rows = any ? legend_rows(c) : 1;
	double h = CHART_LINES_HEIGHT + (double)(rows - 1) * L_LEGEND_ROW;
	double bottom = L_TOP + L_PLOT_H;

	svg_open(out, "lines", h, c->title);
	if (!any) {
		no_data(out, h);
		return svg_close(out);
	}
	fputs("<text x=\"", out);
	put_num(out, L_RIGHT);
	fputs("\" y=\"22\" text-anchor=\"end\" fill=\"currentColor\" fill-opacity=\"0.6\">UTC</text>\n", out);

	/* y grid and labels */
	fputs("<g class=\"grid\" stroke=\"currentColor\" stroke-opacity=\"0.15\">", out);
	for (int k = 0; k <= 4; k++) {
		double y = bottom - L_PLOT_H * k / 4;
		fputs("<line x1=\"", out);
		put_num(out, L_LEFT);
		fputs("\" x2=\"", out);
		put_num(out, L_RIGHT);
		fputs("\" y1=\"", out);
		put_num(out, y);
		fputs("\" y2=\"", out);
		put_num(out, y);
		fputs("\"/>", out);
	}
	fputs("</g>\n<g class=\"y-labels\" fill=\"currentColor\" fill-opacity=\"0.7\" text-anchor=\"end\">", out);
	for (int k = 0; k <= 4; k++) {
		fputs("<text x=\"", out);
		put_num(out, L_LEFT - 6);
		fputs("\" y=\"", out);
		put_num(out, bottom - L_PLOT_H * k / 4 + 4);
		fputs("\">", out);
		put_num(out, lo + (hi - lo) * k / 4);
		chart_write_text(out, unit, 8);
		fputs("</text>", out);
	}
	fputs("</g>\n", out);

	/* x ticks */
	uint64_t span = c->n_points > 1 ? (uint64_t)(c->n_points - 1) * c->step_s : 0;
	double pw = L_RIGHT - L_LEFT;
#define X_OF(t) (span ? L_LEFT + pw * (double)((t) - c->t0_s) / (double)span : L_LEFT + pw / 2)
	fputs("<g class=\"x-labels\" fill=\"currentColor\" fill-opacity=\"0.7\" text-anchor=\"middle\">", out);
	if (!span) {
		fputs("<text x=\"", out);
		put_num(out, X_OF(c->t0_s));
		fputs("\" y=\"", out);
		put_num(out, bottom + 18);
		fputs("\">", out);
		time_label(out, c->t0_s);
		fputs("</text>", out);
	} else {
		uint64_t st = tick_step(span);
		for (uint64_t t = (c->t0_s + st - 1) / st * st; t <= c->t0_s + span; t += st) {
			double x = X_OF(t);
			fputs("<line x1=\"", out);
			put_num(out, x);
			fputs("\" x2=\"", out);
			put_num(out, x);
			fputs("\" y1=\"", out);
			put_num(out, bottom);
			fputs("\" y2=\"", out);
			put_num(out, bottom + 4);
			fputs("\" stroke=\"currentColor\" stroke-opacity=\"0.4\"/><text x=\"", out);
			put_num(out, x);
			fputs("\" y=\"", out);
			put_num(out, bottom + 18);
			fputs("\">", out);
			time_label(out, t);
			fputs("</text>", out);
		}
	}
	fputs("</g>\n", out);
	/* the axis line over the 0 grid line */
	fputs("<line class=\"axis\" x1=\"", out);
	put_num(out, L_LEFT);
	fputs("\" x2=\"", out);
	put_num(out, L_RIGHT);
	fputs("\" y1=\"", out);
	put_num(out, bottom);
	fputs("\" y2=\"", out);
	put_num(out, bottom);
	fputs("\" stroke=\"currentColor\" stroke-opacity=\"0.4\"/>\n", out);

	/* the series: one path each; NAN lifts the pen; a lone point is a round-capped dot */
	for (size_t s = 0; s < c->n_series; s++) {
		const double *y = c->series[s].y;
		bool has = false;
		for (size_t i = 0; i < c->n_points && !has; i++)
			has = !isnan(y[i]);
		if (!has)
			continue;
		fprintf(out, "<path class=\"series\" data-series=\"%zu\" fill=\"none\" ", s);
		stroke_style(out, s);
		fputs(" stroke-width=\"2\" stroke-linejoin=\"round\" stroke-linecap=\"round\" d=\"", out);
		for (size_t i = 0; i < c->n_points; i++) {
			if (isnan(y[i]))
				continue;
			double v = y[i] < lo ? lo : y[i] > hi ? hi : y[i];
			bool first = i == 0 || isnan(y[i - 1]);
			bool lone = first && (i + 1 == c->n_points || isnan(y[i + 1]));
			fputc(first ? 'M' : 'L', out);
			put_num(out, X_OF(c->t0_s + (uint64_t)i * c->step_s));
			fputc(' ', out);
			put_num(out, bottom - L_PLOT_H * (v - lo) / (hi - lo));
			if (lone)
				fputs("h0", out);
		}
		fputs("\"><title>", out);
		chart_write_text(out, c->series[s].label, 0);
		fputs("</title></path>\n", out);
	}
#undef X_OF

	/* legend rows under the x labels, laid out as legend_rows() counted them */
	fputs("<g class=\"legend\" fill=\"currentColor\">", out);
	double x = 0, avail = CHART_WIDTH - 2 * L_LEFT, ly = bottom + 44;
	for (size_t s = 0; s < c->n_series; s++) {
		double w = legend_w(c->series[s].label);
		if (x > 0 && x + w > avail) {
			ly += L_LEGEND_ROW;
			x = 0;
		}
		fputs("<line x1=\"", out);
		put_num(out, L_LEFT + x);
		fputs("\" x2=\"", out);
		put_num(out, L_LEFT + x + 16);
		fputs("\" y1=\"", out);
		put_num(out, ly - 4);
		fputs("\" y2=\"", out);
		put_num(out, ly - 4);
		fputs("\" ", out);
		stroke_style(out, s);
		fputs(" stroke-width=\"3\"/><text class=\"legend-label\" x=\"", out);
		put_num(out, L_LEFT + x + 22);
		fputs("\" y=\"", out);
		put_num(out, ly);
		fputs("\">", out);
		chart_write_text(out, c->series[s].label, CHART_LABEL_MAX);
		fputs("</text>", out);
		x += w;
	}
	fputs("</g>\n", out);
	return svg_close(out);
}

/* ---- bar chart ---- */

#define B_TOP 58.0
#define B_ROW 24.0
#define B_BAR_H 16.0
#define B_LABEL_X 168.0   /* labels end here (text-anchor end) */
#define B_X0 176.0        /* bars start here */
#define B_VALUES_W 120.0  /* room for the values after the longest bar */
#define B_LABEL_CHARS 24

static double seg_value(double v)
{
	return isfinite(v) && v > 0 ? v : 0;
}

int chart_svg_bars(FILE *out, const struct chart_bars *c)
{
	if (!out || !c || (c->n && !c->bars) || c->n_segs > CHART_BAR_MAX_SEGS || (c->n && c->n_segs == 0))
		return -EINVAL;

	double max = 0;
	for (size_t i = 0; i < c->n; i++) {
		double t = 0;
		for (size_t k = 0; k < c->n_segs; k++)
			t += seg_value(c->bars[i].seg[k]);
		if (t > max)
			max = t;
	}
	if (max <= 0) {
		svg_open(out, "bars", 120, c->title);
		no_data(out, 120);
		return svg_close(out);
	}
	double h = B_TOP + (double)c->n * B_ROW + 10;
	double pw = CHART_WIDTH - 16 - B_VALUES_W - B_X0;
	svg_open(out, "bars", h, c->title);

	/* legend: one swatch per segment, on the line under the title */
	fputs("<g class=\"legend\" fill=\"currentColor\">", out);
	double x = 16;
	for (size_t k = 0; k < c->n_segs; k++) {
		fputs("<rect x=\"", out);
		put_num(out, x);
		fprintf(out, "\" y=\"34\" width=\"12\" height=\"12\" rx=\"2\" fill=\"%s\"/><text class=\"legend-label\" x=\"",
			seg_palette[k]);
		put_num(out, x + 18);
		fputs("\" y=\"44\">", out);
		chart_write_text(out, c->seg_names[k], CHART_LABEL_MAX);
		fputs("</text>", out);
		x += 18 + legend_w(c->seg_names[k]) - 22;
	}
	fputs("</g>\n", out);

	/* a light baseline where the bars start */
	fputs("<line class=\"axis\" x1=\"", out);
	put_num(out, B_X0);
	fputs("\" x2=\"", out);
	put_num(out, B_X0);
	fputs("\" y1=\"", out);
	put_num(out, B_TOP - 4);
	fputs("\" y2=\"", out);
	put_num(out, h - 10);
	fputs("\" stroke=\"currentColor\" stroke-opacity=\"0.3\"/>\n", out);

	for (size_t i = 0; i < c->n; i++) {
		const struct chart_bar *b = &c->bars[i];
		double y = B_TOP + (double)i * B_ROW;
		fputs("<g class=\"bar-row\"><text class=\"bar-label\" x=\"", out);
		put_num(out, B_LABEL_X);
		fputs("\" y=\"", out);
		put_num(out, y + B_BAR_H - 4);
		fputs("\" text-anchor=\"end\" fill=\"currentColor\">", out);
		chart_write_text(out, b->label, B_LABEL_CHARS);
		fputs("</text>", out);
		double bx = B_X0;
		for (size_t k = 0; k < c->n_segs; k++) {
			double v = seg_value(b->seg[k]);
			if (v <= 0)
				continue;
			double w = pw * v / max;
			fprintf(out, "<rect class=\"bar\" data-seg=\"%zu\" x=\"", k);
			put_num(out, bx);
			fputs("\" y=\"", out);
			put_num(out, y);
			fputs("\" width=\"", out);
			put_num(out, w);
			fputs("\" height=\"", out);
			put_num(out, B_BAR_H);
			fprintf(out, "\" fill=\"%s\"><title>", seg_palette[k]);
			chart_write_text(out, b->label, 0);
			fputs(": ", out);
			put_num(out, v);
			fputc(' ', out);
			chart_write_text(out, c->seg_names[k], 0);
			fputs("</title></rect>", out);
			bx += w;
		}
		fputs("<text class=\"bar-value\" x=\"", out);
		put_num(out, bx + 6);
		fputs("\" y=\"", out);
		put_num(out, y + B_BAR_H - 4);
		fputs("\" fill=\"currentColor\" fill-opacity=\"0.8\">", out);
		for (size_t k = 0; k < c->n_segs; k++) {
			if (k)
				fputs(" \xc2\xb7 ", out); /* U+00B7 middle dot */
			put_num(out, seg_value(b->seg[k]));
		}
		fputs("</text></g>\n", out);
	}
	return svg_close(out);
}
