/* SPDX-License-Identifier: MIT */
/*
 * test_concurrent.c: recorders running at once on one store (lnmtd runs several sweeps into its
 * store): each sweep's misses come from its own observations and its own start, never from a
 * field another recorder moves, so no sweep marks down what one of them found, no observation
 * contradicts a sweep's answers, and new / went_up / went_down count each change once.
 *
 * The interleavings are made exact with store_recorder_sync(), which returns once everything
 * queued is committed: "A answered, then B wrote the same device, then A's miss walk".
 */
#include "store_test.h"

#include <pthread.h>
#include <stdlib.h>

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

/* A recorder of NET/24 (or [first, last]) starting at start. */
static struct store_recorder *rec_open(uint64_t start, uint32_t first, uint32_t last, uint64_t *id)
{
	struct store_sweep info = { .start_us = start, .probes = STORE_PROBE_ICMP };
	struct store_range range = { first, last };
	struct store_recorder *rec = NULL;
	char err[512] = "";

	snprintf(info.targets, sizeof(info.targets), "concurrent");
	cr_assert_eq(store_recorder_open(st, &info, &range, 1, &rec, err, sizeof(err)), 0, "%s", err);
	*id = info.id;
	return rec;
}

static void add(struct store_recorder *rec, uint32_t ip, uint8_t probe, uint64_t t)
{
	struct store_result r = t_up(ip, probe, 100, t);
	store_recorder_add(rec, &r);
}

static void sync_rec(struct store_recorder *rec)
{
	cr_assert_eq(store_recorder_sync(rec), 0);
}

static struct store_sweep rec_close(struct store_recorder *rec, uint64_t id, uint64_t end)
{
	struct store_sweep fin = { .id = id, .end_us = end, .ended = STORE_END_ALL_ANSWERED };
	char err[512] = "";

	cr_assert_eq(store_recorder_close(rec, &fin, NULL, err, sizeof(err)), 0, "%s", err);
	return t_get_sweep(st, id);
}

/* A device's observation by one sweep: 1 with *o, 0 when it has none. */
struct find_obs {
	uint64_t sweep;
	struct store_observation o;
	int n;
};

static int find_obs_cb(void *ctx, const struct store_observation *o)
{
	struct find_obs *f = ctx;

	if (o->sweep_id == f->sweep) {
		f->o = *o;
		f->n++;
	}
	return 0;
}

static int obs_of(uint32_t ip, uint64_t sweep, struct store_observation *o)
{
	struct find_obs f = { .sweep = sweep };

	cr_assert_eq(store_device_observations(st, ip, 0, find_obs_cb, &f), 0);
	cr_assert_leq(f.n, 1, "%d observations of one device by sweep %llu", f.n, (unsigned long long)sweep);
	if (f.n && o)
		*o = f.o;
	return f.n;
}

static struct store_check_report check_clean(void)
{
	struct store_check_report rep;
	char err[512] = "";

	cr_assert_eq(store_check(st, &rep, err, sizeof(err)), 0, "store_check: %s", err);
	return rep;
}

/* Known devices .1-.4, seen by a first sweep an hour before. */
static void first_sweep(void)
{
	struct store_result r[4];

	for (uint32_t i = 0; i < 4; i++)
		r[i] = t_up(NET + 1 + i, STORE_PROBE_ICMP, 100, T_BASE + 10);
	t_sweep(st, T_BASE, NET, NET + 255, r, 4);
}

/*
 * The case the old miss walk got wrong: A answers .1, B (beside it) answers .1 too, which
 * moves the device's last_sweep to B; A's miss walk must still know that A answered .1. And .2,
 * which only B answered while A ran, is no miss of A's: B's answer is newer than A's silence.
 */
Test(concurrent, answered_by_both_is_no_miss_of_either, .init = setup, .fini = teardown)
{
	uint64_t a, b, t = T_BASE + T_HOUR;

	first_sweep();
	struct store_recorder *ra = rec_open(t, NET, NET + 255, &a);
	struct store_recorder *rb = rec_open(t + 5, NET, NET + 255, &b);
	add(ra, NET + 1, STORE_PROBE_ICMP, t + 100);
	sync_rec(ra);
	add(rb, NET + 1, STORE_PROBE_ICMP, t + 200);
	add(rb, NET + 2, STORE_PROBE_ICMP, t + 200);
	sync_rec(rb);
	struct store_sweep sb = rec_close(rb, b, t + 1000);
	struct store_sweep sa = rec_close(ra, a, t + 2000);

	struct store_observation o;
	cr_assert_eq(obs_of(NET + 1, a, &o), 1);
	cr_assert_eq(o.state, STORE_STATE_UP, "A's observation of .1, which A answered, says down");
	cr_assert_eq(obs_of(NET + 1, b, &o), 1);
	cr_assert_eq(o.state, STORE_STATE_UP);
	cr_assert_eq(obs_of(NET + 2, a, NULL), 0, ".2 was seen up by B while A ran: no miss of A's");
	/* .3 and .4: neither answered: one miss each (two sweeps in a row: down). */
	cr_assert_eq(obs_of(NET + 3, a, &o), 1);
	cr_assert_eq(o.state, STORE_STATE_DOWN);
	cr_assert_eq(obs_of(NET + 3, b, &o), 1);
	cr_assert_eq(o.state, STORE_STATE_DOWN);
	for (uint32_t i = 1; i <= 2; i++) {
		struct store_device d = t_get(st, NET + i);
		cr_assert_eq(d.state, STORE_STATE_UP, ".%u", i);
		cr_assert_eq(d.missed, 0, ".%u missed %u", i, d.missed);
	}
	cr_assert_eq(t_get(st, NET + 3).state, STORE_STATE_DOWN);
	cr_assert_eq(t_get(st, NET + 3).missed, 2);
	/* Each sweep's figures are its own: A observed .1, .3, .4; B .1-.4. */
	cr_assert_eq(sa.observations, 3);
	cr_assert_eq(sb.observations, 4);
	cr_assert_eq(sa.live, 0, "final live is the caller's (0 here)");
	cr_assert_eq(sb.went_down, 0, "B's misses of .3 and .4 were the first");
	cr_assert_eq(sa.went_down, 2, "A's were the second: .3 and .4 went down in A");
	cr_assert_eq(sa.went_up + sb.went_up + sa.new_devices + sb.new_devices, 0);
	check_clean();
}

/*
 * A later batch of A with more results for a device must fold them into A's observation even
 * when B wrote the device in between (last_sweep = B): one observation, one probe counted.
 */
Test(concurrent, later_batch_merges_although_another_sweep_wrote_the_device, .init = setup, .fini = teardown)
{
	uint64_t a, b, t = T_BASE + T_HOUR;

	first_sweep();
	struct store_recorder *ra = rec_open(t, NET, NET + 255, &a);
	struct store_recorder *rb = rec_open(t, NET, NET + 255, &b);
	add(ra, NET + 1, STORE_PROBE_ICMP, t + 1);
	sync_rec(ra);
	add(rb, NET + 1, STORE_PROBE_ICMP, t + 2);
	sync_rec(rb);
	add(ra, NET + 1, STORE_PROBE_ARP, t + 3);
	sync_rec(ra);
	rec_close(rb, b, t + 10);
	rec_close(ra, a, t + 20);

	struct store_observation o;
	cr_assert_eq(obs_of(NET + 1, a, &o), 1);
	cr_assert_eq(o.probes, STORE_PROBE_ICMP | STORE_PROBE_ARP, "A's two results in one observation");
	struct store_device d = t_get(st, NET + 1);
	cr_assert_eq(d.probes_total, 3, "first sweep, A, B: %llu probes", (unsigned long long)d.probes_total);
	cr_assert_eq(d.answers_total, 3);
	cr_assert_eq(t_get_sweep(st, a).observations, 4, ".1 up, .2-.4 missed");
	check_clean();
}

/* new, went_up and went_down count each change once, by the sweep that recorded it. */
Test(concurrent, changes_are_counted_once, .init = setup, .fini = teardown)
{
	uint64_t a, b, t = T_BASE + 3 * T_HOUR;
	uint32_t down = NET + 4, fresh = NET + 9;

	first_sweep();
	/* .4 misses two sweeps: down. */
	struct store_result r[3] = { t_up(NET + 1, STORE_PROBE_ICMP, 1, 0), t_up(NET + 2, STORE_PROBE_ICMP, 1, 0),
				     t_up(NET + 3, STORE_PROBE_ICMP, 1, 0) };
	t_sweep(st, T_BASE + T_HOUR, NET, NET + 255, r, 3);
	t_sweep(st, T_BASE + 2 * T_HOUR, NET, NET + 255, r, 3);
	cr_assert_eq(t_get(st, down).state, STORE_STATE_DOWN);

	struct store_recorder *ra = rec_open(t, NET, NET + 255, &a);
	struct store_recorder *rb = rec_open(t, NET, NET + 255, &b);
	for (uint32_t i = 1; i <= 3; i++) {
		add(ra, NET + i, STORE_PROBE_ICMP, t + i);
		add(rb, NET + i, STORE_PROBE_ICMP, t + i);
	}
	add(rb, down, STORE_PROBE_ICMP, t + 50);
	add(rb, fresh, STORE_PROBE_ICMP, t + 50);
	sync_rec(rb);
	add(ra, down, STORE_PROBE_ICMP, t + 60);
	add(ra, fresh, STORE_PROBE_ICMP, t + 60);
	sync_rec(ra);
	struct store_sweep sb = rec_close(rb, b, t + 100);
	struct store_sweep sa = rec_close(ra, a, t + 200);

	cr_assert_eq(sb.went_up, 1, "B found .4 up first");
	cr_assert_eq(sa.went_up, 0, ".4 was up already when A's answer was stored");
	cr_assert_eq(sb.new_devices, 1);
	cr_assert_eq(sa.new_devices, 0);
	cr_assert_eq(sa.went_down + sb.went_down, 0);
	cr_assert_eq(t_get(st, down).changes_total, 3, "up, down, up: %llu changes",
		     (unsigned long long)t_get(st, down).changes_total);
	cr_assert_eq(t_get(st, fresh).changes_total, 1);
	cr_assert_eq(sa.observations, 5);
	cr_assert_eq(sb.observations, 5);
	check_clean();
}

/* A device B found after A missed it is up; A's silence from before B's answer is no miss. */
Test(concurrent, found_by_the_other_while_one_runs_is_not_marked_down, .init = setup, .fini = teardown)
{
	uint64_t a, b, t = T_BASE + T_HOUR;
	struct store_device d;

	cr_assert_eq(store_open(&(struct store *){ NULL }, dir, &(struct store_options){ .lock_wait_ms = -1 }, NULL, 0),
		     -EBUSY, "a second writer in this process");
	/* offline_after 1: one miss would take it down. */
	store_close(st);
	st = t_open(dir, 1);
	first_sweep();
	struct store_recorder *ra = rec_open(t, NET, NET + 255, &a);
	struct store_recorder *rb = rec_open(t + 1, NET, NET + 255, &b);
	for (uint32_t i = 1; i <= 4; i++)
		add(rb, NET + i, STORE_PROBE_ICMP, t + 10);
	struct store_sweep sb = rec_close(rb, b, t + 100);
	for (uint32_t i = 1; i <= 3; i++)
		add(ra, NET + i, STORE_PROBE_ICMP, t + 20);
	struct store_sweep sa = rec_close(ra, a, t + 200);
	d = t_get(st, NET + 4);
	cr_assert_eq(d.state, STORE_STATE_UP, "B found .4 while A ran; A marked it down");
	cr_assert_eq(d.missed, 0);
	cr_assert_eq(obs_of(NET + 4, a, NULL), 0);
	cr_assert_eq(sa.went_down, 0);
	cr_assert_eq(sa.observations, 3);
	cr_assert_eq(sb.observations, 4);
	check_clean();
}

/* ---- many batches from two threads ---- */

#define SPAN 2048

struct worker {
	struct store_recorder *rec;
	uint64_t start;
	unsigned seed;
	int rc;         /* the first failure (asserted by the test's thread) */
};

/* Answers every address of the span once, in a random order, syncing at random points so the
 * two recorders' transactions interleave. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint32_t *order = malloc(SPAN * sizeof(*order));

	if (!order) {
		w->rc = -ENOMEM;
		return NULL;
	}
	for (uint32_t i = 0; i < SPAN; i++)
		order[i] = i;
	for (uint32_t i = SPAN - 1; i > 0; i--) {
		uint32_t j = (uint32_t)rand_r(&w->seed) % (i + 1), x = order[i];
		order[i] = order[j];
		order[j] = x;
	}
	for (uint32_t i = 0; i < SPAN && !w->rc; i++) {
		add(w->rec, NET + order[i], STORE_PROBE_ICMP, w->start + 1 + i);
		if (rand_r(&w->seed) % 97 == 0)
			w->rc = store_recorder_sync(w->rec);
	}
	free(order);
	return NULL;
}

static int count_cb(void *ctx, const struct store_device *d)
{
	uint64_t *bad = ctx;

	*bad += d->state != STORE_STATE_UP || d->missed != 0;
	return 0;
}

Test(concurrent, two_threads_of_batches_mark_nothing_down, .init = setup, .fini = teardown)
{
	for (int round = 0; round < 5; round++) {
		uint64_t t = T_BASE + (uint64_t)round * T_HOUR, a, b;
		struct worker wa = { .start = t, .seed = 7u + (unsigned)round }, wb = { .start = t, .seed = 1000u + (unsigned)round };
		pthread_t ta, tb;
		wa.rec = rec_open(t, NET, NET + SPAN - 1, &a);
		wb.rec = rec_open(t, NET, NET + SPAN - 1, &b);
		cr_assert_eq(pthread_create(&ta, NULL, worker_main, &wa), 0);
		cr_assert_eq(pthread_create(&tb, NULL, worker_main, &wb), 0);
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
		cr_assert_eq(wa.rc, 0, "round %d: A's worker: %d", round, wa.rc);
		cr_assert_eq(wb.rc, 0, "round %d: B's worker: %d", round, wb.rc);
		/* Close in either order. */
		struct store_sweep sa, sb;
		if (round % 2) {
			sa = rec_close(wa.rec, a, t + 100000);
			sb = rec_close(wb.rec, b, t + 100000);
		} else {
			sb = rec_close(wb.rec, b, t + 100000);
			sa = rec_close(wa.rec, a, t + 100000);
		}
		cr_assert_eq(sa.observations, SPAN, "round %d: A %llu observations", round,
			     (unsigned long long)sa.observations);
		cr_assert_eq(sb.observations, SPAN, "round %d: B %llu observations", round,
			     (unsigned long long)sb.observations);
		cr_assert_eq(sa.went_down + sb.went_down + sa.went_up + sb.went_up, 0, "round %d", round);
		cr_assert_eq(sa.new_devices + sb.new_devices, round ? 0 : SPAN, "round %d: new %u + %u", round,
			     sa.new_devices, sb.new_devices);
		uint64_t bad = 0;
		struct store_filter f = { .state = -1 };
		cr_assert_eq(store_devices_list(st, &f, count_cb, &bad, NULL, NULL), 0);
		cr_assert_eq(bad, 0, "round %d: %llu devices down or with a miss", round, (unsigned long long)bad);
	}
	struct store_check_report rep = check_clean();
	cr_assert_eq(rep.observations, 10 * SPAN);
}
