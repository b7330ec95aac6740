/* SPDX-License-Identifier: MIT */
/* ident_parse.c: the streaming HTTP response head + <title> parser and the SSH banner parser. */
#include "ident_parse.h"

#include <string.h>

enum { P_STATUS, P_HEAD, P_BODY, P_DONE };
enum { T_SEEK, T_ATTR, T_ATTRSKIP, T_IN, T_END, T_ENDGT };

static const char open_tag[] = "<title";
static const char close_tag[] = "</title";

const char *parse_why(int rc)
{
	switch (rc) {
	case PARSE_E_NOT_HTTP: return "not an HTTP response";
	case PARSE_E_STATUS: return "bad HTTP status line";
	case PARSE_E_LINE_LONG: return "HTTP header line over 8192 bytes";
	case PARSE_E_HEAD_LONG: return "HTTP head over 65536 bytes";
	case PARSE_E_NOT_SSH: return "not an SSH identification line";
	case PARSE_E_TRUNCATED: return "closed in the middle of the answer";
	case PARSE_E_EMPTY: return "closed without a byte";
	default: return "";
	}
}

static inline char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static inline bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid or incomplete. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];
	size_t len;
	uint8_t lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

size_t ident_copy_text(char *dst, size_t cap, const uint8_t *s, size_t n)
{
	size_t out = 0;

	if (!cap)
		return 0;
	for (size_t i = 0; i < n;) {
		uint8_t c = s[i];
		if (c < 0x80) {
			if (out + 1 >= cap)
				break;
			dst[out++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
			i++;
			continue;
		}
		size_t len = utf8_len(s + i, n - i);
		if (!len) {
			if (out + 1 >= cap)
				break;
			dst[out++] = '?';
			i++;
			continue;
		}
		if (out + len >= cap)
			break;
		memcpy(dst + out, s + i, len);
		out += len;
		i += len;
	}
	dst[out] = '\0';
	return out;
}

/* ---- HTTP ---- */

void http_resp_init(struct http_resp *p)
{
	memset(p, 0, sizeof(*p));
}

static void trim_copy(char *dst, size_t cap, const char *s, size_t n)
{
	while (n && is_space((uint8_t)*s)) {
		s++;
		n--;
	}
	while (n && is_space((uint8_t)s[n - 1]))
		n--;
	ident_copy_text(dst, cap, (const uint8_t *)s, n);
}

static bool header_is(const char *line, size_t len, const char *name, size_t *value)
{
	size_t n = strlen(name);

	if (len <= n || line[n] != ':')
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(line[i]) != name[i])
			return false;
	*value = n + 1;
	return true;
}

static int status_line(struct http_resp *p)
{
	const char *l = p->line;
	size_t n = p->line_len, i = 5;

	if (n < 5 || memcmp(l, "HTTP/", 5) != 0)
		return PARSE_E_NOT_HTTP;
	while (i < n && l[i] != ' ')
		i++;
	while (i < n && l[i] == ' ')
		i++;
	if (i + 3 > n || l[i] < '1' || l[i] > '9' || l[i + 1] < '0' || l[i + 1] > '9' || l[i + 2] < '0' ||
	    l[i + 2] > '9' || (i + 3 < n && l[i + 3] != ' '))
		return PARSE_E_STATUS;
	p->status = (unsigned)((l[i] - '0') * 100 + (l[i + 1] - '0') * 10 + (l[i + 2] - '0'));
	return PARSE_MORE;
}

static void header_line(struct http_resp *p)
{
	size_t v;

	if (header_is(p->line, p->line_len, "server", &v)) {
		trim_copy(p->server, sizeof(p->server), p->line + v, p->line_len - v);
	} else if (header_is(p->line, p->line_len, "content-length", &v)) {
		uint64_t n = 0;
		bool any = false;
		size_t i = v;
		while (i < p->line_len && p->line[i] == ' ')
			i++;
		for (; i < p->line_len && p->line[i] >= '0' && p->line[i] <= '9'; i++) {
			if (n > (UINT64_MAX - 9) / 10)
				return;
			n = n * 10 + (uint64_t)(p->line[i] - '0');
			any = true;
		}
		if (any) {
			p->content_length = n;
			p->has_length = true;
		}
	}
}

/* The head's blank line: a body follows, or (1xx) another head. */
static int head_end(struct http_resp *p)
{
	if (p->status >= 100 && p->status < 200 && p->status != 101) {
		p->phase = P_STATUS; /* an interim response: the real one follows */
		p->server[0] = '\0';
		p->has_length = false;
		return PARSE_MORE;
	}
	if (p->status == 204 || p->status == 304 || p->status == 101 || (p->has_length && p->content_length == 0)) {
		p->phase = P_DONE;
		return PARSE_DONE;
	}
	p->phase = P_BODY;
	return PARSE_MORE;
}

static void title_put(struct http_resp *p, uint8_t c)
{
	if (is_space(c) || c < 0x20 || c == 0x7f) {
		p->space_pending = p->title_len > 0;
		return;
	}
	if (p->space_pending) {
		p->space_pending = false;
		if (p->title_len + 1 < sizeof(p->title))
			p->title[p->title_len++] = ' ';
		else
			p->title_cut = true;
	}
	if (p->title_len + 1 < sizeof(p->title))
		p->title[p->title_len++] = (char)c;
	else
		p->title_cut = true;
}

static void title_finish(struct http_resp *p)
{
	uint8_t raw[HTTP_RESP_TITLE_MAX];

	memcpy(raw, p->title, p->title_len);
	ident_copy_text(p->title, sizeof(p->title), raw, p->title_len);
	p->has_title = true;
	p->phase = P_DONE;
}

/* One body byte through the <title> scanner; true once the title is complete. */
static bool title_byte(struct http_resp *p, uint8_t c)
{
	for (;;) {
		switch (p->tag_state) {
		case T_SEEK:
			if (lower((char)c) == open_tag[p->tag_pos]) {
				if (++p->tag_pos == sizeof(open_tag) - 1) {
					p->tag_state = T_ATTR;
					p->tag_pos = 0;
				}
				return false;
			}
			if (p->tag_pos) {
				p->tag_pos = 0;
				continue; /* the byte may start a new "<title" */
			}
			return false;
		case T_ATTR:
			if (c == '>') {
				p->tag_state = T_IN;
			} else if (is_space(c)) {
				p->tag_state = T_ATTRSKIP;
			} else {
				p->tag_state = T_SEEK; /* <titlex>: another tag */
				continue;
			}
			return false;
		case T_ATTRSKIP:
			if (c == '>')
				p->tag_state = T_IN;
			return false;
		case T_IN:
			if (c == '<') {
				p->tag_state = T_END;
				p->tag_buf[0] = '<';
				p->tag_pos = 1;
				return false;
			}
			title_put(p, c);
			return false;
		case T_END:
			if (lower((char)c) == close_tag[p->tag_pos]) {
				p->tag_buf[p->tag_pos] = (char)c;
				if (++p->tag_pos == sizeof(close_tag) - 1)
					p->tag_state = T_ENDGT;
				return false;
			}
			/* Not the end tag: what matched so far is title text. */
			for (unsigned i = 0; i < p->tag_pos; i++)
				title_put(p, (uint8_t)p->tag_buf[i]);
			p->tag_state = T_IN;
			p->tag_pos = 0;
			continue;
		case T_ENDGT:
			/* "</title" must end the tag's name: "</titlex>" is text. */
			if (c == '>' || is_space(c) || c == '/') {
				title_finish(p);
				return true;
			}
			for (unsigned i = 0; i < sizeof(close_tag) - 1; i++)
				title_put(p, (uint8_t)p->tag_buf[i]);
			p->tag_state = T_IN;
			p->tag_pos = 0;
			continue;
		default:
			return false;
		}
	}
}

int http_resp_feed(struct http_resp *p, const uint8_t *data, size_t len)
{
	size_t i = 0;
	int rc;

	while (i < len) {
		if (p->phase == P_DONE)
			return PARSE_DONE;
		if (p->phase == P_BODY) {
			for (; i < len; i++) {
				p->body_seen++;
				if (title_byte(p, data[i]))
					return PARSE_DONE;
				if (p->body_seen >= HTTP_RESP_BODY_SCAN || (p->has_length && p->body_seen >= p->content_length)) {
					if (p->tag_state >= T_IN)
						title_finish(p); /* a title cut off by the end of what we read */
					p->phase = P_DONE;
					return PARSE_DONE;
				}
			}
			return PARSE_MORE;
		}
		uint8_t c = data[i++];
		if (++p->head_total > HTTP_RESP_HEAD_MAX)
			return PARSE_E_HEAD_LONG;
		if (c != '\n') {
			if (++p->line_total > HTTP_RESP_LINE_MAX)
				return PARSE_E_LINE_LONG;
			if (p->phase == P_STATUS && p->line_total <= 5 && c != (uint8_t)"HTTP/"[p->line_total - 1])
				return PARSE_E_NOT_HTTP; /* an SSH or TLS server, or garbage: say so at once */
			if (p->line_len < sizeof(p->line) - 1)
				p->line[p->line_len++] = (char)c;
			continue;
		}
		if (p->line_len && p->line[p->line_len - 1] == '\r')
			p->line_len--;
		p->line[p->line_len] = '\0';
		if (p->phase == P_STATUS) {
			if ((rc = status_line(p)) < 0)
				return rc;
			p->phase = P_HEAD;
		} else if (p->line_len == 0) {
			if ((rc = head_end(p)) != PARSE_MORE)
				return rc;
		} else {
			header_line(p);
		}
		p->line_len = p->line_total = 0;
	}
	return p->phase == P_DONE ? PARSE_DONE : PARSE_MORE;
}

int http_resp_eof(struct http_resp *p)
{
	if (p->phase == P_BODY) {
		if (p->tag_state >= T_IN)
			title_finish(p);
		p->phase = P_DONE;
	}
	if (p->phase == P_DONE)
		return PARSE_DONE;
	return p->head_total == 0 ? PARSE_E_EMPTY : PARSE_E_TRUNCATED;
}

/* ---- SSH ---- */

void ssh_banner_init(struct ssh_banner *p)
{
	memset(p, 0, sizeof(*p));
}

static bool line_is_ssh(const struct ssh_banner *p)
{
	return p->line_len >= 4 && memcmp(p->line, "SSH-", 4) == 0;
}

static int banner_done(struct ssh_banner *p)
{
	size_t n = p->line_len;

	if (n && p->line[n - 1] == '\r')
		n--;
	ident_copy_text(p->banner, sizeof(p->banner), (const uint8_t *)p->line, n);
	return PARSE_DONE;
}

int ssh_banner_feed(struct ssh_banner *p, const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t c = data[i];
		if (++p->total > SSH_PRE_BYTES_MAX)
			return PARSE_E_NOT_SSH;
		if (c == '\n') {
			if (line_is_ssh(p))
				return banner_done(p);
			if (++p->lines > SSH_PRE_LINES_MAX)
				return PARSE_E_NOT_SSH;
			p->line_len = p->line_total = 0;
			continue;
		}
		/* Text lines only: NUL and other control bytes mean this is no SSH server. */
		if ((c < 0x20 && c != '\r' && c != '\t') || c == 0x7f)
			return PARSE_E_NOT_SSH;
		p->line_total++;
		if (p->line_len < sizeof(p->line) - 1)
			p->line[p->line_len++] = (char)c;
		/* RFC 4253: the identification line is at most 255 bytes with its CR LF. */
		if (line_is_ssh(p) && p->line_total >= SSH_BANNER_MAX - 3)
			return banner_done(p);
	}
	return PARSE_MORE;
}

int ssh_banner_eof(struct ssh_banner *p)
{
	if (line_is_ssh(p))
		return banner_done(p);
	return p->total == 0 ? PARSE_E_EMPTY : PARSE_E_NOT_SSH;
}
