/* SPDX-License-Identifier: MIT */
/* rpc_server.c: the MessagePack-RPC server: unix socket, epoll loop, notification queue. */
#include "rpc_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define LISTEN_BACKLOG 1024
#define FDS_WANTED 4096          /* open files a server wants room for */
#define FDS_RAISE_MAX 65536      /* ... and the most it raises the soft limit to */
#define MAX_EVENTS 256
#define ACCEPTS_PER_ROUND 1024
#define READS_PER_EVENT 8        /* then the next connection's turn (epoll is level-triggered) */

/* A notification packed by rpc_server_notify(), waiting for the server thread. */
struct note {
	struct note *next;
	char topic[RPC_TOPIC_LEN];
	size_t len;
	char data[];
};

struct rpc_server {
	struct rpc_core core;
	int lfd;                     /* listening socket; -1 once stopped */
	int epfd;
	int evfd;                    /* wakes the loop: notifications, rpc_server_wake() */
	int spare_fd;                /* given up to refuse a client when out of descriptors */
	bool accept_paused;          /* listening socket out of the epoll set (no descriptors) */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;                   /* the socket file we made: only that one is unlinked */
	ino_t ino;
	struct rpc_conn *conns;      /* live connections */
	struct rpc_conn *dead;       /* closed in this poll round, freed at its end */
	pthread_mutex_t lock;        /* guards the queue below */
	struct note *q_head, **q_tail;
	size_t q_len, q_bytes;
};

/* The server wants a few thousand descriptors; raise the soft limit towards the hard one. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= FDS_WANTED || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max < FDS_RAISE_MAX ? rl.rlim_max : FDS_RAISE_MAX;
	setrlimit(RLIMIT_NOFILE, &rl); /* best effort: the server works with fewer */
}

/* After bind() failed with EADDRINUSE: 0 when the file was a dead socket (removed now),
 * -EADDRINUSE when a server answers there, -EEXIST when it is not a socket. */
static int clear_stale(const struct sockaddr_un *addr)
{
	struct stat st;
	int fd, rc;

	if (lstat(addr->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0 || errno == EAGAIN)
		rc = -EADDRINUSE; /* accepted, or a full backlog: alive either way */
	else if (errno == ECONNREFUSED)
		rc = unlink(addr->sun_path) < 0 && errno != ENOENT ? -errno : 0;
	else if (errno == ENOENT)
		rc = 0;
	else
		rc = -errno;
	close(fd);
	return rc;
}

static int listen_at(struct rpc_server *s, const char *path, unsigned mode)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc;

	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	for (int attempt = 0;; attempt++) {
		if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
			break;
		rc = -errno;
		if (rc != -EADDRINUSE || attempt > 0)
			goto fail_close;
		rc = clear_stale(&addr);
		if (rc)
			goto fail_close;
	}
	/* Mode before listen(): nobody connects while the umask's mode is in force. */
	if (chmod(path, mode) < 0 || stat(path, &st) < 0) {
		rc = -errno;
		goto fail_unlink;
	}
	if (listen(fd, LISTEN_BACKLOG) < 0) {
		rc = -errno;
		goto fail_unlink;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->lfd = fd;
	return 0;
fail_unlink:
	unlink(path);
fail_close:
	close(fd);
	return rc;
}

static int ep_add(struct rpc_server *s, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void unlink_own(struct rpc_server *s)
{
	struct stat st;

	if (stat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
		unlink(s->path);
}

int rpc_server_open(struct rpc_server **out, const char *path, unsigned mode, const struct rpc_method *methods,
		    size_t n, void *ctx)
{
	struct rpc_server *s;
	int rc;

	if (!out || !path || !*path || (!methods && n))
		return -EINVAL;
	if (strlen(path) >= sizeof(s->path))
		return -ENAMETOOLONG;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->lfd = s->epfd = s->evfd = s->spare_fd = -1;
	s->q_tail = &s->q_head;
	strcpy(s->path, path);
	rc = rpc_core_init(&s->core, methods, n, ctx);
	if (rc)
		goto fail_free;
	rc = -pthread_mutex_init(&s->lock, NULL);
	if (rc)
		goto fail_core;
	raise_nofile();
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->epfd < 0 || s->evfd < 0) {
		rc = -errno;
		goto fail_fds;
	}
	s->spare_fd = eventfd(0, EFD_CLOEXEC); /* may fail: then clients wait instead */
	rc = ep_add(s, s->evfd, EPOLLIN, &s->evfd);
	if (rc)
		goto fail_fds;
	rc = listen_at(s, path, mode);
	if (rc)
		goto fail_fds;
	rc = ep_add(s, s->lfd, EPOLLIN, &s->lfd);
	if (rc)
		goto fail_listen;
	*out = s;
	return 0;
fail_listen:
	close(s->lfd);
	unlink_own(s);
fail_fds:
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	if (s->evfd >= 0)
		close(s->evfd);
	if (s->epfd >= 0)
		close(s->epfd);
	pthread_mutex_destroy(&s->lock);
fail_core:
	rpc_core_fini(&s->core);
fail_free:
	free(s);
	return rc;
}

int rpc_server_fd(const struct rpc_server *s)
{
	return s->epfd;
}

static void pause_accept(struct rpc_server *s)
{
	if (s->lfd >= 0 && !s->accept_paused && epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->lfd, NULL) == 0)
		s->accept_paused = true;
}

static void resume_accept(struct rpc_server *s)
{
	if (s->lfd >= 0 && s->accept_paused && ep_add(s, s->lfd, EPOLLIN, &s->lfd) == 0)
		s->accept_paused = false;
}

/* Closes c now (its events later in this round are skipped) and frees it at the round's end. */
static void kill_conn(struct rpc_server *s, struct rpc_conn *c, bool dropped)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	close(c->fd); /* also leaves the epoll set */
	c->fd = -1;
	c->dead = true;
	c->prev = NULL;
	c->next = s->dead;
	s->dead = c;
	__atomic_fetch_sub(&s->core.stats.connections, 1, __ATOMIC_RELAXED);
	if (dropped)
		RPC_STAT_ADD(&s->core, dropped_clients, 1);
	resume_accept(s);
}

/* Sends what the socket takes, closes a finished connection, sets the epoll interest. */
static void settle(struct rpc_server *s, struct rpc_conn *c, bool hup)
{
	int rc = rpc_conn_flush(c);
	uint32_t want;

	if (rc < 0 || (c->closing && (rc == 0 || hup))) {
		kill_conn(s, c, false);
		return;
	}
	want = (c->closing ? 0 : EPOLLIN) | (rc == 1 ? EPOLLOUT : 0);
	if (want != c->events) {
		struct epoll_event ev = { .events = want, .data.ptr = c };

		if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
			kill_conn(s, c, false);
			return;
		}
		c->events = want;
	}
}

/* Reads and dispatches; false when c was closed. */
static bool read_conn(struct rpc_server *s, struct rpc_conn *c)
{
	for (int i = 0; i < READS_PER_EVENT; i++) {
		char *p;
		size_t avail;
		ssize_t n;
		int rc = rpc_conn_reserve(c, &p, &avail);

		if (rc) {
			kill_conn(s, c, true);
			return false;
		}
		n = recv(c->fd, p, avail, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			kill_conn(s, c, false);
			return false;
		}
		if (n == 0) {
			/* The client is done sending; it may still read its responses. */
			c->closing = true;
			break;
		}
		c->in_len += (size_t)n;
		rc = rpc_conn_process(c);
		if (rc == -ENOBUFS) {
			kill_conn(s, c, true);
			return false;
		}
		if (rc < 0) {
			/* Bad input: the client's writes fail from now on; it can read the error. */
			shutdown(c->fd, SHUT_RD);
			break;
		}
		if ((size_t)n < avail)
			break;
	}
	return true;
}

static void conn_event(struct rpc_server *s, struct rpc_conn *c, uint32_t events)
{
	if (c->dead)
		return;
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->closing && !read_conn(s, c))
		return;
	if ((events & EPOLLERR) && c->closing) {
		kill_conn(s, c, false);
		return;
	}
	settle(s, c, events & EPOLLHUP);
}

static void add_conn(struct rpc_server *s, int fd)
{
	struct rpc_conn *c;

	if (rpc_conn_new(&c, &s->core, fd)) {
		close(fd);
		RPC_STAT_ADD(&s->core, refused, 1);
		return;
	}
	if (ep_add(s, fd, EPOLLIN, c)) {
		rpc_conn_free(c);
		RPC_STAT_ADD(&s->core, refused, 1);
		return;
	}
	c->events = EPOLLIN;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	RPC_STAT_ADD(&s->core, connections, 1);
	RPC_STAT_ADD(&s->core, accepted, 1);
}

/*
 * Out of descriptors: accept the next client on the spare descriptor and close it, so it
 * learns at once rather than waiting, and the listening socket does not stay readable with
 * nothing to do. Without a spare, stop listening until a connection closes. True to go on.
 */
static bool refuse_one(struct rpc_server *s)
{
	int fd;

	if (s->spare_fd < 0) {
		pause_accept(s);
		return false;
	}
	close(s->spare_fd);
	fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		RPC_STAT_ADD(&s->core, refused, 1);
	}
	s->spare_fd = eventfd(0, EFD_CLOEXEC);
	if (fd < 0 || s->spare_fd < 0) {
		pause_accept(s);
		return false;
	}
	return true;
}

static void accept_all(struct rpc_server *s)
{
	for (int i = 0; i < ACCEPTS_PER_ROUND && s->lfd >= 0 && !s->accept_paused; i++) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			add_conn(s, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if ((errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) && refuse_one(s))
			continue;
		return; /* EAGAIN: all taken */
	}
}

/* Sends the queued notifications to their subscribers. */
static void deliver(struct rpc_server *s)
{
	struct note *list, *nt;
	uint64_t v;

	if (read(s->evfd, &v, sizeof(v)) < 0) {
		/* EAGAIN: woken with nothing new; the queue is looked at anyway. */
	}
	pthread_mutex_lock(&s->lock);
	list = s->q_head;
	s->q_head = NULL;
	s->q_tail = &s->q_head;
	s->q_len = s->q_bytes = 0;
	pthread_mutex_unlock(&s->lock);
	while ((nt = list)) {
		struct rpc_conn *c, *next;

		for (c = s->conns; c; c = next) {
			next = c->next;
			if (c->closing || !rpc_conn_subscribed(c, nt->topic))
				continue;
			if (rpc_conn_queue(c, nt->data, nt->len))
				kill_conn(s, c, true);
			else
				RPC_STAT_ADD(&s->core, notifications, 1);
		}
		list = nt->next;
		free(nt);
	}
	for (struct rpc_conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		if (c->dirty)
			settle(s, c, false);
	}
}

static void free_dead(struct rpc_server *s)
{
	struct rpc_conn *c;

	while ((c = s->dead)) {
		s->dead = c->next;
		rpc_conn_free(c);
	}
}

int rpc_server_poll(struct rpc_server *s, int timeout_ms)
{
	struct epoll_event ev[MAX_EVENTS];
	int n = epoll_wait(s->epfd, ev, MAX_EVENTS, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		void *p = ev[i].data.ptr;

		if (p == &s->lfd)
			accept_all(s);
		else if (p == &s->evfd)
			deliver(s);
		else
			conn_event(s, p, ev[i].events);
	}
	free_dead(s);
	return 0;
}

void rpc_server_stop_accepting(struct rpc_server *s)
{
	if (!s || s->lfd < 0)
		return;
	if (!s->accept_paused)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->lfd, NULL);
	close(s->lfd);
	s->lfd = -1;
	s->accept_paused = false;
}

void rpc_server_close(struct rpc_server *s)
{
	struct note *nt;

	if (!s)
		return;
	rpc_server_stop_accepting(s);
	while (s->conns) {
		struct rpc_conn *c = s->conns;

		s->conns = c->next;
		rpc_conn_flush(c); /* best effort: what the socket takes now */
		rpc_conn_free(c);
	}
	free_dead(s);
	while ((nt = s->q_head)) {
		s->q_head = nt->next;
		free(nt);
	}
	unlink_own(s);
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	close(s->evfd);
	close(s->epfd);
	pthread_mutex_destroy(&s->lock);
	rpc_core_fini(&s->core);
	free(s);
}

void rpc_server_wake(struct rpc_server *s)
{
	uint64_t one = 1;

	if (write(s->evfd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is full, so a wake-up is pending anyway. */
	}
}

int rpc_server_notify(struct rpc_server *s, const char *topic, const char *method, rpc_pack_fn pack_params,
		      void *arg)
{
	struct rpc_buf b = { .limit = RPC_MAX_RESPONSE };
	msgpack_packer pk;
	struct note *nt = NULL;
	size_t tl;
	int rc = 0;

	if (!s || !topic || !method || !*topic)
		return -EINVAL;
	tl = strlen(topic);
	if (tl >= RPC_TOPIC_LEN)
		return -ENAMETOOLONG;
	/* Packed here, in the caller's thread, so arg need not outlive the call. */
	msgpack_packer_init(&pk, &b, rpc_buf_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, 2);
	rpc_pack_str(&pk, method);
	if (pack_params)
		pack_params(arg, &pk);
	else
		msgpack_pack_array(&pk, 0);
	if (b.failed) {
		rc = -ENOMEM;
		goto out;
	}
	nt = malloc(sizeof(*nt) + b.len);
	if (!nt) {
		rc = -ENOMEM;
		goto out;
	}
	nt->next = NULL;
	memcpy(nt->topic, topic, tl + 1);
	nt->len = b.len;
	memcpy(nt->data, b.data, b.len);
	pthread_mutex_lock(&s->lock);
	if (s->q_len >= RPC_NOTIFY_QUEUE_MAX || s->q_bytes + b.len > RPC_NOTIFY_QUEUE_BYTES) {
		rc = -ENOBUFS;
	} else {
		*s->q_tail = nt;
		s->q_tail = &nt->next;
		s->q_len++;
		s->q_bytes += b.len;
		nt = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (!rc)
		rpc_server_wake(s);
out:
	free(nt);
	rpc_buf_fini(&b);
	return rc;
}

void rpc_server_stats(const struct rpc_server *s, struct rpc_server_stats *out)
{
	const struct rpc_server_stats *st = &s->core.stats;

	out->connections = __atomic_load_n(&st->connections, __ATOMIC_RELAXED);
	out->accepted = __atomic_load_n(&st->accepted, __ATOMIC_RELAXED);
	out->refused = __atomic_load_n(&st->refused, __ATOMIC_RELAXED);
	out->requests = __atomic_load_n(&st->requests, __ATOMIC_RELAXED);
	out->errors = __atomic_load_n(&st->errors, __ATOMIC_RELAXED);
	out->notifications = __atomic_load_n(&st->notifications, __ATOMIC_RELAXED);
	out->dropped_clients = __atomic_load_n(&st->dropped_clients, __ATOMIC_RELAXED);
}
