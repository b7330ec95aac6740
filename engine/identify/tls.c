/* SPDX-License-Identifier: MIT */
/*
 * tls.c: the TLS check: a client handshake through OpenSSL over memory BIOs, so the bytes travel
 * on the run's io_uring connection; the server certificate's subject, issuer, SANs and not-after
 * and the protocol version. Nothing is verified (SSL_VERIFY_NONE, security level 0): an expired,
 * self-signed or weak certificate is exactly what an inventory wants to see. A fatal alert from
 * the server is named (the info callback records it). Each slot keeps its SSL object and BIOs
 * across handshakes (SSL_clear), so a handshake allocates only what OpenSSL needs inside.
 */
#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TLS_IN_MAX (256u * 1024u) /* bytes of the server's flight: a certificate chain fits */

struct tls_state {
	SSL *ssl;
	BIO *rbio, *wbio;  /* owned by ssl */
	size_t in_total;
	int alert;         /* the fatal alert the server sent, or -1 */
};

struct tls_priv {
	SSL_CTX *ctx;
	BIO *names;        /* scratch for X509_NAME_print_ex */
};

static void on_info(const SSL *ssl, int where, int ret)
{
	if (where & SSL_CB_READ_ALERT) {
		struct tls_state *s = SSL_get_app_data(ssl);
		if (s && (ret >> 8) == SSL3_AL_FATAL)
			s->alert = ret & 0xff;
	}
}

/* Nothing is verified, so the chain is not even built: X509_verify_cert() would run (and its
 * result be ignored) under SSL_VERIFY_NONE alone. */
static int accept_any_chain(X509_STORE_CTX *ctx, void *arg)
{
	(void)ctx;
	(void)arg;
	return 1;
}

static int tls_init(void **priv, const struct ident_config *cfg)
{
	struct tls_priv *p = calloc(1, sizeof(*p));

	(void)cfg;
	if (!p)
		return -ENOMEM;
	p->ctx = SSL_CTX_new(TLS_client_method());
	p->names = BIO_new(BIO_s_mem());
	if (!p->ctx || !p->names) {
		SSL_CTX_free(p->ctx);
		BIO_free(p->names);
		free(p);
		return -ENOMEM;
	}
	SSL_CTX_set_verify(p->ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_cert_verify_callback(p->ctx, accept_any_chain, NULL);
	SSL_CTX_set_security_level(p->ctx, 0);
	SSL_CTX_set_min_proto_version(p->ctx, TLS1_VERSION);
	SSL_CTX_set_session_cache_mode(p->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(p->ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_info_callback(p->ctx, on_info);
	*priv = p;
	return 0;
}

static void tls_fini(void *priv)
{
	struct tls_priv *p = priv;

	if (!p)
		return;
	SSL_CTX_free(p->ctx);
	BIO_free(p->names);
	free(p);
}

/* Moves what OpenSSL wants sent into the slot's send buffer. */
static enum check_verdict flush(struct tls_state *s, struct ident_result *r, struct check_io *io)
{
	size_t pending = BIO_ctrl_pending(s->wbio);

	io->tx_len = 0;
	if (!pending)
		return CHECK_MORE;
	if (pending > io->tx_cap) {
		ident_fail(r, IDENT_E_OTHER, "TLS client flight of %zu bytes over the send buffer", pending);
		return CHECK_FAIL;
	}
	int n = BIO_read(s->wbio, io->tx, (int)pending);
	io->tx_len = n > 0 ? (size_t)n : 0;
	return CHECK_MORE;
}

static enum check_verdict tls_start(void *priv, void *st, struct ident_result *r, struct check_io *io)
{
	struct tls_priv *p = priv;
	struct tls_state *s = st;

	if (!s->ssl) {
		s->ssl = SSL_new(p->ctx);
		s->rbio = BIO_new(BIO_s_mem());
		s->wbio = BIO_new(BIO_s_mem());
		if (!s->ssl || !s->rbio || !s->wbio) {
			SSL_free(s->ssl);
			BIO_free(s->rbio);
			BIO_free(s->wbio);
			s->ssl = NULL;
			ident_fail(r, IDENT_E_OTHER, "out of memory for OpenSSL");
			return CHECK_FAIL;
		}
		BIO_set_mem_eof_return(s->rbio, -1); /* empty means "wait", not EOF */
		SSL_set_bio(s->ssl, s->rbio, s->wbio);
	} else {
		SSL_clear(s->ssl);
		BIO_reset(s->rbio);
		BIO_reset(s->wbio);
	}
	SSL_set_app_data(s->ssl, s);
	SSL_set_connect_state(s->ssl);
	s->in_total = 0;
	s->alert = -1;
	ERR_clear_error();
	if (SSL_do_handshake(s->ssl) != 1 && SSL_get_error(s->ssl, -1) != SSL_ERROR_WANT_READ) {
		ident_fail(r, IDENT_E_TLS, "%s", ERR_reason_error_string(ERR_peek_last_error()) ?: "handshake");
		ERR_clear_error();
		return CHECK_FAIL;
	}
	return flush(s, r, io);
}

static void name_text(struct tls_priv *p, const X509_NAME *name, char *dst, size_t cap)
{
	char buf[IDENT_TEXT_MAX * 4];

	dst[0] = '\0';
	if (!name)
		return;
	(void)BIO_reset(p->names);
	X509_NAME_print_ex(p->names, name, 0, XN_FLAG_RFC2253);
	int n = BIO_read(p->names, buf, sizeof(buf));
	ident_copy_text(dst, cap, (const uint8_t *)buf, n > 0 ? (size_t)n : 0);
	(void)BIO_reset(p->names);
}

static void sans_text(X509 *cert, char *dst, size_t cap)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	size_t off = 0;
	int n = gens ? sk_GENERAL_NAME_num(gens) : 0, more = 0;

	dst[0] = '\0';
	for (int i = 0; i < n; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char item[IDENT_TEXT_MAX + 8], addr[INET6_ADDRSTRLEN];
		size_t len;
		if (g->type == GEN_DNS) {
			memcpy(item, "DNS:", 4);
			len = 4 + ident_copy_text(item + 4, sizeof(item) - 4, ASN1_STRING_get0_data(g->d.dNSName),
						  (size_t)ASN1_STRING_length(g->d.dNSName));
		} else if (g->type == GEN_IPADD && (g->d.iPAddress->length == 4 || g->d.iPAddress->length == 16)) {
			inet_ntop(g->d.iPAddress->length == 4 ? AF_INET : AF_INET6, g->d.iPAddress->data, addr, sizeof(addr));
			len = (size_t)snprintf(item, sizeof(item), "IP:%s", addr);
		} else {
			continue;
		}
		for (size_t k = 0; k < len; k++)
			if (item[k] == ' ')
				item[k] = '?'; /* the list is space separated */
		/* Keep room for " +NNNNN more" after the last item that fits. */
		if (more || off + (off ? 1 : 0) + len + 16 > cap) {
			more++;
			continue;
		}
		if (off)
			dst[off++] = ' ';
		memcpy(dst + off, item, len);
		off += len;
		dst[off] = '\0';
	}
	if (more)
		snprintf(dst + off, cap - off, "%s+%d more", off ? " " : "", more);
	GENERAL_NAMES_free(gens);
}

static enum check_verdict handshake_done(struct tls_priv *p, struct tls_state *s, struct ident_result *r,
					 struct check_io *io)
{
	X509 *cert = SSL_get1_peer_certificate(s->ssl);
	struct tm tm;

	r->ttfb_us = (uint32_t)((io->now_ns - io->start_ns) / 1000u);
	snprintf(r->tls_version, sizeof(r->tls_version), "%s", SSL_get_version(s->ssl));
	io->tx_len = 0;
	if (!cert)
		return CHECK_DONE; /* anonymous cipher suites: a handshake without a certificate */
	name_text(p, X509_get_subject_name(cert), r->tls_subject, sizeof(r->tls_subject));
	name_text(p, X509_get_issuer_name(cert), r->tls_issuer, sizeof(r->tls_issuer));
	sans_text(cert, r->tls_sans, sizeof(r->tls_sans));
	if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1)
		r->tls_not_after = (int64_t)timegm(&tm);
	X509_free(cert);
	return CHECK_DONE;
}

static enum check_verdict tls_input(void *priv, void *st, const uint8_t *data, size_t len, struct ident_result *r,
				    struct check_io *io)
{
	struct tls_priv *p = priv;
	struct tls_state *s = st;

	io->tx_len = 0;
	if (!len) {
		if (s->alert >= 0)
			goto alert;
		if (s->in_total)
			ident_fail(r, IDENT_E_TLS, "closed during the handshake");
		else
			ident_fail(r, IDENT_E_CLOSED, "%s", "");
		return CHECK_FAIL;
	}
	s->in_total += len;
	if (s->in_total > TLS_IN_MAX) {
		ident_fail(r, IDENT_E_BAD_RESPONSE, "TLS server flight over %u bytes", TLS_IN_MAX);
		return CHECK_FAIL;
	}
	if (BIO_write(s->rbio, data, (int)len) != (int)len) {
		ident_fail(r, IDENT_E_OTHER, "out of memory for OpenSSL");
		return CHECK_FAIL;
	}
	ERR_clear_error();
	int rc = SSL_do_handshake(s->ssl);
	if (rc == 1)
		return handshake_done(p, s, r, io);
	int e = SSL_get_error(s->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return flush(s, r, io);
	if (s->alert >= 0)
		goto alert;
	unsigned long ec = ERR_peek_last_error();
	const char *why = ERR_reason_error_string(ec);
	/* "wrong version number", "packet length too long": not TLS at all. */
	ident_fail(r, ERR_GET_REASON(ec) == SSL_R_WRONG_VERSION_NUMBER || ERR_GET_REASON(ec) == SSL_R_PACKET_LENGTH_TOO_LONG
			      ? IDENT_E_BAD_RESPONSE : IDENT_E_TLS,
		   "%s", why ? why : "TLS handshake failed");
	ERR_clear_error();
	return CHECK_FAIL;
alert:
	ident_fail(r, IDENT_E_TLS_ALERT, "%s", SSL_alert_desc_string_long(s->alert));
	ERR_clear_error();
	return CHECK_FAIL;
}

static void tls_release(void *priv, void *st)
{
	struct tls_state *s = st;

	(void)priv;
	s->alert = -1;
}

static void tls_destroy(void *priv, void *st)
{
	struct tls_state *s = st;

	(void)priv;
	SSL_free(s->ssl); /* frees its BIOs */
	s->ssl = NULL;
}

const struct check_ops check_tls = {
	.name = "tls",
	.kind = IDENT_TLS,
	.state_size = sizeof(struct tls_state),
	.init = tls_init,
	.fini = tls_fini,
	.start = tls_start,
	.input = tls_input,
	.release = tls_release,
	.destroy = tls_destroy,
};
