/* SPDX-License-Identifier: MIT */
/*
 * http_load.c (http_load): an open-loop HTTP/1.1 load generator at a fixed request rate, like
 * wrk2 (which Debian lacks), so that latency can be read at a given load rather than at
 * saturation. Request i is scheduled at t0 + i/rate and given round-robin to one of CONNS
 * keep-alive connections; a connection sends it when it is due and the connection is idle,
 * otherwise it waits on that connection. Its latency is always counted from its scheduled
 * time (the coordinated-omission correction wrk2 makes), so a stalled server shows up in the
 * percentiles instead of silently slowing the generator down.
 *
 * Usage: http_load --url http://A.B.C.D:PORT/path [--conns 500] [--rate 20000] [--secs 10]
 *                  [--header 'K: V']... [--warmup 1]
 *        http_load --self-test      (checks the histogram's percentiles; exit 0 or 1)
 *
 * Output (stdout), the last three lines counting only requests scheduled after the warm-up:
 *   http_load: 500 connections, 20000 req/s for 10 s (warm-up 1 s not counted)
 *     requests 200000, 19999.8 req/s, 0 errors, 0 non-2xx, 2.4 GB read
 *     latency  p50 0.310 ms  p90 0.550 ms  p99 1.200 ms  p99.9 3.100 ms  max 8.400 ms
 *     generator  sent 100.0% of schedule, dispatch lag p99 0.020 ms max 0.300 ms, loop busy 12%, ...
 * "requests" are the responses received, "req/s" the requests sent per second during the
 * counted window (the achieved send rate). If fewer than 99% of the scheduled requests went
 * out in that window, the load asked for was not applied: it says so loudly on stderr, naming
 * the likely cause (the generator's own loop saturated, or the server did not keep up and
 * requests queued behind busy connections), and exits 3.
 * Exit codes: 0 done, 1 cannot connect or other failure, 2 bad arguments, 3 fell behind.
 *
 * One thread, epoll, non-blocking sockets, IPv4 only. It sleeps until the next scheduled
 * request with epoll_pwait2 (ns timeout, timer slack lowered to 1 ns), measures with
 * CLOCK_MONOTONIC, allocates everything before t0 and makes no allocation per request.
 * Errors: connect failure, reset or close mid-response, 10 s per request without an answer,
 * a malformed response (Content-Length is required; chunked transfer coding is rejected), and
 * requests still unanswered after the at most 10 s of draining that follow the schedule.
 * Ctrl-C stops sending, waits at most 1 s for the requests in flight and prints what it has.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull

#define LOAD_TIMEOUT_NS (10 * NS_PER_S)  /* per request in flight, and per connect */
#define LOAD_DRAIN_NS (10 * NS_PER_S)    /* after the last scheduled request */
#define LOAD_STOP_NS (1 * NS_PER_S)      /* after Ctrl-C */
#define LOAD_CONNECT_NS (5 * NS_PER_S)   /* for all connections to open before t0 */
#define LOAD_RETRY_NS (100 * NS_PER_MS)  /* between reconnect attempts after a failed connect */
#define LOAD_SWEEP_NS (100 * NS_PER_MS)  /* timeouts and reconnects are checked this often */
#define LOAD_CONN_BUF 16384              /* response head must fit; body bytes are discarded */
#define LOAD_MAX_HEADERS 32
#define LOAD_MAX_EVENTS 512
#define LOAD_SIG_TAG UINT32_MAX

/* ---- log-linear histogram of nanoseconds ----
 * Values below 2 * HIST_SUB are exact; above, each power-of-two range [2^k, 2^(k+1)) is cut
 * into HIST_SUB equal buckets, so a bucket is at most 1/HIST_SUB = 0.78% of its values wide.
 * That reaches 2^HIST_MAX_BITS ns (137 s, beyond any latency the timeouts allow); anything
 * larger goes to the overflow count. 3968 buckets, 31 KiB: no allocation, no external library.
 */
#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_BITS 37
#define HIST_BUCKETS (2 * HIST_SUB + (HIST_MAX_BITS - HIST_SUB_BITS - 1) * HIST_SUB)

struct hist {
	uint64_t n[HIST_BUCKETS];
	uint64_t overflow, count, max, sum;
};

static unsigned hist_index(uint64_t v)
{
	unsigned msb, shift;

	if (v < 2 * HIST_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - HIST_SUB_BITS;
	return 2 * HIST_SUB + (shift - 1) * HIST_SUB + (unsigned)((v >> shift) - HIST_SUB);
}

/* The lowest value that falls in bucket idx. */
static uint64_t hist_low(unsigned idx)
{
	unsigned g, s;

	if (idx < 2 * HIST_SUB)
		return idx;
	g = (idx - 2 * HIST_SUB) / HIST_SUB;
	s = (idx - 2 * HIST_SUB) % HIST_SUB;
	return (uint64_t)(HIST_SUB + s) << (g + 1);
}

/* The highest value that falls in bucket idx: what a percentile reports, so it never reads low. */
static uint64_t hist_high(unsigned idx)
{
	if (idx < 2 * HIST_SUB)
		return idx;
	return hist_low(idx) + (1ull << ((idx - 2 * HIST_SUB) / HIST_SUB + 1)) - 1;
}

static void hist_add(struct hist *h, uint64_t v)
{
	if (v >> HIST_MAX_BITS)
		h->overflow++;
	else
		h->n[hist_index(v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

/* Rank of percentile p (in thousandths of a percent: 99900 is p99.9) among count values:
 * the smallest r with r >= p% of count, at least 1. Integer arithmetic, so p99.9 of 1000
 * is exactly the 999th value, not the 1000th through a rounding error. */
static uint64_t pct_rank(uint64_t count, uint32_t p_milli)
{
	uint64_t r = (count * p_milli + 100000 - 1) / 100000;

	return r ? r : 1;
}

/* The value at percentile p (thousandths of a percent), within 0.78% above the true one and
 * never above the maximum; 0 for an empty histogram. */
static uint64_t hist_pct(const struct hist *h, uint32_t p_milli)
{
	uint64_t rank, seen = 0;
	unsigned i;

	if (!h->count)
		return 0;
	rank = pct_rank(h->count, p_milli);
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->n[i];
		if (seen >= rank)
			return hist_high(i) < h->max ? hist_high(i) : h->max;
	}
	return h->max; /* in the overflow */
}

/* ---- configuration ---- */

struct config {
	const char *url;
	struct sockaddr_in addr;
	char host[64];   /* Host header: the URL's host[:port] */
	const char *path;
	unsigned conns;
	double rate, secs, warmup;
	const char *headers[LOAD_MAX_HEADERS];
	unsigned n_headers;
};

/* ---- one connection ---- */

enum conn_state { C_DOWN, C_CONNECTING, C_IDLE, C_BUSY };

enum err_kind { E_CONNECT, E_IO, E_TIMEOUT, E_PROTO, E_UNFINISHED, E_KINDS };

static const char *const err_name[E_KINDS] = { "connect", "reset or closed", "timeout", "bad response",
					       "unfinished" };

struct conn {
	int fd;
	enum conn_state state;
	bool want_out;      /* EPOLLOUT is registered */
	bool close_after;   /* the response in hand said Connection: close */
	bool in_body;
	uint64_t next;      /* its next request not yet sent; requests are id, id + conns, ... */
	uint64_t inflight;  /* the request being answered (C_BUSY) */
	uint64_t since_ns;  /* when it was sent (C_BUSY) or the connect began (C_CONNECTING) */
	uint64_t retry_ns;  /* next connect attempt (C_DOWN) */
	uint64_t remaining; /* body bytes still to come */
	uint64_t resp_bytes;
	size_t wr_off, len, scan;
	int status;
	char buf[LOAD_CONN_BUF];
};

struct gen {
	const struct config *cfg;
	int ep, sfd;
	struct conn *conns;
	char req[4096];
	size_t req_len;
	double ns_per_req;
	uint64_t t0, w0, w_end, deadline; /* ns; the counted window is [w0, w_end) */
	uint64_t total, warm_n, issued;   /* requests: scheduled in all, in the warm-up, due so far */
	unsigned busy;                    /* connections in C_BUSY */
	bool stopped;                     /* Ctrl-C: send nothing more */
	/* counted requests (scheduled at or after w0), and the loop's own figures */
	uint64_t done, non2xx, bytes, sent_win, queued, errs[E_KINDS];
	uint64_t blocked_ns, loop_ns;
	struct hist lat, lag;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t sched_ns(const struct gen *g, uint64_t i)
{
	return g->t0 + (uint64_t)((double)i * g->ns_per_req);
}

static bool counted(const struct gen *g, uint64_t i)
{
	return i >= g->warm_n;
}

static int conn_watch(struct gen *g, struct conn *c, bool out, int op)
{
	struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.u32 = (uint32_t)(c - g->conns) };

	if (epoll_ctl(g->ep, op, c->fd, &ev) < 0)
		return -errno;
	c->want_out = out;
	return 0;
}

static void conn_reset_parser(struct conn *c)
{
	c->len = c->scan = 0;
	c->in_body = false;
	c->close_after = false;
	c->remaining = 0;
	c->resp_bytes = 0;
	c->status = 0;
}

static void conn_close(struct gen *g, struct conn *c)
{
	if (c->state == C_BUSY)
		g->busy--;
	if (c->fd >= 0)
		close(c->fd); /* also leaves the epoll set */
	c->fd = -1;
	c->state = C_DOWN;
	c->want_out = false;
	conn_reset_parser(c);
}

/* Starts a non-blocking connect: C_CONNECTING, or C_IDLE if it completed at once. */
static int conn_open(struct gen *g, struct conn *c, uint64_t now)
{
	int one = 1, fd, rc;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->since_ns = now;
	conn_reset_parser(c);
	if (connect(fd, (const struct sockaddr *)&g->cfg->addr, sizeof(g->cfg->addr)) == 0) {
		c->state = C_IDLE;
		rc = conn_watch(g, c, false, EPOLL_CTL_ADD);
	} else if (errno == EINPROGRESS) {
		c->state = C_CONNECTING;
		rc = conn_watch(g, c, true, EPOLL_CTL_ADD);
	} else {
		rc = -errno;
	}
	if (rc < 0)
		conn_close(g, c);
	return rc;
}

static void count_err(struct gen *g, enum err_kind k, bool is_counted)
{
	if (is_counted)
		g->errs[k]++;
}

static void conn_kick(struct gen *g, struct conn *c, uint64_t now);

/* The connection failed: the request in flight (if any) is an error of kind k, and the
 * connection reconnects (at once, or after LOAD_RETRY_NS if it was the connect that failed).
 * Requests waiting on it stay queued: their latency keeps growing from their scheduled time. */
static void conn_fail(struct gen *g, struct conn *c, enum err_kind k, uint64_t now)
{
	bool was_connect = c->state == C_CONNECTING;

	if (c->state == C_BUSY)
		count_err(g, k, counted(g, c->inflight));
	else if (was_connect)
		count_err(g, E_CONNECT, now >= g->w0);
	conn_close(g, c);
	c->retry_ns = was_connect ? now + LOAD_RETRY_NS : now;
	if (!g->stopped && c->retry_ns <= now && conn_open(g, c, now) < 0) {
		count_err(g, E_CONNECT, now >= g->w0);
		c->retry_ns = now + LOAD_RETRY_NS;
	}
	/* Not kicked from here, which could recurse through conn_write: a connect that completed
	 * at once is kicked by the next dispatch or sweep, one that did not by its EPOLLOUT. */
}

/* Writes what is left of the request; waits for EPOLLOUT if the socket is full. */
static void conn_write(struct gen *g, struct conn *c, uint64_t now)
{
	ssize_t n;

	while (c->wr_off < g->req_len) {
		n = send(c->fd, g->req + c->wr_off, g->req_len - c->wr_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (!c->want_out && conn_watch(g, c, true, EPOLL_CTL_MOD) < 0)
					conn_fail(g, c, E_IO, now);
				return;
			}
			conn_fail(g, c, E_IO, now);
			return;
		}
		c->wr_off += (size_t)n;
	}
	if (c->want_out && conn_watch(g, c, false, EPOLL_CTL_MOD) < 0)
		conn_fail(g, c, E_IO, now);
}

/* An idle connection sends its next request if that one is due. */
static void conn_kick(struct gen *g, struct conn *c, uint64_t now)
{
	if (c->state != C_IDLE || g->stopped || c->next >= g->issued)
		return;
	c->inflight = c->next;
	c->next += g->cfg->conns;
	c->state = C_BUSY;
	g->busy++;
	c->since_ns = now;
	c->wr_off = 0;
	if (now >= g->w0 && now < g->w_end)
		g->sent_win++;
	conn_write(g, c, now);
}

/* Makes due every request whose scheduled time has come. Each is O(1): the queue of a
 * connection is implicit (its requests next, next + conns, ... below issued), so no request
 * is stored anywhere and the generator's own delay is only its wake-up and event handling. */
static void dispatch(struct gen *g, uint64_t now)
{
	struct conn *c;
	uint64_t i;

	while (g->issued < g->total && sched_ns(g, g->issued) <= now) {
		i = g->issued++;
		if (counted(g, i))
			hist_add(&g->lag, now - sched_ns(g, i));
		c = &g->conns[i % g->cfg->conns];
		if (c->state == C_IDLE)
			conn_kick(g, c, now);
		else if (counted(g, i))
			g->queued++;
	}
}

/* Whether word (lower case) occurs in s[0..n), ignoring case. */
static bool has_ci(const char *s, size_t n, const char *word)
{
	size_t w = strlen(word), i;

	for (i = 0; i + w <= n; i++)
		if (!strncasecmp(s + i, word, w))
			return true;
	return false;
}

/* Parses a response head buf[0..n) (ending in CRLF CRLF). Sets c->status, c->remaining and
 * c->close_after. Returns 0, or -EPROTO for anything it does not accept. */
static int parse_head(struct conn *c, const char *p, size_t n)
{
	const char *end = p + n, *eol, *colon, *v, *ve;
	bool have_len = false, http10, keep_alive = false;
	uint64_t len = 0, x;

	if (n < 12 || memcmp(p, "HTTP/1.", 7) || (p[7] != '0' && p[7] != '1') || p[8] != ' ')
		return -EPROTO;
	http10 = p[7] == '0';
	if (p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9')
		return -EPROTO;
	c->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	if (c->status < 200)
		return -EPROTO; /* no 1xx is expected for a GET */
	eol = memmem(p, (size_t)(end - p), "\r\n", 2);
	for (p = eol + 2; p < end; p = eol + 2) {
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!eol || eol == p)
			break;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon)
			return -EPROTO;
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
#define IS(name) ((size_t)(colon - p) == sizeof(name) - 1 && !strncasecmp(p, name, sizeof(name) - 1))
		if (IS("Content-Length")) {
			if (v == ve)
				return -EPROTO;
			for (x = 0; v < ve; v++) {
				if (*v < '0' || *v > '9' || x > (UINT64_MAX - 9) / 10)
					return -EPROTO;
				x = x * 10 + (uint64_t)(*v - '0');
			}
			if (have_len && x != len)
				return -EPROTO;
			have_len = true;
			len = x;
		} else if (IS("Transfer-Encoding")) {
			return -EPROTO; /* chunked or other codings: not supported, see the header */
		} else if (IS("Connection")) {
			if (has_ci(v, (size_t)(ve - v), "close"))
				c->close_after = true;
			if (has_ci(v, (size_t)(ve - v), "keep-alive"))
				keep_alive = true;
		}
#undef IS
	}
	if (http10 && !keep_alive)
		c->close_after = true;
	if (c->status == 204 || c->status == 304)
		len = 0, have_len = true;
	if (!have_len)
		return -EPROTO;
	c->remaining = len;
	return 0;
}

static void conn_done(struct gen *g, struct conn *c, uint64_t now)
{
	uint64_t i = c->inflight;

	if (counted(g, i)) {
		hist_add(&g->lat, now - sched_ns(g, i));
		g->done++;
		g->bytes += c->resp_bytes;
		if (c->status < 200 || c->status > 299)
			g->non2xx++;
	}
	if (c->close_after) {
		conn_close(g, c); /* the server will not take another request on it */
		if (!g->stopped && conn_open(g, c, now) < 0) {
			count_err(g, E_CONNECT, now >= g->w0);
			c->retry_ns = now + LOAD_RETRY_NS;
		}
	} else {
		g->busy--;
		c->state = C_IDLE;
		conn_reset_parser(c);
	}
	conn_kick(g, c, now);
}

static void conn_on_in(struct gen *g, struct conn *c, uint64_t now)
{
	const char *hend;
	size_t from, head, avail;
	ssize_t n;

	n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		conn_fail(g, c, E_IO, now);
		return;
	}
	if (c->state != C_BUSY) {
		/* An idle keep-alive connection closed by the server is not an error: reconnect. */
		conn_fail(g, c, n == 0 ? E_IO : E_PROTO, now);
		return;
	}
	if (n == 0) {
		conn_fail(g, c, E_IO, now);
		return;
	}
	c->resp_bytes += (uint64_t)n;
	if (c->in_body) {
		if ((uint64_t)n > c->remaining) {
			conn_fail(g, c, E_PROTO, now); /* more than was announced: not ours to skip */
			return;
		}
		c->remaining -= (uint64_t)n;
	} else {
		c->len += (size_t)n;
		from = c->scan > 3 ? c->scan - 3 : 0;
		hend = memmem(c->buf + from, c->len - from, "\r\n\r\n", 4);
		if (!hend) {
			c->scan = c->len;
			if (c->len == sizeof(c->buf))
				conn_fail(g, c, E_PROTO, now); /* head larger than the buffer */
			return;
		}
		head = (size_t)(hend - c->buf) + 4;
		if (parse_head(c, c->buf, head) < 0) {
			conn_fail(g, c, E_PROTO, now);
			return;
		}
		avail = c->len - head;
		if (avail > c->remaining) {
			conn_fail(g, c, E_PROTO, now);
			return;
		}
		c->remaining -= avail;
		c->in_body = true;
	}
	c->len = 0; /* body bytes are only counted */
	if (c->remaining == 0)
		conn_done(g, c, now);
}

/* EPOLLOUT: a connect finished (or failed), or the socket has room for the rest of a request. */
static void conn_on_out(struct gen *g, struct conn *c, uint64_t now)
{
	socklen_t sl = sizeof(int);
	int err = 0;

	if (c->state == C_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0 || err) {
			conn_fail(g, c, E_CONNECT, now);
			return;
		}
		c->state = C_IDLE;
		if (conn_watch(g, c, false, EPOLL_CTL_MOD) < 0) {
			conn_fail(g, c, E_IO, now);
			return;
		}
		conn_kick(g, c, now);
	} else if (c->state == C_BUSY) {
		conn_write(g, c, now);
	}
}

/* Every LOAD_SWEEP_NS: requests without an answer for 10 s, connects that hang, reconnects. */
static void sweep(struct gen *g, uint64_t now)
{
	struct conn *c;
	unsigned k;

	for (k = 0; k < g->cfg->conns; k++) {
		c = &g->conns[k];
		if (c->state == C_BUSY && now - c->since_ns > LOAD_TIMEOUT_NS) {
			conn_fail(g, c, E_TIMEOUT, now);
		} else if (c->state == C_CONNECTING && now - c->since_ns > LOAD_TIMEOUT_NS) {
			conn_fail(g, c, E_CONNECT, now);
		} else if (c->state == C_DOWN && !g->stopped && c->retry_ns <= now) {
			if (conn_open(g, c, now) < 0) {
				count_err(g, E_CONNECT, now >= g->w0);
				c->retry_ns = now + LOAD_RETRY_NS;
			} else {
				conn_kick(g, c, now);
			}
		} else if (c->state == C_IDLE) {
			conn_kick(g, c, now);
		}
	}
}

static struct timespec *until(uint64_t now, uint64_t when, struct timespec *ts)
{
	uint64_t d = when > now ? when - now : 0;

	ts->tv_sec = (time_t)(d / NS_PER_S);
	ts->tv_nsec = (long)(d % NS_PER_S);
	return ts;
}

static void on_signal(struct gen *g, uint64_t now)
{
	struct signalfd_siginfo si;

	while (read(g->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;
	if (g->stopped) {
		g->deadline = now; /* a second Ctrl-C: stop waiting */
		return;
	}
	g->stopped = true;
	if (g->w_end > now)
		g->w_end = now < g->w0 ? g->w0 : now;
	if (g->deadline > now + LOAD_STOP_NS)
		g->deadline = now + LOAD_STOP_NS;
}

/* Opens every connection before t0, so connect time is not counted as latency. */
static int connect_all(struct gen *g)
{
	struct epoll_event evs[LOAD_MAX_EVENTS];
	struct timespec ts;
	uint64_t start = now_ns(), now;
	unsigned k, open = 0;
	struct conn *c;
	socklen_t sl;
	int n, i, rc;

	for (k = 0; k < g->cfg->conns; k++) {
		rc = conn_open(g, &g->conns[k], start);
		if (rc < 0)
			return rc;
		open += g->conns[k].state == C_IDLE;
	}
	while (open < g->cfg->conns) {
		now = now_ns();
		if (now - start > LOAD_CONNECT_NS)
			return -ETIMEDOUT;
		n = epoll_pwait2(g->ep, evs, LOAD_MAX_EVENTS, until(now, start + LOAD_CONNECT_NS, &ts), NULL);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (i = 0; i < n; i++) {
			if (evs[i].data.u32 == LOAD_SIG_TAG)
				return -EINTR;
			c = &g->conns[evs[i].data.u32];
			if (c->state != C_CONNECTING)
				continue;
			rc = 0;
			sl = sizeof(rc);
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &rc, &sl) < 0)
				rc = errno;
			if (rc)
				return -rc;
			c->state = C_IDLE;
			if ((rc = conn_watch(g, c, false, EPOLL_CTL_MOD)) < 0)
				return rc;
			open++;
		}
	}
	return 0;
}

/* Requests still queued or in flight when it gives up draining: errors, each counted once. */
static void count_unfinished(struct gen *g)
{
	const struct conn *c;
	uint64_t i;
	unsigned k;

	for (k = 0; k < g->cfg->conns; k++) {
		c = &g->conns[k];
		if (c->state == C_BUSY)
			count_err(g, E_UNFINISHED, counted(g, c->inflight));
		if (g->stopped)
			continue; /* after Ctrl-C, requests never sent are not the server's failures */
		for (i = c->next; i < g->issued; i += g->cfg->conns)
			count_err(g, E_UNFINISHED, counted(g, i));
	}
}

static bool all_answered(const struct gen *g)
{
	unsigned k;

	if (g->busy)
		return false;
	if (g->stopped)
		return true;
	if (g->issued < g->total)
		return false;
	for (k = 0; k < g->cfg->conns; k++)
		if (g->conns[k].next < g->total)
			return false;
	return true;
}

static void run(struct gen *g)
{
	struct epoll_event evs[LOAD_MAX_EVENTS];
	uint64_t now, woke, next_sweep, wake;
	struct timespec ts;
	int n, i;

	g->t0 = now_ns();
	g->w0 = g->t0 + (uint64_t)(g->cfg->warmup * NS_PER_S);
	g->w_end = g->w0 + (uint64_t)(g->cfg->secs * NS_PER_S);
	g->deadline = g->w_end + LOAD_DRAIN_NS;
	next_sweep = g->t0 + LOAD_SWEEP_NS;
	now = g->t0;
	for (;;) {
		if (!g->stopped)
			dispatch(g, now);
		if (now >= next_sweep) {
			sweep(g, now);
			next_sweep = now + LOAD_SWEEP_NS;
		}
		if (now >= g->deadline)
			break;
		if ((g->issued == g->total || g->stopped) && all_answered(g))
			break;
		wake = next_sweep < g->deadline ? next_sweep : g->deadline;
		if (!g->stopped && g->issued < g->total && sched_ns(g, g->issued) < wake)
			wake = sched_ns(g, g->issued);
		now = now_ns(); /* the dispatch and sweep above took time too: do not count it as idle */
		n = epoll_pwait2(g->ep, evs, LOAD_MAX_EVENTS, until(now, wake, &ts), NULL);
		woke = now_ns();
		if (now < g->w_end) {
			g->blocked_ns += (woke < g->w_end ? woke : g->w_end) - now;
			g->loop_ns = (woke < g->w_end ? woke : g->w_end) - g->t0;
		}
		now = woke;
		for (i = 0; i < n; i++) {
			uint32_t tag = evs[i].data.u32;
			struct conn *c;

			if (tag == LOAD_SIG_TAG) {
				on_signal(g, now);
				continue;
			}
			c = &g->conns[tag];
			if (c->fd < 0)
				continue; /* closed by an earlier event of this batch */
			if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
				if (c->state == C_CONNECTING || (evs[i].events & EPOLLOUT)) {
					conn_on_out(g, c, now);
					if (c->state == C_CONNECTING || c->fd < 0)
						continue;
				}
			}
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				conn_on_in(g, c, now);
		}
		now = now_ns();
	}
	if (now >= g->deadline)
		count_unfinished(g);
}

/* ---- output ---- */

static void print_bytes(char *out, size_t n, uint64_t b)
{
	if (b >= 1000000000ull)
		snprintf(out, n, "%.1f GB", (double)b / 1e9);
	else if (b >= 1000000ull)
		snprintf(out, n, "%.1f MB", (double)b / 1e6);
	else
		snprintf(out, n, "%.1f kB", (double)b / 1e3);
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/* Prints the figures; returns the exit code: 0, or 3 if it fell behind its schedule. */
static int report(const struct gen *g)
{
	const struct config *cfg = g->cfg;
	uint64_t errs = 0;
	double window, expected, sent_rate, busy;
	char bytes[32];
	unsigned k;

	for (k = 0; k < E_KINDS; k++)
		errs += g->errs[k];
	window = g->w_end > g->w0 ? (double)(g->w_end - g->w0) / 1e9 : 0;
	printf("http_load: %u connections, %.*f req/s for %g s (warm-up %g s not counted)", cfg->conns,
	       cfg->rate == (double)(uint64_t)cfg->rate ? 0 : 3, cfg->rate, cfg->secs, cfg->warmup);
	if (g->stopped)
		printf(", interrupted after %.1f s counted", window);
	printf("\n");
	if (window <= 0) {
		printf("  nothing counted: stopped during the warm-up\n");
		return 1;
	}
	expected = cfg->rate * window;
	sent_rate = (double)g->sent_win / window;
	busy = g->loop_ns ? 100.0 * (1.0 - (double)g->blocked_ns / (double)g->loop_ns) : 0;
	print_bytes(bytes, sizeof(bytes), g->bytes);
	printf("  requests %" PRIu64 ", %.1f req/s, %" PRIu64 " errors, %" PRIu64 " non-2xx, %s read\n", g->done,
	       sent_rate, errs, g->non2xx, bytes);
	printf("  latency  p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms\n",
	       ms(hist_pct(&g->lat, 50000)), ms(hist_pct(&g->lat, 90000)), ms(hist_pct(&g->lat, 99000)),
	       ms(hist_pct(&g->lat, 99900)), ms(g->lat.max));
	printf("  generator  sent %.1f%% of schedule, dispatch lag p99 %.3f ms max %.3f ms, loop busy %.0f%%, "
	       "%" PRIu64 " requests queued behind a busy connection\n",
	       expected > 0 ? 100.0 * (double)g->sent_win / expected : 0, ms(hist_pct(&g->lag, 99000)),
	       ms(g->lag.max), busy, g->queued);
	if (errs) {
		printf("  errors  ");
		for (k = 0; k < E_KINDS; k++)
			printf(" %s %" PRIu64 "%s", err_name[k], g->errs[k], k + 1 < E_KINDS ? "," : "\n");
	}
	fflush(stdout);
	/* One request either side of the window is rounding, not lag. */
	if ((double)g->sent_win + 1 >= 0.99 * expected)
		return 0;
	fprintf(stderr,
		"http_load: WARNING: FELL BEHIND SCHEDULE: sent %.1f req/s, %.1f%% of the %.0f asked for; ",
		sent_rate, 100.0 * (double)g->sent_win / expected, cfg->rate);
	if (busy >= 90 || hist_pct(&g->lag, 99000) > NS_PER_MS)
		fprintf(stderr, "the generator itself was saturated (loop busy %.0f%%, dispatch lag p99 %.3f ms), "
				"so these figures are the generator's, not the server's\n",
			busy, ms(hist_pct(&g->lag, 99000)));
	else
		fprintf(stderr, "the server did not keep up (%" PRIu64 " requests waited behind a busy connection; "
				"their wait is in the latency), so this is not the latency at %.0f req/s but a server "
				"falling behind it\n",
			g->queued, cfg->rate);
	return 3;
}

/* ---- self-test: known distributions in, percentiles checked against the exact ones ---- */

static const uint32_t test_pcts[] = { 1000, 50000, 90000, 99000, 99900, 99990, 100000 };

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Compares hist_pct with the exact percentile of v[0..n) (sorted here); 0 if all within the
 * histogram's precision (exact <= reported <= exact * (1 + 1/HIST_SUB)). */
static int check_dist(const char *name, uint64_t *v, size_t n)
{
	static struct hist h;
	uint64_t exact, got;
	size_t i, k;
	int bad = 0;

	memset(&h, 0, sizeof(h));
	for (i = 0; i < n; i++)
		hist_add(&h, v[i]);
	qsort(v, n, sizeof(*v), cmp_u64);
	if (h.count != n || h.max != v[n - 1]) {
		printf("self-test %s: count %" PRIu64 " max %" PRIu64 ", want %zu and %" PRIu64 "\n", name, h.count,
		       h.max, n, v[n - 1]);
		bad = 1;
	}
	for (k = 0; k < sizeof(test_pcts) / sizeof(test_pcts[0]); k++) {
		exact = v[pct_rank(n, test_pcts[k]) - 1];
		got = hist_pct(&h, test_pcts[k]);
		if (got < exact || got > exact + exact / HIST_SUB) {
			printf("self-test %s: p%g = %" PRIu64 " ns, exact %" PRIu64 " ns\n", name,
			       test_pcts[k] / 1000.0, got, exact);
			bad = 1;
		}
	}
	printf("self-test %-28s %s (p50 %" PRIu64 " p99 %" PRIu64 " p99.9 %" PRIu64 " max %" PRIu64 " ns)\n", name,
	       bad ? "FAIL" : "ok", hist_pct(&h, 50000), hist_pct(&h, 99000), hist_pct(&h, 99900), h.max);
	return bad;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int self_test(void)
{
	enum { N = 1000000 };
	uint64_t *v = malloc(N * sizeof(*v)), s = 88172645463325252ull, x;
	static struct hist h;
	unsigned idx, prev = 0;
	int bad = 0;
	size_t i;

	if (!v)
		return 1;
	/* Bucket arithmetic: every value lands in a bucket whose bounds hold it, indices never go
	 * down, and the bucket is at most 1/128 of its values wide. Dense near the power-of-two
	 * edges, sparse in between. */
	for (x = 0; x < (1ull << HIST_MAX_BITS); x = x < 4096 ? x + 1 : x + 1 + (x >> 9)) {
		idx = hist_index(x);
		if (idx >= HIST_BUCKETS || idx < prev || hist_low(idx) > x || hist_high(idx) < x ||
		    hist_high(idx) - hist_low(idx) > hist_low(idx) / HIST_SUB) {
			printf("self-test buckets: value %" PRIu64 " -> bucket %u [%" PRIu64 ", %" PRIu64 "]\n", x, idx,
			       hist_low(idx), hist_high(idx));
			bad = 1;
			break;
		}
		prev = idx;
	}
	if (hist_index((1ull << HIST_MAX_BITS) - 1) != HIST_BUCKETS - 1) {
		printf("self-test buckets: the last value does not use the last bucket\n");
		bad = 1;
	}
	if (!bad)
		printf("self-test %-28s ok (%u buckets, 2^%u ns)\n", "bucket bounds", HIST_BUCKETS, HIST_MAX_BITS);

	/* 1 .. 100000 us, once each: p50 is 50 ms, p99 99 ms, p99.9 99.9 ms exactly. */
	for (i = 0; i < 100000; i++)
		v[i] = (i + 1) * 1000;
	bad |= check_dist("uniform 1 us .. 100 ms", v, 100000);
	if (hist_pct(&(struct hist){ 0 }, 50000) != 0) {
		printf("self-test empty: not 0\n");
		bad = 1;
	}
	/* One value repeated: every percentile is that value (capped at the max, so exact). */
	for (i = 0; i < 1000; i++)
		v[i] = 1234567;
	bad |= check_dist("constant 1.234567 ms", v, 1000);
	/* 99% at 1 ms and 1% at 50 ms: p99 must still be 1 ms, p99.9 50 ms. */
	for (i = 0; i < 100000; i++)
		v[i] = i % 100 == 0 ? 50 * NS_PER_MS : NS_PER_MS;
	bad |= check_dist("bimodal 99% 1 ms, 1% 50 ms", v, 100000);
	memset(&h, 0, sizeof(h));
	for (i = 0; i < 100000; i++)
		hist_add(&h, i % 100 == 0 ? 50 * NS_PER_MS : NS_PER_MS);
	if (hist_pct(&h, 99000) > NS_PER_MS + NS_PER_MS / HIST_SUB || hist_pct(&h, 99900) < 50 * NS_PER_MS) {
		printf("self-test bimodal: p99 %" PRIu64 " p99.9 %" PRIu64 "\n", hist_pct(&h, 99000),
		       hist_pct(&h, 99900));
		bad = 1;
	}
	/* Small values are exact. */
	for (i = 0; i < 256; i++)
		v[i] = i;
	bad |= check_dist("0 .. 255 ns (exact)", v, 256);
	/* A long tail: exponential with mean 300 us, from a fixed seed. */
	for (i = 0; i < N; i++)
		v[i] = 1 + (uint64_t)(-300000.0 * log(1.0 - (double)(xorshift(&s) >> 11) / 9007199254740992.0));
	bad |= check_dist("exponential mean 300 us", v, N);
	/* Uniform random over 1 us .. 10 s, crossing many powers of two. */
	for (i = 0; i < N; i++)
		v[i] = 1000 + xorshift(&s) % (10 * NS_PER_S);
	bad |= check_dist("uniform random 1 us .. 10 s", v, N);
	/* Over the range: counted in the overflow, reported as the maximum. */
	memset(&h, 0, sizeof(h));
	hist_add(&h, 5 * NS_PER_MS);
	hist_add(&h, 1ull << 40);
	if (h.overflow != 1 || hist_pct(&h, 99000) != 1ull << 40 || hist_pct(&h, 50000) < 5 * NS_PER_MS ||
	    hist_pct(&h, 50000) > 5 * NS_PER_MS + 5 * NS_PER_MS / HIST_SUB) {
		printf("self-test overflow: FAIL\n");
		bad = 1;
	} else {
		printf("self-test %-28s ok\n", "overflow");
	}
	free(v);
	printf("self-test: %s\n", bad ? "FAILED" : "passed");
	return bad;
}

/* ---- arguments ---- */

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "http_load: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (usage: http_load --url http://A.B.C.D:PORT/path [--conns N] [--rate R] [--secs S] "
			"[--header 'K: V']... [--warmup S] | --self-test)\n");
	return 2;
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	if (errno || end == s || *end || !(d >= lo && d <= hi))
		return -EINVAL;
	*out = d;
	return 0;
}

/* http://A.B.C.D[:PORT][/path]; "localhost" is taken as 127.0.0.1. */
static int parse_url(const char *url, struct config *cfg)
{
	const char *h = url + 7, *p, *colon;
	char host[32];
	unsigned long port = 80;
	size_t hl;
	char *end;

	if (strncmp(url, "http://", 7))
		return -EINVAL;
	p = strchr(h, '/');
	if (!p)
		p = h + strlen(h);
	hl = (size_t)(p - h);
	if (!hl || hl >= sizeof(cfg->host))
		return -EINVAL;
	memcpy(cfg->host, h, hl);
	cfg->host[hl] = 0;
	colon = memchr(h, ':', hl);
	if (colon) {
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno || end != p || colon + 1 == p || port < 1 || port > 65535)
			return -EINVAL;
		hl = (size_t)(colon - h);
	}
	if (!hl || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = 0;
	if (!strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	cfg->addr.sin_family = AF_INET;
	cfg->addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &cfg->addr.sin_addr) != 1)
		return -EINVAL;
	cfg->path = *p ? p : "/";
	return 0;
}

static int parse_args(int argc, char **argv, struct config *cfg, bool *self)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },    { "conns", required_argument, NULL, 'c' },
		{ "rate", required_argument, NULL, 'r' },   { "secs", required_argument, NULL, 's' },
		{ "header", required_argument, NULL, 'H' }, { "warmup", required_argument, NULL, 'w' },
		{ "self-test", no_argument, NULL, 'T' },    { NULL, 0, NULL, 0 },
	};
	double d;
	int o;

	*cfg = (struct config){ .conns = 500, .rate = 20000, .secs = 10, .warmup = 1 };
	*self = false;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'u':
			cfg->url = optarg;
			if (parse_url(optarg, cfg) < 0)
				return usage_error("--url: expected http://A.B.C.D[:PORT][/path] (IPv4), got '%s'",
						   optarg);
			break;
		case 'c':
			if (parse_num(optarg, 1, 100000, &d) < 0 || d != (unsigned)d)
				return usage_error("--conns: expected an integer 1-100000, got '%s'", optarg);
			cfg->conns = (unsigned)d;
			break;
		case 'r':
			if (parse_num(optarg, 0.001, 1e8, &cfg->rate) < 0)
				return usage_error("--rate: expected requests per second > 0 (at most 1e8), got '%s'",
						   optarg);
			break;
		case 's':
			if (parse_num(optarg, 0.001, 86400, &cfg->secs) < 0)
				return usage_error("--secs: expected seconds > 0 (at most 86400), got '%s'", optarg);
			break;
		case 'w':
			if (parse_num(optarg, 0, 3600, &cfg->warmup) < 0)
				return usage_error("--warmup: expected seconds >= 0 (at most 3600), got '%s'", optarg);
			break;
		case 'H':
			if (!strchr(optarg, ':') || strpbrk(optarg, "\r\n") || optarg[0] == ':')
				return usage_error("--header: expected 'Name: value' on one line, got '%s'", optarg);
			if (cfg->n_headers == LOAD_MAX_HEADERS)
				return usage_error("--header: at most 32, '%s' is one too many", optarg);
			cfg->headers[cfg->n_headers++] = optarg;
			break;
		case 'T':
			*self = true;
			break;
		default:
			return usage_error("unknown option or missing value: '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (*self)
		return 0;
	if (!cfg->url)
		return usage_error("--url is required%s", "");
	if ((cfg->warmup + cfg->secs) * cfg->rate > 4e9)
		return usage_error("--rate x (--secs + --warmup) is over 4e9 requests%s", "");
	return 0;
}

static int build_request(struct gen *g)
{
	const struct config *cfg = g->cfg;
	bool own_host = false;
	size_t n, cap = sizeof(g->req);
	unsigned k;
	int w;

	for (k = 0; k < cfg->n_headers; k++)
		own_host |= !strncasecmp(cfg->headers[k], "Host:", 5);
	w = snprintf(g->req, cap, "GET %s HTTP/1.1\r\n", cfg->path);
	if (w < 0 || (size_t)w >= cap)
		return -ENOSPC;
	n = (size_t)w;
	if (!own_host) {
		w = snprintf(g->req + n, cap - n, "Host: %s\r\n", cfg->host);
		if (w < 0 || (size_t)w >= cap - n)
			return -ENOSPC;
		n += (size_t)w;
	}
	for (k = 0; k < cfg->n_headers; k++) {
		w = snprintf(g->req + n, cap - n, "%s\r\n", cfg->headers[k]);
		if (w < 0 || (size_t)w >= cap - n)
			return -ENOSPC;
		n += (size_t)w;
	}
	w = snprintf(g->req + n, cap - n, "\r\n");
	if (w < 0 || (size_t)w >= cap - n)
		return -ENOSPC;
	g->req_len = n + (size_t)w;
	return 0;
}

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = LOAD_SIG_TAG };
	struct config cfg;
	struct rlimit rl;
	struct gen *g = NULL;
	sigset_t sigs;
	int rc, ret = 1;
	bool self;
	unsigned k;

	rc = parse_args(argc, argv, &cfg, &self);
	if (rc)
		return rc;
	if (self)
		return self_test();

	/* One descriptor per connection plus a few; raise the soft limit as far as allowed. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < cfg.conns + 16u) {
		rl.rlim_cur = rl.rlim_max < cfg.conns + 16u ? rl.rlim_max : cfg.conns + 16u;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < cfg.conns + 16u) {
			fprintf(stderr, "http_load: --conns %u needs %u file descriptors, the limit is %llu\n",
				cfg.conns, cfg.conns + 16u, (unsigned long long)rl.rlim_max);
			return 2;
		}
	}
	/* The default timer slack (50 us) would blur every wake-up for the next request. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

	g = calloc(1, sizeof(*g));
	if (!g)
		goto out;
	g->cfg = &cfg;
	g->ep = g->sfd = -1;
	g->ns_per_req = 1e9 / cfg.rate;
	g->total = (uint64_t)((cfg.warmup + cfg.secs) * cfg.rate + 0.5);
	g->warm_n = (uint64_t)(cfg.warmup * cfg.rate + 0.5);
	if (build_request(g) < 0) {
		fprintf(stderr, "http_load: the request is over %zu bytes\n", sizeof(g->req));
		ret = 2;
		goto out_gen;
	}
	g->conns = calloc(cfg.conns, sizeof(*g->conns));
	if (!g->conns) {
		fprintf(stderr, "http_load: out of memory for %u connections\n", cfg.conns);
		goto out_gen;
	}
	for (k = 0; k < cfg.conns; k++) {
		g->conns[k].fd = -1;
		g->conns[k].next = k;
	}
	g->ep = epoll_create1(EPOLL_CLOEXEC);
	if (g->ep < 0) {
		fprintf(stderr, "http_load: epoll_create1: %s\n", strerror(errno));
		goto out_conns;
	}
	/* Ctrl-C arrives as an epoll event, so the loop ends cleanly and prints partial figures. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	g->sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (g->sfd < 0 || epoll_ctl(g->ep, EPOLL_CTL_ADD, g->sfd, &ev) < 0) {
		fprintf(stderr, "http_load: signalfd: %s\n", strerror(errno));
		goto out_ep;
	}
	rc = connect_all(g);
	if (rc < 0) {
		fprintf(stderr, "http_load: cannot open %u connections to %s:%u: %s\n", cfg.conns,
			inet_ntoa(cfg.addr.sin_addr), ntohs(cfg.addr.sin_port), strerror(-rc));
		goto out_sig;
	}
	run(g);
	ret = report(g);
out_sig:
	for (k = 0; k < cfg.conns; k++)
		if (g->conns[k].fd >= 0)
			close(g->conns[k].fd);
	close(g->sfd);
out_ep:
	close(g->ep);
out_conns:
	free(g->conns);
out_gen:
	free(g);
out:
	return ret;
}
