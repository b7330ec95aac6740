/* SPDX-License-Identifier: MIT */
/* test_schema.c: record encodings: exact bytes, round trips, and refusal of damaged records. */
#include "schema_int.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

static struct schema_device sample_device(void)
{
	struct schema_device sd = { .rollup_hour = 472222, .last_sweep = 77, .last_obs_us = 1700000000000001ull };
	struct store_device *d = &sd.d;

	d->ip = 0xc0a80001;
	d->has_mac = true;
	memcpy(d->mac, "\xb8\x27\xeb\x01\x02\x03", 6);
	snprintf(d->vendor, sizeof(d->vendor), "Raspberry Pi Foundation");
	d->state = STORE_STATE_UP;
	d->probes = STORE_PROBE_ARP | STORE_PROBE_SYN;
	d->missed = 3;
	d->first_seen_us = 1600000000000000ull;
	d->last_seen_us = 1700000000000000ull;
	d->last_change_us = 1650000000000000ull;
	d->last_rtt_us = 1234;
	d->probes_total = 1000;
	d->answers_total = 990;
	d->changes_total = 7;
	d->n_open = 3;
	d->open_ports[0] = 22, d->open_ports[1] = 80, d->open_ports[2] = 443;
	return sd;
}

static void assert_device_eq(const struct schema_device *a, const struct schema_device *b)
{
	/* The ip lives in the key, not the value. */
	cr_assert_eq(a->d.has_mac, b->d.has_mac);
	cr_assert_eq(memcmp(a->d.mac, b->d.mac, 6), 0);
	cr_assert_str_eq(a->d.vendor, b->d.vendor);
	cr_assert_eq(a->d.state, b->d.state);
	cr_assert_eq(a->d.probes, b->d.probes);
	cr_assert_eq(a->d.missed, b->d.missed);
	cr_assert_eq(a->d.first_seen_us, b->d.first_seen_us);
	cr_assert_eq(a->d.last_seen_us, b->d.last_seen_us);
	cr_assert_eq(a->d.last_change_us, b->d.last_change_us);
	cr_assert_eq(a->d.last_rtt_us, b->d.last_rtt_us);
	cr_assert_eq(a->d.probes_total, b->d.probes_total);
	cr_assert_eq(a->d.answers_total, b->d.answers_total);
	cr_assert_eq(a->d.changes_total, b->d.changes_total);
	cr_assert_eq(a->d.n_open, b->d.n_open);
	cr_assert_eq(memcmp(a->d.open_ports, b->d.open_ports, a->d.n_open * sizeof(uint16_t)), 0);
	cr_assert_eq(a->rollup_hour, b->rollup_hour);
	cr_assert_eq(a->last_sweep, b->last_sweep);
	cr_assert_eq(a->last_obs_us, b->last_obs_us);
}

Test(store, device_round_trip_v2)
{
	struct schema_device sd = sample_device(), back;
	uint8_t buf[SCHEMA_DEVICE_MAX_LEN];
	size_t len = schema_device_encode(buf, &sd, 2);

	cr_assert_eq(len, SCHEMA_DEVICE_FIXED_LEN + 3 * 2 + 1 + strlen("Raspberry Pi Foundation"), "len %zu", len);
	cr_assert_eq(schema_device_decode(&back, buf, len, 2), 0);
	assert_device_eq(&sd, &back);
}

Test(store, device_layout_is_little_endian)
{
	struct schema_device sd = sample_device();
	uint8_t buf[SCHEMA_DEVICE_MAX_LEN];

	schema_device_encode(buf, &sd, 2);
	cr_assert_eq(buf[0], 1, "flags %u", buf[0]);
	cr_assert_eq(memcmp(buf + 1, "\xb8\x27\xeb\x01\x02\x03", 6), 0);
	cr_assert_eq(buf[7], STORE_STATE_UP);
	cr_assert_eq(buf[9], 3, "missed low byte %u", buf[9]);
	cr_assert_eq(buf[10], 0);
	/* last_rtt 1234 = 0x04d2 at offset 35 */
	cr_assert_eq(buf[35], 0xd2, "rtt byte 0 %#x", buf[35]);
	cr_assert_eq(buf[36], 0x04, "rtt byte 1 %#x", buf[36]);
	/* n_open at 83, first port 22 at 85 */
	cr_assert_eq(buf[83], 3);
	cr_assert_eq(buf[85], 22);
}

Test(store, device_round_trip_v1_has_no_vendor)
{
	struct schema_device sd = sample_device(), back;
	uint8_t buf[SCHEMA_DEVICE_MAX_LEN];
	size_t len = schema_device_encode(buf, &sd, 1);

	cr_assert_eq(len, SCHEMA_DEVICE_FIXED_LEN + 3 * 2, "len %zu", len);
	cr_assert_eq(schema_device_decode(&back, buf, len, 1), 0);
	cr_assert_str_eq(back.d.vendor, "");
	sd.d.vendor[0] = '\0';
	assert_device_eq(&sd, &back);
	/* A v1 record read as v2 lacks its vendor length: damaged, not misread. */
	cr_assert_eq(schema_device_decode(&back, buf, len, 2), -EBADMSG);
}

Test(store, device_rejects_every_short_or_long_record)
{
	struct schema_device sd = sample_device(), back;
	uint8_t buf[SCHEMA_DEVICE_MAX_LEN + 8];
	size_t len = schema_device_encode(buf, &sd, 2);

	for (size_t l = 0; l < len; l++)
		cr_assert_eq(schema_device_decode(&back, buf, l, 2), -EBADMSG, "length %zu of %zu accepted", l, len);
	buf[len] = 0;
	cr_assert_eq(schema_device_decode(&back, buf, len + 1, 2), -EBADMSG, "one byte too many accepted");
}

Test(store, device_rejects_bad_fields)
{
	struct schema_device sd = sample_device(), back;
	uint8_t buf[SCHEMA_DEVICE_MAX_LEN];
	size_t len = schema_device_encode(buf, &sd, 2);

	buf[7] = 9; /* state */
	cr_assert_eq(schema_device_decode(&back, buf, len, 2), -EBADMSG);
	schema_device_encode(buf, &sd, 2);
	buf[83] = 200; /* n_open beyond the maximum */
	cr_assert_eq(schema_device_decode(&back, buf, len, 2), -EBADMSG);
	schema_device_encode(buf, &sd, 2);
	buf[len - 1 - strlen(sd.d.vendor)] = STORE_VENDOR_LEN; /* vendor length too large */
	cr_assert_eq(schema_device_decode(&back, buf, len, 2), -EBADMSG);
}

Test(store, obs_round_trip_and_lengths)
{
	struct schema_obs o = { .sweep_id = 0x0102030405060708ull, .time_us = 0x1112131415161718ull,
				.state = STORE_STATE_UP, .probes = 5, .rtt_us = 99 }, b = { 0 };
	uint8_t buf[SCHEMA_OBS_LEN + 1] = { 0 };

	/* Schema 2: the time in the value (the sweep id is in the key). */
	cr_assert_eq(schema_obs_encode(buf, &o, 2), SCHEMA_OBS_LEN);
	cr_assert_eq(buf[0], 0x18, "time is little-endian");
	cr_assert_eq(schema_obs_decode(&b, buf, SCHEMA_OBS_LEN, 2), 0);
	cr_assert_eq(b.time_us, o.time_us);
	cr_assert_eq(b.sweep_id, 0, "the sweep id is not in a schema 2 value");
	cr_assert_eq(b.state, o.state);
	cr_assert_eq(b.probes, o.probes);
	cr_assert_eq(b.rtt_us, o.rtt_us);
	cr_assert_eq(schema_obs_decode(&b, buf, SCHEMA_OBS_LEN - 1, 2), -EBADMSG);
	cr_assert_eq(schema_obs_decode(&b, buf, SCHEMA_OBS_LEN + 1, 2), -EBADMSG);
	cr_assert_eq(schema_obs_decode(&b, buf, 0, 2), -EBADMSG);
	buf[8] = 2; /* no such state */
	cr_assert_eq(schema_obs_decode(&b, buf, SCHEMA_OBS_LEN, 2), -EBADMSG);

	/* Schema 1: the sweep id in the value. */
	b = (struct schema_obs){ 0 };
	cr_assert_eq(schema_obs_encode(buf, &o, 1), SCHEMA_OBS_LEN);
	cr_assert_eq(buf[0], 0x08, "sweep id is little-endian");
	cr_assert_eq(schema_obs_decode(&b, buf, SCHEMA_OBS_LEN, 1), 0);
	cr_assert_eq(b.sweep_id, o.sweep_id);
	cr_assert_eq(b.time_us, 0);
}

Test(store, totals_change_meta_round_trips)
{
	struct schema_totals t = { 10, 7, 3 }, tb;
	uint8_t buf[SCHEMA_ROLLUP_LEN + 1] = { 0 }, st;
	uint32_t u32;
	uint64_t u64;

	cr_assert_eq(schema_totals_encode(buf, &t), SCHEMA_ROLLUP_LEN);
	cr_assert_eq(schema_totals_decode(&tb, buf, SCHEMA_ROLLUP_LEN), 0);
	cr_assert_eq(tb.probes, 10);
	cr_assert_eq(tb.answers, 7);
	cr_assert_eq(tb.changes, 3);
	cr_assert_eq(schema_totals_decode(&tb, buf, SCHEMA_ROLLUP_LEN - 8), -EBADMSG);
	t.answers = 11; /* more answers than probes cannot be */
	schema_totals_encode(buf, &t);
	cr_assert_eq(schema_totals_decode(&tb, buf, SCHEMA_ROLLUP_LEN), -EBADMSG);

	cr_assert_eq(schema_change_encode(buf, STORE_STATE_DOWN), 1);
	cr_assert_eq(schema_change_decode(&st, buf, 1), 0);
	cr_assert_eq(st, STORE_STATE_DOWN);
	cr_assert_eq(schema_change_decode(&st, buf, 2), -EBADMSG);
	buf[0] = 7;
	cr_assert_eq(schema_change_decode(&st, buf, 1), -EBADMSG);

	cr_assert_eq(schema_u32_encode(buf, 0x11223344), 4);
	cr_assert_eq(buf[0], 0x44);
	cr_assert_eq(schema_u32_decode(&u32, buf, 4), 0);
	cr_assert_eq(u32, 0x11223344);
	cr_assert_eq(schema_u32_decode(&u32, buf, 3), -EBADMSG);
	cr_assert_eq(schema_u64_encode(buf, 42), 8);
	cr_assert_eq(schema_u64_decode(&u64, buf, 8), 0);
	cr_assert_eq(u64, 42);
	cr_assert_eq(schema_u64_decode(&u64, buf, 4), -EBADMSG);
}

Test(store, sweep_round_trip_and_lengths)
{
	struct store_sweep s = {
		.id = 5, .start_us = 1, .end_us = 2, .probes = 7, .rate_pps = 100000, .retries = 2, .addresses = 65536,
		.sent = 131072, .replies = 60000, .live = 59000, .ended = STORE_END_QUIET, .complete = true,
		.new_devices = 3, .went_up = 4, .went_down = 5, .observations = 65000, .pid = 4242,
	}, b;
	uint8_t buf[SCHEMA_SWEEP_MAX_LEN + 1];

	snprintf(s.targets, sizeof(s.targets), "10.0.0.0/16,!10.0.5.0/24");
	snprintf(s.ports, sizeof(s.ports), "22,80,443");
	size_t len = schema_sweep_encode(buf, &s, STORE_SCHEMA_VERSION);
	cr_assert_eq(len, SCHEMA_SWEEP_FIXED_LEN + strlen(s.targets) + strlen(s.ports), "len %zu", len);
	cr_assert_eq(schema_sweep_decode(&b, buf, len, STORE_SCHEMA_VERSION), 0);
	cr_assert_eq(b.id, s.id);
	cr_assert_eq(b.start_us, s.start_us);
	cr_assert_eq(b.end_us, s.end_us);
	cr_assert_eq(b.probes, s.probes);
	cr_assert_eq(b.rate_pps, s.rate_pps);
	cr_assert_eq(b.retries, s.retries);
	cr_assert_eq(b.addresses, s.addresses);
	cr_assert_eq(b.sent, s.sent);
	cr_assert_eq(b.replies, s.replies);
	cr_assert_eq(b.live, s.live);
	cr_assert_eq(b.ended, s.ended);
	cr_assert_eq(b.complete, s.complete);
	cr_assert_eq(b.new_devices, s.new_devices);
	cr_assert_eq(b.went_up, s.went_up);
	cr_assert_eq(b.went_down, s.went_down);
	cr_assert_eq(b.observations, s.observations);
	cr_assert_eq(b.pid, s.pid);
	cr_assert_str_eq(b.targets, s.targets);
	cr_assert_str_eq(b.ports, s.ports);
	for (size_t l = 0; l < len; l++)
		cr_assert_eq(schema_sweep_decode(&b, buf, l, STORE_SCHEMA_VERSION), -EBADMSG, "length %zu accepted", l);

	/* The longest strings fit, truncated to the struct's size. */
	memset(s.targets, 'x', sizeof(s.targets));
	memset(s.ports, 'y', sizeof(s.ports));
	len = schema_sweep_encode(buf, &s, STORE_SCHEMA_VERSION);
	cr_assert_leq(len, SCHEMA_SWEEP_MAX_LEN);
	cr_assert_eq(schema_sweep_decode(&b, buf, len, STORE_SCHEMA_VERSION), 0);
	cr_assert_eq(strlen(b.targets), sizeof(b.targets) - 1);
	cr_assert_eq(strlen(b.ports), sizeof(b.ports) - 1);
}

/* Schema 2's records: 12 bytes shorter, and `ended` numbered 0 all answered, 1 wait elapsed,
 * 2 stopped, 3 failed, with no value for a sweep that never ended: those read interrupted. */
Test(store, sweep_records_of_schema_2_keep_their_meaning)
{
	static const struct {
		uint8_t old;
		bool ended;
		uint8_t now;
	} cases[] = {
		{ 0, true, STORE_END_ALL_ANSWERED }, { 1, true, STORE_END_WAIT }, { 2, true, STORE_END_STOPPED },
		{ 3, true, STORE_END_FAILED }, { 0, false, STORE_END_INTERRUPTED }, { 9, true, STORE_END_INTERRUPTED },
	};
	uint8_t buf[SCHEMA_SWEEP_MAX_LEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct store_sweep s = { .id = 3, .start_us = 10, .end_us = cases[i].ended ? 20 : 0, .live = 7 }, b;
		snprintf(s.targets, sizeof(s.targets), "10.0.0.0/29");
		size_t len = schema_sweep_encode(buf, &s, 2);
		cr_assert_eq(len, SCHEMA_SWEEP_FIXED_LEN_V2 + strlen(s.targets));
		buf[69] = cases[i].old; /* the ended byte, as schema 2 wrote it */
		cr_assert_eq(schema_sweep_decode(&b, buf, len, 2), 0);
		cr_assert_eq(b.ended, cases[i].now, "schema 2 ended %u (%s): %s", cases[i].old,
			     cases[i].ended ? "with an end" : "no end", store_sweep_end_name(b.ended));
		cr_assert_eq(b.live, 7);
		cr_assert_str_eq(b.targets, "10.0.0.0/29");
		/* Not a schema 3 record: 12 bytes short of one. */
		cr_assert_eq(schema_sweep_decode(&b, buf, len, 3), -EBADMSG);
	}
	/* Encoding for schema 2 (tests/data/make_store_v1.c) writes the old numbers. */
	struct store_sweep s = { .id = 1, .end_us = 5, .ended = STORE_END_WAIT }, b;
	schema_sweep_encode(buf, &s, 2);
	cr_assert_eq(buf[69], 1);
	cr_assert_eq(schema_sweep_decode(&b, buf, SCHEMA_SWEEP_FIXED_LEN_V2, 2), 0);
	cr_assert_eq(b.ended, STORE_END_WAIT);
}

/* One name per end, the same everywhere; names parse back; no name for a value this lnmt does
 * not know; RUNNING is the zero value and not a success. */
Test(store, sweep_end_names)
{
	static const char *const want[STORE_END_COUNT] = { "running", "all-answered", "quiet", "wait-elapsed",
							   "stopped", "failed", "interrupted" };
	for (unsigned e = 0; e < STORE_END_COUNT; e++) {
		uint8_t back = 99;
		cr_assert_str_eq(store_sweep_end_name(e), want[e]);
		cr_assert_eq(store_sweep_end_parse(want[e], &back), 0);
		cr_assert_eq(back, e);
	}
	cr_assert_str_eq(store_sweep_end_name(STORE_END_COUNT), "unknown");
	uint8_t x = 42;
	cr_assert_eq(store_sweep_end_parse("unknown", &x), -EINVAL);
	cr_assert_eq(store_sweep_end_parse("interrupted ", &x), -EINVAL);
	cr_assert_eq(x, 42);
	struct store_sweep zero = { 0 };
	cr_assert_eq(zero.ended, STORE_END_RUNNING);
	cr_assert_not(store_sweep_end_probed_all(STORE_END_RUNNING));
	cr_assert(store_sweep_end_probed_all(STORE_END_ALL_ANSWERED));
	cr_assert(store_sweep_end_probed_all(STORE_END_QUIET));
	cr_assert(store_sweep_end_probed_all(STORE_END_WAIT));
	cr_assert_not(store_sweep_end_probed_all(STORE_END_STOPPED));
	cr_assert_not(store_sweep_end_probed_all(STORE_END_FAILED));
	cr_assert_not(store_sweep_end_probed_all(STORE_END_INTERRUPTED));
}

Test(store, keys_sort_numerically)
{
	uint8_t a[12], b[12];

	schema_key_ip_time(a, 0x0a000001, 0xffffffffull);
	schema_key_ip_time(b, 0x0a000001, 0x100000000ull);
	cr_assert_lt(memcmp(a, b, 12), 0, "time order");
	schema_key_ip_time(a, 0x0a0000ff, UINT64_MAX);
	schema_key_ip_time(b, 0x0a000100, 0);
	cr_assert_lt(memcmp(a, b, 12), 0, "address before time");
	cr_assert_eq(schema_get_be64(b + 4), 0);
	cr_assert_eq(schema_get_be32(b), 0x0a000100);

	/* Observations: sweep first, then address. */
	schema_key_sweep_ip(a, 255, 0xffffffffu);
	schema_key_sweep_ip(b, 256, 0);
	cr_assert_lt(memcmp(a, b, 12), 0, "sweep before address");
	cr_assert_eq(schema_get_be64(a), 255);
	cr_assert_eq(schema_get_be32(a + 8), 0xffffffffu);
	/* Roll-ups: hour first, then address. */
	schema_key_hour_ip(a, 0x00ffffff, 0xffffffffu);
	schema_key_hour_ip(b, 0x01000000, 0);
	cr_assert_lt(memcmp(a, b, 8), 0, "hour before address");
}
