/* SPDX-License-Identifier: MIT */
/*
 * ident_parse.h: the pure parsers of the service checks, apart from any I/O so that they can be
 * unit-tested and fuzzed (tests/fuzz/fuzz_http_resp.c, fuzz_ssh_banner.c): an HTTP/1.x response
 * head with a scan of the body for <title>, and an SSH identification line. Both are streaming:
 * bytes are fed as they arrive, in pieces of any size, and the state is a fixed-size struct
 * (no allocation, nothing kept beyond its limits: a 10 MB title costs the same as a short one).
 *
 * Feeding: *_feed() returns PARSE_MORE (give more bytes), PARSE_DONE (the fields are final; feed
 * nothing more) or a negative PARSE_E_* (the input is not what was asked for, or over a limit;
 * why() names it). *_eof() says what the end of the stream makes of what was fed. Threads: one
 * parser per connection, no shared state.
 */
#ifndef LNMT_IDENT_PARSE_H
#define LNMT_IDENT_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum parse_rc {
	PARSE_MORE = 0,
	PARSE_DONE = 1,
	PARSE_E_NOT_HTTP = -1,     /* the first bytes are not "HTTP/" */
	PARSE_E_STATUS = -2,       /* a status line without a 3-digit code */
	PARSE_E_LINE_LONG = -3,    /* a head line longer than HTTP_RESP_LINE_MAX */
	PARSE_E_HEAD_LONG = -4,    /* a head longer than HTTP_RESP_HEAD_MAX */
	PARSE_E_NOT_SSH = -5,      /* no "SSH-" line within the limits, or binary bytes */
	PARSE_E_TRUNCATED = -6,    /* the stream ended before the answer did */
	PARSE_E_EMPTY = -7,        /* the stream ended before any byte */
};

/* Names a PARSE_E_* ("header line over 8192 bytes"); "" for MORE and DONE. */
const char *parse_why(int rc);

#define HTTP_RESP_LINE_MAX 8192    /* one line of the head, its CRLF included */
#define HTTP_RESP_HEAD_MAX 65536   /* the whole head */
#define HTTP_RESP_BODY_SCAN 65536  /* body bytes searched for <title> before giving up */
#define HTTP_RESP_TITLE_MAX 256    /* title bytes kept, NUL included */
#define HTTP_RESP_SERVER_MAX 128

struct http_resp {
	/* results (final once feed returned PARSE_DONE, or eof returned it) */
	unsigned status;
	char server[HTTP_RESP_SERVER_MAX];   /* the Server header, cleaned; "" when absent */
	char title[HTTP_RESP_TITLE_MAX];     /* whitespace collapsed, cleaned; "" when none */
	bool has_title;
	bool title_cut;                      /* longer than the buffer: cut */
	uint64_t content_length;             /* when has_length */
	bool has_length;
	/* state */
	uint8_t phase;
	uint8_t tag_state, tag_pos;
	char tag_buf[8];                     /* the bytes of a maybe-end-tag, as they came */
	bool space_pending;
	char line[256];                      /* the first bytes of the current head line */
	size_t line_len, line_total;
	size_t head_total;
	uint64_t body_seen;
	size_t title_len;
};

void http_resp_init(struct http_resp *p);
int http_resp_feed(struct http_resp *p, const uint8_t *data, size_t len);
/* At the end of the stream: PARSE_DONE once the head was complete, else an error. */
int http_resp_eof(struct http_resp *p);

#define SSH_BANNER_MAX 256        /* the identification line, NUL included (RFC 4253: 255) */
#define SSH_PRE_LINES_MAX 32      /* other lines the server may send first (RFC 4253 4.2) */
#define SSH_PRE_BYTES_MAX 8192

struct ssh_banner {
	char banner[SSH_BANNER_MAX];  /* "SSH-2.0-..." without CR LF, cleaned; final at PARSE_DONE */
	/* state */
	char line[SSH_BANNER_MAX];
	size_t line_len, line_total;
	size_t total;
	unsigned lines;
};

void ssh_banner_init(struct ssh_banner *p);
int ssh_banner_feed(struct ssh_banner *p, const uint8_t *data, size_t len);
int ssh_banner_eof(struct ssh_banner *p);

/*
 * Copies n bytes of s into dst (cap bytes, NUL-terminated, cut at a character boundary): valid
 * UTF-8 and printable ASCII are kept, control bytes become spaces, invalid bytes '?'. For every
 * field that comes off the wire. Returns the length written.
 */
size_t ident_copy_text(char *dst, size_t cap, const uint8_t *s, size_t n);

#endif
