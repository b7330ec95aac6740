/* SPDX-License-Identifier: MIT */
/* schema_int.h: the store's on-disk records: keys and explicit little-endian value encodings. */
#ifndef LNMT_STORE_SCHEMA_INT_H
#define LNMT_STORE_SCHEMA_INT_H

#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Every record is written and read only through these functions, never by copying a C struct,
 * so the file means the same on every compiler and machine. Keys are big-endian so LMDB's
 * default memcmp order is numeric order (no custom comparator that every process would have to
 * install). Decoders check the length exactly: a short, long or inconsistent record is
 * corruption and they return -EBADMSG without reading past len; encoders write into a buffer of
 * at least the stated size and return the number of bytes used.
 *
 * Databases (schema 3; schema 2 is the same but for the sweep record, below):
 *   meta          "schema_version" -> u32, "created_us" -> u64, "next_sweep_id" -> u64
 *   devices       ip(4)             -> device record (below)
 *   observations  sweep_id(8) ip(4) -> time_us u64, state u8, probes u8, rtt_us u32     (14 bytes)
 *   hourly        hour(4) ip(4)     -> probes u64, answers u64, changes u64: the device's
 *                                      totals before its first observation in that hour (24)
 *   changes       ip(4) time_us(8)  -> state u8                                         (1 byte)
 *   sweeps        id(8)             -> sweep record (below)
 *   subnet_hourly hour(4) net(4)    -> probes u64, answers u64: the observations of the /24
 *                                      net's devices within that hour, not cumulative (16)
 *
 * subnet_hourly came after schema 2 without a version bump: nothing else depends on it, so it
 * is created when a store is opened for writing (empty: earlier history is not counted), and a
 * store without it opened read-only simply has no series (st->has_series). An older lnmt that
 * records into a store holding it leaves its hours short; they only feed charts.
 *
 * Observations and roll-ups are keyed time first: a sweep appends its records at the end of
 * both trees, so a transaction copies a few hundred pages per /16 instead of one page per
 * device (LMDB copies every page it touches, and with the address first every device's newest
 * record sits on a page of its own once its history is longer than a page). A device's
 * history is read through the sweeps it took part in (see query.c).
 *
 * Schema 1 had no "changes" database, no vendor in the device record, and address-first
 * observations ("obs": ip(4) time_us(8) -> sweep_id u64, state, probes, rtt_us) and roll-ups
 * ("rollups": ip(4) hour(4) -> totals); migrate.c converts them.
 */

#define SCHEMA_HOUR_US 3600000000ull

#define SCHEMA_META_VERSION "schema_version"
#define SCHEMA_META_CREATED "created_us"
#define SCHEMA_META_NEXT_SWEEP "next_sweep_id"

#define SCHEMA_OBS_LEN 14
#define SCHEMA_ROLLUP_LEN 24
#define SCHEMA_CHANGE_LEN 1
#define SCHEMA_COUNTS_LEN 16
#define SCHEMA_DEVICE_FIXED_LEN 85
/* Fixed part, every open port and the vendor with its length byte. */
#define SCHEMA_DEVICE_MAX_LEN (SCHEMA_DEVICE_FIXED_LEN + 2 * STORE_MAX_OPEN_PORTS + 1 + STORE_VENDOR_LEN)
#define SCHEMA_SWEEP_FIXED_LEN 98     /* schema 3; 86 in schemas 1 and 2 */
#define SCHEMA_SWEEP_FIXED_LEN_V2 86
#define SCHEMA_SWEEP_MAX_LEN (SCHEMA_SWEEP_FIXED_LEN + 256 + 64)

/* No roll-up written yet (a device record always has one after its first observation). */
#define SCHEMA_NO_HOUR UINT32_MAX

/* A device record: the public view plus what the recorder needs to continue it. */
struct schema_device {
	struct store_device d;
	uint32_t rollup_hour;  /* hour of the device's newest roll-up (SCHEMA_NO_HOUR: none) */
	uint64_t last_sweep;   /* the highest sweep id with an observation of it (the sweep of its
				* newest one, unless sweeps overlapped) */
	uint64_t last_obs_us;  /* time key of its newest observation */
};

struct schema_obs {
	uint64_t sweep_id;     /* in the key (schema 2) or the value (schema 1) */
	uint64_t time_us;      /* in the value (schema 2) or the key (schema 1) */
	uint8_t state, probes;
	uint32_t rtt_us;
};

struct schema_totals {
	uint64_t probes, answers, changes;
};

/* A subnet_hourly value. */
struct schema_counts {
	uint64_t probes, answers;
};

static inline void schema_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static inline void schema_put_be64(uint8_t *p, uint64_t v)
{
	schema_put_be32(p, (uint32_t)(v >> 32));
	schema_put_be32(p + 4, (uint32_t)v);
}

static inline uint32_t schema_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t schema_get_be64(const uint8_t *p)
{
	return (uint64_t)schema_get_be32(p) << 32 | schema_get_be32(p + 4);
}

/* Keys. Arguments in host order; the key buffers are filled big-endian. The (ip, time) and
 * (ip, hour) keys are the changes key and schema 1's observation and roll-up keys. */
static inline void schema_key_ip(uint8_t k[4], uint32_t ip)
{
	schema_put_be32(k, ip);
}

static inline void schema_key_ip_time(uint8_t k[12], uint32_t ip, uint64_t time_us)
{
	schema_put_be32(k, ip);
	schema_put_be64(k + 4, time_us);
}

static inline void schema_key_ip_hour(uint8_t k[8], uint32_t ip, uint32_t hour)
{
	schema_put_be32(k, ip);
	schema_put_be32(k + 4, hour);
}

static inline void schema_key_sweep(uint8_t k[8], uint64_t id)
{
	schema_put_be64(k, id);
}

static inline void schema_key_sweep_ip(uint8_t k[12], uint64_t sweep_id, uint32_t ip)
{
	schema_put_be64(k, sweep_id);
	schema_put_be32(k + 8, ip);
}

static inline void schema_key_hour_ip(uint8_t k[8], uint32_t hour, uint32_t ip)
{
	schema_put_be32(k, hour);
	schema_put_be32(k + 4, ip);
}

/* A subnet_hourly key: net is the /24 network address (low byte 0). */
static inline void schema_key_hour_net(uint8_t k[8], uint32_t hour, uint32_t net)
{
	schema_put_be32(k, hour);
	schema_put_be32(k + 4, net);
}

/* Device records. version is the schema the record belongs to (1 or 2). */
size_t schema_device_encode(uint8_t *buf, const struct schema_device *sd, uint32_t version);
int schema_device_decode(struct schema_device *out, const void *buf, size_t len, uint32_t version);
/* Just last_sweep and last_seen_us, without decoding the rest (the recorder's miss walk reads
 * every device). */
int schema_device_peek(uint64_t *last_sweep, uint64_t *last_seen_us, const void *buf, size_t len);

/* Observation values: schema 2 holds the time (the sweep id is in the key), schema 1 the sweep
 * id (the time is in the key); the other one is left as it was in *out. */
size_t schema_obs_encode(uint8_t buf[SCHEMA_OBS_LEN], const struct schema_obs *o, uint32_t version);
int schema_obs_decode(struct schema_obs *out, const void *buf, size_t len, uint32_t version);

size_t schema_totals_encode(uint8_t buf[SCHEMA_ROLLUP_LEN], const struct schema_totals *t);
int schema_totals_decode(struct schema_totals *out, const void *buf, size_t len);

size_t schema_counts_encode(uint8_t buf[SCHEMA_COUNTS_LEN], const struct schema_counts *c);
int schema_counts_decode(struct schema_counts *out, const void *buf, size_t len);

size_t schema_change_encode(uint8_t buf[SCHEMA_CHANGE_LEN], uint8_t state);
int schema_change_decode(uint8_t *state, const void *buf, size_t len);

/* Sweep records. version 3 has the observation count and pid; before it, `ended` numbered
 * 0 all answered, 1 wait elapsed, 2 stopped (Ctrl-C), 3 failed, and a record without an end
 * was one never finished: decoding maps them to enum store_sweep_end (unfinished ones to
 * INTERRUPTED), encoding maps back (for tests/data/make_store_v1.c). */
size_t schema_sweep_encode(uint8_t *buf, const struct store_sweep *s, uint32_t version);
int schema_sweep_decode(struct store_sweep *out, const void *buf, size_t len, uint32_t version);
/* An `ended` byte of schema 2 (and of job runs of record version 1) as enum store_sweep_end, and
 * back. */
uint8_t schema_end_from_v2(uint8_t old, bool finished);
uint8_t schema_end_to_v2(uint8_t ended);

/* Meta values: u32 and u64 little-endian. */
size_t schema_u32_encode(uint8_t buf[4], uint32_t v);
int schema_u32_decode(uint32_t *out, const void *buf, size_t len);
size_t schema_u64_encode(uint8_t buf[8], uint64_t v);
int schema_u64_decode(uint64_t *out, const void *buf, size_t len);

#endif
