/* SPDX-License-Identifier: MIT */
/* sockclose.c: closing packet sockets off the caller's path (see sockclose.h for why and how). */
#include "sockclose.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

/* Copies the valid descriptors of fds, sorted ascending, into out; returns how many. */
static unsigned valid_sorted(const int *fds, unsigned n, int *out)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n && i < SOCKCLOSE_MAX; i++) {
		if (fds[i] < 0)
			continue;
		unsigned j = k++;
		for (; j > 0 && out[j - 1] > fds[i]; j--)
			out[j] = out[j - 1];
		out[j] = fds[i];
	}
	return k;
}

static void close_all(const int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
}

static bool by_uring(const int *fds, unsigned n)
{
	struct io_uring ring;

	if (io_uring_queue_init(1, &ring, 0) < 0)
		return false;
	if (io_uring_register_files(&ring, fds, n) < 0) {
		io_uring_queue_exit(&ring);
		return false;
	}
	/* Our descriptors first, the ring last: the ring's references must be the last ones,
	 * and they are dropped by the kernel's workqueue after io_uring_queue_exit() returns. */
	close_all(fds, n);
	io_uring_queue_exit(&ring);
	return true;
}

/* Closes [lo, hi] (hi may be ~0u); only async-signal-safe calls: this runs in a forked child. */
static void close_span(unsigned lo, unsigned hi)
{
	if (lo > hi)
		return;
	if (close_range(lo, hi, 0) == 0)
		return;
	/* Kernels before 5.9: one by one, up to a bound no descriptor of ours reaches. */
	for (unsigned fd = lo; fd <= hi && fd < 65536; fd++)
		close((int)fd);
}

/*
 * The holder: keeps only the sockets (sorted fds[0..n-1]) and the read end rd of the pipe,
 * waits for end of file on rd (the caller has closed its own copies of the sockets, or is
 * gone), then closes the sockets, which is where the grace periods are waited out, and exits.
 * Closing everything else first matters: a copy of the caller's stdout would keep a reader
 * of its pipe waiting, and a copy of any other file would outlive the caller's close of it.
 */
static _Noreturn void hold(const int *fds, unsigned n, int rd)
{
	int keep[SOCKCLOSE_MAX + 1];
	unsigned k = 0, next = 0;
	bool rd_kept = false;

	for (unsigned i = 0; i < n; i++) {
		if (!rd_kept && rd < fds[i]) {
			keep[k++] = rd;
			rd_kept = true;
		}
		keep[k++] = fds[i];
	}
	if (!rd_kept)
		keep[k++] = rd;
	for (unsigned i = 0; i < k; i++) {
		if (keep[i] > 0)
			close_span(next, (unsigned)keep[i] - 1);
		next = (unsigned)keep[i] + 1;
	}
	close_span(next, ~0u);
	char c;
	while (read(rd, &c, 1) < 0 && errno == EINTR)
		;
	close_all(fds, n);
	_exit(0);
}

static bool by_child(const int *fds, unsigned n)
{
	int pfd[2], status = 0;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return false;
	/* _Fork: no atfork handlers, and the children make only async-signal-safe calls, as
	 * they must when forked from a threaded process. */
	pid_t mid = _Fork();
	if (mid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return false;
	}
	if (mid == 0) {
		/* The middle process exits at once, so the holder is adopted by init (which reaps
		 * it) and the caller has only this short-lived child to wait for. */
		pid_t holder = _Fork();
		if (holder == 0)
			hold(fds, n, pfd[0]);
		_exit(holder < 0 ? 1 : 0);
	}
	pid_t w;
	while ((w = waitpid(mid, &status, 0)) < 0 && errno == EINTR)
		;
	/* ECHILD: someone else reaped it (a SIGCHLD handler); the holder may well exist. */
	bool held = w < 0 || (WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close_all(fds, n);
	close(pfd[1]); /* the holder's end of file: our references are gone */
	close(pfd[0]);
	return held;
}

enum sockclose_how sockclose_deferred(const int *fds, unsigned n)
{
	int v[SOCKCLOSE_MAX];
	unsigned k = valid_sorted(fds, n, v);

	if (!k)
		return SOCKCLOSE_URING;
	if (by_uring(v, k))
		return SOCKCLOSE_URING;
	return by_child(v, k) ? SOCKCLOSE_CHILD : SOCKCLOSE_WAITED;
}

enum sockclose_how sockclose_deferred_child(const int *fds, unsigned n)
{
	int v[SOCKCLOSE_MAX];
	unsigned k = valid_sorted(fds, n, v);

	if (!k)
		return SOCKCLOSE_CHILD;
	return by_child(v, k) ? SOCKCLOSE_CHILD : SOCKCLOSE_WAITED;
}
