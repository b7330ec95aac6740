/* SPDX-License-Identifier: MIT */
/*
 * http_int.h: what lnmt-http's files share (not part of the API in http.h).
 *
 *   http_front.c      the listening socket: heads checked before libmicrohttpd, deadlines, client log
 *   http_parse.c      pure request parsing (http_parse.h): heads, targets, routes, queries, bodies
 *   http_server.c     libmicrohttpd set-up, request intake and the routes' handlers
 *   http_reply.c      responses: JSON, errors, gzip, ETag/304
 *   http_request.c    query strings and JSON bodies -> RPC params (400 on anything wrong)
 *   http_rpc.c        the worker thread's RPC client, and proxying one call to one response
 *   http_cache.c      recent answers of read-only calls, dropped when lnmtd reports a change
 *   http_status.c     /api/health and /metrics (with the request and RPC histograms)
 *   http_events.c     /api/events: server-sent events from events.subscribe
 *   http_dashboard.c  the page at / (api/dashboard.html)
 *   http_charts.c     the dashboard's charts as SVG (api/chart.c) from lnmtd's reports
 */
#ifndef LNMT_HTTP_INT_H
#define LNMT_HTTP_INT_H

#include "http.h"

#include <microhttpd.h>

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define HTTP_RPC_TIMEOUT_MS 10000

#define HTTP_CONN_LIMIT 8192  /* connections the front holds; libmicrohttpd serves as many again */

struct http_front;
struct http_server {
	struct MHD_Daemon *mhd;
	struct http_front *front;
	struct http_config cfg;
	unsigned port;
};

extern struct http_server *http_srv; /* one per process */
extern atomic_bool http_stopping;
extern atomic_int http_sse_live;

/* One request in progress (MHD's con_cls). */
struct req {
	uint64_t t0;      /* http_mono_us() when it arrived */
	char *body;
	size_t len;
	bool too_large;
	bool answered;
	bool seen;        /* on_request's first call (headers in) is done */
	bool close;       /* answer with Connection: close (the request's framing is in doubt) */
	unsigned bad;     /* the target was refused (URI log callback): this status, with why */
	char why[160];
};

static inline uint64_t http_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- metrics (http_status.c) ---- */
void http_observe(unsigned status, uint64_t us);   /* one answered request */
void http_observe_rpc(uint64_t us, bool failed);   /* one RPC call (failed: lnmtd unreachable) */

/* ---- responses (http_reply.c); each marks r answered and records it ---- */
enum {
	R_ETAG = 1,       /* strong ETag; 304 when If-None-Match has it */
	R_NOSTORE = 2,    /* Cache-Control: no-store */
	R_SCAN_STATE = 4, /* a sweep's state: a finished one invalidates the cache (http_proxy) */
	R_CHANGES = 8,    /* the call changes what lnmtd answers: invalidates the cache (http_proxy) */
};
/* Queues text (malloc'ed, taken) of the given type with status; flags R_*. */
enum MHD_Result http_send_text(struct MHD_Connection *c, struct req *r, unsigned status, char *text, size_t len,
			       const char *type, unsigned flags, const char *allow, const char *location);
/* Sends j (taken) as JSON. */
enum MHD_Result http_send_json(struct MHD_Connection *c, struct req *r, unsigned status, json_t *j,
			       unsigned flags, const char *allow, const char *location);
/* Sends j (taken) as a 200 JSON answer, first stored in the cache under key (gen: as read before
 * asking lnmtd; see http_cache_put). */
struct http_refill;
enum MHD_Result http_send_json_cached(struct MHD_Connection *c, struct req *r, uint64_t gen, const char *key,
				      const struct http_refill *rf, json_t *j, unsigned flags);
/* The same for text (malloc'ed, taken) of the given type. */
enum MHD_Result http_send_text_cached(struct MHD_Connection *c, struct req *r, uint64_t gen, const char *key,
				      const struct http_refill *rf, char *text, size_t len, const char *type,
				      unsigned flags);
/* j (taken) as compact JSON text with a trailing newline, malloc'ed; NULL if out of memory. */
char *http_json_text(json_t *j, size_t *len);
/* {"error": {"code": <name of status>, "message": msg}} and a newline, malloc'ed; NULL if out of memory. */
char *http_error_text(unsigned status, const char *msg, size_t *len);
/* {"error": {"code": <name of status>, "message": ...}} */
enum MHD_Result http_send_error(struct MHD_Connection *c, struct req *r, unsigned status, const char *allow,
				const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Answers with a prepared response (shared, e.g. from the cache); 304 when If-None-Match has etag. */
enum MHD_Result http_send_prepared(struct MHD_Connection *c, struct req *r, unsigned status,
				   struct MHD_Response *resp, const char *etag);
bool http_accepts_gzip(struct MHD_Connection *c);
/* gzip of in: a malloc'ed buffer and its length, or NULL. */
char *http_gzip(const char *in, size_t len, size_t *out_len);
/* FNV-1a of p[0, n): ETags and the cache's slots. */
uint64_t http_hash(const char *p, size_t n);
/* The strong ETag of a body, quoted, into etag[24]. */
void http_etag(const char *body, size_t len, char etag[24]);

/* ---- request input (http_request.c); on NULL/false a 400 has been sent through *ret ---- */
/* The params map from the query string: only keys in allowed (NULL-terminated); "since" becomes
 * since_s, limit/history numbers. */
json_t *http_query_params(struct MHD_Connection *c, struct req *r, const char *const *allowed,
			  enum MHD_Result *ret);
/* The body as a JSON object. */
json_t *http_body_object(struct MHD_Connection *c, struct req *r, enum MHD_Result *ret);

/* ---- RPC (http_rpc.c) ---- */
/* Calls method on the worker thread's client, (re)connecting as needed, and returns the result as
 * JSON (a new reference). NULL on failure, with *rc the RPC error code (> 0, message in err) or a
 * negative errno (-ENOMEM, or lnmtd unreachable). params may be NULL (no params). */
json_t *http_call(const char *method, const json_t *params, int *rc, char *err, size_t errlen);
/* Calls method (params kept) and returns its result as JSON; on failure sends the JSON error
 * (status from the RPC error) and returns NULL with *ret set. */
json_t *http_call_json(struct MHD_Connection *c, struct req *r, const char *method, json_t *params,
		       enum MHD_Result *ret);
/* A connection of its own to lnmtd, subscribed to topics (a JSON array of strings), for a
 * thread that then reads notifications with rpc_recv: the client, and events.subscribe's answer
 * in *reply (when reply is not NULL). NULL on failure, with *rc and err as http_call's. */
struct rpc_client *http_subscribe(const json_t *topics, json_t **reply, int *rc, char *err, size_t errlen);
unsigned http_rpc_status(int rc);            /* the HTTP status of an RPC failure */
const char *http_rpc_code_name(int rc);      /* "BAD_PARAMS", "UNAVAILABLE", ... */
/* Calls method with params (taken) and answers with its result as JSON (status on success). */
enum MHD_Result http_proxy(struct MHD_Connection *c, struct req *r, const char *method, json_t *params,
			   unsigned status, unsigned flags);
/* Like http_proxy for read-only methods, keeping the answer in the cache under key (from
 * http_cache_answer; "" = not cached). */
enum MHD_Result http_proxy_cached(struct MHD_Connection *c, struct req *r, const char *key, const char *method,
				  json_t *params, unsigned flags);

/* ---- the cache (http_cache.c) ---- */
struct http_cached;  /* one answer: a shared MHD_Response (plain and gzip) and its ETag */
int http_cache_start(unsigned ttl_ms);  /* 0: caching off */
void http_cache_stop(void);
/* The cached answer for key, referenced (release with http_cached_put), or NULL. */
struct http_cached *http_cache_get(const char *key);
#define HTTP_KEY_MAX 1024
/* Answers from the cache when it holds url with the request's query (flags R_*: how), returning
 * true with *ret set. Otherwise false, with key set to what http_cache_put needs ("": too long
 * to cache). Cheap: no parsing, no allocation. */
bool http_cache_answer(struct MHD_Connection *c, struct req *r, const char *url, char key[HTTP_KEY_MAX],
		       unsigned flags, enum MHD_Result *ret);
/*
 * How an answer is computed again away from any request: popular answers are renewed in the
 * background (by the cache's refresher thread) once half their TTL has passed, so that no
 * request waits on lnmtd for them and no worker thread stalls its other connections. compute
 * returns the body (malloc'ed, *len set), or NULL when it could not (the answer then simply
 * expires). what and params are copied into the entry.
 */
typedef char *(*http_compute_fn)(const char *what, const json_t *params, size_t *len);
struct http_refill {
	http_compute_fn compute;
	const char *what;
	const json_t *params;   /* may be NULL */
};
/* The generation to pass to http_cache_put: read it before asking lnmtd. */
uint64_t http_cache_generation(void);
/* Stores body (copied; its answers carry the R_ETAG/R_NOSTORE headers of flags) under key, to
 * be renewed with rf (NULL: never), and returns it referenced; NULL when caching is off or
 * something changed since gen was read. */
struct http_cached *http_cache_put(uint64_t gen, const char *key, const struct http_refill *rf, const char *body,
				   size_t len, const char *type, unsigned flags);
void http_cached_put(struct http_cached *e);
enum MHD_Result http_cached_send(struct MHD_Connection *c, struct req *r, struct http_cached *e, unsigned flags);
/* Everything cached is stale (lnmtd reported a change, or a request changed something). */
void http_cache_invalidate(void);

/* ---- the front (http_front.c) ---- */
enum http_event {
	HTTP_EV_HEAD_TIMEOUT,    /* 408: a head not complete by the deadline */
	HTTP_EV_REQUEST_TIMEOUT, /* a later request on a kept-alive connection late: shut down */
	HTTP_EV_REFUSED,         /* a head refused with a JSON error (400, 411, 413, 414, 431, 501, 505) */
	HTTP_EV_CLIENT_GONE,     /* the client left before its head was complete */
	HTTP_EV_OVER_LIMIT,      /* refused at the connection limit */
	HTTP_EV_LIBRARY,         /* a message from libmicrohttpd (about a client, as a rule) */
	HTTP_EV_COUNT
};
/* Binds cfg's address (port 0: any) and listens; NULL with errno set on failure. */
struct http_front *http_front_open(const struct http_config *cfg);
unsigned http_front_port(const struct http_front *f);
/* Starts the front's thread, which hands checked connections to mhd (a daemon started with
 * MHD_USE_NO_LISTEN_SOCKET and the callbacks below, f as their cls). 0 or -errno. */
int http_front_start(struct http_front *f, struct MHD_Daemon *mhd);
/* Stops accepting and joins the thread (before MHD_stop_daemon); http_front_close (after it)
 * also closes the connections the front still holds and frees f. Both accept NULL. */
void http_front_stop(struct http_front *f);
void http_front_close(struct http_front *f);
/* MHD_OPTION_NOTIFY_CONNECTION (cls: the front). */
void http_front_notify(void *cls, struct MHD_Connection *mc, void **socket_context,
		       enum MHD_ConnectionNotificationCode code);
/* MHD_OPTION_EXTERNAL_LOGGER (cls: the front): rate-limited, counted. */
void http_front_mhd_log(void *cls, const char *fmt, va_list ap);
/* A line about a client on stderr, at most a few per ten seconds (the rest counted). */
void http_front_log(struct http_front *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void http_front_count(struct http_front *f, enum http_event ev);
/* The request on mc is in (it is being answered: no deadline until it is completed). */
void http_front_busy(struct MHD_Connection *mc);
/* The request on mc was completed: the next one is due by the deadline. */
void http_front_completed(struct http_front *f, struct MHD_Connection *mc);
/* The front's counters for /metrics. */
void http_front_metrics(struct http_front *f, FILE *out);

/* ---- handlers ---- */
enum MHD_Result http_health(struct MHD_Connection *c, struct req *r);
enum MHD_Result http_metrics(struct MHD_Connection *c, struct req *r);
enum MHD_Result http_events(struct MHD_Connection *c, struct req *r);
enum MHD_Result http_dashboard(struct MHD_Connection *c, struct req *r);
void http_dashboard_free(void);
/* GET /api/charts/{uptime,subnets,vendors}.svg (url: the whole path) */
enum MHD_Result http_chart(struct MHD_Connection *c, struct req *r, const char *name);

#endif
