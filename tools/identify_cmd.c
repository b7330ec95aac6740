/* SPDX-License-Identifier: MIT */
/* identify_cmd.c: `lnmt identify`: HTTP, TLS and SSH checks and reverse DNS of a target list. */
#include "cli.h"
#include "err.h"
#include "ident.h"
#include "opt.h"
#include "targets.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char identify_usage[] =
"Usage: lnmt identify [OPTIONS] TARGET...\n"
"\n"
"What is this device? Connects to each port of each target with the kernel's TCP (no\n"
"privileges needed) and checks what answers, and asks DNS for each address's name:\n"
"  http  GET / (HTTP/1.1, Host header): status, Server, <title>, time to first byte\n"
"  tls   a TLS handshake: certificate subject, issuer, SANs, not-after, protocol version\n"
"        (nothing is verified: expired and self-signed certificates are shown as they are)\n"
"  ssh   the server's identification line\n"
"  dns   the PTR name of the address (c-ares, the system resolver or --dns-server)\n"
"Thousands of connections run at once on one io_uring, each with its own deadline.\n"
"\n"
"Targets: 198.18.0.0/16  198.18.0.10-198.18.3.255  198.18.0.7  @hosts.txt\n"
"\n"
"Checks:\n"
"  -p, --ports LIST       ports to check (default 22,80,443); an item is PORT, LO-HI or\n"
"                         CHECK:PORT with CHECK http, tls or ssh (tls:8443). A bare port gets\n"
"                         ssh on 22 and 2222, tls on 443, 8443, 465, 636, 993, 995 and 5061,\n"
"                         http on every other\n"
"      --no-dns           no reverse DNS\n"
"      --dns-only         reverse DNS alone, no connections\n"
"      --dns-server IP    ask this server (default: the system's, /etc/resolv.conf)\n"
"      --dns-inflight N   PTR queries at once (default 128)\n"
"      --host NAME        the Host header of http checks (default: the address)\n"
"\n"
"Timing:\n"
"  -c, --concurrency N    connections at once (default 1024, at most 65536)\n"
"  -t, --timeout TIME     each check's deadline from its connect (default 3s; units us,\n"
"                         ms, s, m; a bare number is ms); DNS tries twice in it\n"
"      --deadline TIME    the whole run ends by then (checks still open give timeout)\n"
"      --seed N           the order of the checks\n"
"      --exclude SPEC     skip these addresses (repeatable)\n"
"\n"
"Output (one row per check on stdout; a summary on stderr):\n"
"  -f, --format FMT       text, jsonl or csv (default: text on a terminal, else jsonl)\n"
"  -a, --all              rows for checks that found nothing too: a port that refused or\n"
"                         never answered the connect, an address without a name (nxdomain)\n"
"  -q, --quiet            no summary\n"
"  -v, --verbose          peak memory and the output's back-pressure in the summary\n"
"\n"
"Rows: jsonl {\"ip\", \"port\", \"probe\": \"http\"|\"tls\"|\"ssh\"|\"dns\", and http_status, http_server,\n"
"http_title, ttfb_us | tls_subject, tls_issuer, tls_sans, tls_not_after, tls_version |\n"
"ssh_banner | hostname}, or \"error\" when the check failed: timeout, refused, reset,\n"
"tls alert: NAME, tls: REASON, bad response: WHAT, closed, unreachable, dns: REASON.\n"
"csv has a header line and the same columns; text one line per check.\n"
"\n"
"Examples:\n"
"  lnmt identify 198.19.0.0/24                 ssh, http, https and names of a /24\n"
"  lnmt identify -p 80,tls:8443 --no-dns 198.19.0.7 -f jsonl\n"
"  lnmt identify --dns-only --dns-server 198.18.0.2 198.19.0.0/16\n"
"\n"
"Ctrl-C stops at once (what is in flight is dropped) and exits 130.\n";

#define DEFAULT_PORTS "22,80,443"
#define DEFAULT_CONCURRENCY 1024
#define DEFAULT_TIMEOUT_NS 3000000000ull

enum { FMT_TEXT, FMT_JSONL, FMT_CSV };

static volatile sig_atomic_t stop_requested;

static void on_sigint(int sig)
{
	(void)sig;
	stop_requested = 1;
}

struct out {
	FILE *f;
	int format;
	bool all;
	uint64_t rows;
	char line[16384];
	size_t len;
};

enum {
	OPT_NO_DNS = 256, OPT_DNS_ONLY, OPT_DNS_SERVER, OPT_DNS_INFLIGHT, OPT_HOST, OPT_DEADLINE, OPT_SEED,
	OPT_EXCLUDE,
};

static const struct option long_opts[] = {
	{ "ports", required_argument, NULL, 'p' },
	{ "no-dns", no_argument, NULL, OPT_NO_DNS },
	{ "dns-only", no_argument, NULL, OPT_DNS_ONLY },
	{ "dns-server", required_argument, NULL, OPT_DNS_SERVER },
	{ "dns-inflight", required_argument, NULL, OPT_DNS_INFLIGHT },
	{ "host", required_argument, NULL, OPT_HOST },
	{ "concurrency", required_argument, NULL, 'c' },
	{ "timeout", required_argument, NULL, 't' },
	{ "deadline", required_argument, NULL, OPT_DEADLINE },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "exclude", required_argument, NULL, OPT_EXCLUDE },
	{ "format", required_argument, NULL, 'f' },
	{ "all", no_argument, NULL, 'a' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* ---- rows ---- */

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + n > sizeof(o->line))
		n = sizeof(o->line) - o->len;
	memcpy(o->line + o->len, s, n);
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void putu(struct out *o, uint64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
	put(o, b, (size_t)n);
}

/* A JSON string: the fields are clean UTF-8 already (ident_copy_text); escape what JSON needs. */
static void put_json_str(struct out *o, const char *s)
{
	puts_(o, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			put(o, e, 2);
		} else if (c < 0x20) {
			char e[8];
			snprintf(e, sizeof(e), "\\u%04x", c);
			put(o, e, 6);
		} else {
			put(o, (const char *)&c, 1);
		}
	}
	puts_(o, "\"");
}

static void put_csv_str(struct out *o, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		puts_(o, s);
		return;
	}
	puts_(o, "\"");
	for (; *s; s++) {
		if (*s == '"')
			puts_(o, "\"");
		put(o, s, 1);
	}
	puts_(o, "\"");
}

static void error_text(const struct ident_result *r, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", ident_error_name((enum ident_error)r->error), r->error_detail[0] ? ": " : "",
		 r->error_detail);
}

static void iso_time(int64_t t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, 32, "-");
}

/* A row unless the check found nothing there (and --all is off). */
static bool shown(const struct out *o, const struct ident_result *r)
{
	if (o->all || r->error == IDENT_OK)
		return true;
	if (r->kind == IDENT_DNS)
		return r->error != IDENT_E_NXDOMAIN;
	return r->connected || (r->error != IDENT_E_REFUSED && r->error != IDENT_E_TIMEOUT && r->error != IDENT_E_UNREACHABLE);
}

static void row_jsonl(struct out *o, const struct ident_result *r, const char *ip)
{
	char t[32], e[IDENT_DETAIL_MAX + 32];

	puts_(o, "{\"ip\":\"");
	puts_(o, ip);
	puts_(o, "\"");
	if (r->kind != IDENT_DNS) {
		puts_(o, ",\"port\":");
		putu(o, r->port);
	}
	puts_(o, ",\"probe\":\"");
	puts_(o, ident_kind_name((enum ident_kind)r->kind));
	puts_(o, "\"");
	if (r->error != IDENT_OK) {
		error_text(r, e, sizeof(e));
		puts_(o, ",\"error\":");
		put_json_str(o, e);
		puts_(o, "}\n");
		return;
	}
	switch (r->kind) {
	case IDENT_HTTP:
		puts_(o, ",\"http_status\":");
		putu(o, r->http_status);
		puts_(o, ",\"http_server\":");
		if (r->http_server[0])
			put_json_str(o, r->http_server);
		else
			puts_(o, "null");
		puts_(o, ",\"http_title\":");
		if (r->http_title[0])
			put_json_str(o, r->http_title);
		else
			puts_(o, "null");
		break;
	case IDENT_TLS: {
		puts_(o, ",\"tls_subject\":");
		put_json_str(o, r->tls_subject);
		puts_(o, ",\"tls_issuer\":");
		put_json_str(o, r->tls_issuer);
		puts_(o, ",\"tls_sans\":[");
		char sans[IDENT_SANS_MAX], *save = NULL;
		memcpy(sans, r->tls_sans, sizeof(sans));
		bool first = true;
		for (char *tok = strtok_r(sans, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			if (!first)
				puts_(o, ",");
			first = false;
			put_json_str(o, tok);
		}
		puts_(o, "],\"tls_not_after\":");
		if (r->tls_not_after) {
			iso_time(r->tls_not_after, t);
			put_json_str(o, t);
		} else {
			puts_(o, "null");
		}
		puts_(o, ",\"tls_version\":");
		put_json_str(o, r->tls_version);
		break;
	}
	case IDENT_SSH:
		puts_(o, ",\"ssh_banner\":");
		put_json_str(o, r->ssh_banner);
		break;
	case IDENT_DNS:
		puts_(o, ",\"hostname\":");
		put_json_str(o, r->hostname);
		break;
	}
	if (r->kind != IDENT_DNS) {
		puts_(o, ",\"ttfb_us\":");
		putu(o, r->ttfb_us);
	}
	puts_(o, "}\n");
}

static void row_csv(struct out *o, const struct ident_result *r, const char *ip)
{
	char t[32] = "", e[IDENT_DETAIL_MAX + 32] = "";
	bool ok = r->error == IDENT_OK;

	if (!ok)
		error_text(r, e, sizeof(e));
	if (ok && r->kind == IDENT_TLS && r->tls_not_after)
		iso_time(r->tls_not_after, t);
	puts_(o, ip);
	puts_(o, ",");
	if (r->kind != IDENT_DNS)
		putu(o, r->port);
	puts_(o, ",");
	puts_(o, ident_kind_name((enum ident_kind)r->kind));
	puts_(o, ",");
	put_csv_str(o, e);
	puts_(o, ",");
	if (ok && r->kind == IDENT_HTTP)
		putu(o, r->http_status);
	const char *cols[] = {
		ok && r->kind == IDENT_HTTP ? r->http_server : "", ok && r->kind == IDENT_HTTP ? r->http_title : "",
	};
	for (size_t i = 0; i < 2; i++) {
		puts_(o, ",");
		put_csv_str(o, cols[i]);
	}
	puts_(o, ",");
	if (ok && r->kind != IDENT_DNS)
		putu(o, r->ttfb_us);
	const char *rest[] = {
		ok && r->kind == IDENT_TLS ? r->tls_subject : "", ok && r->kind == IDENT_TLS ? r->tls_issuer : "",
		ok && r->kind == IDENT_TLS ? r->tls_sans : "", t, ok && r->kind == IDENT_TLS ? r->tls_version : "",
		ok && r->kind == IDENT_SSH ? r->ssh_banner : "", ok && r->kind == IDENT_DNS ? r->hostname : "",
	};
	for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++) {
		puts_(o, ",");
		put_csv_str(o, rest[i]);
	}
	puts_(o, "\n");
}

static void row_text(struct out *o, const struct ident_result *r, const char *ip)
{
	char where[32], t[32], e[IDENT_DETAIL_MAX + 32];
	int n;

	if (r->kind == IDENT_DNS)
		snprintf(where, sizeof(where), "%s", ip);
	else
		snprintf(where, sizeof(where), "%s:%u", ip, r->port);
	n = snprintf(o->line, sizeof(o->line), "%-21s %-4s  ", where, ident_kind_name((enum ident_kind)r->kind));
	o->len = (size_t)n;
	if (r->error != IDENT_OK) {
		error_text(r, e, sizeof(e));
		puts_(o, "error: ");
		puts_(o, e);
		puts_(o, "\n");
		return;
	}
	switch (r->kind) {
	case IDENT_HTTP:
		n = snprintf(o->line + o->len, sizeof(o->line) - o->len, "%u  %s  \"%s\"  %.1f ms\n", r->http_status,
			     r->http_server[0] ? r->http_server : "-", r->http_title, r->ttfb_us / 1000.0);
		break;
	case IDENT_TLS:
		iso_time(r->tls_not_after, t);
		n = snprintf(o->line + o->len, sizeof(o->line) - o->len, "%s  subject %s  issuer %s  until %s  SANs %s\n",
			     r->tls_version, r->tls_subject, r->tls_issuer, r->tls_not_after ? t : "-",
			     r->tls_sans[0] ? r->tls_sans : "-");
		break;
	case IDENT_SSH:
		n = snprintf(o->line + o->len, sizeof(o->line) - o->len, "%s\n", r->ssh_banner);
		break;
	default:
		n = snprintf(o->line + o->len, sizeof(o->line) - o->len, "%s\n", r->hostname);
		break;
	}
	o->len += (size_t)n < sizeof(o->line) - o->len ? (size_t)n : sizeof(o->line) - o->len - 1;
}

/* The run's sink: on its output thread, which may block on stdout without holding the run up. */
static void on_result(void *ctx, const struct ident_result *r)
{
	struct out *o = ctx;
	char ip[16];

	if (!shown(o, r))
		return;
	ipv4_format(r->ip, ip);
	o->len = 0;
	switch (o->format) {
	case FMT_JSONL: row_jsonl(o, r, ip); break;
	case FMT_CSV: row_csv(o, r, ip); break;
	default: row_text(o, r, ip); break;
	}
	fwrite(o->line, 1, o->len, o->f);
	o->rows++;
}

/* ---- options ---- */

static int bad_value(const char *opt, const char *val, const char *expected)
{
	cli_error("bad %s '%s': %s", opt, val, expected);
	return EXIT_USAGE;
}

/* "22,80,tls:8443,8000-8010": each item a port or a range, with an optional CHECK: prefix. */
static int parse_ports(struct ident_config *cfg, const char *spec)
{
	char *list = strdup(spec), *save = NULL;
	int rc = 0;

	if (!list)
		return 1;
	if (!*spec || opt_list_has_empty(spec)) {
		free(list);
		return bad_value("--ports", spec, "empty item in the list (two commas, or a comma at an end)");
	}
	for (char *tok = strtok_r(list, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
		const struct check_ops *check = NULL;
		char *colon = strchr(tok, ':'), err[TARGET_ERR_LEN];
		struct port_list pl = { 0 };
		if (colon) {
			*colon = '\0';
			if (!(check = ident_check_by_name(tok))) {
				rc = bad_value("--ports", tok, "the check before ':' must be http, tls or ssh");
				break;
			}
			tok = colon + 1;
		}
		if (port_list_parse(&pl, tok, err, sizeof(err))) {
			rc = bad_value("--ports", tok, "expected a port 1-65535 or a range LO-HI");
			break;
		}
		for (size_t i = 0; i < pl.n && !rc; i++) {
			bool dup = false;
			for (unsigned k = 0; k < cfg->n_ports; k++)
				dup |= cfg->ports[k].port == pl.ports[i];
			if (dup)
				continue;
			if (cfg->n_ports == IDENT_MAX_PORTS) {
				rc = bad_value("--ports", spec, "at most 64 ports");
				break;
			}
			cfg->ports[cfg->n_ports].port = pl.ports[i];
			cfg->ports[cfg->n_ports].check = check ? check : ident_check_for_port(pl.ports[i]);
			cfg->n_ports++;
		}
		port_list_fini(&pl);
	}
	free(list);
	return rc;
}

struct identify_opts {
	struct ident_config cfg;
	struct target_set targets;
	const char *port_spec;
	bool no_dns, dns_only, quiet, verbose;
	struct out out;
};

static int parse_option(struct identify_opts *o, int c, const char *arg)
{
	char err[TARGET_ERR_LEN + 32];
	uint64_t v;

	switch (c) {
	case 'p': o->port_spec = arg; return 0;
	case OPT_NO_DNS: o->no_dns = true; return 0;
	case OPT_DNS_ONLY: o->dns_only = true; return 0;
	case OPT_DNS_SERVER: {
		struct target_range r;
		if (target_parse_range(arg, &r, err, sizeof(err)) || r.first != r.last || strchr(arg, '/') || strchr(arg, '-'))
			return bad_value("--dns-server", arg, "expected an IPv4 address");
		o->cfg.dns_server = arg;
		return 0;
	}
	case OPT_DNS_INFLIGHT:
		if (!cli_parse_u64(arg, 1, 65536, &v))
			return bad_value("--dns-inflight", arg, "expected 1-65536");
		o->cfg.dns_inflight = (unsigned)v;
		return 0;
	case OPT_HOST:
		if (!*arg || strlen(arg) > 200 || strpbrk(arg, " \t\r\n"))
			return bad_value("--host", arg, "expected a host name of 1-200 characters without spaces");
		o->cfg.http_host = arg;
		return 0;
	case 'c':
		if (!cli_parse_u64(arg, 1, 65536, &v))
			return bad_value("--concurrency", arg, "expected 1-65536 connections");
		o->cfg.concurrency = (unsigned)v;
		return 0;
	case 't':
		if (!cli_parse_duration_ns(arg, &v) || v < 1000000u || v > 600000000000ull)
			return bad_value("--timeout", arg, "expected a duration from 1ms to 10m, such as 500ms or 3s");
		o->cfg.timeout_ns = v;
		return 0;
	case OPT_DEADLINE:
		if (!cli_parse_duration_ns(arg, &v) || v < 1000000u)
			return bad_value("--deadline", arg, "expected a duration of at least 1ms, such as 30s or 5m");
		o->cfg.deadline_ns = v;
		return 0;
	case OPT_SEED:
		if (!cli_parse_u64(arg, 0, UINT64_MAX, &o->cfg.seed))
			return bad_value("--seed", arg, "expected a non-negative integer");
		return 0;
	case OPT_EXCLUDE:
		if (target_set_exclude(&o->targets, arg, err, sizeof(err))) {
			cli_error("--exclude: %s", err);
			return EXIT_USAGE;
		}
		return 0;
	case 'f':
		if (strcmp(arg, "text") == 0)
			o->out.format = FMT_TEXT;
		else if (strcmp(arg, "jsonl") == 0 || strcmp(arg, "json") == 0)
			o->out.format = FMT_JSONL;
		else if (strcmp(arg, "csv") == 0)
			o->out.format = FMT_CSV;
		else
			return bad_value("--format", arg, "expected text, jsonl or csv");
		return 0;
	case 'a': o->out.all = true; return 0;
	case 'q': o->quiet = true; return 0;
	case 'v': o->verbose = true; return 0;
	}
	return EXIT_USAGE;
}

static int parse_args(struct identify_opts *o, int argc, char **argv)
{
	char err[TARGET_ERR_LEN + 64], why[OPT_WHY_LEN];
	int c, rc;

	optind = 1;
	while ((c = opt_next(argc, argv, "p:c:t:f:aqvh", long_opts, why, sizeof(why))) != -1) {
		if (c == 'h') {
			fputs(identify_usage, stdout);
			return -1;
		}
		if (c == '?') {
			cli_error("%s (see 'lnmt identify --help')", why);
			return EXIT_USAGE;
		}
		if ((rc = parse_option(o, c, optarg)))
			return rc;
	}
	if (optind == argc) {
		cli_error("no targets: give at least one, e.g. 'lnmt identify 198.18.0.0/24' (see --help)");
		return EXIT_USAGE;
	}
	if (o->no_dns && o->dns_only) {
		cli_error("--no-dns and --dns-only exclude each other");
		return EXIT_USAGE;
	}
	if (o->dns_only && o->port_spec) {
		cli_error("--dns-only checks no ports: drop --ports");
		return EXIT_USAGE;
	}
	if (o->no_dns && (o->cfg.dns_server || o->cfg.dns_inflight)) {
		cli_error("--no-dns: --dns-server and --dns-inflight have nothing to do");
		return EXIT_USAGE;
	}
	for (int i = optind; i < argc; i++) {
		if ((rc = target_set_add(&o->targets, argv[i], err, sizeof(err)))) {
			cli_error("%s", err);
			return EXIT_USAGE;
		}
	}
	if ((rc = target_set_finalize(&o->targets))) {
		cli_error(rc == LNMT_E_EMPTY ? "no targets left after exclusions" : "targets: %s", lnmt_strerror(rc));
		return EXIT_USAGE;
	}
	if (target_set_is_large(&o->targets, err, sizeof(err))) {
		cli_error("%s: lnmt identify checks at most 2^24 addresses at once", err);
		return EXIT_USAGE;
	}
	if (!o->dns_only && (rc = parse_ports(&o->cfg, o->port_spec ? o->port_spec : DEFAULT_PORTS)))
		return rc;
	o->cfg.dns = !o->no_dns;
	o->cfg.targets = &o->targets;
	return 0;
}

static void summary(const struct identify_opts *o, const struct ident_stats *st)
{
	double secs = st->elapsed_ns / 1e9;

	fprintf(stderr, "lnmt: %llu checks of %llu addresses in %.3f s (%.0f/s), %llu rows: answered http %llu, tls %llu, "
			"ssh %llu, dns %llu",
		(unsigned long long)st->checks, (unsigned long long)o->targets.count, secs, secs > 0 ? st->checks / secs : 0.0,
		(unsigned long long)o->out.rows, (unsigned long long)st->by_kind[IDENT_HTTP],
		(unsigned long long)st->by_kind[IDENT_TLS], (unsigned long long)st->by_kind[IDENT_SSH],
		(unsigned long long)st->by_kind[IDENT_DNS]);
	bool first = true;
	for (int e = 1; e < IDENT_ERRORS; e++) {
		if (!st->errors[e])
			continue;
		fprintf(stderr, "%s%s %llu", first ? "; " : ", ", ident_error_name((enum ident_error)e),
			(unsigned long long)st->errors[e]);
		first = false;
	}
	fputc('\n', stderr);
	if (st->deadline_hit)
		fprintf(stderr, "lnmt: the --deadline ended the run: checks still open then count as timeout\n");
	if (o->verbose || st->held_back_ns) {
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		fprintf(stderr, "lnmt: the output %s: new checks held back %.2f s, at most %llu results queued; "
				"peak memory (max RSS) %.1f MiB\n",
			st->held_back_ns ? "was slower than the checks" : "kept up", st->held_back_ns / 1e9,
			(unsigned long long)st->queue_peak, ru.ru_maxrss / 1024.0);
	}
}

int cmd_identify(int argc, char **argv)
{
	struct identify_opts o = { .out = { .f = stdout, .format = isatty(STDOUT_FILENO) ? FMT_TEXT : FMT_JSONL } };
	struct timespec now;
	struct ident_stats st;
	char err[512];
	int rc;

	clock_gettime(CLOCK_REALTIME, &now);
	o.cfg.seed = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 20) ^ (uint64_t)getpid();
	o.cfg.concurrency = DEFAULT_CONCURRENCY;
	o.cfg.timeout_ns = DEFAULT_TIMEOUT_NS;
	target_set_init(&o.targets);
	rc = parse_args(&o, argc, argv);
	if (rc) {
		target_set_fini(&o.targets);
		return rc < 0 ? 0 : rc;
	}
	/* Each connection slot is a file registered with io_uring, which the kernel counts against
	 * RLIMIT_NOFILE: raise the soft limit as far as the hard one allows. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rlim_t want = (rlim_t)o.cfg.concurrency + 256;
		if (rl.rlim_cur < want && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)o.cfg.concurrency + 64) {
			cli_error("--concurrency %u is above what the open-file limit allows (hard limit %llu, ulimit -Hn): "
				  "at most %llu", o.cfg.concurrency, (unsigned long long)rl.rlim_max,
				  (unsigned long long)(rl.rlim_max > 64 ? rl.rlim_max - 64 : 1));
			target_set_fini(&o.targets);
			return EXIT_USAGE;
		}
	}
	struct sigaction sa = { .sa_handler = on_sigint };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (o.out.format == FMT_CSV)
		fputs("ip,port,probe,error,http_status,http_server,http_title,ttfb_us,tls_subject,tls_issuer,tls_sans,"
		      "tls_not_after,tls_version,ssh_banner,hostname\n", stdout);
	struct ident_sink sink = { .result = on_result, .ctx = &o.out };
	rc = ident_run(&o.cfg, &sink, &stop_requested, &st, err, sizeof(err));
	fflush(stdout);
	if (rc) {
		cli_error("%s", err);
		rc = rc == LNMT_E_PARSE ? EXIT_USAGE : 1;
	} else {
		if (!o.quiet)
			summary(&o, &st);
		rc = st.stopped ? EXIT_INTERRUPTED : 0;
	}
	if (ferror(stdout) && !rc) {
		cli_error("cannot write the results to stdout");
		rc = 1;
	}
	target_set_fini(&o.targets);
	return rc;
}
