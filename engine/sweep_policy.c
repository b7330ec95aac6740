/* SPDX-License-Identifier: MIT */
/* sweep_policy.c: the end, retry and rate rules of a sweep (see sweep_policy.h). */
#include "sweep_policy.h"

#define HIGH_QUANTILE 0.999
#define HIGH_QUANTILE_MIN_SAMPLES 1000
/* Dense: at least 9 in 10 targets answered. A silent address among them is the exception, and
 * more likely a slow host (a phone in power save) or an unlucky one than an absent one. */
#define DENSE_SILENT_PERCENT 10
/* Another pass while this many live pairs are still expected to be missed. */
#define MISSED_WORTH_A_PASS 0.5
/* Loss this high is not the random loss of a healthy path (a few percent at most) but a path
 * that drops what it gets beyond its rate: slow down. */
#define RATE_LOSS_THRESHOLD 0.25
/* How far below the reply rate the next pass goes: a policer's burst allowance makes what it
 * delivered look a little more than its sustained rate. */
#define RATE_MARGIN 0.9
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

/* The first pass of the run of passes at the rate of passes[last]. */
static unsigned class_start(const struct pass_stat *passes, unsigned last)
{
	unsigned first = last;
	while (first > 0 && same_rate(&passes[first - 1], &passes[last]))
		first--;
	return first;
}

/*
 * The loss model: every round trip of a probe to a live target fails with the same chance L,
 * independently. Pass i then finds F_i = M_{i-1} (1 - L) of the M_{i-1} live pairs still
 * unanswered before it, so F_i / F_{i-1} = L, and after the last pass k, M_k = F_k L / (1 - L)
 * live pairs remain. L is pooled over the passes [first, last] sent at one rate (a
 * maximum-likelihood estimate for the geometric model), with half a pair of prior weight so that
 * a pass that found nothing after one that found a handful is not taken as proof of zero loss.
 * Needs last > first.
 */
static double pooled_loss(const struct pass_stat *passes, unsigned first, unsigned last)
{
	double num = 0.5, den = 1;

	for (unsigned i = first + 1; i <= last; i++) {
		num += (double)passes[i].found;
		den += (double)passes[i - 1].found;
	}
	return num / den < 1 ? num / den : 1;
}

/* Replies per second while pass p was the latest: what a path that polices probes lets through
 * (every delivered probe to a live target comes back), and a safe lower bound elsewhere. */
static double reply_rate(const struct pass_stat *p)
{
	return p->interval_ns ? (double)p->found * 1e9 / (double)p->interval_ns : 0;
}

/*
 * The rate for the next pass after high loss L at the current rate. A policer (or a congested
 * link) delivers a fixed number of probes per second whatever is sent: the replies come back at
 * that rate while the loss grows with the send rate, so the next pass goes at the reply rate,
 * with a margin for the burst the policer let through first. Random loss is the same at every
 * rate: if an earlier, slower run of passes lost about as much, slowing down does not help, and
 * the fastest rate tried comes back (0 when that is the current one).
 */
static uint64_t rate_after_loss(const struct pass_stat *passes, unsigned first, unsigned last, double loss,
				uint64_t cap_pps)
{
	const struct pass_stat *cur = &passes[last];

	/* The latest earlier run of passes at another rate whose loss was measured. */
	for (unsigned end = first; end > 0;) {
		unsigned f = class_start(passes, end - 1);
		const struct pass_stat *prev = &passes[end - 1];
		if (end - 1 > f) {
			if (loss >= 0.5 * pooled_loss(passes, f, end - 1)) {
				/* The rate changed and the loss did not: it is not the rate's doing. */
				if (!prev->paced)
					return cur->paced ? (cap_pps ? cap_pps : SWEEP_RATE_UNPACED) : 0;
				uint64_t back = prev->rate_pps > cur->rate_pps ? prev->rate_pps : 0;
				return cap_pps && back > cap_pps ? cap_pps : back;
			}
			break; /* slowing down helped, but not enough: slow down further */
		}
		end = f;
	}
	uint64_t rate = (uint64_t)(reply_rate(cur) * RATE_MARGIN);
	if (rate < RATE_MIN_PPS)
		rate = RATE_MIN_PPS;
	if (cap_pps && rate > cap_pps)
		rate = cap_pps;
	return cur->rate_pps && rate >= cur->rate_pps ? 0 : rate;
}

struct retry_verdict sweep_retry_decide(const struct pass_stat *passes, unsigned n, bool rate_fixed,
					uint64_t cap_pps)
{
	struct retry_verdict v = { .again = true };

	if (n < 2)
		return v; /* the first retry: nothing is known about loss yet */
	unsigned last = n - 1, first = class_start(passes, last);
	if (first == last)
		return v; /* the rate changed for the last pass: measure at it once more */
	v.measured = true;
	v.loss = pooled_loss(passes, first, last);
	v.missed = v.loss >= 1 ? 1e18 : ((double)passes[last].found + 0.5) * v.loss / (1 - v.loss);
	v.again = v.missed >= MISSED_WORTH_A_PASS;
	if (v.again && !rate_fixed && v.loss >= RATE_LOSS_THRESHOLD)
		v.rate_pps = rate_after_loss(passes, first, last, v.loss, cap_pps);
	return v;
}
