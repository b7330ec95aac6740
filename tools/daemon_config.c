/* SPDX-License-Identifier: MIT */
/* daemon_config.c: lnmtd's config file: KEY=VALUE lines, read at start and on SIGHUP. */
#include "daemon.h"

#include "err.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void daemon_config_defaults(struct daemon_config *c)
{
	*c = (struct daemon_config){
		.max_sweeps = 2, .offline_after = 2, .default_rate = 0, .default_retries = 10,
		.default_wait_ms = 1000, .progress_ms = 1000,
	};
}

struct key {
	const char *name;
	uint64_t min, max;
	size_t offset;
	bool is_unsigned; /* an unsigned field, else uint64_t */
};

#define KEY_U(n, lo, hi, f) { n, lo, hi, offsetof(struct daemon_config, f), true }
#define KEY_U64(n, lo, hi, f) { n, lo, hi, offsetof(struct daemon_config, f), false }

static const struct key keys[] = {
	KEY_U("MAX_SWEEPS", 1, 8, max_sweeps),
	KEY_U("OFFLINE_AFTER", 1, 100, offline_after),
	KEY_U64("DEFAULT_RATE", 0, 100000000, default_rate),
	KEY_U("DEFAULT_RETRIES", 0, 100, default_retries),
	KEY_U64("DEFAULT_WAIT_MS", 0, 86400000, default_wait_ms),
	KEY_U64("PROGRESS_MS", 100, 60000, progress_ms),
};

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int set_key(struct daemon_config *c, const char *name, const char *val, char *why, size_t whylen)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct key *k = &keys[i];
		char *end;
		if (strcmp(k->name, name))
			continue;
		errno = 0;
		unsigned long long v = strtoull(val, &end, 10);
		if (!isdigit((unsigned char)*val) || *end || errno || v < k->min || v > k->max) {
			snprintf(why, whylen, "%s=%s: expected a whole number %llu-%llu", name, val,
				 (unsigned long long)k->min, (unsigned long long)k->max);
			return LNMT_E_PARSE;
		}
		if (k->is_unsigned)
			*(unsigned *)((char *)c + k->offset) = (unsigned)v;
		else
			*(uint64_t *)((char *)c + k->offset) = v;
		return 0;
	}
	size_t off = (size_t)snprintf(why, whylen, "unknown key '%s' (known:", name);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && off < whylen; i++)
		off += (size_t)snprintf(why + off, whylen - off, " %s", keys[i].name);
	if (off < whylen)
		snprintf(why + off, whylen - off, ")");
	return LNMT_E_PARSE;
}

int daemon_config_load(const char *path, bool missing_ok, struct daemon_config *out, char *err, size_t errlen)
{
	struct daemon_config c;
	char line[512], why[300];
	unsigned lineno = 0;
	int rc = 0;
	FILE *f;

	daemon_config_defaults(&c);
	f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		if (rc == -ENOENT && missing_ok) {
			*out = c;
			return 0;
		}
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%u: line too long", path, lineno);
			rc = LNMT_E_PARSE;
			break;
		}
		char *s = trim(line);
		if (!*s || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%u: expected KEY=VALUE, got '%s'", path, lineno, s);
			rc = LNMT_E_PARSE;
			break;
		}
		*eq = '\0';
		if ((rc = set_key(&c, trim(s), trim(eq + 1), why, sizeof(why)))) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
			break;
		}
	}
	if (!rc && ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		rc = -EIO;
	}
	fclose(f);
	if (!rc)
		*out = c;
	return rc;
}

void daemon_config_describe(const struct daemon_config *c, char *buf, size_t len)
{
	snprintf(buf, len, "MAX_SWEEPS=%u OFFLINE_AFTER=%u DEFAULT_RATE=%llu DEFAULT_RETRIES=%u DEFAULT_WAIT_MS=%llu "
		 "PROGRESS_MS=%llu", c->max_sweeps, c->offline_after, (unsigned long long)c->default_rate,
		 c->default_retries, (unsigned long long)c->default_wait_ms, (unsigned long long)c->progress_ms);
}
