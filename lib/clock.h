/* SPDX-License-Identifier: MIT */
/* clock.h: monotonic time in nanoseconds, the one clock the engine measures RTT and rates with. */
#ifndef LNMT_CLOCK_H
#define LNMT_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
