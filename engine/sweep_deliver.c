/* SPDX-License-Identifier: MIT */
/*
 * sweep_deliver.c: the delivery thread, which hands queued results to the sink, and the
 * back-pressure that keeps the queue bounded when the sink is slower than the network.
 *
 * The receiver must keep draining the capture ring whatever the sink does (a full ring drops
 * replies, and retries then re-probe hosts that had answered), so the sink runs here instead.
 * When the sink falls behind by more than HIGH_WATER results the senders stop sending until it
 * is back under LOW_WATER: the network then has nothing new to answer, and the queue holds at
 * most the high-water mark plus the replies already in flight.
 */
#include "sweep_int.h"

#include "clock.h"
#include "err.h"

#include <stdio.h>
#include <string.h>

#define HIGH_WATER (1u << 16) /* results: 2 MiB of them */
#define LOW_WATER (1u << 15)
#define POP_BATCH 256
#define IDLE_WAIT_NS 20000000ull     /* belt and braces: the receiver kicks us anyway */
#define PROGRESS_SLICE_NS 50000000ull

bool sweep_sink_behind(const struct sweep *sw)
{
	return result_queue_depth(&sw->results) >= HIGH_WATER;
}

bool sweep_sink_caught_up(const struct sweep *sw)
{
	return result_queue_depth(&sw->results) <= LOW_WATER;
}

static void *deliver_main(void *arg)
{
	struct sweep *sw = arg;
	struct sweep_result batch[POP_BATCH];

	for (;;) {
		size_t n = result_queue_pop(&sw->results, batch, POP_BATCH);
		if (n) {
			for (size_t i = 0; i < n; i++)
				sw->sink->result(sw->sink->ctx, &batch[i]);
			continue;
		}
		if (__atomic_load_n(&sw->deliver_stop, __ATOMIC_ACQUIRE)) {
			/* The receiver has stopped: one last look catches what it queued before. */
			if (!result_queue_depth(&sw->results))
				break;
			continue;
		}
		result_queue_wait(&sw->results, IDLE_WAIT_NS);
	}
	pthread_mutex_lock(&sw->lock);
	pthread_cond_broadcast(&sw->changed);
	pthread_mutex_unlock(&sw->lock);
	return NULL;
}

int sweep_deliver_start(struct sweep *sw, char *err, size_t errlen)
{
	int rc = -pthread_create(&sw->deliver_thread, NULL, deliver_main, sw);

	if (rc) {
		snprintf(err, errlen, "cannot start the delivery thread: %s", lnmt_strerror(rc));
		return rc;
	}
	pthread_setname_np(sw->deliver_thread, "lnmt-deliver");
	sw->deliver_running = true;
	return 0;
}

void sweep_deliver_finish(struct sweep *sw)
{
	if (!sw->deliver_running)
		return;
	__atomic_store_n(&sw->phase, SWEEP_PHASE_DELIVERING, __ATOMIC_RELAXED);
	__atomic_store_n(&sw->deliver_stop, 1, __ATOMIC_RELEASE);
	result_queue_kick(&sw->results);
	/* The sink may be slow: keep the progress line alive while it catches up. */
	pthread_mutex_lock(&sw->lock);
	while (result_queue_depth(&sw->results))
		sweep_wait_changed(sw, clock_now_ns() + PROGRESS_SLICE_NS);
	pthread_mutex_unlock(&sw->lock);
	pthread_join(sw->deliver_thread, NULL);
	sw->deliver_running = false;
}
