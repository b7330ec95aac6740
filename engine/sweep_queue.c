/* SPDX-License-Identifier: MIT */
/* sweep_queue.c: the single-producer, single-consumer result queue (see sweep_queue.h). */
#include "sweep_queue.h"

#include "clock.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

struct result_block {
	struct result_block *next;
	struct sweep_result r[RESULT_QUEUE_BLOCK];
};

static struct result_block *block_new(struct result_queue *q)
{
	struct result_block *b = __atomic_exchange_n(&q->spare, NULL, __ATOMIC_ACQUIRE);

	if (!b) {
		if (!(b = malloc(sizeof(*b))))
			return NULL;
		uint64_t n = __atomic_add_fetch(&q->blocks, 1, __ATOMIC_RELAXED);
		if (n > __atomic_load_n(&q->peak_blocks, __ATOMIC_RELAXED))
			__atomic_store_n(&q->peak_blocks, n, __ATOMIC_RELAXED);
	}
	b->next = NULL;
	return b;
}

/* Consumer: a block it has read to the end goes back as the spare (the producer left it long ago). */
static void block_retire(struct result_queue *q, struct result_block *b)
{
	struct result_block *old = __atomic_exchange_n(&q->spare, b, __ATOMIC_RELEASE);

	if (old) {
		free(old);
		__atomic_sub_fetch(&q->blocks, 1, __ATOMIC_RELAXED);
	}
}

int result_queue_init(struct result_queue *q)
{
	pthread_condattr_t ca;

	*q = (struct result_queue){ 0 };
	if (!(q->head = q->tail = block_new(q)))
		return -ENOMEM;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->nonempty, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

void result_queue_fini(struct result_queue *q)
{
	struct result_block *b = q->head;

	if (!b)
		return;
	while (b) {
		struct result_block *next = b->next;
		free(b);
		b = next;
	}
	free(q->spare);
	q->head = q->tail = q->spare = NULL;
	pthread_cond_destroy(&q->nonempty);
	pthread_mutex_destroy(&q->lock);
}

int result_queue_push(struct result_queue *q, const struct sweep_result *r)
{
	if (q->tail_used == RESULT_QUEUE_BLOCK) {
		struct result_block *b = block_new(q);
		if (!b)
			return -ENOMEM;
		/* Linked before the first entry in it is published: the consumer follows next only
		 * after it has seen that entry counted in pushed. */
		q->tail->next = b;
		q->tail = b;
		q->tail_used = 0;
	}
	q->tail->r[q->tail_used++] = *r;
	__atomic_store_n(&q->pushed, q->pushed + 1, __ATOMIC_SEQ_CST);
	return 0;
}

void result_queue_kick(struct result_queue *q)
{
	/* Pairs with the consumer's seq_cst store of waiting and load of pushed: at least one of
	 * the two sides sees the other, so a push is never left unnoticed until the timeout. */
	if (!__atomic_load_n(&q->waiting, __ATOMIC_SEQ_CST))
		return;
	pthread_mutex_lock(&q->lock);
	pthread_cond_signal(&q->nonempty);
	pthread_mutex_unlock(&q->lock);
}

size_t result_queue_pop(struct result_queue *q, struct sweep_result *out, size_t max)
{
	uint64_t avail = __atomic_load_n(&q->pushed, __ATOMIC_ACQUIRE) - q->popped;
	size_t n = avail < max ? (size_t)avail : max;

	for (size_t i = 0; i < n; i++) {
		if (q->head_used == RESULT_QUEUE_BLOCK) {
			struct result_block *done = q->head;
			q->head = done->next;
			q->head_used = 0;
			block_retire(q, done);
		}
		out[i] = q->head->r[q->head_used++];
	}
	if (n)
		__atomic_store_n(&q->popped, q->popped + n, __ATOMIC_RELEASE);
	return n;
}

void result_queue_wait(struct result_queue *q, uint64_t timeout_ns)
{
	uint64_t until = clock_now_ns() + timeout_ns;
	struct timespec ts = { (time_t)(until / 1000000000u), (long)(until % 1000000000u) };

	pthread_mutex_lock(&q->lock);
	__atomic_store_n(&q->waiting, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&q->pushed, __ATOMIC_SEQ_CST) == q->popped)
		pthread_cond_timedwait(&q->nonempty, &q->lock, &ts);
	__atomic_store_n(&q->waiting, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&q->lock);
}

uint64_t result_queue_depth(const struct result_queue *q)
{
	return __atomic_load_n(&q->pushed, __ATOMIC_RELAXED) - __atomic_load_n(&q->popped, __ATOMIC_RELAXED);
}

uint64_t result_queue_peak_bytes(const struct result_queue *q)
{
	return __atomic_load_n(&q->peak_blocks, __ATOMIC_RELAXED) * sizeof(struct result_block);
}
