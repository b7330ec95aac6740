/* SPDX-License-Identifier: MIT */
/* cli_util.c: error printing and strict option parsing for the CLI. */
#include "cli.h"

#include "store.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

void cli_error(const char *fmt, ...)
{
	va_list ap;
	fputs("lnmt: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

bool cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

struct unit {
	const char *suffix;
	double scale; /* to the caller's unit */
};

/* A non-negative number with one of units' suffixes ("" = a bare number), scaled, at most max. */
static bool parse_scaled(const char *s, const struct unit *units, size_t n, double max, uint64_t *out)
{
	char *end;

	if (!isdigit((unsigned char)*s) && *s != '.')
		return false;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || !isfinite(v) || v < 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			double scaled = v * units[i].scale;
			if (scaled > max)
				return false;
			*out = (uint64_t)scaled;
			return true;
		}
	}
	return false;
}

bool cli_parse_duration_ns(const char *s, uint64_t *out)
{
	static const struct unit units[] = {
		{ "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 }, { "m", 60e9 }, { "", 1e6 },
	};
	/* A day is beyond any sane wait. */
	return parse_scaled(s, units, sizeof(units) / sizeof(units[0]), 86400e9, out);
}

bool cli_parse_age_us(const char *s, uint64_t *out)
{
	static const struct unit units[] = {
		{ "s", 1e6 }, { "m", 60e6 }, { "h", 3600e6 }, { "d", 86400e6 }, { "w", 604800e6 }, { "", 1e6 },
	};
	/* A century is beyond any history. */
	return parse_scaled(s, units, sizeof(units) / sizeof(units[0]), 100.0 * 365 * 86400e6, out);
}

void cli_probes_text(uint8_t mask, char *buf, size_t len)
{
	static const struct { uint8_t bit; const char *name; } names[] = {
		{ STORE_PROBE_ARP, "arp" }, { STORE_PROBE_ICMP, "icmp" }, { STORE_PROBE_SYN, "syn" },
	};
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (mask & names[i].bit)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "", names[i].name);
	if (!off)
		snprintf(buf, len, "-");
}

uint64_t cli_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

char *cli_format_time(uint64_t us, char *buf, size_t len)
{
	time_t t = (time_t)(us / 1000000u);
	struct tm tm;

	if (!us || !localtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "-");
	return buf;
}

char *cli_format_time_iso(uint64_t us, char *buf, size_t len)
{
	time_t t = (time_t)(us / 1000000u);
	struct tm tm;

	if (!us || !gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "null");
	return buf;
}

struct store *cli_store_open(const char *dir, bool read_only, unsigned offline_after)
{
	char def[512], err[512];
	struct store *st;
	struct store_options opt = { .read_only = read_only, .offline_after = offline_after };

	if (!dir)
		dir = store_default_dir(def, sizeof(def));
	int rc = store_open(&st, dir, &opt, err, sizeof(err));
	if (rc == -EPROTO && read_only) {
		/* A store written by an older lnmt must be migrated before it can be read: a
		 * question is reason enough to do it (it needs write access, as a sweep does). */
		opt.read_only = false;
		rc = store_open(&st, dir, &opt, err, sizeof(err));
	}
	if (rc) {
		cli_error("%s%s", err, rc == -ENOENT && read_only ? " (sweep first with 'lnmt scan', or pass --db DIR)" : "");
		return NULL;
	}
	return st;
}
