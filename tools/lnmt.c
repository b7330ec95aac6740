/* SPDX-License-Identifier: MIT */
/* lnmt.c: the lnmt command line: subcommand dispatch, top-level help and version. */
#include "cli.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
"lnmt " LNMT_VERSION " - find every live host on an IPv4 network, fast\n"
"\n"
"Usage: lnmt COMMAND [OPTIONS]\n"
"\n"
"Commands:\n"
"  scan TARGET...    sweep addresses with ARP, ICMP echo or TCP SYN probes (and store them)\n"
"  devices           list every device seen, with filters (--state, --subnet, --since ...)\n"
"  device IP         everything known about one device, with its history\n"
"  report uptime     per-device uptime over a period (--since 24h)\n"
"  report network    up/down counts, new devices, RTT percentiles, sweeps, per-subnet summary\n"
"  sweeps            past sweeps and their figures\n"
"  identify TARGET...  what answers on each: HTTP, TLS, SSH checks and reverse DNS (no root)\n"
"  backup FILE       a consistent copy of the store, taken while others write\n"
"  restore FILE      replace the store with a backup\n"
"  db check          verify the store\n"
"  status            what lnmtd is doing (needs the daemon)\n"
"  jobs add|ls|rm|run  sweeps on a schedule, kept and run by lnmtd (needs the daemon)\n"
"  watch             print lnmtd's events (sweeps, device changes, jobs) as they happen\n"
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
"  lnmt devices --state down --since 1d       what disappeared today\n"
"  lnmt report uptime --subnet 198.19.0.0/24  who was up, and how much\n"
"\n"
"When lnmtd answers on its socket (--socket PATH, else $LNMT_SOCKET, else\n"
"/run/lnmt/lnmt.sock as root), scan, devices, device, report and sweeps go through it;\n"
"without one they run in-process. --db DIR or --embedded forces the in-process path.\n"
"The store is $LNMT_DB, /var/lib/lnmt as root, else $XDG_DATA_HOME/lnmt; --db DIR overrides.\n"
"'lnmt COMMAND --help' lists a command's options.\n";

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "scan", cmd_scan }, { "devices", cmd_devices }, { "device", cmd_device },
	{ "report", cmd_report }, { "sweeps", cmd_sweeps }, { "backup", cmd_backup },
	{ "restore", cmd_restore }, { "db", cmd_db }, { "status", cmd_status }, { "jobs", cmd_jobs },
	{ "watch", cmd_watch }, { "identify", cmd_identify },
};

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
	bool help = strcmp(cmd, "help") == 0 && argc > 2;
	if (help)
		cmd = argv[2];
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(cmd, commands[i].name) != 0)
			continue;
		if (help) {
			char *help_argv[] = { argv[2], "--help", NULL };
			return commands[i].run(2, help_argv);
		}
		return commands[i].run(argc - 1, argv + 1);
	}
	if (strcmp(cmd, "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	cli_error("unknown command '%s' (see 'lnmt --help')", cmd);
	return EXIT_USAGE;
}
