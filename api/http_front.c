/* SPDX-License-Identifier: MIT */
/*
 * http_front.c: lnmt-http's listening socket, in front of libmicrohttpd: every new connection
 * waits here until its request head is complete and checked, and every connection has a
 * deadline for its request; the client log lines are rate-limited and counted for /metrics.
 *
 * Why a front of our own (libmicrohttpd 0.9.75, as Debian 12 ships it; connection.c, daemon.c):
 *  - what its parser refuses (a bad version: 505; a head over its memory pool: 414/431; a
 *    malformed or huge Content-Length: 400/413) it answers with HTML compiled into the library
 *    (transmit_error_response_len), and no option or callback reaches those answers; a first
 *    line without a space (any garbage) it closes without a word, and bytes that are no line at
 *    all it waits on until the idle timeout;
 *  - its MHD_OPTION_CONNECTION_TIMEOUT is an idle timeout: every byte received restarts it
 *    (MHD_update_last_activity_), so a client that trickles one header a second keeps its
 *    connection, and its pool, forever; the library has no deadline for a request;
 *  - it logs every client error it meets (MHD_DLOG), one line each.
 * So the front accepts, reads each new connection's input with MSG_PEEK (nothing consumed:
 * libmicrohttpd later reads the same bytes) until http_head_check (http_parse.c) accepts the head,
 * then hands the socket over with MHD_add_connection (MHD_USE_NO_LISTEN_SOCKET). It answers a
 * refused head itself, as the project's JSON error, then closes lingering (drains what the client
 * still sends for up to LINGER_MS so that the answer is not lost to a reset). A head not complete
 * TIMEOUT seconds after the connection was accepted gets 408 and is closed. A slow client costs
 * the front a small slot and its socket buffer, never a libmicrohttpd pool.
 *
 * A connection keeps one deadline while libmicrohttpd serves it: its request (head and body) must
 * be in TIMEOUT seconds after it was accepted, or after the previous answer on it was completed
 * (keep-alive). http_front_busy() lifts the deadline while a request is answered (server-sent
 * events may last for hours), http_front_completed() sets it again. The front's thread checks
 * the deadlines every SCAN_MS and shuts a late connection down (shutdown(2): libmicrohttpd then
 * reads the end of the stream and closes it itself). The socket is only touched between
 * libmicrohttpd's MHD_CONNECTION_NOTIFY_STARTED and _CLOSED, under a mutex that _CLOSED takes
 * too, and libmicrohttpd closes the descriptor only after _CLOSED returns, so a shutdown can never
 * hit a descriptor number that has been reused.
 *
 * What stays libmicrohttpd's: the heads of the second and later requests on a keep-alive
 * connection are read by it directly (their bytes never pass the front, and copying every byte
 * through a relay would cost the keep-alive path its speed). For those, the URI log callback
 * refuses NUL and invalid escapes, http_server.c's request callback refuses duplicate
 * Content-Length, Transfer-Encoding and a missing Host, all as JSON, and the deadline above holds;
 * only a malformed line of such a head (a bad version, a broken header line, over the pool) still
 * gets libmicrohttpd's HTML answer, and the connection is closed after it.
 */
#include "http_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define SCAN_MS 100             /* how often deadlines are checked */
#define LINGER_MS 2000          /* how long a refused connection is drained before it is closed */
#define LOG_WINDOW_US (10 * 1000000ull)
#define LOG_LINES 5             /* client log lines per window; the rest are counted */

enum conn_state {
	C_FREE,
	C_HEAD,      /* the front waits for the head */
	C_LINGER,    /* the front answered and drains the connection before closing it */
	C_PENDING,   /* handed to libmicrohttpd, not started by it yet */
	C_WAIT,      /* libmicrohttpd's; a request is expected by the deadline */
	C_BUSY,      /* libmicrohttpd's; a request is being answered (no deadline) */
};

/* One socket, indexed by its descriptor. */
struct conn {
	_Atomic uint8_t state;
	bool shut;                      /* shut down by the deadline already */
	_Atomic uint64_t deadline_us;   /* http_mono_us() */
	uint64_t t0_us;                 /* when it was accepted */
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} addr;
	socklen_t addr_len;
};

static const char *const event_names[HTTP_EV_COUNT] = {
	[HTTP_EV_HEAD_TIMEOUT] = "head_timeout",
	[HTTP_EV_REQUEST_TIMEOUT] = "request_timeout",
	[HTTP_EV_REFUSED] = "refused",
	[HTTP_EV_CLIENT_GONE] = "client_gone",
	[HTTP_EV_OVER_LIMIT] = "over_limit",
	[HTTP_EV_LIBRARY] = "library_message",
};

struct http_front {
	int lfd, ep, wake;
	unsigned port;
	uint64_t timeout_us;
	struct MHD_Daemon *mhd;
	pthread_t thread;
	bool running, accept_paused;
	atomic_bool stop;
	struct conn *conns;
	int nconns, max_fd;             /* size of conns; the highest descriptor seen */
	atomic_uint held;               /* connections in C_HEAD or C_LINGER */
	atomic_int served;              /* connections libmicrohttpd has started and not closed */
	pthread_mutex_t mu;             /* C_WAIT shutdowns against _CLOSED */
	atomic_uint_fast64_t events[HTTP_EV_COUNT];
	pthread_mutex_t log_mu;
	uint64_t log_window_us;
	unsigned log_lines;
	uint64_t log_dropped, log_dropped_total;
	char buf[HTTP_HEAD_MAX + 1];    /* the front's thread's peek buffer */
};

/* ---- the client log ---- */

static void vlog_limited(struct http_front *f, const char *prefix, const char *fmt, va_list ap)
{
	pthread_mutex_lock(&f->log_mu);
	uint64_t now = http_mono_us();
	if (now - f->log_window_us >= LOG_WINDOW_US) {
		if (f->log_dropped)
			fprintf(stderr, "lnmt-http: %" PRIu64 " more client log lines in the last %llu s not written "
					"(counted in /metrics: lnmt_http_client_events_total, lnmt_http_log_lines_dropped_total)\n",
				f->log_dropped, LOG_WINDOW_US / 1000000);
		f->log_window_us = now;
		f->log_lines = 0;
		f->log_dropped = 0;
	}
	if (f->log_lines < LOG_LINES) {
		f->log_lines++;
		char line[512];
		vsnprintf(line, sizeof(line), fmt, ap);
		size_t n = strlen(line);
		while (n && line[n - 1] == '\n')
			line[--n] = '\0';
		fprintf(stderr, "%s%s\n", prefix, line);
	} else {
		f->log_dropped++;
		f->log_dropped_total++;
	}
	pthread_mutex_unlock(&f->log_mu);
}

void http_front_log(struct http_front *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog_limited(f, "lnmt-http: ", fmt, ap);
	va_end(ap);
}

void http_front_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_front *f = cls;
	atomic_fetch_add(&f->events[HTTP_EV_LIBRARY], 1);
	vlog_limited(f, "lnmt-http: libmicrohttpd: ", fmt, ap);
}

void http_front_count(struct http_front *f, enum http_event ev)
{
	atomic_fetch_add_explicit(&f->events[ev], 1, memory_order_relaxed);
}

/* ---- connections held by the front ---- */

static const char *peer(const struct conn *c, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (c->addr.sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &c->addr.in6.sin6_addr, host, sizeof(host));
		port = ntohs(c->addr.in6.sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
	} else {
		inet_ntop(AF_INET, &c->addr.in.sin_addr, host, sizeof(host));
		port = ntohs(c->addr.in.sin_port);
		snprintf(buf, len, "%s:%u", host, port);
	}
	return buf;
}

static void close_held(struct http_front *f, int fd)
{
	atomic_store(&f->conns[fd].state, C_FREE);
	f->held--;
	close(fd); /* leaves the epoll set too: the descriptor is not shared */
}

/* Reads and drops what the client sent; false when it has closed its side or failed. */
static bool drain(struct http_front *f, int fd)
{
	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(fd, f->buf, sizeof(f->buf), MSG_DONTWAIT);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
	}
	return true;
}

/* Answers a head the front refuses (or that came too late) with the JSON error, then lingers. */
static void refuse(struct http_front *f, int fd, unsigned status, const char *msg, enum http_event ev)
{
	struct conn *c = &f->conns[fd];
	size_t blen = 0;
	char *body = http_error_text(status, msg, &blen);
	char head[256];
	int hn = snprintf(head, sizeof(head),
			  "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
			  "Connection: close\r\nContent-Length: %zu\r\n\r\n",
			  status, MHD_get_reason_phrase_for(status), body ? blen : 0);
	struct iovec iov[2] = { { head, (size_t)hn }, { body, body ? blen : 0 } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	/* a few hundred bytes into an empty socket buffer: one call sends it all */
	(void)!sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	free(body);
	uint64_t now = http_mono_us();
	http_observe(status, now - c->t0_us);
	http_front_count(f, ev);
	char who[64];
	http_front_log(f, "%u to %s: %s", status, peer(c, who, sizeof(who)), msg);
	if (!drain(f, fd)) {
		close_held(f, fd);
		return;
	}
	shutdown(fd, SHUT_WR);
	atomic_store(&c->state, C_LINGER);
	atomic_store(&c->deadline_us, now + LINGER_MS * 1000ull);
}

/* The head is complete and acceptable: libmicrohttpd takes the connection from here. */
static void hand_over(struct http_front *f, int fd)
{
	struct conn *c = &f->conns[fd];
	epoll_ctl(f->ep, EPOLL_CTL_DEL, fd, NULL);
	c->shut = false;
	atomic_store(&c->state, C_PENDING);
	f->held--;
	if (MHD_add_connection(f->mhd, fd, &c->addr.sa, c->addr_len) != MHD_YES) {
		/* libmicrohttpd closed the socket (at its connection limit, or out of memory) */
		int e = errno;
		atomic_store(&c->state, C_FREE);
		http_front_count(f, HTTP_EV_OVER_LIMIT);
		char who[64];
		http_front_log(f, "libmicrohttpd refused the connection of %s: %s", peer(c, who, sizeof(who)), strerror(e));
	}
}

/* Input (or its end) on a connection the front holds. */
static void on_input(struct http_front *f, int fd, uint32_t events)
{
	struct conn *c = &f->conns[fd];
	uint8_t st = atomic_load(&c->state);
	if (st == C_LINGER) {
		if (!drain(f, fd))
			close_held(f, fd);
		return;
	}
	if (st != C_HEAD)
		return;
	ssize_t n;
	do
		n = recv(fd, f->buf, sizeof(f->buf), MSG_PEEK | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		if (!(events & (EPOLLHUP | EPOLLERR)))
			return;
		n = 0;
	}
	if (n <= 0) {
		/* it left (or failed) before its head was complete: nobody to answer */
		http_front_count(f, HTTP_EV_CLIENT_GONE);
		close_held(f, fd);
		return;
	}
	struct http_head h;
	int rc = http_head_check(f->buf, (size_t)n, &h);
	if (rc > 0)
		return hand_over(f, fd);
	if (rc < 0)
		return refuse(f, fd, h.status, h.msg, HTTP_EV_REFUSED);
	if (events & (EPOLLRDHUP | EPOLLHUP))
		return refuse(f, fd, 400, "the request head is incomplete: the client ended its side", HTTP_EV_REFUSED);
}

static void accept_all(struct http_front *f)
{
	for (;;) {
		struct conn tmp = { 0 };
		tmp.addr_len = sizeof(tmp.addr);
		int fd = accept4(f->lfd, &tmp.addr.sa, &tmp.addr_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO || errno == EPERM)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				/* out of descriptors or memory: stop accepting until the next scan instead of
				 * spinning on a listening socket that stays readable */
				http_front_log(f, "cannot accept connections: %s (retrying)", strerror(errno));
				epoll_ctl(f->ep, EPOLL_CTL_DEL, f->lfd, NULL);
				f->accept_paused = true;
			}
			return;
		}
		if (fd >= f->nconns || f->held >= HTTP_CONN_LIMIT) {
			http_front_count(f, HTTP_EV_OVER_LIMIT);
			http_observe(503, 0);
			static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
						   "Connection: close\r\nContent-Length: 80\r\n\r\n"
						   "{\"error\":{\"code\":\"UNAVAILABLE\",\"message\":\"too many connections: retry later\"}}\n";
			(void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			continue;
		}
		struct conn *c = &f->conns[fd];
		uint64_t now = http_mono_us();
		c->addr = tmp.addr;
		c->addr_len = tmp.addr_len;
		c->t0_us = now;
		c->shut = false;
		atomic_store(&c->deadline_us, now + f->timeout_us);
		atomic_store(&c->state, C_HEAD);
		f->held++;
		if (fd > f->max_fd)
			f->max_fd = fd;
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.fd = fd };
		if (epoll_ctl(f->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close_held(f, fd);
			continue;
		}
		/* edge-triggered, and the head is peeked, not read: each new segment is a new event */
	}
}

/* Deadlines: heads the front waits on get 408, lingering closes end, late requests are shut. */
static void scan(struct http_front *f, uint64_t now)
{
	char msg[96];
	snprintf(msg, sizeof(msg), "the request head was not complete within %" PRIu64 " s", f->timeout_us / 1000000);
	for (int fd = 0; fd <= f->max_fd; fd++) {
		struct conn *c = &f->conns[fd];
		uint8_t st = atomic_load(&c->state);
		if (st == C_FREE || st == C_PENDING || st == C_BUSY || atomic_load(&c->deadline_us) > now)
			continue;
		if (st == C_HEAD) {
			refuse(f, fd, 408, msg, HTTP_EV_HEAD_TIMEOUT);
		} else if (st == C_LINGER) {
			close_held(f, fd);
		} else if (st == C_WAIT && !c->shut) {
			pthread_mutex_lock(&f->mu);
			if (atomic_load(&c->state) == C_WAIT && atomic_load(&c->deadline_us) <= now) {
				shutdown(fd, SHUT_RDWR);
				c->shut = true;
				http_front_count(f, HTTP_EV_REQUEST_TIMEOUT);
				char who[64];
				http_front_log(f, "closed %s: its request was not complete within %" PRIu64 " s",
					       peer(c, who, sizeof(who)), f->timeout_us / 1000000);
			}
			pthread_mutex_unlock(&f->mu);
		}
	}
	if (f->accept_paused) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = f->lfd };
		if (epoll_ctl(f->ep, EPOLL_CTL_ADD, f->lfd, &ev) == 0)
			f->accept_paused = false;
	}
}

static void *front_main(void *arg)
{
	struct http_front *f = arg;
	struct epoll_event evs[256];
	uint64_t next_scan = http_mono_us() + SCAN_MS * 1000ull;
	while (!atomic_load(&f->stop)) {
		int n = epoll_wait(f->ep, evs, 256, SCAN_MS);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == f->lfd)
				accept_all(f);
			else if (fd != f->wake)
				on_input(f, fd, evs[i].events);
		}
		uint64_t now = http_mono_us();
		if (now >= next_scan) {
			scan(f, now);
			next_scan = now + SCAN_MS * 1000ull;
		}
	}
	return NULL;
}

/* ---- the front's life ---- */

struct http_front *http_front_open(const struct http_config *cfg)
{
	struct http_front *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->lfd = f->ep = f->wake = -1;
	pthread_mutex_init(&f->mu, NULL);
	pthread_mutex_init(&f->log_mu, NULL);
	f->timeout_us = (uint64_t)(cfg->timeout_s ? cfg->timeout_s : 10) * 1000000;
	struct rlimit rl;
	f->nconns = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1u << 20 ? (int)rl.rlim_cur : 1 << 20;
	/* zeroed pages cost nothing until a descriptor that high is used */
	f->conns = calloc((size_t)f->nconns, sizeof(*f->conns));
	int one = 1;
	if (!f->conns || (f->lfd = socket(cfg->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (cfg->addr.ss_family == AF_INET6 && setsockopt(f->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(f->lfd, (const struct sockaddr *)&cfg->addr, cfg->addr_len) < 0 || listen(f->lfd, 1024) < 0)
		goto fail;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(f->lfd, (struct sockaddr *)&ss, &sl) < 0)
		goto fail;
	f->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						 : ((struct sockaddr_in *)&ss)->sin_port);
	if ((f->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 || (f->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		goto fail;
	struct epoll_event lev = { .events = EPOLLIN, .data.fd = f->lfd }, wev = { .events = EPOLLIN, .data.fd = f->wake };
	if (epoll_ctl(f->ep, EPOLL_CTL_ADD, f->lfd, &lev) < 0 || epoll_ctl(f->ep, EPOLL_CTL_ADD, f->wake, &wev) < 0)
		goto fail;
	return f;
fail:;
	int e = errno;
	http_front_close(f);
	errno = e;
	return NULL;
}

unsigned http_front_port(const struct http_front *f)
{
	return f->port;
}

int http_front_start(struct http_front *f, struct MHD_Daemon *mhd)
{
	f->mhd = mhd;
	int rc = pthread_create(&f->thread, NULL, front_main, f);
	if (rc)
		return -rc;
	f->running = true;
	return 0;
}

void http_front_stop(struct http_front *f)
{
	if (!f || !f->running)
		return;
	atomic_store(&f->stop, true);
	uint64_t one = 1;
	(void)!write(f->wake, &one, sizeof(one));
	pthread_join(f->thread, NULL);
	f->running = false;
	close(f->lfd);
	f->lfd = -1;
}

void http_front_close(struct http_front *f)
{
	if (!f)
		return;
	http_front_stop(f);
	for (int fd = 0; f->conns && fd <= f->max_fd; fd++) {
		uint8_t st = atomic_load(&f->conns[fd].state);
		if (st == C_HEAD || st == C_LINGER)
			close(fd);
	}
	if (f->lfd >= 0)
		close(f->lfd);
	if (f->ep >= 0)
		close(f->ep);
	if (f->wake >= 0)
		close(f->wake);
	pthread_mutex_destroy(&f->mu);
	pthread_mutex_destroy(&f->log_mu);
	free(f->conns);
	free(f);
}

/* ---- libmicrohttpd's side ---- */

void http_front_notify(void *cls, struct MHD_Connection *mc, void **socket_context,
		       enum MHD_ConnectionNotificationCode code)
{
	struct http_front *f = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		int fd = ci ? ci->connect_fd : -1;
		if (fd < 0 || fd >= f->nconns)
			return;
		struct conn *c = &f->conns[fd];
		pthread_mutex_lock(&f->mu);
		if (atomic_load(&c->state) == C_PENDING)
			atomic_store(&c->state, C_WAIT);
		pthread_mutex_unlock(&f->mu);
		*socket_context = c;
		atomic_fetch_add(&f->served, 1);
	} else if (*socket_context) {
		struct conn *c = *socket_context;
		pthread_mutex_lock(&f->mu);
		atomic_store(&c->state, C_FREE);
		pthread_mutex_unlock(&f->mu);
		*socket_context = NULL;
		atomic_fetch_sub(&f->served, 1);
	}
}

static struct conn *conn_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

void http_front_busy(struct MHD_Connection *mc)
{
	struct conn *c = conn_of(mc);
	if (c)
		atomic_store(&c->state, C_BUSY);
}

void http_front_completed(struct http_front *f, struct MHD_Connection *mc)
{
	struct conn *c = conn_of(mc);
	if (!c)
		return;
	atomic_store(&c->deadline_us, http_mono_us() + f->timeout_us);
	atomic_store(&c->state, C_WAIT);
}

void http_front_metrics(struct http_front *f, FILE *out)
{
	fprintf(out, "# HELP lnmt_http_client_events_total What lnmt-http did about clients, by event (the log "
		     "shows only a few lines of each).\n# TYPE lnmt_http_client_events_total counter\n");
	for (int i = 0; i < HTTP_EV_COUNT; i++)
		fprintf(out, "lnmt_http_client_events_total{event=\"%s\"} %" PRIu64 "\n", event_names[i],
			(uint64_t)atomic_load(&f->events[i]));
	pthread_mutex_lock(&f->log_mu);
	uint64_t dropped = f->log_dropped_total;
	pthread_mutex_unlock(&f->log_mu);
	fprintf(out, "# HELP lnmt_http_log_lines_dropped_total Client log lines not written (over %u per %llu s).\n"
		     "# TYPE lnmt_http_log_lines_dropped_total counter\nlnmt_http_log_lines_dropped_total %" PRIu64 "\n",
		LOG_LINES, LOG_WINDOW_US / 1000000, dropped);
	fprintf(out, "# HELP lnmt_http_connections Open client connections: waiting for their request head in "
		     "lnmt-http's front, or served by libmicrohttpd.\n# TYPE lnmt_http_connections gauge\n"
		     "lnmt_http_connections{state=\"front\"} %u\nlnmt_http_connections{state=\"served\"} %d\n",
		atomic_load(&f->held), atomic_load(&f->served));
}
