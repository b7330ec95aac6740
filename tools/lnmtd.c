/* SPDX-License-Identifier: MIT */
/* lnmtd.c: the lnmt daemon: the store, sweeps and a job scheduler behind a MessagePack-RPC socket. */
#include "daemon.h"

#include "cli.h"
#include "err.h"
#include "opt.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
"Usage: lnmtd [--socket PATH] [--socket-group GROUP] [--db DIR] [--config FILE] [--user NAME]\n"
"             [--foreground]\n"
"\n"
"The lnmt daemon: runs sweeps and scheduled jobs, keeps what they find in the store, and\n"
"answers MessagePack-RPC requests on a unix socket (methods: api/RPC-METHODS.md).\n"
"\n"
"  --socket PATH   where to listen (default: $LNMT_SOCKET, /run/lnmt/lnmt.sock as root,\n"
"                  else $XDG_RUNTIME_DIR/lnmt.sock); mode 0660, so the socket's group may call\n"
"  --socket-group GROUP  the socket's group: its members may call lnmtd, run sweeps among\n"
"                  them (default: " DAEMON_SOCKET_GROUP ", made by tools/lnmt.sysusers, when it exists; else\n"
"                  lnmtd's own group). Add a user with: usermod -aG " DAEMON_SOCKET_GROUP " USER\n"
"  --db DIR        the store (default: $LNMT_DB, /var/lib/lnmt as root, else\n"
"                  $XDG_DATA_HOME/lnmt); the same store `lnmt devices` and `lnmt sweeps` read\n"
"  --config FILE   KEY=VALUE settings, re-read on SIGHUP (default " DAEMON_DEFAULT_CONFIG " if it\n"
"                  exists): MAX_SWEEPS (sweeps at once, 2), OFFLINE_AFTER (missed sweeps before\n"
"                  a device is down, 2), DEFAULT_RATE (pps, 0 = unlimited), DEFAULT_RETRIES (2),\n"
"                  DEFAULT_WAIT_MS (500), PROGRESS_MS (scan.progress interval, 1000)\n"
"  --user NAME     after opening the socket and the store as root, run as NAME keeping only\n"
"                  CAP_NET_RAW, bounding set included, with no_new_privs (the store is handed\n"
"                  to NAME; the socket stays root's, so NAME's other processes cannot call)\n"
"  --foreground    stay attached to the terminal (what systemd wants); without it lnmtd\n"
"                  detaches once it listens, and exits 1 if it could not start\n"
"  -h, --help      this text;  --version  the version\n"
"\n"
"Logs one line per event on stderr. SIGTERM or SIGINT: stop accepting, stop running sweeps\n"
"(what they found is stored), exit 0. SIGHUP: re-read the config file.\n"
"\n"
"Examples:\n"
"  lnmtd --foreground --socket /tmp/lnmt.sock --db /tmp/lnmt-db\n"
"  ip netns exec lnmt-scan lnmtd --foreground      # sweep the lab from its scanner namespace\n"
"  systemctl start lnmtd                           # tools/lnmtd.service\n";

const struct rpc_method daemon_methods[] = {
	{ "system.status", m_system_status },
	{ "devices.list", m_devices_list },
	{ "devices.get", m_devices_get },
	{ "devices.annotate", m_devices_annotate },
	{ "devices.import", m_devices_import },
	{ "report.uptime", m_report_uptime },
	{ "report.network", m_report_network },
	{ "report.series", m_report_series },
	{ "scan.start", m_scan_start },
	{ "scan.status", m_scan_status },
	{ "scan.cancel", m_scan_cancel },
	{ "scan.list", m_scan_list },
	{ "sweeps.list", m_sweeps_list },
	{ "events.subscribe", m_events_subscribe },
	{ "jobs.add", m_jobs_add },
	{ "jobs.list", m_jobs_list },
	{ "jobs.remove", m_jobs_remove },
	{ "jobs.run_now", m_jobs_run_now },
};
const size_t daemon_n_methods = sizeof(daemon_methods) / sizeof(daemon_methods[0]);

struct opts {
	const char *socket, *db, *config, *user, *socket_group;
	bool foreground;
};

static int usage_error(const char *fmt, const char *arg)
{
	fputs("lnmtd: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs(" (see 'lnmtd --help')\n", stderr);
	return EXIT_USAGE;
}

/* 0, -1 after --help/--version, or EXIT_USAGE. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{ "socket", required_argument, NULL, 's' }, { "db", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' }, { "user", required_argument, NULL, 'u' },
		{ "foreground", no_argument, NULL, 'f' },   { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },      { "socket-group", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 },
	};
	char why[OPT_WHY_LEN];
	int c;

	while ((c = opt_next(argc, argv, "h", longs, why, sizeof(why))) != -1) {
		switch (c) {
		case 's': o->socket = optarg; break;
		case 'g': o->socket_group = optarg; break;
		case 'd': o->db = optarg; break;
		case 'c': o->config = optarg; break;
		case 'u': o->user = optarg; break;
		case 'f': o->foreground = true; break;
		case 'h': fputs(usage, stdout); return -1;
		case 'V': printf("lnmtd %s\n", LNMT_VERSION); return -1;
		default: return usage_error("%s", why);
		}
	}
	if (optind < argc)
		return usage_error("lnmtd takes no arguments, got '%s'", argv[optind]);
	if (o->socket && !*o->socket)
		return usage_error("%s--socket needs a path", "");
	if (o->db && !*o->db)
		return usage_error("%s--db needs a directory", "");
	if (o->socket_group && !*o->socket_group)
		return usage_error("%s--socket-group needs a group", "");
	if (o->user && !*o->user)
		return usage_error("%s--user needs a user name", "");
	return 0;
}

/* "owner root, group lnmt, mode 0660" of the socket, for the log. */
static void socket_text(const char *path, char *buf, size_t len)
{
	struct stat st;
	struct passwd pw, *pwr = NULL;
	struct group gr, *grr = NULL;
	char pwbuf[4096], grbuf[4096];

	if (stat(path, &st) < 0) {
		snprintf(buf, len, "%s", strerror(errno));
		return;
	}
	getpwuid_r(st.st_uid, &pw, pwbuf, sizeof(pwbuf), &pwr);
	getgrgid_r(st.st_gid, &gr, grbuf, sizeof(grbuf), &grr);
	snprintf(buf, len, "owner %s, group %s, mode %04o", pwr ? pw.pw_name : "?", grr ? gr.gr_name : "?",
		 (unsigned)(st.st_mode & 07777));
}

/* The socket's directory, made if missing (/run/lnmt when systemd did not make it). */
static void make_socket_dir(const char *path)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s", path);
	char *dir = dirname(buf);
	if (mkdir(dir, 0755) && errno != EEXIST)
		daemon_log("cannot create %s: %s (binding will say more)", dir, strerror(errno));
}

static int open_store(struct daemon *d, char *err, size_t errlen)
{
	struct store_options so = { .offline_after = d->cfg.offline_after };
	int rc;

	if ((rc = store_open(&d->st, d->db_dir, &so, err, errlen)))
		return rc;
	if ((rc = store_jobs_open(d->st, &d->jobs, err, errlen))) {
		store_close(d->st);
		d->st = NULL;
	}
	return rc;
}

static void close_store(struct daemon *d)
{
	store_jobs_close(d->jobs);
	d->jobs = NULL;
	store_close(d->st);
	d->st = NULL;
}

/* OFFLINE_AFTER is a store option: applying it means reopening, done once no sweep runs. */
static int reopen_store(struct daemon *d)
{
	char err[512];
	int rc;

	d->reopen_pending = false;
	close_store(d);
	if ((rc = open_store(d, err, sizeof(err)))) {
		daemon_log("reopening the store failed: %s", err);
		return rc;
	}
	daemon_log("store reopened with OFFLINE_AFTER=%u", d->cfg.offline_after);
	return 0;
}

static void reload(struct daemon *d, const struct opts *o)
{
	const char *path = o->config ? o->config : DAEMON_DEFAULT_CONFIG;
	struct daemon_config c;
	char err[512], text[256];
	int rc = daemon_config_load(path, !o->config, &c, err, sizeof(err));

	if (rc) {
		daemon_log("SIGHUP: config not reloaded, keeping the old one: %s", err);
		return;
	}
	if (c.offline_after != d->cfg.offline_after)
		d->reopen_pending = true;
	d->cfg = c;
	daemon_config_describe(&d->cfg, text, sizeof(text));
	daemon_log("SIGHUP: reloaded %s%s: %s%s", path, access(path, F_OK) ? " (not there: the defaults)" : "", text,
		   d->reopen_pending && daemon_running(d) ? " (OFFLINE_AFTER applies once the running sweeps end)" : "");
}

static int setup_signals(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* Blocked before any thread starts, so every thread inherits the mask and only the
	 * signalfd sees them. */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Without --foreground: the parent waits until the child listens (or fails) and exits with
 * that outcome, so `lnmtd && ...` means it is up. Returns the pipe to signal readiness on, or -1
 * in the foreground. Only in the child (or the foreground) does it return. */
static int daemonize(bool foreground)
{
	int p[2];

	if (foreground)
		return -1;
	if (pipe2(p, O_CLOEXEC)) {
		fprintf(stderr, "lnmtd: pipe: %s\n", strerror(errno));
		exit(1);
	}
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "lnmtd: fork: %s\n", strerror(errno));
		exit(1);
	}
	if (pid > 0) {
		char c;
		int st;
		close(p[1]);
		if (read(p[0], &c, 1) == 1)
			exit(0);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
	}
	close(p[0]);
	setsid();
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		close(null);
	}
	return p[1];
}

/* Handles the pending signals: SIGHUP reloads, SIGTERM/SIGINT start the shutdown. */
static void on_signals(struct daemon *d, const struct opts *o, int sfd)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload(d, o);
			continue;
		}
		const char *name = si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT";
		if (!d->stopping) {
			d->stopping = true;
			rpc_server_stop_accepting(d->srv);
			unsigned n = daemon_running(d);
			if (n)
				daemon_log("%s: stopping; ending %u running sweep%s (what %s found is stored)", name, n,
					   n == 1 ? "" : "s", n == 1 ? "it" : "they");
			else
				daemon_log("%s: stopping", name);
			daemon_stop_all(d, 1);
		} else {
			daemon_log("%s again: stopping the sweeps at once", name);
			daemon_stop_all(d, 2);
		}
	}
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct daemon d = { 0 };
	char err[600], sockbuf[512], cfgtext[256], sockinfo[128];
	gid_t sock_gid;
	int rc = parse_args(argc, argv, &o), sfd, ready, has_gid;

	if (rc)
		return rc < 0 ? 0 : rc;
	/* A group that is not there is a mistake on the command line: said before anything starts. */
	if ((has_gid = daemon_socket_group(o.socket_group, &sock_gid, err, sizeof(err))) < 0) {
		fprintf(stderr, "lnmtd: %s\n", err);
		return EXIT_USAGE;
	}
	ready = daemonize(o.foreground);

	daemon_config_defaults(&d.cfg);
	const char *cfg_path = o.config ? o.config : DAEMON_DEFAULT_CONFIG;
	if ((rc = daemon_config_load(cfg_path, !o.config, &d.cfg, err, sizeof(err)))) {
		daemon_log("bad config: %s", err);
		return 1;
	}
	d.config_path = cfg_path;
	if (o.db)
		snprintf(d.db_dir, sizeof(d.db_dir), "%s", o.db);
	else
		store_default_dir(d.db_dir, sizeof(d.db_dir));
	d.socket_path = o.socket ? o.socket : rpc_default_socket(sockbuf, sizeof(sockbuf));
	pthread_mutex_init(&d.lock, NULL);
	d.start_us = cli_now_us();

	if ((sfd = setup_signals()) < 0) {
		daemon_log("signals: %s", strerror(errno));
		return 1;
	}
	if (open_store(&d, err, sizeof(err))) {
		daemon_log("cannot open the store: %s", err);
		return 1;
	}
	if (!o.socket)
		make_socket_dir(d.socket_path);
	/* 0600 until it has its group: no one but lnmtd's user may connect before then. */
	rc = rpc_server_open(&d.srv, d.socket_path, 0600, daemon_methods, daemon_n_methods, &d);
	if (rc) {
		if (rc == -EADDRINUSE)
			daemon_log("%s: another server is listening there (is lnmtd running already?)", d.socket_path);
		else
			daemon_log("cannot listen on %s: %s", d.socket_path, lnmt_strerror(rc));
		close_store(&d);
		return 1;
	}
	if ((rc = daemon_socket_share(d.socket_path, has_gid == 0 ? &sock_gid : NULL, o.socket_group != NULL, err,
				      sizeof(err)))) {
		daemon_log("%s", err);
		rpc_server_close(d.srv);
		close_store(&d);
		return 1;
	}
	socket_text(d.socket_path, sockinfo, sizeof(sockinfo));
	if (o.user) {
		if ((rc = daemon_drop_privileges(o.user, d.db_dir, err, sizeof(err)))) {
			daemon_log("--user %s: %s", o.user, err);
			rpc_server_close(d.srv);
			close_store(&d);
			return 1;
		}
		daemon_log("running as %s with CAP_NET_RAW only (bounding set too, no_new_privs)", o.user);
	}
	daemon_config_describe(&d.cfg, cfgtext, sizeof(cfgtext));
	daemon_log("listening on %s (%s; store %s, pid %d, %s)", d.socket_path, sockinfo, d.db_dir, (int)getpid(),
		   cfgtext);
	if (ready >= 0) {
		if (write(ready, "R", 1) != 1)
			daemon_log("cannot tell the parent we are up: %s", strerror(errno));
		close(ready);
	}

	for (;;) {
		daemon_reap(&d);
		unsigned running = daemon_running(&d);
		if (d.stopping && running == 0)
			break;
		if (d.reopen_pending && running == 0 && reopen_store(&d)) {
			rc = 1;
			break;
		}
		int timeout = d.stopping ? -1 : daemon_schedule(&d);
		/* The end of a sweep wakes the server; a cap keeps the loop honest if a wake-up is lost. */
		if (running && (timeout < 0 || timeout > 1000))
			timeout = 1000;
		struct pollfd fds[2] = { { .fd = rpc_server_fd(d.srv), .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
		if (poll(fds, 2, timeout) < 0 && errno != EINTR) {
			daemon_log("poll: %s", strerror(errno));
			rc = 1;
			break;
		}
		if (fds[1].revents)
			on_signals(&d, &o, sfd);
		if ((rc = rpc_server_poll(d.srv, 0)) < 0) {
			daemon_log("server: %s", lnmt_strerror(rc));
			rc = 1;
			break;
		}
		rc = 0;
	}

	/* Whatever ended the loop, no sweep thread may outlive the store. */
	daemon_stop_all(&d, 1);
	while (daemon_running(&d)) {
		rpc_server_poll(d.srv, 100);
		daemon_reap(&d);
	}
	daemon_reap(&d);
	/* Hand the last notifications (scan.done) to the clients still connected. */
	for (int i = 0; i < 5; i++)
		rpc_server_poll(d.srv, 20);
	rpc_server_close(d.srv);
	close_store(&d);
	close(sfd);
	pthread_mutex_destroy(&d.lock);
	daemon_log("stopped");
	return rc;
}
