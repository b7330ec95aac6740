/* SPDX-License-Identifier: MIT */
/*
 * lab_proc.h: the child processes of the tests that drive the built binaries: one-shot runs
 * captured whole (lab_capture), and children read while they run (lab_proc: lnmtd, lnmt-http, lnmt
 * watch), started, awaited on a line of their output with a deadline, and stopped with SIGTERM,
 * a bounded wait and SIGKILL. Header-only, like lab_env.h: each test executable includes it
 * once, and a test that uses only part of it builds without unused-function warnings.
 *
 * Every wait here blocks on a pipe or a pidfd with a deadline; nothing sleeps to synchronise.
 * Failures to create a pipe or to fork fail the running test (cr_assert); everything else is
 * returned, so the test words the assertion and puts the child's output in it.
 */
#ifndef LNMT_TESTS_LAB_PROC_H
#define LNMT_TESTS_LAB_PROC_H

#include "lab_env.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* How long lnmtd (or lnmt-http) may take to say it is listening. */
#define LAB_START_MS 15000
/* How long a server may take to exit after SIGTERM before it is killed. */
#define LAB_STOP_MS 20000
/* How long a child may take to die after SIGKILL before the test gives up waiting on it. */
#define LAB_KILL_MS 5000

/* exit code, or 128 + signal, from a waitpid() status */
static inline int lab_wait_status(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- one-shot runs, captured whole ---- */

enum lab_run_flags {
	LAB_RUN_MERGE = 1 << 0,       /* stderr goes into out too, interleaved as written; err stays "" */
	LAB_RUN_KEEP_STDERR = 1 << 1, /* stderr is the test's own (shows in the test log); err stays "" */
	LAB_RUN_EMPTY_NETNS = 1 << 2, /* as root, the child runs in a fresh network namespace with only a
				       * down loopback: a guard for commands that must never send */
};

struct lab_run {
	int status;    /* exit code, or 128 + signal */
	char *out;     /* stdout, NUL-terminated; owned: lab_run_free() */
	char *err;     /* stderr, NUL-terminated ("" under LAB_RUN_MERGE or LAB_RUN_KEEP_STDERR); owned */
	size_t out_len, err_len;
	double secs;   /* from fork to exit */
};

static inline void lab_buf_append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t c = *cap ? *cap : 4096;
		while (c < *len + n + 1)
			c *= 2;
		char *b = realloc(*buf, c);
		cr_assert_not_null(b, "out of memory reading a child's output (%zu bytes)", c);
		*buf = b;
		*cap = c;
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/*
 * Runs argv (argv[0] searched in PATH) with stdin from /dev/null, reads its stdout and stderr
 * apart until both close, and waits for it; no deadline (the test's timeout bounds it).
 * flags: enum lab_run_flags. Free the result with lab_run_free().
 */
static inline struct lab_run lab_capture(char *const argv[], int flags)
{
	struct lab_run r = { 0 };
	size_t out_cap = 0, err_cap = 0;
	int po[2], pe[2] = { -1, -1 };
	bool err_apart = !(flags & (LAB_RUN_MERGE | LAB_RUN_KEEP_STDERR));

	cr_assert_eq(pipe2(po, O_CLOEXEC), 0, "pipe: %s", strerror(errno));
	if (err_apart)
		cr_assert_eq(pipe2(pe, O_CLOEXEC), 0, "pipe: %s", strerror(errno));
	lab_buf_append(&r.out, &r.out_len, &out_cap, "", 0);
	lab_buf_append(&r.err, &r.err_len, &err_cap, "", 0);
	uint64_t t0 = now_ms();
	pid_t pid = fork();
	cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		if (null < 0 || dup2(null, 0) < 0 || dup2(po[1], 1) < 0)
			_exit(126);
		if ((flags & LAB_RUN_MERGE) && dup2(po[1], 2) < 0)
			_exit(126);
		if (err_apart && dup2(pe[1], 2) < 0)
			_exit(126);
		if ((flags & LAB_RUN_EMPTY_NETNS) && geteuid() == 0 && unshare(CLONE_NEWNET) != 0) {
			dprintf(2, "lab_capture: unshare(CLONE_NEWNET) failed: %s; not running %s as root in the "
				   "host's network namespace\n", strerror(errno), argv[0]);
			_exit(125);
		}
		execvp(argv[0], argv);
		dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(po[1]);
	if (err_apart)
		close(pe[1]);
	struct pollfd fds[2] = { { .fd = po[0], .events = POLLIN }, { .fd = pe[0], .events = POLLIN } };
	int open_fds = err_apart ? 2 : 1;
	while (open_fds > 0) {
		char chunk[65536];
		if (poll(fds, 2, -1) < 0) { /* poll skips the fd -1 of a closed (or absent) pipe */
			cr_assert_eq(errno, EINTR, "poll: %s", strerror(errno));
			continue;
		}
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || !fds[i].revents)
				continue;
			ssize_t n = read(fds[i].fd, chunk, sizeof(chunk));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(fds[i].fd);
				fds[i].fd = -1;
				open_fds--;
			} else if (i == 0) {
				lab_buf_append(&r.out, &r.out_len, &out_cap, chunk, (size_t)n);
			} else {
				lab_buf_append(&r.err, &r.err_len, &err_cap, chunk, (size_t)n);
			}
		}
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
	r.secs = (double)(now_ms() - t0) / 1000.0;
	r.status = lab_wait_status(st);
	return r;
}

/* Accepts a zeroed struct; leaves r zeroed. */
static inline void lab_run_free(struct lab_run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

/* ---- children read while they run ---- */

/* What goes into a lab_proc's log: stderr only (stdout to /dev/null), or stdout and stderr. */
enum lab_proc_out { LAB_PROC_STDERR, LAB_PROC_STDOUT_STDERR };

/*
 * A running child and what it wrote so far. Initialise with lab_proc_init(); the log holds at
 * most sizeof(log) - 1 bytes: once it is full the pipe is closed (the child then gets EPIPE).
 */
struct lab_proc {
	pid_t pid;          /* 0: none running */
	int pidfd;          /* readable once it exited; -1 when none */
	int fd;             /* read end of its output pipe; -1 at EOF or when none */
	int status;         /* after lab_proc_wait()/lab_proc_stop(): their result */
	size_t len;
	char log[1 << 20];  /* its output, NUL-terminated */
};

static inline void lab_proc_init(struct lab_proc *p)
{
	p->pid = 0;
	p->pidfd = p->fd = -1;
	p->status = 0;
	p->len = 0;
	p->log[0] = '\0';
}

/*
 * Starts argv (searched in PATH) with stdin from /dev/null and `out` into p->log; returns at
 * once. `ip netns exec NS prog` execs prog itself, so p->pid is then prog's pid.
 */
static inline void lab_proc_start(struct lab_proc *p, char *const argv[], enum lab_proc_out out)
{
	int fds[2];

	lab_proc_init(p);
	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0, "pipe: %s", strerror(errno));
	p->pid = fork();
	cr_assert_neq(p->pid, -1, "fork: %s", strerror(errno));
	if (p->pid == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null < 0 || dup2(null, 0) < 0 || dup2(out == LAB_PROC_STDERR ? null : fds[1], 1) < 0 ||
		    dup2(fds[1], 2) < 0)
			_exit(126);
		execvp(argv[0], argv);
		dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	p->fd = fds[0];
	p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	cr_assert_geq(p->pidfd, 0, "pidfd_open: %s", strerror(errno));
}

/* Appends what p wrote to p->log, waiting up to ms for something; false at EOF or timeout. */
static inline bool lab_proc_read(struct lab_proc *p, int ms)
{
	struct pollfd pfd = { .fd = p->fd, .events = POLLIN };

	if (p->fd < 0 || poll(&pfd, 1, ms) <= 0)
		return false;
	ssize_t n = read(p->fd, p->log + p->len, sizeof(p->log) - 1 - p->len);
	if (n <= 0) {
		close(p->fd);
		p->fd = -1;
		return false;
	}
	p->len += (size_t)n;
	p->log[p->len] = '\0';
	return true;
}

/* Appends what is already there, without waiting. */
static inline void lab_proc_drain(struct lab_proc *p)
{
	while (lab_proc_read(p, 0))
		;
}

/* Reads until p->log holds text; false when the output ends or ms pass first. */
static inline bool lab_proc_read_until(struct lab_proc *p, const char *text, int ms)
{
	uint64_t deadline = now_ms() + (uint64_t)ms;

	while (!strstr(p->log, text)) {
		if (!lab_proc_read(p, left_ms(deadline)) && (p->fd < 0 || !left_ms(deadline)))
			return false;
	}
	return true;
}

/* Closes what is left open of p without signalling it; p->pid becomes 0. */
static inline void lab_proc_close(struct lab_proc *p)
{
	if (p->fd >= 0)
		close(p->fd);
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->fd = p->pidfd = -1;
	p->pid = 0;
}

/*
 * Waits up to ms for p to exit, reading its output meanwhile (the rest once it exited). Returns
 * and stores in p->status its exit code (or 128 + signal), or -1 if it still runs at the
 * deadline (then p is left as it was). 0 when none runs.
 */
static inline int lab_proc_wait(struct lab_proc *p, int ms)
{
	uint64_t deadline = now_ms() + (uint64_t)ms;

	if (!p->pid)
		return 0;
	for (;;) {
		struct pollfd fds[2] = { { .fd = p->pidfd, .events = POLLIN }, { .fd = p->fd, .events = POLLIN } };
		int n = poll(fds, p->fd >= 0 ? 2 : 1, left_ms(deadline));
		if (n < 0 && errno == EINTR)
			continue;
		if (fds[1].revents)
			lab_proc_read(p, 0);
		if (fds[0].revents) {
			int st;
			while (waitpid(p->pid, &st, 0) < 0)
				cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
			lab_proc_drain(p);
			lab_proc_close(p);
			return p->status = lab_wait_status(st);
		}
		if (!left_ms(deadline))
			return p->status = -1;
	}
}

/*
 * Sends sig (0: none, for a child expected to end by itself) and waits up to ms for p to exit;
 * if it does not, kills it (SIGKILL, then up to LAB_KILL_MS). Returns and stores in p->status its
 * exit code (or 128 + signal), -1 when it had to be killed; 0 when none runs. Its log is
 * complete afterwards and p is closed.
 */
static inline int lab_proc_stop(struct lab_proc *p, int sig, int ms)
{
	if (!p->pid)
		return 0;
	if (sig)
		kill(p->pid, sig);
	if (lab_proc_wait(p, ms) >= 0)
		return p->status;
	kill(p->pid, SIGKILL);
	if (lab_proc_wait(p, LAB_KILL_MS) < 0)
		lab_proc_close(p); /* not even SIGKILL ended it: leave it to init */
	return p->status = -1;
}

/* ---- lnmtd ---- */

/*
 * Starts $LNMTD_BIN --foreground --socket sock --db db [extra...] (extra NULL-terminated, may be
 * NULL) in the lab's scanner namespace, its stderr into p->log, and returns once it logged that
 * it listens; fails the test with its whole log when it does not within LAB_START_MS.
 */
static inline void lab_start_lnmtd(struct lab_proc *p, const char *sock, const char *db, const char *const *extra)
{
	char *argv[24] = { "ip", "netns", "exec", (char *)scan_ns(), (char *)need_env("LNMTD_BIN"), "--foreground",
			   "--socket", (char *)sock, "--db", (char *)db };
	int n = 10;

	for (; extra && *extra; extra++) {
		cr_assert_lt(n, 23, "too many lnmtd arguments");
		argv[n++] = (char *)*extra;
	}
	argv[n] = NULL;
	lab_proc_start(p, argv, LAB_PROC_STDERR);
	if (!lab_proc_read_until(p, "lnmtd: listening on ", LAB_START_MS))
		cr_assert_fail("lnmtd did not start listening within %d ms; its log:\n%s", LAB_START_MS, p->log);
}

/* SIGTERM to lnmtd (or lnmt-http), LAB_STOP_MS to exit: lab_proc_stop()'s result. */
static inline int lab_stop_server(struct lab_proc *p)
{
	return lab_proc_stop(p, SIGTERM, LAB_STOP_MS);
}

/*
 * The main() of a lab test executable: the tests share one lab (and one lnmtd at a time), so
 * they never run two at once (jobs = 1); when every test skipped (no root, no lab), it exits 77
 * so that meson reports SKIP rather than OK. Use once per executable: LAB_TESTS_MAIN();
 */
#define LAB_TESTS_MAIN()                                                                            \
	static bool lab_nothing_ran;                                                                \
	ReportHook(POST_ALL)(struct criterion_global_stats *stats)                                  \
	{                                                                                           \
		lab_nothing_ran = stats->tests_passed + stats->tests_failed + stats->tests_crashed == 0; \
	}                                                                                           \
	int main(int argc, char *argv[])                                                            \
	{                                                                                           \
		struct criterion_test_set *tests = criterion_initialize();                           \
		int result = 0;                                                                     \
		if (criterion_handle_args(argc, argv, true)) {                                      \
			criterion_options.jobs = 1;                                                 \
			result = !criterion_run_all_tests(tests);                                   \
			if (result == 0 && lab_nothing_ran)                                         \
				result = 77;                                                        \
		}                                                                                   \
		criterion_finalize(tests);                                                          \
		return result;                                                                      \
	}                                                                                           \
	extern int lab_tests_main_used /* so that the use ends with a semicolon */

#endif
