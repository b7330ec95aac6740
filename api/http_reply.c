/* SPDX-License-Identifier: MIT */
/*
 * http_reply.c: building responses: JSON bodies, JSON errors, gzip when the client accepts it,
 * strong ETags and 304 Not Modified.
 */
#include "http_int.h"
#include "rpc.h"

#include <zlib.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *err_code_name(unsigned status)
{
	switch (status) {
	case 400: return "BAD_REQUEST";
	case 401: return "UNAUTHORIZED";
	case 404: return "NOT_FOUND";
	case 405: return "METHOD_NOT_ALLOWED";
	case 408: return "TIMEOUT";
	case 411: return "LENGTH_REQUIRED";
	case 413: return "TOO_LARGE";
	case 414: return "URI_TOO_LONG";
	case 431: return "HEADERS_TOO_LARGE";
	case 501: return "NOT_IMPLEMENTED";
	case 503: return "UNAVAILABLE";
	case 505: return "VERSION_NOT_SUPPORTED";
	default: return "INTERNAL";
	}
}

bool http_accepts_gzip(struct MHD_Connection *c)
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

char *http_gzip(const char *in, size_t len, size_t *out_len)
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

uint64_t http_hash(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
	return h;
}

void http_etag(const char *body, size_t len, char etag[24])
{
	snprintf(etag, 24, "\"%016" PRIx64 "\"", http_hash(body, len));
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

enum MHD_Result http_send_text(struct MHD_Connection *c, struct req *r, unsigned status, char *text, size_t len,
				 const char *type, unsigned flags, const char *allow, const char *location)
{
	char etag[24] = "";
	bool not_modified = false;
	if ((flags & R_ETAG) && status == 200) {
		http_etag(text, len, etag);
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
		if (len >= HTTP_GZIP_MIN && http_accepts_gzip(c)) {
			size_t zl;
			char *z = http_gzip(text, len, &zl);
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
	if (r->close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	enum MHD_Result ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	r->answered = true;
	http_observe(status, http_mono_us() - r->t0);
	return ret;
}

/* The trailing newline is friendlier in terminals. */
char *http_json_text(json_t *j, size_t *len)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	if (!text)
		return NULL;
	*len = strlen(text);
	char *t2 = realloc(text, *len + 2);
	if (!t2) {
		free(text);
		return NULL;
	}
	t2[(*len)++] = '\n';
	t2[*len] = '\0';
	return t2;
}

enum MHD_Result http_send_json(struct MHD_Connection *c, struct req *r, unsigned status, json_t *j, unsigned flags,
				 const char *allow, const char *location)
{
	size_t len;
	char *text = http_json_text(j, &len);
	if (!text)
		return MHD_NO;
	return http_send_text(c, r, status, text, len, "application/json", flags, allow, location);
}

enum MHD_Result http_send_json_cached(struct MHD_Connection *c, struct req *r, uint64_t gen, const char *key,
				      const struct http_refill *rf, json_t *j, unsigned flags)
{
	size_t len;
	char *text = http_json_text(j, &len);
	if (!text)
		return MHD_NO;
	return http_send_text_cached(c, r, gen, key, rf, text, len, "application/json", flags);
}

enum MHD_Result http_send_text_cached(struct MHD_Connection *c, struct req *r, uint64_t gen, const char *key,
				      const struct http_refill *rf, char *text, size_t len, const char *type,
				      unsigned flags)
{
	struct http_cached *e = key ? http_cache_put(gen, key, rf, text, len, type, flags) : NULL;
	if (!e)
		return http_send_text(c, r, 200, text, len, type, flags, NULL, NULL);
	free(text);
	enum MHD_Result ret = http_cached_send(c, r, e, flags);
	http_cached_put(e);
	return ret;
}

enum MHD_Result http_send_error(struct MHD_Connection *c, struct req *r, unsigned status, const char *allow,
				  const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	size_t len;
	char *text = http_error_text(status, msg, &len);
	if (!text)
		return MHD_NO;
	return http_send_text(c, r, status, text, len, "application/json", R_NOSTORE, allow, NULL);
}

char *http_error_text(unsigned status, const char *msg, size_t *len)
{
	/* messages quote what the client sent: anything but printable ASCII becomes '?', so that the
	 * text is valid UTF-8 (json_pack refuses anything else) and safe in a terminal */
	char clean[512];
	size_t n = 0;
	for (; msg[n] && n < sizeof(clean) - 1; n++)
		clean[n] = (unsigned char)msg[n] >= 0x20 && (unsigned char)msg[n] < 0x7f ? msg[n] : '?';
	clean[n] = '\0';
	json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", err_code_name(status), "message", clean);
	return j ? http_json_text(j, len) : NULL;
}

enum MHD_Result http_send_prepared(struct MHD_Connection *c, struct req *r, unsigned status,
				   struct MHD_Response *resp, const char *etag)
{
	enum MHD_Result ret;
	if (etag && status == 200 &&
	    etag_matches(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH), etag)) {
		status = 304;
		struct MHD_Response *nm = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		if (!nm)
			return MHD_NO;
		MHD_add_response_header(nm, MHD_HTTP_HEADER_ETAG, etag);
		ret = MHD_queue_response(c, status, nm);
		MHD_destroy_response(nm);
	} else {
		ret = MHD_queue_response(c, status, resp);
	}
	r->answered = true;
	http_observe(status, http_mono_us() - r->t0);
	return ret;
}
