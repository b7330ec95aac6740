/* SPDX-License-Identifier: MIT */
/* test_sockclose.c: deferred closes release the socket (the peer sees end of file) and keep nothing else open. */
#include "sockclose.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define EOF_WAIT_MS 10000 /* a bound against a hang, not a speed requirement */

/* True once the other end of fd's connection is gone: end of file within EOF_WAIT_MS. */
static bool peer_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, EOF_WAIT_MS) != 1)
		return false;
	return read(fd, &c, 1) == 0;
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

Test(sockclose, deferred_close_releases_the_socket)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	enum sockclose_how how = sockclose_deferred(&sv[0], 1);
	cr_expect_neq(how, SOCKCLOSE_WAITED, "neither io_uring nor a child took the socket");
	cr_expect_not(fd_open(sv[0]), "the descriptor is still open after sockclose_deferred");
	cr_expect(peer_gone(sv[1]), "the peer never saw end of file: the socket was not released");
	close(sv[1]);
}

Test(sockclose, child_releases_the_socket_and_keeps_nothing_else)
{
	int sv[2], pfd[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(pipe(pfd), 0);
	cr_expect_eq(sockclose_deferred_child(&sv[0], 1), SOCKCLOSE_CHILD);
	cr_expect_not(fd_open(sv[0]), "the descriptor is still open after sockclose_deferred_child");
	cr_expect(peer_gone(sv[1]), "the peer never saw end of file: the holder kept the socket");
	/* The holder was forked while the pipe was open: it must have closed its copy of the
	 * write end, or this read would wait for the holder rather than see end of file. */
	close(pfd[1]);
	cr_expect(peer_gone(pfd[0]), "the holder kept a copy of an unrelated descriptor");
	close(pfd[0]);
	close(sv[1]);
}

Test(sockclose, several_at_once_and_invalid_entries)
{
	int a[2], b[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b), 0);
	int fds[] = { b[0], -1, a[0] };
	cr_expect_neq(sockclose_deferred(fds, 3), SOCKCLOSE_WAITED);
	cr_expect(peer_gone(a[1]));
	cr_expect(peer_gone(b[1]));
	int none[] = { -1 };
	sockclose_deferred(none, 1);
	sockclose_deferred(NULL, 0);
	close(a[1]);
	close(b[1]);
}

Test(sockclose, packet_socket, .description = "needs CAP_NET_RAW")
{
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

	if (fd < 0)
		cr_skip_test("no packet socket without CAP_NET_RAW (%s)", strerror(errno));
	cr_expect_neq(sockclose_deferred(&fd, 1), SOCKCLOSE_WAITED);
	cr_expect_not(fd_open(fd));
}
