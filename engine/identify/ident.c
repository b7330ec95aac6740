/* SPDX-License-Identifier: MIT */
/*
 * ident.c: one identify run: the walk over (address, port), the connections on io/conn, the
 * checks' callbacks, the reverse-DNS queries, and the ring that carries results to the sink's
 * thread without ever making the run wait for it.
 */
#include "check.h"
#include "ident_int.h"

#include "clock.h"
#include "err.h"
#include "permute.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CONCURRENCY 1024
#define DEFAULT_TIMEOUT_NS 3000000000ull
#define DEFAULT_DNS_INFLIGHT 128 /* more overflows a plain server's UDP buffer: dnsmasq drops, c-ares retries late */
#define RX_SIZE 8192
#define TX_SIZE 4096
#define IDLE_WAIT_NS 100000000ull      /* nothing due: the loop still looks at *stop this often */
#define BEHIND_WAIT_NS 2000000ull      /* the sink is behind: look again soon */
#define CONSUMER_WAIT_NS 50000000ull

static const struct check_ops *const all_checks[] = { &check_http, &check_tls, &check_ssh };
#define N_CHECKS (sizeof(all_checks) / sizeof(all_checks[0]))

struct run_slot {
	unsigned check;             /* index into all_checks */
	bool active;
	uint64_t start_ns;
	struct ident_result r;
};

struct run {
	const struct ident_config *cfg;
	const struct ident_sink *sink;
	struct ident_stats *st;
	struct conn_loop *loop;
	struct ident_dns *dns;
	void *priv[N_CHECKS];
	bool priv_up[N_CHECKS];
	uint8_t *states[N_CHECKS];
	unsigned port_check[IDENT_MAX_PORTS];
	struct run_slot *slots;
	unsigned n_slots;
	uint64_t timeout_ns, deadline;
	uint64_t now;
	bool discard;               /* stopped: what still completes is not reported */
	/* the walk */
	struct permute pm_checks, pm_dns;
	bool checks_left, dns_left;
	unsigned dns_max;
	/* the result ring: one producer (the run), one consumer (the sink's thread) */
	struct ident_result *ring;
	uint64_t mask;
	uint64_t head;              /* atomic: next to deliver */
	uint64_t tail;              /* atomic: next to fill */
	bool pushed;                /* since the last kick */
	pthread_t consumer;
	bool consumer_up;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int waiting;                /* atomic: the consumer sleeps (or is about to) */
	int finish;                 /* atomic: no more results will come */
};

/* ---- names ---- */

const char *ident_kind_name(enum ident_kind k)
{
	static const char *const names[] = { "http", "tls", "ssh", "dns" };
	return (unsigned)k < IDENT_KINDS ? names[k] : "?";
}

const char *ident_error_name(enum ident_error e)
{
	static const char *const names[] = { "", "timeout", "refused", "reset", "tls alert", "tls", "bad response",
					     "closed", "unreachable", "nxdomain", "dns", "error" };
	return (unsigned)e < IDENT_ERRORS ? names[e] : "error";
}

const struct check_ops *ident_check_by_name(const char *name)
{
	for (size_t i = 0; i < N_CHECKS; i++)
		if (strcmp(all_checks[i]->name, name) == 0)
			return all_checks[i];
	return NULL;
}

const struct check_ops *ident_check_for_port(uint16_t port)
{
	switch (port) {
	case 22: case 2222: return &check_ssh;
	case 443: case 8443: case 465: case 636: case 993: case 995: case 5061: return &check_tls;
	default: return &check_http;
	}
}

void ident_fail(struct ident_result *r, enum ident_error e, const char *fmt, ...)
{
	va_list ap;

	r->error = (uint8_t)e;
	va_start(ap, fmt);
	vsnprintf(r->error_detail, sizeof(r->error_detail), fmt, ap);
	va_end(ap);
}

/* ---- the result ring ---- */

static uint64_t depth(const struct run *run)
{
	return __atomic_load_n(&run->tail, __ATOMIC_RELAXED) - __atomic_load_n(&run->head, __ATOMIC_ACQUIRE);
}

static void push(struct run *run, const struct ident_result *r)
{
	struct ident_stats *st = run->st;

	if (run->discard)
		return;
	/* The ring holds IDENT_QUEUE_HIGH plus every check and query that can be in flight, and no
	 * check starts above IDENT_QUEUE_HIGH: it cannot be full here. */
	uint64_t t = run->tail;
	run->ring[t & run->mask] = *r;
	__atomic_store_n(&run->tail, t + 1, __ATOMIC_RELEASE);
	run->pushed = true;
	st->checks++;
	st->errors[r->error < IDENT_ERRORS ? r->error : IDENT_E_OTHER]++;
	if (r->error == IDENT_OK && r->kind < IDENT_KINDS)
		st->by_kind[r->kind]++;
	uint64_t d = depth(run);
	if (d > st->queue_peak)
		st->queue_peak = d;
}

static void kick(struct run *run)
{
	if (!run->pushed && !__atomic_load_n(&run->finish, __ATOMIC_RELAXED))
		return;
	run->pushed = false;
	/* Pairs with the consumer's store of waiting and load of tail (both seq_cst): without the
	 * fence the load below could pass the store of tail, and a wakeup be lost (for 50 ms). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&run->waiting, __ATOMIC_RELAXED)) {
		pthread_mutex_lock(&run->lock);
		pthread_cond_signal(&run->cond);
		pthread_mutex_unlock(&run->lock);
	}
}

static void *consumer_main(void *arg)
{
	struct run *run = arg;

	for (;;) {
		uint64_t h = run->head;
		if (h != __atomic_load_n(&run->tail, __ATOMIC_ACQUIRE)) {
			run->sink->result(run->sink->ctx, &run->ring[h & run->mask]);
			__atomic_store_n(&run->head, h + 1, __ATOMIC_RELEASE);
			continue;
		}
		if (__atomic_load_n(&run->finish, __ATOMIC_ACQUIRE)) {
			if (h == __atomic_load_n(&run->tail, __ATOMIC_ACQUIRE))
				break;
			continue;
		}
		pthread_mutex_lock(&run->lock);
		__atomic_store_n(&run->waiting, 1, __ATOMIC_SEQ_CST);
		if (h == __atomic_load_n(&run->tail, __ATOMIC_SEQ_CST) && !__atomic_load_n(&run->finish, __ATOMIC_SEQ_CST)) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += (long)CONSUMER_WAIT_NS;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&run->cond, &run->lock, &ts);
		}
		__atomic_store_n(&run->waiting, 0, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&run->lock);
	}
	return NULL;
}

/* ---- the checks ---- */

static enum ident_error map_errno(int res)
{
	switch (-res) {
	case ETIMEDOUT: case ETIME: return IDENT_E_TIMEOUT;
	case ECONNREFUSED: return IDENT_E_REFUSED;
	case ECONNRESET: case EPIPE: case ECONNABORTED: return IDENT_E_RESET;
	case EHOSTUNREACH: case ENETUNREACH: case EHOSTDOWN: case ENETDOWN: return IDENT_E_UNREACHABLE;
	default: return IDENT_E_OTHER;
	}
}

static void *state_of(struct run *run, unsigned slot)
{
	unsigned c = run->slots[slot].check;
	return run->states[c] + (size_t)slot * all_checks[c]->state_size;
}

static void finish(struct run *run, unsigned slot)
{
	struct run_slot *s = &run->slots[slot];
	unsigned c = s->check;

	if (s->r.connected)
		all_checks[c]->release(run->priv[c], state_of(run, slot));
	push(run, &s->r);
	s->active = false;
	conn_close(run->loop, slot);
}

static void fail_errno(struct run *run, unsigned slot, int res)
{
	struct run_slot *s = &run->slots[slot];
	enum ident_error e = map_errno(res);

	ident_fail(&s->r, e, "%s", e == IDENT_E_OTHER ? lnmt_strerror(res) : "");
	finish(run, slot);
}

static void proceed(struct run *run, unsigned slot, enum check_verdict v, const struct check_io *io)
{
	int rc;

	if (v == CHECK_MORE) {
		rc = io->tx_len ? conn_send(run->loop, slot, io->tx_len) : conn_recv(run->loop, slot);
		if (rc == 0)
			return;
		ident_fail(&run->slots[slot].r, IDENT_E_OTHER, "%s", lnmt_strerror(rc));
	}
	finish(run, slot);
}

static void on_event(void *ctx, unsigned slot, enum conn_event ev, int res)
{
	struct run *run = ctx;

	if (ev == CONN_EV_POLL) {
		if (slot >= IDENT_DNS_TAG_BASE && run->dns)
			ident_dns_on_poll(run->dns, slot, res);
		return;
	}
	struct run_slot *s = &run->slots[slot];
	if (!s->active)
		return;
	unsigned c = s->check;
	struct check_io io = { .tx = conn_tx(run->loop, slot), .tx_cap = conn_tx_size(run->loop),
			       .now_ns = clock_now_ns(), .start_ns = s->start_ns };
	switch (ev) {
	case CONN_EV_CONNECTED:
		if (res < 0) {
			fail_errno(run, slot, res);
			return;
		}
		s->r.connected = true;
		proceed(run, slot, all_checks[c]->start(run->priv[c], state_of(run, slot), &s->r, &io), &io);
		return;
	case CONN_EV_SENT:
		if (res < 0) {
			fail_errno(run, slot, res);
			return;
		}
		if (conn_recv(run->loop, slot)) {
			ident_fail(&s->r, IDENT_E_OTHER, "cannot receive");
			finish(run, slot);
		}
		return;
	case CONN_EV_RECEIVED:
		if (res < 0) {
			fail_errno(run, slot, res);
			return;
		}
		proceed(run, slot,
			all_checks[c]->input(run->priv[c], state_of(run, slot), conn_rx(run->loop, slot), (size_t)res, &s->r, &io),
			&io);
		return;
	default:
		return;
	}
}

static void on_dns(void *ctx, const struct ident_result *r)
{
	push(ctx, r);
}

/* Starts checks while slots are free and the sink keeps up. */
static void start_checks(struct run *run)
{
	const struct ident_config *cfg = run->cfg;
	uint64_t idx;

	while (run->checks_left && conn_loop_free_slots(run->loop)) {
		if (!permute_next(&run->pm_checks, &idx)) {
			run->checks_left = false;
			break;
		}
		uint32_t ip = target_set_addr(cfg->targets, idx / cfg->n_ports);
		unsigned p = (unsigned)(idx % cfg->n_ports);
		uint64_t deadline = run->now + run->timeout_ns;
		if (run->deadline && deadline > run->deadline)
			deadline = run->deadline;
		unsigned slot;
		if (conn_open(run->loop, ip, cfg->ports[p].port, deadline, &slot))
			break;
		struct run_slot *s = &run->slots[slot];
		s->check = run->port_check[p];
		s->active = true;
		s->start_ns = run->now;
		memset(&s->r, 0, sizeof(s->r));
		s->r.ip = ip;
		s->r.port = cfg->ports[p].port;
		s->r.kind = (uint8_t)all_checks[s->check]->kind;
	}
	while (run->dns_left && ident_dns_inflight(run->dns) < run->dns_max) {
		if (!permute_next(&run->pm_dns, &idx)) {
			run->dns_left = false;
			break;
		}
		ident_dns_query(run->dns, target_set_addr(cfg->targets, idx));
	}
}

static void stop_all(struct run *run)
{
	run->discard = true;
	run->checks_left = run->dns_left = false;
	for (unsigned i = 0; i < run->n_slots; i++) {
		if (!run->slots[i].active)
			continue;
		if (run->slots[i].r.connected)
			all_checks[run->slots[i].check]->release(run->priv[run->slots[i].check], state_of(run, i));
		run->slots[i].active = false;
		conn_close(run->loop, i);
	}
	if (run->dns)
		ident_dns_cancel(run->dns);
}

static int setup(struct run *run, const struct ident_config *cfg, char *err, size_t errlen)
{
	int rc;

	run->n_slots = cfg->concurrency ? cfg->concurrency : DEFAULT_CONCURRENCY;
	run->timeout_ns = cfg->timeout_ns ? cfg->timeout_ns : DEFAULT_TIMEOUT_NS;
	run->dns_max = cfg->dns ? (cfg->dns_inflight ? cfg->dns_inflight : DEFAULT_DNS_INFLIGHT) : 0;
	for (unsigned p = 0; p < cfg->n_ports; p++) {
		for (unsigned c = 0; c < N_CHECKS; c++)
			if (all_checks[c] == cfg->ports[p].check)
				run->port_check[p] = c;
	}
	struct conn_loop_config lc = { .slots = run->n_slots, .rx_size = RX_SIZE, .tx_size = TX_SIZE };
	if ((rc = conn_loop_new(&run->loop, &lc, on_event, run))) {
		snprintf(err, errlen, "cannot set up io_uring for %u connections: %s%s", run->n_slots, lnmt_strerror(rc),
			 rc == -EMFILE ? " (each takes a registered file: the open-file limit, ulimit -n, is lower)" : "");
		return rc;
	}
	run->slots = calloc(run->n_slots, sizeof(*run->slots));
	if (!run->slots)
		goto nomem;
	for (unsigned c = 0; c < N_CHECKS; c++) {
		if (!(run->states[c] = calloc(run->n_slots, all_checks[c]->state_size)))
			goto nomem;
		if ((rc = all_checks[c]->init(&run->priv[c], cfg))) {
			snprintf(err, errlen, "cannot set up the %s check: %s", all_checks[c]->name, lnmt_strerror(rc));
			return rc;
		}
		run->priv_up[c] = true;
	}
	uint64_t cap = 1;
	while (cap < (uint64_t)IDENT_QUEUE_HIGH + run->n_slots + run->dns_max + 1)
		cap <<= 1;
	if (!(run->ring = malloc(cap * sizeof(*run->ring))))
		goto nomem;
	run->mask = cap - 1;
	uint64_t n = cfg->targets->count;
	if (cfg->n_ports) {
		if ((rc = permute_init(&run->pm_checks, n * cfg->n_ports, cfg->seed, 0, 1))) {
			snprintf(err, errlen, "too many checks: %s", lnmt_strerror(rc));
			return rc;
		}
		run->checks_left = true;
	}
	if (cfg->dns) {
		unsigned tries = cfg->dns_tries ? cfg->dns_tries : 2;
		if ((rc = ident_dns_new(&run->dns, run->loop, cfg->dns_server, tries, run->timeout_ns / tries, run->dns_max,
					on_dns, run, err, errlen)))
			return rc;
		if ((rc = permute_init(&run->pm_dns, n, cfg->seed ^ 0x9e3779b97f4a7c15ull, 0, 1))) {
			snprintf(err, errlen, "too many addresses: %s", lnmt_strerror(rc));
			return rc;
		}
		run->dns_left = true;
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the consumer's timed waits are monotonic */
	pthread_mutex_init(&run->lock, NULL);
	pthread_cond_init(&run->cond, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = -pthread_create(&run->consumer, NULL, consumer_main, run))) {
		snprintf(err, errlen, "cannot start the output thread: %s", lnmt_strerror(rc));
		return rc;
	}
	run->consumer_up = true;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory for %u connections", run->n_slots);
	return -ENOMEM;
}

static void teardown(struct run *run)
{
	if (run->consumer_up) {
		__atomic_store_n(&run->finish, 1, __ATOMIC_SEQ_CST);
		kick(run);
		pthread_mutex_lock(&run->lock);
		pthread_cond_signal(&run->cond);
		pthread_mutex_unlock(&run->lock);
		pthread_join(run->consumer, NULL);
		pthread_mutex_destroy(&run->lock);
		pthread_cond_destroy(&run->cond);
	}
	run->discard = true;
	ident_dns_free(run->dns); /* its pending callbacks land in a discarding run */
	run->dns = NULL;
	for (unsigned c = 0; c < N_CHECKS; c++) {
		if (run->states[c] && all_checks[c]->destroy)
			for (unsigned i = 0; i < run->n_slots; i++)
				all_checks[c]->destroy(run->priv[c], run->states[c] + (size_t)i * all_checks[c]->state_size);
		if (run->priv_up[c])
			all_checks[c]->fini(run->priv[c]);
		free(run->states[c]);
	}
	conn_loop_free(run->loop);
	free(run->slots);
	free(run->ring);
}

int ident_run(const struct ident_config *cfg, const struct ident_sink *sink, volatile sig_atomic_t *stop,
	      struct ident_stats *st, char *err, size_t errlen)
{
	struct run run = { .cfg = cfg, .sink = sink, .st = st };
	uint64_t t0 = clock_now_ns(), held_since = 0;
	int rc;

	memset(st, 0, sizeof(*st));
	if (!cfg->targets || !cfg->targets->finalized || !cfg->targets->count || cfg->n_ports > IDENT_MAX_PORTS ||
	    (!cfg->n_ports && !cfg->dns)) {
		snprintf(err, errlen, "nothing to check");
		return -EINVAL;
	}
	for (unsigned p = 0; p < cfg->n_ports; p++) {
		if (!cfg->ports[p].check) {
			snprintf(err, errlen, "port %u has no check", cfg->ports[p].port);
			return -EINVAL;
		}
	}
	if ((rc = setup(&run, cfg, err, errlen)))
		goto out;
	run.deadline = cfg->deadline_ns ? t0 + cfg->deadline_ns : 0;
	for (;;) {
		run.now = clock_now_ns();
		if (stop && *stop && !run.discard) {
			st->stopped = true;
			stop_all(&run);
		}
		if (run.deadline && run.now >= run.deadline && !st->deadline_hit) {
			/* Connections in flight have deadlines at most this one: they end by themselves. */
			st->deadline_hit = true;
			run.checks_left = run.dns_left = false;
			if (run.dns)
				ident_dns_cancel(run.dns);
		}
		bool behind = depth(&run) >= IDENT_QUEUE_HIGH;
		if (behind && (run.checks_left || run.dns_left)) {
			if (!held_since)
				held_since = run.now;
		} else if (held_since) {
			st->held_back_ns += run.now - held_since;
			held_since = 0;
		}
		if (!behind)
			start_checks(&run);
		if (!run.checks_left && !run.dns_left && !conn_loop_busy(run.loop) &&
		    (!run.dns || !ident_dns_inflight(run.dns)))
			break;
		uint64_t wait = behind ? BEHIND_WAIT_NS : IDLE_WAIT_NS;
		if (run.dns && ident_dns_inflight(run.dns)) {
			wait = ident_dns_wait_ns(run.dns, wait);
			if (wait < 1000000u) {
				ident_dns_tick(run.dns);
				wait = ident_dns_wait_ns(run.dns, wait);
				if (wait < 1000u)
					wait = 1000u;
			}
		}
		if (run.deadline && !st->deadline_hit && run.deadline - run.now < wait)
			wait = run.deadline - run.now;
		if ((rc = conn_loop_run(run.loop, wait)) < 0) {
			snprintf(err, errlen, "io_uring: %s", lnmt_strerror(rc));
			stop_all(&run);
			goto out;
		}
		rc = 0;
		kick(&run);
	}
	if (held_since)
		st->held_back_ns += clock_now_ns() - held_since;
out:
	teardown(&run);
	st->elapsed_ns = clock_now_ns() - t0;
	return rc;
}
