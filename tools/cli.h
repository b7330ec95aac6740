/* SPDX-License-Identifier: MIT */
/* cli.h: the subcommands of the lnmt CLI and the helpers they share. */
#ifndef LNMT_CLI_H
#define LNMT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXIT_USAGE 2
#define EXIT_INTERRUPTED 130

int cmd_scan(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_device(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_sweeps(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_db(int argc, char **argv);
/* Service checks and reverse DNS (identify_cmd.c). */
int cmd_identify(int argc, char **argv);
/* Through lnmtd only (client_cmd.c). */
int cmd_status(int argc, char **argv);
int cmd_jobs(int argc, char **argv);
int cmd_watch(int argc, char **argv);

/* Prints "lnmt: <message>" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Strict number and duration parsers for options: false on any junk. */
bool cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* "500ms", "2s", "1.5s", "250us", "1m"; a bare number is milliseconds. */
bool cli_parse_duration_ns(const char *s, uint64_t *out);
/* An age for --since: "90s", "30m", "24h", "7d", "2w"; a bare number is seconds. */
bool cli_parse_age_us(const char *s, uint64_t *out);

/* "arp,icmp,syn" for a STORE_PROBE_* mask, "-" for none. */
void cli_probes_text(uint8_t mask, char *buf, size_t len);

/* Wall-clock microseconds since the epoch. */
uint64_t cli_now_us(void);
/* "2026-11-26 20:55:01" in local time, or "-" for 0; buf >= 20 bytes. */
char *cli_format_time(uint64_t us, char *buf, size_t len);
/* "2026-11-26T20:55:01Z" (UTC, for machine formats); buf >= 21 bytes. */
char *cli_format_time_iso(uint64_t us, char *buf, size_t len);

struct store;
/* Opens the store at dir (NULL: the default directory); prints the error and returns NULL.
 * offline_after: missed sweeps before a device is down (0 = the store's default, 2). */
struct store *cli_store_open(const char *dir, bool read_only, unsigned offline_after);

#endif
