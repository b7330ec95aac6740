/* SPDX-License-Identifier: MIT */
/*
 * sweep_int.h: state shared by the parts of a sweep: sweep.c (set-up, passes, cooldown, stats),
 * sweep_tx.c (sender threads), sweep_rx.c (the receiver thread) and sweep_deliver.c (the
 * delivery thread).
 *
 * Threads: the caller's thread orchestrates; n_senders sender threads each walk a disjoint
 * sub-shard of the permutation through their own socket (so the kernel's per-packet work,
 * which in a veth lab includes the target's reply, spreads over the cores); one receiver
 * thread validates replies and queues them; one delivery thread hands them to the sink.
 * Counters shared between threads are read and written with __atomic builtins; the pass
 * hand-over goes through `lock`.
 */
#ifndef LNMT_SWEEP_INT_H
#define LNMT_SWEEP_INT_H

#include "permute.h"
#include "ratelimit.h"
#include "rx.h"
#include "sweep.h"
#include "sweep_policy.h"
#include "sweep_queue.h"

#include <pthread.h>

#define SWEEP_MAX_SENDERS 8
#define SWEEP_MAX_BATCH 1024

struct slot {
	const struct probe_ops *probe;
	unsigned probe_no; /* index into cfg->probes and the templates */
	uint16_t port;
};

struct sweep;

struct sender {
	struct sweep *sw;
	unsigned id;
	pthread_t thread;
	bool started;
	struct tx *tx;
	struct permute pm;      /* this sender's sub-shard */
	struct ratelimit rl;
	uint64_t sent;          /* atomic: frames sent, retries included */
	uint64_t held_back_ns;  /* atomic: time spent waiting for the sink */
	uint64_t sent_first_pass;
	uint64_t walked;        /* pairs visited in the first pass */
	int rc;
	char err[256];
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
	uint64_t pairs;              /* addresses x slots */
	uint64_t probes;             /* atomic: pairs in this shard; UINT64_MAX until known */
	uint64_t probes_estimate;    /* for progress before the count is known */
	unsigned batch;
	struct sender senders[SWEEP_MAX_SENDERS];
	unsigned n_senders;
	struct rx *rx;
	pthread_t rx_thread;
	bool rx_running;
	int rx_stop;                 /* atomic */
	uint64_t t0;
	uint64_t last_progress;
	unsigned pass;               /* the pass being sent, or the last one sent */
	enum sweep_phase phase;      /* atomic */
	uint64_t pass_rate_pps;      /* atomic: the current pass's pacing, 0 = unpaced */
	uint64_t slowed_pps;         /* atomic: 0, or the rate the sweep slowed to */
	struct pass_stat passes[SWEEP_MAX_PASSES];
	uint64_t pass_start_replies[SWEEP_MAX_PASSES];
	unsigned n_passes;
	enum sweep_end ended;        /* how the final wait ended */
	uint64_t last_probe_ns;      /* when the latest pass finished sending */
	/* Results on their way to the sink. */
	struct result_queue results;
	pthread_t deliver_thread;
	bool deliver_running;
	int deliver_stop;            /* atomic: 1 = deliver what is queued, then exit */
	int held_back;               /* atomic: senders waiting for the sink now */
	uint64_t queue_peak;         /* atomic */
	uint64_t lost;               /* atomic */
	/* Pass hand-over between the orchestrator and the senders. */
	pthread_mutex_t lock;
	pthread_cond_t wake;         /* orchestrator -> senders: new pass or quit */
	pthread_cond_t changed;      /* senders/receiver -> orchestrator: a sender finished, all answered */
	unsigned pass_gen;           /* bumped for every pass handed out */
	unsigned busy;               /* senders still working on the current step */
	bool quit;
	/* Counters the receiver writes and the others read. */
	uint64_t replies, dups, live, invalid;
	uint64_t last_reply_ns;      /* atomic: when the receiver took the latest new reply */
	uint64_t rx_heartbeat_ns;    /* atomic: when the receiver last looked at the capture */
	uint64_t rx_yields;          /* atomic: times a sender stepped aside for a starved receiver */
	struct rtt_hist rtt[SWEEP_MAX_PROBES];
	/* The receiver thread opens the capture (sweep.c start()); under `lock`, signalled on
	 * `changed`: rx_opened with rx_open_rc and rx_err once it tried, rx_released when it may
	 * go on to receive (or to end, when rx_stop is set). */
	bool rx_opened, rx_released;
	int rx_open_rc;
	char rx_err[256];
	enum tx_link link;           /* how probes go out and replies come in (sweep_ipv4_link) */
	int send_fd;                 /* the capture's packet socket the senders share, or -1 */
};

static inline uint64_t sweep_load(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

static inline bool sweep_bit_test(const uint64_t *bits, uint64_t i)
{
	return __atomic_load_n(&bits[i >> 6], __ATOMIC_RELAXED) & (1ull << (i & 63));
}

/* Sets bit i; true if it was already set (the receiver is the only writer). */
static inline bool sweep_bit_test_and_set(uint64_t *bits, uint64_t i)
{
	uint64_t mask = 1ull << (i & 63);
	return __atomic_fetch_or(&bits[i >> 6], mask, __ATOMIC_RELAXED) & mask;
}

static inline int sweep_stop_level(const struct sweep *sw)
{
	return sw->stop ? *sw->stop : 0;
}

/* sweep.c: whether a sweep of cfg, with probes pairs per pass, goes through the kernel's IPv4
 * stack (raw IPv4 sockets both ways: nothing the kernel must release after us grace period by
 * grace period) rather than packet sockets: a small sweep of IP probes only, where the kernel
 * routes the targets as the sweep would (cfg->kernel_routes). */
bool sweep_ipv4_link(const struct sweep_config *cfg, uint64_t probes);

/* sweep_tx.c */
unsigned sweep_sender_count(const struct sweep_config *cfg);
int sweep_senders_start(struct sweep *sw, char *err, size_t errlen);
/* Runs pass sw->pass on every sender at rate_pps (0: unpaced) and waits for them, reporting
 * progress; 0 or the first error. */
int sweep_senders_run_pass(struct sweep *sw, uint64_t rate_pps, char *err, size_t errlen);
/* Time the senders waited for the sink, summed. */
uint64_t sweep_held_back_ns(const struct sweep *sw);
void sweep_senders_stop(struct sweep *sw);
uint64_t sweep_sent(const struct sweep *sw);
uint64_t sweep_sent_first_pass(const struct sweep *sw);
/* Pairs the first pass has visited, over all senders. */
uint64_t sweep_walked(const struct sweep *sw);
void sweep_report_progress(struct sweep *sw, uint64_t now, bool force);
/* With sw->lock held: waits on sw->changed until until_ns at the latest, then reports progress
 * with the lock released (the sink may be slow) and takes the lock again. */
void sweep_wait_changed(struct sweep *sw, uint64_t until_ns);

/* sweep_rx.c */
void *sweep_rx_main(void *arg);

/* sweep_deliver.c */
int sweep_deliver_start(struct sweep *sw, char *err, size_t errlen);
/* Waits until every queued result reached the sink (reporting progress meanwhile), then joins. */
void sweep_deliver_finish(struct sweep *sw);
/* Senders: true while too many results wait for the sink. */
bool sweep_sink_behind(const struct sweep *sw);
bool sweep_sink_caught_up(const struct sweep *sw);

#endif
