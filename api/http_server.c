/* SPDX-License-Identifier: MIT */
/*
 * http_server.c: lnmt-http's routes on libmicrohttpd (internal epoll thread pool). Every worker
 * thread keeps one persistent RPC client to lnmtd (thread-local, reconnected on failure).
 *
 *   GET  /api/health                       system.status (+ scan.list limit 1): 200, or 503
 *   GET  /api/devices?state&subnet&since&vendor&limit&after   devices.list
 *   GET  /api/devices/{ip}                 devices.get
 *   GET  /api/reports/uptime?since&subnet  report.uptime (ETag, 304)
 *   GET  /api/reports/network?since&subnet report.network (ETag, 304)
 *   GET  /api/scans?limit | POST /api/scans {targets, probes, ports, rate, ...} -> 202 {id}
 *   GET|DELETE /api/scans/{id}             scan.status | scan.cancel
 *   GET|POST /api/scheduler/jobs, GET|DELETE /api/scheduler/jobs/{id}, POST .../{id}/run
 *   GET  /api/events?topics=scan,device,job  server-sent events (events.subscribe)
 *   GET  /metrics                          Prometheus text
 *   GET  /                                 a one-page dashboard
 *
 * Errors are {"error": {"code", "message"}}: 400 bad query/JSON/params, 401, 404, 405 (Allow),
 * 413 (body over HTTP_MAX_BODY), 503 (lnmtd unreachable or BUSY), 500.
 */
#include "http.h"
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

#define RPC_TIMEOUT_MS 10000
#define EARLY_REJECT (1u << 20)  /* a declared body above this is refused before it is read */

struct http_server {
	struct MHD_Daemon *mhd;
	struct http_config cfg;
	unsigned port;
};

static struct http_server *g_srv; /* one per process */
static atomic_bool g_stopping;
static atomic_int g_sse_live;

/* ---- metrics ---- */

static const unsigned codes[] = { 200, 201, 202, 204, 304, 400, 401, 404, 405, 413, 500, 501, 503 };
#define NCODES (sizeof(codes) / sizeof(codes[0]))
static atomic_uint_fast64_t m_codes[NCODES + 1]; /* last: other */
static const double buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))
static atomic_uint_fast64_t m_bucket[NBUCKETS], m_count, m_sum_us, m_rpc_calls, m_rpc_failures;

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void observe(unsigned code, uint64_t us)
{
	size_t i = 0;
	while (i < NCODES && codes[i] != code)
		i++;
	atomic_fetch_add(&m_codes[i], 1);
	atomic_fetch_add(&m_count, 1);
	atomic_fetch_add(&m_sum_us, us);
	for (size_t b = 0; b < NBUCKETS; b++)
		if ((double)us / 1e6 <= buckets[b])
			atomic_fetch_add(&m_bucket[b], 1);
}

/* ---- RPC: one client per worker thread ---- */

/* The worker's client is kept in a thread key rather than a __thread variable so that it is
 * closed when libmicrohttpd's worker threads exit (MHD_stop_daemon joins them). */
static pthread_key_t client_key;
static pthread_once_t client_key_once = PTHREAD_ONCE_INIT;

static void close_thread_client(void *client)
{
	rpc_client_close(client);
}

static void make_client_key(void)
{
	pthread_key_create(&client_key, close_thread_client);
}

static void drop_thread_client(struct rpc_client *client)
{
	rpc_client_close(client);
	pthread_setspecific(client_key, NULL);
}

/* rpc_call on the thread's client, (re)connecting as needed: 0, RPC error code (> 0, message in
 * err), or -errno (unreachable). */
static int call(const char *method, json_t *params, msgpack_zone **zone, msgpack_object *res, char *err,
		size_t errlen)
{
	atomic_fetch_add(&m_rpc_calls, 1);
	pthread_once(&client_key_once, make_client_key);
	for (int attempt = 0; attempt < 2; attempt++) {
		bool fresh = false;
		struct rpc_client *client = pthread_getspecific(client_key);
		if (!client) {
			int rc = rpc_client_connect(&client, g_srv->cfg.socket);
			if (rc < 0) {
				snprintf(err, errlen, "lnmtd does not answer on %s: %s", g_srv->cfg.socket, strerror(-rc));
				atomic_fetch_add(&m_rpc_failures, 1);
				return rc;
			}
			rpc_client_set_timeout(client, RPC_TIMEOUT_MS);
			pthread_setspecific(client_key, client);
			fresh = true;
		}
		err[0] = '\0';
		int rc = rpc_call(client, method, http_pack_json_params, params, zone, res, err, errlen);
		if (rc >= 0)
			return rc;
		drop_thread_client(client);
		if (fresh || rc == -ETIMEDOUT || attempt == 1) {
			snprintf(err, errlen, "lnmtd does not answer: %s", strerror(-rc));
			atomic_fetch_add(&m_rpc_failures, 1);
			return rc;
		}
	}
	return -EIO;
}

/* ---- requests and responses ---- */

struct req {
	uint64_t t0;
	char *body;
	size_t len;
	bool too_large;
	bool answered;
};

static const char *err_code_name(unsigned status)
{
	switch (status) {
	case 400: return "BAD_REQUEST";
	case 401: return "UNAUTHORIZED";
	case 404: return "NOT_FOUND";
	case 405: return "METHOD_NOT_ALLOWED";
	case 413: return "TOO_LARGE";
	case 501: return "NOT_IMPLEMENTED";
	case 503: return "UNAVAILABLE";
	default: return "INTERNAL";
	}
}

static bool accepts_gzip(struct MHD_Connection *c)
{
	const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
	if (!ae)
		return false;
	for (const char *p = ae; (p = strcasestr(p, "gzip")); p += 4) {
		const char *q = p + 4;
		while (*q == ' ')
			q++;
		if (*q == ';' && strstr(q, "q=0") && !strstr(q, "q=0."))
			return false;
		return true;
	}
	return false;
}

/* gzip of in: a malloc'ed buffer and its length, or NULL. */
static char *gzip(const char *in, size_t len, size_t *out_len)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	size_t cap = deflateBound(&z, len) + 32;
	char *out = malloc(cap);
	if (!out) {
		deflateEnd(&z);
		return NULL;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	int rc = deflate(&z, Z_FINISH);
	*out_len = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(out);
		return NULL;
	}
	return out;
}

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
	return h;
}

static bool etag_matches(const char *inm, const char *etag)
{
	if (!inm)
		return false;
	if (strcmp(inm, "*") == 0)
		return true;
	/* a list of tags, maybe weak (W/"...") */
	size_t n = strlen(etag);
	for (const char *p = inm; (p = strstr(p, etag)); p += n)
		return true;
	return false;
}

enum { R_ETAG = 1, R_NOSTORE = 2 };

/* Queues a response with body text (malloc'ed, taken) of the given type. */
static enum MHD_Result send_text(struct MHD_Connection *c, struct req *r, unsigned status, char *text, size_t len,
				 const char *type, unsigned flags, const char *allow, const char *location)
{
	char etag[24] = "";
	bool not_modified = false;
	if ((flags & R_ETAG) && status == 200) {
		snprintf(etag, sizeof(etag), "\"%016" PRIx64 "\"", fnv1a(text, len));
		not_modified = etag_matches(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
									MHD_HTTP_HEADER_IF_NONE_MATCH), etag);
	}
	struct MHD_Response *resp;
	bool zipped = false;
	if (not_modified) {
		free(text);
		status = 304;
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	} else {
		if (len >= HTTP_GZIP_MIN && accepts_gzip(c)) {
			size_t zl;
			char *z = gzip(text, len, &zl);
			if (z) {
				free(text);
				text = z;
				len = zl;
				zipped = true;
			}
		}
		resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	}
	if (!resp) {
		if (!not_modified)
			free(text);
		return MHD_NO;
	}
	if (!not_modified)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (zipped)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	if (len >= HTTP_GZIP_MIN || zipped)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	if (etag[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	if (flags & R_NOSTORE)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (location)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
	if (status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"lnmt\"");
	enum MHD_Result ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	r->answered = true;
	observe(status, mono_us() - r->t0);
	return ret;
}

/* Sends j (taken) as JSON. */
static enum MHD_Result send_json(struct MHD_Connection *c, struct req *r, unsigned status, json_t *j, unsigned flags,
				 const char *allow, const char *location)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	if (!text)
		return MHD_NO;
	size_t len = strlen(text);
	/* a trailing newline: friendlier in terminals */
	char *t2 = realloc(text, len + 2);
	if (t2) {
		text = t2;
		text[len++] = '\n';
		text[len] = '\0';
	}
	return send_text(c, r, status, text, len, "application/json", flags, allow, location);
}

static enum MHD_Result send_error(struct MHD_Connection *c, struct req *r, unsigned status, const char *allow,
				  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static enum MHD_Result send_error(struct MHD_Connection *c, struct req *r, unsigned status, const char *allow,
				  const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", err_code_name(status), "message", msg);
	return send_json(c, r, status, j, R_NOSTORE, allow, NULL);
}

/* The HTTP status of an RPC failure. */
static unsigned rpc_status(int rc)
{
	if (rc < 0)
		return 503;
	switch (rc) {
	case RPC_E_PARSE:
	case RPC_E_INVALID:
	case RPC_E_BAD_PARAMS:
	case RPC_E_MISSING_PARAM:
		return 400;
	case RPC_E_NO_METHOD:
		return 501;
	case RPC_E_TOO_LARGE:
		return 413;
	case RPC_E_NOT_FOUND:
		return 404;
	case RPC_E_BUSY:
		return 503;
	default:
		return 500;
	}
}

static const char *rpc_code_name(int rc)
{
	static const char *names[] = { "", "PARSE", "INVALID", "NO_METHOD", "BAD_PARAMS", "TOO_LARGE",
				       "NOT_FOUND", "BUSY", "INTERNAL", "MISSING_PARAM" };
	if (rc < 0)
		return "UNAVAILABLE";
	return rc < (int)(sizeof(names) / sizeof(names[0])) ? names[rc] : "INTERNAL";
}

/* Calls method with params (taken) and answers with its result as JSON (status on success). */
static enum MHD_Result proxy(struct MHD_Connection *c, struct req *r, const char *method, json_t *params,
			     unsigned status, unsigned flags)
{
	msgpack_zone *zone = NULL;
	msgpack_object res;
	char err[512];
	int rc = call(method, params, &zone, &res, err, sizeof(err));
	json_decref(params);
	if (rc != 0) {
		unsigned st = rpc_status(rc);
		json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", rpc_code_name(rc), "message", err);
		enum MHD_Result ret = send_json(c, r, st, j, R_NOSTORE, NULL, NULL);
		return ret;
	}
	json_t *j = http_msgpack_to_json(&res);
	msgpack_zone_free(zone);
	char location[64] = "";
	if (status == 202) {
		json_t *id = json_object_get(j, "id");
		if (json_is_integer(id))
			snprintf(location, sizeof(location), "/api/scans/%" JSON_INTEGER_FORMAT, json_integer_value(id));
	}
	return send_json(c, r, status, j, flags, NULL, location[0] ? location : NULL);
}

/* ---- query strings ---- */

struct query {
	const char *const *allowed;
	json_t *params;
	char bad[256];
};

/* "3600", "30s", "15m", "24h", "7d", "2w" -> seconds; false if malformed. */
static bool parse_duration(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)*s))
		return false;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return false;
	uint64_t mul = 1;
	if (*end) {
		switch (*end++) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		case 'w': mul = 7 * 86400; break;
		default: return false;
		}
		if (*end)
			return false;
	}
	if (v > UINT64_MAX / mul)
		return false;
	*out = v * mul;
	return true;
}

static enum MHD_Result query_it(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct query *q = cls;
	if (q->bad[0])
		return MHD_NO;
	bool ok = false;
	for (const char *const *a = q->allowed; *a; a++)
		if (strcmp(*a, key) == 0)
			ok = true;
	if (!ok) {
		snprintf(q->bad, sizeof(q->bad), "unknown query parameter '%.64s'", key);
		return MHD_NO;
	}
	if (!value || !*value) {
		snprintf(q->bad, sizeof(q->bad), "query parameter '%.64s' needs a value", key);
		return MHD_NO;
	}
	if (strcmp(key, "since") == 0) {
		uint64_t s;
		if (!parse_duration(value, &s) || s > (uint64_t)INT64_MAX) {
			snprintf(q->bad, sizeof(q->bad), "bad since '%.64s': a duration such as 3600, 30m, 24h, 7d", value);
			return MHD_NO;
		}
		json_object_set_new(q->params, "since_s", json_integer((json_int_t)s));
	} else if (strcmp(key, "limit") == 0 || strcmp(key, "history") == 0) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(value, &end, 10);
		if (errno || *end || !isdigit((unsigned char)*value) || v > (uint64_t)INT64_MAX) {
			snprintf(q->bad, sizeof(q->bad), "bad %s '%.64s': a number", key, value);
			return MHD_NO;
		}
		json_object_set_new(q->params, key, json_integer((json_int_t)v));
	} else {
		json_object_set_new(q->params, key, json_string(value));
	}
	return MHD_YES;
}

/* Builds the params map from the query string; NULL (and a 400 sent) when it is wrong. */
static json_t *query_params(struct MHD_Connection *c, struct req *r, const char *const *allowed, enum MHD_Result *ret)
{
	struct query q = { .allowed = allowed, .params = json_object() };
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, query_it, &q);
	if (q.bad[0]) {
		json_decref(q.params);
		*ret = send_error(c, r, 400, NULL, "%s", q.bad);
		return NULL;
	}
	return q.params;
}

static bool parse_id(const char *s, uint64_t *id)
{
	if (!*s || strlen(s) > 18)
		return false;
	for (const char *p = s; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	*id = strtoull(s, NULL, 10);
	return true;
}

/* The request body as a JSON object; NULL (and a 400 sent) when it is not one. */
static json_t *body_object(struct MHD_Connection *c, struct req *r, enum MHD_Result *ret)
{
	json_error_t e;
	json_t *j = r->len ? json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &e) : NULL;
	if (!r->len) {
		*ret = send_error(c, r, 400, NULL, "a JSON object body is required");
		return NULL;
	}
	if (!j) {
		*ret = send_error(c, r, 400, NULL, "malformed JSON at line %d column %d: %s", e.line, e.column, e.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		*ret = send_error(c, r, 400, NULL, "the body must be a JSON object");
		return NULL;
	}
	return j;
}

/* ---- handlers ---- */

static enum MHD_Result h_health(struct MHD_Connection *c, struct req *r)
{
	msgpack_zone *zone = NULL;
	msgpack_object res;
	char err[512];
	int rc = call("system.status", NULL, &zone, &res, err, sizeof(err));
	if (rc != 0) {
		json_t *j = json_pack("{s:s,s:{s:s,s:s}}", "daemon", "down", "error", "code", rpc_code_name(rc),
				      "message", err);
		return send_json(c, r, 503, j, R_NOSTORE, NULL, NULL);
	}
	json_t *st = http_msgpack_to_json(&res);
	msgpack_zone_free(zone);
	json_t *out = json_object();
	json_object_set_new(out, "daemon", json_string("ok"));
	const char *keep[] = { "version", "pid", "started", "uptime_s", "sweeps_running", "sweeps_done",
			       "sweeps_failed", "jobs", "store" };
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		json_t *v = json_object_get(st, keep[i]);
		if (v)
			json_object_set(out, keep[i], v);
	}
	json_decref(st);
	json_t *lp = json_pack("{s:i}", "limit", 1);
	rc = call("scan.list", lp, &zone, &res, err, sizeof(err));
	json_decref(lp);
	json_t *last = json_null();
	if (rc == 0) {
		json_t *l = http_msgpack_to_json(&res);
		msgpack_zone_free(zone);
		json_t *s0 = json_array_get(json_object_get(l, "sweeps"), 0);
		if (s0) {
			json_decref(last);
			last = json_incref(s0);
		}
		json_decref(l);
	}
	json_object_set_new(out, "last_sweep", last);
	return send_json(c, r, 200, out, R_NOSTORE, NULL, NULL);
}

static void metric_counter(FILE *f, const char *name, const char *help, const char *type)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static enum MHD_Result h_metrics(struct MHD_Connection *c, struct req *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return MHD_NO;
	msgpack_zone *zone = NULL;
	msgpack_object res;
	char err[512];
	int rc = call("system.status", NULL, &zone, &res, err, sizeof(err));
	json_t *st = NULL, *net = NULL;
	if (rc == 0) {
		st = http_msgpack_to_json(&res);
		msgpack_zone_free(zone);
		if (call("report.network", NULL, &zone, &res, err, sizeof(err)) == 0) {
			net = http_msgpack_to_json(&res);
			msgpack_zone_free(zone);
		}
	}
	metric_counter(f, "lnmt_up", "1 when lnmtd answers.", "gauge");
	fprintf(f, "lnmt_up %d\n", st ? 1 : 0);
	if (st) {
		json_t *cnt = json_object_get(st, "counters");
		metric_counter(f, "lnmt_sweeps_total", "Sweeps lnmtd finished since it started, by result.", "counter");
		fprintf(f, "lnmt_sweeps_total{result=\"done\"} %" JSON_INTEGER_FORMAT "\n",
			json_integer_value(json_object_get(st, "sweeps_done")));
		fprintf(f, "lnmt_sweeps_total{result=\"failed\"} %" JSON_INTEGER_FORMAT "\n",
			json_integer_value(json_object_get(st, "sweeps_failed")));
		metric_counter(f, "lnmt_sweeps_running", "Sweeps running now.", "gauge");
		fprintf(f, "lnmt_sweeps_running %" JSON_INTEGER_FORMAT "\n",
			json_integer_value(json_object_get(st, "sweeps_running")));
		metric_counter(f, "lnmt_rpc_requests_total", "RPC requests lnmtd received.", "counter");
		fprintf(f, "lnmt_rpc_requests_total %" JSON_INTEGER_FORMAT "\n",
			json_integer_value(json_object_get(cnt, "requests")));
		metric_counter(f, "lnmt_rpc_errors_total", "RPC errors lnmtd answered.", "counter");
		fprintf(f, "lnmt_rpc_errors_total %" JSON_INTEGER_FORMAT "\n",
			json_integer_value(json_object_get(cnt, "errors")));
		metric_counter(f, "lnmt_store_size_bytes", "Size of the store.", "gauge");
		fprintf(f, "lnmt_store_size_bytes %" JSON_INTEGER_FORMAT "\n",
			json_integer_value(json_object_get(json_object_get(st, "store"), "size_bytes")));
	}
	if (net) {
		metric_counter(f, "lnmt_devices", "Devices in the store, by state.", "gauge");
		fprintf(f, "lnmt_devices{state=\"up\"} %" JSON_INTEGER_FORMAT "\n",
			json_integer_value(json_object_get(net, "up")));
		fprintf(f, "lnmt_devices{state=\"down\"} %" JSON_INTEGER_FORMAT "\n",
			json_integer_value(json_object_get(net, "down")));
	}
	json_decref(st);
	json_decref(net);
	metric_counter(f, "lnmt_http_rpc_calls_total", "RPC calls lnmt-http made.", "counter");
	fprintf(f, "lnmt_http_rpc_calls_total %" PRIuFAST64 "\n", atomic_load(&m_rpc_calls));
	metric_counter(f, "lnmt_http_rpc_failures_total", "RPC calls lnmt-http could not make (lnmtd unreachable).",
		       "counter");
	fprintf(f, "lnmt_http_rpc_failures_total %" PRIuFAST64 "\n", atomic_load(&m_rpc_failures));
	metric_counter(f, "lnmt_http_requests_total", "HTTP requests answered, by status code.", "counter");
	for (size_t i = 0; i <= NCODES; i++) {
		uint64_t v = atomic_load(&m_codes[i]);
		if (i < NCODES)
			fprintf(f, "lnmt_http_requests_total{code=\"%u\"} %" PRIu64 "\n", codes[i], v);
		else if (v)
			fprintf(f, "lnmt_http_requests_total{code=\"other\"} %" PRIu64 "\n", v);
	}
	metric_counter(f, "lnmt_http_request_seconds", "HTTP request latency.", "histogram");
	for (size_t b = 0; b < NBUCKETS; b++)
		fprintf(f, "lnmt_http_request_seconds_bucket{le=\"%g\"} %" PRIuFAST64 "\n", buckets[b],
			atomic_load(&m_bucket[b]));
	uint64_t count = atomic_load(&m_count);
	fprintf(f, "lnmt_http_request_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", count);
	fprintf(f, "lnmt_http_request_seconds_sum %.6f\n", (double)atomic_load(&m_sum_us) / 1e6);
	fprintf(f, "lnmt_http_request_seconds_count %" PRIu64 "\n", count);
	fclose(f);
	return send_text(c, r, 200, text, len, "text/plain; version=0.0.4", R_NOSTORE, NULL, NULL);
}

/* ---- server-sent events ---- */

struct sse {
	pthread_mutex_t mu;
	struct MHD_Connection *conn;
	struct rpc_client *client;
	char *buf;
	size_t len, off, cap;
	bool suspended, closed, cancelled;
	int refs;
};

static void sse_unref(struct sse *s)
{
	pthread_mutex_lock(&s->mu);
	int left = --s->refs;
	pthread_mutex_unlock(&s->mu);
	if (left)
		return;
	pthread_mutex_destroy(&s->mu);
	free(s->buf);
	free(s);
}

/* Under s->mu: appends and wakes the suspended connection. */
static void sse_append(struct sse *s, const char *p, size_t n)
{
	if (s->off && s->off == s->len)
		s->off = s->len = 0;
	if (s->len + n > s->cap) {
		size_t cap = (s->len + n) * 2;
		if (cap > (8u << 20)) { /* a client this far behind is dropped */
			s->closed = true;
			return;
		}
		char *b = realloc(s->buf, cap);
		if (!b) {
			s->closed = true;
			return;
		}
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

static void sse_wake(struct sse *s)
{
	if (s->suspended && !s->cancelled) {
		s->suspended = false;
		MHD_resume_connection(s->conn);
	}
}

static void *sse_thread(void *arg)
{
	struct sse *s = arg;
	unsigned idle = 0;
	char method[64];

	for (;;) {
		pthread_mutex_lock(&s->mu);
		bool stop = s->cancelled || atomic_load(&g_stopping);
		pthread_mutex_unlock(&s->mu);
		if (stop)
			break;
		int type = 0;
		msgpack_zone *zone = NULL;
		msgpack_object payload;
		int rc = rpc_recv(s->client, 500, &type, NULL, method, sizeof(method), &zone, &payload, NULL, NULL, 0);
		if (rc == -ETIMEDOUT) {
			if (++idle >= 30) { /* 15 s: a comment keeps proxies (and dead clients) honest */
				idle = 0;
				pthread_mutex_lock(&s->mu);
				sse_append(s, ": keepalive\n\n", 13);
				sse_wake(s);
				pthread_mutex_unlock(&s->mu);
			}
			continue;
		}
		if (rc < 0)
			break;
		idle = 0;
		if (type != 2) {
			msgpack_zone_free(zone);
			continue;
		}
		const msgpack_object *data = &payload;
		if (payload.type == MSGPACK_OBJECT_ARRAY && payload.via.array.size == 1)
			data = &payload.via.array.ptr[0];
		json_t *j = http_msgpack_to_json(data);
		msgpack_zone_free(zone);
		char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
		json_decref(j);
		char head[96];
		int hn = snprintf(head, sizeof(head), "event: %s\ndata: ", method);
		pthread_mutex_lock(&s->mu);
		sse_append(s, head, (size_t)hn);
		if (text)
			sse_append(s, text, strlen(text));
		sse_append(s, "\n\n", 2);
		sse_wake(s);
		bool closed = s->closed;
		pthread_mutex_unlock(&s->mu);
		free(text);
		if (closed)
			break;
	}
	pthread_mutex_lock(&s->mu);
	s->closed = true;
	sse_wake(s);
	pthread_mutex_unlock(&s->mu);
	rpc_client_close(s->client);
	s->client = NULL;
	sse_unref(s);
	atomic_fetch_sub(&g_sse_live, 1);
	return NULL;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct sse *s = cls;
	pthread_mutex_lock(&s->mu);
	if (s->off < s->len) {
		size_t n = s->len - s->off;
		if (n > max)
			n = max;
		memcpy(buf, s->buf + s->off, n);
		s->off += n;
		pthread_mutex_unlock(&s->mu);
		return (ssize_t)n;
	}
	if (s->closed) {
		pthread_mutex_unlock(&s->mu);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	s->suspended = true;
	MHD_suspend_connection(s->conn);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static void sse_free(void *cls)
{
	struct sse *s = cls;
	pthread_mutex_lock(&s->mu);
	s->cancelled = true;
	pthread_mutex_unlock(&s->mu);
	sse_unref(s);
}

static enum MHD_Result h_events(struct MHD_Connection *c, struct req *r)
{
	static const char *const allowed[] = { "topics", NULL };
	enum MHD_Result ret = MHD_NO;
	json_t *q = query_params(c, r, allowed, &ret);
	if (!q)
		return ret;
	json_t *topics = json_array();
	const char *t = json_string_value(json_object_get(q, "topics"));
	char list[256];
	snprintf(list, sizeof(list), "%s", t ? t : "scan,device,job");
	json_decref(q);
	for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		json_array_append_new(topics, json_string(tok));
	json_t *params = json_pack("{s:o}", "topics", topics);

	struct sse *s = calloc(1, sizeof(*s));
	if (!s) {
		json_decref(params);
		return MHD_NO;
	}
	pthread_mutex_init(&s->mu, NULL);
	s->conn = c;
	s->refs = 2;
	int rc = rpc_client_connect(&s->client, g_srv->cfg.socket);
	char err[512] = "";
	msgpack_zone *zone = NULL;
	msgpack_object res;
	if (rc == 0) {
		rpc_client_set_timeout(s->client, RPC_TIMEOUT_MS);
		atomic_fetch_add(&m_rpc_calls, 1);
		rc = rpc_call(s->client, "events.subscribe", http_pack_json_params, params, &zone, &res, err, sizeof(err));
	} else {
		snprintf(err, sizeof(err), "lnmtd does not answer on %s: %s", g_srv->cfg.socket, strerror(-rc));
		s->client = NULL;
	}
	json_decref(params);
	if (rc != 0) {
		rpc_client_close(s->client);
		pthread_mutex_destroy(&s->mu);
		free(s);
		json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", rpc_code_name(rc), "message", err);
		return send_json(c, r, rpc_status(rc), j, R_NOSTORE, NULL, NULL);
	}
	json_t *ok = http_msgpack_to_json(&res);
	msgpack_zone_free(zone);
	char *okt = json_dumps(ok, JSON_COMPACT);
	json_decref(ok);
	char head[512];
	int hn = snprintf(head, sizeof(head), "retry: 3000\nevent: subscribed\ndata: %s\n\n", okt ? okt : "{}");
	free(okt);
	sse_append(s, head, (size_t)hn);

	pthread_t th;
	atomic_fetch_add(&g_sse_live, 1);
	if (pthread_create(&th, NULL, sse_thread, s) != 0) {
		atomic_fetch_sub(&g_sse_live, 1);
		rpc_client_close(s->client);
		pthread_mutex_destroy(&s->mu);
		free(s->buf);
		free(s);
		return send_error(c, r, 500, NULL, "cannot start a thread");
	}
	pthread_detach(th);
	struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, s, sse_free);
	if (!resp) {
		sse_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	ret = MHD_queue_response(c, 200, resp);
	MHD_destroy_response(resp);
	r->answered = true;
	observe(200, mono_us() - r->t0);
	return ret;
}

/* ---- the dashboard ---- */

static const char dashboard[] =
"<!doctype html><html lang=en><head><meta charset=utf-8><title>lnmt</title>"
"<meta name=viewport content='width=device-width,initial-scale=1'>"
"<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}"
"td,th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}.up{color:#080}.down{color:#b00}"
"#counts span{margin-right:2em;font-size:1.4em}</style></head><body>"
"<h1>lnmt</h1><div id=counts>loading&hellip;</div><p id=health></p>"
"<table><thead><tr><th>address<th>state<th>MAC<th>vendor<th>last seen<th>RTT &micro;s<th>ports</tr></thead>"
"<tbody id=devs></tbody></table><p id=more></p>"
"<script>\n"
"const tok=new URLSearchParams(location.hash.slice(1)).get('token');\n"
"const H=tok?{headers:{Authorization:'Bearer '+tok}}:{};\n"
"const esc=s=>String(s==null?'':s).replace(/[&<>\"']/g,c=>'&#'+c.charCodeAt(0)+';');\n"
"async function load(){\n"
" try{const h=await (await fetch('/api/health',H)).json();\n"
"  document.getElementById('health').textContent=h.daemon==='ok'?'lnmtd '+h.version+', up '+h.uptime_s+' s, last sweep: '+(h.last_sweep?h.last_sweep.id+' '+h.last_sweep.state+' '+h.last_sweep.start:'none'):'lnmtd: '+(h.error&&h.error.message);\n"
"  const d=await (await fetch('/api/devices?limit=1000',H)).json();\n"
"  if(d.error){document.getElementById('counts').textContent=d.error.message;return;}\n"
"  let up=0,down=0,rows='';\n"
"  for(const x of d.devices){x.state==='up'?up++:down++;rows+='<tr><td>'+esc(x.ip)+'<td class='+esc(x.state)+'>'+esc(x.state)+'<td>'+esc(x.mac)+'<td>'+esc(x.vendor)+'<td>'+esc(x.last_seen)+'<td>'+esc(x.rtt_us)+'<td>'+esc((x.open_ports||[]).join(','));}\n"
"  document.getElementById('devs').innerHTML=rows;\n"
"  document.getElementById('counts').innerHTML='<span class=up>'+up+' up</span><span class=down>'+down+' down</span><span>'+d.devices.length+' devices</span>';\n"
"  document.getElementById('more').textContent=d.next?'(first 1000 shown)':'';\n"
" }catch(e){document.getElementById('counts').textContent='error: '+e;}\n"
"}\nload();setInterval(load,10000);\n"
"</script></body></html>\n";

/* ---- routing ---- */

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

	if (g_srv->cfg.token &&
	    !token_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION), g_srv->cfg.token))
		return send_error(c, r, 401, NULL, "an 'Authorization: Bearer TOKEN' header with the right token is required");
	if (r->too_large)
		return send_error(c, r, 413, NULL, "request body over %u bytes", HTTP_MAX_BODY);

	if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0) {
		if (!is(m, "GET"))
			return send_error(c, r, 405, "GET, HEAD", "use GET");
		char *t = strdup(dashboard);
		return t ? send_text(c, r, 200, t, sizeof(dashboard) - 1, "text/html; charset=utf-8", 0, NULL, NULL) : MHD_NO;
	}
	if (strcmp(url, "/metrics") == 0) {
		if (!is(m, "GET"))
			return send_error(c, r, 405, "GET, HEAD", "use GET");
		return h_metrics(c, r);
	}
	if (strcmp(url, "/api/health") == 0) {
		if (!is(m, "GET"))
			return send_error(c, r, 405, "GET, HEAD", "use GET");
		return h_health(c, r);
	}
	if (strcmp(url, "/api/devices") == 0) {
		static const char *const allowed[] = { "state", "subnet", "since", "vendor", "limit", "after", NULL };
		if (!is(m, "GET"))
			return send_error(c, r, 405, "GET, HEAD", "use GET");
		if (!(p = query_params(c, r, allowed, &ret)))
			return ret;
		return proxy(c, r, "devices.list", p, 200, R_ETAG);
	}
	if (strncmp(url, "/api/devices/", 13) == 0) {
		const char *ip = url + 13;
		struct in_addr a;
		if (!is(m, "GET"))
			return send_error(c, r, 405, "GET, HEAD", "use GET");
		if (inet_pton(AF_INET, ip, &a) != 1)
			return send_error(c, r, 400, NULL, "bad address '%.64s': a dotted quad expected", ip);
		return proxy(c, r, "devices.get", json_pack("{s:s}", "ip", ip), 200, R_ETAG);
	}
	if (strcmp(url, "/api/reports/uptime") == 0 || strcmp(url, "/api/reports/network") == 0) {
		static const char *const allowed[] = { "since", "subnet", NULL };
		if (!is(m, "GET"))
			return send_error(c, r, 405, "GET, HEAD", "use GET");
		if (!(p = query_params(c, r, allowed, &ret)))
			return ret;
		return proxy(c, r, url[14] == 'u' ? "report.uptime" : "report.network", p, 200, R_ETAG);
	}
	if (strcmp(url, "/api/scans") == 0) {
		static const char *const allowed[] = { "limit", NULL };
		if (is(m, "GET")) {
			if (!(p = query_params(c, r, allowed, &ret)))
				return ret;
			return proxy(c, r, "scan.list", p, 200, R_NOSTORE);
		}
		if (strcmp(m, "POST") == 0) {
			if (!(p = body_object(c, r, &ret)))
				return ret;
			return proxy(c, r, "scan.start", p, 202, R_NOSTORE);
		}
		return send_error(c, r, 405, "GET, HEAD, POST", "use GET or POST");
	}
	if (strncmp(url, "/api/scans/", 11) == 0) {
		if (!parse_id(url + 11, &id))
			return send_error(c, r, 404, NULL, "no such path '%.128s'", url);
		if (is(m, "GET"))
			return proxy(c, r, "scan.status", json_pack("{s:I}", "id", (json_int_t)id), 200, R_NOSTORE);
		if (strcmp(m, "DELETE") == 0)
			return proxy(c, r, "scan.cancel", json_pack("{s:I}", "id", (json_int_t)id), 202, R_NOSTORE);
		return send_error(c, r, 405, "GET, HEAD, DELETE", "use GET or DELETE");
	}
	if (strcmp(url, "/api/scheduler/jobs") == 0) {
		static const char *const allowed[] = { "history", NULL };
		if (is(m, "GET")) {
			if (!(p = query_params(c, r, allowed, &ret)))
				return ret;
			return proxy(c, r, "jobs.list", p, 200, R_NOSTORE);
		}
		if (strcmp(m, "POST") == 0) {
			if (!(p = body_object(c, r, &ret)))
				return ret;
			return proxy(c, r, "jobs.add", p, 201, R_NOSTORE);
		}
		return send_error(c, r, 405, "GET, HEAD, POST", "use GET or POST");
	}
	if (strncmp(url, "/api/scheduler/jobs/", 20) == 0) {
		char idbuf[32];
		const char *rest = url + 20, *slash = strchr(rest, '/');
		size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
		if (n >= sizeof(idbuf))
			return send_error(c, r, 404, NULL, "no such path '%.128s'", url);
		memcpy(idbuf, rest, n);
		idbuf[n] = '\0';
		if (!parse_id(idbuf, &id) || (slash && strcmp(slash, "/run") != 0))
			return send_error(c, r, 404, NULL, "no such path '%.128s'", url);
		if (slash) {
			if (strcmp(m, "POST") != 0)
				return send_error(c, r, 405, "POST", "use POST");
			return proxy(c, r, "jobs.run_now", json_pack("{s:I}", "id", (json_int_t)id), 202, R_NOSTORE);
		}
		if (is(m, "GET")) {
			static const char *const allowed[] = { "history", NULL };
			if (!(p = query_params(c, r, allowed, &ret)))
				return ret;
			json_object_set_new(p, "id", json_integer((json_int_t)id));
			return proxy(c, r, "jobs.list", p, 200, R_NOSTORE);
		}
		if (strcmp(m, "DELETE") == 0)
			return proxy(c, r, "jobs.remove", json_pack("{s:I}", "id", (json_int_t)id), 200, R_NOSTORE);
		return send_error(c, r, 405, "GET, HEAD, DELETE", "use GET or DELETE");
	}
	if (strcmp(url, "/api/events") == 0) {
		if (!is(m, "GET"))
			return send_error(c, r, 405, "GET", "use GET");
		return h_events(c, r);
	}
	return send_error(c, r, 404, NULL, "no such path '%.128s'", url);
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
		r->t0 = mono_us();
		*con_cls = r;
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > EARLY_REJECT) {
			r->too_large = true;
			return send_error(c, r, 413, NULL, "request body over %u bytes", HTTP_MAX_BODY);
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
	g_srv = s;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_ERROR_LOG;
	if (cfg->addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL,
				  MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&cfg->addr,
				  MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(cfg->threads ? cfg->threads : 2),
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(cfg->timeout_s ? cfg->timeout_s : 10),
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)8192,
				  MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)0,
				  MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
				  MHD_OPTION_END);
	if (!s->mhd) {
		free(s);
		g_srv = NULL;
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
	atomic_store(&g_stopping, true);
	/* event streams end within their 500 ms receive timeout and resume their connections */
	for (int i = 0; i < 40 && atomic_load(&g_sse_live) > 0; i++)
		usleep(50000);
	MHD_stop_daemon(s->mhd);
	free(s);
	g_srv = NULL;
}
