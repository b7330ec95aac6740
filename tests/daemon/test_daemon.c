/* SPDX-License-Identifier: MIT */
/*
 * test_daemon.c: lnmtd against the lab: it runs inside the lab's scanner namespace, every sweep
 * targets 198.18.0.0/15, and the tests talk to it through the api client (rpc.h) as any client
 * would: status, a sweep awaited through its notifications, the devices it stored, params errors,
 * jobs (runs, skips, history, surviving a restart), SIGTERM during a sweep, and a Python client.
 *
 * Environment (tests/meson.build): LNMTD_BIN, LNMT_BIN, LNMT_LAB_SCRIPT, LNMT_RPC_PY; LNMT_LAB
 * (the lab's name, default lnmt) passes through. Nothing here sleeps to wait for the daemon: it
 * blocks on the daemon's stderr (until "listening"), on rpc_recv() for notifications, and on a
 * pidfd for its exit, each with a deadline.
 */
#include "rpc.h"

#include <criterion/criterion.h>

#include "../lab_proc.h"
#include <criterion/logging.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define NOTE_MS 30000

/* ---- running programs (tests/lab_proc.h) ---- */

/* Runs argv to its end, stdout and stderr together in o->out. What o held is freed first (start
 * from { 0 }); free the last with lab_run_free(). */
/* Runs argv to its end; as root in a network namespace of its own with nothing in it, so that a
 * daemon started here to see an error could not send a packet anywhere even if it tried. */
static void run_capture(char *const argv[], struct lab_run *o)
{
	lab_run_free(o);
	*o = lab_capture(argv, LAB_RUN_MERGE | LAB_RUN_EMPTY_NETNS);
}

static bool have_lab_tools(void)
{
	if (geteuid() != 0)
		return false;
	struct lab_run o = { 0 };
	char *argv[] = { "ip", "netns", "list", NULL };
	run_capture(argv, &o);
	int status = o.status;
	lab_run_free(&o);
	return status == 0;
}

/* Skips (never passes) where the lab cannot exist; brings it up at its defaults otherwise. */
static void need_lab(void)
{
	if (geteuid() != 0)
		cr_skip_test("lab tests need root (network namespaces, raw sockets); running as uid %u",
			     (unsigned)geteuid());
	if (!have_lab_tools())
		cr_skip_test("'ip netns' is unavailable");
	struct lab_run o = { 0 };
	char *argv[] = { (char *)need_env("LNMT_LAB_SCRIPT"), "up", NULL };
	run_capture(argv, &o);
	cr_assert_eq(o.status, 0, "tools/lab up failed (exit %d): %s", o.status, o.out);
	lab_run_free(&o);
}

/* ---- the daemon ---- */

struct lnmtd {
	struct lab_proc proc;
	char dir[64], sock[128], db[128];
};

static struct lnmtd D;       /* the daemon of the running test (tests run one at a time) */
static bool lab_changed;     /* a test reconfigured the lab: teardown puts the defaults back */
static char lab_route[32];   /* a route a test added in the scanner namespace: teardown deletes it */

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static void make_dirs(struct lnmtd *d)
{
	snprintf(d->dir, sizeof(d->dir), "/tmp/lnmtd-test-XXXXXX");
	cr_assert_not_null(mkdtemp(d->dir), "mkdtemp: %s", strerror(errno));
	snprintf(d->sock, sizeof(d->sock), "%s/lnmtd.sock", d->dir);
	snprintf(d->db, sizeof(d->db), "%s/db", d->dir);
}

/* Starts lnmtd in the scanner namespace with extra args (NULL-terminated) and returns once it
 * logs "listening"; asserts the whole log when it does not. */
static void start_lnmtd(struct lnmtd *d, const char *const *extra)
{
	lab_start_lnmtd(&d->proc, d->sock, d->db, extra);
}

static void setup(void)
{
	memset(&D, 0, sizeof(D));
	lab_proc_init(&D.proc);
	make_dirs(&D);
}

static void teardown(void)
{
	if (D.proc.pid) {
		int rc = lab_stop_server(&D.proc);
		if (rc != 0)
			cr_log_error("lnmtd exited %d at teardown; its log:\n%s", rc, D.proc.log);
	}
	lab_proc_close(&D.proc);
	if (D.dir[0])
		nftw(D.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	if (lab_changed) {
		struct lab_run o = { 0 };
		char *argv[] = { (char *)need_env("LNMT_LAB_SCRIPT"), "up", NULL };
		lab_changed = false;
		run_capture(argv, &o);
		if (o.status)
			cr_log_error("restoring the lab defaults failed (exit %d): %s", o.status, o.out);
		lab_run_free(&o);
	}
	if (lab_route[0]) {
		struct lab_run o = { 0 };
		char *argv[] = { "ip", "-n", (char *)scan_ns(), "route", "del", lab_route, NULL };
		run_capture(argv, &o);
		if (o.status)
			cr_log_error("removing the route to %s failed (exit %d): %s", lab_route, o.status, o.out);
		lab_run_free(&o);
		lab_route[0] = '\0';
	}
}

TestSuite(daemon, .init = setup, .fini = teardown, .timeout = 120);

/* ---- RPC ---- */

/* Params under construction: [ {...} ], packed by the test, copied raw into the request. */
struct params {
	msgpack_sbuffer sb;
	msgpack_packer pk;
};

static struct params *params_new(uint32_t n_keys)
{
	struct params *p = calloc(1, sizeof(*p));
	cr_assert_not_null(p);
	msgpack_sbuffer_init(&p->sb);
	msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
	msgpack_pack_array(&p->pk, 1);
	msgpack_pack_map(&p->pk, n_keys);
	return p;
}

static void p_str(struct params *p, const char *key, const char *v)
{
	rpc_pack_str(&p->pk, key);
	rpc_pack_str(&p->pk, v);
}

static void p_u64(struct params *p, const char *key, uint64_t v)
{
	rpc_pack_str(&p->pk, key);
	msgpack_pack_uint64(&p->pk, v);
}

static void p_bool(struct params *p, const char *key, bool v)
{
	rpc_pack_str(&p->pk, key);
	if (v)
		msgpack_pack_true(&p->pk);
	else
		msgpack_pack_false(&p->pk);
}

/* key: [strings...] (NULL-terminated). */
static void p_strs(struct params *p, const char *key, ...)
{
	const char *v[16];
	uint32_t n = 0;
	va_list ap;

	va_start(ap, key);
	for (const char *s; (s = va_arg(ap, const char *)) && n < 16;)
		v[n++] = s;
	va_end(ap);
	rpc_pack_str(&p->pk, key);
	msgpack_pack_array(&p->pk, n);
	for (uint32_t i = 0; i < n; i++)
		rpc_pack_str(&p->pk, v[i]);
}

static void pack_raw(void *arg, msgpack_packer *pk)
{
	struct params *p = arg;
	pk->callback(pk->data, p->sb.data, p->sb.size);
}

struct result {
	int code;             /* 0, an RPC error code, or a negative errno */
	char err[256];
	msgpack_zone *zone;
	msgpack_object o;
};

static void result_free(struct result *r)
{
	if (r->zone)
		msgpack_zone_free(r->zone);
	r->zone = NULL;
}

/* Calls method with p (freed; NULL: []). */
static struct result call(struct rpc_client *c, const char *method, struct params *p)
{
	struct result r = { 0 };

	r.code = rpc_call(c, method, p ? pack_raw : NULL, p, &r.zone, &r.o, r.err, sizeof(r.err));
	if (p) {
		msgpack_sbuffer_destroy(&p->sb);
		free(p);
	}
	return r;
}

/* A call that must succeed. */
static struct result call_ok(struct rpc_client *c, const char *method, struct params *p)
{
	struct result r = call(c, method, p);
	cr_assert_eq(r.code, 0, "%s failed: %d %s", method, r.code, r.err);
	return r;
}

static const msgpack_object *get(const msgpack_object *map, const char *key)
{
	if (!map || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];
		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
		    !memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size))
			return &kv->val;
	}
	return NULL;
}

static uint64_t get_u64(const msgpack_object *map, const char *key)
{
	const msgpack_object *v = get(map, key);
	cr_assert(v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER, "'%s' is missing or not an unsigned integer", key);
	return v->via.u64;
}

/* The string under key into buf ("" when missing or not a string). */
static const char *get_str(const msgpack_object *map, const char *key, char *buf, size_t len)
{
	const msgpack_object *v = get(map, key);
	buf[0] = '\0';
	if (v && v->type == MSGPACK_OBJECT_STR)
		snprintf(buf, len, "%.*s", (int)v->via.str.size, v->via.str.ptr);
	return buf;
}

static struct rpc_client *connect_to(struct lnmtd *d)
{
	struct rpc_client *c = NULL;
	int rc = rpc_client_connect(&c, d->sock);
	cr_assert_eq(rc, 0, "connecting to %s: %s", d->sock, strerror(-rc));
	rpc_client_set_timeout(c, NOTE_MS);
	return c;
}

/* Notifications seen while waiting, by kind. */
struct seen {
	unsigned progress, done, dev_new, dev_up, dev_down, dev_many, job_started, job_skipped, other;
};

static void count(struct seen *s, const char *m)
{
	if (!strcmp(m, "scan.progress"))
		s->progress++;
	else if (!strcmp(m, "scan.done"))
		s->done++;
	else if (!strcmp(m, "device.new"))
		s->dev_new++;
	else if (!strcmp(m, "device.up"))
		s->dev_up++;
	else if (!strcmp(m, "device.down"))
		s->dev_down++;
	else if (!strcmp(m, "job.started"))
		s->job_started++;
	else if (!strcmp(m, "job.skipped"))
		s->job_skipped++;
	else if (!strcmp(m, "device.many"))
		s->dev_many++;
	else
		s->other++;
}

/*
 * Receives until a `method` notification whose params map has key == value (key NULL: any);
 * counts every notification on the way into *s. Returns the params map in *out (free out->zone).
 */
static void wait_note(struct rpc_client *c, const char *method, const char *key, uint64_t value, struct seen *s,
		      struct result *out)
{
	uint64_t deadline = now_ms() + NOTE_MS;

	for (;;) {
		struct result r = { 0 };
		char name[64];
		int type;
		r.code = rpc_recv(c, left_ms(deadline), &type, NULL, name, sizeof(name), &r.zone, &r.o, NULL, r.err,
				  sizeof(r.err));
		cr_assert_eq(r.code, 0, "waiting %d ms for %s: %s; lnmtd's log:\n%s", NOTE_MS, method, strerror(-r.code),
			     (lab_proc_drain(&D.proc), D.proc.log));
		if (type != 2) {
			result_free(&r);
			continue;
		}
		count(s, name);
		/* Notification params are [ {...} ]. */
		cr_assert(r.o.type == MSGPACK_OBJECT_ARRAY && r.o.via.array.size == 1 &&
			  r.o.via.array.ptr[0].type == MSGPACK_OBJECT_MAP, "%s: params are not [map]", name);
		const msgpack_object *m = &r.o.via.array.ptr[0];
		if (!strcmp(name, method) && (!key || (get(m, key) && get(m, key)->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
						       get(m, key)->via.u64 == value))) {
			out->zone = r.zone;
			out->o = *m;
			out->code = 0;
			return;
		}
		result_free(&r);
	}
}

static void subscribe(struct rpc_client *c, const char *t1, const char *t2)
{
	struct params *p = params_new(1);
	p_strs(p, "topics", t1, t2, NULL);
	struct result r = call_ok(c, "events.subscribe", p);
	result_free(&r);
}

static uint64_t scan_start(struct rpc_client *c, struct params *p)
{
	struct result r = call_ok(c, "scan.start", p);
	uint64_t id = get_u64(&r.o, "id");
	result_free(&r);
	return id;
}

/* Addresses alive in the lab inside cidr (tools/lab truth). */
static unsigned lab_truth_count(const char *cidr)
{
	struct lab_run o = { 0 };
	char *argv[] = { (char *)need_env("LNMT_LAB_SCRIPT"), "truth", (char *)cidr, NULL };
	run_capture(argv, &o);
	cr_assert_eq(o.status, 0, "tools/lab truth failed: %s", o.out);
	unsigned n = 0;
	for (size_t i = 0; i < o.out_len; i++)
		n += o.out[i] == '\n';
	lab_run_free(&o);
	return n;
}

static void lab_config(const char *alive)
{
	struct lab_run o = { 0 };
	char *argv[] = { (char *)need_env("LNMT_LAB_SCRIPT"), "up", "--alive", (char *)alive, NULL };
	lab_changed = true;
	run_capture(argv, &o);
	cr_assert_eq(o.status, 0, "tools/lab up --alive %s failed: %s", alive, o.out);
	lab_run_free(&o);
}

/* ---- tests ---- */

Test(daemon, status_sweep_and_devices)
{
	need_lab();
	start_lnmtd(&D, NULL);
	struct rpc_client *c = connect_to(&D);
	char buf[128];

	struct result r = call_ok(c, "system.status", NULL);
	cr_assert_str_eq(get_str(&r.o, "version", buf, sizeof(buf)), LNMT_VERSION);
	cr_assert_eq(get_u64(&r.o, "sweeps_running"), 0);
	const msgpack_object *store = get(&r.o, "store");
	cr_assert_str_eq(get_str(store, "path", buf, sizeof(buf)), D.db);
	cr_assert_gt(get_u64(store, "size_bytes"), 0);
	cr_assert_geq(get_u64(get(&r.o, "counters"), "requests"), 1);
	result_free(&r);

	subscribe(c, "scan", "device");
	struct params *p = params_new(2);
	p_strs(p, "targets", "198.19.0.0/24", NULL);
	p_strs(p, "probes", "icmp", NULL);
	uint64_t id = scan_start(c, p);
	cr_assert_gt(id, 0);

	struct seen s = { 0 };
	struct result done;
	wait_note(c, "scan.done", "id", id, &s, &done);
	cr_assert_str_eq(get_str(&done.o, "state", buf, sizeof(buf)), "done");
	cr_assert_eq(get_u64(&done.o, "addresses"), 256);
	cr_assert_eq(get_u64(&done.o, "live"), 256);
	cr_assert_eq(get_u64(&done.o, "new"), 256);
	result_free(&done);
	/* Device notifications go out before scan.done: one device.new per address. */
	cr_assert_eq(s.dev_new, 256, "device.new notifications: %u", s.dev_new);
	cr_assert_eq(s.dev_up + s.dev_down, 0);
	cr_assert_geq(s.progress, 1, "no scan.progress before scan.done");

	p = params_new(2);
	p_str(p, "subnet", "198.19.0.0/24");
	p_u64(p, "limit", 1000);
	r = call_ok(c, "devices.list", p);
	const msgpack_object *devs = get(&r.o, "devices");
	cr_assert(devs && devs->type == MSGPACK_OBJECT_ARRAY);
	cr_assert_eq(devs->via.array.size, 256, "devices.list: %u devices", devs->via.array.size);
	for (uint32_t i = 0; i < devs->via.array.size; i++) {
		char want[24];
		snprintf(want, sizeof(want), "198.19.0.%u", i);
		cr_assert_str_eq(get_str(&devs->via.array.ptr[i], "ip", buf, sizeof(buf)), want);
		cr_assert_str_eq(get_str(&devs->via.array.ptr[i], "state", buf, sizeof(buf)), "up");
		cr_assert_str_eq(get_str(&devs->via.array.ptr[i], "probes", buf, sizeof(buf)), "icmp");
	}
	cr_assert_eq(get(&r.o, "next")->type, MSGPACK_OBJECT_NIL);
	result_free(&r);

	/* Paging: 100 at a time, next is the cursor. */
	p = params_new(1);
	p_u64(p, "limit", 100);
	r = call_ok(c, "devices.list", p);
	cr_assert_str_eq(get_str(&r.o, "next", buf, sizeof(buf)), "198.19.0.99");
	result_free(&r);

	p = params_new(1);
	p_str(p, "ip", "198.19.0.7");
	r = call_ok(c, "devices.get", p);
	cr_assert_str_eq(get_str(&r.o, "ip", buf, sizeof(buf)), "198.19.0.7");
	const msgpack_object *obs = get(&r.o, "observations");
	cr_assert(obs && obs->type == MSGPACK_OBJECT_ARRAY && obs->via.array.size == 1);
	cr_assert_eq(get_u64(&obs->via.array.ptr[0], "sweep"), id);
	result_free(&r);

	p = params_new(1);
	p_str(p, "ip", "198.19.1.7");
	r = call(c, "devices.get", p);
	cr_assert_eq(r.code, RPC_E_NOT_FOUND, "devices.get of a device never seen: %d %s", r.code, r.err);

	p = params_new(1);
	p_u64(p, "id", id);
	r = call_ok(c, "scan.status", p);
	cr_assert_str_eq(get_str(&r.o, "state", buf, sizeof(buf)), "done");
	cr_assert_eq(get_u64(&r.o, "percent"), 100);
	result_free(&r);

	r = call_ok(c, "report.network", NULL);
	cr_assert_eq(get_u64(&r.o, "devices"), 256);
	const msgpack_object *vendors = get(&r.o, "vendors");
	cr_assert(vendors && vendors->type == MSGPACK_OBJECT_ARRAY && vendors->via.array.size == 1);
	cr_assert_str_eq(get_str(&vendors->via.array.ptr[0], "vendor", buf, sizeof(buf)), "");
	cr_assert_eq(get_u64(&vendors->via.array.ptr[0], "up"), 256);
	result_free(&r);
	/* The sweep's hour: one series, one point, every observation an answer. */
	r = call_ok(c, "report.series", NULL);
	cr_assert_eq(get_u64(&r.o, "prefix"), 24);
	const msgpack_object *series = get(&r.o, "series");
	cr_assert(series && series->type == MSGPACK_OBJECT_ARRAY && series->via.array.size == 1);
	cr_assert_str_eq(get_str(&series->via.array.ptr[0], "subnet", buf, sizeof(buf)), "198.19.0.0/24");
	cr_assert_eq(get_u64(&series->via.array.ptr[0], "probes"), 256);
	cr_assert_eq(get_u64(&series->via.array.ptr[0], "answers"), 256);
	const msgpack_object *points = get(&series->via.array.ptr[0], "points");
	cr_assert(points && points->type == MSGPACK_OBJECT_ARRAY && points->via.array.size == 1);
	result_free(&r);
	p = params_new(1);
	p_str(p, "subnet", "198.19.0.0/28");
	r = call_ok(c, "report.uptime", p);
	cr_assert_eq(get(&r.o, "devices")->via.array.size, 16);
	result_free(&r);

	r = call_ok(c, "scan.list", NULL);
	cr_assert_eq(get(&r.o, "sweeps")->via.array.size, 1);
	result_free(&r);

	r = call_ok(c, "system.status", NULL);
	cr_assert_eq(get_u64(&r.o, "sweeps_done"), 1);
	result_free(&r);
	rpc_client_close(c);
	cr_assert_eq(lab_stop_server(&D.proc), 0, "lnmtd's exit at SIGTERM; log:\n%s", D.proc.log);
}

/* Calls scan.start (or method) with p and expects error code with msg in its message. */
static void expect_error(struct rpc_client *c, const char *method, struct params *p, int code, const char *msg)
{
	struct result r = call(c, method, p);
	cr_assert_eq(r.code, code, "%s: expected error %d ('%s'), got %d '%s'", method, code, msg, r.code, r.err);
	cr_assert(strstr(r.err, msg), "%s: expected '%s' in the message, got '%s'", method, msg, r.err);
	result_free(&r);
}

Test(daemon, bad_params)
{
	need_lab();
	start_lnmtd(&D, NULL);
	struct rpc_client *c = connect_to(&D);

	struct params *p = params_new(0);
	expect_error(c, "scan.start", p, RPC_E_MISSING_PARAM, "missing targets");
	p = params_new(1);
	p_strs(p, "targets", "198.18.0.300", NULL);
	expect_error(c, "scan.start", p, RPC_E_BAD_PARAMS, "bad target '198.18.0.300': octet out of range");
	p = params_new(2);
	p_strs(p, "targets", "198.19.0.0/24", NULL);
	p_strs(p, "probes", "ping", NULL);
	expect_error(c, "scan.start", p, RPC_E_BAD_PARAMS, "bad probe 'ping'");
	p = params_new(1);
	p_str(p, "targets", "198.19.0.0/24"); /* a string, not an array */
	expect_error(c, "scan.start", p, RPC_E_BAD_PARAMS, "targets");
	p = params_new(2);
	p_strs(p, "targets", "198.19.0.0/24", NULL);
	p_str(p, "rate", "fast");
	expect_error(c, "scan.start", p, RPC_E_BAD_PARAMS, "rate");
	p = params_new(2);
	p_strs(p, "targets", "198.19.0.0/24", NULL);
	p_str(p, "ports", "99999");
	expect_error(c, "scan.start", p, RPC_E_BAD_PARAMS, "99999");
	p = params_new(1);
	p_strs(p, "target", "198.19.0.0/24", NULL);
	expect_error(c, "scan.start", p, RPC_E_BAD_PARAMS, "unknown param 'target'");
	p = params_new(1);
	p_strs(p, "targets", "@/etc/passwd", NULL);
	expect_error(c, "scan.start", p, RPC_E_BAD_PARAMS, "files are not read");
	p = params_new(2);
	p_strs(p, "targets", "198.19.0.0/24", NULL);
	p_str(p, "interface", "nosuch0");
	expect_error(c, "scan.start", p, RPC_E_BAD_PARAMS, "nosuch0");
	expect_error(c, "no.such.method", NULL, RPC_E_NO_METHOD, "no.such.method");
	expect_error(c, "devices.get", params_new(0), RPC_E_MISSING_PARAM, "ip");
	p = params_new(1);
	p_str(p, "ip", "198.19.0.256");
	expect_error(c, "devices.get", p, RPC_E_BAD_PARAMS, "198.19.0.256");
	p = params_new(1);
	p_u64(p, "id", 999);
	expect_error(c, "scan.status", p, RPC_E_NOT_FOUND, "999");
	p = params_new(1);
	p_u64(p, "id", 999);
	expect_error(c, "scan.cancel", p, RPC_E_NOT_FOUND, "999");
	p = params_new(1);
	p_u64(p, "id", 999);
	expect_error(c, "jobs.remove", p, RPC_E_NOT_FOUND, "999");
	p = params_new(1);
	p_strs(p, "targets", "198.19.0.0/28", NULL);
	expect_error(c, "jobs.add", p, RPC_E_MISSING_PARAM, "every_s");
	p = params_new(2);
	p_strs(p, "targets", "198.19.0.0/28", NULL);
	p_str(p, "cron", "*/5 * * *");
	expect_error(c, "jobs.add", p, RPC_E_BAD_PARAMS, "5 fields");
	p = params_new(1);
	p_strs(p, "topics", "weather", NULL);
	expect_error(c, "events.subscribe", p, RPC_E_BAD_PARAMS, "weather");
	p = params_new(1);
	p_u64(p, "prefix", 25);
	expect_error(c, "report.series", p, RPC_E_BAD_PARAMS, "bad prefix 25");
	p = params_new(1);
	p_str(p, "subnet", "198.18.0.0/25");
	expect_error(c, "report.series", p, RPC_E_BAD_PARAMS, "kept per /24");

	/* The server answered everything and is still well. */
	struct result r = call_ok(c, "system.status", NULL);
	cr_assert_geq(get_u64(get(&r.o, "counters"), "errors"), 18);
	result_free(&r);
	rpc_client_close(c);
	cr_assert_eq(lab_stop_server(&D.proc), 0);
}

/* Target sets of more than 2^24 addresses, or all of 0.0.0.0/0, need allow_large; excludes count
 * first; empty list items are refused. Nothing large is ever swept: the one accepted large
 * request fails later on purpose (a bad source_ip), and the large job is due on a 29 February. */
Test(daemon, large_targets_need_allow_large)
{
	need_lab();
	start_lnmtd(&D, NULL);
	struct rpc_client *c = connect_to(&D);

	struct params *p = params_new(1);
	p_strs(p, "targets", "0.0.0.0/0", NULL);
	expect_error(c, "scan.start", p, RPC_E_BAD_PARAMS,
		     "3741319168 addresses to sweep (all of 0.0.0.0/0's public space), more than 16777216: pass "
		     "allow_large: true if that is meant");
	p = params_new(1);
	p_strs(p, "targets", "198.0.0.0/7", NULL);
	expect_error(c, "scan.start", p, RPC_E_BAD_PARAMS, "33554432 addresses to sweep, more than 16777216");
	p = params_new(2);
	p_strs(p, "targets", "0.0.0.0/0", NULL);
	p_strs(p, "exclude", "1.0.0.0-198.17.255.255", "198.18.1.0-223.255.255.255", NULL);
	expect_error(c, "scan.start", p, RPC_E_BAD_PARAMS, "all of 0.0.0.0/0's public space (256 addresses after exclusions)");
	/* allow_large passes the size check: the next check (source_ip) is the one that refuses. */
	p = params_new(3);
	p_strs(p, "targets", "0.0.0.0/0", NULL);
	p_bool(p, "allow_large", true);
	p_str(p, "source_ip", "not-an-address");
	expect_error(c, "scan.start", p, RPC_E_BAD_PARAMS, "bad \"source_ip\" 'not-an-address'");
	p = params_new(2);
	p_strs(p, "targets", "198.19.0.0/28", NULL);
	p_str(p, "ports", "80,,443");
	expect_error(c, "scan.start", p, RPC_E_BAD_PARAMS, "bad port list '80,,443': empty item");

	/* A /7 less all but 16 on-link addresses is 16 addresses: swept without allow_large. */
	subscribe(c, "scan", NULL);
	p = params_new(3);
	p_strs(p, "targets", "198.0.0.0/7", NULL);
	p_strs(p, "exclude", "198.0.0.0-198.18.127.255", "198.18.128.16-199.255.255.255", NULL);
	p_strs(p, "probes", "arp", NULL);
	struct seen seen = { 0 };
	struct result done;
	wait_note(c, "scan.done", "id", scan_start(c, p), &seen, &done);
	cr_assert_eq(get_u64(&done.o, "addresses"), 16);
	cr_assert_eq(get_u64(&done.o, "live"), 16);
	result_free(&done);

	/* jobs.add: checked when added, with the same flag. */
	p = params_new(2);
	p_strs(p, "targets", "0.0.0.0/0", NULL);
	p_str(p, "cron", "0 0 29 2 *");
	expect_error(c, "jobs.add", p, RPC_E_BAD_PARAMS, "3741319168 addresses to sweep");
	p = params_new(3);
	p_strs(p, "targets", "198.19.0.0/28", NULL);
	p_str(p, "cron", "0 0 29 2 *");
	p_strs(p, "probes", "icmp", "", NULL);
	expect_error(c, "jobs.add", p, RPC_E_BAD_PARAMS, "bad probes");
	p = params_new(2);
	p_strs(p, "targets", "198.19.0.0/28", "", NULL);
	p_str(p, "cron", "0 0 29 2 *");
	expect_error(c, "jobs.add", p, RPC_E_BAD_PARAMS, "bad target ''");
	p = params_new(3);
	p_strs(p, "targets", "0.0.0.0/0", NULL);
	p_str(p, "cron", "0 0 29 2 *");
	p_bool(p, "allow_large", true);
	struct result r = call_ok(c, "jobs.add", p);
	uint64_t job = get_u64(&r.o, "id");
	result_free(&r);
	p = params_new(1);
	p_u64(p, "id", job);
	r = call_ok(c, "jobs.remove", p);
	result_free(&r);
	rpc_client_close(c);
	cr_assert_eq(lab_stop_server(&D.proc), 0, "log:\n%s", D.proc.log);
}

/* One devices.import entry {ip, name?, note?} (NULL: left out). */
static void p_entry(struct params *p, const char *ip, const char *name, const char *note)
{
	msgpack_pack_map(&p->pk, 1 + !!name + !!note);
	p_str(p, "ip", ip);
	if (name)
		p_str(p, "name", name);
	if (note)
		p_str(p, "note", note);
}

Test(daemon, annotate_and_import)
{
	need_lab();
	start_lnmtd(&D, NULL);
	struct rpc_client *c = connect_to(&D);
	char buf[300];

	subscribe(c, "scan", NULL);
	struct params *p = params_new(2);
	p_strs(p, "targets", "198.19.0.0/29", NULL);
	p_strs(p, "probes", "icmp", NULL);
	uint64_t id = scan_start(c, p);
	struct seen s = { 0 };
	struct result r;
	wait_note(c, "scan.done", "id", id, &s, &r);
	cr_assert_eq(get_u64(&r.o, "live"), 8);
	result_free(&r);

	/* A known device: the device map comes back with its annotation. */
	p = params_new(3);
	p_str(p, "ip", "198.19.0.3");
	p_str(p, "name", "printer");
	p_str(p, "note", "room 2.14");
	r = call_ok(c, "devices.annotate", p);
	cr_assert_str_eq(get_str(&r.o, "state", buf, sizeof(buf)), "up");
	cr_assert_str_eq(get_str(&r.o, "name", buf, sizeof(buf)), "printer");
	cr_assert_str_eq(get_str(&r.o, "note", buf, sizeof(buf)), "room 2.14");
	cr_assert(get(&r.o, "seen") && get(&r.o, "seen")->via.boolean);
	result_free(&r);
	/* An address never seen keeps its name. */
	p = params_new(2);
	p_str(p, "ip", "198.19.1.9");
	p_str(p, "name", "future");
	r = call_ok(c, "devices.annotate", p);
	cr_assert_str_eq(get_str(&r.o, "name", buf, sizeof(buf)), "future");
	cr_assert_str_eq(get_str(&r.o, "note", buf, sizeof(buf)), "");
	cr_assert(get(&r.o, "seen") && !get(&r.o, "seen")->via.boolean);
	cr_assert_null(get(&r.o, "state"));
	result_free(&r);

	p = params_new(2);
	p_str(p, "ip", "198.19.0.3");
	p_str(p, "name", "0123456789012345678901234567890123456789012345678901234567890123456789");
	expect_error(c, "devices.annotate", p, RPC_E_BAD_PARAMS, "name is 70 bytes long, the most is 64");
	p = params_new(1);
	p_str(p, "ip", "198.19.0.3");
	expect_error(c, "devices.annotate", p, RPC_E_MISSING_PARAM, "name and note");

	/* A bad entry: nothing written. */
	p = params_new(1);
	rpc_pack_str(&p->pk, "devices");
	msgpack_pack_array(&p->pk, 2);
	p_entry(p, "198.19.0.1", "router", NULL);
	p_entry(p, "198.19.0.2", NULL, "tab\there");
	expect_error(c, "devices.import", p, RPC_E_BAD_PARAMS, "devices[1] (198.19.0.2): note holds a control character");
	p = params_new(1);
	rpc_pack_str(&p->pk, "devices");
	msgpack_pack_array(&p->pk, 2);
	p_entry(p, "198.19.0.1", "router", NULL);
	p_entry(p, "198.19.0.1", "again", NULL);
	expect_error(c, "devices.import", p, RPC_E_BAD_PARAMS, "devices[0] and devices[1] are both 198.19.0.1");
	p = params_new(1);
	p_str(p, "text", "router");
	r = call_ok(c, "devices.list", p);
	cr_assert_eq(get(&r.o, "devices")->via.array.size, 0, "a refused import wrote something");
	result_free(&r);

	p = params_new(1);
	rpc_pack_str(&p->pk, "devices");
	msgpack_pack_array(&p->pk, 3);
	p_entry(p, "198.19.0.1", "router", "core");
	p_entry(p, "198.19.0.2", NULL, "uplink");
	p_entry(p, "198.19.1.10", "nas", NULL);
	r = call_ok(c, "devices.import", p);
	cr_assert_eq(get_u64(&r.o, "imported"), 3);
	cr_assert_eq(get_u64(&r.o, "known"), 2);
	cr_assert_eq(get_u64(&r.o, "unknown"), 1);
	result_free(&r);

	/* Every device map has both fields, "" when none. */
	p = params_new(1);
	p_str(p, "subnet", "198.19.0.0/29");
	r = call_ok(c, "devices.list", p);
	const msgpack_object *devs = get(&r.o, "devices");
	cr_assert_eq(devs->via.array.size, 8);
	cr_assert_str_eq(get_str(&devs->via.array.ptr[0], "name", buf, sizeof(buf)), "");
	cr_assert_str_eq(get_str(&devs->via.array.ptr[1], "name", buf, sizeof(buf)), "router");
	cr_assert_str_eq(get_str(&devs->via.array.ptr[2], "note", buf, sizeof(buf)), "uplink");
	cr_assert_str_eq(get_str(&devs->via.array.ptr[3], "name", buf, sizeof(buf)), "printer");
	result_free(&r);
	p = params_new(1);
	p_str(p, "ip", "198.19.0.1");
	r = call_ok(c, "devices.get", p);
	cr_assert_str_eq(get_str(&r.o, "note", buf, sizeof(buf)), "core");
	result_free(&r);

	/* devices.get {unseen: true}: an address named ahead of the sweeps answers with its name
	 * and note, as devices.annotate does; without unseen, or unnamed, it is NOT_FOUND. */
	p = params_new(2);
	p_str(p, "ip", "198.19.1.10");
	p_bool(p, "unseen", true);
	r = call_ok(c, "devices.get", p);
	cr_assert_str_eq(get_str(&r.o, "ip", buf, sizeof(buf)), "198.19.1.10");
	cr_assert_str_eq(get_str(&r.o, "name", buf, sizeof(buf)), "nas");
	cr_assert_str_eq(get_str(&r.o, "note", buf, sizeof(buf)), "");
	cr_assert(get(&r.o, "seen") && get(&r.o, "seen")->type == MSGPACK_OBJECT_BOOLEAN && !get(&r.o, "seen")->via.boolean);
	cr_assert_null(get(&r.o, "state"));
	cr_assert_null(get(&r.o, "observations"));
	result_free(&r);
	p = params_new(1);
	p_str(p, "ip", "198.19.1.10");
	expect_error(c, "devices.get", p, RPC_E_NOT_FOUND, "never seen");
	p = params_new(2);
	p_str(p, "ip", "198.19.1.11");
	p_bool(p, "unseen", true);
	expect_error(c, "devices.get", p, RPC_E_NOT_FOUND, "198.19.1.11: never seen (no sweep has found it) and not named");
	p = params_new(2);
	p_str(p, "ip", "198.19.0.1");
	p_bool(p, "unseen", true); /* a device a sweep found: unseen changes nothing */
	r = call_ok(c, "devices.get", p);
	cr_assert_str_eq(get_str(&r.o, "state", buf, sizeof(buf)), "up");
	cr_assert_null(get(&r.o, "seen"));
	cr_assert_eq(get(&r.o, "observations")->via.array.size, 1);
	result_free(&r);

	/* history: how many of each list (0: none); the totals stay. */
	p = params_new(2);
	p_str(p, "ip", "198.19.0.1");
	p_u64(p, "history", 0);
	r = call_ok(c, "devices.get", p);
	cr_assert_eq(get(&r.o, "changes")->via.array.size, 0);
	cr_assert_eq(get(&r.o, "observations")->via.array.size, 0);
	cr_assert_eq(get_u64(&r.o, "probes_total"), 1);
	cr_assert_eq(get_u64(&r.o, "changes_total"), 1);
	result_free(&r);
	p = params_new(2);
	p_str(p, "ip", "198.19.0.1");
	p_u64(p, "history", 1000);
	r = call_ok(c, "devices.get", p);
	cr_assert_eq(get(&r.o, "changes")->via.array.size, 1);
	const msgpack_object *obs = get(&r.o, "observations");
	cr_assert_eq(obs->via.array.size, 1);
	cr_assert_eq(get_u64(&obs->via.array.ptr[0], "sweep"), id);
	cr_assert_str_eq(get_str(&obs->via.array.ptr[0], "probes", buf, sizeof(buf)), "icmp");
	result_free(&r);
	p = params_new(2);
	p_str(p, "ip", "198.19.0.1");
	p_u64(p, "history", 1001);
	expect_error(c, "devices.get", p, RPC_E_BAD_PARAMS, "bad history 1001: expected 0-1000");
	p = params_new(2);
	p_str(p, "ip", "198.19.0.1");
	p_str(p, "unseen", "yes");
	expect_error(c, "devices.get", p, RPC_E_BAD_PARAMS, "unseen");

	/* sweeps.list: the store's record of the sweep, exact times included. */
	r = call_ok(c, "sweeps.list", NULL);
	const msgpack_object *sw = get(&r.o, "sweeps");
	cr_assert(sw && sw->type == MSGPACK_OBJECT_ARRAY && sw->via.array.size == 1);
	const msgpack_object *s0 = &sw->via.array.ptr[0];
	cr_assert_eq(get_u64(s0, "id"), id);
	cr_assert_str_eq(get_str(s0, "targets", buf, sizeof(buf)), "198.19.0.0/29");
	cr_assert_str_eq(get_str(s0, "probes", buf, sizeof(buf)), "icmp");
	cr_assert_str_eq(get_str(s0, "ended", buf, sizeof(buf)), "all-answered");
	cr_assert(get(s0, "complete") && get(s0, "complete")->via.boolean);
	cr_assert_eq(get_u64(s0, "live"), 8);
	cr_assert_eq(get_u64(s0, "new"), 8);
	cr_assert_gt(get_u64(s0, "start_us"), 0);
	cr_assert_geq(get_u64(s0, "end_us"), get_u64(s0, "start_us"));
	time_t start_s = (time_t)(get_u64(s0, "start_us") / 1000000);
	struct tm tm;
	char iso[32];
	cr_assert_not_null(gmtime_r(&start_s, &tm));
	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cr_assert_str_eq(get_str(s0, "start", buf, sizeof(buf)), iso, "start and start_us disagree");
	cr_assert_eq(get(&r.o, "next")->type, MSGPACK_OBJECT_NIL);
	result_free(&r);
	p = params_new(1);
	p_u64(p, "before", id);
	r = call_ok(c, "sweeps.list", p);
	cr_assert_eq(get(&r.o, "sweeps")->via.array.size, 0);
	cr_assert_eq(get(&r.o, "next")->type, MSGPACK_OBJECT_NIL);
	result_free(&r);
	p = params_new(1);
	p_u64(p, "limit", 10001);
	expect_error(c, "sweeps.list", p, RPC_E_BAD_PARAMS, "bad limit 10001: expected 1-10000");
	p = params_new(1);
	p_u64(p, "before", 0);
	expect_error(c, "sweeps.list", p, RPC_E_BAD_PARAMS, "bad before 0");
	p = params_new(1);
	p_u64(p, "after", 1);
	expect_error(c, "sweeps.list", p, RPC_E_BAD_PARAMS, "unknown param 'after'");
	rpc_client_close(c);
	cr_assert_eq(lab_stop_server(&D.proc), 0);
}

Test(daemon, device_transitions)
{
	need_lab();
	/* OFFLINE_AFTER=1 from a config file: a device is down after one missed sweep. */
	char cfg[160];
	snprintf(cfg, sizeof(cfg), "%s/lnmtd.conf", D.dir);
	FILE *f = fopen(cfg, "w");
	cr_assert_not_null(f);
	fprintf(f, "# test config\nOFFLINE_AFTER = 1\nPROGRESS_MS=200\n");
	fclose(f);
	const char *extra[] = { "--config", cfg, NULL };
	start_lnmtd(&D, extra);
	cr_assert(strstr(D.proc.log, "OFFLINE_AFTER=1"), "config not applied; log:\n%s", D.proc.log);
	struct rpc_client *c = connect_to(&D);
	subscribe(c, "scan", "device");
	struct seen s = { 0 };
	struct result done;

	struct params *p = params_new(2);
	p_strs(p, "targets", "198.19.0.0/24", NULL);
	p_strs(p, "probes", "icmp", NULL);
	wait_note(c, "scan.done", "id", scan_start(c, p), &s, &done);
	result_free(&done);
	cr_assert_eq(s.dev_new, 256);

	lab_config("50");
	unsigned alive = lab_truth_count("198.19.0.0/24");
	cr_assert(alive > 0 && alive < 256, "lab --alive 50 left %u of 256 alive", alive);
	s = (struct seen){ 0 };
	p = params_new(3);
	p_strs(p, "targets", "198.19.0.0/24", NULL);
	p_strs(p, "probes", "icmp", NULL);
	p_u64(p, "wait_ms", 300);
	uint64_t id = scan_start(c, p);
	wait_note(c, "scan.done", "id", id, &s, &done);
	cr_assert_eq(get_u64(&done.o, "went_down"), 256 - alive);
	result_free(&done);
	cr_assert_eq(s.dev_down, 256 - alive, "device.down: %u, lab says %u dead", s.dev_down, 256 - alive);
	cr_assert_eq(s.dev_new + s.dev_up, 0);

	lab_config("100");
	s = (struct seen){ 0 };
	p = params_new(2);
	p_strs(p, "targets", "198.19.0.0/24", NULL);
	p_strs(p, "probes", "icmp", NULL);
	wait_note(c, "scan.done", "id", scan_start(c, p), &s, &done);
	result_free(&done);
	cr_assert_eq(s.dev_up, 256 - alive, "device.up: %u, expected %u", s.dev_up, 256 - alive);
	cr_assert_eq(s.dev_new + s.dev_down, 0);

	/* sweeps.list pages newest first: next is the before of the next page. */
	p = params_new(1);
	p_u64(p, "limit", 2);
	struct result r = call_ok(c, "sweeps.list", p);
	const msgpack_object *sw = get(&r.o, "sweeps");
	cr_assert_eq(sw->via.array.size, 2);
	cr_assert_eq(get_u64(&sw->via.array.ptr[0], "went_up"), 256 - alive);
	cr_assert_eq(get_u64(&sw->via.array.ptr[1], "id"), id);
	cr_assert_eq(get_u64(&sw->via.array.ptr[1], "went_down"), 256 - alive);
	cr_assert_eq(get_u64(&r.o, "next"), id);
	result_free(&r);
	p = params_new(2);
	p_u64(p, "limit", 2);
	p_u64(p, "before", id);
	r = call_ok(c, "sweeps.list", p);
	sw = get(&r.o, "sweeps");
	cr_assert_eq(sw->via.array.size, 1);
	cr_assert_eq(get_u64(&sw->via.array.ptr[0], "new"), 256);
	cr_assert_lt(get_u64(&sw->via.array.ptr[0], "id"), id);
	cr_assert_eq(get(&r.o, "next")->type, MSGPACK_OBJECT_NIL);
	result_free(&r);
	rpc_client_close(c);
	cr_assert_eq(lab_stop_server(&D.proc), 0);
}

Test(daemon, device_many_for_a_large_first_sweep)
{
	need_lab();
	start_lnmtd(&D, NULL);
	struct rpc_client *c = connect_to(&D);
	subscribe(c, "scan", "device");
	struct params *p = params_new(2);
	p_strs(p, "targets", "198.19.0.0/16", NULL);
	p_strs(p, "probes", "icmp", NULL);
	uint64_t id = scan_start(c, p);
	struct seen s = { 0 };
	struct result many, done;
	/* 65536 new devices are past DAEMON_MAX_DEVICE_NOTES: one device.many, then scan.done. */
	wait_note(c, "device.many", "sweep", id, &s, &many);
	cr_assert_eq(get_u64(&many.o, "new"), 65536);
	cr_assert_eq(get_u64(&many.o, "up") + get_u64(&many.o, "down"), 0);
	result_free(&many);
	wait_note(c, "scan.done", "id", id, &s, &done);
	cr_assert_eq(get_u64(&done.o, "live"), 65536);
	result_free(&done);
	cr_assert_eq(s.dev_new + s.dev_up + s.dev_down, 0, "one by one notifications: %u", s.dev_new);
	rpc_client_close(c);
	cr_assert_eq(lab_stop_server(&D.proc), 0);
}

struct runs_seen {
	unsigned n, skipped;
	uint64_t found;
};

Test(daemon, jobs_run_skip_and_survive_restart)
{
	need_lab();
	start_lnmtd(&D, NULL);
	struct rpc_client *c = connect_to(&D);
	char buf[128];
	subscribe(c, "scan", "job");

	/* Every second on a /28: two runs, seen through their scan.done. */
	struct params *p = params_new(4);
	p_str(p, "name", "often");
	p_strs(p, "targets", "198.19.0.0/28", NULL);
	p_strs(p, "probes", "icmp", NULL);
	p_u64(p, "every_s", 1);
	struct result r = call_ok(c, "jobs.add", p);
	uint64_t job = get_u64(&r.o, "id");
	result_free(&r);
	struct seen s = { 0 };
	struct result done;
	for (int i = 0; i < 2; i++) {
		wait_note(c, "scan.done", "job", job, &s, &done);
		cr_assert_eq(get_u64(&done.o, "live"), 16);
		result_free(&done);
	}
	p = params_new(2);
	p_u64(p, "id", job);
	p_u64(p, "history", 100);
	r = call_ok(c, "jobs.list", p);
	const msgpack_object *jobs = get(&r.o, "jobs");
	cr_assert_eq(jobs->via.array.size, 1);
	const msgpack_object *j = &jobs->via.array.ptr[0];
	cr_assert_str_eq(get_str(j, "name", buf, sizeof(buf)), "often");
	cr_assert_geq(get_u64(j, "runs"), 2);
	cr_assert_geq(get(j, "history")->via.array.size, 2);
	cr_assert_eq(get_u64(get(j, "last_run"), "found"), 16);
	result_free(&r);
	p = params_new(1);
	p_u64(p, "id", job);
	r = call_ok(c, "jobs.remove", p);
	result_free(&r);
	r = call_ok(c, "jobs.list", NULL);
	cr_assert_eq(get(&r.o, "jobs")->via.array.size, 0);
	result_free(&r);

	/* A run that outlasts the interval: the next one is skipped, and the skip recorded. */
	p = params_new(4);
	p_strs(p, "targets", "198.19.0.0/22", NULL);
	p_strs(p, "probes", "icmp", NULL);
	p_u64(p, "rate", 300);
	p_u64(p, "every_s", 1);
	r = call_ok(c, "jobs.add", p);
	uint64_t slow = get_u64(&r.o, "id");
	result_free(&r);
	struct result skip;
	wait_note(c, "job.skipped", "job", slow, &s, &skip);
	uint64_t running_sweep = get_u64(&skip.o, "id");
	result_free(&skip);
	p = params_new(1);
	p_u64(p, "id", slow);
	r = call_ok(c, "jobs.list", p);
	j = &get(&r.o, "jobs")->via.array.ptr[0];
	cr_assert_geq(get_u64(j, "skipped"), 1);
	cr_assert_eq(get_u64(j, "running"), running_sweep);
	const msgpack_object *hist = get(j, "history");
	cr_assert_geq(hist->via.array.size, 1);
	cr_assert_eq(get(&hist->via.array.ptr[0], "skipped")->type, MSGPACK_OBJECT_BOOLEAN);
	cr_assert(get(&hist->via.array.ptr[0], "skipped")->via.boolean, "the newest history entry is the skip");
	result_free(&r);
	p = params_new(1);
	p_u64(p, "id", slow);
	r = call_ok(c, "jobs.remove", p);
	cr_assert_eq(get_u64(&r.o, "running"), running_sweep);
	result_free(&r);
	p = params_new(1);
	p_u64(p, "id", running_sweep);
	r = call_ok(c, "scan.cancel", p);
	result_free(&r);
	wait_note(c, "scan.done", "id", running_sweep, &s, &done);
	cr_assert_str_eq(get_str(&done.o, "state", buf, sizeof(buf)), "stopped");
	result_free(&done);

	/* A job kept across a restart, with its history. */
	p = params_new(4);
	p_str(p, "name", "hourly");
	p_strs(p, "targets", "198.19.0.0/28", NULL);
	p_strs(p, "probes", "icmp", NULL);
	p_u64(p, "every_s", 3600);
	r = call_ok(c, "jobs.add", p);
	uint64_t hourly = get_u64(&r.o, "id");
	result_free(&r);
	wait_note(c, "scan.done", "job", hourly, &s, &done); /* an interval job runs first at once */
	uint64_t sweep = get_u64(&done.o, "id");
	result_free(&done);
	rpc_client_close(c);
	/* Its run is recorded by the sweep thread after scan.done: SIGTERM waits for that thread. */
	cr_assert_eq(lab_stop_server(&D.proc), 0, "log:\n%s", D.proc.log);

	start_lnmtd(&D, NULL);
	c = connect_to(&D);
	r = call_ok(c, "jobs.list", NULL);
	jobs = get(&r.o, "jobs");
	cr_assert_eq(jobs->via.array.size, 1, "jobs after restart: %u", jobs->via.array.size);
	j = &jobs->via.array.ptr[0];
	cr_assert_eq(get_u64(j, "id"), hourly);
	cr_assert_str_eq(get_str(j, "name", buf, sizeof(buf)), "hourly");
	cr_assert_eq(get_u64(j, "runs"), 1);
	cr_assert_eq(get_u64(j, "every_s"), 3600);
	cr_assert_eq(get_u64(get(j, "last_run"), "sweep"), sweep);
	cr_assert_eq(get(j, "running")->type, MSGPACK_OBJECT_NIL, "not due again for an hour");
	result_free(&r);
	rpc_client_close(c);
	cr_assert_eq(lab_stop_server(&D.proc), 0);
}

Test(daemon, sigterm_stores_the_stopped_sweep)
{
	need_lab();
	start_lnmtd(&D, NULL);
	struct rpc_client *c = connect_to(&D);
	subscribe(c, "scan", NULL);

	/* A /16 at 2000 pps takes half a minute: SIGTERM arrives well inside it. */
	struct params *p = params_new(3);
	p_strs(p, "targets", "198.19.0.0/16", NULL);
	p_strs(p, "probes", "icmp", NULL);
	p_u64(p, "rate", 2000);
	uint64_t id = scan_start(c, p);
	struct seen s = { 0 };
	struct result prog;
	wait_note(c, "scan.progress", "id", id, &s, &prog);
	cr_assert_gt(get_u64(&prog.o, "sent"), 0);
	cr_assert_lt(get_u64(&prog.o, "percent"), 100);
	result_free(&prog);

	uint64_t t0 = now_ms();
	kill(D.proc.pid, SIGTERM);
	/* The client still hears the sweep end before the server closes. */
	struct result done;
	wait_note(c, "scan.done", "id", id, &s, &done);
	char buf[64];
	cr_assert_str_eq(get_str(&done.o, "state", buf, sizeof(buf)), "stopped");
	uint64_t live = get_u64(&done.o, "live");
	cr_assert_gt(live, 0);
	cr_assert_lt(live, 65536);
	result_free(&done);
	rpc_client_close(c);
	int rc = lab_proc_wait(&D.proc, LAB_STOP_MS);
	cr_assert_eq(rc, 0, "lnmtd exit after SIGTERM: %d; log:\n%s", rc, D.proc.log);
	cr_log_info("lnmtd stopped %llu ms after SIGTERM", (unsigned long long)(now_ms() - t0));
	cr_assert(strstr(D.proc.log, "SIGTERM"), "log:\n%s", D.proc.log);
	cr_assert(strstr(D.proc.log, "lnmtd: stopped"), "log:\n%s", D.proc.log);

	/* The store says what happened, to the CLI as to anyone. */
	struct lab_run o = { 0 };
	char *argv[] = { (char *)need_env("LNMT_BIN"), "sweeps", "--db", D.db, "-f", "jsonl", NULL };
	run_capture(argv, &o);
	cr_assert_eq(o.status, 0, "lnmt sweeps: %s", o.out);
	char want[64];
	snprintf(want, sizeof(want), "{\"id\":%llu,", (unsigned long long)id);
	cr_assert(!strncmp(o.out, want, strlen(want)), "lnmt sweeps: %s", o.out);
	cr_assert(strstr(o.out, "\"ended\":\"stopped\""), "lnmt sweeps: %s", o.out);
	cr_assert(strstr(o.out, "\"complete\":true"), "lnmt sweeps: %s", o.out);
	lab_run_free(&o);
}

Test(daemon, python_client)
{
	need_lab();
	if (access("/usr/bin/python3", X_OK))
		cr_skip_test("/usr/bin/python3 is not installed");
	start_lnmtd(&D, NULL);
	struct rpc_client *c = connect_to(&D);
	subscribe(c, "scan", NULL);
	struct params *p = params_new(2);
	p_strs(p, "targets", "198.19.0.0/28", NULL);
	p_strs(p, "probes", "icmp", NULL);
	struct seen s = { 0 };
	struct result done;
	wait_note(c, "scan.done", "id", scan_start(c, p), &s, &done);
	result_free(&done);
	rpc_client_close(c);

	struct lab_run o = { 0 };
	char *argv[] = { "/usr/bin/python3", (char *)need_env("LNMT_RPC_PY"), D.sock, NULL };
	run_capture(argv, &o);
	if (o.status == 77)
		cr_skip_test("%s", o.out);
	cr_assert_eq(o.status, 0, "test_rpc.py failed (exit %d):\n%s", o.status, o.out);
	cr_log_info("test_rpc.py:\n%s", o.out);
	lab_run_free(&o);
	cr_assert_eq(lab_stop_server(&D.proc), 0);
}

/* Waits until the daemon's log holds text. */
static void wait_log(struct lnmtd *d, const char *text)
{
	if (!lab_proc_read_until(&d->proc, text, LAB_START_MS))
		cr_assert_fail("lnmtd did not log '%s' within %d ms; its log:\n%s", text, LAB_START_MS, d->proc.log);
}

Test(daemon, sighup_reloads_and_busy)
{
	need_lab();
	char cfg[160];
	snprintf(cfg, sizeof(cfg), "%s/lnmtd.conf", D.dir);
	FILE *f = fopen(cfg, "w");
	cr_assert_not_null(f);
	fprintf(f, "MAX_SWEEPS=2\n");
	fclose(f);
	const char *extra[] = { "--config", cfg, NULL };
	start_lnmtd(&D, extra);
	struct rpc_client *c = connect_to(&D);
	subscribe(c, "scan", NULL);

	f = fopen(cfg, "w");
	fprintf(f, "# one at a time\nMAX_SWEEPS=1\nDEFAULT_RATE=1000\n");
	fclose(f);
	kill(D.proc.pid, SIGHUP);
	wait_log(&D, "SIGHUP: reloaded");
	cr_assert(strstr(D.proc.log, "MAX_SWEEPS=1"), "log:\n%s", D.proc.log);
	struct result r = call_ok(c, "system.status", NULL);
	cr_assert_eq(get_u64(&r.o, "max_sweeps"), 1);
	result_free(&r);

	/* DEFAULT_RATE=1000 applies: a /20 takes seconds, long enough for a second start to be refused. */
	struct params *p = params_new(2);
	p_strs(p, "targets", "198.19.0.0/20", NULL);
	p_strs(p, "probes", "icmp", NULL);
	uint64_t id = scan_start(c, p);
	p = params_new(2);
	p_strs(p, "targets", "198.19.16.0/28", NULL);
	p_strs(p, "probes", "icmp", NULL);
	expect_error(c, "scan.start", p, RPC_E_BUSY, "MAX_SWEEPS");
	p = params_new(1);
	p_u64(p, "id", id);
	r = call_ok(c, "scan.status", p);
	char buf[64];
	cr_assert_str_eq(get_str(&r.o, "state", buf, sizeof(buf)), "running");
	result_free(&r);
	r = call_ok(c, "scan.list", NULL);
	cr_assert_eq(get_u64(&r.o, "running"), 1);
	result_free(&r);

	/* OFFLINE_AFTER is a store option: applied by reopening the store once no sweep runs. */
	f = fopen(cfg, "w");
	fprintf(f, "MAX_SWEEPS=1\nDEFAULT_RATE=1000\nOFFLINE_AFTER=3\n");
	fclose(f);
	kill(D.proc.pid, SIGHUP);
	wait_log(&D, "OFFLINE_AFTER applies once the running sweeps end");

	/* A bad config on SIGHUP keeps the old one and says why. */
	f = fopen(cfg, "w");
	fprintf(f, "MAX_SWEEPS=lots\n");
	fclose(f);
	kill(D.proc.pid, SIGHUP);
	wait_log(&D, "config not reloaded");
	r = call_ok(c, "system.status", NULL);
	cr_assert_eq(get_u64(&r.o, "max_sweeps"), 1);
	result_free(&r);

	p = params_new(2);
	p_u64(p, "id", id);
	rpc_pack_str(&p->pk, "now");
	msgpack_pack_true(&p->pk);
	r = call_ok(c, "scan.cancel", p);
	result_free(&r);
	struct seen s = { 0 };
	struct result done;
	wait_note(c, "scan.done", "id", id, &s, &done);
	cr_assert_str_eq(get_str(&done.o, "state", buf, sizeof(buf)), "stopped");
	cr_assert_lt(get_u64(&done.o, "sent"), 4096);
	result_free(&done);
	wait_log(&D, "store reopened with OFFLINE_AFTER=3");
	/* The reopened store records and answers. */
	p = params_new(2);
	p_strs(p, "targets", "198.19.16.0/28", NULL);
	p_strs(p, "probes", "icmp", NULL);
	wait_note(c, "scan.done", "id", scan_start(c, p), &s, &done);
	cr_assert_eq(get_u64(&done.o, "live"), 16);
	result_free(&done);
	p = params_new(1);
	p_str(p, "subnet", "198.19.16.0/28");
	r = call_ok(c, "devices.list", p);
	cr_assert_eq(get(&r.o, "devices")->via.array.size, 16);
	result_free(&r);
	rpc_client_close(c);
	cr_assert_eq(lab_stop_server(&D.proc), 0);
}

/* ---- lnmtd --user and who may call it ---- */

/* A group and two users made for one test and removed after it (root only): `outsider` is in
 * no group of the daemon's, `member` is listed in `group`. */
static struct {
	char group[32], outsider[32], member[32];
	bool made_group, made_outsider, made_member;
} TW;

static int run_status(char *const argv[], char *out, size_t len)
{
	struct lab_run o = lab_capture(argv, LAB_RUN_MERGE);
	snprintf(out, len, "%s", o.out);
	int status = o.status;
	lab_run_free(&o);
	return status;
}

/* Removes the users and groups "lnmtt<PID>[gom]" of a run that died before its teardown (an
 * abort, a timeout's SIGKILL): those whose PID is gone. Users first: then no group has members. */
static void remove_stale_throwaways(void)
{
	char names[64][32], out[1024];
	size_t n = 0;
	int kind[64];

	setpwent();
	for (struct passwd *pw; n < 64 && (pw = getpwent());)
		if (!strncmp(pw->pw_name, "lnmtt", 5)) {
			snprintf(names[n], sizeof(names[n]), "%s", pw->pw_name);
			kind[n++] = 0;
		}
	endpwent();
	setgrent();
	for (struct group *gr; n < 64 && (gr = getgrent());)
		if (!strncmp(gr->gr_name, "lnmtt", 5)) {
			snprintf(names[n], sizeof(names[n]), "%s", gr->gr_name);
			kind[n++] = 1;
		}
	endgrent();
	for (size_t i = 0; i < n; i++) {
		unsigned pid;
		char tail[8];
		if (sscanf(names[i], "lnmtt%u%7s", &pid, tail) != 2 || strlen(tail) != 1 || !strchr(kind[i] ? "g" : "om", tail[0]))
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue; /* its run is still going */
		char *argv[] = { kind[i] ? "groupdel" : "userdel", names[i], NULL };
		cr_log_warn("removing %s %s, left by a run that died", kind[i] ? "group" : "user", names[i]);
		if (run_status(argv, out, sizeof(out)))
			cr_log_error("%s %s: %s", argv[0], names[i], out);
	}
}

static void make_throwaways(void)
{
	char out[1024];
	unsigned id = (unsigned)getpid();

	remove_stale_throwaways();

	snprintf(TW.group, sizeof(TW.group), "lnmtt%ug", id);
	snprintf(TW.outsider, sizeof(TW.outsider), "lnmtt%uo", id);
	snprintf(TW.member, sizeof(TW.member), "lnmtt%um", id);
	char *ga[] = { "groupadd", TW.group, NULL };
	cr_assert_eq(run_status(ga, out, sizeof(out)), 0, "groupadd %s: %s", TW.group, out);
	TW.made_group = true;
	char *ua[] = { "useradd", "-M", "-N", "-s", "/usr/sbin/nologin", TW.outsider, NULL };
	cr_assert_eq(run_status(ua, out, sizeof(out)), 0, "useradd %s: %s", TW.outsider, out);
	TW.made_outsider = true;
	char *ub[] = { "useradd", "-M", "-N", "-s", "/usr/sbin/nologin", "-G", TW.group, TW.member, NULL };
	cr_assert_eq(run_status(ub, out, sizeof(out)), 0, "useradd %s: %s", TW.member, out);
	TW.made_member = true;
}

static struct lab_proc HTTP_AS; /* lnmt-http run as one of them */

/* Before the suite's teardown: whatever runs as the users goes first, then they do. */
static void priv_teardown(void)
{
	char out[1024];

	if (HTTP_AS.pid)
		lab_stop_server(&HTTP_AS);
	if (TW.made_outsider) {
		char *a[] = { "userdel", TW.outsider, NULL };
		if (run_status(a, out, sizeof(out)))
			cr_log_error("userdel %s: %s", TW.outsider, out);
	}
	if (TW.made_member) {
		char *a[] = { "userdel", TW.member, NULL };
		if (run_status(a, out, sizeof(out)))
			cr_log_error("userdel %s: %s", TW.member, out);
	}
	if (TW.made_group) {
		char *a[] = { "groupdel", TW.group, NULL };
		if (run_status(a, out, sizeof(out)))
			cr_log_error("groupdel %s: %s", TW.group, out);
	}
	memset(&TW, 0, sizeof(TW));
}

/* Runs prefix... then args... (both NULL-terminated) as user, with the groups the group
 * database gives it (init_groups) or none but its own (a login from before it joined). */
static struct lab_run run_as(const char *user, bool init_groups, const char *const *prefix, const char *const *args)
{
	struct passwd *pw = getpwnam(user);
	char uid[16], gid[16];
	char *argv[32] = { "setpriv", "--reuid", uid, "--regid", gid, init_groups ? "--init-groups" : "--clear-groups" };
	int n = 6;

	cr_assert_not_null(pw, "no user %s", user);
	snprintf(uid, sizeof(uid), "%u", (unsigned)pw->pw_uid);
	snprintf(gid, sizeof(gid), "%u", (unsigned)pw->pw_gid);
	for (; prefix && *prefix; prefix++)
		argv[n++] = (char *)*prefix;
	for (; *args; args++) {
		cr_assert_lt(n, 31);
		argv[n++] = (char *)*args;
	}
	argv[n] = NULL;
	return lab_capture(argv, LAB_RUN_EMPTY_NETNS); /* no network: the unix socket is all it needs */
}

/* lnmt ARGS as user: exit status and stderr checked against want_status and want_err (the whole
 * of stderr when want_err is "" or ends in a newline, else a part of it). */
static void expect_lnmt_as(const char *user, bool init_groups, const char *const *args, int want_status,
			   const char *want_err)
{
	const char *const lnmt[] = { need_env("LNMT_BIN"), NULL };
	struct lab_run o = run_as(user, init_groups, lnmt, args);
	cr_log_info("as %s (%s): lnmt %s -> exit %d, stderr: %s", user, init_groups ? "its groups" : "no groups", args[0],
		    o.status, o.err);
	cr_assert_eq(o.status, want_status, "as %s: lnmt %s exited %d; stderr: %s", user, args[0], o.status, o.err);
	size_t n = want_err ? strlen(want_err) : 0;
	if (want_err && (n == 0 || want_err[n - 1] == '\n'))
		cr_assert_str_eq(o.err, want_err, "as %s: lnmt %s", user, args[0]);
	else if (want_err)
		cr_assert(strstr(o.err, want_err), "as %s: lnmt %s: expected '%s' in: %s", user, args[0], want_err, o.err);
	lab_run_free(&o);
}

/* "CapBnd:\t0000000000002000" and the like from /proc/PID/status. */
static unsigned long long status_field(pid_t pid, const char *name)
{
	char path[64], line[256], want[32];
	unsigned long long v = ~0ull;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	snprintf(want, sizeof(want), "%s:", name);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, want, strlen(want)))
			v = strtoull(line + strlen(want), NULL, strcmp(name, "NoNewPrivs") && strcmp(name, "Uid") ? 16 : 10);
	fclose(f);
	cr_assert_neq(v, ~0ull, "no %s in %s", name, path);
	return v;
}

static void enter_scan_ns(void)
{
	char path[128];
	snprintf(path, sizeof(path), "/run/netns/%s", scan_ns());
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(setns(fd, CLONE_NEWNET), 0, "setns %s: %s", path, strerror(errno));
	close(fd);
}

/* One HTTP/1.1 request to 127.0.0.1:port (in this process's namespace); the status, the body
 * into body. */
static int http_once(unsigned port, const char *method, const char *path, const char *json, char *body, size_t len)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char req[1024], resp[16384];
	size_t got = 0;

	cr_assert_geq(fd, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "connect 127.0.0.1:%u: %s", port, strerror(errno));
	struct timeval tv = { .tv_sec = 30 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int n = snprintf(req, sizeof(req),
			 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%zu\r\n\r\n%s", method, path,
			 json ? "Content-Type: application/json\r\nContent-Length: " : "Content-Length: ",
			 json ? strlen(json) : 0, json ? json : "");
	cr_assert_eq(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
	for (ssize_t r; got < sizeof(resp) - 1 && (r = recv(fd, resp + got, sizeof(resp) - 1 - got, 0)) > 0;)
		got += (size_t)r;
	close(fd);
	resp[got] = '\0';
	int status = 0;
	cr_assert_eq(sscanf(resp, "HTTP/1.1 %d", &status), 1, "not an HTTP response: %s", resp);
	const char *b = strstr(resp, "\r\n\r\n");
	snprintf(body, len, "%s", b ? b + 4 : "");
	return status;
}

/* Starts lnmt-http as user (with its groups) in the scanner namespace on a free loopback port. */
static unsigned start_http_as(struct lab_proc *h, const char *user, const char *sock)
{
	struct passwd *pw = getpwnam(user);
	char uid[16], gid[16];
	cr_assert_not_null(pw);
	snprintf(uid, sizeof(uid), "%u", (unsigned)pw->pw_uid);
	snprintf(gid, sizeof(gid), "%u", (unsigned)pw->pw_gid);
	char *argv[] = { "ip", "netns", "exec", (char *)scan_ns(), "setpriv", "--reuid", uid, "--regid", gid,
			 "--init-groups", (char *)need_env("LNMT_HTTP_BIN"), "--listen", "127.0.0.1:0", "--socket",
			 (char *)sock, NULL };
	lab_proc_start(h, argv, LAB_PROC_STDERR);
	cr_assert(lab_proc_read_until(h, "listening on 127.0.0.1:", LAB_START_MS), "lnmt-http did not start:\n%s", h->log);
	lab_proc_read_until(h, ")", 1000);
	return (unsigned)strtoul(strstr(h->log, "listening on 127.0.0.1:") + 23, NULL, 10);
}

/*
 * lnmtd --user nobody --socket-group G: nobody holds CAP_NET_RAW and nothing else (effective,
 * permitted and bounding sets; none inheritable or ambient), no_new_privs is set, the socket is
 * root:G 0660; a user outside G is told so by lnmt and lnmt-http, one in G calls it.
 */
Test(daemon, runs_as_user_with_cap_net_raw_only, .fini = priv_teardown)
{
	need_lab();
	struct passwd *pw = getpwnam("nobody");
	if (!pw)
		cr_skip_test("no user 'nobody' to run as");
	if (access("/usr/bin/setpriv", X_OK))
		cr_skip_test("setpriv (util-linux) is missing: cannot run a client as another user");
	make_throwaways();
	struct group *gr = getgrnam(TW.group);
	cr_assert_not_null(gr);
	gid_t gid = gr->gr_gid;
	/* The other users must reach the socket's directory to be refused by the socket itself. */
	cr_assert_eq(chmod(D.dir, 0711), 0);
	const char *extra[] = { "--user", "nobody", "--socket-group", TW.group, NULL };
	start_lnmtd(&D, extra);
	cr_assert(strstr(D.proc.log, "lnmtd: running as nobody with CAP_NET_RAW only"), "log:\n%s", D.proc.log);
	char want[512];
	snprintf(want, sizeof(want), "listening on %s (owner root, group %s, mode 0660;", D.sock, TW.group);
	cr_assert(strstr(D.proc.log, want), "expected '%s' in the log:\n%s", want, D.proc.log);

	pid_t pid = D.proc.pid;
	unsigned long long bnd = status_field(pid, "CapBnd"), eff = status_field(pid, "CapEff"),
			   prm = status_field(pid, "CapPrm"), inh = status_field(pid, "CapInh"),
			   amb = status_field(pid, "CapAmb"), nnp = status_field(pid, "NoNewPrivs"),
			   uid = status_field(pid, "Uid");
	cr_log_info("lnmtd --user nobody: Uid %llu CapBnd %016llx CapEff %016llx CapPrm %016llx CapInh %016llx "
		    "CapAmb %016llx NoNewPrivs %llu", uid, bnd, eff, prm, inh, amb, nnp);
	cr_assert_eq(uid, pw->pw_uid, "lnmtd does not run as nobody");
	cr_assert_eq(bnd, 1ull << 13, "bounding set %016llx, expected CAP_NET_RAW alone", bnd);
	cr_assert_eq(eff, 1ull << 13, "effective set %016llx, expected CAP_NET_RAW alone", eff);
	cr_assert_eq(prm, 1ull << 13, "permitted set %016llx, expected CAP_NET_RAW alone", prm);
	cr_assert_eq(inh, 0, "inheritable set %016llx", inh);
	cr_assert_eq(amb, 0, "ambient set %016llx", amb);
	cr_assert_eq(nnp, 1, "NoNewPrivs %llu", nnp);

	struct stat st;
	cr_assert_eq(stat(D.sock, &st), 0);
	cr_assert(st.st_uid == 0 && st.st_gid == gid && (st.st_mode & 07777) == 0660,
		  "socket is %u:%u %04o, expected 0:%u 0660", (unsigned)st.st_uid, (unsigned)st.st_gid,
		  (unsigned)(st.st_mode & 07777), (unsigned)gid);

	/* Outside the group: told why, and never sent to an in-process sweep or store instead. */
	char msg[512];
	snprintf(msg, sizeof(msg), "lnmt: permission denied on %s: your user is not in group %s\n", D.sock, TW.group);
	expect_lnmt_as(TW.outsider, true, (const char *const[]){ "status", "--socket", D.sock, NULL }, 1, msg);
	expect_lnmt_as(TW.outsider, true, (const char *const[]){ "devices", "--socket", D.sock, NULL }, 1, msg);
	expect_lnmt_as(TW.outsider, true, (const char *const[]){ "watch", "--socket", D.sock, NULL }, 1, msg);
	/* Listed in the group, but a login from before: said so. */
	snprintf(msg, sizeof(msg), "lnmt: permission denied on %s: your user is in group %s, but this login is not yet "
		 "(log in again)\n", D.sock, TW.group);
	expect_lnmt_as(TW.member, false, (const char *const[]){ "status", "--socket", D.sock, NULL }, 1, msg);
	/* In the group: it calls lnmtd. */
	expect_lnmt_as(TW.member, true, (const char *const[]){ "status", "--socket", D.sock, "-f", "jsonl", NULL }, 0,
		       "");
	/* A directory on the way that refuses: its group is named. */
	cr_assert_eq(chmod(D.dir, 0700), 0);
	snprintf(msg, sizeof(msg), "lnmt: permission denied on %s: your user is not in group root (the group of %s)\n",
		 D.sock, D.dir);
	expect_lnmt_as(TW.outsider, true, (const char *const[]){ "status", "--socket", D.sock, NULL }, 1, msg);
	cr_assert_eq(chmod(D.dir, 0711), 0);

	/* lnmt-http as the outsider says it at start and in its 503s; as a member it proxies, and
	 * scan.start's limits hold behind POST /api/scans. */
	const char *http_bin = getenv("LNMT_HTTP_BIN");
	if (http_bin && *http_bin) {
		struct lab_proc *h = &HTTP_AS;
		char body[4096];
		enter_scan_ns();
		unsigned port = start_http_as(h, TW.outsider, D.sock);
		snprintf(msg, sizeof(msg), "lnmt-http: permission denied on %s: your user is not in group %s\n", D.sock,
			 TW.group);
		cr_assert(strstr(h->log, msg), "expected '%s' in lnmt-http's log:\n%s", msg, h->log);
		int code = http_once(port, "GET", "/api/health", NULL, body, sizeof(body));
		cr_log_info("lnmt-http as %s: GET /api/health -> %d %s", TW.outsider, code, body);
		cr_assert_eq(code, 503, "%s", body);
		cr_assert(strstr(body, "permission denied on") && strstr(body, TW.group), "%s", body);
		cr_assert_eq(lab_stop_server(h), 0, "%s", h->log);

		port = start_http_as(h, TW.member, D.sock);
		cr_assert_eq(http_once(port, "GET", "/api/health", NULL, body, sizeof(body)), 200, "%s", body);
		code = http_once(port, "POST", "/api/scans", "{\"targets\":[\"0.0.0.0/0\"]}", body, sizeof(body));
		cr_log_info("lnmt-http: POST /api/scans 0.0.0.0/0 -> %d %s", code, body);
		cr_assert_eq(code, 400, "%s", body);
		cr_assert(strstr(body, "3741319168 addresses") && strstr(body, "allow_large"), "%s", body);
		cr_assert_eq(lab_stop_server(h), 0, "%s", h->log);
	} else {
		cr_log_warn("LNMT_HTTP_BIN is not set (lnmt-http not built): its part is not checked");
	}

	/* And it still sweeps and stores: ICMP on the routed side, ARP on-link. */
	struct rpc_client *c = connect_to(&D);
	subscribe(c, "scan", NULL);
	struct params *p = params_new(2);
	p_strs(p, "targets", "198.19.0.0/28", NULL);
	p_strs(p, "probes", "icmp", NULL);
	struct seen s = { 0 };
	struct result done;
	wait_note(c, "scan.done", "id", scan_start(c, p), &s, &done);
	cr_assert_eq(get_u64(&done.o, "live"), 16);
	result_free(&done);
	p = params_new(2);
	p_strs(p, "targets", "198.18.128.0/28", NULL);
	p_strs(p, "probes", "arp", NULL);
	wait_note(c, "scan.done", "id", scan_start(c, p), &s, &done);
	cr_assert_eq(get_u64(&done.o, "live"), 16);
	result_free(&done);
	rpc_client_close(c);
	cr_assert_eq(lab_stop_server(&D.proc), 0, "log:\n%s", D.proc.log);
}

/* Start errors and usage need no lab, only the binary. */
Test(daemon, start_errors_and_usage)
{
	const char *bin = need_env("LNMTD_BIN");
	struct lab_run o = { 0 };

	char *help[] = { (char *)bin, "--help", NULL };
	run_capture(help, &o);
	cr_assert_eq(o.status, 0);
	cr_assert(strstr(o.out, "Usage: lnmtd") && strstr(o.out, "Examples:"), "%s", o.out);
	char *bad[] = { (char *)bin, "--frobnicate", NULL };
	run_capture(bad, &o);
	cr_assert_eq(o.status, 2, "unknown option: exit %d %s", o.status, o.out);
	cr_assert(strstr(o.out, "--frobnicate") && strstr(o.out, "lnmtd --help"), "%s", o.out);
	char *extra[] = { (char *)bin, "now", NULL };
	run_capture(extra, &o);
	cr_assert_eq(o.status, 2, "%s", o.out);

	/* A store that cannot be: a file where the directory should be. */
	char notdir[160];
	snprintf(notdir, sizeof(notdir), "%s/file", D.dir);
	FILE *f = fopen(notdir, "w");
	cr_assert_not_null(f);
	fclose(f);
	char *baddb[] = { (char *)bin, "--foreground", "--socket", D.sock, "--db", notdir, NULL };
	run_capture(baddb, &o);
	cr_assert_eq(o.status, 1, "bad --db: exit %d %s", o.status, o.out);
	cr_assert(strstr(o.out, "lnmtd: cannot open the store") && !strchr(strchr(o.out, '\n') + 1, '\n'),
		  "one clear line expected: %s", o.out);

	char *badcfg[] = { (char *)bin, "--foreground", "--socket", D.sock, "--db", D.db, "--config", notdir, NULL };
	f = fopen(notdir, "w");
	fprintf(f, "MAX_SWEEPS=99\n");
	fclose(f);
	run_capture(badcfg, &o);
	cr_assert_eq(o.status, 1, "bad config: exit %d %s", o.status, o.out);
	cr_assert(strstr(o.out, "MAX_SWEEPS=99") && strstr(o.out, ":1:"), "%s", o.out);

	/* The socket in use: the second daemon says so and exits 1. Root only (namespaces). */
	if (!have_lab_tools()) {
		lab_run_free(&o);
		return;
	}
	start_lnmtd(&D, NULL);
	char other_db[160];
	snprintf(other_db, sizeof(other_db), "%s/other-db", D.dir);
	char *second[] = { "ip", "netns", "exec", (char *)scan_ns(), (char *)bin, "--foreground", "--socket", D.sock,
			   "--db", other_db, NULL };
	run_capture(second, &o);
	cr_assert_eq(o.status, 1, "socket in use: exit %d %s", o.status, o.out);
	cr_assert(strstr(o.out, "another server is listening"), "%s", o.out);
	/* The store in use: one writer per store, and the second daemon names the first. */
	char sock2[160], want[128];
	snprintf(sock2, sizeof(sock2), "%s/second.sock", D.dir);
	char *same_db[] = { "ip", "netns", "exec", (char *)scan_ns(), (char *)bin, "--foreground", "--socket", sock2,
			    "--db", D.db, NULL };
	run_capture(same_db, &o);
	snprintf(want, sizeof(want), "store in use by lnmtd pid %ld", (long)D.proc.pid);
	cr_assert_eq(o.status, 1, "store in use: exit %d %s", o.status, o.out);
	cr_assert(strstr(o.out, "lnmtd: cannot open the store") && strstr(o.out, want), "%s", o.out);
	lab_run_free(&o);
	cr_assert_eq(lab_stop_server(&D.proc), 0);
}

LAB_TESTS_MAIN();

/* ---- the route is resolved on the sweep's thread ---- */

/* Waits for the sweep's scan.done on c (subscribed to "scan") and checks it, and then its
 * scan.status, read "failed" with nothing sent, msg in the error and code as error_code. */
static void expect_failed(struct rpc_client *c, uint64_t id, const char *msg, int code)
{
	struct seen s = { 0 };
	struct result r;
	char buf[300];

	wait_note(c, "scan.done", "id", id, &s, &r);
	for (int i = 0; i < 2; i++) {
		const char *what = i ? "scan.status" : "scan.done";
		cr_assert_str_eq(get_str(&r.o, "state", buf, sizeof(buf)), "failed", "%s", what);
		cr_assert(strstr(get_str(&r.o, "error", buf, sizeof(buf)), msg), "%s: expected '%s' in the error, got '%s'",
			  what, msg, buf);
		cr_assert_eq(get_u64(&r.o, "error_code"), (uint64_t)code, "%s", what);
		cr_assert_eq(get_u64(&r.o, "sent"), 0, "%s", what);
		cr_assert_str_eq(get_str(&r.o, "ended", buf, sizeof(buf)), "failed", "%s", what);
		result_free(&r);
		if (i == 0) {
			struct params *p = params_new(1);
			p_u64(p, "id", id);
			r = call_ok(c, "scan.status", p);
		}
	}
}

Test(daemon, route_failure_ends_the_sweep_failed)
{
	need_lab();
	start_lnmtd(&D, NULL);
	struct rpc_client *c = connect_to(&D);
	subscribe(c, "scan", NULL);

	/* ICMP to an on-link network needs a gateway MAC: scan.start answers with an id at once,
	 * and the sweep's thread finds out, with the message scan.start used to answer with. */
	struct params *p = params_new(2);
	p_strs(p, "targets", "198.18.128.0/30", NULL);
	p_strs(p, "probes", "icmp", NULL);
	uint64_t id = scan_start(c, p);
	expect_failed(c, id, "198.18.128.0 is on-link on lab0: ICMP and SYN probes need one next-hop MAC; sweep on-link "
			     "networks with probes [\"arp\"], or pass \"gateway_mac\"", RPC_E_BAD_PARAMS);

	/* What the params alone get wrong is still refused by scan.start itself. */
	p = params_new(2);
	p_strs(p, "targets", "198.19.0.0/30", NULL);
	p_str(p, "source_ip", "198.18.0");
	expect_error(c, "scan.start", p, RPC_E_BAD_PARAMS, "bad \"source_ip\" '198.18.0': expected a.b.c.d");
	p = params_new(2);
	p_strs(p, "targets", "198.19.0.0/30", NULL);
	p_str(p, "gateway_mac", "02:00:00:00:00");
	expect_error(c, "scan.start", p, RPC_E_BAD_PARAMS, "bad \"gateway_mac\" '02:00:00:00:00'");

	/* The failure cost the daemon nothing: the next sweep runs. */
	p = params_new(2);
	p_strs(p, "targets", "198.19.0.0/30", NULL);
	p_strs(p, "probes", "icmp", NULL);
	struct seen s = { 0 };
	struct result done;
	wait_note(c, "scan.done", "id", scan_start(c, p), &s, &done);
	char buf[64];
	cr_assert_str_eq(get_str(&done.o, "state", buf, sizeof(buf)), "done");
	cr_assert_eq(get_u64(&done.o, "live"), 4);
	cr_assert_null(get(&done.o, "error_code"));
	result_free(&done);
	struct result r = call_ok(c, "system.status", NULL);
	cr_assert_eq(get_u64(&r.o, "sweeps_done"), 2);
	cr_assert_eq(get_u64(&r.o, "sweeps_running"), 0);
	result_free(&r);
	rpc_client_close(c);
	cr_assert_eq(lab_stop_server(&D.proc), 0, "log:\n%s", D.proc.log);
}

Test(daemon, scan_start_does_not_wait_for_the_gateway)
{
	need_lab();
	/* A routed /28 whose gateway, 198.18.0.3, nobody answers ARP for: resolving it takes lnmt's
	 * whole ARP attempt (three requests, 200 ms apart) and then fails. */
	snprintf(lab_route, sizeof(lab_route), "198.19.255.240/28");
	struct lab_run o = { 0 };
	char *add[] = { "ip", "-n", (char *)scan_ns(), "route", "replace", lab_route, "via", "198.18.0.3", "dev", "lab0",
			NULL };
	run_capture(add, &o);
	cr_assert_eq(o.status, 0, "adding the route to %s: %s", lab_route, o.out);
	lab_run_free(&o);
	start_lnmtd(&D, NULL);
	struct rpc_client *c = connect_to(&D), *other = connect_to(&D);
	subscribe(c, "scan", NULL);

	struct params *p = params_new(2);
	p_strs(p, "targets", "198.19.255.240/30", NULL);
	p_strs(p, "probes", "icmp", NULL);
	uint64_t id = scan_start(c, p);

	/* Another client is answered while the sweep still resolves: the daemon's own answer says
	 * the sweep had not finished when it was given. */
	struct result r = call_ok(other, "system.status", NULL);
	cr_assert_eq(get_u64(&r.o, "sweeps_running"), 1, "system.status was not answered while the sweep resolved");
	cr_assert_eq(get_u64(&r.o, "sweeps_done"), 0);
	result_free(&r);
	p = params_new(1);
	p_u64(p, "id", id);
	r = call_ok(other, "scan.status", p);
	char buf[64];
	cr_assert_str_eq(get_str(&r.o, "state", buf, sizeof(buf)), "running");
	cr_assert_str_eq(get_str(&r.o, "phase", buf, sizeof(buf)), "starting");
	cr_assert_eq(get_u64(&r.o, "sent"), 0);
	result_free(&r);

	expect_failed(c, id, "gateway 198.18.0.3 on lab0 did not answer ARP: pass \"gateway_mac\"", RPC_E_INTERNAL);
	r = call_ok(other, "system.status", NULL);
	cr_assert_eq(get_u64(&r.o, "sweeps_running"), 0);
	cr_assert_eq(get_u64(&r.o, "sweeps_done"), 1);
	result_free(&r);
	lab_proc_drain(&D.proc);
	cr_assert(strstr(D.proc.log, "did not answer ARP") && !strstr(D.proc.log, "started"), "log:\n%s", D.proc.log);
	rpc_client_close(other);
	rpc_client_close(c);
	cr_assert_eq(lab_stop_server(&D.proc), 0, "log:\n%s", D.proc.log);
}
