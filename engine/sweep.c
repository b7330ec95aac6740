/* SPDX-License-Identifier: MIT */
/* sweep.c: the sweep state machine: send passes, the receiver thread, retries and cooldown. */
#include "sweep.h"

#include "clock.h"
#include "cookie.h"
#include "err.h"
#include "permute.h"
#include "ratelimit.h"
#include "rx.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define DEFAULT_BATCH 64
/* The capture ring: room for every reply of a sweep up to ~400k probes, 64 MiB at most. The
 * kernel zeroes the whole ring before the first probe leaves (~1.5 ms per MiB here), so a ring
 * sized for the sweep rather than the largest sweep starts small sweeps ~80 ms sooner. */
#define RX_BYTES_PER_PROBE 160u
#define RX_BUFFER_MIN (4u << 20)
#define RX_BUFFER_MAX (64u << 20)
#define DEFAULT_PROGRESS_NS 250000000ull
#define GRACE_NS 250000000ull        /* replies drained after a first Ctrl-C */
#define RETRY_GAP_MIN_NS 20000000ull /* pause before a retry pass: at least 20 ms ... */
#define RETRY_GAP_RTTS 4             /* ... or 4x the slowest RTT seen, capped by wait */
#define WAIT_SLICE_NS 50000000ull    /* how often waits look at *stop and report progress */
#define SPIN_BELOW_NS 100000ull      /* shorter pacing waits spin: nanosleep overshoots them */

struct slot {
	const struct probe_ops *probe;
	unsigned probe_no; /* index into cfg->probes and the templates */
	uint16_t port;
};

struct sweep {
	const struct sweep_config *cfg;
	const struct sweep_sink *sink;
	const volatile sig_atomic_t *stop;
	struct probe_env env;
	struct slot *slots;
	unsigned n_slots;
	unsigned slot_base[SWEEP_MAX_PROBES];
	uint8_t tmpl[SWEEP_MAX_PROBES][PROBE_FRAME_MAX];
	uint16_t tmpl_len[SWEEP_MAX_PROBES];
	int arp_probe_no;            /* -1 when ARP is not swept */
	uint32_t *arp_sent_us;       /* per address: last ARP send, us since t0 */
	uint64_t *answered;          /* bit per (address, slot) */
	uint64_t *alive;             /* bit per address */
	size_t answered_len, alive_len, arp_sent_len;
	uint64_t probes;             /* pairs in this shard (atomic; UINT64_MAX until known) */
	uint64_t probes_estimate;    /* for progress before the count is known */
	uint64_t walked;             /* pairs the first pass has visited */
	struct permute pm;
	struct tx *tx;
	struct rx *rx;
	pthread_t rx_thread;
	bool rx_running;
	int rx_stop;                 /* atomic */
	uint64_t t0;
	uint64_t last_progress;
	unsigned pass;
	/* Counters the receiver writes and the sender reads (atomics). */
	uint64_t replies, dups, live, max_rtt_ns, invalid;
	uint64_t sent, sent_first_pass;
	pthread_mutex_t lock;
	pthread_cond_t all_answered;
};

static void *map_zeroed(size_t len)
{
	/* NORESERVE and lazily faulted: a bitmap over 2^33 pairs costs address space, and
	 * resident memory only where replies land. */
	void *p = mmap(NULL, len ? len : 1, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static bool bit_test_and_set(uint64_t *bits, uint64_t i)
{
	uint64_t mask = 1ull << (i & 63);
	return __atomic_fetch_or(&bits[i >> 6], mask, __ATOMIC_RELAXED) & mask;
}

static bool bit_test(const uint64_t *bits, uint64_t i)
{
	return __atomic_load_n(&bits[i >> 6], __ATOMIC_RELAXED) & (1ull << (i & 63));
}

static uint64_t load(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
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

/* Lays out the slots: one per non-port probe, one per port for port probes. */
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
	sw->slots = calloc(n, sizeof(*sw->slots));
	if (!sw->slots)
		return -ENOMEM;
	sw->n_slots = 0;
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
	uint64_t addrs = cfg->targets->count;
	uint64_t pairs = addrs * sw->n_slots;

	if (pairs / sw->n_slots != addrs || pairs > (1ull << 44)) {
		snprintf(err, errlen, "%llu addresses x %u probes each is more than one sweep can track",
			 (unsigned long long)addrs, sw->n_slots);
		return LNMT_E_TOOBIG;
	}
	sw->answered_len = (pairs + 63) / 64 * 8;
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
	int rc = permute_init(&sw->pm, pairs, cfg->seed, cfg->shard, cfg->shards ? cfg->shards : 1);
	if (rc) {
		snprintf(err, errlen, "bad shard %u/%u", cfg->shard, cfg->shards);
		return rc;
	}
	/* With shards, how many pairs fall in this shard is known once the first pass has walked
	 * it; until then "everything answered" cannot be true. */
	sw->probes = (cfg->shards ? cfg->shards : 1) == 1 ? pairs : UINT64_MAX;
	sw->probes_estimate = pairs / (cfg->shards ? cfg->shards : 1);
	return 0;
}

/* ---- receiver thread ---- */

static void handle_reply(struct sweep *sw, const struct probe_ops *p, unsigned probe_no,
			 const struct probe_reply *r, uint64_t ts)
{
	uint64_t addr_idx, slot = sw->slot_base[probe_no];
	size_t pos;

	if (!target_set_index(sw->cfg->targets, r->ip, &addr_idx))
		goto invalid;
	if (p->uses_port) {
		if (!port_list_index(sw->cfg->ports, r->port, &pos))
			goto invalid;
		slot += pos;
	}
	uint64_t idx = addr_idx * sw->n_slots + slot;
	if (bit_test_and_set(sw->answered, idx)) {
		__atomic_fetch_add(&sw->dups, 1, __ATOMIC_RELAXED);
		return;
	}
	uint64_t sent_ns = r->has_sent_ns ? r->sent_ns
					  : sw->t0 + (uint64_t)__atomic_load_n(&sw->arp_sent_us[addr_idx],
									       __ATOMIC_RELAXED) * 1000;
	uint64_t rtt = ts > sent_ns ? ts - sent_ns : 0;
	if (rtt > load(&sw->max_rtt_ns))
		__atomic_store_n(&sw->max_rtt_ns, rtt, __ATOMIC_RELAXED);
	if (!bit_test_and_set(sw->alive, addr_idx))
		__atomic_fetch_add(&sw->live, 1, __ATOMIC_RELAXED);
	struct sweep_result res = {
		.ip = r->ip, .port = r->port, .probe = p, .state = r->state, .ttl = r->ttl,
		.has_mac = r->has_mac, .rtt_us = (uint32_t)(rtt / 1000),
	};
	memcpy(res.mac, r->mac, 6);
	sw->sink->result(sw->sink->ctx, &res);
	if (__atomic_add_fetch(&sw->replies, 1, __ATOMIC_RELAXED) == load(&sw->probes)) {
		pthread_mutex_lock(&sw->lock);
		pthread_cond_signal(&sw->all_answered);
		pthread_mutex_unlock(&sw->lock);
	}
	return;
invalid:
	__atomic_fetch_add(&sw->invalid, 1, __ATOMIC_RELAXED);
}

static void on_frame(void *ctx, const uint8_t *frame, size_t len, uint64_t ts)
{
	struct sweep *sw = ctx;
	struct probe_reply r;

	for (unsigned i = 0; i < sw->cfg->n_probes; i++) {
		const struct probe_ops *p = sw->cfg->probes[i];
		if (p->parse(&sw->env, frame, len, ts, &r)) {
			handle_reply(sw, p, i, &r, ts);
			return;
		}
	}
	__atomic_fetch_add(&sw->invalid, 1, __ATOMIC_RELAXED);
}

static void *rx_main(void *arg)
{
	struct sweep *sw = arg;

	while (!__atomic_load_n(&sw->rx_stop, __ATOMIC_ACQUIRE))
		rx_dispatch(sw->rx, on_frame, sw, 20);
	rx_dispatch(sw->rx, on_frame, sw, 0); /* what landed before the stop */
	return NULL;
}

/* ---- sending ---- */

static int stop_level(const struct sweep *sw)
{
	return sw->stop ? *sw->stop : 0;
}

static void report_progress(struct sweep *sw, uint64_t now, bool force)
{
	uint64_t every = sw->sink->progress_interval_ns ? sw->sink->progress_interval_ns : DEFAULT_PROGRESS_NS;

	if (!sw->sink->progress || (!force && now - sw->last_progress < every))
		return;
	sw->last_progress = now;
	struct sweep_progress pr = {
		.probes = sw->probes_estimate, .sent = sw->sent, .replies = load(&sw->replies),
		.live = load(&sw->live), .elapsed_ns = now - sw->t0, .pass = sw->pass,
		.sent_first_pass = sw->sent_first_pass,
	};
	sw->sink->progress(sw->sink->ctx, &pr);
}

static int flush(struct sweep *sw, struct ratelimit *rl, const uint16_t *lens, unsigned n,
		 char *err, size_t errlen)
{
	unsigned sent = 0;
	int rc = tx_send(sw->tx, lens, n, &sent);

	sw->sent += sent;
	if (sw->pass == 0)
		sw->sent_first_pass += sent;
	ratelimit_consume(rl, sent);
	if (rc)
		snprintf(err, errlen, "sending on %s (%s): %s", sw->cfg->ifname ? sw->cfg->ifname : "?",
			 tx_name(sw->tx), lnmt_strerror(rc));
	return rc;
}

/* Blocks until at least one packet is due; returns how many are (capped at batch). */
static unsigned await_budget(struct sweep *sw, struct ratelimit *rl, unsigned batch)
{
	for (;;) {
		uint64_t now = clock_now_ns();
		uint64_t allow = ratelimit_allowance(rl, now);
		if (allow)
			return allow < batch ? (unsigned)allow : batch;
		if (stop_level(sw))
			return 0;
		uint64_t due = ratelimit_next_due_ns(rl);
		if (due > now + SPIN_BELOW_NS) {
			uint64_t ns = due - now - SPIN_BELOW_NS / 2;
			struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
			nanosleep(&ts, NULL);
		}
		report_progress(sw, now, false);
	}
}

static int send_pass(struct sweep *sw, struct ratelimit *rl, unsigned batch, char *err, size_t errlen)
{
	uint16_t lens[1024];
	unsigned n = 0, budget = 0;
	uint64_t idx;
	int rc = 0;

	permute_rewind(&sw->pm);
	while (permute_next(&sw->pm, &idx)) {
		if (sw->pass > 0 && bit_test(sw->answered, idx))
			continue;
		if (sw->pass == 0)
			sw->walked++;
		if (n == 0) {
			if (stop_level(sw))
				break;
			budget = await_budget(sw, rl, batch);
			if (!budget)
				break;
		}
		uint64_t addr_idx = idx / sw->n_slots;
		const struct slot *s = &sw->slots[idx % sw->n_slots];
		struct probe_target t = { .ip = target_set_addr(sw->cfg->targets, addr_idx), .port = s->port };
		uint8_t *frame = tx_frame(sw->tx, n);
		uint64_t now = clock_now_ns();
		memcpy(frame, sw->tmpl[s->probe_no], sw->tmpl_len[s->probe_no]);
		s->probe->patch(&sw->env, frame, &t, now);
		if ((int)s->probe_no == sw->arp_probe_no)
			__atomic_store_n(&sw->arp_sent_us[addr_idx], (uint32_t)((now - sw->t0) / 1000), __ATOMIC_RELAXED);
		lens[n++] = sw->tmpl_len[s->probe_no];
		if (n == budget) {
			if ((rc = flush(sw, rl, lens, n, err, errlen)))
				return rc;
			n = 0;
			report_progress(sw, now, false);
		}
	}
	if (n)
		rc = flush(sw, rl, lens, n, err, errlen);
	if (!rc && sw->pass == 0 && !stop_level(sw))
		__atomic_store_n(&sw->probes, sw->walked, __ATOMIC_RELAXED);
	return rc;
}

/* Waits until deadline, everything answered, or a stop at level > allowed_stop. */
static void wait_replies(struct sweep *sw, uint64_t deadline, int allowed_stop)
{
	pthread_mutex_lock(&sw->lock);
	for (;;) {
		uint64_t now = clock_now_ns();
		if (now >= deadline || load(&sw->replies) >= load(&sw->probes) || stop_level(sw) > allowed_stop)
			break;
		uint64_t until = deadline < now + WAIT_SLICE_NS ? deadline : now + WAIT_SLICE_NS;
		struct timespec ts = { (time_t)(until / 1000000000u), (long)(until % 1000000000u) };
		pthread_cond_timedwait(&sw->all_answered, &sw->lock, &ts);
		pthread_mutex_unlock(&sw->lock);
		report_progress(sw, clock_now_ns(), false);
		pthread_mutex_lock(&sw->lock);
	}
	pthread_mutex_unlock(&sw->lock);
}

static uint64_t retry_gap(const struct sweep *sw)
{
	uint64_t gap = RETRY_GAP_RTTS * load(&sw->max_rtt_ns);
	if (gap < RETRY_GAP_MIN_NS)
		gap = RETRY_GAP_MIN_NS;
	return gap < sw->cfg->wait_ns ? gap : sw->cfg->wait_ns;
}

static int run_passes(struct sweep *sw, struct sweep_stats *st, char *err, size_t errlen)
{
	const struct sweep_config *cfg = sw->cfg;
	unsigned batch = cfg->batch ? cfg->batch : DEFAULT_BATCH;
	bool dry = cfg->tx == TX_NULL;
	struct ratelimit rl;
	int rc = 0;

	if (batch > 1024)
		batch = 1024;
	ratelimit_init(&rl, cfg->rate_pps, batch, sw->t0);
	for (sw->pass = 0; sw->pass <= cfg->retries; sw->pass++) {
		if (sw->pass > 0) {
			if (dry || load(&sw->replies) >= load(&sw->probes) || stop_level(sw))
				break;
			wait_replies(sw, clock_now_ns() + retry_gap(sw), 0);
			if (load(&sw->replies) >= load(&sw->probes) || stop_level(sw))
				break;
		}
		if ((rc = send_pass(sw, &rl, batch, err, errlen)))
			break;
	}
	uint64_t last_send = clock_now_ns();
	st->send_ns = last_send - sw->t0;
	sw->pass = cfg->retries + 1;
	if (dry || rc)
		return rc;
	if (stop_level(sw))
		wait_replies(sw, clock_now_ns() + (GRACE_NS < cfg->wait_ns ? GRACE_NS : cfg->wait_ns), 1);
	else
		wait_replies(sw, last_send + cfg->wait_ns, 0);
	return 0;
}

static size_t rx_buffer_bytes(const struct sweep *sw)
{
	if (sw->cfg->rx_buffer_bytes)
		return sw->cfg->rx_buffer_bytes;
	uint64_t want = sw->probes_estimate * RX_BYTES_PER_PROBE;
	return want < RX_BUFFER_MIN ? RX_BUFFER_MIN : want > RX_BUFFER_MAX ? RX_BUFFER_MAX : want;
}

static int open_io(struct sweep *sw, char *err, size_t errlen)
{
	const struct sweep_config *cfg = sw->cfg;
	unsigned batch = cfg->batch ? cfg->batch : DEFAULT_BATCH;
	char filter[512];
	int rc;

	rc = tx_open(&sw->tx, cfg->tx, cfg->ifindex, batch > 1024 ? 1024 : batch, PROBE_FRAME_MAX);
	if (rc == -EPERM || rc == -EACCES) {
		snprintf(err, errlen, "raw sockets need CAP_NET_RAW: run as root, or grant it with "
				      "'setcap cap_net_raw+ep' on the lnmt binary");
		return -EPERM;
	}
	if (rc) {
		snprintf(err, errlen, "cannot open the %s sender on %s: %s",
			 cfg->tx == TX_URING ? "io_uring" : "packet", cfg->ifname ? cfg->ifname : "?",
			 lnmt_strerror(rc));
		return rc;
	}
	if (cfg->tx == TX_NULL)
		return 0;
	if ((rc = sweep_bpf_filter(cfg, filter, sizeof(filter))))
		return rc;
	rc = rx_open(&sw->rx, cfg->ifname, filter, rx_buffer_bytes(sw), err, errlen);
	if (rc == -EPERM)
		snprintf(err, errlen, "packet capture needs CAP_NET_RAW: run as root, or grant it with "
				      "'setcap cap_net_raw+ep' on the lnmt binary");
	return rc;
}

static void fill_stats(const struct sweep *sw, struct sweep_stats *st)
{
	st->addresses = sw->cfg->targets->count;
	st->probes = load(&sw->probes) == UINT64_MAX ? sw->walked : load(&sw->probes);
	st->sent = sw->sent;
	st->replies = load(&sw->replies);
	st->duplicates = load(&sw->dups);
	st->live = load(&sw->live);
	st->rx_dropped = sw->rx ? rx_dropped(sw->rx) : 0;
	st->tx_name = sw->tx ? tx_name(sw->tx) : NULL;
	st->tx_fallback = sw->tx ? tx_fallback_reason(sw->tx) : NULL;
	if (stop_level(sw))
		st->ended = SWEEP_END_STOPPED;
	else if (st->replies >= st->probes)
		st->ended = SWEEP_END_ALL_ANSWERED;
	else
		st->ended = SWEEP_END_WAIT;
}

static void sweep_free(struct sweep *sw)
{
	if (sw->rx_running) {
		__atomic_store_n(&sw->rx_stop, 1, __ATOMIC_RELEASE);
		pthread_join(sw->rx_thread, NULL);
	}
	rx_close(sw->rx);
	tx_close(sw->tx);
	if (sw->answered)
		munmap(sw->answered, sw->answered_len);
	if (sw->alive)
		munmap(sw->alive, sw->alive_len);
	if (sw->arp_sent_us)
		munmap(sw->arp_sent_us, sw->arp_sent_len);
	free(sw->slots);
	pthread_cond_destroy(&sw->all_answered);
	pthread_mutex_destroy(&sw->lock);
}

int sweep_run(const struct sweep_config *cfg, const struct sweep_sink *sink,
	      const volatile sig_atomic_t *stop, struct sweep_stats *st, char *err, size_t errlen)
{
	struct sweep sw = { .cfg = cfg, .sink = sink, .stop = stop, .env = cfg->env };
	pthread_condattr_t ca;
	int rc;

	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&sw.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sw.all_answered, &ca);
	pthread_condattr_destroy(&ca);
	if (!cfg->n_probes || cfg->n_probes > SWEEP_MAX_PROBES || !cfg->targets->finalized) {
		snprintf(err, errlen, "sweep needs 1 to %d probes and finalized targets", SWEEP_MAX_PROBES);
		rc = -EINVAL;
		goto out;
	}
	if ((rc = cookie_key_random(&sw.env.key))) {
		snprintf(err, errlen, "getrandom: %s", lnmt_strerror(rc));
		goto out;
	}
	if ((rc = plan_slots(&sw, err, errlen)) || (rc = alloc_state(&sw, err, errlen)) ||
	    (rc = open_io(&sw, err, errlen)))
		goto out;
	sw.t0 = sw.last_progress = clock_now_ns();
	if (sw.rx) {
		if ((rc = -pthread_create(&sw.rx_thread, NULL, rx_main, &sw))) {
			snprintf(err, errlen, "cannot start the receiver thread: %s", lnmt_strerror(rc));
			goto out;
		}
		sw.rx_running = true;
	}
	rc = run_passes(&sw, st, err, errlen);
	if (sw.rx_running) {
		__atomic_store_n(&sw.rx_stop, 1, __ATOMIC_RELEASE);
		pthread_join(sw.rx_thread, NULL);
		sw.rx_running = false;
	}
	st->elapsed_ns = clock_now_ns() - sw.t0;
	report_progress(&sw, clock_now_ns(), true);
out:
	fill_stats(&sw, st);
	sweep_free(&sw);
	return rc;
}
