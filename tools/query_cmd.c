/* SPDX-License-Identifier: MIT */
/*
 * query_cmd.c: the commands that answer questions from the store: `lnmt devices`, `lnmt device`,
 * `lnmt report uptime|network` and `lnmt sweeps`. Each asks lnmtd when one answers on the socket
 * (client_cmd.h) and reads the store directly otherwise (embedded mode), with the same printers
 * either way: a table for people or JSON lines / CSV for programs.
 */
#include "cli.h"
#include "client_cmd.h"
#include "err.h"
#include "output.h"
#include "inventory.h"
#include "opt.h"
#include "query_html.h"
#include "rpc.h"
#include "store.h"
#include "targets.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct query_opts {
	const char *db;
	const char *socket;  /* --socket */
	bool embedded;       /* --embedded: read the store even when lnmtd answers */
	int format;
	struct store_filter filter;
	uint64_t since_us;   /* absolute; 0 = not given */
	uint32_t limit;
	const char *cidr;
	const char *since_arg; /* --since as given, for the HTML report's header */
	const char *import;  /* devices --import FILE */
	const char *name, *note; /* device --name, --note */
};

static const char devices_usage[] =
"Usage: lnmt devices [--state up|down] [--subnet CIDR] [--since AGE] [--vendor TEXT]\n"
"                    [--text TEXT] [--limit N] [--after IP] [--db DIR | --embedded]\n"
"                    [--socket PATH] [-f text|jsonl|csv]\n"
"       lnmt devices --import FILE [--db DIR | --embedded] [--socket PATH]\n"
"\n"
"Lists every device the store has seen, in address order, with the name and note people gave\n"
"it. Asks lnmtd (devices.list) when it answers on the socket and no --db is given; --embedded\n"
"reads the store directly anyway.\n"
"  --state up|down   only devices in that state (down = missed the last sweeps)\n"
"  --subnet CIDR     only devices inside CIDR\n"
"  --since AGE       only devices seen within AGE: 90s, 30m, 24h, 7d, 2w\n"
"  --vendor TEXT     only devices whose MAC vendor contains TEXT (any case)\n"
"  --text TEXT       only devices whose name, note, vendor, MAC or address contains TEXT\n"
"                    (any case)\n"
"  --limit N         at most N devices; a note on stderr gives the --after for the next page\n"
"  --after IP        start after this address (the cursor of the previous page)\n"
"\n"
"--import FILE names devices from an inventory (- reads stdin), all or nothing: lines\n"
"'ip,name,note', # starts a comment, a first line 'ip,name,note' is a header. A field left\n"
"empty clears it, a field left out keeps what is there; the note is the rest of the line\n"
"(commas included), or a \"quoted\" field. Addresses no sweep has seen yet keep their name\n"
"until one finds them. Every line is checked before anything is written; errors name\n"
"FILE:LINE. Through lnmtd a file over 1 MB goes in several requests, each all or nothing.\n"
"\n"
"Examples:\n"
"  lnmt devices --state down --since 1d\n"
"  lnmt devices --subnet 198.18.128.0/17 --vendor raspberry -f jsonl\n"
"  lnmt devices --limit 100 --after 198.19.0.99\n"
"  lnmt devices --text printer\n"
"  printf '198.18.0.10,nas,rack 2 - backups\\n198.18.0.11,printer\\n' | lnmt devices --import -\n";

static const char device_usage[] =
"Usage: lnmt device IP [--db DIR | --embedded] [--socket PATH] [-f text|jsonl]\n"
"       lnmt device IP [--name TEXT] [--note TEXT] [--db DIR | --embedded] [--socket PATH]\n"
"\n"
"Everything known about one device: its name and note, MAC and vendor, first and last seen,\n"
"state, RTT, open ports, which probes answer, its recent state changes and observations\n"
"(the last 10 of each; 20 with -f jsonl). Asks lnmtd (devices.get) when it answers on the\n"
"socket and no --db is given; --embedded reads the store directly anyway.\n"
"\n"
"  --name TEXT   what to call it (at most 64 bytes); --name '' clears it\n"
"  --note TEXT   free text (at most 256 bytes, one line); --note '' clears it\n"
"Setting works for addresses no sweep has found yet: the device carries the name once one\n"
"does. It goes through lnmtd (devices.annotate) when one answers and no --db is given.\n"
"\n"
"Examples:\n"
"  lnmt device 198.19.0.7\n"
"  lnmt device 198.19.0.7 --name printer --note 'room 2.14, toner ordered'\n"
"  lnmt device 198.19.0.7 --note ''\n";

static const char report_usage[] =
"Usage: lnmt report uptime  [--since AGE] [--subnet CIDR] [--db DIR] [-f text|jsonl|csv|html]\n"
"       lnmt report network [--since AGE] [--subnet CIDR] [--db DIR] [-f text|jsonl]\n"
"\n"
"uptime:  per device, over the period: uptime %, probes, answers, state changes\n"
"network: devices up and down, new devices, RTT percentiles, sweeps and their rates, and a\n"
"         per-/24 summary\n"
"AGE is 90s, 30m, 24h (the default), 7d, 2w. Uptime has hour granularity.\n"
"Asks lnmtd (report.uptime, report.network) when it answers on the socket (--socket PATH,\n"
"else $LNMT_SOCKET) and no --db is given; --embedded reads the store directly anyway.\n"
"\n"
"-f html (uptime only) writes one standalone page to mail or archive: summary figures, uptime\n"
"per hour and devices per /24 and per vendor as charts (SVG), and the device table (the first\n"
"5,000 devices). No scripts, nothing loaded from elsewhere.\n"
"\n"
"Examples:\n"
"  lnmt report uptime --since 24h --subnet 198.19.0.0/24\n"
"  lnmt report uptime --since 7d --format html > report.html\n"
"  lnmt report network -f jsonl\n";

static const char sweeps_usage[] =
"Usage: lnmt sweeps [--limit N] [--db DIR | --embedded] [--socket PATH] [-f text|jsonl|csv]\n"
"\n"
"Past sweeps, newest first, with their figures (default: the last 20). Asks lnmtd (sweeps.list)\n"
"when it answers on the socket and no --db is given; --embedded reads the store directly anyway.\n";

enum { Q_DB = 300, Q_STATE, Q_SUBNET, Q_SINCE, Q_VENDOR, Q_LIMIT, Q_AFTER, Q_SOCKET, Q_EMBEDDED, Q_TEXT, Q_IMPORT,
       Q_NAME, Q_NOTE };

/* Not an option: in a command's `allowed` list it means the command takes --format html. */
enum { Q_HTML = 400 };

static const struct option query_long[] = {
	{ "db", required_argument, NULL, Q_DB },
	{ "socket", required_argument, NULL, Q_SOCKET },
	{ "embedded", no_argument, NULL, Q_EMBEDDED },
	{ "format", required_argument, NULL, 'f' },
	{ "state", required_argument, NULL, Q_STATE },
	{ "subnet", required_argument, NULL, Q_SUBNET },
	{ "since", required_argument, NULL, Q_SINCE },
	{ "vendor", required_argument, NULL, Q_VENDOR },
	{ "limit", required_argument, NULL, Q_LIMIT },
	{ "after", required_argument, NULL, Q_AFTER },
	{ "text", required_argument, NULL, Q_TEXT },
	{ "import", required_argument, NULL, Q_IMPORT },
	{ "name", required_argument, NULL, Q_NAME },
	{ "note", required_argument, NULL, Q_NOTE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int bad(const char *opt, const char *val, const char *expected)
{
	cli_error("bad %s '%s': %s", opt, val, expected);
	return EXIT_USAGE;
}

static int parse_subnet(const char *s, uint32_t *net, uint32_t *mask)
{
	char err[TARGET_ERR_LEN];
	struct target_range r;

	if (target_parse_range(s, &r, err, sizeof(err)) ||
	    (r.last - r.first + 1ull) & (r.last - r.first)) /* a CIDR block is a power of two */
		return bad("--subnet", s, "expected a CIDR such as 198.18.0.0/16");
	*mask = ~(r.last - r.first);
	*net = r.first & *mask;
	if (r.first != *net)
		return bad("--subnet", s, "expected a CIDR such as 198.18.0.0/16");
	return 0;
}

static int parse_ip(const char *opt, const char *s, uint32_t *ip)
{
	char err[TARGET_ERR_LEN];
	struct target_range r;

	if (target_parse_range(s, &r, err, sizeof(err)) || r.first != r.last)
		return bad(opt, s, "expected an IPv4 address");
	*ip = r.first;
	return 0;
}

/*
 * Parses the options shared by the query commands; `allowed` lists which (by option value)
 * the command takes. Returns 0, -1 after --help, or EXIT_USAGE.
 */
static int parse_query(const char *cmd, int argc, char **argv, struct query_opts *q, const int *allowed,
		       const char *usage, int *first_arg)
{
	char why[OPT_WHY_LEN];
	uint64_t v;
	int c, rc;

	optind = 1;
	q->format = isatty(STDOUT_FILENO) ? OUT_TEXT : OUT_JSONL;
	q->filter.state = -1;
	while ((c = opt_next(argc, argv, "f:h", query_long, why, sizeof(why))) != -1) {
		bool ok = c == 'h' || c == 'f' || c == Q_DB || c == Q_SOCKET || c == Q_EMBEDDED || c == '?';
		for (const int *a = allowed; *a && !ok; a++)
			ok = *a == c;
		if (!ok) { /* a known option another command takes */
			const char *name = "?";
			for (const struct option *o = query_long; o->name; o++)
				if (o->val == c)
					name = o->name;
			cli_error("--%s is not an option of 'lnmt %s' (see 'lnmt %s --help')", name, cmd, cmd);
			return EXIT_USAGE;
		}
		if (c == '?') {
			cli_error("%s (see 'lnmt %s --help')", why, cmd);
			return EXIT_USAGE;
		}
		switch (c) {
		case 'h': fputs(usage, stdout); return -1;
		case 'f':
			if (!strcmp(optarg, "html")) {
				bool html = false;
				for (const int *a = allowed; *a && !html; a++)
					html = *a == Q_HTML;
				if (!html) {
					cli_error("--format html is only for 'lnmt report uptime' (see 'lnmt %s --help')", cmd);
					return EXIT_USAGE;
				}
				q->format = QUERY_OUT_HTML;
				break;
			}
			if ((q->format = output_format_parse(optarg)) < 0)
				return bad("--format", optarg, "expected text, jsonl or csv");
			break;
		case Q_DB: q->db = optarg; break;
		case Q_SOCKET: q->socket = optarg; break;
		case Q_EMBEDDED: q->embedded = true; break;
		case Q_STATE:
			if (!strcmp(optarg, "up"))
				q->filter.state = STORE_STATE_UP;
			else if (!strcmp(optarg, "down"))
				q->filter.state = STORE_STATE_DOWN;
			else
				return bad("--state", optarg, "expected up or down");
			break;
		case Q_SUBNET:
			if ((rc = parse_subnet(optarg, &q->filter.net, &q->filter.mask)))
				return rc;
			q->cidr = optarg;
			break;
		case Q_SINCE:
			if (!cli_parse_age_us(optarg, &v))
				return bad("--since", optarg, "expected an age such as 30m, 24h or 7d");
			q->since_us = cli_now_us() - v;
			q->since_arg = optarg;
			break;
		case Q_VENDOR: q->filter.vendor = optarg; break;
		case Q_TEXT: q->filter.text = optarg; break;
		case Q_IMPORT: q->import = optarg; break;
		case Q_NAME: q->name = optarg; break;
		case Q_NOTE: q->note = optarg; break;
		case Q_LIMIT:
			if (!cli_parse_u64(optarg, 1, 100000000, &v))
				return bad("--limit", optarg, "expected a positive count");
			q->limit = (uint32_t)v;
			break;
		case Q_AFTER:
			if ((rc = parse_ip("--after", optarg, &q->filter.after)))
				return rc;
			q->filter.has_after = true;
			break;
		}
	}
	*first_arg = optind;
	return 0;
}

/* ---- devices ---- */

static void ports_text(const struct store_device *d, char *buf, size_t len, const char *sep)
{
	size_t off = 0;

	buf[0] = '\0';
	for (uint16_t i = 0; i < d->n_open && off + 8 < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%u", i ? sep : "", d->open_ports[i]);
}

static void mac_text(const struct store_device *d, char buf[18])
{
	if (!d->has_mac) {
		snprintf(buf, 18, "-");
		return;
	}
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", d->mac[0], d->mac[1], d->mac[2], d->mac[3],
		 d->mac[4], d->mac[5]);
}

/* JSON string contents for vendor names (quotes, backslashes and control bytes escaped). */
static void json_escape(const char *s, char *out, size_t len)
{
	size_t o = 0;
	for (; *s && o + 7 < len; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(out + o, len - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

/* A CSV field: quoted (quotes doubled) when it holds a comma, quote or line break. */
/* A time as a JSON value: the ISO time in quotes, or null when there is none (never the string
 * "null"). */
static const char *json_time(uint64_t us, char buf[32])
{
	char t[24];

	if (!us)
		return strcpy(buf, "null");
	snprintf(buf, 32, "\"%s\"", cli_format_time_iso(us, t, sizeof(t)));
	return buf;
}

/* A time as a CSV field: the ISO time, or empty when there is none. */
static const char *csv_time(uint64_t us, char buf[24])
{
	if (!us)
		return strcpy(buf, "");
	return cli_format_time_iso(us, buf, 24);
}

static void csv_field(const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

/* The first max bytes of s at most, not cutting a UTF-8 character; "-" for "". */
static const char *cut(const char *s, char *buf, size_t max)
{
	size_t n = strlen(s);

	if (!n)
		return "-";
	if (n > max) {
		n = max;
		while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

static const char *state_name(uint8_t s)
{
	return s == STORE_STATE_UP ? "up" : "down";
}

struct list_ctx {
	int format;
	uint64_t n;
};

/* One device as a JSON object; with `open` the closing brace is left to the caller, who adds
 * more members. */
static void device_json(const struct store_device *d, bool open)
{
	char ip[16], mac[18], seen[32], first[32], changed[32], probes[16], ports[400];
	char vendor[6 * STORE_VENDOR_LEN], name[6 * STORE_NAME_LEN + 8], note[6 * STORE_NOTE_LEN + 8];

	mac_text(d, mac);
	cli_probes_text(d->probes, probes, sizeof(probes));
	ports_text(d, ports, sizeof(ports), ",");
	json_escape(d->vendor, vendor, sizeof(vendor));
	json_escape(d->name, name, sizeof(name));
	json_escape(d->note, note, sizeof(note));
	printf("{\"ip\":\"%s\",\"state\":\"%s\",\"mac\":%s%s%s,\"vendor\":\"%s\",\"first_seen\":%s,"
	       "\"last_seen\":%s,\"last_change\":%s,\"rtt_us\":%u,\"probes\":\"%s\","
	       "\"open_ports\":[%s],\"missed\":%u,\"name\":\"%s\",\"note\":\"%s\"%s",
	       ipv4_format(d->ip, ip), state_name(d->state), d->has_mac ? "\"" : "", d->has_mac ? mac : "null",
	       d->has_mac ? "\"" : "", vendor, json_time(d->first_seen_us, first), json_time(d->last_seen_us, seen),
	       json_time(d->last_change_us, changed), d->last_rtt_us, probes, ports,
	       d->missed, name, note, open ? "" : "}\n");
}

static int print_device(void *ctx, const struct store_device *d)
{
	struct list_ctx *lc = ctx;
	char ip[16], mac[18], seen[24], first[24], probes[16], ports[400], name[24];

	lc->n++;
	if (lc->format == OUT_JSONL) {
		device_json(d, false);
		return 0;
	}
	ipv4_format(d->ip, ip);
	mac_text(d, mac);
	cli_probes_text(d->probes, probes, sizeof(probes));
	if (lc->format == OUT_CSV) {
		ports_text(d, ports, sizeof(ports), " ");
		printf("%s,%s,%s,\"%s\",%s,%s,%u,%s,%s,", ip, state_name(d->state), d->has_mac ? mac : "",
		       d->vendor, csv_time(d->first_seen_us, first), csv_time(d->last_seen_us, seen), d->last_rtt_us, probes,
		       ports);
		csv_field(d->name);
		putchar(',');
		csv_field(d->note);
		putchar('\n');
		return 0;
	}
	ports_text(d, ports, sizeof(ports), ",");
	printf("%-15s  %-16s  %-4s  %-17s  %-22.22s  %-19s  %8.3f ms  %-12s  %s\n", ip, cut(d->name, name, 16),
	       state_name(d->state), mac,
	       d->vendor[0] ? d->vendor : "-", cli_format_time(d->last_seen_us, seen, sizeof(seen)),
	       d->last_rtt_us / 1000.0, probes, ports[0] ? ports : "-");
	return 0;
}

/*
 * lnmtd's client when one answers and neither --db nor --embedded was given (*cl NULL: use the
 * store). Non-zero when the socket refused this user: the message is printed, the caller exits 1.
 */
static int query_connect(const struct query_opts *q, struct rpc_client **cl)
{
	*cl = NULL;
	return q->db || q->embedded ? 0 : client_connect(q->socket, cl);
}

/* ---- devices --import ---- */

static int devices_import(const struct query_opts *q)
{
	struct inventory inv = { 0 };
	struct store_notes_import_report rep = { 0 };
	const char *shown = strcmp(q->import, "-") ? q->import : "(stdin)";
	int rc = inventory_read(&inv, q->import);

	if (rc)
		goto out;
	struct rpc_client *cl;
	if (query_connect(q, &cl)) {
		rc = 1;
		goto out;
	}
	if (cl) {
		size_t done = 0;
		rc = client_import(cl, inv.e, inv.n, &rep, &done);
		client_close(cl);
		if (rc && done)
			cli_error("%s: the first %zu entries (to line %zu) were imported, the rest not", shown, done,
				  inv.line[done - 1]);
		if (rc) {
			rc = rc == RPC_E_BAD_PARAMS || rc == RPC_E_MISSING_PARAM ? EXIT_USAGE : 1;
			goto out;
		}
	} else {
		char err[512];
		struct store *st = cli_store_open(q->db, false, 0);
		if (!st) {
			rc = 1;
			goto out;
		}
		rc = store_notes_import(st, inv.e, inv.n, &rep, err, sizeof(err));
		store_close(st);
		if (rc) {
			cli_error("%s: %s", shown, err);
			rc = rc == -EINVAL ? EXIT_USAGE : 1;
			goto out;
		}
	}
	if (q->format == OUT_JSONL)
		printf("{\"imported\":%llu,\"known\":%llu,\"unknown\":%llu}\n", (unsigned long long)rep.imported,
		       (unsigned long long)rep.known, (unsigned long long)rep.unknown);
	else
		printf("imported %llu from %s: %llu known device%s, %llu not seen yet\n", (unsigned long long)rep.imported,
		       shown, (unsigned long long)rep.known, rep.known == 1 ? "" : "s", (unsigned long long)rep.unknown);
out:
	inventory_free(&inv);
	return rc;
}

int cmd_devices(int argc, char **argv)
{
	static const int allowed[] = { Q_STATE, Q_SUBNET, Q_SINCE, Q_VENDOR, Q_TEXT, Q_LIMIT, Q_AFTER, Q_IMPORT, 0 };
	struct query_opts q = { 0 };
	int first, rc = parse_query("devices", argc, argv, &q, allowed, devices_usage, &first);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (first < argc) {
		cli_error("devices takes no arguments, got '%s' (see 'lnmt devices --help')", argv[first]);
		return EXIT_USAGE;
	}
	if (q.import) {
		if (q.filter.state >= 0 || q.cidr || q.since_us || q.filter.vendor || q.filter.text || q.limit ||
		    q.filter.has_after) {
			cli_error("--import takes no filters (see 'lnmt devices --help')");
			return EXIT_USAGE;
		}
		return devices_import(&q);
	}
	/* Through lnmtd when one answers (and no store was named), else the store itself. */
	struct rpc_client *cl;
	if (query_connect(&q, &cl))
		return 1;
	struct store *st = cl ? NULL : cli_store_open(q.db, true, 0);
	if (!st && !cl)
		return 1;
	q.filter.limit = q.limit;
	q.filter.seen_since_us = q.since_us;
	struct list_ctx lc = { .format = q.format };
	if (q.format == OUT_TEXT && isatty(STDOUT_FILENO))
		printf("%-15s  %-16s  %-4s  %-17s  %-22s  %-19s  %11s  %-12s  %s\n", "IP", "NAME", "STATE", "MAC",
		       "VENDOR", "LAST SEEN", "RTT", "PROBES", "OPEN PORTS");
	if (q.format == OUT_CSV)
		puts(QUERY_CSV_HEADER);
	uint32_t next = 0;
	bool more = false;
	if (cl)
		rc = client_devices_list(cl, &q.filter, q.cidr, print_device, &lc, &next, &more);
	else
		rc = store_devices_list(st, &q.filter, print_device, &lc, &next, &more);
	fflush(stdout);
	if (rc && cl) {
		/* the error is printed */
	} else if (rc) {
		cli_error("listing devices: %s", lnmt_strerror(rc));
	} else if (more) {
		char ip[16];
		cli_error("more devices: continue with --after %s", ipv4_format(next, ip));
	}
	if (cl)
		client_close(cl);
	else
		store_close(st);
	return rc ? 1 : 0;
}

void query_print_device(int format, const struct store_device *d)
{
	struct list_ctx lc = { .format = format };
	print_device(&lc, d);
}

/* ---- device ---- */

struct history_ctx {
	int format;
	unsigned n;
};

static int print_change(void *ctx, const struct store_change *c)
{
	struct history_ctx *h = ctx;
	char t[32];

	if (h->format == OUT_JSONL)
		printf("%s{\"time\":%s,\"state\":\"%s\"}", h->n++ ? "," : "", json_time(c->time_us, t),
		       state_name(c->state));
	else
		printf("  %s  %s\n", cli_format_time(c->time_us, t, sizeof(t)), state_name(c->state));
	return 0;
}

static int print_observation(void *ctx, const struct store_observation *o)
{
	struct history_ctx *h = ctx;
	char t[32], probes[16];

	cli_probes_text(o->probes, probes, sizeof(probes));
	if (h->format == OUT_JSONL)
		printf("%s{\"time\":%s,\"sweep\":%llu,\"state\":\"%s\",\"probes\":\"%s\",\"rtt_us\":%u}",
		       h->n++ ? "," : "", json_time(o->time_us, t),
		       (unsigned long long)o->sweep_id, state_name(o->state), probes, o->rtt_us);
	else
		printf("  %s  sweep %-6llu %-4s  %-12s  %8.3f ms\n", cli_format_time(o->time_us, t, sizeof(t)),
		       (unsigned long long)o->sweep_id, state_name(o->state), probes, o->rtt_us / 1000.0);
	return 0;
}

static void print_device_text(const struct store_device *d)
{
	char ip[16], mac[18], t[24], probes[16], ports[400];

	mac_text(d, mac);
	cli_probes_text(d->probes, probes, sizeof(probes));
	ports_text(d, ports, sizeof(ports), ", ");
	printf("%s\n", ipv4_format(d->ip, ip));
	if (d->name[0])
		printf("  name         %s\n", d->name);
	if (d->note[0])
		printf("  note         %s\n", d->note);
	printf("  state        %s%s\n", state_name(d->state), d->missed ? "" : "");
	if (d->missed)
		printf("  missed       %u sweep%s in a row\n", d->missed, d->missed == 1 ? "" : "s");
	printf("  mac          %s%s%s%s\n", mac, d->vendor[0] ? " (" : "", d->vendor, d->vendor[0] ? ")" : "");
	printf("  first seen   %s\n", cli_format_time(d->first_seen_us, t, sizeof(t)));
	printf("  last seen    %s\n", cli_format_time(d->last_seen_us, t, sizeof(t)));
	printf("  last change  %s\n", cli_format_time(d->last_change_us, t, sizeof(t)));
	printf("  last rtt     %.3f ms\n", d->last_rtt_us / 1000.0);
	printf("  answers      %s\n", probes);
	printf("  open ports   %s\n", ports[0] ? ports : "-");
	printf("  history      %llu answers to %llu probes (%.2f%%), %llu state changes\n",
	       (unsigned long long)d->answers_total, (unsigned long long)d->probes_total,
	       d->probes_total ? 100.0 * d->answers_total / d->probes_total : 0.0,
	       (unsigned long long)d->changes_total);
}

/* A name and note as `lnmt device IP --name ...` reports them. */
static void print_note(int format, const struct store_note *n)
{
	char ip[16], name[6 * STORE_NAME_LEN + 8], note[6 * STORE_NOTE_LEN + 8];

	ipv4_format(n->ip, ip);
	if (format == OUT_JSONL) {
		json_escape(n->name, name, sizeof(name));
		json_escape(n->note, note, sizeof(note));
		printf("{\"ip\":\"%s\",\"name\":\"%s\",\"note\":\"%s\",\"seen\":%s}\n", ip, name, note,
		       n->seen ? "true" : "false");
		return;
	}
	printf("%s\n", ip);
	printf("  name         %s\n", n->name[0] ? n->name : "-");
	printf("  note         %s\n", n->note[0] ? n->note : "-");
	if (!n->seen)
		printf("  (never seen: no sweep has found it yet%s)\n",
		       n->name[0] || n->note[0] ? "; the device carries these once one does" : "");
}

/* How many of its newest state changes and observations `lnmt device` shows. */
static uint32_t device_history(int format)
{
	return format == OUT_JSONL ? 20 : 10;
}

/* A device's changes (or, with obs, its observations) to h: from the store st, or from what
 * devices.get gave (cd). */
static void print_history(struct store *st, const struct client_device *cd, uint32_t ip, bool obs,
			  struct history_ctx *h)
{
	uint32_t limit = device_history(h->format);

	if (!cd && obs)
		store_device_observations(st, ip, limit, print_observation, h);
	else if (!cd)
		store_device_changes(st, ip, limit, print_change, h);
	else if (obs)
		for (uint32_t i = 0; i < cd->n_obs && i < limit; i++)
			print_observation(h, &cd->obs[i]);
	else
		for (uint32_t i = 0; i < cd->n_changes && i < limit; i++)
			print_change(h, &cd->changes[i]);
}

/* `lnmt device IP` of a device a sweep has found, with its history from st or cd. */
static void print_device_full(int format, const struct store_device *d, struct store *st,
			      const struct client_device *cd)
{
	struct history_ctx h = { .format = format };

	if (format == OUT_JSONL) {
		device_json(d, true);
		printf(",\"changes\":[");
		print_history(st, cd, d->ip, false, &h);
		h.n = 0;
		printf("],\"observations\":[");
		print_history(st, cd, d->ip, true, &h);
		printf("]}\n");
	} else {
		print_device_text(d);
		printf("recent state changes (newest first)\n");
		print_history(st, cd, d->ip, false, &h);
		printf("recent observations (newest first)\n");
		print_history(st, cd, d->ip, true, &h);
	}
}

/* lnmt device IP --name/--note: through lnmtd when one answers, else the store. */
static int device_annotate(const struct query_opts *q, uint32_t ip)
{
	struct store_note_edit e = { ip, q->name, q->note };
	struct store_note out = { .ip = ip };
	char err[512];
	int rc;

	if (store_note_check(q->name, q->note, err, sizeof(err))) {
		cli_error("%s (see 'lnmt device --help')", err); /* "name is 70 bytes long, the most is 64" */
		return EXIT_USAGE;
	}
	struct rpc_client *cl;
	if (query_connect(q, &cl))
		return 1;
	if (cl) {
		rc = client_annotate(cl, &e, &out);
		client_close(cl);
		if (rc)
			return rc == RPC_E_BAD_PARAMS || rc == RPC_E_MISSING_PARAM ? EXIT_USAGE : 1;
	} else {
		struct store *st = cli_store_open(q->db, false, 0);
		struct store_device d;
		if (!st)
			return 1;
		rc = store_note_set(st, ip, q->name, q->note, err, sizeof(err));
		if (!rc) {
			rc = store_note_get(st, ip, &out);
			if (rc == -ENOENT) /* both cleared */
				rc = 0, out.seen = store_device_get(st, ip, &d) == 0;
		}
		store_close(st);
		if (rc) {
			cli_error("%s", err[0] ? err : lnmt_strerror(rc));
			return rc == -EINVAL ? EXIT_USAGE : 1;
		}
	}
	print_note(q->format == OUT_JSONL ? OUT_JSONL : OUT_TEXT, &out);
	return 0;
}

int cmd_device(int argc, char **argv)
{
	static const int allowed[] = { Q_NAME, Q_NOTE, 0 };
	struct query_opts q = { 0 };
	struct store_device d;
	uint32_t ip;
	int first, rc = parse_query("device", argc, argv, &q, allowed, device_usage, &first);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (argc - first != 1) {
		cli_error("device takes one address, e.g. 'lnmt device 198.19.0.7' (see 'lnmt device --help')");
		return EXIT_USAGE;
	}
	if ((rc = parse_ip("address", argv[first], &ip)))
		return rc;
	if (q.name || q.note)
		return device_annotate(&q, ip);
	int format = q.format == OUT_JSONL ? OUT_JSONL : OUT_TEXT;
	struct rpc_client *cl;
	if (query_connect(&q, &cl))
		return 1;
	if (cl) {
		struct client_device cd;
		rc = client_device_get(cl, ip, device_history(format), &cd);
		client_close(cl);
		if (rc == -ENOENT) {
			cli_error("%s: never seen (no sweep has found it)", argv[first]);
			return 1;
		}
		if (rc) /* printed */
			return rc == RPC_E_BAD_PARAMS || rc == RPC_E_MISSING_PARAM ? EXIT_USAGE : 1;
		if (cd.seen)
			print_device_full(format, &cd.dev, NULL, &cd);
		else
			print_note(format, &cd.note);
		return 0;
	}
	struct store *st = cli_store_open(q.db, true, 0);
	if (!st)
		return 1;
	rc = store_device_get(st, ip, &d);
	if (rc == -ENOENT) {
		/* An address named ahead of the sweeps (an imported inventory) has its note. */
		struct store_note n;
		rc = store_note_get(st, ip, &n);
		store_close(st);
		if (!rc) {
			print_note(format, &n);
			return 0;
		}
		cli_error("%s: never seen (no sweep has found it)", argv[first]);
		return 1;
	}
	if (rc) {
		cli_error("reading %s: %s", argv[first], lnmt_strerror(rc));
		store_close(st);
		return 1;
	}
	print_device_full(format, &d, st, NULL);
	store_close(st);
	return 0;
}

/* ---- report ---- */

static int print_uptime(void *ctx, const struct store_uptime *u)
{
	struct list_ctx *lc = ctx;
	char ip[16];

	lc->n++;
	ipv4_format(u->ip, ip);
	switch (lc->format) {
	case OUT_JSONL:
		printf("{\"ip\":\"%s\",\"state\":\"%s\",\"uptime_pct\":%.2f,\"probes\":%llu,\"answers\":%llu,"
		       "\"changes\":%llu}\n", ip, state_name(u->state), u->uptime_pct, (unsigned long long)u->probes,
		       (unsigned long long)u->answers, (unsigned long long)u->changes);
		break;
	case OUT_CSV:
		printf("%s,%s,%.2f,%llu,%llu,%llu\n", ip, state_name(u->state), u->uptime_pct,
		       (unsigned long long)u->probes, (unsigned long long)u->answers, (unsigned long long)u->changes);
		break;
	default:
		printf("%-15s  %-4s  %7.2f%%  %8llu  %8llu  %7llu\n", ip, state_name(u->state), u->uptime_pct,
		       (unsigned long long)u->probes, (unsigned long long)u->answers, (unsigned long long)u->changes);
	}
	return 0;
}

static int print_subnet(void *ctx, const struct store_subnet_summary *s)
{
	struct list_ctx *lc = ctx;
	char net[16];

	ipv4_format(s->net, net);
	if (lc->format == OUT_JSONL)
		printf("%s{\"subnet\":\"%s/24\",\"up\":%u,\"down\":%u}", lc->n++ ? "," : "", net, s->up, s->down);
	else
		printf("  %-18s  %6u up  %6u down\n", strcat(net, "/24"), s->up, s->down);
	return 0;
}

/* The network report from the store, or from lnmtd when cl is set. */
static int network_report(struct store *st, struct rpc_client *cl, const struct query_opts *q, uint64_t since,
			  struct store_network_report *r, store_subnet_cb cb, void *ctx)
{
	if (cl)
		return client_report_network(cl, since, q->cidr, r, cb, ctx);
	return store_report_network(st, since, q->filter.net, q->filter.mask, r, cb, ctx);
}

static int report_network(struct store *st, struct rpc_client *cl, const struct query_opts *q, uint64_t since)
{
	struct store_network_report r;
	struct list_ctx lc = { .format = q->format == OUT_JSONL ? OUT_JSONL : OUT_TEXT };
	int rc;

	if (lc.format == OUT_JSONL) {
		/* Counts first needs the report before the subnets: run it once without them. */
		if ((rc = network_report(st, cl, q, since, &r, NULL, NULL)))
			return rc;
		printf("{\"devices\":%llu,\"up\":%llu,\"down\":%llu,\"new\":%llu,\"rtt_p50_us\":%u,\"rtt_p90_us\":%u,"
		       "\"rtt_p99_us\":%u,\"sweeps\":%llu,\"mean_send_pps\":%.0f,\"subnets\":[",
		       (unsigned long long)r.devices, (unsigned long long)r.up, (unsigned long long)r.down,
		       (unsigned long long)r.new_since, r.rtt_p50_us, r.rtt_p90_us, r.rtt_p99_us,
		       (unsigned long long)r.sweeps_since, r.mean_send_pps);
		rc = network_report(st, cl, q, since, &r, print_subnet, &lc);
		printf("]}\n");
		return rc;
	}
	printf("per /24 subnet\n");
	if ((rc = network_report(st, cl, q, since, &r, print_subnet, &lc)))
		return rc;
	printf("devices        %llu (%llu up, %llu down)\n", (unsigned long long)r.devices,
	       (unsigned long long)r.up, (unsigned long long)r.down);
	printf("new            %llu in the period\n", (unsigned long long)r.new_since);
	printf("rtt (up)       p50 %.3f ms  p90 %.3f ms  p99 %.3f ms\n", r.rtt_p50_us / 1000.0,
	       r.rtt_p90_us / 1000.0, r.rtt_p99_us / 1000.0);
	printf("sweeps         %llu in the period, mean send rate %.0f pps\n", (unsigned long long)r.sweeps_since,
	       r.mean_send_pps);
	return 0;
}

int cmd_report(int argc, char **argv)
{
	static const int allowed[] = { Q_SINCE, Q_SUBNET, 0 };
	static const int allowed_html[] = { Q_SINCE, Q_SUBNET, Q_HTML, 0 }; /* report uptime */
	struct query_opts q = { 0 };
	int first, rc;

	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
			fputs(report_usage, stdout);
			return 0;
		}
		cli_error("report needs a kind: 'lnmt report uptime' or 'lnmt report network'");
		return EXIT_USAGE;
	}
	const char *kind = argv[1];
	if (strcmp(kind, "uptime") && strcmp(kind, "network")) {
		cli_error("unknown report '%s': expected uptime or network", kind);
		return EXIT_USAGE;
	}
	char cmd[32];
	snprintf(cmd, sizeof(cmd), "report %s", kind);
	const int *takes = kind[0] == 'u' ? allowed_html : allowed; /* uptime or network, checked above */
	if ((rc = parse_query(cmd, argc - 1, argv + 1, &q, takes, report_usage, &first)))
		return rc < 0 ? 0 : rc;
	if (first < argc - 1) {
		cli_error("report %s takes no arguments, got '%s'", kind, argv[first + 1]);
		return EXIT_USAGE;
	}
	uint64_t since = q.since_us ? q.since_us : cli_now_us() - 24ull * 3600 * 1000000;
	struct rpc_client *cl;
	if (query_connect(&q, &cl))
		return 1;
	struct store *st = cl ? NULL : cli_store_open(q.db, true, 0);
	if (!st && !cl)
		return 1;
	if (q.format == QUERY_OUT_HTML) { /* report uptime only: parse_query refused it elsewhere */
		struct query_html_req hr = { .since_us = since, .since_text = q.since_arg, .net = q.filter.net,
					     .mask = q.filter.mask, .cidr = q.cidr };
		int status = query_report_uptime_html(stdout, st, cl, &hr); /* prints its errors */
		if (cl)
			client_close(cl);
		else
			store_close(st);
		return status;
	}
	if (!strcmp(kind, "uptime")) {
		struct list_ctx lc = { .format = q.format };
		if (q.format == OUT_TEXT && isatty(STDOUT_FILENO))
			printf("%-15s  %-4s  %8s  %8s  %8s  %7s\n", "IP", "STATE", "UPTIME", "PROBES", "ANSWERS", "CHANGES");
		if (q.format == OUT_CSV)
			puts("ip,state,uptime_pct,probes,answers,changes");
		if (cl)
			rc = client_report_uptime(cl, since, q.cidr, print_uptime, &lc);
		else
			rc = store_report_uptime(st, since, q.filter.net, q.filter.mask, print_uptime, &lc);
	} else {
		rc = report_network(st, cl, &q, since);
	}
	fflush(stdout);
	if (rc && !cl)
		cli_error("report %s: %s", kind, lnmt_strerror(rc));
	if (cl)
		client_close(cl);
	else
		store_close(st);
	return rc ? 1 : 0;
}

/* ---- sweeps ---- */

static int print_sweep(void *ctx, const struct store_sweep *s)
{
	struct list_ctx *lc = ctx;
	char start[32], probes[16], secs_text[24];
	const char *ended = store_sweep_end_name(s->ended);
	/* A sweep without an end (running, or its process died) has no duration yet. */
	double secs = s->end_us > s->start_us ? (s->end_us - s->start_us) / 1e6 : 0;

	cli_probes_text(s->probes, probes, sizeof(probes));
	switch (lc->format) {
	case OUT_JSONL: {
		char end[32], targets[6 * sizeof(s->targets)];
		json_escape(s->targets, targets, sizeof(targets));
		printf("{\"id\":%llu,\"start\":%s,\"end\":%s,\"targets\":\"%s\",\"probes\":\"%s\",\"ports\":\"%s\","
		       "\"addresses\":%llu,\"sent\":%llu,\"replies\":%llu,\"live\":%llu,\"new\":%u,\"went_up\":%u,"
		       "\"went_down\":%u,\"ended\":\"%s\",\"complete\":%s,\"observations\":%llu}\n",
		       (unsigned long long)s->id, json_time(s->start_us, start), json_time(s->end_us, end), targets,
		       probes, s->ports, (unsigned long long)s->addresses, (unsigned long long)s->sent,
		       (unsigned long long)s->replies, (unsigned long long)s->live, s->new_devices, s->went_up,
		       s->went_down, ended, s->complete ? "true" : "false", (unsigned long long)s->observations);
		break;
	}
	case OUT_CSV:
		if (s->end_us)
			snprintf(secs_text, sizeof(secs_text), "%.3f", secs);
		else
			secs_text[0] = '\0';
		printf("%llu,%s,%s,\"%s\",%s,%llu,%llu,%llu,%u,%u,%s,%s\n", (unsigned long long)s->id,
		       csv_time(s->start_us, start), secs_text, s->targets, probes, (unsigned long long)s->sent,
		       (unsigned long long)s->live, (unsigned long long)s->addresses, s->went_up, s->went_down, ended,
		       s->complete ? "yes" : "no");
		break;
	default:
		if (s->end_us)
			snprintf(secs_text, sizeof(secs_text), "%7.3f s", secs);
		else
			snprintf(secs_text, sizeof(secs_text), "%9s", "-");
		printf("%6llu  %-19s  %s  %-10s  %8llu  %8llu  %5u  %5u  %5u  %-12s%s  %s\n",
		       (unsigned long long)s->id, cli_format_time(s->start_us, start, sizeof(start)), secs_text, probes,
		       (unsigned long long)s->sent, (unsigned long long)s->live, s->new_devices, s->went_up,
		       s->went_down, ended, s->complete || s->ended == STORE_END_RUNNING ? "" : " (incomplete)",
		       s->targets);
	}
	return 0;
}

int cmd_sweeps(int argc, char **argv)
{
	static const int allowed[] = { Q_LIMIT, 0 };
	struct query_opts q = { 0 };
	int first, rc = parse_query("sweeps", argc, argv, &q, allowed, sweeps_usage, &first);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (first < argc) {
		cli_error("sweeps takes no arguments, got '%s' (see 'lnmt sweeps --help')", argv[first]);
		return EXIT_USAGE;
	}
	/* Through lnmtd when one answers (and no store was named), else the store itself. */
	struct rpc_client *cl;
	if (query_connect(&q, &cl))
		return 1;
	struct store *st = cl ? NULL : cli_store_open(q.db, true, 0);
	if (!st && !cl)
		return 1;
	struct list_ctx lc = { .format = q.format };
	uint32_t limit = q.limit ? q.limit : 20;
	if (q.format == OUT_TEXT && isatty(STDOUT_FILENO))
		printf("%6s  %-19s  %9s  %-10s  %8s  %8s  %5s  %5s  %5s  %-12s  %s\n", "ID", "START", "TIME", "PROBES",
		       "SENT", "LIVE", "NEW", "UP", "DOWN", "ENDED", "TARGETS");
	if (q.format == OUT_CSV)
		puts("id,start,seconds,targets,probes,sent,live,addresses,went_up,went_down,ended,complete");
	if (cl) {
		rc = client_sweeps_list(cl, limit, print_sweep, &lc);
		client_close(cl);
		/* An lnmtd from before sweeps.list: the store, as it was read then. */
		if (rc == -EOPNOTSUPP && !(st = cli_store_open(q.db, true, 0)))
			return 1;
	}
	if (st) {
		rc = store_sweeps_list(st, limit, print_sweep, &lc);
		fflush(stdout);
		if (rc)
			cli_error("listing sweeps: %s", lnmt_strerror(rc));
		store_close(st);
	}
	fflush(stdout);
	return rc ? 1 : 0;
}
