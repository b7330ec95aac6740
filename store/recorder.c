/* SPDX-License-Identifier: MIT */
/* recorder.c: records a sweep: a queue the receiver fills, one writer thread, batched commits. */
#include "store_int.h"

#include "clock.h"
#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * The receiver appends results to a list of fixed-size chunks under a mutex (a copy, never a
 * wait on the disk; a new chunk is a malloc once every CHUNK results, or a recycled one). The
 * writer waits until STORE_BATCH results are queued, or FLUSH_NS after the oldest queued one
 * arrived, or the close; then it takes the whole list, cuts it into batches of at most
 * STORE_BATCH results, sorts each by address and stores each in one write transaction.
 *
 * Waiting for a full batch matters more than it seems: results arrive in random address order,
 * and a transaction copies every page it touches. A writer that committed whatever had arrived
 * (a few hundred results scattered over the whole range) would copy nearly one page per result,
 * again and again; a full sorted batch touches each page once. FLUSH_NS bounds how stale the
 * store may be during a slow sweep.
 *
 * Which devices this sweep observed is its own observations, keyed (sweep id, ip): no other
 * recorder writes under this sweep's id, so two sweeps running at once (lnmtd runs several)
 * cannot hide one's answers from the other. A device's last_sweep (the highest id that has an
 * observation of it) is only a shortcut: when it names this sweep, this sweep has an
 * observation of it; when it does not (never, or a newer sweep beside this one observed it
 * too), the observation is looked up, unless its key would sort
 * above every observation, where it cannot be (the common case of a first batch: this sweep's
 * keys are appended). A later batch with more results for a device merges them into the
 * observation it already has, and the miss walk at close passes over every device this sweep
 * observed, or that any sweep saw up since this one started (see store.h). So a transaction
 * that must be retried (map full) has nothing in memory to undo, and memory stays flat however
 * large the sweep.
 *
 * Every transaction also rewrites the sweep's record with what is committed so far (results,
 * observations, devices up, new, up and down changes, the last count of probes sent), in the
 * same transaction, so after kill -9 the record says exactly what the store holds of it.
 *
 * The per-subnet hourly counts (subnet_hourly) are summed in memory per (hour, /24) while a
 * transaction records its observations, then written with one read-modify-write per key just
 * before it commits: a /16 batch touches 256 keys instead of 65,536. The sums are cleared at
 * the start of every attempt, so a retried transaction counts nothing twice.
 */

#define CHUNK 4096
#define SPARE_CHUNKS 8
#define FLUSH_NS 200000000ull
#define SERIES_CELLS 1024          /* initial (hour, /24) cells: a /16 batch uses 256 */
#define SERIES_EMPTY UINT64_MAX    /* no key: a /24 key's low byte is always 0 */

/* Observation counts of one (hour, /24): key = hour << 32 | net. */
struct series_cell {
	uint64_t key;
	uint64_t probes, answers;
};

/* Open addressing, cap a power of two, at most half full. last is where the previous count
 * went: results come sorted by address, so nearly every count hits it. */
struct series_acc {
	struct series_cell *v;
	size_t cap, n, last;
};

struct chunk {
	struct chunk *next;
	uint32_t n;
	struct store_result r[CHUNK];
};

struct counts {
	uint32_t new_devices, went_up, went_down;
	uint64_t known_answered;        /* devices that existed before the sweep and answered */
	uint64_t obs, up;               /* observations added (not merged), of them up */
};

struct store_recorder {
	struct store *st;
	struct store_sweep info;        /* as opened; id assigned */
	struct store_range *covered;
	size_t n_covered;

	pthread_t thread;
	pthread_mutex_t lock;           /* guards the queue, spare, dropped, sent_now, sync_*, closing,
					 * waiting, and failed once the writer has passed a sync */
	pthread_cond_t cond;
	struct chunk *head, *tail, *spare;
	size_t n_spare;
	size_t queued;                  /* results in head..tail */
	uint64_t first_ns;              /* CLOCK_MONOTONIC arrival of the oldest queued result */
	uint64_t dropped;               /* results lost because a chunk could not be allocated */
	uint64_t sent_now;              /* store_recorder_progress() */
	uint64_t sync_want, sync_done;  /* store_recorder_sync(): asked, and passes done */
	pthread_cond_t synced;          /* sync_done moved */
	bool closing, waiting;
	bool finishing;                 /* store_recorder_finish(): the writer also does the close's work */
	struct store_sweep final;       /* ... with this final record */
	int finish_rc;                  /* ... and leaves its result here (writer's until joined) */
	char finish_err[512];

	/* Owned by the writer thread until it is joined. */
	struct store_result *batch, *tmp;
	uint64_t stored, lost;
	uint64_t sent;                  /* sent_now as the writer last took it */
	int failed;
	struct counts counts;           /* committed */
	uint64_t known_before;          /* devices in the store when the sweep started */
	struct series_acc series;       /* the writer's, then the miss walk's (after the join) */
};

/* ---- per-subnet hourly counts ---- */

static void series_clear(struct series_acc *a)
{
	for (size_t i = 0; i < a->cap; i++)
		a->v[i].key = SERIES_EMPTY;
	a->n = 0;
	a->last = 0;
}

static int series_init(struct series_acc *a)
{
	if (!(a->v = malloc(SERIES_CELLS * sizeof(*a->v))))
		return -ENOMEM;
	a->cap = SERIES_CELLS;
	series_clear(a);
	return 0;
}

static size_t series_slot(const struct series_acc *a, uint64_t key)
{
	size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & (a->cap - 1);

	while (a->v[i].key != SERIES_EMPTY && a->v[i].key != key)
		i = (i + 1) & (a->cap - 1);
	return i;
}

static int series_grow(struct series_acc *a)
{
	struct series_acc b = { .cap = 2 * a->cap };

	if (!(b.v = malloc(b.cap * sizeof(*b.v))))
		return -ENOMEM;
	series_clear(&b);
	for (size_t i = 0; i < a->cap; i++)
		if (a->v[i].key != SERIES_EMPTY)
			b.v[series_slot(&b, a->v[i].key)] = a->v[i];
	b.n = a->n;
	free(a->v);
	*a = b;
	return 0;
}

/* Counts one observation of ip in hour. */
static int series_add(struct series_acc *a, uint32_t hour, uint32_t ip, bool up)
{
	uint64_t key = (uint64_t)hour << 32 | (ip & 0xffffff00u);
	size_t i = a->last;
	int rc;

	if (a->v[i].key != key) {
		i = series_slot(a, key);
		if (a->v[i].key == SERIES_EMPTY) {
			if (2 * (a->n + 1) > a->cap) {
				if ((rc = series_grow(a)))
					return rc;
				i = series_slot(a, key);
			}
			a->v[i] = (struct series_cell){ .key = key };
			a->n++;
		}
		a->last = i;
	}
	a->v[i].probes++;
	a->v[i].answers += up;
	return 0;
}

static int cmp_cell(const void *x, const void *y)
{
	uint64_t a = ((const struct series_cell *)x)->key, b = ((const struct series_cell *)y)->key;

	return a < b ? -1 : a > b;
}

/* ---- one batch ---- */

/*
 * A write cursor that appends when it can: a key above every key of its database goes in with
 * MDB_APPEND, which skips the search and fills pages completely instead of splitting them in
 * half (a first sweep, new addresses above the known ones). The database's last key is read
 * once per transaction and then tracked, so no append is ever attempted out of order.
 */
struct wcur {
	MDB_cursor *c;
	uint8_t last[12];
	size_t last_len;        /* 0: the database is empty */
};

static int wcur_open(struct wcur *w, MDB_txn *txn, MDB_dbi dbi)
{
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, dbi, &w->c);

	w->last_len = 0;
	if (rc)
		return rc;
	rc = mdb_cursor_get(w->c, &k, &v, MDB_LAST);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	if (k.mv_size > sizeof(w->last))
		return MDB_CORRUPTED;
	memcpy(w->last, k.mv_data, k.mv_size);
	w->last_len = k.mv_size;
	return 0;
}

/* Puts key/val (flags 0 or MDB_CURRENT). */
static int wcur_put(struct wcur *w, MDB_val *k, MDB_val *v, unsigned flags)
{
	if (!flags && k->mv_size <= sizeof(w->last) && k->mv_size == (w->last_len ? w->last_len : k->mv_size) &&
	    (!w->last_len || memcmp(k->mv_data, w->last, k->mv_size) > 0)) {
		memcpy(w->last, k->mv_data, k->mv_size);
		w->last_len = k->mv_size;
		return mdb_cursor_put(w->c, k, v, MDB_APPEND);
	}
	return mdb_cursor_put(w->c, k, v, flags);
}

struct batch_ctx {
	struct store_recorder *rec;
	const struct store_result *r;
	size_t n;
	struct counts counts;           /* output, reset at each attempt */
	struct wcur dev, obs, roll, chg;
	struct series_acc *series;      /* NULL: the store keeps no series */
};

static int open_cursors(struct batch_ctx *c, MDB_txn *txn)
{
	struct store *st = c->rec->st;
	int rc;

	c->dev.c = c->obs.c = c->roll.c = c->chg.c = NULL;
	c->series = st->has_series ? &c->rec->series : NULL;
	if (c->series)
		series_clear(c->series);
	if ((rc = wcur_open(&c->dev, txn, st->db_dev)) || (rc = wcur_open(&c->obs, txn, st->db_obs)) ||
	    (rc = wcur_open(&c->roll, txn, st->db_roll)) || (rc = wcur_open(&c->chg, txn, st->db_chg)))
		return rc;
	return 0;
}

/*
 * Adds the transaction's sums to subnet_hourly, in key order: a key above the database's last
 * one (a new hour) is appended without a lookup, an existing one is read, summed and rewritten
 * in place. Leaves the sums compacted (unusable until the next series_clear).
 */
static int series_write(struct batch_ctx *c, MDB_txn *txn)
{
	struct series_acc *a = c->series;
	struct wcur w = { 0 };
	size_t n = 0;
	int rc;

	if (!a || !a->n)
		return 0;
	for (size_t i = 0; i < a->cap; i++)
		if (a->v[i].key != SERIES_EMPTY)
			a->v[n++] = a->v[i];
	qsort(a->v, n, sizeof(*a->v), cmp_cell);
	if ((rc = wcur_open(&w, txn, c->rec->st->db_series)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct schema_counts sum = { a->v[i].probes, a->v[i].answers };
		uint8_t key[8], buf[SCHEMA_COUNTS_LEN];
		MDB_val k = { sizeof(key), key }, v;
		unsigned flags = 0;
		schema_key_hour_net(key, (uint32_t)(a->v[i].key >> 32), (uint32_t)a->v[i].key);
		if (w.last_len == sizeof(key) && memcmp(key, w.last, sizeof(key)) <= 0) {
			rc = mdb_cursor_get(w.c, &k, &v, MDB_SET_KEY);
			if (!rc) {
				struct schema_counts old;
				if (schema_counts_decode(&old, v.mv_data, v.mv_size)) {
					rc = MDB_CORRUPTED;
					goto out;
				}
				sum.probes += old.probes;
				sum.answers += old.answers;
				flags = MDB_CURRENT;
			} else if (rc != MDB_NOTFOUND) {
				goto out;
			}
			k = (MDB_val){ sizeof(key), key };
		}
		v = (MDB_val){ schema_counts_encode(buf, &sum), buf };
		if ((rc = wcur_put(&w, &k, &v, flags)))
			goto out;
	}
out:
	mdb_cursor_close(w.c);
	a->n = 0;
	return rc;
}

static void close_cursors(struct batch_ctx *c)
{
	mdb_cursor_close(c->chg.c);
	mdb_cursor_close(c->roll.c);
	mdb_cursor_close(c->obs.c);
	mdb_cursor_close(c->dev.c);
}

static int put_obs(struct batch_ctx *c, uint32_t ip, const struct schema_obs *o)
{
	uint8_t key[12], buf[SCHEMA_OBS_LEN];
	MDB_val k = { sizeof(key), key }, v = { schema_obs_encode(buf, o, STORE_SCHEMA_VERSION), buf };

	schema_key_sweep_ip(key, o->sweep_id, ip);
	return wcur_put(&c->obs, &k, &v, 0);
}

static int put_change(struct batch_ctx *c, struct schema_device *sd, uint64_t t, uint8_t state)
{
	uint8_t key[12], buf[SCHEMA_CHANGE_LEN];
	MDB_val k = { sizeof(key), key }, v = { schema_change_encode(buf, state), buf };

	schema_key_ip_time(key, sd->d.ip, t);
	sd->d.state = state;
	sd->d.last_change_us = t;
	sd->d.changes_total++;
	return wcur_put(&c->chg, &k, &v, 0);
}

/*
 * Starts a new observation of sd at time t: writes the roll-up when t opens a new hour for the
 * device (the totals before this observation), then counts the observation.
 */
static int begin_observation(struct batch_ctx *c, struct schema_device *sd, uint64_t t, bool up)
{
	uint32_t hour = (uint32_t)(t / SCHEMA_HOUR_US);
	int rc;

	if (hour != sd->rollup_hour) {
		struct schema_totals tot = { sd->d.probes_total, sd->d.answers_total, sd->d.changes_total };
		uint8_t key[8], buf[SCHEMA_ROLLUP_LEN];
		MDB_val k = { sizeof(key), key }, v = { schema_totals_encode(buf, &tot), buf };
		schema_key_hour_ip(key, hour, sd->d.ip);
		if ((rc = wcur_put(&c->roll, &k, &v, 0)))
			return rc;
		sd->rollup_hour = hour;
	}
	if (c->series && (rc = series_add(c->series, hour, sd->d.ip, up)))
		return rc;
	sd->d.probes_total++;
	if (up)
		sd->d.answers_total++;
	/* The highest id with an observation, not the latest writer's: history walks start there
	 * (query.c), and a sweep beside this one may have a higher id and have written first. */
	if (c->rec->info.id > sd->last_sweep)
		sd->last_sweep = c->rec->info.id;
	sd->last_obs_us = t;
	return 0;
}

/* The time of a device's next observation: the sweep's start, but always after the device's
 * previous observation, so a device's hours never go backwards and its changes keys never
 * collide, even when sweeps overlap or claim to start in the past. */
static uint64_t next_obs_time(const struct store_recorder *rec, const struct schema_device *sd, bool is_new)
{
	uint64_t t = rec->info.start_us;

	if (!is_new && sd->last_obs_us >= t)
		t = sd->last_obs_us + 1;
	return t;
}

static void port_open(struct store_device *d, uint16_t port)
{
	uint16_t i = 0;

	while (i < d->n_open && d->open_ports[i] < port)
		i++;
	if ((i < d->n_open && d->open_ports[i] == port) || d->n_open >= STORE_MAX_OPEN_PORTS)
		return;
	memmove(&d->open_ports[i + 1], &d->open_ports[i], (size_t)(d->n_open - i) * sizeof(d->open_ports[0]));
	d->open_ports[i] = port;
	d->n_open++;
}

static void port_closed(struct store_device *d, uint16_t port)
{
	for (uint16_t i = 0; i < d->n_open; i++) {
		if (d->open_ports[i] == port) {
			memmove(&d->open_ports[i], &d->open_ports[i + 1],
				(size_t)(d->n_open - i - 1) * sizeof(d->open_ports[0]));
			d->n_open--;
			return;
		}
	}
}

static int put_device(struct wcur *cur, const struct schema_device *sd, unsigned flags)
{
	uint8_t key[4], buf[SCHEMA_DEVICE_MAX_LEN];
	MDB_val k = { sizeof(key), key }, v = { schema_device_encode(buf, sd, STORE_SCHEMA_VERSION), buf };

	schema_key_ip(key, sd->d.ip);
	return wcur_put(cur, &k, &v, flags);
}

/*
 * Whether this sweep has an observation of ip already: *found, and the observation in *o (may
 * be NULL). 0 or an LMDB code. last_sweep is the device's: naming this sweep, it vouches for
 * the observation; otherwise it proves nothing (another recorder may have written the device
 * since), and the observation is looked up, unless its key is above every key of the
 * observations, where it cannot be.
 */
static int find_obs(struct batch_ctx *c, uint32_t ip, uint64_t last_sweep, bool *found, struct schema_obs *o)
{
	uint64_t id = c->rec->info.id;
	uint8_t okey[12];
	MDB_val ok = { sizeof(okey), okey }, ov;
	struct schema_obs tmp = { .sweep_id = id };
	int rc;

	*found = false;
	schema_key_sweep_ip(okey, id, ip);
	if (last_sweep != id && (!c->obs.last_len || memcmp(okey, c->obs.last, sizeof(okey)) > 0))
		return 0;
	rc = mdb_cursor_get(c->obs.c, &ok, &ov, MDB_SET_KEY);
	if (rc == MDB_NOTFOUND)
		return last_sweep == id ? MDB_CORRUPTED : 0;
	if (rc)
		return rc;
	if (schema_obs_decode(&tmp, ov.mv_data, ov.mv_size, STORE_SCHEMA_VERSION))
		return MDB_CORRUPTED;
	if (o)
		*o = tmp;
	*found = true;
	return 0;
}

/* Stores the results r[0..n) of one address: one observation per sweep, merged if the device
 * already has one from an earlier batch of this sweep. */
static int record_device(struct batch_ctx *c, const struct store_result *r, size_t n)
{
	struct store_recorder *rec = c->rec;
	struct store *st = rec->st;
	struct schema_device sd;
	uint8_t key[4], probes = 0;
	uint32_t rtt = UINT32_MAX;
	uint64_t tmin = UINT64_MAX, tmax = 0;
	MDB_val k = { sizeof(key), key }, v;
	bool is_new;
	int rc;

	schema_key_ip(key, r[0].ip);
	/* Above the last known address it cannot exist: no need to look. */
	if (c->dev.last_len == sizeof(key) && memcmp(key, c->dev.last, sizeof(key)) > 0)
		rc = MDB_NOTFOUND;
	else
		rc = mdb_cursor_get(c->dev.c, &k, &v, MDB_SET_KEY);
	is_new = rc == MDB_NOTFOUND;
	if (rc && !is_new)
		return rc;
	if (is_new) {
		memset(&sd, 0, sizeof(sd));
		sd.d.ip = r[0].ip;
		sd.rollup_hour = SCHEMA_NO_HOUR;
	} else if (schema_device_decode(&sd, v.mv_data, v.mv_size, STORE_SCHEMA_VERSION)) {
		return MDB_CORRUPTED;
	}
	sd.d.ip = r[0].ip;

	for (size_t i = 0; i < n; i++) {
		uint64_t t = r[i].time_us ? r[i].time_us : rec->info.start_us;
		probes |= r[i].probe;
		if (r[i].rtt_us < rtt)
			rtt = r[i].rtt_us;
		if (t < tmin)
			tmin = t;
		if (t > tmax)
			tmax = t;
	}

	struct schema_obs o = { .sweep_id = rec->info.id };
	bool observed = false;
	if (!is_new && (rc = find_obs(c, sd.d.ip, sd.last_sweep, &observed, &o)))
		return rc;
	if (observed) {
		/* More results for an observation an earlier batch wrote: fold them in. */
		o.probes |= probes;
		if (rtt < o.rtt_us)
			o.rtt_us = rtt;
		rtt = o.rtt_us;
		if ((rc = put_obs(c, sd.d.ip, &o)))
			return rc;
	} else {
		uint64_t t = next_obs_time(rec, &sd, is_new);
		o = (struct schema_obs){ rec->info.id, t, STORE_STATE_UP, probes, rtt };
		if ((rc = begin_observation(c, &sd, t, true)))
			return rc;
		c->counts.obs++;
		c->counts.up++;
		sd.d.missed = 0;
		if (!is_new)
			c->counts.known_answered++;
		if (is_new) {
			sd.d.first_seen_us = tmin;
			c->counts.new_devices++;
			rc = put_change(c, &sd, t, STORE_STATE_UP);
		} else if (sd.d.state != STORE_STATE_UP) {
			c->counts.went_up++;
			rc = put_change(c, &sd, t, STORE_STATE_UP);
		}
		if (rc || (rc = put_obs(c, sd.d.ip, &o)))
			return rc;
	}

	sd.d.probes |= probes;
	sd.d.last_rtt_us = rtt;
	if (tmax > sd.d.last_seen_us)
		sd.d.last_seen_us = tmax;
	for (size_t i = 0; i < n; i++) {
		if (r[i].probe == STORE_PROBE_SYN && r[i].state == STORE_RESULT_OPEN)
			port_open(&sd.d, r[i].port);
		else if (r[i].probe == STORE_PROBE_SYN && r[i].state == STORE_RESULT_CLOSED)
			port_closed(&sd.d, r[i].port);
		if (r[i].has_mac && (!sd.d.has_mac || memcmp(sd.d.mac, r[i].mac, 6))) {
			sd.d.has_mac = true;
			memcpy(sd.d.mac, r[i].mac, 6);
			store_vendor_of(st, sd.d.mac, sd.d.vendor);
		}
	}
	return put_device(&c->dev, &sd, 0);
}

static int put_sweep(struct store *st, MDB_txn *txn, const struct store_sweep *s)
{
	uint8_t key[8], buf[SCHEMA_SWEEP_MAX_LEN];
	MDB_val k = { sizeof(key), key }, v = { schema_sweep_encode(buf, s, STORE_SCHEMA_VERSION), buf };

	schema_key_sweep(key, s->id);
	return mdb_put(txn, st->db_sweep, &k, &v, 0);
}

/* The sweep's record as it stands once txn commits: still running, with the recorder's
 * committed totals plus this transaction's (c->n results, c->counts). */
static int put_progress(struct batch_ctx *c, MDB_txn *txn)
{
	const struct store_recorder *rec = c->rec;
	struct store_sweep s = rec->info;

	s.end_us = 0;
	s.ended = STORE_END_RUNNING;
	s.complete = false;
	s.replies = rec->stored + c->n;
	/* The last count reported lags the replies; every stored result answered a probe sent. */
	s.sent = rec->sent > s.replies ? rec->sent : s.replies;
	s.live = rec->counts.up + c->counts.up;
	s.observations = rec->counts.obs + c->counts.obs;
	s.new_devices = rec->counts.new_devices + c->counts.new_devices;
	s.went_up = rec->counts.went_up + c->counts.went_up;
	s.went_down = rec->counts.went_down + c->counts.went_down;
	return put_sweep(rec->st, txn, &s);
}

static int batch_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct batch_ctx *c = arg;
	int rc;

	(void)st;
	c->counts = (struct counts){ 0 };
	if ((rc = open_cursors(c, txn)))
		goto out;
	for (size_t i = 0, j; i < c->n; i = j) {
		for (j = i + 1; j < c->n && c->r[j].ip == c->r[i].ip; j++)
			;
		if ((rc = record_device(c, c->r + i, j - i)))
			break;
	}
	if (!rc)
		rc = series_write(c, txn);
	if (!rc)
		rc = put_progress(c, txn);
out:
	close_cursors(c);
	return rc;
}

/* ---- the writer ---- */

/* Stable LSD radix sort by address, skipping bytes that are the same everywhere (the top two
 * of a /16); keeps arrival order within an address. */
static void sort_by_ip(struct store_result *a, struct store_result *tmp, size_t n)
{
	size_t cnt[4][256] = { { 0 } };
	struct store_result *src = a, *dst = tmp, *sw;

	for (size_t i = 0; i < n; i++)
		for (int b = 0; b < 4; b++)
			cnt[b][(a[i].ip >> (8 * b)) & 0xff]++;
	for (int b = 0; b < 4; b++) {
		size_t sum = 0;
		if (cnt[b][(a[0].ip >> (8 * b)) & 0xff] == n)
			continue;
		for (int x = 0; x < 256; x++) {
			size_t c = cnt[b][x];
			cnt[b][x] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[cnt[b][(src[i].ip >> (8 * b)) & 0xff]++] = src[i];
		sw = src, src = dst, dst = sw;
	}
	if (src != a)
		memcpy(a, src, n * sizeof(*a));
}

static void add_counts(struct counts *to, const struct counts *c)
{
	to->known_answered += c->known_answered;
	to->new_devices += c->new_devices;
	to->went_up += c->went_up;
	to->went_down += c->went_down;
	to->obs += c->obs;
	to->up += c->up;
}

/* Stores r[0..n) (sorted); a transaction with too many dirty pages is split in two. */
static int store_batch(struct store_recorder *rec, const struct store_result *r, size_t n)
{
	struct batch_ctx c = { .rec = rec, .r = r, .n = n };
	int rc = store_wr_run(rec->st, batch_fn, &c);

	if (rc == -E2BIG && n > 1) {
		size_t half = n / 2;
		if ((rc = store_batch(rec, r, half)))
			return rc;
		return store_batch(rec, r + half, n - half);
	}
	if (!rc) {
		rec->stored += n;
		add_counts(&rec->counts, &c.counts);
	}
	return rc;
}

static void flush_batch(struct store_recorder *rec, size_t n)
{
	if (!n)
		return;
	if (rec->failed) {
		rec->lost += n;
		return;
	}
	sort_by_ip(rec->batch, rec->tmp, n);
	uint64_t before = rec->stored;
	int rc = store_batch(rec, rec->batch, n);
	if (rc) {
		rec->failed = rc;
		rec->lost += n - (rec->stored - before);
	}
}

static int finish_work(struct store_recorder *rec, const struct store_sweep *final, char *err, size_t errlen);

static void *writer_main(void *arg)
{
	struct store_recorder *rec = arg;
	struct chunk *list, *c, *next;
	size_t n = 0;

	pthread_mutex_lock(&rec->lock);
	for (;;) {
		while (!rec->closing && rec->queued < STORE_BATCH && rec->sync_want == rec->sync_done) {
			rec->waiting = true;
			if (!rec->queued) {
				pthread_cond_wait(&rec->cond, &rec->lock);
			} else {
				uint64_t deadline = rec->first_ns + FLUSH_NS;
				if (clock_now_ns() >= deadline)
					break;
				struct timespec ts = { (time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u) };
				pthread_cond_timedwait(&rec->cond, &rec->lock, &ts);
			}
			rec->waiting = false;
		}
		rec->waiting = false;
		/* Everything queued now is stored (or lost) when this pass ends. */
		uint64_t gen = rec->sync_want;
		if (!rec->head) {
			rec->sync_done = gen;
			pthread_cond_broadcast(&rec->synced);
			if (rec->closing)
				break;
			continue;
		}
		list = rec->head;
		rec->head = rec->tail = NULL;
		rec->queued = 0;
		rec->sent = rec->sent_now;
		pthread_mutex_unlock(&rec->lock);

		for (c = list; c; c = c->next) {
			for (uint32_t i = 0; i < c->n;) {
				uint32_t take = c->n - i;
				if (take > STORE_BATCH - n)
					take = (uint32_t)(STORE_BATCH - n);
				memcpy(rec->batch + n, c->r + i, take * sizeof(*c->r));
				n += take;
				i += take;
				if (n == STORE_BATCH) {
					flush_batch(rec, n);
					n = 0;
				}
			}
		}
		/* What is left of the list: store it rather than wait for more. */
		flush_batch(rec, n);
		n = 0;

		pthread_mutex_lock(&rec->lock);
		for (c = list; c; c = next) {
			next = c->next;
			if (rec->n_spare < SPARE_CHUNKS) {
				c->next = rec->spare;
				rec->spare = c;
				rec->n_spare++;
			} else {
				free(c);
			}
		}
		rec->sync_done = gen;
		pthread_cond_broadcast(&rec->synced);
	}
	bool finishing = rec->finishing;
	pthread_mutex_unlock(&rec->lock);
	if (finishing)
		rec->finish_rc = finish_work(rec, &rec->final, rec->finish_err, sizeof(rec->finish_err));
	return NULL;
}

void store_recorder_add(struct store_recorder *rec, const struct store_result *r)
{
	struct chunk *c;

	if (!rec)
		return;
	pthread_mutex_lock(&rec->lock);
	c = rec->tail;
	if (!c || c->n == CHUNK) {
		if ((c = rec->spare)) {
			rec->spare = c->next;
			rec->n_spare--;
		} else if (!(c = malloc(sizeof(*c)))) {
			rec->dropped++;
			pthread_mutex_unlock(&rec->lock);
			return;
		}
		c->next = NULL;
		c->n = 0;
		if (rec->tail)
			rec->tail->next = c;
		else
			rec->head = c;
		rec->tail = c;
	}
	c->r[c->n++] = *r;
	/* Wake the writer to start its flush timer (first result) or to store a full batch. */
	if (!rec->queued++) {
		rec->first_ns = clock_now_ns();
		if (rec->waiting)
			pthread_cond_signal(&rec->cond);
	} else if (rec->queued == STORE_BATCH && rec->waiting) {
		pthread_cond_signal(&rec->cond);
	}
	pthread_mutex_unlock(&rec->lock);
}

int store_recorder_sync(struct store_recorder *rec)
{
	int rc;

	pthread_mutex_lock(&rec->lock);
	uint64_t gen = ++rec->sync_want;
	pthread_cond_signal(&rec->cond);
	while (rec->sync_done < gen)
		pthread_cond_wait(&rec->synced, &rec->lock);
	/* The writer's: it set it before it took the lock to say it had passed. */
	rc = rec->failed;
	pthread_mutex_unlock(&rec->lock);
	return rc;
}

void store_recorder_progress(struct store_recorder *rec, uint64_t sent)
{
	if (!rec)
		return;
	pthread_mutex_lock(&rec->lock);
	rec->sent_now = sent;
	pthread_mutex_unlock(&rec->lock);
}

/* ---- opening and closing ---- */

struct sweep_put {
	struct store_sweep *s;
	bool assign;     /* take the next id from meta */
	uint64_t devices; /* output when assign: devices known when the sweep started */
};

static int sweep_put_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct sweep_put *a = arg;
	uint8_t nbuf[8];
	MDB_val nk = { strlen(SCHEMA_META_NEXT_SWEEP), SCHEMA_META_NEXT_SWEEP }, nv;
	int rc;

	if (a->assign) {
		MDB_stat ms;
		uint64_t id;
		if ((rc = mdb_stat(txn, st->db_dev, &ms)))
			return rc;
		a->devices = ms.ms_entries;
		if ((rc = mdb_get(txn, st->db_meta, &nk, &nv)))
			return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
		if (schema_u64_decode(&id, nv.mv_data, nv.mv_size) || !id)
			return MDB_CORRUPTED;
		a->s->id = id;
		nv = (MDB_val){ schema_u64_encode(nbuf, id + 1), nbuf };
		if ((rc = mdb_put(txn, st->db_meta, &nk, &nv, 0)))
			return rc;
	}
	return put_sweep(st, txn, a->s);
}

/* The recorder's own allocations (open's failure path and close free the same ones). */
static void free_buffers(struct store_recorder *rec)
{
	free(rec->series.v);
	free(rec->tmp);
	free(rec->batch);
	free(rec->covered);
}

int store_recorder_open(struct store *st, struct store_sweep *info, const struct store_range *covered,
			size_t n_covered, struct store_recorder **out, char *err, size_t errlen)
{
	struct store_recorder *rec;
	struct store_sweep s = *info;
	int rc;

	if (st->read_only) {
		store_err(err, errlen, st->path, "opened read-only: cannot record a sweep");
		return -EROFS;
	}
	for (size_t i = 0; i < n_covered; i++) {
		if (covered[i].first > covered[i].last || (i && covered[i].first <= covered[i - 1].last)) {
			store_err(err, errlen, st->path, "covered ranges must be sorted and disjoint (range %zu)", i);
			return -EINVAL;
		}
	}
	if (!(rec = calloc(1, sizeof(*rec))) ||
	    (n_covered && !(rec->covered = malloc(n_covered * sizeof(*covered)))) ||
	    !(rec->batch = malloc(STORE_BATCH * sizeof(*rec->batch))) ||
	    !(rec->tmp = malloc(STORE_BATCH * sizeof(*rec->tmp))) || series_init(&rec->series)) {
		rc = -ENOMEM;
		store_err(err, errlen, st->path, "out of memory");
		goto fail_free;
	}
	rec->st = st;
	rec->n_covered = n_covered;
	if (n_covered)
		memcpy(rec->covered, covered, n_covered * sizeof(*covered));
	if (!s.start_us)
		s.start_us = store_now_us();
	s.end_us = 0;
	s.ended = STORE_END_RUNNING;
	s.complete = false;
	s.sent = s.replies = s.live = s.observations = 0;
	s.new_devices = s.went_up = s.went_down = 0;
	s.pid = (uint32_t)getpid();
	struct sweep_put sp = { &s, true };
	if ((rc = store_wr_run(st, sweep_put_fn, &sp))) {
		store_err(err, errlen, st->path, "cannot store the sweep record: %s", lnmt_strerror(rc));
		goto fail_free;
	}
	rec->info = s;
	rec->known_before = sp.devices;
	pthread_condattr_t ca;
	pthread_mutex_init(&rec->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rec->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&rec->synced, NULL);
	if ((rc = -pthread_create(&rec->thread, NULL, writer_main, rec))) {
		store_err(err, errlen, st->path, "cannot start the writer thread: %s", lnmt_strerror(rc));
		goto fail_sync;
	}
	pthread_setname_np(rec->thread, "lnmt-store");
	info->id = s.id;
	info->start_us = s.start_us;
	*out = rec;
	return 0;

fail_sync:
	pthread_cond_destroy(&rec->synced);
	pthread_cond_destroy(&rec->cond);
	pthread_mutex_destroy(&rec->lock);
fail_free:
	if (rec)
		free_buffers(rec);
	free(rec);
	return rc;
}

/* ---- misses ---- */

struct miss_ctx {
	struct batch_ctx b;
	size_t range;          /* where this transaction starts */
	uint64_t from;         /* first address to look at in that range (64-bit: may pass the end) */
	size_t next_range;     /* outputs: where the next one starts, or done */
	uint64_t next_from;
	bool done;
};

/* Records a miss: a down observation, and down after offline_after misses in a row. */
static int record_miss(struct batch_ctx *c, struct schema_device *sd)
{
	struct store_recorder *rec = c->rec;
	uint64_t t = next_obs_time(rec, sd, false);
	struct schema_obs o = { rec->info.id, t, STORE_STATE_DOWN, 0, 0 };
	int rc;

	if ((rc = begin_observation(c, sd, t, false)))
		return rc;
	c->counts.obs++;
	if (sd->d.missed < UINT16_MAX)
		sd->d.missed++;
	if (sd->d.state == STORE_STATE_UP && sd->d.missed >= rec->st->offline_after) {
		c->counts.went_down++;
		if ((rc = put_change(c, sd, t, STORE_STATE_DOWN)))
			return rc;
	}
	if ((rc = put_obs(c, sd->d.ip, &o)))
		return rc;
	return put_device(&c->dev, sd, MDB_CURRENT);
}

/* Walks the covered ranges from (range, from) and records misses, at most STORE_BATCH of them
 * per transaction (a /8 of known devices would otherwise make one enormous transaction). */
static int miss_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct miss_ctx *m = arg;
	struct store_recorder *rec = m->b.rec;
	size_t done = 0;
	int rc;

	(void)st;
	m->b.counts = (struct counts){ 0 };
	m->done = false;
	if ((rc = open_cursors(&m->b, txn)))
		goto out;
	for (size_t ri = m->range; ri < rec->n_covered; ri++) {
		/* Resume where the last transaction stopped, but never below the range: the first
		 * transaction starts with from = 0, which would walk devices outside it. */
		uint64_t from = rec->covered[ri].first;
		if (ri == m->range && m->from > from)
			from = m->from;
		uint8_t key[4];
		MDB_val k = { sizeof(key), key }, v;
		if (from > rec->covered[ri].last)
			continue;
		schema_key_ip(key, (uint32_t)from);
		for (rc = mdb_cursor_get(m->b.dev.c, &k, &v, MDB_SET_RANGE); !rc;
		     rc = mdb_cursor_get(m->b.dev.c, &k, &v, MDB_NEXT)) {
			struct schema_device sd;
			uint64_t last_sweep, last_seen;
			bool observed;
			uint32_t ip;
			if (k.mv_size != 4) {
				rc = MDB_CORRUPTED;
				goto out;
			}
			ip = schema_get_be32(k.mv_data);
			if (ip > rec->covered[ri].last)
				break;
			if (schema_device_peek(&last_sweep, &last_seen, v.mv_data, v.mv_size)) {
				rc = MDB_CORRUPTED;
				goto out;
			}
			/* Not a miss: observed by this sweep, or seen up since it started (by a sweep
			 * beside it: that answer is newer than this sweep's silence). */
			if (last_sweep == rec->info.id || last_seen >= rec->info.start_us)
				continue;
			if ((rc = find_obs(&m->b, ip, last_sweep, &observed, NULL)))
				goto out;
			if (observed)
				continue;
			if (schema_device_decode(&sd, v.mv_data, v.mv_size, STORE_SCHEMA_VERSION)) {
				rc = MDB_CORRUPTED;
				goto out;
			}
			sd.d.ip = ip;
			if ((rc = record_miss(&m->b, &sd)))
				goto out;
			if (++done == STORE_BATCH) {
				m->next_range = ri;
				m->next_from = (uint64_t)ip + 1;
				rc = series_write(&m->b, txn);
				goto out;
			}
		}
		if (rc && rc != MDB_NOTFOUND)
			goto out;
	}
	rc = series_write(&m->b, txn);
	m->done = !rc;
out:
	if (!rc)
		rc = put_progress(&m->b, txn);
	close_cursors(&m->b);
	return rc;
}

static int record_misses(struct store_recorder *rec)
{
	struct miss_ctx m = { .b = { .rec = rec } };
	int rc;

	/* Misses are devices known before the sweep: when every one of them answered (a first
	 * sweep, or a network where all are up) there is nothing to walk. The count only holds if
	 * no other recorder added devices meanwhile (they could count as known and answered). */
	if (rec->n_covered && rec->counts.known_answered == rec->known_before) {
		struct store_rd rd;
		MDB_stat ms;
		if ((rc = store_rd_begin(rec->st, &rd)))
			return rc;
		rc = mdb_stat(rd.txn, rec->st->db_dev, &ms);
		store_rd_end(&rd);
		if (rc)
			return store_errno(rc);
		if (ms.ms_entries == rec->known_before + rec->counts.new_devices)
			return 0;
	}
	while (rec->n_covered) {
		if ((rc = store_wr_run(rec->st, miss_fn, &m)))
			return rc;
		add_counts(&rec->counts, &m.b.counts);
		if (m.done)
			break;
		m.range = m.next_range;
		m.from = m.next_from;
	}
	return 0;
}

/* What a failed write did not store, saying why in the file system's words where it has them. */
static void lost_message(const struct store_recorder *rec, int rc, char *err, size_t errlen)
{
	const struct store *st = rec->st;
	uint64_t lost = rec->lost + rec->dropped;
	char n[32], of[32];

	store_count_text(lost, n);
	store_count_text(lost + rec->stored, of);
	/* A failed transaction leaves nothing behind (LMDB): what was committed before is whole. */
	if (rc == -ENOSPC || rc == -EDQUOT || rc == -EROFS)
		snprintf(err, errlen, "%s %s: %s of %s results of sweep %llu not stored; the store is intact",
			 rc == -ENOSPC ? "no space left on" : rc == -EDQUOT ? "disk quota exceeded on" :
			 "read-only file system at", st->dir, n, of, (unsigned long long)rec->info.id);
	else
		store_err(err, errlen, st->path, "%s: %s of %s results of sweep %llu not stored", lnmt_strerror(rc), n,
			  of, (unsigned long long)rec->info.id);
}

/* What closing does once the writer has stored everything queued: the misses, the final record
 * and the flush. On the closing thread, or on the writer's after store_recorder_finish(). */
static int finish_work(struct store_recorder *rec, const struct store_sweep *final, char *err, size_t errlen)
{
	struct store *st = rec->st;
	struct store_sweep s;
	int rc, rc2;

	s = final ? *final : rec->info;
	if (!final || s.ended == STORE_END_RUNNING)
		s.ended = STORE_END_INTERRUPTED; /* it did not say how it ended */
	rc = rec->failed;
	if (rc) {
		lost_message(rec, rc, err, errlen);
	} else if (rec->dropped) {
		rc = -ENOMEM;
		store_err(err, errlen, st->path, "out of memory: %llu of %llu results dropped before the store",
			  (unsigned long long)rec->dropped, (unsigned long long)(rec->dropped + rec->stored));
	} else if (!store_sweep_end_probed_all(s.ended)) {
		/* A stopped or failed sweep did not probe every covered device: silence from the
		 * ones it never reached is not a miss. */
	} else if ((rc = record_misses(rec))) {
		/* Without the misses the sweep's figures are wrong, but what it stored is right. */
		if (rc == -ENOSPC || rc == -EDQUOT || rc == -EROFS)
			snprintf(err, errlen, "%s %s: the misses of sweep %llu were not stored; the store is intact",
				 rc == -ENOSPC ? "no space left on" : rc == -EDQUOT ? "disk quota exceeded on" :
				 "read-only file system at", st->dir, (unsigned long long)rec->info.id);
		else
			store_err(err, errlen, st->path, "%s: the misses of sweep %llu were not stored",
				  lnmt_strerror(rc), (unsigned long long)rec->info.id);
	}

	s.id = rec->info.id;
	s.pid = rec->info.pid;
	if (!s.start_us)
		s.start_us = rec->info.start_us;
	if (!s.end_us)
		s.end_us = store_now_us();
	s.new_devices = rec->counts.new_devices;
	s.went_up = rec->counts.went_up;
	s.went_down = rec->counts.went_down;
	s.observations = rec->counts.obs;
	s.complete = rc == 0;
	struct sweep_put sp = { &s, false };
	rc2 = store_wr_run(st, sweep_put_fn, &sp);
	if (!rc2)
		rc2 = store_sync(st);
	if (rc2 && !rc) {
		rc = rc2;
		store_err(err, errlen, st->path, "%s: the final record of sweep %llu was not stored (it reads as "
			  "running, and interrupted once this process has closed the store)", lnmt_strerror(rc),
			  (unsigned long long)s.id);
	} else if (rc2 && err && errlen) {
		size_t used = strlen(err);
		snprintf(err + used, errlen - used, "; sweep %llu could not be marked incomplete (%s): it reads "
			 "interrupted once this process has closed the store", (unsigned long long)s.id, lnmt_strerror(rc2));
	} else if (rc && err && errlen) {
		size_t used = strlen(err);
		snprintf(err + used, errlen - used, "; sweep %llu is marked incomplete", (unsigned long long)s.id);
	}
	return rc;
}

void store_recorder_finish(struct store_recorder *rec, const struct store_sweep *final)
{
	if (!rec)
		return;
	pthread_mutex_lock(&rec->lock);
	if (!rec->finishing && !rec->closing) {
		rec->final = final ? *final : rec->info;
		rec->finishing = rec->closing = true;
		pthread_cond_signal(&rec->cond);
	}
	pthread_mutex_unlock(&rec->lock);
}

int store_recorder_close(struct store_recorder *rec, const struct store_sweep *final, uint64_t *stored,
			 char *err, size_t errlen)
{
	int rc;

	if (!rec)
		return -EINVAL;
	pthread_mutex_lock(&rec->lock);
	bool finishing = rec->finishing;
	rec->closing = true;
	pthread_cond_signal(&rec->cond);
	pthread_mutex_unlock(&rec->lock);
	pthread_join(rec->thread, NULL);

	if (finishing) {
		rc = rec->finish_rc;
		if (rc && err && errlen)
			snprintf(err, errlen, "%s", rec->finish_err);
	} else {
		rc = finish_work(rec, final, err, errlen);
	}
	if (stored)
		*stored = rec->stored;

	for (struct chunk *c = rec->spare, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	pthread_cond_destroy(&rec->synced);
	pthread_cond_destroy(&rec->cond);
	pthread_mutex_destroy(&rec->lock);
	free_buffers(rec);
	free(rec);
	return rc;
}
