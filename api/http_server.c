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
 * 413 (body over HTTP_MAX_BODY), 503 (lnmtd unreachable or BUSY), 500.
 */
#include "http_int.h"
#include "rpc.h"

#include <microhttpd.h>
#include <zlib.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define EARLY_REJECT (1u << 20)  /* a declared body above this is refused before it is read */

struct http_server *http_srv;
atomic_bool http_stopping;
atomic_int http_sse_live;


static bool is(const char *m, const char *want)
{
	return strcmp(m, want) == 0 || (strcmp(want, "GET") == 0 && strcmp(m, "HEAD") == 0);
}

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

static enum MHD_Result route(struct MHD_Connection *c, struct req *r, const char *url, const char *m)
{
	enum MHD_Result ret = MHD_NO;
	json_t *p;
	uint64_t id;
	char key[HTTP_KEY_MAX];

	if (r->too_large)
		return http_send_error(c, r, 413, NULL, "request body over %u bytes", HTTP_MAX_BODY);
	/* the page holds no data (its script asks the API with the token from the address) */
	if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0) {
		if (!is(m, "GET"))
			return http_send_error(c, r, 405, "GET, HEAD", "use GET");
		return http_dashboard(c, r);
	}
	if (http_srv->cfg.token &&
	    !token_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION), http_srv->cfg.token))
		return http_send_error(c, r, 401, NULL, "an 'Authorization: Bearer TOKEN' header with the right token is required");
	if (strncmp(url, "/api/charts/", 12) == 0) {
		if (!is(m, "GET"))
			return http_send_error(c, r, 405, "GET, HEAD", "use GET");
		return http_chart(c, r, url);
	}
	if (strcmp(url, "/metrics") == 0) {
		if (!is(m, "GET"))
			return http_send_error(c, r, 405, "GET, HEAD", "use GET");
		return http_metrics(c, r);
	}
	if (strcmp(url, "/api/health") == 0) {
		if (!is(m, "GET"))
			return http_send_error(c, r, 405, "GET, HEAD", "use GET");
		return http_health(c, r);
	}
	if (strcmp(url, "/api/devices") == 0) {
		static const char *const allowed[] = { "state", "subnet", "since", "vendor", "text", "limit", "after",
							NULL };
		if (strcmp(m, "POST") == 0) {
			/* {ip, name?, note?} names one device; {devices: [...]} imports a list */
			if (!(p = http_body_object(c, r, &ret)))
				return ret;
			bool list = json_object_get(p, "devices") != NULL;
			return http_proxy(c, r, list ? "devices.import" : "devices.annotate", p, 200, R_NOSTORE | R_CHANGES);
		}
		if (!is(m, "GET"))
			return http_send_error(c, r, 405, "GET, HEAD, POST", "use GET or POST");
		if (http_cache_answer(c, r, url, key, R_ETAG, &ret))
			return ret;
		if (!(p = http_query_params(c, r, allowed, &ret)))
			return ret;
		return http_proxy_cached(c, r, key, "devices.list", p, R_ETAG);
	}
	if (strncmp(url, "/api/devices/", 13) == 0) {
		const char *ip = url + 13;
		struct in_addr a;
		if (!is(m, "GET"))
			return http_send_error(c, r, 405, "GET, HEAD", "use GET");
		if (inet_pton(AF_INET, ip, &a) != 1)
			return http_send_error(c, r, 400, NULL, "bad address '%.64s': a dotted quad expected", ip);
		if (http_cache_answer(c, r, url, key, R_ETAG, &ret))
			return ret;
		return http_proxy_cached(c, r, key, "devices.get", json_pack("{s:s}", "ip", ip), R_ETAG);
	}
	if (strcmp(url, "/api/reports/uptime") == 0 || strcmp(url, "/api/reports/network") == 0) {
		static const char *const allowed[] = { "since", "subnet", NULL };
		if (!is(m, "GET"))
			return http_send_error(c, r, 405, "GET, HEAD", "use GET");
		if (http_cache_answer(c, r, url, key, R_ETAG, &ret))
			return ret;
		if (!(p = http_query_params(c, r, allowed, &ret)))
			return ret;
		return http_proxy_cached(c, r, key, url[14] == 'u' ? "report.uptime" : "report.network", p, R_ETAG);
	}
	if (strcmp(url, "/api/scans") == 0) {
		static const char *const allowed[] = { "limit", NULL };
		if (is(m, "GET")) {
			if (!(p = http_query_params(c, r, allowed, &ret)))
				return ret;
			return http_proxy(c, r, "scan.list", p, 200, R_NOSTORE);
		}
		if (strcmp(m, "POST") == 0) {
			if (!(p = http_body_object(c, r, &ret)))
				return ret;
			return http_proxy(c, r, "scan.start", p, 202, R_NOSTORE);
		}
		return http_send_error(c, r, 405, "GET, HEAD, POST", "use GET or POST");
	}
	if (strncmp(url, "/api/scans/", 11) == 0) {
		if (!http_parse_id(url + 11, &id))
			return http_send_error(c, r, 404, NULL, "no such path '%.128s'", url);
		if (is(m, "GET"))
			return http_proxy(c, r, "scan.status", json_pack("{s:I}", "id", (json_int_t)id), 200,
					  R_NOSTORE | R_SCAN_STATE);
		if (strcmp(m, "DELETE") == 0)
			return http_proxy(c, r, "scan.cancel", json_pack("{s:I}", "id", (json_int_t)id), 202, R_NOSTORE);
		return http_send_error(c, r, 405, "GET, HEAD, DELETE", "use GET or DELETE");
	}
	if (strcmp(url, "/api/scheduler/jobs") == 0) {
		static const char *const allowed[] = { "history", NULL };
		if (is(m, "GET")) {
			if (!(p = http_query_params(c, r, allowed, &ret)))
				return ret;
			return http_proxy(c, r, "jobs.list", p, 200, R_NOSTORE);
		}
		if (strcmp(m, "POST") == 0) {
			if (!(p = http_body_object(c, r, &ret)))
				return ret;
			return http_proxy(c, r, "jobs.add", p, 201, R_NOSTORE);
		}
		return http_send_error(c, r, 405, "GET, HEAD, POST", "use GET or POST");
	}
	if (strncmp(url, "/api/scheduler/jobs/", 20) == 0) {
		char idbuf[32];
		const char *rest = url + 20, *slash = strchr(rest, '/');
		size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
		if (n >= sizeof(idbuf))
			return http_send_error(c, r, 404, NULL, "no such path '%.128s'", url);
		memcpy(idbuf, rest, n);
		idbuf[n] = '\0';
		if (!http_parse_id(idbuf, &id) || (slash && strcmp(slash, "/run") != 0))
			return http_send_error(c, r, 404, NULL, "no such path '%.128s'", url);
		if (slash) {
			if (strcmp(m, "POST") != 0)
				return http_send_error(c, r, 405, "POST", "use POST");
			return http_proxy(c, r, "jobs.run_now", json_pack("{s:I}", "id", (json_int_t)id), 202, R_NOSTORE);
		}
		if (is(m, "GET")) {
			static const char *const allowed[] = { "history", NULL };
			if (!(p = http_query_params(c, r, allowed, &ret)))
				return ret;
			json_object_set_new(p, "id", json_integer((json_int_t)id));
			return http_proxy(c, r, "jobs.list", p, 200, R_NOSTORE);
		}
		if (strcmp(m, "DELETE") == 0)
			return http_proxy(c, r, "jobs.remove", json_pack("{s:I}", "id", (json_int_t)id), 200, R_NOSTORE);
		return http_send_error(c, r, 405, "GET, HEAD, DELETE", "use GET or DELETE");
	}
	if (strcmp(url, "/api/events") == 0) {
		if (!is(m, "GET"))
			return http_send_error(c, r, 405, "GET", "use GET");
		return http_events(c, r);
	}
	return http_send_error(c, r, 404, NULL, "no such path '%.128s'", url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	(void)cls, (void)version;
	struct req *r = *con_cls;
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->t0 = http_mono_us();
		*con_cls = r;
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > EARLY_REJECT) {
			r->too_large = true;
			return http_send_error(c, r, 413, NULL, "request body over %u bytes", HTTP_MAX_BODY);
		}
		return MHD_YES;
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
	return route(c, r, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)c, (void)toe;
	struct req *r = *con_cls;
	if (r) {
		free(r->body);
		free(r);
		*con_cls = NULL;
	}
}

struct http_server *http_server_start(const struct http_config *cfg)
{
	struct http_server *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cfg = *cfg;
	http_srv = s;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_ERROR_LOG;
	if (cfg->addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL,
				  MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&cfg->addr,
				  MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(cfg->threads ? cfg->threads : 2),
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(cfg->timeout_s ? cfg->timeout_s : 10),
				  /* request headers up to ~8 KB, as nginx; MHD zeroes this per request, so no more */
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024),
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)8192,
				  MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)0,
				  MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
				  MHD_OPTION_END);
	if (!s->mhd) {
		free(s);
		http_srv = NULL;
		return NULL;
	}
	int rc = http_cache_start(cfg->cache_ms);
	if (rc < 0) {
		fprintf(stderr, "lnmt-http: cannot start the cache's event watcher: %s\n", strerror(-rc));
		MHD_stop_daemon(s->mhd);
		free(s);
		http_srv = NULL;
		return NULL;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : 0;
	return s;
}

unsigned http_server_port(const struct http_server *s)
{
	return s->port;
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	atomic_store(&http_stopping, true);
	/* event streams end within their 500 ms receive timeout and resume their connections */
	for (int i = 0; i < 40 && atomic_load(&http_sse_live) > 0; i++)
		usleep(50000);
	MHD_stop_daemon(s->mhd);
	http_cache_stop();
	http_dashboard_free();
	free(s);
	http_srv = NULL;
}

