/* SPDX-License-Identifier: MIT */
/*
 * sweep.h: one sweep, from the first probe to the last reply.
 *
 * The sweep walks the permutation over (address, slot) pairs, where a slot is one probe of one
 * kind (and port, for SYN): index = address_index * slots + slot. Sender threads (one per CPU by
 * default, each with a disjoint sub-shard) send in batches through io/tx, paced by io/ratelimit;
 * a receiver thread captures (io/rx), validates
 * each frame with the probe modules, drops duplicates with a bitmap over the index space and
 * reports each new reply to the sink. Pass 2..retries+1 re-walk the permutation and probe only
 * what has not answered. The sweep ends when everything answered, when `wait` has passed since
 * the last probe, or soon after *stop becomes non-zero (1: drain replies for a short grace
 * period; 2 or more: at once).
 *
 * The engine knows nothing about output or storage: the CLI, daemon and benchmarks all drive
 * it through struct sweep_sink. Sink callbacks run on the receiver thread (result) and on the
 * sending thread (progress); they must not block for long.
 */
#ifndef LNMT_SWEEP_H
#define LNMT_SWEEP_H

#include "probe/probe.h"
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
	uint64_t rate_pps;                /* 0 = as fast as the machine goes */
	unsigned retries;
	uint64_t wait_ns;                 /* cooldown after the last probe */
	size_t rx_buffer_bytes;           /* capture buffer; 0 = sized for the sweep (io/rx.h) */
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

struct sweep_progress {
	uint64_t probes;   /* probes of the first pass */
	uint64_t sent;     /* frames sent so far, retries included */
	uint64_t replies;
	uint64_t live;
	uint64_t elapsed_ns;
	unsigned pass;     /* 0 = first pass; > retries means cooling down */
	uint64_t sent_first_pass;
};

struct sweep_sink {
	void (*result)(void *ctx, const struct sweep_result *r);
	void (*progress)(void *ctx, const struct sweep_progress *p); /* may be NULL */
	void *ctx;
	uint64_t progress_interval_ns; /* 0 = 250 ms */
};

enum sweep_end { SWEEP_END_ALL_ANSWERED, SWEEP_END_WAIT, SWEEP_END_STOPPED };

struct sweep_stats {
	uint64_t addresses;  /* addresses in the target set */
	uint64_t probes;     /* (address, slot) pairs this shard covers once */
	uint64_t sent;       /* frames sent, retries included */
	uint64_t replies;    /* distinct valid replies */
	uint64_t duplicates; /* valid replies to pairs that had already answered */
	uint64_t live;       /* distinct addresses that answered anything */
	uint64_t rx_dropped; /* frames the capture ring lost */
	uint64_t elapsed_ns; /* start to end, cooldown included */
	uint64_t send_ns;    /* start to the last probe */
	const char *tx_name;      /* static strings */
	const char *tx_fallback;
	const char *rx_name;      /* capture backend: "socket" (small sweeps) or "ring"; NULL in a dry run */
	unsigned senders;
	enum sweep_end ended;
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
