/* SPDX-License-Identifier: MIT */
/*
 * fuzz_targets.c: libFuzzer target for the target-spec parser (engine/targets.c). The input's
 * first line is parsed as one spec (target_parse_range, then as an include and an exclude) and
 * as a port list; the whole input is written to a memfd and read as an @file through
 * /proc/self/fd, once as includes and once as excludes from 0.0.0.0/0. Whatever the input, the
 * parser must fail cleanly or give a set whose invariants hold: ranges sorted, disjoint, apart,
 * outside the never-probed ranges, counted right, index <-> address inverse; and the file as
 * includes plus 0.0.0.0/0 less the file as excludes must be the whole public space. Anything
 * else traps. Built and run by tests/fuzz/run (inputs up to 16 KiB: over TARGET_LINE_MAX, so
 * the long-line refusal is reached; its constant memory is tested in tests/engine/test_targets.c).
 */
#include "err.h"
#include "targets.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PUBLIC_FIRST 0x01000000u /* 1.0.0.0: below is 0.0.0.0/8 */
#define PUBLIC_LAST 0xdfffffffu  /* 223.255.255.255: above is 224.0.0.0/3 */
#define PUBLIC_COUNT ((uint64_t)PUBLIC_LAST - PUBLIC_FIRST + 1)

#define CHECK(cond)                     \
	do {                            \
		if (!(cond))            \
			__builtin_trap(); \
	} while (0)

/* An error message is one terminated line that says something. */
static void check_err(const char *err, size_t len)
{
	CHECK(memchr(err, '\0', len) != NULL);
	CHECK(err[0] != '\0');
	CHECK(strchr(err, '\n') == NULL);
}

static void check_index(const struct target_set *s, uint64_t idx)
{
	uint64_t back = ~0ull;
	uint32_t a = target_set_addr(s, idx);

	CHECK(a >= PUBLIC_FIRST && a <= PUBLIC_LAST);
	CHECK(target_set_index(s, a, &back) && back == idx);
}

/* The invariants of a finalized set (rc from target_set_finalize). */
static void check_set(const struct target_set *s, int rc)
{
	uint64_t count = 0;
	char why[256];

	CHECK(rc == 0 || rc == LNMT_E_EMPTY);
	CHECK(s->finalized);
	for (size_t i = 0; i < s->n_incl; i++) {
		const struct target_range *r = &s->incl[i];
		CHECK(r->first <= r->last);
		CHECK(r->first >= PUBLIC_FIRST && r->last <= PUBLIC_LAST);
		CHECK(i == 0 || (uint64_t)s->incl[i - 1].last + 1 < r->first); /* merged: apart */
		CHECK(s->prefix[i] == count);
		count += (uint64_t)r->last - r->first + 1;
	}
	CHECK(s->prefix[s->n_incl] == count);
	CHECK(s->count == count);
	CHECK((rc == LNMT_E_EMPTY) == (count == 0));
	if (count) {
		check_index(s, 0);
		check_index(s, count - 1);
		check_index(s, count / 2);
		for (size_t i = 0; i < s->n_incl && i < 64; i++) {
			uint64_t idx;
			check_index(s, s->prefix[i]);
			CHECK(!target_set_index(s, s->incl[i].last + 1u, &idx)); /* ranges are apart */
		}
	}
	bool large = target_set_is_large(s, why, sizeof(why));
	CHECK(large == (count > TARGET_LARGE || s->covers_public));
	if (large)
		check_err(why, sizeof(why));
}

static void fuzz_spec(const char *spec)
{
	char err[TARGET_ERR_LEN];
	struct target_range r = { 1, 0 };
	struct target_set s;

	int rc = target_parse_range(spec, &r, err, sizeof(err));
	CHECK(rc == 0 || rc == LNMT_E_PARSE);
	if (rc == 0)
		CHECK(r.first <= r.last);
	else
		check_err(err, sizeof(err));
	/* "@path" would open a file the input names: the file path is fuzzed below instead. */
	if (spec[0] == '@')
		return;
	target_set_init(&s);
	int rc_add = target_set_add(&s, spec, err, sizeof(err));
	CHECK(rc_add == rc);
	int rc_excl = target_set_exclude(&s, spec, err, sizeof(err));
	CHECK(rc_excl == rc);
	if (rc == 0) {
		target_set_add(&s, "198.18.0.0/15", err, sizeof(err));
		check_set(&s, target_set_finalize(&s));
	}
	target_set_fini(&s);

	struct port_list pl = { 0 };
	rc = port_list_parse(&pl, spec, err, sizeof(err));
	CHECK(rc == 0 || rc == LNMT_E_PARSE || rc == -ENOMEM);
	if (rc == 0) {
		CHECK(pl.n > 0 && pl.n <= 65535);
		for (size_t i = 0; i < pl.n; i++) {
			size_t pos;
			CHECK(pl.ports[i] >= 1);
			CHECK(i == 0 || pl.ports[i - 1] < pl.ports[i]);
			CHECK(port_list_index(&pl, pl.ports[i], &pos) && pos == i);
		}
	} else {
		check_err(err, sizeof(err));
	}
	port_list_fini(&pl);
}

static void fuzz_file(const uint8_t *data, size_t size)
{
	char path[64], err[TARGET_ERR_LEN + 64], err2[TARGET_ERR_LEN + 64];
	struct target_set in, out;
	int fd = memfd_create("lnmt-fuzz-targets", MFD_CLOEXEC);

	CHECK(fd >= 0);
	for (size_t off = 0; off < size;) {
		ssize_t n = write(fd, data + off, size - off);
		CHECK(n > 0);
		off += (size_t)n;
	}
	snprintf(path, sizeof(path), "@/proc/self/fd/%d", fd);
	target_set_init(&in);
	target_set_init(&out);
	int rc_in = target_set_add(&in, path, err, sizeof(err));
	target_set_add(&out, "0.0.0.0/0", err2, sizeof(err2));
	int rc_out = target_set_exclude(&out, path, err2, sizeof(err2));
	/* The same file fails the same way, with the same words, as includes or as excludes. */
	CHECK(rc_in == rc_out);
	CHECK(rc_in == 0 || rc_in == LNMT_E_PARSE || rc_in == -ENOMEM);
	if (rc_in) {
		check_err(err, sizeof(err));
		CHECK(strcmp(err, err2) == 0);
	} else {
		int f_in = target_set_finalize(&in), f_out = target_set_finalize(&out);
		check_set(&in, f_in);
		check_set(&out, f_out);
		CHECK(in.count + out.count == PUBLIC_COUNT);
	}
	target_set_fini(&in);
	target_set_fini(&out);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t n = nl ? (size_t)(nl - data) : size;
	char *spec = malloc(n + 1);

	CHECK(spec != NULL);
	memcpy(spec, data, n);
	spec[n] = '\0';
	fuzz_spec(spec);
	free(spec);
	fuzz_file(data, size);
	return 0;
}
