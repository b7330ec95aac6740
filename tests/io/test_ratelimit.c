/* SPDX-License-Identifier: MIT */
/* test_ratelimit.c: the packet schedule on simulated time: pacing, burst cap, long sweeps. */
#include "ratelimit.h"

#include <criterion/criterion.h>

#include <stdint.h>

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull
#define NS_PER_US 1000ull

/*
 * A sender on simulated time: at each step it asks for the allowance and sends all of it.
 * Records how many were sent and the smallest gap between two consecutive send times.
 */
struct sim {
	uint64_t sent;
	uint64_t last_ns;
	uint64_t min_gap_ns;
	uint64_t max_per_step;
};

static void sim_init(struct sim *s)
{
	*s = (struct sim){ .last_ns = UINT64_MAX, .min_gap_ns = UINT64_MAX };
}

static void sim_run(struct sim *s, struct ratelimit *rl, uint64_t from_ns, uint64_t to_ns, uint64_t step_ns)
{
	for (uint64_t t = from_ns; t < to_ns; t += step_ns) {
		uint64_t n = ratelimit_allowance(rl, t);
		if (!n)
			continue;
		ratelimit_consume(rl, n);
		if (n > s->max_per_step)
			s->max_per_step = n;
		if (s->last_ns != UINT64_MAX && t - s->last_ns < s->min_gap_ns)
			s->min_gap_ns = t - s->last_ns;
		if (n > 1)
			s->min_gap_ns = 0; /* several at one instant */
		s->last_ns = t;
		s->sent += n;
	}
}

Test(ratelimit, rate_zero_is_unlimited)
{
	struct ratelimit rl;

	ratelimit_init(&rl, 0, 64, 12345);
	cr_assert_eq(ratelimit_allowance(&rl, 12345), UINT64_MAX, "allowance %llu",
		     (unsigned long long)ratelimit_allowance(&rl, 12345));
	ratelimit_consume(&rl, 1000000);
	cr_assert_eq(ratelimit_allowance(&rl, 12345), UINT64_MAX, "after consuming: allowance %llu",
		     (unsigned long long)ratelimit_allowance(&rl, 12345));
	cr_assert_eq(ratelimit_allowance(&rl, 0), UINT64_MAX, "before t0: allowance %llu",
		     (unsigned long long)ratelimit_allowance(&rl, 0));
	uint64_t due = ratelimit_next_due_ns(&rl);
	cr_assert_leq(due, 12345, "unlimited: next packet due at %llu, after now", (unsigned long long)due);
}

Test(ratelimit, first_packet_and_next_due_at_1000pps)
{
	struct ratelimit rl;

	ratelimit_init(&rl, 1000, 64, 0);
	uint64_t n = ratelimit_allowance(&rl, 0);
	cr_assert_eq(n, 1, "allowance at t0 is %llu, expected 1", (unsigned long long)n);
	cr_assert_eq(ratelimit_next_due_ns(&rl), 0, "next due %llu before sending, expected 0",
		     (unsigned long long)ratelimit_next_due_ns(&rl));
	ratelimit_consume(&rl, 1);

	cr_assert_eq(ratelimit_next_due_ns(&rl), NS_PER_MS, "next due %llu, expected 1000000",
		     (unsigned long long)ratelimit_next_due_ns(&rl));
	static const uint64_t before[] = { 0, 1, 999, 500000, NS_PER_MS - 1 };
	for (size_t i = 0; i < sizeof(before) / sizeof(before[0]); i++) {
		n = ratelimit_allowance(&rl, before[i]);
		cr_assert_eq(n, 0, "allowance at %llu ns is %llu, expected 0", (unsigned long long)before[i],
			     (unsigned long long)n);
	}
	n = ratelimit_allowance(&rl, NS_PER_MS);
	cr_assert_eq(n, 1, "allowance at 1 ms is %llu, expected 1", (unsigned long long)n);
	ratelimit_consume(&rl, 1);
	cr_assert_eq(ratelimit_next_due_ns(&rl), 2 * NS_PER_MS, "next due %llu, expected 2000000",
		     (unsigned long long)ratelimit_next_due_ns(&rl));
	cr_assert_eq(ratelimit_allowance(&rl, 2 * NS_PER_MS - 1), 0, "allowance just before 2 ms");
}

Test(ratelimit, nothing_due_before_t0)
{
	struct ratelimit rl;

	ratelimit_init(&rl, 1000, 64, 5 * NS_PER_S);
	cr_assert_eq(ratelimit_allowance(&rl, 5 * NS_PER_S - 1), 0, "allowance before t0");
	cr_assert_eq(ratelimit_allowance(&rl, 0), 0, "allowance at 0, t0 = 5 s");
	cr_assert_eq(ratelimit_allowance(&rl, 5 * NS_PER_S), 1, "allowance at t0");
}

Test(ratelimit, one_second_at_1000pps_is_paced)
{
	struct ratelimit rl;
	struct sim s;

	ratelimit_init(&rl, 1000, 64, 0);
	sim_init(&s);
	sim_run(&s, &rl, 0, NS_PER_S, NS_PER_US);
	/* Packets are due at 0, 1 ms, ..., 999 ms: 1000 in [0, 1 s). */
	cr_assert(s.sent >= 999 && s.sent <= 1001, "%llu packets in 1 s at 1000 pps", (unsigned long long)s.sent);
	cr_assert_eq(s.sent, 1000, "%llu packets in [0, 1 s) at 1000 pps", (unsigned long long)s.sent);
	cr_assert_eq(s.max_per_step, 1, "up to %llu packets at one instant: a burst",
		     (unsigned long long)s.max_per_step);
	cr_assert_geq(s.min_gap_ns, NS_PER_MS, "two packets %llu ns apart, expected >= 1 ms",
		      (unsigned long long)s.min_gap_ns);
}

Test(ratelimit, one_mpps_allows_n_by_n_us)
{
	struct ratelimit rl;
	struct sim s;

	/* Step by step at 100 ns: by time N us (exclusive) exactly N packets went out. */
	ratelimit_init(&rl, 1000000, 64, 0);
	sim_init(&s);
	for (uint64_t n = 1; n <= 5000; n++) {
		sim_run(&s, &rl, (n - 1) * NS_PER_US, n * NS_PER_US, 100);
		cr_assert_eq(s.sent, n, "%llu packets sent before %llu us, expected %llu", (unsigned long long)s.sent,
			     (unsigned long long)n, (unsigned long long)n);
	}
	cr_assert_eq(s.max_per_step, 1, "burst of %llu at 1 Mpps with 100 ns steps",
		     (unsigned long long)s.max_per_step);
	cr_assert_geq(s.min_gap_ns, NS_PER_US, "two packets %llu ns apart at 1 Mpps",
		      (unsigned long long)s.min_gap_ns);

	/* Without intermediate calls (and a burst cap out of the way): at N us, packets 0..N are
	 * due, N + 1 in all; 1 ns earlier, N. */
	static const uint64_t ns[] = { 1, 2, 10, 999, 1000, 123456, 1000000 };
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		ratelimit_init(&rl, 1000000, UINT64_MAX, 0);
		uint64_t a = ratelimit_allowance(&rl, ns[i] * NS_PER_US - 1);
		cr_assert_eq(a, ns[i], "allowance just before %llu us: %llu", (unsigned long long)ns[i],
			     (unsigned long long)a);
		a = ratelimit_allowance(&rl, ns[i] * NS_PER_US);
		cr_assert_eq(a, ns[i] + 1, "allowance at %llu us: %llu", (unsigned long long)ns[i],
			     (unsigned long long)a);
	}
}

Test(ratelimit, stall_capped_at_max_burst_then_rate_resumes)
{
	const uint64_t max_burst = 8;
	struct ratelimit rl;
	struct sim s;

	ratelimit_init(&rl, 1000, max_burst, 0);
	sim_init(&s);
	sim_run(&s, &rl, 0, 10 * NS_PER_MS, NS_PER_US);
	cr_assert_eq(s.sent, 10, "%llu packets in the first 10 ms", (unsigned long long)s.sent);

	/* The sender stalls for 100 ms: 100 packets' worth of debt. */
	const uint64_t t = 10 * NS_PER_MS + 100 * NS_PER_MS;
	uint64_t n = ratelimit_allowance(&rl, t);
	cr_assert_eq(n, max_burst, "allowance after a 100 ms stall is %llu, expected max_burst %llu",
		     (unsigned long long)n, (unsigned long long)max_burst);
	/* Asking again without sending changes nothing. */
	n = ratelimit_allowance(&rl, t);
	cr_assert_eq(n, max_burst, "second allowance after the stall is %llu", (unsigned long long)n);
	ratelimit_consume(&rl, n);
	cr_assert_eq(ratelimit_allowance(&rl, t), 0, "allowance right after the burst");
	uint64_t due = ratelimit_next_due_ns(&rl);
	cr_assert(due > t && due <= t + NS_PER_MS, "next packet due at %llu ns, %lld ns after the burst",
		  (unsigned long long)due, (long long)(due - t));

	/* Afterwards: 1000 pps again, paced, no second burst. */
	sim_init(&s);
	sim_run(&s, &rl, t + 1, t + 1 + NS_PER_S, NS_PER_US);
	cr_assert(s.sent >= 999 && s.sent <= 1001, "%llu packets in the second after the stall",
		  (unsigned long long)s.sent);
	cr_assert_eq(s.max_per_step, 1, "burst of %llu after the stall", (unsigned long long)s.max_per_step);
	cr_assert_geq(s.min_gap_ns, NS_PER_MS - NS_PER_US,
		      "two packets %llu ns apart after the stall, expected ~1 ms",
		      (unsigned long long)s.min_gap_ns);
}

/*
 * ratelimit.c says the stall reset "restart[s] the schedule so that exactly max_burst packets are
 * due now". At a rate that does not divide (max_burst - 1) * 1e9 evenly, the new origin is
 * rounded down (closer to now), so only max_burst - 1 packets are due on the restarted schedule:
 * the first call returns max_burst, the next call at the same instant, with nothing sent, returns
 * max_burst - 1. 300 pps, burst 8: 7e9 / 300 = 23333333.3 ns.
 */
Test(ratelimit, stall_reset_is_exact_at_uneven_rates)
{
	const uint64_t max_burst = 8;
	struct ratelimit rl;

	ratelimit_init(&rl, 300, max_burst, 0);
	ratelimit_consume(&rl, ratelimit_allowance(&rl, 0));
	const uint64_t t = NS_PER_S; /* a 1 s stall: 300 packets' debt */
	uint64_t a = ratelimit_allowance(&rl, t);
	cr_assert_eq(a, max_burst, "allowance after the stall is %llu, expected %llu", (unsigned long long)a,
		     (unsigned long long)max_burst);
	uint64_t b = ratelimit_allowance(&rl, t);
	cr_assert_eq(b, max_burst,
		     "asked again at the same instant without sending: %llu, expected %llu "
		     "(t0 reset to %llu ns, now %llu ns)",
		     (unsigned long long)b, (unsigned long long)max_burst, (unsigned long long)rl.t0_ns,
		     (unsigned long long)t);
}

Test(ratelimit, small_debt_is_paid_back)
{
	/* A hiccup shorter than the burst cap is caught up, not forgiven. */
	struct ratelimit rl;

	ratelimit_init(&rl, 1000, 8, 0);
	ratelimit_consume(&rl, ratelimit_allowance(&rl, 0));
	uint64_t n = ratelimit_allowance(&rl, 5 * NS_PER_MS);
	cr_assert_eq(n, 5, "allowance after 5 ms is %llu, expected 5", (unsigned long long)n);
	n = ratelimit_allowance(&rl, 8 * NS_PER_MS);
	cr_assert_eq(n, 8, "allowance after 8 ms is %llu, expected 8 (= max_burst)", (unsigned long long)n);
}

Test(ratelimit, ten_hours_at_10mpps_does_not_overflow)
{
	const uint64_t rate = 10000000, hours10 = 36000 * NS_PER_S, consumed = 123456789;
	struct ratelimit rl;

	ratelimit_init(&rl, rate, UINT64_MAX, 0);
	ratelimit_consume(&rl, consumed);
	/* elapsed * rate = 3.6e13 * 1e7 = 3.6e20 > 2^64: only exact with wide arithmetic. */
	uint64_t n = ratelimit_allowance(&rl, hours10);
	cr_assert_eq(n, 360000000000ull + 1 - consumed, "allowance at 36000 s is %llu, expected %llu",
		     (unsigned long long)n, 360000000000ull + 1 - consumed);
	n = ratelimit_allowance(&rl, hours10 - 1);
	cr_assert_eq(n, 360000000000ull - consumed, "allowance 1 ns before 36000 s is %llu, expected %llu",
		     (unsigned long long)n, 360000000000ull - consumed);

	/* next_due of packet 3.6e11 is exactly 36000 s (counted * 1e9 > 2^64 too). */
	ratelimit_consume(&rl, 360000000000ull - consumed);
	uint64_t due = ratelimit_next_due_ns(&rl);
	cr_assert_eq(due, hours10, "packet 3.6e11 due at %llu ns, expected %llu", (unsigned long long)due,
		     (unsigned long long)hours10);
	cr_assert_eq(ratelimit_allowance(&rl, hours10), 1, "allowance at 36000 s after consuming 3.6e11");
	cr_assert_eq(ratelimit_allowance(&rl, hours10 - 1), 0, "allowance 1 ns earlier");

	/* The same sweep with a real burst cap, starting late in the clock's range: still paced. */
	const uint64_t t0 = UINT64_MAX / 2;
	ratelimit_init(&rl, rate, 64, t0);
	ratelimit_consume(&rl, ratelimit_allowance(&rl, t0));
	n = ratelimit_allowance(&rl, t0 + hours10);
	cr_assert_eq(n, 64, "after 10 hours idle at 10 Mpps: allowance %llu, expected the cap 64",
		     (unsigned long long)n);
}

Test(ratelimit, next_due_rounds_up_for_uneven_rates)
{
	/* At 3 pps packet 1 is due at 333333333.3 ns: rounded up, and consistent with allowance. */
	struct ratelimit rl;

	ratelimit_init(&rl, 3, 64, 0);
	ratelimit_consume(&rl, ratelimit_allowance(&rl, 0));
	uint64_t due = ratelimit_next_due_ns(&rl);
	cr_assert_eq(due, 333333334, "next due %llu, expected 333333334", (unsigned long long)due);
	cr_assert_eq(ratelimit_allowance(&rl, due - 1), 0, "allowance 1 ns before next_due");
	cr_assert_eq(ratelimit_allowance(&rl, due), 1, "allowance at next_due");
}
