/* SPDX-License-Identifier: MIT */
/*
 * http_cache.c: recent answers of read-only calls (device lists, reports, health), so that many
 * clients polling the same pages cost lnmtd one call per page per TTL rather than one per request.
 *
 * Why it can be trusted: a watcher thread keeps its own RPC connection subscribed to every event
 * topic, and any event (a sweep's progress or end, a device change, a job run) drops everything
 * cached; so does any request through lnmt-http that changes something, and a scan status that
 * reports a finished sweep (so a client that saw it finish never reads older data). The TTL
 * (default 1 s) bounds what no event reports, such as a store written by another process. While
 * the watcher is not subscribed (lnmtd restarting), nothing is cached.
 *
 * Entries hold ready libmicrohttpd responses, plain and gzip, queued as they are to any number
 * of connections; they are freed when the last user releases them. An answer asked for after
 * half its TTL is renewed by a refresher thread (struct http_refill says how), so popular pages
 * never expire under their readers and no worker thread waits on lnmtd for them.
 */
#include "http_int.h"
#include "rpc.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 256                 /* distinct answers kept; a colliding key replaces the older one */
#define WATCH_POLL_MS 200         /* how often the watcher checks for shutdown */

struct http_cached {
	atomic_int refs;
	char *key;
	uint64_t gen, born_us;
	struct MHD_Response *plain, *gz;
	char etag[24], etag_gz[27];
	/* how to renew it (compute NULL: never), and whether a renewal is queued */
	http_compute_fn compute;
	char *what;
	json_t *params;
	const char *type;
	unsigned flags;
	atomic_bool renewing;
};

#define RENEW_QUEUE 64

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct http_cached *slots[SLOTS];
static atomic_uint_fast64_t generation;
static atomic_bool watching, stop_watcher;
static atomic_int watch_fd = -1;   /* the watcher's socket while it is subscribed */
static uint64_t ttl_us;
static pthread_t watcher;
static bool watcher_started;

/* the refresher: renews answers still asked for before they expire */
static pthread_mutex_t renew_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t renew_cv = PTHREAD_COND_INITIALIZER;
static struct http_cached *renew_q[RENEW_QUEUE];
static size_t renew_n;
static bool renew_stop;
static pthread_t refresher;
static bool refresher_started;

static void entry_free(struct http_cached *e)
{
	if (e->plain)
		MHD_destroy_response(e->plain);
	if (e->gz)
		MHD_destroy_response(e->gz);
	json_decref(e->params);
	free(e->what);
	free(e->key);
	free(e);
}

void http_cached_put(struct http_cached *e)
{
	if (e && atomic_fetch_sub(&e->refs, 1) == 1)
		entry_free(e);
}

/* Queues e (referenced) for renewal, once; a full queue just lets it expire. */
static void renew_soon(struct http_cached *e)
{
	if (!e->compute || atomic_exchange(&e->renewing, true))
		return;
	pthread_mutex_lock(&renew_mu);
	if (renew_n < RENEW_QUEUE && !renew_stop) {
		atomic_fetch_add(&e->refs, 1);
		renew_q[renew_n++] = e;
		pthread_cond_signal(&renew_cv);
	}
	pthread_mutex_unlock(&renew_mu);
}

void http_cache_invalidate(void)
{
	atomic_fetch_add(&generation, 1);
}

/* An event (or lnmtd's exit) waiting on the watcher's socket, not yet seen by the watcher: the
 * cache must not answer until it has been. One poll() of a few hundred nanoseconds. */
static bool news_pending(void)
{
	struct pollfd p = { .fd = atomic_load(&watch_fd), .events = POLLIN };
	return p.fd < 0 || poll(&p, 1, 0) != 0;
}

struct http_cached *http_cache_get(const char *key)
{
	if (!ttl_us || !atomic_load(&watching) || news_pending())
		return NULL;
	size_t i = http_hash(key, strlen(key)) % SLOTS;
	uint64_t now = http_mono_us(), gen = atomic_load(&generation);
	struct http_cached *e = NULL;
	pthread_mutex_lock(&mu);
	struct http_cached *s = slots[i];
	if (s && s->gen == gen && now - s->born_us < ttl_us && strcmp(s->key, key) == 0) {
		e = s;
		atomic_fetch_add(&e->refs, 1);
	}
	pthread_mutex_unlock(&mu);
	if (e && now - e->born_us >= ttl_us / 2)
		renew_soon(e);
	return e;
}

/* A response owning a copy of body, with the headers every answer of this entry carries. */
static struct MHD_Response *response_of(const char *body, size_t len, const char *type, const char *etag,
					bool vary, const char *encoding, unsigned flags)
{
	char *copy = malloc(len ? len : 1);
	if (!copy)
		return NULL;
	memcpy(copy, body, len);
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, copy, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(copy);
		return NULL;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (flags & R_ETAG)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	if (vary)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	if (encoding)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, encoding);
	if (flags & R_NOSTORE)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return resp;
}

struct key_builder {
	char *buf;
	size_t len, cap;
	bool overflow;
};

static enum MHD_Result key_arg(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
	(void)kind;
	struct key_builder *b = cls;
	/* separators no decoded argument can be confused with: "?a=b&c=d" and "?a=b%26c=d" differ */
	if (!v)
		v = "";
	if (strpbrk(k, "\x01\x02") || strpbrk(v, "\x01\x02")) {
		b->overflow = true; /* not cached, rather than ambiguous */
		return MHD_NO;
	}
	int n = snprintf(b->buf + b->len, b->cap - b->len, "\x01%s\x02%s", k, v);
	if (n < 0 || (size_t)n >= b->cap - b->len) {
		b->overflow = true;
		return MHD_NO;
	}
	b->len += (size_t)n;
	return MHD_YES;
}

bool http_cache_answer(struct MHD_Connection *c, struct req *r, const char *url, char key[HTTP_KEY_MAX],
		       unsigned flags, enum MHD_Result *ret)
{
	key[0] = '\0';
	if (!ttl_us)
		return false;
	struct key_builder b = { .buf = key, .cap = HTTP_KEY_MAX };
	int n = snprintf(key, HTTP_KEY_MAX, "%s", url);
	if (n < 0 || n >= HTTP_KEY_MAX) {
		key[0] = '\0';
		return false;
	}
	b.len = (size_t)n;
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, key_arg, &b);
	if (b.overflow) {
		key[0] = '\0';
		return false;
	}
	struct http_cached *e = http_cache_get(key);
	if (!e)
		return false;
	*ret = http_cached_send(c, r, e, flags);
	http_cached_put(e);
	return true;
}

uint64_t http_cache_generation(void)
{
	return atomic_load(&generation);
}

struct http_cached *http_cache_put(uint64_t gen, const char *key, const struct http_refill *rf, const char *body,
				   size_t len, const char *type, unsigned flags)
{
	if (!ttl_us || !atomic_load(&watching) || gen != atomic_load(&generation))
		return NULL;
	struct http_cached *e = calloc(1, sizeof(*e));
	if (!e || !(e->key = strdup(key))) {
		free(e);
		return NULL;
	}
	if (rf && rf->compute && (e->what = strdup(rf->what))) {
		/* a copy of its own: the refresher thread reads it while requests build new ones */
		e->params = rf->params ? json_deep_copy(rf->params) : NULL;
		if (!rf->params || e->params)
			e->compute = rf->compute;
	}
	e->type = type;
	e->flags = flags;
	atomic_init(&e->refs, 2); /* the slot's and the caller's */
	e->gen = gen;
	e->born_us = http_mono_us();
	http_etag(body, len, e->etag);
	snprintf(e->etag_gz, sizeof(e->etag_gz), "%.17s-gz\"", e->etag);
	bool zip = len >= HTTP_GZIP_MIN;
	e->plain = response_of(body, len, type, e->etag, zip, NULL, flags);
	if (zip) {
		size_t zl;
		char *z = http_gzip(body, len, &zl);
		if (z)
			e->gz = response_of(z, zl, type, e->etag_gz, true, "gzip", flags);
		free(z);
	}
	if (!e->plain) {
		entry_free(e);
		return NULL;
	}
	size_t i = http_hash(key, strlen(key)) % SLOTS;
	pthread_mutex_lock(&mu);
	struct http_cached *old = slots[i];
	slots[i] = e;
	pthread_mutex_unlock(&mu);
	http_cached_put(old);
	return e;
}

enum MHD_Result http_cached_send(struct MHD_Connection *c, struct req *r, struct http_cached *e, unsigned flags)
{
	bool gz = e->gz && http_accepts_gzip(c);
	return http_send_prepared(c, r, 200, gz ? e->gz : e->plain,
				  (flags & R_ETAG) ? (gz ? e->etag_gz : e->etag) : NULL);
}

/* ---- the watcher: any event from lnmtd makes the cache stale ---- */

static bool subscribe(struct rpc_client **out)
{
	json_t *topics = json_pack("[sss]", "scan", "device", "job");
	char err[256];
	int rc;
	*out = http_subscribe(topics, NULL, &rc, err, sizeof(err));
	json_decref(topics);
	return *out != NULL;
}

static void *watch(void *arg)
{
	(void)arg;
	struct rpc_client *client = NULL;
	unsigned backoff_ms = 500; /* the first attempt is immediate */
	while (!atomic_load(&stop_watcher)) {
		if (!client) {
			if (backoff_ms >= 500 && subscribe(&client)) {
				http_cache_invalidate(); /* whatever happened while we were away */
				atomic_store(&watch_fd, rpc_client_fd(client));
				atomic_store(&watching, true);
			}
			backoff_ms = client ? 0 : backoff_ms + WATCH_POLL_MS;
			if (!client) {
				struct timespec ts = { 0, WATCH_POLL_MS * 1000000L };
				nanosleep(&ts, NULL);
				continue;
			}
		}
		int type = 0;
		msgpack_zone *zone = NULL;
		msgpack_object payload;
		char method[64];
		int rc = rpc_recv(client, WATCH_POLL_MS, &type, NULL, method, sizeof(method), &zone, &payload, NULL,
				  NULL, 0);
		msgpack_zone_free(zone);
		if (rc == -ETIMEDOUT)
			continue;
		if (rc < 0) {
			atomic_store(&watching, false);
			atomic_store(&watch_fd, -1);
			http_cache_invalidate();
			rpc_client_close(client);
			client = NULL;
			continue;
		}
		http_cache_invalidate();
	}
	atomic_store(&watching, false);
	atomic_store(&watch_fd, -1);
	rpc_client_close(client);
	return NULL;
}

/* ---- the refresher ---- */

static void *refresh(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&renew_mu);
	for (;;) {
		while (!renew_n && !renew_stop)
			pthread_cond_wait(&renew_cv, &renew_mu);
		if (renew_stop)
			break;
		struct http_cached *e = renew_q[--renew_n];
		pthread_mutex_unlock(&renew_mu);
		uint64_t gen = atomic_load(&generation);
		size_t len = 0;
		char *body = e->compute(e->what, e->params, &len);
		if (body) {
			struct http_refill rf = { e->compute, e->what, e->params };
			http_cached_put(http_cache_put(gen, e->key, &rf, body, len, e->type, e->flags));
			free(body);
		}
		http_cached_put(e);
		pthread_mutex_lock(&renew_mu);
	}
	pthread_mutex_unlock(&renew_mu);
	return NULL;
}

int http_cache_start(unsigned ttl_ms)
{
	ttl_us = (uint64_t)ttl_ms * 1000;
	if (!ttl_ms)
		return 0;
	atomic_store(&stop_watcher, false);
	int rc = pthread_create(&watcher, NULL, watch, NULL);
	if (rc)
		return -rc;
	watcher_started = true;
	renew_stop = false;
	if ((rc = pthread_create(&refresher, NULL, refresh, NULL)))
		return -rc;
	refresher_started = true;
	return 0;
}

void http_cache_stop(void)
{
	if (refresher_started) {
		pthread_mutex_lock(&renew_mu);
		renew_stop = true;
		pthread_cond_signal(&renew_cv);
		pthread_mutex_unlock(&renew_mu);
		pthread_join(refresher, NULL);
		refresher_started = false;
		while (renew_n)
			http_cached_put(renew_q[--renew_n]);
	}
	if (watcher_started) {
		atomic_store(&stop_watcher, true);
		pthread_join(watcher, NULL);
		watcher_started = false;
	}
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < SLOTS; i++) {
		http_cached_put(slots[i]);
		slots[i] = NULL;
	}
	pthread_mutex_unlock(&mu);
}
