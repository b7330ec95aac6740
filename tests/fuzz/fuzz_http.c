/* SPDX-License-Identifier: MIT */
/*
 * fuzz_http.c: libFuzzer target for lnmt-http's request handling short of lnmtd (api/http_parse.c):
 * the head check the front runs on each new connection, the target check, %-decoding, the route
 * table, query parameters and the JSON body, in the order a request meets them. Input: byte 0
 * picks the slice size (1..256) in which the rest arrives, and the head is checked after each
 * slice, as the front does while a client sends: a verdict once reached must never change
 * (refused stays refused, a complete head keeps its length), an incomplete head is never over
 * HTTP_HEAD_MAX, and every result must stay inside the input. Anything else traps. Built and run
 * by tests/fuzz/run.
 */
#include "http_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond) \
	do { \
		if (!(cond)) \
			__builtin_trap(); \
	} while (0)

static bool status_ok(unsigned s)
{
	return s == 400 || s == 411 || s == 413 || s == 414 || s == 431 || s == 501 || s == 505;
}

/* What libmicrohttpd does to a query key or value before the unescape callback: '+' is a space. */
static void plus_to_space(char *s)
{
	for (; *s; s++)
		if (*s == '+')
			*s = ' ';
}

static void query(const struct http_match *m, char *q)
{
	static const char *const every[] = { "state", "subnet", "since", "vendor", "text", "limit", "after",
					     "history", "topics", NULL };
	json_t *params = json_object();
	json_t *all = json_object();
	for (char *save = NULL, *kv = strtok_r(q, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
		char *v = strchr(kv, '=');
		if (v)
			*v++ = '\0';
		plus_to_space(kv);
		http_unescape(kv);
		if (v) {
			plus_to_space(v);
			http_unescape(v);
		}
		char bad[256] = "";
		int rc = http_query_pair(params, m->allowed, kv, v, bad, sizeof(bad));
		CHECK(rc == 0 || (bad[0] && memchr(bad, 0, sizeof(bad))));
		bad[0] = '\0';
		rc = http_query_pair(all, every, kv, v, bad, sizeof(bad));
		CHECK(rc == 0 || bad[0]);
	}
	json_decref(params);
	json_decref(all);
}

static void request(const char *in, size_t len, const struct http_head *h)
{
	CHECK(h->len <= len && h->len <= HTTP_HEAD_MAX);
	CHECK(h->method >= in && h->method + h->method_len <= in + h->len && h->method_len >= 1 && h->method_len <= 32);
	CHECK(h->target >= in && h->target + h->target_len <= in + h->len && h->target_len <= HTTP_TARGET_MAX);
	CHECK(h->version == 10 || h->version == 11);
	CHECK(!h->has_length || h->content_length <= HTTP_EARLY_REJECT);
	char why[160];
	CHECK(http_target_check(h->target, h->target_len, why, sizeof(why)) == 0);

	char method[33], *target = malloc(h->target_len + 1);
	if (!target)
		return;
	memcpy(method, h->method, h->method_len);
	method[h->method_len] = '\0';
	memcpy(target, h->target, h->target_len);
	target[h->target_len] = '\0';
	char *q = strchr(target, '?');
	if (q)
		*q++ = '\0';
	size_t plen = strlen(target);
	size_t n = http_unescape(target);
	CHECK(n <= plen && strlen(target) == n); /* a checked target never decodes to a NUL */

	struct http_match m;
	http_route_match(method, target, &m);
	if (m.route == HTTP_RT_NONE) {
		CHECK(m.status == 400 || m.status == 404 || m.status == 405);
		CHECK(m.msg[0] && (m.status != 405 || m.allow));
	} else {
		CHECK(m.status == 0 && m.allowed);
		CHECK(!m.arg || (m.arg >= target && m.arg <= target + n));
	}
	if (q)
		query(&m, q);

	/* the body: what follows the head, up to Content-Length */
	size_t blen = len - h->len;
	if (h->has_length && h->content_length < blen)
		blen = (size_t)h->content_length;
	char err[256] = "";
	json_t *j = http_body_parse(in + h->len, blen, err, sizeof(err));
	CHECK(j ? json_is_object(j) : err[0] != '\0');
	json_decref(j);
	free(target);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t slice = (size_t)data[0] + 1;
	const char *in = (const char *)data + 1;
	size_t len = size - 1;

	struct http_head h, first;
	int verdict = 0;
	size_t have = 0;
	do {
		have = have + slice < len ? have + slice : len;
		int rc = http_head_check(in, have, &h);
		CHECK(rc >= -1 && rc <= 1);
		if (rc == 0)
			CHECK(have < HTTP_HEAD_MAX && verdict == 0);
		if (rc < 0) {
			CHECK(status_ok(h.status) && h.msg[0] && memchr(h.msg, 0, sizeof(h.msg)));
			CHECK(verdict <= 0);
		}
		if (rc > 0) {
			CHECK(verdict >= 0);
			if (verdict > 0)
				CHECK(h.len == first.len);
			first = h;
		}
		verdict = rc ? rc : verdict;
	} while (have < len);
	if (verdict > 0)
		request(in, len, &first);

	/* the same bytes as a request target, the way the URI log callback checks it */
	char why[160] = "";
	unsigned st = http_target_check(in, len, why, sizeof(why));
	CHECK(st == 0 ? memchr(in, 0, len) == NULL : (st == 400 || st == 414) && why[0]);
	return 0;
}
