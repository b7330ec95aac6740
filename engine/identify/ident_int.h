/* SPDX-License-Identifier: MIT */
/*
 * ident_int.h: what ident.c shares with dns.c: the reverse-DNS side of a run, c-ares driven from
 * the run's io_uring (its sockets polled there, its timeouts folded into the loop's wait).
 *
 * Threads: the run's thread only. done() is called from inside ident_dns_on_poll(),
 * ident_dns_tick() and ident_dns_cancel(), once per query, with a result valid during the call.
 */
#ifndef LNMT_IDENT_INT_H
#define LNMT_IDENT_INT_H

#include "conn.h"
#include "ident.h"

#include <stdint.h>

/* Poll tags of the resolver's sockets: above every slot number the run uses for itself. */
#define IDENT_DNS_TAG_BASE 0x08000000u

struct ident_dns;

typedef void (*ident_dns_done_cb)(void *ctx, const struct ident_result *r);

/*
 * server: dotted IPv4, or NULL for resolv.conf. tries >= 1; try_timeout_ns per try; at most
 * max_inflight queries at once (the caller keeps below it; the table is allocated here).
 * Returns 0 or -errno / LNMT_E_PARSE with err set.
 */
int ident_dns_new(struct ident_dns **out, struct conn_loop *loop, const char *server, unsigned tries,
		  uint64_t try_timeout_ns, unsigned max_inflight, ident_dns_done_cb done, void *ctx, char *err,
		  size_t errlen);
void ident_dns_free(struct ident_dns *d);

/* Starts the PTR query for ip (host order). */
void ident_dns_query(struct ident_dns *d, uint32_t ip);
unsigned ident_dns_inflight(const struct ident_dns *d);
/* A CONN_EV_POLL whose tag is >= IDENT_DNS_TAG_BASE. */
void ident_dns_on_poll(struct ident_dns *d, unsigned tag, int res);
/* Nanoseconds until c-ares needs ident_dns_tick() (at most max). */
uint64_t ident_dns_wait_ns(struct ident_dns *d, uint64_t max);
/* Handles c-ares' timeouts (retries, given-up queries). */
void ident_dns_tick(struct ident_dns *d);
/* Ends every query in flight; each gets its result (IDENT_E_TIMEOUT). */
void ident_dns_cancel(struct ident_dns *d);

#endif
