/* SPDX-License-Identifier: MIT */
/*
 * test_conn.c: the io_uring connection engine (io/conn.h) and ident_run() against servers this
 * test starts on 127.0.0.1: connect, send, recv, refused, deadlines, thousands of connections
 * through a few hundred slots, and the bad inputs a check must survive (a 10 MB title, binary
 * garbage on an SSH port, a reset, a silent server, a certificate with 1,000 SANs).
 */
#include "check.h"
#include "conn.h"
#include "ident.h"
#include "clock.h"

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LOOPBACK 0x7f000001u

enum srv_mode { SRV_HELLO, SRV_SILENT, SRV_RESET, SRV_BIG_TITLE, SRV_GARBAGE, SRV_TLS };

struct server {
	int fd;
	uint16_t port;
	enum srv_mode mode;
	pthread_t thr;
	SSL_CTX *tls;
	int held[64];
	unsigned n_held;
};

static void serve_one(struct server *s, int c)
{
	char buf[4096];

	switch (s->mode) {
	case SRV_HELLO:
		send(c, "hello\n", 6, MSG_NOSIGNAL);
		break;
	case SRV_SILENT:
		if (s->n_held < 64) {
			s->held[s->n_held++] = c;
			return;
		}
		break;
	case SRV_RESET: {
		struct linger lg = { 1, 0 };
		if (recv(c, buf, sizeof(buf), 0) < 0) {
			/* reset anyway */
		}
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		break;
	}
	case SRV_BIG_TITLE: {
		static const char head[] = "HTTP/1.1 200 OK\r\nServer: big/1\r\n\r\n<html><title>";
		if (send(c, head, sizeof(head) - 1, MSG_NOSIGNAL) < 0)
			break;
		memset(buf, 'A', sizeof(buf));
		for (int i = 0; i < 10 * 256; i++) /* 10 MiB, or until the client has had enough */
			if (send(c, buf, sizeof(buf), MSG_NOSIGNAL) < 0)
				break;
		break;
	}
	case SRV_GARBAGE:
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (char)(i * 131 + 7);
		send(c, buf, sizeof(buf), MSG_NOSIGNAL);
		break;
	case SRV_TLS: {
		SSL *ssl = SSL_new(s->tls);
		SSL_set_fd(ssl, c);
		SSL_accept(ssl); /* the client closes once it has the certificate */
		SSL_free(ssl);
		ERR_clear_error();
		break;
	}
	}
	close(c);
}

static void *server_main(void *arg)
{
	struct server *s = arg;
	int c;

	while ((c = accept(s->fd, NULL, NULL)) >= 0)
		serve_one(s, c);
	return NULL;
}

static void server_start(struct server *s, enum srv_mode mode)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(LOOPBACK) };
	socklen_t len = sizeof(sa);

	s->mode = mode;
	s->n_held = 0;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(s->fd, 0);
	cr_assert_eq(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind: %s", strerror(errno));
	cr_assert_eq(listen(s->fd, 4096), 0);
	cr_assert_eq(getsockname(s->fd, (struct sockaddr *)&sa, &len), 0);
	s->port = ntohs(sa.sin_port);
	cr_assert_eq(pthread_create(&s->thr, NULL, server_main, s), 0);
}

static void server_stop(struct server *s)
{
	shutdown(s->fd, SHUT_RDWR); /* accept() fails: the thread ends */
	pthread_join(s->thr, NULL);
	close(s->fd);
	for (unsigned i = 0; i < s->n_held; i++)
		close(s->held[i]);
}

/* A port on 127.0.0.1 where nothing listens. */
static uint16_t closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* ---- the engine itself ---- */

struct client {
	struct conn_loop *l;
	unsigned done, opened, want;
	int last_connect, last_recv;
	size_t got;
	char data[64];
	uint16_t port;
	uint64_t deadline_ns;
};

static void client_event(void *ctx, unsigned slot, enum conn_event ev, int res)
{
	struct client *c = ctx;

	switch (ev) {
	case CONN_EV_CONNECTED:
		c->last_connect = res;
		if (res < 0 || conn_recv(c->l, slot)) {
			conn_close(c->l, slot);
			c->done++;
		}
		return;
	case CONN_EV_RECEIVED:
		c->last_recv = res;
		if (res > 0) {
			if (c->got + (size_t)res < sizeof(c->data))
				memcpy(c->data + c->got, conn_rx(c->l, slot), (size_t)res);
			c->got += (size_t)res;
			if (conn_recv(c->l, slot) == 0)
				return;
		}
		conn_close(c->l, slot);
		c->done++;
		return;
	default:
		return;
	}
}

static void client_run(struct client *c, unsigned total)
{
	uint64_t give_up = clock_now_ns() + 60000000000ull;
	unsigned slot;

	while (c->done < total) {
		while (c->opened < total && conn_open(c->l, LOOPBACK, c->port, c->deadline_ns ? c->deadline_ns : clock_now_ns() + 10000000000ull, &slot) == 0)
			c->opened++;
		cr_assert_geq(conn_loop_run(c->l, 100000000), 0);
		cr_assert_lt(clock_now_ns(), give_up, "still %u of %u connections open after 60 s", total - c->done, total);
	}
	/* Closed slots come back once their last completions are in. */
	while (conn_loop_busy(c->l) && clock_now_ns() < give_up)
		conn_loop_run(c->l, 10000000);
}

static struct conn_loop *new_loop(struct client *c, unsigned slots)
{
	struct conn_loop_config cfg = { .slots = slots, .rx_size = 1024, .tx_size = 1024 };
	int rc = conn_loop_new(&c->l, &cfg, client_event, c);
	if (rc == -ENOSYS || rc == -EPERM)
		cr_skip_test("io_uring is not available here: %s", strerror(-rc));
	cr_assert_eq(rc, 0, "conn_loop_new: %s", strerror(-rc));
	return c->l;
}

Test(conn, connect_and_receive_until_eof)
{
	struct server s;
	struct client c = { 0 };

	server_start(&s, SRV_HELLO);
	new_loop(&c, 4);
	c.port = s.port;
	client_run(&c, 1);
	cr_assert_eq(c.last_connect, 0);
	cr_assert_eq(c.last_recv, 0, "the last recv sees the server's FIN");
	cr_assert_eq(c.got, 6);
	cr_assert_eq(memcmp(c.data, "hello\n", 6), 0);
	cr_assert_eq(conn_loop_free_slots(c.l), 4);
	conn_loop_free(c.l);
	server_stop(&s);
}

Test(conn, refused)
{
	struct client c = { 0 };

	new_loop(&c, 4);
	c.port = closed_port();
	client_run(&c, 1);
	cr_assert_eq(c.last_connect, -ECONNREFUSED, "got %d", c.last_connect);
	conn_loop_free(c.l);
}

Test(conn, the_deadline_ends_a_silent_connection)
{
	struct server s;
	struct client c = { 0 };

	server_start(&s, SRV_SILENT);
	new_loop(&c, 4);
	c.port = s.port;
	c.deadline_ns = clock_now_ns() + 200000000ull;
	client_run(&c, 1);
	cr_assert_eq(c.last_connect, 0);
	cr_assert_eq(c.last_recv, -ETIMEDOUT, "got %d", c.last_recv);
	cr_assert_geq(clock_now_ns(), c.deadline_ns, "ended before its deadline");
	conn_loop_free(c.l);
	server_stop(&s);
}

Test(conn, thousands_of_connections_through_few_slots)
{
	struct server s;
	struct client c = { 0 };

	server_start(&s, SRV_HELLO);
	new_loop(&c, 256);
	c.port = s.port;
	client_run(&c, 3000);
	cr_assert_eq(c.done, 3000);
	cr_assert_eq(c.got, 3000 * 6, "every connection got its 6 bytes");
	cr_assert_eq(conn_loop_free_slots(c.l), 256);
	unsigned slot;
	cr_assert_eq(conn_open(c.l, LOOPBACK, s.port, clock_now_ns() + 1000000000ull, &slot), 0);
	conn_loop_free(c.l); /* with one still open: it is aborted */
	server_stop(&s);
}

Test(conn, bad_config)
{
	struct conn_loop *l;
	struct conn_loop_config cfg = { .slots = 0, .rx_size = 1024, .tx_size = 1024 };

	cr_assert_eq(conn_loop_new(&l, &cfg, client_event, NULL), -EINVAL);
	cfg.slots = 4;
	cfg.rx_size = 10;
	cr_assert_eq(conn_loop_new(&l, &cfg, client_event, NULL), -EINVAL);
}

/* ---- ident_run on loopback ---- */

struct collected {
	pthread_mutex_t lock;
	struct ident_result r[16];
	unsigned n;
};

static void collect(void *ctx, const struct ident_result *r)
{
	struct collected *c = ctx;
	pthread_mutex_lock(&c->lock);
	if (c->n < 16)
		c->r[c->n] = *r;
	c->n++;
	pthread_mutex_unlock(&c->lock);
}

static struct ident_result run_one(uint16_t port, const struct check_ops *check, uint64_t timeout_ns)
{
	struct target_set ts;
	char err[256];
	struct collected col = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct ident_config cfg = { .targets = &ts, .n_ports = 1, .concurrency = 4, .timeout_ns = timeout_ns };
	struct ident_sink sink = { .result = collect, .ctx = &col };
	struct ident_stats st;

	target_set_init(&ts);
	cr_assert_eq(target_set_add(&ts, "127.0.0.1", err, sizeof(err)), 0);
	cr_assert_eq(target_set_finalize(&ts), 0);
	cfg.ports[0].port = port;
	cfg.ports[0].check = check;
	int rc = ident_run(&cfg, &sink, NULL, &st, err, sizeof(err));
	if (rc == -ENOSYS || rc == -EPERM)
		cr_skip_test("io_uring is not available here: %s", err);
	cr_assert_eq(rc, 0, "ident_run: %s", err);
	cr_assert_eq(col.n, 1, "one result per check, got %u", col.n);
	cr_assert_eq(st.checks, 1);
	target_set_fini(&ts);
	return col.r[0];
}

Test(ident_run, a_10_mb_title_is_cut_off)
{
	struct server s;

	server_start(&s, SRV_BIG_TITLE);
	struct ident_result r = run_one(s.port, &check_http, 5000000000ull);
	server_stop(&s);
	cr_assert_eq(r.error, IDENT_OK, "error %s: %s", ident_error_name(r.error), r.error_detail);
	cr_assert_eq(r.http_status, 200);
	cr_assert_str_eq(r.http_server, "big/1");
	cr_assert_eq(strlen(r.http_title), HTTP_RESP_TITLE_MAX - 1);
	cr_assert_eq(r.http_title[0], 'A');
}

Test(ident_run, binary_garbage_on_an_ssh_port)
{
	struct server s;

	server_start(&s, SRV_GARBAGE);
	struct ident_result r = run_one(s.port, &check_ssh, 5000000000ull);
	server_stop(&s);
	cr_assert_eq(r.error, IDENT_E_BAD_RESPONSE, "error %s", ident_error_name(r.error));
	cr_assert_str_eq(r.error_detail, "not an SSH identification line");
	cr_assert(r.connected);
	cr_assert_str_eq(r.ssh_banner, "");
}

Test(ident_run, garbage_is_no_http_either)
{
	struct server s;

	server_start(&s, SRV_GARBAGE);
	struct ident_result r = run_one(s.port, &check_http, 5000000000ull);
	server_stop(&s);
	cr_assert_eq(r.error, IDENT_E_BAD_RESPONSE, "error %s", ident_error_name(r.error));
}

Test(ident_run, silent_reset_refused)
{
	struct server s;

	server_start(&s, SRV_SILENT);
	struct ident_result r = run_one(s.port, &check_http, 300000000ull);
	server_stop(&s);
	cr_assert_eq(r.error, IDENT_E_TIMEOUT, "error %s", ident_error_name(r.error));
	cr_assert(r.connected);

	server_start(&s, SRV_RESET);
	r = run_one(s.port, &check_http, 5000000000ull);
	server_stop(&s);
	cr_assert_eq(r.error, IDENT_E_RESET, "error %s: %s", ident_error_name(r.error), r.error_detail);

	r = run_one(closed_port(), &check_tls, 5000000000ull);
	cr_assert_eq(r.error, IDENT_E_REFUSED, "error %s", ident_error_name(r.error));
	cr_assert_not(r.connected);
}

/* A self-signed ECDSA certificate for CN=many.test with n DNS names. */
static SSL_CTX *tls_server_ctx(int n)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	size_t cap = (size_t)n * 24 + 16, off = 0;
	char *sans = malloc(cap);

	cr_assert(key && x && ctx && sans);
	for (int i = 0; i < n; i++)
		off += (size_t)snprintf(sans + off, cap - off, "%sDNS:h%d.many.test", i ? "," : "", i);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	ASN1_TIME_set(X509_getm_notAfter(x), 2000000000); /* 2033-05-18T03:33:20Z */
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"many.test", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, sans);
	cr_assert_not_null(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	cr_assert(X509_sign(x, key, EVP_sha256()) > 0);
	cr_assert_eq(SSL_CTX_use_certificate(ctx, x), 1);
	cr_assert_eq(SSL_CTX_use_PrivateKey(ctx, key), 1);
	X509_free(x);
	EVP_PKEY_free(key);
	free(sans);
	return ctx;
}

Test(ident_run, a_certificate_with_1000_sans)
{
	struct server s;

	s.tls = tls_server_ctx(1000);
	server_start(&s, SRV_TLS);
	struct ident_result r = run_one(s.port, &check_tls, 5000000000ull);
	server_stop(&s);
	SSL_CTX_free(s.tls);
	cr_assert_eq(r.error, IDENT_OK, "error %s: %s", ident_error_name(r.error), r.error_detail);
	cr_assert_str_eq(r.tls_subject, "CN=many.test");
	cr_assert_str_eq(r.tls_issuer, "CN=many.test");
	cr_assert_eq(r.tls_not_after, 2000000000);
	cr_assert_str_eq(r.tls_version, "TLSv1.3");
	cr_assert_eq(strncmp(r.tls_sans, "DNS:h0.many.test DNS:h1.many.test ", 34), 0, "%s", r.tls_sans);
	cr_assert_lt(strlen(r.tls_sans), IDENT_SANS_MAX);
	cr_assert_not_null(strstr(r.tls_sans, " more"), "the cut says how many are left out: %s", r.tls_sans);
}

Test(ident_run, a_stop_drops_what_is_in_flight_and_returns)
{
	struct server s;
	struct target_set ts;
	char err[256];
	struct collected col = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct ident_config cfg = { .targets = &ts, .n_ports = 1, .concurrency = 4, .timeout_ns = 600000000000ull };
	struct ident_sink sink = { .result = collect, .ctx = &col };
	struct ident_stats st;
	volatile sig_atomic_t stop = 1;

	server_start(&s, SRV_SILENT);
	target_set_init(&ts);
	cr_assert_eq(target_set_add(&ts, "127.0.0.1", err, sizeof(err)), 0);
	cr_assert_eq(target_set_finalize(&ts), 0);
	cfg.ports[0].port = s.port;
	cfg.ports[0].check = &check_http;
	/* A check that could wait 10 minutes: the stop must end the run at once, reporting nothing. */
	cr_assert_eq(ident_run(&cfg, &sink, &stop, &st, err, sizeof(err)), 0, "%s", err);
	cr_assert(st.stopped);
	cr_assert_eq(col.n, 0);
	target_set_fini(&ts);
	server_stop(&s);
}
