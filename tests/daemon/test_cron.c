/* SPDX-License-Identifier: MIT */
/* test_cron.c: lnmtd's minute-level cron for jobs: parsing, errors, and the next matching minute. */
#include "daemon.h"

#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void utc(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

TestSuite(cron, .init = utc);

/* Microseconds of a UTC date. */
static uint64_t at(int y, int mon, int d, int h, int m)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d, .tm_hour = h, .tm_min = m };
	return (uint64_t)timegm(&tm) * 1000000;
}

static uint64_t next(const char *expr, uint64_t after)
{
	struct cron_spec c;
	char err[200] = "";
	int rc = cron_parse(expr, &c, err, sizeof(err));

	cr_assert_eq(rc, 0, "cron_parse('%s'): %s", expr, err);
	return cron_next(&c, after);
}

Test(cron, steps_lists_ranges)
{
	/* 2026-11-26 is a Thursday. */
	cr_assert_eq(next("*/5 * * * *", at(2026, 11, 26, 12, 3)), at(2026, 11, 26, 12, 5));
	cr_assert_eq(next("*/5 * * * *", at(2026, 11, 26, 12, 5)), at(2026, 11, 26, 12, 10), "strictly after");
	cr_assert_eq(next("* * * * *", at(2026, 11, 26, 12, 3) + 59000000), at(2026, 11, 26, 12, 4));
	cr_assert_eq(next("0,30 9-17 * * *", at(2026, 11, 26, 17, 31)), at(2026, 11, 27, 9, 0));
	cr_assert_eq(next("15 */6 * * *", at(2026, 11, 26, 12, 16)), at(2026, 11, 26, 18, 15));
	cr_assert_eq(next("0 0 1 */3 *", at(2026, 11, 26, 0, 0)), at(2027, 1, 1, 0, 0));
	cr_assert_eq(next("10-20/5 3 * * *", at(2026, 11, 26, 3, 16)), at(2026, 11, 26, 3, 20));
}

Test(cron, weekdays_and_the_day_rule)
{
	/* Saturday 2026-11-28: weekdays only means Monday. */
	cr_assert_eq(next("0 9 * * 1-5", at(2026, 11, 28, 8, 0)), at(2026, 11, 30, 9, 0));
	/* 7 is Sunday as well as 0. */
	cr_assert_eq(next("0 0 * * 7", at(2026, 11, 26, 0, 0)), at(2026, 11, 29, 0, 0));
	/* Both day fields restricted: either matches (the 1st, or any Monday). */
	cr_assert_eq(next("0 0 1 * 1", at(2026, 11, 26, 0, 0)), at(2026, 11, 30, 0, 0));
	cr_assert_eq(next("0 0 1 * 1", at(2026, 11, 30, 0, 0)), at(2026, 12, 1, 0, 0));
	/* February 29 comes round in 2028. */
	cr_assert_eq(next("0 0 29 2 *", at(2026, 11, 26, 0, 0)), at(2028, 2, 29, 0, 0));
	/* February 31 never does. */
	cr_assert_eq(next("0 0 31 2 *", at(2026, 11, 26, 0, 0)), 0);
}

Test(cron, refuses_with_a_reason)
{
	static const struct { const char *expr, *why; } bad[] = {
		{ "* * * *", "5 fields" },
		{ "* * * * * *", "5 fields" },
		{ "60 * * * *", "minute" },
		{ "* 24 * * *", "hour" },
		{ "* * 0 * *", "day of month" },
		{ "* * * 13 *", "month" },
		{ "* * * * 8", "day of week" },
		{ "*/0 * * * *", "minute" },
		{ "5-1 * * * *", "minute" },
		{ "a * * * *", "minute" },
		{ "1,,2 * * * *", "minute" },
		{ "", "5 fields" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cron_spec c;
		char err[200] = "";
		cr_assert_neq(cron_parse(bad[i].expr, &c, err, sizeof(err)), 0, "'%s' accepted", bad[i].expr);
		cr_assert(strstr(err, bad[i].why), "'%s': expected '%s' in '%s'", bad[i].expr, bad[i].why, err);
	}
}
