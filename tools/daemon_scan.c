/* SPDX-License-Identifier: MIT */
/*
 * daemon_scan.c: lnmtd's sweeps: scan.start validates and starts one on a thread of its own,
 * which resolves the route, stores what it finds exactly as `lnmt scan` does (store recorder),
 * reports progress and its end as notifications, and tells subscribers which devices appeared,
 * came up or went down.
 */
#include "daemon.h"

#include "cli.h"
#include "err.h"
#include "netinfo.h"
#include "scan_store.h"
#include "targets.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One device's state before the sweep, to tell what the sweep changed. */
struct snap {
	uint32_t ip;
	uint8_t state;
	bool has_mac;
	uint8_t mac[6];
};

struct snaps {
	struct snap *v;
	size_t n, cap;
	uint32_t last;  /* the end of the range being read */
	bool oom;
};

struct dsweep {
	struct daemon *d;
	struct dsweep *next;
	uint64_t id;                 /* the store's sweep id */
	uint64_t job_id;
	struct target_set targets;
	struct port_list ports;
	struct sweep_config cfg;
	char ifname[IF_NAMESIZE];    /* the interface the thread resolved (cfg.ifname points here) */
	/* The request's network options, checked for syntax by scan.start and applied by the
	 * thread ("" when not given): the request's strings are gone by then. */
	char opt_ifname[IF_NAMESIZE];
	char opt_source_ip[INET_ADDRSTRLEN];
	char opt_gateway_mac[18];
	struct store_recorder *rec;
	struct store_sweep info;
	uint64_t progress_ns;
	volatile sig_atomic_t stop;  /* sweep_run's stop flag: 1 drains replies briefly, 2 at once */
	pthread_t thread;
	struct snaps before;         /* sweep thread only */

	/* Under daemon.lock. */
	struct sweep_progress prog;
	struct dsummary sum;
	bool finished;               /* the thread is done; the main thread joins it */
};

/* ---- notifications ---- */

struct progress_note {
	uint64_t id, job_id;
	const struct sweep_progress *p;
};

static unsigned percent_of(const struct sweep_progress *p, bool finished)
{
	if (finished)
		return 100;
	if (!p->probes || p->pass > 0)
		return p->pass > 0 ? 99 : 0; /* sending is done: retrying or waiting for late replies */
	uint64_t pct = p->sent_first_pass * 100 / p->probes;
	return pct > 99 ? 99 : (unsigned)pct;
}

static const char *phase_of(const struct sweep_progress *p, unsigned retries)
{
	(void)retries;
	switch (p->phase) {
	case SWEEP_PHASE_SENDING: return "sending";
	case SWEEP_PHASE_RETRYING: return "retrying";
	case SWEEP_PHASE_WAITING: return "waiting";
	case SWEEP_PHASE_DELIVERING: return "delivering";
	}
	return "waiting";
}

static void pack_progress(void *arg, msgpack_packer *pk)
{
	struct progress_note *n = arg;
	struct mp m;

	mp_init(&m);
	mp_u64(&m, "id", n->id);
	if (n->job_id)
		mp_u64(&m, "job", n->job_id);
	mp_u64(&m, "sent", n->p->sent);
	mp_u64(&m, "replies", n->p->replies);
	mp_u64(&m, "live", n->p->live);
	mp_u64(&m, "percent", percent_of(n->p, false));
	mp_u64(&m, "elapsed_ms", n->p->elapsed_ns / 1000000);
	msgpack_pack_array(pk, 1);
	mp_emit_map(&m, pk);
}

/* The summary's members, and error_code for a sweep that failed resolving its route. */
static void pack_summary(struct mp *m, const struct dsummary *s)
{
	daemon_pack_summary(m, s);
	if (s->error_code)
		mp_u64(m, "error_code", (uint64_t)s->error_code);
}

static void pack_summary_note(void *arg, msgpack_packer *pk)
{
	struct mp m;

	mp_init(&m);
	pack_summary(&m, arg);
	msgpack_pack_array(pk, 1);
	mp_emit_map(&m, pk);
}

struct device_note {
	uint32_t ip;
	bool has_mac;
	const uint8_t *mac;
	uint64_t time_us;
	uint64_t sweep_id;
};

static void pack_device_note(void *arg, msgpack_packer *pk)
{
	struct device_note *n = arg;
	char ip[16], mac[18];
	struct mp m;

	mp_init(&m);
	mp_str(&m, "ip", ipv4_format(n->ip, ip));
	if (n->has_mac) {
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0], n->mac[1], n->mac[2], n->mac[3],
			 n->mac[4], n->mac[5]);
		mp_str(&m, "mac", mac);
	}
	mp_time(&m, "time", n->time_us);
	mp_u64(&m, "sweep", n->sweep_id);
	msgpack_pack_array(pk, 1);
	mp_emit_map(&m, pk);
}

/* ---- the sink ---- */

static void on_result(void *ctx, const struct sweep_result *r)
{
	struct dsweep *sw = ctx;
	struct store_result sr;

	scan_store_result_of(r, &sr);
	store_recorder_add(sw->rec, &sr);
}

static void on_progress(void *ctx, const struct sweep_progress *p)
{
	struct dsweep *sw = ctx;
	struct progress_note n = { sw->id, sw->job_id, p };

	store_recorder_progress(sw->rec, p->sent);
	pthread_mutex_lock(&sw->d->lock);
	sw->prog = *p;
	sw->sum.sent = p->sent;
	sw->sum.replies = p->replies;
	sw->sum.live = p->live;
	pthread_mutex_unlock(&sw->d->lock);
	rpc_server_notify(sw->d->srv, "scan", "scan.progress", pack_progress, &n);
}

/* The sweep's final record, from its figures. */
static struct store_sweep final_record(const struct dsweep *sw, const struct sweep_stats *stats, bool failed)
{
	struct store_sweep fin = sw->info;

	fin.end_us = cli_now_us();
	fin.sent = stats->sent;
	fin.replies = stats->replies;
	fin.live = stats->live;
	fin.ended = scan_store_end_of(stats, failed);
	return fin;
}

/* The sweep has delivered its last result: the store writes the rest, the final record and its
 * flush while the sweep tears down (store_recorder_close() then waits for it). */
static void on_ended(void *ctx, const struct sweep_stats *stats, bool failed)
{
	struct dsweep *sw = ctx;
	struct store_sweep fin = final_record(sw, stats, failed);

	store_recorder_finish(sw->rec, &fin);
}

/* ---- which devices changed ---- */

static int snap_cb(void *ctx, const struct store_device *dev)
{
	struct snaps *s = ctx;

	if (dev->ip > s->last)
		return 1;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		struct snap *v = realloc(s->v, cap * sizeof(*v));
		if (!v) {
			s->oom = true;
			return 1;
		}
		s->v = v;
		s->cap = cap;
	}
	struct snap *e = &s->v[s->n++];
	*e = (struct snap){ .ip = dev->ip, .state = dev->state, .has_mac = dev->has_mac };
	memcpy(e->mac, dev->mac, 6);
	return 0;
}

/* The known devices inside the sweep's ranges, in address order. */
static int take_snapshot(struct dsweep *sw, struct snaps *s)
{
	const struct target_set *t = &sw->targets;

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < t->n_incl; i++) {
		struct store_filter f = { .state = -1, .has_after = t->incl[i].first > 0,
					  .after = t->incl[i].first - 1 };
		s->last = t->incl[i].last;
		int rc = store_devices_list(sw->d->st, &f, snap_cb, s, NULL, NULL);
		if (rc || s->oom) {
			free(s->v);
			memset(s, 0, sizeof(*s));
			return rc ? rc : -ENOMEM;
		}
	}
	return 0;
}

struct many_note {
	uint64_t sweep_id;
	unsigned counts[3];
};

static void pack_many_note(void *arg, msgpack_packer *pk)
{
	struct many_note *n = arg;
	struct mp m;

	mp_init(&m);
	mp_u64(&m, "sweep", n->sweep_id);
	mp_u64(&m, "new", n->counts[0]);
	mp_u64(&m, "up", n->counts[1]);
	mp_u64(&m, "down", n->counts[2]);
	mp_time(&m, "time", cli_now_us());
	msgpack_pack_array(pk, 1);
	mp_emit_map(&m, pk);
}

/*
 * Walks before and after in step (both in address order); for each device that appeared (0),
 * came up (1) or went down (2) calls fn unless fn is NULL, and counts them into counts.
 */
static void diff(const struct snaps *before, const struct snaps *after, unsigned counts[3],
		 void (*fn)(struct dsweep *sw, const struct snap *a, int kind), struct dsweep *sw)
{
	size_t i = 0, j = 0;

	counts[0] = counts[1] = counts[2] = 0;
	while (j < after->n) {
		const struct snap *a = &after->v[j++];
		int kind = -1;
		while (i < before->n && before->v[i].ip < a->ip)
			i++; /* not in the store any more: devices are never deleted, so this is moot */
		if (i < before->n && before->v[i].ip == a->ip) {
			if (before->v[i].state != a->state)
				kind = a->state == STORE_STATE_UP ? 1 : 2;
			i++;
		} else {
			kind = 0;
		}
		if (kind < 0)
			continue;
		counts[kind]++;
		if (fn)
			fn(sw, a, kind);
	}
}

static void notify_device(struct dsweep *sw, const struct snap *a, int kind)
{
	static const char *const methods[] = { "device.new", "device.up", "device.down" };
	struct store_device dev;
	uint64_t t = cli_now_us();

	if (store_device_get(sw->d->st, a->ip, &dev) == 0)
		t = kind == 0 ? dev.first_seen_us : dev.last_change_us;
	struct device_note n = { a->ip, a->has_mac, a->mac, t, sw->id };
	rpc_server_notify(sw->d->srv, "device", methods[kind], pack_device_note, &n);
}

/*
 * Sends device.new / device.up / device.down for what differs between before and after; past
 * DAEMON_MAX_DEVICE_NOTES changes (a first sweep of a large network) one device.many with the
 * counts instead, so a subscriber is not buried (and dropped by the server's backlog limit).
 */
static void notify_changes(struct dsweep *sw, const struct snaps *before, const struct snaps *after)
{
	struct many_note many = { .sweep_id = sw->id };

	diff(before, after, many.counts, NULL, sw);
	if (many.counts[0] + many.counts[1] + many.counts[2] > DAEMON_MAX_DEVICE_NOTES)
		rpc_server_notify(sw->d->srv, "device", "device.many", pack_many_note, &many);
	else
		diff(before, after, many.counts, notify_device, sw);
}

/* ---- the sweep thread ---- */

struct find_sweep {
	uint64_t id;
	struct store_sweep s;
	bool found;
};

static int find_sweep_cb(void *ctx, const struct store_sweep *s)
{
	struct find_sweep *f = ctx;

	if (s->id == f->id) {
		f->s = *s;
		f->found = true;
	}
	return s->id <= f->id; /* newest first: nothing older can match */
}

static int find_stored_sweep(struct store *st, uint64_t id, struct store_sweep *out)
{
	struct find_sweep f = { .id = id };
	int rc = store_sweeps_list(st, 0, find_sweep_cb, &f);

	if (rc)
		return rc;
	if (!f.found)
		return -ENOENT;
	*out = f.s;
	return 0;
}

/* The RPC error scan.start answered for these sweep_net_resolve() failures when it resolved the
 * route itself: what was the user's to fix is BAD_PARAMS, the rest INTERNAL. */
static int net_error_code(int rc)
{
	return rc == LNMT_E_PARSE || rc == LNMT_E_ONLINK || rc == LNMT_E_NOROUTE ? RPC_E_BAD_PARAMS : RPC_E_INTERNAL;
}

/* The engine's messages name the CLI's options; over RPC they should name the params. */
static void rpc_wording(char *msg, size_t len)
{
	static const char *const map[][2] = {
		{ "-i", "\"interface\"" }, { "--probe arp", "probes [\"arp\"]" },
		{ "--gateway-mac", "\"gateway_mac\"" }, { "--source-ip", "\"source_ip\"" },
	};
	char out[600];

	for (size_t m = 0; m < sizeof(map) / sizeof(map[0]); m++) {
		const char *from = map[m][0], *to = map[m][1];
		char *hit = msg;
		/* Whole words only: "-i" must not match inside "--ip" or "on-link". */
		while ((hit = strstr(hit, from))) {
			size_t fl = strlen(from);
			bool word = (hit == msg || hit[-1] == ' ') && (hit[fl] == '\0' || hit[fl] == ' ' || hit[fl] == ',' ||
									 hit[fl] == ')' || hit[fl] == ':');
			if (!word) {
				hit += fl;
				continue;
			}
			size_t pre = (size_t)(hit - msg);
			snprintf(out, sizeof(out), "%.*s%s%s", (int)pre, msg, to, hit + fl);
			snprintf(msg, len, "%s", out);
			hit = msg + pre + strlen(to);
		}
	}
}

/*
 * Interface, source address and next-hop MAC for the sweep, as `lnmt scan` picks them. This is
 * the sweep thread's first step, not scan.start's: resolving the gateway may mean ARP-ing it
 * ourselves (up to ~600 ms), and the server thread answers every other client meanwhile.
 * Returns 0, or the engine's code with the message (in the params' words) in err and the RPC
 * error scan.start used to answer with in *code.
 */
static int resolve_net(struct dsweep *sw, int *code, char *err, size_t errlen)
{
	struct sweep_net_opts net = {
		sw->opt_ifname[0] ? sw->opt_ifname : NULL,
		sw->opt_source_ip[0] ? sw->opt_source_ip : NULL,
		sw->opt_gateway_mac[0] ? sw->opt_gateway_mac : NULL,
	};
	int rc = sweep_net_resolve(&net, &sw->cfg, sw->ifname, err, errlen);

	if (rc) {
		rpc_wording(err, errlen);
		*code = net_error_code(rc);
	}
	return rc;
}

static void *sweep_main(void *arg)
{
	struct dsweep *sw = arg;
	struct daemon *d = sw->d;
	struct sweep_sink sink = {
		.result = on_result, .progress = on_progress, .ended = on_ended, .ctx = sw,
		.progress_interval_ns = sw->progress_ns,
	};
	struct sweep_stats stats = { 0 };
	struct snaps after;
	char err[600] = "", serr[512] = ""; /* err: as big as rpc_wording's result */
	uint64_t stored = 0;
	bool have_before = false;
	int code = 0;

	/* Until the route is resolved scan.status reads phase "starting" (nothing sent yet); a
	 * failure ends the sweep "failed" with nothing sent, stored as such like any other. */
	int rc = resolve_net(sw, &code, err, sizeof(err));
	if (!rc) {
		char probes[16], job[40] = "";
		cli_probes_text(sw->info.probes, probes, sizeof(probes));
		if (sw->job_id)
			snprintf(job, sizeof(job), " for job %llu", (unsigned long long)sw->job_id);
		daemon_log("sweep %llu started%s: %s (%s, %llu addresses, %llu pps, on %s)", (unsigned long long)sw->id,
			   job, sw->info.targets, probes, (unsigned long long)sw->targets.count,
			   (unsigned long long)sw->cfg.rate_pps, sw->ifname);
		/* A failed snapshot costs only the device notifications of this sweep. */
		have_before = take_snapshot(sw, &sw->before) == 0;
		rc = sweep_run(&sw->cfg, &sink, &sw->stop, &stats, err, sizeof(err));
	}

	struct store_sweep fin = final_record(sw, &stats, rc != 0);
	int src = store_recorder_close(sw->rec, &fin, &stored, serr, sizeof(serr));
	sw->rec = NULL;

	struct dsummary sum;
	struct store_sweep rec;
	if (find_stored_sweep(d->st, sw->id, &rec) == 0)
		daemon_summary_of(&rec, &sum);
	else
		daemon_summary_of(&fin, &sum);
	sum.job_id = sw->job_id;
	if (rc) {
		snprintf(sum.error, sizeof(sum.error), "%.*s", (int)sizeof(sum.error) - 1, err);
		snprintf(sum.state, sizeof(sum.state), "failed");
		sum.error_code = code;
	} else if (src) {
		snprintf(sum.error, sizeof(sum.error), "not everything was stored: %.160s (%llu of %llu results)", serr,
			 (unsigned long long)stored, (unsigned long long)stats.replies);
	}

	if (have_before && take_snapshot(sw, &after) == 0) {
		notify_changes(sw, &sw->before, &after);
		free(after.v);
	}
	free(sw->before.v);
	sw->before.v = NULL;

	if (rc)
		daemon_log("sweep %llu failed: %s", (unsigned long long)sw->id, err);
	else
		daemon_log("sweep %llu %s: %llu addresses, %llu sent, %llu live, %u new, %u up, %u down, %.3f s%s%s",
			   (unsigned long long)sw->id, sum.state, (unsigned long long)sum.addresses,
			   (unsigned long long)sum.sent, (unsigned long long)sum.live, sum.new_devices, sum.went_up,
			   sum.went_down, stats.elapsed_ns / 1e9, src ? "; " : "", src ? sum.error : "");
	/* Everything is in place before scan.done goes out: a client that reacts to it with
	 * scan.status, jobs.list or devices.list sees this sweep finished. The main thread joins
	 * this thread before it closes the server, so the notification below is safe. */
	if (sw->job_id)
		daemon_job_finished(d, &sum);
	pthread_mutex_lock(&d->lock);
	sw->sum = sum;
	sw->finished = true;
	d->running--;
	d->sweeps_done++;
	if (rc)
		d->sweeps_failed++;
	d->probes_sent += sum.sent;
	d->replies += sum.replies;
	d->live += sum.live;
	pthread_mutex_unlock(&d->lock);
	rpc_server_notify(d->srv, "scan", "scan.done", pack_summary_note, &sum);
	rpc_server_wake(d->srv);
	return NULL;
}

/* ---- starting ---- */

static void dsweep_free(struct dsweep *sw)
{
	if (!sw)
		return;
	target_set_fini(&sw->targets);
	port_list_fini(&sw->ports);
	free(sw->before.v);
	free(sw);
}

/*
 * Default probe as `lnmt scan` picks it: syn with ports, arp on-link, icmp routed. This route
 * lookup stays on the server thread: it is one rtnetlink request the kernel answers from its
 * table (nothing goes on the wire), and the probe is recorded with the sweep when it starts.
 * The slow part, the gateway's MAC, is the thread's (resolve_net).
 */
static const char *default_probe(const struct dsweep *sw, bool has_ports)
{
	struct net_route route;

	if (has_ports)
		return "syn";
	if (netinfo_route(target_set_addr(&sw->targets, 0), &route) == 0 && !route.has_gateway)
		return "arp";
	return "icmp";
}

static int add_probe(struct dsweep *sw, const char *name, char *err, size_t errlen)
{
	const struct probe_ops *p = probe_by_name(name);

	if (!p) {
		snprintf(err, errlen, "bad probe '%s': expected arp, icmp or syn", name);
		return RPC_E_BAD_PARAMS;
	}
	for (unsigned i = 0; i < sw->cfg.n_probes; i++)
		if (sw->cfg.probes[i] == p)
			return 0;
	sw->cfg.probes[sw->cfg.n_probes++] = p;
	sw->info.probes |= scan_store_probe_of(p);
	return 0;
}

/*
 * The network options' syntax, so a typo is still a params error at once (with the message
 * sweep_net_resolve would give); what they mean for the route is the sweep thread's to find out
 * (resolve_net). Copies them into sw for the thread.
 */
static int check_net_opts(struct dsweep *sw, const struct dscan_request *req, char *err, size_t errlen)
{
	struct in_addr in;
	uint8_t mac[6];

	if (req->ifname) {
		if (strlen(req->ifname) >= sizeof(sw->opt_ifname)) {
			snprintf(err, errlen, "bad interface '%s': no such interface", req->ifname);
			return RPC_E_BAD_PARAMS;
		}
		snprintf(sw->opt_ifname, sizeof(sw->opt_ifname), "%s", req->ifname);
	}
	if (req->source_ip) {
		if (strlen(req->source_ip) >= sizeof(sw->opt_source_ip) || inet_pton(AF_INET, req->source_ip, &in) != 1) {
			snprintf(err, errlen, "bad \"source_ip\" '%s': expected a.b.c.d", req->source_ip);
			return RPC_E_BAD_PARAMS;
		}
		snprintf(sw->opt_source_ip, sizeof(sw->opt_source_ip), "%s", req->source_ip);
	}
	if (req->gateway_mac) {
		if (netinfo_parse_mac(req->gateway_mac, mac)) {
			snprintf(err, errlen, "bad \"gateway_mac\" '%s': expected aa:bb:cc:dd:ee:ff", req->gateway_mac);
			return RPC_E_BAD_PARAMS;
		}
		snprintf(sw->opt_gateway_mac, sizeof(sw->opt_gateway_mac), "%s", req->gateway_mac);
	}
	return 0;
}

/* Fills sw from req; an RPC error code with err on failure. The route is not resolved here. */
static int build(struct daemon *d, struct dsweep *sw, const struct dscan_request *req, char *err, size_t errlen)
{
	char perr[TARGET_ERR_LEN + 64];
	int rc;

	if (req->n_targets == 0) {
		snprintf(err, errlen, "missing targets: give at least one, e.g. {targets: [\"198.19.0.0/24\"]}");
		return RPC_E_MISSING_PARAM;
	}
	for (size_t i = 0; i < req->n_targets + req->n_excludes; i++) {
		bool excl = i >= req->n_targets;
		const char *spec = excl ? req->excludes[i - req->n_targets] : req->targets[i];
		if (spec[0] == '@') {
			/* The daemon runs as root or with CAP_NET_RAW: it reads no file a client names. */
			snprintf(err, errlen, "bad target '%s': files are not read over RPC; send the specs themselves", spec);
			return RPC_E_BAD_PARAMS;
		}
		rc = excl ? target_set_exclude(&sw->targets, spec, perr, sizeof(perr))
			  : target_set_add(&sw->targets, spec, perr, sizeof(perr));
		if (rc) {
			snprintf(err, errlen, "%s%s", excl ? "exclude: " : "", perr);
			return RPC_E_BAD_PARAMS;
		}
		if (!excl) {
			size_t used = strlen(sw->info.targets);
			snprintf(sw->info.targets + used, sizeof(sw->info.targets) - used, "%s%s", used ? " " : "", spec);
		}
	}
	if ((rc = target_set_finalize(&sw->targets))) {
		snprintf(err, errlen, rc == LNMT_E_EMPTY ? "no targets left after exclusions" : "targets: %s",
			 lnmt_strerror(rc));
		return rc == LNMT_E_EMPTY ? RPC_E_BAD_PARAMS : RPC_E_INTERNAL;
	}
	if (!req->allow_large && target_set_is_large(&sw->targets, perr, sizeof(perr))) {
		snprintf(err, errlen, "%s: pass allow_large: true if that is meant", perr);
		return RPC_E_BAD_PARAMS;
	}
	if (req->ports && port_list_parse(&sw->ports, req->ports, perr, sizeof(perr))) {
		snprintf(err, errlen, "%s", perr);
		return RPC_E_BAD_PARAMS;
	}
	if (req->n_probes > SWEEP_MAX_PROBES * 2) {
		snprintf(err, errlen, "too many probes: at most arp, icmp and syn");
		return RPC_E_BAD_PARAMS;
	}
	for (size_t i = 0; i < req->n_probes; i++)
		if ((rc = add_probe(sw, req->probes[i], err, errlen)))
			return rc;
	if (!sw->cfg.n_probes && (rc = add_probe(sw, default_probe(sw, req->ports != NULL), err, errlen)))
		return rc;
	if (!req->ports)
		port_list_parse(&sw->ports, "80", perr, sizeof(perr));
	snprintf(sw->info.ports, sizeof(sw->info.ports), "%s", req->ports ? req->ports : "");

	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	sw->cfg.targets = &sw->targets;
	sw->cfg.ports = &sw->ports;
	sw->cfg.tx = TX_AUTO;
	sw->cfg.env.ttl = 64;
	sw->cfg.rate_pps = req->has_rate ? req->rate_pps : d->cfg.default_rate;
	sw->cfg.retries = req->has_retries ? req->retries : d->cfg.default_retries;
	sw->cfg.wait_ns = (req->has_wait ? req->wait_ms : d->cfg.default_wait_ms) * 1000000ull;
	sw->cfg.rate_fixed = req->rate_fixed;
	sw->cfg.wait_fixed = req->wait_fixed;
	sw->cfg.seed = req->has_seed ? req->seed
		     : (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 20) ^ ((uint64_t)getpid() << 40) ^ (uintptr_t)sw;
	return check_net_opts(sw, req, err, errlen);
}

int daemon_scan_start(struct daemon *d, const struct dscan_request *req, uint64_t *id, char *err, size_t errlen)
{
	struct dsweep *sw;
	char serr[512];
	int rc;

	if (d->stopping) {
		snprintf(err, errlen, "lnmtd is shutting down");
		return RPC_E_BUSY;
	}
	if (!(sw = calloc(1, sizeof(*sw)))) {
		snprintf(err, errlen, "out of memory");
		return RPC_E_INTERNAL;
	}
	sw->d = d;
	sw->job_id = req->job_id;
	sw->progress_ns = d->cfg.progress_ms * 1000000ull;
	target_set_init(&sw->targets);
	if ((rc = build(d, sw, req, err, errlen)))
		goto fail;
	/* Busy only after validation: a malformed request hears what is wrong with it, whatever
	 * the load. */
	if (daemon_running(d) >= d->cfg.max_sweeps) {
		snprintf(err, errlen, "%u sweep%s running, the most lnmtd runs at once (MAX_SWEEPS): try again after "
			 "a scan.done", d->cfg.max_sweeps, d->cfg.max_sweeps == 1 ? "" : "s");
		rc = RPC_E_BUSY;
		goto fail;
	}

	/* Recorded as `lnmt scan` records (no shards here: every probe covers every range). */
	struct store_range *ranges;
	size_t n_ranges;
	if (scan_store_ranges(&sw->cfg, &ranges, &n_ranges)) {
		snprintf(err, errlen, "out of memory");
		rc = RPC_E_INTERNAL;
		goto fail;
	}
	sw->info.start_us = cli_now_us();
	sw->info.rate_pps = sw->cfg.rate_pps;
	sw->info.retries = sw->cfg.retries;
	sw->info.addresses = sw->targets.count;
	rc = store_recorder_open(d->st, &sw->info, ranges, n_ranges, &sw->rec, serr, sizeof(serr));
	free(ranges);
	if (rc) {
		snprintf(err, errlen, "cannot record the sweep: %s", serr);
		rc = RPC_E_INTERNAL;
		goto fail;
	}
	sw->id = sw->info.id;
	sw->sum = (struct dsummary){
		.id = sw->id, .job_id = sw->job_id, .probes = sw->info.probes, .start_us = sw->info.start_us,
		.addresses = sw->info.addresses,
	};
	snprintf(sw->sum.state, sizeof(sw->sum.state), "running");
	snprintf(sw->sum.targets, sizeof(sw->sum.targets), "%s", sw->info.targets);

	pthread_mutex_lock(&d->lock);
	sw->next = d->sweeps;
	d->sweeps = sw;
	d->running++;
	pthread_mutex_unlock(&d->lock);
	if ((rc = pthread_create(&sw->thread, NULL, sweep_main, sw))) {
		pthread_mutex_lock(&d->lock);
		d->sweeps = sw->next;
		d->running--;
		pthread_mutex_unlock(&d->lock);
		struct store_sweep fin = sw->info;
		fin.end_us = cli_now_us();
		fin.ended = STORE_END_FAILED;
		store_recorder_close(sw->rec, &fin, NULL, serr, sizeof(serr));
		snprintf(err, errlen, "cannot start the sweep thread: %s", strerror(rc));
		rc = RPC_E_INTERNAL;
		goto fail;
	}
	*id = sw->id;
	return 0;
fail:
	dsweep_free(sw);
	return rc;
}

void daemon_reap(struct daemon *d)
{
	for (;;) {
		struct dsweep *done = NULL, **pp;
		pthread_mutex_lock(&d->lock);
		for (pp = &d->sweeps; *pp; pp = &(*pp)->next) {
			if ((*pp)->finished) {
				done = *pp;
				*pp = done->next;
				break;
			}
		}
		if (done) {
			d->recent[d->recent_head] = done->sum;
			d->recent_head = (d->recent_head + 1) % DAEMON_RECENT;
			if (d->n_recent < DAEMON_RECENT)
				d->n_recent++;
		}
		pthread_mutex_unlock(&d->lock);
		if (!done)
			return;
		pthread_join(done->thread, NULL);
		dsweep_free(done);
	}
}

void daemon_stop_all(struct daemon *d, int level)
{
	pthread_mutex_lock(&d->lock);
	for (struct dsweep *sw = d->sweeps; sw; sw = sw->next)
		if (!sw->finished && sw->stop < level)
			sw->stop = level;
	pthread_mutex_unlock(&d->lock);
}

unsigned daemon_running(struct daemon *d)
{
	pthread_mutex_lock(&d->lock);
	unsigned n = d->running;
	pthread_mutex_unlock(&d->lock);
	return n;
}

bool daemon_job_running(struct daemon *d, uint64_t job_id, uint64_t *sweep_id)
{
	bool found = false;

	pthread_mutex_lock(&d->lock);
	for (struct dsweep *sw = d->sweeps; sw && !found; sw = sw->next) {
		if (!sw->finished && sw->job_id == job_id) {
			found = true;
			*sweep_id = sw->id;
		}
	}
	pthread_mutex_unlock(&d->lock);
	return found;
}

/* ---- methods ---- */

/* Copies a string array param into bufs and points ptrs at them. */
static bool get_specs(const msgpack_object *map, const char *key, char (*bufs)[64], const char **ptrs, size_t *n,
		      struct rpc_reply *r)
{
	*n = 0;
	if (!rpc_get_str_array(map, key, bufs, DAEMON_MAX_TARGETS, n, r))
		return false;
	for (size_t i = 0; i < *n; i++)
		ptrs[i] = bufs[i];
	return true;
}

void m_scan_start(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	static const char *const keys[] = { "targets", "exclude", "probes", "ports", "rate", "retries", "wait_ms",
					    "rate_fixed", "wait_fixed", "interface", "source_ip", "gateway_mac", "seed",
					    "allow_large", NULL };
	char targets[DAEMON_MAX_TARGETS][64], excludes[DAEMON_MAX_TARGETS][64], probes[SWEEP_MAX_PROBES * 2][64];
	struct daemon *d = ctx;
	struct dscan_request req = { 0 };
	const msgpack_object *map;
	char ports[64], ifname[IF_NAMESIZE + 8], src[32], gw[32], err[600];
	uint64_t v;
	bool found;
	uint64_t id;

	(void)c;
	if (!rpc_params_map(params, &map, r) || !daemon_check_keys(map, "scan.start", keys, r) ||
	    !get_specs(map, "targets", targets, req.targets, &req.n_targets, r) ||
	    !get_specs(map, "exclude", excludes, req.excludes, &req.n_excludes, r))
		return;
	if (!rpc_get_str_array(map, "probes", probes, SWEEP_MAX_PROBES * 2, &req.n_probes, r))
		return;
	for (size_t i = 0; i < req.n_probes; i++)
		req.probes[i] = probes[i];
	if (!rpc_get_str(map, "ports", false, ports, sizeof(ports), &found, r))
		return;
	req.ports = found ? ports : NULL;
	if (!rpc_get_u64(map, "rate", false, &req.rate_pps, &req.has_rate, r) ||
	    !rpc_get_u64(map, "retries", false, &v, &req.has_retries, r))
		return;
	if (req.has_rate && req.rate_pps > 100000000) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "bad rate %llu: expected packets per second, 0-100000000",
				(unsigned long long)req.rate_pps);
		return;
	}
	if (req.has_retries && v > 100) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "bad retries %llu: expected 0-100", (unsigned long long)v);
		return;
	}
	req.retries = (unsigned)v;
	if (!rpc_get_u64(map, "wait_ms", false, &req.wait_ms, &req.has_wait, r) ||
	    !rpc_get_u64(map, "seed", false, &req.seed, &req.has_seed, r) ||
	    !rpc_get_bool(map, "rate_fixed", &req.rate_fixed, &found, r) ||
	    !rpc_get_bool(map, "wait_fixed", &req.wait_fixed, &found, r))
		return;
	if (req.has_wait && req.wait_ms > 86400000) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "bad wait_ms %llu: expected 0-86400000", (unsigned long long)req.wait_ms);
		return;
	}
	if (!rpc_get_str(map, "interface", false, ifname, sizeof(ifname), &found, r))
		return;
	if (found) {
		int ifindex;
		if (strlen(ifname) >= IF_NAMESIZE || netinfo_ifindex(ifname, &ifindex)) {
			rpc_reply_error(r, RPC_E_BAD_PARAMS, "bad interface '%s': no such interface", ifname);
			return;
		}
		req.ifname = ifname;
	}
	if (!rpc_get_str(map, "source_ip", false, src, sizeof(src), &found, r))
		return;
	req.source_ip = found ? src : NULL;
	if (!rpc_get_str(map, "gateway_mac", false, gw, sizeof(gw), &found, r))
		return;
	req.gateway_mac = found ? gw : NULL;
	if (!rpc_get_bool(map, "allow_large", &req.allow_large, &found, r))
		return;

	int rc = daemon_scan_start(d, &req, &id, err, sizeof(err));
	if (rc) {
		rpc_reply_error(r, rc, "%s", err);
		return;
	}
	struct mp m;
	mp_init(&m);
	mp_u64(&m, "id", id);
	mp_emit_map(&m, r->pk);
}

static bool get_id(const msgpack_object *params, const char *method, const char *const *keys, uint64_t *id,
		   const msgpack_object **map, struct rpc_reply *r)
{
	bool found;

	if (!rpc_params_map(params, map, r) || !daemon_check_keys(*map, method, keys, r) ||
	    !rpc_get_u64(*map, "id", true, id, &found, r))
		return false;
	if (!found) {
		rpc_reply_error(r, RPC_E_MISSING_PARAM, "missing id: %s takes {id: N}", method);
		return false;
	}
	return true;
}

/* The sweep's summary from memory (running or recent); false if it is not there. */
static bool summary_in_memory(struct daemon *d, uint64_t id, struct dsummary *out, struct sweep_progress *prog,
			      bool *running)
{
	bool found = false;

	pthread_mutex_lock(&d->lock);
	for (struct dsweep *sw = d->sweeps; sw && !found; sw = sw->next) {
		if (sw->id == id) {
			*out = sw->sum;
			*prog = sw->prog;
			*running = !sw->finished;
			if (*running && sw->stop)
				snprintf(out->state, sizeof(out->state), "stopping");
			found = true;
		}
	}
	for (unsigned i = 0; i < d->n_recent && !found; i++) {
		const struct dsummary *s = &d->recent[(d->recent_head + DAEMON_RECENT - 1 - i) % DAEMON_RECENT];
		if (s->id == id) {
			*out = *s;
			*running = false;
			found = true;
		}
	}
	pthread_mutex_unlock(&d->lock);
	return found;
}

static void pack_status(struct mp *m, const struct dsummary *s, const struct sweep_progress *p, bool running,
			unsigned retries)
{
	pack_summary(m, s);
	mp_u64(m, "percent", running ? percent_of(p, false) : 100);
	if (running)
		mp_str(m, "phase", p->sent ? phase_of(p, retries) : "starting");
}

void m_scan_status(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	static const char *const keys[] = { "id", NULL };
	struct daemon *d = ctx;
	const msgpack_object *map;
	struct dsummary s;
	struct sweep_progress p = { 0 };
	struct store_sweep rec;
	bool running = false;
	uint64_t id;

	(void)c;
	if (!get_id(params, "scan.status", keys, &id, &map, r))
		return;
	if (!summary_in_memory(d, id, &s, &p, &running)) {
		int rc = find_stored_sweep(d->st, id, &rec);
		if (rc == -ENOENT) {
			rpc_reply_error(r, RPC_E_NOT_FOUND, "no sweep %llu", (unsigned long long)id);
			return;
		}
		if (rc) {
			rpc_reply_error(r, RPC_E_INTERNAL, "reading sweeps: %s", lnmt_strerror(rc));
			return;
		}
		daemon_summary_of(&rec, &s);
	}
	struct mp m;
	mp_init(&m);
	pack_status(&m, &s, &p, running, d->cfg.default_retries);
	mp_emit_map(&m, r->pk);
}

void m_scan_cancel(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	static const char *const keys[] = { "id", "now", NULL };
	struct daemon *d = ctx;
	const msgpack_object *map;
	bool now = false, found = false, was_running = false;
	uint64_t id;

	(void)c;
	if (!get_id(params, "scan.cancel", keys, &id, &map, r) || !rpc_get_bool(map, "now", &now, &found, r))
		return;
	pthread_mutex_lock(&d->lock);
	for (struct dsweep *sw = d->sweeps; sw; sw = sw->next) {
		if (sw->id == id && !sw->finished) {
			/* 1: stop sending, drain replies in flight briefly; 2: stop at once. */
			if (sw->stop < (now ? 2 : 1))
				sw->stop = now ? 2 : 1;
			was_running = true;
		}
	}
	pthread_mutex_unlock(&d->lock);
	if (!was_running) {
		rpc_reply_error(r, RPC_E_NOT_FOUND, "sweep %llu is not running", (unsigned long long)id);
		return;
	}
	daemon_log("sweep %llu: cancel requested", (unsigned long long)id);
	struct mp m;
	mp_init(&m);
	mp_u64(&m, "id", id);
	mp_str(&m, "state", "stopping");
	mp_emit_map(&m, r->pk);
}

struct list_sweeps {
	struct daemon *d;
	struct mp *arr;
	uint32_t n, limit;
};

static int list_sweep_cb(void *ctx, const struct store_sweep *s)
{
	struct list_sweeps *l = ctx;
	struct dsummary sum;
	struct sweep_progress p = { 0 };
	bool running = false;
	struct mp m;

	if (!summary_in_memory(l->d, s->id, &sum, &p, &running))
		daemon_summary_of(s, &sum);
	mp_init(&m);
	pack_status(&m, &sum, &p, running, l->d->cfg.default_retries);
	mp_emit_map(&m, mp_elem(l->arr));
	return ++l->n >= l->limit;
}

void m_scan_list(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	static const char *const keys[] = { "limit", NULL };
	struct daemon *d = ctx;
	const msgpack_object *map;
	uint64_t limit = 20;
	bool found;

	(void)c;
	if (!rpc_params_map(params, &map, r) || !daemon_check_keys(map, "scan.list", keys, r) ||
	    !rpc_get_u64(map, "limit", false, &limit, &found, r))
		return;
	if (limit == 0 || limit > 1000) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "bad limit %llu: expected 1-1000", (unsigned long long)limit);
		return;
	}
	/* Every sweep is in the store from its start (running ones without an end), newest first;
	 * memory adds the live figures of the running ones. */
	struct mp arr, m;
	mp_init(&arr);
	struct list_sweeps l = { d, &arr, 0, (uint32_t)limit };
	int rc = store_sweeps_list(d->st, (uint32_t)limit, list_sweep_cb, &l);
	if (rc) {
		mp_free(&arr);
		rpc_reply_error(r, RPC_E_INTERNAL, "listing sweeps: %s", lnmt_strerror(rc));
		return;
	}
	mp_init(&m);
	mp_emit_array(&arr, mp_key(&m, "sweeps"));
	mp_u64(&m, "running", daemon_running(d));
	mp_emit_map(&m, r->pk);
}
