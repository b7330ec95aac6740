/* SPDX-License-Identifier: MIT */
/* test_query.c: device pages and filters, the network report, sweep lists, nested reads. */
#include "store_test.h"

#define NET 0x0a000000u /* 10.0.0.0 */

static char dir[64];
static struct store *st;

/*
 * 300 devices over 10.0.0.0/23 (every ip with ip % 3 != 2 below 10.0.1.194): the ones with
 * host % 5 == 0 miss the next two sweeps and are down; MACs: host % 7 == 0 Raspberry Pi,
 * host % 7 == 1 American Micro-Fuel, others none. The first sweep at T_BASE, then two at
 * T_BASE + 1 h and + 2 h; the up devices with host % 4 == 0 are first seen in the second sweep.
 */
#define N_DEV 300

static uint32_t dev_ip(uint32_t i)
{
	return NET + i / 2 * 3 + i % 2;
}

static void setup(void)
{
	struct store_result *r = calloc(3 * N_DEV, sizeof(*r));
	size_t n;

	t_mkdtemp(dir);
	st = t_open(dir, 0);
	for (int s = 0; s < 3; s++) {
		n = 0;
		for (uint32_t i = 0; i < N_DEV; i++) {
			uint32_t ip = dev_ip(i);
			if (s > 0 && i % 5 == 0)
				continue;
			if (s == 0 && i % 4 == 0 && i % 5 != 0)
				continue;
			r[n] = t_up(ip, STORE_PROBE_ARP, 100 + i, T_BASE + (uint64_t)s * T_HOUR + i);
			if (i % 7 <= 1) {
				r[n].has_mac = true;
				memcpy(r[n].mac, i % 7 ? "\x00\x22\x72\x00\x00\x01" : "\xb8\x27\xeb\x00\x00\x01", 6);
			}
			n++;
		}
		struct store_sweep info = { .start_us = T_BASE + (uint64_t)s * T_HOUR, .sent = 1000 };
		struct store_range range = { NET, NET + 511 };
		struct store_recorder *rec;
		char err[256];
		cr_assert_eq(store_recorder_open(st, &info, &range, 1, &rec, err, sizeof(err)), 0, "%s", err);
		for (size_t k = 0; k < n; k++)
			store_recorder_add(rec, &r[k]);
		struct store_sweep fin = info;
		fin.end_us = info.start_us + 2000000; /* 1000 sent in 2 s: 500 pps */
		fin.ended = STORE_END_ALL_ANSWERED;
		cr_assert_eq(store_recorder_close(rec, &fin, NULL, err, sizeof(err)), 0, "%s", err);
	}
	free(r);
}

static void teardown(void)
{
	store_close(st);
	t_rmtree(dir);
}

struct page {
	uint32_t ips[N_DEV + 1];
	size_t n;
	int stop_after; /* 0: never */
};

static int collect(void *ctx, const struct store_device *d)
{
	struct page *p = ctx;

	cr_assert_lt(p->n, N_DEV + 1);
	p->ips[p->n++] = d->ip;
	return p->stop_after && (int)p->n == p->stop_after;
}

/* Lists everything matching f page by page (limit per page); returns how many. */
static size_t list_paged(struct store_filter f, uint32_t limit, uint32_t *all, size_t *pages)
{
	size_t total = 0;
	bool more = true;

	f.limit = limit;
	f.has_after = false;
	*pages = 0;
	while (more) {
		struct page p = { .n = 0 };
		uint32_t next = 0;
		int rc = store_devices_list(st, &f, collect, &p, &next, &more);
		cr_assert_eq(rc, 0, "store_devices_list: %d", rc);
		cr_assert_leq(p.n, limit);
		if (more)
			cr_assert_eq(p.n, limit, "a short page (%zu) said there is more", p.n);
		for (size_t i = 0; i < p.n; i++)
			all[total++] = p.ips[i];
		if (p.n)
			cr_assert_eq(next, p.ips[p.n - 1], "cursor is the last address of the page");
		(*pages)++;
		f.has_after = true;
		f.after = next;
		cr_assert_lt(*pages, 1000, "paging does not end");
	}
	return total;
}

static size_t expected(bool (*pred)(uint32_t i), uint32_t *out)
{
	size_t n = 0;

	for (uint32_t i = 0; i < N_DEV; i++)
		if (pred(i))
			out[n++] = dev_ip(i);
	return n;
}

static void assert_pages(struct store_filter f, bool (*pred)(uint32_t i))
{
	static uint32_t want[N_DEV], got[N_DEV + 1];
	size_t n_want = expected(pred, want);

	for (uint32_t limit = 1; limit <= 64; limit = limit * 3 + 1) {
		size_t pages, n = list_paged(f, limit, got, &pages);
		cr_assert_eq(n, n_want, "limit %u: %zu devices listed, %zu expected", limit, n, n_want);
		for (size_t i = 0; i < n; i++)
			cr_assert_eq(got[i], want[i], "limit %u: item %zu is %08x, expected %08x", limit, i, got[i],
				     want[i]);
		cr_assert_eq(pages, n_want ? (n_want + limit - 1) / limit : 1, "limit %u: %zu pages", limit, pages);
	}
	/* No limit: one call, everything. */
	f.limit = 0;
	struct page p = { .n = 0 };
	bool more = true;
	cr_assert_eq(store_devices_list(st, &f, collect, &p, NULL, &more), 0);
	cr_assert_eq(p.n, n_want);
	cr_assert_not(more);
}

static bool all_pred(uint32_t i)
{
	(void)i;
	return true;
}

static bool down_pred(uint32_t i)
{
	return i % 5 == 0;
}

static bool up_pred(uint32_t i)
{
	return i % 5 != 0;
}

static bool subnet_pred(uint32_t i)
{
	return dev_ip(i) >= NET + 256;
}

static bool pi_pred(uint32_t i)
{
	return i % 7 == 0;
}

static bool recent_up_pred(uint32_t i)
{
	return i % 5 != 0; /* last seen in the third sweep */
}

static bool pi_in_subnet_down(uint32_t i)
{
	return pi_pred(i) && subnet_pred(i) && down_pred(i);
}

Test(store, pages_cover_everything_once, .init = setup, .fini = teardown)
{
	assert_pages((struct store_filter){ .state = -1 }, all_pred);
}

Test(store, filter_by_state, .init = setup, .fini = teardown)
{
	assert_pages((struct store_filter){ .state = STORE_STATE_DOWN }, down_pred);
	assert_pages((struct store_filter){ .state = STORE_STATE_UP }, up_pred);
}

Test(store, filter_by_subnet, .init = setup, .fini = teardown)
{
	assert_pages((struct store_filter){ .state = -1, .net = NET + 256, .mask = 0xffffff00u }, subnet_pred);
}

Test(store, filter_by_vendor_and_since, .init = setup, .fini = teardown)
{
	assert_pages((struct store_filter){ .state = -1, .vendor = "rAsPbErRy" }, pi_pred);
	assert_pages((struct store_filter){ .state = -1, .seen_since_us = T_BASE + 2 * T_HOUR }, recent_up_pred);
	assert_pages((struct store_filter){ .state = STORE_STATE_DOWN, .vendor = "pi found", .net = NET + 300,
					     .mask = 0xffffff00u },
		     pi_in_subnet_down);
}

Test(store, list_stops_when_the_callback_says, .init = setup, .fini = teardown)
{
	struct store_filter f = { .state = -1 };
	struct page p = { .stop_after = 3 };
	uint32_t next = 0;
	bool more = false;

	cr_assert_eq(store_devices_list(st, &f, collect, &p, &next, &more), 0);
	cr_assert_eq(p.n, 3);
	cr_assert_eq(next, dev_ip(2));
	cr_assert(more);
	/* Past the last address: empty, no more. */
	f.has_after = true;
	f.after = UINT32_MAX;
	p = (struct page){ .n = 0 };
	cr_assert_eq(store_devices_list(st, &f, collect, &p, &next, &more), 0);
	cr_assert_eq(p.n, 0);
	cr_assert_not(more);
}

Test(store, device_get_unknown, .init = setup, .fini = teardown)
{
	struct store_device d = { .ip = 1234 };

	cr_assert_eq(store_device_get(st, NET + 2, &d), -ENOENT);
	cr_assert_eq(d.ip, 1234, "out changed on failure");
	cr_assert_eq(store_device_get(st, 0xffffffffu, &d), -ENOENT);
}

static int count_obs(void *ctx, const struct store_observation *o)
{
	(void)o;
	(*(size_t *)ctx)++;
	return 0;
}

/* A callback that reads the store again (nested snapshots in one thread). */
static int nested_get(void *ctx, const struct store_device *d)
{
	struct store_device again;
	size_t n = 0;

	cr_assert_eq(store_device_get(st, d->ip, &again), 0);
	cr_assert_eq(again.probes_total, d->probes_total);
	cr_assert_eq(store_device_observations(st, d->ip, 0, count_obs, &n), 0);
	cr_assert_eq(n, d->probes_total);
	(*(size_t *)ctx)++;
	return 0;
}

Test(store, callbacks_may_read_again, .init = setup, .fini = teardown)
{
	struct store_filter f = { .state = -1 };
	size_t n = 0;

	cr_assert_eq(store_devices_list(st, &f, nested_get, &n, NULL, NULL), 0);
	cr_assert_eq(n, N_DEV);
}

struct subnets {
	struct store_subnet_summary s[4];
	size_t n;
};

static int collect_subnet(void *ctx, const struct store_subnet_summary *s)
{
	struct subnets *l = ctx;

	cr_assert_lt(l->n, 4);
	l->s[l->n++] = *s;
	return 0;
}

Test(store, network_report, .init = setup, .fini = teardown)
{
	struct store_network_report r;
	struct subnets subs = { .n = 0 };
	uint64_t down = 0, down0 = 0, n0 = 0, new1 = 0;

	for (uint32_t i = 0; i < N_DEV; i++) {
		bool in0 = dev_ip(i) < NET + 256;
		down += i % 5 == 0;
		down0 += in0 && i % 5 == 0;
		n0 += in0;
		new1 += i % 4 == 0 && i % 5 != 0; /* first seen in the second sweep */
	}
	cr_assert_eq(store_report_network(st, T_BASE + T_HOUR, 0, 0, &r, collect_subnet, &subs), 0);
	cr_assert_eq(r.devices, N_DEV);
	cr_assert_eq(r.down, down);
	cr_assert_eq(r.up, N_DEV - down);
	cr_assert_eq(r.new_since, new1, "new since the second sweep: %llu", (unsigned long long)r.new_since);
	cr_assert_eq(r.sweeps_since, 2);
	cr_assert_float_eq(r.mean_send_pps, 500.0, 1e-6);
	cr_assert_leq(r.rtt_p50_us, r.rtt_p90_us);
	cr_assert_leq(r.rtt_p90_us, r.rtt_p99_us);
	cr_assert_geq(r.rtt_p50_us, 100);
	cr_assert_lt(r.rtt_p99_us, 100 + N_DEV);
	cr_assert_eq(subs.n, 2);
	cr_assert_eq(subs.s[0].net, NET);
	cr_assert_eq(subs.s[0].down, down0);
	cr_assert_eq(subs.s[0].up + subs.s[0].down, n0);
	cr_assert_eq(subs.s[1].net, NET + 256);

	/* A subnet filter. */
	cr_assert_eq(store_report_network(st, 0, NET + 256, 0xffffff00u, &r, NULL, NULL), 0);
	cr_assert_eq(r.devices, N_DEV - n0);
	cr_assert_eq(r.sweeps_since, 3);
}

struct sweeps {
	uint64_t ids[8];
	size_t n;
};

static int collect_sweep(void *ctx, const struct store_sweep *s)
{
	struct sweeps *l = ctx;

	cr_assert_lt(l->n, 8);
	l->ids[l->n++] = s->id;
	return 0;
}

Test(store, sweeps_newest_first, .init = setup, .fini = teardown)
{
	struct sweeps l = { .n = 0 };

	cr_assert_eq(store_sweeps_list(st, 0, collect_sweep, &l), 0);
	cr_assert_eq(l.n, 3);
	cr_assert_eq(l.ids[0], 3);
	cr_assert_eq(l.ids[2], 1);
	l.n = 0;
	cr_assert_eq(store_sweeps_list(st, 2, collect_sweep, &l), 0);
	cr_assert_eq(l.n, 2);
	cr_assert_eq(l.ids[1], 2);
}

struct up_all {
	size_t n;
	uint32_t last;
};

static int uptime_order(void *ctx, const struct store_uptime *u)
{
	struct up_all *a = ctx;

	if (a->n)
		cr_assert_gt(u->ip, a->last, "uptime not in address order");
	a->last = u->ip;
	a->n++;
	return 0;
}

Test(store, uptime_report_covers_the_subnet, .init = setup, .fini = teardown)
{
	struct up_all a = { 0 };

	cr_assert_eq(store_report_uptime(st, 0, 0, 0, uptime_order, &a), 0);
	cr_assert_eq(a.n, N_DEV);
	a = (struct up_all){ 0 };
	cr_assert_eq(store_report_uptime(st, 0, NET + 256, 0xffffff00u, uptime_order, &a), 0);
	static uint32_t want[N_DEV];
	cr_assert_eq(a.n, expected(subnet_pred, want));
}

Test(store, read_only_store_reads, .init = setup, .fini = teardown)
{
	struct store_options opt = { .read_only = true };
	struct store *ro;
	struct store_recorder *rec;
	struct store_sweep info = { 0 };
	char err[256];

	/* LMDB wants one environment per file per process: close the writable one first. */
	store_close(st);
	cr_assert_eq(store_open(&ro, dir, &opt, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t_get(ro, dev_ip(1)).probes_total, 3);
	cr_assert_eq(store_recorder_open(ro, &info, NULL, 0, &rec, err, sizeof(err)), -EROFS);
	store_close(ro);
	st = t_open(dir, 0);
}
