/* SPDX-License-Identifier: MIT */
/*
 * sweep_policy.h: what a sweep decides from what it has seen. When the network has gone quiet
 * (the end of the sweep and the gap before a retry pass), whether another retry pass is worth
 * its probes, and what rate the path has shown it carries.
 *
 * Everything here is arithmetic over counters and times the caller supplies: no clock reads, no
 * threads, no allocation. The unit tests feed it synthetic reply timelines; sweep.c feeds it the
 * live ones. The model behind each rule is written next to it in sweep_policy.c.
 */
#ifndef LNMT_SWEEP_POLICY_H
#define LNMT_SWEEP_POLICY_H

#include <stdbool.h>
#include <stdint.h>

/* ---- round-trip times ---- */

/* Four buckets per octave from 1 us (bucket 0 holds everything below 1 us) up to ~2^27 us. */
#define RTT_HIST_BUCKETS 112

/*
 * A log-bucket histogram of RTTs. One thread adds (the receiver), others may read at any time:
 * every field is read and written with relaxed atomics, so a reader sees a slightly stale but
 * never torn view. Zero-initialized means empty.
 */
struct rtt_hist {
	uint64_t n;
	uint64_t max_ns;
	uint32_t count[RTT_HIST_BUCKETS];
};

void rtt_hist_add(struct rtt_hist *h, uint64_t rtt_ns);
uint64_t rtt_hist_count(const struct rtt_hist *h);
/* The upper edge of the bucket holding quantile q (0 < q <= 1), in ns; 0 when empty. */
uint64_t rtt_hist_quantile(const struct rtt_hist *h, double q);

/* ---- the end, and the gap before a retry ---- */

struct quiet_rule {
	uint64_t floor_ns;    /* never less: scheduler noise and the capture's 1 ms block timeout */
	unsigned factor;      /* times the high-quantile RTT */
	uint64_t no_reply_ns; /* when nothing has answered yet: how long a silent network gets */
	uint64_t cap_ns;      /* never more (the user's --wait) */
};

/* The RTT that replies are measured against: p99.9 once 1,000 replies arrived, the largest seen
 * before (with fewer samples the tail quantile is the maximum). 0 when nothing answered. */
uint64_t sweep_rtt_high(const struct rtt_hist *h);

/*
 * How long the network must have been quiet (no probe sent, no reply seen) before further
 * replies are improbable: factor x the high RTT of the slowest probe kind that has answered,
 * clamped to [floor, cap]; no_reply_ns (capped) when no kind has answered. hists has n entries
 * (one per probe kind). *rtt_high, if not NULL, gets the RTT the figure was derived from.
 */
uint64_t sweep_quiet_ns(const struct rtt_hist *hists, unsigned n, const struct quiet_rule *r,
			uint64_t *rtt_high);

/*
 * Stragglers: on a dense network (at most 10% of the probes unanswered, at least one) the silent
 * few are more likely slow or unlucky than absent, so the sweep listens for them a while.
 */
bool sweep_dense_silence(uint64_t unanswered, uint64_t probes);

/* ---- retries ---- */

#define SWEEP_MAX_PASSES 101 /* the first pass and at most 100 retries */

/* What one pass did: probes sent, (address, slot) pairs that first answered while it was the
 * latest pass (its own replies and late ones to earlier passes), its send rate. */
struct pass_stat {
	uint64_t sent;
	uint64_t found;
	uint64_t rate_pps;   /* the rate it was sent at: the pacing, or what it achieved unpaced */
	bool paced;          /* sent at a rate the sweep chose (not as fast as it could) */
	uint64_t interval_ns; /* from its first probe to the next pass (or the end): found's window */
	uint64_t start_ns;   /* since the sweep's first probe (for reports; the rules ignore it) */
	uint64_t send_ns;    /* how long sending it took */
	uint64_t gap_ns;     /* the quiet wait after it (for reports) */
	uint64_t rtt_high_ns; /* the high RTT that wait was derived from (for reports) */
};

#define SWEEP_RATE_UNPACED UINT64_MAX

struct retry_verdict {
	bool again;          /* send another pass */
	bool measured;       /* loss and missed are estimates (false: too few passes at this rate) */
	double loss;         /* estimated chance that a live target's probe round trip fails */
	double missed;       /* expected live pairs still unanswered */
	uint64_t rate_pps;   /* the rate for the next pass: 0 = unchanged, SWEEP_RATE_UNPACED = unpaced */
};

/*
 * Decides the pass after passes[0..n-1] (n >= 1), where unanswered pairs remain. The first retry
 * is always sent: nothing is known about loss before it. After that the loss is estimated from
 * the yield of the passes sent at the current rate, and another pass is sent while the expected
 * number of live pairs still missed is at least one half. When the loss is so high that the path
 * must be dropping probes for their rate (a policer, a congested link) and the rate is not fixed,
 * the next pass goes at the rate the replies came back at, below cap_pps (0 = no cap); if slowing
 * down did not make the loss smaller, the loss was not the rate's doing and the earlier rate
 * comes back.
 */
struct retry_verdict sweep_retry_decide(const struct pass_stat *passes, unsigned n, bool rate_fixed,
					uint64_t cap_pps);

#endif
