/* SPDX-License-Identifier: MIT */
/* report_html.c: the standalone HTML uptime report of report_html.h. */
#include "report_html.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * The stylesheet. Colours are custom properties switched by prefers-color-scheme; the charts
 * draw text and grid in currentColor, so they follow. Figures use tabular digits so columns
 * line up. Nothing here loads anything.
 */
static const char style_css[] =
	":root{color-scheme:light dark;--bg:#f5f6f8;--fg:#1b2129;--muted:#5b6673;--card:#ffffff;"
	"--border:#dfe3e8;--stripe:rgba(120,130,140,.06);--up:#00785a;--down:#b8420a;--warn:#9a6700;"
	"--up-bg:rgba(0,158,115,.13);--down-bg:rgba(213,94,0,.13);--accent:#0072b2}\n"
	"@media (prefers-color-scheme:dark){:root{--bg:#12161b;--fg:#e3e7ec;--muted:#98a3af;--card:#1b2128;"
	"--border:#2d3641;--stripe:rgba(255,255,255,.03);--up:#3cc79c;--down:#ff8c57;--warn:#e8b339;"
	"--up-bg:rgba(60,199,156,.15);--down-bg:rgba(255,140,87,.15);--accent:#56b4e9}}\n"
	"*{box-sizing:border-box}\n"
	"body{margin:0;background:var(--bg);color:var(--fg);"
	"font:14px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,sans-serif}\n"
	".lnmt-report{max-width:980px;margin:0 auto;padding:32px 24px 48px}\n"
	".lnmt-report header{border-bottom:1px solid var(--border);padding-bottom:16px}\n"
	".lnmt-report h1{margin:0 0 6px;font-size:26px;font-weight:650;letter-spacing:-.01em}\n"
	".lnmt-report h2{margin:32px 0 10px;font-size:17px;font-weight:650}\n"
	".lnmt-report .meta{margin:0;color:var(--muted)}\n"
	".lnmt-report .meta span+span::before{content:\"\\00b7\";margin:0 .6em;color:var(--muted)}\n"
	".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;margin:24px 0}\n"
	".card{background:var(--card);border:1px solid var(--border);border-radius:12px;padding:14px 18px}\n"
	".card .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.06em}\n"
	".card .value{font-size:28px;font-weight:650;line-height:1.25;font-variant-numeric:tabular-nums}\n"
	".card.up .value{color:var(--up)}.card.down .value{color:var(--down)}\n"
	".lnmt-figure{margin:0 0 16px;background:var(--card);border:1px solid var(--border);border-radius:12px;"
	"padding:8px 8px 4px}\n"
	"svg.lnmt-chart{display:block;width:100%;height:auto;max-width:100%}\n"
	".lnmt-figure figcaption{color:var(--muted);font-size:12px;padding:2px 12px 8px}\n"
	".table-wrap{overflow-x:auto;border:1px solid var(--border);border-radius:12px;background:var(--card)}\n"
	"table.devices{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}\n"
	"table.devices th,table.devices td{padding:6px 14px;text-align:left;white-space:nowrap;"
	"border-bottom:1px solid var(--border)}\n"
	"table.devices th{position:sticky;top:0;background:var(--card);color:var(--muted);font-size:12px;"
	"font-weight:600;text-transform:uppercase;letter-spacing:.05em}\n"
	"table.devices tbody tr:nth-child(even){background:var(--stripe)}\n"
	"table.devices tbody tr:last-child td{border-bottom:0}\n"
	"table.devices .num{text-align:right}\n"
	"table.devices td.ip{font-family:ui-monospace,\"SFMono-Regular\",Menlo,Consolas,monospace;font-size:13px}\n"
	".state{display:inline-block;min-width:3.6em;padding:0 8px;border-radius:999px;font-size:12px;"
	"font-weight:600;text-align:center}\n"
	".state-up{color:var(--up);background:var(--up-bg)}.state-down{color:var(--down);background:var(--down-bg)}\n"
	".meter{display:inline-block;width:72px;height:6px;margin-right:10px;border-radius:3px;"
	"background:var(--border);vertical-align:middle;overflow:hidden}\n"
	".meter>span{display:block;height:100%;border-radius:3px;background:var(--up)}\n"
	".meter.warn>span{background:var(--warn)}.meter.bad>span{background:var(--down)}\n"
	".pct{display:inline-block;min-width:5.2em;text-align:right}\n"
	".note{color:var(--muted);font-size:13px}\n"
	".lnmt-report footer{margin-top:32px;color:var(--muted);font-size:12px}\n"
	"@media print{body{background:#fff}.card,.lnmt-figure,.table-wrap{break-inside:avoid}"
	"table.devices th{position:static}}\n";

void report_html_style(FILE *out)
{
	fputs("<style>\n", out);
	fputs(style_css, out);
	fputs("</style>\n", out);
}

void report_html_text(FILE *out, const char *s)
{
	chart_write_text(out, s, 0);
}

/* Locale-free figures: printf's %f would follow LC_NUMERIC, and the output must not vary. */
static void put_fixed2(FILE *out, double v)
{
	if (!isfinite(v))
		v = 0;
	long long t = llround(v * 100);
	if (t < 0) {
		fputc('-', out);
		t = -t;
	}
	fprintf(out, "%lld.%02lld", t / 100, t % 100);
}

/* 12345678 as "12,345,678". */
static void put_count(FILE *out, uint64_t v)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			fputc(',', out);
		fputc(buf[i], out);
	}
}

static void put_ip(FILE *out, uint32_t ip)
{
	fprintf(out, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 0xff, ip >> 8 & 0xff, ip & 0xff);
}

/* "2026-03-03 14:05 UTC" */
static void put_time(FILE *out, uint64_t s)
{
	time_t t = (time_t)s;
	struct tm tm;

	if (!gmtime_r(&t, &tm)) {
		fputs("?", out);
		return;
	}
	fprintf(out, "%04d-%02d-%02d %02d:%02d UTC", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		tm.tm_min);
}

void report_html_summarize(const struct report_uptime_row *rows, size_t n, struct report_summary *s)
{
	double sum = 0;

	*s = (struct report_summary){ .devices = n };
	for (size_t i = 0; i < n; i++) {
		if (rows[i].up)
			s->up++;
		else
			s->down++;
		sum += isfinite(rows[i].uptime_pct) ? rows[i].uptime_pct : 0;
	}
	s->mean_uptime_pct = n ? sum / (double)n : NAN;
}

int report_html_figure(FILE *out, const struct report_chart *c)
{
	int rc;

	if (!out || !c || !c->lines == !c->bars)
		return -EINVAL;
	fputs("<figure class=\"lnmt-figure\">\n", out);
	rc = c->lines ? chart_svg_lines(out, c->lines) : chart_svg_bars(out, c->bars);
	if (rc)
		return rc;
	if (c->note) {
		fputs("<figcaption>", out);
		report_html_text(out, c->note);
		fputs("</figcaption>\n", out);
	}
	fputs("</figure>\n", out);
	return ferror(out) ? -EIO : 0;
}

static void card(FILE *out, const char *cls, const char *label)
{
	fprintf(out, "<div class=\"card%s%s\"><div class=\"label\">%s</div><div class=\"value\">", cls ? " " : "",
		cls ? cls : "", label);
}

static int by_ip(const void *a, const void *b)
{
	const struct report_uptime_row *x = *(const struct report_uptime_row *const *)a;
	const struct report_uptime_row *y = *(const struct report_uptime_row *const *)b;
	return x->ip < y->ip ? -1 : x->ip > y->ip;
}

static void table_row(FILE *out, const struct report_uptime_row *u)
{
	double pct = isfinite(u->uptime_pct) ? u->uptime_pct : 0;
	double w = pct < 0 ? 0 : pct > 100 ? 100 : pct;

	fputs("<tr><td class=\"ip\">", out);
	put_ip(out, u->ip);
	fprintf(out, "</td><td><span class=\"state state-%s\">%s</span></td><td class=\"num\">"
		     "<span class=\"meter%s\" aria-hidden=\"true\"><span style=\"width:",
		u->up ? "up" : "down", u->up ? "up" : "down", pct >= 99 ? "" : pct >= 90 ? " warn" : " bad");
	put_fixed2(out, w);
	fputs("%\"></span></span><span class=\"pct\">", out);
	put_fixed2(out, pct);
	fprintf(out, "\xc2\xa0%%</span></td><td class=\"num\">%llu</td><td class=\"num\">%llu</td><td class=\"num\">%llu</td></tr>\n",
		(unsigned long long)u->probes, (unsigned long long)u->answers, (unsigned long long)u->changes);
}

int report_html_write(FILE *out, const struct report_html *r)
{
	const struct report_uptime_row **sorted = NULL;
	int rc = 0;

	if (!out || !r || (r->n_rows && !r->rows) || (r->n_charts && !r->charts))
		return -EINVAL;
	for (size_t i = 0; i < r->n_charts; i++)
		if (!r->charts[i].lines == !r->charts[i].bars)
			return -EINVAL;

	/* The table is in address order; sort pointers only when the caller's rows are not. */
	bool in_order = true;
	for (size_t i = 1; i < r->n_rows && in_order; i++)
		in_order = r->rows[i - 1].ip <= r->rows[i].ip;
	if (!in_order) {
		sorted = malloc(r->n_rows * sizeof(*sorted));
		if (!sorted)
			return -ENOMEM;
		for (size_t i = 0; i < r->n_rows; i++)
			sorted[i] = &r->rows[i];
		qsort(sorted, r->n_rows, sizeof(*sorted), by_ip);
	}

	const char *title = r->title ? r->title : "lnmt uptime report";
	fputs("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
	      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"/>\n"
	      "<meta name=\"generator\" content=\"lnmt\"/>\n<title>", out);
	report_html_text(out, title);
	fputs("</title>\n", out);
	report_html_style(out);
	fputs("</head>\n<body>\n<main class=\"lnmt-report\">\n<header>\n<h1>", out);
	report_html_text(out, title);
	fputs("</h1>\n<p class=\"meta\"><span>Generated ", out);
	put_time(out, r->generated_s);
	fputs("</span>", out);
	if (r->since_s || r->since_text) {
		fputs("<span>Period: ", out);
		if (r->since_s) {
			fputs("since ", out);
			put_time(out, r->since_s);
		}
		if (r->since_text) {
			fputs(r->since_s ? " (last " : "last ", out);
			report_html_text(out, r->since_text);
			fputs(r->since_s ? ")" : "", out);
		}
		fputs("</span>", out);
	}
	fputs("<span>Scope: ", out);
	report_html_text(out, r->scope ? r->scope : "all devices");
	fputs("</span>", out);
	if (r->source) {
		fputs("<span>Source: ", out);
		report_html_text(out, r->source);
		fputs("</span>", out);
	}
	fputs("</p>\n</header>\n", out);

	const struct report_summary *s = &r->summary;
	fputs("<section class=\"cards\" aria-label=\"Summary\">\n", out);
	card(out, NULL, "Devices");
	put_count(out, s->devices);
	fputs("</div></div>\n", out);
	card(out, "up", "Up");
	put_count(out, s->up);
	fputs("</div></div>\n", out);
	card(out, "down", "Down");
	put_count(out, s->down);
	fputs("</div></div>\n", out);
	card(out, NULL, "Mean uptime");
	if (isfinite(s->mean_uptime_pct)) {
		put_fixed2(out, s->mean_uptime_pct);
		fputs("\xc2\xa0%", out);
	} else {
		fputs("\xe2\x80\x93", out); /* en dash */
	}
	fputs("</div></div>\n</section>\n", out);

	for (size_t i = 0; i < r->n_charts; i++)
		if ((rc = report_html_figure(out, &r->charts[i])))
			goto done;

	size_t max = r->max_rows ? r->max_rows : REPORT_HTML_MAX_ROWS;
	size_t shown = r->n_rows < max ? r->n_rows : max;
	fputs("<h2>Devices</h2>\n", out);
	if (!r->n_rows) {
		fputs("<p class=\"note\">No device in this scope was probed in the period.</p>\n", out);
	} else {
		fputs("<div class=\"table-wrap\">\n<table class=\"devices\">\n<thead><tr><th scope=\"col\">IP</th>"
		      "<th scope=\"col\">State</th><th scope=\"col\" class=\"num\">Uptime</th>"
		      "<th scope=\"col\" class=\"num\">Probes</th><th scope=\"col\" class=\"num\">Answers</th>"
		      "<th scope=\"col\" class=\"num\">Changes</th></tr></thead>\n<tbody>\n", out);
		for (size_t i = 0; i < shown; i++)
			table_row(out, sorted ? sorted[i] : &r->rows[i]);
		fputs("</tbody>\n</table>\n</div>\n", out);
		if (shown < r->n_rows) {
			fputs("<p class=\"note\">Showing the first ", out);
			put_count(out, shown);
			fputs(" of ", out);
			put_count(out, r->n_rows);
			fputs(" devices by address; ", out);
			put_count(out, r->n_rows - shown);
			fputs(" more are left out. <code>lnmt report uptime -f csv</code> lists them all.</p>\n", out);
		}
	}
	fputs("<footer>Made by lnmt. Uptime is the share of probes a device answered in the period, "
	      "counted per hour; a device counts as down once it has missed consecutive sweeps (two by default).</footer>\n"
	      "</main>\n</body>\n</html>\n", out);
	if (ferror(out))
		rc = -EIO;
done:
	free(sorted);
	return rc;
}
