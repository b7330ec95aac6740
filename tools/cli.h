/* SPDX-License-Identifier: MIT */
/* cli.h: the subcommands of the lnmt CLI and the helpers they share. */
#ifndef LNMT_CLI_H
#define LNMT_CLI_H

#include <stdbool.h>
#include <stdint.h>

#define EXIT_USAGE 2
#define EXIT_INTERRUPTED 130

int cmd_scan(int argc, char **argv);

/* Prints "lnmt: <message>" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Strict number and duration parsers for options: false on any junk. */
bool cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* "500ms", "2s", "1.5s", "250us", "1m"; a bare number is milliseconds. */
bool cli_parse_duration_ns(const char *s, uint64_t *out);

#endif
