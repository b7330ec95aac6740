/* SPDX-License-Identifier: MIT */
/* test_series.c: per-subnet hourly counts (subnet_hourly) and the per-vendor device counts. */
#include "store_test.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))
#define NET15 IP(198, 18, 0, 0)   /* 198.18.0.0/15: every sweep here stays inside it */
#define MASK15 0xfffe0000u
#define H0 ((uint32_t)(T_BASE / T_HOUR))
#define T0 ((uint64_t)H0 * T_HOUR + 600000000ull) /* ten minutes into hour H0 */

static char dir[64];
static struct store *st;

/* n devices from first (host numbers first, first + 1, ...). */
static size_t add_up(struct store_result *r, size_t n, uint32_t first, size_t count, uint64_t t)
{
	for (size_t i = 0; i < count; i++)
		r[n++] = t_up(first + (uint32_t)i, STORE_PROBE_ICMP, 100, t);
	return n;
}

/*
 * Devices: 10 in 198.18.1.0/24 (.1-.10), 5 then 6 in 198.18.2.0/24, 3 in 198.18.200.0/24, 2 in
 * 198.19.5.0/24. Sweeps over the whole /15 unless said:
 *   H0 + 10 min: all answer.
 *   H0 + 30 min: 198.18.1 .1-.7 answer (3 misses), 198.18.2 all, 198.18.200 none (3 misses),
 *                198.19.5 all.
 *   H1 + 10 min: 198.18.1 all, 198.18.2 all plus a new .6, 198.18.200 .1 only, 198.19.5 none.
 *   H3 + 10 min: over 198.18.1.0/24 only, all answer. (No sweep in H2.)
 */
static void setup(void)
{
	struct store_result r[64];
	size_t n;

	t_mkdtemp(dir);
	st = t_open(dir, 0);

	n = add_up(r, 0, IP(198, 18, 1, 1), 10, T0);
	n = add_up(r, n, IP(198, 18, 2, 1), 5, T0);
	n = add_up(r, n, IP(198, 18, 200, 1), 3, T0);
	n = add_up(r, n, IP(198, 19, 5, 1), 2, T0);
	t_sweep(st, T0, NET15, NET15 | ~MASK15, r, n);

	uint64_t t = T0 + 20 * 60000000ull;
	n = add_up(r, 0, IP(198, 18, 1, 1), 7, t);
	n = add_up(r, n, IP(198, 18, 2, 1), 5, t);
	n = add_up(r, n, IP(198, 19, 5, 1), 2, t);
	t_sweep(st, t, NET15, NET15 | ~MASK15, r, n);

	t = T0 + T_HOUR;
	n = add_up(r, 0, IP(198, 18, 1, 1), 10, t);
	n = add_up(r, n, IP(198, 18, 2, 1), 6, t);
	n = add_up(r, n, IP(198, 18, 200, 1), 1, t);
	t_sweep(st, t, NET15, NET15 | ~MASK15, r, n);

	t = T0 + 3 * T_HOUR;
	n = add_up(r, 0, IP(198, 18, 1, 1), 10, t);
	t_sweep(st, t, IP(198, 18, 1, 0), IP(198, 18, 1, 255), r, n);
}

static void teardown(void)
{
	store_close(st);
	t_rmtree(dir);
}

struct pts {
	struct store_series_point p[64];
	size_t n;
	int stop_after; /* 0: never; > 0: return 1 then; < 0: return it at once */
};

static int collect(void *ctx, const struct store_series_point *p)
{
	struct pts *s = ctx;

	if (s->stop_after < 0)
		return s->stop_after;
	cr_assert_lt(s->n, 64);
	s->p[s->n++] = *p;
	return s->stop_after && (int)s->n == s->stop_after;
}

static struct pts series(uint64_t since, uint32_t net, uint32_t mask, unsigned prefix)
{
	struct pts s = { .n = 0 };
	int rc = store_uptime_series(st, since, net, mask, prefix, collect, &s);

	cr_assert_eq(rc, 0, "store_uptime_series: %d", rc);
	return s;
}

struct want {
	uint32_t hour_off, net;
	uint64_t probes, answers;
};

static void check(const struct pts *s, const struct want *w, size_t n, unsigned prefix)
{
	cr_assert_eq(s->n, n, "%zu points, expected %zu", s->n, n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(s->p[i].hour, H0 + w[i].hour_off, "point %zu: hour %u, expected H0 + %u", i, s->p[i].hour,
			     w[i].hour_off);
		cr_assert_eq(s->p[i].net, w[i].net, "point %zu: net %08x, expected %08x", i, s->p[i].net, w[i].net);
		cr_assert_eq(s->p[i].prefix, prefix, "point %zu: prefix %u", i, s->p[i].prefix);
		cr_assert_eq(s->p[i].probes, w[i].probes, "point %zu (%08x, H0 + %u): probes %llu, expected %llu", i,
			     w[i].net, w[i].hour_off, (unsigned long long)s->p[i].probes,
			     (unsigned long long)w[i].probes);
		cr_assert_eq(s->p[i].answers, w[i].answers, "point %zu (%08x, H0 + %u): answers %llu, expected %llu",
			     i, w[i].net, w[i].hour_off, (unsigned long long)s->p[i].answers,
			     (unsigned long long)w[i].answers);
	}
}

Test(series, counts_per_hour_and_subnet_misses_included, .init = setup, .fini = teardown)
{
	static const struct want w[] = {
		{ 0, IP(198, 18, 1, 0), 20, 17 },  { 0, IP(198, 18, 2, 0), 10, 10 },
		{ 0, IP(198, 18, 200, 0), 6, 3 },  { 0, IP(198, 19, 5, 0), 4, 4 },
		{ 1, IP(198, 18, 1, 0), 10, 10 },  { 1, IP(198, 18, 2, 0), 6, 6 },
		{ 1, IP(198, 18, 200, 0), 3, 1 },  { 1, IP(198, 19, 5, 0), 2, 0 },
		{ 3, IP(198, 18, 1, 0), 10, 10 },
	};
	struct pts s = series(T0, 0, 0, 24);

	check(&s, w, sizeof(w) / sizeof(w[0]), 24);
	cr_assert(store_has_series(st));
}

Test(series, since_starts_at_its_hour, .init = setup, .fini = teardown)
{
	static const struct want w[] = {
		{ 1, IP(198, 18, 1, 0), 10, 10 }, { 1, IP(198, 18, 2, 0), 6, 6 }, { 1, IP(198, 18, 200, 0), 3, 1 },
		{ 1, IP(198, 19, 5, 0), 2, 0 },   { 3, IP(198, 18, 1, 0), 10, 10 },
	};
	/* Late in hour H1: the whole of H1 counts. */
	struct pts s = series((uint64_t)(H0 + 1) * T_HOUR + T_HOUR - 1, 0, 0, 24);

	check(&s, w, sizeof(w) / sizeof(w[0]), 24);
	s = series((uint64_t)(H0 + 4) * T_HOUR, 0, 0, 24);
	cr_assert_eq(s.n, 0, "nothing after the last hour, got %zu", s.n);
}

Test(series, prefix_groups_sum_the_24s, .init = setup, .fini = teardown)
{
	static const struct want w16[] = {
		{ 0, IP(198, 18, 0, 0), 36, 30 }, { 0, IP(198, 19, 0, 0), 4, 4 },
		{ 1, IP(198, 18, 0, 0), 19, 17 }, { 1, IP(198, 19, 0, 0), 2, 0 },
		{ 3, IP(198, 18, 0, 0), 10, 10 },
	};
	static const struct want w0[] = { { 0, 0, 40, 34 }, { 1, 0, 21, 17 }, { 3, 0, 10, 10 } };
	struct pts s = series(T0, 0, 0, 16);

	check(&s, w16, sizeof(w16) / sizeof(w16[0]), 16);
	s = series(T0, 0, 0, 0);
	check(&s, w0, sizeof(w0) / sizeof(w0[0]), 0);
}

Test(series, net_mask_filter, .init = setup, .fini = teardown)
{
	static const struct want w17[] = {
		{ 0, IP(198, 18, 0, 0), 30, 27 }, { 0, IP(198, 18, 128, 0), 6, 3 },
		{ 1, IP(198, 18, 0, 0), 16, 16 }, { 1, IP(198, 18, 128, 0), 3, 1 },
		{ 3, IP(198, 18, 0, 0), 10, 10 },
	};
	static const struct want w2[] = { { 0, IP(198, 18, 2, 0), 10, 10 }, { 1, IP(198, 18, 2, 0), 6, 6 } };
	static const struct want w200[] = { { 0, IP(198, 18, 200, 0), 6, 3 }, { 1, IP(198, 18, 200, 0), 3, 1 } };
	static const struct want w19[] = { { 0, IP(198, 19, 0, 0), 4, 4 }, { 1, IP(198, 19, 0, 0), 2, 0 } };
	struct pts s = series(T0, IP(198, 18, 0, 0), 0xffff0000u, 17);

	check(&s, w17, sizeof(w17) / sizeof(w17[0]), 17);
	s = series(T0, IP(198, 18, 2, 77), 0xffffff00u, 24);
	check(&s, w2, sizeof(w2) / sizeof(w2[0]), 24);
	s = series(T0, IP(198, 18, 128, 0), 0xffff8000u, 24);
	check(&s, w200, sizeof(w200) / sizeof(w200[0]), 24);
	s = series(T0, IP(198, 19, 0, 0), 0xffff0000u, 16);
	check(&s, w19, sizeof(w19) / sizeof(w19[0]), 16);
	s = series(T0, IP(198, 18, 3, 0), 0xffffff00u, 24);
	cr_assert_eq(s.n, 0, "a /24 with no devices has no points, got %zu", s.n);
}

Test(series, bad_arguments, .init = setup, .fini = teardown)
{
	struct pts s = { .n = 0 };
	unsigned p;

	cr_assert_eq(store_uptime_series(st, T0, 0, 0, 25, collect, &s), -EINVAL);
	cr_assert_eq(store_uptime_series(st, T0, IP(198, 18, 1, 0), 0xffffff80u, 24, collect, &s), -EINVAL);
	cr_assert_eq(store_uptime_series(st, T0, IP(198, 18, 1, 0), 0xff00ff00u, 24, collect, &s), -EINVAL);
	cr_assert_eq(store_series_prefix(st, T0, 0, 0, 24, 0, &p, NULL), -EINVAL);
	cr_assert_eq(s.n, 0);
}

Test(series, callback_stops, .init = setup, .fini = teardown)
{
	struct pts s = { .stop_after = 2 };

	cr_assert_eq(store_uptime_series(st, T0, 0, 0, 24, collect, &s), 0);
	cr_assert_eq(s.n, 2, "stopped after %zu", s.n);
	s = (struct pts){ .stop_after = -EIO };
	cr_assert_eq(store_uptime_series(st, T0, 0, 0, 24, collect, &s), -EIO);
}

Test(series, prefix_for_at_most_n_groups, .init = setup, .fini = teardown)
{
	/* /24s with counts: 198.18.1, 198.18.2, 198.18.200, 198.19.5. */
	static const struct { uint32_t max; unsigned prefix, groups; } cases[] = {
		{ 64, 24, 4 }, { 4, 24, 4 }, { 3, 22, 3 }, { 2, 16, 2 }, { 1, 15, 1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned p = 99;
		uint32_t g = 0;
		int rc = store_series_prefix(st, T0, NET15, MASK15, 24, cases[i].max, &p, &g);
		cr_assert_eq(rc, 0, "store_series_prefix: %d", rc);
		cr_assert_eq(p, cases[i].prefix, "max %u: prefix %u, expected %u", cases[i].max, p, cases[i].prefix);
		cr_assert_eq(g, cases[i].groups, "max %u: %u groups, expected %u", cases[i].max, g, cases[i].groups);
	}
	/* Asked coarser than the subnet itself: kept as asked. */
	unsigned p = 99;
	uint32_t g = 0;
	cr_assert_eq(store_series_prefix(st, T0, IP(198, 18, 0, 0), 0xffff0000u, 8, 1, &p, &g), 0);
	cr_assert_eq(p, 8);
	cr_assert_eq(g, 1);
	/* From H3 only 198.18.1 has counts. */
	cr_assert_eq(store_series_prefix(st, (uint64_t)(H0 + 3) * T_HOUR, 0, 0, 24, 1, &p, &g), 0);
	cr_assert_eq(p, 24);
	cr_assert_eq(g, 1);
}

static int sum_uptime(void *ctx, const struct store_uptime *u)
{
	uint64_t *s = ctx;

	s[0] += u->probes;
	s[1] += u->answers;
	return 0;
}

static int sum_points(void *ctx, const struct store_series_point *p)
{
	uint64_t *s = ctx;

	s[0] += p->probes;
	s[1] += p->answers;
	return 0;
}

/* The subnet counts and the per-device roll-ups count the same observations. */
Test(series, agrees_with_device_uptime, .init = setup, .fini = teardown)
{
	for (uint32_t h = 0; h < 5; h++) {
		uint64_t a[2] = { 0 }, b[2] = { 0 }, since = (uint64_t)(H0 + h) * T_HOUR;
		cr_assert_eq(store_report_uptime(st, since, 0, 0, sum_uptime, a), 0);
		cr_assert_eq(store_uptime_series(st, since, 0, 0, 0, sum_points, b), 0);
		cr_assert_eq(a[0], b[0], "from H0 + %u: devices say %llu probes, series %llu", h,
			     (unsigned long long)a[0], (unsigned long long)b[0]);
		cr_assert_eq(a[1], b[1], "from H0 + %u: devices say %llu answers, series %llu", h,
			     (unsigned long long)a[1], (unsigned long long)b[1]);
	}
}

Test(series, check_counts_records, .init = setup, .fini = teardown)
{
	struct store_check_report rep;
	char err[256] = "";

	cr_assert_eq(store_check(st, &rep, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rep.series, 9, "series records %llu", (unsigned long long)rep.series);
}

/* Two results of one device in one sweep are one observation; a sweep larger than a batch
 * meets its own (hour, /24) records again in the next transaction. */
Test(series, one_observation_per_device_and_sweep_across_batches)
{
	size_t n = 65536 + 512;
	struct store_result *r = calloc(n, sizeof(*r));
	uint64_t x = 88172645463325252ull;

	t_mkdtemp(dir);
	st = t_open(dir, 0);
	cr_assert_not_null(r);
	for (size_t i = 0; i < 65536; i++)
		r[i] = t_up(IP(198, 18, 0, 0) + (uint32_t)i, STORE_PROBE_ICMP, 100, T0);
	/* Shuffled, so the second batch holds addresses from everywhere. */
	for (size_t i = 65535; i > 0; i--) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		size_t j = x % (i + 1);
		struct store_result t = r[i];
		r[i] = r[j], r[j] = t;
	}
	/* Then the first 512 again, answering a second probe. */
	for (size_t i = 0; i < 512; i++) {
		r[65536 + i] = r[i];
		r[65536 + i].probe = STORE_PROBE_ARP;
	}
	t_sweep(st, T0, IP(198, 18, 0, 0), IP(198, 18, 255, 255), r, n);
	free(r);

	struct pts s = { .n = 0 };
	size_t seen = 0;
	for (uint32_t c = 0; c < 256; c += 64) {
		/* 64 /24s at a time (the collector holds 64). */
		s.n = 0;
		cr_assert_eq(store_uptime_series(st, T0, IP(198, 18, c, 0), 0xffffc000u, 24, collect, &s), 0);
		cr_assert_eq(s.n, 64, "%zu points from 198.18.%u.0/18", s.n, c);
		for (size_t i = 0; i < s.n; i++) {
			cr_assert_eq(s.p[i].net, IP(198, 18, c + i, 0));
			cr_assert_eq(s.p[i].probes, 256, "198.18.%zu.0/24: %llu probes", c + i,
				     (unsigned long long)s.p[i].probes);
			cr_assert_eq(s.p[i].answers, 256);
		}
		seen += s.n;
	}
	cr_assert_eq(seen, 256);
	teardown();
}

/* A store from before the counts: read-only it has none; for writing it gets the database. */
Test(series, read_only_store_without_series)
{
	struct store_options ro = { .read_only = true, .oui_path = "" };
	struct store_check_report rep;
	struct pts s = { .n = 0 };
	char err[256] = "";
	unsigned p = 99;
	MDB_txn *txn;
	MDB_dbi dbi;

	t_mkdtemp(dir);
	st = t_open(dir, 0);
	struct store_result r = t_up(IP(198, 18, 9, 9), STORE_PROBE_ICMP, 100, T0);
	t_sweep(st, T0, IP(198, 18, 9, 0), IP(198, 18, 9, 255), &r, 1);
	/* Take the database out, as an older lnmt would have left the store. */
	cr_assert_eq(mdb_txn_begin(st->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, "subnet_hourly", 0, &dbi), 0);
	cr_assert_eq(mdb_drop(txn, dbi, 1), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	store_close(st);

	cr_assert_eq(store_open(&st, dir, &ro, err, sizeof(err)), 0, "read-only open: %s", err);
	cr_assert_not(store_has_series(st));
	cr_assert_eq(store_uptime_series(st, 0, 0, 0, 24, collect, &s), 0);
	cr_assert_eq(s.n, 0);
	cr_assert_eq(store_series_prefix(st, 0, 0, 0, 24, 64, &p, NULL), 0);
	cr_assert_eq(p, 24);
	cr_assert_eq(store_check(st, &rep, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rep.series, 0);
	cr_assert_eq(rep.observations, 1);
	store_close(st);

	/* Opened for writing it gets the database, empty until the next sweep. */
	st = t_open(dir, 0);
	cr_assert(store_has_series(st));
	cr_assert_eq(store_uptime_series(st, 0, 0, 0, 24, collect, &s), 0);
	cr_assert_eq(s.n, 0);
	t_sweep(st, T0 + T_HOUR, IP(198, 18, 9, 0), IP(198, 18, 9, 255), NULL, 0);
	cr_assert_eq(store_uptime_series(st, 0, 0, 0, 24, collect, &s), 0);
	cr_assert_eq(s.n, 1);
	cr_assert_eq(s.p[0].hour, H0 + 1);
	cr_assert_eq(s.p[0].probes, 1, "the miss counts");
	cr_assert_eq(s.p[0].answers, 0);
	teardown();
}

/* ---- vendors ---- */

struct vendors {
	char name[16][STORE_VENDOR_LEN];
	uint32_t up[16], down[16];
	size_t n;
	size_t stop_after;
	struct store_subnet_summary subs[8];
	size_t n_subs;
};

static int collect_vendor(void *ctx, const struct store_vendor_count *v)
{
	struct vendors *s = ctx;

	cr_assert_lt(s->n, 16);
	snprintf(s->name[s->n], STORE_VENDOR_LEN, "%s", v->vendor);
	s->up[s->n] = v->up;
	s->down[s->n] = v->down;
	s->n++;
	return s->stop_after && s->n == s->stop_after;
}

static int collect_subnet(void *ctx, const struct store_subnet_summary *sub)
{
	struct vendors *s = ctx;

	cr_assert_lt(s->n_subs, 8);
	s->subs[s->n_subs++] = *sub;
	return 0;
}

/*
 * 198.18.7.1-.3 Raspberry Pi Foundation (.3 down), .4-.5 American Micro-Fuel, .6 Raspberry Pi
 * Trading, .7-.10 no MAC (.9, .10 down); 198.18.8.1 Raspberry Pi Trading.
 */
static void vendor_setup(void)
{
	static const char *const macs[] = { "\xb8\x27\xeb", "\x00\x22\x72", "\xdc\xa6\x32" };
	struct store_result r[16];
	size_t n = 0;

	t_mkdtemp(dir);
	st = t_open(dir, 1);
	for (uint32_t h = 1; h <= 10; h++) {
		int m = h <= 3 ? 0 : h <= 5 ? 1 : h == 6 ? 2 : -1;
		r[n] = t_up(IP(198, 18, 7, h), STORE_PROBE_ARP, 100, T0);
		if (m >= 0) {
			r[n].has_mac = true;
			memcpy(r[n].mac, macs[m], 3);
			r[n].mac[5] = (uint8_t)h;
		}
		n++;
	}
	r[n] = t_up(IP(198, 18, 8, 1), STORE_PROBE_ARP, 100, T0);
	r[n].has_mac = true;
	memcpy(r[n].mac, macs[2], 3);
	n++;
	t_sweep(st, T0, IP(198, 18, 7, 0), IP(198, 18, 8, 255), r, n);
	/* The second sweep misses .3, .9 and .10 (offline after one miss). */
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t h = r[i].ip & 0xff;
		if ((r[i].ip >> 8 & 0xff) == 7 && (h == 3 || h == 9 || h == 10))
			continue;
		r[m++] = r[i];
	}
	t_sweep(st, T0 + T_HOUR, IP(198, 18, 7, 0), IP(198, 18, 8, 255), r, m);
}

Test(vendors, counted_most_first, .init = vendor_setup, .fini = teardown)
{
	struct vendors v = { .n = 0 };

	cr_assert_eq(store_report_vendors(st, 0, 0, collect_vendor, &v), 0);
	cr_assert_eq(v.n, 4, "%zu vendors", v.n);
	cr_assert_str_eq(v.name[0], "");
	cr_assert_eq(v.up[0], 2);
	cr_assert_eq(v.down[0], 2);
	cr_assert_str_eq(v.name[1], "Raspberry Pi Foundation");
	cr_assert_eq(v.up[1], 2);
	cr_assert_eq(v.down[1], 1);
	/* Two each: by name. */
	cr_assert_str_eq(v.name[2], "American Micro-Fuel Device Corp.");
	cr_assert_eq(v.up[2], 2);
	cr_assert_eq(v.down[2], 0);
	cr_assert_str_eq(v.name[3], "Raspberry Pi Trading Ltd");
	cr_assert_eq(v.up[3], 2);
	cr_assert_eq(v.down[3], 0);
}

Test(vendors, subnet_filter_and_stop, .init = vendor_setup, .fini = teardown)
{
	struct vendors v = { .n = 0 };

	cr_assert_eq(store_report_vendors(st, IP(198, 18, 8, 0), 0xffffff00u, collect_vendor, &v), 0);
	cr_assert_eq(v.n, 1);
	cr_assert_str_eq(v.name[0], "Raspberry Pi Trading Ltd");
	cr_assert_eq(v.up[0], 1);
	v = (struct vendors){ .stop_after = 1 };
	cr_assert_eq(store_report_vendors(st, 0, 0, collect_vendor, &v), 0);
	cr_assert_eq(v.n, 1);
}

Test(vendors, network_report_in_one_walk, .init = vendor_setup, .fini = teardown)
{
	struct store_network_report a, b;
	struct vendors v = { .n = 0 };

	cr_assert_eq(store_report_network(st, 0, 0, 0, &a, NULL, NULL), 0);
	cr_assert_eq(store_report_network_ex(st, 0, 0, 0, &b, collect_subnet, collect_vendor, &v), 0);
	cr_assert_eq(a.devices, b.devices);
	cr_assert_eq(a.up, b.up);
	cr_assert_eq(a.down, b.down);
	cr_assert_eq(b.devices, 11);
	cr_assert_eq(b.down, 3);
	cr_assert_eq(b.sweeps_since, 2);
	cr_assert_eq(v.n, 4);
	cr_assert_eq(v.n_subs, 2);
	cr_assert_eq(v.subs[0].net, IP(198, 18, 7, 0));
	cr_assert_eq(v.subs[0].up, 7);
	cr_assert_eq(v.subs[0].down, 3);
	uint32_t up = 0, down = 0;
	for (size_t i = 0; i < v.n; i++)
		up += v.up[i], down += v.down[i];
	cr_assert_eq(up, b.up);
	cr_assert_eq(down, b.down);
}

/* ---- the record ---- */

Test(series, counts_record_is_16_bytes_little_endian)
{
	static const uint8_t want[SCHEMA_COUNTS_LEN] = { 0x03, 0x02, 0x01, 0, 0, 0, 0, 0, 0x02, 0x01, 0, 0, 0, 0, 0, 0 };
	struct schema_counts c = { 0x010203, 0x0102 }, back;
	uint8_t buf[SCHEMA_COUNTS_LEN + 1] = { 0 };

	cr_assert_eq(schema_counts_encode(buf, &c), SCHEMA_COUNTS_LEN);
	cr_assert_arr_eq(buf, want, SCHEMA_COUNTS_LEN);
	cr_assert_eq(schema_counts_decode(&back, buf, SCHEMA_COUNTS_LEN), 0);
	cr_assert_eq(back.probes, c.probes);
	cr_assert_eq(back.answers, c.answers);
	cr_assert_eq(schema_counts_decode(&back, buf, SCHEMA_COUNTS_LEN - 1), -EBADMSG);
	cr_assert_eq(schema_counts_decode(&back, buf, SCHEMA_COUNTS_LEN + 1), -EBADMSG);
	c = (struct schema_counts){ 1, 2 }; /* more answers than probes */
	schema_counts_encode(buf, &c);
	cr_assert_eq(schema_counts_decode(&back, buf, SCHEMA_COUNTS_LEN), -EBADMSG);
	uint8_t key[8];
	schema_key_hour_net(key, 0x01020304u, IP(198, 18, 7, 0));
	cr_assert_arr_eq(key, ((uint8_t[]){ 1, 2, 3, 4, 198, 18, 7, 0 }), 8);
}
