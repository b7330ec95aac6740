/* SPDX-License-Identifier: MIT */
/*
 * http_status.c: /api/health (system.status and the last sweep: 200, or 503 when lnmtd does not
 * answer) and /metrics (Prometheus text: lnmtd's counters, devices by state, and lnmt-http's own
 * request and RPC latency histograms).
 */
#include "http_int.h"
#include "rpc.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned codes[] = { 200, 201, 202, 204, 304, 400, 401, 404, 405, 408, 411, 413, 414, 431, 500, 501, 503, 505 };
#define NCODES (sizeof(codes) / sizeof(codes[0]))
static const double buckets[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
				  0.5, 1, 2.5, 5, 10 };
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct histogram {
	atomic_uint_fast64_t bucket[NBUCKETS], count, sum_us;
};
/* Counters are kept per thread (a slot each, summed when printed): shared ones made the worker
 * threads fight over the same cache lines on every request. */
#define SLOTS 32
struct slot {
	atomic_uint_fast64_t codes[NCODES + 1]; /* last: other */
	struct histogram http, rpc;
	atomic_uint_fast64_t rpc_failures;
} __attribute__((aligned(64)));
static struct slot slots[SLOTS];
static atomic_uint next_slot;
static __thread struct slot *my_slot;

static struct slot *slot(void)
{
	if (!my_slot)
		my_slot = &slots[atomic_fetch_add(&next_slot, 1) % SLOTS];
	return my_slot;
}

static void histogram_add(struct histogram *h, uint64_t us)
{
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
	for (size_t b = 0; b < NBUCKETS; b++)
		if ((double)us / 1e6 <= buckets[b]) {
			atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
			break; /* cumulative counts are summed when printed */
		}
}

void http_observe(unsigned status, uint64_t us)
{
	size_t i = 0;
	while (i < NCODES && codes[i] != status)
		i++;
	struct slot *sl = slot();
	atomic_fetch_add_explicit(&sl->codes[i], 1, memory_order_relaxed);
	histogram_add(&sl->http, us);
}

void http_observe_rpc(uint64_t us, bool failed)
{
	struct slot *sl = slot();
	if (failed)
		atomic_fetch_add_explicit(&sl->rpc_failures, 1, memory_order_relaxed);
	else
		histogram_add(&sl->rpc, us);
}

/* The sum over the threads' slots of the counter at offset off (bytes into struct slot). */
static uint64_t total(size_t off)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < SLOTS; i++)
		sum += atomic_load((atomic_uint_fast64_t *)((char *)&slots[i] + off));
	return sum;
}

/* Prints the histogram at offset off of struct slot, summed over the threads. */
static void histogram_print(FILE *f, const char *name, const char *help, size_t off)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	uint64_t cum = 0;
	for (size_t b = 0; b < NBUCKETS; b++) {
		cum += total(off + offsetof(struct histogram, bucket) + b * sizeof(atomic_uint_fast64_t));
		fprintf(f, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, buckets[b], cum);
	}
	uint64_t count = total(off + offsetof(struct histogram, count));
	fprintf(f, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, count);
	fprintf(f, "%s_sum %.6f\n", name, (double)total(off + offsetof(struct histogram, sum_us)) / 1e6);
	fprintf(f, "%s_count %" PRIu64 "\n", name, count);
}

/* The health answer: lnmtd's status and its last sweep; NULL when lnmtd does not answer (*rc
 * and err say why). */
static json_t *health_json(int *rc, char *err, size_t errlen)
{
	json_t *st = http_call("system.status", NULL, rc, err, errlen);
	if (!st)
		return NULL;
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
	json_t *last = json_null();
	int lrc;
	json_t *l = http_call("scan.list", lp, &lrc, err, errlen);
	json_t *s0 = json_array_get(json_object_get(l, "sweeps"), 0);
	if (s0) {
		json_decref(last);
		last = json_incref(s0);
	}
	json_decref(l);
	json_decref(lp);
	json_object_set_new(out, "last_sweep", last);
	return out;
}

/* An http_compute_fn for the cache's refresher. */
static char *compute_health(const char *what, const json_t *params, size_t *len)
{
	(void)what, (void)params;
	int rc;
	char err[512];
	json_t *j = health_json(&rc, err, sizeof(err));
	return j ? http_json_text(j, len) : NULL;
}

enum MHD_Result http_health(struct MHD_Connection *c, struct req *r)
{
	char key[HTTP_KEY_MAX];
	enum MHD_Result ret;
	if (http_cache_answer(c, r, "/api/health", key, R_NOSTORE, &ret))
		return ret;
	uint64_t gen = http_cache_generation();
	int rc;
	char err[512];
	json_t *out = health_json(&rc, err, sizeof(err));
	if (!out) {
		json_t *j = json_pack("{s:s,s:{s:s,s:s}}", "daemon", "down", "error", "code", http_rpc_code_name(rc),
				      "message", err);
		return http_send_json(c, r, 503, j, R_NOSTORE, NULL, NULL);
	}
	struct http_refill rf = { compute_health, "health", NULL };
	return http_send_json_cached(c, r, gen, key[0] ? key : NULL, &rf, out, R_NOSTORE);
}

static void metric_header(FILE *f, const char *name, const char *help, const char *type)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A metric of one unlabelled value. */
static void metric(FILE *f, const char *name, const char *help, const char *type, json_int_t v)
{
	metric_header(f, name, help, type);
	fprintf(f, "%s %" JSON_INTEGER_FORMAT "\n", name, v);
}

static json_int_t int_of(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

enum MHD_Result http_metrics(struct MHD_Connection *c, struct req *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return MHD_NO;
	char err[512];
	int rc;
	json_t *st = http_call("system.status", NULL, &rc, err, sizeof(err));
	json_t *net = st ? http_call("report.network", NULL, &rc, err, sizeof(err)) : NULL;
	metric(f, "lnmt_up", "1 when lnmtd answers.", "gauge", st ? 1 : 0);
	if (st) {
		const json_t *cnt = json_object_get(st, "counters");
		metric_header(f, "lnmt_sweeps_total", "Sweeps lnmtd finished since it started, by result.", "counter");
		fprintf(f, "lnmt_sweeps_total{result=\"done\"} %" JSON_INTEGER_FORMAT "\n", int_of(st, "sweeps_done"));
		fprintf(f, "lnmt_sweeps_total{result=\"failed\"} %" JSON_INTEGER_FORMAT "\n", int_of(st, "sweeps_failed"));
		metric(f, "lnmt_sweeps_running", "Sweeps running now.", "gauge", int_of(st, "sweeps_running"));
		metric(f, "lnmt_probes_sent_total", "Probe packets sent by the sweeps lnmtd finished.", "counter",
		       int_of(cnt, "probes_sent"));
		metric(f, "lnmt_replies_total", "Valid replies received by the sweeps lnmtd finished.", "counter",
		       int_of(cnt, "replies"));
		metric(f, "lnmt_live_total", "Live addresses found by the sweeps lnmtd finished (summed).", "counter",
		       int_of(cnt, "live"));
		metric(f, "lnmt_rpc_requests_total", "RPC requests lnmtd received.", "counter", int_of(cnt, "requests"));
		metric(f, "lnmt_rpc_errors_total", "RPC errors lnmtd answered.", "counter", int_of(cnt, "errors"));
		metric(f, "lnmt_store_size_bytes", "Size of the store.", "gauge",
		       int_of(json_object_get(st, "store"), "size_bytes"));
	}
	if (net) {
		metric_header(f, "lnmt_devices", "Devices in the store, by state.", "gauge");
		fprintf(f, "lnmt_devices{state=\"up\"} %" JSON_INTEGER_FORMAT "\n", int_of(net, "up"));
		fprintf(f, "lnmt_devices{state=\"down\"} %" JSON_INTEGER_FORMAT "\n", int_of(net, "down"));
	}
	json_decref(st);
	json_decref(net);
	metric(f, "lnmt_http_rpc_failures_total", "RPC calls lnmt-http could not make (lnmtd unreachable).", "counter",
	       (json_int_t)total(offsetof(struct slot, rpc_failures)));
	metric_header(f, "lnmt_http_requests_total", "HTTP requests answered, by status code.", "counter");
	for (size_t i = 0; i <= NCODES; i++) {
		uint64_t v = total(offsetof(struct slot, codes) + i * sizeof(atomic_uint_fast64_t));
		if (i < NCODES)
			fprintf(f, "lnmt_http_requests_total{code=\"%u\"} %" PRIu64 "\n", codes[i], v);
		else if (v)
			fprintf(f, "lnmt_http_requests_total{code=\"other\"} %" PRIu64 "\n", v);
	}
	histogram_print(f, "lnmt_http_request_seconds", "HTTP request latency (answers from the cache included).",
			offsetof(struct slot, http));
	histogram_print(f, "lnmt_http_rpc_seconds", "Latency of lnmt-http's RPC calls to lnmtd.", offsetof(struct slot, rpc));
	http_front_metrics(http_srv->front, f);
	fclose(f);
	return http_send_text(c, r, 200, text, len, "text/plain; version=0.0.4", R_NOSTORE, NULL, NULL);
}

