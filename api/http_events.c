/* SPDX-License-Identifier: MIT */
/*
 * http_events.c: GET /api/events: server-sent events. Each stream has its own RPC connection
 * subscribed with events.subscribe and a thread relaying notifications; the MHD connection is
 * suspended while there is nothing to send.
 */
#include "http_int.h"
#include "rpc.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


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
		bool stop = s->cancelled || atomic_load(&http_stopping);
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
	atomic_fetch_sub(&http_sse_live, 1);
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

enum MHD_Result http_events(struct MHD_Connection *c, struct req *r)
{
	static const char *const allowed[] = { "topics", NULL };
	enum MHD_Result ret = MHD_NO;
	json_t *q = http_query_params(c, r, allowed, &ret);
	if (!q)
		return ret;
	json_t *topics = json_array();
	const char *t = json_string_value(json_object_get(q, "topics"));
	char list[256];
	snprintf(list, sizeof(list), "%s", t ? t : "scan,device,job");
	json_decref(q);
	for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		json_array_append_new(topics, json_string(tok));

	struct sse *s = calloc(1, sizeof(*s));
	if (!s) {
		json_decref(topics);
		return MHD_NO;
	}
	pthread_mutex_init(&s->mu, NULL);
	s->conn = c;
	s->refs = 2;
	char err[512] = "";
	int rc;
	json_t *ok = NULL;
	s->client = http_subscribe(topics, &ok, &rc, err, sizeof(err));
	json_decref(topics);
	if (!s->client) {
		pthread_mutex_destroy(&s->mu);
		free(s);
		json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", http_rpc_code_name(rc), "message", err);
		return http_send_json(c, r, http_rpc_status(rc), j, R_NOSTORE, NULL, NULL);
	}
	char *okt = json_dumps(ok, JSON_COMPACT);
	json_decref(ok);
	char head[512];
	int hn = snprintf(head, sizeof(head), "retry: 3000\nevent: subscribed\ndata: %s\n\n", okt ? okt : "{}");
	free(okt);
	sse_append(s, head, (size_t)hn);

	pthread_t th;
	atomic_fetch_add(&http_sse_live, 1);
	if (pthread_create(&th, NULL, sse_thread, s) != 0) {
		atomic_fetch_sub(&http_sse_live, 1);
		rpc_client_close(s->client);
		pthread_mutex_destroy(&s->mu);
		free(s->buf);
		free(s);
		return http_send_error(c, r, 500, NULL, "cannot start a thread");
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
	http_observe(200, http_mono_us() - r->t0);
	return ret;
}

