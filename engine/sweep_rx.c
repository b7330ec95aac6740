/* SPDX-License-Identifier: MIT */
/*
 * sweep_rx.c: the receiver thread. Every captured frame is offered to the sweep's probes; a
 * genuine reply is mapped back to its (address, slot) index, deduplicated with the answered
 * bitmap, timed into its probe's RTT histogram, and queued for the delivery thread. Nothing
 * here waits for anyone: the capture ring is drained as fast as replies arrive.
 */
#include "sweep_int.h"

#include "clock.h"

#include <string.h>

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
	if (sweep_bit_test_and_set(sw->answered, idx)) {
		__atomic_fetch_add(&sw->dups, 1, __ATOMIC_RELAXED);
		return;
	}
	/* ARP echoes nothing: its send time was kept per address by the sender. */
	uint64_t sent_ns = r->has_sent_ns ? r->sent_ns
					  : sw->t0 + (uint64_t)__atomic_load_n(&sw->arp_sent_us[addr_idx],
									       __ATOMIC_RELAXED) * 1000;
	uint64_t rtt = ts > sent_ns ? ts - sent_ns : 0;
	rtt_hist_add(&sw->rtt[probe_no], rtt);
	if (!sweep_bit_test_and_set(sw->alive, addr_idx))
		__atomic_fetch_add(&sw->live, 1, __ATOMIC_RELAXED);
	struct sweep_result res = {
		.ip = r->ip, .port = r->port, .probe = p, .state = r->state, .ttl = r->ttl,
		.has_mac = r->has_mac, .rtt_us = (uint32_t)(rtt / 1000),
	};
	memcpy(res.mac, r->mac, 6);
	if (result_queue_push(&sw->results, &res)) {
		__atomic_fetch_add(&sw->lost, 1, __ATOMIC_RELAXED);
	} else {
		uint64_t depth = result_queue_depth(&sw->results);
		if (depth > sweep_load(&sw->queue_peak))
			__atomic_store_n(&sw->queue_peak, depth, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&sw->last_reply_ns, clock_now_ns(), __ATOMIC_RELAXED);
	if (__atomic_add_fetch(&sw->replies, 1, __ATOMIC_RELAXED) == sweep_load(&sw->probes)) {
		pthread_mutex_lock(&sw->lock);
		pthread_cond_broadcast(&sw->changed);
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

/* The receiver looks at the capture at least this often, so that its heartbeat tells the
 * senders it is running (a stale one means it is starved of CPU, see sweep_tx.c). */
#define RX_POLL_MS 2

void *sweep_rx_main(void *arg)
{
	struct sweep *sw = arg;

	while (!__atomic_load_n(&sw->rx_stop, __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&sw->rx_heartbeat_ns, clock_now_ns(), __ATOMIC_RELAXED);
		if (rx_dispatch(sw->rx, on_frame, sw, RX_POLL_MS) > 0)
			result_queue_kick(&sw->results);
	}
	rx_dispatch(sw->rx, on_frame, sw, 0); /* what landed before the stop */
	result_queue_kick(&sw->results);
	return NULL;
}
