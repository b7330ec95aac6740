/* SPDX-License-Identifier: MIT */
/*
 * http_parse.c: lnmt-http's request parsing as pure functions (http_parse.h): request heads
 * checked before libmicrohttpd reads them, targets and %-escapes, the route table, query
 * parameters and JSON bodies. Nothing here does I/O, so tests/fuzz/fuzz_http.c runs all of it.
 *
 * Why the head is checked here and not left to libmicrohttpd (0.9.75): its parser answers what it
 * refuses (a bad version, a header over its pool, a malformed Content-Length) with fixed HTML
 * bodies compiled into the library (connection.c, transmit_error_response_len), with no option
 * or callback to change them; it closes a connection whose first line has no space without a
 * word; it takes the first of two Content-Length headers; it decodes %00 into a NUL that cuts
 * the path short. So http_front.c holds each new connection until its head is complete, checks
 * it with http_head_check and answers anything refused itself, as the project's JSON errors.
 */
#include "http_parse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 5.6.2: tchar */
static bool is_tchar(unsigned char c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int refuse(struct http_head *h, unsigned status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(struct http_head *h, unsigned status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(h->msg, sizeof(h->msg), fmt, ap);
	va_end(ap);
	h->status = status;
	return -1;
}

/* Incomplete: fine unless the head is already over its limit. */
static int more(struct http_head *h, size_t len, bool in_request_line)
{
	if (len < HTTP_HEAD_MAX)
		return 0;
	if (in_request_line)
		return refuse(h, 414, "request line over %u bytes", HTTP_HEAD_MAX);
	return refuse(h, 431, "request head over %u bytes", HTTP_HEAD_MAX);
}

static bool name_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

unsigned http_target_check(const char *t, size_t n, char *why, size_t whylen)
{
	if (n == 0) {
		snprintf(why, whylen, "empty request target");
		return 400;
	}
	if (n > HTTP_TARGET_MAX) {
		snprintf(why, whylen, "request target over %u bytes", HTTP_TARGET_MAX);
		return 414;
	}
	if (t[0] != '/' && !(n == 1 && t[0] == '*')) {
		snprintf(why, whylen, "the request target must be a path starting with '/'");
		return 400;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c <= 0x20 || c >= 0x7f) {
			snprintf(why, whylen, "byte 0x%02x at offset %zu of the request target: percent-encode it", c, i);
			return 400;
		}
		if (c != '%')
			continue;
		if (i + 2 >= n || !isxdigit((unsigned char)t[i + 1]) || !isxdigit((unsigned char)t[i + 2])) {
			snprintf(why, whylen, "invalid %%-escape '%.*s' at offset %zu of the request target: %%XX (two hex digits) expected",
				 (int)(n - i < 3 ? n - i : 3), t + i, i);
			return 400;
		}
		if (t[i + 1] == '0' && t[i + 2] == '0') {
			snprintf(why, whylen, "NUL (%%00) at offset %zu of the request target", i);
			return 400;
		}
	}
	return 0;
}

int http_head_check(const char *buf, size_t len, struct http_head *h)
{
	memset(h, 0, sizeof(*h));
	const unsigned char *b = (const unsigned char *)buf;
	size_t i = 0;

	/* empty lines before the request line are ignored (RFC 9112 2.2) */
	while (i < len && (b[i] == '\r' || b[i] == '\n')) {
		if (b[i] == '\r' && i + 1 < len && b[i + 1] != '\n')
			return refuse(h, 400, "malformed request: a CR without LF");
		i++;
	}
	if (i == len)
		return more(h, len, true);

	/* the method, refused at its first wrong byte (a TLS hello, binary, a stray protocol) */
	size_t m0 = i;
	while (i < len && i - m0 <= 32 && is_tchar(b[i]))
		i++;
	if (i - m0 > 32)
		return refuse(h, 400, "malformed request line: the method is over 32 characters");
	if (i == len)
		return more(h, len, true);
	if (b[i] != ' ' || i == m0)
		return refuse(h, 400, "malformed request line: METHOD SP TARGET SP HTTP/1.1 expected");
	h->method = buf + m0;
	h->method_len = i - m0;
	i++;

	/* the target */
	size_t t0 = i;
	while (i < len && b[i] > 0x20 && b[i] < 0x7f && i - t0 <= HTTP_TARGET_MAX)
		i++;
	if (i - t0 > HTTP_TARGET_MAX)
		return refuse(h, 414, "request target over %u bytes", HTTP_TARGET_MAX);
	if (i == len)
		return more(h, len, true);
	if (i == t0)
		return refuse(h, 400, "malformed request line: METHOD SP TARGET SP HTTP/1.1 expected");
	if (b[i] == '\r' || b[i] == '\n')
		return refuse(h, 400, "malformed request line: no HTTP version (HTTP/0.9 is not supported)");
	if (b[i] != ' ')
		return refuse(h, 400, "byte 0x%02x at offset %zu of the request target: percent-encode it", b[i], i - t0);
	unsigned st = http_target_check(buf + t0, i - t0, h->msg, sizeof(h->msg));
	if (st) {
		h->status = st;
		return -1;
	}
	h->target = buf + t0;
	h->target_len = i - t0;
	unsigned items = 0;
	const char *q = memchr(h->target, '?', h->target_len);
	if (q) {
		items = 1;
		for (const char *p = q; p < h->target + h->target_len; p++)
			items += *p == '&';
	}
	i++;

	/* the version: HTTP/d.d */
	static const char want[] = "HTTP/d.d";
	size_t v0 = i;
	for (; i < len && i - v0 < 8; i++) {
		char w = want[i - v0];
		if (w == 'd' ? !isdigit(b[i]) : b[i] != (unsigned char)w)
			return refuse(h, 400, "malformed request line: the version must be HTTP/1.1 or HTTP/1.0");
	}
	if (i == len)
		return more(h, len, true);
	if (b[v0 + 5] != '1')
		return refuse(h, 505, "HTTP/%c.%c is not supported: use HTTP/1.1", b[v0 + 5], b[v0 + 7]);
	h->version = b[v0 + 7] == '0' ? 10 : 11;
	if (b[i] == '\r') {
		if (i + 1 == len)
			return more(h, len, true);
		if (b[i + 1] != '\n')
			return refuse(h, 400, "malformed request line: a CR without LF");
		i += 2;
	} else if (b[i] == '\n') {
		i++;
	} else {
		return refuse(h, 400, "malformed request line: the version must be HTTP/1.1 or HTTP/1.0");
	}

	/* header fields, up to the empty line */
	unsigned fields = 0;
	bool host = false, te = false, chunked = false;
	for (;;) {
		if (i > HTTP_HEAD_MAX)
			return refuse(h, 431, "request head over %u bytes", HTTP_HEAD_MAX);
		if (i == len)
			return more(h, len, false);
		if (b[i] == '\n') {
			i++;
			break;
		}
		if (b[i] == '\r') {
			if (i + 1 == len)
				return more(h, len, false);
			if (b[i + 1] != '\n')
				return refuse(h, 400, "malformed request head: a CR without LF");
			i += 2;
			break;
		}
		if (b[i] == ' ' || b[i] == '\t')
			return refuse(h, 400, "header line %u starts with white space (obs-fold is not accepted)", fields + 1);
		size_t n0 = i;
		while (i < len && is_tchar(b[i]))
			i++;
		if (i == len)
			return more(h, len, false);
		if (b[i] != ':' || i == n0)
			return refuse(h, 400, "malformed header line %u: NAME: VALUE expected (no space before the colon)",
				      fields + 1);
		const char *name = buf + n0;
		size_t nlen = i - n0;
		i++;
		while (i < len && (b[i] == ' ' || b[i] == '\t'))
			i++;
		size_t val0 = i;
		while (i < len && (b[i] == '\t' || (b[i] >= 0x20 && b[i] != 0x7f)))
			i++;
		if (i == len)
			return more(h, len, false);
		size_t vend = i;
		if (b[i] == '\r') {
			if (i + 1 == len)
				return more(h, len, false);
			if (b[i + 1] != '\n')
				return refuse(h, 400, "header '%.*s': a CR without LF", (int)(nlen > 64 ? 64 : nlen), name);
			i += 2;
		} else if (b[i] == '\n') {
			i++;
		} else {
			return refuse(h, 400, "header '%.*s' holds the control character 0x%02x", (int)(nlen > 64 ? 64 : nlen),
				      name, b[i]);
		}
		while (vend > val0 && (b[vend - 1] == ' ' || b[vend - 1] == '\t'))
			vend--;
		const char *val = buf + val0;
		size_t vlen = vend - val0;
		if (++fields > HTTP_FIELDS_MAX)
			return refuse(h, 431, "over %u header fields", HTTP_FIELDS_MAX);
		if (name_is(name, nlen, "Host")) {
			if (host)
				return refuse(h, 400, "Host given twice");
			host = true;
		} else if (name_is(name, nlen, "Content-Length")) {
			if (h->has_length)
				return refuse(h, 400, "Content-Length given twice");
			uint64_t v = 0;
			size_t k = 0;
			for (; k < vlen && isdigit((unsigned char)val[k]); k++)
				v = k < 18 ? v * 10 + (uint64_t)(val[k] - '0') : UINT64_MAX;
			if (k == 0 || k != vlen)
				return refuse(h, 400, "bad Content-Length '%.*s': one decimal number expected",
					      (int)(vlen > 32 ? 32 : vlen), val);
			if (v > HTTP_EARLY_REJECT)
				return refuse(h, 413, "request body over %u bytes", HTTP_MAX_BODY);
			h->has_length = true;
			h->content_length = v;
		} else if (name_is(name, nlen, "Transfer-Encoding")) {
			if (te)
				return refuse(h, 400, "Transfer-Encoding given twice");
			te = true;
			chunked = vlen == 7 && strncasecmp(val, "chunked", 7) == 0;
		} else if (name_is(name, nlen, "Cookie")) {
			items++;
			for (size_t k = 0; k < vlen; k++)
				items += val[k] == ';' || val[k] == ',';
		}
	}
	if (i > HTTP_HEAD_MAX)
		return refuse(h, 431, "request head over %u bytes", HTTP_HEAD_MAX);
	if (items > HTTP_ITEMS_MAX)
		return refuse(h, 431, "over %u cookies and query arguments", HTTP_ITEMS_MAX);
	if (h->version == 11 && !host)
		return refuse(h, 400, "an HTTP/1.1 request needs a Host header");
	if (te && h->has_length)
		return refuse(h, 400, "both Transfer-Encoding and Content-Length");
	if (te && chunked)
		return refuse(h, 411, "chunked request bodies are not accepted: send Content-Length");
	if (te)
		return refuse(h, 501, "Transfer-Encoding other than chunked is not supported");
	h->len = i;
	return 1;
}

size_t http_unescape(char *s)
{
	char *r = s, *w = s;
	while (*r) {
		if (r[0] == '%' && isxdigit((unsigned char)r[1]) && isxdigit((unsigned char)r[2]) &&
		    !(r[1] == '0' && r[2] == '0')) {
			char hex[3] = { r[1], r[2], 0 };
			*w++ = (char)strtoul(hex, NULL, 16);
			r += 3;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
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

/* ---- routes ---- */

static bool is(const char *m, const char *want)
{
	return strcmp(m, want) == 0 || (strcmp(want, "GET") == 0 && strcmp(m, "HEAD") == 0);
}

static void nomatch(struct http_match *m, unsigned status, const char *allow, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void nomatch(struct http_match *m, unsigned status, const char *allow, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->msg, sizeof(m->msg), fmt, ap);
	va_end(ap);
	m->route = HTTP_RT_NONE;
	m->status = status;
	m->allow = allow;
}

static const char *const q_devices[] = { "state", "subnet", "since", "vendor", "text", "limit", "after", NULL };
static const char *const q_reports[] = { "since", "subnet", NULL };
static const char *const q_charts[] = { "since", "subnet", NULL };
static const char *const q_limit[] = { "limit", NULL };
static const char *const q_history[] = { "history", NULL };
static const char *const q_events[] = { "topics", NULL };
static const char *const q_none[] = { NULL };

void http_route_match(const char *method, const char *path, struct http_match *m)
{
	const char *mt = method;
	memset(m, 0, sizeof(*m));
	m->allowed = q_none;
	m->needs_token = true;
	/* the page holds no data (its script asks the API with the token from the address) */
	if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
		m->needs_token = false;
		if (!is(mt, "GET"))
			return nomatch(m, 405, "GET, HEAD", "use GET");
		m->route = HTTP_RT_DASHBOARD;
		return;
	}
	if (strncmp(path, "/api/charts/", 12) == 0) {
		if (!is(mt, "GET"))
			return nomatch(m, 405, "GET, HEAD", "use GET");
		m->route = HTTP_RT_CHART;
		m->arg = path;
		m->allowed = q_charts;
		return;
	}
	if (strcmp(path, "/metrics") == 0 || strcmp(path, "/api/health") == 0) {
		if (!is(mt, "GET"))
			return nomatch(m, 405, "GET, HEAD", "use GET");
		m->route = path[1] == 'm' ? HTTP_RT_METRICS : HTTP_RT_HEALTH;
		return;
	}
	if (strcmp(path, "/api/devices") == 0) {
		if (strcmp(mt, "POST") == 0) {
			m->route = HTTP_RT_DEVICES_POST;
			return;
		}
		if (!is(mt, "GET"))
			return nomatch(m, 405, "GET, HEAD, POST", "use GET or POST");
		m->route = HTTP_RT_DEVICES_LIST;
		m->allowed = q_devices;
		return;
	}
	if (strncmp(path, "/api/devices/", 13) == 0) {
		const char *ip = path + 13;
		struct in_addr a;
		if (!is(mt, "GET"))
			return nomatch(m, 405, "GET, HEAD", "use GET");
		if (inet_pton(AF_INET, ip, &a) != 1)
			return nomatch(m, 400, NULL, "bad address '%.64s': a dotted quad expected", ip);
		m->route = HTTP_RT_DEVICE;
		m->arg = ip;
		return;
	}
	if (strcmp(path, "/api/reports/uptime") == 0 || strcmp(path, "/api/reports/network") == 0) {
		if (!is(mt, "GET"))
			return nomatch(m, 405, "GET, HEAD", "use GET");
		m->route = path[14] == 'u' ? HTTP_RT_REPORT_UPTIME : HTTP_RT_REPORT_NETWORK;
		m->allowed = q_reports;
		return;
	}
	if (strcmp(path, "/api/scans") == 0) {
		if (is(mt, "GET")) {
			m->route = HTTP_RT_SCANS_LIST;
			m->allowed = q_limit;
			return;
		}
		if (strcmp(mt, "POST") == 0) {
			m->route = HTTP_RT_SCAN_START;
			return;
		}
		return nomatch(m, 405, "GET, HEAD, POST", "use GET or POST");
	}
	if (strncmp(path, "/api/scans/", 11) == 0) {
		if (!http_parse_id(path + 11, &m->id))
			return nomatch(m, 404, NULL, "no such path '%.128s'", path);
		if (is(mt, "GET")) {
			m->route = HTTP_RT_SCAN_STATUS;
			return;
		}
		if (strcmp(mt, "DELETE") == 0) {
			m->route = HTTP_RT_SCAN_CANCEL;
			return;
		}
		return nomatch(m, 405, "GET, HEAD, DELETE", "use GET or DELETE");
	}
	if (strcmp(path, "/api/scheduler/jobs") == 0) {
		if (is(mt, "GET")) {
			m->route = HTTP_RT_JOBS_LIST;
			m->allowed = q_history;
			return;
		}
		if (strcmp(mt, "POST") == 0) {
			m->route = HTTP_RT_JOB_ADD;
			return;
		}
		return nomatch(m, 405, "GET, HEAD, POST", "use GET or POST");
	}
	if (strncmp(path, "/api/scheduler/jobs/", 20) == 0) {
		char idbuf[32];
		const char *rest = path + 20, *slash = strchr(rest, '/');
		size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
		if (n >= sizeof(idbuf))
			return nomatch(m, 404, NULL, "no such path '%.128s'", path);
		memcpy(idbuf, rest, n);
		idbuf[n] = '\0';
		if (!http_parse_id(idbuf, &m->id) || (slash && strcmp(slash, "/run") != 0))
			return nomatch(m, 404, NULL, "no such path '%.128s'", path);
		if (slash) {
			if (strcmp(mt, "POST") != 0)
				return nomatch(m, 405, "POST", "use POST");
			m->route = HTTP_RT_JOB_RUN;
			return;
		}
		if (is(mt, "GET")) {
			m->route = HTTP_RT_JOB_GET;
			m->allowed = q_history;
			return;
		}
		if (strcmp(mt, "DELETE") == 0) {
			m->route = HTTP_RT_JOB_REMOVE;
			return;
		}
		return nomatch(m, 405, "GET, HEAD, DELETE", "use GET or DELETE");
	}
	if (strcmp(path, "/api/events") == 0) {
		if (!is(mt, "GET"))
			return nomatch(m, 405, "GET", "use GET");
		m->route = HTTP_RT_EVENTS;
		m->allowed = q_events;
		return;
	}
	nomatch(m, 404, NULL, "no such path '%.128s'", path);
}

/* ---- query parameters and bodies ---- */

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

int http_query_pair(json_t *params, const char *const *allowed, const char *key, const char *value, char *bad,
		    size_t badlen)
{
	bool ok = false;
	for (const char *const *a = allowed; *a; a++)
		if (strcmp(*a, key) == 0)
			ok = true;
	if (!ok) {
		snprintf(bad, badlen, "unknown query parameter '%.64s'", key);
		return -EINVAL;
	}
	if (!value || !*value) {
		snprintf(bad, badlen, "query parameter '%.64s' needs a value", key);
		return -EINVAL;
	}
	if (strcmp(key, "since") == 0) {
		uint64_t s;
		if (!parse_duration(value, &s) || s > (uint64_t)INT64_MAX) {
			snprintf(bad, badlen, "bad since '%.64s': a duration such as 3600, 30m, 24h, 7d", value);
			return -EINVAL;
		}
		json_object_set_new(params, "since_s", json_integer((json_int_t)s));
	} else if (strcmp(key, "limit") == 0 || strcmp(key, "history") == 0) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(value, &end, 10);
		if (errno || *end || !isdigit((unsigned char)*value) || v > (uint64_t)INT64_MAX) {
			snprintf(bad, badlen, "bad %s '%.64s': a number", key, value);
			return -EINVAL;
		}
		json_object_set_new(params, key, json_integer((json_int_t)v));
	} else {
		json_object_set_new(params, key, json_string(value));
	}
	return 0;
}

json_t *http_body_parse(const char *body, size_t len, char *err, size_t errlen)
{
	if (!len) {
		snprintf(err, errlen, "a JSON object body is required");
		return NULL;
	}
	json_error_t e;
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
	if (!j) {
		snprintf(err, errlen, "malformed JSON at line %d column %d: %s", e.line, e.column, e.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		snprintf(err, errlen, "the body must be a JSON object");
		return NULL;
	}
	return j;
}
