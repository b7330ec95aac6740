/* SPDX-License-Identifier: MIT */
/* db_cmd.c: store maintenance: `lnmt backup FILE`, `lnmt restore FILE`, `lnmt db check`. */
#include "cli.h"
#include "store.h"

#include <stdio.h>
#include <string.h>

static const char db_usage[] =
"Usage: lnmt backup FILE [--db DIR]     a consistent, compacted copy, taken while others write\n"
"       lnmt restore FILE [--db DIR]    replace the store with a backup (checked first; atomic)\n"
"       lnmt db check [--db DIR]        verify the schema and cross-check the records\n";

/* Parses "[--db DIR]" around exactly `want` positional arguments. */
static int parse_db_args(int argc, char **argv, int want, const char **db, const char **pos)
{
	int n = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(db_usage, stdout);
			return -1;
		}
		if (!strcmp(argv[i], "--db")) {
			if (++i == argc) {
				cli_error("--db: option needs a value");
				return EXIT_USAGE;
			}
			*db = argv[i];
		} else if (!strncmp(argv[i], "--db=", 5)) {
			*db = argv[i] + 5;
		} else if (argv[i][0] == '-') {
			cli_error("%s: unknown option (see 'lnmt %s --help')", argv[i], argv[0]);
			return EXIT_USAGE;
		} else if (n < want) {
			pos[n++] = argv[i];
		} else {
			cli_error("%s: unexpected argument (see 'lnmt %s --help')", argv[i], argv[0]);
			return EXIT_USAGE;
		}
	}
	if (n != want) {
		cli_error("%s needs %s (see 'lnmt %s --help')", argv[0], want ? "a FILE" : "no argument", argv[0]);
		return EXIT_USAGE;
	}
	return 0;
}

int cmd_backup(int argc, char **argv)
{
	const char *db = NULL, *file;
	char err[512];
	int rc = parse_db_args(argc, argv, 1, &db, &file);

	if (rc)
		return rc < 0 ? 0 : rc;
	struct store *st = cli_store_open(db, true, 0);
	if (!st)
		return 1;
	rc = store_backup(st, file, err, sizeof(err));
	store_close(st);
	if (rc) {
		cli_error("%s", err);
		return 1;
	}
	fprintf(stderr, "lnmt: backup written to %s\n", file);
	return 0;
}

int cmd_restore(int argc, char **argv)
{
	const char *db = NULL, *file;
	char err[512], def[512];
	int rc = parse_db_args(argc, argv, 1, &db, &file);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (!db)
		db = store_default_dir(def, sizeof(def));
	if ((rc = store_restore(db, file, err, sizeof(err)))) {
		cli_error("%s", err);
		return 1;
	}
	fprintf(stderr, "lnmt: %s restored from %s\n", db, file);
	return 0;
}

int cmd_db(int argc, char **argv)
{
	const char *db = NULL, *unused[1];
	char err[512];
	struct store_check_report r = { 0 };

	if (argc < 2 || strcmp(argv[1], "check")) {
		if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
			fputs(db_usage, stdout);
			return 0;
		}
		cli_error("db needs a subcommand: 'lnmt db check'");
		return EXIT_USAGE;
	}
	int rc = parse_db_args(argc - 1, argv + 1, 0, &db, unused);
	if (rc)
		return rc < 0 ? 0 : rc;
	struct store *st = cli_store_open(db, true, 0);
	if (!st)
		return 1;
	rc = store_check(st, &r, err, sizeof(err));
	store_close(st);
	printf("schema version  %u\n", r.schema_version);
	printf("devices         %llu\n", (unsigned long long)r.devices);
	printf("observations    %llu\n", (unsigned long long)r.observations);
	printf("roll-ups        %llu\n", (unsigned long long)r.rollups);
	printf("state changes   %llu\n", (unsigned long long)r.changes);
	printf("sweeps          %llu\n", (unsigned long long)r.sweeps);
	printf("running         %llu\n", (unsigned long long)r.running);
	/* Not a problem: what the sweep committed is stored, and its record says how much. */
	printf("interrupted     %llu", (unsigned long long)r.interrupted);
	size_t shown = r.interrupted < 8 ? (size_t)r.interrupted : 8;
	for (size_t i = 0; i < shown; i++)
		printf("%s%llu", i ? ", " : r.interrupted == 1 ? ": sweep " : ": sweeps ",
		       (unsigned long long)r.interrupted_ids[i]);
	printf("%s\n", !shown ? "" : r.interrupted > shown ? ", ... (their process died; what they stored is kept)"
		       : r.interrupted == 1 ? " (its process died; what it stored is kept)"
		       : " (their process died; what they stored is kept)");
	printf("names, notes    %llu\n", (unsigned long long)r.notes);
	printf("subnet hours    %llu\n", (unsigned long long)r.series);
	printf("size            %.1f MiB used of a %.1f MiB map\n", r.used_bytes / 1048576.0, r.map_bytes / 1048576.0);
	if (rc) {
		cli_error("check failed: %llu problem%s, first: %s", (unsigned long long)r.problems,
			  r.problems == 1 ? "" : "s", err);
		return 1;
	}
	printf("ok\n");
	return 0;
}
