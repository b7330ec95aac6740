/* SPDX-License-Identifier: MIT */
/*
 * scan_store.h: `lnmt scan` keeps what it finds. A sweep sink that hands every result to the
 * output and to the store's recorder (which writes on its own thread), and at the end records
 * the sweep's figures and says what, if anything, could not be stored.
 */
#ifndef LNMT_SCAN_STORE_H
#define LNMT_SCAN_STORE_H

#include "output.h"
#include "store.h"
#include "sweep.h"

struct scan_store {
	struct output *out;
	struct store *st;           /* NULL: results are only printed */
	struct store_recorder *rec;
	struct store_sweep info;
	const char *dir;
};

/*
 * Opens the store in dir (NULL: default) and starts recording a sweep of cfg. targets_text and
 * ports_text describe it in the sweep record. Returns 0, or non-zero after printing why.
 */
int scan_store_begin(struct scan_store *ss, const char *dir, unsigned offline_after,
		     const struct sweep_config *cfg, const char *targets_text, const char *ports_text);

/* The store's record of one sweep result (probe and state mapped, time = now); also used by
 * lnmtd's sweeps. */
void scan_store_result_of(const struct sweep_result *r, struct store_result *out);
/*
 * The address ranges every probe of cfg covers, for store_recorder_open (the caller frees *out).
 * None for a shard, which covers only part of each range and so cannot say who missed it.
 * 0 or -ENOMEM.
 */
int scan_store_ranges(const struct sweep_config *cfg, struct store_range **out, size_t *n);

/* The STORE_PROBE_* bit of a probe module. */
uint8_t scan_store_probe_of(const struct probe_ops *p);

/* How the store records the end of a sweep (enum store_sweep_end) that ended with stats, or
 * failed (sweep_run returned an error); also used by lnmtd's sweeps. */
uint8_t scan_store_end_of(const struct sweep_stats *stats, bool failed);

/* The sweep_sink callbacks of a storing scan: ctx is the struct scan_store. */
void scan_store_result(void *ctx, const struct sweep_result *r);
void scan_store_progress(void *ctx, const struct sweep_progress *p);
/* Starts writing the sweep's final record (and the store's flush) while the sweep tears down. */
void scan_store_ended(void *ctx, const struct sweep_stats *st, bool failed);

/* Finishes the record with the sweep's figures and closes the store; prints a line saying
 * where it went (unless quiet) or what was not stored. Returns 0 or non-zero on a store error. */
int scan_store_end(struct scan_store *ss, const struct sweep_stats *stats, bool failed, bool quiet);

#endif
