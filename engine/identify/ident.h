/* SPDX-License-Identifier: MIT */
/*
 * ident.h: "what is this device?": service checks (HTTP, TLS, SSH) over connections of the
 * kernel's TCP on one io_uring (io/conn.h), and reverse DNS with c-ares, for a set of targets.
 *
 * ident_run() walks every (address, port) of the targets in a random order (engine/permute.h),
 * keeps up to `concurrency` connections in flight, each with a deadline of `timeout_ns` from its
 * connect, and (with dns) a PTR query per address, at most dns_inflight at once; it ends when
 * every check is done, or at `deadline_ns` (every check still open then ends with
 * IDENT_E_TIMEOUT), or soon after *stop becomes non-zero. Needs no privileges.
 *
 * Results: one struct ident_result per check, handed to sink->result on a thread of the run's
 * own (one at a time; the sink may block). The run thread never waits for the sink: results wait
 * in a ring allocated once, and while more than IDENT_QUEUE_HIGH wait, no new check starts (the
 * checks in flight still finish into the ring's headroom), so a slow reader costs no check and
 * memory stays bounded. Every result has been delivered when ident_run() returns.
 *
 * Memory: everything is allocated by ident_run() before the first check (slots, buffers, the
 * result ring, the checks' per-slot state); the hot path allocates nothing of its own (OpenSSL
 * reuses each slot's SSL object across handshakes through SSL_clear()).
 */
#ifndef LNMT_IDENT_H
#define LNMT_IDENT_H

#include "targets.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ident_kind { IDENT_HTTP, IDENT_TLS, IDENT_SSH, IDENT_DNS, IDENT_KINDS };

enum ident_error {
	IDENT_OK,
	IDENT_E_TIMEOUT,      /* the deadline passed (connect, or waiting for the answer) */
	IDENT_E_REFUSED,      /* RST to the SYN: nothing listens */
	IDENT_E_RESET,        /* RST after the connection was up */
	IDENT_E_TLS_ALERT,    /* the server ended the handshake with an alert (detail: its name) */
	IDENT_E_TLS,          /* the handshake failed otherwise (detail: OpenSSL's reason) */
	IDENT_E_BAD_RESPONSE, /* not the protocol asked for, or over a limit (detail: what) */
	IDENT_E_CLOSED,       /* the server closed before it answered */
	IDENT_E_UNREACHABLE,  /* no route, host unreachable */
	IDENT_E_NXDOMAIN,     /* dns: no name for the address */
	IDENT_E_DNS,          /* dns: the server failed (detail: c-ares' reason) */
	IDENT_E_OTHER,        /* any other -errno (detail: strerror) */
	IDENT_ERRORS
};

#define IDENT_TEXT_MAX 256  /* title, subject, issuer, banner, host name: bytes kept with the NUL */
#define IDENT_SERVER_MAX 128
#define IDENT_SANS_MAX 1024
#define IDENT_DETAIL_MAX 96

struct ident_result {
	uint32_t ip;                  /* host order */
	uint16_t port;                /* 0 for dns */
	uint8_t kind;                 /* enum ident_kind */
	uint8_t error;                /* enum ident_error; IDENT_OK when the fields below are set */
	bool connected;               /* the TCP connection was up (false: refused, connect timeout) */
	uint16_t http_status;
	uint32_t ttfb_us;             /* http: request sent to first byte; tls: handshake; ssh: banner */
	int64_t tls_not_after;        /* seconds since the epoch (UTC) */
	char tls_version[16];         /* "TLSv1.3" */
	char error_detail[IDENT_DETAIL_MAX];
	char http_server[IDENT_SERVER_MAX];
	char http_title[IDENT_TEXT_MAX];
	char tls_subject[IDENT_TEXT_MAX]; /* RFC 2253: "CN=lab.test,O=lnmt lab" */
	char tls_issuer[IDENT_TEXT_MAX];
	char tls_sans[IDENT_SANS_MAX];    /* "DNS:a DNS:b IP:198.19.0.7", cut with " +N more" */
	char ssh_banner[IDENT_TEXT_MAX];  /* "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10" */
	char hostname[IDENT_TEXT_MAX];
};

struct check_ops;

/* One port to check and how. */
struct ident_port {
	uint16_t port;
	const struct check_ops *check;
};

#define IDENT_MAX_PORTS 64

struct ident_config {
	const struct target_set *targets;     /* finalized */
	struct ident_port ports[IDENT_MAX_PORTS];
	unsigned n_ports;                     /* 0: dns only */
	bool dns;                             /* a PTR query per address */
	const char *dns_server;               /* dotted IPv4; NULL: the system resolver (resolv.conf) */
	unsigned dns_inflight;                /* 0: 128 */
	unsigned dns_tries;                   /* 0: 2 */
	unsigned concurrency;                 /* connections at once; 0: 1024 */
	uint64_t timeout_ns;                  /* per check (and per DNS try: half of it); 0: 3 s */
	uint64_t deadline_ns;                 /* the whole run, from its start; 0: none */
	uint64_t seed;                        /* the order of the checks */
	const char *http_host;                /* Host header; NULL: the address */
};

struct ident_sink {
	void (*result)(void *ctx, const struct ident_result *r);
	void *ctx;
};

struct ident_stats {
	uint64_t checks;                      /* results delivered, dns included */
	uint64_t by_kind[IDENT_KINDS];        /* of which answered (IDENT_OK) per kind */
	uint64_t errors[IDENT_ERRORS];        /* results per error */
	uint64_t elapsed_ns;
	uint64_t queue_peak;                  /* most results waiting for the sink at once */
	uint64_t held_back_ns;                /* time no check started because the sink was behind */
	bool deadline_hit;                    /* the run's deadline ended it */
	bool stopped;                         /* *stop ended it */
};

#define IDENT_QUEUE_HIGH 4096

/* Returns 0, or -errno / LNMT_E_* with err set ("cannot set up io_uring: ..."). */
int ident_run(const struct ident_config *cfg, const struct ident_sink *sink, volatile sig_atomic_t *stop,
	      struct ident_stats *st, char *err, size_t errlen);

/* "http", "tls", "ssh", "dns". */
const char *ident_kind_name(enum ident_kind k);
/* "timeout", "refused", "reset", "tls alert", "tls", "bad response", "closed", "unreachable",
 * "nxdomain", "dns", "error"; "" for IDENT_OK. */
const char *ident_error_name(enum ident_error e);

/* The check for a name ("http", "tls", "ssh"), or NULL. */
const struct check_ops *ident_check_by_name(const char *name);
/* The check a port gets by default: 22 ssh, 443/8443/993/995/465/636 tls, else http. */
const struct check_ops *ident_check_for_port(uint16_t port);

#endif
