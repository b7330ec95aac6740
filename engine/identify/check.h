/* SPDX-License-Identifier: MIT */
/*
 * check.h: the interface of one service check (http.c, tls.c, ssh.c), in the style of ZMap's
 * probe modules: each file exports one const struct check_ops, never written at run time.
 *
 * The run (ident.c) owns the connection; the check only says what to send and what it makes
 * of what came back. Per run, init() builds the check's private context (an SSL_CTX); per slot
 * of the connection table the run keeps state_size bytes of the check's state, allocated once
 * with the table and zeroed by nothing: start() must set up all of it that it uses.
 *
 * Callbacks (all on the run's thread; hot path except init and fini: no malloc of the check's
 * own, no logging, no syscall):
 *   init(priv, cfg)         once per run; 0 or -errno. *priv is passed to every other callback.
 *   fini(priv)              once per run, after the last check; priv may be NULL.
 *   start(priv, st, r, io)  the TCP connection is up. r is the result being filled (ip, port,
 *                           kind set; every other field zero). May write up to io->tx_cap bytes
 *                           into io->tx and set io->tx_len to send them first. Returns a verdict.
 *   input(priv, st, data, len, r, io)
 *                           len > 0 bytes arrived (data valid during the call only); len == 0:
 *                           the peer closed. Same io and verdict as start().
 *   release(priv, st)       the slot's check is over, whatever ended it (verdict, timeout,
 *                           reset): drop per-connection state, keep what can be reused.
 *   destroy(priv, st)       once per slot at the end of the run (st may never have started):
 *                           frees what release() kept for reuse. May be NULL.
 * Verdicts: CHECK_MORE (send io->tx if io->tx_len, then read), CHECK_DONE (r holds the answer),
 * CHECK_FAIL (r->error and r->error_detail say why). After DONE or FAIL the run closes the
 * connection and calls release().
 */
#ifndef LNMT_CHECK_H
#define LNMT_CHECK_H

#include "ident.h"
#include "ident_parse.h"

#include <stddef.h>
#include <stdint.h>

enum check_verdict { CHECK_MORE, CHECK_DONE, CHECK_FAIL };

struct check_io {
	uint8_t *tx;       /* the slot's send buffer */
	size_t tx_cap;
	size_t tx_len;     /* set by the check: bytes to send now (0: none) */
	uint64_t now_ns;   /* clock_now_ns() of the event */
	uint64_t start_ns; /* when the connect was started */
};

struct check_ops {
	const char *name;
	enum ident_kind kind;
	size_t state_size;
	int (*init)(void **priv, const struct ident_config *cfg);
	void (*fini)(void *priv);
	enum check_verdict (*start)(void *priv, void *st, struct ident_result *r, struct check_io *io);
	enum check_verdict (*input)(void *priv, void *st, const uint8_t *data, size_t len, struct ident_result *r,
				    struct check_io *io);
	void (*release)(void *priv, void *st);
	void (*destroy)(void *priv, void *st);
};

extern const struct check_ops check_http;
extern const struct check_ops check_tls;
extern const struct check_ops check_ssh;

/* Sets r's error and its detail (printf-style, cut to IDENT_DETAIL_MAX). */
void ident_fail(struct ident_result *r, enum ident_error e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
