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
 *
 * An @file is read a line at a time into a fixed buffer: a line longer than TARGET_LINE_MAX is
 * refused (naming file:line) before more of it is read, so a huge file costs no memory beyond
 * the ranges it adds. Lists (blank- or comma-separated specs on a line, ports) never hold an
 * empty item: "a,,b", ",a" and "a," are errors.
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
	bool covers_public; /* after finalize: the includes, before the excludes, hold every address
			     * of 0.0.0.0/0 that is ever probed */
	bool finalized;
};

#define TARGET_ERR_LEN 160
#define TARGET_LINE_MAX 4096 /* bytes in one line of an @file, its newline not counted */
#define TARGET_LARGE (1ull << 24) /* more addresses than this need an explicit allow to sweep */

void target_set_init(struct target_set *s);
void target_set_fini(struct target_set *s);

/*
 * Adds one spec (or "@path") to the includes or the excludes. On a bad spec returns
 * LNMT_E_PARSE and writes "bad target '<spec>': <reason>" into err; on a file that cannot be
 * read, -errno and "<path>: <strerror>". What is wrong in a file (a bad spec, an empty list
 * item, a line over TARGET_LINE_MAX, a NUL byte) is LNMT_E_PARSE with "<path>:<line>: <reason>".
 * On failure the specs of the file's earlier lines stay added.
 */
int target_set_add(struct target_set *s, const char *spec, char *err, size_t errlen);
int target_set_exclude(struct target_set *s, const char *spec, char *err, size_t errlen);

/* Merges and subtracts; LNMT_E_EMPTY when nothing is left, -ENOMEM. */
int target_set_finalize(struct target_set *s);

/*
 * After finalize: true when sweeping s needs an explicit allow (lnmt scan --allow-large,
 * allow_large in scan.start and jobs.add): more than TARGET_LARGE addresses, or includes that
 * hold all of 0.0.0.0/0's public space whatever the excludes take out of it. Then writes what it
 * is, with the count, into why ("3741319168 addresses to sweep (...), more than 16777216"), for
 * the caller to add how to allow it. A typo such as /0 for /20 should not start a day-long sweep.
 */
bool target_set_is_large(const struct target_set *s, char *why, size_t whylen);

/* Address at index idx < count. Hot path: a binary search over the merged ranges. */
uint32_t target_set_addr(const struct target_set *s, uint64_t idx);

/* Index of addr, if the set holds it. Hot path (reply validation). */
bool target_set_index(const struct target_set *s, uint32_t addr, uint64_t *idx);

/* Parses one address/CIDR/range spec into a range; LNMT_E_PARSE with the reason in err. */
int target_parse_range(const char *spec, struct target_range *out, char *err, size_t errlen);

/* Ports: "22,80,8000-8100" -> sorted, de-duplicated list. LNMT_E_PARSE with "bad port '<item>':
 * <reason>" or "bad port list '<spec>': empty item ..." in err; -ENOMEM. */
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
