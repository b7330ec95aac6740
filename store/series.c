/* SPDX-License-Identifier: MIT */
/* series.c: per-subnet observation counts per hour (subnet_hourly), for uptime charts. */
#include "store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * subnet_hourly is keyed (hour, /24 net), so a range of hours is one forward walk: within an
 * hour the /24s outside net/mask are skipped with one seek, and a coarser prefix sums /24s that
 * are adjacent in key order. Callbacks run inside the read snapshot, as in query.c.
 */

bool store_has_series(const struct store *st)
{
	return st->has_series;
}

/* The length of a CIDR mask; -1 when its bits are not contiguous. */
static int mask_len(uint32_t mask)
{
	int n = __builtin_popcount(mask);

	if (n && mask != ~0u << (32 - n))
		return -1;
	return n;
}

static uint32_t prefix_mask(unsigned prefix)
{
	return prefix ? ~0u << (32 - prefix) : 0;
}

int store_uptime_series(struct store *st, uint64_t since_us, uint32_t net, uint32_t mask, unsigned prefix,
			store_series_cb cb, void *ctx)
{
	struct store_series_point g = { 0 };
	struct store_rd rd;
	MDB_cursor *cur = NULL;
	uint64_t hour64 = since_us / SCHEMA_HOUR_US;
	uint32_t first, last, gmask = prefix_mask(prefix);
	uint8_t key[8];
	MDB_val k, v;
	bool have = false;
	int ml = mask_len(mask), rc;

	if (ml < 0 || ml > 24 || prefix > 24)
		return -EINVAL;
	if (!st->has_series || hour64 > UINT32_MAX)
		return 0;
	store_net_span(net, mask, &first, &last);
	if ((rc = store_rd_begin(st, &rd)))
		return rc;
	if ((rc = mdb_cursor_open(rd.txn, st->db_series, &cur)))
		goto out;
	schema_key_hour_net(key, (uint32_t)hour64, first);
	k = (MDB_val){ sizeof(key), key };
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (!rc) {
		struct schema_counts c;
		if (k.mv_size != 8) {
			rc = MDB_CORRUPTED;
			goto out;
		}
		uint32_t h = schema_get_be32(k.mv_data), n = schema_get_be32((const uint8_t *)k.mv_data + 4);
		if (n < first || n > last) {
			/* Outside the subnet: on to its start in this hour, or in the next one. */
			if (n > last && h == UINT32_MAX) {
				rc = MDB_NOTFOUND;
				break;
			}
			schema_key_hour_net(key, n < first ? h : h + 1, first);
			k = (MDB_val){ sizeof(key), key };
			rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
			continue;
		}
		if (schema_counts_decode(&c, v.mv_data, v.mv_size)) {
			rc = MDB_CORRUPTED;
			goto out;
		}
		if (have && (g.hour != h || g.net != (n & gmask))) {
			int r = cb(ctx, &g);
			if (r) {
				rc = r < 0 ? r : 0;
				have = false;
				goto out;
			}
			have = false;
		}
		if (!have)
			g = (struct store_series_point){ .hour = h, .net = n & gmask, .prefix = (uint8_t)prefix };
		have = true;
		g.probes += c.probes;
		g.answers += c.answers;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc != MDB_NOTFOUND)
		goto out;
	rc = 0;
	if (have) {
		int r = cb(ctx, &g);
		rc = r < 0 ? r : 0;
	}
out:
	mdb_cursor_close(cur);
	store_rd_end(&rd);
	return store_errno(rc);
}

/* The /24s that have counts in the range, one bit each, from the range's first /24. */
struct seen24 {
	uint64_t *bits;
	uint32_t first;
};

static int mark24(void *ctx, const struct store_series_point *p)
{
	struct seen24 *s = ctx;
	uint32_t i = (p->net - s->first) >> 8;

	s->bits[i / 64] |= 1ull << (i % 64);
	return 0;
}

int store_series_prefix(struct store *st, uint64_t since_us, uint32_t net, uint32_t mask, unsigned prefix,
			uint32_t max_groups, unsigned *out, uint32_t *groups)
{
	uint64_t count[25] = { 0 };
	uint32_t last_group[25] = { 0 }, first, last;
	struct seen24 s;
	int ml = mask_len(mask), rc;
	unsigned lo;

	if (ml < 0 || ml > 24 || prefix > 24 || !max_groups)
		return -EINVAL;
	store_net_span(net, mask, &first, &last);
	size_t n24 = ((size_t)(last - first) >> 8) + 1;
	if (!(s.bits = calloc((n24 + 63) / 64, sizeof(*s.bits))))
		return -ENOMEM;
	s.first = first;
	if ((rc = store_uptime_series(st, since_us, net, mask, 24, mark24, &s)))
		goto out;
	/* Distinct networks at each prefix: the /24s come in order, so a network is new when it
	 * differs from the previous /24's. */
	lo = prefix < (unsigned)ml ? prefix : (unsigned)ml;
	for (size_t w = 0; w < (n24 + 63) / 64; w++) {
		for (uint64_t b = s.bits[w]; b; b &= b - 1) {
			uint32_t n = first + (uint32_t)((w * 64 + (size_t)__builtin_ctzll(b)) << 8);
			for (unsigned p = lo; p <= prefix; p++) {
				uint32_t gnet = n & prefix_mask(p);
				if (!count[p] || gnet != last_group[p])
					count[p]++, last_group[p] = gnet;
			}
		}
	}
	/* At the subnet's own length there is one network at most, so some prefix always fits. */
	unsigned p = prefix;
	while (p > lo && count[p] > max_groups)
		p--;
	*out = p;
	if (groups)
		*groups = (uint32_t)count[p];
out:
	free(s.bits);
	return rc;
}
