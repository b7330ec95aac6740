/* SPDX-License-Identifier: MIT */
/* sweep_policy.c: the end, retry and rate rules of a sweep (see sweep_policy.h). */
#include "sweep_policy.h"

#define HIGH_QUANTILE 0.999
#define HIGH_QUANTILE_MIN_SAMPLES 1000
#define DENSE_SILENT_PERCENT 1
/* Another pass while this many live pairs are still expected to be missed. */
#define MISSED_WORTH_A_PASS 0.5
/* Loss this high is not the random loss of a healthy path (a few percent at most) but a path
 * that drops what it gets beyond its rate: slow down. */
#define RATE_LOSS_THRESHOLD 0.25
/* How far below the delivered rate the next pass goes: a policer's burst allowance makes the
 * delivered rate look a little higher than its sustained rate. */
#define RATE_MARGIN 0.8
#define RATE_MIN_PPS 100

static uint64_t load64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Bucket 0: below 1 us; then 4 per octave: bucket 1 + 4*o + s holds [2^o (1 + s/4), 2^o (1 + (s+1)/4)) us. */
static unsigned bucket_of(uint64_t rtt_ns)
{
	uint64_t us = rtt_ns / 1000;

	if (!us)
		return 0;
	unsigned o = 63u - (unsigned)__builtin_clzll(us);
	unsigned s = o >= 2 ? (unsigned)(us >> (o - 2)) & 3 : (unsigned)(us << (2 - o)) & 3;
	unsigned b = 1 + 4 * o + s;
	return b < RTT_HIST_BUCKETS ? b : RTT_HIST_BUCKETS - 1;
}

static uint64_t bucket_upper_ns(unsigned b)
{
	if (b == 0)
		return 1000;
	unsigned o = (b - 1) / 4, s = (b - 1) % 4;
	return (1ull << o) * (5 + s) * 250; /* 2^o (1 + (s+1)/4) us */
}

void rtt_hist_add(struct rtt_hist *h, uint64_t rtt_ns)
{
	__atomic_fetch_add(&h->count[bucket_of(rtt_ns)], 1, __ATOMIC_RELAXED);
	if (rtt_ns > load64(&h->max_ns))
		__atomic_store_n(&h->max_ns, rtt_ns, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->n, 1, __ATOMIC_RELAXED);
}

uint64_t rtt_hist_count(const struct rtt_hist *h)
{
	return load64(&h->n);
}

uint64_t rtt_hist_quantile(const struct rtt_hist *h, double q)
{
	uint32_t counts[RTT_HIST_BUCKETS];
	uint64_t total = 0;

	/* Totals from the buckets themselves, so a concurrent add cannot leave the walk short. */
	for (unsigned b = 0; b < RTT_HIST_BUCKETS; b++)
		total += counts[b] = __atomic_load_n(&h->count[b], __ATOMIC_RELAXED);
	if (!total)
		return 0;
	double want = q * (double)total;
	uint64_t seen = 0;
	for (unsigned b = 0; b < RTT_HIST_BUCKETS; b++) {
		seen += counts[b];
		if ((double)seen >= want && counts[b])
			return bucket_upper_ns(b);
	}
	return bucket_upper_ns(RTT_HIST_BUCKETS - 1);
}

uint64_t sweep_rtt_high(const struct rtt_hist *h)
{
	uint64_t n = rtt_hist_count(h);

	if (!n)
		return 0;
	if (n < HIGH_QUANTILE_MIN_SAMPLES)
		return load64(&h->max_ns);
	/* The bucket's upper edge overstates by at most a quarter octave; never beyond the max. */
	uint64_t q = rtt_hist_quantile(h, HIGH_QUANTILE), max = load64(&h->max_ns);
	return q < max ? q : max;
}

/*
 * Why a multiple of a high quantile: once the last probe has left, a reply still to come is one
 * whose RTT is beyond everything but the tail seen so far. With p99.9 x 4 of silence behind us,
 * a reply would have to be four times slower than all but one in a thousand of its peers.
 */
uint64_t sweep_quiet_ns(const struct rtt_hist *hists, unsigned n, const struct quiet_rule *r,
			uint64_t *rtt_high)
{
	uint64_t high = 0;
	bool any = false;

	for (unsigned i = 0; i < n; i++) {
		if (!rtt_hist_count(&hists[i]))
			continue;
		uint64_t h = sweep_rtt_high(&hists[i]);
		any = true;
		if (h > high)
			high = h;
	}
	if (rtt_high)
		*rtt_high = high;
	uint64_t q = any ? high * r->factor : r->no_reply_ns;
	if (q < r->floor_ns)
		q = r->floor_ns;
	return r->cap_ns && q > r->cap_ns ? r->cap_ns : q;
}

bool sweep_dense_silence(uint64_t unanswered, uint64_t probes)
{
	return unanswered > 0 && unanswered * 100 <= probes * DENSE_SILENT_PERCENT;
}

/* Passes belong to one rate class when they were paced at the same rate, or all unpaced. */
static bool same_rate(const struct pass_stat *a, const struct pass_stat *b)
{
	return a->paced == b->paced && (!a->paced || a->rate_pps == b->rate_pps);
}

/*
 * The loss model: every round trip of a probe to a live target fails with the same chance L,
 * independently. Pass i then finds F_i = M_{i-1} (1 - L) of the M_{i-1} live pairs still
 * unanswered before it, so F_i / F_{i-1} = L, and after the last pass k, M_k = F_k L / (1 - L)
 * live pairs remain. L is pooled over the passes sent at the current rate (a maximum-likelihood
 * estimate for the geometric model), with half a pair of prior weight so that a pass that found
 * nothing after one that found a handful is not taken as proof of zero loss.
 */
struct retry_verdict sweep_retry_decide(const struct pass_stat *passes, unsigned n, bool rate_fixed,
					uint64_t cap_pps)
{
	struct retry_verdict v = { .again = true };
	unsigned first = n - 1;
	double num = 0.5, den = 1;

	if (n < 2)
		return v; /* the first retry: nothing is known about loss yet */
	while (first > 0 && same_rate(&passes[first - 1], &passes[n - 1]))
		first--;
	if (first == n - 1)
		return v; /* the rate changed for the last pass: measure at it once more */
	for (unsigned i = first + 1; i < n; i++) {
		num += (double)passes[i].found;
		den += (double)passes[i - 1].found;
	}
	v.measured = true;
	v.loss = num / den;
	if (v.loss >= 1) {
		v.loss = 1;
		v.missed = 1e18;
	} else {
		v.missed = ((double)passes[n - 1].found + 0.5) * v.loss / (1 - v.loss);
	}
	v.again = v.missed >= MISSED_WORTH_A_PASS;
	if (v.again && !rate_fixed && v.loss >= RATE_LOSS_THRESHOLD) {
		/* The path delivered (1 - L) of what was sent at this rate: send at that, with margin. */
		const struct pass_stat *last = &passes[n - 1];
		double delivered = (double)last->rate_pps * (1 - (v.loss < 1 ? v.loss : 0.99));
		uint64_t rate = (uint64_t)(delivered * RATE_MARGIN);
		if (rate < RATE_MIN_PPS)
			rate = RATE_MIN_PPS;
		if (cap_pps && rate > cap_pps)
			rate = cap_pps;
		if (!last->rate_pps || rate < last->rate_pps)
			v.rate_pps = rate;
	}
	return v;
}
