/* SPDX-License-Identifier: MIT */
/*
 * chart.h: lnmt's charts as SVG, written by its own code: a time-series line chart (uptime per
 * hour) and a horizontal stacked bar chart (up / down per subnet or vendor). The one renderer of
 * the standalone HTML report (report_html.h) and of lnmt-http's dashboard.
 *
 * Inputs are plain C (no store, RPC or MessagePack types), borrowed for the duration of the call
 * only. Output goes to a FILE * (use open_memstream() for a buffer); nothing is allocated that
 * outlives a call. The functions hold no state and may run on several threads at once.
 *
 * What the SVG promises (tests and stylesheets rely on it):
 *  - the root is <svg xmlns=... class="lnmt-chart lnmt-chart-lines"> (or "lnmt-chart-bars")
 *    with role="img", a viewBox (so it scales; width and height are the natural size), and a
 *    <title> as its first child; font-family="system-ui,sans-serif"; no external resources,
 *    no scripts;
 *  - data marks: each series is one <path class="series" data-series="I"> (a gap in the data
 *    starts a new subpath with M), each bar segment with a value > 0 one
 *    <rect class="bar" data-seg="J">; each mark carries a <title> (label and value);
 *  - text and grid lines use currentColor, so the chart follows the page's text colour (light
 *    or dark); data colours come from a fixed colour-blind-safe palette (Okabe and Ito);
 *  - every label is XML-escaped (& < > " ' and control bytes; invalid UTF-8 becomes U+FFFD);
 *  - numbers are written without the C locale's help, so the same input gives the same bytes
 *    under any locale;
 *  - with nothing to draw (no points, no series, every value NAN or 0) a chart of the same size
 *    with a "no data" message is written, never nothing.
 *
 * Return codes: 0, -EINVAL for a NULL or inconsistent input, -EIO when writing to out failed.
 */
#ifndef LNMT_CHART_H
#define LNMT_CHART_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CHART_WIDTH 720           /* natural width of every chart, SVG user units */
#define CHART_LINES_HEIGHT 260    /* natural height of a line chart (plus legend rows) */
#define CHART_BAR_MAX_SEGS 4      /* segments per stacked bar */
#define CHART_LABEL_MAX 40        /* labels longer than this (characters) are cut with an ellipsis */

/* ---- time-series line chart ---- */

struct chart_series {
	const char *label;   /* legend text; NULL = "" */
	const double *y;     /* n_points values; NAN = no data (a gap in the line) */
};

struct chart_lines {
	const char *title;                 /* the <title> and the heading drawn in the chart */
	uint64_t t0_s, step_s;             /* time of y[0] and between points, seconds since the epoch (UTC) */
	size_t n_points;
	const struct chart_series *series; /* n_series of them; drawn in palette order */
	size_t n_series;
	const char *y_unit;                /* appended to the y labels ("%"); NULL = "" */
	double y_min, y_max;               /* y range; both 0 = 0..100; values outside are clamped */
};

/*
 * Writes the line chart: x is time (ticks on whole UTC hours or days, labelled HH:MM, or
 * "Mon DD" at midnight), y has five grid lines from y_min to y_max, a legend lists the series
 * under the plot (wrapping to more rows, which makes the chart taller). Series past the
 * palette's 7 colours repeat them with a dashed line.
 */
int chart_svg_lines(FILE *out, const struct chart_lines *c);

/* ---- horizontal stacked bar chart ---- */

struct chart_bar {
	const char *label;                 /* left of the bar; NULL = "" */
	double seg[CHART_BAR_MAX_SEGS];    /* segment values >= 0 (negative and NAN count as 0) */
};

struct chart_bars {
	const char *title;
	const char *seg_names[CHART_BAR_MAX_SEGS]; /* legend; e.g. "up", "down" */
	size_t n_segs;                     /* 1..CHART_BAR_MAX_SEGS */
	const struct chart_bar *bars;      /* n of them, drawn top to bottom in this order */
	size_t n;
};

/*
 * Writes the bar chart: one row per bar (the chart grows with n), bar lengths proportional to
 * the values on one scale (the largest total fills the plot width), each row's values written
 * after it ("250 · 6"). Segment colours: green, vermillion, blue, orange, in seg order, so
 * "up, down" reads as expected.
 */
int chart_svg_bars(FILE *out, const struct chart_bars *c);

/* ---- helpers shared with report_html.c ---- */

/*
 * Writes s as XML / HTML text or attribute content: & < > " ' escaped, control bytes other than
 * tab and newline dropped, invalid UTF-8 replaced by U+FFFD. At most max_chars characters
 * (0 = no limit); a longer s is cut and ends with an ellipsis. NULL writes nothing.
 */
void chart_write_text(FILE *out, const char *s, size_t max_chars);

/* The palette: colour i (any i; wraps) as "#rrggbb". */
const char *chart_color(size_t i);

#endif
