/* SPDX-License-Identifier: MIT */
/*
 * sweep_tx.c: the sender threads. Each owns a socket (and io_uring), a sub-shard of the
 * permutation and a share of the rate, and turns indexes into frames: template copy, patch,
 * batch, submit. This is the hot loop of lnmt: no allocation, no syscalls but the batch submit,
 * one clock read per frame (for the probe's timestamp).
 */
#include "sweep_int.h"

#include "clock.h"
#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SINGLE_SENDER_BELOW_PPS 50000 /* slower sweeps gain nothing from more threads */
#define SPIN_BELOW_NS 100000ull       /* shorter pacing waits spin: nanosleep overshoots them */
#define HOLD_BACK_POLL_NS 500000ull   /* how often a held-back sender looks at the sink's queue */
/* A receiver that has not looked at the capture for this long is starved (it looks every 2 ms
 * when idle); the senders then step aside, in slices, for at most RX_STARVED_MAX_NS. */
#define RX_STARVED_NS 6000000ull
#define RX_STEP_ASIDE_NS 100000ull
#define RX_STARVED_MAX_NS 100000000ull
#define PROGRESS_SLICE_NS 50000000ull
#define DEFAULT_PROGRESS_NS 250000000ull

unsigned sweep_sender_count(const struct sweep_config *cfg)
{
	if (cfg->senders)
		return cfg->senders < SWEEP_MAX_SENDERS ? cfg->senders : SWEEP_MAX_SENDERS;
	if (cfg->tx == TX_NULL || (cfg->rate_pps && cfg->rate_pps < SINGLE_SENDER_BELOW_PPS))
		return 1;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus < 1 ? 1 : cpus > SWEEP_MAX_SENDERS ? SWEEP_MAX_SENDERS : (unsigned)cpus;
}

uint64_t sweep_sent(const struct sweep *sw)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < sw->n_senders; i++)
		n += sweep_load(&sw->senders[i].sent);
	return n;
}

uint64_t sweep_walked(const struct sweep *sw)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < sw->n_senders; i++)
		n += sw->senders[i].walked;
	return n;
}

uint64_t sweep_sent_first_pass(const struct sweep *sw)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < sw->n_senders; i++)
		n += sweep_load(&sw->senders[i].sent_first_pass);
	return n;
}

void sweep_report_progress(struct sweep *sw, uint64_t now, bool force)
{
	const struct sweep_sink *sink = sw->sink;
	uint64_t every = sink->progress_interval_ns ? sink->progress_interval_ns : DEFAULT_PROGRESS_NS;

	if (!sink->progress || !sw->t0 || (!force && now - sw->last_progress < every))
		return; /* nothing to report before the first probe (t0 is set when sending starts) */
	sw->last_progress = now;
	struct sweep_progress pr = {
		.probes = sw->probes_estimate, .sent = sweep_sent(sw), .replies = sweep_load(&sw->replies),
		.live = sweep_load(&sw->live), .elapsed_ns = now - sw->t0, .pass = sw->pass,
		.phase = __atomic_load_n(&sw->phase, __ATOMIC_RELAXED),
		.sent_first_pass = sweep_sent_first_pass(sw),
		.queued = result_queue_depth(&sw->results),
		.held_back = __atomic_load_n(&sw->held_back, __ATOMIC_RELAXED) > 0,
		.rate_pps = sweep_load(&sw->pass_rate_pps), .slowed_pps = sweep_load(&sw->slowed_pps),
	};
	sink->progress(sink->ctx, &pr);
}

static int flush(struct sender *s, const uint16_t *lens, unsigned n)
{
	struct sweep *sw = s->sw;
	unsigned sent = 0;
	int rc = tx_send(s->tx, lens, n, &sent);

	__atomic_fetch_add(&s->sent, sent, __ATOMIC_RELAXED);
	if (sw->pass == 0)
		__atomic_fetch_add(&s->sent_first_pass, sent, __ATOMIC_RELAXED);
	ratelimit_consume(&s->rl, sent);
	if (rc)
		snprintf(s->err, sizeof(s->err), "sending on %s (%s): %s", sw->cfg->ifname ? sw->cfg->ifname : "?",
			 tx_name(s->tx), lnmt_strerror(rc));
	return rc;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
	nanosleep(&ts, NULL);
}

/* Back-pressure: while the sink is behind, send nothing, so the network has nothing new to
 * answer; afterwards the pacing picks up where it was (ratelimit forgives the debt beyond one
 * batch, so there is no burst to make up for the pause). */
static void hold_back(struct sender *s)
{
	struct sweep *sw = s->sw;
	uint64_t start = clock_now_ns();

	__atomic_fetch_add(&sw->held_back, 1, __ATOMIC_RELAXED);
	while (!sweep_sink_caught_up(sw) && !sweep_stop_level(sw))
		sleep_ns(HOLD_BACK_POLL_NS);
	__atomic_fetch_sub(&sw->held_back, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->held_back_ns, clock_now_ns() - start, __ATOMIC_RELAXED);
}

/*
 * The receiver must keep up with the capture: a ring holds only some 16 ms of replies when they
 * trickle in (libpcap's TPACKET_V3 blocks are retired half empty every millisecond), and on a
 * loaded machine the senders, the kernel's work for their probes and everything else can leave
 * the receiver no core for longer than that. So a sender that sees the receiver's heartbeat go
 * stale steps aside until it beats again: the probe rate drops for a moment instead of the
 * capture dropping replies.
 */
static void let_receiver_run(struct sender *s)
{
	struct sweep *sw = s->sw;
	uint64_t start = clock_now_ns(), now = start;

	if (!sw->rx_running)
		return;
	while (now - sweep_load(&sw->rx_heartbeat_ns) > RX_STARVED_NS && now - start < RX_STARVED_MAX_NS &&
	       !sweep_stop_level(sw)) {
		if (now == start)
			__atomic_fetch_add(&sw->rx_yields, 1, __ATOMIC_RELAXED);
		sleep_ns(RX_STEP_ASIDE_NS);
		now = clock_now_ns();
	}
}

/* Blocks until at least one packet is due; returns how many are (capped at batch), 0 on stop. */
static unsigned await_budget(struct sender *s, unsigned batch)
{
	if (sweep_sink_behind(s->sw))
		hold_back(s);
	let_receiver_run(s);
	for (;;) {
		uint64_t now = clock_now_ns();
		uint64_t allow = ratelimit_allowance(&s->rl, now);
		if (allow)
			return allow < batch ? (unsigned)allow : batch;
		if (sweep_stop_level(s->sw))
			return 0;
		uint64_t due = ratelimit_next_due_ns(&s->rl);
		if (due > now + SPIN_BELOW_NS)
			sleep_ns(due - now - SPIN_BELOW_NS / 2);
	}
}

static int send_pass(struct sender *s)
{
	struct sweep *sw = s->sw;
	uint16_t lens[SWEEP_MAX_BATCH];
	unsigned n = 0, budget = 0;
	uint64_t idx;
	int rc = 0;

	permute_rewind(&s->pm);
	while (permute_next(&s->pm, &idx)) {
		if (sw->pass > 0 && sweep_bit_test(sw->answered, idx))
			continue;
		if (sw->pass == 0)
			s->walked++;
		if (n == 0) {
			if (sweep_stop_level(sw) || !(budget = await_budget(s, sw->batch)))
				break;
		}
		uint64_t addr_idx = idx / sw->n_slots;
		const struct slot *sl = &sw->slots[idx % sw->n_slots];
		struct probe_target t = { .ip = target_set_addr(sw->cfg->targets, addr_idx), .port = sl->port };
		uint8_t *frame = tx_frame(s->tx, n);
		uint64_t now = clock_now_ns();
		memcpy(frame, sw->tmpl[sl->probe_no], sw->tmpl_len[sl->probe_no]);
		sl->probe->patch(&sw->env, frame, &t, now);
		if ((int)sl->probe_no == sw->arp_probe_no)
			__atomic_store_n(&sw->arp_sent_us[addr_idx], (uint32_t)((now - sw->t0) / 1000), __ATOMIC_RELAXED);
		lens[n++] = sw->tmpl_len[sl->probe_no];
		if (n == budget) {
			if ((rc = flush(s, lens, n)))
				return rc;
			n = 0;
		}
	}
	if (n)
		rc = flush(s, lens, n);
	return rc;
}

static void finished_step(struct sweep *sw)
{
	pthread_mutex_lock(&sw->lock);
	sw->busy--;
	pthread_cond_broadcast(&sw->changed);
	pthread_mutex_unlock(&sw->lock);
}

static int open_tx(struct sender *s)
{
	const struct sweep_config *cfg = s->sw->cfg;
	struct tx_config tc = { .kind = cfg->tx, .link = s->sw->link, .ifindex = cfg->ifindex, .ifname = cfg->ifname,
				.batch_max = s->sw->batch, .frame_max = PROBE_FRAME_MAX, .fd = s->sw->send_fd };
	int rc = tx_open_config(&s->tx, &tc);

	if (rc == -EPERM || rc == -EACCES) {
		snprintf(s->err, sizeof(s->err), "raw sockets need CAP_NET_RAW: run as root, or grant it "
						 "with 'setcap cap_net_raw+ep' on the lnmt binary");
		return -EPERM;
	}
	if (rc == -ENOSYS && cfg->tx == TX_URING) {
		snprintf(s->err, sizeof(s->err), "io_uring is unavailable here (forbidden by seccomp or "
						 "kernel.io_uring_disabled, or an old kernel): use --tx mmsg or --tx auto");
		return rc;
	}
	if (rc)
		snprintf(s->err, sizeof(s->err), "cannot open the %s sender on %s: %s",
			 cfg->tx == TX_URING ? "io_uring" : "packet", cfg->ifname ? cfg->ifname : "?",
			 lnmt_strerror(rc));
	return rc;
}

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	struct sweep *sw = s->sw;
	unsigned seen = 0;

	/* The sender opens its own ring: io_uring's SINGLE_ISSUER binds it to this thread. */
	s->rc = open_tx(s);
	finished_step(sw);
	while (!s->rc) {
		pthread_mutex_lock(&sw->lock);
		while (!sw->quit && sw->pass_gen == seen)
			pthread_cond_wait(&sw->wake, &sw->lock);
		bool quit = sw->quit;
		seen = sw->pass_gen;
		pthread_mutex_unlock(&sw->lock);
		if (quit)
			break;
		s->rc = send_pass(s);
		finished_step(sw);
	}
	return NULL;
}

void sweep_wait_changed(struct sweep *sw, uint64_t until_ns)
{
	struct timespec ts = { (time_t)(until_ns / 1000000000u), (long)(until_ns % 1000000000u) };

	pthread_cond_timedwait(&sw->changed, &sw->lock, &ts);
	pthread_mutex_unlock(&sw->lock);
	sweep_report_progress(sw, clock_now_ns(), false);
	pthread_mutex_lock(&sw->lock);
}

/* Waits until every sender finished its step, reporting progress meanwhile. */
static void await_senders(struct sweep *sw)
{
	pthread_mutex_lock(&sw->lock);
	while (sw->busy)
		sweep_wait_changed(sw, clock_now_ns() + PROGRESS_SLICE_NS);
	pthread_mutex_unlock(&sw->lock);
}

static int first_error(struct sweep *sw, char *err, size_t errlen)
{
	for (unsigned i = 0; i < sw->n_senders; i++) {
		if (sw->senders[i].rc) {
			snprintf(err, errlen, "%s", sw->senders[i].err);
			return sw->senders[i].rc;
		}
	}
	return 0;
}

int sweep_senders_start(struct sweep *sw, char *err, size_t errlen)
{
	const struct sweep_config *cfg = sw->cfg;
	uint32_t shards = cfg->shards ? cfg->shards : 1;
	unsigned n = sweep_sender_count(cfg);
	int rc;

	/* Sender k walks sub-shard (shard + shards*k) of shards*n: the same cycle as one sender
	 * on the user's shard, dealt out step by step. */
	for (unsigned k = 0; k < n; k++) {
		struct sender *s = &sw->senders[k];
		*s = (struct sender){ .sw = sw, .id = k };
		if ((rc = permute_init(&s->pm, sw->pairs, cfg->seed, cfg->shard + shards * k, shards * n))) {
			snprintf(err, errlen, "bad shard %u/%u", cfg->shard, shards);
			return rc;
		}
	}
	pthread_mutex_lock(&sw->lock);
	sw->busy = n;
	pthread_mutex_unlock(&sw->lock);
	for (unsigned k = 0; k < n; k++) {
		struct sender *s = &sw->senders[k];
		if ((rc = -pthread_create(&s->thread, NULL, sender_main, s))) {
			snprintf(err, errlen, "cannot start a sender thread: %s", lnmt_strerror(rc));
			pthread_mutex_lock(&sw->lock);
			sw->busy -= n - k;
			pthread_mutex_unlock(&sw->lock);
			break;
		}
		char name[] = "lnmt-tx0"; /* k < SWEEP_MAX_SENDERS: one digit */
		name[7] = (char)('0' + k % 10);
		pthread_setname_np(s->thread, name);
		s->started = true;
		sw->n_senders++;
	}
	await_senders(sw);
	if (!rc)
		rc = first_error(sw, err, errlen);
	return rc;
}

int sweep_senders_run_pass(struct sweep *sw, uint64_t rate_pps, char *err, size_t errlen)
{
	uint64_t per = rate_pps / sw->n_senders, extra = rate_pps % sw->n_senders;
	uint64_t now = sw->pass == 0 ? sw->t0 : clock_now_ns();

	/* Each pass starts its own schedule: a gap between passes is not a debt to pay back. A rate
	 * below one packet per second per sender still sends (one sender gets it all). */
	for (unsigned k = 0; k < sw->n_senders; k++) {
		uint64_t share = per + (k < extra);
		ratelimit_init(&sw->senders[k].rl, rate_pps ? (share ? share : 1) : 0, sw->batch, now);
	}
	__atomic_store_n(&sw->pass_rate_pps, rate_pps, __ATOMIC_RELAXED);
	pthread_mutex_lock(&sw->lock);
	sw->busy = sw->n_senders;
	sw->pass_gen++;
	pthread_cond_broadcast(&sw->wake);
	pthread_mutex_unlock(&sw->lock);
	await_senders(sw);
	return first_error(sw, err, errlen);
}

void sweep_senders_stop(struct sweep *sw)
{
	pthread_mutex_lock(&sw->lock);
	sw->quit = true;
	pthread_cond_broadcast(&sw->wake);
	pthread_mutex_unlock(&sw->lock);
	for (unsigned k = 0; k < sw->n_senders; k++) {
		if (sw->senders[k].started)
			pthread_join(sw->senders[k].thread, NULL);
		tx_close(sw->senders[k].tx);
		sw->senders[k].tx = NULL;
		sw->senders[k].started = false;
	}
}

uint64_t sweep_held_back_ns(const struct sweep *sw)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < sw->n_senders; i++)
		n += sweep_load(&sw->senders[i].held_back_ns);
	return n;
}
