/* SPDX-License-Identifier: MIT */
/*
 * dns.c: reverse DNS for a run: PTR queries through c-ares (ares_gethostbyaddr, DNS only: no
 * /etc/hosts), against the system resolver or one server, pipelined on c-ares' sockets, which
 * the run's io_uring polls (one-shot polls, re-armed while c-ares wants them), so nothing ever
 * blocks. Retries and the per-try timeout are c-ares' own (ARES_OPT_TRIES, ARES_OPT_TIMEOUTMS).
 */
#include "ident_int.h"

#include "err.h"
#include "check.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define DNS_MAX_SOCKS 32

struct dns_sock {
	ares_socket_t fd;     /* ARES_SOCKET_BAD: unused entry */
	bool want_read, want_write;
	bool armed;
	uint16_t gen;
};

/* One query in flight: what the answer callback needs, from a table allocated once. */
struct dns_query {
	struct ident_dns *d;
	uint32_t ip;
	unsigned next_free;
};

struct ident_dns {
	ares_channel channel;
	struct dns_query *queries;
	unsigned *free_q;
	unsigned n_free, max_inflight;
	bool channel_up;
	struct conn_loop *loop;
	struct dns_sock socks[DNS_MAX_SOCKS];
	unsigned inflight;
	ident_dns_done_cb done;
	void *ctx;
};

static unsigned tag_of(unsigned idx, uint16_t gen)
{
	return IDENT_DNS_TAG_BASE | ((unsigned)(gen & 0x3fff) << 8) | idx;
}

static void arm(struct ident_dns *d, unsigned idx)
{
	struct dns_sock *s = &d->socks[idx];

	if (s->armed || s->fd == ARES_SOCKET_BAD || !(s->want_read || s->want_write))
		return;
	conn_poll_fd(d->loop, s->fd, (s->want_read ? POLLIN : 0) | (s->want_write ? POLLOUT : 0), tag_of(idx, s->gen));
	s->armed = true;
}

static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct ident_dns *d = data;
	int idx = -1, free_idx = -1;

	for (int i = 0; i < DNS_MAX_SOCKS; i++) {
		if (d->socks[i].fd == fd)
			idx = i;
		else if (d->socks[i].fd == ARES_SOCKET_BAD && free_idx < 0)
			free_idx = i;
	}
	if (idx < 0) {
		if (!readable && !writable)
			return;
		if (free_idx < 0)
			return; /* more sockets than servers could need: c-ares' timeouts end their queries */
		idx = free_idx;
		d->socks[idx].fd = fd;
		d->socks[idx].gen++;
		d->socks[idx].armed = false;
	}
	struct dns_sock *s = &d->socks[idx];
	bool changed = s->want_read != (bool)readable || s->want_write != (bool)writable;
	s->want_read = readable;
	s->want_write = writable;
	if (!readable && !writable) {
		/* c-ares is done with it (it may close it next): forget the poll, whatever comes. */
		if (s->armed)
			conn_poll_cancel(d->loop, tag_of((unsigned)idx, s->gen));
		s->fd = ARES_SOCKET_BAD;
		s->armed = false;
		return;
	}
	if (changed && s->armed) {
		conn_poll_cancel(d->loop, tag_of((unsigned)idx, s->gen));
		s->gen++;
		s->armed = false;
	}
	arm(d, (unsigned)idx);
}

int ident_dns_new(struct ident_dns **out, struct conn_loop *loop, const char *server, unsigned tries,
		  uint64_t try_timeout_ns, unsigned max_inflight, ident_dns_done_cb done, void *ctx, char *err,
		  size_t errlen)
{
	struct ident_dns *d = calloc(1, sizeof(*d));
	struct ares_options o = { 0 };
	int rc;

	if (!d)
		return -ENOMEM;
	d->max_inflight = max_inflight ? max_inflight : 1;
	d->queries = calloc(d->max_inflight, sizeof(*d->queries));
	d->free_q = calloc(d->max_inflight, sizeof(*d->free_q));
	if (!d->queries || !d->free_q) {
		free(d->queries);
		free(d->free_q);
		free(d);
		snprintf(err, errlen, "out of memory for %u DNS queries", max_inflight);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < d->max_inflight; i++)
		d->free_q[i] = d->max_inflight - 1 - i;
	d->n_free = d->max_inflight;
	for (int i = 0; i < DNS_MAX_SOCKS; i++)
		d->socks[i].fd = ARES_SOCKET_BAD;
	d->loop = loop;
	d->done = done;
	d->ctx = ctx;
	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		free(d->queries);
		free(d->free_q);
		free(d);
		return -ENOMEM;
	}
	o.sock_state_cb = on_sock_state;
	o.sock_state_cb_data = d;
	o.tries = (int)(tries ? tries : 1);
	o.timeout = (int)(try_timeout_ns / 1000000u ? try_timeout_ns / 1000000u : 1);
	o.lookups = (char *)"b";
	o.socket_receive_buffer_size = 4 << 20;
	int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TRIES | ARES_OPT_TIMEOUTMS | ARES_OPT_LOOKUPS | ARES_OPT_SOCK_RCVBUF;
	if ((rc = ares_init_options(&d->channel, &o, mask)) != ARES_SUCCESS) {
		snprintf(err, errlen, "cannot set up the resolver (c-ares): %s", ares_strerror(rc));
		ares_library_cleanup();
		free(d->queries);
		free(d->free_q);
		free(d);
		return rc == ARES_ENOMEM ? -ENOMEM : -EINVAL;
	}
	d->channel_up = true;
	if (server) {
		struct in_addr a;
		if (inet_pton(AF_INET, server, &a) != 1) {
			snprintf(err, errlen, "bad --dns-server '%s': expected an IPv4 address", server);
			ident_dns_free(d);
			return LNMT_E_PARSE;
		}
		if ((rc = ares_set_servers_csv(d->channel, server)) != ARES_SUCCESS) {
			snprintf(err, errlen, "bad --dns-server '%s': %s", server, ares_strerror(rc));
			ident_dns_free(d);
			return LNMT_E_PARSE;
		}
	}
	*out = d;
	return 0;
}

void ident_dns_free(struct ident_dns *d)
{
	if (!d)
		return;
	if (d->channel_up) {
		ares_destroy(d->channel); /* pending callbacks run with ARES_EDESTRUCTION */
		ares_library_cleanup();
	}
	free(d->queries);
	free(d->free_q);
	free(d);
}

static void on_answer(void *arg, int status, int timeouts, struct hostent *h)
{
	struct dns_query *q = arg;
	struct ident_dns *d = q->d;
	struct ident_result r;

	(void)timeouts;
	memset(&r, 0, sizeof(r));
	r.ip = q->ip;
	r.kind = IDENT_DNS;
	switch (status) {
	case ARES_SUCCESS:
		if (h && h->h_name)
			ident_copy_text(r.hostname, sizeof(r.hostname), (const uint8_t *)h->h_name, strlen(h->h_name));
		break;
	case ARES_ENOTFOUND:
	case ARES_ENODATA:
		ident_fail(&r, IDENT_E_NXDOMAIN, "%s", "");
		break;
	case ARES_ETIMEOUT:
	case ARES_ECANCELLED:
	case ARES_EDESTRUCTION:
		ident_fail(&r, IDENT_E_TIMEOUT, "%s", "");
		break;
	default:
		ident_fail(&r, IDENT_E_DNS, "%s", ares_strerror(status));
		break;
	}
	d->free_q[d->n_free++] = (unsigned)(q - d->queries);
	d->inflight--;
	d->done(d->ctx, &r);
}

void ident_dns_query(struct ident_dns *d, uint32_t ip)
{
	struct in_addr a = { .s_addr = htonl(ip) };

	if (!d->n_free)
		return; /* the caller keeps inflight below max_inflight */
	struct dns_query *q = &d->queries[d->free_q[--d->n_free]];
	q->d = d;
	q->ip = ip;
	d->inflight++;
	ares_gethostbyaddr(d->channel, &a, sizeof(a), AF_INET, on_answer, q);
}

unsigned ident_dns_inflight(const struct ident_dns *d)
{
	return d->inflight;
}

void ident_dns_on_poll(struct ident_dns *d, unsigned tag, int res)
{
	unsigned idx = tag & 0xff;
	uint16_t gen = (uint16_t)((tag >> 8) & 0x3fff);

	if (idx >= DNS_MAX_SOCKS)
		return;
	struct dns_sock *s = &d->socks[idx];
	if (s->fd == ARES_SOCKET_BAD || (s->gen & 0x3fff) != gen)
		return; /* a poll of a socket c-ares has let go of */
	s->armed = false;
	if (res == -ECANCELED)
		return;
	ares_socket_t fd = s->fd;
	bool r = res < 0 || (res & (POLLIN | POLLERR | POLLHUP));
	bool w = res < 0 || (res & (POLLOUT | POLLERR | POLLHUP));
	ares_process_fd(d->channel, r ? fd : ARES_SOCKET_BAD, w ? fd : ARES_SOCKET_BAD);
	/* The callback may have moved the socket; re-arm whatever entry still holds it. */
	for (unsigned i = 0; i < DNS_MAX_SOCKS; i++)
		arm(d, i);
}

uint64_t ident_dns_wait_ns(struct ident_dns *d, uint64_t max)
{
	struct timeval maxtv = { .tv_sec = (time_t)(max / 1000000000u), .tv_usec = (suseconds_t)(max % 1000000000u / 1000u) };
	struct timeval tv, *t;

	if (!d->inflight)
		return max;
	t = ares_timeout(d->channel, &maxtv, &tv);
	if (!t)
		return max;
	return (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_usec * 1000u;
}

void ident_dns_tick(struct ident_dns *d)
{
	if (d->inflight)
		ares_process_fd(d->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

void ident_dns_cancel(struct ident_dns *d)
{
	if (d->inflight)
		ares_cancel(d->channel);
}
