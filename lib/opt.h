/* SPDX-License-Identifier: MIT */
/*
 * opt.h: command-line parsing every lnmt program shares (lnmt and its subcommands, lnmtd,
 * lnmt-http): getopt_long() that takes long options only as written in full, and the check for
 * empty items in comma lists.
 */
#ifndef LNMT_OPT_H
#define LNMT_OPT_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

/* Enough for every message opt_next() writes about an option of up to 64 characters. */
#define OPT_WHY_LEN 192

/*
 * getopt_long() (optind and optarg as it leaves them; the caller resets optind = 1 as usual),
 * with these differences:
 *   - a long option is taken only when spelled in full: getopt_long accepts any unique prefix
 *     ("--rat" for "--rate"), so a typo, or an option added later, would silently mean another;
 *   - getopt's own messages are off (opterr is set to 0);
 *   - every error returns '?' (never ':') with one line in why naming the token at fault:
 *     "--rat: unknown option (did you mean --rate?)", "--rate: option needs a value",
 *     "--quiet=1: option takes no value", "-x: unknown option", "-r: option needs a value".
 * The caller prints why (adding where help is) and exits 2. shortopts as for getopt_long; a
 * leading ':' is implied. Not thread-safe: getopt's state is the process's.
 */
int opt_next(int argc, char *const argv[], const char *shortopts, const struct option *longopts, char *why,
	     size_t whylen);

/* True when the comma-separated list has an empty item: "", ",", "5,,6", ",5", "5,". */
bool opt_list_has_empty(const char *list);

#endif
