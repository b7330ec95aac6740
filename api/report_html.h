/* SPDX-License-Identifier: MIT */
/*
 * report_html.h: the standalone HTML uptime report (`lnmt report uptime --format html`) and the
 * pieces of it lnmt-http's dashboard reuses: the stylesheet and the chart figures.
 *
 * The page is one self-contained file someone can mail: <!doctype html>, inline CSS (light and
 * dark through prefers-color-scheme), inline SVG charts from chart.h, no scripts, no external
 * resources. Inputs are plain C structs borrowed for the duration of the call; nothing is kept.
 * Deterministic: the same input writes the same bytes (the generation time is an input).
 *
 * Return codes: 0, -EINVAL for a NULL or inconsistent input, -ENOMEM when sorting the rows
 * needed memory that was not there, -EIO when writing to out failed.
 */
#ifndef LNMT_REPORT_HTML_H
#define LNMT_REPORT_HTML_H

#include "chart.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define REPORT_HTML_MAX_ROWS 5000 /* table rows written by default; a note counts the rest */

/* One device of the uptime table (struct store_uptime, without the store). */
struct report_uptime_row {
	uint32_t ip;            /* IPv4, host order */
	bool up;                /* current state */
	double uptime_pct;      /* 0..100 over the period */
	uint64_t probes, answers, changes;
};

struct report_summary {
	uint64_t devices, up, down;
	double mean_uptime_pct; /* mean of the devices' uptime; NAN = none */
};

/* A chart and the sentence under it; exactly one of lines and bars is set. */
struct report_chart {
	const struct chart_lines *lines;
	const struct chart_bars *bars;
	const char *note;       /* figcaption text (escaped here); NULL = none */
};

struct report_html {
	const char *title;            /* NULL = "lnmt uptime report" */
	uint64_t generated_s;         /* when the report was made, seconds since the epoch (shown in UTC) */
	uint64_t since_s;             /* start of the period; 0 = not shown */
	const char *since_text;       /* how the user said it ("7d"); NULL = not shown */
	const char *scope;            /* the subnet ("198.18.0.0/16"); NULL = "all devices" */
	const char *source;           /* where the data came from ("store /var/lib/lnmt", "lnmtd"); NULL = not shown */
	struct report_summary summary;
	const struct report_chart *charts; /* n_charts of them, in page order */
	size_t n_charts;
	const struct report_uptime_row *rows; /* any order: the table is sorted by address */
	size_t n_rows;
	size_t max_rows;              /* table rows at most; 0 = REPORT_HTML_MAX_ROWS */
};

/* Fills s from the rows: device count, up, down, mean uptime (NAN when there are no rows). */
void report_html_summarize(const struct report_uptime_row *rows, size_t n, struct report_summary *s);

/* Writes the whole page. */
int report_html_write(FILE *out, const struct report_html *r);

/*
 * The reusable parts, for pages that build their own layout (lnmt-http's dashboard):
 * report_html_style writes the <style> element the report uses (class names: .lnmt-report,
 * .cards/.card, .lnmt-figure, table.devices, .state-up/.state-down, .meter, .note);
 * report_html_figure writes one chart as <figure class="lnmt-figure"> with its note as
 * <figcaption>; report_html_text writes s escaped for HTML text or attributes.
 */
void report_html_style(FILE *out);
int report_html_figure(FILE *out, const struct report_chart *c);
void report_html_text(FILE *out, const char *s);

#endif
