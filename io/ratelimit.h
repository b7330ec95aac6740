/* SPDX-License-Identifier: MIT */
/*
 * ratelimit.h: per-packet pacing. Packet k of a sweep is due at t0 + k/rate; the sender asks how
 * many packets are due now and sends at most that many, so at low rates packets leave one by one
 * on schedule instead of in batch-sized bursts. After a stall (preemption, a slow syscall) the
 * debt is capped at max_burst packets rather than paid back in one burst. rate 0 = unlimited.
 * Pure arithmetic on caller-supplied times: no clock reads, no syscalls.
 */
#ifndef LNMT_RATELIMIT_H
#define LNMT_RATELIMIT_H

#include <stdint.h>

struct ratelimit {
	uint64_t rate;      /* packets per second; 0 = unlimited */
	uint64_t t0_ns;     /* schedule origin (moved forward when debt is forgiven) */
	uint64_t counted;   /* packets accounted against the schedule since t0 */
	uint64_t max_burst;
};

void ratelimit_init(struct ratelimit *rl, uint64_t rate, uint64_t max_burst, uint64_t now_ns);

/* Packets that may be sent at now_ns (UINT64_MAX when unlimited). */
uint64_t ratelimit_allowance(struct ratelimit *rl, uint64_t now_ns);

/* Records n packets sent. */
void ratelimit_consume(struct ratelimit *rl, uint64_t n);

/* When the next packet is due (now or earlier means: send now). */
uint64_t ratelimit_next_due_ns(const struct ratelimit *rl);

#endif
