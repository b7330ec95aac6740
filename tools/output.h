/* SPDX-License-Identifier: MIT */
/*
 * output.h: how `lnmt scan` shows results: one line per reply on stdout as text, JSON lines or
 * CSV; a progress line and the final summary on stderr. The result writer runs on the sweep's
 * delivery thread, the progress writer on sweep_run's thread: the progress line they share on a
 * terminal is guarded by the output's lock.
 */
#ifndef LNMT_OUTPUT_H
#define LNMT_OUTPUT_H

#include "sweep.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

enum out_format { OUT_TEXT, OUT_JSONL, OUT_CSV };

struct output {
	enum out_format format;
	FILE *out;
	FILE *err;
	bool progress;      /* draw the progress line (stderr is a TTY) */
	bool progress_drawn;
	pthread_mutex_t lock; /* set up by output_begin */
	uint64_t wait_ns;   /* the sweep's --wait, for the summary */
	unsigned retries;   /* the sweep's --retries, for the summary */
};

/* Parses "text", "jsonl", "csv"; -1 if unknown. */
int output_format_parse(const char *s);

/* Before the first result: the CSV header, the lock. */
void output_begin(struct output *o);
void output_result(void *ctx, const struct sweep_result *r);   /* a sweep_sink.result */
void output_progress(void *ctx, const struct sweep_progress *p); /* a sweep_sink.progress */
void output_clear_progress(struct output *o);
void output_summary(struct output *o, const struct sweep_stats *st, bool verbose);

#endif
