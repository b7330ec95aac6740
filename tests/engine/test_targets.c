/* SPDX-License-Identifier: MIT */
/* test_targets.c: target and port spec parsing, merging, excludes and the dense index. */
#include "targets.h"

#include "err.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

/* ---- helpers ---------------------------------------------------------------------------- */

static void expect_range(const char *spec, uint32_t first, uint32_t last)
{
	char err[TARGET_ERR_LEN] = "", a[16], b[16], c[16], d[16];
	struct target_range r = { 0, 0 };
	int rc = target_parse_range(spec, &r, err, sizeof(err));

	cr_assert_eq(rc, 0, "target_parse_range('%s') = %d (%s), expected 0; err '%s'", spec, rc,
		     lnmt_strerror(rc), err);
	cr_assert(r.first == first && r.last == last, "'%s' parsed to %s-%s, expected %s-%s", spec,
		  ipv4_format(r.first, a), ipv4_format(r.last, b), ipv4_format(first, c),
		  ipv4_format(last, d));
}

static void expect_bad_spec(const char *spec, const char *reason)
{
	char err[TARGET_ERR_LEN] = "", want[TARGET_ERR_LEN * 2];
	struct target_range r = { 0x12345678u, 0x9abcdef0u };
	struct target_set s;
	int rc;

	snprintf(want, sizeof(want), "bad target '%s': %s", spec, reason);

	rc = target_parse_range(spec, &r, err, sizeof(err));
	cr_assert_eq(rc, LNMT_E_PARSE, "target_parse_range('%s') = %d (%s), expected LNMT_E_PARSE (%d)",
		     spec, rc, lnmt_strerror(rc), LNMT_E_PARSE);
	cr_assert_str_eq(err, want, "target_parse_range('%s'): err '%s', expected '%s'", spec, err, want);
	cr_assert(r.first == 0x12345678u && r.last == 0x9abcdef0u,
		  "target_parse_range('%s') wrote the out-parameter on failure", spec);

	/* The same text through the set, as include and as exclude; the set stays empty. */
	target_set_init(&s);
	err[0] = '\0';
	rc = target_set_add(&s, spec, err, sizeof(err));
	cr_assert_eq(rc, LNMT_E_PARSE, "target_set_add('%s') = %d, expected %d", spec, rc, LNMT_E_PARSE);
	cr_assert_str_eq(err, want, "target_set_add('%s'): err '%s', expected '%s'", spec, err, want);
	err[0] = '\0';
	rc = target_set_exclude(&s, spec, err, sizeof(err));
	cr_assert_eq(rc, LNMT_E_PARSE, "target_set_exclude('%s') = %d, expected %d", spec, rc,
		     LNMT_E_PARSE);
	cr_assert_str_eq(err, want, "target_set_exclude('%s'): err '%s', expected '%s'", spec, err, want);
	cr_assert_eq(s.n_incl, 0, "a bad spec added %zu include ranges", s.n_incl);
	cr_assert_eq(s.n_excl, 0, "a bad spec added %zu exclude ranges", s.n_excl);
	target_set_fini(&s);
}

/* Builds and finalizes a set from NULL-terminated include and exclude lists. */
static int build(struct target_set *s, const char *const *incl, const char *const *excl)
{
	char err[TARGET_ERR_LEN] = "";

	target_set_init(s);
	for (; incl && *incl; incl++) {
		int rc = target_set_add(s, *incl, err, sizeof(err));
		cr_assert_eq(rc, 0, "target_set_add('%s') = %d (%s): %s", *incl, rc, lnmt_strerror(rc), err);
	}
	for (; excl && *excl; excl++) {
		int rc = target_set_exclude(s, *excl, err, sizeof(err));
		cr_assert_eq(rc, 0, "target_set_exclude('%s') = %d (%s): %s", *excl, rc, lnmt_strerror(rc),
			     err);
	}
	return target_set_finalize(s);
}

/* Asserts the finalized set holds exactly the given inclusive ranges, in order. */
static void expect_ranges(const struct target_set *s, const struct target_range *want, size_t n)
{
	char a[16], b[16], c[16], d[16];
	uint64_t count = 0;

	cr_assert_eq(s->n_incl, n, "set has %zu ranges, expected %zu", s->n_incl, n);
	for (size_t i = 0; i < n; i++) {
		cr_assert(s->incl[i].first == want[i].first && s->incl[i].last == want[i].last,
			  "range %zu is %s-%s, expected %s-%s", i, ipv4_format(s->incl[i].first, a),
			  ipv4_format(s->incl[i].last, b), ipv4_format(want[i].first, c),
			  ipv4_format(want[i].last, d));
		count += (uint64_t)want[i].last - want[i].first + 1;
	}
	cr_assert_eq(s->count, count, "count %llu, expected %llu", (unsigned long long)s->count,
		     (unsigned long long)count);
}

/* Checks addr/index are inverse over the whole set and addresses strictly increase. */
static void expect_round_trip(const struct target_set *s)
{
	char a[16], b[16];
	uint32_t prev = 0;

	for (uint64_t i = 0; i < s->count; i++) {
		uint32_t addr = target_set_addr(s, i);
		uint64_t back = ~0ull;
		cr_assert(i == 0 || addr > prev, "addr(%llu) = %s not above addr(%llu) = %s",
			  (unsigned long long)i, ipv4_format(addr, a), (unsigned long long)(i - 1),
			  ipv4_format(prev, b));
		cr_assert(target_set_index(s, addr, &back), "index(%s) not found (addr of %llu)",
			  ipv4_format(addr, a), (unsigned long long)i);
		cr_assert_eq(back, i, "index(addr(%llu) = %s) = %llu", (unsigned long long)i,
			     ipv4_format(addr, a), (unsigned long long)back);
		prev = addr;
	}
}

static void expect_absent(const struct target_set *s, uint32_t addr)
{
	char a[16];
	uint64_t idx = 777;

	cr_assert_not(target_set_index(s, addr, &idx), "index(%s) found at %llu, expected absent",
		      ipv4_format(addr, a), (unsigned long long)idx);
	cr_assert_eq(idx, 777, "index(%s) wrote idx = %llu although absent", ipv4_format(addr, a),
		     (unsigned long long)idx);
}

static void expect_index(const struct target_set *s, uint32_t addr, uint64_t want)
{
	char a[16];
	uint64_t idx = ~0ull;

	cr_assert(target_set_index(s, addr, &idx), "index(%s) not found, expected %llu",
		  ipv4_format(addr, a), (unsigned long long)want);
	cr_assert_eq(idx, want, "index(%s) = %llu, expected %llu", ipv4_format(addr, a),
		     (unsigned long long)idx, (unsigned long long)want);
}

/* @file cases: one fresh directory per test, removed afterwards. */
static char tmpdir[64];

static void tmpdir_setup(void)
{
	strcpy(tmpdir, "/tmp/lnmt-test-targets-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
}

static void tmpdir_teardown(void)
{
	static const char *const names[] = { "a.txt", "b.txt", "bad.txt", "empty.txt", "excl.txt", "long.txt" };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

/* Writes content to tmpdir/name and returns "@tmpdir/name" in spec. */
static void write_file(const char *name, const char *content, char *spec, size_t speclen)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f, "fopen(%s): %s", path, strerror(errno));
	cr_assert_eq(fputs(content, f) >= 0, 1, "fputs(%s) failed", path);
	cr_assert_eq(fclose(f), 0, "fclose(%s): %s", path, strerror(errno));
	snprintf(spec, speclen, "@%s", path);
}

/* ---- good specs ------------------------------------------------------------------------- */

Test(targets, single_address)
{
	expect_range("198.18.0.1", IP(198, 18, 0, 1), IP(198, 18, 0, 1));
	expect_range("0.0.0.0", 0, 0);
	expect_range("255.255.255.255", 0xffffffffu, 0xffffffffu);
	expect_range("1.2.3.4", IP(1, 2, 3, 4), IP(1, 2, 3, 4));
}

Test(targets, cidr)
{
	expect_range("198.18.0.1/32", IP(198, 18, 0, 1), IP(198, 18, 0, 1));
	expect_range("198.18.7.0/24", IP(198, 18, 7, 0), IP(198, 18, 7, 255));
	expect_range("198.18.0.0/16", IP(198, 18, 0, 0), IP(198, 18, 255, 255));
	expect_range("198.18.0.0/15", IP(198, 18, 0, 0), IP(198, 19, 255, 255));
	expect_range("10.0.0.0/8", IP(10, 0, 0, 0), IP(10, 255, 255, 255));
	expect_range("198.18.0.0/31", IP(198, 18, 0, 0), IP(198, 18, 0, 1));
	expect_range("128.0.0.0/1", 0x80000000u, 0xffffffffu);
	expect_range("0.0.0.0/0", 0, 0xffffffffu);
}

Test(targets, cidr_with_host_bits_normalises_to_network)
{
	expect_range("198.18.5.77/24", IP(198, 18, 5, 0), IP(198, 18, 5, 255));
	expect_range("198.18.200.3/16", IP(198, 18, 0, 0), IP(198, 18, 255, 255));
	expect_range("198.18.0.7/30", IP(198, 18, 0, 4), IP(198, 18, 0, 7));
	expect_range("203.0.113.99/0", 0, 0xffffffffu);
}

Test(targets, dash_range)
{
	expect_range("198.18.0.9-198.18.1.3", IP(198, 18, 0, 9), IP(198, 18, 1, 3));
	expect_range("198.18.0.1-198.18.0.1", IP(198, 18, 0, 1), IP(198, 18, 0, 1));
	expect_range("1.0.0.0-223.255.255.255", IP(1, 0, 0, 0), IP(223, 255, 255, 255));
}

Test(targets, slash_zero_minus_reserved)
{
	static const char *const incl[] = { "0.0.0.0/0", NULL };
	static const struct target_range want[] = { { IP(1, 0, 0, 0), IP(223, 255, 255, 255) } };
	struct target_set s;
	int rc = build(&s, incl, NULL);

	cr_assert_eq(rc, 0, "finalize = %d (%s)", rc, lnmt_strerror(rc));
	expect_ranges(&s, want, 1);
	/* 2^32 - 2^24 (0/8) - 2^29 (224/3) */
	cr_assert_eq(s.count, 3741319168ull, "count %llu", (unsigned long long)s.count);
	cr_assert_eq(s.n_reserved_dropped, 16777216ull + 536870912ull, "n_reserved_dropped %llu",
		     (unsigned long long)s.n_reserved_dropped);
	cr_assert_eq(target_set_addr(&s, 0), IP(1, 0, 0, 0), "addr(0) = %#x", target_set_addr(&s, 0));
	cr_assert_eq(target_set_addr(&s, s.count - 1), IP(223, 255, 255, 255), "addr(count-1) = %#x",
		     target_set_addr(&s, s.count - 1));
	expect_absent(&s, 0);
	expect_absent(&s, IP(0, 255, 255, 255));
	expect_absent(&s, IP(224, 0, 0, 0));
	expect_absent(&s, 0xffffffffu);
	expect_index(&s, IP(198, 18, 0, 1), IP(198, 18, 0, 1) - IP(1, 0, 0, 0));
	target_set_fini(&s);
}

Test(targets, reserved_ranges_dropped_and_counted)
{
	static const char *const incl[] = { "0.0.0.5", "0.255.255.254-1.0.0.1", "223.255.255.254-224.0.0.3",
					    "239.1.2.3", "240.0.0.0/4", "198.18.0.0/30", NULL };
	static const struct target_range want[] = {
		{ IP(1, 0, 0, 0), IP(1, 0, 0, 1) },
		{ IP(198, 18, 0, 0), IP(198, 18, 0, 3) },
		{ IP(223, 255, 255, 254), IP(223, 255, 255, 255) },
	};
	struct target_set s;
	int rc = build(&s, incl, NULL);

	cr_assert_eq(rc, 0, "finalize = %d (%s)", rc, lnmt_strerror(rc));
	expect_ranges(&s, want, 3);
	/* 0.0.0.5 (1) + 0.255.255.254-255 (2) + 224.0.0.0-3 (4) + 239.1.2.3 (1) + 240/4 (2^28) */
	uint64_t dropped = 1 + 2 + 4 + 1 + (1ull << 28);
	cr_assert_eq(s.n_reserved_dropped, dropped, "n_reserved_dropped %llu, expected %llu",
		     (unsigned long long)s.n_reserved_dropped, (unsigned long long)dropped);
	expect_round_trip(&s);
	target_set_fini(&s);
}

Test(targets, only_reserved_is_empty)
{
	static const char *const incl[] = { "0.0.0.0/8", "255.255.255.255", "224.0.0.1", NULL };
	struct target_set s;
	int rc = build(&s, incl, NULL);

	cr_assert_eq(rc, LNMT_E_EMPTY, "finalize = %d (%s), expected LNMT_E_EMPTY", rc, lnmt_strerror(rc));
	cr_assert_eq(s.count, 0, "count %llu", (unsigned long long)s.count);
	cr_assert_eq(s.n_reserved_dropped, (1ull << 24) + 2, "n_reserved_dropped %llu",
		     (unsigned long long)s.n_reserved_dropped);
	target_set_fini(&s);
}

Test(targets, user_excludes_not_counted_as_reserved)
{
	static const char *const incl[] = { "198.18.0.0/24", NULL };
	static const char *const excl[] = { "198.18.0.0/25", NULL };
	struct target_set s;
	int rc = build(&s, incl, excl);

	cr_assert_eq(rc, 0, "finalize = %d (%s)", rc, lnmt_strerror(rc));
	cr_assert_eq(s.count, 128, "count %llu", (unsigned long long)s.count);
	cr_assert_eq(s.n_reserved_dropped, 0, "n_reserved_dropped %llu",
		     (unsigned long long)s.n_reserved_dropped);
	target_set_fini(&s);
}

Test(targets, index_round_trip_multi_range)
{
	static const char *const incl[] = { "198.51.100.250-198.51.101.5", "10.0.0.0/30", "10.0.1.5",
					    "198.18.0.0/16", "203.0.113.255", NULL };
	static const struct target_range want[] = {
		{ IP(10, 0, 0, 0), IP(10, 0, 0, 3) },
		{ IP(10, 0, 1, 5), IP(10, 0, 1, 5) },
		{ IP(198, 18, 0, 0), IP(198, 18, 255, 255) },
		{ IP(198, 51, 100, 250), IP(198, 51, 101, 5) },
		{ IP(203, 0, 113, 255), IP(203, 0, 113, 255) },
	};
	struct target_set s;
	int rc = build(&s, incl, NULL);

	cr_assert_eq(rc, 0, "finalize = %d (%s)", rc, lnmt_strerror(rc));
	expect_ranges(&s, want, 5);
	cr_assert_eq(s.count, 4 + 1 + 65536 + 12 + 1, "count %llu", (unsigned long long)s.count);
	cr_assert_eq(s.n_reserved_dropped, 0, "n_reserved_dropped %llu",
		     (unsigned long long)s.n_reserved_dropped);
	expect_round_trip(&s);

	/* Range boundaries by hand. */
	cr_assert_eq(target_set_addr(&s, 0), IP(10, 0, 0, 0), "addr(0) = %#x", target_set_addr(&s, 0));
	cr_assert_eq(target_set_addr(&s, 3), IP(10, 0, 0, 3), "addr(3) = %#x", target_set_addr(&s, 3));
	cr_assert_eq(target_set_addr(&s, 4), IP(10, 0, 1, 5), "addr(4) = %#x", target_set_addr(&s, 4));
	cr_assert_eq(target_set_addr(&s, 5), IP(198, 18, 0, 0), "addr(5) = %#x", target_set_addr(&s, 5));
	cr_assert_eq(target_set_addr(&s, 5 + 65535), IP(198, 18, 255, 255), "addr(65540) = %#x",
		     target_set_addr(&s, 5 + 65535));
	cr_assert_eq(target_set_addr(&s, 5 + 65536), IP(198, 51, 100, 250), "addr(65541) = %#x",
		     target_set_addr(&s, 5 + 65536));
	cr_assert_eq(target_set_addr(&s, s.count - 1), IP(203, 0, 113, 255), "addr(last) = %#x",
		     target_set_addr(&s, s.count - 1));
	expect_index(&s, IP(10, 0, 1, 5), 4);
	expect_index(&s, IP(198, 51, 101, 0), 5 + 65536 + 6);

	/* Gaps, and either side of the whole set. */
	expect_absent(&s, IP(10, 0, 0, 4));
	expect_absent(&s, IP(10, 0, 1, 4));
	expect_absent(&s, IP(10, 0, 1, 6));
	expect_absent(&s, IP(9, 255, 255, 255));
	expect_absent(&s, IP(198, 17, 255, 255));
	expect_absent(&s, IP(198, 19, 0, 0));
	expect_absent(&s, IP(198, 51, 100, 249));
	expect_absent(&s, IP(198, 51, 101, 6));
	expect_absent(&s, IP(203, 0, 113, 254));
	expect_absent(&s, IP(203, 0, 114, 0));
	expect_absent(&s, 0);
	expect_absent(&s, 0xffffffffu);
	target_set_fini(&s);
}

Test(targets, single_range_round_trip)
{
	static const char *const incl[] = { "198.18.0.77", NULL };
	struct target_set s;
	int rc = build(&s, incl, NULL);

	cr_assert_eq(rc, 0, "finalize = %d (%s)", rc, lnmt_strerror(rc));
	cr_assert_eq(s.count, 1, "count %llu", (unsigned long long)s.count);
	cr_assert_eq(target_set_addr(&s, 0), IP(198, 18, 0, 77), "addr(0) = %#x", target_set_addr(&s, 0));
	expect_index(&s, IP(198, 18, 0, 77), 0);
	expect_absent(&s, IP(198, 18, 0, 76));
	expect_absent(&s, IP(198, 18, 0, 78));
	target_set_fini(&s);
}

Test(targets, merge_overlapping_and_adjacent)
{
	static const char *const incl[] = {
		"10.0.1.0/24",             /* adjacent to 10.0.0.0/24 */
		"10.0.0.128/25",           /* inside 10.0.0.0/24 */
		"10.0.0.0/24",
		"10.0.0.200-10.0.2.10",    /* overlaps two */
		"10.0.0.0/24",             /* duplicate */
		"10.0.2.11",               /* adjacent on the right */
		"10.0.2.13",               /* one address gap: stays separate */
		"172.16.0.0-172.16.0.9",
		"172.16.0.10-172.16.0.19", /* adjacent, given in two specs */
		"172.16.0.5-172.16.0.14",
		NULL,
	};
	static const struct target_range want[] = {
		{ IP(10, 0, 0, 0), IP(10, 0, 2, 11) },
		{ IP(10, 0, 2, 13), IP(10, 0, 2, 13) },
		{ IP(172, 16, 0, 0), IP(172, 16, 0, 19) },
	};
	struct target_set s;
	int rc = build(&s, incl, NULL);

	cr_assert_eq(rc, 0, "finalize = %d (%s)", rc, lnmt_strerror(rc));
	expect_ranges(&s, want, 3);
	cr_assert_eq(s.count, 512 + 12 + 1 + 20, "count %llu", (unsigned long long)s.count);
	expect_round_trip(&s);
	expect_absent(&s, IP(10, 0, 2, 12));
	target_set_fini(&s);
}

/* ---- excludes --------------------------------------------------------------------------- */

Test(targets, exclude_inside)
{
	static const char *const incl[] = { "198.18.0.0/24", NULL };
	static const char *const excl[] = { "198.18.0.100", NULL };
	static const struct target_range want[] = {
		{ IP(198, 18, 0, 0), IP(198, 18, 0, 99) },
		{ IP(198, 18, 0, 101), IP(198, 18, 0, 255) },
	};
	struct target_set s;
	int rc = build(&s, incl, excl);

	cr_assert_eq(rc, 0, "finalize = %d (%s)", rc, lnmt_strerror(rc));
	expect_ranges(&s, want, 2);
	expect_absent(&s, IP(198, 18, 0, 100));
	expect_index(&s, IP(198, 18, 0, 101), 100);
	expect_round_trip(&s);
	target_set_fini(&s);
}

Test(targets, exclude_overlapping_edges)
{
	static const char *const incl[] = { "198.18.0.0/24", "198.18.2.0/24", NULL };
	/* Covers the first range's left edge and the second's right edge, with spare outside. */
	static const char *const excl[] = { "198.17.255.0-198.18.0.9", "198.18.2.250-198.18.3.20", NULL };
	static const struct target_range want[] = {
		{ IP(198, 18, 0, 10), IP(198, 18, 0, 255) },
		{ IP(198, 18, 2, 0), IP(198, 18, 2, 249) },
	};
	struct target_set s;
	int rc = build(&s, incl, excl);

	cr_assert_eq(rc, 0, "finalize = %d (%s)", rc, lnmt_strerror(rc));
	expect_ranges(&s, want, 2);
	cr_assert_eq(s.count, 246 + 250, "count %llu", (unsigned long long)s.count);
	expect_round_trip(&s);
	target_set_fini(&s);
}

Test(targets, exclude_exact_edges)
{
	static const char *const incl[] = { "198.18.0.0/24", NULL };
	static const char *const excl[] = { "198.18.0.0", "198.18.0.255", NULL };
	static const struct target_range want[] = { { IP(198, 18, 0, 1), IP(198, 18, 0, 254) } };
	struct target_set s;
	int rc = build(&s, incl, excl);

	cr_assert_eq(rc, 0, "finalize = %d (%s)", rc, lnmt_strerror(rc));
	expect_ranges(&s, want, 1);
	target_set_fini(&s);
}

Test(targets, exclude_splitting)
{
	static const char *const incl[] = { "198.18.0.0/16", "198.19.0.0/24", NULL };
	/* Two holes in the first range, one exclude spanning the gap between ranges, overlapping
	 * excludes that must merge, and one that touches nothing. */
	static const char *const excl[] = { "198.18.1.0/24", "198.18.1.128-198.18.2.0", "198.18.9.9",
					    "198.18.255.0-198.19.0.9", "203.0.113.0/24", NULL };
	static const struct target_range want[] = {
		{ IP(198, 18, 0, 0), IP(198, 18, 0, 255) },
		{ IP(198, 18, 2, 1), IP(198, 18, 9, 8) },
		{ IP(198, 18, 9, 10), IP(198, 18, 254, 255) },
		{ IP(198, 19, 0, 10), IP(198, 19, 0, 255) },
	};
	struct target_set s;
	int rc = build(&s, incl, excl);

	cr_assert_eq(rc, 0, "finalize = %d (%s)", rc, lnmt_strerror(rc));
	expect_ranges(&s, want, 4);
	cr_assert_eq(s.n_reserved_dropped, 0, "n_reserved_dropped %llu",
		     (unsigned long long)s.n_reserved_dropped);
	expect_round_trip(&s);
	expect_absent(&s, IP(198, 18, 9, 9));
	expect_absent(&s, IP(198, 18, 2, 0));
	target_set_fini(&s);
}

Test(targets, exclude_everything_is_empty)
{
	static const char *const incl[] = { "198.18.0.0/24", "198.18.5.5", NULL };
	static const char *const excl[] = { "198.0.0.0/8", NULL };
	struct target_set s;
	int rc = build(&s, incl, excl);

	cr_assert_eq(rc, LNMT_E_EMPTY, "finalize = %d (%s), expected LNMT_E_EMPTY (%d)", rc,
		     lnmt_strerror(rc), LNMT_E_EMPTY);
	cr_assert_eq(s.count, 0, "count %llu", (unsigned long long)s.count);
	expect_absent(&s, IP(198, 18, 0, 1));
	target_set_fini(&s);

	static const char *const excl_same[] = { "198.18.0.0/24", "198.18.5.5", NULL };
	rc = build(&s, incl, excl_same);
	cr_assert_eq(rc, LNMT_E_EMPTY, "finalize = %d (%s), expected LNMT_E_EMPTY", rc, lnmt_strerror(rc));
	target_set_fini(&s);
}

Test(targets, nothing_added_is_empty)
{
	struct target_set s;
	int rc = build(&s, NULL, NULL);

	cr_assert_eq(rc, LNMT_E_EMPTY, "finalize = %d (%s), expected LNMT_E_EMPTY", rc, lnmt_strerror(rc));
	target_set_fini(&s);
	target_set_fini(NULL); /* destroy functions accept NULL */
}

/* ---- @file ------------------------------------------------------------------------------ */

Test(targets, file_with_comments_blanks_and_several_per_line, .init = tmpdir_setup,
     .fini = tmpdir_teardown)
{
	static const struct target_range want[] = {
		{ IP(198, 18, 0, 1), IP(198, 18, 0, 1) },
		{ IP(198, 18, 0, 10), IP(198, 18, 0, 12) },
		{ IP(198, 18, 1, 0), IP(198, 18, 1, 3) },
		{ IP(198, 18, 2, 1), IP(198, 18, 2, 2) },
		{ IP(198, 18, 3, 0), IP(198, 18, 3, 1) },
		{ IP(198, 18, 4, 4), IP(198, 18, 4, 4) },
	};
	char spec[PATH_MAX + 1], err[TARGET_ERR_LEN] = "";
	struct target_set s;
	int rc;

	write_file("a.txt",
		   "# lab targets\n"
		   "198.18.0.1\n"
		   "\n"
		   "   \t\n"
		   "  198.18.0.10-198.18.0.12   # a range, then a comment\n"
		   "198.18.1.0/30 198.18.2.1,198.18.2.2\t198.18.3.0/31\r\n"
		   "#198.18.9.9\n"
		   "   # 198.18.9.10\n"
		   "198.18.4.4", /* no final newline */
		   spec, sizeof(spec));
	target_set_init(&s);
	rc = target_set_add(&s, spec, err, sizeof(err));
	cr_assert_eq(rc, 0, "target_set_add('%s') = %d (%s): %s", spec, rc, lnmt_strerror(rc), err);
	rc = target_set_finalize(&s);
	cr_assert_eq(rc, 0, "finalize = %d (%s)", rc, lnmt_strerror(rc));
	expect_ranges(&s, want, 6);
	expect_absent(&s, IP(198, 18, 9, 9));
	expect_absent(&s, IP(198, 18, 9, 10));
	expect_round_trip(&s);
	target_set_fini(&s);
}

Test(targets, file_mixed_with_specs_and_excludes, .init = tmpdir_setup, .fini = tmpdir_teardown)
{
	static const struct target_range want[] = {
		{ IP(198, 18, 0, 0), IP(198, 18, 0, 4) },
		{ IP(198, 18, 0, 6), IP(198, 18, 0, 255) },
		{ IP(203, 0, 113, 7), IP(203, 0, 113, 7) },
	};
	char incl[PATH_MAX + 1], excl[PATH_MAX + 1], err[TARGET_ERR_LEN] = "";
	struct target_set s;
	int rc;

	write_file("a.txt", "198.18.0.0/24\n", incl, sizeof(incl));
	write_file("excl.txt", "# keep out\n198.18.0.5\n", excl, sizeof(excl));
	target_set_init(&s);
	rc = target_set_add(&s, incl, err, sizeof(err));
	cr_assert_eq(rc, 0, "add('%s') = %d: %s", incl, rc, err);
	rc = target_set_add(&s, "203.0.113.7", err, sizeof(err));
	cr_assert_eq(rc, 0, "add = %d: %s", rc, err);
	rc = target_set_exclude(&s, excl, err, sizeof(err));
	cr_assert_eq(rc, 0, "exclude('%s') = %d: %s", excl, rc, err);
	rc = target_set_finalize(&s);
	cr_assert_eq(rc, 0, "finalize = %d (%s)", rc, lnmt_strerror(rc));
	expect_ranges(&s, want, 3);
	target_set_fini(&s);
}

Test(targets, empty_file_adds_nothing, .init = tmpdir_setup, .fini = tmpdir_teardown)
{
	char spec[PATH_MAX + 1], err[TARGET_ERR_LEN] = "";
	struct target_set s;
	int rc;

	write_file("empty.txt", "# nothing here\n\n", spec, sizeof(spec));
	target_set_init(&s);
	rc = target_set_add(&s, spec, err, sizeof(err));
	cr_assert_eq(rc, 0, "target_set_add('%s') = %d (%s): %s", spec, rc, lnmt_strerror(rc), err);
	cr_assert_eq(s.n_incl, 0, "n_incl %zu", s.n_incl);
	rc = target_set_finalize(&s);
	cr_assert_eq(rc, LNMT_E_EMPTY, "finalize = %d (%s), expected LNMT_E_EMPTY", rc, lnmt_strerror(rc));
	target_set_fini(&s);
}

Test(targets, missing_file, .init = tmpdir_setup, .fini = tmpdir_teardown)
{
	char spec[PATH_MAX + 1], want[PATH_MAX + 64], err[TARGET_ERR_LEN] = "";
	struct target_set s;
	int rc;

	snprintf(spec, sizeof(spec), "@%s/nope.txt", tmpdir);
	snprintf(want, sizeof(want), "%s/nope.txt: %s", tmpdir, strerror(ENOENT));
	target_set_init(&s);
	rc = target_set_add(&s, spec, err, sizeof(err));
	cr_assert_eq(rc, -ENOENT, "target_set_add('%s') = %d (%s), expected -ENOENT (%d)", spec, rc,
		     lnmt_strerror(rc), -ENOENT);
	cr_assert_str_eq(err, want, "err '%s', expected '%s'", err, want);
	rc = target_set_exclude(&s, spec, err, sizeof(err));
	cr_assert_eq(rc, -ENOENT, "target_set_exclude('%s') = %d, expected -ENOENT", spec, rc);
	cr_assert_str_eq(err, want, "err '%s', expected '%s'", err, want);
	cr_assert_eq(s.n_incl + s.n_excl, 0, "ranges added: %zu", s.n_incl + s.n_excl);
	target_set_fini(&s);
}

Test(targets, bad_line_in_file_names_path_and_line, .init = tmpdir_setup, .fini = tmpdir_teardown)
{
	char spec[PATH_MAX + 1], want[PATH_MAX + 128], err[TARGET_ERR_LEN] = "";
	struct target_set s;
	int rc;

	write_file("bad.txt",
		   "# line 1\n"
		   "198.18.0.1\n"
		   "\n"
		   "198.18.0.2 198.18.0.300   # line 4, second spec is bad\n"
		   "198.18.0.3\n",
		   spec, sizeof(spec));
	snprintf(want, sizeof(want), "%s:4: bad target '198.18.0.300': octet out of range", spec + 1);
	target_set_init(&s);
	rc = target_set_add(&s, spec, err, sizeof(err));
	cr_assert_eq(rc, LNMT_E_PARSE, "target_set_add('%s') = %d (%s), expected LNMT_E_PARSE", spec, rc,
		     lnmt_strerror(rc));
	cr_assert_str_eq(err, want, "err '%s', expected '%s'", err, want);
	target_set_fini(&s);

	write_file("b.txt", "198.18.0.1\nexample.com\n", spec, sizeof(spec));
	snprintf(want, sizeof(want),
		 "%s:2: bad target 'example.com': not an IPv4 address (hostnames are not resolved)", spec + 1);
	target_set_init(&s);
	rc = target_set_exclude(&s, spec, err, sizeof(err));
	cr_assert_eq(rc, LNMT_E_PARSE, "target_set_exclude('%s') = %d, expected LNMT_E_PARSE", spec, rc);
	cr_assert_str_eq(err, want, "err '%s', expected '%s'", err, want);
	target_set_fini(&s);
}

/* ---- bad specs -------------------------------------------------------------------------- */

Test(targets, bad_octet_out_of_range)
{
	expect_bad_spec("198.18.0.300", "octet out of range");
	expect_bad_spec("256.0.0.1", "octet out of range");
	expect_bad_spec("1.2.3.0255", "octet out of range");
	expect_bad_spec("198.18.0.1-198.18.0.256", "octet out of range");
}

Test(targets, bad_too_few_octets)
{
	expect_bad_spec("198.18.0", "expected a.b.c.d");
	expect_bad_spec("198.18.0.", "expected a.b.c.d");
	expect_bad_spec("198..0.1", "expected a.b.c.d");
	expect_bad_spec("-1.2.3.4", "expected a.b.c.d");
	expect_bad_spec("1.2.3.4-1.2.3", "expected a.b.c.d");
}

Test(targets, bad_prefix_length)
{
	expect_bad_spec("198.18.0.1/33", "prefix length must be 0-32");
	expect_bad_spec("198.18.0.1/", "prefix length must be 0-32");
	expect_bad_spec("198.18.0.1/-1", "prefix length must be 0-32");
	expect_bad_spec("198.18.0.1/24x", "prefix length must be 0-32");
	expect_bad_spec("198.18.0.1/99999999999999999999", "prefix length must be 0-32");
}

Test(targets, bad_range_backwards)
{
	expect_bad_spec("198.18.0.9-198.18.0.1", "range ends before it starts");
	expect_bad_spec("198.18.1.0-198.18.0.255", "range ends before it starts");
}

Test(targets, bad_hostname)
{
	expect_bad_spec("example.com", "not an IPv4 address (hostnames are not resolved)");
	expect_bad_spec("localhost", "not an IPv4 address (hostnames are not resolved)");
}

Test(targets, bad_empty)
{
	expect_bad_spec("", "empty");
}

Test(targets, bad_trailing_characters)
{
	expect_bad_spec("1.2.3.4x", "trailing characters");
	expect_bad_spec("1.2.3.4 ", "trailing characters");
	expect_bad_spec("1.2.3.4-1.2.3.5x", "trailing characters");
	expect_bad_spec("1.2.3.4.5", "trailing characters");
}

Test(targets, error_message_truncates_safely)
{
	char err[16];
	struct target_range r;
	int rc = target_parse_range("198.18.0.300", &r, err, sizeof(err));

	cr_assert_eq(rc, LNMT_E_PARSE, "rc %d", rc);
	cr_assert_str_eq(err, "bad target '198", "err '%s'", err);
}

Test(targets, ipv4_format)
{
	char buf[16];

	cr_assert_str_eq(ipv4_format(0, buf), "0.0.0.0", "got '%s'", buf);
	cr_assert_str_eq(ipv4_format(0xffffffffu, buf), "255.255.255.255", "got '%s'", buf);
	cr_assert_str_eq(ipv4_format(IP(198, 18, 0, 1), buf), "198.18.0.1", "got '%s'", buf);
}

/* ---- ports ------------------------------------------------------------------------------ */

static void expect_bad_ports(const char *spec, const char *want)
{
	char err[TARGET_ERR_LEN] = "";
	struct port_list pl = { NULL, 12345 };
	int rc = port_list_parse(&pl, spec, err, sizeof(err));

	cr_assert_eq(rc, LNMT_E_PARSE, "port_list_parse('%s') = %d (%s), expected LNMT_E_PARSE (%d)", spec,
		     rc, lnmt_strerror(rc), LNMT_E_PARSE);
	cr_assert_str_eq(err, want, "port_list_parse('%s'): err '%s', expected '%s'", spec, err, want);
	cr_assert(pl.ports == NULL && pl.n == 12345, "port_list_parse('%s') wrote the list on failure",
		  spec);
}

Test(targets, ports_sorted_unique)
{
	char err[TARGET_ERR_LEN] = "";
	struct port_list pl = { NULL, 0 };
	int rc = port_list_parse(&pl, "8000-8100,80,22", err, sizeof(err));

	cr_assert_eq(rc, 0, "port_list_parse = %d: %s", rc, err);
	cr_assert_eq(pl.n, 2 + 101, "n %zu, expected 103", pl.n);
	cr_assert_eq(pl.ports[0], 22, "ports[0] %u", pl.ports[0]);
	cr_assert_eq(pl.ports[1], 80, "ports[1] %u", pl.ports[1]);
	for (size_t i = 2; i < pl.n; i++)
		cr_assert_eq(pl.ports[i], 8000 + (i - 2), "ports[%zu] %u, expected %zu", i, pl.ports[i],
			     8000 + (i - 2));
	port_list_fini(&pl);
	cr_assert(pl.ports == NULL && pl.n == 0, "fini left ports %p n %zu", (void *)pl.ports, pl.n);
	port_list_fini(NULL);
}

Test(targets, ports_duplicates)
{
	static const uint16_t want[] = { 21, 22, 23, 80, 443 };
	char err[TARGET_ERR_LEN] = "";
	struct port_list pl = { NULL, 0 };
	int rc = port_list_parse(&pl, "443,22,80,22,443,80-80,21-23,22", err, sizeof(err));

	cr_assert_eq(rc, 0, "port_list_parse = %d: %s", rc, err);
	cr_assert_eq(pl.n, 5, "n %zu, expected 5", pl.n);
	for (size_t i = 0; i < 5; i++)
		cr_assert_eq(pl.ports[i], want[i], "ports[%zu] %u, expected %u", i, pl.ports[i], want[i]);
	port_list_fini(&pl);
}

Test(targets, ports_extremes)
{
	char err[TARGET_ERR_LEN] = "";
	struct port_list pl = { NULL, 0 };
	int rc = port_list_parse(&pl, "1-65535,65535,1", err, sizeof(err));

	cr_assert_eq(rc, 0, "port_list_parse = %d: %s", rc, err);
	cr_assert_eq(pl.n, 65535, "n %zu", pl.n);
	for (size_t i = 0; i < pl.n; i++)
		cr_assert_eq(pl.ports[i], i + 1, "ports[%zu] %u", i, pl.ports[i]);
	port_list_fini(&pl);

	rc = port_list_parse(&pl, "65535", err, sizeof(err));
	cr_assert_eq(rc, 0, "port_list_parse('65535') = %d: %s", rc, err);
	cr_assert(pl.n == 1 && pl.ports[0] == 65535, "n %zu ports[0] %u", pl.n, pl.ports[0]);
	port_list_fini(&pl);
}

Test(targets, ports_bad)
{
	expect_bad_ports("0", "bad port '0': ports are 1-65535");
	expect_bad_ports("65536", "bad port '65536': ports are 1-65535");
	expect_bad_ports("22,0-5", "bad port '0-5': ports are 1-65535");
	expect_bad_ports("1-65536", "bad port '1-65536': ports are 1-65535");
	expect_bad_ports("80-22", "bad port '80-22': range ends before it starts");
	/* A non-number is a syntax error, not a range error. */
	expect_bad_ports("x", "bad port 'x': expected PORT or FIRST-LAST");
	expect_bad_ports("22,x", "bad port 'x': expected PORT or FIRST-LAST");
	expect_bad_ports("22-", "bad port '22-': ports are 1-65535");
	expect_bad_ports("22x", "bad port '22x': expected PORT or FIRST-LAST");
	expect_bad_ports("22-80-90", "bad port '22-80-90': expected PORT or FIRST-LAST");
	expect_bad_ports("", "bad port '': empty port list");
}

/* An empty item is an error wherever it is ("5,,6" once meant 5,6 and "," an empty list). */
Test(targets, ports_empty_items)
{
	static const char *const bad[] = { ",", ",,", "5,,6", "5,", ",5", "22,80,,443", "1-3,,", NULL };
	for (size_t i = 0; bad[i]; i++) {
		char want[128];
		snprintf(want, sizeof(want), "bad port list '%s': empty item in the list (two commas, or a comma at an end)",
			 bad[i]);
		expect_bad_ports(bad[i], want);
	}
}

Test(targets, port_list_index)
{
	char err[TARGET_ERR_LEN] = "";
	struct port_list pl = { NULL, 0 };
	size_t pos = 999;
	int rc = port_list_parse(&pl, "22,80,8000-8100", err, sizeof(err));

	cr_assert_eq(rc, 0, "port_list_parse = %d: %s", rc, err);
	cr_assert(port_list_index(&pl, 22, &pos), "22 not found");
	cr_assert_eq(pos, 0, "pos(22) %zu", pos);
	cr_assert(port_list_index(&pl, 80, &pos), "80 not found");
	cr_assert_eq(pos, 1, "pos(80) %zu", pos);
	cr_assert(port_list_index(&pl, 8000, &pos), "8000 not found");
	cr_assert_eq(pos, 2, "pos(8000) %zu", pos);
	cr_assert(port_list_index(&pl, 8050, &pos), "8050 not found");
	cr_assert_eq(pos, 52, "pos(8050) %zu", pos);
	cr_assert(port_list_index(&pl, 8100, &pos), "8100 not found");
	cr_assert_eq(pos, 102, "pos(8100) %zu", pos);
	for (size_t i = 0; i < pl.n; i++) {
		cr_assert(port_list_index(&pl, pl.ports[i], &pos), "ports[%zu]=%u not found", i, pl.ports[i]);
		cr_assert_eq(pos, i, "pos(%u) %zu, expected %zu", pl.ports[i], pos, i);
	}
	static const uint16_t absent[] = { 0, 1, 21, 23, 79, 81, 7999, 8101, 65535 };
	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
		pos = 999;
		cr_assert_not(port_list_index(&pl, absent[i], &pos), "%u found at %zu", absent[i], pos);
		cr_assert_eq(pos, 999, "pos written for absent port %u: %zu", absent[i], pos);
	}
	port_list_fini(&pl);

	rc = port_list_parse(&pl, "443", err, sizeof(err));
	cr_assert_eq(rc, 0, "port_list_parse = %d: %s", rc, err);
	cr_assert(port_list_index(&pl, 443, &pos) && pos == 0, "443 in a one-port list: pos %zu", pos);
	cr_assert_not(port_list_index(&pl, 442, &pos), "442 found");
	cr_assert_not(port_list_index(&pl, 444, &pos), "444 found");
	port_list_fini(&pl);
}

/* ---- @file limits: line length, NUL bytes, empty list items --------------------------- */

/* A line of exactly n bytes: "198.18.0.7" repeated with blanks, padded with blanks. */
static char *spec_line(size_t n)
{
	char *line = malloc(n + 1);
	cr_assert_not_null(line);
	memset(line, ' ', n);
	for (size_t at = 0; at + 10 <= n; at += 11)
		memcpy(line + at, "198.18.0.7", 10);
	line[n] = '\0';
	return line;
}

static long max_rss_kib(void)
{
	struct rusage ru;
	cr_assert_eq(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

Test(targets, file_line_at_the_limit_is_read_one_past_is_refused, .init = tmpdir_setup, .fini = tmpdir_teardown)
{
	char spec[PATH_MAX + 1], want[PATH_MAX + 128], err[TARGET_ERR_LEN + PATH_MAX] = "";
	char *at = spec_line(TARGET_LINE_MAX), *over = spec_line(TARGET_LINE_MAX + 1);
	size_t n = strlen(at) + strlen(over) + 64;
	char *content = malloc(n);
	struct target_set s;

	cr_assert_not_null(content);
	snprintf(content, n, "198.18.0.1\n%s\n%s\n198.18.0.2\n", at, over);
	write_file("long.txt", content, spec, sizeof(spec));
	target_set_init(&s);
	int rc = target_set_add(&s, spec, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:3: line longer than %d bytes (the most one line may hold)", spec + 1,
		 TARGET_LINE_MAX);
	cr_assert_eq(rc, LNMT_E_PARSE, "rc %d (%s): %s", rc, lnmt_strerror(rc), err);
	cr_assert_str_eq(err, want);
	/* Lines 1 and 2 were read (line 2, exactly at the limit, holds 372 copies of one address). */
	cr_assert_eq(s.n_incl, 1 + TARGET_LINE_MAX / 11 + (TARGET_LINE_MAX % 11 >= 10), "n_incl %zu", s.n_incl);
	target_set_fini(&s);

	/* The limit holds for excludes too. */
	target_set_init(&s);
	rc = target_set_exclude(&s, spec, err, sizeof(err));
	cr_assert_eq(rc, LNMT_E_PARSE);
	cr_assert_str_eq(err, want);
	target_set_fini(&s);
	free(content);
	free(at);
	free(over);
}

/* A 32 MiB file of one line is refused after its first TARGET_LINE_MAX + 1 bytes: the peak RSS
 * does not grow (reading the line whole, as getline did, costs 32 MiB and more). */
Test(targets, file_long_line_in_constant_memory, .init = tmpdir_setup, .fini = tmpdir_teardown)
{
	char path[PATH_MAX], spec[PATH_MAX + 1], want[PATH_MAX + 128], err[TARGET_ERR_LEN + PATH_MAX] = "";
	static char chunk[1 << 20];
	struct target_set s;

	snprintf(path, sizeof(path), "%s/long.txt", tmpdir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	memset(chunk, '7', sizeof(chunk));
	for (int i = 0; i < 32; i++)
		cr_assert_eq(fwrite(chunk, 1, sizeof(chunk), f), sizeof(chunk));
	cr_assert_eq(fclose(f), 0);
	snprintf(spec, sizeof(spec), "@%s", path);
	snprintf(want, sizeof(want), "%s:1: line longer than %d bytes (the most one line may hold)", path, TARGET_LINE_MAX);

	long before = max_rss_kib();
	target_set_init(&s);
	int rc = target_set_add(&s, spec, err, sizeof(err));
	long grew = max_rss_kib() - before;
	cr_assert_eq(rc, LNMT_E_PARSE, "rc %d (%s): %s", rc, lnmt_strerror(rc), err);
	cr_assert_str_eq(err, want);
	cr_log_info("a 32 MiB one-line @file: refused, peak RSS grew by %ld KiB", grew);
	cr_assert_lt(grew, 1024, "reading a 32 MiB line grew the peak RSS by %ld KiB", grew);
	target_set_fini(&s);
}

/* A line that never ends (a pipe fed without end) is refused all the same: nothing waits for
 * its end, nothing buffers it. The writer stops by itself after 256 MiB so that a regression
 * fails on memory rather than hangs. */
Test(targets, file_endless_line_from_a_pipe)
{
	char spec[64], want[128], err[TARGET_ERR_LEN] = "";
	int p[2];
	struct target_set s;

	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		static char chunk[65536];
		close(p[0]);
		signal(SIGPIPE, SIG_DFL);
		memset(chunk, '1', sizeof(chunk));
		for (int i = 0; i < 4096; i++)
			if (write(p[1], chunk, sizeof(chunk)) < 0)
				_exit(0);
		_exit(0);
	}
	close(p[1]);
	snprintf(spec, sizeof(spec), "@/proc/self/fd/%d", p[0]);
	snprintf(want, sizeof(want), "/proc/self/fd/%d:1: line longer than %d bytes (the most one line may hold)", p[0],
		 TARGET_LINE_MAX);
	long before = max_rss_kib();
	target_set_init(&s);
	int rc = target_set_add(&s, spec, err, sizeof(err));
	long grew = max_rss_kib() - before;
	close(p[0]);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert_eq(rc, LNMT_E_PARSE, "rc %d (%s): %s", rc, lnmt_strerror(rc), err);
	cr_assert_str_eq(err, want);
	cr_assert_lt(grew, 1024, "an endless line grew the peak RSS by %ld KiB", grew);
	target_set_fini(&s);
}

Test(targets, file_nul_byte_is_refused, .init = tmpdir_setup, .fini = tmpdir_teardown)
{
	char path[PATH_MAX], spec[PATH_MAX + 1], want[PATH_MAX + 128], err[TARGET_ERR_LEN + PATH_MAX] = "";
	static const char content[] = "198.18.0.1\n198.18.0.2\n198.18\0.0.3\n";
	struct target_set s;

	snprintf(path, sizeof(path), "%s/bad.txt", tmpdir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(content, 1, sizeof(content) - 1, f), sizeof(content) - 1);
	cr_assert_eq(fclose(f), 0);
	snprintf(spec, sizeof(spec), "@%s", path);
	snprintf(want, sizeof(want), "%s:3: NUL byte in the line (not a text file?)", path);
	target_set_init(&s);
	int rc = target_set_add(&s, spec, err, sizeof(err));
	cr_assert_eq(rc, LNMT_E_PARSE, "rc %d: %s", rc, err);
	cr_assert_str_eq(err, want);
	target_set_fini(&s);
}

Test(targets, file_empty_list_items_are_refused, .init = tmpdir_setup, .fini = tmpdir_teardown)
{
	static const char *const bad[] = {
		"198.18.0.1,,198.18.0.2", ", 198.18.0.1", "198.18.0.1,", "198.18.0.1 , , 198.18.0.2",
		"198.18.0.1,   # a comment after a comma", ",", "198.18.0.1\t,\t,198.18.0.2",
	};
	char spec[PATH_MAX + 1], want[PATH_MAX + 128], content[256], err[TARGET_ERR_LEN + PATH_MAX] = "";
	struct target_set s;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(content, sizeof(content), "198.18.0.9\n%s\n", bad[i]);
		write_file("bad.txt", content, spec, sizeof(spec));
		snprintf(want, sizeof(want), "%s:2: empty item in the list (two commas, or a comma at an end)", spec + 1);
		target_set_init(&s);
		int rc = target_set_add(&s, spec, err, sizeof(err));
		cr_assert_eq(rc, LNMT_E_PARSE, "'%s': rc %d (%s): %s", bad[i], rc, lnmt_strerror(rc), err);
		cr_assert_str_eq(err, want, "'%s'", bad[i]);
		target_set_fini(&s);
	}
	/* One comma between items, blanks around it or not, is a separator as blanks are. */
	write_file("a.txt", "198.18.0.1 , 198.18.0.2,198.18.0.3 ,198.18.0.4\t,\t198.18.0.5  # five\n", spec, sizeof(spec));
	target_set_init(&s);
	int rc = target_set_add(&s, spec, err, sizeof(err));
	cr_assert_eq(rc, 0, "rc %d: %s", rc, err);
	cr_assert_eq(target_set_finalize(&s), 0);
	cr_assert_eq(s.count, 5, "count %llu", (unsigned long long)s.count);
	target_set_fini(&s);
}

/* ---- large sets need an explicit allow ---------------------------------------------- */

static void expect_large(const char *const *incl, const char *const *excl, const char *want)
{
	char why[256] = "";
	struct target_set s;

	cr_assert_eq(build(&s, incl, excl), 0);
	bool large = target_set_is_large(&s, why, sizeof(why));
	if (want) {
		cr_assert(large, "%s: not large (count %llu)", incl[0], (unsigned long long)s.count);
		cr_assert_str_eq(why, want, "%s", incl[0]);
	} else {
		cr_assert_not(large, "%s: large: %s", incl[0], why);
	}
	target_set_fini(&s);
}

Test(targets, large_sets)
{
	/* 2^24 is still fine; one more is not. */
	expect_large((const char *const[]){ "10.0.0.0/8", NULL }, NULL, NULL);
	expect_large((const char *const[]){ "10.0.0.0/8", "11.0.0.0", NULL }, NULL,
		     "16777217 addresses to sweep, more than 16777216");
	expect_large((const char *const[]){ "10.0.0.0/7", NULL }, NULL, "33554432 addresses to sweep, more than 16777216");
	/* Excludes are taken out first: a /7 less a /8 is 2^24. */
	expect_large((const char *const[]){ "10.0.0.0/7", NULL }, (const char *const[]){ "11.0.0.0/8", NULL }, NULL);
	/* Counted after the never-probed ranges: 0.0.0.0/7 holds 0.0.0.0/8, which is never probed. */
	expect_large((const char *const[]){ "0.0.0.0/7", NULL }, NULL, NULL);
	expect_large((const char *const[]){ "0.0.0.0/0", NULL }, NULL,
		     "3741319168 addresses to sweep (all of 0.0.0.0/0's public space), more than 16777216");
	expect_large((const char *const[]){ "1.0.0.0-223.255.255.255", NULL }, NULL,
		     "3741319168 addresses to sweep (all of 0.0.0.0/0's public space), more than 16777216");
	/* The whole public space as pieces is still the whole public space. */
	expect_large((const char *const[]){ "0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/3", NULL }, NULL,
		     "3741319168 addresses to sweep (all of 0.0.0.0/0's public space), more than 16777216");
	/* All of it but 1.0.0.0 is not all of it, but still large. */
	expect_large((const char *const[]){ "1.0.0.1-223.255.255.255", NULL }, NULL,
		     "3741319167 addresses to sweep, more than 16777216");
	/* /0 with excludes that leave a /24 still asks: a /0 is a typo more often than a plan. */
	expect_large((const char *const[]){ "0.0.0.0/0", NULL },
		     (const char *const[]){ "1.0.0.0-198.17.255.255", "198.18.1.0-223.255.255.255", NULL },
		     "the targets hold all of 0.0.0.0/0's public space (256 addresses after exclusions)");
}
