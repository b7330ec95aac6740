/* SPDX-License-Identifier: MIT */
/*
 * inventory.h: reading a list of device names and notes for `lnmt devices --import FILE`.
 *
 * One device per line, "ip,name,note": '#' starts a comment, blank lines and a header line
 * ("ip,name,note") are skipped, and a spreadsheet's byte order mark too. Fields are bare or
 * "quoted" ("" is a quote inside); the note may also be the bare rest of the line, commas and
 * all. An empty field clears it, a missing one keeps what is stored. The whole file is checked
 * before anything is imported; errors name file:line.
 */
#ifndef LNMT_INVENTORY_H
#define LNMT_INVENTORY_H

#include "store.h"

#include <stddef.h>

struct inventory {
	/* n edits, and the line each came from */
	struct store_note_edit *e;
	size_t *line;
	char **text;          /* every strdup'd name and note, to free */
	size_t n, cap, n_text;
};

/* Reads and checks file ("-": stdin) into inv (zeroed first by the caller): 0, or an exit code
 * (EXIT_USAGE for bad input, 1 otherwise) with the message printed. */
int inventory_read(struct inventory *inv, const char *file);
void inventory_free(struct inventory *inv);

#endif
