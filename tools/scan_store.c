/* SPDX-License-Identifier: MIT */
/* scan_store.c: the sink that prints and stores each result of `lnmt scan` (see scan_store.h). */
#include "scan_store.h"

#include "cli.h"
#include "err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

uint8_t scan_store_probe_of(const struct probe_ops *p)
{
	if (p == &probe_arp)
		return STORE_PROBE_ARP;
	if (p == &probe_icmp)
		return STORE_PROBE_ICMP;
	return STORE_PROBE_SYN;
}

uint8_t scan_store_end_of(const struct sweep_stats *stats, bool failed)
{
	if (failed)
		return STORE_END_FAILED;
	switch (stats->ended) {
	case SWEEP_END_ALL_ANSWERED: return STORE_END_ALL_ANSWERED;
	case SWEEP_END_WAIT: return STORE_END_WAIT;
	case SWEEP_END_STOPPED: return STORE_END_STOPPED;
	case SWEEP_END_QUIET: return STORE_END_QUIET;
	}
	/* An end this file does not name yet: the engine ended it by itself, having probed
	 * everything, which is what the store needs to know (its silences are misses). */
	return STORE_END_QUIET;
}

static uint8_t store_state_of(uint8_t state)
{
	switch (state) {
	case PROBE_STATE_OPEN: return STORE_RESULT_OPEN;
	case PROBE_STATE_CLOSED: return STORE_RESULT_CLOSED;
	default: return STORE_RESULT_UP;
	}
}

int scan_store_ranges(const struct sweep_config *cfg, struct store_range **out, size_t *n)
{
	const struct target_set *t = cfg->targets;
	struct store_range *r;

	*out = NULL;
	*n = 0;
	if (cfg->shards > 1)
		return 0;
	if (!(r = calloc(t->n_incl ? t->n_incl : 1, sizeof(*r))))
		return -ENOMEM;
	for (size_t i = 0; i < t->n_incl; i++)
		r[i] = (struct store_range){ t->incl[i].first, t->incl[i].last };
	*out = r;
	*n = t->n_incl;
	return 0;
}

int scan_store_begin(struct scan_store *ss, const char *dir, unsigned offline_after,
		     const struct sweep_config *cfg, const char *targets_text, const char *ports_text)
{
	char err[512];
	size_t n;
	int rc;

	ss->st = cli_store_open(dir, false, offline_after);
	if (!ss->st)
		return 1;
	ss->info = (struct store_sweep){
		.start_us = cli_now_us(), .rate_pps = cfg->rate_pps, .retries = cfg->retries,
		.addresses = cfg->targets->count,
	};
	snprintf(ss->info.targets, sizeof(ss->info.targets), "%s", targets_text);
	snprintf(ss->info.ports, sizeof(ss->info.ports), "%s", ports_text ? ports_text : "");
	for (unsigned i = 0; i < cfg->n_probes; i++)
		ss->info.probes |= scan_store_probe_of(cfg->probes[i]);
	struct store_range *ranges;
	if ((rc = scan_store_ranges(cfg, &ranges, &n)) == 0)
		rc = store_recorder_open(ss->st, &ss->info, ranges, n, &ss->rec, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "recording the sweep: %s", lnmt_strerror(rc));
	free(ranges);
	if (rc) {
		cli_error("%s", err);
		store_close(ss->st);
		ss->st = NULL;
		return 1;
	}
	return 0;
}

void scan_store_result_of(const struct sweep_result *r, struct store_result *out)
{
	*out = (struct store_result){
		.ip = r->ip, .probe = scan_store_probe_of(r->probe), .state = store_state_of(r->state),
		.port = r->port, .rtt_us = r->rtt_us, .ttl = r->ttl, .has_mac = r->has_mac,
		.time_us = cli_now_us(),
	};
	memcpy(out->mac, r->mac, 6);
}

void scan_store_result(void *ctx, const struct sweep_result *r)
{
	struct scan_store *ss = ctx;
	struct store_result sr;

	output_result(ss->out, r);
	scan_store_result_of(r, &sr);
	store_recorder_add(ss->rec, &sr);
}

void scan_store_progress(void *ctx, const struct sweep_progress *p)
{
	struct scan_store *ss = ctx;

	output_progress(ss->out, p);
	store_recorder_progress(ss->rec, p->sent);
}

static struct store_sweep final_record(const struct scan_store *ss, const struct sweep_stats *stats, bool failed)
{
	struct store_sweep fin = ss->info;

	fin.end_us = cli_now_us();
	fin.sent = stats->sent;
	fin.replies = stats->replies;
	fin.live = stats->live;
	fin.ended = scan_store_end_of(stats, failed);
	return fin;
}

void scan_store_ended(void *ctx, const struct sweep_stats *st, bool failed)
{
	struct scan_store *ss = ctx;

	if (ss->rec) {
		struct store_sweep fin = final_record(ss, st, failed);
		store_recorder_finish(ss->rec, &fin);
	}
}

int scan_store_end(struct scan_store *ss, const struct sweep_stats *stats, bool failed, bool quiet)
{
	char err[512];
	uint64_t stored = 0;

	if (!ss->st)
		return 0;
	/* The final record as of now; if scan_store_ended() began writing one, that one stands. */
	struct store_sweep fin = final_record(ss, stats, failed);
	int rc = store_recorder_close(ss->rec, &fin, &stored, err, sizeof(err));
	ss->rec = NULL;
	/* err says what was not stored, and why ("no space left on DIR: ..."). */
	if (rc)
		cli_error("not everything was stored: %s", err);
	else if (!quiet)
		cli_error("stored as sweep %llu in %s", (unsigned long long)ss->info.id, ss->dir ? ss->dir : "the store");
	store_close(ss->st);
	ss->st = NULL;
	return rc ? 1 : 0;
}
