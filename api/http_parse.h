/* SPDX-License-Identifier: MIT */
/*
 * http_parse.h: lnmt-http's request parsing as pure functions (no libmicrohttpd, no lnmtd, no
 * I/O): the check of a request head before libmicrohttpd sees it, request targets and their
 * %-escapes, the route table, query parameters and JSON bodies. The server (http_front.c,
 * http_server.c, http_request.c) and the fuzz target (tests/fuzz/fuzz_http.c) call the same
 * functions. All are thread-safe and keep no state; none allocates except where it returns JSON.
 */
#ifndef LNMT_HTTP_PARSE_H
#define LNMT_HTTP_PARSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Limits of a request head. libmicrohttpd keeps a head in its per-connection pool (the raw
 * bytes, a copy of the Cookie header and 64 bytes per header, cookie and query argument), and
 * answers anything that does not fit with its own HTML 414/431; these limits keep every head the
 * front admits well inside HTTP_POOL_SIZE, so those answers cannot happen for it.
 */
#define HTTP_HEAD_MAX 8192       /* the request line and every header field, with the empty line */
#define HTTP_TARGET_MAX 4096     /* the request target (path and query) */
#define HTTP_FIELDS_MAX 48       /* header fields */
#define HTTP_ITEMS_MAX 64        /* cookies plus query arguments */
#define HTTP_POOL_SIZE (32u * 1024) /* libmicrohttpd's MHD_OPTION_CONNECTION_MEMORY_LIMIT */
#define HTTP_MAX_BODY (64u * 1024)  /* larger request bodies get 413 */
#define HTTP_EARLY_REJECT (1u << 20) /* a declared body above this is refused before it is read */

/* What http_head_check found. */
struct http_head {
	size_t len;              /* complete: the head's length, through its empty line */
	unsigned status;         /* refused: 400, 411, 413, 414, 431, 501 or 505 */
	char msg[160];           /* refused: what was wrong, one line */
	const char *method;      /* complete: pointers into the buffer checked, not terminated */
	size_t method_len;
	const char *target;
	size_t target_len;
	unsigned version;        /* 10 (HTTP/1.0) or 11 (HTTP/1.1 and later 1.x) */
	bool has_length;
	uint64_t content_length;
};

/*
 * Checks the start of a connection's input, buf[0, len) (any bytes; not terminated), as an
 * HTTP/1.x request head. Returns 1 when a complete acceptable head is there (h->len and the
 * fields set), 0 when it is acceptable so far but incomplete (more bytes are needed: a caller
 * that has HTTP_HEAD_MAX bytes never gets 0), -1 when it is refused (h->status and h->msg).
 * It decides as early as the bytes allow: a first line that cannot be a request line (a TLS
 * hello, binary) is refused at its first wrong byte. Rules: method a token of up to 32
 * characters; one space; the target (http_target_check); one space; HTTP/1.0 or 1.x (0.x and
 * 2+: 505); header names tokens with the colon right after; no control characters but tab in
 * values, no obs-fold; lines end in CRLF or LF; exactly one Host in HTTP/1.1; at most one
 * Content-Length, digits only (over HTTP_EARLY_REJECT: 413); no Transfer-Encoding (chunked: 411
 * "send Content-Length"; others 501).
 */
int http_head_check(const char *buf, size_t len, struct http_head *h);

/*
 * Checks a request target, t[0, n) as sent (before any decoding): origin-form (starting with
 * '/') or "*", printable ASCII only, every '%' followed by two hex digits, no %00 anywhere (path
 * or query). Returns 0, or an HTTP status (400, 414) with what was wrong in why[whylen].
 */
unsigned http_target_check(const char *t, size_t n, char *why, size_t whylen);

/* Decodes %XX escapes of s in place (a checked target has only valid ones); an invalid escape
 * and %00 are left as they are, so the result never holds a NUL. Returns the new length. Also
 * libmicrohttpd's MHD_OPTION_UNESCAPE_CALLBACK, so that paths and query values are decoded alike
 * in the server and in the fuzz target. */
size_t http_unescape(char *s);

/* What http_route_match found for a method and a (decoded) path. */
enum http_route {
	HTTP_RT_NONE,            /* status says why: 400, 404 or 405 */
	HTTP_RT_DASHBOARD,
	HTTP_RT_CHART,           /* arg: the whole path */
	HTTP_RT_METRICS,
	HTTP_RT_HEALTH,
	HTTP_RT_DEVICES_LIST,
	HTTP_RT_DEVICES_POST,
	HTTP_RT_DEVICE,          /* arg: the address (a checked dotted quad) */
	HTTP_RT_REPORT_UPTIME,
	HTTP_RT_REPORT_NETWORK,
	HTTP_RT_SCANS_LIST,
	HTTP_RT_SCAN_START,
	HTTP_RT_SCAN_STATUS,     /* id */
	HTTP_RT_SCAN_CANCEL,     /* id */
	HTTP_RT_JOBS_LIST,
	HTTP_RT_JOB_ADD,
	HTTP_RT_JOB_GET,         /* id */
	HTTP_RT_JOB_REMOVE,      /* id */
	HTTP_RT_JOB_RUN,         /* id */
	HTTP_RT_EVENTS,
};
struct http_match {
	enum http_route route;
	unsigned status;             /* HTTP_RT_NONE: 400, 404 or 405 */
	const char *allow;           /* 405: the Allow header's value */
	char msg[160];               /* HTTP_RT_NONE: the error message */
	const char *arg;             /* see enum http_route; points into the path */
	uint64_t id;
	const char *const *allowed;  /* the query parameters the route takes (NULL-terminated) */
	bool needs_token;            /* false for the dashboard (the page holds no data) */
};
/* Matches method (HEAD counts as GET) and path against lnmt-http's routes (see http_server.c). */
void http_route_match(const char *method, const char *path, struct http_match *m);

/* A decimal id of 1 to 18 digits. */
bool http_parse_id(const char *s, uint64_t *id);

/*
 * Adds one query parameter (key, value as decoded; value NULL for a bare key) to params, if key
 * is in allowed: "since" (a duration: 3600, 30s, 15m, 24h, 7d, 2w) becomes since_s, "limit" and
 * "history" numbers, others strings. Returns 0, or -EINVAL with what was wrong in bad[badlen].
 */
int http_query_pair(json_t *params, const char *const *allowed, const char *key, const char *value, char *bad,
		    size_t badlen);

/* The body as a JSON object (a new reference), or NULL with what was wrong in err[errlen]
 * (empty, malformed with line and column, duplicate keys, not an object). */
json_t *http_body_parse(const char *body, size_t len, char *err, size_t errlen);

#endif
