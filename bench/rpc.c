/* SPDX-License-Identifier: MIT */
/*
 * rpc.c (rpc_bench): the MessagePack-RPC layer's speed against its goals, over a unix socket
 * (no network), with a "devices.get" method that packs a 10-field map for a fake device:
 *   1. round trip, one client, one call at a time, 10,000 calls     (goal: p99 under 200 us)
 *   2. pipelined, one client, 200,000 requests, 256 in flight        (goal: over 100,000/s)
 *   3. 500 clients at once, each connecting then making calls         (goal: none refused)
 * By default it starts its own server in a thread on a temp socket. With --socket PATH it
 * measures the server there instead (lnmtd: devices.get with params [{"ip": "198.19.0.1"}]).
 * Usage: rpc_bench [--socket PATH] [--quick]   (--quick: a tenth of the calls)
 */
#include "clock.h"
#include "err.h"
#include "rpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_DEV 1024u           /* fake devices: 198.19.0.0 - 198.19.3.255 */
#define NET 0xc6130000u       /* 198.19.0.0 */
#define CLIENTS 500
#define WINDOW 256

/* ---- the in-process server ---- */

struct device {
	uint32_t ip;
	uint8_t mac[6];
	const char *vendor;
	uint64_t first_seen_us, last_seen_us;
	uint32_t rtt_us, sweeps_seen;
	bool up;
};

struct fake_db {
	struct device dev[N_DEV];
};

static void m_devices_get(void *ctx, struct rpc_conn *c, const msgpack_object *params, struct rpc_reply *r)
{
	const struct fake_db *db = ctx;
	const msgpack_object *map;
	const struct device *d;
	struct in_addr a;
	char ip[32], mac[18];
	uint32_t h;

	(void)c;
	if (!rpc_params_map(params, &map, r) || !rpc_get_str(map, "ip", true, ip, sizeof(ip), NULL, r))
		return;
	if (inet_pton(AF_INET, ip, &a) != 1) {
		rpc_reply_error(r, RPC_E_BAD_PARAMS, "'%s' is not an IPv4 address", ip);
		return;
	}
	h = ntohl(a.s_addr);
	if (h - NET >= N_DEV) {
		rpc_reply_error(r, RPC_E_NOT_FOUND, "no device %s", ip);
		return;
	}
	d = &db->dev[h - NET];
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", d->mac[0], d->mac[1], d->mac[2], d->mac[3],
		 d->mac[4], d->mac[5]);
	msgpack_pack_map(r->pk, 10);
	rpc_pack_str(r->pk, "ip");
	rpc_pack_str(r->pk, ip);
	rpc_pack_str(r->pk, "mac");
	rpc_pack_str(r->pk, mac);
	rpc_pack_str(r->pk, "vendor");
	rpc_pack_str(r->pk, d->vendor);
	rpc_pack_str(r->pk, "up");
	if (d->up)
		msgpack_pack_true(r->pk);
	else
		msgpack_pack_false(r->pk);
	rpc_pack_str(r->pk, "first_seen");
	msgpack_pack_uint64(r->pk, d->first_seen_us);
	rpc_pack_str(r->pk, "last_seen");
	msgpack_pack_uint64(r->pk, d->last_seen_us);
	rpc_pack_str(r->pk, "rtt_us");
	msgpack_pack_uint32(r->pk, d->rtt_us);
	rpc_pack_str(r->pk, "sweeps_seen");
	msgpack_pack_uint32(r->pk, d->sweeps_seen);
	rpc_pack_str(r->pk, "probes");
	msgpack_pack_array(r->pk, 2);
	rpc_pack_str(r->pk, "arp");
	rpc_pack_str(r->pk, "icmp");
	rpc_pack_str(r->pk, "uptime");
	msgpack_pack_double(r->pk, d->up ? 0.993 : 0.41);
}

static const struct rpc_method methods[] = {
	{ "devices.get", m_devices_get },
};

struct server_thread {
	struct rpc_server *srv;
	pthread_t thread;
	int stop;
};

static void *serve(void *arg)
{
	struct server_thread *st = arg;

	while (!__atomic_load_n(&st->stop, __ATOMIC_ACQUIRE))
		if (rpc_server_poll(st->srv, -1) < 0)
			break;
	return NULL;
}

static void fill_db(struct fake_db *db)
{
	static const char *vendors[] = { "Raspberry Pi Trading Ltd", "Cisco Systems, Inc", "Intel Corporate", NULL };

	for (uint32_t i = 0; i < N_DEV; i++) {
		struct device *d = &db->dev[i];

		d->ip = NET + i;
		memcpy(d->mac, "\xb8\x27\xeb\x00", 4);
		d->mac[4] = (uint8_t)(i >> 8);
		d->mac[5] = (uint8_t)i;
		d->vendor = vendors[i % 4];
		d->first_seen_us = 1700000000000000ull + i;
		d->last_seen_us = d->first_seen_us + 3600000000ull;
		d->rtt_us = 100 + i % 900;
		d->sweeps_seen = 1 + i % 150;
		d->up = i % 10 != 0;
	}
}

/* ---- the client side ---- */

static const char *sock_path;
static bool external;

struct ip_arg {
	char ip[20];
};

static void pack_ip(void *arg, msgpack_packer *pk)
{
	const struct ip_arg *a = arg;

	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 1);
	rpc_pack_str(pk, "ip");
	rpc_pack_str(pk, a->ip);
}

static void ip_for(struct ip_arg *a, uint32_t i)
{
	uint32_t h = external ? NET + 1 : NET + i % N_DEV;

	snprintf(a->ip, sizeof(a->ip), "%u.%u.%u.%u", h >> 24, h >> 16 & 255, h >> 8 & 255, h & 255);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* 0 or an rpc_call() code; an RPC error (e.g. NOT_FOUND from a real store) still counts as a
 * round trip but is reported. */
static int one_call(struct rpc_client *c, uint32_t i, unsigned *rpc_errors)
{
	struct ip_arg a;
	msgpack_zone *z;
	msgpack_object res;
	char err[256];
	int rc;

	ip_for(&a, i);
	rc = rpc_call(c, "devices.get", pack_ip, &a, &z, &res, err, sizeof(err));
	if (rc > 0) {
		if ((*rpc_errors)++ == 0)
			fprintf(stderr, "rpc_bench: devices.get %s: error %d: %s\n", a.ip, rc, err);
		return 0;
	}
	if (rc == 0)
		msgpack_zone_free(z);
	return rc;
}

static int bench_latency(unsigned n)
{
	struct rpc_client *c;
	uint64_t *t = malloc(n * sizeof(*t));
	unsigned errors = 0;
	int rc;

	if (!t)
		return -ENOMEM;
	rc = rpc_client_connect(&c, sock_path);
	if (rc)
		goto out;
	rpc_client_set_timeout(c, 10000);
	for (unsigned i = 0; i < 1000 && !rc; i++) /* warm-up */
		rc = one_call(c, i, &errors);
	for (unsigned i = 0; i < n && !rc; i++) {
		uint64_t t0 = clock_now_ns();

		rc = one_call(c, i, &errors);
		t[i] = clock_now_ns() - t0;
	}
	rpc_client_close(c);
	if (rc)
		goto out;
	qsort(t, n, sizeof(*t), cmp_u64);
	printf("1. round trip devices.get, one client, %u calls: p50 %.1f us, p99 %.1f us, p99.9 %.1f us, "
	       "max %.1f us  (goal p99 < 200 us) %s\n",
	       n, t[n / 2] / 1e3, t[n * 99 / 100] / 1e3, t[n * 999 / 1000] / 1e3, t[n - 1] / 1e3,
	       t[n * 99 / 100] < 200000 ? "ok" : "MISSED");
	if (errors)
		printf("   (%u of the calls answered with an error)\n", errors);
out:
	free(t);
	return rc;
}

static int bench_pipelined(unsigned n)
{
	struct rpc_client *c;
	unsigned sent = 0, done = 0, errors = 0;
	int64_t next_expected = -1;
	uint64_t t0;
	int rc = rpc_client_connect(&c, sock_path);

	if (rc)
		return rc;
	t0 = clock_now_ns();
	while (done < n) {
		msgpack_zone *z;
		msgpack_object res;
		uint64_t msgid;
		int type, code;

		while (sent < n && sent - done < WINDOW) {
			struct ip_arg a;
			int64_t id;

			ip_for(&a, sent);
			id = rpc_send(c, "devices.get", pack_ip, &a);
			if (id < 0) {
				rc = (int)id;
				goto out;
			}
			if (next_expected < 0)
				next_expected = id;
			sent++;
		}
		rc = rpc_recv(c, 10000, &type, &msgid, NULL, 0, &z, &res, &code, NULL, 0);
		if (rc)
			goto out;
		msgpack_zone_free(z);
		if (type != 1)
			continue;
		if ((int64_t)msgid != next_expected) {
			fprintf(stderr, "rpc_bench: response %llu out of order (expected %lld)\n",
				(unsigned long long)msgid, (long long)next_expected);
			rc = -EPROTO;
			goto out;
		}
		next_expected++;
		errors += code != 0;
		done++;
	}
	double s = (double)(clock_now_ns() - t0) / 1e9;
	printf("2. pipelined devices.get, one client, %u requests, %u in flight: %.0f requests/s, in order  "
	       "(goal > 100,000/s) %s\n", n, WINDOW, n / s, n / s > 100000 ? "ok" : "MISSED");
	if (errors)
		printf("   (%u of the requests answered with an error)\n", errors);
out:
	rpc_client_close(c);
	return rc;
}

struct worker {
	pthread_barrier_t *ready;
	unsigned calls, id;
	int connect_rc, call_rc;
	unsigned done, errors;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct rpc_client *c = NULL;

	w->connect_rc = rpc_client_connect(&c, sock_path);
	if (c)
		rpc_client_set_timeout(c, 30000);
	/* Everyone is connected (or has failed) before anyone calls: 500 open at once. */
	pthread_barrier_wait(w->ready);
	pthread_barrier_wait(w->ready);
	for (unsigned i = 0; c && i < w->calls; i++) {
		w->call_rc = one_call(c, w->id * 7919 + i, &w->errors);
		if (w->call_rc)
			break;
		w->done++;
	}
	rpc_client_close(c);
	return NULL;
}

static int bench_clients(unsigned calls)
{
	static struct worker w[CLIENTS];
	static pthread_t t[CLIENTS];
	pthread_barrier_t ready;
	pthread_attr_t attr;
	unsigned started = 0, connected = 0, refused = 0, failed = 0, errors = 0;
	uint64_t total = 0, t0;
	int first_rc = 0;

	pthread_barrier_init(&ready, NULL, CLIENTS + 1);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256u << 10);
	for (; started < CLIENTS; started++) {
		w[started] = (struct worker){ .ready = &ready, .calls = calls, .id = started };
		if (pthread_create(&t[started], &attr, worker_main, &w[started]))
			break;
	}
	if (started < CLIENTS) {
		/* Cannot happen in practice; the barrier would wait forever, so say so and stop. */
		fprintf(stderr, "rpc_bench: only %u threads started\n", started);
		exit(1);
	}
	pthread_barrier_wait(&ready);
	t0 = clock_now_ns();
	pthread_barrier_wait(&ready);
	for (unsigned i = 0; i < CLIENTS; i++)
		pthread_join(t[i], NULL);
	double s = (double)(clock_now_ns() - t0) / 1e9;
	for (unsigned i = 0; i < CLIENTS; i++) {
		if (w[i].connect_rc) {
			refused++;
			if (!first_rc)
				first_rc = w[i].connect_rc;
			continue;
		}
		connected++;
		total += w[i].done;
		errors += w[i].errors;
		if (w[i].call_rc) {
			failed++;
			if (!first_rc)
				first_rc = w[i].call_rc;
		}
	}
	printf("3. %u clients at once, %u calls each: %u connected, %u refused, %u failed mid-way; "
	       "%llu calls in %.2f s, %.0f calls/s  (goal none refused) %s\n",
	       CLIENTS, calls, connected, refused, failed, (unsigned long long)total, s, total / s,
	       !refused && !failed ? "ok" : "MISSED");
	if (first_rc)
		printf("   first failure: %s\n", lnmt_strerror(first_rc));
	if (errors)
		printf("   (%u of the calls answered with an error)\n", errors);
	pthread_attr_destroy(&attr);
	pthread_barrier_destroy(&ready);
	return 0;
}

int main(int argc, char **argv)
{
	static struct fake_db db;
	struct server_thread st = { 0 };
	char dir[] = "/tmp/lnmt-rpc-bench-XXXXXX", path[128];
	unsigned scale = 1;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			sock_path = argv[++i];
			external = true;
		} else if (!strcmp(argv[i], "--quick")) {
			scale = 10;
		} else {
			fprintf(stderr, "usage: rpc_bench [--socket PATH] [--quick]\n");
			return 2;
		}
	}
	if (!external) {
		fill_db(&db);
		if (!mkdtemp(dir)) {
			perror("rpc_bench: mkdtemp");
			return 1;
		}
		snprintf(path, sizeof(path), "%s/rpc.sock", dir);
		rc = rpc_server_open(&st.srv, path, 0600, methods, 1, &db);
		if (rc) {
			fprintf(stderr, "rpc_bench: server on %s: %s\n", path, lnmt_strerror(rc));
			rmdir(dir);
			return 1;
		}
		if (pthread_create(&st.thread, NULL, serve, &st)) {
			fprintf(stderr, "rpc_bench: cannot start the server thread\n");
			rpc_server_close(st.srv);
			rmdir(dir);
			return 1;
		}
		sock_path = path;
		printf("rpc_bench: in-process server on %s (one thread), devices.get over %u fake devices\n", path,
		       N_DEV);
	} else {
		printf("rpc_bench: server at %s, devices.get [{\"ip\": \"198.19.0.1\"}]\n", sock_path);
	}
	rc = bench_latency(10000 / scale);
	if (!rc)
		rc = bench_pipelined(200000 / scale);
	if (!rc)
		rc = bench_clients(200 / scale);
	if (rc)
		fprintf(stderr, "rpc_bench: %s: %s\n", sock_path, lnmt_strerror(rc));
	if (!external) {
		struct rpc_server_stats s;

		rpc_server_stats(st.srv, &s);
		printf("   server: %llu accepted, %llu refused, %llu requests, %llu errors, %llu dropped\n",
		       (unsigned long long)s.accepted, (unsigned long long)s.refused, (unsigned long long)s.requests,
		       (unsigned long long)s.errors, (unsigned long long)s.dropped_clients);
		__atomic_store_n(&st.stop, 1, __ATOMIC_RELEASE);
		rpc_server_wake(st.srv);
		pthread_join(st.thread, NULL);
		rpc_server_close(st.srv);
		rmdir(dir);
	}
	return rc ? 1 : 0;
}
