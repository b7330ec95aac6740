/* SPDX-License-Identifier: MIT */
/* scan_cmd.c: `lnmt scan`: options in, one sweep run in-process, results out. */
#include "cli.h"
#include "client_cmd.h"
#include "err.h"
#include "netinfo.h"
#include "opt.h"
#include "output.h"
#include "scan_store.h"
#include "store.h"
#include "sweep.h"
#include "sweep_net.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char scan_usage[] =
"Usage: lnmt scan [OPTIONS] TARGET...\n"
"\n"
"Sweeps IPv4 targets with raw ARP, ICMP echo or TCP SYN probes and prints every host that\n"
"answers, as fast as the network allows, in a random order that visits each target once.\n"
"\n"
"Targets:\n"
"  198.18.0.0/16  198.18.0.10-198.18.3.255  198.18.0.7  @hosts.txt (one spec a line, # comments)\n"
"  0.0.0.0/8 and 224.0.0.0/3 (multicast, reserved, broadcast) are never probed.\n"
"\n"
"Probes:\n"
"  -P, --probe LIST       arp, icmp, syn; several with commas (default: arp for on-link\n"
"                         targets, icmp for routed ones; syn when -p is given)\n"
"  -p, --ports LIST       ports for syn: 22,80,8000-8100 (default 80)\n"
"      --ttl N            IP TTL of probes (default 64)\n"
"\n"
"Timing:\n"
"  -r, --rate PPS         the most packets per second, paced per packet (default 0 =\n"
"                         unlimited). Retry passes slow down by themselves when the path\n"
"                         drops probes for their rate (a policer): the summary says so\n"
"      --rate-fixed       send every pass at --rate, whatever the path drops\n"
"      --retries N        at most N retry passes of what has not answered (default 10);\n"
"                         they stop as soon as the loss they measure says no live host is\n"
"                         still likely to be missed (a lossless network costs one)\n"
"  -w, --wait TIME        the longest wait for late replies after the last probe (default\n"
"                         1s; units us, ms, s, m; a bare number is ms). The sweep ends\n"
"                         sooner, once the network has been quiet for several times the\n"
"                         RTT that 99.9% of replies beat, or when everything answered\n"
"      --wait-fixed       always wait all of --wait (unless everything answered)\n"
"      --seed N           reproduce the probe order of an earlier sweep\n"
"      --shard I/N        sweep only part I of N (0-based), so N machines split the work\n"
"\n"
"Selection:\n"
"      --exclude SPEC     skip these addresses (repeatable, same syntax as targets)\n"
"      --exclude-file F   skip the addresses listed in F\n"
"      --allow-large      sweep more than 16777216 (2^24) addresses, or all of 0.0.0.0/0\n"
"                         (refused without it, the excludes taken out first)\n"
"\n"
"Network:\n"
"  -i, --interface IF     send and capture on IF (default: the route to the first target)\n"
"      --source-ip IP     source address (default: the route's)\n"
"      --gateway-mac MAC  next-hop MAC for ICMP/SYN (default: resolved from the gateway)\n"
"      --tx KIND          sender: auto, uring, mmsg (default auto: io_uring, else sendmmsg)\n"
"      --batch N          frames per submission (default 64)\n"
"      --senders N        sender threads, each with its own socket (default: one per CPU;\n"
"                         1 when --rate is below 50000)\n"
"      --dry-run          build and count every probe but send nothing (no privileges needed\n"
"                         with -i and --source-ip; nothing is stored)\n"
"\n"
"Daemon:\n"
"      --socket PATH      lnmtd's socket (default: $LNMT_SOCKET, else /run/lnmt/lnmt.sock as\n"
"                         root). When lnmtd answers there, the sweep runs in the daemon\n"
"                         (scan.start): the devices found are listed once it ends and it is\n"
"                         stored in the daemon's store. --db, --no-store, --dry-run, -i,\n"
"                         --gateway-mac, @file targets, --exclude-file, --shard, --tx,\n"
"                         --batch, --senders, --ttl and --offline-after sweep in-process.\n"
"      --embedded         sweep in-process even when lnmtd answers\n"
"\n"
"Storage (every sweep is kept, see 'lnmt devices', 'lnmt report', 'lnmt sweeps'):\n"
"      --db DIR           the store (default: $LNMT_DB, /var/lib/lnmt as root,\n"
"                         else $XDG_DATA_HOME/lnmt)\n"
"      --no-store         print results only\n"
"      --offline-after N  mark a device down after it missed N sweeps in a row (default 2)\n"
"\n"
"Output:\n"
"  -f, --format FMT       text, jsonl or csv (default: text on a terminal, else jsonl)\n"
"  -q, --quiet            no progress line and no summary\n"
"  -v, --verbose          say which sender ran and why, and the receive counters\n"
"\n"
"Examples:\n"
"  lnmt scan 198.18.128.0/17                    ARP sweep of an on-link /17\n"
"  lnmt scan -P icmp 198.19.0.0/16 -f jsonl     ping a routed /16, JSON lines out\n"
"  lnmt scan -p 22,80,443 198.19.0.0/20         SYN sweep of three ports\n"
"  lnmt scan -P icmp,syn -p 80 @nets.txt --exclude 198.19.7.0/24 --rate 50000\n"
"\n"
"Needs CAP_NET_RAW (root). Results go to stdout, progress and the summary to stderr.\n"
"Ctrl-C stops sending, waits briefly for replies in flight, prints the summary and exits 130.\n";

/* The retries are a ceiling and the wait a cap: the sweep stops both as soon as they stop paying
 * (engine/sweep_policy.h), so generous defaults cost only the networks that need them. */
#define SCAN_DEFAULT_RETRIES 10
#define SCAN_DEFAULT_WAIT_NS 1000000000ull

static volatile sig_atomic_t stop_requested;

static void on_sigint(int sig)
{
	(void)sig;
	if (stop_requested < 2)
		stop_requested++;
}

struct scan_opts {
	struct sweep_config cfg;
	struct target_set targets;
	struct port_list ports;
	struct sweep_net_opts net;
	const char *probe_list;
	const char *port_spec;
	const char *db_dir;
	bool no_store;
	unsigned offline_after;
	char targets_text[256];
	int format;
	bool quiet, verbose, dry_run, allow_large;
	/* for a sweep through lnmtd */
	const char *socket;
	bool embedded;      /* --embedded, or an option only the in-process sweep has */
	struct client_scan_req rpc;
};

enum {
	OPT_RETRIES = 256, OPT_SEED, OPT_SHARD, OPT_EXCLUDE, OPT_EXCLUDE_FILE, OPT_SOURCE_IP,
	OPT_GATEWAY_MAC, OPT_TX, OPT_BATCH, OPT_SENDERS, OPT_DRY_RUN, OPT_TTL, OPT_DB, OPT_NO_STORE, OPT_OFFLINE_AFTER,
	OPT_SOCKET, OPT_EMBEDDED, OPT_RATE_FIXED, OPT_WAIT_FIXED, OPT_ALLOW_LARGE,
};

static const struct option long_opts[] = {
	{ "probe", required_argument, NULL, 'P' },
	{ "ports", required_argument, NULL, 'p' },
	{ "rate", required_argument, NULL, 'r' },
	{ "retries", required_argument, NULL, OPT_RETRIES },
	{ "wait", required_argument, NULL, 'w' },
	{ "wait-fixed", no_argument, NULL, OPT_WAIT_FIXED },
	{ "rate-fixed", no_argument, NULL, OPT_RATE_FIXED },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "shard", required_argument, NULL, OPT_SHARD },
	{ "exclude", required_argument, NULL, OPT_EXCLUDE },
	{ "exclude-file", required_argument, NULL, OPT_EXCLUDE_FILE },
	{ "allow-large", no_argument, NULL, OPT_ALLOW_LARGE },
	{ "interface", required_argument, NULL, 'i' },
	{ "source-ip", required_argument, NULL, OPT_SOURCE_IP },
	{ "gateway-mac", required_argument, NULL, OPT_GATEWAY_MAC },
	{ "tx", required_argument, NULL, OPT_TX },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "senders", required_argument, NULL, OPT_SENDERS },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "ttl", required_argument, NULL, OPT_TTL },
	{ "db", required_argument, NULL, OPT_DB },
	{ "no-store", no_argument, NULL, OPT_NO_STORE },
	{ "offline-after", required_argument, NULL, OPT_OFFLINE_AFTER },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "embedded", no_argument, NULL, OPT_EMBEDDED },
	{ "format", required_argument, NULL, 'f' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int bad_value(const char *opt, const char *val, const char *expected)
{
	cli_error("bad %s '%s': %s", opt, val, expected);
	return EXIT_USAGE;
}

static int parse_shard(const char *s, struct sweep_config *cfg)
{
	unsigned i, n;
	char tail;

	if (sscanf(s, "%u/%u%c", &i, &n, &tail) != 2 || n == 0 || i >= n)
		return bad_value("--shard", s, "expected I/N with 0 <= I < N, e.g. 0/4");
	cfg->shard = i;
	cfg->shards = n;
	return 0;
}

static int parse_option(struct scan_opts *o, int c, const char *arg)
{
	char err[TARGET_ERR_LEN + 64];
	uint64_t v;
	int rc;

	/* What lnmtd's scan.start cannot do is done in-process. */
	switch (c) {
	case OPT_SHARD: case OPT_EXCLUDE_FILE: case 'i': case OPT_GATEWAY_MAC: case OPT_TX: case OPT_BATCH:
	case OPT_SENDERS: case OPT_DRY_RUN: case OPT_DB: case OPT_NO_STORE: case OPT_OFFLINE_AFTER: case OPT_TTL:
		o->embedded = true;
	}
	switch (c) {
	case OPT_SOCKET: o->socket = arg; return 0;
	case OPT_EMBEDDED: o->embedded = true; return 0;
	case 'P': o->probe_list = arg; return 0;
	case 'p': o->port_spec = arg; return 0;
	case 'r':
		if (!cli_parse_u64(arg, 0, 100000000, &o->cfg.rate_pps))
			return bad_value("--rate", arg, "expected packets per second, 0 for unlimited");
		o->rpc.rate = o->cfg.rate_pps;
		o->rpc.has_rate = true;
		return 0;
	case OPT_RETRIES:
		if (!cli_parse_u64(arg, 0, 100, &v))
			return bad_value("--retries", arg, "expected 0-100");
		o->cfg.retries = (unsigned)v;
		o->rpc.retries = v;
		o->rpc.has_retries = true;
		return 0;
	case 'w':
		if (!cli_parse_duration_ns(arg, &o->cfg.wait_ns))
			return bad_value("--wait", arg, "expected a duration such as 500ms or 2s");
		o->rpc.wait_ms = o->cfg.wait_ns / 1000000u;
		o->rpc.has_wait = true;
		return 0;
	case OPT_RATE_FIXED: o->cfg.rate_fixed = o->rpc.rate_fixed = true; return 0;
	case OPT_WAIT_FIXED: o->cfg.wait_fixed = o->rpc.wait_fixed = true; return 0;
	case OPT_SEED:
		if (!cli_parse_u64(arg, 0, UINT64_MAX, &o->cfg.seed))
			return bad_value("--seed", arg, "expected a non-negative integer");
		o->rpc.seed = o->cfg.seed;
		o->rpc.has_seed = true;
		return 0;
	case OPT_SHARD: return parse_shard(arg, &o->cfg);
	case OPT_EXCLUDE:
	case OPT_EXCLUDE_FILE: {
		char spec[4096];
		snprintf(spec, sizeof(spec), c == OPT_EXCLUDE_FILE ? "@%s" : "%s", arg);
		if ((rc = target_set_exclude(&o->targets, spec, err, sizeof(err)))) {
			cli_error("%s: %s", c == OPT_EXCLUDE_FILE ? "--exclude-file" : "--exclude", err);
			return EXIT_USAGE;
		}
		if (c == OPT_EXCLUDE && o->rpc.n_excludes < 64 && arg[0] != '@')
			o->rpc.excludes[o->rpc.n_excludes++] = arg;
		else
			o->embedded = true;
		return 0;
	}
	case 'i': o->net.ifname = arg; return 0;
	case OPT_SOURCE_IP: o->net.source_ip = o->rpc.source_ip = arg; return 0;
	case OPT_GATEWAY_MAC: o->net.gateway_mac = arg; return 0;
	case OPT_TX:
		if ((rc = tx_kind_parse(arg)) < 0 || rc == TX_NULL)
			return bad_value("--tx", arg, "expected auto, uring or mmsg");
		o->cfg.tx = (enum tx_kind)rc;
		return 0;
	case OPT_BATCH:
		if (!cli_parse_u64(arg, 1, 1024, &v))
			return bad_value("--batch", arg, "expected 1-1024");
		o->cfg.batch = (unsigned)v;
		return 0;
	case OPT_SENDERS:
		if (!cli_parse_u64(arg, 1, 8, &v))
			return bad_value("--senders", arg, "expected 1-8");
		o->cfg.senders = (unsigned)v;
		return 0;
	case OPT_DRY_RUN: o->dry_run = true; return 0;
	case OPT_ALLOW_LARGE: o->allow_large = o->rpc.allow_large = true; return 0;
	case OPT_DB: o->db_dir = arg; return 0;
	case OPT_NO_STORE: o->no_store = true; return 0;
	case OPT_OFFLINE_AFTER:
		if (!cli_parse_u64(arg, 1, 1000, &v))
			return bad_value("--offline-after", arg, "expected 1-1000 missed sweeps");
		o->offline_after = (unsigned)v;
		return 0;
	case OPT_TTL:
		if (!cli_parse_u64(arg, 1, 255, &v))
			return bad_value("--ttl", arg, "expected 1-255");
		o->cfg.env.ttl = (uint8_t)v;
		return 0;
	case 'f':
		if ((o->format = output_format_parse(arg)) < 0)
			return bad_value("--format", arg, "expected text, jsonl or csv");
		return 0;
	case 'q': o->quiet = true; return 0;
	case 'v': o->verbose = true; return 0;
	}
	return EXIT_USAGE;
}

/* Default probe: ARP where the first target is on-link (it is the one answer every LAN host
 * must give), ICMP where it is routed; SYN when ports were asked for. */
static const char *default_probes(const struct scan_opts *o)
{
	struct net_route route;

	if (o->port_spec)
		return "syn";
	if (netinfo_route(target_set_addr(&o->targets, 0), &route) == 0 && !route.has_gateway)
		return "arp";
	return "icmp";
}

static int parse_probes(struct scan_opts *o)
{
	char *list = strdup(o->probe_list ? o->probe_list : default_probes(o)), *save = NULL;
	int rc = 0;

	if (!list)
		return 1;
	if (opt_list_has_empty(list)) {
		rc = bad_value("--probe", list, "empty item in the list (two commas, or a comma at an end)");
		free(list);
		return rc;
	}
	for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const struct probe_ops *p = probe_by_name(tok);
		bool dup = false;
		if (!p) {
			rc = bad_value("--probe", tok, "expected arp, icmp or syn");
			break;
		}
		for (unsigned i = 0; i < o->cfg.n_probes; i++)
			dup |= o->cfg.probes[i] == p;
		if (!dup)
			o->cfg.probes[o->cfg.n_probes++] = p;
	}
	free(list);
	if (!rc && !o->cfg.n_probes)
		rc = bad_value("--probe", o->probe_list, "expected arp, icmp or syn");
	return rc;
}

static int parse_args(struct scan_opts *o, int argc, char **argv)
{
	char err[TARGET_ERR_LEN + 64], why[OPT_WHY_LEN];
	int c, rc;

	optind = 1;
	while ((c = opt_next(argc, argv, "P:p:r:w:i:f:qvh", long_opts, why, sizeof(why))) != -1) {
		if (c == 'h') {
			fputs(scan_usage, stdout);
			return -1;
		}
		if (c == '?') {
			cli_error("%s (see 'lnmt scan --help')", why);
			return EXIT_USAGE;
		}
		if ((rc = parse_option(o, c, optarg)))
			return rc;
	}
	if (optind == argc) {
		cli_error("no targets: give at least one, e.g. 'lnmt scan 198.18.0.0/24' (see --help)");
		return EXIT_USAGE;
	}
	o->rpc.targets = argv + optind;
	o->rpc.n_targets = argc - optind;
	if (argc - optind > 64)
		o->embedded = true;
	for (int i = optind; i < argc; i++) {
		if (argv[i][0] == '@' || strlen(argv[i]) >= 64)
			o->embedded = true; /* lnmtd reads no file a client names */
		size_t used = strlen(o->targets_text);
		snprintf(o->targets_text + used, sizeof(o->targets_text) - used, "%s%s", used ? " " : "", argv[i]);
		if ((rc = target_set_add(&o->targets, argv[i], err, sizeof(err)))) {
			cli_error("%s", err);
			return EXIT_USAGE;
		}
	}
	if ((rc = target_set_finalize(&o->targets))) {
		cli_error(rc == LNMT_E_EMPTY ? "no targets left after exclusions" : "targets: %s",
			  lnmt_strerror(rc));
		return EXIT_USAGE;
	}
	if (!o->allow_large && target_set_is_large(&o->targets, err, sizeof(err))) {
		cli_error("%s: pass --allow-large if that is meant", err);
		return EXIT_USAGE;
	}
	if (o->port_spec && port_list_parse(&o->ports, o->port_spec, err, sizeof(err))) {
		cli_error("%s", err);
		return EXIT_USAGE;
	}
	if ((rc = parse_probes(o)))
		return rc;
	if (!o->port_spec)
		port_list_parse(&o->ports, "80", err, sizeof(err));
	return 0;
}

static void install_sigint(void)
{
	struct sigaction sa = { .sa_handler = on_sigint };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void print_verbose(const struct scan_opts *o, const struct sweep_stats *st)
{
	char src[16];
	struct rusage ru;

	cli_error("interface %s, source %s, %u sender thread%s, tx %s%s%s%s over %s, capture %s", o->cfg.ifname,
		  ipv4_format(o->cfg.env.src_ip, src), st->senders, st->senders == 1 ? "" : "s",
		  st->tx_name ? st->tx_name : "-", st->tx_fallback ? " (fallback: " : "",
		  st->tx_fallback ? st->tx_fallback : "", st->tx_fallback ? ")" : "",
		  st->tx_link ? st->tx_link : "-", st->rx_name ? st->rx_name : "-");
	getrusage(RUSAGE_SELF, &ru);
	cli_error("peak memory (max RSS) %.1f MiB", ru.ru_maxrss / 1024.0);
}

static int run(struct scan_opts *o)
{
	char err[512], ifname[IF_NAMESIZE], dbdir[512];
	struct sweep_stats st;
	struct output out = {
		.format = (enum out_format)o->format, .out = stdout, .err = stderr,
		.progress = !o->quiet && isatty(STDERR_FILENO),
		.wait_ns = o->cfg.wait_ns, .retries = o->cfg.retries,
	};
	struct scan_store ss = { .out = &out };
	struct sweep_sink sink = { .result = output_result, .progress = output_progress, .ctx = &out };
	int rc;

	if (o->dry_run)
		o->cfg.tx = TX_NULL;
	if ((rc = sweep_net_resolve(&o->net, &o->cfg, ifname, err, sizeof(err)))) {
		cli_error("%s", err);
		return rc == LNMT_E_PARSE ? EXIT_USAGE : 1;
	}
	if (o->targets.n_reserved_dropped && o->verbose)
		cli_error("skipping %llu addresses in 0.0.0.0/8 and 224.0.0.0/3",
			  (unsigned long long)o->targets.n_reserved_dropped);
	/* Open the store before the first probe: a bad --db fails fast instead of after a sweep. */
	if (!o->no_store && !o->dry_run) {
		ss.dir = o->db_dir ? o->db_dir : store_default_dir(dbdir, sizeof(dbdir));
		if (scan_store_begin(&ss, ss.dir, o->offline_after, &o->cfg, o->targets_text, o->port_spec))
			return 1;
		sink.result = scan_store_result;
		sink.progress = scan_store_progress;
		sink.ended = scan_store_ended;
		sink.ctx = &ss;
	}
	output_begin(&out);
	install_sigint();
	rc = sweep_run(&o->cfg, &sink, &stop_requested, &st, err, sizeof(err));
	output_clear_progress(&out);
	fflush(stdout);
	if (rc)
		cli_error("%s", err);
	if (o->verbose && !rc)
		print_verbose(o, &st);
	if (!rc && !o->quiet)
		output_summary(&out, &st, o->verbose);
	int store_rc = scan_store_end(&ss, &st, rc != 0, o->quiet);
	if (rc)
		return 1;
	if (st.ended == SWEEP_END_STOPPED)
		return EXIT_INTERRUPTED;
	return store_rc;
}

int cmd_scan(int argc, char **argv)
{
	struct scan_opts o = {
		.cfg = { .tx = TX_AUTO, .retries = SCAN_DEFAULT_RETRIES, .wait_ns = SCAN_DEFAULT_WAIT_NS, .env.ttl = 64 },
		.format = isatty(STDOUT_FILENO) ? OUT_TEXT : OUT_JSONL,
	};
	struct timespec now;
	int rc;

	clock_gettime(CLOCK_REALTIME, &now);
	o.cfg.seed = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 20) ^ (uint64_t)getpid();
	target_set_init(&o.targets);
	rc = parse_args(&o, argc, argv);
	if (rc == 0) {
		o.cfg.targets = &o.targets;
		o.cfg.ports = &o.ports;
		/* Through lnmtd when one answers, unless an option asks for the in-process sweep. */
		struct rpc_client *cl = NULL;
		if (!o.embedded && client_connect(o.socket, &cl)) {
			rc = 1;
		} else if (cl) {
			o.rpc.probe_list = o.probe_list;
			o.rpc.port_spec = o.port_spec;
			o.rpc.set = &o.targets;
			o.rpc.format = o.format;
			o.rpc.quiet = o.quiet;
			rc = client_scan(cl, &o.rpc);
			client_close(cl);
		} else {
			rc = run(&o);
		}
	} else if (rc < 0) {
		rc = 0; /* --help */
	}
	target_set_fini(&o.targets);
	port_list_fini(&o.ports);
	return rc;
}
