/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ssh_banner.c: libFuzzer target for identify's SSH identification-line parser
 * (engine/identify/ident_parse.c). Input: byte 0 picks the slice size (1..256). The verdict must
 * not depend on the slicing, a banner always starts with "SSH-", is at most 253 bytes of clean
 * text, and nothing is read past SSH_PRE_BYTES_MAX. Anything else traps. Built and run by
 * tests/fuzz/run.
 */
#include "ident_parse.h"

#include <stdint.h>
#include <string.h>

#define CHECK(cond) \
	do { \
		if (!(cond)) \
			__builtin_trap(); \
	} while (0)

static int run(struct ssh_banner *p, const uint8_t *d, size_t n, size_t slice)
{
	int rc = PARSE_MORE;

	ssh_banner_init(p);
	for (size_t off = 0; off < n && rc == PARSE_MORE; off += slice) {
		rc = ssh_banner_feed(p, d + off, n - off < slice ? n - off : slice);
		CHECK(p->total <= SSH_PRE_BYTES_MAX + 1);
		CHECK(p->lines <= SSH_PRE_LINES_MAX + 1);
	}
	if (rc == PARSE_MORE)
		rc = ssh_banner_eof(p);
	CHECK(memchr(p->banner, 0, sizeof(p->banner)));
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ssh_banner a, b;

	if (size < 1)
		return 0;
	int ra = run(&a, data + 1, size - 1, (size_t)data[0] + 1);
	int rb = run(&b, data + 1, size - 1, size);
	CHECK(ra == rb);
	CHECK(ra == PARSE_DONE || ra < 0);
	if (ra == PARSE_DONE) {
		CHECK(strncmp(a.banner, "SSH-", 4) == 0);
		CHECK(strlen(a.banner) <= 253);
		CHECK(strcmp(a.banner, b.banner) == 0);
		for (const char *s = a.banner; *s; s++)
			CHECK((unsigned char)*s >= 0x20 && *s != 0x7f);
	}
	return 0;
}
