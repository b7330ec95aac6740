/* SPDX-License-Identifier: MIT */
/*
 * store.c (store_bench): the store's speed against its goals, on a temp dir (no network):
 *   1. one /16 sweep of 65,536 results in random order through the recorder, timed from
 *      store_recorder_open() to store_recorder_close() returning   (goal: under 50 ms)
 *   2. point lookups of random devices among 65,536 on one core    (goal: over 1 million/s)
 *   3. a store of 65,536 devices with ~10 million observations (153 hourly sweeps ending now,
 *      ~90% up), then the uptime report over the last 24 h            (goal: under 100 ms)
 * Usage: store_bench [--dir DIR] [--keep] [--sweeps N] [--quick]   (DIR must not hold a store;
 * --quick skips figure 3)
 */
#include "clock.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define NET 0x0a000000u /* 10.0.0.0/16 */
#define N_DEV 65536u
#define HOUR_US 3600000000ull

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	r->s ^= r->s << 13, r->s ^= r->s >> 7, r->s ^= r->s << 17;
	return r->s;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static double ms_since(uint64_t t0_ns)
{
	return (double)(clock_now_ns() - t0_ns) / 1e6;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static struct store *open_store(const char *dir)
{
	struct store_options opt = { 0 };
	struct store *st;
	char err[512];

	if (store_open(&st, dir, &opt, err, sizeof(err))) {
		fprintf(stderr, "store_bench: %s\n", err);
		return NULL;
	}
	return st;
}

/* One sweep of the /16 with the given results (already in the order to add them); returns
 * the milliseconds from recorder open to close, or a negative value on failure. */
static double record(struct store *st, uint64_t start_us, const struct store_result *r, size_t n)
{
	struct store_sweep info = { .start_us = start_us, .probes = STORE_PROBE_ICMP, .addresses = N_DEV };
	struct store_range range = { NET, NET + N_DEV - 1 };
	struct store_recorder *rec;
	char err[512];
	uint64_t t0 = clock_now_ns();

	snprintf(info.targets, sizeof(info.targets), "10.0.0.0/16");
	if (store_recorder_open(st, &info, &range, 1, &rec, err, sizeof(err))) {
		fprintf(stderr, "store_bench: %s\n", err);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		store_recorder_add(rec, &r[i]);
	info.end_us = start_us + 1000000;
	info.sent = N_DEV;
	info.replies = info.live = n;
	info.ended = STORE_END_WAIT; /* it probed everything: its silences are misses */
	if (store_recorder_close(rec, &info, NULL, err, sizeof(err))) {
		fprintf(stderr, "store_bench: %s\n", err);
		return -1;
	}
	return ms_since(t0);
}

static void shuffle(struct store_result *r, size_t n, struct rng *g)
{
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)(rnd(g) % (i + 1));
		struct store_result t = r[i];
		r[i] = r[j];
		r[j] = t;
	}
}

static size_t make_results(struct store_result *r, uint64_t t, unsigned up_pct, struct rng *g, bool mac)
{
	size_t n = 0;

	for (uint32_t i = 0; i < N_DEV; i++) {
		if (up_pct < 100 && rnd(g) % 100 >= up_pct)
			continue;
		r[n] = (struct store_result){ .ip = NET + i, .probe = mac ? STORE_PROBE_ARP : STORE_PROBE_ICMP,
					      .rtt_us = 200 + (uint32_t)(rnd(g) % 5000), .time_us = t + i };
		if (mac) {
			static const uint8_t ouis[4][3] = { { 0xb8, 0x27, 0xeb }, { 0x00, 0x00, 0x0c },
							    { 0x3c, 0x22, 0xfb }, { 0x02, 0x00, 0x00 } };
			r[n].has_mac = true;
			memcpy(r[n].mac, ouis[i % 4], 3);
			r[n].mac[3] = (uint8_t)(i >> 16), r[n].mac[4] = (uint8_t)(i >> 8), r[n].mac[5] = (uint8_t)i;
		}
		n++;
	}
	shuffle(r, n, g);
	return n;
}

struct uptime_sum {
	uint64_t devices, probes, answers, hash;
};

static int sum_uptime(void *ctx, const struct store_uptime *u)
{
	struct uptime_sum *s = ctx;

	s->devices++;
	s->probes += u->probes;
	s->answers += u->answers;
	/* FNV-1a over (ip, probes, answers, changes): equal output, equal checksum. */
	uint64_t v[4] = { u->ip, u->probes, u->answers, u->changes };
	for (int i = 0; i < 4; i++) {
		s->hash ^= v[i];
		s->hash *= 1099511628211ull;
	}
	return 0;
}

/*
 * 4. `lnmt devices --limit 100` as a whole process (exec to exit), against the store just
 * built: the lnmt binary beside this benchmark in the build tree. Median of 50 runs.
 */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int whole_process(const char *dir)
{
	char self[4096], lnmt[4200];
	double t[50];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		return 0;
	self[n] = '\0';
	snprintf(lnmt, sizeof(lnmt), "%s/../tools/lnmt", dirname(self));
	if (access(lnmt, X_OK)) {
		printf("4. lnmt devices --limit 100: skipped (no %s)\n", lnmt);
		return 0;
	}
	for (int i = 0; i < 50; i++) {
		char *argv[] = { lnmt, "devices", "--db", (char *)dir, "--limit", "100", "-f", "jsonl", NULL };
		int out = open("/dev/null", O_WRONLY), st;
		pid_t pid;
		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, out, 1);
		posix_spawn_file_actions_adddup2(&fa, out, 2);
		uint64_t t0 = clock_now_ns();
		if (posix_spawn(&pid, lnmt, &fa, NULL, argv, environ) || waitpid(pid, &st, 0) < 0 ||
		    !WIFEXITED(st) || WEXITSTATUS(st)) {
			printf("4. lnmt devices --limit 100: failed to run %s\n", lnmt);
			posix_spawn_file_actions_destroy(&fa);
			close(out);
			return 1;
		}
		t[i] = ms_since(t0);
		posix_spawn_file_actions_destroy(&fa);
		close(out);
	}
	qsort(t, 50, sizeof(t[0]), cmp_double);
	printf("4. lnmt devices --limit 100 as a whole process (exec to exit), 65536 devices: %.1f ms median, "
	       "%.1f ms worst of 50  (goal < 10 ms) %s\n", t[25], t[49], t[25] < 10 ? "ok" : "MISSED");
	return !(t[25] < 10);
}

int main(int argc, char **argv)
{
	char tmpl[] = "/tmp/lnmt-store-bench-XXXXXX", d1[600], d3[600];
	const char *dir = NULL;
	bool keep = false;
	unsigned sweeps = 153;
	struct rng g = { 0x9e3779b97f4a7c15ull };
	struct store_result *r;
	struct store *st;
	int status = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "--keep")) {
			keep = true;
		} else if (!strcmp(argv[i], "--quick")) {
			sweeps = 0; /* figures 1 and 2 only */
		} else if (!strcmp(argv[i], "--sweeps") && i + 1 < argc) {
			sweeps = (unsigned)atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: store_bench [--dir DIR] [--keep] [--sweeps N] [--quick]\n");
			return 2;
		}
	}
	if (!dir) {
		if (!mkdtemp(tmpl)) {
			perror("store_bench: mkdtemp");
			return 1;
		}
		dir = tmpl;
	} else if (mkdir(dir, 0750) && errno != EEXIST) {
		perror(dir);
		return 1;
	}
	snprintf(d1, sizeof(d1), "%s/one-sweep", dir);
	snprintf(d3, sizeof(d3), "%s/history", dir);
	r = calloc(N_DEV, sizeof(*r));
	if (!r)
		return 1;

	/* 1. One /16 sweep into a new store: every result is a new device. */
	if (!(st = open_store(d1)))
		return 1;
	uint64_t t = now_us() - 2 * HOUR_US;
	size_t n = make_results(r, t, 100, &g, false);
	double ms = record(st, t, r, n);
	printf("1. store %zu results of one /16 sweep (new devices, random order): %.1f ms  (goal < 50 ms) %s\n", n,
	       ms, ms >= 0 && ms < 50 ? "ok" : "MISSED");
	status |= !(ms >= 0 && ms < 50);
	n = make_results(r, t + HOUR_US, 100, &g, false);
	ms = record(st, t + HOUR_US, r, n);
	printf("   the same /16 again (known devices): %.1f ms\n", ms);
	n = make_results(r, t + HOUR_US + 60000000, 90, &g, true);
	ms = record(st, t + HOUR_US + 60000000, r, n);
	printf("   again, ARP with MACs (vendor list loaded), 90%% up, 10%% misses: %.1f ms\n", ms);

	/* 2. Point lookups on one core. */
	{
		enum { LOOKUPS = 4000000 };
		struct store_device dev;
		uint64_t found = 0, rtt_sum = 0;
		uint32_t *ips = malloc(LOOKUPS * sizeof(*ips));
		if (!ips)
			return 1;
		for (uint32_t i = 0; i < LOOKUPS; i++)
			ips[i] = NET + (uint32_t)(rnd(&g) % N_DEV);
		uint64_t t0 = clock_now_ns();
		for (uint32_t i = 0; i < LOOKUPS; i++) {
			if (!store_device_get(st, ips[i], &dev)) {
				found++;
				rtt_sum += dev.last_rtt_us;
			}
		}
		double s = (double)(clock_now_ns() - t0) / 1e9;
		double rate = LOOKUPS / s;
		printf("2. point lookups of random devices among %u: %.2f million/s on one core  (goal > 1 million/s) %s"
		       "  [%llu found, rtt sum %llu]\n",
		       N_DEV, rate / 1e6, rate > 1e6 ? "ok" : "MISSED", (unsigned long long)found,
		       (unsigned long long)rtt_sum);
		status |= !(rate > 1e6);
		free(ips);
	}
	store_close(st);

	/* 3. History: hourly sweeps ending now, ~90% up each. */
	if (!sweeps)
		goto done;
	if (!(st = open_store(d3)))
		return 1;
	uint64_t now = now_us(), t0 = clock_now_ns(), obs = 0;
	double worst = 0;
	for (unsigned s = 0; s < sweeps; s++) {
		uint64_t start = now - (uint64_t)(sweeps - 1 - s) * HOUR_US - 60000000;
		n = make_results(r, start, 90, &g, false);
		ms = record(st, start, r, n);
		if (ms < 0)
			return 1;
		if (ms > worst)
			worst = ms;
		obs += N_DEV;
		if ((s + 1) % 25 == 0 || s + 1 == sweeps)
			fprintf(stderr, "   ... %u sweeps, %llu observations, %.1f s, last sweep %.0f ms\n", s + 1,
				(unsigned long long)obs, ms_since(t0) / 1e3, ms);
	}
	double build_s = ms_since(t0) / 1e3;
	struct store_check_report rep;
	char err[512];
	store_check(st, &rep, err, sizeof(err));
	printf("3. built %llu devices, %llu observations, %llu roll-ups in %.1f s (%u sweeps, slowest %.0f ms); "
	       "%.0f MiB used\n",
	       (unsigned long long)rep.devices, (unsigned long long)rep.observations, (unsigned long long)rep.rollups,
	       build_s, sweeps, worst, rep.used_bytes / 1048576.0);
	double best = 1e9, first = 0;
	struct uptime_sum sum = { 0 };
	for (int i = 0; i < 5; i++) {
		sum = (struct uptime_sum){ .hash = 14695981039346656037ull };
		uint64_t q0 = clock_now_ns();
		if (store_report_uptime(st, now - 24 * HOUR_US, 0, 0, sum_uptime, &sum)) {
			fprintf(stderr, "store_bench: uptime report failed\n");
			return 1;
		}
		ms = ms_since(q0);
		if (!i)
			first = ms;
		if (ms < best)
			best = ms;
	}
	printf("   uptime --since 24h over %llu devices: %.1f ms (first run %.1f ms)  (goal < 100 ms) %s"
	       "  [%llu probes, %.2f%% up, checksum %016llx]\n",
	       (unsigned long long)sum.devices, best, first, best < 100 ? "ok" : "MISSED",
	       (unsigned long long)sum.probes, sum.probes ? 100.0 * (double)sum.answers / (double)sum.probes : 0,
	       (unsigned long long)sum.hash);
	status |= !(best < 100);
	store_close(st);
	status |= whole_process(d3);
done:
	free(r);
	if (keep)
		printf("kept %s\n", dir);
	else
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return status;
}
