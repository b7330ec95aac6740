/* SPDX-License-Identifier: MIT */
/* daemon_cron.c: minute-level five-field cron expressions for jobs, parsed and stepped forward. */
#include "daemon.h"

#include "err.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct field {
	const char *name;
	unsigned lo, hi;
};

static const struct field fields[5] = {
	{ "minute", 0, 59 }, { "hour", 0, 23 }, { "day of month", 1, 31 }, { "month", 1, 12 },
	{ "day of week", 0, 7 },
};

static bool num(const char **p, unsigned *out)
{
	unsigned v = 0;
	int n = 0;

	while (isdigit((unsigned char)**p) && n < 3)
		v = v * 10 + (unsigned)(*(*p)++ - '0'), n++;
	*out = v;
	return n > 0 && !isdigit((unsigned char)**p);
}

/* One field (a comma list of *, N, N-M, each with an optional /S) into a bit mask. */
static int parse_field(const char *text, const struct field *f, uint64_t *mask, bool *any, char *err, size_t errlen)
{
	const char *p = text;

	*mask = 0;
	*any = !strcmp(text, "*");
	for (;;) {
		unsigned a, b, step = 1;
		if (*p == '*') {
			p++;
			a = f->lo;
			b = f->hi;
		} else {
			if (!num(&p, &a))
				goto bad;
			b = a;
			if (*p == '-') {
				p++;
				if (!num(&p, &b))
					goto bad;
			}
		}
		if (*p == '/') {
			p++;
			if (!num(&p, &step) || step == 0)
				goto bad;
		}
		if (a < f->lo || b > f->hi || a > b) {
			snprintf(err, errlen, "bad cron %s '%s': values %u-%u", f->name, text, f->lo, f->hi);
			return LNMT_E_PARSE;
		}
		for (unsigned v = a; v <= b; v += step)
			*mask |= 1ull << v;
		if (*p == '\0')
			return 0;
		if (*p++ != ',')
			goto bad;
	}
bad:
	snprintf(err, errlen, "bad cron %s '%s': expected *, N, N-M, a step /S or a comma list", f->name, text);
	return LNMT_E_PARSE;
}

int cron_parse(const char *text, struct cron_spec *out, char *err, size_t errlen)
{
	char buf[128], *save = NULL, *tok[6];
	uint64_t m[5];
	bool any[5];
	int n = 0, rc;

	if (strlen(text) >= sizeof(buf)) {
		snprintf(err, errlen, "bad cron '%.40s...': too long", text);
		return LNMT_E_PARSE;
	}
	snprintf(buf, sizeof(buf), "%s", text);
	for (char *t = strtok_r(buf, " \t", &save); t && n < 6; t = strtok_r(NULL, " \t", &save))
		tok[n++] = t;
	if (n != 5) {
		snprintf(err, errlen, "bad cron '%s': expected 5 fields (minute hour day-of-month month day-of-week), "
			 "e.g. '*/5 * * * *'", text);
		return LNMT_E_PARSE;
	}
	for (int i = 0; i < 5; i++)
		if ((rc = parse_field(tok[i], &fields[i], &m[i], &any[i], err, errlen)))
			return rc;
	out->minutes = m[0];
	out->hours = (uint32_t)m[1];
	out->days = (uint32_t)m[2];
	out->months = (uint16_t)m[3];
	out->weekdays = (uint8_t)((m[4] | (m[4] >> 7)) & 0x7f); /* 7 is Sunday too */
	out->any_day = any[2];
	out->any_weekday = any[4];
	return 0;
}

static bool day_matches(const struct cron_spec *c, const struct tm *tm)
{
	bool dom = c->days >> tm->tm_mday & 1, dow = c->weekdays >> tm->tm_wday & 1;

	/* cron(5): when both day fields are restricted, either may match. */
	if (!c->any_day && !c->any_weekday)
		return dom || dow;
	return dom && dow;
}

uint64_t cron_next(const struct cron_spec *c, uint64_t after_us)
{
	time_t t = (time_t)(after_us / 1000000) / 60 * 60 + 60; /* the next whole minute */
	time_t limit = t + 5 * 366 * 86400;
	struct tm tm;

	while (t < limit) {
		localtime_r(&t, &tm);
		if (!(c->months >> (tm.tm_mon + 1) & 1) || !day_matches(c, &tm)) {
			/* Skip to the next day's midnight (mktime sorts out month ends and DST). */
			tm.tm_mday++;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
			tm.tm_isdst = -1;
			time_t n = mktime(&tm);
			t = n > t ? n : t + 60;
			continue;
		}
		if (!(c->hours >> tm.tm_hour & 1)) {
			t += (60 - tm.tm_min) * 60; /* the next hour */
			continue;
		}
		if (!(c->minutes >> tm.tm_min & 1)) {
			t += 60;
			continue;
		}
		return (uint64_t)t * 1000000;
	}
	return 0;
}
