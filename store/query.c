/* SPDX-License-Identifier: MIT */
/* query.c: reading the store: devices, histories, uptime and network reports, sweeps. */
#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Every call reads one snapshot (store_rd_begin), so what it reports is consistent even while a
 * recorder writes. Callbacks run inside that snapshot: they may call the store's read functions
 * again but must not close a recorder. A callback's non-zero return stops the walk; the call
 * then returns 0, or the callback's value when that is negative (an error it wants passed on).
 */

static int cb_result(int v)
{
	return v < 0 ? v : 0;
}

static int decode_device(const struct store *st, const MDB_val *k, const MDB_val *v, struct store_device *out)
{
	struct schema_device sd;

	if (k->mv_size != 4 || schema_device_decode(&sd, v->mv_data, v->mv_size, st->version))
		return -EBADMSG;
	*out = sd.d;
	out->ip = schema_get_be32(k->mv_data);
	return 0;
}

/* The text filter: any case, within the name, the note, the vendor, the MAC (aa:bb:cc:dd:ee:ff)
 * or the dotted address, so that one search box finds a device by whatever one remembers. */
static bool text_matches(const struct store_device *d, const char *text)
{
	if (!text || !*text || store_notes_match(d, text) || strcasestr(d->vendor, text))
		return true;
	char buf[48];
	snprintf(buf, sizeof(buf), "%u.%u.%u.%u", d->ip >> 24, (d->ip >> 16) & 255, (d->ip >> 8) & 255, d->ip & 255);
	if (strstr(buf, text))
		return true;
	if (!d->has_mac)
		return false;
	snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", d->mac[0], d->mac[1], d->mac[2], d->mac[3],
		 d->mac[4], d->mac[5]);
	return strcasestr(buf, text) != NULL;
}

static bool device_matches(const struct store_device *d, const struct store_filter *f)
{
	if (f->state >= 0 && d->state != f->state)
		return false;
	if (f->mask && (d->ip & f->mask) != (f->net & f->mask))
		return false;
	if (f->seen_since_us && d->last_seen_us < f->seen_since_us)
		return false;
	if (f->vendor && *f->vendor && !strcasestr(d->vendor, f->vendor))
		return false;
	return text_matches(d, f->text);
}

int store_devices_list(struct store *st, const struct store_filter *f, store_device_cb cb, void *ctx,
		       uint32_t *next, bool *more)
{
	static const struct store_filter all = { .state = -1 };
	struct store_rd rd;
	MDB_cursor *cur = NULL;
	uint32_t first, last, cursor_ip;
	uint64_t delivered = 0;
	bool stopped = false, found_more = false;
	uint8_t key[4];
	MDB_val k = { sizeof(key), key }, v;
	int rc;

	if (!f)
		f = &all;
	store_net_span(f->net, f->mask, &first, &last);
	cursor_ip = f->has_after ? f->after : 0;
	if (f->has_after) {
		if (f->after == UINT32_MAX || f->after >= last)
			goto empty;
		if (f->after + 1 > first)
			first = f->after + 1;
	}
	if ((rc = store_rd_begin(st, &rd)))
		return rc;
	if ((rc = mdb_cursor_open(rd.txn, st->db_dev, &cur)))
		goto out;
	schema_key_ip(key, first);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct store_device d;
		if ((rc = decode_device(st, &k, &v, &d)))
			goto out;
		if (d.ip > last)
			break;
		if ((rc = store_notes_fill(st, rd.txn, &d)))
			goto out;
		if (!device_matches(&d, f))
			continue;
		if (stopped || (f->limit && delivered == f->limit)) {
			/* One more match past the page: there is a next page. */
			found_more = true;
			break;
		}
		delivered++;
		cursor_ip = d.ip;
		int c = cb(ctx, &d);
		if (c) {
			stopped = true;
			rc = cb_result(c);
			if (rc)
				goto out;
		}
	}
	if (rc && rc != MDB_NOTFOUND)
		goto out;
	rc = 0;
out:
	mdb_cursor_close(cur);
	store_rd_end(&rd);
	rc = store_errno(rc);
	if (rc)
		return rc;
	if (next)
		*next = cursor_ip;
	if (more)
		*more = found_more;
	return 0;
empty:
	if (next)
		*next = cursor_ip;
	if (more)
		*more = false;
	return 0;
}

int store_device_get(struct store *st, uint32_t ip, struct store_device *out)
{
	struct store_rd rd;
	uint8_t key[4];
	MDB_val k = { sizeof(key), key }, v;
	struct store_device d;
	int rc;

	schema_key_ip(key, ip);
	if ((rc = store_rd_begin(st, &rd)))
		return rc;
	rc = mdb_get(rd.txn, st->db_dev, &k, &v);
	if (!rc)
		rc = decode_device(st, &k, &v, &d);
	if (!rc)
		rc = store_notes_fill(st, rd.txn, &d);
	store_rd_end(&rd);
	if (rc)
		return store_errno(rc);
	*out = d;
	return 0;
}

/*
 * Walks the (ip, time) records of one address newest first: positions after the last key of
 * the address (the first key of ip + 1, or the end), then steps back. fn returns the callback's
 * value, or MDB_CORRUPTED for a record it cannot decode.
 */
typedef int (*hist_fn)(void *ctx, uint64_t time_us, const MDB_val *v);

static int walk_history(struct store *st, MDB_dbi dbi, uint32_t ip, uint32_t limit, hist_fn fn, void *ctx)
{
	struct store_rd rd;
	MDB_cursor *cur = NULL;
	uint8_t key[12];
	MDB_val k = { sizeof(key), key }, v;
	uint32_t n = 0;
	int rc;

	if ((rc = store_rd_begin(st, &rd)))
		return rc;
	if ((rc = mdb_cursor_open(rd.txn, dbi, &cur)))
		goto out;
	if (ip == UINT32_MAX) {
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	} else {
		schema_key_ip_time(key, ip + 1, 0);
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		rc = rc == MDB_NOTFOUND ? mdb_cursor_get(cur, &k, &v, MDB_LAST) : rc ? rc
		     : mdb_cursor_get(cur, &k, &v, MDB_PREV);
	}
	for (; !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
		if (k.mv_size != 12) {
			rc = MDB_CORRUPTED;
			goto out;
		}
		if (schema_get_be32(k.mv_data) != ip)
			break;
		if (limit && n == limit)
			break;
		n++;
		int c = fn(ctx, schema_get_be64((const uint8_t *)k.mv_data + 4), &v);
		if (c) {
			rc = c == MDB_CORRUPTED ? c : cb_result(c);
			goto out;
		}
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
out:
	mdb_cursor_close(cur);
	store_rd_end(&rd);
	return store_errno(rc);
}

/*
 * Observations are keyed (sweep id, ip): a device's history is one lookup per sweep, walked
 * from the highest sweep that observed the device (last_sweep) back, and it ends once the
 * device's probes_total observations (its count of observations) are found, or at limit. So
 * "newest first" is by sweep: of two sweeps that overlapped, the later started comes first.
 */
int store_device_observations(struct store *st, uint32_t ip, uint32_t limit, store_observation_cb cb, void *ctx)
{
	struct store_rd rd;
	MDB_cursor *sw = NULL;
	struct schema_device sd;
	uint8_t key[12], skey[8];
	MDB_val k = { 4, key }, v, sk = { sizeof(skey), skey }, sv;
	uint64_t left;
	uint32_t n = 0;
	int rc;

	if ((rc = store_rd_begin(st, &rd)))
		return rc;
	schema_key_ip(key, ip);
	rc = mdb_get(rd.txn, st->db_dev, &k, &v);
	if (rc == MDB_NOTFOUND) {
		rc = 0;
		goto out;
	}
	if (rc)
		goto out;
	if (schema_device_decode(&sd, v.mv_data, v.mv_size, st->version)) {
		rc = MDB_CORRUPTED;
		goto out;
	}
	left = sd.d.probes_total;
	if ((rc = mdb_cursor_open(rd.txn, st->db_sweep, &sw)))
		goto out;
	schema_key_sweep(skey, sd.last_sweep);
	rc = mdb_cursor_get(sw, &sk, &sv, MDB_SET_KEY);
	for (; !rc && left && !(limit && n == limit); rc = mdb_cursor_get(sw, &sk, &sv, MDB_PREV)) {
		struct schema_obs o;
		MDB_val ok = { sizeof(key), key }, ov;
		if (sk.mv_size != 8) {
			rc = MDB_CORRUPTED;
			goto out;
		}
		o.sweep_id = schema_get_be64(sk.mv_data);
		schema_key_sweep_ip(key, o.sweep_id, ip);
		int g = mdb_get(rd.txn, st->db_obs, &ok, &ov);
		if (g == MDB_NOTFOUND)
			continue;
		if (g) {
			rc = g;
			goto out;
		}
		if (schema_obs_decode(&o, ov.mv_data, ov.mv_size, st->version)) {
			rc = MDB_CORRUPTED;
			goto out;
		}
		left--;
		n++;
		struct store_observation so = { o.time_us, o.sweep_id, o.state, o.probes, o.rtt_us };
		int c = cb(ctx, &so);
		if (c) {
			rc = cb_result(c);
			goto out;
		}
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
out:
	mdb_cursor_close(sw);
	store_rd_end(&rd);
	return store_errno(rc);
}

struct chg_walk {
	store_change_cb cb;
	void *ctx;
};

static int chg_step(void *ctx, uint64_t t, const MDB_val *v)
{
	struct chg_walk *w = ctx;
	struct store_change c = { .time_us = t };

	if (schema_change_decode(&c.state, v->mv_data, v->mv_size))
		return MDB_CORRUPTED;
	return w->cb(w->ctx, &c);
}

int store_device_changes(struct store *st, uint32_t ip, uint32_t limit, store_change_cb cb, void *ctx)
{
	struct chg_walk w = { cb, ctx };

	if (!st->has_changes)
		return 0; /* a schema 1 store opened read-only has no change history */
	return walk_history(st, st->db_chg, ip, limit, chg_step, &w);
}

/*
 * Uptime since T. The roll-up of a device's first observed hour at or after T's hour holds its
 * totals before the range, so the range's totals are the current ones minus those; a device
 * with no observation since then (its newest roll-up is older) has an empty range. The range
 * starts at the beginning of the hour that contains since_us.
 *
 * Roll-ups are keyed (hour, ip), so the first roll-up at or after an hour is found for many
 * devices at once: for each window of up to UPTIME_WINDOW devices (address order), walk the
 * roll-ups of T's hour, then of the next hour that has any, merging with the devices by
 * address, until every device has its base. When only a few devices are left (seen late in the
 * range), seek those one by one through the hours that have roll-ups instead of walking whole
 * hours. In the usual case (devices swept every hour) that is one pass over the devices and one
 * over one hour's roll-ups; a single device costs a seek or two.
 */
#define UPTIME_WINDOW 65536

struct up_dev {
	uint32_t ip;
	uint8_t state;
	bool need, based;       /* has observations in the range; base found */
	uint32_t last_hour;     /* its newest roll-up */
	struct schema_totals now, base;
};

/* Finds the bases of w[0..n) from hour `hour` on; *left counts those still needed. */
static int uptime_bases(MDB_cursor *roll, struct up_dev *w, size_t n, uint32_t hour, size_t left)
{
	uint32_t first = w[0].ip, last = w[n - 1].ip;
	uint8_t key[8];
	MDB_val k = { sizeof(key), key }, v;
	int rc;

	/* Whole hours while many are missing. */
	while (left > n / 32 + 1) {
		size_t j = 0;
		schema_key_hour_ip(key, hour, first);
		k = (MDB_val){ sizeof(key), key };
		rc = mdb_cursor_get(roll, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND)
			return 0;
		if (rc)
			return rc;
		if (k.mv_size != 8)
			return MDB_CORRUPTED;
		uint32_t h = schema_get_be32(k.mv_data);
		if (h != hour) {
			/* No roll-up of ours in that hour: jump to the next hour that has any. */
			hour = h;
			if (schema_get_be32((const uint8_t *)k.mv_data + 4) != first)
				continue;
		}
		for (; !rc; rc = mdb_cursor_get(roll, &k, &v, MDB_NEXT)) {
			if (k.mv_size != 8)
				return MDB_CORRUPTED;
			uint32_t ip = schema_get_be32((const uint8_t *)k.mv_data + 4);
			if (schema_get_be32(k.mv_data) != hour || ip > last)
				break;
			while (j < n && w[j].ip < ip)
				j++;
			if (j == n)
				break;
			if (w[j].ip != ip || !w[j].need || w[j].based)
				continue;
			if (schema_totals_decode(&w[j].base, v.mv_data, v.mv_size))
				return MDB_CORRUPTED;
			w[j].based = true;
			left--;
		}
		if (rc && rc != MDB_NOTFOUND)
			return rc;
		if (hour == UINT32_MAX)
			return 0;
		hour++;
	}
	/* The few left, one by one: seek (h, ip); what the seek lands on says which hour to try
	 * next, so hours without any roll-up are skipped and each seek passes at least one hour
	 * that has some. */
	for (size_t j = 0; j < n && left; j++) {
		uint32_t ip = w[j].ip;
		if (!w[j].need || w[j].based)
			continue;
		for (uint64_t h = hour; h <= w[j].last_hour;) {
			schema_key_hour_ip(key, (uint32_t)h, ip);
			k = (MDB_val){ sizeof(key), key };
			rc = mdb_cursor_get(roll, &k, &v, MDB_SET_RANGE);
			if (rc == MDB_NOTFOUND)
				break;
			if (rc)
				return rc;
			if (k.mv_size != 8)
				return MDB_CORRUPTED;
			uint32_t kh = schema_get_be32(k.mv_data), kip = schema_get_be32((const uint8_t *)k.mv_data + 4);
			if (kh == h && kip == ip) {
				if (schema_totals_decode(&w[j].base, v.mv_data, v.mv_size))
					return MDB_CORRUPTED;
				w[j].based = true;
				left--;
				break;
			}
			h = kh == h ? h + 1 : kh;
		}
	}
	return 0;
}

static int uptime_emit(struct up_dev *w, size_t n, store_uptime_cb cb, void *ctx, bool *stop)
{
	for (size_t j = 0; j < n; j++) {
		const struct up_dev *d = &w[j];
		/* Without a base (a damaged store) the range counts as empty. */
		struct schema_totals base = d->based ? d->base : d->now;
		if (base.probes > d->now.probes || base.answers > d->now.answers || base.changes > d->now.changes)
			return MDB_CORRUPTED;
		struct store_uptime u = {
			.ip = d->ip,
			.state = d->state,
			.probes = d->now.probes - base.probes,
			.answers = d->now.answers - base.answers,
			.changes = d->now.changes - base.changes,
		};
		u.uptime_pct = u.probes ? 100.0 * (double)u.answers / (double)u.probes : 0.0;
		int c = cb(ctx, &u);
		if (c) {
			*stop = true;
			return cb_result(c);
		}
	}
	return 0;
}

int store_report_uptime(struct store *st, uint64_t since_us, uint32_t net, uint32_t mask, store_uptime_cb cb,
			void *ctx)
{
	struct store_rd rd;
	MDB_cursor *dev = NULL, *roll = NULL;
	struct up_dev *w;
	uint32_t first, last;
	uint64_t hour64 = since_us / SCHEMA_HOUR_US;
	uint32_t hour = hour64 > UINT32_MAX ? UINT32_MAX : (uint32_t)hour64;
	uint8_t key[4];
	MDB_val k = { sizeof(key), key }, v;
	size_t n = 0, left = 0;
	bool stop = false;
	int rc;

	if (!(w = malloc(UPTIME_WINDOW * sizeof(*w))))
		return -ENOMEM;
	store_net_span(net, mask, &first, &last);
	if ((rc = store_rd_begin(st, &rd))) {
		free(w);
		return rc;
	}
	if ((rc = mdb_cursor_open(rd.txn, st->db_dev, &dev)) || (rc = mdb_cursor_open(rd.txn, st->db_roll, &roll)))
		goto out;
	schema_key_ip(key, first);
	for (rc = mdb_cursor_get(dev, &k, &v, MDB_SET_RANGE); !rc; rc = mdb_cursor_get(dev, &k, &v, MDB_NEXT)) {
		struct schema_device sd;
		if (k.mv_size != 4 || schema_device_decode(&sd, v.mv_data, v.mv_size, st->version)) {
			rc = MDB_CORRUPTED;
			goto out;
		}
		uint32_t ip = schema_get_be32(k.mv_data);
		if (ip > last)
			break;
		struct up_dev *d = &w[n++];
		*d = (struct up_dev){
			.ip = ip, .state = sd.d.state, .last_hour = sd.rollup_hour,
			.need = sd.rollup_hour != SCHEMA_NO_HOUR && sd.rollup_hour >= hour,
			.now = { sd.d.probes_total, sd.d.answers_total, sd.d.changes_total },
		};
		left += d->need;
		if (n == UPTIME_WINDOW) {
			if ((rc = uptime_bases(roll, w, n, hour, left)) ||
			    (rc = uptime_emit(w, n, cb, ctx, &stop)) || stop)
				goto out;
			n = left = 0;
		}
	}
	if (rc && rc != MDB_NOTFOUND)
		goto out;
	rc = 0;
	if (n && !(rc = uptime_bases(roll, w, n, hour, left)))
		rc = uptime_emit(w, n, cb, ctx, &stop);
out:
	mdb_cursor_close(roll);
	mdb_cursor_close(dev);
	store_rd_end(&rd);
	free(w);
	return store_errno(rc);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static uint32_t percentile(const uint32_t *v, size_t n, unsigned pct)
{
	if (!n)
		return 0;
	size_t rank = (n * pct + 99) / 100;
	return v[rank ? rank - 1 : 0];
}

/* Devices per vendor: open addressing on the vendor text, at most half full. */
struct vendor_slot {
	char vendor[STORE_VENDOR_LEN];
	uint32_t up, down;
	bool used;
};

struct vendor_tab {
	struct vendor_slot *v;
	size_t cap, n;
};

static size_t vendor_slot(const struct vendor_tab *t, const char *vendor)
{
	uint32_t h = 2166136261u;

	for (const char *p = vendor; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1))
		if (!t->v[i].used || !strcmp(t->v[i].vendor, vendor))
			return i;
}

static int vendor_count(struct vendor_tab *t, const struct store_device *d)
{
	size_t i;

	if (2 * (t->n + 1) > t->cap) {
		struct vendor_tab b = { .cap = t->cap ? 2 * t->cap : 64, .n = t->n };
		if (!(b.v = calloc(b.cap, sizeof(*b.v))))
			return -ENOMEM;
		for (size_t j = 0; j < t->cap; j++)
			if (t->v[j].used)
				b.v[vendor_slot(&b, t->v[j].vendor)] = t->v[j];
		free(t->v);
		*t = b;
	}
	i = vendor_slot(t, d->vendor);
	if (!t->v[i].used) {
		memcpy(t->v[i].vendor, d->vendor, STORE_VENDOR_LEN);
		t->v[i].vendor[STORE_VENDOR_LEN - 1] = '\0';
		t->v[i].used = true;
		t->n++;
	}
	if (d->state == STORE_STATE_UP)
		t->v[i].up++;
	else
		t->v[i].down++;
	return 0;
}

static int cmp_vendor(const void *a, const void *b)
{
	const struct vendor_slot *x = a, *y = b;
	uint64_t nx = (uint64_t)x->up + x->down, ny = (uint64_t)y->up + y->down;

	if (nx != ny)
		return nx > ny ? -1 : 1;
	return strcmp(x->vendor, y->vendor);
}

/* Sorts the table (compacting it) and hands each vendor to cb until it returns non-zero. */
static void vendor_emit(struct vendor_tab *t, store_vendor_cb cb, void *ctx)
{
	size_t n = 0;

	for (size_t i = 0; i < t->cap; i++)
		if (t->v[i].used)
			t->v[n++] = t->v[i];
	if (n) /* an empty table has no array: qsort must not see NULL, even for 0 elements */
		qsort(t->v, n, sizeof(*t->v), cmp_vendor);
	for (size_t i = 0; i < n; i++) {
		struct store_vendor_count vc = { t->v[i].vendor, t->v[i].up, t->v[i].down };
		if (cb(ctx, &vc))
			break;
	}
}

int store_report_network(struct store *st, uint64_t since_us, uint32_t net, uint32_t mask,
			 struct store_network_report *out, store_subnet_cb cb, void *ctx)
{
	return store_report_network_ex(st, since_us, net, mask, out, cb, NULL, ctx);
}

int store_report_vendors(struct store *st, uint32_t net, uint32_t mask, store_vendor_cb cb, void *ctx)
{
	struct store_network_report r;

	/* since = the end of time: no sweep to walk. */
	return store_report_network_ex(st, UINT64_MAX, net, mask, &r, NULL, cb, ctx);
}

int store_report_network_ex(struct store *st, uint64_t since_us, uint32_t net, uint32_t mask,
			    struct store_network_report *out, store_subnet_cb cb, store_vendor_cb vcb, void *ctx)
{
	struct vendor_tab vt = { 0 };
	struct store_network_report r = { 0 };
	struct store_subnet_summary sub = { 0 };
	struct store_rd rd;
	MDB_cursor *cur = NULL;
	uint32_t first, last, *rtts = NULL;
	size_t n_rtt = 0, cap_rtt = 0;
	bool have_sub = false, cb_on = cb != NULL;
	double pps_sum = 0;
	uint64_t pps_n = 0;
	uint8_t key[8];
	MDB_val k = { 4, key }, v;
	int rc;

	store_net_span(net, mask, &first, &last);
	if ((rc = store_rd_begin(st, &rd)))
		return rc;
	if ((rc = mdb_cursor_open(rd.txn, st->db_dev, &cur)))
		goto out;
	schema_key_ip(key, first);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct store_device d;
		if ((rc = decode_device(st, &k, &v, &d)))
			goto out;
		if (d.ip > last)
			break;
		r.devices++;
		if (d.first_seen_us >= since_us)
			r.new_since++;
		if (d.state == STORE_STATE_UP) {
			r.up++;
			if (n_rtt == cap_rtt) {
				size_t nc = cap_rtt ? 2 * cap_rtt : 4096;
				uint32_t *p = realloc(rtts, nc * sizeof(*p));
				if (!p) {
					rc = -ENOMEM;
					goto out;
				}
				rtts = p, cap_rtt = nc;
			}
			rtts[n_rtt++] = d.last_rtt_us;
		} else {
			r.down++;
		}
		if (vcb && (rc = vendor_count(&vt, &d)))
			goto out;
		if (cb_on) {
			uint32_t n24 = d.ip & 0xffffff00u;
			if (have_sub && sub.net != n24) {
				/* A callback's non-zero return stops the summaries, not the report. */
				if (cb(ctx, &sub))
					cb_on = false;
				have_sub = false;
			}
			if (!have_sub)
				sub = (struct store_subnet_summary){ .net = n24 };
			have_sub = true;
			if (d.state == STORE_STATE_UP)
				sub.up++;
			else
				sub.down++;
		}
	}
	if (rc && rc != MDB_NOTFOUND)
		goto out;
	if (cb_on && have_sub)
		cb(ctx, &sub);
	if (vcb)
		vendor_emit(&vt, vcb, ctx);

	/* Sweeps newest first, back to the first one that started before since_us (ids grow with
	 * time). */
	mdb_cursor_close(cur);
	cur = NULL;
	if ((rc = mdb_cursor_open(rd.txn, st->db_sweep, &cur)))
		goto out;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_LAST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
		struct store_sweep s;
		if (schema_sweep_decode(&s, v.mv_data, v.mv_size, STORE_SCHEMA_VERSION)) {
			rc = MDB_CORRUPTED;
			goto out;
		}
		if (s.start_us < since_us)
			break;
		r.sweeps_since++;
		if (s.end_us > s.start_us && s.sent) {
			pps_sum += (double)s.sent * 1e6 / (double)(s.end_us - s.start_us);
			pps_n++;
		}
	}
	if (rc && rc != MDB_NOTFOUND)
		goto out;
	rc = 0;
	r.mean_send_pps = pps_n ? pps_sum / (double)pps_n : 0.0;
	qsort(rtts, n_rtt, sizeof(*rtts), cmp_u32);
	r.rtt_p50_us = percentile(rtts, n_rtt, 50);
	r.rtt_p90_us = percentile(rtts, n_rtt, 90);
	r.rtt_p99_us = percentile(rtts, n_rtt, 99);
out:
	mdb_cursor_close(cur);
	store_rd_end(&rd);
	free(vt.v);
	free(rtts);
	rc = store_errno(rc);
	if (!rc)
		*out = r;
	return rc;
}

int store_sweeps_list(struct store *st, uint32_t limit, store_sweep_cb cb, void *ctx)
{
	struct store_writer_view w = { 0 };
	struct store_rd rd;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	uint32_t n = 0;
	int rc;

	if ((rc = store_rd_begin(st, &rd)))
		return rc;
	if ((rc = mdb_cursor_open(rd.txn, st->db_sweep, &cur)))
		goto out;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_LAST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
		struct store_sweep s;
		if (limit && n == limit)
			break;
		if (schema_sweep_decode(&s, v.mv_data, v.mv_size, STORE_SCHEMA_VERSION)) {
			rc = MDB_CORRUPTED;
			goto out;
		}
		/* One left running by a process that is gone reads interrupted (store.h). */
		if ((rc = store_sweep_settle(st, &w, &s)))
			goto out;
		n++;
		int c = cb(ctx, &s);
		if (c) {
			rc = cb_result(c);
			goto out;
		}
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
out:
	mdb_cursor_close(cur);
	store_rd_end(&rd);
	return store_errno(rc);
}
