/* SPDX-License-Identifier: MIT */
/* test_sweep_queue.c: the result queue between the receiver and the delivery thread. */
#include "sweep_queue.h"

#include <criterion/criterion.h>
#include <pthread.h>

static struct sweep_result numbered(uint32_t i)
{
	return (struct sweep_result){ .ip = i, .port = (uint16_t)(i * 7), .rtt_us = ~i };
}

Test(sweep_queue, keeps_order_across_blocks)
{
	struct result_queue q;
	struct sweep_result out[100];
	uint32_t next = 0;

	cr_assert_eq(result_queue_init(&q), 0);
	for (uint32_t i = 0; i < 5 * RESULT_QUEUE_BLOCK + 17; i++) {
		struct sweep_result r = numbered(i);
		cr_assert_eq(result_queue_push(&q, &r), 0);
	}
	cr_assert_eq(result_queue_depth(&q), 5 * RESULT_QUEUE_BLOCK + 17);
	size_t n;
	while ((n = result_queue_pop(&q, out, 100))) {
		for (size_t i = 0; i < n; i++, next++) {
			cr_assert_eq(out[i].ip, next);
			cr_assert_eq(out[i].rtt_us, ~next);
		}
	}
	cr_assert_eq(next, 5 * RESULT_QUEUE_BLOCK + 17);
	cr_assert_eq(result_queue_depth(&q), 0);
	cr_assert_geq(result_queue_peak_bytes(&q), 6 * RESULT_QUEUE_BLOCK * sizeof(struct sweep_result));
	result_queue_fini(&q);
}

/* Emptied blocks are reused: a queue drained as it fills stays at a couple of blocks. */
Test(sweep_queue, drained_queue_stays_small)
{
	struct result_queue q;
	struct sweep_result out[64];

	cr_assert_eq(result_queue_init(&q), 0);
	for (uint32_t i = 0; i < 100 * RESULT_QUEUE_BLOCK; i++) {
		struct sweep_result r = numbered(i);
		cr_assert_eq(result_queue_push(&q, &r), 0);
		if (i % 64 == 63)
			cr_assert_eq(result_queue_pop(&q, out, 64), 64);
	}
	cr_assert_leq(result_queue_peak_bytes(&q), 3 * (RESULT_QUEUE_BLOCK * sizeof(struct sweep_result) + 64));
	result_queue_fini(&q);
}

struct stress {
	struct result_queue q;
	uint32_t n;
	uint32_t got;
	int done; /* atomic */
};

static void *producer(void *arg)
{
	struct stress *s = arg;

	for (uint32_t i = 0; i < s->n; i++) {
		struct sweep_result r = numbered(i);
		cr_assert_eq(result_queue_push(&s->q, &r), 0);
		if (i % 97 == 0)
			result_queue_kick(&s->q);
	}
	__atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
	result_queue_kick(&s->q);
	return NULL;
}

/* One producer, one consumer that sleeps whenever the queue is empty: every result arrives once,
 * in order, and the consumer is never left asleep with results waiting (it would time out). */
Test(sweep_queue, producer_and_sleeping_consumer, .timeout = 30)
{
	struct stress s = { .n = 2000000 };
	struct sweep_result out[256];
	pthread_t t;

	cr_assert_eq(result_queue_init(&s.q), 0);
	cr_assert_eq(pthread_create(&t, NULL, producer, &s), 0);
	for (;;) {
		size_t n = result_queue_pop(&s.q, out, 256);
		for (size_t i = 0; i < n; i++, s.got++)
			cr_assert_eq(out[i].ip, s.got, "expected %u, got %u", s.got, out[i].ip);
		if (n)
			continue;
		if (__atomic_load_n(&s.done, __ATOMIC_ACQUIRE) && !result_queue_depth(&s.q))
			break;
		result_queue_wait(&s.q, 1000000000ull);
	}
	pthread_join(t, NULL);
	cr_assert_eq(s.got, s.n);
	result_queue_fini(&s.q);
}
