/* SPDX-License-Identifier: MIT */
/*
 * targets.h: the set of IPv4 addresses and ports a sweep covers.
 *
 * A target_set collects include specs (CIDR, a.b.c.d-e.f.g.h ranges, single addresses,
 * @file with one spec a line and # comments) and exclude specs, then target_set_finalize()
 * sorts, merges and subtracts the excludes and the never-probed ranges (0.0.0.0/8 and
 * 224.0.0.0/3, which holds 255.255.255.255). After that the set is read-only and maps a dense
 * index 0..count-1 to an address and back, which is what the permutation walks over.
 * Addresses are host byte order throughout.
 */
#ifndef LNMT_TARGETS_H
#define LNMT_TARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct target_range {
	uint32_t first, last; /* inclusive, host order */
};

struct target_set {
	struct target_range *incl, *excl;
	size_t n_incl, cap_incl, n_excl, cap_excl;
	uint64_t *prefix; /* after finalize: prefix[i] = addresses in incl[0..i-1] */
	uint64_t count;   /* after finalize: addresses in the set */
	uint64_t n_reserved_dropped; /* addresses removed because they are never probed */
	bool finalized;
};

#define TARGET_ERR_LEN 160

void target_set_init(struct target_set *s);
void target_set_fini(struct target_set *s);

/*
 * Adds one spec (or "@path") to the includes or the excludes. On a bad spec returns
 * LNMT_E_PARSE and writes "bad target '<spec>': <reason>" into err; on a file that cannot be
 * read, -errno and "<path>: <strerror>". Specs in a file name their line number in err.
 */
int target_set_add(struct target_set *s, const char *spec, char *err, size_t errlen);
int target_set_exclude(struct target_set *s, const char *spec, char *err, size_t errlen);

/* Merges and subtracts; LNMT_E_EMPTY when nothing is left, -ENOMEM. */
int target_set_finalize(struct target_set *s);

/* Address at index idx < count. Hot path: a binary search over the merged ranges. */
uint32_t target_set_addr(const struct target_set *s, uint64_t idx);

/* Index of addr, if the set holds it. Hot path (reply validation). */
bool target_set_index(const struct target_set *s, uint32_t addr, uint64_t *idx);

/* Parses one address/CIDR/range spec into a range; LNMT_E_PARSE with the reason in err. */
int target_parse_range(const char *spec, struct target_range *out, char *err, size_t errlen);

/* Ports: "22,80,8000-8100" -> sorted, de-duplicated list. */
struct port_list {
	uint16_t *ports;
	size_t n;
};

int port_list_parse(struct port_list *pl, const char *spec, char *err, size_t errlen);
void port_list_fini(struct port_list *pl);
/* Position of port in the list, if present. */
bool port_list_index(const struct port_list *pl, uint16_t port, size_t *pos);

/* Formats a host-order address as dotted quad into buf (>= 16 bytes); returns buf. */
char *ipv4_format(uint32_t addr, char *buf);

#endif
