/* SPDX-License-Identifier: MIT */
/*
 * lab_oddd.c: the lab's misbehaving servers, for the error paths of `lnmt identify`: one that
 * accepts and never answers, one that resets, one whose TLS handshake ends with a fatal alert.
 *
 * Built and started by tools/lab (`tools/lab up --services`) inside the lab namespace, never by
 * hand and never elsewhere. Each listener is one lab address and port:
 *
 *   lab_oddd --silent IP:PORT... --reset IP:PORT... --alert IP:PORT... --ready FILE
 *
 * --silent  accepts, reads and discards whatever comes, never writes; the connection stays open
 *           until the client closes it (at most ODDD_MAX_HELD at once: beyond that the oldest is
 *           closed, so a flood of clients cannot exhaust the descriptors)
 * --reset   accepts, reads the client's first bytes, then closes with SO_LINGER {1, 0}: the
 *           kernel answers with a RST instead of a FIN
 * --alert   accepts, reads until a TLS record header has arrived, answers with one fatal alert
 *           record (TLS 1.2 framing, handshake_failure, 40) and closes
 * --ready   a file written once every listener is bound: tools/lab waits for it
 *
 * The addresses are also served by nginx's wildcard listeners on the same ports: both sides set
 * SO_REUSEPORT, and the kernel prefers the listener bound to the exact address, so these take
 * their addresses' connections and nginx keeps every other one.
 *
 * Exit: SIGTERM, SIGINT or SIGHUP (through a signalfd) ends it with status 0. Errors at start
 * exit 1 with one line on stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define ODDD_MAX_LISTENERS 16
#define ODDD_MAX_HELD 8192
#define ODDD_MAX_FD 65536

enum mode { MODE_SILENT, MODE_RESET, MODE_ALERT };

static const char *const mode_names[] = { "silent", "reset", "alert" };

struct listener {
	int fd;
	enum mode mode;
};

/* What each connection fd is for: its mode, bytes read so far, its place in the silent ring. */
struct conn {
	int8_t mode; /* -1: not a connection */
	uint8_t got;
};

struct state {
	struct listener ls[ODDD_MAX_LISTENERS];
	int n_ls;
	int ep;
	struct conn conns[ODDD_MAX_FD];
	int held[ODDD_MAX_HELD]; /* silent connections, oldest first (a ring) */
	unsigned held_head, held_n;
};

static int die(const char *what, const char *detail)
{
	fprintf(stderr, "lab_oddd: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	return 1;
}

static int add_listener(struct state *s, enum mode mode, const char *spec)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int one = 1;

	if (s->n_ls == ODDD_MAX_LISTENERS)
		return die("too many listeners", spec);
	if (!colon || (size_t)(colon - spec) >= sizeof(host))
		return die("expected IP:PORT", spec);
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	long port = strtol(colon + 1, NULL, 10);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || port < 1 || port > 65535)
		return die("expected IP:PORT", spec);
	sa.sin_port = htons((uint16_t)port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return die("socket", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4096))
		return die(spec, strerror(errno));
	s->ls[s->n_ls].fd = fd;
	s->ls[s->n_ls].mode = mode;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)s->n_ls };
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev))
		return die("epoll_ctl", strerror(errno));
	s->n_ls++;
	return 0;
}

static void drop(struct state *s, int fd)
{
	epoll_ctl(s->ep, EPOLL_CTL_DEL, fd, NULL);
	s->conns[fd].mode = -1;
	close(fd);
}

/* Keeps a silent connection, closing the oldest held one when the ring is full. */
static void hold(struct state *s, int fd)
{
	if (s->held_n == ODDD_MAX_HELD) {
		int old = s->held[s->held_head];
		s->held_head = (s->held_head + 1) % ODDD_MAX_HELD;
		s->held_n--;
		if (s->conns[old].mode == MODE_SILENT)
			drop(s, old);
	}
	s->held[(s->held_head + s->held_n) % ODDD_MAX_HELD] = fd;
	s->held_n++;
}

static void on_accept(struct state *s, const struct listener *l)
{
	for (;;) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (fd >= ODDD_MAX_FD) {
			close(fd);
			continue;
		}
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u64 = ODDD_MAX_LISTENERS + (uint64_t)fd };
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			continue;
		}
		s->conns[fd].mode = (int8_t)l->mode;
		s->conns[fd].got = 0;
		if (l->mode == MODE_SILENT)
			hold(s, fd);
	}
}

static void on_data(struct state *s, int fd, uint32_t events)
{
	static const unsigned char alert[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28 };
	char buf[4096];
	struct conn *c = &s->conns[fd];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n <= 0 && !(n < 0 && errno == EAGAIN)) {
		drop(s, fd); /* the client closed (or reset) */
		return;
	}
	if (n > 0 && c->got < 250)
		c->got = (uint8_t)(c->got + (n > 250 ? 250 : n));
	switch (c->mode) {
	case MODE_SILENT:
		if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			drop(s, fd);
		return;
	case MODE_RESET: {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		drop(s, fd);
		return;
	}
	case MODE_ALERT:
		if (c->got >= 5 || (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
			if (write(fd, alert, sizeof(alert)) < 0) {
				/* the client is gone already */
			}
			drop(s, fd);
		}
		return;
	}
}

int main(int argc, char **argv)
{
	static struct state s;
	const char *ready = NULL;
	sigset_t mask;
	struct rlimit rl = { ODDD_MAX_FD, ODDD_MAX_FD };

	setrlimit(RLIMIT_NOFILE, &rl);
	for (int i = 0; i < ODDD_MAX_FD; i++)
		s.conns[i].mode = -1;
	if ((s.ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return die("epoll_create1", strerror(errno));
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			return die("option needs a value", argv[i]);
		const char *v = argv[++i];
		int rc = 0;
		if (strcmp(argv[i - 1], "--silent") == 0)
			rc = add_listener(&s, MODE_SILENT, v);
		else if (strcmp(argv[i - 1], "--reset") == 0)
			rc = add_listener(&s, MODE_RESET, v);
		else if (strcmp(argv[i - 1], "--alert") == 0)
			rc = add_listener(&s, MODE_ALERT, v);
		else if (strcmp(argv[i - 1], "--ready") == 0)
			ready = v;
		else
			return die("unknown option", argv[i - 1]);
		if (rc)
			return rc;
	}
	if (!s.n_ls || !ready)
		return die("usage: lab_oddd --silent|--reset|--alert IP:PORT... --ready FILE", NULL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	struct epoll_event sev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };
	if (sfd < 0 || epoll_ctl(s.ep, EPOLL_CTL_ADD, sfd, &sev))
		return die("signalfd", strerror(errno));
	FILE *f = fopen(ready, "w");
	if (!f)
		return die(ready, strerror(errno));
	for (int i = 0; i < s.n_ls; i++)
		fprintf(f, "%s %d\n", mode_names[s.ls[i].mode], s.ls[i].fd);
	fclose(f);
	for (;;) {
		struct epoll_event evs[256];
		int n = epoll_wait(s.ep, evs, 256, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return die("epoll_wait", strerror(errno));
		for (int i = 0; i < n; i++) {
			uint64_t k = evs[i].data.u64;
			if (k == UINT64_MAX)
				return 0;
			if (k < ODDD_MAX_LISTENERS)
				on_accept(&s, &s.ls[k]);
			else if (s.conns[k - ODDD_MAX_LISTENERS].mode >= 0)
				on_data(&s, (int)(k - ODDD_MAX_LISTENERS), evs[i].events);
		}
	}
}
