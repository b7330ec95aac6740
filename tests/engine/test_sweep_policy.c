/* SPDX-License-Identifier: MIT */
/* test_sweep_policy.c: the end, retry and rate rules, fed synthetic reply timelines. */
#include "sweep_policy.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ull
#define US 1000ull

/* ---- RTT histogram ---- */

Test(sweep_policy, empty_histogram_says_nothing)
{
	struct rtt_hist h = { 0 };

	cr_assert_eq(rtt_hist_count(&h), 0);
	cr_assert_eq(rtt_hist_quantile(&h, 0.5), 0);
	cr_assert_eq(sweep_rtt_high(&h), 0);
}

/* A bucket's upper edge is at or above every RTT in it and at most a quarter octave above. */
Test(sweep_policy, quantile_is_the_bucket_upper_edge)
{
	static const uint64_t rtts[] = { 0, 999, 1 * US, 3 * US, 7 * US, 130 * US, 800 * US, 1 * MS, 47 * MS,
					 300 * MS, 5000 * MS };

	for (size_t i = 0; i < sizeof(rtts) / sizeof(rtts[0]); i++) {
		struct rtt_hist h = { 0 };
		rtt_hist_add(&h, rtts[i]);
		uint64_t q = rtt_hist_quantile(&h, 1.0);
		cr_assert_geq(q, rtts[i], "rtt %llu: upper edge %llu", (unsigned long long)rtts[i], (unsigned long long)q);
		cr_assert_leq(q, rtts[i] < 4 * US ? 4 * US : rtts[i] + rtts[i] / 4 + US,
			      "rtt %llu: upper edge %llu too far", (unsigned long long)rtts[i], (unsigned long long)q);
	}
}

Test(sweep_policy, high_rtt_is_the_max_until_a_thousand_replies_then_p999)
{
	struct rtt_hist h = { 0 };

	for (int i = 0; i < 998; i++)
		rtt_hist_add(&h, 200 * US);
	rtt_hist_add(&h, 9 * MS); /* one slow reply in 999: with so few samples, it is the tail */
	cr_assert_eq(sweep_rtt_high(&h), 9 * MS);
	for (int i = 0; i < 9000; i++)
		rtt_hist_add(&h, 200 * US);
	/* 1 in 10,000 is beyond p99.9: the quantile sits in the 200 us bucket now. */
	uint64_t high = sweep_rtt_high(&h);
	cr_assert(high >= 200 * US && high <= 250 * US, "p99.9 %llu", (unsigned long long)high);
}

/* ---- the quiet rule ---- */

static const struct quiet_rule rule = { .floor_ns = 10 * MS, .factor = 4, .no_reply_ns = 1000 * MS, .cap_ns = 2000 * MS };

Test(sweep_policy, quiet_time_is_a_multiple_of_the_high_rtt_within_floor_and_cap)
{
	struct rtt_hist h[2] = { { 0 } };
	uint64_t high;

	cr_assert_eq(sweep_quiet_ns(h, 2, &rule, &high), 1000 * MS, "nothing answered: the no-reply wait");
	cr_assert_eq(high, 0);
	rtt_hist_add(&h[0], 300 * US);
	cr_assert_eq(sweep_quiet_ns(h, 2, &rule, &high), 10 * MS, "4 x 0.3 ms is under the floor");
	rtt_hist_add(&h[1], 5 * MS);
	cr_assert_eq(sweep_quiet_ns(h, 2, &rule, &high), 20 * MS, "the slowest probe kind decides");
	cr_assert_eq(high, 5 * MS);
	rtt_hist_add(&h[1], 900 * MS);
	cr_assert_eq(sweep_quiet_ns(h, 2, &rule, NULL), 2000 * MS, "never beyond the cap");
}

Test(sweep_policy, no_reply_wait_is_capped_too)
{
	struct rtt_hist h = { 0 };
	struct quiet_rule r = rule;

	r.cap_ns = 200 * MS;
	cr_assert_eq(sweep_quiet_ns(&h, 1, &r, NULL), 200 * MS);
}

Test(sweep_policy, dense_silence)
{
	cr_assert_not(sweep_dense_silence(0, 65536), "nothing silent");
	cr_assert(sweep_dense_silence(256, 65536), "one /24 of a /16");
	cr_assert(sweep_dense_silence(256, 4096), "one /24 of a /20");
	cr_assert(sweep_dense_silence(6553, 65536));
	cr_assert_not(sweep_dense_silence(6554, 65536));
	cr_assert_not(sweep_dense_silence(32768, 65536), "half alive");
	cr_assert_not(sweep_dense_silence(58982, 65536), "a tenth alive");
	cr_assert(sweep_dense_silence(10, 100));
	cr_assert_not(sweep_dense_silence(11, 100));
}

/* ---- retries ---- */

static struct pass_stat unpaced(uint64_t sent, uint64_t found)
{
	return (struct pass_stat){ .sent = sent, .found = found, .rate_pps = 1400000 };
}

Test(sweep_policy, the_first_retry_is_always_sent)
{
	struct pass_stat p[] = { unpaced(65536, 65000) };
	struct retry_verdict v = sweep_retry_decide(p, 1, false, 0);

	cr_assert(v.again);
	cr_assert_not(v.measured);
	cr_assert_eq(v.rate_pps, 0);
}

Test(sweep_policy, a_lossless_sparse_network_costs_one_retry)
{
	struct pass_stat p[] = { unpaced(65536, 6553), unpaced(58983, 0) };
	struct retry_verdict v = sweep_retry_decide(p, 2, false, 0);

	cr_assert(v.measured);
	cr_assert_not(v.again, "missed %f loss %f", v.missed, v.loss);
	cr_assert_lt(v.loss, 0.001);
	cr_assert_eq(v.rate_pps, 0, "no loss is no reason to slow down");
}

/* The expected yields of a 5% loss: 62259, 3113, 156, 8: three retries, then the expected
 * number still missed is under one half. */
Test(sweep_policy, five_percent_loss_retries_until_the_misses_are_improbable)
{
	struct pass_stat p[] = { unpaced(65536, 62259), unpaced(3277, 3113), unpaced(164, 156), unpaced(8, 8) };

	for (unsigned n = 2; n <= 3; n++) {
		struct retry_verdict v = sweep_retry_decide(p, n, false, 0);
		cr_assert(v.again, "after %u passes: missed %f", n, v.missed);
		cr_assert(fabs(v.loss - 0.05) < 0.005, "loss %f", v.loss);
		cr_assert_eq(v.rate_pps, 0, "5%% random loss is not a policer");
	}
	struct retry_verdict v = sweep_retry_decide(p, 4, false, 0);
	cr_assert_not(v.again, "missed %f", v.missed);
	cr_assert_lt(v.missed, 0.5);
}

/* A tiny deterministic generator, so the simulation below is the same on every machine. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t binomial(uint64_t n, double p, uint64_t *s)
{
	uint64_t k = 0;
	for (uint64_t i = 0; i < n; i++)
		k += (double)(rng_next(s) >> 11) / 9007199254740992.0 < p;
	return k;
}

/* Sweeps of a /16 where every round trip fails with chance `loss`, run to the rule's end. */
static void simulate(double loss, uint64_t live, uint64_t dead, unsigned max_retries, uint64_t seed,
		     uint64_t *missed, uint64_t *probes)
{
	struct pass_stat p[SWEEP_MAX_PASSES];
	uint64_t silent_live = live, sent = live + dead, s = seed | 1;
	unsigned n = 0;

	*probes = 0;
	for (;;) {
		uint64_t found = binomial(silent_live, 1 - loss, &s);
		p[n++] = unpaced(sent, found);
		*probes += sent;
		silent_live -= found;
		sent = silent_live + dead;
		if (!silent_live && !dead)
			break;
		if (n > max_retries)
			break;
		struct retry_verdict v = sweep_retry_decide(p, n, true, 0);
		if (!v.again)
			break;
	}
	*missed = silent_live;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The bar: at 5% loss, a median of at most 1 miss in 65,536, with at most 1.10x the
 * probes of one pass. */
Test(sweep_policy, five_percent_loss_simulated_recall_and_cost)
{
	enum { RUNS = 41 };
	uint64_t missed[RUNS], probes, max_probes = 0;

	for (int i = 0; i < RUNS; i++) {
		simulate(0.05, 65536, 0, 10, 1000 + (uint64_t)i, &missed[i], &probes);
		if (probes > max_probes)
			max_probes = probes;
	}
	qsort(missed, RUNS, sizeof(missed[0]), cmp_u64);
	cr_assert_leq(missed[RUNS / 2], 1, "median misses %llu", (unsigned long long)missed[RUNS / 2]);
	cr_assert_leq(missed[RUNS - 1], 4, "worst misses %llu", (unsigned long long)missed[RUNS - 1]);
	cr_assert_leq((double)max_probes, 1.10 * 65536, "probes %llu", (unsigned long long)max_probes);
}

/* A sparse, lossless network: one retry, nothing missed. */
Test(sweep_policy, sparse_lossless_simulated)
{
	uint64_t missed, probes;

	simulate(0, 6554, 58982, 10, 7, &missed, &probes);
	cr_assert_eq(missed, 0);
	cr_assert_eq(probes, 65536 + 58982, "one retry pass of the silent");
}

/* Heavy loss is still cured, within the retries allowed. */
Test(sweep_policy, thirty_percent_loss_simulated)
{
	uint64_t missed, probes;

	simulate(0.30, 65536, 0, 20, 11, &missed, &probes);
	cr_assert_leq(missed, 2, "missed %llu", (unsigned long long)missed);
}

/* ---- rate ---- */

/* A 20k pps policer in front of a /16 blasted at 1.4M pps: each ~47 ms pass gets ~1,000 probes
 * through. The retry's yield shows the loss, and the next pass goes at the rate the replies came
 * back at, with a margin. */
static struct pass_stat policed(uint64_t sent, uint64_t found, uint64_t interval_ms)
{
	return (struct pass_stat){ .sent = sent, .found = found, .rate_pps = 1400000, .interval_ns = interval_ms * MS };
}

Test(sweep_policy, a_policer_slows_the_retries_to_the_reply_rate)
{
	struct pass_stat p[] = { policed(65536, 1000, 50), policed(64536, 985, 49) };
	struct retry_verdict v = sweep_retry_decide(p, 2, false, 0);

	cr_assert(v.again);
	cr_assert_gt(v.loss, 0.9);
	cr_assert(v.rate_pps > 15000 && v.rate_pps <= 20000, "rate %llu", (unsigned long long)v.rate_pps);

	/* The first pass at the new rate is always followed by one more to measure it... */
	struct pass_stat q[] = { p[0], p[1], { .sent = 63551, .found = 63000, .rate_pps = v.rate_pps, .paced = true,
					       .interval_ns = 3500 * MS } };
	struct retry_verdict w = sweep_retry_decide(q, 3, false, 0);
	cr_assert(w.again);
	cr_assert_not(w.measured);
	cr_assert_eq(w.rate_pps, 0);
	/* ... and once the loss is low at it, the retries end there. */
	struct pass_stat r[] = { q[0], q[1], q[2], { .sent = 551, .found = 551, .rate_pps = v.rate_pps, .paced = true,
						     .interval_ns = 30 * MS } };
	struct retry_verdict x = sweep_retry_decide(r, 4, false, 0);
	cr_assert_eq(x.rate_pps, 0);
}

/* Random loss is the same at every rate: slowing down for it does not help, so after one try
 * the sweep goes back to full speed, and stays there. */
Test(sweep_policy, random_heavy_loss_gets_its_speed_back)
{
	struct pass_stat p[6] = {
		policed(65536, 4587, 50), policed(60949, 1376, 45), /* alive10 with 30% loss, unpaced */
	};
	struct retry_verdict v = sweep_retry_decide(p, 2, false, 0);
	cr_assert(v.again);
	cr_assert(v.rate_pps && v.rate_pps != SWEEP_RATE_UNPACED, "high loss: slow down first (%llu)",
		  (unsigned long long)v.rate_pps);
	p[2] = (struct pass_stat){ .sent = 59573, .found = 413, .rate_pps = v.rate_pps, .paced = true, .interval_ns = 900 * MS };
	p[3] = (struct pass_stat){ .sent = 59160, .found = 124, .rate_pps = v.rate_pps, .paced = true, .interval_ns = 900 * MS };
	struct retry_verdict w = sweep_retry_decide(p, 4, false, 0);
	cr_assert(w.again);
	cr_assert_eq(w.rate_pps, SWEEP_RATE_UNPACED, "the loss stayed at 30%%: back to full speed");
	p[4] = policed(59036, 37, 45);
	p[5] = policed(58999, 11, 45);
	struct retry_verdict x = sweep_retry_decide(p, 6, false, 0);
	cr_assert_eq(x.rate_pps, 0, "slowing down was tried and did not help: stay at full speed");
}

Test(sweep_policy, rate_fixed_and_the_cap_bound_the_adaptation)
{
	struct pass_stat p[] = { policed(65536, 1000, 50), policed(64536, 985, 49) };

	cr_assert_eq(sweep_retry_decide(p, 2, true, 0).rate_pps, 0, "--rate-fixed");
	cr_assert_leq(sweep_retry_decide(p, 2, false, 5000).rate_pps, 5000, "never above --rate");
	/* Paced at a rate the path carries: the policer never shows, nothing changes. */
	struct pass_stat q[] = { { .sent = 65536, .found = 65000, .rate_pps = 15000, .paced = true },
				 { .sent = 536, .found = 530, .rate_pps = 15000, .paced = true } };
	struct retry_verdict v = sweep_retry_decide(q, 2, false, 15000);
	cr_assert_eq(v.rate_pps, 0);
}
