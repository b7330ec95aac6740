/* SPDX-License-Identifier: MIT */
/* ssh.c: the SSH check: the server's identification line (RFC 4253 4.2), nothing sent. */
#include "check.h"

#include <string.h>

struct ssh_state {
	struct ssh_banner b;
};

static int ssh_init(void **priv, const struct ident_config *cfg)
{
	(void)cfg;
	*priv = NULL;
	return 0;
}

static void ssh_fini(void *priv)
{
	(void)priv;
}

static enum check_verdict ssh_start(void *priv, void *st, struct ident_result *r, struct check_io *io)
{
	struct ssh_state *s = st;

	(void)priv;
	(void)r;
	ssh_banner_init(&s->b);
	io->tx_len = 0; /* the server speaks first */
	return CHECK_MORE;
}

static enum check_verdict ssh_input(void *priv, void *st, const uint8_t *data, size_t len, struct ident_result *r,
				    struct check_io *io)
{
	struct ssh_state *s = st;
	int rc = len ? ssh_banner_feed(&s->b, data, len) : ssh_banner_eof(&s->b);

	(void)priv;
	io->tx_len = 0;
	if (rc == PARSE_DONE) {
		memcpy(r->ssh_banner, s->b.banner, sizeof(r->ssh_banner));
		r->ttfb_us = (uint32_t)((io->now_ns - io->start_ns) / 1000u);
		return CHECK_DONE;
	}
	if (rc < 0) {
		if (rc == PARSE_E_EMPTY)
			ident_fail(r, IDENT_E_CLOSED, "%s", ""); /* "closed" says it all */
		else
			ident_fail(r, IDENT_E_BAD_RESPONSE, "%s", parse_why(rc));
		return CHECK_FAIL;
	}
	return CHECK_MORE;
}

static void ssh_release(void *priv, void *st)
{
	(void)priv;
	(void)st;
}

const struct check_ops check_ssh = {
	.name = "ssh",
	.kind = IDENT_SSH,
	.state_size = sizeof(struct ssh_state),
	.init = ssh_init,
	.fini = ssh_fini,
	.start = ssh_start,
	.input = ssh_input,
	.release = ssh_release,
};
