/* SPDX-License-Identifier: MIT */
/*
 * daemon.h: lnmtd's parts and the state they share: the store, the RPC server, the sweeps it
 * runs (each on a thread of its own) and the job scheduler.
 *
 * Threads: the main thread runs the RPC server, every method, the scheduler and the signal
 * handling (signalfd); it alone touches struct daemon outside `lock`. A sweep thread owns its
 * struct dsweep; what others read of it (progress, state, summary) is guarded by daemon.lock.
 * Sweep threads report through rpc_server_notify(), which is thread-safe, and leave their end
 * to the main thread, which joins them (daemon_reap).
 */
#ifndef LNMT_DAEMON_H
#define LNMT_DAEMON_H

#include "rpc.h"
#include "store.h"
#include "sweep.h"
#include "sweep_net.h"

#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define DAEMON_MAX_TARGETS 64     /* target specs in one scan.start */
#define DAEMON_RECENT 32          /* finished sweeps remembered in memory for scan.status/list */
#define DAEMON_MAX_DEVICE_NOTES 10000 /* device changes one sweep notifies one by one; past it, device.many */
#define DAEMON_DEFAULT_CONFIG "/etc/lnmt/lnmtd.conf"

/* ---- configuration (daemon_config.c) ---- */

/* The config file: KEY=VALUE lines, # comments; re-read on SIGHUP. */
struct daemon_config {
	unsigned max_sweeps;        /* MAX_SWEEPS: sweeps at once, 1-8 (default 2) */
	unsigned offline_after;     /* OFFLINE_AFTER: missed sweeps before down, 1-100 (default 2) */
	uint64_t default_rate;      /* DEFAULT_RATE: pps when a scan or job gives none (default 0, unlimited) */
	unsigned default_retries;   /* DEFAULT_RETRIES: the most retry passes, 0-100 (default 10) */
	uint64_t default_wait_ms;   /* DEFAULT_WAIT_MS: the longest wait after the last probe (default 1000) */
	uint64_t progress_ms;       /* PROGRESS_MS: scan.progress interval, 100-60000 (default 1000) */
};

void daemon_config_defaults(struct daemon_config *c);
/* Reads path into *out (starting from the defaults). A missing file is an error unless
 * missing_ok (the default path). Returns 0, or -errno / LNMT_E_PARSE with "path:line: why" in err;
 * *out is untouched on failure. */
int daemon_config_load(const char *path, bool missing_ok, struct daemon_config *out, char *err, size_t errlen);
/* "MAX_SWEEPS=2 OFFLINE_AFTER=2 ..." for the log. */
void daemon_config_describe(const struct daemon_config *c, char *buf, size_t len);

/* ---- sweeps (daemon_scan.c) ---- */

/* A finished sweep as scan.status and scan.list report it. */
struct dsummary {
	uint64_t id, job_id;
	char state[16];             /* running, stopping, done, stopped, failed, interrupted */
	char targets[256];
	uint8_t probes;             /* STORE_PROBE_* */
	uint64_t start_us, end_us;
	uint64_t addresses, sent, replies, live;
	uint32_t new_devices, went_up, went_down;
	uint8_t ended;              /* as store_sweep.ended */
	bool complete;
	char error[256];            /* "" unless failed or not fully stored */
	int error_code;             /* failed while resolving the route: the RPC error scan.start
				     * answered with when it resolved it itself (RPC_E_BAD_PARAMS,
				     * RPC_E_INTERNAL); else 0 */
};

/* What a sweep is asked to do, from scan.start or a job. Strings are borrowed for the call. */
struct dscan_request {
	const char *targets[DAEMON_MAX_TARGETS];
	size_t n_targets;
	const char *excludes[DAEMON_MAX_TARGETS];
	size_t n_excludes;
	const char *probes[SWEEP_MAX_PROBES * 2];
	size_t n_probes;
	const char *ports;          /* NULL: default 80 */
	uint64_t rate_pps;
	bool has_rate, has_retries, has_wait;
	bool rate_fixed, wait_fixed; /* adaptation off (sweep_config) */
	unsigned retries;
	uint64_t wait_ms;
	bool has_seed;
	uint64_t seed;
	const char *ifname, *source_ip, *gateway_mac;
	bool allow_large;           /* more than TARGET_LARGE addresses, or all of 0.0.0.0/0, may be swept */
	uint64_t job_id;            /* 0: not a job */
};

struct dsweep;

/* ---- the daemon ---- */

struct daemon {
	const char *socket_path;
	char db_dir[512];
	const char *config_path;    /* NULL: DAEMON_DEFAULT_CONFIG if it exists */
	struct daemon_config cfg;   /* main thread only; sweeps copy what they need when they start */
	struct store *st;
	struct store_jobs *jobs;
	struct rpc_server *srv;
	uint64_t start_us, start_ns;
	bool stopping;              /* SIGTERM/SIGINT seen: no new sweeps */
	bool reopen_pending;        /* OFFLINE_AFTER changed: reopen the store once no sweep runs */

	pthread_mutex_t lock;       /* guards everything below */
	struct dsweep *sweeps;      /* running, and finished ones not yet reaped */
	unsigned running;
	struct dsummary recent[DAEMON_RECENT]; /* ring of finished sweeps, newest at recent_head - 1 */
	unsigned recent_head, n_recent;
	uint64_t sweeps_done;       /* finished since start (any end) */
	uint64_t sweeps_failed;
	uint64_t probes_sent, replies, live; /* summed over the sweeps finished since start */
};

/* Logs "lnmtd: <message>" as one line on stderr (journald keeps the rest). Any thread. */
void daemon_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Validates req and starts the sweep on its own thread. Returns 0 with the sweep (= store
 * sweep) id, or an RPC error code with its message in err: RPC_E_BAD_PARAMS (the parser's
 * message), RPC_E_BUSY (max_sweeps running, or shutting down), RPC_E_INTERNAL.
 * Never blocks on the network: the interface, source address and next-hop MAC (which may take
 * an ARP exchange) are resolved by the sweep's thread, and a failure there ends the sweep
 * "failed" with the message in dsummary.error and the code in dsummary.error_code.
 * Main thread only.
 */
int daemon_scan_start(struct daemon *d, const struct dscan_request *req, uint64_t *id, char *err, size_t errlen);
/* Joins finished sweep threads and files them under recent. Main thread. */
void daemon_reap(struct daemon *d);
/* Asks every running sweep to stop: level 1 drains replies briefly, 2 stops at once; either way
 * what was found is stored. A level never goes down. */
void daemon_stop_all(struct daemon *d, int level);
/* Sweeps running now (under the lock). */
unsigned daemon_running(struct daemon *d);
/* True when a sweep of this job is running; *sweep_id set to it. Main thread. */
bool daemon_job_running(struct daemon *d, uint64_t job_id, uint64_t *sweep_id);

/* ---- RPC methods ---- */

/* The method table (daemon_methods.c), handed to rpc_server_open with the daemon as ctx. */
extern const struct rpc_method daemon_methods[];
extern const size_t daemon_n_methods;

/* Methods defined in daemon_query.c, daemon_scan.c and daemon_jobs.c. */
void m_system_status(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r);
void m_devices_list(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r);
void m_devices_get(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r);
/* In daemon_notes.c. */
void m_devices_annotate(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r);
void m_devices_import(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r);
void m_report_uptime(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r);
void m_report_network(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r);
void m_report_series(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r);
void m_sweeps_list(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r);
void m_scan_start(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r);
void m_scan_status(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r);
void m_scan_cancel(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r);
void m_scan_list(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r);
void m_events_subscribe(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r);
void m_jobs_add(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r);
void m_jobs_list(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r);
void m_jobs_remove(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r);
void m_jobs_run_now(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r);

/* ---- the scheduler (daemon_jobs.c) ---- */

/* Starts due jobs (skipping, and recording the skip of, those still running); returns the
 * poll timeout in ms until the next is due (-1: none). Main thread. */
int daemon_schedule(struct daemon *d);
/* Called by a job's sweep thread when its run ends. */
void daemon_job_finished(struct daemon *d, const struct dsummary *s);

/* Minute-level cron (daemon_cron.c): five fields (minute hour day-of-month month day-of-week),
 * each "*", N, N-M, a step "/S" after either, or a comma list of those; local time. */
struct cron_spec {
	uint64_t minutes;           /* bit m: minute m, 0-59 */
	uint32_t hours;             /* 0-23 */
	uint32_t days;              /* bit d: day of month d, 1-31 */
	uint16_t months;            /* bit m: month m, 1-12 */
	uint8_t weekdays;           /* bit d: 0 (Sunday)-6 */
	bool any_day, any_weekday;  /* the field was "*" (cron's day-of-month OR day-of-week rule) */
};
/* LNMT_E_PARSE with the reason in err. */
int cron_parse(const char *text, struct cron_spec *out, char *err, size_t errlen);
/* The first minute strictly after after_us that matches, in microseconds since the epoch; 0 if
 * none within 5 years (e.g. "0 0 31 2 *"). */
uint64_t cron_next(const struct cron_spec *c, uint64_t after_us);

/* ---- packing results (daemon_pack.c) ---- */

/* A map or array under construction in its own buffer, counting its members, so optional
 * members need no count up front; mp_emit_* then packs header and body into the reply. */
struct mp {
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint32_t n;
};
void mp_init(struct mp *m);
void mp_free(struct mp *m);
/* A map member's key (counts one member); pack its value into &m->pk next. */
msgpack_packer *mp_key(struct mp *m, const char *key);
/* An array element (counts one); pack it into the returned packer. */
msgpack_packer *mp_elem(struct mp *m);
void mp_str(struct mp *m, const char *key, const char *v);
void mp_u64(struct mp *m, const char *key, uint64_t v);
void mp_bool(struct mp *m, const char *key, bool v);
void mp_nil(struct mp *m, const char *key);
void mp_double(struct mp *m, const char *key, double v);
/* "2026-11-26T20:55:01Z", or nil for 0. */
void mp_time(struct mp *m, const char *key, uint64_t us);
void mp_emit_map(struct mp *m, msgpack_packer *pk);
void mp_emit_array(struct mp *m, msgpack_packer *pk);

/* "arp,icmp" from a STORE_PROBE_* mask ("-" for none). */
/* A device as `lnmt devices -f jsonl` shows it, as map members of m. */
void daemon_pack_device(struct mp *m, const struct store_device *d);
/* A sweep summary's members. */
void daemon_pack_summary(struct mp *m, const struct dsummary *s);
/* A summary from a stored sweep record. */
void daemon_summary_of(const struct store_sweep *s, struct dsummary *out);

/* ---- params (daemon_pack.c) ---- */

/* Refuses a key of map that is not in allowed (NULL-terminated): a typo should not pass
 * silently. false with BAD_PARAMS in r. */
bool daemon_check_keys(const msgpack_object *map, const char *method, const char *const *allowed,
		       struct rpc_reply *r);
/* A CIDR into net/mask; false with BAD_PARAMS naming key. */
bool daemon_parse_subnet(const char *s, const char *key, uint32_t *net, uint32_t *mask, struct rpc_reply *r);
bool daemon_parse_ip(const char *s, const char *key, uint32_t *ip, struct rpc_reply *r);

/* ---- privileges (daemon_priv.c) ---- */

#define DAEMON_SOCKET_GROUP "lnmt" /* the socket's group when it exists (tools/lnmt.sysusers) */

/*
 * The group the socket is given to: name (--socket-group), else DAEMON_SOCKET_GROUP when that
 * group exists. 0 with *gid; 1 when name is NULL and there is no such group (the socket keeps
 * lnmtd's own group); -ENOENT (or -errno of the lookup) with err when the named group is not there.
 */
int daemon_socket_group(const char *name, gid_t *gid, char *err, size_t errlen);

/*
 * Gives the socket at path (made 0600, so that nobody else could connect yet) to group *gid
 * (gid NULL: keep its group) and mode 0660. When the chown fails: -errno with err if required
 * (a --socket-group), else logged, and the socket keeps its group. chmod failing: -errno with err.
 */
int daemon_socket_share(const char *path, const gid_t *gid, bool required, char *err, size_t errlen);

/*
 * Becomes user (its uid, gid and groups) keeping only CAP_NET_RAW, in the effective, permitted
 * and bounding sets (none inheritable or ambient), with no_new_privs set; chowns the store
 * directory and its files first so the user can keep using them (the socket stays root's: its
 * group and mode say who may call). Before any thread starts. Returns 0 or -errno with err.
 */
int daemon_drop_privileges(const char *user, const char *db_dir, char *err, size_t errlen);

#endif
