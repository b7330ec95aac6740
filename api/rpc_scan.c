/* SPDX-License-Identifier: MIT */
/* rpc_scan.c: finds where a MessagePack message ends, checking its size and depth, before decoding. */
#include "rpc_int.h"

#include <errno.h>
#include <string.h>

void rpc_scan_reset(struct rpc_scan *s)
{
	s->pos = 0;
	s->depth = 0;
}

static uint64_t be(const unsigned char *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * The item whose first byte is b: *hdr bytes of header; *lenbytes (0: none) bytes after the
 * first one hold a big-endian length (payload bytes for str/bin/ext, elements for containers);
 * otherwise *payload is the fixed payload or element count; *kind 0 for a scalar, 1 array,
 * 2 map. False for 0xc1.
 */
static bool item_shape(unsigned char b, unsigned *hdr, unsigned *lenbytes, uint64_t *payload, int *kind)
{
	*hdr = 1, *lenbytes = 0, *payload = 0, *kind = 0;
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
		return true;
	if (b >= 0x80 && b <= 0x8f) {
		*kind = 2, *payload = b & 0x0f;
		return true;
	}
	if (b >= 0x90 && b <= 0x9f) {
		*kind = 1, *payload = b & 0x0f;
		return true;
	}
	if (b >= 0xa0 && b <= 0xbf) {
		*payload = b & 0x1f;
		return true;
	}
	switch (b) {
	case 0xc4: case 0xd9: *hdr = 2, *lenbytes = 1; return true;       /* bin8, str8 */
	case 0xc5: case 0xda: *hdr = 3, *lenbytes = 2; return true;       /* bin16, str16 */
	case 0xc6: case 0xdb: *hdr = 5, *lenbytes = 4; return true;       /* bin32, str32 */
	case 0xc7: *hdr = 3, *lenbytes = 1; return true;                  /* ext8: len, type */
	case 0xc8: *hdr = 4, *lenbytes = 2; return true;
	case 0xc9: *hdr = 6, *lenbytes = 4; return true;
	case 0xca: *payload = 4; return true;                             /* float32 */
	case 0xcb: *payload = 8; return true;                             /* float64 */
	case 0xcc: case 0xd0: *payload = 1; return true;
	case 0xcd: case 0xd1: *payload = 2; return true;
	case 0xce: case 0xd2: *payload = 4; return true;
	case 0xcf: case 0xd3: *payload = 8; return true;
	case 0xd4: *payload = 2; return true;                             /* fixext1: type + 1 */
	case 0xd5: *payload = 3; return true;
	case 0xd6: *payload = 5; return true;
	case 0xd7: *payload = 9; return true;
	case 0xd8: *payload = 17; return true;
	case 0xdc: *hdr = 3, *lenbytes = 2, *kind = 1; return true;
	case 0xdd: *hdr = 5, *lenbytes = 4, *kind = 1; return true;
	case 0xde: *hdr = 3, *lenbytes = 2, *kind = 2; return true;
	case 0xdf: *hdr = 5, *lenbytes = 4, *kind = 2; return true;
	default: return false; /* 0xc1: never used */
	}
}

int rpc_scan(struct rpc_scan *s, const char *buf, size_t len, size_t max)
{
	const unsigned char *p = (const unsigned char *)buf;

	for (;;) {
		unsigned hdr, lenbytes;
		uint64_t payload;
		int kind;

		if (s->pos >= len)
			return RPC_SCAN_MORE;
		if (!item_shape(p[s->pos], &hdr, &lenbytes, &payload, &kind))
			return -EBADMSG;
		if (len - s->pos < hdr)
			return s->pos + hdr > max ? -EMSGSIZE : RPC_SCAN_MORE;
		if (lenbytes) /* right after the type byte (ext keeps its own type byte after it) */
			payload = be(p + s->pos + 1, lenbytes);
		if (kind) {
			/* Every element takes at least one byte: a count that cannot fit is refused now. */
			uint64_t items = kind == 2 ? payload * 2 : payload;

			if (s->depth >= RPC_MAX_DEPTH)
				return -ELOOP;
			if (items > max || s->pos + hdr + items > max)
				return -EMSGSIZE;
			s->pos += hdr;
			if (items) {
				s->left[s->depth++] = items;
				continue;
			}
		} else {
			if (payload > max || s->pos + hdr + payload > max)
				return -EMSGSIZE;
			if (len - s->pos - hdr < payload)
				return RPC_SCAN_MORE;
			s->pos += hdr + payload;
		}
		/* One item done: close the containers it completes. */
		while (s->depth > 0 && --s->left[s->depth - 1] == 0)
			s->depth--;
		if (s->depth == 0)
			return RPC_SCAN_DONE;
	}
}

bool rpc_peek_msgid(const char *buf, size_t len, uint64_t *msgid)
{
	const unsigned char *p = (const unsigned char *)buf;
	unsigned n;

	if (len < 3 || p[0] != 0x94 || p[1] != 0x00)
		return false;
	if (p[2] <= 0x7f) {
		*msgid = p[2];
		return true;
	}
	switch (p[2]) {
	case 0xcc: n = 1; break;
	case 0xcd: n = 2; break;
	case 0xce: n = 4; break;
	case 0xcf: n = 8; break;
	default: return false;
	}
	if (len < 3 + n)
		return false;
	*msgid = be(p + 3, n);
	return true;
}
