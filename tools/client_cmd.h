/* SPDX-License-Identifier: MIT */
/*
 * client_cmd.h: the CLI as a thin client of lnmtd (api/rpc.h). `lnmt status`, `lnmt jobs` and
 * `lnmt watch` only work through the daemon; `lnmt devices`, `lnmt report` and `lnmt scan` use
 * it when one answers on the socket (and fall back to the store / an in-process sweep when none
 * does). These helpers return what the store's functions return, so the embedded printers serve
 * both paths and the output is the same.
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
/* Connects and checks that lnmtd answers (within a short timeout); NULL when none does. */
struct rpc_client *client_try_connect(const char *socket_opt);
void client_close(struct rpc_client *c);

/* devices.list paged like store_devices_list (f->limit 0 = all). 0 or a negative errno / an
 * rpc_error (its message already printed). */
int client_devices_list(struct rpc_client *c, const struct store_filter *f, const char *cidr, store_device_cb cb,
			void *ctx, uint32_t *next, bool *more);
int client_report_uptime(struct rpc_client *c, uint64_t since_us, const char *cidr, store_uptime_cb cb, void *ctx);
int client_report_network(struct rpc_client *c, uint64_t since_us, const char *cidr, struct store_network_report *out,
			  store_subnet_cb cb, void *ctx);

/* `lnmt scan` through lnmtd. */
struct client_scan_req {
	char **targets;
	int n_targets;
	const char *excludes[64];
	int n_excludes;
	const char *probe_list, *port_spec, *source_ip;
	uint64_t rate, retries, wait_ms, seed;
	bool has_rate, has_retries, has_wait, has_seed;
	const struct target_set *set; /* to pick the sweep's devices from devices.list */
	int format;
	bool quiet;
};
int client_scan(struct rpc_client *c, const struct client_scan_req *req);

/* In query_cmd.c: prints one device as `lnmt devices` does (format: enum out_format). */
void query_print_device(int format, const struct store_device *d);

#endif
