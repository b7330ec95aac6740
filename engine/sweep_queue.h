/* SPDX-License-Identifier: MIT */
/*
 * sweep_queue.h: a sweep's results on their way from the receiver thread to the sink.
 *
 * One producer (the receiver) and one consumer (the delivery thread). The receiver never waits
 * for the consumer: the queue grows by blocks of results as needed, so a slow sink (a pipe into
 * a slow program, a busy disk) cannot make the capture ring overflow. What bounds the queue is
 * the sweep itself: senders hold back while the depth is above a high-water mark, so only the
 * replies already in flight can arrive on top of it.
 *
 * Threads: push() and kick() on the producer's thread only; pop() and wait() on the consumer's
 * only; depth() anywhere. init() and fini() with neither running. Errors: push() fails only when
 * no memory is left for a new block (-ENOMEM); the caller counts the result as lost.
 */
#ifndef LNMT_SWEEP_QUEUE_H
#define LNMT_SWEEP_QUEUE_H

#include "sweep.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define RESULT_QUEUE_BLOCK 1024 /* results per block: 32 KiB */

struct result_block;

struct result_queue {
	/* producer side */
	struct result_block *tail;
	unsigned tail_used;
	uint64_t pushed;              /* atomic: results ever pushed */
	/* consumer side */
	struct result_block *head;
	unsigned head_used;
	uint64_t popped;              /* atomic: results ever popped */
	struct result_block *spare;   /* atomic: one emptied block for the producer to reuse */
	uint64_t blocks;              /* atomic: blocks allocated now (for the peak memory figure) */
	uint64_t peak_blocks;
	/* sleeping consumer */
	pthread_mutex_t lock;
	pthread_cond_t nonempty;
	int waiting;                  /* atomic: the consumer is (about to be) asleep */
};

int result_queue_init(struct result_queue *q);
void result_queue_fini(struct result_queue *q);

/* Appends a copy of r. 0 or -ENOMEM. */
int result_queue_push(struct result_queue *q, const struct sweep_result *r);
/* Wakes the consumer if it sleeps; call after a batch of pushes (one syscall per batch at most). */
void result_queue_kick(struct result_queue *q);

/* Moves up to max results into out; returns how many (0 when empty). */
size_t result_queue_pop(struct result_queue *q, struct sweep_result *out, size_t max);
/* Sleeps until something was pushed, a kick, or timeout_ns passed. */
void result_queue_wait(struct result_queue *q, uint64_t timeout_ns);

/* Results pushed and not yet popped. */
uint64_t result_queue_depth(const struct result_queue *q);
/* The most memory the queue's blocks held at once, in bytes. */
uint64_t result_queue_peak_bytes(const struct result_queue *q);

#endif
