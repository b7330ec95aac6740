/* SPDX-License-Identifier: MIT */
/* ratelimit.c: the packet schedule; 128-bit products keep hours-long sweeps at 10 Mpps exact. */
#include "ratelimit.h"

void ratelimit_init(struct ratelimit *rl, uint64_t rate, uint64_t max_burst, uint64_t now_ns)
{
	rl->rate = rate;
	rl->t0_ns = now_ns;
	rl->counted = 0;
	rl->max_burst = max_burst ? max_burst : 1;
}

static uint64_t due_by(const struct ratelimit *rl, uint64_t now_ns)
{
	if (now_ns < rl->t0_ns)
		return 0;
	/* Packet k is due at t0 + k/rate, packet 0 at t0: floor(elapsed * rate) + 1 are due. */
	return (uint64_t)((unsigned __int128)(now_ns - rl->t0_ns) * rl->rate / 1000000000u) + 1;
}

uint64_t ratelimit_allowance(struct ratelimit *rl, uint64_t now_ns)
{
	if (!rl->rate)
		return UINT64_MAX;
	uint64_t due = due_by(rl, now_ns);
	if (due <= rl->counted)
		return 0;
	if (due - rl->counted > rl->max_burst) {
		/* Forgive the debt beyond one burst: restart the schedule so that exactly
		 * max_burst packets are due now. Rounding the offset up keeps floor() from losing one. */
		unsigned __int128 span = (unsigned __int128)(rl->max_burst - 1) * 1000000000u + rl->rate - 1;
		rl->t0_ns = now_ns - (uint64_t)(span / rl->rate);
		rl->counted = 0;
		return rl->max_burst;
	}
	return due - rl->counted;
}

void ratelimit_consume(struct ratelimit *rl, uint64_t n)
{
	rl->counted += n;
}

uint64_t ratelimit_next_due_ns(const struct ratelimit *rl)
{
	if (!rl->rate)
		return 0;
	/* Packet number `counted` (0-based) is due at t0 + counted/rate, rounded up to whole ns. */
	unsigned __int128 num = (unsigned __int128)rl->counted * 1000000000u + rl->rate - 1;
	return rl->t0_ns + (uint64_t)(num / rl->rate);
}
