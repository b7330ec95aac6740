/* SPDX-License-Identifier: MIT */
/*
 * client_cmd.c: the commands that talk to lnmtd over its unix socket (api/RPC-METHODS.md):
 * `lnmt status`, `lnmt jobs add|ls|rm|run`, `lnmt watch`, and the RPC side of `lnmt devices`,
 * `lnmt device`, `lnmt report`, `lnmt sweeps` and `lnmt scan` (see client_cmd.h).
 */
#include "client_cmd.h"

#include "cli.h"
#include "opt.h"
#include "output.h"
#include "rpc.h"
#include "targets.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PING_MS 500      /* a daemon that does not answer system.status by then is taken as none */
#define CALL_MS 60000    /* any later call */

/* ---- connecting ---- */

const char *client_socket_path(const char *opt, char *buf, size_t len)
{
	if (opt && *opt) {
		snprintf(buf, len, "%s", opt);
		return buf;
	}
	return rpc_default_socket(buf, len);
}

int client_connect(const char *socket_opt, struct rpc_client **out)
{
	char path[256], why[512];
	struct rpc_client *c;
	msgpack_zone *z = NULL;
	msgpack_object res;
	int rc;

	*out = NULL;
	if (!client_socket_path(socket_opt, path, sizeof(path)))
		return 0;
	if ((rc = rpc_client_connect(&c, path))) {
		/* Refused by the socket's mode is not "no daemon": working in-process instead would
		 * hide why, and read another store than the daemon's. */
		if (rc == -EACCES) {
			cli_error("%s", rpc_connect_error(rc, path, why, sizeof(why)));
			return rc;
		}
		return 0;
	}
	rpc_client_set_timeout(c, PING_MS);
	rc = rpc_call(c, "system.status", NULL, NULL, &z, &res, NULL, 0);
	if (z)
		msgpack_zone_free(z);
	if (rc) {
		rpc_client_close(c);
		return 0;
	}
	rpc_client_set_timeout(c, CALL_MS);
	*out = c;
	return 0;
}

void client_close(struct rpc_client *c)
{
	rpc_client_close(c);
}

/* Connects or says why not: no daemon, or no permission (exit 1). */
static struct rpc_client *need_daemon(const char *socket_opt)
{
	char path[256];
	struct rpc_client *c;

	if (client_connect(socket_opt, &c))
		return NULL;
	if (!c)
		cli_error("no daemon at %s (start lnmtd)",
			  client_socket_path(socket_opt, path, sizeof(path)) ? path : "(socket path too long)");
	return c;
}

/* ---- params ---- */

struct params {
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint32_t n;
};

static void p_init(struct params *p)
{
	msgpack_sbuffer_init(&p->sb);
	msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
	p->n = 0;
}

static msgpack_packer *p_key(struct params *p, const char *key)
{
	p->n++;
	rpc_pack_str(&p->pk, key);
	return &p->pk;
}

static void p_str(struct params *p, const char *key, const char *v)
{
	rpc_pack_str(p_key(p, key), v);
}

static void p_u64(struct params *p, const char *key, uint64_t v)
{
	msgpack_pack_uint64(p_key(p, key), v);
}

static void p_bool(struct params *p, const char *key, bool v)
{
	msgpack_packer *pk = p_key(p, key);
	if (v)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

static void p_strs(struct params *p, const char *key, const char *const *v, int n)
{
	msgpack_packer *pk = p_key(p, key);
	msgpack_pack_array(pk, (size_t)n);
	for (int i = 0; i < n; i++)
		rpc_pack_str(pk, v[i]);
}

/* A comma list as an array of strings. */
static void p_list(struct params *p, const char *key, const char *list)
{
	const char *v[16];
	char buf[256], *save = NULL;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ",", &save); t && n < 16; t = strtok_r(NULL, ",", &save))
		v[n++] = t;
	p_strs(p, key, v, n);
}

static void p_pack(void *arg, msgpack_packer *pk)
{
	struct params *p = arg;
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, p->n);
	if (p->sb.size)
		pk->callback(pk->data, p->sb.data, p->sb.size);
}

/* Calls method with p (NULL: no params; freed here). On an error prints "lnmt: what: message",
 * except for the rpc_error code `quiet` (0: none), which the caller handles. */
static int call_unless(struct rpc_client *c, const char *method, struct params *p, msgpack_zone **z,
		       msgpack_object *res, const char *what, int quiet)
{
	char err[512] = "";

	*z = NULL;
	int rc = rpc_call(c, method, p ? p_pack : NULL, p, z, res, err, sizeof(err));
	if (p)
		msgpack_sbuffer_destroy(&p->sb);
	if (rc > 0 && rc != quiet)
		cli_error("%s: %s", what, err);
	else if (rc == -ECONNRESET)
		cli_error("%s: the daemon closed the connection", what);
	else if (rc < 0)
		cli_error("%s: %s", what, strerror(-rc));
	if (rc && *z) {
		msgpack_zone_free(*z);
		*z = NULL;
	}
	return rc;
}

static int call(struct rpc_client *c, const char *method, struct params *p, msgpack_zone **z, msgpack_object *res,
		const char *what)
{
	return call_unless(c, method, p, z, res, what, 0);
}

/* ---- reading results ---- */

static const msgpack_object *mget(const msgpack_object *m, const char *key)
{
	size_t kl = strlen(key);

	if (!m || m->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object *k = &m->via.map.ptr[i].key;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl && !memcmp(k->via.str.ptr, key, kl))
			return m->via.map.ptr[i].val.type == MSGPACK_OBJECT_NIL ? NULL : &m->via.map.ptr[i].val;
	}
	return NULL;
}

static bool mstr(const msgpack_object *m, const char *key, char *buf, size_t len)
{
	const msgpack_object *v = mget(m, key);

	buf[0] = '\0';
	if (!v || v->type != MSGPACK_OBJECT_STR)
		return false;
	snprintf(buf, len, "%.*s", (int)v->via.str.size, v->via.str.ptr);
	return true;
}

static uint64_t mu64(const msgpack_object *m, const char *key)
{
	const msgpack_object *v = mget(m, key);

	if (!v)
		return 0;
	if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		return v->via.u64;
	if (v->type == MSGPACK_OBJECT_FLOAT64 || v->type == MSGPACK_OBJECT_FLOAT32)
		return (uint64_t)v->via.f64;
	return 0;
}

static double mdouble(const msgpack_object *m, const char *key)
{
	const msgpack_object *v = mget(m, key);

	if (v && (v->type == MSGPACK_OBJECT_FLOAT64 || v->type == MSGPACK_OBJECT_FLOAT32))
		return v->via.f64;
	return (double)mu64(m, key);
}

/* "2026-11-26T20:55:01Z" -> microseconds; 0 for nil or junk. */
static uint64_t mtime(const msgpack_object *m, const char *key)
{
	char buf[40];
	struct tm tm = { 0 };

	if (!mstr(m, key, buf, sizeof(buf)))
		return 0;
	const char *end = strptime(buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return 0;
	time_t t = timegm(&tm);
	return t > 0 ? (uint64_t)t * 1000000u : 0;
}

static uint32_t mip(const msgpack_object *m, const char *key)
{
	char buf[40];
	struct in_addr a;

	if (!mstr(m, key, buf, sizeof(buf)))
		return 0;
	buf[strcspn(buf, "/")] = '\0'; /* "a.b.c.0/24" */
	if (inet_pton(AF_INET, buf, &a) != 1)
		return 0;
	return ntohl(a.s_addr);
}

static uint8_t probes_mask(const char *s)
{
	uint8_t m = 0;
	if (strstr(s, "arp"))
		m |= STORE_PROBE_ARP;
	if (strstr(s, "icmp"))
		m |= STORE_PROBE_ICMP;
	if (strstr(s, "syn"))
		m |= STORE_PROBE_SYN;
	return m;
}

static uint8_t state_of(const msgpack_object *m)
{
	char s[8];
	mstr(m, "state", s, sizeof(s));
	return strcmp(s, "up") ? STORE_STATE_DOWN : STORE_STATE_UP;
}

static void to_device(const msgpack_object *m, struct store_device *d)
{
	char buf[64];
	unsigned mac[6];

	memset(d, 0, sizeof(*d));
	d->ip = mip(m, "ip");
	if (mstr(m, "mac", buf, sizeof(buf)) && sscanf(buf, "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3],
						       &mac[4], &mac[5]) == 6) {
		d->has_mac = true;
		for (int i = 0; i < 6; i++)
			d->mac[i] = (uint8_t)mac[i];
	}
	mstr(m, "vendor", d->vendor, sizeof(d->vendor));
	mstr(m, "name", d->name, sizeof(d->name));
	mstr(m, "note", d->note, sizeof(d->note));
	d->state = state_of(m);
	mstr(m, "probes", buf, sizeof(buf));
	d->probes = probes_mask(buf);
	d->missed = (uint16_t)mu64(m, "missed");
	d->first_seen_us = mtime(m, "first_seen");
	d->last_seen_us = mtime(m, "last_seen");
	d->last_change_us = mtime(m, "last_change");
	d->last_rtt_us = (uint32_t)mu64(m, "rtt_us");
	const msgpack_object *ports = mget(m, "open_ports");
	if (ports && ports->type == MSGPACK_OBJECT_ARRAY)
		for (uint32_t i = 0; i < ports->via.array.size && d->n_open < STORE_MAX_OPEN_PORTS; i++)
			if (ports->via.array.ptr[i].type == MSGPACK_OBJECT_POSITIVE_INTEGER)
				d->open_ports[d->n_open++] = (uint16_t)ports->via.array.ptr[i].via.u64;
}

static const msgpack_object *marray(const msgpack_object *m, const char *key)
{
	const msgpack_object *v = mget(m, key);
	return v && v->type == MSGPACK_OBJECT_ARRAY ? v : NULL;
}

/* ---- JSON and text for generic results ---- */

static void json_str(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void json(FILE *f, const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL: fputs("null", f); break;
	case MSGPACK_OBJECT_BOOLEAN: fputs(o->via.boolean ? "true" : "false", f); break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER: fprintf(f, "%llu", (unsigned long long)o->via.u64); break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: fprintf(f, "%lld", (long long)o->via.i64); break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: fprintf(f, "%.15g", o->via.f64); break;
	case MSGPACK_OBJECT_STR: json_str(f, o->via.str.ptr, o->via.str.size); break;
	case MSGPACK_OBJECT_BIN: json_str(f, o->via.bin.ptr, o->via.bin.size); break;
	case MSGPACK_OBJECT_ARRAY:
		fputc('[', f);
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			if (i)
				fputc(',', f);
			json(f, &o->via.array.ptr[i]);
		}
		fputc(']', f);
		break;
	case MSGPACK_OBJECT_MAP:
		fputc('{', f);
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			if (i)
				fputc(',', f);
			const msgpack_object *k = &o->via.map.ptr[i].key;
			if (k->type == MSGPACK_OBJECT_STR)
				json_str(f, k->via.str.ptr, k->via.str.size);
			else
				fputs("\"?\"", f);
			fputc(':', f);
			json(f, &o->via.map.ptr[i].val);
		}
		fputc('}', f);
		break;
	default: fputs("null", f);
	}
}

/* A scalar as text ("-" for nil); arrays and maps as JSON. */
static void text_value(FILE *f, const msgpack_object *o)
{
	if (!o || o->type == MSGPACK_OBJECT_NIL)
		fputs("-", f);
	else if (o->type == MSGPACK_OBJECT_STR)
		fprintf(f, "%.*s", (int)o->via.str.size, o->via.str.ptr);
	else
		json(f, o);
}

static int parse_format(const char *arg, int *format)
{
	if ((*format = output_format_parse(arg)) < 0 || *format == OUT_CSV) {
		cli_error("bad --format '%s': expected text or jsonl", arg);
		return EXIT_USAGE;
	}
	return 0;
}

static int usage_error(const char *cmd, const char *why)
{
	cli_error("%s (see 'lnmt %s --help')", why, cmd);
	return EXIT_USAGE;
}

/* A comma-list option (-P, --topics): no empty item ("icmp,,arp", "scan,"). */
static bool list_ok(const char *opt, const char *list)
{
	if (!opt_list_has_empty(list))
		return true;
	cli_error("bad %s '%s': empty item in the list (two commas, or a comma at an end)", opt, list);
	return false;
}

/* ---- lnmt status ---- */

static const char status_usage[] =
"Usage: lnmt status [--socket PATH] [-f text|jsonl]\n"
"\n"
"What lnmtd is doing: version, uptime, sweeps running and done, jobs, its store and counters,\n"
"and the settings in force (system.status). Needs the daemon: exits 1 when none answers.\n"
"The socket is --socket, else $LNMT_SOCKET, else /run/lnmt/lnmt.sock as root\n"
"(else $XDG_RUNTIME_DIR/lnmt.sock).\n";

enum { C_SOCKET = 400, C_EVERY, C_CRON, C_NAME, C_RATE, C_TOPICS, C_HISTORY, C_ALLOW_LARGE };

static void status_text(const msgpack_object *m, const char *prefix)
{
	for (uint32_t i = 0; m->type == MSGPACK_OBJECT_MAP && i < m->via.map.size; i++) {
		const msgpack_object *k = &m->via.map.ptr[i].key, *v = &m->via.map.ptr[i].val;
		char key[64];
		if (k->type != MSGPACK_OBJECT_STR)
			continue;
		snprintf(key, sizeof(key), "%s%.*s", prefix, (int)k->via.str.size, k->via.str.ptr);
		if (v->type == MSGPACK_OBJECT_MAP) {
			strcat(key, ".");
			status_text(v, key);
		} else if (!strcmp(key, "config") && v->type == MSGPACK_OBJECT_STR) {
			printf("config\n");
			const char *s = v->via.str.ptr, *e = s + v->via.str.size;
			while (s < e) {
				const char *nl = memchr(s, '\n', (size_t)(e - s));
				size_t n = nl ? (size_t)(nl - s) : (size_t)(e - s);
				if (n)
					printf("  %.*s\n", (int)n, s);
				s += n + 1;
			}
		} else {
			printf("%-28s ", key);
			text_value(stdout, v);
			putchar('\n');
		}
	}
}

int cmd_status(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "socket", required_argument, NULL, C_SOCKET }, { "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *sock = NULL;
	char why[OPT_WHY_LEN];
	int c, format = OUT_TEXT;

	optind = 1;
	while ((c = opt_next(argc, argv, "f:h", longs, why, sizeof(why))) != -1) {
		switch (c) {
		case 'h': fputs(status_usage, stdout); return 0;
		case 'f': if (parse_format(optarg, &format)) return EXIT_USAGE; break;
		case C_SOCKET: sock = optarg; break;
		default: return usage_error("status", why);
		}
	}
	if (optind < argc) {
		cli_error("status takes no arguments, got '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	struct rpc_client *cl = need_daemon(sock);
	if (!cl)
		return 1;
	msgpack_zone *z;
	msgpack_object res;
	int rc = call(cl, "system.status", NULL, &z, &res, "system.status");
	if (!rc) {
		if (format == OUT_JSONL) {
			json(stdout, &res);
			putchar('\n');
		} else {
			status_text(&res, "");
		}
		msgpack_zone_free(z);
	}
	rpc_client_close(cl);
	return rc ? 1 : 0;
}

/* ---- lnmt jobs ---- */

static const char jobs_usage[] =
"Usage: lnmt jobs add (--every AGE | --cron \"M H DOM MON DOW\") [--name NAME] [-P PROBES]\n"
"                     [-p PORTS] [--rate PPS] [--allow-large] TARGET...\n"
"       lnmt jobs ls [--history N]\n"
"       lnmt jobs rm ID\n"
"       lnmt jobs run ID\n"
"       (each also takes [--socket PATH] [-f text|jsonl])\n"
"\n"
"Sweeps on a schedule, run and kept by lnmtd (jobs need the daemon: start lnmtd).\n"
"  --every AGE      run every AGE: 90s, 5m, 1h, 1d (the first run starts at once)\n"
"  --cron EXPR      a five-field cron expression in local time, e.g. \"*/5 * * * *\"\n"
"  -P, -p, --rate   probes, ports and rate as for 'lnmt scan'\n"
"  --allow-large    targets of more than 16777216 (2^24) addresses, or all of 0.0.0.0/0\n"
"ls lists the jobs with their next and last runs; rm removes one (a run in progress goes\n"
"on); run starts a run now, outside the schedule.\n"
"\n"
"Examples:\n"
"  lnmt jobs add --every 5m -P icmp 198.19.0.0/24\n"
"  lnmt jobs add --cron \"0,30 9-17 * * 1-5\" --name office 198.18.128.0/17\n";

static void schedule_text(const msgpack_object *j, char *buf, size_t len)
{
	char cron[128];
	if (mstr(j, "cron", cron, sizeof(cron)))
		snprintf(buf, len, "cron %s", cron);
	else
		snprintf(buf, len, "every %llus", (unsigned long long)mu64(j, "every_s"));
}

static void job_row(const msgpack_object *j)
{
	char name[64], targets[256], probes[32], sched[160], next[24], last[64];
	const msgpack_object *lr = mget(j, "last_run");

	mstr(j, "name", name, sizeof(name));
	mstr(j, "targets", targets, sizeof(targets));
	mstr(j, "probes", probes, sizeof(probes));
	schedule_text(j, sched, sizeof(sched));
	cli_format_time(mtime(j, "next_run"), next, sizeof(next));
	if (!lr) {
		snprintf(last, sizeof(last), "-");
	} else {
		char t[24], err[40];
		cli_format_time(mtime(lr, "start"), t, sizeof(t));
		if (mstr(lr, "error", err, sizeof(err)))
			snprintf(last, sizeof(last), "%s %s", t, err);
		else if (mget(lr, "skipped") && mget(lr, "skipped")->type == MSGPACK_OBJECT_BOOLEAN &&
			 mget(lr, "skipped")->via.boolean)
			snprintf(last, sizeof(last), "%s skipped", t);
		else
			snprintf(last, sizeof(last), "%s found %llu", t, (unsigned long long)mu64(lr, "found"));
	}
	printf("%5llu  %-12s  %-18s  %-10s  %-19s  %5llu  %-8s  %-32s  %s\n", (unsigned long long)mu64(j, "id"),
	       name[0] ? name : "-", sched, probes, next, (unsigned long long)mu64(j, "runs"),
	       mget(j, "running") ? "yes" : "no", last, targets);
}

static int jobs_add(struct rpc_client *cl, int format, const char *every, const char *cron, const char *name,
		    const char *probes, const char *ports, const char *rate, bool allow_large, char **targets, int n)
{
	struct params p;
	uint64_t v;

	if (!!every == !!cron) {
		cli_error("jobs add needs one schedule: --every AGE or --cron EXPR (see 'lnmt jobs --help')");
		return EXIT_USAGE;
	}
	if (!n) {
		cli_error("jobs add needs targets, e.g. 'lnmt jobs add --every 5m 198.18.0.0/24'");
		return EXIT_USAGE;
	}
	p_init(&p);
	p_strs(&p, "targets", (const char *const *)targets, n);
	if (every) {
		if (!cli_parse_age_us(every, &v) || v < 1000000) {
			msgpack_sbuffer_destroy(&p.sb);
			cli_error("bad --every '%s': expected an interval such as 90s, 5m or 1h", every);
			return EXIT_USAGE;
		}
		p_u64(&p, "every_s", v / 1000000);
	} else {
		p_str(&p, "cron", cron);
	}
	if (name)
		p_str(&p, "name", name);
	if (probes)
		p_list(&p, "probes", probes);
	if (ports)
		p_str(&p, "ports", ports);
	if (rate) {
		if (!cli_parse_u64(rate, 0, 100000000, &v)) {
			msgpack_sbuffer_destroy(&p.sb);
			cli_error("bad --rate '%s': expected packets per second, 0 for unlimited", rate);
			return EXIT_USAGE;
		}
		p_u64(&p, "rate", v);
	}
	if (allow_large)
		p_bool(&p, "allow_large", true);
	msgpack_zone *z;
	msgpack_object res;
	int rc = call(cl, "jobs.add", &p, &z, &res, "jobs add");
	if (rc)
		return rc == RPC_E_BAD_PARAMS || rc == RPC_E_MISSING_PARAM ? EXIT_USAGE : 1;
	if (format == OUT_JSONL) {
		json(stdout, &res);
		putchar('\n');
	} else {
		char next[24];
		printf("job %llu added, next run %s\n", (unsigned long long)mu64(&res, "id"),
		       cli_format_time(mtime(&res, "next_run"), next, sizeof(next)));
	}
	msgpack_zone_free(z);
	return 0;
}

static int jobs_ls(struct rpc_client *cl, int format, const char *history)
{
	struct params p;
	uint64_t v;
	msgpack_zone *z;
	msgpack_object res;

	p_init(&p);
	if (history) {
		if (!cli_parse_u64(history, 0, 100, &v)) {
			msgpack_sbuffer_destroy(&p.sb);
			cli_error("bad --history '%s': expected 0-100", history);
			return EXIT_USAGE;
		}
		p_u64(&p, "history", v);
	}
	if (call(cl, "jobs.list", &p, &z, &res, "jobs ls"))
		return 1;
	const msgpack_object *jobs = marray(&res, "jobs");
	if (format == OUT_TEXT && isatty(STDOUT_FILENO))
		printf("%5s  %-12s  %-18s  %-10s  %-19s  %5s  %-8s  %-32s  %s\n", "ID", "NAME", "SCHEDULE", "PROBES",
		       "NEXT RUN", "RUNS", "RUNNING", "LAST RUN", "TARGETS");
	for (uint32_t i = 0; jobs && i < jobs->via.array.size; i++) {
		if (format == OUT_JSONL) {
			json(stdout, &jobs->via.array.ptr[i]);
			putchar('\n');
		} else {
			job_row(&jobs->via.array.ptr[i]);
		}
	}
	if (format == OUT_TEXT && (!jobs || !jobs->via.array.size) && isatty(STDOUT_FILENO))
		printf("(no jobs: add one with 'lnmt jobs add')\n");
	msgpack_zone_free(z);
	return 0;
}

static int jobs_id(struct rpc_client *cl, int format, const char *verb, const char *arg)
{
	struct params p;
	uint64_t id;
	msgpack_zone *z;
	msgpack_object res;
	char what[64];

	if (!arg || !cli_parse_u64(arg, 1, UINT64_MAX, &id)) {
		cli_error("jobs %s needs a job id, e.g. 'lnmt jobs %s 3' (see 'lnmt jobs ls')", verb, verb);
		return EXIT_USAGE;
	}
	p_init(&p);
	p_u64(&p, "id", id);
	snprintf(what, sizeof(what), "jobs %s %s", verb, arg);
	if (call(cl, !strcmp(verb, "rm") ? "jobs.remove" : "jobs.run_now", &p, &z, &res, what))
		return 1;
	if (format == OUT_JSONL) {
		json(stdout, &res);
		putchar('\n');
	} else if (!strcmp(verb, "rm")) {
		printf("job %llu removed", (unsigned long long)id);
		if (mget(&res, "running"))
			printf(" (its run goes on as sweep %llu)", (unsigned long long)mu64(&res, "running"));
		putchar('\n');
	} else {
		printf("job %llu started as sweep %llu\n", (unsigned long long)id, (unsigned long long)mu64(&res, "sweep"));
	}
	msgpack_zone_free(z);
	return 0;
}

int cmd_jobs(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "socket", required_argument, NULL, C_SOCKET }, { "format", required_argument, NULL, 'f' },
		{ "every", required_argument, NULL, C_EVERY }, { "cron", required_argument, NULL, C_CRON },
		{ "name", required_argument, NULL, C_NAME }, { "probe", required_argument, NULL, 'P' },
		{ "ports", required_argument, NULL, 'p' }, { "rate", required_argument, NULL, C_RATE },
		{ "history", required_argument, NULL, C_HISTORY },
		{ "allow-large", no_argument, NULL, C_ALLOW_LARGE },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *sock = NULL, *every = NULL, *cron = NULL, *name = NULL, *probes = NULL, *ports = NULL,
		   *rate = NULL, *history = NULL;
	char why[OPT_WHY_LEN];
	bool allow_large = false;
	int c, format = isatty(STDOUT_FILENO) ? OUT_TEXT : OUT_JSONL;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(jobs_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	const char *verb = argv[1];
	if (strcmp(verb, "add") && strcmp(verb, "ls") && strcmp(verb, "rm") && strcmp(verb, "run")) {
		cli_error("unknown jobs command '%s': expected add, ls, rm or run", verb);
		return EXIT_USAGE;
	}
	argc--, argv++;
	optind = 1;
	while ((c = opt_next(argc, argv, "f:P:p:h", longs, why, sizeof(why))) != -1) {
		switch (c) {
		case 'h': fputs(jobs_usage, stdout); return 0;
		case 'f': if (parse_format(optarg, &format)) return EXIT_USAGE; break;
		case C_SOCKET: sock = optarg; break;
		case C_EVERY: every = optarg; break;
		case C_CRON: cron = optarg; break;
		case C_NAME: name = optarg; break;
		case 'P': probes = optarg; break;
		case 'p': ports = optarg; break;
		case C_RATE: rate = optarg; break;
		case C_HISTORY: history = optarg; break;
		case C_ALLOW_LARGE: allow_large = true; break;
		default: return usage_error("jobs", why);
		}
	}
	bool add = !strcmp(verb, "add");
	if (!add && (every || cron || name || probes || ports || rate || allow_large)) {
		cli_error("--every, --cron, --name, -P, -p, --rate and --allow-large are for 'lnmt jobs add'");
		return EXIT_USAGE;
	}
	if (probes && !list_ok("--probe", probes))
		return EXIT_USAGE;
	if (ports) {
		struct port_list pl = { 0 };
		char perr[TARGET_ERR_LEN + 64];
		int prc = port_list_parse(&pl, ports, perr, sizeof(perr));
		port_list_fini(&pl);
		if (prc) {
			cli_error("%s", perr);
			return EXIT_USAGE;
		}
	}
	if (!strcmp(verb, "ls") ? optind < argc : !add && argc - optind != 1) {
		cli_error("jobs %s: %s", verb, !strcmp(verb, "ls") ? "takes no arguments" : "needs one job id");
		return EXIT_USAGE;
	}
	struct rpc_client *cl = need_daemon(sock);
	if (!cl)
		return 1;
	int rc;
	if (add)
		rc = jobs_add(cl, format, every, cron, name, probes, ports, rate, allow_large, argv + optind,
			      argc - optind);
	else if (!strcmp(verb, "ls"))
		rc = jobs_ls(cl, format, history);
	else
		rc = jobs_id(cl, format, verb, argv[optind]);
	fflush(stdout);
	rpc_client_close(cl);
	return rc;
}

/* ---- lnmt watch ---- */

static const char watch_usage[] =
"Usage: lnmt watch [--topics scan,device,job] [--socket PATH] [-f text|jsonl]\n"
"\n"
"Prints lnmtd's events as they happen, one line each, until Ctrl-C (exit 0) or the daemon\n"
"goes away (exit 1): scan.progress and scan.done (topic scan); device.new, device.up,\n"
"device.down, device.many (topic device); job.started, job.skipped (topic job).\n"
"Default: every topic. Needs the daemon.\n"
"jsonl lines are {\"event\": METHOD, \"params\": {...}}.\n";

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void watch_line(int format, const char *method, const msgpack_object *params)
{
	const msgpack_object *m = params;
	if (m->type == MSGPACK_OBJECT_ARRAY && m->via.array.size)
		m = &m->via.array.ptr[0];
	if (format == OUT_JSONL) {
		fputs("{\"event\":", stdout);
		json_str(stdout, method, strlen(method));
		fputs(",\"params\":", stdout);
		json(stdout, m);
		fputs("}\n", stdout);
	} else {
		char t[24];
		printf("%s  %-13s", cli_format_time(cli_now_us(), t, sizeof(t)), method);
		for (uint32_t i = 0; m->type == MSGPACK_OBJECT_MAP && i < m->via.map.size; i++) {
			const msgpack_object *k = &m->via.map.ptr[i].key;
			if (k->type != MSGPACK_OBJECT_STR)
				continue;
			printf(" %.*s=", (int)k->via.str.size, k->via.str.ptr);
			text_value(stdout, &m->via.map.ptr[i].val);
		}
		putchar('\n');
	}
	fflush(stdout);
}

static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int cmd_watch(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "socket", required_argument, NULL, C_SOCKET }, { "format", required_argument, NULL, 'f' },
		{ "topics", required_argument, NULL, C_TOPICS },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *sock = NULL, *topics = "scan,device,job";
	char why[OPT_WHY_LEN];
	int c, format = isatty(STDOUT_FILENO) ? OUT_TEXT : OUT_JSONL;

	optind = 1;
	while ((c = opt_next(argc, argv, "f:h", longs, why, sizeof(why))) != -1) {
		switch (c) {
		case 'h': fputs(watch_usage, stdout); return 0;
		case 'f': if (parse_format(optarg, &format)) return EXIT_USAGE; break;
		case C_SOCKET: sock = optarg; break;
		case C_TOPICS: topics = optarg; break;
		default: return usage_error("watch", why);
		}
	}
	if (!list_ok("--topics", topics))
		return EXIT_USAGE;
	if (optind < argc) {
		cli_error("watch takes no arguments, got '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	struct rpc_client *cl = need_daemon(sock);
	if (!cl)
		return 1;
	struct params p;
	msgpack_zone *z;
	msgpack_object res;
	p_init(&p);
	p_list(&p, "topics", topics);
	if (call(cl, "events.subscribe", &p, &z, &res, "watch")) {
		rpc_client_close(cl);
		return 1;
	}
	msgpack_zone_free(z);
	catch_signals();
	char path[256];
	fprintf(stderr, "lnmt: watching %s at %s (Ctrl-C stops)\n", topics,
		client_socket_path(sock, path, sizeof(path)) ? path : "?");
	int rc = 0;
	while (!interrupted) {
		int type;
		char method[64];
		int n = rpc_recv(cl, 250, &type, NULL, method, sizeof(method), &z, &res, NULL, NULL, 0);
		if (n == -ETIMEDOUT || n == -EINTR)
			continue;
		if (n) {
			cli_error("the daemon went away (%s)", n == -ECONNRESET ? "connection closed" : strerror(-n));
			rc = 1;
			break;
		}
		if (type == 2)
			watch_line(format, method, &res);
		msgpack_zone_free(z);
	}
	rpc_client_close(cl);
	return rc;
}

/* ---- devices and reports ---- */

static void p_since(struct params *p, uint64_t since_us)
{
	uint64_t now = cli_now_us();
	p_u64(p, "since_s", now > since_us ? (now - since_us + 999999) / 1000000 : 0);
}

int client_devices_list(struct rpc_client *c, const struct store_filter *f, const char *cidr, store_device_cb cb,
			void *ctx, uint32_t *next, bool *more)
{
	uint64_t left = f->limit ? f->limit : UINT64_MAX;
	char after[16] = "";
	bool has_after = f->has_after;

	if (has_after)
		ipv4_format(f->after, after);
	*more = false;
	while (left) {
		struct params p;
		msgpack_zone *z;
		msgpack_object res;
		p_init(&p);
		if (f->state >= 0)
			p_str(&p, "state", f->state == STORE_STATE_UP ? "up" : "down");
		if (cidr)
			p_str(&p, "subnet", cidr);
		if (f->seen_since_us)
			p_since(&p, f->seen_since_us);
		if (f->vendor)
			p_str(&p, "vendor", f->vendor);
		if (f->text)
			p_str(&p, "text", f->text);
		p_u64(&p, "limit", left < 10000 ? left : 10000);
		if (has_after)
			p_str(&p, "after", after);
		int rc = call(c, "devices.list", &p, &z, &res, "devices.list");
		if (rc)
			return rc;
		const msgpack_object *devs = marray(&res, "devices");
		for (uint32_t i = 0; devs && i < devs->via.array.size && left; i++, left--) {
			struct store_device d;
			to_device(&devs->via.array.ptr[i], &d);
			cb(ctx, &d);
		}
		bool has_next = mstr(&res, "next", after, sizeof(after));
		if (has_next && !left) {
			*more = true;
			*next = mip(&res, "next");
		}
		msgpack_zone_free(z);
		if (!has_next)
			break;
		has_after = true;
	}
	return 0;
}

int client_report_uptime(struct rpc_client *c, uint64_t since_us, const char *cidr, store_uptime_cb cb, void *ctx)
{
	struct params p;
	msgpack_zone *z;
	msgpack_object res;

	p_init(&p);
	p_since(&p, since_us);
	if (cidr)
		p_str(&p, "subnet", cidr);
	int rc = call(c, "report.uptime", &p, &z, &res, "report.uptime");
	if (rc)
		return rc;
	const msgpack_object *devs = marray(&res, "devices");
	for (uint32_t i = 0; devs && i < devs->via.array.size; i++) {
		const msgpack_object *m = &devs->via.array.ptr[i];
		struct store_uptime u = {
			.ip = mip(m, "ip"), .state = state_of(m), .probes = mu64(m, "probes"),
			.answers = mu64(m, "answers"), .changes = mu64(m, "changes"), .uptime_pct = mdouble(m, "uptime_pct"),
		};
		cb(ctx, &u);
	}
	msgpack_zone_free(z);
	return 0;
}

int client_report_network(struct rpc_client *c, uint64_t since_us, const char *cidr, struct store_network_report *out,
			  store_subnet_cb cb, void *ctx)
{
	return client_report_network_ex(c, since_us, cidr, out, cb, NULL, ctx, NULL);
}

int client_report_network_ex(struct rpc_client *c, uint64_t since_us, const char *cidr,
			     struct store_network_report *out, store_subnet_cb cb, store_vendor_cb vcb, void *ctx,
			     uint64_t *vendors_total)
{
	struct params p;
	msgpack_zone *z;
	msgpack_object res;

	p_init(&p);
	p_since(&p, since_us);
	if (cidr)
		p_str(&p, "subnet", cidr);
	int rc = call(c, "report.network", &p, &z, &res, "report.network");
	if (rc)
		return rc;
	*out = (struct store_network_report){
		.devices = mu64(&res, "devices"), .up = mu64(&res, "up"), .down = mu64(&res, "down"),
		.new_since = mu64(&res, "new"), .rtt_p50_us = (uint32_t)mu64(&res, "rtt_p50_us"),
		.rtt_p90_us = (uint32_t)mu64(&res, "rtt_p90_us"), .rtt_p99_us = (uint32_t)mu64(&res, "rtt_p99_us"),
		.sweeps_since = mu64(&res, "sweeps"), .mean_send_pps = mdouble(&res, "mean_send_pps"),
	};
	if (vendors_total)
		*vendors_total = mu64(&res, "vendors_total");
	const msgpack_object *subs = marray(&res, "subnets");
	for (uint32_t i = 0; cb && subs && i < subs->via.array.size; i++) {
		const msgpack_object *m = &subs->via.array.ptr[i];
		struct store_subnet_summary s = {
			.net = mip(m, "subnet"), .up = (uint32_t)mu64(m, "up"), .down = (uint32_t)mu64(m, "down"),
		};
		if (cb(ctx, &s))
			break;
	}
	const msgpack_object *vendors = marray(&res, "vendors");
	for (uint32_t i = 0; vcb && vendors && i < vendors->via.array.size; i++) {
		const msgpack_object *m = &vendors->via.array.ptr[i];
		char name[STORE_VENDOR_LEN];
		mstr(m, "vendor", name, sizeof(name));
		struct store_vendor_count v = { .vendor = name, .up = (uint32_t)mu64(m, "up"),
						.down = (uint32_t)mu64(m, "down") };
		if (vcb(ctx, &v))
			break;
	}
	msgpack_zone_free(z);
	return 0;
}

#define SERIES_MAX_S (90ull * 86400) /* report.series refuses a longer since_s */

/* Element i of an array as an unsigned integer. */
static bool mu64_at(const msgpack_object *a, uint32_t i, uint64_t *v)
{
	if (a->type != MSGPACK_OBJECT_ARRAY || i >= a->via.array.size ||
	    a->via.array.ptr[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return false;
	*v = a->via.array.ptr[i].via.u64;
	return true;
}

int client_report_series(struct rpc_client *c, uint64_t since_us, const char *cidr, unsigned prefix,
			 store_series_cb cb, void *ctx, unsigned *prefix_used, bool *has_series)
{
	struct params p;
	msgpack_zone *z;
	msgpack_object res;
	uint64_t now_s = cli_now_us() / 1000000, start_s = since_us / 1000000 / 3600 * 3600;

	/*
	 * The daemon starts at the hour that holds its now - since_s. Asking for exactly the
	 * seconds from our hour's start to our now lands on that same hour, even when the daemon's
	 * clock has moved on a little by the time it reads it (rounding the age up, as p_since
	 * does, would start an hour early whenever since_us is just past a whole hour).
	 */
	uint64_t since_s = now_s > start_s ? now_s - start_s : 1;
	if (since_s > SERIES_MAX_S)
		since_s = SERIES_MAX_S;
	p_init(&p);
	p_u64(&p, "since_s", since_s);
	if (cidr)
		p_str(&p, "subnet", cidr);
	p_u64(&p, "prefix", prefix);
	int rc = call_unless(c, "report.series", &p, &z, &res, "report.series", RPC_E_NO_METHOD);
	if (rc == RPC_E_NO_METHOD)
		return -EOPNOTSUPP; /* an lnmtd from before report.series */
	if (rc)
		return rc;
	unsigned used = (unsigned)mu64(&res, "prefix");
	const msgpack_object *has = mget(&res, "store_has_series");
	const msgpack_object *series = marray(&res, "series");
	bool stop = false;
	for (uint32_t i = 0; series && i < series->via.array.size && !stop; i++) {
		const msgpack_object *m = &series->via.array.ptr[i];
		const msgpack_object *pts = marray(m, "points");
		uint32_t net = mip(m, "subnet");
		for (uint32_t j = 0; pts && j < pts->via.array.size && !stop; j++) {
			const msgpack_object *pt = &pts->via.array.ptr[j];
			uint64_t hour_s, probes, answers;
			if (!mu64_at(pt, 0, &hour_s) || !mu64_at(pt, 1, &probes) || !mu64_at(pt, 2, &answers) ||
			    hour_s / 3600 > UINT32_MAX)
				continue; /* not a point: nothing to chart */
			struct store_series_point sp = { .hour = (uint32_t)(hour_s / 3600), .net = net,
							 .prefix = (uint8_t)used, .probes = probes, .answers = answers };
			stop = cb(ctx, &sp) != 0;
		}
	}
	*prefix_used = used;
	*has_series = has && has->type == MSGPACK_OBJECT_BOOLEAN && has->via.boolean;
	msgpack_zone_free(z);
	return 0;
}

/* ---- one device, sweeps ---- */

int client_device_get(struct rpc_client *c, uint32_t ip, uint32_t history, struct client_device *out)
{
	struct params p;
	msgpack_zone *z;
	msgpack_object res;
	char ipt[16];

	if (history > CLIENT_HISTORY_MAX)
		history = CLIENT_HISTORY_MAX;
	p_init(&p);
	p_str(&p, "ip", ipv4_format(ip, ipt));
	p_u64(&p, "history", history);
	p_bool(&p, "unseen", true);
	int rc = call_unless(c, "devices.get", &p, &z, &res, ipt, RPC_E_NOT_FOUND);
	if (rc == RPC_E_NOT_FOUND)
		return -ENOENT;
	if (rc)
		return rc;
	memset(out, 0, sizeof(*out));
	const msgpack_object *seen = mget(&res, "seen");
	if (seen && seen->type == MSGPACK_OBJECT_BOOLEAN && !seen->via.boolean) {
		/* Named ahead of the sweeps: {ip, name, note, seen: false}. */
		out->note.ip = ip;
		mstr(&res, "name", out->note.name, sizeof(out->note.name));
		mstr(&res, "note", out->note.note, sizeof(out->note.note));
		msgpack_zone_free(z);
		return 0;
	}
	out->seen = true;
	to_device(&res, &out->dev);
	out->dev.probes_total = mu64(&res, "probes_total");
	out->dev.answers_total = mu64(&res, "answers_total");
	out->dev.changes_total = mu64(&res, "changes_total");
	const msgpack_object *a = marray(&res, "changes");
	for (uint32_t i = 0; a && i < a->via.array.size && out->n_changes < history; i++) {
		const msgpack_object *m = &a->via.array.ptr[i];
		out->changes[out->n_changes++] = (struct store_change){ .time_us = mtime(m, "time"), .state = state_of(m) };
	}
	a = marray(&res, "observations");
	for (uint32_t i = 0; a && i < a->via.array.size && out->n_obs < history; i++) {
		const msgpack_object *m = &a->via.array.ptr[i];
		char probes[32];
		mstr(m, "probes", probes, sizeof(probes));
		out->obs[out->n_obs++] = (struct store_observation){
			.time_us = mtime(m, "time"), .sweep_id = mu64(m, "sweep"), .state = state_of(m),
			.probes = probes_mask(probes), .rtt_us = (uint32_t)mu64(m, "rtt_us"),
		};
	}
	msgpack_zone_free(z);
	return 0;
}

static void to_sweep(const msgpack_object *m, struct store_sweep *s)
{
	char buf[32];

	memset(s, 0, sizeof(*s));
	s->id = mu64(m, "id");
	s->start_us = mu64(m, "start_us");
	s->end_us = mu64(m, "end_us");
	mstr(m, "targets", s->targets, sizeof(s->targets));
	mstr(m, "ports", s->ports, sizeof(s->ports));
	mstr(m, "probes", buf, sizeof(buf));
	s->probes = probes_mask(buf);
	s->rate_pps = mu64(m, "rate");
	s->retries = (uint32_t)mu64(m, "retries");
	s->addresses = mu64(m, "addresses");
	s->sent = mu64(m, "sent");
	s->replies = mu64(m, "replies");
	s->live = mu64(m, "live");
	s->new_devices = (uint32_t)mu64(m, "new");
	s->went_up = (uint32_t)mu64(m, "went_up");
	s->went_down = (uint32_t)mu64(m, "went_down");
	s->observations = mu64(m, "observations");
	mstr(m, "ended", buf, sizeof(buf));
	if (store_sweep_end_parse(buf, &s->ended))
		s->ended = STORE_END_COUNT; /* a name this lnmt does not know: printed "unknown" */
	const msgpack_object *complete = mget(m, "complete");
	s->complete = complete && complete->type == MSGPACK_OBJECT_BOOLEAN && complete->via.boolean;
}

#define SWEEPS_PAGE 1000 /* sweeps per sweeps.list request (the daemon takes up to 10000) */

int client_sweeps_list(struct rpc_client *c, uint32_t limit, store_sweep_cb cb, void *ctx)
{
	uint64_t left = limit ? limit : UINT64_MAX, before = 0;
	bool stop = false;

	while (left && !stop) {
		struct params p;
		msgpack_zone *z;
		msgpack_object res;
		p_init(&p);
		p_u64(&p, "limit", left < SWEEPS_PAGE ? left : SWEEPS_PAGE);
		if (before)
			p_u64(&p, "before", before);
		int rc = call_unless(c, "sweeps.list", &p, &z, &res, "sweeps.list", RPC_E_NO_METHOD);
		if (rc == RPC_E_NO_METHOD)
			return -EOPNOTSUPP; /* an lnmtd from before sweeps.list */
		if (rc)
			return rc;
		const msgpack_object *a = marray(&res, "sweeps");
		for (uint32_t i = 0; a && i < a->via.array.size && left && !stop; i++, left--) {
			struct store_sweep s;
			to_sweep(&a->via.array.ptr[i], &s);
			stop = cb(ctx, &s) != 0;
		}
		before = mu64(&res, "next"); /* 0 (nil) on the last page */
		msgpack_zone_free(z);
		if (!before)
			break;
	}
	return 0;
}

/* ---- names and notes ---- */

static void pack_edit(msgpack_packer *pk, const struct store_note_edit *e)
{
	char ip[16];

	msgpack_pack_map(pk, 1 + !!e->name + !!e->note);
	rpc_pack_str(pk, "ip");
	rpc_pack_str(pk, ipv4_format(e->ip, ip));
	if (e->name) {
		rpc_pack_str(pk, "name");
		rpc_pack_str(pk, e->name);
	}
	if (e->note) {
		rpc_pack_str(pk, "note");
		rpc_pack_str(pk, e->note);
	}
}

int client_annotate(struct rpc_client *c, const struct store_note_edit *e, struct store_note *out)
{
	struct params p;
	msgpack_zone *z;
	msgpack_object res;
	char ip[16];

	p_init(&p);
	p_str(&p, "ip", ipv4_format(e->ip, ip));
	if (e->name)
		p_str(&p, "name", e->name);
	if (e->note)
		p_str(&p, "note", e->note);
	int rc = call(c, "devices.annotate", &p, &z, &res, ip);
	if (rc)
		return rc;
	memset(out, 0, sizeof(*out));
	out->ip = e->ip;
	mstr(&res, "name", out->name, sizeof(out->name));
	mstr(&res, "note", out->note, sizeof(out->note));
	const msgpack_object *seen = mget(&res, "seen");
	out->seen = seen && seen->type == MSGPACK_OBJECT_BOOLEAN && seen->via.boolean;
	msgpack_zone_free(z);
	return 0;
}

/* A devices.import request: n entries packed in body. */
struct import_chunk {
	msgpack_sbuffer body;
	size_t n;
};

static void import_pack(void *arg, msgpack_packer *pk)
{
	struct import_chunk *ch = arg;

	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 1);
	rpc_pack_str(pk, "devices");
	msgpack_pack_array(pk, ch->n);
	if (ch->body.size)
		pk->callback(pk->data, ch->body.data, ch->body.size);
}

/* Requests stay well under the server's RPC_MAX_MESSAGE. */
#define IMPORT_CHUNK_BYTES (RPC_MAX_MESSAGE - 4096)

int client_import(struct rpc_client *c, const struct store_note_edit *e, size_t n,
		  struct store_notes_import_report *out, size_t *done)
{
	struct store_notes_import_report tot = { 0 };
	size_t i = 0;
	int rc = 0;

	*done = 0;
	while (i < n) {
		struct import_chunk ch = { .n = 0 };
		msgpack_packer pk;
		msgpack_zone *z = NULL;
		msgpack_object res;
		char err[512] = "";

		msgpack_sbuffer_init(&ch.body);
		msgpack_packer_init(&pk, &ch.body, msgpack_sbuffer_write);
		/* One entry is at most ~350 bytes packed: stop before the next could pass the limit. */
		while (i < n && ch.n < STORE_NOTES_IMPORT_MAX && ch.body.size + 512 < IMPORT_CHUNK_BYTES) {
			pack_edit(&pk, &e[i++]);
			ch.n++;
		}
		rc = rpc_call(c, "devices.import", import_pack, &ch, &z, &res, err, sizeof(err));
		msgpack_sbuffer_destroy(&ch.body);
		if (rc > 0)
			cli_error("devices.import: %s", err);
		else if (rc < 0)
			cli_error("devices.import: %s", rc == -ECONNRESET ? "the daemon closed the connection" : strerror(-rc));
		if (rc) {
			if (z)
				msgpack_zone_free(z);
			break;
		}
		tot.imported += mu64(&res, "imported");
		tot.known += mu64(&res, "known");
		tot.unknown += mu64(&res, "unknown");
		msgpack_zone_free(z);
		*done = i;
	}
	*out = tot;
	return rc;
}

/* ---- lnmt scan through the daemon ---- */

struct scan_pick {
	const struct client_scan_req *req;
	uint64_t start_us;
	uint64_t n;
};

static int pick_device(void *ctx, const struct store_device *d)
{
	struct scan_pick *sp = ctx;
	uint64_t idx;

	if (d->state != STORE_STATE_UP || d->last_seen_us < sp->start_us ||
	    (sp->req->set && !target_set_index(sp->req->set, d->ip, &idx)))
		return 0;
	sp->n++;
	query_print_device(sp->req->format, d);
	return 0;
}

/*
 * The smallest subnet holding every target of set, into buf ("a.b.c.d/len"), or NULL without a
 * set: devices.list then reads only the devices the sweep could have found, not a whole store
 * of them that happened to be seen in the same second (its since_s counts whole seconds).
 */
static const char *covering_cidr(const struct target_set *set, char buf[20])
{
	char a[16];

	if (!set || !set->n_incl)
		return NULL;
	uint32_t first = set->incl[0].first, last = set->incl[set->n_incl - 1].last;
	unsigned len = 32;
	while (len && (first >> (32 - len)) != (last >> (32 - len)))
		len--;
	uint32_t mask = len ? ~0u << (32 - len) : 0;
	snprintf(buf, 20, "%s/%u", ipv4_format(first & mask, a), len);
	return buf;
}

int client_scan(struct rpc_client *c, const struct client_scan_req *req)
{
	struct params p;
	msgpack_zone *z;
	msgpack_object res;
	bool progress = !req->quiet && isatty(STDERR_FILENO), drawn = false;

	/* Subscribe first: scan.done of a short sweep must not come before we listen. */
	p_init(&p);
	p_list(&p, "topics", "scan");
	if (call(c, "events.subscribe", &p, &z, &res, "scan"))
		return 1;
	msgpack_zone_free(z);

	p_init(&p);
	p_strs(&p, "targets", (const char *const *)req->targets, req->n_targets);
	if (req->n_excludes)
		p_strs(&p, "exclude", req->excludes, req->n_excludes);
	if (req->probe_list)
		p_list(&p, "probes", req->probe_list);
	if (req->port_spec)
		p_str(&p, "ports", req->port_spec);
	if (req->has_rate)
		p_u64(&p, "rate", req->rate);
	if (req->has_retries)
		p_u64(&p, "retries", req->retries);
	if (req->has_wait)
		p_u64(&p, "wait_ms", req->wait_ms);
	if (req->rate_fixed)
		p_bool(&p, "rate_fixed", true);
	if (req->wait_fixed)
		p_bool(&p, "wait_fixed", true);
	if (req->has_seed)
		p_u64(&p, "seed", req->seed);
	if (req->allow_large)
		p_bool(&p, "allow_large", true);
	if (req->source_ip)
		p_str(&p, "source_ip", req->source_ip);
	int rc = call(c, "scan.start", &p, &z, &res, "scan");
	if (rc)
		return rc == RPC_E_BAD_PARAMS || rc == RPC_E_MISSING_PARAM ? EXIT_USAGE : 1;
	uint64_t id = mu64(&res, "id");
	msgpack_zone_free(z);

	catch_signals();
	bool cancelled = false;
	msgpack_zone *done_zone = NULL;
	msgpack_object done;
	while (!done_zone) {
		if (interrupted && !cancelled) {
			/* Ctrl-C stops the sweep, which is stored as stopped; scan.done follows. */
			cancelled = true;
			p_init(&p);
			p_u64(&p, "id", id);
			if (rpc_send(c, "scan.cancel", p_pack, &p) < 0)
				cli_error("could not ask the daemon to stop sweep %llu", (unsigned long long)id);
			msgpack_sbuffer_destroy(&p.sb);
		}
		int type;
		char method[64];
		int n = rpc_recv(c, 250, &type, NULL, method, sizeof(method), &z, &res, NULL, NULL, 0);
		if (n == -ETIMEDOUT || n == -EINTR)
			continue;
		if (n) {
			if (drawn)
				fputs("\r\033[K", stderr);
			cli_error("the daemon went away during sweep %llu (%s)", (unsigned long long)id,
				  n == -ECONNRESET ? "connection closed" : strerror(-n));
			return 1;
		}
		const msgpack_object *m = &res;
		if (type == 2 && m->type == MSGPACK_OBJECT_ARRAY && m->via.array.size)
			m = &m->via.array.ptr[0];
		if (type == 2 && mu64(m, "id") == id && !strcmp(method, "scan.done")) {
			done_zone = z;
			done = *m;
			break;
		}
		if (type == 2 && mu64(m, "id") == id && !strcmp(method, "scan.progress") && progress) {
			fprintf(stderr, "\r\033[K%3llu%%  %llu sent  %llu replies  %llu live  (sweep %llu, daemon)",
				(unsigned long long)mu64(m, "percent"), (unsigned long long)mu64(m, "sent"),
				(unsigned long long)mu64(m, "replies"), (unsigned long long)mu64(m, "live"),
				(unsigned long long)id);
			drawn = true;
		}
		msgpack_zone_free(z);
	}
	if (drawn)
		fputs("\r\033[K", stderr);

	char state[24], ended[24], error[256];
	mstr(&done, "state", state, sizeof(state));
	mstr(&done, "ended", ended, sizeof(ended));
	bool failed = mstr(&done, "error", error, sizeof(error)) || !strcmp(state, "failed");
	struct scan_pick sp = { .req = req, .start_us = mtime(&done, "start") };
	uint64_t addresses = mu64(&done, "addresses"), sent = mu64(&done, "sent"), replies = mu64(&done, "replies"),
		 live = mu64(&done, "live"), elapsed = mu64(&done, "elapsed_ms"), nnew = mu64(&done, "new"),
		 up = mu64(&done, "went_up"), down = mu64(&done, "went_down"), code = mu64(&done, "error_code");
	msgpack_zone_free(done_zone);
	if (failed && code) {
		/* It failed resolving its route, which lnmtd does on the sweep's thread: said as when
		 * scan.start itself refused it, with the same exit status. */
		cli_error("scan: %s", error);
		return code == RPC_E_BAD_PARAMS || code == RPC_E_MISSING_PARAM ? EXIT_USAGE : 1;
	}
	if (failed) {
		cli_error("sweep %llu failed: %s", (unsigned long long)id, error[0] ? error : state);
		return 1;
	}
	/* Results are not streamed over RPC: list the devices the sweep found up from the store. */
	if (sp.start_us && live) {
		struct store_filter f = { .state = STORE_STATE_UP, .seen_since_us = sp.start_us };
		uint32_t next;
		bool more;
		char cidr[20];
		if (req->format == OUT_CSV)
			puts(QUERY_CSV_HEADER);
		if (client_devices_list(c, &f, covering_cidr(req->set, cidr), pick_device, &sp, &next, &more))
			return 1;
		fflush(stdout);
	}
	if (!req->quiet) {
		fprintf(stderr,
			"lnmt: %llu targets, %llu probes sent, %llu replies, %llu live in %.3f s (%s)\n"
			"lnmt: stored as sweep %llu (daemon): %llu new, %llu went up, %llu went down\n",
			(unsigned long long)addresses, (unsigned long long)sent, (unsigned long long)replies,
			(unsigned long long)live, elapsed / 1000.0, ended[0] ? ended : state, (unsigned long long)id,
			(unsigned long long)nnew, (unsigned long long)up, (unsigned long long)down);
	}
	return cancelled || !strcmp(state, "stopped") || !strcmp(state, "interrupted") ? EXIT_INTERRUPTED : 0;
}
