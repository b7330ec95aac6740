/* SPDX-License-Identifier: MIT */
/* test_ident_parse.c: the HTTP response + <title> parser and the SSH banner parser of identify. */
#include "ident_parse.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static int feed_str(struct http_resp *p, const char *s)
{
	return http_resp_feed(p, (const uint8_t *)s, strlen(s));
}

/* Feeds s in slices of n bytes (1 = byte by byte); the parser's answer must not depend on it. */
static int feed_sliced(struct http_resp *p, const char *s, size_t n)
{
	size_t len = strlen(s);
	int rc = PARSE_MORE;

	for (size_t off = 0; off < len && rc == PARSE_MORE; off += n)
		rc = http_resp_feed(p, (const uint8_t *)s + off, len - off < n ? len - off : n);
	return rc;
}

static const char nginx_like[] =
	"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Tue, 01 Dec 2026 21:42:24 GMT\r\nContent-Type: text/html\r\n"
	"Content-Length: 102\r\nConnection: close\r\n\r\n"
	"<!doctype html><html><head><title>lnmt lab host 198.19.0.7</title></head><body>lnmt lab</body></html>\n";

Test(ident_http, status_server_title)
{
	struct http_resp p;

	http_resp_init(&p);
	cr_assert_eq(feed_str(&p, nginx_like), PARSE_DONE);
	cr_assert_eq(p.status, 200);
	cr_assert_str_eq(p.server, "nginx");
	cr_assert_str_eq(p.title, "lnmt lab host 198.19.0.7");
	cr_assert(p.has_title);
	cr_assert_not(p.title_cut);
}

Test(ident_http, any_slicing_gives_the_same_answer)
{
	for (size_t n = 1; n < sizeof(nginx_like); n += (n < 16 ? 1 : 13)) {
		struct http_resp p;
		http_resp_init(&p);
		cr_assert_eq(feed_sliced(&p, nginx_like, n), PARSE_DONE, "slices of %zu", n);
		cr_assert_eq(p.status, 200, "slices of %zu", n);
		cr_assert_str_eq(p.server, "nginx", "slices of %zu", n);
		cr_assert_str_eq(p.title, "lnmt lab host 198.19.0.7", "slices of %zu", n);
	}
}

Test(ident_http, title_case_attributes_whitespace_and_false_ends)
{
	struct http_resp p;

	http_resp_init(&p);
	cr_assert_eq(feed_str(&p, "HTTP/1.0 404 Not Found\nsErVeR:   Apache/2.4 (Debian)  \n\n"
				  "<html><titlebar>no</titlebar><TITLE lang=\"en\">\n  Router \t <b> login </TITLEX> page\n</Title>"),
		     PARSE_DONE);
	cr_assert_eq(p.status, 404);
	cr_assert_str_eq(p.server, "Apache/2.4 (Debian)");
	cr_assert_str_eq(p.title, "Router <b> login </TITLEX> page");
}

Test(ident_http, no_title_ends_with_the_body)
{
	struct http_resp p;

	http_resp_init(&p);
	cr_assert_eq(feed_str(&p, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), PARSE_DONE);
	cr_assert_eq(p.status, 200);
	cr_assert_str_eq(p.server, "");
	cr_assert_not(p.has_title);

	http_resp_init(&p);
	cr_assert_eq(feed_str(&p, "HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n"), PARSE_DONE);
	cr_assert_eq(p.status, 204);

	http_resp_init(&p);
	cr_assert_eq(feed_str(&p, "HTTP/1.1 301 Moved\r\nLocation: /a\r\n\r\n<p>moved"), PARSE_MORE);
	cr_assert_eq(http_resp_eof(&p), PARSE_DONE);
	cr_assert_eq(p.status, 301);
}

Test(ident_http, interim_responses_are_skipped)
{
	struct http_resp p;

	http_resp_init(&p);
	cr_assert_eq(feed_str(&p, "HTTP/1.1 100 Continue\r\nServer: early\r\n\r\nHTTP/1.1 200 OK\r\nServer: late\r\n"
				  "Content-Length: 0\r\n\r\n"),
		     PARSE_DONE);
	cr_assert_eq(p.status, 200);
	cr_assert_str_eq(p.server, "late");
}

Test(ident_http, other_protocols_are_refused_at_once)
{
	struct http_resp p;

	http_resp_init(&p);
	cr_assert_eq(feed_str(&p, "SSH-2.0-OpenSSH_9.2p1\r\n"), PARSE_E_NOT_HTTP);
	http_resp_init(&p);
	cr_assert_eq(http_resp_feed(&p, (const uint8_t *)"\x15\x03\x03\x00\x02\x02\x28", 7), PARSE_E_NOT_HTTP);
	http_resp_init(&p);
	cr_assert_eq(feed_str(&p, "HTTP/1.1 OK\r\n"), PARSE_E_STATUS);
	http_resp_init(&p);
	cr_assert_eq(feed_str(&p, "HTTP/1.1 2000 OK\r\n"), PARSE_E_STATUS);
	cr_assert_str_eq(parse_why(PARSE_E_NOT_HTTP), "not an HTTP response");
}

Test(ident_http, a_header_line_without_end_is_cut_off)
{
	struct http_resp p;
	size_t n = 1 << 20;
	uint8_t *junk = malloc(n);

	cr_assert_not_null(junk);
	memset(junk, 'a', n);
	http_resp_init(&p);
	cr_assert_eq(feed_str(&p, "HTTP/1.1 200 OK\r\nX-Long: "), PARSE_MORE);
	int rc = PARSE_MORE;
	size_t fed = 0;
	while (rc == PARSE_MORE && fed < n) {
		rc = http_resp_feed(&p, junk + fed, 4096);
		fed += 4096;
	}
	cr_assert_eq(rc, PARSE_E_LINE_LONG);
	cr_assert_leq(fed, HTTP_RESP_LINE_MAX + 4096, "refused only after %zu bytes", fed);
	free(junk);
}

Test(ident_http, an_endless_head_is_cut_off)
{
	struct http_resp p;
	int rc;
	unsigned lines = 0;

	http_resp_init(&p);
	cr_assert_eq(feed_str(&p, "HTTP/1.1 200 OK\r\n"), PARSE_MORE);
	do {
		rc = feed_str(&p, "X-Filler: 0123456789012345678901234567890123456789\r\n");
		lines++;
	} while (rc == PARSE_MORE && lines < 100000);
	cr_assert_eq(rc, PARSE_E_HEAD_LONG);
	cr_assert_lt(lines, 2000);
}

Test(ident_http, a_10_mb_title_is_cut_and_reading_stops)
{
	struct http_resp p;
	size_t n = 10u << 20;
	uint8_t *big = malloc(n);

	cr_assert_not_null(big);
	memset(big, 'T', n);
	http_resp_init(&p);
	cr_assert_eq(feed_str(&p, "HTTP/1.1 200 OK\r\n\r\n<title>"), PARSE_MORE);
	int rc = PARSE_MORE;
	size_t fed = 0;
	while (rc == PARSE_MORE && fed < n) {
		rc = http_resp_feed(&p, big + fed, 65536);
		fed += 65536;
	}
	cr_assert_eq(rc, PARSE_DONE);
	cr_assert_leq(fed, (size_t)HTTP_RESP_BODY_SCAN + 65536, "read %zu bytes of the body", fed);
	cr_assert_eq(strlen(p.title), HTTP_RESP_TITLE_MAX - 1);
	cr_assert(p.title_cut);
	free(big);
}

Test(ident_http, wire_bytes_become_clean_text)
{
	struct http_resp p;

	http_resp_init(&p);
	cr_assert_eq(feed_str(&p, "HTTP/1.1 200 OK\r\nServer: a\x01" "b\r\n\r\n<title>caf\xc3\xa9 \xff\xfe\x7f ok</title>"),
		     PARSE_DONE);
	cr_assert_str_eq(p.server, "a b");
	cr_assert_str_eq(p.title, "caf\xc3\xa9 ?? ok"); /* DEL is a control byte: whitespace */
}

Test(ident_http, eof_before_the_head_ends)
{
	struct http_resp p;

	http_resp_init(&p);
	cr_assert_eq(http_resp_eof(&p), PARSE_E_EMPTY);
	http_resp_init(&p);
	cr_assert_eq(feed_str(&p, "HTTP/1.1 200 OK\r\nServer: x"), PARSE_MORE);
	cr_assert_eq(http_resp_eof(&p), PARSE_E_TRUNCATED);
}

static int ssh_str(struct ssh_banner *p, const char *s)
{
	return ssh_banner_feed(p, (const uint8_t *)s, strlen(s));
}

Test(ident_ssh, banner_line)
{
	struct ssh_banner p;
	const char *b = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n";

	ssh_banner_init(&p);
	cr_assert_eq(ssh_str(&p, b), PARSE_DONE);
	cr_assert_str_eq(p.banner, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10");
	ssh_banner_init(&p);
	int rc = PARSE_MORE;
	for (size_t i = 0; b[i] && rc == PARSE_MORE; i++)
		rc = ssh_banner_feed(&p, (const uint8_t *)b + i, 1);
	cr_assert_eq(rc, PARSE_DONE);
	cr_assert_str_eq(p.banner, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10");
}

Test(ident_ssh, lines_before_the_banner)
{
	struct ssh_banner p;

	ssh_banner_init(&p);
	cr_assert_eq(ssh_str(&p, "Welcome to the router\r\nauthorised use only\n"), PARSE_MORE);
	cr_assert_eq(ssh_str(&p, "SSH-1.99-Cisco-1.25\n"), PARSE_DONE);
	cr_assert_str_eq(p.banner, "SSH-1.99-Cisco-1.25");
}

Test(ident_ssh, binary_garbage_is_no_ssh)
{
	struct ssh_banner p;
	uint8_t junk[512];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	ssh_banner_init(&p);
	cr_assert_eq(ssh_banner_feed(&p, junk, sizeof(junk)), PARSE_E_NOT_SSH);
	ssh_banner_init(&p);
	cr_assert_eq(ssh_banner_feed(&p, (const uint8_t *)"SSH\0", 4), PARSE_E_NOT_SSH);
}

Test(ident_ssh, endless_text_is_bounded)
{
	struct ssh_banner p;
	int rc = PARSE_MORE;
	unsigned n = 0;

	ssh_banner_init(&p);
	while (rc == PARSE_MORE && n++ < 100000)
		rc = ssh_str(&p, "hello\n");
	cr_assert_eq(rc, PARSE_E_NOT_SSH);
	cr_assert_leq(n, SSH_PRE_LINES_MAX + 1);
	ssh_banner_init(&p);
	rc = PARSE_MORE;
	n = 0;
	while (rc == PARSE_MORE && n++ < 100000)
		rc = ssh_str(&p, "no newline at all ");
	cr_assert_eq(rc, PARSE_E_NOT_SSH);
	cr_assert_leq(n * 18, SSH_PRE_BYTES_MAX + 18);
}

Test(ident_ssh, an_overlong_banner_is_cut_at_255)
{
	struct ssh_banner p;
	char line[600] = "SSH-2.0-";

	memset(line + 8, 'x', 500);
	ssh_banner_init(&p);
	cr_assert_eq(ssh_str(&p, line), PARSE_DONE);
	cr_assert_eq(strlen(p.banner), SSH_BANNER_MAX - 3);
}

Test(ident_ssh, end_of_stream)
{
	struct ssh_banner p;

	ssh_banner_init(&p);
	cr_assert_eq(ssh_banner_eof(&p), PARSE_E_EMPTY);
	ssh_banner_init(&p);
	cr_assert_eq(ssh_str(&p, "SSH-2.0-dropbear"), PARSE_MORE);
	cr_assert_eq(ssh_banner_eof(&p), PARSE_DONE);
	cr_assert_str_eq(p.banner, "SSH-2.0-dropbear");
	ssh_banner_init(&p);
	cr_assert_eq(ssh_str(&p, "HTTP/1.1 400 Bad"), PARSE_MORE);
	cr_assert_eq(ssh_banner_eof(&p), PARSE_E_NOT_SSH);
}

Test(ident_text, utf8_and_cuts)
{
	char out[8];

	cr_assert_eq(ident_copy_text(out, sizeof(out), (const uint8_t *)"ab\xe2\x82\xac" "cdef", 9), 7);
	cr_assert_str_eq(out, "ab\xe2\x82\xac" "cd");
	/* A character that does not fit whole is left out, never cut. */
	cr_assert_eq(ident_copy_text(out, sizeof(out), (const uint8_t *)"abcde\xe2\x82\xac", 8), 5);
	cr_assert_str_eq(out, "abcde");
	/* Overlong forms and surrogates are invalid. */
	ident_copy_text(out, sizeof(out), (const uint8_t *)"\xc0\xaf\xed\xa0\x80", 5);
	cr_assert_str_eq(out, "?????");
}
