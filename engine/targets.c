/* SPDX-License-Identifier: MIT */
/* targets.c: parsing target and port specs, and the dense index over the merged address set. */
#include "targets.h"

#include "err.h"
#include "opt.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Never probed: "this network" and multicast plus the reserved class E with the broadcast. */
static const struct target_range never_probe[] = {
	{ 0x00000000u, 0x00ffffffu }, /* 0.0.0.0/8 */
	{ 0xe0000000u, 0xffffffffu }, /* 224.0.0.0/3 */
};

void target_set_init(struct target_set *s)
{
	memset(s, 0, sizeof(*s));
}

void target_set_fini(struct target_set *s)
{
	if (!s)
		return;
	free(s->incl);
	free(s->excl);
	free(s->prefix);
	memset(s, 0, sizeof(*s));
}

static int fail(char *err, size_t errlen, const char *spec, const char *why)
{
	if (err && errlen)
		snprintf(err, errlen, "bad target '%s': %s", spec, why);
	return LNMT_E_PARSE;
}

/* Parses a dotted quad at *p, advancing it. Returns NULL or the reason it is not one. */
static const char *parse_quad(const char **p, uint32_t *out)
{
	uint32_t addr = 0;
	const char *s = *p;

	for (int i = 0; i < 4; i++) {
		if (i > 0) {
			if (*s != '.')
				return isalpha((unsigned char)*s) ? "not an IPv4 address (hostnames are not resolved)"
								  : "expected a.b.c.d";
			s++;
		}
		if (!isdigit((unsigned char)*s))
			return isalpha((unsigned char)*s) ? "not an IPv4 address (hostnames are not resolved)"
							  : "expected a.b.c.d";
		unsigned v = 0, digits = 0;
		while (isdigit((unsigned char)*s)) {
			v = v * 10 + (unsigned)(*s++ - '0');
			if (++digits > 3)
				return "octet out of range";
		}
		if (v > 255)
			return "octet out of range";
		addr = addr << 8 | v;
	}
	*p = s;
	*out = addr;
	return NULL;
}

int target_parse_range(const char *spec, struct target_range *out, char *err, size_t errlen)
{
	const char *p = spec, *why;
	uint32_t a, b;

	if (!*spec)
		return fail(err, errlen, spec, "empty");
	if ((why = parse_quad(&p, &a)))
		return fail(err, errlen, spec, why);
	if (*p == '\0') {
		out->first = out->last = a;
		return 0;
	}
	if (*p == '/') {
		char *end;
		p++;
		if (!isdigit((unsigned char)*p))
			return fail(err, errlen, spec, "prefix length must be 0-32");
		errno = 0;
		long len = strtol(p, &end, 10);
		if (*end || errno || len < 0 || len > 32)
			return fail(err, errlen, spec, "prefix length must be 0-32");
		uint32_t mask = len == 0 ? 0 : ~0u << (32 - len);
		out->first = a & mask;
		out->last = out->first | ~mask;
		return 0;
	}
	if (*p == '-') {
		p++;
		if ((why = parse_quad(&p, &b)))
			return fail(err, errlen, spec, why);
		if (*p)
			return fail(err, errlen, spec, "trailing characters");
		if (b < a)
			return fail(err, errlen, spec, "range ends before it starts");
		out->first = a;
		out->last = b;
		return 0;
	}
	return fail(err, errlen, spec, "trailing characters");
}

static int push(struct target_range **v, size_t *n, size_t *cap, struct target_range r)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct target_range *nv = realloc(*v, ncap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = ncap;
	}
	(*v)[(*n)++] = r;
	return 0;
}

static int add_one(struct target_set *s, bool exclude, const char *spec, char *err, size_t errlen)
{
	struct target_range r;
	int rc = target_parse_range(spec, &r, err, errlen);

	if (rc)
		return rc;
	s->finalized = false;
	return exclude ? push(&s->excl, &s->n_excl, &s->cap_excl, r)
		       : push(&s->incl, &s->n_incl, &s->cap_incl, r);
}

/* Strips comments and surrounding blanks in place; returns what is left, or NULL when nothing. */
static char *line_spec(char *line)
{
	char *hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	while (isspace((unsigned char)*line))
		line++;
	char *end = line + strlen(line);
	while (end > line && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return *line ? line : NULL;
}

/*
 * Reads the next line of f into buf (TARGET_LINE_MAX + 1 bytes) without its newline: 1, or 0 at
 * the end of the file. A line longer than TARGET_LINE_MAX is -E2BIG and is not read further, so
 * a huge one-line file costs no more memory than a short one; a NUL byte (not a text file) is
 * -EILSEQ; a read error -errno.
 */
static int read_line(FILE *f, char *buf)
{
	size_t n = 0;
	int ch;

	errno = 0;
	while ((ch = getc_unlocked(f)) != EOF && ch != '\n') {
		if (ch == '\0')
			return -EILSEQ;
		if (n == TARGET_LINE_MAX)
			return -E2BIG;
		buf[n++] = (char)ch;
	}
	if (ch == EOF && ferror(f))
		return errno ? -errno : -EIO;
	if (ch == EOF && n == 0)
		return 0;
	buf[n] = '\0';
	return 1;
}

#define EMPTY_ITEM "empty item in the list (two commas, or a comma at an end)"

/*
 * Adds the specs of one line: several may share it, separated by blanks or by one comma
 * ("a b", "a,b", "a, b"), as people paste lists. Two commas in a row, or a comma at either end,
 * leave an empty item: an error, as in every list lnmt takes. LNMT_E_PARSE with why on a bad
 * spec or list; -ENOMEM.
 */
static int add_line(struct target_set *s, bool exclude, char *line, char *why, size_t whylen)
{
	char *p = line;

	for (bool first = true;; first = false) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p == ',') {
			if (first)
				goto empty;
			p++;
			while (isspace((unsigned char)*p))
				p++;
			if (!*p || *p == ',')
				goto empty;
		}
		if (!*p)
			return 0;
		char *start = p;
		while (*p && !isspace((unsigned char)*p) && *p != ',')
			p++;
		char sep = *p;
		*p = '\0';
		int rc = add_one(s, exclude, start, why, whylen);
		*p = sep;
		if (rc)
			return rc;
	}
empty:
	snprintf(why, whylen, EMPTY_ITEM);
	return LNMT_E_PARSE;
}

static int add_file(struct target_set *s, bool exclude, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[TARGET_LINE_MAX + 1], why[TARGET_ERR_LEN];
	unsigned lineno = 0;
	int rc;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	while ((rc = read_line(f, line)) > 0) {
		lineno++;
		char *spec = line_spec(line);
		if (spec && (rc = add_line(s, exclude, spec, why, sizeof(why)))) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
			goto out;
		}
	}
	if (rc == -E2BIG) {
		snprintf(err, errlen, "%s:%u: line longer than %d bytes (the most one line may hold)", path, lineno + 1,
			 TARGET_LINE_MAX);
		rc = LNMT_E_PARSE;
	} else if (rc == -EILSEQ) {
		snprintf(err, errlen, "%s:%u: NUL byte in the line (not a text file?)", path, lineno + 1);
		rc = LNMT_E_PARSE;
	} else if (rc < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
	}
out:
	fclose(f);
	return rc;
}

static int add_spec(struct target_set *s, bool exclude, const char *spec, char *err, size_t errlen)
{
	if (spec[0] == '@')
		return add_file(s, exclude, spec + 1, err, errlen);
	return add_one(s, exclude, spec, err, errlen);
}

int target_set_add(struct target_set *s, const char *spec, char *err, size_t errlen)
{
	return add_spec(s, false, spec, err, errlen);
}

int target_set_exclude(struct target_set *s, const char *spec, char *err, size_t errlen)
{
	return add_spec(s, true, spec, err, errlen);
}

static int cmp_range(const void *a, const void *b)
{
	const struct target_range *x = a, *y = b;
	return x->first < y->first ? -1 : x->first > y->first;
}

/* Sorts and merges overlapping or adjacent ranges in place; returns the new count. */
static size_t merge(struct target_range *v, size_t n)
{
	size_t out = 0;

	if (n < 2) /* qsort wants a valid pointer even for n = 0 */
		return n;
	qsort(v, n, sizeof(*v), cmp_range);
	for (size_t i = 0; i < n; i++) {
		if (out && (uint64_t)v[out - 1].last + 1 >= v[i].first) {
			if (v[i].last > v[out - 1].last)
				v[out - 1].last = v[i].last;
		} else {
			v[out++] = v[i];
		}
	}
	return out;
}

static uint64_t range_size(struct target_range r)
{
	return (uint64_t)r.last - r.first + 1;
}

/* incl minus excl, both merged; the result has at most n_incl + n_excl ranges. */
static int subtract(struct target_set *s, const struct target_range *excl, size_t n_excl)
{
	struct target_range *out = NULL;
	size_t n = 0, cap = 0, j = 0;

	for (size_t i = 0; i < s->n_incl; i++) {
		struct target_range r = s->incl[i];
		bool alive = true;
		while (j < n_excl && excl[j].last < r.first)
			j++;
		for (size_t k = j; alive && k < n_excl && excl[k].first <= r.last; k++) {
			if (excl[k].first > r.first) {
				struct target_range left = { r.first, excl[k].first - 1 };
				if (push(&out, &n, &cap, left)) {
					free(out);
					return -ENOMEM;
				}
			}
			if (excl[k].last >= r.last)
				alive = false;
			else
				r.first = excl[k].last + 1;
		}
		if (alive && push(&out, &n, &cap, r)) {
			free(out);
			return -ENOMEM;
		}
	}
	free(s->incl);
	s->incl = out;
	s->n_incl = s->cap_incl = n;
	return 0;
}

static uint64_t total(const struct target_set *s)
{
	uint64_t t = 0;
	for (size_t i = 0; i < s->n_incl; i++)
		t += range_size(s->incl[i]);
	return t;
}

int target_set_finalize(struct target_set *s)
{
	static const size_t n_never = sizeof(never_probe) / sizeof(never_probe[0]);
	struct target_range never[sizeof(never_probe) / sizeof(never_probe[0])];
	int rc;

	s->n_incl = merge(s->incl, s->n_incl);
	s->n_excl = merge(s->excl, s->n_excl);
	/* Merged, a union that holds all the public space is one range. */
	s->covers_public = false;
	for (size_t i = 0; i < s->n_incl; i++)
		if (s->incl[i].first <= never_probe[0].last + 1 && s->incl[i].last >= never_probe[1].first - 1)
			s->covers_public = true;
	if ((rc = subtract(s, s->excl, s->n_excl)))
		return rc;
	/* The never-probed ranges go last, so the CLI can say how many of the user's went. */
	uint64_t before = total(s);
	memcpy(never, never_probe, sizeof(never));
	if ((rc = subtract(s, never, n_never)))
		return rc;
	free(s->prefix);
	s->prefix = malloc((s->n_incl + 1) * sizeof(*s->prefix));
	if (!s->prefix)
		return -ENOMEM;
	s->count = 0;
	for (size_t i = 0; i < s->n_incl; i++) {
		s->prefix[i] = s->count;
		s->count += range_size(s->incl[i]);
	}
	s->prefix[s->n_incl] = s->count;
	s->n_reserved_dropped = before - s->count;
	s->finalized = true;
	return s->count ? 0 : LNMT_E_EMPTY;
}

bool target_set_is_large(const struct target_set *s, char *why, size_t whylen)
{
	if (s->count > TARGET_LARGE && s->covers_public)
		snprintf(why, whylen, "%llu addresses to sweep (all of 0.0.0.0/0's public space), more than %llu",
			 (unsigned long long)s->count, (unsigned long long)TARGET_LARGE);
	else if (s->count > TARGET_LARGE)
		snprintf(why, whylen, "%llu addresses to sweep, more than %llu", (unsigned long long)s->count,
			 (unsigned long long)TARGET_LARGE);
	else if (s->covers_public)
		snprintf(why, whylen, "the targets hold all of 0.0.0.0/0's public space (%llu addresses after exclusions)",
			 (unsigned long long)s->count);
	else
		return false;
	return true;
}

uint32_t target_set_addr(const struct target_set *s, uint64_t idx)
{
	size_t lo = 0, hi = s->n_incl; /* find the last range whose prefix <= idx */

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->prefix[mid] <= idx)
			lo = mid;
		else
			hi = mid;
	}
	return s->incl[lo].first + (uint32_t)(idx - s->prefix[lo]);
}

bool target_set_index(const struct target_set *s, uint32_t addr, uint64_t *idx)
{
	size_t lo = 0, hi = s->n_incl;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->incl[mid].last < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == s->n_incl || s->incl[lo].first > addr)
		return false;
	*idx = s->prefix[lo] + (addr - s->incl[lo].first);
	return true;
}

static int cmp_u16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static int port_fail(char *err, size_t errlen, const char *tok, const char *why)
{
	snprintf(err, errlen, "bad port '%s': %s", tok, why);
	return LNMT_E_PARSE;
}

static int parse_port(const char *s, const char **end, unsigned *out)
{
	unsigned v = 0;
	int digits = 0;
	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (unsigned)(*s++ - '0');
		if (++digits > 5)
			return -1;
	}
	*end = s;
	if (!digits || v < 1 || v > 65535)
		return -1;
	*out = v;
	return 0;
}

int port_list_parse(struct port_list *pl, const char *spec, char *err, size_t errlen)
{
	char *copy = strdup(spec), *save = NULL;
	uint16_t *ports = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	if (!*spec) {
		rc = port_fail(err, errlen, spec, "empty port list");
		goto out;
	}
	if (opt_list_has_empty(spec)) {
		snprintf(err, errlen, "bad port list '%s': " EMPTY_ITEM, spec);
		rc = LNMT_E_PARSE;
		goto out;
	}
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const char *p;
		unsigned lo, hi;
		if (parse_port(tok, &p, &lo)) {
			rc = port_fail(err, errlen, tok, isdigit((unsigned char)*tok) ? "ports are 1-65535"
									: "expected PORT or FIRST-LAST");
			goto out;
		}
		hi = lo;
		if (*p == '-' && parse_port(p + 1, &p, &hi)) {
			rc = port_fail(err, errlen, tok, "ports are 1-65535");
			goto out;
		}
		if (*p) {
			rc = port_fail(err, errlen, tok, "expected PORT or FIRST-LAST");
			goto out;
		}
		if (hi < lo) {
			rc = port_fail(err, errlen, tok, "range ends before it starts");
			goto out;
		}
		for (unsigned v = lo; v <= hi; v++) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				uint16_t *np = realloc(ports, ncap * sizeof(*np));
				if (!np) {
					rc = -ENOMEM;
					goto out;
				}
				ports = np;
				cap = ncap;
			}
			ports[n++] = (uint16_t)v;
		}
	}
	if (n == 0) {
		rc = port_fail(err, errlen, spec, "empty port list");
		goto out;
	}
	qsort(ports, n, sizeof(*ports), cmp_u16);
	size_t uniq = 0;
	for (size_t i = 0; i < n; i++)
		if (!uniq || ports[uniq - 1] != ports[i])
			ports[uniq++] = ports[i];
	pl->ports = ports;
	pl->n = uniq;
	ports = NULL;
out:
	free(ports);
	free(copy);
	return rc;
}

void port_list_fini(struct port_list *pl)
{
	if (!pl)
		return;
	free(pl->ports);
	pl->ports = NULL;
	pl->n = 0;
}

bool port_list_index(const struct port_list *pl, uint16_t port, size_t *pos)
{
	size_t lo = 0, hi = pl->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (pl->ports[mid] < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == pl->n || pl->ports[lo] != port)
		return false;
	*pos = lo;
	return true;
}

char *ipv4_format(uint32_t a, char *buf)
{
	snprintf(buf, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
	return buf;
}
