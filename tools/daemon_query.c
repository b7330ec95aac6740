/* SPDX-License-Identifier: MIT */
/* daemon_query.c: the methods that answer from the store: system.status, devices.*, report.*,
 * sweeps.list and events.subscribe. */
#include "daemon.h"

#include "cli.h"
#include "err.h"
#include "targets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEVICES_DEFAULT_LIMIT 1000
#define DEVICES_MAX_LIMIT 10000
#define HISTORY_LIMIT 20                 /* devices.get: entries of each history list by default */
#define HISTORY_MAX 1000
#define SWEEPS_DEFAULT_LIMIT 20
#define SWEEPS_MAX_LIMIT 10000
#define DEFAULT_SINCE_S (24ull * 3600)
#define VENDORS_LISTED 20                /* report.network: the rest sum into "other" */
#define SERIES_MAX 64                    /* report.series: more subnets group coarser */
#define SERIES_MAX_SINCE_S (90ull * 86400)

/* The params map, checked against the keys the method takes. */
static bool params_of(const msgpack_object *params, const char *method, const char *const *allowed,
		      const msgpack_object **map, struct rpc_reply *r)
{
	return rpc_params_map(params, map, r) && daemon_check_keys(*map, method, allowed, r);
}

/* ---- system.status ---- */

struct count_ctx {
	uint64_t n;
};

static int count_job(void *ctx, const struct store_job *j)
{
	(void)j;
	((struct count_ctx *)ctx)->n++;
	return 0;
}

void m_system_status(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	static const char *const keys[] = { NULL };
	struct daemon *d = ctx;
	const msgpack_object *map;
	struct rpc_server_stats rs;
	struct count_ctx jobs = { 0 };
	char path[600], cfg[256];
	struct stat sb;
	struct mp m;

	(void)c;
	if (!params_of(params, "system.status", keys, &map, r))
		return;
	rpc_server_stats(d->srv, &rs);
	store_jobs_list(d->jobs, count_job, &jobs);
	snprintf(path, sizeof(path), "%s/data.mdb", d->db_dir);
	mp_init(&m);
	mp_str(&m, "version", LNMT_VERSION);
	mp_u64(&m, "pid", (uint64_t)getpid());
	mp_time(&m, "started", d->start_us);
	mp_u64(&m, "uptime_s", (cli_now_us() - d->start_us) / 1000000);
	pthread_mutex_lock(&d->lock);
	uint64_t running = d->running, done = d->sweeps_done, failed = d->sweeps_failed;
	uint64_t sent = d->probes_sent, replies = d->replies, live = d->live;
	pthread_mutex_unlock(&d->lock);
	mp_u64(&m, "sweeps_running", running);
	mp_u64(&m, "sweeps_done", done);
	mp_u64(&m, "sweeps_failed", failed);
	mp_u64(&m, "max_sweeps", d->cfg.max_sweeps);
	mp_u64(&m, "jobs", jobs.n);
	mp_str(&m, "socket", d->socket_path);
	msgpack_packer *pk = mp_key(&m, "store");
	struct mp s;
	mp_init(&s);
	mp_str(&s, "path", d->db_dir);
	mp_u64(&s, "size_bytes", stat(path, &sb) ? 0 : (uint64_t)sb.st_size);
	mp_emit_map(&s, pk);
	pk = mp_key(&m, "counters");
	struct mp n;
	mp_init(&n);
	mp_u64(&n, "requests", rs.requests);
	mp_u64(&n, "errors", rs.errors);
	mp_u64(&n, "connections", rs.connections);
	mp_u64(&n, "accepted", rs.accepted);
	mp_u64(&n, "refused", rs.refused);
	mp_u64(&n, "notifications", rs.notifications);
	mp_u64(&n, "dropped_clients", rs.dropped_clients);
	mp_u64(&n, "sweeps_done", done);
	mp_u64(&n, "probes_sent", sent);
	mp_u64(&n, "replies", replies);
	mp_u64(&n, "live", live);
	mp_emit_map(&n, pk);
	daemon_config_describe(&d->cfg, cfg, sizeof(cfg));
	mp_str(&m, "config", cfg);
	mp_emit_map(&m, r->pk);
}

/* ---- devices.list ---- */

struct list_ctx {
	struct mp arr;
};

static int pack_device_cb(void *ctx, const struct store_device *dev)
{
	struct list_ctx *lc = ctx;
	struct mp m;

	mp_init(&m);
	daemon_pack_device(&m, dev);
	mp_emit_map(&m, mp_elem(&lc->arr));
	return 0;
}

/* Reads the filter params shared by devices.list and the reports. */
static bool read_subnet(const msgpack_object *map, uint32_t *net, uint32_t *mask, struct rpc_reply *r)
{
	char buf[64];
	bool found;

	*net = *mask = 0;
	if (!rpc_get_str(map, "subnet", false, buf, sizeof(buf), &found, r))
		return false;
	return !found || daemon_parse_subnet(buf, "subnet", net, mask, r);
}

static bool read_since(const msgpack_object *map, uint64_t dflt_s, uint64_t *since_us, struct rpc_reply *r)
{
	uint64_t s = dflt_s;
	bool found;
	uint64_t now = cli_now_us();

	if (!rpc_get_u64(map, "since_s", false, &s, &found, r))
		return false;
	if (!found && !dflt_s) {
		*since_us = 0;
		return true;
	}
	*since_us = s >= now / 1000000 ? 1 : now - s * 1000000;
	return true;
}

void m_devices_list(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	static const char *const keys[] = { "state", "subnet", "since_s", "vendor", "text", "limit", "after", NULL };
	struct daemon *d = ctx;
	const msgpack_object *map;
	struct store_filter f = { .state = -1 };
	char state[16], vendor[STORE_VENDOR_LEN * 2], text[STORE_NOTE_LEN + 1], after[32];
	uint64_t limit = DEVICES_DEFAULT_LIMIT;
	bool found, has_vendor, has_text;

	(void)c;
	if (!params_of(params, "devices.list", keys, &map, r))
		return;
	if (!rpc_get_str(map, "state", false, state, sizeof(state), &found, r))
		return;
	if (found) {
		if (!strcmp(state, "up")) {
			f.state = STORE_STATE_UP;
		} else if (!strcmp(state, "down")) {
			f.state = STORE_STATE_DOWN;
		} else {
			rpc_reply_error(r, RPC_E_BAD_PARAMS, "bad state '%s': expected up or down", state);
			return;
		}
	}
	if (!read_subnet(map, &f.net, &f.mask, r) || !read_since(map, 0, &f.seen_since_us, r) ||
	    !rpc_get_str(map, "vendor", false, vendor, sizeof(vendor), &has_vendor, r) ||
	    !rpc_get_str(map, "text", false, text, sizeof(text), &has_text, r) ||
	    !rpc_get_u64(map, "limit", false, &limit, &found, r) ||
	    !rpc_get_str(map, "after", false, after, sizeof(after), &found, r))
		return;
	if (found) {
		if (!daemon_parse_ip(after, "after", &f.after, r))
			return;
		f.has_after = true;
	}
	if (limit == 0 || limit > DEVICES_MAX_LIMIT) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "bad limit %llu: expected 1-%u (page with after)",
				(unsigned long long)limit, DEVICES_MAX_LIMIT);
		return;
	}
	f.vendor = has_vendor ? vendor : NULL;
	f.text = has_text ? text : NULL;
	f.limit = (uint32_t)limit;

	struct list_ctx lc;
	uint32_t next = 0;
	bool more = false;
	mp_init(&lc.arr);
	int rc = store_devices_list(d->st, &f, pack_device_cb, &lc, &next, &more);
	if (rc) {
		mp_free(&lc.arr);
		rpc_reply_error(r, RPC_E_INTERNAL, "listing devices: %s", lnmt_strerror(rc));
		return;
	}
	struct mp m;
	mp_init(&m);
	mp_emit_array(&lc.arr, mp_key(&m, "devices"));
	if (more) {
		char ip[16];
		mp_str(&m, "next", ipv4_format(next, ip));
	} else {
		mp_nil(&m, "next");
	}
	mp_emit_map(&m, r->pk);
}

/* ---- devices.get ---- */

static int pack_change_cb(void *ctx, const struct store_change *ch)
{
	struct mp m;

	mp_init(&m);
	mp_time(&m, "time", ch->time_us);
	mp_str(&m, "state", ch->state == STORE_STATE_UP ? "up" : "down");
	mp_emit_map(&m, mp_elem(ctx));
	return 0;
}

static int pack_obs_cb(void *ctx, const struct store_observation *o)
{
	char probes[16];
	struct mp m;

	mp_init(&m);
	mp_time(&m, "time", o->time_us);
	mp_u64(&m, "sweep", o->sweep_id);
	mp_str(&m, "state", o->state == STORE_STATE_UP ? "up" : "down");
	cli_probes_text(o->probes, probes, sizeof(probes));
	mp_str(&m, "probes", probes);
	mp_u64(&m, "rtt_us", o->rtt_us);
	mp_emit_map(&m, mp_elem(ctx));
	return 0;
}

/* devices.get {ip, unseen: true} for an address no sweep has found: its name and note, as
 * devices.annotate answers for one. false (NOT_FOUND or INTERNAL in r) when it has none. */
static bool reply_unseen_note(struct daemon *d, uint32_t ip, const char *ipbuf, struct rpc_reply *r)
{
	struct store_note n;
	char ipt[16];
	int rc = store_note_get(d->st, ip, &n);

	if (rc == -ENOENT) {
		rpc_reply_error(r, RPC_E_NOT_FOUND, "%s: never seen (no sweep has found it) and not named", ipbuf);
		return false;
	}
	if (rc) {
		rpc_reply_error(r, RPC_E_INTERNAL, "reading %s: %s", ipbuf, lnmt_strerror(rc));
		return false;
	}
	struct mp m;
	mp_init(&m);
	mp_str(&m, "ip", ipv4_format(ip, ipt));
	mp_str(&m, "name", n.name);
	mp_str(&m, "note", n.note);
	mp_bool(&m, "seen", false);
	mp_emit_map(&m, r->pk);
	return true;
}

void m_devices_get(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	static const char *const keys[] = { "ip", "history", "unseen", NULL };
	struct daemon *d = ctx;
	const msgpack_object *map;
	struct store_device dev;
	char ipbuf[64];
	uint64_t history = HISTORY_LIMIT;
	uint32_t ip;
	bool found, unseen = false;
	int rc;

	(void)c;
	if (!params_of(params, "devices.get", keys, &map, r) ||
	    !rpc_get_str(map, "ip", true, ipbuf, sizeof(ipbuf), &found, r))
		return;
	if (!found) {
		rpc_reply_error(r, RPC_E_MISSING_PARAM, "missing ip: devices.get takes {ip: \"198.19.0.7\"}");
		return;
	}
	if (!daemon_parse_ip(ipbuf, "ip", &ip, r) || !rpc_get_u64(map, "history", false, &history, &found, r) ||
	    !rpc_get_bool(map, "unseen", &unseen, &found, r))
		return;
	if (history > HISTORY_MAX) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "bad history %llu: expected 0-%u (entries of each list)",
				(unsigned long long)history, HISTORY_MAX);
		return;
	}
	rc = store_device_get(d->st, ip, &dev);
	if (rc == -ENOENT) {
		if (unseen)
			reply_unseen_note(d, ip, ipbuf, r);
		else
			rpc_reply_error(r, RPC_E_NOT_FOUND, "%s: never seen (no sweep has found it)", ipbuf);
		return;
	}
	if (rc) {
		rpc_reply_error(r, RPC_E_INTERNAL, "reading %s: %s", ipbuf, lnmt_strerror(rc));
		return;
	}
	struct mp m, changes, obs;
	mp_init(&changes);
	mp_init(&obs);
	/* The store reads limit 0 as "all": history 0 asks for none, so it is not asked. */
	if (history) {
		rc = store_device_changes(d->st, ip, (uint32_t)history, pack_change_cb, &changes);
		if (!rc)
			rc = store_device_observations(d->st, ip, (uint32_t)history, pack_obs_cb, &obs);
	}
	if (rc) {
		mp_free(&changes);
		mp_free(&obs);
		rpc_reply_error(r, RPC_E_INTERNAL, "reading the history of %s: %s", ipbuf, lnmt_strerror(rc));
		return;
	}
	mp_init(&m);
	daemon_pack_device(&m, &dev);
	mp_u64(&m, "probes_total", dev.probes_total);
	mp_u64(&m, "answers_total", dev.answers_total);
	mp_u64(&m, "changes_total", dev.changes_total);
	mp_emit_array(&changes, mp_key(&m, "changes"));
	mp_emit_array(&obs, mp_key(&m, "observations"));
	mp_emit_map(&m, r->pk);
}

/* ---- sweeps.list ---- */

struct sweeps_ctx {
	struct mp arr;
	uint64_t before;     /* list ids below it; 0: from the newest */
	uint32_t n, limit;
	uint64_t last_id;    /* of the last one packed */
	bool more;           /* one more was there after the limit */
};

static int pack_sweep_cb(void *ctx, const struct store_sweep *s)
{
	struct sweeps_ctx *sc = ctx;
	char probes[16];
	struct mp m;

	if (sc->before && s->id >= sc->before)
		return 0;
	if (sc->n == sc->limit) {
		sc->more = true;
		return 1;
	}
	mp_init(&m);
	mp_u64(&m, "id", s->id);
	mp_time(&m, "start", s->start_us);
	mp_time(&m, "end", s->end_us);
	mp_u64(&m, "start_us", s->start_us);
	mp_u64(&m, "end_us", s->end_us);
	mp_str(&m, "targets", s->targets);
	cli_probes_text(s->probes, probes, sizeof(probes));
	mp_str(&m, "probes", probes);
	mp_str(&m, "ports", s->ports);
	mp_u64(&m, "rate", s->rate_pps);
	mp_u64(&m, "retries", s->retries);
	mp_u64(&m, "addresses", s->addresses);
	mp_u64(&m, "sent", s->sent);
	mp_u64(&m, "replies", s->replies);
	mp_u64(&m, "live", s->live);
	mp_u64(&m, "new", s->new_devices);
	mp_u64(&m, "went_up", s->went_up);
	mp_u64(&m, "went_down", s->went_down);
	mp_str(&m, "ended", store_sweep_end_name(s->ended));
	mp_bool(&m, "complete", s->complete);
	mp_u64(&m, "observations", s->observations);
	mp_emit_map(&m, mp_elem(&sc->arr));
	sc->n++;
	sc->last_id = s->id;
	return 0;
}

void m_sweeps_list(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	static const char *const keys[] = { "limit", "before", NULL };
	struct daemon *d = ctx;
	const msgpack_object *map;
	uint64_t limit = SWEEPS_DEFAULT_LIMIT, before = 0;
	bool found;

	(void)c;
	if (!params_of(params, "sweeps.list", keys, &map, r) || !rpc_get_u64(map, "limit", false, &limit, &found, r) ||
	    !rpc_get_u64(map, "before", false, &before, &found, r))
		return;
	if (limit == 0 || limit > SWEEPS_MAX_LIMIT) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "bad limit %llu: expected 1-%u (page with before)",
				(unsigned long long)limit, SWEEPS_MAX_LIMIT);
		return;
	}
	if (found && before == 0) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "bad before 0: expected a sweep id (the next of the previous page)");
		return;
	}
	/* The store walks from the newest; the ids at or above `before` are passed over (a page
	 * deep in a long history costs a walk over the newer records, which are small). */
	struct sweeps_ctx sc = { .before = before, .limit = (uint32_t)limit };
	mp_init(&sc.arr);
	int rc = store_sweeps_list(d->st, 0, pack_sweep_cb, &sc);
	if (rc) {
		mp_free(&sc.arr);
		rpc_reply_error(r, RPC_E_INTERNAL, "listing sweeps: %s", lnmt_strerror(rc));
		return;
	}
	struct mp m;
	mp_init(&m);
	mp_emit_array(&sc.arr, mp_key(&m, "sweeps"));
	if (sc.more)
		mp_u64(&m, "next", sc.last_id);
	else
		mp_nil(&m, "next");
	mp_emit_map(&m, r->pk);
}

/* ---- report.uptime, report.network ---- */

static int pack_uptime_cb(void *ctx, const struct store_uptime *u)
{
	char ip[16];
	struct mp m;

	mp_init(&m);
	mp_str(&m, "ip", ipv4_format(u->ip, ip));
	mp_str(&m, "state", u->state == STORE_STATE_UP ? "up" : "down");
	mp_double(&m, "uptime_pct", u->uptime_pct);
	mp_u64(&m, "probes", u->probes);
	mp_u64(&m, "answers", u->answers);
	mp_u64(&m, "changes", u->changes);
	mp_emit_map(&m, mp_elem(ctx));
	return 0;
}

void m_report_uptime(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	static const char *const keys[] = { "since_s", "subnet", NULL };
	struct daemon *d = ctx;
	const msgpack_object *map;
	uint32_t net, mask;
	uint64_t since;

	(void)c;
	if (!params_of(params, "report.uptime", keys, &map, r) || !read_subnet(map, &net, &mask, r) ||
	    !read_since(map, DEFAULT_SINCE_S, &since, r))
		return;
	struct mp arr;
	mp_init(&arr);
	int rc = store_report_uptime(d->st, since, net, mask, pack_uptime_cb, &arr);
	if (rc) {
		mp_free(&arr);
		rpc_reply_error(r, RPC_E_INTERNAL, "report uptime: %s", lnmt_strerror(rc));
		return;
	}
	struct mp m;
	mp_init(&m);
	mp_time(&m, "since", since);
	mp_emit_array(&arr, mp_key(&m, "devices"));
	mp_emit_map(&m, r->pk);
}

/* report.network's lists: subnets, the first VENDORS_LISTED vendors, and the rest summed. */
struct net_ctx {
	struct mp subnets, vendors;
	uint64_t n_vendors;
	struct store_vendor_count other;
};

static int pack_subnet_cb(void *ctx, const struct store_subnet_summary *s)
{
	char net[24];
	struct mp m;

	ipv4_format(s->net, net);
	strcat(net, "/24");
	mp_init(&m);
	mp_str(&m, "subnet", net);
	mp_u64(&m, "up", s->up);
	mp_u64(&m, "down", s->down);
	mp_emit_map(&m, mp_elem(&((struct net_ctx *)ctx)->subnets));
	return 0;
}

static void pack_vendor(struct mp *arr, const struct store_vendor_count *v)
{
	struct mp m;

	mp_init(&m);
	mp_str(&m, "vendor", v->vendor);
	mp_u64(&m, "up", v->up);
	mp_u64(&m, "down", v->down);
	mp_emit_map(&m, mp_elem(arr));
}

static int pack_vendor_cb(void *ctx, const struct store_vendor_count *v)
{
	struct net_ctx *nc = ctx;

	if (nc->n_vendors++ < VENDORS_LISTED) {
		pack_vendor(&nc->vendors, v);
	} else {
		nc->other.up += v->up;
		nc->other.down += v->down;
	}
	return 0;
}

void m_report_network(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	static const char *const keys[] = { "since_s", "subnet", NULL };
	struct daemon *d = ctx;
	const msgpack_object *map;
	struct store_network_report rep;
	uint32_t net, mask;
	uint64_t since;

	(void)c;
	if (!params_of(params, "report.network", keys, &map, r) || !read_subnet(map, &net, &mask, r) ||
	    !read_since(map, DEFAULT_SINCE_S, &since, r))
		return;
	struct net_ctx nc = { .other = { "other", 0, 0 } };
	mp_init(&nc.subnets);
	mp_init(&nc.vendors);
	int rc = store_report_network_ex(d->st, since, net, mask, &rep, pack_subnet_cb, pack_vendor_cb, &nc);
	if (rc) {
		mp_free(&nc.subnets);
		mp_free(&nc.vendors);
		rpc_reply_error(r, RPC_E_INTERNAL, "report network: %s", lnmt_strerror(rc));
		return;
	}
	if (nc.n_vendors > VENDORS_LISTED)
		pack_vendor(&nc.vendors, &nc.other);
	struct mp m;
	mp_init(&m);
	mp_time(&m, "since", since);
	mp_u64(&m, "devices", rep.devices);
	mp_u64(&m, "up", rep.up);
	mp_u64(&m, "down", rep.down);
	mp_u64(&m, "new", rep.new_since);
	mp_u64(&m, "rtt_p50_us", rep.rtt_p50_us);
	mp_u64(&m, "rtt_p90_us", rep.rtt_p90_us);
	mp_u64(&m, "rtt_p99_us", rep.rtt_p99_us);
	mp_u64(&m, "sweeps", rep.sweeps_since);
	mp_double(&m, "mean_send_pps", rep.mean_send_pps);
	mp_emit_array(&nc.subnets, mp_key(&m, "subnets"));
	mp_emit_array(&nc.vendors, mp_key(&m, "vendors"));
	mp_u64(&m, "vendors_total", nc.n_vendors);
	mp_emit_map(&m, r->pk);
}

/* ---- report.series ---- */

struct series_pt {
	uint32_t net, hour;
	uint64_t probes, answers;
};

struct series_ctx {
	struct series_pt *v;
	size_t n, cap;
	bool nomem;
};

static int collect_point_cb(void *ctx, const struct store_series_point *p)
{
	struct series_ctx *sc = ctx;

	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? 2 * sc->cap : 256;
		struct series_pt *v = realloc(sc->v, cap * sizeof(*v));
		if (!v) {
			sc->nomem = true;
			return 1;
		}
		sc->v = v, sc->cap = cap;
	}
	sc->v[sc->n++] = (struct series_pt){ p->net, p->hour, p->probes, p->answers };
	return 0;
}

static int cmp_series_pt(const void *a, const void *b)
{
	const struct series_pt *x = a, *y = b;

	if (x->net != y->net)
		return x->net < y->net ? -1 : 1;
	return x->hour < y->hour ? -1 : x->hour > y->hour;
}

/* One {subnet, probes, answers, points} map for v[0..n) (one network, hour order). */
static void pack_series(struct mp *arr, const struct series_pt *v, size_t n, unsigned prefix)
{
	uint64_t probes = 0, answers = 0;
	char net[24];
	struct mp m;

	ipv4_format(v[0].net, net);
	snprintf(net + strlen(net), sizeof(net) - strlen(net), "/%u", prefix);
	mp_init(&m);
	mp_str(&m, "subnet", net);
	for (size_t i = 0; i < n; i++)
		probes += v[i].probes, answers += v[i].answers;
	mp_u64(&m, "probes", probes);
	mp_u64(&m, "answers", answers);
	msgpack_packer *pk = mp_key(&m, "points");
	msgpack_pack_array(pk, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		msgpack_pack_array(pk, 3);
		msgpack_pack_uint64(pk, (uint64_t)v[i].hour * 3600);
		msgpack_pack_uint64(pk, v[i].probes);
		msgpack_pack_uint64(pk, v[i].answers);
	}
	mp_emit_map(&m, mp_elem(arr));
}

void m_report_series(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	static const char *const keys[] = { "since_s", "subnet", "prefix", NULL };
	struct daemon *d = ctx;
	const msgpack_object *map;
	struct series_ctx sc = { 0 };
	uint64_t since_s = DEFAULT_SINCE_S, prefix = 24, now_s = cli_now_us() / 1000000;
	uint32_t net, mask, groups = 0;
	unsigned used;
	bool found;
	int rc;

	(void)c;
	if (!params_of(params, "report.series", keys, &map, r) || !read_subnet(map, &net, &mask, r) ||
	    !rpc_get_u64(map, "since_s", false, &since_s, &found, r) ||
	    !rpc_get_u64(map, "prefix", false, &prefix, &found, r))
		return;
	if (since_s == 0 || since_s > SERIES_MAX_SINCE_S) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "bad since_s %llu: expected 1-%llu (90 days)",
				(unsigned long long)since_s, SERIES_MAX_SINCE_S);
		return;
	}
	if (prefix > 24) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "bad prefix %llu: expected 0-24 (the counts are kept per /24)",
				(unsigned long long)prefix);
		return;
	}
	if (mask > 0xffffff00u) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "bad subnet: series are kept per /24, give a /24 or a "
			       "larger block such as 198.18.0.0/16");
		return;
	}
	/* From the start of the hour that holds now - since_s: whole hours only. */
	uint64_t since_us = (now_s > since_s ? now_s - since_s : 0) / 3600 * 3600 * 1000000;
	rc = store_series_prefix(d->st, since_us, net, mask, (unsigned)prefix, SERIES_MAX, &used, &groups);
	if (!rc)
		rc = store_uptime_series(d->st, since_us, net, mask, used, collect_point_cb, &sc);
	if (!rc && sc.nomem)
		rc = -ENOMEM;
	if (rc) {
		free(sc.v);
		rpc_reply_error(r, RPC_E_INTERNAL, "report series: %s", lnmt_strerror(rc));
		return;
	}
	qsort(sc.v, sc.n, sizeof(*sc.v), cmp_series_pt);
	struct mp m, arr;
	mp_init(&m);
	mp_init(&arr);
	for (size_t i = 0, j; i < sc.n; i = j) {
		for (j = i + 1; j < sc.n && sc.v[j].net == sc.v[i].net; j++)
			;
		pack_series(&arr, sc.v + i, j - i, used);
	}
	free(sc.v);
	mp_time(&m, "since", since_us);
	mp_u64(&m, "first_hour", since_us / 1000000);
	mp_u64(&m, "step_s", 3600);
	mp_u64(&m, "prefix", used);
	mp_u64(&m, "prefix_asked", prefix);
	mp_bool(&m, "store_has_series", store_has_series(d->st));
	mp_emit_array(&arr, mp_key(&m, "series"));
	mp_emit_map(&m, r->pk);
}

/* ---- events.subscribe ---- */

void m_events_subscribe(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	static const char *const keys[] = { "topics", NULL };
	static const char *const known[] = { "scan", "device", "job" };
	const msgpack_object *map;
	char topics[8][64];
	size_t n = 0;

	(void)ctx;
	if (!params_of(params, "events.subscribe", keys, &map, r) ||
	    !rpc_get_str_array(map, "topics", topics, 8, &n, r))
		return;
	if (n == 0) {
		rpc_reply_error(r, RPC_E_MISSING_PARAM, "missing topics: events.subscribe takes {topics: [\"scan\", "
			       "\"device\", \"job\"]}");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		bool ok = false;
		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			ok |= !strcmp(topics[i], known[k]);
		if (!ok) {
			rpc_reply_error(r, RPC_E_BAD_PARAMS, "unknown topic '%s': expected scan, device or job", topics[i]);
			return;
		}
	}
	for (size_t i = 0; i < n; i++) {
		int rc = rpc_conn_subscribe(c, topics[i]);
		if (rc) {
			rpc_reply_error(r, RPC_E_INTERNAL, "subscribing to %s: %s", topics[i], lnmt_strerror(rc));
			return;
		}
	}
	struct mp m, arr;
	mp_init(&m);
	mp_init(&arr);
	for (size_t i = 0; i < n; i++)
		rpc_pack_str(mp_elem(&arr), topics[i]);
	mp_emit_array(&arr, mp_key(&m, "topics"));
	mp_emit_map(&m, r->pk);
}
