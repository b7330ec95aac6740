/* SPDX-License-Identifier: MIT */
/*
 * client_cmd.h: the CLI as a thin client of lnmtd (api/rpc.h). `lnmt status`, `lnmt jobs` and
 * `lnmt watch` only work through the daemon; `lnmt devices`, `lnmt device`, `lnmt report`,
 * `lnmt sweeps` and `lnmt scan` use it when one answers on the socket (and fall back to the
 * store / an in-process sweep when none does). These helpers return what the store's functions
 * return, so the embedded printers serve both paths and the output is the same.
 */
#ifndef LNMT_CLIENT_CMD_H
#define LNMT_CLIENT_CMD_H

#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rpc_client;
struct target_set;

/* The socket: opt (--socket), else $LNMT_SOCKET, else the default path. */
const char *client_socket_path(const char *opt, char *buf, size_t len);
/*
 * Connects and checks that lnmtd answers (within a short timeout): 0 with *out the client, or
 * with *out NULL when no daemon answers (the caller may work in-process instead); -EACCES when
 * the socket is there but refuses this user, after printing why ("permission denied on SOCKET:
 * your user is not in group lnmt"): the caller exits 1 rather than fall back.
 */
int client_connect(const char *socket_opt, struct rpc_client **out);
void client_close(struct rpc_client *c);

/* devices.list paged like store_devices_list (f->limit 0 = all). 0 or a negative errno / an
 * rpc_error (its message already printed). */
int client_devices_list(struct rpc_client *c, const struct store_filter *f, const char *cidr, store_device_cb cb,
			void *ctx, uint32_t *next, bool *more);
int client_report_uptime(struct rpc_client *c, uint64_t since_us, const char *cidr, store_uptime_cb cb, void *ctx);
int client_report_network(struct rpc_client *c, uint64_t since_us, const char *cidr, struct store_network_report *out,
			  store_subnet_cb cb, void *ctx);

/*
 * report.network with its vendors, as store_report_network_ex (one snapshot; cb and vcb may be
 * NULL and get ctx; a non-zero return stops that callback's list). The daemon lists only the 20
 * vendors with the most devices: vcb gets those in the store's order and then, when
 * *vendors_total (the number of distinct vendors, which may be NULL) is more than 20, one entry
 * more, vendor "other", summing the rest. Strings passed to vcb are valid during the call only.
 * Errors as client_report_network.
 */
int client_report_network_ex(struct rpc_client *c, uint64_t since_us, const char *cidr,
			     struct store_network_report *out, store_subnet_cb cb, store_vendor_cb vcb, void *ctx,
			     uint64_t *vendors_total);

/*
 * report.series: observation counts per hour, for the /24s inside cidr (a /24 or shorter; NULL =
 * all), summed per network of `prefix` bits (0-24), from the start of the hour that holds
 * since_us (as store_uptime_series; a range longer than the daemon's 90 days is cut to the last
 * 90). Points go to cb as the store gives them, one per hour and network, but in network order
 * then hour order; a non-zero return stops them. The daemon gives at most 64 networks, using a
 * shorter prefix when there would be more: *prefix_used is the one it used (p->prefix of every
 * point). *has_series is store_has_series() on the daemon's side. Both are set only on success.
 * 0, -EOPNOTSUPP (nothing printed) when the daemon predates report.series, or a negative errno /
 * an rpc_error (its message already printed).
 */
int client_report_series(struct rpc_client *c, uint64_t since_us, const char *cidr, unsigned prefix,
			 store_series_cb cb, void *ctx, unsigned *prefix_used, bool *has_series);

/* What devices.get says of one address (client_device_get). */
#define CLIENT_HISTORY_MAX 20 /* entries of each history list kept at most */
struct client_device {
	bool seen;                /* false: no sweep has found it; only note is set */
	struct store_device dev;  /* seen: the device, its totals included */
	struct store_change changes[CLIENT_HISTORY_MAX];       /* seen: newest first */
	struct store_observation obs[CLIENT_HISTORY_MAX];      /* seen: newest first */
	uint32_t n_changes, n_obs;
	struct store_note note;   /* not seen: its name and note (seen false) */
};
/*
 * devices.get {ip, history, unseen: true}: the device and its newest `history` (at most
 * CLIENT_HISTORY_MAX) state changes and observations, as store_device_get,
 * store_device_changes and store_device_observations give them; or, for an address no sweep
 * has found, its name and note (out->seen false). 0, -ENOENT (nothing printed) when the address
 * was never seen and has no name or note, or a negative errno / an rpc_error (its message
 * already printed). *out is set only on success.
 */
int client_device_get(struct rpc_client *c, uint32_t ip, uint32_t history, struct client_device *out);

/*
 * sweeps.list paged like store_sweeps_list: the newest `limit` sweeps (0 = all) to cb, newest
 * first; a non-zero return stops them. 0, -EOPNOTSUPP (nothing printed) when the daemon
 * predates sweeps.list, or a negative errno / an rpc_error (its message already printed).
 */
int client_sweeps_list(struct rpc_client *c, uint32_t limit, store_sweep_cb cb, void *ctx);

/* devices.annotate: sets e's name and/or note; *out is the result (name, note, seen). 0 or a
 * negative errno / an rpc_error (its message already printed). */
int client_annotate(struct rpc_client *c, const struct store_note_edit *e, struct store_note *out);
/* devices.import of n edits, in as many requests as RPC_MAX_MESSAGE needs (each all or
 * nothing). *out sums what was imported; *done is how many edits went in (all on success, the
 * requests before the failing one otherwise). Errors as client_annotate. */
int client_import(struct rpc_client *c, const struct store_note_edit *e, size_t n,
		  struct store_notes_import_report *out, size_t *done);

/* `lnmt scan` through lnmtd. */
struct client_scan_req {
	char **targets;
	int n_targets;
	const char *excludes[64];
	int n_excludes;
	const char *probe_list, *port_spec, *source_ip;
	uint64_t rate, retries, wait_ms, seed;
	bool has_rate, has_retries, has_wait, has_seed;
	bool rate_fixed, wait_fixed;
	bool allow_large;             /* --allow-large: allow_large: true in scan.start */
	const struct target_set *set; /* to pick the sweep's devices from devices.list */
	int format;
	bool quiet;
};
int client_scan(struct rpc_client *c, const struct client_scan_req *req);

/* The CSV header of `lnmt devices -f csv` (and of `lnmt scan -f csv` through lnmtd). */
#define QUERY_CSV_HEADER "ip,state,mac,vendor,first_seen,last_seen,rtt_us,probes,open_ports,name,note"

/* In query_cmd.c: prints one device as `lnmt devices` does (format: enum out_format). */
void query_print_device(int format, const struct store_device *d);

#endif
