/* SPDX-License-Identifier: MIT */
/* http.c: the HTTP check: GET / over HTTP/1.1 with a Host header; status, Server, <title>, TTFB. */
#include "check.h"

#include "targets.h"

#include <string.h>

struct http_state {
	struct http_resp resp;
	uint64_t sent_ns;
	bool got_first;
};

/* The private pointer is the Host header's value (the config outlives the run), NULL for the
 * address itself. */
static int http_init(void **priv, const struct ident_config *cfg)
{
	*priv = (void *)cfg->http_host;
	return 0;
}

static void http_fini(void *priv)
{
	(void)priv;
}

static size_t put(uint8_t *buf, size_t off, const char *s)
{
	size_t n = strlen(s);
	memcpy(buf + off, s, n);
	return off + n;
}

static enum check_verdict http_start(void *priv, void *st, struct ident_result *r, struct check_io *io)
{
	struct http_state *s = st;
	const char *host = priv;
	char ip[16];

	http_resp_init(&s->resp);
	s->got_first = false;
	s->sent_ns = io->now_ns;
	if (!host)
		host = ipv4_format(r->ip, ip);
	if (strlen(host) > 200) {
		ident_fail(r, IDENT_E_OTHER, "Host header too long");
		return CHECK_FAIL;
	}
	/* tx_cap is at least 256 bytes plus the host's length: the run sizes it so. */
	size_t n = put(io->tx, 0, "GET / HTTP/1.1\r\nHost: ");
	n = put(io->tx, n, host);
	n = put(io->tx, n, "\r\nUser-Agent: lnmt/" LNMT_VERSION "\r\nAccept: */*\r\nConnection: close\r\n\r\n");
	io->tx_len = n;
	return CHECK_MORE;
}

static enum check_verdict finish(struct http_state *s, struct ident_result *r)
{
	r->http_status = (uint16_t)s->resp.status;
	memcpy(r->http_server, s->resp.server, sizeof(r->http_server) < sizeof(s->resp.server) ? sizeof(r->http_server)
												   : sizeof(s->resp.server));
	r->http_server[sizeof(r->http_server) - 1] = '\0';
	memcpy(r->http_title, s->resp.title, sizeof(s->resp.title) < sizeof(r->http_title) ? sizeof(s->resp.title)
											     : sizeof(r->http_title));
	r->http_title[sizeof(r->http_title) - 1] = '\0';
	return CHECK_DONE;
}

static enum check_verdict http_input(void *priv, void *st, const uint8_t *data, size_t len, struct ident_result *r,
				     struct check_io *io)
{
	struct http_state *s = st;
	int rc;

	(void)priv;
	io->tx_len = 0;
	if (!len) {
		rc = http_resp_eof(&s->resp);
		if (rc == PARSE_DONE)
			return finish(s, r);
		if (rc == PARSE_E_EMPTY)
			ident_fail(r, IDENT_E_CLOSED, "%s", ""); /* "closed" says it all */
		else
			ident_fail(r, IDENT_E_BAD_RESPONSE, "%s", parse_why(rc));
		return CHECK_FAIL;
	}
	if (!s->got_first) {
		s->got_first = true;
		r->ttfb_us = (uint32_t)((io->now_ns - s->sent_ns) / 1000u);
	}
	rc = http_resp_feed(&s->resp, data, len);
	if (rc == PARSE_DONE)
		return finish(s, r);
	if (rc < 0) {
		ident_fail(r, IDENT_E_BAD_RESPONSE, "%s", parse_why(rc));
		return CHECK_FAIL;
	}
	return CHECK_MORE;
}

static void http_release(void *priv, void *st)
{
	(void)priv;
	(void)st;
}

const struct check_ops check_http = {
	.name = "http",
	.kind = IDENT_HTTP,
	.state_size = sizeof(struct http_state),
	.init = http_init,
	.fini = http_fini,
	.start = http_start,
	.input = http_input,
	.release = http_release,
};
