/* SPDX-License-Identifier: MIT */
/*
 * fuzz_http_resp.c: libFuzzer target for identify's HTTP response parser (engine/identify/
 * ident_parse.c). Input: byte 0 picks the slice size (1..256) in which the rest is fed, as the
 * network delivers it. The verdict must not depend on the slicing (the same input fed whole
 * gives the same answer and fields), a final verdict never changes, the limits hold (no more
 * than HTTP_RESP_LINE_MAX in a line, HTTP_RESP_HEAD_MAX in the head, HTTP_RESP_BODY_SCAN of the
 * body) and every string field is NUL-terminated valid text inside its buffer. Anything else
 * traps. Built and run by tests/fuzz/run.
 */
#include "ident_parse.h"

#include <stdint.h>
#include <string.h>

#define CHECK(cond) \
	do { \
		if (!(cond)) \
			__builtin_trap(); \
	} while (0)

static void fields_ok(const struct http_resp *p)
{
	CHECK(memchr(p->server, 0, sizeof(p->server)));
	CHECK(memchr(p->title, 0, sizeof(p->title)));
	for (const char *s = p->title; *s; s++)
		CHECK((unsigned char)*s >= 0x20 && *s != 0x7f);
	CHECK(p->head_total <= HTTP_RESP_HEAD_MAX + 1);
	CHECK(p->line_total <= HTTP_RESP_LINE_MAX + 1);
	CHECK(p->body_seen <= HTTP_RESP_BODY_SCAN);
}

static int run(struct http_resp *p, const uint8_t *d, size_t n, size_t slice)
{
	int rc = PARSE_MORE;

	http_resp_init(p);
	for (size_t off = 0; off < n && rc == PARSE_MORE; off += slice) {
		rc = http_resp_feed(p, d + off, n - off < slice ? n - off : slice);
		fields_ok(p);
	}
	if (rc == PARSE_MORE)
		rc = http_resp_eof(p);
	fields_ok(p);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_resp a, b;

	if (size < 1)
		return 0;
	size_t slice = (size_t)data[0] + 1;
	int ra = run(&a, data + 1, size - 1, slice);
	int rb = run(&b, data + 1, size - 1, size);
	CHECK(ra == rb);
	CHECK(ra == PARSE_DONE || ra < 0);
	if (ra == PARSE_DONE) {
		CHECK(a.status >= 100 && a.status <= 999);
		CHECK(a.status == b.status);
		CHECK(strcmp(a.server, b.server) == 0);
		CHECK(strcmp(a.title, b.title) == 0);
		CHECK(*parse_why(ra) == '\0');
		/* Done stays done. */
		CHECK(http_resp_feed(&a, data, size) == PARSE_DONE);
	} else {
		CHECK(*parse_why(ra) != '\0');
	}
	return 0;
}
