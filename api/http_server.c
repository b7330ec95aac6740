/* SPDX-License-Identifier: MIT */
/*
 * http_server.c: lnmt-http's routes on libmicrohttpd (internal epoll thread pool). Each route is
 * one RPC call (http_rpc.c) or an answer from the cache (http_cache.c); reads marked "cached"
 * below may be reused until lnmtd reports a change (at most --cache-ms).
 *
 *   GET  /api/health                       system.status (+ scan.list limit 1): 200, or 503; cached
 *   GET  /api/devices?state&subnet&since&vendor&text&limit&after   devices.list (ETag); cached
 *   POST /api/devices {ip, name?, note?} | {devices: [{ip, name?, note?}, ...]}
 *                                          devices.annotate | devices.import
 *   GET  /api/devices/{ip}                 devices.get (ETag); cached
 *   GET  /api/reports/uptime?since&subnet  report.uptime (ETag, 304); cached
 *   GET  /api/reports/network?since&subnet report.network (ETag, 304); cached
 *   GET  /api/scans?limit | POST /api/scans {targets, probes, ports, rate, ...} -> 202 {id}
 *   GET|DELETE /api/scans/{id}             scan.status | scan.cancel
 *   GET|POST /api/scheduler/jobs, GET|DELETE /api/scheduler/jobs/{id}, POST .../{id}/run
 *   GET  /api/events?topics=scan,device,job  server-sent events (events.subscribe)
 *   GET  /api/charts/{uptime,subnets,vendors}.svg?since&subnet   SVG (http_charts.c); cached
 *   GET  /metrics                          Prometheus text
 *   GET  /                                 the dashboard (no token needed: it holds no data)
 *
 * Errors are {"error": {"code", "message"}}: 400 bad query/JSON/params, 401, 404, 405 (Allow),
 * 413 (body over HTTP_MAX_BODY), 503 (lnmtd unreachable or BUSY), 500; and from the checks of a
 * request head (http_front.c, http_parse.c): 400 (a malformed request line or header, NUL or an
 * invalid %-escape in the target, a missing or repeated Host, a repeated Content-Length), 408 (the
 * head not complete within --timeout), 411 (chunked bodies), 413, 414, 431, 501, 505.
 *
 * The route table itself is http_route_match (http_parse.c), a pure function the fuzz target
 * runs; route() below only calls each route's handler. Requests reach on_request through the
 * front (http_front.c), which checks each connection's first head before libmicrohttpd reads it;
 * the URI log callback and on_request's first call check what libmicrohttpd lets through on the
 * later requests of a kept-alive connection (NUL and bad escapes, Content-Length twice,
 * Transfer-Encoding, Host), so those are refused as JSON too.
 */
#include "http_int.h"
#include "rpc.h"

#include <microhttpd.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct http_server *http_srv;
atomic_bool http_stopping;
atomic_int http_sse_live;

static bool token_ok(const char *hdr, const char *token)
{
	if (!hdr || strncasecmp(hdr, "Bearer ", 7) != 0)
		return false;
	const char *t = hdr + 7;
	while (*t == ' ')
		t++;
	size_t n = strlen(t), m = strlen(token);
	unsigned char d = n != m;
	for (size_t i = 0; i < m; i++)
		d |= (unsigned char)token[i] ^ (unsigned char)(i < n ? t[i] : 0);
	return d == 0;
}

static json_t *id_params(uint64_t id)
{
	return json_pack("{s:I}", "id", (json_int_t)id);
}

static enum MHD_Result route(struct MHD_Connection *c, struct req *r, const char *url, const char *method)
{
	enum MHD_Result ret = MHD_NO;
	json_t *p;
	char key[HTTP_KEY_MAX];
	struct http_match m;

	if (r->too_large)
		return http_send_error(c, r, 413, NULL, "request body over %u bytes", HTTP_MAX_BODY);
	http_route_match(method, url, &m);
	if (m.needs_token && http_srv->cfg.token &&
	    !token_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION), http_srv->cfg.token))
		return http_send_error(c, r, 401, NULL, "an 'Authorization: Bearer TOKEN' header with the right token is required");
	switch (m.route) {
	case HTTP_RT_NONE:
		return http_send_error(c, r, m.status, m.allow, "%s", m.msg);
	case HTTP_RT_DASHBOARD:
		return http_dashboard(c, r);
	case HTTP_RT_CHART:
		return http_chart(c, r, url);
	case HTTP_RT_METRICS:
		return http_metrics(c, r);
	case HTTP_RT_HEALTH:
		return http_health(c, r);
	case HTTP_RT_DEVICES_POST: {
		/* {ip, name?, note?} names one device; {devices: [...]} imports a list */
		if (!(p = http_body_object(c, r, &ret)))
			return ret;
		bool list = json_object_get(p, "devices") != NULL;
		return http_proxy(c, r, list ? "devices.import" : "devices.annotate", p, 200, R_NOSTORE | R_CHANGES);
	}
	case HTTP_RT_DEVICES_LIST:
		if (http_cache_answer(c, r, url, key, R_ETAG, &ret))
			return ret;
		if (!(p = http_query_params(c, r, m.allowed, &ret)))
			return ret;
		return http_proxy_cached(c, r, key, "devices.list", p, R_ETAG);
	case HTTP_RT_DEVICE:
		if (http_cache_answer(c, r, url, key, R_ETAG, &ret))
			return ret;
		return http_proxy_cached(c, r, key, "devices.get", json_pack("{s:s}", "ip", m.arg), R_ETAG);
	case HTTP_RT_REPORT_UPTIME:
	case HTTP_RT_REPORT_NETWORK:
		if (http_cache_answer(c, r, url, key, R_ETAG, &ret))
			return ret;
		if (!(p = http_query_params(c, r, m.allowed, &ret)))
			return ret;
		return http_proxy_cached(c, r, key, m.route == HTTP_RT_REPORT_UPTIME ? "report.uptime" : "report.network",
					 p, R_ETAG);
	case HTTP_RT_SCANS_LIST:
		if (!(p = http_query_params(c, r, m.allowed, &ret)))
			return ret;
		return http_proxy(c, r, "scan.list", p, 200, R_NOSTORE);
	case HTTP_RT_SCAN_START:
		if (!(p = http_body_object(c, r, &ret)))
			return ret;
		return http_proxy(c, r, "scan.start", p, 202, R_NOSTORE);
	case HTTP_RT_SCAN_STATUS:
		return http_proxy(c, r, "scan.status", id_params(m.id), 200, R_NOSTORE | R_SCAN_STATE);
	case HTTP_RT_SCAN_CANCEL:
		return http_proxy(c, r, "scan.cancel", id_params(m.id), 202, R_NOSTORE);
	case HTTP_RT_JOBS_LIST:
		if (!(p = http_query_params(c, r, m.allowed, &ret)))
			return ret;
		return http_proxy(c, r, "jobs.list", p, 200, R_NOSTORE);
	case HTTP_RT_JOB_ADD:
		if (!(p = http_body_object(c, r, &ret)))
			return ret;
		return http_proxy(c, r, "jobs.add", p, 201, R_NOSTORE);
	case HTTP_RT_JOB_GET:
		if (!(p = http_query_params(c, r, m.allowed, &ret)))
			return ret;
		json_object_set_new(p, "id", json_integer((json_int_t)m.id));
		return http_proxy(c, r, "jobs.list", p, 200, R_NOSTORE);
	case HTTP_RT_JOB_REMOVE:
		return http_proxy(c, r, "jobs.remove", id_params(m.id), 200, R_NOSTORE);
	case HTTP_RT_JOB_RUN:
		return http_proxy(c, r, "jobs.run_now", id_params(m.id), 202, R_NOSTORE);
	case HTTP_RT_EVENTS:
		return http_events(c, r);
	}
	return http_send_error(c, r, 500, NULL, "no handler for route %d", (int)m.route);
}

/* MHD_OPTION_URI_LOG_CALLBACK: called once per request with the target as sent, before
 * libmicrohttpd splits and decodes it; its result is the request's con_cls. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	(void)cls, (void)c;
	struct req *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->t0 = http_mono_us();
	if (uri)
		r->bad = http_target_check(uri, strlen(uri), r->why, sizeof(r->why));
	return r;
}

/* MHD_OPTION_UNESCAPE_CALLBACK: the same decoding as the fuzz target's. */
static size_t on_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls, (void)c;
	return http_unescape(s);
}

struct head_scan {
	unsigned host, length, te;
	const char *length_value;
};

static enum MHD_Result head_it(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct head_scan *s = cls;
	if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0) {
		s->host++;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		s->length++;
		s->length_value = value;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		s->te++;
	}
	return MHD_YES;
}

/* The first call for a request, its headers in: what the front checked on the connection's first
 * head, checked again as libmicrohttpd parsed it, for the later requests of a kept-alive one. */
static enum MHD_Result first_call(struct MHD_Connection *c, struct req *r, const char *version)
{
	if (r->bad) {
		r->close = true;
		http_front_busy(c);
		return http_send_error(c, r, r->bad, NULL, "%s", r->why);
	}
	struct head_scan s = { 0 };
	MHD_get_connection_values(c, MHD_HEADER_KIND, head_it, &s);
	const char *why = NULL;
	unsigned status = 400;
	if (s.length > 1)
		why = "Content-Length given twice";
	else if (s.te && s.length)
		why = "both Transfer-Encoding and Content-Length";
	else if (s.te)
		status = 411, why = "chunked request bodies are not accepted: send Content-Length";
	else if (s.host > 1)
		why = "Host given twice";
	else if (!s.host && strcmp(version, MHD_HTTP_VERSION_1_0) != 0)
		why = "an HTTP/1.1 request needs a Host header";
	if (why) {
		/* the request's framing is in doubt: nothing more is read from this connection */
		r->close = true;
		http_front_busy(c);
		return http_send_error(c, r, status, NULL, "%s", why);
	}
	if (s.length_value && strtoull(s.length_value, NULL, 10) > HTTP_EARLY_REJECT) {
		r->too_large = true;
		http_front_busy(c);
		return http_send_error(c, r, 413, NULL, "request body over %u bytes", HTTP_MAX_BODY);
	}
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	(void)cls;
	struct req *r = *con_cls;
	if (!r)
		return MHD_NO; /* out of memory in on_uri */
	if (!r->seen) {
		r->seen = true;
		return first_call(c, r, version);
	}
	if (r->answered) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!r->too_large && r->len + *upload_size > HTTP_MAX_BODY) {
			r->too_large = true;
			free(r->body);
			r->body = NULL;
			r->len = 0;
		}
		if (!r->too_large) {
			char *b = realloc(r->body, r->len + *upload_size);
			if (!b)
				return MHD_NO;
			memcpy(b + r->len, upload, *upload_size);
			r->body = b;
			r->len += *upload_size;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	http_front_busy(c);
	return route(c, r, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)toe;
	struct http_server *s = cls;
	struct req *r = *con_cls;
	if (r) {
		free(r->body);
		free(r);
		*con_cls = NULL;
	}
	http_front_completed(s->front, c);
}

struct http_server *http_server_start(const struct http_config *cfg)
{
	struct http_server *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cfg = *cfg;
	http_srv = s;
	if (!(s->front = http_front_open(cfg))) {
		int e = errno;
		free(s);
		http_srv = NULL;
		errno = e;
		return NULL;
	}
	/* no listening socket: the front accepts and hands over (MHD_add_connection needs MHD_USE_ITC) */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL,
				  /* first, or the options before it log to stderr directly */
				  MHD_OPTION_EXTERNAL_LOGGER, http_front_mhd_log, s->front,
				  MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(cfg->threads ? cfg->threads : 2),
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(cfg->timeout_s ? cfg->timeout_s : 10),
				  /* the heads the front admits (HTTP_HEAD_MAX, HTTP_FIELDS_MAX, HTTP_ITEMS_MAX) fit;
				   * MHD zeroes the pool for every request, so no more */
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_POOL_SIZE,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_LIMIT,
				  MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)0,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				  MHD_OPTION_NOTIFY_CONNECTION, http_front_notify, s->front,
				  MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
				  MHD_OPTION_UNESCAPE_CALLBACK, on_unescape, NULL,
				  MHD_OPTION_END);
	if (!s->mhd)
		goto fail;
	int rc = http_cache_start(cfg->cache_ms);
	if (rc < 0) {
		fprintf(stderr, "lnmt-http: cannot start the cache's event watcher: %s\n", strerror(-rc));
		goto fail;
	}
	if ((rc = http_front_start(s->front, s->mhd)) < 0) {
		fprintf(stderr, "lnmt-http: cannot start the front's thread: %s\n", strerror(-rc));
		http_cache_stop();
		goto fail;
	}
	s->port = http_front_port(s->front);
	return s;
fail:
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	http_front_close(s->front);
	free(s);
	http_srv = NULL;
	return NULL;
}

unsigned http_server_port(const struct http_server *s)
{
	return s->port;
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	http_front_stop(s->front);
	atomic_store(&http_stopping, true);
	/* event streams end within their 500 ms receive timeout and resume their connections */
	for (int i = 0; i < 40 && atomic_load(&http_sse_live) > 0; i++)
		usleep(50000);
	MHD_stop_daemon(s->mhd);
	http_front_close(s->front);
	http_cache_stop();
	http_dashboard_free();
	free(s);
	http_srv = NULL;
}
