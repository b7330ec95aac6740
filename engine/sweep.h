/* SPDX-License-Identifier: MIT */
/*
 * sweep.h: one sweep, from the first probe to the last reply.
 *
 * The sweep walks the permutation over (address, slot) pairs, where a slot is one probe of one
 * kind (and port, for SYN): index = address_index * slots + slot. Sender threads (one per CPU by
 * default, each with a disjoint sub-shard) send in batches through io/tx, paced by io/ratelimit;
 * a receiver thread captures (io/rx), validates each frame with the probe modules, drops
 * duplicates with a bitmap over the index space, learns the RTTs, and queues each new reply for
 * the delivery thread, which hands it to the sink.
 *
 * The sweep adapts to the network it finds (engine/sweep_policy.h has the rules):
 * - Retry passes re-probe only what has not answered, and go on while the loss they measure says
 *   live targets are still being missed, up to `retries` of them.
 * - Behind a path that drops probes for their rate (a policer), later passes go at the rate the
 *   path delivered, never above rate_pps (unless rate_fixed).
 * - It ends when everything answered, or once the network has been quiet for several times the
 *   high-quantile RTT after the last probe (on a dense network it listens longer for the silent
 *   few), at most `wait` after the last probe (exactly `wait` with wait_fixed), or soon after
 *   *stop becomes non-zero (1: drain replies for a short grace period; 2 or more: at once).
 * - A sink slower than the network never costs a reply: results wait in memory and the senders
 *   hold back while too many are queued (back-pressure), so memory stays bounded.
 *
 * The engine knows nothing about output or storage: the CLI, daemon and benchmarks all drive it
 * through struct sweep_sink. sink->result runs on the sweep's delivery thread (one at a time, in
 * no particular order) and may block: the receiver never waits for it. sink->progress runs on
 * sweep_run's calling thread. Every result has been delivered when sweep_run returns.
 */
#ifndef LNMT_SWEEP_H
#define LNMT_SWEEP_H

#include "probe/probe.h"
#include "sweep_policy.h"
#include "targets.h"
#include "tx.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#define SWEEP_MAX_PROBES 3

struct sweep_config {
	const struct target_set *targets; /* finalized */
	const struct port_list *ports;    /* required when a probe uses ports */
	const struct probe_ops *probes[SWEEP_MAX_PROBES];
	unsigned n_probes;
	struct probe_env env;             /* addresses and MACs; the key is drawn by the sweep */
	int ifindex;
	const char *ifname;
	enum tx_kind tx;
	unsigned batch;                   /* frames per submission; 0 = default (64) */
	unsigned senders;                 /* sender threads; 0 = one per CPU (1 below 50k pps) */
	uint64_t seed;
	uint32_t shard, shards;           /* shards = 0 means 1 */
	uint64_t rate_pps;                /* the most; 0 = as fast as the machine goes */
	bool rate_fixed;                  /* every pass at rate_pps, whatever the path drops */
	unsigned retries;                 /* the most retry passes (they stop once they stop paying) */
	uint64_t wait_ns;                 /* the longest wait for replies after the last probe */
	bool wait_fixed;                  /* wait all of wait_ns unless everything answered */
	size_t rx_buffer_bytes;           /* capture buffer; 0 = sized for the sweep (io/rx.h) */
	/* Set by sweep_net_resolve(): the kernel routes every target range out of ifname to the
	 * same next hop, whose MAC it knows, from src_ip, its own address; a small sweep of IP
	 * probes then goes through the kernel's IPv4 stack (raw sockets, io/tx.h and io/rx.h)
	 * rather than packet sockets. false (the default) keeps every probe on packet sockets. */
	bool kernel_routes;
};

struct sweep_result {
	uint32_t ip;
	uint16_t port;
	const struct probe_ops *probe;
	uint8_t state; /* enum probe_state */
	uint8_t ttl;
	bool has_mac;
	uint8_t mac[6];
	uint32_t rtt_us;
};

enum sweep_phase {
	SWEEP_PHASE_SENDING,    /* the first pass */
	SWEEP_PHASE_RETRYING,   /* a retry pass, or the gap before one */
	SWEEP_PHASE_WAITING,    /* every probe sent: waiting for the last replies */
	SWEEP_PHASE_DELIVERING, /* the network is done; queued results still going to the sink */
};

struct sweep_progress {
	uint64_t probes;   /* probes of the first pass */
	uint64_t sent;     /* frames sent so far, retries included */
	uint64_t replies;
	uint64_t live;
	uint64_t elapsed_ns;
	unsigned pass;     /* 0 = first pass, then the retry pass being sent or waited for */
	enum sweep_phase phase;
	uint64_t sent_first_pass;
	uint64_t queued;        /* results waiting for the sink */
	bool held_back;         /* the senders wait for the sink (back-pressure) right now */
	uint64_t rate_pps;      /* the pass's pacing (0: as fast as it goes) */
	uint64_t slowed_pps;    /* non-zero once the sweep slowed down for the path: the new rate */
};

struct sweep_stats;

struct sweep_sink {
	void (*result)(void *ctx, const struct sweep_result *r);
	void (*progress)(void *ctx, const struct sweep_progress *p); /* may be NULL */
	/*
	 * May be NULL. Runs once, on sweep_run's calling thread, when the sweep has ended and every
	 * result has been delivered, but before its threads and sockets are torn down (a few
	 * hundred microseconds): st holds the figures sweep_run will return, failed says whether
	 * it failed (its error is in sweep_run's err). No result comes after it. A caller can start
	 * finishing its own work meanwhile (lnmt scan starts the store's final write and flush).
	 */
	void (*ended)(void *ctx, const struct sweep_stats *st, bool failed);
	void *ctx;
	uint64_t progress_interval_ns; /* 0 = 250 ms */
};

enum sweep_end {
	SWEEP_END_ALL_ANSWERED, /* every probe answered */
	SWEEP_END_WAIT,         /* the wait after the last probe ran out (the cap, or wait_fixed) */
	SWEEP_END_STOPPED,      /* *stop */
	SWEEP_END_QUIET,        /* the network went quiet: further replies had become improbable */
};

/* "all-answered", "wait", "stopped", "quiet". */
const char *sweep_end_name(enum sweep_end e);

struct sweep_stats {
	uint64_t addresses;  /* addresses in the target set */
	uint64_t probes;     /* (address, slot) pairs this shard covers once */
	uint64_t sent;       /* frames sent, retries included */
	uint64_t replies;    /* distinct valid replies */
	uint64_t duplicates; /* valid replies to pairs that had already answered */
	uint64_t live;       /* distinct addresses that answered anything */
	uint64_t rx_dropped; /* frames the capture ring lost */
	uint64_t rx_yields;  /* times the senders stepped aside for a receiver starved of CPU */
	uint64_t elapsed_ns; /* start to end, cooldown included */
	uint64_t send_ns;    /* start to the last probe */
	const char *tx_name;      /* static strings */
	const char *tx_fallback;
	const char *rx_name;      /* capture backend: "ipv4" or "socket" (small sweeps), or "ring"; NULL in a dry run */
	const char *tx_link;      /* "ipv4" (small sweeps of IP probes) or "packet" */
	unsigned senders;
	enum sweep_end ended;
	/* how it ended */
	uint64_t quiet_ns;        /* the silence after the last probe or reply that ended it */
	uint64_t rtt_high_ns;     /* the high-quantile RTT the quiet time was derived from */
	bool stragglers;          /* listened longer for the silent few of a dense network */
	/* retries */
	unsigned passes;          /* passes sent, the first included */
	struct pass_stat pass[SWEEP_MAX_PASSES]; /* each of them */
	bool loss_measured;
	double loss;              /* estimated loss per probe round trip (when measured) */
	double missed;            /* expected live pairs still unanswered (when measured) */
	/* rate */
	uint64_t first_rate_pps;  /* what the first pass was paced at or achieved */
	uint64_t slowed_pps;      /* 0, or the rate it slowed to for the path */
	unsigned slowed_pass;     /* the first pass sent at it */
	double slowed_loss;       /* the loss that made it slow down */
	/* the sink */
	uint64_t held_back_ns;    /* time the senders waited for the sink, summed over the senders */
	uint64_t queue_peak;      /* most results queued at once */
	uint64_t queue_peak_bytes;
	uint64_t lost;            /* results dropped for want of memory: 0 unless malloc failed */
};

/*
 * Runs the sweep to its end. Returns 0 (also when stopped by *stop), or -errno / LNMT_E_* with
 * a one-line explanation in err when it could not start or the sender failed. *stats is filled
 * in either case as far as the sweep got. stop may be NULL.
 */
int sweep_run(const struct sweep_config *cfg, const struct sweep_sink *sink,
	      const volatile sig_atomic_t *stop, struct sweep_stats *stats, char *err, size_t errlen);

/* The pcap filter text that matches the replies of cfg's probes, into buf. */
int sweep_bpf_filter(const struct sweep_config *cfg, char *buf, size_t len);

#endif
