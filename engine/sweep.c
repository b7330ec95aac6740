/* SPDX-License-Identifier: MIT */
/*
 * sweep.c: a sweep from set-up to stats: lays out the slots and templates, maps the bitmaps,
 * starts the receiver (which opens the capture) and the senders side by side, runs the passes
 * with the retry gaps, waits out the cooldown and collects the figures. The hot loops are in
 * sweep_tx.c and sweep_rx.c.
 */
#include "sweep_int.h"

#include "sweep_filter.h"

#include "clock.h"
#include "cookie.h"
#include "err.h"

#include <errno.h>
#include <net/ethernet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define DEFAULT_BATCH 64
#define GRACE_NS 250000000ull        /* replies drained after a first Ctrl-C */
/* The quiet rule (sweep_policy.h): 4 x the high-quantile RTT of silence, never under 10 ms
 * (scheduler noise and the capture's 1 ms block timeout), and 1 s when nothing answered at all
 * (no RTT to go by: a silent network gets what ping would give it). */
#define QUIET_FLOOR_NS 10000000ull
#define QUIET_FACTOR 4
#define NO_REPLY_WAIT_NS 1000000000ull
/* On a dense network the silent few are listened for this long after the last probe (a phone in
 * Wi-Fi power save answers a few beacon intervals late: ~100-300 ms). */
#define STRAGGLER_NS 500000000ull
#define WAIT_SLICE_NS 50000000ull    /* how often waits look at *stop and report progress */
#define MAX_PAIRS (1ull << 44)

static void *map_zeroed(size_t len)
{
	/* NORESERVE and lazily faulted: a bitmap over 2^33 pairs costs address space, and
	 * resident memory only where replies land. */
	void *p = mmap(NULL, len ? len : 1, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

int sweep_bpf_filter(const struct sweep_config *cfg, char *buf, size_t len)
{
	return sweep_filter_text(cfg->probes, cfg->n_probes, buf, len);
}

/* Lays out the slots (one per non-port probe, one per port for port probes) and renders each
 * probe's template. */
static int plan_slots(struct sweep *sw, char *err, size_t errlen)
{
	const struct sweep_config *cfg = sw->cfg;
	unsigned n = 0;

	sw->arp_probe_no = -1;
	for (unsigned i = 0; i < cfg->n_probes; i++) {
		if (cfg->probes[i]->uses_port && (!cfg->ports || !cfg->ports->n)) {
			snprintf(err, errlen, "probe %s needs ports (-p)", cfg->probes[i]->name);
			return LNMT_E_PARSE;
		}
		n += cfg->probes[i]->uses_port ? (unsigned)cfg->ports->n : 1;
		if (cfg->probes[i] == &probe_arp)
			sw->arp_probe_no = (int)i;
	}
	if (!(sw->slots = calloc(n, sizeof(*sw->slots))))
		return -ENOMEM;
	for (unsigned i = 0; i < cfg->n_probes; i++) {
		const struct probe_ops *p = cfg->probes[i];
		sw->slot_base[i] = sw->n_slots;
		size_t k = p->uses_port ? cfg->ports->n : 1;
		for (size_t j = 0; j < k; j++)
			sw->slots[sw->n_slots++] = (struct slot){
				.probe = p, .probe_no = i, .port = p->uses_port ? cfg->ports->ports[j] : 0 };
		int len = p->build(&sw->env, sw->tmpl[i], PROBE_FRAME_MAX);
		if (len < 0) {
			snprintf(err, errlen, "building the %s probe: %s", p->name, lnmt_strerror(len));
			return len;
		}
		sw->tmpl_len[i] = (uint16_t)len;
	}
	return 0;
}

static int alloc_state(struct sweep *sw, char *err, size_t errlen)
{
	const struct sweep_config *cfg = sw->cfg;
	uint64_t addrs = cfg->targets->count, shards = cfg->shards ? cfg->shards : 1;

	sw->pairs = addrs * sw->n_slots;
	if (sw->pairs / sw->n_slots != addrs || sw->pairs > MAX_PAIRS) {
		snprintf(err, errlen, "%llu addresses x %u probes each is more than one sweep can track",
			 (unsigned long long)addrs, sw->n_slots);
		return LNMT_E_TOOBIG;
	}
	sw->answered_len = (sw->pairs + 63) / 64 * 8;
	sw->alive_len = (addrs + 63) / 64 * 8;
	sw->answered = map_zeroed(sw->answered_len);
	sw->alive = map_zeroed(sw->alive_len);
	if (sw->arp_probe_no >= 0) {
		sw->arp_sent_len = addrs * sizeof(uint32_t);
		sw->arp_sent_us = map_zeroed(sw->arp_sent_len);
	}
	if (!sw->answered || !sw->alive || (sw->arp_probe_no >= 0 && !sw->arp_sent_us)) {
		snprintf(err, errlen, "cannot map the reply bitmaps (%zu bytes)", sw->answered_len);
		return -ENOMEM;
	}
	/* With shards, how many pairs fall in this shard is known once the first pass has walked
	 * it; until then "everything answered" cannot be true. */
	sw->probes = shards == 1 ? sw->pairs : UINT64_MAX;
	sw->probes_estimate = sw->pairs / shards;
	return 0;
}

/* The EtherType every reply has: ARP, IPv4, or 0 when the sweep mixes them. */
static uint16_t reply_ethertype(const struct sweep_config *cfg)
{
	unsigned arp = 0;

	for (unsigned i = 0; i < cfg->n_probes; i++)
		arp += cfg->probes[i] == &probe_arp;
	return arp == cfg->n_probes ? ETHERTYPE_ARP : arp ? 0 : ETHERTYPE_IP;
}

bool sweep_ipv4_link(const struct sweep_config *cfg, uint64_t probes)
{
	if (cfg->tx == TX_NULL || !cfg->kernel_routes || probes > RX_SOCKET_MAX_FRAMES)
		return false;
	for (unsigned i = 0; i < cfg->n_probes; i++)
		if (cfg->probes[i] != &probe_icmp && cfg->probes[i] != &probe_syn)
			return false;
	return cfg->n_probes > 0;
}

/* Opens the capture, sized for one pass's replies: raw IPv4 sockets for a sweep on the IPv4
 * link; else rx_plan() picks a packet socket for small sweeps (nothing to set up or wait for)
 * and a ring for large ones. */
static int open_rx(struct sweep *sw, char *err, size_t errlen)
{
	const struct sweep_config *cfg = sw->cfg;
	char filter[512];
	int rc;

	if ((rc = sweep_bpf_filter(cfg, filter, sizeof(filter))))
		return rc;
	const struct sweep_filter_prog *prog = sweep_filter_find(filter, false), *ip = sweep_filter_find(filter, true);
	struct rx_config c = {
		.ifname = cfg->ifname, .filter = filter, .ethertype = reply_ethertype(cfg),
		.frames = sw->probes_estimate, .buffer_bytes = cfg->rx_buffer_bytes,
		.program = prog ? prog->insns : NULL, .program_len = prog ? prog->len : 0,
		.kind = sw->link == TX_LINK_IPV4 ? RX_IPV4 : RX_AUTO, .local_ip = cfg->env.src_ip,
		.ip_program = ip ? ip->insns : NULL, .ip_program_len = ip ? ip->len : 0,
	};
	for (unsigned i = 0; i < cfg->n_probes; i++) {
		c.icmp |= cfg->probes[i] == &probe_icmp;
		c.tcp |= cfg->probes[i] == &probe_syn;
	}
	rc = rx_open(&sw->rx, &c, err, errlen);
	if (rc == -EPERM)
		snprintf(err, errlen, "packet capture needs CAP_NET_RAW: run as root, or grant it with "
				      "'setcap cap_net_raw+ep' on the lnmt binary");
	return rc;
}

/*
 * The receiver thread: opens a ring while the senders open their sockets (start() waits for
 * both; a small sweep's capture is open already), then waits until start() or stop_rx()
 * releases it, then receives.
 */
static void *rx_thread_main(void *arg)
{
	struct sweep *sw = arg;
	char err[256] = "";
	bool opened = sw->rx_opened; /* written before the thread was created, never after */
	int rc = opened ? 0 : open_rx(sw, err, sizeof(err));

	pthread_mutex_lock(&sw->lock);
	if (!opened) {
		sw->rx_open_rc = rc;
		snprintf(sw->rx_err, sizeof(sw->rx_err), "%s", err);
		sw->rx_opened = true;
		pthread_cond_broadcast(&sw->changed);
	}
	while (!sw->rx_released)
		pthread_cond_wait(&sw->changed, &sw->lock);
	pthread_mutex_unlock(&sw->lock);
	return rc ? NULL : sweep_rx_main(sw);
}

/*
 * Starts the receiver. A ring costs the kernel a grace period to set up (10-30 ms), which the
 * receiver thread spends while the senders start; a small sweep's sockets open in
 * microseconds, so they open here and the thread has nothing to report before it receives
 * (one wake-up less between the sweep's start and its first probe).
 */
static int start_rx(struct sweep *sw, char *err, size_t errlen)
{
	int rc;

	if (sw->cfg->tx == TX_NULL)
		return 0;
	if (sw->link == TX_LINK_IPV4 || sw->probes_estimate <= RX_SOCKET_MAX_FRAMES) {
		if ((rc = open_rx(sw, err, errlen)))
			return rc;
		sw->rx_opened = true;
		/* The senders send through the capture's packet socket, if it has one: one packet
		 * socket per small sweep for the kernel to release, not one per sender too. */
		sw->send_fd = rx_send_fd(sw->rx);
	}
	if ((rc = -pthread_create(&sw->rx_thread, NULL, rx_thread_main, sw))) {
		snprintf(err, errlen, "cannot start the receiver thread: %s", lnmt_strerror(rc));
		return rc;
	}
	pthread_setname_np(sw->rx_thread, "lnmt-rx"); /* names show in top -H, perf and gdb */
	sw->rx_running = true;
	return 0;
}

/* Waits until the receiver thread has opened the capture (or failed to). */
static int await_rx(struct sweep *sw, char *err, size_t errlen)
{
	int rc;

	if (!sw->rx_running)
		return 0;
	pthread_mutex_lock(&sw->lock);
	while (!sw->rx_opened)
		pthread_cond_wait(&sw->changed, &sw->lock);
	rc = sw->rx_open_rc;
	pthread_mutex_unlock(&sw->lock);
	if (rc)
		snprintf(err, errlen, "%s", sw->rx_err);
	return rc;
}

/* Lets the receiver thread go on: to receive once t0 is set, or to end (rx_stop set). */
static void release_rx(struct sweep *sw)
{
	pthread_mutex_lock(&sw->lock);
	sw->rx_released = true;
	pthread_cond_broadcast(&sw->changed);
	pthread_mutex_unlock(&sw->lock);
}

/* Stops the receiver: it drains what is queued and ends; rx_wake() cuts short a wait for
 * frames, so the sweep does not end up to a poll timeout after its last reply. */
static void stop_rx(struct sweep *sw)
{
	if (!sw->rx_running)
		return;
	__atomic_store_n(&sw->rx_stop, 1, __ATOMIC_RELEASE);
	release_rx(sw);
	if (sw->rx)
		rx_wake(sw->rx);
	pthread_join(sw->rx_thread, NULL);
	sw->rx_running = false;
}

static bool all_answered(const struct sweep *sw)
{
	return sweep_load(&sw->replies) >= sweep_load(&sw->probes);
}

const char *sweep_end_name(enum sweep_end e)
{
	switch (e) {
	case SWEEP_END_ALL_ANSWERED: return "all-answered";
	case SWEEP_END_WAIT: return "wait";
	case SWEEP_END_STOPPED: return "stopped";
	case SWEEP_END_QUIET: return "quiet";
	}
	return "unknown";
}

static struct quiet_rule quiet_rule(const struct sweep *sw)
{
	return (struct quiet_rule){
		.floor_ns = QUIET_FLOOR_NS, .factor = QUIET_FACTOR, .no_reply_ns = NO_REPLY_WAIT_NS,
		.cap_ns = sw->cfg->wait_ns,
	};
}

/*
 * Waits until the network has been quiet long enough that further replies are improbable (no
 * probe and no new reply for sweep_quiet_ns()), but not before not_before; or until everything
 * answered, cap (an absolute time), or a stop above allowed_stop. The quiet time is computed
 * afresh on every wake-up, since every reply can move the RTT quantile it rests on.
 */
static enum sweep_end wait_quiet(struct sweep *sw, uint64_t cap, uint64_t not_before, int allowed_stop,
				 struct sweep_stats *st)
{
	const struct quiet_rule rule = quiet_rule(sw);
	enum sweep_end why;

	pthread_mutex_lock(&sw->lock);
	for (;;) {
		uint64_t now = clock_now_ns(), high;
		if (all_answered(sw)) {
			why = SWEEP_END_ALL_ANSWERED;
			break;
		}
		if (sweep_stop_level(sw) > allowed_stop) {
			why = SWEEP_END_STOPPED;
			break;
		}
		if (now >= cap) {
			why = SWEEP_END_WAIT;
			break;
		}
		uint64_t quiet = sweep_quiet_ns(sw->rtt, sw->cfg->n_probes, &rule, &high);
		uint64_t last_reply = sweep_load(&sw->last_reply_ns);
		uint64_t since = last_reply > sw->last_probe_ns ? last_reply : sw->last_probe_ns;
		uint64_t due = since + quiet > not_before ? since + quiet : not_before;
		st->rtt_high_ns = high;
		if (now >= due) {
			st->quiet_ns = now - since;
			why = SWEEP_END_QUIET;
			break;
		}
		uint64_t until = due < cap ? due : cap;
		if (until > now + WAIT_SLICE_NS)
			until = now + WAIT_SLICE_NS;
		sweep_wait_changed(sw, until);
	}
	pthread_mutex_unlock(&sw->lock);
	return why;
}

/* After the first pass: with shards, the pairs it walked are this shard's probes. */
static void count_probes(struct sweep *sw)
{
	if (sweep_load(&sw->probes) == UINT64_MAX && !sweep_stop_level(sw))
		__atomic_store_n(&sw->probes, sweep_walked(sw), __ATOMIC_RELAXED);
}

static uint64_t unanswered(const struct sweep *sw)
{
	uint64_t probes = sweep_load(&sw->probes), replies = sweep_load(&sw->replies);
	return probes == UINT64_MAX || replies >= probes ? 0 : probes - replies;
}

/* Sends pass number sw->n_passes at rate_pps (0: unpaced) and records what it sent. */
static int send_pass(struct sweep *sw, uint64_t rate_pps, char *err, size_t errlen)
{
	unsigned k = sw->n_passes;
	uint64_t sent0 = sweep_sent(sw), t = clock_now_ns();

	sw->pass = k;
	__atomic_store_n(&sw->phase, k ? SWEEP_PHASE_RETRYING : SWEEP_PHASE_SENDING, __ATOMIC_RELAXED);
	sw->pass_start_replies[k] = sweep_load(&sw->replies);
	int rc = sweep_senders_run_pass(sw, rate_pps, err, errlen);
	uint64_t end = clock_now_ns();
	struct pass_stat *p = &sw->passes[k];
	p->sent = sweep_sent(sw) - sent0;
	p->paced = rate_pps != 0;
	p->rate_pps = rate_pps ? rate_pps : end > t ? (uint64_t)((double)p->sent * 1e9 / (double)(end - t)) : 0;
	p->start_ns = t - sw->t0;
	p->send_ns = end - t;
	sw->last_probe_ns = end;
	sw->n_passes = k + 1;
	return rc;
}

/* The replies of the latest pass (and late ones to earlier passes) that came in before now. */
/* The replies of the latest pass (and late ones to earlier passes) that came in before now,
 * and the window they came in: from its first probe to the last of them (not to now: the quiet
 * wait after the last reply is no part of the rate they arrived at). */
static void close_pass(struct sweep *sw, const struct sweep_stats *st)
{
	struct pass_stat *p = &sw->passes[sw->n_passes - 1];
	uint64_t start = sw->t0 + p->start_ns, now = clock_now_ns(), last = sweep_load(&sw->last_reply_ns);
	uint64_t end = last > sw->last_probe_ns ? last : sw->last_probe_ns;

	p->found = sweep_load(&sw->replies) - sw->pass_start_replies[sw->n_passes - 1];
	p->interval_ns = (end < now ? end : now) - start;
	p->gap_ns = now - sw->last_probe_ns;
	p->rtt_high_ns = st->rtt_high_ns;
}

static int run_passes(struct sweep *sw, struct sweep_stats *st, char *err, size_t errlen)
{
	const struct sweep_config *cfg = sw->cfg;
	bool dry = cfg->tx == TX_NULL;
	uint64_t rate = cfg->rate_pps;
	int rc = send_pass(sw, rate, err, errlen);

	count_probes(sw);
	st->first_rate_pps = sw->passes[0].rate_pps;
	while (!rc && !dry && sw->n_passes <= cfg->retries && sw->n_passes < SWEEP_MAX_PASSES) {
		if (all_answered(sw) || sweep_stop_level(sw))
			break;
		/* The gap: the previous pass's replies settle before its yield is judged. */
		wait_quiet(sw, sw->last_probe_ns + cfg->wait_ns, 0, 0, st);
		if (all_answered(sw) || sweep_stop_level(sw))
			break;
		close_pass(sw, st);
		struct retry_verdict v = sweep_retry_decide(sw->passes, sw->n_passes, cfg->rate_fixed, cfg->rate_pps);
		st->loss_measured = v.measured;
		st->loss = v.loss;
		st->missed = v.missed;
		if (!v.again)
			break;
		if (v.rate_pps == SWEEP_RATE_UNPACED) {
			rate = 0; /* slowing down did not help: back to full speed */
			__atomic_store_n(&sw->slowed_pps, 0, __ATOMIC_RELAXED);
		} else if (v.rate_pps) {
			rate = v.rate_pps;
			__atomic_store_n(&sw->slowed_pps, rate, __ATOMIC_RELAXED);
			if (!st->slowed_pps) {
				st->slowed_pass = sw->n_passes;
				st->slowed_loss = v.loss;
			}
		}
		st->slowed_pps = sweep_load(&sw->slowed_pps);
		rc = send_pass(sw, rate, err, errlen);
	}
	st->send_ns = sw->last_probe_ns - sw->t0;
	if (dry || rc)
		return rc;
	__atomic_store_n(&sw->phase, SWEEP_PHASE_WAITING, __ATOMIC_RELAXED);
	uint64_t now = clock_now_ns();
	if (sweep_stop_level(sw)) {
		uint64_t grace = now + (GRACE_NS < cfg->wait_ns ? GRACE_NS : cfg->wait_ns);
		wait_quiet(sw, grace, grace, 1, st);
		sw->ended = SWEEP_END_STOPPED;
		return 0;
	}
	uint64_t cap = sw->last_probe_ns + cfg->wait_ns, not_before = 0;
	if (cfg->wait_fixed) {
		not_before = cap;
	} else if (sweep_dense_silence(unanswered(sw), sweep_load(&sw->probes))) {
		st->stragglers = true;
		not_before = sw->last_probe_ns + (STRAGGLER_NS < cfg->wait_ns ? STRAGGLER_NS : cfg->wait_ns);
	}
	sw->ended = wait_quiet(sw, cap, not_before, 0, st);
	return 0;
}

static void fill_stats(const struct sweep *sw, struct sweep_stats *st)
{
	uint64_t probes = sweep_load(&sw->probes);

	st->addresses = sw->cfg->targets->count;
	st->probes = probes == UINT64_MAX ? sweep_walked(sw) : probes;
	st->sent = sweep_sent(sw);
	st->replies = sweep_load(&sw->replies);
	st->duplicates = sweep_load(&sw->dups);
	st->live = sweep_load(&sw->live);
	st->rx_dropped = sw->rx ? rx_dropped(sw->rx) : 0;
	st->senders = sw->n_senders;
	st->held_back_ns = sweep_held_back_ns(sw);
	st->queue_peak = sweep_load(&sw->queue_peak);
	st->queue_peak_bytes = result_queue_peak_bytes(&sw->results);
	st->lost = sweep_load(&sw->lost);
	st->rx_yields = sweep_load(&sw->rx_yields);
	st->passes = sw->n_passes;
	for (unsigned i = 0; i < sw->n_passes; i++) {
		st->pass[i] = sw->passes[i];
		st->pass[i].found = (i + 1 < sw->n_passes ? sw->pass_start_replies[i + 1] : st->replies) -
				    sw->pass_start_replies[i];
	}
	if (sweep_stop_level(sw))
		st->ended = SWEEP_END_STOPPED;
	else if (st->replies >= st->probes)
		st->ended = SWEEP_END_ALL_ANSWERED;
	else
		st->ended = sw->ended;
}

static void sweep_free(struct sweep *sw)
{
	sweep_senders_stop(sw);
	stop_rx(sw);
	sweep_deliver_finish(sw);
	result_queue_fini(&sw->results);
	rx_close(sw->rx); /* neither this nor the senders' close waits for the kernel (sockclose.h) */
	if (sw->answered)
		munmap(sw->answered, sw->answered_len);
	if (sw->alive)
		munmap(sw->alive, sw->alive_len);
	if (sw->arp_sent_us)
		munmap(sw->arp_sent_us, sw->arp_sent_len);
	free(sw->slots);
	pthread_cond_destroy(&sw->wake);
	pthread_cond_destroy(&sw->changed);
	pthread_mutex_destroy(&sw->lock);
}

static void sweep_init(struct sweep *sw)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&sw->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sw->changed, &ca);
	pthread_cond_init(&sw->wake, &ca);
	pthread_condattr_destroy(&ca);
	sw->send_fd = -1;
	sw->batch = sw->cfg->batch ? sw->cfg->batch : DEFAULT_BATCH;
	if (sw->batch > SWEEP_MAX_BATCH)
		sw->batch = SWEEP_MAX_BATCH;
}

static int start(struct sweep *sw, char *err, size_t errlen)
{
	const struct sweep_config *cfg = sw->cfg;
	int rc;

	if (!cfg->n_probes || cfg->n_probes > SWEEP_MAX_PROBES || !cfg->targets->finalized) {
		snprintf(err, errlen, "sweep needs 1 to %d probes and finalized targets", SWEEP_MAX_PROBES);
		return -EINVAL;
	}
	if ((rc = cookie_key_random(&sw->env.key))) {
		snprintf(err, errlen, "getrandom: %s", lnmt_strerror(rc));
		return rc;
	}
	if ((rc = result_queue_init(&sw->results))) {
		snprintf(err, errlen, "cannot allocate the result queue");
		return rc;
	}
	if ((rc = plan_slots(sw, err, errlen)) || (rc = alloc_state(sw, err, errlen)))
		return rc;
	sw->link = sweep_ipv4_link(cfg, sw->probes_estimate) ? TX_LINK_IPV4 : TX_LINK_PACKET;
	if ((rc = start_rx(sw, err, errlen)))
		return rc;
	/* The capture opens on the receiver thread while the senders open their sockets; the
	 * first probe leaves only once both are ready, so no reply can come too early. */
	char rx_err[256] = "";
	rc = sweep_senders_start(sw, err, errlen);
	int rx_rc = await_rx(sw, rx_err, sizeof(rx_err));
	if (!rc && rx_rc) {
		snprintf(err, errlen, "%s", rx_err);
		rc = rx_rc;
	}
	if (rc || (rc = sweep_deliver_start(sw, err, errlen)))
		return rc;
	sw->t0 = sw->last_progress = clock_now_ns();
	__atomic_store_n(&sw->rx_heartbeat_ns, sw->t0, __ATOMIC_RELAXED);
	release_rx(sw);
	return 0;
}

int sweep_run(const struct sweep_config *cfg, const struct sweep_sink *sink,
	      const volatile sig_atomic_t *stop, struct sweep_stats *st, char *err, size_t errlen)
{
	struct sweep sw = { .cfg = cfg, .sink = sink, .stop = stop, .env = cfg->env };
	int rc;

	memset(st, 0, sizeof(*st));
	sweep_init(&sw);
	if (!(rc = start(&sw, err, errlen))) {
		rc = run_passes(&sw, st, err, errlen);
		stop_rx(&sw);
		st->elapsed_ns = clock_now_ns() - sw.t0;
		sweep_deliver_finish(&sw);
		sweep_report_progress(&sw, clock_now_ns(), true);
	}
	if (sw.n_senders && sw.senders[0].tx) {
		st->tx_name = tx_name(sw.senders[0].tx);
		st->tx_link = tx_link_name(sw.senders[0].tx);
		st->tx_fallback = tx_fallback_reason(sw.senders[0].tx);
	}
	if (sw.rx)
		st->rx_name = rx_name(sw.rx);
	fill_stats(&sw, st);
	if (sink->ended)
		sink->ended(sink->ctx, st, rc != 0);
	sweep_free(&sw);
	return rc;
}
