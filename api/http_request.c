/* SPDX-License-Identifier: MIT */
/*
 * http_request.c: request input: query strings checked against each route's allowed keys, and
 * JSON bodies; anything wrong is answered 400 with what was wrong.
 */
#include "http_int.h"
#include "rpc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


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
json_t *http_query_params(struct MHD_Connection *c, struct req *r, const char *const *allowed, enum MHD_Result *ret)
{
	struct query q = { .allowed = allowed, .params = json_object() };
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, query_it, &q);
	if (q.bad[0]) {
		json_decref(q.params);
		*ret = http_send_error(c, r, 400, NULL, "%s", q.bad);
		return NULL;
	}
	return q.params;
}

bool http_parse_id(const char *s, uint64_t *id)
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
json_t *http_body_object(struct MHD_Connection *c, struct req *r, enum MHD_Result *ret)
{
	json_error_t e;
	json_t *j = r->len ? json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &e) : NULL;
	if (!r->len) {
		*ret = http_send_error(c, r, 400, NULL, "a JSON object body is required");
		return NULL;
	}
	if (!j) {
		*ret = http_send_error(c, r, 400, NULL, "malformed JSON at line %d column %d: %s", e.line, e.column, e.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		*ret = http_send_error(c, r, 400, NULL, "the body must be a JSON object");
		return NULL;
	}
	return j;
}

