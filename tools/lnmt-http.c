/* SPDX-License-Identifier: MIT */
/*
 * lnmt-http: the HTTP/JSON API of lnmtd (api/http_server.c has the routes).
 *
 *   lnmt-http [--listen 127.0.0.1:8080] [--socket PATH] [--token-file FILE] [--threads N]
 *             [--cache-ms MS] [--timeout S]
 *
 * Listening anywhere but loopback (127.0.0.1, ::1) needs --token-file: every request must then
 * carry "Authorization: Bearer TOKEN". Logs "lnmt-http: listening on ADDR:PORT" once ready (port
 * 0 picks a free one); SIGTERM/SIGINT stop it. Exit 0, 1 (runtime failure), 2 (usage).
 */
#include "http.h"
#include "opt.h"
#include "rpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: lnmt-http [--listen ADDR:PORT] [--socket PATH] [--token-file FILE] [--threads N]\n"
		   "                 [--cache-ms MS] [--timeout S]\n"
		   "  --listen      address and port to serve (default 127.0.0.1:8080; [::1]:8080 for IPv6;\n"
		   "                port 0 picks a free one); other than loopback needs --token-file\n"
		   "  --socket      lnmtd's RPC socket (default $LNMT_SOCKET or /run/lnmt/lnmt.sock)\n"
		   "  --token-file  file holding the bearer token every request must present\n"
		   "  --threads     worker threads (default 2)\n"
		   "  --cache-ms    reuse device lists, reports and health for up to MS ms (default 1000;\n"
		   "                0: never). lnmtd's events (sweep progress, device changes) drop them\n"
		   "                at once, so they are only ever older than MS for changes lnmtd did not\n"
		   "                make itself (another process writing the store)\n"
		   "  --timeout     a request (head and body) must be in within S seconds of the connection\n"
		   "                opening, or of the previous answer on it; idle connections close then\n"
		   "                too (default 10). Late heads get 408\n"
		   "\n"
		   "serves: /  the dashboard\n"
		   "        /api/devices[/IP]  /api/health  /api/reports/{uptime,network}  /api/scans[/ID]\n"
		   "        /api/scheduler/jobs[/ID]  /api/events (server-sent)  /api/charts/*.svg  /metrics\n"
		   "        (JSON; an error is {\"error\": {\"code\", \"message\"}} with the matching status)\n"
		   "\n"
		   "example: lnmt-http --listen 0.0.0.0:8080 --token-file /etc/lnmt/http.token\n"
		   "         curl -H 'Authorization: Bearer ...' http://host:8080/api/devices?state=up\n"
		   "         then open http://host:8080/#token=... for the dashboard\n");
}

static bool parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len, bool *loopback)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(host))
			return false;
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host))
			return false;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	char *end;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (errno || *end || !colon[1] || port > 65535)
		return false;
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof(*a4);
		*loopback = a4->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
		return true;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
		*loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
		return true;
	}
	return false;
}

/* The token: the file's first line without surrounding white space; NULL with a message. */
static char *read_token(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "lnmt-http: cannot read the token file %s: %s\n", path, strerror(errno));
		return NULL;
	}
	char buf[1024];
	char *line = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!line)
		buf[0] = '\0';
	size_t n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		buf[--n] = '\0';
	char *p = buf;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strlen(p) < 16) {
		fprintf(stderr, "lnmt-http: the token in %s is empty or too short (16 characters at least)\n", path);
		return NULL;
	}
	return strdup(p);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "socket", required_argument, NULL, 's' },
		{ "token-file", required_argument, NULL, 't' },
		{ "threads", required_argument, NULL, 'T' },
		{ "cache-ms", required_argument, NULL, 'C' },
		{ "timeout", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen = "127.0.0.1:8080", *token_file = NULL, *socket = NULL;
	unsigned threads = 2, cache_ms = 1000, timeout_s = 10;
	char why[OPT_WHY_LEN];
	int o;
	while ((o = opt_next(argc, argv, "l:s:t:T:C:o:h", opts, why, sizeof(why))) != -1) {
		switch (o) {
		case 'l': listen = optarg; break;
		case 's': socket = optarg; break;
		case 't': token_file = optarg; break;
		case 'T': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v < 1 || v > 64) {
				fprintf(stderr, "lnmt-http: bad --threads '%s': 1 to 64\n", optarg);
				return 2;
			}
			threads = (unsigned)v;
			break;
		}
		case 'C': {
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || optarg[0] == '-' || v > 3600000) {
				fprintf(stderr, "lnmt-http: bad --cache-ms '%s': 0 to 3600000 milliseconds\n", optarg);
				return 2;
			}
			cache_ms = (unsigned)v;
			break;
		}
		case 'o': {
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || optarg[0] == '-' || v < 1 || v > 3600) {
				fprintf(stderr, "lnmt-http: bad --timeout '%s': 1 to 3600 seconds\n", optarg);
				return 2;
			}
			timeout_s = (unsigned)v;
			break;
		}
		case 'h': usage(stdout); return 0;
		default:
			fprintf(stderr, "lnmt-http: %s (see 'lnmt-http --help')\n", why);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "lnmt-http: unexpected argument '%s' (see 'lnmt-http --help')\n", argv[optind]);
		return 2;
	}
	struct http_config cfg = { .threads = threads, .timeout_s = timeout_s, .cache_ms = cache_ms };
	bool loopback;
	if (!parse_listen(listen, &cfg.addr, &cfg.addr_len, &loopback)) {
		fprintf(stderr, "lnmt-http: bad --listen '%s': ADDR:PORT expected (127.0.0.1:8080, [::1]:8080)\n", listen);
		return 2;
	}
	if (!loopback && !token_file) {
		fprintf(stderr, "lnmt-http: refusing to listen on %s without --token-file: only 127.0.0.1 and ::1 "
				"may be served without a bearer token\n", listen);
		return 2;
	}
	char *token = NULL;
	if (token_file && !(token = read_token(token_file)))
		return 2;
	char sockbuf[256];
	if (!socket && !(socket = rpc_default_socket(sockbuf, sizeof(sockbuf)))) {
		fprintf(stderr, "lnmt-http: the default socket path is too long\n");
		return 2;
	}
	cfg.socket = socket;
	cfg.token = token;
	/* lnmtd may start later (requests get 503 until then), but a socket that refuses this user
	 * will go on refusing it: say so now, not only in each 503. */
	struct rpc_client *probe;
	int prc = rpc_client_connect(&probe, socket);
	if (prc == 0) {
		rpc_client_close(probe);
	} else if (prc == -EACCES) {
		char msg[512];
		fprintf(stderr, "lnmt-http: %s\n", rpc_connect_error(prc, socket, msg, sizeof(msg)));
	}

	struct rlimit rl;
	/* the front's connections, libmicrohttpd's, and an RPC connection per event stream */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 32768) {
		rl.rlim_cur = rl.rlim_max < 32768 ? rl.rlim_max : 32768;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* before the server's threads exist: they inherit it */

	struct http_server *s = http_server_start(&cfg);
	if (!s) {
		fprintf(stderr, "lnmt-http: cannot listen on %s: %s\n", listen, strerror(errno));
		free(token);
		return 1;
	}
	char host[INET6_ADDRSTRLEN];
	if (cfg.addr.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&cfg.addr)->sin6_addr, host, sizeof(host));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&cfg.addr)->sin_addr, host, sizeof(host));
	fprintf(stderr, "lnmt-http: listening on %s%s%s:%u (lnmtd at %s%s)\n", cfg.addr.ss_family == AF_INET6 ? "[" : "",
		host, cfg.addr.ss_family == AF_INET6 ? "]" : "", http_server_port(s), socket,
		token ? ", bearer token required" : "");
	int sig = 0;
	sigwait(&set, &sig);
	fprintf(stderr, "lnmt-http: %s: stopping\n", strsignal(sig));
	http_server_stop(s);
	free(token);
	return 0;
}
