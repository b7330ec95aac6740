/* SPDX-License-Identifier: MIT */
/*
 * sweep.c: a sweep from set-up to stats: lays out the slots and templates, maps the bitmaps,
 * starts the receiver (which opens the capture) and the senders side by side, runs the passes
 * with the retry gaps, waits out the cooldown and collects the figures. The hot loops are in
 * sweep_tx.c and sweep_rx.c.
 */
#include "sweep_int.h"

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
#define RETRY_GAP_MIN_NS 20000000ull /* pause before a retry pass: at least 20 ms ... */
#define RETRY_GAP_RTTS 4             /* ... or 4x the slowest RTT seen, capped by wait */
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
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < cfg->n_probes; i++) {
		int n = snprintf(buf + off, len - off, "%s(%s)", i ? " or " : "", cfg->probes[i]->bpf_filter);
		if (n < 0 || (size_t)n >= len - off)
			return LNMT_E_TOOBIG;
		off += (size_t)n;
	}
	return 0;
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

/* Opens the capture, sized for one pass's replies: rx_plan() picks a packet socket for small
 * sweeps (nothing to set up or wait for) and a ring for large ones. */
static int open_rx(struct sweep *sw, char *err, size_t errlen)
{
	char filter[512];
	int rc;

	if ((rc = sweep_bpf_filter(sw->cfg, filter, sizeof(filter))))
		return rc;
	struct rx_config c = {
		.ifname = sw->cfg->ifname, .filter = filter, .ethertype = reply_ethertype(sw->cfg),
		.frames = sw->probes_estimate, .buffer_bytes = sw->cfg->rx_buffer_bytes,
	};
	rc = rx_open(&sw->rx, &c, err, errlen);
	if (rc == -EPERM)
		snprintf(err, errlen, "packet capture needs CAP_NET_RAW: run as root, or grant it with "
				      "'setcap cap_net_raw+ep' on the lnmt binary");
	return rc;
}

/*
 * The receiver thread: opens the capture while the senders open their sockets (start() waits
 * for both), then waits until start() or stop_rx() releases it, then receives.
 */
static void *rx_thread_main(void *arg)
{
	struct sweep *sw = arg;
	char err[256] = "";
	int rc = open_rx(sw, err, sizeof(err));

	pthread_mutex_lock(&sw->lock);
	sw->rx_open_rc = rc;
	snprintf(sw->rx_err, sizeof(sw->rx_err), "%s", err);
	sw->rx_opened = true;
	pthread_cond_broadcast(&sw->changed);
	while (!sw->rx_released)
		pthread_cond_wait(&sw->changed, &sw->lock);
	pthread_mutex_unlock(&sw->lock);
	return rc ? NULL : sweep_rx_main(sw);
}

static int start_rx(struct sweep *sw, char *err, size_t errlen)
{
	int rc;

	if (sw->cfg->tx == TX_NULL)
		return 0;
	if ((rc = -pthread_create(&sw->rx_thread, NULL, rx_thread_main, sw))) {
		snprintf(err, errlen, "cannot start the receiver thread: %s", lnmt_strerror(rc));
		return rc;
	}
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

/* Waits until deadline, everything answered, or a stop at a level above allowed_stop. */
static void wait_replies(struct sweep *sw, uint64_t deadline, int allowed_stop)
{
	pthread_mutex_lock(&sw->lock);
	for (;;) {
		uint64_t now = clock_now_ns();
		if (now >= deadline || all_answered(sw) || sweep_stop_level(sw) > allowed_stop)
			break;
		sweep_wait_changed(sw, deadline < now + WAIT_SLICE_NS ? deadline : now + WAIT_SLICE_NS);
	}
	pthread_mutex_unlock(&sw->lock);
}

static uint64_t retry_gap(const struct sweep *sw)
{
	uint64_t gap = RETRY_GAP_RTTS * sweep_load(&sw->max_rtt_ns);
	if (gap < RETRY_GAP_MIN_NS)
		gap = RETRY_GAP_MIN_NS;
	return gap < sw->cfg->wait_ns ? gap : sw->cfg->wait_ns;
}

/* After the first pass: with shards, the pairs it walked are this shard's probes. */
static void count_probes(struct sweep *sw)
{
	if (sweep_load(&sw->probes) == UINT64_MAX && !sweep_stop_level(sw))
		__atomic_store_n(&sw->probes, sweep_walked(sw), __ATOMIC_RELAXED);
}

static int run_passes(struct sweep *sw, struct sweep_stats *st, char *err, size_t errlen)
{
	const struct sweep_config *cfg = sw->cfg;
	bool dry = cfg->tx == TX_NULL;
	int rc = 0;

	for (sw->pass = 0; sw->pass <= cfg->retries; sw->pass++) {
		if (sw->pass > 0) {
			if (dry || all_answered(sw) || sweep_stop_level(sw))
				break;
			wait_replies(sw, clock_now_ns() + retry_gap(sw), 0);
			if (all_answered(sw) || sweep_stop_level(sw))
				break;
		}
		if ((rc = sweep_senders_run_pass(sw, err, errlen)))
			break;
		if (sw->pass == 0)
			count_probes(sw);
	}
	uint64_t last_send = clock_now_ns();
	st->send_ns = last_send - sw->t0;
	sw->pass = cfg->retries + 1;
	if (dry || rc)
		return rc;
	if (sweep_stop_level(sw))
		wait_replies(sw, clock_now_ns() + (GRACE_NS < cfg->wait_ns ? GRACE_NS : cfg->wait_ns), 1);
	else
		wait_replies(sw, last_send + cfg->wait_ns, 0);
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
	if (sweep_stop_level(sw))
		st->ended = SWEEP_END_STOPPED;
	else if (st->replies >= st->probes)
		st->ended = SWEEP_END_ALL_ANSWERED;
	else
		st->ended = SWEEP_END_WAIT;
}

static void sweep_free(struct sweep *sw)
{
	sweep_senders_stop(sw);
	stop_rx(sw);
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
	if ((rc = plan_slots(sw, err, errlen)) || (rc = alloc_state(sw, err, errlen)) ||
	    (rc = start_rx(sw, err, errlen)))
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
	if (rc)
		return rc;
	sw->t0 = sw->last_progress = clock_now_ns();
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
		sweep_report_progress(&sw, clock_now_ns(), true);
	}
	if (sw.n_senders && sw.senders[0].tx) {
		st->tx_name = tx_name(sw.senders[0].tx);
		st->tx_fallback = tx_fallback_reason(sw.senders[0].tx);
	}
	if (sw.rx)
		st->rx_name = rx_name(sw.rx);
	fill_stats(&sw, st);
	sweep_free(&sw);
	return rc;
}
