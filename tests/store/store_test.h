/* SPDX-License-Identifier: MIT */
/* store_test.h: helpers the store tests share: temp dirs, stores, sweeps built from results. */
#ifndef LNMT_STORE_TEST_H
#define LNMT_STORE_TEST_H

#include "store.h"
#include "store_int.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T_HOUR 3600000000ull
#define T_BASE 1700000000000000ull /* 2023-11-14T22:13:20Z: in the middle of an hour */
#define T_DATA STORE_TEST_DATA
#define T_OUI STORE_TEST_DATA "/oui_test.txt"

static inline int t_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

/* A fresh temp dir under /tmp; returns it in buf. */
static inline char *t_mkdtemp(char buf[64])
{
	snprintf(buf, 64, "/tmp/lnmt-store-test-XXXXXX");
	cr_assert_not_null(mkdtemp(buf), "mkdtemp failed");
	return buf;
}

static inline void t_rmtree(const char *dir)
{
	nftw(dir, t_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline struct store *t_open(const char *dir, unsigned offline_after)
{
	struct store_options opt = { .offline_after = offline_after, .oui_path = T_OUI };
	struct store *st = NULL;
	char err[512] = "";
	int rc = store_open(&st, dir, &opt, err, sizeof(err));

	cr_assert_eq(rc, 0, "store_open(%s): %d %s", dir, rc, err);
	return st;
}

static inline struct store_result t_up(uint32_t ip, uint8_t probe, uint32_t rtt, uint64_t time_us)
{
	return (struct store_result){ .ip = ip, .probe = probe, .state = STORE_RESULT_UP, .rtt_us = rtt,
				      .time_us = time_us };
}

/*
 * Records one sweep starting at start_us over [first, last] (n_covered 0 when first > last)
 * with the results given; returns the final sweep record.
 */
static inline struct store_sweep t_sweep(struct store *st, uint64_t start_us, uint32_t first, uint32_t last,
					 const struct store_result *r, size_t n)
{
	struct store_sweep info = { .start_us = start_us, .probes = STORE_PROBE_ICMP };
	struct store_range range = { first, last };
	struct store_recorder *rec;
	struct store_sweep out = { 0 };
	char err[512] = "";
	uint64_t stored = 0;
	int rc;

	snprintf(info.targets, sizeof(info.targets), "test");
	rc = store_recorder_open(st, &info, &range, first <= last ? 1 : 0, &rec, err, sizeof(err));
	cr_assert_eq(rc, 0, "store_recorder_open: %d %s", rc, err);
	cr_assert_gt(info.id, 0, "sweep id %llu", (unsigned long long)info.id);
	for (size_t i = 0; i < n; i++)
		store_recorder_add(rec, &r[i]);
	struct store_sweep fin = info;
	fin.end_us = start_us + 1000000;
	fin.replies = n;
	fin.ended = STORE_END_WAIT; /* probed everything: its silences are misses */
	rc = store_recorder_close(rec, &fin, &stored, err, sizeof(err));
	cr_assert_eq(rc, 0, "store_recorder_close: %d %s", rc, err);
	cr_assert_eq(stored, n, "stored %llu of %zu", (unsigned long long)stored, n);
	out = fin;
	return out;
}

/* Reads the sweep with this id back from the store. */
struct t_find_sweep {
	uint64_t id;
	struct store_sweep s;
	bool found;
};

static inline int t_find_sweep_cb(void *ctx, const struct store_sweep *s)
{
	struct t_find_sweep *f = ctx;

	if (s->id == f->id) {
		f->s = *s;
		f->found = true;
		return 1;
	}
	return 0;
}

static inline struct store_sweep t_get_sweep(struct store *st, uint64_t id)
{
	struct t_find_sweep f = { .id = id };
	int rc = store_sweeps_list(st, 0, t_find_sweep_cb, &f);

	cr_assert_eq(rc, 0, "store_sweeps_list: %d", rc);
	cr_assert(f.found, "sweep %llu not found", (unsigned long long)id);
	return f.s;
}

static inline struct store_device t_get(struct store *st, uint32_t ip)
{
	struct store_device d;
	int rc = store_device_get(st, ip, &d);

	cr_assert_eq(rc, 0, "store_device_get(%08x): %d", ip, rc);
	return d;
}

/* The whole file's bytes, for "left untouched" checks; *len set. Caller frees. */
static inline uint8_t *t_slurp(const char *path, size_t *len)
{
	struct stat sb;
	uint8_t *buf;
	int fd = open(path, O_RDONLY);

	cr_assert_geq(fd, 0, "open %s", path);
	cr_assert_eq(fstat(fd, &sb), 0);
	buf = malloc((size_t)sb.st_size + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(read(fd, buf, (size_t)sb.st_size), sb.st_size, "read %s", path);
	close(fd);
	*len = (size_t)sb.st_size;
	return buf;
}

static inline void t_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);

	cr_assert_geq(fd, 0, "create %s", path);
	cr_assert_eq(write(fd, data, len), (ssize_t)len, "write %s", path);
	close(fd);
}

static inline void t_copy_file(const char *from, const char *to)
{
	size_t len;
	uint8_t *b = t_slurp(from, &len);

	t_write_file(to, b, len);
	free(b);
}

#endif
