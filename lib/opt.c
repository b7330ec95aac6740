/* SPDX-License-Identifier: MIT */
/* opt.c: getopt_long() that refuses abbreviated long options, and the empty-list-item check. */
#include "opt.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define NAME_SHOWN 64 /* at most this much of a bad option's name goes into a message */

static int shown(size_t n)
{
	return n > NAME_SHOWN ? NAME_SHOWN : (int)n;
}

static const struct option *find_exact(const struct option *longopts, const char *name, size_t n)
{
	for (const struct option *o = longopts; o && o->name; o++)
		if (strlen(o->name) == n && strncmp(o->name, name, n) == 0)
			return o;
	return NULL;
}

/* The long options that name[0..n) abbreviates, as "--a", "--a or --b", "--a, --b or --c" (at most
 * three named) into buf; the number of them. */
static size_t prefix_hint(const struct option *longopts, const char *name, size_t n, char *buf, size_t len)
{
	const char *found[3];
	size_t k = 0, off = 0;

	buf[0] = '\0';
	for (const struct option *o = longopts; n && o && o->name; o++) {
		if (strlen(o->name) > n && strncmp(o->name, name, n) == 0) {
			if (k < 3)
				found[k] = o->name;
			k++;
		}
	}
	for (size_t i = 0; i < k && i < 3; i++) {
		const char *sep = i == 0 ? "" : i + 1 == (k < 3 ? k : 3) ? " or " : ", ";
		int w = snprintf(buf + off, len - off, "%s--%s", sep, found[i]);
		if (w < 0 || (size_t)w >= len - off)
			break;
		off += (size_t)w;
	}
	return k;
}

/* tok is "--name" or "--name=value" that names no option in full. */
static int unknown_long(const char *tok, const struct option *longopts, char *why, size_t whylen)
{
	const char *name = tok + 2;
	size_t n = strcspn(name, "=");
	char hint[160];

	if (prefix_hint(longopts, name, n, hint, sizeof(hint)))
		snprintf(why, whylen, "--%.*s: unknown option (did you mean %s?)", shown(n), name, hint);
	else
		snprintf(why, whylen, "--%.*s: unknown option", shown(n), name);
	return '?';
}

/*
 * After getopt_long returned ':' or '?': was the culprit the long option in argv[optind - 1]?
 * getopt sets optopt to 0 for an unknown or ambiguous long option, and to the option's val for
 * a long option missing its value or given one it does not take; for a short option, optopt is
 * the option's character, and optind may still point at its cluster ("-qx"), so argv[optind - 1]
 * is then an earlier token: a long token counts only if it matches an option with that val.
 */
static bool culprit_is_long(const char *last, const struct option *longopts)
{
	if (strncmp(last, "--", 2) != 0)
		return false;
	if (optopt == 0)
		return true;
	size_t n = strcspn(last + 2, "=");
	for (const struct option *o = longopts; n && o && o->name; o++)
		if (o->val == optopt && strncmp(o->name, last + 2, n) == 0)
			return true;
	return false;
}

static int report_error(int c, int argc, char *const argv[], const struct option *longopts, char *why,
			size_t whylen)
{
	const char *last = optind >= 1 && optind <= argc ? argv[optind - 1] : "";

	if (culprit_is_long(last, longopts)) {
		const char *name = last + 2;
		size_t n = strcspn(name, "=");
		const struct option *o = find_exact(longopts, name, n);
		if (!o || (c == '?' && optopt == 0))
			return unknown_long(last, longopts, why, whylen);
		snprintf(why, whylen, "--%s: %s", o->name, c == ':' ? "option needs a value" : "option takes no value");
		return '?';
	}
	if (optopt > 0 && optopt < 256 && isgraph(optopt))
		snprintf(why, whylen, "-%c: %s", optopt, c == ':' ? "option needs a value" : "unknown option");
	else
		snprintf(why, whylen, "%.*s: unknown option", shown(strlen(last)), last);
	return '?';
}

int opt_next(int argc, char *const argv[], const char *shortopts, const struct option *longopts, char *why,
	     size_t whylen)
{
	char colon_first[128];
	int li = -1, c;

	/* A leading ':' makes getopt tell a missing value (':') from an unknown option ('?'). */
	if (shortopts[0] != ':' && strlen(shortopts) + 2 <= sizeof(colon_first)) {
		colon_first[0] = ':';
		memcpy(colon_first + 1, shortopts, strlen(shortopts) + 1);
		shortopts = colon_first;
	}
	if (whylen)
		why[0] = '\0';
	opterr = 0;
	c = getopt_long(argc, argv, shortopts, longopts, &li);
	if (c == ':' || c == '?')
		return report_error(c, argc, argv, longopts, why, whylen);
	if (c == -1 || li < 0)
		return c;
	/* A long option: its token is the last one consumed, or the one before when its value was
	 * the next argument ("--rate 5"; "--rate=5" is one token). */
	const char *tok = optarg && optind >= 2 && optarg == argv[optind - 1] ? argv[optind - 2] : argv[optind - 1];
	if (strncmp(tok, "--", 2) != 0) /* not from getopt_long; nothing to check */
		return c;
	size_t n = strcspn(tok + 2, "=");
	if (strlen(longopts[li].name) == n && strncmp(tok + 2, longopts[li].name, n) == 0)
		return c;
	return unknown_long(tok, longopts, why, whylen);
}

bool opt_list_has_empty(const char *list)
{
	size_t n = strlen(list);

	return n == 0 || list[0] == ',' || list[n - 1] == ',' || strstr(list, ",,") != NULL;
}
