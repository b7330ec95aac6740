/* SPDX-License-Identifier: MIT */
/*
 * http_rpc.c: every worker thread keeps one persistent RPC client to lnmtd (reconnected on
 * failure), and http_proxy turns one RPC call into one HTTP response.
 */
#include "http_int.h"
#include "rpc.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>


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

/* rpc_call on the thread's client: 0, an RPC error code, or -errno as rpc_call. */
static int call_msgpack(const char *method, const json_t *params, msgpack_zone **zone, msgpack_object *res,
			char *err, size_t errlen)
{
	pthread_once(&client_key_once, make_client_key);
	for (int attempt = 0; attempt < 2; attempt++) {
		bool fresh = false;
		struct rpc_client *client = pthread_getspecific(client_key);
		if (!client) {
			int rc = rpc_client_connect(&client, http_srv->cfg.socket);
			if (rc == -EACCES) {
				rpc_connect_error(rc, http_srv->cfg.socket, err, errlen);
				http_observe_rpc(0, true);
				return rc;
			}
			if (rc < 0) {
				snprintf(err, errlen, "lnmtd does not answer on %s: %s", http_srv->cfg.socket, strerror(-rc));
				http_observe_rpc(0, true);
				return rc;
			}
			rpc_client_set_timeout(client, HTTP_RPC_TIMEOUT_MS);
			pthread_setspecific(client_key, client);
			fresh = true;
		}
		err[0] = '\0';
		uint64_t t0 = http_mono_us();
		int rc = rpc_call(client, method, http_pack_json_params, (void *)params, zone, res, err, errlen);
		if (rc >= 0) {
			http_observe_rpc(http_mono_us() - t0, false);
			return rc;
		}
		drop_thread_client(client);
		if (fresh || rc == -ETIMEDOUT || attempt == 1) {
			snprintf(err, errlen, "lnmtd does not answer: %s", strerror(-rc));
			http_observe_rpc(0, true);
			return rc;
		}
	}
	return -EIO;
}

json_t *http_call(const char *method, const json_t *params, int *rc, char *err, size_t errlen)
{
	msgpack_zone *zone = NULL;
	msgpack_object res;
	if ((*rc = call_msgpack(method, params, &zone, &res, err, errlen)) != 0)
		return NULL;
	json_t *j = http_msgpack_to_json(&res);
	msgpack_zone_free(zone);
	if (!j) {
		*rc = -ENOMEM;
		snprintf(err, errlen, "out of memory converting %s's answer", method);
	}
	return j;
}

struct rpc_client *http_subscribe(const json_t *topics, json_t **reply, int *rc, char *err, size_t errlen)
{
	struct rpc_client *client;
	if ((*rc = rpc_client_connect(&client, http_srv->cfg.socket)) < 0) {
		if (*rc == -EACCES)
			rpc_connect_error(*rc, http_srv->cfg.socket, err, errlen);
		else
			snprintf(err, errlen, "lnmtd does not answer on %s: %s", http_srv->cfg.socket, strerror(-*rc));
		return NULL;
	}
	rpc_client_set_timeout(client, HTTP_RPC_TIMEOUT_MS);
	json_t *params = json_pack("{s:O}", "topics", (json_t *)topics);
	msgpack_zone *zone = NULL;
	msgpack_object res;
	*rc = rpc_call(client, "events.subscribe", http_pack_json_params, params, &zone, &res, err, errlen);
	json_decref(params);
	if (*rc == 0 && reply && !(*reply = http_msgpack_to_json(&res))) {
		*rc = -ENOMEM;
		snprintf(err, errlen, "out of memory subscribing");
	}
	msgpack_zone_free(zone);
	if (*rc != 0) {
		rpc_client_close(client);
		return NULL;
	}
	return client;
}

unsigned http_rpc_status(int rc)
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

const char *http_rpc_code_name(int rc)
{
	static const char *names[] = { "", "PARSE", "INVALID", "NO_METHOD", "BAD_PARAMS", "TOO_LARGE",
				       "NOT_FOUND", "BUSY", "INTERNAL", "MISSING_PARAM" };
	if (rc < 0)
		return "UNAVAILABLE";
	return rc < (int)(sizeof(names) / sizeof(names[0])) ? names[rc] : "INTERNAL";
}

json_t *http_call_json(struct MHD_Connection *c, struct req *r, const char *method, json_t *params,
			 enum MHD_Result *ret)
{
	char err[512];
	int rc;
	json_t *j = http_call(method, params, &rc, err, sizeof(err));
	if (!j) {
		json_t *e = json_pack("{s:{s:s,s:s}}", "error", "code", http_rpc_code_name(rc), "message", err);
		*ret = http_send_json(c, r, http_rpc_status(rc), e, R_NOSTORE, NULL, NULL);
	}
	return j;
}

/* A finished sweep changed the store: answers cached before are stale. The event that says so
 * may still be on its way, and a client that saw the sweep finish here must not read older data. */
static void invalidate_if_finished(const json_t *j)
{
	const char *state = json_string_value(json_object_get(j, "state"));
	if (state && strcmp(state, "running") != 0)
		http_cache_invalidate();
}

enum MHD_Result http_proxy(struct MHD_Connection *c, struct req *r, const char *method, json_t *params,
			   unsigned status, unsigned flags)
{
	enum MHD_Result ret = MHD_NO;
	json_t *j = http_call_json(c, r, method, params, &ret);
	json_decref(params);
	if (!j)
		return ret;
	if (status != 200 || (flags & R_CHANGES))
		http_cache_invalidate();
	if (flags & R_SCAN_STATE)
		invalidate_if_finished(j);
	char location[64] = "";
	if (status == 202) {
		json_t *id = json_object_get(j, "id");
		if (json_is_integer(id))
			snprintf(location, sizeof(location), "/api/scans/%" JSON_INTEGER_FORMAT, json_integer_value(id));
	}
	return http_send_json(c, r, status, j, flags & (R_ETAG | R_NOSTORE), NULL, location[0] ? location : NULL);
}

/* An http_compute_fn: the RPC call's result as JSON text. */
static char *compute_rpc(const char *method, const json_t *params, size_t *len)
{
	char err[512];
	int rc;
	json_t *j = http_call(method, params, &rc, err, sizeof(err));
	return j ? http_json_text(j, len) : NULL;
}

enum MHD_Result http_proxy_cached(struct MHD_Connection *c, struct req *r, const char *key, const char *method,
				  json_t *params, unsigned flags)
{
	enum MHD_Result ret = MHD_NO;
	uint64_t gen = http_cache_generation();
	json_t *j = http_call_json(c, r, method, params, &ret);
	if (j) {
		struct http_refill rf = { compute_rpc, method, params };
		ret = http_send_json_cached(c, r, gen, key[0] ? key : NULL, &rf, j, flags);
	}
	json_decref(params);
	return ret;
}
