/* SPDX-License-Identifier: MIT */
/*
 * http_request.c: request input from libmicrohttpd: query strings checked against each route's
 * allowed keys, and JSON bodies (both through the pure functions of http_parse.c); anything
 * wrong is answered 400 with what was wrong.
 */
#include "http_int.h"

#include <stdio.h>
#include <string.h>

struct query {
	const char *const *allowed;
	json_t *params;
	char bad[256];
};

static enum MHD_Result query_it(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct query *q = cls;
	if (q->bad[0])
		return MHD_NO;
	return http_query_pair(q->params, q->allowed, key, value, q->bad, sizeof(q->bad)) == 0 ? MHD_YES : MHD_NO;
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

/* The request body as a JSON object; NULL (and a 400 sent) when it is not one. */
json_t *http_body_object(struct MHD_Connection *c, struct req *r, enum MHD_Result *ret)
{
	char err[256];
	json_t *j = http_body_parse(r->body, r->len, err, sizeof(err));
	if (!j)
		*ret = http_send_error(c, r, 400, NULL, "%s", err);
	return j;
}
