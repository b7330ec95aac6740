/* SPDX-License-Identifier: MIT */
/*
 * sweep_rx.c: the receiver thread. Every captured frame is offered to the sweep's probes; a
 * genuine reply is mapped back to its (address, slot) index, deduplicated with the answered
 * bitmap, timed, and handed to the sink.
 */
#include "sweep_int.h"

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
	if (rtt > sweep_load(&sw->max_rtt_ns))
		__atomic_store_n(&sw->max_rtt_ns, rtt, __ATOMIC_RELAXED);
	if (!sweep_bit_test_and_set(sw->alive, addr_idx))
		__atomic_fetch_add(&sw->live, 1, __ATOMIC_RELAXED);
	struct sweep_result res = {
		.ip = r->ip, .port = r->port, .probe = p, .state = r->state, .ttl = r->ttl,
		.has_mac = r->has_mac, .rtt_us = (uint32_t)(rtt / 1000),
	};
	memcpy(res.mac, r->mac, 6);
	sw->sink->result(sw->sink->ctx, &res);
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

void *sweep_rx_main(void *arg)
{
	struct sweep *sw = arg;

	while (!__atomic_load_n(&sw->rx_stop, __ATOMIC_ACQUIRE))
		rx_dispatch(sw->rx, on_frame, sw, 20);
	rx_dispatch(sw->rx, on_frame, sw, 0); /* what landed before the stop */
	return NULL;
}
