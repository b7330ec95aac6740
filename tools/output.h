/* SPDX-License-Identifier: MIT */
/*
 * output.h: how `lnmt scan` shows results: one line per reply on stdout as text, JSON lines or
 * CSV; a progress line and the final summary on stderr. The result writer runs on the sweep's
 * receiver thread, the progress writer on the sending thread.
 */
#ifndef LNMT_OUTPUT_H
#define LNMT_OUTPUT_H

#include "sweep.h"

#include <stdbool.h>
#include <stdio.h>

enum out_format { OUT_TEXT, OUT_JSONL, OUT_CSV };

struct output {
	enum out_format format;
	FILE *out;
	FILE *err;
	bool progress;      /* draw the progress line (stderr is a TTY) */
	bool progress_drawn;
};

/* Parses "text", "jsonl", "csv"; -1 if unknown. */
int output_format_parse(const char *s);

void output_begin(struct output *o);
void output_result(void *ctx, const struct sweep_result *r);   /* a sweep_sink.result */
void output_progress(void *ctx, const struct sweep_progress *p); /* a sweep_sink.progress */
void output_clear_progress(struct output *o);
void output_summary(struct output *o, const struct sweep_stats *st, bool verbose);

#endif
