/* SPDX-License-Identifier: MIT */
/*
 * http.h: lnmt-http, a JSON-over-HTTP front of lnmtd's MessagePack-RPC (libmicrohttpd). Each
 * HTTP request becomes one or two RPC calls on a persistent client connection of the MHD worker
 * thread serving it (or is answered from a short-lived cache that lnmtd's events keep honest);
 * results are converted generically from MessagePack to JSON. See tools/lnmt-http.c for the
 * command line, api/http_server.c for the routes and api/http_int.h for the other files.
 */
#ifndef LNMT_HTTP_H
#define LNMT_HTTP_H

#include "http_parse.h"

#include <jansson.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define HTTP_GZIP_MIN 1024               /* bodies from this size are gzipped when asked */

struct http_config {
	struct sockaddr_storage addr;    /* where to listen (port 0: any free port) */
	socklen_t addr_len;
	const char *socket;              /* lnmtd's RPC socket */
	const char *token;               /* NULL: no Authorization needed */
	unsigned threads;                /* MHD worker threads (each with its RPC connection) */
	unsigned timeout_s;              /* deadline of a request (and idle timeout), seconds */
	unsigned cache_ms;               /* how long read-only answers may be reused (0: never) */
};

struct http_server;
/* Starts serving; NULL (with a message on stderr) on failure. */
struct http_server *http_server_start(const struct http_config *cfg);
/* The port actually bound. */
unsigned http_server_port(const struct http_server *s);
void http_server_stop(struct http_server *s);

/* ---- MessagePack <-> JSON (http_json.c) ---- */
/* A new JSON value for o (never NULL unless out of memory): maps with non-string keys have
 * them printed as JSON text; bin as a string (invalid UTF-8 replaced); ext as null. */
json_t *http_msgpack_to_json(const msgpack_object *o);
/* Packs a JSON value as MessagePack. */
void http_json_pack(msgpack_packer *pk, const json_t *j);
/* An rpc_pack_fn: packs [arg] where arg is a json_t * (NULL: []). */
void http_pack_json_params(void *arg, msgpack_packer *pk);

#endif
