/* SPDX-License-Identifier: MIT */
/*
 * lab_env.h: what every test that drives the built binaries shares: its environment (paths
 * meson passes, the lab's name) and a monotonic clock for deadlines. Header-only: each test
 * executable includes it once.
 */
#ifndef LNMT_TESTS_LAB_ENV_H
#define LNMT_TESTS_LAB_ENV_H

#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && *v ? v : dflt;
}

/* A variable meson sets for the test (binary paths); fails the test when run by hand without it. */
static inline const char *need_env(const char *name)
{
	const char *v = getenv(name);
	cr_assert(v && *v, "%s is not set: run this test through 'meson test'", name);
	return v;
}

/* The scanner namespace: same default and rule as tools/lab (LNMT_LAB unset or empty = "lnmt"). */
static inline const char *scan_ns(void)
{
	static char ns[64];
	snprintf(ns, sizeof(ns), "%s-scan", env_or("LNMT_LAB", "lnmt"));
	return ns;
}

static inline uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline (a now_ms() value), 0 once it has passed. */
static inline int left_ms(uint64_t deadline)
{
	uint64_t n = now_ms();
	return n >= deadline ? 0 : (int)(deadline - n);
}

#endif
