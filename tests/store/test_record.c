/* SPDX-License-Identifier: MIT */
/* test_record.c: recording sweeps: merging, misses, the offline threshold, roll-ups and uptime. */
#include "store_test.h"

#define NET 0x0a000000u /* 10.0.0.0 */

static char dir[64];
static struct store *st;

static void setup(void)
{
	t_mkdtemp(dir);
	st = t_open(dir, 0);
}

static void teardown(void)
{
	store_close(st);
	t_rmtree(dir);
}

/* ---- counting helpers ---- */

struct obs_list {
	size_t n;
	struct store_observation o[64];
};

static int collect_obs(void *ctx, const struct store_observation *o)
{
	struct obs_list *l = ctx;

	if (l->n < 64)
		l->o[l->n] = *o;
	l->n++;
	return 0;
}

static struct obs_list observations(uint32_t ip, uint32_t limit)
{
	struct obs_list l = { 0 };
	int rc = store_device_observations(st, ip, limit, collect_obs, &l);

	cr_assert_eq(rc, 0, "store_device_observations: %d", rc);
	return l;
}

struct chg_list {
	size_t n;
	struct store_change c[64];
};

static int collect_chg(void *ctx, const struct store_change *c)
{
	struct chg_list *l = ctx;

	if (l->n < 64)
		l->c[l->n] = *c;
	l->n++;
	return 0;
}

static struct chg_list changes(uint32_t ip)
{
	struct chg_list l = { 0 };
	int rc = store_device_changes(st, ip, 0, collect_chg, &l);

	cr_assert_eq(rc, 0, "store_device_changes: %d", rc);
	return l;
}

struct up_one {
	uint32_t ip;
	bool found;
	struct store_uptime u;
	size_t n;
};

static int find_uptime(void *ctx, const struct store_uptime *u)
{
	struct up_one *f = ctx;

	f->n++;
	if (u->ip == f->ip) {
		f->u = *u;
		f->found = true;
	}
	return 0;
}

static struct store_uptime uptime(uint32_t ip, uint64_t since)
{
	struct up_one f = { .ip = ip };
	int rc = store_report_uptime(st, since, ip, 0xffffffffu, find_uptime, &f);

	cr_assert_eq(rc, 0, "store_report_uptime: %d", rc);
	cr_assert(f.found, "no uptime for %08x", ip);
	cr_assert_eq(f.n, 1, "one device asked, %zu reported", f.n);
	return f.u;
}

/* One sweep of NET/24 in which exactly the hosts in `up` answer (ICMP). */
static struct store_sweep sweep_hosts(uint64_t start, const uint32_t *up, size_t n)
{
	struct store_result r[64];

	for (size_t i = 0; i < n; i++)
		r[i] = t_up(NET + up[i], STORE_PROBE_ICMP, 100 + (uint32_t)i, start + 1000);
	return t_sweep(st, start, NET, NET + 255, r, n);
}

/* ---- tests ---- */

Test(store, new_device_is_new_not_up, .init = setup, .fini = teardown)
{
	uint32_t h[] = { 5 };
	struct store_sweep s = sweep_hosts(T_BASE, h, 1);
	struct store_sweep back = t_get_sweep(st, s.id);
	struct store_device d = t_get(st, NET + 5);

	cr_assert_eq(back.new_devices, 1);
	cr_assert_eq(back.went_up, 0);
	cr_assert_eq(back.went_down, 0);
	cr_assert(back.complete, "sweep not complete");
	cr_assert_eq(back.end_us, T_BASE + 1000000);
	cr_assert_str_eq(back.targets, "test");
	cr_assert_eq(d.state, STORE_STATE_UP);
	cr_assert_eq(d.changes_total, 1);
	cr_assert_eq(d.probes_total, 1);
	cr_assert_eq(d.answers_total, 1);
	cr_assert_eq(d.missed, 0);
	cr_assert_eq(d.first_seen_us, T_BASE + 1000);
	cr_assert_eq(d.last_seen_us, T_BASE + 1000);
	cr_assert_eq(d.last_change_us, T_BASE);
	cr_assert_eq(d.probes, STORE_PROBE_ICMP);
	struct chg_list c = changes(NET + 5);
	cr_assert_eq(c.n, 1);
	cr_assert_eq(c.c[0].state, STORE_STATE_UP);
	cr_assert_eq(c.c[0].time_us, T_BASE);
}

Test(store, one_miss_does_not_flap, .init = setup, .fini = teardown)
{
	uint32_t h[] = { 1, 2 }, only1[] = { 1 };
	sweep_hosts(T_BASE, h, 2);
	struct store_sweep s = t_get_sweep(st, sweep_hosts(T_BASE + T_HOUR, only1, 1).id);
	struct store_device d = t_get(st, NET + 2);

	cr_assert_eq(s.went_down, 0, "one miss took a device down");
	cr_assert_eq(d.state, STORE_STATE_UP);
	cr_assert_eq(d.missed, 1);
	cr_assert_eq(d.probes_total, 2);
	cr_assert_eq(d.answers_total, 1);
	cr_assert_eq(d.changes_total, 1);
	struct obs_list o = observations(NET + 2, 0);
	cr_assert_eq(o.n, 2, "the miss is an observation");
	cr_assert_eq(o.o[0].state, STORE_STATE_DOWN, "newest first, raw state down");
	cr_assert_eq(o.o[0].sweep_id, s.id);
	cr_assert_eq(o.o[1].state, STORE_STATE_UP);
	/* The device that answered is untouched by the miss logic. */
	d = t_get(st, NET + 1);
	cr_assert_eq(d.missed, 0);
	cr_assert_eq(d.probes_total, 2);
}

Test(store, offline_after_misses_goes_down_and_back_up, .init = setup, .fini = teardown)
{
	uint32_t h[] = { 7 };
	sweep_hosts(T_BASE, h, 1);
	sweep_hosts(T_BASE + 1 * T_HOUR, NULL, 0);
	struct store_sweep s3 = t_get_sweep(st, sweep_hosts(T_BASE + 2 * T_HOUR, NULL, 0).id);
	struct store_device d = t_get(st, NET + 7);

	cr_assert_eq(s3.went_down, 1, "second miss: went_down %u", s3.went_down);
	cr_assert_eq(d.state, STORE_STATE_DOWN);
	cr_assert_eq(d.missed, 2);
	cr_assert_eq(d.changes_total, 2);
	cr_assert_eq(d.last_change_us, T_BASE + 2 * T_HOUR);

	/* A third miss: already down, no new change. */
	struct store_sweep s4 = t_get_sweep(st, sweep_hosts(T_BASE + 3 * T_HOUR, NULL, 0).id);
	cr_assert_eq(s4.went_down, 0);
	d = t_get(st, NET + 7);
	cr_assert_eq(d.missed, 3);
	cr_assert_eq(d.changes_total, 2);

	struct store_sweep s5 = t_get_sweep(st, sweep_hosts(T_BASE + 4 * T_HOUR, h, 1).id);
	cr_assert_eq(s5.went_up, 1);
	cr_assert_eq(s5.new_devices, 0);
	d = t_get(st, NET + 7);
	cr_assert_eq(d.state, STORE_STATE_UP);
	cr_assert_eq(d.missed, 0);
	cr_assert_eq(d.changes_total, 3);
	cr_assert_eq(d.probes_total, 5);
	cr_assert_eq(d.answers_total, 2);

	struct chg_list c = changes(NET + 7);
	cr_assert_eq(c.n, 3);
	cr_assert_eq(c.c[0].state, STORE_STATE_UP);
	cr_assert_eq(c.c[1].state, STORE_STATE_DOWN);
	cr_assert_eq(c.c[1].time_us, T_BASE + 2 * T_HOUR);
	cr_assert_eq(c.c[2].state, STORE_STATE_UP);

	struct obs_list o = observations(NET + 7, 2);
	cr_assert_eq(o.n, 2, "limit 2 gave %zu", o.n);
	cr_assert_eq(o.o[0].state, STORE_STATE_UP);
	cr_assert_eq(o.o[1].state, STORE_STATE_DOWN);
}

Test(store, offline_after_is_configurable)
{
	uint32_t h[] = { 9 };

	t_mkdtemp(dir);
	st = t_open(dir, 1);
	sweep_hosts(T_BASE, h, 1);
	struct store_sweep s = t_get_sweep(st, sweep_hosts(T_BASE + T_HOUR, NULL, 0).id);
	cr_assert_eq(s.went_down, 1, "offline_after 1: one miss is down");
	cr_assert_eq(t_get(st, NET + 9).state, STORE_STATE_DOWN);
	store_close(st);

	st = t_open(dir, 3);
	sweep_hosts(T_BASE + 2 * T_HOUR, h, 1);
	sweep_hosts(T_BASE + 3 * T_HOUR, NULL, 0);
	sweep_hosts(T_BASE + 4 * T_HOUR, NULL, 0);
	cr_assert_eq(t_get(st, NET + 9).state, STORE_STATE_UP, "offline_after 3: two misses are not down");
	sweep_hosts(T_BASE + 5 * T_HOUR, NULL, 0);
	cr_assert_eq(t_get(st, NET + 9).state, STORE_STATE_DOWN);
	teardown();
}

/* A deterministic shuffle (xorshift), so a failure reproduces. */
static void shuffle(struct store_result *r, size_t n, uint64_t seed)
{
	for (size_t i = n - 1; i > 0; i--) {
		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		size_t j = (size_t)(seed % (i + 1));
		struct store_result t = r[i];
		r[i] = r[j];
		r[j] = t;
	}
}

Test(store, random_order_duplicates_and_misses, .init = setup, .fini = teardown)
{
	enum { N = 600 };
	const uint32_t base = 0x0a010000; /* 10.1.0.0/22 swept; 10.1.8.0 outside */
	struct store_result *r = calloc(4 * N, sizeof(*r));
	struct store_result known[3];
	size_t n = 0;

	/* Known from an earlier sweep: two inside the range that will not answer, one outside. */
	known[0] = t_up(base + 1000, STORE_PROBE_ICMP, 5, T_BASE);
	known[1] = t_up(base + 1001, STORE_PROBE_ICMP, 5, T_BASE);
	known[2] = t_up(base + 0x800, STORE_PROBE_ICMP, 5, T_BASE);
	t_sweep(st, T_BASE, 1, 0, known, 3);

	for (uint32_t i = 0; i < N; i++) {
		uint32_t ip = base + i;
		r[n++] = t_up(ip, STORE_PROBE_ARP, 900 + i % 7, T_BASE + T_HOUR + 10 + i);
		r[n] = t_up(ip, STORE_PROBE_ICMP, 300 + i % 5, T_BASE + T_HOUR + 20 + i);
		r[n].has_mac = true;
		memcpy(r[n++].mac, "\xb8\x27\xeb\x00\x00\x01", 6);
		r[n] = t_up(ip, STORE_PROBE_SYN, 400, T_BASE + T_HOUR + 30 + i);
		r[n].state = STORE_RESULT_OPEN, r[n++].port = 22;
		if (i % 2) {
			r[n] = t_up(ip, STORE_PROBE_SYN, 400, T_BASE + T_HOUR + 40 + i);
			r[n].state = STORE_RESULT_CLOSED, r[n++].port = 80;
		}
	}
	shuffle(r, n, 42);
	struct store_sweep s = t_get_sweep(st, t_sweep(st, T_BASE + T_HOUR, base, base + 1023, r, n).id);
	cr_assert_eq(s.new_devices, N);
	cr_assert_eq(s.went_down, 0, "one miss is not down");

	for (uint32_t i = 0; i < N; i++) {
		struct store_device d = t_get(st, base + i);
		cr_assert_eq(d.probes, STORE_PROBE_ARP | STORE_PROBE_ICMP | STORE_PROBE_SYN, "probes %#x", d.probes);
		cr_assert_eq(d.probes_total, 1, "%u: %llu observations counted", i, (unsigned long long)d.probes_total);
		cr_assert_eq(d.last_rtt_us, 300 + i % 5, "%u: rtt %u is not the minimum", i, d.last_rtt_us);
		cr_assert_eq(d.n_open, 1);
		cr_assert_eq(d.open_ports[0], 22);
		cr_assert(d.has_mac);
		cr_assert_str_eq(d.vendor, "Raspberry Pi Foundation");
		cr_assert_eq(d.first_seen_us, T_BASE + T_HOUR + 10 + i);
		cr_assert_eq(d.last_seen_us, T_BASE + T_HOUR + (i % 2 ? 40 : 30) + i);
		struct obs_list o = observations(base + i, 0);
		cr_assert_eq(o.n, 1, "%u: %zu observations", i, o.n);
		cr_assert_eq(o.o[0].probes, STORE_PROBE_ARP | STORE_PROBE_ICMP | STORE_PROBE_SYN);
		cr_assert_eq(o.o[0].rtt_us, 300 + i % 5);
		cr_assert_eq(o.o[0].time_us, T_BASE + T_HOUR);
	}
	/* Misses only for the known devices inside the range. */
	for (int i = 0; i < 2; i++) {
		struct store_device d = t_get(st, base + 1000 + (uint32_t)i);
		cr_assert_eq(d.missed, 1);
		cr_assert_eq(d.probes_total, 2);
		cr_assert_eq(observations(base + 1000 + (uint32_t)i, 0).n, 2);
	}
	struct store_device out = t_get(st, base + 0x800);
	cr_assert_eq(out.missed, 0, "a device outside the covered range got a miss");
	cr_assert_eq(out.probes_total, 1);
	cr_assert_eq(store_device_get(st, base + 700, &out), -ENOENT, "a miss created an unknown device");
	free(r);
}

Test(store, results_of_one_device_in_several_batches, .init = setup, .fini = teardown)
{
	/* 2 x 20000 results: the first batch (STORE_BATCH) holds every device once and some
	 * twice; the rest land in a second transaction and must merge, not count again. */
	enum { N = 20000 };
	struct store_result *r = calloc(2 * N, sizeof(*r));

	for (uint32_t i = 0; i < N; i++) {
		r[i] = t_up(NET + i, STORE_PROBE_ICMP, 500, T_BASE + 1);
		r[N + i] = t_up(NET + i, STORE_PROBE_ARP, 200, T_BASE + 2);
	}
	struct store_sweep s = t_get_sweep(st, t_sweep(st, T_BASE, NET, NET + N - 1, r, 2 * N).id);
	cr_assert_eq(s.new_devices, N);
	for (uint32_t i = 0; i < N; i += 997) {
		struct store_device d = t_get(st, NET + i);
		cr_assert_eq(d.probes_total, 1, "%u counted %llu times", i, (unsigned long long)d.probes_total);
		cr_assert_eq(d.probes, STORE_PROBE_ARP | STORE_PROBE_ICMP);
		cr_assert_eq(d.last_rtt_us, 200);
		struct obs_list o = observations(NET + i, 0);
		cr_assert_eq(o.n, 1);
		cr_assert_eq(o.o[0].probes, STORE_PROBE_ARP | STORE_PROBE_ICMP);
		cr_assert_eq(o.o[0].rtt_us, 200);
	}
	struct store_check_report rep;
	char err[256] = "";
	cr_assert_eq(store_check(st, &rep, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rep.observations, N);
	cr_assert_eq(rep.changes, N);
	cr_assert_eq(rep.rollups, N);
	free(r);
}

Test(store, sharded_sweep_records_no_misses, .init = setup, .fini = teardown)
{
	struct store_result a = t_up(NET + 1, STORE_PROBE_ICMP, 1, T_BASE), b = t_up(NET + 2, STORE_PROBE_ICMP, 1, T_BASE);
	struct store_result both[] = { a, b };

	t_sweep(st, T_BASE, 1, 0, both, 2);
	t_sweep(st, T_BASE + T_HOUR, 1, 0, &a, 1); /* no covered ranges */
	struct store_device d = t_get(st, NET + 2);
	cr_assert_eq(d.missed, 0);
	cr_assert_eq(d.probes_total, 1);
}

Test(store, ports_and_mac_changes, .init = setup, .fini = teardown)
{
	struct store_result r[STORE_MAX_OPEN_PORTS + 8];
	size_t n = 0;

	for (uint16_t p = 0; p < STORE_MAX_OPEN_PORTS + 5; p++) {
		r[n] = t_up(NET + 3, STORE_PROBE_SYN, 10, T_BASE);
		r[n].state = STORE_RESULT_OPEN;
		r[n++].port = (uint16_t)(1000 - p); /* descending: the list is kept sorted */
	}
	r[n] = t_up(NET + 3, STORE_PROBE_ARP, 10, T_BASE);
	r[n].has_mac = true;
	memcpy(r[n++].mac, "\x00\x00\x0c\x01\x02\x03", 6);
	t_sweep(st, T_BASE, 1, 0, r, n);
	struct store_device d = t_get(st, NET + 3);
	cr_assert_eq(d.n_open, STORE_MAX_OPEN_PORTS, "n_open %u", d.n_open);
	for (uint16_t i = 1; i < d.n_open; i++)
		cr_assert_lt(d.open_ports[i - 1], d.open_ports[i], "ports not sorted");
	/* A name longer than the field is cut at a character boundary. */
	cr_assert_eq(strlen(d.vendor), STORE_VENDOR_LEN - 1, "vendor '%s'", d.vendor);
	cr_assert_eq(strncmp(d.vendor, "Cisco Systems, Inc with a name", 30), 0, "vendor '%s'", d.vendor);

	/* Closed ports leave the list; a new MAC brings its vendor; an unknown OUI has none. */
	n = 0;
	uint16_t first = d.open_ports[0];
	r[n] = t_up(NET + 3, STORE_PROBE_SYN, 10, T_BASE + T_HOUR);
	r[n].state = STORE_RESULT_CLOSED, r[n++].port = first;
	r[n] = t_up(NET + 3, STORE_PROBE_ARP, 10, T_BASE + T_HOUR);
	r[n].has_mac = true;
	memcpy(r[n++].mac, "\xdc\xa6\x32\x00\x00\x09", 6);
	t_sweep(st, T_BASE + T_HOUR, 1, 0, r, n);
	d = t_get(st, NET + 3);
	cr_assert_eq(d.n_open, STORE_MAX_OPEN_PORTS - 1);
	cr_assert_neq(d.open_ports[0], first);
	cr_assert_str_eq(d.vendor, "Raspberry Pi Trading Ltd");
	cr_assert_eq(memcmp(d.mac, "\xdc\xa6\x32\x00\x00\x09", 6), 0);

	r[0] = t_up(NET + 3, STORE_PROBE_ARP, 10, T_BASE + 2 * T_HOUR);
	r[0].has_mac = true;
	memcpy(r[0].mac, "\x02\x00\x00\x00\x00\x01", 6);
	t_sweep(st, T_BASE + 2 * T_HOUR, 1, 0, r, 1);
	cr_assert_str_eq(t_get(st, NET + 3).vendor, "");
}

/*
 * Roll-ups. Device NET+1 is swept at :30 of hours H..H+5 (H = the hour of T_BASE, start at
 * its beginning), twice in hour H+2, with answers up, up, (down, down), up, down, up:
 *   hour   H    H+1  H+2       H+3  H+4  H+5
 *   obs    up   up   down down up   down up
 * offline_after 2: the two misses in H+2 take it down (change), H+3 brings it up (change),
 * the single miss in H+4 does not.
 */
static uint64_t hour0(void)
{
	return T_BASE / T_HOUR * T_HOUR;
}

static void make_history(void)
{
	uint32_t h[] = { 1 };
	uint64_t h0 = hour0(), half = T_HOUR / 2;

	sweep_hosts(h0 + half, h, 1);
	sweep_hosts(h0 + T_HOUR + half, h, 1);
	sweep_hosts(h0 + 2 * T_HOUR + 60000000, NULL, 0);
	sweep_hosts(h0 + 2 * T_HOUR + half, NULL, 0);
	sweep_hosts(h0 + 3 * T_HOUR + half, h, 1);
	sweep_hosts(h0 + 4 * T_HOUR + half, NULL, 0);
	sweep_hosts(h0 + 5 * T_HOUR + half, h, 1);
}

Test(store, uptime_ranges, .init = setup, .fini = teardown)
{
	uint64_t h0 = hour0();
	struct store_uptime u;
	struct store_device d;

	make_history();
	d = t_get(st, NET + 1);
	cr_assert_eq(d.probes_total, 7);
	cr_assert_eq(d.answers_total, 4);
	cr_assert_eq(d.changes_total, 3, "changes %llu", (unsigned long long)d.changes_total);

	/* Starting before every observation: everything. */
	u = uptime(NET + 1, h0 - 10 * T_HOUR);
	cr_assert_eq(u.probes, 7);
	cr_assert_eq(u.answers, 4);
	cr_assert_eq(u.changes, 3);
	cr_assert_float_eq(u.uptime_pct, 100.0 * 4 / 7, 1e-9);
	u = uptime(NET + 1, 0);
	cr_assert_eq(u.probes, 7);

	/* From the start of H+2: down, down, up, down, up; changes: down (H+2), up (H+3). */
	u = uptime(NET + 1, h0 + 2 * T_HOUR);
	cr_assert_eq(u.probes, 5);
	cr_assert_eq(u.answers, 2);
	cr_assert_eq(u.changes, 2);

	/* Inside H+2, after both of its sweeps: hour granularity still counts the whole hour. */
	u = uptime(NET + 1, h0 + 2 * T_HOUR + T_HOUR - 1);
	cr_assert_eq(u.probes, 5, "hour granularity: %llu", (unsigned long long)u.probes);

	/* On the boundary of H+3 exactly, and one microsecond after it. */
	u = uptime(NET + 1, h0 + 3 * T_HOUR);
	cr_assert_eq(u.probes, 3);
	cr_assert_eq(u.answers, 2);
	cr_assert_eq(u.changes, 1);
	u = uptime(NET + 1, h0 + 3 * T_HOUR + 1);
	cr_assert_eq(u.probes, 3);

	/* The last hour alone. */
	u = uptime(NET + 1, h0 + 5 * T_HOUR + T_HOUR / 2 + 1);
	cr_assert_eq(u.probes, 1);
	cr_assert_eq(u.answers, 1);
	cr_assert_float_eq(u.uptime_pct, 100.0, 1e-9);

	/* After every observation: nothing, 0 %. */
	u = uptime(NET + 1, h0 + 6 * T_HOUR);
	cr_assert_eq(u.probes, 0);
	cr_assert_eq(u.answers, 0);
	cr_assert_eq(u.changes, 0);
	cr_assert_float_eq(u.uptime_pct, 0.0, 1e-9);
	cr_assert_eq(u.state, STORE_STATE_UP);

	/* One roll-up per device per hour with an observation: H+2 had two sweeps. */
	struct store_check_report rep;
	char err[256] = "";
	cr_assert_eq(store_check(st, &rep, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rep.rollups, 6, "rollups %llu", (unsigned long long)rep.rollups);
	cr_assert_eq(rep.observations, 7);
	cr_assert_eq(rep.changes, 3);
	cr_assert_eq(rep.sweeps, 7);
}

Test(store, uptime_of_a_device_seen_late, .init = setup, .fini = teardown)
{
	uint64_t h0 = hour0();
	uint32_t h1[] = { 1 }, h12[] = { 1, 2 };

	sweep_hosts(h0, h1, 1);
	sweep_hosts(h0 + T_HOUR, h1, 1);
	sweep_hosts(h0 + 3 * T_HOUR, h12, 2);
	/* NET+2 first appeared in H+3: a range from H counts only that. */
	struct store_uptime u = uptime(NET + 2, h0);
	cr_assert_eq(u.probes, 1);
	cr_assert_eq(u.answers, 1);
	cr_assert_eq(u.changes, 1);
	/* NET+1 had no observation in H+2: a range from H+2 starts at its H+3 roll-up. */
	u = uptime(NET + 1, h0 + 2 * T_HOUR);
	cr_assert_eq(u.probes, 1);
	cr_assert_eq(u.answers, 1);
	cr_assert_eq(u.changes, 0);
}

Test(store, sweep_ids_and_timing_keys, .init = setup, .fini = teardown)
{
	struct store_result r = t_up(NET + 1, STORE_PROBE_ICMP, 1, 0);
	struct store_sweep a = t_sweep(st, T_BASE, NET, NET + 255, &r, 1);
	/* A sweep that claims to start earlier than the last observation still gets later keys. */
	struct store_sweep b = t_sweep(st, T_BASE - 5, NET, NET + 255, &r, 1);

	cr_assert_eq(b.id, a.id + 1);
	struct obs_list o = observations(NET + 1, 0);
	cr_assert_eq(o.n, 2);
	cr_assert_eq(o.o[1].time_us, T_BASE);
	cr_assert_eq(o.o[0].time_us, T_BASE + 1, "keys of one device must grow: %llu",
		     (unsigned long long)o.o[0].time_us);
	/* time_us 0 in a result means the sweep's start. */
	cr_assert_eq(t_get(st, NET + 1).first_seen_us, T_BASE);
}

Test(store, recorder_open_fills_id_and_start, .init = setup, .fini = teardown)
{
	struct store_sweep info = { 0 };
	struct store_recorder *rec;
	char err[256];
	uint64_t before = store_now_us();

	cr_assert_eq(store_recorder_open(st, &info, NULL, 0, &rec, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(info.id, 1);
	cr_assert_geq(info.start_us, before);
	/* Until it is closed the sweep is on record as incomplete. */
	cr_assert_not(t_get_sweep(st, 1).complete);
	cr_assert_eq(t_get_sweep(st, 1).ended, STORE_END_RUNNING);
	cr_assert_eq(store_recorder_close(rec, NULL, NULL, err, sizeof(err)), 0, "%s", err);
	struct store_sweep s = t_get_sweep(st, 1);
	cr_assert(s.complete);
	cr_assert_geq(s.end_us, info.start_us);
	/* Closed without saying how it ended: never taken for a success. */
	cr_assert_eq(s.ended, STORE_END_INTERRUPTED, "%s", store_sweep_end_name(s.ended));
}

Test(store, recorder_refuses_bad_ranges, .init = setup, .fini = teardown)
{
	struct store_sweep info = { 0 };
	struct store_range bad[] = { { 10, 20 }, { 15, 30 } };
	struct store_recorder *rec = NULL;
	char err[256] = "";

	cr_assert_eq(store_recorder_open(st, &info, bad, 2, &rec, err, sizeof(err)), -EINVAL);
	cr_assert_null(rec);
	cr_assert_neq(strstr(err, "sorted and disjoint"), NULL, "err: %s", err);
}

/*
 * The report over many devices (whole hours of roll-ups merged with the devices) against one
 * device at a time (hour-by-hour lookups), for ranges starting before, inside and after the
 * history: 200 devices, 12 hourly sweeps, each device answering in a pattern of its own, some
 * appearing late, some with long gaps.
 */
struct up_collect {
	struct store_uptime u[256];
	size_t n;
};

static int collect_uptime(void *ctx, const struct store_uptime *u)
{
	struct up_collect *c = ctx;

	cr_assert_lt(c->n, 256);
	c->u[c->n++] = *u;
	return 0;
}

Test(store, uptime_report_matches_per_device, .init = setup, .fini = teardown)
{
	uint64_t h0 = hour0();
	struct store_result r[200];

	for (int s = 0; s < 12; s++) {
		size_t n = 0;
		for (uint32_t i = 0; i < 200; i++) {
			bool up = (i * 7 + (uint32_t)s * 3) % 5 != 0;    /* a mix of ups and downs */
			if (i % 10 == 3 && s < 6)
				up = false;                              /* appears late */
			if (i % 10 == 7 && s >= 2 && s < 10)
				up = false;                              /* a long gap */
			if (up)
				r[n++] = t_up(NET + i, STORE_PROBE_ICMP, 10, 0);
		}
		/* Every other sweep covers only the first half: the rest get no observation. */
		t_sweep(st, h0 + (uint64_t)s * T_HOUR + 600000000, NET, NET + (s % 2 ? 99 : 255), r, n);
	}
	uint64_t sinces[] = { 0, h0 - T_HOUR, h0, h0 + 1, h0 + 3 * T_HOUR + 5, h0 + 7 * T_HOUR, h0 + 11 * T_HOUR,
			      h0 + 12 * T_HOUR };
	for (size_t k = 0; k < sizeof(sinces) / sizeof(sinces[0]); k++) {
		struct up_collect all = { .n = 0 };
		cr_assert_eq(store_report_uptime(st, sinces[k], NET, 0xffffff00u, collect_uptime, &all), 0);
		cr_assert_eq(all.n, 200, "since #%zu: %zu devices", k, all.n);
		for (size_t i = 0; i < all.n; i++) {
			struct store_uptime one = uptime(all.u[i].ip, sinces[k]);
			cr_assert_eq(all.u[i].probes, one.probes, "since #%zu, %08x: probes %llu vs %llu", k, one.ip,
				     (unsigned long long)all.u[i].probes, (unsigned long long)one.probes);
			cr_assert_eq(all.u[i].answers, one.answers, "since #%zu, %08x: answers", k, one.ip);
			cr_assert_eq(all.u[i].changes, one.changes, "since #%zu, %08x: changes", k, one.ip);
		}
		/* From before the history: everything the devices ever counted. */
		if (sinces[k] <= h0) {
			for (size_t i = 0; i < all.n; i++) {
				struct store_device d = t_get(st, all.u[i].ip);
				cr_assert_eq(all.u[i].probes, d.probes_total);
				cr_assert_eq(all.u[i].answers, d.answers_total);
				cr_assert_eq(all.u[i].changes, d.changes_total);
			}
		}
	}
	/* A device with a long gap, counted by hand: observed in sweeps 0, 1 (up), then from 10 on;
	 * device 7 is in the first half, so every sweep covers it. */
	struct store_uptime u = uptime(NET + 7, h0 + 5 * T_HOUR);
	cr_assert_eq(u.probes, 7, "sweeps 5..11: %llu", (unsigned long long)u.probes);
}

/* Misses stay inside the covered ranges, on both sides and between two ranges. */
Test(store, misses_only_inside_the_ranges, .init = setup, .fini = teardown)
{
	const uint32_t below = NET + 5, in1 = NET + 20, between = NET + 40, in2 = NET + 70, above = NET + 200;
	struct store_result known[] = { t_up(below, STORE_PROBE_ICMP, 1, 0), t_up(in1, STORE_PROBE_ICMP, 1, 0),
					t_up(between, STORE_PROBE_ICMP, 1, 0), t_up(in2, STORE_PROBE_ICMP, 1, 0),
					t_up(above, STORE_PROBE_ICMP, 1, 0) };
	struct store_range ranges[] = { { NET + 10, NET + 30 }, { NET + 60, NET + 80 } };
	struct store_sweep info = { .start_us = T_BASE + T_HOUR, .ended = STORE_END_ALL_ANSWERED };
	struct store_recorder *rec;
	char err[256];

	t_sweep(st, T_BASE, 1, 0, known, 5);
	cr_assert_eq(store_recorder_open(st, &info, ranges, 2, &rec, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_recorder_close(rec, &info, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t_get(st, in1).missed, 1);
	cr_assert_eq(t_get(st, in2).missed, 1);
	cr_assert_eq(t_get(st, below).missed, 0, "a device below the first range got a miss");
	cr_assert_eq(t_get(st, between).missed, 0, "a device between the ranges got a miss");
	cr_assert_eq(t_get(st, above).missed, 0, "a device above the last range got a miss");
}

/* store_recorder_finish(): the close's work happens on the writer's thread, exactly as close
 * would do it; close then only waits, and its own final record is ignored. */
Test(store, finish_does_the_close_early, .init = setup, .fini = teardown)
{
	uint32_t h[] = { 1, 2 }, only1[] = { 1 };
	sweep_hosts(T_BASE, h, 2);

	struct store_sweep info = { .start_us = T_BASE + T_HOUR, .probes = STORE_PROBE_ICMP };
	struct store_range range = { NET, NET + 255 };
	struct store_recorder *rec;
	char err[512] = "";
	uint64_t stored = 0;
	snprintf(info.targets, sizeof(info.targets), "finish");
	cr_assert_eq(store_recorder_open(st, &info, &range, 1, &rec, err, sizeof(err)), 0, "%s", err);
	struct store_result r = t_up(NET + only1[0], STORE_PROBE_ICMP, 50, info.start_us + 1000);
	store_recorder_add(rec, &r);
	struct store_sweep fin = info, other = info;
	fin.end_us = info.start_us + 2000000;
	fin.replies = fin.live = fin.sent = 1;
	fin.ended = STORE_END_WAIT; /* probed everything: its silences are misses */
	other.end_us = info.start_us + 9000000;
	other.replies = 77;
	store_recorder_finish(rec, &fin);
	store_recorder_finish(rec, &other); /* a second call changes nothing */
	cr_assert_eq(store_recorder_close(rec, &other, &stored, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(stored, 1);

	struct store_sweep back = t_get_sweep(st, info.id);
	cr_expect_eq(back.end_us, fin.end_us, "the final record given to finish stands");
	cr_expect_eq(back.replies, 1);
	cr_expect(back.complete);
	cr_expect_eq(back.went_down, 0, "one miss does not take NET+2 down");
	struct store_device d = t_get(st, NET + 2);
	cr_expect_eq(d.missed, 1, "the miss was recorded on the writer's thread");
	cr_expect_eq(st->commits_synced, st->commits, "and flushed");
}
