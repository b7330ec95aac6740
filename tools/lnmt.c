/* SPDX-License-Identifier: MIT */
/* lnmt.c: the lnmt command line: subcommand dispatch, top-level help and version. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
"lnmt " LNMT_VERSION " - find every live host on an IPv4 network, fast\n"
"\n"
"Usage: lnmt COMMAND [OPTIONS]\n"
"\n"
"Commands:\n"
"  scan TARGET...    sweep addresses with ARP, ICMP echo or TCP SYN probes\n"
"  help [COMMAND]    show help for lnmt or a command\n"
"\n"
"Options:\n"
"  -h, --help        this help\n"
"  -V, --version     print the version\n"
"\n"
"Examples:\n"
"  lnmt scan 198.18.128.0/17                  who is on this LAN (ARP)\n"
"  lnmt scan -P icmp 198.19.0.0/16            ping sweep of a routed /16\n"
"  lnmt scan -p 22,443 198.19.0.0/20 -f csv   open and closed ports as CSV\n"
"\n"
"'lnmt scan --help' lists every scan option.\n";

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
		puts("lnmt " LNMT_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0) {
		if (argc > 2 && strcmp(argv[2], "scan") == 0) {
			char *help_argv[] = { "scan", "--help", NULL };
			return cmd_scan(2, help_argv);
		}
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "scan") == 0)
		return cmd_scan(argc - 1, argv + 1);
	cli_error("unknown command '%s' (commands: scan, help; see 'lnmt --help')", cmd);
	return EXIT_USAGE;
}
